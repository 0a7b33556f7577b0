//! Parallel loads (`-j N`): files over N connections, one transaction per file.
//!
//! Not atomic while it runs: other sessions see each table as it commits. What
//! it keeps is the end state: either everything is loaded and every key and
//! index is back as it was, or (on any error the run sees) the rows it committed
//! are taken out again (`DELETE` of the rows its loading transaction wrote) and
//! every key and index is back.
//!
//! Order of work:
//! 1. one transaction records every key and index to drop in the journal
//!    ([`crate::run::journal`]), with the statements that restore it and how the
//!    catalog describes it, and drops them;
//! 2. N workers load the files, biggest first; with keys kept, a table starts
//!    once every table its kept keys reference has committed. Each file commits
//!    with its journal entry (and the transaction id that loaded it);
//! 3. the indexes are built and the keys added back (validating), each in its
//!    own transaction with its journal entry, with the DDL of the
//!    one-transaction load ([`crate::run::ddl`]);
//! 4. every key and index of the journal is checked against its description;
//! 5. sequences move past the loaded values; the journal forgets the run.
//!
//! Rows and DDL never share a transaction, so no deferred trigger event is
//! ever pending when a table is altered (see "Pending trigger events" in
//! [`crate::plan`](mod@crate::plan)).
//!
//! Workers report to the caller's observer through a channel: only the calling
//! thread touches it.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use postgres::Client;

use crate::connect::Connector;
use crate::database::db;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::input::reject;
use crate::plan::{KeyAction, Plan, PlannedIndex, PlannedKey, Step};
use crate::rows::bad::{SetAside, Tally};
use crate::rows::edits::FileEdits;
use crate::rows::policy;
use crate::run::ddl::{self, IndexSql, KeySql};
use crate::run::journal::{self, Kind, State};
use crate::run::pipeline::{self, Around};
use crate::run::pool::Pool;
use crate::run::repair;
use crate::run::report::{Report, TableReport};
use crate::run::sequences;
use crate::run::stop::{self, Stop};

/// Files above twice the COPY batch size (128 MiB by default) are cut into
/// parts of that size, each loaded in its own transaction, so that several
/// connections share a big file.
fn part_bytes(plan: &Plan) -> u64 {
    plan.batch_bytes.saturating_mul(2)
}

/// A file, or a part of one, loaded in one transaction.
struct Unit<'a> {
    step: &'a Step,
    part: crate::input::file::Part,
    /// Its name in the journal: the file, with `@offset` for a later part.
    name: String,
}

impl Unit<'_> {
    /// Its bytes, for the biggest-first order.
    fn bytes(&self) -> u64 {
        self.part.end.min(self.step.bytes) - self.part.start
    }
}

/// Cuts big files into parts (where their format can: see
/// [`crate::input::source::DataFile::parts`]), except where rows may
/// reference later rows of the same file while a key checks them at the end
/// of each statement.
fn units(plan: &Plan) -> Result<Vec<Unit<'_>>, Error> {
    let mut out = Vec::new();
    for step in &plan.steps {
        let parts = if step.bytes > part_bytes(plan) && pipeline::batch_size(plan, step).is_some() {
            step.file.parts(part_bytes(plan))?
        } else {
            vec![step.file.whole()]
        };
        for part in parts {
            let name = if part.start == 0 {
                step.file.rel.clone()
            } else {
                format!("{}@{}", step.file.rel, part.start)
            };
            out.push(Unit { step, part, name });
        }
    }
    Ok(out)
}

/// Loads `plan` over its `jobs` connections the connector makes, each file's
/// records edited as `edited` says; `client` is the
/// control connection (journal, drops, restores).
///
/// # Errors
/// As the one-transaction load; after any error the run controls, the
/// database holds the rows and keys it held before. [`ErrorKind::Interrupted`]
/// when an earlier parallel run left keys dropped; [`ErrorKind::NotRestored`]
/// when a key or index did not come back as it was (the journal is then
/// kept).
///
/// [`ErrorKind::Stopped`] when `stop` stopped it: then nothing is undone,
/// and the journal keeps what it did for `--resume` or `repair`.
///
/// [`ErrorKind::Interrupted`]: crate::ErrorKind::Interrupted
/// [`ErrorKind::NotRestored`]: crate::ErrorKind::NotRestored
pub(crate) fn run(
    client: &mut Client,
    connector: &Connector,
    plan: &Plan,
    edited: &FileEdits,
    resume: bool,
    stop: &Stop,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    stop.check()?;
    journal::lock(client)?;
    let result = run_locked(client, connector, plan, edited, resume, stop, observer);
    if result.is_err() {
        journal::tidy(client);
    }
    journal::unlock(client);
    result
}

