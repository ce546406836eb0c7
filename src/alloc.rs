//! The crate's global allocator: the system allocator, plus a small cache of large freed blocks.
//!
//! A training step allocates the same large buffers (activations, im2col scratch, gradients)
//! every step. From the system allocator each is a fresh `mmap`, so every step pays a page fault
//! per 4 KiB touched — measured at a quarter of the CIFAR ConvNet's step. Blocks of 128 KiB
//! (glibc's mmap threshold) and more are rounded up to a 16 KiB size class and, when freed, kept
//! (at most `MAX_BLOCKS` blocks and `MAX_BYTES` in all, oldest evicted first) for the next request
//! of the same class and alignment. Blocks of at most 256 bytes (tensor headers, graph nodes,
//! closures: a few dozen per op) are rounded up to a 16-byte class and, when freed, kept in a
//! per-thread stack of each class for that thread's next request (glibc's own per-thread cache
//! holds 7 per class, which a training step's churn overflows into its slower paths). Other
//! blocks go straight to the system allocator. Blocks of 4 MiB and more are mapped on a huge-page
//! boundary and advised to use huge pages (see `fresh_huge`). Only this extension's allocations pass through
//! here; Python's and NumPy's do not.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

const MIN_BYTES: usize = 128 << 10;
const CLASS: usize = 16 << 10;
const MAX_BLOCKS: usize = 64;
const MAX_BYTES: usize = 256 << 20;
/// Blocks of this size and more start on a 2 MiB boundary and ask for transparent huge pages
/// (on Linux they are mapped by `fresh_huge`, not the system allocator): a 4M-element
/// elementwise op then misses the TLB far less; it is otherwise bound by memory bandwidth.
const HUGE_MIN: usize = 4 << 20;
const HUGE_PAGE: usize = 2 << 20;

pub struct CachingAlloc;

/// One cached block: its class layout (size, align) and address; size 0 marks an empty slot.
#[derive(Clone, Copy)]
struct Block {
    size: usize,
    align: usize,
    ptr: usize,
    stamp: u64,
}

const EMPTY: Block = Block {
    size: 0,
    align: 0,
    ptr: 0,
    stamp: 0,
};

struct Cache {
    blocks: [Block; MAX_BLOCKS],
    bytes: usize,
    next_stamp: u64,
}

static LOCK: AtomicBool = AtomicBool::new(false);
static mut CACHE: Cache = Cache {
    blocks: [EMPTY; MAX_BLOCKS],
    bytes: 0,
    next_stamp: 0,
};

/// Runs `f` on the cache under a spin lock (held for a scan of 32 slots; never allocates).
fn with_cache<R>(f: impl FnOnce(&mut Cache) -> R) -> R {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
    // SAFETY: LOCK gives exclusive access to CACHE until it is released below.
    let r = f(unsafe { &mut *std::ptr::addr_of_mut!(CACHE) });
    LOCK.store(false, Ordering::Release);
    r
}

/// The size-class layout of a large request (None: small, served by the system directly).
fn class_layout(layout: Layout) -> Option<Layout> {
    if layout.size() < MIN_BYTES {
        return None;
    }
    let align = if layout.size() >= HUGE_MIN {
        layout.align().max(HUGE_PAGE)
    } else {
        layout.align()
    };
    Layout::from_size_align(layout.size().div_ceil(CLASS) * CLASS, align).ok()
}

/// A fresh block from the system; huge classes are advised to use huge pages before first touch.
///
/// # Safety
/// `cl` is a non-zero class layout.
unsafe fn fresh(cl: Layout, zeroed: bool) -> *mut u8 {
    #[cfg(target_os = "linux")]
    if cl.size() >= HUGE_MIN {
        // SAFETY: a non-zero size.
        return unsafe { fresh_huge(cl.size()) };
    }
    // SAFETY: a valid non-zero layout.
    unsafe {
        if zeroed {
            System.alloc_zeroed(cl)
        } else {
            System.alloc(cl)
        }
    }
}

