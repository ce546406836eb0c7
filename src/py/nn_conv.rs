//! Bindings for conv / pooling / batch-norm (`_C._conv2d` …), called by `nn.functional`; big kernels run without the GIL.

use super::convert::tensor_arg;
use super::tensor::PyTensor;
use crate::error::Result;
use crate::ops::{conv, norm, pool};
use crate::tensor::Tensor;
use pyo3::prelude::*;

/// Above this many input+weight elements the GIL is released around the op.
const DETACH_MIN_ELEMS: usize = 1 << 14;

fn opt_tensor(o: Option<&Bound<'_, PyAny>>, op: &str, arg: &str) -> PyResult<Option<Tensor>> {
    match o {
        Some(o) if !o.is_none() => Ok(Some(tensor_arg(o, op, arg)?)),
        _ => Ok(None),
    }
}

/// Runs `f` with the GIL released when `size` is large (team workers never touch Python).
fn run<R: Send>(py: Python<'_>, size: usize, f: impl FnOnce() -> Result<R> + Send) -> PyResult<R> {
    if size >= DETACH_MIN_ELEMS {
        Ok(py.detach(f)?)
    } else {
        Ok(f()?)
    }
}

fn wrap(py: Python<'_>, t: Tensor) -> PyResult<Py<PyAny>> {
    Ok(Bound::new(py, PyTensor::new(t))?.into_any().unbind())
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, dilation, groups))]
fn _conv2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    groups: i64,
) -> PyResult<Py<PyAny>> {
    let x = tensor_arg(input, "conv2d", "input")?;
    let w = tensor_arg(weight, "conv2d", "weight")?;
    let b = opt_tensor(bias, "conv2d", "bias")?;
    let size = x.numel().saturating_add(w.numel());
    let r = run(py, size, || {
        conv::conv2d(&x, &w, b.as_ref(), &stride, &padding, &dilation, groups)
    })?;
    wrap(py, r)
}

#[pyfunction]
#[pyo3(signature = (input, weight, bias, stride, padding, output_padding, groups, dilation))]
fn _conv_transpose2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    weight: &Bound<'_, PyAny>,
    bias: Option<&Bound<'_, PyAny>>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    output_padding: Vec<i64>,
    groups: i64,
    dilation: Vec<i64>,
) -> PyResult<Py<PyAny>> {
    let x = tensor_arg(input, "conv_transpose2d", "input")?;
    let w = tensor_arg(weight, "conv_transpose2d", "weight")?;
    let b = opt_tensor(bias, "conv_transpose2d", "bias")?;
    let size = x.numel().saturating_add(w.numel());
    let r = run(py, size, || {
        conv::conv_transpose2d(
            &x,
            &w,
            b.as_ref(),
            &stride,
            &padding,
            &output_padding,
            groups,
            &dilation,
        )
    })?;
    wrap(py, r)
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride, padding, dilation, ceil_mode))]
fn _max_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    dilation: Vec<i64>,
    ceil_mode: bool,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let x = tensor_arg(input, "max_pool2d", "input")?;
    let (o, i) = run(py, x.numel(), || {
        pool::max_pool2d(&x, &kernel_size, &stride, &padding, &dilation, ceil_mode)
    })?;
    Ok((wrap(py, o)?, wrap(py, i)?))
}

#[pyfunction]
#[pyo3(signature = (input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override))]
fn _avg_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    kernel_size: Vec<i64>,
    stride: Vec<i64>,
    padding: Vec<i64>,
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<i64>,
) -> PyResult<Py<PyAny>> {
    let x = tensor_arg(input, "avg_pool2d", "input")?;
    let r = run(py, x.numel(), || {
        pool::avg_pool2d(
            &x,
            &kernel_size,
            &stride,
            &padding,
            ceil_mode,
            count_include_pad,
            divisor_override,
        )
    })?;
    wrap(py, r)
}

#[pyfunction]
fn _adaptive_avg_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    output_size: Vec<i64>,
) -> PyResult<Py<PyAny>> {
    let x = tensor_arg(input, "adaptive_avg_pool2d", "input")?;
    let r = run(py, x.numel(), || {
        pool::adaptive_avg_pool2d(&x, &output_size)
    })?;
    wrap(py, r)
}

#[pyfunction]
fn _adaptive_max_pool2d(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    output_size: Vec<i64>,
) -> PyResult<(Py<PyAny>, Py<PyAny>)> {
    let x = tensor_arg(input, "adaptive_max_pool2d", "input")?;
    let (o, i) = run(py, x.numel(), || {
        pool::adaptive_max_pool2d(&x, &output_size)
    })?;
    Ok((wrap(py, o)?, wrap(py, i)?))
}

#[pyfunction]
#[pyo3(signature = (input, running_mean, running_var, weight, bias, training, momentum, eps))]
fn _batch_norm(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    running_mean: Option<&Bound<'_, PyAny>>,
    running_var: Option<&Bound<'_, PyAny>>,
    weight: Option<&Bound<'_, PyAny>>,
    bias: Option<&Bound<'_, PyAny>>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> PyResult<Py<PyAny>> {
    let x = tensor_arg(input, "batch_norm", "input")?;
    let rm = opt_tensor(running_mean, "batch_norm", "running_mean")?;
    let rv = opt_tensor(running_var, "batch_norm", "running_var")?;
    let w = opt_tensor(weight, "batch_norm", "weight")?;
    let b = opt_tensor(bias, "batch_norm", "bias")?;
    let r = run(py, x.numel(), || {
        norm::batch_norm(
            &x,
            rm.as_ref(),
            rv.as_ref(),
            w.as_ref(),
            b.as_ref(),
            training,
            momentum,
            eps,
        )
    })?;
    wrap(py, r)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_conv2d, m)?)?;
    m.add_function(wrap_pyfunction!(_conv_transpose2d, m)?)?;
    m.add_function(wrap_pyfunction!(_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_adaptive_avg_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_adaptive_max_pool2d, m)?)?;
    m.add_function(wrap_pyfunction!(_batch_norm, m)?)?;
    Ok(())
}
