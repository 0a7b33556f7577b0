//! A part of a data file record by record, for COPY statements that may end
//! after any record: what [`crate::rows::bad`] holds in memory, sends, and
//! sends again around a row the server refuses.
//!
//! A [`Records`] hands over each record twice over: as the file has it (for
//! a reject file) and as it goes to the server (with the edits of
//! [`crate::input::edit`] applied; a record they leave out is not handed
//! over). [`record_holding`] finds, in data already sent, the record of the
//! server's `line N`.

use std::collections::VecDeque;
use std::io;
use std::path::Path;

use crate::input::dialect::Dialect;
use crate::input::edit::{Edits, RecordReader};
use crate::input::feed::FeedError;
use crate::input::file::Part;
use crate::input::format::RecordAt;
use crate::input::scan::Scanner;

/// One record of a part.
#[derive(Debug)]
pub struct Rec<'a> {
    /// Where it is in the file.
    pub at: RecordAt,
    /// 0 for a header, then the row number (from 1).
    pub index: u64,
    /// As the file has it, line end included.
    pub raw: &'a [u8],
    /// As it goes to the server.
    pub sent: &'a [u8],
}

/// The records of a part, one at a time.
pub trait Records {
    /// The next record, `None` after the last.
    ///
    /// # Errors
    /// [`FeedError`]: the file cannot be read, or holds COPY's end-of-data
    /// marker.
    fn next(&mut self) -> Result<Option<Rec<'_>>, FeedError>;

    /// Bytes of the file itself (compressed, where it is) read so far, from
    /// the part's start.
    fn file_bytes(&self) -> u64;

    /// Bytes of the file's text read so far.
    fn text_bytes(&self) -> u64;
}

/// The records of `part` of the CSV file at `path`, with `edits` applied.
///
/// # Errors
/// When the file cannot be opened.
pub fn csv<'a>(
    path: &Path,
    dialect: &'a Dialect,
    part: Part,
    edits: Option<&'a Edits>,
) -> io::Result<Box<dyn Records + 'a>> {
    Ok(Box::new(CsvRecords {
        reader: RecordReader::open(path, dialect, part)?,
        dialect,
        edits: edits.filter(|e| !e.is_empty()),
        part,
        pending: Vec::new(),
        queue: VecDeque::new(),
        used: 0,
        edited: Vec::new(),
        more: true,
        text: 0,
    }))
}

struct CsvRecords<'a> {
    reader: RecordReader,
    dialect: &'a Dialect,
    edits: Option<&'a Edits>,
    part: Part,
    /// The bytes of the records of the last chunk read, and each one's
    /// (start in the file, row number, editor line, length).
    pending: Vec<u8>,
    queue: VecDeque<(u64, u64, u64, usize)>,
    /// How much of `pending` was handed over.
    used: usize,
    /// The record last handed over, edited.
    edited: Vec<u8>,
    more: bool,
    text: u64,
}

impl CsvRecords<'_> {
    /// Reads chunks until a record is queued or the part ends.
    fn fill(&mut self) -> Result<(), FeedError> {
        self.pending.clear();
        self.used = 0;
        while self.queue.is_empty() && self.more {
            let (pending, queue) = (&mut self.pending, &mut self.queue);
            let line_base = self.part.line_base;
            self.more = self
                .reader
                .next_chunk(&mut |start, span, bytes| {
                    pending.extend_from_slice(bytes);
                    queue.push_back((start, span.index, line_base + span.line, bytes.len()));
                    Ok(true)
                })
                .map_err(FeedError::File)?;
            if let Some(line) = self.reader.scanner().end_marker() {
                return Err(FeedError::EndMarker {
                    line: self.part.line_base + line,
                });
            }
        }
        Ok(())
    }
}

