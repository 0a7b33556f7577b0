//! Crash points, enumerated rather than sampled. A `failpoints` build of
//! fkload kills itself (SIGKILL) just before its Nth statement reaches the
//! server when `FKLOAD_FAILPOINT=N` is set (see `src/db.rs`). For each
//! scenario and path, every N is tried, from the first statement until a run
//! gets through; after each kill:
//! - a one-transaction load has left the database exactly as it was;
//! - after a parallel load, `repair` gives back exactly the catalog and rows
//!   of before, and `--resume` (on a copy of the same crash state) exactly the
//!   catalog of before with exactly the files' rows;
//! - from each distinct journal state a kill left, `repair` and `--resume`
//!   are themselves killed at every one of their statements, and a second
//!   `repair` must still give back exactly the state of before.
//!
//! "Exactly" covers every key (definition, validity, deferrability,
//! enforcement, comment, each copy on a partition with its name), every
//! index (definition, tablespace, constraint, comments, CLUSTER mark) and
//! every table's rows (count and checksum), and that no journal is left.
//! Sequences are left out: `setval` and `nextval` are not transactional.
//!
//! The numbers of crash points are printed per scenario and path (run with
//! `--nocapture`, or read the closing note).

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::util::TestDb;
use crate::util::support::{Run, command, output, skip};

/// Whether this build can crash on demand; says why not when it cannot.
pub fn available(test: &str) -> bool {
    if cfg!(feature = "failpoints") {
        return true;
    }
    skip(
        test,
        "fkload was built without crash points: run cargo test --features failpoints",
    );
    false
}

/// Whether the enumeration runs here: crash points are built in, and
/// `FKLOAD_TEST_CRASH` is not `none` (CI's PostgreSQL 16 leg, whose paths are
/// 15's).
pub fn enumerate(test: &str) -> bool {
    if std::env::var("FKLOAD_TEST_CRASH").is_ok_and(|v| v == "none") {
        skip(test, "FKLOAD_TEST_CRASH=none");
        return false;
    }
    available(test)
}

/// How a run with a crash point ended.
pub enum Outcome {
    /// Killed at the crash point.
    Killed,
    /// Got through: there were fewer statements than the crash point.
    Finished(Run),
}

