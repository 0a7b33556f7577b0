//! The library's error type.
//!
//! [`Error`] is boxed so that `Result<T, Error>` stays one pointer wide; its
//! [`ErrorKind`] carries what a user needs to act: the file, the line, the table,
//! the constraint and the key. Server errors keep every field of the server's
//! report ([`DbErrorInfo`]) because `postgres::Error`'s own Display says only
//! "db error", and keep the client's error itself as the [`std::error::Error::source`]
//! (its [`postgres::Error::code`] is the SQLSTATE); the connection settings'
//! errors are sources too, as are why a header, `fkload.toml` or a table
//! pattern cannot be used ([`HeaderError`], [`ManifestError`],
//! [`PatternError`]); why each host tried gave no session is data
//! ([`HostAttempt`]). No kind carries a message written
//! elsewhere: lists are lists of data ([`Unrestored`]), and the words are
//! the `Display` of those types.
//!
//! A program acts on [`Error::sqlstate`], [`Error::position`] and
//! [`Error::is_connection`] rather than on the text. An error is data, its
//! layout is the caller's: `Display` is the primary message, in PostgreSQL's
//! style (lower case, no final period), and [`Error::detail`] and
//! [`Error::hint`] are sentences made from the kind's data (`notes.rs`
//! words what takes more than a sentence); no
//! text names a command-line flag (the CLI lays errors out as psql does, in
//! `src/cli/errors.rs`, and adds its own hints). Exit codes are the CLI's
//! business.

use std::fmt;
use std::path::{Path, PathBuf};

use postgres::error::SqlState;

mod attempt;
pub(crate) mod dialect;
pub(crate) mod found;
mod input;
mod launch;
pub(crate) mod notes;
mod server;
pub(crate) mod settings;
mod state;

pub use attempt::HostAttempt;
pub(crate) use attempt::Misfit;
use dialect::DialectError;
use found::plural;
pub use found::{DuplicateViolation, KeyViolation, Orphan, Unchecked};
pub use input::{HeaderError, ManifestError, PatternError};
pub use launch::ServerError;
pub(crate) use launch::client_text;
pub use server::DbErrorInfo;
use settings::ConnInfoError;
pub use state::{Ignored, Pending, Unrestored};
pub(crate) use state::{PendingObject, PendingTable, SetAside};

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

