//! Selection ops: where (and, as they land, gather/scatter/index_select/masked ops).

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::strided::for_each_run;
use crate::ops::elementwise::{linear_in_grad, record_fn, record_fused, result_type};
use crate::shape::{self, Dims, Strides};
use crate::tensor::Tensor;
use smallvec::SmallVec;

/// `torch.where(cond, a, b)` with broadcasting over all three.
fn where_eager(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if cond.dtype() != DType::Bool && cond.dtype() != DType::U8 {
        return Err(Error::runtime(format!(
            "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
            cond.dtype().scalar_name()
        )));
    }
    let s = shape::broadcast_shapes(
        &shape::broadcast_shapes(cond.shape(), a.shape())?,
        b.shape(),
    )?;
    let dt = result_type(&[a, b]);
    let ac = if a.dtype() != dt {
        a.to_dtype(dt)
    } else {
        a.clone()
    };
    let bc = if b.dtype() != dt {
        b.to_dtype(dt)
    } else {
        b.clone()
    };
    let cc = if cond.dtype() != DType::Bool {
        cond.to_dtype(DType::Bool)
    } else {
        cond.clone()
    };
    let out = crate::dispatch!(dt, T => {
        let n = shape::numel(&s);
        let mut v: Vec<T> = Vec::with_capacity(n);
        let dst = v.as_mut_ptr();
        let sc = shape::broadcast_strides(cc.shape(), cc.strides(), &s);
        let sa = shape::broadcast_strides(ac.shape(), ac.strides(), &s);
        let sb = shape::broadcast_strides(bc.shape(), bc.strides(), &s);
        let so = shape::contiguous_strides(&s);
        let (pc, pa, pb) = (cc.ptr::<bool>(), ac.ptr::<T>(), bc.ptr::<T>());
        for_each_run(&s, [&sc, &sa, &sb, &so], |o, len, st| {
            for i in 0..len as isize {
                // SAFETY: offsets from valid broadcast layouts; every output element written once.
                unsafe {
                    let c = *pc.offset(o[0] + i * st[0]);
                    let x = if c { *pa.offset(o[1] + i * st[1]) } else { *pb.offset(o[2] + i * st[2]) };
                    *dst.offset(o[3] + i * st[3]) = x;
                }
            }
        });
        // SAFETY: all n elements written.
        unsafe { v.set_len(n) };
        Tensor::from_vec_unchecked(v, &s)
    });
    if dt.is_float() && crate::autograd::needs_grad(&[a, b]) {
        let c = cond.save();
        // the gradient goes to a where cond holds, to b elsewhere
        record_fn(&out, &[a, b], "WhereBackward0", move |g| {
            let c = c.get("WhereBackward0")?;
            let z = Tensor::wrapped_scalar(0.0f64);
            Ok(vec![Some(where_(c, g, &z)?), Some(where_(c, &z, g)?)])
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Tensor indexing: x[...] and x[...] = v, with basic (view) and advanced (copying) indices.
// ---------------------------------------------------------------------------------------------

use crate::autograd::{is_grad_enabled, needs_grad, GradModeGuard};
use crate::dtype::Element;
use crate::kernels::elementwise::cast;
use crate::ops::movement;
use std::sync::Arc;

/// One component of an index expression, as parsed from Python.
#[derive(Clone, Debug)]
pub enum Idx {
    Int(i64),
    /// start, stop, step (Python's `slice`; `None` is absent).
    Slice(Option<i64>, Option<i64>, Option<i64>),
    None,
    Ellipsis,
    Bool(bool),
    Tensor(Tensor),
}

fn is_mask(t: &Tensor) -> bool {
    matches!(t.dtype(), DType::Bool | DType::U8)
}

/// Applies ints, slices, None, Ellipsis as views (recorded), collecting the advanced indices as
/// (dim of the resulting view, int64 index tensor).
fn apply_basic(x: &Tensor, items: &[Idx]) -> Result<(Tensor, Vec<(usize, Tensor)>)> {
    let mut consumed = 0usize;
    for it in items {
        match it {
            Idx::Int(_) | Idx::Slice(..) => consumed += 1,
            Idx::Tensor(t) if is_mask(t) => consumed += t.ndim(),
            Idx::Tensor(_) => consumed += 1,
            Idx::Ellipsis | Idx::None | Idx::Bool(_) => {}
        }
    }
    let nd = x.ndim();
    if consumed > nd {
        if nd == 0 {
            return Err(Error::index(
                "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to \
                 convert a 0-dim tensor to a number",
            ));
        }
        return Err(Error::index(format!(
            "too many indices for tensor of dimension {nd}"
        )));
    }
    let mut v = x.clone();
    let mut d = 0usize;
    let mut adv: Vec<(usize, Tensor)> = Vec::new();
    for (pos, it) in items.iter().enumerate() {
        let needs_dim = match it {
            Idx::Int(_) | Idx::Slice(..) => 1,
            Idx::Tensor(t) if is_mask(t) => t.ndim(),
            Idx::Tensor(_) => 1,
            _ => 0,
        };
        if d + needs_dim > v.ndim() {
            return Err(Error::index(format!(
                "too many indices for tensor of dimension {nd}"
            )));
        }
        match it {
            Idx::Int(i) => v = select_checked(&v, d, *i, pos)?,
            Idx::Slice(start, stop, step) => {
                let (s, len, st) = slice_bounds(*start, *stop, *step, v.shape()[d])?;
                if !(s == 0 && len == v.shape()[d] && st == 1) {
                    v = movement::slice(&v, d, s, len, st)?;
                }
                d += 1;
            }
            Idx::None => {
                v = movement::unsqueeze(&v, d as i64)?;
                d += 1;
            }
            // torch lets every Ellipsis expand by the same count (so `x[..., ...]` is `x`)
            Idx::Ellipsis => d += nd - consumed,
            Idx::Bool(b) => {
                v = movement::unsqueeze(&v, d as i64)?;
                adv.push((d, bool_scalar_index(*b)));
                d += 1;
            }
            Idx::Tensor(t) if is_mask(t) => {
                if t.ndim() == 0 {
                    let b = crate::dispatch!(t.dtype(), T => t.get_flat::<T>(0).to_bool());
                    v = movement::unsqueeze(&v, d as i64)?;
                    adv.push((d, bool_scalar_index(b)));
                    d += 1;
                    continue;
                }
                for k in 0..t.ndim() {
                    if t.shape()[k] != v.shape()[d + k] {
                        return Err(Error::index(format!(
                            "The shape of the mask {} at index {k} does not match the shape of the indexed tensor {} \
                             at index {}",
                            shape::fmt_shape(t.shape()),
                            shape::fmt_shape(v.shape()),
                            d + k
                        )));
                    }
                }
                let nz = nonzero_cols(t);
                for (k, col) in nz.into_iter().enumerate() {
                    adv.push((d + k, col));
                }
                d += t.ndim();
            }
            Idx::Tensor(t) => {
                if t.dtype().is_float() {
                    return Err(Error::index(
                        "tensors used as indices must be long, int, byte or bool tensors",
                    ));
                }
                if t.ndim() == 0
                    && adv.is_empty()
                    && !items.iter().any(|i| {
                        matches!(i, Idx::Tensor(u) if u.ndim() > 0 || is_mask(u))
                            || matches!(i, Idx::Bool(_))
                    })
                {
                    // a 0-d integer tensor alone among basic indices acts like a Python int
                    v = select_checked(&v, d, t.get_flat_i64(0), pos)?;
                    continue;
                }
                adv.push((d, t.clone()));
                d += 1;
            }
        }
    }
    Ok((v, adv))
}

/// `select` with getitem's error, which names the position of the index in the key (torch's wording).
fn select_checked(v: &Tensor, d: usize, i: i64, pos: usize) -> Result<Tensor> {
    let size = v.shape()[d] as i64;
    if i < -size || i >= size {
        return Err(Error::index(format!(
            "index {i} is out of bounds for dimension {pos} with size {size}"
        )));
    }
    movement::select(v, d as i64, i)
}

/// `x[i]` for a Python int: the fast path of `__getitem__`.
fn index_int_eager(x: &Tensor, i: i64) -> Result<Tensor> {
    if x.ndim() == 0 {
        return index(x, &[Idx::Int(i)]);
    }
    select_checked(x, 0, i, 0)
}

fn bool_scalar_index(b: bool) -> Tensor {
    if b {
        Tensor::from_vec_unchecked(vec![0i64], &[1])
    } else {
        Tensor::from_vec_unchecked(Vec::<i64>::new(), &[0])
    }
}

impl Tensor {
    /// Element `i` (row-major) of an integer/bool tensor as i64.
    pub fn get_flat_i64(&self, i: usize) -> i64 {
        crate::dispatch!(self.dtype(), T => self.get_flat::<T>(i).to_i64())
    }
}

/// torch's slice normalisation: (start, len, step) for a dim of `size`.
fn slice_bounds(
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
    size: usize,
) -> Result<(usize, usize, usize)> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(Error::value("slice step cannot be zero"));
    }
    if step < 0 {
        return Err(Error::value("step must be greater than zero"));
    }
    let n = size as i64;
    let norm = |v: i64| {
        if v < 0 {
            (v.saturating_add(n)).max(0)
        } else {
            v.min(n)
        }
    };
    let s = norm(start.unwrap_or(0));
    let e = norm(stop.unwrap_or(n));
    let len = if e > s {
        ((e - s) as u64).div_ceil(step as u64) as usize
    } else {
        0
    };
    Ok((s as usize, len, step as usize))
}

/// The coordinates of the nonzero elements of `t`, one int64 column per dim (row-major order).
fn nonzero_cols(t: &Tensor) -> Vec<Tensor> {
    let nd = t.ndim();
    let mut cols: Vec<Vec<i64>> = vec![Vec::new(); nd];
    let n = t.numel();
    if nd == 0 {
        return vec![];
    }
    crate::dispatch!(t.dtype(), T => {
        if t.is_contiguous() {
            let s = t.as_slice::<T>();
            let sh = t.shape();
            for (i, v) in s.iter().enumerate() {
                if v.to_bool() {
                    let mut r = i;
                    for k in (0..nd).rev() {
                        cols[k].push((r % sh[k]) as i64);
                        r /= sh[k];
                    }
                }
            }
        } else {
            for i in 0..n {
                if t.get_flat::<T>(i).to_bool() {
                    let mut r = i;
                    for k in (0..nd).rev() {
                        cols[k].push((r % t.shape()[k]) as i64);
                        r /= t.shape()[k];
                    }
                }
            }
        }
    });
    cols.into_iter()
        .map(|c| {
            let l = c.len();
            Tensor::from_vec_unchecked(c, &[l])
        })
        .collect()
}

/// `x.nonzero()`: an (n, ndim) int64 tensor of coordinates.
pub fn nonzero(x: &Tensor) -> Tensor {
    let nd = x.ndim();
    if nd == 0 {
        let nz = crate::dispatch!(x.dtype(), T => x.get_flat::<T>(0).to_bool());
        return Tensor::zeros(&[nz as usize, 0], DType::I64);
    }
    let cols = nonzero_cols(x);
    let n = cols[0].numel();
    let mut out = Vec::with_capacity(n * nd);
    for i in 0..n {
        for c in &cols {
            out.push(c.as_slice::<i64>()[i]);
        }
    }
    Tensor::from_vec_unchecked(out, &[n, nd])
}

/// `x.nonzero(as_tuple=True)`: one 1-D int64 tensor per dim (a 0-d input counts as 1-D).
pub fn nonzero_tuple(x: &Tensor) -> Vec<Tensor> {
    if x.ndim() == 0 {
        let nz = crate::dispatch!(x.dtype(), T => x.get_flat::<T>(0).to_bool());
        return vec![bool_scalar_index(nz)];
    }
    nonzero_cols(x)
}

/// Where the advanced indices of an indexing expression read: the broadcast index values
/// resolved once, reusable for the forward gather, the backward scatter and `__setitem__`.
pub struct AdvPlan {
    src_shape: Vec<usize>,
    adv_dims: Vec<usize>,
    /// Normalised (non-negative) indices, one row of `nb` per advanced dim.
    idx: Vec<Vec<usize>>,
    bshape: Vec<usize>,
    rest_dims: Vec<usize>,
    /// Position of the broadcast block in the output shape.
    bpos: usize,
    pub out_shape: Vec<usize>,
}

/// How an out-of-range index is reported.
#[derive(Clone, Copy)]
enum RangeMsg {
    /// `index 5 is out of bounds for dimension 0 with size 3` (IndexError).
    Getitem,
    /// `index out of range in self` (IndexError; index_select).
    Select,
    /// `out of range: tried to access index 50 on a tensor of 12 elements.` (IndexError; take/put).
    Take,
}

impl AdvPlan {
    fn new(src_shape: &[usize], adv: &[(usize, Tensor)], msg: RangeMsg) -> Result<AdvPlan> {
        let mut bshape: Dims = SmallVec::new();
        for (_, t) in adv {
            bshape = shape::broadcast_shapes(&bshape, t.shape()).map_err(|_| {
                Error::index(format!(
                    "shape mismatch: indexing tensors could not be broadcast together with shapes {}",
                    adv.iter().map(|(_, t)| shape::fmt_shape(t.shape())).collect::<Vec<_>>().join(", ")
                ))
            })?;
        }
        let nb = shape::numel(&bshape);
        let mut idx = Vec::with_capacity(adv.len());
        for (k, (d, t)) in adv.iter().enumerate() {
            let size = src_shape[*d] as i64;
            let bt = t.view_parts(
                SmallVec::from_slice(&bshape),
                shape::broadcast_strides(t.shape(), t.strides(), &bshape),
                t.offset(),
            );
            let vals: Vec<i64> = if bt.dtype() == DType::I64 && bt.is_contiguous() {
                bt.as_slice::<i64>().to_vec()
            } else {
                let c = bt.to_dtype(DType::I64);
                c.as_slice::<i64>().to_vec()
            };
            let mut row = Vec::with_capacity(nb);
            for v in vals {
                if v < -size || v >= size {
                    return Err(match msg {
                        RangeMsg::Getitem if size == 0 => {
                            Error::index("index is out of bounds for dimension with size 0")
                        }
                        RangeMsg::Getitem => {
                            Error::index(format!("index {v} is out of bounds for dimension {k} with size {size}"))
                        }
                        RangeMsg::Select => Error::index("index out of range in self"),
                        RangeMsg::Take => Error::index(format!(
                            "out of range: tried to access index {v} on a tensor of {size} elements."
                        )),
                    });
                }
                row.push(if v < 0 { v + size } else { v } as usize);
            }
            idx.push(row);
        }
        let adv_dims: Vec<usize> = adv.iter().map(|(d, _)| *d).collect();
        let adjacent = adv_dims.windows(2).all(|w| w[1] == w[0] + 1);
        let rest_dims: Vec<usize> = (0..src_shape.len())
            .filter(|d| !adv_dims.contains(d))
            .collect();
        let bpos = if adjacent { adv_dims[0] } else { 0 };
        let mut out_shape: Vec<usize> = rest_dims.iter().map(|&d| src_shape[d]).collect();
        for (i, &b) in bshape.iter().enumerate() {
            out_shape.insert(bpos + i, b);
        }
        Ok(AdvPlan {
            src_shape: src_shape.to_vec(),
            adv_dims,
            idx,
            bshape: bshape.to_vec(),
            rest_dims,
            bpos,
            out_shape,
        })
    }

    /// Calls `f(offset in a, offset in b)` for every indexed element, where `a` is laid out like
    /// the source (strides `sa`) and `b` like the indexing result (strides `sb`).
    fn walk(&self, sa: &[isize], sb: &[isize], mut f: impl FnMut(isize, isize)) {
        let nb = shape::numel(&self.bshape);
        let nbd = self.bshape.len();
        let bstr = &sb[self.bpos..self.bpos + nbd];
        let rest_shape: Vec<usize> = self.rest_dims.iter().map(|&d| self.src_shape[d]).collect();
        let ra: Vec<isize> = self.rest_dims.iter().map(|&d| sa[d]).collect();
        let rb: Vec<isize> = (0..sb.len())
            .filter(|&i| i < self.bpos || i >= self.bpos + nbd)
            .map(|i| sb[i])
            .collect();
        let mut bidx = vec![0usize; nbd];
        let mut ob = 0isize;
        for p in 0..nb {
            let mut oa = 0isize;
            for (k, row) in self.idx.iter().enumerate() {
                oa += row[p] as isize * sa[self.adv_dims[k]];
            }
            if rest_shape.is_empty() {
                f(oa, ob);
            } else {
                for_each_run(&rest_shape, [&ra, &rb], |o, len, st| {
                    for i in 0..len as isize {
                        f(oa + o[0] + i * st[0], ob + o[1] + i * st[1]);
                    }
                });
            }
            // odometer over the broadcast block, tracking b's offset
            let mut j = nbd;
            while j > 0 {
                j -= 1;
                bidx[j] += 1;
                ob += bstr[j];
                if bidx[j] < self.bshape[j] {
                    break;
                }
                ob -= bstr[j] * self.bshape[j] as isize;
                bidx[j] = 0;
            }
        }
    }

    /// A fresh contiguous tensor with the indexed elements of `src`.
    fn gather(&self, src: &Tensor) -> Tensor {
        let n = shape::numel(&self.out_shape);
        let os = shape::contiguous_strides(&self.out_shape);
        crate::dispatch!(src.dtype(), T => {
            let mut v: Vec<T> = vec![T::default(); n];
            let ps = src.ptr::<T>();
            let pd = v.as_mut_ptr();
            // SAFETY: the plan's offsets are in bounds of src's layout and of the contiguous output.
            self.walk(src.strides(), &os, |a, b| unsafe { *pd.offset(b) = *ps.offset(a) });
            Tensor::from_vec_unchecked(v, &self.out_shape)
        })
    }

    /// Writes `val` (broadcast to the result shape, cast to dst's dtype) into the indexed elements
    /// of `dst`; with `accumulate` duplicates add up, otherwise the last write wins.
    fn put(&self, dst: &Tensor, val: &Tensor, accumulate: bool) {
        let vs = shape::broadcast_strides(val.shape(), val.strides(), &self.out_shape);
        crate::dispatch!(dst.dtype(), D => crate::dispatch!(val.dtype(), S => {
            let pd = dst.ptr::<D>();
            let ps = val.ptr::<S>();
            // SAFETY: offsets are in bounds of dst's layout and of val's broadcast layout.
            if accumulate {
                self.walk(dst.strides(), &vs, |a, b| unsafe {
                    let p = pd.offset(a);
                    *p = add_el(*p, cast::<S, D>(*ps.offset(b)));
                });
            } else {
                self.walk(dst.strides(), &vs, |a, b| unsafe { *pd.offset(a) = cast::<S, D>(*ps.offset(b)) });
            }
        }));
        dst.storage().bump_version();
    }
}

#[inline(always)]
fn add_el<T: Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() + b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_bool(a.to_bool() | b.to_bool())
    } else {
        T::from_i64(a.to_i64().wrapping_add(b.to_i64()))
    }
}

