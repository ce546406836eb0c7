//! conv2d and conv_transpose2d with backward (torch's checks and messages); conv1d is conv2d over a unit height.

use crate::autograd::is_grad_enabled;
use crate::autograd::needs_grad;
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::kernels::conv::{
    conv2d_backward, conv2d_backward_input, conv2d_backward_weight, conv2d_forward, ConvGeom, Float,
};
use crate::kernels::uninit::filled_vec;
use crate::ops::copy::contiguous;
use crate::ops::elementwise::record_fused;
use crate::shape::fmt_shape;
use crate::tensor::Tensor;

fn pos2(v: &[i64], what: &str) -> Result<[usize; 2]> {
    if v.len() != 2 {
        return Err(Error::runtime(format!(
            "expected {what} to be a single integer value or a list of 2 values"
        )));
    }
    Ok([v[0].max(0) as usize, v[1].max(0) as usize])
}

fn check_params(stride: &[i64], padding: &[i64], dilation: &[i64], groups: i64) -> Result<()> {
    if stride.iter().any(|&s| s <= 0) {
        return Err(Error::runtime("non-positive stride is not supported"));
    }
    if padding.iter().any(|&p| p < 0) {
        return Err(Error::runtime("negative padding is not supported"));
    }
    if dilation.iter().any(|&d| d <= 0) {
        return Err(Error::runtime("dilation should be greater than zero"));
    }
    if groups <= 0 {
        return Err(Error::runtime("non-positive groups is not supported"));
    }
    Ok(())
}

