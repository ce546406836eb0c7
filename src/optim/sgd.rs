//! SGD with momentum, dampening, weight decay, Nesterov and maximize (torch's `_single_tensor_sgd`).

use super::{check_len, check_like, finish, float_dtype, run, seg, slot, Real, Slot};
use crate::dtype::DType;
use crate::error::Result;
use crate::ops::creation::zeros_like;
use crate::tensor::Tensor;
use smallvec::SmallVec;

#[derive(Debug, Clone, Copy)]
pub struct SgdOptions {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
}

/// One SGD step over a group. `bufs[i]` is the momentum buffer (None before the first step);
/// returns the buffers after the step (new ones for the None entries) when momentum != 0.
pub fn sgd_step(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Option<Tensor>],
    o: &SgdOptions,
) -> Result<Vec<Option<Tensor>>> {
    let mut out = Vec::with_capacity(params.len());
    sgd_update(params, grads, bufs, o, |b| out.push(b))?;
    Ok(out)
}

/// `sgd_step` handing each parameter's buffer (None without momentum) to `buffer` instead of
/// collecting them: a group whose state lives in Rust (`plan.rs`) steps without allocating.
pub fn sgd_update(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Option<Tensor>],
    o: &SgdOptions,
    mut buffer: impl FnMut(Option<Tensor>),
) -> Result<()> {
    let n = params.len();
    check_len(n, grads.len(), "grads")?;
    let use_mom = o.momentum != 0.0;
    if use_mom {
        check_len(n, bufs.len(), "momentum buffers")?;
    }
    if small_and_contiguous(params, grads, bufs, use_mom) {
        return sgd_update_small(params, grads, bufs, o, buffer);
    }
    // inline for the usual few parameters, so a step makes no heap allocation of its own
    let mut written: SmallVec<[Slot; 8]> = SmallVec::with_capacity(n * 2);
    // Contiguous copies of strided grads must outlive the kernels reading them.
    let mut reads: SmallVec<[Slot; 8]> = SmallVec::with_capacity(n);
    let mut jobs: SmallVec<[(DType, [usize; 3], bool); 8]> = SmallVec::with_capacity(n);
    for i in 0..n {
        let p = &params[i];
        let dt = float_dtype(p, i)?;
        let ps = slot(p, p, "param", i)?;
        let g = slot(&grads[i], p, "grad", i)?;
        let (b, fresh) = if use_mom {
            match &bufs[i] {
                Some(b) => (Some(slot(b, p, "momentum_buffer", i)?), false),
                // torch: buf = grad.detach().clone() on the first step
                None => (Some(slot(&zeros_like(p), p, "momentum_buffer", i)?), true),
            }
        } else {
            (None, false)
        };
        jobs.push((
            dt,
            [ps.addr(), g.addr(), b.as_ref().map_or(0, |s| s.addr())],
            fresh,
        ));
        buffer(if use_mom {
            Some(b.as_ref().map_or_else(
                || p.clone(),
                |s| s.orig.clone().unwrap_or_else(|| s.work.clone()),
            ))
        } else {
            None
        });
        written.push(ps);
        if let Some(b) = b {
            written.push(b);
        }
        reads.push(g);
    }
    let lens: SmallVec<[usize; 8]> = params.iter().map(|p| p.numel()).collect();
    let o = *o;
    let addrs: SmallVec<[usize; 8]> = jobs.iter().map(|j| j.1[0]).collect();
    run(&lens, &addrs, |j, s, e| {
        let (dt, a, fresh) = jobs[j];
        match dt {
            DType::F32 => kernel::<f32>(&o, a, fresh, s, e),
            _ => kernel::<f64>(&o, a, fresh, s, e),
        }
    });
    finish(&written);
    drop(reads);
    Ok(())
}

/// Whether a step can update the tensors where they are, one parameter after another: little
/// work (no thread pool), every tensor contiguous, every momentum buffer already made.
fn small_and_contiguous(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Option<Tensor>],
    use_mom: bool,
) -> bool {
    let mut total = 0;
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        total += p.numel();
        if !p.is_contiguous() || !g.is_contiguous() {
            return false;
        }
        if use_mom && !bufs[i].as_ref().is_some_and(|b| b.is_contiguous()) {
            return false;
        }
    }
    total < crate::threads::PAR_MIN_ELEMS
}

/// `sgd_update` for `small_and_contiguous` groups: the same checks, then the same kernel on each
/// parameter in order (as `run` orders small work), without working copies or job lists.
fn sgd_update_small(
    params: &[Tensor],
    grads: &[Tensor],
    bufs: &[Option<Tensor>],
    o: &SgdOptions,
    mut buffer: impl FnMut(Option<Tensor>),
) -> Result<()> {
    let use_mom = o.momentum != 0.0;
    for (i, p) in params.iter().enumerate() {
        float_dtype(p, i)?;
        check_like(&grads[i], p, "grad", i)?;
        if use_mom {
            check_like(bufs[i].as_ref().expect("checked"), p, "momentum_buffer", i)?;
        }
    }
    for (i, p) in params.iter().enumerate() {
        let b = if use_mom { bufs[i].as_ref() } else { None };
        let a = [
            p.data_ptr_addr(),
            grads[i].data_ptr_addr(),
            b.map_or(0, |b| b.data_ptr_addr()),
        ];
        if p.numel() > 0 {
            match p.dtype() {
                DType::F32 => kernel::<f32>(o, a, false, 0, p.numel()),
                _ => kernel::<f64>(o, a, false, 0, p.numel()),
            }
        }
        p.storage().bump_version();
        if let Some(b) = b {
            b.storage().bump_version();
        }
        buffer(b.cloned());
    }
    Ok(())
}

super::fma_dispatch!(kernel, kernel_fma, body, <>, (o: &SgdOptions, a: [usize; 3], fresh: bool, s: usize, e: usize));

#[inline(always)]
fn body<T: Real>(o: &SgdOptions, a: [usize; 3], fresh: bool, s: usize, e: usize) {
    // SAFETY: contiguous distinct buffers of the parameter's numel; each task owns s..e.
    let (p, g) = unsafe { (seg::<T>(a[0], s, e), seg::<T>(a[1], s, e)) };
    let mut b = if o.momentum != 0.0 {
        Some(unsafe { seg::<T>(a[2], s, e) })
    } else {
        None
    };
    let wd = T::of(o.weight_decay);
    let mom = T::of(o.momentum);
    let damp = T::of(1.0 - o.dampening);
    let neg_lr = T::of(-o.lr);
    for k in 0..p.len() {
        let mut gk = if o.maximize { -g[k] } else { g[k] };
        if o.weight_decay != 0.0 {
            gk = wd.fma(p[k], gk); // grad.add(param, alpha=weight_decay)
        }
        if let Some(b) = b.as_mut() {
            let bk = if fresh { gk } else { damp.fma(gk, b[k] * mom) }; // buf.mul_(m).add_(grad, alpha=1-d)
            b[k] = bk;
            gk = if o.nesterov { mom.fma(bk, gk) } else { bk }; // grad.add(buf, alpha=momentum)
        }
        p[k] = neg_lr.fma(gk, p[k]); // param.add_(grad, alpha=-lr)
    }
}
