//! Deciding the plan from the facts a [`Survey`] read: which file loads which
//! table, in what order, at what level, which foreign keys are deferred,
//! dropped or unenforced (to break cycles, or to be validated in one pass),
//! which indexes are built after the data, and how tables are emptied first.
//! Pure: no server, no file. Everything that can be checked before a row is
//! written is checked here: every header column exists and is not generated.
//!
//! Pending trigger events. PostgreSQL refuses `ALTER TABLE` (every form: add,
//! drop, validate, alter or enforce a constraint, `CLUSTER ON`; and on each
//! partition an `ALTER` of a partitioned table reaches), `CREATE INDEX` and
//! `TRUNCATE` on a table that has AFTER trigger events queued and not yet
//! fired in the current transaction: "cannot ALTER TABLE "child" because it
//! has pending trigger events" (the server's `CheckTableNotInUse`). `DROP
//! INDEX`, `COMMENT` and statements on other tables are not refused. Events
//! outlive their statement only for deferred triggers: a foreign key or a
//! constraint trigger that is `INITIALLY DEFERRED` or set `DEFERRED`, queued
//! by rows written to its table (for a key, the referencing table). So a plan
//! puts no such statement after rows of a table were written in the same
//! transaction, until every deferred event has fired:
//! - keys and indexes are dropped before the first row;
//! - after the last row the one-transaction load fires every deferred event
//!   (`SET CONSTRAINTS ALL IMMEDIATE`, which also checks the deferred keys)
//!   before it builds an index or puts a key back;
//! - `--truncate` empties each table alone, just before its rows, only when
//!   no trigger could have written to it earlier with a deferred trigger
//!   queued (`truncate_mode`); otherwise all of them, before the first row;
//! - a parallel load (and `--resume`, and `repair`) writes rows and alters
//!   tables in separate transactions: every deferred event has fired at the
//!   COMMIT of the transaction that queued it.
//!
//! Keys and tables: a key is attached to the tables whose files load its rows. A
//! key declared on a partitioned table applies to the rows its file loads, and a
//! key declared on a partition applies to the file of any partitioned ancestor
//! (rows are routed into it). The same holds on the referenced side.

use std::collections::HashMap;

use super::graph;
use super::model::{
    AlsoEmptied, Column, Cycle, ForeignKey, KeyAction, Plan, PlannedIndex, PlannedKey, Purpose,
    Step, Strategy, Table, Truncate,
};
use super::survey::{Survey, also_emptied, covers};
use crate::database::catalog::{Catalog, Details};
use crate::error::{Error, ErrorKind, HeaderError};
use crate::input::source::{self, DataFile, Header};
use crate::options::Options;
use crate::sql::QualName;

/// The first server version whose partitioned tables accept `NOT VALID` keys.
const NOT_VALID_ON_PARTITIONED: i32 = 180000;

/// The first server version with `ALTER CONSTRAINT ... NOT ENFORCED` and
/// `ENFORCED` for foreign keys.
const UNENFORCE: i32 = 180000;

/// Makes the plan from `survey`'s facts, for `purpose`: checks each file's
/// header against its table (in file order), orders the tables, chooses how
/// each key is checked, which indexes are built after the data and how the
/// tables are emptied. The plan is whole when made; nothing changes it after.
///
/// Complexity: the graph order is O(V + E) with a subset search per cycle of
/// up to 16 keys ([`graph::order`]); everything else is linear in tables,
/// keys and indexes, but for the key-to-file attachment, O(keys × files).
///
/// # Errors
/// The first file that does not fit, in file order: [`ErrorKind::Header`] or
/// [`ErrorKind::Io`] (its header), [`ErrorKind::UnknownColumn`],
/// [`ErrorKind::GeneratedColumn`]; [`ErrorKind::CitusUnsupported`],
/// [`ErrorKind::TruncateInParallel`], [`ErrorKind::TruncateReferenced`].
pub(crate) fn decide(survey: Survey, options: &Options, purpose: Purpose) -> Result<Plan, Error> {
    let Survey {
        dir,
        catalog,
        details,
        targets,
        headers,
        ignored,
        rows_also_emptied,
    } = survey;
    let steps = steps(&details, targets, headers)?;
    let bytes: u64 = steps.iter().map(|s| s.bytes).sum();
    let (strategy, strategy_reason) = purpose.strategy(options.strategy, bytes);
    let jobs = purpose.jobs(options.jobs);
    let (steps, mut keys, cycles) = order(&catalog, steps, strategy);
    if !citus_tables(&catalog, &steps).is_empty() {
        on_citus(&catalog, &steps, &mut keys, &cycles, jobs, options.resume)?;
    }
    if jobs > 1 {
        // A deferred key is checked at its transaction's commit; with one
        // transaction per file, a cycle key must be dropped instead.
        drop_where(&mut keys, catalog.server_version_num, |a| {
            a == KeyAction::Defer
        });
    }
    let truncate = if options.truncate {
        if jobs > 1 {
            return Err(Error::new(ErrorKind::TruncateInParallel));
        }
        let written_early_deferred = details.user_triggers && details.deferred_triggers;
        truncate_mode(&catalog, strategy, &steps, &keys, written_early_deferred)
    } else {
        Truncate::No
    };
    let indexes = if strategy == Strategy::Revalidate {
        rebuildable_indexes(&catalog, &details, &steps, &keys, truncate)
    } else {
        Vec::new()
    };
    if catalog.server_version_num >= UNENFORCE && truncate != Truncate::PerStep {
        unenforce_where_cheaper(&catalog, &mut keys, &indexes);
    }
    if purpose == Purpose::Check {
        // No key stops a COPY: each is checked after the data.
        drop_where(&mut keys, catalog.server_version_num, |a| {
            matches!(a, KeyAction::Keep | KeyAction::Defer)
        });
    }
    let truncate_also = if truncate == Truncate::No {
        Vec::new()
    } else {
        truncated_too(&catalog, &steps, &rows_also_emptied, options.cascade)?
    };
    Ok(Plan {
        dir,
        server_version_num: catalog.server_version_num,
        strategy,
        strategy_reason,
        batch_bytes: options.batch_bytes.max(1),
        jobs,
        truncate,
        truncate_also,
        cascade: truncate != Truncate::No && options.cascade,
        max_examples: options.max_examples,
        refused_to: options.skip_refused.then(|| options.reject_dir.clone()),
        citus: catalog.citus.clone(),
        citus_tables: catalog
            .tables
            .iter()
            .filter(|t| t.citus.is_some())
            .map(|t| t.oid)
            .collect(),
        citus_shards: catalog.citus_shards.clone(),
        ignored,
        indexes,
        steps,
        keys,
        cycles,
    })
}

