//! The integration tests' PostgreSQL: one shared server per test process,
//! and a fresh database for each test.
//!
//! The servers are started by the library's one launcher,
//! [`fkload::testing::Server`], as `--schema-file` starts its own (initdb
//! without sync, durability off, in `/dev/shm` where there is one, as the
//! `postgres` account when root, removed when the process ends however it
//! ends), listening on 127.0.0.1 at a free port with trust authentication.
//! Every test in the process shares the first one booted and gets its own
//! database from [`TestDb::new`]. Under `cargo test` the tests are threads of
//! one process; under cargo-nextest every test is a process of its own and
//! boots its own server, so nothing here assumes a fixed port or directory.
//!
//! Environment:
//! - `FKLOAD_TEST_DATABASE_URL`: use this running server instead of booting one;
//!   its role must be allowed to `CREATE DATABASE`.
//! - `FKLOAD_PGBINDIR`: the directory holding `initdb`, `pg_ctl` and
//!   `postgres` (the library's variable, for `--schema-file` and `testing`
//!   too). Otherwise the library looks on `PATH`, then in the newest
//!   `/usr/lib/postgresql/*/bin` and the other places it knows.
//! - `FKLOAD_TEST_KEEP`: keep every test database, and a booted server, for
//!   inspection after the run (the boot message says how to stop the server).

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use fkload::testing::Server as Booted;
use postgres::error::{ErrorPosition, SqlState};
use postgres::{Client, NoTls, SimpleQueryMessage};

/// The superuser role that `initdb -U` creates in a booted server.
const SUPERUSER: &str = "postgres";
/// The OS account that runs the server when the tests run as root, because
/// `initdb` and `postgres` refuse to run as root.
const OS_USER: &str = "postgres";

/// A fresh, empty database on the shared server, dropped again when the value
/// is dropped.
pub struct TestDb {
    /// The database's name, safe to use unquoted in SQL.
    pub name: String,
    /// `postgres://postgres@127.0.0.1:PORT/NAME` for a booted server.
    pub url: String,
    /// Where the database lives when not on the shared server alone: the
    /// maintenance URL of every node of a cluster (see `citus`), each of
    /// which drops its copy when the value is dropped.
    pub(crate) nodes: Vec<String>,
}

impl TestDb {
    /// Creates a database named after `label`, the process id and a counter,
    /// from `template0`.
    ///
    /// `template0` rather than the default `template1` because concurrent
    /// `CREATE DATABASE`s from one template fail while another session is
    /// connected to it, and nothing ever connects to `template0`. Copied
    /// whole (see [`strategy`]).
    pub fn new(label: &str) -> TestDb {
        let server = server();
        let mut admin = connect(&server.maintenance_url());
        // A name can already exist: one kept by FKLOAD_TEST_KEEP in an earlier
        // run whose pid was recycled, or one made by another machine sharing
        // FKLOAD_TEST_DATABASE_URL. The counter moves on at every try.
        for _ in 0..100 {
            let name = unique_name(label);
            let sql = format!(
                "CREATE DATABASE {name} TEMPLATE template0{}",
                strategy(server.version_num)
            );
            match admin.batch_execute(&sql) {
                Ok(()) => {
                    return TestDb {
                        url: server.url(&name),
                        name,
                        nodes: Vec::new(),
                    };
                }
                Err(e) if e.code() == Some(&SqlState::DUPLICATE_DATABASE) => {}
                Err(e) => panic!("test harness: {sql} failed:\n{}", describe(&e, &sql)),
            }
        }
        panic!("test harness: found no unused database name for label {label:?} in 100 tries")
    }

