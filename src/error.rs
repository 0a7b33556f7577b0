//! The library's error type.
//!
//! [`Error`] is boxed so that `Result<T, Error>` stays one pointer wide; its
//! [`ErrorKind`] carries what a user needs to act: the file, the line, the table,
//! the constraint and the key. Server errors keep every field of the server's
//! report ([`DbErrorInfo`]) because `postgres::Error`'s own Display says only
//! "db error", and keep the client's error itself as the [`std::error::Error::source`]
//! (its [`postgres::Error::code`] is the SQLSTATE).
//!
//! A program acts on [`Error::sqlstate`], [`Error::position`] and
//! [`Error::is_connection`] rather than on the text. Messages say what
//! happened, in PostgreSQL's style: the primary line in lower case without a
//! final period, DETAIL and HINT as sentences; they name no command-line flag
//! (the CLI adds its own hints). Exit codes are the CLI's business.

use std::fmt;
use std::path::{Path, PathBuf};

use postgres::error::SqlState;

pub use crate::problems::{DuplicateViolation, KeyViolation, Orphan, Problems};

/// An error from planning or running a load.
#[derive(Debug)]
pub struct Error(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: ErrorKind,
    /// The client's error behind a server report or a lost connection.
    source: Option<postgres::Error>,
    /// What the check after a failed load found, when the kind is not
    /// [`ErrorKind::Problems`] itself (one violated key is
    /// [`ErrorKind::ForeignKey`]).
    problems: Option<Box<Problems>>,
}

/// Where in the input an error is: a file, and the line its record starts on
/// when the error is tied to one (1 is the header line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Position<'a> {
    pub path: &'a Path,
    pub line: Option<u64>,
}

