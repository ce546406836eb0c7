//! 2-D max / average / adaptive pooling with backward over 3-D or 4-D input (1-D pools reshape to these).

use crate::autograd::needs_grad;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::pool::{self as k, PoolGeom};
use crate::kernels::uninit::filled_vec;
use crate::ops::copy::contiguous;
use crate::ops::elementwise::{linear_in_grad, record_fn};
use crate::ops::movement::reshape_usize;
use crate::tensor::Tensor;

/// (planes, channels, h, w) of a 3-D [c, h, w] or 4-D [n, c, h, w] input.
fn planes_of(x: &Tensor) -> Result<(usize, usize, usize, usize)> {
    let s = x.shape();
    match s.len() {
        3 => Ok((s[0], s[0], s[1], s[2])),
        4 => Ok((s[0] * s[1], s[1], s[2], s[3])),
        _ => Err(Error::runtime(
            "non-empty 3D or 4D (batch mode) tensor expected for input",
        )),
    }
}

fn out_shape(x: &Tensor, ho: usize, wo: usize) -> Vec<usize> {
    let mut s = x.shape()[..x.ndim() - 2].to_vec();
    s.extend([ho, wo]);
    s
}

fn float_only(x: &Tensor, op: &str) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "\"{op}\" not implemented for '{}'",
            x.dtype().scalar_name()
        )));
    }
    Ok(())
}

fn pair(v: &[i64], what: &str) -> Result<[i64; 2]> {
    match v.len() {
        1 => Ok([v[0], v[0]]),
        2 => Ok([v[0], v[1]]),
        _ => Err(Error::runtime(format!(
            "{what} must either be a single int, or a tuple of two ints"
        ))),
    }
}

/// Validates window parameters and computes the output size (torch's pool2d_shape_check).
#[allow(clippy::too_many_arguments)]
fn geometry(
    x: &Tensor,
    kernel: &[i64],
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    ceil: bool,
    is_max: bool,
) -> Result<PoolGeom> {
    let (planes, c, h, w) = planes_of(x)?;
    let kk = pair(kernel, "kernel_size")?;
    let ss = if stride.is_empty() {
        kk
    } else {
        pair(stride, "stride")?
    };
    let pp = pair(padding, "padding")?;
    let dd = pair(dilation, "dilation")?;
    if kk[0] <= 0 || kk[1] <= 0 {
        return Err(Error::runtime(format!(
            "kernel size should be greater than zero, but got kH: {} kW: {}",
            kk[0], kk[1]
        )));
    }
    if ss[0] == 0 || ss[1] == 0 {
        return Err(Error::runtime("stride should not be zero"));
    }
    if ss[0] < 0 || ss[1] < 0 {
        return Err(Error::runtime(format!(
            "stride should be greater than zero, but got dH: {} dW: {}",
            ss[0], ss[1]
        )));
    }
    if dd[0] <= 0 || dd[1] <= 0 {
        return Err(Error::runtime(format!(
            "dilation should be greater than zero, but got dilationH: {} dilationW: {}",
            dd[0], dd[1]
        )));
    }
    if pp[0] < 0 || pp[1] < 0 {
        return Err(Error::runtime("pad must be non-negative"));
    }
    for i in 0..2 {
        let eff = if is_max {
            (kk[i] - 1) * dd[i] + 1
        } else {
            kk[i]
        };
        if pp[i] * 2 > eff {
            return Err(Error::runtime(format!(
                "pad should be at most half of effective kernel size, but got pad={}, kernel_size={} and dilation={}",
                pp[i], kk[i], dd[i]
            )));
        }
    }
    let u = |v: i64| v as usize;
    let ho = k::pool_out_size(h, u(kk[0]), u(pp[0]), u(ss[0]), u(dd[0]), ceil);
    let wo = k::pool_out_size(w, u(kk[1]), u(pp[1]), u(ss[1]), u(dd[1]), ceil);
    if ho < 1 || wo < 1 {
        return Err(Error::runtime(format!(
            "Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{ho}x{wo}). Output size is too small"
        )));
    }
    Ok(PoolGeom {
        planes,
        h,
        w,
        ho: ho as usize,
        wo: wo as usize,
        kh: u(kk[0]),
        kw: u(kk[1]),
        sh: u(ss[0]),
        sw: u(ss[1]),
        ph: u(pp[0]),
        pw: u(pp[1]),
        dh: u(dd[0]),
        dw: u(dd[1]),
    })
}

