//! The DDL a load issues: dropping (or unenforcing) the keys and indexes a
//! plan sets aside, and putting each back exactly as it was. The statement
//! builders ([`KeySql`], [`IndexSql`]) are pure and serve both runners and the
//! journal; [`restore_key`] and [`build_index`] run them under a savepoint of
//! the load's transaction and hand failures to [`crate::rows::diagnose`].
//!
//! Every name is quoted ([`crate::sql`]); definitions come from the catalog,
//! read with only pg_catalog on the search path, so they are qualified.

use postgres::Transaction;

use crate::database::catalog::{self, Table};
use crate::database::db;
use crate::error::Error;
use crate::plan::{KeyAction, Plan, PlannedIndex, PlannedKey};
use crate::rows::diagnose;
use crate::rows::edits::FileEdits;
use crate::sql::{QualName, ident, literal};

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

/// Empties every loaded table in one `TRUNCATE` (the keys among them stay
/// in place, so they must go in one statement), when the plan empties them
/// up front.
pub(crate) fn truncate_upfront(tx: &mut Transaction<'_>, plan: &Plan) -> Result<(), Error> {
    if plan.truncate != crate::plan::Truncate::Upfront {
        return Ok(());
    }
    // A table outside the load that the plan found empty must still be so,
    // now that the load holds its lock: rows written since are not emptied
    // without --cascade.
    let during = "checking that the tables emptied with the loaded ones are still empty";
    for a in &plan.truncate_also {
        let target = a.table.truncate_target();
        db::exec(
            tx,
            &format!("LOCK TABLE {target} IN ACCESS EXCLUSIVE MODE"),
            during,
        )?;
        if a.rows == 0 && !plan.cascade {
            let row = db::query_one(tx, &format!("SELECT count(*) FROM {target}"), &[], during)?;
            let rows = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
            if rows > 0 {
                let now = crate::plan::AlsoEmptied { rows, ..a.clone() };
                return Err(Error::new(crate::error::ErrorKind::TruncateReferenced {
                    tables: vec![now.describe()],
                }));
            }
        }
    }
    let names: Vec<String> = plan
        .steps
        .iter()
        .map(|s| &s.table)
        .chain(plan.truncate_also.iter().map(|a| &a.table))
        .map(Table::truncate_target)
        .collect();
    db::exec(
        tx,
        &format!("TRUNCATE {}", names.join(", ")),
        "emptying the tables first",
    )
}

/// `ALTER TABLE ... DROP CONSTRAINT` for a key.
pub(crate) fn drop_key_sql(k: &PlannedKey) -> String {
    drop_constraint_sql(&k.table.to_string(), &k.key.name)
}

/// `ALTER TABLE <table> DROP CONSTRAINT <name>`, `table` as SQL writes it.
pub(crate) fn drop_constraint_sql(table: &str, name: &str) -> String {
    format!("ALTER TABLE {table} DROP CONSTRAINT {}", ident(name))
}

/// `ALTER TABLE ... ALTER CONSTRAINT ... NOT ENFORCED` for a key.
pub(crate) fn unenforce_key_sql(k: &PlannedKey) -> String {
    unenforce_constraint_sql(&k.table.to_string(), &k.key.name)
}

/// `ALTER TABLE <table> ALTER CONSTRAINT <name> NOT ENFORCED`.
pub(crate) fn unenforce_constraint_sql(table: &str, name: &str) -> String {
    format!(
        "ALTER TABLE {table} ALTER CONSTRAINT {} NOT ENFORCED",
        ident(name)
    )
}

/// Drops an index: through its constraint when it backs one.
pub(crate) fn drop_index_sql(i: &PlannedIndex) -> String {
    match &i.index.constraint {
        Some(c) => drop_constraint_sql(&i.table.to_string(), &c.name),
        None => format!(
            "DROP INDEX {}",
            QualName::new(i.table.schema.clone(), i.index.name.clone())
        ),
    }
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

/// Borrows [`set_aside`]'s list as [`catalog::describe`] takes it.
pub(crate) fn as_described(objects: &[(bool, String, String)]) -> Vec<catalog::Described<'_>> {
    objects
        .iter()
        .map(|(k, t, n)| (*k, t.as_str(), n.as_str()))
        .collect()
}

