//! What the failure enumeration (`crash_points.rs`, `util/failure.rs`) found,
//! one regression test each: a parallel load that fails is undone even when
//! the failure took its connection, and one that fails before it recorded
//! anything leaves no journal.

use crate::util::crash::{self, journal_state, state};
use crate::util::support::{Scenario, output};

const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, p int NOT NULL,
                CONSTRAINT c_p_fk FOREIGN KEY (p) REFERENCES p);";

fn scenario(label: &str) -> Scenario {
    Scenario::new(
        label,
        SCHEMA,
        &[("p.csv", "id\n1\n2\n"), ("c.csv", "id,p\n1,1\n2,2\n")],
    )
}

const ARGS: [&str; 4] = ["-j", "2", "--strategy", "revalidate"];

/// The number of the first statement of a clean run (on a copy) that starts
/// with `prefix` after one that starts with `after`.
fn statement_after(s: &Scenario, after: &str, prefix: &str) -> u64 {
    let copy = s.db.copy("trace");
    let trace = tempfile::NamedTempFile::new().expect("trace file");
    let path = trace.path().to_string_lossy().into_owned();
    let run = output(crash::fkload_env(
        &copy,
        &ARGS,
        Some(s.path()),
        &[("FKLOAD_FAILPOINT_TRACE", &path)],
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(trace.path()).expect("read trace");
    let mut seen = false;
    for line in text.lines() {
        let (n, sql) = line.split_once('\t').expect("numbered line");
        if sql.trim_start().starts_with(after) {
            seen = true;
        } else if seen && sql.trim_start().starts_with(prefix) {
            return n.parse().expect("number");
        }
    }
    panic!("no statement {prefix:?} after {after:?} in:\n{text}");
}

fn run_failing(s: &Scenario, point: &str) -> crate::util::support::Run {
    output(crash::fkload_env(
        &s.db,
        &ARGS,
        Some(s.path()),
        &[("FKLOAD_FAILPOINT", point)],
    ))
}

/// Found by the enumeration: the control connection lost once the files had
/// committed (here as the keys are about to come back) left their rows in and
/// the keys dropped, and the error named the journal but no command.
#[test]
fn a_parallel_load_that_loses_its_connection_after_the_data_is_undone_on_a_new_one() {
    if !crash::available(
        "a_parallel_load_that_loses_its_connection_after_the_data_is_undone_on_a_new_one",
    ) {
        return;
    }
    let s = scenario("lost_control");
    let before = state(&s.db);
    // The first read of the journal after the files' entries: restoring.
    let n = statement_after(
        &s,
        "INSERT INTO fkload.journal (run, seq, kind, target, name, txid",
        "SELECT seq, kind",
    );
    let run = run_failing(&s, &format!("{n}:disconnect"));
    assert!(
        run.stderr.contains(&format!("failpoint {n}: failing")),
        "{}",
        run.stderr
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    crash::wait_for_disconnect(&s.db);
    assert_eq!(
        journal_state(&s.db),
        None,
        "the journal stayed:\n{}",
        run.stderr
    );
    assert_eq!(state(&s.db), before, "the failed load was not undone");
}

/// Found by the enumeration: a run that failed after making its journal but
/// before recording anything in it (here its trust check fails) left an empty
/// journal behind.
#[test]
fn a_parallel_load_failing_before_it_recorded_anything_leaves_no_journal() {
    if !crash::available("a_parallel_load_failing_before_it_recorded_anything_leaves_no_journal") {
        return;
    }
    let s = scenario("failed_before_recording");
    let before = state(&s.db);
    let n = statement_after(
        &s,
        "CREATE TABLE IF NOT EXISTS fkload.journal",
        "SELECT n.nspowner",
    );
    let run = run_failing(&s, &format!("{n}:lock-timeout"));
    assert!(
        run.stderr.contains(&format!("failpoint {n}: failing")),
        "{}",
        run.stderr
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert_eq!(journal_state(&s.db), None, "an empty journal stayed");
    assert_eq!(state(&s.db), before);
}
