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
//! version. PostgreSQL refuses to run as root: as root, the server runs as
//! the `postgres` account (`runuser`), which the server packages create.
//!
//! It is removed (stopped, its directory deleted) when the [`Throwaway`]
//! drops, or when this process dies however it dies (`watchdog`).
//!
//! What it does not do: choose a server to connect to (connections are the
//! `Connector`'s), or keep anything (a server kept for inspection is
//! released, no longer ours).

mod bindir;
mod error;
mod launch;
mod schema;
mod watchdog;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::conninfo::{ConnInfo, Overrides};
use crate::error::{Error, ErrorKind};

pub(crate) use bindir::find_bindir;
pub use error::ServerError;
pub(crate) use launch::Launch;

/// The account a server started by root runs as.
const OS_USER: &str = "postgres";
/// The server's superuser (trust authentication, on a socket only its OS
/// user can reach).
const SUPERUSER: &str = "postgres";

/// A running throwaway server; dropping it stops the server and removes its
/// directory.
#[derive(Debug)]
pub struct Throwaway {
    bindir: PathBuf,
    /// The directory everything is in.
    base: PathBuf,
    /// `base/data`, the server's data directory.
    data: PathBuf,
    /// `base/socket`, the socket's directory.
    socket: PathBuf,
    /// The port, of the socket's name and of 127.0.0.1 when `tcp`.
    port: u16,
    tcp: bool,
    as_root: bool,
    version: String,
    version_num: i32,
    /// `None` once released (kept for inspection).
    watchdog: Option<Child>,
}

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
            .map_err(|e| Error::new(ErrorKind::Throwaway(e)))
    }

    /// The server's version, as `server_version` says it (`15.20 (Debian
    /// 15.20-0+deb12u1)`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The directory everything is in (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.base
    }

    /// The connection settings of database `dbname`, as the superuser.
    ///
    /// # Errors
    /// [`ErrorKind::Settings`] when the settings do not resolve (they are
    /// fkload's own: a socket path, a port, a user).
    pub fn conninfo(&self, dbname: &str) -> Result<ConnInfo, Error> {
        let overrides = Overrides {
            dbname: Some(dbname.to_string()),
            host: Some(self.socket.to_string_lossy().into_owned()),
            port: Some(self.port.to_string()),
            user: Some(SUPERUSER.to_string()),
        };
        ConnInfo::resolve(&overrides, &|_| None).map_err(|e| {
            Error::new(ErrorKind::Settings {
                message: e.to_string(),
            })
        })
    }

    /// A URI for psql and other clients: `postgresql://postgres@/db?host=...`,
    /// by the socket.
    pub fn uri(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{}?host={}&port={}",
            percent(dbname),
            percent(&self.socket.to_string_lossy()),
            self.port
        )
    }

    /// A new connection to database `dbname`, by the socket.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub fn connect(&self, dbname: &str) -> Result<postgres::Client, Error> {
        self.client(dbname)
            .map_err(|e| Error::server(e, "connecting to the throwaway server"))
    }

    fn client(&self, dbname: &str) -> Result<postgres::Client, postgres::Error> {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.socket)
            .port(self.port)
            .user(SUPERUSER)
            .dbname(dbname);
        config.connect(postgres::NoTls)
    }

    /// The server's log file.
    fn log(&self) -> PathBuf {
        self.data.join("server.log")
    }

    /// A server program, run as the server's account when we are root, in
    /// the base directory (which that account can enter: it may not be
    /// allowed into our working directory, and initdb and postgres complain
    /// when they cannot return to it).
    fn tool(&self, name: &str) -> Command {
        let exe = self.bindir.join(name);
        let mut c = if self.as_root {
            let mut r = Command::new("runuser");
            r.args(["-u", OS_USER, "--"]).arg(exe);
            r
        } else {
            Command::new(exe)
        };
        c.current_dir(&self.base).stdin(Stdio::null());
        c
    }
}

/// What `testing::Server` shows of a server, and does with it.
#[cfg(feature = "testing")]
impl Throwaway {
    /// `postgres://postgres@127.0.0.1:PORT/dbname` when it listens on TCP.
    pub(crate) fn tcp_url(&self, dbname: &str) -> Option<String> {
        self.tcp
            .then(|| format!("postgres://{SUPERUSER}@127.0.0.1:{}/{dbname}", self.port))
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    pub(crate) fn socket_dir(&self) -> &Path {
        &self.socket
    }

    pub(crate) fn data_dir(&self) -> &Path {
        &self.data
    }

    pub(crate) fn bindir(&self) -> &Path {
        &self.bindir
    }

    pub(crate) fn version_num(&self) -> i32 {
        self.version_num
    }

    /// `pg_ctl restart -m mode`, waiting until the server is up again (with
    /// the options it was started with, which pg_ctl keeps).
    pub(crate) fn restart(&self, mode: &str) -> Result<(), ServerError> {
        run(self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            // A log file, or the new postmaster would hold the pipes run()
            // reads to their end.
            .args(["-m", mode, "-w", "-t", "60", "-l"])
            .arg(self.log())
            .arg("restart"))
        .map(drop)
    }

    /// Leaves the server running when this drops or the process ends (for
    /// inspection): it is no longer removed.
    pub(crate) fn release(&mut self) {
        if let Some(w) = self.watchdog.take() {
            watchdog::release(w);
        }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // Closing the pipe tells the watchdog to stop the server and remove
        // the directory; waiting for it makes the removal done on return.
        if let Some(w) = self.watchdog.take() {
            watchdog::finish(w);
        }
    }
}

/// Runs `command` to its end: its stdout, or an error quoting its output.
fn run(command: &mut Command) -> Result<String, ServerError> {
    let program = format!("{command:?}");
    let out = command.output().map_err(|source| ServerError::Spawn {
        program: program.clone(),
        source,
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ServerError::Failed {
            program,
            status: out.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        })
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