#[inline(always)]
fn mul_el<T: Element>(a: T, b: T) -> T {
    if T::DTYPE.is_float() {
        T::from_f64(a.to_f64() * b.to_f64())
    } else if T::DTYPE == DType::Bool {
        T::from_bool(a.to_bool() & b.to_bool())
    } else {
        T::from_i64(a.to_i64().wrapping_mul(b.to_i64()))
    }
}

/// Gathers the advanced indices of `v` into a new tensor, recording `name` as its backward.
fn adv_gather(
    v: &Tensor,
    adv: &[(usize, Tensor)],
    msg: RangeMsg,
    name: &'static str,
) -> Result<Tensor> {
    let plan = AdvPlan::new(v.shape(), adv, msg)?;
    Ok(planned_gather(v, Arc::new(plan), name))
}

/// `plan.gather(v)` in the graph; the backward's own backward gathers again (double backward).
fn planned_gather(v: &Tensor, plan: Arc<AdvPlan>, name: &'static str) -> Tensor {
    let out = plan.gather(v);
    if v.dtype().is_float() && needs_grad(&[v]) {
        let dt = v.dtype();
        // d out/d v scatters the gradient back; repeated indices accumulate
        record_fn(&out, &[v], name, move |g| {
            let z = Tensor::zeros(&plan.src_shape, dt);
            plan.put(&z, g, true);
            let p = plan.clone();
            Ok(vec![Some(linear_in_grad(
                z,
                g,
                "IndexPutBackward0",
                move |gg| Ok(planned_gather(gg, p.clone(), name)),
            ))])
        });
    }
    out
}

