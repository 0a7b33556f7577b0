//! What the database says: tables, columns, foreign keys and the sequences that
//! feed columns, read from the system catalogs in a handful of queries.
//!
//! Every query is a commented constant: each filter says why it is there. Nothing
//! here writes. Names are kept exactly as the catalog spells them; quoting happens
//! where SQL is built ([`crate::sql`]).
//!
//! Reads need PostgreSQL 12 or later (`pg_partition_ancestors`, `attgenerated`).

use std::collections::HashMap;

use postgres::GenericClient;

use crate::database::db;
use crate::error::Error;
use crate::input::source::FileName;
use crate::sql::QualName;

/// Server version, the schemas of the search path (for file names), and the
/// search_path setting itself (to restore it after the catalog reads).
const SESSION: &str = "
SELECT current_setting('server_version_num')::int4,
       current_schemas(false)::text[],
       current_setting('search_path')";

/// The catalog is read with only pg_catalog on the search path, so that every
/// name the server writes for us (`pg_get_constraintdef`, `pg_get_indexdef`,
/// `format_type`) comes schema-qualified: a trigger that changes search_path
/// during the load must not make a re-added key reference another table.
const PIN_SEARCH_PATH: &str = "SELECT pg_catalog.set_config('search_path', 'pg_catalog', false)";
const RESTORE_SEARCH_PATH: &str = "SELECT pg_catalog.set_config('search_path', $1, false)";

/// Every table a file could name.
/// - `relkind IN ('r', 'p')`: ordinary and partitioned tables take COPY; views,
///   sequences and foreign tables are not load targets.
/// - system schemas are left out: nobody loads pg_catalog from a CSV directory, and
///   temporary schemas belong to other sessions.
/// - the partition ancestors (nearest first, the table itself left out) let a key
///   declared on a partition count for the partitioned table whose file loads it.
/// - `fkload.journal` is left out: it is fkload's own record of a parallel load
///   (see `journal`), never user data. No file may load into it (`journal.csv`
///   under a `fkload` folder, `fkload.journal.csv`), and neither a plan nor
///   `graph --all` shows it. Other tables of a schema named `fkload` are the
///   user's and stay.
const TABLES: &str = "
SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text,
       ARRAY(SELECT a.relid::oid
               FROM pg_partition_ancestors(c.oid) WITH ORDINALITY AS a(relid, i)
              WHERE a.relid <> c.oid
              ORDER BY a.i)
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT (n.nspname = 'fkload' AND c.relname = 'journal')";

/// The columns of the tables to load, in table order.
/// - `attnum > 0` skips system columns (ctid, xmin, ...); `NOT attisdropped` skips
///   the ghosts of dropped columns.
/// - `format_type` gives the type as SQL writes it (typmod included, domains quoted
///   and qualified as needed), for the casts of the orphan search.
/// - `attnotnull`: whether `--on-orphan null` may set the column NULL.
const COLUMNS: &str = "
SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod),
       a.attgenerated::text, a.attnotnull
  FROM pg_attribute a
 WHERE a.attrelid = ANY($1)
   AND a.attnum > 0
   AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum";

