//! `torch.Generator`, seeding, the random factories and the in-place `Tensor` samplers.

use super::convert;
use super::dtype::{check_device, PyDevice};
use super::tensor::PyTensor;
use crate::dtype::{default_dtype, DType};
use crate::graph::capture;
use crate::ops::creation::check_sizes;
use crate::ops::elementwise::check_inplace;
use crate::random::{self as rng, Generator, SharedGenerator};
use crate::tensor::Tensor;
use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PySequence, PyTuple};
use std::sync::Arc;

/// `torch.Generator`: a handle on a CPU generator. The default generator's handle is one shared
/// object (`torch.default_generator`), so `torch.manual_seed(s) is torch.default_generator`.
#[pyclass(name = "Generator", module = "ferrotorch")]
pub struct PyGenerator {
    pub inner: SharedGenerator,
}

static DEFAULT_OBJ: PyOnceLock<Py<PyGenerator>> = PyOnceLock::new();

/// The Python object wrapping the process-wide generator.
pub fn default_generator_obj(py: Python<'_>) -> PyResult<Bound<'_, PyGenerator>> {
    let obj = DEFAULT_OBJ.get_or_try_init(py, || {
        Py::new(
            py,
            PyGenerator {
                inner: rng::default_generator().clone(),
            },
        )
    })?;
    Ok(obj.bind(py).clone())
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

/// A seed as torch's `Generator.manual_seed` takes it: an int in [-2^63, 2^64), negatives wrapping.
fn seed_value(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    if obj.is_instance_of::<PyFloat>() || !obj.is_instance_of::<PyInt>() {
        return Err(PyRuntimeError::new_err(format!(
            "manual_seed expected a long, but got {}",
            type_name(obj)
        )));
    }
    if let Ok(v) = obj.extract::<u64>() {
        return Ok(v);
    }
    match obj.extract::<i64>() {
        Ok(v) => Ok(v as u64),
        Err(_) => Err(PyValueError::new_err("Overflow when unpacking long long")),
    }
}

/// The generator behind a `generator=` argument (None means the default one).
/// Records `t.bernoulli_(p)` for replay: it draws again from the same generator.
fn record_bernoulli_scalar(scope: capture::Scope, t: &Tensor, p: f64, gen: SharedGenerator) {
    if scope.on() {
        scope.record("bernoulli_", &[t], &[t], move |i| {
            rng::bernoulli_scalar_(&i[0], p, &mut gen.lock())?;
            Ok(vec![i[0].clone()])
        });
    }
}

fn generator_arg(obj: Option<&Bound<'_, PyAny>>, op: &str) -> PyResult<SharedGenerator> {
    match obj {
        None => Ok(rng::default_generator().clone()),
        Some(o) if o.is_none() => Ok(rng::default_generator().clone()),
        Some(o) => match o.cast::<PyGenerator>() {
            Ok(g) => Ok(g.borrow().inner.clone()),
            Err(_) => Err(PyTypeError::new_err(format!(
                "{op}(): argument 'generator' must be torch.Generator, not {}",
                type_name(o)
            ))),
        },
    }
}

/// A 5056-element uint8 tensor holding a generator state.
fn state_tensor(g: &Generator) -> PyResult<PyTensor> {
    let b = g.get_state();
    let n = b.len();
    Ok(Tensor::from_vec(b, &[n])?.into())
}

/// The bytes of a state argument, with torch's TypeErrors for anything but a uint8 tensor.
fn state_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let t = match obj.cast::<PyTensor>() {
        Ok(t) => t.borrow().t.clone(),
        Err(_) => {
            return Err(PyTypeError::new_err(format!(
                "expected a torch.ByteTensor, but got {}",
                type_name(obj)
            )));
        }
    };
    if t.dtype() != DType::U8 {
        return Err(PyTypeError::new_err("RNG state must be a torch.ByteTensor"));
    }
    Ok((0..t.numel()).map(|i| t.get_flat::<u8>(i)).collect())
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device=None))]
    fn py_new(device: Option<&Bound<'_, PyAny>>) -> PyResult<Self> {
        check_device(device)?;
        Ok(PyGenerator {
            inner: Arc::new(Mutex::new(Generator::default())),
        })
    }

    /// Seeds the generator and returns it.
    fn manual_seed<'py>(
        slf: Bound<'py, Self>,
        seed: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let s = seed_value(seed)?;
        slf.borrow().inner.lock().manual_seed(s);
        Ok(slf)
    }

    /// Reseeds from OS entropy and returns the new seed.
    fn seed(&self) -> u64 {
        self.inner.lock().seed()
    }

    fn initial_seed(&self) -> u64 {
        self.inner.lock().initial_seed()
    }

    fn get_state(&self) -> PyResult<PyTensor> {
        state_tensor(&self.inner.lock())
    }

    fn set_state<'py>(
        slf: Bound<'py, Self>,
        new_state: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, Self>> {
        let b = state_bytes(new_state)?;
        slf.borrow().inner.lock().set_state(&b)?;
        Ok(slf)
    }

    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice {
            kind: "cpu".to_string(),
            index: None,
        }
    }

    /// Pickles like torch: `(Generator, (device,), (initial_seed, offset, state))`, the device as "cpu".
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
    ) -> PyResult<(
        Bound<'py, PyAny>,
        (&'static str,),
        (u64, Option<u64>, PyTensor),
    )> {
        let g = slf.borrow();
        let (seed, state) = {
            let inner = g.inner.lock();
            (inner.initial_seed(), state_tensor(&inner)?)
        };
        Ok((slf.get_type().into_any(), ("cpu",), (seed, None, state)))
    }

    fn __setstate__(&self, state: &Bound<'_, PyTuple>) -> PyResult<()> {
        if state.len() != 3 {
            return Err(PyValueError::new_err(
                "Generator.__setstate__ expects (seed, offset, state)",
            ));
        }
        let seed = seed_value(&state.get_item(0)?)?;
        let bytes = state_bytes(&state.get_item(2)?)?;
        let mut g = self.inner.lock();
        g.manual_seed(seed);
        g.set_state(&bytes)?;
        Ok(())
    }

    fn __repr__(&self) -> String {
        "<ferrotorch.Generator object>".to_string()
    }
}

