//! Autograd: per-tensor metadata, graph nodes, grad modes, and `record` — the one place ops enter the graph.

mod engine;
mod mode;

pub(crate) use engine::store_leaf_grad;
pub(crate) use engine::PtrHasher;
pub use engine::{backward, grad};
pub use mode::{
    is_grad_enabled, is_inference_mode_enabled, set_grad_enabled, set_inference_mode, GradModeGuard,
};

use crate::error::{Error, Result};
use crate::shape::Dims;
use crate::tensor::Tensor;
use crate::DType;
use parking_lot::Mutex;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// A hook on a tensor's gradient: may return a replacement gradient.
pub type GradHook = Box<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// What autograd knows about one tensor; shared by `x` and `x.data = ...` rebinds of it.
#[derive(Default)]
pub struct AutogradMeta {
    pub requires_grad: AtomicBool,
    pub state: Mutex<AgState>,
}

#[derive(Default)]
pub struct AgState {
    pub grad: Option<Tensor>,
    /// The node that produced this tensor (non-leaf) and which of its outputs it is.
    pub grad_fn: Option<Arc<Node>>,
    pub output_nr: usize,
    pub retains_grad: bool,
    /// Hooks on a leaf's gradient (non-leaf hooks live on the producing node).
    pub hooks: Vec<GradHook>,
}

/// The backward half of an op, holding what it saved in forward.
pub trait Backward: Send + Sync {
    /// torch's node name without the `Backward0` suffix handling, e.g. "AddBackward0".
    fn name(&self) -> &'static str;
    /// Gradients for each input given gradients for each output (None = zero); shapes may be
    /// broadcast — the engine sums each down to its input's shape.
    fn backward(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>>;
    /// True when `backward` may compute with a fused kernel that builds no graph even under
    /// `create_graph`: the engine then gives each graph-less gradient a `DelayedError` node, so
    /// differentiating it again raises instead of silently treating it as a constant.
    fn once_differentiable(&self) -> bool {
        false
    }
}

/// Where an input's gradient goes.
pub enum Edge {
    Node(Arc<Node>, usize),
    Leaf(Arc<AutogradMeta>),
}

pub struct Node {
    /// Taken (and its saved tensors freed) after a backward without retain_graph.
    pub(crate) func: Mutex<Option<Box<dyn Backward>>>,
    pub(crate) name: &'static str,
    pub(crate) next: SmallVec<[Option<Edge>; 2]>,
    /// Shape and dtype of each input, to reduce broadcast gradients.
    pub(crate) input_meta: SmallVec<[(Dims, DType); 2]>,
    pub(crate) num_outputs: usize,
    /// Per output: metas of tensors that asked retain_grad, and hooks registered on them.
    pub(crate) retained: Mutex<Vec<(usize, std::sync::Weak<AutogradMeta>)>>,
    pub(crate) hooks: Mutex<Vec<(usize, GradHook)>>,
    /// The `fit` capture generation the node was made in (0 outside capture), as for tensors.
    pub(crate) born: u32,
}

/// Graph nodes alive in this process: a graph dropped without a backward must free every node,
/// and tests count them to catch reference cycles (which neither Rust nor Python's GC would free).
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);

/// The number of graph nodes alive in this process (for leak tests).
pub fn live_nodes() -> usize {
    LIVE_NODES.load(Ordering::Relaxed)
}

impl Drop for Node {
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Node {
    pub fn name(&self) -> &'static str {
        self.name
    }
    /// `grad_fn.next_functions`: (node or leaf, output index) for each input.
    pub fn next_functions(&self) -> &[Option<Edge>] {
        &self.next
    }
}

