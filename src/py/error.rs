//! Maps the core's errors to torch's Python exception classes.

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e.kind {
            ErrorKind::Runtime => PyRuntimeError::new_err(e.msg),
            ErrorKind::Index => PyIndexError::new_err(e.msg),
            ErrorKind::Value => PyValueError::new_err(e.msg),
            ErrorKind::Type => PyTypeError::new_err(e.msg),
            ErrorKind::NotImplemented => PyNotImplementedError::new_err(e.msg),
        }
    }
}
