//! Lock waits and slow statements: fkload gives up after --lock-timeout or
//! --statement-timeout, names the sessions holding locks, and leaves the
//! database as it was.

use crate::util::support::{Scenario, assert_unchanged, snapshot};

#[test]
fn lock_timeout_names_the_blocking_session() {
    let s = Scenario::new(
        "lock_timeout",
        "CREATE TABLE t (id int PRIMARY KEY);",
        &[("t.csv", "id\n1\n")],
    );
    let before = snapshot(&s.db);
    let mut holder = s.db.client();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    holder
        .batch_execute("BEGIN; LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let started = std::time::Instant::now();
    let out = s.run(&["--lock-timeout", "300ms"]).fails(3);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(
        out.stderr
            .contains("canceling statement due to lock timeout"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!("pid {pid} (")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("LOCK TABLE t IN ACCESS EXCLUSIVE MODE"),
        "{}",
        out.stderr
    );
    holder.batch_execute("ROLLBACK").unwrap();
    assert_unchanged(&s.db, &before);
}

#[test]
fn statement_timeout_cancels_a_slow_load() {
    let s = Scenario::new(
        "statement_timeout",
        "CREATE TABLE t (id int PRIMARY KEY);
         CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN PERFORM pg_sleep(2); RETURN NEW; END$$;
         CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow();",
        &[("t.csv", "id\n1\n2\n")],
    );
    let before = snapshot(&s.db);
    s.run(&["--statement-timeout", "500ms"])
        .fails(3)
        .stderr_has("canceling statement due to statement timeout");
    assert_unchanged(&s.db, &before);
}

#[test]
fn durations_are_checked_before_connecting() {
    let s = Scenario::new("bad_duration", "", &[]);
    s.run(&["--lock-timeout", "5 seconds"]).fails(1);
}

#[test]
fn ctrl_c_cancels_the_running_statement_and_rolls_back() {
    let s = Scenario::new(
        "sigint",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE t (id int PRIMARY KEY, p_id int REFERENCES p);
         CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END$$;
         CREATE TRIGGER slow BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION slow();",
        &[
            ("p.csv", "id\n1\n"),
            (
                "t.csv",
                "id,p_id\n1,1\n2,1\n3,1\n4,1\n5,1\n6,1\n7,1\n8,1\n9,1\n10,1\n",
            ),
        ],
    );
    let before = snapshot(&s.db);
    let child = crate::util::support::command()
        .arg("-d")
        .arg(&s.db.url)
        .arg(s.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // p loads at once; t takes 5 s: interrupt it while it runs.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = crate::util::support::output(child.wait_with_output().unwrap());
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("canceling statement due to user request"),
        "{}",
        out.stderr
    );
    assert_unchanged(&s.db, &before);
}
