//! View and reshape methods for Python (they share storage with their base).

use super::convert;
use super::tensor::PyTensor;
use crate::ops::movement as mv;
use pyo3::exceptions::PyNotImplementedError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (*shape))]
    fn view(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        if shape.len() == 1 && shape.get_item(0)?.cast::<super::dtype::PyDType>().is_ok() {
            return Err(PyNotImplementedError::new_err(
                "ferrotorch does not support view(dtype) yet",
            ));
        }
        Ok(mv::view(&self.t, &convert::sizes(shape)?)?.into())
    }
    fn view_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        let s: Vec<i64> = other.t.shape().iter().map(|&d| d as i64).collect();
        Ok(mv::view(&self.t, &s)?.into())
    }
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        Ok(mv::reshape(&self.t, &convert::sizes(shape)?)?.into())
    }
    fn reshape_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(mv::reshape_usize(&self.t, other.t.shape())?.into())
    }
    #[pyo3(signature = (start_dim=0, end_dim=-1))]
    fn flatten(&self, start_dim: i64, end_dim: i64) -> PyResult<PyTensor> {
        Ok(mv::flatten(&self.t, start_dim, end_dim)?.into())
    }
    fn ravel(&self) -> PyResult<PyTensor> {
        Ok(mv::flatten(&self.t, 0, -1)?.into())
    }
    #[pyo3(signature = (dim=None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        let d = convert::dims(dim)?;
        Ok(mv::squeeze(&self.t, d.as_deref())?.into())
    }
    fn unsqueeze(&self, dim: i64) -> PyResult<PyTensor> {
        Ok(mv::unsqueeze(&self.t, dim)?.into())
    }
    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        Ok(mv::permute(&self.t, &convert::sizes(dims)?)?.into())
    }
    fn transpose(&self, dim0: i64, dim1: i64) -> PyResult<PyTensor> {
        Ok(mv::transpose(&self.t, dim0, dim1)?.into())
    }
    fn swapaxes(&self, axis0: i64, axis1: i64) -> PyResult<PyTensor> {
        Ok(mv::transpose(&self.t, axis0, axis1)?.into())
    }
    fn swapdims(&self, dim0: i64, dim1: i64) -> PyResult<PyTensor> {
        Ok(mv::transpose(&self.t, dim0, dim1)?.into())
    }
    fn t(&self) -> PyResult<PyTensor> {
        if self.t.ndim() > 2 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(format!(
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.t.ndim()
            )));
        }
        if self.t.ndim() < 2 {
            return Ok(mv::alias_tracked(&self.t).into());
        }
        Ok(mv::transpose(&self.t, 0, 1)?.into())
    }
    #[getter(T)]
    fn get_t_attr(&self) -> PyResult<PyTensor> {
        let n = self.t.ndim() as i64;
        let dims: Vec<i64> = (0..n).rev().collect();
        Ok(mv::permute(&self.t, &dims)?.into())
    }
    #[getter(mT)]
    fn get_mt(&self) -> PyResult<PyTensor> {
        if self.t.ndim() < 2 {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.",
            ));
        }
        Ok(mv::transpose(&self.t, -2, -1)?.into())
    }
    #[pyo3(signature = (*sizes))]
    fn expand(&self, sizes: &Bound<'_, PyTuple>) -> PyResult<PyTensor> {
        Ok(mv::expand_i64(&self.t, &convert::sizes(sizes)?)?.into())
    }
    fn expand_as(&self, other: PyRef<'_, PyTensor>) -> PyResult<PyTensor> {
        Ok(mv::expand(&self.t, other.t.shape())?.into())
    }
    fn narrow(&self, dim: i64, start: i64, length: i64) -> PyResult<PyTensor> {
        Ok(mv::narrow(&self.t, dim, start, length)?.into())
    }
    fn select(&self, dim: i64, index: i64) -> PyResult<PyTensor> {
        Ok(mv::select(&self.t, dim, index)?.into())
    }
}
