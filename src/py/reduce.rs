//! Reduction methods for Python: sum, mean, max/min (with torch.return_types tuples), sort family.

use super::convert;
use super::tensor::PyTensor;
use crate::ops::{elementwise as ew, reduce as rd, reduce_sort as rs};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyTuple};

static RETURN_TYPES: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

const RETURN_TYPES_SRC: &str = r#"
import collections

def make(name, fields=("values", "indices")):
    base = collections.namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join("%s=%r" % (f, getattr(self, f)) for f in fields)
        return "torch.return_types.%s(\n%s)" % (name, body)

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__})
    cls.__module__ = "torch.return_types"
    cls.__qualname__ = name
    return cls

_cache = {}

def get(name):
    if name not in _cache:
        _cache[name] = make(name)
    return _cache[name]
"#;

/// A `torch.return_types.<name>(values=..., indices=...)` named tuple.
fn ret_pair(py: Python<'_>, name: &str, v: Tensor, i: Tensor) -> PyResult<Py<PyAny>> {
    let m = RETURN_TYPES.get_or_try_init(py, || {
        PyModule::from_code(
            py,
            std::ffi::CString::new(RETURN_TYPES_SRC)?.as_c_str(),
            c"ferrotorch_return_types.py",
            c"ferrotorch_return_types",
        )
        .map(|m| m.unbind())
    })?;
    let cls = m.bind(py).getattr("get")?.call1((name,))?;
    Ok(cls.call1((PyTensor::new(v), PyTensor::new(i)))?.unbind())
}

fn dims_of(dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    convert::dims(dim)
}

/// An int dim (TypeError for tuples, like torch's argument parser).
fn int_dim(op: &str, dim: &Bound<'_, PyAny>) -> PyResult<i64> {
    if dim.is_instance_of::<PyInt>() {
        return dim.extract();
    }
    Err(PyTypeError::new_err(format!(
        "{op}(): argument 'dim' must be int, not {}",
        dim.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    )))
}

fn opt_int_dim(op: &str, dim: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    match dim {
        Some(d) if !d.is_none() => int_dim(op, d).map(Some),
        _ => Ok(None),
    }
}

/// `correction` from torch's (unbiased, correction) pair; `dim` may carry the unbiased bool.
fn correction_of(unbiased: Option<bool>, correction: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    if let Some(c) = correction {
        if !c.is_none() {
            if unbiased.is_some() {
                return Err(PyRuntimeError::new_err(
                    "std/var: cannot specify both unbiased and correction",
                ));
            }
            return c.extract::<f64>();
        }
    }
    Ok(if unbiased.unwrap_or(true) { 1.0 } else { 0.0 })
}

#[allow(clippy::type_complexity)]
fn var_args(
    dim: Option<&Bound<'_, PyAny>>,
    unbiased: Option<bool>,
    correction: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Option<Vec<i64>>, f64)> {
    // x.std(False): a bool in the dim slot is `unbiased`.
    if let Some(d) = dim {
        if d.is_instance_of::<PyBool>() {
            return Ok((None, correction_of(Some(d.extract()?), correction)?));
        }
    }
    Ok((dims_of(dim)?, correction_of(unbiased, correction)?))
}

fn norm_p(p: Option<&Bound<'_, PyAny>>) -> PyResult<f64> {
    match p {
        None => Ok(2.0),
        Some(p) if p.is_none() => Ok(2.0),
        Some(p) => {
            if let Ok(s) = p.cast::<PyString>() {
                let s = s.to_str()?;
                return match s {
                    "fro" => Ok(2.0),
                    "nuc" => Err(PyRuntimeError::new_err(
                        "ferrotorch: nuclear norm is not supported",
                    )),
                    _ => Err(PyRuntimeError::new_err(format!("norm(): unknown p '{s}'"))),
                };
            }
            if p.is_instance_of::<PyFloat>() || p.is_instance_of::<PyInt>() {
                return p.extract();
            }
            Err(PyTypeError::new_err(
                "norm(): argument 'p' must be a number or string",
            ))
        }
    }
}

