//! The crate's worker team (torch.set_num_threads): the calling thread plus n−1 workers share each parallel op.
//!
//! Why not a rayon pool: entering one from the Python thread parks the caller and wakes the workers
//! one after another (the first worker wakes the second when it splits the job), and on this kind
//! of VM a wake-up after an idle spell can take hundreds of microseconds — long enough that a 1 ms
//! elementwise op ran at serial speed or worse whenever the workers had fallen asleep (measured: 4M
//! `a * b` at 2 threads took 1.3–2.6 ms after a pause, 0.9 ms back to back). Here the caller starts
//! on the tasks at once and workers claim the rest from a shared counter as they arrive, so a slow
//! wake-up costs at most the parallel speed-up, never more; idle workers spin briefly before
//! sleeping so the ops of one training step find them awake.
//!
//! Task boundaries are chosen by the callers from the sizes alone, so results never depend on the
//! thread count or on which thread ran which task.

use parking_lot::{Condvar, Mutex, RwLock};
use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Elementwise work below this many elements runs inline: waking a worker costs more than the work.
pub const PAR_MIN_ELEMS: usize = 1 << 17;

/// How long an idle worker spins for the next job before sleeping: long enough to bridge the
/// Python between the ops of one step, short enough not to hold a core through a pause.
const SPIN: Duration = Duration::from_micros(200);

thread_local! {
    /// True on a team worker and on a caller while it runs a job: nested parallel calls run inline.
    static IN_TEAM: Cell<bool> = const { Cell::new(false) };
}

/// One parallel call: `tasks` indices claimed from `next`; `f` lives on the caller's stack and is
/// only called for a claimed index below `tasks`, which the caller waits for before returning.
struct Job {
    f: *const (dyn Fn(usize) + Sync + 'static),
    tasks: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

// SAFETY: `f` is Sync and is only dereferenced while its caller waits inside `run_tasks`.
unsafe impl Send for Job {}
// SAFETY: as above; all other fields are thread-safe.
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs tasks until none are left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.tasks {
                return;
            }
            // SAFETY: task i is claimed and not yet done, so the caller is still waiting and `f` alive.
            let f = unsafe { &*self.f };
            if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(i))) {
                self.panic.lock().get_or_insert(p);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

struct Team {
    size: usize,
    generation: AtomicU64,
    job: Mutex<Option<Arc<Job>>>,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
    /// One job at a time: a second caller (another Python thread) runs its tasks inline.
    busy: Mutex<()>,
}

impl Team {
    fn new(size: usize) -> Arc<Team> {
        let team = Arc::new(Team {
            size,
            generation: AtomicU64::new(0),
            job: Mutex::new(None),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
            busy: Mutex::new(()),
        });
        for i in 1..size {
            let t = team.clone();
            std::thread::Builder::new()
                .name(format!("ferrotorch-{i}"))
                .spawn(move || t.worker())
                .expect("spawning a ferrotorch worker thread");
        }
        team
    }

    fn worker(&self) {
        IN_TEAM.with(|c| c.set(true));
        let mut seen = 0u64;
        loop {
            seen = self.next_generation(seen);
            if self.shutdown.load(Ordering::Acquire) {
                return;
            }
            let job = self.job.lock().clone();
            if let Some(job) = job {
                job.work();
            }
        }
    }

    /// Waits for a generation other than `seen`: spins for `SPIN`, then sleeps on the condvar.
    fn next_generation(&self, seen: u64) -> u64 {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let g = self.generation.load(Ordering::Acquire);
            if g != seen {
                return g;
            }
            std::hint::spin_loop();
            spins += 1;
            if spins.is_multiple_of(64) && start.elapsed() > SPIN {
                break;
            }
        }
        let mut guard = self.sleep_lock.lock();
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        let mut g = self.generation.load(Ordering::SeqCst);
        while g == seen {
            self.wake.wait(&mut guard);
            g = self.generation.load(Ordering::SeqCst);
        }
        self.sleepers.fetch_sub(1, Ordering::SeqCst);
        g
    }

    /// Publishes a job and wakes sleeping workers (a worker that checked the generation under
    /// `sleep_lock` before this bump is counted in `sleepers`, so it cannot miss the notify).
    fn publish(&self, job: Option<Arc<Job>>) {
        *self.job.lock() = job;
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _g = self.sleep_lock.lock();
            self.wake.notify_all();
        }
    }
}

static TEAM: RwLock<Option<Arc<Team>>> = RwLock::new(None);

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

fn team() -> Arc<Team> {
    if let Some(t) = TEAM.read().as_ref() {
        return t.clone();
    }
    TEAM.write()
        .get_or_insert_with(|| Team::new(default_threads()))
        .clone()
}

pub fn num_threads() -> usize {
    if let Some(t) = TEAM.read().as_ref() {
        return t.size;
    }
    team().size
}

/// Replaces the team; the old workers finish any job in flight and exit.
pub fn set_num_threads(n: usize) {
    let old = TEAM.write().replace(Team::new(n.max(1)));
    if let Some(old) = old {
        let _busy = old.busy.lock();
        old.shutdown.store(true, Ordering::Release);
        old.publish(None);
    }
}

