//! Why the input cannot be read as fkload reads it: [`HeaderError`], what
//! is wrong with a file's header row (or its first record, or the columns
//! `fkload.toml` gives it); [`ManifestError`], what is wrong with
//! `fkload.toml`; [`PatternError`], why a table pattern selects nothing.
//! The typed sources of [`ErrorKind::Header`](crate::ErrorKind::Header),
//! [`ErrorKind::Manifest`](crate::ErrorKind::Manifest) and
//! [`ErrorKind::Selection`](crate::ErrorKind::Selection): each `Display`
//! is the message after the file (and line) or the pattern, and names no
//! command-line flag. Imports only `sql`'s names and the server's report.

use std::path::PathBuf;

use super::server::DbErrorInfo;
use crate::sql::{QualName, human_ident};

/// Why a file's header row (or first record) cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The file is empty, and a header row was expected.
    #[error("file is empty: a header row naming the columns is required")]
    Empty,
    /// The first record runs on past `mib` MiB: a quote left open.
    #[error("the first record is longer than {mib} MiB: is a quote left open?")]
    FirstRecordTooLong { mib: usize },
    /// A file without a header starts with a UTF-8 byte-order mark.
    #[error(
        "the file starts with a UTF-8 byte-order mark and has no header: COPY would load the mark as part of the first value; remove it"
    )]
    MarkWithoutHeader,
    /// The header row is expected on the first line, and it is empty.
    #[error("the first line is empty: the header row must be the file's first line")]
    EmptyFirstLine,
    /// Column name `column` (from 1) is not valid in `encoding`, the
    /// file's.
    #[error("column name {column} is not valid {encoding}")]
    NotInEncoding { column: usize, encoding: String },
    /// Column name `column` (from 1) is not ASCII, and fkload has no
    /// decoder for `encoding`.
    #[error(
        "column name {column} is not ASCII, and fkload cannot decode {encoding} itself: name the columns in fkload.toml (columns = [...])"
    )]
    Undecodable { column: usize, encoding: String },
    /// Column name `column` (from 1) is empty.
    #[error("column name {column} of the header row is empty")]
    EmptyName { column: usize },
    /// The header row names a column twice.
    #[error("column \"{name}\" appears more than once in the header row")]
    RepeatedName { name: String },
    /// `fkload.toml` gives `given` columns, the header row (or without one,
    /// the first record) has `fields`.
    #[error(
        "fkload.toml gives {given} columns for this file, but its {} has {fields} fields",
        if *header { "header" } else { "first record" }
    )]
    ColumnCount {
        given: usize,
        fields: usize,
        /// Whether the file has a header row.
        header: bool,
    },
    /// `fkload.toml`'s columns name a column twice.
    #[error("column \"{name}\" appears more than once in fkload.toml's columns")]
    RepeatedManifestColumn { name: String },
    /// A file without a header whose first record has another number of
    /// fields than `table` has columns (`columns`, those a file can load).
    #[error(
        "the file has no header and its first record has {fields} fields, but table {} has {} columns ({}): list the file's columns in fkload.toml (columns = [...])",
        table.human(),
        columns.len(),
        columns.iter().map(|c| human_ident(c)).collect::<Vec<_>>().join(", ")
    )]
    FieldCount {
        fields: usize,
        table: QualName,
        columns: Vec<String>,
    },
}

/// Why `fkload.toml` cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not TOML, a key fkload does not know, a value of the wrong type: the
    /// parser's error (its message, without the excerpt it quotes).
    #[error("{}", .0.message().trim_end())]
    Toml(#[source] toml::de::Error),
    /// `[files."<file>"]` names a file the data directory `dir` lacks.
    #[error("[files.\"{file}\"] names a file that is not in {}", dir.display())]
    NotInDirectory { file: String, dir: PathBuf },
    /// `[files."<file>"]` gives no table, and the name does not say one.
    #[error(
        "[files.\"{file}\"] must give the file's table (table = \"...\"): its name does not end in .csv or .tsv"
    )]
    NoTable { file: String },
}

/// Why a table pattern cannot be read or matched, in psql's words (or the
/// server's, whose report the error keeps).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// More than one unquoted dot: a database name is not taken.
    #[error("improper qualified name (too many dotted names): {0}")]
    TooManyDots(String),
    /// The server's regular expressions refuse the pattern: its report.
    #[error("{}", .0.message)]
    Refused(Box<DbErrorInfo>),
}
