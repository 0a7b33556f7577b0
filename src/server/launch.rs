//! Starting a server, the one way (see the parent module): where its
//! directory goes, what fills its data directory, the options it runs
//! with, its port, and when it counts as ready; and the running server
//! ([`Running`]), stopped and removed when it drops.

use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use super::bindir::find_bindir;
use super::process::{OS_USER, SUPERUSER, program, run, running_as_root};
use super::watchdog;
use crate::error::ServerError;

/// The port of a server on a socket only: the socket's directory is its
/// own, so any port will do.
const SOCKET_PORT: u16 = 5432;
/// Tries at starting a server on TCP, each on a fresh port: another process
/// can take the port between our probe and the postmaster's bind.
const TCP_ATTEMPTS: u32 = 5;
/// Lines of the server's log quoted when it does not start.
const LOG_TAIL_LINES: usize = 40;

/// A running server and where it is. Dropping it stops the server and
/// removes its directory (unless released).
#[derive(Debug)]
pub(crate) struct Running {
    pub(super) bindir: PathBuf,
    /// The directory everything is in.
    pub(super) base: PathBuf,
    /// `base/data`, the server's data directory.
    pub(super) data: PathBuf,
    /// `base/socket`, the socket's directory.
    pub(super) socket: PathBuf,
    /// The port, of the socket's name and of 127.0.0.1 when `tcp`.
    pub(super) port: u16,
    pub(super) tcp: bool,
    as_root: bool,
    /// `server_version` (`15.20 (Debian 15.20-0+deb12u1)`).
    pub(super) version: String,
    pub(super) version_num: i32,
    /// `None` once released (kept for inspection).
    watchdog: Option<Child>,
}

impl Running {
    /// A server program, run as the server's account when we are root.
    fn tool(&self, name: &str) -> Command {
        program(&self.bindir, name, self.as_root, &self.base)
    }

    /// The server's log file.
    fn log(&self) -> PathBuf {
        self.data.join("server.log")
    }

