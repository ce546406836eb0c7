//! Strided (batched) matrix products: the `gemm` crate for floats, a plain loop for integers.

use crate::dtype::Element;
use crate::kernels::arith::Arith;
use crate::kernels::send_ptr::SendPtr;
use gemm::Parallelism;

/// Below this many flops a product runs inline on the calling thread: entering the pool
/// from the Python thread costs ~13 µs (reference/performance.md §2, §5).
pub const PAR_MIN_FLOPS: usize = 5_000_000;

/// One operand of a batched product: element offsets of each batch's matrix plus row/col strides.
#[derive(Clone, Copy)]
pub struct Operand<T> {
    pub ptr: *const T,
    pub rs: isize,
    pub cs: isize,
}

/// One product `dst = dst_scale·dst + scale·a·b` of an m×k `a` and a k×n `b` into the m×n `dst`
/// (rows `dst_rs` apart, each contiguous); dst is read only when `read_dst`.
#[derive(Clone, Copy)]
pub struct Product<T> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub dst: *mut T,
    pub dst_rs: isize,
    pub read_dst: bool,
    pub a: Operand<T>,
    pub b: Operand<T>,
    pub dst_scale: T,
    pub scale: T,
}

// SAFETY: a Product is only pointers and sizes; whoever runs it (an `unsafe fn` below) guarantees
// the matrices are valid, and the team's pieces write disjoint blocks of dst.
unsafe impl<T: Send> Send for Product<T> {}
unsafe impl<T: Sync> Sync for Product<T> {}

/// Element types with a matrix-product kernel.
pub trait MatElem: Element + Arith {
    /// Runs `p` in one call (`par` lets the `gemm` crate use its own threads; callers pass None).
    ///
    /// # Safety
    /// `p`'s pointers with their strides must address valid m×k, k×n and m×n (row stride `dst_rs`)
    /// matrices.
    unsafe fn gemm_one(p: &Product<Self>, par: Parallelism);
}

macro_rules! float_gemm {
    ($t:ty) => {
        impl MatElem for $t {
            unsafe fn gemm_one(p: &Product<Self>, par: Parallelism) {
                let Product {
                    m,
                    n,
                    k,
                    dst,
                    dst_rs,
                    read_dst,
                    a,
                    b,
                    dst_scale,
                    scale,
                } = *p;
                if m * n * k <= SMALL_MACS {
                    return unsafe { naive(p) };
                }
                // gemm's convention: dst = alpha*dst + beta*lhs*rhs; strides are (col, row).
                unsafe {
                    gemm::gemm(
                        m, n, k, dst, 1, dst_rs, read_dst, a.ptr, a.cs, a.rs, b.ptr, b.cs, b.rs,
                        dst_scale, scale, false, false, false, par,
                    );
                }
            }
        }
    };
}
float_gemm!(f32);
float_gemm!(f64);

/// The plain i-k-j loop: integers (which `gemm` lacks) and tiny float products, where it beats
/// `gemm`'s packing and dispatch (~0.5 µs at 8×8×8). Integers wrap like torch's.
///
/// # Safety
/// As `MatElem::gemm_one`.
pub unsafe fn naive<T: Element + Arith>(p: &Product<T>) {
    let Product {
        m,
        n,
        k,
        dst,
        dst_rs,
        read_dst,
        a,
        b,
        dst_scale,
        scale,
    } = *p;
    // SAFETY: the caller guarantees every addressed element is inside its buffer.
    unsafe {
        for i in 0..m {
            let row = std::slice::from_raw_parts_mut(dst.offset(i as isize * dst_rs), n);
            if read_dst {
                for d in row.iter_mut() {
                    *d = d.mul(dst_scale);
                }
            } else {
                row.fill(T::zero());
            }
            for p in 0..k {
                let av = (*a.ptr.offset(i as isize * a.rs + p as isize * a.cs)).mul(scale);
                let brow = b.ptr.offset(p as isize * b.rs);
                if b.cs == 1 {
                    let bs = std::slice::from_raw_parts(brow, n);
                    for (d, &bv) in row.iter_mut().zip(bs) {
                        *d = d.add(av.mul(bv));
                    }
                } else {
                    for (j, d) in row.iter_mut().enumerate() {
                        *d = d.add(av.mul(*brow.offset(j as isize * b.cs)));
                    }
                }
            }
        }
    }
}

/// Products up to this many multiply-adds take the plain loop for floats too.
const SMALL_MACS: usize = 1024;

macro_rules! int_gemm {
    ($t:ty) => {
        impl MatElem for $t {
            unsafe fn gemm_one(p: &Product<Self>, _par: Parallelism) {
                unsafe { naive(p) }
            }
        }
    };
}
int_gemm!(i64);
int_gemm!(i32);
int_gemm!(u8);