/// `x[items]`.
pub fn index(x: &Tensor, items: &[Idx]) -> Result<Tensor> {
    let (v, adv) = apply_basic(x, items)?;
    if adv.is_empty() {
        // torch returns a new view even for `x[...]`
        return Ok(if v.same(x) {
            movement::alias_tracked(x)
        } else {
            v
        });
    }
    adv_gather(&v, &adv, RangeMsg::Getitem, "IndexBackward0")
}

/// Raw `dst[items] = value` (no autograd checks), with torch's shape/dtype errors.
fn index_put_raw(dst: &Tensor, items: &[Idx], value: &Tensor, accumulate: bool) -> Result<()> {
    let (v, adv) = {
        let _g = GradModeGuard::new(false);
        apply_basic(dst, items)?
    };
    let value = if value.shares_storage(dst) {
        value.deep_clone()
    } else {
        value.clone()
    };
    if adv.is_empty() {
        let b = shape::broadcast_shapes(v.shape(), value.shape());
        if b.as_ref()
            .map(|b| b.as_slice() != v.shape())
            .unwrap_or(true)
        {
            let _g = GradModeGuard::new(false);
            movement::expand(&value, v.shape())?;
            return Err(Error::runtime(format!(
                "output with shape {} doesn't match the broadcast shape {}",
                shape::fmt_shape(v.shape()),
                shape::fmt_shape(value.shape())
            )));
        }
        if accumulate {
            crate::dispatch!(v.dtype(), D => crate::dispatch!(value.dtype(), S => {
                crate::kernels::elementwise::update2::<D, S>(&v, &value, |a, b| add_el(a, cast::<S, D>(b)))
            }));
        } else {
            crate::kernels::elementwise::copy_cast(&v, &value);
        }
        return Ok(());
    }
    let plan = AdvPlan::new(v.shape(), &adv, RangeMsg::Getitem)?;
    if value.dtype() != dst.dtype() && !value.is_wrapped_number() {
        return Err(Error::runtime(format!(
            "Index put requires the source and destination dtypes match, got {} for the destination and {} for the \
             source.",
            dst.dtype().scalar_name(),
            value.dtype().scalar_name()
        )));
    }
    let ok = shape::broadcast_shapes(&plan.out_shape, value.shape())
        .map(|b| b.as_slice() == plan.out_shape.as_slice());
    if !ok.unwrap_or(false) {
        return Err(Error::runtime(format!(
            "shape mismatch: value tensor of shape {} cannot be broadcast to indexing result of shape {}",
            shape::fmt_shape(value.shape()),
            shape::fmt_shape(&plan.out_shape)
        )));
    }
    plan.put(&v, &value, accumulate);
    Ok(())
}

