//! `torch.dtype` and `torch.device` objects.

use crate::dtype::DType;
use pyo3::exceptions::{PyNotImplementedError, PyRuntimeError};
use pyo3::prelude::*;

/// A dtype object. Codes past the supported six name torch dtypes ferrotorch cannot hold yet.
#[pyclass(name = "dtype", module = "ferrotorch", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub code: u8,
}

const UNSUPPORTED: [&str; 7] = [
    "float16",
    "bfloat16",
    "int8",
    "int16",
    "complex64",
    "complex128",
    "uint16",
];
const SUPPORTED: [DType; 6] = [
    DType::Bool,
    DType::U8,
    DType::I32,
    DType::I64,
    DType::F32,
    DType::F64,
];

impl PyDType {
    pub fn of(dt: DType) -> PyDType {
        PyDType {
            code: SUPPORTED.iter().position(|&d| d == dt).unwrap_or(0) as u8,
        }
    }
    pub fn name(&self) -> &'static str {
        match SUPPORTED.get(self.code as usize) {
            Some(d) => d.name(),
            None => UNSUPPORTED[self.code as usize - SUPPORTED.len()],
        }
    }
    pub fn get(&self) -> PyResult<DType> {
        SUPPORTED.get(self.code as usize).copied().ok_or_else(|| {
            PyNotImplementedError::new_err(format!(
                "ferrotorch does not support dtype torch.{} yet (supported: float32, float64, int64, int32, uint8, bool)",
                self.name()
            ))
        })
    }
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("torch.{}", self.name())
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        matches!(self.name(), "float32" | "float64" | "float16" | "bfloat16")
    }
    #[getter]
    fn is_complex(&self) -> bool {
        self.name().starts_with("complex")
    }
    #[getter]
    fn is_signed(&self) -> bool {
        !matches!(self.name(), "bool" | "uint8" | "uint16")
    }
    #[getter]
    fn itemsize(&self) -> usize {
        match self.name() {
            "bool" | "uint8" | "int8" => 1,
            "float16" | "bfloat16" | "int16" | "uint16" => 2,
            "float32" | "int32" => 4,
            "complex128" => 16,
            _ => 8,
        }
    }
    fn __reduce__(&self) -> (String,) {
        (self.name().to_string(),)
    }
}

/// All dtype objects by torch attribute name, aliases included.
pub fn dtype_table() -> Vec<(&'static str, PyDType)> {
    let mut v = vec![];
    for (i, d) in SUPPORTED.iter().enumerate() {
        v.push((d.name(), PyDType { code: i as u8 }));
    }
    for (i, n) in UNSUPPORTED.iter().enumerate() {
        v.push((
            *n,
            PyDType {
                code: (SUPPORTED.len() + i) as u8,
            },
        ));
    }
    let alias = |a: &'static str, d: DType| (a, PyDType::of(d));
    v.push(alias("float", DType::F32));
    v.push(alias("double", DType::F64));
    v.push(alias("long", DType::I64));
    v.push(alias("int", DType::I32));
    v.push((
        "half",
        PyDType {
            code: SUPPORTED.len() as u8,
        },
    ));
    v.push((
        "short",
        PyDType {
            code: (SUPPORTED.len() + 3) as u8,
        },
    ));
    v
}

/// `torch.device`: ferrotorch computes on the CPU; CUDA/MPS devices can be named but not used.
#[pyclass(name = "device", module = "ferrotorch", frozen, eq, hash)]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PyDevice {
    pub kind: String,
    pub index: Option<i64>,
}

#[pymethods]
impl PyDevice {
    #[new]
    #[pyo3(signature = (r#type, index=None))]
    fn new(r#type: &Bound<'_, PyAny>, index: Option<i64>) -> PyResult<Self> {
        if let Ok(d) = r#type.cast::<PyDevice>() {
            return Ok(d.get().clone());
        }
        let s: String = r#type.extract()?;
        let (kind, idx) = match s.split_once(':') {
            Some((k, i)) => (
                k.to_string(),
                Some(i.parse::<i64>().map_err(|_| {
                    PyRuntimeError::new_err(format!("Invalid device string: '{s}'"))
                })?),
            ),
            None => (s.clone(), index),
        };
        if !matches!(kind.as_str(), "cpu" | "cuda" | "mps" | "meta" | "xpu") {
            return Err(PyRuntimeError::new_err(format!(
                "Expected one of cpu, cuda, mps, meta, xpu device type at start of device string: {s}"
            )));
        }
        Ok(PyDevice { kind, index: idx })
    }
    #[getter]
    fn r#type(&self) -> &str {
        &self.kind
    }
    #[getter]
    fn index(&self) -> Option<i64> {
        self.index
    }
    fn __repr__(&self) -> String {
        match self.index {
            Some(i) => format!("device(type='{}', index={i})", self.kind),
            None => format!("device(type='{}')", self.kind),
        }
    }
    fn __str__(&self) -> String {
        match self.index {
            Some(i) => format!("{}:{i}", self.kind),
            None => self.kind.clone(),
        }
    }
}

/// Accepts a device argument (str, torch.device, None); anything but the CPU is refused clearly.
pub fn check_device(dev: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
    let Some(dev) = dev else { return Ok(()) };
    if dev.is_none() {
        return Ok(());
    }
    let kind = if let Ok(d) = dev.cast::<PyDevice>() {
        d.get().kind.clone()
    } else if let Ok(s) = dev.extract::<String>() {
        s.split(':').next().unwrap_or("").to_string()
    } else if let Ok(i) = dev.extract::<i64>() {
        let _ = i;
        "cuda".to_string()
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "device must be a string or a torch.device",
        ));
    };
    match kind.as_str() {
        "cpu" => Ok(()),
        "cuda" => Err(PyRuntimeError::new_err(
            "Torch not compiled with CUDA enabled: ferrotorch runs on the CPU only. torch.cuda.is_available() is \
             False; use device='cpu' (e.g. device = 'cuda' if torch.cuda.is_available() else 'cpu').",
        )),
        other => Err(PyRuntimeError::new_err(format!(
            "ferrotorch runs on the CPU only; device '{other}' is not available. Use device='cpu'."
        ))),
    }
}
