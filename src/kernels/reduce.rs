//! Reductions over any set of dims: one fold per output element, in a fixed order.

use super::strided::for_each_run;
use crate::dtype::Element;
use crate::kernels::send_ptr::SendPtr;
use crate::tensor::Tensor;
use crate::threads;
use smallvec::SmallVec;

/// Folds the elements of `x` over the dims marked in `reduced`, one output per position of the
/// kept dims (row-major). `finish` gets the accumulator and the number of reduced elements.
pub fn reduce<T: Element, A: Copy, O>(
    x: &Tensor,
    reduced: &[bool],
    init: A,
    fold: impl Fn(A, T) -> A,
    finish: impl Fn(A, usize) -> O,
) -> Vec<O> {
    let (mut ks, mut kst, mut rs, mut rst): (
        SmallVec<[usize; 6]>,
        SmallVec<[isize; 6]>,
        SmallVec<[usize; 6]>,
        SmallVec<[isize; 6]>,
    ) = Default::default();
    for ((&s, &st), &r) in x.shape().iter().zip(x.strides()).zip(reduced) {
        if r {
            rs.push(s);
            rst.push(st);
        } else {
            ks.push(s);
            kst.push(st);
        }
    }
    let n_out: usize = ks.iter().product();
    // An empty kept shape still yields one output (a full reduction); a zero in it yields none.
    let n_red: usize = rs.iter().product();
    let mut out = Vec::with_capacity(n_out);
    let base = x.ptr::<T>();
    let ostr = crate::shape::contiguous_strides(&ks);
    // Kept positions in row-major order: walk them with a run loop whose output stride is contiguous.
    for_each_run(&ks, [&kst, &ostr], |off, len, st| {
        for i in 0..len as isize {
            let start = off[0] + i * st[0];
            let mut acc = init;
            for_each_run(&rs, [&rst], |roff, rlen, rstep| {
                // SAFETY: offsets come from x's valid layout.
                unsafe {
                    let p = base.offset(start + roff[0]);
                    if rstep[0] == 1 {
                        for j in 0..rlen {
                            acc = fold(acc, *p.add(j));
                        }
                    } else {
                        for j in 0..rlen as isize {
                            acc = fold(acc, *p.offset(j * rstep[0]));
                        }
                    }
                }
            });
            out.push(finish(acc, n_red));
        }
    });
    out
}

/// A float element summed in f64 (f32 and f64 only).
pub trait SumF: Element {
    fn f(self) -> f64;
}
impl SumF for f32 {
    #[inline(always)]
    fn f(self) -> f64 {
        self as f64
    }
}
impl SumF for f64 {
    #[inline(always)]
    fn f(self) -> f64 {
        self
    }
}