#[pymethods]
impl PyTensor {
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn sum(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let (d, dt) = (dims_of(dim)?, convert::opt_dtype(dtype)?);
        let t = self.t.clone();
        // Large reductions take milliseconds: let other Python threads run meanwhile.
        Ok(py
            .detach(move || rd::sum(&t, d.as_deref(), keepdim, dt))?
            .into())
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn mean(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let (d, dt) = (dims_of(dim)?, convert::opt_dtype(dtype)?);
        let t = self.t.clone();
        // Large reductions take milliseconds: let other Python threads run meanwhile.
        Ok(py
            .detach(move || rd::mean(&t, d.as_deref(), keepdim, dt))?
            .into())
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn nansum(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        Ok(rd::nansum(
            &self.t,
            dims_of(dim)?.as_deref(),
            keepdim,
            convert::opt_dtype(dtype)?,
        )?
        .into())
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn nanmean(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        Ok(rd::nanmean(
            &self.t,
            dims_of(dim)?.as_deref(),
            keepdim,
            convert::opt_dtype(dtype)?,
        )?
        .into())
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, dtype=None))]
    fn prod(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let d = opt_int_dim("prod", dim)?;
        Ok(rd::prod(&self.t, d, keepdim, convert::opt_dtype(dtype)?)?.into())
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, other=None))]
    fn max(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        other: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        minmax(py, &self.t, dim, keepdim, other, true)
    }
    #[pyo3(signature = (dim=None, keepdim=false, *, other=None))]
    fn min(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        other: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        minmax(py, &self.t, dim, keepdim, other, false)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amax(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        Ok(rd::amax(&self.t, dims_of(dim)?.as_deref(), keepdim, true)?.into())
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn amin(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        Ok(rd::amax(&self.t, dims_of(dim)?.as_deref(), keepdim, false)?.into())
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmax(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        Ok(rd::argmax(&self.t, opt_int_dim("argmax", dim)?, keepdim, true)?.into())
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn argmin(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        Ok(rd::argmax(&self.t, opt_int_dim("argmin", dim)?, keepdim, false)?.into())
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn std(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let (d, c) = var_args(dim, unbiased, correction)?;
        Ok(rd::var_mean(&self.t, d.as_deref(), c, keepdim, true)?
            .0
            .into())
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn var(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let (d, c) = var_args(dim, unbiased, correction)?;
        Ok(rd::var_mean(&self.t, d.as_deref(), c, keepdim, false)?
            .0
            .into())
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn std_mean(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(PyTensor, PyTensor)> {
        let (d, c) = var_args(dim, unbiased, correction)?;
        let (v, m) = rd::var_mean(&self.t, d.as_deref(), c, keepdim, true)?;
        Ok((v.into(), m.into()))
    }
    #[pyo3(signature = (dim=None, unbiased=None, keepdim=false, *, correction=None))]
    fn var_mean(
        &self,
        dim: Option<&Bound<'_, PyAny>>,
        unbiased: Option<bool>,
        keepdim: bool,
        correction: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(PyTensor, PyTensor)> {
        let (d, c) = var_args(dim, unbiased, correction)?;
        let (v, m) = rd::var_mean(&self.t, d.as_deref(), c, keepdim, false)?;
        Ok((v.into(), m.into()))
    }
    #[pyo3(signature = (p=None, dim=None, keepdim=false, dtype=None))]
    fn norm(
        &self,
        p: Option<&Bound<'_, PyAny>>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let p = norm_p(p)?;
        let x = match convert::opt_dtype(dtype)? {
            Some(dt) if dt != self.t.dtype() => crate::ops::copy::to_dtype(&self.t, dt, false)?,
            _ => self.t.clone(),
        };
        Ok(rd::norm(&x, p, dims_of(dim)?.as_deref(), keepdim)?.into())
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn all(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        Ok(rd::all_any(&self.t, dims_of(dim)?.as_deref(), keepdim, true)?.into())
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn any(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool) -> PyResult<PyTensor> {
        Ok(rd::all_any(&self.t, dims_of(dim)?.as_deref(), keepdim, false)?.into())
    }
    #[pyo3(signature = (dim=None))]
    fn count_nonzero(&self, dim: Option<&Bound<'_, PyAny>>) -> PyResult<PyTensor> {
        Ok(rd::count_nonzero(&self.t, dims_of(dim)?.as_deref())?.into())
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumsum(
        &self,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        Ok(rd::cumulative(
            &self.t,
            int_dim("cumsum", dim)?,
            convert::opt_dtype(dtype)?,
            false,
        )?
        .into())
    }
    #[pyo3(signature = (dim, *, dtype=None))]
    fn cumprod(
        &self,
        dim: &Bound<'_, PyAny>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        Ok(rd::cumulative(
            &self.t,
            int_dim("cumprod", dim)?,
            convert::opt_dtype(dtype)?,
            true,
        )?
        .into())
    }
    #[pyo3(signature = (dim, keepdim=false))]
    fn logsumexp(&self, dim: &Bound<'_, PyAny>, keepdim: bool) -> PyResult<PyTensor> {
        let d = dims_of(Some(dim))?.unwrap_or_default();
        Ok(rd::logsumexp(&self.t, &d, keepdim)?.into())
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=false))]
    fn sort(
        &self,
        py: Python<'_>,
        dim: i64,
        descending: bool,
        stable: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = stable; // always stable
        let (v, i) = rs::sort(&self.t, dim, descending)?;
        ret_pair(py, "sort", v, i)
    }
    #[pyo3(signature = (dim=-1, descending=false, stable=false))]
    fn argsort(&self, dim: i64, descending: bool, stable: bool) -> PyResult<PyTensor> {
        let _ = stable;
        Ok(rs::argsort(&self.t, dim, descending)?.into())
    }
    #[pyo3(signature = (k, dim=-1, largest=true, sorted=true))]
    fn topk(
        &self,
        py: Python<'_>,
        k: i64,
        dim: i64,
        largest: bool,
        sorted: bool,
    ) -> PyResult<Py<PyAny>> {
        let _ = sorted; // results always come sorted
        let (v, i) = rs::topk(&self.t, k, dim, largest)?;
        ret_pair(py, "topk", v, i)
    }
    #[pyo3(signature = (k, dim=-1, keepdim=false))]
    fn kthvalue(&self, py: Python<'_>, k: i64, dim: i64, keepdim: bool) -> PyResult<Py<PyAny>> {
        let (v, i) = rs::kthvalue(&self.t, k, dim, keepdim)?;
        ret_pair(py, "kthvalue", v, i)
    }
    #[pyo3(signature = (dim=None, keepdim=false))]
    fn median(
        &self,
        py: Python<'_>,
        dim: Option<&Bound<'_, PyAny>>,
        keepdim: bool,
    ) -> PyResult<Py<PyAny>> {
        match opt_int_dim("median", dim)? {
            None => Ok(Bound::new(py, PyTensor::new(rs::median_all(&self.t)?))?
                .into_any()
                .unbind()),
            Some(d) => {
                let (v, i) = rs::median_dim(&self.t, d, keepdim)?;
                ret_pair(py, "median", v, i)
            }
        }
    }
    #[pyo3(signature = (dim=-1, keepdim=false))]
    fn mode(&self, py: Python<'_>, dim: i64, keepdim: bool) -> PyResult<Py<PyAny>> {
        let (v, i) = rs::mode(&self.t, dim, keepdim)?;
        ret_pair(py, "mode", v, i)
    }
    #[pyo3(signature = (sorted=true, return_inverse=false, return_counts=false, dim=None))]
    fn unique(
        &self,
        py: Python<'_>,
        sorted: bool,
        return_inverse: bool,
        return_counts: bool,
        dim: Option<i64>,
    ) -> PyResult<Py<PyAny>> {
        let _ = sorted; // always sorted, as torch's CPU kernel does
        let (v, inv, c) = rs::unique(&self.t, dim)?;
        let v = Bound::new(py, PyTensor::new(v))?.into_any();
        if !return_inverse && !return_counts {
            return Ok(v.unbind());
        }
        let mut items = vec![v];
        if return_inverse {
            items.push(Bound::new(py, PyTensor::new(inv))?.into_any());
        }
        if return_counts {
            items.push(Bound::new(py, PyTensor::new(c))?.into_any());
        }
        Ok(PyTuple::new(py, items)?.into_any().unbind())
    }
    #[pyo3(signature = (weights=None, minlength=0))]
    fn bincount(&self, weights: Option<&Bound<'_, PyAny>>, minlength: i64) -> PyResult<PyTensor> {
        let w = match weights {
            Some(w) if !w.is_none() => Some(convert::tensor_arg(w, "bincount", "weights")?),
            _ => None,
        };
        Ok(rs::bincount(&self.t, w.as_ref(), minlength)?.into())
    }
    #[pyo3(signature = (bins=100, min=0.0, max=0.0))]
    fn histc(&self, bins: i64, min: f64, max: f64) -> PyResult<PyTensor> {
        Ok(rs::histc(&self.t, bins, min, max)?.into())
    }
}

/// `max()`, `max(dim, keepdim)` (named tuple) or `max(other)` (elementwise maximum).
fn minmax(
    py: Python<'_>,
    t: &Tensor,
    dim: Option<&Bound<'_, PyAny>>,
    keepdim: bool,
    other: Option<&Bound<'_, PyAny>>,
    max: bool,
) -> PyResult<Py<PyAny>> {
    let op = if max { "max" } else { "min" };
    let bin = if max {
        ew::Binary::Maximum
    } else {
        ew::Binary::Minimum
    };
    if let Some(o) = other {
        let b = convert::tensor_arg(o, op, "other")?;
        return Ok(Bound::new(py, PyTensor::new(ew::binary(bin, t, &b)?))?
            .into_any()
            .unbind());
    }
    match dim {
        None => Ok(Bound::new(py, PyTensor::new(rd::max_all(t, max)?))?
            .into_any()
            .unbind()),
        Some(d) if d.is_none() => Ok(Bound::new(py, PyTensor::new(rd::max_all(t, max)?))?
            .into_any()
            .unbind()),
        Some(d) => {
            if let Ok(o) = d.cast::<PyTensor>() {
                let b = o.borrow().t.clone();
                return Ok(Bound::new(py, PyTensor::new(ew::binary(bin, t, &b)?))?
                    .into_any()
                    .unbind());
            }
            if !d.is_instance_of::<PyInt>() || d.is_instance_of::<PyBool>() {
                return Err(PyTypeError::new_err(format!(
                    "{op}() received an invalid combination of arguments - got (dim={}), but expected one of:\n * \
                     ()\n * (Tensor other)\n * (int dim, bool keepdim = False)",
                    d.get_type().name().map(|n| n.to_string()).unwrap_or_default()
                )));
            }
            let (v, i) = rd::max_dim(t, d.extract()?, keepdim, max)?;
            let name = if max { "max" } else { "min" };
            ret_pair(py, name, v, i)
        }
    }
}
