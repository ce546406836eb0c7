//! `binary_cross_entropy_with_logits` as one op with torch's `BinaryCrossEntropyWithLogitsBackward0`
//! node (the forward and both derivatives composed from recorded ops, so `create_graph` works).

use crate::autograd::{needs_grad, GradModeGuard};
use crate::error::Result;
use crate::graph::capture;
use crate::ops::activation::softplus;
use crate::ops::elementwise::{self as ew, record_fn, scalar_f, Unary};
use crate::ops::loss::Reduction;
use crate::ops::reduce;
use crate::tensor::Tensor;

const NAME: &str = "BinaryCrossEntropyWithLogitsBackward0";

fn reduce_loss(loss: Tensor, reduction: Reduction) -> Result<Tensor> {
    match reduction {
        Reduction::None => Ok(loss),
        Reduction::Mean => reduce::mean(&loss, None, false, None),
        Reduction::Sum => reduce::sum(&loss, None, false, None),
    }
}

/// The unreduced loss `(1 − t)·x + lw·softplus(−x)` with `lw = (pw − 1)·t + 1` (1 without `pos_weight`),
/// times `weight`: softplus(−x) = −log σ(x), computed stably.
fn elementwise_loss(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    pw: Option<&Tensor>,
) -> Result<Tensor> {
    let one = scalar_f(1.0);
    let sp = softplus(&ew::neg(x)?, 1.0, 20.0)?;
    let sp = match pw {
        Some(pw) => ew::mul(&ew::add(&ew::mul(&ew::sub(pw, &one)?, t)?, &one)?, &sp)?,
        None => sp,
    };
    let loss = ew::add(&ew::mul(&ew::sub(&one, t)?, x)?, &sp)?;
    match w {
        Some(w) => ew::mul(&loss, w),
        None => Ok(loss),
    }
}

fn bce_with_logits_eager(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    pw: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    let out = {
        let _off = GradModeGuard::new(false);
        reduce_loss(elementwise_loss(x, t, w, pw)?, reduction)?
    };
    if needs_grad(&[x, t]) {
        let (sx, st) = (x.save(), t.save());
        let (w, pw) = (w.map(|w| w.save()), pw.map(|p| p.save()));
        let n = x.numel() as f64;
        record_fn(&out, &[x, t], NAME, move |g| {
            let (x, t) = (sx.get(NAME)?, st.get(NAME)?);
            let w = match &w {
                Some(w) => Some(w.get(NAME)?),
                None => None,
            };
            let pw = match &pw {
                Some(p) => Some(p.get(NAME)?),
                None => None,
            };
            let one = scalar_f(1.0);
            // torch's order: d/dx = (σ(x) − t) or ((pw·t + 1 − t)·σ(x) − pw·t), then ·g, ·weight, / N
            let sig = ew::unary(Unary::Sigmoid, x)?;
            let mut gx = match pw {
                Some(pw) => {
                    let pt = ew::mul(pw, t)?;
                    ew::sub(&ew::mul(&ew::sub(&ew::add(&pt, &one)?, t)?, &sig)?, &pt)?
                }
                None => ew::sub(&sig, t)?,
            };
            // d/dt = −x, or log σ(−x) − pw·log σ(x) = −softplus(x) + pw·softplus(−x)
            let mut gt = match pw {
                Some(pw) => ew::sub(
                    &ew::mul(pw, &softplus(&ew::neg(x)?, 1.0, 20.0)?)?,
                    &softplus(x, 1.0, 20.0)?,
                )?,
                None => ew::neg(x)?,
            };
            gx = ew::mul(&gx, g)?;
            gt = ew::mul(&gt, g)?;
            if let Some(w) = w {
                gx = ew::mul(&gx, w)?;
                gt = ew::mul(&gt, w)?;
            }
            if reduction == Reduction::Mean {
                gx = ew::div(&gx, &scalar_f(n))?;
                gt = ew::div(&gt, &scalar_f(n))?;
            }
            Ok(vec![Some(gx), Some(gt)])
        });
    }
    Ok(out)
}

/// `binary_cross_entropy_with_logits(input, target, weight, pos_weight, reduction)`, recorded for `fit`'s
/// replay when a capture is running (see graph::capture). `weight` and `pos_weight` get no gradient
/// (torch's op has none for them); the Python front-end raises torch's error when they require one.
pub fn binary_cross_entropy_with_logits(
    x: &Tensor,
    t: &Tensor,
    w: Option<&Tensor>,
    pw: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    let scope = capture::scope();
    let out = bce_with_logits_eager(x, t, w, pw, reduction)?;
    if scope.on() {
        let (hw, hp) = (w.is_some(), pw.is_some());
        let mut ins = vec![x, t];
        ins.extend(w);
        ins.extend(pw);
        scope.record1("binary_cross_entropy_with_logits", &ins, &out, move |i| {
            let w = if hw { Some(&i[2]) } else { None };
            let pw = if hp { Some(&i[2 + hw as usize]) } else { None };
            bce_with_logits_eager(&i[0], &i[1], w, pw, reduction)
        });
    }
    Ok(out)
}
