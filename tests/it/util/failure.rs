//! Failure points, enumerated as crash points are (see `crash.rs`). A
//! `failpoints` build of fkload makes its Nth statement fail when
//! `FKLOAD_FAILPOINT=N:FAULT` is set (see `src/db.rs`): the server raises a
//! lock timeout or a serialization failure in its place, or ends the session
//! (`disconnect`), and fkload goes on handling the error. For each scenario,
//! path and fault, every N is tried until a run gets through; after each:
//! - a command that reports failure (with a documented exit code, never a
//!   panic) has left the database exactly as it was, or, for a parallel load,
//!   `repair`, with a journal from which `--resume` finishes the load and
//!   `repair` gives back exactly the database of before;
//! - a command that reports success has left exactly what a clean run
//!   leaves, and it stays so through every later command: `repair`,
//!   `--resume`, `check`, `-l` and a next load;
//! - from the first journal a failure left (every one with
//!   `FKLOAD_TEST_CRASH=all`), `repair` and `--resume` are killed at every
//!   statement of theirs, as after a crash.
//!
//! "Exactly" is `crash::state`: keys, indexes, rows, and no journal.

use std::path::Path;

use crate::util::TestDb;
use crate::util::crash::{
    self, Case, clean_load, fkload_env, fkload_plain, journal_state, state, without_journal,
};
use crate::util::support::{Run, Scenario};

/// The failures each statement is made to meet.
pub const FAULTS: [&str; 3] = ["lock-timeout", "serialization", "disconnect"];

/// The faults enumerated on a path. Every one on the one-transaction load and
/// `check`; on the parallel load and its recovery, the two that lead fkload
/// down different paths (the session survives the error, or it is gone),
/// unless `FKLOAD_TEST_CRASH=all`: a serialization failure takes the path
/// of a lock timeout there (nothing in fkload reads SQLSTATE 40001), less the
/// naming of lock holders, and enumerating it too would add half again to the
/// longest tests of the suite.
fn faults(parallel: bool) -> &'static [&'static str] {
    if parallel && !std::env::var("FKLOAD_TEST_CRASH").is_ok_and(|v| v == "all") {
        &["lock-timeout", "disconnect"]
    } else {
        &FAULTS
    }
}

/// What the enumeration covered, for the report: per fault, the failure
/// points, how many runs reported success, and how many left a journal.
#[derive(Default, Debug)]
pub struct Tally {
    pub points: u64,
    pub succeeded: u64,
    pub journals: u64,
    /// Crash points of `repair` and `--resume` killed from those journals.
    pub recovery_kills: u64,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} failure points, {} reported success, {} left a journal, {} recovery kills",
            self.points, self.succeeded, self.journals, self.recovery_kills
        )
    }
}

/// Runs `fkload -d <db> args [dir]` with its statement `n` failing with
/// `fault`; `None` when it sent fewer statements (it ran to its end).
fn run_failing(db: &TestDb, args: &[&str], dir: Option<&Path>, n: u64, fault: &str) -> Option<Run> {
    let point = format!("{n}:{fault}");
    let run =
        crate::util::support::output(fkload_env(db, args, dir, &[("FKLOAD_FAILPOINT", &point)]));
    run.stderr
        .contains(&format!("failpoint {n}: failing"))
        .then_some(run)
}

/// A failure is reported with a documented exit code: 1, 2 or 3 (never a
/// panic's 101 or a signal).
fn reported(run: &Run, what: &str) {
    assert!(
        matches!(run.code, 1..=3),
        "{what}: exit {}, not a documented failure:\n{}",
        run.code,
        run.stderr
    );
    assert!(
        !run.stderr.contains("panicked"),
        "{what}: fkload panicked:\n{}",
        run.stderr
    );
}

/// After a run that reported success: every later command leaves the loaded
/// database exactly so (and the first of them clears a journal it left).
fn stays(db: &TestDb, dir: &Path, after: &[String], what: &str) {
    let run = fkload_plain(db, &["repair"], None);
    assert_eq!(run.code, 0, "{what}, then repair: {}", run.stderr);
    assert_eq!(state(db), after, "{what}, then repair");
    assert_eq!(
        journal_state(db),
        None,
        "{what}, then repair: a journal stayed"
    );
    let run = fkload_plain(db, &["-j", "2", "--resume"], Some(dir));
    assert_eq!(run.code, 1, "{what}, then --resume: {}", run.stderr);
    assert_eq!(state(db), after, "{what}, then --resume");
    let run = fkload_plain(db, &["check"], Some(dir));
    assert_eq!(state(db), after, "{what}, then check: {}", run.stderr);
    let run = fkload_plain(db, &["-l"], Some(dir));
    assert_eq!(run.code, 0, "{what}, then -l: {}", run.stderr);
    assert_eq!(state(db), after, "{what}, then -l");
    // The same files again: every table has a primary key, so the next load
    // fails on the first row and rolls back, and nothing else changes.
    let run = fkload_plain(db, &[], Some(dir));
    assert_eq!(run.code, 3, "{what}, then a next load: {}", run.stderr);
    assert_eq!(state(db), after, "{what}, then a next load");
}

