//! A throwaway PostgreSQL server: the one way fkload starts PostgreSQL, for
//! `--schema-file` and `up` ([`Throwaway::start`]), for the `testing`
//! feature's seeded databases and for its `testing::Server`, which the
//! integration tests boot.
//!
//! Every server is started the same way (`launch`): from the machine's own
//! binaries (`bindir`: `FKLOAD_PGBINDIR` first), in a new directory of its
//! own (`fkload-pg-<pid>-<n>`, holding `data` and `socket`), by `initdb`
//! (trust authentication, superuser `postgres`, UTF8, locale C, no sync) or
//! a base backup of another, then `pg_ctl start -w` with durability off
//! (`fsync`, `synchronous_commit`, `full_page_writes`: it is thrown away),
//! on a Unix socket in a directory only its account can open, and, when
//! asked, on 127.0.0.1 at a free port (tried again on another port should
//! the port be taken meanwhile). It is ready when a session has asked its
//! version. PostgreSQL refuses to run as root: as root, the server's
//! programs run as the `postgres` account (`runuser`, `process`), which the
//! server packages create.
//!
//! It is removed (stopped, its directory deleted) when the [`Throwaway`]
//! drops, or when this process dies however it dies (`watchdog`).
//!
//! What it does not do: choose a server to connect to (connections are the
//! `Connector`'s), or keep anything (a server kept for inspection is
//! released, no longer ours).

mod bindir;
mod launch;
mod process;
mod schema;
mod watchdog;

use std::path::Path;

use crate::connect::conninfo::{ConnInfo, Overrides};
use crate::error::{Error, ErrorKind};

pub use crate::error::ServerError;
#[cfg(feature = "testing")]
pub(crate) use bindir::find_bindir;
pub(crate) use launch::Launch;
use launch::Running;
use process::SUPERUSER;

/// A running throwaway server; dropping it stops the server and removes its
/// directory.
#[derive(Debug)]
pub struct Throwaway(Running);

impl Throwaway {
    /// Finds the server binaries, makes a cluster in a temporary directory
    /// (`TMPDIR`, else `/tmp`) and starts it, on a Unix socket only.
    ///
    /// # Errors
    /// [`ErrorKind::Throwaway`] when no binaries are found (saying what to
    /// install), or initdb or the server fails (with the server's log).
    pub fn start() -> Result<Throwaway, Error> {
        Launch::new(&std::env::temp_dir())
            .start()
            .map(Throwaway)
            .map_err(|e| Error::new(ErrorKind::Throwaway(e)))
    }

    /// A server started by `launch`, for `testing`.
    #[cfg(feature = "testing")]
    pub(crate) fn launch(launch: Launch) -> Result<Throwaway, ServerError> {
        launch.start().map(Throwaway)
    }

    /// The server's version, as `server_version` says it (`15.20 (Debian
    /// 15.20-0+deb12u1)`).
    pub fn version(&self) -> &str {
        &self.0.version
    }

    /// The directory everything is in (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.0.base
    }

    /// The connection settings of database `dbname`, as the superuser.
    ///
    /// # Errors
    /// [`ErrorKind::Settings`] when the settings do not resolve (they are
    /// fkload's own: a socket path, a port, a user).
    pub fn conninfo(&self, dbname: &str) -> Result<ConnInfo, Error> {
        let overrides = Overrides {
            dbname: Some(dbname.to_string()),
            host: Some(self.0.socket.to_string_lossy().into_owned()),
            port: Some(self.0.port.to_string()),
            user: Some(SUPERUSER.to_string()),
        };
        ConnInfo::resolve(&overrides, &|_| None).map_err(Error::from)
    }

    /// A URI for psql and other clients: `postgresql://postgres@/db?host=...`,
    /// by the socket.
    pub fn uri(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{}?host={}&port={}",
            percent(dbname),
            percent(&self.0.socket.to_string_lossy()),
            self.0.port
        )
    }

    /// A new connection to database `dbname`, by the socket.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub fn connect(&self, dbname: &str) -> Result<postgres::Client, Error> {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.0.socket)
            .port(self.0.port)
            .user(SUPERUSER)
            .dbname(dbname);
        config
            .connect(postgres::NoTls)
            .map_err(|e| Error::server(e, "connecting to the throwaway server"))
    }
}

/// What `testing::Server` shows of a server, and does with it.
#[cfg(feature = "testing")]
impl Throwaway {
    /// `postgres://postgres@127.0.0.1:PORT/dbname` when it listens on TCP.
    pub(crate) fn tcp_url(&self, dbname: &str) -> Option<String> {
        self.0
            .tcp
            .then(|| format!("postgres://{SUPERUSER}@127.0.0.1:{}/{dbname}", self.0.port))
    }

    pub(crate) fn port(&self) -> u16 {
        self.0.port
    }

    pub(crate) fn socket_dir(&self) -> &Path {
        &self.0.socket
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.0.data
    }

    pub(crate) fn bindir(&self) -> &Path {
        &self.0.bindir
    }

    pub(crate) fn version_num(&self) -> i32 {
        self.0.version_num
    }

    /// `pg_ctl restart -m mode`, waiting until the server is up again.
    pub(crate) fn restart(&self, mode: &str) -> Result<(), ServerError> {
        self.0.restart(mode)
    }

    /// Leaves the server running when this drops or the process ends (for
    /// inspection): it is no longer removed.
    pub(crate) fn release(&mut self) {
        self.0.release();
    }
}

/// `s` percent-encoded for a URI component (all but unreserved bytes).
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_encode_the_socket_path() {
        assert_eq!(percent("/tmp/a b"), "%2Ftmp%2Fa%20b");
    }
}
