//! fit's fixed-buffer step: a recorded forward + backward whose every op writes into a buffer
//! allocated once per `run` call, so replaying a small model makes no tensors per step.
//!
//! The recorded backward (backward.rs) already runs the eager loop's ops as a straight list,
//! but each op still makes its output tensor and the slots hand tensors from op to op. When
//! every op of that list has a buffer form (`program::IntoFn`: float arithmetic, unary math,
//! sums and means — ops whose eager form always returns a fresh contiguous tensor) the shapes
//! and dtypes of all values are known from the capture, so each value gets one buffer for the
//! whole call and each step only runs kernels: the same kernels as eager code, hence the same
//! bits. Gradients go to the leaves' `.grad` once per call (the buffers that receive them);
//! nothing outside the call can see a buffer between two steps.

use super::program::{IntoFn, Program, ReplayFn};
use crate::autograd::{AutogradMeta, GradModeGuard};
use crate::dtype::DType;
use crate::error::Result;
use crate::shape::Dims;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::sync::Arc;

/// How an op runs over buffers.
enum Kind {
    /// Each step writes its output buffer.
    Into(IntoFn),
    /// A view of its input (a reshape, an expand, a transpose): made once per call from the
    /// input's buffer, it sees each step's values without running again.
    View(ReplayFn),
}

/// One op: how it runs, the slots it reads and the slot of its output.
struct BufOp {
    kind: Kind,
    args: SmallVec<[usize; 2]>,
    out: usize,
}

/// Where a slot's value is during a buffered call.
#[derive(Clone)]
enum Source {
    Input(usize),
    Const(Tensor),
    /// A buffer made at the start of each call.
    Buffer(Dims, DType),
    /// A view its op makes at the start of each call.
    View,
}

/// Where a leaf's `.grad` comes from.
struct LeafGrad {
    meta: Arc<AutogradMeta>,
    /// The one buffer delivered to it is its `.grad`; else a buffer of its own sums `parts`.
    direct: bool,
    shape: Dims,
    dtype: DType,
    /// The slots delivered to it, in the engine's order.
    parts: Vec<usize>,
}

/// An op of the recorded step as `BufferPlan::new` sees it.
pub(crate) struct OpView<'a> {
    pub into: Option<&'a IntoFn>,
    pub f: &'a ReplayFn,
    pub inputs: &'a [usize],
    pub outputs: &'a [usize],
    pub mutates: bool,
    pub name: &'static str,
}

/// The recorded forward and backward of a program as ops over fixed buffers.
pub struct BufferPlan {
    ops: Vec<BufOp>,
    sources: Vec<Option<Source>>,
    grads: Vec<LeafGrad>,
    outputs: Vec<usize>,
}

