//! Runs a plan: one transaction for the whole load, so that nothing is visible
//! before COMMIT and any error leaves the database exactly as it was, the keys
//! dropped to break cycles included (DDL is transactional in PostgreSQL).
//!
//! Order inside the transaction: defer the deferrable cycle keys, describe
//! what will be set aside ([`catalog::describe`]), drop it, COPY every file in
//! plan order (each under a savepoint, so that a failure can be examined
//! before the rollback), fire every deferred trigger (`SET CONSTRAINTS ALL
//! IMMEDIATE`, which checks the deferred keys; it must come before any ALTER
//! TABLE of a loaded table, see "Pending trigger events" in [`crate::plan`](mod@crate::plan)),
//! build the dropped indexes, add the dropped keys back exactly as they were,
//! check that every key and index is described as before, move the sequences
//! past the loaded values, COMMIT.
//!
//! Progress goes to the caller as [`Event`]s; this module prints nothing.

use std::time::{Duration, Instant};

use postgres::{Client, Transaction};

use crate::catalog::{self, SequenceFeed, server_error};
use crate::copy::{self, CopyFailure};
use crate::db;
use crate::error::{DbErrorInfo, DuplicateKeys, Error, ErrorKind, ForeignKeyViolation};
use crate::orphan;
use crate::plan::{KeyAction, Plan, PlannedIndex, PlannedKey, Truncate};
use crate::report::{Report, TableReport};
use crate::source;
use crate::sql::{QualName, ident, literal};

/// SQLSTATE of a foreign-key violation.
const FOREIGN_KEY_VIOLATION: &str = "23503";

/// The savepoint each step runs under.
const SAVEPOINT: &str = "fkload_step";

