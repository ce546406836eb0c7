//! Bindings for `fit`: capture a forward pass into a program, and replay training steps with the GIL released.

use super::tensor::PyTensor;
use crate::graph::capture;
use crate::graph::train::{self, BatchStats, Batches, TrainStep};
use crate::graph::Program;
use crate::optim::plan::{GroupKind, GroupPlan};
use crate::optim::{adagrad, adam, rmsprop, sgd};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use std::sync::Arc;

fn ts(v: &[PyRef<'_, PyTensor>]) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

type Stats = (f64, f64, usize);

fn stats(v: Vec<BatchStats>) -> Vec<Stats> {
    v.into_iter()
        .map(|s| (s.loss, s.correct, s.count))
        .collect()
}

fn batches_of(idx: &Option<Vec<Vec<i64>>>) -> Batches<'_> {
    match idx {
        None => Batches::Full,
        Some(v) => Batches::Indices(v),
    }
}

/// A captured forward pass.
#[pyclass(name = "_Program", module = "ferrotorch._C", frozen)]
pub struct PyProgram {
    p: Arc<Program>,
}

#[pymethods]
impl PyProgram {
    /// The recorded ops, in order.
    fn op_names(&self) -> Vec<&'static str> {
        self.p.op_names()
    }
    fn __len__(&self) -> usize {
        self.p.len()
    }
    /// The recorded backward's ops, in order (None: no backward recorded; replay builds the graph).
    fn backward_op_names(&self) -> Option<Vec<&'static str>> {
        self.p.backward().map(|b| b.op_names())
    }
    /// Why full-batch replay does not run over fixed buffers: None when it does, or when no
    /// backward was recorded (see `backward_op_names`).
    fn buffers_refusal(&self) -> Option<String> {
        self.p
            .backward()
            .and_then(|b| b.buffers_refusal().map(str::to_owned))
    }
    /// Replays the program on new inputs (grad mode as the caller has it).
    fn run(&self, py: Python<'_>, inputs: Vec<PyRef<'_, PyTensor>>) -> PyResult<Vec<PyTensor>> {
        let ins = ts(&inputs);
        let p = self.p.clone();
        let out = py.detach(move || p.run(&ins))?;
        Ok(out.into_iter().map(PyTensor::new).collect())
    }
    /// Evaluation stats `(loss, correct, count)` per batch, under no_grad.
    #[pyo3(signature = (x, y, batches, accuracy))]
    fn evaluate(
        &self,
        py: Python<'_>,
        x: PyRef<'_, PyTensor>,
        y: PyRef<'_, PyTensor>,
        batches: Option<Vec<Vec<i64>>>,
        accuracy: bool,
    ) -> PyResult<Vec<Stats>> {
        let (x, y, p) = (x.t.clone(), y.t.clone(), self.p.clone());
        let r = py.detach(move || train::evaluate(&p, &x, &y, &batches_of(&batches), accuracy))?;
        Ok(stats(r))
    }
}

/// Starts recording this thread's ops; `inputs` are the program's inputs.
#[pyfunction]
fn _capture_begin(inputs: Vec<PyRef<'_, PyTensor>>) -> PyResult<()> {
    Ok(capture::begin(&ts(&inputs))?)
}

/// Ends recording: `(program, None)`, or `(None, reason)` when the pass cannot be replayed.
/// `backward=True` keeps the recorder for `_capture_backward` (a training step's backward).
#[pyfunction]
#[pyo3(signature = (outputs, backward=false))]
fn _capture_finish(
    outputs: Vec<PyRef<'_, PyTensor>>,
    backward: bool,
) -> (Option<PyProgram>, Option<String>) {
    let outputs = ts(&outputs);
    let r = if backward {
        capture::finish_for_backward(&outputs)
    } else {
        capture::finish(&outputs)
    };
    match r {
        Ok(p) => (Some(PyProgram { p: Arc::new(p) }), None),
        Err(why) => (None, Some(why)),
    }
}

/// `loss.backward()`, recorded into `program` (captured with `backward=True`) so replay runs
/// the backward as plain ops. Returns why no backward was recorded (None: recorded).
#[pyfunction]
fn _capture_backward(
    program: PyRef<'_, PyProgram>,
    loss: PyRef<'_, PyTensor>,
) -> PyResult<Option<String>> {
    Ok(crate::graph::backward::backward_and_plan(
        &program.p, &loss.t,
    )?)
}