impl Records for CsvRecords<'_> {
    fn next(&mut self) -> Result<Option<Rec<'_>>, FeedError> {
        loop {
            if self.queue.is_empty() {
                self.fill()?;
            }
            let Some((start, index, line, len)) = self.queue.pop_front() else {
                return Ok(None);
            };
            let from = self.used;
            self.used += len;
            self.text += len as u64;
            let raw = &self.pending[from..from + len];
            let header = self.part.header && index == 0;
            let edited = match self.edits {
                None => false,
                Some(edits) => match edits.apply(self.dialect, start, header, raw) {
                    None => continue,
                    Some(e) => {
                        self.edited.clear();
                        self.edited.extend_from_slice(e.bytes());
                        true
                    }
                },
            };
            let raw = &self.pending[from..from + len];
            return Ok(Some(Rec {
                at: RecordAt {
                    start,
                    end: start + len as u64,
                    line,
                    line_base_after: line + crate::input::edit::newlines(raw),
                },
                index,
                raw,
                sent: if edited { &self.edited[..] } else { raw },
            }));
        }
    }

    fn file_bytes(&self) -> u64 {
        self.reader.file_bytes().saturating_sub(self.part.start)
    }

    fn text_bytes(&self) -> u64 {
        self.text
    }
}

/// Which record of `data` (the data of one COPY statement in `dialect`,
/// counted from 0) holds the server's `line` of that statement; `None` when
/// `data` has no such line.
pub fn record_holding(dialect: &Dialect, data: &[u8], line: u64) -> Option<u64> {
    records_holding(dialect, data, &[line])[0]
}

/// [`record_holding`] for each of `lines` (ascending), in one reading of
/// `data`.
pub fn records_holding(dialect: &Dialect, data: &[u8], lines: &[u64]) -> Vec<Option<u64>> {
    let mut scanner = Scanner::with(dialect);
    let mut found = vec![None; lines.len()];
    let (mut n, mut next) = (0u64, 0usize);
    let mut visit = |r: &crate::input::scan::RecordSpan| {
        while next < lines.len() && lines[next] < r.pg_first {
            next += 1;
        }
        while next < lines.len() && lines[next] <= r.pg_last {
            found[next] = Some(n);
            next += 1;
        }
        n += 1;
    };
    scanner.feed(data, &mut visit);
    scanner.finish(&mut visit);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &[u8], edits: Option<&Edits>) -> Vec<(u64, u64, Vec<u8>, Vec<u8>)> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let dialect = Dialect::default();
        let mut records = csv(&path, &dialect, Part::whole(true), edits).unwrap();
        let mut out = Vec::new();
        while let Some(r) = records.next().unwrap() {
            out.push((r.index, r.at.line, r.raw.to_vec(), r.sent.to_vec()));
        }
        out
    }

    #[test]
    fn records_come_one_by_one_as_the_file_has_them_and_as_they_are_sent() {
        let text = b"id,name\n1,a\n2,\"b\nc\"\n3,d";
        let got = all(text, None);
        let raws: Vec<&[u8]> = got.iter().map(|r| &r.2[..]).collect();
        assert_eq!(raws, [&b"id,name\n"[..], b"1,a\n", b"2,\"b\nc\"\n", b"3,d"]);
        let lines: Vec<u64> = got.iter().map(|r| r.1).collect();
        assert_eq!(lines, [1, 2, 3, 5]);
        assert!(got.iter().all(|r| r.2 == r.3));
        let edits = Edits {
            skip: vec![12],
            null: vec![(20, vec![1])],
            strip: 0,
        };
        let got = all(text, Some(&edits));
        let sent: Vec<&[u8]> = got.iter().map(|r| &r.3[..]).collect();
        assert_eq!(sent, [&b"id,name\n"[..], b"1,a\n", b"3,"]);
        assert_eq!(got[2].2, b"3,d");
    }

    #[test]
    fn the_record_of_a_server_line_counts_quoted_line_ends() {
        let d = Dialect::default();
        let data = b"1,a\n2,\"b\nc\"\n3,d";
        let found: Vec<Option<u64>> = (1..=5).map(|l| record_holding(&d, data, l)).collect();
        assert_eq!(found, [Some(0), Some(1), Some(1), Some(2), None]);
        assert_eq!(records_holding(&d, data, &[1, 2, 3, 4, 5]), found);
        assert_eq!(records_holding(&d, data, &[3, 4]), [Some(1), Some(2)]);
    }
}
