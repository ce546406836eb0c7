//! Capture: records every op this thread runs between `begin` and `finish` into a `Program`.
//!
//! Ops call `scope()` on entry and `Scope::record*` with a replay closure on success. Only the
//! outermost op records (an op built from other ops is one instruction). Capture is refused, with
//! a reason, when an op's input was made by something that cannot replay (an op without a hook),
//! when a value is read on the Python side (`.item()`, `bool(t)`), or when a tensor the program
//! depends on was written in place by an op that did not record.

use super::program::{Instr, Program, ReplayFn};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The generation of the capture in progress (0: none). Tensors remember it when created.
static GENERATION: AtomicU32 = AtomicU32::new(0);
static NEXT_GENERATION: AtomicU32 = AtomicU32::new(1);

thread_local! {
    static RECORDER: RefCell<Option<Recorder>> = const { RefCell::new(None) };
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

struct Recorder {
    generation: u32,
    /// Tensor identity → slot. `keep` holds every mapped tensor so addresses are never reused.
    slots: HashMap<usize, usize>,
    keep: Vec<Tensor>,
    /// Storage identity → the version the recorded program leaves it at.
    versions: HashMap<usize, u64>,
    consts: Vec<(usize, Tensor)>,
    instrs: Vec<Instr>,
    n_slots: usize,
    n_inputs: usize,
    failure: Option<String>,
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
        if t.born() == self.generation && !t.is_wrapped_number() {
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
            slots: HashMap::new(),
            keep: Vec::new(),
            versions: HashMap::new(),
            consts: Vec::new(),
            instrs: Vec::new(),
            n_slots: 0,
            n_inputs: inputs.len(),
            failure: None,
        };
        for t in inputs {
            rec.new_slot(t);
            rec.versions.insert(storage_key(t), t.storage().version());
        }
        *r = Some(rec);
        GENERATION.store(generation, Ordering::Relaxed);
        DEPTH.with(|d| d.set(0));
        Ok(())
    })
}

/// Ends the capture. `Err(reason)` when the ops seen cannot be replayed faithfully.
pub fn finish(outputs: &[Tensor]) -> std::result::Result<Program, String> {
    GENERATION.store(0, Ordering::Relaxed);
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
    if let Some(why) = rec.failure {
        return Err(why);
    }
    Ok(Program::new(
        rec.n_inputs,
        rec.n_slots,
        rec.consts,
        rec.instrs,
        outs,
    ))
}

/// Drops a capture without making a program (forward raised).
pub fn abort() {
    GENERATION.store(0, Ordering::Relaxed);
    RECORDER.with(|r| r.borrow_mut().take());
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
        if self.on {
            self.push(
                name,
                inputs,
                &[out],
                Arc::new(move |i| Ok(smallvec::smallvec![f(i)?])),
            );
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
            self.push(name, inputs, outputs, Arc::new(move |i| Ok(f(i)?.into())));
        }
    }

    #[cold]
    fn push(&self, name: &'static str, inputs: &[&Tensor], outputs: &[&Tensor], f: ReplayFn) {
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

/// Records `out = f(x)` for ops done in the binding layer (`detach`, `.data`).
pub fn derived(name: &'static str, x: &Tensor, out: &Tensor, f: fn(&Tensor) -> Tensor) {
    let scope = scope();
    if scope.on() {
        scope.record1(name, &[x], out, move |i| Ok(f(&i[0])));
    }
}
