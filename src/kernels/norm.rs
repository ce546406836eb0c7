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
simd_dispatch!(fn channel_sum<T: Float>(x: &[T], dims: (usize, usize, usize), ch: usize, mean: f64, centred: bool) -> f64 = channel_sum_body);

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
simd_dispatch!(fn grad_sums<T: Float>(x: &[T], dy: &[T], dims: (usize, usize, usize), ch: usize, mu: f64) -> (f64, f64) = grad_sums_body);

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