/// Puts a key set aside back exactly as it was: a dropped key with the same name
/// and definition (actions, MATCH type, deferrability), validity and comment; an
/// unenforced one enforced again (which validates it). Under a savepoint: a
/// violation is rolled back and then diagnosed (every orphan row listed).
pub(crate) fn restore_key(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    edited: &FileEdits,
    k: &PlannedKey,
) -> Result<(), Error> {
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
    let mut sp = db::begin(tx, &during)?;
    // Without NOT VALID the ADD itself validates: its violations are listed too.
    let added = db::try_exec(&mut sp, &sql.add).and_then(|()| match &sql.validate {
        Some(validate) => db::try_exec(&mut sp, validate),
        None => Ok(()),
    });
    if let Err(e) = added {
        db::rollback(sp, &during)?;
        return Err(diagnose::statement_error(tx, plan, e, &during, Some(k)));
    }
    if !k.key.validated {
        diagnose::not_valid_orphans(&mut sp, plan, edited, k)?;
    }
    if !k.key.clones.is_empty() && matches!(k.action, KeyAction::Drop { .. }) {
        restore_clones(&mut sp, k, &during)?;
    }
    if let Some(comment) = &sql.comment {
        db::exec(&mut sp, comment, &during)?;
    }
    db::commit(sp, &during)
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

/// Builds an index dropped before the data, exactly as it was: through its
/// constraint (whose definition carries storage parameters and tablespace) or
/// its `CREATE INDEX`, in its tablespace, with its comments and CLUSTER mark.
/// Under a savepoint: a duplicate key is rolled back and then traced to the
/// file lines that hold it.
pub(crate) fn build_index(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    edited: &FileEdits,
    i: &PlannedIndex,
) -> Result<(), Error> {
    let during = format!("building index \"{}\" on {}", i.index.name, i.table.human());
    let sql = IndexSql::new(i);
    let mut sp = db::begin(tx, &during)?;
    db::exec(&mut sp, &sql.tablespace, &during)?;
    if let Err(e) = db::try_exec(&mut sp, &sql.create) {
        db::rollback(sp, &during)?;
        return Err(diagnose::index_error(tx, plan, edited, i, e, &during));
    }
    for statement in &sql.after {
        db::exec(&mut sp, statement, &during)?;
    }
    db::commit(sp, &during)
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

#[cfg(test)]
mod tests {
    //! The statements as a reviewer reads them (insta snapshots): what a key
    //! or an index is put back with.

    use super::*;
    use crate::plan::{ForeignKey, Index, IndexConstraint, KeyClone};

    fn planned(key: ForeignKey, action: KeyAction) -> PlannedKey {
        PlannedKey {
            key,
            table: QualName::new("Sales", "Order \"Lines\""),
            table_partitioned: false,
            ref_table: QualName::new("public", "product"),
            ref_partitioned: false,
            child_steps: vec![1],
            parent_steps: vec![0],
            action,
        }
    }

    fn key() -> ForeignKey {
        ForeignKey {
            oid: 1,
            name: "lines_product_fk".into(),
            definition: "FOREIGN KEY (product_id) REFERENCES public.product(id) ON DELETE CASCADE DEFERRABLE"
                .into(),
            comment: Some("the product's 'own' line".into()),
            validated: true,
            enforced: true,
            ..ForeignKey::default()
        }
    }

    #[test]
    fn a_dropped_key_comes_back_not_valid_then_validated_with_its_comment() {
        let k = planned(
            key(),
            KeyAction::Drop {
                not_valid_first: true,
            },
        );
        insta::assert_snapshot!(KeySql::new(&k).statements().join(";\n"));
        insta::assert_snapshot!("drop", drop_key_sql(&k));
    }

    #[test]
    fn a_key_that_was_not_valid_comes_back_not_valid_and_unvalidated() {
        let mut not_valid = key();
        not_valid.validated = false;
        not_valid.definition.push_str(" NOT VALID");
        let k = planned(
            not_valid,
            KeyAction::Drop {
                not_valid_first: true,
            },
        );
        insta::assert_snapshot!(KeySql::new(&k).statements().join(";\n"));
    }

    #[test]
    fn a_key_of_a_partitioned_table_before_18_is_added_with_a_validating_pass() {
        let mut partitioned = key();
        partitioned.clones = vec![KeyClone {
            table: 7,
            ref_table: 3,
            name: "lines_2026's own".into(),
            comment: Some("a copy's comment with $fkload$ in it".into()),
        }];
        let k = planned(
            partitioned,
            KeyAction::Drop {
                not_valid_first: false,
            },
        );
        insta::assert_snapshot!(KeySql::new(&k).statements().join(";\n"));
    }

    #[test]
    fn an_unenforced_key_is_enforced_again() {
        let k = planned(key(), KeyAction::Unenforce);
        insta::assert_snapshot!(KeySql::new(&k).statements().join(";\n"));
        insta::assert_snapshot!("unenforce", unenforce_key_sql(&k));
    }

    #[test]
    fn an_index_comes_back_in_its_tablespace_with_comments_and_cluster_mark() {
        let index = PlannedIndex {
            index: Index {
                oid: 9,
                table: 2,
                name: "lines_pkey".into(),
                definition: "CREATE UNIQUE INDEX lines_pkey ON \"Sales\".\"Order \"\"Lines\"\"\" USING btree (id)".into(),
                constraint: Some(IndexConstraint {
                    name: "lines_pkey".into(),
                    definition: "PRIMARY KEY (id) WITH (fillfactor='90')".into(),
                    kind: 'p',
                    comment: Some("the key".into()),
                }),
                comment: Some("the index".into()),
                clustered: true,
                tablespace: Some("fast space".into()),
                ..Index::default()
            },
            table: QualName::new("Sales", "Order \"Lines\""),
            step: 1,
        };
        insta::assert_snapshot!(IndexSql::new(&index).statements().join(";\n"));
        insta::assert_snapshot!("drop_index", drop_index_sql(&index));
        let mut plain = index;
        plain.index.constraint = None;
        plain.index.tablespace = None;
        plain.index.clustered = false;
        plain.index.definition =
            "CREATE INDEX lines_note ON \"Sales\".\"Order \"\"Lines\"\"\" USING btree (note)"
                .into();
        plain.index.name = "lines_note".into();
        insta::assert_snapshot!(
            "plain_index",
            IndexSql::new(&plain).statements().join(";\n")
        );
        insta::assert_snapshot!("drop_plain_index", drop_index_sql(&plain));
    }
}
