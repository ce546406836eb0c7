//! Batch-norm kernels over contiguous [n, c, s] data: per-channel statistics, fused apply, fused backward.

use crate::kernels::conv::Float;
use crate::kernels::send_ptr::SendPtr;
use crate::kernels::simd::simd_dispatch;

const PAR_MIN_ELEMS: usize = 1 << 17;

/// Independent f64 accumulators per reduction: one serial add chain would bound the loop by the
/// FP-add latency (~4 cycles per element); 16 lanes fill two AVX-512 registers.
const LANES: usize = 16;

/// Runs `f(channel)` for every channel, in the pool when the tensor is big.
fn map_channels<R: Send>(c: usize, elems: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if elems < PAR_MIN_ELEMS || crate::threads::num_threads() == 1 || c < 2 {
        (0..c).map(f).collect()
    } else {
        crate::threads::map_tasks(c, f)
    }
}

/// Combines the lanes in a fixed pairwise order (the result depends only on the data).
#[inline(always)]
fn fold(acc: &[f64; LANES]) -> f64 {
    let mut v = *acc;
    let mut w = LANES;
    while w > 1 {
        w /= 2;
        for i in 0..w {
            v[i] += v[i + w];
        }
    }
    v[0]
}

/// A block of LANES values widened to f64 (a separate step so the sums below stay plain lane-wise
/// vector adds; interleaving conversion and accumulation defeated the vectoriser).
#[inline(always)]
fn widen<T: Float>(blk: &[T]) -> [f64; LANES] {
    let blk = &blk[..LANES];
    std::array::from_fn(|j| blk[j].to_f64())
}

/// The last, partial block of a segment, zero-padded (zeros add nothing to either sum).
#[inline(always)]
fn widen_tail<T: Float>(rem: &[T]) -> [f64; LANES] {
    let mut v = [0.0f64; LANES];
    for (d, &s) in v.iter_mut().zip(rem) {
        *d = s.to_f64();
    }
    v
}

/// acc += v, or acc += (v − mean)² over the first `valid` lanes (a function, not a closure: closures
/// are not inlined into the AVX-512 build and would run as baseline code).
#[inline(always)]
fn add_block(acc: &mut [f64; LANES], v: [f64; LANES], valid: usize, centred: bool, mean: f64) {
    if centred {
        for j in 0..LANES {
            // padded lanes would add mean², so they are masked out
            let d = if j < valid { v[j] - mean } else { 0.0 };
            acc[j] += d * d;
        }
    } else {
        for j in 0..LANES {
            acc[j] += v[j];
        }
    }
}

/// (Σ x, Σ (x − mean)²) of one channel, the second sum only when `centred`.
#[inline(always)]
fn channel_sum_body<T: Float>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
    ch: usize,
    mean: f64,
    centred: bool,
) -> f64 {
    let mut acc = [0.0f64; LANES];
    for i in 0..n {
        let seg = &x[(i * c + ch) * s..][..s];
        let mut it = seg.chunks_exact(LANES);
        for blk in &mut it {
            add_block(&mut acc, widen(blk), LANES, centred, mean);
        }
        let rem = it.remainder();
        if !rem.is_empty() {
            add_block(&mut acc, widen_tail(rem), rem.len(), centred, mean);
        }
    }
    fold(&acc)
}
simd_dispatch!(fn channel_sum_generic<T: Float>(x: &[T], dims: (usize, usize, usize), ch: usize, mean: f64, centred: bool) -> f64 = channel_sum_body);

fn channel_sum<T: Float>(
    x: &[T],
    dims: (usize, usize, usize),
    ch: usize,
    mean: f64,
    centred: bool,
) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if let Some(xf) = T::as_f32(x) {
        if crate::kernels::simd::has_avx512() {
            // SAFETY: the CPU features were detected at run time.
            return unsafe { f32x16::channel_sum(xf, dims, ch, mean, centred) };
        }
    }
    channel_sum_generic(x, dims, ch, mean, centred)
}

/// Per-channel mean and biased variance (two passes over each channel, f64 accumulation as torch's
/// CPU kernel).
pub fn batch_stats<T: Float>(x: &[T], (n, c, s): (usize, usize, usize)) -> Vec<(f64, f64)> {
    let m = (n * s) as f64;
    map_channels(c, n * c * s, |ch| {
        let mean = channel_sum(x, (n, c, s), ch, 0.0, false) / m;
        let sq = channel_sum(x, (n, c, s), ch, mean, true);
        (mean, sq / m)
    })
}

