//! The replayed training step behind `fit`: zero grads, forward + loss (a captured `Program`),
//! backward, optimizer step, loss value and accuracy — the eager loop's order, without Python.

use super::buffers::BufferRun;
use super::program::{Outs, Program};
use crate::autograd::{self, GradModeGuard};
use crate::dtype::Element;
use crate::error::{Error, Result};
use crate::optim::plan::GroupPlan;
use crate::tensor::Tensor;
use crate::DType;
use std::sync::Arc;

/// What one batch contributed: its loss, how many predictions were right, and its size.
#[derive(Clone, Copy, Debug, Default)]
pub struct BatchStats {
    pub loss: f64,
    pub correct: f64,
    pub count: usize,
}

/// Where the batches of an epoch come from.
pub enum Batches<'a> {
    /// The whole of `x` and `y`, once (full-batch training).
    Full,
    /// Rows of `x` and `y` gathered by these indices, one batch each.
    Indices(&'a [Vec<i64>]),
}

fn scalar_f64(t: &Tensor) -> Result<f64> {
    if t.numel() != 1 {
        return Err(Error::runtime(format!(
            "fit: the loss must be a single number, got a tensor of shape {} (use reduction='mean' or 'sum')",
            crate::shape::fmt_shape(t.shape())
        )));
    }
    Ok(crate::dispatch!(t.dtype(), T => t.get_flat::<T>(0).to_f64()))
}

/// Correct predictions in `out` against `target`: argmax over classes, or a single logit
/// thresholded at 0 (as for `BCEWithLogitsLoss`).
pub fn count_correct(out: &Tensor, target: &Tensor) -> Result<f64> {
    let out = out.contiguous_raw().to_dtype(DType::F64);
    let target = target.contiguous_raw().to_dtype(DType::F64);
    let o = out.as_slice::<f64>();
    let t = target.as_slice::<f64>();
    let n = target.numel();
    if n == 0 {
        return Ok(0.0);
    }
    if o.len() == n {
        // one logit per sample
        return Ok(o
            .iter()
            .zip(t)
            .filter(|(&v, &y)| ((v > 0.0) as i64 as f64) == y)
            .count() as f64);
    }
    if out.ndim() < 2 || out.shape()[0] != n || !o.len().is_multiple_of(n) {
        return Err(Error::runtime(format!(
            "fit: \"accuracy\" needs outputs of shape [N, C] or [N] for targets of shape [N], got outputs {} and targets {}",
            crate::shape::fmt_shape(out.shape()),
            crate::shape::fmt_shape(target.shape())
        )));
    }
    let c = o.len() / n;
    let mut right = 0usize;
    for (row, &y) in o.chunks_exact(c).zip(t) {
        let mut best = 0usize;
        for (j, &v) in row.iter().enumerate() {
            // first maximum wins, NaN counts as largest — torch.argmax's rule
            if v > row[best] || (v.is_nan() && !row[best].is_nan()) {
                best = j;
            }
        }
        right += (best as f64 == y) as usize;
    }
    Ok(right as f64)
}

/// A captured forward + loss (outputs `[prediction, loss]` from inputs `[x, y]`) with the
/// parameters to zero and the optimizer groups to step.
#[derive(Clone)]
pub struct TrainStep {
    pub program: Arc<Program>,
    pub zero: Vec<Tensor>,
    /// Empty: the caller steps the optimizer (a Python optimizer without a Rust plan).
    pub groups: Vec<GroupPlan>,
    pub accuracy: bool,
}

