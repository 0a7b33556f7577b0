//! The library's error type.
//!
//! [`Error`] is boxed so that `Result<T, Error>` stays one pointer wide; its
//! [`ErrorKind`] carries what a user needs to act: the file, the line, the table,
//! the constraint and the key. Server errors keep every field of the server's
//! report ([`DbErrorInfo`]) because `postgres::Error`'s own Display says only
//! "db error".
//!
//! Messages follow PostgreSQL's style: the primary line in lower case without a
//! final period, DETAIL and HINT as sentences. Exit codes are the CLI's business.

use std::fmt;
use std::path::PathBuf;

/// An error from planning or running a load.
#[derive(Debug)]
pub struct Error(Box<ErrorKind>);

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Error {
        Error(Box::new(kind))
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.0
    }

    /// Unwraps the kind.
    pub fn into_kind(self) -> ErrorKind {
        *self.0
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Error {
        Error::new(kind)
    }
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
    /// A `.csv` entry of the data directory is not a regular file.
    #[error("\"{}\" is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    /// The header row of a file cannot be used.
    #[error("{}:1: {message}", path.display())]
    Header { path: PathBuf, message: String },
    /// A file holds what COPY cannot load as it is.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Data {
        path: PathBuf,
        line: Option<u64>,
        message: String,
    },
    /// An earlier parallel load was interrupted and left keys or indexes dropped.
    #[error(
        "an earlier parallel load (run {run}) did not finish; it left {dropped} keys or indexes dropped\nDETAIL:  fkload.journal lists the tables it loaded and the keys and indexes it dropped, with the SQL that restores each.\nHINT:  Rerun with --resume to load the rest and put everything back, or run fkload repair to undo it."
    )]
    Interrupted { run: String, dropped: i64 },
    /// `--resume` found no journal: no parallel load was interrupted here (or
    /// the last one finished).
    #[error(
        "there is no interrupted parallel load to resume in this database\nDETAIL:  fkload.journal does not exist: no parallel load was killed here after it changed anything, or the last one finished.\nHINT:  Load without --resume."
    )]
    NothingToResume,
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
    #[error("{}:1: column \"{column}\" of the header row does not exist in table {table}\nDETAIL:  The table's columns are: {}.", path.display(), available.join(", "))]
    UnknownColumn {
        path: PathBuf,
        table: String,
        column: String,
        available: Vec<String>,
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
        "{error}\nfkload: putting the database back after that failed too: {cleanup}\nHINT:  fkload.journal lists what is still dropped or loaded; fix the cause and rerun with --resume."
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
    /// The plan cannot run as made.
    #[error("{message}")]
    Plan { message: String },
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
    },
    /// Rows whose foreign key has no parent row.
    #[error("{0}")]
    ForeignKey(Box<ForeignKeyViolation>),
    /// Rows whose key a unique index, built after the data, finds twice.
    #[error("{0}")]
    Duplicate(Box<DuplicateKeys>),
}

fn similar(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!("\nHINT:  Similar tables: {}.", candidates.join(", "))
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
    out.push_str("\nHINT:  End those transactions, or give fkload more time (--lock-timeout).");
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
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

/// Every field of a server error report, kept because the user needs them all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// A foreign-key violation with every orphan row found in the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKeyViolation {
    /// The server's report of the first violation.
    pub db: DbErrorInfo,
    /// The constraint, as `schema.table.constraint`-free name.
    pub constraint: String,
    /// Child table, qualified and quoted as SQL would write it.
    pub child: String,
    /// Parent table, qualified and quoted.
    pub parent: String,
    /// Orphan rows found in the child's file, in file order.
    pub orphans: Vec<Orphan>,
    /// Why the orphans could not be listed, when they could not.
    pub orphan_search_failed: Option<String>,
}

/// One child row whose key has no parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub path: PathBuf,
    /// The physical line the row starts on (1 = the header line).
    pub line: u64,
    /// `(col, col)=(value, value)` as the server's DETAIL writes keys.
    pub key: String,
}

impl fmt::Display for ForeignKeyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.db)?;
        match (&self.orphan_search_failed, self.orphans.len()) {
            (Some(why), _) => write!(f, "\nfkload: could not list the orphan rows: {why}")?,
            (None, 0) => {}
            (None, n) => {
                for o in &self.orphans {
                    write!(
                        f,
                        "\n{}:{}: key {} is not present in table {}",
                        o.path.display(),
                        o.line,
                        o.key,
                        self.parent
                    )?;
                }
                let rows = if n == 1 { "row" } else { "rows" };
                write!(
                    f,
                    "\nHINT:  {n} {rows} of {} have no parent row for constraint \"{}\"; load the parent rows or remove these rows.",
                    self.child, self.constraint
                )?;
            }
        }
        Ok(())
    }
}

/// A unique index (built after the data) that found the same key in several rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateKeys {
    /// The server's report of the first duplicate.
    pub db: DbErrorInfo,
    /// The constraint (or index) name.
    pub index: String,
    /// The table, qualified.
    pub table: String,
    /// Every row holding a duplicated key, in file order.
    pub rows: Vec<Orphan>,
    /// Why the rows could not be listed, when they could not.
    pub search_failed: Option<String>,
}

impl fmt::Display for DuplicateKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.db)?;
        if let Some(why) = &self.search_failed {
            return write!(f, "\nfkload: could not list the duplicate rows: {why}");
        }
        for r in &self.rows {
            write!(
                f,
                "\n{}:{}: key {} is duplicated",
                r.path.display(),
                r.line,
                r.key
            )?;
        }
        if !self.rows.is_empty() {
            write!(
                f,
                "\nHINT:  {} rows of {} share a key of \"{}\"; keep one row per key.",
                self.rows.len(),
                self.table,
                self.index
            )?;
        }
        Ok(())
    }
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
        });
        assert_eq!(
            e.to_string(),
            "data/orders.csv:5: ERROR:  invalid input syntax for type integer: \"x\"\n\
             HINT:  Use a number.\nCONTEXT:  COPY orders, line 5, column id: \"x\""
        );
    }
}
