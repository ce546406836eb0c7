//! Plain loops over strided memory: no autograd, no dtype promotion, no Python.

pub mod arith;
pub mod conv;
pub mod elementwise;
pub mod expf;
pub mod gelu;
pub mod gemm;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod send_ptr;
pub mod simd;
pub mod special;
pub mod strided;
pub mod sum_order;
pub mod uninit;
pub mod vmath;
