//! Order statistics: sort, argsort, topk, kthvalue, median, mode, unique, bincount, histc.

use crate::autograd::needs_grad;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::reduce::{cmp_nan_last, is_nan, lanes, unlanes};
use crate::ops::reduce::record_index_backward;
use crate::shape::normalize_dim;
use crate::tensor::Tensor;
use std::cmp::Ordering;

fn other_shape(x: &Tensor, d: usize) -> Vec<usize> {
    let mut o = x.shape().to_vec();
    if !o.is_empty() {
        o.remove(d);
    }
    o
}

/// Stable index order of one lane (NaN last ascending, first descending).
fn order<T: Element>(a: &[T], descending: bool) -> Vec<usize> {
    let mut ix: Vec<usize> = (0..a.len()).collect();
    if descending {
        ix.sort_by(|&i, &j| cmp_nan_last(a[j], a[i]));
    } else {
        ix.sort_by(|&i, &j| cmp_nan_last(a[i], a[j]));
    }
    ix
}

/// Sorts each lane along d and keeps the first `k` of each: (values, indices) with dim d of size k.
fn sorted_prefix(x: &Tensor, d: usize, k: usize, descending: bool) -> (Tensor, Tensor) {
    let other = other_shape(x, d);
    let scalar = x.ndim() == 0;
    crate::dispatch!(x.dtype(), T => {
        let (l, nl, n) = lanes::<T>(x, d);
        let s = l.as_slice::<T>();
        let mut vals = Vec::with_capacity(nl * k);
        let mut idx = Vec::with_capacity(nl * k);
        for j in 0..nl {
            let a = &s[j * n..(j + 1) * n];
            for &i in order(a, descending).iter().take(k) {
                vals.push(a[i]);
                idx.push(i as i64);
            }
        }
        (unlanes(vals, &other, d, k, scalar), unlanes(idx, &other, d, k, scalar))
    })
}

/// `torch.sort(x, dim=-1, descending=False, stable=False)` (always stable here).
pub fn sort(x: &Tensor, dim: i64, descending: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape().get(d).copied().unwrap_or(1);
    let (v, i) = sorted_prefix(x, d, n, descending);
    if v.dtype().is_float() && needs_grad(&[x]) {
        record_index_backward(&v, &i, x, d, true, "SortBackward0");
    }
    Ok((v, i))
}

/// `torch.argsort`.
pub fn argsort(x: &Tensor, dim: i64, descending: bool) -> Result<Tensor> {
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape().get(d).copied().unwrap_or(1);
    Ok(sorted_prefix(x, d, n, descending).1)
}

/// `torch.topk(x, k, dim=-1, largest=True, sorted=True)`.
pub fn topk(x: &Tensor, k: i64, dim: i64, largest: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape().get(d).copied().unwrap_or(1);
    if k < 0 || k as usize > n {
        return Err(Error::runtime("selected index k out of range"));
    }
    let (v, i) = sorted_prefix(x, d, k as usize, largest);
    if v.dtype().is_float() && needs_grad(&[x]) {
        record_index_backward(&v, &i, x, d, true, "TopkBackward0");
    }
    Ok((v, i))
}

/// The k-th smallest (1-based) per lane along d: (values, indices).
fn kth(x: &Tensor, d: usize, k: impl Fn(usize) -> usize, keepdim: bool) -> (Tensor, Tensor) {
    let mut shape = x.shape().to_vec();
    if !shape.is_empty() {
        if keepdim {
            shape[d] = 1;
        } else {
            shape.remove(d);
        }
    }
    crate::dispatch!(x.dtype(), T => {
        let (l, nl, n) = lanes::<T>(x, d);
        let s = l.as_slice::<T>();
        let mut vals = Vec::with_capacity(nl);
        let mut idx = Vec::with_capacity(nl);
        for j in 0..nl {
            let a = &s[j * n..(j + 1) * n];
            let o = order(a, false);
            // A lane with NaN yields its first NaN (torch propagates NaN through median/kthvalue).
            let i = o[k(n).min(n - 1)];
            vals.push(a[i]);
            idx.push(i as i64);
        }
        (Tensor::from_vec_unchecked(vals, &shape), Tensor::from_vec_unchecked(idx, &shape))
    })
}

