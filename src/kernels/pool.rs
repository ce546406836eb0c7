//! 2-D pooling kernels over contiguous [planes, h, w] data: max (with argmax indices), average, adaptive.

use crate::kernels::conv::Float;
use crate::kernels::send_ptr::SendPtr;
use crate::kernels::simd::simd_dispatch;

/// Below this many input elements a pooling op runs on the calling thread.
const PAR_MIN_ELEMS: usize = 1 << 17;

/// Window geometry of a (max or average) pooling; `planes` = batch · channels.
#[derive(Clone, Copy, Debug)]
pub struct PoolGeom {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub ho: usize,
    pub wo: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub ph: usize,
    pub pw: usize,
    pub dh: usize,
    pub dw: usize,
}

/// Runs `f(plane)` for every plane, in the pool when the op is big enough.
fn for_planes(planes: usize, elems: usize, f: impl Fn(usize) + Sync + Send) {
    if elems < PAR_MIN_ELEMS || crate::threads::num_threads() == 1 || planes < 2 {
        (0..planes).for_each(f);
    } else {
        crate::threads::run_tasks(planes, f);
    }
}

/// Output size of one pooled dimension (torch's pooling_output_shape), or None when negative.
pub fn pool_out_size(
    size: usize,
    k: usize,
    pad: usize,
    stride: usize,
    dil: usize,
    ceil: bool,
) -> i64 {
    let (size, k, pad, stride, dil) =
        (size as i64, k as i64, pad as i64, stride as i64, dil as i64);
    let num = size + 2 * pad - dil * (k - 1) - 1 + if ceil { stride - 1 } else { 0 };
    let mut out = num.div_euclid(stride) + 1;
    // the last window must start inside the input or the left padding
    if ceil && (out - 1) * stride >= size + pad {
        out -= 1;
    }
    out
}

/// One max-pool comparison step: NaN wins (later NaNs take the index, as torch's
/// `val > max || isnan(val)`), ties keep the first. Non-short-circuit `|` keeps it branch-free:
/// random data makes `if v > best` mispredict half the time.
#[inline(always)]
fn take_max<T: Float, I: Copy>(best: &mut T, bi: &mut I, v: T, i: I) {
    let upd = (v > *best) | v.isnan();
    *best = if upd { v } else { *best };
    *bi = if upd { i } else { *bi };
}

/// `L` outputs of 2×2 windows with stride 2 (input rows r0, r1; slices of exactly 2L and L), as lane
/// arrays of constant length so the compare/select chains become vector code without bounds checks;
/// the tap that won is kept as a code 0..4 and turned into the flat index at the end.
#[inline(always)]
fn max_pool_2x2_block<T: Float, const L: usize>(
    r0: &[T],
    r1: &[T],
    base: i64,
    w: i64,
    yr: &mut [T],
    ir: &mut [i64],
) {
    let (r0, r1, yr, ir) = (&r0[..2 * L], &r1[..2 * L], &mut yr[..L], &mut ir[..L]);
    let mut best = [T::zero(); L];
    let mut code = [0u32; L];
    // the first tap always wins against -inf (or is -inf itself, with the same index)
    for j in 0..L {
        best[j] = r0[2 * j];
    }
    for j in 0..L {
        take_max(&mut best[j], &mut code[j], r0[2 * j + 1], 1);
    }
    for j in 0..L {
        take_max(&mut best[j], &mut code[j], r1[2 * j], 2);
    }
    for j in 0..L {
        take_max(&mut best[j], &mut code[j], r1[2 * j + 1], 3);
    }
    for j in 0..L {
        yr[j] = best[j];
        let c = code[j] as i64;
        ir[j] = base + 2 * j as i64 + (c & 1) + (c >> 1) * w;
    }
}

