//! Reductions: sum, mean, prod, max/min, arg-reductions, std/var, norm, logical and cumulative ops.

use crate::autograd::needs_grad;
use crate::dtype::{default_dtype, DType, Element};
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::reduce::{is_nan, lanes, reduce, sum_fast, unlanes};
use crate::ops::elementwise::{record_fn, record_fused};
use crate::shape::{normalize_dim, Dims};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// Per dim: whether a reduction folds it (inline up to 6 dims: no allocation per op).
pub type Mask = SmallVec<[bool; 6]>;

/// Which dims a `dim=` argument selects (None or empty list = all).
pub fn reduced_mask(ndim: usize, dims: Option<&[i64]>) -> Result<Mask> {
    match dims {
        None => Ok(SmallVec::from_elem(true, ndim)),
        Some([]) => Ok(SmallVec::from_elem(true, ndim)),
        Some(ds) => {
            let mut m: Mask = SmallVec::from_elem(false, ndim);
            for &d in ds {
                let d = normalize_dim(d, ndim)?;
                if ndim > 0 {
                    if m[d] {
                        return Err(crate::error::Error::runtime(format!(
                            "dim {d} appears multiple times in the list of dims"
                        )));
                    }
                    m[d] = true;
                }
            }
            Ok(m)
        }
    }
}

/// The output shape of a reduction.
pub fn reduced_shape(shape: &[usize], mask: &[bool], keepdim: bool) -> Dims {
    shape
        .iter()
        .zip(mask)
        .filter_map(|(&s, &r)| {
            if !r {
                Some(s)
            } else if keepdim {
                Some(1)
            } else {
                None
            }
        })
        .collect()
}

/// The dtype torch.sum returns: integers and bool widen to int64.
pub fn sum_dtype(dt: DType) -> DType {
    if dt.is_float() {
        dt
    } else {
        DType::I64
    }
}

/// Float sums in f64 (through the contiguous fast paths when the layout allows), each passed
/// through `conv` into the output element: into `t`, a contiguous tensor of the kept positions'
/// count in dtype `O` that nothing else reads while this runs (a fresh one, or fit's buffer).
fn float_sums_to<T: crate::kernels::reduce::SumF, O: Element>(
    x: &Tensor,
    mask: &[bool],
    t: &Tensor,
    conv: impl Fn(f64) -> O + Sync,
) {
    assert!(t.is_contiguous() && t.dtype() == O::DTYPE && t.numel() == kept_count(x.shape(), mask));
    // SAFETY: t is contiguous with numel elements and nothing else reads it meanwhile (above).
    let out = unsafe { std::slice::from_raw_parts_mut(t.ptr::<O>(), t.numel()) };
    if x.dtype() == DType::F32 && x.is_contiguous() && mask.iter().all(|&m| m) {
        // whole-tensor float32 sums in torch's own order, so printed losses match digit for digit
        out[0] = conv(crate::kernels::sum_order::sum_f32(x.as_slice::<f32>()) as f64);
    } else if !sum_fast::<T, O>(x, mask, out, &conv) {
        crate::kernels::reduce::sum_runs::<T, O>(x, mask, out, conv);
    }
}

/// How many outputs a reduction over `mask`'s dimensions has.
fn kept_count(shape: &[usize], mask: &[bool]) -> usize {
    shape
        .iter()
        .zip(mask)
        .filter(|(_, &m)| !m)
        .map(|(&s, _)| s)
        .product()
}

pub fn sum_raw(x: &Tensor, mask: &[bool], keepdim: bool, dtype: Option<DType>) -> Tensor {
    sum_raw_shaped(x, mask, &reduced_shape(x.shape(), mask, keepdim), dtype)
}

/// `sum_raw` with the output given the caller's `shape` (the same elements in the same order
/// as the keepdim result, e.g. `sum_to`'s target shape).
fn sum_raw_shaped(x: &Tensor, mask: &[bool], shape: &[usize], dtype: Option<DType>) -> Tensor {
    let out_dt = dtype.unwrap_or_else(|| sum_dtype(x.dtype()));
    let x = if x.dtype() != out_dt {
        &x.to_dtype(out_dt)
    } else {
        x
    };
    match out_dt {
        DType::F32 | DType::F64 => {
            let t = crate::dispatch_float!(out_dt, T => unsafe {
                // SAFETY: float_sum_to writes every element.
                Tensor::uninit::<T>(shape)
            }, _ => unreachable!("float"));
            float_sum_to(x, mask, &t);
            t
        }
        DType::Bool => Tensor::from_vec_unchecked(
            reduce::<bool, bool, bool>(x, mask, false, |a, v| a | v, |a, _| a),
            shape,
        ),
        _ => crate::dispatch!(out_dt, T => Tensor::from_vec_unchecked(
            reduce::<T, i64, T>(x, mask, 0, |a, v| a.wrapping_add(crate::dtype::Element::to_i64(v)), |a, _| {
                <T as crate::dtype::Element>::from_i64(a)
            }),
            shape,
        )),
    }
}

/// The float sum of `x` over `mask` into `out` (contiguous, x's dtype, the kept positions in
/// order): `sum_raw`'s float path, and the form fit's fixed-buffer step runs (graph/buffers.rs).
pub fn float_sum_to(x: &Tensor, mask: &[bool], out: &Tensor) {
    match out.dtype() {
        DType::F32 => float_sums_to::<f32, f32>(x, mask, out, |v| v as f32),
        DType::F64 => float_sums_to::<f64, f64>(x, mask, out, |v| v),
        dt => unreachable!("float_sum_to: {dt:?} output"),
    }
}

/// The float mean of `x` over `mask` into `out` (contiguous, x's dtype): `mean`'s kernel, and the
/// form fit's fixed-buffer step runs.
pub fn float_mean_to(x: &Tensor, mask: &[bool], out: &Tensor) {
    let n = reduced_count(x.shape(), mask) as f64;
    crate::dispatch_float!(out.dtype(), T => {
        // divided in the tensor's dtype, as torch's sum(...).div_(n)
        float_sums_to::<T, T>(x, mask, out, |v| T::from_f64(v) / T::from_f64(n))
    }, _ => unreachable!("float_mean_to: {:?} output", out.dtype()))
}

/// Reshapes a reduction's output gradient to the keepdim shape (same element order).
/// The dims `r` reduces, as torch dim indices (for the recorded ops of a graph-building backward).
fn red_dims(mask: &[bool]) -> Vec<i64> {
    (0..mask.len())
        .filter(|&i| mask[i])
        .map(|i| i as i64)
        .collect()
}

/// `t` in `dt`, reshaped to the kept shape, in the graph (a graph-building backward's `keep`).
fn keep_graph(t: &Tensor, kept: &[usize], dt: DType) -> Result<Tensor> {
    let t = crate::ops::copy::to_dtype(t, dt, false)?;
    crate::ops::movement::reshape_usize(&t, kept)
}

