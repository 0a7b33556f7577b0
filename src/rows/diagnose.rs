//! Why a load failed, in terms a user can act on: the file and line of a
//! rejected row, every orphan row of a violated key, every line holding a key a
//! unique index found twice, the sessions holding the locks a load waited for.
//!
//! Each function runs after the failed statement's savepoint was rolled back,
//! on the load's transaction, which is still usable; whatever the search
//! itself fails on is reported inside the error rather than replacing it.

use postgres::error::SqlState;
use postgres::{GenericClient, Transaction};

use crate::database::copy::CopyFailure;
use crate::database::db;
use crate::error::{DbErrorInfo, Error, ErrorKind};
use crate::error::{DuplicateViolation, KeyViolation};
use crate::input::edit::Edits;
use crate::input::lines;
use crate::plan::{Plan, PlannedIndex, PlannedKey, Step};
use crate::rows::edits::FileEdits;
use crate::rows::orphan;

/// A failed statement that is not a COPY (adding a key back, checking the
/// deferred keys): a foreign-key violation of one of the plan's keys (`key`,
/// or the one the server names) becomes that key's violation with every
/// orphan row; anything else is the server's error as it is.
pub(crate) fn statement_error(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    e: postgres::Error,
    during: &str,
    key: Option<&PlannedKey>,
) -> Error {
    if let Some(db) = e.as_db_error() {
        let info = DbErrorInfo::from_db(db).unsharded(&plan.citus_shards);
        if info.code == SqlState::FOREIGN_KEY_VIOLATION
            && let Some(k) = key.or_else(|| violated_key(tx, plan, &info))
        {
            return violation(k, info, Some(e));
        }
    }
    Error::server(e, during)
}

/// Whether a server error is a foreign-key violation, also when Citus's
/// coordinator relays it from a shard as an internal error.
pub(crate) fn is_key_violation(plan: &Plan, e: &postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        DbErrorInfo::from_db(db).unsharded(&plan.citus_shards).code
            == SqlState::FOREIGN_KEY_VIOLATION
    })
}

/// A failed COPY of `step`'s file (or of the part that started at byte
/// `start`): the file and the line the server's line maps to; a key violation
/// of this file's rows lists every orphan row instead.
pub(crate) fn copy_error(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    step: &Step,
    edits: Option<&Edits>,
    e: postgres::Error,
    start: u64,
) -> Error {
    let Some(db) = e.as_db_error() else {
        return Error::server(e, &format!("loading {}", step.file.path.display()));
    };
    let info = DbErrorInfo::from_db(db).unsharded(&plan.citus_shards);
    if info.code == SqlState::FOREIGN_KEY_VIOLATION {
        // A key of this file's rows: list every orphan. Anything else (a trigger
        // writing elsewhere, say) is reported as the COPY error it is.
        if let Some(k) =
            violated_key(tx, plan, &info).filter(|k| k.child_steps.contains(&step.index))
        {
            return violation(k, info, Some(e));
        }
    }
    let line = db
        .where_()
        .and_then(|c| lines::context_line(c, &step.table.name.name))
        .map(|n| step.file.line_of(start, n, edits).unwrap_or(n));
    Error::caused_by(
        ErrorKind::Copy {
            path: step.file.path.clone(),
            line,
            db: info,
            held: None,
        },
        e,
    )
}

/// A COPY that met a key already in a table the load did not empty: how
/// many rows the table held, counted on `fresh` (a connection of its own:
/// the load's may be out of step) after the load rolled back, so that the
/// error can say so and point to `--truncate`.
pub(crate) fn rows_held(fresh: &mut impl GenericClient, plan: &Plan, mut e: Error) -> Error {
    if plan.truncate != crate::plan::Truncate::No {
        return e;
    }
    let ErrorKind::Copy { path, db, held, .. } = e.kind_mut() else {
        return e;
    };
    if db.code != SqlState::UNIQUE_VIOLATION {
        return e;
    }
    let Some(step) = plan.steps.iter().find(|s| s.file.path == *path) else {
        return e;
    };
    let sql = format!("SELECT count(*) FROM {}", step.table.truncate_target());
    if let Some(row) = db::try_query(fresh, &sql, &[])
        .ok()
        .and_then(|r| r.into_iter().next())
    {
        let rows: i64 = row.get(0);
        if rows > 0 {
            *held = Some((step.table.name.human(), u64::try_from(rows).unwrap_or(0)));
        }
    }
    e
}