    /// A new database holding exactly what this one holds (`CREATE DATABASE
    /// ... TEMPLATE`), named after `label`. Waits (10 s at most) for sessions
    /// that are still leaving this database: a template must have none.
    pub fn copy(&self, label: &str) -> TestDb {
        let server = server();
        let mut admin = connect(&server.maintenance_url());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let name = unique_name(label);
            let sql = format!(
                "CREATE DATABASE {name} TEMPLATE {}{}",
                self.name,
                strategy(server.version_num)
            );
            match admin.batch_execute(&sql) {
                Ok(()) => {
                    return TestDb {
                        url: server.url(&name),
                        name,
                        nodes: Vec::new(),
                    };
                }
                Err(e)
                    if (e.code() == Some(&SqlState::OBJECT_IN_USE)
                        || e.code() == Some(&SqlState::DUPLICATE_DATABASE))
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("test harness: {sql} failed:\n{}", describe(&e, &sql)),
            }
        }
    }

    /// A new connection to this database.
    pub fn client(&self) -> Client {
        connect(&self.url)
    }

    /// Runs `sql` (one or more statements) on a new connection, panicking with
    /// the server's full report if it fails.
    pub fn exec(&self, sql: &str) {
        if let Err(e) = self.client().batch_execute(sql) {
            panic!(
                "test harness: SQL failed on database {}:\n{}",
                self.name,
                describe(&e, sql)
            );
        }
    }

    /// The first column of the first row, as an integer.
    ///
    /// The query runs over the simple protocol, so any integer type works; a
    /// `::bigint` cast in `sql` is harmless.
    pub fn query_i64(&self, sql: &str) -> i64 {
        let column = self.first_column(sql);
        let Some(first) = column.first() else {
            panic!("test harness: query returned no rows: {sql}");
        };
        let Some(text) = first else {
            panic!("test harness: query returned NULL where an integer was expected: {sql}");
        };
        text.parse().unwrap_or_else(|e| {
            panic!("test harness: query returned {text:?}, which is not an i64 ({e}): {sql}")
        })
    }

    /// The first column of every row, as the server prints it; NULL becomes the
    /// string `NULL`.
    ///
    /// The server's output format is what a `::text` cast gives for every type
    /// but `boolean`, which prints as `t`/`f` uncast and `true`/`false` cast.
    pub fn query_strings(&self, sql: &str) -> Vec<String> {
        self.first_column(sql)
            .into_iter()
            .map(|value| value.unwrap_or_else(|| "NULL".to_owned()))
            .collect()
    }

    /// Runs `sql` over the simple protocol, which returns every value as text,
    /// and keeps the first column of every row of every statement.
    fn first_column(&self, sql: &str) -> Vec<Option<String>> {
        let messages = self.client().simple_query(sql).unwrap_or_else(|e| {
            panic!(
                "test harness: query failed on database {}:\n{}",
                self.name,
                describe(&e, sql)
            )
        });
        messages
            .iter()
            .filter_map(|message| match message {
                SimpleQueryMessage::Row(row) => Some(row),
                _ => None,
            })
            .map(|row| match row.try_get(0) {
                Ok(value) => value.map(str::to_owned),
                Err(e) => panic!("test harness: query returned no columns ({e}): {sql}"),
            })
            .collect()
    }
}

impl Drop for TestDb {
    /// Drops the database, forcibly disconnecting anyone still connected.
    ///
    /// Errors are ignored: this also runs while a failed test unwinds, where a
    /// second panic would abort the whole test process.
    fn drop(&mut self) {
        if keep() {
            eprintln!("FKLOAD_TEST_KEEP is set: kept database {}", self.url);
            return;
        }
        if !self.nodes.is_empty() {
            for node in &self.nodes {
                if let Ok(mut admin) = Client::connect(node, NoTls) {
                    let _ = admin.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ));
                }
            }
            return;
        }
        let Some(Ok(server)) = SERVER.get() else {
            return;
        };
        let Ok(mut admin) = Client::connect(&server.maintenance_url(), NoTls) else {
            return;
        };
        if server.version_num >= 130_000 {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        } else {
            // WITH (FORCE) is new in PostgreSQL 13; before it, disconnect the
            // sessions by hand. Two calls, because DROP DATABASE refuses to run
            // in the implicit transaction of a multi-statement query.
            let _ = admin.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
                self.name
            ));
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

/// How `CREATE DATABASE` copies its template on a server of `version_num`:
/// FILE_COPY (PostgreSQL 15 and later) copies the files whole, faster than
/// WAL_LOG's page by page for these small databases (on a throwaway server
/// in /dev/shm, 2 cores: a copy of a small database 20 to 31 ms against 55,
/// a database from template0 22 to 28 ms against 41, and 31 to 44 ms against
/// 43 to 47 with two copying sessions and a writer at once).
fn strategy(version_num: i64) -> &'static str {
    if version_num >= 150_000 {
        " STRATEGY FILE_COPY"
    } else {
        ""
    }
}

/// The URL of database `dbname` on the shared server, booting it if needed.
pub fn server_url(dbname: &str) -> String {
    server().url(dbname)
}