/// SQLSTATE classes and codes that mean the session is gone: connection
/// exceptions (class 08) and operator intervention that ends it (57P01
/// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04
/// database_dropped, 57P05 idle_session_timeout).
fn ends_the_session(db: &DbErrorInfo) -> bool {
    matches!(db.severity.as_str(), "FATAL" | "PANIC")
        || db.code.starts_with("08")
        || db.code.starts_with("57P")
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error(Box::new(Inner {
            kind,
            source: None,
            problems: None,
        }))
    }

    /// `kind`, caused by the client's error `source` (kept as the source).
    pub(crate) fn caused_by(kind: ErrorKind, source: postgres::Error) -> Error {
        Error(Box::new(Inner {
            kind,
            source: Some(source),
            problems: None,
        }))
    }

    /// A statement failed while fkload was `during` something: the server's
    /// report, or a lost connection.
    pub(crate) fn server(e: postgres::Error, during: &str) -> Error {
        let kind = match e.as_db_error() {
            Some(db) => ErrorKind::Sql {
                during: during.to_string(),
                db: DbErrorInfo::from_db(db),
            },
            None => ErrorKind::ConnectionLost {
                during: during.to_string(),
                message: e.to_string(),
            },
        };
        Error::caused_by(kind, e)
    }

    /// This error, of a load that failed on a foreign key, with what the
    /// check of its data found: one violated key and nothing else stays
    /// [`ErrorKind::ForeignKey`] (now carrying every orphan row of it the
    /// check listed, and the client's error as its source), anything more is
    /// [`ErrorKind::Problems`]. Either way [`Error::problems`] and
    /// [`Error::violations`] give what was found.
    pub(crate) fn with_problems(mut self, mut problems: Problems) -> Error {
        let ErrorKind::ForeignKey(v) = &mut self.0.kind else {
            return self;
        };
        problems.db = Some(v.db.clone());
        let one_key = problems.keys.len() == 1
            && problems.errors.is_empty()
            && problems.duplicates.is_empty()
            && problems.unchecked.is_empty();
        match problems.keys.first() {
            Some(key) if one_key => {
                v.violation = key.clone();
                self.0.problems = Some(Box::new(problems));
                self
            }
            _ => Error::new(ErrorKind::Problems(Box::new(problems))),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    pub(crate) fn kind_mut(&mut self) -> &mut ErrorKind {
        &mut self.0.kind
    }

    /// Unwraps the kind (the source goes).
    pub fn into_kind(self) -> ErrorKind {
        self.0.kind
    }

    /// Everything that keeps the data from loading, when a failed load
    /// checked its data to list it (as `fkload check` does): the
    /// [`ErrorKind::Problems`] itself, or behind an
    /// [`ErrorKind::ForeignKey`] the check found alone. `None` for other
    /// errors, and for a key violation whose rows could not be listed (its
    /// [`KeyViolation::search_failed`] says why).
    pub fn problems(&self) -> Option<&Problems> {
        match self.kind() {
            ErrorKind::Problems(p) => Some(p),
            _ => self.0.problems.as_deref(),
        }
    }

    /// The violated foreign keys, each with its orphan rows (file, line,
    /// key), whatever the kind: one ([`ErrorKind::ForeignKey`]), or all of
    /// them among other problems ([`ErrorKind::Problems`]), also behind
    /// [`ErrorKind::Blocked`] and [`ErrorKind::Cleanup`]. Empty when the
    /// error is not about foreign keys. A program reads this rather than
    /// matching on both kinds:
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let mut client = postgres::Client::connect("host=localhost dbname=shop", postgres::NoTls)?;
    /// if let Err(e) = fkload::load_dir(&mut client, "fixtures/shop/data") {
    ///     for key in e.violations() {
    ///         for row in &key.examples {
    ///             eprintln!("{}:{}: {} has no parent", row.path.display(), row.line, row.key);
    ///         }
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn violations(&self) -> &[KeyViolation] {
        match self.kind() {
            ErrorKind::ForeignKey(v) => std::slice::from_ref(&v.violation),
            ErrorKind::Problems(p) => &p.keys,
            ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => {
                error.violations()
            }
            _ => &[],
        }
    }

    /// The server's report, when the error is one (or wraps one).
    pub fn db(&self) -> Option<&DbErrorInfo> {
        match self.kind() {
            ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. } => Some(db),
            ErrorKind::ForeignKey(v) => Some(&v.db),
            ErrorKind::Duplicate(d) => Some(&d.db),
            ErrorKind::Problems(p) => p.first_db(),
            ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => error.db(),
            _ => None,
        }
    }

    /// The SQLSTATE of the server's report (`23503` for a foreign-key
    /// violation), when there is one.
    pub fn sqlstate(&self) -> Option<&str> {
        self.db().map(|db| db.code.as_str())
    }

    /// The file (and line) the error is about, when it is about one.
    pub fn position(&self) -> Option<Position<'_>> {
        fn at(path: &Path, line: Option<u64>) -> Option<Position<'_>> {
            Some(Position { path, line })
        }
        match self.kind() {
            ErrorKind::Io { path, .. }
            | ErrorKind::NotAFile { path }
            | ErrorKind::Dialect { path, .. }
            | ErrorKind::NoDataFiles { dir: path, .. }
            | ErrorKind::NothingSelected { dir: path, .. } => at(path, None),
            ErrorKind::Header { path, .. }
            | ErrorKind::UnknownColumn { path, .. }
            | ErrorKind::GeneratedColumn { path, .. } => at(path, Some(1)),
            ErrorKind::Data { path, line, .. } | ErrorKind::Copy { path, line, .. } => {
                at(path, *line)
            }
            ErrorKind::UnknownTable { path, .. } | ErrorKind::AmbiguousTable { path, .. } => {
                at(path, None)
            }
            ErrorKind::Manifest { path, line, .. } => at(path, line.map(|l| l as u64)),
            ErrorKind::ForeignKey(v) => v
                .violation
                .examples
                .first()
                .and_then(|o| at(&o.path, Some(o.line))),
            ErrorKind::Duplicate(d) => d
                .violation
                .examples
                .first()
                .and_then(|(_, rows)| rows.first())
                .and_then(|o| at(&o.path, Some(o.line))),
            ErrorKind::Problems(p) => p.errors.iter().find_map(Error::position).or_else(|| {
                p.keys
                    .iter()
                    .find_map(|k| k.examples.first())
                    .or_else(|| {
                        p.duplicates
                            .iter()
                            .find_map(|d| d.examples.first()?.1.first())
                    })
                    .and_then(|o| at(&o.path, Some(o.line)))
            }),
            ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => error.position(),
            _ => None,
        }
    }

    /// Whether a connection failed because the server asked for a password
    /// and none was given (a terminal could then ask for one). The client
    /// reports it as a configuration error whose *source* says "password
    /// missing" (its own text says only "invalid configuration"), so the
    /// whole chain is read.
    pub fn needs_password(&self) -> bool {
        if !matches!(self.kind(), ErrorKind::Connect { .. }) {
            return false;
        }
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            if s.to_string() == "password missing" {
                return true;
            }
            source = s.source();
        }
        false
    }

    /// Whether the connection failed, was lost, or could not be set up (its
    /// settings are invalid): nothing the data can fix.
    pub fn is_connection(&self) -> bool {
        match self.kind() {
            ErrorKind::Connect { .. }
            | ErrorKind::ConnectionLost { .. }
            | ErrorKind::NotWritable { .. }
            | ErrorKind::Settings { .. } => true,
            ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. } => ends_the_session(db),
            ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => {
                error.is_connection()
            }
            _ => false,
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
}

