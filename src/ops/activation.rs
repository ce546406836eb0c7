//! Fused activations: softmax / log_softmax, pointwise activations and layer_norm, each with its backward.

use crate::autograd::{is_grad_enabled, needs_grad};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::elementwise::{map1, map2};
use crate::kernels::send_ptr::SendPtr;
use crate::kernels::simd::with_avx512;
use crate::kernels::vmath::VFloat;
use crate::ops::elementwise::{record_fn, record_fused};
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
        record_fused(&out, &[x], name, move |g| {
            let y = &so.get(name)?;
            if is_grad_enabled() {
                crate::autograd::composed();
                return Ok(vec![Some(softmax_bwd_graph(g, y, d, log)?)]);
            }
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

/// Softmax's backward from recorded ops, for a backward that builds a graph (`create_graph`):
/// softmax gx = y·(g − Σ g·y), log_softmax gx = g − eʸ·Σ g (sums over `d`).
fn softmax_bwd_graph(g: &Tensor, y: &Tensor, d: usize, log: bool) -> Result<Tensor> {
    use crate::ops::elementwise::{mul, sub, unary, Unary};
    let g = if g.dtype() != y.dtype() {
        crate::ops::copy::to_dtype(g, y.dtype(), false)?
    } else {
        g.clone()
    };
    let dims = [d as i64];
    if log {
        let s = crate::ops::reduce::sum(&g, Some(&dims), true, None)?;
        sub(&g, &mul(&unary(Unary::Exp, y)?, &s)?)
    } else {
        let s = crate::ops::reduce::sum(&mul(&g, y)?, Some(&dims), true, None)?;
        mul(y, &sub(&g, &s)?)
    }
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
    pointwise_d2(x, op, name, f, df, None::<fn(f64) -> f64>)
}

/// `pointwise` with the second derivative `d2f` of a smooth activation (`None`: piecewise
/// linear, second derivative zero). Under `create_graph` the backward is `g · D` with `D = df(x)`
/// a tensor whose own backward is `gD · d2f(x)`, so a double backward is exact (a third raises).
fn pointwise_d2<F, D, D2>(
    x: &Tensor,
    op: &str,
    name: &'static str,
    f: F,
    df: D,
    d2f: Option<D2>,
) -> Result<Tensor>
where
    F: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
    D: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
    D2: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
{
    check_float(x, op)?;
    let out = crate::dispatch_float!(x.dtype(), T => map1::<T, T>(x, move |v| T::from_f64(f(v.to_f64()))),
        _ => unreachable!());
    if needs_grad(&[x]) {
        let sx = x.save();
        let back = move |g: &Tensor| {
            let x = sx.get(name)?;
            if is_grad_enabled() && (g.requires_grad() || d2f.is_some()) {
                return Ok(vec![Some(grad_times_deriv(g, x, name, df, d2f)?)]);
            }
            let g = if g.dtype() != x.dtype() {
                g.to_dtype(x.dtype())
            } else {
                g.clone()
            };
            let sh = shape::broadcast_shapes(g.shape(), x.shape())?;
            let gx = crate::dispatch_float!(x.dtype(), T => map2::<T, T, T>(&g, x, &sh,
                move |g, v| T::from_f64(g.to_f64() * df(v.to_f64()))), _ => unreachable!());
            Ok(vec![Some(gx)])
        };
        if d2f.is_some() {
            record_fused(&out, &[x], name, back);
        } else {
            // piecewise linear: a gradient without a graph is exact (its derivative in x is 0)
            record_fn(&out, &[x], name, back);
        }
    }
    Ok(out)
}

/// A pointwise activation's backward from recorded ops (`create_graph`): g · df(x), with df(x)
/// from `deriv_tensor`.
fn grad_times_deriv<D, D2>(
    g: &Tensor,
    x: &Tensor,
    name: &'static str,
    df: D,
    d2f: Option<D2>,
) -> Result<Tensor>
where
    D: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
    D2: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
{
    crate::autograd::composed();
    let dx = deriv_tensor(x, name, df, d2f);
    let g = crate::ops::copy::to_dtype(g, x.dtype(), false)?;
    crate::ops::elementwise::mul(&g, &dx)
}

/// `df(x)` as a tensor; with `d2f`, in the graph with backward `gD · d2f(x)` (computed by a
/// kernel, so differentiable once more only).
fn deriv_tensor<D, D2>(x: &Tensor, name: &'static str, df: D, d2f: Option<D2>) -> Tensor
where
    D: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
    D2: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
{
    let dx = crate::dispatch_float!(x.dtype(), T => map1::<T, T>(x, move |v| T::from_f64(df(v.to_f64()))),
        _ => unreachable!());
    if let (Some(d2f), true) = (d2f, needs_grad(&[x])) {
        let sx = x.save();
        record_fused(&dx, &[x], name, move |g| {
            let x = sx.get(name)?;
            let g = g.to_dtype(x.dtype());
            let sh = shape::broadcast_shapes(g.shape(), x.shape())?;
            // d(df(x))/dx = d2f(x)
            let gx = crate::dispatch_float!(x.dtype(), T => map2::<T, T, T>(&g, x, &sh,
                move |g, v| T::from_f64(g.to_f64() * d2f(v.to_f64()))), _ => unreachable!());
            Ok(vec![Some(gx)])
        });
    }
    dx
}

/// An activation computed in its input's dtype (float32 in float32, as torch's vectorised
/// kernels do) with branch-free math, so `map1`/`map2` vectorise the loops: `f` forward, `df`
/// its derivative.
trait Act: Copy + Send + Sync + 'static {
    fn f<T: VFloat>(self, v: T) -> T;
    fn df<T: VFloat>(self, v: T) -> T;
    /// The second derivative (double backward only, so plain f64).
    fn d2f(self, v: f64) -> f64;
}

/// `pointwise` for an `Act`: the same fused forward and `gx = g * df(x)` backward node.
fn pointwise_v<A: Act>(x: &Tensor, op: &str, name: &'static str, a: A) -> Result<Tensor> {
    check_float(x, op)?;
    let out = crate::dispatch_float!(x.dtype(), T => map1::<T, T>(x, move |v| a.f(v)),
        _ => unreachable!());
    if needs_grad(&[x]) {
        let sx = x.save();
        record_fused(&out, &[x], name, move |g| {
            let x = sx.get(name)?;
            if is_grad_enabled() {
                let gx = grad_times_deriv(g, x, name, move |v| a.df(v), Some(move |v| a.d2f(v)))?;
                return Ok(vec![Some(gx)]);
            }
            let g = if g.dtype() != x.dtype() {
                g.to_dtype(x.dtype())
            } else {
                g.clone()
            };
            let sh = shape::broadcast_shapes(g.shape(), x.shape())?;
            let gx = crate::dispatch_float!(x.dtype(), T => map2::<T, T, T>(&g, x, &sh,
                move |g, v| g * a.df(v)), _ => unreachable!());
            Ok(vec![Some(gx)])
        });
    }
    Ok(out)
}

/// `x > 0 ? pos·x : neg·(e^{x·inv} − 1)`, derivative `pos` / `neg·dinv·e^{x·dinv}`: ELU, SELU and
/// CELU (both sides computed, then one picked, so the loop has no branch).
#[derive(Clone, Copy)]
struct EluAct {
    pos: f64,
    neg: f64,
    inv: f64,
    dinv: f64,
}

impl Act for EluAct {
    #[inline(always)]
    fn d2f(self, v: f64) -> f64 {
        if v > 0.0 {
            0.0
        } else {
            self.neg * self.dinv * self.dinv * (v * self.dinv).exp()
        }
    }
    #[inline(always)]
    fn f<T: VFloat>(self, v: T) -> T {
        let n = T::c(self.neg) * (v * T::c(self.inv)).expm1_v();
        if v > T::zero() {
            T::c(self.pos) * v
        } else {
            n
        }
    }
    #[inline(always)]
    fn df<T: VFloat>(self, v: T) -> T {
        let n = T::c(self.neg * self.dinv) * (v * T::c(self.dinv)).exp_v();
        if v > T::zero() {
            T::c(self.pos)
        } else {
            n
        }
    }
}

fn erf(v: f64) -> f64 {
    crate::kernels::special::erf(v)
}

const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// float32 GELU (exact erf form) through kernels/gelu.rs's loops.
fn gelu_f32(x: &Tensor) -> Result<Tensor> {
    use crate::kernels::gelu as k;
    const NAME: &str = "GeluBackward0";
    let xc = x.contiguous_raw();
    // SAFETY: the forward loop writes every element.
    let out = unsafe { Tensor::uninit::<f32>(x.shape()) };
    k::forward(xc.as_slice::<f32>(), out.as_mut_slice::<f32>());
    if needs_grad(&[x]) {
        let sx = x.save();
        record_fused(&out, &[x], NAME, move |g| {
            let x = sx.get(NAME)?;
            if is_grad_enabled() {
                let gx = grad_times_deriv(g, x, NAME, k::gelu_df, Some(k::gelu_d2))?;
                return Ok(vec![Some(gx)]);
            }
            let xc = x.contiguous_raw();
            let g = if g.shape() == x.shape() {
                g.clone()
            } else {
                crate::ops::movement::expand(g, x.shape())?
            };
            let g = if g.dtype() == crate::dtype::DType::F32 {
                g.contiguous_raw()
            } else {
                g.to_dtype(crate::dtype::DType::F32)
            };
            // SAFETY: the backward loop writes every element.
            let gx = unsafe { Tensor::uninit::<f32>(x.shape()) };
            k::backward(
                xc.as_slice::<f32>(),
                g.as_slice::<f32>(),
                gx.as_mut_slice::<f32>(),
            );
            Ok(vec![Some(gx)])
        });
    }
    Ok(out)
}

/// `gelu(x)`: x Φ(x), or its tanh approximation.
fn gelu_eager(x: &Tensor, approximate: &str) -> Result<Tensor> {
    match approximate {
        // float32: x·Φ(x) with Φ(x) = ½erfc(−x/√2) from a vectorisable erfc (libm's erf is a
        // call per element: ~25× slower than PyTorch's vectorised loop)
        "none" if x.dtype() == crate::dtype::DType::F32 => gelu_f32(x),
        "none" => pointwise_d2(
            x,
            "GeluKernelImpl",
            "GeluBackward0",
            |v| v * 0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2)),
            // d/dx x Φ(x) = Φ(x) + x φ(x)
            |v| {
                0.5 * (1.0 + erf(v * std::f64::consts::FRAC_1_SQRT_2))
                    + v * INV_SQRT_2PI * (-0.5 * v * v).exp()
            },
            // d²: 2φ(x) + x φ'(x) = φ(x)(2 − x²)
            Some(|v: f64| INV_SQRT_2PI * (-0.5 * v * v).exp() * (2.0 - v * v)),
        ),
        // float32: tanh from the vectorisable exp (libm's tanh is a call per element)
        "tanh" if x.dtype() == crate::dtype::DType::F32 => gelu_tanh(x, tanh_fast64),
        "tanh" => gelu_tanh(x, f64::tanh),
        _ => Err(Error::runtime(
            "approximate argument must be either none or tanh.",
        )),
    }
}