/// A client tool (`pg_dump`, `psql`) of the installation a booted server
/// runs from, when the tests boot one and it has the tool.
pub fn tool(name: &str) -> Option<PathBuf> {
    if env::var_os("FKLOAD_TEST_DATABASE_URL").is_some_and(|u| !u.is_empty()) {
        return None;
    }
    Booted::find_bindir()
        .ok()
        .map(|d| d.join(name))
        .filter(|p| p.is_file())
}

/// The shared server's `server_version_num`, such as `150018`.
pub fn server_version_num() -> i64 {
    server().version_num
}

/// The shared server: booted here, or given by `FKLOAD_TEST_DATABASE_URL`.
struct Server {
    target: Target,
    version_num: i64,
}

enum Target {
    Booted(Booted),
    External { url: String },
}

impl Server {
    fn url(&self, dbname: &str) -> String {
        match &self.target {
            Target::Booted(server) => server.url(dbname),
            Target::External { url } => with_dbname(url, dbname),
        }
    }

    /// Where to run CREATE and DROP DATABASE. For an external server that is
    /// the database in its URL, which its role is known to be able to reach.
    fn maintenance_url(&self) -> String {
        match &self.target {
            Target::Booted(_) => self.url("postgres"),
            Target::External { url } => url.clone(),
        }
    }

    fn booted(&self) -> Option<&Booted> {
        match &self.target {
            Target::Booted(server) => Some(server),
            Target::External { .. } => None,
        }
    }

    fn port(&self) -> u16 {
        self.booted().map_or(0, Booted::port)
    }
}

/// A server of one test's own, for tests that stop or restart it (the shared
/// one serves every other test of the process). Cleaned up like the shared one.
pub struct PrivateServer(Server);

impl PrivateServer {
    /// Boots it. Panics with the reason when it cannot (test code); with
    /// `FKLOAD_TEST_DATABASE_URL` set there is nothing to boot: `None`.
    pub fn boot() -> Option<PrivateServer> {
        if env::var("FKLOAD_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
            return None;
        }
        Some(PrivateServer(boot(&[]).unwrap_or_else(|e| panic!("{e}"))))
    }

    pub fn url(&self, dbname: &str) -> String {
        self.0.url(dbname)
    }

