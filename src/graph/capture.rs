//! Capture: records every op this thread runs between `begin` and `finish` into a `Program`.
//!
//! Ops call `scope()` on entry and `Scope::record*` with a replay closure on success. Only the
//! outermost op records (an op built from other ops is one instruction). Capture is refused, with
//! a reason, when an op's input was made by something that cannot replay (an op without a hook),
//! when a value is read on the Python side (`.item()`, `bool(t)`), or when a tensor the program
//! depends on was written in place by an op that did not record.
//!
//! A training capture can go on through the first `loss.backward()` (see backward.rs): the
//! recorder then also sees the ops each backward node runs, the engine's broadcast reductions and
//! the gradients handed to leaves.

use super::program::{Instr, IntoFn, Program, ReplayFn};
use crate::autograd::{AutogradMeta, Node};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The generation of the capture in progress (0: none). Tensors remember it when created.
static GENERATION: AtomicU32 = AtomicU32::new(0);
static NEXT_GENERATION: AtomicU32 = AtomicU32::new(1);

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
    /// A finished forward capture kept for recording its backward pass (`finish_for_backward`).
    static PENDING: RefCell<Option<Recorder>> = const { RefCell::new(None) };
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// The capture generation new tensors belong to (0 outside capture).
#[inline]
pub fn generation() -> u32 {
    GENERATION.load(Ordering::Relaxed)
}

fn tensor_key(t: &Tensor) -> usize {
    Arc::as_ptr(&t.0) as usize
}

fn storage_key(t: &Tensor) -> usize {
    Arc::as_ptr(&t.0.storage) as usize
}

/// Tensor and storage addresses hashed with one multiply (SipHash dominated recording).
type AddrMap<V> = HashMap<usize, V, BuildHasherDefault<crate::autograd::PtrHasher>>;

struct Recorder {
    generation: u32,
    /// Tensor identity → slot. `keep` holds every mapped tensor so addresses are never reused.
    slots: AddrMap<usize>,
    keep: Vec<Tensor>,
    /// An op's saved output (a detached alias, see `Tensor::save_output`) → the output it
    /// aliases, whose slot stands for it when a backward reads it. `alias_keep` holds both
    /// (`keep` is in slot order).
    aliases: AddrMap<usize>,
    alias_keep: Vec<Tensor>,
    /// Storage identity → the version the recorded program leaves it at.
    versions: AddrMap<u64>,
    consts: Vec<(usize, Tensor)>,
    instrs: Vec<Instr>,
    n_slots: usize,
    n_inputs: usize,
    failure: Option<String>,
    /// Recording the backward pass of a finished forward capture.
    backward: bool,
    /// Gradients the engine stored into leaves, in order: (instructions recorded before it, the
    /// leaf's metadata, the gradient's slot).
    deliveries: Vec<(usize, Arc<AutogradMeta>, usize)>,
}

/// What a recorded backward pass left: its ops, the constants they introduced, the gradients
/// stored into leaves, and every slot's tensor from the first batch (slot order).
pub(crate) struct BackwardTrace {
    pub instrs: Vec<Instr>,
    pub consts: Vec<(usize, Tensor)>,
    pub deliveries: Vec<(usize, Arc<AutogradMeta>, usize)>,
    pub slot_tensors: Vec<Tensor>,
}

impl Recorder {
    fn fail(&mut self, why: String) {
        if self.failure.is_none() {
            self.failure = Some(why);
        }
    }

    fn new_slot(&mut self, t: &Tensor) -> usize {
        let s = self.n_slots;
        self.n_slots += 1;
        self.slots.insert(tensor_key(t), s);
        self.keep.push(t.clone());
        s
    }

