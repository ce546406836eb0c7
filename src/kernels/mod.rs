//! Plain loops over strided memory: no autograd, no dtype promotion, no Python.

pub mod arith;
pub mod elementwise;
pub mod reduce;
pub mod special;
pub mod strided;
pub mod gemm;
pub mod conv;
pub mod pool;
pub mod norm;
