//! View ops (sharing storage) and their backward: view/reshape, permute, expand, squeeze, narrow, select.

use crate::autograd::needs_grad;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::ops::elementwise::record_fn;
use crate::shape::{self, normalize_dim, Dims, Strides};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// `x.view(shape)`: fails when the strides cannot express the new shape.
fn view_eager(x: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let new_shape = shape::infer_size(sizes, x.numel())?;
    let Some(strides) = shape::view_strides(x.shape(), x.strides(), &new_shape) else {
        return Err(Error::runtime(
            "view size is not compatible with input tensor's size and stride (at least one dimension spans \
             across two contiguous subspaces). Use .reshape(...) instead.",
        ));
    };
    Ok(view_of(x, new_shape, strides, x.offset(), "ViewBackward0"))
}

/// `x.reshape(shape)`: a view when possible, else a copy.
fn reshape_eager(x: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let new_shape = shape::infer_size(sizes, x.numel())?;
    match shape::view_strides(x.shape(), x.strides(), &new_shape) {
        Some(strides) => Ok(view_of(x, new_shape, strides, x.offset(), "ViewBackward0")),
        None => {
            let c = crate::ops::copy::clone(x)?;
            let st = shape::contiguous_strides(&new_shape);
            Ok(view_of(&c, new_shape, st, 0, "UnsafeViewBackward0"))
        }
    }
}

fn reshape_usize_eager(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    reshape(x, &s)
}

/// A view of `x` recorded in autograd: the gradient is reshaped back (all our views are
/// reshapes, permutations, expansions or slices — each gets its own backward below).
fn view_of(x: &Tensor, shape: Dims, strides: Strides, offset: usize, name: &'static str) -> Tensor {
    let out = x.view_parts(shape, strides, offset);
    if needs_grad(&[x]) {
        let in_shape: Vec<usize> = x.shape().to_vec();
        // d view(x)/dx: the same elements, so reshape the gradient
        record_fn(&out, &[x], name, move |g| {
            Ok(vec![Some(reshape_usize(
                &g.contiguous_or_clone()?,
                &in_shape,
            )?)])
        });
    }
    out
}

impl Tensor {
    fn contiguous_or_clone(&self) -> Result<Tensor> {
        crate::ops::copy::contiguous(self)
    }
}

fn permute_eager(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let n = x.ndim();
    if dims.len() != n {
        return Err(Error::runtime(format!(
            "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the \
             desired ordering of dimensions i.e. input.dim() = {n} is not equal to len(dims) = {}",
            dims.len()
        )));
    }
    let mut perm: Vec<usize> = Vec::with_capacity(n);
    let mut seen = vec![false; n];
    for &d in dims {
        let d = normalize_dim(d, n)?;
        if seen[d] {
            return Err(Error::runtime("permute(): duplicate dims are not allowed."));
        }
        seen[d] = true;
        perm.push(d);
    }
    let shape: Dims = perm.iter().map(|&d| x.shape()[d]).collect();
    let strides: Strides = perm.iter().map(|&d| x.strides()[d]).collect();
    let out = x.view_parts(shape, strides, x.offset());
    if needs_grad(&[x]) {
        let mut inv = vec![0i64; n];
        for (i, &p) in perm.iter().enumerate() {
            inv[p] = i as i64;
        }
        // the gradient is permuted back with the inverse permutation
        record_fn(&out, &[x], "PermuteBackward0", move |g| {
            Ok(vec![Some(permute(g, &inv)?)])
        });
    }
    Ok(out)
}

fn transpose_eager(x: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    let n = x.ndim();
    if n == 0 {
        normalize_dim(d0, 0)?;
        normalize_dim(d1, 0)?;
        return Ok(alias_tracked(x));
    }
    let (a, b) = (normalize_dim(d0, n)?, normalize_dim(d1, n)?);
    let mut perm: Vec<i64> = (0..n as i64).collect();
    perm.swap(a, b);
    let mut shape: Dims = SmallVec::from_slice(x.shape());
    let mut strides: Strides = SmallVec::from_slice(x.strides());
    shape.swap(a, b);
    strides.swap(a, b);
    let out = x.view_parts(shape, strides, x.offset());
    if needs_grad(&[x]) {
        let (a, b) = (a as i64, b as i64);
        // swapping the same two dims undoes it
        record_fn(&out, &[x], "TransposeBackward0", move |g| {
            Ok(vec![Some(transpose(g, a, b)?)])
        });
    }
    Ok(out)
}