/// Runs `f(t)` for every `t` in `0..tasks`, the calling thread and the workers claiming tasks as
/// they come; returns when all are done. Inline when nested, single-threaded or contended.
pub fn run_tasks(tasks: usize, f: impl Fn(usize) + Sync) {
    if tasks == 0 {
        return;
    }
    let inline = || (0..tasks).for_each(&f);
    if tasks == 1 || IN_TEAM.with(|c| c.get()) {
        return inline();
    }
    let team = team();
    if team.size == 1 {
        return inline();
    }
    let Some(_busy) = team.busy.try_lock() else {
        return inline();
    };
    let dynf: &(dyn Fn(usize) + Sync) = &f;
    // SAFETY: only the lifetime is erased; `f` outlives every call made through the job because
    // this function does not return (or unwind) before `done == tasks`.
    let fptr: *const (dyn Fn(usize) + Sync + 'static) = unsafe { std::mem::transmute(dynf) };
    let job = Arc::new(Job {
        f: fptr,
        tasks,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panic: Mutex::new(None),
    });
    team.publish(Some(job.clone()));
    IN_TEAM.with(|c| c.set(true));
    job.work();
    IN_TEAM.with(|c| c.set(false));
    // the remaining tasks are already running on workers: wait for them, spinning at first
    let mut spins = 0u32;
    while job.done.load(Ordering::Acquire) < tasks {
        if spins < 1 << 14 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
    *team.job.lock() = None;
    let panic = job.panic.lock().take();
    if let Some(p) = panic {
        resume_unwind(p);
    }
}

/// `f(t)` for every task, collected in task order.
pub fn map_tasks<R: Send>(tasks: usize, f: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let slots: Vec<Mutex<Option<R>>> = (0..tasks).map(|_| Mutex::new(None)).collect();
    run_tasks(tasks, |t| *slots[t].lock() = Some(f(t)));
    slots
        .into_iter()
        .map(|s| s.into_inner().expect("every task ran"))
        .collect()
}

/// The last-level cache's size: the largest data cache sysfs lists for cpu0 (32 MiB when it
/// cannot be read), read once.
pub fn last_level_cache_bytes() -> usize {
    static LLC: OnceLock<usize> = OnceLock::new();
    *LLC.get_or_init(|| {
        (0..8)
            .filter_map(|i| {
                let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{i}");
                let kind = std::fs::read_to_string(format!("{dir}/type")).ok()?;
                if kind.trim() == "Instruction" {
                    return None;
                }
                parse_cache_size(&std::fs::read_to_string(format!("{dir}/size")).ok()?)
            })
            .max()
            .unwrap_or(32 << 20)
    })
}

/// sysfs's "32768K" in bytes.
fn parse_cache_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, unit) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().map(|n| n * unit)
}

/// Whether work of `elems` elements is worth sharing with the workers.
pub fn worth_parallel(elems: usize) -> bool {
    elems >= PAR_MIN_ELEMS && num_threads() > 1
}

/// Runs `f(start, end)` over `0..n` split into fixed-size chunks, shared with the workers when `n`
/// is large. Chunk boundaries depend only on `n`, so results never depend on the thread count.
pub fn par_ranges(n: usize, chunk: usize, f: impl Fn(usize, usize) + Sync + Send) {
    let chunk = chunk.max(1);
    if !worth_parallel(n) {
        let mut s = 0;
        while s < n {
            let e = (s + chunk).min(n);
            f(s, e);
            s = e;
        }
        return;
    }
    run_tasks(n.div_ceil(chunk), |c| {
        f(c * chunk, ((c + 1) * chunk).min(n))
    });
}

/// `f(index, chunk)` over `out` cut into `chunk`-sized pieces, shared with the workers when
/// `parallel` (each piece is written by exactly one task).
pub fn par_chunks_mut<T: Send>(
    out: &mut [T],
    chunk: usize,
    parallel: bool,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let chunk = chunk.max(1);
    if !parallel || num_threads() == 1 {
        out.chunks_mut(chunk).enumerate().for_each(|(i, c)| f(i, c));
        return;
    }
    let (len, p) = (
        out.len(),
        crate::kernels::send_ptr::SendPtr(out.as_mut_ptr()),
    );
    run_tasks(len.div_ceil(chunk), |i| {
        let (s, e) = (i * chunk, ((i + 1) * chunk).min(len));
        // SAFETY: piece i is the disjoint range s..e of `out`, which outlives run_tasks.
        f(i, unsafe {
            std::slice::from_raw_parts_mut(p.get().add(s), e - s)
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn cache_sizes_parse_as_sysfs_writes_them() {
        assert_eq!(parse_cache_size("32768K\n"), Some(32 << 20));
        assert_eq!(parse_cache_size("1M"), Some(1 << 20));
        assert_eq!(parse_cache_size("512"), Some(512));
        assert_eq!(parse_cache_size("?"), None);
        assert!(last_level_cache_bytes() >= 1 << 10);
    }

    #[test]
    fn every_task_runs_once() {
        set_num_threads(2);
        for tasks in [0usize, 1, 2, 3, 100, 10_000] {
            let hits: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
            run_tasks(tasks, |t| {
                hits[t].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
        assert_eq!(map_tasks(5, |t| t * t), vec![0, 1, 4, 9, 16]);
    }

    #[test]
    fn nested_calls_run_inline_and_panics_propagate() {
        set_num_threads(2);
        let total = AtomicUsize::new(0);
        run_tasks(4, |_| {
            run_tasks(3, |_| {
                total.fetch_add(1, Ordering::Relaxed);
            })
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
        let r = catch_unwind(|| run_tasks(8, |t| assert!(t != 5, "task five")));
        assert!(r.is_err());
        // the team still works after a panic
        assert_eq!(map_tasks(3, |t| t + 1), vec![1, 2, 3]);
    }
}
