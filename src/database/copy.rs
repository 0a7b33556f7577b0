//! One COPY: the statement, the streaming of a file's bytes to the server, and the
//! mapping of a server error back to the file's own line.
//!
//! The file goes to the server byte for byte, header included (`HEADER true` makes
//! the server skip it). That keeps the server's `line N` in its CONTEXT equal to
//! the file's physical line N (the server counts the newlines inside quoted fields
//! too), and keeps the client out of the data path: no parsing, one buffer.

use std::io::{self, Read, Write};
use std::path::Path;

use postgres::GenericClient;

use crate::database::db;
use crate::input::dialect::Dialect;
use crate::input::edit::Edits;
use crate::input::file::{self, Part};
use crate::input::scan::Scanner;
use crate::sql::{QualName, ident};

/// How much of a file is read and sent at a time.
const CHUNK: usize = 1024 * 1024;

/// `COPY "schema"."table" ("a", "b") FROM STDIN WITH (FORMAT csv, ...)` in
/// the file's dialect, with or without `HEADER` (the batches after the first
/// have none), and with `FREEZE` (rows written already frozen: only into a table
/// created or truncated in the same subtransaction).
pub fn statement_with(
    table: &QualName,
    columns: &[String],
    dialect: &Dialect,
    header: bool,
    freeze: bool,
) -> String {
    let cols: Vec<String> = columns.iter().map(|c| ident(c)).collect();
    let freeze = if freeze { ", FREEZE true" } else { "" };
    format!(
        "COPY {table} ({}) FROM STDIN WITH (FORMAT csv, HEADER {header}{}{freeze})",
        cols.join(", "),
        dialect.copy_options()
    )
}

/// One COPY of a file (or of a part of it) into a table.
#[derive(Debug, Clone, Copy)]
pub struct Copy<'a> {
    pub table: &'a QualName,
    /// The file's columns, in file order.
    pub columns: &'a [String],
    pub path: &'a Path,
    /// How the file is written.
    pub dialect: &'a Dialect,
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
    if let Some(edits) = copy.edits.filter(|e| !e.is_empty()) {
        return stream_edited(client, copy, edits, progress);
    }
    let (part, batch) = (copy.part, copy.batch);
    let file = file::overlapped(file::open_at(copy.path, part.start).map_err(CopyFailure::File)?);
    // Progress counts the file's own bytes (compressed, where it is), as
    // the plan counts its size.
    let read = file.bytes_read_handle();
    let mut file = file.take(part.end.saturating_sub(part.start));
    let server = |start| move |error| CopyFailure::Server { error, start };
    // Where the current statement starts in the file.
    let mut stmt_start = part.start;
    let mut writer =
        db::copy_in(client, &copy.statement(part.header)).map_err(server(stmt_start))?;
    let mut buf = vec![0u8; CHUNK];
    let mut sent: u64 = 0;
    let mut rows: u64 = 0;
    // The offset at which the current batch may be cut.
    let mut cut_after = batch.unwrap_or(u64::MAX);
    // Scanning as the server reads finds an end-of-data marker before the server
    // acts on it, finds the record boundaries to cut at, and counts the records to
    // check the server's row count.
    let mut scanner = Scanner::with(copy.dialect);
    loop {
        // On an error, dropping the writer unfinished sends CopyFail: the
        // server rolls the statement back.
        let n = read_chunk(&mut file, &mut buf)?;
        if n == 0 {
            break;
        }
        let cut = feed(&mut scanner, &buf[..n], cut_after);
        no_end_marker(&scanner, part)?;
        let mut chunk = &buf[..n];
        if let Some(end) = cut {
            let head = usize::try_from(end - sent).unwrap_or(n).min(n);
            writer
                .write_all(&chunk[..head])
                .map_err(|e| server_io(e, stmt_start))?;
            rows += writer.finish().map_err(server(stmt_start))?;
            stmt_start = part.start + end;
            cut_after = end + batch.unwrap_or(u64::MAX - end);
            writer = db::copy_in(client, &copy.statement(false)).map_err(server(stmt_start))?;
            chunk = &chunk[head..];
        }
        writer
            .write_all(chunk)
            .map_err(|e| server_io(e, stmt_start))?;
        sent += n as u64;
        progress(read.get().saturating_sub(part.start));
    }
    scanner.finish(&mut |_| {});
    rows += writer.finish().map_err(server(stmt_start))?;
    // The header is record 0; an empty file has no records at all.
    let file_rows = scanner.records().saturating_sub(u64::from(part.header));
    same_rows(file_rows, rows)?;
    Ok(Copied {
        rows,
        text_bytes: sent,
    })
}