    /// Runs SQL on its `postgres` database.
    pub fn exec(&self, dbname: &str, sql: &str) {
        connect(&self.url(dbname))
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("test harness: {}", describe(&e, sql)));
    }

    /// Makes TCP connections as `role` authenticate with a password
    /// (scram-sha-256); every other role stays trusted. Returns once a
    /// connection without the password is refused.
    pub fn require_password(&self, role: &str) {
        let Some(server) = self.0.booted() else {
            return;
        };
        let hba = server.data_dir().join("pg_hba.conf");
        let old = fs::read_to_string(&hba).expect("test harness: read pg_hba.conf");
        fs::write(
            &hba,
            format!(
                "host all {role} 127.0.0.1/32 scram-sha-256\nhost all {role} ::1/128 scram-sha-256\n{old}"
            ),
        )
        .expect("test harness: write pg_hba.conf");
        self.exec("postgres", "SELECT pg_reload_conf()");
        let url = format!("postgres://{role}@127.0.0.1:{}/postgres", server.port());
        for _ in 0..100 {
            if Client::connect(&url, NoTls).is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("test harness: {role} still connects without a password after a reload");
    }

    /// Its Unix socket directory.
    pub fn socket_dir(&self) -> Option<&Path> {
        self.0.booted().map(Booted::socket_dir)
    }

    /// Its TCP port.
    pub fn port(&self) -> u16 {
        self.0.port()
    }

    /// Replaces `pg_hba.conf` with `lines`, after a line that keeps trusting
    /// the harness's own superuser over TCP, and reloads. Waits until the
    /// server has read it (`pg_hba_file_rules` shows the first new line).
    pub fn set_hba(&self, lines: &str) {
        let Some(server) = self.0.booted() else {
            return;
        };
        let text = format!(
            "local all all trust\nhost all {SUPERUSER} 127.0.0.1/32 trust\n\
             host replication all 127.0.0.1/32 trust\n{lines}\n"
        );
        fs::write(server.data_dir().join("pg_hba.conf"), text)
            .expect("test harness: write pg_hba.conf");
        self.reload();
    }

    /// Reloads the configuration and waits until a new session sees it: a
    /// new backend reports the postmaster's load time, which the reload moves.
    fn reload(&self) {
        let url = self.url("postgres");
        let loaded = |url: &str| -> String {
            connect(url)
                .query_one("SELECT pg_conf_load_time()::text", &[])
                .expect("test harness: pg_conf_load_time")
                .get(0)
        };
        let before = loaded(&url);
        self.exec("postgres", "SELECT pg_reload_conf()");
        for _ in 0..200 {
            if loaded(&url) != before {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        panic!("test harness: the server did not reload its configuration within 5 s");
    }

    /// Turns TLS on with these PEM files (copied into the data directory for
    /// the server's user): the server's certificate and key, and the CA that
    /// client certificates must chain to. Reloads, and waits until new
    /// sessions see it.
    ///
    /// # Errors
    /// Why the server cannot do TLS: a build without SSL support says so
    /// when `ssl` is turned on.
    pub fn set_tls(&self, cert: &Path, key: &Path, client_ca: &Path) -> Result<(), String> {
        let Some(server) = self.0.booted() else {
            return Err("not a server of the test's own".to_owned());
        };
        let sql = "ALTER SYSTEM SET ssl = on";
        if let Err(e) = connect(&self.url("postgres")).batch_execute(sql) {
            return Err(describe(&e, sql));
        }
        for (from, to) in [
            (cert, "server.crt"),
            (key, "server.key"),
            (client_ca, "ca.crt"),
        ] {
            let dest = server.data_dir().join(to);
            fs::copy(from, &dest).expect("test harness: copy a TLS file");
            fs::set_permissions(&dest, fs::Permissions::from_mode(0o600))
                .expect("test harness: chmod a TLS file");
            if running_as_root() {
                let chown = Command::new("chown")
                    .arg(format!("{OS_USER}:"))
                    .arg(&dest)
                    .status()
                    .expect("test harness: run chown");
                assert!(chown.success(), "test harness: chown a TLS file: {chown}");
            }
        }
        // One at a time: ALTER SYSTEM refuses a transaction block.
        for sql in [
            "ALTER SYSTEM SET ssl_cert_file = 'server.crt'",
            "ALTER SYSTEM SET ssl_key_file = 'server.key'",
            "ALTER SYSTEM SET ssl_ca_file = 'ca.crt'",
        ] {
            self.exec("postgres", sql);
        }
        self.reload();
        Ok(())
    }

    /// A hot standby of this server: a base backup (`pg_basebackup -R`)
    /// started on a port of its own, streaming from this one.
    pub fn standby(&self) -> PrivateServer {
        let Some(server) = self.0.booted() else {
            panic!("test harness: no booted server to copy");
        };
        let standby = server
            .standby()
            .unwrap_or_else(|e| panic!("test harness: {e}"));
        PrivateServer(booted(standby))
    }

    /// `pg_ctl restart -m MODE` (fast or immediate), waiting until it is up.
    pub fn restart(&self, mode: &str) {
        if let Some(server) = self.0.booted() {
            server
                .restart(mode)
                .unwrap_or_else(|e| panic!("test harness: restart failed: {e}"));
        }
    }
}

/// Holds the failure as text, so that after one failed boot every other test
/// fails at once with the same message instead of booting again.
static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

fn server() -> &'static Server {
    match SERVER.get_or_init(start_server) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

fn start_server() -> Result<Server, String> {
    match env::var("FKLOAD_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let version_num = fetch_version_num(&url).map_err(|e| {
                format!("test harness: cannot use FKLOAD_TEST_DATABASE_URL={url}: {e}")
            })?;
            Ok(Server {
                target: Target::External { url },
                version_num,
            })
        }
        _ => boot(&[]),
    }
}

/// Boots a private server, with `settings` as more `-c name=value`; see the
/// module documentation.
fn boot(settings: &[(&str, &str)]) -> Result<Server, String> {
    Booted::start(settings)
        .map(booted)
        .map_err(|e| format!("test harness: cannot start PostgreSQL: {e}"))
}

/// A booted server as the harness holds it: kept after the run under
/// `FKLOAD_TEST_KEEP`, and announced.
fn booted(mut server: Booted) -> Server {
    if keep() {
        server.release();
    }
    announce(&server);
    Server {
        version_num: server.version_num().into(),
        target: Target::Booted(server),
    }
}

