//! Factories: full/zeros/ones and their _like forms, arange, linspace, logspace, eye.

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::scalar::Scalar;
use crate::tensor::Tensor;

pub fn full(shape: &[usize], value: Scalar, dt: DType) -> Tensor {
    crate::dispatch!(dt, T => Tensor::full_like_value::<T>(shape, value.to::<T>()))
}
pub fn zeros_like(x: &Tensor) -> Tensor {
    Tensor::zeros(x.shape(), x.dtype())
}
pub fn ones_like(x: &Tensor) -> Tensor {
    full(x.shape(), Scalar::Int(1), x.dtype())
}

/// Checks user-given sizes (negative sizes are torch's RuntimeError).
pub fn check_sizes(op: &str, sizes: &[i64]) -> Result<Vec<usize>> {
    let mut total: usize = 1;
    let mut out = Vec::with_capacity(sizes.len());
    for &s in sizes {
        if s < 0 {
            return Err(Error::runtime(format!(
                "{op}: Dimension size must be non-negative. (got size {} with dimension {s})",
                crate::shape::fmt_shape(
                    &sizes.iter().map(|&d| d.max(0) as usize).collect::<Vec<_>>()
                )
            )));
        }
        total = total
            .checked_mul(s as usize)
            .filter(|&t| t <= (1usize << 40))
            .ok_or_else(|| {
                Error::runtime(format!(
                    "Trying to create a tensor with {:?} elements: too large",
                    sizes
                ))
            })?;
        out.push(s as usize);
    }
    Ok(out)
}

/// torch.arange: the length is ceil((end - start) / step), computed in double as torch does.
pub fn arange(start: Scalar, end: Scalar, step: Scalar, dt: DType) -> Result<Tensor> {
    let (s, e, st) = (start.as_f64(), end.as_f64(), step.as_f64());
    if st == 0.0 {
        return Err(Error::runtime("step must be nonzero"));
    }
    if !s.is_finite() || !e.is_finite() {
        return Err(Error::runtime(format!("unsupported range: {s} -> {e}")));
    }
    if (st > 0.0 && e < s) || (st < 0.0 && e > s) {
        return Err(Error::runtime(
            "upper bound and larger bound inconsistent with step sign",
        ));
    }
    let n = ((e - s) / st).ceil().max(0.0) as usize;
    if n > 1usize << 40 {
        return Err(Error::runtime("arange: too many elements"));
    }
    let all_int = !start.is_float() && !end.is_float() && !step.is_float();
    Ok(crate::dispatch!(dt, T => {
        let v: Vec<T> = if all_int && !dt.is_float() {
            let (s, st) = (start.to::<i64>(), step.to::<i64>());
            (0..n as i64).map(|i| T::from_i64(s + i * st)).collect()
        } else if dt == DType::F32 {
            arange_f32_like_torch(s, st, n).into_iter().map(|v| T::from_f64(v as f64)).collect()
        } else {
            (0..n).map(|i| T::from_f64(s + i as f64 * st)).collect()
        };
        Tensor::from_vec_unchecked(v, &[n])
    }))
}

/// torch's float32 arange values: its vectorised loop fills pairs of 8-lane vectors from
/// `base = f32(start + step*i0)` as `f32(base + l*step)` (in f64), and the last `n % 16` elements
/// one by one as `f32(start + step*k)` — so the last bits equal PyTorch's (single-threaded order).
fn arange_f32_like_torch(start: f64, step: f64, n: usize) -> Vec<f32> {
    let main = n - n % 16;
    let mut v = Vec::with_capacity(n);
    for i0 in (0..main).step_by(8) {
        let base = (start + step * i0 as f64) as f32 as f64;
        v.extend((0..8).map(|l| (base + l as f64 * step) as f32));
    }
    v.extend((main..n).map(|k| (start + step * k as f64) as f32));
    v
}

/// linspace's and logspace's point count, step and first index of the half counted from `end`.
fn spacing(start: f64, end: f64, steps: i64) -> Result<(usize, f64, usize)> {
    if steps < 0 {
        return Err(Error::runtime("number of steps must be non-negative"));
    }
    let n = steps as usize;
    let step = if n > 1 {
        (end - start) / (n - 1) as f64
    } else {
        0.0
    };
    Ok((n, step, n / 2))
}

/// torch.linspace: values from both ends meet in the middle, as torch's kernel computes them.
pub fn linspace(start: f64, end: f64, steps: i64, dt: DType) -> Result<Tensor> {
    let (n, step, half) = spacing(start, end, steps)?;
    Ok(crate::dispatch!(dt, T => {
        let v: Vec<T> = (0..n)
            .map(|i| {
                if dt.is_float() {
                    // torch's kernel rounds start + step·i once (a fused multiply-add)
                    T::from_f64(if i < half { step.mul_add(i as f64, start) } else { (-step).mul_add((n - 1 - i) as f64, end) })
                } else {
                    let x = if i < half { start + step * i as f64 } else { end - step * (n - 1 - i) as f64 };
                    T::from_i64(x as i64)
                }
            })
            .collect();
        Tensor::from_vec_unchecked(v, &[n])
    }))
}

/// torch.logspace's values in float64: base to the power of linspace's points, which this kernel of
/// torch's computes unfused (start + step·i rounded twice, unlike linspace's own).
pub fn logspace_f64(start: f64, end: f64, steps: i64, base: f64) -> Result<Vec<f64>> {
    let (n, step, half) = spacing(start, end, steps)?;
    Ok((0..n)
        .map(|i| {
            let e = if i < half {
                start + step * i as f64
            } else {
                end - step * (n - 1 - i) as f64
            };
            base.powf(e)
        })
        .collect())
}

/// torch.linspace in float32 computes in float32, each point as one fused multiply-add
/// (start + step·i, or end - step·(n-1-i) for the second half); this matches it bit for bit.
pub fn linspace_f32(start: f32, end: f32, n: usize) -> Vec<f32> {
    let step = if n > 1 {
        (end - start) / (n - 1) as f32
    } else {
        0.0
    };
    let half = n / 2;
    (0..n)
        .map(|i| {
            if i < half {
                step.mul_add(i as f32, start)
            } else {
                (-step).mul_add((n - 1 - i) as f32, end)
            }
        })
        .collect()
}

pub fn eye(n: usize, m: usize, dt: DType) -> Tensor {
    crate::dispatch!(dt, T => {
        let mut v = vec![T::zero(); n * m];
        for i in 0..n.min(m) {
            v[i * m + i] = T::one();
        }
        Tensor::from_vec_unchecked(v, &[n, m])
    })
}
