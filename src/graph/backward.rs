//! The backward pass of a captured training step, recorded once and replayed as plain ops.
//!
//! The eager engine builds a graph of nodes on every step, walks it and calls each node's
//! closure. Those closures compose ordinary ops, so the first `loss.backward()` of `fit` is
//! recorded like the forward: the ops each node runs, the engine's broadcast reductions and
//! gradient sums, and which gradient reaches which leaf. Replay then runs forward and backward
//! as one straight list of ops with autograd off: the same ops on the same values in the same
//! order as the engine, so the same bits, without making nodes, closures or engine maps.
//!
//! A node's closure may also compute with values it read from data in forward (a count of
//! non-ignored targets, a softmax) that a recording cannot see; so only node kinds whose
//! backward is audited to be a composition of recorded ops with fixed attributes record (see
//! `replayable`). Anything else — another node kind, a hook, a gradient made by an unrecorded
//! kernel, a leaf that is not a constant of the program — leaves the program without a plan,
//! and replay builds the autograd graph each step as before.

use super::buffers::{BufferPlan, OpView};
use super::capture;
use super::program::{Instr, Outs, Program, ReplayFn};
use crate::autograd::{self, AutogradMeta, GradModeGuard};
use crate::error::Result;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Node kinds whose backward closure only composes recorded ops (or passes gradients through)
/// with attributes fixed when the node is made (shapes, dims, Python scalars, alpha/beta) —
/// never values read from tensor data. A closure that calls an unrecorded kernel is refused
/// anyway, because its result has no slot; this list guards against what a recording cannot
/// see. Each name has a single producer: elementwise.rs `record_binary`/`record_unary`,
/// reduce.rs `sum`/`mean` (MeanBackward1's other producer, `var_mean`, makes its gradient with
/// an unrecorded kernel), movement.rs views, matmul.rs `addmm`, loss_mse.rs `mse_loss`.
pub fn replayable(name: &str) -> bool {
    matches!(
        name,
        "AddBackward0"
            | "SubBackward0"
            | "MulBackward0"
            | "DivBackward0"
            | "NegBackward0"
            | "AbsBackward0"
            | "ExpBackward0"
            | "Exp2Backward0"
            | "Expm1Backward0"
            | "LogBackward0"
            | "Log2Backward0"
            | "Log10Backward0"
            | "Log1PBackward0"
            | "SqrtBackward0"
            | "RsqrtBackward0"
            | "PowBackward0"
            | "SinBackward0"
            | "CosBackward0"
            | "TanBackward0"
            | "AsinBackward0"
            | "AcosBackward0"
            | "AtanBackward0"
            | "SinhBackward0"
            | "CoshBackward0"
            | "TanhBackward0"
            | "SigmoidBackward0"
            | "ReluBackward0"
            | "ReciprocalBackward0"
            | "ErfBackward0"
            | "SumBackward0"
            | "SumBackward1"
            | "MeanBackward0"
            | "MeanBackward1"
            | "ViewBackward0"
            | "UnsafeViewBackward0"
            | "UnsqueezeBackward0"
            | "SqueezeBackward0"
            | "TransposeBackward0"
            | "PermuteBackward0"
            | "ExpandBackward0"
            | "AddmmBackward0"
            | "MseLossBackward0"
    )
}

/// Which inputs of an op are moved out of their slots (their last read) instead of cloned.
type Moves = SmallVec<[bool; 4]>;

enum Step {
    /// A recorded backward op, and which of its inputs it reads last.
    Op(Instr, Moves),
    /// A gradient for leaf `leaf` from `slot`; `last`: nothing reads the slot afterwards.
    Deliver {
        leaf: usize,
        slot: usize,
        last: bool,
    },
}

/// A program's backward pass as ops over the program's slots (numbered after the forward's).
pub struct BackwardPlan {
    n_slots: usize,
    /// Constants the backward made (Python-number scalars inside node closures) and the values
    /// of backward ops that depend on constants only, computed once.
    consts: Vec<(usize, Tensor)>,
    /// Per forward instruction: which of its inputs nothing reads afterwards (forward or backward).
    fwd_moves: Vec<Moves>,
    steps: Vec<Step>,
    leaves: Vec<Arc<AutogradMeta>>,
    /// requires_grad of each input and forward constant at capture: replay needs the same graph.
    input_grad: Vec<bool>,
    const_grad: Vec<bool>,
    /// The same ops over fixed buffers, or why they cannot run that way (buffers.rs).
    buffers: std::result::Result<BufferPlan, String>,
}