/// A failed index build: a duplicate key is traced to every line holding it.
pub(crate) fn index_error(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    edited: &FileEdits,
    i: &PlannedIndex,
    e: postgres::Error,
    during: &str,
) -> Error {
    let Some(info) = e
        .as_db_error()
        .map(|db| DbErrorInfo::from_db(db).unsharded(&plan.citus_shards))
        .filter(|info| info.code == SqlState::UNIQUE_VIOLATION)
    else {
        return Error::server(e, during);
    };
    Error::caused_by(
        ErrorKind::Duplicate {
            db: Box::new(info),
            violation: Box::new(duplicates(tx, plan, edited, i)),
        },
        e,
    )
}

/// The rows of index `i`'s file that share a key, or why they could not be
/// listed.
pub(crate) fn duplicates(
    client: &mut impl GenericClient,
    plan: &Plan,
    edited: &FileEdits,
    i: &PlannedIndex,
) -> DuplicateViolation {
    let step = &plan.steps[i.step];
    let index = i
        .index
        .constraint
        .as_ref()
        .map_or(i.index.name.clone(), |c| c.name.clone());
    let mut found = orphan::duplicates(
        client,
        step,
        edited.step(i.step),
        &i.index.columns,
        &i.index.column_types,
        i.index.expression_or_partial,
        plan.max_examples,
    )
    .unwrap_or_else(|why| DuplicateViolation {
        search_failed: Some(why.to_string()),
        ..DuplicateViolation::default()
    });
    found.index = index;
    found.table = i.table.human();
    found
}

/// A key that was `NOT VALID` comes back `NOT VALID`, and so checks nothing it
/// did not see inserted; but had it stayed in place it would have checked every
/// loaded row. So the loaded rows are checked here, from the files, as the key
/// would have checked them: leaving the key as it was must not let orphans in.
///
/// A file that leaves out a key column (its rows took a default) cannot be
/// checked from the file; those rows go unchecked, as the older rows of a
/// `NOT VALID` key do.
pub(crate) fn not_valid_orphans(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    edited: &FileEdits,
    k: &PlannedKey,
) -> Result<(), Error> {
    let found = match orphan::find(tx, plan, edited, k, plan.max_examples, &[]) {
        Ok(o) => o,
        Err(_) => return Ok(()),
    };
    let Some(first) = found.examples.first() else {
        return Ok(());
    };
    // The report the key itself would have given for the first row.
    let db = DbErrorInfo {
        severity: "ERROR".into(),
        code: SqlState::FOREIGN_KEY_VIOLATION,
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
    Err(Error::new(ErrorKind::ForeignKey {
        db: Box::new(db),
        violation: Box::new(found),
    }))
}

/// Key `k`'s violation, its orphan rows not searched: a check lists them
/// after the rollback, with every other violated key (see
/// `Loader::every_problem`, which says why it lists none when it does not).
fn violation(k: &PlannedKey, db: DbErrorInfo, source: Option<postgres::Error>) -> Error {
    let violation = KeyViolation::not_searched(&k.key.name, k.table.human(), k.ref_table.human());
    let kind = ErrorKind::ForeignKey {
        db: Box::new(db),
        violation: Box::new(violation),
    };
    match source {
        Some(e) => Error::caused_by(kind, e),
        None => Error::new(kind),
    }
}

/// The orphan rows of key `k`'s files, or why they could not be listed.
pub(crate) fn orphans(
    client: &mut impl GenericClient,
    plan: &Plan,
    edited: &FileEdits,
    k: &PlannedKey,
    in_file_order: &[u32],
) -> KeyViolation {
    orphan::find(client, plan, edited, k, plan.max_examples, in_file_order).unwrap_or_else(|why| {
        KeyViolation {
            constraint: k.key.name.clone(),
            child: k.table.human(),
            parent: k.ref_table.human(),
            search_failed: Some(why.to_string()),
            ..KeyViolation::default()
        }
    })
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

fn violated_key<'p>(
    tx: &mut Transaction<'_>,
    plan: &'p Plan,
    db: &DbErrorInfo,
) -> Option<&'p PlannedKey> {
    let constraint = db.constraint.as_deref()?;
    if let (Some(table), Some(schema)) = (db.table.as_deref(), db.schema.as_deref())
        && let Ok(rows) = db::try_query(tx, VIOLATED_KEY, &[&constraint, &table, &schema])
        && let Some(row) = rows.first()
    {
        let oid: u32 = row.get(0);
        return plan.keys.iter().find(|k| k.key.oid == oid);
    }
    // A report without table and schema: the name is all there is.
    let mut named = plan.keys.iter().filter(|k| k.key.name == constraint);
    match (named.next(), named.next()) {
        (Some(k), None) => Some(k),
        _ => None,
    }
}

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

