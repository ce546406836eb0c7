//! Reshaping ops with backward: flip, roll, repeat/tile, tril/triu, chunk/split/unbind, movedim, unflatten, diag/diagonal/trace.

use crate::autograd::needs_grad;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::ops::copy::{clone, clone_raw};
use crate::ops::elementwise::{check_inplace, commit_inplace, record_fn};
use crate::ops::join::cat;
use crate::ops::movement::{expand, narrow, permute, reshape, reshape_usize, select, slice};
use crate::shape::{self, normalize_dim, Dims, Strides};
use crate::tensor::Tensor;
use smallvec::SmallVec;

fn dim_list(dims: &[i64], n: usize) -> Result<Vec<usize>> {
    let mut seen = vec![false; n.max(1)];
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let d = normalize_dim(d, n)?;
        if seen[d] {
            return Err(Error::runtime(format!(
                "dim {d} appears multiple times in the list of dims"
            )));
        }
        seen[d] = true;
        out.push(d);
    }
    Ok(out)
}

/// `x.flip(dims)`: a copy read through negated strides.
fn flip_eager(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let ds = dim_list(dims, x.ndim())?;
    let mut strides: Strides = SmallVec::from_slice(x.strides());
    let mut off = x.offset() as isize;
    if x.ndim() > 0 {
        for &d in &ds {
            let s = x.shape()[d];
            if s > 0 {
                off += (s as isize - 1) * strides[d];
                strides[d] = -strides[d];
            }
        }
    }
    let out = if x.numel() == 0 {
        Tensor::zeros(x.shape(), x.dtype())
    } else {
        clone_raw(&x.view_parts(SmallVec::from_slice(x.shape()), strides, off as usize))
    };
    if out.dtype().is_float() && needs_grad(&[x]) {
        let dims = dims.to_vec();
        // flipping is its own inverse
        record_fn(&out, &[x], "FlipBackward0", move |g| {
            Ok(vec![Some(flip(g, &dims)?)])
        });
    }
    Ok(out)
}

pub fn fliplr(x: &Tensor) -> Result<Tensor> {
    if x.ndim() < 2 {
        return Err(Error::runtime("Input must be >= 2-d."));
    }
    flip(x, &[1])
}

pub fn flipud(x: &Tensor) -> Result<Tensor> {
    if x.ndim() < 1 {
        return Err(Error::runtime("Input must be >= 1-d."));
    }
    flip(x, &[0])
}

/// `x.roll(shifts, dims)`: two slices swapped per rolled dim (differentiable through cat).
fn roll_eager(x: &Tensor, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
    if dims.is_empty() {
        if shifts.len() != 1 {
            return Err(Error::runtime(format!(
                "shifts and dimensions must align. shifts: {}, dims:0",
                shifts.len()
            )));
        }
        let flat = reshape(x, &[-1])?;
        let r = roll(&flat, shifts, &[0])?;
        return reshape_usize(&r, x.shape());
    }
    if shifts.len() != dims.len() {
        return Err(Error::runtime(format!(
            "shifts and dimensions must align. shifts: {}, dims:{}",
            shifts.len(),
            dims.len()
        )));
    }
    let mut cur = x.clone();
    for (&s, &d) in shifts.iter().zip(dims) {
        let d = normalize_dim(d, x.ndim())?;
        let n = x.shape()[d] as i64;
        if n == 0 {
            continue;
        }
        let r = s.rem_euclid(n);
        if r == 0 {
            continue;
        }
        let a = narrow(&cur, d as i64, n - r, r)?;
        let b = narrow(&cur, d as i64, 0, n - r)?;
        cur = cat(&[a, b], d as i64)?;
    }
    if cur.same(x) {
        return clone(x);
    }
    Ok(cur)
}