fn float_only(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<()> {
    if w.dtype() != x.dtype() {
        return Err(Error::runtime(format!(
            "expected scalar type {} but found {}",
            x.dtype().scalar_name(),
            w.dtype().scalar_name()
        )));
    }
    if let Some(b) = bias {
        if b.dtype() != x.dtype() {
            return Err(Error::runtime(format!(
                "expected scalar type {} but found {}",
                x.dtype().scalar_name(),
                b.dtype().scalar_name()
            )));
        }
    }
    if !x.dtype().is_float() {
        return Err(Error::not_implemented(format!(
            "\"slow_conv2d_cpu\" not implemented for '{}'",
            x.dtype().scalar_name()
        )));
    }
    Ok(())
}

fn check_bias(w: &Tensor, bias: Option<&Tensor>, expected: usize) -> Result<()> {
    if let Some(b) = bias {
        if b.ndim() != 1 || b.shape()[0] != expected {
            return Err(Error::runtime(format!(
                "Given weight of size {}, expected bias to be 1-dimensional with {} elements, but got bias of size {} instead",
                fmt_shape(w.shape()),
                expected,
                fmt_shape(b.shape())
            )));
        }
    }
    Ok(())
}

/// Per-channel sums of a contiguous [n, c, hw] gradient (the bias gradient).
fn channel_sums<T: Float>(g: &[T], n: usize, c: usize, hw: usize) -> Vec<T> {
    let mut out = vec![T::zero(); c];
    for i in 0..n {
        for (ch, o) in out.iter_mut().enumerate() {
            let mut s = T::zero();
            for &v in &g[(i * c + ch) * hw..][..hw] {
                s += v;
            }
            *o += s;
        }
    }
    out
}

fn tensor_from<T: Float>(v: Vec<T>, shape: &[usize]) -> Tensor {
    Tensor::from_vec_unchecked(v, shape)
}

/// The kernels on contiguous tensors, dispatched on float dtype.
fn fwd(g: &ConvGeom, x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Tensor {
    let shape = [g.n, g.cout, g.ho, g.wo];
    let numel = shape.iter().product::<usize>();
    if numel == 0 {
        return Tensor::zeros(&shape, x.dtype());
    }
    crate::dispatch_float!(x.dtype(), T => {
        // the forward kernel writes every output element (gemm without read_dst, or bias + gemm)
        let v = filled_vec::<T>(numel, |y| {
            conv2d_forward::<T>(g, x.as_slice::<T>(), w.as_slice::<T>(), b.map(|b| b.as_slice::<T>()), y)
        });
        tensor_from(v, &shape)
    }, _ => unreachable!("checked float"))
}

/// conv's input gradient (= conv_transpose's forward) as a fresh [n, cin, h, w] tensor.
fn bwd_input(g: &ConvGeom, gy: &Tensor, w: &Tensor) -> Tensor {
    let out = Tensor::zeros(&[g.n, g.cin, g.h, g.w], gy.dtype());
    if out.numel() == 0 || gy.numel() == 0 {
        return out;
    }
    crate::dispatch_float!(gy.dtype(), T => {
        conv2d_backward_input::<T>(g, gy.as_slice::<T>(), w.as_slice::<T>(), out.as_mut_slice::<T>())
    }, _ => unreachable!("checked float"));
    out
}

fn bwd_weight(g: &ConvGeom, x: &Tensor, gy: &Tensor, wshape: &[usize]) -> Tensor {
    crate::dispatch_float!(x.dtype(), T => {
        let (gw, _) = conv2d_backward_weight::<T>(g, x.as_slice::<T>(), gy.as_slice::<T>());
        tensor_from(gw, wshape)
    }, _ => unreachable!("checked float"))
}

fn bias_grad(gy: &Tensor, n: usize, c: usize, hw: usize) -> Tensor {
    crate::dispatch_float!(gy.dtype(), T => tensor_from(channel_sums::<T>(gy.as_slice::<T>(), n, c, hw), &[c]),
        _ => unreachable!("checked float"))
}

/// `F.conv2d(input[n, cin, h, w], weight[cout, cin/groups, kh, kw], bias, stride, padding, dilation, groups)`.
fn conv2d_eager(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> Result<Tensor> {
    check_params(stride, padding, dilation, groups)?;
    let (s, p, d) = (
        pos2(stride, "stride")?,
        pos2(padding, "padding")?,
        pos2(dilation, "dilation")?,
    );
    let groups = groups as usize;
    if w.ndim() != 4 || x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {}",
            fmt_shape(x.shape())
        )));
    }
    let (xs, ws) = (x.shape(), w.shape());
    let expect_c = ws[1]
        .checked_mul(groups)
        .ok_or_else(|| Error::runtime("groups too large"))?;
    if xs[1] != expect_c {
        return Err(Error::runtime(format!(
            "Given groups={groups}, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
            fmt_shape(ws),
            fmt_shape(xs),
            expect_c,
            xs[1]
        )));
    }
    if ws[0] % groups != 0 {
        return Err(Error::runtime(format!(
            "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {} instead",
            fmt_shape(ws)
        )));
    }
    check_bias(w, bias, ws[0])?;
    float_only(x, w, bias)?;
    let (ekh, ekw) = ((ws[2].max(1) - 1) * d[0] + 1, (ws[3].max(1) - 1) * d[1] + 1);
    let (ph_in, pw_in) = (xs[2] + 2 * p[0], xs[3] + 2 * p[1]);
    if ph_in < ekh || pw_in < ekw || ws[2] == 0 || ws[3] == 0 {
        return Err(Error::runtime(format!(
            "Calculated padded input size per channel: ({ph_in} x {pw_in}). Kernel size: ({ekh} x {ekw}). Kernel size can't be greater than actual input size"
        )));
    }
    let g = ConvGeom {
        n: xs[0],
        cin: xs[1],
        h: xs[2],
        w: xs[3],
        cout: ws[0],
        kh: ws[2],
        kw: ws[3],
        sh: s[0],
        sw: s[1],
        ph: p[0],
        pw: p[1],
        dh: d[0],
        dw: d[1],
        groups,
        ho: (ph_in - ekh) / s[0] + 1,
        wo: (pw_in - ekw) / s[1] + 1,
    };
    let (xc, wc) = (contiguous(&x.alias())?, contiguous(&w.alias())?);
    let bc = match bias {
        Some(b) => Some(contiguous(&b.alias())?),
        None => None,
    };
    let out = fwd(&g, &xc, &wc, bc.as_ref());
    let mut inputs = vec![x, w];
    if let Some(b) = bias {
        inputs.push(b);
    }
    if needs_grad(&inputs) {
        let (need_x, need_w) = (x.requires_grad(), w.requires_grad());
        let need_b = bias.is_some_and(|b| b.requires_grad());
        let (sx, sw) = (xc.save(), wc.save());
        // the inputs themselves, with their graphs, for a backward that builds a graph
        let (ox, ow) = (x.save(), w.save());
        let wshape = ws.to_vec();
        record_fused(&out, &inputs, "ConvolutionBackward0", move |gy| {
            if is_grad_enabled() {
                crate::autograd::composed();
                let (x, w) = (
                    ox.get("ConvolutionBackward0")?,
                    ow.get("ConvolutionBackward0")?,
                );
                let mut r = conv2d_bwd_graph(&g, gy, x, w, need_x, need_w)?;
                if need_b {
                    r.push(Some(bias_grad_graph(gy)?));
                }
                return Ok(r);
            }
            let gy = contiguous(&gy.alias())?;
            let (x, w) = (
                sx.get("ConvolutionBackward0")?,
                sw.get("ConvolutionBackward0")?,
            );
            // dL/dx = convᵀ(gy, w); dL/dw = Σ gy ⋆ x; dL/db = Σ_{n,h,w} gy — one pass over the batch
            let gx_shape = [g.n, g.cin, g.h, g.w];
            let (gx, gw, gb) = if gy.numel() == 0 {
                (
                    need_x.then(|| Tensor::zeros(&gx_shape, gy.dtype())),
                    need_w.then(|| Tensor::zeros(&wshape, gy.dtype())),
                    Tensor::zeros(&[g.cout], gy.dtype()),
                )
            } else {
                crate::dispatch_float!(gy.dtype(), T => {
                    let run = |gx: Option<&mut [T]>| conv2d_backward::<T>(&g, x.as_slice::<T>(), gy.as_slice::<T>(),
                        w.as_slice::<T>(), gx, need_w || need_b);
                    // the kernel writes every gx element (each image's slice is zeroed in its worker)
                    let (gx, r) = if need_x {
                        let mut r = None;
                        let v = filled_vec::<T>(gx_shape.iter().product(), |s| r = run(Some(s)));
                        (Some(tensor_from(v, &gx_shape)), r)
                    } else {
                        (None, run(None))
                    };
                    match r {
                        Some((gw, gb)) => (gx, need_w.then(|| tensor_from(gw, &wshape)), tensor_from(gb, &[g.cout])),
                        None => (gx, None, Tensor::zeros(&[g.cout], gy.dtype())),
                    }
                }, _ => unreachable!("checked float"))
            };
            let mut r = vec![gx, gw];
            if need_b {
                r.push(Some(gb));
            }
            Ok(r)
        });
    }
    Ok(out)
}

