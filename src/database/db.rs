//! Every statement fkload sends goes through here: one statement per round
//! trip (a script of several would reach a server, or a Citus shard, as one
//! unit of failure), and a server error classified once ([`server_error`]).
//!
//! In builds with the `failpoints` feature (tests only; release builds carry
//! no such code path), each statement is also a crash point and a failure
//! point, counting every statement of the process over all its connections:
//! - `FKLOAD_FAILPOINT=N`: the process kills itself with SIGKILL just before
//!   its Nth statement reaches the server. No destructor runs and nothing is
//!   cleaned up, as with `kill -9`;
//! - `FKLOAD_FAILPOINT=N:FAULT`: the Nth statement fails instead, with the
//!   error the server gives, and fkload goes on handling it. FAULT is
//!   `lock-timeout` (SQLSTATE 55P03), `serialization` (40001) or `disconnect`
//!   (the server ends the session: 57P01, and the connection is gone); the
//!   error is raised by the server itself, in place of the statement.
//!
//! The fault tests enumerate N (and FAULT) to reach every state a crash or a
//! failure can leave. Nothing else in the crate may call the client's
//! statement methods itself (a unit test reads the sources to make sure).

use postgres::types::ToSql;
use postgres::{CopyInWriter, GenericClient, Portal, Row, Transaction};

use crate::error::Error;

/// Classifies a client error: a server report, or a lost connection.
pub fn server_error(e: postgres::Error, during: &str) -> Error {
    Error::server(e, during)
}

/// Runs one statement without parameters, keeping the client's error for a
/// caller that examines it (a key violation, a duplicate).
pub(crate) fn try_exec(c: &mut impl GenericClient, sql: &str) -> Result<(), postgres::Error> {
    point(c, sql)?;
    c.batch_execute(sql)
}

/// A statement is about to be sent: a crash point, or in a failure test the
/// statement's error (see the module docs).
#[inline(always)]
fn point(c: &mut impl GenericClient, sql: &str) -> Result<(), postgres::Error> {
    match failpoint::statement(sql) {
        // The server raises the failure in place of the statement.
        Some(fail) => c.batch_execute(fail),
        None => Ok(()),
    }
}

/// Runs one statement without parameters.
pub(crate) fn exec(c: &mut impl GenericClient, sql: &str, during: &str) -> Result<(), Error> {
    try_exec(c, sql).map_err(|e| server_error(e, during))
}

/// Runs one statement and returns the number of rows it changed.
pub(crate) fn execute(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    during: &str,
) -> Result<u64, Error> {
    point(c, sql).map_err(|e| server_error(e, during))?;
    c.execute(sql, params).map_err(|e| server_error(e, during))
}

/// Runs one query and returns its rows.
pub(crate) fn query(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    during: &str,
) -> Result<Vec<Row>, Error> {
    try_query(c, sql, params).map_err(|e| server_error(e, during))
}

/// [`query`], keeping the client's error.
pub(crate) fn try_query(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, postgres::Error> {
    point(c, sql)?;
    c.query(sql, params)
}

/// Runs one query that returns exactly one row.
pub(crate) fn query_one(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    during: &str,
) -> Result<Row, Error> {
    point(c, sql).map_err(|e| server_error(e, during))?;
    c.query_one(sql, params)
        .map_err(|e| server_error(e, during))
}

/// Starts a transaction (or, inside one, a savepoint that rolls back when
/// dropped unfinished).
pub(crate) fn begin<'a>(
    c: &'a mut impl GenericClient,
    during: &str,
) -> Result<Transaction<'a>, Error> {
    point(c, "BEGIN").map_err(|e| server_error(e, during))?;
    c.transaction().map_err(|e| server_error(e, during))
}

/// Commits a transaction from [`begin`].
pub(crate) fn commit(mut tx: Transaction<'_>, during: &str) -> Result<(), Error> {
    // A failed COMMIT: the transaction rolls back as it is dropped.
    point(&mut tx, "COMMIT").map_err(|e| server_error(e, during))?;
    tx.commit().map_err(|e| server_error(e, during))
}

