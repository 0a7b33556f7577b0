//! Finding every row a key rejects, with its file and line: the orphans of a
//! violated foreign key, and the duplicates of a unique index built after the
//! data.
//!
//! The server reports one violation and no line (key checks run after the rows are
//! in). To list them all, one anti-join per file finds the rows whose key (cast to
//! the key column's type, compared with the referenced column as the key's own
//! check does) has no parent row, and one statement counts them, counts their
//! distinct keys and returns the first few in file order, however many there are.
//! Where the rows are searched:
//! - in the loaded table itself, when it holds exactly the file's rows in file
//!   order (a check truncated it first: see `check::in_file_order`); a row's
//!   record number is then its rank by `ctid`, counted for the few examples;
//! - otherwise in the file copied once more, every field as `text`, into a
//!   temporary table with a row counter, which is the record number.
//!
//! The record numbers map back to the lines the records start on.
//!
//! It runs inside the load's or the check's transaction, so it sees exactly
//! the parent rows the load had written, and everything it creates goes when
//! that transaction rolls back. It writes nothing that survives.

use std::io;
use std::path::PathBuf;

use postgres::GenericClient;

use crate::database::copy;
use crate::database::db;
use crate::error::{DbErrorInfo, DuplicateViolation, Error, KeyViolation, Orphan};
use crate::input::edit::Edits;
use crate::plan::{Plan, PlannedKey, Step};
use crate::rows::edits::FileEdits;
use crate::sql::{QualName, human_ident, ident};

/// The row counter of a file copied into a temporary table: numbered in
/// COPY's order, from a sequence that hands out values in blocks (a plain
/// `bigserial` costs a third more on a million rows).
pub(crate) const COUNTER_TYPE: &str = "bigint GENERATED ALWAYS AS IDENTITY (CACHE 100000)";

/// The temporary table the file is copied into.
const ROWS_TABLE: &str = "fkload_orphan_rows";

