//! Optimizer steps: each updates every parameter of a group in place in one call, with torch's formulas.
//!
//! The formulas follow torch's `foreach=False` (single-tensor) code paths: every Python-level
//! scalar is computed in f64 exactly as torch's Python does, then cast to the tensor's dtype,
//! and each elementwise op rounds in the tensor's dtype in torch's order.

pub mod adagrad;
pub mod adam;
pub mod plan;
pub mod rmsprop;
pub mod sgd;

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::elementwise::copy_cast;
use crate::ops::copy::clone_raw;
use crate::tensor::Tensor;
use crate::threads;

/// The float types an optimizer updates.
pub trait Real:
    Element
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
{
    fn sqrt(self) -> Self;
    fn abs(self) -> Self;
    /// `self * a + b` with one rounding, as torch's vectorised `fmadd` kernels compute it.
    fn fma(self, a: Self, b: Self) -> Self;
    fn is_nan_(self) -> bool;
    #[inline(always)]
    fn of(v: f64) -> Self {
        Self::from_f64(v)
    }
    /// torch's `max` (NaN propagates).
    #[inline(always)]
    fn maxn(self, o: Self) -> Self {
        if self.is_nan_() || o.is_nan_() {
            Self::of(f64::NAN)
        } else if o > self {
            o
        } else {
            self
        }
    }
}
impl Real for f32 {
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32::abs(self)
    }
    #[inline(always)]
    fn fma(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
    #[inline(always)]
    fn is_nan_(self) -> bool {
        self.is_nan()
    }
}
impl Real for f64 {
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f64::abs(self)
    }
    #[inline(always)]
    fn fma(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
    #[inline(always)]
    fn is_nan_(self) -> bool {
        self.is_nan()
    }
}

/// torch's `lerp` for a scalar weight: its two-sided formula (which keeps the ends exact), with
/// the fused multiply-adds of its vectorised kernel.
#[inline(always)]
pub fn lerp<T: Real>(a: T, b: T, w: T) -> T {
    if w.abs() < T::of(0.5) {
        w.fma(b - a, a)
    } else {
        (-(b - a)).fma(T::one() - w, b)
    }
}

