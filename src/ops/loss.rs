//! Fused class-index losses: log-softmax + NLL (cross_entropy) and NLL on log-probabilities, forward and backward.

use crate::autograd::{is_grad_enabled, needs_grad};
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::send_ptr::SendPtr;
use crate::kernels::simd::avx2_dispatch;
use crate::ops::elementwise::{record_fn, record_fused};
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
#[derive(Clone)]
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

/// Lane `l`'s loss, its elements starting at `st` with stride `s`, given its log-sum-exp `z`
/// (unused by plain NLL): -(1-ε) w_t (x_t - z) - ε/C Σ_k w_k (x_k - z).
#[inline(always)]
fn lane_loss<T: Element>(x: &[T], g: &Geom, l: usize, st: usize, s: usize, z: f64) -> f64 {
    let c = g.c;
    let t = g.targets[l];
    if t == g.ignore {
        return 0.0;
    }
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
}

avx2_dispatch!(
    /// Fused (N, C) rows `a..b` (C > 0), each row one contiguous slice: the values of the strided
    /// loop in `forward_lanes`, computed in passes over the whole range (maxima, exponentials, sums,
    /// logs) so no pass carries a dependency from one row, or one `exp` call, into the next, and
    /// float32's exponentials run as one vector kernel with libm's bits. (One pass per row held the
    /// running sum in memory across libm `expf` calls and serialised the forward: 512×10 went
    /// 29 → 23 µs by splitting the passes, → 15 µs with the vector exp.)
    /// `loss`/`lse` hold lanes `a..b`, `probs` (when kept) elements `a*c..b*c`.
    fn fused_rows<T: Element>(
        x: &[T],
        g: &Geom,
        a: usize,
        b: usize,
        loss: &mut [f64],
        lse: &mut [f64],
        probs: Option<&mut [f64]>,
    ) = fused_rows_body
);

