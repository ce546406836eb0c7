//! A reference-counted, shared, mutable byte buffer with torch's version counter.

use std::any::Any;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Buffers up to this many bytes (64 float32) live inside the storage's own allocation: a small
/// op's output then costs two allocations (tensor, storage) instead of three.
pub const INLINE_BYTES: usize = 256;

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
    /// The buffer itself when `owner` is `Inline` (only ever inside an `Arc`, never moved).
    inline: UnsafeCell<MaybeUninit<[u64; INLINE_BYTES / 8]>>,
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
    /// The bytes are the storage's `inline` field.
    Inline,
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
            inline: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// A storage of `nbytes` (at most `INLINE_BYTES`) whose buffer is inside its own allocation,
    /// contents uninitialized: the caller writes every byte it will read.
    pub fn new_inline(nbytes: usize) -> Arc<Storage> {
        assert!(nbytes <= INLINE_BYTES, "inline storage of {nbytes} bytes");
        // Fields written in place, so the (uninitialized) buffer is never copied.
        let mut a = Arc::<Storage>::new_uninit();
        let p = Arc::get_mut(&mut a)
            .expect("a new Arc is unique")
            .as_mut_ptr();
        // SAFETY: p points at the Arc's storage slot; every field but the MaybeUninit buffer is
        // written before assume_init.
        unsafe {
            std::ptr::addr_of_mut!((*p).ptr).write(std::ptr::null_mut());
            std::ptr::addr_of_mut!((*p).nbytes).write(nbytes);
            std::ptr::addr_of_mut!((*p).version).write(AtomicU64::new(0));
            std::ptr::addr_of_mut!((*p).owner).write(Owner::Inline);
            a.assume_init()
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
            inline: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    pub fn nbytes(&self) -> usize {
        self.nbytes
    }
    #[inline]
    pub fn ptr(&self) -> *mut u8 {
        if let Owner::Inline = self.owner {
            // computed, not stored: the address is only known once the storage sits in its Arc
            return self.inline.get().cast();
        }
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