    /// The slot of an input: a traced value, or a tensor that existed before capture (a
    /// parameter, buffer or constant, replayed by reference so in-place updates are seen).
    fn input_slot(&mut self, t: &Tensor, op: &str) -> Option<usize> {
        if let Some(&s) = self.slots.get(&tensor_key(t)) {
            return Some(s);
        }
        if let Some(&s) = self
            .aliases
            .get(&tensor_key(t))
            .and_then(|of| self.slots.get(of))
        {
            return Some(s);
        }
        if t.born() == self.generation && !t.is_wrapped_number() {
            if self.backward {
                self.fail(format!(
                    "the backward of `{op}` uses a tensor of shape {} made by an operation fit cannot replay",
                    crate::shape::fmt_shape(t.shape())
                ));
                return None;
            }
            self.fail(format!(
                "`{op}` uses a tensor of shape {} made inside forward by an operation fit cannot replay",
                crate::shape::fmt_shape(t.shape())
            ));
            return None;
        }
        let s = self.new_slot(t);
        self.consts.push((s, t.clone()));
        Some(s)
    }

    fn check_version(&mut self, t: &Tensor, seen: u64, op: &str) {
        let key = storage_key(t);
        match self.versions.get(&key) {
            Some(&v) if v != seen => self.fail(format!(
                "`{op}` reads a tensor of shape {} that was modified in place by an operation fit cannot replay",
                crate::shape::fmt_shape(t.shape())
            )),
            Some(_) => {}
            None => {
                self.versions.insert(key, seen);
            }
        }
    }
}

/// Starts capturing this thread's ops; `inputs` become the program's inputs, in order.
pub fn begin(inputs: &[Tensor]) -> Result<()> {
    RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        if r.is_some() || generation() != 0 {
            return Err(Error::runtime(
                "fit: a capture is already in progress (captures cannot nest or run on two threads)",
            ));
        }
        let generation = NEXT_GENERATION.fetch_add(1, Ordering::Relaxed).max(1);
        let mut rec = Recorder {
            generation,
            slots: AddrMap::default(),
            keep: Vec::new(),
            aliases: AddrMap::default(),
            alias_keep: Vec::new(),
            versions: AddrMap::default(),
            consts: Vec::new(),
            instrs: Vec::new(),
            n_slots: 0,
            n_inputs: inputs.len(),
            failure: None,
            backward: false,
            deliveries: Vec::new(),
        };
        for t in inputs {
            rec.new_slot(t);
            rec.versions.insert(storage_key(t), t.storage().version());
        }
        *r = Some(rec);
        PENDING.with(|p| p.borrow_mut().take());
        GENERATION.store(generation, Ordering::Relaxed);
        DEPTH.with(|d| d.set(0));
        Ok(())
    })
}

/// Ends the capture. `Err(reason)` when the ops seen cannot be replayed faithfully.
pub fn finish(outputs: &[Tensor]) -> std::result::Result<Program, String> {
    finish_impl(outputs, false)
}

/// Ends the forward capture like `finish`, keeping what the recorder knows so that the
/// backward pass that follows can be recorded too (`resume_backward`).
pub fn finish_for_backward(outputs: &[Tensor]) -> std::result::Result<Program, String> {
    finish_impl(outputs, true)
}

fn finish_impl(outputs: &[Tensor], keep: bool) -> std::result::Result<Program, String> {
    GENERATION.store(0, Ordering::Relaxed);
    PENDING.with(|p| p.borrow_mut().take());
    let rec = RECORDER.with(|r| r.borrow_mut().take());
    let Some(mut rec) = rec else {
        return Err("no capture in progress".into());
    };
    let mut outs = Vec::with_capacity(outputs.len());
    for t in outputs {
        match rec.slots.get(&tensor_key(t)) {
            Some(&s) => outs.push(s),
            None => rec.fail(format!(
                "forward returned a tensor of shape {} that no replayable operation produced",
                crate::shape::fmt_shape(t.shape())
            )),
        }
        rec.check_version(t, t.storage().version(), "the returned value");
    }
    if let Some(why) = rec.failure.take() {
        return Err(why);
    }
    let instrs = std::mem::take(&mut rec.instrs);
    let consts = std::mem::take(&mut rec.consts);
    let mut program = Program::new(rec.n_inputs, rec.n_slots, consts, instrs, outs);
    program.generation = rec.generation;
    if keep {
        PENDING.with(|p| *p.borrow_mut() = Some(rec));
    }
    Ok(program)
}

