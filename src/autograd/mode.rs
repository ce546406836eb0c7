//! Thread-local grad mode and inference mode, as torch keeps them.

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static INFERENCE: Cell<bool> = const { Cell::new(false) };
}

#[inline]
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}
pub fn set_grad_enabled(on: bool) {
    GRAD_ENABLED.with(|g| g.set(on));
}
pub fn is_inference_mode_enabled() -> bool {
    INFERENCE.with(|g| g.get())
}
pub fn set_inference_mode(on: bool) {
    INFERENCE.with(|g| g.set(on));
}

/// Sets grad mode for a scope and restores the previous value on drop.
pub struct GradModeGuard(bool);

impl GradModeGuard {
    pub fn new(on: bool) -> Self {
        let prev = is_grad_enabled();
        set_grad_enabled(on);
        GradModeGuard(prev)
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.0);
    }
}
