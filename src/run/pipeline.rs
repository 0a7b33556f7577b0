//! The stages of a load in one transaction, written once: the
//! one-transaction load ([`crate::run::transaction`]) and `fkload check`
//! ([`crate::run::check`]) run them, and differ only in what they do on an error
//! ([`Mode`]: stop, or collect and go on) and in how the transaction ends
//! ([`Scope`]: COMMIT, or a rollback). The parallel load ([`crate::run::parallel`]) runs the
//! same stage functions ([`load_step`], `ddl::build_index`,
//! `ddl::restore_key`) over several connections, one transaction each.
//!
//! Order inside the transaction: defer the deferrable cycle keys, describe
//! what will be set aside ([`catalog::describe`]), drop it, empty the tables
//! that are emptied up front, COPY every file in plan order (each under a
//! savepoint, so that a failure can be examined before the rollback), fire
//! every deferred trigger (`SET CONSTRAINTS ALL IMMEDIATE`; it must come
//! before any ALTER TABLE of a loaded table, see "Pending trigger events" in
//! `plan/decide.rs`), build the dropped indexes, put the keys set aside back,
//! check that every key and index is described as before, move the sequences
//! past the loaded values.

use std::path::Path;
use std::time::Instant;

use postgres::Transaction;

use crate::database::catalog;
use crate::database::copy::{self, CopyFailure};
use crate::database::db;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::input::edit::Edits;
use crate::input::reject;
use crate::plan::{KeyAction, Plan, PlannedIndex, PlannedKey, Step, Truncate};
use crate::rows::bad::{self, SetAside, Tally};
use crate::rows::diagnose;
use crate::rows::edits::FileEdits;
use crate::rows::policy;
use crate::run::ddl;
use crate::run::report::{Report, TableReport};
use crate::run::sequences;
use crate::sql::ident;