/// Every foreign key of the database, with what is needed to order tables by it,
/// to drop and re-create it exactly, and to search its orphans.
/// - `contype = 'f'`: foreign keys only; checks and unique keys do not order loads.
/// - `conparentid = 0`: a key declared on a partitioned table is copied to each
///   partition (and, when it references a partitioned table, to each referenced
///   partition); the copies have `conparentid <> 0`, follow their parent and are
///   not separate keys. Dropping or re-adding the parent handles them all.
/// - self-references are kept here; `plan::graph` sets them aside because the
///   server checks them at the end of each COPY statement.
/// - `pg_get_constraintdef` is the definition as pg_dump writes it, including
///   `NOT VALID`, `MATCH FULL`, actions and deferrability (read with the search
///   path pinned, so every name in it is qualified).
/// - `name_shared`: another constraint of the schema has the same name, so
///   `SET CONSTRAINTS schema.name` would reach it too.
/// - the copies on partitions (recursively: sub-partitions copy the copies), by
///   table, referenced table, name and comment, to put their names and comments
///   back after a re-add; `clone_elsewhere` when one lives in another schema,
///   where `SET CONSTRAINTS schema.name` would not reach it.
/// - `pg_get_partition_constraintdef`: which rows a key declared on a partition
///   applies to, when the file loads the partitioned table.
/// - `conenforced` (PostgreSQL 18; read through `to_jsonb` so that one query
///   serves every version, older servers having no such column): a key
///   declared `NOT ENFORCED` checks no row.
/// - the equality operators the key compares with (`conpfeqop`), with their
///   input types, so the orphan search compares exactly as the key does.
const FOREIGN_KEYS: &str = "
WITH RECURSIVE clones AS (
    SELECT c.oid AS root, k.oid, k.conrelid, k.confrelid, k.conname, k.connamespace,
           obj_description(k.oid, 'pg_constraint') AS comment
      FROM pg_constraint c JOIN pg_constraint k ON k.conparentid = c.oid
     WHERE c.contype = 'f' AND c.conparentid = 0
    UNION ALL
    SELECT cl.root, k.oid, k.conrelid, k.confrelid, k.conname, k.connamespace,
           obj_description(k.oid, 'pg_constraint')
      FROM clones cl JOIN pg_constraint k ON k.conparentid = cl.oid
)
SELECT c.oid, c.conname::text, c.conrelid, c.confrelid, c.conindid,
       c.condeferrable, c.condeferred, c.convalidated, c.confmatchtype::text,
       pg_get_constraintdef(c.oid),
       obj_description(c.oid, 'pg_constraint'),
       ARRAY(SELECT a.attname::text
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.i),
       ARRAY(SELECT a.attname::text
               FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
              ORDER BY k.i),
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod)
               FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
              ORDER BY k.i),
       ARRAY(SELECT format_type(a.atttypid, a.atttypmod)
               FROM unnest(c.confkey) WITH ORDINALITY AS k(attnum, i)
               JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum
              ORDER BY k.i),
       EXISTS (SELECT 1 FROM pg_constraint o
                WHERE o.connamespace = c.connamespace AND o.conname = c.conname
                  AND o.oid <> c.oid AND o.conparentid = 0),
       ARRAY(SELECT cl.conrelid FROM clones cl WHERE cl.root = c.oid ORDER BY cl.oid),
       ARRAY(SELECT cl.confrelid FROM clones cl WHERE cl.root = c.oid ORDER BY cl.oid),
       ARRAY(SELECT cl.conname::text FROM clones cl WHERE cl.root = c.oid ORDER BY cl.oid),
       ARRAY(SELECT cl.comment FROM clones cl WHERE cl.root = c.oid ORDER BY cl.oid),
       EXISTS (SELECT 1 FROM clones cl WHERE cl.root = c.oid AND cl.connamespace <> c.connamespace),
       pg_get_partition_constraintdef(c.conrelid),
       ARRAY(SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname)
               FROM unnest(c.conpfeqop) WITH ORDINALITY AS e(op, i)
               JOIN pg_operator o ON o.oid = e.op
               JOIN pg_namespace n ON n.oid = o.oprnamespace
              ORDER BY e.i),
       ARRAY(SELECT format_type(o.oprleft, NULL)
               FROM unnest(c.conpfeqop) WITH ORDINALITY AS e(op, i)
               JOIN pg_operator o ON o.oid = e.op
              ORDER BY e.i),
       ARRAY(SELECT format_type(o.oprright, NULL)
               FROM unnest(c.conpfeqop) WITH ORDINALITY AS e(op, i)
               JOIN pg_operator o ON o.oid = e.op
              ORDER BY e.i),
       coalesce((to_jsonb(c) ->> 'conenforced')::bool, true)
  FROM pg_constraint c
 WHERE c.contype = 'f'
   AND c.conparentid = 0
 ORDER BY c.conname, c.oid";

