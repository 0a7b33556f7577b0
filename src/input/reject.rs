//! Reject files: the records a load sets aside, written back as the file
//! has them, each with the line it starts on and why (the two columns of
//! [`REJECT_COLUMNS`], which a load leaves out again, so that a fixed reject
//! file loads as it is), and the `fkload.toml` entry that says how each is
//! written.
//!
//! A CSV file's rejects are written in its own dialect, byte for byte.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind};
use crate::input::data_file::DataFile;
use crate::input::edit;
use crate::input::file::Compression;
use crate::input::format::{Format, Record};

/// The two columns a reject file adds after the record's own.
pub const REJECT_COLUMNS: [&str; 2] = ["fkload_line", "fkload_reason"];

/// Where the reject file of the file at `rel` (relative to the data
/// directory) goes: `orders.csv` gives `orders.rejects.csv`.
pub(crate) fn path_for(reject_dir: &Path, rel: &str) -> PathBuf {
    let stem = Compression::split_name(rel).map_or(rel, |(stem, _)| stem);
    let ext = if Compression::is_tsv(rel) {
        "tsv"
    } else {
        "csv"
    };
    reject_dir.join(format!("{stem}.rejects.{ext}"))
}

/// The reject file of one data file, being written.
pub(crate) struct Rejects<'a> {
    path: PathBuf,
    writer: BufWriter<File>,
    format: &'a Format,
    columns: &'a [String],
    /// Fields left out at the end of every record (the reject columns of a
    /// reject file loaded again).
    strip: usize,
    /// The line end of the file's records (of the first that has one).
    eol: Vec<u8>,
    /// `eol` is the file's (a record with a line end was taken).
    eol_known: bool,
    header_written: bool,
    /// The last record taken, as it is written ([`Rejects::take`]): its
    /// fields, its line end, its line.
    body: Vec<u8>,
    end_at: usize,
    line: u64,
}

impl<'a> Rejects<'a> {
    /// Creates the reject file at `path` (and its directory) for `file`,
    /// whose records hold `columns` and then `strip` fields to leave out.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when the file or its directory cannot be created.
    pub(crate) fn create(
        file: &'a DataFile,
        columns: &'a [String],
        strip: usize,
        path: PathBuf,
    ) -> Result<Self, Error> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error(e, parent))?;
        }
        let out = File::create(&path).map_err(|e| io_error(e, &path))?;
        Ok(Rejects {
            writer: BufWriter::new(out),
            path,
            format: &file.format,
            columns,
            strip,
            eol: b"\n".to_vec(),
            eol_known: false,
            header_written: false,
            body: Vec::new(),
            end_at: 0,
            line: 0,
        })
    }

    /// Takes the next record of the file, in order: the file's header goes
    /// to the reject file (or, in a file without one, the columns' names do,
    /// before the first record); any other record may then be rejected with
    /// [`Rejects::reject`]. Returns whether it was the header.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when the reject file cannot be written.
    pub(crate) fn take(&mut self, record: &Record<'_>) -> Result<bool, Error> {
        let Format::Csv(dialect) = self.format;
        let own = edit::edit(dialect, record.bytes, &[], self.strip);
        let (body, end) = edit::split_terminator(&own);
        if !end.is_empty() && !self.eol_known {
            self.eol = end.to_vec();
            self.eol_known = true;
        }
        let header = record.index == 0;
        if header || !self.header_written {
            self.header(header.then_some(body))?;
        }
        self.end_at = body.len();
        self.body = own;
        self.line = record.line;
        Ok(header)
    }

    /// Writes the record last taken to the reject file: its fields, the line
    /// it starts on and `why`, ended by its line end (the file's when it had
    /// none).
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when the reject file cannot be written.
    pub(crate) fn reject(&mut self, why: &str) -> Result<(), Error> {
        let Format::Csv(dialect) = self.format;
        let delimiter = dialect.delimiter;
        let (body, end) = self.body.split_at(self.end_at);
        let mut out = body.to_vec();
        out.push(delimiter);
        out.extend_from_slice(self.line.to_string().as_bytes());
        out.push(delimiter);
        out.extend_from_slice(&dialect.quoted_field(why));
        out.extend_from_slice(if end.is_empty() { &self.eol } else { end });
        self.writer
            .write_all(&out)
            .map_err(|e| io_error(e, &self.path))
    }

    /// Writes the header: `from_file`, the file's own (line end left out),
    /// or else the columns' names, then the two added columns. A reject file
    /// always has a header, so that it says what its two last fields are.
    fn header(&mut self, from_file: Option<&[u8]>) -> Result<(), Error> {
        let Format::Csv(dialect) = self.format;
        let delimiter = dialect.delimiter;
        let mut header = match from_file {
            Some(b) => b.to_vec(),
            None => {
                let names: Vec<Vec<u8>> = self
                    .columns
                    .iter()
                    .map(|c| dialect.quoted_field(c))
                    .collect();
                names.join(&delimiter)
            }
        };
        for c in REJECT_COLUMNS {
            header.push(delimiter);
            header.extend_from_slice(c.as_bytes());
        }
        header.extend_from_slice(&self.eol);
        self.header_written = true;
        self.writer
            .write_all(&header)
            .map_err(|e| io_error(e, &self.path))
    }

    /// Flushes the reject file.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when it cannot be written.
    pub(crate) fn finish(mut self) -> Result<(), Error> {
        self.writer.flush().map_err(|e| io_error(e, &self.path))
    }

    /// The reject file of one part of a file, which [`merge`] joins to
    /// the others': no header of its own.
    pub(crate) fn headless(mut self) -> Self {
        self.header_written = true;
        self
    }
}

