//! What a load will do: the plan's data. A plan is made once
//! ([`super::decide`]) and never changed after: what changes while a load
//! runs (the rows `--on-orphan` sets aside, the tables a check reloads in
//! file order) is the run's.

use std::path::PathBuf;

pub(crate) use crate::database::catalog::{Column, ForeignKey, Index, SequenceFeed, Table};
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
pub(crate) const REVALIDATE_FROM_BYTES: u64 = 256 * 1024;

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
pub(crate) enum StrategyReason {
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
pub(crate) enum Truncate {
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
    pub(crate) dir: PathBuf,
    pub(crate) server_version_num: i32,
    pub(crate) strategy: Strategy,
    /// Why that strategy.
    pub(crate) strategy_reason: StrategyReason,
    /// The size of one COPY statement.
    pub(crate) batch_bytes: u64,
    /// Connections to load over.
    pub(crate) jobs: usize,
    /// Whether and how the tables are emptied first.
    pub(crate) truncate: Truncate,
    /// Tables outside the load that `--truncate` empties too, because they
    /// reference (directly or through each other) a table it empties and
    /// `TRUNCATE` takes them together or not at all.
    pub(crate) truncate_also: Vec<AlsoEmptied>,
    /// `--cascade`: empty such tables even when they hold rows.
    pub(crate) cascade: bool,
    /// The most examples an error or a check lists per problem.
    pub(crate) max_examples: usize,
    /// `--on-error skip`: where the rows the server refuses go (the reject
    /// directory); `None` when the first such row stops the load.
    pub(crate) refused_to: Option<PathBuf>,
    /// Citus in the database (its version), if it has it.
    pub(crate) citus: Option<String>,
    /// Every table Citus manages (oids), loaded or not.
    pub(crate) citus_tables: Vec<u32>,
    /// The ids of Citus's shards, whose names (`<name>_<shardid>`) errors
    /// from shards carry, to name tables, keys and indexes as the user
    /// declared them.
    pub(crate) citus_shards: Vec<i64>,
    /// The entries of the directory that are not loaded, and why.
    pub(crate) ignored: Vec<Ignored>,
    /// Indexes dropped before the data and built after it, in build order.
    pub(crate) indexes: Vec<PlannedIndex>,
    /// One step per file, in load order.
    pub(crate) steps: Vec<Step>,
    /// Every foreign key whose rows some step loads.
    pub(crate) keys: Vec<PlannedKey>,
    /// Each cycle and the keys that break it.
    pub(crate) cycles: Vec<Cycle>,
}

/// A table outside the load that `--truncate` empties too.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct AlsoEmptied {
    pub(crate) table: Table,
    /// A table it references that is emptied: why it is emptied.
    pub(crate) references: QualName,
    /// Its rows when the plan was made.
    pub(crate) rows: u64,
}

impl AlsoEmptied {
    /// `public.review (3 rows; references public.product)`.
    pub(crate) fn describe(&self) -> String {
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
    pub(crate) index: usize,
    pub(crate) file: DataFile,
    pub(crate) table: Table,
    /// The file's columns, in field order.
    pub(crate) columns: Vec<String>,
    /// Where [`Step::columns`] come from.
    pub(crate) columns_from: ColumnsFrom,
    /// All columns of the table, for the orphan search's casts.
    pub(crate) table_columns: Vec<Column>,
    pub(crate) bytes: u64,
    /// 1 for a table with no loaded parent; else one more than its highest parent.
    pub(crate) level: u32,
    /// The table references itself; its rows may come in any order.
    pub(crate) self_referencing: bool,
    /// Sequences that feed columns this file gives values for.
    pub(crate) sequences: Vec<SequenceFeed>,
    /// How many columns at the end of each record a reject file added, left
    /// out on the way to the server (0 for any other file). The rows
    /// `--on-orphan` sets aside are the run's, not the plan's.
    pub(crate) strip: usize,
}

/// A foreign key whose rows the load writes, and what the load does to it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PlannedKey {
    pub(crate) key: ForeignKey,
    /// The table the key is declared on.
    pub(crate) table: QualName,
    pub(crate) table_partitioned: bool,
    /// The referenced table.
    pub(crate) ref_table: QualName,
    pub(crate) ref_partitioned: bool,
    /// Steps whose rows are checked by the key.
    pub(crate) child_steps: Vec<usize>,
    /// Steps whose rows the key's rows may reference.
    pub(crate) parent_steps: Vec<usize>,
    pub(crate) action: KeyAction,
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
    pub(crate) index: Index,
    pub(crate) table: QualName,
    /// The step that loads the table.
    pub(crate) step: usize,
}