/// Functional `index_put(x, items, value)`: a copy of x with the indexed elements replaced.
pub fn index_put(x: &Tensor, items: &[Idx], value: &Tensor, accumulate: bool) -> Result<Tensor> {
    let out = x.deep_clone();
    index_put_raw(&out, items, value, accumulate)?;
    if needs_grad(&[x, value]) && out.dtype().is_float() {
        let items: Arc<Vec<Idx>> = Arc::new(items.to_vec());
        // d/dx: the gradient except where overwritten (all of it when accumulating);
        // d/dvalue: the gradient at the indexed positions (summed back to value's shape by the engine)
        record_fused(&out, &[x, value], "IndexPutBackward0", move |g| {
            let _g = GradModeGuard::new(false);
            let gx = if accumulate {
                g.clone()
            } else {
                let c = g.deep_clone();
                index_put_raw(&c, &items, &Tensor::wrapped_scalar(0.0f64), false)?;
                c
            };
            let gv = index(g, &items)?;
            Ok(vec![Some(gx), Some(gv)])
        });
    }
    Ok(out)
}

/// `x[items] = value` in place, following torch's autograd rules for in-place writes.
pub fn setitem(x: &Tensor, items: &[Idx], value: &Tensor) -> Result<()> {
    crate::ops::elementwise::check_inplace(x)?;
    let recording = is_grad_enabled() && (x.requires_grad() || value.requires_grad());
    if !recording {
        return index_put_raw(x, items, value, false);
    }
    inplace_recorded(x, |old| index_put(old, items, value, false))
}

/// Runs an out-of-place version of an in-place op on a snapshot of `dst` and makes its result
/// (and its graph node) the new content and history of `dst` (`commit_inplace` rebases the base
/// of a view through CopySlices, or refuses what it cannot follow).
fn inplace_recorded(dst: &Tensor, f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
    if !dst.dtype().is_float() {
        return Err(Error::runtime(
            "only Tensors of floating point dtype can require gradients",
        ));
    }
    let old = crate::ops::copy::clone(dst)?;
    let new = f(&old)?;
    crate::ops::elementwise::commit_inplace(dst, &new)
}

/// Runs an in-place op: directly when autograd is not involved, else through `inplace_recorded`.
fn inplace(
    dst: &Tensor,
    others: &[&Tensor],
    f: impl FnOnce(&Tensor) -> Result<Tensor>,
) -> Result<()> {
    crate::ops::elementwise::check_inplace(dst)?;
    let recording =
        is_grad_enabled() && (dst.requires_grad() || others.iter().any(|t| t.requires_grad()));
    if recording {
        return inplace_recorded(dst, f);
    }
    let new = f(dst)?;
    crate::ops::elementwise::commit_inplace(dst, &new)
}

fn check_index_dtype(index: &Tensor, op: &str) -> Result<()> {
    let ok = index.dtype() == DType::I64 || index.dtype() == DType::I32;
    if !ok {
        return Err(match op {
            "index_select" => {
                Error::runtime("index_select(): Expected dtype int32 or int64 for index")
            }
            "index_add_" => Error::runtime(format!(
                "index_add_(): Expected dtype int32/int64 for index but got: {}",
                index.dtype().scalar_name()
            )),
            _ => Error::runtime(format!("{op}(): Expected dtype int32/int64 for index")),
        });
    }
    Ok(())
}