// ------------------------------------------------------------------------------------------------
// seeding and state
// ------------------------------------------------------------------------------------------------

/// `torch.manual_seed(seed)`: like torch it first calls `int(seed)`, and returns the default generator.
#[pyfunction]
fn manual_seed<'py>(
    py: Python<'py>,
    seed: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyGenerator>> {
    let as_int = py.get_type::<PyInt>().call1((seed,))?;
    let s = seed_value(&as_int)?;
    rng::manual_seed(s);
    default_generator_obj(py)
}

#[pyfunction]
fn seed() -> u64 {
    rng::seed()
}

#[pyfunction]
fn initial_seed() -> u64 {
    rng::initial_seed()
}

#[pyfunction]
fn get_rng_state() -> PyResult<PyTensor> {
    state_tensor(&rng::default_generator().lock())
}

#[pyfunction]
fn set_rng_state(new_state: &Bound<'_, PyAny>) -> PyResult<()> {
    let b = match new_state.cast::<PyTensor>() {
        Ok(_) => state_bytes(new_state)?,
        Err(_) => return Err(PyTypeError::new_err("RNG state must be a torch.ByteTensor")),
    };
    rng::default_generator().lock().set_state(&b)?;
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// argument helpers
// ------------------------------------------------------------------------------------------------

/// Sizes from `*size` varargs or a `size=` keyword.
fn size_args(
    op: &str,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<usize>> {
    let raw = match size {
        Some(s) if !s.is_none() => {
            if !args.is_empty() {
                return Err(PyTypeError::new_err(format!(
                    "{op}() got multiple values for argument 'size'"
                )));
            }
            if s.is_instance_of::<PyInt>() {
                vec![s.extract::<i64>()?]
            } else {
                convert::seq_ints(s, "size")?
            }
        }
        _ => {
            if args.is_empty() {
                return Err(PyTypeError::new_err(format!(
                    "{op}() received an invalid combination of arguments - got (), but expected (tuple of ints size, *, \
                     torch.Generator generator, ...)"
                )));
            }
            convert::sizes(args)?
        }
    };
    Ok(check_sizes(op, &raw)?)
}

/// An integer argument (Python int, integer 0-d tensor or `__index__`), torch's TypeError otherwise.
fn int_arg(obj: &Bound<'_, PyAny>, op: &str, name: &str, pos: usize) -> PyResult<i64> {
    let bad = || {
        PyTypeError::new_err(format!(
            "{op}(): argument '{name}' (position {pos}) must be int, not {}",
            type_name(obj)
        ))
    };
    if obj.is_instance_of::<PyBool>() || obj.is_instance_of::<PyFloat>() {
        return Err(bad());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.numel() == 1 && !t.dtype().is_float() && t.dtype() != DType::Bool {
            return Ok(
                crate::dispatch!(t.dtype(), T => crate::dtype::Element::to_i64(t.get_flat::<T>(0))),
            );
        }
        return Err(bad());
    }
    if obj.is_instance_of::<PyInt>() {
        return obj
            .extract::<i64>()
            .map_err(|_| PyValueError::new_err("Overflow when unpacking long long"));
    }
    match obj.call_method0("__index__") {
        Ok(v) => v
            .extract::<i64>()
            .map_err(|_| PyValueError::new_err("Overflow when unpacking long long")),
        Err(_) => Err(bad()),
    }
}

/// A float argument (Python int/float, one-element tensor).
fn float_arg(obj: &Bound<'_, PyAny>, op: &str, name: &str) -> PyResult<f64> {
    if let Some(s) = convert::scalar(obj) {
        return Ok(s.as_f64());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.numel() == 1 {
            return Ok(
                crate::dispatch!(t.dtype(), T => crate::dtype::Element::to_f64(t.get_flat::<T>(0))),
            );
        }
    }
    Err(PyTypeError::new_err(format!(
        "{op}(): argument '{name}' must be float, not {}",
        type_name(obj)
    )))
}

fn finish(py: Python<'_>, t: Tensor, requires_grad: bool) -> PyResult<Py<PyAny>> {
    if requires_grad {
        if !t.dtype().is_float() {
            return Err(PyRuntimeError::new_err(
                "Only Tensors of floating point and complex dtype can require gradients",
            ));
        }
        t.set_requires_grad(true)?;
    }
    Ok(Py::new(py, PyTensor::new(t))?.into_any())
}

/// Runs a factory: into `out=` (resized to `shape` when needed, keeping its dtype) or a fresh tensor.
fn produce(
    py: Python<'_>,
    shape: &[usize],
    dtype: DType,
    out: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    fill: impl FnOnce(&Tensor) -> crate::error::Result<()>,
) -> PyResult<Py<PyAny>> {
    match out {
        Some(o) if !o.is_none() => {
            let ot = o.cast::<PyTensor>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "argument 'out' must be Tensor, not {}",
                    type_name(o)
                ))
            })?;
            let target = {
                let mut ob = ot.borrow_mut();
                if ob.t.shape() != shape {
                    let fresh = Tensor::empty(shape, ob.t.dtype());
                    ob.t = ob.t.with_data_of(&fresh);
                }
                ob.t.clone()
            };
            check_inplace(&target)?;
            fill(&target)?;
            Ok(o.clone().unbind())
        }
        _ => {
            let t = Tensor::empty(shape, dtype);
            fill(&t)?;
            finish(py, t, requires_grad)
        }
    }
}

