//! Python values to core values and back: scalars, dims, sizes, dtypes, nested lists, NumPy arrays.

use super::dtype::PyDType;
use super::tensor::PyTensor;
use crate::dtype::{default_dtype, DType};
use crate::scalar::Scalar;
use crate::storage::Storage;
use crate::tensor::Tensor;
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyNotImplementedError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyTuple};
use std::sync::Arc;

/// A Python bool/int/float (or NumPy scalar) as a core scalar.
pub fn scalar(obj: &Bound<'_, PyAny>) -> Option<Scalar> {
    if obj.is_instance_of::<PyBool>() {
        return obj.extract::<bool>().ok().map(Scalar::Bool);
    }
    if obj.is_instance_of::<PyInt>() {
        return obj.extract::<i64>().ok().map(Scalar::Int);
    }
    if obj.is_instance_of::<PyFloat>() {
        return obj.extract::<f64>().ok().map(Scalar::Float);
    }
    // NumPy scalars: np.float32(1), np.int64(2), np.bool_(True)
    let tn = obj.get_type().name().ok()?;
    let tn = tn.to_str().ok()?;
    if tn.starts_with("float") {
        return obj.extract::<f64>().ok().map(Scalar::Float);
    }
    if tn.starts_with("int") || tn.starts_with("uint") {
        return obj.extract::<i64>().ok().map(Scalar::Int);
    }
    if tn == "bool" || tn == "bool_" {
        return obj.extract::<bool>().ok().map(Scalar::Bool);
    }
    None
}

/// The tensor behind a binary-op operand: a Tensor, or a Python number as a wrapped scalar.
pub fn operand(obj: &Bound<'_, PyAny>) -> Option<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Some(t.borrow().t.clone());
    }
    scalar(obj).map(|s| s.wrap())
}

/// Like `operand` but a TypeError naming the op for anything else.
pub fn operand_or_err(obj: &Bound<'_, PyAny>, op: &str) -> PyResult<Tensor> {
    operand(obj).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "{op}(): argument 'other' must be Tensor or Number, not {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })
}

pub fn tensor_arg(obj: &Bound<'_, PyAny>, op: &str, arg: &str) -> PyResult<Tensor> {
    match obj.cast::<PyTensor>() {
        Ok(t) => Ok(t.borrow().t.clone()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "{op}(): argument '{arg}' (position 1) must be Tensor, not {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))),
    }
}

/// A dtype argument: torch.dtype, or the Python types float/int/bool.
pub fn dtype(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return d.get().get();
    }
    let py = obj.py();
    if obj.is(py.get_type::<PyFloat>()) {
        return Ok(DType::F64);
    }
    if obj.is(py.get_type::<PyBool>()) {
        return Ok(DType::Bool);
    }
    if obj.is(py.get_type::<PyInt>()) {
        return Ok(DType::I64);
    }
    Err(PyTypeError::new_err(format!(
        "dtype must be a torch.dtype (e.g. torch.float32), not {}",
        obj.get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    )))
}

pub fn opt_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        Some(o) if !o.is_none() => dtype(o).map(Some),
        _ => Ok(None),
    }
}

fn int_of(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyFloat>() {
        return Err(PyTypeError::new_err(format!(
            "{what} must be int, not float"
        )));
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t.borrow().t;
        if t.numel() == 1 && !t.dtype().is_float() {
            return Ok(
                crate::dispatch!(t.dtype(), T => crate::dtype::Element::to_i64(t.get_flat::<T>(0))),
            );
        }
    }
    obj.extract::<i64>()
        .or_else(|_| {
            obj.call_method0("__index__")
                .and_then(|v| v.extract::<i64>())
        })
        .map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a sequence of ints, not {}",
                obj.get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ))
        })
}

/// `*size` arguments: `f(2, 3)`, `f((2, 3))`, `f([2, 3])` or `f(torch.Size([2, 3]))`.
pub fn sizes(args: &Bound<'_, PyTuple>) -> PyResult<Vec<i64>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() && a.cast::<PySequence>().is_ok() {
            return seq_ints(&a, "size");
        }
    }
    args.iter().map(|a| int_of(&a, "size")).collect()
}

pub fn seq_ints(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<i64>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        let t = t.to_dtype(DType::I64);
        return Ok(t.as_slice::<i64>().to_vec());
    }
    let seq = obj
        .cast::<PySequence>()
        .map_err(|_| PyTypeError::new_err(format!("{what} must be a tuple of ints")))?;
    (0..seq.len()?)
        .map(|i| int_of(&seq.get_item(i)?, what))
        .collect()
}

/// A `dim` argument: None, an int, or a tuple/list of ints.
pub fn dims(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<i64>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) if o.is_instance_of::<PyInt>() => Ok(Some(vec![o.extract()?])),
        Some(o) => seq_ints(o, "dim").map(Some),
    }
}