/// `x.repeat(*sizes)`: expand an interleaved view, then materialise it.
fn repeat_eager(x: &Tensor, reps: &[i64]) -> Result<Tensor> {
    if reps.len() < x.ndim() {
        return Err(Error::runtime(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor",
        ));
    }
    let lead = reps.len() - x.ndim();
    let padded: Vec<usize> = std::iter::repeat_n(1, lead)
        .chain(x.shape().iter().copied())
        .collect();
    let mut result: Vec<i64> = Vec::with_capacity(reps.len());
    for (i, &r) in reps.iter().enumerate() {
        result.push(r.saturating_mul(padded[i] as i64));
    }
    if reps.iter().any(|&r| r < 0) {
        return Err(Error::runtime(format!(
            "Trying to create tensor with negative dimension {}: [{}]",
            result.iter().find(|&&v| v < 0).copied().unwrap_or(-1),
            result
                .iter()
                .map(|v| v.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut inter = Vec::with_capacity(2 * reps.len());
    let mut big = Vec::with_capacity(2 * reps.len());
    for (i, &r) in reps.iter().enumerate() {
        inter.extend([1usize, padded[i]]);
        big.extend([r as usize, padded[i]]);
    }
    let total: Vec<usize> = result.iter().map(|&v| v as usize).collect();
    shape::numel(&total); // sizes are bounded by the expand below
    let v = reshape_usize(x, &inter)?;
    let e = expand(&v, &big)?;
    let c = clone(&e)?;
    reshape_usize(&c, &total)
}

/// `x.tile(dims)`: `repeat` with missing leading reps taken as 1.
pub fn tile(x: &Tensor, reps: &[i64]) -> Result<Tensor> {
    let mut r: Vec<i64> = vec![1; x.ndim().saturating_sub(reps.len())];
    r.extend_from_slice(reps);
    repeat(x, &r)
}

/// `tril` (lower = true) / `triu`: zero the elements above / below diagonal `k`.
pub fn tri(x: &Tensor, k: i64, lower: bool) -> Result<Tensor> {
    let name = if lower { "tril" } else { "triu" };
    if x.ndim() < 2 {
        return Err(Error::runtime(format!(
            "{name}: input tensor must have at least 2 dimensions"
        )));
    }
    let out = clone_raw(x);
    let (r, c) = (x.shape()[x.ndim() - 2], x.shape()[x.ndim() - 1]);
    let block = r * c;
    if block > 0 {
        crate::dispatch!(out.dtype(), T => {
            let data = out.as_mut_slice::<T>();
            for m in data.chunks_mut(block) {
                for i in 0..r {
                    for j in 0..c {
                        let rel = j as i64 - i as i64;
                        let keep = if lower { rel <= k } else { rel >= k };
                        if !keep {
                            m[i * c + j] = <T as crate::dtype::Element>::zero();
                        }
                    }
                }
            }
        });
    }
    if out.dtype().is_float() && needs_grad(&[x]) {
        // the gradient is masked the same way
        let n = if lower {
            "TrilBackward0"
        } else {
            "TriuBackward0"
        };
        record_fn(&out, &[x], n, move |g| Ok(vec![Some(tri(g, k, lower)?)]));
    }
    Ok(out)
}

/// `x.tril_(k)` / `x.triu_(k)` in place.
pub fn tri_(x: &Tensor, k: i64, lower: bool) -> Result<()> {
    check_inplace(x)?;
    let v = tri(x, k, lower)?;
    commit_inplace(x, &v)
}

/// `x.split(split_size, dim)`: views of `split_size` along `dim` (the last may be smaller).
fn split_eager(x: &Tensor, size: i64, dim: i64) -> Result<Vec<Tensor>> {
    if x.ndim() == 0 {
        return Err(Error::runtime(
            "split expects at least a 1-dimensional tensor",
        ));
    }
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape()[d];
    if size < 0 {
        return Err(Error::runtime(format!(
            "split expects split_size be non-negative, but got split_size={size}"
        )));
    }
    let size = size as usize;
    if size == 0 && n != 0 {
        return Err(Error::runtime(format!(
            "split_size can only be 0 if dimension size is 0, but got dimension size of {n}"
        )));
    }
    let count = if size == 0 {
        1
    } else {
        n.div_ceil(size).max(1)
    };
    (0..count)
        .map(|i| slice(x, d, i * size, size.min(n - i * size), 1))
        .collect()
}

/// `x.split([s0, s1, ...], dim)`.
pub fn split_with_sizes(x: &Tensor, sizes: &[i64], dim: i64) -> Result<Vec<Tensor>> {
    if x.ndim() == 0 {
        return Err(Error::runtime(
            "split expects at least a 1-dimensional tensor",
        ));
    }
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape()[d] as i64;
    if sizes.iter().any(|&s| s < 0) || sizes.iter().sum::<i64>() != n {
        return Err(Error::runtime(format!(
            "split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at dimension {d}), but \
             got split_sizes=[{}]",
            sizes.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut at = 0usize;
    let mut out = Vec::with_capacity(sizes.len());
    for &s in sizes {
        out.push(slice(x, d, at, s as usize, 1)?);
        at += s as usize;
    }
    Ok(out)
}

/// `x.chunk(chunks, dim)`: `split` with size ceil(n / chunks).
fn chunk_eager(x: &Tensor, chunks: i64, dim: i64) -> Result<Vec<Tensor>> {
    if x.ndim() == 0 {
        return Err(Error::runtime(
            "chunk expects at least a 1-dimensional tensor",
        ));
    }
    if chunks <= 0 {
        return Err(Error::runtime(format!(
            "chunk expects `chunks` to be greater than 0, got: {chunks}"
        )));
    }
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape()[d] as i64;
    let size = (n + chunks - 1) / chunks;
    if size == 0 {
        // torch returns `chunks` empty views when the dim is empty
        return (0..chunks).map(|_| slice(x, d, 0, 0, 1)).collect();
    }
    split(x, size, dim)
}

/// `x.unbind(dim)`: one view per index.
fn unbind_eager(x: &Tensor, dim: i64) -> Result<Vec<Tensor>> {
    if x.ndim() == 0 {
        return Err(Error::index(
            "Dimension specified as 0 but tensor has no dimensions",
        ));
    }
    let d = normalize_dim(dim, x.ndim())?;
    (0..x.shape()[d])
        .map(|i| select(x, d as i64, i as i64))
        .collect()
}

/// `x.movedim(source, destination)`.
fn movedim_eager(x: &Tensor, src: &[i64], dst: &[i64]) -> Result<Tensor> {
    let n = x.ndim();
    let fmt = |v: &[i64]| {
        format!(
            "[{}]",
            v.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if src.len() != dst.len() {
        return Err(Error::runtime(format!(
            "movedim: Invalid source or destination dims: source ({} dims) should contain the same number of dims as \
             destination ({} dims)",
            fmt(src),
            fmt(dst)
        )));
    }
    let norm = |v: &[i64], what: &str| -> Result<Vec<usize>> {
        let mut out = Vec::new();
        for &d in v {
            let d = normalize_dim(d, n)?;
            if out.contains(&d) {
                return Err(Error::runtime(format!(
                    "movedim: repeated dim in `{what}` ({})",
                    fmt(v)
                )));
            }
            out.push(d);
        }
        Ok(out)
    };
    let (s, d) = (norm(src, "source")?, norm(dst, "destination")?);
    if n == 0 {
        return Ok(crate::ops::movement::alias_tracked(x));
    }
    let mut order: Vec<Option<usize>> = vec![None; n];
    for (&si, &di) in s.iter().zip(&d) {
        order[di] = Some(si);
    }
    let mut rest = (0..n).filter(|i| !s.contains(i));
    let perm: Vec<i64> = order
        .iter()
        .map(|o| o.or_else(|| rest.next()).unwrap_or(0) as i64)
        .collect();
    permute(x, &perm)
}

/// `x.unflatten(dim, sizes)`: one dim split into several (one size may be -1).
fn unflatten_eager(x: &Tensor, dim: i64, sizes: &[i64]) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Err(Error::runtime("unflatten: Cannot unflatten a 0-d tensor"));
    }
    let d = normalize_dim(dim, x.ndim())?;
    if sizes.is_empty() {
        return Err(Error::runtime("unflatten: sizes must be non-empty"));
    }
    let n = x.shape()[d] as i64;
    let known: i64 = sizes.iter().filter(|&&s| s != -1).product();
    let infer = sizes.iter().filter(|&&s| s == -1).count();
    let ok = match infer {
        0 => known == n,
        1 => known != 0 && n % known == 0,
        _ => false,
    };
    if !ok {
        return Err(Error::runtime(format!(
            "unflatten: Provided sizes [{}] don't multiply up to the size of dim {dim} ({n}) in the input tensor",
            sizes.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
        )));
    }
    let mut shape: Vec<i64> = x.shape()[..d].iter().map(|&v| v as i64).collect();
    shape.extend(sizes.iter().map(|&s| if s == -1 { n / known } else { s }));
    shape.extend(x.shape()[d + 1..].iter().map(|&v| v as i64));
    reshape(x, &shape)
}

/// Shape, strides and offset of the diagonal view (no autograd).
fn diagonal_parts(x: &Tensor, offset: i64, d1: usize, d2: usize) -> (Dims, Strides, usize) {
    let (s1, s2) = (x.shape()[d1] as i64, x.shape()[d2] as i64);
    let len = if offset >= 0 {
        s1.min(s2 - offset)
    } else {
        (s1 + offset).min(s2)
    }
    .max(0) as usize;
    let (st1, st2) = (x.strides()[d1], x.strides()[d2]);
    let mut off = x.offset() as isize;
    if len > 0 {
        off += if offset >= 0 {
            offset as isize * st2
        } else {
            -offset as isize * st1
        };
    }
    let mut shape: Dims = SmallVec::new();
    let mut strides: Strides = SmallVec::new();
    for i in 0..x.ndim() {
        if i != d1 && i != d2 {
            shape.push(x.shape()[i]);
            strides.push(x.strides()[i]);
        }
    }
    shape.push(len);
    strides.push(st1 + st2);
    (shape, strides, off as usize)
}

/// `x.diagonal(offset, dim1, dim2)`: a view.
pub fn diagonal(x: &Tensor, offset: i64, dim1: i64, dim2: i64) -> Result<Tensor> {
    let (d1, d2) = (
        normalize_dim(dim1, x.ndim())?,
        normalize_dim(dim2, x.ndim())?,
    );
    if d1 == d2 {
        return Err(Error::runtime(format!(
            "diagonal dimensions cannot be identical {dim1}, {dim2}"
        )));
    }
    let (shape, strides, off) = diagonal_parts(x, offset, d1, d2);
    let out = x.view_parts(shape, strides, off);
    if needs_grad(&[x]) {
        let in_shape = x.shape().to_vec();
        // the gradient lands on the same diagonal of a zero tensor
        record_fn(&out, &[x], "DiagonalBackward0", move |g| {
            let z = Tensor::zeros(&in_shape, g.dtype());
            let (s, st, o) = diagonal_parts(&z, offset, d1, d2);
            crate::kernels::elementwise::copy_cast(&z.view_parts(s, st, o), g);
            // the adjoint of writing the diagonal is reading it
            Ok(vec![Some(crate::ops::elementwise::linear_in_grad(
                z,
                g,
                "DiagonalBackwardBackward0",
                move |gg| diagonal(gg, offset, d1 as i64, d2 as i64),
            ))])
        });
    }
    Ok(out)
}

/// `torch.diag(x, diagonal)`: a vector to a matrix, or a matrix's diagonal (copied).
pub fn diag(x: &Tensor, k: i64) -> Result<Tensor> {
    match x.ndim() {
        1 => {
            let n = x.shape()[0] + k.unsigned_abs() as usize;
            let out = Tensor::zeros(&[n, n], x.dtype());
            let (s, st, o) = diagonal_parts(&out, k, 0, 1);
            crate::kernels::elementwise::copy_cast(&out.view_parts(s, st, o), x);
            if out.dtype().is_float() && needs_grad(&[x]) {
                // d diag(v)/dv reads the gradient's diagonal back
                record_fn(&out, &[x], "DiagEmbedBackward0", move |g| {
                    Ok(vec![Some(diagonal(g, k, 0, 1)?)])
                });
            }
            Ok(out)
        }
        2 => clone(&diagonal(x, k, 0, 1)?),
        n => Err(Error::runtime(format!(
            "diag(): Supports 1D or 2D tensors. Got {n}D"
        ))),
    }
}

/// `x.trace()`: the sum of the main diagonal of a matrix.
pub fn trace(x: &Tensor) -> Result<Tensor> {
    if x.ndim() != 2 {
        return Err(Error::runtime(format!(
            "trace: expected a matrix, but got tensor with dim {}",
            x.ndim()
        )));
    }
    crate::ops::reduce::sum(&diagonal(x, 0, 0, 1)?, None, false, None)
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `flip`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn flip(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = flip_eager(x, dims)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.to_vec();
        scope.record1("flip", &ins, &out, move |i| flip_eager(&i[0], &dims));
    }
    Ok(out)
}

/// `roll`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn roll(x: &Tensor, shifts: &[i64], dims: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = roll_eager(x, shifts, dims)?;
    if scope.on() {
        let ins = [x];
        let shifts = shifts.to_vec();
        let dims = dims.to_vec();
        scope.record1("roll", &ins, &out, move |i| {
            roll_eager(&i[0], &shifts, &dims)
        });
    }
    Ok(out)
}

/// `repeat`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn repeat(x: &Tensor, reps: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = repeat_eager(x, reps)?;
    if scope.on() {
        let ins = [x];
        let reps = reps.to_vec();
        scope.record1("repeat", &ins, &out, move |i| repeat_eager(&i[0], &reps));
    }
    Ok(out)
}

/// `split`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn split(x: &Tensor, size: i64, dim: i64) -> Result<Vec<Tensor>> {
    let scope = capture::scope();
    let out = split_eager(x, size, dim)?;
    if scope.on() {
        let ins = [x];
        let outs: Vec<&Tensor> = out.iter().collect();
        scope.record("split", &ins, &outs, move |i| split_eager(&i[0], size, dim));
    }
    Ok(out)
}

/// `chunk`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn chunk(x: &Tensor, chunks: i64, dim: i64) -> Result<Vec<Tensor>> {
    let scope = capture::scope();
    let out = chunk_eager(x, chunks, dim)?;
    if scope.on() {
        let ins = [x];
        let outs: Vec<&Tensor> = out.iter().collect();
        scope.record("chunk", &ins, &outs, move |i| {
            chunk_eager(&i[0], chunks, dim)
        });
    }
    Ok(out)
}

/// `unbind`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn unbind(x: &Tensor, dim: i64) -> Result<Vec<Tensor>> {
    let scope = capture::scope();
    let out = unbind_eager(x, dim)?;
    if scope.on() {
        let ins = [x];
        let outs: Vec<&Tensor> = out.iter().collect();
        scope.record("unbind", &ins, &outs, move |i| unbind_eager(&i[0], dim));
    }
    Ok(out)
}

/// `movedim`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn movedim(x: &Tensor, src: &[i64], dst: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = movedim_eager(x, src, dst)?;
    if scope.on() {
        let ins = [x];
        let src = src.to_vec();
        let dst = dst.to_vec();
        scope.record1("movedim", &ins, &out, move |i| {
            movedim_eager(&i[0], &src, &dst)
        });
    }
    Ok(out)
}

/// `unflatten`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn unflatten(x: &Tensor, dim: i64, sizes: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = unflatten_eager(x, dim, sizes)?;
    if scope.on() {
        let ins = [x];
        let sizes = sizes.to_vec();
        scope.record1("unflatten", &ins, &out, move |i| {
            unflatten_eager(&i[0], dim, &sizes)
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn basic_shape_ops() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        assert_eq!(
            flip(&x, &[1]).unwrap().as_slice::<f32>(),
            &[2.0, 1.0, 0.0, 5.0, 4.0, 3.0]
        );
        assert_eq!(
            roll(&x, &[1], &[]).unwrap().as_slice::<f32>(),
            &[5.0, 0.0, 1.0, 2.0, 3.0, 4.0]
        );
        assert_eq!(repeat(&x, &[1, 2]).unwrap().shape(), &[2, 6]);
        assert_eq!(
            tri(&x, 0, true).unwrap().as_slice::<f32>(),
            &[0.0, 0.0, 0.0, 3.0, 4.0, 0.0]
        );
        assert_eq!(chunk(&x, 2, 1).unwrap().len(), 2);
        assert_eq!(trace(&x).unwrap().as_slice::<f32>(), &[4.0]);
        assert_eq!(movedim(&x, &[0], &[1]).unwrap().shape(), &[3, 2]);
    }
}