/// `y = x·a + b` over one channel's rows.
#[inline(always)]
fn apply_channel_body<T: Float>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
    ch: usize,
    a: T,
    b: T,
    y: SendPtr<T>,
) {
    for i in 0..n {
        let off = (i * c + ch) * s;
        // SAFETY: channel ch owns the [i, ch, :] rows of y.
        let yo = unsafe { std::slice::from_raw_parts_mut(y.get().add(off), s) };
        for (o, &v) in yo.iter_mut().zip(&x[off..off + s]) {
            *o = v * a + b;
        }
    }
}
simd_dispatch!(fn apply_channel<T: Float>(x: &[T], dims: (usize, usize, usize), ch: usize, a: T, b: T, y: SendPtr<T>) = apply_channel_body);

/// `y = x·scale[c] + shift[c]` (the normalisation folded into one multiply-add per element); y is
/// fully written.
pub fn apply<T: Float>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
    scale: &[f64],
    shift: &[f64],
    y: &mut [T],
) {
    let yp = SendPtr(y.as_mut_ptr());
    map_channels(c, n * c * s, |ch| {
        let (a, b) = (T::from_f64(scale[ch]), T::from_f64(shift[ch]));
        apply_channel(x, (n, c, s), ch, a, b, yp);
    });
}

/// a1 += g, a2 += g·(v − μ) lane-wise.
#[inline(always)]
fn add_grad(
    a1: &mut [f64; LANES],
    a2: &mut [f64; LANES],
    g: [f64; LANES],
    v: [f64; LANES],
    mu: f64,
) {
    for j in 0..LANES {
        a1[j] += g[j];
    }
    for j in 0..LANES {
        a2[j] += g[j] * (v[j] - mu);
    }
}

/// (Σ dy, Σ dy·(x − μ)) of one channel.
#[inline(always)]
fn grad_sums_body<T: Float>(
    x: &[T],
    dy: &[T],
    (n, c, s): (usize, usize, usize),
    ch: usize,
    mu: f64,
) -> (f64, f64) {
    let (mut a1, mut a2) = ([0.0f64; LANES], [0.0f64; LANES]);
    for i in 0..n {
        let off = (i * c + ch) * s;
        let (gs, xs) = (&dy[off..off + s], &x[off..off + s]);
        let (mut gi, mut xi) = (gs.chunks_exact(LANES), xs.chunks_exact(LANES));
        for (gb, xb) in (&mut gi).zip(&mut xi) {
            add_grad(&mut a1, &mut a2, widen(gb), widen(xb), mu);
        }
        if !gi.remainder().is_empty() {
            // zero-padded tail lanes have g = 0, so they add nothing to either sum
            let (g, v) = (widen_tail(gi.remainder()), widen_tail(xi.remainder()));
            add_grad(&mut a1, &mut a2, g, v, mu);
        }
    }
    (fold(&a1), fold(&a2))
}
simd_dispatch!(fn grad_sums_generic<T: Float>(x: &[T], dy: &[T], dims: (usize, usize, usize), ch: usize, mu: f64) -> (f64, f64) = grad_sums_body);

fn grad_sums<T: Float>(
    x: &[T],
    dy: &[T],
    dims: (usize, usize, usize),
    ch: usize,
    mu: f64,
) -> (f64, f64) {
    #[cfg(target_arch = "x86_64")]
    if let (Some(xf), Some(gf)) = (T::as_f32(x), T::as_f32(dy)) {
        if crate::kernels::simd::has_avx512() {
            // SAFETY: the CPU features were detected at run time.
            return unsafe { f32x16::grad_sums(xf, gf, dims, ch, mu) };
        }
    }
    grad_sums_generic(x, dy, dims, ch, mu)
}

/// The float32 channel sums written with AVX-512 intrinsics: the generic bodies' exact lane-wise
/// operations (16 f64 lanes, no fused multiply-add, zero-padded tails), so the bits are the same,
/// but in two zmm registers per accumulator — the compiler had turned the generic bodies into
/// 2-wide scalar-converting code that ran the CIFAR net's batch-norm backward at ~2 ns an element.
#[cfg(target_arch = "x86_64")]
mod f32x16 {
    use super::{fold, LANES};
    use std::arch::x86_64::*;