/// tanh(u) = sign(u)·(1 − e^(−2|u|))/(1 + e^(−2|u|)) from the vectorisable exp (absolute error
/// about 1e-16: float32 GELU adds it to 1).
#[inline(always)]
fn tanh_fast64(u: f64) -> f64 {
    let e = crate::kernels::vmath::exp64(-2.0 * u.abs());
    let t = (1.0 - e) / (1.0 + e);
    if u < 0.0 {
        -t
    } else {
        t
    }
}

/// GELU's tanh approximation ½x(1 + t), t = tanh(√(2/π)(x + 0.044715x³)), with the given tanh.
#[inline(always)]
fn gelu_tanh_f<TH: Fn(f64) -> f64>(v: f64, th: TH) -> f64 {
    0.5 * v * (1.0 + th(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v)))
}

/// d/dx ½x(1+t) = ½(1+t) + ½x(1-t²)·√(2/π)(1+3·0.044715x²).
#[inline(always)]
fn gelu_tanh_df<TH: Fn(f64) -> f64>(v: f64, th: TH) -> f64 {
    let t = th(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
    0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v)
}

/// d²: (1-t²)u' + ½x(1-t²)(u'' − 2t u'²), u = √(2/π)(x + 0.044715x³).
#[inline(always)]
fn gelu_tanh_d2<TH: Fn(f64) -> f64>(v: f64, th: TH) -> f64 {
    let t = th(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v));
    let u1 = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * v * v);
    let u2 = SQRT_2_OVER_PI * 6.0 * 0.044715 * v;
    (1.0 - t * t) * u1 + 0.5 * v * (1.0 - t * t) * (u2 - 2.0 * t * u1 * u1)
}