/// Runs `fkload -d <db> args [dir]` with `env` set.
///
/// Without TLS: the enumerations are about statements, not transports, and a
/// TLS attempt (refused by the test server) costs a run more CPU than its
/// statements do (the connection tests cover TLS).
pub fn fkload_env(db: &TestDb, args: &[&str], dir: Option<&Path>, env: &[(&str, &str)]) -> Output {
    let mut c = command();
    c.env("PGSSLMODE", "disable");
    c.arg("-d").arg(&db.url).args(args);
    if let Some(dir) = dir {
        c.arg(dir);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run fkload")
}

/// Runs `fkload -d <db> args [dir]`, killed before statement `n`.
pub fn run_at(db: &TestDb, args: &[&str], dir: Option<&Path>, n: u64) -> Outcome {
    let out = fkload_env(db, args, dir, &[("FKLOAD_FAILPOINT", &n.to_string())]);
    if out.status.signal() == Some(SIGKILL) {
        wait_for_disconnect(db);
        Outcome::Killed
    } else {
        Outcome::Finished(output(out))
    }
}

const SIGKILL: i32 = 9;

/// Runs fkload with `args` on the scenario, killed at statement `n`; true
/// when it was killed.
pub fn run_killed_at(s: &crate::util::support::Scenario, args: &[&str], n: u64) -> bool {
    matches!(run_at(&s.db, args, Some(s.path()), n), Outcome::Killed)
}

/// Kills a run of fkload with `args` on the scenario at the first statement,
/// from a third of the way in, that leaves an unfinished run in the journal
/// (rows committed or keys dropped), and returns that statement's number.
/// Kills that leave nothing to finish change nothing, so the next try starts
/// from the same state.
pub fn interrupt(s: &crate::util::support::Scenario, args: &[&str]) -> u64 {
    let total = statements(s, args);
    for n in (total / 3).max(1)..=total {
        assert!(
            run_killed_at(s, args, n),
            "{args:?}: not killed at {n} of {total}"
        );
        let journal = journal_state(&s.db).unwrap_or_default();
        assert!(
            !finished(&journal),
            "{args:?}: killed at {n}, the run had finished before leaving anything to finish"
        );
        if journal.contains(":loaded") || journal.contains(":dropped") {
            return n;
        }
        assert!(
            !journal.contains(':'),
            "{args:?} killed at {n}: a journal with nothing to finish: {journal}"
        );
    }
    panic!("{args:?}: no statement of {total} left an unfinished run");
}

/// How many statements a run of fkload with `args` sends, counted on a copy
/// of the scenario's database (the run completes there).
pub fn statements(s: &crate::util::support::Scenario, args: &[&str]) -> u64 {
    let copy = s.db.copy("count");
    let trace = tempfile::NamedTempFile::new().expect("trace file");
    let path = trace.path().to_string_lossy().into_owned();
    let run = output(fkload_env(
        &copy,
        args,
        Some(s.path()),
        &[("FKLOAD_FAILPOINT_TRACE", &path)],
    ));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(trace.path()).expect("read trace");
    let n = u64::try_from(text.lines().count()).expect("count");
    // No statement traced would enumerate nothing and pass: a binary built
    // without the failpoints feature does that.
    assert!(
        n > 0,
        "{args:?}: no statement traced; is fkload built with --features failpoints?"
    );
    n
}

/// Runs fkload without a crash point.
pub fn fkload_plain(db: &TestDb, args: &[&str], dir: Option<&Path>) -> Run {
    output(fkload_env(db, args, dir, &[]))
}

/// Waits (10 s at most) until the server has seen a killed fkload's
/// connections close and rolled their transactions back.
pub fn wait_for_disconnect(db: &TestDb) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while db.query_i64(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'fkload'",
        db.name
    )) > 0
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Everything a load, a repair or a resume must give back exactly: keys,
/// indexes, the rows of every table, and no journal (which would show as a
/// table). Read over one connection.
pub fn state(db: &TestDb) -> Vec<String> {
    let mut client = db.client();
    let mut column = |sql: &str| -> Vec<String> {
        client
            .simple_query(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(r) => {
                    Some(r.get(0).unwrap_or("NULL").to_string())
                }
                _ => None,
            })
            .collect()
    };
    let mut out = column(
        "SELECT concat_ws(' | ', 'key', c.conrelid::regclass::text, c.conname,
                          pg_get_constraintdef(c.oid), c.convalidated, c.condeferrable,
                          c.condeferred, coalesce(to_jsonb(c) ->> 'conenforced', 'true'),
                          c.conparentid <> 0,
                          coalesce(obj_description(c.oid, 'pg_constraint'), '-'))
           FROM pg_constraint c
          WHERE c.contype = 'f' ORDER BY 1",
    );
    out.extend(column(
        "SELECT concat_ws(' | ', 'index', n.nspname, ic.relname, pg_get_indexdef(i.indexrelid),
                          coalesce(ts.spcname, '-'), coalesce(c.conname, '-'),
                          coalesce(pg_get_constraintdef(c.oid), '-'),
                          coalesce(obj_description(c.oid, 'pg_constraint'), '-'),
                          coalesce(obj_description(i.indexrelid, 'pg_class'), '-'),
                          i.indisclustered, i.indisreplident, i.indisvalid)
           FROM pg_index i
           JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = ic.relnamespace
           LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                                    AND c.contype IN ('p', 'u', 'x')
           LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
          ORDER BY 1",
    ));
    let tables = column(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg\\_%' ORDER BY 1",
    );
    for t in tables {
        if t.starts_with("fkload.") {
            // The journal's run ids and times differ from run to run: its
            // entries are compared through `journal_state`.
            out.extend(column(&format!("SELECT '{t} ' || count(*) FROM {t}")));
            continue;
        }
        out.extend(column(&format!(
            "SELECT '{t} ' || count(*) || ' ' || coalesce(md5(string_agg(r::text, E'\\n' ORDER BY r::text)), '-')
               FROM ONLY {t} r"
        )));
    }
    out
}

/// What a crash left in the journal: each entry's kind, name and state, in
/// order;
/// `None` when there is no journal.
pub fn journal_state(db: &TestDb) -> Option<String> {
    if db.query_strings("SELECT to_regclass('fkload.journal') IS NULL")[0] == "t" {
        return None;
    }
    Some(
        db.query_strings(
            "SELECT coalesce(string_agg(kind || ' ' || name || ':' || state, ',' ORDER BY seq), '')
               FROM fkload.journal",
        )
        .concat(),
    )
}

