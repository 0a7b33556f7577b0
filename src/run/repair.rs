//! Undoing a parallel run that did not finish, from its journal: its rows
//! taken out (children first, its keys out of the way), every key and index
//! it dropped put back from the statements the journal holds and checked
//! against what the catalog said of it before. Each change is made with the
//! journal entry that records it, in one transaction, so that a crash at any
//! point leaves a journal from which the same undo finishes the work. Used by
//! `fkload repair`, by the repair before a load, and by a failed parallel
//! load on itself.

use postgres::Client;

use crate::database::db;
use crate::error::{Error, ErrorKind, Unrestored};
use crate::run::ddl;
use crate::run::journal::{self, Kind, State};

/// Repairs what an interrupted parallel load left: takes out the rows it
/// committed (children first, its keys out of the way) and puts back every key
/// and index it dropped, from the statements in its journal; checks that each
/// is back as it was; then removes the journal. Returns the run's id, or
/// `None` when there was nothing to repair.
///
/// With `force`, each table loses the rows still carrying the run's
/// transaction id even when their number is not the number the run loaded.
///
/// # Errors
/// Journal, lock and server errors; [`ErrorKind::NotRestored`]
/// (the journal is kept) when a key or index is not back as it was;
/// [`ErrorKind::UndoMismatch`] (without `force`).
pub(crate) fn repair(client: &mut Client, force: bool) -> Result<Option<String>, Error> {
    if !journal::exists(client)? {
        return Ok(None);
    }
    journal::lock(client)?;
    let result = repair_locked(client, force);
    journal::unlock(client);
    result
}

fn repair_locked(client: &mut Client, force: bool) -> Result<Option<String>, Error> {
    let Some(prior) = journal::open(client, true).or_else(|e| match e.kind() {
        // Only finished runs: nothing to undo.
        ErrorKind::NothingToResume => Ok(None),
        _ => Err(e),
    })?
    else {
        // A run killed right after creating the journal left it empty; a
        // finished run whose journal could not be removed left its entries.
        // Removing them is tidying: should it fail (a session reading the
        // journal holds it), the next command tries again, and nothing was to
        // be repaired either way.
        let _ = journal::close(client, "");
        return Ok(None);
    };
    undo(client, &prior.run, force)?;
    Ok(Some(prior.run))
}

/// Takes a run out: drops again every key of the run that is back in place,
/// takes out the rows it committed, puts back every key and index it dropped,
/// checks them, and forgets the run. Each step reads the journal afresh and
/// records what it did in the transaction that did it, so that a crash at any
/// point leaves a journal from which this same function finishes the work.
pub(crate) fn undo(client: &mut Client, run: &str, force: bool) -> Result<(), Error> {
    unrestore_keys(client, run)?;
    undo_loads(client, run, force)?;
    restore_dropped(client, run)?;
    verify(client, run)?;
    journal::close(client, run)
}

