//! An interrupted parallel load is visible everywhere (issue 21): after a
//! `kill -9` of a `-j` load, `-l`, `check`, `graph` and the JSON report name
//! the unfinished run, what it left and what to do, and never show the
//! journal as user data; a finished run's leftover journal is not taken for
//! an unfinished one.

use std::path::Path;

use serde_json::Value;

use crate::util::TestDb;
use crate::util::crash::{self, Outcome, available, journal_state, run_at, statements};
use crate::util::support::{Run, Scenario, command, fkload, output, write};

/// p <- c: a revalidating `-j 2` load drops c's key before the data.
const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE c (id int PRIMARY KEY, p int NOT NULL CONSTRAINT c_p_fkey REFERENCES p);";

const ARGS: [&str; 4] = ["-j", "2", "--strategy", "revalidate"];

fn scenario(label: &str) -> Scenario {
    let mut p = String::from("id\n");
    let mut c = String::from("id,p\n");
    for i in 1..=50 {
        p.push_str(&format!("{i}\n"));
        c.push_str(&format!("{i},{}\n", (i % 10) + 1));
    }
    Scenario::new(label, SCHEMA, &[("p.csv", &p), ("c.csv", &c)])
}

/// A copy of the scenario's database where a `-j 2` load was killed after it
/// had committed a table and while its key was dropped (each kill point is
/// tried on a fresh copy, from a third of the way in).
fn killed_after_a_commit(s: &Scenario) -> TestDb {
    let total = statements(s, &ARGS);
    for n in (total / 3).max(1)..=total {
        let copy = s.db.copy(&format!("kill{n}"));
        if !matches!(run_at(&copy, &ARGS, Some(s.path()), n), Outcome::Killed) {
            break;
        }
        let journal = journal_state(&copy).unwrap_or_default();
        if journal.contains("table p.csv:loaded") && journal.contains("key c_p_fkey:dropped") {
            return copy;
        }
    }
    panic!("no statement of {total} left p loaded with c_p_fkey dropped");
}

fn without_dir(db: &TestDb, args: &[&str]) -> Run {
    output(
        command()
            .arg("-d")
            .arg(&db.url)
            .args(args)
            .output()
            .expect("run fkload"),
    )
}

/// `-l --report` on `dir`: the run and the report, which is never empty.
fn list_with_report(db: &TestDb, dir: &Path) -> (Run, Value) {
    let file = dir.join("report.json.out");
    let run = fkload(db, dir, &["-l", "--report", file.to_str().expect("utf-8")]);
    let report =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("a report")).expect("JSON");
    std::fs::remove_file(&file).expect("remove the report");
    (run, report)
}

