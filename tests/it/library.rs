//! fkload as a library: a load inside the caller's own transaction (which the
//! caller commits or rolls back), a Loader made from a Connector, and errors a
//! program acts on through their accessors rather than their text.

use std::path::Path;

use fkload::{Connector, Event, Loader};

use crate::util::support::{Scenario, keys};

const SCHEMA: &str = "
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parent,
                    n int NOT NULL);";

fn scenario(label: &str, child: &str) -> Scenario {
    Scenario::new(
        label,
        SCHEMA,
        &[("parent.csv", "id\n1\n2\n"), ("child.csv", child)],
    )
}

#[test]
fn a_load_inside_the_callers_transaction_is_the_callers_to_commit_or_roll_back() {
    let s = scenario("lib_tx", "id,parent_id,n\n1,1,1\n2,2,2\n");
    let before = keys(&s.db);
    let mut client = s.db.client();

    let mut tx = client.transaction().unwrap();
    let report = fkload::load_dir(&mut tx, s.path()).unwrap();
    assert_eq!(report.rows(), 4);
    let seen: i64 = tx
        .query_one("SELECT count(*) FROM child", &[])
        .unwrap()
        .get(0);
    assert_eq!(seen, 2, "the rows are there inside the transaction");
    tx.rollback().unwrap();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM child"), 0);

    let mut tx = client.transaction().unwrap();
    fkload::load_dir(&mut tx, s.path()).unwrap();
    tx.commit().unwrap();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM child"), 2);
    assert_eq!(keys(&s.db), before);
}

#[test]
fn a_loader_plans_and_loads_on_connections_its_connector_makes() {
    let s = scenario("lib_loader", "id,parent_id,n\n1,1,1\n");
    let config: postgres::Config = s.db.url.parse().unwrap();
    for jobs in [1, 2] {
        s.db.exec("TRUNCATE parent, child");
        let loader = Loader::builder()
            .connector(Connector::from_config(config.clone()).setting("lock_timeout", "2s"))
            .jobs(jobs)
            .build();
        let plan = loader.plan(s.path()).unwrap();
        assert_eq!(plan.steps().len(), 2);
        assert_eq!(plan.jobs(), jobs);
        let mut started = Vec::new();
        let report = loader
            .load(&plan, &mut |e| {
                if let Event::TableStarted { step } = e {
                    started.push(step.table().human());
                }
            })
            .unwrap();
        assert_eq!(report.rows(), 3, "jobs {jobs}");
        started.sort();
        assert_eq!(started, ["public.child", "public.parent"], "jobs {jobs}");
    }
    // Without a connector a loader still works on the caller's connection.
    let loader = Loader::builder().build();
    let e = loader.plan(s.path()).unwrap_err();
    assert!(matches!(e.kind(), fkload::ErrorKind::NoConnector), "{e}");
    let plan = loader.plan_in(&mut s.db.client(), s.path()).unwrap();
    assert_eq!(plan.steps().len(), 2);
}

/// The load's error, on the scenario's database.
fn load_error(s: &Scenario) -> fkload::Error {
    let mut client = s.db.client();
    fkload::load_dir(&mut client, s.path()).unwrap_err()
}

#[test]
fn errors_carry_their_sqlstate_position_and_source() {
    // A value the server rejects: the file and line, SQLSTATE 22P02, and the
    // client's error behind it with the same code.
    let s = scenario("lib_bad_value", "id,parent_id,n\n1,1,1\n2,2,two\n");
    let e = load_error(&s);
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("22P02"), "{e}");
    let (path, line) = e.position().expect("a position");
    assert_eq!(path, s.path().join("child.csv"));
    assert_eq!(line, Some(3));
    let source = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<postgres::Error>())
        .expect("the client's error as the source");
    assert_eq!(
        source.code(),
        Some(&postgres::error::SqlState::INVALID_TEXT_REPRESENTATION)
    );
    assert!(!e.is_connection());

    // An orphan: 23503, positioned at the first orphan row.
    let s = scenario("lib_orphan", "id,parent_id,n\n1,1,1\n2,9,2\n");
    let e = load_error(&s);
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("23503"), "{e}");
    assert_eq!(e.position().and_then(|(_, line)| line), Some(3));
    assert!(
        matches!(e.kind(), fkload::ErrorKind::ForeignKey { violation, .. } if violation.rows == 1)
    );

    // A header naming no column: no SQLSTATE, line 1.
    let s = scenario("lib_header", "id,parent,n\n1,1,1\n");
    let e = load_error(&s);
    assert_eq!(e.sqlstate().map(|s| s.code()), None);
    assert_eq!(e.position().map(|(_, line)| line), Some(Some(1)));

    // Nobody listens on port 1: a connection error, and no password asked.
    let config: postgres::Config = "host=127.0.0.1 port=1 user=app dbname=shop connect_timeout=2"
        .parse()
        .unwrap();
    let loader = Loader::builder()
        .connector(Connector::from_config(config))
        .build();
    let e = loader.plan(Path::new(".")).unwrap_err();
    assert!(e.is_connection(), "{e}");
    assert!(!e.needs_password());
    assert!(std::error::Error::source(&e).is_some());
}

