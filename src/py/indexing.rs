//! Python indexing: `Tensor.__getitem__`/`__setitem__` (index parsed in Rust) and the gather/scatter family.

use super::convert;
use super::tensor::PyTensor;
use crate::dtype::DType;
use crate::ops::indexing::{self as ix, Idx, Reduce};
use crate::tensor::Tensor;
use numpy::PyUntypedArray;
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyInt, PyList, PyNone, PySlice, PyTuple};

fn opt_i64(o: &Bound<'_, PyAny>) -> PyResult<Option<i64>> {
    if o.is_none() {
        return Ok(None);
    }
    if let Ok(v) = o.extract::<i64>() {
        return Ok(Some(v));
    }
    if let Ok(t) = o.cast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.numel() == 1 && !t.dtype().is_float() {
            return Ok(Some(t.get_flat_i64(0)));
        }
    }
    // Python ints beyond i64 clamp like torch's slice handling
    if let Ok(neg) = o
        .call_method1("__lt__", (0,))
        .and_then(|r| r.extract::<bool>())
    {
        if o.is_instance_of::<PyInt>() {
            return Ok(Some(if neg { i64::MIN } else { i64::MAX }));
        }
    }
    Err(PyTypeError::new_err(
        "slice indices must be integers or None or have an __index__ method",
    ))
}

fn bad_index(o: &Bound<'_, PyAny>) -> PyErr {
    PyIndexError::new_err(format!(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid indices (got {})",
        o.get_type().name().map(|n| n.to_string()).unwrap_or_default()
    ))
}

/// One element of an index tuple.
fn parse_item(o: &Bound<'_, PyAny>) -> PyResult<Idx> {
    if o.is_instance_of::<PyBool>() {
        return Ok(Idx::Bool(o.extract()?));
    }
    if o.is_instance_of::<PyInt>() {
        return Ok(Idx::Int(o.extract()?));
    }
    if let Ok(s) = o.cast::<PySlice>() {
        return Ok(Idx::Slice(
            opt_i64(&s.getattr("start")?)?,
            opt_i64(&s.getattr("stop")?)?,
            opt_i64(&s.getattr("step")?)?,
        ));
    }
    if o.is_none() {
        return Ok(Idx::None);
    }
    if o.is_instance_of::<PyEllipsis>() {
        return Ok(Idx::Ellipsis);
    }
    if let Ok(t) = o.cast::<PyTensor>() {
        return Ok(Idx::Tensor(t.borrow().t.clone()));
    }
    if let Ok(a) = o.cast::<PyUntypedArray>() {
        let t = convert::from_numpy(a, true)?;
        if t.dtype().is_float() {
            return Err(PyIndexError::new_err(
                "tensors used as indices must be long, int, byte or bool tensors",
            ));
        }
        return Ok(Idx::Tensor(t));
    }
    if o.is_instance_of::<PyList>() || o.is_instance_of::<PyTuple>() {
        let t = convert::tensor_from_data(o, None)?;
        if t.dtype().is_float() && t.numel() > 0 {
            return Err(PyIndexError::new_err(
                "tensors used as indices must be long, int, byte or bool tensors",
            ));
        }
        let t = if t.dtype().is_float() {
            t.to_dtype(DType::I64)
        } else {
            t
        };
        return Ok(Idx::Tensor(t));
    }
    if o.is_instance_of::<pyo3::types::PyFloat>() {
        return Err(bad_index(o));
    }
    // NumPy integer scalars and other objects with __index__
    if let Ok(i) = o.call_method0("__index__").and_then(|v| v.extract::<i64>()) {
        return Ok(Idx::Int(i));
    }
    Err(bad_index(o))
}

/// torch's rule for a non-tuple sequence key: treated as a tuple when it holds slices, Ellipsis,
/// None, tensors or sequences; otherwise it is one index tensor.
fn list_is_tuple(l: &Bound<'_, PyList>) -> bool {
    l.iter().any(|o| {
        o.is_none()
            || o.is_instance_of::<PySlice>()
            || o.is_instance_of::<PyEllipsis>()
            || o.cast::<PyTensor>().is_ok()
            || o.is_instance_of::<PyList>()
            || o.is_instance_of::<PyTuple>()
            || o.cast::<PyUntypedArray>().is_ok()
    })
}

fn parse_key(key: &Bound<'_, PyAny>) -> PyResult<Vec<Idx>> {
    if let Ok(t) = key.cast::<PyTuple>() {
        return t.iter().map(|o| parse_item(&o)).collect();
    }
    if let Ok(l) = key.cast::<PyList>() {
        if list_is_tuple(l) {
            return l.iter().map(|o| parse_item(&o)).collect();
        }
    }
    Ok(vec![parse_item(key)?])
}

