//! The one-transaction runner: the whole load in one transaction, so that
//! nothing is visible before COMMIT and any error leaves the database exactly
//! as it was, the keys and indexes set aside included (DDL is transactional
//! in PostgreSQL).
//!
//! Order inside the transaction: defer the deferrable cycle keys, describe
//! what will be set aside ([`catalog::describe`]), drop it, COPY every file in
//! plan order (each under a savepoint, so that a failure can be examined
//! before the rollback), fire every deferred trigger (`SET CONSTRAINTS ALL
//! IMMEDIATE`, which checks the deferred keys; it must come before any ALTER
//! TABLE of a loaded table, see "Pending trigger events" in
//! [`crate::plan`](mod@crate::plan)), build the dropped indexes, add the
//! dropped keys back exactly as they were, check that every key and index is
//! described as before, move the sequences past the loaded values, COMMIT.
//!
//! Run on a caller's open transaction, the load's transaction is a savepoint
//! of it, released at the end: the caller commits or rolls back.
//!
//! Progress goes to the caller as [`Event`]s; this module prints nothing.

use std::time::Instant;

use postgres::{GenericClient, Transaction};

use crate::catalog;
use crate::copy::{self, CopyFailure};
use crate::db;
use crate::ddl;
use crate::diagnose;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::plan::{KeyAction, Plan, Step, Truncate};
use crate::report::{Report, TableReport};
use crate::sequences;
use crate::sql::ident;