/// Drops a capture without making a program (forward raised).
pub fn abort() {
    GENERATION.store(0, Ordering::Relaxed);
    RECORDER.with(|r| r.borrow_mut().take());
    PENDING.with(|p| p.borrow_mut().take());
}

/// Resumes the forward capture that made `program`, kept by `finish_for_backward`, to record
/// the backward pass this thread runs next. False when it is not kept (or another capture has
/// started meanwhile).
pub(crate) fn resume_backward(program: &Program) -> bool {
    let Some(mut rec) = PENDING.with(|p| p.borrow_mut().take()) else {
        return false;
    };
    if rec.generation != program.generation {
        return false;
    }
    RECORDER.with(|r| {
        let mut r = r.borrow_mut();
        if r.is_some() || generation() != 0 {
            return false;
        }
        rec.backward = true;
        GENERATION.store(rec.generation, Ordering::Relaxed);
        DEPTH.with(|d| d.set(0));
        *r = Some(rec);
        true
    })
}

/// Ends the backward recording started by `resume_backward`.
pub(crate) fn end_backward() -> std::result::Result<BackwardTrace, String> {
    GENERATION.store(0, Ordering::Relaxed);
    let Some(rec) = RECORDER.with(|r| r.borrow_mut().take()) else {
        return Err("no backward recording in progress".into());
    };
    if let Some(why) = rec.failure {
        return Err(why);
    }
    Ok(BackwardTrace {
        instrs: rec.instrs,
        consts: rec.consts,
        deliveries: rec.deliveries,
        slot_tensors: rec.keep,
    })
}

/// Runs `f` on the recorder when this thread is recording a backward pass.
#[inline]
fn with_backward(f: impl FnOnce(&mut Recorder)) {
    if generation() == 0 {
        return;
    }
    RECORDER.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut().filter(|rec| rec.backward) {
            f(rec);
        }
    });
}

/// Whether this thread is recording a backward pass.
#[inline]
pub fn recording_backward() -> bool {
    let mut on = false;
    with_backward(|_| on = true);
    on
}

/// A scope that is on only while a backward pass is recorded: the engine's own reductions record
/// through it, and ops run under it (the leaf accumulation) are not recorded separately.
#[inline]
pub fn backward_scope() -> Scope {
    if !recording_backward() {
        return Scope {
            on: false,
            pre: SmallVec::new(),
        };
    }
    scope_slow(&[])
}

/// The engine is about to run `node`: its backward replays as its recorded ops only when the
/// node was made by the captured forward, has no hooks, and its backward is audited as a pure
/// composition of recorded ops (see `backward::replayable`).
pub(crate) fn backward_node(node: &Node) {
    with_backward(|rec| {
        if node.born != rec.generation {
            rec.fail(format!(
                "backward reaches `{}`, made outside the captured forward",
                node.name()
            ));
        } else if !node.hooks.lock().is_empty() || !node.retained.lock().is_empty() {
            rec.fail("backward runs hooks or retains gradients".into());
        } else if !super::backward::replayable(node.name()) {
            rec.fail(format!("`{}` has no recorded backward replay", node.name()));
        }
    });
}

/// The engine's implicit root gradient (ones): replay makes a fresh copy.
pub fn backward_constant(t: &Tensor) {
    if recording_backward() {
        constant(t);
    }
}