/// A one-transaction load (or any `args` that run in one transaction) with
/// each statement failing in turn, with each fault.
pub fn one_transaction(case: &Case, args: &[&str]) -> Tally {
    let s = Scenario::new(case.name, case.schema, case.files);
    let before = state(&s.db);
    let after = clean_load(&s, args);
    let dir = s.path();
    let mut tally = Tally::default();
    for &fault in faults(false) {
        let mut work = s.db.copy("one_tx_fail");
        for n in 1.. {
            let what = format!("{} {args:?}, statement {n} failing ({fault})", case.name);
            let Some(run) = run_failing(&work, args, Some(dir), n, fault) else {
                assert_eq!(state(&work), after, "{what}: past the last statement");
                break;
            };
            tally.points += 1;
            if run.code == 0 {
                tally.succeeded += 1;
                assert_eq!(state(&work), after, "{what}: reported success");
                stays(&work, dir, &after, &what);
                work = s.db.copy("one_tx_fail");
            } else {
                reported(&run, &what);
                assert_eq!(state(&work), before, "{what}: reported failure");
            }
        }
    }
    tally
}

/// A parallel load with each statement failing in turn, with each fault.
///
/// Recovery is killed from the first journal a failure left when `kills`
/// (from every distinct one when `every_state`).
pub fn parallel(case: &Case, args: &[&str], every_state: bool, kills: bool) -> Tally {
    let s = Scenario::new(case.name, case.schema, case.files);
    let before = state(&s.db);
    let after = clean_load(&s, args);
    let dir = s.path();
    let resume = ["-j", "2", "--resume"];
    let mut tally = Tally::default();
    let mut seen = std::collections::HashSet::new();
    for &fault in faults(true) {
        let mut work = s.db.copy("parallel_fail");
        for n in 1.. {
            let what = format!("{} {args:?}, statement {n} failing ({fault})", case.name);
            let Some(run) = run_failing(&work, args, Some(dir), n, fault) else {
                assert_eq!(state(&work), after, "{what}: past the last statement");
                break;
            };
            tally.points += 1;
            crash::wait_for_disconnect(&work);
            let now = state(&work);
            let journal = journal_state(&work);
            if run.code == 0 {
                tally.succeeded += 1;
                assert_eq!(without_journal(&now), after, "{what}: reported success");
                if let Some(j) = &journal {
                    assert!(
                        crash::finished(j),
                        "{what}: reported success, the journal says unfinished: {j}"
                    );
                }
                stays(&work, dir, &after, &what);
                work = s.db.copy("parallel_fail");
                continue;
            }
            reported(&run, &what);
            let Some(journal) = journal else {
                assert_eq!(now, before, "{what}: reported failure, and no journal");
                continue;
            };
            if journal.is_empty() {
                // A run that recorded nothing, on a connection it lost before
                // it could remove the journal: nothing to undo, and the next
                // command removes it.
                assert_eq!(
                    without_journal(&now),
                    before,
                    "{what}: reported failure, empty journal"
                );
                let r = fkload_plain(&work, &["repair"], None);
                assert_eq!(r.code, 0, "{what}, then repair: {}", r.stderr);
                assert_eq!(journal_state(&work), None, "{what}, then repair");
                continue;
            }
            // Failed, and could not undo: resumable, and repairable.
            tally.journals += 1;
            assert!(
                !crash::finished(&journal),
                "{what}: reported failure, yet the journal says it finished"
            );
            assert!(
                run.stderr.contains("repair"),
                "{what}: the error does not say how to repair:\n{}",
                run.stderr
            );
            let crashed = work.copy("failed");
            let resumed = crashed.copy("resumed");
            let r = fkload_plain(&resumed, &resume, Some(dir));
            assert_eq!(r.code, 0, "{what}, then --resume: {}", r.stderr);
            assert_eq!(state(&resumed), after, "{what}, then --resume");
            if seen.insert(journal.clone()) && (every_state || (kills && tally.recovery_kills == 0))
            {
                let label = format!("{what} [{journal}]");
                tally.recovery_kills +=
                    crash::recovery(&crashed, &["repair"], None, &before, &before, &label);
                tally.recovery_kills +=
                    crash::recovery(&crashed, &resume, Some(dir), &before, &after, &label);
            }
            let r = fkload_plain(&work, &["repair"], None);
            assert_eq!(r.code, 0, "{what}, then repair: {}", r.stderr);
            assert_eq!(state(&work), before, "{what}, then repair");
        }
    }
    tally
}

