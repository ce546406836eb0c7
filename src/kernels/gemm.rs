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

/// Element types with a matrix-product kernel.
pub trait MatElem: Element + Arith {
    /// `dst = dst_scale*dst + scale*lhs·rhs` (dst read only when `read_dst`); dst rows contiguous.
    ///
    /// # Safety
    /// Pointers with their strides must address valid m×k, k×n and m×n (row stride `dst_rs`) matrices.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm_one(
        m: usize,
        n: usize,
        k: usize,
        dst: *mut Self,
        dst_rs: isize,
        read_dst: bool,
        a: Operand<Self>,
        b: Operand<Self>,
        dst_scale: Self,
        scale: Self,
        par: Parallelism,
    );
}

macro_rules! float_gemm {
    ($t:ty) => {
        impl MatElem for $t {
            unsafe fn gemm_one(
                m: usize,
                n: usize,
                k: usize,
                dst: *mut Self,
                dst_rs: isize,
                read_dst: bool,
                a: Operand<Self>,
                b: Operand<Self>,
                dst_scale: Self,
                scale: Self,
                par: Parallelism,
            ) {
                if m * n * k <= SMALL_MACS {
                    return unsafe {
                        naive(m, n, k, dst, dst_rs, read_dst, a, b, dst_scale, scale)
                    };
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
#[allow(clippy::too_many_arguments)]
pub unsafe fn naive<T: Element + Arith>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_rs: isize,
    read_dst: bool,
    a: Operand<T>,
    b: Operand<T>,
    dst_scale: T,
    scale: T,
) {
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
            unsafe fn gemm_one(
                m: usize,
                n: usize,
                k: usize,
                dst: *mut Self,
                dst_rs: isize,
                read_dst: bool,
                a: Operand<Self>,
                b: Operand<Self>,
                dst_scale: Self,
                scale: Self,
                _par: Parallelism,
            ) {
                unsafe { naive(m, n, k, dst, dst_rs, read_dst, a, b, dst_scale, scale) }
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
    let threads = crate::threads::num_threads();
    let dst = SendPtr(out.as_mut_ptr());
    let (sa, sb) = (SendPtr(a.ptr as *mut T), SendPtr(b.ptr as *mut T));
    let (a_rs, a_cs, b_rs, b_cs) = (a.rs, a.cs, b.rs, b.cs);
    let run = move |bi: usize, par: Parallelism| {
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
            T::gemm_one(
                m,
                n,
                k,
                dst.0.add(bi * block),
                n as isize,
                read_dst,
                ao,
                bo,
                dst_scale,
                scale,
                par,
            );
        }
    };
    if total < PAR_MIN_FLOPS || threads == 1 || !T::DTYPE.is_float() {
        for bi in 0..batches {
            run(bi, Parallelism::None);
        }
        return;
    }
    crate::threads::pool().install(|| {
        if batches >= threads && per < PAR_MIN_FLOPS {
            // Many small products: one per task, each sequential.
            use rayon::prelude::*;
            (0..batches)
                .into_par_iter()
                .for_each(|bi| run(bi, Parallelism::None));
        } else {
            for bi in 0..batches {
                run(bi, Parallelism::Rayon(threads));
            }
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
}