/// `g` where `x` is not NaN, 0 where it is (nansum/nanmean's backward, in the graph).
fn where_not_nan(x: &Tensor, g: &Tensor) -> Result<Tensor> {
    let nan = crate::ops::elementwise::binary(crate::ops::elementwise::Binary::Ne, x, x)?;
    crate::ops::indexing::where_(&nan, &Tensor::wrapped_scalar(0.0f64), g)
}

fn keep(g: &Tensor, kept: &[usize]) -> Tensor {
    let g = if g.is_contiguous() {
        g.clone()
    } else {
        crate::ops::copy::clone_raw(g)
    };
    g.view_parts(
        SmallVec::from_slice(kept),
        crate::shape::contiguous_strides(kept),
        g.offset(),
    )
}

/// A contiguous f64 copy of `t` broadcast to `shape`.
fn bcast_f64(t: &Tensor, shape: &[usize]) -> Tensor {
    let st = crate::shape::broadcast_strides(t.shape(), t.strides(), shape);
    t.view_parts(SmallVec::from_slice(shape), st, t.offset())
        .to_dtype(DType::F64)
}

/// `f` over N tensors broadcast to `shape`, computed in f64, returned as `dt`.
fn zip_f64<const N: usize>(
    shape: &[usize],
    dt: DType,
    ts: [&Tensor; N],
    f: impl Fn([f64; N]) -> f64,
) -> Tensor {
    let bs: Vec<Tensor> = ts.iter().map(|t| bcast_f64(t, shape)).collect();
    let sl: Vec<&[f64]> = bs.iter().map(|t| t.as_slice::<f64>()).collect();
    let n = crate::shape::numel(shape);
    let out: Vec<f64> = (0..n)
        .map(|i| f(std::array::from_fn(|k| sl[k][i])))
        .collect();
    Tensor::from_vec_unchecked(out, shape).to_dtype(dt)
}

/// `torch.sum(x, dim, keepdim, dtype=)`.
fn sum_eager(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let mask = reduced_mask(x.ndim(), dims)?;
    let out = sum_raw(x, &mask, keepdim, dtype);
    if out.dtype().is_float() && needs_grad(&[x]) {
        let in_shape = Dims::from_slice(x.shape());
        let kept = reduced_shape(x.shape(), &mask, true);
        let name = if dims.is_none() {
            "SumBackward0"
        } else {
            "SumBackward1"
        };
        // d sum/dx = 1 everywhere: broadcast the gradient back
        record_fn(&out, &[x], name, move |g| {
            let g = crate::ops::movement::reshape_usize(g, &kept)?;
            Ok(vec![Some(crate::ops::movement::expand(&g, &in_shape)?)])
        });
    }
    Ok(out)
}

/// The dims `sum_to` sums over: leading dims and dims that were 1.
pub fn sum_to_mask(from: &[usize], shape: &[usize]) -> Mask {
    let lead = from.len() - shape.len();
    (0..from.len())
        .map(|d| d < lead || (shape[d - lead] == 1 && from[d] != 1))
        .collect()
}

/// Sums `g` down to `shape` (undoes broadcasting): leading dims and dims that were 1.
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let mask = sum_to_mask(g.shape(), shape);
    if !crate::autograd::needs_grad(&[g]) {
        // The engine's broadcast reductions: sum straight into a tensor of the target shape (same
        // element order), skipping the dims bookkeeping and the reshape op.
        return Ok(sum_raw_shaped(g, &mask, shape, None));
    }
    let s = sum_raw_tracked(g, &mask)?;
    crate::ops::movement::reshape_usize(&s, shape)
}

fn sum_raw_tracked(g: &Tensor, mask: &[bool]) -> Result<Tensor> {
    let dims: Vec<i64> = mask
        .iter()
        .enumerate()
        .filter(|(_, &m)| m)
        .map(|(i, _)| i as i64)
        .collect();
    if dims.is_empty() {
        return Ok(g.clone());
    }
    sum(g, Some(&dims), true, None)
}

/// Shared front of a dims-reduction: mask, keepdim shape, output shape.
struct Red {
    mask: Mask,
    kept: Dims,
    out_shape: Dims,
    in_shape: Dims,
    n: usize,
}

/// How many elements each output of a reduction over `mask`'s dimensions sums.
fn reduced_count(shape: &[usize], mask: &[bool]) -> usize {
    shape
        .iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&s, _)| s)
        .product()
}

fn red(x: &Tensor, dims: Option<&[i64]>, keepdim: bool) -> Result<Red> {
    let mask = reduced_mask(x.ndim(), dims)?;
    let n = reduced_count(x.shape(), &mask);
    Ok(Red {
        kept: reduced_shape(x.shape(), &mask, true),
        out_shape: reduced_shape(x.shape(), &mask, keepdim),
        in_shape: Dims::from_slice(x.shape()),
        mask,
        n,
    })
}

/// `torch.mean(x, dim, keepdim, dtype=)`: float (or dtype=float) only.
fn mean_eager(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    match dtype {
        Some(d) if !d.is_float() => {
            return Err(Error::not_implemented(format!(
                "mean(): could not infer output dtype. Optional dtype must be either a floating point or complex \
                 dtype. Got: {}",
                d.scalar_name()
            )))
        }
        None if !x.dtype().is_float() => {
            return Err(Error::not_implemented(format!(
                "mean(): could not infer output dtype. Input dtype must be either a floating point or complex \
                 dtype. Got: {}",
                x.dtype().scalar_name()
            )))
        }
        _ => {}
    }
    let dt = dtype.unwrap_or(x.dtype());
    let mask = reduced_mask(x.ndim(), dims)?;
    let n = reduced_count(x.shape(), &mask) as f64;
    let xc = if x.dtype() != dt { &x.to_dtype(dt) } else { x };
    let out_shape = reduced_shape(x.shape(), &mask, keepdim);
    let out = crate::dispatch_float!(dt, T => unsafe {
        // SAFETY: float_mean_to writes every element.
        Tensor::uninit::<T>(&out_shape)
    }, _ => unreachable!("checked float above"));
    float_mean_to(xc, &mask, &out);
    if needs_grad(&[x]) {
        let kept = reduced_shape(x.shape(), &mask, true);
        let in_shape = Dims::from_slice(x.shape());
        let name = if dims.is_none() {
            "MeanBackward0"
        } else {
            "MeanBackward1"
        };
        // d mean/dx = 1/N (built from differentiable ops so create_graph works)
        record_fn(&out, &[x], name, move |g| {
            let g = crate::ops::movement::reshape_usize(g, &kept)?;
            let g = crate::ops::movement::expand(&g, &in_shape)?;
            Ok(vec![Some(crate::ops::elementwise::div(
                &g,
                &crate::ops::elementwise::scalar_f(n),
            )?)])
        });
    }
    Ok(out)
}