/// What a program matching on the kind must see for one violated key.
fn assert_one_key(e: &fkload::Error, s: &Scenario, entry: &str) {
    let fkload::ErrorKind::ForeignKey { violation, .. } = e.kind() else {
        panic!("{entry}: one violated key is ErrorKind::ForeignKey, got {e:?}");
    };
    assert_eq!(violation.constraint, "child_parent_id_fkey", "{entry}");
    assert_eq!((violation.rows, violation.missing_keys), (2, 1), "{entry}");
    let rows: Vec<(u64, &str)> = violation
        .examples
        .iter()
        .map(|o| (o.line, o.key.as_str()))
        .collect();
    assert_eq!(
        rows,
        [(3, "(parent_id)=(9)"), (4, "(parent_id)=(9)")],
        "{entry}: every orphan row of the key"
    );
    assert!(
        violation
            .examples
            .iter()
            .all(|o| o.path == s.path().join("child.csv")),
        "{entry}"
    );
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("23503"), "{entry}");
    assert_eq!(e.position().and_then(|(_, line)| line), Some(3), "{entry}");
    assert_eq!(
        e.violations(),
        std::slice::from_ref(&**violation),
        "{entry}"
    );
    assert_eq!(
        e.problems().map(|p| p.keys.len()),
        Some(1),
        "{entry}: the check's account"
    );
}

/// `load_dir` once returned ErrorKind::Problems for one violated key, so
/// that a program matching ErrorKind::ForeignKey missed it: every entry
/// point now gives the same kind for the same data.
#[test]
fn one_violated_key_is_a_foreign_key_error_on_every_entry_point() {
    let s = scenario("lib_one_key", "id,parent_id,n\n1,1,1\n2,9,2\n3,9,3\n");
    let before = crate::util::support::snapshot(&s.db);
    assert_one_key(&load_error(&s), &s, "load_dir");

    let loader = Loader::builder().build();
    let mut client = s.db.client();
    let plan = loader.plan_in(&mut client, s.path()).unwrap();
    let e = loader.load_in(&mut client, &plan, &mut |_| {}).unwrap_err();
    assert_one_key(&e, &s, "Loader::load_in");

    let config: postgres::Config = s.db.url.parse().unwrap();
    for jobs in [1, 2] {
        let loader = Loader::builder()
            .connector(Connector::from_config(config.clone()))
            .jobs(jobs)
            .build();
        let plan = loader.plan(s.path()).unwrap();
        let e = loader.load(&plan, &mut |_| {}).unwrap_err();
        assert_one_key(&e, &s, &format!("Loader::load, {jobs} jobs"));
    }
    crate::util::support::assert_unchanged(&s.db, &before);
}

/// Two violated keys are ErrorKind::Problems; `violations()` lists them as
/// it lists the one of ErrorKind::ForeignKey.
#[test]
fn several_violated_keys_are_problems_and_violations_lists_them() {
    let s = Scenario::new(
        "lib_two_keys",
        "CREATE TABLE parent (id int PRIMARY KEY);
         CREATE TABLE other (id int PRIMARY KEY);
         CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent,
                             other_id int REFERENCES other);",
        &[
            ("parent.csv", "id\n1\n"),
            ("other.csv", "id\n1\n"),
            ("child.csv", "id,parent_id,other_id\n1,1,1\n2,9,1\n3,1,8\n"),
        ],
    );
    let e = load_error(&s);
    assert!(
        matches!(e.kind(), fkload::ErrorKind::Problems(p) if p.keys.len() == 2),
        "{e:?}"
    );
    let mut keys: Vec<&str> = e
        .violations()
        .iter()
        .map(|v| v.constraint.as_str())
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["child_other_id_fkey", "child_parent_id_fkey"]);
    assert_eq!(e.sqlstate().map(|s| s.code()), Some("23503"));
    // Not about keys: none.
    let s = scenario("lib_no_keys", "id,parent_id,n\n1,1,x\n");
    assert!(load_error(&s).violations().is_empty());
}