/// The sequences that feed columns of the tables to load:
/// - through a column default that calls `nextval` (serial columns, and also a
///   sequence that is not OWNED BY the column, as Pagila's are): the default
///   (`pg_attrdef`) depends on the sequence with a normal dependency;
/// - through an identity column: the sequence depends on the column internally
///   (`deptype = 'i'`).
///
/// Only integer columns (or domains over them) count: the loaded values say where
/// the sequence must go only when the column holds the sequence's values as they
/// are, and `max(col)::int8` must not fail on, say, a `'X' || nextval()` text key.
///
/// The increment's sign says whether the next value is above or below the data.
const SEQUENCES: &str = "
SELECT ad.adrelid, a.attname::text, sn.nspname::text, s.relname::text, q.seqincrement,
       q.seqmin, q.seqmax
  FROM pg_attrdef ad
  JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                  AND d.refclassid = 'pg_class'::regclass
  JOIN pg_class s ON s.oid = d.refobjid AND s.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_sequence q ON q.seqrelid = s.oid
 WHERE ad.adrelid = ANY($1)
   AND (SELECT coalesce(nullif(t.typbasetype, 0), t.oid) FROM pg_type t WHERE t.oid = a.atttypid)
       IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype)
UNION
SELECT d.refobjid, a.attname::text, sn.nspname::text, s.relname::text, q.seqincrement,
       q.seqmin, q.seqmax
  FROM pg_depend d
  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
  JOIN pg_namespace sn ON sn.oid = s.relnamespace
  JOIN pg_sequence q ON q.seqrelid = s.oid
  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
 WHERE d.classid = 'pg_class'::regclass
   AND d.refclassid = 'pg_class'::regclass
   AND d.deptype = 'i'
   AND d.refobjid = ANY($1)
 ORDER BY 1, 2, 3, 4";

/// The indexes of the tables to load, for rebuilding them after the data.
/// - the constraint join finds the primary key, unique or exclusion constraint an
///   index backs (`conindid`, on the same table): such an index is dropped and
///   re-created through its constraint, whose definition includes the index's
///   storage parameters and tablespace.
/// - `pg_get_indexdef` is the `CREATE INDEX` statement as pg_dump writes it; it
///   leaves out the tablespace, which is read separately.
/// - the column names and types (plain columns only; 0 is an expression) let a
///   unique violation at the rebuild be traced to file lines.
const INDEXES: &str = "
SELECT i.indexrelid, i.indrelid, ic.relname::text, pg_get_indexdef(i.indexrelid),
       c.conname::text, pg_get_constraintdef(c.oid), c.contype::text,
       obj_description(c.oid, 'pg_constraint'), obj_description(i.indexrelid, 'pg_class'),
       i.indisclustered, i.indisreplident, ts.spcname::text,
       ARRAY(SELECT coalesce(a.attname::text, '')
               FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
               LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              ORDER BY k.n),
       ARRAY(SELECT coalesce(format_type(a.atttypid, a.atttypmod), '')
               FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY AS k(attnum, n)
               LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              ORDER BY k.n),
       i.indexprs IS NOT NULL OR i.indpred IS NOT NULL
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
                           AND c.contype IN ('p', 'u', 'x')
  LEFT JOIN pg_tablespace ts ON ts.oid = ic.reltablespace
 WHERE i.indrelid = ANY($1)
 ORDER BY i.indrelid, ic.relname";

/// An index of a table to load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Index {
    pub oid: u32,
    pub table: u32,
    pub name: String,
    /// `CREATE [UNIQUE] INDEX ...` without the tablespace.
    pub definition: String,
    /// The constraint the index backs, if any: name, definition, kind (`p`, `u`,
    /// `x`) and comment.
    pub constraint: Option<IndexConstraint>,
    pub comment: Option<String>,
    pub clustered: bool,
    pub replica_identity: bool,
    pub tablespace: Option<String>,
    /// Key column names and types; an empty name is an expression.
    pub columns: Vec<String>,
    pub column_types: Vec<String>,
    /// An expression or partial index: its violations cannot be traced to lines.
    pub expression_or_partial: bool,
}

/// A constraint backed by an index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct IndexConstraint {
    pub name: String,
    pub definition: String,
    pub kind: char,
    pub comment: Option<String>,
}

/// A table fkload may load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Table {
    pub oid: u32,
    pub name: QualName,
    /// True for a partitioned table (`relkind = 'p'`).
    pub partitioned: bool,
    /// Partition ancestors, nearest first.
    pub ancestors: Vec<u32>,
    /// What Citus makes of it; `None` for a table Citus does not manage.
    pub citus: Option<crate::database::citus::Kind>,
}