fn like_input(
    input: &Bound<'_, PyAny>,
    op: &str,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<usize>, DType)> {
    check_device(device)?;
    let t = convert::tensor_arg(input, op, "input")?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or(t.dtype());
    Ok((t.shape().to_vec(), dt))
}

// ------------------------------------------------------------------------------------------------
// factories
// ------------------------------------------------------------------------------------------------

#[pyfunction]
#[pyo3(signature = (*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn rand(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory);
    check_device(device)?;
    let shape = size_args("rand", args, size)?;
    let gen = generator_arg(generator, "rand")?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(default_dtype);
    produce(py, &shape, dt, out, requires_grad, |t| {
        rng::uniform_(t, 0.0, 1.0, &mut gen.lock())
    })
}

#[pyfunction]
#[pyo3(signature = (*args, size=None, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn randn(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory);
    check_device(device)?;
    let shape = size_args("randn", args, size)?;
    let gen = generator_arg(generator, "randn")?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(default_dtype);
    produce(py, &shape, dt, out, requires_grad, |t| {
        rng::normal_(t, 0.0, 1.0, &mut gen.lock())
    })
}

/// `randint(high, size)`, `randint(low, high, size)`, with `low=`/`high=`/`size=` keywords too.
#[pyfunction]
#[pyo3(signature = (*args, low=None, high=None, size=None, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn randint(
    py: Python<'_>,
    args: &Bound<'_, PyTuple>,
    low: Option<&Bound<'_, PyAny>>,
    high: Option<&Bound<'_, PyAny>>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory);
    check_device(device)?;
    let mut pos: Vec<Bound<'_, PyAny>> = args.iter().collect();
    // The size is the trailing positional sequence unless given by keyword.
    let size_obj = match size {
        Some(s) if !s.is_none() => s.clone(),
        _ => match pos.pop() {
            Some(s) => s,
            None => {
                return Err(PyTypeError::new_err(
                    "randint() received an invalid combination of arguments - got (), but expected one of: (int high, \
                     tuple of ints size, ...) or (int low, int high, tuple of ints size, ...)",
                ))
            }
        },
    };
    let size_pos = pos.len() + 1;
    if size_obj.is_instance_of::<PyInt>() || size_obj.cast::<PySequence>().is_err() {
        return Err(PyTypeError::new_err(format!(
            "randint(): argument 'size' (position {size_pos}) must be tuple of ints, not {}",
            type_name(&size_obj)
        )));
    }
    let shape = check_sizes("randint", &convert::seq_ints(&size_obj, "size")?)?;
    let (lo, hi) = match (pos.as_slice(), low, high) {
        ([h], None, None) => (0, int_arg(h, "randint", "high", 1)?),
        ([l, h], None, None) => (int_arg(l, "randint", "low", 1)?, int_arg(h, "randint", "high", 2)?),
        ([l], None, Some(h)) => (int_arg(l, "randint", "low", 1)?, int_arg(h, "randint", "high", 2)?),
        ([], l, Some(h)) => {
            let lo = match l {
                Some(l) if !l.is_none() => int_arg(l, "randint", "low", 1)?,
                _ => 0,
            };
            (lo, int_arg(h, "randint", "high", 2)?)
        }
        _ => {
            return Err(PyTypeError::new_err(
                "randint() received an invalid combination of arguments - expected (int high, tuple of ints size) or \
                 (int low, int high, tuple of ints size)",
            ))
        }
    };
    let gen = generator_arg(generator, "randint")?;
    let dt = convert::opt_dtype(dtype)?.unwrap_or(DType::I64);
    produce(py, &shape, dt, out, requires_grad, |t| {
        rng::random_from_to_(t, lo, Some(hi), &mut gen.lock())
    })
}