#[pyfunction]
fn _capture_abort() {
    capture::abort();
}

/// One optimizer parameter group with its state, stepped in Rust.
#[pyclass(name = "_OptimGroup", module = "ferrotorch._C", frozen)]
#[derive(Clone)]
pub struct PyOptimGroup {
    g: GroupPlan,
}

#[pymethods]
impl PyOptimGroup {
    /// One update of the parameters that have gradients (what the optimizers' `step()` calls).
    fn step(&self, py: Python<'_>) -> PyResult<()> {
        let g = &self.g;
        Ok(py.detach(move || g.step())?)
    }

    #[staticmethod]
    #[pyo3(signature = (params, bufs, lr, momentum, dampening, weight_decay, nesterov, maximize))]
    #[allow(clippy::too_many_arguments)]
    fn sgd(
        params: Vec<PyRef<'_, PyTensor>>,
        bufs: Vec<PyRef<'_, PyTensor>>,
        lr: f64,
        momentum: f64,
        dampening: f64,
        weight_decay: f64,
        nesterov: bool,
        maximize: bool,
    ) -> PyResult<Self> {
        let o = sgd::SgdOptions {
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            maximize,
        };
        let kind = GroupKind::Sgd { o, bufs: ts(&bufs) };
        Ok(PyOptimGroup {
            g: GroupPlan::new(ts(&params), kind)?,
        })
    }

    #[staticmethod]
    #[pyo3(signature = (params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay))]
    #[allow(clippy::too_many_arguments)]
    fn adam(
        params: Vec<PyRef<'_, PyTensor>>,
        exp_avgs: Vec<PyRef<'_, PyTensor>>,
        exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
        max_exp_avg_sqs: Vec<PyRef<'_, PyTensor>>,
        steps: Vec<PyRef<'_, PyTensor>>,
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
        amsgrad: bool,
        maximize: bool,
        decoupled_weight_decay: bool,
    ) -> PyResult<Self> {
        let o = adam::AdamOptions {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad,
            maximize,
            decoupled_weight_decay,
        };
        let kind = GroupKind::Adam {
            o,
            exp_avgs: ts(&exp_avgs),
            exp_avg_sqs: ts(&exp_avg_sqs),
            max_exp_avg_sqs: ts(&max_exp_avg_sqs),
            steps: ts(&steps),
        };
        Ok(PyOptimGroup {
            g: GroupPlan::new(ts(&params), kind)?,
        })
    }

    #[staticmethod]
    #[pyo3(signature = (params, square_avgs, grad_avgs, momentum_buffers, steps, lr, alpha, eps, weight_decay, momentum, centered, maximize))]
    #[allow(clippy::too_many_arguments)]
    fn rmsprop(
        params: Vec<PyRef<'_, PyTensor>>,
        square_avgs: Vec<PyRef<'_, PyTensor>>,
        grad_avgs: Vec<PyRef<'_, PyTensor>>,
        momentum_buffers: Vec<PyRef<'_, PyTensor>>,
        steps: Vec<PyRef<'_, PyTensor>>,
        lr: f64,
        alpha: f64,
        eps: f64,
        weight_decay: f64,
        momentum: f64,
        centered: bool,
        maximize: bool,
    ) -> PyResult<Self> {
        let o = rmsprop::RmspropOptions {
            lr,
            alpha,
            eps,
            weight_decay,
            momentum,
            centered,
            maximize,
        };
        let kind = GroupKind::Rmsprop {
            o,
            square_avgs: ts(&square_avgs),
            grad_avgs: ts(&grad_avgs),
            momentum_bufs: ts(&momentum_buffers),
            steps: ts(&steps),
        };
        Ok(PyOptimGroup {
            g: GroupPlan::new(ts(&params), kind)?,
        })
    }

    #[staticmethod]
    #[pyo3(signature = (params, state_sums, steps, lr, lr_decay, eps, weight_decay, maximize))]
    #[allow(clippy::too_many_arguments)]
    fn adagrad(
        params: Vec<PyRef<'_, PyTensor>>,
        state_sums: Vec<PyRef<'_, PyTensor>>,
        steps: Vec<PyRef<'_, PyTensor>>,
        lr: f64,
        lr_decay: f64,
        eps: f64,
        weight_decay: f64,
        maximize: bool,
    ) -> PyResult<Self> {
        let o = adagrad::AdagradOptions {
            lr,
            lr_decay,
            eps,
            weight_decay,
            maximize,
        };
        let kind = GroupKind::Adagrad {
            o,
            sums: ts(&state_sums),
            steps: ts(&steps),
        };
        Ok(PyOptimGroup {
            g: GroupPlan::new(ts(&params), kind)?,
        })
    }
}

