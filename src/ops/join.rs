//! Joining tensors with backward: cat, stack, hstack, vstack, dstack (and atleast_1d/2d/3d).

use crate::autograd::needs_grad;
use crate::dtype::promote;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::ops::elementwise::record_fn;
use crate::ops::movement::{reshape_usize, slice, unsqueeze};
use crate::shape::normalize_dim;
use crate::tensor::Tensor;

/// torch's legacy rule: 1-D empty tensors are skipped whatever the other tensors' shapes.
fn skipped(t: &Tensor) -> bool {
    t.ndim() == 1 && t.shape()[0] == 0
}

/// `torch.cat(tensors, dim)`: dtypes promote; sizes must match except along `dim`.
fn cat_eager(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    if ts.is_empty() {
        return Err(Error::value(
            "torch.cat(): expected a non-empty list of Tensors",
        ));
    }
    for (i, t) in ts.iter().enumerate() {
        if t.ndim() == 0 {
            return Err(Error::runtime(format!(
                "zero-dimensional tensor (at position {i}) cannot be concatenated"
            )));
        }
    }
    let dt = ts
        .iter()
        .skip(1)
        .fold(ts[0].dtype(), |acc, t| promote(acc, t.dtype()));
    let Some(r) = ts.iter().position(|t| !skipped(t)) else {
        normalize_dim(dim, 1)?;
        return Ok(Tensor::zeros(&[0], dt)).and_then(|o| finish(o, ts, 0, &[]));
    };
    let reference = &ts[r];
    let nd = reference.ndim();
    let d = normalize_dim(dim, nd)?;
    let mut out_shape = reference.shape().to_vec();
    out_shape[d] = 0;
    for (i, t) in ts.iter().enumerate() {
        if skipped(t) {
            continue;
        }
        if t.ndim() != nd {
            return Err(Error::runtime(format!(
                "Tensors must have same number of dimensions: got {nd} and {}",
                t.ndim()
            )));
        }
        for k in 0..nd {
            if k != d && t.shape()[k] != reference.shape()[k] {
                return Err(Error::runtime(format!(
                    "Sizes of tensors must match except in dimension {d}. Expected size {} but got size {} for \
                     tensor number {i} in the list.",
                    reference.shape()[k],
                    t.shape()[k]
                )));
            }
        }
        out_shape[d] = out_shape[d]
            .checked_add(t.shape()[d])
            .ok_or_else(|| Error::runtime("cat: the result is too large"))?;
    }
    let out = Tensor::zeros(&out_shape, dt);
    let mut starts = Vec::with_capacity(ts.len());
    let mut at = 0usize;
    {
        // The output is a fresh, untracked tensor: raw views of it are plain destinations.
        let raw = out.alias();
        for t in ts {
            starts.push(at);
            if skipped(t) {
                continue;
            }
            let len = t.shape()[d];
            if len > 0 {
                let dst = raw.view_parts(
                    {
                        let mut s: crate::shape::Dims = smallvec::SmallVec::from_slice(raw.shape());
                        s[d] = len;
                        s
                    },
                    smallvec::SmallVec::from_slice(raw.strides()),
                    (raw.offset() as isize + at as isize * raw.strides()[d]) as usize,
                );
                crate::kernels::elementwise::copy_cast(&dst, t);
            }
            at += len;
        }
    }
    finish(out, ts, d, &starts)
}

/// Records CatBackward0: each input's gradient is its slice of the output gradient.
fn finish(out: Tensor, ts: &[Tensor], d: usize, starts: &[usize]) -> Result<Tensor> {
    let refs: Vec<&Tensor> = ts.iter().collect();
    if out.dtype().is_float() && needs_grad(&refs) {
        let pieces: Vec<(Vec<usize>, bool, usize)> = ts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                (
                    t.shape().to_vec(),
                    skipped(t),
                    starts.get(i).copied().unwrap_or(0),
                )
            })
            .collect();
        // d cat/d x_i = the block of the gradient where x_i was copied
        record_fn(&out, &refs, "CatBackward0", move |g| {
            pieces
                .iter()
                .map(|(shape, skip, start)| {
                    if *skip {
                        Ok(Some(Tensor::zeros(shape, g.dtype())))
                    } else {
                        slice(g, d, *start, shape[d], 1).map(Some)
                    }
                })
                .collect()
        });
    }
    Ok(out)
}

