//! Joining functions (torch.cat/stack/hstack/vstack/dstack) and reshaping methods for Python.

use super::convert;
use super::matmul::finish_out;
use super::tensor::PyTensor;
use crate::error::Result;
use crate::ops::{join, shape_ops as so};
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyInt, PyList, PyTuple};

fn type_name(o: &Bound<'_, PyAny>) -> String {
    o.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// A `tensors` argument: a list or tuple of Tensors (torch's TypeErrors otherwise).
fn tensor_list(obj: &Bound<'_, PyAny>, op: &str) -> PyResult<Vec<Tensor>> {
    if obj.cast::<PyTensor>().is_ok()
        || !(obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>())
    {
        return Err(PyTypeError::new_err(format!(
            "{op}(): argument 'tensors' (position 1) must be tuple of Tensors, not {}",
            type_name(obj)
        )));
    }
    obj.try_iter()?
        .enumerate()
        .map(|(i, o)| {
            let o = o?;
            o.cast::<PyTensor>()
                .map(|t| t.borrow().t.clone())
                .map_err(|_| {
                    PyTypeError::new_err(format!(
                        "expected Tensor as element {i} in argument 0, but got {}",
                        type_name(&o)
                    ))
                })
        })
        .collect()
}

fn joined(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    op: &str,
    out: Option<&Bound<'_, PyTensor>>,
    f: impl FnOnce(&[Tensor]) -> Result<Tensor>,
) -> PyResult<Py<PyAny>> {
    let ts = tensor_list(tensors, op)?;
    finish_out(py, f(&ts)?, out)
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn cat(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    joined(py, tensors, "cat", out, |ts| join::cat(ts, dim))
}

#[pyfunction]
#[pyo3(signature = (tensors, dim=0, *, out=None))]
fn stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    dim: i64,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    joined(py, tensors, "stack", out, |ts| join::stack(ts, dim))
}

#[pyfunction]
#[pyo3(signature = (tensors, *, out=None))]
fn hstack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    joined(py, tensors, "hstack", out, join::hstack)
}

#[pyfunction]
#[pyo3(signature = (tensors, *, out=None))]
fn vstack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    joined(py, tensors, "vstack", out, join::vstack)
}

#[pyfunction]
#[pyo3(signature = (tensors, *, out=None))]
fn row_stack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    joined(py, tensors, "row_stack", out, join::vstack)
}

#[pyfunction]
#[pyo3(signature = (tensors, *, out=None))]
fn dstack(
    py: Python<'_>,
    tensors: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyTensor>>,
) -> PyResult<Py<PyAny>> {
    joined(py, tensors, "dstack", out, join::dstack)
}

fn tuple_of(py: Python<'_>, ts: Vec<Tensor>) -> PyResult<Py<PyTuple>> {
    let objs: Vec<Bound<'_, PyTensor>> = ts
        .into_iter()
        .map(|t| Bound::new(py, PyTensor::new(t)))
        .collect::<PyResult<_>>()?;
    Ok(PyTuple::new(py, objs)?.unbind())
}