/// `torch.nansum`: NaNs count as zero.
pub fn nansum(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return sum(x, dims, keepdim, dtype);
    }
    let r = red(x, dims, keepdim)?;
    let dt = dtype.unwrap_or(x.dtype());
    let xc = if x.dtype() != dt {
        x.to_dtype(dt)
    } else {
        x.clone()
    };
    let out = crate::dispatch_float!(dt, T => Tensor::from_vec_unchecked(
        reduce::<T, f64, T>(&xc, &r.mask, 0.0, |a, v| if is_nan(v) { a } else { a + v.to_f64() }, |a, _| T::from_f64(a)),
        &r.out_shape), _ => return sum(x, dims, keepdim, dtype));
    if needs_grad(&[x]) {
        let sx = x.save();
        // d nansum/dx = 1 where x is not NaN
        record_fused(&out, &[x], "NansumBackward0", move |g| {
            let x = sx.get("NansumBackward0")?;
            if crate::autograd::is_grad_enabled() {
                crate::autograd::composed();
                let gk = keep_graph(g, &r.kept, g.dtype())?;
                return Ok(vec![Some(where_not_nan(x, &gk)?)]);
            }
            Ok(vec![Some(zip_f64(
                &r.in_shape,
                g.dtype(),
                [&keep(g, &r.kept), x],
                |[g, x]| {
                    if x.is_nan() {
                        0.0
                    } else {
                        g
                    }
                },
            ))])
        });
    }
    Ok(out)
}

/// `torch.nanmean`: mean over the non-NaN elements.
pub fn nanmean(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "nanmean(): expected input to have floating point or complex dtype but got {}",
            x.dtype().scalar_name()
        )));
    }
    let r = red(x, dims, keepdim)?;
    let dt = dtype.unwrap_or(x.dtype());
    let xc = if x.dtype() != dt {
        x.to_dtype(dt)
    } else {
        x.clone()
    };
    let cnt: Vec<f64> = crate::dispatch_float!(dt, T =>
        reduce::<T, f64, f64>(&xc, &r.mask, 0.0, |a, v| if is_nan(v) { a } else { a + 1.0 }, |a, _| a),
        _ => vec![]);
    let out = crate::dispatch_float!(dt, T => {
        let s = reduce::<T, f64, f64>(&xc, &r.mask, 0.0, |a, v| if is_nan(v) { a } else { a + v.to_f64() }, |a, _| a);
        Tensor::from_vec_unchecked(s.iter().zip(&cnt).map(|(s, c)| T::from_f64(s / c)).collect::<Vec<T>>(), &r.out_shape)
    }, _ => return Err(Error::not_implemented("nanmean(): expected a floating point dtype")));
    if needs_grad(&[x]) {
        let sx = x.save();
        let cnt = Tensor::from_vec_unchecked(cnt, &r.kept);
        // d nanmean/dx = 1/count where x is not NaN
        record_fused(&out, &[x], "NanmeanBackward0", move |g| {
            let x = sx.get("NanmeanBackward0")?;
            if crate::autograd::is_grad_enabled() {
                crate::autograd::composed();
                let gk = keep_graph(g, &r.kept, g.dtype())?;
                let gc = crate::ops::elementwise::div(&gk, &cnt.to_dtype(g.dtype()))?;
                return Ok(vec![Some(where_not_nan(x, &gc)?)]);
            }
            Ok(vec![Some(zip_f64(
                &r.in_shape,
                g.dtype(),
                [&keep(g, &r.kept), x, &cnt],
                |[g, x, c]| {
                    if x.is_nan() {
                        0.0
                    } else {
                        g / c
                    }
                },
            ))])
        });
    }
    Ok(out)
}

/// Per-lane "product of all other elements" (exact with zeros: prefix times suffix).
fn prod_others(x: &Tensor, d: usize) -> Tensor {
    let dt = x.dtype();
    let (l, nl, n) = lanes::<f64>(&x.to_dtype(DType::F64), d);
    let s = l.as_slice::<f64>();
    let mut out = vec![0f64; s.len()];
    for k in 0..nl {
        let (a, o) = (&s[k * n..(k + 1) * n], &mut out[k * n..(k + 1) * n]);
        let mut p = 1.0;
        for i in 0..n {
            o[i] = p;
            p *= a[i];
        }
        p = 1.0;
        for i in (0..n).rev() {
            o[i] *= p;
            p *= a[i];
        }
    }
    let mut other: Vec<usize> = x.shape().to_vec();
    if !other.is_empty() {
        other.remove(d);
    }
    unlanes(out, &other, d, n, x.ndim() == 0).to_dtype(dt)
}

/// `torch.prod(x, dim=None, keepdim=False, dtype=)`.
fn prod_eager(x: &Tensor, dim: Option<i64>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    let dims = dim.map(|d| vec![d]);
    let r = red(x, dims.as_deref(), keepdim)?;
    let out_dt = dtype.unwrap_or_else(|| sum_dtype(x.dtype()));
    let xc = if x.dtype() != out_dt {
        x.to_dtype(out_dt)
    } else {
        x.clone()
    };
    let out = match out_dt {
        DType::Bool => Tensor::from_vec_unchecked(
            reduce::<bool, bool, bool>(&xc, &r.mask, true, |a, v| a & v, |a, _| a),
            &r.out_shape,
        ),
        DType::F32 | DType::F64 => crate::dispatch_float!(out_dt, T => Tensor::from_vec_unchecked(
            reduce::<T, f64, T>(&xc, &r.mask, 1.0, |a, v| a * v.to_f64(), |a, _| T::from_f64(a)), &r.out_shape),
            _ => unreachable!()),
        _ => crate::dispatch!(out_dt, T => Tensor::from_vec_unchecked(
            reduce::<T, i64, T>(&xc, &r.mask, 1, |a, v| a.wrapping_mul(v.to_i64()), |a, _| T::from_i64(a)),
            &r.out_shape)),
    };
    if out.dtype().is_float() && needs_grad(&[x]) {
        let sx = x.save();
        let name = if dim.is_none() {
            "ProdBackward0"
        } else {
            "ProdBackward1"
        };
        let d = match dim {
            Some(d) => normalize_dim(d, x.ndim())?,
            None => 0,
        };
        // d prod/dx_i = product of the other elements
        record_fused(&out, &[x], name, move |g| {
            let x = sx.get(name)?;
            let others = if dim.is_none() {
                let flat = crate::ops::copy::clone_raw(x);
                let flat = flat.view_parts(
                    SmallVec::from_slice(&[x.numel()]),
                    SmallVec::from_slice(&[1]),
                    0,
                );
                let o = prod_others(&flat, 0);
                o.view_parts(
                    SmallVec::from_slice(x.shape()),
                    crate::shape::contiguous_strides(x.shape()),
                    0,
                )
            } else {
                prod_others(x, d)
            };
            Ok(vec![Some(zip_f64(
                &r.in_shape,
                g.dtype(),
                [&keep(g, &r.kept), &others],
                |[g, o]| g * o,
            ))])
        });
    }
    Ok(out)
}

/// Picks max (or min) with NaN winning.
#[inline]
fn pick<T: Element>(acc: T, v: T, max: bool) -> T {
    if is_nan(acc) {
        acc
    } else if is_nan(v) || (max && v > acc) || (!max && v < acc) {
        v
    } else {
        acc
    }
}

