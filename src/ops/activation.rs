//! Fused activations: softmax / log_softmax along a dim and pointwise activations, each with its backward.

use crate::autograd::needs_grad;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::kernels::elementwise::{map1, map2};
use crate::ops::elementwise::record_fn;
use crate::shape;
use crate::tensor::Tensor;
use crate::threads;
use std::sync::Arc;

/// Raw pointer that may cross into pool threads; each thread writes disjoint lanes.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

fn contig(x: &Tensor) -> Tensor {
    if x.is_contiguous() {
        x.clone()
    } else {
        crate::ops::copy::clone_raw(x)
    }
}

/// (outer, n, inner) of a contiguous tensor split around dim `d`.
fn split3(shape: &[usize], d: usize) -> (usize, usize, usize) {
    if shape.is_empty() {
        return (1, 1, 1);
    }
    let outer = shape[..d].iter().product();
    let inner = shape[d + 1..].iter().product();
    (outer, shape[d], inner)
}

/// Runs `f(lane_start, stride, out_ptr)` over every lane (outer × inner) of length `n`, in parallel.
fn for_lanes<T: Element>(
    (outer, n, inner): (usize, usize, usize),
    out: &mut [T],
    f: impl Fn(usize, usize, *mut T) + Sync + Send,
) {
    let lanes = outer * inner;
    let p = SendPtr(out.as_mut_ptr());
    let chunk = (32768 / n.max(1)).max(1);
    threads::par_ranges(lanes, chunk, |s, e| {
        let p = p;
        for l in s..e {
            let (o, i) = (l / inner, l % inner);
            f(o * n * inner + i, inner, p.0);
        }
    });
}

fn check_float(x: &Tensor, op: &str) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "\"{op}\" not implemented for '{}'",
            x.dtype().scalar_name()
        )));
    }
    Ok(())
}

fn softmax_fwd<T: Element>(x: &Tensor, d: usize, log: bool) -> Tensor {
    let xc = contig(x);
    let xs = xc.as_slice::<T>();
    let dims = split3(x.shape(), d);
    let mut out = vec![T::from_f64(0.0); xs.len()];
    let n = dims.1;
    for_lanes::<T>(dims, &mut out, |st, stride, po| {
        // Shift by the lane max so exp never overflows (softmax([1000, 1001]) stays finite).
        let mut m = f64::NEG_INFINITY;
        for k in 0..n {
            let v = xs[st + k * stride].to_f64();
            if v > m || v.is_nan() {
                m = v;
                if v.is_nan() {
                    break;
                }
            }
        }
        let mut s = 0.0;
        for k in 0..n {
            s += (xs[st + k * stride].to_f64() - m).exp();
        }
        let ls = s.ln();
        for k in 0..n {
            let i = st + k * stride;
            let z = xs[i].to_f64() - m;
            let y = if log { z - ls } else { z.exp() / s };
            // SAFETY: each lane owns its own indices.
            unsafe { *po.add(i) = T::from_f64(y) };
        }
    });
    Tensor::from_vec_unchecked(out, x.shape())
}

/// softmax: gx = y * (g - Σ g y);  log_softmax: gx = g - exp(y) Σ g.
fn softmax_bwd<T: Element>(g: &Tensor, y: &Tensor, d: usize, log: bool) -> Tensor {
    let (gc, yc) = (contig(g), contig(y));
    let (gs, ys) = (gc.as_slice::<T>(), yc.as_slice::<T>());
    let dims = split3(y.shape(), d);
    let n = dims.1;
    let mut out = vec![T::from_f64(0.0); ys.len()];
    for_lanes::<T>(dims, &mut out, |st, stride, po| {
        let mut s = 0.0;
        for k in 0..n {
            let i = st + k * stride;
            s += if log {
                gs[i].to_f64()
            } else {
                gs[i].to_f64() * ys[i].to_f64()
            };
        }
        for k in 0..n {
            let i = st + k * stride;
            let (gv, yv) = (gs[i].to_f64(), ys[i].to_f64());
            let r = if log {
                gv - yv.exp() * s
            } else {
                yv * (gv - s)
            };
            // SAFETY: each lane owns its own indices.
            unsafe { *po.add(i) = T::from_f64(r) };
        }
    });
    Tensor::from_vec_unchecked(out, y.shape())
}