impl Tensor {
    pub fn requires_grad(&self) -> bool {
        self.autograd_meta()
            .is_some_and(|m| m.requires_grad.load(Ordering::Relaxed))
    }
    pub fn grad_fn(&self) -> Option<Arc<Node>> {
        self.autograd_meta()
            .and_then(|m| m.state.lock().grad_fn.clone())
    }
    pub fn is_leaf(&self) -> bool {
        self.grad_fn().is_none()
    }
    pub fn grad(&self) -> Option<Tensor> {
        self.autograd_meta()
            .and_then(|m| m.state.lock().grad.clone())
    }
    pub fn set_grad(&self, g: Option<Tensor>) -> Result<()> {
        if let Some(g) = &g {
            if g.shape() != self.shape() {
                return Err(Error::runtime(format!(
                    "assigned grad has data of a different size: expected {}, got {}",
                    crate::shape::fmt_shape(self.shape()),
                    crate::shape::fmt_shape(g.shape())
                )));
            }
        }
        if g.is_none() && self.autograd_meta().is_none() {
            return Ok(());
        }
        self.autograd_meta_or_init().state.lock().grad = g;
        Ok(())
    }
    /// `requires_grad_()`: only leaves can change it, and only floating tensors can require grad.
    pub fn set_requires_grad(&self, on: bool) -> Result<()> {
        if !self.is_leaf() {
            if on {
                return Ok(());
            }
            return Err(Error::runtime(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed \
                 variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().",
            ));
        }
        if on && !self.dtype().is_float() {
            return Err(Error::runtime(
                "only Tensors of floating point dtype can require gradients",
            ));
        }
        if !on && self.autograd_meta().is_none() {
            return Ok(());
        }
        self.autograd_meta_or_init()
            .requires_grad
            .store(on, Ordering::Relaxed);
        Ok(())
    }
    pub fn retains_grad(&self) -> bool {
        self.autograd_meta()
            .is_some_and(|m| m.state.lock().retains_grad)
    }
    /// `retain_grad()`: a non-leaf keeps its `.grad` after backward.
    pub fn retain_grad(&self) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::runtime(
                "can't retain_grad on Tensor that has requires_grad=False",
            ));
        }
        let meta = self.autograd_meta_or_init();
        let mut st = meta.state.lock();
        if st.grad_fn.is_none() || st.retains_grad {
            return Ok(());
        }
        st.retains_grad = true;
        let node = st.grad_fn.clone().expect("checked");
        node.retained
            .lock()
            .push((st.output_nr, Arc::downgrade(meta)));
        Ok(())
    }
    /// `register_hook(fn)`: on a leaf it runs before accumulation; on a non-leaf when its grad is ready.
    pub fn register_hook(&self, hook: GradHook) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::runtime(
                "cannot register a hook on a tensor that doesn't require gradient",
            ));
        }
        let meta = self.autograd_meta_or_init();
        let mut st = meta.state.lock();
        match st.grad_fn.clone() {
            Some(node) => node.hooks.lock().push((st.output_nr, hook)),
            None => st.hooks.push(hook),
        }
        Ok(())
    }
    /// A tensor saved for backward, with the storage version it had when saved.
    pub fn save(&self) -> SavedTensor {
        SavedTensor {
            version: self.storage().version(),
            t: self.clone(),
        }
    }
}

/// A tensor kept for backward; unpacking refuses it if it was modified in place since.
///
/// Only for a node's *inputs* (or tensors outside the graph): a node's own output must be
/// saved with `save_output`, since the output holds the node as its grad_fn.
pub struct SavedTensor {
    t: Tensor,
    version: u64,
}

impl SavedTensor {
    pub fn get(&self, _node: &'static str) -> Result<&Tensor> {
        let now = self.t.storage().version();
        if now != self.version {
            // torch names the modified tensor's own producer, without the "BackwardN" suffix.
            let producer = match self.t.autograd_meta().map(|m| {
                let st = m.state.lock();
                (st.grad_fn.as_ref().map(|n| n.name()), st.output_nr)
            }) {
                Some((Some(name), nr)) => {
                    let short = name
                        .trim_end_matches(|c: char| c.is_ascii_digit())
                        .trim_end_matches("Backward");
                    format!(", which is output {nr} of {short}")
                }
                _ => String::new(),
            };
            return Err(modified_error(&self.t, &producer, now, self.version));
        }
        Ok(&self.t)
    }
}

impl Tensor {
    /// Saves this tensor, output `nr` of the op about to be recorded, for that op's backward.
    ///
    /// It keeps the data without the autograd metadata: a saved output that held its own
    /// grad_fn would be a reference cycle (node → backward → output → node), so the node, the
    /// output and its storage would never be freed when the graph is dropped without a backward
    /// (an evaluation in grad mode leaked every activation). As torch does, the graph link is
    /// rebuilt on unpacking when a backward builds a graph of its own (`create_graph`).
    pub fn save_output(&self, nr: usize) -> SavedOutput {
        // an alias, not a view: a view would hold the output itself as its base
        let t = self.alias();
        crate::graph::capture::saved_alias(self, &t);
        SavedOutput {
            version: self.storage().version(),
            t,
            nr,
        }
    }
}