/// Drops (to add back after the data) every key whose action `which` picks.
fn drop_where(keys: &mut [PlannedKey], version: i32, which: impl Fn(KeyAction) -> bool) {
    for pk in keys.iter_mut() {
        if which(pk.action) {
            pk.action = drop_action(pk, version);
        }
    }
}

/// One step per file, in directory order, its header checked against its
/// table; the first file that does not fit (or whose header could not be
/// read) is the error.
fn steps(
    details: &Details,
    targets: Vec<(DataFile, Table)>,
    headers: Vec<Result<Header, Error>>,
) -> Result<Vec<Step>, Error> {
    let mut steps: Vec<Step> = Vec::with_capacity(targets.len());
    for ((file, table), header) in targets.into_iter().zip(headers) {
        let mut header = header?;
        let table_columns = details.columns.get(&table.oid).cloned().unwrap_or_default();
        // A reject file ends with the two columns fkload added to it: they
        // are left out on the way, unless the table has columns so named.
        let strip = if header.from == source::ColumnsFrom::Header {
            reject_columns(&header.columns, &table_columns)
        } else {
            0
        };
        header.columns.truncate(header.columns.len() - strip);
        if header.from == source::ColumnsFrom::TableOrder {
            header.columns = in_table_order(&file, &table, &table_columns, header.fields)?;
        }
        check_header(&file, &table, &header, &table_columns)?;
        let sequences = details
            .sequences
            .iter()
            .filter(|s| s.table == table.oid && header.columns.contains(&s.column))
            .cloned()
            .collect();
        steps.push(Step {
            index: steps.len(),
            file,
            table,
            columns: header.columns,
            columns_from: header.from,
            table_columns,
            bytes: header.bytes,
            level: 1,
            self_referencing: false,
            sequences,
            strip,
        });
    }
    Ok(steps)
}

/// What Citus changes: a parallel load is refused, a deferred key of a
/// Citus table is dropped instead, and a key of a table Citus made local by
/// itself stays in place unless it breaks a cycle.
fn on_citus(
    catalog: &Catalog,
    steps: &[Step],
    keys: &mut [PlannedKey],
    cycles: &[Cycle],
    jobs: usize,
    resume: bool,
) -> Result<(), Error> {
    if jobs > 1 {
        return Err(Error::new(ErrorKind::CitusUnsupported {
            jobs,
            resume,
            tables: citus_tables(catalog, steps),
            why: "a parallel load commits table by table and takes the rows out again \
                  on failure by the transaction id that wrote them, which on Citus is \
                  each worker's own, not the coordinator's"
                .into(),
        }));
    }
    // SET CONSTRAINTS ... DEFERRED does not reach the shards: a key of a
    // Citus table that breaks a cycle is dropped and added back instead.
    for pk in keys.iter_mut() {
        if pk.action == KeyAction::Defer && key_on_citus(catalog, &pk.key) {
            pk.action = drop_action(pk, catalog.server_version_num);
        }
    }
    // Dropping the key of a table Citus made local by itself makes it a
    // plain table again, and adding it back a Citus table with a new
    // shard: such a key stays in place unless it breaks a cycle.
    let breaks: Vec<usize> = cycles.iter().flat_map(|c| c.broken.clone()).collect();
    for (i, pk) in keys.iter_mut().enumerate() {
        if pk.action.sets_aside() && !breaks.contains(&i) && key_on_auto_local(catalog, &pk.key) {
            pk.action = KeyAction::Keep;
        }
    }
    Ok(())
}

/// The loaded tables Citus manages, each with its kind, as `-l` and errors
/// name them.
fn citus_tables(catalog: &Catalog, steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| {
            let kind = catalog.table(s.table.oid)?.citus.as_ref()?;
            Some(format!("{} ({kind})", s.table.name.human()))
        })
        .collect()
}

