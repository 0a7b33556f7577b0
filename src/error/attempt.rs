//! Why a connection gave no session a load (or a read) can use, per host:
//! [`HostAttempt`], the host and what happened there ([`AttemptError`]: the
//! server's report, the client's failure, or a session that does not fit,
//! [`Misfit`]); [`ConnectFailure`], the whole of a failed connection. The
//! data of [`ErrorKind::Connect`](crate::ErrorKind::Connect) and
//! [`ErrorKind::NotWritable`](crate::ErrorKind::NotWritable). A leaf but
//! for the server's report.

use std::fmt;

use super::server::DbErrorInfo;

/// Why a session does not fit, in the words fkload has always used
/// (libpq's own are in the comments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Misfit {
    /// In recovery, where writes were wanted (libpq: "session is read-only").
    Standby,
    /// Read-only by `default_transaction_read_only` (libpq: "session is
    /// read-only").
    ReadOnly,
    /// libpq: "session is not read-only".
    NotReadOnly,
    /// libpq: "server is in hot standby mode".
    HotStandby,
    /// libpq: "server is not in hot standby mode".
    NotHotStandby,
}

impl Misfit {
    /// The reason, as error messages give it.
    pub fn text(self) -> &'static str {
        match self {
            Misfit::Standby => "the server is in recovery (a standby)",
            Misfit::ReadOnly => "the session is read-only (default_transaction_read_only is on)",
            Misfit::NotReadOnly => "the session is not read-only",
            Misfit::HotStandby => "the server is in hot standby mode",
            Misfit::NotHotStandby => "the server is not in hot standby mode",
        }
    }
}

impl fmt::Display for Misfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// What one attempt to connect to a host came to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// The server refused the connection: its report (the primary line,
    /// `FATAL:  message`).
    #[error("{0}")]
    Server(Box<DbErrorInfo>),
    /// The client could not connect (no answer, a failed handshake): the
    /// client's own words, with the causes it gives. The client's error
    /// kinds are private, so its text is all it says.
    #[error("{0}")]
    Client(String),
    /// A session was made, and it does not fit.
    #[error("{0}")]
    Misfit(Misfit),
}

/// One host tried: where (`host "db1" port 5432`; `None` when the client
/// tried the hosts itself), and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostAttempt {
    pub host: Option<String>,
    pub error: AttemptError,
}

impl fmt::Display for HostAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Some(host) => write!(f, "{host}: {}", self.error),
            None => self.error.fmt(f),
        }
    }
}

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Every host tried failed: each, in the order tried, one a line (the
    /// last one's client error is the [`Error`](crate::Error)'s source).
    #[error("{}", .0.iter().map(HostAttempt::to_string).collect::<Vec<_>>().join("\n"))]
    Attempts(Vec<HostAttempt>),
    /// The password could not be asked for.
    #[error("could not read the password: {0}")]
    Password(#[source] std::io::Error),
}