/// An int or a sequence of ints.
fn int_or_seq(o: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<i64>> {
    if o.is_instance_of::<PyInt>() {
        return Ok(vec![o.extract()?]);
    }
    convert::seq_ints(o, what)
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (*args, dims=None))]
    fn flip(
        &self,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let d = match dims {
            Some(d) => int_or_seq(d, "dims")?,
            None => convert::sizes(args)?,
        };
        Ok(so::flip(&self.t, &d)?.into())
    }
    fn fliplr(&self) -> PyResult<PyTensor> {
        Ok(so::fliplr(&self.t)?.into())
    }
    fn flipud(&self) -> PyResult<PyTensor> {
        Ok(so::flipud(&self.t)?.into())
    }
    #[pyo3(signature = (shifts, dims=None))]
    fn roll(
        &self,
        shifts: &Bound<'_, PyAny>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let s = int_or_seq(shifts, "shifts")?;
        let d = convert::dims(dims)?.unwrap_or_default();
        Ok(so::roll(&self.t, &s, &d)?.into())
    }
    #[pyo3(signature = (*sizes))]
    fn repeat(&self, sizes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        Ok(so::repeat(&self.t, &convert::sizes(sizes)?)?.into())
    }
    #[pyo3(signature = (*args, dims=None))]
    fn tile(
        &self,
        args: &Bound<'_, PyTuple>,
        dims: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let d = match dims {
            Some(d) => int_or_seq(d, "dims")?,
            None => convert::sizes(args)?,
        };
        Ok(so::tile(&self.t, &d)?.into())
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril(&self, diagonal: i64) -> PyResult<PyTensor> {
        Ok(so::tri(&self.t, diagonal, true)?.into())
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu(&self, diagonal: i64) -> PyResult<PyTensor> {
        Ok(so::tri(&self.t, diagonal, false)?.into())
    }
    #[pyo3(signature = (diagonal=0))]
    fn tril_(slf: Bound<'_, Self>, diagonal: i64) -> PyResult<Bound<'_, Self>> {
        so::tri_(&slf.borrow().t, diagonal, true)?;
        Ok(slf)
    }
    #[pyo3(signature = (diagonal=0))]
    fn triu_(slf: Bound<'_, Self>, diagonal: i64) -> PyResult<Bound<'_, Self>> {
        so::tri_(&slf.borrow().t, diagonal, false)?;
        Ok(slf)
    }
    #[pyo3(signature = (chunks, dim=0))]
    fn chunk(&self, py: Python<'_>, chunks: i64, dim: i64) -> PyResult<Py<PyTuple>> {
        tuple_of(py, so::chunk(&self.t, chunks, dim)?)
    }
    #[pyo3(signature = (split_size_or_sections, dim=0))]
    fn split(
        &self,
        py: Python<'_>,
        split_size_or_sections: &Bound<'_, PyAny>,
        dim: i64,
    ) -> PyResult<Py<PyTuple>> {
        let s = split_size_or_sections;
        let parts = if s.is_instance_of::<PyInt>() {
            so::split(&self.t, s.extract()?, dim)?
        } else {
            so::split_with_sizes(
                &self.t,
                &convert::seq_ints(s, "split_size_or_sections")?,
                dim,
            )?
        };
        tuple_of(py, parts)
    }
    #[pyo3(signature = (split_sizes, dim=0))]
    fn split_with_sizes(
        &self,
        py: Python<'_>,
        split_sizes: &Bound<'_, PyAny>,
        dim: i64,
    ) -> PyResult<Py<PyTuple>> {
        tuple_of(
            py,
            so::split_with_sizes(
                &self.t,
                &convert::seq_ints(split_sizes, "split_sizes")?,
                dim,
            )?,
        )
    }
    #[pyo3(signature = (dim=0))]
    fn unbind(&self, py: Python<'_>, dim: i64) -> PyResult<Py<PyTuple>> {
        tuple_of(py, so::unbind(&self.t, dim)?)
    }
    fn movedim(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let (s, d) = (
            int_or_seq(source, "source")?,
            int_or_seq(destination, "destination")?,
        );
        Ok(so::movedim(&self.t, &s, &d)?.into())
    }
    fn moveaxis(
        &self,
        source: &Bound<'_, PyAny>,
        destination: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        self.movedim(source, destination)
    }
    fn unflatten(&self, dim: i64, sizes: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        Ok(so::unflatten(&self.t, dim, &convert::seq_ints(sizes, "sizes")?)?.into())
    }
    #[pyo3(signature = (diagonal=0))]
    fn diag(&self, diagonal: i64) -> PyResult<PyTensor> {
        Ok(so::diag(&self.t, diagonal)?.into())
    }
    #[pyo3(signature = (offset=0, dim1=0, dim2=1))]
    fn diagonal(&self, offset: i64, dim1: i64, dim2: i64) -> PyResult<PyTensor> {
        Ok(so::diagonal(&self.t, offset, dim1, dim2)?.into())
    }
    fn trace(&self) -> PyResult<PyTensor> {
        Ok(so::trace(&self.t)?.into())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cat, m)?)?;
    m.add_function(wrap_pyfunction!(stack, m)?)?;
    m.add_function(wrap_pyfunction!(hstack, m)?)?;
    m.add_function(wrap_pyfunction!(vstack, m)?)?;
    m.add_function(wrap_pyfunction!(row_stack, m)?)?;
    m.add_function(wrap_pyfunction!(dstack, m)?)?;
    Ok(())
}
