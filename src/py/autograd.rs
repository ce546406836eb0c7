//! Autograd's Python surface: grad_fn nodes, hooks, backward/grad functions and grad-mode switches.

use super::convert;
use super::tensor::PyTensor;
use crate::autograd::{self, Edge, Node};
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use std::sync::Arc;

/// `tensor.grad_fn`: a node of the graph (`<MulBackward0 object at 0x...>`).
#[pyclass(name = "Node", module = "ferrotorch.autograd.graph", frozen)]
pub struct PyNode {
    pub node: Arc<Node>,
}

/// The node that accumulates into a leaf's `.grad`.
#[pyclass(name = "AccumulateGrad", module = "ferrotorch.autograd.graph", frozen)]
pub struct PyAccumulateGrad {}

#[pymethods]
impl PyNode {
    fn name(&self) -> &'static str {
        self.node.name()
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Bound<'py, PyAny>> = self
            .node
            .next_functions()
            .iter()
            .map(|e| -> PyResult<Bound<'py, PyAny>> {
                let (obj, nr): (Bound<'py, PyAny>, usize) = match e {
                    None => (py.None().into_bound(py), 0),
                    Some(Edge::Node(n, nr)) => {
                        (Bound::new(py, PyNode { node: n.clone() })?.into_any(), *nr)
                    }
                    Some(Edge::Leaf(_)) => (Bound::new(py, PyAccumulateGrad {})?.into_any(), 0),
                };
                Ok(PyTuple::new(py, [obj, nr.into_pyobject(py)?.into_any()])?.into_any())
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }
    fn __repr__(slf: &Bound<'_, Self>) -> String {
        let name = slf.get().node.name();
        // torch's custom Function nodes are Python classes of torch.autograd.function
        let module = if super::function::is_custom(name) {
            "torch.autograd.function."
        } else {
            ""
        };
        format!(
            "<{module}{name} object at {:#x}>",
            Arc::as_ptr(&slf.get().node) as usize
        )
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other
            .cast::<PyNode>()
            .is_ok_and(|o| Arc::ptr_eq(&o.get().node, &self.node))
    }
    fn __hash__(&self) -> isize {
        Arc::as_ptr(&self.node) as isize
    }
}

#[pymethods]
impl PyAccumulateGrad {
    fn name(&self) -> &'static str {
        "torch::autograd::AccumulateGrad"
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> Bound<'py, PyTuple> {
        PyTuple::empty(py)
    }
    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<AccumulateGrad object at {:#x}>", slf.as_ptr() as usize)
    }
}

/// A Python callable as a gradient hook (runs on the Python thread, which holds the GIL during backward).
pub fn py_hook(f: Py<PyAny>) -> autograd::GradHook {
    Box::new(move |g: &Tensor| {
        Python::attach(|py| {
            let r = f
                .call1(py, (PyTensor::new(g.clone()),))
                .map_err(super::error::from_callback)?;
            let r = r.bind(py);
            if r.is_none() {
                return Ok(None);
            }
            match r.cast::<PyTensor>() {
                Ok(t) => Ok(Some(t.borrow().t.clone())),
                Err(_) => Err(crate::Error::type_("hook must return None or a Tensor")),
            }
        })
    })
}

