//! Optimizer steps: each updates every parameter of a group in place in one call, with torch's formulas.
//!
//! The formulas follow torch's `foreach=False` (single-tensor) code paths: every Python-level
//! scalar is computed in f64 exactly as torch's Python does, then cast to the tensor's dtype,
//! and each elementwise op rounds in the tensor's dtype in torch's order.

pub mod adagrad;
pub mod adam;
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
    #[inline(always)]
    fn of(v: f64) -> Self {
        Self::from_f64(v)
    }
    /// torch's `max` (NaN propagates).
    #[inline(always)]
    fn maxn(self, o: Self) -> Self {
        if self != self || o != o {
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
}

/// torch's `lerp` for a scalar weight (its two-sided formula keeps the ends exact).
#[inline(always)]
pub fn lerp<T: Real>(a: T, b: T, w: T) -> T {
    if w.abs() < T::of(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::one() - w)
    }
}

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

/// Increments a `step` tensor (torch keeps it as a 0-d float32) and returns the new value.
pub(crate) fn bump_step(s: &Tensor) -> Result<f64> {
    if s.numel() != 1 {
        return Err(Error::runtime(
            "optimizer: a 'step' state must be a one-element tensor",
        ));
    }
    let v = match s.dtype() {
        DType::F32 => {
            let v = s.get_flat::<f32>(0) + 1.0;
            // SAFETY: one element at the tensor's offset inside its storage.
            unsafe { *s.ptr::<f32>() = v };
            v as f64
        }
        DType::F64 => {
            let v = s.get_flat::<f64>(0) + 1.0;
            // SAFETY: as above.
            unsafe { *s.ptr::<f64>() = v };
            v
        }
        d => {
            return Err(Error::runtime(format!(
                "optimizer: a 'step' state must be a float tensor, got {}",
                d.name()
            )))
        }
    };
    s.storage().bump_version();
    Ok(v)
}

/// Elements per task: large enough that a task outweighs the scheduling.
const CHUNK: usize = 1 << 14;

/// Runs `f(job, start, end)` over every element range of every job (job `j` has `lens[j]`
/// elements), entering the thread pool once when the total work is large. Updates are
/// elementwise, so the result does not depend on the split.
pub(crate) fn run(lens: &[usize], f: impl Fn(usize, usize, usize) + Sync + Send) {
    let total: usize = lens.iter().sum();
    if total < threads::PAR_MIN_ELEMS || threads::num_threads() == 1 {
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
    use rayon::prelude::*;
    threads::pool().install(|| tasks.par_iter().for_each(|&(j, s, e)| f(j, s, e)));
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
