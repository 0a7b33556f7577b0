//! Exit codes, as psql's. Documented in README.md ("Exit codes"); keep the two in
//! step.

use fkload::{Error, ErrorKind};

/// The load (or the plan) succeeded.
pub const OK: i32 = 0;
/// An error of fkload's own: usage, files, headers, the plan. Nothing was written.
pub const FATAL: i32 = 1;
/// The connection to the server failed or was lost, or its settings are invalid
/// (psql exits 2 for those too).
pub const CONNECTION: i32 = 2;
/// The server rejected a statement or a row during the load; rolled back.
pub const SQL: i32 = 3;

/// The exit code for an error.
pub fn for_error(e: &Error) -> i32 {
    match e.kind() {
        // The server ending the session (terminated backend, shutdown, crash)
        // reports it as a FATAL error: that is a lost connection.
        ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. }
            if matches!(db.severity.as_str(), "FATAL" | "PANIC")
                || db.code.starts_with("57P")
                || db.code.starts_with("08") =>
        {
            CONNECTION
        }
        ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => for_error(error),
        ErrorKind::Connect { .. }
        | ErrorKind::ConnectionLost { .. }
        | ErrorKind::Settings { .. } => CONNECTION,
        ErrorKind::Sql { .. }
        | ErrorKind::Copy { .. }
        | ErrorKind::ForeignKey(_)
        | ErrorKind::Duplicate(_) => SQL,
        _ => FATAL,
    }
}