/// Batched product into the contiguous `out` of `batches` m×n blocks.
///
/// `a_off`/`b_off` give each batch's element offset from `a.ptr`/`b.ptr` (broadcast batches repeat
/// offsets). With `read_dst`, `out` already holds the addend and is scaled by `dst_scale`.
///
/// # Safety
/// All offsets and strides must stay inside the operands' storages; `out` holds batches·m·n elements.
#[allow(clippy::too_many_arguments)]
pub unsafe fn batched<T: MatElem>(
    out: &mut [T],
    m: usize,
    n: usize,
    k: usize,
    a: Operand<T>,
    a_off: &[isize],
    b: Operand<T>,
    b_off: &[isize],
    read_dst: bool,
    dst_scale: T,
    scale: T,
) {
    let batches = a_off.len();
    let block = m * n;
    if block == 0 || batches == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: the product contributes nothing (gemm is not asked to handle k = 0).
        for v in out.iter_mut() {
            *v = if read_dst {
                v.mul(dst_scale)
            } else {
                T::zero()
            };
        }
        return;
    }
    let per = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    let total = per.saturating_mul(batches);
    let dst = SendPtr(out.as_mut_ptr());
    let (sa, sb) = (SendPtr(a.ptr as *mut T), SendPtr(b.ptr as *mut T));
    let (a_rs, a_cs, b_rs, b_cs) = (a.rs, a.cs, b.rs, b.cs);
    let run = move |bi: usize, split: bool| {
        let (sa, sb, dst) = (sa, sb, dst);
        // SAFETY: the caller guarantees the offsets; batch bi owns output block bi.
        unsafe {
            let ao = Operand {
                ptr: sa.0.offset(a_off[bi]) as *const T,
                rs: a_rs,
                cs: a_cs,
            };
            let bo = Operand {
                ptr: sb.0.offset(b_off[bi]) as *const T,
                rs: b_rs,
                cs: b_cs,
            };
            let p = Product {
                m,
                n,
                k,
                dst: dst.0.add(bi * block),
                dst_rs: n as isize,
                read_dst,
                a: ao,
                b: bo,
                dst_scale,
                scale,
            };
            gemm_run(&p, split);
        }
    };
    if !T::DTYPE.is_float() || total < PAR_MIN_FLOPS {
        for bi in 0..batches {
            run(bi, false);
        }
        return;
    }
    // big products are cut into pieces by their sizes alone (gemm_split); many small ones run one
    // per task. Either way the pieces are the same at every thread count.
    let split = per >= PAR_MIN_FLOPS;
    crate::threads::run_tasks(batches, |bi| run(bi, split));
}

/// Products of at least this many flops per piece are worth a task of their own.
const TASK_FLOPS: usize = 4_000_000;

/// How `gemm_split` cuts an m×n product for `threads` threads: (pieces along m, pieces along n).
/// Each piece re-packs the operand it shares with the others, so there is one piece per thread
/// (measured at 2 threads on 1024²: 1 per thread 0.94–1.01× PyTorch, 2 per thread 0.98–1.01×,
/// 4 per thread 0.97–1.03×; one thread runs the product whole). Pieces cut the longer side into multiples of 16 (the kernels' register
/// tile), never leave both sides at or below 64 (where `gemm` picks another depth blocking) and
/// never cut a matrix-vector product, so every piece computes each element exactly as one call
/// would: the result does not depend on the plan (tested bitwise).
pub fn split_plan(m: usize, n: usize, k: usize, threads: usize) -> (usize, usize) {
    let (long, short) = if n >= m { (n, m) } else { (m, n) };
    if threads <= 1 || short <= 1 {
        return (1, 1);
    }
    let flops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    let want = (flops / TASK_FLOPS).clamp(1, threads);
    if want == 1 {
        return (1, 1);
    }
    let min_piece = if short <= 64 { 80 } else { 16 };
    let piece = long.div_ceil(want).next_multiple_of(16).max(min_piece);
    let pieces = long.div_ceil(piece);
    if n >= m {
        (1, pieces)
    } else {
        (pieces, 1)
    }
}

/// One product: cut into pieces on the thread team when `split` (see `gemm_split`), else in one
/// call on this thread.
///
/// # Safety
/// As `MatElem::gemm_one`.
pub unsafe fn gemm_run<T: MatElem>(p: &Product<T>, split: bool) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if split {
            gemm_split(p)
        } else {
            T::gemm_one(p, Parallelism::None)
        }
    }
}