#[pyfunction]
#[pyo3(signature = (n, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn randperm(
    py: Python<'_>,
    n: &Bound<'_, PyAny>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory);
    check_device(device)?;
    let n = int_arg(n, "randperm", "n", 1)?;
    let gen = generator_arg(generator, "randperm")?;
    let dt = match (convert::opt_dtype(dtype)?, out) {
        (Some(d), _) => d,
        (None, Some(o)) if !o.is_none() => o
            .cast::<PyTensor>()
            .map(|t| t.borrow().t.dtype())
            .unwrap_or(DType::I64),
        _ => DType::I64,
    };
    let t = rng::randperm(n, dt, &mut gen.lock())?;
    match out {
        Some(o) if !o.is_none() => produce(py, t.shape(), dt, out, false, |dst| {
            crate::ops::copy::copy_(dst, &t)
        }),
        _ => finish(py, t, requires_grad),
    }
}

/// `normal(mean, std, size)` with floats, or `normal(mean, std)` where either is a tensor.
#[pyfunction]
#[pyo3(signature = (mean, std=None, size=None, *, generator=None, out=None, dtype=None, layout=None, device=None, requires_grad=false, pin_memory=false))]
fn normal(
    py: Python<'_>,
    mean: &Bound<'_, PyAny>,
    std: Option<&Bound<'_, PyAny>>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    pin_memory: bool,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, pin_memory);
    check_device(device)?;
    let gen = generator_arg(generator, "normal")?;
    let mean_t = mean.cast::<PyTensor>().ok().map(|t| t.borrow().t.clone());
    let std_t = std
        .and_then(|s| s.cast::<PyTensor>().ok())
        .map(|t| t.borrow().t.clone());
    if mean_t.is_some() || std_t.is_some() {
        let m = match &mean_t {
            Some(t) => Ok(t),
            None => Err(float_arg(mean, "normal", "mean")?),
        };
        let s = match (&std_t, std) {
            (Some(t), _) => Ok(t),
            (None, Some(s)) if !s.is_none() => Err(float_arg(s, "normal", "std")?),
            _ => Err(1.0),
        };
        let r = rng::normal_tensor(m, s, &mut gen.lock())?;
        return match out {
            Some(o) if !o.is_none() => produce(py, r.shape(), r.dtype(), out, false, |dst| {
                crate::ops::copy::copy_(dst, &r)
            }),
            _ => finish(py, r, requires_grad),
        };
    }
    let (Some(std), Some(size)) = (std.filter(|s| !s.is_none()), size.filter(|s| !s.is_none()))
    else {
        return Err(PyTypeError::new_err(format!(
            "normal() received an invalid combination of arguments - got ({}{}), but expected one of: (Tensor mean, \
             Tensor std), (Tensor mean, float std), (float mean, Tensor std), (float mean, float std, tuple of ints \
             size)",
            type_name(mean),
            std.map(|s| format!(", {}", type_name(s))).unwrap_or_default()
        )));
    };
    let m = float_arg(mean, "normal", "mean")?;
    let s = float_arg(std, "normal", "std")?;
    let shape = if size.is_instance_of::<PyInt>() {
        check_sizes("normal", &[size.extract::<i64>()?])?
    } else {
        check_sizes("normal", &convert::seq_ints(size, "size")?)?
    };
    let dt = convert::opt_dtype(dtype)?.unwrap_or_else(default_dtype);
    produce(py, &shape, dt, out, requires_grad, |t| {
        rng::normal_(t, m, s, &mut gen.lock())
    })
}