/// What a stopped parallel load left, from its journal: the data of
/// [`ErrorKind::Stopped`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// The run whose journal lists what it left; `None` when it had changed
    /// nothing (the database is as before, and no journal names it).
    pub run: Option<String>,
    /// Files (or parts of big files) it committed; `None` when the journal
    /// could not be read after the stop.
    pub units_loaded: Option<usize>,
    /// How many files (or parts) it had to load.
    pub units_total: usize,
    /// Keys and indexes it left dropped; `None` when the journal could not be
    /// read after the stop.
    pub dropped: Option<usize>,
    /// How many connections it loaded over.
    pub jobs: usize,
}

/// The kinds of [`Error`]. More may be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file or directory could not be read.
    #[error("could not read \"{}\": {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// An entry of the data directory that names a table is not a regular file.
    #[error("\"{}\" is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    /// The data directory holds no data file; `ignored` is what it holds.
    #[error("{}: no data files: fkload loads <table>.csv and <table>.tsv (each also .gz or .zst), and the files fkload.toml names{}", dir.display(), ignored_text(ignored))]
    NoDataFiles {
        dir: PathBuf,
        ignored: Vec<crate::source::Ignored>,
    },
    /// A `-t`/`-n`/`-T`/`-N` pattern that cannot be read or matched.
    #[error("{switch} {pattern}: {message}")]
    Selection {
        switch: String,
        pattern: String,
        message: String,
    },
    /// The table patterns leave no file of the directory to load.
    #[error("{}: no file names a table the patterns select{}", dir.display(), ignored_text(ignored))]
    NothingSelected {
        dir: PathBuf,
        ignored: Vec<crate::source::Ignored>,
    },
    /// The header row of a file cannot be used.
    #[error("{}:1: {message}", path.display())]
    Header { path: PathBuf, message: String },
    /// `fkload.toml` cannot be used: not TOML, a key fkload does not know, a
    /// value of the wrong type, a file that is not there.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Manifest {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// A file's dialect breaks one of COPY's rules, or cannot be read as
    /// fkload reads files; `from` says where the options came from.
    #[error("{}: {message} ({from})", path.display())]
    Dialect {
        path: PathBuf,
        from: String,
        message: String,
    },
    /// A file holds what COPY cannot load as it is.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Data {
        path: PathBuf,
        line: Option<u64>,
        message: String,
    },
    /// An earlier parallel load was interrupted and left keys or indexes
    /// dropped: it must be resumed or repaired first.
    #[error(
        "an earlier parallel load (run {run}) did not finish; it left {dropped} keys or indexes dropped\nDETAIL:  fkload.journal lists the tables it loaded and the keys and indexes it dropped, with the SQL that restores each."
    )]
    Interrupted { run: String, dropped: i64 },
    /// A check found earlier parallel loads that did not finish: some of
    /// their rows are committed and their keys and indexes set aside, so
    /// what the check finds is not what a load finds (a load undoes such a
    /// run first). Each run with what it left.
    #[error("{}", unfinished_text(runs))]
    UnfinishedLoad { runs: Vec<crate::plan::Pending> },
    /// A parallel load was stopped on request (a signal): not undone, its
    /// journal lists what it committed and dropped, for a resumed load to
    /// finish or a repair to undo.
    #[error("{}", stopped_text(_0))]
    Stopped(Box<Stopped>),
    /// A resume found no journal: no parallel load was interrupted here (or
    /// the last one finished).
    #[error(
        "there is no interrupted parallel load to resume in this database\nDETAIL:  fkload.journal names no unfinished run: no parallel load was killed here after it changed anything, or the last one finished."
    )]
    NothingToResume,
    /// Another parallel load holds the journal of this database.
    #[error("another parallel fkload load is running on this database")]
    LoadRunning,
    /// The journal is not this role's alone, so its statements are not run.
    #[error(
        "fkload.journal is not this role's alone (another owner, grants, triggers or rules): fkload will not run the statements it holds"
    )]
    JournalNotTrusted,
    /// Emptying the tables first was asked of a parallel load.
    #[error(
        "emptying the tables first needs one transaction: emptied tables are given back on failure only by a rollback, and a parallel load commits table by table"
    )]
    TruncateInParallel,
    /// A mode that cannot work on the Citus tables of the load, refused before
    /// anything is written.
    #[error("{what} cannot work on Citus tables ({tables}): {why}")]
    CitusUnsupported {
        /// The mode (`-j 2`, `--resume`).
        what: String,
        /// The Citus tables concerned, with their kinds.
        tables: String,
        why: String,
    },
    /// Taking a run's rows out again would have deleted another number of rows
    /// than the run loaded: nothing was deleted.
    #[error(
        "taking the rows run {run} loaded into {table} out again would delete {found} rows, but the run loaded {loaded}: nothing was deleted"
    )]
    UndoMismatch {
        run: String,
        table: String,
        loaded: u64,
        found: u64,
    },
    /// A throwaway server (`--schema-file`, `testing`) could not be found,
    /// started or given its schema.
    #[error("throwaway server: {0}")]
    Throwaway(#[source] crate::server::error::ServerError),
    /// `--truncate` would have to empty tables outside the load that hold
    /// rows, because they reference an emptied table.
    #[error(
        "--truncate would have to empty tables outside the load, which reference the loaded ones and hold rows:\n{}\nHINT:  Load those tables too (a file each), or give --cascade to empty them as well.",
        tables.iter().map(|t| format!("  {t}")).collect::<Vec<_>>().join("\n")
    )]
    TruncateReferenced { tables: Vec<String> },
    /// A loader without a connector was asked to connect.
    #[error("this loader has no connector: plan and load on a connection of yours instead")]
    NoConnector,
    /// A worker thread of a parallel load panicked (a bug in fkload).
    #[error("a {0} worker panicked")]
    WorkerPanicked(&'static str),
    /// A parallel load could not start any of the work left (a bug in fkload's
    /// ordering).
    #[error("{0}")]
    Stuck(&'static str),
    /// A file name matches no table.
    #[error("{}: no table matches this file name{}", path.display(), similar(candidates))]
    UnknownTable {
        path: PathBuf,
        candidates: Vec<String>,
    },
    /// A file name matches more than one table.
    #[error("{}: file name is ambiguous: it matches tables {}\nHINT:  Name the schema with a folder: <schema>/<table>.csv.", path.display(), candidates.join(", "))]
    AmbiguousTable {
        path: PathBuf,
        candidates: Vec<String>,
    },
    /// Two files name the same table.
    #[error("table {table} is named by more than one file: {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DuplicateFile { table: String, paths: Vec<PathBuf> },
    /// A header names a column the table does not have.
    #[error("{}:1: column \"{column}\" of {source_of_names} does not exist in table {table}\nDETAIL:  The table's columns are: {}.{}", path.display(), available.join(", "), hint.as_ref().map(|h| format!("\nHINT:  {h}")).unwrap_or_default())]
    UnknownColumn {
        path: PathBuf,
        table: String,
        column: String,
        /// Where the name comes from: "the header row", "fkload.toml's
        /// columns".
        source_of_names: String,
        available: Vec<String>,
        /// What seems to be wrong (another delimiter), when fkload can tell.
        hint: Option<String>,
    },
    /// A header names a generated column, which cannot be loaded.
    #[error("{}:1: column \"{column}\" of table {table} is a generated column and cannot be loaded\nHINT:  Leave it out of the file: the server computes it.", path.display())]
    GeneratedColumn {
        path: PathBuf,
        table: String,
        column: String,
    },
    /// A parallel load failed, and putting the database back failed too.
    #[error(
        "{error}\nfkload: putting the database back after that failed too: {cleanup}\nDETAIL:  fkload.journal lists what is still dropped or loaded."
    )]
    Cleanup {
        error: Box<Error>,
        cleanup: Box<Error>,
    },
    /// A statement waited too long for a lock (or ran too long), with the
    /// sessions that held locks on the load's tables.
    #[error("{error}{}", blockers_text(blockers))]
    Blocked {
        error: Box<Error>,
        blockers: Vec<String>,
    },
    /// Keys or indexes a load (or a repair) put back are not what it took
    /// away: missing, or different. Nothing was reported as done; with a
    /// journal, the journal is kept.
    #[error("{}", not_restored_text(journal.as_deref(), problems))]
    NotRestored {
        /// The run whose journal lists them, when there is one.
        journal: Option<String>,
        /// One line per key or index: what it was, and what it is now.
        problems: Vec<String>,
    },
    /// The connection settings are invalid (a malformed URI, an unknown option).
    #[error("invalid connection settings: {message}")]
    Settings { message: String },
    /// The connection could not be made.
    #[error("connection to server failed ({target}): {message}")]
    Connect { target: String, message: String },
    /// Every server that answered is one a load may not write to (a standby,
    /// or a read-only session), or does not fit `target_session_attrs`.
    #[error(
        "no server to load into ({target}): {}",
        reasons.join("; ")
    )]
    NotWritable {
        target: String,
        /// Per host: why not.
        reasons: Vec<String>,
    },
    /// The connection was lost during the run.
    #[error("connection to server lost{}: {message}", during_text(during))]
    ConnectionLost { during: String, message: String },
    /// The server rejected a statement that is not tied to a file line.
    #[error("{db}\nCONTEXT:  fkload: {during}")]
    Sql { during: String, db: DbErrorInfo },
    /// A COPY failed; `line` is the file's own line number when the server said it.
    #[error("{}{}: {db}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Copy {
        path: PathBuf,
        line: Option<u64>,
        db: DbErrorInfo,
        /// On a duplicate key in a table that held rows before the load (and
        /// was not emptied): the table, and how many rows it held.
        held: Option<(String, u64)>,
    },
    /// Rows whose foreign key has no parent row: the one key a load found
    /// violated (with every orphan row of it the check after the load
    /// listed; [`Error::problems`] has that check's account).
    #[error("{0}")]
    ForeignKey(Box<ForeignKeyViolation>),
    /// Rows whose key a unique index, built after the data, finds twice.
    #[error("{0}")]
    Duplicate(Box<DuplicateKeys>),
    /// `--on-orphan skip` or `null` cannot judge the rows of a file.
    #[error("{}: {message}", path.display())]
    OrphanPolicy { path: PathBuf, message: String },
    /// Everything that keeps the data from loading, found in one run (a
    /// load that failed on a key reports this way several violated keys, or
    /// a key among other problems; one key alone is
    /// [`ErrorKind::ForeignKey`]). See [`Error::violations`].
    #[error("{0}")]
    Problems(Box<Problems>),
}

