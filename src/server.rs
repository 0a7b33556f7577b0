//! A throwaway PostgreSQL server: started from the machine's own server
//! binaries in a temporary directory, reachable only on a Unix socket that
//! only its user can open, with durability off (it is thrown away), and
//! removed when the [`Throwaway`] drops, or when this process dies.
//!
//! The binaries are found as `FKLOAD_PGBINDIR`, `initdb` on `PATH`,
//! `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin` (Debian,
//! Ubuntu), `/usr/pgsql-*/bin` (the PGDG packages of Fedora and RHEL), and
//! Homebrew's `postgresql@N`; when none is found, the error says what to
//! install. PostgreSQL refuses to run as root: as root, the server runs as
//! the `postgres` account (`runuser`), which the server packages create.
//!
//! Removal does not depend on this process ending well: a watchdog shell
//! waits on a pipe from this process, and when the pipe closes (a drop, an
//! exit, a kill) it stops the server and removes the directory.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::conninfo::{ConnInfo, Overrides};
use crate::error::{Error, ErrorKind};

/// The account a server started by root runs as.
const OS_USER: &str = "postgres";
/// The server's superuser (trust authentication, on a socket only its OS
/// user can reach).
pub const SUPERUSER: &str = "postgres";
/// The port in the socket's name (the socket directory is private, so any
/// port will do).
const PORT: u16 = 5432;

/// A running throwaway server; dropping it stops the server and removes its
/// directory.
#[derive(Debug)]
pub struct Throwaway {
    bindir: PathBuf,
    base: PathBuf,
    socket: PathBuf,
    version: String,
    watchdog: Option<Child>,
}

impl Throwaway {
    /// Finds the server binaries, makes a cluster in a temporary directory
    /// and starts it.
    ///
    /// # Errors
    /// [`ErrorKind::Throwaway`] when no binaries are found (saying what to
    /// install), or initdb or the server fails (with the server's log).
    pub fn start() -> Result<Throwaway, Error> {
        Throwaway::start_in(&std::env::temp_dir())
    }

    /// [`Throwaway::start`], with the server's directory made in `parent`
    /// (`/dev/shm` keeps a small server in memory).
    ///
    /// # Errors
    /// As [`Throwaway::start`].
    pub fn start_in(parent: &Path) -> Result<Throwaway, Error> {
        let bindir = find_bindir()?;
        let as_root = running_as_root();
        let base = temp_dir(parent)?;
        let watchdog = spawn_watchdog(&bindir, &base, as_root)?;
        let mut server = Throwaway {
            socket: base.join("socket"),
            bindir,
            base,
            version: String::new(),
            watchdog: Some(watchdog),
        };
        server.init(as_root)?;
        Ok(server)
    }

    fn init(&mut self, as_root: bool) -> Result<(), Error> {
        let data = self.base.join("data");
        for dir in [&data, &self.socket] {
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(dir)
                .map_err(|e| fail(format!("cannot create {}: {e}", dir.display())))?;
        }
        if as_root {
            // The server's account must pass through the base to its
            // directories, which are its own and closed to everyone else.
            std::fs::set_permissions(&self.base, std::fs::Permissions::from_mode(0o755)).map_err(
                |e| {
                    fail(format!(
                        "cannot open {} to {OS_USER}: {e}",
                        self.base.display()
                    ))
                },
            )?;
            run(Command::new("chown")
                .arg("-R")
                .arg(format!("{OS_USER}:"))
                .arg(&data)
                .arg(&self.socket))
            .map_err(|e| fail(format!("{e} (as root, the server runs as the account {OS_USER}, which the PostgreSQL server package creates)")))?;
        }
        run(self
            .tool("initdb", as_root)
            .arg("-D")
            .arg(&data)
            .args(["-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"])
            .args(["--locale=C", "--no-sync"]))
        .map_err(fail)?;
        let options = format!(
            "-F -k {} -p {PORT} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            sh_quote(&self.socket.to_string_lossy())
        );
        let log = data.join("server.log");
        let started = run(self
            .tool("pg_ctl", as_root)
            .arg("-D")
            .arg(&data)
            .args(["-w", "-t", "60", "-o", &options, "-l"])
            .arg(&log)
            .arg("start"));
        if let Err(e) = started {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(fail(format!("{e}\nthe server's log:\n{tail}")));
        }
        let mut client = self.connect("postgres")?;
        let row = crate::db::query_one(
            &mut client,
            "SELECT current_setting('server_version')",
            &[],
            "asking the throwaway server its version",
        )?;
        self.version = row.get(0);
        Ok(())
    }

