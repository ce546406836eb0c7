//! A reference-counted, shared, mutable byte buffer with torch's version counter.

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

/// One buffer shared by a tensor and all its views (and NumPy arrays made from it).
///
/// Storage is untyped like torch's: the tensor carries the dtype. Writes go through raw pointers
/// because torch's model lets many views alias one buffer; the GIL (or an op's exclusive loop)
/// serialises them, and ops that read and write overlapping memory copy their input first.
pub struct Storage {
    ptr: *mut u8,
    nbytes: usize,
    version: AtomicU64,
    _owner: Box<dyn Any + Send + Sync>,
}

// SAFETY: the buffer is owned by `_owner` (Send + Sync); aliasing writes are serialised by callers.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    /// Takes ownership of a Vec; the heap buffer does not move when the Vec is boxed.
    pub fn from_vec<T: Send + Sync + 'static>(mut v: Vec<T>) -> Storage {
        let ptr = v.as_mut_ptr() as *mut u8;
        let nbytes = v.len() * std::mem::size_of::<T>();
        Storage {
            ptr,
            nbytes,
            version: AtomicU64::new(0),
            _owner: Box::new(v),
        }
    }

    /// Wraps memory owned by someone else (a NumPy array) that `owner` keeps alive.
    ///
    /// # Safety
    /// `ptr` must be valid for `nbytes` for as long as `owner` lives.
    pub unsafe fn from_external(
        ptr: *mut u8,
        nbytes: usize,
        owner: Box<dyn Any + Send + Sync>,
    ) -> Storage {
        Storage {
            ptr,
            nbytes,
            version: AtomicU64::new(0),
            _owner: owner,
        }
    }

    pub fn nbytes(&self) -> usize {
        self.nbytes
    }
    pub fn ptr(&self) -> *mut u8 {
        self.ptr
    }
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    /// Every in-place write bumps this, so autograd can detect modified saved tensors.
    pub fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }
}
