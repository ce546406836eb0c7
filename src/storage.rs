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
    owner: Owner,
}

/// Who frees the buffer. A Rust Vec is kept as its raw parts (no extra box: one allocation
/// fewer per tensor, which small-op loops feel); foreign memory as the object that keeps it alive.
enum Owner {
    Vec {
        len: usize,
        cap: usize,
        free: unsafe fn(*mut u8, usize, usize),
    },
    External(#[allow(dead_code)] Box<dyn Any + Send + Sync>),
}

/// Rebuilds and drops the `Vec<T>` a storage was made from.
unsafe fn free_vec<T>(ptr: *mut u8, len: usize, cap: usize) {
    // SAFETY: ptr/len/cap came from a Vec<T> that was forgotten in `Storage::from_vec`.
    drop(unsafe { Vec::from_raw_parts(ptr as *mut T, len, cap) });
}

impl Drop for Storage {
    fn drop(&mut self) {
        if let Owner::Vec { len, cap, free } = self.owner {
            // SAFETY: the parts are those of the Vec this storage took over.
            unsafe { free(self.ptr, len, cap) }
        }
    }
}

// SAFETY: the buffer is owned by `_owner` (Send + Sync); aliasing writes are serialised by callers.
unsafe impl Send for Storage {}
unsafe impl Sync for Storage {}

impl Storage {
    /// Takes ownership of a Vec (kept as raw parts and freed when the storage drops).
    pub fn from_vec<T: Send + Sync + 'static>(v: Vec<T>) -> Storage {
        let mut v = std::mem::ManuallyDrop::new(v);
        let (ptr, len, cap) = (v.as_mut_ptr() as *mut u8, v.len(), v.capacity());
        Storage {
            ptr,
            nbytes: len * std::mem::size_of::<T>(),
            version: AtomicU64::new(0),
            owner: Owner::Vec {
                len,
                cap,
                free: free_vec::<T>,
            },
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
            owner: Owner::External(owner),
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