fn softmax_impl(x: &Tensor, dim: i64, log: bool) -> Result<Tensor> {
    let op = if log {
        "log_softmax_lastdim_kernel_impl"
    } else {
        "softmax_lastdim_kernel_impl"
    };
    check_float(x, op)?;
    let d = shape::normalize_dim(dim, x.ndim())?;
    let out =
        crate::dispatch_float!(x.dtype(), T => softmax_fwd::<T>(x, d, log), _ => unreachable!());
    if needs_grad(&[x]) {
        let name = if log {
            "LogSoftmaxBackward0"
        } else {
            "SoftmaxBackward0"
        };
        let so = out.save();
        record_fn(&out, &[x], name, move |g| {
            let y = so.get(name)?;
            let g = if g.dtype() != y.dtype() {
                g.to_dtype(y.dtype())
            } else {
                g.clone()
            };
            let gx = crate::dispatch_float!(y.dtype(), T => softmax_bwd::<T>(&g, y, d, log), _ => unreachable!());
            Ok(vec![Some(gx)])
        });
    }
    Ok(out)
}

/// `softmax(x, dim)`, stable (shifted by the max) and fused forward and backward.
pub fn softmax(x: &Tensor, dim: i64) -> Result<Tensor> {
    softmax_impl(x, dim, false)
}

/// `log_softmax(x, dim)` = x - max - log Σ exp(x - max).
pub fn log_softmax(x: &Tensor, dim: i64) -> Result<Tensor> {
    softmax_impl(x, dim, true)
}

type F64Fn = Arc<dyn Fn(f64) -> f64 + Send + Sync>;

/// A pointwise activation `y = f(x)` with backward `gx = g * df(x)` fused in one loop.
fn pointwise(x: &Tensor, op: &str, name: &'static str, f: F64Fn, df: F64Fn) -> Result<Tensor> {
    check_float(x, op)?;
    let ff = f.clone();
    let out = crate::dispatch_float!(x.dtype(), T => map1::<T, T>(x, move |v| T::from_f64(ff(v.to_f64()))),
        _ => unreachable!());
    if needs_grad(&[x]) {
        let sx = x.save();
        record_fn(&out, &[x], name, move |g| {
            let x = sx.get(name)?;
            let g = if g.dtype() != x.dtype() {
                g.to_dtype(x.dtype())
            } else {
                g.clone()
            };
            let df = df.clone();
            let sh = shape::broadcast_shapes(g.shape(), x.shape())?;
            let gx = crate::dispatch_float!(x.dtype(), T => map2::<T, T, T>(&g, x, &sh,
                move |g, v| T::from_f64(g.to_f64() * df(v.to_f64()))), _ => unreachable!());
            Ok(vec![Some(gx)])
        });
    }
    Ok(out)
}

fn erf(v: f64) -> f64 {
    crate::kernels::special::erf(v)
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// `gelu(x)`: x Φ(x), or its tanh approximation.
pub fn gelu(x: &Tensor, approximate: &str) -> Result<Tensor> {
    match approximate {
        "none" => pointwise(
            x,
            "GeluKernelImpl",
            "GeluBackward0",
            Arc::new(|v| v * 0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2))),
            // d/dx x Φ(x) = Φ(x) + x φ(x)
            Arc::new(|v| {
                0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2))
                    + v * INV_SQRT_2PI * (-0.5 * v * v).exp()
            }),
        ),
        "tanh" => pointwise(
            x,
            "GeluKernelImpl",
            "GeluBackward0",
            Arc::new(|v| 0.5 * v * (1.0 + (SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)).tanh())),
            // d/dx ½x(1+t) = ½(1+t) + ½x(1-t²)·√(2/π)(1+3·0.044715x²)
            Arc::new(|v| {
                let t = (SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)).tanh();
                0.5 * (1.0 + t)
                    + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
            }),
        ),
        _ => Err(Error::runtime(
            "approximate argument must be either none or tanh.",
        )),
    }
}