/// Says where the server is, for the output of a failing test (the test
/// runner shows it only then), and how to stop a server kept on purpose.
fn announce(server: &Booted) {
    eprintln!(
        "test harness: PostgreSQL {} at {}, data directory {}",
        server.version_num(),
        server.url("postgres"),
        server.data_dir().display()
    );
    if keep() {
        let runas = if running_as_root() {
            format!("runuser -u {OS_USER} -- ")
        } else {
            String::new()
        };
        eprintln!(
            "FKLOAD_TEST_KEEP is set: the server stays up; stop it with: {runas}{} -D {} stop",
            server.bindir().join("pg_ctl").display(),
            server.data_dir().display()
        );
    }
}

/// Whether this process runs as root, asked of `id -u` to avoid a libc
/// dependency. If `id` cannot run, assume not: initdb then says it clearly.
pub fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.status.success() && out.stdout.trim_ascii() == b"0")
}

fn fetch_version_num(url: &str) -> Result<i64, String> {
    let mut client = Client::connect(url, NoTls).map_err(|e| describe(&e, ""))?;
    let row = client
        .query_one("SELECT current_setting('server_version_num')::bigint", &[])
        .map_err(|e| describe(&e, ""))?;
    Ok(row.get(0))
}

fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap_or_else(|e| {
        panic!(
            "test harness: cannot connect to {url}: {}",
            describe(&e, "")
        )
    })
}

/// `url` with its database replaced by `dbname`, for URLs and key=value
/// connection strings alike.
fn with_dbname(url: &str, dbname: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        // In key=value form a later keyword overrides an earlier one.
        return format!("{url} dbname={dbname}");
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let after_authority = &rest[authority_end..];
    let query = after_authority
        .find('?')
        .map_or("", |i| &after_authority[i..]);
    format!(
        "{}{}/{dbname}{query}",
        &url[..scheme_end],
        &rest[..authority_end]
    )
}

/// `fkt_<label>_<pid>_<counter>`: lower-case ASCII, so it needs no quoting,
/// and at most 63 bytes, where PostgreSQL would silently truncate it.
fn unique_name(label: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let suffix = format!(
        "_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    label.truncate(63 - "fkt_".len() - suffix.len());
    format!("fkt_{label}{suffix}")
}

fn keep() -> bool {
    env::var_os("FKLOAD_TEST_KEEP").is_some_and(|v| !v.is_empty())
}

/// The server's whole report for a failed statement, since `postgres::Error`
/// displays a server error as just "db error". `sql` is the statement, for
/// pointing at the error position; empty when there is none.
fn describe(error: &postgres::Error, sql: &str) -> String {
    let Some(db) = error.as_db_error() else {
        // Not from the server (connection refused, closed, ...): the error's
        // own text says it, cause included.
        return error.to_string();
    };
    let mut out = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
    let fields = [
        ("DETAIL", db.detail()),
        ("HINT", db.hint()),
        ("WHERE", db.where_()),
        ("SCHEMA", db.schema()),
        ("TABLE", db.table()),
        ("COLUMN", db.column()),
        ("CONSTRAINT", db.constraint()),
    ];
    for (label, value) in fields {
        if let Some(value) = value {
            let _ = write!(out, "\n{label}: {value}");
        }
    }
    match db.position() {
        Some(ErrorPosition::Original(position)) => {
            let _ = write!(out, "\nPOSITION: {position}");
            if let Some(excerpt) = excerpt(sql, *position) {
                let _ = write!(out, "\n{excerpt}");
            }
        }
        Some(ErrorPosition::Internal { position, query }) => {
            let _ = write!(out, "\nINTERNAL POSITION: {position} in: {query}");
        }
        None => {}
    }
    if !sql.is_empty() {
        let _ = write!(out, "\nSQL: {sql}");
    }
    out
}

/// The line of `sql` holding the 1-based character `position`, with a caret
/// under it, as psql shows it.
fn excerpt(sql: &str, position: u32) -> Option<String> {
    let index = usize::try_from(position).ok()?.checked_sub(1)?;
    let at = sql.char_indices().nth(index).map(|(byte, _)| byte)?;
    let line_start = sql[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = sql[at..].find('\n').map_or(sql.len(), |i| at + i);
    let prefix = format!("LINE {}: ", sql[..at].matches('\n').count() + 1);
    let column = sql[line_start..at].chars().count();
    Some(format!(
        "{prefix}{}\n{}^",
        &sql[line_start..line_end],
        " ".repeat(prefix.len() + column)
    ))
}

/// A Citus cluster for the scale-out tests: a coordinator and two workers on
/// 127.0.0.1, each a booted server with `shared_preload_libraries = citus`,
/// shared by every Citus test of the process and cleaned up as the shared
/// server is.
struct Citus {
    coordinator: Server,
    workers: Vec<Server>,
}

static CITUS: OnceLock<Result<Citus, String>> = OnceLock::new();

/// Settings every node of the cluster needs: Citus loaded at start,
/// background workers for its maintenance daemon in each test database, and
/// connections for the coordinator's sessions to the workers (overriding
/// the launcher's `max_connections`).
const CITUS_SETTINGS: &[(&str, &str)] = &[
    ("shared_preload_libraries", "citus"),
    ("max_worker_processes", "64"),
    ("max_connections", "400"),
];

/// Why no Citus cluster can be had here, or `None` when one can.
///
/// With `FKLOAD_TEST_CITUS=required` (as CI sets it) a missing Citus is a
/// failure of the calling test instead of a skip.
pub fn citus_unavailable() -> Option<String> {
    let reason = if env::var_os("FKLOAD_TEST_DATABASE_URL").is_some_and(|u| !u.is_empty()) {
        Some("FKLOAD_TEST_DATABASE_URL is set: the Citus tests boot a cluster of their own".into())
    } else {
        match Booted::find_bindir() {
            Err(e) => Some(e.to_string()),
            Ok(bindir) => {
                let lib = bindir.join("../lib/citus.so");
                let pkglib = Command::new(bindir.join("pg_config"))
                    .arg("--pkglibdir")
                    .output()
                    .ok()
                    .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
                let found = lib.is_file() || pkglib.is_some_and(|d| d.join("citus.so").is_file());
                (!found).then(|| {
                    format!(
                        "Citus is not installed for the server in {} (no citus.so); \
                         ../shared/citus/build.sh builds it for PostgreSQL 15",
                        bindir.display()
                    )
                })
            }
        }
    };
    if let Some(reason) = &reason
        && env::var("FKLOAD_TEST_CITUS").is_ok_and(|v| v == "required")
    {
        panic!("FKLOAD_TEST_CITUS=required, but {reason}");
    }
    reason
}

fn citus() -> &'static Citus {
    let made = CITUS.get_or_init(|| {
        let coordinator = boot(CITUS_SETTINGS)?;
        let workers = (0..2)
            .map(|_| boot(CITUS_SETTINGS))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Citus {
            coordinator,
            workers,
        })
    });
    match made {
        Ok(citus) => citus,
        Err(message) => panic!("{message}"),
    }
}

