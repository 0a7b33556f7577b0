//! `--on-orphan skip|null`: which rows of the files break a key, and what the
//! load does with them instead of failing, decided before the load.
//!
//! Every file a key involves (as child or parent) is copied, every field as
//! `text`, into a temporary table with its row number; then, key by key, one
//! `UPDATE` per child file marks the rows with no parent (in the database, or
//! among the file rows not yet set aside), set-wise: under `skip` the row is
//! set aside; under `null` its key columns become NULL where that satisfies
//! the key (MATCH SIMPLE: the nullable columns of the key, if there is one;
//! MATCH FULL: all of them, if all are nullable), else it is set aside. That
//! repeats until a round changes nothing: a parent row set aside can orphan
//! its children, and in a cycle either side. It all runs in a transaction
//! that is rolled back: nothing is written to the database here.
//!
//! The outcome is an [`Edits`] per file (the rows left out or changed on the
//! way to the server, by byte offset: about 8 bytes per rejected row) and a
//! reject file per file with rejected rows: each rejected record exactly as
//! the file has it, with its line and the reason in two added columns
//! ([`crate::input::reject`], which a load leaves out again, so a fixed
//! reject file loads as it is).
//!
//! The load that follows is an ordinary one, every key in place or checked
//! as the strategy says: should a row still break a key, the load fails as
//! it would without a policy. Nothing is loaded unchecked.

use std::collections::VecDeque;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::{GenericClient, Transaction};

use crate::database::copy;
use crate::database::db;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::input::edit::Edits;
use crate::input::format::Record;
use crate::input::reject::{self, Rejects};
use crate::options::OnOrphan;
use crate::plan::{Plan, PlannedKey, Step, Truncate};
use crate::rows::edits::{FileEdits, strip_only};
use crate::rows::orphan::{self, Parents};
use crate::sql::{ident, literal};

/// What a policy did to one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Rejected {
    /// Rows left out.
    pub skipped: u64,
    /// Rows loaded with their key set to NULL.
    pub nulled: u64,
    /// Rows left out because the server refuses them (`--on-error skip`,
    /// found before the policy decides: see [`Refused`]).
    pub refused: u64,
    /// The reject file, when there was a row to put in it.
    pub file: Option<PathBuf>,
}

/// The rows the server refuses on their own, found before the policy
/// decides (`--on-error skip` with a policy): per step, each record's start
/// in the file and why, in file order. They are left out of the staged rows
/// (their children are orphans then) and go to the reject files with the
/// server's reason.
pub(crate) type Refused = [Vec<(u64, String)>];