fn similar(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!("\nHINT:  Similar tables: {}.", candidates.join(", "))
    }
}

fn unfinished_text(runs: &[crate::plan::Pending]) -> String {
    let ids: Vec<&str> = runs.iter().map(|p| p.run.as_str()).collect();
    let (which, left) = match runs {
        [one] => (
            format!("an earlier parallel load (run {}) did not finish", one.run),
            format!("{}.", capitalized(&one.describe())),
        ),
        _ => (
            format!(
                "earlier parallel loads (runs {}) did not finish",
                ids.join(", ")
            ),
            runs.iter()
                .map(|p| format!("Run {}: {}.", p.run, p.describe()))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    };
    let whose = if runs.len() == 1 {
        "its load"
    } else {
        "their loads"
    };
    format!(
        "{which}: the database holds part of {whose}, so a check would not say what a load finds\nDETAIL:  {left} fkload.journal lists them, with the SQL that puts each key and index back."
    )
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn blockers_text(blockers: &[String]) -> String {
    if blockers.is_empty() {
        return String::new();
    }
    let mut out = String::from("\nDETAIL:  Sessions holding locks on the tables of the load:");
    for b in blockers {
        out.push_str("\n  ");
        out.push_str(b);
    }
    out
}

fn not_restored_text(journal: Option<&str>, problems: &[String]) -> String {
    let mut out = if problems.len() == 1 {
        "1 key or index is not back as it was".to_string()
    } else {
        format!(
            "{} keys or indexes are not back as they were",
            problems.len()
        )
    };
    out.push_str("\nDETAIL:  ");
    out.push_str(&problems.join("\n"));
    if let Some(run) = journal {
        out.push_str(&format!(
            "\nHINT:  fkload.journal (run {run}) is kept: it holds the statements that restore each one."
        ));
    }
    out
}

/// The entries a directory with no data files holds, one per line.
fn ignored_text(ignored: &[crate::source::Ignored]) -> String {
    ignored
        .iter()
        .map(|i| format!("\nDETAIL:  {}: {}", i.rel, i.why))
        .collect()
}

/// One line of [`ErrorKind::NotRestored`]: what an object was (as the
/// catalog described it) and what it is now.
pub(crate) fn restore_problem(what: &str, was: Option<&str>, is: Option<&str>) -> String {
    match (was, is) {
        (_, None) => format!("{what} is missing"),
        (None, Some(is)) => format!("{what} was not there and is now: {is}"),
        (Some(was), Some(is)) => format!("{what} was: {was}; it is now: {is}"),
    }
}

fn during_text(during: &str) -> String {
    if during.is_empty() {
        String::new()
    } else {
        format!(" during {during}")
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.kind.fmt(f)
    }
}

impl std::error::Error for Error {
    /// The client's error behind a server report (its `code()` is the
    /// SQLSTATE) or a lost connection; else the kind's own source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0.source {
            Some(e) => Some(e),
            None => std::error::Error::source(&self.0.kind),
        }
    }
}