/// What the load is doing, for progress display.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A file starts loading.
    TableStarted { step: usize, plan: &'a Plan },
    /// Bytes of the current file sent so far.
    Progress { step: usize, sent: u64 },
    /// A file has loaded.
    TableLoaded {
        step: usize,
        rows: u64,
        elapsed: Duration,
    },
    /// An index dropped before the data is being built.
    BuildingIndex { index: &'a PlannedIndex },
    /// A dropped key is being added back (and validated).
    RestoringKey { key: &'a PlannedKey },
    /// Deferred constraints are being checked.
    CheckingDeferred,
    /// About to commit.
    Committing,
}

/// Loads every file of `plan` in one transaction.
///
/// # Errors
/// [`ErrorKind::Copy`] with file and line when the server rejects a row;
/// [`ErrorKind::ForeignKey`] with every orphan row when a key is violated;
/// [`ErrorKind::Io`] when a file cannot be read; [`ErrorKind::Sql`] for other
/// server errors and [`ErrorKind::ConnectionLost`] when the connection drops. In
/// every case the transaction is rolled back: the database is as it was.
pub fn run(
    client: &mut Client,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    run_tx(client, plan, observer)
}

/// SQLSTATEs of a lock wait that ran out (`lock_timeout`) and of a cancelled
/// statement (`statement_timeout`, or a cancel request).
const LOCK_NOT_AVAILABLE: &str = "55P03";
const QUERY_CANCELED: &str = "57014";

/// Who holds locks on the load's tables: asked after the failed transaction
/// has rolled back, so the answer names the sessions fkload waited for.
const HOLDERS: &str = "
SELECT format('pid %s (%s, %s, transaction open for %s): %s',
              a.pid, coalesce(a.usename::text, '?'), coalesce(a.state, '?'),
              coalesce(date_trunc('second', now() - a.xact_start)::text, '?'),
              left(coalesce(a.query, ''), 200))
  FROM pg_stat_activity a
 WHERE a.pid IN (SELECT l.pid FROM pg_locks l
                  WHERE l.granted AND l.relation = ANY($1) AND l.pid <> pg_backend_pid())
 ORDER BY a.pid";

/// Adds the sessions that hold locks on the load's tables to an error that a
/// lock wait or a timeout caused; other errors come back as they are. Ask on a
/// fresh connection: the load's own may be out of step after a COPY that
/// failed as it started.
pub fn explain_wait(client: &mut Client, plan: &Plan, e: Error) -> Error {
    let code = match e.kind() {
        ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. } => db.code.clone(),
        _ => return e,
    };
    if code != LOCK_NOT_AVAILABLE && code != QUERY_CANCELED {
        return e;
    }
    let mut tables: Vec<u32> = plan.steps.iter().map(|s| s.table.oid).collect();
    for k in &plan.keys {
        tables.extend([k.key.table, k.key.ref_table]);
    }
    let blockers = db::try_query(client, HOLDERS, &[&tables])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    Error::new(ErrorKind::Blocked {
        error: Box::new(e),
        blockers,
    })
}

fn run_tx(
    client: &mut Client,
    plan: &Plan,
    observer: &mut dyn FnMut(Event<'_>),
) -> Result<Report, Error> {
    let started = Instant::now();
    let mut tx = db::begin(client, "starting the transaction")?;
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
    let before = catalog::describe(&mut tx, &as_described(&set_aside(plan)))?;
    drop_objects(&mut tx, plan)?;
    if plan.truncate == Truncate::Upfront {
        let names: Vec<String> = plan
            .steps
            .iter()
            .map(|s| truncate_target(&s.table))
            .collect();
        db::exec(
            &mut tx,
            &format!("TRUNCATE {}", names.join(", ")),
            "emptying the tables (--truncate)",
        )?;
    }

    for i in 0..plan.steps.len() {
        observer(Event::TableStarted { step: i, plan });
        let table = load_step(
            &mut tx,
            plan,
            i,
            copy::Part::whole(),
            &mut |sent| observer(Event::Progress { step: i, sent }),
            None,
        )?;
        observer(Event::TableLoaded {
            step: i,
            rows: table.rows,
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
        build_index(&mut tx, plan, i)?;
    }

    for (ki, k) in plan.keys.iter().enumerate() {
        if k.action.sets_aside() {
            observer(Event::RestoringKey { key: k });
            restore_key(&mut tx, plan, ki)?;
            report.count_restored(k.action);
        }
    }
    verify_restored(&mut tx, plan, &before)?;

    advance_sequences(&mut tx, plan, &mut report)?;

    observer(Event::Committing);
    db::commit(tx, "committing")?;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Fires every deferred trigger event (`SET CONSTRAINTS ALL IMMEDIATE`): a
/// violated deferred key is reported with its orphan rows.
fn check_deferred(tx: &mut Transaction<'_>, plan: &Plan) -> Result<(), Error> {
    let during = "checking deferred keys";
    db::exec(tx, &format!("SAVEPOINT {SAVEPOINT}"), during)?;
    if let Err(e) = db::try_exec(tx, "SET CONSTRAINTS ALL IMMEDIATE") {
        let otherwise = sql_kind(&e, during);
        return Err(key_error(tx, plan, None, e, during, None, otherwise));
    }
    db::exec(tx, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), during)
}

/// The keys and indexes a plan sets aside, as [`catalog::describe`] takes
/// them: keys first, in plan order, then indexes.
pub(crate) fn set_aside(plan: &Plan) -> Vec<(bool, String, String)> {
    plan.keys
        .iter()
        .filter(|k| k.action.sets_aside())
        .map(|k| (true, k.table.to_string(), k.key.name.clone()))
        .chain(
            plan.indexes
                .iter()
                .map(|i| (false, i.table.to_string(), i.index.name.clone())),
        )
        .collect()
}

/// Compares what the plan put back with what it set aside (`before`, from
/// [`catalog::describe`] over [`set_aside`]): a load never reports success
/// with a key or index that differs from what it was.
fn verify_restored(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    before: &[Option<String>],
) -> Result<(), Error> {
    let objects = set_aside(plan);
    let now = catalog::describe(tx, &as_described(&objects))?;
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

/// Borrows [`set_aside`]'s list as [`catalog::describe`] takes it.
pub(crate) fn as_described(objects: &[(bool, String, String)]) -> Vec<catalog::Described<'_>> {
    objects
        .iter()
        .map(|(k, t, n)| (*k, t.as_str(), n.as_str()))
        .collect()
}

/// Drops (or unenforces) the keys the plan sets aside, then drops the indexes
/// it builds after the data.
pub(crate) fn drop_objects(tx: &mut Transaction<'_>, plan: &Plan) -> Result<(), Error> {
    for k in plan.dropped() {
        db::exec(tx, &drop_key_sql(k), "dropping a key")?;
    }
    for k in plan.unenforced() {
        db::exec(tx, &unenforce_key_sql(k), "setting a key NOT ENFORCED")?;
    }
    for i in &plan.indexes {
        db::exec(
            tx,
            &drop_index_sql(i),
            "dropping an index to build it after the data",
        )?;
    }
    Ok(())
}

pub(crate) fn drop_key_sql(k: &PlannedKey) -> String {
    format!(
        "ALTER TABLE {} DROP CONSTRAINT {}",
        k.table,
        ident(&k.key.name)
    )
}

pub(crate) fn unenforce_key_sql(k: &PlannedKey) -> String {
    format!(
        "ALTER TABLE {} ALTER CONSTRAINT {} NOT ENFORCED",
        k.table,
        ident(&k.key.name)
    )
}

pub(crate) fn drop_index_sql(i: &PlannedIndex) -> String {
    match &i.index.constraint {
        Some(c) => format!("ALTER TABLE {} DROP CONSTRAINT {}", i.table, ident(&c.name)),
        None => format!(
            "DROP INDEX {}",
            QualName::new(i.table.schema.clone(), i.index.name.clone())
        ),
    }
}

/// `ONLY t` for a table whose file holds its rows alone (inheritance children
/// have files of their own); a partitioned table with its partitions.
fn truncate_target(t: &crate::catalog::Table) -> String {
    if t.partitioned {
        t.name.to_string()
    } else {
        format!("ONLY {}", t.name)
    }
}

/// What a caller runs in a step's savepoint right after its COPY.
pub(crate) type AfterCopy<'a> = dyn FnMut(&mut Transaction<'_>) -> Result<(), Error> + 'a;

/// Loads one file under a savepoint of `tx`; on failure, works out the error a
/// user can act on (file and line, or every orphan row).
pub(crate) fn load_step(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    i: usize,
    part: copy::Part,
    progress: &mut dyn FnMut(u64),
    after_copy: Option<&mut AfterCopy<'_>>,
) -> Result<TableReport, Error> {
    let step = &plan.steps[i];
    let t0 = Instant::now();
    db::exec(tx, &format!("SAVEPOINT {SAVEPOINT}"), "loading")?;
    // Truncated in this subtransaction, the table takes frozen rows (a
    // partitioned one does not).
    let per_step = plan.truncate == Truncate::PerStep;
    if per_step {
        db::exec(
            tx,
            &format!("TRUNCATE {}", truncate_target(&step.table)),
            "emptying the table (--truncate)",
        )?;
    }
    let result = copy::stream(
        tx,
        &step.table.name,
        &step.columns,
        &step.file.path,
        part,
        batch_size(plan, i),
        per_step && !step.table.partitioned,
        progress,
    );
    let rows = match result {
        Ok(rows) => rows,
        Err(CopyFailure::File(source)) => {
            return Err(Error::new(ErrorKind::Io {
                path: step.file.path.clone(),
                source,
            }));
        }
        Err(CopyFailure::Server { error, start }) => {
            return Err(copy_error(tx, plan, i, error, start));
        }
        Err(CopyFailure::EndMarker { line }) => {
            return Err(Error::new(ErrorKind::Data {
                path: step.file.path.clone(),
                line: Some(line),
                message: "a line holding only \\. is COPY's end-of-data marker: the rows \
                          after it would be lost\nHINT:  Quote the value (\"\\.\") to load it as text."
                    .into(),
            }));
        }
        Err(CopyFailure::RowCount { file, server }) => {
            return Err(Error::new(ErrorKind::Data {
                path: step.file.path.clone(),
                line: None,
                message: format!(
                    "the server loaded {server} rows but the file holds {file} records; nothing was loaded"
                ),
            }));
        }
    };
    // Still inside the savepoint: what the hook writes shares the COPY's
    // transaction id (see crate::journal::loaded).
    if let Some(hook) = after_copy {
        hook(tx)?;
    }
    db::exec(tx, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), "loading")?;
    Ok(TableReport {
        table: step.table.name.clone(),
        path: step.file.path.clone(),
        rows,
        bytes: step.bytes,
        elapsed: t0.elapsed(),
    })
}

/// The plain error for a failed statement.
fn sql_kind(e: &postgres::Error, during: &str) -> ErrorKind {
    match e.as_db_error() {
        Some(db) => ErrorKind::Sql {
            during: during.to_string(),
            db: DbErrorInfo::from_db(db),
        },
        None => ErrorKind::ConnectionLost {
            during: during.to_string(),
            message: e.to_string(),
        },
    }
}

/// Puts a key set aside back exactly as it was: a dropped key with the same name
/// and definition (actions, MATCH type, deferrability), validity and comment; an
/// unenforced one enforced again (which validates it).
pub(crate) fn restore_key(tx: &mut Transaction<'_>, plan: &Plan, ki: usize) -> Result<(), Error> {
    let k = &plan.keys[ki];
    let during = match k.action {
        KeyAction::Unenforce => {
            format!(
                "enforcing key \"{}\" on {} again",
                k.key.name,
                k.table.human()
            )
        }
        _ => format!("adding back key \"{}\" on {}", k.key.name, k.table.human()),
    };
    let sql = KeySql::new(k);
    db::exec(tx, &format!("SAVEPOINT {SAVEPOINT}"), &during)?;
    // Without NOT VALID the ADD itself validates: its violations are listed too.
    if let Err(e) = db::try_exec(tx, &sql.add) {
        let otherwise = sql_kind(&e, &during);
        return Err(key_error(tx, plan, Some(ki), e, &during, None, otherwise));
    }
    if let Some(validate) = &sql.validate
        && let Err(e) = db::try_exec(tx, validate)
    {
        let otherwise = sql_kind(&e, &during);
        return Err(key_error(tx, plan, Some(ki), e, &during, None, otherwise));
    }
    if !k.key.validated {
        check_not_valid_key(tx, plan, ki)?;
    }
    if !k.key.clones.is_empty() && matches!(k.action, KeyAction::Drop { .. }) {
        restore_clones(tx, k, &during)?;
    }
    if let Some(comment) = &sql.comment {
        db::exec(tx, comment, &during)?;
    }
    db::exec(tx, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), &during)
}

/// The statements that put a key set aside back exactly as it was.
pub(crate) struct KeySql {
    /// `ALTER TABLE ... ADD CONSTRAINT ...`, `NOT VALID` when validation follows;
    /// for an unenforced key, `ALTER TABLE ... ALTER CONSTRAINT ... ENFORCED`.
    pub add: String,
    pub validate: Option<String>,
    pub comment: Option<String>,
    /// For the journal only: a `DO` block that gives the new copies on
    /// partitions their old names and comments (in a run, [`restore_clones`]
    /// does it). Only for copies with a comment or a name of their own.
    pub clones: Option<String>,
}

impl KeySql {
    pub fn new(k: &PlannedKey) -> KeySql {
        let not_valid_first = match k.action {
            KeyAction::Drop { not_valid_first } => not_valid_first,
            KeyAction::Unenforce => {
                return KeySql {
                    add: format!(
                        "ALTER TABLE {} ALTER CONSTRAINT {} ENFORCED",
                        k.table,
                        ident(&k.key.name)
                    ),
                    validate: None,
                    comment: None,
                    clones: None,
                };
            }
            KeyAction::Keep | KeyAction::Defer => false,
        };
        // pg_get_constraintdef already ends in NOT VALID for a key that was not
        // valid, and such a key is not validated.
        let split = k.key.validated && not_valid_first;
        let add = format!(
            "ALTER TABLE {} ADD CONSTRAINT {} {}{}",
            k.table,
            ident(&k.key.name),
            k.key.definition,
            if split { " NOT VALID" } else { "" }
        );
        KeySql {
            add,
            validate: split.then(|| {
                format!(
                    "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                    k.table,
                    ident(&k.key.name)
                )
            }),
            comment: k.key.comment.as_ref().map(|c| {
                format!(
                    "COMMENT ON CONSTRAINT {} ON {} IS {}",
                    ident(&k.key.name),
                    k.table,
                    literal(c)
                )
            }),
            clones: clones_script(k),
        }
    }

    /// All of it, one statement each, for the journal.
    pub fn statements(&self) -> Vec<String> {
        let mut parts = vec![self.add.clone()];
        parts.extend(self.validate.clone());
        parts.extend(self.comment.clone());
        parts.extend(self.clones.clone());
        parts
    }
}

/// A `DO` block, run after a key is added back from the journal, that renames
/// its new copies on partitions to their old names and puts their comments
/// back (as [`restore_clones`] does within a run), matching each copy by table
/// and referenced table through the key's new copies (as [`NEW_CLONES`]).
/// `None` when every copy has the name the server gives (the key's own, or the
/// key's with a number) and no comment.
fn clones_script(k: &PlannedKey) -> Option<String> {
    let server_named = |name: &str| {
        name == k.key.name
            || name
                .strip_prefix(&k.key.name)
                .and_then(|rest| rest.strip_prefix('_'))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if k.key
        .clones
        .iter()
        .all(|c| server_named(&c.name) && c.comment.is_none())
    {
        return None;
    }
    let values: Vec<String> = k
        .key
        .clones
        .iter()
        .map(|c| {
            format!(
                "({}::oid, {}::oid, {}, {}::text)",
                c.table,
                c.ref_table,
                literal(&c.name),
                c.comment.as_deref().map_or("NULL".to_string(), literal)
            )
        })
        .collect();
    let body = format!(
        "DECLARE r record;
BEGIN
  FOR r IN
    WITH RECURSIVE cl AS (
        SELECT k.oid, k.conrelid, k.confrelid, k.conname
          FROM pg_catalog.pg_constraint k
         WHERE k.conparentid = (SELECT c.oid FROM pg_catalog.pg_constraint c
                                 WHERE c.conrelid = {table}::pg_catalog.regclass
                                   AND c.conname = {name} AND c.contype = 'f'
                                   AND c.conparentid = 0)
        UNION ALL
        SELECT k.oid, k.conrelid, k.confrelid, k.conname
          FROM pg_catalog.pg_constraint k JOIN cl ON k.conparentid = cl.oid)
    SELECT cl.conrelid::pg_catalog.regclass::text AS rel, cl.conname::text AS now,
           o.name AS was, o.comment
      FROM cl JOIN (VALUES {values}) AS o(rel, ref, name, comment)
        ON o.rel = cl.conrelid AND o.ref = cl.confrelid
  LOOP
    IF r.now <> r.was THEN
      EXECUTE pg_catalog.format('ALTER TABLE %s RENAME CONSTRAINT %I TO %I', r.rel, r.now, r.was);
    END IF;
    IF r.comment IS NOT NULL THEN
      EXECUTE pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', r.was, r.rel, r.comment);
    END IF;
  END LOOP;
END",
        table = literal(&k.table.to_string()),
        name = literal(&k.key.name),
        values = values.join(", "),
    );
    // A dollar-quote tag that the body (names and comments included) lacks.
    let mut tag = "$fkload$".to_string();
    let mut n = 0;
    while body.contains(&tag) {
        n += 1;
        tag = format!("$fkload{n}$");
    }
    Some(format!("DO {tag}\n{body}\n{tag}"))
}

/// The new copies of a re-added key on partitions: a copy the server named anew
/// (the partition had a key of its own name when it was attached) gets its old
/// name back, and every copy its comment.
const NEW_CLONES: &str = "
WITH RECURSIVE cl AS (
    SELECT k.oid, k.conrelid, k.confrelid, k.conname
      FROM pg_constraint k
     WHERE k.conparentid = (SELECT c.oid FROM pg_constraint c
                             WHERE c.conrelid = $1::text::regclass AND c.conname = $2
                               AND c.contype = 'f' AND c.conparentid = 0)
    UNION ALL
    SELECT k.oid, k.conrelid, k.confrelid, k.conname
      FROM pg_constraint k JOIN cl ON k.conparentid = cl.oid
)
SELECT conrelid, confrelid, conname::text, conrelid::regclass::text FROM cl";

fn restore_clones(tx: &mut Transaction<'_>, k: &PlannedKey, during: &str) -> Result<(), Error> {
    let rows = db::query(tx, NEW_CLONES, &[&k.table.to_string(), &k.key.name], during)?;
    let mut sql = Vec::new();
    for r in rows {
        let (table, ref_table, name, table_sql): (u32, u32, String, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let Some(old) = k
            .key
            .clones
            .iter()
            .find(|c| c.table == table && c.ref_table == ref_table)
        else {
            continue;
        };
        if old.name != name {
            sql.push(format!(
                "ALTER TABLE {table_sql} RENAME CONSTRAINT {} TO {}",
                ident(&name),
                ident(&old.name)
            ));
        }
        if let Some(comment) = &old.comment {
            sql.push(format!(
                "COMMENT ON CONSTRAINT {} ON {table_sql} IS {}",
                ident(&old.name),
                literal(comment)
            ));
        }
    }
    for statement in sql {
        db::exec(tx, &statement, during)?;
    }
    Ok(())
}

/// SQLSTATE of a unique violation.
const UNIQUE_VIOLATION: &str = "23505";

/// Builds an index dropped before the data, exactly as it was: through its
/// constraint (whose definition carries storage parameters and tablespace) or
/// its `CREATE INDEX`, in its tablespace, with its comments and CLUSTER mark.
/// A duplicate key is traced to the file lines that hold it.
pub(crate) fn build_index(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    i: &PlannedIndex,
) -> Result<(), Error> {
    let during = format!("building index \"{}\" on {}", i.index.name, i.table.human());
    let sql = IndexSql::new(i);
    db::exec(tx, &format!("SAVEPOINT {SAVEPOINT}"), &during)?;
    db::exec(tx, &sql.tablespace, &during)?;
    if let Err(e) = db::try_exec(tx, &sql.create) {
        return Err(index_error(tx, plan, i, e, &during));
    }
    for statement in &sql.after {
        db::exec(tx, statement, &during)?;
    }
    db::exec(tx, &format!("RELEASE SAVEPOINT {SAVEPOINT}"), &during)
}

/// The statements that build a dropped index again exactly as it was.
pub(crate) struct IndexSql {
    /// The tablespace setting (`SET LOCAL`: it ends with the transaction).
    pub tablespace: String,
    /// The constraint or `CREATE INDEX`.
    pub create: String,
    /// Comments and the CLUSTER mark.
    pub after: Vec<String>,
}

impl IndexSql {
    pub fn new(i: &PlannedIndex) -> IndexSql {
        // The session's default_tablespace must not move an index that lived in
        // the database's default one; SET LOCAL ends with the transaction.
        let tablespace = i
            .index
            .tablespace
            .as_deref()
            .map(ident)
            .unwrap_or("''".into());
        let create = match &i.index.constraint {
            Some(c) => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} {}",
                i.table,
                ident(&c.name),
                c.definition
            ),
            None => i.index.definition.clone(),
        };
        let index_name = QualName::new(i.table.schema.clone(), i.index.name.clone());
        let mut after = Vec::new();
        if let Some(c) = &i.index.constraint
            && let Some(comment) = &c.comment
        {
            after.push(format!(
                "COMMENT ON CONSTRAINT {} ON {} IS {}",
                ident(&c.name),
                i.table,
                literal(comment)
            ));
        }
        if let Some(comment) = &i.index.comment {
            after.push(format!(
                "COMMENT ON INDEX {index_name} IS {}",
                literal(comment)
            ));
        }
        if i.index.clustered {
            after.push(format!(
                "ALTER TABLE {} CLUSTER ON {}",
                i.table,
                ident(&i.index.name)
            ));
        }
        IndexSql {
            tablespace: format!("SET LOCAL default_tablespace = {tablespace}"),
            create,
            after,
        }
    }

    /// All of it, one statement each, for the journal.
    pub fn statements(&self) -> Vec<String> {
        let mut parts = vec![self.tablespace.clone(), self.create.clone()];
        parts.extend(self.after.iter().cloned());
        parts
    }
}

/// A failed index build: duplicates are listed with their lines.
fn index_error(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    i: &PlannedIndex,
    e: postgres::Error,
    during: &str,
) -> Error {
    let Some(db) = e.as_db_error() else {
        return server_error(e, during);
    };
    let info = DbErrorInfo::from_db(db);
    if info.code != UNIQUE_VIOLATION {
        return Error::new(ErrorKind::Sql {
            during: during.to_string(),
            db: info,
        });
    }
    let step = &plan.steps[i.step];
    let (rows, failed) = match db::try_exec(tx, &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}")) {
        Ok(()) => match orphan::duplicates(
            tx,
            step,
            &i.index.columns,
            &i.index.column_types,
            i.index.expression_or_partial,
        ) {
            Ok(r) => (r, None),
            Err(why) => (Vec::new(), Some(why)),
        },
        Err(e) => (Vec::new(), Some(server_error(e, during).to_string())),
    };
    let name = i
        .index
        .constraint
        .as_ref()
        .map_or(i.index.name.clone(), |c| c.name.clone());
    Error::new(ErrorKind::Duplicate(Box::new(DuplicateKeys {
        db: info,
        index: name,
        table: i.table.human(),
        rows,
        search_failed: failed,
    })))
}

