//! `fkload check`: everything that keeps a directory from loading, found in
//! one run, in a transaction that is always rolled back.
//!
//! The check loads as a load does, but with every foreign key of the loaded
//! rows set aside (so that no key stops a COPY) and each file under a
//! savepoint of its own (so that a rejected file does not stop the others).
//! After the data, the server itself says what would fail: the indexes
//! dropped before the data are built and the keys put back, each under a
//! savepoint; a violated key has its orphan rows found set-wise
//! ([`crate::rows::orphan`]: one anti-join per file, counted, the first few listed)
//! and a unique index its duplicates. A key whose rows depend on a file that
//! was rejected is not checked, and said so: its parents are missing for a
//! reason already reported.
//!
//! Nothing survives: the transaction rolls back, and the sequences that
//! column defaults advanced (`nextval` is not transactional) are set back to
//! where they were before the rollback, while the check still holds the
//! loaded tables locked. A sequence shared with tables outside the check and
//! advanced by another session meanwhile would be set back too: check where
//! nothing else takes values from those sequences.

use postgres::{GenericClient, Transaction};

use crate::database::db;
use crate::error::{Error, ErrorKind, Problems, Unchecked};
use crate::event::Event;
use crate::plan::{Plan, PlannedIndex, PlannedKey, Step};
use crate::rows::bad::Tally;
use crate::rows::diagnose;
use crate::rows::edits::FileEdits;
use crate::run::pipeline::{self, Mode, Scope};
use crate::run::report::Report;