/// A fresh database on a Citus cluster: created on the coordinator and on
/// both workers, with the extension in each, the workers added. Its `url` is
/// the coordinator's; dropping it drops it on every node.
pub fn citus_db(label: &str) -> TestDb {
    let citus = citus();
    let name = unique_name(label);
    let nodes: Vec<&Server> = std::iter::once(&citus.coordinator)
        .chain(&citus.workers)
        .collect();
    let db = TestDb {
        url: citus.coordinator.url(&name),
        name: name.clone(),
        nodes: nodes.iter().map(|n| n.maintenance_url()).collect(),
    };
    for node in &nodes {
        let sql = format!("CREATE DATABASE {name} TEMPLATE template0");
        connect(&node.maintenance_url())
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("test harness: {}", describe(&e, &sql)));
        let sql = "CREATE EXTENSION citus";
        connect(&node.url(&name))
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("test harness: {}", describe(&e, sql)));
    }
    let statements = std::iter::once(format!(
        "SELECT citus_set_coordinator_host('127.0.0.1', {})",
        citus.coordinator.port()
    ))
    .chain(
        citus
            .workers
            .iter()
            .map(|w| format!("SELECT citus_add_node('127.0.0.1', {})", w.port())),
    );
    // Each is idempotent. Under the load of a whole test run a worker's first
    // connection from the coordinator has failed ("failure on connection
    // marked as essential"), so each is tried a few times.
    for sql in statements {
        let mut tries = 0;
        while let Err(e) = connect(&db.url).batch_execute(&sql) {
            tries += 1;
            assert!(tries < 5, "test harness: {}", describe(&e, &sql));
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
    db
}

/// The URL of database `dbname` on each worker of the Citus cluster.
pub fn citus_worker_urls(dbname: &str) -> Vec<String> {
    citus().workers.iter().map(|w| w.url(dbname)).collect()
}