/// Data for `torch.tensor(data)`: a copy of nested lists, scalars, NumPy arrays or tensors.
pub fn tensor_from_data(obj: &Bound<'_, PyAny>, dt: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        return Ok(t.to_dtype(dt.unwrap_or(t.dtype())));
    }
    if let Ok(arr) = obj.cast::<PyUntypedArray>() {
        let t = from_numpy(arr, true)?;
        return Ok(t.to_dtype(dt.unwrap_or(t.dtype())));
    }
    if obj.hasattr("dtype").unwrap_or(false) && obj.hasattr("item").unwrap_or(false) {
        // A NumPy scalar keeps its dtype (np.float64(1.0) -> float64), as in torch.
        let arr = obj.py().import("numpy")?.call_method1("asarray", (obj,))?;
        if let Ok(arr) = arr.cast::<PyUntypedArray>() {
            let t = from_numpy(arr, true)?;
            return Ok(t.to_dtype(dt.unwrap_or(t.dtype())));
        }
    }
    if let Some(s) = scalar(obj) {
        let d = dt.unwrap_or_else(|| match s {
            Scalar::Float(_) => default_dtype(),
            other => other.dtype(),
        });
        return Ok(s.tensor(d));
    }
    let mut shape = Vec::new();
    let mut vals = Flat::default();
    walk(obj, 0, &mut shape, &mut vals)?;
    let inferred = if vals.has_float {
        default_dtype()
    } else if vals.has_int {
        DType::I64
    } else if vals.has_bool {
        DType::Bool
    } else {
        default_dtype()
    };
    let d = dt.unwrap_or(inferred);
    let n: usize = shape.iter().product();
    let t = if vals.has_float || d.is_float() {
        let v: Vec<f64> = vals.items.iter().map(|s| s.as_f64()).collect();
        Tensor::from_vec(v, &shape)?.to_dtype(d)
    } else {
        let v: Vec<i64> = vals.items.iter().map(|s| s.to::<i64>()).collect();
        Tensor::from_vec(v, &shape)?.to_dtype(d)
    };
    debug_assert_eq!(t.numel(), n);
    Ok(t)
}

#[derive(Default)]
struct Flat {
    items: Vec<Scalar>,
    has_float: bool,
    has_int: bool,
    has_bool: bool,
}

fn walk(
    obj: &Bound<'_, PyAny>,
    depth: usize,
    shape: &mut Vec<usize>,
    out: &mut Flat,
) -> PyResult<()> {
    if let Some(s) = scalar(obj) {
        if depth < shape.len() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got a scalar)",
                shape[depth], depth
            )));
        }
        match s {
            Scalar::Float(_) => out.has_float = true,
            Scalar::Int(_) => out.has_int = true,
            Scalar::Bool(_) => out.has_bool = true,
        }
        out.items.push(s);
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = t.borrow().t.clone();
        if t.ndim() == 0 {
            let s = crate::dispatch!(t.dtype(), T => {
                let v = t.get_flat::<T>(0);
                if t.dtype().is_float() { Scalar::Float(crate::dtype::Element::to_f64(v)) }
                else if t.dtype() == DType::Bool { Scalar::Bool(crate::dtype::Element::to_bool(v)) }
                else { Scalar::Int(crate::dtype::Element::to_i64(v)) }
            });
            return walk(&s_to_py(obj.py(), s)?, depth, shape, out);
        }
    }
    if obj.is_instance_of::<pyo3::types::PyString>() {
        return Err(PyTypeError::new_err("new(): invalid data type 'str'"));
    }
    let Ok(seq) = obj.cast::<PySequence>() else {
        return Err(PyTypeError::new_err(format!(
            "Could not infer dtype of {}",
            obj.get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        )));
    };
    let n = seq.len()?;
    if depth == shape.len() {
        if !out.items.is_empty() {
            return Err(PyValueError::new_err(format!(
                "expected sequence of length {} at dim {} (got a sequence)",
                out.items.len(),
                depth
            )));
        }
        shape.push(n);
    } else if shape[depth] != n {
        return Err(PyValueError::new_err(format!(
            "expected sequence of length {} at dim {} (got {})",
            shape[depth], depth, n
        )));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        for item in list.iter() {
            walk(&item, depth + 1, shape, out)?;
        }
    } else {
        for i in 0..n {
            walk(&seq.get_item(i)?, depth + 1, shape, out)?;
        }
    }
    Ok(())
}

fn s_to_py<'py>(py: Python<'py>, s: Scalar) -> PyResult<Bound<'py, PyAny>> {
    Ok(match s {
        Scalar::Bool(b) => PyBool::new(py, b).to_owned().into_any(),
        Scalar::Int(i) => i.into_pyobject(py)?.into_any(),
        Scalar::Float(f) => f.into_pyobject(py)?.into_any(),
    })
}