/// GELU's tanh approximation as a pointwise op.
fn gelu_tanh<TH>(x: &Tensor, th: TH) -> Result<Tensor>
where
    TH: Fn(f64) -> f64 + Send + Sync + Copy + 'static,
{
    pointwise_d2(
        x,
        "GeluKernelImpl",
        "GeluBackward0",
        move |v| gelu_tanh_f(v, th),
        move |v| gelu_tanh_df(v, th),
        Some(move |v: f64| gelu_tanh_d2(v, th)),
    )
}

/// `softplus(x, beta, threshold)`: log(1 + exp(βx))/β, linear above the threshold.
fn softplus_eager(x: &Tensor, beta: f64, threshold: f64) -> Result<Tensor> {
    pointwise_d2(
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
        // d² = β σ(βx)(1 − σ(βx)) (0 above the threshold)
        Some(move |v: f64| {
            if v * beta > threshold {
                0.0
            } else {
                let s = 1.0 / (1.0 + (-v * beta).exp());
                beta * s * (1.0 - s)
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
fn mish_eager(x: &Tensor) -> Result<Tensor> {
    pointwise_d2(
        x,
        "mish",
        "MishBackward0",
        |v| v * sp(v).tanh(),
        // d mish = tanh(sp) + x σ(x) (1 - tanh²(sp))
        |v| {
            let t = sp(v).tanh();
            t + v * (1.0 / (1.0 + (-v).exp())) * (1.0 - t * t)
        },
        // d² = (1 − t²) σ (2 + x(1 − σ) − 2x t σ)
        Some(|v: f64| {
            let (t, s) = (sp(v).tanh(), 1.0 / (1.0 + (-v).exp()));
            (1.0 - t * t) * s * (2.0 + v * (1.0 - s) - 2.0 * v * t * s)
        }),
    )
}

/// `silu(x)` = x σ(x).
fn silu_eager(x: &Tensor) -> Result<Tensor> {
    pointwise_v(x, "silu", "SiluBackward0", SiluAct)
}

/// SiLU in its input's dtype with the vectorisable exp (float32 in float32, as torch's kernel;
/// libm's exp was a call per element, several times slower than PyTorch).
#[derive(Clone, Copy)]
struct SiluAct;

impl Act for SiluAct {
    #[inline(always)]
    fn f<T: VFloat>(self, v: T) -> T {
        v / (T::c(1.0) + (-v).exp_v())
    }
    // d silu = σ(x) (1 + x (1 - σ(x)))
    #[inline(always)]
    fn df<T: VFloat>(self, v: T) -> T {
        let s = T::c(1.0) / (T::c(1.0) + (-v).exp_v());
        s * (T::c(1.0) + v * (T::c(1.0) - s))
    }
    // d² = σ(1 − σ)(2 + x(1 − 2σ))
    #[inline(always)]
    fn d2f(self, v: f64) -> f64 {
        let s = 1.0 / (1.0 + (-v).exp());
        s * (1.0 - s) * (2.0 + v * (1.0 - 2.0 * s))
    }
}

/// `elu(x, alpha)`: x above 0, α(eˣ - 1) below; d elu = 1 above 0, α eˣ below.
fn elu_eager(x: &Tensor, alpha: f64) -> Result<Tensor> {
    let a = EluAct {
        pos: 1.0,
        neg: alpha,
        inv: 1.0,
        dinv: 1.0,
    };
    pointwise_v(x, "elu", "EluBackward0", a)
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

/// A scalar parameter rounded to x's dtype first, as torch converts it to `scalar_t` before
/// comparing (so `threshold(x, 0.1, ..)` on float32 compares against 0.1f, not the double 0.1).
fn in_dtype(x: &Tensor, v: f64) -> f64 {
    crate::dispatch!(x.dtype(), T => T::from_f64(v).to_f64())
}

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;

/// `selu(x)` = scale·elu(x, α) with torch's fixed α and scale (one `EluBackward0` node, as torch).
fn selu_eager(x: &Tensor) -> Result<Tensor> {
    let a = EluAct {
        pos: SELU_SCALE,
        neg: SELU_SCALE * SELU_ALPHA,
        inv: 1.0,
        dinv: 1.0,
    };
    pointwise_v(x, "elu_cpu", "EluBackward0", a)
}

/// `celu(x, α)` = max(0, x) + min(0, α(e^{x/α} - 1)); d celu = 1 above 0, e^{x/α} at and below.
fn celu_eager(x: &Tensor, alpha: f64) -> Result<Tensor> {
    check_float(x, "elu_cpu")?;
    if alpha == 0.0 {
        return Err(Error::runtime(
            "ZeroDivisionError: alpha cannot be 0 for CELU",
        ));
    }
    // torch's CeluBackward0 takes 1/α from α rounded to float (`1.0/alpha.toFloat()`), so the
    // gradient is α·inv·e^{x·inv} with that inv; matched here so gradients agree to the last bits
    let a = EluAct {
        pos: 1.0,
        neg: alpha,
        inv: 1.0 / alpha,
        dinv: 1.0 / (alpha as f32 as f64),
    };
    pointwise_v(x, "elu_cpu", "CeluBackward0", a)
}

/// `hardswish(x)` = x·min(max(x + 3, 0), 6)/6.
fn hardswish_eager(x: &Tensor) -> Result<Tensor> {
    pointwise_d2(
        x,
        "hardswish_cpu",
        "HardswishBackward0",
        |v| v * (v + 3.0).clamp(0.0, 6.0) / 6.0,
        // torch's piecewise rule: 0 at and below -3, x/3 + ½ strictly inside, 1 from 3 up
        // (every piece computed, then one selected: a branch-free loop vectorises)
        |v| {
            let inside = if v < 3.0 { v / 3.0 + 0.5 } else { 1.0 };
            if v <= -3.0 {
                0.0
            } else {
                inside
            }
        },
        // d² = 1/3 strictly inside (-3, 3), 0 elsewhere
        Some(|v: f64| if v > -3.0 && v < 3.0 { 1.0 / 3.0 } else { 0.0 }),
    )
}

/// `hardsigmoid(x)` = min(max(x + 3, 0), 6)/6.
fn hardsigmoid_eager(x: &Tensor) -> Result<Tensor> {
    pointwise(
        x,
        "hardsigmoid_cpu",
        "HardsigmoidBackward0",
        |v| (v + 3.0).clamp(0.0, 6.0) / 6.0,
        // d = 1/6 strictly inside (-3, 3), 0 elsewhere; torch's backward uses the float
        // constant 1.0f/6.0f for every dtype, so float64 gradients carry its rounding too
        |v| {
            if (v > -3.0) & (v < 3.0) {
                (1.0f32 / 6.0f32) as f64
            } else {
                0.0
            }
        },
    )
}

/// `softshrink(x, λ)`: x - λ above λ, x + λ below -λ, 0 between (NaN kept).
fn softshrink_eager(x: &Tensor, lambd: f64) -> Result<Tensor> {
    check_float(x, "softshrink_check")?;
    let (name, max) = match x.dtype() {
        crate::dtype::DType::F32 => ("Float", f32::MAX as f64),
        _ => ("Double", f64::MAX),
    };
    if !(0.0..=max).contains(&lambd) {
        return Err(Error::runtime(format!(
            "lambda must be in range [0, {}] for input dtype {name}, but found {}",
            crate::random::fmt_g(max),
            crate::random::fmt_g(lambd)
        )));
    }
    let l = in_dtype(x, lambd);
    pointwise(
        x,
        "softshrink_check",
        "SoftshrinkBackward0",
        move |v| {
            let below = if v < -l { v + l } else { v * 0.0 };
            if v > l {
                v - l
            } else {
                below
            }
        },
        move |v| if (v >= -l) & (v <= l) { 0.0 } else { 1.0 },
    )
}

/// `hardshrink(x, λ)`: x outside [-λ, λ], 0 inside.
fn hardshrink_eager(x: &Tensor, lambd: f64) -> Result<Tensor> {
    let l = in_dtype(x, lambd);
    pointwise(
        x,
        "hardshrink_cpu",
        "HardshrinkBackward0",
        move |v| if (v >= -l) & (v <= l) { 0.0 } else { v },
        move |v| if (v >= -l) & (v <= l) { 0.0 } else { 1.0 },
    )
}

/// `threshold(x, th, value)`: `value` where x <= th, x elsewhere; integer tensors too (as torch).
fn threshold_eager(x: &Tensor, th: f64, value: f64) -> Result<Tensor> {
    if x.dtype().is_float() {
        let t = in_dtype(x, th);
        return pointwise(
            x,
            "threshold_cpu",
            "ThresholdBackward0",
            move |v| if v <= t { value } else { v },
            move |v| if v <= t { 0.0 } else { 1.0 },
        );
    }
    if x.dtype() == crate::dtype::DType::Bool {
        return Err(Error::not_implemented(
            "\"threshold_cpu\" not implemented for 'Bool'",
        ));
    }
    // integer tensors never require grad: a plain map, with th and value cast to the dtype
    Ok(crate::dispatch!(x.dtype(), T => {
        let (t, val) = (T::from_f64(th).to_f64(), T::from_f64(value));
        map1::<T, T>(x, move |v| if v.to_f64() <= t { val } else { v })
    }))
}

/// `prelu(x, w)`: x above 0, w[c]·x elsewhere, with `c` the channel (dim 1) or one shared weight.
fn prelu_eager(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    if x.dtype() != w.dtype() {
        return Err(Error::runtime(format!(
            "prelu: Type promoting not supported. Got {} and {}",
            x.dtype().scalar_name(),
            w.dtype().scalar_name()
        )));
    }
    if w.ndim() > 1 {
        return Err(Error::runtime(format!(
            "prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {}",
            w.ndim()
        )));
    }
    let c = w.numel();
    if c != 1 {
        if x.ndim() == 0 {
            return Err(Error::runtime("Not allow zero-dim input tensor."));
        }
        let ch = if x.ndim() > 1 { x.shape()[1] } else { 1 };
        if ch != c {
            return Err(Error::runtime(format!(
                "Mismatch of parameter numbers and input channel size. Found parameter numbers = {c} and channel size = {ch}."
            )));
        }
    }
    check_float(x, "prelu_cpu")?;
    // flat index i of contiguous x belongs to channel (i / inner) % c
    let inner: usize = if c == 1 {
        1
    } else {
        x.shape()[2..].iter().product()
    };
    let out = crate::dispatch_float!(x.dtype(), T => prelu_fwd::<T>(x, w, c, inner),
        _ => unreachable!());
    if needs_grad(&[x, w]) {
        let name = "PreluKernelBackward0";
        let (sx, sw) = (x.save(), w.save());
        record_fused(&out, &[x, w], name, move |g| {
            let (x, w) = (sx.get(name)?, sw.get(name)?);
            if is_grad_enabled() {
                crate::autograd::composed();
                return prelu_bwd_graph(g, x, w);
            }
            let g = if g.dtype() != x.dtype() {
                g.to_dtype(x.dtype())
            } else {
                g.clone()
            };
            let (gx, gw) = crate::dispatch_float!(x.dtype(), T => prelu_bwd::<T>(x, w, &g, c, inner),
                _ => unreachable!());
            Ok(vec![
                Some(gx),
                Some(Tensor::from_vec_unchecked(gw, w.shape()).to_dtype(w.dtype())),
            ])
        });
    }
    Ok(out)
}

/// PReLU's backward from recorded ops, for a backward that builds a graph (`create_graph`):
/// gx = g where x > 0, g·w elsewhere; gw = Σ g·x where x ≤ 0 (per channel, dim 1, or in all).
fn prelu_bwd_graph(g: &Tensor, x: &Tensor, w: &Tensor) -> Result<Vec<Option<Tensor>>> {
    use crate::ops::elementwise::{binary, mul, scalar_f, Binary};
    use crate::ops::indexing::where_;
    use crate::ops::movement::reshape_usize;
    let g = crate::ops::copy::to_dtype(g, x.dtype(), false)?;
    let per_channel = w.numel() != 1;
    let wb = if per_channel && x.ndim() >= 2 {
        let mut bs = vec![1usize; x.ndim()];
        bs[1] = w.numel();
        reshape_usize(w, &bs)?
    } else if per_channel {
        w.clone()
    } else {
        reshape_usize(w, &[])?
    };
    let pos = binary(Binary::Gt, x, &scalar_f(0.0))?;
    let zero = scalar_f(0.0);
    let gx = where_(&pos, &g, &mul(&g, &wb)?)?;
    let gxw = where_(&pos, &zero, &mul(&g, x)?)?;
    let gw = if per_channel && x.ndim() >= 2 {
        let dims: Vec<i64> = (0..x.ndim() as i64).filter(|&d| d != 1).collect();
        crate::ops::reduce::sum(&gxw, Some(&dims), false, None)?
    } else if per_channel {
        gxw
    } else {
        crate::ops::reduce::sum(&gxw, None, false, None)?
    };
    Ok(vec![Some(gx), Some(reshape_usize(&gw, w.shape())?)])
}

/// Elements per task of the PReLU and GLU loops (boundaries from sizes only, so the weight
/// gradient's summation order never depends on the thread count).
const ACT_CHUNK: usize = 1 << 15;

/// A run of flat indices [a, b) of a PReLU input whose weights are `ws[k]` for every element
/// (`One(k)`), or `ws[k0..k0 + (b - a)]` in order (`Row(k0)`, a row of a 2-D input).
#[derive(Clone, Copy)]
enum Wrun {
    One(usize),
    Row(usize),
}

/// The runs of [s, e) with one weight layout each: element i has channel (i / inner) % c.
/// (An iterator rather than a callback so the loops inline into `with_avx512`'s build.)
struct PreluRuns {
    i: usize,
    e: usize,
    c: usize,
    inner: usize,
}

impl Iterator for PreluRuns {
    type Item = (usize, usize, Wrun);
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (i, e, c, inner) = (self.i, self.e, self.c, self.inner);
        if i >= e {
            return None;
        }
        let item = if c == 1 {
            (i, e, Wrun::One(0))
        } else if inner == 1 {
            let r0 = i / c * c;
            (i, (r0 + c).min(e), Wrun::Row(i - r0))
        } else {
            let q = i / inner;
            (i, ((q + 1) * inner).min(e), Wrun::One(q % c))
        };
        self.i = item.1;
        Some(item)
    }
}

fn prelu_fwd<T: VFloat>(x: &Tensor, w: &Tensor, c: usize, inner: usize) -> Tensor {
    let (xc, wc) = (x.contiguous_raw(), w.contiguous_raw());
    let (xs, ws) = (xc.as_slice::<T>(), wc.as_slice::<T>());
    // SAFETY: every element is written below.
    let out = unsafe { Tensor::uninit::<T>(x.shape()) };
    let po = SendPtr(out.ptr::<T>());
    let z = T::zero();
    threads::par_ranges(xs.len(), ACT_CHUNK, |s, e| {
        // SAFETY: this task's range of the output.
        let o = unsafe { std::slice::from_raw_parts_mut(po.get().add(s), e - s) };
        with_avx512(|| {
            for (a, b, run) in (PreluRuns { i: s, e, c, inner }) {
                let (o, x) = (&mut o[a - s..b - s], &xs[a..b]);
                // torch's w·x in the input dtype (a float32 product rounds once, as in float64)
                match run {
                    Wrun::One(k) => {
                        let wv = ws[k];
                        for (o, &v) in o.iter_mut().zip(x) {
                            *o = if v > z { v } else { wv * v };
                        }
                    }
                    Wrun::Row(k0) => {
                        for ((o, &v), &wv) in o.iter_mut().zip(x).zip(&ws[k0..]) {
                            *o = if v > z { v } else { wv * v };
                        }
                    }
                }
            }
        });
    });
    out
}

/// The channels a task over [s, e) touches: all `c` (first slot channel 0), or fewer, consecutive
/// cyclically from its first element's (first slot that channel). Returns (first channel, count).
#[inline(always)]
fn task_channels(s: usize, e: usize, c: usize, inner: usize) -> (usize, usize) {
    let m = (e - 1) / inner - s / inner + 1;
    if m >= c {
        (0, c)
    } else {
        ((s / inner) % c, m)
    }
}

/// One element of PReLU's backward: gx = x > 0 ? g : w·g, and x·g (in f64) added to `acc`
/// where x <= 0 (NaN included, as torch).
#[inline(always)]
fn prelu_elem_bwd<T: VFloat>(o: &mut T, v: T, gv: T, wv: T, acc: &mut f64) {
    let pos = v > T::zero();
    *o = if pos { gv } else { wv * gv };
    *acc += if pos { 0.0 } else { v.to_f64() * gv.to_f64() };
}

/// Σ (x·g over x <= 0) of one run in f64, in eight lanes (element q in lane q % 8), with
/// `gx = x > 0 ? g : w·g` written on the way.
#[inline(always)]
fn prelu_run_bwd<T: VFloat>(o: &mut [T], x: &[T], g: &[T], wv: T) -> f64 {
    let mut lanes = [0.0f64; 8];
    let step = prelu_elem_bwd::<T>;
    let mut oc = o.chunks_exact_mut(8);
    let (mut xc, mut gc) = (x.chunks_exact(8), g.chunks_exact(8));
    for ((o8, x8), g8) in (&mut oc).zip(&mut xc).zip(&mut gc) {
        for t in 0..8 {
            step(&mut o8[t], x8[t], g8[t], wv, &mut lanes[t]);
        }
    }
    let (or, xr, gr) = (oc.into_remainder(), xc.remainder(), gc.remainder());
    for t in 0..or.len() {
        step(&mut or[t], xr[t], gr[t], wv, &mut lanes[t]);
    }
    ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3]))
        + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
}

/// gx = g above 0, w[c]·g elsewhere; gw[c] = Σ x·g over x <= 0, summed in f64: eight lanes per
/// run of one channel, runs in order within a task, tasks in order (all fixed by the sizes).
fn prelu_bwd<T: VFloat>(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    c: usize,
    inner: usize,
) -> (Tensor, Vec<f64>) {
    let (xc, wc, gc) = (x.contiguous_raw(), w.contiguous_raw(), g.contiguous_raw());
    let (xs, ws, gs) = (xc.as_slice::<T>(), wc.as_slice::<T>(), gc.as_slice::<T>());
    let n = xs.len();
    // SAFETY: every element is written below.
    let gx = unsafe { Tensor::uninit::<T>(x.shape()) };
    let pg = SendPtr(gx.ptr::<T>());
    let parts: Vec<parking_lot::Mutex<Vec<f64>>> = (0..n.div_ceil(ACT_CHUNK))
        .map(|_| parking_lot::Mutex::new(vec![]))
        .collect();
    threads::par_ranges(n, ACT_CHUNK, |s, e| {
        let (ch0, m) = task_channels(s, e, c, inner);
        let slot = |k: usize| (k + c - ch0) % c;
        let mut acc = vec![0.0f64; m];
        // SAFETY: this task's range of gx.
        let o = unsafe { std::slice::from_raw_parts_mut(pg.get().add(s), e - s) };
        with_avx512(|| {
            for (a, b, run) in (PreluRuns { i: s, e, c, inner }) {
                let (o, x, g) = (&mut o[a - s..b - s], &xs[a..b], &gs[a..b]);
                match run {
                    Wrun::One(k) => acc[slot(k)] += prelu_run_bwd(o, x, g, ws[k]),
                    Wrun::Row(k0) => {
                        // one element per channel: consecutive slots, no wrap inside a run
                        let a0 = slot(k0);
                        let acc = &mut acc[a0..a0 + (b - a)];
                        for ((((o, &v), &gv), &wv), acc) in
                            o.iter_mut().zip(x).zip(g).zip(&ws[k0..]).zip(acc)
                        {
                            prelu_elem_bwd(o, v, gv, wv, acc);
                        }
                    }
                }
            }
        });
        *parts[s / ACT_CHUNK].lock() = acc;
    });
    let mut gw = vec![0.0f64; c];
    for (t, acc) in parts.into_iter().enumerate() {
        let s = t * ACT_CHUNK;
        let (ch0, _) = task_channels(s, (s + ACT_CHUNK).min(n), c, inner);
        for (j, &v) in acc.into_inner().iter().enumerate() {
            gw[(ch0 + j) % c] += v;
        }
    }
    (gx, gw)
}

/// GLU output indices [s, e) cut at row boundaries (`hi` = h·inner outputs per outer index):
/// items (a, b, ia) with x[ia..] the first halves' elements for outputs a..b (the second's at
/// + hi).
struct GluRuns {
    i: usize,
    e: usize,
    hi: usize,
}

impl Iterator for GluRuns {
    type Item = (usize, usize, usize);
    #[inline(always)]
    fn next(&mut self) -> Option<Self::Item> {
        let (i, hi) = (self.i, self.hi);
        if i >= self.e {
            return None;
        }
        let o = i / hi;
        let b = ((o + 1) * hi).min(self.e);
        self.i = b;
        Some((i, b, o * 2 * hi + (i - o * hi)))
    }
}

/// σ(b) = 1 / (1 + e^{-b}).
#[inline(always)]
fn sigmoid_v<T: VFloat>(b: T) -> T {
    T::one() / (T::one() + (-b).exp_v())
}

/// glu over a contiguous x whose halving dim holds `hi` (= h·inner) outputs per outer index.
fn glu_fwd<T: VFloat>(x: &Tensor, hi: usize, oshape: &[usize]) -> Tensor {
    let xc = x.contiguous_raw();
    let xs = xc.as_slice::<T>();
    // SAFETY: every element is written below.
    let out = unsafe { Tensor::uninit::<T>(oshape) };
    let po = SendPtr(out.ptr::<T>());
    threads::par_ranges(xs.len() / 2, ACT_CHUNK, |s, e| {
        // SAFETY: this task's range of the output.
        let o = unsafe { std::slice::from_raw_parts_mut(po.get().add(s), e - s) };
        with_avx512(|| {
            for (a, b, ia) in (GluRuns { i: s, e, hi }) {
                let (xa, xb) = (&xs[ia..ia + (b - a)], &xs[ia + hi..ia + hi + (b - a)]);
                for ((o, &va), &vb) in o[a - s..b - s].iter_mut().zip(xa).zip(xb) {
                    *o = va * sigmoid_v(vb);
                }
            }
        });
    });
    out
}

/// ga = g σ(b);  gb = g a σ(b) (1 - σ(b)).
fn glu_bwd<T: VFloat>(x: &Tensor, g: &Tensor, hi: usize) -> Tensor {
    let (xc, gc) = (x.contiguous_raw(), g.contiguous_raw());
    let (xs, gs) = (xc.as_slice::<T>(), gc.as_slice::<T>());
    // SAFETY: every element is written below (each output index writes its a and b slots).
    let gx = unsafe { Tensor::uninit::<T>(x.shape()) };
    let pg = SendPtr(gx.ptr::<T>());
    threads::par_ranges(gs.len(), ACT_CHUNK, |s, e| {
        with_avx512(|| {
            for (a, b, ia) in (GluRuns { i: s, e, hi }) {
                let len = b - a;
                let (xa, xb) = (&xs[ia..ia + len], &xs[ia + hi..ia + hi + len]);
                // SAFETY: outputs a..b own x's slots ia..ia+len and ia+hi..ia+hi+len.
                let (oa, ob) = unsafe {
                    (
                        std::slice::from_raw_parts_mut(pg.get().add(ia), len),
                        std::slice::from_raw_parts_mut(pg.get().add(ia + hi), len),
                    )
                };
                for ((((oa, ob), &va), &vb), &gv) in
                    oa.iter_mut().zip(ob).zip(xa).zip(xb).zip(&gs[a..b])
                {
                    let sg = sigmoid_v(vb);
                    *oa = gv * sg;
                    *ob = gv * va * sg * (T::one() - sg);
                }
            }
        });
    });
    gx
}

/// `glu(x, dim)` = a·σ(b), with a and b the first and second halves of x along `dim`.
fn glu_eager(x: &Tensor, dim: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Err(Error::runtime(
            "glu does not support scalars because halving size must be even",
        ));
    }
    let d = shape::normalize_dim(dim, x.ndim())?;
    let n = x.shape()[d];
    if !n.is_multiple_of(2) {
        return Err(Error::runtime(format!(
            "Halving dimension must be even, but dimension {d} is size {n}"
        )));
    }
    check_float(x, "glu_cpu")?;
    let (_, _, inner) = split3(x.shape(), d);
    let hi = n / 2 * inner;
    let mut oshape = x.shape().to_vec();
    oshape[d] = n / 2;
    let out = crate::dispatch_float!(x.dtype(), T => glu_fwd::<T>(x, hi, &oshape),
        _ => unreachable!());
    if needs_grad(&[x]) {
        let name = "GluBackward0";
        let sx = x.save();
        record_fused(&out, &[x], name, move |g| {
            let x = sx.get(name)?;
            if is_grad_enabled() {
                crate::autograd::composed();
                use crate::ops::elementwise::{mul, scalar_f, sub, unary, Unary};
                use crate::ops::movement::narrow;
                // out = a·σ(b): ga = g·σ(b), gb = g·a·σ(b)(1 − σ(b)), in the graph
                let h = (n / 2) as i64;
                let (a, b) = (narrow(x, d as i64, 0, h)?, narrow(x, d as i64, h, h)?);
                let sg = unary(Unary::Sigmoid, &b)?;
                let g = crate::ops::copy::to_dtype(g, x.dtype(), false)?;
                let ga = mul(&g, &sg)?;
                let gb = mul(&mul(&g, &a)?, &mul(&sg, &sub(&scalar_f(1.0), &sg)?)?)?;
                return Ok(vec![Some(crate::ops::join::cat(&[ga, gb], d as i64)?)]);
            }
            let g = if g.dtype() != x.dtype() {
                g.to_dtype(x.dtype())
            } else {
                g.clone()
            };
            let gx = crate::dispatch_float!(x.dtype(), T => glu_bwd::<T>(x, &g, hi),
                _ => unreachable!());
            Ok(vec![Some(gx)])
        });
    }
    Ok(out)
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
        let sw = weight.map(|t| t.save());
        record_fused(&out, &inputs, name, move |g| {
            let x = sx.get(name)?;
            if is_grad_enabled() {
                crate::autograd::composed();
                let w = match &sw {
                    Some(w) => Some(w.get(name)?),
                    None => None,
                };
                return layer_norm_bwd_graph(g, x, w, k, eps, bshape.as_deref());
            }
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

/// LayerNorm's backward from recorded ops, for a backward that builds a graph (`create_graph`):
/// rows of `k` elements through `norm::normalized_bwd_graph`; gw = Σ_rows g·x̂, gb = Σ_rows g.
fn layer_norm_bwd_graph(
    g: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    k: usize,
    eps: f64,
    bshape: Option<&[usize]>,
) -> Result<Vec<Option<Tensor>>> {
    use crate::ops::elementwise::mul;
    use crate::ops::movement::reshape_usize;
    use crate::ops::reduce::sum;
    let m = x.numel() / k;
    let x2 = reshape_usize(x, &[m, k])?;
    let g2 = reshape_usize(&crate::ops::copy::to_dtype(g, x.dtype(), false)?, &[m, k])?;
    let wk = match w {
        Some(w) => Some(reshape_usize(w, &[k])?),
        None => None,
    };
    let (gx, xh) = crate::ops::norm::normalized_bwd_graph(&g2, &x2, wk.as_ref(), &[1], eps)?;
    let gx = reshape_usize(&gx, x.shape())?;
    let mut grads = vec![Some(gx)];
    if let Some(w) = w {
        let gw = sum(&mul(&g2, &xh)?, Some(&[0]), false, None)?;
        grads.push(Some(reshape_usize(&gw, w.shape())?));
    }
    if let Some(bs) = bshape {
        grads.push(Some(reshape_usize(
            &sum(&g2, Some(&[0]), false, None)?,
            bs,
        )?));
    }
    Ok(grads)
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

/// `selu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn selu(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = selu_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("selu", &ins, &out, move |i| selu_eager(&i[0]));
    }
    Ok(out)
}

/// `celu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn celu(x: &Tensor, alpha: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = celu_eager(x, alpha)?;
    if scope.on() {
        let ins = [x];
        scope.record1("celu", &ins, &out, move |i| celu_eager(&i[0], alpha));
    }
    Ok(out)
}

/// `hardswish`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn hardswish(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = hardswish_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("hardswish", &ins, &out, move |i| hardswish_eager(&i[0]));
    }
    Ok(out)
}