    /// The block at `p` (16 floats) as two vectors of 8 doubles.
    #[inline]
    #[target_feature(enable = "avx512f")]
    unsafe fn widen(p: *const f32) -> (__m512d, __m512d) {
        // SAFETY: the caller passes 16 readable floats.
        unsafe {
            (
                _mm512_cvtps_pd(_mm256_loadu_ps(p)),
                _mm512_cvtps_pd(_mm256_loadu_ps(p.add(8))),
            )
        }
    }

    /// A partial block, zero-padded to 16 floats (the generic bodies' `widen_tail`).
    fn padded(rem: &[f32]) -> [f32; LANES] {
        let mut b = [0f32; LANES];
        b[..rem.len()].copy_from_slice(rem);
        b
    }

    #[target_feature(enable = "avx512f")]
    fn lanes(lo: __m512d, hi: __m512d) -> [f64; LANES] {
        let mut out = [0f64; LANES];
        // SAFETY: out holds 16 doubles.
        unsafe {
            _mm512_storeu_pd(out.as_mut_ptr(), lo);
            _mm512_storeu_pd(out.as_mut_ptr().add(8), hi);
        }
        out
    }

    /// `channel_sum_body` for f32.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn channel_sum(
        x: &[f32],
        (n, c, s): (usize, usize, usize),
        ch: usize,
        mean: f64,
        centred: bool,
    ) -> f64 {
        let m = _mm512_set1_pd(mean);
        let (mut lo, mut hi) = (_mm512_setzero_pd(), _mm512_setzero_pd());
        for i in 0..n {
            let seg = &x[(i * c + ch) * s..][..s];
            let mut it = seg.chunks_exact(LANES);
            for blk in &mut it {
                // SAFETY: blk holds 16 floats.
                let (a, b) = unsafe { widen(blk.as_ptr()) };
                if centred {
                    let (da, db) = (_mm512_sub_pd(a, m), _mm512_sub_pd(b, m));
                    lo = _mm512_add_pd(lo, _mm512_mul_pd(da, da));
                    hi = _mm512_add_pd(hi, _mm512_mul_pd(db, db));
                } else {
                    lo = _mm512_add_pd(lo, a);
                    hi = _mm512_add_pd(hi, b);
                }
            }
            let rem = it.remainder();
            if !rem.is_empty() {
                let blk = padded(rem);
                // SAFETY: blk holds 16 floats.
                let (a, b) = unsafe { widen(blk.as_ptr()) };
                if centred {
                    // padded lanes would add mean², so they are masked to +0 as in the generic body
                    let valid = rem.len();
                    let mask = |from: usize| -> __mmask8 {
                        (0..8)
                            .filter(|j| from + j < valid)
                            .fold(0, |k, j| k | (1 << j))
                    };
                    let da = _mm512_maskz_sub_pd(mask(0), a, m);
                    let db = _mm512_maskz_sub_pd(mask(8), b, m);
                    lo = _mm512_add_pd(lo, _mm512_mul_pd(da, da));
                    hi = _mm512_add_pd(hi, _mm512_mul_pd(db, db));
                } else {
                    lo = _mm512_add_pd(lo, a);
                    hi = _mm512_add_pd(hi, b);
                }
            }
        }
        fold(&lanes(lo, hi))
    }

    /// `grad_sums_body` for f32: (Σ dy, Σ dy·(x − μ)).
    #[target_feature(enable = "avx512f")]
    pub unsafe fn grad_sums(
        x: &[f32],
        dy: &[f32],
        (n, c, s): (usize, usize, usize),
        ch: usize,
        mu: f64,
    ) -> (f64, f64) {
        let m = _mm512_set1_pd(mu);
        let z = _mm512_setzero_pd();
        let (mut s1, mut s2, mut t1, mut t2) = (z, z, z, z);
        for i in 0..n {
            let off = (i * c + ch) * s;
            let (gs, xs) = (&dy[off..off + s], &x[off..off + s]);
            let full = s / LANES * LANES;
            let mut step = |g: *const f32, v: *const f32| {
                // SAFETY: both point at 16 readable floats.
                let ((ga, gb), (va, vb)) = unsafe { (widen(g), widen(v)) };
                s1 = _mm512_add_pd(s1, ga);
                s2 = _mm512_add_pd(s2, gb);
                t1 = _mm512_add_pd(t1, _mm512_mul_pd(ga, _mm512_sub_pd(va, m)));
                t2 = _mm512_add_pd(t2, _mm512_mul_pd(gb, _mm512_sub_pd(vb, m)));
            };
            for j in (0..full).step_by(LANES) {
                step(gs[j..].as_ptr(), xs[j..].as_ptr());
            }
            if full < s {
                // zero-padded tail lanes have g = 0, so they add nothing to either sum
                let (g, v) = (padded(&gs[full..]), padded(&xs[full..]));
                step(g.as_ptr(), v.as_ptr());
            }
        }
        (fold(&lanes(s1, s2)), fold(&lanes(t1, t2)))
    }
}