/// A key that was `NOT VALID` comes back `NOT VALID`, and so checks nothing it
/// did not see inserted; but had it stayed in place it would have checked every
/// loaded row. So the loaded rows are checked here, from the files, as the key
/// would have checked them: leaving the key as it was must not let orphans in.
///
/// A file that leaves out a key column (its rows took a default) cannot be
/// checked from the file; those rows go unchecked, as the older rows of a
/// `NOT VALID` key do.
fn check_not_valid_key(tx: &mut Transaction<'_>, plan: &Plan, ki: usize) -> Result<(), Error> {
    let k = &plan.keys[ki];
    let orphans = match orphan::find(tx, plan, ki) {
        Ok(o) => o,
        Err(_) => return Ok(()),
    };
    let Some(first) = orphans.first() else {
        return Ok(());
    };
    let db = DbErrorInfo {
        severity: "ERROR".into(),
        code: FOREIGN_KEY_VIOLATION.into(),
        message: format!(
            "insert or update on table \"{}\" violates foreign key constraint \"{}\"",
            k.table.name, k.key.name
        ),
        detail: Some(format!(
            "Key {} is not present in table \"{}\".",
            first.key, k.ref_table.name
        )),
        constraint: Some(k.key.name.clone()),
        ..DbErrorInfo::default()
    };
    Err(Error::new(ErrorKind::ForeignKey(Box::new(
        ForeignKeyViolation {
            db,
            constraint: k.key.name.clone(),
            child: k.table.human(),
            parent: k.ref_table.human(),
            orphans,
            orphan_search_failed: None,
        },
    ))))
}

