//! Worker threads that share the rows of a product without waiting for one
//! another.
//!
//! candle's pool (`candle_core::utils::barrier_pool`) makes every worker
//! take part in each product and waits for all of them. On a machine busy
//! with other work, a worker the scheduler has not run yet holds the product
//! up for a time slice (milliseconds, against tens of microseconds for a
//! one-row product of the 1.5B model). Here the calling thread and the
//! workers take chunks of rows from a shared cursor while they run; the
//! caller does whatever no worker took and then waits only for chunks a
//! worker has started.

use std::ops::Range;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, OnceLock};
use std::thread::Thread;

/// Busy-wait rounds, then rounds of yielding the CPU, before a worker
/// sleeps: products follow one another within microseconds while a model
/// runs.
const SPINS: u32 = 2_000;
const YIELDS: u32 = 200;

/// One product: `f` over chunks of `0..n`.
struct Job<'a> {
    f: &'a (dyn Fn(Range<usize>) + Sync),
    n: usize,
    chunk: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panicked: AtomicBool,
}

impl Job<'_> {
    /// Runs chunks until none is left.
    fn work(&self) {
        loop {
            let start = self.next.fetch_add(self.chunk, SeqCst);
            if start >= self.n {
                return;
            }
            let end = (start + self.chunk).min(self.n);
            if std::panic::catch_unwind(AssertUnwindSafe(|| (self.f)(start..end))).is_err() {
                self.panicked.store(true, SeqCst);
            }
            self.done.fetch_add(end - start, SeqCst);
        }
    }
}

/// What the calling thread and the workers share.
struct Shared {
    /// The current job, null between jobs. It lives on the caller's stack;
    /// the caller clears it and waits for `active` to reach 0 before
    /// returning, and a worker only reads it between incrementing and
    /// decrementing `active`.
    job: AtomicPtr<Job<'static>>,
    /// Counts jobs posted, so that workers know a new one has come.
    posted: AtomicUsize,
    active: AtomicUsize,
    /// Per worker: parked, to be woken by the next job.
    sleeping: Vec<AtomicBool>,
}

/// The engine's worker threads: its thread count minus the calling thread.
pub struct Workers {
    shared: &'static Shared,
    threads: Vec<Thread>,
    /// One job at a time.
    lock: Mutex<()>,
}

impl Workers {
    /// The workers for the engine's thread count (candle's, from
    /// `RAYON_NUM_THREADS` or the number of cores), started on first use.
    pub fn get() -> &'static Workers {
        static WORKERS: OnceLock<Workers> = OnceLock::new();
        WORKERS.get_or_init(|| Workers::start(candle_core::utils::get_num_threads() - 1))
    }

    fn start(n: usize) -> Workers {
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            job: AtomicPtr::new(std::ptr::null_mut()),
            posted: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            sleeping: (0..n).map(|_| AtomicBool::new(false)).collect(),
        }));
        let threads = (0..n)
            .map(|i| {
                std::thread::Builder::new()
                    .name(format!("polybrief-worker-{i}"))
                    .spawn(move || worker(shared, i))
                    .expect("cannot start a worker thread")
                    .thread()
                    .clone()
            })
            .collect();
        Workers { shared, threads, lock: Mutex::new(()) }
    }

    /// Runs `f` over ranges covering `0..n` once, on this thread and on the
    /// workers that are running.
    /// `f` must not call `run` (a worker would wait for itself).
    pub fn run(&self, n: usize, f: impl Fn(Range<usize>) + Sync) {
        if n == 0 {
            return;
        }
        if self.threads.is_empty() || n == 1 {
            f(0..n);
            return;
        }
        let _one_job = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        // Many chunks per thread, so that a thread descheduled in the middle
        // of one leaves little for the others to wait for.
        let chunk = n.div_ceil((self.threads.len() + 1) * 16);
        let job = Job {
            f: &f,
            n,
            chunk,
            next: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        };
        let shared = self.shared;
        shared.job.store(&job as *const Job<'_> as *mut Job<'static>, SeqCst);
        shared.posted.fetch_add(1, SeqCst);
        for (thread, sleeping) in self.threads.iter().zip(&shared.sleeping) {
            if sleeping.load(SeqCst) {
                thread.unpark();
            }
        }
        job.work();
        wait_until(|| job.done.load(SeqCst) == n);
        shared.job.store(std::ptr::null_mut(), SeqCst);
        wait_until(|| shared.active.load(SeqCst) == 0);
        assert!(!job.panicked.load(SeqCst), "a worker thread panicked in a matrix product");
    }
}

/// Waits for a worker to finish: briefly busy, then yielding the CPU, which
/// the worker may be waiting for.
fn wait_until(done: impl Fn() -> bool) {
    let mut rounds = 0u32;
    while !done() {
        rounds += 1;
        if rounds < SPINS {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

fn worker(shared: &'static Shared, index: usize) {
    let mut seen = shared.posted.load(SeqCst);
    loop {
        let mut rounds = 0u32;
        while shared.posted.load(SeqCst) == seen {
            rounds += 1;
            if rounds < SPINS {
                std::hint::spin_loop();
            } else if rounds < SPINS + YIELDS {
                std::thread::yield_now();
            } else {
                // The caller stores `posted` before reading `sleeping`, and
                // this thread the other way round: one of them sees the other.
                shared.sleeping[index].store(true, SeqCst);
                if shared.posted.load(SeqCst) == seen {
                    std::thread::park();
                }
                shared.sleeping[index].store(false, SeqCst);
                rounds = 0;
            }
        }
        seen = shared.posted.load(SeqCst);
        shared.active.fetch_add(1, SeqCst);
        let job = shared.job.load(SeqCst);
        if !job.is_null() {
            // SAFETY: the job stays alive while `active` is above 0 and the
            // pointer is not null (see `Shared::job`).
            unsafe { (*job).work() };
        }
        shared.active.fetch_sub(1, SeqCst);
    }
}