    /// A server tool, run as the server's account when we are root, in the
    /// base directory (which that account can enter).
    fn tool(&self, name: &str, as_root: bool) -> Command {
        let exe = self.bindir.join(name);
        let mut c = if as_root {
            let mut r = Command::new("runuser");
            r.args(["-u", OS_USER, "--"]).arg(exe);
            r
        } else {
            Command::new(exe)
        };
        c.current_dir(&self.base).stdin(Stdio::null());
        c
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
    pub fn conninfo(&self, dbname: &str) -> Result<ConnInfo, Error> {
        let overrides = Overrides {
            dbname: Some(dbname.to_string()),
            host: Some(self.socket.to_string_lossy().into_owned()),
            port: Some(PORT.to_string()),
            user: Some(SUPERUSER.to_string()),
        };
        ConnInfo::resolve(&overrides, &|_| None).map_err(|e| {
            Error::new(ErrorKind::Settings {
                message: e.to_string(),
            })
        })
    }

    /// A URI for psql and other clients: `postgresql:///db?host=...`.
    pub fn uri(&self, dbname: &str) -> String {
        format!(
            "postgresql://{SUPERUSER}@/{}?host={}&port={PORT}",
            percent(dbname),
            percent(&self.socket.to_string_lossy())
        )
    }

    /// A new connection to database `dbname`.
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub fn connect(&self, dbname: &str) -> Result<postgres::Client, Error> {
        let mut config = postgres::Config::new();
        config
            .host_path(&self.socket)
            .port(PORT)
            .user(SUPERUSER)
            .dbname(dbname);
        config
            .connect(postgres::NoTls)
            .map_err(|e| Error::server(e, "connecting to the throwaway server"))
    }

    /// Creates database `name` and runs the SQL file `schema` in it: with
    /// the server's own `psql` when it has one (so that a `pg_dump` schema
    /// with its psql commands works), else as one simple query.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when the file cannot be read, [`ErrorKind::Throwaway`]
    /// with psql's (or the server's) message when the SQL fails.
    pub fn create_database(&self, name: &str, schema: &Path) -> Result<(), Error> {
        let mut admin = self.connect("postgres")?;
        crate::db::exec(
            &mut admin,
            &format!("CREATE DATABASE {}", crate::sql::ident(name)),
            "creating the database",
        )?;
        let psql = self.bindir.join("psql");
        if psql.is_file() {
            let out = Command::new(&psql)
                .args([
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "-d",
                    &self.uri(name),
                    "-f",
                ])
                .arg(schema)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| fail(format!("cannot run {}: {e}", psql.display())))?;
            if !out.status.success() {
                return Err(fail(format!(
                    "the schema {} failed:\n{}",
                    schema.display(),
                    String::from_utf8_lossy(&out.stderr).trim_end()
                )));
            }
            return Ok(());
        }
        let text = std::fs::read_to_string(schema).map_err(|source| {
            Error::new(ErrorKind::Io {
                path: schema.to_path_buf(),
                source,
            })
        })?;
        // Reported as psql's failure is: the schema, then the server's words.
        crate::db::try_exec(&mut self.connect(name)?, &text).map_err(|e| {
            let why = match e.as_db_error() {
                Some(db) => format!("ERROR:  {}", db.message()),
                None => e.to_string(),
            };
            fail(format!("the schema {} failed:\n{why}", schema.display()))
        })
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        // Closing the pipe tells the watchdog to stop the server and remove
        // the directory; waiting for it makes the removal done on return.
        if let Some(mut w) = self.watchdog.take() {
            drop(w.stdin.take());
            let _ = w.wait();
        }
    }
}