/// A huge-class block mapped by us: `len` bytes of zero pages on a huge-page boundary, advised to
/// use huge pages before anything touches them. Through the system allocator the block of a
/// zeroed request (`torch.zeros`, `randn`'s buffer) was memset by `posix_memalign`'s caller before
/// the advice could apply, so it stayed in 4 KiB pages and every later op on it paid the TLB
/// misses (4M-element `a * b`: ~700 vs ~600 µs at 2 threads).
///
/// # Safety
/// `len` is non-zero and a multiple of the page size (every class is a multiple of 16 KiB).
#[cfg(target_os = "linux")]
unsafe fn fresh_huge(len: usize) -> *mut u8 {
    let span = len + HUGE_PAGE;
    // SAFETY: an anonymous private mapping; no existing memory is touched.
    let m = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            span,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if m == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let start = m as usize;
    let p = start.next_multiple_of(HUGE_PAGE);
    // SAFETY: the head [start, p) and the tail [p + len, start + span) are page-aligned parts of
    // the mapping just made that the block does not use; the advice covers only the block.
    unsafe {
        if p > start {
            libc::munmap(m, p - start);
        }
        if start + span > p + len {
            libc::munmap((p + len) as *mut libc::c_void, start + span - (p + len));
        }
        libc::madvise(p as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
    }
    p as *mut u8
}

/// Gives a large block back to whoever made it: huge classes are our own mappings.
///
/// # Safety
/// `p` was returned by `fresh` for the class layout `cl` and is no longer used.
unsafe fn release(p: *mut u8, cl: Layout) {
    #[cfg(target_os = "linux")]
    if cl.size() >= HUGE_MIN {
        // SAFETY: fresh_huge mapped exactly [p, p + size).
        unsafe { libc::munmap(p.cast(), cl.size()) };
        return;
    }
    // SAFETY: fresh allocated p from System with exactly this layout.
    unsafe { System.dealloc(p, cl) };
}

fn take(cl: Layout) -> Option<*mut u8> {
    with_cache(|c| {
        let i = c
            .blocks
            .iter()
            .position(|b| b.size == cl.size() && b.align == cl.align())?;
        let b = std::mem::replace(&mut c.blocks[i], EMPTY);
        c.bytes -= b.size;
        Some(b.ptr as *mut u8)
    })
}

/// Keeps a freed block; returns a block to give back to the system (this one, or the oldest).
fn keep(ptr: *mut u8, cl: Layout) -> Option<(*mut u8, Layout)> {
    with_cache(|c| {
        if cl.size() > MAX_BYTES {
            return Some((ptr, cl));
        }
        let mut out = None;
        // make room: evict the oldest blocks until this one fits in both limits
        while c.bytes + cl.size() > MAX_BYTES || c.blocks.iter().all(|b| b.size != 0) {
            let i = (0..MAX_BLOCKS)
                .filter(|&i| c.blocks[i].size != 0)
                .min_by_key(|&i| c.blocks[i].stamp)?;
            let b = std::mem::replace(&mut c.blocks[i], EMPTY);
            c.bytes -= b.size;
            if out.is_some() {
                // more than one eviction: hand this one back now (free never allocates)
                // SAFETY: b came from fresh with exactly this class layout.
                unsafe {
                    release(
                        b.ptr as *mut u8,
                        Layout::from_size_align_unchecked(b.size, b.align),
                    )
                };
            } else {
                // SAFETY: as above.
                out = Some((b.ptr as *mut u8, unsafe {
                    Layout::from_size_align_unchecked(b.size, b.align)
                }));
            }
        }
        let slot = c.blocks.iter().position(|b| b.size == 0)?;
        c.blocks[slot] = Block {
            size: cl.size(),
            align: cl.align(),
            ptr: ptr as usize,
            stamp: c.next_stamp,
        };
        c.next_stamp += 1;
        c.bytes += cl.size();
        out
    })
}

/// Small blocks: sizes up to `SMALL_MAX` with the system's natural alignment, in `SMALL_STEP` classes.
const SMALL_STEP: usize = 16;
const SMALL_MAX: usize = 512;
const SMALL_CLASSES: usize = SMALL_MAX / SMALL_STEP;
/// Freed blocks kept per class and thread (at most 32 · Σ class sizes ≈ 264 KiB per thread).
const SMALL_DEPTH: usize = 32;

/// Whether small blocks are cached: where registering the cache's thread-exit destructor does not
/// allocate through this allocator (glibc's __cxa_thread_atexit_impl).
const SMALL_CACHE: bool = cfg!(all(target_os = "linux", target_env = "gnu"));

/// The class index of a small request (None: not small, aligned beyond what malloc gives, or the
/// cache is off on this target).
#[inline(always)]
fn small_class(layout: Layout) -> Option<usize> {
    (SMALL_CACHE && layout.size() <= SMALL_MAX && layout.align() <= SMALL_STEP)
        .then(|| (layout.size().max(1) - 1) / SMALL_STEP)
}

/// The layout every block of class `c` is allocated with, so any block of the class fits any
/// request of it.
#[inline(always)]
fn small_layout(c: usize) -> Layout {
    // SAFETY: a non-zero multiple of 16 with alignment 16.
    unsafe { Layout::from_size_align_unchecked((c + 1) * SMALL_STEP, SMALL_STEP) }
}

/// One thread's stacks of freed small blocks, returned to the system when the thread ends.
struct SmallCache {
    len: [usize; SMALL_CLASSES],
    blocks: [[*mut u8; SMALL_DEPTH]; SMALL_CLASSES],
}

impl Drop for SmallCache {
    fn drop(&mut self) {
        for c in 0..SMALL_CLASSES {
            for &p in &self.blocks[c][..self.len[c]] {
                // SAFETY: every cached block came from System with its class layout.
                unsafe { System.dealloc(p, small_layout(c)) };
            }
            self.len[c] = 0;
        }
    }
}

thread_local! {
    // const-initialised: no lazy allocation on first use (this runs inside the allocator). Its
    // destructor is registered through glibc's __cxa_thread_atexit_impl, which allocates with
    // glibc's malloc, not through here; where std falls back to a Vec of destructors that would
    // re-enter this allocator, so the cache is used on linux-gnu only (see SMALL_CACHE).
    static SMALL: UnsafeCell<SmallCache> = const {
        UnsafeCell::new(SmallCache {
            len: [0; SMALL_CLASSES],
            blocks: [[std::ptr::null_mut(); SMALL_DEPTH]; SMALL_CLASSES],
        })
    };
}

/// A cached block of class `c`, if this thread has one (None also while the thread is ending).
#[inline(always)]
fn small_take(c: usize) -> Option<*mut u8> {
    SMALL
        .try_with(|s| {
            // SAFETY: only this thread touches its cache, and never re-entrantly (no allocation here).
            let s = unsafe { &mut *s.get() };
            let n = s.len[c];
            (n > 0).then(|| {
                s.len[c] = n - 1;
                s.blocks[c][n - 1]
            })
        })
        .ok()
        .flatten()
}

/// Keeps a freed block of class `c`; false when this thread's stack is full (or it is ending).
#[inline(always)]
fn small_keep(c: usize, p: *mut u8) -> bool {
    SMALL
        .try_with(|s| {
            // SAFETY: as in small_take.
            let s = unsafe { &mut *s.get() };
            let n = s.len[c];
            if n == SMALL_DEPTH {
                return false;
            }
            s.blocks[c][n] = p;
            s.len[c] = n + 1;
            true
        })
        .unwrap_or(false)
}

unsafe impl GlobalAlloc for CachingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(c) = small_class(layout) {
            // SAFETY: a valid non-zero class layout.
            return small_take(c).unwrap_or_else(|| unsafe { System.alloc(small_layout(c)) });
        }
        match class_layout(layout) {
            // SAFETY: forwarded unchanged / a valid non-zero class layout.
            None => unsafe { System.alloc(layout) },
            Some(cl) => take(cl).unwrap_or_else(|| unsafe { fresh(cl, false) }),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if let Some(c) = small_class(layout) {
            return match small_take(c) {
                Some(p) => {
                    // SAFETY: the cached block holds the class size ≥ layout.size() bytes.
                    unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
                    p
                }
                // SAFETY: a valid non-zero class layout.
                None => unsafe { System.alloc_zeroed(small_layout(c)) },
            };
        }
        match class_layout(layout) {
            // SAFETY: forwarded unchanged.
            None => unsafe { System.alloc_zeroed(layout) },
            Some(cl) => match take(cl) {
                Some(p) => {
                    // SAFETY: the cached block holds cl.size() ≥ layout.size() bytes.
                    unsafe { std::ptr::write_bytes(p, 0, layout.size()) };
                    p
                }
                // fresh zero pages from the system, no memset
                // SAFETY: a valid non-zero class layout.
                None => unsafe { fresh(cl, true) },
            },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(c) = small_class(layout) {
            if !small_keep(c, ptr) {
                // SAFETY: small blocks are allocated by System with their class layout.
                unsafe { System.dealloc(ptr, small_layout(c)) };
            }
            return;
        }
        match class_layout(layout) {
            // SAFETY: allocated by System with this layout.
            None => unsafe { System.dealloc(ptr, layout) },
            Some(cl) => {
                if let Some((p, l)) = keep(ptr, cl) {
                    // SAFETY: p came from fresh with the class layout l.
                    unsafe { release(p, l) };
                }
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if layout.size() > SMALL_MAX
            && new_size > SMALL_MAX
            && layout.size() < MIN_BYTES
            && new_size < MIN_BYTES
        {
            // mid-sized blocks keep the system's in-place growth (small ones must stay exactly
            // their class size, large ones belong to the cache)
            // SAFETY: forwarded unchanged.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: the caller guarantees a valid layout for new_size; both blocks are ours.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let p = self.alloc(new_layout);
            if !p.is_null() {
                std::ptr::copy_nonoverlapping(ptr, p, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            p
        }
    }
}

#[cfg(test)]
mod tests {
    use std::alloc::{alloc, alloc_zeroed, dealloc, Layout};

    #[test]
    fn large_blocks_are_reused_and_zeroed_on_request() {
        // an unusual size, so other tests running in parallel don't take the cached block
        let l = Layout::from_size_align(3 * 1024 * 1024 + 12_345, 8).unwrap();
        unsafe {
            let p = alloc(l);
            p.write_bytes(7, l.size());
            dealloc(p, l);
            let q = alloc_zeroed(l);
            assert_eq!(q, p, "the freed block is served again");
            assert!(std::slice::from_raw_parts(q, l.size())
                .iter()
                .all(|&b| b == 0));
            dealloc(q, l);
            // another alignment is another class
            let l16 = Layout::from_size_align(l.size(), 64).unwrap();
            let r = alloc(l16);
            assert_eq!(r as usize % 64, 0);
            dealloc(r, l16);
        }
    }

    #[test]
    fn small_blocks_are_reused_per_class_and_thread() {
        unsafe {
            let l = Layout::from_size_align(40, 8).unwrap();
            let p = alloc(l);
            dealloc(p, l);
            // the same class (33..=48 bytes) serves the next request on this thread
            let l48 = Layout::from_size_align(48, 16).unwrap();
            let q = alloc_zeroed(l48);
            assert_eq!(q, p);
            assert!(std::slice::from_raw_parts(q, 48).iter().all(|&b| b == 0));
            // a block made on another thread and freed here serves this thread next
            let r = std::thread::spawn(|| {
                let l = Layout::from_size_align(200, 8).unwrap();
                let r = alloc(l);
                r.write_bytes(1, 200);
                r as usize
            })
            .join()
            .unwrap() as *mut u8;
            let l200 = Layout::from_size_align(200, 8).unwrap();
            dealloc(r, l200);
            let s = alloc(l200);
            assert_eq!(s, r);
            // growing a small block through realloc keeps the class invariant
            let g = std::alloc::realloc(s, l200, 250);
            std::slice::from_raw_parts_mut(g, 250).fill(3);
            dealloc(g, Layout::from_size_align(250, 8).unwrap());
            dealloc(q, l48);
        }
    }

    #[test]
    fn huge_blocks_are_aligned_zeroed_and_reused() {
        // a huge class (≥ 4 MiB) that no other test's sizes round to (they run in parallel)
        let l = Layout::from_size_align(6 * 1024 * 1024 + 4_321, 4).unwrap();
        unsafe {
            let p = alloc_zeroed(l);
            assert_eq!(p as usize % super::HUGE_PAGE, 0, "on a huge-page boundary");
            let s = std::slice::from_raw_parts_mut(p, l.size());
            assert!(s.iter().all(|&b| b == 0));
            s.fill(9);
            dealloc(p, l);
            let q = alloc_zeroed(l);
            assert_eq!(q, p, "the freed block is served again");
            assert!(std::slice::from_raw_parts(q, l.size())
                .iter()
                .all(|&b| b == 0));
            // growing it moves to another class and gives this one back to the cache
            let g = std::alloc::realloc(q, l, l.size() * 2);
            assert_eq!(g as usize % super::HUGE_PAGE, 0);
            assert!(std::slice::from_raw_parts(g, l.size())
                .iter()
                .all(|&b| b == 0));
            dealloc(g, Layout::from_size_align(l.size() * 2, 4).unwrap());
        }
    }

    #[test]
    fn the_cache_stays_bounded_under_churn() {
        unsafe {
            let mut v = Vec::new();
            for i in 0..200 {
                let l = Layout::from_size_align((1 << 20) + i * 40_000, 8).unwrap();
                v.push((alloc(l), l));
            }
            for (p, l) in v {
                dealloc(p, l);
            }
            let cached =
                super::with_cache(|c| (c.bytes, c.blocks.iter().filter(|b| b.size != 0).count()));
            assert!(cached.0 <= super::MAX_BYTES && cached.1 <= super::MAX_BLOCKS);
        }
    }
}