/// Rolls back a transaction (or, for a savepoint from [`begin`], to it) from
/// which a failure is to be examined.
pub(crate) fn rollback(mut tx: Transaction<'_>, during: &str) -> Result<(), Error> {
    point(&mut tx, "ROLLBACK").map_err(|e| server_error(e, during))?;
    tx.rollback().map_err(|e| server_error(e, during))
}

/// Binds `sql` to a portal of `tx`, whose rows [`query_portal`] then
/// fetches a batch at a time (a query whose rows need not all be in memory).
/// A statement of its own: the client prepares and binds it in a round trip.
pub(crate) fn bind(
    tx: &mut Transaction<'_>,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    during: &str,
) -> Result<Portal, Error> {
    point(tx, sql).map_err(|e| server_error(e, during))?;
    tx.bind(sql, params).map_err(|e| server_error(e, during))
}

/// What the traces of the fault tests name a fetch from a portal by: the
/// client's Execute message has no SQL of its own.
const FETCH: &str = "FETCH (the next rows of a portal)";

/// Fetches up to `max_rows` more rows of a portal from [`bind`]: each
/// fetch is a statement (a round trip where the query runs on), so each is
/// a crash and failure point.
pub(crate) fn query_portal(
    tx: &mut Transaction<'_>,
    portal: &Portal,
    max_rows: i32,
    during: &str,
) -> Result<Vec<Row>, Error> {
    point(tx, FETCH).map_err(|e| server_error(e, during))?;
    tx.query_portal(portal, max_rows)
        .map_err(|e| server_error(e, during))
}

/// Starts a `COPY ... FROM STDIN`.
pub(crate) fn copy_in<'a>(
    c: &'a mut impl GenericClient,
    sql: &str,
) -> Result<CopyInWriter<'a>, postgres::Error> {
    point(c, sql)?;
    c.copy_in(sql)
}

