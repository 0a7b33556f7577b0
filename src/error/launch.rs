//! Why a server could not be found, started or reached: [`ServerError`],
//! carried by [`crate::ErrorKind::Throwaway`].
//!
//! Each variant keeps its cause as its source (the I/O error, the client's
//! error), its message says what happened in PostgreSQL's style (the hint,
//! where there is one, is [`ServerError::hint`]); a
//! failed program's output is quoted whole, because it is the only account
//! of what went wrong (initdb's and pg_ctl's own words, the server's log).

use std::path::PathBuf;
use std::process::ExitStatus;
use std::sync::Arc;

/// Why a PostgreSQL server could not be found, started, reached or given
/// its schema. More variants may be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// `FKLOAD_PGBINDIR` names a directory without the server's programs.
    #[error("FKLOAD_PGBINDIR={} lacks one of initdb, pg_ctl and postgres", dir.display())]
    NotABindir { dir: PathBuf },
    /// No server binaries where fkload looks (see [`crate::server`]).
    #[error(
        "found no PostgreSQL server binaries (initdb, pg_ctl, postgres) in FKLOAD_PGBINDIR, \
         on PATH, from pg_config --bindir, in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin or \
         Homebrew's postgresql@*"
    )]
    NoBinaries,
    /// A directory of the server could not be made or opened, or a free
    /// port could not be had.
    #[error("cannot {doing} {}: {source}", path.display())]
    Io {
        doing: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A program (initdb, pg_ctl, psql, chown, the watchdog's shell) could
    /// not be started.
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    /// A program ended in failure; `output` is what it wrote.
    #[error("{program} failed ({status}):\n{output}")]
    Failed {
        program: String,
        status: ExitStatus,
        output: String,
    },
    /// Running as root, the server runs as the `postgres` account, and a
    /// step for it failed.
    #[error("{source}")]
    AsRoot { source: Box<ServerError> },
    /// The server did not start, or started and could not be reached;
    /// `log` is the end of its log.
    #[error("{source}\nthe server's log:\n{log}")]
    NotStarted {
        source: Box<ServerError>,
        log: String,
    },
    /// The server could not be reached, or did not answer.
    #[error("cannot connect to {what}: {}", client_text(source))]
    Connect {
        what: &'static str,
        source: postgres::Error,
    },
    /// A schema file failed: `message` is what psql (or the server, whose
    /// error is then the source) said.
    #[error("the schema {} failed:\n{message}", path.display())]
    Schema {
        path: PathBuf,
        message: String,
        source: Option<postgres::Error>,
    },
    /// The thread doing the work of a `testing` call panicked.
    #[error("the thread making a test database panicked")]
    Panicked,
    /// The first failure to start a process's shared server, given to
    /// every later call.
    #[error(transparent)]
    Earlier(Arc<ServerError>),
}

impl ServerError {
    /// What to do about it, when there is something to say: which package
    /// to install, what the `postgres` account needs as root.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ServerError::NoBinaries => Some(
                "Install them: Debian or Ubuntu: sudo apt install postgresql; Fedora: sudo dnf \
                 install postgresql-server; macOS: brew install postgresql@17. Or set \
                 FKLOAD_PGBINDIR to the directory that holds initdb.",
            ),
            ServerError::AsRoot { .. } => Some(
                "As root, the server runs as the account postgres (runuser), which the \
                 PostgreSQL server package creates; it must be able to reach the temporary \
                 directory (set TMPDIR if it cannot).",
            ),
            ServerError::NotStarted { source, .. } => source.hint(),
            ServerError::Earlier(first) => first.hint(),
            _ => None,
        }
    }
}

/// A client error as psql shows a server's: `ERROR:  message`, or the
/// client's own words (`postgres::Error`'s Display says only "db error").
pub(crate) fn client_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}:  {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}
