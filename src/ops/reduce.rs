//! Reductions: sum (and the broadcast-undoing sum_to the engine uses).

use crate::autograd::needs_grad;
use crate::dtype::DType;
use crate::error::Result;
use crate::kernels::reduce::reduce;
use crate::ops::elementwise::record_fn;
use crate::shape::normalize_dim;
use crate::tensor::Tensor;

/// Which dims a `dim=` argument selects (None or empty list = all).
pub fn reduced_mask(ndim: usize, dims: Option<&[i64]>) -> Result<Vec<bool>> {
    match dims {
        None => Ok(vec![true; ndim]),
        Some([]) => Ok(vec![true; ndim]),
        Some(ds) => {
            let mut m = vec![false; ndim];
            for &d in ds {
                let d = normalize_dim(d, ndim)?;
                if ndim > 0 {
                    if m[d] {
                        return Err(crate::error::Error::runtime(format!(
                            "dim {d} appears multiple times in the list of dims"
                        )));
                    }
                    m[d] = true;
                }
            }
            Ok(m)
        }
    }
}

/// The output shape of a reduction.
pub fn reduced_shape(shape: &[usize], mask: &[bool], keepdim: bool) -> Vec<usize> {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&s, &r)| if !r { Some(s) } else if keepdim { Some(1) } else { None })
        .collect()
}

/// The dtype torch.sum returns: integers and bool widen to int64.
pub fn sum_dtype(dt: DType) -> DType {
    if dt.is_float() {
        dt
    } else {
        DType::I64
    }
}

pub fn sum_raw(x: &Tensor, mask: &[bool], keepdim: bool, dtype: Option<DType>) -> Tensor {
    let out_dt = dtype.unwrap_or_else(|| sum_dtype(x.dtype()));
    let shape = reduced_shape(x.shape(), mask, keepdim);
    let x = if x.dtype() != out_dt { x.to_dtype(out_dt) } else { x.clone() };
    match out_dt {
        DType::F32 => Tensor::from_vec_unchecked(
            reduce::<f32, f64, f32>(&x, mask, 0.0, |a, v| a + v as f64, |a, _| a as f32),
            &shape,
        ),
        DType::F64 => Tensor::from_vec_unchecked(reduce::<f64, f64, f64>(&x, mask, 0.0, |a, v| a + v, |a, _| a), &shape),
        _ => crate::dispatch!(out_dt, T => Tensor::from_vec_unchecked(
            reduce::<T, i64, T>(&x, mask, 0, |a, v| a.wrapping_add(crate::dtype::Element::to_i64(v)), |a, _| {
                <T as crate::dtype::Element>::from_i64(a)
            }),
            &shape,
        )),
    }
}

/// `torch.sum(x, dim, keepdim, dtype=)`.
pub fn sum(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    let mask = reduced_mask(x.ndim(), dims)?;
    let out = sum_raw(x, &mask, keepdim, dtype);
    if out.dtype().is_float() && needs_grad(&[x]) {
        let in_shape: Vec<usize> = x.shape().to_vec();
        let kept = reduced_shape(x.shape(), &mask, true);
        // d sum/dx = 1 everywhere: broadcast the gradient back
        record_fn(&out, &[x], "SumBackward1", move |g| {
            let g = crate::ops::movement::reshape_usize(g, &kept)?;
            Ok(vec![Some(crate::ops::movement::expand(&g, &in_shape)?)])
        });
    }
    Ok(out)
}

/// Sums `g` down to `shape` (undoes broadcasting): leading dims and dims that were 1.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim() - shape.len();
    let mask: Vec<bool> =
        (0..g.ndim()).map(|d| d < lead || (shape[d - lead] == 1 && g.shape()[d] != 1)).collect();
    let s = sum_raw_tracked(g, &mask)?;
    crate::ops::movement::reshape_usize(&s, shape)
}

fn sum_raw_tracked(g: &Tensor, mask: &[bool]) -> Result<Tensor> {
    let dims: Vec<i64> = mask.iter().enumerate().filter(|(_, &m)| m).map(|(i, _)| i as i64).collect();
    if dims.is_empty() {
        return Ok(g.clone());
    }
    sum(g, Some(&dims), true, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sums() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        let s = sum(&x, Some(&[1]), false, None).unwrap();
        assert_eq!(s.as_slice::<f32>(), &[3.0, 12.0]);
        let s = sum(&x, None, false, None).unwrap();
        assert_eq!(s.shape(), &[] as &[usize]);
        assert_eq!(s.as_slice::<f32>(), &[15.0]);
        let t = sum_to(&x, &[1, 3]).unwrap();
        assert_eq!(t.as_slice::<f32>(), &[3.0, 5.0, 7.0]);
        let e = Tensor::zeros(&[0, 3], DType::F32);
        assert_eq!(sum(&e, Some(&[0]), false, None).unwrap().as_slice::<f32>(), &[0.0, 0.0, 0.0]);

    }
}
