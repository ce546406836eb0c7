//! Ops by family. Each op is forward and backward together, recorded through `autograd::record`.

pub mod activation;
pub mod checks;
pub mod conv;
pub mod copy;
pub mod creation;
pub mod elementwise;
pub mod indexing;
pub mod join;
pub mod loss;
pub mod loss_logits;
pub mod loss_mse;
pub mod matmul;
pub mod movement;
pub mod norm;
pub mod pool;
pub mod reduce;
pub mod reduce_sort;
pub mod shape_ops;
