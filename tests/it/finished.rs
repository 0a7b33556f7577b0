//! A parallel load that reported success is never undone, whatever happens to
//! its journal afterwards: the run records that it finished in the
//! transaction of its last change, and recovery of a finished run only clears
//! the journal.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::crash::{journal_state, state};
use crate::util::support::{Scenario, command, fkload, output, write};

/// p <- c, with a slow trigger on c that keeps the load going for a second:
/// time enough for another session to start reading the journal.
const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, p int NOT NULL REFERENCES p);
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END$$;
CREATE TRIGGER slow BEFORE INSERT ON c FOR EACH ROW EXECUTE FUNCTION slow();";

fn scenario(label: &str) -> Scenario {
    let mut p = String::from("id\n");
    let mut c = String::from("id,p\n");
    for i in 1..=100 {
        p.push_str(&format!("{i}\n"));
        c.push_str(&format!("{i},{}\n", (i % 10) + 1));
    }
    Scenario::new(label, SCHEMA, &[("p.csv", &p), ("c.csv", &c)])
}

/// Runs a `-j 2 --lock-timeout 2s` load while another session reads the
/// journal in an open transaction (a monitoring query, `pg_dump`), from the
/// moment the journal exists; returns the load's run and that session, still
/// holding its lock.
fn load_while_the_journal_is_read(s: &Scenario) -> (crate::util::support::Run, postgres::Client) {
    let child = command()
        .args(["-d", &s.db.url, "-j", "2", "--lock-timeout", "2s"])
        .arg(s.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fkload");
    let mut reader = s.db.client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while s
        .db
        .query_i64("SELECT count(*) FROM pg_class WHERE oid = to_regclass('fkload.journal')")
        == 0
    {
        assert!(Instant::now() < deadline, "the load never made its journal");
        std::thread::sleep(Duration::from_millis(2));
    }
    reader
        .batch_execute("BEGIN; SELECT count(*) FROM fkload.journal")
        .expect("read the journal");
    let run = output(child.wait_with_output().expect("wait for fkload"));
    (run, reader)
}

/// Runs `fkload repair` on the scenario's database; it must succeed.
fn repaired(s: &Scenario) -> crate::util::support::Run {
    let run = output(
        command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "repair: {}", run.stderr);
    run
}

/// The defect of issue 21: the load succeeded, its journal could not be
/// dropped (another session was reading it), and the next command took the
/// run for an unfinished one and deleted its 200 committed rows.
#[test]
fn a_finished_parallel_load_whose_journal_was_not_removed_is_never_undone() {
    let s = scenario("finished_not_removed");
    let (run, mut reader) = load_while_the_journal_is_read(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the journal fkload.journal was not removed"),
        "the journal was removed although it was being read:\n{}",
        run.stderr
    );
    let loaded = state(&s.db);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 100);

    // Every later command, with the reader still holding the journal: the
    // finished run stays loaded.
    let resume = fkload(&s.db, s.path(), &["-j", "2", "--resume"]);
    assert_eq!(resume.code, 1, "--resume: {}", resume.stderr);
    assert!(
        resume.stderr.contains("no interrupted parallel load"),
        "{}",
        resume.stderr
    );
    assert_eq!(state(&s.db), loaded, "--resume changed the loaded database");
    let repair = repaired(&s);
    assert!(
        repair.stdout.contains("nothing to repair"),
        "{}",
        repair.stdout
    );
    assert_eq!(state(&s.db), loaded, "repair changed the loaded database");
    let check = fkload(&s.db, s.path(), &["check"]);
    assert_eq!(
        state(&s.db),
        loaded,
        "check changed the loaded database: {}",
        check.stderr
    );
    let list = fkload(&s.db, s.path(), &["-l"]);
    assert_eq!(list.code, 0, "-l: {}", list.stderr);
    assert_eq!(state(&s.db), loaded, "-l changed the loaded database");

    // The next load, one row into p, while the journal is still read.
    let next = tempfile::tempdir().unwrap();
    write(next.path(), "p.csv", b"id\n1000\n");
    let again = fkload(&s.db, next.path(), &["--lock-timeout", "1s"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        !again.stderr.contains("did not finish"),
        "the next load took the finished run for an unfinished one:\n{}",
        again.stderr
    );
    assert_eq!(s.db.query_i64("SELECT count(*) FROM p"), 101);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 100);

    // Once nobody reads it, the next command removes the journal.
    reader.batch_execute("COMMIT").unwrap();
    repaired(&s);
    assert_eq!(
        journal_state(&s.db),
        None,
        "the finished run's journal stayed"
    );
    assert_eq!(s.db.query_i64("SELECT count(*) FROM p"), 101);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 100);
    // The warning said what would happen to the journal.
    assert!(
        run.stderr.contains("records that this run finished"),
        "{}",
        run.stderr
    );
}

/// The same, with the next command a parallel load: it journals a run of its
/// own beside the finished one, and removes both when it finishes.
#[test]
fn a_parallel_load_after_a_finished_run_left_in_the_journal_keeps_its_rows() {
    let s = scenario("finished_then_parallel");
    let (run, mut reader) = load_while_the_journal_is_read(&s);
    assert_eq!(run.code, 0, "{}", run.stderr);
    reader.batch_execute("COMMIT").unwrap();
    assert!(journal_state(&s.db).is_some(), "the journal was removed");
    let next = tempfile::tempdir().unwrap();
    write(next.path(), "p.csv", b"id\n1000\n");
    write(next.path(), "c.csv", b"id,p\n1000,1000\n");
    let again = fkload(&s.db, next.path(), &["-j", "2"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM p"), 101);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 101);
    assert_eq!(journal_state(&s.db), None, "the journal stayed");
}
