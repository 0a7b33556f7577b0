//! Exit codes, as psql's. Documented in README.md ("Exit codes"); keep the two in
//! step.

use fkload::{Error, ErrorKind};

/// The load (or the plan) succeeded.
pub const OK: u8 = 0;
/// An error of fkload's own: usage, files, headers, the plan. Nothing was written.
pub const FATAL: u8 = 1;
/// The connection to the server failed or was lost, or its settings are invalid
/// (psql exits 2 for those too).
pub const CONNECTION: u8 = 2;
/// The server rejected a statement or a row during the load; rolled back.
pub const SQL: u8 = 3;
/// Interrupted (SIGINT, SIGTERM): a parallel load stopped and left what it
/// committed and dropped for `--resume` or `repair` (or had changed nothing).
pub const INTERRUPTED: u8 = 4;

/// The exit code for an error.
pub fn for_error(e: &Error) -> u8 {
    if matches!(e.kind(), ErrorKind::Stopped { .. }) {
        INTERRUPTED
    } else if e.is_connection() {
        CONNECTION
    } else if e.db().is_some() {
        SQL
    } else {
        FATAL
    }
}
