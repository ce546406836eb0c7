//! Batch-norm kernels over contiguous [n, c, s] data: per-channel statistics, fused apply, fused backward.

use crate::kernels::conv::Float;
use crate::kernels::send_ptr::SendPtr;
use rayon::prelude::*;

const PAR_MIN_ELEMS: usize = 1 << 17;

/// Runs `f(channel)` for every channel, in the pool when the tensor is big.
fn map_channels<R: Send>(c: usize, elems: usize, f: impl Fn(usize) -> R + Sync + Send) -> Vec<R> {
    if elems < PAR_MIN_ELEMS || crate::threads::num_threads() == 1 || c < 2 {
        (0..c).map(f).collect()
    } else {
        crate::threads::pool().install(|| (0..c).into_par_iter().map(f).collect())
    }
}

/// Per-channel mean and biased variance (two passes over each channel, f64 accumulation).
pub fn batch_stats<T: Float>(x: &[T], (n, c, s): (usize, usize, usize)) -> Vec<(f64, f64)> {
    let m = (n * s) as f64;
    map_channels(c, n * c * s, |ch| {
        let mut sum = 0.0f64;
        for i in 0..n {
            for &v in &x[(i * c + ch) * s..][..s] {
                sum += v.to_f64();
            }
        }
        let mean = sum / m;
        let mut sq = 0.0f64;
        for i in 0..n {
            for &v in &x[(i * c + ch) * s..][..s] {
                let d = v.to_f64() - mean;
                sq += d * d;
            }
        }
        (mean, sq / m)
    })
}

/// `y = x·scale[c] + shift[c]` (the normalisation folded into one multiply-add per element).
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
        for i in 0..n {
            let off = (i * c + ch) * s;
            // SAFETY: channel ch owns the [i, ch, :] rows of y.
            let yo = unsafe { std::slice::from_raw_parts_mut(yp.get().add(off), s) };
            for (o, &v) in yo.iter_mut().zip(&x[off..off + s]) {
                *o = v * a + b;
            }
        }
    });
}

/// Backward of batch norm given per-channel `mean`, `invstd` and the effective weight `w`:
/// returns per-channel (Σ dy, Σ dy·x̂) and, when `gx` is Some, writes
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
        let (mut sdy, mut sdyx) = (0.0f64, 0.0f64);
        for i in 0..n {
            let off = (i * c + ch) * s;
            for (&g, &v) in dy[off..off + s].iter().zip(&x[off..off + s]) {
                let g = g.to_f64();
                sdy += g;
                sdyx += g * (v.to_f64() - mu);
            }
        }
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
            let (a, b, cc) = (T::from_f64(a), T::from_f64(b), T::from_f64(cc));
            for i in 0..n {
                let off = (i * c + ch) * s;
                // SAFETY: channel ch owns the [i, ch, :] rows of gx.
                let go = unsafe { std::slice::from_raw_parts_mut(gp.get().add(off), s) };
                for ((o, &g), &v) in go.iter_mut().zip(&dy[off..off + s]).zip(&x[off..off + s]) {
                    *o = g * a + v * cc + b;
                }
            }
        }
        (sdy, sdyx * is)
    })
}
