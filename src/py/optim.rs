//! SGD's step for Python (its first step creates the momentum buffers); Adam, RMSprop and Adagrad
//! step through `_OptimGroup` (py/fit.rs), the same plan `fit` replays.

use super::tensor::PyTensor;
use crate::optim::sgd;
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_sgd_step, m)?)?;
    Ok(())
}