/// `F.conv_transpose2d(input[n, cin, h, w], weight[cin, cout/groups, kh, kw], bias, stride, padding,
/// output_padding, groups, dilation)`: the adjoint of conv2d, run through the same kernels.
#[allow(clippy::too_many_arguments)]
fn conv_transpose2d_eager(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    output_padding: &[i64],
    groups: i64,
    dilation: &[i64],
) -> Result<Tensor> {
    check_params(stride, padding, dilation, groups)?;
    if output_padding.iter().any(|&p| p < 0) {
        return Err(Error::runtime("negative output_padding is not supported"));
    }
    let (s, p, d) = (
        pos2(stride, "stride")?,
        pos2(padding, "padding")?,
        pos2(dilation, "dilation")?,
    );
    let op = pos2(output_padding, "output_padding")?;
    let groups = groups as usize;
    if w.ndim() != 4 || x.ndim() != 4 {
        return Err(Error::runtime(format!(
            "Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input of size: {}",
            fmt_shape(x.shape())
        )));
    }
    let (xs, ws) = (x.shape(), w.shape());
    if xs[1] != ws[0] {
        return Err(Error::runtime(format!(
            "Given transposed=1, weight of size {}, expected input{} to have {} channels, but got {} channels instead",
            fmt_shape(ws),
            fmt_shape(xs),
            ws[0],
            xs[1]
        )));
    }
    if ws[0] % groups != 0 {
        return Err(Error::runtime(format!(
            "Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but got weight of size {} instead",
            fmt_shape(ws)
        )));
    }
    if (op[0] >= s[0] && op[0] >= d[0]) || (op[1] >= s[1] && op[1] >= d[1]) {
        return Err(Error::runtime(format!(
            "output padding must be smaller than either stride or dilation, but got output_padding_height: {} output_padding_width: {} stride_height: {} stride_width: {} dilation_height: {} dilation_width: {}",
            op[0], op[1], s[0], s[1], d[0], d[1]
        )));
    }
    let cout = ws[1] * groups;
    check_bias(w, bias, cout)?;
    float_only(x, w, bias)?;
    let size = |i: usize, k: usize, s: usize, p: usize, d: usize, op: usize| -> i64 {
        (i as i64 - 1) * s as i64 - 2 * p as i64 + d as i64 * (k as i64 - 1) + op as i64 + 1
    };
    let (ho, wo) = (
        size(xs[2], ws[2], s[0], p[0], d[0], op[0]),
        size(xs[3], ws[3], s[1], p[1], d[1], op[1]),
    );
    if ho <= 0 || wo <= 0 {
        return Err(Error::runtime(format!(
            "Given input size per channel: ({} x {}). Calculated output size per channel: ({ho} x {wo}). Output size is too small",
            xs[2], xs[3]
        )));
    }
    // The conv whose input gradient this is: input [n, cout, ho, wo] → output [n, cin, h, w].
    let g = ConvGeom {
        n: xs[0],
        cin: cout,
        h: ho as usize,
        w: wo as usize,
        cout: ws[0],
        kh: ws[2],
        kw: ws[3],
        sh: s[0],
        sw: s[1],
        ph: p[0],
        pw: p[1],
        dh: d[0],
        dw: d[1],
        groups,
        ho: xs[2],
        wo: xs[3],
    };
    let (xc, wc) = (contiguous(&x.alias())?, contiguous(&w.alias())?);
    let out = bwd_input(&g, &xc, &wc);
    if let Some(b) = bias {
        let bc = contiguous(&b.alias())?;
        let hw = g.h * g.w;
        crate::dispatch_float!(out.dtype(), T => {
            let o = out.as_mut_slice::<T>();
            let bv = bc.as_slice::<T>();
            for (i, plane) in o.chunks_exact_mut(hw.max(1)).enumerate() {
                let bb = bv[i % cout];
                for v in plane {
                    *v += bb;
                }
            }
        }, _ => unreachable!("checked float"));
    }
    let mut inputs = vec![x, w];
    if let Some(b) = bias {
        inputs.push(b);
    }
    if needs_grad(&inputs) {
        let (need_x, need_w) = (x.requires_grad(), w.requires_grad());
        let need_b = bias.is_some_and(|b| b.requires_grad());
        let (sx, sw) = (xc.save(), wc.save());
        // the inputs with their graphs, for a backward that builds a graph
        let (ox, ow) = (x.save(), w.save());
        let wshape = ws.to_vec();
        record_fused(&out, &inputs, "ConvolutionBackward0", move |gy| {
            if is_grad_enabled() {
                crate::autograd::composed();
                let (x, w) = (
                    ox.get("ConvolutionBackward0")?,
                    ow.get("ConvolutionBackward0")?,
                );
                // this op is conv g's input gradient: gx is conv g's forward of gy, and gw is
                // conv g's weight gradient with gy as its input and x as its output gradient
                let gx = if need_x {
                    let gy = crate::ops::copy::to_dtype(gy, x.dtype(), false)?;
                    let (s, p, d) = (
                        [g.sh as i64, g.sw as i64],
                        [g.ph as i64, g.pw as i64],
                        [g.dh as i64, g.dw as i64],
                    );
                    Some(conv2d(&gy, w, None, &s, &p, &d, g.groups as i64)?)
                } else {
                    None
                };
                let gw = conv2d_bwd_graph(&g, x, gy, w, false, need_w)?
                    .pop()
                    .flatten();
                let mut r = vec![gx, gw];
                if need_b {
                    r.push(Some(bias_grad_graph(gy)?));
                }
                return Ok(r);
            }
            let gy = contiguous(&gy.alias())?;
            let (x, w) = (
                sx.get("ConvolutionBackward0")?,
                sw.get("ConvolutionBackward0")?,
            );
            // dL/dx = conv(gy, w); dL/dw = Σ x ⋆ gy (conv's weight grad with roles swapped); dL/db = Σ gy
            let gx = need_x.then(|| fwd(&g, &gy, w, None));
            let gw = need_w.then(|| bwd_weight(&g, &gy, x, &wshape));
            let mut r = vec![gx, gw];
            if need_b {
                r.push(Some(bias_grad(&gy, g.n, g.cin, g.h * g.w)));
            }
            Ok(r)
        });
    }
    Ok(out)
}

