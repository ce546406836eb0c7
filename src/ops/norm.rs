//! Batch normalisation (`F.batch_norm`) with running-statistics update and a fused backward.

use crate::autograd::needs_grad;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::norm as k;
use crate::kernels::uninit::filled_vec;
use crate::ops::copy::contiguous;
use crate::ops::elementwise::record_fused;
use crate::tensor::Tensor;

/// Reads a 1-D float tensor as f64 values.
fn read_f64(t: &Tensor) -> Vec<f64> {
    (0..t.numel())
        .map(
            |i| crate::dispatch!(t.dtype(), T => crate::dtype::Element::to_f64(t.get_flat::<T>(i))),
        )
        .collect()
}

/// Overwrites a (contiguous, float) running-statistics buffer in place.
fn write_f64(t: &Tensor, v: &[f64]) -> Result<()> {
    if !t.is_contiguous() {
        return Err(Error::runtime("running statistics must be contiguous"));
    }
    crate::dispatch_float!(t.dtype(), T => {
        for (d, &s) in t.as_mut_slice::<T>().iter_mut().zip(v) {
            *d = <T as crate::dtype::Element>::from_f64(s);
        }
    }, _ => return Err(Error::runtime("running statistics must be floating point")));
    t.storage().bump_version();
    Ok(())
}

fn check_len(t: Option<&Tensor>, name: &str, c: usize) -> Result<()> {
    if let Some(t) = t {
        if t.numel() != c {
            return Err(Error::runtime(format!(
                "{name} should contain {c} elements not {}",
                t.numel()
            )));
        }
    }
    Ok(())
}

