//! How a data file is written: its [`Format`], and a [`Record`] of it as the
//! rest of fkload sees one. What fkload asks of a file because of its format
//! is [`crate::input::data_file::DataFile`]'s to answer, one arm per format.

use crate::input::dialect::Dialect;

/// How a data file is written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// Text in the dialect of `COPY ... (FORMAT csv)`.
    Csv(Dialect),
}

impl Format {
    /// The CSV dialect, for a CSV file.
    pub fn dialect(&self) -> Option<&Dialect> {
        match self {
            Format::Csv(d) => Some(d),
        }
    }

    /// What differs from the format's defaults, for the plan's listing
    /// (`delimiter ';', encoding LATIN1`); empty when nothing does.
    pub fn describe(&self) -> String {
        match self {
            Format::Csv(d) => d.describe(),
        }
    }

    /// Whether the file starts with a header row.
    pub fn header(&self) -> bool {
        match self {
            Format::Csv(d) => d.header,
        }
    }
}

/// One record of a file, as [`crate::input::data_file::DataFile::each_record`] hands it over.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    /// Where it starts in the file (for CSV, its byte offset): the name
    /// [`crate::input::edit::Edits`] know it by.
    pub start: u64,
    /// 0 for a header, then the row number (from 1).
    pub index: u64,
    /// The line it starts on, as an editor numbers them.
    pub line: u64,
    /// The record as the file has it (for CSV, its text, line end
    /// included).
    pub bytes: &'a [u8],
}

/// Where a record is in a file, found from the server's line number of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordAt {
    /// Where it starts in the file (its name for
    /// [`crate::input::edit::Edits`]), and where the record after it starts.
    pub start: u64,
    pub end: u64,
    /// The editor line it starts on.
    pub line: u64,
    /// The editor line just before the record after it: the `line_base`
    /// of a part that starts at `end`.
    pub line_base_after: u64,
}
