//! Ops by family. Each op is forward and backward together, recorded through `autograd::record`.

pub mod copy;
pub mod creation;
pub mod elementwise;
pub mod indexing;
pub mod movement;
pub mod reduce;
pub mod matmul;
pub mod join;
pub mod shape_ops;
pub mod reduce_sort;
pub mod conv;
pub mod pool;
pub mod norm;
pub mod activation;
pub mod loss;