/// Why the rows a key or an index rejects could not be listed. Its message is
/// the sentence a report gives in place of the list.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SearchError {
    /// The file lacks a column of the key: its rows cannot be judged.
    #[error("{} has no column {} of the key", path.display(), human_ident(column))]
    MissingColumn { path: PathBuf, column: String },
    /// The index's entries are not values the file holds.
    #[error("the index has expressions or a predicate")]
    ExpressionOrPartial,
    /// A statement of the search failed (a value that does not cast is one).
    #[error("{}", server_message(.0))]
    Server(#[from] postgres::Error),
    /// The file could not be read into the search's table.
    #[error("{}: {source}", path.display())]
    File {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The file does not read as the server would read it (an end-of-data
    /// marker, another row count).
    #[error("{0:?}")]
    Copy(copy::CopyFailure),
    /// The lines of the rows found could not be read.
    #[error("{0}")]
    Lines(#[source] Error),
}

/// The orphan rows of key `pk` in the files of every step it checks:
/// counted, the first `max` listed with their lines, and the missing parent
/// keys counted and the first `max` listed. Memory and the rows sent back
/// stay bounded by `max` however many orphans there are: the search is one
/// anti-join per file, on the server.
///
/// A file whose table holds exactly its rows in file order
/// (`in_file_order`, by oid) is searched in the table itself; any other is
/// read again into a numbered temporary table.
///
/// # Errors
/// A [`SearchError`] saying why the rows could not be listed (a key column
/// missing from the file, a value that does not cast, a server error); the
/// caller reports the violation without the list then.
pub(crate) fn find(
    client: &mut impl GenericClient,
    plan: &Plan,
    edited: &FileEdits,
    pk: &PlannedKey,
    max: usize,
    in_file_order: &[u32],
) -> Result<KeyViolation, SearchError> {
    let mut out = KeyViolation {
        constraint: pk.key.name.clone(),
        child: pk.table.human(),
        parent: pk.ref_table.human(),
        ..KeyViolation::default()
    };
    let copied = copy_parents(client, plan, pk)?;
    for &s in &pk.child_steps {
        let step = &plan.steps[s];
        // A Citus table's rows are in its shards: no ctid orders them.
        let found = if in_file_order.contains(&step.table.oid)
            && !plan.citus_tables.contains(&step.table.oid)
        {
            find_in_table(client, pk, step, copied, max)
        } else {
            let own_rows_are_parents = pk.parent_steps.contains(&s);
            find_in_file(
                client,
                pk,
                step,
                edited.step(s),
                own_rows_are_parents,
                copied,
                max,
            )
        }?;
        out.rows += found.rows;
        out.missing_keys += found.missing_keys;
        out.examples.extend(found.examples);
        out.examples.truncate(max);
        out.missing_examples.extend(found.missing_examples);
        out.missing_examples.truncate(max);
    }
    if copied {
        db::try_exec(client, &format!("DROP TABLE pg_temp.{PARENT_KEYS}"))?;
    }
    Ok(out)
}

/// The temporary table a Citus parent's keys are copied into (see
/// [`copy_parents`]).
pub(crate) const PARENT_KEYS: &str = "fkload_parent_keys";

/// Copies the key columns of `pk`'s referenced table into
/// `pg_temp.fkload_parent_keys` when Citus manages that table: Citus joins no
/// temporary table with a distributed or reference one ("direct joins between
/// distributed and local tables are not supported"), but reads one into a
/// temporary table. Returns whether it did ([`Parents::Copied`] then).
///
/// # Errors
/// The server's, when the copy fails.
pub(crate) fn copy_parents(
    client: &mut impl GenericClient,
    plan: &Plan,
    pk: &PlannedKey,
) -> Result<bool, postgres::Error> {
    if !plan.citus_tables.contains(&pk.key.ref_table) {
        return Ok(false);
    }
    let columns: Vec<String> = pk.key.ref_columns.iter().map(|c| ident(c)).collect();
    db::try_exec(
        client,
        &format!("DROP TABLE IF EXISTS pg_temp.{PARENT_KEYS}"),
    )?;
    db::try_exec(
        client,
        &format!(
            "CREATE TEMP TABLE {PARENT_KEYS} AS SELECT DISTINCT {} FROM {}",
            columns.join(", "),
            pk.ref_table
        ),
    )?;
    Ok(true)
}

/// Where the rows of a file are searched: `t`, with `c` the column that
/// orders them as the file does.
#[derive(Debug, Clone, Copy)]
enum Source<'a> {
    /// The loaded table, which holds exactly the file's rows in file order:
    /// `c` is the `ctid`, and a row's record number its rank.
    Table,
    /// The file read again into [`ROWS_TABLE`], text columns: `c` is the
    /// row counter, the record number itself.
    File { counter: &'a str },
}

/// Searches the file of `step` in its table (see [`Source::Table`]).
fn find_in_table(
    client: &mut impl GenericClient,
    pk: &PlannedKey,
    step: &Step,
    copied: bool,
    max: usize,
) -> Result<KeyViolation, SearchError> {
    let rows = orphan_rows(pk, step, Source::Table, false, copied);
    let mut found = summarize(client, pk, &rows, max)?;
    // Each example's record number is its rank in the table: the rows
    // before the first example, between it and the next, and so on, are
    // counted in one pass over the table up to the last example (a TID range
    // scan each).
    let mut ctids: Vec<String> = found.examples.iter().map(|e| e.at.clone()).collect();
    ctids.dedup();
    let lows: Vec<String> = std::iter::once("(0,0)".to_string())
        .chain(ctids.iter().take(ctids.len().saturating_sub(1)).cloned())
        .collect();
    let sql = format!(
        "SELECT (SELECT count(*) FROM ONLY {} t WHERE t.ctid >= e.lo AND t.ctid < e.hi) \
           FROM unnest($1::text[]::tid[], $2::text[]::tid[]) WITH ORDINALITY AS e(lo, hi, i) \
          ORDER BY e.i",
        step.table.name
    );
    let counts = db::try_query(client, &sql, &[&lows, &ctids])?;
    // The rows before an example are the rows of its interval and of every
    // interval before it.
    let mut before = 0u64;
    let mut numbers: Vec<(String, u64)> = Vec::with_capacity(ctids.len());
    for (ctid, row) in ctids.iter().zip(&counts) {
        before += u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
        numbers.push((ctid.clone(), before + 1));
    }
    for e in &mut found.examples {
        e.record = numbers
            .iter()
            .find(|(c, _)| *c == e.at)
            .map_or(0, |(_, n)| *n);
    }
    found.into_violation(step, pk)
}

/// Searches the file of `step` read again (see [`Source::File`]).
fn find_in_file(
    client: &mut impl GenericClient,
    pk: &PlannedKey,
    step: &Step,
    edits: Option<&Edits>,
    own_rows_are_parents: bool,
    copied: bool,
    max: usize,
) -> Result<KeyViolation, SearchError> {
    let counter = load_rows(client, step, edits, &pk.key.columns)?;
    let rows = orphan_rows(
        pk,
        step,
        Source::File { counter: &counter },
        own_rows_are_parents && parent_cols_in(pk, step),
        copied,
    );
    let mut found = summarize(client, pk, &rows, max)?;
    db::try_exec(client, &format!("DROP TABLE pg_temp.{ROWS_TABLE}"))?;
    for e in &mut found.examples {
        e.record = e.at.parse().unwrap_or(0);
    }
    found.into_violation(step, pk)
}

/// An orphan row as the summary gives it: where it is (`c` as text) and its
/// key's values.
struct Example {
    at: String,
    record: u64,
    values: String,
}

/// What one statement finds of a file's orphans.
struct Summary {
    rows: u64,
    missing_keys: u64,
    examples: Vec<Example>,
    missing_examples: Vec<String>,
}

impl Summary {
    fn into_violation(self, step: &Step, pk: &PlannedKey) -> Result<KeyViolation, SearchError> {
        let names = key_names(&pk.key.columns);
        let at: Vec<(u64, String)> = self
            .examples
            .into_iter()
            .map(|e| (e.record, e.values))
            .collect();
        Ok(KeyViolation {
            rows: self.rows,
            missing_keys: self.missing_keys,
            examples: at_lines(step, at, &names)?,
            missing_examples: self
                .missing_examples
                .into_iter()
                .map(|v| format!("({names})=({v})"))
                .collect(),
            ..KeyViolation::default()
        })
    }
}

/// The orphans of `rows` (see [`orphan_rows`]) counted, their distinct keys
/// counted, the first `max` of them in file order and the first `max`
/// missing keys (by their first row), in one statement: the anti-join runs
/// once into a materialized table of positions and keys, which the counts
/// and the first rows read. The missing keys are those of the first rows,
/// unless those repeat a key while more are missing: then a second
/// statement groups them.
fn summarize(
    client: &mut impl GenericClient,
    pk: &PlannedKey,
    rows: &str,
    max: usize,
) -> Result<Summary, SearchError> {
    let n = pk.key.columns.len();
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let text: Vec<String> = keys.iter().map(|k| format!("e.{k}::text")).collect();
    let distinct = if n == 1 {
        keys[0].clone()
    } else {
        format!("ROW({})", keys.join(", "))
    };
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    let sql = format!(
        "WITH o AS MATERIALIZED ({rows}) \
         SELECT e.c::text, e.new, a.n, a.d, {text} \
           FROM (SELECT count(*) AS n, count(DISTINCT {distinct}) AS d FROM o) a \
           LEFT JOIN LATERAL ( \
             SELECT f.*, row_number() OVER (PARTITION BY {k} ORDER BY f.c) = 1 AS new \
               FROM (SELECT * FROM o ORDER BY o.c LIMIT $1) f) e ON true \
          ORDER BY e.c",
        text = text.join(", "),
        k = keys.join(", "),
    );
    let found = db::try_query(client, &sql, &[&limit])?;
    let count = |i: usize| {
        found
            .first()
            .map_or(0, |r| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0))
    };
    let (rows_found, missing_keys) = (count(2), count(3));
    let mut examples = Vec::new();
    let mut missing_examples = Vec::new();
    for r in &found {
        let Some(at) = r.get::<_, Option<String>>(0) else {
            continue;
        };
        let v = values(r, 4, n);
        if r.get::<_, Option<bool>>(1) == Some(true) {
            missing_examples.push(v.clone());
        }
        examples.push(Example {
            at,
            record: 0,
            values: v,
        });
    }
    let wanted = usize::try_from(missing_keys).unwrap_or(usize::MAX).min(max);
    if missing_examples.len() < wanted {
        // The first rows share keys: the first missing keys by their first
        // row need every orphan grouped.
        let text: Vec<String> = keys.iter().map(|k| format!("g.{k}::text")).collect();
        let sql = format!(
            "SELECT {} FROM (SELECT min(o.c) AS first, {k} FROM ({rows}) o GROUP BY {k}) g \
             ORDER BY g.first LIMIT $1",
            text.join(", "),
            k = keys.join(", "),
        );
        missing_examples = db::try_query(client, &sql, &[&limit])?
            .iter()
            .map(|r| values(r, 0, n))
            .collect();
    }
    Ok(Summary {
        rows: rows_found,
        missing_keys,
        examples,
        missing_examples,
    })
}

/// The rows of a file that share a unique key, in a temporary table of
/// their own so that the counts and the examples are read from it.
const ORPHANS_TABLE: &str = "fkload_orphans";

/// The rows of the file of `step` whose values of the unique index's key
/// columns appear more than once (the table was empty when the load began, so
/// every duplicate is in the file): counted, and the first `max` keys listed
/// with (at most `max` of) the lines holding each. Rows with a null in the
/// key never collide.
///
/// # Errors
/// As [`find`]; also for an expression or partial index, whose entries the file
/// does not show.
pub fn duplicates(
    client: &mut impl GenericClient,
    step: &Step,
    edits: Option<&Edits>,
    columns: &[String],
    types: &[String],
    expression_or_partial: bool,
    max: usize,
) -> Result<DuplicateViolation, SearchError> {
    if expression_or_partial || columns.iter().any(String::is_empty) {
        return Err(SearchError::ExpressionOrPartial);
    }
    let counter = load_rows(client, step, edits, columns)?;
    let n = columns.len();
    let create = duplicates_table(columns, types, &counter);
    let (counts, rows) = read_duplicates(client, &create, n, max)?;
    let count = |i: usize| {
        counts
            .first()
            .map_or(0, |r| u64::try_from(r.get::<_, i64>(i)).unwrap_or(0))
    };
    let names = key_names(columns);
    let numbered: Vec<(u64, String)> = rows
        .iter()
        .map(|r| {
            (
                u64::try_from(r.get::<_, i64>(0)).unwrap_or(0),
                values(r, 1, n),
            )
        })
        .collect();
    let at_lines = at_lines(step, numbered, &names)?;
    Ok(DuplicateViolation {
        rows: count(0),
        keys: count(1),
        examples: group_by_key(&rows, at_lines, n),
        ..DuplicateViolation::default()
    })
}

/// The statement that creates [`ORPHANS_TABLE`]: the rows of [`ROWS_TABLE`]
/// whose key (`columns` cast to the index's `types`) has no null and occurs
/// more than once, with their record number (`n`, from `counter`), their key
/// as the file writes it (`r0`, ...) and as the index compares it (`k0`, ...).
fn duplicates_table(columns: &[String], types: &[String], counter: &str) -> String {
    let typed = |alias: &str| -> Vec<String> {
        columns
            .iter()
            .zip(types)
            .map(|(c, t)| format!("({alias}.{})::{t}", ident(c)))
            .collect()
    };
    let not_null: Vec<String> = columns
        .iter()
        .map(|c| format!("s.{} IS NOT NULL", ident(c)))
        .collect();
    let select: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| format!("t.{} AS r{i}", ident(c)))
        .chain(
            typed("t")
                .iter()
                .enumerate()
                .map(|(i, k)| format!("{k} AS k{i}")),
        )
        .collect();
    format!(
        "CREATE TEMP TABLE {ORPHANS_TABLE} AS SELECT t.{} AS n, {} FROM pg_temp.{ROWS_TABLE} t \
         WHERE ({}) IN (SELECT {} FROM pg_temp.{ROWS_TABLE} s WHERE {} GROUP BY {} HAVING count(*) > 1)",
        ident(counter),
        select.join(", "),
        typed("t").join(", "),
        typed("s").join(", "),
        not_null.join(" AND "),
        typed("s").join(", "),
    )
}

/// Runs `create` (see [`duplicates_table`], `n` key columns) and reads its
/// table: the row and distinct key counts, then the first `max` keys in file
/// order with the first `max` rows holding each (record number, `r0`, ...,
/// the key's first record number). Drops both temporary tables after.
fn read_duplicates(
    client: &mut impl GenericClient,
    create: &str,
    n: usize,
    max: usize,
) -> Result<(Vec<postgres::Row>, Vec<postgres::Row>), postgres::Error> {
    let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
    let same: Vec<String> = keys.iter().map(|k| format!("d.{k} = f.{k}")).collect();
    let raws: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
    let limit = i64::try_from(max).unwrap_or(i64::MAX);
    db::try_exec(client, create)?;
    let counts = db::try_query(
        client,
        &format!(
            "SELECT (SELECT count(*) FROM pg_temp.{ORPHANS_TABLE}), \
             (SELECT count(*) FROM (SELECT DISTINCT {k} FROM pg_temp.{ORPHANS_TABLE}) d)",
            k = keys.join(", ")
        ),
        &[],
    )?;
    // The first `max` keys in file order, and for each the first `max`
    // rows holding it.
    let rows = db::try_query(
        client,
        &format!(
            "WITH f AS (SELECT {k}, min(n) AS first FROM pg_temp.{ORPHANS_TABLE} \
                        GROUP BY {k} ORDER BY first LIMIT $1) \
             SELECT n, {r}, first FROM ( \
               SELECT d.*, f.first, row_number() OVER (PARTITION BY f.first ORDER BY d.n) AS rn \
                 FROM pg_temp.{ORPHANS_TABLE} d JOIN f ON {same}) x \
             WHERE rn <= $1 ORDER BY first, n",
            k = keys.join(", "),
            r = raws.join(", "),
            same = same.join(" AND "),
        ),
        &[&limit],
    )?;
    db::try_exec(client, &format!("DROP TABLE pg_temp.{ORPHANS_TABLE}"))?;
    db::try_exec(client, &format!("DROP TABLE pg_temp.{ROWS_TABLE}"))?;
    Ok((counts, rows))
}

/// The rows [`read_duplicates`] found (`n` key columns), with their lines,
/// grouped by the key they share (the last column: its first row).
fn group_by_key(
    rows: &[postgres::Row],
    at_lines: Vec<Orphan>,
    n: usize,
) -> Vec<(String, Vec<Orphan>)> {
    let mut examples: Vec<(String, Vec<Orphan>)> = Vec::new();
    let mut last_first: Option<i64> = None;
    for (r, o) in rows.iter().zip(at_lines) {
        let first: i64 = r.get(n + 1);
        if last_first != Some(first) {
            examples.push((o.key.clone(), Vec::new()));
            last_first = Some(first);
        }
        if let Some((_, list)) = examples.last_mut() {
            list.push(o);
        }
    }
    examples
}

/// A server error as psql's primary line writes it, `ERROR:  message` (see
/// [`DbErrorInfo`]), or the client's message when the server sent none.
fn server_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => DbErrorInfo::from_db(db).to_string(),
        None => e.to_string(),
    }
}