thread_local! {
    /// The notices the server sent on the connections this thread drives
    /// (the client calls [`keep_notice`] in the thread that waits on it).
    static NOTICES: std::cell::RefCell<Vec<postgres::error::DbError>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// At most this many notices are kept between two [`take_notices`].
const NOTICES_KEPT: usize = 1 << 18;

/// Keeps a notice of the server for [`take_notices`]: every connection's
/// notice callback.
pub(crate) fn keep_notice(notice: postgres::error::DbError) {
    NOTICES.with(|n| {
        let mut n = n.borrow_mut();
        if n.len() < NOTICES_KEPT {
            n.push(notice);
        }
    });
}

/// The notices the server sent on this thread's connections since the last
/// call (at most [`NOTICES_KEPT`]; whether more were dropped is the second
/// value).
pub(crate) fn take_notices() -> (Vec<postgres::error::DbError>, bool) {
    NOTICES.with(|n| {
        let taken = std::mem::take(&mut *n.borrow_mut());
        let full = taken.len() >= NOTICES_KEPT;
        (taken, full)
    })
}

/// Crash and failure points for the fault tests (see the module docs).
#[cfg(feature = "failpoints")]
pub(crate) mod failpoint {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// The environment variable that names the statement to die before, or
    /// to fail.
    pub const VAR: &str = "FKLOAD_FAILPOINT";

    static SEEN: AtomicU64 = AtomicU64::new(0);

    /// What happens at the statement `FKLOAD_FAILPOINT` names.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Fault {
        Kill,
        /// The statement fails with the error this SQL raises.
        Fail(&'static str),
    }

    /// The statement the server runs in place of one that is to fail.
    pub fn failure(name: &str) -> Option<&'static str> {
        Some(match name {
            "lock-timeout" => {
                "DO $fkload_failpoint$BEGIN RAISE EXCEPTION USING
                   ERRCODE = 'lock_not_available',
                   MESSAGE = 'canceling statement due to lock timeout',
                   DETAIL = 'fkload failpoint'; END$fkload_failpoint$"
            }
            "serialization" => {
                "DO $fkload_failpoint$BEGIN RAISE EXCEPTION USING
                   ERRCODE = 'serialization_failure',
                   MESSAGE = 'could not serialize access due to concurrent update',
                   DETAIL = 'fkload failpoint'; END$fkload_failpoint$"
            }
            "disconnect" => "SELECT pg_terminate_backend(pg_backend_pid())",
            _ => return None,
        })
    }

    /// `N` or `N:FAULT`; anything else is no failpoint.
    pub fn parse(value: &str) -> Option<(u64, Fault)> {
        let (n, fault) = match value.trim().split_once(':') {
            Some((n, name)) => (n, Fault::Fail(failure(name)?)),
            None => (value.trim(), Fault::Kill),
        };
        Some((n.parse().ok()?, fault))
    }

    fn target() -> Option<(u64, Fault)> {
        static TARGET: OnceLock<Option<(u64, Fault)>> = OnceLock::new();
        *TARGET.get_or_init(|| parse(&std::env::var(VAR).ok()?))
    }

    /// With this variable naming a file, each statement's number and first
    /// line are appended to it (to count a run's statements, or to see which
    /// one a number names).
    pub const TRACE: &str = "FKLOAD_FAILPOINT_TRACE";

    /// Counts a statement about to be sent; dies as `kill -9` would when it
    /// is the one `FKLOAD_FAILPOINT` names, or returns the statement to send
    /// in its place when that one is to fail.
    pub fn statement(sql: &str) -> Option<&'static str> {
        let n = SEEN.fetch_add(1, Ordering::SeqCst) + 1;
        let first = sql.trim().lines().next().unwrap_or_default();
        if let Some(path) = std::env::var_os(TRACE) {
            use std::io::Write as _;
            let line = format!("{n}\t{first}\n");
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes()));
        }
        match target() {
            Some((at, Fault::Kill)) if at == n => {
                eprintln!("fkload: failpoint {n}: killed before {first}");
                // SAFETY: kill(2) on this process's own pid; SIGKILL cannot be
                // caught, so nothing after it runs.
                unsafe {
                    libc::kill(libc::getpid(), libc::SIGKILL);
                }
                // SIGKILL is delivered before kill(2) returns to a single
                // target process; should it not be, no statement may follow.
                std::process::abort();
            }
            Some((at, Fault::Fail(sql))) if at == n => {
                eprintln!("fkload: failpoint {n}: failing {first}");
                Some(sql)
            }
            _ => None,
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_failpoint_is_a_number_and_maybe_a_fault() {
            assert_eq!(parse("7"), Some((7, Fault::Kill)));
            assert_eq!(parse(" 12 "), Some((12, Fault::Kill)));
            for name in ["lock-timeout", "serialization", "disconnect"] {
                let (n, fault) = parse(&format!("3:{name}")).expect(name);
                assert_eq!(n, 3);
                assert!(matches!(fault, Fault::Fail(_)), "{name}");
            }
            assert_eq!(parse("3:explode"), None);
            assert_eq!(parse("x"), None);
        }
    }
}

/// Without the `failpoints` feature a statement is neither a crash point nor
/// a failure point.
#[cfg(not(feature = "failpoints"))]
pub(crate) mod failpoint {
    #[inline(always)]
    pub fn statement(_sql: &str) -> Option<&'static str> {
        None
    }
}

#[cfg(test)]
mod tests {
    /// Every statement goes through this module: nothing else in the crate
    /// calls the client's statement methods, so every statement is a crash
    /// point of the fault tests and is sent alone.
    #[test]
    fn no_statement_bypasses_this_module() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let calls = [
            ".batch_execute(",
            ".simple_query(",
            ".query(",
            ".query_one(",
            ".query_opt(",
            ".query_raw(",
            ".execute(",
            ".copy_in(",
            ".copy_out(",
            ".transaction()",
            ".commit()",
            ".savepoint(",
            ".bind(",
            ".query_portal(",
        ];
        let mut found = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("read src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.file_name().is_some_and(|n| n == "db.rs") {
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("read source");
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or_default();
                    for call in calls {
                        if code.contains(call) {
                            found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                        }
                    }
                }
            }
        }
        assert!(
            found.is_empty(),
            "statements sent around db.rs:\n{}",
            found.join("\n")
        );
    }
}