impl Table {
    /// `ONLY t` for a table whose file holds its rows alone (inheritance
    /// children have files of their own); a partitioned table with its
    /// partitions.
    pub(crate) fn truncate_target(&self) -> String {
        if self.partitioned {
            self.name.to_string()
        } else {
            format!("ONLY {}", self.name)
        }
    }
}

/// A column of a table to load.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Column {
    pub name: String,
    /// The type as SQL writes it.
    pub type_sql: String,
    /// A stored (or virtual) generated column: it cannot be loaded.
    pub generated: bool,
    /// `NOT NULL`.
    pub not_null: bool,
}

/// A foreign key as the catalog describes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ForeignKey {
    pub oid: u32,
    pub name: String,
    /// The table the key is declared on (the referencing side).
    pub table: u32,
    /// The referenced table.
    pub ref_table: u32,
    /// The unique index of the referenced table the key checks against.
    pub ref_index: u32,
    pub deferrable: bool,
    pub initially_deferred: bool,
    /// False for a key added `NOT VALID` and never validated.
    pub validated: bool,
    /// `f` (MATCH FULL), `s` (MATCH SIMPLE) or `p` (MATCH PARTIAL).
    pub match_type: char,
    /// `pg_get_constraintdef`: `FOREIGN KEY (a) REFERENCES t(b) ...`.
    pub definition: String,
    pub comment: Option<String>,
    pub columns: Vec<String>,
    pub ref_columns: Vec<String>,
    pub column_types: Vec<String>,
    pub ref_column_types: Vec<String>,
    /// Another constraint of the schema bears the same name.
    pub name_shared: bool,
    /// The copies of the key on partitions.
    pub clones: Vec<KeyClone>,
    /// A copy lives in another schema than the key.
    pub clone_elsewhere: bool,
    /// For a key declared on a partition: the partition's bound, as a condition
    /// on column names.
    pub partition_qual: Option<String>,
    /// `OPERATOR(schema.=)` per column, comparing referenced (left) with
    /// referencing (right) values, and the operators' input types.
    pub eq_operators: Vec<String>,
    pub eq_left_types: Vec<String>,
    pub eq_right_types: Vec<String>,
    /// False for a key declared `NOT ENFORCED` (PostgreSQL 18): it checks no
    /// row, so it orders nothing, but it still depends on the referenced index
    /// and still stops a `TRUNCATE` of the referenced table alone.
    pub enforced: bool,
}

/// A key's copy on a partition (`conparentid <> 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyClone {
    pub table: u32,
    pub ref_table: u32,
    pub name: String,
    pub comment: Option<String>,
}

/// A sequence that feeds a column.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SequenceFeed {
    pub table: u32,
    pub column: String,
    pub sequence: QualName,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
}

/// What the catalog says about the whole database, for planning.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub server_version_num: i32,
    pub search_path: Vec<String>,
    /// The session's `search_path` setting, restored by [`Catalog::done`].
    pub search_path_setting: String,
    pub tables: Vec<Table>,
    pub foreign_keys: Vec<ForeignKey>,
    /// Citus in the database (its version), if it has it.
    pub citus: Option<String>,
    /// The ids of Citus's shards.
    pub citus_shards: Vec<i64>,
    by_oid: HashMap<u32, usize>,
}

/// Runs a catalog query, turning a server error into [`ErrorKind::Sql`](crate::ErrorKind::Sql).
fn query(
    client: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    during: &str,
) -> Result<Vec<postgres::Row>, Error> {
    db::query(client, sql, params, during)
}