/// A state (see [`state`]) without the journal's own lines: what a user's
/// tables, keys and indexes are.
pub fn without_journal(state: &[String]) -> Vec<String> {
    state
        .iter()
        .filter(|l| !l.starts_with("index | fkload | ") && !l.starts_with("fkload."))
        .cloned()
        .collect()
}

/// Whether a journal state (see [`journal_state`]) says its run finished:
/// its entries are only left to be cleared.
pub fn finished(journal: &str) -> bool {
    journal.split(',').any(|e| e == "run :finished")
}

/// A scenario: a schema (with any rows that are there before the load) and
/// its files.
pub struct Case {
    pub name: &'static str,
    pub schema: &'static str,
    pub files: &'static [(&'static str, &'static str)],
}

/// What the enumeration covered, for the report.
#[derive(Default, Debug)]
pub struct Count {
    /// Crash points of the load itself.
    pub load: u64,
    /// Distinct journal states the kills left.
    pub journal_states: usize,
    /// Crash points of `repair` and of `--resume`, over those states.
    pub repair: u64,
    pub resume: u64,
}

/// Kills a one-transaction load with `args` at every statement: each kill
/// leaves the database exactly as it was; the run that gets through leaves
/// it exactly as a clean load does. Returns the number of crash points.
pub fn one_transaction(case: &Case, args: &[&str]) -> u64 {
    let s = crate::util::support::Scenario::new(case.name, case.schema, case.files);
    let before = state(&s.db);
    let after = clean_load(&s, args);
    let work = s.db.copy("one_tx");
    for n in 1.. {
        match run_at(&work, args, Some(s.path()), n) {
            Outcome::Killed => assert_eq!(
                state(&work),
                before,
                "{} {args:?}: killed before statement {n}, the database changed",
                case.name
            ),
            Outcome::Finished(run) => {
                assert_eq!(run.code, 0, "{} {args:?}: {}", case.name, run.stderr);
                assert_eq!(state(&work), after, "{} {args:?}", case.name);
                return n - 1;
            }
        }
    }
    unreachable!()
}

/// The state a clean load with `args` leaves (on a copy).
pub fn clean_load(s: &crate::util::support::Scenario, args: &[&str]) -> Vec<String> {
    let copy = s.db.copy("clean");
    let run = fkload_plain(&copy, args, Some(s.path()));
    assert_eq!(run.code, 0, "clean load {args:?}: {}", run.stderr);
    state(&copy)
}