/// `torch.kthvalue(x, k, dim=-1, keepdim=False)`.
pub fn kthvalue(x: &Tensor, k: i64, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape().get(d).copied().unwrap_or(1);
    if k < 1 || k as usize > n {
        return Err(Error::runtime(format!(
            "kthvalue(): selected number k out of range for dimension {d}"
        )));
    }
    let (v, i) = kth(x, d, |_| k as usize - 1, keepdim);
    if v.dtype().is_float() && needs_grad(&[x]) {
        record_index_backward(&v, &i, x, d, keepdim, "KthvalueBackward0");
    }
    Ok((v, i))
}

/// Position torch's median takes in a lane of n (the lower median), NaN lanes take the NaN.
fn median_pos<T: Element>(a: &[T]) -> usize {
    let n = a.len();
    let nans = a.iter().filter(|v| is_nan(**v)).count();
    if nans > 0 {
        n - nans
    } else {
        (n - 1) / 2
    }
}

/// `torch.median(x, dim, keepdim)`: lower median with its index.
pub fn median_dim(x: &Tensor, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape().get(d).copied().unwrap_or(1);
    if n == 0 {
        return Err(Error::index(format!(
            "median(): Expected reduction dim {d} to have non-zero size."
        )));
    }
    let (v, i) = crate::dispatch!(x.dtype(), T => {
        let (l, nl, n) = lanes::<T>(x, d);
        let s = l.as_slice::<T>();
        let mut shape = x.shape().to_vec();
        if !shape.is_empty() { if keepdim { shape[d] = 1 } else { shape.remove(d); } }
        let mut vals = Vec::with_capacity(nl);
        let mut idx = Vec::with_capacity(nl);
        for j in 0..nl {
            let a = &s[j * n..(j + 1) * n];
            let i = order(a, false)[median_pos(a)];
            vals.push(a[i]);
            idx.push(i as i64);
        }
        (Tensor::from_vec_unchecked(vals, &shape), Tensor::from_vec_unchecked(idx, &shape))
    });
    if v.dtype().is_float() && needs_grad(&[x]) {
        record_index_backward(&v, &i, x, d, keepdim, "MedianBackward1");
    }
    Ok((v, i))
}

/// `torch.median(x)`: the lower median of all elements (NaN if any), 0-d.
pub fn median_all(x: &Tensor) -> Result<Tensor> {
    let flat = crate::ops::copy::clone_raw(x);
    let flat = flat.view_parts(smallvec::smallvec![x.numel()], smallvec::smallvec![1], 0);
    if x.numel() == 0 {
        return Ok(
            crate::dispatch!(x.dtype(), T => Tensor::from_vec_unchecked(vec![T::from_f64(f64::NAN)], &[])),
        );
    }
    let (v, i) = median_dim(&flat, 0, false)?;
    let v = crate::ops::copy::clone_raw(&v);
    if v.dtype().is_float() && needs_grad(&[x]) {
        let shape = x.shape().to_vec();
        let sh = shape.clone();
        // d median/dx = 1 at the median element
        crate::ops::elementwise::record_fused(&v, &[x], "MedianBackward0", move |g| {
            let gg = crate::ops::reduce::scatter_grad(g, &i, &[crate::shape::numel(&sh)], 0, false);
            Ok(vec![Some(gg.view_parts(
                smallvec::SmallVec::from_slice(&shape),
                crate::shape::contiguous_strides(&shape),
                0,
            ))])
        });
    }
    Ok(v)
}