/// Every field of a server error report, kept because the user needs them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbErrorInfo {
    pub severity: String,
    /// SQLSTATE, e.g. `23503`.
    pub code: String,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The CONTEXT lines (`where` in libpq).
    pub context: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub constraint: Option<String>,
}

impl DbErrorInfo {
    /// Copies the fields of a server error.
    pub fn from_db(e: &postgres::error::DbError) -> DbErrorInfo {
        DbErrorInfo {
            severity: e.severity().to_string(),
            code: e.code().code().to_string(),
            message: e.message().to_string(),
            detail: e.detail().map(str::to_string),
            hint: e.hint().map(str::to_string),
            context: e.where_().map(str::to_string),
            schema: e.schema().map(str::to_string),
            table: e.table().map(str::to_string),
            column: e.column().map(str::to_string),
            constraint: e.constraint().map(str::to_string),
        }
    }
}

impl DbErrorInfo {
    /// This report with the names of Citus shards (`<name>_<shardid>`, for
    /// one of `shards`) written as the names the user declared.
    pub(crate) fn unsharded(mut self, shards: &[i64]) -> DbErrorInfo {
        if shards.is_empty() {
            return self;
        }
        let fix = |s: &mut String| *s = crate::citus::unshard(s, shards);
        fix(&mut self.message);
        if let Some(s) = &mut self.detail {
            fix(s);
        }
        // A shard's COPY counts the lines Citus sent it, not the file's: such
        // a context line says nothing true about the file.
        self.context = self.context.as_deref().and_then(|c| {
            let kept: Vec<&str> = c
                .lines()
                .filter(|l| !crate::citus::is_shard_copy_context(l, shards))
                .collect();
            (!kept.is_empty()).then(|| crate::citus::unshard(&kept.join("\n"), shards))
        });
        // A worker's error relayed by the coordinator's COPY comes as an
        // internal error (XX000, Citus's ReportCopyError): the message says
        // which it is.
        // (The message is read in English, the workers' lc_messages by
        // default; in another language the code stays XX000.)
        if self.code == SqlState::INTERNAL_ERROR.code() {
            let kinds = [
                (
                    "violates foreign key constraint",
                    SqlState::FOREIGN_KEY_VIOLATION,
                ),
                ("violates unique constraint", SqlState::UNIQUE_VIOLATION),
                ("violates check constraint", SqlState::CHECK_VIOLATION),
                ("violates not-null constraint", SqlState::NOT_NULL_VIOLATION),
                (
                    "violates exclusion constraint",
                    SqlState::EXCLUSION_VIOLATION,
                ),
            ];
            if let Some((_, code)) = kinds.iter().find(|(m, _)| self.message.contains(m)) {
                self.code = code.code().to_string();
            }
        }
        // A worker's error relayed by the coordinator carries no table or
        // constraint field: the message names them.
        if self.constraint.is_none() {
            self.constraint = quoted_after(&self.message, " constraint \"");
        }
        if self.table.is_none() {
            self.table = quoted_after(&self.message, " on table \"");
        }
        for s in [&mut self.table, &mut self.constraint]
            .into_iter()
            .flatten()
        {
            *s = crate::citus::unshard_name(s, shards).to_string();
        }
        self
    }
}

