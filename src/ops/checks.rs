//! Value checks ops make on their inputs (probabilities in [0, 1], indices in range), as ops of their
//! own so `fit` replays them on every batch instead of refusing a forward that checks data.

use crate::error::{Error, Result};
use crate::graph::capture;
use crate::tensor::Tensor;

/// Fails with `err` unless every element v of `t` has `lo <= v <= hi` (NaN fails, as in torch).
pub fn check_range(t: &Tensor, lo: f64, hi: f64, err: &Error) -> Result<()> {
    let scope = capture::scope();
    check_range_eager(t, lo, hi, err)?;
    if scope.on() {
        let err = err.clone();
        scope.record("check_range", &[t], &[], move |i| {
            check_range_eager(&i[0], lo, hi, &err)?;
            Ok(Vec::new())
        });
    }
    Ok(())
}

fn check_range_eager(t: &Tensor, lo: f64, hi: f64, err: &Error) -> Result<()> {
    let c = t.contiguous_raw();
    let ok = crate::dispatch!(c.dtype(), T => c.as_slice::<T>().iter().all(|v| {
        let v = crate::dtype::Element::to_f64(*v);
        v >= lo && v <= hi
    }));
    if ok {
        Ok(())
    } else {
        Err(err.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_checks_bounds_and_nan() {
        let e = Error::runtime("out");
        let t = Tensor::from_vec(vec![0.0f32, 0.5, 1.0], &[3]).unwrap();
        assert!(check_range(&t, 0.0, 1.0, &e).is_ok());
        let t = Tensor::from_vec(vec![0.0f32, f32::NAN], &[2]).unwrap();
        assert!(check_range(&t, 0.0, 1.0, &e).is_err());
        let t = Tensor::from_vec(vec![3i64, -1], &[2]).unwrap();
        assert_eq!(
            check_range(&t, 0.0, 9.0, &e).unwrap_err().to_string(),
            "out"
        );
    }
}