/// A replayable training step: zero grads, forward + loss, backward, optimizer step.
#[pyclass(name = "_TrainStep", module = "ferrotorch._C", frozen)]
pub struct PyTrainStep {
    s: TrainStep,
}

#[pymethods]
impl PyTrainStep {
    #[new]
    #[pyo3(signature = (program, zero, groups, accuracy))]
    fn new(
        program: PyRef<'_, PyProgram>,
        zero: Vec<PyRef<'_, PyTensor>>,
        groups: Option<Vec<PyRef<'_, PyOptimGroup>>>,
        accuracy: bool,
    ) -> Self {
        PyTrainStep {
            s: TrainStep {
                program: program.p.clone(),
                zero: ts(&zero),
                groups: groups
                    .unwrap_or_default()
                    .iter()
                    .map(|g| g.g.clone())
                    .collect(),
                accuracy,
            },
        }
    }

    /// `epochs` epochs over `batches` (index lists into x and y; None: x and y are the batch),
    /// all in Rust with the GIL released. Returns `(loss, correct, count)` per batch.
    #[pyo3(signature = (x, y, batches=None, epochs=1))]
    fn run(
        &self,
        py: Python<'_>,
        x: PyRef<'_, PyTensor>,
        y: PyRef<'_, PyTensor>,
        batches: Option<Vec<Vec<i64>>>,
        epochs: usize,
    ) -> PyResult<Vec<Stats>> {
        let (x, y, s) = (x.t.clone(), y.t.clone(), &self.s);
        let r = py.detach(move || s.run(&x, &y, &batches_of(&batches), epochs))?;
        Ok(stats(r))
    }

    /// `epochs` full-batch epochs (x and y are the batch) in one call, GIL released. Returns the
    /// per-epoch losses and, with accuracy on, per-epoch accuracies (plain lists for History).
    fn run_full(
        &self,
        py: Python<'_>,
        x: PyRef<'_, PyTensor>,
        y: PyRef<'_, PyTensor>,
        epochs: usize,
    ) -> PyResult<(Vec<f64>, Option<Vec<f64>>)> {
        let (x, y, s) = (x.t.clone(), y.t.clone(), &self.s);
        let r = py.detach(move || s.run(&x, &y, &Batches::Full, epochs))?;
        let acc = self.s.accuracy.then(|| {
            r.iter()
                .map(|b| b.correct / b.count.max(1) as f64)
                .collect()
        });
        Ok((r.iter().map(|b| b.loss).collect(), acc))
    }

    /// One batch; `step=False` leaves the optimizer step to the caller. Returns the stats and
    /// the prediction (for Python metrics).
    #[pyo3(signature = (x, y, step=true))]
    fn batch(
        &self,
        py: Python<'_>,
        x: PyRef<'_, PyTensor>,
        y: PyRef<'_, PyTensor>,
        step: bool,
    ) -> PyResult<(Stats, PyTensor)> {
        let (x, y, s) = (x.t.clone(), y.t.clone(), &self.s);
        let (st, outs) = py.detach(move || s.batch(&x, &y, step))?;
        Ok((
            (st.loss, st.correct, st.count),
            PyTensor::new(outs[0].clone()),
        ))
    }
}

/// Correct predictions of `output` for `target` (fit's "accuracy" metric).
#[pyfunction]
fn _count_correct(output: PyRef<'_, PyTensor>, target: PyRef<'_, PyTensor>) -> PyResult<f64> {
    Ok(train::count_correct(&output.t, &target.t)?)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyProgram>()?;
    m.add_class::<PyOptimGroup>()?;
    m.add_class::<PyTrainStep>()?;
    m.add_function(wrap_pyfunction!(_capture_begin, m)?)?;
    m.add_function(wrap_pyfunction!(_capture_finish, m)?)?;
    m.add_function(wrap_pyfunction!(_capture_abort, m)?)?;
    m.add_function(wrap_pyfunction!(_capture_backward, m)?)?;
    m.add_function(wrap_pyfunction!(_count_correct, m)?)?;
    Ok(())
}