/// The double-quoted name right after `marker` (which ends with the opening
/// quote) in `message`.
fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let len = message[start..].find('"')?;
    Some(message[start..start + len].to_string())
}

impl fmt::Display for DbErrorInfo {
    /// psql's layout: `ERROR:  message`, then DETAIL, HINT and CONTEXT lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = if self.severity.is_empty() {
            "ERROR"
        } else {
            &self.severity
        };
        write!(f, "{severity}:  {}", self.message)?;
        if let Some(d) = &self.detail {
            write!(f, "\nDETAIL:  {d}")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\nHINT:  {h}")?;
        }
        if let Some(c) = &self.context {
            write!(f, "\nCONTEXT:  {c}")?;
        }
        Ok(())
    }
}

/// A foreign-key violation: the server's report of the first row, and the
/// orphan rows found in the files (counted, the first few listed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForeignKeyViolation {
    /// The server's report of the first violation.
    pub db: DbErrorInfo,
    /// The orphan rows of the key's files.
    pub violation: KeyViolation,
}

impl fmt::Display for ForeignKeyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.db)?;
        self.violation.details(f, "")
    }
}

/// A unique index (built after the data) that found the same key in several
/// rows: the server's report, and the rows found in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DuplicateKeys {
    /// The server's report of the first duplicate.
    pub db: DbErrorInfo,
    /// The rows holding a duplicated key.
    pub violation: DuplicateViolation,
}