/// Whether fused multiply-add is a hardware instruction here: torch's CPU kernels round
/// `a + alpha * b`, `lerp` and `addcmul` once (FMA), so matching its trajectories bit for bit needs
/// FMA; the kernels are compiled twice, with and without the target feature, because without it
/// `mul_add` is a slow libm call that also stops vectorisation.
#[inline]
pub(crate) fn fma_ok() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("fma") && std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Defines `$name`, which runs the `#[inline(always)]` kernel `$body` compiled with AVX2+FMA when
/// the CPU has them, and the portable build otherwise.
macro_rules! fma_dispatch {
    ($name:ident, $fast:ident, $body:ident, <$($g:ident : $gt:ty),*>, ($($a:ident : $at:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2,fma")]
        unsafe fn $fast<T: Real, $(const $g: $gt),*>($($a: $at),*) {
            $body::<T, $($g),*>($($a),*)
        }
        fn $name<T: Real, $(const $g: $gt),*>($($a: $at),*) {
            #[cfg(target_arch = "x86_64")]
            {
                if super::fma_ok() {
                    // SAFETY: the CPU features were detected at run time.
                    return unsafe { $fast::<T, $($g),*>($($a),*) };
                }
            }
            $body::<T, $($g),*>($($a),*)
        }
    };
}
pub(crate) use fma_dispatch;

/// A tensor the kernel works on: contiguous memory, plus the original to write back to when the
/// caller's tensor was strided.
pub(crate) struct Slot {
    pub work: Tensor,
    orig: Option<Tensor>,
}

impl Slot {
    pub fn addr(&self) -> usize {
        self.work.data_ptr_addr()
    }
}

/// Checks one tensor of a parameter's family and makes a contiguous working copy when needed.
pub(crate) fn slot(t: &Tensor, like: &Tensor, what: &str, i: usize) -> Result<Slot> {
    check_like(t, like, what, i)?;
    if t.is_contiguous() {
        Ok(Slot {
            work: t.clone(),
            orig: None,
        })
    } else {
        Ok(Slot {
            work: clone_raw(t),
            orig: Some(t.clone()),
        })
    }
}

/// The dtype and shape checks of `slot`, with its errors.
pub(crate) fn check_like(t: &Tensor, like: &Tensor, what: &str, i: usize) -> Result<()> {
    if t.dtype() != like.dtype() {
        return Err(Error::runtime(format!(
            "optimizer: {what} of parameter {i} has dtype {} but the parameter is {}",
            t.dtype().name(),
            like.dtype().name()
        )));
    }
    if t.shape() != like.shape() {
        return Err(Error::runtime(format!(
            "optimizer: {what} of parameter {i} has shape {:?} but the parameter has shape {:?}",
            t.shape(),
            like.shape()
        )));
    }
    Ok(())
}

/// Writes strided slots back and bumps the version of every written storage.
pub(crate) fn finish(written: &[Slot]) {
    for s in written {
        match &s.orig {
            Some(o) => copy_cast(o, &s.work), // bumps o's version
            None => s.work.storage().bump_version(),
        }
    }
}

/// The parameter's dtype, which must be a float type.
pub(crate) fn float_dtype(p: &Tensor, i: usize) -> Result<DType> {
    match p.dtype() {
        d @ (DType::F32 | DType::F64) => Ok(d),
        d => Err(Error::runtime(format!(
            "optimizer: parameter {i} has dtype {}; only floating point parameters can be optimized",
            d.name()
        ))),
    }
}

pub(crate) fn check_len(n: usize, m: usize, what: &str) -> Result<()> {
    if n != m {
        return Err(Error::runtime(format!(
            "optimizer: got {n} parameters but {m} {what}"
        )));
    }
    Ok(())
}

/// The value a `step` tensor (torch keeps it as a 0-d float32) takes after this step.
///
/// Nothing is written yet: steps are committed only once every parameter of the group has been
/// validated, so a failing call leaves the optimizer state untouched.
pub(crate) fn next_step(s: &Tensor) -> Result<f64> {
    if s.numel() != 1 {
        return Err(Error::runtime(
            "optimizer: a 'step' state must be a one-element tensor",
        ));
    }
    match s.dtype() {
        DType::F32 => Ok((s.get_flat::<f32>(0) + 1.0) as f64),
        DType::F64 => Ok(s.get_flat::<f64>(0) + 1.0),
        d => Err(Error::runtime(format!(
            "optimizer: a 'step' state must be a float tensor, got {}",
            d.name()
        ))),
    }
}

/// Writes the step values computed by `next_step`.
pub(crate) fn commit_steps(steps: &[Tensor], values: &[f64]) {
    for (s, &v) in steps.iter().zip(values) {
        match s.dtype() {
            // SAFETY: one element at the tensor's offset inside its storage (checked by next_step).
            DType::F32 => unsafe { *s.ptr::<f32>() = v as f32 },
            _ => unsafe { *s.ptr::<f64>() = v },
        }
        s.storage().bump_version();
    }
}

/// Elements per task: large enough that a task outweighs the scheduling.
const CHUNK: usize = 1 << 14;

/// Runs `f(job, start, end)` over every element range of every job (job `j` has `lens[j]`
/// elements), entering the thread pool once when the total work is large. Updates are
/// elementwise, so the result does not depend on the split.
///
/// `params` are the parameters' data addresses: when one appears twice (torch warns about
/// duplicate parameters but still updates them twice), the jobs run one after another so no two
/// threads ever write the same memory.
pub(crate) fn run(lens: &[usize], params: &[usize], f: impl Fn(usize, usize, usize) + Sync + Send) {
    let total: usize = lens.iter().sum();
    let mut sorted: smallvec::SmallVec<[usize; 16]> =
        params.iter().copied().filter(|&a| a != 0).collect();
    sorted.sort_unstable();
    let duplicated = sorted.windows(2).any(|w| w[0] == w[1]);
    if total < threads::PAR_MIN_ELEMS || threads::num_threads() == 1 || duplicated {
        for (j, &n) in lens.iter().enumerate() {
            if n > 0 {
                f(j, 0, n);
            }
        }
        return;
    }
    let mut tasks = Vec::new();
    for (j, &n) in lens.iter().enumerate() {
        let mut s = 0;
        while s < n {
            let e = (s + CHUNK).min(n);
            tasks.push((j, s, e));
            s = e;
        }
    }
    threads::run_tasks(tasks.len(), |t| {
        let (j, s, e) = tasks[t];
        f(j, s, e)
    });
}

/// A mutable slice of `len` elements at `addr` from `start`.
///
/// # Safety
/// `addr` must point at a live contiguous buffer of at least `end` elements of `T`, and no other
/// task may touch `start..end` of it concurrently.
#[inline(always)]
#[allow(clippy::mut_from_ref)]
pub(crate) unsafe fn seg<'a, T>(addr: usize, start: usize, end: usize) -> &'a mut [T] {
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts_mut((addr as *mut T).add(start), end - start) }
}

#[cfg(test)]
mod tests {
    use super::adam::{adam_step, AdamOptions};
    use super::sgd::{sgd_step, SgdOptions};
    use crate::tensor::Tensor;

    fn t64(v: &[f64]) -> Tensor {
        Tensor::from_vec(v.to_vec(), &[v.len()]).unwrap()
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // After one step exp_avg/sqrt(exp_avg_sq) bias-corrected is sign(g): p -= lr * sign(g) (up to eps).
        let p = t64(&[1.0, -1.0, 0.5]);
        let g = t64(&[0.3, -2.0, 0.0]);
        let (m, v, s) = (
            t64(&[0.0; 3]),
            t64(&[0.0; 3]),
            Tensor::from_vec(vec![0.0f32], &[]).unwrap(),
        );
        let o = AdamOptions {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
        };
        adam_step(
            std::slice::from_ref(&p),
            &[g],
            std::slice::from_ref(&m),
            &[v],
            &[],
            std::slice::from_ref(&s),
            &o,
        )
        .unwrap();
        let got = p.as_slice::<f64>();
        assert!((got[0] - 0.9).abs() < 1e-7 && (got[1] + 0.9).abs() < 1e-7 && got[2] == 0.5);
        assert_eq!(s.get_flat::<f32>(0), 1.0);
        assert!((m.as_slice::<f64>()[0] - 0.03).abs() < 1e-15);
    }

    #[test]
    fn sgd_momentum_and_errors_leave_state_untouched() {
        let p = t64(&[1.0, 2.0]);
        let o = SgdOptions {
            lr: 0.5,
            momentum: 0.9,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        };
        let bufs = sgd_step(std::slice::from_ref(&p), &[t64(&[1.0, 1.0])], &[None], &o).unwrap();
        assert_eq!(p.as_slice::<f64>(), &[0.5, 1.5]);
        let b = bufs[0].clone().unwrap();
        sgd_step(
            std::slice::from_ref(&p),
            &[t64(&[1.0, 1.0])],
            &[Some(b.clone())],
            &o,
        )
        .unwrap();
        // buf = 0.9 * 1 + 1 = 1.9; p = 0.5 - 0.95
        assert_eq!(b.as_slice::<f64>(), &[1.9, 1.9]);
        assert!((p.as_slice::<f64>()[0] + 0.45).abs() < 1e-15);
        // a mismatched grad is an error and changes nothing
        let err = sgd_step(
            std::slice::from_ref(&p),
            &[t64(&[1.0])],
            &[Some(b.clone())],
            &o,
        )
        .unwrap_err();
        assert!(err.msg.contains("shape"));
        assert_eq!(b.as_slice::<f64>(), &[1.9, 1.9]);
    }

    #[test]
    fn strided_param_is_updated_in_place() {
        let base = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
        let pt = base.view_parts(
            [2, 2].into_iter().collect(),
            [1isize, 2].into_iter().collect(),
            0,
        );
        let g = Tensor::from_vec(vec![1.0f32, 1.0, 1.0, 1.0], &[2, 2]).unwrap();
        let o = SgdOptions {
            lr: 1.0,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
        };
        let v0 = base.storage().version();
        sgd_step(&[pt], &[g], &[], &o).unwrap();
        assert_eq!(base.as_slice::<f32>(), &[0.0, 1.0, 2.0, 3.0]);
        assert!(base.storage().version() > v0);
    }
}
