//! The one error type of the core; `src/py/error.rs` maps each kind to torch's Python exception class.

/// Which Python exception class an error becomes (torch's choice for that failure).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Shape, dtype and autograd misuse: `RuntimeError`.
    Runtime,
    /// Indices and dims out of range: `IndexError`.
    Index,
    /// Bad argument values: `ValueError`.
    Value,
    /// Wrong Python types: `TypeError`.
    Type,
    /// Unsupported features: `NotImplementedError`.
    NotImplemented,
    /// Raised by user code the core called back (a hook, a custom Function's backward): the
    /// binding layer kept the original exception and raises it again unchanged.
    Callback,
}

/// An error with torch's wording; the binding layer picks the exception class from `kind`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{msg}")]
pub struct Error {
    pub kind: ErrorKind,
    pub msg: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn runtime(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Runtime,
            msg: msg.into(),
        }
    }
    pub fn index(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Index,
            msg: msg.into(),
        }
    }
    pub fn value(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Value,
            msg: msg.into(),
        }
    }
    pub fn type_(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Type,
            msg: msg.into(),
        }
    }
    pub fn not_implemented(msg: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::NotImplemented,
            msg: msg.into(),
        }
    }
}

/// `bail!(runtime, "...")` returns early with an error of that kind.
#[macro_export]
macro_rules! bail {
    ($kind:ident, $($arg:tt)*) => {
        return Err($crate::error::Error::$kind(format!($($arg)*)))
    };
}
