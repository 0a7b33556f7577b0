//! The `testing` module: a fresh seeded database per call, copied from a
//! template loaded once; parallel calls; calls from inside an async runtime;
//! a fixture that does not load is an error naming its file and line.

use std::path::{Path, PathBuf};

use fkload::testing::{TestDatabase, seeded, with_schema};

use crate::util::pg::tool;
use crate::util::support::skip;

fn shop() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/shop");
    (root.join("schema.sql"), root.join("data"))
}

/// Whether this machine has server binaries for the throwaway server (the
/// tests may run against a server given by URL instead).
fn available(test: &str) -> bool {
    if tool("initdb").is_none() && fkload::testing::Server::find_bindir().is_err() {
        skip(test, "no PostgreSQL server binaries for a throwaway server");
        return false;
    }
    true
}

fn count(db: &TestDatabase, sql: &str) -> i64 {
    db.connect().unwrap().query_one(sql, &[]).unwrap().get(0)
}

#[test]
fn each_call_gets_its_own_seeded_database_dropped_with_its_handle() {
    if !available("testing_seeded") {
        return;
    }
    let (schema, data) = shop();
    let a = seeded(&schema, &data).unwrap();
    let b = seeded(&schema, &data).unwrap();
    assert_ne!(a.name(), b.name());
    assert_eq!(count(&a, "SELECT count(*) FROM customer"), 3);
    a.connect()
        .unwrap()
        .batch_execute("DELETE FROM order_line")
        .unwrap();
    assert_eq!(count(&a, "SELECT count(*) FROM order_line"), 0);
    assert_eq!(
        count(&b, "SELECT count(*) FROM order_line"),
        4,
        "b is not a"
    );
    // Sequences come along: the next id follows the loaded ones.
    let next = count(
        &b,
        "SELECT nextval(pg_get_serial_sequence('customer', 'id'))",
    );
    assert!(next > 3, "{next}");
    let name = a.name().to_string();
    drop(a);
    let left = count(
        &b,
        &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'"),
    );
    assert_eq!(left, 0, "{name} is dropped with its handle");
    let empty = with_schema(&schema).unwrap();
    assert_eq!(count(&empty, "SELECT count(*) FROM customer"), 0);
}

#[test]
fn parallel_tests_seed_safely() {
    if !available("testing_parallel") {
        return;
    }
    let (schema, data) = shop();
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (schema, data) = (schema.clone(), data.clone());
            std::thread::spawn(move || {
                let db = seeded(&schema, &data).unwrap();
                count(&db, "SELECT count(*) FROM orders")
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 3);
    }
}

#[tokio::test]
async fn an_async_test_seeds_and_connects_with_its_own_client() {
    if !available("testing_async") {
        return;
    }
    let (schema, data) = shop();
    let db = seeded(&schema, &data).unwrap();
    let (client, connection) = tokio_postgres::connect(&db.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let n: i64 = client
        .query_one("SELECT count(*) FROM product", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
    drop(client);
    let _ = driver.await;
    drop(db); // inside the runtime too
}

#[test]
fn a_fixture_that_does_not_load_names_its_file_and_line() {
    if !available("testing_bad_fixture") {
        return;
    }
    let (schema, data) = shop();
    let bad = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&data).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), bad.path().join(f.file_name())).unwrap();
    }
    let orders = std::fs::read_to_string(bad.path().join("orders.csv")).unwrap();
    let header = orders.lines().next().unwrap();
    let mut text = orders.clone();
    text.push_str(&vec!["oops"; header.split(',').count()].join(","));
    text.push('\n');
    std::fs::write(bad.path().join("orders.csv"), text).unwrap();
    let e = seeded(&schema, bad.path()).unwrap_err().to_string();
    assert!(e.contains("orders.csv:"), "{e}");
    assert!(e.contains("oops"), "{e}");
}

/// A fixture with an orphan row: `seeded` once returned
/// ErrorKind::Throwaway with the load's error flattened into its message
/// (no kind, no file, no SQLSTATE). It returns the load's own error, on
/// every call (a failure is not cached as text).
#[test]
fn a_fixture_with_an_orphan_gives_the_loads_own_error() {
    if !available("testing_orphan_fixture") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let schema = dir.path().join("schema.sql");
    std::fs::write(
        &schema,
        "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent);",
    )
    .unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("parent.csv"), "id\n1\n").unwrap();
    std::fs::write(data.join("child.csv"), "id,parent_id\n1,1\n2,7\n").unwrap();
    for call in 1..=2 {
        let e = seeded(&schema, &data).unwrap_err();
        let fkload::ErrorKind::ForeignKey { violation, .. } = e.kind() else {
            panic!("call {call}: expected the load's ForeignKey error, got {e:?}");
        };
        assert_eq!(violation.constraint, "child_parent_id_fkey", "call {call}");
        let orphan = &violation.examples[..];
        assert_eq!(orphan.len(), 1, "call {call}: {e}");
        assert_eq!(
            orphan[0].path.file_name(),
            Some(std::ffi::OsStr::new("child.csv"))
        );
        assert_eq!(
            (orphan[0].line, orphan[0].key.as_str()),
            (3, "(parent_id)=(7)")
        );
        assert_eq!(e.sqlstate().map(|s| s.code()), Some("23503"), "call {call}");
        assert_eq!(e.position().and_then(|(_, line)| line), Some(3));
        assert_eq!(e.violations().len(), 1);
    }
}