/// `loss.backward()` as eager code runs it. When the capture that made `program` was kept for
/// it (`capture::finish_for_backward`), the pass is also recorded into the program's plan.
/// Returns why no plan was made (None: the program has one now).
pub fn backward_and_plan(program: &Program, loss: &Tensor) -> Result<Option<String>> {
    let recording = capture::resume_backward(program);
    let done = autograd::backward(std::slice::from_ref(loss), &[None], false, false, None);
    let trace = if recording {
        capture::end_backward()
    } else {
        Err("the forward capture was not kept for recording backward".into())
    };
    done?;
    Ok(
        match trace.and_then(|t| BackwardPlan::new(program, t, loss)) {
            Ok(plan) => {
                program.set_backward(plan);
                None
            }
            Err(why) => Some(why),
        },
    )
}

impl BackwardPlan {
    fn new(
        p: &Program,
        t: capture::BackwardTrace,
        loss: &Tensor,
    ) -> std::result::Result<Self, String> {
        let slot = &t.slot_tensors;
        // replay differentiates the program's last output (fit's loss)
        if !p
            .outputs
            .last()
            .is_some_and(|&s| Arc::ptr_eq(&slot[s].0, &loss.0))
        {
            return Err("backward was not run on the program's loss".into());
        }
        let input_grad: Vec<bool> = slot[..p.n_inputs]
            .iter()
            .map(|x| x.requires_grad())
            .collect();
        if input_grad.iter().any(|&g| g) {
            return Err("a program input requires grad".into());
        }
        let const_grad: Vec<bool> = p.consts.iter().map(|(_, c)| c.requires_grad()).collect();
        if p.consts.iter().any(|(_, c)| c.grad_fn().is_some()) {
            return Err("forward uses a tensor with its own autograd history".into());
        }
        // Leaves: each must be a constant of the program (the same tensor every step).
        let mut leaves: Vec<Arc<AutogradMeta>> = Vec::new();
        let mut leaf_tensors: Vec<Tensor> = Vec::new();
        let mut deliveries = Vec::with_capacity(t.deliveries.len());
        for (at, meta, s) in t.deliveries {
            let Some((_, leaf_tensor)) = p
                .consts
                .iter()
                .find(|(_, c)| c.autograd_meta().is_some_and(|m| Arc::ptr_eq(m, &meta)))
            else {
                return Err(
                    "a gradient reaches a leaf made inside forward or given as input".into(),
                );
            };
            let leaf = match leaves.iter().position(|m| Arc::ptr_eq(m, &meta)) {
                Some(i) => i,
                None => {
                    leaves.push(meta);
                    leaf_tensors.push(leaf_tensor.clone());
                    leaves.len() - 1
                }
            };
            deliveries.push((at, leaf, s));
        }

        // Dead code: backward ops whose results reach no leaf (gradients for inputs that do not
        // require grad, e.g. d(w*x)/dx) are dropped; ops that write in place always stay.
        let n_slots = slot.len();
        let mut live = vec![false; n_slots];
        for &(_, _, s) in &deliveries {
            live[s] = true;
        }
        let mut keep_op = vec![false; t.instrs.len()];
        for (i, ins) in t.instrs.iter().enumerate().rev() {
            if ins.mutates || ins.outputs.iter().any(|&s| live[s]) {
                keep_op[i] = true;
                for &s in &ins.inputs {
                    live[s] = true;
                }
            }
        }

        // Ops whose inputs are the same every step — the engine's root gradient (ones), Python
        // numbers, and what is computed from only those (the mean's 1/N gradient) — are
        // computed once here and become constant slots, when no backward op writes in place
        // (a leaf receiving one stores a copy: `store_leaf_grad` copies shared gradients).
        // Parameters and buffers change every step, so nothing reading them is folded.
        let mut consts = t.consts;
        let instrs = t.instrs;
        if !instrs.iter().any(|i| i.mutates) {
            let mut fixed: Vec<Option<Tensor>> = vec![None; n_slots];
            for (s, c) in p.consts.iter().chain(&consts) {
                if c.is_wrapped_number() {
                    fixed[*s] = Some(c.clone());
                }
            }
            let _grad = GradModeGuard::new(false);
            for (i, ins) in instrs.iter().enumerate() {
                let fold = keep_op[i]
                    && (ins.name == "constant" || !ins.inputs.is_empty())
                    && ins.inputs.iter().all(|&s| fixed[s].is_some());
                if !fold {
                    continue;
                }
                let args: Vec<Tensor> = ins
                    .inputs
                    .iter()
                    .map(|&s| fixed[s].clone().expect("checked"))
                    .collect();
                let outs = ins.f.call(&args).map_err(|e| e.to_string())?;
                for (&s, v) in ins.outputs.iter().zip(outs) {
                    fixed[s] = Some(v.clone());
                    consts.push((s, v));
                }
                keep_op[i] = false;
            }
        }

        // Interleave ops and deliveries in the engine's order.
        let mut seq: Vec<Step> = Vec::new();
        let mut d = deliveries.into_iter().peekable();
        for (i, ins) in instrs.into_iter().enumerate() {
            while let Some(&(at, leaf, s)) = d.peek() {
                if at > i {
                    break;
                }
                seq.push(Step::Deliver {
                    leaf,
                    slot: s,
                    last: false,
                });
                d.next();
            }
            if keep_op[i] {
                seq.push(Step::Op(ins, SmallVec::new()));
            }
        }
        for (_, leaf, s) in d {
            seq.push(Step::Deliver {
                leaf,
                slot: s,
                last: false,
            });
        }

        let buffers = {
            let ops = p.instrs.iter().chain(seq.iter().filter_map(|st| match st {
                Step::Op(ins, _) => Some(ins),
                Step::Deliver { .. } => None,
            }));
            let grads: Vec<_> = seq
                .iter()
                .filter_map(|st| match st {
                    Step::Deliver { leaf, slot, .. } => {
                        Some((leaves[*leaf].clone(), *slot, leaf_tensors[*leaf].clone()))
                    }
                    Step::Op(..) => None,
                })
                .collect();
            BufferPlan::new(
                p,
                ops.map(|ins| OpView {
                    into: ins.into.as_ref(),
                    f: &ins.f,
                    inputs: &ins.inputs,
                    outputs: &ins.outputs,
                    mutates: ins.mutates,
                    name: ins.name,
                }),
                slot,
                p.consts.iter().chain(&consts),
                &grads,
            )
        };

        // Last reads, over forward then backward (position of the input within its op, so an
        // op reading a slot twice moves it on the second read); outputs and constants stay.
        const FWD: usize = 0;
        const BWD: usize = 1;
        let mut last: Vec<Option<(usize, usize, usize)>> = vec![None; n_slots];
        for (i, ins) in p.instrs.iter().enumerate() {
            for (j, &s) in ins.inputs.iter().enumerate() {
                last[s] = Some((FWD, i, j));
            }
        }
        for (i, st) in seq.iter().enumerate() {
            match st {
                Step::Op(ins, _) => {
                    for (j, &s) in ins.inputs.iter().enumerate() {
                        last[s] = Some((BWD, i, j));
                    }
                }
                Step::Deliver { slot, .. } => last[*slot] = Some((BWD, i, 0)),
            }
        }
        for &s in p.outputs.iter() {
            last[s] = None;
        }
        for &(s, _) in p.consts.iter().chain(&consts) {
            last[s] = None;
        }
        let mut fwd_moves: Vec<Moves> = p
            .instrs
            .iter()
            .map(|ins| smallvec::smallvec![false; ins.inputs.len()])
            .collect();
        for st in seq.iter_mut() {
            if let Step::Op(ins, moves) = st {
                *moves = smallvec::smallvec![false; ins.inputs.len()];
            }
        }
        for l in last.iter().flatten() {
            match *l {
                (FWD, i, j) => fwd_moves[i][j] = true,
                (_, i, j) => match &mut seq[i] {
                    Step::Op(_, moves) => moves[j] = true,
                    Step::Deliver { last, .. } => *last = true,
                },
            }
        }
        Ok(BackwardPlan {
            n_slots,
            consts,
            fwd_moves,
            steps: seq,
            leaves,
            input_grad,
            const_grad,
            buffers,
        })
    }