/// `F.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)`.
/// Training (or no running stats): normalise by the batch mean and biased variance and, when
/// running stats exist, blend them in with `momentum` (variance unbiased). Eval: running stats.
#[allow(clippy::too_many_arguments)]
fn batch_norm_eager(
    x: &Tensor,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    if x.ndim() < 2 {
        return Err(Error::value(format!(
            "expected 2D or 3D input (got {}D input)",
            x.ndim()
        )));
    }
    let s = x.shape();
    let (n, c) = (s[0], s[1]);
    let sp: usize = s[2..].iter().product();
    check_len(running_mean, "running_mean", c)?;
    check_len(running_var, "running_var", c)?;
    check_len(weight, "weight", c)?;
    check_len(bias, "bias", c)?;
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "\"batch_norm\" not implemented for '{}'",
            x.dtype().scalar_name()
        )));
    }
    let use_batch = training || running_mean.is_none() || running_var.is_none();
    if !training && (running_mean.is_none() || running_var.is_none()) {
        return Err(Error::runtime(if running_mean.is_none() {
            "running_mean must be defined in evaluation mode"
        } else {
            "running_var must be defined in evaluation mode"
        }));
    }
    let xc = contiguous(&x.alias())?;
    let dims = (n, c, sp);
    let (mean, invstd): (Vec<f64>, Vec<f64>) = if use_batch {
        let st = crate::dispatch_float!(x.dtype(), T => k::batch_stats::<T>(xc.as_slice::<T>(), dims), _ => unreachable!("float"));
        if training {
            if let (Some(rm), Some(rv)) = (running_mean, running_var) {
                let m = (n * sp) as f64;
                let unbias = if m > 1.0 { m / (m - 1.0) } else { f64::NAN };
                let (old_m, old_v) = (read_f64(rm), read_f64(rv));
                let nm: Vec<f64> = old_m
                    .iter()
                    .zip(&st)
                    .map(|(o, s)| (1.0 - momentum) * o + momentum * s.0)
                    .collect();
                let nv: Vec<f64> = old_v
                    .iter()
                    .zip(&st)
                    .map(|(o, s)| (1.0 - momentum) * o + momentum * s.1 * unbias)
                    .collect();
                write_f64(rm, &nm)?;
                write_f64(rv, &nv)?;
            }
        }
        st.iter().map(|&(m, v)| (m, 1.0 / (v + eps).sqrt())).unzip()
    } else {
        let rm = read_f64(running_mean.expect("checked"));
        let rv = read_f64(running_var.expect("checked"));
        let is = rv.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        (rm, is)
    };
    let wv = weight.map(read_f64).unwrap_or_else(|| vec![1.0; c]);
    let bv = bias.map(read_f64).unwrap_or_else(|| vec![0.0; c]);
    let scale: Vec<f64> = wv.iter().zip(&invstd).map(|(w, i)| w * i).collect();
    let shift: Vec<f64> = bv
        .iter()
        .zip(&mean)
        .zip(&scale)
        .map(|((b, m), a)| b - m * a)
        .collect();
    // apply writes every element: no zero fill
    let out = crate::dispatch_float!(x.dtype(), T => Tensor::from_vec_unchecked(
        filled_vec::<T>(x.numel(), |y| k::apply::<T>(xc.as_slice::<T>(), dims, &scale, &shift, y)), s),
        _ => unreachable!("float"));
    let mut inputs = vec![x];
    inputs.extend(weight);
    inputs.extend(bias);
    if needs_grad(&inputs) {
        let need_x = x.requires_grad();
        let need_w = weight.is_some_and(|w| w.requires_grad());
        let need_b = bias.is_some_and(|b| b.requires_grad());
        let (has_w, has_b) = (weight.is_some(), bias.is_some());
        let sx = xc.save();
        // the inputs with their graphs, for a backward that builds a graph
        let (ox, ow) = (x.save(), weight.map(|w| w.save()));
        let (xshape, dt) = (s.to_vec(), x.dtype());
        record_fused(&out, &inputs, "NativeBatchNormBackward0", move |gy| {
            if crate::autograd::is_grad_enabled() {
                crate::autograd::composed();
                let w = match &ow {
                    Some(w) => Some(w.get("NativeBatchNormBackward0")?),
                    None => None,
                };
                let stats = (!use_batch).then_some((mean.as_slice(), invstd.as_slice()));
                let mut r =
                    batch_norm_bwd_graph(gy, ox.get("NativeBatchNormBackward0")?, w, eps, stats)?;
                if !has_w {
                    r.remove(1);
                }
                if !has_b {
                    r.pop();
                }
                return Ok(r);
            }
            let gy = contiguous(&gy.alias())?;
            let x = sx.get("NativeBatchNormBackward0")?;
            // x̂ = (x−μ)·invstd; dL/db = Σdy; dL/dw = Σdy·x̂;
            // dL/dx = w·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M) with batch stats, w·invstd·dy in eval
            let (gx, sums) = crate::dispatch_float!(dt, T => {
                let run = |g: Option<&mut [T]>| k::backward::<T>(
                    x.as_slice::<T>(), gy.as_slice::<T>(), dims, &mean, &invstd, &wv, use_batch, g);
                if need_x {
                    // the kernel writes every gx element
                    let mut sums = Vec::new();
                    let v = filled_vec::<T>(xshape.iter().product(), |g| sums = run(Some(g)));
                    (Some(Tensor::from_vec_unchecked(v, &xshape)), sums)
                } else {
                    (None, run(None))
                }
            }, _ => unreachable!("float"));
            let mk = |v: Vec<f64>| -> Tensor {
                crate::dispatch_float!(dt, T => Tensor::from_vec_unchecked(v.into_iter().map(<T as crate::dtype::Element>::from_f64).collect::<Vec<T>>(), &[c]),
                    _ => unreachable!("float"))
            };
            let mut r = vec![gx];
            if has_w {
                r.push(need_w.then(|| mk(sums.iter().map(|s| s.1).collect())));
            }
            if has_b {
                r.push(need_b.then(|| mk(sums.iter().map(|s| s.0).collect())));
            }
            Ok(r)
        });
    }
    Ok(out)
}