    /// `pg_ctl restart -m mode`, waiting until the server is up again (with
    /// the options it was started with, which pg_ctl keeps).
    #[cfg(feature = "testing")]
    pub(super) fn restart(&self, mode: &str) -> Result<(), ServerError> {
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
    #[cfg(feature = "testing")]
    pub(super) fn release(&mut self) {
        if let Some(w) = self.watchdog.take() {
            watchdog::release(w);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Closing the pipe tells the watchdog to stop the server and remove
        // the directory; waiting for it makes the removal done on return.
        if let Some(w) = self.watchdog.take() {
            watchdog::finish(w);
        }
    }
}

/// How to start a server: [`Launch::start`] does it.
#[derive(Debug)]
pub(crate) struct Launch {
    /// Where its directory may go, in order of preference.
    parents: Vec<PathBuf>,
    /// Whether it listens on 127.0.0.1 too (at a free port).
    tcp: bool,
    /// More settings (`-c name=value`), after fkload's own, which they
    /// override.
    settings: Vec<(String, String)>,
    /// A base backup of the server on 127.0.0.1 at this port, instead of
    /// initdb: a standby of it.
    primary: Option<u16>,
}

impl Launch {
    /// A server on a Unix socket only, its directory made in `parent`.
    pub(crate) fn new(parent: &Path) -> Launch {
        Launch {
            parents: vec![parent.to_path_buf()],
            tcp: false,
            settings: Vec::new(),
            primary: None,
        }
    }

    /// [`Launch::new`] in memory where the machine has a tmpfs (`/dev/shm`),
    /// else in the temporary directory: a test suite makes and drops
    /// databases by the hundred, which is mostly file creation.
    #[cfg(feature = "testing")]
    pub(crate) fn in_memory() -> Launch {
        let mut launch = Launch::new(&std::env::temp_dir());
        let shm = Path::new("/dev/shm");
        if shm.is_dir() {
            launch.parents.insert(0, shm.to_path_buf());
        }
        launch
    }

    /// Also on 127.0.0.1, at a free port.
    #[cfg(feature = "testing")]
    pub(crate) fn tcp(mut self) -> Launch {
        self.tcp = true;
        self
    }

    /// One more setting, `-c name=value`.
    #[cfg(feature = "testing")]
    pub(crate) fn setting(mut self, name: &str, value: &str) -> Launch {
        self.settings.push((name.to_string(), value.to_string()));
        self
    }

    /// A standby of the server on 127.0.0.1 at `port` (a base backup of it,
    /// `pg_basebackup -R`, streaming from it), instead of a new cluster.
    #[cfg(feature = "testing")]
    pub(crate) fn standby_of(mut self, port: u16) -> Launch {
        self.primary = Some(port);
        self
    }

    /// Finds the binaries, makes the directory (the watchdog first, so that
    /// every way out of here, failures included, removes it again), fills
    /// the data directory and starts the server.
    ///
    /// # Errors
    /// See [`ServerError`]; a failure to start quotes the server's log.
    pub(crate) fn start(self) -> Result<Running, ServerError> {
        let bindir = find_bindir()?;
        let as_root = running_as_root();
        let base = new_dir(&self.parents)?;
        let watchdog = watchdog::spawn(&bindir, &base, as_root).inspect_err(|_| {
            let _ = std::fs::remove_dir(&base);
        })?;
        let mut server = Running {
            data: base.join("data"),
            socket: base.join("socket"),
            bindir,
            base,
            port: SOCKET_PORT,
            tcp: self.tcp,
            as_root,
            version: String::new(),
            version_num: 0,
            watchdog: Some(watchdog),
        };
        let for_root = |e| {
            if as_root {
                ServerError::AsRoot {
                    source: Box::new(e),
                }
            } else {
                e
            }
        };
        make_dirs(&server).map_err(for_root)?;
        self.fill(&server).map_err(for_root)?;
        self.serve(&mut server)?;
        Ok(server)
    }

    /// Fills the empty data directory: initdb (no sync: the cluster is
    /// thrown away, so flushing it to disk is waste), or a base backup.
    fn fill(&self, server: &Running) -> Result<(), ServerError> {
        let mut command = match self.primary {
            None => {
                let mut c = server.tool("initdb");
                c.arg("-D")
                    .arg(&server.data)
                    .args(["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"])
                    .args(["--locale=C", "--no-sync"]);
                c
            }
            Some(port) => {
                let mut c = server.tool("pg_basebackup");
                c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", SUPERUSER])
                    .arg("-D")
                    .arg(&server.data)
                    .args(["-R", "-X", "stream", "--no-sync", "-c", "fast"]);
                c
            }
        };
        run(&mut command).map(drop)
    }

    /// Starts the server and waits until it answers; on TCP, on another
    /// port again when it does not.
    fn serve(&self, server: &mut Running) -> Result<(), ServerError> {
        let attempts = if self.tcp { TCP_ATTEMPTS } else { 1 };
        let mut attempt = 1;
        loop {
            if self.tcp {
                server.port = free_port()?;
            }
            let failed = match self.try_serve(server) {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if attempt == attempts {
                return Err(ServerError::NotStarted {
                    source: Box::new(failed),
                    log: tail(&server.log(), LOG_TAIL_LINES),
                });
            }
            // A server that started but cannot be reached must not linger
            // into the next attempt; a failure here means none is running.
            let _ = run(server.tool("pg_ctl").arg("-D").arg(&server.data).args([
                "-m",
                "immediate",
                "-w",
                "stop",
            ]));
            attempt += 1;
        }
    }

    fn try_serve(&self, server: &mut Running) -> Result<(), ServerError> {
        let options = self.options(server);
        run(server
            .tool("pg_ctl")
            .arg("-D")
            .arg(&server.data)
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(server.log())
            .arg("start"))?;
        // Ready once a session answers: on TCP, that checks the listener
        // (and trust authentication there) too.
        let mut config = postgres::Config::new();
        if server.tcp {
            config.host("127.0.0.1");
        } else {
            config.host_path(&server.socket);
        }
        config.port(server.port).user(SUPERUSER).dbname("postgres");
        let ask = |e| ServerError::Connect {
            what: "the new server",
            source: e,
        };
        let mut client = config.connect(postgres::NoTls).map_err(ask)?;
        let rows = crate::database::db::try_query(
            &mut client,
            "SELECT current_setting('server_version'), current_setting('server_version_num')::int",
            &[],
        )
        .map_err(ask)?;
        if let Some(row) = rows.first() {
            server.version = row.get(0);
            server.version_num = row.get(1);
        }
        Ok(())
    }

    /// The server's options, for the shell pg_ctl hands `-o` to: `-F` and
    /// the `-c` settings trade durability, useless here, for speed.
    fn options(&self, server: &Running) -> String {
        let listen = if server.tcp { "127.0.0.1" } else { "" };
        let mut options = format!(
            "-F -k {} -p {} -c listen_addresses={} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off",
            sh_quote(&server.socket.to_string_lossy()),
            server.port,
            sh_quote(listen)
        );
        for (name, value) in &self.settings {
            options.push_str(&format!(" -c {name}={}", sh_quote(value)));
        }
        options
    }
}

/// Makes the data and socket directories, which initdb and the server want
/// only their account can open; as root, the server's account must pass
/// through the base to them.
fn make_dirs(server: &Running) -> Result<(), ServerError> {
    for dir in [&server.data, &server.socket] {
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(dir)
            .map_err(|source| ServerError::Io {
                doing: "create",
                path: dir.clone(),
                source,
            })?;
    }
    if server.as_root {
        std::fs::set_permissions(&server.base, std::fs::Permissions::from_mode(0o755)).map_err(
            |source| ServerError::Io {
                doing: "open to the account postgres",
                path: server.base.clone(),
                source,
            },
        )?;
        run(Command::new("chown")
            .arg("-R")
            .arg(format!("{OS_USER}:"))
            .arg(&server.data)
            .arg(&server.socket))?;
    }
    Ok(())
}

/// A new directory `fkload-pg-<pid>-<n>`, only ours, in the first of
/// `parents` that takes it.
fn new_dir(parents: &[PathBuf]) -> Result<PathBuf, ServerError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut failure = None;
    for parent in parents {
        for n in 0..100u32 {
            let dir = parent.join(format!(
                "fkload-pg-{}-{}",
                std::process::id(),
                nanos.wrapping_add(n)
            ));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => {
                    failure = Some((parent, source));
                    break;
                }
            }
        }
    }
    let (path, source) = match failure {
        Some((parent, source)) => (parent.clone(), source),
        None => (
            parents.last().cloned().unwrap_or_default(),
            std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        ),
    };
    Err(ServerError::Io {
        doing: "create a directory in",
        path,
        source,
    })
}

/// A TCP port that was free a moment ago: binding port 0 lets the kernel
/// pick one, and the listener closes at once so that the server can bind
/// it (the race with other processes is met by trying again).
fn free_port() -> Result<u16, ServerError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|source| ServerError::Io {
            doing: "find a free TCP port on",
            path: PathBuf::from("127.0.0.1"),
            source,
        })
}

/// The last `lines` lines of the file at `path`, or why it cannot be read.
fn tail(path: &Path, lines: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// `s` quoted for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_quoted_for_pg_ctls_shell() {
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn a_directory_goes_to_the_first_parent_that_takes_it() {
        let ok = tempfile::tempdir().unwrap();
        let missing = ok.path().join("missing");
        let made = new_dir(&[missing.clone(), ok.path().to_path_buf()]).unwrap();
        assert_eq!(made.parent(), Some(ok.path()));
        let e = new_dir(&[missing]).unwrap_err().to_string();
        assert!(e.starts_with("cannot create a directory in"), "{e}");
    }
}
