//! `Program`: a captured list of ops over numbered slots, replayed on new inputs.

use super::backward::BackwardPlan;
use crate::error::Result;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::sync::{Arc, OnceLock};

/// Re-runs one op on new inputs (the op's own forward, so autograd records as in eager code).
#[derive(Clone)]
pub enum ReplayFn {
    /// An op with one output (most ops): replay stores it without building an output list.
    One(Arc<dyn Fn(&[Tensor]) -> Result<Tensor> + Send + Sync>),
    Many(Arc<dyn Fn(&[Tensor]) -> Result<Outs> + Send + Sync>),
}

impl ReplayFn {
    /// The op's outputs on `args`.
    pub fn call(&self, args: &[Tensor]) -> Result<Outs> {
        match self {
            ReplayFn::One(f) => Ok(smallvec::smallvec![f(args)?]),
            ReplayFn::Many(f) => f(args),
        }
    }
}

/// An op's outputs (inline: most ops have one or two).
pub type Outs = SmallVec<[Tensor; 2]>;

/// Writes an op's one output into `out`, a contiguous tensor of the output's shape and dtype
/// that the caller owns (fit's fixed-buffer step, see buffers.rs). Only ops whose eager form
/// always returns a fresh contiguous tensor have one, and it runs the eager form's kernels, so
/// the bits are the same.
pub type IntoFn = Arc<dyn Fn(&[&Tensor], &Tensor) -> Result<()> + Send + Sync>;

pub struct Instr {
    pub name: &'static str,
    pub f: ReplayFn,
    pub inputs: SmallVec<[usize; 4]>,
    pub outputs: SmallVec<[usize; 2]>,
    /// Grad mode when the op ran (a `no_grad()` block inside forward stays one on replay).
    pub grad: bool,
    /// Writes a tensor in place (never dropped as dead code).
    pub mutates: bool,
    /// The op writing into a buffer it is given, when it has that form.
    pub into: Option<IntoFn>,
}

/// Slots `0..n_inputs` are the inputs; constants (parameters, buffers, Python numbers) are
/// held by reference; every other slot is written by exactly one instruction.
pub struct Program {
    pub(crate) n_inputs: usize,
    pub(crate) n_slots: usize,
    pub(crate) consts: Vec<(usize, Tensor)>,
    pub(crate) instrs: Vec<Instr>,
    pub(crate) outputs: Vec<usize>,
    /// Per instruction: slots whose last reader it is, dropped after it runs (frees memory early).
    frees: Vec<SmallVec<[usize; 4]>>,
    /// The recorded backward pass, when the capture's backward could be recorded (see backward.rs).
    backward: OnceLock<BackwardPlan>,
    /// The capture that made it (pairs a kept forward capture with its program).
    pub(crate) generation: u32,
}

impl Program {
    pub(crate) fn new(
        n_inputs: usize,
        n_slots: usize,
        consts: Vec<(usize, Tensor)>,
        instrs: Vec<Instr>,
        outputs: Vec<usize>,
    ) -> Program {
        let mut last = vec![usize::MAX; n_slots];
        for (i, ins) in instrs.iter().enumerate() {
            for &s in &ins.inputs {
                last[s] = i;
            }
        }
        for &s in &outputs {
            last[s] = usize::MAX;
        }
        for &(s, _) in &consts {
            last[s] = usize::MAX;
        }
        let mut frees = vec![SmallVec::new(); instrs.len()];
        for (s, &l) in last.iter().enumerate() {
            if l != usize::MAX {
                frees[l].push(s);
            }
        }
        Program {
            n_inputs,
            n_slots,
            consts,
            instrs,
            outputs,
            frees,
            backward: OnceLock::new(),
            generation: 0,
        }
    }

    /// The backward pass recorded for this program, if any.
    pub fn backward(&self) -> Option<&BackwardPlan> {
        self.backward.get()
    }
    pub(crate) fn set_backward(&self, plan: BackwardPlan) {
        let _ = self.backward.set(plan);
    }

    pub fn n_inputs(&self) -> usize {
        self.n_inputs
    }
    pub fn len(&self) -> usize {
        self.instrs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.instrs.is_empty()
    }
    /// The recorded op names, in order (for tests and error messages).
    pub fn op_names(&self) -> Vec<&'static str> {
        self.instrs.iter().map(|i| i.name).collect()
    }

    /// Runs the program on `inputs` (same shapes and dtypes as at capture) and returns its outputs.
    pub fn run(&self, inputs: &[Tensor]) -> Result<Vec<Tensor>> {
        if inputs.len() != self.n_inputs {
            return Err(crate::Error::runtime(format!(
                "captured program takes {} inputs, got {}",
                self.n_inputs,
                inputs.len()
            )));
        }
        let mut slots: Vec<Option<Tensor>> = vec![None; self.n_slots];
        for (s, t) in inputs.iter().enumerate() {
            slots[s] = Some(t.clone());
        }
        for (s, t) in &self.consts {
            slots[*s] = Some(t.clone());
        }
        let mut args: Vec<Tensor> = Vec::with_capacity(4);
        for (ins, frees) in self.instrs.iter().zip(&self.frees) {
            args.clear();
            args.extend(ins.inputs.iter().map(|&s| {
                slots[s]
                    .clone()
                    .expect("a slot is written before it is read")
            }));
            let outs = if ins.grad == crate::autograd::is_grad_enabled() {
                ins.f.call(&args)?
            } else {
                let _mode = crate::autograd::GradModeGuard::new(ins.grad);
                ins.f.call(&args)?
            };
            for (&s, t) in ins.outputs.iter().zip(outs) {
                slots[s] = Some(t);
            }
            for &s in frees {
                slots[s] = None;
            }
        }
        args.clear();
        Ok(self
            .outputs
            .iter()
            .map(|&s| slots[s].clone().expect("outputs are written"))
            .collect())
    }
}