/// A strongly connected component of two or more tables.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Cycle {
    pub(crate) tables: Vec<QualName>,
    /// Indices into [`Plan::keys`] of the keys that break it.
    pub(crate) broken: Vec<usize>,
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

/// What a plan says, for its callers: the data directory, the order, the
/// keys, the cycles. The fields are the crate's (the runners read them);
/// these read the facts a program may act on.
impl Plan {
    /// From this many bytes of input on, a load chooses
    /// [`Strategy::Revalidate`] when the caller did not choose a strategy.
    /// Measured (benches/README.md, "crossover"): the two tie on
    /// Northwind's 170 kB, and revalidate is 2.4 times faster on Chinook's
    /// 400 kB and 3 to 4 times on TPC-H from 11 MB up. Below it, keep costs
    /// nothing and takes no exclusive lock.
    pub const REVALIDATE_FROM_BYTES: u64 = REVALIDATE_FROM_BYTES;

    /// The data directory, as given.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The server's `server_version_num` (170004 for 17.4).
    pub fn server_version_num(&self) -> i32 {
        self.server_version_num
    }

    /// How foreign keys are checked during the load.
    pub fn strategy(&self) -> Strategy {
        self.strategy
    }

    /// Whether the strategy was chosen by the size of the input
    /// ([`Plan::bytes`] against [`Plan::REVALIDATE_FROM_BYTES`]) rather than
    /// by the caller.
    pub fn strategy_by_size(&self) -> bool {
        self.strategy_reason != StrategyReason::Chosen
    }

    /// Connections to load over: above 1, one transaction per file.
    pub fn jobs(&self) -> usize {
        self.jobs
    }

    /// Whether the load empties the loaded tables first (in its one
    /// transaction).
    pub fn truncates(&self) -> bool {
        self.truncate != Truncate::No
    }

    /// Whether each table is emptied in its own COPY's subtransaction, so
    /// that COPY writes the rows already frozen (`FREEZE`); else all are
    /// emptied in one `TRUNCATE` before the data.
    pub fn freezes(&self) -> bool {
        self.truncate == Truncate::PerStep
    }

    /// Tables outside the load that emptying the loaded ones empties too,
    /// because they reference an emptied table: each described
    /// (`public.review (3 rows; references public.product)`), with the rows
    /// it held when the plan was made.
    pub fn also_emptied(&self) -> impl Iterator<Item = (String, u64)> {
        self.truncate_also.iter().map(|a| (a.describe(), a.rows))
    }

    /// `--on-error skip`: the directory the rows the server refuses are set
    /// aside into; `None` when the first such row stops the load.
    pub fn refused_rows_to(&self) -> Option<&std::path::Path> {
        self.refused_to.as_deref()
    }

    /// The version of Citus in the database, if it has it.
    pub fn citus(&self) -> Option<&str> {
        self.citus.as_deref()
    }

    /// The entries of the directory that are not loaded, and why.
    pub fn ignored(&self) -> &[Ignored] {
        &self.ignored
    }

    /// One step per file, in load order: parents before children, but in
    /// a cycle.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every foreign key whose rows some step loads, and what the load does
    /// to it.
    pub fn keys(&self) -> &[PlannedKey] {
        &self.keys
    }

