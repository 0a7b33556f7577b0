//! What a test pays for a seeded database, three ways, on one throwaway
//! server, alternating run by run:
//!
//! - `template`: `fkload::testing::seeded` (a copy of a template database
//!   loaded once);
//! - `load`: a copy of the schema-only template, then the fixtures loaded
//!   into it by fkload (what a test pays that loads its fixtures itself; the
//!   schema is not counted);
//! - `inserts`: a copy of the schema-only template, then the same rows as
//!   SQL `INSERT`s of 1000 rows each in one transaction, as `sqlx::test`
//!   fixtures apply them.
//!
//! On the bundled example (`fixtures/shop`) and on a generated set of about
//! 10 MB. `cargo bench --bench seeding --features testing [-- RUNS]`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fkload::testing::{seeded, with_schema};

const SCHEMA_10MB: &str = "
CREATE TABLE customer (id int PRIMARY KEY, name text NOT NULL, email text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer, note text);
CREATE TABLE order_line (order_id int REFERENCES orders, line int, qty int, price numeric,
                         PRIMARY KEY (order_id, line));";

/// The generated set: 10.1 MB of CSV in three tables (416,000 rows).
fn generate(dir: &Path) -> (PathBuf, PathBuf) {
    let schema = dir.join("schema.sql");
    std::fs::write(&schema, SCHEMA_10MB).unwrap();
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let mut c = String::from("id,name,email\n");
    for i in 1..=32_000 {
        let _ = writeln!(c, "{i},customer number {i},c{i}@example.com");
    }
    let mut o = String::from("id,customer_id,note\n");
    for i in 1..=96_000 {
        let _ = writeln!(o, "{i},{},\"a note, with a comma {i}\"", i % 32_000 + 1);
    }
    let mut l = String::from("order_id,line,qty,price\n");
    for i in 1..=96_000 {
        for line in 1..=3 {
            let _ = writeln!(l, "{i},{line},{},{}.{:02}", line * 2, i % 500, i % 100);
        }
    }
    std::fs::write(data.join("customer.csv"), c).unwrap();
    std::fs::write(data.join("orders.csv"), o).unwrap();
    std::fs::write(data.join("order_line.csv"), l).unwrap();
    (schema, data)
}

/// The rows of `data` as INSERT statements (1000 rows each), in the load
/// order fkload's plan gives, reading every value as text (the columns cast
/// them).
fn inserts(db: &fkload::testing::TestDatabase, data: &Path) -> String {
    let mut client = db.connect().unwrap();
    let loader = fkload::Loader::builder().build();
    let plan = loader.plan_in(&mut client, data).unwrap();
    let mut sql = String::from("BEGIN;\n");
    for step in plan.steps() {
        let text = std::fs::read_to_string(step.path()).unwrap();
        let mut reader = csv_rows(&text);
        let header = reader.remove(0);
        for chunk in reader.chunks(1000) {
            let _ = write!(
                sql,
                "INSERT INTO {} ({}) OVERRIDING SYSTEM VALUE VALUES ",
                step.table(),
                header
                    .iter()
                    .map(|h| format!("\"{}\"", h.as_deref().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let rows: Vec<String> = chunk
                .iter()
                .map(|r| {
                    let vals: Vec<String> = r
                        .iter()
                        .map(|v| match v {
                            None => "NULL".to_string(),
                            Some(v) => format!("'{}'", v.replace('\'', "''")),
                        })
                        .collect();
                    format!("({})", vals.join(", "))
                })
                .collect();
            sql.push_str(&rows.join(", "));
            sql.push_str(";\n");
        }
    }
    sql.push_str("COMMIT;\n");
    sql
}

/// CSV records (COPY's defaults: an unquoted empty field is NULL).
fn csv_rows(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let (mut quoted, mut was_quoted) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' => {
                quoted = !quoted;
                was_quoted = true;
            }
            ',' if !quoted => {
                row.push((was_quoted || !field.is_empty()).then(|| std::mem::take(&mut field)));
                was_quoted = false;
            }
            '\n' if !quoted => {
                row.push((was_quoted || !field.is_empty()).then(|| std::mem::take(&mut field)));
                was_quoted = false;
                rows.push(std::mem::take(&mut row));
            }
            '\r' if !quoted => {}
            c => field.push(c),
        }
    }
    rows
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(20);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = tempfile::tempdir().unwrap();
    let sets = [
        (
            "shop (bundled, 614 B)",
            root.join("fixtures/shop/schema.sql"),
            root.join("fixtures/shop/data"),
        ),
        {
            let (s, d) = generate(work.path());
            ("generated (10 MB)", s, d)
        },
    ];
    println!(
        "| fixture set | template (median) | load per test | inserts per test | load / template | inserts / template |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, schema, data) in &sets {
        // The templates are made once, outside the timings.
        drop(seeded(schema, data).unwrap());
        let probe = with_schema(schema).unwrap();
        let sql = inserts(&probe, data);
        drop(probe);
        let (mut t, mut l, mut i) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..runs {
            let start = Instant::now();
            let db = seeded(schema, data).unwrap();
            t.push(start.elapsed());
            drop(db);

            let start = Instant::now();
            let db = with_schema(schema).unwrap();
            let mut client = db.connect().unwrap();
            let mut tx = client.transaction().unwrap();
            fkload::load_dir(&mut tx, data).unwrap();
            tx.commit().unwrap();
            l.push(start.elapsed());
            drop(client);
            drop(db);

            let start = Instant::now();
            let db = with_schema(schema).unwrap();
            db.connect().unwrap().batch_execute(&sql).unwrap();
            i.push(start.elapsed());
            drop(db);
        }
        let (t, l, i) = (median(t), median(l), median(i));
        println!(
            "| {label} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} | {:.1} |",
            t.as_secs_f64() * 1e3,
            l.as_secs_f64() * 1e3,
            i.as_secs_f64() * 1e3,
            l.as_secs_f64() / t.as_secs_f64(),
            i.as_secs_f64() / t.as_secs_f64()
        );
    }
}
