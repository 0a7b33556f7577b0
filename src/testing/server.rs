//! [`Server`]: a PostgreSQL server of a test's own, started as every server
//! of fkload is ([`crate::server`]), and reachable over TCP too.

use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::server::{Launch, ServerError, Throwaway};

/// A PostgreSQL server of a test's (or a test process's) own: in memory
/// (`/dev/shm`) where the machine has a tmpfs, listening on its socket and
/// on 127.0.0.1 at a free port, trust authentication for every role,
/// durability off, 200 connections; stopped and removed when this drops
/// or the process ends, unless [released](Server::release).
///
/// fkload's own integration tests start theirs with it:
///
/// ```no_run
/// # fn main() -> Result<(), fkload::Error> {
/// let server = fkload::testing::Server::start(&[("log_min_duration_statement", "0")])?;
/// let url = server.url("postgres"); // postgres://postgres@127.0.0.1:PORT/postgres
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct Server(Throwaway);

impl Server {
    /// Starts one, with `settings` as more `-c name=value` options (which
    /// override fkload's: `max_connections` among them).
    ///
    /// # Errors
    /// [`ErrorKind::Throwaway`] when no binaries are found (saying what to
    /// install), or initdb or the server fails (with the server's log).
    pub fn start(settings: &[(&str, &str)]) -> Result<Server, Error> {
        let launch = settings.iter().fold(
            Launch::in_memory().tcp().setting("max_connections", "200"),
            |launch, (name, value)| launch.setting(name, value),
        );
        Throwaway::launch(launch).map(Server).map_err(throwaway)
    }

    /// A hot standby of this server: a base backup of it (`pg_basebackup
    /// -R`) started on a port of its own, streaming from it.
    ///
    /// # Errors
    /// As [`Server::start`]; pg_basebackup's failure with its output.
    pub fn standby(&self) -> Result<Server, Error> {
        let launch = Launch::in_memory()
            .tcp()
            .setting("max_connections", "200")
            .standby_of(self.0.port());
        Throwaway::launch(launch).map(Server).map_err(throwaway)
    }

    /// The directory of the server binaries a [`Server`] starts from
    /// (`FKLOAD_PGBINDIR`, else where [`crate::server`] looks), without
    /// starting one.
    ///
    /// # Errors
    /// [`ErrorKind::Throwaway`] when there are none (saying what to install).
    pub fn find_bindir() -> Result<PathBuf, Error> {
        crate::server::find_bindir().map_err(throwaway)
    }

    /// `postgres://postgres@127.0.0.1:PORT/dbname`, as the superuser.
    pub fn url(&self, dbname: &str) -> String {
        self.0.tcp_url(dbname).unwrap_or_default()
    }

    /// Its TCP port (also the port in its socket's name).
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// The directory of its Unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.0.socket_dir()
    }

    /// Its data directory (`pg_hba.conf`, `postgresql.auto.conf`, the log
    /// `server.log`). As root, the server runs as the account `postgres`,
    /// which must own the files put there.
    pub fn data_dir(&self) -> &Path {
        self.0.data_dir()
    }

    /// The directory of the binaries it runs from (`psql`, `pg_dump` and
    /// `pg_config` are there too when the installation has them).
    pub fn bindir(&self) -> &Path {
        self.0.bindir()
    }

    /// Its `server_version_num`, such as `150013`.
    pub fn version_num(&self) -> i32 {
        self.0.version_num()
    }

    /// `pg_ctl restart -m mode` (`smart`, `fast` or `immediate`), waiting
    /// until it is up again.
    ///
    /// # Errors
    /// pg_ctl's failure, with its output.
    pub fn restart(&self, mode: &str) -> Result<(), Error> {
        self.0.restart(mode).map_err(throwaway)
    }

    /// Leaves the server running, for inspection, when this drops or the
    /// process ends; stopping and removing it is then the caller's (`pg_ctl
    /// -D <data_dir> stop`, as the account `postgres` when root).
    pub fn release(&mut self) {
        self.0.release();
    }
}

fn throwaway(e: ServerError) -> Error {
    Error::new(ErrorKind::Throwaway(e))
}