/// `hardsigmoid`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn hardsigmoid(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = hardsigmoid_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("hardsigmoid", &ins, &out, move |i| hardsigmoid_eager(&i[0]));
    }
    Ok(out)
}

/// `softshrink`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn softshrink(x: &Tensor, lambd: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = softshrink_eager(x, lambd)?;
    if scope.on() {
        let ins = [x];
        scope.record1("softshrink", &ins, &out, move |i| {
            softshrink_eager(&i[0], lambd)
        });
    }
    Ok(out)
}

/// `hardshrink`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn hardshrink(x: &Tensor, lambd: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = hardshrink_eager(x, lambd)?;
    if scope.on() {
        let ins = [x];
        scope.record1("hardshrink", &ins, &out, move |i| {
            hardshrink_eager(&i[0], lambd)
        });
    }
    Ok(out)
}

/// `threshold`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn threshold(x: &Tensor, th: f64, value: f64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = threshold_eager(x, th, value)?;
    if scope.on() {
        let ins = [x];
        scope.record1("threshold", &ins, &out, move |i| {
            threshold_eager(&i[0], th, value)
        });
    }
    Ok(out)
}

/// `glu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn glu(x: &Tensor, dim: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = glu_eager(x, dim)?;
    if scope.on() {
        let ins = [x];
        scope.record1("glu", &ins, &out, move |i| glu_eager(&i[0], dim));
    }
    Ok(out)
}

