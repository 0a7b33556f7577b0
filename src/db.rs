//! Every statement fkload sends goes through here: one statement per round
//! trip (a script of several would reach a server, or a Citus shard, as one
//! unit of failure), and a server error classified once ([`server_error`]).
//!
//! In builds with the `failpoints` feature (tests only; release builds carry
//! no such code path), each statement is also a crash point: with
//! `FKLOAD_FAILPOINT=N` in the environment, the process kills itself with
//! SIGKILL just before its Nth statement reaches the server, counting every
//! connection of the process. No destructor runs and nothing is cleaned up,
//! as with `kill -9`; the fault tests enumerate N to reach every state a crash
//! can leave. Nothing else in the crate may call the client's statement
//! methods itself (a unit test reads the sources to make sure).

use postgres::types::ToSql;
use postgres::{CopyInWriter, GenericClient, Row, Transaction};

use crate::error::Error;

/// Classifies a client error: a server report, or a lost connection.
pub fn server_error(e: postgres::Error, during: &str) -> Error {
    Error::server(e, during)
}

/// Runs one statement without parameters, keeping the client's error for a
/// caller that examines it (a key violation, a duplicate).
pub(crate) fn try_exec(c: &mut impl GenericClient, sql: &str) -> Result<(), postgres::Error> {
    failpoint::statement(sql);
    c.batch_execute(sql)
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
    failpoint::statement(sql);
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
    failpoint::statement(sql);
    c.query(sql, params)
}

/// Runs one query that returns exactly one row.
pub(crate) fn query_one(
    c: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    during: &str,
) -> Result<Row, Error> {
    failpoint::statement(sql);
    c.query_one(sql, params)
        .map_err(|e| server_error(e, during))
}

/// Starts a transaction (or, inside one, a savepoint that rolls back when
/// dropped unfinished).
pub(crate) fn begin<'a>(
    c: &'a mut impl GenericClient,
    during: &str,
) -> Result<Transaction<'a>, Error> {
    failpoint::statement("BEGIN");
    c.transaction().map_err(|e| server_error(e, during))
}

/// Commits a transaction from [`begin`].
pub(crate) fn commit(tx: Transaction<'_>, during: &str) -> Result<(), Error> {
    failpoint::statement("COMMIT");
    tx.commit().map_err(|e| server_error(e, during))
}

/// Rolls back a transaction (or, for a savepoint from [`begin`], to it) from
/// which a failure is to be examined.
pub(crate) fn rollback(tx: Transaction<'_>, during: &str) -> Result<(), Error> {
    failpoint::statement("ROLLBACK");
    tx.rollback().map_err(|e| server_error(e, during))
}

/// Starts a `COPY ... FROM STDIN`.
pub(crate) fn copy_in<'a>(
    c: &'a mut impl GenericClient,
    sql: &str,
) -> Result<CopyInWriter<'a>, postgres::Error> {
    failpoint::statement(sql);
    c.copy_in(sql)
}

/// Crash points for the fault tests (see the module docs).
#[cfg(feature = "failpoints")]
pub(crate) mod failpoint {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};

    /// The environment variable that names the statement to die before.
    pub const VAR: &str = "FKLOAD_FAILPOINT";

    static SEEN: AtomicU64 = AtomicU64::new(0);

    fn target() -> Option<u64> {
        static TARGET: OnceLock<Option<u64>> = OnceLock::new();
        *TARGET.get_or_init(|| std::env::var(VAR).ok()?.trim().parse().ok())
    }

    /// With this variable naming a file, each statement's number and first
    /// line are appended to it (to count a run's statements, or to see which
    /// one a number names).
    pub const TRACE: &str = "FKLOAD_FAILPOINT_TRACE";

    /// Counts a statement about to be sent; dies as `kill -9` would when it
    /// is the one `FKLOAD_FAILPOINT` names.
    pub fn statement(sql: &str) {
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
        if target() == Some(n) {
            eprintln!("fkload: failpoint {n}: killed before {first}");
            // SAFETY: kill(2) on this process's own pid; SIGKILL cannot be
            // caught, so nothing after it runs.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            // SIGKILL is delivered before kill(2) returns to a single target
            // process; should it not be, no statement may follow.
            std::process::abort();
        }
    }
}

/// Without the `failpoints` feature a statement is not a crash point.
#[cfg(not(feature = "failpoints"))]
pub(crate) mod failpoint {
    #[inline(always)]
    pub fn statement(_sql: &str) {}
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