impl Copy<'_> {
    /// The statement of this COPY, with or without `HEADER`.
    fn statement(&self, header: bool) -> String {
        statement_with(self.table, self.columns, self.dialect, header, self.freeze)
    }
}

/// Reads the next chunk of `file` into `buf`: how many bytes, 0 at its end.
fn read_chunk(file: &mut impl Read, buf: &mut [u8]) -> Result<usize, CopyFailure> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            read => return read.map_err(CopyFailure::File),
        }
    }
}

/// Feeds `chunk` to `scanner`, and returns where the batch is cut: the end
/// of the first record in it that ends `cut_after` bytes or more into the
/// part, if one does.
fn feed(scanner: &mut Scanner, chunk: &[u8], cut_after: u64) -> Option<u64> {
    let mut cut: Option<u64> = None;
    scanner.feed(chunk, &mut |r| {
        if cut.is_none() && r.end >= cut_after {
            cut = Some(r.end);
        }
    });
    cut
}

/// [`CopyFailure::EndMarker`] when `scanner` has met a line holding only
/// `\.` in `part`.
fn no_end_marker(scanner: &Scanner, part: Part) -> Result<(), CopyFailure> {
    match scanner.end_marker() {
        Some(line) => Err(CopyFailure::EndMarker {
            line: part.line_base + line,
        }),
        None => Ok(()),
    }
}

/// [`CopyFailure::RowCount`] unless the server loaded the `file`'s rows.
fn same_rows(file: u64, server: u64) -> Result<(), CopyFailure> {
    if server == file {
        Ok(())
    } else {
        Err(CopyFailure::RowCount { file, server })
    }
}

/// [`stream`] with `edits` applied, record by record, as one statement
/// (rows left out are not counted in the row check).
fn stream_edited(
    client: &mut impl GenericClient,
    copy: &Copy<'_>,
    edits: &Edits,
    progress: &mut dyn FnMut(u64),
) -> Result<Copied, CopyFailure> {
    let part = copy.part;
    let server = |error| CopyFailure::Server {
        error,
        start: part.start,
    };
    let mut writer = db::copy_in(client, &copy.statement(part.header)).map_err(server)?;
    let mut failed: Option<CopyFailure> = None;
    let mut skipped: u64 = 0;
    let mut read: u64 = 0;
    let mut unsent: u64 = 0;
    // Progress counts the file's own bytes (compressed, where it is), as
    // the plan counts its size.
    let file_read = std::cell::Cell::new(0u64);
    let scanner = crate::input::edit::for_each_record_counted(
        copy.path,
        copy.dialect,
        part,
        &mut |n| file_read.set(n),
        &mut |start, span, bytes| {
            let header = part.header && span.index == 0;
            read += bytes.len() as u64;
            match edits.apply(copy.dialect, start, header, bytes) {
                None => skipped += 1,
                Some(out) => {
                    if let Err(e) = writer.write_all(out.bytes()) {
                        failed = Some(server_io(e, part.start));
                        return Ok(false);
                    }
                }
            }
            unsent += bytes.len() as u64;
            if unsent >= CHUNK as u64 {
                unsent = 0;
                progress(file_read.get());
            }
            Ok(true)
        },
    )
    .map_err(CopyFailure::File)?;
    if let Some(f) = failed {
        return Err(f);
    }
    no_end_marker(&scanner, part)?;
    progress(file_read.get());
    let rows = writer.finish().map_err(server)?;
    let file_rows = scanner
        .records()
        .saturating_sub(u64::from(part.header))
        .saturating_sub(skipped);
    same_rows(file_rows, rows)?;
    Ok(Copied {
        rows,
        text_bytes: read,
    })
}

/// The copy writer reports server errors as `io::Error`s wrapping the client error.
fn server_io(e: io::Error, start: u64) -> CopyFailure {
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
            &Dialect::default(),
            true,
            false,
        );
        assert_eq!(
            s,
            "COPY \"Sales\".\"Order \"\"Lines\"\"\" (\"id\", \"a;b\") FROM STDIN WITH (FORMAT csv, HEADER true)"
        );
    }
}
