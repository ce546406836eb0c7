//! `Tensor`: storage + dtype + shape + strides + offset + autograd metadata. No math lives here.

use crate::autograd::AutogradMeta;
use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::shape::{self, Dims, Strides};
use crate::storage::Storage;
use smallvec::SmallVec;
use std::sync::{Arc, OnceLock};

/// A tensor is a cheap handle: cloning it shares everything (like a second Python reference).
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<TensorInner>);

pub struct TensorInner {
    pub storage: Arc<Storage>,
    pub dtype: DType,
    pub shape: Dims,
    pub strides: Strides,
    /// In elements, from the start of the storage.
    pub offset: usize,
    /// torch's "wrapped number": a Python scalar turned into a 0-d tensor, lowest in type promotion.
    pub wrapped_number: bool,
    /// For a view: the tensor whose storage it views (the root, never itself a view).
    pub base: Option<Tensor>,
    /// Allocated on first use (requires_grad, grad, grad_fn), so plain tensors stay small.
    pub(crate) autograd: OnceLock<Arc<AutogradMeta>>,
    /// The capture generation this tensor was made in (0 = outside any capture); `fit` uses it to
    /// tell tensors that existed before capture (parameters, constants) from untraced results.
    pub(crate) born: u32,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(shape={:?}, dtype={:?})",
            self.shape(),
            self.dtype()
        )
    }
}

impl Tensor {
    pub fn from_parts(
        storage: Arc<Storage>,
        dtype: DType,
        shape: Dims,
        strides: Strides,
        offset: usize,
    ) -> Tensor {
        // Written field by field into the new allocation: a struct built on the stack and moved
        // into `Arc::new` costs a memcpy call per tensor, which small-op loops feel.
        let mut a = Arc::<TensorInner>::new_uninit();
        let p = Arc::get_mut(&mut a)
            .expect("a new Arc is unique")
            .as_mut_ptr();
        // SAFETY: p points at the Arc's value; every field is written before assume_init.
        unsafe {
            std::ptr::addr_of_mut!((*p).storage).write(storage);
            std::ptr::addr_of_mut!((*p).dtype).write(dtype);
            std::ptr::addr_of_mut!((*p).shape).write(shape);
            std::ptr::addr_of_mut!((*p).strides).write(strides);
            std::ptr::addr_of_mut!((*p).offset).write(offset);
            std::ptr::addr_of_mut!((*p).wrapped_number).write(false);
            std::ptr::addr_of_mut!((*p).base).write(None);
            std::ptr::addr_of_mut!((*p).autograd).write(OnceLock::new());
            std::ptr::addr_of_mut!((*p).born).write(crate::graph::capture::generation());
            Tensor(a.assume_init())
        }
    }