/// Sum of a contiguous block with 8 independent f64 accumulators (vectorizes; fixed order).
#[inline]
pub fn sum_block<T: SumF>(s: &[T]) -> f64 {
    let mut acc = [0f64; 8];
    let mut it = s.chunks_exact(8);
    for c in &mut it {
        for k in 0..8 {
            acc[k] += c[k].f();
        }
    }
    let mut tail = 0f64;
    for &v in it.remainder() {
        tail += v.f();
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

const SUM_CHUNK: usize = 1 << 16;

/// Sum of a large contiguous slice: fixed 64K-element chunks summed in the pool, partials added in order.
pub fn sum_all<T: SumF>(s: &[T]) -> f64 {
    let n = s.len();
    if n < threads::PAR_MIN_ELEMS {
        return sum_block(s);
    }
    let chunks = n.div_ceil(SUM_CHUNK);
    let mut parts = vec![0f64; chunks];
    let dst = SendPtr(parts.as_mut_ptr());
    threads::par_ranges(chunks, 1, |a, b| {
        for c in a..b {
            let e = ((c + 1) * SUM_CHUNK).min(n);
            // SAFETY: chunk c is written by exactly one task.
            unsafe { *dst.get().add(c) = sum_block(&s[c * SUM_CHUNK..e]) };
        }
    });
    parts.iter().sum()
}

/// Fast float sums for contiguous inputs whose reduced dims are all trailing (per-output blocks)
/// or all leading (row accumulation), each f64 total passed through `conv` (the caller's rounding
/// into the output dtype) into `out`, one element per kept position. Returns false, writing
/// nothing, when the layout needs the general fold (`sum_runs`).
pub fn sum_fast<T: SumF, O: Copy + Send>(
    x: &Tensor,
    reduced: &[bool],
    out: &mut [O],
    conv: impl Fn(f64) -> O + Sync,
) -> bool {
    let n = x.numel();
    if n == 0 || !x.is_contiguous() {
        return false;
    }
    debug_assert_eq!(x.dtype(), T::DTYPE);
    // SAFETY: contiguous, n elements of T from ptr (as_slice without re-checking the layout).
    let s = unsafe { std::slice::from_raw_parts(x.ptr::<T>(), n) };
    let nd = x.ndim();
    let first_red = reduced.iter().position(|&r| r).unwrap_or(nd);
    let last_kept = reduced.iter().rposition(|&r| !r);
    let trailing = last_kept.is_none_or(|k| k < first_red);
    if trailing {
        let outer: usize = x.shape()[..first_red].iter().product();
        let inner = x.numel() / outer.max(1);
        if outer == 1 {
            out[0] = conv(sum_all(s));
            return true;
        }
        let out = &mut out[..outer];
        let dst = SendPtr(out.as_mut_ptr());
        let rows_per = (threads::PAR_MIN_ELEMS / inner.max(1)).max(1);
        threads::par_ranges(outer, rows_per, |a, b| {
            for r in a..b {
                // SAFETY: row r (< outer = out.len()) is written by exactly one task.
                unsafe { *dst.get().add(r) = conv(sum_block(&s[r * inner..(r + 1) * inner])) };
            }
        });
        return true;
    }
    let first_kept = reduced.iter().position(|&r| !r).unwrap_or(nd);
    let Some(last_red) = reduced.iter().rposition(|&r| r) else {
        return false;
    };
    if last_red < first_kept {
        // Leading reduced dims: accumulate whole rows (the bias-gradient shape).
        let inner: usize = x.shape()[first_kept..].iter().product();
        if inner == 1 {
            // one element per row (a [N, 1] gradient summed to [1]): the same adds, in a straight loop
            let mut a = 0f64;
            for &v in s {
                a += v.f();
            }
            out[0] = conv(a);
            return true;
        }
        let rows = x.numel() / inner;
        let mut acc: SmallVec<[f64; 16]> = SmallVec::from_elem(0f64, inner);
        for r in 0..rows {
            for (a, &v) in acc.iter_mut().zip(&s[r * inner..(r + 1) * inner]) {
                *a += v.f();
            }
        }
        for (o, a) in out[..inner].iter_mut().zip(acc) {
            *o = conv(a);
        }
        return true;
    }
    false
}

/// General-layout float sums: like `reduce`, but each contiguous inner run is summed with
/// `sum_block` (vectorized) instead of one dependent add per element; totals through `conv`
/// into `out`, one per kept position in row-major order.
pub fn sum_runs<T: SumF, O>(x: &Tensor, reduced: &[bool], out: &mut [O], conv: impl Fn(f64) -> O) {
    let (mut ks, mut kst, mut rs, mut rst): (
        SmallVec<[usize; 6]>,
        SmallVec<[isize; 6]>,
        SmallVec<[usize; 6]>,
        SmallVec<[isize; 6]>,
    ) = Default::default();
    for ((&s, &st), &r) in x.shape().iter().zip(x.strides()).zip(reduced) {
        if r {
            rs.push(s);
            rst.push(st);
        } else {
            ks.push(s);
            kst.push(st);
        }
    }
    let mut k = 0;
    let base = x.ptr::<T>();
    let ostr = crate::shape::contiguous_strides(&ks);
    for_each_run(&ks, [&kst, &ostr], |off, len, st| {
        for i in 0..len as isize {
            let start = off[0] + i * st[0];
            let mut acc = 0f64;
            for_each_run(&rs, [&rst], |roff, rlen, rstep| {
                // SAFETY: offsets come from x's valid layout.
                unsafe {
                    let p = base.offset(start + roff[0]);
                    if rstep[0] == 1 {
                        acc += sum_block(std::slice::from_raw_parts(p, rlen));
                    } else {
                        for j in 0..rlen as isize {
                            acc += (*p.offset(j * rstep[0])).f();
                        }
                    }
                }
            });
            out[k] = conv(acc);
            k += 1;
        }
    });
}

/// A contiguous copy of `x` with dim `d` moved last: `(data, lanes, lane_len)`.
pub fn lanes<T: Element>(x: &Tensor, d: usize) -> (Tensor, usize, usize) {
    if x.ndim() == 0 {
        return (crate::ops::copy::clone_raw(x), 1, 1);
    }
    let mut sh: SmallVec<[usize; 6]> = SmallVec::new();
    let mut st: SmallVec<[isize; 6]> = SmallVec::new();
    for k in 0..x.ndim() {
        if k != d {
            sh.push(x.shape()[k]);
            st.push(x.strides()[k]);
        }
    }
    sh.push(x.shape()[d]);
    st.push(x.strides()[d]);
    let n = x.shape()[d];
    let v = x.view_parts(sh, st, x.offset());
    let c = if v.is_contiguous() {
        v
    } else {
        crate::ops::copy::clone_raw(&v)
    };
    let lanes = crate::shape::numel(&c.shape()[..c.ndim() - 1]);
    (c, lanes, n)
}

/// Inverse of `lanes`: data laid out as `[other dims..., m]` back to a contiguous tensor whose
/// dim `d` has size `m` (`other` is x's shape without dim d; `scalar` keeps a 0-d result).
pub fn unlanes<T: Element>(
    data: Vec<T>,
    other: &[usize],
    d: usize,
    m: usize,
    scalar: bool,
) -> Tensor {
    if scalar {
        return Tensor::from_vec_unchecked(data, &[]);
    }
    let mut sh: Vec<usize> = other.to_vec();
    sh.push(m);
    let t = Tensor::from_vec_unchecked(data, &sh);
    if d == other.len() {
        return t;
    }
    // Permute the last dim back to position d.
    let cs = crate::shape::contiguous_strides(&sh);
    let mut nsh: SmallVec<[usize; 6]> = SmallVec::new();
    let mut nst: SmallVec<[isize; 6]> = SmallVec::new();
    for k in 0..=other.len() {
        if k == d {
            nsh.push(m);
            nst.push(cs[other.len()]);
        }
        if k < other.len() {
            nsh.push(other[k]);
            nst.push(cs[k]);
        }
    }
    crate::ops::copy::clone_raw(&t.view_parts(nsh, nst, 0))
}

/// Ordering with NaN greater than everything (torch's sort order); NaNs equal to each other.
#[inline]
pub fn cmp_nan_last<T: Element>(a: T, b: T) -> std::cmp::Ordering {
    #[allow(clippy::eq_op)]
    let (an, bn) = (a != a, b != b);
    match (an, bn) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Whether a value is NaN (always false for integers and bool).
#[inline]
#[allow(clippy::eq_op)]
pub fn is_nan<T: Element>(v: T) -> bool {
    v != v
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn fast_sums() {
        let x = Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[3, 4]).unwrap();
        fn fast<T: SumF, O: Copy + Send + Default>(
            x: &Tensor,
            m: &[bool],
            n: usize,
            conv: impl Fn(f64) -> O + Sync,
        ) -> Vec<O> {
            let mut out = vec![O::default(); n];
            assert!(sum_fast::<T, O>(x, m, &mut out, conv));
            out
        }
        let f = |v: f64| v;
        assert_eq!(
            fast::<f32, f64>(&x, &[false, true], 3, f),
            vec![6.0, 22.0, 38.0]
        );
        assert_eq!(
            fast::<f32, f64>(&x, &[true, false], 4, f),
            vec![12.0, 15.0, 18.0, 21.0]
        );
        assert_eq!(fast::<f32, f64>(&x, &[true, true], 1, f), vec![66.0]);
        // one element per row: the straight loop adds in row order, as the row loop does
        let col = Tensor::from_vec(vec![1e16f64, 1.0, -1e16, 1.0], &[4, 1]).unwrap();
        assert_eq!(fast::<f64, f64>(&col, &[true, false], 1, f), vec![1.0]);
        assert_eq!(
            fast::<f32, f32>(&x, &[false, true], 3, |v| v as f32 / 2.0),
            vec![3.0, 11.0, 19.0]
        );
        // a middle reduced dim takes the general fold, which sums the same way per run
        let y = Tensor::from_vec((0..24).map(|v| v as f32).collect(), &[2, 3, 4]).unwrap();
        let m = [false, true, false];
        assert!(!sum_fast::<f32, f64>(&y, &m, &mut [0f64; 8], f));
        let mut out = [0f64; 8];
        sum_runs::<f32, f64>(&y, &m, &mut out, f);
        assert_eq!(out, [12.0, 15.0, 18.0, 21.0, 48.0, 51.0, 54.0, 57.0]);
        let big: Vec<f64> = (0..300_000).map(|v| v as f64).collect();
        assert_eq!(sum_all(&big), 299_999.0 * 300_000.0 / 2.0);
    }
    #[test]
    fn lane_roundtrip() {
        let x = Tensor::from_vec((0..6).map(|v| v as f32).collect(), &[2, 3]).unwrap();
        let (l, n, len) = lanes::<f32>(&x, 0);
        assert_eq!((n, len), (3, 2));
        assert_eq!(l.as_slice::<f32>(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let back = unlanes(l.as_slice::<f32>().to_vec(), &[3], 0, 2, false);
        assert_eq!(back.as_slice::<f32>(), x.as_slice::<f32>());
    }
}