/// gx = dy·a + x·cc + b over one channel's rows.
#[inline(always)]
fn grad_apply_body<T: Float>(
    x: &[T],
    dy: &[T],
    (n, c, s): (usize, usize, usize),
    ch: usize,
    (a, b, cc): (T, T, T),
    gx: SendPtr<T>,
) {
    for i in 0..n {
        let off = (i * c + ch) * s;
        // SAFETY: channel ch owns the [i, ch, :] rows of gx.
        let go = unsafe { std::slice::from_raw_parts_mut(gx.get().add(off), s) };
        for ((o, &g), &v) in go.iter_mut().zip(&dy[off..off + s]).zip(&x[off..off + s]) {
            *o = g * a + v * cc + b;
        }
    }
}
simd_dispatch!(fn grad_apply<T: Float>(x: &[T], dy: &[T], dims: (usize, usize, usize), ch: usize, coef: (T, T, T), gx: SendPtr<T>) = grad_apply_body);

/// Backward of batch norm given per-channel `mean`, `invstd` and the effective weight `w`:
/// returns per-channel (Σ dy, Σ dy·x̂) and, when `gx` is Some, writes every element of
/// train: gx = w·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M); eval: gx = w·invstd·dy.
pub fn backward<T: Float>(
    x: &[T],
    dy: &[T],
    (n, c, s): (usize, usize, usize),
    mean: &[f64],
    invstd: &[f64],
    w: &[f64],
    train: bool,
    gx: Option<&mut [T]>,
) -> Vec<(f64, f64)> {
    let m = (n * s) as f64;
    let gp = gx.map(|g| SendPtr(g.as_mut_ptr()));
    map_channels(c, n * c * s, |ch| {
        let mu = mean[ch];
        let (sdy, sdyx) = grad_sums(x, dy, (n, c, s), ch, mu);
        let is = invstd[ch];
        if let Some(gp) = gp {
            let k = w[ch] * is;
            let (a, b, cc) = if train {
                // gx = k·dy − k·Σdy/M − k·is²·Σ(dy·(x−μ))/M · (x − μ)
                let proj = is * is * sdyx / m;
                (k, -k * sdy / m + k * proj * mu, -k * proj)
            } else {
                (k, 0.0, 0.0)
            };
            let coef = (T::from_f64(a), T::from_f64(b), T::from_f64(cc));
            grad_apply(x, dy, (n, c, s), ch, coef, gp);
        }
        (sdy, sdyx * is)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-vectorised f32 sums give exactly the generic bodies' bits (tails, NaN, ±0, inf).
    #[test]
    fn f32_sums_equal_the_generic_bodies() {
        for s in [1usize, 7, 15, 16, 17, 33, 64, 100] {
            let (n, c) = (3, 4);
            let x: Vec<f32> = (0..n * c * s)
                .map(|i| match i % 97 {
                    5 => -0.0,
                    11 if s > 60 => f32::INFINITY,
                    _ => ((i * 7919) % 1013) as f32 / 37.0 - 13.0,
                })
                .collect();
            let dy: Vec<f32> = (0..x.len())
                .map(|i| ((i * 104_729) % 997) as f32 / 51.0 - 9.5)
                .collect();
            for ch in 0..c {
                for (mean, centred) in [(0.0, false), (1.25, true), (-3.5, true)] {
                    let a = channel_sum(&x, (n, c, s), ch, mean, centred);
                    let b = channel_sum_generic(&x, (n, c, s), ch, mean, centred);
                    assert_eq!(
                        a.to_bits(),
                        b.to_bits(),
                        "channel_sum s={s} ch={ch} {centred}"
                    );
                }
                let (a1, a2) = grad_sums(&x, &dy, (n, c, s), ch, 0.75);
                let (b1, b2) = grad_sums_generic(&x, &dy, (n, c, s), ch, 0.75);
                assert_eq!(
                    (a1.to_bits(), a2.to_bits()),
                    (b1.to_bits(), b2.to_bits()),
                    "grad_sums s={s}"
                );
            }
        }
        let nan = [f32::NAN; 20];
        assert!(grad_sums(&nan, &nan, (1, 1, 20), 0, 0.0).0.is_nan());
    }
}