impl Catalog {
    /// Reads tables and foreign keys, and pins the session's search_path to
    /// pg_catalog until [`Catalog::done`] (see `PIN_SEARCH_PATH`).
    ///
    /// # Errors
    /// [`ErrorKind::Sql`](crate::ErrorKind::Sql) when a catalog query fails (for example on a server older
    /// than 12), [`ErrorKind::ConnectionLost`](crate::ErrorKind::ConnectionLost) when the connection drops.
    pub fn read(client: &mut impl GenericClient) -> Result<Catalog, Error> {
        let during = "reading the catalog";
        let session = query(client, SESSION, &[], during)?;
        let (server_version_num, search_path, search_path_setting) = match session.first() {
            Some(row) => (row.get(0), row.get(1), row.get(2)),
            None => (0, Vec::new(), String::new()),
        };
        query(client, PIN_SEARCH_PATH, &[], during)?;
        let citus = crate::database::citus::read(client)?;
        let tables: Vec<Table> = query(client, TABLES, &[], during)?
            .iter()
            .map(|r| {
                let oid: u32 = r.get(0);
                Table {
                    oid,
                    name: QualName::new(r.get::<_, String>(1), r.get::<_, String>(2)),
                    partitioned: r.get::<_, String>(3) == "p",
                    ancestors: r.get(4),
                    citus: citus.as_ref().and_then(|c| c.tables.get(&oid).cloned()),
                }
            })
            .collect();
        let foreign_keys = query(client, FOREIGN_KEYS, &[], during)?
            .iter()
            .map(|r| ForeignKey {
                oid: r.get(0),
                name: r.get(1),
                table: r.get(2),
                ref_table: r.get(3),
                ref_index: r.get(4),
                deferrable: r.get(5),
                initially_deferred: r.get(6),
                validated: r.get(7),
                match_type: r.get::<_, String>(8).chars().next().unwrap_or('s'),
                definition: r.get(9),
                comment: r.get(10),
                columns: r.get(11),
                ref_columns: r.get(12),
                column_types: r.get(13),
                ref_column_types: r.get(14),
                name_shared: r.get(15),
                clones: {
                    let rels: Vec<u32> = r.get(16);
                    let refs: Vec<u32> = r.get(17);
                    let names: Vec<String> = r.get(18);
                    let comments: Vec<Option<String>> = r.get(19);
                    rels.into_iter()
                        .zip(refs)
                        .zip(names)
                        .zip(comments)
                        .map(|(((table, ref_table), name), comment)| KeyClone {
                            table,
                            ref_table,
                            name,
                            comment,
                        })
                        .collect()
                },
                clone_elsewhere: r.get(20),
                partition_qual: r.get(21),
                eq_operators: r.get(22),
                eq_left_types: r.get(23),
                eq_right_types: r.get(24),
                enforced: r.get(25),
            })
            .collect();
        let by_oid = tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
        Ok(Catalog {
            server_version_num,
            search_path,
            search_path_setting,
            tables,
            foreign_keys,
            citus_shards: citus.as_ref().map(|c| c.shards.clone()).unwrap_or_default(),
            citus: citus.map(|c| c.version),
            by_oid,
        })
    }

    /// A catalog made by hand, for planning without a server.
    #[cfg(test)]
    pub fn of(
        server_version_num: i32,
        tables: Vec<Table>,
        foreign_keys: Vec<ForeignKey>,
    ) -> Catalog {
        let by_oid = tables.iter().enumerate().map(|(i, t)| (t.oid, i)).collect();
        Catalog {
            server_version_num,
            search_path: vec!["public".into()],
            search_path_setting: "public".into(),
            tables,
            foreign_keys,
            citus: None,
            citus_shards: Vec::new(),
            by_oid,
        }
    }

    /// Ends the catalog reads: gives the session its search_path back (the load's
    /// triggers and defaults run under it).
    ///
    /// # Errors
    /// As [`Catalog::read`].
    pub fn done(&self, client: &mut impl GenericClient) -> Result<(), Error> {
        query(
            client,
            RESTORE_SEARCH_PATH,
            &[&self.search_path_setting],
            "restoring search_path",
        )
        .map(|_| ())
    }

    /// The table with this oid, if it is one fkload may load.
    pub fn table(&self, oid: u32) -> Option<&Table> {
        self.by_oid.get(&oid).map(|&i| &self.tables[i])
    }

    /// The tables a file name can stand for: each reading of the name that names an
    /// existing table. A reading without a schema takes the first schema of the
    /// search path that has the table, as an unqualified name in SQL would.
    pub fn resolve(&self, name: &FileName) -> Vec<&Table> {
        let mut found: Vec<&Table> = Vec::new();
        for (schema, table) in name.readings() {
            let hit = match schema {
                Some(s) => self
                    .tables
                    .iter()
                    .find(|t| t.name.schema == s && t.name.name == table),
                None => self.search_path.iter().find_map(|s| {
                    self.tables
                        .iter()
                        .find(|t| &t.name.schema == s && t.name.name == table)
                }),
            };
            if let Some(t) = hit
                && !found.iter().any(|f| f.oid == t.oid)
            {
                found.push(t);
            }
        }
        found
    }