/// The tables outside the load that emptying the loaded ones empties too,
/// each with the first loaded table (in load order) it references and its
/// rows as surveyed; refused when some hold rows and `cascade` is off.
fn truncated_too(
    catalog: &Catalog,
    steps: &[Step],
    rows: &HashMap<u32, u64>,
    cascade: bool,
) -> Result<Vec<AlsoEmptied>, Error> {
    let loaded = steps.iter().map(|s| s.table.clone()).collect();
    let also: Vec<AlsoEmptied> = also_emptied(catalog, loaded)
        .into_iter()
        .map(|(table, references)| AlsoEmptied {
            rows: rows.get(&table.oid).copied().unwrap_or(0),
            table,
            references,
        })
        .collect();
    let held: Vec<&AlsoEmptied> = also.iter().filter(|a| a.rows > 0).collect();
    if !held.is_empty() && !cascade {
        return Err(Error::new(ErrorKind::TruncateReferenced {
            tables: held.iter().map(|a| a.describe()).collect(),
        }));
    }
    Ok(also)
}

/// On PostgreSQL 18, a valid key the load drops is set `NOT ENFORCED` instead
/// ([`KeyAction::Unenforce`]) where that costs no more. Both ways validate with
/// one pass (measured on 2 million rows: 1.03 to 1.05 s for `ENFORCED`, 1.03 to
/// 1.23 s for `ADD ... NOT VALID` and `VALIDATE`), and the unenforced key comes
/// back as the same catalog object. Dropping stays where it buys more: the key's
/// referenced index is built after the data, or each table is truncated alone
/// so that COPY can freeze its rows (the caller's condition).
/// Not for keys of Citus tables, where `ALTER CONSTRAINT ... NOT ENFORCED`
/// has not been seen to reach the shards.
fn unenforce_where_cheaper(catalog: &Catalog, keys: &mut [PlannedKey], indexes: &[PlannedIndex]) {
    let rebuilt: Vec<u32> = indexes.iter().map(|i| i.index.oid).collect();
    for pk in keys.iter_mut() {
        if matches!(pk.action, KeyAction::Drop { .. })
            && pk.key.validated
            && !rebuilt.contains(&pk.key.ref_index)
            && !key_on_citus(catalog, &pk.key)
        {
            pk.action = KeyAction::Unenforce;
        }
    }
}

/// The indexes to drop before the data and build after it: those of tables that
/// are empty, as pg_restore does (data, then indexes, then keys). Left in place:
/// - indexes of partitioned tables and partitions: re-creating a partitioned
///   index names the partitions' indexes anew, so they would not come back as
///   they were;
/// - indexes in schemas where this role may not create one (PostgreSQL 15
///   revokes CREATE on public from everyone but its owner);
/// - an index a key that stays in place checks against (`conindid`): it cannot
///   be dropped under it;
/// - the replica identity index: logical replication must not see it vanish.
///
/// Primary keys come first in build order, as keys need them.
fn rebuildable_indexes(
    catalog: &Catalog,
    details: &Details,
    steps: &[Step],
    keys: &[PlannedKey],
    truncate: Truncate,
) -> Vec<PlannedIndex> {
    // Truncated tables are empty by the time their indexes would be dropped.
    let rebuilt = |t: &Table| {
        !t.partitioned
            && t.ancestors.is_empty()
            && details.creatable.contains(&t.name.schema)
            && (truncate != Truncate::No || details.empty.contains(&t.oid))
    };
    let dropped_keys: Vec<u32> = keys
        .iter()
        .filter(|k| matches!(k.action, KeyAction::Drop { .. }))
        .map(|k| k.key.oid)
        .collect();
    // Indexes some key that stays in place relies on.
    let needed: Vec<u32> = catalog
        .foreign_keys
        .iter()
        .filter(|fk| !dropped_keys.contains(&fk.oid))
        .map(|fk| fk.ref_index)
        .collect();
    let mut out: Vec<PlannedIndex> = details
        .indexes
        .iter()
        .filter(|i| !i.replica_identity && !needed.contains(&i.oid))
        .filter_map(|index| {
            let step = steps
                .iter()
                .position(|s| s.table.oid == index.table && rebuilt(&s.table))?;
            Some(PlannedIndex {
                table: steps[step].table.name.clone(),
                index: index.clone(),
                step,
            })
        })
        .collect();
    out.sort_by_key(|p| {
        let kind = p.index.constraint.as_ref().map(|c| c.kind);
        (kind != Some('p'), p.step, p.index.name.clone())
    });
    out
}

/// Attaches keys to steps, orders the steps and chooses how to break cycles:
/// the steps in load order, the keys with their actions, the cycles.
fn order(
    catalog: &Catalog,
    mut steps: Vec<Step>,
    strategy: Strategy,
) -> (Vec<Step>, Vec<PlannedKey>, Vec<Cycle>) {
    let (mut keys, edges) = attach_keys(catalog, &mut steps);
    let names: Vec<String> = steps.iter().map(|s| s.table.name.human()).collect();
    let order = graph::order(&names, &edges);
    for &k in &order.broken {
        let pk = &mut keys[k];
        pk.action = if deferrable_alone(&pk.key) {
            KeyAction::Defer
        } else {
            drop_action(pk, catalog.server_version_num)
        };
    }
    if strategy == Strategy::Revalidate {
        // Every key that checks loaded rows goes, deferrable ones too (a deferred
        // key still checks row by row, at commit). A NOT VALID key outside a
        // cycle stays: re-added NOT VALID it would check none of the new rows.
        for pk in keys.iter_mut() {
            if pk.action == KeyAction::Defer || (pk.action == KeyAction::Keep && pk.key.validated) {
                pk.action = drop_action(pk, catalog.server_version_num);
            }
        }
    }
    let cycles = order
        .cycles
        .iter()
        .map(|c| Cycle {
            tables: c.iter().map(|&i| steps[i].table.name.clone()).collect(),
            broken: order
                .broken
                .iter()
                .copied()
                .filter(|&k| {
                    edges
                        .iter()
                        .any(|e| e.key == k && c.contains(&e.child) && c.contains(&e.parent))
                })
                .collect(),
        })
        .collect();
    let steps = into_load_order(steps, &mut keys, &order);
    (steps, keys, cycles)
}