/// Records the scatter-to-argmax backward shared by max_pool2d and adaptive_max_pool2d.
fn record_index_scatter(
    out: &Tensor,
    x: &Tensor,
    idx: &Tensor,
    planes: usize,
    hw: usize,
    name: &'static str,
) {
    let idx = idx.clone();
    let (xshape, dt) = (x.shape().to_vec(), x.dtype());
    let ohw = out.numel().checked_div(planes).unwrap_or(0);
    let oshape = out.shape().to_vec();
    record_fn(out, &[x], name, move |g| {
        let gy = contiguous(&g.alias())?;
        let gx = Tensor::zeros(&xshape, dt);
        // dL/dx[argmax] += dL/dy
        crate::dispatch_float!(dt, T => k::max_pool2d_backward::<T>(planes, hw, ohw, gy.as_slice::<T>(), idx.as_slice::<i64>(), gx.as_mut_slice::<T>()),
            _ => unreachable!("float"));
        let (idx, oshape) = (idx.clone(), oshape.clone());
        // the adjoint of scattering to the argmax is gathering at it
        Ok(vec![Some(linear_in_grad(
            gx,
            g,
            "MaxPool2DWithIndicesBackwardBackward0",
            move |gg| {
                let flat = reshape_usize(gg, &[planes, hw])?;
                let i = reshape_usize(&idx, &[planes, ohw])?;
                reshape_usize(&crate::ops::indexing::gather(&flat, 1, &i)?, &oshape)
            },
        ))])
    });
}

/// `F.max_pool2d(..., return_indices=True)`: values and flat (h·w) argmax indices.
fn max_pool2d_eager(
    x: &Tensor,
    kernel: &[i64],
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    ceil: bool,
) -> Result<(Tensor, Tensor)> {
    let g = geometry(x, kernel, stride, padding, dilation, ceil, true)?;
    float_only(x, "max_pool2d")?;
    let shape = out_shape(x, g.ho, g.wo);
    let xc = contiguous(&x.alias())?;
    let numel: usize = shape.iter().product();
    // the kernel writes every value and index, so neither buffer needs a zero fill
    let (out, idx) = crate::dispatch_float!(x.dtype(), T => {
        let mut iv = Vec::new();
        let ov = filled_vec::<T>(numel, |o| {
            iv = filled_vec::<i64>(numel, |i| k::max_pool2d_forward::<T>(&g, xc.as_slice::<T>(), o, i));
        });
        (Tensor::from_vec_unchecked(ov, &shape), Tensor::from_vec_unchecked(iv, &shape))
    }, _ => unreachable!("float"));
    if needs_grad(&[x]) {
        record_index_scatter(
            &out,
            x,
            &idx,
            g.planes,
            g.h * g.w,
            "MaxPool2DWithIndicesBackward0",
        );
    }
    Ok((out, idx))
}

