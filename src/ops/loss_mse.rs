//! `mse_loss` as one op with torch's `MseLossBackward0` node (both derivatives composed from
//! recorded ops, so `create_graph` works and `fit` replays them).

use crate::autograd::{needs_grad, GradModeGuard};
use crate::error::Result;
use crate::graph::capture;
use crate::ops::elementwise::{self as ew, record_fn, scalar_f};
use crate::ops::loss::Reduction;
use crate::ops::reduce;
use crate::tensor::Tensor;

const NAME: &str = "MseLossBackward0";

fn mse_loss_eager(x: &Tensor, t: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let out = {
        let _off = GradModeGuard::new(false);
        let d = ew::sub(x, t)?;
        let sq = ew::mul(&d, &d)?;
        match reduction {
            Reduction::None => sq,
            Reduction::Mean => reduce::mean(&sq, None, false, None)?,
            Reduction::Sum => reduce::sum(&sq, None, false, None)?,
        }
    };
    if needs_grad(&[x, t]) {
        let (sx, st) = (x.save(), t.save());
        let (want_x, want_t) = (x.requires_grad(), t.requires_grad());
        // torch's norm: 2/N for a mean (computed in double, then the input's dtype), else 2
        let norm = if reduction == Reduction::Mean {
            2.0 / x.numel() as f64
        } else {
            2.0
        };
        record_fn(&out, &[x, t], NAME, move |g| {
            let (x, t) = (sx.get(NAME)?, st.get(NAME)?);
            // d/dx = norm·(x − t)·g and d/dt = norm·(t − x)·g, multiplied in torch's order
            let grad = |a: &Tensor, b: &Tensor| -> Result<Tensor> {
                ew::mul(&ew::mul(&scalar_f(norm), &ew::sub(a, b)?)?, g)
            };
            Ok(vec![
                if want_x { Some(grad(x, t)?) } else { None },
                if want_t { Some(grad(t, x)?) } else { None },
            ])
        });
    }
    Ok(out)
}

/// `mse_loss(input, target, reduction)` for same-shape operands (the Python front-end broadcasts
/// them first, as torch's does), recorded for `fit`'s replay when a capture is running.
pub fn mse_loss(x: &Tensor, t: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let scope = capture::scope();
    let out = mse_loss_eager(x, t, reduction)?;
    if scope.on() {
        let ins = [x, t];
        scope.record1("mse_loss", &ins, &out, move |i| {
            mse_loss_eager(&i[0], &i[1], reduction)
        });
    }
    Ok(out)
}