fn check_nonempty(x: &Tensor, mask: &[bool], op: &str) -> Result<()> {
    if x.numel() == 0 || x.shape().contains(&0) {
        for (d, (&s, &m)) in x.shape().iter().zip(mask).enumerate() {
            if m && s == 0 {
                return Err(Error::index(format!(
                    "{op}(): Expected reduction dim {d} to have non-zero size."
                )));
            }
        }
    }
    Ok(())
}

fn minmax_raw(x: &Tensor, mask: &[bool], keepdim: bool, max: bool) -> Tensor {
    let shape = reduced_shape(x.shape(), mask, keepdim);
    crate::dispatch!(x.dtype(), T => {
        let first = if x.numel() > 0 { x.get_flat::<T>(0) } else { T::zero() };
        let v = reduce::<T, Option<T>, T>(x, mask, None, |a, v| Some(match a { None => v, Some(a) => pick(a, v, max) }),
            |a, _| a.unwrap_or(first));
        Tensor::from_vec_unchecked(v, &shape)
    })
}

/// Backward of a value-reduction that splits the gradient evenly among the tied extreme elements.
fn record_even_split(out: &Tensor, x: &Tensor, r: Red, name: &'static str) {
    let (sx, so) = (x.save(), out.save_output(0));
    // d max/dx = 1/(number of ties) at the maximal elements, 0 elsewhere
    record_fn(out, &[x], name, move |g| {
        let (x, o) = (sx.get(name)?, &so.get(name)?);
        let ok = keep(o, &r.kept);
        let hit = zip_f64(&r.in_shape, DType::F64, [x, &ok], |[x, o]| {
            if x == o || (x.is_nan() && o.is_nan()) {
                1.0
            } else {
                0.0
            }
        });
        let cnt = sum_raw(&hit, &r.mask, true, None);
        let gx = zip_f64(
            &r.in_shape,
            g.dtype(),
            [&keep(g, &r.kept), &hit, &cnt],
            |[g, h, c]| g * h / c,
        );
        if !(g.requires_grad() && crate::autograd::is_grad_enabled()) {
            return Ok(vec![Some(gx)]);
        }
        // the adjoint of spreading g over the ties is summing gg·share over them
        let share = zip_f64(&r.in_shape, g.dtype(), [&hit, &cnt], |[h, c]| h / c);
        let (mask, gshape) = (r.mask.clone(), g.shape().to_vec());
        Ok(vec![Some(crate::ops::elementwise::linear_in_grad(
            gx,
            g,
            "MaxBackwardBackward0",
            move |gg| {
                let dims = red_dims(&mask);
                let s = sum(
                    &crate::ops::elementwise::mul(gg, &share)?,
                    Some(&dims),
                    false,
                    None,
                )?;
                crate::ops::movement::reshape_usize(&s, &gshape)
            },
        ))])
    });
}

/// `torch.amax` / `torch.amin` over dims (all when empty).
fn amax_eager(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, max: bool) -> Result<Tensor> {
    let dims = dims.unwrap_or(&[]);
    let r = red(x, Some(dims), keepdim)?;
    let op = if max { "amax" } else { "amin" };
    check_nonempty(x, &r.mask, op)?;
    let out = minmax_raw(x, &r.mask, keepdim, max);
    if out.dtype().is_float() && needs_grad(&[x]) {
        record_even_split(
            &out,
            x,
            r,
            if max {
                "AmaxBackward0"
            } else {
                "AminBackward0"
            },
        );
    }
    Ok(out)
}

/// `x.max()` / `x.min()` with no dim: a 0-d tensor.
fn max_all_eager(x: &Tensor, max: bool) -> Result<Tensor> {
    let op = if max { "max" } else { "min" };
    if x.numel() == 0 {
        return Err(Error::runtime(format!(
            "{op}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with \
             the 'dim' argument."
        )));
    }
    let r = red(x, None, false)?;
    let out = minmax_raw(x, &r.mask, false, max);
    if out.dtype().is_float() && needs_grad(&[x]) {
        record_even_split(
            &out,
            x,
            r,
            if max { "MaxBackward1" } else { "MinBackward1" },
        );
    }
    Ok(out)
}

/// The index of the max/min per lane (first occurrence; NaN wins), with its value.
fn arg_lanes<T: Element>(l: &[T], nl: usize, n: usize, max: bool) -> (Vec<T>, Vec<i64>) {
    let mut vals = Vec::with_capacity(nl);
    let mut idx = Vec::with_capacity(nl);
    for k in 0..nl {
        let a = &l[k * n..(k + 1) * n];
        let (mut bi, mut bv) = (0usize, a[0]);
        for (i, &v) in a.iter().enumerate().skip(1) {
            if is_nan(bv) {
                break;
            }
            if is_nan(v) || (max && v > bv) || (!max && v < bv) {
                bi = i;
                bv = v;
            }
        }
        vals.push(bv);
        idx.push(bi as i64);
    }
    (vals, idx)
}

/// Output shape of a single-dim reduction.
fn dim_out_shape(x: &Tensor, d: usize, keepdim: bool) -> Vec<usize> {
    let mut s = x.shape().to_vec();
    if s.is_empty() {
        return s;
    }
    if keepdim {
        s[d] = 1;
    } else {
        s.remove(d);
    }
    s
}

/// Routes the gradient of values picked by `idx` (shape of the output) back to their positions.
pub fn scatter_grad(
    g: &Tensor,
    idx: &Tensor,
    in_shape: &[usize],
    d: usize,
    keepdim: bool,
) -> Tensor {
    let dt = g.dtype();
    let mut ks = in_shape.to_vec();
    let scalar = ks.is_empty();
    if !scalar && !keepdim && g.ndim() + 1 == in_shape.len() {
        ks[d] = 1;
    } else if !scalar {
        ks[d] = g.shape().get(d).copied().unwrap_or(1);
    }
    let g = keep(g, &ks).to_dtype(DType::F64);
    let idx = keep(idx, &ks);
    let n = if scalar { 1 } else { in_shape[d] };
    let (gl, nl, m) = lanes::<f64>(&g, d.min(g.ndim().saturating_sub(1)));
    let (il, _, _) = lanes::<i64>(&idx, d.min(g.ndim().saturating_sub(1)));
    let (gs, is) = (gl.as_slice::<f64>(), il.as_slice::<i64>());
    let mut out = vec![0f64; nl * n];
    for k in 0..nl {
        for j in 0..m {
            let i = is[k * m + j];
            if i >= 0 && (i as usize) < n {
                out[k * n + i as usize] += gs[k * m + j];
            }
        }
    }
    let mut other = in_shape.to_vec();
    if !scalar {
        other.remove(d);
    }
    unlanes(out, &other, d, n, scalar).to_dtype(dt)
}

