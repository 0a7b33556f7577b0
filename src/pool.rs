//! Work handed out to a fixed set of worker threads (one connection each):
//! the items not started yet, in the order to try them, and a state that says
//! which may start now (a parallel load's tables whose parents have not
//! committed yet; the restore tasks' locked tables). The first error stops
//! the handing out, and so does a stop ([`Pool::stopped_by`]).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::stop::Stop;

struct Queue<T, S> {
    pending: Vec<T>,
    state: S,
    running: usize,
    failed: Option<Error>,
}

/// See the module docs.
pub(crate) struct Pool<T, S> {
    queue: Mutex<Queue<T, S>>,
    wake: Condvar,
    /// Who works here, for the error a panicking worker leaves.
    who: &'static str,
    /// Once it is stopped, nothing more is handed out.
    stop: Option<Stop>,
}

impl<T, S> Pool<T, S> {
    pub fn new(pending: Vec<T>, state: S, who: &'static str) -> Pool<T, S> {
        Pool {
            queue: Mutex::new(Queue {
                pending,
                state,
                running: 0,
                failed: None,
            }),
            wake: Condvar::new(),
            who,
            stop: None,
        }
    }

    /// Hands out nothing once `stop` is stopped: the pool fails with
    /// [`ErrorKind::Stopped`] (waiting workers see it within a wait's 200 ms).
    pub fn stopped_by(mut self, stop: &Stop) -> Pool<T, S> {
        self.stop = Some(stop.clone());
        self
    }

    /// Hands a worker the first pending item that `ready` lets start (`start`
    /// records it in the state), waiting while others run. `None` when nothing
    /// is left, a worker failed, the pool was stopped, or nothing runs and nothing can start (then it
    /// fails the pool with `stuck` rather than wait forever).
    pub fn take(
        &self,
        ready: impl Fn(&S, &T) -> bool,
        start: impl Fn(&mut S, &T),
        stuck: &'static str,
    ) -> Option<T> {
        let mut q = self.queue.lock().ok()?;
        loop {
            if let Some(Err(e)) = self.stop.as_ref().map(Stop::check) {
                q.failed.get_or_insert(e);
                self.wake.notify_all();
            }
            if q.failed.is_some() || q.pending.is_empty() {
                return None;
            }
            let queue = &*q;
            if let Some(at) = queue.pending.iter().position(|t| ready(&queue.state, t)) {
                let item = q.pending.remove(at);
                start(&mut q.state, &item);
                q.running += 1;
                return Some(item);
            }
            if q.running == 0 {
                q.failed.get_or_insert(Error::new(ErrorKind::Stuck(stuck)));
                self.wake.notify_all();
                return None;
            }
            q = self
                .wake
                .wait_timeout(q, Duration::from_millis(200))
                .ok()?
                .0;
        }
    }

    /// Ends a worker's item: `done` updates the state, the first error is kept
    /// (it stops the handing out), and the waiting workers wake.
    pub fn finish(&self, result: Result<(), Error>, done: impl FnOnce(&mut S)) {
        if let Ok(mut q) = self.queue.lock() {
            q.running -= 1;
            done(&mut q.state);
            if let Err(e) = result {
                q.failed.get_or_insert(e);
            }
        }
        self.wake.notify_all();
    }

    /// Fails the pool (a worker could not connect) and wakes the others.
    pub fn fail(&self, e: Error) {
        if let Ok(mut q) = self.queue.lock() {
            q.failed.get_or_insert(e);
        }
        self.wake.notify_all();
    }

    /// The pool's error, if a worker failed or panicked.
    pub fn outcome(self) -> Result<(), Error> {
        match self.queue.into_inner() {
            Ok(q) => q.failed.map_or(Ok(()), Err),
            Err(_) => Err(Error::new(ErrorKind::WorkerPanicked(self.who))),
        }
    }
}