/// The dtype a NumPy array maps to, or torch-style errors.
fn numpy_dtype(arr: &Bound<'_, PyUntypedArray>) -> PyResult<DType> {
    let d = arr.dtype();
    let (kind, size) = (d.kind(), d.itemsize());
    if d.is_native_byteorder() == Some(false) {
        return Err(PyValueError::new_err("given numpy array has byte order different from the native byte order. Conversion between byte orders is currently not supported."));
    }
    Ok(match (kind, size) {
        (b'f', 4) => DType::F32,
        (b'f', 8) => DType::F64,
        (b'i', 8) => DType::I64,
        (b'i', 4) => DType::I32,
        (b'u', 1) => DType::U8,
        (b'b', 1) => DType::Bool,
        _ => {
            return Err(PyNotImplementedError::new_err(format!(
                "ferrotorch does not support NumPy dtype {} yet (supported: float32, float64, int64, int32, uint8, \
                 bool); convert with arr.astype(...)",
                d.str().map(|s| s.to_string()).unwrap_or_default()
            )))
        }
    })
}

/// A tensor over a NumPy array's memory (zero-copy, keeping the array alive); `copy` makes it own a copy.
pub fn from_numpy(arr: &Bound<'_, PyUntypedArray>, copy: bool) -> PyResult<Tensor> {
    let dt = numpy_dtype(arr)?;
    let item = dt.size() as isize;
    let shape: Vec<usize> = arr.shape().to_vec();
    let mut strides = Vec::with_capacity(shape.len());
    for &s in arr.strides() {
        if s < 0 {
            return Err(PyValueError::new_err(
                "At least one stride in the given numpy array is negative, and tensors with negative strides are \
                 not currently supported. (You can probably work around this by making a copy of your array with \
                 array.copy().) ",
            ));
        }
        if s % item != 0 {
            return Err(PyValueError::new_err(
                "given numpy array strides not a multiple of the element byte size. Copy the numpy array to \
                 reallocate the memory.",
            ));
        }
        strides.push(s / item);
    }
    let n: usize = shape.iter().product();
    let extent = if n == 0 {
        0
    } else {
        shape
            .iter()
            .zip(&strides)
            .map(|(&d, &s)| (d as isize - 1) * s)
            .sum::<isize>() as usize
            + 1
    };
    // SAFETY: a NumPy array's data pointer is valid for its extent while the array object lives.
    let data = unsafe { (*arr.as_array_ptr()).fields.data as *mut u8 };
    let owner: Py<PyAny> = arr.clone().into_any().unbind();
    // SAFETY: `owner` keeps the array (and so its buffer) alive for the storage's lifetime.
    let storage = unsafe { Storage::from_external(data, extent * item as usize, Box::new(owner)) };
    let t = Tensor::from_parts(
        Arc::new(storage),
        dt,
        shape.iter().copied().collect(),
        strides.iter().copied().collect(),
        0,
    );
    Ok(if copy { t.deep_clone() } else { t })
}

/// A NumPy array sharing the tensor's memory, whose base keeps the tensor alive.
pub fn to_numpy<'py>(slf: &Bound<'py, PyTensor>) -> PyResult<Bound<'py, PyAny>> {
    crate::graph::capture::value_read(".numpy()");
    use numpy::npyffi::{self, PY_ARRAY_API};
    let py = slf.py();
    let t = slf.borrow().t.clone();
    let descr = match t.dtype() {
        DType::F32 => numpy::dtype::<f32>(py),
        DType::F64 => numpy::dtype::<f64>(py),
        DType::I64 => numpy::dtype::<i64>(py),
        DType::I32 => numpy::dtype::<i32>(py),
        DType::U8 => numpy::dtype::<u8>(py),
        DType::Bool => numpy::dtype::<bool>(py),
    };
    let item = t.dtype().size() as isize;
    let mut dims: Vec<npyffi::npy_intp> =
        t.shape().iter().map(|&d| d as npyffi::npy_intp).collect();
    let mut strides: Vec<npyffi::npy_intp> = t
        .strides()
        .iter()
        .map(|&s| (s * item) as npyffi::npy_intp)
        .collect();
    static NDARRAY: pyo3::sync::PyOnceLock<Py<pyo3::types::PyType>> = pyo3::sync::PyOnceLock::new();
    let nd = NDARRAY.import(py, "numpy", "ndarray")?;
    // SAFETY: standard NumPy C-API calls; the array views memory kept alive by its base object (the tensor).
    unsafe {
        let arr_type = nd.as_type_ptr();
        let descr_ptr = descr.into_dtype_ptr();
        let ptr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            arr_type,
            descr_ptr,
            dims.len() as i32,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            t.data_ptr_addr() as *mut std::ffi::c_void,
            npyffi::NPY_ARRAY_WRITEABLE,
            std::ptr::null_mut(),
        );
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let base = slf.clone().into_any().unbind().into_ptr();
        if PY_ARRAY_API.PyArray_SetBaseObject(py, ptr as *mut npyffi::PyArrayObject, base) != 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, ptr))
    }
}