/// Copies the file of `step` into a temporary table of text columns with a row
/// counter, and returns the counter's column name. `needed` must all be columns
/// of the file.
fn load_rows(
    client: &mut impl GenericClient,
    step: &Step,
    edits: Option<&Edits>,
    needed: &[String],
) -> Result<String, SearchError> {
    if let Some(missing) = needed.iter().find(|c| !step.columns.contains(c)) {
        return Err(SearchError::MissingColumn {
            path: step.file.path.clone(),
            column: missing.clone(),
        });
    }
    let counter = counter_name(&step.columns);
    let tmp = QualName::new("pg_temp", ROWS_TABLE);
    let cols: Vec<String> = step
        .columns
        .iter()
        .map(|c| format!("{} text", ident(c)))
        .collect();
    db::try_exec(client, &format!("DROP TABLE IF EXISTS {tmp}"))?;
    db::try_exec(
        client,
        &format!(
            "CREATE TEMP TABLE {ROWS_TABLE} ({} {COUNTER_TYPE}, {})",
            ident(&counter),
            cols.join(", ")
        ),
    )?;
    into_temp(client, step, edits, &tmp).map_err(|e| match e {
        copy::CopyFailure::File(source) => SearchError::File {
            path: step.file.path.clone(),
            source,
        },
        copy::CopyFailure::Server { error, .. } => SearchError::Server(error),
        other => SearchError::Copy(other),
    })?;
    Ok(counter)
}