/// `F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)`.
fn avg_pool2d_eager(
    x: &Tensor,
    kernel: &[i64],
    stride: &[i64],
    padding: &[i64],
    ceil: bool,
    count_include_pad: bool,
    divisor: Option<i64>,
) -> Result<Tensor> {
    if divisor == Some(0) {
        return Err(Error::runtime("divisor must be not zero"));
    }
    let g = geometry(x, kernel, stride, padding, &[1], ceil, false)?;
    float_only(x, "avg_pool2d")?;
    let out = Tensor::zeros(&out_shape(x, g.ho, g.wo), x.dtype());
    let xc = contiguous(&x.alias())?;
    crate::dispatch_float!(x.dtype(), T => k::avg_pool2d_forward::<T>(&g, xc.as_slice::<T>(), out.as_mut_slice::<T>(), count_include_pad, divisor),
        _ => unreachable!("float"));
    if needs_grad(&[x]) {
        let (xshape, dt) = (x.shape().to_vec(), x.dtype());
        let (kernel, stride, padding) = (kernel.to_vec(), stride.to_vec(), padding.to_vec());
        record_fn(&out, &[x], "AvgPool2DBackward0", move |grad| {
            let gy = contiguous(&grad.alias())?;
            let gx = Tensor::zeros(&xshape, dt);
            // dL/dx = Σ over windows containing x of dL/dy / divisor
            crate::dispatch_float!(dt, T => k::avg_pool2d_backward::<T>(&g, gy.as_slice::<T>(), gx.as_mut_slice::<T>(), count_include_pad, divisor),
                _ => unreachable!("float"));
            let (kernel, stride, padding) = (kernel.clone(), stride.clone(), padding.clone());
            // average pooling is linear: its backward's adjoint is the pooling itself
            Ok(vec![Some(linear_in_grad(
                gx,
                grad,
                "AvgPool2DBackwardBackward0",
                move |gg| {
                    avg_pool2d_eager(
                        gg,
                        &kernel,
                        &stride,
                        &padding,
                        ceil,
                        count_include_pad,
                        divisor,
                    )
                },
            ))])
        });
    }
    Ok(out)
}

fn adaptive_sizes(
    x: &Tensor,
    out: &[i64],
    op: &str,
) -> Result<(usize, usize, usize, usize, usize)> {
    let s = x.shape();
    if !(s.len() == 3 || s.len() == 4) {
        return Err(Error::runtime(format!(
            "{op}(): Expected 3D or 4D tensor, but got {}",
            crate::shape::fmt_shape(s)
        )));
    }
    for (i, &d) in s.iter().enumerate().skip(1) {
        if d == 0 {
            return Err(Error::runtime(format!(
                "{op}(): Expected input to have non-zero size for non-batch dimensions, but input has sizes {} with dimension {i} being empty",
                crate::shape::fmt_shape(s)
            )));
        }
    }
    let o = pair(out, "output_size")?;
    if o[0] < 0 || o[1] < 0 {
        return Err(Error::runtime(format!("{op}: elements of output_size must be greater than or equal to 0 but received {{{}, {}}}", o[0], o[1])));
    }
    let (planes, _, h, w) = planes_of(x)?;
    Ok((planes, h, w, o[0] as usize, o[1] as usize))
}

/// `F.adaptive_avg_pool2d(input, output_size)`.
fn adaptive_avg_pool2d_eager(x: &Tensor, output_size: &[i64]) -> Result<Tensor> {
    let (planes, h, w, ho, wo) = adaptive_sizes(x, output_size, "adaptive_avg_pool2d")?;
    float_only(x, "adaptive_avg_pool2d")?;
    let out = Tensor::zeros(&out_shape(x, ho, wo), x.dtype());
    let xc = contiguous(&x.alias())?;
    crate::dispatch_float!(x.dtype(), T => k::adaptive_pool2d_forward::<T>(planes, (h, w), (ho, wo), xc.as_slice::<T>(), out.as_mut_slice::<T>(), None),
        _ => unreachable!("float"));
    if needs_grad(&[x]) {
        let (xshape, dt) = (x.shape().to_vec(), x.dtype());
        let osize = output_size.to_vec();
        record_fn(&out, &[x], "AdaptiveAvgPool2DBackward0", move |grad| {
            let gy = contiguous(&grad.alias())?;
            let gx = Tensor::zeros(&xshape, dt);
            // dL/dx = Σ over adaptive windows containing x of dL/dy / window size
            crate::dispatch_float!(dt, T => k::adaptive_avg_pool2d_backward::<T>(planes, (h, w), (ho, wo), gy.as_slice::<T>(), gx.as_mut_slice::<T>()),
                _ => unreachable!("float"));
            let osize = osize.clone();
            // linear: the backward's adjoint is the pooling itself
            Ok(vec![Some(linear_in_grad(
                gx,
                grad,
                "AdaptiveAvgPool2DBackwardBackward0",
                move |gg| adaptive_avg_pool2d_eager(gg, &osize),
            ))])
        });
    }
    Ok(out)
}