/// The engine stores `g` into the `.grad` of the leaf `meta` (before any accumulation).
pub(crate) fn backward_leaf(meta: &Arc<AutogradMeta>, g: &Tensor) {
    with_backward(|rec| {
        if !meta.state.lock().hooks.is_empty() {
            rec.fail("backward runs hooks on a leaf".into());
            return;
        }
        match rec.slots.get(&tensor_key(g)) {
            Some(&s) => {
                let at = rec.instrs.len();
                rec.deliveries.push((at, meta.clone(), s));
            }
            None => rec.fail(format!(
                "a gradient of shape {} was made by an operation fit cannot replay",
                crate::shape::fmt_shape(g.shape())
            )),
        }
    });
}

/// Whether this thread is capturing.
pub fn active() -> bool {
    generation() != 0 && RECORDER.with(|r| r.borrow().is_some())
}

/// Refuses the capture in progress on this thread, if any, with `why`.
pub fn refuse(why: impl FnOnce() -> String) {
    if generation() == 0 {
        return;
    }
    RECORDER.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            rec.fail(why());
        }
    });
}

/// A Python-side read of tensor values (`.item()`, `bool(t)`, `.tolist()`, printing): the program
/// would depend on data, so capture stops being valid.
pub fn value_read(what: &str) {
    refuse(|| {
        format!("forward reads tensor values with `{what}`, so its ops depend on the data of each batch")
    });
}

/// Entered by every op that can replay; records at most once, for the outermost op.
pub struct Scope {
    on: bool,
    /// Storages the op writes, with their versions on entry.
    pre: SmallVec<[(usize, u64); 2]>,
}

/// Enters an op that does not write its inputs.
#[inline]
pub fn scope() -> Scope {
    if generation() == 0 {
        return Scope {
            on: false,
            pre: SmallVec::new(),
        };
    }
    scope_slow(&[])
}

/// Enters an op that writes `dst` in place (their versions are checked as of now).
#[inline]
pub fn scope_mut(dst: &[&Tensor]) -> Scope {
    if generation() == 0 {
        return Scope {
            on: false,
            pre: SmallVec::new(),
        };
    }
    scope_slow(dst)
}

#[cold]
fn scope_slow(dst: &[&Tensor]) -> Scope {
    if !RECORDER.with(|r| r.borrow().is_some()) {
        return Scope {
            on: false,
            pre: SmallVec::new(),
        };
    }
    DEPTH.with(|d| d.set(d.get() + 1));
    Scope {
        on: true,
        pre: dst
            .iter()
            .map(|t| (storage_key(t), t.storage().version()))
            .collect(),
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if self.on {
            DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
        }
    }
}

impl Scope {
    /// Whether this op is being captured (build the replay closure only then).
    #[inline]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Records an op with one output whose replay is `f(inputs)`.
    #[inline]
    pub fn record1(
        self,
        name: &'static str,
        inputs: &[&Tensor],
        out: &Tensor,
        f: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
    ) {
        self.record1_into(name, inputs, out, f, None);
    }

    /// `record1` for an op that can also write into a buffer it is given (`into`, see
    /// `program::IntoFn`); `into` is None when this call's dtypes or layout do not allow it.
    #[inline]
    pub fn record1_into(
        self,
        name: &'static str,
        inputs: &[&Tensor],
        out: &Tensor,
        f: impl Fn(&[Tensor]) -> Result<Tensor> + Send + Sync + 'static,
        into: Option<IntoFn>,
    ) {
        if self.on {
            self.push(name, inputs, &[out], ReplayFn::One(Arc::new(f)), into);
        }
    }

    /// Records an op with several outputs.
    #[inline]
    pub fn record(
        self,
        name: &'static str,
        inputs: &[&Tensor],
        outputs: &[&Tensor],
        f: impl Fn(&[Tensor]) -> Result<Vec<Tensor>> + Send + Sync + 'static,
    ) {
        if self.on {
            self.push(
                name,
                inputs,
                outputs,
                ReplayFn::Many(Arc::new(move |i| Ok(f(i)?.into()))),
                None,
            );
        }
    }