/// Records the backward of a values output selected by indices along dim d.
pub fn record_index_backward(
    out: &Tensor,
    idx: &Tensor,
    x: &Tensor,
    d: usize,
    keepdim: bool,
    name: &'static str,
) {
    let in_shape = x.shape().to_vec();
    let idx = idx.clone();
    // d values/dx = 1 at the selected index
    record_fn(out, &[x], name, move |g| {
        let gx = scatter_grad(g, &idx, &in_shape, d, keepdim);
        let (idx, gshape) = (idx.clone(), g.shape().to_vec());
        // the adjoint of scattering to the selected indices is gathering them
        Ok(vec![Some(crate::ops::elementwise::linear_in_grad(
            gx,
            g,
            "ScatterBackward0",
            move |gg| gather_selected(gg, &idx, d, &gshape),
        ))])
    });
}

/// `gg` taken at indices `idx` (the values output's shape `out_shape`) along dim `d`, in the graph.
fn gather_selected(gg: &Tensor, idx: &Tensor, d: usize, out_shape: &[usize]) -> Result<Tensor> {
    if gg.ndim() == 0 {
        return Ok(gg.clone());
    }
    let mut ks = gg.shape().to_vec();
    ks[d] = 1;
    let idx = keep(idx, &ks);
    let v = crate::ops::indexing::gather(gg, d as i64, &idx)?;
    crate::ops::movement::reshape_usize(&v, out_shape)
}

/// `x.max(dim, keepdim)` / `x.min(dim, keepdim)`: (values, indices).
fn max_dim_eager(x: &Tensor, dim: i64, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, x.ndim())?;
    let op = if max { "max" } else { "min" };
    if x.ndim() > 0 && x.shape()[d] == 0 {
        return Err(Error::index(format!(
            "{op}(): Expected reduction dim {d} to have non-zero size."
        )));
    }
    let shape = dim_out_shape(x, d, keepdim);
    let (v, i) = crate::dispatch!(x.dtype(), T => {
        let (l, nl, n) = lanes::<T>(x, d);
        let (v, i) = arg_lanes(l.as_slice::<T>(), nl, n, max);
        (Tensor::from_vec_unchecked(v, &shape), Tensor::from_vec_unchecked(i, &shape))
    });
    if v.dtype().is_float() && needs_grad(&[x]) {
        record_index_backward(
            &v,
            &i,
            x,
            d,
            keepdim,
            if max { "MaxBackward0" } else { "MinBackward0" },
        );
    }
    Ok((v, i))
}

/// `torch.argmax` / `argmin`: dim=None means the flattened tensor.
fn argmax_eager(x: &Tensor, dim: Option<i64>, keepdim: bool, max: bool) -> Result<Tensor> {
    let op = if max { "argmax" } else { "argmin" };
    match dim {
        Some(dim) => {
            let d = normalize_dim(dim, x.ndim())?;
            if x.ndim() > 0 && x.shape()[d] == 0 {
                return Err(Error::index(format!(
                    "{op}(): Expected reduction dim {d} to have non-zero size."
                )));
            }
            let shape = dim_out_shape(x, d, keepdim);
            Ok(crate::dispatch!(x.dtype(), T => {
                let (l, nl, n) = lanes::<T>(x, d);
                Tensor::from_vec_unchecked(arg_lanes(l.as_slice::<T>(), nl, n, max).1, &shape)
            }))
        }
        None => {
            if x.numel() == 0 {
                return Err(Error::index(format!(
                    "{op}(): Expected reduction dim to be specified for input.numel() == 0."
                )));
            }
            let shape: Vec<usize> = if keepdim { vec![1; x.ndim()] } else { vec![] };
            Ok(crate::dispatch!(x.dtype(), T => {
                let c = crate::ops::copy::clone_raw(x);
                Tensor::from_vec_unchecked(arg_lanes(c.as_slice::<T>(), 1, x.numel(), max).1, &shape)
            }))
        }
    }
}

/// Welford moments per output: (mean, M2) for each kept position.
fn moments<T: Element>(x: &Tensor, mask: &[bool]) -> Vec<(f64, f64)> {
    reduce::<T, (f64, f64, f64), (f64, f64)>(
        x,
        mask,
        (0.0, 0.0, 0.0),
        |(n, m, m2), v| {
            let v = v.to_f64();
            let n1 = n + 1.0;
            let dl = v - m;
            let m1 = m + dl / n1;
            (n1, m1, m2 + dl * (v - m1))
        },
        |(n, m, m2), _| if n == 0.0 { (f64::NAN, 0.0) } else { (m, m2) },
    )
}

/// `torch.var` / `torch.std` (and the `_mean` variants): returns (var or std, mean).
fn var_mean_eager(
    x: &Tensor,
    dims: Option<&[i64]>,
    correction: f64,
    keepdim: bool,
    std: bool,
) -> Result<(Tensor, Tensor)> {
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(
            "std and var only support floating point and complex dtypes",
        ));
    }
    let r = red(x, dims, keepdim)?;
    let dof = (r.n as f64 - correction).max(0.0);
    let (v, m) = crate::dispatch_float!(x.dtype(), T => {
        let mo = moments::<T>(x, &r.mask);
        let v: Vec<T> = mo.iter().map(|&(_, m2)| { let v = m2 / dof; T::from_f64(if std { v.sqrt() } else { v }) }).collect();
        let m: Vec<T> = mo.iter().map(|&(m, _)| T::from_f64(m)).collect();
        (Tensor::from_vec_unchecked(v, &r.out_shape), Tensor::from_vec_unchecked(m, &r.out_shape))
    }, _ => unreachable!());
    if needs_grad(&[x]) {
        let (sx, sv, sm) = (x.save(), v.save_output(0), m.save());
        let name = if std { "StdBackward0" } else { "VarBackward0" };
        let r2 = Red {
            mask: r.mask.clone(),
            kept: r.kept.clone(),
            out_shape: r.out_shape.clone(),
            in_shape: r.in_shape.clone(),
            n: r.n,
        };
        // var: g * 2 (x - mean) / dof ; std: g * (x - mean) / (dof * std)
        record_fused(&v, &[x], name, move |g| {
            let (x, v, m) = (sx.get(name)?, &sv.get(name)?, sm.get(name)?);
            if crate::autograd::is_grad_enabled() {
                crate::autograd::composed();
                use crate::ops::elementwise::{div, mul, scalar_f, sub};
                // recomputed from x in the graph: var' = 2(x − mean)/dof, std' = (x − mean)/(dof·std)
                let mean = mean(x, Some(&red_dims(&r.mask)), true, None)?;
                let xm = sub(x, &mean)?;
                let gk = keep_graph(g, &r.kept, x.dtype())?;
                let gx = if std {
                    let vk = keep_graph(v, &r.kept, x.dtype())?;
                    div(&mul(&gk, &xm)?, &mul(&scalar_f(dof), &vk)?)?
                } else {
                    mul(&gk, &mul(&xm, &scalar_f(2.0 / dof))?)?
                };
                return Ok(vec![Some(gx)]);
            }
            let (gk, vk, mk) = (keep(g, &r.kept), keep(v, &r.kept), keep(m, &r.kept));
            Ok(vec![Some(zip_f64(
                &r.in_shape,
                g.dtype(),
                [&gk, x, &vk, &mk],
                |[g, x, v, m]| {
                    if std {
                        g * (x - m) / (dof * v)
                    } else {
                        g * 2.0 * (x - m) / dof
                    }
                },
            ))])
        });
        let nn = r2.n as f64;
        // d mean/dx = 1/N
        record_fn(&m, &[x], "MeanBackward1", move |g| {
            if crate::autograd::is_grad_enabled() {
                // in the graph: the gradient broadcast back, over N
                let gk = keep_graph(g, &r2.kept, g.dtype())?;
                let ge = crate::ops::movement::expand(&gk, &r2.in_shape)?;
                let n = crate::ops::elementwise::scalar_f(nn);
                return Ok(vec![Some(crate::ops::elementwise::div(&ge, &n)?)]);
            }
            Ok(vec![Some(zip_f64(
                &r2.in_shape,
                g.dtype(),
                [&keep(g, &r2.kept)],
                |[g]| g / nn,
            ))])
        });
    }
    Ok((v, m))
}

