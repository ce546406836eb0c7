//! float32 GELU loops (exact erf form): each a plain loop, so the vectorisable erfc/exp inline.
//!
//! Why not `map1`/`map2` with a closure: the derivative (an erfc and an exp, in f64) is large
//! enough that the compiler stopped inlining the closure into the two-input loop and called it
//! per element, 30× slower than PyTorch's vectorised kernel.

use super::send_ptr::SendPtr;
use super::simd::with_avx512;
use super::vmath::{erfc_fast64, exp64};
use crate::threads;

const CHUNK: usize = 1 << 14;
const INV_SQRT_2PI: f64 = 0.398_942_280_401_432_7;

/// x·Φ(x) with Φ(x) = ½erfc(−x/√2), computed in f64 (within 2 float32 ulps of exact).
#[inline(always)]
pub fn gelu(v: f64) -> f64 {
    v * 0.5 * erfc_fast64(-v * std::f64::consts::FRAC_1_SQRT_2)
}

/// d/dx x Φ(x) = Φ(x) + x φ(x).
#[inline(always)]
pub fn gelu_df(v: f64) -> f64 {
    0.5 * erfc_fast64(-v * std::f64::consts::FRAC_1_SQRT_2) + v * INV_SQRT_2PI * exp64(-0.5 * v * v)
}

/// d²/dx² x Φ(x) = 2φ(x) + x φ'(x) = φ(x)(2 − x²).
#[inline(always)]
pub fn gelu_d2(v: f64) -> f64 {
    INV_SQRT_2PI * exp64(-0.5 * v * v) * (2.0 - v * v)
}

/// `out[i] = gelu(x[i])`.
pub fn forward(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len());
    let (px, po) = (SendPtr(x.as_ptr() as *mut f32), SendPtr(out.as_mut_ptr()));
    threads::par_ranges(x.len(), CHUNK, |s, e| {
        let (px, po) = (px, po);
        // SAFETY: disjoint ranges of two buffers of the same length.
        let (x, o) = unsafe {
            (
                std::slice::from_raw_parts(px.get().add(s), e - s),
                std::slice::from_raw_parts_mut(po.get().add(s), e - s),
            )
        };
        with_avx512(|| {
            for (o, &v) in o.iter_mut().zip(x) {
                *o = gelu(v as f64) as f32;
            }
        });
    });
}

/// `out[i] = g[i]·gelu'(x[i])`, the product rounded once.
pub fn backward(x: &[f32], g: &[f32], out: &mut [f32]) {
    assert!(x.len() == out.len() && g.len() == out.len());
    let (px, pg, po) = (
        SendPtr(x.as_ptr() as *mut f32),
        SendPtr(g.as_ptr() as *mut f32),
        SendPtr(out.as_mut_ptr()),
    );
    threads::par_ranges(x.len(), CHUNK, |s, e| {
        let (px, pg, po) = (px, pg, po);
        // SAFETY: disjoint ranges of three buffers of the same length.
        let (x, g, o) = unsafe {
            (
                std::slice::from_raw_parts(px.get().add(s), e - s),
                std::slice::from_raw_parts(pg.get().add(s), e - s),
                std::slice::from_raw_parts_mut(po.get().add(s), e - s),
            )
        };
        with_avx512(|| {
            for ((o, &v), &gv) in o.iter_mut().zip(x).zip(g) {
                *o = (gv as f64 * gelu_df(v as f64)) as f32;
            }
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn erf_exact(v: f64) -> f64 {
        crate::kernels::special::erf(v)
    }

    #[test]
    fn loops_match_the_scalar_formulas_and_exact_erf() {
        let x: Vec<f32> = (0..5000).map(|i| (i as f32 - 2500.0) * 0.004).collect();
        let g: Vec<f32> = (0..5000).map(|i| 1.0 + (i % 7) as f32 * 0.25).collect();
        let (mut y, mut gx) = (vec![0f32; 5000], vec![0f32; 5000]);
        forward(&x, &mut y);
        backward(&x, &g, &mut gx);
        for i in 0..5000 {
            let v = x[i] as f64;
            assert_eq!(y[i], gelu(v) as f32);
            assert_eq!(gx[i], (g[i] as f64 * gelu_df(v)) as f32);
            let exact = v * 0.5 * (1.0 + erf_exact(v * std::f64::consts::FRAC_1_SQRT_2));
            assert!(
                (gelu(v) - exact).abs() <= 2e-7 * exact.abs().max(1e-3),
                "{v}"
            );
        }
    }
}