/// `torch.mode(x, dim=-1, keepdim=False)`: most frequent value (smallest on ties), its last index.
pub fn mode(x: &Tensor, dim: i64, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, x.ndim())?;
    let n = x.shape().get(d).copied().unwrap_or(1);
    if n == 0 {
        return Err(Error::index(format!(
            "mode(): Expected reduction dim {d} to have non-zero size."
        )));
    }
    let (v, i) = crate::dispatch!(x.dtype(), T => {
        let (l, nl, n) = lanes::<T>(x, d);
        let s = l.as_slice::<T>();
        let mut shape = x.shape().to_vec();
        if !shape.is_empty() { if keepdim { shape[d] = 1 } else { shape.remove(d); } }
        let mut vals = Vec::with_capacity(nl);
        let mut idx = Vec::with_capacity(nl);
        for j in 0..nl {
            let a = &s[j * n..(j + 1) * n];
            let o = order(a, false);
            let (mut best, mut bcount, mut p) = (0usize, 0usize, 0usize);
            while p < n {
                let mut q = p;
                while q + 1 < n && cmp_nan_last(a[o[q + 1]], a[o[p]]) == Ordering::Equal {
                    q += 1;
                }
                if q - p + 1 > bcount {
                    bcount = q - p + 1;
                    best = p;
                }
                p = q + 1;
            }
            let run_end = best + bcount;
            let last = o[best..run_end].iter().copied().max().unwrap_or(0);
            vals.push(a[o[best]]);
            idx.push(last as i64);
        }
        (Tensor::from_vec_unchecked(vals, &shape), Tensor::from_vec_unchecked(idx, &shape))
    });
    if v.dtype().is_float() && needs_grad(&[x]) {
        record_index_backward(&v, &i, x, d, keepdim, "ModeBackward0");
    }
    Ok((v, i))
}

/// `torch.unique(x, sorted, return_inverse, return_counts, dim)`: (values, inverse, counts).
pub fn unique(x: &Tensor, dim: Option<i64>) -> Result<(Tensor, Tensor, Tensor)> {
    match dim {
        None => {
            let flat = crate::ops::copy::clone_raw(x);
            Ok(crate::dispatch!(x.dtype(), T => {
                let a = flat.as_slice::<T>();
                let o = order(a, false);
                let mut vals: Vec<T> = Vec::new();
                let mut counts: Vec<i64> = Vec::new();
                let mut inv = vec![0i64; a.len()];
                for &i in &o {
                    if vals.last().is_none_or(|&l| cmp_nan_last(l, a[i]) != Ordering::Equal || is_nan(a[i])) {
                        vals.push(a[i]);
                        counts.push(0);
                    }
                    if let Some(c) = counts.last_mut() { *c += 1; }
                    inv[i] = vals.len() as i64 - 1;
                }
                let nv = vals.len();
                (Tensor::from_vec_unchecked(vals, &[nv]), Tensor::from_vec_unchecked(inv, x.shape()), Tensor::from_vec_unchecked(counts, &[nv]))
            }))
        }
        Some(dim) => {
            let d = normalize_dim(dim, x.ndim())?;
            if x.ndim() == 0 {
                return Err(Error::index("unique(): dim out of range for a 0-d tensor"));
            }
            let n = x.shape()[d];
            // Slices along d as rows: move d first.
            let (l, _nl, _) = crate::dispatch!(x.dtype(), T => {
                let (l, nl, n) = lanes::<T>(x, d);
                (l, nl, n)
            });
            // l is [other..., n]; gather row r = elements with index r along d.
            let m = x.numel().checked_div(n).unwrap_or(0);
            Ok(crate::dispatch!(x.dtype(), T => {
                let s = l.as_slice::<T>();
                let row = |r: usize| (0..m).map(move |c| s[c * n + r]);
                let cmp_rows = |a: usize, b: usize| {
                    for (u, v) in row(a).zip(row(b)) {
                        let c = cmp_nan_last(u, v);
                        if c != Ordering::Equal { return c; }
                    }
                    Ordering::Equal
                };
                let mut ix: Vec<usize> = (0..n).collect();
                ix.sort_by(|&a, &b| cmp_rows(a, b));
                let mut reps: Vec<usize> = Vec::new();
                let mut counts: Vec<i64> = Vec::new();
                let mut inv = vec![0i64; n];
                for &i in &ix {
                    if reps.last().is_none_or(|&l| cmp_rows(l, i) != Ordering::Equal) {
                        reps.push(i);
                        counts.push(0);
                    }
                    if let Some(c) = counts.last_mut() { *c += 1; }
                    inv[i] = reps.len() as i64 - 1;
                }
                let u = reps.len();
                let mut data = Vec::with_capacity(u * m);
                for c in 0..m { for &r in &reps { data.push(s[c * n + r]); } }
                let other = other_shape(x, d);
                (unlanes(data, &other, d, u, false), Tensor::from_vec_unchecked(inv, &[n]), Tensor::from_vec_unchecked(counts, &[u]))
            }))
        }
    }
}