/// One output row of 2×2 windows with stride 2: blocks of 16 and 8 outputs, then single ones.
#[inline(always)]
fn max_pool_2x2_row_body<T: Float>(
    r0: &[T],
    r1: &[T],
    base: i64,
    w: i64,
    yr: &mut [T],
    ir: &mut [i64],
) {
    let wo = yr.len();
    let mut o = 0;
    while o < wo {
        let (a, b) = (&r0[2 * o..], &r1[2 * o..]);
        let (y, i, bo) = (&mut yr[o..], &mut ir[o..], base + 2 * o as i64);
        o += match wo - o {
            16.. => {
                max_pool_2x2_block::<T, 16>(a, b, bo, w, y, i);
                16
            }
            8.. => {
                max_pool_2x2_block::<T, 8>(a, b, bo, w, y, i);
                8
            }
            _ => {
                max_pool_2x2_block::<T, 1>(a, b, bo, w, y, i);
                1
            }
        };
    }
}
simd_dispatch!(fn max_pool_2x2_row<T: Float>(r0: &[T], r1: &[T], base: i64, w: i64, yr: &mut [T], ir: &mut [i64]) = max_pool_2x2_row_body);

/// 2×2 windows with stride 2 and no padding/dilation, all inside the plane (the ConvNet's pool).
fn max_pool_2x2_plane<T: Float>(g: &PoolGeom, xp: &[T], yo: &mut [T], io: &mut [i64]) {
    let w = g.w;
    for oh in 0..g.ho {
        let (r0, r1) = (
            &xp[2 * oh * w..][..2 * g.wo],
            &xp[(2 * oh + 1) * w..][..2 * g.wo],
        );
        let (yr, ir) = (&mut yo[oh * g.wo..][..g.wo], &mut io[oh * g.wo..][..g.wo]);
        max_pool_2x2_row(r0, r1, (2 * oh * w) as i64, w as i64, yr, ir);
    }
}

/// Max pooling: `y` [planes, ho, wo] and flat h·w argmax indices. NaN wins (propagates), first max on ties.
pub fn max_pool2d_forward<T: Float>(g: &PoolGeom, x: &[T], y: &mut [T], idx: &mut [i64]) {
    let (yp, ip) = (SendPtr(y.as_mut_ptr()), SendPtr(idx.as_mut_ptr()));
    let ohw = g.ho * g.wo;
    let fast_2x2 = (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw) == (2, 2, 2, 2, 0, 0)
        && 2 * g.ho <= g.h
        && 2 * g.wo <= g.w;
    for_planes(g.planes, g.planes * g.h * g.w, |p| {
        let xp = &x[p * g.h * g.w..(p + 1) * g.h * g.w];
        // SAFETY: plane p owns its ho·wo outputs.
        let (yo, io) = unsafe {
            (
                std::slice::from_raw_parts_mut(yp.get().add(p * ohw), ohw),
                std::slice::from_raw_parts_mut(ip.get().add(p * ohw), ohw),
            )
        };
        if fast_2x2 {
            return max_pool_2x2_plane(g, xp, yo, io);
        }
        for oh in 0..g.ho {
            let mut h0 = (oh * g.sh) as isize - g.ph as isize;
            let h1 = (h0 + ((g.kh - 1) * g.dh) as isize + 1).min(g.h as isize);
            while h0 < 0 {
                h0 += g.dh as isize;
            }
            for ow in 0..g.wo {
                let mut w0 = (ow * g.sw) as isize - g.pw as isize;
                let w1 = (w0 + ((g.kw - 1) * g.dw) as isize + 1).min(g.w as isize);
                while w0 < 0 {
                    w0 += g.dw as isize;
                }
                let mut best = T::neg_inf();
                let mut bi = h0 as i64 * g.w as i64 + w0 as i64;
                let mut ih = h0;
                while ih < h1 {
                    let row = &xp[ih as usize * g.w..];
                    let mut iw = w0;
                    while iw < w1 {
                        take_max(
                            &mut best,
                            &mut bi,
                            row[iw as usize],
                            ih as i64 * g.w as i64 + iw as i64,
                        );
                        iw += g.dw as isize;
                    }
                    ih += g.dh as isize;
                }
                yo[oh * g.wo + ow] = best;
                io[oh * g.wo + ow] = bi;
            }
        }
    });
}

/// Scatters `gy` to the argmax positions: gx [planes, h, w] (zeroed by the caller) += gy at idx.
pub fn max_pool2d_backward<T: Float>(
    planes: usize,
    hw: usize,
    ohw: usize,
    gy: &[T],
    idx: &[i64],
    gx: &mut [T],
) {
    let gp = SendPtr(gx.as_mut_ptr());
    for_planes(planes, planes * hw, |p| {
        // SAFETY: plane p owns gx[p*hw..][..hw].
        let gxp = unsafe { std::slice::from_raw_parts_mut(gp.get().add(p * hw), hw) };
        for (&g, &i) in gy[p * ohw..(p + 1) * ohw]
            .iter()
            .zip(&idx[p * ohw..(p + 1) * ohw])
        {
            if let Some(d) = usize::try_from(i).ok().and_then(|i| gxp.get_mut(i)) {
                *d += g;
            }
        }
    });
}