impl fmt::Display for DuplicateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.db)?;
        self.violation.details(f, "")
    }
}

fn stopped_text(s: &Stopped) -> String {
    let Some(run) = &s.run else {
        return "the parallel load was stopped before it changed anything".to_string();
    };
    let counted = match (s.units_loaded, s.dropped) {
        (Some(loaded), Some(dropped)) => format!(
            ": it committed {loaded} of {} files or parts and left {dropped} keys or indexes dropped",
            s.units_total
        ),
        _ => String::new(),
    };
    format!(
        "the parallel load (run {run}) was stopped{counted}\nDETAIL:  fkload.journal lists what it committed and dropped: a resumed load finishes it, a repair undoes it."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_error_layout_is_psqls() {
        let db = DbErrorInfo {
            severity: "ERROR".into(),
            code: "22P02".into(),
            message: "invalid input syntax for type integer: \"x\"".into(),
            detail: None,
            hint: Some("Use a number.".into()),
            context: Some("COPY orders, line 5, column id: \"x\"".into()),
            ..Default::default()
        };
        let e = Error::new(ErrorKind::Copy {
            path: "data/orders.csv".into(),
            line: Some(5),
            db,
            held: None,
        });
        assert_eq!(
            e.to_string(),
            "data/orders.csv:5: ERROR:  invalid input syntax for type integer: \"x\"\n\
             HINT:  Use a number.\nCONTEXT:  COPY orders, line 5, column id: \"x\""
        );
    }

    /// What Citus's coordinator relays of a worker's key violation in a
    /// COPY: an internal error, shard names, no table or constraint field,
    /// and the shard COPY's own line.
    #[test]
    fn a_relayed_shard_error_names_the_declared_table_and_key() {
        let relayed = DbErrorInfo {
            severity: "ERROR".into(),
            code: "XX000".into(),
            message: "insert or update on table \"orders_102012\" violates foreign key constraint \"orders_customer_email_fkey_102012\"".into(),
            detail: Some("Key (customer_email)=(x) is not present in table \"customer_102009\".".into()),
            context: Some("COPY orders_102012, line 3\nwhile executing command on 127.0.0.1:5433".into()),
            ..Default::default()
        };
        let info = relayed.clone().unsharded(&[102009, 102012]);
        assert_eq!(info.code, "23503");
        assert_eq!(info.table.as_deref(), Some("orders"));
        assert_eq!(
            info.constraint.as_deref(),
            Some("orders_customer_email_fkey")
        );
        assert_eq!(
            info.message,
            "insert or update on table \"orders\" violates foreign key constraint \"orders_customer_email_fkey\""
        );
        assert_eq!(
            info.detail.as_deref(),
            Some("Key (customer_email)=(x) is not present in table \"customer\".")
        );
        assert_eq!(
            info.context.as_deref(),
            Some("while executing command on 127.0.0.1:5433")
        );
        // Without Citus (no shard ids), nothing changes.
        assert_eq!(relayed.clone().unsharded(&[]), relayed);
        // A duplicate, likewise.
        let dup = DbErrorInfo {
            code: "XX000".into(),
            message: "duplicate key value violates unique constraint \"orders_pkey_102012\"".into(),
            ..Default::default()
        }
        .unsharded(&[102012]);
        assert_eq!(
            (dup.code.as_str(), dup.constraint.as_deref()),
            ("23505", Some("orders_pkey"))
        );
    }
}
