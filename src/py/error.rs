//! Maps the core's errors to torch's Python exception classes.

use crate::error::{Error, ErrorKind};
use pyo3::exceptions::{
    PyIndexError, PyNotImplementedError, PyRuntimeError, PyTypeError, PyValueError,
};
use pyo3::PyErr;

thread_local! {
    /// The Python exception a callback raised, until the error carrying it reaches Python.
    static CALLBACK_ERROR: std::cell::RefCell<Option<PyErr>> = const { std::cell::RefCell::new(None) };
}

/// Keeps a Python exception raised inside a callback the core runs (a hook, a custom backward),
/// so that it reaches the caller unchanged (its class, message and traceback), as in torch.
pub fn from_callback(e: PyErr) -> Error {
    let msg = e.to_string();
    CALLBACK_ERROR.with(|c| *c.borrow_mut() = Some(e));
    Error {
        kind: ErrorKind::Callback,
        msg,
    }
}

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e.kind {
            ErrorKind::Callback => CALLBACK_ERROR
                .with(|c| c.borrow_mut().take())
                .unwrap_or_else(|| PyRuntimeError::new_err(e.msg)),
            ErrorKind::Runtime => PyRuntimeError::new_err(e.msg),
            ErrorKind::Index => PyIndexError::new_err(e.msg),
            ErrorKind::Value => PyValueError::new_err(e.msg),
            ErrorKind::Type => PyTypeError::new_err(e.msg),
            ErrorKind::NotImplemented => PyNotImplementedError::new_err(e.msg),
        }
    }
}