/// A 0-d tensor as a 1-element 1-D view (torch's `ensure_nonempty_dim` treatment).
fn as_1d(t: &Tensor) -> Tensor {
    if t.ndim() == 0 {
        t.view_parts(
            SmallVec::from_slice(&[1]),
            SmallVec::from_slice(&[1]),
            t.offset(),
        )
    } else {
        t.clone()
    }
}

/// `x.index_select(dim, index)`.
fn index_select_eager(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let nd = x.ndim().max(1);
    let d = shape::normalize_dim(dim, nd)?;
    if index.ndim() > 1 {
        return Err(Error::index(
            "index_select(): Index is supposed to be a vector",
        ));
    }
    check_index_dtype(index, "index_select")?;
    let size = if x.ndim() == 0 { 1 } else { x.shape()[d] } as i64;
    let idx = as_1d(index);
    for i in 0..idx.numel() {
        let v = idx.get_flat_i64(i);
        if v < 0 || v >= size {
            return Err(Error::index("index out of range in self"));
        }
    }
    let src = if x.ndim() == 0 {
        movement::reshape(x, &[1])?
    } else {
        x.clone()
    };
    let out = adv_gather(&src, &[(d, idx)], RangeMsg::Select, "IndexSelectBackward0")?;
    if x.ndim() == 0 {
        return movement::reshape(&out, &[]).or(Ok(out));
    }
    Ok(out)
}

/// `x.take(index)`: elements of the flattened x at `index` (negative wraps), shaped like index.
pub fn take(x: &Tensor, index: &Tensor) -> Result<Tensor> {
    if index.dtype() != DType::I64 {
        return Err(Error::runtime(format!(
            "take(): Expected a long tensor for index, but got {}",
            index.dtype().scalar_name()
        )));
    }
    let flat = movement::reshape(x, &[-1])?;
    adv_gather(
        &flat,
        &[(0, index.clone())],
        RangeMsg::Take,
        "TakeBackward0",
    )
}

/// `x.put(index, source, accumulate)` out of place.
pub fn put(x: &Tensor, index: &Tensor, source: &Tensor, accumulate: bool) -> Result<Tensor> {
    if index.dtype() != DType::I64 {
        return Err(Error::runtime(format!(
            "put_(): Expected a long tensor for index, but got {}",
            index.dtype().scalar_name()
        )));
    }
    if source.dtype() != x.dtype() {
        return Err(Error::runtime(format!(
            "put_(): self and source expected to have the same dtype, but got self.dtype = {} and source.dtype = {}",
            x.dtype().scalar_name(),
            source.dtype().scalar_name()
        )));
    }
    if source.numel() != index.numel() {
        return Err(Error::runtime(format!(
            "put_(): Expected source and index to have the same number of elements, but got source.numel() = {}, \
             index.numel() = {}",
            source.numel(),
            index.numel()
        )));
    }
    let out = x.deep_clone();
    let flat_shape = [x.numel()];
    let plan = AdvPlan::new(&flat_shape, &[(0, index.clone())], RangeMsg::Take)?;
    let flat_out = out.view_parts(
        SmallVec::from_slice(&flat_shape),
        SmallVec::from_slice(&[1]),
        0,
    );
    let src = source.deep_clone();
    let src = src.view_parts(
        SmallVec::from_slice(index.shape()),
        shape::contiguous_strides(index.shape()),
        0,
    );
    plan.put(&flat_out, &src, accumulate);
    if out.dtype().is_float() && needs_grad(&[x, source]) {
        let plan = Arc::new(plan);
        let (xs, ss): (Vec<usize>, Vec<usize>) = (x.shape().to_vec(), source.shape().to_vec());
        // d/dx: g except at overwritten positions; d/dsource: g taken at index
        record_fused(&out, &[x, source], "PutBackward0", move |g| {
            let gc = g.deep_clone();
            let flat = gc.view_parts(
                SmallVec::from_slice(&[gc.numel()]),
                SmallVec::from_slice(&[1]),
                0,
            );
            let gs = plan.gather(&flat);
            let gs = gs.view_parts(SmallVec::from_slice(&ss), shape::contiguous_strides(&ss), 0);
            if !accumulate {
                plan.put(&flat, &Tensor::wrapped_scalar(0.0f64), false);
            }
            let gx = gc.view_parts(SmallVec::from_slice(&xs), shape::contiguous_strides(&xs), 0);
            Ok(vec![Some(gx), Some(gs)])
        });
    }
    Ok(out)
}

pub fn put_(x: &Tensor, index: &Tensor, source: &Tensor, accumulate: bool) -> Result<()> {
    inplace(x, &[source], |old| put(old, index, source, accumulate))
}

/// `x.masked_fill(mask, value)` with `value` a 0-d tensor (a Python number arrives wrapped).
fn masked_fill_eager(x: &Tensor, mask: &Tensor, value: &Tensor) -> Result<Tensor> {
    if mask.dtype() != DType::Bool {
        return Err(Error::runtime(format!(
            "masked_fill_ only supports boolean masks, but got mask with dtype {}",
            c_type_name(mask.dtype())
        )));
    }
    if value.ndim() != 0 {
        return Err(Error::runtime(format!(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
            value.ndim()
        )));
    }
    let v = if value.dtype() == x.dtype() {
        value.clone()
    } else if value.dtype().is_float() && x.dtype().is_float() {
        crate::ops::copy::to_dtype(value, x.dtype(), false)?
    } else {
        value.to_dtype(x.dtype())
    };
    let out = {
        let _g = GradModeGuard::new(false);
        where_(mask, &v, x)?
    };
    let out = if out.dtype() != x.dtype() {
        out.to_dtype(x.dtype())
    } else {
        out
    };
    if out.dtype().is_float() && needs_grad(&[x, &v]) {
        let m = mask.save();
        // d/dx: g where the mask is off; d/dvalue: g summed where it is on (the engine sums to 0-d)
        record_fn(&out, &[x, &v], "MaskedFillBackward0", move |g| {
            let m = m.get("MaskedFillBackward0")?;
            let z = Tensor::wrapped_scalar(0.0f64);
            Ok(vec![Some(where_(m, &z, g)?), Some(where_(m, g, &z)?)])
        });
    }
    Ok(out)
}

fn masked_fill_inplace_eager(x: &Tensor, mask: &Tensor, value: &Tensor) -> Result<()> {
    let b = shape::broadcast_shapes(x.shape(), mask.shape())?;
    if b.as_slice() != x.shape() {
        return Err(Error::runtime(format!(
            "output with shape {} doesn't match the broadcast shape {}",
            shape::fmt_shape(x.shape()),
            shape::fmt_shape(&b)
        )));
    }
    inplace(x, &[value], |old| masked_fill(old, mask, value))
}