/// A view with the same layout, still in the graph (torch's `AliasBackward0`).
fn alias_tracked_eager(x: &Tensor) -> Tensor {
    view_of(
        x,
        SmallVec::from_slice(x.shape()),
        SmallVec::from_slice(x.strides()),
        x.offset(),
        "AliasBackward0",
    )
}

/// `x.expand(sizes)`: -1 keeps a size; new leading dims may be added.
fn expand_i64_eager(x: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let n = x.ndim();
    if sizes.len() < n {
        return Err(Error::runtime(format!(
            "expand({}{{{}}}, size=[{}]): the number of sizes provided ({}) must be greater or equal to the \
             number of dimensions in the tensor ({})",
            "torch.FloatTensor",
            shape::fmt_shape(x.shape()),
            sizes.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
            sizes.len(),
            n
        )));
    }
    let lead = sizes.len() - n;
    let mut shape: Dims = SmallVec::with_capacity(sizes.len());
    let mut strides: Strides = SmallVec::with_capacity(sizes.len());
    for (i, &s) in sizes.iter().enumerate() {
        if i < lead {
            if s < 0 {
                return Err(Error::runtime(format!(
                    "The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing dimension {i}"
                )));
            }
            shape.push(s as usize);
            strides.push(0);
        } else {
            let (cur, st) = (x.shape()[i - lead], x.strides()[i - lead]);
            if s == -1 || s as usize == cur {
                shape.push(cur);
                strides.push(st);
            } else if cur == 1 && s >= 0 {
                shape.push(s as usize);
                strides.push(0);
            } else {
                return Err(Error::runtime(format!(
                    "The expanded size of the tensor ({s}) must match the existing size ({cur}) at non-singleton \
                     dimension {i}.  Target sizes: [{}].  Tensor sizes: [{}]",
                    sizes.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
                    x.shape().iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    let out = x.view_parts(shape, strides, x.offset());
    if needs_grad(&[x]) {
        // expansion repeats elements: the engine sums the gradient back to x's shape
        record_fn(&out, &[x], "ExpandBackward0", |g| Ok(vec![Some(g.clone())]));
    }
    Ok(out)
}

fn expand_eager(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let s: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    expand_i64(x, &s)
}

fn unsqueeze_eager(x: &Tensor, dim: i64) -> Result<Tensor> {
    let d = shape::normalize_dim_insert(dim, x.ndim())?;
    let mut shape: Dims = SmallVec::from_slice(x.shape());
    let mut strides: Strides = SmallVec::from_slice(x.strides());
    let st = if d < x.ndim() {
        strides[d] * shape[d] as isize
    } else {
        1
    };
    shape.insert(d, 1);
    strides.insert(d, st);
    Ok(view_of(x, shape, strides, x.offset(), "UnsqueezeBackward0"))
}

/// `squeeze(dims)`: removes the given size-1 dims (all size-1 dims when `dims` is None).
fn squeeze_eager(x: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    let n = x.ndim();
    let mut drop = vec![false; n];
    match dims {
        None => {
            for (i, &s) in x.shape().iter().enumerate() {
                drop[i] = s == 1;
            }
        }
        Some(ds) => {
            for &d in ds {
                let d = normalize_dim(d, n)?;
                if n > 0 && x.shape()[d] == 1 {
                    drop[d] = true;
                }
            }
        }
    }
    let shape: Dims = (0..n).filter(|&i| !drop[i]).map(|i| x.shape()[i]).collect();
    let strides: Strides = (0..n)
        .filter(|&i| !drop[i])
        .map(|i| x.strides()[i])
        .collect();
    Ok(view_of(x, shape, strides, x.offset(), "SqueezeBackward0"))
}

/// `narrow(dim, start, length)`: a slice of one dim.
fn narrow_eager(x: &Tensor, dim: i64, start: i64, length: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Err(Error::runtime(
            "narrow() cannot be applied to a 0-dim tensor.",
        ));
    }
    let d = normalize_dim(dim, x.ndim())?;
    let size = x.shape()[d] as i64;
    let start = if start < 0 { start + size } else { start };
    if start < 0 || start > size {
        return Err(Error::index(format!(
            "start out of range (expected to be in range of [{}, {}], but got {})",
            -size, size, start
        )));
    }
    if length < 0 || start + length > size {
        return Err(Error::runtime(format!(
            "start ({start}) + length ({length}) exceeds dimension size ({size})."
        )));
    }
    slice(x, d, start as usize, length as usize, 1)
}

/// Elements `start, start+step, ...` (`len` of them) along `d`, as a view.
fn slice_eager(x: &Tensor, d: usize, start: usize, len: usize, step: usize) -> Result<Tensor> {
    let mut shape: Dims = SmallVec::from_slice(x.shape());
    let mut strides: Strides = SmallVec::from_slice(x.strides());
    let offset = (x.offset() as isize + start as isize * strides[d]) as usize;
    shape[d] = len;
    strides[d] *= step as isize;
    let out = x.view_parts(shape, strides, offset);
    if needs_grad(&[x]) {
        let in_shape: Vec<usize> = x.shape().to_vec();
        let dt = x.dtype();
        // the gradient lands in the sliced positions of a zero tensor
        record_fn(&out, &[x], "SliceBackward0", move |g| {
            let z = Tensor::zeros(&in_shape, dt);
            let dst = slice(&z, d, start, len, step)?;
            crate::kernels::elementwise::copy_cast(&dst, g);
            // the adjoint of writing the slice is reading it
            Ok(vec![Some(crate::ops::elementwise::linear_in_grad(
                z,
                g,
                "SliceBackwardBackward0",
                move |gg| slice(gg, d, start, len, step),
            ))])
        });
    }
    Ok(out)
}

/// `select(dim, index)`: drops `dim`, keeping one index.
fn select_eager(x: &Tensor, dim: i64, index: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return Err(Error::index(
            "select() cannot be applied to a 0-dim tensor.",
        ));
    }
    let d = normalize_dim(dim, x.ndim())?;
    let size = x.shape()[d] as i64;
    if index < -size || index >= size {
        return Err(Error::index(format!(
            "select(): index {index} out of range for tensor of size {} at dimension {d}",
            shape::fmt_shape(x.shape())
        )));
    }
    let i = if index < 0 { index + size } else { index } as usize;
    let mut shape: Dims = SmallVec::from_slice(x.shape());
    let mut strides: Strides = SmallVec::from_slice(x.strides());
    let offset = (x.offset() as isize + i as isize * strides[d]) as usize;
    shape.remove(d);
    strides.remove(d);
    let out = x.view_parts(shape, strides, offset);
    if needs_grad(&[x]) {
        let in_shape: Vec<usize> = x.shape().to_vec();
        let dt = x.dtype();
        // the gradient lands in row `i` of a zero tensor
        record_fn(&out, &[x], "SelectBackward0", move |g| {
            let z = Tensor::zeros(&in_shape, dt);
            let dst = select(&z, d as i64, i as i64)?;
            crate::kernels::elementwise::copy_cast(&dst, g);
            // the adjoint of writing the row is reading it
            Ok(vec![Some(crate::ops::elementwise::linear_in_grad(
                z,
                g,
                "SelectBackwardBackward0",
                move |gg| select(gg, d as i64, i as i64),
            ))])
        });
    }
    Ok(out)
}

/// `flatten(start_dim, end_dim)`.
fn flatten_eager(x: &Tensor, start: i64, end: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return reshape(x, &[1]);
    }
    let (s, e) = (
        normalize_dim(start, x.ndim())?,
        normalize_dim(end, x.ndim())?,
    );
    if s > e {
        return Err(Error::runtime(
            "flatten() has invalid args: start_dim cannot come after end_dim",
        ));
    }
    if s == e {
        return Ok(x.clone());
    }
    let mut shape: Vec<i64> = x.shape()[..s].iter().map(|&d| d as i64).collect();
    shape.push(x.shape()[s..=e].iter().product::<usize>() as i64);
    shape.extend(x.shape()[e + 1..].iter().map(|&d| d as i64));
    reshape(x, &shape)
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `view`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn view(x: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = view_eager(x, sizes)?;
    if scope.on() {
        let ins = [x];
        let sizes = sizes.to_vec();
        scope.record1("view", &ins, &out, move |i| view_eager(&i[0], &sizes));
    }
    Ok(out)
}

/// `reshape`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn reshape(x: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = reshape_eager(x, sizes)?;
    if scope.on() {
        let ins = [x];
        let sizes = sizes.to_vec();
        scope.record1("reshape", &ins, &out, move |i| reshape_eager(&i[0], &sizes));
    }
    Ok(out)
}

/// `reshape_usize`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn reshape_usize(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = reshape_usize_eager(x, shape)?;
    if scope.on() {
        let ins = [x];
        let shape = shape.to_vec();
        scope.record1("reshape_usize", &ins, &out, move |i| {
            reshape_usize_eager(&i[0], &shape)
        });
    }
    Ok(out)
}

/// `permute`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn permute(x: &Tensor, dims: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = permute_eager(x, dims)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.to_vec();
        scope.record1("permute", &ins, &out, move |i| permute_eager(&i[0], &dims));
    }
    Ok(out)
}

