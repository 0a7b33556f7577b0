//! Why a connection gave no session a load (or a read) can use, per host:
//! [`HostAttempt`], the host and what happened there (the server's report,
//! the client's failure, or a session that does not fit). The data of
//! [`ErrorKind::Connect`](crate::ErrorKind::Connect) and
//! [`ErrorKind::NotWritable`](crate::ErrorKind::NotWritable). A leaf but
//! for the server's report.

use std::fmt;

use super::server::DbErrorInfo;

/// Why a session does not fit, in the words fkload has always used
/// (libpq's own are in the comments): the rules' verdict, which a
/// [`HostAttempt`] variant of its own carries in the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Misfit {
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
    pub(crate) fn text(self) -> &'static str {
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

/// One host tried and what came of it. `host` is where (`host "db1" port
/// 5432`), `None` when the client tried the hosts itself. `Display`: the
/// host, then what happened there.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostAttempt {
    /// The server refused the connection: its report (the primary line,
    /// `FATAL:  message`).
    Server {
        host: Option<String>,
        db: Box<DbErrorInfo>,
    },
    /// The client could not connect (no answer, a failed handshake): the
    /// client's own words, with the causes it gives. The client's error
    /// kinds are private, so its text is all it says.
    Client { host: Option<String>, text: String },
    /// A session was made, on a server in recovery (a standby), where
    /// writes were wanted (libpq: "session is read-only").
    Standby { host: Option<String> },
    /// A session was made, read-only by `default_transaction_read_only`
    /// (libpq: "session is read-only").
    ReadOnly { host: Option<String> },
    /// A session was made, and it is not read-only (libpq: "session is not
    /// read-only").
    NotReadOnly { host: Option<String> },
    /// A session was made, on a server in hot standby mode (libpq: "server
    /// is in hot standby mode").
    HotStandby { host: Option<String> },
    /// A session was made, on a server not in hot standby mode (libpq:
    /// "server is not in hot standby mode").
    NotHotStandby { host: Option<String> },
}

impl HostAttempt {
    /// A session made at `host` that does not fit.
    pub(crate) fn misfit(host: Option<String>, misfit: Misfit) -> HostAttempt {
        match misfit {
            Misfit::Standby => HostAttempt::Standby { host },
            Misfit::ReadOnly => HostAttempt::ReadOnly { host },
            Misfit::NotReadOnly => HostAttempt::NotReadOnly { host },
            Misfit::HotStandby => HostAttempt::HotStandby { host },
            Misfit::NotHotStandby => HostAttempt::NotHotStandby { host },
        }
    }

    /// The host tried, when fkload chose it.
    pub fn host(&self) -> Option<&str> {
        match self {
            HostAttempt::Server { host, .. }
            | HostAttempt::Client { host, .. }
            | HostAttempt::Standby { host }
            | HostAttempt::ReadOnly { host }
            | HostAttempt::NotReadOnly { host }
            | HostAttempt::HotStandby { host }
            | HostAttempt::NotHotStandby { host } => host.as_deref(),
        }
    }
}

impl fmt::Display for HostAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(host) = self.host() {
            write!(f, "{host}: ")?;
        }
        match self {
            HostAttempt::Server { db, .. } => db.fmt(f),
            HostAttempt::Client { text, .. } => f.write_str(text),
            HostAttempt::Standby { .. } => Misfit::Standby.fmt(f),
            HostAttempt::ReadOnly { .. } => Misfit::ReadOnly.fmt(f),
            HostAttempt::NotReadOnly { .. } => Misfit::NotReadOnly.fmt(f),
            HostAttempt::HotStandby { .. } => Misfit::HotStandby.fmt(f),
            HostAttempt::NotHotStandby { .. } => Misfit::NotHotStandby.fmt(f),
        }
    }
}
