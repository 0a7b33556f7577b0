//! Seeded databases for tests, in milliseconds (cargo feature `testing`).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In a test: a fresh database with the fixtures' schema and rows.
//! let db = fkload::testing::seeded("fixtures/shop/schema.sql", "fixtures/shop/data")?;
//! let mut client = postgres::Client::connect(&db.url(), postgres::NoTls)?;
//! let n: i64 = client.query_one("SELECT count(*) FROM customer", &[])?.get(0);
//! assert_eq!(n, 3);
//! # Ok(())
//! # } // the database is dropped with `db`
//! ```
//!
//! - **One server per test process**: a throwaway server (started as
//!   [`crate::server`] starts every server, in `/dev/shm` where there is
//!   one) at the first call, removed when the process ends; or, when
//!   `FKLOAD_TESTING_URL` is set, that server (the role needs `CREATEDB`).
//! - **One template database per fixture set** (schema file and data
//!   directory), made once per process: the schema applied and the data
//!   loaded by fkload, in one transaction, every key checked. On a server of
//!   `FKLOAD_TESTING_URL` it is kept between runs and reused while the schema
//!   and the files are unchanged (its name holds a digest of their bytes).
//! - **A fresh database per call**, `CREATE DATABASE ... TEMPLATE` (a file
//!   copy: milliseconds), dropped when the returned [`TestDatabase`] drops.
//!   Calls from parallel tests are safe.
//!
//! Every call does its work on a thread of its own, so it may be made from
//! inside an async runtime (`#[tokio::test]`), where the synchronous
//! `postgres` client would panic; the test then connects with its own
//! client (`tokio_postgres::connect(&db.url(), NoTls)`).
//!
//! A test that needs a server of its own (to restart it, change its
//! authentication, start a standby of it) starts a [`Server`]: the same
//! server, reachable over TCP too.

mod server;
mod shared;

use std::path::Path;

use crate::error::{Error, ErrorKind};
use crate::server::ServerError;

pub use server::Server;
pub use shared::{TestDatabase, URL_VAR};

/// A fresh database holding the schema of `schema` (an SQL file) and the
/// rows of the data directory `data`, loaded by fkload once per process and
/// copied for each call.
///
/// # Errors
/// When no server can be started or reached ([`ErrorKind::Throwaway`]),
/// the schema fails, or the fixtures do not load (the load's own error:
/// file, line, key).
pub fn seeded(schema: impl AsRef<Path>, data: impl AsRef<Path>) -> Result<TestDatabase, Error> {
    let schema = schema.as_ref().to_path_buf();
    let data = data.as_ref().to_path_buf();
    on_own_thread(move || {
        let server = shared::server()?;
        let template = server.template(&schema, Some(&data))?;
        server.copy_of(&template)
    })
}

/// An empty database with only the schema (no rows).
///
/// # Errors
/// As [`seeded`].
pub fn with_schema(schema: impl AsRef<Path>) -> Result<TestDatabase, Error> {
    let schema = schema.as_ref().to_path_buf();
    on_own_thread(move || {
        let server = shared::server()?;
        let template = server.template(&schema, None)?;
        server.copy_of(&template)
    })
}

/// Runs `work` on a thread of its own, where the synchronous client may run
/// even when the caller is inside an async runtime.
fn on_own_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    std::thread::spawn(work)
        .join()
        .unwrap_or_else(|_| Err(Error::new(ErrorKind::Throwaway(ServerError::Panicked))))
}