/// `conv2d`, recorded for `fit`'s replay (see graph::capture).
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    dilation: &[i64],
    groups: i64,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = conv2d_eager(x, w, bias, stride, padding, dilation, groups)?;
    if scope.on() {
        let (ins, m) = capture::with_optional(&[x, w], &[bias]);
        let (s, p, d) = (stride.to_vec(), padding.to_vec(), dilation.to_vec());
        scope.record1("conv2d", &ins, &out, move |i| {
            conv2d_eager(
                &i[0],
                &i[1],
                capture::optional_at(i, 2, m, 0),
                &s,
                &p,
                &d,
                groups,
            )
        });
    }
    Ok(out)
}

/// The bias gradient Σ_{n,h,w} gy in the graph.
fn bias_grad_graph(gy: &Tensor) -> Result<Tensor> {
    crate::ops::reduce::sum(gy, Some(&[0, 2, 3]), false, None)
}

/// conv2d's backward from recorded ops, for a backward that builds a graph (`create_graph`):
/// gx = conv_transpose2d(gy, w) and, per group, gw = conv2d(xᵀ, gyᵀ) with stride and dilation
/// swapped (batch as the reduction channel), cut to the kernel size.
fn conv2d_bwd_graph(
    g: &ConvGeom,
    gy: &Tensor,
    x: &Tensor,
    w: &Tensor,
    need_x: bool,
    need_w: bool,
) -> Result<Vec<Option<Tensor>>> {
    use crate::ops::movement::{narrow, transpose};
    let gy = crate::ops::copy::to_dtype(gy, x.dtype(), false)?;
    let (s, p, d) = (
        [g.sh as i64, g.sw as i64],
        [g.ph as i64, g.pw as i64],
        [g.dh as i64, g.dw as i64],
    );
    let gx = if need_x {
        // the rows/columns the forward's last window left out come back as output padding
        let span = |n: usize, o: usize, st: usize, pd: usize, dl: usize, k: usize| {
            (n + 2 * pd) as i64 - ((o as i64 - 1) * st as i64 + (dl * (k - 1)) as i64 + 1)
        };
        let op = [
            span(g.h, g.ho, g.sh, g.ph, g.dh, g.kh),
            span(g.w, g.wo, g.sw, g.pw, g.dw, g.kw),
        ];
        Some(conv_transpose2d(
            &gy,
            w,
            None,
            &s,
            &p,
            &op,
            g.groups as i64,
            &d,
        )?)
    } else {
        None
    };
    let gw = if need_w {
        let (cin_g, cout_g) = (g.cin / g.groups, g.cout / g.groups);
        let mut parts = Vec::with_capacity(g.groups);
        for k in 0..g.groups {
            let xg = narrow(x, 1, (k * cin_g) as i64, cin_g as i64)?;
            let gyg = narrow(&gy, 1, (k * cout_g) as i64, cout_g as i64)?;
            let t = conv2d(
                &transpose(&xg, 0, 1)?,
                &transpose(&gyg, 0, 1)?,
                None,
                &d,
                &p,
                &s,
                1,
            )?;
            let t = narrow(&narrow(&t, 2, 0, g.kh as i64)?, 3, 0, g.kw as i64)?;
            parts.push(transpose(&t, 0, 1)?);
        }
        Some(if parts.len() == 1 {
            parts.pop().expect("one group")
        } else {
            crate::ops::join::cat(&parts, 0)?
        })
    } else {
        None
    };
    Ok(vec![gx, gw])
}

/// `conv_transpose2d`, recorded for `fit`'s replay.
#[allow(clippy::too_many_arguments)]
pub fn conv_transpose2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: &[i64],
    padding: &[i64],
    output_padding: &[i64],
    groups: i64,
    dilation: &[i64],
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = conv_transpose2d_eager(
        x,
        w,
        bias,
        stride,
        padding,
        output_padding,
        groups,
        dilation,
    )?;
    if scope.on() {
        let (ins, m) = capture::with_optional(&[x, w], &[bias]);
        let (s, p, op, d) = (
            stride.to_vec(),
            padding.to_vec(),
            output_padding.to_vec(),
            dilation.to_vec(),
        );
        scope.record1("conv_transpose2d", &ins, &out, move |i| {
            conv_transpose2d_eager(
                &i[0],
                &i[1],
                capture::optional_at(i, 2, m, 0),
                &s,
                &p,
                &op,
                groups,
                &d,
            )
        });
    }
    Ok(out)
}