/// `transpose`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn transpose(x: &Tensor, d0: i64, d1: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = transpose_eager(x, d0, d1)?;
    if scope.on() {
        let ins = [x];
        scope.record1("transpose", &ins, &out, move |i| {
            transpose_eager(&i[0], d0, d1)
        });
    }
    Ok(out)
}

/// `alias_tracked`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn alias_tracked(x: &Tensor) -> Tensor {
    let scope = capture::scope();
    let out = alias_tracked_eager(x);
    if scope.on() {
        let ins = [x];
        scope.record1("alias_tracked", &ins, &out, move |i| {
            Ok(alias_tracked_eager(&i[0]))
        });
    }
    out
}

/// `expand_i64`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn expand_i64(x: &Tensor, sizes: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = expand_i64_eager(x, sizes)?;
    if scope.on() {
        let ins = [x];
        let sizes = sizes.to_vec();
        scope.record1("expand_i64", &ins, &out, move |i| {
            expand_i64_eager(&i[0], &sizes)
        });
    }
    Ok(out)
}

/// `expand`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn expand(x: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = expand_eager(x, shape)?;
    if scope.on() {
        let ins = [x];
        let shape = shape.to_vec();
        scope.record1("expand", &ins, &out, move |i| expand_eager(&i[0], &shape));
    }
    Ok(out)
}