/// SQLSTATE classes and codes that mean the session is gone: connection
/// exceptions (class 08) and operator intervention that ends it (57P01
/// admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now, 57P04
/// database_dropped, 57P05 idle_session_timeout).
fn ends_the_session(db: &DbErrorInfo) -> bool {
    matches!(db.severity.as_str(), "FATAL" | "PANIC")
        || db.code.code().starts_with("08")
        || db.code.code().starts_with("57P")
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
        match e.as_db_error() {
            Some(db) => {
                let kind = ErrorKind::Sql {
                    during: during.to_string(),
                    db: DbErrorInfo::from_db(db),
                };
                Error::caused_by(kind, e)
            }
            None => Error::new(ErrorKind::ConnectionLost {
                during: during.to_string(),
                source: e,
            }),
        }
    }

    /// This error, of a load that failed on a foreign key, with what the
    /// check of its data found: one violated key and nothing else stays
    /// [`ErrorKind::ForeignKey`] (now carrying every orphan row of it the
    /// check listed, and the client's error as its source), anything more is
    /// [`ErrorKind::Problems`]. Either way [`Error::problems`] and
    /// [`Error::violations`] give what was found.
    pub(crate) fn with_problems(mut self, mut problems: Problems) -> Error {
        let ErrorKind::ForeignKey { db, violation } = &mut self.0.kind else {
            return self;
        };
        problems.db = Some(DbErrorInfo::clone(db));
        let one_key = problems.keys.len() == 1
            && problems.errors.is_empty()
            && problems.duplicates.is_empty()
            && problems.unchecked.is_empty();
        match problems.keys.first() {
            Some(key) if one_key => {
                **violation = key.clone();
                self.0.problems = Some(Box::new(problems));
                self
            }
            _ => Error::new(ErrorKind::Problems(Box::new(problems))),
        }
    }

    /// The client's error behind a server report, a failed connection or a
    /// lost one.
    pub(crate) fn client_error(&self) -> Option<&postgres::Error> {
        match self.kind() {
            ErrorKind::ConnectionLost { source, .. } => Some(source),
            _ => self.0.source.as_ref(),
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
            ErrorKind::ForeignKey { violation, .. } => std::slice::from_ref(violation),
            ErrorKind::Problems(p) => &p.keys,
            ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => {
                error.violations()
            }
            _ => &[],
        }
    }

    /// The DETAIL, in PostgreSQL's words (sentences, one line per item
    /// where the kind lists several): the server's own for its reports,
    /// then what fkload found (the orphan rows of a key, with their files
    /// and lines); for fkload's errors, what the kind's data says (the
    /// table's columns, the sessions holding locks, what a journal lists).
    /// `None` when there is nothing more than the message.
    pub fn detail(&self) -> Option<String> {
        let text = |s: &str| Some(s.to_string());
        match self.kind() {
            ErrorKind::NoDataFiles { ignored, .. } | ErrorKind::NothingSelected { ignored, .. } => {
                notes::ignored(ignored)
            }
            ErrorKind::Interrupted { .. } => text(
                "fkload.journal lists the tables it loaded and the keys and indexes it dropped, with the SQL that restores each.",
            ),
            ErrorKind::UnfinishedLoad { runs } => Some(notes::unfinished_detail(runs)),
            ErrorKind::Stopped { run, .. } => run.as_ref().and(text(
                "fkload.journal lists what it committed and dropped: a resumed load finishes it, a repair undoes it.",
            )),
            ErrorKind::NothingToResume => text(
                "fkload.journal names no unfinished run: no parallel load was killed here after it changed anything, or the last one finished.",
            ),
            ErrorKind::TruncateReferenced { tables } => notes::lines(tables.iter().cloned()),
            ErrorKind::UnknownColumn { available, .. } => Some(format!(
                "The table's columns are: {}.",
                available.join(", ")
            )),
            ErrorKind::Cleanup { .. } => text("fkload.journal lists what is still dropped or loaded."),
            ErrorKind::Blocked { blockers, .. } => notes::blockers(blockers),
            ErrorKind::NotRestored { problems, .. } => notes::lines(problems.iter().map(Unrestored::to_string)),
            ErrorKind::Settings { source } => source.detail(),
            ErrorKind::Connect { .. } => self.client_error()?.as_db_error()?.detail().map(str::to_string),
            ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. } => db.detail.clone(),
            ErrorKind::Refused {
                path,
                rows,
                examples,
                ..
            } => Some(notes::refused(path, *rows, examples)),
            ErrorKind::ForeignKey { db, violation } => notes::lines(db.detail.clone().into_iter().chain(violation.detail())),
            ErrorKind::Duplicate { db, violation } => notes::lines(db.detail.clone().into_iter().chain(violation.detail())),
            _ => None,
        }
    }

    /// The HINT: what to do about the error, in the library's terms (the
    /// server's own for its reports). Naming no command-line flag: the
    /// command adds its own advice.
    pub fn hint(&self) -> Option<String> {
        let text = |s: &str| Some(s.to_string());
        match self.kind() {
            ErrorKind::HeaderNotUtf8 { .. } => text(
                "If the file is in another encoding, say which: the encoding of its dialect options, or encoding in fkload.toml.",
            ),
            ErrorKind::EndMarker { .. } => text("Quote the value (\"\\.\") to load it as text."),
            ErrorKind::TruncateReferenced { .. } => {
                text("Load those tables too (a file each), or empty them as well (cascade).")
            }
            ErrorKind::Throwaway(s) => s.hint().map(str::to_string),
            ErrorKind::UnknownTable { candidates, .. } if !candidates.is_empty() => {
                Some(format!("Similar tables: {}.", candidates.join(", ")))
            }
            ErrorKind::AmbiguousTable { .. } => {
                text("Name the schema with a folder: <schema>/<table>.csv.")
            }
            ErrorKind::UnknownColumn {
                seems_delimited_by: Some(c),
                ..
            } => Some(notes::other_delimiter(*c)),
            ErrorKind::GeneratedColumn { .. } => {
                text("Leave it out of the file: the server computes it.")
            }
            ErrorKind::NotRestored {
                journal: Some(run), ..
            } => Some(format!(
                "fkload.journal (run {run}) is kept: it holds the statements that restore each one."
            )),
            ErrorKind::Settings { source } => source.hint().map(str::to_string),
            ErrorKind::Connect { .. } => self
                .client_error()?
                .as_db_error()?
                .hint()
                .map(str::to_string),
            ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. } => db.hint.clone(),
            ErrorKind::ForeignKey { db, .. } | ErrorKind::Duplicate { db, .. } => db.hint.clone(),
            _ => None,
        }
    }

    /// The server's report, when the error is one (or wraps one).
    pub fn db(&self) -> Option<&DbErrorInfo> {
        match self.kind() {
            ErrorKind::Sql { db, .. } | ErrorKind::Copy { db, .. } => Some(db),
            ErrorKind::ForeignKey { db, .. } | ErrorKind::Duplicate { db, .. } => Some(db),
            ErrorKind::Problems(p) => p.first_db(),
            ErrorKind::Cleanup { error, .. } | ErrorKind::Blocked { error, .. } => error.db(),
            _ => None,
        }
    }

    /// The SQLSTATE of the server's report (`23503` for a foreign-key
    /// violation), when there is one.
    pub fn sqlstate(&self) -> Option<&SqlState> {
        self.db().map(|db| &db.code)
    }

    /// The file the error is about, when it is about one, and the line its
    /// record starts on when the error is tied to one (1 is the header
    /// line).
    pub fn position(&self) -> Option<(&Path, Option<u64>)> {
        fn at(path: &Path, line: Option<u64>) -> Option<(&Path, Option<u64>)> {
            Some((path, line))
        }
        match self.kind() {
            ErrorKind::Io { path, .. }
            | ErrorKind::NotAFile { path }
            | ErrorKind::Dialect { path, .. }
            | ErrorKind::NoDataFiles { dir: path, .. }
            | ErrorKind::NothingSelected { dir: path, .. } => at(path, None),
            ErrorKind::Header { path, .. }
            | ErrorKind::HeaderNotUtf8 { path, .. }
            | ErrorKind::UnknownColumn { path, .. }
            | ErrorKind::GeneratedColumn { path, .. } => at(path, Some(1)),
            ErrorKind::Copy { path, line, .. } => at(path, *line),
            ErrorKind::EndMarker { path, line } => at(path, Some(*line)),
            ErrorKind::RowCount { path, .. } => at(path, None),
            ErrorKind::UnknownTable { path, .. } | ErrorKind::AmbiguousTable { path, .. } => {
                at(path, None)
            }
            ErrorKind::Manifest { path, line, .. } => at(path, line.map(|l| l as u64)),
            ErrorKind::ForeignKey { violation, .. } => violation
                .examples
                .first()
                .and_then(|o| at(&o.path, Some(o.line))),
            ErrorKind::Duplicate { violation, .. } => violation
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

    /// Whether the connection failed, was lost, or could not be set up (its
    /// settings are invalid): nothing the data can fix.
    pub fn is_connection(&self) -> bool {
        match self.kind() {
            ErrorKind::Connect { .. }
            | ErrorKind::PasswordPrompt { .. }
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

impl From<ConnInfoError> for Error {
    /// [`ErrorKind::Settings`], the settings' error its source.
    fn from(source: ConnInfoError) -> Error {
        Error::new(ErrorKind::Settings { source })
    }
}

/// The kinds of [`Error`]. More may be added.
///
/// Each kind's `Display` is the primary message, as PostgreSQL writes one:
/// lower case, no final period, after the file (and line) it is about; a
/// server's report is its `ERROR:  message` line. What more there is to say
/// is data: [`Error::detail`] and [`Error::hint`] word it, the fields hold it.
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
    /// The data directory holds no data file; `ignored` is what it holds
    /// (the detail names each).
    #[error("{}: no data files: fkload loads <table>.csv and <table>.tsv (each also .gz or .zst), and the files fkload.toml names", dir.display())]
    NoDataFiles { dir: PathBuf, ignored: Vec<Ignored> },
    /// A `-t`/`-n`/`-T`/`-N` pattern that cannot be read or matched (the
    /// source says why; the server's error, when it refused the pattern, is
    /// the [`Error`]'s).
    #[error("{switch} {pattern}: {source}")]
    Selection {
        /// The pattern's switch, as pg_dump's: `-t`, `-n`, `-T`, `-N`.
        switch: String,
        pattern: String,
        source: PatternError,
    },
    /// The table patterns leave no file of the directory to load; `ignored`
    /// is what the directory holds (the detail names each).
    #[error("{}: no file names a table the patterns select", dir.display())]
    NothingSelected { dir: PathBuf, ignored: Vec<Ignored> },
    /// The header row of a file cannot be used (the source says why).
    #[error("{}:1: {source}", path.display())]
    Header { path: PathBuf, source: HeaderError },
    /// A column name of the header row is not UTF-8, and the file's
    /// dialect names no other encoding (the hint says to).
    #[error("{}:1: column name {column} is not valid UTF-8", path.display())]
    HeaderNotUtf8 {
        path: PathBuf,
        /// The column, from 1.
        column: usize,
    },
    /// `fkload.toml` cannot be used: not TOML, a key fkload does not know, a
    /// value of the wrong type, a file that is not there.
    #[error("{}{}: {source}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Manifest {
        path: PathBuf,
        line: Option<usize>,
        source: ManifestError,
    },
    /// A file's dialect breaks one of COPY's rules, or cannot be read as
    /// fkload reads files (the source says which); `from` says where the
    /// options came from.
    #[error("{}: {source} ({from})", path.display())]
    Dialect {
        path: PathBuf,
        from: String,
        source: DialectError,
    },
    /// A line of a file holds only `\.`, which COPY takes for the end of
    /// the data: the rows after it would be lost.
    #[error("{}:{line}: a line holding only \\. is COPY's end-of-data marker: the rows after it would be lost", path.display())]
    EndMarker { path: PathBuf, line: u64 },
    /// The server loaded another number of rows than the file holds
    /// records: it read the file otherwise than fkload did.
    #[error("{}: the server loaded {server} rows but the file holds {file} records; nothing was loaded", path.display())]
    RowCount {
        path: PathBuf,
        /// The records of the file, as fkload reads them.
        file: u64,
        /// The rows the server loaded from it.
        server: u64,
    },
    /// An earlier parallel load was interrupted and left keys or indexes
    /// dropped: it must be resumed or repaired first.
    #[error(
        "an earlier parallel load (run {run}) did not finish; it left {dropped} keys or indexes dropped"
    )]
    Interrupted { run: String, dropped: i64 },
    /// A check found earlier parallel loads that did not finish: some of
    /// their rows are committed and their keys and indexes set aside, so
    /// what the check finds is not what a load finds (a load undoes such a
    /// run first). Each run with what it left.
    #[error("{}", notes::unfinished(runs))]
    UnfinishedLoad { runs: Vec<Pending> },
    /// A parallel load was stopped on request (a signal): not undone, its
    /// journal lists what it committed and dropped, for a resumed load to
    /// finish or a repair to undo.
    #[error("{}", notes::stopped(run.as_deref(), *units_loaded, *units_total, *dropped))]
    Stopped {
        /// The run whose journal lists what it left; `None` when it had
        /// changed nothing (the database is as before, and no journal names
        /// it).
        run: Option<String>,
        /// Files (or parts of big files) it committed; `None` when the
        /// journal could not be read after the stop.
        units_loaded: Option<usize>,
        /// How many files (or parts) it had to load.
        units_total: usize,
        /// Keys and indexes it left dropped; `None` when the journal could
        /// not be read after the stop.
        dropped: Option<usize>,
        /// How many connections it loaded over.
        jobs: usize,
    },
    /// A resume found no journal: no parallel load was interrupted here (or
    /// the last one finished).
    #[error("there is no interrupted parallel load to resume in this database")]
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
    /// A parallel load (or the resume of one) was asked on Citus tables,
    /// refused before anything is written.
    #[error("{} cannot work on Citus tables ({}): {why}", notes::citus_mode(*jobs, *resume), tables.join(", "))]
    CitusUnsupported {
        /// The connections asked for.
        jobs: usize,
        /// Whether the load was to finish an interrupted one.
        resume: bool,
        /// The Citus tables concerned, each with its kind:
        /// `public.orders (distributed by id, colocation 2)`.
        tables: Vec<String>,
        /// Why the mode cannot work there.
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
    /// A throwaway server (`testing`, a schema file) could not be found,
    /// started or given its schema.
    #[error("throwaway server: {0}")]
    Throwaway(#[source] ServerError),
    /// Emptying the loaded tables first would have to empty tables outside
    /// the load that hold rows, because they reference an emptied table
    /// (and emptying those too was not asked).
    #[error(
        "emptying the tables first would also empty tables outside the load, which reference the loaded ones and hold rows"
    )]
    TruncateReferenced {
        /// Each such table with its rows and the loaded table it
        /// references: `public.review (3 rows; references public.product)`.
        tables: Vec<String>,
    },
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
    /// A file name matches no table; `candidates` are tables with similar
    /// names (the hint names them).
    #[error("{}: no table matches this file name", path.display())]
    UnknownTable {
        path: PathBuf,
        candidates: Vec<String>,
    },
    /// A file name matches more than one table.
    #[error("{}: file name is ambiguous: it matches tables {}", path.display(), candidates.join(", "))]
    AmbiguousTable {
        path: PathBuf,
        candidates: Vec<String>,
    },
    /// Two files name the same table.
    #[error("table {table} is named by more than one file: {}", paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    DuplicateFile { table: String, paths: Vec<PathBuf> },
    /// A header names a column the table does not have (the detail lists
    /// the table's columns).
    #[error("{}:1: column \"{column}\" of {source_of_names} does not exist in table {table}", path.display())]
    UnknownColumn {
        path: PathBuf,
        table: String,
        column: String,
        /// Where the name comes from: "the header row", "fkload.toml's
        /// columns".
        source_of_names: String,
        available: Vec<String>,
        /// The delimiter a one-column header seems to be separated by
        /// instead of the file's own (`id;name` read with `,`), when fkload
        /// can tell: the hint says so.
        seems_delimited_by: Option<char>,
    },
    /// A header names a generated column, which cannot be loaded.
    #[error("{}:1: column \"{column}\" of table {table} is a generated column and cannot be loaded", path.display())]
    GeneratedColumn {
        path: PathBuf,
        table: String,
        column: String,
    },
    /// A parallel load failed (`error`, whose message this is), and putting
    /// the database back failed too (`cleanup`).
    #[error("{error}")]
    Cleanup {
        error: Box<Error>,
        cleanup: Box<Error>,
    },
    /// A statement waited too long for a lock (or ran too long) (`error`,
    /// whose message this is), with the sessions that held locks on the
    /// load's tables (the detail lists them).
    #[error("{error}")]
    Blocked {
        error: Box<Error>,
        blockers: Vec<String>,
    },
    /// Keys or indexes a load (or a repair) put back are not what it took
    /// away: missing, or different. Nothing was reported as done; with a
    /// journal, the journal is kept.
    #[error("{}", notes::not_restored(problems.len()))]
    NotRestored {
        /// The run whose journal lists them, when there is one.
        journal: Option<String>,
        /// Each key or index: what it was, and what it is now (the detail
        /// has a line for each).
        problems: Vec<Unrestored>,
    },
    /// The connection settings are invalid (a malformed URI, an unknown
    /// option, a service no file defines, TLS settings that cannot make a
    /// connector: a root certificate file that is not there, a key others
    /// can read); the source says which.
    #[error("invalid connection settings: {source}")]
    Settings { source: ConnInfoError },
    /// The connection could not be made: per host tried, in the order
    /// tried, a line that says why (the last one's client error is the
    /// source; its server report, when it sent one, gives the detail and
    /// hint).
    #[error(
        "connection to server failed ({target}): {}",
        attempts.iter().map(HostAttempt::to_string).collect::<Vec<_>>().join("\n")
    )]
    Connect {
        target: String,
        attempts: Vec<HostAttempt>,
    },
    /// The password could not be asked for, so no connection was tried.
    #[error("connection to server failed ({target}): could not read the password: {source}")]
    PasswordPrompt {
        target: String,
        source: std::io::Error,
    },
    /// Every server that answered is one a load may not write to (a standby,
    /// or a read-only session), or does not fit `target_session_attrs`.
    #[error(
        "no server to load into ({target}): {}",
        reasons.iter().map(HostAttempt::to_string).collect::<Vec<_>>().join("; ")
    )]
    NotWritable {
        target: String,
        /// Per host: why not (the sessions that did not fit, then the
        /// hosts that failed).
        reasons: Vec<HostAttempt>,
    },
    /// The connection was lost during the run: the client's error says how.
    #[error("connection to server lost{}: {source}", notes::during(during))]
    ConnectionLost {
        /// What fkload was doing: `loading public.orders`.
        during: String,
        source: postgres::Error,
    },
    /// The server rejected a statement that is not tied to a file line;
    /// `during` says what fkload was doing.
    #[error("{db}")]
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
    #[error("{db}")]
    ForeignKey {
        /// The server's report of the first violation.
        db: Box<DbErrorInfo>,
        /// The orphan rows of the key's files (counted, the first few
        /// listed).
        violation: Box<KeyViolation>,
    },
    /// Rows whose key a unique index, built after the data, finds twice.
    #[error("{db}")]
    Duplicate {
        /// The server's report of the first duplicate.
        db: Box<DbErrorInfo>,
        /// The rows holding a duplicated key.
        violation: Box<DuplicateViolation>,
    },
    /// Rows of one file the server refused one by one, for one reason: a
    /// value a column's type refuses, a NULL in a NOT NULL column, a CHECK,
    /// a row with too many or too few fields, bytes not in the file's
    /// encoding. Counted exactly; the first few listed (the detail), each
    /// at its line with the server's own message, which names the value.
    #[error("{}: {db}{}", path.display(), notes::refused_where(column.as_deref(), db.constraint.as_deref()))]
    Refused {
        path: PathBuf,
        /// The server's report of the first of them: its SQLSTATE, and the
        /// constraint they break, if one.
        db: Box<DbErrorInfo>,
        /// The column, where the report names one.
        column: Option<String>,
        /// How many rows.
        rows: u64,
        /// The first of them, in file order: the line each starts on, and
        /// the server's message.
        examples: Vec<(u64, String)>,
    },
    /// Orphan rows cannot be skipped or set NULL before the load for the
    /// rows of a file ([`crate::OnOrphan`]): it lacks a column of a key.
    #[error("{}: the file has no column {column} of key \"{key}\", so which of its rows break the key cannot be told before the load", path.display())]
    OrphanPolicy {
        path: PathBuf,
        /// The key's name.
        key: String,
        /// The column the file lacks, as SQL names it.
        column: String,
    },
    /// Everything that keeps the data from loading, found in one run (a
    /// load that failed on a key reports this way several violated keys, or
    /// a key among other problems; one key alone is
    /// [`ErrorKind::ForeignKey`]); the message counts them. See
    /// [`Error::violations`].
    #[error("{0}")]
    Problems(Box<Problems>),
}