    #[cold]
    fn push(
        &self,
        name: &'static str,
        inputs: &[&Tensor],
        outputs: &[&Tensor],
        f: ReplayFn,
        into: Option<IntoFn>,
    ) {
        if DEPTH.with(|d| d.get()) != 1 {
            return;
        }
        RECORDER.with(|r| {
            let mut r = r.borrow_mut();
            let Some(rec) = r.as_mut() else { return };
            if rec.failure.is_some() {
                return;
            }
            if crate::autograd::is_inference_mode_enabled() {
                rec.fail("forward runs ops under inference_mode(), whose tensors replay cannot reproduce".into());
                return;
            }
            let mut ins = SmallVec::new();
            for t in inputs {
                let Some(s) = rec.input_slot(t, name) else {
                    return;
                };
                let key = storage_key(t);
                let seen = self
                    .pre
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|p| p.1)
                    .unwrap_or_else(|| t.storage().version());
                rec.check_version(t, seen, name);
                ins.push(s);
            }
            let mut outs = SmallVec::new();
            for t in outputs {
                // An in-place op returns its input: it gets a fresh slot holding the same tensor.
                outs.push(rec.new_slot(t));
                rec.versions.insert(storage_key(t), t.storage().version());
            }
            // Writes to storages no output shares (e.g. running statistics) move their versions too.
            for &(key, _) in &self.pre {
                if let Some(t) = rec.keep.iter().rev().find(|t| storage_key(t) == key) {
                    let v = t.storage().version();
                    rec.versions.insert(key, v);
                }
            }
            rec.instrs.push(Instr {
                name,
                f,
                inputs: ins,
                outputs: outs,
                grad: crate::autograd::is_grad_enabled(),
                mutates: !self.pre.is_empty(),
                into,
            });
        });
    }
}

/// An op's inputs when some are optional: the present ones in order, and a bit mask of which.
pub fn with_optional<'a>(
    fixed: &[&'a Tensor],
    optional: &[Option<&'a Tensor>],
) -> (SmallVec<[&'a Tensor; 6]>, u32) {
    let mut v: SmallVec<[&Tensor; 6]> = fixed.iter().copied().collect();
    let mut mask = 0u32;
    for (k, t) in optional.iter().enumerate() {
        if let Some(t) = t {
            v.push(t);
            mask |= 1 << k;
        }
    }
    (v, mask)
}

/// Optional input `k` during replay, from inputs laid out by `with_optional` (`n_fixed` first).
pub fn optional_at(i: &[Tensor], n_fixed: usize, mask: u32, k: usize) -> Option<&Tensor> {
    if mask & (1 << k) == 0 {
        return None;
    }
    i.get(n_fixed + (mask & ((1u32 << k) - 1)).count_ones() as usize)
}

/// Records a freshly made constant tensor (`zeros`, `ones`, `full`, `tensor(data)` inside
/// forward): replay makes a new tensor with the values it had when made.
pub fn constant(t: &Tensor) {
    let scope = scope();
    if scope.on() {
        let snapshot = t.deep_clone();
        scope.record1("constant", &[], t, move |_| Ok(snapshot.deep_clone()));
    }
}

/// Notes that `alias` (same storage and layout, no autograd) stands for `of` when a recorded
/// backward reads it: an op's saved output (`Tensor::save_output`), made before `of` is recorded.
pub fn saved_alias(of: &Tensor, alias: &Tensor) {
    if generation() == 0 {
        return;
    }
    RECORDER.with(|r| {
        if let Some(rec) = r.borrow_mut().as_mut() {
            rec.aliases.insert(tensor_key(alias), tensor_key(of));
            rec.alias_keep.push(of.clone());
            rec.alias_keep.push(alias.clone());
        }
    });
}

/// Records `out = f(x)` for ops done in the binding layer (`detach`, `.data`).
pub fn derived(name: &'static str, x: &Tensor, out: &Tensor, f: fn(&Tensor) -> Tensor) {
    let scope = scope();
    if scope.on() {
        scope.record1(name, &[x], out, move |i| Ok(f(&i[0])));
    }
}
