//! fkload bulk-loads a directory of CSV files into an existing PostgreSQL
//! database in foreign-key order, in one transaction.
//!
//! It reads the target's tables and foreign keys from the catalog, orders the
//! tables parent-first (cycles broken by deferring deferrable keys, or by
//! setting keys aside and putting them back exactly as they were), streams each
//! file with `COPY ... FROM STDIN`, and commits only if every row loaded and
//! every key holds. A failure rolls everything back and says which file, line,
//! constraint and key.
//!
//! Three ways to use it:
//!
//! - **The command line**: `fkload -d shop ./data`, or with no database
//!   service at all, `fkload --schema-file schema.sql ./data` (a throwaway
//!   server, [`server::Throwaway`]). See the README for every option.
//! - **A load from a program**: [`load_dir`] in one call on a connection of
//!   yours, or a [`Loader`] (below).
//! - **Test fixtures** (cargo feature `testing`): a fresh seeded database per
//!   test in milliseconds, copied from a template loaded once:
//!
//! ```no_run
//! # fn main() -> Result<(), fkload::Error> {
//! let db = fkload::testing::seeded("fixtures/shop/schema.sql", "fixtures/shop/data")?;
//! let mut client = db.connect()?; // or any client, at db.url()
//! # Ok(())
//! # }
//! ```
//!
//! A [`Loader`] is made from options and a [`Connector`]; it plans (reads only)
//! and loads:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config: postgres::Config = "host=localhost user=app dbname=shop".parse()?;
//! let loader = fkload::Loader::builder()
//!     .connector(fkload::Connector::from_config(config))
//!     .build();
//! let plan = loader.plan("fixtures/shop/data")?;
//! for step in plan.steps() {
//!     println!("{} -> {} (level {})", step.file_name(), step.table(), step.level());
//! }
//! for cycle in plan.cycles() {
//!     for key in cycle.broken(&plan) {
//!         println!("cycle broken by {} ({:?})", key.name(), key.action());
//!     }
//! }
//! println!("strategy {:?}, {} bytes", plan.strategy(), plan.bytes());
//! let report = loader.load(&plan, &mut |_event| {})?;
//! println!("{report}");
//! # Ok(())
//! # }
//! ```
//!
//! Or, on a connection (or an open transaction) of the caller's, in one call:
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut client = postgres::Client::connect("host=localhost user=app dbname=shop", postgres::NoTls)?;
//! let mut tx = client.transaction()?;
//! let report = fkload::load_dir(&mut tx, "fixtures/shop/data")?;
//! assert!(report.rows() > 0);
//! tx.rollback()?; // the caller decides
//! # Ok(())
//! # }
//! ```
//!
//! Or check a directory without loading it, every problem in one run (see
//! [`error::Problems`]), and load with the rows that break a key set aside
//! ([`OnOrphan`]):
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let config: postgres::Config = "host=localhost user=app dbname=shop".parse()?;
//! let loader = fkload::Loader::builder()
//!     .connector(fkload::Connector::from_config(config))
//!     .on_orphan(fkload::OnOrphan::Skip)
//!     .reject_dir("rejects")
//!     .build();
//! let problems = loader.check("fixtures/shop/data", &mut |_| {})?;
//! for v in &problems.keys {
//!     println!("{}: {} orphan rows, {} parent keys missing", v.constraint, v.rows, v.missing_keys);
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Errors are [`Error`]s: [`Error::kind`] carries the file, line, constraint
//! and orphan rows; [`Error::sqlstate`], [`Error::position`] and
//! [`Error::is_connection`] are for programs. A load that fails on foreign
//! keys lists their orphan rows before it returns, the same way on every
//! entry point ([`Loader::load`], [`Loader::load_in`], [`load_dir`], and
//! `testing::seeded`): one violated key alone is [`ErrorKind::ForeignKey`],
//! several (or a key among other problems) [`ErrorKind::Problems`], and
//! [`Error::violations`] gives the violated keys either way.
//!
//! Inside, in layers (each imports only those above it in this list; no
//! module imports one that imports it back):
//!
//! - `sql`: quoting and qualified names; [`error`]: the error kinds and
//!   the rows found bad, as data;
//! - `input`: the data directory, dialects, headers, records and lines as
//!   `COPY` reads them; a data file and all that is asked of it because of
//!   its format (the input seam: the COPY options, the data sent, parts,
//!   lines, records, reject files);
//! - `database`: every statement (`db`), one `COPY` (`copy`), the catalog,
//!   Citus, table patterns;
//! - `connect`: libpq's settings ([`conninfo`]), the connection rules,
//!   TLS, the [`Connector`];
//! - `options`, then [`plan`]: the survey of the facts, the pure decision,
//!   the order and the cycles (`overview` and `render` for `graph`: a plan
//!   of every table, [`Plan::to_dot`], [`Plan::to_mermaid`]);
//! - `rows`: why a load failed (file, line, orphans, duplicates),
//!   `--on-orphan`'s rows, and the rows the server refuses one by one
//!   (gone around by `check` and `--on-error skip`);
//! - `run`: the pipeline of stages and its runners (one transaction, check,
//!   parallel with its journal, pool, repair and stop), the report;
//! - [`Loader`], the entry point; [`server`] and `testing`, PostgreSQL
//!   servers of fkload's own; `account`, the JSON of a plan and of an
//!   unfinished run ([`Plan::to_json`]) for the command's JSON report.
//!
//! The public API is what a program needs to plan, inspect, load and read
//! what happened: the [`Loader`] and its [`LoaderBuilder`], the
//! [`Connector`] (with libpq's settings, [`conninfo`]), the file
//! [`dialect`]'s options, the [`Plan`] read through its methods (its
//! [`plan::Step`]s, [`plan::PlannedKey`]s, [`plan::PlannedIndex`]es and
//! [`plan::Cycle`]s), the [`Event`]s of a load, the [`Report`], and the
//! [`error`]s as data. The rest (the catalog's types, the dialect resolved,
//! Citus's names, the manifest, table patterns) is the crate's.
//!
//! `python3 scripts/structure.py` prints the layers and checks there is no
//! import cycle.

// No unwrap, expect or panic outside tests and proven invariants (which say
// why in an allow).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod account;
mod connect;
mod database;
pub mod error;
mod event;
mod input;
mod loader;
mod options;
pub mod plan;
mod rows;
mod run;
pub mod server;
mod sql;
#[cfg(feature = "testing")]
pub mod testing;

// The paths the command line and library users know.
pub use connect::conninfo;
pub use input::dialect;

use std::path::Path;

pub use connect::{Connector, Session};
pub use error::{Error, ErrorKind};
pub use event::Event;
pub use loader::{Cancel, Loader, LoaderBuilder};
pub use options::OnOrphan;
pub use plan::{Plan, Strategy};
pub use run::report::{Report, TableReport};

/// Plans and loads `dir` in one transaction on `client`, a connection or an
/// open transaction of the caller's (which then commits or rolls back), with
/// the default options: what a test fixture loader needs.
///
/// # Errors
/// See [`Loader::plan_in`] and [`Loader::load_in`].
pub fn load_dir(
    client: &mut impl postgres::GenericClient,
    dir: impl AsRef<Path>,
) -> Result<Report, Error> {
    let loader = Loader::builder().build();
    let plan = loader.plan_in(client, dir)?;
    loader.load_in(client, &plan, &mut |_| {})
}
