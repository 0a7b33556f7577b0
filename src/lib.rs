//! fkload bulk-loads a directory of CSV files into an existing PostgreSQL
//! database in foreign-key order, in one transaction.
//!
//! It reads the target's tables and foreign keys from the catalog, orders the
//! tables parent-first (cycles broken by deferring deferrable keys, or by dropping
//! keys and adding them back exactly as they were), streams each file with
//! `COPY ... FROM STDIN`, and commits only if every row loaded and every key
//! holds. A failure rolls everything back and says which file, line, constraint
//! and key.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = postgres::Client::connect(
//!     "host=localhost user=app dbname=shop",
//!     postgres::NoTls,
//! )?;
//! // Plan (reads only), then load: one transaction, all or nothing.
//! let plan = fkload::plan(&mut client, "fixtures/shop/data")?;
//! print!("{}", plan.describe());
//! let report = fkload::load(&mut client, &plan, &mut |_event| {})?;
//! println!("{report}");
//!
//! // Or both in one call, as a test fixture loader would.
//! let report = fkload::load_dir(&mut client, "fixtures/shop/data")?;
//! assert_eq!(report.tables.len(), plan.steps.len());
//! # Ok(())
//! # }
//! ```
//!
//! The modules, one idea each: [`source`] (files and headers), [`catalog`]
//! (what the database says), [`graph`] (order and cycles), [`plan`] (what the
//! load will do), [`copy`] (one COPY), [`load`] (the transaction),
//! [`orphan`] (every row a key rejects), [`report`] (what was done),
//! [`conninfo`] (libpq-style connection settings), [`error`].

pub mod catalog;
pub mod conninfo;
pub mod copy;
mod db;
pub mod error;
pub mod graph;
pub mod journal;
pub mod load;
pub mod orphan;
pub mod parallel;
pub mod plan;
pub mod report;
pub mod scan;
pub mod source;
pub mod sql;

use std::path::Path;

pub use error::{Error, ErrorKind};
pub use load::Event;
pub use plan::{Options, Plan, Strategy, StrategyChoice};
pub use report::Report;

/// Reads the data directory and the catalog and makes a load plan. Writes nothing.
///
/// # Errors
/// See [`plan::make`].
pub fn plan(client: &mut postgres::Client, dir: impl AsRef<Path>) -> Result<Plan, Error> {
    plan::make(client, dir.as_ref(), &plan::Options::default())
}

/// [`plan()`] with options (the key strategy).
///
/// # Errors
/// See [`plan::make`].
pub fn plan_with(
    client: &mut postgres::Client,
    dir: impl AsRef<Path>,
    options: &plan::Options,
) -> Result<Plan, Error> {
    plan::make(client, dir.as_ref(), options)
}

/// Runs `plan` in one transaction, reporting progress to `observer`.
///
/// # Errors
/// See [`load::run`]; the database is unchanged after any error.
pub fn load(
    client: &mut postgres::Client,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    load::run(client, plan, observer)
}

/// Runs `plan` over `plan.jobs` connections made from `config` (one transaction
/// per file; see [`parallel`]), with `client` as the control connection. With
/// `resume`, finishes the run an earlier parallel load left unfinished.
///
/// # Errors
/// See [`parallel::run`].
pub fn load_parallel(
    client: &mut postgres::Client,
    config: &postgres::Config,
    plan: &Plan,
    resume: bool,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    parallel::run(client, config, plan, plan.jobs, resume, observer)
}

/// Repairs what an interrupted parallel load left in the database (see
/// [`parallel::repair`]); `None` when there was nothing to repair.
///
/// # Errors
/// See [`parallel::repair`].
pub fn repair(client: &mut postgres::Client) -> Result<Option<String>, Error> {
    parallel::repair(client)
}

/// Plans and loads `dir` in one call.
///
/// # Errors
/// See [`plan()`] and [`load()`].
pub fn load_dir(client: &mut postgres::Client, dir: impl AsRef<Path>) -> Result<Report, Error> {
    let plan = plan::make(client, dir.as_ref(), &plan::Options::default())?;
    load::run(client, &plan, &mut |_| {})
}
