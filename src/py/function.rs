//! `torch.autograd.Function`'s graph node: a backward that calls the user's Python `backward`.

use super::error::from_callback;
use super::tensor::PyTensor;
use crate::autograd::{self, Backward, SavedOutput, SavedTensor};
use crate::error::{Error, Result};
use crate::shape::{self, Dims};
use crate::tensor::Tensor;
use crate::DType;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::collections::HashMap;
use std::sync::Mutex;

/// A tensor `ctx.save_for_backward` kept: one of the node's outputs is kept detached (no cycle
/// through its grad_fn, see `Tensor::save_output`), anything else as it is.
enum Saved {
    None,
    Other(SavedTensor),
    Output(SavedOutput),
}

struct PyFunctionBackward {
    name: &'static str,
    /// `runner(saved, grads)` → one gradient (or None) per tensor input; written in Python
    /// (autograd/function.py), where it checks the user's results against torch's rules.
    runner: Py<PyAny>,
    saved: Vec<Saved>,
    inputs: Vec<(Dims, DType)>,
}

impl Backward for PyFunctionBackward {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, grads: &[Option<Tensor>]) -> Result<Vec<Option<Tensor>>> {
        Python::attach(|py| {
            let mut saved = Vec::with_capacity(self.saved.len());
            for s in &self.saved {
                saved.push(match s {
                    Saved::None => py.None(),
                    Saved::Other(t) => Py::new(py, PyTensor::new(t.get(self.name)?.clone()))
                        .map_err(from_callback)?
                        .into_any(),
                    Saved::Output(t) => Py::new(py, PyTensor::new(t.get(self.name)?))
                        .map_err(from_callback)?
                        .into_any(),
                });
            }
            let mut gs = Vec::with_capacity(grads.len());
            for g in grads {
                gs.push(match g {
                    None => py.None(),
                    Some(g) => Py::new(py, PyTensor::new(g.clone()))
                        .map_err(from_callback)?
                        .into_any(),
                });
            }
            let args = (
                PyTuple::new(py, saved).map_err(from_callback)?,
                PyTuple::new(py, gs).map_err(from_callback)?,
            );
            let r = self.runner.call1(py, args).map_err(from_callback)?;
            let r: Vec<Option<PyRef<'_, PyTensor>>> = r.extract(py).map_err(|_| {
                Error::type_(format!(
                    "{}: backward must return a Tensor or None for each tensor input",
                    self.name
                ))
            })?;
            if r.len() != self.inputs.len() {
                return Err(Error::runtime(format!(
                    "function {} returned an incorrect number of gradients (expected {}, got {})",
                    self.name,
                    self.inputs.len(),
                    r.len()
                )));
            }
            r.iter()
                .zip(&self.inputs)
                .enumerate()
                .map(|(i, (g, (shape, dtype)))| {
                    let Some(g) = g else { return Ok(None) };
                    let g = &g.t;
                    // torch: a gradient the input broadcasts to is summed down by the engine
                    if g.shape() != shape.as_slice()
                        && shape::broadcast_shapes(shape, g.shape()).ok().as_deref()
                            != Some(g.shape())
                    {
                        return Err(Error::runtime(format!(
                            "Function {} returned an invalid gradient at index {i} - got {} but \
                             expected shape compatible with {}",
                            self.name,
                            shape::fmt_shape(g.shape()),
                            shape::fmt_shape(shape)
                        )));
                    }
                    Ok(Some(if g.dtype() != *dtype {
                        crate::ops::copy::to_dtype(g, *dtype, false)?
                    } else {
                        g.clone()
                    }))
                })
                .collect()
        })
    }
}

/// The `<Name>Backward` names of the Function classes seen, interned (they live as long as the
/// process, one per class).
static NAMES: Mutex<Option<HashMap<String, &'static str>>> = Mutex::new(None);

fn intern(name: &str) -> &'static str {
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let names = names.get_or_insert_with(HashMap::new);
    if let Some(&n) = names.get(name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(name.to_owned(), n);
    n
}

/// Whether a node name is a custom Function's (its grad_fn prints with torch's module path).
pub fn is_custom(name: &str) -> bool {
    let names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    names.as_ref().is_some_and(|n| n.contains_key(name))
}

/// Joins a custom Function's outputs to the graph: `outputs` get a node named `name` whose
/// backward is `runner`, with an edge to each of `inputs`; `to_save` is kept for it.
#[pyfunction]
fn _function_record(
    name: &str,
    runner: Py<PyAny>,
    inputs: Vec<PyRef<'_, PyTensor>>,
    outputs: Vec<PyRef<'_, PyTensor>>,
    to_save: Vec<Option<PyRef<'_, PyTensor>>>,
) {
    // replay would rerun forward's ops but not join this node: gradients would skip it
    crate::graph::capture::refuse(|| {
        format!("`{name}` is a custom autograd.Function, which fit cannot replay")
    });
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
    let outs: Vec<Tensor> = outputs.iter().map(|t| t.t.clone()).collect();
    let saved = to_save
        .iter()
        .map(|s| match s {
            None => Saved::None,
            Some(s) => match outs.iter().position(|o| o.same(&s.t)) {
                Some(nr) => Saved::Output(s.t.save_output(nr)),
                None => Saved::Other(s.t.save()),
            },
        })
        .collect();
    let func = PyFunctionBackward {
        name: intern(name),
        runner,
        saved,
        inputs: ins
            .iter()
            .map(|t| (Dims::from_slice(t.shape()), t.dtype()))
            .collect(),
    };
    let ins_ref: Vec<&Tensor> = ins.iter().collect();
    let outs_ref: Vec<&Tensor> = outs.iter().collect();
    autograd::record(&outs_ref, &ins_ref, func);
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_function_record, m)?)?;
    Ok(())
}
