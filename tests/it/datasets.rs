//! The real sample databases of `../shared/datasets`: each schema.sql is applied
//! to a fresh database, its data/ directory loaded with fkload, and every table
//! dumped back and compared with its file: the same lines, in any order (COPY TO
//! returns heap order, partition by partition).
//!
//! A clone without `../shared` skips these tests with a printed reason.

use std::path::{Path, PathBuf};

use crate::util::pg::TestDb;
use crate::util::support::{fkload, indexes, keys, skip};

fn datasets_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/datasets");
    dir.is_dir().then_some(dir)
}

fn round_trip(name: &str, args: &[&str]) {
    let Some(root) = datasets_dir() else {
        skip(
            &format!("dataset_{name}"),
            "../shared/datasets is absent (it ships beside the repository in CI)",
        );
        return;
    };
    let ds = root.join(name);
    let facts: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ds.join("facts.json")).unwrap()).unwrap();
    let db = TestDb::new(name);
    // Server builds without contrib (the PyPI ones of the version matrix) lack
    // some extensions a dataset's schema creates.
    let needed: Vec<String> = facts["extensions"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for ext in &needed {
        let n = db.query_i64(&format!(
            "SELECT count(*) FROM pg_available_extensions WHERE name = '{}'",
            ext.replace('\'', "''")
        ));
        if n == 0 {
            skip(
                &format!("dataset_{name}"),
                &format!("this server build lacks the extension {ext}"),
            );
            return;
        }
    }
    // pg_dump writes psql meta-commands (\restrict) that only psql understands.
    let schema: String = std::fs::read_to_string(ds.join("schema.sql"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('\\'))
        .map(|l| format!("{l}\n"))
        .collect();
    db.exec(&schema);
    let keys_before = keys(&db);

    let indexes_before = indexes(&db);
    let out = fkload(&db, &ds.join("data"), args).ok();
    let mut client = db.client();
    let manifest = facts["manifest"].as_array().expect("manifest");
    let mut total = 0;
    for entry in manifest {
        let table = entry["table"].as_str().unwrap();
        let file = ds.join(entry["file"].as_str().unwrap());
        let partitioned = entry["kind"] == "p";
        let (schema, rel) = table.split_once('.').unwrap();
        let qualified = format!("\"{schema}\".\"{rel}\"");
        let only = if partitioned { "" } else { "ONLY " };
        let rows: i64 = client
            .query_one(&format!("SELECT count(*) FROM {only}{qualified}"), &[])
            .unwrap()
            .get(0);
        assert_eq!(rows, entry["rows"].as_i64().unwrap(), "{table} row count");
        total += rows;

        let mut dumped = String::new();
        let sql = format!(
            "COPY (SELECT * FROM {only}{qualified}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        );
        std::io::Read::read_to_string(&mut client.copy_out(&sql).unwrap(), &mut dumped).unwrap();
        let original = std::fs::read_to_string(&file).unwrap();
        // The exports list rows in heap order, which updates before the export
        // shuffled; the same rows in any order is the same table.
        let sorted = |s: &str| {
            let mut l: Vec<&str> = s.lines().collect();
            l.sort_unstable();
            l.join("\n")
        };
        assert!(
            sorted(&dumped) == sorted(&original),
            "{table} differs from {}",
            file.display()
        );
    }
    assert_eq!(total, facts["total_rows"].as_i64().unwrap());
    assert!(
        out.stdout.contains(&format!("loaded {total} rows")),
        "{}",
        out.stdout
    );
    assert_eq!(keys(&db), keys_before, "every key as it was");
    assert_eq!(indexes(&db), indexes_before, "every index as it was");
}

#[test]
fn dataset_pagila() {
    round_trip("pagila", &["--strategy", "keep"]);
    round_trip("pagila", &["--strategy", "revalidate"]);
}

#[test]
fn dataset_pagila_0_10_1_with_its_store_staff_cycle() {
    round_trip("pagila_0_10_1", &["--strategy", "keep"]);
    round_trip("pagila_0_10_1", &["--strategy", "revalidate"]);
}

#[test]
fn dataset_chinook() {
    round_trip("chinook", &["--strategy", "keep"]);
    round_trip("chinook", &["--strategy", "revalidate"]);
}

#[test]
fn dataset_chinook_identity() {
    round_trip("chinook_identity", &["--strategy", "keep"]);
    round_trip("chinook_identity", &["--strategy", "revalidate"]);
}

#[test]
fn dataset_northwind() {
    round_trip("northwind", &["--strategy", "keep"]);
    round_trip("northwind", &["--strategy", "revalidate"]);
}

#[test]
fn dataset_adventureworks() {
    round_trip("adventureworks", &["--strategy", "keep"]);
    round_trip("adventureworks", &["--strategy", "revalidate"]);
}