/// The value of `x[key] = value` as a tensor (Python numbers wrapped; sequences in x's dtype).
fn setitem_value(x: &Tensor, value: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    if let Some(v) = convert::operand(value) {
        return Ok(v);
    }
    if value.cast::<PyUntypedArray>().is_ok()
        || value.is_instance_of::<PyList>()
        || value.is_instance_of::<PyTuple>()
    {
        return convert::tensor_from_data(value, Some(x.dtype()));
    }
    Err(PyTypeError::new_err(format!(
        "can't assign a {} to a {}",
        value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default(),
        crate::dispatch!(x.dtype(), T => std::any::type_name::<T>())
    )))
}

/// A `value` argument that must be a number or a 0-d tensor.
fn value_arg(v: &Bound<'_, PyAny>, op: &str) -> PyResult<Tensor> {
    convert::operand(v).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{op}(): argument 'value' must be Number or Tensor, not {}",
            v.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

fn index_arg(o: &Bound<'_, PyAny>, op: &str) -> PyResult<Tensor> {
    convert::tensor_arg(o, op, "index")
}

fn reduce_arg(reduce: Option<&str>, allow_mul: bool) -> PyResult<Reduce> {
    Ok(match reduce {
        None => Reduce::None,
        Some("add") | Some("sum") => Reduce::Add,
        Some("multiply") | Some("prod") if allow_mul => Reduce::Mul,
        Some(_) => {
            return Err(PyRuntimeError::new_err(
                "reduce argument must be either add or multiply.",
            ))
        }
    })
}

/// `scatter`'s third argument: a tensor `src`, or a number `value`.
fn scatter_src(
    src: Option<&Bound<'_, PyAny>>,
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Tensor> {
    match (src, value) {
        (Some(s), None) | (None, Some(s)) => convert::operand(s).ok_or_else(|| {
            PyTypeError::new_err(format!(
                "scatter(): argument 'src' must be Tensor, not {}",
                s.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        }),
        _ => Err(PyTypeError::new_err(
            "scatter() expects exactly one of 'src' or 'value'",
        )),
    }
}

#[pymethods]
impl PyTensor {
    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        // Fast paths: a single int or slice needs no parsing of a tuple.
        if key.is_instance_of::<PyInt>() && !key.is_instance_of::<PyBool>() {
            return Ok(ix::index_int(&self.t, key.extract()?)?.into());
        }
        let items = parse_key(key)?;
        Ok(ix::index(&self.t, &items)?.into())
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = setitem_value(&self.t, value)?;
        let items = if key.is_instance_of::<PyInt>() && !key.is_instance_of::<PyBool>() {
            vec![Idx::Int(key.extract()?)]
        } else if key.is_instance_of::<PyNone>() {
            vec![Idx::None]
        } else {
            parse_key(key)?
        };
        Ok(ix::setitem(&self.t, &items, &v)?)
    }

    #[pyo3(signature = (*, as_tuple=false))]
    fn nonzero<'py>(&self, py: Python<'py>, as_tuple: bool) -> PyResult<Bound<'py, PyAny>> {
        if as_tuple {
            let cols: Vec<PyTensor> = ix::nonzero_tuple(&self.t)
                .into_iter()
                .map(PyTensor::new)
                .collect();
            return Ok(PyTuple::new(py, cols)?.into_any());
        }
        Ok(Bound::new(py, PyTensor::new(ix::nonzero(&self.t)))?.into_any())
    }
    fn argwhere(&self) -> PyTensor {
        ix::nonzero(&self.t).into()
    }
    fn index_select(&self, dim: i64, index: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        Ok(ix::index_select(&self.t, dim, &index_arg(index, "index_select")?)?.into())
    }
    #[pyo3(signature = (dim, index, *, sparse_grad=false))]
    fn gather(&self, dim: i64, index: &Bound<'_, PyAny>, sparse_grad: bool) -> PyResult<PyTensor> {
        let _ = sparse_grad;
        Ok(ix::gather(&self.t, dim, &index_arg(index, "gather")?)?.into())
    }
    #[pyo3(signature = (dim, index, src=None, value=None, *, reduce=None))]
    fn scatter(
        &self,
        dim: i64,
        index: &Bound<'_, PyAny>,
        src: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        reduce: Option<&str>,
    ) -> PyResult<PyTensor> {
        let s = scatter_src(src, value)?;
        Ok(ix::scatter(
            &self.t,
            dim,
            &index_arg(index, "scatter")?,
            &s,
            reduce_arg(reduce, true)?,
            "scatter",
        )?
        .into())
    }
    #[pyo3(signature = (dim, index, src=None, value=None, *, reduce=None))]
    fn scatter_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: &Bound<'py, PyAny>,
        src: Option<&Bound<'py, PyAny>>,
        value: Option<&Bound<'py, PyAny>>,
        reduce: Option<&str>,
    ) -> PyResult<Bound<'py, Self>> {
        let s = scatter_src(src, value)?;
        let t = slf.borrow().t.clone();
        ix::scatter_(
            &t,
            dim,
            &index_arg(index, "scatter_")?,
            &s,
            reduce_arg(reduce, true)?,
            "scatter",
        )?;
        Ok(slf)
    }
    fn scatter_add(
        &self,
        dim: i64,
        index: &Bound<'_, PyAny>,
        src: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        let s = convert::tensor_arg(src, "scatter_add", "src")?;
        Ok(ix::scatter(
            &self.t,
            dim,
            &index_arg(index, "scatter_add")?,
            &s,
            Reduce::Add,
            "scatter_add",
        )?
        .into())
    }
    fn scatter_add_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: &Bound<'py, PyAny>,
        src: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let s = convert::tensor_arg(src, "scatter_add_", "src")?;
        let t = slf.borrow().t.clone();
        ix::scatter_(
            &t,
            dim,
            &index_arg(index, "scatter_add_")?,
            &s,
            Reduce::Add,
            "scatter_add",
        )?;
        Ok(slf)
    }
    fn masked_fill(&self, mask: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let m = convert::tensor_arg(mask, "masked_fill", "mask")?;
        Ok(ix::masked_fill(&self.t, &m, &value_arg(value, "masked_fill")?)?.into())
    }
    fn masked_fill_<'py>(
        slf: Bound<'py, Self>,
        mask: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let m = convert::tensor_arg(mask, "masked_fill_", "mask")?;
        let t = slf.borrow().t.clone();
        ix::masked_fill_(&t, &m, &value_arg(value, "masked_fill_")?)?;
        Ok(slf)
    }
    fn masked_select(&self, mask: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        let m = convert::tensor_arg(mask, "masked_select", "mask")?;
        Ok(ix::masked_select(&self.t, &m)?.into())
    }
    fn take(&self, index: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
        Ok(ix::take(&self.t, &index_arg(index, "take")?)?.into())
    }
    #[pyo3(signature = (index, source, accumulate=false))]
    fn put(
        &self,
        index: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        accumulate: bool,
    ) -> PyResult<PyTensor> {
        let s = convert::tensor_arg(source, "put", "source")?;
        Ok(ix::put(&self.t, &index_arg(index, "put")?, &s, accumulate)?.into())
    }
    #[pyo3(signature = (index, source, accumulate=false))]
    fn put_<'py>(
        slf: Bound<'py, Self>,
        index: &Bound<'py, PyAny>,
        source: &Bound<'py, PyAny>,
        accumulate: bool,
    ) -> PyResult<Bound<'py, Self>> {
        let s = convert::tensor_arg(source, "put_", "source")?;
        let t = slf.borrow().t.clone();
        ix::put_(&t, &index_arg(index, "put_")?, &s, accumulate)?;
        Ok(slf)
    }
    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add(
        &self,
        dim: i64,
        index: &Bound<'_, PyAny>,
        source: &Bound<'_, PyAny>,
        alpha: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyTensor> {
        let s = convert::tensor_arg(source, "index_add", "source")?;
        let a = alpha
            .and_then(convert::operand)
            .unwrap_or_else(|| Tensor::wrapped_scalar(1i64));
        Ok(ix::index_add(&self.t, dim, &index_arg(index, "index_add")?, &s, &a)?.into())
    }
    #[pyo3(signature = (dim, index, source, *, alpha=None))]
    fn index_add_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: &Bound<'py, PyAny>,
        source: &Bound<'py, PyAny>,
        alpha: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let s = convert::tensor_arg(source, "index_add_", "source")?;
        let a = alpha
            .and_then(convert::operand)
            .unwrap_or_else(|| Tensor::wrapped_scalar(1i64));
        let t = slf.borrow().t.clone();
        ix::index_add_(&t, dim, &index_arg(index, "index_add_")?, &s, &a)?;
        Ok(slf)
    }
    fn index_fill(
        &self,
        dim: i64,
        index: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<PyTensor> {
        Ok(ix::index_fill(
            &self.t,
            dim,
            &index_arg(index, "index_fill")?,
            &value_arg(value, "index_fill")?,
        )?
        .into())
    }
    fn index_fill_<'py>(
        slf: Bound<'py, Self>,
        dim: i64,
        index: &Bound<'py, PyAny>,
        value: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let t = slf.borrow().t.clone();
        ix::index_fill_(
            &t,
            dim,
            &index_arg(index, "index_fill_")?,
            &value_arg(value, "index_fill_")?,
        )?;
        Ok(slf)
    }
}
