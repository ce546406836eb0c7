//! The backward pass: explicit-stack graph walk, dependency counts, broadcast reduction and leaf accumulation.

use super::{AgState, AutogradMeta, Edge, GradModeGuard, Node};
use crate::error::{Error, Result};
use crate::graph::capture;
use crate::ops;
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes node addresses with one multiply: SipHash dominated small backward passes.
#[derive(Default)]
pub(crate) struct PtrHasher(u64);

impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ b as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, v: usize) {
        self.0 = (v as u64 ^ (v as u64 >> 29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type PtrMap<V> = HashMap<Key, V, BuildHasherDefault<PtrHasher>>;
use std::sync::Arc;

const SECOND_BACKWARD: &str = "Trying to backward through the graph a second time (or directly access saved tensors \
after they have already been freed). Saved intermediate values of the graph are freed when you call .backward() or \
autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or if you need to \
access saved tensors after calling backward.";

type Key = *const Node;

/// Where `grad()` captures gradients instead of accumulating into `.grad`.
enum Target {
    Leaf(*const AutogradMeta),
    Output(Key, usize),
}

struct Run {
    retain_graph: bool,
    create_graph: bool,
    /// Some: only these receive gradients (autograd.grad, or backward(inputs=...)).
    targets: Option<Vec<Target>>,
    /// autograd.grad returns gradients instead of accumulating them.
    capture: bool,
    captured: Vec<Option<Tensor>>,
}

/// `Tensor.backward` / `torch.autograd.backward`: accumulates into leaves' `.grad`.
pub fn backward(
    roots: &[Tensor],
    grads: &[Option<Tensor>],
    retain_graph: bool,
    create_graph: bool,
    inputs: Option<&[Tensor]>,
) -> Result<()> {
    let targets = inputs.map(make_targets).transpose()?;
    let n = inputs.map_or(0, |i| i.len());
    let mut run = Run {
        retain_graph,
        create_graph,
        targets,
        capture: false,
        captured: vec![None; n],
    };
    execute(roots, grads, &mut run)
}

/// `torch.autograd.grad`: returns d(roots)/d(inputs) without touching `.grad`.
pub fn grad(
    roots: &[Tensor],
    grads: &[Option<Tensor>],
    inputs: &[Tensor],
    retain_graph: bool,
    create_graph: bool,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    for t in inputs {
        if !t.requires_grad() {
            return Err(Error::runtime(
                "One of the differentiated Tensors does not require grad",
            ));
        }
    }
    let targets = Some(make_targets(inputs)?);
    let mut run = Run {
        retain_graph,
        create_graph,
        targets,
        capture: true,
        captured: vec![None; inputs.len()],
    };
    execute(roots, grads, &mut run)?;
    if !allow_unused && run.captured.iter().any(|g| g.is_none()) {
        return Err(Error::runtime(
            "One of the differentiated Tensors appears to not have been used in the graph. Set allow_unused=True \
             if this is the desired behavior.",
        ));
    }
    Ok(run.captured)
}

fn make_targets(inputs: &[Tensor]) -> Result<Vec<Target>> {
    inputs
        .iter()
        .map(|t| {
            let meta = t.autograd_meta_or_init();
            let st = meta.state.lock();
            Ok(match &st.grad_fn {
                Some(n) => Target::Output(Arc::as_ptr(n), st.output_nr),
                None => Target::Leaf(Arc::as_ptr(meta)),
            })
        })
        .collect()
}

impl Run {
    fn target_of_leaf(&self, meta: &Arc<AutogradMeta>) -> Option<Option<usize>> {
        let t = self.targets.as_ref()?;
        let p = Arc::as_ptr(meta);
        Some(
            t.iter()
                .position(|x| matches!(x, Target::Leaf(q) if *q == p)),
        )
    }
    fn target_of_output(&self, node: Key, nr: usize) -> Option<usize> {
        self.targets
            .as_ref()?
            .iter()
            .position(|x| matches!(x, Target::Output(k, i) if *k == node && *i == nr))
    }

    /// Delivers a gradient to a leaf: capture, or run hooks and accumulate into `.grad`.
    fn deliver_leaf(&mut self, meta: &Arc<AutogradMeta>, g: Tensor) -> Result<()> {
        match self.target_of_leaf(meta) {
            Some(None) => return Ok(()),
            Some(Some(i)) if self.capture => {
                self.captured[i] = Some(accumulate(self.captured[i].take(), g)?);
                return Ok(());
            }
            _ => {}
        }
        if !meta
            .requires_grad
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Ok(());
        }
        capture::backward_leaf(meta, &g);
        // fit's recorded backward replays this delivery itself: the accumulation is not an op of it
        let _quiet = capture::backward_scope();
        let mut g = g;
        let hooks = std::mem::take(&mut meta.state.lock().hooks);
        for h in &hooks {
            if let Some(r) = h(&g)? {
                g = r;
            }
        }
        let mut st = meta.state.lock();
        let mut new_hooks = hooks;
        new_hooks.append(&mut st.hooks);
        st.hooks = new_hooks;
        store_leaf_grad(&mut st, g, self.create_graph)
    }
}

/// A leaf's gradient arriving: the first is stored (copied if shared), later ones are added in.
/// `fit`'s recorded backward delivers its gradients through this too.
pub(crate) fn store_leaf_grad(st: &mut AgState, g: Tensor, create_graph: bool) -> Result<()> {
    st.grad = Some(match st.grad.take() {
        None => own(g),
        Some(old) if create_graph => ops::elementwise::add(&old, &g)?,
        Some(old) => {
            ops::elementwise::add_inplace(&old, &g)?;
            old
        }
    });
    Ok(())
}

/// A gradient stored in `.grad` must not alias anything else (two leaves of one add share `g`).
fn own(g: Tensor) -> Tensor {
    if Arc::strong_count(&g.0) == 1 && Arc::strong_count(g.storage()) == 1 && g.is_contiguous() {
        g
    } else {
        g.deep_clone()
    }
}

thread_local! {
    /// The node whose backward is running on this thread, while a backward builds a graph.
    static RUNNING: std::cell::RefCell<Option<Arc<Node>>> = const { std::cell::RefCell::new(None) };
}

/// Marks a node as running (restoring the previous one on drop: backwards can nest in hooks).
struct Running(Option<Arc<Node>>);

impl Running {
    fn enter(node: &Arc<Node>) -> Running {
        Running(RUNNING.with(|r| r.replace(Some(node.clone()))))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let prev = self.0.take();
        RUNNING.with(|r| *r.borrow_mut() = prev);
    }
}

/// The node whose backward is running on this thread, inside a `create_graph` backward.
pub(crate) fn running_node() -> Option<Arc<Node>> {
    RUNNING.with(|r| r.borrow().clone())
}

fn accumulate(acc: Option<Tensor>, g: Tensor) -> Result<Tensor> {
    match acc {
        None => Ok(g),
        Some(a) => ops::elementwise::add(&a, &g),
    }
}

fn execute(roots: &[Tensor], grads: &[Option<Tensor>], run: &mut Run) -> Result<()> {
    let _mode = GradModeGuard::new(run.create_graph);
    // Root gradients, checked as torch checks them.
    let mut root_grads = Vec::with_capacity(roots.len());
    for (i, r) in roots.iter().enumerate() {
        if !r.requires_grad() {
            return Err(Error::runtime(format!(
                "element {i} of tensors does not require grad and does not have a grad_fn"
            )));
        }
        let g = match grads.get(i).cloned().flatten() {
            Some(g) => {
                if g.shape() != r.shape() {
                    return Err(Error::runtime(format!(
                        "Mismatch in shape: grad_output[{i}] has a shape of {} and output[{i}] has a shape of {}.",
                        crate::shape::fmt_shape(g.shape()),
                        crate::shape::fmt_shape(r.shape())
                    )));
                }
                g
            }
            None => {
                if r.numel() != 1 {
                    return Err(Error::runtime(
                        "grad can be implicitly created only for scalar outputs",
                    ));
                }
                let g = ops::creation::ones_like(r);
                capture::backward_constant(&g);
                g
            }
        };
        root_grads.push(g);
    }

    // Discover the graph and count, for each node, the edges that lead into it.
    let mut deps: PtrMap<usize> = PtrMap::default();
    let mut nodes: PtrMap<Arc<Node>> = PtrMap::default();
    let mut stack: Vec<Arc<Node>> = Vec::new();
    for r in roots {
        if let Some(n) = r.grad_fn() {
            if nodes.insert(Arc::as_ptr(&n), n.clone()).is_none() {
                stack.push(n);
            }
        }
    }
    while let Some(n) = stack.pop() {
        for e in n.next.iter().flatten() {
            if let Edge::Node(m, _) = e {
                let k = Arc::as_ptr(m);
                *deps.entry(k).or_insert(0) += 1;
                if nodes.insert(k, m.clone()).is_none() {
                    stack.push(m.clone());
                }
            }
        }
    }

    let mut buffers: PtrMap<Vec<Option<Tensor>>> = PtrMap::default();
    for (r, g) in roots.iter().zip(root_grads) {
        let meta = r.autograd_meta().expect("requires grad").clone();
        let (node, nr) = {
            let st = meta.state.lock();
            (st.grad_fn.clone(), st.output_nr)
        };
        match node {
            None => run.deliver_leaf(&meta, g)?,
            Some(n) => {
                let buf = buffers
                    .entry(Arc::as_ptr(&n))
                    .or_insert_with(|| vec![None; n.num_outputs]);
                buf[nr] = Some(accumulate(buf[nr].take(), g)?);
            }
        }
    }

    let mut ready: Vec<Arc<Node>> = nodes
        .values()
        .filter(|n| !deps.contains_key(&Arc::as_ptr(n)))
        .cloned()
        .collect();
    while let Some(node) = ready.pop() {
        capture::backward_node(&node);
        let key = Arc::as_ptr(&node);
        let mut gs = buffers
            .remove(&key)
            .unwrap_or_else(|| vec![None; node.num_outputs]);
        for (i, h) in node.hooks.lock().iter() {
            if let Some(g) = &gs[*i] {
                if let Some(r) = h(g)? {
                    gs[*i] = Some(r);
                }
            }
        }
        for (i, m) in node.retained.lock().iter() {
            if let (Some(m), Some(g)) = (m.upgrade(), &gs[*i]) {
                let mut st = m.state.lock();
                st.grad = Some(match st.grad.take() {
                    None => g.deep_clone(),
                    Some(old) => ops::elementwise::add(&old, g)?,
                });
            }
        }
        for (i, g) in gs.iter().enumerate() {
            if let (Some(t), Some(g)) = (run.target_of_output(key, i), g) {
                if run.capture {
                    run.captured[t] = Some(accumulate(run.captured[t].take(), g.clone())?);
                }
            }
        }
        let mut in_grads = if gs.iter().all(|g| g.is_none()) {
            vec![None; node.next.len()]
        } else {
            // Without retain_graph the backward is taken out, freeing its saved tensors afterwards.
            let mut slot = node.func.lock();
            // saved outputs rejoin this node when the backward builds a graph (SavedOutput::get)
            let _running = run.create_graph.then(|| Running::enter(&node));
            crate::autograd::take_composed();
            let (mut res, once) = if run.retain_graph {
                match slot.as_ref() {
                    Some(f) => (f.backward(&gs)?, f.once_differentiable()),
                    None => return Err(Error::runtime(SECOND_BACKWARD)),
                }
            } else {
                let f = slot.take().ok_or_else(|| Error::runtime(SECOND_BACKWARD))?;
                drop(slot);
                (f.backward(&gs)?, f.once_differentiable())
            };
            if once && run.create_graph && !crate::autograd::take_composed() {
                crate::autograd::delay_errors(&node, &gs, &mut res);
            }
            res
        };
        // Release this node's incoming grads so a pass-through gradient is uniquely owned below
        // (and can become a leaf's .grad without a copy).
        drop(gs);
        for (i, edge) in node.next.iter().enumerate() {
            let Some(edge) = edge else { continue };
            let g = match in_grads.get_mut(i).and_then(Option::take) {
                Some(g) => Some(reduce_to_input(g, &node.input_meta[i])?),
                None => None,
            };
            match edge {
                Edge::Node(m, nr) => {
                    let k = Arc::as_ptr(m);
                    if let Some(g) = g {
                        let buf = buffers
                            .entry(k)
                            .or_insert_with(|| vec![None; m.num_outputs]);
                        buf[*nr] = Some(accumulate(buf[*nr].take(), g)?);
                    }
                    let d = deps.get_mut(&k).expect("counted");
                    *d -= 1;
                    if *d == 0 {
                        ready.push(m.clone());
                    }
                }
                Edge::Leaf(meta) => {
                    if let Some(g) = g {
                        run.deliver_leaf(meta, g)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// Undo broadcasting (sum over expanded dims) and match the input's dtype.
/// (Recorded as ops of the backward pass when `fit` records one.)
fn reduce_to_input(g: Tensor, meta: &(crate::shape::Dims, crate::DType)) -> Result<Tensor> {
    let g = if g.shape() != meta.0.as_slice() {
        let scope = capture::backward_scope();
        let r = ops::reduce::sum_to(&g, &meta.0)?;
        if scope.on() {
            let shape = meta.0.clone();
            // the buffer form: the same float sum, straight into the target shape
            let into: Option<crate::graph::program::IntoFn> =
                (g.dtype().is_float() && r.dtype() == g.dtype()).then(|| {
                    let mask = ops::reduce::sum_to_mask(g.shape(), &shape);
                    Arc::new(move |i: &[&Tensor], o: &Tensor| {
                        ops::reduce::float_sum_to(i[0], &mask, o);
                        Ok(())
                    }) as _
                });
            scope.record1_into(
                "sum_to",
                &[&g],
                &r,
                move |i| ops::reduce::sum_to(&i[0], &shape),
                into,
            );
        }
        r
    } else {
        g
    };
    Ok(if g.dtype() != meta.1 {
        let scope = capture::backward_scope();
        // under create_graph the cast joins the graph (a second backward casts back)
        let r = if g.requires_grad() && crate::autograd::is_grad_enabled() {
            ops::copy::to_dtype(&g, meta.1, false)?
        } else {
            g.to_dtype(meta.1)
        };
        if scope.on() {
            let dt = meta.1;
            scope.record1("to_dtype", &[&g], &r, move |i| Ok(i[0].to_dtype(dt)));
        }
        r
    } else {
        g
    })
}
