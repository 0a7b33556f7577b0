//! The server of a test process's seeded databases, shared by every call,
//! its templates (one per fixture set, made once, the lock held while it is
//! made so that parallel calls wait for it) and their copies, a
//! [`TestDatabase`] each, dropped with it.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::database::db;
use crate::error::{Error, ErrorKind};
use crate::server::{Launch, ServerError, Throwaway};
use crate::sql::ident;

/// The environment variable naming an existing server to use instead of a
/// throwaway one.
pub const URL_VAR: &str = "FKLOAD_TESTING_URL";

/// A database made for one test; dropped (`DROP DATABASE ... WITH (FORCE)`)
/// when this drops.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    server: &'static Shared,
}

impl TestDatabase {
    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A connection URI (`postgresql://...`) for any client.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// A new connection with the synchronous `postgres` client (not from
    /// inside an async runtime: use [`TestDatabase::url`] there).
    ///
    /// # Errors
    /// When the server cannot be reached.
    pub fn connect(&self) -> Result<postgres::Client, Error> {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .map_err(|e| Error::server(e, "connecting to a test database"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", ident(&self.name));
        let server = self.server;
        // On a thread of its own: a drop may happen inside an async runtime.
        let _ = std::thread::spawn(move || server.admin(&sql)).join();
    }
}

/// The process's server and its templates.
#[derive(Debug)]
pub(super) struct Shared {
    target: Target,
    version_num: i32,
    /// Each template's name, made once (the lock is held while it is made).
    templates: Mutex<HashMap<String, Arc<Made>>>,
    counter: std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
enum Target {
    Throwaway(Throwaway),
    Url(String),
}

/// A template's name once made. A failure is not kept: the next call makes
/// it again and returns the same error with its structure (the load's own
/// [`ErrorKind`], file, line, key and SQLSTATE), which a string could not
/// carry and [`Error`] cannot be cloned to keep.
type Made = Mutex<Option<String>>;

/// The first start's failure is kept and given to every later call, which
/// then fails at once instead of starting a server again.
static SERVER: OnceLock<Result<Shared, Arc<ServerError>>> = OnceLock::new();

/// The process's server, started (or reached) at the first call.
pub(super) fn server() -> Result<&'static Shared, Error> {
    SERVER
        .get_or_init(|| Shared::start().map_err(Arc::new))
        .as_ref()
        .map_err(|e| Error::new(ErrorKind::Throwaway(ServerError::Earlier(Arc::clone(e)))))
}

impl Shared {
    fn start() -> Result<Shared, ServerError> {
        let (target, version_num) = match std::env::var(URL_VAR) {
            Ok(url) if !url.is_empty() => {
                let version_num = url_version_num(&url)?;
                (Target::Url(url), version_num)
            }
            _ => {
                let server = Throwaway::launch(Launch::in_memory())?;
                let version_num = server.version_num();
                (Target::Throwaway(server), version_num)
            }
        };
        Ok(Shared {
            target,
            version_num,
            templates: Mutex::new(HashMap::new()),
            counter: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn url(&self, dbname: &str) -> String {
        match &self.target {
            Target::Throwaway(t) => t.uri(dbname),
            Target::Url(url) => with_dbname(url, dbname),
        }
    }

    fn connect(&self, dbname: &str) -> Result<postgres::Client, Error> {
        match &self.target {
            Target::Throwaway(t) => t.connect(dbname),
            Target::Url(_) => postgres::Client::connect(&self.url(dbname), postgres::NoTls)
                .map_err(|e| Error::server(e, "connecting to the test server")),
        }
    }

    pub(super) fn admin(&self, sql: &str) -> Result<(), Error> {
        db::exec(
            &mut self.connect("postgres")?,
            sql,
            "managing test databases",
        )
    }

    /// The template of `schema` (and `data`), made if this process has not
    /// made it yet.
    pub(super) fn template(&self, schema: &Path, data: Option<&Path>) -> Result<String, Error> {
        let name = template_name(schema, data)?;
        let cell = {
            let mut all = self
                .templates
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(all.entry(name.clone()).or_default())
        };
        // Held while the template is made: parallel calls wait for it.
        let mut made = cell
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(name) = made.as_ref() {
            return Ok(name.clone());
        }
        self.make_template(&name, schema, data)?;
        *made = Some(name.clone());
        Ok(name)
    }

    fn make_template(&self, name: &str, schema: &Path, data: Option<&Path>) -> Result<(), Error> {
        const DONE: &str = "fkload testing template: complete";
        let mut admin = self.connect("postgres")?;
        let during = "making a template database";
        let state: Option<Option<String>> = db::query(
            &mut admin,
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = $1",
            &[&name],
            during,
        )?
        .first()
        .map(|r| r.get(0));
        match state {
            Some(Some(comment)) if comment == DONE => return Ok(()),
            Some(_) => db::exec(
                &mut admin,
                &format!("DROP DATABASE {} WITH (FORCE)", ident(name)),
                during,
            )?,
            None => {}
        }
        match &self.target {
            Target::Throwaway(t) => t.create_database(name, schema)?,
            Target::Url(_) => {
                db::exec(
                    &mut admin,
                    &format!("CREATE DATABASE {}", ident(name)),
                    during,
                )?;
                let text = std::fs::read_to_string(schema).map_err(|source| {
                    Error::new(ErrorKind::Io {
                        path: schema.to_path_buf(),
                        source,
                    })
                })?;
                db::exec(
                    &mut self.connect(name)?,
                    &text,
                    &format!("running {}", schema.display()),
                )?;
            }
        }
        if let Some(data) = data {
            let mut client = self.connect(name)?;
            let mut tx = db::begin(&mut client, during)?;
            crate::load_dir(&mut tx, data)?;
            db::commit(tx, during)?;
        }
        db::exec(
            &mut admin,
            &format!(
                "COMMENT ON DATABASE {} IS {}",
                ident(name),
                crate::sql::literal(DONE)
            ),
            during,
        )
    }

    /// A new database copied from `template`.
    pub(super) fn copy_of(&'static self, template: &str) -> Result<TestDatabase, Error> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("fkload_test_{}_{n}", std::process::id());
        // FILE_COPY (PostgreSQL 15 and later) copies the files whole: faster
        // than WAL_LOG for small databases.
        let strategy = if self.version_num >= 150_000 {
            " STRATEGY FILE_COPY"
        } else {
            ""
        };
        let sql = format!(
            "CREATE DATABASE {} TEMPLATE {}{strategy}",
            ident(&name),
            ident(template)
        );
        let mut admin = self.connect("postgres")?;
        // Another process's CREATE DATABASE from the same template holds it
        // for a moment: wait for it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match db::try_exec(&mut admin, &sql) {
                Ok(()) => break,
                Err(e)
                    if e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE)
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => return Err(Error::server(e, "copying a template database")),
            }
        }
        Ok(TestDatabase {
            url: self.url(&name),
            name,
            server: self,
        })
    }
}

/// The `server_version_num` of the server at `url`.
fn url_version_num(url: &str) -> Result<i32, ServerError> {
    let failed = |source| ServerError::Connect {
        what: "the server of FKLOAD_TESTING_URL",
        source,
    };
    let mut client = postgres::Client::connect(url, postgres::NoTls).map_err(failed)?;
    let rows = db::try_query(
        &mut client,
        "SELECT current_setting('server_version_num')::int",
        &[],
    )
    .map_err(failed)?;
    Ok(rows.first().map_or(0, |r| r.get(0)))
}

/// `fkload_tpl_<digest>`: a digest of the schema's bytes and of every data
/// file's name and bytes, so that a changed fixture makes a new template.
fn template_name(schema: &Path, data: Option<&Path>) -> Result<String, Error> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::new(ErrorKind::Io { path, source })
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(schema).map_err(io(schema))?.hash(&mut h);
    if let Some(dir) = data {
        let mut files: Vec<PathBuf> = Vec::new();
        let mut dirs = vec![dir.to_path_buf()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).map_err(io(&d))? {
                let p = e.map_err(io(&d))?.path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            f.strip_prefix(dir).unwrap_or(&f).hash(&mut h);
            std::fs::read(&f).map_err(io(&f))?.hash(&mut h);
        }
    } else {
        "schema only".hash(&mut h);
    }
    Ok(format!("fkload_tpl_{:016x}", h.finish()))
}

/// `url` with its database replaced by `dbname` (a URI's path, or a
/// key=value string's dbname).
fn with_dbname(url: &str, dbname: &str) -> String {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let scheme_end = base.find("://").map_or(0, |i| i + 3);
        let authority_end = base[scheme_end..]
            .find('/')
            .map_or(base.len(), |i| scheme_end + i);
        let mut out = format!("{}/{dbname}", &base[..authority_end]);
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    } else {
        format!("{url} dbname={dbname}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_take_the_test_database() {
        assert_eq!(
            with_dbname("postgres://u@h:5/app?sslmode=disable", "t1"),
            "postgres://u@h:5/t1?sslmode=disable"
        );
        assert_eq!(with_dbname("postgresql://u@h", "t1"), "postgresql://u@h/t1");
        assert_eq!(
            with_dbname("host=/tmp user=u", "t1"),
            "host=/tmp user=u dbname=t1"
        );
    }

    #[test]
    fn template_names_follow_the_bytes() {
        let d = tempfile::tempdir().unwrap();
        let schema = d.path().join("s.sql");
        std::fs::write(&schema, "CREATE TABLE t (id int);").unwrap();
        std::fs::create_dir(d.path().join("data")).unwrap();
        std::fs::write(d.path().join("data/t.csv"), "id\n1\n").unwrap();
        let data = d.path().join("data");
        let a = template_name(&schema, Some(&data)).unwrap();
        assert_eq!(a, template_name(&schema, Some(&data)).unwrap());
        std::fs::write(d.path().join("data/t.csv"), "id\n2\n").unwrap();
        assert_ne!(a, template_name(&schema, Some(&data)).unwrap());
        assert_ne!(a, template_name(&schema, None).unwrap());
    }
}
