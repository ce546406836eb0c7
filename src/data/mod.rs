//! Batch assembly for DataLoader's fast path: row gathers and the fused uint8 HWC → float CHW image pipeline.

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::ops::copy::contiguous;
use crate::tensor::Tensor;

/// Below this many output bytes a batch is assembled inline: a pool hop costs more than the copy.
const PAR_MIN_BYTES: usize = 1 << 16;

/// Resolves a (possibly negative) sample index against a dataset of `n` samples.
fn resolve(i: i64, n: usize) -> Result<usize> {
    let n_i = i64::try_from(n).map_err(|_| Error::index("dataset too large"))?;
    let j = if i < 0 { i + n_i } else { i };
    if j < 0 || j >= n_i {
        return Err(Error::index(format!(
            "index {i} is out of bounds for dimension 0 with size {n}"
        )));
    }
    Ok(j as usize)
}

/// `src[idx]` along dim 0 in one call (torch's `index_select(0, idx)`), rows copied in parallel.
pub fn gather(src: &Tensor, idx: &[i64]) -> Result<Tensor> {
    if src.ndim() == 0 {
        return Err(Error::index(
            "invalid index of a 0-dim tensor. Use `tensor.item()` in Python",
        ));
    }
    let n = src.shape()[0];
    let rows: Vec<usize> = idx.iter().map(|&i| resolve(i, n)).collect::<Result<_>>()?;
    let src = contiguous(src)?;
    let row = src.shape()[1..]
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d));
    let row = row.ok_or_else(|| Error::runtime("sample too large"))?;
    let mut shape = src.shape().to_vec();
    shape[0] = rows.len();
    crate::dispatch!(src.dtype(), T => gather_typed::<T>(&src, &rows, row, &shape))
}

fn gather_typed<T: Element>(
    src: &Tensor,
    rows: &[usize],
    row: usize,
    shape: &[usize],
) -> Result<Tensor> {
    let s = src.as_slice::<T>();
    let total = rows
        .len()
        .checked_mul(row)
        .ok_or_else(|| Error::runtime("batch too large"))?;
    let mut out = vec![T::zero(); total];
    if row > 0 {
        let parallel = total * std::mem::size_of::<T>() >= PAR_MIN_BYTES;
        crate::threads::par_chunks_mut(&mut out, row, parallel, |k, dst| {
            let r = rows[k];
            dst.copy_from_slice(&s[r * row..(r + 1) * row]);
        });
    }
    Tensor::from_vec(out, shape)
}

/// Per-sample geometry: output pixel (y, x) reads source pixel (ay + sy*y, ax + sx*x), or the fill
/// value outside the source. Flips and one (padded) crop in any order compose into this form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Geometry {
    pub ay: i64,
    pub sy: i64,
    pub ax: i64,
    pub sx: i64,
}

/// The fused ToTensor (+ Normalize) pipeline for a batch of uint8 images.
#[derive(Clone, Debug)]
pub struct ImageSpec {
    pub h_out: usize,
    pub w_out: usize,
    /// Per-channel mean and std (length C); empty when there is no Normalize.
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
    /// Per-channel value written where a padded crop reaches outside the image (output space).
    pub fill: Vec<f32>,
}

