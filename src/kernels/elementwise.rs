//! Elementwise loops: map one or two strided inputs into a fresh contiguous output, or in place.

use super::strided::for_each_run;
use crate::dtype::Element;
use crate::kernels::send_ptr::SendPtr;
use crate::shape;
use crate::tensor::Tensor;
use crate::threads;

const CHUNK: usize = 1 << 15;

/// `out[i] = f(x[i])` into a new contiguous tensor of x's shape.
pub fn map1<A: Element, O: Element>(x: &Tensor, f: impl Fn(A) -> O + Sync + Send) -> Tensor {
    let n = x.numel();
    let mut out: Vec<O> = Vec::with_capacity(n);
    let dst = SendPtr(out.as_mut_ptr());
    if x.is_contiguous() {
        let src = SendPtr(x.ptr::<A>());
        threads::par_ranges(n, CHUNK, |s, e| {
            let (src, dst) = (src, dst);
            // SAFETY: disjoint ranges of buffers with n elements.
            unsafe {
                let a = std::slice::from_raw_parts(src.0.add(s), e - s);
                let o = std::slice::from_raw_parts_mut(dst.0.add(s), e - s);
                for (o, &a) in o.iter_mut().zip(a) {
                    *o = f(a);
                }
            }
        });
    } else {
        let src = x.ptr::<A>();
        let ostr = shape::contiguous_strides(x.shape());
        for_each_run(x.shape(), [x.strides(), &ostr], |off, len, st| {
            // SAFETY: offsets come from valid layouts.
            unsafe {
                let (mut pa, mut po) = (src.offset(off[0]), dst.0.offset(off[1]));
                for _ in 0..len {
                    *po = f(*pa);
                    pa = pa.offset(st[0]);
                    po = po.offset(st[1]);
                }
            }
        });
    }
    // SAFETY: every element was written above.
    unsafe { out.set_len(n) };
    Tensor::from_vec_unchecked(out, x.shape())
}

