//! The crate's one rayon pool (torch.set_num_threads) and the rule for when work is worth a hop.

use parking_lot::RwLock;
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::sync::Arc;

static POOL: RwLock<Option<Arc<ThreadPool>>> = RwLock::new(None);

/// Elementwise work below this many elements runs inline: entering the pool from the Python
/// thread costs ~13 µs, more than the work itself.
pub const PAR_MIN_ELEMS: usize = 1 << 17;

fn default_threads() -> usize {
    std::env::var("OMP_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n: &usize| n > 0)
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
}

pub fn pool() -> Arc<ThreadPool> {
    if let Some(p) = POOL.read().as_ref() {
        return p.clone();
    }
    let mut w = POOL.write();
    w.get_or_insert_with(|| Arc::new(build(default_threads())))
        .clone()
}

fn build(n: usize) -> ThreadPool {
    ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("ferrotorch-{i}"))
        .build()
        .expect("building the thread pool")
}

pub fn num_threads() -> usize {
    pool().current_num_threads()
}

pub fn set_num_threads(n: usize) {
    *POOL.write() = Some(Arc::new(build(n.max(1))));
}

/// Runs `f(start, end)` over `0..n` split into fixed-size chunks, in the pool when `n` is large.
/// Chunk boundaries depend only on `n`, so results never depend on the thread count.
pub fn par_ranges(n: usize, chunk: usize, f: impl Fn(usize, usize) + Sync + Send) {
    if n < PAR_MIN_ELEMS || num_threads() == 1 {
        let mut s = 0;
        while s < n {
            let e = (s + chunk).min(n);
            f(s, e);
            s = e;
        }
        return;
    }
    use rayon::prelude::*;
    let chunks = n.div_ceil(chunk);
    pool().install(|| {
        (0..chunks)
            .into_par_iter()
            .for_each(|c| f(c * chunk, ((c + 1) * chunk).min(n)));
    });
}