    /// Whether the autograd graph a step would build now is the recorded one: the same inputs
    /// and constants require grad, and no leaf has gained a hook.
    pub fn usable(&self, program: &Program, inputs: &[Tensor]) -> bool {
        inputs
            .iter()
            .zip(&self.input_grad)
            .all(|(t, &g)| t.requires_grad() == g)
            && program
                .consts
                .iter()
                .zip(&self.const_grad)
                .all(|((_, t), &g)| t.requires_grad() == g)
            && self
                .leaves
                .iter()
                .all(|m| m.requires_grad.load(Ordering::Relaxed) && m.state.lock().hooks.is_empty())
    }

    /// The same step over fixed buffers, when every op has a buffer form.
    pub fn buffers(&self) -> Option<&BufferPlan> {
        self.buffers.as_ref().ok()
    }

    /// Why the step does not run over fixed buffers (None: it does).
    pub fn buffers_refusal(&self) -> Option<&str> {
        self.buffers.as_ref().err().map(|s| s.as_str())
    }

    /// The backward's op names, in order (for tests).
    pub fn op_names(&self) -> Vec<&'static str> {
        self.steps
            .iter()
            .filter_map(|s| match s {
                Step::Op(ins, _) => Some(ins.name),
                Step::Deliver { .. } => None,
            })
            .collect()
    }

    /// Forward and backward of `program` on `inputs` with autograd off, gradients stored into
    /// the leaves' `.grad` as the engine stores them. Returns the program's outputs.
    pub fn run(&self, program: &Program, inputs: &[Tensor]) -> Result<Outs> {
        if inputs.len() != program.n_inputs {
            return Err(crate::Error::runtime(format!(
                "captured program takes {} inputs, got {}",
                program.n_inputs,
                inputs.len()
            )));
        }
        let _grad = GradModeGuard::new(false);
        // On the stack for small programs: a step allocates nothing besides the ops' own tensors.
        // Inputs and constants are borrowed (no reference-count traffic for the slots themselves).
        let mut stack: [Val<'_>; STACK_SLOTS] = std::array::from_fn(|_| Val::Empty);
        let mut heap: Vec<Val<'_>> = Vec::new();
        let slots: &mut [Val<'_>] = if self.n_slots <= STACK_SLOTS {
            &mut stack[..self.n_slots]
        } else {
            heap.resize_with(self.n_slots, || Val::Empty);
            &mut heap
        };
        for (s, t) in inputs.iter().enumerate() {
            slots[s] = Val::Ref(t);
        }
        for (s, t) in program.consts.iter().chain(&self.consts) {
            slots[*s] = Val::Ref(t);
        }
        // An op's inputs, moved out of the slots they are last read from (freed as it finishes).
        let exec = |ins: &Instr, moves: &Moves, slots: &mut [Val<'_>]| -> Result<()> {
            match &ins.f {
                ReplayFn::One(f) => {
                    let t = with_args(ins, moves, slots, |a| f(a))?;
                    slots[ins.outputs[0]] = Val::Own(t);
                }
                ReplayFn::Many(f) => {
                    let outs = with_args(ins, moves, slots, |a| f(a))?;
                    for (&s, t) in ins.outputs.iter().zip(outs) {
                        slots[s] = Val::Own(t);
                    }
                }
            }
            Ok(())
        };
        for (ins, moves) in program.instrs.iter().zip(&self.fwd_moves) {
            exec(ins, moves, slots)?;
        }
        for step in &self.steps {
            match step {
                Step::Op(ins, moves) => exec(ins, moves, slots)?,
                Step::Deliver { leaf, slot, last } => {
                    // moved out on its last use, so an unshared gradient is stored without a copy
                    let g = slots[*slot].read(*last);
                    let mut st = self.leaves[*leaf].state.lock();
                    autograd::store_leaf_grad(&mut st, g, false)?;
                }
            }
        }
        Ok(program
            .outputs
            .iter()
            .map(|&s| slots[s].read(false))
            .collect())
    }
}

