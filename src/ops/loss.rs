//! Fused class-index losses: log-softmax + NLL (cross_entropy) and NLL on log-probabilities, forward and backward.

use crate::autograd::needs_grad;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::send_ptr::SendPtr;
use crate::ops::elementwise::record_fn;
use crate::tensor::Tensor;
use crate::threads;
use std::sync::Arc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl Reduction {
    pub fn from_i64(v: i64) -> Result<Reduction> {
        match v {
            0 => Ok(Reduction::None),
            1 => Ok(Reduction::Mean),
            2 => Ok(Reduction::Sum),
            _ => Err(Error::value(format!(
                "{v} is not a valid value for reduction"
            ))),
        }
    }
}

/// Everything the backward needs, shared with the forward.
struct Geom {
    n: usize,
    c: usize,
    s: usize,
    targets: Vec<i64>,
    weight: Option<Vec<f64>>,
    ignore: i64,
    eps: f64,
    fused: bool,
}

impl Geom {
    fn w(&self, c: usize) -> f64 {
        self.weight.as_ref().map_or(1.0, |w| w[c])
    }
    fn wsum(&self) -> f64 {
        self.weight
            .as_ref()
            .map_or(self.c as f64, |w| w.iter().sum())
    }
}

/// Per (n, s) lane: loss, and the log-sum-exp shift (max + log Σ exp) when fused.
/// exp in the input's precision (float32's expf is several times cheaper than f64 exp and is what
/// torch's float32 log_softmax uses); sums stay in f64.
#[inline(always)]
fn exp_in<T: Element>(v: f64) -> f64 {
    if T::DTYPE == DType::F32 {
        (v as f32).exp() as f64
    } else {
        v.exp()
    }
}

/// Per-lane losses and log-sum-exps; with `keep_probs` (fused, for backward) also the softmax
/// probabilities, so backward reuses this pass's exponentials instead of computing them again.
fn forward_lanes<T: Element>(
    x: &[T],
    g: &Geom,
    keep_probs: bool,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let lanes = g.n * g.s;
    let (c, s) = (g.c, g.s);
    let mut loss = vec![0.0f64; lanes];
    let mut lse = vec![0.0f64; lanes];
    let keep = keep_probs && g.fused;
    let mut probs = vec![0.0f64; if keep { x.len() } else { 0 }];
    let (pl, pz, pp) = (
        SendPtr(loss.as_mut_ptr()),
        SendPtr(lse.as_mut_ptr()),
        SendPtr(probs.as_mut_ptr()),
    );
    let chunk = (16384 / c.max(1)).max(1);
    threads::par_ranges(lanes, chunk, |a, b| {
        for l in a..b {
            let t = g.targets[l];
            let st = (l / s) * c * s + l % s;
            let mut z = 0.0;
            if g.fused && s == 1 {
                // (N, C) input: each lane is one contiguous row, read as a slice (no index
                // arithmetic or bounds checks per element); same operations in the same order.
                let row = &x[l * c..(l + 1) * c];
                let mut m = f64::NEG_INFINITY;
                for v in row {
                    let v = v.to_f64();
                    if v > m || v.is_nan() {
                        m = v;
                    }
                }
                if m.is_infinite() {
                    m = 0.0;
                }
                let mut e = 0.0;
                if keep {
                    // SAFETY: lane l owns probs[l*c .. (l+1)*c].
                    let pr = unsafe { std::slice::from_raw_parts_mut(pp.get().add(l * c), c) };
                    for (p, v) in pr.iter_mut().zip(row) {
                        *p = exp_in::<T>(v.to_f64() - m);
                        e += *p;
                    }
                    let inv = 1.0 / e;
                    for p in pr.iter_mut() {
                        *p *= inv;
                    }
                } else {
                    for v in row {
                        e += exp_in::<T>(v.to_f64() - m);
                    }
                }
                z = m + e.ln();
            } else if g.fused {
                let mut m = f64::NEG_INFINITY;
                for k in 0..c {
                    let v = x[st + k * s].to_f64();
                    if v > m || v.is_nan() {
                        m = v;
                    }
                }
                if m.is_infinite() {
                    m = 0.0;
                }
                let mut e = 0.0;
                for k in 0..c {
                    let v = exp_in::<T>(x[st + k * s].to_f64() - m);
                    if keep {
                        // SAFETY: each lane writes only its own c elements of probs.
                        unsafe { *pp.get().add(st + k * s) = v };
                    }
                    e += v;
                }
                z = m + e.ln();
                if keep {
                    let inv = 1.0 / e;
                    for k in 0..c {
                        // SAFETY: as above.
                        unsafe { *pp.get().add(st + k * s) *= inv };
                    }
                }
            }
            let v = if t == g.ignore {
                0.0
            } else {
                let tu = t as usize;
                let nll = -g.w(tu) * (x[st + tu * s].to_f64() - z);
                let smooth = if g.eps > 0.0 {
                    let mut acc = 0.0;
                    for k in 0..c {
                        acc -= g.w(k) * (x[st + k * s].to_f64() - z);
                    }
                    acc
                } else {
                    0.0
                };
                (1.0 - g.eps) * nll + g.eps / c as f64 * smooth
            };
            // SAFETY: each lane writes only its own slot.
            unsafe {
                *pl.get().add(l) = v;
                *pz.get().add(l) = z;
            }
        }
    });
    (loss, lse, probs)
}

