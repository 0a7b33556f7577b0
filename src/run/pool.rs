//! Work handed out to a fixed set of worker threads (one connection each):
//! the items not started yet, in the order to try them, and a state that says
//! which may start now (a parallel load's tables whose parents have not
//! committed yet; the restore tasks' locked tables). The first error stops
//! the handing out, and so does a stop ([`Pool::stopped_by`]).

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::error::{Error, ErrorKind};
use crate::run::stop::Stop;

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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A worker's loop as the parallel load runs it: take, work, finish.
    fn work(
        pool: &Pool<usize, Vec<usize>>,
        parents: &[Option<usize>],
        done_order: &Mutex<Vec<usize>>,
        fail_on: Option<usize>,
    ) {
        while let Some(item) = pool.take(
            |done, &i| parents[i].is_none_or(|p| done.contains(&p)),
            |_, _| {},
            "nothing can start",
        ) {
            std::thread::sleep(Duration::from_millis(2));
            let result = if Some(item) == fail_on {
                Err(Error::new(ErrorKind::Stuck("failed")))
            } else {
                Ok(())
            };
            if let Ok(mut d) = done_order.lock() {
                d.push(item);
            }
            pool.finish(result, |done| done.push(item));
        }
    }

    /// Items whose parent is not done never start before it, whatever the
    /// number of workers; every item is handed out exactly once.
    #[test]
    fn an_item_starts_only_once_its_parent_is_done() {
        // 0 <- 1 <- 3, 0 <- 2, 4 alone, 5 <- 4.
        let parents = [None, Some(0), Some(0), Some(1), None, Some(4)];
        for workers in 1..=4 {
            let pool = Pool::new((0..6).rev().collect(), Vec::new(), "test");
            let order = Mutex::new(Vec::new());
            std::thread::scope(|s| {
                for _ in 0..workers {
                    s.spawn(|| work(&pool, &parents, &order, None));
                }
            });
            assert!(pool.outcome().is_ok());
            let order = order.into_inner().unwrap();
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..6).collect::<Vec<_>>(), "{workers} workers");
            for (i, p) in parents.iter().enumerate() {
                if let Some(p) = p {
                    let at = |x: usize| order.iter().position(|&o| o == x).unwrap();
                    assert!(at(*p) < at(i), "{workers} workers: {order:?}");
                }
            }
        }
    }

    /// The first error stops the handing out: nothing starts after it, and
    /// the pool fails with it.
    #[test]
    fn the_first_error_stops_the_handing_out() {
        let parents = [None, Some(0), Some(1), Some(2)];
        let pool = Pool::new(vec![0, 1, 2, 3], Vec::new(), "test");
        let order = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| work(&pool, &parents, &order, Some(1)));
            }
        });
        assert_eq!(order.into_inner().unwrap(), vec![0, 1]);
        let e = pool.outcome().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Stuck("failed")));
    }

    /// Nothing running and nothing ready: the pool fails as stuck instead of
    /// waiting forever.
    #[test]
    fn nothing_ready_and_nothing_running_is_stuck() {
        let pool: Pool<usize, Vec<usize>> = Pool::new(vec![0], Vec::new(), "test");
        assert!(pool.take(|_, _| false, |_, _| {}, "cycle").is_none());
        let e = pool.outcome().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Stuck("cycle")));
    }

    /// A stop hands nothing more out: the pool fails with Stopped.
    #[test]
    fn a_stop_hands_nothing_more_out() {
        let stop = Stop::default();
        let pool = Pool::new(vec![0usize, 1, 2], Vec::<usize>::new(), "test").stopped_by(&stop);
        let first = pool.take(|_, _| true, |_, _| {}, "stuck");
        assert_eq!(first, Some(0));
        stop.stop();
        pool.finish(Ok(()), |_| {});
        assert!(pool.take(|_, _| true, |_, _| {}, "stuck").is_none());
        let e = pool.outcome().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::Stopped { .. }));
    }

    /// A worker that panics leaves the pool's lock poisoned: the outcome
    /// names the worker, not a panic of the caller.
    #[test]
    fn a_panicking_worker_is_an_error_naming_it() {
        let pool: Pool<usize, Vec<usize>> = Pool::new(vec![0], Vec::new(), "restore");
        let taken = AtomicUsize::new(0);
        std::thread::scope(|s| {
            let handle = s.spawn(|| {
                let _ = pool.take(
                    |_, _| true,
                    |_, _| {
                        taken.fetch_add(1, Ordering::SeqCst);
                        panic!("a worker's bug");
                    },
                    "stuck",
                );
            });
            assert!(handle.join().is_err());
        });
        assert_eq!(taken.load(Ordering::SeqCst), 1);
        let e = pool.outcome().unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::WorkerPanicked("restore")));
    }
}
