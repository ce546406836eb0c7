//! Fused activations: softmax / log_softmax, pointwise activations and layer_norm, each with its backward.

use crate::autograd::needs_grad;
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::elementwise::{map1, map2};
use crate::kernels::send_ptr::SendPtr;
use crate::ops::elementwise::record_fn;
use crate::shape;
use crate::tensor::Tensor;
use crate::threads;

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
        for l in s..e {
            let (o, i) = (l / inner, l % inner);
            f(o * n * inner + i, inner, p.get());
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

/// Float element with native exp/ln, so float32 lanes stay in float32 (sums accumulate in f64).
trait Sf:
    Element
    + PartialOrd
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
{
    fn exp_(self) -> Self;
    fn nan_(self) -> bool;
}

impl Sf for f32 {
    #[inline(always)]
    fn exp_(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn nan_(self) -> bool {
        self.is_nan()
    }
}

impl Sf for f64 {
    #[inline(always)]
    fn exp_(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn nan_(self) -> bool {
        self.is_nan()
    }
}

fn softmax_fwd<T: Sf>(x: &Tensor, d: usize, log: bool) -> Tensor {
    let xc = x.contiguous_raw();
    let xs = xc.as_slice::<T>();
    let dims = split3(x.shape(), d);
    let mut out = vec![T::from_f64(0.0); xs.len()];
    let n = dims.1;
    for_lanes::<T>(dims, &mut out, |st, stride, po| {
        // Shift by the lane max so exp never overflows (softmax([1000, 1001]) stays finite).
        let mut m = T::from_f64(f64::NEG_INFINITY);
        for k in 0..n {
            let v = xs[st + k * stride];
            if v.nan_() {
                m = v;
                break;
            }
            if v > m {
                m = v;
            }
        }
        let mut s = 0.0f64;
        for k in 0..n {
            let i = st + k * stride;
            let e = (xs[i] - m).exp_();
            s += e.to_f64();
            if !log {
                // SAFETY: each lane owns its own indices.
                unsafe { *po.add(i) = e };
            }
        }
        if log {
            let ls = T::from_f64(s.ln());
            for k in 0..n {
                let i = st + k * stride;
                // SAFETY: each lane owns its own indices.
                unsafe { *po.add(i) = (xs[i] - m) - ls };
            }
        } else {
            let inv = T::from_f64(1.0 / s);
            for k in 0..n {
                let i = st + k * stride;
                // SAFETY: each lane owns its own indices.
                unsafe { *po.add(i) = *po.add(i) * inv };
            }
        }
    });
    Tensor::from_vec_unchecked(out, x.shape())
}

/// softmax: gx = y * (g - Σ g y);  log_softmax: gx = g - exp(y) Σ g.
fn softmax_bwd<T: Sf>(g: &Tensor, y: &Tensor, d: usize, log: bool) -> Tensor {
    let (gc, yc) = (g.contiguous_raw(), y.contiguous_raw());
    let (gs, ys) = (gc.as_slice::<T>(), yc.as_slice::<T>());
    let dims = split3(y.shape(), d);
    let n = dims.1;
    let mut out = vec![T::from_f64(0.0); ys.len()];
    for_lanes::<T>(dims, &mut out, |st, stride, po| {
        let mut s = 0.0f64;
        for k in 0..n {
            let i = st + k * stride;
            s += if log {
                gs[i].to_f64()
            } else {
                (gs[i] * ys[i]).to_f64()
            };
        }
        let st_ = T::from_f64(s);
        for k in 0..n {
            let i = st + k * stride;
            let r = if log {
                gs[i] - ys[i].exp_() * st_
            } else {
                ys[i] * (gs[i] - st_)
            };
            // SAFETY: each lane owns its own indices.
            unsafe { *po.add(i) = r };
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
        let so = out.save_output(0);
        record_fn(&out, &[x], name, move |g| {
            let y = &so.get(name)?;
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
fn softmax_eager(x: &Tensor, dim: i64) -> Result<Tensor> {
    softmax_impl(x, dim, false)
}

/// `log_softmax(x, dim)` = x - max - log Σ exp(x - max).
fn log_softmax_eager(x: &Tensor, dim: i64) -> Result<Tensor> {
    softmax_impl(x, dim, true)
}

/// A pointwise activation `y = f(x)` with backward `gx = g * df(x)` fused in one loop
/// (monomorphised per activation, so the math inlines into the loop).
fn pointwise<F, D>(x: &Tensor, op: &str, name: &'static str, f: F, df: D) -> Result<Tensor>
where
    F: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
    D: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
{
    check_float(x, op)?;
    let out = crate::dispatch_float!(x.dtype(), T => map1::<T, T>(x, move |v| T::from_f64(f(v.to_f64()))),
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
fn gelu_eager(x: &Tensor, approximate: &str) -> Result<Tensor> {
    match approximate {
        "none" => pointwise(
            x,
            "GeluKernelImpl",
            "GeluBackward0",
            |v| v * 0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2)),
            // d/dx x Φ(x) = Φ(x) + x φ(x)
            |v| {
                0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2))
                    + v * INV_SQRT_2PI * (-0.5 * v * v).exp()
            },
        ),
        "tanh" => pointwise(
            x,
            "GeluKernelImpl",
            "GeluBackward0",
            |v| 0.5 * v * (1.0 + (SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)).tanh()),
            // d/dx ½x(1+t) = ½(1+t) + ½x(1-t²)·√(2/π)(1+3·0.044715x²)
            |v| {
                let t = (SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)).tanh();
                0.5 * (1.0 + t)
                    + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
            },
        ),
        _ => Err(Error::runtime(
            "approximate argument must be either none or tanh.",
        )),
    }
}

/// `softplus(x, beta, threshold)`: log(1 + exp(βx))/β, linear above the threshold.
fn softplus_eager(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
    pointwise(
        x,
        "softplus",
        "SoftplusBackward0",
        move |v| {
            if v * beta > threshold {
                v
            } else {
                (v * beta).exp().ln_1p() / beta
            }
        },
        // d softplus = sigmoid(βx) (1 above the threshold)
        move |v| {
            if v * beta > threshold {
                1.0
            } else {
                1.0 / (1.0 + (-v * beta).exp())
            }
        },
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
fn mish_eager(x: &Tensor) -> Result<Tensor> {
    pointwise(
        x,
        "mish",
        "MishBackward0",
        |v| v * sp(v).tanh(),
        // d mish = tanh(sp) + x σ(x) (1 - tanh²(sp))
        |v| {
            let t = sp(v).tanh();
            t + v * (1.0 / (1.0 + (-v).exp())) * (1.0 - t * t)
        },
    )
}

/// `silu(x)` = x σ(x).
fn silu_eager(x: &Tensor) -> Result<Tensor> {
    pointwise(
        x,
        "silu",
        "SiluBackward0",
        |v| v / (1.0 + (-v).exp()),
        // d silu = σ(x) (1 + x (1 - σ(x)))
        |v| {
            let s = 1.0 / (1.0 + (-v).exp());
            s * (1.0 + v * (1.0 - s))
        },
    )
}

/// `elu(x, alpha)`: x above 0, α(eˣ - 1) below.
fn elu_eager(x: &Tensor, alpha: f64) -> Result<Tensor> {
    pointwise(
        x,
        "elu",
        "EluBackward0",
        move |v| if v > 0.0 { v } else { alpha * v.exp_m1() },
        // d elu = 1 above 0, α eˣ below
        move |v| if v > 0.0 { 1.0 } else { alpha * v.exp() },
    )
}

/// `leaky_relu(x, slope)`: x above 0, slope·x below.
fn leaky_relu_eager(x: &Tensor, slope: f64) -> Result<Tensor> {
    pointwise(
        x,
        "leaky_relu",
        "LeakyReluBackward0",
        move |v| if v > 0.0 { v } else { v * slope },
        // d = 1 above 0, slope otherwise
        move |v| if v > 0.0 { 1.0 } else { slope },
    )
}

/// `hardtanh(x, lo, hi)`: clamp, NaN kept.
fn hardtanh_eager(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    pointwise(
        x,
        "hardtanh",
        "HardtanhBackward0",
        move |v| if v.is_nan() { v } else { v.max(lo).min(hi) },
        // d = 1 strictly inside (lo, hi), 0 at and beyond the bounds
        move |v| if v > lo && v < hi { 1.0 } else { 0.0 },
    )
}

/// Per-row (mean, 1/sqrt(var + eps)) of a contiguous (m, k) view, biased variance as torch.
fn row_stats<T: Element>(xs: &[T], m: usize, k: usize, eps: f64) -> Vec<(f64, f64)> {
    let mut st = vec![(0.0, 0.0); m];
    let p = SendPtr(st.as_mut_ptr());
    threads::par_ranges(m, (16384 / k.max(1)).max(1), |a, b| {
        for r in a..b {
            let row = &xs[r * k..(r + 1) * k];
            let mean = row.iter().map(|v| v.to_f64()).sum::<f64>() / k as f64;
            let var = row.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / k as f64;
            // SAFETY: each row writes only its own slot.
            unsafe { *p.get().add(r) = (mean, 1.0 / (var + eps).sqrt()) };
        }
    });
    st
}

fn f64_vec(t: Option<&Tensor>) -> Option<Vec<f64>> {
    t.map(|t| {
        let c = t.to_dtype(crate::dtype::DType::F64);
        c.as_slice::<f64>().to_vec()
    })
}

fn ln_forward<T: Element>(
    x: &Tensor,
    k: usize,
    w: &Option<Vec<f64>>,
    b: &Option<Vec<f64>>,
    eps: f64,
) -> (Tensor, Vec<(f64, f64)>) {
    let xc = x.contiguous_raw();
    let xs = xc.as_slice::<T>();
    let m = xs.len() / k.max(1);
    let st = row_stats(xs, m, k, eps);
    let mut out = vec![T::from_f64(0.0); xs.len()];
    let p = SendPtr(out.as_mut_ptr());
    threads::par_ranges(m, (16384 / k.max(1)).max(1), |a, bnd| {
        for r in a..bnd {
            let (mean, rstd) = st[r];
            for j in 0..k {
                let mut y = (xs[r * k + j].to_f64() - mean) * rstd;
                if let Some(w) = w {
                    y *= w[j];
                }
                if let Some(b) = b {
                    y += b[j];
                }
                // SAFETY: each row writes only its own slots.
                unsafe { *p.get().add(r * k + j) = T::from_f64(y) };
            }
        }
    });
    (Tensor::from_vec_unchecked(out, x.shape()), st)
}

/// layer_norm over the trailing `k` elements of each row, with optional elementwise affine.
#[allow(clippy::needless_range_loop)] // row/column index arithmetic is the clearer form here
fn layer_norm_eager(
    x: &Tensor,
    k: usize,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    check_float(x, "LayerNormKernelImpl")?;
    if k == 0 || !x.numel().is_multiple_of(k) {
        return Err(Error::runtime(
            "layer_norm: normalized size must divide the input size",
        ));
    }
    for t in [weight, bias].into_iter().flatten() {
        if t.numel() != k {
            return Err(Error::runtime(format!(
                "layer_norm: expected weight and bias with {k} elements, got {}",
                crate::shape::fmt_shape(t.shape())
            )));
        }
    }
    let (w, b) = (f64_vec(weight), f64_vec(bias));
    let (out, st) = crate::dispatch_float!(x.dtype(), T => ln_forward::<T>(x, k, &w, &b, eps), _ => unreachable!());
    let mut inputs: Vec<&Tensor> = vec![x];
    inputs.extend(weight);
    inputs.extend(bias);
    if needs_grad(&inputs) {
        let name = "NativeLayerNormBackward0";
        let sx = x.save();
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        let (wdt, bdt) = (weight.map(|t| t.dtype()), bias.map(|t| t.dtype()));
        let (wshape, bshape) = (
            weight.map(|t| t.shape().to_vec()),
            bias.map(|t| t.shape().to_vec()),
        );
        record_fn(&out, &inputs, name, move |g| {
            let x = sx.get(name)?;
            let xc = x.to_dtype(crate::dtype::DType::F64);
            let gc = g.to_dtype(crate::dtype::DType::F64);
            let (xs, gs) = (xc.as_slice::<f64>(), gc.as_slice::<f64>());
            let m = xs.len() / k;
            // gx = rstd (ĝ - mean(ĝ) - x̂ mean(ĝ x̂)) with ĝ = g·w; gw = Σ g x̂; gb = Σ g
            let mut gx = vec![0.0f64; xs.len()];
            let p = SendPtr(gx.as_mut_ptr());
            let wv = &w;
            threads::par_ranges(m, (16384 / k).max(1), |a, bnd| {
                let mut gh = vec![0.0f64; k];
                for r in a..bnd {
                    let (mean, rstd) = st[r];
                    let (mut s1, mut s2) = (0.0, 0.0);
                    for j in 0..k {
                        let i = r * k + j;
                        gh[j] = gs[i] * wv.as_ref().map_or(1.0, |w| w[j]);
                        s1 += gh[j];
                        s2 += gh[j] * (xs[i] - mean) * rstd;
                    }
                    let (s1, s2) = (s1 / k as f64, s2 / k as f64);
                    for j in 0..k {
                        let i = r * k + j;
                        let xh = (xs[i] - mean) * rstd;
                        // SAFETY: each row writes only its own slots.
                        unsafe { *p.get().add(i) = rstd * (gh[j] - s1 - xh * s2) };
                    }
                }
            });
            let gx = Tensor::from_vec_unchecked(gx, x.shape()).to_dtype(x.dtype());
            let mut grads = vec![Some(gx)];
            if has_w || has_b {
                let (mut gw, mut gb) = (vec![0.0f64; k], vec![0.0f64; k]);
                for r in 0..m {
                    let (mean, rstd) = st[r];
                    for j in 0..k {
                        let i = r * k + j;
                        gw[j] += gs[i] * (xs[i] - mean) * rstd;
                        gb[j] += gs[i];
                    }
                }
                if let (Some(dt), Some(sh)) = (wdt, &wshape) {
                    grads.push(Some(Tensor::from_vec_unchecked(gw, sh).to_dtype(dt)));
                }
                if let (Some(dt), Some(sh)) = (bdt, &bshape) {
                    grads.push(Some(Tensor::from_vec_unchecked(gb, sh).to_dtype(dt)));
                }
            }
            Ok(grads)
        });
    }
    Ok(out)
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `softmax`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn softmax(x: &Tensor, dim: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = softmax_eager(x, dim)?;
    if scope.on() {
        let ins = [x];
        scope.record1("softmax", &ins, &out, move |i| softmax_eager(&i[0], dim));
    }
    Ok(out)
}

/// `log_softmax`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn log_softmax(x: &Tensor, dim: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = log_softmax_eager(x, dim)?;
    if scope.on() {
        let ins = [x];
        scope.record1("log_softmax", &ins, &out, move |i| {
            log_softmax_eager(&i[0], dim)
        });
    }
    Ok(out)
}

/// `gelu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn gelu(x: &Tensor, approximate: &str) -> Result<Tensor> {
    let scope = capture::scope();
    let out = gelu_eager(x, approximate)?;
    if scope.on() {
        let ins = [x];
        let approximate = approximate.to_string();
        scope.record1("gelu", &ins, &out, move |i| gelu_eager(&i[0], &approximate));
    }
    Ok(out)
}

/// `softplus`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn softplus(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = softplus_eager(x, beta, threshold)?;
    if scope.on() {
        let ins = [x];
        scope.record1("softplus", &ins, &out, move |i| {
            softplus_eager(&i[0], beta, threshold)
        });
    }
    Ok(out)
}

/// `mish`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn mish(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = mish_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("mish", &ins, &out, move |i| mish_eager(&i[0]));
    }
    Ok(out)
}

/// `silu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn silu(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = silu_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("silu", &ins, &out, move |i| silu_eager(&i[0]));
    }
    Ok(out)
}

/// `elu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn elu(x: &Tensor, alpha: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = elu_eager(x, alpha)?;
    if scope.on() {
        let ins = [x];
        scope.record1("elu", &ins, &out, move |i| elu_eager(&i[0], alpha));
    }
    Ok(out)
}

/// `leaky_relu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn leaky_relu(x: &Tensor, slope: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = leaky_relu_eager(x, slope)?;
    if scope.on() {
        let ins = [x];
        scope.record1("leaky_relu", &ins, &out, move |i| {
            leaky_relu_eager(&i[0], slope)
        });
    }
    Ok(out)
}

/// `hardtanh`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn hardtanh(x: &Tensor, lo: f64, hi: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = hardtanh_eager(x, lo, hi)?;
    if scope.on() {
        let ins = [x];
        scope.record1("hardtanh", &ins, &out, move |i| {
            hardtanh_eager(&i[0], lo, hi)
        });
    }
    Ok(out)
}

/// `layer_norm`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn layer_norm(
    x: &Tensor,
    k: usize,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = layer_norm_eager(x, k, weight, bias, eps)?;
    if scope.on() {
        let (ins, m) = capture::with_optional(&[x], &[weight, bias]);
        scope.record1("layer_norm", &ins, &out, move |i| {
            layer_norm_eager(
                &i[0],
                k,
                capture::optional_at(i, 1, m, 0),
                capture::optional_at(i, 1, m, 1),
                eps,
            )
        });
    }
    Ok(out)
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