/// d loss/d logp_k = -(1-ε) w_t δ_kt - ε/C w_k; through log_softmax: gx_k = d_k - p_k Σ_j d_j.
fn backward_lanes<T: Element>(
    x: &[T],
    g: &Geom,
    lse: &[f64],
    probs: &[f64],
    coef: &[f64],
) -> Vec<T> {
    let (c, s) = (g.c, g.s);
    let mut gx = vec![T::from_f64(0.0); x.len()];
    let p = SendPtr(gx.as_mut_ptr());
    let lanes = g.n * s;
    let chunk = (16384 / c.max(1)).max(1);
    let sum_d_smooth = g.eps / c as f64 * g.wsum();
    let plain = s == 1 && g.fused && !probs.is_empty() && g.eps == 0.0 && g.weight.is_none();
    threads::par_ranges(lanes, chunk, |a, b| {
        if plain {
            // cross_entropy's common case: dL/dx = coef * (softmax(x) - one_hot(t)), row by row
            // (the general loop below computes the same values, term by term)
            for l in a..b {
                let t = g.targets[l];
                if t == g.ignore {
                    continue;
                }
                let k0 = if coef.len() == 1 { coef[0] } else { coef[l] };
                let pr = &probs[l * c..(l + 1) * c];
                // SAFETY: lane l owns gx[l*c .. (l+1)*c].
                let out = unsafe { std::slice::from_raw_parts_mut(p.get().add(l * c), c) };
                for (k, (o, &pk)) in out.iter_mut().zip(pr).enumerate() {
                    let d = if k as i64 == t { -1.0 + pk } else { pk };
                    *o = T::from_f64(k0 * d);
                }
            }
            return;
        }
        for l in a..b {
            let t = g.targets[l];
            if t == g.ignore {
                continue;
            }
            let tu = t as usize;
            let k0 = if coef.len() == 1 { coef[0] } else { coef[l] };
            let st = (l / s) * c * s + l % s;
            let wt = (1.0 - g.eps) * g.w(tu);
            let dsum = -wt - sum_d_smooth;
            for k in 0..c {
                let i = st + k * s;
                let mut d = -g.eps / c as f64 * g.w(k);
                if k == tu {
                    d -= wt;
                }
                if g.fused {
                    // softmax(x)_k, kept from forward when it ran under autograd
                    let p = if probs.is_empty() {
                        exp_in::<T>(x[i].to_f64() - lse[l])
                    } else {
                        probs[i]
                    };
                    d -= p * dsum;
                }
                // SAFETY: each lane writes only its own indices.
                unsafe { *p.get().add(i) = T::from_f64(k0 * d) };
            }
        }
    });
    gx
}