/// Kills a parallel load with `args` at every statement, then checks
/// `repair` and `--resume` from each crash state, and kills those at every
/// statement of theirs from each distinct journal state (all of them when
/// `every_state`, else only the first state that leaves rows committed and
/// keys or indexes dropped, where recovery has the most to do; or rows
/// committed, for a run that drops nothing).
///
/// A kill that leaves no journal came before the run changed anything, or
/// after it finished: the database is then exactly as before or exactly as
/// after a clean load, `repair` has nothing to do and `--resume` refuses (it
/// cannot tell the two apart), changing nothing.
pub fn parallel(case: &Case, args: &[&str], every_state: bool) -> Count {
    let s = crate::util::support::Scenario::new(case.name, case.schema, case.files);
    let before = state(&s.db);
    let after = clean_load(&s, args);
    let dir = Some(s.path());
    let label = |n: u64| format!("{} {args:?} killed before statement {n}", case.name);
    let resume = ["-j", "2", "--resume"];
    let mut count = Count::default();
    // Per journal state: the database it went with. Each state is checked
    // once (repair, resume, crashes of both); a later kill that leaves the
    // same journal must leave the same database (every change a run commits
    // is journaled with it), which is checked instead.
    let mut seen: std::collections::HashMap<String, Vec<String>> = Default::default();
    let mut work = s.db.copy("parallel");
    for n in 1.. {
        match run_at(&work, args, dir, n) {
            Outcome::Finished(run) => {
                assert_eq!(run.code, 0, "{}: {}", label(n), run.stderr);
                assert_eq!(state(&work), after, "{}", label(n));
                count.load = n - 1;
                break;
            }
            Outcome::Killed => {}
        }
        let now = state(&work);
        let Some(journal) = journal_state(&work) else {
            assert!(
                now == before || now == after,
                "{}: no journal, yet neither before nor after:\n{now:#?}",
                label(n)
            );
            let run = fkload_plain(&work, &resume, dir);
            assert_eq!(run.code, 1, "{}, then --resume: {}", label(n), run.stderr);
            assert!(
                run.stderr.contains("no interrupted parallel load"),
                "{}",
                run.stderr
            );
            let run = fkload_plain(&work, &["repair"], None);
            assert_eq!(run.code, 0, "{}, then repair: {}", label(n), run.stderr);
            assert_eq!(state(&work), now, "{}, then --resume and repair", label(n));
            if now == after {
                work = s.db.copy("parallel");
            }
            continue;
        };
        if finished(&journal) {
            // Killed after the run recorded that it finished: nothing may undo
            // it. --resume has nothing to resume; repair only clears the journal.
            assert_eq!(
                without_journal(&now),
                after,
                "{}: the run finished, yet",
                label(n)
            );
            let run = fkload_plain(&work, &resume, dir);
            assert_eq!(run.code, 1, "{}, then --resume: {}", label(n), run.stderr);
            assert_eq!(state(&work), after, "{}, then --resume", label(n));
            let run = fkload_plain(&work, &["repair"], None);
            assert_eq!(run.code, 0, "{}, then repair: {}", label(n), run.stderr);
            assert_eq!(state(&work), after, "{}, then repair", label(n));
            assert_eq!(journal_state(&work), None, "{}, then repair", label(n));
            work = s.db.copy("parallel");
            continue;
        }
        let first = match seen.get(&journal) {
            Some(was) => {
                assert_eq!(
                    &now,
                    was,
                    "{}: same journal [{journal}], another database",
                    label(n)
                );
                false
            }
            None => {
                seen.insert(journal.clone(), now);
                true
            }
        };
        // Where recovery has the most to do: rows committed and keys or
        // indexes dropped; for a run that drops nothing, rows committed.
        let drops = journal.contains("key ") || journal.contains("index ");
        let most_work = journal.contains(":loaded") && (journal.contains(":dropped") || !drops);
        let crashes = first && (every_state || (most_work && count.journal_states == 0));
        let crashed = (first).then(|| work.copy("crashed"));
        if let Some(crashed) = &crashed {
            let resumed = crashed.copy("resumed");
            let run = fkload_plain(&resumed, &resume, dir);
            assert_eq!(run.code, 0, "{}, then --resume: {}", label(n), run.stderr);
            assert_eq!(state(&resumed), after, "{}, then --resume", label(n));
        }
        let run = fkload_plain(&work, &["repair"], None);
        assert_eq!(run.code, 0, "{}, then repair: {}", label(n), run.stderr);
        assert_eq!(state(&work), before, "{}, then repair", label(n));
        if let (true, Some(crashed)) = (crashes, &crashed) {
            count.journal_states += 1;
            let what = format!("{} [{journal}]", label(n));
            count.repair += recovery(crashed, &["repair"], None, &before, &before, &what);
            count.resume += recovery(crashed, &resume, dir, &before, &after, &what);
        }
    }
    count
}

/// Kills a recovery (`repair` or `--resume`) started from `crashed` at every
/// statement of its. A kill that leaves a journal is followed by a second
/// `repair`, which must give back exactly `before`; one that leaves none came
/// after the recovery finished, and the database must be exactly `done` (what
/// that recovery gives). Returns the number of crash points.
pub fn recovery(
    crashed: &TestDb,
    args: &[&str],
    dir: Option<&Path>,
    before: &[String],
    done: &[String],
    what: &str,
) -> u64 {
    for m in 1.. {
        let x = crashed.copy("recovery");
        let then = format!("{what}, then {args:?} killed before statement {m}");
        match run_at(&x, args, dir, m) {
            Outcome::Finished(run) => {
                assert_eq!(run.code, 0, "{what}, then {args:?}: {}", run.stderr);
                assert_eq!(state(&x), done, "{what}, then {args:?}");
                return m - 1;
            }
            Outcome::Killed if journal_state(&x).is_none() => {
                assert_eq!(state(&x), done, "{then}: no journal left");
            }
            Outcome::Killed => {
                // A recovery that finished (a resumed load records it) is kept.
                let expect = if journal_state(&x).is_some_and(|j| finished(&j)) {
                    done
                } else {
                    before
                };
                let run = fkload_plain(&x, &["repair"], None);
                assert_eq!(run.code, 0, "{then}, then repair: {}", run.stderr);
                assert_eq!(state(&x), expect, "{then}, then repair");
            }
        }
    }
    unreachable!()
}