/// Turns a failed COPY into the error a user can act on.
/// How big a file's COPY statements may grow: unbounded for a table whose rows
/// may reference later rows of the same file while a key in place checks them at
/// the end of each statement; [`Plan::batch_bytes`] otherwise.
pub(crate) fn batch_size(plan: &Plan, step: usize) -> Option<u64> {
    let checked_per_statement = plan.keys.iter().any(|k| {
        k.action == KeyAction::Keep
            && k.child_steps.contains(&step)
            && k.parent_steps.contains(&step)
    });
    (!checked_per_statement).then_some(plan.batch_bytes)
}

fn copy_error(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    step: usize,
    e: postgres::Error,
    start: u64,
) -> Error {
    let s = &plan.steps[step];
    let Some(db) = e.as_db_error() else {
        return server_error(e, &format!("loading {}", s.file.path.display()));
    };
    let copy = ErrorKind::Copy {
        path: s.file.path.clone(),
        line: db
            .where_()
            .and_then(|c| copy::context_line(c, &s.table.name.name))
            .map(|n| source::statement_line(&s.file.path, start, n).unwrap_or(n)),
        db: DbErrorInfo::from_db(db),
    };
    if db.code().code() == FOREIGN_KEY_VIOLATION {
        // A key of this file's rows: list every orphan. Anything else (a trigger
        // writing elsewhere, say) is reported as the COPY error it is.
        return key_error(tx, plan, None, e, "loading", Some(step), copy);
    }
    Error::new(copy)
}

