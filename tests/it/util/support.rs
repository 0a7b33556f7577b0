//! What the scenario tests share: a database with a schema, a data directory, the
//! built binary, and snapshots of what must not change when a load fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::pg::TestDb;

/// A database with `schema` applied and a data directory holding `files`.
pub struct Scenario {
    pub db: TestDb,
    pub dir: tempfile::TempDir,
}

impl Scenario {
    pub fn new(label: &str, schema: &str, files: &[(&str, &str)]) -> Scenario {
        let db = TestDb::new(label);
        if !schema.is_empty() {
            db.exec(schema);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, body) in files {
            write(dir.path(), name, body.as_bytes());
        }
        Scenario { db, dir }
    }

    /// A scenario from a folder of `fixtures/`: its schema.sql and data/.
    pub fn fixture(name: &str) -> (TestDb, PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        let db = TestDb::new(name);
        let schema = std::fs::read_to_string(root.join("schema.sql")).expect("fixture schema");
        db.exec(&schema);
        (db, root.join("data"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `fkload -d <url> [args] <dir>`.
    pub fn run(&self, args: &[&str]) -> Run {
        fkload(&self.db, self.dir.path(), args)
    }
}

/// A cycle through a partitioned table: team -> member (partitioned, so the
/// key has copies on the referenced side) and member -> team, whose copy on
/// member_b has a name (with a quote) and a comment (with a dollar-quote tag)
/// of its own, as a drop and re-add must put back.
pub const PARTITIONED_CYCLE: &str = "
CREATE TABLE team (id int PRIMARY KEY, lead_id int NOT NULL, lead_kind text NOT NULL);
CREATE TABLE member (id int, kind text NOT NULL, team_id int NOT NULL,
                     PRIMARY KEY (id, kind)) PARTITION BY LIST (kind);
CREATE TABLE member_a PARTITION OF member FOR VALUES IN ('a');
CREATE TABLE member_b (id int, kind text NOT NULL, team_id int NOT NULL,
                       PRIMARY KEY (id, kind),
                       CONSTRAINT \"member_b's own\" FOREIGN KEY (team_id) REFERENCES team
                           ON DELETE CASCADE);
ALTER TABLE member ADD CONSTRAINT member_team_fkey FOREIGN KEY (team_id) REFERENCES team
    ON DELETE CASCADE;
ALTER TABLE member ATTACH PARTITION member_b FOR VALUES IN ('b');
COMMENT ON CONSTRAINT \"member_b's own\" ON member_b IS 'a copy''s comment, $fkload$ too';
COMMENT ON CONSTRAINT member_team_fkey ON member_a IS 'the other copy';
ALTER TABLE team ADD CONSTRAINT team_lead_fkey FOREIGN KEY (lead_id, lead_kind)
    REFERENCES member;
COMMENT ON CONSTRAINT team_lead_fkey ON team IS 'the lead is a member';
-- Attached, member_b's key became the copy of member_team_fkey.
DO $$BEGIN
  IF (SELECT conparentid FROM pg_constraint WHERE conname = 'member_b''s own') = 0 THEN
    RAISE 'member_b''s own is not a copy';
  END IF;
END$$;";

/// How the plan (`-l`) and the summary describe a key that breaks a cycle and is
/// not deferrable: dropped and added back, or on PostgreSQL 18 set NOT ENFORCED
/// and enforced again.
pub fn set_aside() -> (&'static str, &'static str) {
    if crate::util::pg::server_version_num() >= 180000 {
        (
            "set NOT ENFORCED (not deferrable)",
            "1 keys set NOT ENFORCED and enforced again",
        )
    } else {
        ("dropped (not deferrable)", "1 keys dropped and restored")
    }
}

/// Says that `test` skips, and why, where the test run's own output shows it:
/// straight to the process's stderr, which the test harness does not capture
/// (it captures `print!` and `eprint!`). The skip is also counted: the
/// process's last lines, after the harness's own `test result:` line, list
/// every test that skipped (see [`skipped_summary`]).
pub fn skip(test: &str, why: &str) {
    use std::io::Write as _;
    // One write: stderr is unbuffered, and the harness prints its own lines
    // from other threads meanwhile.
    let line = format!("skipped {test}: {why}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    register_skip(test, why);
}

/// The tests that skipped in this process, each with its reason (the first
/// one given, when a test skips twice).
static SKIPPED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

fn register_skip(test: &str, why: &str) {
    static AT_EXIT: std::sync::Once = std::sync::Once::new();
    {
        let mut all = SKIPPED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !all.iter().any(|(t, _)| t == test) {
            all.push((test.to_string(), why.to_string()));
        }
    }
    // libtest prints its `test result:` line and then returns from main (or
    // calls `exit` when a test failed): either way `exit` runs the handlers
    // registered here, after that line.
    AT_EXIT.call_once(|| {
        // SAFETY: atexit only stores the function pointer; the handler is an
        // `extern "C" fn()` that does not unwind (it catches any panic).
        unsafe {
            libc::atexit(print_skipped);
        }
    });
}

extern "C" fn print_skipped() {
    let _ = std::panic::catch_unwind(|| {
        use std::io::Write as _;
        // A test thread still running (the harness does not wait for a
        // detached one) may hold the lock: then say nothing rather than hang.
        let Ok(all) = SKIPPED.try_lock() else {
            return;
        };
        if let Some(text) = skipped_summary(&all) {
            let _ = std::io::stdout().flush();
            let _ = std::io::stderr().write_all(format!("\n{text}\n").as_bytes());
        }
    });
}

/// The closing lines of a run: how many tests skipped, grouped by reason.
/// Not the harness's `N passed; N failed` form, which tools read as results.
pub fn skipped_summary(skipped: &[(String, String)]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
    for (test, why) in skipped {
        match reasons.iter_mut().find(|(w, _)| *w == why.as_str()) {
            Some((_, tests)) => tests.push(test),
            None => reasons.push((why, vec![test])),
        }
    }
    let n = skipped.len();
    let mut out = format!(
        "skipped: {n} {} ({} {})",
        if n == 1 { "test" } else { "tests" },
        reasons.len(),
        if reasons.len() == 1 {
            "reason"
        } else {
            "reasons"
        }
    );
    for (why, tests) in reasons {
        out.push_str(&format!("\n  {}: {why}: {}", tests.len(), tests.join(", ")));
    }
    Some(out)
}

/// Writes a file below `dir`, creating folders on the way.
pub fn write(dir: &Path, name: &str, body: &[u8]) {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(p, body).expect("write file");
}

/// What a run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "fkload failed:\n{}\n{}",
            self.stderr, self.stdout
        );
        self
    }

    pub fn fails(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}, got {}:\n{}\n{}",
            self.code, self.stderr, self.stdout
        );
        self
    }

    pub fn stderr_has(self, needle: &str) -> Run {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    pub fn stdout_has(self, needle: &str) -> Run {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }
}

