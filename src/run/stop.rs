//! Stopping a running load from another thread (a Ctrl-C or SIGTERM handler):
//! a flag the runners check before each new piece of work, and the cancel
//! tokens of every connection that runs a statement for the load, so that a
//! stop also cancels what runs now.
//!
//! The flag is only ever set by [`Stop::stop`] and cleared by [`Stop::arm`]
//! (a new load). A session registers its token for as long as it works for
//! the load ([`Stop::register`] returns a guard); a statement that a stop
//! cancels fails with the server's `query_canceled`, which the runner then
//! reads as the stop. What a stopped run leaves is the runner's to say
//! ([`left`] for a parallel load).
//!
//! This module does not decide what a stop means: a one-transaction load rolls
//! back, a parallel load leaves its journal for `--resume` or `repair`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use postgres::{CancelToken, Client};

use crate::connect::Connector;
use crate::error::{Error, ErrorKind};
use crate::run::journal;

/// See the module docs. Clones share the flag and the tokens.
#[derive(Clone, Default)]
pub(crate) struct Stop(Arc<Inner>);

#[derive(Default)]
struct Inner {
    stopped: AtomicBool,
    /// A failed parallel run is being undone: its statements are not
    /// cancelled (an undo cut halfway would leave more for `repair`).
    undoing: AtomicBool,
    next: AtomicU64,
    sessions: Mutex<Sessions>,
}

#[derive(Default)]
struct Sessions {
    connector: Option<Connector>,
    tokens: Vec<(u64, CancelToken)>,
}

/// A registered session: unregistered when dropped.
pub(crate) struct Registered<'a> {
    stop: &'a Stop,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut s) = self.stop.0.sessions.lock() {
            s.tokens.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Stop {
    /// A new load starts: not stopped, cancel requests go through `connector`.
    pub fn arm(&self, connector: Connector) {
        self.0.stopped.store(false, Ordering::SeqCst);
        self.0.undoing.store(false, Ordering::SeqCst);
        if let Ok(mut s) = self.0.sessions.lock() {
            s.connector = Some(connector);
        }
    }

    /// The load ended: a stop now has nothing to cancel.
    pub fn disarm(&self) {
        if let Ok(mut s) = self.0.sessions.lock() {
            *s = Sessions::default();
        }
    }

    /// Cancels the statements of `token`'s session on a stop, while the guard
    /// lives.
    pub fn register(&self, token: CancelToken) -> Registered<'_> {
        let id = self.0.next.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = self.0.sessions.lock() {
            s.tokens.push((id, token));
        }
        Registered { stop: self, id }
    }

    /// Sets the flag and cancels the running statement of every registered
    /// session (none while a failed run is undone). Returns whether a load
    /// was armed.
    pub fn stop(&self) -> bool {
        self.0.stopped.store(true, Ordering::SeqCst);
        let (connector, tokens) = match self.0.sessions.lock() {
            Ok(s) => (s.connector.clone(), s.tokens.clone()),
            Err(_) => return false,
        };
        let Some(connector) = connector else {
            return false;
        };
        if !self.is_undoing() {
            for (_, token) in &tokens {
                connector.cancel(token);
            }
        }
        true
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    pub fn is_undoing(&self) -> bool {
        self.0.undoing.load(Ordering::SeqCst)
    }

    /// From now on a stop cancels nothing: a failed run is being undone.
    pub fn undoing(&self) {
        self.0.undoing.store(true, Ordering::SeqCst);
    }

    /// An error once stopped (what the run left is filled in by [`left`]).
    ///
    /// # Errors
    /// [`ErrorKind::Stopped`] once stopped.
    pub fn check(&self) -> Result<(), Error> {
        if self.is_stopped() {
            Err(Error::new(ErrorKind::Stopped {
                run: None,
                units_loaded: None,
                units_total: 0,
                dropped: None,
                jobs: 0,
            }))
        } else {
            Ok(())
        }
    }
}

/// What a stopped parallel run `run` left, read from its journal on the
/// control connection (or a new one when that was lost). `total` is how many
/// units the run had to load, over `jobs` connections.
pub(crate) fn left(
    client: &mut Client,
    connector: &Connector,
    run: &str,
    total: usize,
    jobs: usize,
) -> Error {
    let entries = if client.is_closed() {
        connector
            .connect()
            .and_then(|mut c| journal::entries(&mut c, run))
    } else {
        journal::entries(client, run)
    };
    let mut run = Some(run.to_string());
    let (mut units_loaded, mut dropped) = (None, None);
    match entries {
        Ok(entries) if entries.is_empty() => run = None,
        Ok(entries) => {
            units_loaded = Some(
                entries
                    .iter()
                    .filter(|e| e.kind == journal::Kind::Table && e.state == journal::State::Loaded)
                    .count(),
            );
            dropped = Some(
                entries
                    .iter()
                    .filter(|e| e.kind.is_object() && e.state == journal::State::Dropped)
                    .count(),
            );
        }
        Err(_) => {}
    }
    Error::new(ErrorKind::Stopped {
        run,
        units_loaded,
        units_total: total,
        dropped,
        jobs,
    })
}