/// Gathers `idx` from `src` (uint8, N×H×W×C or N×H×W) and returns float32 B×C×h_out×w_out with
/// torchvision's arithmetic: `x / 255` in float32, then `(v - mean) / std`, so results are bit-identical.
pub fn image_batch(
    src: &Tensor,
    idx: &[i64],
    geo: &[Geometry],
    spec: &ImageSpec,
) -> Result<Tensor> {
    if src.dtype() != DType::U8 || !(src.ndim() == 3 || src.ndim() == 4) {
        return Err(Error::type_(format!(
            "image batches need uint8 N×H×W×C data, got {:?} with {} dims",
            src.dtype(),
            src.ndim()
        )));
    }
    if geo.len() != idx.len() {
        return Err(Error::value("one geometry per sample is required"));
    }
    let (n, h, w) = (src.shape()[0], src.shape()[1], src.shape()[2]);
    let c = if src.ndim() == 4 { src.shape()[3] } else { 1 };
    let norm = !spec.mean.is_empty();
    if norm && (spec.mean.len() != c || spec.std.len() != c) {
        return Err(Error::runtime(format!(
            "The size of tensor a ({}) must match the size of tensor b ({c}) at non-singleton dimension 0",
            spec.mean.len()
        )));
    }
    if spec.fill.len() != c {
        return Err(Error::value("fill needs one value per channel"));
    }
    let rows: Vec<usize> = idx.iter().map(|&i| resolve(i, n)).collect::<Result<_>>()?;
    let src = contiguous(src)?;
    let s = src.as_slice::<u8>();
    let (ho, wo) = (spec.h_out, spec.w_out);
    let per = c
        .checked_mul(ho)
        .and_then(|v| v.checked_mul(wo))
        .ok_or_else(|| Error::runtime("image too large"))?;
    let total = per
        .checked_mul(rows.len())
        .ok_or_else(|| Error::runtime("batch too large"))?;
    let mut out = vec![0f32; total];
    let img = h * w * c;
    // A 256-entry table per channel holds torchvision's exact float32 result for every byte value, so the
    // loop is a gather (no divisions) and stays bit-identical to `x / 255` then `(v - mean) / std`.
    let luts: Vec<[f32; 256]> = (0..c)
        .map(|ch| {
            let mut t = [0f32; 256];
            for (v, e) in t.iter_mut().enumerate() {
                let x = v as f32 / 255.0;
                *e = if norm {
                    (x - spec.mean[ch]) / spec.std[ch]
                } else {
                    x
                };
            }
            t
        })
        .collect();
    let one = |k: usize, dst: &mut [f32]| {
        let base = &s[rows[k] * img..(rows[k] + 1) * img];
        let g = geo[k];
        // Output columns whose source column lies inside the image: [x_lo, x_hi).
        let inside = |x: usize| {
            let sx = g.ax + g.sx * x as i64;
            sx >= 0 && sx < w as i64
        };
        let x_lo = (0..wo).find(|&x| inside(x)).unwrap_or(wo);
        let x_hi = (x_lo..wo).find(|&x| !inside(x)).unwrap_or(wo);
        for ch in 0..c {
            let lut = &luts[ch];
            let plane = &mut dst[ch * ho * wo..(ch + 1) * ho * wo];
            for (y, orow) in plane.chunks_mut(wo.max(1)).enumerate() {
                let sy = g.ay + g.sy * y as i64;
                if sy < 0 || sy >= h as i64 {
                    orow.iter_mut().for_each(|v| *v = spec.fill[ch]);
                    continue;
                }
                let srow = &base[sy as usize * w * c..(sy as usize + 1) * w * c];
                orow[..x_lo].iter_mut().for_each(|v| *v = spec.fill[ch]);
                orow[x_hi..].iter_mut().for_each(|v| *v = spec.fill[ch]);
                if x_hi > x_lo {
                    let sx0 = (g.ax + g.sx * x_lo as i64) as usize;
                    let seg = &mut orow[x_lo..x_hi];
                    if g.sx == 1 {
                        let src = srow[sx0 * c + ch..].iter().step_by(c);
                        seg.iter_mut()
                            .zip(src)
                            .for_each(|(o, &v)| *o = lut[v as usize]);
                    } else {
                        for (i, o) in seg.iter_mut().enumerate() {
                            let sx = (sx0 as i64 + g.sx * i as i64) as usize;
                            *o = lut[srow[sx * c + ch] as usize];
                        }
                    }
                }
            }
        }
    };
    if per > 0 {
        crate::threads::par_chunks_mut(&mut out, per, total * 4 >= PAR_MIN_BYTES, one);
    }
    Tensor::from_vec(out, &[rows.len(), c, ho, wo])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_rows_and_negative_index() {
        let t = Tensor::from_vec((0..12i64).collect::<Vec<_>>(), &[4, 3]).unwrap();
        let g = gather(&t, &[3, 0, -1]).unwrap();
        assert_eq!(g.shape(), &[3, 3]);
        assert_eq!(g.as_slice::<i64>(), &[9, 10, 11, 0, 1, 2, 9, 10, 11]);
        assert!(gather(&t, &[4]).is_err());
    }

    #[test]
    fn image_identity_flip_and_pad() {
        // one 2x2 RGB image
        let t = Tensor::from_vec((0..12u8).collect::<Vec<_>>(), &[1, 2, 2, 3]).unwrap();
        let spec = ImageSpec {
            h_out: 2,
            w_out: 2,
            mean: vec![],
            std: vec![],
            fill: vec![0.0; 3],
        };
        let id = Geometry {
            ay: 0,
            sy: 1,
            ax: 0,
            sx: 1,
        };
        let out = image_batch(&t, &[0], &[id], &spec).unwrap();
        assert_eq!(out.shape(), &[1, 3, 2, 2]);
        assert_eq!(
            out.as_slice::<f32>()[..4],
            [0.0, 3.0 / 255.0, 6.0 / 255.0, 9.0 / 255.0]
        );
        let flip = Geometry {
            ay: 0,
            sy: 1,
            ax: 1,
            sx: -1,
        };
        let out = image_batch(&t, &[0], &[flip], &spec).unwrap();
        assert_eq!(out.as_slice::<f32>()[..2], [3.0 / 255.0, 0.0]);
        let pad = Geometry {
            ay: -1,
            sy: 1,
            ax: 0,
            sx: 1,
        };
        let spec = ImageSpec {
            fill: vec![7.0; 3],
            ..spec
        };
        let out = image_batch(&t, &[0], &[pad], &spec).unwrap();
        assert_eq!(out.as_slice::<f32>()[..2], [7.0, 7.0]);
    }

    #[test]
    fn image_matches_naive_reference_for_all_geometries() {
        let (h, w, c) = (5usize, 7usize, 3usize);
        let data: Vec<u8> = (0..2 * h * w * c).map(|i| (i * 37 % 256) as u8).collect();
        let t = Tensor::from_vec(data.clone(), &[2, h, w, c]).unwrap();
        let spec = ImageSpec {
            h_out: 4,
            w_out: 6,
            mean: vec![0.5, 0.4, 0.3],
            std: vec![0.2, 0.3, 0.4],
            fill: vec![-1.0; 3],
        };
        for (ay, sy, ax, sx) in [
            (0, 1, 0, 1),
            (-2, 1, -3, 1),
            (4, -1, 6, -1),
            (3, -1, 9, -1),
            (2, 1, -1, -1),
        ] {
            let g = Geometry { ay, sy, ax, sx };
            let out = image_batch(&t, &[1], &[g], &spec).unwrap();
            let o = out.as_slice::<f32>();
            for ch in 0..c {
                for y in 0..4 {
                    for x in 0..6 {
                        let (py, px) = (ay + sy * y as i64, ax + sx * x as i64);
                        let want = if py < 0 || px < 0 || py >= h as i64 || px >= w as i64 {
                            -1.0
                        } else {
                            let v = data[h * w * c + (py as usize * w + px as usize) * c + ch]
                                as f32
                                / 255.0;
                            (v - spec.mean[ch]) / spec.std[ch]
                        };
                        assert_eq!(o[(ch * 4 + y) * 6 + x].to_bits(), want.to_bits());
                    }
                }
            }
        }
    }
}
