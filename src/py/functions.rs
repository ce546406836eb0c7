//! Module-level factories and utilities: tensor, zeros/ones/full/empty (+_like), arange, linspace, eye, threads, dtypes.

use super::convert;
use super::dtype::{check_device, PyDType};
use super::tensor::PyTensor;
use crate::dtype::{default_dtype, DType};
use crate::ops::creation;
use crate::scalar::Scalar;
use crate::tensor::Tensor;
use numpy::PyUntypedArray;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

fn finish(t: Tensor, requires_grad: bool) -> PyResult<PyTensor> {
    crate::graph::capture::constant(&t);
    if requires_grad {
        crate::graph::capture::refuse(|| "forward creates a tensor with requires_grad=True".into());
        t.set_requires_grad(true)?;
    }
    Ok(t.into())
}

#[pyfunction]
#[pyo3(signature = (data, *, dtype=None, device=None, requires_grad=false, pin_memory=false))]
fn tensor(
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<PyTensor> {
    let _ = pin_memory;
    check_device(device)?;
    let t = convert::tensor_from_data(data, convert::opt_dtype(dtype)?)?;
    finish(t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (data, dtype=None, device=None))]
fn as_tensor(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    check_device(device)?;
    let dt = convert::opt_dtype(dtype)?;
    if let Ok(t) = data.cast::<PyTensor>() {
        let tt = t.borrow().t.clone();
        return match dt {
            Some(d) if d != tt.dtype() => Ok(Bound::new(
                py,
                PyTensor::new(crate::ops::copy::to_dtype(&tt, d, false)?),
            )?
            .into_any()
            .unbind()),
            _ => Ok(t.clone().into_any().unbind()),
        };
    }
    if let Ok(arr) = data.cast::<PyUntypedArray>() {
        let t = convert::from_numpy(arr, false)?;
        let t = match dt {
            Some(d) if d != t.dtype() => t.to_dtype(d),
            _ => t,
        };
        return Ok(Bound::new(py, PyTensor::new(t))?.into_any().unbind());
    }
    Ok(
        Bound::new(py, PyTensor::new(convert::tensor_from_data(data, dt)?))?
            .into_any()
            .unbind(),
    )
}

#[pyfunction]
fn from_numpy(ndarray: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let arr = ndarray.cast::<PyUntypedArray>().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected np.ndarray (got {})",
            ndarray
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    Ok(convert::from_numpy(arr, false)?.into())
}

fn factory_args(
    op: &str,
    size: &Bound<'_, PyTuple>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<usize>, Option<DType>)> {
    check_device(device)?;
    let s = creation::check_sizes(op, &convert::sizes(size)?)?;
    Ok((s, convert::opt_dtype(dtype)?))
}

#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn zeros(
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<PyTensor> {
    let _ = (out, layout, pin_memory);
    let (s, dt) = factory_args("zeros", size, dtype, device)?;
    finish(
        Tensor::zeros(&s, dt.unwrap_or_else(default_dtype)),
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn ones(
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<PyTensor> {
    let _ = (out, layout, pin_memory);
    let (s, dt) = factory_args("ones", size, dtype, device)?;
    finish(
        creation::full(&s, Scalar::Int(1), dt.unwrap_or_else(default_dtype)),
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (*size, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false, memory_format=None))]
fn empty(
    size: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (out, layout, pin_memory, memory_format);
    let (s, dt) = factory_args("empty", size, dtype, device)?;
    finish(
        Tensor::empty(&s, dt.unwrap_or_else(default_dtype)),
        requires_grad,
    )
}

#[pyfunction]
#[pyo3(signature = (size, fill_value, *, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn full(
    size: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<PyTensor> {
    let _ = (out, layout, pin_memory);
    check_device(device)?;
    let s = creation::check_sizes("full", &convert::seq_ints(size, "size")?)?;
    let v = fill_scalar(fill_value)?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(|| v.dtype());
    finish(creation::full(&s, v, dt), requires_grad)
}

fn fill_scalar(v: &Bound<'_, PyAny>) -> PyResult<Scalar> {
    if let Some(s) = convert::scalar(v) {
        return Ok(s);
    }
    if let Ok(t) = v.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.numel() == 1 {
            return Ok(match t.dtype() {
                DType::F32 | DType::F64 => Scalar::Float(t.to_dtype(DType::F64).get_flat::<f64>(0)),
                DType::Bool => Scalar::Bool(t.get_flat::<bool>(0)),
                _ => Scalar::Int(t.to_dtype(DType::I64).get_flat::<i64>(0)),
            });
        }
    }
    Err(PyTypeError::new_err("fill_value must be a number"))
}

fn like_args(
    input: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Tensor, DType)> {
    check_device(device)?;
    let t = convert::tensor_arg(input, "like", "input")?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or(t.dtype());
    Ok((t, dt))
}

/// What a `Tensor.new_*` factory fills its tensor with.
pub(super) enum NewFill<'a, 'py> {
    Zeros,
    Ones,
    Empty,
    Full(&'a Bound<'py, PyAny>),
}

/// `Tensor.new_zeros/new_ones/new_empty(*size)` and `new_full(size, value)`: the factory with the
/// base tensor's dtype unless `dtype` is given. `size` holds the varargs, or `(size,)` for new_full,
/// whose size must be a sequence.
pub(super) fn new_factory(
    op: &str,
    base: &Tensor,
    size: &Bound<'_, PyTuple>,
    fill: NewFill<'_, '_>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let sizes_ok = size.len() != 1 || {
        let a = size.get_item(0)?;
        a.is_instance_of::<pyo3::types::PyInt>()
            || (a.cast::<pyo3::types::PySequence>().is_ok()
                && !a.is_instance_of::<pyo3::types::PyString>())
    };
    let seq_required = matches!(fill, NewFill::Full(_))
        && size.len() == 1
        && size.get_item(0)?.is_instance_of::<pyo3::types::PyInt>();
    if !sizes_ok || seq_required {
        let got = size.get_item(0)?.get_type().name()?.to_string();
        return Err(PyTypeError::new_err(format!(
            "{op}(): argument 'size' (position 1) must be tuple of ints, not {got}"
        )));
    }
    let (s, dt) = factory_args(op, size, dtype, device)?;
    let dt = dt.unwrap_or(base.dtype());
    let t = match fill {
        NewFill::Zeros => Tensor::zeros(&s, dt),
        NewFill::Ones => creation::full(&s, Scalar::Int(1), dt),
        NewFill::Empty => Tensor::empty(&s, dt),
        NewFill::Full(v) => creation::full(&s, fill_scalar(v)?, dt),
    };
    finish(t, requires_grad)
}

/// `Tensor.new_tensor(data)`: `torch.tensor(data)` with the base tensor's dtype unless `dtype` is
/// given; a tensor `data` is copied (detached), with torch's warning.
pub(super) fn new_tensor(
    py: Python<'_>,
    base: &Tensor,
    data: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    check_device(device)?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or(base.dtype());
    let t = if let Ok(src) = data.cast::<PyTensor>() {
        PyErr::warn(
            py,
            &py.get_type::<pyo3::exceptions::PyUserWarning>(),
            c"To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or sourceTensor.detach().clone().requires_grad_(True), rather than tensor.new_tensor(sourceTensor).",
            1,
        )?;
        let src = src.borrow().t.alias();
        crate::ops::copy::to_dtype(&src, dt, true)?
    } else {
        convert::tensor_from_data(data, Some(dt))?
    };
    finish(t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None))]
fn zeros_like(
    input: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (layout, memory_format);
    let (t, dt) = like_args(input, dtype, device)?;
    finish(Tensor::zeros(t.shape(), dt), requires_grad)
}

#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None))]
fn ones_like(
    input: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (layout, memory_format);
    let (t, dt) = like_args(input, dtype, device)?;
    finish(creation::full(t.shape(), Scalar::Int(1), dt), requires_grad)
}

#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None))]
fn empty_like(
    input: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (layout, memory_format);
    let (t, dt) = like_args(input, dtype, device)?;
    finish(Tensor::empty(t.shape(), dt), requires_grad)
}

#[pyfunction]
#[pyo3(signature = (input, fill_value, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None))]
fn full_like(
    input: &Bound<'_, PyAny>,
    fill_value: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
) -> PyResult<PyTensor> {
    let _ = (layout, memory_format);
    let (t, dt) = like_args(input, dtype, device)?;
    finish(
        creation::full(t.shape(), fill_scalar(fill_value)?, dt),
        requires_grad,
    )
}

/// `arange(end)`, `arange(start, end)`, `arange(start, end, step)`.
#[pyfunction]
#[pyo3(signature = (*args, out=None, dtype=None, layout=None, device=None, requires_grad=false, **kwargs))]
fn arange(
    args: &Bound<'_, PyTuple>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<PyTensor> {
    let _ = (out, layout);
    check_device(device)?;
    let mut vals: Vec<Scalar> = args
        .iter()
        .map(|a| fill_scalar(&a))
        .collect::<PyResult<_>>()?;
    if let Some(k) = kwargs {
        for name in ["start", "end", "step"] {
            if let Some(v) = k.get_item(name)? {
                let s = fill_scalar(&v)?;
                match name {
                    "start" => vals.insert(0, s),
                    _ => vals.push(s),
                }
            }
        }
    }
    let (start, end, step) = match vals.as_slice() {
        [e] => (Scalar::Int(0), *e, Scalar::Int(1)),
        [s, e] => (*s, *e, Scalar::Int(1)),
        [s, e, st] => (*s, *e, *st),
        _ => {
            return Err(PyTypeError::new_err(
                "arange() received an invalid combination of arguments",
            ))
        }
    };
    let any_float = start.is_float() || end.is_float() || step.is_float();
    let dt = convert::opt_dtype(dtype)?.unwrap_or(if any_float {
        default_dtype()
    } else {
        DType::I64
    });
    finish(creation::arange(start, end, step, dt)?, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, *, out=None, dtype=None, layout=None, device=None, requires_grad=false))]
fn linspace(
    start: f64,
    end: f64,
    steps: i64,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = (out, layout);
    check_device(device)?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(default_dtype);
    let t = if dt == DType::F32 {
        if steps < 0 {
            return Err(PyRuntimeError::new_err(
                "number of steps must be non-negative",
            ));
        }
        let n = steps as usize;
        Tensor::from_vec(creation::linspace_f32(start as f32, end as f32, n), &[n])?
    } else {
        creation::linspace(start, end, steps, dt)?
    };
    finish(t, requires_grad)
}

#[pyfunction]
#[pyo3(signature = (start, end, steps, base=10.0, *, out=None, dtype=None, layout=None, device=None, requires_grad=false))]
fn logspace(
    start: f64,
    end: f64,
    steps: i64,
    base: f64,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = (out, layout);
    check_device(device)?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(default_dtype);
    let v = creation::logspace_f64(start, end, steps, base)?;
    let n = v.len();
    finish(Tensor::from_vec(v, &[n])?.to_dtype(dt), requires_grad)
}

#[pyfunction]
#[pyo3(signature = (n, m=None, *, out=None, dtype=None, layout=None, device=None, requires_grad=false))]
fn eye(
    n: i64,
    m: Option<i64>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> PyResult<PyTensor> {
    let _ = (out, layout);
    check_device(device)?;
    let m = m.unwrap_or(n);
    if n < 0 || m < 0 {
        return Err(PyRuntimeError::new_err(format!(
            "n must be greater or equal to 0, got {}",
            n.min(m)
        )));
    }
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(default_dtype);
    finish(creation::eye(n as usize, m as usize, dt), requires_grad)
}

#[pyfunction]
fn is_tensor(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyTensor>().is_ok()
}

#[pyfunction]
fn set_num_threads(n: i64) -> PyResult<()> {
    if n <= 0 {
        return Err(PyRuntimeError::new_err(
            "Expected number of threads to be positive",
        ));
    }
    crate::threads::set_num_threads(n as usize);
    Ok(())
}

#[pyfunction]
fn get_num_threads() -> usize {
    crate::threads::num_threads()
}

#[pyfunction]
fn get_default_dtype() -> PyDType {
    PyDType::of(default_dtype())
}

#[pyfunction]
fn set_default_dtype(d: &Bound<'_, PyAny>) -> PyResult<()> {
    Ok(crate::dtype::set_default_dtype(convert::dtype(d)?)?)
}

#[pyfunction]
fn result_type(tensor1: &Bound<'_, PyAny>, tensor2: &Bound<'_, PyAny>) -> PyResult<PyDType> {
    let a = convert::operand_or_err(tensor1, "result_type")?;
    let b = convert::operand_or_err(tensor2, "result_type")?;
    Ok(PyDType::of(crate::ops::elementwise::result_type(&[&a, &b])))
}

#[pyfunction]
fn promote_types(type1: &Bound<'_, PyAny>, type2: &Bound<'_, PyAny>) -> PyResult<PyDType> {
    Ok(PyDType::of(crate::dtype::promote(
        convert::dtype(type1)?,
        convert::dtype(type2)?,
    )))
}

#[pyfunction]
fn can_cast(from_: &Bound<'_, PyAny>, to: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(crate::ops::elementwise::can_cast(
        convert::dtype(from_)?,
        convert::dtype(to)?,
    ))
}