/// The C++ type name torch prints in some dtype errors.
fn c_type_name(dt: DType) -> &'static str {
    match dt {
        DType::Bool => "bool",
        DType::U8 => "unsigned char",
        DType::I32 => "int",
        DType::I64 => "long int",
        DType::F32 => "float",
        DType::F64 => "double",
    }
}

/// `x.masked_select(mask)`: the elements where mask holds (both broadcast), as a 1-D tensor.
pub fn masked_select(x: &Tensor, mask: &Tensor) -> Result<Tensor> {
    if mask.dtype() != DType::Bool {
        return Err(Error::runtime(
            "masked_select: expected BoolTensor for mask",
        ));
    }
    let s = shape::broadcast_shapes(x.shape(), mask.shape())?;
    let xb = if x.shape() == s.as_slice() {
        x.clone()
    } else {
        movement::expand(x, &s)?
    };
    let mb = mask.view_parts(
        s.clone(),
        shape::broadcast_strides(mask.shape(), mask.strides(), &s),
        mask.offset(),
    );
    if s.is_empty() {
        let xr = movement::reshape(&xb, &[1])?;
        let mr = mb.view_parts(
            SmallVec::from_slice(&[1]),
            SmallVec::from_slice(&[1]),
            mb.offset(),
        );
        return index(&xr, &[Idx::Tensor(mr)]);
    }
    index(&xb, &[Idx::Tensor(mb)])
}

/// Checks shared by gather / scatter: dims, index dtype and the "no larger than" rule.
fn check_gs(op: &str, x: &Tensor, dim: i64, index: &Tensor, src: Option<&Tensor>) -> Result<usize> {
    let nd = x.ndim().max(1);
    let d = shape::normalize_dim(dim, nd)?;
    check_index_dtype(index, op)?;
    if index.ndim().max(1) != nd && index.numel() > 0 {
        return Err(Error::runtime(
            "Index tensor must have the same number of dimensions as input tensor",
        ));
    }
    if let Some(s) = src {
        if s.ndim().max(1) != nd && index.numel() > 0 {
            return Err(Error::runtime(
                "Index tensor must have the same number of dimensions as src tensor",
            ));
        }
    }
    let (xi, ii) = (as_1d(x), as_1d(index));
    if index.numel() > 0 {
        for k in 0..nd {
            let too_big_self = k != d && ii.shape()[k] > xi.shape()[k];
            let too_big_src = src
                .map(|s| ii.shape()[k] > as_1d(s).shape()[k])
                .unwrap_or(false);
            if too_big_self || too_big_src {
                return Err(Error::runtime(match src {
                    None => format!(
                        "Size does not match at dimension {k} expected index {} to be no larger than self {} apart \
                         from dimension {d}",
                        shape::fmt_shape(index.shape()),
                        shape::fmt_shape(x.shape())
                    ),
                    Some(s) => format!(
                        "Expected index {} to be no larger than self {} apart from dimension {d} and to be no larger \
                         size than src {}",
                        shape::fmt_shape(index.shape()),
                        shape::fmt_shape(x.shape()),
                        shape::fmt_shape(s.shape())
                    ),
                }));
            }
        }
    }
    Ok(d)
}

/// Visits every element of `index` with offsets into `x` (at the indexed position along `d`)
/// and into `other` (at the same position as in index); errors on out-of-range indices.
fn walk_gs(
    x: &Tensor,
    d: usize,
    index: &Tensor,
    other_strides: &[isize],
    mut f: impl FnMut(isize, isize),
) -> Result<()> {
    let index = if index.dtype() != DType::I64 {
        index.to_dtype(DType::I64)
    } else {
        index.clone()
    };
    let (xi, ii) = (as_1d(x), as_1d(&index));
    let mut xs: Vec<isize> = xi.strides().to_vec();
    let sd = xs[d];
    xs[d] = 0;
    let size = xi.shape()[d] as i64;
    let pi = ii.ptr::<i64>();
    let mut err = None;
    for_each_run(
        ii.shape(),
        [ii.strides(), &xs, other_strides],
        |o, len, st| {
            for i in 0..len as isize {
                // SAFETY: offsets from index's valid layout.
                let v = unsafe { *pi.offset(o[0] + i * st[0]) };
                if v < 0 || v >= size {
                    if err.is_none() {
                        err = Some(v);
                    }
                    continue;
                }
                f(o[1] + i * st[1] + v as isize * sd, o[2] + i * st[2]);
            }
        },
    );
    match err {
        Some(v) => Err(Error::runtime(format!(
            "index {v} is out of bounds for dimension {d} with size {size}"
        ))),
        None => Ok(()),
    }
}