/// What a runner does when a stage fails: [`Stop`] returns the error (the
/// transaction then rolls back); a check collects it and goes on. Returning
/// an error stops the stages either way.
pub(crate) trait Mode {
    /// Once the keys and indexes are set aside and the tables emptied, before
    /// the first file (a check empties the tables it searches in file order).
    fn before_files(&mut self, tx: &mut Transaction<'_>, plan: &Plan) -> Result<(), Error>;
    /// `step`'s file did not load.
    fn file(&mut self, step: &Step, e: Error) -> Result<(), Error>;
    /// Whether the files go around the rows the server refuses one by one
    /// ([`crate::rows::bad`]) instead of stopping at the first.
    fn goes_around(&self) -> bool;
    /// `step`'s file loaded but for the rows in `refused`.
    fn refused(&mut self, step: &Step, refused: Tally) -> Result<(), Error>;
    /// Whether [`Mode::refused`] is told every row refused, not only the
    /// counts and the first few ([`Tally::keeping_every_row`]).
    fn keeps_every_row(&self) -> bool {
        false
    }
    /// Firing the deferred triggers failed.
    fn deferred(&mut self, e: Error) -> Result<(), Error>;
    /// Whether index `i` is built (a check skips those of rejected files).
    fn builds(&self, i: &PlannedIndex) -> bool;
    /// Building index `i` failed.
    fn index(&mut self, i: &PlannedIndex, e: Error) -> Result<(), Error>;
    /// Whether key `k` is put back: a check instead notes a key whose files
    /// did not load, and lists the orphans of one whose index was not built.
    fn restores(
        &mut self,
        tx: &mut Transaction<'_>,
        plan: &Plan,
        k: &PlannedKey,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error>;
    /// Putting key `k` back failed.
    fn key(
        &mut self,
        tx: &mut Transaction<'_>,
        plan: &Plan,
        k: &PlannedKey,
        e: Error,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error>;
}

/// A load's way: the first error ends it.
pub(crate) struct Stop;

impl Mode for Stop {
    fn before_files(&mut self, _: &mut Transaction<'_>, _: &Plan) -> Result<(), Error> {
        Ok(())
    }

    fn file(&mut self, _: &Step, e: Error) -> Result<(), Error> {
        Err(e)
    }

    fn goes_around(&self) -> bool {
        false
    }

    fn refused(&mut self, _: &Step, _: Tally) -> Result<(), Error> {
        Ok(())
    }

    fn deferred(&mut self, e: Error) -> Result<(), Error> {
        Err(e)
    }

    fn builds(&self, _: &PlannedIndex) -> bool {
        true
    }

    fn index(&mut self, _: &PlannedIndex, e: Error) -> Result<(), Error> {
        Err(e)
    }

    fn restores(
        &mut self,
        _: &mut Transaction<'_>,
        _: &Plan,
        _: &PlannedKey,
        _: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        Ok(true)
    }

    fn key(
        &mut self,
        _: &mut Transaction<'_>,
        _: &Plan,
        _: &PlannedKey,
        e: Error,
        _: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        Err(e)
    }
}

/// How the transaction ends, and so which stages it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// It commits: keys are checked to be back as they were, the sequences
    /// move past the loaded values.
    Commit,
    /// It is rolled back (a check): nothing is verified or moved.
    Rollback,
}

/// Runs every stage of `plan` in `tx`, each file's records sent as `edited`
/// says, into `report`.
///
/// # Errors
/// What a stage reports and `on_error` does not keep.
pub(crate) fn run(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    edited: &FileEdits,
    scope: Scope,
    on_error: &mut dyn Mode,
    report: &mut Report,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    crate::database::citus::carry_timeouts(tx, plan.on_citus())?;
    defer_keys(tx, plan, report)?;
    // What the keys and indexes set aside look like now, to check that they
    // come back exactly so.
    let set_aside = ddl::set_aside(plan);
    let before = match scope {
        Scope::Commit => catalog::describe(tx, &ddl::as_described(&set_aside))?,
        Scope::Rollback => Vec::new(),
    };
    ddl::drop_objects(tx, plan)?;
    ddl::truncate_upfront(tx, plan)?;
    on_error.before_files(tx, plan)?;
    load_files(tx, plan, edited, on_error, report, observer)?;
    // Every deferred trigger fires now, after the last row and before the
    // first statement that alters a loaded table: the keys it checks have
    // all their rows.
    observer(Event::CheckingDeferred);
    if let Err(e) = fire_deferred(tx, plan, scope) {
        on_error.deferred(e)?;
    }
    for i in &plan.indexes {
        if !on_error.builds(i) {
            continue;
        }
        observer(Event::BuildingIndex { index: i });
        if let Err(e) = ddl::build_index(tx, plan, edited, i) {
            on_error.index(i, e)?;
        }
    }
    for k in plan.keys.iter().filter(|k| k.action.sets_aside()) {
        if !on_error.restores(tx, plan, k, observer)? {
            continue;
        }
        observer(Event::RestoringKey { key: k });
        match ddl::restore_key(tx, plan, edited, k) {
            Ok(()) => report.count_restored(k.action),
            Err(e) => on_error.key(tx, plan, k, e, observer)?,
        }
    }
    if scope == Scope::Commit {
        verify_restored(tx, &set_aside, &before)?;
        sequences::advance(tx, plan, report)?;
    }
    Ok(())
}

/// `SET CONSTRAINTS ... DEFERRED` of each key the plan defers.
fn defer_keys(tx: &mut Transaction<'_>, plan: &Plan, report: &mut Report) -> Result<(), Error> {
    for k in plan.deferred() {
        // Schema-qualified: a bare name would match same-named keys of every
        // schema in the search path.
        let sql = format!(
            "SET CONSTRAINTS {}.{} DEFERRED",
            ident(&k.table.schema),
            ident(&k.key.name)
        );
        db::exec(tx, &sql, "deferring a key")?;
        report.keys_deferred += 1;
    }
    Ok(())
}

/// Every file, in plan order, each under a savepoint.
fn load_files(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    edited: &FileEdits,
    on_error: &mut dyn Mode,
    report: &mut Report,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<(), Error> {
    // `--on-error skip` in a load: the reject file of each file.
    let mut set_aside = vec![policy::Rejected::default(); plan.steps.len()];
    for step in &plan.steps {
        observer(Event::TableStarted { step });
        let progress = &mut |sent| observer(Event::Progress { step, sent });
        let edits = edited.step(step.index);
        let mut refused = Tally::new(plan.max_examples);
        if on_error.keeps_every_row() {
            refused = refused.keeping_every_row();
        }
        let skips = plan
            .refused_to
            .as_deref()
            .filter(|_| !on_error.goes_around());
        let mut aside = skips.map(|dir| SetAside::new(step, reject::path_for(dir, &step.file.rel)));
        let around = (on_error.goes_around() || aside.is_some()).then_some(Around {
            tally: &mut refused,
            aside: aside.as_mut(),
        });
        let whole = step.file.whole();
        let result = load_step(tx, plan, step, edits, whole, progress, None, around);
        let result = match aside {
            Some(aside) => {
                set_aside[step.index] = policy::Rejected {
                    skipped: aside.rows,
                    nulled: 0,
                    refused: 0,
                    file: aside.written().map(Path::to_path_buf),
                };
                aside.finish().and(result).map(|mut t| {
                    t.refused = refused.rows;
                    t
                })
            }
            None => result,
        };
        if !refused.is_empty() {
            if skips.is_some() {
                report.refused.extend(refused.into_problems(step));
            } else {
                on_error.refused(step, refused)?;
            }
        }
        match result {
            Ok(table) => {
                observer(Event::TableLoaded {
                    step,
                    rows: table.rows,
                    text_bytes: table.text_bytes,
                    elapsed: table.elapsed,
                });
                report.tables.push(table);
            }
            Err(e) if e.is_connection() => return Err(e),
            Err(e) => on_error.file(step, e)?,
        }
    }
    if let Some(dir) = &plan.refused_to {
        let rows: u64 = set_aside.iter().map(|r| r.skipped).sum();
        if rows > 0 {
            report.warnings.push(refused_warning(rows, dir));
        }
        policy::write_reject_manifest(plan, dir, &set_aside)?;
        report
            .rejects
            .extend(set_aside.into_iter().filter_map(|r| r.file));
    }
    Ok(())
}

/// The warning of a load that set aside `rows` the server refused, into
/// the reject files of `dir`.
pub(crate) fn refused_warning(rows: u64, dir: &Path) -> String {
    format!(
        "{} the server refused set aside (--on-error skip), in the reject files of {}",
        crate::error::found::plural(rows, "row", "rows"),
        dir.display()
    )
}

/// Fires every deferred trigger event (`SET CONSTRAINTS ALL IMMEDIATE`)
/// under a savepoint. In a load a violated deferred key is reported with its
/// key; in a check every key is set aside, and only constraint triggers the
/// user deferred fire.
fn fire_deferred(tx: &mut Transaction<'_>, plan: &Plan, scope: Scope) -> Result<(), Error> {
    let during = match scope {
        Scope::Commit => "checking deferred keys",
        Scope::Rollback => "checking deferred constraint triggers",
    };
    let mut sp = db::begin(tx, during)?;
    if let Err(e) = db::try_exec(&mut sp, "SET CONSTRAINTS ALL IMMEDIATE") {
        db::rollback(sp, during)?;
        return Err(match scope {
            Scope::Commit => diagnose::statement_error(tx, plan, e, during, None),
            Scope::Rollback => Error::server(e, during),
        });
    }
    db::commit(sp, during)
}

/// Compares what the load put back (`objects`, from [`ddl::set_aside`]) with
/// how the catalog described it before (`before`): a load never reports
/// success with a key or index that differs from what it was.
fn verify_restored(
    tx: &mut Transaction<'_>,
    objects: &[(bool, String, String)],
    before: &[Option<String>],
) -> Result<(), Error> {
    let now = catalog::describe(tx, &ddl::as_described(objects))?;
    let problems: Vec<crate::error::Unrestored> = objects
        .iter()
        .zip(before.iter().zip(&now))
        .filter(|(_, (was, is))| was != is)
        .map(|((key, table, name), (was, is))| {
            crate::error::Unrestored::compared(*key, name, table, was.as_deref(), is.as_deref())
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::NotRestored {
            journal: None,
            problems,
        }))
    }
}

/// What a caller runs in a step's savepoint right after its COPY, given the
/// number of rows the COPY wrote.
pub(crate) type AfterCopy<'a> = dyn FnMut(&mut Transaction<'_>, u64) -> Result<(), Error> + 'a;

/// Where the rows the server refuses go when a step goes around them
/// ([`bad::stream_around`]): counted, and written to a reject file.
pub(crate) struct Around<'t, 'a> {
    pub(crate) tally: &'t mut Tally,
    pub(crate) aside: Option<&'t mut SetAside<'a>>,
}

/// Loads one file (or `part` of it) under a savepoint of `tx`; on failure,
/// rolls the savepoint back and works out the error a user can act on (file
/// and line, or every orphan row). With `around`, goes around each row the
/// server refuses on its own instead of failing.
#[allow(clippy::too_many_arguments)]
pub(crate) fn load_step(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    step: &Step,
    edits: Option<&Edits>,
    part: crate::input::file::Part,
    progress: &mut dyn FnMut(u64),
    after_copy: Option<&mut AfterCopy<'_>>,
    around: Option<Around<'_, '_>>,
) -> Result<TableReport, Error> {
    let t0 = Instant::now();
    let mut sp = db::begin(tx, "loading")?;
    // Truncated in this subtransaction, the table takes frozen rows (a
    // partitioned one does not); statements under savepoints of their own
    // do not.
    let per_step = truncate_first(&mut sp, plan, step)?;
    let into = copy::Copy {
        table: &step.table.name,
        columns: &step.columns,
        file: &step.file,
        part,
        batch: batch_size(plan, step),
        freeze: per_step && !step.table.partitioned && around.is_none(),
        edits,
    };
    let result = match around {
        None => copy::stream(&mut sp, &into, progress),
        Some(a) => {
            let skips = bad::server_skips(plan.server_version_num, plan.on_citus(), step);
            bad::stream_around(&mut sp, step, &into, progress, a.tally, a.aside, skips)?
        }
    };
    let copied = match result {
        Ok(copied) => copied,
        Err(failure) => {
            end_failed(sp, plan, &failure)?;
            return Err(failed(tx, plan, step, edits, failure));
        }
    };
    // Still inside the savepoint: what the hook writes shares the COPY's
    // transaction id (see crate::run::journal::loaded).
    if let Some(hook) = after_copy {
        hook(&mut sp, copied.rows)?;
    }
    db::commit(sp, "loading")?;
    Ok(table_report(step, copied, t0))
}

/// `TRUNCATE` of `step`'s table in `sp` when the plan empties each table
/// as its file loads; whether it did.
fn truncate_first(sp: &mut Transaction<'_>, plan: &Plan, step: &Step) -> Result<bool, Error> {
    let per_step = plan.truncate == Truncate::PerStep;
    if per_step {
        db::exec(
            sp,
            &format!("TRUNCATE {}", step.table.truncate_target()),
            "emptying the table first",
        )?;
    }
    Ok(per_step)
}

/// Ends `sp`, in which a COPY failed: a violated key is diagnosed on the
/// transaction, after the savepoint, which is rolled back; after any other
/// error it is dropped, without a round trip (a COPY that failed as it
/// started can leave the connection out of step).
fn end_failed(sp: Transaction<'_>, plan: &Plan, failure: &CopyFailure) -> Result<(), Error> {
    match failure {
        CopyFailure::Server { error, .. } if diagnose::is_key_violation(plan, error) => {
            db::rollback(sp, "loading")
        }
        _ => {
            drop(sp);
            Ok(())
        }
    }
}

/// The error a user can act on for a COPY of `step` that failed (file and
/// line, or every orphan row).
fn failed(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    step: &Step,
    edits: Option<&Edits>,
    failure: CopyFailure,
) -> Error {
    match failure {
        CopyFailure::Server { error, start } => {
            diagnose::copy_error(tx, plan, step, edits, error, start)
        }
        other => diagnose::file_error(step, other),
    }
}

/// What loading `step` did, `copied` in the time since `t0`.
fn table_report(step: &Step, copied: copy::Copied, t0: Instant) -> TableReport {
    TableReport {
        table: step.table.name.clone(),
        path: step.file.path.clone(),
        rows: copied.rows,
        bytes: step.bytes,
        text_bytes: copied.text_bytes,
        elapsed: t0.elapsed(),
        skipped: 0,
        nulled: 0,
        refused: 0,
    }
}

/// How big a file's COPY statements may grow: unbounded for a table whose rows
/// may reference later rows of the same file while a key in place checks them at
/// the end of each statement; [`Plan::batch_bytes`] otherwise.
pub(crate) fn batch_size(plan: &Plan, step: &Step) -> Option<u64> {
    let checked_per_statement = plan.keys.iter().any(|k| {
        k.action == KeyAction::Keep
            && k.child_steps.contains(&step.index)
            && k.parent_steps.contains(&step.index)
    });
    (!checked_per_statement).then_some(plan.batch_bytes)
}