/// `torch.stack(tensors, dim)`: equal shapes, joined along a new dim.
fn stack_eager(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    if ts.is_empty() {
        return Err(Error::runtime("stack expects a non-empty TensorList"));
    }
    let s0 = ts[0].shape();
    for (i, t) in ts.iter().enumerate() {
        if t.shape() != s0 {
            return Err(Error::runtime(format!(
                "stack expects each tensor to be equal size, but got {} at entry 0 and {} at entry {i}",
                fmt_list(s0),
                fmt_list(t.shape())
            )));
        }
    }
    let d = crate::shape::normalize_dim_insert(dim, s0.len())?;
    let us: Vec<Tensor> = ts
        .iter()
        .map(|t| unsqueeze(t, d as i64))
        .collect::<Result<_>>()?;
    cat(&us, d as i64)
}

fn fmt_list(s: &[usize]) -> String {
    format!(
        "[{}]",
        s.iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

pub fn atleast_1d(t: &Tensor) -> Result<Tensor> {
    if t.ndim() == 0 {
        reshape_usize(t, &[1])
    } else {
        Ok(t.clone())
    }
}

pub fn atleast_2d(t: &Tensor) -> Result<Tensor> {
    match t.ndim() {
        0 => reshape_usize(t, &[1, 1]),
        1 => unsqueeze(t, 0),
        _ => Ok(t.clone()),
    }
}

pub fn atleast_3d(t: &Tensor) -> Result<Tensor> {
    match t.ndim() {
        0 => reshape_usize(t, &[1, 1, 1]),
        1 => unsqueeze(&unsqueeze(t, 0)?, 2),
        2 => unsqueeze(t, 2),
        _ => Ok(t.clone()),
    }
}

fn each(ts: &[Tensor], f: fn(&Tensor) -> Result<Tensor>) -> Result<Vec<Tensor>> {
    ts.iter().map(f).collect()
}

/// `torch.hstack`: along dim 0 for 1-D inputs, dim 1 otherwise.
pub fn hstack(ts: &[Tensor]) -> Result<Tensor> {
    if ts.is_empty() {
        return Err(Error::runtime("hstack expects a non-empty TensorList"));
    }
    let v = each(ts, atleast_1d)?;
    let d = if v[0].ndim() == 1 { 0 } else { 1 };
    cat(&v, d)
}

pub fn vstack(ts: &[Tensor]) -> Result<Tensor> {
    if ts.is_empty() {
        return Err(Error::runtime("vstack expects a non-empty TensorList"));
    }
    cat(&each(ts, atleast_2d)?, 0)
}

pub fn dstack(ts: &[Tensor]) -> Result<Tensor> {
    if ts.is_empty() {
        return Err(Error::runtime("dstack expects a non-empty TensorList"));
    }
    cat(&each(ts, atleast_3d)?, 2)
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `cat`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn cat(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = cat_eager(ts, dim)?;
    if scope.on() {
        let ins: Vec<&Tensor> = ts.iter().collect();
        let ts_n = ts.len();
        scope.record1("cat", &ins, &out, move |i| cat_eager(&i[..ts_n], dim));
    }
    Ok(out)
}

/// `stack`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn stack(ts: &[Tensor], dim: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = stack_eager(ts, dim)?;
    if scope.on() {
        let ins: Vec<&Tensor> = ts.iter().collect();
        let ts_n = ts.len();
        scope.record1("stack", &ins, &out, move |i| stack_eager(&i[..ts_n], dim));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn cat_and_stack() {
        let a = Tensor::from_vec(vec![1f32, 2.0], &[1, 2]).unwrap();
        let b = Tensor::from_vec(vec![3f32, 4.0, 5.0, 6.0], &[2, 2]).unwrap();
        let c = cat(&[a.clone(), b.clone()], 0).unwrap();
        assert_eq!(c.shape(), &[3, 2]);
        assert_eq!(c.as_slice::<f32>(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(cat(&[a.clone(), b.clone()], 1).is_err());
        let s = stack(&[a.clone(), a.clone()], 1).unwrap();
        assert_eq!(s.shape(), &[1, 2, 2]);
    }
}
