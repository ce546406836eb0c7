//! Python entry points for the safetensors container (bytes in, bytes out; files stay in Python).

use super::tensor::PyTensor;
use crate::serialize::safetensors;
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

/// `_safetensors_load(data) -> ([(name, tensor), ...], metadata dict or None)`.
#[pyfunction]
fn _safetensors_load<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyTuple>> {
    let (ents, meta) = safetensors::load(data)?;
    let list = PyList::empty(py);
    for (k, t) in ents {
        list.append((k, Py::new(py, PyTensor::new(t))?))?;
    }
    let meta: Bound<'py, PyAny> = match meta {
        Some(m) => {
            let d = PyDict::new(py);
            for (k, v) in m {
                d.set_item(k, v)?;
            }
            d.into_any()
        }
        None => py.None().into_bound(py),
    };
    PyTuple::new(py, [list.into_any(), meta])
}

/// `_safetensors_save([(name, tensor), ...], metadata or None) -> bytes`.
#[pyfunction]
#[pyo3(signature = (entries, metadata=None))]
fn _safetensors_save<'py>(
    py: Python<'py>,
    entries: Vec<(String, PyRef<'py, PyTensor>)>,
    metadata: Option<Vec<(String, String)>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let ents: Vec<(String, Tensor)> = entries.into_iter().map(|(k, t)| (k, t.t.clone())).collect();
    let out = safetensors::save(&ents, metadata.as_deref())?;
    Ok(PyBytes::new(py, &out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_safetensors_load, m)?)?;
    m.add_function(wrap_pyfunction!(_safetensors_save, m)?)?;
    Ok(())
}