#[inline(always)]
fn fused_rows_body<T: Element>(
    x: &[T],
    g: &Geom,
    a: usize,
    b: usize,
    loss: &mut [f64],
    lse: &mut [f64],
    probs: Option<&mut [f64]>,
) {
    let c = g.c;
    let xs = &x[a * c..b * c];
    let mut scratch = Vec::new();
    let keep = probs.is_some();
    let pr: &mut [f64] = match probs {
        Some(p) => p,
        None => {
            scratch.resize(xs.len(), 0.0);
            &mut scratch
        }
    };
    // Maxima, parked in lse. The strided loop's rule (`v > m || v is NaN` from -inf, then ±inf
    // → 0) gives the row's last NaN if it has one, else its maximum; here two interleaved
    // running maxima and a NaN flag, branch-free. They may pick a different zero when +0 and
    // -0 tie for the maximum, which changes nothing downstream: x - (±0) and (±0) + ln(e)
    // (e ≥ 1) give the same values.
    for (mz, row) in lse.iter_mut().zip(xs.chunks_exact(c)) {
        let (mut m0, mut m1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        let mut nan = false;
        let mut pairs = row.chunks_exact(2);
        for p in &mut pairs {
            let (u, v) = (p[0].to_f64(), p[1].to_f64());
            m0 = if u > m0 { u } else { m0 };
            m1 = if v > m1 { v } else { m1 };
            nan |= u.is_nan() | v.is_nan();
        }
        for v in pairs.remainder() {
            let v = v.to_f64();
            m0 = if v > m0 { v } else { m0 };
            nan |= v.is_nan();
        }
        let mut m = if m1 > m0 { m1 } else { m0 };
        if nan {
            m = row
                .iter()
                .rev()
                .map(|v| v.to_f64())
                .find(|v| v.is_nan())
                .unwrap_or(m);
        }
        *mz = if m.is_infinite() { 0.0 } else { m };
    }
    // x - max, then exp_in over the whole range at once (float32: four lanes at a time)
    for ((prow, row), &m) in pr
        .chunks_exact_mut(c)
        .zip(xs.chunks_exact(c))
        .zip(lse.iter())
    {
        for (p, v) in prow.iter_mut().zip(row) {
            *p = v.to_f64() - m;
        }
    }
    if T::DTYPE == DType::F32 {
        crate::kernels::expf::exp_rounded_f32(pr);
    } else {
        for p in pr.iter_mut() {
            *p = exp_in::<T>(*p);
        }
    }
    // row sums in column order, parked in loss
    for (e, prow) in loss.iter_mut().zip(pr.chunks_exact(c)) {
        let mut acc = 0.0;
        for p in prow {
            acc += *p;
        }
        *e = acc;
    }
    for (i, l) in (a..b).enumerate() {
        let e = loss[i];
        let z = lse[i] + e.ln();
        lse[i] = z;
        if keep {
            let inv = 1.0 / e;
            for p in &mut pr[i * c..(i + 1) * c] {
                *p *= inv;
            }
        }
        loss[i] = lane_loss(x, g, l, l * c, 1, z);
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
        if g.fused && s == 1 && c > 0 {
            // SAFETY: this range owns lanes a..b of loss/lse and rows a..b of probs.
            unsafe {
                let pr =
                    keep.then(|| std::slice::from_raw_parts_mut(pp.get().add(a * c), (b - a) * c));
                fused_rows(
                    x,
                    g,
                    a,
                    b,
                    std::slice::from_raw_parts_mut(pl.get().add(a), b - a),
                    std::slice::from_raw_parts_mut(pz.get().add(a), b - a),
                    pr,
                );
            }
            return;
        }
        for l in a..b {
            let st = (l / s) * c * s + l % s;
            let mut z = 0.0;
            if g.fused {
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
            let v = lane_loss(x, g, l, st, s, z);
            // SAFETY: each lane writes only its own slot.
            unsafe {
                *pl.get().add(l) = v;
                *pz.get().add(l) = z;
            }
        }
    });
    (loss, lse, probs)
}

avx2_dispatch!(
    /// cross_entropy's common case, (N, C) rows `a..b` without weights or smoothing:
    /// dL/dx = coef · (softmax(x) - one_hot(t)), the values the general loop in `backward_lanes`
    /// computes term by term. `probs` and `out` hold rows a..b.
    fn plain_rows<T: Element>(
        g: &Geom,
        a: usize,
        b: usize,
        probs: &[f64],
        coef: &[f64],
        out: &mut [T],
    ) = plain_rows_body
);

#[inline(always)]
fn plain_rows_body<T: Element>(
    g: &Geom,
    a: usize,
    b: usize,
    probs: &[f64],
    coef: &[f64],
    out: &mut [T],
) {
    let c = g.c;
    if coef.len() == 1 {
        // one coefficient (mean, sum): off the target d = p_k, a flat map over all rows; then
        // each row's target gets -1 + p_t and ignored rows zeros
        let k0 = coef[0];
        for (o, &pk) in out.iter_mut().zip(probs) {
            *o = T::from_f64(k0 * pk);
        }
        for (i, l) in (a..b).enumerate() {
            let t = g.targets[l];
            let row = &mut out[i * c..(i + 1) * c];
            if t == g.ignore {
                row.fill(T::from_f64(0.0));
            } else {
                let tu = t as usize;
                row[tu] = T::from_f64(k0 * (-1.0 + probs[i * c + tu]));
            }
        }
        return;
    }
    for (i, l) in (a..b).enumerate() {
        let t = g.targets[l];
        if t == g.ignore {
            continue;
        }
        let k0 = coef[l];
        let pr = &probs[i * c..(i + 1) * c];
        let row = &mut out[i * c..(i + 1) * c];
        for (o, &pk) in row.iter_mut().zip(pr) {
            *o = T::from_f64(k0 * pk);
        }
        let tu = t as usize;
        row[tu] = T::from_f64(k0 * (-1.0 + pr[tu]));
    }
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
            // SAFETY: this range owns rows a..b of gx.
            let out = unsafe { std::slice::from_raw_parts_mut(p.get().add(a * c), (b - a) * c) };
            plain_rows(g, a, b, &probs[a * c..b * c], coef, out);
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
    // (unweighted, the count: a sum of ones is exact, so the same value without the summing)
    let wtot: f64 = if g.weight.is_none() {
        g.targets.iter().filter(|&&t| t != ignore_index).count() as f64
    } else {
        g.targets
            .iter()
            .filter(|&&t| t != ignore_index)
            .map(|&t| g.w(t as usize))
            .sum()
    };
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
        let back = move |gy: &Tensor| {
            if is_grad_enabled() {
                crate::autograd::composed();
                let x = sx.get(name)?;
                return Ok(vec![Some(nll_bwd_graph(gy, x, &g, reduction, wtot)?)]);
            }
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
        };
        if fused {
            record_fused(&out, &[input], name, back);
        } else {
            // linear in the input: a gradient without a graph is exact
            record_fn(&out, &[input], name, back);
        }
    }
    Ok(out)
}

/// The NLL / cross-entropy backward from recorded ops, for a backward that builds a graph:
/// gl = g·D with D = d loss/d log-probabilities (targets, weights and smoothing; constant in x),
/// then for cross-entropy the log_softmax backward gx = gl − softmax(x)·Σ_c gl.
fn nll_bwd_graph(
    gy: &Tensor,
    x: &Tensor,
    geom: &Geom,
    reduction: Reduction,
    wtot: f64,
) -> Result<Tensor> {
    use crate::ops::elementwise::{div, mul, scalar_f, sub};
    let plain = Geom {
        fused: false,
        ..geom.clone()
    };
    let shape = x.shape().to_vec();
    let xc = x.contiguous_raw();
    let d = crate::dispatch_float!(x.dtype(), T => Tensor::from_vec_unchecked(
        backward_lanes::<T>(xc.as_slice::<T>(), &plain, &[], &[], &[1.0]), &shape), _ => unreachable!());
    let gy = crate::ops::copy::to_dtype(gy, x.dtype(), false)?;
    let gb = match reduction {
        Reduction::None if shape.len() >= 2 => {
            let mut ks = shape.clone();
            ks[1] = 1;
            crate::ops::movement::reshape_usize(&gy, &ks)?
        }
        Reduction::None | Reduction::Sum => gy,
        Reduction::Mean => div(&gy, &scalar_f(wtot))?,
    };
    let gl = mul(&gb, &d)?;
    if !geom.fused {
        return Ok(gl);
    }
    let dim = if shape.len() == 1 { 0 } else { 1 };
    let p = crate::ops::activation::softmax(x, dim)?;
    let s = crate::ops::reduce::sum(&gl, Some(&[dim]), true, None)?;
    sub(&gl, &mul(&p, &s)?)
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
