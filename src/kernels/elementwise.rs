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
    // SAFETY: map1_into writes all n elements.
    let out = unsafe { Tensor::uninit::<O>(x.shape()) };
    map1_into(x, n, SendPtr(out.ptr::<O>()), f);
    out
}

/// `map1` writing into `out`, a contiguous tensor of x's shape and dtype `O` that nothing else
/// reads while this runs (fit's fixed buffers).
pub fn map1_to<A: Element, O: Element>(x: &Tensor, out: &Tensor, f: impl Fn(A) -> O + Sync + Send) {
    assert!(out.is_contiguous() && out.dtype() == O::DTYPE && same_dims(out.shape(), x.shape()));
    map1_into(x, out.numel(), SendPtr(out.ptr::<O>()), f);
}

/// `map1`'s loops, writing the `n` outputs at `dst`.
fn map1_into<A: Element, O: Element>(
    x: &Tensor,
    n: usize,
    dst: SendPtr<O>,
    f: impl Fn(A) -> O + Sync + Send,
) {
    if x.is_contiguous() {
        let src = SendPtr(x.ptr::<A>());
        let streamed = exceeds_cache(n * (std::mem::size_of::<A>() + std::mem::size_of::<O>()));
        threads::par_ranges(n, CHUNK, |s, e| {
            let (src, dst) = (src, dst);
            // SAFETY: disjoint ranges of buffers with n elements.
            let f = &f;
            flat_loop(dst, s, e, streamed, move |i| unsafe {
                f(*src.get().add(i))
            });
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
}

/// `dst[i] = g(i)` for `i` in `s..e` (g reads the inputs at `i`), compiled for AVX-512 when the
/// CPU has it: big elementwise loops then issue a quarter of the instructions (same bits; Rust
/// does not contract into FMAs). `streamed` (an op whose data exceed the last-level cache): the
/// output is written with non-temporal stores, a cache line at a time, which skips reading each
/// line from memory before overwriting it (`c = a * b` over 4M floats moves 48 MB, not 64).
#[inline(always)]
fn flat_loop<O: Copy>(dst: SendPtr<O>, s: usize, e: usize, streamed: bool, g: impl Fn(usize) -> O) {
    #[inline(always)]
    unsafe fn body<O: Copy>(dst: *mut O, s: usize, e: usize, g: impl Fn(usize) -> O) {
        // a slice, so the compiler knows the output overlaps no input (and vectorises)
        // SAFETY: the caller's range of dst, written by this task only.
        let o = unsafe { std::slice::from_raw_parts_mut(dst.add(s), e - s) };
        for (k, o) in o.iter_mut().enumerate() {
            *o = g(s + k);
        }
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn fast<O: Copy>(dst: *mut O, s: usize, e: usize, g: impl Fn(usize) -> O) {
            unsafe { body(dst, s, e, g) }
        }
        #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
        unsafe fn fast_streamed<O: Copy>(dst: *mut O, s: usize, e: usize, g: impl Fn(usize) -> O) {
            use std::arch::x86_64::{__m512i, _mm512_load_si512, _mm512_stream_si512, _mm_sfence};
            #[repr(align(64))]
            struct Line([u8; 64]);
            let per = 64 / std::mem::size_of::<O>();
            let mut i = s;
            // SAFETY (all): dst[s..e] is this task's; each line is computed whole, then streamed
            // to a 64-byte aligned address.
            unsafe {
                while i < e && !(dst.add(i) as usize).is_multiple_of(64) {
                    *dst.add(i) = g(i);
                    i += 1;
                }
                let mut line = Line([0; 64]);
                let lp = line.0.as_mut_ptr() as *mut O;
                while i + per <= e {
                    for k in 0..per {
                        *lp.add(k) = g(i + k);
                    }
                    let v = _mm512_load_si512(line.0.as_ptr() as *const __m512i);
                    _mm512_stream_si512(dst.add(i) as *mut __m512i, v);
                    i += per;
                }
                while i < e {
                    *dst.add(i) = g(i);
                    i += 1;
                }
                // the stores are weakly ordered: make them visible before the task reports done
                _mm_sfence();
            }
        }
        // small ranges stay in the caller's build (a call through the feature check costs more)
        if e - s >= 256 && super::simd::has_avx512() {
            let size = std::mem::size_of::<O>();
            // SAFETY: the CPU features were detected at run time; dst as for body.
            return unsafe {
                if streamed && size > 0 && 64 % size == 0 {
                    fast_streamed(dst.get(), s, e, g)
                } else {
                    fast(dst.get(), s, e, g)
                }
            };
        }
    }
    let _ = streamed;
    // SAFETY: as above.
    unsafe { body(dst.get(), s, e, g) }
}

/// Whether an op moving `bytes` in all (inputs and output) cannot keep its data in the
/// last-level cache, so its output is better written around the cache (`flat_loop`).
fn exceeds_cache(bytes: usize) -> bool {
    bytes >= crate::threads::last_level_cache_bytes()
}

/// One input of `zip2`: a tensor of the kernel's element type, or one value used everywhere.
#[derive(Clone, Copy)]
pub enum Operand<'a, T> {
    Tensor(&'a Tensor),
    Value(T),
}

impl<'a, T: Element> Operand<'a, T> {
    /// `x` as an operand of element type `T`. A one-element tensor is read once, cast from its
    /// own dtype as `to_dtype` casts (so a Python number needs no converted copy); any other
    /// tensor must already have dtype `T`.
    #[inline]
    pub fn of(x: &'a Tensor) -> Self {
        if x.numel() != 1 {
            debug_assert_eq!(x.dtype(), T::DTYPE);
            return Operand::Tensor(x);
        }
        // SAFETY: a one-element tensor has its element at `ptr()`.
        Operand::Value(if x.dtype() == T::DTYPE {
            unsafe { *x.ptr::<T>() }
        } else {
            crate::dispatch!(x.dtype(), S => cast::<S, T>(unsafe { *x.ptr::<S>() }))
        })
    }

    /// Whether a flat walk over `n` output elements covers it (a value, or a contiguous tensor
    /// of exactly the output's shape).
    #[inline]
    fn flat(&self, out_shape: &[usize]) -> bool {
        match self {
            Operand::Tensor(t) => same_dims(t.shape(), out_shape) && t.is_contiguous(),
            Operand::Value(_) => true,
        }
    }
}

/// Shape equality by a plain loop (shapes are short; a `memcmp` call costs more).
#[inline(always)]
fn same_dims(a: &[usize], b: &[usize]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `out = f(a, b)` with a and b broadcast to `out_shape`.
pub fn map2<A: Element, B: Element, O: Element>(
    a: &Tensor,
    b: &Tensor,
    out_shape: &[usize],
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Tensor {
    zip2(Operand::of(a), Operand::of(b), out_shape, f)
}

/// `out = f(a, b)` with tensor operands broadcast to `out_shape`. Operands that are values or
/// contiguous tensors of the output's shape (same-shape ops, a tensor with a Python number or
/// a one-element parameter) take one flat loop; anything else walks the strided layouts.
pub fn zip2<A: Element, B: Element, O: Element>(
    a: Operand<'_, A>,
    b: Operand<'_, B>,
    out_shape: &[usize],
    f: impl Fn(A, B) -> O + Sync + Send,
) -> Tensor {
    let n = shape::numel(out_shape);
    // SAFETY: zip2_into writes all n elements.
    let out = unsafe { Tensor::uninit::<O>(out_shape) };
    zip2_into(a, b, out_shape, n, SendPtr(out.ptr::<O>()), f);
    out
}

/// `map2` writing into `out`, a contiguous tensor of dtype `O` and the broadcast shape that
/// nothing else reads while this runs (fit's fixed buffers).
pub fn map2_to<A: Element, B: Element, O: Element>(
    a: &Tensor,
    b: &Tensor,
    out: &Tensor,
    f: impl Fn(A, B) -> O + Sync + Send,
) {
    assert!(out.is_contiguous() && out.dtype() == O::DTYPE);
    let s = out.shape();
    zip2_into(
        Operand::of(a),
        Operand::of(b),
        s,
        out.numel(),
        SendPtr(out.ptr::<O>()),
        f,
    );
}

/// `zip2`'s loops, writing the `n` outputs at `dst`.
fn zip2_into<A: Element, B: Element, O: Element>(
    a: Operand<'_, A>,
    b: Operand<'_, B>,
    out_shape: &[usize],
    n: usize,
    dst: SendPtr<O>,
    f: impl Fn(A, B) -> O + Sync + Send,
) {
    if a.flat(out_shape) && b.flat(out_shape) {
        let read = |tensor: bool, size: usize| if tensor { size } else { 0 };
        let streamed = exceeds_cache(
            n * (read(matches!(a, Operand::Tensor(_)), std::mem::size_of::<A>())
                + read(matches!(b, Operand::Tensor(_)), std::mem::size_of::<B>())
                + std::mem::size_of::<O>()),
        );
        // SAFETY (each loop): disjoint ranges of buffers with n elements.
        match (a, b) {
            (Operand::Tensor(a), Operand::Tensor(b)) => {
                let (pa, pb) = (SendPtr(a.ptr::<A>()), SendPtr(b.ptr::<B>()));
                threads::par_ranges(n, CHUNK, |s, e| {
                    let (pa, pb, dst) = (pa, pb, dst);
                    let f = &f;
                    // `move`: the pointers are copied in, not read through references each element
                    flat_loop(dst, s, e, streamed, move |i| unsafe {
                        f(*pa.get().add(i), *pb.get().add(i))
                    });
                });
            }
            (Operand::Tensor(a), Operand::Value(vb)) => {
                let pa = SendPtr(a.ptr::<A>());
                threads::par_ranges(n, CHUNK, |s, e| {
                    let (pa, dst) = (pa, dst);
                    let f = &f;
                    flat_loop(dst, s, e, streamed, move |i| unsafe {
                        f(*pa.get().add(i), vb)
                    });
                });
            }
            (Operand::Value(va), Operand::Tensor(b)) => {
                let pb = SendPtr(b.ptr::<B>());
                threads::par_ranges(n, CHUNK, |s, e| {
                    let (pb, dst) = (pb, dst);
                    let f = &f;
                    flat_loop(dst, s, e, streamed, move |i| unsafe {
                        f(va, *pb.get().add(i))
                    });
                });
            }
            (Operand::Value(va), Operand::Value(vb)) => {
                let v = f(va, vb);
                for i in 0..n {
                    unsafe { *dst.0.add(i) = v };
                }
            }
        }
    } else {
        // A value is read through a pointer to a local copy with stride 0 everywhere.
        let zeros = || -> shape::Strides { smallvec::SmallVec::from_elem(0, out_shape.len()) };
        let (va, vb);
        let (pa, sa): (*const A, shape::Strides) = match a {
            Operand::Tensor(t) => (
                t.ptr::<A>(),
                shape::broadcast_strides(t.shape(), t.strides(), out_shape),
            ),
            Operand::Value(v) => {
                va = v;
                (&va, zeros())
            }
        };
        let (pb, sb): (*const B, shape::Strides) = match b {
            Operand::Tensor(t) => (
                t.ptr::<B>(),
                shape::broadcast_strides(t.shape(), t.strides(), out_shape),
            ),
            Operand::Value(v) => {
                vb = v;
                (&vb, zeros())
            }
        };
        let so = shape::contiguous_strides(out_shape);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_loop_streamed_or_not_writes_exactly_its_range() {
        // whatever the CPU: the streamed build (non-temporal lines after an unaligned head, then
        // a tail) and the plain one must write dst[s..e] = g(i) and nothing else
        for streamed in [false, true] {
            for (s, e) in [(0, 4096), (3, 4093), (1, 300), (17, 17), (5, 260)] {
                let mut v = vec![-1f32; 4100];
                flat_loop(SendPtr(v.as_mut_ptr()), s, e, streamed, |i| i as f32 * 0.25);
                for (i, &x) in v.iter().enumerate() {
                    let want = if (s..e).contains(&i) {
                        i as f32 * 0.25
                    } else {
                        -1.0
                    };
                    assert_eq!(x, want, "streamed={streamed} s={s} e={e} i={i}");
                }
            }
            let mut w = vec![0f64; 1000];
            flat_loop(SendPtr(w.as_mut_ptr()), 1, 999, streamed, |i| i as f64);
            assert!(w[1..999]
                .iter()
                .enumerate()
                .all(|(k, &x)| x == (k + 1) as f64));
            assert_eq!((w[0], w[999]), (0.0, 0.0));
        }
    }

    fn t32(v: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_vec(v.to_vec(), shape).unwrap()
    }

    /// `a - b` element by element in the plain strided loop, the reference for the fast paths.
    fn reference(a: &Tensor, b: &Tensor, shape: &[usize]) -> Vec<f32> {
        let (sa, sb) = (
            shape::broadcast_strides(a.shape(), a.strides(), shape),
            shape::broadcast_strides(b.shape(), b.strides(), shape),
        );
        let mut out = vec![];
        let n = shape::numel(shape);
        for i in 0..n {
            let (mut r, mut oa, mut ob) = (i, a.offset() as isize, b.offset() as isize);
            for d in (0..shape.len()).rev() {
                let k = (r % shape[d]) as isize;
                r /= shape[d];
                oa += k * sa[d];
                ob += k * sb[d];
            }
            // SAFETY: offsets inside both storages.
            unsafe {
                let pa = a.storage().ptr() as *const f32;
                let pb = b.storage().ptr() as *const f32;
                out.push(*pa.offset(oa) - *pb.offset(ob));
            }
        }
        out
    }

    #[test]
    fn operand_paths_match_the_strided_loop() {
        let x = t32(&[1.5, -2.0, 3.25, 0.5, 7.0, -1.0], &[3, 2]);
        let y = t32(&[0.25, 4.0, -3.0, 2.5, 1.0, 9.0], &[3, 2]);
        let one = t32(&[0.75], &[1]);
        let one2 = t32(&[-1.25], &[1, 1]);
        let xt = x.view_parts(
            smallvec::smallvec![2, 3],
            smallvec::smallvec![1, 2],
            x.offset(),
        );
        let sub = |a: f32, b: f32| a - b;
        let cases: Vec<(&Tensor, &Tensor, Vec<usize>)> = vec![
            (&x, &y, vec![3, 2]),      // same shape, contiguous
            (&x, &one, vec![3, 2]),    // tensor - value
            (&one, &y, vec![3, 2]),    // value - tensor
            (&one, &one2, vec![1, 1]), // two values
            (&xt, &one, vec![2, 3]),   // strided tensor with a value
            (&one2, &xt, vec![2, 3]),
            (&one2, &x, vec![3, 2]),
        ];
        for (a, b, s) in cases {
            let got = map2::<f32, f32, f32>(a, b, &s, sub);
            assert_eq!(got.shape(), &s[..]);
            assert_eq!(
                got.as_slice::<f32>(),
                &reference(a, b, &s)[..],
                "{:?} {:?}",
                a,
                b
            );
        }
    }

    #[test]
    fn outputs_on_both_sides_of_the_inline_storage_limit() {
        // 64 float32 fit inside the storage's own allocation, 65 take a separate buffer
        for n in [1usize, 63, 64, 65, 200] {
            let x = Tensor::from_vec((0..n).map(|v| v as f32).collect(), &[n]).unwrap();
            let y = map1::<f32, f32>(&x, |v| v * 2.0 + 1.0);
            let want: Vec<f32> = (0..n).map(|v| v as f32 * 2.0 + 1.0).collect();
            assert_eq!(y.as_slice::<f32>(), &want[..]);
            // written in place afterwards, read back through a view
            update2::<f32, f32>(&y, &x, |a, b| a - b);
            let v = y.view_parts(smallvec::smallvec![n - 1], smallvec::smallvec![1], 1);
            let want: Vec<f32> = (1..n).map(|v| v as f32 + 1.0).collect();
            assert_eq!(crate::ops::copy::clone_raw(&v).as_slice::<f32>(), &want[..]);
            assert_eq!(y.storage().version(), 1);
        }
    }

    #[test]
    fn a_one_element_operand_is_cast_as_to_dtype_casts() {
        let x = t32(&[1.0, 2.0, 3.0], &[3]);
        // a Python float (f64) and an int64 scalar read as float32
        let v = Tensor::wrapped_scalar(0.1f64);
        let got = zip2::<f32, f32, f32>(Operand::of(&x), Operand::of(&v), &[3], |a, b| a * b);
        let want: Vec<f32> = [1.0f32, 2.0, 3.0]
            .iter()
            .map(|a| a * 0.1f64 as f32)
            .collect();
        assert_eq!(got.as_slice::<f32>(), &want[..]);
        let i = Tensor::from_vec(vec![7i64], &[]).unwrap();
        let got = zip2::<f32, f32, f32>(Operand::of(&i), Operand::of(&x), &[3], |a, b| a - b);
        assert_eq!(got.as_slice::<f32>(), &[6.0, 5.0, 4.0]);
    }
}