/// `torch.where(cond, input, other)`; the one-argument form is `nonzero(as_tuple=True)`.
#[pyfunction]
#[pyo3(name = "where", signature = (condition, input=None, other=None, *, out=None))]
fn where_(
    py: Python<'_>,
    condition: &Bound<'_, PyAny>,
    input: Option<&Bound<'_, PyAny>>,
    other: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = out;
    let c = convert::tensor_arg(condition, "where", "condition")?;
    match (input, other) {
        (Some(a), Some(b)) => {
            let a = convert::operand_or_err(a, "where")?;
            let b = convert::operand_or_err(b, "where")?;
            Ok(
                Bound::new(py, PyTensor::new(crate::ops::indexing::where_(&c, &a, &b)?))?
                    .into_any()
                    .unbind(),
            )
        }
        (None, None) => Ok(condition
            .call_method1("nonzero", ())?
            .call_method1("unbind", (1,))?
            .unbind()),
        _ => Err(PyTypeError::new_err(
            "where() expects condition, input and other, or only condition",
        )),
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(tensor, m)?)?;
    m.add_function(wrap_pyfunction!(as_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(from_numpy, m)?)?;
    m.add_function(wrap_pyfunction!(zeros, m)?)?;
    m.add_function(wrap_pyfunction!(ones, m)?)?;
    m.add_function(wrap_pyfunction!(empty, m)?)?;
    m.add_function(wrap_pyfunction!(full, m)?)?;
    m.add_function(wrap_pyfunction!(zeros_like, m)?)?;
    m.add_function(wrap_pyfunction!(ones_like, m)?)?;
    m.add_function(wrap_pyfunction!(empty_like, m)?)?;
    m.add_function(wrap_pyfunction!(full_like, m)?)?;
    m.add_function(wrap_pyfunction!(arange, m)?)?;
    m.add_function(wrap_pyfunction!(linspace, m)?)?;
    m.add_function(wrap_pyfunction!(logspace, m)?)?;
    m.add_function(wrap_pyfunction!(eye, m)?)?;
    m.add_function(wrap_pyfunction!(is_tensor, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(set_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(result_type, m)?)?;
    m.add_function(wrap_pyfunction!(promote_types, m)?)?;
    m.add_function(wrap_pyfunction!(can_cast, m)?)?;
    m.add_function(wrap_pyfunction!(where_, m)?)?;
    Ok(())
}
