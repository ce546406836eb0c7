//! A Python number as the core sees it, and its conversion into each element type.

use crate::dtype::{default_dtype, DType, Element};
use crate::tensor::Tensor;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
}

impl Scalar {
    /// The dtype torch infers for this Python value.
    pub fn dtype(self) -> DType {
        match self {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => default_dtype(),
        }
    }
    pub fn to<T: Element>(self) -> T {
        match self {
            Scalar::Bool(b) => T::from_bool(b),
            Scalar::Int(i) => T::from_i64(i),
            Scalar::Float(f) if T::DTYPE.is_float() || T::DTYPE == DType::Bool => T::from_f64(f),
            Scalar::Float(f) => T::from_i64(f as i64),
        }
    }
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }
    pub fn is_float(self) -> bool {
        matches!(self, Scalar::Float(_))
    }
    /// A wrapped-number tensor (loses type promotion against dimensioned tensors).
    pub fn wrap(self) -> Tensor {
        match self {
            Scalar::Bool(b) => Tensor::wrapped_scalar(b),
            Scalar::Int(i) => Tensor::wrapped_scalar(i),
            Scalar::Float(f) => Tensor::wrapped_scalar(f),
        }
    }
    /// A 0-d tensor of `dt` holding this value.
    pub fn tensor(self, dt: DType) -> Tensor {
        crate::dispatch!(dt, T => Tensor::scalar::<T>(self.to::<T>()))
    }
}