/// Decides, for `plan`, which rows `policy` leaves out or changes, writes the
/// reject files into `reject_dir`, and returns the edits of every step's file
/// and what was done to each (by step index).
///
/// # Errors
/// [`ErrorKind::OrphanPolicy`] when a file lacks a column a key needs (the
/// rows cannot be judged from the file); [`ErrorKind::Io`] for the files and
/// the reject files; server errors (a value that does not cast to its
/// column's type is one: the load would reject it too).
pub(crate) fn apply(
    client: &mut impl GenericClient,
    plan: &Plan,
    policy: OnOrphan,
    reject_dir: &Path,
    refused: &Refused,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<(FileEdits, Vec<Rejected>), Error> {
    let mut out = FileEdits::of(plan);
    let mut rejected = vec![Rejected::default(); plan.steps.len()];
    if policy == OnOrphan::Error || plan.keys.is_empty() {
        return Ok((out, rejected));
    }
    let mut tx = db::begin(client, "finding the orphan rows")?;
    let result = decide(
        &mut tx,
        plan,
        policy,
        (reject_dir, refused),
        observer,
        &mut rejected,
    );
    db::rollback(tx, "finding the orphan rows")?;
    for (slot, edits) in out.0.iter_mut().zip(result?) {
        if let Some(e) = edits {
            *slot = Some(Arc::new(e));
        }
    }
    Ok((out, rejected))
}

/// The names of the columns a staged file gets besides its own.
struct Aux {
    row: String,
    out: String,
    nulled: String,
    why: String,
    /// The keys (indexes into the plan's) the row was found to break.
    keys: String,
}

impl Aux {
    fn new(columns: &[String]) -> Aux {
        let mut prefix = "fkload_".to_string();
        while columns.iter().any(|c| c.starts_with(&prefix)) {
            prefix.push('_');
        }
        Aux {
            row: format!("{prefix}row"),
            out: format!("{prefix}out"),
            nulled: format!("{prefix}nulled"),
            why: format!("{prefix}why"),
            keys: format!("{prefix}keys"),
        }
    }
}

/// The rows of step `s` the server refuses.
fn refused_of(refused: &Refused, s: usize) -> &[(u64, String)] {
    refused.get(s).map_or(&[], Vec::as_slice)
}

fn stage_name(step: usize) -> String {
    format!("fkload_stage_{step}")
}

fn decide(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    policy: OnOrphan,
    (reject_dir, refused): (&Path, &Refused),
    observer: &mut dyn FnMut(Event<'_>),
    rejected: &mut [Rejected],
) -> Result<Vec<Option<Edits>>, Error> {
    let involved: Vec<usize> = (0..plan.steps.len())
        .filter(|&s| {
            plan.keys
                .iter()
                .any(|k| k.child_steps.contains(&s) || k.parent_steps.contains(&s))
        })
        .collect();
    let mut aux: Vec<Option<Aux>> = (0..plan.steps.len()).map(|_| None).collect();
    for &s in &involved {
        let step = &plan.steps[s];
        needs_columns(plan, step)?;
        aux[s] = Some(stage(tx, step, refused_of(refused, s))?);
    }
    // Parents first: a row set aside is then seen by its children's key in
    // the same round, and a round without cycles settles it.
    let mut pairs: Vec<(&PlannedKey, usize)> = plan
        .keys
        .iter()
        .flat_map(|k| k.child_steps.iter().map(move |&c| (k, c)))
        .collect();
    pairs.sort_by_key(|&(_, c)| c);
    let mut round = 0;
    loop {
        round += 1;
        // Where in this round each step's rows last changed: a key judged
        // before (or by) a change to its parents' rows is judged again.
        let mut changed_at: Vec<Option<usize>> = vec![None; plan.steps.len()];
        for (i, &(k, c)) in pairs.iter().enumerate() {
            let Some(a) = &aux[c] else { continue };
            observer(Event::SearchingOrphans { key: k, round });
            if mark(tx, plan, k, &plan.steps[c], a, &aux, Pass::Decide(policy))? > 0 {
                changed_at[c] = Some(i);
            }
        }
        let again = pairs.iter().enumerate().any(|(i, (k, _))| {
            k.parent_steps
                .iter()
                .any(|&p| changed_at[p].is_some_and(|at| at >= i))
        });
        if !again {
            break;
        }
    }
    // Every key a row left out breaks goes into its reason, not only the
    // first found: one more pass over the rows left out, deciding nothing.
    for &(k, c) in &pairs {
        if let Some(a) = &aux[c] {
            mark(tx, plan, k, &plan.steps[c], a, &aux, Pass::Explain)?;
        }
    }
    let mut edits: Vec<Option<Edits>> = (0..plan.steps.len()).map(|_| None).collect();
    for s in 0..plan.steps.len() {
        let gone = refused_of(refused, s);
        if aux[s].is_none() && gone.is_empty() {
            continue;
        }
        let step = &plan.steps[s];
        let (e, r) = read_back(tx, step, aux[s].as_ref(), gone, reject_dir)?;
        edits[s] = e;
        rejected[s] = r;
    }
    write_reject_manifest(plan, reject_dir, rejected)?;
    Ok(edits)
}

/// Writes `fkload.toml` into the reject directory, naming each reject file
/// of this run with its table and its dialect (and a header, which reject
/// files always have), so that the directory loads as it is. Nothing is
/// written when no reject file was.
pub(crate) fn write_reject_manifest(
    plan: &Plan,
    reject_dir: &Path,
    rejected: &[Rejected],
) -> Result<(), Error> {
    let mut text = String::from(
        "# Written by fkload: each reject file with its table and how it is written.\n",
    );
    let mut any = false;
    for (step, r) in plan.steps.iter().zip(rejected) {
        let Some(file) = &r.file else { continue };
        let Ok(rel) = file.strip_prefix(reject_dir) else {
            continue;
        };
        any = true;
        let rel = rel.to_string_lossy();
        let table = if rel.contains('/') {
            step.table.name.name.clone()
        } else {
            format!("{}.{}", step.table.name.schema, step.table.name.name)
        };
        text.push_str(&reject::manifest_entry(&rel, &table, &step.file));
    }
    if !any {
        return Ok(());
    }
    let path = reject_dir.join(crate::input::manifest::NAME);
    std::fs::write(&path, text).map_err(|source| Error::new(ErrorKind::Io { path, source }))
}

/// Every column of a key the file's rows are judged by must be in the file:
/// its child columns in the child's file, its referenced columns in each
/// parent's file.
fn needs_columns(plan: &Plan, step: &Step) -> Result<(), Error> {
    for k in &plan.keys {
        let mut needed: Vec<&String> = Vec::new();
        if k.child_steps.contains(&step.index) {
            needed.extend(&k.key.columns);
        }
        if k.parent_steps.contains(&step.index) {
            needed.extend(&k.key.ref_columns);
        }
        if let Some(missing) = needed.iter().find(|c| !step.columns.contains(c)) {
            return Err(Error::new(ErrorKind::OrphanPolicy {
                path: step.file.path.clone(),
                key: k.key.name.clone(),
                column: crate::sql::human_ident(missing),
            }));
        }
    }
    Ok(())
}

/// Copies the file of `step` into `pg_temp.fkload_stage_N`: its columns as
/// text, the row number, whether the row is set aside, which of its fields
/// were set NULL, and why.
fn stage(tx: &mut Transaction<'_>, step: &Step, gone: &[(u64, String)]) -> Result<Aux, Error> {
    let a = Aux::new(&step.columns);
    let name = stage_name(step.index);
    let during = format!(
        "reading {} to find its orphan rows",
        step.file.path.display()
    );
    let cols: Vec<String> = step
        .columns
        .iter()
        .map(|c| format!("{} text", ident(c)))
        .collect();
    db::exec(
        tx,
        &format!(
            "CREATE TEMP TABLE {} ({} {}, {}, {} bool NOT NULL DEFAULT false, \
             {} int[] NOT NULL DEFAULT '{{}}', {} text, {} int[] NOT NULL DEFAULT '{{}}')",
            ident(&name),
            ident(&a.row),
            orphan::COUNTER_TYPE,
            cols.join(", "),
            ident(&a.out),
            ident(&a.nulled),
            ident(&a.why),
            ident(&a.keys)
        ),
        &during,
    )?;
    let table = crate::sql::QualName::new("pg_temp", &name);
    // The rows the server refuses are not staged: the row counter then
    // numbers the others (see `ReadBack::record`).
    let edits = if gone.is_empty() {
        strip_only(step).map(|e| (*e).clone())
    } else {
        Some(Edits {
            skip: gone.iter().map(|(start, _)| *start).collect(),
            strip: step.strip,
            ..Edits::default()
        })
    };
    orphan::into_temp(tx, step, edits.as_ref(), &table).map_err(|f| match f {
        copy::CopyFailure::Server { error, .. } => Error::server(error, &during),
        other => crate::rows::diagnose::file_error(step, other),
    })?;
    db::exec(tx, &format!("ANALYZE {}", ident(&name)), &during)?;
    Ok(a)
}

/// What a pass of [`mark`] does.
#[derive(Debug, Clone, Copy)]
enum Pass {
    /// Marks the orphans among the rows still in, as the policy says.
    Decide(OnOrphan),
    /// Adds the key to the reasons of the rows already left out that break
    /// it too.
    Explain,
}

/// One pass of key `k` over the staged rows of child step `c`: marks its
/// orphans (set aside, or their key set NULL) and returns how many.
fn mark(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    k: &PlannedKey,
    c: &Step,
    a: &Aux,
    aux: &[Option<Aux>],
    pass: Pass,
) -> Result<u64, Error> {
    let fk = &k.key;
    let key_index = plan
        .keys
        .iter()
        .position(|p| std::ptr::eq(p, k))
        .unwrap_or(0);
    let names: Vec<String> = k.parent_steps.iter().map(|&p| stage_name(p)).collect();
    let during = format!("finding the orphan rows of key \"{}\"", fk.name);
    let (parents, copied) = parents_of(tx, plan, k, aux, &names, &during)?;
    let condition = orphan::orphan_condition(k, c, &parents);
    let nullable = nullable_fields(k, c);
    let change = match pass {
        Pass::Explain => Change::Explain,
        Pass::Decide(OnOrphan::Null) if can_null(k, &nullable) => Change::Null(&nullable),
        Pass::Decide(_) => Change::SetAside,
    };
    let sql = update(c, a, key_index, &change, &condition, &reason(k, &change));
    let marked = db::execute(tx, &sql, &[], &during)?;
    if copied {
        db::exec(
            tx,
            &format!("DROP TABLE pg_temp.{}", orphan::PARENT_KEYS),
            &during,
        )?;
    }
    Ok(marked)
}

/// Where the parent rows of key `k` are looked for: the referenced table
/// (its keys copied first under Citus: the flag returned says so, and the
/// copy is to be dropped after), unless the load empties it first; and the
/// rows still in of each parent step's staged file (named in `names`).
fn parents_of<'a>(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    k: &PlannedKey,
    aux: &'a [Option<Aux>],
    names: &'a [String],
    during: &str,
) -> Result<(Vec<Parents<'a>>, bool), Error> {
    let mut parents: Vec<Parents<'a>> = Vec::new();
    // The referenced table's rows count, unless the load empties it first.
    let emptied = plan.truncate != Truncate::No
        && k.parent_steps
            .iter()
            .any(|&p| plan.steps[p].table.oid == k.key.ref_table);
    let copied =
        !emptied && orphan::copy_parents(tx, plan, k).map_err(|e| Error::server(e, during))?;
    if !emptied {
        parents.push(if copied {
            Parents::Copied
        } else {
            Parents::Table
        });
    }
    for (&p, name) in k.parent_steps.iter().zip(names) {
        if let Some(pa) = &aux[p] {
            parents.push(Parents::Staged {
                table: name,
                kept: Some(&pa.out),
            });
        }
    }
    Ok((parents, copied))
}

/// The fields of `c`'s file (by position) that hold a column of key `k`
/// its table lets be NULL.
fn nullable_fields(k: &PlannedKey, c: &Step) -> Vec<usize> {
    k.key
        .columns
        .iter()
        .filter(|col| {
            c.table_columns
                .iter()
                .any(|tc| &tc.name == *col && !tc.not_null)
        })
        .filter_map(|col| c.columns.iter().position(|f| f == col))
        .collect()
}

/// Whether setting the `nullable` fields NULL satisfies key `k`: MATCH FULL
/// needs every key column NULL, MATCH SIMPLE one.
fn can_null(k: &PlannedKey, nullable: &[usize]) -> bool {
    match k.key.match_type {
        'f' => nullable.len() == k.key.columns.len(),
        _ => !nullable.is_empty(),
    }
}

/// What an `UPDATE` of [`mark`] does to the orphan rows it finds.
enum Change<'a> {
    /// Sets them aside.
    SetAside,
    /// Sets these fields (by position in the file) NULL.
    Null(&'a [usize]),
    /// Adds the key to the reasons of rows already set aside.
    Explain,
}

/// The SQL expression of the reason an orphan row of key `k` gives: the
/// server's DETAIL of the violation, with the row's values.
fn reason(k: &PlannedKey, change: &Change<'_>) -> String {
    let fk = &k.key;
    let values: Vec<String> = fk
        .columns
        .iter()
        .map(|col| format!("coalesce(t.{}, 'null')", ident(col)))
        .collect();
    let nulling = matches!(change, Change::Null(_));
    format!(
        "{} || concat_ws(', ', {}) || {}",
        literal(&format!(
            "key \"{}\": ({})=(",
            fk.name,
            fk.columns
                .iter()
                .map(|c| crate::sql::human_ident(c))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        values.join(", "),
        literal(&format!(
            ") is not present in table {}{}",
            k.ref_table.human(),
            if nulling { "; set to NULL" } else { "" }
        )),
    )
}

/// The `UPDATE` of `c`'s staged rows that makes `change` to those that meet
/// `condition` (orphans of key number `key_index`), giving `reason`.
fn update(
    c: &Step,
    a: &Aux,
    key_index: usize,
    change: &Change<'_>,
    condition: &str,
    reason: &str,
) -> String {
    let set = match change {
        Change::Explain | Change::SetAside => format!("{} = true", ident(&a.out)),
        Change::Null(nullable) => {
            let cleared: Vec<String> = nullable
                .iter()
                .map(|&i| format!("{} = NULL", ident(&c.columns[i])))
                .collect();
            let indexes: Vec<String> = nullable.iter().map(ToString::to_string).collect();
            format!(
                "{}, {n} = {n} || ARRAY[{}]",
                cleared.join(", "),
                indexes.join(", "),
                n = ident(&a.nulled)
            )
        }
    };
    // Explaining, rows already set aside get this key's reason too.
    let which = match change {
        Change::Explain => format!(
            "t.{out} AND NOT {key_index} = ANY(t.{keys})",
            out = ident(&a.out),
            keys = ident(&a.keys)
        ),
        Change::SetAside | Change::Null(_) => format!("NOT t.{}", ident(&a.out)),
    };
    format!(
        "UPDATE pg_temp.{} t SET {set}, {why} = concat_ws('; ', t.{why}, {reason}), \
         {keys} = t.{keys} || {key_index} WHERE {which} AND {condition}",
        ident(&stage_name(c.index)),
        why = ident(&a.why),
        keys = ident(&a.keys),
    )
}

/// An [`ErrorKind::Io`] on `path`.
fn io_error(source: io::Error, path: &Path) -> Error {
    Error::new(ErrorKind::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The rows of `step`'s staged file that were set aside or changed, in file
/// order: the edits for the load, and the reject file. The marked rows are
/// read in batches, in step with the file: memory holds one batch, and the
/// edits (8 bytes a row left out).
fn read_back(
    tx: &mut Transaction<'_>,
    step: &Step,
    a: Option<&Aux>,
    gone: &[(u64, String)],
    reject_dir: &Path,
) -> Result<(Option<Edits>, Rejected), Error> {
    let marked = match a {
        Some(a) => MarkedRows::open(tx, step, a)?,
        None => MarkedRows::none(tx),
    };
    if marked.batch.is_empty() && gone.is_empty() {
        return Ok((None, Rejected::default()));
    }
    let path = reject::path_for(reject_dir, &step.file.rel);
    let mut back = ReadBack {
        marked,
        rejects: Rejects::create(&step.file, &step.columns, step.strip, path.clone())?,
        edits: Edits {
            strip: step.strip,
            ..Edits::default()
        },
        done: Rejected {
            file: Some(path),
            ..Rejected::default()
        },
        gone: gone.iter().collect(),
        gone_before: 0,
    };
    let mut failed: Option<Error> = None;
    step.file
        .each_record(&mut |record| {
            back.record(record).or_else(|e| {
                failed = Some(e);
                Ok(false)
            })
        })
        .map_err(|e| io_error(e, &step.file.path))?;
    if let Some(e) = failed {
        return Err(e);
    }
    back.rejects.finish()?;
    Ok((Some(back.edits), back.done))
}

/// A marked row of a staged file: whether it is set aside, which fields were
/// set NULL, and why.
struct Mark {
    out: bool,
    nulled: Vec<i32>,
    why: String,
}

/// Where a record of the file stands among the marked rows.
enum Marked {
    /// It is marked.
    This(Mark),
    /// It is not; a later record is.
    Later,
    /// No record from here on is.
    NoMore,
}

/// The marked rows of a staged file in row order, fetched a batch at a time
/// through a portal.
struct MarkedRows<'a, 't> {
    tx: &'a mut Transaction<'t>,
    /// None for a file that was not staged: no row is marked.
    portal: Option<postgres::Portal>,
    batch: VecDeque<postgres::Row>,
    exhausted: bool,
    during: String,
}

impl<'a, 't> MarkedRows<'a, 't> {
    const BATCH: i32 = 10_000;

    /// Opens the portal over the marked rows of `step`'s staged file and
    /// fetches the first batch.
    fn open(tx: &'a mut Transaction<'t>, step: &Step, a: &Aux) -> Result<Self, Error> {
        let during = format!("reading the orphan rows of {}", step.file.path.display());
        let sql = format!(
            "SELECT {row}, {out}, {nulled}, coalesce({why}, '') FROM pg_temp.{t} \
             WHERE {out} OR {nulled} <> '{{}}' ORDER BY 1",
            row = ident(&a.row),
            out = ident(&a.out),
            nulled = ident(&a.nulled),
            why = ident(&a.why),
            t = ident(&stage_name(step.index)),
        );
        let portal = db::bind(tx, &sql, &[], &during)?;
        let batch: VecDeque<postgres::Row> =
            db::query_portal(tx, &portal, Self::BATCH, &during)?.into();
        let exhausted = batch.len() < Self::BATCH as usize;
        Ok(MarkedRows {
            tx,
            portal: Some(portal),
            batch,
            exhausted,
            during,
        })
    }

    /// The marked rows of a file that was not staged: none.
    fn none(tx: &'a mut Transaction<'t>) -> Self {
        MarkedRows {
            tx,
            portal: None,
            batch: VecDeque::new(),
            exhausted: true,
            during: String::new(),
        }
    }

    /// Where record `index` stands; takes its row when it is marked. Records
    /// come in file order, so the rows before it are gone already.
    fn next_for(&mut self, index: u64) -> Result<Marked, Error> {
        if let (true, false, Some(portal)) = (self.batch.is_empty(), self.exhausted, &self.portal) {
            let rows = db::query_portal(self.tx, portal, Self::BATCH, &self.during)?;
            self.exhausted = rows.len() < Self::BATCH as usize;
            self.batch.extend(rows);
        }
        let Some(row) = self.batch.front() else {
            return Ok(Marked::NoMore);
        };
        if u64::try_from(row.get::<_, i64>(0)).unwrap_or(0) != index {
            return Ok(Marked::Later);
        }
        let mark = Mark {
            out: row.get(1),
            nulled: row.get(2),
            why: row.get(3),
        };
        self.batch.pop_front();
        Ok(Marked::This(mark))
    }
}

/// The file of a step read in step with its marked rows: the edits and the
/// reject file made as the records go by.
struct ReadBack<'a, 't> {
    marked: MarkedRows<'a, 't>,
    rejects: Rejects<'a>,
    edits: Edits,
    done: Rejected,
    /// The rows the server refuses, not staged, still to come.
    gone: VecDeque<&'a (u64, String)>,
    /// How many of them came before the record read.
    gone_before: u64,
}

impl ReadBack<'_, '_> {
    /// Takes a record of the file: the header goes to the reject file, a
    /// marked record into the edits and the reject file. Returns whether to
    /// read on.
    fn record(&mut self, record: &Record<'_>) -> Result<bool, Error> {
        if self.rejects.take(record)? {
            return Ok(true);
        }
        if let Some((_, why)) = self
            .gone
            .front()
            .filter(|(start, _)| *start == record.start)
        {
            self.gone.pop_front();
            self.gone_before += 1;
            self.edits.skip.push(record.start);
            self.done.refused += 1;
            self.rejects.reject(why)?;
            return Ok(true);
        }
        // The staged rows are numbered without those the server refuses.
        let row = record.index - self.gone_before;
        let mark = match self.marked.next_for(row)? {
            Marked::This(mark) => mark,
            Marked::Later => return Ok(true),
            Marked::NoMore => return Ok(!self.gone.is_empty()),
        };
        if mark.out {
            self.edits.skip.push(record.start);
            self.done.skipped += 1;
        } else {
            let fields = mark
                .nulled
                .into_iter()
                .filter_map(|i| usize::try_from(i).ok())
                .collect();
            self.edits.null.push((record.start, fields));
            self.done.nulled += 1;
        }
        self.rejects.reject(&mark.why)?;
        Ok(true)
    }
}