/// `out = f(a, b)` with a and b broadcast to `out_shape`.
pub fn map2<A: Element, B: Element, O: Element>(
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Tensor {
    let n = shape::numel(out_shape);
    let mut out: Vec<O> = Vec::with_capacity(n);
    let dst = SendPtr(out.as_mut_ptr());
    let same = a.shape() == out_shape && b.shape() == out_shape;
    if same && a.is_contiguous() && b.is_contiguous() {
        let (pa, pb) = (SendPtr(a.ptr::<A>()), SendPtr(b.ptr::<B>()));
        threads::par_ranges(n, CHUNK, |s, e| {
            let (pa, pb, dst) = (pa, pb, dst);
            // SAFETY: disjoint ranges of buffers with n elements.
            unsafe {
                let xa = std::slice::from_raw_parts(pa.0.add(s), e - s);
                let xb = std::slice::from_raw_parts(pb.0.add(s), e - s);
                let o = std::slice::from_raw_parts_mut(dst.0.add(s), e - s);
                for i in 0..o.len() {
                    o[i] = f(xa[i], xb[i]);
                }
            }
        });
    } else {
        let sa = shape::broadcast_strides(a.shape(), a.strides(), out_shape);
        let sb = shape::broadcast_strides(b.shape(), b.strides(), out_shape);
        let so = shape::contiguous_strides(out_shape);
        let (pa, pb) = (a.ptr::<A>(), b.ptr::<B>());
        for_each_run(out_shape, [&sa, &sb, &so], |off, len, st| {
            // SAFETY: offsets come from valid (broadcast) layouts.
            unsafe {
                let (xa, xb, o) = (pa.offset(off[0]), pb.offset(off[1]), dst.0.offset(off[2]));
                if st == [1, 1, 1] {
                    for i in 0..len {
                        *o.add(i) = f(*xa.add(i), *xb.add(i));
                    }
                } else if st == [1, 0, 1] {
                    let vb = *xb;
                    for i in 0..len {
                        *o.add(i) = f(*xa.add(i), vb);
                    }
                } else if st == [0, 1, 1] {
                    let va = *xa;
                    for i in 0..len {
                        *o.add(i) = f(va, *xb.add(i));
                    }
                } else {
                    for i in 0..len as isize {
                        *o.offset(i * st[2]) = f(*xa.offset(i * st[0]), *xb.offset(i * st[1]));
                    }
                }
            }
        });
    }
    // SAFETY: every element was written above.
    unsafe { out.set_len(n) };
    Tensor::from_vec_unchecked(out, out_shape)
}

/// `dst[i] = f(dst[i], src[i])` with src broadcast to dst's shape; src must not alias dst.
pub fn update2<A: Element, B: Element>(
    dst: &Tensor,
    src: &Tensor,
    f: impl Fn(A, B) -> A + Sync + Send,
) {
    let pd = dst.ptr::<A>();
    let ps = src.ptr::<B>();
    if src.shape() == dst.shape()
        && dst.is_contiguous()
        && src.is_contiguous()
        && !dst.shares_storage(src)
    {
        // the common case (x.add_(y), optimizer-style updates): split over the pool like map2
        let (d, s) = (SendPtr(pd), SendPtr(ps));
        threads::par_ranges(dst.numel(), CHUNK, |b, e| {
            let (d, s) = (d, s);
            // SAFETY: disjoint ranges of two separate buffers of numel elements.
            unsafe {
                let xd = std::slice::from_raw_parts_mut(d.0.add(b), e - b);
                let xs = std::slice::from_raw_parts(s.0.add(b), e - b);
                for (x, &y) in xd.iter_mut().zip(xs) {
                    *x = f(*x, y);
                }
            }
        });
        dst.storage().bump_version();
        return;
    }
    let ss = shape::broadcast_strides(src.shape(), src.strides(), dst.shape());
    for_each_run(dst.shape(), [dst.strides(), &ss], |off, len, st| {
        // SAFETY: offsets come from valid layouts.
        unsafe {
            let (d, s) = (pd.offset(off[0]), ps.offset(off[1]));
            if st == [1, 1] {
                for i in 0..len {
                    *d.add(i) = f(*d.add(i), *s.add(i));
                }
            } else {
                for i in 0..len as isize {
                    let p = d.offset(i * st[0]);
                    *p = f(*p, *s.offset(i * st[1]));
                }
            }
        }
    });
    dst.storage().bump_version();
}

/// `dst[i] = f(dst[i])` in place.
pub fn update1<A: Element>(dst: &Tensor, f: impl Fn(A) -> A + Sync + Send) {
    let pd = dst.ptr::<A>();
    for_each_run(dst.shape(), [dst.strides()], |off, len, st| {
        // SAFETY: offsets come from a valid layout.
        unsafe {
            let d = pd.offset(off[0]);
            for i in 0..len as isize {
                let p = d.offset(i * st[0]);
                *p = f(*p);
            }
        }
    });
    dst.storage().bump_version();
}

/// Copies `src` (any dtype, broadcast to dst's shape) into `dst`, casting as torch does.
pub fn copy_cast(dst: &Tensor, src: &Tensor) {
    crate::dispatch!(dst.dtype(), D => crate::dispatch!(src.dtype(), S => {
        update2::<D, S>(dst, src, |_, s| cast::<S, D>(s))
    }))
}

/// Casts one element with torch's conversion (float -> int truncates; to bool tests != 0).
#[inline(always)]
pub fn cast<S: Element, D: Element>(s: S) -> D {
    use crate::dtype::DType;
    match (S::DTYPE, D::DTYPE) {
        (_, DType::Bool) => D::from_bool(s.to_bool()),
        (DType::F32 | DType::F64, _) if D::DTYPE.is_float() => D::from_f64(s.to_f64()),
        (DType::F32 | DType::F64, _) => D::from_i64(s.to_f64() as i64),
        _ if D::DTYPE.is_float() => D::from_f64(s.to_f64()),
        _ => D::from_i64(s.to_i64()),
    }
}