/// A new directory `fkload-pg-<pid>-<n>` in `tmp`, only ours.
fn temp_dir(tmp: &Path) -> Result<PathBuf, Error> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut last = None;
    for n in 0..100u32 {
        let dir = tmp.join(format!(
            "fkload-pg-{}-{}",
            std::process::id(),
            nanos.wrapping_add(n)
        ));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => {
                return Err(fail(format!(
                    "cannot create a directory in {}: {e}",
                    tmp.display()
                )));
            }
        }
    }
    Err(fail(format!(
        "cannot create a directory in {}: {}",
        tmp.display(),
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

fn fail(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Throwaway {
        message: message.into(),
    })
}

/// Starts the shell that, once this process's end of its stdin closes,
/// stops the server and removes `base`. It has its own process group, so
/// that Ctrl-C reaches only fkload, which then drops the server in order.
fn spawn_watchdog(bindir: &Path, base: &Path, as_root: bool) -> Result<Child, Error> {
    const SCRIPT: &str = r#"
trap '' HUP INT TERM
read -r _ || :
if [ -f "$2/data/postmaster.pid" ]; then
    if [ "$3" = root ]; then
        runuser -u "$4" -- "$1" -D "$2/data" -m immediate -w stop >/dev/null 2>&1
    else
        "$1" -D "$2/data" -m immediate -w stop >/dev/null 2>&1
    fi
fi
rm -rf -- "$2"
"#;
    use std::os::unix::process::CommandExt as _;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("fkload-throwaway-watchdog")
        .arg(bindir.join("pg_ctl"))
        .arg(base)
        .arg(if as_root { "root" } else { "user" })
        .arg(OS_USER)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot start the shell that cleans up: {e}")))?;
    // Nothing is written: the pipe's closing is the message.
    if let Some(stdin) = child.stdin.as_mut() {
        let _ = stdin.flush();
    }
    Ok(child)
}

/// The directory with `initdb`, `pg_ctl` and `postgres`; see the module
/// documentation for the order.
///
/// # Errors
/// [`ErrorKind::Throwaway`] naming where it looked and what to install.
pub fn find_bindir() -> Result<PathBuf, Error> {
    find_bindir_in(&|k| std::env::var_os(k))
}

fn find_bindir_in(env: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf, Error> {
    if let Some(dir) = env("FKLOAD_PGBINDIR").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_tools(&dir) {
            Ok(dir)
        } else {
            Err(fail(format!(
                "FKLOAD_PGBINDIR={} lacks one of initdb, pg_ctl and postgres",
                dir.display()
            )))
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in std::env::split_paths(&env("PATH").unwrap_or_default()) {
        // initdb on PATH is often a link into a versioned directory; that
        // directory keeps all the tools of one installation together.
        if let Ok(real) = std::fs::canonicalize(dir.join("initdb"))
            && let Some(parent) = real.parent()
        {
            candidates.push(parent.to_path_buf());
        }
        candidates.push(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    for pattern_dir in [
        ("/usr/lib/postgresql", "bin"),
        ("/opt/homebrew/opt", "bin"),
        ("/usr/local/opt", "bin"),
    ] {
        candidates.extend(newest_first(Path::new(pattern_dir.0), pattern_dir.1));
    }
    candidates.extend(
        newest_first(Path::new("/usr"), "bin")
            .into_iter()
            .filter(|p| {
                p.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n.to_string_lossy().starts_with("pgsql-"))
            }),
    );
    candidates
        .into_iter()
        .find(|d| has_server_tools(d))
        .ok_or_else(|| {
            fail(
                "found no PostgreSQL server binaries (initdb, pg_ctl, postgres) in FKLOAD_PGBINDIR, \
                 on PATH, from pg_config --bindir, in /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin or \
                 Homebrew's postgresql@*\n\
                 HINT:  Install them: Debian or Ubuntu: sudo apt install postgresql; Fedora: sudo dnf \
                 install postgresql-server; macOS: brew install postgresql@17. Or set FKLOAD_PGBINDIR \
                 to the directory that holds initdb.",
            )
        })
}

/// The `<sub>` directories of the entries of `dir`, newest version first
/// (`postgresql@17` before `postgresql@9.6`, `16` before `9.6`).
fn newest_first(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Vec<u64> = name
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split('.')
                .map(|p| p.parse().unwrap_or(0))
                .collect();
            (version, e.path().join(sub))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

fn has_server_tools(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|t| dir.join(t).is_file())
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `command` to its end: its stdout, or an error quoting its output.
fn run(command: &mut Command) -> Result<String, String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}

/// `s` quoted for the shell pg_ctl hands `-o` to.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
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
    fn no_binaries_says_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let e = find_bindir_in(&|k| match k {
            "FKLOAD_PGBINDIR" => Some(empty.path().into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("lacks one of initdb"), "{e}");
    }

    #[test]
    fn versions_sort_newest_first() {
        let d = tempfile::tempdir().unwrap();
        for v in ["9.6", "16", "10", "postgresql@17", "postgresql@14"] {
            std::fs::create_dir(d.path().join(v)).unwrap();
        }
        let got: Vec<String> = newest_first(d.path(), "bin")
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(got, ["postgresql@17", "16", "postgresql@14", "10", "9.6"]);
    }

    #[test]
    fn uris_encode_the_socket_path() {
        assert_eq!(percent("/tmp/a b"), "%2Ftmp%2Fa%20b");
    }
}