/// Per step (with FREEZE) when no key that stays in place references a loaded
/// table: then each table can be truncated alone, inside its COPY's
/// subtransaction. Otherwise one TRUNCATE of them all, up front.
///
/// Also up front when a table's rows could be written before its own step
/// and leave deferred trigger events behind (`written_early_deferred`: some
/// loaded table has a trigger someone wrote, which may write into another,
/// and some has a deferred trigger): a table with pending trigger events
/// cannot be truncated (see "Pending trigger events" in the module docs).
fn truncate_mode(
    catalog: &Catalog,
    strategy: Strategy,
    steps: &[Step],
    keys: &[PlannedKey],
    written_early_deferred: bool,
) -> Truncate {
    let dropped: Vec<u32> = keys
        .iter()
        .filter(|k| matches!(k.action, KeyAction::Drop { .. }))
        .map(|k| k.key.oid)
        .collect();
    let referenced = catalog.foreign_keys.iter().any(|fk| {
        !dropped.contains(&fk.oid)
            && steps
                .iter()
                .any(|s| covers(catalog, &s.table, fk.ref_table))
    });
    if strategy == Strategy::Revalidate && !referenced && !written_early_deferred {
        Truncate::PerStep
    } else {
        Truncate::Upfront
    }
}

/// Whether a table on either side of `fk` is one Citus made local by itself.
fn key_on_auto_local(catalog: &Catalog, fk: &ForeignKey) -> bool {
    [fk.table, fk.ref_table].iter().any(|&oid| {
        catalog.table(oid).is_some_and(|t| {
            matches!(
                t.citus,
                Some(crate::database::citus::Kind::Local { auto: true })
            )
        })
    })
}

/// Whether a table on either side of `fk` is managed by Citus.
fn key_on_citus(catalog: &Catalog, fk: &ForeignKey) -> bool {
    [fk.table, fk.ref_table]
        .iter()
        .any(|&oid| catalog.table(oid).is_some_and(|t| t.citus.is_some()))
}

/// How many columns at the end of a header are the ones a reject file adds
/// ([`crate::input::reject::REJECT_COLUMNS`]), to be left out: 2, or 0 when the
/// header does not end with them or the table has a column of either name.
fn reject_columns(header: &[String], table: &[Column]) -> usize {
    let added = crate::input::reject::REJECT_COLUMNS;
    let ends_with_them = header.len() > added.len()
        && header[header.len() - added.len()..]
            .iter()
            .zip(added)
            .all(|(h, a)| h == a);
    let named_so = table.iter().any(|c| added.contains(&c.name.as_str()));
    if ends_with_them && !named_so {
        added.len()
    } else {
        0
    }
}

/// The delimiter a one-column header seems to use instead of the file's
/// own, for a hint: `id;name;price` read with `,`.
fn seeming_delimiter(file: &DataFile, header: &[String]) -> Option<char> {
    let [only] = header else {
        return None;
    };
    let own = file.dialect().map(|d| d.delimiter);
    [',', ';', '\t', '|']
        .into_iter()
        .find(|c| Some(*c as u32) != own.map(u32::from) && only.contains(*c))
}

/// The columns of a file without a header or `columns` in `fkload.toml`:
/// the table's own, but the generated ones, when the first record has as
/// many fields (or the file is empty).
fn in_table_order(
    file: &DataFile,
    table: &Table,
    columns: &[Column],
    fields: usize,
) -> Result<Vec<String>, Error> {
    let names: Vec<String> = columns
        .iter()
        .filter(|c| !c.generated)
        .map(|c| c.name.clone())
        .collect();
    if fields != 0 && fields != names.len() {
        return Err(Error::new(ErrorKind::Header {
            path: file.path.clone(),
            source: HeaderError::FieldCount {
                fields,
                table: table.name.clone(),
                columns: names,
            },
        }));
    }
    Ok(names)
}