impl TrainStep {
    /// One training step on a batch; returns its stats and the program's outputs.
    pub fn batch(&self, x: &Tensor, y: &Tensor, step: bool) -> Result<(BatchStats, Outs)> {
        let _grad = GradModeGuard::new(true);
        for p in &self.zero {
            p.set_grad(None)?;
        }
        let inputs = [x.clone(), y.clone()];
        let outs = match self.program.backward() {
            // the recorded backward: the same ops without building the graph
            Some(plan) if plan.usable(&self.program, &inputs) => {
                plan.run(&self.program, &inputs)?
            }
            _ => {
                let outs = self.program.run(&inputs)?;
                autograd::backward(std::slice::from_ref(&outs[1]), &[None], false, false, None)?;
                outs.into()
            }
        };
        let loss = &outs[1];
        if step {
            for g in &self.groups {
                g.step()?;
            }
        }
        let stats = BatchStats {
            loss: scalar_f64(loss)?,
            correct: if self.accuracy {
                count_correct(&outs[0], y)?
            } else {
                0.0
            },
            count: y.shape().first().copied().unwrap_or(1),
        };
        Ok((stats, outs))
    }

    /// `epochs` epochs over the same batches (stats of every batch, in order).
    pub fn run(
        &self,
        x: &Tensor,
        y: &Tensor,
        batches: &Batches<'_>,
        epochs: usize,
    ) -> Result<Vec<BatchStats>> {
        if epochs == 0 {
            // nothing runs, so nothing (not even the leaves' .grad) changes
            return Ok(Vec::new());
        }
        if let (Batches::Full, Some(plan)) = (batches, self.program.backward()) {
            let inputs = [x.clone(), y.clone()];
            if let Some(bufs) = plan
                .buffers()
                .filter(|_| plan.usable(&self.program, &inputs))
            {
                if let Some(run) = bufs.start(&inputs, &self.zero)? {
                    return self.run_buffered(run, &inputs[1], epochs);
                }
            }
        }
        let mut all = Vec::new();
        for _ in 0..epochs {
            match batches {
                Batches::Full => all.push(self.batch(x, y, true)?.0),
                Batches::Indices(idx) => {
                    for ix in idx.iter() {
                        let (bx, by) = (crate::data::gather(x, ix)?, crate::data::gather(y, ix)?);
                        all.push(self.batch(&bx, &by, true)?.0);
                    }
                }
            }
        }
        Ok(all)
    }
}

impl TrainStep {
    /// Full-batch epochs over fixed buffers (see buffers.rs): the same ops, kernels and order
    /// as `batch`, so the same numbers, without making tensors per step.
    fn run_buffered(&self, run: BufferRun, y: &Tensor, epochs: usize) -> Result<Vec<BatchStats>> {
        let count = y.shape().first().copied().unwrap_or(1);
        let mut all = Vec::with_capacity(epochs);
        for _ in 0..epochs {
            run.step()?;
            for g in &self.groups {
                g.step()?;
            }
            let outs = run.outputs();
            all.push(BatchStats {
                loss: scalar_f64(&outs[1])?,
                correct: if self.accuracy {
                    count_correct(&outs[0], y)?
                } else {
                    0.0
                },
                count,
            });
        }
        Ok(all)
    }
}

/// Evaluation with a program captured under `eval()` and `no_grad()`.
pub fn evaluate(
    program: &Program,
    x: &Tensor,
    y: &Tensor,
    batches: &Batches<'_>,
    accuracy: bool,
) -> Result<Vec<BatchStats>> {
    let _grad = GradModeGuard::new(false);
    let one = |bx: &Tensor, by: &Tensor| -> Result<BatchStats> {
        let outs = program.run(&[bx.clone(), by.clone()])?;
        Ok(BatchStats {
            loss: scalar_f64(&outs[1])?,
            correct: if accuracy {
                count_correct(&outs[0], by)?
            } else {
                0.0
            },
            count: by.shape().first().copied().unwrap_or(1),
        })
    };
    match batches {
        Batches::Full => Ok(vec![one(x, y)?]),
        Batches::Indices(idx) => idx
            .iter()
            .map(|ix| one(&crate::data::gather(x, ix)?, &crate::data::gather(y, ix)?))
            .collect(),
    }
}