/// `x.gather(dim, index)`.
fn gather_eager(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let d = check_gs("gather", x, dim, index, None)?;
    let os = shape::contiguous_strides(as_1d(index).shape());
    let out = crate::dispatch!(x.dtype(), T => {
        let mut v: Vec<T> = vec![T::default(); index.numel()];
        let (px, po) = (x.ptr::<T>(), v.as_mut_ptr());
        // SAFETY: checked indices address x; output offsets are within index.numel().
        walk_gs(x, d, index, &os, |a, b| unsafe { *po.offset(b) = *px.offset(a) })?;
        Tensor::from_vec_unchecked(v, index.shape())
    });
    if x.dtype().is_float() && needs_grad(&[x]) {
        let (idx, xs, dt) = (index.save(), x.shape().to_vec(), x.dtype());
        // d gather/dx: scatter-add the gradient back to the gathered positions
        record_fn(&out, &[x], "GatherBackward0", move |g| {
            let z = Tensor::zeros(&xs, dt);
            let idx = idx.get("GatherBackward0")?;
            scatter_raw(&z, d, idx, g, Reduce::Add)?;
            let idx = idx.clone();
            // the adjoint of scatter-add is the gather itself
            Ok(vec![Some(linear_in_grad(
                z,
                g,
                "ScatterAddBackward0",
                move |gg| gather_eager(gg, d as i64, &idx),
            ))])
        });
    }
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Reduce {
    None,
    Add,
    Mul,
}

/// Writes `src` (same dtype, or a 0-d value broadcast) into `dst` at the scattered positions.
fn scatter_raw(dst: &Tensor, d: usize, index: &Tensor, src: &Tensor, reduce: Reduce) -> Result<()> {
    let ss: Vec<isize> = if src.ndim() == 0 && index.ndim() > 0 {
        vec![0; index.ndim()]
    } else {
        as_1d(src).strides().to_vec()
    };
    let ss = if ss.is_empty() { vec![0] } else { ss };
    crate::dispatch!(dst.dtype(), T => crate::dispatch!(src.dtype(), S => {
        let (pd, ps) = (dst.ptr::<T>(), src.ptr::<S>());
        // SAFETY: checked indices address dst; src offsets follow index positions within src.
        walk_gs(dst, d, index, &ss, |a, b| unsafe {
            let p = pd.offset(a);
            let s = cast::<S, T>(*ps.offset(b));
            *p = match reduce {
                Reduce::None => s,
                Reduce::Add => add_el(*p, s),
                Reduce::Mul => mul_el(*p, s),
            };
        })?;
    }));
    dst.storage().bump_version();
    Ok(())
}

/// `x.scatter(dim, index, src)` / `x.scatter_add(...)` / with `reduce`; `src` may be a 0-d value
/// (a Python number arrives wrapped).
pub fn scatter(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: &Tensor,
    reduce: Reduce,
    op: &str,
) -> Result<Tensor> {
    let is_value = src.is_wrapped_number() || (src.ndim() == 0 && op == "scatter" && x.ndim() > 0);
    let d = check_gs(op, x, dim, index, if is_value { None } else { Some(src) })?;
    if !is_value && src.dtype() != x.dtype() {
        return Err(Error::runtime(format!(
            "{op}(): Expected self.dtype to be equal to src.dtype"
        )));
    }
    let out = x.deep_clone();
    scatter_raw(&out, d, index, src, reduce)?;
    if out.dtype().is_float() && needs_grad(&[x, src]) {
        if reduce == Reduce::Mul {
            return Err(Error::not_implemented(
                "ferrotorch does not support the gradient of scatter with reduce='multiply' yet",
            ));
        }
        let idx = index.save();
        let name = match (reduce, is_value) {
            (Reduce::Add, _) => "ScatterAddBackward0",
            (_, true) => "ScatterBackward1",
            _ => "ScatterBackward0",
        };
        // d/dx: g, minus the overwritten positions for plain scatter; d/dsrc: g gathered at index
        record_fused(&out, &[x, src], name, move |g| {
            let idx = idx.get(name)?;
            let gx = if reduce == Reduce::Add {
                g.clone()
            } else {
                let c = g.deep_clone();
                scatter_raw(&c, d, idx, &Tensor::wrapped_scalar(0.0f64), Reduce::None)?;
                c
            };
            let gs = if is_value {
                None
            } else {
                Some(gather(g, d as i64, idx)?)
            };
            Ok(vec![Some(gx), gs])
        });
    }
    Ok(out)
}

pub fn scatter_(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    src: &Tensor,
    reduce: Reduce,
    op: &str,
) -> Result<()> {
    inplace(x, &[src], |old| scatter(old, dim, index, src, reduce, op))
}

/// Shared checks of index_add / index_fill: the dim and a vector index of int64/int32.
fn check_index_vec(op: &str, x: &Tensor, dim: i64, index: &Tensor) -> Result<(usize, Vec<usize>)> {
    let nd = x.ndim().max(1);
    let d = shape::normalize_dim(dim, nd)?;
    if index.ndim() > 1 {
        return Err(Error::index(format!(
            "{op}(): Index is supposed to be a vector"
        )));
    }
    if op == "index_fill_" && index.dtype() != DType::I64 {
        return Err(Error::index(
            "index_fill_(): Expected dtype int64 for index.",
        ));
    }
    check_index_dtype(index, op)?;
    let size = as_1d(x).shape()[d] as i64;
    let mut out = Vec::with_capacity(index.numel());
    for i in 0..index.numel() {
        let v = index.get_flat_i64(i);
        if v < -size || v >= size {
            let msg = format!("index {v} is out of bounds for dimension {d} with size {size}");
            return Err(if op == "index_fill_" {
                Error::index(msg)
            } else {
                Error::runtime(msg)
            });
        }
        out.push(if v < 0 { v + size } else { v } as usize);
    }
    Ok((d, out))
}

fn select_raw(t: &Tensor, d: usize, i: usize) -> Tensor {
    let t = as_1d(t);
    let mut sh: Dims = SmallVec::from_slice(t.shape());
    let mut st: Strides = SmallVec::from_slice(t.strides());
    let off = (t.offset() as isize + i as isize * st[d]) as usize;
    sh.remove(d);
    st.remove(d);
    t.view_parts(sh, st, off)
}

/// `x.index_add(dim, index, source, alpha=alpha)`.
pub fn index_add(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: &Tensor,
    alpha: &Tensor,
) -> Result<Tensor> {
    let (d, idx) = check_index_vec("index_add_", x, dim, index)?;
    if source.dtype() != x.dtype() {
        return Err(Error::runtime(format!(
            "index_add_(): self ({}) and source ({}) must have the same scalar type",
            x.dtype().scalar_name(),
            source.dtype().scalar_name()
        )));
    }
    let (xs, ss) = (as_1d(x), as_1d(source));
    let mut ok = xs.ndim() == ss.ndim() && ss.shape()[d] == idx.len();
    if ok {
        ok = (0..xs.ndim()).all(|k| k == d || xs.shape()[k] == ss.shape()[k]);
    }
    if !ok {
        if ss.ndim() != xs.ndim()
            || (0..xs.ndim()).any(|k| k != d && xs.shape()[k] != ss.shape()[k])
        {
            return Err(Error::runtime(format!(
                "source tensor shape must match self tensor shape, excluding the specified dimension. Got self.shape = \
                 {} source.shape = {}",
                shape::fmt_shape(x.shape()),
                shape::fmt_shape(source.shape())
            )));
        }
        return Err(Error::runtime(format!(
            "index_add_(): Number of indices ({}) should be equal to source.size(dim): ({}), for dim: {d}",
            idx.len(),
            ss.shape()[d]
        )));
    }
    let out = x.deep_clone();
    let scaled = {
        let _g = GradModeGuard::new(false);
        crate::ops::elementwise::mul(&ss, alpha)?
    };
    let scaled = if scaled.dtype() != x.dtype() {
        scaled.to_dtype(x.dtype())
    } else {
        scaled
    };
    for (i, &j) in idx.iter().enumerate() {
        let dst = select_raw(&out, d, j);
        let src = select_raw(&scaled, d, i);
        crate::dispatch!(x.dtype(), T => crate::kernels::elementwise::update2::<T, T>(&dst, &src, add_el));
    }
    if out.dtype().is_float() && needs_grad(&[x, source]) {
        let (index, alpha) = (index.clone(), alpha.clone());
        let ss = source.shape().to_vec();
        // d/dx = g; d/dsource = alpha * g.index_select(dim, index)
        record_fn(&out, &[x, source], "IndexAddBackward0", move |g| {
            let gs = crate::ops::elementwise::mul(&index_select(g, d as i64, &index)?, &alpha)?;
            let gs = movement::reshape_usize(&gs, &ss)?;
            Ok(vec![Some(g.clone()), Some(gs)])
        });
    }
    Ok(out)
}

pub fn index_add_(
    x: &Tensor,
    dim: i64,
    index: &Tensor,
    source: &Tensor,
    alpha: &Tensor,
) -> Result<()> {
    inplace(x, &[source], |old| {
        index_add(old, dim, index, source, alpha)
    })
}

/// `x.index_fill(dim, index, value)` with `value` a 0-d tensor.
pub fn index_fill(x: &Tensor, dim: i64, index: &Tensor, value: &Tensor) -> Result<Tensor> {
    let (d, idx) = check_index_vec("index_fill_", x, dim, index)?;
    if value.ndim() != 0 {
        return Err(Error::runtime(format!(
            "index_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s).",
            value.ndim()
        )));
    }
    let out = x.deep_clone();
    for &j in &idx {
        crate::kernels::elementwise::copy_cast(&select_raw(&out, d, j), value);
    }
    if out.dtype().is_float() && needs_grad(&[x, value]) {
        let idx2 = idx.clone();
        // d/dx: g with the filled slices zeroed; d/dvalue: the sum of g over the filled slices
        record_fused(&out, &[x, value], "IndexFillBackward0", move |g| {
            let gx = g.deep_clone();
            let mut gv = 0.0f64;
            let mut seen = std::collections::HashSet::new();
            for &j in &idx2 {
                let s = select_raw(&gx, d, j);
                if seen.insert(j) {
                    gv += crate::ops::reduce::sum_raw(
                        &s,
                        &vec![true; s.ndim()],
                        false,
                        Some(DType::F64),
                    )
                    .get_flat::<f64>(0);
                }
                crate::kernels::elementwise::copy_cast(&s, &Tensor::scalar(0.0f64));
            }
            Ok(vec![Some(gx), Some(Tensor::scalar(gv).to_dtype(g.dtype()))])
        });
    }
    Ok(out)
}

pub fn index_fill_(x: &Tensor, dim: i64, index: &Tensor, value: &Tensor) -> Result<()> {
    inplace(x, &[value], |old| index_fill(old, dim, index, value))
}

// Replayable entry points: each runs its `_eager` op and records it for `fit`.

/// `where_`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = where_eager(cond, a, b)?;
    if scope.on() {
        let ins = [cond, a, b];
        scope.record1("where_", &ins, &out, move |i| {
            where_eager(&i[0], &i[1], &i[2])
        });
    }
    Ok(out)
}