/// `f` on an op's inputs read from `slots` in order (moved out on their last read); one or two
/// inputs (most ops) are passed in an array.
#[inline(always)]
fn with_args<R>(
    ins: &Instr,
    moves: &Moves,
    slots: &mut [Val<'_>],
    f: impl FnOnce(&[Tensor]) -> R,
) -> R {
    let (i, m) = (&ins.inputs, moves);
    match i.len() {
        1 => f(&[slots[i[0]].read(m[0])]),
        2 => f(&[slots[i[0]].read(m[0]), slots[i[1]].read(m[1])]),
        _ => {
            let args: SmallVec<[Tensor; 4]> =
                i.iter().zip(m).map(|(&s, &mv)| slots[s].read(mv)).collect();
            f(&args)
        }
    }
}

/// Slots a replay keeps on the stack (more spill to the heap).
const STACK_SLOTS: usize = 32;

/// A slot's value during a replay: borrowed (inputs, constants) or made by an op.
enum Val<'a> {
    Empty,
    Ref(&'a Tensor),
    Own(Tensor),
}

impl Val<'_> {
    /// The value, moved out when this is its last read.
    #[inline]
    fn read(&mut self, last: bool) -> Tensor {
        match self {
            Val::Ref(t) => (*t).clone(),
            Val::Own(t) if !last => t.clone(),
            Val::Own(_) => match std::mem::replace(self, Val::Empty) {
                Val::Own(t) => t,
                _ => unreachable!(),
            },
            Val::Empty => panic!("a slot is written before it is read"),
        }
    }
}