fn run_locked(
    client: &mut Client,
    connector: &Connector,
    plan: &Plan,
    edited: &FileEdits,
    resume: bool,
    stop: &Stop,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    let started = Instant::now();
    let jobs = plan.jobs;
    let prior = journal::open(client, resume)?;
    let units = units(plan)?;
    // A resumed run continues the interrupted run's journal, so that a resumed
    // run killed in turn is resumed in turn.
    let run = Run::new(prior.as_ref(), plan, units.len());
    let mut report = Report::default();

    // A resumed run does not load again what the interrupted run committed.
    let skip = committed(prior.as_ref(), &units);
    for &u in &skip {
        report.warnings.push(format!(
            "{} was not loaded again: the interrupted run committed it",
            units[u].name
        ));
    }

    // Stopped: nothing is undone; the journal says what the run left.
    let stopped = |client: &mut Client| stop::left(client, connector, &run.id, units.len(), jobs);
    if let Err(e) = drop_all(client, plan, &run) {
        return Err(if stop.is_stopped() {
            stopped(client)
        } else {
            e
        });
    }

    let work = Work {
        connector,
        plan,
        edited,
        run: &run,
        jobs,
        stop,
    };
    // Once the data is final and every key is back, the sequences move past
    // the loaded values and the journal records that the run finished, in one
    // transaction ([`finish`]): once it commits, nothing undoes the run; until
    // it does, the run has not finished, and a failure is undone as any other.
    let outcome = load_all(&work, &units, &skip, observer, &mut report)
        .and_then(|()| restore_all(client, &work, observer, &mut report))
        // What the interrupted run left dropped and this plan could not see.
        .and_then(|()| repair::restore_dropped(client, &run.id))
        .and_then(|()| repair::verify(client, &run.id))
        .and_then(|()| finish(client, plan, &run.id, &mut report));
    if let Err(e) = outcome {
        if stop.is_stopped() {
            return Err(stopped(client));
        }
        after_failure(client, connector, stop, &run.id, e, &mut report)?;
    }
    if let Err(e) = journal::close(client, &run.id) {
        report.warnings.push(format!(
            "the journal fkload.journal was not removed ({e}); it records that this run \
             finished, and the next fkload command that reads it removes it"
        ));
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A run that failed (not stopped) is undone, unless the journal says it
/// finished after all (its last COMMIT's answer lost): then the run stands,
/// with a warning.
///
/// # Errors
/// `e` once the run is undone; [`ErrorKind::Cleanup`] when the undo failed
/// too.
fn after_failure(
    client: &mut Client,
    connector: &Connector,
    stop: &Stop,
    run: &str,
    e: Error,
    report: &mut Report,
) -> Result<(), Error> {
    // A stop from now on lets the undo finish.
    stop.undoing();
    // Every key back in place is dropped again (none may block or cascade
    // the deletes), the rows the run committed (the interrupted run's too:
    // the end state is all or nothing) are taken out, children first, then
    // every key and index is put back, on the control connection (or a new
    // one, when it was lost).
    match undo_after_failure(client, connector, run) {
        Ok(Recovered::Undone) => Err(e),
        Ok(Recovered::Finished) => {
            report.warnings.push(format!(
                "the connection was lost as the load finished ({e}); the journal says \
                 it finished"
            ));
            Ok(())
        }
        Err(c) => Err(Error::new(ErrorKind::Cleanup {
            error: Box::new(e),
            cleanup: Box::new(c),
        })),
    }
}

/// What became of a failed run.
enum Recovered {
    /// Its rows are out, and everything it dropped is back.
    Undone,
    /// It had finished after all: the connection went after the server
    /// committed [`finish`], before its answer came.
    Finished,
}

/// Undoes a failed run on the control connection, or, once that connection
/// is found lost (by the error or by the undo failing on it), on a new one
/// that takes the journal's lock over (the server gives the lost session's
/// lock back once it has ended it; a short wait covers that). There the
/// journal is asked first whether the run finished after all. Should another
/// run take the lock first, the journal stays for it, and the error says so.
fn undo_after_failure(
    client: &mut Client,
    connector: &Connector,
    run: &str,
) -> Result<Recovered, Error> {
    if !client.is_closed() {
        match repair::undo(client, run, false) {
            Ok(()) => return Ok(Recovered::Undone),
            Err(c) if !(c.is_connection() || client.is_closed()) => return Err(c),
            // The control connection is gone: go on on a new one.
            Err(_) => {}
        }
    }
    let mut fresh = connector.connect()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match journal::lock(&mut fresh) {
            Ok(()) => break,
            Err(e) if matches!(e.kind(), ErrorKind::LoadRunning) => {
                if std::time::Instant::now() > deadline {
                    return Err(e);
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
    let result = match journal::finished(&mut fresh, run) {
        Ok(true) => Ok(Recovered::Finished),
        Ok(false) => repair::undo(&mut fresh, run, false).map(|()| Recovered::Undone),
        Err(e) => Err(e),
    };
    journal::unlock(&mut fresh);
    result
}

/// The last change of a run: the sequences move past the loaded values, and
/// the journal records that the run finished, in one transaction. (`setval` is
/// not transactional: a failed commit can leave a sequence advanced, which
/// only skips values.)
fn finish(client: &mut Client, plan: &Plan, run: &str, report: &mut Report) -> Result<(), Error> {
    let during = "finishing the load";
    let mut tx = db::begin(client, during)?;
    sequences::advance(&mut tx, plan, report)?;
    journal::finish(&mut tx, run)?;
    db::commit(tx, during)
}

/// The units an interrupted run committed (by table and name in its journal).
fn committed(prior: Option<&journal::Unfinished>, units: &[Unit<'_>]) -> HashSet<usize> {
    let Some(p) = prior else {
        return HashSet::new();
    };
    (0..units.len())
        .filter(|&u| {
            let target = units[u].step.table.name.to_string();
            p.loaded
                .iter()
                .any(|(_, t, n)| *t == target && *n == units[u].name)
        })
        .collect()
}

/// What the workers of a run share.
struct Work<'a> {
    connector: &'a Connector,
    plan: &'a Plan,
    /// How each file's records are sent.
    edited: &'a FileEdits,
    run: &'a Run,
    jobs: usize,
    stop: &'a Stop,
}

/// `<seconds>-<pid>`: unique enough for runs against one database.
fn run_id() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format!("{secs}-{}", std::process::id())
}

/// A run's id in the journal, and the journal entry of each key, index and
/// unit of the plan. A resumed run continues the journal of the run it
/// finishes: a key or index that run journaled keeps its entry (one entry per
/// object), everything else is numbered after that run's last entry.
struct Run {
    id: String,
    /// Per plan key: its entry, and whether the interrupted run made it.
    keys: Vec<(i32, bool)>,
    /// Per plan index: likewise.
    indexes: Vec<(i32, bool)>,
    /// Per unit: its entry.
    units: Vec<i32>,
}

impl Run {
    fn new(prior: Option<&journal::Unfinished>, plan: &Plan, units: usize) -> Run {
        let mut next = prior.map_or(0, |p| p.max_seq);
        let mut seq = || {
            next = next.saturating_add(1);
            next
        };
        let reuse = |is_key: bool, target: &str, name: &str| {
            prior
                .and_then(|p| {
                    p.objects
                        .iter()
                        .find(|e| e.kind.is_key() == is_key && e.target == target && e.name == name)
                })
                .map(|e| (e.seq, true))
        };
        let keys = plan
            .keys
            .iter()
            .map(|k| reuse(true, &k.table.to_string(), &k.key.name))
            .collect::<Vec<_>>();
        let indexes = plan
            .indexes
            .iter()
            .map(|i| reuse(false, &i.table.to_string(), &i.index.name))
            .collect::<Vec<_>>();
        Run {
            id: prior.map_or_else(run_id, |p| p.run.clone()),
            keys: keys
                .into_iter()
                .map(|r| r.unwrap_or_else(|| (seq(), false)))
                .collect(),
            indexes: indexes
                .into_iter()
                .map(|r| r.unwrap_or_else(|| (seq(), false)))
                .collect(),
            units: (0..units).map(|_| seq()).collect(),
        }
    }

    fn key_seq(&self, ki: usize) -> i32 {
        self.keys[ki].0
    }
    fn index_seq(&self, ii: usize) -> i32 {
        self.indexes[ii].0
    }
    fn unit_seq(&self, u: usize) -> i32 {
        self.units[u]
    }
}

/// One transaction: journal every key and index (with the statements that put
/// it back, and how the catalog describes it now), then drop them.
fn drop_all(client: &mut Client, plan: &Plan, run: &Run) -> Result<(), Error> {
    let during = "dropping keys and indexes";
    let mut tx = db::begin(client, during)?;
    let objects = ddl::set_aside(plan);
    let expect = crate::database::catalog::describe(&mut tx, &ddl::as_described(&objects))?;
    let mut expect = expect.into_iter();
    for (ki, k) in plan.keys.iter().enumerate() {
        if k.action.sets_aside() {
            let statements = KeySql::new(k).statements();
            let kind = if k.action == KeyAction::Unenforce {
                Kind::Unenforced
            } else {
                Kind::Key
            };
            let (seq, reused) = run.keys[ki];
            record(
                &mut tx,
                run,
                seq,
                reused,
                &journal::Dropping {
                    kind,
                    target: &k.table.to_string(),
                    name: &k.key.name,
                    statements: &statements,
                    expect: expect.next().flatten().as_deref(),
                },
            )?;
        }
    }
    for (ii, i) in plan.indexes.iter().enumerate() {
        let statements = IndexSql::new(i).statements();
        let (seq, reused) = run.indexes[ii];
        record(
            &mut tx,
            run,
            seq,
            reused,
            &journal::Dropping {
                kind: Kind::Index,
                target: &i.table.to_string(),
                name: &i.index.name,
                statements: &statements,
                expect: expect.next().flatten().as_deref(),
            },
        )?;
    }
    ddl::drop_objects(&mut tx, plan)?;
    db::commit(tx, during)
}

/// Journals a drop: a new entry, or (`reused`) the interrupted run's entry of
/// the same object, dropped again.
fn record(
    tx: &mut postgres::Transaction<'_>,
    run: &Run,
    seq: i32,
    reused: bool,
    d: &journal::Dropping<'_>,
) -> Result<(), Error> {
    if reused {
        journal::redrop(tx, &run.id, seq, d)
    } else {
        journal::dropped(tx, &run.id, seq, d)
    }
}

/// Steps a step waits for: the other steps its kept keys reference.
fn waits_for(plan: &Plan, step: usize) -> Vec<usize> {
    let mut out: Vec<usize> = plan
        .keys
        .iter()
        .filter(|k| k.action == KeyAction::Keep && k.child_steps.contains(&step))
        .flat_map(|k| k.parent_steps.iter().copied())
        .filter(|&p| p != step)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What a load worker tells the calling thread (indices are of units).
enum Note {
    Started(usize),
    Progress(usize, u64),
    Loaded(usize, TableReport),
    /// `--on-error skip`: the rows of the unit the server refused, and its
    /// reject file, if it wrote one.
    Refused(usize, Tally),
}

/// Loads the units not in `skip` over the run's connections, biggest first.
fn load_all(
    work: &Work<'_>,
    units: &[Unit<'_>],
    skip: &HashSet<usize>,
    observer: &mut dyn FnMut(Event<'_>),
    report: &mut Report,
) -> Result<(), Error> {
    let plan = work.plan;
    let mut pending: Vec<usize> = (0..units.len()).filter(|u| !skip.contains(u)).collect();
    remove_stale_rejects(plan, units, &pending)?;
    pending.sort_by_key(|&u| std::cmp::Reverse(units[u].bytes()));
    // Per step: units not committed yet.
    let mut remaining = vec![0usize; plan.steps.len()];
    for &u in &pending {
        remaining[units[u].step.index] += 1;
    }
    let pool = Pool::new(pending, remaining.clone(), "load").stopped_by(work.stop);
    let waits: Vec<Vec<usize>> = (0..plan.steps.len()).map(|i| waits_for(plan, i)).collect();
    let (send, receive) = mpsc::channel::<Note>();
    // Per unit and per step: what was sent and loaded, for events and the report.
    let mut sent = vec![0u64; units.len()];
    let mut tables: Vec<Option<TableReport>> = vec![None; plan.steps.len()];
    let mut started = vec![false; plan.steps.len()];
    let mut refused: Vec<Option<Tally>> = (0..plan.steps.len()).map(|_| None).collect();

    std::thread::scope(|scope| {
        for _ in 0..work.jobs.max(1).min(units.len().max(1)) {
            let send = send.clone();
            let (pool, waits) = (&pool, &waits);
            scope.spawn(move || load_worker(work, units, pool, waits, send));
        }
        drop(send);
        for note in receive {
            match note {
                Note::Started(u) => {
                    let step = units[u].step;
                    if !std::mem::replace(&mut started[step.index], true) {
                        observer(Event::TableStarted { step });
                    }
                }
                Note::Progress(u, n) => {
                    sent[u] = n;
                    let step = units[u].step;
                    let total = (0..units.len())
                        .filter(|&v| units[v].step.index == step.index)
                        .map(|v| sent[v])
                        .sum();
                    observer(Event::Progress { step, sent: total });
                }
                Note::Loaded(u, t) => {
                    let step = units[u].step;
                    let merged = with_part(tables[step.index].take(), t, step);
                    remaining[step.index] -= 1;
                    if remaining[step.index] == 0 {
                        observer(Event::TableLoaded {
                            step,
                            rows: merged.rows,
                            text_bytes: merged.text_bytes,
                            elapsed: merged.elapsed,
                        });
                    }
                    tables[step.index] = Some(merged);
                }
                Note::Refused(u, tally) => {
                    let step = units[u].step;
                    match &mut refused[step.index] {
                        Some(all) => all.merge(tally),
                        slot @ None => *slot = Some(tally),
                    }
                }
            }
        }
    });

    pool.outcome()?;
    report.tables = tables.into_iter().flatten().collect();
    merge_rejects(plan, units, refused, report)
}

/// A load worker: its own connection, units one by one as they may start.
fn load_worker(
    work: &Work<'_>,
    units: &[Unit<'_>],
    pool: &Pool<usize, Vec<usize>>,
    waits: &[Vec<usize>],
    send: mpsc::Sender<Note>,
) {
    let mut client = match work.connector.connect() {
        Ok(c) => c,
        Err(e) => return pool.fail(e),
    };
    let _cancel = work.stop.register(client.cancel_token());
    // A unit starts once every step its kept keys reference has committed.
    let ready = |remaining: &Vec<usize>, &u: &usize| {
        waits[units[u].step.index]
            .iter()
            .all(|&p| remaining[p] == 0)
    };
    while let Some(u) = pool.take(
        ready,
        |_, _| {},
        "no table can start: its parents never load",
    ) {
        let _ = send.send(Note::Started(u));
        match load_one(&mut client, work, &units[u], u, &send) {
            Ok(t) => {
                pool.finish(Ok(()), |remaining| remaining[units[u].step.index] -= 1);
                let _ = send.send(Note::Loaded(u, t));
            }
            Err(e) => pool.finish(Err(e), |_| {}),
        }
    }
}

/// One unit (number `u`) in one transaction, committed with its journal entry.
fn load_one(
    client: &mut Client,
    work: &Work<'_>,
    unit: &Unit<'_>,
    u: usize,
    send: &mpsc::Sender<Note>,
) -> Result<TableReport, Error> {
    let step = unit.step;
    let during = format!("loading {}", step.file.path.display());
    let mut tx = db::begin(client, &during)?;
    work.stop.check()?;
    let target = step.table.name.to_string();
    let (run, seq) = (work.run, work.run.unit_seq(u));
    let mut tally = Tally::new(work.plan.max_examples);
    let mut aside = work
        .plan
        .refused_to
        .as_deref()
        .map(|dir| SetAside::of_part(step, part_rejects(dir, unit)));
    let table = pipeline::load_step(
        &mut tx,
        work.plan,
        step,
        work.edited.step(step.index),
        unit.part,
        &mut |n| {
            let _ = send.send(Note::Progress(u, n));
        },
        Some(&mut |tx, rows| journal::loaded(tx, &run.id, seq, &target, &unit.name, rows)),
        aside.as_mut().map(|aside| Around {
            tally: &mut tally,
            aside: Some(aside),
        }),
    )?;
    let written = match aside {
        Some(aside) => {
            let written = aside.written().map(Path::to_path_buf);
            aside.finish()?;
            written
        }
        None => None,
    };
    db::commit(tx, &during)?;
    if written.is_some() || !tally.is_empty() {
        let _ = send.send(Note::Refused(u, tally));
    }
    Ok(table)
}

/// A file's report with one more of its parts loaded (`t`).
fn with_part(so_far: Option<TableReport>, t: TableReport, step: &Step) -> TableReport {
    match so_far {
        Some(mut m) => {
            m.rows += t.rows;
            m.text_bytes += t.text_bytes;
            m.elapsed = m.elapsed.max(t.elapsed);
            m
        }
        None => TableReport {
            bytes: step.bytes,
            ..t
        },
    }
}

/// Removes the reject file of each part in `pending` that a run which did
/// not commit it left (undone, or interrupted before): only the parts
/// committed before keep theirs.
fn remove_stale_rejects(plan: &Plan, units: &[Unit<'_>], pending: &[usize]) -> Result<(), Error> {
    let Some(dir) = plan.refused_to.as_deref() else {
        return Ok(());
    };
    for &u in pending {
        let stale = part_rejects(dir, &units[u]);
        if stale.exists() {
            std::fs::remove_file(&stale).map_err(|source| {
                Error::new(ErrorKind::Io {
                    path: stale.clone(),
                    source,
                })
            })?;
        }
    }
    Ok(())
}

/// Where the reject file of `unit`, one part of a file, is written until
/// [`merge_rejects`] joins it to its file's: named after the file's and
/// the part's start, the same in a resumed run.
fn part_rejects(dir: &Path, unit: &Unit<'_>) -> PathBuf {
    let whole = reject::path_for(dir, &unit.step.file.rel);
    let mut name = whole.into_os_string();
    name.push(format!(".part-{}", unit.part.start));
    PathBuf::from(name)
}

/// `--on-error skip`: each file's reject file made from its parts' (those
/// of this run's units and of an interrupted run's it resumed), the reject
/// directory's `fkload.toml`, and what the report says of the rows set
/// aside: by table, by file and reason, and a warning.
fn merge_rejects(
    plan: &Plan,
    units: &[Unit<'_>],
    mut refused: Vec<Option<Tally>>,
    report: &mut Report,
) -> Result<(), Error> {
    let Some(dir) = plan.refused_to.as_deref() else {
        return Ok(());
    };
    let mut rejected = vec![policy::Rejected::default(); plan.steps.len()];
    for step in &plan.steps {
        let mut parts: Vec<&Unit<'_>> = units
            .iter()
            .filter(|u| u.step.index == step.index)
            .collect();
        parts.sort_by_key(|u| u.part.start);
        let files: Vec<PathBuf> = parts
            .iter()
            .map(|u| part_rejects(dir, u))
            .filter(|p| p.exists())
            .collect();
        let rows = refused[step.index].as_ref().map_or(0, |t| t.rows);
        if let Some(t) = report.tables.iter_mut().find(|t| t.path == step.file.path) {
            t.refused = rows;
        }
        if let Some(tally) = refused[step.index].take() {
            report.refused.extend(tally.into_problems(step));
        }
        if files.is_empty() {
            continue;
        }
        let path = reject::path_for(dir, &step.file.rel);
        reject::merge(&step.file, &step.columns, step.strip, path.clone(), &files)?;
        rejected[step.index] = policy::Rejected {
            skipped: rows,
            nulled: 0,
            refused: 0,
            file: Some(path.clone()),
        };
        report.rejects.push(path);
    }
    let rows: u64 = report.tables.iter().map(|t| t.refused).sum();
    if rows > 0 {
        report
            .warnings
            .push(crate::run::pipeline::refused_warning(rows, dir));
    }
    policy::write_reject_manifest(plan, dir, &rejected)
}

/// A restore task: an index to build or a key to put back, with its journal
/// entry, and the tables it locks.
struct Task<'a> {
    what: Restore<'a>,
    seq: i32,
    locks: Vec<u32>,
}

#[derive(Clone, Copy)]
enum Restore<'a> {
    Index(&'a PlannedIndex),
    Key(&'a PlannedKey),
}

impl Restore<'_> {
    fn event(&self) -> Event<'_> {
        match *self {
            Restore::Index(index) => Event::BuildingIndex { index },
            Restore::Key(key) => Event::RestoringKey { key },
        }
    }
}

/// Builds the dropped indexes, then adds the dropped keys back, each in its own
/// transaction with its journal entry, over the run's connections: two tasks
/// that touch a common table never run at once (their locks would queue, or
/// an ADD FOREIGN KEY's lock on both tables could deadlock with another's).
fn restore_all(
    client: &mut Client,
    work: &Work<'_>,
    observer: &mut dyn FnMut(Event<'_>),
    report: &mut Report,
) -> Result<(), Error> {
    let (plan, run) = (work.plan, work.run);
    let restored: HashSet<i32> = journal::entries(client, &run.id)?
        .into_iter()
        .filter(|e| e.state == State::Restored)
        .map(|e| e.seq)
        .collect();
    let indexes: Vec<Task<'_>> = plan
        .indexes
        .iter()
        .enumerate()
        .map(|(ii, i)| Task {
            what: Restore::Index(i),
            seq: run.index_seq(ii),
            locks: vec![plan.steps[i.step].table.oid],
        })
        .filter(|t| !restored.contains(&t.seq))
        .collect();
    run_tasks(work, indexes, observer)?;
    let keys: Vec<Task<'_>> = plan
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.action.sets_aside())
        .map(|(ki, k)| Task {
            what: Restore::Key(k),
            seq: run.key_seq(ki),
            locks: vec![k.key.table, k.key.ref_table],
        })
        .filter(|t| !restored.contains(&t.seq))
        .collect();
    for t in &keys {
        if let Restore::Key(k) = t.what {
            report.count_restored(k.action);
        }
    }
    run_tasks(work, keys, observer)
}

fn run_tasks(
    work: &Work<'_>,
    tasks: Vec<Task<'_>>,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    if tasks.is_empty() {
        return Ok(());
    }
    let workers = work.jobs.max(1).min(tasks.len());
    let pool = Pool::new(tasks, Vec::new(), "restore").stopped_by(work.stop);
    let (send, receive) = mpsc::channel::<Restore<'_>>();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let send = send.clone();
            let pool = &pool;
            scope.spawn(move || task_worker(work, pool, send));
        }
        drop(send);
        for what in receive {
            observer(what.event());
        }
    });
    pool.outcome()
}

fn task_worker<'a>(
    work: &Work<'_>,
    pool: &Pool<Task<'a>, Vec<u32>>,
    send: mpsc::Sender<Restore<'a>>,
) {
    let mut client = match work.connector.connect() {
        Ok(c) => c,
        Err(e) => return pool.fail(e),
    };
    let _cancel = work.stop.register(client.cancel_token());
    // A task starts once no running task locks a table of its.
    let free = |busy: &Vec<u32>, t: &Task<'_>| t.locks.iter().all(|l| !busy.contains(l));
    let lock = |busy: &mut Vec<u32>, t: &Task<'_>| busy.extend(t.locks.iter().copied());
    // (With nothing running, nothing is locked: every task is free.)
    while let Some(task) = pool.take(free, lock, "no restore task can start") {
        let _ = send.send(task.what);
        let result = run_task(&mut client, work, &task);
        pool.finish(result, |busy| {
            for l in &task.locks {
                if let Some(at) = busy.iter().position(|b| b == l) {
                    busy.remove(at);
                }
            }
        });
    }
}

fn run_task(client: &mut Client, work: &Work<'_>, task: &Task<'_>) -> Result<(), Error> {
    let during = match task.what {
        Restore::Index(_) => "building an index",
        Restore::Key(_) => "adding back a key",
    };
    let mut tx = db::begin(client, during)?;
    match task.what {
        Restore::Index(i) => ddl::build_index(&mut tx, work.plan, work.edited, i)?,
        Restore::Key(k) => ddl::restore_key(&mut tx, work.plan, work.edited, k)?,
    }
    journal::mark(&mut tx, &work.run.id, task.seq, State::Restored)?;
    db::commit(tx, during)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{ForeignKey, Index, QualName, StrategyReason, Truncate};

    fn key(oid: u32, name: &str, action: KeyAction) -> PlannedKey {
        PlannedKey {
            key: ForeignKey {
                oid,
                name: name.into(),
                ..ForeignKey::default()
            },
            table: QualName::new("public", "child"),
            table_partitioned: false,
            ref_table: QualName::new("public", "parent"),
            ref_partitioned: false,
            child_steps: vec![],
            parent_steps: vec![],
            action,
        }
    }

    fn plan() -> Plan {
        Plan {
            dir: "data".into(),
            server_version_num: 150000,
            strategy: crate::plan::Strategy::Revalidate,
            strategy_reason: StrategyReason::Chosen,
            batch_bytes: 1,
            jobs: 2,
            truncate: Truncate::No,
            truncate_also: Vec::new(),
            cascade: false,
            max_examples: 20,
            refused_to: None,
            citus: None,
            citus_tables: Vec::new(),
            citus_shards: Vec::new(),
            ignored: Vec::new(),
            indexes: vec![PlannedIndex {
                index: Index {
                    name: "child_pkey".into(),
                    ..Index::default()
                },
                table: QualName::new("public", "child"),
                step: 0,
            }],
            steps: vec![],
            keys: vec![
                key(
                    1,
                    "a",
                    KeyAction::Drop {
                        not_valid_first: true,
                    },
                ),
                key(
                    2,
                    "b",
                    KeyAction::Drop {
                        not_valid_first: true,
                    },
                ),
            ],
            cycles: vec![],
        }
    }

    fn entry(seq: i32, kind: Kind, name: &str, state: State) -> journal::Entry {
        journal::Entry {
            seq,
            kind,
            target: "\"public\".\"child\"".into(),
            name: name.into(),
            statements: vec![],
            script: String::new(),
            expect: None,
            state,
        }
    }

    #[test]
    fn a_fresh_run_numbers_keys_then_indexes_then_units() {
        let run = Run::new(None, &plan(), 3);
        assert_eq!(run.keys, [(1, false), (2, false)]);
        assert_eq!(run.indexes, [(3, false)]);
        assert_eq!(run.units, [4, 5, 6]);
    }

    /// A resumed run that drops again a key (or index) its interrupted run had
    /// put back reuses that entry: one entry per object, never one "restored"
    /// and another "dropped" for the same key.
    #[test]
    fn a_resumed_run_reuses_the_entries_of_the_objects_it_drops_again() {
        let prior = journal::Unfinished {
            run: "r".into(),
            max_seq: 9,
            loaded: vec![],
            objects: vec![
                entry(4, Kind::Key, "b", State::Restored),
                entry(7, Kind::Index, "child_pkey", State::Restored),
                // Same name, but an index: not key b's entry.
                entry(8, Kind::Index, "a", State::Restored),
            ],
        };
        let run = Run::new(Some(&prior), &plan(), 2);
        assert_eq!(run.id, "r");
        assert_eq!(run.keys, [(10, false), (4, true)]);
        assert_eq!(run.indexes, [(7, true)]);
        assert_eq!(run.units, [11, 12]);
    }
}
