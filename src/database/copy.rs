//! One COPY: the statement, the streaming of a file's bytes to the server, and the
//! mapping of a server error back to the file's own line.
//!
//! The file goes to the server byte for byte, header included (`HEADER true` makes
//! the server skip it). That keeps the server's `line N` in its CONTEXT equal to
//! the file's physical line N (the server counts the newlines inside quoted fields
//! too), and keeps the client out of the data path: no parsing, one buffer.

use std::io::{self, Write};

use postgres::GenericClient;

use crate::database::db;
use crate::input::data_file::DataFile;
use crate::input::edit::Edits;
use crate::input::feed::FeedError;
use crate::input::file::Part;
use crate::sql::{QualName, ident};

/// `COPY "schema"."table" ("a", "b") FROM STDIN WITH (FORMAT csv, ...)` in
/// the file's format, with or without the header (the batches after the
/// first have none), and with `FREEZE` (rows written already frozen: only
/// into a table created or truncated in the same subtransaction).
pub fn statement_with(
    table: &QualName,
    columns: &[String],
    file: &DataFile,
    header: bool,
    freeze: bool,
) -> String {
    let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
    let freeze = if freeze { ", FREEZE true" } else { "" };
    format!(
        "COPY {table} ({}) FROM STDIN WITH ({}{freeze})",
        cols.join(", "),
        file.copy_options(header)
    )
}

/// One COPY of a file (or of a part of it) into a table.
#[derive(Debug, Clone, Copy)]
pub struct Copy<'a> {
    pub table: &'a QualName,
    /// The file's columns, in file order.
    pub columns: &'a [String],
    /// The file, and how it is written.
    pub file: &'a DataFile,
    pub part: Part,
    /// Send it as statements of about this many bytes (see [`stream`]).
    pub batch: Option<u64>,
    /// `FREEZE`: the table was created or emptied in this subtransaction.
    pub freeze: bool,
    /// Records left out or changed on the way ([`crate::input::edit`]); the file
    /// then goes as one statement.
    pub edits: Option<&'a Edits>,
}

/// What a COPY sent: its rows, and the bytes of CSV text they came in (more
/// than the file's size when it is compressed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub rows: u64,
    pub text_bytes: u64,
}

/// Why a COPY failed.
#[derive(Debug)]
pub enum CopyFailure {
    /// The file could not be read; the COPY was abandoned.
    File(io::Error),
    /// The server (or the connection) failed. The server's `line N` counts from
    /// the start of the failed statement, at byte `start` of the file (see
    /// [`crate::input::lines::statement_line`]).
    Server { error: postgres::Error, start: u64 },
    /// A line holding only `\.` (COPY's end-of-data marker) would make the server
    /// stop reading there; the COPY was abandoned. `line` is the file's line.
    EndMarker { line: u64 },
    /// The server loaded another number of rows than the file holds records.
    RowCount { file: u64, server: u64 },
}

/// Streams the file at `path` into `COPY table (columns)`, calling `progress`
/// with the bytes of the file read so far after each chunk. Returns the
/// number of rows and the bytes of text sent.
///
/// With `batch`, the file goes as several COPY statements of about that many
/// bytes, cut at record boundaries (the first with `HEADER true`, the others
/// without), so that an error stops the load within a batch, not after the whole
/// file. Callers must not cut a file whose rows may reference later rows while a
/// key checks them at the end of each statement.
///
/// # Errors
/// [`CopyFailure::File`] when reading the file fails, [`CopyFailure::Server`] when
/// the server rejects the data or the connection drops, [`CopyFailure::EndMarker`]
/// and [`CopyFailure::RowCount`] when the server would read the file otherwise
/// than it is written.
pub fn stream(
    client: &mut impl GenericClient,
    copy: &Copy<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied, CopyFailure> {
    let (part, batch) = (copy.part, copy.batch);
    let mut feed = copy
        .file
        .feed(part, copy.edits)
        .map_err(CopyFailure::File)?;
    let server = |start| move |error| CopyFailure::Server { error, start };
    // Where the current statement starts in the file.
    let mut stmt_start = part.start;
    let mut writer =
        db::copy_in(client, &copy.statement(part.header)).map_err(server(stmt_start))?;
    let mut rows: u64 = 0;
    // Where in the part's text the current batch may be cut.
    let mut cut_after = batch.unwrap_or(u64::MAX);
    // On an error, dropping the writer unfinished sends CopyFail: the server
    // rolls the statement back.
    while let Some(piece) = feed.next(cut_after).map_err(|e| match e {
        FeedError::File(e) => CopyFailure::File(e),
        FeedError::EndMarker { line } => CopyFailure::EndMarker { line },
    })? {
        writer
            .write_all(piece.bytes)
            .map_err(|e| server_io(e, stmt_start))?;
        if let Some(at) = piece.cut {
            rows += writer.finish().map_err(server(stmt_start))?;
            stmt_start = at;
            let into_part = at - part.start;
            cut_after = into_part + batch.unwrap_or(u64::MAX - into_part);
            writer = db::copy_in(client, &copy.statement(false)).map_err(server(stmt_start))?;
        }
        progress(feed.file_bytes());
    }
    rows += writer.finish().map_err(server(stmt_start))?;
    if feed.rows() != rows {
        return Err(CopyFailure::RowCount {
            file: feed.rows(),
            server: rows,
        });
    }
    Ok(Copied {
        rows,
        text_bytes: feed.text_bytes(),
    })
}

impl Copy<'_> {
    /// The statement of this COPY, with or without the header.
    pub(crate) fn statement(&self, header: bool) -> String {
        statement_with(self.table, self.columns, self.file, header, self.freeze)
    }

    /// [`Copy::statement`], the server skipping each row a column's type
    /// refuses and saying so in a notice (PostgreSQL 17 and later).
    pub(crate) fn statement_skipping(&self, header: bool) -> String {
        let mut sql = self.statement(header);
        // The statement ends with its options' closing parenthesis.
        sql.pop();
        sql.push_str(", ON_ERROR ignore, LOG_VERBOSITY verbose)");
        sql
    }
}

/// The copy writer reports server errors as `io::Error`s wrapping the client error.
pub(crate) fn server_io(e: io::Error, start: u64) -> CopyFailure {
    match e
        .into_inner()
        .map(|inner| inner.downcast::<postgres::Error>())
    {
        Some(Ok(pg)) => CopyFailure::Server { error: *pg, start },
        Some(Err(other)) => CopyFailure::File(io::Error::other(other)),
        None => CopyFailure::File(io::Error::other("connection write failed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_quotes_everything() {
        let s = statement_with(
            &QualName::new("Sales", "Order \"Lines\""),
            &["id".into(), "a;b".into()],
            &DataFile::plain(std::path::Path::new("x.csv")),
            true,
            false,
        );
        assert_eq!(
            s,
            "COPY \"Sales\".\"Order \"\"Lines\"\"\" (\"id\", \"a;b\") FROM STDIN WITH (FORMAT csv, HEADER true)"
        );
    }
}