/// `F.adaptive_max_pool2d(input, output_size, return_indices=True)`.
fn adaptive_max_pool2d_eager(x: &Tensor, output_size: &[i64]) -> Result<(Tensor, Tensor)> {
    let (planes, h, w, ho, wo) = adaptive_sizes(x, output_size, "adaptive_max_pool2d")?;
    float_only(x, "adaptive_max_pool2d")?;
    let shape = out_shape(x, ho, wo);
    let out = Tensor::zeros(&shape, x.dtype());
    let idx = Tensor::zeros(&shape, crate::DType::I64);
    let xc = contiguous(&x.alias())?;
    crate::dispatch_float!(x.dtype(), T => k::adaptive_pool2d_forward::<T>(planes, (h, w), (ho, wo), xc.as_slice::<T>(), out.as_mut_slice::<T>(), Some(idx.as_mut_slice::<i64>())),
        _ => unreachable!("float"));
    if needs_grad(&[x]) {
        record_index_scatter(&out, x, &idx, planes, h * w, "AdaptiveMaxPool2DBackward0");
    }
    Ok((out, idx))
}

// The public pooling ops: the eager ops above, recorded for `fit`'s replay (see graph::capture).

pub fn max_pool2d(
    x: &Tensor,
    kernel: &[i64],
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    ceil: bool,
) -> Result<(Tensor, Tensor)> {
    let scope = capture::scope();
    let (out, idx) = max_pool2d_eager(x, kernel, stride, padding, dilation, ceil)?;
    if scope.on() {
        let (k, s, p, d) = (
            kernel.to_vec(),
            stride.to_vec(),
            padding.to_vec(),
            dilation.to_vec(),
        );
        scope.record("max_pool2d", &[x], &[&out, &idx], move |i| {
            let (o, ix) = max_pool2d_eager(&i[0], &k, &s, &p, &d, ceil)?;
            Ok(vec![o, ix])
        });
    }
    Ok((out, idx))
}

pub fn avg_pool2d(
    x: &Tensor,
    kernel: &[i64],
    stride: &[i64],
    padding: &[i64],
    ceil: bool,
    count_include_pad: bool,
    divisor: Option<i64>,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = avg_pool2d_eager(x, kernel, stride, padding, ceil, count_include_pad, divisor)?;
    if scope.on() {
        let (k, s, p) = (kernel.to_vec(), stride.to_vec(), padding.to_vec());
        scope.record1("avg_pool2d", &[x], &out, move |i| {
            avg_pool2d_eager(&i[0], &k, &s, &p, ceil, count_include_pad, divisor)
        });
    }
    Ok(out)
}

pub fn adaptive_avg_pool2d(x: &Tensor, output_size: &[i64]) -> Result<Tensor> {
    let scope = capture::scope();
    let out = adaptive_avg_pool2d_eager(x, output_size)?;
    if scope.on() {
        let o = output_size.to_vec();
        scope.record1("adaptive_avg_pool2d", &[x], &out, move |i| {
            adaptive_avg_pool2d_eager(&i[0], &o)
        });
    }
    Ok(out)
}

pub fn adaptive_max_pool2d(x: &Tensor, output_size: &[i64]) -> Result<(Tensor, Tensor)> {
    let scope = capture::scope();
    let (out, idx) = adaptive_max_pool2d_eager(x, output_size)?;
    if scope.on() {
        let o = output_size.to_vec();
        scope.record("adaptive_max_pool2d", &[x], &[&out, &idx], move |i| {
            let (a, b) = adaptive_max_pool2d_eager(&i[0], &o)?;
            Ok(vec![a, b])
        });
    }
    Ok((out, idx))
}
