//! Checkpoint containers: a strict safetensors reader/writer (no pickle, no code execution).

pub mod json;
pub mod safetensors;