/// Checks `plan` (decided for a check: every key of the loaded rows set
/// aside) and returns what would keep it from loading; empty when it would
/// load. The database is as it was afterwards.
///
/// # Errors
/// Only what stops the check itself: a lost connection, a statement of the
/// check's own that fails (a key that cannot be dropped, say). Problems of
/// the data are in the returned [`Problems`].
pub(crate) fn run(
    client: &mut impl GenericClient,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Problems, Error> {
    rolled_back(client, plan, &mut |tx| check_in(tx, plan, observer))
}

/// The rows the server refuses on their own, file by file (for
/// `--on-error skip` with an orphan policy, which decides with them): every
/// file of `plan` (decided for a check) loaded as a check loads it, in a
/// transaction rolled back, keeping each row refused (its start in the file
/// and why) and the counts by reason. Nothing else is checked.
///
/// # Errors
/// A file that does not load for another reason than its rows' own (the
/// load would fail on it too), and what stops a check.
pub(crate) fn refused_rows(
    client: &mut impl GenericClient,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Vec<(std::path::PathBuf, Tally)>, Error> {
    rolled_back(client, plan, &mut |tx| {
        let mut judge = Judge { found: Vec::new() };
        let edited = FileEdits::of(plan);
        let mut report = Report::default();
        pipeline::run(
            tx,
            plan,
            &edited,
            Scope::Rollback,
            &mut judge,
            &mut report,
            observer,
        )?;
        Ok(judge.found)
    })
}

/// Runs `f` in a transaction that is rolled back, the sequences that column
/// defaults advanced set back after.
fn rolled_back<T>(
    client: &mut impl GenericClient,
    plan: &Plan,
    f: &mut dyn FnMut(&mut Transaction<'_>) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut tx = db::begin(client, "starting the check's transaction")?;
    let sequences = saved_sequences(&mut tx, plan)?;
    let problems = f(&mut tx);
    // Set back before the rollback: the tables are still locked, so no
    // insert into them can take a value in between. A check that failed has
    // its transaction aborted: they are set back after the rollback then.
    let restored = match problems {
        Ok(_) => restore_sequences(&mut tx, &sequences),
        Err(_) => Ok(()),
    };
    db::rollback(tx, "rolling the check back")?;
    if problems.is_err() || restored.is_err() {
        restore_sequences(client, &sequences)?;
    }
    problems
}

/// The stages of [`pipeline`], every problem collected.
fn check_in(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Problems, Error> {
    let mut collect = Collect {
        problems: Problems {
            max_examples: plan.max_examples,
            ..Problems::default()
        },
        edited: FileEdits::of(plan),
        rejected: Vec::new(),
        partly: Vec::new(),
        unbuilt: Vec::new(),
        in_file_order: Vec::new(),
        skips_refused: plan.refused_to.is_some(),
    };
    let edited = collect.edited.clone();
    pipeline::run(
        tx,
        plan,
        &edited,
        Scope::Rollback,
        &mut collect,
        &mut Report::default(),
        observer,
    )?;
    let mut problems = collect.problems;
    // In load order of the files they are found in.
    problems.keys.sort_by_key(|v| {
        plan.keys
            .iter()
            .position(|k| k.key.name == v.constraint && k.table.human() == v.child)
            .and_then(|k| plan.keys[k].child_steps.first().copied())
    });
    Ok(problems)
}

/// [`refused_rows`]' way: the rows refused, every one, kept; anything else
/// that stops a file stops it; nothing after the data is done.
struct Judge {
    found: Vec<(std::path::PathBuf, Tally)>,
}

impl Mode for Judge {
    fn before_files(&mut self, _: &mut Transaction<'_>, _: &Plan) -> Result<(), Error> {
        Ok(())
    }

    fn file(&mut self, _: &Step, e: Error) -> Result<(), Error> {
        Err(e)
    }

    fn goes_around(&self) -> bool {
        true
    }

    fn keeps_every_row(&self) -> bool {
        true
    }

    fn refused(&mut self, step: &Step, refused: Tally) -> Result<(), Error> {
        self.found.push((step.file.path.clone(), refused));
        Ok(())
    }

    fn deferred(&mut self, _: Error) -> Result<(), Error> {
        Ok(())
    }

    fn builds(&self, _: &PlannedIndex) -> bool {
        false
    }

    fn index(&mut self, _: &PlannedIndex, _: Error) -> Result<(), Error> {
        Ok(())
    }

    fn restores(
        &mut self,
        _: &mut Transaction<'_>,
        _: &Plan,
        _: &PlannedKey,
        _: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        Ok(false)
    }

    fn key(
        &mut self,
        _: &mut Transaction<'_>,
        _: &Plan,
        _: &PlannedKey,
        _: Error,
        _: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        Ok(())
    }
}

/// A check's way with errors: each problem of the data is kept and the
/// check goes on; a lost connection ends it.
struct Collect {
    problems: Problems,
    /// How the files are sent: a check leaves no row out, only the columns
    /// reject files added.
    edited: FileEdits,
    /// Steps whose file was rejected: the rows the others need from it are
    /// missing.
    rejected: Vec<usize>,
    /// Steps whose file loaded but for rows the server refused.
    partly: Vec<usize>,
    /// Indexes that could not be built (by oid): a key that references one
    /// is checked by searching its files' rows.
    unbuilt: Vec<u32>,
    /// Tables that hold exactly their file's rows in file order (see
    /// [`in_file_order`]).
    in_file_order: Vec<u32>,
    /// The load checked sets aside the rows the server refuses
    /// (`--on-error skip`): they are not problems, and their files are
    /// whole without them.
    skips_refused: bool,
}

impl Collect {
    /// Whether every file that loads rows `k` checks is searched in its
    /// table.
    fn in_place(&self, plan: &Plan, k: &PlannedKey) -> bool {
        k.child_steps
            .iter()
            .all(|&s| self.in_file_order.contains(&plan.steps[s].table.oid))
    }
}

impl Mode for Collect {
    fn before_files(&mut self, tx: &mut Transaction<'_>, plan: &Plan) -> Result<(), Error> {
        // A violated key's orphans are found later, after it is said (-v).
        self.in_file_order = in_file_order(tx, plan)?;
        Ok(())
    }

    fn file(&mut self, step: &Step, e: Error) -> Result<(), Error> {
        self.problems.errors.push(e);
        self.rejected.push(step.index);
        Ok(())
    }

    fn goes_around(&self) -> bool {
        true
    }

    /// Every row refused is a problem; the keys that need the file's rows
    /// are not checked, as for a file that did not load.
    fn refused(&mut self, step: &Step, refused: Tally) -> Result<(), Error> {
        if self.skips_refused {
            return Ok(());
        }
        self.problems.bad_rows.extend(refused.into_problems(step));
        if !self.rejected.contains(&step.index) {
            self.rejected.push(step.index);
        }
        self.partly.push(step.index);
        Ok(())
    }

    fn deferred(&mut self, e: Error) -> Result<(), Error> {
        keep_or_stop(&mut self.problems, e)
    }

    fn builds(&self, i: &PlannedIndex) -> bool {
        !self.rejected.contains(&i.step)
    }

    fn index(&mut self, i: &PlannedIndex, e: Error) -> Result<(), Error> {
        self.unbuilt.push(i.index.oid);
        match e.into_kind() {
            ErrorKind::Duplicate { violation, .. } => {
                self.problems.duplicates.push(*violation);
                Ok(())
            }
            kind => keep_or_stop(&mut self.problems, Error::new(kind)),
        }
    }

    fn restores(
        &mut self,
        tx: &mut Transaction<'_>,
        plan: &Plan,
        k: &PlannedKey,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<bool, Error> {
        let missing: Vec<String> = k
            .parent_steps
            .iter()
            .chain(&k.child_steps)
            .filter(|s| self.rejected.contains(s))
            .map(|&s| plan.steps[s].file.path.display().to_string())
            .collect();
        if !missing.is_empty() {
            let partly = k
                .parent_steps
                .iter()
                .chain(&k.child_steps)
                .any(|s| self.partly.contains(s));
            self.problems.unchecked.push(Unchecked {
                what: format!("key \"{}\" of {}", k.key.name, k.table.human()),
                because: format!(
                    "{} did not load{}",
                    missing.join(", "),
                    if partly { " whole" } else { "" }
                ),
            });
            return Ok(false);
        }
        if !self.unbuilt.contains(&k.key.ref_index) {
            return Ok(true);
        }
        // No index to check against: the file rows are searched alone.
        observer(Event::RestoringKey { key: k });
        let in_place = self.in_place(plan, k);
        observer(Event::ListingOrphans { key: k, in_place });
        let found = diagnose::orphans(tx, plan, &self.edited, k, &self.in_file_order);
        if found.rows > 0 || found.search_failed.is_some() {
            self.problems.keys.push(found);
        }
        Ok(false)
    }

    fn key(
        &mut self,
        tx: &mut Transaction<'_>,
        plan: &Plan,
        k: &PlannedKey,
        e: Error,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<(), Error> {
        match e.into_kind() {
            ErrorKind::ForeignKey { mut violation, .. } => {
                if violation.not_searched {
                    let in_place = self.in_place(plan, k);
                    observer(Event::ListingOrphans { key: k, in_place });
                    *violation = diagnose::orphans(tx, plan, &self.edited, k, &self.in_file_order);
                }
                self.problems.keys.push(*violation);
                Ok(())
            }
            kind => keep_or_stop(&mut self.problems, Error::new(kind)),
        }
    }
}

/// The tables whose orphans can be searched in the table itself, the file
/// not read again: after this, each holds exactly the rows of its one file,
/// in file order, so that a row's rank by `ctid` is its record number.
///
/// COPY fills a heap in the order rows come only where it does not look for
/// free space in earlier pages: in a table created or truncated in the
/// transaction (COPY then skips the free space map; otherwise a short row
/// may go back to a page a long one left with room). So each candidate is
/// truncated here unless the plan empties it anyway, where it is empty
/// already (the check rolls back; the table is locked for the check from the
/// moment its key was set aside): a table the role may not truncate, or one a
/// key from outside the load references, is searched in its file. Left out
/// too: partitioned tables (their rows are in several heaps), tables two
/// files load (a partition whose partitioned ancestor has a file too), files the check loads with edits (rows left out), any loaded
/// table with a trigger someone wrote (it may change or move rows), and
/// servers before PostgreSQL 15 (TID range scans, which rank the rows, came
/// in 14; `min(tid)`, tested from 15 on here).
fn in_file_order(tx: &mut Transaction<'_>, plan: &Plan) -> Result<Vec<u32>, Error> {
    if plan.server_version_num < 150_000 {
        return Ok(Vec::new());
    }
    let loaded: Vec<u32> = plan.steps.iter().map(|s| s.table.oid).collect();
    let candidates: Vec<&crate::plan::Step> = plan
        .steps
        .iter()
        .filter(|s| plan.keys.iter().any(|k| k.child_steps.contains(&s.index)))
        .filter(|s| !s.table.partitioned && s.strip == 0)
        .filter(|s| loaded.iter().filter(|&&t| t == s.table.oid).count() == 1)
        // A partition whose ancestor is loaded too takes that file's rows.
        .filter(|s| !s.table.ancestors.iter().any(|a| loaded.contains(a)))
        .collect();
    if candidates.is_empty() || crate::database::catalog::user_triggers(tx, &loaded)? {
        return Ok(Vec::new());
    }
    if plan.truncate != crate::plan::Truncate::No {
        return Ok(candidates.iter().map(|s| s.table.oid).collect());
    }
    let during = "finding the tables the check empties to search them in place";
    let mut empty = Vec::new();
    for s in candidates {
        let sql = format!("SELECT NOT EXISTS (SELECT 1 FROM ONLY {})", s.table.name);
        if db::query_one(tx, &sql, &[], during)?.get(0) {
            empty.push(s);
        }
    }
    let all: Vec<String> = empty
        .iter()
        .map(|s| format!("ONLY {}", s.table.name))
        .collect();
    if empty.is_empty() || truncated(tx, &all.join(", "))? {
        return Ok(empty.iter().map(|s| s.table.oid).collect());
    }
    let mut done = Vec::new();
    for (s, name) in empty.iter().zip(&all) {
        if truncated(tx, name)? {
            done.push(s.table.oid);
        }
    }
    Ok(done)
}

/// `TRUNCATE` of `tables` under a savepoint: whether it went through.
fn truncated(tx: &mut Transaction<'_>, tables: &str) -> Result<bool, Error> {
    let during = "emptying a table to search it in place";
    let mut sp = db::begin(tx, during)?;
    match db::try_exec(&mut sp, &format!("TRUNCATE {tables}")) {
        Ok(()) => db::commit(sp, during).map(|()| true),
        Err(e) if e.as_db_error().is_some() => db::rollback(sp, during).map(|()| false),
        Err(e) => Err(Error::server(e, during)),
    }
}

/// A failure after the data: a problem of the data is kept and the check goes
/// on; a lost connection ends it.
fn keep_or_stop(problems: &mut Problems, e: Error) -> Result<(), Error> {
    if e.is_connection() {
        return Err(e);
    }
    problems.errors.push(e);
    Ok(())
}

/// The sequences a column default or an identity of a loaded table (or of
/// its partitions) takes values from: serial and identity columns own theirs
/// (`deptype` `a` and `i`), and any `nextval()` default depends on its
/// sequence through the default (`pg_attrdef`).
const SEQUENCES: &str = "
WITH tables AS (
    SELECT t AS oid FROM unnest($1::oid[]) AS t
    UNION SELECT p.relid FROM unnest($1::oid[]) AS t, pg_partition_tree(t) AS p
), feeds AS (
    SELECT d.refobjid AS seq
      FROM pg_depend d
      JOIN pg_attrdef ad ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
     WHERE d.refclassid = 'pg_class'::regclass AND ad.adrelid IN (SELECT oid FROM tables)
    UNION
    SELECT d.objid
      FROM pg_depend d
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
       AND d.deptype IN ('a', 'i') AND d.refobjid IN (SELECT oid FROM tables)
)
SELECT format('%I.%I', n.nspname, s.relname)
  FROM feeds f
  JOIN pg_class s ON s.oid = f.seq AND s.relkind = 'S'
  JOIN pg_namespace n ON n.oid = s.relnamespace
 ORDER BY 1";

/// Each sequence the check may advance, with its `last_value` and
/// `is_called`.
fn saved_sequences(
    tx: &mut Transaction<'_>,
    plan: &Plan,
) -> Result<Vec<(String, i64, bool)>, Error> {
    let during = "reading the sequences the check may advance";
    let tables: Vec<u32> = plan.steps.iter().map(|s| s.table.oid).collect();
    let names: Vec<String> = db::query(tx, SEQUENCES, &[&tables], during)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut saved = Vec::with_capacity(names.len());
    for name in names {
        let row = db::query_one(
            tx,
            &format!("SELECT last_value, is_called FROM {name}"),
            &[],
            during,
        )?;
        saved.push((name, row.get(0), row.get(1)));
    }
    Ok(saved)
}

/// Sets each sequence back where it was (`setval` is not rolled back).
fn restore_sequences(
    tx: &mut impl GenericClient,
    saved: &[(String, i64, bool)],
) -> Result<(), Error> {
    for (name, last, called) in saved {
        db::query_one(
            tx,
            "SELECT setval($1::text::regclass, $2, $3)",
            &[name, last, called],
            &format!("setting sequence {name} back"),
        )?;
    }
    Ok(())
}