/// `torch.bincount(x, weights=None, minlength=0)`.
pub fn bincount(x: &Tensor, weights: Option<&Tensor>, minlength: i64) -> Result<Tensor> {
    if x.dtype().is_float() || x.dtype() == DType::Bool {
        return Err(Error::not_implemented(format!(
            "\"bincount_cpu\" not implemented for '{}'",
            x.dtype().scalar_name()
        )));
    }
    if minlength < 0 {
        return Err(Error::runtime("minlength should be >= 0"));
    }
    let xi = x.to_dtype(DType::I64);
    let v = xi.as_slice::<i64>();
    if x.ndim() != 1 || v.iter().any(|&a| a < 0) {
        return Err(Error::runtime(
            "bincount only supports 1-d non-negative integral inputs.",
        ));
    }
    if let Some(w) = weights {
        if w.ndim() != 1 || w.numel() != x.numel() {
            return Err(Error::runtime(
                "weights should be 1-d and have the same length as input",
            ));
        }
    }
    let len = (v.iter().copied().max().map_or(0, |m| m + 1)).max(minlength) as usize;
    Ok(match weights {
        None => {
            let mut c = vec![0i64; len];
            for &a in v {
                c[a as usize] += 1;
            }
            Tensor::from_vec_unchecked(c, &[len])
        }
        Some(w) => {
            let wd = if w.dtype() == DType::F32 {
                DType::F32
            } else {
                DType::F64
            };
            let wf = w.to_dtype(DType::F64);
            let mut c = vec![0f64; len];
            for (&a, &b) in v.iter().zip(wf.as_slice::<f64>()) {
                c[a as usize] += b;
            }
            Tensor::from_vec_unchecked(c, &[len]).to_dtype(wd)
        }
    })
}

/// `torch.histc(x, bins=100, min=0, max=0)`: equal-width histogram, same dtype as x.
pub fn histc(x: &Tensor, bins: i64, min: f64, max: f64) -> Result<Tensor> {
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "\"histogram_cpu\" not implemented for '{}'",
            x.dtype().scalar_name()
        )));
    }
    if bins <= 0 {
        return Err(Error::runtime(format!(
            "torch.histogram(): bins must be > 0, but got {bins} for dimension 0"
        )));
    }
    let xf = x.to_dtype(DType::F64);
    let v = xf.as_slice::<f64>();
    let (mut lo, mut hi) = (min, max);
    if lo == hi && !v.is_empty() {
        lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    }
    if lo == hi {
        lo -= 1.0;
        hi += 1.0;
    }
    if lo > hi {
        return Err(Error::runtime("torch.histc: max must be larger than min"));
    }
    if !lo.is_finite() || !hi.is_finite() {
        return Err(Error::runtime(format!(
            "torch.histc: range of [{lo}, {hi}] is not finite"
        )));
    }
    let nb = bins as usize;
    let mut h = vec![0f64; nb];
    for &a in v {
        if a >= lo && a <= hi {
            let b = (((a - lo) * nb as f64) / (hi - lo)) as usize;
            h[b.min(nb - 1)] += 1.0;
        }
    }
    Ok(Tensor::from_vec_unchecked(h, &[nb]).to_dtype(x.dtype()))
}