/// A node's own output kept for its backward (see `Tensor::save_output`).
pub struct SavedOutput {
    /// The output's data, without autograd metadata.
    t: Tensor,
    version: u64,
    nr: usize,
}

impl SavedOutput {
    /// The saved output. Inside a backward that builds a graph (`create_graph`), it is rejoined
    /// to the node running that backward, so gradients of the gradient flow through it.
    pub fn get(&self, node: &'static str) -> Result<Tensor> {
        let now = self.t.storage().version();
        if now != self.version {
            // torch names the node that saved it, without the "BackwardN" suffix.
            let short = node
                .trim_end_matches(|c: char| c.is_ascii_digit())
                .trim_end_matches("Backward");
            return Err(modified_error(
                &self.t,
                &format!(", which is output {} of {short}", self.nr),
                now,
                self.version,
            ));
        }
        if is_grad_enabled() {
            if let Some(n) = engine::running_node() {
                let t = self.t.alias();
                let meta = t.autograd_meta_or_init();
                meta.requires_grad.store(true, Ordering::Relaxed);
                let mut st = meta.state.lock();
                st.grad_fn = Some(n);
                st.output_nr = self.nr;
                drop(st);
                return Ok(t);
            }
        }
        Ok(self.t.clone())
    }
}

/// torch's error for a saved tensor changed in place between forward and backward.
fn modified_error(t: &Tensor, producer: &str, now: u64, saved: u64) -> Error {
    Error::runtime(format!(
        "one of the variables needed for gradient computation has been modified by an inplace operation: \
         [torch.{}Tensor {}]{}, is at version {}; expected version {} instead. Hint: the tensor was \
         changed in place after an operation saved it for backward; use an out-of-place operation \
         (e.g. y = y + 1 instead of y += 1).",
        t.dtype().scalar_name(),
        crate::shape::fmt_shape(t.shape()),
        producer,
        now,
        saved
    ))
}

/// Whether an op on `inputs` must be recorded: grad mode on and some input requires grad.
#[inline]
pub fn needs_grad(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.requires_grad())
}

/// Attaches `func` as the grad_fn of `outputs`, with an edge to each input. The single entry
/// point ops use to join the graph (and where a capture mode can observe every op).
pub fn record(outputs: &[&Tensor], inputs: &[&Tensor], func: impl Backward + 'static) {
    let next = inputs
        .iter()
        .map(|t| {
            if !t.requires_grad() {
                return None;
            }
            let meta = t.autograd_meta().expect("requires_grad implies meta");
            let st = meta.state.lock();
            Some(match &st.grad_fn {
                Some(n) => Edge::Node(n.clone(), st.output_nr),
                None => Edge::Leaf(meta.clone()),
            })
        })
        .collect();
    LIVE_NODES.fetch_add(1, Ordering::Relaxed);
    let node = Arc::new(Node {
        name: func.name(),
        func: Mutex::new(Some(Box::new(func))),
        next,
        input_meta: inputs
            .iter()
            .map(|t| (Dims::from_slice(t.shape()), t.dtype()))
            .collect(),
        num_outputs: outputs.len(),
        retained: Mutex::new(Vec::new()),
        hooks: Mutex::new(Vec::new()),
        born: crate::graph::capture::generation(),
    });
    for (i, out) in outputs.iter().enumerate() {
        let meta = out.autograd_meta_or_init();
        meta.requires_grad.store(true, Ordering::Relaxed);
        let mut st = meta.state.lock();
        st.grad_fn = Some(node.clone());
        st.output_nr = i;
    }
}

thread_local! {
    /// Set by a fused backward that took its composed path (see `composed`).
    static COMPOSED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Called by a once-differentiable backward that computed its gradients from recorded ops this
/// time (under `create_graph`): they are exact to differentiate, so the engine leaves them alone,
/// including any that are rightly constant (a bias gradient when the incoming one is).
pub fn composed() {
    COMPOSED.with(|c| c.set(true));
}

/// Reads and clears the flag `composed` sets (the engine, around each backward call).
pub(crate) fn take_composed() -> bool {
    COMPOSED.with(|c| c.replace(false))
}

/// torch's `DelayedError`: the grad_fn of a gradient that a fused backward computed without a
/// graph. Reaching it in a later backward raises; until then the gradient is an ordinary value.
struct DelayedError {
    err: Error,
}

impl Backward for DelayedError {
    fn name(&self) -> &'static str {
        "DelayedError"
    }
    fn backward(&self, _grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Err(self.err.clone())
    }
}

