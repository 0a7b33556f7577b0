//! The one-transaction runner: the whole load in one transaction, so that
//! nothing is visible before COMMIT and any error leaves the database exactly
//! as it was, the keys and indexes set aside included (DDL is transactional
//! in PostgreSQL). The stages are [`pipeline`]'s.
//!
//! Run on a caller's open transaction, the load's transaction is a savepoint
//! of it, released at the end: the caller commits or rolls back.
//!
//! Progress goes to the caller as [`Event`]s; this module prints nothing.

use std::time::Instant;

use postgres::GenericClient;

use crate::database::db;
use crate::error::Error;
use crate::event::Event;
use crate::plan::Plan;
use crate::rows::edits::FileEdits;
use crate::run::pipeline::{self, Scope, Stop};
use crate::run::report::Report;

/// Loads every file of `plan` in one transaction on `client` (or, when
/// `client` is itself a transaction, in a savepoint of it), each file's
/// records sent as `edited` says: the stages of
/// [`pipeline`], stopping at the first error, then COMMIT.
///
/// # Errors
/// [`ErrorKind::Copy`] with file and line when the server rejects a row;
/// [`ErrorKind::ForeignKey`] when a key is violated;
/// [`ErrorKind::Duplicate`] when an index built after the data finds a key
/// twice; [`ErrorKind::NotRestored`] when a key or index does not come back as
/// it was; [`ErrorKind::Io`] when a file cannot be read; [`ErrorKind::Sql`]
/// for other server errors and [`ErrorKind::ConnectionLost`] when the
/// connection drops. In every case the transaction is rolled back: the
/// database is as it was.
pub(crate) fn run(
    client: &mut impl GenericClient,
    plan: &Plan,
    edited: &FileEdits,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut tx = db::begin(client, "starting the transaction")?;
    let mut report = Report::default();
    pipeline::run(
        &mut tx,
        plan,
        edited,
        Scope::Commit,
        &mut Stop,
        &mut report,
        observer,
    )?;
    observer(Event::Committing);
    db::commit(tx, "committing")?;
    report.elapsed = started.elapsed();
    Ok(report)
}