/// The state a parallel load with `args` leaves when killed where recovery
/// has the most to do (rows committed and keys or indexes dropped; rows
/// committed for a run that drops nothing), on a copy of the scenario's
/// database.
fn interrupted(s: &Scenario, args: &[&str]) -> TestDb {
    for n in 1.. {
        let work = s.db.copy("interrupted");
        match crash::run_at(&work, args, Some(s.path()), n) {
            crash::Outcome::Finished(_) => break,
            crash::Outcome::Killed => {}
        }
        let Some(journal) = journal_state(&work) else {
            continue;
        };
        let drops = journal.contains("key ") || journal.contains("index ");
        if journal.contains(":loaded") && (journal.contains(":dropped") || !drops) {
            return work;
        }
    }
    panic!("{args:?}: no kill left rows committed with keys dropped");
}

/// `repair` and `--resume` of an interrupted parallel load with `args`, with
/// each of their statements failing in turn, with each fault. Returns the
/// failure points of each.
pub fn recovery(case: &Case, args: &[&str]) -> (u64, u64) {
    let s = Scenario::new(case.name, case.schema, case.files);
    let before = state(&s.db);
    let after = clean_load(&s, args);
    let dir = s.path();
    let crashed = interrupted(&s, args);
    let mut points = (0, 0);
    for &fault in faults(true) {
        for (path, recovery_args, dir, done) in [
            ("repair", &["repair"][..], None, &before),
            ("--resume", &["-j", "2", "--resume"][..], Some(dir), &after),
        ] {
            for m in 1.. {
                let what = format!(
                    "{} {args:?} killed, then {path} failing at {m} ({fault})",
                    case.name
                );
                let x = crashed.copy("recovery_fail");
                let Some(run) = run_failing(&x, recovery_args, dir, m, fault) else {
                    assert_eq!(state(&x), *done, "{what}: past the last statement");
                    break;
                };
                if path == "repair" {
                    points.0 += 1;
                } else {
                    points.1 += 1;
                }
                crash::wait_for_disconnect(&x);
                let journal = journal_state(&x);
                if run.code == 0 {
                    assert_eq!(
                        without_journal(&state(&x)),
                        *done,
                        "{what}: reported success"
                    );
                    assert!(
                        journal.as_deref().is_none_or(crash::finished),
                        "{what}: reported success, the journal says unfinished"
                    );
                    continue;
                }
                reported(&run, &what);
                match journal {
                    // The failure is undone, or left for repair.
                    None => assert_eq!(state(&x), before, "{what}: no journal"),
                    Some(j) => {
                        assert!(!crash::finished(&j), "{what}: failed, yet finished: {j}");
                        let r = fkload_plain(&x, &["repair"], None);
                        assert_eq!(r.code, 0, "{what}, then repair: {}", r.stderr);
                        assert_eq!(state(&x), before, "{what}, then repair");
                    }
                }
            }
        }
    }
    points
}

/// `check` with each statement failing in turn, with each fault, on the
/// scenario's files and on the same files with `orphan` (a file and a row)
/// added: it never changes the database, and never says the data would load
/// when it would not. On the clean files a failure may still end in "would
/// load" (a statement that only makes the check faster, such as the TRUNCATE
/// that lets it search a table in place, falls back), which is then the
/// truth; with the orphan it never may, whatever failed. Returns the failure
/// points.
pub fn check(case: &Case, orphan: (&str, &str)) -> u64 {
    let clean = Scenario::new(case.name, case.schema, case.files);
    let files: Vec<(&str, String)> = case
        .files
        .iter()
        .map(|&(name, body)| {
            let body = if name == orphan.0 {
                format!("{body}{}\n", orphan.1)
            } else {
                body.to_string()
            };
            (name, body)
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, b)| (*n, b.as_str())).collect();
    let bad = Scenario::new(&format!("{}_orphan", case.name), case.schema, &refs);
    let run = fkload_plain(&bad.db, &["check"], Some(bad.path()));
    assert_eq!(
        run.code, 1,
        "{}: the orphan is not found: {}",
        case.name, run.stderr
    );
    let mut points = 0;
    for (s, loads) in [(&clean, true), (&bad, false)] {
        let before = state(&s.db);
        for &fault in faults(false) {
            for n in 1.. {
                let what = format!(
                    "{} check{}, statement {n} failing ({fault})",
                    case.name,
                    if loads { "" } else { " with an orphan" }
                );
                let Some(run) = run_failing(&s.db, &["check"], Some(s.path()), n, fault) else {
                    break;
                };
                points += 1;
                crash::wait_for_disconnect(&s.db);
                assert_eq!(state(&s.db), before, "{what}: the database changed");
                let said = run.stdout.contains("the data would load");
                assert_eq!(
                    said,
                    run.code == 0,
                    "{what}: exit {}:\n{}",
                    run.code,
                    run.stdout
                );
                if run.code != 0 {
                    reported(&run, &what);
                }
                assert!(
                    loads || !said,
                    "{what}: said the data would load over an orphan:\n{}",
                    run.stderr
                );
            }
        }
    }
    points
}
