//! ferrotorch: PyTorch's eager tensor API for the CPU. The core (everything outside `py/`) never touches Python.

pub mod alloc;
pub mod autograd;
pub mod dtype;
pub mod error;
pub mod graph;
pub mod kernels;
pub mod ops;
pub mod random;
pub mod scalar;
pub mod shape;
pub mod storage;
pub mod tensor;
pub mod threads;

#[cfg(feature = "python")]
mod py;

pub use dtype::DType;
pub use error::{Error, Result};
pub use scalar::Scalar;
pub use tensor::Tensor;
pub mod data;
pub mod optim;
pub mod serialize;

#[global_allocator]
static GLOBAL: alloc::CachingAlloc = alloc::CachingAlloc;