/// One product cut into `split_plan` pieces, run as tasks on the thread team (inline when already
/// inside a task).
///
/// # Safety
/// As `MatElem::gemm_one`.
pub unsafe fn gemm_split<T: MatElem>(p: &Product<T>) {
    let (m, n) = (p.m, p.n);
    let (pm, pn) = split_plan(m, n, p.k, crate::threads::num_threads());
    let (hm, hn) = (m.div_ceil(pm), n.div_ceil(pn));
    crate::threads::run_tasks(pm * pn, |t| {
        let (i0, j0) = ((t / pn) * hm, (t % pn) * hn);
        // SAFETY: piece (i0, j0) reads rows i0.. of a and columns j0.. of b and writes only its
        // own block of dst; the caller guarantees the whole matrices are valid.
        unsafe {
            let piece = Product {
                m: hm.min(m - i0),
                n: hn.min(n - j0),
                dst: p.dst.offset(i0 as isize * p.dst_rs + j0 as isize),
                a: Operand {
                    ptr: p.a.ptr.offset(i0 as isize * p.a.rs),
                    ..p.a
                },
                b: Operand {
                    ptr: p.b.ptr.offset(j0 as isize * p.b.cs),
                    ..p.b
                },
                ..*p
            };
            T::gemm_one(&piece, Parallelism::None);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn small_products() {
        let a: Vec<f32> = (0..6).map(|v| v as f32).collect(); // 2x3
        let b: Vec<f32> = (0..12).map(|v| v as f32).collect(); // 3x4
        let mut out = vec![0f32; 8];
        unsafe {
            batched(
                &mut out,
                2,
                4,
                3,
                Operand {
                    ptr: a.as_ptr(),
                    rs: 3,
                    cs: 1,
                },
                &[0],
                Operand {
                    ptr: b.as_ptr(),
                    rs: 4,
                    cs: 1,
                },
                &[0],
                false,
                0.0,
                1.0,
            );
        }
        assert_eq!(out, vec![20.0, 23.0, 26.0, 29.0, 56.0, 68.0, 80.0, 92.0]);
        let ai: Vec<i64> = (0..6).collect();
        let bi: Vec<i64> = (0..12).collect();
        let mut oi = vec![0i64; 8];
        unsafe {
            batched(
                &mut oi,
                2,
                4,
                3,
                Operand {
                    ptr: ai.as_ptr(),
                    rs: 3,
                    cs: 1,
                },
                &[0],
                Operand {
                    ptr: bi.as_ptr(),
                    rs: 4,
                    cs: 1,
                },
                &[0],
                false,
                0,
                1,
            );
        }
        assert_eq!(oi, vec![20, 23, 26, 29, 56, 68, 80, 92]);
    }

    /// Cutting a product into pieces must not change a single bit (thread-count independence).
    #[test]
    fn split_pieces_equal_one_call() {
        crate::threads::set_num_threads(4);
        let shapes = [
            (1024, 1024, 1024, false),
            (300, 70, 1000, false),
            (64, 1000, 700, true),
            (1000, 48, 600, false),
            (72, 256, 2000, true),
        ];
        for (m, n, k, transposed_b) in shapes {
            assert!(split_plan(m, n, k, 4) != (1, 1), "{m}x{n}x{k} is not split");
            let a: Vec<f32> = (0..m * k)
                .map(|i| ((i * 7919) % 1009) as f32 / 97.0 - 5.0)
                .collect();
            let b: Vec<f32> = (0..k * n)
                .map(|i| ((i * 104_729) % 997) as f32 / 89.0 - 5.5)
                .collect();
            let init: Vec<f32> = (0..m * n).map(|i| (i % 13) as f32 * 0.25).collect();
            let ao = Operand {
                ptr: a.as_ptr(),
                rs: k as isize,
                cs: 1,
            };
            let bo = if transposed_b {
                Operand {
                    ptr: b.as_ptr(),
                    rs: 1,
                    cs: k as isize,
                }
            } else {
                Operand {
                    ptr: b.as_ptr(),
                    rs: n as isize,
                    cs: 1,
                }
            };
            for read_dst in [false, true] {
                let (mut one, mut pieces) = (init.clone(), init.clone());
                let product = |dst: *mut f32| Product {
                    m,
                    n,
                    k,
                    dst,
                    dst_rs: n as isize,
                    read_dst,
                    a: ao,
                    b: bo,
                    dst_scale: 0.5,
                    scale: 1.5,
                };
                unsafe {
                    f32::gemm_one(&product(one.as_mut_ptr()), Parallelism::None);
                    gemm_split(&product(pieces.as_mut_ptr()));
                }
                assert!(
                    one.iter()
                        .zip(&pieces)
                        .all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{m}x{n}x{k} read_dst={read_dst}"
                );
            }
        }
    }
}
