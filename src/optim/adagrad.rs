//! Adagrad with lr decay and weight decay (torch's `_single_tensor_adagrad`, dense gradients).

use super::{check_len, commit_steps, finish, float_dtype, next_step, run, seg, slot, Real, Slot};
use crate::dtype::DType;
use crate::error::Result;
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy)]
pub struct AdagradOptions {
    pub lr: f64,
    pub lr_decay: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub maximize: bool,
}

/// One Adagrad step over a group.
pub fn adagrad_step(
    params: &[Tensor],
    grads: &[Tensor],
    sums: &[Tensor],
    steps: &[Tensor],
    o: &AdagradOptions,
) -> Result<()> {
    let n = params.len();
    check_len(n, grads.len(), "grads")?;
    check_len(n, sums.len(), "state sums")?;
    check_len(n, steps.len(), "steps")?;
    let mut written: Vec<Slot> = Vec::with_capacity(n * 2);
    // Contiguous copies of strided grads must outlive the kernels reading them.
    let mut reads: Vec<Slot> = Vec::with_capacity(n);
    let mut jobs = Vec::with_capacity(n);
    let mut step_vals = Vec::with_capacity(n);
    for i in 0..n {
        let p = &params[i];
        let dt = float_dtype(p, i)?;
        let ps = slot(p, p, "param", i)?;
        let g = slot(&grads[i], p, "grad", i)?;
        let sm = slot(&sums[i], p, "sum", i)?;
        let step = next_step(&steps[i])?;
        step_vals.push(step);
        let clr = o.lr / (1.0 + (step - 1.0) * o.lr_decay);
        jobs.push((dt, [ps.addr(), g.addr(), sm.addr()], clr));
        written.push(ps);
        written.push(sm);
        reads.push(g);
    }
    commit_steps(steps, &step_vals);
    let lens: Vec<usize> = params.iter().map(|p| p.numel()).collect();
    let o = *o;
    let addrs: Vec<usize> = jobs.iter().map(|j| j.1[0]).collect();
    run(&lens, &addrs, |j, s, e| {
        let (dt, a, clr) = jobs[j];
        match dt {
            DType::F32 => kernel::<f32>(&o, a, clr, s, e),
            _ => kernel::<f64>(&o, a, clr, s, e),
        }
    });
    finish(&written);
    drop(reads);
    Ok(())
}

super::fma_dispatch!(kernel, kernel_fma, body, <>, (o: &AdagradOptions, a: [usize; 3], clr: f64, s: usize, e: usize));

#[inline(always)]
fn body<T: Real>(o: &AdagradOptions, a: [usize; 3], clr: f64, s: usize, e: usize) {
    // SAFETY: contiguous distinct buffers of the parameter's numel; each task owns s..e.
    let (p, g, sm) = unsafe {
        (
            seg::<T>(a[0], s, e),
            seg::<T>(a[1], s, e),
            seg::<T>(a[2], s, e),
        )
    };
    let wd = T::of(o.weight_decay);
    let eps = T::of(o.eps);
    let neg_clr = T::of(-clr);
    for k in 0..p.len() {
        let mut gk = if o.maximize { -g[k] } else { g[k] };
        if o.weight_decay != 0.0 {
            gk = wd.fma(p[k], gk); // grad.add(param, alpha=weight_decay)
        }
        let sk = gk.fma(gk, sm[k]); // state_sum.addcmul_(grad, grad, value=1)
        sm[k] = sk;
        let std = sk.sqrt() + eps;
        p[k] = p[k] + neg_clr * gk / std; // param.addcdiv_(grad, std, value=-clr)
    }
}
