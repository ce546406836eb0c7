//! A raw pointer that pool workers may share, each writing a disjoint region of the buffer.

pub struct SendPtr<T>(pub *mut T);

// by hand: derive would require T: Copy, but a pointer is Copy whatever it points at
impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}

// SAFETY: users hand each worker a disjoint region, and the buffer outlives the parallel section.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Through a method so closures capture the whole (Send) wrapper, not the raw field.
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}