/// On a Citus worker: who holds locks on the shards of the named tables
/// (`{names}`, a text array of qualified names), one line each.
const WORKER_HOLDERS: &str = "
SELECT string_agg(format('pid %s (%s, %s, transaction open for %s): %s',
                         a.pid, coalesce(a.usename::text, '?'), coalesce(a.state, '?'),
                         coalesce(date_trunc('second', now() - a.xact_start)::text, '?'),
                         left(coalesce(a.query, ''), 200)), E'\\n' ORDER BY a.pid)
  FROM pg_stat_activity a
 WHERE a.pid IN (SELECT l.pid FROM pg_locks l
                   JOIN pg_dist_shard s
                     ON l.relation = to_regclass(shard_name(s.logicalrelid, s.shardid))
                  WHERE l.granted AND l.pid <> pg_backend_pid()
                    AND l.database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())
                    AND s.logicalrelid IN (SELECT to_regclass(n) FROM unnest({names}::text[]) n))";

/// The sessions on Citus workers that hold locks on shards of the Citus
/// tables the load writes or its keys reach (`run_command_on_workers`), named with their worker; none
/// when the question fails.
fn worker_holders(client: &mut impl GenericClient, plan: &Plan) -> Vec<String> {
    let mut names: Vec<String> = plan
        .steps
        .iter()
        .map(|s| (s.table.oid, &s.table.name))
        .chain(
            plan.keys
                .iter()
                .flat_map(|k| [(k.key.table, &k.table), (k.key.ref_table, &k.ref_table)]),
        )
        .filter(|(oid, _)| plan.citus_tables.contains(oid))
        .map(|(_, name)| name.to_string())
        .collect();
    names.sort();
    names.dedup();
    if names.is_empty() {
        return Vec::new();
    }
    let array = crate::sql::literal(&format!(
        "{{{}}}",
        names
            .iter()
            .map(|n| format!("\"{}\"", n.replace('\\', "\\\\").replace('"', "\\\"")))
            .collect::<Vec<_>>()
            .join(",")
    ));
    let command = WORKER_HOLDERS.replace("{names}", &array);
    let Ok(rows) = db::try_query(
        client,
        "SELECT nodename::text, nodeport::int, result FROM run_command_on_workers($1)
          WHERE success AND result <> '' ORDER BY 1, 2",
        &[&command],
    ) else {
        return Vec::new();
    };
    rows.iter()
        .flat_map(|r| {
            let (node, port, result): (String, i32, String) = (r.get(0), r.get(1), r.get(2));
            result
                .lines()
                .map(|l| format!("on worker {node}:{port}: {l}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Adds the sessions that hold locks on the load's tables to an error that a
/// lock wait (`lock_timeout`) or a cancelled statement (`statement_timeout`)
/// caused; other errors come back as they are. Ask on a fresh connection: the
/// load's own may be out of step after a COPY that failed as it started.
pub(crate) fn explain_wait(client: &mut impl GenericClient, plan: &Plan, e: Error) -> Error {
    let waited = [SqlState::LOCK_NOT_AVAILABLE, SqlState::QUERY_CANCELED]
        .iter()
        .any(|s| e.sqlstate() == Some(s));
    if !waited || !matches!(e.kind(), ErrorKind::Sql { .. } | ErrorKind::Copy { .. }) {
        return e;
    }
    let mut tables: Vec<u32> = plan.steps.iter().map(|s| s.table.oid).collect();
    for k in &plan.keys {
        tables.extend([k.key.table, k.key.ref_table]);
    }
    let mut blockers: Vec<String> = db::try_query(client, HOLDERS, &[&tables])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
        .unwrap_or_default();
    if plan.citus.is_some() {
        blockers.extend(worker_holders(client, plan));
    }
    Error::new(ErrorKind::Blocked {
        error: Box::new(e),
        blockers,
    })
}
/// A COPY that failed on the file's side: unreadable, or read otherwise by
/// the server than it is written.
pub(crate) fn file_error(step: &Step, failure: CopyFailure) -> Error {
    let path = step.file.path.clone();
    Error::new(match failure {
        CopyFailure::File(source) => ErrorKind::Io { path, source },
        CopyFailure::EndMarker { line } => ErrorKind::EndMarker { path, line },
        CopyFailure::RowCount { file, server } => ErrorKind::RowCount { path, file, server },
        CopyFailure::Server { error, .. } => return Error::server(error, "loading"),
    })
}