/// `torch.norm(x, p, dim, keepdim)` for vector p-norms (p = inf, -inf, 0, 1, 2, any float).
fn norm_eager(x: &Tensor, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. Got {}",
            x.dtype().scalar_name()
        )));
    }
    let r = red(x, dims, keepdim)?;
    if p.is_infinite() && x.numel() == 0 {
        return Err(Error::runtime(
            "linalg.vector_norm cannot compute the inf norm on an empty tensor because the operation does not have \
             an identity",
        ));
    }
    let out = crate::dispatch_float!(x.dtype(), T => {
        let v: Vec<T> = if p == f64::INFINITY {
            reduce::<T, f64, T>(x, &r.mask, 0.0, |a, v| { let v = v.to_f64().abs(); if a.is_nan() || v.is_nan() || v > a { if a.is_nan() { a } else { v } } else { a } }, |a, _| T::from_f64(a))
        } else if p == f64::NEG_INFINITY {
            reduce::<T, f64, T>(x, &r.mask, f64::INFINITY, |a, v| { let v = v.to_f64().abs(); if a.is_nan() || v.is_nan() || v < a { if a.is_nan() { a } else { v } } else { a } }, |a, _| T::from_f64(a))
        } else if p == 0.0 {
            reduce::<T, f64, T>(x, &r.mask, 0.0, |a, v| a + if v.to_f64() != 0.0 { 1.0 } else { 0.0 }, |a, _| T::from_f64(a))
        } else if p == 1.0 {
            reduce::<T, f64, T>(x, &r.mask, 0.0, |a, v| a + v.to_f64().abs(), |a, _| T::from_f64(a))
        } else if p == 2.0 {
            reduce::<T, f64, T>(x, &r.mask, 0.0, |a, v| { let v = v.to_f64(); a + v * v }, |a, _| T::from_f64(a.sqrt()))
        } else {
            reduce::<T, f64, T>(x, &r.mask, 0.0, |a, v| a + v.to_f64().abs().powf(p), |a, _| T::from_f64(a.powf(1.0 / p)))
        };
        Tensor::from_vec_unchecked(v, &r.out_shape)
    }, _ => unreachable!());
    if needs_grad(&[x]) {
        let (sx, so) = (x.save(), out.save_output(0));
        let name = "LinalgVectorNormBackward0";
        record_fused(&out, &[x], name, move |g| {
            let (x, o) = (sx.get(name)?, &so.get(name)?);
            if crate::autograd::is_grad_enabled() && p.is_finite() {
                crate::autograd::composed();
                return Ok(vec![Some(norm_bwd_graph(g, x, o, p, &r.kept)?)]);
            }
            let (gk, ok) = (keep(g, &r.kept), keep(o, &r.kept));
            let dt = g.dtype();
            if p.is_infinite() {
                // d max|x|/dx = sign(x)/ties at the extreme elements
                let hit = zip_f64(&r.in_shape, DType::F64, [x, &ok], |[x, o]| {
                    if x.abs() == o {
                        1.0
                    } else {
                        0.0
                    }
                });
                let cnt = sum_raw(&hit, &r.mask, true, None);
                return Ok(vec![Some(zip_f64(
                    &r.in_shape,
                    dt,
                    [&gk, x, &hit, &cnt],
                    |[g, x, h, c]| g * sgn(x) * h / c,
                ))]);
            }
            // d ||x||_p/dx = sign(x) |x|^(p-1) / ||x||^(p-1)  (0 where the norm is 0)
            Ok(vec![Some(zip_f64(
                &r.in_shape,
                dt,
                [&gk, x, &ok],
                |[g, x, o]| {
                    if p == 0.0 {
                        0.0
                    } else if p == 1.0 {
                        g * sgn(x)
                    } else if o == 0.0 {
                        0.0
                    } else if p == 2.0 {
                        g * x / o
                    } else {
                        g * sgn(x) * x.abs().powf(p - 1.0) / o.powf(p - 1.0)
                    }
                },
            ))])
        });
    }
    Ok(out)
}

/// The p-norm's backward from recorded ops (finite p), for a backward that builds a graph:
/// g·sign(x)·|x|^(p−1)/‖x‖^(p−1), g·x/‖x‖ for p = 2, g·sign(x) for p = 1, 0 for p = 0 and where
/// the norm is 0.
fn norm_bwd_graph(g: &Tensor, x: &Tensor, o: &Tensor, p: f64, kept: &[usize]) -> Result<Tensor> {
    use crate::ops::elementwise::{binary, div, mul, scalar_f, unary, Binary, Unary};
    let dt = x.dtype();
    if p == 0.0 {
        return Ok(Tensor::zeros(x.shape(), dt));
    }
    let gk = keep_graph(g, kept, dt)?;
    if p == 1.0 {
        return mul(&gk, &unary(Unary::Sign, x)?);
    }
    let ok = keep_graph(o, kept, dt)?;
    let d = if p == 2.0 {
        div(x, &ok)?
    } else {
        let num = mul(
            &unary(Unary::Sign, x)?,
            &binary(Binary::Pow, &unary(Unary::Abs, x)?, &scalar_f(p - 1.0))?,
        )?;
        div(&num, &binary(Binary::Pow, &ok, &scalar_f(p - 1.0))?)?
    };
    let zero = binary(Binary::Eq, &ok, &scalar_f(0.0))?;
    crate::ops::indexing::where_(&zero, &scalar_f(0.0), &mul(&gk, &d)?)
}

fn sgn(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0
    }
}

/// `torch.all` / `torch.any`: bool result (uint8 for uint8 input).
pub fn all_any(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, all: bool) -> Result<Tensor> {
    let r = red(x, dims, keepdim)?;
    let v: Vec<bool> = crate::dispatch!(x.dtype(), T => reduce::<T, bool, bool>(x, &r.mask, all,
        |a, v| if all { a && v.to_bool() } else { a || v.to_bool() }, |a, _| a));
    let out = Tensor::from_vec_unchecked(v, &r.out_shape);
    Ok(if x.dtype() == DType::U8 {
        out.to_dtype(DType::U8)
    } else {
        out
    })
}