#[test]
fn list_check_graph_and_report_name_an_interrupted_parallel_load() {
    if !available("list_check_graph_and_report_name_an_interrupted_parallel_load") {
        return;
    }
    let s = scenario("unfinished_seen");
    let db = killed_after_a_commit(&s);
    let run = db.query_strings("SELECT DISTINCT run FROM fkload.journal")[0].clone();
    let dir = s.path();

    // -l: the run first, what it left, what to do; its key listed as dropped.
    let (list, report) = list_with_report(&db, dir);
    let list = list.ok();
    assert!(
        list.stdout.starts_with(&format!(
            "WARNING:  an earlier parallel load (run {run}) did not finish"
        )),
        "{}",
        list.stdout
    );
    for needle in [
        "committed rows into public.p (p.csv)",
        "fkload repair",
        "--resume",
        &format!("key \"c_p_fkey\" on public.c dropped by the unfinished run {run}"),
    ] {
        assert!(
            list.stdout.contains(needle),
            "-l lacks {needle:?}:\n{}",
            list.stdout
        );
    }
    assert!(
        !list.stdout.contains("dropped keys: none"),
        "-l says no key is dropped:\n{}",
        list.stdout
    );
    // The report names the run and never the journal.
    assert_eq!(
        report["unfinished_runs"][0]["run"],
        run.as_str(),
        "{report:#}"
    );
    assert_eq!(
        report["unfinished_runs"][0]["set_aside"][0]["name"], "c_p_fkey",
        "{report:#}"
    );
    assert!(!report.to_string().contains("\"journal\""), "{report:#}");

    // check: refuses, exit 1, names the run and what to do.
    let check = fkload(&db, dir, &["check"]).fails(1);
    assert!(
        check.stderr.contains(&format!("run {run}) did not finish"))
            && check
                .stderr
                .contains("key \"c_p_fkey\" on public.c dropped")
            && check.stderr.contains("fkload repair"),
        "{}",
        check.stderr
    );
    assert!(!check.stdout.contains("would load"), "{}", check.stdout);
    // The whole layout, as src/cli's error snapshot had it for a run made up
    // in the test (a run's parts are not public, so it is checked here).
    assert!(
        check.stderr.contains(&format!(
            "fkload: an earlier parallel load (run {run}) did not finish: the database holds part of its load, so a check would not say what a load finds\nDETAIL:  It committed rows into "
        )) && check.stderr.contains(
            " dropped. fkload.journal lists them, with the SQL that puts each key and index back.\nHINT:  Run fkload repair to undo it (a load without --resume does that first), or fkload -j N --resume DIR with its directory to finish it; then check again.\n"
        ),
        "{}",
        check.stderr
    );

    // graph --all: warns, and does not draw the journal.
    let graph = without_dir(&db, &["graph", "--all"]).ok();
    assert!(!graph.stdout.contains("journal"), "{}", graph.stdout);
    assert!(
        graph.stderr.contains(&format!("run {run}) did not finish")),
        "{}",
        graph.stderr
    );
    // graph DIR warns too.
    let graph = fkload(&db, dir, &["graph"]).ok();
    assert!(graph.stderr.contains("did not finish"), "{}", graph.stderr);

    // No file maps to the journal, whatever its name.
    for name in ["fkload.journal.csv", "fkload/journal.csv"] {
        let other = tempfile::tempdir().expect("temp dir");
        write(other.path(), name, b"run\nx\n");
        fkload(&db, other.path(), &["-l"])
            .fails(1)
            .stderr_has("no table matches this file name");
    }

    // After repair, every command is back to normal.
    without_dir(&db, &["repair"]).ok();
    let (list, report) = list_with_report(&db, dir);
    let list = list.ok();
    assert!(!list.stdout.contains("did not finish"), "{}", list.stdout);
    assert_eq!(
        report["unfinished_runs"],
        serde_json::json!([]),
        "{report:#}"
    );
    fkload(&db, dir, &["check"])
        .ok()
        .stdout_has("the data would load");
    let graph = without_dir(&db, &["graph", "--all"]).ok();
    assert!(graph.stderr.is_empty(), "{}", graph.stderr);
    assert!(graph.stdout.contains("c_p_fkey"), "{}", graph.stdout);
}

#[test]
fn a_finished_runs_leftover_journal_is_not_reported_as_unfinished() {
    if !available("a_finished_runs_leftover_journal_is_not_reported_as_unfinished") {
        return;
    }
    let s = scenario("unfinished_finished");
    // Killed as it removes its journal: the run had recorded that it
    // finished, and its entries stay.
    let trace = tempfile::NamedTempFile::new().expect("trace file");
    let copy = s.db.copy("trace");
    let traced = output(crash::fkload_env(
        &copy,
        &ARGS,
        Some(s.path()),
        &[("FKLOAD_FAILPOINT_TRACE", &trace.path().to_string_lossy())],
    ));
    assert_eq!(traced.code, 0, "{}", traced.stderr);
    let text = std::fs::read_to_string(trace.path()).expect("read trace");
    let n: u64 = text
        .lines()
        .find(|l| l.contains("DELETE FROM fkload.journal"))
        .and_then(|l| l.split('\t').next()?.parse().ok())
        .expect("the run removes its journal");
    assert!(matches!(
        run_at(&s.db, &ARGS, Some(s.path()), n),
        Outcome::Killed
    ));
    let journal = journal_state(&s.db).expect("the journal stays");
    assert!(crash::finished(&journal), "{journal}");

    let list = s.run(&["-l"]).ok();
    assert!(!list.stdout.contains("did not finish"), "{}", list.stdout);
    assert!(list.stdout.contains("dropped keys:"), "{}", list.stdout);
    let graph = without_dir(&s.db, &["graph", "--all"]).ok();
    assert!(graph.stderr.is_empty(), "{}", graph.stderr);
    assert!(!graph.stdout.contains("journal"), "{}", graph.stdout);
    // A check of new rows: the loaded ones stay, and it would load.
    let next = tempfile::tempdir().expect("temp dir");
    write(next.path(), "p.csv", b"id\n1000\n");
    fkload(&s.db, next.path(), &["check"])
        .ok()
        .stdout_has("the data would load");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 50);
}
