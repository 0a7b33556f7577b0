//! What a load will do: the plan's data. A plan is made once
//! ([`super::decide`]) and never changed after: what changes while a load
//! runs (the rows `--on-orphan` sets aside, the tables a check reloads in
//! file order) is the run's.

use std::path::PathBuf;

pub use crate::database::catalog::{Column, ForeignKey, Index, SequenceFeed, Table};
use crate::error::Ignored;
use crate::input::source::{ColumnsFrom, DataFile};
use crate::options::StrategyChoice;
use crate::sql::QualName;

/// What a plan is for: a load, or a check (`fkload check`), which loads in
/// one transaction that is rolled back, with every key of the loaded rows
/// set aside and checked after the data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Load,
    Check,
}

impl Purpose {
    /// The strategy for `bytes` of input, and why: as chosen, or by size
    /// ([`REVALIDATE_FROM_BYTES`]); a check always revalidates.
    pub(crate) fn strategy(self, choice: StrategyChoice, bytes: u64) -> (Strategy, StrategyReason) {
        let choice = match self {
            Purpose::Load => choice,
            Purpose::Check => StrategyChoice::Revalidate,
        };
        match choice {
            StrategyChoice::Keep => (Strategy::Keep, StrategyReason::Chosen),
            StrategyChoice::Revalidate => (Strategy::Revalidate, StrategyReason::Chosen),
            StrategyChoice::Auto if bytes >= REVALIDATE_FROM_BYTES => {
                (Strategy::Revalidate, StrategyReason::Large { bytes })
            }
            StrategyChoice::Auto => (Strategy::Keep, StrategyReason::Small { bytes }),
        }
    }

    /// The connections to load over: as asked (at least 1); a check uses one.
    pub(crate) fn jobs(self, jobs: usize) -> usize {
        match self {
            Purpose::Load => jobs.max(1),
            Purpose::Check => 1,
        }
    }
}

/// From this many bytes of input on, `auto` chooses [`Strategy::Revalidate`].
/// Measured (benches/README.md, "crossover"): the two tie on Northwind's 170 kB,
/// and revalidate is 2.4 times faster on Chinook's 400 kB and 3 to 4 times on
/// TPC-H from 11 MB up. Below it, keep costs nothing and takes no exclusive lock.
pub const REVALIDATE_FROM_BYTES: u64 = 256 * 1024;

/// How foreign keys are checked during the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Keys stay in place and check each row as it arrives (only the keys that
    /// break cycles are deferred or dropped). Best for small loads and live
    /// databases: no key is ever missing, even inside the transaction.
    Keep,
    /// Inside the one transaction, every key of the loaded rows is dropped, the
    /// files are loaded, and each key is added back with one validating pass, as
    /// pg_restore does. Indexes of tables that were empty are dropped too and
    /// built after the data. Best for large loads.
    Revalidate,
}

/// Why a plan uses its [`Strategy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrategyReason {
    /// The caller chose it.
    Chosen,
    /// Chosen by size: this many bytes of input are at least
    /// [`REVALIDATE_FROM_BYTES`], where one validating pass per key beats a
    /// check per row.
    Large { bytes: u64 },
    /// Chosen by size: this many bytes are under [`REVALIDATE_FROM_BYTES`],
    /// where checking rows as they arrive is cheaper than re-adding keys.
    Small { bytes: u64 },
}

/// How a load that empties the tables first does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Truncate {
    No,
    /// One `TRUNCATE` of every loaded table before the data (keys among them
    /// stay in place, so they must go in one statement).
    Upfront,
    /// Each table truncated in its COPY's own subtransaction, so that COPY can
    /// write the rows already frozen (`FREEZE`): no key references the tables
    /// while they load.
    PerStep,
}

/// What a load will do, made by `make`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Plan {
    pub dir: PathBuf,
    pub server_version_num: i32,
    pub strategy: Strategy,
    /// Why that strategy.
    pub strategy_reason: StrategyReason,
    /// The size of one COPY statement.
    pub batch_bytes: u64,
    /// Connections to load over.
    pub jobs: usize,
    /// Whether and how the tables are emptied first.
    pub truncate: Truncate,
    /// Tables outside the load that `--truncate` empties too, because they
    /// reference (directly or through each other) a table it empties and
    /// `TRUNCATE` takes them together or not at all.
    pub truncate_also: Vec<AlsoEmptied>,
    /// `--cascade`: empty such tables even when they hold rows.
    pub cascade: bool,
    /// The most examples an error or a check lists per problem.
    pub max_examples: usize,
    /// Citus in the database (its version), if it has it.
    pub citus: Option<String>,
    /// Every table Citus manages (oids), loaded or not.
    pub citus_tables: Vec<u32>,
    /// The ids of Citus's shards, whose names (`<name>_<shardid>`) errors
    /// from shards carry, to name tables, keys and indexes as the user
    /// declared them.
    pub(crate) citus_shards: Vec<i64>,
    /// The entries of the directory that are not loaded, and why.
    pub ignored: Vec<Ignored>,
    /// Indexes dropped before the data and built after it, in build order.
    pub indexes: Vec<PlannedIndex>,
    /// One step per file, in load order.
    pub steps: Vec<Step>,
    /// Every foreign key whose rows some step loads.
    pub keys: Vec<PlannedKey>,
    /// Each cycle and the keys that break it.
    pub cycles: Vec<Cycle>,
}

