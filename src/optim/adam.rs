//! Adam and AdamW (`decoupled_weight_decay`), as torch's single-tensor `_single_tensor_adam`.

use super::{check_len, commit_steps, finish, float_dtype, next_step, run, seg, slot, Real, Slot};
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy)]
pub struct AdamOptions {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub amsgrad: bool,
    pub maximize: bool,
    /// AdamW: `param *= 1 - lr * weight_decay` instead of adding `weight_decay * param` to the grad.
    pub decoupled_weight_decay: bool,
}

/// Per-parameter scalars, computed in f64 as torch's Python does.
#[derive(Clone, Copy)]
struct Scal {
    decay: f64,
    step_size: f64,
    bc2_sqrt: f64,
}

/// One Adam step over a group: `max_exp_avg_sqs` is empty unless `amsgrad`.
pub fn adam_step(
    params: &[Tensor],
    grads: &[Tensor],
    exp_avgs: &[Tensor],
    exp_avg_sqs: &[Tensor],
    max_exp_avg_sqs: &[Tensor],
    steps: &[Tensor],
    o: &AdamOptions,
) -> Result<()> {
    let n = params.len();
    check_len(n, grads.len(), "grads")?;
    check_len(n, exp_avgs.len(), "exp_avgs")?;
    check_len(n, exp_avg_sqs.len(), "exp_avg_sqs")?;
    check_len(n, steps.len(), "steps")?;
    if o.amsgrad {
        check_len(n, max_exp_avg_sqs.len(), "max_exp_avg_sqs")?;
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
        let m = slot(&exp_avgs[i], p, "exp_avg", i)?;
        let v = slot(&exp_avg_sqs[i], p, "exp_avg_sq", i)?;
        let mx = if o.amsgrad {
            Some(slot(&max_exp_avg_sqs[i], p, "max_exp_avg_sq", i)?)
        } else {
            None
        };
        let step = next_step(&steps[i])?;
        step_vals.push(step);
        let bc1 = 1.0 - o.beta1.powf(step);
        let bc2 = 1.0 - o.beta2.powf(step);
        let sc = Scal {
            decay: 1.0 - o.lr * o.weight_decay,
            step_size: o.lr / bc1,
            bc2_sqrt: bc2.powf(0.5),
        };
        jobs.push((
            dt,
            [
                ps.addr(),
                g.addr(),
                m.addr(),
                v.addr(),
                mx.as_ref().map_or(0, |s| s.addr()),
            ],
            sc,
        ));
        written.push(ps);
        written.push(m);
        written.push(v);
        if let Some(mx) = mx {
            written.push(mx);
        }
        reads.push(g);
    }
    commit_steps(steps, &step_vals);
    let lens: Vec<usize> = params.iter().map(|p| p.numel()).collect();
    let o = *o;
    let addrs: Vec<usize> = jobs.iter().map(|j| j.1[0]).collect();
    run(&lens, &addrs, |j, s, e| {
        let (dt, a, sc) = jobs[j];
        match dt {
            DType::F32 => kernel::<f32>(&o, sc, a, s, e),
            _ => kernel::<f64>(&o, sc, a, s, e),
        }
    });
    finish(&written);
    drop(reads);
    Ok(())
}

fn kernel<T: Real>(o: &AdamOptions, sc: Scal, a: [usize; 5], s: usize, e: usize) {
    // Loop-invariant options become const parameters so the element loop is branch-free and
    // vectorises; `lo` picks the side of torch's two-sided lerp formula (|1 - beta1| < 0.5).
    let wd = match (o.weight_decay != 0.0, o.decoupled_weight_decay) {
        (false, _) => 0u8,
        (true, false) => 1,
        (true, true) => 2,
    };
    let lo = (1.0 - o.beta1).abs() < 0.5;
    macro_rules! go {
        ($($w:literal),*) => {
            match (o.amsgrad, o.maximize, lo, wd) {
                $(
                    (false, false, true, $w) => kernel_impl::<T, false, false, true, $w>(o, sc, a, s, e),
                    (false, false, false, $w) => kernel_impl::<T, false, false, false, $w>(o, sc, a, s, e),
                    (false, true, true, $w) => kernel_impl::<T, false, true, true, $w>(o, sc, a, s, e),
                    (false, true, false, $w) => kernel_impl::<T, false, true, false, $w>(o, sc, a, s, e),
                    (true, false, true, $w) => kernel_impl::<T, true, false, true, $w>(o, sc, a, s, e),
                    (true, false, false, $w) => kernel_impl::<T, true, false, false, $w>(o, sc, a, s, e),
                    (true, true, true, $w) => kernel_impl::<T, true, true, true, $w>(o, sc, a, s, e),
                    (true, true, false, $w) => kernel_impl::<T, true, true, false, $w>(o, sc, a, s, e),
                )*
                _ => unreachable!("weight-decay mode is 0, 1 or 2"),
            }
        };
    }
    go!(0, 1, 2)
}

super::fma_dispatch!(kernel_impl, kernel_fma, body, <AMS: bool, MAX: bool, LO: bool, WD: u8>, (o: &AdamOptions, sc: Scal, a: [usize; 5], s: usize, e: usize));

#[inline(always)]
fn body<T: Real, const AMS: bool, const MAX: bool, const LO: bool, const WD: u8>(
    o: &AdamOptions,
    sc: Scal,
    a: [usize; 5],
    s: usize,
    e: usize,
) {
    // SAFETY: the addresses are contiguous buffers of the parameter's numel (checked by `slot`),
    // distinct tensors, and each task owns the range s..e.
    let (p, g, m, v) = unsafe {
        (
            seg::<T>(a[0], s, e),
            seg::<T>(a[1], s, e),
            seg::<T>(a[2], s, e),
            seg::<T>(a[3], s, e),
        )
    };
    // SAFETY: as above; with amsgrad off the slice is empty and never touched.
    let mx: &mut [T] = if AMS {
        unsafe { seg::<T>(a[4], s, e) }
    } else {
        &mut []
    };
    let wd = T::of(o.weight_decay);
    let decay = T::of(sc.decay);
    let w1 = T::of(1.0 - o.beta1);
    let one_m_w1 = T::one() - w1;
    let b2 = T::of(o.beta2);
    let w2 = T::of(1.0 - o.beta2);
    let bc2s = T::of(sc.bc2_sqrt);
    let eps = T::of(o.eps);
    let neg_step = T::of(-sc.step_size);
    let n = p.len();
    let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
    for k in 0..n {
        let mut gk = if MAX { -g[k] } else { g[k] };
        let mut pk = p[k];
        if WD == 2 {
            pk = pk * decay; // param.mul_(1 - lr * weight_decay)
        } else if WD == 1 {
            gk = wd.fma(pk, gk); // grad.add(param, alpha=weight_decay)
        }
        // exp_avg.lerp_(grad, 1 - beta1), torch's two-sided formula
        let mk = if LO {
            w1.fma(gk - m[k], m[k])
        } else {
            (-(gk - m[k])).fma(one_m_w1, gk)
        };
        let vk = (w2 * gk).fma(gk, v[k] * b2); // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
        m[k] = mk;
        v[k] = vk;
        let den_src = if AMS {
            let t = mx[k].maxn(vk); // torch.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
            mx[k] = t;
            t
        } else {
            vk
        };
        let denom = den_src.sqrt() / bc2s + eps;
        p[k] = pk + neg_step * mk / denom; // param.addcdiv_(exp_avg, denom, value=-step_size)
    }
}
