//! Copies and casts: clone, contiguous, to(dtype), copy_.

use crate::autograd::needs_grad;
use crate::dtype::DType;
use crate::error::Result;
use crate::graph::capture;
use crate::kernels::elementwise::{cast, map1};
use crate::ops::elementwise::record_fn;
use crate::tensor::Tensor;

/// A contiguous copy with no autograd.
pub fn clone_raw(x: &Tensor) -> Tensor {
    crate::dispatch!(x.dtype(), T => map1::<T, T>(x, |v| v))
}

impl Tensor {
    /// A contiguous copy, untracked.
    pub fn deep_clone(&self) -> Tensor {
        clone_raw(self)
    }
    /// This tensor when already contiguous, else a contiguous copy; untracked (for kernels).
    pub fn contiguous_raw(&self) -> Tensor {
        if self.is_contiguous() {
            self.clone()
        } else {
            clone_raw(self)
        }
    }
    /// Casts into a new contiguous tensor (always a copy), untracked.
    pub fn to_dtype(&self, dt: DType) -> Tensor {
        if dt == self.dtype() {
            return clone_raw(self);
        }
        crate::dispatch!(self.dtype(), S => crate::dispatch!(dt, D => map1::<S, D>(self, cast::<S, D>)))
    }
}

/// `x.clone()`: a copy that stays in the graph.
fn clone_eager(x: &Tensor) -> Result<Tensor> {
    let out = clone_raw(x);
    if needs_grad(&[x]) {
        // d clone(x)/dx = 1
        record_fn(&out, &[x], "CloneBackward0", |g| Ok(vec![Some(g.clone())]));
    }
    Ok(out)
}

/// `x.contiguous()`: x itself when already contiguous.
fn contiguous_eager(x: &Tensor) -> Result<Tensor> {
    if x.is_contiguous() {
        Ok(x.clone())
    } else {
        clone(x)
    }
}

/// `x.to(dtype)`: x itself when the dtype matches; gradients flow back cast to x's dtype.
fn to_dtype_eager(x: &Tensor, dt: DType, copy: bool) -> Result<Tensor> {
    if dt == x.dtype() {
        return if copy { clone(x) } else { Ok(x.clone()) };
    }
    let out = x.to_dtype(dt);
    if dt.is_float() && x.dtype().is_float() && needs_grad(&[x]) {
        // d cast(x)/dx = 1 (the engine casts the gradient back to x's dtype)
        record_fn(&out, &[x], "ToCopyBackward0", |g| Ok(vec![Some(g.clone())]));
    }
    Ok(out)
}

/// `dst.copy_(src)`: broadcast, cast, and (when recorded) make dst's history that of src.
fn copy_eager(dst: &Tensor, src: &Tensor) -> Result<()> {
    crate::ops::elementwise::check_inplace(dst)?;
    let b = crate::shape::broadcast_shapes(dst.shape(), src.shape())?;
    if b.as_slice() != dst.shape() {
        return Err(crate::error::Error::runtime(format!(
            "output with shape {} doesn't match the broadcast shape {}",
            crate::shape::fmt_shape(dst.shape()),
            crate::shape::fmt_shape(&b)
        )));
    }
    let recording =
        crate::autograd::is_grad_enabled() && (src.requires_grad() || dst.requires_grad());
    if recording && dst.dtype().is_float() {
        // The copied values, as a differentiable function of src shaped like dst.
        let v = clone(&crate::ops::movement::expand(src, dst.shape())?)?;
        let v = if v.dtype() != dst.dtype() {
            to_dtype(&v, dst.dtype(), false)?
        } else {
            v
        };
        return crate::ops::elementwise::commit_inplace(dst, &v);
    }
    let src = if src.shares_storage(dst) {
        clone_raw(src)
    } else {
        src.clone()
    };
    crate::kernels::elementwise::copy_cast(dst, &src);
    Ok(())
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `clone`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn clone(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = clone_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("clone", &ins, &out, move |i| clone_eager(&i[0]));
    }
    Ok(out)
}

/// `contiguous`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn contiguous(x: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = contiguous_eager(x)?;
    if scope.on() {
        let ins = [x];
        scope.record1("contiguous", &ins, &out, move |i| contiguous_eager(&i[0]));
    }
    Ok(out)
}

/// `to_dtype`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn to_dtype(x: &Tensor, dt: DType, copy: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = to_dtype_eager(x, dt, copy)?;
    if scope.on() {
        let ins = [x];
        scope.record1("to_dtype", &ins, &out, move |i| {
            to_dtype_eager(&i[0], dt, copy)
        });
    }
    Ok(out)
}

/// `copy_`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn copy_(dst: &Tensor, src: &Tensor) -> Result<()> {
    let scope = capture::scope_mut(&[dst]);
    copy_eager(dst, src)?;
    if scope.on() {
        let ins = [dst, src];
        scope.record("copy_", &ins, &[dst], move |i| {
            copy_eager(&i[0], &i[1])?;
            Ok(vec![i[0].clone()])
        });
    }
    Ok(())
}