fn check_header(
    file: &DataFile,
    table: &Table,
    header: &Header,
    columns: &[Column],
) -> Result<(), Error> {
    let from_header = header.from == source::ColumnsFrom::Header;
    for name in &header.columns {
        match columns.iter().find(|c| &c.name == name) {
            None => {
                return Err(Error::new(ErrorKind::UnknownColumn {
                    path: file.path.clone(),
                    table: table.name.human(),
                    column: name.clone(),
                    source_of_names: if from_header {
                        "the header row".into()
                    } else {
                        "fkload.toml's columns".into()
                    },
                    seems_delimited_by: if from_header {
                        seeming_delimiter(file, &header.columns)
                    } else {
                        None
                    },
                    available: columns
                        .iter()
                        .filter(|c| !c.generated)
                        .map(|c| crate::sql::human_ident(&c.name))
                        .collect(),
                }));
            }
            Some(c) if c.generated => {
                return Err(Error::new(ErrorKind::GeneratedColumn {
                    path: file.path.clone(),
                    table: table.name.human(),
                    column: name.clone(),
                }));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Every enforced key whose rows some step loads, with the steps on either
/// side, and the graph's edges (child step, parent step, key, cost of
/// breaking it); marks the steps that reference themselves.
fn attach_keys(catalog: &Catalog, steps: &mut [Step]) -> (Vec<PlannedKey>, Vec<graph::Edge>) {
    // Cost: as few keys as possible, then as few dropped keys as possible.
    const PER_KEY: u64 = 1_000;
    let mut keys: Vec<PlannedKey> = Vec::new();
    let mut edges: Vec<graph::Edge> = Vec::new();
    for fk in &catalog.foreign_keys {
        // A NOT ENFORCED key checks no row: it orders nothing and is left alone.
        if !fk.enforced {
            continue;
        }
        let child_steps: Vec<usize> = (0..steps.len())
            .filter(|&i| covers(catalog, &steps[i].table, fk.table))
            .collect();
        if child_steps.is_empty() {
            continue;
        }
        let parent_steps: Vec<usize> = (0..steps.len())
            .filter(|&i| covers(catalog, &steps[i].table, fk.ref_table))
            .collect();
        let (table, table_partitioned) = name_of(catalog, fk.table);
        let (ref_table, ref_partitioned) = name_of(catalog, fk.ref_table);
        let id = keys.len();
        for &c in &child_steps {
            for &p in &parent_steps {
                if c == p {
                    steps[c].self_referencing = true;
                }
                edges.push(graph::Edge {
                    child: c,
                    parent: p,
                    key: id,
                    cost: PER_KEY + break_cost(fk),
                });
            }
        }
        keys.push(PlannedKey {
            key: fk.clone(),
            table,
            table_partitioned,
            ref_table,
            ref_partitioned,
            child_steps,
            parent_steps,
            action: KeyAction::Keep,
        });
    }
    (keys, edges)
}

/// The steps in load order, each with its level and index; the keys' step
/// numbers follow.
fn into_load_order(
    mut steps: Vec<Step>,
    keys: &mut [PlannedKey],
    order: &graph::Order,
) -> Vec<Step> {
    let mut new_index: HashMap<usize, usize> = HashMap::new();
    for (new, &old) in order.order.iter().enumerate() {
        new_index.insert(old, new);
        steps[old].level = order.level[old];
    }
    let mut slots: Vec<Option<Step>> = steps.into_iter().map(Some).collect();
    for k in keys.iter_mut() {
        for s in k.child_steps.iter_mut().chain(k.parent_steps.iter_mut()) {
            *s = new_index[s];
        }
    }
    order
        .order
        .iter()
        .filter_map(|&old| slots[old].take())
        .enumerate()
        .map(|(index, step)| Step { index, ..step })
        .collect()
}

/// Among keys equally few, the ones cheapest to break: deferrable ones (nothing
/// changes in the schema), then plain ones, then keys of partitioned tables
/// (re-adding them re-creates a copy per partition) and NOT VALID keys (the
/// loaded rows must be checked from the files).
fn break_cost(fk: &ForeignKey) -> u64 {
    if deferrable_alone(fk) {
        0
    } else {
        1 + u64::from(!fk.clones.is_empty()) + u64::from(!fk.validated)
    }
}

/// A deferrable key that `SET CONSTRAINTS schema.name DEFERRED` reaches exactly:
/// no other constraint of its schema bears its name (it would be deferred too, or
/// the statement would fail on it), and no copy lives in another schema (it
/// would not be deferred).
fn deferrable_alone(fk: &ForeignKey) -> bool {
    fk.deferrable && !fk.name_shared && !fk.clone_elsewhere
}

/// How a key is dropped and added back on this server: `NOT VALID` then
/// `VALIDATE`, except where a partitioned table is on either side before
/// PostgreSQL 18: a partitioned table takes no NOT VALID key, and validating a
/// key that references one leaves its copies NOT VALID.
fn drop_action(pk: &PlannedKey, server_version_num: i32) -> KeyAction {
    KeyAction::Drop {
        not_valid_first: server_version_num >= NOT_VALID_ON_PARTITIONED
            || !(pk.table_partitioned || pk.ref_partitioned),
    }
}

fn name_of(catalog: &Catalog, oid: u32) -> (QualName, bool) {
    match catalog.table(oid) {
        Some(t) => (t.name.clone(), t.partitioned),
        // Keys can reference tables in schemas fkload never loads (pg_* is left
        // out of the catalog read); the oid is all there is to show then.
        None => (QualName::new("", format!("oid {oid}")), false),
    }
}

#[cfg(test)]
mod tests {
    //! `decide` without a server: catalogs made by hand, and random ones.

    use std::path::PathBuf;

    use proptest::prelude::{
        Just, ProptestConfig, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::strategy::Strategy as _;

    use super::*;
    use crate::database::catalog::IndexConstraint;
    use crate::input::source::FileName;
    use crate::options::StrategyChoice;
    use crate::plan::model::{Index, REVALIDATE_FROM_BYTES, StrategyReason};

    /// The survey of `catalog`'s tables `targets` with `headers`.
    fn facts(
        catalog: &Catalog,
        details: &Details,
        targets: Vec<(DataFile, Table)>,
        headers: Vec<Result<Header, Error>>,
    ) -> Survey {
        Survey {
            dir: PathBuf::from("data"),
            catalog: catalog.clone(),
            details: details.clone(),
            targets,
            headers,
            ignored: Vec::new(),
            rows_also_emptied: HashMap::new(),
        }
    }

    /// Table `oid` named `t<oid>` in public.
    fn table(oid: u32) -> Table {
        Table {
            oid,
            name: QualName::new("public", format!("t{oid}")),
            ..Table::default()
        }
    }

    /// A valid, enforced key `oid` from `table` to `ref_table` (whose primary
    /// key is index `ref_table + 1000`).
    fn key(oid: u32, table: u32, ref_table: u32) -> ForeignKey {
        ForeignKey {
            oid,
            name: format!("k{oid}"),
            table,
            ref_table,
            ref_index: ref_table + 1000,
            validated: true,
            enforced: true,
            match_type: 's',
            definition: format!("FOREIGN KEY (r{oid}) REFERENCES public.t{ref_table}(id)"),
            columns: vec![format!("r{oid}")],
            ref_columns: vec!["id".into()],
            ..ForeignKey::default()
        }
    }

    fn primary_key(table: u32) -> Index {
        Index {
            oid: table + 1000,
            table,
            name: format!("t{table}_pkey"),
            definition: format!("CREATE UNIQUE INDEX t{table}_pkey ON public.t{table} (id)"),
            constraint: Some(IndexConstraint {
                name: format!("t{table}_pkey"),
                definition: "PRIMARY KEY (id)".into(),
                kind: 'p',
                comment: None,
            }),
            columns: vec!["id".into()],
            ..Index::default()
        }
    }

    /// What the reads would give for `tables` (each with a file of 10 bytes
    /// whose header names `id` and the key columns), all empty, in `public`
    /// where this role may create.
    struct World {
        catalog: Catalog,
        details: Details,
        tables: Vec<u32>,
    }

    impl World {
        fn new(version: i32, tables: &[u32], keys: Vec<ForeignKey>) -> World {
            let mut details = Details {
                creatable: vec!["public".into()],
                empty: tables.to_vec(),
                ..Details::default()
            };
            for &t in tables {
                let mut columns = vec![column("id")];
                for k in keys.iter().filter(|k| k.table == t) {
                    columns.extend(k.columns.iter().map(|c| column(c)));
                }
                details.columns.insert(t, columns);
                details.indexes.push(primary_key(t));
            }
            World {
                catalog: Catalog::of(version, tables.iter().map(|&t| table(t)).collect(), keys),
                details,
                tables: tables.to_vec(),
            }
        }

        fn plan(&self, options: &Options) -> Result<Plan, Error> {
            let targets: Vec<(DataFile, Table)> = self
                .tables
                .iter()
                .map(|&t| {
                    let rel = format!("t{t}.csv");
                    let file = DataFile {
                        path: PathBuf::from("data").join(&rel),
                        rel,
                        name: FileName::Bare {
                            stem: format!("t{t}"),
                        },
                        format: crate::input::format::Format::Csv(
                            crate::input::dialect::Dialect::default(),
                        ),
                        columns: None,
                    };
                    (file, table(t))
                })
                .collect();
            let headers = targets
                .iter()
                .map(|(_, t)| {
                    Ok(Header {
                        columns: self.details.columns[&t.oid]
                            .iter()
                            .map(|c| c.name.clone())
                            .collect(),
                        bytes: 10,
                        from: source::ColumnsFrom::Header,
                        fields: 0,
                    })
                })
                .collect();
            decide(
                facts(&self.catalog, &self.details, targets, headers),
                options,
                Purpose::Load,
            )
        }
    }

    fn column(name: &str) -> Column {
        Column {
            name: name.into(),
            type_sql: "integer".into(),
            ..Column::default()
        }
    }

    fn options(strategy: StrategyChoice, jobs: usize, truncate: bool) -> Options {
        Options {
            strategy,
            jobs,
            truncate,
            ..Options::default()
        }
    }

    fn action_of(plan: &Plan, oid: u32) -> KeyAction {
        plan.keys
            .iter()
            .find(|k| k.key.oid == oid)
            .map(|k| k.action)
            .expect("planned key")
    }

    #[test]
    fn a_chain_loads_parents_first_and_keeps_its_keys() {
        // t1 <- t2 <- t3
        let w = World::new(150000, &[3, 2, 1], vec![key(10, 2, 1), key(11, 3, 2)]);
        let plan = w.plan(&options(StrategyChoice::Keep, 1, false)).unwrap();
        let order: Vec<u32> = plan.steps.iter().map(|s| s.table.oid).collect();
        assert_eq!(order, [1, 2, 3]);
        assert_eq!(
            plan.steps.iter().map(|s| s.level).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert!(plan.keys.iter().all(|k| k.action == KeyAction::Keep));
        assert!(plan.indexes.is_empty(), "keep rebuilds no index");
        assert_eq!(plan.strategy_reason, StrategyReason::Chosen);
    }

    #[test]
    fn a_cycle_defers_its_deferrable_key_and_a_parallel_load_drops_it() {
        let mut deferrable = key(10, 1, 2);
        deferrable.deferrable = true;
        let w = World::new(150000, &[1, 2], vec![deferrable, key(11, 2, 1)]);
        let plan = w.plan(&options(StrategyChoice::Keep, 1, false)).unwrap();
        assert_eq!(action_of(&plan, 10), KeyAction::Defer);
        assert_eq!(action_of(&plan, 11), KeyAction::Keep);
        assert_eq!(plan.cycles.len(), 1);
        let plan = w.plan(&options(StrategyChoice::Keep, 2, false)).unwrap();
        assert_eq!(
            action_of(&plan, 10),
            KeyAction::Drop {
                not_valid_first: true
            }
        );
    }

    #[test]
    fn revalidate_sets_every_valid_key_aside_and_rebuilds_the_empty_tables_indexes() {
        let mut not_valid = key(12, 3, 1);
        not_valid.validated = false;
        let w = World::new(
            150000,
            &[1, 2, 3],
            vec![key(10, 2, 1), key(11, 3, 2), not_valid],
        );
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, false))
            .unwrap();
        for oid in [10, 11] {
            assert!(matches!(action_of(&plan, oid), KeyAction::Drop { .. }));
        }
        // A NOT VALID key outside a cycle stays: it checks the new rows.
        assert_eq!(action_of(&plan, 12), KeyAction::Keep);
        // t1's primary key is what the kept NOT VALID key checks against.
        let rebuilt: Vec<&str> = plan.indexes.iter().map(|i| i.index.name.as_str()).collect();
        assert_eq!(rebuilt, ["t2_pkey", "t3_pkey"]);
        // On 18 the keys whose referenced index stays are unenforced instead.
        let w = World::new(180000, &[1, 2, 3], w.catalog.foreign_keys.clone());
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, false))
            .unwrap();
        assert_eq!(action_of(&plan, 10), KeyAction::Unenforce);
        assert!(matches!(action_of(&plan, 11), KeyAction::Drop { .. }));
    }

    #[test]
    fn indexes_stay_on_tables_with_rows_in_schemas_not_ours_and_for_replication() {
        let mut w = World::new(150000, &[1, 2, 3], vec![]);
        w.details.empty.retain(|&t| t != 1);
        w.details.indexes[1].replica_identity = true;
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, false))
            .unwrap();
        let rebuilt: Vec<&str> = plan.indexes.iter().map(|i| i.index.name.as_str()).collect();
        assert_eq!(rebuilt, ["t3_pkey"]);
        // Emptied first, every table's indexes go, whatever it holds now.
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, true))
            .unwrap();
        assert_eq!(plan.indexes.len(), 2);
        w.details.creatable.clear();
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, false))
            .unwrap();
        assert!(plan.indexes.is_empty(), "no CREATE on the schema");
    }

    #[test]
    fn truncation_is_per_table_only_where_nothing_can_queue_events_or_reference() {
        let w = World::new(150000, &[1, 2], vec![key(10, 2, 1)]);
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, true))
            .unwrap();
        assert_eq!(plan.truncate, Truncate::PerStep);
        let plan = w.plan(&options(StrategyChoice::Keep, 1, true)).unwrap();
        assert_eq!(plan.truncate, Truncate::Upfront, "a kept key references t1");
        let mut w = w;
        w.details.user_triggers = true;
        w.details.deferred_triggers = true;
        let plan = w
            .plan(&options(StrategyChoice::Revalidate, 1, true))
            .unwrap();
        assert_eq!(
            plan.truncate,
            Truncate::Upfront,
            "a trigger may write ahead"
        );
        let e = w.plan(&options(StrategyChoice::Keep, 2, true)).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::TruncateInParallel));
    }

    #[test]
    fn the_strategy_follows_the_input_size() {
        let w = World::new(150000, &[1], vec![]);
        let plan = w.plan(&options(StrategyChoice::Auto, 1, false)).unwrap();
        assert_eq!(plan.strategy, Strategy::Keep);
        assert_eq!(plan.strategy_reason, StrategyReason::Small { bytes: 10 });
        assert_eq!(
            Purpose::Load.strategy(StrategyChoice::Auto, REVALIDATE_FROM_BYTES),
            (
                Strategy::Revalidate,
                StrategyReason::Large {
                    bytes: REVALIDATE_FROM_BYTES
                }
            )
        );
    }

    #[test]
    fn headers_are_checked_in_file_order() {
        let mut w = World::new(150000, &[1, 2], vec![]);
        let generated = Column {
            name: "g".into(),
            generated: true,
            ..column("g")
        };
        w.details.columns.insert(1, vec![column("id"), generated]);
        let targets: Vec<(DataFile, Table)> = [1, 2]
            .iter()
            .map(|&t| {
                let rel = format!("t{t}.csv");
                (
                    DataFile {
                        path: PathBuf::from(&rel),
                        rel,
                        name: FileName::Bare {
                            stem: format!("t{t}"),
                        },
                        format: crate::input::format::Format::Csv(
                            crate::input::dialect::Dialect::default(),
                        ),
                        columns: None,
                    },
                    table(t),
                )
            })
            .collect();
        let header = |cols: &[&str]| {
            Ok(Header {
                columns: cols.iter().map(|c| c.to_string()).collect(),
                bytes: 1,
                from: source::ColumnsFrom::Header,
                fields: cols.len(),
            })
        };
        let opts = options(StrategyChoice::Keep, 1, false);
        let input = |headers: Vec<Result<Header, Error>>| {
            facts(&w.catalog, &w.details, targets.clone(), headers)
        };
        // The first file's generated column is reported before the second
        // file's unknown one, and before the second file's unreadable header.
        let e = decide(
            input(vec![header(&["id", "g"]), header(&["nope"])]),
            &opts,
            Purpose::Load,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::GeneratedColumn { column, .. } if column == "g"));
        let unreadable = Err(Error::new(ErrorKind::Header {
            path: "t2.csv".into(),
            source: crate::error::HeaderError::Empty,
        }));
        let e = decide(
            input(vec![header(&["id", "g"]), unreadable]),
            &opts,
            Purpose::Load,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::GeneratedColumn { .. }));
        let e = decide(
            input(vec![header(&["id"]), header(&["id", "x"])]),
            &opts,
            Purpose::Load,
        )
        .unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::UnknownColumn { column, .. } if column == "x"));
    }

    /// The fewest keys whose removal leaves the graph of `edges` (child,
    /// parent, key) without a cycle, by trying every subset of keys.
    fn fewest_breaking(edges: &[(usize, usize, usize)], keys: usize) -> usize {
        (0u32..(1 << keys))
            .filter(|mask| {
                let kept: Vec<(usize, usize)> = edges
                    .iter()
                    .filter(|&&(c, p, k)| c != p && mask & (1 << k) == 0)
                    .map(|&(c, p, _)| (c, p))
                    .collect();
                acyclic(&kept)
            })
            .map(|mask| mask.count_ones() as usize)
            .min()
            .unwrap_or(0)
    }

    fn acyclic(edges: &[(usize, usize)]) -> bool {
        let nodes: std::collections::BTreeSet<usize> =
            edges.iter().flat_map(|&(a, b)| [a, b]).collect();
        let mut left: Vec<(usize, usize)> = edges.to_vec();
        let mut alive: std::collections::BTreeSet<usize> = nodes;
        loop {
            let sink = alive
                .iter()
                .copied()
                .find(|&n| !left.iter().any(|&(c, _)| c == n));
            match sink {
                Some(n) => {
                    alive.remove(&n);
                    left.retain(|&(c, p)| c != n && p != n);
                }
                None => return alive.is_empty(),
            }
        }
    }

    /// A random schema: up to 6 tables, up to 8 keys between them (self
    /// references too), each deferrable or not, valid or not.
    fn schema()
    -> impl proptest::strategy::Strategy<Value = (usize, Vec<(usize, usize, bool, bool)>)> {
        (2usize..=6).prop_flat_map(|n| {
            (
                Just(n),
                proptest::collection::vec((0..n, 0..n, any::<bool>(), any::<bool>()), 0..=8),
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Every table once; a parent before its child for every key that
        /// checks rows as they arrive; cycles broken with as few keys as
        /// possible; each key set aside once, so restored once; a parallel
        /// plan defers nothing.
        #[test]
        fn plans_for_random_schemas(
            (n, ks) in schema(),
            revalidate in any::<bool>(),
            jobs in 1usize..=2,
            version in prop_oneof![Just(150000), Just(180000)],
        ) {
            let tables: Vec<u32> = (1..=n as u32).collect();
            let keys: Vec<ForeignKey> = ks
                .iter()
                .enumerate()
                .map(|(i, &(c, p, deferrable, validated))| {
                    let mut k = key(100 + i as u32, c as u32 + 1, p as u32 + 1);
                    k.deferrable = deferrable;
                    k.validated = validated;
                    k
                })
                .collect();
            let w = World::new(version, &tables, keys);
            let strategy = if revalidate { StrategyChoice::Revalidate } else { StrategyChoice::Keep };
            let plan = w.plan(&options(strategy, jobs, false)).unwrap();

            let mut seen: Vec<u32> = plan.steps.iter().map(|s| s.table.oid).collect();
            seen.sort_unstable();
            prop_assert_eq!(seen, tables.clone());
            for (i, s) in plan.steps.iter().enumerate() {
                prop_assert_eq!(s.index, i);
            }
            for k in &plan.keys {
                if k.action == KeyAction::Keep {
                    for &c in &k.child_steps {
                        for &p in &k.parent_steps {
                            prop_assert!(c == p || p < c, "{} loads its child first", k.key.name);
                        }
                    }
                }
            }
            let edges: Vec<(usize, usize, usize)> = ks
                .iter()
                .enumerate()
                .map(|(i, &(c, p, _, _))| (c, p, i))
                .collect();
            let broken: usize = plan.cycles.iter().map(|c| c.broken.len()).sum();
            prop_assert_eq!(broken, fewest_breaking(&edges, ks.len()));
            let mut oids: Vec<u32> = plan.keys.iter().map(|k| k.key.oid).collect();
            let all = oids.len();
            oids.sort_unstable();
            oids.dedup();
            prop_assert_eq!(oids.len(), all, "a key planned twice");
            let aside = crate::run::ddl::set_aside(&plan);
            let keys_aside = plan.keys.iter().filter(|k| k.action.sets_aside()).count();
            prop_assert_eq!(aside.len(), keys_aside + plan.indexes.len());
            if jobs > 1 {
                prop_assert!(plan.deferred().next().is_none());
            }
            if revalidate {
                for k in &plan.keys {
                    prop_assert!(
                        !(k.key.validated && k.action == KeyAction::Keep),
                        "{} still checks row by row", k.key.name
                    );
                }
            }
            if version < 180000 {
                prop_assert!(plan.unenforced().next().is_none());
            }
        }
    }
}