/// One average-pooling window: clipped bounds and divisor (torch's avg_pool2d rules).
#[inline]
fn avg_window(
    g: &PoolGeom,
    oh: usize,
    ow: usize,
    cip: bool,
    div: Option<i64>,
) -> (usize, usize, usize, usize, i64) {
    let mut h0 = (oh * g.sh) as i64 - g.ph as i64;
    let mut w0 = (ow * g.sw) as i64 - g.pw as i64;
    let mut h1 = (h0 + g.kh as i64).min((g.h + g.ph) as i64);
    let mut w1 = (w0 + g.kw as i64).min((g.w + g.pw) as i64);
    let pool = (h1 - h0) * (w1 - w0);
    h0 = h0.max(0);
    w0 = w0.max(0);
    h1 = h1.min(g.h as i64);
    w1 = w1.min(g.w as i64);
    let d = match div {
        Some(d) => d,
        None if cip => pool,
        None => (h1 - h0) * (w1 - w0),
    };
    let (h1, w1) = (h1.max(h0), w1.max(w0));
    (h0 as usize, h1 as usize, w0 as usize, w1 as usize, d)
}

/// Average pooling forward; an empty (fully padded) window gives 0.
pub fn avg_pool2d_forward<T: Float>(
    g: &PoolGeom,
    x: &[T],
    y: &mut [T],
    cip: bool,
    div: Option<i64>,
) {
    let yp = SendPtr(y.as_mut_ptr());
    let ohw = g.ho * g.wo;
    for_planes(g.planes, g.planes * g.h * g.w, |p| {
        let xp = &x[p * g.h * g.w..(p + 1) * g.h * g.w];
        // SAFETY: plane p owns its outputs.
        let yo = unsafe { std::slice::from_raw_parts_mut(yp.get().add(p * ohw), ohw) };
        for oh in 0..g.ho {
            for ow in 0..g.wo {
                let (h0, h1, w0, w1, d) = avg_window(g, oh, ow, cip, div);
                if h0 >= h1 || w0 >= w1 {
                    yo[oh * g.wo + ow] = T::zero();
                    continue;
                }
                let mut s = T::zero();
                for ih in h0..h1 {
                    for &v in &xp[ih * g.w + w0..ih * g.w + w1] {
                        s += v;
                    }
                }
                yo[oh * g.wo + ow] = s / T::from_f64(d as f64);
            }
        }
    });
}

/// Average pooling backward: each output's gradient / divisor spread over its window (gx zeroed).
pub fn avg_pool2d_backward<T: Float>(
    g: &PoolGeom,
    gy: &[T],
    gx: &mut [T],
    cip: bool,
    div: Option<i64>,
) {
    let gp = SendPtr(gx.as_mut_ptr());
    let (hw, ohw) = (g.h * g.w, g.ho * g.wo);
    for_planes(g.planes, g.planes * hw, |p| {
        // SAFETY: plane p owns gx[p*hw..][..hw].
        let gxp = unsafe { std::slice::from_raw_parts_mut(gp.get().add(p * hw), hw) };
        let gyp = &gy[p * ohw..(p + 1) * ohw];
        for oh in 0..g.ho {
            for ow in 0..g.wo {
                let (h0, h1, w0, w1, d) = avg_window(g, oh, ow, cip, div);
                if h0 >= h1 || w0 >= w1 {
                    continue;
                }
                let v = gyp[oh * g.wo + ow] / T::from_f64(d as f64);
                for ih in h0..h1 {
                    for e in &mut gxp[ih * g.w + w0..ih * g.w + w1] {
                        *e += v;
                    }
                }
            }
        }
    });
}

/// Adaptive window `[floor(o·in/out), ceil((o+1)·in/out))`.
#[inline]
pub fn adaptive_range(o: usize, out: usize, inp: usize) -> (usize, usize) {
    let start = (o * inp) / out;
    let end = ((o + 1) * inp).div_ceil(out);
    (start, end)
}