/// The edge to `t`'s producer (or leaf) and its metadata, for a tensor that requires grad.
fn edge_to(t: &Tensor) -> (Option<Edge>, (Dims, DType)) {
    let meta = t.autograd_meta().expect("requires_grad implies meta");
    let st = meta.state.lock();
    let e = match &st.grad_fn {
        Some(n) => Edge::Node(n.clone(), st.output_nr),
        None => Edge::Leaf(meta.clone()),
    };
    (Some(e), (Dims::from_slice(t.shape()), t.dtype()))
}

/// Gives every graph-less float tensor in `grads` a `DelayedError` node with edges `next`.
fn attach_delayed(
    next: SmallVec<[Option<Edge>; 2]>,
    input_meta: SmallVec<[(Dims, DType); 2]>,
    err: Error,
    grads: &mut [Option<Tensor>],
) {
    LIVE_NODES.fetch_add(1, Ordering::Relaxed);
    let node = Arc::new(Node {
        name: "DelayedError",
        func: Mutex::new(Some(Box::new(DelayedError { err }))),
        next,
        input_meta,
        num_outputs: grads.len(),
        retained: Mutex::new(Vec::new()),
        hooks: Mutex::new(Vec::new()),
        born: crate::graph::capture::generation(),
    });
    for (i, slot) in grads.iter_mut().enumerate() {
        let Some(g) = slot else { continue };
        if g.requires_grad() || !g.dtype().is_float() {
            continue;
        }
        // an alias: the gradient's handle may be shared (a pass-through of the incoming one)
        let t = g.alias();
        let meta = t.autograd_meta_or_init();
        meta.requires_grad.store(true, Ordering::Relaxed);
        let mut st = meta.state.lock();
        st.grad_fn = Some(node.clone());
        st.output_nr = i;
        drop(st);
        *slot = Some(t);
    }
}

fn any_graphless(grads: &[Option<Tensor>]) -> bool {
    grads
        .iter()
        .flatten()
        .any(|g| !g.requires_grad() && g.dtype().is_float())
}

/// After a fused (once-differentiable) backward of `node` ran under `create_graph`: gives each
/// graph-less gradient a `DelayedError` node whose edges are the incoming gradients that require
/// grad and `node`'s own inputs, so a second backward through it raises `NotImplementedError`
/// instead of treating the gradient as a constant (which silently dropped a term).
pub(crate) fn delay_errors(node: &Node, incoming: &[Option<Tensor>], grads: &mut [Option<Tensor>]) {
    if !any_graphless(grads) {
        return;
    }
    let (mut next, mut input_meta) = (SmallVec::new(), SmallVec::new());
    for g in incoming.iter().flatten().filter(|g| g.requires_grad()) {
        let (e, m) = edge_to(g);
        next.push(e);
        input_meta.push(m);
    }
    for (e, m) in node.next.iter().zip(&node.input_meta) {
        if let Some(e) = e {
            next.push(Some(match e {
                Edge::Node(n, nr) => Edge::Node(n.clone(), *nr),
                Edge::Leaf(meta) => Edge::Leaf(meta.clone()),
            }));
            input_meta.push(m.clone());
        }
    }
    let err = Error::not_implemented(format!(
        "the derivative for '{}' is not implemented: ferrotorch computes that gradient with a fused \
         kernel, so it is correct but cannot be differentiated again (a double backward through \
         create_graph=True). Compose the op from elementwise ops to differentiate it twice.",
        node.name
    ));
    attach_delayed(next, input_meta, err, grads);
}

/// torch's `DelayedError(msg)` applied to `outputs` with edges to the `inputs` that require grad
/// (`@once_differentiable`): a later backward through the outputs raises `err`.
pub fn delayed_error(inputs: &[&Tensor], outputs: &mut [Option<Tensor>], err: Error) {
    if !any_graphless(outputs) {
        return;
    }
    let (mut next, mut input_meta) = (SmallVec::new(), SmallVec::new());
    for t in inputs.iter().filter(|t| t.requires_grad()) {
        let (e, m) = edge_to(t);
        next.push(e);
        input_meta.push(m);
    }
    if next.is_empty() {
        return;
    }
    attach_delayed(next, input_meta, err, outputs);
}
