//! An optimizer group held in Rust (parameters, state tensors, hyper-parameters) so `fit` can step without Python.

use super::adagrad::{adagrad_step, AdagradOptions};
use super::adam::{adam_step, AdamOptions};
use super::rmsprop::{rmsprop_step, RmspropOptions};
use super::sgd::{sgd_update, SgdOptions};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::borrow::Cow;

/// The state lists of one group, each empty or one entry per parameter.
#[derive(Clone)]
pub enum GroupKind {
    Sgd {
        o: SgdOptions,
        bufs: Vec<Tensor>,
    },
    Adam {
        o: AdamOptions,
        exp_avgs: Vec<Tensor>,
        exp_avg_sqs: Vec<Tensor>,
        max_exp_avg_sqs: Vec<Tensor>,
        steps: Vec<Tensor>,
    },
    Rmsprop {
        o: RmspropOptions,
        square_avgs: Vec<Tensor>,
        grad_avgs: Vec<Tensor>,
        momentum_bufs: Vec<Tensor>,
        steps: Vec<Tensor>,
    },
    Adagrad {
        o: AdagradOptions,
        sums: Vec<Tensor>,
        steps: Vec<Tensor>,
    },
}

/// One parameter group: the same update the Python `step()` makes, over the same state tensors.
#[derive(Clone)]
pub struct GroupPlan {
    pub params: Vec<Tensor>,
    pub kind: GroupKind,
}

/// `v` restricted to the parameters that have gradients (`v` may be empty: state not used);
/// borrowed as is when every parameter has one (the usual case: no copies per step).
fn pick<'a>(v: &'a [Tensor], idx: &[usize], all: bool) -> Cow<'a, [Tensor]> {
    if all || v.is_empty() {
        Cow::Borrowed(v)
    } else {
        Cow::Owned(idx.iter().map(|&i| v[i].clone()).collect())
    }
}

impl GroupPlan {
    pub fn new(params: Vec<Tensor>, kind: GroupKind) -> Result<GroupPlan> {
        let n = params.len();
        let lens: Vec<usize> = match &kind {
            GroupKind::Sgd { bufs, .. } => vec![bufs.len()],
            GroupKind::Adam {
                exp_avgs,
                exp_avg_sqs,
                max_exp_avg_sqs,
                steps,
                ..
            } => vec![
                exp_avgs.len(),
                exp_avg_sqs.len(),
                max_exp_avg_sqs.len(),
                steps.len(),
            ],
            GroupKind::Rmsprop {
                square_avgs,
                grad_avgs,
                momentum_bufs,
                steps,
                ..
            } => vec![
                square_avgs.len(),
                grad_avgs.len(),
                momentum_bufs.len(),
                steps.len(),
            ],
            GroupKind::Adagrad { sums, steps, .. } => vec![sums.len(), steps.len()],
        };
        if lens.iter().any(|&l| l != 0 && l != n) {
            return Err(Error::runtime(format!(
                "optimizer plan: state lists must be empty or have one tensor per parameter ({n})"
            )));
        }
        Ok(GroupPlan { params, kind })
    }

    /// Steps the parameters that have a gradient, skipping the others as `step()` does.
    pub fn step(&self) -> Result<()> {
        let mut idx: SmallVec<[usize; 16]> = SmallVec::new();
        let mut grads: SmallVec<[Tensor; 16]> = SmallVec::new();
        for (i, p) in self.params.iter().enumerate() {
            if let Some(g) = p.grad() {
                idx.push(i);
                grads.push(g);
            }
        }
        if idx.is_empty() {
            return Ok(());
        }
        let all = idx.len() == self.params.len();
        let params = pick(&self.params, &idx, all);
        match &self.kind {
            GroupKind::Sgd { o, bufs } => {
                let b: SmallVec<[Option<Tensor>; 16]> =
                    pick(bufs, &idx, all).iter().cloned().map(Some).collect();
                sgd_update(&params, &grads, &b, o, |_| {})?;
            }
            GroupKind::Adam {
                o,
                exp_avgs,
                exp_avg_sqs,
                max_exp_avg_sqs,
                steps,
            } => adam_step(
                &params,
                &grads,
                &pick(exp_avgs, &idx, all),
                &pick(exp_avg_sqs, &idx, all),
                &pick(max_exp_avg_sqs, &idx, all),
                &pick(steps, &idx, all),
                o,
            )?,
            GroupKind::Rmsprop {
                o,
                square_avgs,
                grad_avgs,
                momentum_bufs,
                steps,
            } => rmsprop_step(
                &params,
                &grads,
                &pick(square_avgs, &idx, all),
                &pick(grad_avgs, &idx, all),
                &pick(momentum_bufs, &idx, all),
                &pick(steps, &idx, all),
                o,
            )?,
            GroupKind::Adagrad { o, sums, steps } => adagrad_step(
                &params,
                &grads,
                &pick(sums, &idx, all),
                &pick(steps, &idx, all),
                o,
            )?,
        }
        Ok(())
    }
}