impl BufferPlan {
    /// The plan, or why the step cannot run on fixed buffers. `ops` are the forward's then the
    /// backward's kept ops in replay order; `slot_tensors` every slot's value at capture;
    /// `consts` the program's and the backward's constants; `grads` the deliveries in order.
    pub(crate) fn new<'a>(
        program: &Program,
        ops: impl Iterator<Item = OpView<'a>>,
        slot_tensors: &[Tensor],
        consts: impl Iterator<Item = &'a (usize, Tensor)>,
        grads: &[(Arc<AutogradMeta>, usize, Tensor)],
    ) -> std::result::Result<Self, String> {
        let n_slots = slot_tensors.len();
        let mut sources: Vec<Option<Source>> = vec![None; n_slots];
        for (s, src) in sources.iter_mut().enumerate().take(program.n_inputs) {
            *src = Some(Source::Input(s));
        }
        for (s, t) in consts {
            sources[*s] = Some(Source::Const(t.clone()));
        }
        let mut plan_ops = Vec::new();
        for op in ops {
            if op.mutates || op.outputs.len() != 1 {
                return Err(format!(
                    "`{}` writes in place or has several outputs",
                    op.name
                ));
            }
            for &a in op.inputs {
                if sources[a].is_none() {
                    return Err(format!("`{}` reads a value no earlier op made", op.name));
                }
            }
            let out = op.outputs[0];
            let t = &slot_tensors[out];
            if sources[out].is_some() {
                return Err(format!("`{}` makes a value twice", op.name));
            }
            let kind = if let Some(f) = op.into {
                sources[out] = Some(Source::Buffer(Dims::from_slice(t.shape()), t.dtype()));
                Kind::Into(f.clone())
            } else if op.inputs.iter().any(|&a| slot_tensors[a].shares_storage(t)) {
                sources[out] = Some(Source::View);
                Kind::View(op.f.clone())
            } else {
                return Err(format!("`{}` has no buffer form", op.name));
            };
            plan_ops.push(BufOp {
                kind,
                args: SmallVec::from_slice(op.inputs),
                out,
            });
        }
        // Each leaf's gradient: the buffer that receives it (when it is the leaf's only one and
        // no other leaf's), or a buffer of its own that each step fills with the deliveries'
        // sum in the engine's order (a copy of the first, then in-place adds, as
        // `store_leaf_grad` accumulates them).
        let mut leaf_grads: Vec<LeafGrad> = Vec::new();
        for (meta, s, leaf) in grads {
            let of_leaf = grads
                .iter()
                .filter(|(m, _, _)| Arc::ptr_eq(m, meta))
                .count();
            let of_slot = grads.iter().filter(|(_, t, _)| t == s).count();
            let shape = Dims::from_slice(leaf.shape());
            let t = &slot_tensors[*s];
            if sources[*s].is_none() {
                return Err("a gradient is not made by an op of the step".into());
            }
            if t.shape() != leaf.shape() || t.dtype() != leaf.dtype() {
                return Err("a gradient's shape or dtype differs from its leaf's".into());
            }
            match leaf_grads.iter_mut().find(|g| Arc::ptr_eq(&g.meta, meta)) {
                Some(g) => g.parts.push(*s),
                None => leaf_grads.push(LeafGrad {
                    meta: meta.clone(),
                    direct: of_leaf == 1
                        && of_slot == 1
                        && matches!(sources[*s], Some(Source::Buffer(..))),
                    shape,
                    dtype: leaf.dtype(),
                    parts: vec![*s],
                }),
            }
        }
        if program.outputs.iter().any(|&s| sources[s].is_none()) {
            return Err("an output of the program is not made by the step".into());
        }
        Ok(BufferPlan {
            ops: plan_ops,
            sources,
            grads: leaf_grads,
            outputs: program.outputs.clone(),
        })
    }

    /// The buffers for one call on `inputs`, with the leaves' `.grad` set to theirs and the
    /// other parameters' (`zero`) cleared, as zero_grad + backward leave them after a step.
    /// None when a leaf is not among `zero`: eager code adds each step's gradient to its
    /// `.grad`, which a buffer rewritten every step would not.
    pub fn start(&self, inputs: &[Tensor], zero: &[Tensor]) -> Result<Option<BufferRun>> {
        let zeroed = |m: &Arc<AutogradMeta>| {
            zero.iter()
                .any(|p| p.autograd_meta().is_some_and(|pm| Arc::ptr_eq(pm, m)))
        };
        if !self.grads.iter().all(|g| zeroed(&g.meta)) {
            return Ok(None);
        }
        let _grad = GradModeGuard::new(false);
        let mut vals: Vec<Option<Tensor>> = self
            .sources
            .iter()
            .map(|src| match src {
                None | Some(Source::View) => None,
                Some(Source::Input(i)) => Some(inputs[*i].clone()),
                Some(Source::Const(t)) => Some(t.clone()),
                Some(Source::Buffer(shape, dt)) => Some(Tensor::zeros(shape, *dt)),
            })
            .collect();
        let get = |vals: &[Option<Tensor>], s: usize| {
            vals[s].clone().expect("every read slot has a source")
        };
        let mut ops = Vec::new();
        for op in &self.ops {
            let args: SmallVec<[Tensor; 2]> = op.args.iter().map(|&s| get(&vals, s)).collect();
            match &op.kind {
                Kind::Into(f) => ops.push(RunOp {
                    f: f.clone(),
                    args,
                    out: get(&vals, op.out),
                }),
                Kind::View(f) => {
                    let v = f.call(&args)?.remove(0);
                    // it saw the capture's tensors as a view; on these it must be one too
                    if !args.iter().any(|a| a.shares_storage(&v)) {
                        return Ok(None);
                    }
                    vals[op.out] = Some(v);
                }
            }
        }
        let get = |s: usize| get(&vals, s);
        for p in zero {
            p.set_grad(None)?;
        }
        let mut sums = Vec::new();
        for g in &self.grads {
            let grad = if g.direct {
                get(g.parts[0])
            } else {
                let sum = Tensor::zeros(&g.shape, g.dtype);
                sums.push((sum.clone(), g.parts.iter().map(|&s| get(s)).collect()));
                sum
            };
            g.meta.state.lock().grad = Some(grad);
        }
        Ok(Some(BufferRun {
            ops,
            sums,
            outputs: self.outputs.iter().map(|&s| get(s)).collect(),
        }))
    }
}

struct RunOp {
    f: IntoFn,
    args: SmallVec<[Tensor; 2]>,
    out: Tensor,
}

/// One call's buffers: `step` runs forward and backward into them.
pub struct BufferRun {
    ops: Vec<RunOp>,
    /// Gradients summed from several deliveries: (the leaf's .grad, the parts in order).
    sums: Vec<(Tensor, Vec<Tensor>)>,
    outputs: Vec<Tensor>,
}

impl BufferRun {
    /// Forward and backward of one batch (the leaves' `.grad` hold the new gradients after).
    pub fn step(&self) -> Result<()> {
        let _grad = GradModeGuard::new(false);
        for op in &self.ops {
            match op.args.as_slice() {
                [a] => (op.f)(&[a], &op.out)?,
                [a, b] => (op.f)(&[a, b], &op.out)?,
                args => {
                    let refs: SmallVec<[&Tensor; 4]> = args.iter().collect();
                    (op.f)(&refs, &op.out)?
                }
            }
        }
        for (sum, parts) in &self.sums {
            crate::kernels::elementwise::copy_cast(sum, &parts[0]);
            for p in &parts[1..] {
                crate::ops::elementwise::add_inplace(sum, p)?;
            }
        }
        Ok(())
    }

    /// The program's outputs (valid until the next step).
    pub fn outputs(&self) -> &[Tensor] {
        &self.outputs
    }
}