/// A table outside the load that `--truncate` empties too.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AlsoEmptied {
    pub table: Table,
    /// A table it references that is emptied: why it is emptied.
    pub references: QualName,
    /// Its rows when the plan was made.
    pub rows: u64,
}

impl AlsoEmptied {
    /// `public.review (3 rows; references public.product)`.
    pub fn describe(&self) -> String {
        let rows = match self.rows {
            0 => "empty".to_string(),
            1 => "1 row".to_string(),
            n => format!("{n} rows"),
        };
        format!(
            "{} ({rows}; references {})",
            self.table.name.human(),
            self.references.human()
        )
    }
}

/// One file loaded into one table.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Step {
    /// Its place in [`Plan::steps`]: keys name their steps by it.
    pub index: usize,
    pub file: DataFile,
    pub table: Table,
    /// The file's columns, in field order.
    pub columns: Vec<String>,
    /// Where [`Step::columns`] come from.
    pub columns_from: ColumnsFrom,
    /// All columns of the table, for the orphan search's casts.
    pub table_columns: Vec<Column>,
    pub bytes: u64,
    /// 1 for a table with no loaded parent; else one more than its highest parent.
    pub level: u32,
    /// The table references itself; its rows may come in any order.
    pub self_referencing: bool,
    /// Sequences that feed columns this file gives values for.
    pub sequences: Vec<SequenceFeed>,
    /// How many columns at the end of each record a reject file added, left
    /// out on the way to the server (0 for any other file). The rows
    /// `--on-orphan` sets aside are the run's, not the plan's.
    pub(crate) strip: usize,
}

/// A foreign key whose rows the load writes, and what the load does to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlannedKey {
    pub key: ForeignKey,
    /// The table the key is declared on.
    pub table: QualName,
    pub table_partitioned: bool,
    /// The referenced table.
    pub ref_table: QualName,
    pub ref_partitioned: bool,
    /// Steps whose rows are checked by the key.
    pub child_steps: Vec<usize>,
    /// Steps whose rows the key's rows may reference.
    pub parent_steps: Vec<usize>,
    pub action: KeyAction,
}

/// What the load does to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Checked as usual (at the end of each COPY, or at commit if initially deferred).
    Keep,
    /// Breaks a cycle; deferrable, so `SET CONSTRAINTS ... DEFERRED` for the load.
    Defer,
    /// Breaks a cycle; not deferrable, so dropped in the transaction and added back
    /// after the data. With `not_valid_first`, added `NOT VALID` then validated (a
    /// key that was `NOT VALID` stays so); without, added with a validating pass
    /// (partitioned tables before PostgreSQL 18 accept no `NOT VALID` key).
    Drop { not_valid_first: bool },
    /// Breaks a cycle or is revalidated, on PostgreSQL 18: set `NOT ENFORCED`
    /// for the load (its triggers go, the key stays in the catalog) and
    /// `ENFORCED` after the data, which validates it with one pass, as `VALIDATE
    /// CONSTRAINT` does. The key keeps its oid, its comment, and the names and
    /// comments of its copies on partitions. Used for valid keys (`ENFORCED`
    /// validates, so a `NOT VALID` key is dropped instead) whose referenced index
    /// is not rebuilt after the data, and not with per-table truncation: an
    /// unenforced key still depends on that index and still stops a `TRUNCATE`
    /// of the referenced table alone.
    Unenforce,
}

impl KeyAction {
    /// The key checks no row during the load and is put back after the data.
    pub fn sets_aside(self) -> bool {
        matches!(self, KeyAction::Drop { .. } | KeyAction::Unenforce)
    }
}

/// An index of an empty table, dropped before the data and built after it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlannedIndex {
    pub index: Index,
    pub table: QualName,
    /// The step that loads the table.
    pub step: usize,
}

/// A strongly connected component of two or more tables.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cycle {
    pub tables: Vec<QualName>,
    /// Indices into [`Plan::keys`] of the keys that break it.
    pub broken: Vec<usize>,
}

impl Plan {
    /// Whether the load writes to a table Citus manages.
    pub(crate) fn on_citus(&self) -> bool {
        self.steps
            .iter()
            .any(|s| self.citus_tables.contains(&s.table.oid))
    }

    /// Keys the load defers.
    pub fn deferred(&self) -> impl Iterator<Item = &PlannedKey> {
        self.keys.iter().filter(|k| k.action == KeyAction::Defer)
    }

    /// Keys the load drops and adds back.
    pub fn dropped(&self) -> impl Iterator<Item = &PlannedKey> {
        self.keys
            .iter()
            .filter(|k| matches!(k.action, KeyAction::Drop { .. }))
    }

    /// Keys the load sets `NOT ENFORCED` and enforces again.
    pub fn unenforced(&self) -> impl Iterator<Item = &PlannedKey> {
        self.keys
            .iter()
            .filter(|k| k.action == KeyAction::Unenforce)
    }

    /// Total bytes of all files.
    pub fn bytes(&self) -> u64 {
        self.steps.iter().map(|s| s.bytes).sum()
    }
}