/// Loads every file of `plan` in one transaction on `client` (or, when
/// `client` is itself a transaction, in a savepoint of it).
///
/// # Errors
/// [`ErrorKind::Copy`] with file and line when the server rejects a row;
/// [`ErrorKind::ForeignKey`] with every orphan row when a key is violated;
/// [`ErrorKind::Duplicate`] when an index built after the data finds a key
/// twice; [`ErrorKind::NotRestored`] when a key or index does not come back as
/// it was; [`ErrorKind::Io`] when a file cannot be read; [`ErrorKind::Sql`]
/// for other server errors and [`ErrorKind::ConnectionLost`] when the
/// connection drops. In every case the transaction is rolled back: the
/// database is as it was.
pub(crate) fn run(
    client: &mut impl GenericClient,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut tx = db::begin(client, "starting the transaction")?;
    crate::citus::carry_timeouts(&mut tx, plan.on_citus())?;
    let mut report = Report::default();

    for k in plan.deferred() {
        // Schema-qualified: a bare name would match same-named keys of every
        // schema in the search path.
        let sql = format!(
            "SET CONSTRAINTS {}.{} DEFERRED",
            ident(&k.table.schema),
            ident(&k.key.name)
        );
        db::exec(&mut tx, &sql, "deferring a key")?;
        report.keys_deferred += 1;
    }
    // What the keys and indexes set aside look like now, to check that they
    // come back exactly so.
    let set_aside = ddl::set_aside(plan);
    let before = catalog::describe(&mut tx, &ddl::as_described(&set_aside))?;
    ddl::drop_objects(&mut tx, plan)?;
    ddl::truncate_upfront(&mut tx, plan)?;

    for step in &plan.steps {
        observer(Event::TableStarted { step });
        let table = load_step(
            &mut tx,
            plan,
            step,
            crate::input::Part::whole(step.file.dialect.header),
            &mut |sent| observer(Event::Progress { step, sent }),
            None,
        )?;
        observer(Event::TableLoaded {
            step,
            rows: table.rows,
            text_bytes: table.text_bytes,
            elapsed: table.elapsed,
        });
        report.tables.push(table);
    }

    // Every deferred trigger fires now, after the last row and before the
    // first statement that alters a loaded table (see `crate::plan`, "Pending
    // trigger events"): the keys it checks have all their rows.
    observer(Event::CheckingDeferred);
    check_deferred(&mut tx, plan)?;

    for i in &plan.indexes {
        observer(Event::BuildingIndex { index: i });
        ddl::build_index(&mut tx, plan, i)?;
    }
    for k in plan.keys.iter().filter(|k| k.action.sets_aside()) {
        observer(Event::RestoringKey { key: k });
        ddl::restore_key(&mut tx, plan, k)?;
        report.count_restored(k.action);
    }
    verify_restored(&mut tx, &set_aside, &before)?;

    sequences::advance(&mut tx, plan, &mut report)?;

    observer(Event::Committing);
    db::commit(tx, "committing")?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Fires every deferred trigger event (`SET CONSTRAINTS ALL IMMEDIATE`): a
/// violated deferred key is reported with its orphan rows.
fn check_deferred(tx: &mut Transaction<'_>, plan: &Plan) -> Result<(), Error> {
    let during = "checking deferred keys";
    let mut sp = db::begin(tx, during)?;
    if let Err(e) = db::try_exec(&mut sp, "SET CONSTRAINTS ALL IMMEDIATE") {
        db::rollback(sp, during)?;
        return Err(diagnose::statement_error(tx, plan, e, during, None));
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
    let problems: Vec<String> = objects
        .iter()
        .zip(before.iter().zip(&now))
        .filter(|(_, (was, is))| was != is)
        .map(|((key, table, name), (was, is))| {
            let what = format!(
                "{} \"{name}\" on {table}",
                if *key { "key" } else { "index" }
            );
            crate::error::restore_problem(&what, was.as_deref(), is.as_deref())
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

/// Loads one file (or `part` of it) under a savepoint of `tx`; on failure,
/// rolls the savepoint back and works out the error a user can act on (file
/// and line, or every orphan row).
pub(crate) fn load_step(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    step: &Step,
    part: crate::input::Part,
    progress: &mut dyn FnMut(u64),
    after_copy: Option<&mut AfterCopy<'_>>,
) -> Result<TableReport, Error> {
    let t0 = Instant::now();
    let mut sp = db::begin(tx, "loading")?;
    // Truncated in this subtransaction, the table takes frozen rows (a
    // partitioned one does not).
    let per_step = plan.truncate == Truncate::PerStep;
    if per_step {
        db::exec(
            &mut sp,
            &format!("TRUNCATE {}", step.table.truncate_target()),
            "emptying the table first",
        )?;
    }
    let into = copy::Copy {
        table: &step.table.name,
        columns: &step.columns,
        path: &step.file.path,
        dialect: &step.file.dialect,
        part,
        batch: batch_size(plan, step),
        freeze: per_step && !step.table.partitioned,
        edits: step.edits.as_deref(),
    };
    let result = copy::stream(&mut sp, &into, progress);
    let copied = match result {
        Ok(copied) => copied,
        Err(CopyFailure::Server { error, start }) => {
            // A violated key is diagnosed on the transaction, after the
            // savepoint; any other error is reported as it is, without a round
            // trip (a COPY that failed as it started can leave the connection
            // out of step).
            if diagnose::is_key_violation(plan, &error) {
                db::rollback(sp, "loading")?;
            } else {
                drop(sp);
            }
            return Err(diagnose::copy_error(tx, plan, step, error, start));
        }
        Err(failure) => return Err(file_error(step, failure)),
    };
    // Still inside the savepoint: what the hook writes shares the COPY's
    // transaction id (see crate::journal::loaded).
    if let Some(hook) = after_copy {
        hook(&mut sp, copied.rows)?;
    }
    db::commit(sp, "loading")?;
    Ok(TableReport {
        table: step.table.name.clone(),
        path: step.file.path.clone(),
        rows: copied.rows,
        bytes: step.bytes,
        text_bytes: copied.text_bytes,
        elapsed: t0.elapsed(),
        skipped: 0,
        nulled: 0,
    })
}

/// A COPY that failed on the file's side: unreadable, or read otherwise by
/// the server than it is written.
pub(crate) fn file_error(step: &Step, failure: CopyFailure) -> Error {
    let path = step.file.path.clone();
    Error::new(match failure {
        CopyFailure::File(source) => ErrorKind::Io { path, source },
        CopyFailure::EndMarker { line } => ErrorKind::Data {
            path,
            line: Some(line),
            message: "a line holding only \\. is COPY's end-of-data marker: the rows \
                      after it would be lost\nHINT:  Quote the value (\"\\.\") to load it as text."
                .into(),
        },
        CopyFailure::RowCount { file, server } => ErrorKind::Data {
            path,
            line: None,
            message: format!(
                "the server loaded {server} rows but the file holds {file} records; nothing was loaded"
            ),
        },
        CopyFailure::Server { error, .. } => return Error::server(error, "loading"),
    })
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