    /// Indexes dropped before the data (their tables are empty) and built
    /// after it, in build order.
    pub fn indexes(&self) -> &[PlannedIndex] {
        &self.indexes
    }

    /// Each cycle of tables and the keys that break it.
    pub fn cycles(&self) -> &[Cycle] {
        &self.cycles
    }
}

impl Step {
    /// Its place in [`Plan::steps`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// The file, as the user will see it in messages (the directory as
    /// given, joined).
    pub fn path(&self) -> &std::path::Path {
        &self.file.path
    }

    /// The file's name relative to the data directory (`sales/orders.csv`).
    pub fn file_name(&self) -> &str {
        &self.file.rel
    }

    /// Whether the file is gzip or zstd.
    pub fn compressed(&self) -> bool {
        self.file.compressed()
    }

    /// The file's size in bytes (compressed, where it is).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The table the file loads into.
    pub fn table(&self) -> &QualName {
        &self.table.name
    }

    /// The file's columns, in field order.
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Where the columns come from when not from the header row: `from
    /// fkload.toml`, `in the table's order`.
    pub fn columns_from(&self) -> Option<&'static str> {
        (self.columns_from != ColumnsFrom::Header).then(|| self.columns_from.describe())
    }

    /// How the file is written, where it is not COPY's CSV default
    /// (`delimiter ';', encoding LATIN1`); empty otherwise.
    pub fn dialect(&self) -> String {
        self.file.format.describe()
    }

    /// 1 for a table with no loaded parent; else one more than its highest
    /// parent.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// The table references itself; its rows may come in any order.
    pub fn self_referencing(&self) -> bool {
        self.self_referencing
    }

    /// What Citus makes of the table (`distributed by id, colocation 2`), if
    /// it manages it.
    pub fn citus(&self) -> Option<String> {
        self.table.citus.as_ref().map(ToString::to_string)
    }
}

impl PlannedKey {
    /// The constraint's name.
    pub fn name(&self) -> &str {
        &self.key.name
    }

    /// The table the key is declared on.
    pub fn table(&self) -> &QualName {
        &self.table
    }

    /// The referenced table.
    pub fn references(&self) -> &QualName {
        &self.ref_table
    }

    /// What the load does to the key.
    pub fn action(&self) -> KeyAction {
        self.action
    }

    /// `FOREIGN KEY (...) REFERENCES ...`, as `pg_get_constraintdef` writes
    /// it.
    pub fn definition(&self) -> &str {
        &self.key.definition
    }

    /// Whether the key is `DEFERRABLE`.
    pub fn deferrable(&self) -> bool {
        self.key.deferrable
    }

    /// Whether the key is valid (not `NOT VALID`).
    pub fn validated(&self) -> bool {
        self.key.validated
    }
}

impl PlannedIndex {
    /// The index's name.
    pub fn name(&self) -> &str {
        &self.index.name
    }

    /// The table it is on.
    pub fn table(&self) -> &QualName {
        &self.table
    }

    /// What is built: the constraint the index backs (`constraint
    /// "customer_email_key" UNIQUE (email)`), else `CREATE INDEX ...`.
    pub fn definition(&self) -> String {
        match &self.index.constraint {
            Some(c) => format!("constraint \"{}\" {}", c.name, c.definition),
            None => self.index.definition.clone(),
        }
    }
}

impl Cycle {
    /// Its tables.
    pub fn tables(&self) -> &[QualName] {
        &self.tables
    }

    /// The keys of `plan` (the plan the cycle is of) that break it.
    pub fn broken<'p>(&self, plan: &'p Plan) -> impl Iterator<Item = &'p PlannedKey> + use<'p> {
        let broken = self.broken.clone();
        broken.into_iter().filter_map(|k| plan.keys.get(k))
    }
}