/// `(a, b)` as the server's DETAIL names a key's columns.
fn key_names(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| human_ident(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Columns `from` to `from + n - 1` of `row` (text or null), as the
/// server's DETAIL writes key values.
fn values(row: &postgres::Row, from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| {
            row.get::<_, Option<String>>(i)
                .unwrap_or_else(|| "null".into())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps (record number, values of the `names` key) pairs to the lines of
/// the file of `step` their records start on. They are few (at most the
/// examples asked for); the file is read once, up to the last of them.
fn at_lines(
    step: &Step,
    rows: Vec<(u64, String)>,
    names: &str,
) -> Result<Vec<Orphan>, SearchError> {
    let mut sorted: Vec<u64> = rows.iter().map(|(n, _)| *n).collect();
    sorted.sort_unstable();
    sorted.dedup();
    let lines = step
        .file
        .record_lines(&sorted)
        .map_err(SearchError::Lines)?;
    Ok(rows
        .into_iter()
        .map(|(number, v)| Orphan {
            path: step.file.path.clone(),
            line: lines
                .binary_search_by_key(&number, |(rec, _)| *rec)
                .map_or(0, |i| lines[i].1),
            key: format!("({names})=({v})"),
        })
        .collect())
}

/// A name for the row counter that no file column has.
fn counter_name(columns: &[String]) -> String {
    let mut name = "fkload_row".to_string();
    while columns.contains(&name) {
        name.push('_');
    }
    name
}

fn parent_cols_in(pk: &PlannedKey, step: &Step) -> bool {
    pk.key.ref_columns.iter().all(|c| step.columns.contains(c))
}

/// The query that returns, of every orphan row of `source`, `c` (its
/// position: see [`Source`]) and the key's values as the key's types (`k0`,
/// ...). The file's own rows count as parents where `own_rows_are_parents`
/// (a file read again after its rows were rolled back).
fn orphan_rows(
    pk: &PlannedKey,
    step: &Step,
    source: Source<'_>,
    own_rows_are_parents: bool,
    copied: bool,
) -> String {
    let fk = &pk.key;
    let mut parents = vec![if copied {
        Parents::Copied
    } else {
        Parents::Table
    }];
    if own_rows_are_parents {
        parents.push(Parents::Staged {
            table: ROWS_TABLE,
            kept: None,
        });
    }
    let condition = orphan_condition(pk, step, &parents);
    let keys: Vec<String> = (0..fk.columns.len())
        .map(|i| format!("{} AS k{i}", child_value(pk, i)))
        .collect();
    let (c, from) = match source {
        Source::Table => ("t.ctid".to_string(), format!("ONLY {}", step.table.name)),
        Source::File { counter } => (
            format!("t.{}", ident(counter)),
            format!("pg_temp.{ROWS_TABLE}"),
        ),
    };
    format!(
        "SELECT {c} AS c, {} FROM {from} t WHERE {condition}",
        keys.join(", ")
    )
}

/// Where the parent rows of a key are looked for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Parents<'a> {
    /// The referenced table's rows (as the key sees them: `ONLY`, unless it is
    /// partitioned).
    Table,
    /// The referenced table's key columns, copied into
    /// `pg_temp.fkload_parent_keys` ([`copy_parents`]).
    Copied,
    /// A file's rows in a temporary table of text columns (`pg_temp.table`),
    /// those whose boolean column `kept` is false left out.
    Staged {
        table: &'a str,
        kept: Option<&'a str>,
    },
}

/// Column `i` of the key on a child row `t` (text), as the key's type.
fn child_value(pk: &PlannedKey, i: usize) -> String {
    let fk = &pk.key;
    format!("(t.{})::{}", ident(&fk.columns[i]), fk.column_types[i])
}

/// Whether column `i` of the key on child row `t` equals `parent`, compared
/// as the key does: its own equality operator, each side cast to the
/// operator's input type (a char(5) parent compares padded, not as text).
fn key_equal(pk: &PlannedKey, i: usize, parent: &str) -> String {
    let fk = &pk.key;
    match (
        fk.eq_operators.get(i),
        fk.eq_left_types.get(i),
        fk.eq_right_types.get(i),
    ) {
        (Some(op), Some(left), Some(right)) => {
            format!("({parent})::{left} {op} ({})::{right}", child_value(pk, i))
        }
        _ => format!("{parent} = {}", child_value(pk, i)),
    }
}

/// The condition, on a child row `t` of `step`'s file (text columns), that
/// it is an orphan of key `pk`: no parent row in any of `parents`. It follows
/// the key's MATCH type: MATCH SIMPLE (and PARTIAL, which the server does not
/// implement) checks only rows whose key columns are all non-null; MATCH FULL
/// also rejects a key that mixes nulls and values.
pub(crate) fn orphan_condition(pk: &PlannedKey, step: &Step, parents: &[Parents<'_>]) -> String {
    let fk = &pk.key;
    let n = fk.columns.len();
    let all_set: Vec<String> = (0..n)
        .map(|i| format!("t.{} IS NOT NULL", ident(&fk.columns[i])))
        .collect();
    let all_null: Vec<String> = (0..n)
        .map(|i| format!("t.{} IS NULL", ident(&fk.columns[i])))
        .collect();
    let clauses: Vec<String> = parents.iter().map(|p| no_parent_in(pk, p)).collect();
    let mut missing = clauses.join(" AND ");
    // A key declared on one partition checks only the rows routed there.
    if fk.table != step.table.oid
        && let Some(qual) = &fk.partition_qual
    {
        missing = format!("{missing} AND {}", routed_to(step, qual));
    }
    if fk.match_type == 'f' {
        format!(
            "NOT ({}) AND (NOT ({}) OR {missing})",
            all_null.join(" AND "),
            all_set.join(" AND ")
        )
    } else {
        format!("{} AND {missing}", all_set.join(" AND "))
    }
}

/// The condition, on a child row `t`, that `parents` hold no parent row of
/// it for key `pk`.
fn no_parent_in(pk: &PlannedKey, parents: &Parents<'_>) -> String {
    let fk = &pk.key;
    let n = fk.columns.len();
    match parents {
        Parents::Table => {
            let matches: Vec<String> = (0..n)
                .map(|i| key_equal(pk, i, &format!("p.{}", ident(&fk.ref_columns[i]))))
                .collect();
            // A key checks `ONLY` the referenced table unless it is
            // partitioned: rows of an inheritance child are no parents.
            let only = if pk.ref_partitioned { "" } else { "ONLY " };
            format!(
                "NOT EXISTS (SELECT 1 FROM {only}{} p WHERE {})",
                pk.ref_table,
                matches.join(" AND ")
            )
        }
        Parents::Copied => {
            let matches: Vec<String> = (0..n)
                .map(|i| key_equal(pk, i, &format!("p.{}", ident(&fk.ref_columns[i]))))
                .collect();
            format!(
                "NOT EXISTS (SELECT 1 FROM pg_temp.{PARENT_KEYS} p WHERE {})",
                matches.join(" AND ")
            )
        }
        Parents::Staged { table, kept } => {
            let mut matches: Vec<String> = (0..n)
                .map(|i| {
                    let parent = format!(
                        "(s.{})::{}",
                        ident(&fk.ref_columns[i]),
                        fk.ref_column_types[i]
                    );
                    key_equal(pk, i, &parent)
                })
                .collect();
            if let Some(kept) = kept {
                matches.insert(0, format!("NOT s.{}", ident(kept)));
            }
            format!(
                "NOT EXISTS (SELECT 1 FROM pg_temp.{} s WHERE {})",
                ident(table),
                matches.join(" AND ")
            )
        }
    }
}

/// The condition, on a row `t` of `step`'s file (text columns), that it
/// would be routed to the partition whose partition constraint is `qual`:
/// its fields cast to their columns' types, as the routing sees them.
fn routed_to(step: &Step, qual: &str) -> String {
    let typed: Vec<String> = step
        .columns
        .iter()
        .filter_map(|c| {
            let col = step.table_columns.iter().find(|tc| &tc.name == c)?;
            Some(format!("(t.{0})::{1} AS {0}", ident(c), col.type_sql))
        })
        .collect();
    format!(
        "EXISTS (SELECT 1 FROM (SELECT {}) routed WHERE {qual})",
        typed.join(", ")
    )
}

/// Copies the whole file of `step` (`edits` applied) into `table`, a
/// temporary table with the file's columns, for a search.
///
/// # Errors
/// As [`copy::stream`].
pub(crate) fn into_temp(
    client: &mut impl GenericClient,
    step: &Step,
    edits: Option<&Edits>,
    table: &QualName,
) -> Result<u64, copy::CopyFailure> {
    let into = copy::Copy {
        table,
        columns: &step.columns,
        file: &step.file,
        part: step.file.whole(),
        batch: None,
        freeze: false,
        edits,
    };
    copy::stream(client, &into, &mut |_| {}).map(|c| c.rows)
}

#[cfg(test)]
mod tests {
    //! The orphan searches as a reviewer reads them (insta snapshots).

    use super::*;
    use crate::plan::{Column, DataFile, FileName, ForeignKey, KeyAction, Table};

    fn step() -> Step {
        Step {
            index: 1,
            file: DataFile {
                path: "data/line.csv".into(),
                rel: "line.csv".into(),
                name: FileName::Bare {
                    stem: "line".into(),
                },
                format: crate::input::format::Format::Csv(crate::input::dialect::Dialect::default()),
                columns: None,
            },
            table: Table {
                oid: 20,
                name: QualName::new("public", "line"),
                ..Table::default()
            },
            columns: vec!["id".into(), "order_id".into(), "kind".into()],
            columns_from: crate::input::source::ColumnsFrom::Header,
            table_columns: ["id", "order_id", "kind"]
                .iter()
                .map(|c| Column {
                    name: (*c).into(),
                    type_sql: "integer".into(),
                    ..Column::default()
                })
                .collect(),
            bytes: 1,
            level: 2,
            self_referencing: false,
            sequences: vec![],
            strip: 0,
        }
    }

    fn key(match_type: char) -> PlannedKey {
        PlannedKey {
            key: ForeignKey {
                oid: 1,
                name: "line_order_fk".into(),
                table: 20,
                ref_table: 10,
                match_type,
                columns: vec!["order_id".into(), "kind".into()],
                ref_columns: vec!["id".into(), "kind".into()],
                column_types: vec!["integer".into(), "integer".into()],
                ref_column_types: vec!["integer".into(), "integer".into()],
                eq_operators: vec!["OPERATOR(pg_catalog.=)".into(); 2],
                eq_left_types: vec!["integer".into(); 2],
                eq_right_types: vec!["integer".into(); 2],
                ..ForeignKey::default()
            },
            table: QualName::new("public", "line"),
            table_partitioned: false,
            ref_table: QualName::new("public", "orders"),
            ref_partitioned: false,
            child_steps: vec![1],
            parent_steps: vec![0],
            action: KeyAction::Keep,
        }
    }

    #[test]
    fn match_simple_skips_rows_with_a_null_part() {
        insta::assert_snapshot!(orphan_rows(
            &key('s'),
            &step(),
            Source::File { counter: "n" },
            false,
            false
        ));
    }

    #[test]
    fn match_full_reports_rows_with_some_parts_null() {
        insta::assert_snapshot!(orphan_rows(
            &key('f'),
            &step(),
            Source::File { counter: "n" },
            false,
            false
        ));
    }

    #[test]
    fn rows_of_the_same_file_count_as_parents_and_partition_keys_check_their_rows() {
        let mut k = key('s');
        k.ref_partitioned = true;
        k.key.table = 21;
        k.key.partition_qual = Some("(kind = 1)".into());
        insta::assert_snapshot!(orphan_rows(
            &k,
            &step(),
            Source::File { counter: "n" },
            true,
            false
        ));
    }

    #[test]
    fn a_citus_parent_is_searched_in_its_copied_keys() {
        insta::assert_snapshot!(orphan_rows(
            &key('s'),
            &step(),
            Source::File { counter: "n" },
            false,
            true
        ));
    }
}
