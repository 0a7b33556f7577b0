//! `--report FILE.json`: real reports of every kind of run (a load, a plan, a
//! check, a load that fails on keys, `--on-orphan skip`, a connection that
//! fails) validate against `schema/report.schema.json` and say what
//! happened.

use std::path::Path;

use serde_json::Value;

use crate::util::support::{Scenario, command, output};

const SHOP: &str = "
CREATE TABLE customers (id int PRIMARY KEY, name text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int REFERENCES customers, note text);";

fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json"),
    )
    .expect("the schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft202012::new(&schema).expect("a valid JSON Schema")
}

/// Runs fkload with `--report` and returns the exit code and the report,
/// checked against the schema.
fn run(s: &Scenario, args: &[&str]) -> (i32, Value) {
    let file = s.path().join("report.json.out");
    let mut all = vec!["--report", file.to_str().expect("utf-8")];
    all.extend(args);
    let code = s.run(&all).code;
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("a report")).expect("JSON");
    assert_valid(&report);
    (code, report)
}

pub fn assert_valid(report: &Value) {
    let errors: Vec<String> = validator()
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{report:#}");
}

fn shop(label: &str, orders: &str) -> Scenario {
    Scenario::new(
        label,
        SHOP,
        &[
            ("customers.csv", "id,name\n1,a\n2,b\n"),
            ("orders.csv", orders),
        ],
    )
}

#[test]
fn a_load_a_plan_and_a_check_report_what_they_did() {
    let s = shop("report_load", "id,customer_id,note\n1,1,x\n2,2,y\n3,1,z\n");
    let (code, plan) = run(&s, &["-l"]);
    assert_eq!(code, 0);
    assert_eq!(plan["command"], "plan");
    assert_eq!(plan["plan"]["strategy"], "keep");
    assert_eq!(plan["plan"]["strategy_reason"], "small");
    assert!(plan["result"].is_null());
    assert_eq!(plan["tables"][1]["table"]["name"], "orders");
    assert!(plan["tables"][1]["rows"].is_null());

    let (code, check) = run(&s, &["check"]);
    assert_eq!(code, 0);
    assert_eq!(
        (check["command"].clone(), check["ok"].clone()),
        ("check".into(), true.into())
    );
    assert_eq!(check["problems"]["count"], 0);

    let (code, load) = run(&s, &["--strategy", "revalidate"]);
    assert_eq!(code, 0);
    assert_eq!(load["result"]["rows"], 5);
    assert_eq!(load["tables"][1]["rows"], 3);
    assert_eq!(load["plan"]["keys"][0]["action"], "drop");
    assert_eq!(load["result"]["keys_restored"], 1);
    assert_eq!(load["result"]["sequences"][0]["value"], 3);
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM orders"),
        load["tables"][1]["rows"].as_i64().expect("rows")
    );
}

#[test]
fn failures_and_problems_are_reported_with_their_rows() {
    let s = shop("report_fail", "id,customer_id,note\n1,1,x\n2,9,y\n3,8,z\n");
    let (code, check) = run(&s, &["check", "--max-examples", "1"]);
    assert_eq!(code, 1);
    let key = &check["problems"]["keys"][0];
    assert_eq!(key["constraint"], "orders_customer_id_fkey");
    assert_eq!(
        (key["rows"].clone(), key["missing_keys"].clone()),
        (2.into(), 2.into())
    );
    assert_eq!(key["examples"].as_array().map(Vec::len), Some(1));
    assert_eq!(key["examples"][0]["line"], 3);

    let (code, load) = run(&s, &[]);
    assert_eq!(code, 3);
    assert_eq!(load["error"]["sqlstate"], "23503");
    assert_eq!(load["error"]["line"], 3);
    assert_eq!(load["problems"]["keys"][0]["rows"], 2);
    assert!(load["result"].is_null());

    let rejects = tempfile::tempdir().expect("dir");
    let dir = rejects.path().to_str().expect("utf-8");
    let (code, skip) = run(&s, &["--on-orphan", "skip", "--reject-dir", dir]);
    assert_eq!(code, 0);
    assert_eq!(skip["tables"][1]["skipped"], 2);
    assert_eq!(skip["result"]["skipped"], 2);
    assert_eq!(
        skip["result"]["rejects"][0],
        rejects
            .path()
            .join("orders.rejects.csv")
            .display()
            .to_string()
    );
}

#[test]
fn a_failed_connection_is_reported_too_and_the_schema_catches_drift() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("r.json");
    let o = output(
        command()
            .args([
                "-d",
                "host=127.0.0.1 port=1 user=nobody dbname=none connect_timeout=2",
            ])
            .args(["--report", file.to_str().expect("utf-8")])
            .arg(dir.path())
            .output()
            .expect("run fkload"),
    );
    assert_eq!(o.code, 2, "{}", o.stderr);
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("report")).expect("JSON");
    assert_valid(&report);
    assert_eq!(report["error"]["connection"], true);
    assert!(report["plan"].is_null());

    // A report that lost a member, or changed a type, does not validate.
    let v = validator();
    let mut lost = report.clone();
    lost.as_object_mut().expect("object").remove("plan");
    assert!(!v.is_valid(&lost));
    let mut retyped = report;
    retyped["exit_code"] = "2".into();
    assert!(!v.is_valid(&retyped));
}

#[test]
fn dialects_columns_and_tables_also_emptied_are_reported() {
    let s = Scenario::new(
        "report_dialect",
        "CREATE TABLE person (id int PRIMARY KEY, name text);
         CREATE TABLE pet (id int PRIMARY KEY, owner int REFERENCES person);",
        &[("person.csv", "1;ann\n")],
    );
    let (code, report) = run(
        &s,
        &[
            "-l",
            "--truncate",
            "--delimiter",
            ";",
            "--no-header",
            "--null",
            "\\N",
        ],
    );
    assert_eq!(code, 0, "{report:#}");
    let t = &report["tables"][0];
    assert_eq!(t["columns"], serde_json::json!(["id", "name"]));
    assert_eq!(t["columns_from"], "table_order");
    assert_eq!(
        t["dialect"],
        serde_json::json!({"delimiter": ";", "quote": "\"", "escape": "\"", "null": "\\N", "header": false, "encoding": null})
    );
    let also = &report["plan"]["truncate_also"][0];
    assert_eq!(also["table"]["name"], "pet", "{report:#}");
    assert_eq!(also["references"]["name"], "person");
    assert_eq!(also["rows"], 0);
}