/// `torch.count_nonzero(x, dim)`: int64.
pub fn count_nonzero(x: &Tensor, dims: Option<&[i64]>) -> Result<Tensor> {
    let r = red(x, dims, false)?;
    let v: Vec<i64> = crate::dispatch!(x.dtype(), T => reduce::<T, i64, i64>(x, &r.mask, 0,
        |a, v| a + v.to_bool() as i64, |a, _| a));
    Ok(Tensor::from_vec_unchecked(v, &r.out_shape))
}

/// `torch.logsumexp(x, dim, keepdim)`: shifted by the max so it never overflows.
fn logsumexp_eager(x: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    let xf = if x.dtype().is_float() {
        x.clone()
    } else {
        x.to_dtype(default_dtype())
    };
    let r = red(&xf, Some(dims), keepdim)?;
    let m = if xf.numel() == 0 {
        Tensor::zeros(&r.kept, xf.dtype())
    } else {
        minmax_raw(&xf, &r.mask, true, true)
    };
    let dt = xf.dtype();
    let e = zip_f64(&r.in_shape, DType::F64, [&xf, &m], |[x, m]| {
        if m.is_infinite() {
            x.exp()
        } else {
            (x - m).exp()
        }
    });
    let s = sum_raw(&e, &r.mask, true, None);
    let o = zip_f64(&r.kept, dt, [&s, &m], |[s, m]| {
        if m.is_infinite() {
            s.ln()
        } else {
            s.ln() + m
        }
    });
    let out = crate::ops::copy::clone_raw(&keep(&o, &r.out_shape));
    if dt == x.dtype() && needs_grad(&[x]) {
        let (sx, so) = (x.save(), out.save_output(0));
        // d lse/dx = exp(x - lse)
        record_fused(&out, &[x], "LogsumexpBackward0", move |g| {
            let (x, o) = (
                sx.get("LogsumexpBackward0")?,
                &so.get("LogsumexpBackward0")?,
            );
            if crate::autograd::is_grad_enabled() {
                crate::autograd::composed();
                use crate::ops::elementwise::{mul, sub, unary, Unary};
                // g·exp(x − lse), in the graph
                let (gk, ok) = (
                    keep_graph(g, &r.kept, x.dtype())?,
                    keep_graph(o, &r.kept, x.dtype())?,
                );
                return Ok(vec![Some(mul(&gk, &unary(Unary::Exp, &sub(x, &ok)?)?)?)]);
            }
            Ok(vec![Some(zip_f64(
                &r.in_shape,
                g.dtype(),
                [&keep(g, &r.kept), x, &keep(o, &r.kept)],
                |[g, x, o]| g * (x - o).exp(),
            ))])
        });
    }
    Ok(out)
}

/// Scans each lane along `d` with `f` (front to back, or back to front when `rev`).
fn scan<T: Element>(x: &Tensor, d: usize, rev: bool, f: impl Fn(T, T) -> T) -> Tensor {
    let (l, nl, n) = lanes::<T>(x, d);
    let mut out = l.as_slice::<T>().to_vec();
    for k in 0..nl {
        let a = &mut out[k * n..(k + 1) * n];
        if rev {
            for i in (0..n.saturating_sub(1)).rev() {
                a[i] = f(a[i + 1], a[i]);
            }
        } else {
            for i in 1..n {
                a[i] = f(a[i - 1], a[i]);
            }
        }
    }
    let mut other = x.shape().to_vec();
    if !other.is_empty() {
        other.remove(d);
    }
    unlanes(out, &other, d, n, x.ndim() == 0)
}

/// `torch.cumsum` / `torch.cumprod` (ints and bool accumulate in int64).
fn cumulative_eager(x: &Tensor, dim: i64, dtype: Option<DType>, prod: bool) -> Result<Tensor> {
    let d = normalize_dim(dim, x.ndim())?;
    let dt = dtype.unwrap_or_else(|| sum_dtype(x.dtype()));
    let xc = if x.dtype() != dt {
        x.to_dtype(dt)
    } else {
        x.clone()
    };
    let out = match dt {
        DType::Bool => scan::<bool>(&xc, d, false, |a, b| if prod { a & b } else { a | b }),
        _ => crate::dispatch!(dt, T => scan::<T>(&xc, d, false, |a, b| if prod {
            T::from_f64(a.to_f64() * b.to_f64())
        } else if T::DTYPE.is_float() { T::from_f64(a.to_f64() + b.to_f64()) } else { T::from_i64(a.to_i64().wrapping_add(b.to_i64())) })),
    };
    // Integer products must wrap like torch rather than round through f64.
    let out = if prod && dt.is_int() {
        crate::dispatch!(dt, T => scan::<T>(&xc, d, false, |a, b| T::from_i64(a.to_i64().wrapping_mul(b.to_i64()))))
    } else {
        out
    };
    if out.dtype().is_float() && needs_grad(&[x]) {
        if !prod {
            // d cumsum/dx: reverse cumulative sum of the gradient
            record_fn(&out, &[x], "CumsumBackward0", move |g| {
                let gc = crate::ops::copy::clone_raw(g);
                let gx = crate::dispatch_float!(gc.dtype(), T => scan::<T>(&gc, d, true, |a, b| T::from_f64(a.to_f64() + b.to_f64())), _ => gc);
                // the adjoint of the reversed cumulative sum is the cumulative sum
                Ok(vec![Some(crate::ops::elementwise::linear_in_grad(
                    gx,
                    g,
                    "CumsumBackward0",
                    move |gg| cumulative(gg, d as i64, None, false),
                ))])
            });
        } else {
            let (sx, so) = (x.save(), out.save_output(0));
            record_fused(&out, &[x], "CumprodBackward0", move |g| {
                let (x, o) = (sx.get("CumprodBackward0")?, &so.get("CumprodBackward0")?);
                Ok(vec![Some(cumprod_backward(x, o, g, d))])
            });
        }
    }
    Ok(out)
}