#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None, generator=None))]
fn rand_like(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, memory_format);
    let (shape, dt) = like_input(input, "rand_like", dtype, device)?;
    let gen = generator_arg(generator, "rand_like")?;
    produce(py, &shape, dt, None, requires_grad, |t| {
        rng::uniform_(t, 0.0, 1.0, &mut gen.lock())
    })
}

#[pyfunction]
#[pyo3(signature = (input, *, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None, generator=None))]
fn randn_like(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, memory_format);
    let (shape, dt) = like_input(input, "randn_like", dtype, device)?;
    let gen = generator_arg(generator, "randn_like")?;
    produce(py, &shape, dt, None, requires_grad, |t| {
        rng::normal_(t, 0.0, 1.0, &mut gen.lock())
    })
}

/// `randint_like(input, high)` or `randint_like(input, low, high)`; keeps input's dtype.
#[pyfunction]
#[pyo3(signature = (input, *args, low=None, high=None, dtype=None, layout=None, device=None, requires_grad=false, memory_format=None, generator=None))]
fn randint_like(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    args: &Bound<'_, PyTuple>,
    low: Option<&Bound<'_, PyAny>>,
    high: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    layout: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
    memory_format: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let _ = (layout, memory_format);
    let (shape, dt) = like_input(input, "randint_like", dtype, device)?;
    let pos: Vec<Bound<'_, PyAny>> = args.iter().collect();
    let op = "randint_like";
    let (lo, hi) = match (pos.as_slice(), low.filter(|l| !l.is_none()), high.filter(|h| !h.is_none())) {
        ([h], None, None) => (0, int_arg(h, op, "high", 1)?),
        ([l, h], None, None) => (int_arg(l, op, "low", 1)?, int_arg(h, op, "high", 2)?),
        ([l], None, Some(h)) => (int_arg(l, op, "low", 1)?, int_arg(h, op, "high", 2)?),
        ([], l, Some(h)) => (l.map(|l| int_arg(l, op, "low", 1)).transpose()?.unwrap_or(0), int_arg(h, op, "high", 2)?),
        _ => {
            return Err(PyTypeError::new_err(
                "randint_like() received an invalid combination of arguments - expected (Tensor input, int high) or \
                 (Tensor input, int low, int high)",
            ))
        }
    };
    let gen = generator_arg(generator, op)?;
    produce(py, &shape, dt, None, requires_grad, |t| {
        rng::random_from_to_(t, lo, Some(hi), &mut gen.lock())
    })
}

