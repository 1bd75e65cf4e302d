//! Channel threads kept waiting for the next call channel (issue 18).
//!
//! Every process of a sandbox that makes a brokered call through the shim registers a call
//! channel, and the broker serves each channel on its own thread. Spawning that thread (a
//! `clone3`, a stack `mmap` and guard page, the signal stack, and all of it undone at the
//! thread's end) was paid once per process a script started. A thread whose channel has
//! ended now waits here for the next one, up to [`MAX_IDLE`] threads at a time; a new
//! channel goes to a waiting thread when there is one and to a newly spawned thread
//! otherwise, so concurrent channels are served concurrently exactly as before.
//!
//! A job is the whole life of one channel; what a thread keeps between jobs is only what
//! the seccomp workers already keep between the callers they serve (per-call state is set
//! at the start of each call). `arbiter serve` does not use the pool: its channel threads
//! take on the client's identity and register themselves with the sandbox they serve.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Most threads that wait for a channel at once; one that finishes a channel while this
/// many wait ends instead.
pub const MAX_IDLE: usize = 4;

/// The life of one call channel, run on a pool thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// Channel threads that wait for the next channel of one bootstrap socket.
pub struct Pool {
    state: Mutex<State>,
    ready: Condvar,
    name: &'static str,
    stack: usize,
}

#[derive(Default)]
struct State {
    /// Jobs handed over, each promised to a waiting thread.
    queue: VecDeque<Job>,
    /// Threads waiting for a job.
    waiting: usize,
    /// No more jobs will come: waiting threads end.
    closed: bool,
}

impl Pool {
    /// A pool whose threads are named `name` and have `stack` bytes of stack.
    pub fn new(name: &'static str, stack: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            ready: Condvar::new(),
            name,
            stack,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A job runs outside the lock, so a poisoned lock only means a panic between two
        // field updates of this module's own, which leave the counts consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `job` on a waiting thread, or on a new one when none waits; an error is the
    /// spawn's (the job was not run).
    pub fn run(self: &Arc<Self>, job: Job) -> std::io::Result<()> {
        let job = {
            let mut state = self.lock();
            if state.waiting > state.queue.len() {
                state.queue.push_back(job);
                drop(state);
                // After the unlock, so the woken thread does not block again on the lock.
                self.ready.notify_one();
                return Ok(());
            }
            job
        };
        let pool = Arc::clone(self);
        std::thread::Builder::new()
            .name(self.name.into())
            .stack_size(self.stack)
            .spawn(move || pool.serve(job))
            .map(drop)
    }

    /// Runs `job`, then each job handed to this thread while it waits, until [`MAX_IDLE`]
    /// others already wait or the pool is closed.
    fn serve(&self, mut job: Job) {
        loop {
            job();
            let mut state = self.lock();
            if state.closed || state.waiting >= MAX_IDLE {
                return;
            }
            state.waiting += 1;
            loop {
                if let Some(next) = state.queue.pop_front() {
                    state.waiting -= 1;
                    job = next;
                    break;
                }
                if state.closed {
                    state.waiting -= 1;
                    return;
                }
                state = self
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
    }

    /// Ends the waiting threads; a job already handed over still runs.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_finished_thread_serves_the_next_job() {
        let pool = Pool::new("test", 64 * 1024);
        let (tx, rx) = mpsc::channel();
        let tx1 = tx.clone();
        pool.run(Box::new(move || {
            tx1.send(std::thread::current().id()).unwrap()
        }))
        .unwrap();
        let first = rx.recv().unwrap();
        // Wait until the thread is parked (no timing: poll the count under the lock).
        while pool.lock().waiting == 0 {
            std::thread::yield_now();
        }
        pool.run(Box::new(move || {
            tx.send(std::thread::current().id()).unwrap()
        }))
        .unwrap();
        assert_eq!(rx.recv().unwrap(), first);
        pool.close();
    }

    #[test]
    fn concurrent_jobs_get_their_own_threads() {
        let pool = Pool::new("test", 64 * 1024);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        let (done_tx, done_rx) = mpsc::channel();
        for _ in 0..3 {
            let go_rx = Arc::clone(&go_rx);
            let done_tx = done_tx.clone();
            // Each job blocks until released: a pool that queued a job behind a busy
            // thread would never release the third.
            pool.run(Box::new(move || {
                done_tx.send(()).unwrap();
                go_rx.lock().unwrap().recv().unwrap();
            }))
            .unwrap();
        }
        for _ in 0..3 {
            done_rx.recv().unwrap();
        }
        for _ in 0..3 {
            go_tx.send(()).unwrap();
        }
        pool.close();
    }
}