/// `index_select`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn index_select(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = index_select_eager(x, dim, index)?;
    if scope.on() {
        let ins = [x, index];
        scope.record1("index_select", &ins, &out, move |i| {
            index_select_eager(&i[0], dim, &i[1])
        });
    }
    Ok(out)
}

/// `gather`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn gather(x: &Tensor, dim: i64, index: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = gather_eager(x, dim, index)?;
    if scope.on() {
        let ins = [x, index];
        scope.record1("gather", &ins, &out, move |i| {
            gather_eager(&i[0], dim, &i[1])
        });
    }
    Ok(out)
}

/// `masked_fill`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn masked_fill(x: &Tensor, mask: &Tensor, value: &Tensor) -> Result<Tensor> {
    let scope = capture::scope();
    let out = masked_fill_eager(x, mask, value)?;
    if scope.on() {
        let ins = [x, mask, value];
        scope.record1("masked_fill", &ins, &out, move |i| {
            masked_fill_eager(&i[0], &i[1], &i[2])
        });
    }
    Ok(out)
}

/// `masked_fill_`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn masked_fill_(x: &Tensor, mask: &Tensor, value: &Tensor) -> Result<()> {
    let scope = capture::scope_mut(&[x]);
    masked_fill_inplace_eager(x, mask, value)?;
    if scope.on() {
        let ins = [x, mask, value];
        scope.record("masked_fill_", &ins, &[x], move |i| {
            masked_fill_inplace_eager(&i[0], &i[1], &i[2])?;
            Ok(vec![i[0].clone()])
        });
    }
    Ok(())
}

/// `index_int`, recorded for `fit`'s replay when a capture is running (see graph::capture).
pub fn index_int(x: &Tensor, i: i64) -> Result<Tensor> {
    let scope = capture::scope();
    let out = index_int_eager(x, i)?;
    if scope.on() {
        let ins = [x];
        scope.record1("index_int", &ins, &out, move |t| index_int_eager(&t[0], i));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>, s: &[usize]) -> Tensor {
        Tensor::from_vec(v, s).unwrap()
    }
    fn vals(x: &Tensor) -> Vec<f64> {
        (0..x.numel()).map(|i| x.get_flat::<f64>(i)).collect()
    }

    #[test]
    fn advanced_separated_dims_go_first() {
        let x = t((0..24).map(|v| v as f64).collect(), &[2, 3, 4]);
        let i = Tensor::from_vec(vec![0i64, 1], &[2]).unwrap();
        let r = index(
            &x,
            &[
                Idx::Tensor(i.clone()),
                Idx::Slice(None, None, None),
                Idx::Tensor(i),
            ],
        )
        .unwrap();
        assert_eq!(r.shape(), &[2, 3]);
        assert_eq!(vals(&r), vec![0.0, 4.0, 8.0, 13.0, 17.0, 21.0]);
    }

    #[test]
    fn errors_not_panics() {
        let x = t(vec![1.0, 2.0, 3.0], &[3]);
        assert!(index(&x, &[Idx::Int(3)]).is_err());
        assert!(index(&x, &[Idx::Int(0), Idx::Int(0)]).is_err());
        let x2 = t(vec![1.0, 2.0, 3.0], &[3, 1]);
        assert!(index(&x2, &[Idx::Ellipsis, Idx::Ellipsis, Idx::Int(0)]).is_err());
        assert!(index(&x, &[Idx::Slice(None, None, Some(-1))]).is_err());
        let bad = Tensor::from_vec(vec![7i64], &[1]).unwrap();
        assert!(gather(&x, 0, &bad).is_err());
        assert!(index(&x, &[Idx::Tensor(bad)]).is_err());
    }

    #[test]
    fn setitem_duplicates_last_wins_and_nonzero() {
        let x = t(vec![0.0; 3], &[3]);
        let i = Tensor::from_vec(vec![0i64, 0], &[2]).unwrap();
        setitem(&x, &[Idx::Tensor(i)], &t(vec![1.0, 2.0], &[2])).unwrap();
        assert_eq!(vals(&x), vec![2.0, 0.0, 0.0]);
        let nz = nonzero(&x);
        assert_eq!(nz.shape(), &[1, 1]);
    }
}
