//! RMSprop with alpha, eps, momentum and centering (torch's `_single_tensor_rmsprop`).

use super::{
    check_len, commit_steps, finish, float_dtype, lerp, next_step, run, seg, slot, Real, Slot,
};
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy)]
pub struct RmspropOptions {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
    pub maximize: bool,
}

/// One RMSprop step: `momentum_bufs` is empty unless momentum > 0, `grad_avgs` unless centered.
pub fn rmsprop_step(
    params: &[Tensor],
    grads: &[Tensor],
    square_avgs: &[Tensor],
    grad_avgs: &[Tensor],
    momentum_bufs: &[Tensor],
    steps: &[Tensor],
    o: &RmspropOptions,
) -> Result<()> {
    let n = params.len();
    check_len(n, grads.len(), "grads")?;
    check_len(n, square_avgs.len(), "square_avgs")?;
    check_len(n, steps.len(), "steps")?;
    let use_mom = o.momentum > 0.0;
    if use_mom {
        check_len(n, momentum_bufs.len(), "momentum buffers")?;
    }
    if o.centered {
        check_len(n, grad_avgs.len(), "grad_avgs")?;
    }
    let mut written: Vec<Slot> = Vec::with_capacity(n * 4);
    // Contiguous copies of strided grads must outlive the kernels reading them.
    let mut reads: Vec<Slot> = Vec::with_capacity(n);
    let mut jobs = Vec::with_capacity(n);
    let mut step_vals = Vec::with_capacity(n);
    for i in 0..n {
        let p = &params[i];
        let dt = float_dtype(p, i)?;
        let ps = slot(p, p, "param", i)?;
        let g = slot(&grads[i], p, "grad", i)?;
        let sq = slot(&square_avgs[i], p, "square_avg", i)?;
        let ga = if o.centered {
            Some(slot(&grad_avgs[i], p, "grad_avg", i)?)
        } else {
            None
        };
        let mb = if use_mom {
            Some(slot(&momentum_bufs[i], p, "momentum_buffer", i)?)
        } else {
            None
        };
        step_vals.push(next_step(&steps[i])?);
        jobs.push((
            dt,
            [
                ps.addr(),
                g.addr(),
                sq.addr(),
                ga.as_ref().map_or(0, |s| s.addr()),
                mb.as_ref().map_or(0, |s| s.addr()),
            ],
        ));
        written.push(ps);
        written.push(sq);
        written.extend(ga);
        written.extend(mb);
        reads.push(g);
    }
    commit_steps(steps, &step_vals);
    let lens: Vec<usize> = params.iter().map(|p| p.numel()).collect();
    let o = *o;
    let addrs: Vec<usize> = jobs.iter().map(|j| j.1[0]).collect();
    run(&lens, &addrs, |j, s, e| {
        let (dt, a) = jobs[j];
        match dt {
            DType::F32 => kernel::<f32>(&o, a, s, e),
            _ => kernel::<f64>(&o, a, s, e),
        }
    });
    finish(&written);
    drop(reads);
    Ok(())
}

fn kernel<T: Real>(o: &RmspropOptions, a: [usize; 5], s: usize, e: usize) {
    // Loop-invariant options become const parameters so the element loop is branch-free.
    macro_rules! go {
        ($(($c:literal, $m:literal)),*) => {
            match (o.centered, o.momentum > 0.0, o.maximize, o.weight_decay != 0.0) {
                $(
                    ($c, $m, false, false) => kernel_impl::<T, $c, $m, false, false>(o, a, s, e),
                    ($c, $m, false, true) => kernel_impl::<T, $c, $m, false, true>(o, a, s, e),
                    ($c, $m, true, false) => kernel_impl::<T, $c, $m, true, false>(o, a, s, e),
                    ($c, $m, true, true) => kernel_impl::<T, $c, $m, true, true>(o, a, s, e),
                )*
            }
        };
    }
    go!((false, false), (false, true), (true, false), (true, true))
}

super::fma_dispatch!(kernel_impl, kernel_fma, body, <CENTERED: bool, MOM: bool, MAX: bool, WD: bool>, (o: &RmspropOptions, a: [usize; 5], s: usize, e: usize));

#[inline(always)]
fn body<T: Real, const CENTERED: bool, const MOM: bool, const MAX: bool, const WD: bool>(
    o: &RmspropOptions,
    a: [usize; 5],
    s: usize,
    e: usize,
) {
    // SAFETY: contiguous distinct buffers of the parameter's numel; each task owns s..e. The
    // optional buffers are only formed when their option is on.
    let (p, g, sq) = unsafe {
        (
            seg::<T>(a[0], s, e),
            seg::<T>(a[1], s, e),
            seg::<T>(a[2], s, e),
        )
    };
    let ga: &mut [T] = if CENTERED {
        unsafe { seg::<T>(a[3], s, e) }
    } else {
        &mut []
    };
    let mb: &mut [T] = if MOM {
        unsafe { seg::<T>(a[4], s, e) }
    } else {
        &mut []
    };
    let wd = T::of(o.weight_decay);
    let alpha = T::of(o.alpha);
    let w = T::of(1.0 - o.alpha);
    let eps = T::of(o.eps);
    let mom = T::of(o.momentum);
    let neg_lr = T::of(-o.lr);
    let neg1 = T::of(-1.0);
    let n = p.len();
    let (g, sq) = (&g[..n], &mut sq[..n]);
    for k in 0..n {
        let mut gk = if MAX { -g[k] } else { g[k] };
        if WD {
            gk = wd.fma(p[k], gk); // grad.add(param, alpha=weight_decay)
        }
        let sk = (w * gk).fma(gk, sq[k] * alpha); // square_avg.mul_(alpha).addcmul_(g, g, 1 - alpha)
        sq[k] = sk;
        let avg = if CENTERED {
            let gak = lerp(ga[k], gk, w); // grad_avg.lerp_(grad, 1 - alpha)
            ga[k] = gak;
            (neg1 * gak).fma(gak, sk).sqrt() // square_avg.addcmul(ga, ga, value=-1).sqrt_()
        } else {
            sk.sqrt()
        } + eps;
        if MOM {
            let bk = mb[k] * mom + gk / avg; // buf.mul_(momentum).addcdiv_(grad, avg)
            mb[k] = bk;
            p[k] = neg_lr.fma(bk, p[k]); // param.add_(buf, alpha=-lr)
        } else {
            p[k] = p[k] + neg_lr * gk / avg; // param.addcdiv_(grad, avg, value=-lr)
        }
    }
}