impl fmt::Display for Error {
    /// The primary message (see [`ErrorKind`]); [`Error::detail`] and
    /// [`Error::hint`] say the rest.
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

/// What a check found: empty when the data would load.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Problems {
    /// Files the server rejected (one error per file: COPY stops at the first
    /// bad row), and statements after the data that failed.
    pub errors: Vec<Error>,
    /// Every violated foreign key.
    pub keys: Vec<KeyViolation>,
    /// Every unique index that found a key twice.
    pub duplicates: Vec<DuplicateViolation>,
    /// Every row the server refused one by one, by file and reason: each an
    /// [`ErrorKind::Refused`].
    pub bad_rows: Vec<Error>,
    /// What could not be checked because of an earlier error.
    pub unchecked: Vec<Unchecked>,
    /// The most examples listed per problem.
    pub max_examples: usize,
    /// The server's report that ended the load, when a failed load found
    /// these (a check has none).
    pub db: Option<DbErrorInfo>,
}

impl Problems {
    /// Nothing keeps the data from loading.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
            && self.keys.is_empty()
            && self.duplicates.is_empty()
            && self.bad_rows.is_empty()
            && self.unchecked.is_empty()
    }

    /// How many problems: files rejected, kinds of rows refused (per file),
    /// keys violated, indexes with duplicates.
    pub fn count(&self) -> usize {
        self.errors.len() + self.bad_rows.len() + self.keys.len() + self.duplicates.len()
    }

    /// The first server report among them, for the exit code and SQLSTATE.
    pub fn first_db(&self) -> Option<&DbErrorInfo> {
        self.db
            .as_ref()
            .or_else(|| self.errors.iter().find_map(Error::db))
            .or_else(|| self.bad_rows.iter().find_map(Error::db))
    }

    /// One line that counts them: `2 problems: rejected by the server: 1,
    /// foreign keys violated: 1`.
    pub fn summary(&self) -> String {
        let counts = [
            (self.errors.len(), "rejected by the server"),
            (self.bad_rows.len(), "rows refused (by file and reason)"),
            (self.keys.len(), "foreign keys violated"),
            (self.duplicates.len(), "unique indexes with duplicates"),
            (self.unchecked.len(), "keys not checked"),
        ];
        let parts: Vec<String> = counts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{what}: {n}"))
            .collect();
        format!(
            "{}: {}",
            plural(self.count() as u64, "problem", "problems"),
            parts.join(", ")
        )
    }
}

impl fmt::Display for Problems {
    /// The line that counts them ([`Problems::summary`]); each problem is
    /// data of its own (its errors, keys, duplicates, what was not checked).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The server's report is data: the message is the primary line (after
    /// the file and line), the detail, hint and context are the server's own
    /// (the CLI lays them out, `src/cli/errors.rs`).
    #[test]
    fn a_copy_error_is_its_primary_line_with_the_servers_detail_and_hint() {
        let db = DbErrorInfo {
            severity: "ERROR".into(),
            code: SqlState::INVALID_TEXT_REPRESENTATION,
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
            "data/orders.csv:5: ERROR:  invalid input syntax for type integer: \"x\""
        );
        assert_eq!(e.detail(), None);
        assert_eq!(e.hint().as_deref(), Some("Use a number."));
        assert_eq!(
            e.db().and_then(|d| d.context.as_deref()),
            Some("COPY orders, line 5, column id: \"x\"")
        );
    }
}
