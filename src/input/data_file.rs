//! A data file and everything the rest of fkload asks of it: the input seam.
//! The planner, the runners and the bad-rows code call these and nothing
//! format-specific:
//!
//! - what `COPY` is told ([`DataFile::copy_options`]) and the data it is sent
//!   ([`DataFile::feed`]);
//! - the parts a file can be cut into for several connections
//!   ([`DataFile::whole`], [`DataFile::parts`]);
//! - where a record is in the file, for a person: the line of the server's
//!   `line N` ([`DataFile::line_of`]) and of a record number
//!   ([`DataFile::record_lines`]);
//! - the records one by one ([`DataFile::each_record`]), and the reject file
//!   they are written back to ([`crate::input::reject`]);
//! - the encoding the server is to read it in ([`DataFile::name_encoding`]).
//!
//! A second format is a variant of [`Format`] and an arm in each of these.

use std::io;
use std::path::PathBuf;

use crate::error::Error;
use crate::input::dialect::{Dialect, DialectError};
use crate::input::edit::{self, Edits};
use crate::input::feed::{self, Feed};
use crate::input::file::{Compression, Part};
use crate::input::format::{Format, Record};
use crate::input::lines;
use crate::input::records::{self, Records};

/// One `.csv` file of the data directory and the names it can stand for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DataFile {
    /// The path as the user will see it in messages (directory as given, joined).
    pub path: PathBuf,
    /// The file name relative to the data directory, e.g. `sales/orders.csv`.
    pub rel: String,
    /// What the name (or `fkload.toml`'s `table`) says about schema and
    /// table.
    pub name: FileName,
    /// How the file is written.
    pub format: Format,
    /// The table's columns in field order, from `fkload.toml`'s `columns`.
    pub columns: Option<Vec<String>>,
}

impl DataFile {
    /// A top-level `<stem>.csv` at `path` in COPY's default CSV, for tests.
    #[cfg(test)]
    pub fn plain(path: &std::path::Path) -> DataFile {
        let rel = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        DataFile {
            path: path.to_path_buf(),
            name: FileName::Bare {
                stem: rel.trim_end_matches(".csv").to_string(),
            },
            rel,
            format: Format::Csv(Dialect::default()),
            columns: None,
        }
    }

    /// Whether the file is gzip or zstd, by its name (`.csv.gz`, `.csv.zst`).
    pub fn compressed(&self) -> bool {
        Compression::of(&self.path) != Compression::None
    }
}

/// What a file's name says. Names are the catalog's own: no case folding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// `<schema>/<table>.csv`: the schema is certain.
    InSchema { schema: String, stem: String },
    /// `<stem>.csv` at the top level: either a table of the search path called
    /// `stem`, or, for every dot in `stem`, schema = the part before it and
    /// table = the part after it.
    Bare { stem: String },
}

impl FileName {
    /// Every (schema, table) reading of the name. `None` as schema means "the first
    /// schema of the search path that has it".
    pub fn readings(&self) -> Vec<(Option<String>, String)> {
        match self {
            FileName::InSchema { schema, stem } => vec![(Some(schema.clone()), stem.clone())],
            FileName::Bare { stem } => {
                let mut out = vec![(None, stem.clone())];
                for (i, _) in stem.match_indices('.') {
                    let (schema, table) = (&stem[..i], &stem[i + 1..]);
                    if !schema.is_empty() && !table.is_empty() {
                        out.push((Some(schema.to_string()), table.to_string()));
                    }
                }
                out
            }
        }
    }
}

impl DataFile {
    /// The CSV dialect, for a CSV file.
    pub fn dialect(&self) -> Option<&Dialect> {
        self.format.dialect()
    }

    /// The encoding the file names (its dialect's `encoding`), if any.
    pub(crate) fn encoding(&self) -> Option<&str> {
        match &self.format {
            Format::Csv(d) => d.encoding.as_deref(),
        }
    }

    /// Takes `canonical`, the server's name of the file's encoding (empty
    /// when the server does not know it), as the file's encoding.
    ///
    /// # Errors
    /// [`DialectError::UnknownEncoding`] for an encoding the server does not
    /// know, and [`DialectError::AmbiguousByte`] for a dialect fkload cannot
    /// scan in it: one where a delimiter, quote or escape byte can be the
    /// second byte of a character.
    pub(crate) fn name_encoding(&mut self, canonical: &str) -> Result<(), DialectError> {
        let Format::Csv(d) = &mut self.format;
        if canonical.is_empty() {
            let given = d.encoding.clone().unwrap_or_default();
            return Err(DialectError::UnknownEncoding(given));
        }
        if let Some(lowest) = crate::input::dialect::lowest_trail_byte(canonical) {
            let bytes = [
                ("delimiter", d.delimiter),
                ("quote", d.quote),
                ("escape", d.escape),
            ];
            if let Some((what, byte)) = bytes.into_iter().find(|(_, b)| (lowest..0x80).contains(b))
            {
                return Err(DialectError::AmbiguousByte {
                    encoding: canonical.to_string(),
                    what,
                    byte,
                });
            }
        }
        d.encoding = Some(canonical.to_string());
        Ok(())
    }