/// `bernoulli(input)` draws with input's probabilities; `bernoulli(input, p)` uses the float p.
#[pyfunction]
#[pyo3(signature = (input, p=None, *, generator=None, out=None))]
fn bernoulli(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    p: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let x = convert::tensor_arg(input, "bernoulli", "input")?;
    let gen = generator_arg(generator, "bernoulli")?;
    match p.filter(|p| !p.is_none()) {
        Some(p) => {
            let pv = float_arg(p, "bernoulli", "p")?;
            produce(py, x.shape(), x.dtype(), out, false, |t| {
                rng::bernoulli_scalar_(t, pv, &mut gen.lock())
            })
        }
        None => produce(py, x.shape(), x.dtype(), out, false, |t| {
            rng::bernoulli_tensor_(t, &x, &mut gen.lock())
        }),
    }
}

#[pyfunction]
#[pyo3(signature = (input, num_samples, replacement=false, *, generator=None, out=None))]
fn multinomial(
    py: Python<'_>,
    input: &Bound<'_, PyAny>,
    num_samples: &Bound<'_, PyAny>,
    replacement: bool,
    generator: Option<&Bound<'_, PyAny>>,
    out: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let x = convert::tensor_arg(input, "multinomial", "input")?;
    let n = int_arg(num_samples, "multinomial", "num_samples", 2)?;
    let gen = generator_arg(generator, "multinomial")?;
    let r = rng::multinomial(&x, n, replacement, &mut gen.lock())?;
    match out {
        Some(o) if !o.is_none() => produce(py, r.shape(), DType::I64, out, false, |dst| {
            crate::ops::copy::copy_(dst, &r)
        }),
        _ => finish(py, r, false),
    }
}

// ------------------------------------------------------------------------------------------------
// in-place Tensor samplers
// ------------------------------------------------------------------------------------------------

/// Positional or keyword (`from`, `to`, ...) float arguments of an in-place sampler.
fn float_params(
    op: &str,
    args: &Bound<'_, PyTuple>,
    kwargs: Option<&Bound<'_, PyDict>>,
    names: &[&str],
    defaults: &[f64],
) -> PyResult<Vec<f64>> {
    if args.len() > names.len() {
        return Err(PyTypeError::new_err(format!(
            "{op}() takes at most {} positional arguments ({} given)",
            names.len(),
            args.len()
        )));
    }
    let mut vals = defaults.to_vec();
    for (i, a) in args.iter().enumerate() {
        vals[i] = float_arg(&a, op, names[i])?;
    }
    if let Some(k) = kwargs {
        for (key, v) in k.iter() {
            let key: String = key.extract()?;
            match names.iter().position(|n| *n == key) {
                Some(i) if i < args.len() => {
                    return Err(PyTypeError::new_err(format!(
                        "{op}() got multiple values for argument '{key}'"
                    )))
                }
                Some(i) => vals[i] = float_arg(&v, op, names[i])?,
                None => {
                    return Err(PyTypeError::new_err(format!(
                        "{op}() got an unexpected keyword argument '{key}'"
                    )))
                }
            }
        }
    }
    Ok(vals)
}

