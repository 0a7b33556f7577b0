//! What a load is asked to do, before anything is read: the options a
//! [`crate::Loader`] is built with, and their defaults.

use std::path::PathBuf;

use crate::database::pattern::Selection;
use crate::input::dialect::DialectOptions;

/// Where a file is cut into several COPY statements: after the first record that
/// ends at least this many bytes into the batch.
pub const BATCH_BYTES: u64 = 64 * 1024 * 1024;

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum StrategyChoice {
    /// Choose by input size ([`crate::Plan::REVALIDATE_FROM_BYTES`]).
    #[default]
    Auto,
    Keep,
    Revalidate,
}

/// What a load does with rows whose foreign key has no parent row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnOrphan {
    /// The load fails and reports every violated key (the default).
    #[default]
    Error,
    /// The rows are not loaded; they go to the reject files.
    Skip,
    /// Their key columns are loaded as NULL where that satisfies the key,
    /// otherwise they are not loaded; either way they go to the reject files.
    Null,
}

/// How many examples an error or a check lists per problem by default.
pub const DEFAULT_MAX_EXAMPLES: usize = 20;

/// Where `--on-orphan` writes its reject files by default.
pub const DEFAULT_REJECT_DIR: &str = "fkload-rejects";

/// What a load does, as the builder sets it.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub strategy: StrategyChoice,
    /// Files are sent as COPY statements of about this many bytes each.
    pub batch_bytes: u64,
    /// Connections to load over; above 1, one transaction per file.
    pub jobs: usize,
    /// Empty the loaded tables first, in the load's transaction.
    pub truncate: bool,
    /// Finish an interrupted parallel load instead of repairing it.
    pub resume: bool,
    /// The most examples an error or a check lists per problem.
    pub max_examples: usize,
    /// What a load does with rows whose key has no parent.
    pub on_orphan: OnOrphan,
    /// `--on-error skip`: a load sets aside the rows the server refuses on
    /// their own (a bad value, a NULL in a NOT NULL column, a CHECK) into
    /// the reject files, and loads the rest.
    pub skip_refused: bool,
    /// Where the rows `on_orphan` sets aside or changes are written.
    pub reject_dir: PathBuf,
    /// Which tables of the directory to load.
    pub selection: Selection,
    /// How the files are written, where `fkload.toml` does not say per file.
    pub dialect: DialectOptions,
    /// With `truncate`: also empty tables outside the load that reference
    /// an emptied one when they hold rows.
    pub cascade: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            strategy: StrategyChoice::Auto,
            batch_bytes: BATCH_BYTES,
            jobs: 1,
            truncate: false,
            resume: false,
            max_examples: DEFAULT_MAX_EXAMPLES,
            on_orphan: OnOrphan::Error,
            skip_refused: false,
            reject_dir: PathBuf::from(DEFAULT_REJECT_DIR),
            selection: Selection::default(),
            dialect: DialectOptions::default(),
            cascade: false,
        }
    }
}

impl DialectOptions {
    /// Checks the options as COPY checks its own (one byte each, quote and
    /// delimiter apart, no delimiter in the NULL string, an encoding
    /// PostgreSQL knows ...), as a CSV file's (`tsv` false: a `.tsv` file
    /// starts from a tab). A plan checks every file's this way.
    ///
    /// # Errors
    /// The [`DialectError`](crate::dialect::DialectError) that says which
    /// rule they break.
    pub fn check(&self, tsv: bool) -> Result<(), crate::dialect::DialectError> {
        self.resolve(tsv).map(drop)
    }
}