/// `unsqueeze`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn unsqueeze(x: &Tensor, dim: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = unsqueeze_eager(x, dim)?;
    if scope.on() {
        let ins = [x];
        scope.record1("unsqueeze", &ins, &out, move |i| {
            unsqueeze_eager(&i[0], dim)
        });
    }
    Ok(out)
}

/// `squeeze`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn squeeze(x: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    let scope = capture::scope();
    let out = squeeze_eager(x, dims)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.map(|d| d.to_vec());
        scope.record1("squeeze", &ins, &out, move |i| {
            squeeze_eager(&i[0], dims.as_deref())
        });
    }
    Ok(out)
}

/// `narrow`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn narrow(x: &Tensor, dim: i64, start: i64, length: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = narrow_eager(x, dim, start, length)?;
    if scope.on() {
        let ins = [x];
        scope.record1("narrow", &ins, &out, move |i| {
            narrow_eager(&i[0], dim, start, length)
        });
    }
    Ok(out)
}

/// `slice`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn slice(x: &Tensor, d: usize, start: usize, len: usize, step: usize) -> Result<Tensor> {
    let scope = capture::scope();
    let out = slice_eager(x, d, start, len, step)?;
    if scope.on() {
        let ins = [x];
        scope.record1("slice", &ins, &out, move |i| {
            slice_eager(&i[0], d, start, len, step)
        });
    }
    Ok(out)
}

/// `select`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn select(x: &Tensor, dim: i64, index: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = select_eager(x, dim, index)?;
    if scope.on() {
        let ins = [x];
        scope.record1("select", &ins, &out, move |i| {
            select_eager(&i[0], dim, index)
        });
    }
    Ok(out)
}

/// `flatten`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn flatten(x: &Tensor, start: i64, end: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = flatten_eager(x, start, end)?;
    if scope.on() {
        let ins = [x];
        scope.record1("flatten", &ins, &out, move |i| {
            flatten_eager(&i[0], start, end)
        });
    }
    Ok(out)
}
