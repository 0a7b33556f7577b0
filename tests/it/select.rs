//! `-t`/`-n`/`-T`/`-N`: the tables of the directory a load keeps are those
//! pg_dump's same switches select (pg_dump is the oracle: its patterns are
//! psql's), and the files of the others are listed as not loaded, with why.

use std::collections::BTreeSet;
use std::process::Command;

use crate::util::pg::{TestDb, tool};
use crate::util::support::{Scenario, skip};

const SCHEMA: &str = r#"
CREATE SCHEMA sales; CREATE SCHEMA "Sales"; CREATE SCHEMA "My.Schema";
CREATE TABLE orders (id int PRIMARY KEY);
CREATE TABLE "Orders" (id int PRIMARY KEY);
CREATE TABLE order1 (id int PRIMARY KEY, o int REFERENCES orders);
CREATE TABLE order22 (id int PRIMARY KEY);
CREATE TABLE "a*b" (id int);
CREATE TABLE "a$b" (id int);
CREATE TABLE sales.orders (id int PRIMARY KEY);
CREATE TABLE sales.customers (id int);
CREATE TABLE "Sales"."Big" (id int);
CREATE TABLE "My.Schema".t1 (id int);
"#;

/// Every table's file: `<schema>/<table>.csv`.
const FILES: [&str; 10] = [
    "public/orders.csv",
    "public/Orders.csv",
    "public/order1.csv",
    "public/order22.csv",
    "public/a*b.csv",
    "public/a$b.csv",
    "sales/orders.csv",
    "sales/customers.csv",
    "Sales/Big.csv",
    "My.Schema/t1.csv",
];

/// The tables pg_dump's `args` select, as `schema.table`.
fn pg_dump_selects(pg_dump: &std::path::Path, db: &TestDb, args: &[&str]) -> BTreeSet<String> {
    let out = Command::new(pg_dump)
        .args(["--schema-only", "-d", &db.url])
        .args(args)
        .output()
        .expect("pg_dump runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    // pg_dump refuses -t patterns that match no table at all; fkload too.
    if stderr.contains("no matching tables were found") {
        return BTreeSet::new();
    }
    assert!(out.status.success(), "pg_dump {args:?}: {stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<String> = text
        .lines()
        .filter_map(|l| l.strip_prefix("CREATE TABLE "))
        .map(|l| l.trim_end_matches(" (").to_string())
        .collect();
    printed
        .iter()
        .flat_map(|name| {
            db.query_strings(&format!(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = '{}'::regclass",
                name.replace('\'', "''")
            ))
        })
        .collect()
}

/// The tables fkload's selection keeps, and the files it leaves out.
fn fkload_selects(s: &Scenario, sel: fkload::LoaderBuilder) -> (BTreeSet<String>, Vec<String>) {
    let mut client = s.db.client();
    match sel.build().plan_in(&mut client, s.path()) {
        Ok(plan) => (
            plan.steps()
                .iter()
                .map(|st| format!("{}.{}", st.table().schema, st.table().name))
                .collect(),
            plan.ignored()
                .iter()
                .map(|i| format!("{}: {}", i.rel, i.why))
                .collect(),
        ),
        Err(e) => match e.kind() {
            fkload::ErrorKind::NothingSelected { ignored, .. } => (
                BTreeSet::new(),
                ignored
                    .iter()
                    .map(|i| format!("{}: {}", i.rel, i.why))
                    .collect(),
            ),
            _ => panic!("{e}"),
        },
    }
}

#[test]
fn the_tables_kept_are_those_pg_dump_selects() {
    let Some(pg_dump) = tool("pg_dump") else {
        skip(
            "the_tables_kept_are_those_pg_dump_selects",
            "no pg_dump beside the test server (FKLOAD_TEST_DATABASE_URL, or a server without client tools)",
        );
        return;
    };
    let files: Vec<(&str, &str)> = FILES.iter().map(|f| (*f, "id\n")).collect();
    let s = Scenario::new("select_oracle", SCHEMA, &files);
    // Files name columns the tables have: "id" (order1 has o too, left to default).
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("-t", "orders")],
        vec![("-t", "Orders")],
        vec![("-t", "\"Orders\"")],
        vec![("-t", "order*")],
        vec![("-t", "order?")],
        vec![("-t", "order[0-9]+")],
        vec![("-t", "sales.*")],
        vec![("-t", "*.orders")],
        vec![("-t", "\"a*b\"")],
        vec![("-t", "a$b")],
        vec![("-t", "\"My.Schema\".*")],
        vec![("-t", "orders"), ("-t", "big")],
        vec![("-t", "\"Sales\".\"Big\""), ("-t", "nothing")],
        vec![("-n", "sales")],
        vec![("-n", "\"Sales\"")],
        vec![("-n", "*ales")],
        vec![("-n", "sales"), ("-N", "sales")],
        vec![("-T", "order*")],
        vec![("-N", "public"), ("-T", "*.customers")],
        vec![("-t", "order*"), ("-T", "order2?"), ("-N", "public")],
        vec![("-t", "nothing")],
    ];
    for case in cases {
        let args: Vec<&str> = case.iter().flat_map(|(k, v)| [*k, *v]).collect();
        let mut sel = fkload::Loader::builder();
        for (k, v) in &case {
            let v = [*v];
            sel = match *k {
                "-t" => sel.tables(v),
                "-n" => sel.schemas(v),
                "-T" => sel.exclude_tables(v),
                _ => sel.exclude_schemas(v),
            };
        }
        let want = pg_dump_selects(&pg_dump, &s.db, &args);
        let (got, left_out) = fkload_selects(&s, sel);
        assert_eq!(got, want, "{args:?}");
        assert_eq!(
            left_out.len(),
            FILES.len() - got.len(),
            "{args:?}: {left_out:#?}"
        );
    }
}

#[test]
fn files_left_out_are_listed_with_why_and_a_bad_pattern_is_an_error() {
    let s = Scenario::new(
        "select_cli",
        "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE b (id int PRIMARY KEY, a int REFERENCES a);
         CREATE TABLE c (id int);",
        &[("a.csv", "id\n1\n"), ("b.csv", "id,a\n1,1\n"), ("c.csv", "id\n1\n")],
    );
    let listed = s.run(&["-l", "-T", "c", "-T", "x*"]).ok();
    assert!(
        listed
            .stdout
            .contains("not loaded:\n  c.csv: excluded by -T c\n"),
        "{}",
        listed.stdout
    );
    s.run(&["-t", "a", "-t", "b"])
        .ok()
        .stderr_has("fkload: warning: not loading");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 0);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM b"), 1);
    s.run(&["-t", "a.b.c"])
        .fails(1)
        .stderr_has("-t a.b.c: improper qualified name (too many dotted names)");
    s.run(&["-t", "("])
        .fails(1)
        .stderr_has("-t (: invalid regular expression");
    s.run(&["-n", "nothing"])
        .fails(1)
        .stderr_has("no file names a table the patterns select\nDETAIL:  a.csv: not selected: its table matches no -n pattern");
}