/// grad_i = sum_{j>=i} g_j prod_{k<=j, k!=i} x_k, in O(n) per lane even with zeros.
fn cumprod_backward(x: &Tensor, o: &Tensor, g: &Tensor, d: usize) -> Tensor {
    let dt = g.dtype();
    let (xl, nl, n) = lanes::<f64>(&x.to_dtype(DType::F64), d);
    let (ol, _, _) = lanes::<f64>(&o.to_dtype(DType::F64), d);
    let (gl, _, _) = lanes::<f64>(&g.to_dtype(DType::F64), d);
    let (xs, os, gs) = (
        xl.as_slice::<f64>(),
        ol.as_slice::<f64>(),
        gl.as_slice::<f64>(),
    );
    let mut out = vec![0f64; nl * n];
    for k in 0..nl {
        let (x, o, g, r) = (
            &xs[k * n..(k + 1) * n],
            &os[k * n..(k + 1) * n],
            &gs[k * n..(k + 1) * n],
            &mut out[k * n..(k + 1) * n],
        );
        let z = x.iter().position(|&v| v == 0.0).unwrap_or(n);
        // Before the first zero: sum_{j>=i, j<z} g_j out_j / x_i.
        let mut acc = 0.0;
        for i in (0..z).rev() {
            acc += g[i] * o[i];
            r[i] = acc / x[i];
        }
        if z < n {
            let mut p = if z == 0 { 1.0 } else { o[z - 1] };
            let mut s = g[z] * p;
            for j in z + 1..n {
                p *= x[j];
                s += g[j] * p;
            }
            r[z] = s;
        }
    }
    let mut other = x.shape().to_vec();
    if !other.is_empty() {
        other.remove(d);
    }
    unlanes(out, &other, d, n, x.ndim() == 0).to_dtype(dt)
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// The buffer form of a float reduction `kernel` over `dims` of `x` (None when the output is not
/// a float of x's own dtype, which needs a conversion first).
fn float_into(
    x: &Tensor,
    out: &Tensor,
    dims: Option<&[i64]>,
    kernel: fn(&Tensor, &[bool], &Tensor),
) -> Result<Option<crate::graph::program::IntoFn>> {
    if !(out.dtype().is_float() && out.dtype() == x.dtype()) {
        return Ok(None);
    }
    let mask = reduced_mask(x.ndim(), dims)?;
    Ok(Some(std::sync::Arc::new(
        move |i: &[&Tensor], o: &Tensor| {
            kernel(i[0], &mask, o);
            Ok(())
        },
    )))
}

/// `sum`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn sum(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = sum_eager(x, dims, keepdim, dtype)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.map(|d| d.to_vec());
        let into = float_into(x, &out, dims.as_deref(), float_sum_to)?;
        scope.record1_into(
            "sum",
            &ins,
            &out,
            move |i| sum_eager(&i[0], dims.as_deref(), keepdim, dtype),
            into,
        );
    }
    Ok(out)
}

/// `mean`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn mean(
    x: &Tensor,
    dims: Option<&[i64]>,
    keepdim: bool,
    dtype: Option<DType>,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = mean_eager(x, dims, keepdim, dtype)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.map(|d| d.to_vec());
        let into = float_into(x, &out, dims.as_deref(), float_mean_to)?;
        scope.record1_into(
            "mean",
            &ins,
            &out,
            move |i| mean_eager(&i[0], dims.as_deref(), keepdim, dtype),
            into,
        );
    }
    Ok(out)
}

/// `prod`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn prod(x: &Tensor, dim: Option<i64>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    let scope = capture::scope();
    let out = prod_eager(x, dim, keepdim, dtype)?;
    if scope.on() {
        let ins = [x];
        scope.record1("prod", &ins, &out, move |i| {
            prod_eager(&i[0], dim, keepdim, dtype)
        });
    }
    Ok(out)
}

/// `amax`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn amax(x: &Tensor, dims: Option<&[i64]>, keepdim: bool, max: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = amax_eager(x, dims, keepdim, max)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.map(|d| d.to_vec());
        scope.record1("amax", &ins, &out, move |i| {
            amax_eager(&i[0], dims.as_deref(), keepdim, max)
        });
    }
    Ok(out)
}

/// `max_all`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn max_all(x: &Tensor, max: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = max_all_eager(x, max)?;
    if scope.on() {
        let ins = [x];
        scope.record1("max_all", &ins, &out, move |i| max_all_eager(&i[0], max));
    }
    Ok(out)
}

/// `max_dim`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn max_dim(x: &Tensor, dim: i64, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
    let scope = capture::scope();
    let (a, b) = max_dim_eager(x, dim, keepdim, max)?;
    if scope.on() {
        let ins = [x];
        scope.record("max_dim", &ins, &[&a, &b], move |i| {
            let (a, b) = max_dim_eager(&i[0], dim, keepdim, max)?;
            Ok(vec![a, b])
        });
    }
    Ok((a, b))
}

/// `argmax`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn argmax(x: &Tensor, dim: Option<i64>, keepdim: bool, max: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = argmax_eager(x, dim, keepdim, max)?;
    if scope.on() {
        let ins = [x];
        scope.record1("argmax", &ins, &out, move |i| {
            argmax_eager(&i[0], dim, keepdim, max)
        });
    }
    Ok(out)
}

/// `var_mean`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn var_mean(
    x: &Tensor,
    dims: Option<&[i64]>,
    correction: f64,
    keepdim: bool,
    std: bool,
) -> Result<(Tensor, Tensor)> {
    let scope = capture::scope();
    let (a, b) = var_mean_eager(x, dims, correction, keepdim, std)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.map(|d| d.to_vec());
        scope.record("var_mean", &ins, &[&a, &b], move |i| {
            let (a, b) = var_mean_eager(&i[0], dims.as_deref(), correction, keepdim, std)?;
            Ok(vec![a, b])
        });
    }
    Ok((a, b))
}

/// `norm`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn norm(x: &Tensor, p: f64, dims: Option<&[i64]>, keepdim: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = norm_eager(x, p, dims, keepdim)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.map(|d| d.to_vec());
        scope.record1("norm", &ins, &out, move |i| {
            norm_eager(&i[0], p, dims.as_deref(), keepdim)
        });
    }
    Ok(out)
}

/// `logsumexp`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn logsumexp(x: &Tensor, dims: &[i64], keepdim: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = logsumexp_eager(x, dims, keepdim)?;
    if scope.on() {
        let ins = [x];
        let dims = dims.to_vec();
        scope.record1("logsumexp", &ins, &out, move |i| {
            logsumexp_eager(&i[0], &dims, keepdim)
        });
    }
    Ok(out)
}

/// `cumulative`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn cumulative(x: &Tensor, dim: i64, dtype: Option<DType>, prod: bool) -> Result<Tensor> {
    let scope = capture::scope();
    let out = cumulative_eager(x, dim, dtype, prod)?;
    if scope.on() {
        let ins = [x];
        scope.record1("cumulative", &ins, &out, move |i| {
            cumulative_eager(&i[0], dim, dtype, prod)
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sums() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        let s = sum(&x, Some(&[1]), false, None).unwrap();
        assert_eq!(s.as_slice::<f32>(), &[3.0, 12.0]);
        let s = sum(&x, None, false, None).unwrap();
        assert_eq!(s.shape(), &[] as &[usize]);
        assert_eq!(s.as_slice::<f32>(), &[15.0]);
        let t = sum_to(&x, &[1, 3]).unwrap();
        assert_eq!(t.as_slice::<f32>(), &[3.0, 5.0, 7.0]);
        let e = Tensor::zeros(&[0, 3], DType::F32);
        assert_eq!(
            sum(&e, Some(&[0]), false, None).unwrap().as_slice::<f32>(),
            &[0.0, 0.0, 0.0]
        );
    }
}