/// `prelu`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn prelu(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = prelu_eager(x, w)?;
    if scope.on() {
        let ins = [x, w];
        scope.record1("prelu", &ins, &out, move |i| prelu_eager(&i[0], &i[1]));
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

    /// Deterministic values in [-1, 1) (a fixed LCG), with exact zeros sprinkled in.
    fn vals<T: Element>(n: usize, seed: u64) -> Vec<T> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
                T::from_f64(if i % 97 == 0 { 0.0 } else { v })
            })
            .collect()
    }

    /// PReLU's kernels against a plain loop, on layouts whose runs cross task boundaries (rows
    /// longer and shorter than a task, one shared weight, one weight per element of a row), and
    /// the weight gradient's bits at one and two threads.
    fn prelu_case<T: VFloat>(shape: &[usize], c: usize, tol: f64) {
        let n: usize = shape.iter().product();
        let inner: usize = if c == 1 {
            1
        } else {
            shape[2..].iter().product()
        };
        let x = Tensor::from_vec(vals::<T>(n, 1), shape).unwrap();
        let g = Tensor::from_vec(vals::<T>(n, 2), shape).unwrap();
        let w = Tensor::from_vec(vals::<T>(c, 3), &[c]).unwrap();
        let (xs, gs, ws) = (x.as_slice::<T>(), g.as_slice::<T>(), w.as_slice::<T>());
        let y = prelu_fwd::<T>(&x, &w, c, inner);
        let mut gw_ref = vec![0.0f64; c];
        let mut bits = vec![];
        for threads in [1, 2] {
            crate::threads::set_num_threads(threads);
            let (gx, gw) = prelu_bwd::<T>(&x, &w, &g, c, inner);
            for i in 0..n {
                let ch = (i / inner) % c;
                let neg = xs[i].partial_cmp(&T::zero()) != Some(std::cmp::Ordering::Greater);
                let want = if neg { ws[ch] * xs[i] } else { xs[i] };
                assert_eq!(y.as_slice::<T>()[i], want, "{shape:?} y[{i}]");
                let want = if neg { ws[ch] * gs[i] } else { gs[i] };
                assert_eq!(gx.as_slice::<T>()[i], want, "{shape:?} gx[{i}]");
                if threads == 1 && neg {
                    gw_ref[ch] += xs[i].to_f64() * gs[i].to_f64();
                }
            }
            for (k, (&a, &b)) in gw.iter().zip(&gw_ref).enumerate() {
                assert!(
                    (a - b).abs() <= tol * (1.0 + b.abs()),
                    "{shape:?} gw[{k}] {a} {b}"
                );
            }
            bits.push(gw.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        }
        assert_eq!(
            bits[0], bits[1],
            "{shape:?}: gw depends on the thread count"
        );
    }

    #[test]
    fn prelu_kernels_match_a_plain_loop() {
        prelu_case::<f32>(&[3, 7, 20000], 7, 1e-12);
        prelu_case::<f64>(&[3, 7, 20000], 7, 1e-12);
        prelu_case::<f32>(&[70000, 3], 3, 1e-12);
        prelu_case::<f64>(&[3, 50000], 50000, 1e-12);
        prelu_case::<f32>(&[150001], 1, 1e-12);
        prelu_case::<f64>(&[2, 5, 3, 11], 5, 1e-12);
        prelu_case::<f32>(&[4, 6, 40000], 6, 1e-12);
    }

    /// GLU's kernels against f64 formulas, with the halves split at different dims (rows of one
    /// output, rows longer than a task, small rows), identical at one and two threads.
    fn glu_case<T: VFloat>(shape: &[usize], d: usize, tol: f64) {
        let n: usize = shape.iter().product();
        let (outer, m, inner) = split3(shape, d);
        let hi = m / 2 * inner;
        let mut oshape = shape.to_vec();
        oshape[d] = m / 2;
        let x = Tensor::from_vec(
            vals::<f64>(n, 4)
                .iter()
                .map(|v| T::from_f64(v * 8.0))
                .collect(),
            shape,
        )
        .unwrap();
        let g = Tensor::from_vec(vals::<T>(n / 2, 5), &oshape).unwrap();
        let (xs, gs) = (x.as_slice::<T>(), g.as_slice::<T>());
        let mut runs = vec![];
        for threads in [1, 2] {
            crate::threads::set_num_threads(threads);
            runs.push((glu_fwd::<T>(&x, hi, &oshape), glu_bwd::<T>(&x, &g, hi)));
        }
        let close = |a: T, b: f64, what: &str| {
            assert!(
                (a.to_f64() - b).abs() <= tol * (1.0 + b.abs()),
                "{shape:?} {what}: {a:?} vs {b}"
            )
        };
        let (y, gx) = (runs[0].0.as_slice::<T>(), runs[0].1.as_slice::<T>());
        for o in 0..outer {
            for r in 0..hi {
                let (k, ia) = (o * hi + r, o * 2 * hi + r);
                let (a, b, gv) = (xs[ia].to_f64(), xs[ia + hi].to_f64(), gs[k].to_f64());
                let sg = 1.0 / (1.0 + (-b).exp());
                close(y[k], a * sg, "y");
                close(gx[ia], gv * sg, "ga");
                close(gx[ia + hi], gv * a * sg * (1.0 - sg), "gb");
            }
        }
        assert_eq!(runs[0].0.as_slice::<T>(), runs[1].0.as_slice::<T>());
        assert_eq!(runs[0].1.as_slice::<T>(), runs[1].1.as_slice::<T>());
    }

    #[test]
    fn glu_kernels_match_the_formula() {
        glu_case::<f32>(&[3, 4, 50000], 1, 1e-6);
        glu_case::<f64>(&[3, 4, 50000], 1, 1e-14);
        glu_case::<f32>(&[70000, 2], 1, 1e-6);
        glu_case::<f64>(&[4, 100000], 0, 1e-14);
        glu_case::<f32>(&[5, 6, 8], 2, 1e-6);
    }
}