/// The normalisation backward from recorded ops (`create_graph`), statistics over `dims`
/// recomputed from x so they differentiate too: x̂ = (x − mean)·rstd, ĝ = g·w,
/// gx = rstd·(ĝ − mean ĝ − x̂·mean(ĝ x̂)). `w` broadcasts against x. Returns (gx, x̂).
/// Shared by batch norm (dims: all but the channel) and layer norm (the normalized dims).
pub(crate) fn normalized_bwd_graph(
    g: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    dims: &[i64],
    eps: f64,
) -> Result<(Tensor, Tensor)> {
    use crate::ops::elementwise::{add, mul, scalar_f, sub, unary, Unary};
    let stat = |t: &Tensor| crate::ops::reduce::mean(t, Some(dims), true, None);
    let xc = sub(x, &stat(x)?)?;
    let rstd = unary(Unary::Rsqrt, &add(&stat(&mul(&xc, &xc)?)?, &scalar_f(eps))?)?;
    let xh = mul(&xc, &rstd)?;
    let gh = match w {
        Some(w) => mul(g, w)?,
        None => g.clone(),
    };
    let inner = sub(&sub(&gh, &stat(&gh)?)?, &mul(&xh, &stat(&mul(&gh, &xh)?)?)?)?;
    Ok((mul(&rstd, &inner)?, xh))
}

/// BatchNorm's backward from recorded ops, for a backward that builds a graph (`create_graph`),
/// per channel (dim 1) over every other dim: with batch statistics `normalized_bwd_graph`; with
/// running statistics `(mean, invstd)` gx = g·w·invstd. Returns [gx, gw, gb].
fn batch_norm_bwd_graph(
    g: &Tensor,
    x: &Tensor,
    w: Option<&Tensor>,
    eps: f64,
    running: Option<(&[f64], &[f64])>,
) -> Result<Vec<Option<Tensor>>> {
    use crate::ops::elementwise::{mul, sub};
    use crate::ops::movement::reshape_usize;
    use crate::ops::reduce::sum;
    let (dt, c) = (x.dtype(), x.shape()[1]);
    let g = crate::ops::copy::to_dtype(g, dt, false)?;
    let dims: Vec<i64> = (0..x.ndim() as i64).filter(|&d| d != 1).collect();
    let mut bshape = vec![1usize; x.ndim()];
    bshape[1] = c;
    let wb = match w {
        Some(w) => Some(reshape_usize(w, &bshape)?),
        None => None,
    };
    let (gx, xh) = match running {
        Some((m, is)) => {
            let chan = |v: &[f64]| -> Result<Tensor> {
                reshape_usize(
                    &Tensor::from_vec_unchecked(v.to_vec(), &[c]).to_dtype(dt),
                    &bshape,
                )
            };
            let rstd = chan(is)?;
            let gh = match &wb {
                Some(w) => mul(&g, w)?,
                None => g.clone(),
            };
            (mul(&gh, &rstd)?, mul(&sub(x, &chan(m)?)?, &rstd)?)
        }
        None => normalized_bwd_graph(&g, x, wb.as_ref(), &dims, eps)?,
    };
    let gw = sum(&mul(&g, &xh)?, Some(&dims), false, None)?;
    let gb = sum(&g, Some(&dims), false, None)?;
    Ok(vec![Some(gx), Some(gw), Some(gb)])
}

/// `batch_norm`, recorded for `fit`'s replay (it writes the running statistics in training).
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    x: &Tensor,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    let written: Vec<&Tensor> = if training {
        running_mean.into_iter().chain(running_var).collect()
    } else {
        Vec::new()
    };
    let scope = capture::scope_mut(&written);
    let out = batch_norm_eager(
        x,
        running_mean,
        running_var,
        weight,
        bias,
        training,
        momentum,
        eps,
    )?;
    if scope.on() {
        let (ins, m) = capture::with_optional(&[x], &[running_mean, running_var, weight, bias]);
        scope.record1("batch_norm", &ins, &out, move |i| {
            let o = |k| capture::optional_at(i, 1, m, k);
            batch_norm_eager(&i[0], o(0), o(1), o(2), o(3), training, momentum, eps)
        });
    }
    Ok(out)
}