/// Adaptive average (`idx` None) or max (`idx` Some, flat argmax) pooling of [planes, h, w] to [planes, ho, wo].
pub fn adaptive_pool2d_forward<T: Float>(
    planes: usize,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    x: &[T],
    y: &mut [T],
    idx: Option<&mut [i64]>,
) {
    let yp = SendPtr(y.as_mut_ptr());
    let is_max = idx.is_some();
    let ip = SendPtr(idx.map_or(std::ptr::null_mut(), |i| i.as_mut_ptr()));
    let ohw = ho * wo;
    for_planes(planes, planes * h * w, |p| {
        let xp = &x[p * h * w..(p + 1) * h * w];
        // SAFETY: plane p owns its outputs (and indices when max).
        let yo = unsafe { std::slice::from_raw_parts_mut(yp.get().add(p * ohw), ohw) };
        for oh in 0..ho {
            let (h0, h1) = adaptive_range(oh, ho, h);
            for ow in 0..wo {
                let (w0, w1) = adaptive_range(ow, wo, w);
                if is_max {
                    let mut best = T::neg_inf();
                    let mut bi = (h0 * w + w0) as i64;
                    for ih in h0..h1 {
                        for iw in w0..w1 {
                            let v = xp[ih * w + iw];
                            if v > best || v.isnan() {
                                best = v;
                                bi = (ih * w + iw) as i64;
                            }
                        }
                    }
                    yo[oh * wo + ow] = best;
                    // SAFETY: as above, index slot of plane p.
                    unsafe { *ip.get().add(p * ohw + oh * wo + ow) = bi };
                } else {
                    let mut s = T::zero();
                    for ih in h0..h1 {
                        for &v in &xp[ih * w + w0..ih * w + w1] {
                            s += v;
                        }
                    }
                    yo[oh * wo + ow] = s / T::from_f64(((h1 - h0) * (w1 - w0)) as f64);
                }
            }
        }
    });
}

/// Adaptive average pooling backward (gx zeroed by the caller).
pub fn adaptive_avg_pool2d_backward<T: Float>(
    planes: usize,
    (h, w): (usize, usize),
    (ho, wo): (usize, usize),
    gy: &[T],
    gx: &mut [T],
) {
    let gp = SendPtr(gx.as_mut_ptr());
    for_planes(planes, planes * h * w, |p| {
        // SAFETY: plane p owns gx[p*h*w..][..h*w].
        let gxp = unsafe { std::slice::from_raw_parts_mut(gp.get().add(p * h * w), h * w) };
        let gyp = &gy[p * ho * wo..(p + 1) * ho * wo];
        for oh in 0..ho {
            let (h0, h1) = adaptive_range(oh, ho, h);
            for ow in 0..wo {
                let (w0, w1) = adaptive_range(ow, wo, w);
                let v = gyp[oh * wo + ow] / T::from_f64(((h1 - h0) * (w1 - w0)) as f64);
                for ih in h0..h1 {
                    for e in &mut gxp[ih * w + w0..ih * w + w1] {
                        *e += v;
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_size_ceil_mode() {
        assert_eq!(pool_out_size(5, 2, 0, 2, 1, false), 2);
        assert_eq!(pool_out_size(5, 2, 0, 2, 1, true), 3);
        assert_eq!(pool_out_size(4, 2, 1, 2, 1, true), 3);
        assert_eq!(pool_out_size(2, 3, 0, 3, 1, false), 0);
    }

    #[test]
    fn max_pool_nan_and_ties() {
        let g = PoolGeom {
            planes: 1,
            h: 2,
            w: 2,
            ho: 1,
            wo: 1,
            kh: 2,
            kw: 2,
            sh: 2,
            sw: 2,
            ph: 0,
            pw: 0,
            dh: 1,
            dw: 1,
        };
        let (mut y, mut i) = (vec![0.0f32], vec![0i64]);
        max_pool2d_forward(&g, &[1.0, 3.0, 3.0, f32::NAN], &mut y, &mut i);
        assert!(y[0].is_nan() && i[0] == 3);
        max_pool2d_forward(&g, &[1.0, 3.0, 3.0, 2.0], &mut y, &mut i);
        assert_eq!((y[0], i[0]), (3.0, 1));
    }
}