/// Class-index NLL over (N, C, d1, ...) or (C,) input: `fused` applies log_softmax first (cross_entropy).
fn nll_eager(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: Reduction,
    fused: bool,
) -> Result<Tensor> {
    let dt = input.dtype();
    if !dt.is_float() {
        let op = if fused {
            "log_softmax_lastdim_kernel_impl"
        } else {
            "nll_loss_out_frame"
        };
        return Err(Error::not_implemented(format!(
            "\"{op}\" not implemented for '{}'",
            dt.scalar_name()
        )));
    }
    if !matches!(target.dtype(), DType::I64 | DType::U8) {
        return Err(Error::runtime(format!(
            "expected target dtype to be Long or Byte, but got {}",
            target.dtype().scalar_name()
        )));
    }
    let sh = input.shape();
    let (n, c, s) = match sh.len() {
        0 => return Err(Error::runtime("input tensor should be 1D or 2D")),
        1 => (1, sh[0], 1),
        _ => (sh[0], sh[1], sh[2..].iter().product::<usize>()),
    };
    if target.numel() != n * s {
        return Err(Error::runtime(format!(
            "Expected target size {}, got {}",
            crate::shape::fmt_shape(&[n, s]),
            crate::shape::fmt_shape(target.shape())
        )));
    }
    let tc = target.to_dtype(DType::I64);
    let targets = tc.as_slice::<i64>().to_vec();
    for &t in &targets {
        if t != ignore_index && (t < 0 || t as usize >= c) {
            return Err(Error::index(format!("Target {t} is out of bounds.")));
        }
    }
    let weight = match weight {
        None => None,
        Some(w) => {
            if w.numel() != c {
                return Err(Error::runtime(format!(
                    "weight tensor should be defined either for all {c} classes or no classes but got weight \
                     tensor of shape: {}",
                    crate::shape::fmt_shape(w.shape())
                )));
            }
            let wc = w.to_dtype(DType::F64);
            Some(wc.as_slice::<f64>().to_vec())
        }
    };
    let g = Arc::new(Geom {
        n,
        c,
        s,
        targets,
        weight,
        ignore: ignore_index,
        eps: label_smoothing,
        fused,
    });
    let xc = input.contiguous_raw();
    let grad = needs_grad(&[input]);
    let (loss, lse, probs) = crate::dispatch_float!(dt, T => forward_lanes::<T>(xc.as_slice::<T>(), &g, grad), _ => unreachable!());
    // Mean divides by the summed weight of the non-ignored targets (torch's nll_loss rule).
    let wtot: f64 = g
        .targets
        .iter()
        .filter(|&&t| t != ignore_index)
        .map(|&t| g.w(t as usize))
        .sum();
    let out_vals: Vec<f64> = match reduction {
        Reduction::None => loss.clone(),
        Reduction::Sum => vec![loss.iter().sum()],
        Reduction::Mean => vec![loss.iter().sum::<f64>() / wtot],
    };
    let out_shape: Vec<usize> = if reduction == Reduction::None {
        target.shape().to_vec()
    } else {
        vec![]
    };
    let out = crate::dispatch_float!(dt, T => Tensor::from_vec_unchecked(
        out_vals.iter().map(|&v| T::from_f64(v)).collect::<Vec<T>>(), &out_shape), _ => unreachable!());
    if grad {
        let name = if sh.len() >= 3 {
            "NllLoss2DBackward0"
        } else {
            "NllLossBackward0"
        };
        let sx = input.save();
        let in_shape = sh.to_vec();
        record_fn(&out, &[input], name, move |gy| {
            let x = sx.get(name)?.contiguous_raw();
            let gyc = gy.to_dtype(DType::F64);
            let gv = gyc.as_slice::<f64>();
            let coef: Vec<f64> = match reduction {
                Reduction::None => gv.to_vec(),
                Reduction::Sum => vec![gv.first().copied().unwrap_or(0.0)],
                Reduction::Mean => vec![gv.first().copied().unwrap_or(0.0) / wtot],
            };
            let gx = crate::dispatch_float!(x.dtype(), T => Tensor::from_vec_unchecked(
                backward_lanes::<T>(x.as_slice::<T>(), &g, &lse, &probs, &coef), &in_shape), _ => unreachable!());
            Ok(vec![Some(gx)])
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ce_stable() {
        let x = Tensor::from_vec(vec![1e4f32, -1e4], &[1, 2]).unwrap();
        let t = Tensor::from_vec(vec![1i64], &[1]).unwrap();
        let l = nll(&x, &t, None, -100, 0.0, Reduction::Mean, true).unwrap();
        assert!((l.as_slice::<f32>()[0] - 2e4).abs() < 1.0);
    }

    #[test]
    fn out_of_bounds() {
        let x = Tensor::from_vec(vec![0.0f32; 4], &[2, 2]).unwrap();
        let t = Tensor::from_vec(vec![0i64, 10], &[2]).unwrap();
        assert!(nll(&x, &t, None, -100, 0.0, Reduction::Mean, true).is_err());
    }
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `nll`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn nll(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    label_smoothing: f64,
    reduction: Reduction,
    fused: bool,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = nll_eager(
        input,
        target,
        weight,
        ignore_index,
        label_smoothing,
        reduction,
        fused,
    )?;
    if scope.on() {
        let (ins, m) = capture::with_optional(&[input, target], &[weight]);
        scope.record1("nll", &ins, &out, move |i| {
            nll_eager(
                &i[0],
                &i[1],
                capture::optional_at(i, 2, m, 0),
                ignore_index,
                label_smoothing,
                reduction,
                fused,
            )
        });
    }
    Ok(out)
}