    /// `COPY`'s options for this file, `FORMAT` first (`FORMAT csv, HEADER
    /// true, DELIMITER ';'`), with or without the header (a statement after
    /// the first of a file has none).
    pub(crate) fn copy_options(&self, header: bool) -> String {
        match &self.format {
            Format::Csv(d) => format!("FORMAT csv, HEADER {header}{}", d.copy_options()),
        }
    }

    /// The whole file, as one part.
    pub(crate) fn whole(&self) -> Part {
        Part::whole(self.format.header())
    }

    /// The file cut into parts of about `every` bytes, at record boundaries,
    /// for several connections; the whole file as one part when it cannot be
    /// cut without reading it all (compressed: a part could only be reached
    /// by decompressing all that comes before it).
    ///
    /// # Errors
    /// [`crate::ErrorKind::Io`] when the file cannot be read.
    pub(crate) fn parts(&self, every: u64) -> Result<Vec<Part>, Error> {
        if Compression::of(&self.path) != Compression::None {
            return Ok(vec![self.whole()]);
        }
        match &self.format {
            Format::Csv(d) => lines::split(&self.path, d, every),
        }
    }

    /// The data of `part` for a `COPY` told [`DataFile::copy_options`], with
    /// `edits` applied.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub(crate) fn feed<'a>(
        &'a self,
        part: Part,
        edits: Option<&'a Edits>,
    ) -> io::Result<Box<dyn Feed + 'a>> {
        match &self.format {
            Format::Csv(d) => feed::csv(&self.path, d, part, edits),
        }
    }

    /// The records of `part` one at a time, as the file has them and as
    /// they go to a `COPY` told [`DataFile::copy_options`], with `edits`
    /// applied: for statements that may end after any record.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub(crate) fn records<'a>(
        &'a self,
        part: Part,
        edits: Option<&'a Edits>,
    ) -> io::Result<Box<dyn Records + 'a>> {
        match &self.format {
            Format::Csv(d) => records::csv(&self.path, d, part, edits),
        }
    }

    /// Which record of `data`, the data of one `COPY` statement (from 0,
    /// the header too when it was sent), holds the server's `line` of it.
    pub(crate) fn record_holding(&self, data: &[u8], line: u64) -> Option<u64> {
        match &self.format {
            Format::Csv(d) => records::record_holding(d, data, line),
        }
    }

    /// [`DataFile::record_holding`] for each of `lines` (ascending), in one
    /// reading of `data`.
    pub(crate) fn records_holding(&self, data: &[u8], lines: &[u64]) -> Vec<Option<u64>> {
        match &self.format {
            Format::Csv(d) => records::records_holding(d, data, lines),
        }
    }

    /// The value of field `index` of `record` (as [`Records`] hands it
    /// over), as `COPY` reads it: `Some(None)` for NULL; `None` when the
    /// record has no such field.
    pub(crate) fn field_value(&self, record: &[u8], index: usize) -> Option<Option<Vec<u8>>> {
        match &self.format {
            Format::Csv(d) => edit::field_value(d, record, index),
        }
    }

    /// The editor line of the record holding the server's `line` of a
    /// `COPY` statement whose data started at `start` (where a part or a
    /// cut started) and was sent with `edits`. `None` when the file is
    /// shorter or cannot be read.
    pub(crate) fn line_of(&self, start: u64, line: u64, edits: Option<&Edits>) -> Option<u64> {
        match (&self.format, edits) {
            // The server counted the lines it was sent, not the file's.
            (Format::Csv(d), Some(edits)) => {
                lines::edited_statement_line(&self.path, d, start, edits, line)
            }
            (Format::Csv(d), None) => lines::statement_line(&self.path, d, start, line),
        }
    }

    /// The line each of the records numbered `wanted` (ascending, 1 = the
    /// first row) starts on: (record, line) pairs, in the same order, but
    /// those past the end of the file.
    ///
    /// # Errors
    /// [`crate::ErrorKind::Io`] when the file cannot be read.
    pub(crate) fn record_lines(&self, wanted: &[u64]) -> Result<Vec<(u64, u64)>, Error> {
        match &self.format {
            Format::Csv(d) => lines::record_lines(&self.path, d, wanted),
        }
    }

    /// Calls `visit` with each record of the whole file (its header first,
    /// when it has one) until `visit` returns false.
    ///
    /// # Errors
    /// When the file cannot be read, or `visit` fails.
    pub(crate) fn each_record(
        &self,
        visit: &mut dyn FnMut(&Record<'_>) -> io::Result<bool>,
    ) -> io::Result<()> {
        match &self.format {
            Format::Csv(d) => {
                edit::for_each_record(&self.path, d, self.whole(), &mut |start, span, bytes| {
                    visit(&Record {
                        start,
                        index: span.index,
                        line: span.line,
                        bytes,
                    })
                })
                .map(|_| ())
            }
        }
    }
}