    /// A contiguous tensor owning `data`.
    pub fn from_vec<T: Element>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        if data.len() != shape::numel(shape) {
            return Err(Error::runtime(format!(
                "data of {} elements cannot have shape {}",
                data.len(),
                shape::fmt_shape(shape)
            )));
        }
        Ok(Self::from_vec_unchecked(data, shape))
    }

    /// A contiguous tensor of `shape` whose elements are not initialized.
    ///
    /// Buffers up to `storage::INLINE_BYTES` live inside the storage's own allocation (one
    /// allocation fewer per small op output). Generic over the element type only, so the kernels
    /// that fill it don't each get their own copy of this code.
    ///
    /// # Safety
    /// The caller writes every element (through `ptr`) before anything reads the tensor, and `T`
    /// is a plain numeric type.
    pub(crate) unsafe fn uninit<T: Element>(shape: &[usize]) -> Tensor {
        let n = shape::numel(shape);
        let nbytes = n * std::mem::size_of::<T>();
        let storage = if nbytes <= crate::storage::INLINE_BYTES && std::mem::align_of::<T>() <= 8 {
            Storage::new_inline(nbytes)
        } else {
            let mut v: Vec<std::mem::MaybeUninit<T>> = Vec::with_capacity(n);
            // SAFETY: MaybeUninit elements need no initialization.
            unsafe { v.set_len(n) };
            Arc::new(Storage::from_vec(v))
        };
        Tensor::from_parts(
            storage,
            T::DTYPE,
            SmallVec::from_slice(shape),
            shape::contiguous_strides(shape),
            0,
        )
    }

    pub(crate) fn from_vec_unchecked<T: Element>(data: Vec<T>, shape: &[usize]) -> Tensor {
        let strides = shape::contiguous_strides(shape);
        Tensor::from_parts(
            Arc::new(Storage::from_vec(data)),
            T::DTYPE,
            SmallVec::from_slice(shape),
            strides,
            0,
        )
    }

    pub fn scalar<T: Element>(v: T) -> Tensor {
        Self::from_vec_unchecked(vec![v], &[])
    }

    /// A Python number as a 0-d tensor that loses type promotion to dimensioned tensors.
    pub fn wrapped_scalar<T: Element>(v: T) -> Tensor {
        Tensor(Arc::new(TensorInner {
            storage: Arc::new(Storage::from_vec(vec![v])),
            dtype: T::DTYPE,
            shape: SmallVec::new(),
            strides: SmallVec::new(),
            offset: 0,
            wrapped_number: true,
            base: None,
            autograd: OnceLock::new(),
            born: crate::graph::capture::generation(),
        }))
    }

    pub fn full_like_value<T: Element>(shape: &[usize], v: T) -> Tensor {
        Self::from_vec_unchecked(vec![v; shape::numel(shape)], shape)
    }

    pub fn zeros(shape: &[usize], dtype: DType) -> Tensor {
        crate::dispatch!(dtype, T => Self::full_like_value::<T>(shape, T::zero()))
    }

    /// A fresh contiguous tensor whose contents the caller overwrites (zeroed: cheap and never UB).
    pub fn empty(shape: &[usize], dtype: DType) -> Tensor {
        Self::zeros(shape, dtype)
    }

    /// A new tensor sharing this one's storage with another layout (a view; no autograd).
    pub fn view_parts(&self, shape: Dims, strides: Strides, offset: usize) -> Tensor {
        Tensor(Arc::new(TensorInner {
            storage: self.0.storage.clone(),
            dtype: self.0.dtype,
            shape,
            strides,
            offset,
            wrapped_number: false,
            base: Some(self.0.base.clone().unwrap_or_else(|| self.clone())),
            autograd: OnceLock::new(),
            born: crate::graph::capture::generation(),
        }))
    }
    pub fn is_view(&self) -> bool {
        self.0.base.is_some()
    }
    /// The capture generation the tensor was created in (0 when created outside capture).
    pub fn born(&self) -> u32 {
        self.0.born
    }
    /// The tensor a view was taken from.
    pub fn view_base(&self) -> Option<&Tensor> {
        self.0.base.as_ref()
    }

    /// The same data and storage, untracked by autograd (torch's `detach()`).
    pub fn alias(&self) -> Tensor {
        // Not a view for autograd purposes: in-place writes through it are untracked (torch's detach).
        Tensor::from_parts(
            self.0.storage.clone(),
            self.0.dtype,
            self.0.shape.clone(),
            self.0.strides.clone(),
            self.0.offset,
        )
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }
    pub fn strides(&self) -> &[isize] {
        &self.0.strides
    }
    pub fn offset(&self) -> usize {
        self.0.offset
    }
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    pub fn ndim(&self) -> usize {
        self.0.shape.len()
    }
    pub fn numel(&self) -> usize {
        shape::numel(&self.0.shape)
    }
    pub fn storage(&self) -> &Arc<Storage> {
        &self.0.storage
    }
    pub fn is_wrapped_number(&self) -> bool {
        self.0.wrapped_number
    }
    pub fn is_contiguous(&self) -> bool {
        shape::is_contiguous(&self.0.shape, &self.0.strides)
    }
    /// Same handle (Python `is` on the core object).
    pub fn same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }
    /// Address of element 0, as `data_ptr()` reports it.
    pub fn data_ptr_addr(&self) -> usize {
        self.0.storage.ptr() as usize + self.0.offset * self.0.dtype.size()
    }

    /// Pointer to element 0 typed as `T`.
    ///
    /// # Panics
    /// Never for a well-formed tensor; debug-asserts the dtype.
    pub fn ptr<T: Element>(&self) -> *mut T {
        debug_assert_eq!(T::DTYPE, self.dtype());
        // SAFETY: offset is within the storage for any tensor built by this crate.
        unsafe { (self.0.storage.ptr() as *mut T).add(self.0.offset) }
    }

    /// The elements of a contiguous tensor as a slice.
    ///
    /// Callers must hold the only writer (the GIL, or an op's own output).
    pub fn as_slice<T: Element>(&self) -> &[T] {
        assert!(
            self.is_contiguous() && T::DTYPE == self.dtype(),
            "as_slice on non-contiguous tensor"
        );
        // SAFETY: contiguous layout of numel elements starting at ptr, inside the storage.
        unsafe { std::slice::from_raw_parts(self.ptr::<T>(), self.numel()) }
    }

    /// Mutable elements of a contiguous tensor; bumps nothing (callers decide about versions).
    #[allow(clippy::mut_from_ref)]
    pub fn as_mut_slice<T: Element>(&self) -> &mut [T] {
        assert!(
            self.is_contiguous() && T::DTYPE == self.dtype(),
            "as_mut_slice on non-contiguous tensor"
        );
        // SAFETY: as above; aliasing writers are serialised by the caller.
        unsafe { std::slice::from_raw_parts_mut(self.ptr::<T>(), self.numel()) }
    }

    /// Reads element `i` in row-major order (slow; for item(), tests and small helpers).
    pub fn get_flat<T: Element>(&self, mut i: usize) -> T {
        let mut off = self.0.offset as isize;
        for d in (0..self.ndim()).rev() {
            let n = self.0.shape[d];
            off += (i % n) as isize * self.0.strides[d];
            i /= n;
        }
        // SAFETY: off addresses an element inside the storage.
        unsafe { *(self.0.storage.ptr() as *const T).offset(off) }
    }

    pub fn autograd_meta(&self) -> Option<&Arc<AutogradMeta>> {
        self.0.autograd.get()
    }
    pub(crate) fn autograd_meta_or_init(&self) -> &Arc<AutogradMeta> {
        self.0
            .autograd
            .get_or_init(|| Arc::new(AutogradMeta::default()))
    }

    /// A new handle on `data`'s storage and layout that keeps this tensor's autograd identity
    /// (torch's `x.data = y`).
    pub fn with_data_of(&self, data: &Tensor) -> Tensor {
        let t = data.alias();
        if let Some(meta) = self.autograd_meta() {
            let _ = t.0.autograd.set(meta.clone());
        }
        t
    }
}