/// The built binary with the libpq environment cleared, so that the tests do not
/// depend on the machine's PGHOST or DATABASE_URL.
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fkload"));
    without_libpq_env(&mut c);
    c
}

/// Clears the libpq environment of a command that runs fkload.
pub fn without_libpq_env(c: &mut Command) {
    for var in [
        "DATABASE_URL",
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGPASSWORD",
        "PGDATABASE",
        "PGPASSFILE",
        "PGSERVICE",
        "PGOPTIONS",
    ] {
        c.env_remove(var);
    }
}

pub fn fkload(db: &TestDb, dir: &Path, args: &[&str]) -> Run {
    let mut c = command();
    c.arg("-d").arg(&db.url).args(args).arg(dir);
    output(c.output().expect("run fkload"))
}

pub fn output(o: Output) -> Run {
    Run {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Every foreign key of the database exactly as the catalog has it: name, table,
/// definition (actions, MATCH, deferrability, NOT VALID), flags and comment.
pub fn keys(db: &TestDb) -> Vec<String> {
    db.query_strings(
        "SELECT concat_ws(' | ', conname, conrelid::regclass::text, pg_get_constraintdef(oid),
                          condeferrable, condeferred, convalidated, conparentid <> 0,
                          coalesce(obj_description(oid, 'pg_constraint'), '-'))
           FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
}

/// Row counts of every user table (partitions and inheritance children on their
/// own, with ONLY).
pub fn counts(db: &TestDb) -> Vec<String> {
    let tables = db.query_strings(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    );
    tables
        .into_iter()
        .map(|t| {
            let n = db.query_i64(&format!("SELECT count(*) FROM ONLY {t}"));
            format!("{t}={n}")
        })
        .collect()
}

/// Asserts that a failed run left rows and keys exactly as `before`.
pub fn assert_unchanged(db: &TestDb, before: &(Vec<String>, Vec<String>)) {
    assert_eq!(counts(db), before.0, "row counts changed");
    assert_eq!(keys(db), before.1, "foreign keys changed");
}

pub fn snapshot(db: &TestDb) -> (Vec<String>, Vec<String>) {
    (counts(db), keys(db))
}

/// Every index of the user schemas as the catalog has it: name, definition,
/// tablespace, the constraint it backs with its definition, comments, flags.
pub fn indexes(db: &TestDb) -> Vec<String> {
    db.query_strings(
        "SELECT concat_ws(' | ', n.nspname, ic.relname, pg_get_indexdef(i.indexrelid),
                          coalesce(ts.spcname, '-'), coalesce(c.conname, '-'),
                          coalesce(pg_get_constraintdef(c.oid), '-'),
                          coalesce(obj_description(c.oid, 'pg_constraint'), '-'),
                          coalesce(obj_description(i.indexrelid, 'pg_class'), '-'),
                          i.indisclustered, i.indisreplident)
           FROM pg_index i
           JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = ic.relnamespace
           LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
           LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          ORDER BY 1",
    )
}

/// A shop whose export left parents out: customers 91 to 100, product 1 and
/// order 101 (`partial_export`), for the tests of `check` and `--on-orphan`.
pub const PARTIAL_SHOP: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE products (id int PRIMARY KEY, name text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, note text);
CREATE TABLE order_items (order_id int REFERENCES orders, product_id int REFERENCES products,
                          qty int, PRIMARY KEY (order_id, product_id));";

/// The files of [`PARTIAL_SHOP`]: 10 orders without their customer, and
/// order items of product 1 (101) and of order 101 (2).
pub fn partial_export() -> Vec<(&'static str, String)> {
    let customers: String = (1..=90).map(|i| format!("{i},c{i}\n")).collect();
    let products: String = (2..=20).map(|i| format!("{i},p{i}\n")).collect();
    let orders: String = (1..=100).map(|i| format!("{i},{i},n{i}\n")).collect();
    let items: String = (1..=101)
        .flat_map(|o| (1..=2).map(move |p| format!("{o},{p},1\n")))
        .collect();
    vec![
        ("customers.csv", format!("id,name\n{customers}")),
        ("products.csv", format!("id,name\n{products}")),
        ("orders.csv", format!("id,customer_id,note\n{orders}")),
        (
            "order_items.csv",
            format!("order_id,product_id,qty\n{items}"),
        ),
    ]
}

/// [`Scenario::new`] with files given as owned strings.
pub fn scenario_of(label: &str, schema: &str, files: &[(&str, String)]) -> Scenario {
    let files: Vec<(&str, &str)> = files.iter().map(|(n, b)| (*n, b.as_str())).collect();
    Scenario::new(label, schema, &files)
}