/// Puts back every key and index of `run` that is dropped now, from the
/// statements its journal holds (indexes first: keys need the unique indexes
/// they reference); each in its own transaction with its journal entry.
pub(crate) fn restore_dropped(client: &mut Client, run: &str) -> Result<(), Error> {
    let mut dropped: Vec<journal::Entry> = journal::entries(client, run)?
        .into_iter()
        .filter(|e| e.kind.is_object() && e.state == State::Dropped)
        .collect();
    dropped.sort_by_key(|e| (e.kind.is_key(), e.seq));
    for e in dropped {
        let during = format!("restoring {} dropped by run {run}", e.what());
        journaled(client, run, e.seq, State::Restored, &during, |tx| {
            if e.statements.is_empty() {
                // A journal an earlier fkload wrote holds one script.
                return db::exec(tx, &e.script, &during);
            }
            for statement in &e.statements {
                db::exec(tx, statement, &during)?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Checks every key and index the journal of `run` names against what the
/// catalog said of it before the run dropped it: present, and identical.
///
/// # Errors
/// [`ErrorKind::NotRestored`] naming each one that is not.
pub(crate) fn verify(client: &mut Client, run: &str) -> Result<(), Error> {
    let objects: Vec<journal::Entry> = journal::entries(client, run)?
        .into_iter()
        .filter(|e| e.kind.is_object())
        .collect();
    let described: Vec<crate::database::catalog::Described<'_>> = objects
        .iter()
        .map(|e| (e.kind.is_key(), e.target.as_str(), e.name.as_str()))
        .collect();
    let now = crate::database::catalog::describe(client, &described)?;
    let problems: Vec<Unrestored> = objects
        .iter()
        .zip(&now)
        .filter(|(e, is)| {
            e.state != State::Restored
                || is.is_none()
                || e.expect
                    .as_ref()
                    .is_some_and(|was| Some(was) != is.as_ref())
        })
        .map(|(e, is)| {
            let key = e.kind.is_key();
            if e.state != State::Restored {
                Unrestored::Still {
                    key,
                    name: e.name.clone(),
                    table: e.target.clone(),
                    state: e.state.as_str().to_string(),
                }
            } else {
                Unrestored::compared(key, &e.name, &e.target, e.expect.as_deref(), is.as_deref())
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::NotRestored {
            journal: Some(run.to_string()),
            problems,
        }))
    }
}

/// Runs `work` and marks journal entry `seq` of `run` with `state`, in one
/// transaction: the journal says what happened exactly when it happened.
fn journaled(
    client: &mut Client,
    run: &str,
    seq: i32,
    state: State,
    during: &str,
    work: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut tx = db::begin(client, during)?;
    work(&mut tx)?;
    journal::mark(&mut tx, run, seq, state)?;
    db::commit(tx, during)
}

/// Drops (or unenforces) again every key of the run that is back in place, and
/// marks it dropped.
fn unrestore_keys(client: &mut Client, run: &str) -> Result<(), Error> {
    let restored = journal::entries(client, run)?
        .into_iter()
        .filter(|e| e.kind.is_key() && e.state == State::Restored);
    for e in restored {
        // `target` is the table as fkload wrote it (quoted); the journal is this
        // role's alone (journal::open checks).
        let (sql, during) = if e.kind == Kind::Unenforced {
            (
                ddl::unenforce_constraint_sql(&e.target, &e.name),
                format!("setting key \"{}\" NOT ENFORCED again", e.name),
            )
        } else {
            (
                ddl::drop_constraint_sql(&e.target, &e.name),
                format!("dropping key \"{}\" again", e.name),
            )
        };
        journaled(client, run, e.seq, State::Dropped, &during, |tx| {
            db::exec(tx, &sql, &during)
        })?;
    }
    Ok(())
}

/// Takes out the rows the run committed, the last loaded table first: exactly
/// the rows whose `xmin` is the transaction that loaded the file. (Never
/// TRUNCATE: other sessions may have written to a table once it committed.)
///
/// The number of rows deleted must be the number the run loaded (a journal
/// written before fkload counted them has no count): otherwise nothing is
/// deleted from that table (tables taken out before it stay out) and the
/// error says so, unless `force` (`fkload repair --force`). Fewer means rows
/// of the run were changed or deleted since (their `xmin` is another's now),
/// or live where this server's transaction ids mean nothing (Citus workers);
/// more, rows that are not the run's, or rows a trigger of the table added.
fn undo_loads(client: &mut Client, run: &str, force: bool) -> Result<(), Error> {
    for journal::Loaded {
        seq,
        target,
        xid,
        rows,
    } in journal::loaded_tables(client, run)?
    {
        let during = format!("taking the rows loaded into {target} out again");
        let sql = format!("DELETE FROM {target} WHERE xmin = $1::text::xid");
        journaled(client, run, seq, State::Undone, &during, |tx| {
            let found = db::execute(tx, &sql, &[&xid], &during)?;
            match rows {
                Some(loaded) if loaded != found && !force => {
                    Err(Error::new(ErrorKind::UndoMismatch {
                        run: run.to_string(),
                        table: target.clone(),
                        loaded,
                        found,
                    }))
                }
                _ => Ok(()),
            }
        })?;
    }
    Ok(())
}