/// A tensor or a sequence of tensors as a Vec (None stays None).
pub fn tensor_list(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<Tensor>>> {
    let Some(o) = obj else { return Ok(None) };
    if o.is_none() {
        return Ok(None);
    }
    if let Ok(t) = o.cast::<PyTensor>() {
        return Ok(Some(vec![t.borrow().t.clone()]));
    }
    let mut v = vec![];
    for item in o.try_iter()? {
        v.push(convert::tensor_arg(&item?, "autograd", "inputs")?);
    }
    Ok(Some(v))
}

fn opt_tensor_list(obj: Option<&Bound<'_, PyAny>>, n: usize) -> PyResult<Vec<Option<Tensor>>> {
    let Some(o) = obj.filter(|o| !o.is_none()) else {
        return Ok(vec![None; n]);
    };
    if let Ok(t) = o.cast::<PyTensor>() {
        return Ok(vec![Some(t.borrow().t.clone())]);
    }
    let mut v = vec![];
    for item in o.try_iter()? {
        let item = item?;
        v.push(if item.is_none() {
            None
        } else {
            Some(convert::tensor_arg(&item, "autograd", "grad_tensors")?)
        });
    }
    Ok(v)
}

#[pyfunction]
#[pyo3(signature = (tensors, grad_tensors=None, retain_graph=None, create_graph=false, inputs=None))]
fn _backward(
    tensors: &Bound<'_, PyAny>,
    grad_tensors: Option<&Bound<'_, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    inputs: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let roots = tensor_list(Some(tensors))?.unwrap_or_default();
    let grads = opt_tensor_list(grad_tensors, roots.len())?;
    let inputs = tensor_list(inputs)?;
    autograd::backward(
        &roots,
        &grads,
        retain_graph.unwrap_or(create_graph),
        create_graph,
        inputs.as_deref(),
    )?;
    Ok(())
}

#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=false, allow_unused=None))]
fn _grad<'py>(
    py: Python<'py>,
    outputs: &Bound<'py, PyAny>,
    inputs: &Bound<'py, PyAny>,
    grad_outputs: Option<&Bound<'py, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: Option<bool>,
) -> PyResult<Bound<'py, PyTuple>> {
    let roots = tensor_list(Some(outputs))?.unwrap_or_default();
    let grads = opt_tensor_list(grad_outputs, roots.len())?;
    let ins = tensor_list(Some(inputs))?.unwrap_or_default();
    let out = autograd::grad(
        &roots,
        &grads,
        &ins,
        retain_graph.unwrap_or(create_graph),
        create_graph,
        allow_unused.unwrap_or(false),
    )?;
    let items: Vec<Bound<'py, PyAny>> = out
        .into_iter()
        .map(|g| match g {
            Some(g) => Bound::new(py, PyTensor::new(g)).map(|b| b.into_any()),
            None => Ok(py.None().into_bound(py)),
        })
        .collect::<PyResult<_>>()?;
    PyTuple::new(py, items)
}

#[pyfunction]
fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}
/// Graph nodes alive in this process (tests use it to catch reference cycles that leak graphs).
#[pyfunction]
fn _live_grad_nodes() -> usize {
    autograd::live_nodes()
}

/// `@once_differentiable`'s guard: `outputs` (a backward's results, computed without a graph)
/// come back with a `DelayedError` grad_fn tied to the `inputs` that require grad, so a second
/// backward through them raises torch's RuntimeError instead of treating them as constants.
#[pyfunction]
fn _delayed_error(
    msg: String,
    inputs: Vec<PyRef<PyTensor>>,
    outputs: Vec<Option<PyRef<PyTensor>>>,
) -> Vec<Option<PyTensor>> {
    let ins: Vec<Tensor> = inputs.iter().map(|t| t.t.clone()).collect();
    let refs: Vec<&Tensor> = ins.iter().collect();
    let mut outs: Vec<Option<Tensor>> = outputs
        .iter()
        .map(|o| o.as_ref().map(|t| t.t.clone()))
        .collect();
    autograd::delayed_error(&refs, &mut outs, crate::error::Error::runtime(msg));
    outs.into_iter().map(|o| o.map(PyTensor::new)).collect()
}

#[pyfunction]
fn _set_grad_enabled(on: bool) {
    autograd::set_grad_enabled(on)
}
#[pyfunction]
fn is_inference_mode_enabled() -> bool {
    autograd::is_inference_mode_enabled()
}
#[pyfunction]
fn _set_inference_mode(on: bool) {
    autograd::set_inference_mode(on)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyNode>()?;
    m.add_class::<PyAccumulateGrad>()?;
    m.add_function(wrap_pyfunction!(_backward, m)?)?;
    m.add_function(wrap_pyfunction!(_live_grad_nodes, m)?)?;
    m.add_function(wrap_pyfunction!(_delayed_error, m)?)?;
    m.add_function(wrap_pyfunction!(_grad, m)?)?;
    m.add_function(wrap_pyfunction!(is_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_grad_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_inference_mode_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_set_inference_mode, m)?)?;
    let _ = PyList::empty(m.py());
    Ok(())
}