/// `softplus(x, beta, threshold)`: log(1 + exp(βx))/β, linear above the threshold.
pub fn softplus(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
    pointwise(
        x,
        "softplus",
        "SoftplusBackward0",
        Arc::new(move |v| {
            if v * beta > threshold {
                v
            } else {
                (v * beta).exp().ln_1p() / beta
            }
        }),
        // d softplus = sigmoid(βx) (1 above the threshold)
        Arc::new(move |v| {
            if v * beta > threshold {
                1.0
            } else {
                1.0 / (1.0 + (-v * beta).exp())
            }
        }),
    )
}

fn sp(v: f64) -> f64 {
    if v > 20.0 {
        v
    } else {
        v.exp().ln_1p()
    }
}

/// `mish(x)` = x tanh(softplus(x)).
pub fn mish(x: &Tensor) -> Result<Tensor> {
    pointwise(
        x,
        "mish",
        "MishBackward0",
        Arc::new(|v| v * sp(v).tanh()),
        // d mish = tanh(sp) + x σ(x) (1 - tanh²(sp))
        Arc::new(|v| {
            let t = sp(v).tanh();
            t + v * (1.0 / (1.0 + (-v).exp())) * (1.0 - t * t)
        }),
    )
}

/// `silu(x)` = x σ(x).
pub fn silu(x: &Tensor) -> Result<Tensor> {
    pointwise(
        x,
        "silu",
        "SiluBackward0",
        Arc::new(|v| v / (1.0 + (-v).exp())),
        // d silu = σ(x) (1 + x (1 - σ(x)))
        Arc::new(|v| {
            let s = 1.0 / (1.0 + (-v).exp());
            s * (1.0 + v * (1.0 - s))
        }),
    )
}

/// `elu(x, alpha)`: x above 0, α(eˣ - 1) below.
pub fn elu(x: &Tensor, alpha: f64) -> Result<Tensor> {
    pointwise(
        x,
        "elu",
        "EluBackward0",
        Arc::new(move |v| if v > 0.0 { v } else { alpha * v.exp_m1() }),
        // d elu = 1 above 0, α eˣ below
        Arc::new(move |v| if v > 0.0 { 1.0 } else { alpha * v.exp() }),
    )
}

/// `leaky_relu(x, slope)`: x above 0, slope·x below.
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    pointwise(
        x,
        "leaky_relu",
        "LeakyReluBackward0",
        Arc::new(move |v| if v > 0.0 { v } else { v * slope }),
        // d = 1 above 0, slope otherwise
        Arc::new(move |v| if v > 0.0 { 1.0 } else { slope }),
    )
}

/// `hardtanh(x, lo, hi)`: clamp, NaN kept.
pub fn hardtanh(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    pointwise(
        x,
        "hardtanh",
        "HardtanhBackward0",
        Arc::new(move |v| if v.is_nan() { v } else { v.max(lo).min(hi) }),
        // d = 1 strictly inside (lo, hi), 0 at and beyond the bounds
        Arc::new(move |v| if v > lo && v < hi { 1.0 } else { 0.0 }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_stable() {
        let x = Tensor::from_vec(vec![1000.0f32, 1001.0, 1002.0], &[3]).unwrap();
        let y = softmax(&x, 0).unwrap();
        let s: f32 = y.as_slice::<f32>().iter().sum();
        assert!((s - 1.0).abs() < 1e-6);
        let l = log_softmax(&x, -1).unwrap();
        assert!(l.as_slice::<f32>().iter().all(|v| v.is_finite()));
    }

    #[test]
    fn softmax_inner_dim() {
        let x = Tensor::from_vec(vec![0.0f64, 1.0, 2.0, 3.0], &[2, 2]).unwrap();
        let y = softmax(&x, 0).unwrap();
        let v = y.as_slice::<f64>();
        assert!((v[0] + v[2] - 1.0).abs() < 1e-12);
    }
}