/// Writes the reject file at `path` of `file` (whose records hold `columns`
/// and then `strip` fields to leave out) from `parts`, the reject files of
/// its parts ([`Rejects::headless`]) in file order, which are then removed:
/// the header the file's own reject file would have, then each part's
/// records.
///
/// # Errors
/// [`ErrorKind::Io`] when a file cannot be read, written or removed.
pub(crate) fn merge(
    file: &DataFile,
    columns: &[String],
    strip: usize,
    path: PathBuf,
    parts: &[PathBuf],
) -> Result<(), Error> {
    let mut out = Rejects::create(file, columns, strip, path)?;
    // The header (or the columns' names) as the first record makes it.
    let mut first = Ok(());
    file.each_record(&mut |record| {
        first = out.take(record).map(|_| ());
        Ok(false)
    })
    .map_err(|e| io_error(e, &file.path))?;
    first?;
    if !out.header_written {
        out.header(None)?;
    }
    for part in parts {
        let mut from = File::open(part).map_err(|e| io_error(e, part))?;
        io::copy(&mut from, &mut out.writer).map_err(|e| io_error(e, &out.path))?;
    }
    out.finish()?;
    for part in parts {
        std::fs::remove_file(part).map_err(|e| io_error(e, part))?;
    }
    Ok(())
}

/// The `fkload.toml` entry of the reject file at `rel` (relative to the
/// reject directory) of `file`, for `table`: how it is written, with the
/// header reject files always have.
pub(crate) fn manifest_entry(rel: &str, table: &str, file: &DataFile) -> String {
    let mut text = format!("\n[files.{}]\n", toml_string(rel));
    text.push_str(&format!("table = {}\n", toml_string(table)));
    let Format::Csv(d) = &file.format;
    let byte = |b: u8| toml_string(&char::from(b).to_string());
    text.push_str(&format!("delimiter = {}\n", byte(d.delimiter)));
    text.push_str(&format!("quote = {}\n", byte(d.quote)));
    text.push_str(&format!("escape = {}\n", byte(d.escape)));
    text.push_str(&format!("null = {}\n", toml_string(&d.null)));
    text.push_str("header = true\n");
    if let Some(e) = &d.encoding {
        text.push_str(&format!("encoding = {}\n", toml_string(e)));
    }
    text
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn io_error(source: io::Error, path: &Path) -> Error {
    Error::new(ErrorKind::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_read_back() {
        for s in [
            "plain",
            "a\"b",
            "back\\slash",
            "\t",
            "\\N",
            "line\nend\r",
            "\u{1}x",
            "é",
        ] {
            let text = format!("null = {}\n", toml_string(s));
            let m =
                crate::input::manifest::Manifest::parse(Path::new("fkload.toml"), &text).unwrap();
            assert_eq!(m.all.null.as_deref(), Some(s), "{text}");
        }
    }

    #[test]
    fn reject_files_are_named_after_their_file() {
        assert_eq!(
            path_for(Path::new("rej"), "sales/orders.csv"),
            Path::new("rej/sales/orders.rejects.csv")
        );
        assert_eq!(
            path_for(Path::new("rej"), "orders.tsv.gz"),
            Path::new("rej/orders.rejects.tsv")
        );
    }
}
