//! Python entry points for the optimizer steps: one call updates every parameter of a group.

use super::tensor::PyTensor;
use crate::optim::{adagrad, adam, rmsprop, sgd};
use crate::tensor::Tensor;
use pyo3::prelude::*;

fn ts(v: Vec<PyRef<'_, PyTensor>>) -> Vec<Tensor> {
    v.iter().map(|t| t.t.clone()).collect()
}

#[pyfunction]
#[pyo3(signature = (params, grads, momentum_buffers, lr, momentum, dampening, weight_decay, nesterov, maximize))]
fn _sgd_step(
    py: Python<'_>,
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    momentum_buffers: Vec<Option<PyRef<'_, PyTensor>>>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<Vec<Option<Py<PyTensor>>>> {
    let bufs: Vec<Option<Tensor>> = momentum_buffers
        .iter()
        .map(|b| b.as_ref().map(|b| b.t.clone()))
        .collect();
    let o = sgd::SgdOptions {
        lr,
        momentum,
        dampening,
        weight_decay,
        nesterov,
        maximize,
    };
    let out = sgd::sgd_step(&ts(params), &ts(grads), &bufs, &o)?;
    // Only the buffers created by this step come back; existing ones were updated in place.
    out.into_iter()
        .enumerate()
        .map(
            |(i, b)| match (b, momentum_buffers.get(i).map(|x| x.is_some())) {
                (Some(b), Some(false)) => Ok(Some(Py::new(py, PyTensor::new(b))?)),
                _ => Ok(None),
            },
        )
        .collect()
}

#[pyfunction]
#[pyo3(signature = (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=false))]
fn _adam_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
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
) -> PyResult<()> {
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
    adam::adam_step(
        &ts(params),
        &ts(grads),
        &ts(exp_avgs),
        &ts(exp_avg_sqs),
        &ts(max_exp_avg_sqs),
        &ts(steps),
        &o,
    )?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (params, grads, square_avgs, grad_avgs, momentum_buffers, steps, lr, alpha, eps, weight_decay, momentum, centered, maximize))]
fn _rmsprop_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
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
) -> PyResult<()> {
    let o = rmsprop::RmspropOptions {
        lr,
        alpha,
        eps,
        weight_decay,
        momentum,
        centered,
        maximize,
    };
    rmsprop::rmsprop_step(
        &ts(params),
        &ts(grads),
        &ts(square_avgs),
        &ts(grad_avgs),
        &ts(momentum_buffers),
        &ts(steps),
        &o,
    )?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (params, grads, state_sums, steps, lr, lr_decay, eps, weight_decay, maximize))]
fn _adagrad_step(
    params: Vec<PyRef<'_, PyTensor>>,
    grads: Vec<PyRef<'_, PyTensor>>,
    state_sums: Vec<PyRef<'_, PyTensor>>,
    steps: Vec<PyRef<'_, PyTensor>>,
    lr: f64,
    lr_decay: f64,
    eps: f64,
    weight_decay: f64,
    maximize: bool,
) -> PyResult<()> {
    let o = adagrad::AdagradOptions {
        lr,
        lr_decay,
        eps,
        weight_decay,
        maximize,
    };
    adagrad::adagrad_step(&ts(params), &ts(grads), &ts(state_sums), &ts(steps), &o)?;
    Ok(())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sgd_step, m)?)?;
    m.add_function(wrap_pyfunction!(_adam_step, m)?)?;
    m.add_function(wrap_pyfunction!(_rmsprop_step, m)?)?;
    m.add_function(wrap_pyfunction!(_adagrad_step, m)?)?;
    Ok(())
}
