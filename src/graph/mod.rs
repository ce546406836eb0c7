//! Captured programs for `fit`: record the ops of one forward pass, replay them on new batches.

pub mod backward;
pub mod buffers;
pub mod capture;
pub mod program;
pub mod train;

pub use capture::{begin, finish, Scope};
pub use program::Program;