/// Checks an in-place target and returns its tensor.
fn inplace_target(slf: &Bound<'_, PyTensor>) -> PyResult<Tensor> {
    let t = slf.borrow().t.clone();
    check_inplace(&t)?;
    Ok(t)
}

#[pymethods]
impl PyTensor {
    /// `uniform_(from=0, to=1, *, generator=None)`.
    #[pyo3(signature = (*args, generator=None, **kwargs))]
    fn uniform_<'py>(
        slf: Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        generator: Option<&Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        let v = float_params("uniform_", args, kwargs, &["from", "to"], &[0.0, 1.0])?;
        let gen = generator_arg(generator, "uniform_")?;
        let t = inplace_target(&slf)?;
        rng::uniform_(&t, v[0], v[1], &mut gen.lock())?;
        Ok(slf)
    }

    /// `normal_(mean=0, std=1, *, generator=None)`.
    #[pyo3(signature = (*args, generator=None, **kwargs))]
    fn normal_<'py>(
        slf: Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        generator: Option<&Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        let v = float_params("normal_", args, kwargs, &["mean", "std"], &[0.0, 1.0])?;
        let gen = generator_arg(generator, "normal_")?;
        let t = inplace_target(&slf)?;
        rng::normal_(&t, v[0], v[1], &mut gen.lock())?;
        Ok(slf)
    }

    /// `random_()`, `random_(to)`, `random_(from, to)` (`to=None` means the dtype's maximum).
    #[pyo3(signature = (*args, generator=None, **kwargs))]
    fn random_<'py>(
        slf: Bound<'py, Self>,
        args: &Bound<'py, PyTuple>,
        generator: Option<&Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> PyResult<Bound<'py, Self>> {
        let op = "random_";
        let invalid = || {
            PyTypeError::new_err("random_() received an invalid combination of arguments - expected one of: (int from, int to = None, *, torch.Generator generator), (int to, *, torch.Generator generator), (*, torch.Generator generator)")
        };
        let (mut kw_from, mut kw_to) = (None, None);
        if let Some(k) = kwargs {
            for (key, v) in k.iter() {
                match key.extract::<String>()?.as_str() {
                    "from" => kw_from = Some(v),
                    "to" => kw_to = Some(v),
                    _ => return Err(invalid()),
                }
            }
        }
        // torch's overloads: random_(from, to=None), random_(to), random_().
        let (from, to): (Option<Bound<'py, PyAny>>, Option<Bound<'py, PyAny>>) = match args.len() {
            0 => (kw_from, kw_to),
            1 if kw_from.is_some() => return Err(invalid()),
            1 if kw_to.is_some() => (Some(args.get_item(0)?), kw_to),
            1 => (None, Some(args.get_item(0)?)),
            2 if kw_from.is_none() && kw_to.is_none() => {
                (Some(args.get_item(0)?), Some(args.get_item(1)?))
            }
            _ => return Err(invalid()),
        };
        let from_v = from
            .as_ref()
            .map(|v| int_arg(v, op, "from", 1))
            .transpose()?;
        let to_v = match &to {
            Some(v) if !v.is_none() => {
                Some(int_arg(v, op, "to", if from.is_some() { 2 } else { 1 })?)
            }
            _ => None,
        };
        let gen = generator_arg(generator, op)?;
        let t = inplace_target(&slf)?;
        let mut g = gen.lock();
        match (from_v, to_v) {
            (None, None) => rng::random_(&t, &mut g)?,
            (f, Some(to)) => rng::random_from_to_(&t, f.unwrap_or(0), Some(to), &mut g)?,
            (Some(f), None) => rng::random_from_to_(&t, f, None, &mut g)?,
        }
        Ok(slf)
    }

    /// `bernoulli_(p=0.5, *, generator=None)` with a float or tensor p.
    #[pyo3(signature = (p=None, *, generator=None))]
    fn bernoulli_<'py>(
        slf: Bound<'py, Self>,
        p: Option<&Bound<'py, PyAny>>,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let gen = generator_arg(generator, "bernoulli_")?;
        let t = inplace_target(&slf)?;
        let scope = capture::scope_mut(&[&t]);
        match p.filter(|p| !p.is_none()) {
            Some(p) => match p.cast::<PyTensor>() {
                Ok(pt) => {
                    let pt = pt.borrow().t.clone();
                    rng::bernoulli_tensor_(&t, &pt, &mut gen.lock())?;
                    if scope.on() {
                        // replay draws from the same generator, so the stream advances as in eager code
                        scope.record("bernoulli_", &[&t, &pt], &[&t], move |i| {
                            rng::bernoulli_tensor_(&i[0], &i[1], &mut gen.lock())?;
                            Ok(vec![i[0].clone()])
                        });
                    }
                }
                Err(_) => {
                    let pf = float_arg(p, "bernoulli_", "p")?;
                    rng::bernoulli_scalar_(&t, pf, &mut gen.lock())?;
                    record_bernoulli_scalar(scope, &t, pf, gen);
                }
            },
            None => {
                rng::bernoulli_scalar_(&t, 0.5, &mut gen.lock())?;
                record_bernoulli_scalar(scope, &t, 0.5, gen);
            }
        }
        Ok(slf)
    }

    /// `x.bernoulli()` samples with x as probabilities; `x.bernoulli(p)` with a float p.
    #[pyo3(signature = (p=None, *, generator=None))]
    fn bernoulli(
        &self,
        py: Python<'_>,
        p: Option<&Bound<'_, PyAny>>,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let x = Py::new(py, PyTensor::new(self.t.clone()))?;
        bernoulli(py, x.bind(py).as_any(), p, generator, None)
    }

    /// `exponential_(lambd=1, *, generator=None)`.
    #[pyo3(signature = (lambd=1.0, *, generator=None))]
    fn exponential_<'py>(
        slf: Bound<'py, Self>,
        lambd: f64,
        generator: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, Self>> {
        let gen = generator_arg(generator, "exponential_")?;
        let t = inplace_target(&slf)?;
        rng::exponential_(&t, lambd, &mut gen.lock())?;
        Ok(slf)
    }

    #[pyo3(signature = (num_samples, replacement=false, *, generator=None))]
    fn multinomial(
        &self,
        py: Python<'_>,
        num_samples: &Bound<'_, PyAny>,
        replacement: bool,
        generator: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let x = Py::new(py, PyTensor::new(self.t.clone()))?;
        multinomial(
            py,
            x.bind(py).as_any(),
            num_samples,
            replacement,
            generator,
            None,
        )
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    m.add("default_generator", default_generator_obj(m.py())?)?;
    m.add_function(wrap_pyfunction!(manual_seed, m)?)?;
    m.add_function(wrap_pyfunction!(seed, m)?)?;
    m.add_function(wrap_pyfunction!(initial_seed, m)?)?;
    m.add_function(wrap_pyfunction!(get_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(set_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(rand, m)?)?;
    m.add_function(wrap_pyfunction!(randn, m)?)?;
    m.add_function(wrap_pyfunction!(randint, m)?)?;
    m.add_function(wrap_pyfunction!(randperm, m)?)?;
    m.add_function(wrap_pyfunction!(normal, m)?)?;
    m.add_function(wrap_pyfunction!(rand_like, m)?)?;
    m.add_function(wrap_pyfunction!(randn_like, m)?)?;
    m.add_function(wrap_pyfunction!(randint_like, m)?)?;
    m.add_function(wrap_pyfunction!(bernoulli, m)?)?;
    m.add_function(wrap_pyfunction!(multinomial, m)?)?;
    Ok(())
}