    /// Tables whose name resembles the file name (same letters ignoring case), to
    /// suggest when a name matches nothing.
    pub fn similar(&self, name: &FileName) -> Vec<&Table> {
        let readings = name.readings();
        let mut out: Vec<&Table> = self
            .tables
            .iter()
            .filter(|t| {
                readings.iter().any(|(schema, table)| {
                    t.name.name.to_lowercase() == table.to_lowercase()
                        && schema
                            .as_ref()
                            .is_none_or(|s| s.to_lowercase() == t.name.schema.to_lowercase())
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

/// What a plan needs to know of the tables its files name, beyond the
/// [`Catalog`]: read once, before planning, so that planning is pure.
#[derive(Debug, Clone, Default)]
pub(crate) struct Details {
    /// Each table's columns, in column order.
    pub columns: HashMap<u32, Vec<Column>>,
    /// The sequences that feed their columns.
    pub sequences: Vec<SequenceFeed>,
    /// With [`Needs::indexes`]: the indexes of the tables whose indexes could
    /// be built after the data (not partitioned, in a schema where this role
    /// may create), which of those tables hold no rows, and the schemas of
    /// the loaded tables where this role may create.
    pub indexes: Vec<Index>,
    pub empty: Vec<u32>,
    pub creatable: Vec<String>,
    /// With [`Needs::triggers`]: whether a loaded table has a trigger someone
    /// wrote, and whether one has a trigger deferred to the end of the
    /// transaction (see `TRIGGERS`).
    pub user_triggers: bool,
    pub deferred_triggers: bool,
}

/// Which of the optional [`Details`] to read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Needs {
    pub indexes: bool,
    pub triggers: bool,
}

impl Details {
    /// Reads them for `tables`.
    ///
    /// # Errors
    /// As [`Catalog::read`].
    pub fn read(
        client: &mut impl GenericClient,
        tables: &[&Table],
        needs: Needs,
    ) -> Result<Details, Error> {
        let during = "reading the catalog";
        let oids: Vec<u32> = tables.iter().map(|t| t.oid).collect();
        let mut details = Details::default();
        for r in query(client, COLUMNS, &[&oids], during)? {
            details.columns.entry(r.get(0)).or_default().push(Column {
                name: r.get(1),
                type_sql: r.get(2),
                generated: !r.get::<_, String>(3).is_empty(),
                not_null: r.get(4),
            });
        }
        details.sequences = query(client, SEQUENCES, &[&oids], during)?
            .iter()
            .map(|r| SequenceFeed {
                table: r.get(0),
                column: r.get(1),
                sequence: QualName::new(r.get::<_, String>(2), r.get::<_, String>(3)),
                increment: r.get(4),
                min: r.get(5),
                max: r.get(6),
            })
            .collect();
        if needs.indexes {
            let mut schemas: Vec<String> = tables.iter().map(|t| t.name.schema.clone()).collect();
            schemas.sort();
            schemas.dedup();
            details.creatable = query(
                client,
                "SELECT s FROM unnest($1::text[]) AS s WHERE has_schema_privilege(s, 'CREATE')",
                &[&schemas],
                during,
            )?
            .iter()
            .map(|r| r.get(0))
            .collect();
            let candidates: Vec<&&Table> = tables
                .iter()
                .filter(|t| !t.partitioned && t.ancestors.is_empty())
                .filter(|t| details.creatable.contains(&t.name.schema))
                .collect();
            for t in &candidates {
                // A plain SELECT reads partitions and inheritance children too.
                let sql = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", t.name);
                if query(client, &sql, &[], during)?
                    .first()
                    .is_some_and(|r| r.get(0))
                {
                    details.empty.push(t.oid);
                }
            }
            let candidates: Vec<u32> = candidates.iter().map(|t| t.oid).collect();
            details.indexes = read_indexes(client, &candidates)?;
        }
        if needs.triggers {
            let row = db::query_one(client, TRIGGERS, &[&oids], during)?;
            (details.user_triggers, details.deferred_triggers) = (row.get(0), row.get(1));
        }
        Ok(details)
    }
}

/// Reads the indexes of `tables`.
fn read_indexes(client: &mut impl GenericClient, tables: &[u32]) -> Result<Vec<Index>, Error> {
    Ok(query(client, INDEXES, &[&tables], "reading the catalog")?
        .iter()
        .map(|r| Index {
            oid: r.get(0),
            table: r.get(1),
            name: r.get(2),
            definition: r.get(3),
            constraint: r.get::<_, Option<String>>(4).map(|name| IndexConstraint {
                name,
                definition: r.get(5),
                kind: r.get::<_, String>(6).chars().next().unwrap_or('u'),
                comment: r.get(7),
            }),
            comment: r.get(8),
            clustered: r.get(9),
            replica_identity: r.get(10),
            tablespace: r.get(11),
            columns: r.get(12),
            column_types: r.get(13),
            expression_or_partial: r.get(14),
        })
        .collect())
}

/// How the catalog describes a key: the key and each of its copies on
/// partitions (both sides), one line each: where it lives, its name, its
/// definition (columns, referenced table, actions, MATCH, deferrability),
/// validity, deferrability, enforcement (`conenforced`, PostgreSQL 18, read
/// through `to_jsonb` so that one query serves every version) and comment.
/// `$1` is the table as SQL writes it, `$2` the key's name. NULL when the key
/// is not there.
const DESCRIBE_KEY: &str = "
WITH RECURSIVE k AS (
    SELECT c.oid FROM pg_catalog.pg_constraint c
     WHERE c.conrelid = $1::text::pg_catalog.regclass AND c.conname = $2
       AND c.contype = 'f' AND c.conparentid = 0
    UNION ALL
    SELECT c.oid FROM pg_catalog.pg_constraint c JOIN k ON c.conparentid = k.oid
), lines AS (
    SELECT pg_catalog.concat_ws(' | ', pg_catalog.format('%I.%I', n.nspname, r.relname),
                                c.conname, pg_catalog.pg_get_constraintdef(c.oid),
                                c.convalidated, c.condeferrable, c.condeferred,
                                coalesce(pg_catalog.to_jsonb(c) ->> 'conenforced', 'true'),
                                coalesce(pg_catalog.obj_description(c.oid, 'pg_constraint'), '-'))
           AS line
      FROM k
      JOIN pg_catalog.pg_constraint c ON c.oid = k.oid
      JOIN pg_catalog.pg_class r ON r.oid = c.conrelid
      JOIN pg_catalog.pg_namespace n ON n.oid = r.relnamespace
)
SELECT pg_catalog.string_agg(line, E'\\n' ORDER BY line) FROM lines";

/// How the catalog describes an index: its definition, tablespace, the
/// constraint it backs (primary key, unique, exclusion: not the foreign keys
/// that reference it) with that constraint's definition and comment, its own
/// comment, and its CLUSTER, replica identity and validity marks. `$1` is the
/// table as SQL writes it, `$2` the index's name. No row when it is not there.
const DESCRIBE_INDEX: &str = "
SELECT pg_catalog.concat_ws(' | ', pg_catalog.pg_get_indexdef(i.indexrelid),
                            coalesce(ts.spcname, '-'), coalesce(c.conname, '-'),
                            coalesce(pg_catalog.pg_get_constraintdef(c.oid), '-'),
                            coalesce(pg_catalog.obj_description(c.oid, 'pg_constraint'), '-'),
                            coalesce(pg_catalog.obj_description(i.indexrelid, 'pg_class'), '-'),
                            i.indisclustered, i.indisreplident, i.indisvalid)
  FROM pg_catalog.pg_index i
  JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
  LEFT JOIN pg_catalog.pg_constraint c
         ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid AND c.contype IN ('p', 'u', 'x')
  LEFT JOIN pg_catalog.pg_tablespace ts ON ts.oid = ic.reltablespace
 WHERE i.indrelid = $1::text::pg_catalog.regclass AND ic.relname = $2";

/// A key or an index to describe: is it a key, its table as SQL writes it,
/// its name.
pub type Described<'a> = (bool, &'a str, &'a str);

/// Describes each object as the catalog has it now (`None`: it is not there),
/// so that what a load put back can be compared with what it took away. Runs
/// with only pg_catalog on the search path, so that definitions are qualified
/// the same way whatever the session's setting, and gives the setting back.
///
/// # Errors
/// [`ErrorKind::Sql`](crate::ErrorKind::Sql) when a query fails.
pub fn describe(
    client: &mut impl GenericClient,
    objects: &[Described<'_>],
) -> Result<Vec<Option<String>>, Error> {
    let during = "reading the catalog";
    let setting: String =
        db::query_one(client, "SELECT current_setting('search_path')", &[], during)?.get(0);
    query(client, PIN_SEARCH_PATH, &[], during)?;
    let mut out = Vec::with_capacity(objects.len());
    for &(key, table, name) in objects {
        let sql = if key { DESCRIBE_KEY } else { DESCRIBE_INDEX };
        let rows = query(client, sql, &[&table, &name], during)?;
        out.push(rows.first().and_then(|r| r.get::<_, Option<String>>(0)));
    }
    query(client, RESTORE_SEARCH_PATH, &[&setting], during)?;
    Ok(out)
}

/// Whether any of `tables` (or of their partitions) has an enabled trigger
/// someone wrote (see `TRIGGERS`).
///
/// # Errors
/// As [`Catalog::read`].
pub(crate) fn user_triggers(
    client: &mut impl GenericClient,
    tables: &[u32],
) -> Result<bool, Error> {
    Ok(db::query_one(client, TRIGGERS, &[&tables], "reading the catalog")?.get(0))
}

/// What the triggers of the loaded tables (and of their partitions, where
/// their rows land) can do to a load's order of statements:
/// - `NOT tgisinternal`: a trigger someone wrote (a constraint trigger
///   included), which may write rows into another table;
/// - `tginitdeferred`: a trigger whose events wait for the end of the
///   transaction (a key or constraint trigger `INITIALLY DEFERRED`).
///
/// Disabled triggers (`tgenabled = 'D'`) fire for nothing a load does.
const TRIGGERS: &str = "
SELECT coalesce(bool_or(NOT t.tgisinternal), false),
       coalesce(bool_or(t.tginitdeferred), false)
  FROM pg_trigger t
 WHERE t.tgenabled <> 'D'
   AND (t.tgrelid = ANY($1)
        -- pg_partition_tree gives nothing for a table that is not partitioned
        OR t.tgrelid IN (SELECT relid FROM unnest($1::oid[]) AS l(oid),
                                           LATERAL pg_partition_tree(l.oid)))";

#[cfg(test)]
mod tests {
    use super::*;

    fn table(oid: u32, schema: &str, name: &str) -> Table {
        Table {
            oid,
            name: QualName::new(schema, name),
            ..Table::default()
        }
    }

    fn bare(stem: &str) -> FileName {
        FileName::Bare { stem: stem.into() }
    }

    #[test]
    fn file_names_resolve_through_the_search_path_and_every_dot() {
        let mut catalog = Catalog::of(
            150000,
            vec![
                table(1, "public", "orders"),
                table(2, "sales", "orders"),
                table(3, "sales", "Order Lines"),
                table(4, "public", "sales.orders"),
            ],
            vec![],
        );
        let names = |found: Vec<&Table>| found.iter().map(|t| t.name.human()).collect::<Vec<_>>();
        // Unqualified: the first schema of the search path that has it.
        assert_eq!(names(catalog.resolve(&bare("orders"))), ["public.orders"]);
        catalog.search_path = vec!["sales".into(), "public".into()];
        assert_eq!(names(catalog.resolve(&bare("orders"))), ["sales.orders"]);
        // A dot reads either way: both tables are candidates (ambiguous).
        assert_eq!(
            names(catalog.resolve(&bare("sales.orders"))),
            ["public.\"sales.orders\"", "sales.orders"]
        );
        let in_schema = FileName::InSchema {
            schema: "sales".into(),
            stem: "Order Lines".into(),
        };
        assert_eq!(
            names(catalog.resolve(&in_schema)),
            ["sales.\"Order Lines\""]
        );
        assert!(catalog.resolve(&bare("order lines")).is_empty());
        assert_eq!(
            names(catalog.similar(&bare("sales.order lines"))),
            ["sales.\"Order Lines\""]
        );
    }
}