/// A key violation (or another error while checking keys): rolls back to the
/// savepoint, finds the violated key (`key`, or from the server's report), lists
/// its orphans and builds the error. When the violated key is none of the plan's
/// (or, with `step`, checks none of that step's rows), `otherwise` is the error.
fn key_error(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    key: Option<usize>,
    e: postgres::Error,
    during: &str,
    step: Option<usize>,
    otherwise: ErrorKind,
) -> Error {
    let Some(db) = e.as_db_error() else {
        return server_error(e, during);
    };
    let info = DbErrorInfo::from_db(db);
    if info.code != FOREIGN_KEY_VIOLATION {
        return Error::new(otherwise);
    }
    if let Err(e) = db::try_exec(tx, &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}")) {
        return server_error(e, during);
    }
    let key = key
        .or_else(|| violated_key(tx, plan, &info))
        .filter(|&k| step.is_none_or(|s| plan.keys[k].child_steps.contains(&s)));
    let Some(ki) = key else {
        return Error::new(otherwise);
    };
    let k = &plan.keys[ki];
    let (orphans, failed) = match orphan::find(tx, plan, ki) {
        Ok(o) => (o, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    Error::new(ErrorKind::ForeignKey(Box::new(ForeignKeyViolation {
        db: info,
        constraint: k.key.name.clone(),
        child: k.table.human(),
        parent: k.ref_table.human(),
        orphans,
        orphan_search_failed: failed,
    })))
}

/// The key the server reported, found through its schema, table and name: the
/// report may name a copy on a partition (another name, another schema), which
/// leads up through `conparentid` to the key the plan knows.
const VIOLATED_KEY: &str = "
WITH RECURSIVE up AS (
    SELECT c.oid, c.conparentid
      FROM pg_constraint c
      JOIN pg_class r ON r.oid = c.conrelid
      JOIN pg_namespace n ON n.oid = r.relnamespace
     WHERE c.contype = 'f' AND c.conname = $1 AND r.relname = $2 AND n.nspname = $3
    UNION ALL
    SELECT p.oid, p.conparentid FROM pg_constraint p JOIN up ON p.oid = up.conparentid
)
SELECT oid FROM up WHERE conparentid = 0";

fn violated_key(tx: &mut Transaction<'_>, plan: &Plan, db: &DbErrorInfo) -> Option<usize> {
    let constraint = db.constraint.as_deref()?;
    if let (Some(table), Some(schema)) = (db.table.as_deref(), db.schema.as_deref())
        && let Ok(rows) = db::try_query(tx, VIOLATED_KEY, &[&constraint, &table, &schema])
        && let Some(row) = rows.first()
    {
        let oid: u32 = row.get(0);
        return plan.keys.iter().position(|k| k.key.oid == oid);
    }
    // A report without table and schema: the name is all there is.
    let mut named = plan
        .keys
        .iter()
        .enumerate()
        .filter(|(_, k)| k.key.name == constraint);
    match (named.next(), named.next()) {
        (Some((i, _)), None) => Some(i),
        _ => None,
    }
}

/// Moves every sequence that feeds a loaded column past the loaded values, so
/// that the next insert does not collide. A sequence never moves backwards, and
/// never past its own bounds (the data then holds values the sequence can never
/// give; a warning says so).
///
/// `setval` is not undone by a rollback, so every target is worked out first
/// (reads only) and the sequences are moved last, just before COMMIT, when
/// nothing else can fail. The `nextval` calls that column defaults made during
/// the load are not undone by a rollback either: that is PostgreSQL's rule.
pub(crate) fn advance_sequences(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    report: &mut Report,
) -> Result<(), Error> {
    // Per sequence: the value to set (the furthest loaded value of all columns it
    // feeds), or none when the sequence is already past it.
    let mut targets: Vec<(&SequenceFeed, i64)> = Vec::new();
    for step in &plan.steps {
        for feed in &step.sequences {
            let during = format!("advancing sequence {}", feed.sequence.human());
            let ascending = feed.increment > 0;
            let agg = if ascending { "max" } else { "min" };
            let sql = format!(
                "SELECT {agg}({})::int8 FROM {}",
                ident(&feed.column),
                step.table.name
            );
            let extreme: Option<i64> = db::query_one(tx, &sql, &[], &during)?.get(0);
            let Some(extreme) = extreme else { continue };
            match targets
                .iter_mut()
                .find(|(f, _)| f.sequence == feed.sequence)
            {
                Some((_, v)) if ascending => *v = (*v).max(extreme),
                Some((_, v)) => *v = (*v).min(extreme),
                None => targets.push((feed, extreme)),
            }
        }
    }
    let mut moves: Vec<(QualName, i64)> = Vec::new();
    for (feed, extreme) in targets {
        let during = format!("advancing sequence {}", feed.sequence.human());
        let ascending = feed.increment > 0;
        if (ascending && extreme > feed.max) || (!ascending && extreme < feed.min) {
            report.warnings.push(format!(
                "sequence {} was not advanced: the loaded value {extreme} of {} is beyond its {} {}",
                feed.sequence.human(),
                crate::sql::human_ident(&feed.column),
                if ascending { "maximum" } else { "minimum" },
                if ascending { feed.max } else { feed.min },
            ));
            continue;
        }
        let sql = format!("SELECT last_value, is_called FROM {}", feed.sequence);
        let row = db::query_one(tx, &sql, &[], &during)?;
        let (last, called): (i64, bool) = (row.get(0), row.get(1));
        let next = if called {
            last.saturating_add(feed.increment)
        } else {
            last
        };
        let behind = if ascending {
            extreme >= next
        } else {
            extreme <= next
        };
        if behind {
            moves.push((feed.sequence.clone(), extreme));
        }
    }
    for (sequence, value) in moves {
        let during = format!("advancing sequence {}", sequence.human());
        db::query_one(
            tx,
            "SELECT setval($1::text::regclass, $2, true)",
            &[&sequence.to_string(), &value],
            &during,
        )?;
        report.sequences.push((sequence, value));
    }
    Ok(())
}
