//! A part of a data file as the data of `COPY ... FROM STDIN`, piece by
//! piece: what [`crate::database::copy`] sends, without knowing how the file
//! is written.
//!
//! A [`Feed`] turns its part into pieces of the COPY data in the file's
//! format and says where a statement may end (a record boundary), so that
//! the copy module can cut a long file into several statements; it checks
//! what would make the server read the data otherwise than fkload does (an
//! end-of-data marker) and counts the records it sent, for the copy module's
//! check of the server's row count.
//!
//! CSV goes byte for byte: the file's own bytes, header included, so that the
//! server's `line N` is the file's (see [`crate::input::scan`]); with edits
//! ([`crate::input::edit`]), record by record.

use std::io::{self, Read, Take};
use std::path::Path;

use crate::input::dialect::Dialect;
use crate::input::edit::{Edits, RecordReader};
use crate::input::file::{self, BytesRead, Input, Part};
use crate::input::scan::Scanner;

/// How much of a file is read and sent at a time.
const CHUNK: usize = 1024 * 1024;

/// A piece of COPY data.
#[derive(Debug)]
pub struct Piece<'a> {
    pub bytes: &'a [u8],
    /// The piece ends at a record boundary where the statement should end:
    /// the next statement's data starts at this byte of the file.
    pub cut: Option<u64>,
}

/// Why a feed cannot go on.
#[derive(Debug)]
pub enum FeedError {
    /// The file could not be read.
    File(io::Error),
    /// A line holding only `\.` (COPY's end-of-data marker) would make the
    /// server stop reading there; `line` is the file's line.
    EndMarker { line: u64 },
}

/// The COPY data of one part of a file.
pub trait Feed {
    /// The next piece, `None` after the last. A piece ends a statement
    /// ([`Piece::cut`]) at the first record boundary `cut_after` bytes or
    /// more into the part's text, where the format can cut there.
    ///
    /// # Errors
    /// [`FeedError`]: the file cannot be read, or would not be read by the
    /// server as it is written.
    fn next(&mut self, cut_after: u64) -> Result<Option<Piece<'_>>, FeedError>;

    /// Bytes of the file itself (compressed, where it is) read so far, from
    /// the part's start: what progress counts, as the plan counts a file's
    /// size.
    fn file_bytes(&self) -> u64;

    /// Bytes of the file's text read so far (more than the file's size when
    /// it is compressed).
    fn text_bytes(&self) -> u64;

    /// The rows sent, after the last piece: the part's records but the
    /// header and those the edits left out.
    fn rows(&self) -> u64;
}

/// The feed of `part` of the CSV file at `path`, written in `dialect`,
/// with `edits` applied when there are any.
///
/// # Errors
/// When the file cannot be opened.
pub fn csv<'a>(
    path: &Path,
    dialect: &'a Dialect,
    part: Part,
    edits: Option<&'a Edits>,
) -> io::Result<Box<dyn Feed + 'a>> {
    Ok(match edits.filter(|e| !e.is_empty()) {
        Some(edits) => Box::new(EditedCsv {
            reader: RecordReader::open(path, dialect, part)?,
            dialect,
            edits,
            part,
            out: Vec::new(),
            skipped: 0,
            read: 0,
        }),
        None => {
            let file = file::overlapped(file::open_at(path, part.start)?);
            let read = file.bytes_read_handle();
            Box::new(Csv {
                file: file.take(part.end.saturating_sub(part.start)),
                read,
                part,
                buf: vec![0u8; CHUNK],
                len: 0,
                pos: 0,
                chunk_at: 0,
                scanner: Scanner::with(dialect),
                finished: false,
            })
        }
    })
}

/// A CSV part as it is: chunks of the file, scanned as the server reads
/// them to find the record boundaries, the end marker and the records.
struct Csv {
    file: Take<Input>,
    read: BytesRead,
    part: Part,
    buf: Vec<u8>,
    /// The bytes in `buf`, and how many of them were handed out.
    len: usize,
    pos: usize,
    /// The part's offset of `buf[0]`.
    chunk_at: u64,
    scanner: Scanner,
    finished: bool,
}

impl Feed for Csv {
    fn next(&mut self, cut_after: u64) -> Result<Option<Piece<'_>>, FeedError> {
        if self.pos < self.len {
            // The rest of a chunk cut before.
            let from = std::mem::replace(&mut self.pos, self.len);
            return Ok(Some(Piece {
                bytes: &self.buf[from..self.len],
                cut: None,
            }));
        }
        self.chunk_at += self.len as u64;
        let n = read_chunk(&mut self.file, &mut self.buf)?;
        (self.len, self.pos) = (n, n);
        if n == 0 {
            if !std::mem::replace(&mut self.finished, true) {
                self.scanner.finish(&mut |_| {});
            }
            return Ok(None);
        }
        let mut cut: Option<u64> = None;
        self.scanner.feed(&self.buf[..n], &mut |r| {
            if cut.is_none() && r.end >= cut_after {
                cut = Some(r.end);
            }
        });
        if let Some(line) = self.scanner.end_marker() {
            return Err(FeedError::EndMarker {
                line: self.part.line_base + line,
            });
        }
        Ok(Some(match cut {
            Some(end) => {
                self.pos = usize::try_from(end - self.chunk_at).unwrap_or(n).min(n);
                Piece {
                    bytes: &self.buf[..self.pos],
                    cut: Some(self.part.start + end),
                }
            }
            None => Piece {
                bytes: &self.buf[..n],
                cut: None,
            },
        }))
    }

    fn file_bytes(&self) -> u64 {
        self.read.get().saturating_sub(self.part.start)
    }

    fn text_bytes(&self) -> u64 {
        self.chunk_at + self.len as u64
    }

    fn rows(&self) -> u64 {
        // The header is record 0; an empty file has no records at all.
        self.scanner
            .records()
            .saturating_sub(u64::from(self.part.header))
    }
}

/// A CSV part with edits applied, record by record; never cut (a record
/// left out would shift the server's line numbers of a later statement).
struct EditedCsv<'a> {
    reader: RecordReader,
    dialect: &'a Dialect,
    edits: &'a Edits,
    part: Part,
    /// The edited records of the last chunk.
    out: Vec<u8>,
    skipped: u64,
    /// The bytes of the records read, before editing.
    read: u64,
}

impl Feed for EditedCsv<'_> {
    fn next(&mut self, _cut_after: u64) -> Result<Option<Piece<'_>>, FeedError> {
        let EditedCsv {
            reader,
            dialect,
            edits,
            part,
            out,
            skipped,
            read,
        } = self;
        out.clear();
        loop {
            let more = reader
                .next_chunk(&mut |start, span, bytes| {
                    let header = part.header && span.index == 0;
                    *read += bytes.len() as u64;
                    match edits.apply(dialect, start, header, bytes) {
                        None => *skipped += 1,
                        Some(edited) => out.extend_from_slice(edited.bytes()),
                    }
                    Ok(true)
                })
                .map_err(FeedError::File)?;
            if let Some(line) = reader.scanner().end_marker() {
                return Err(FeedError::EndMarker {
                    line: part.line_base + line,
                });
            }
            if !out.is_empty() {
                return Ok(Some(Piece {
                    bytes: out,
                    cut: None,
                }));
            }
            if !more {
                return Ok(None);
            }
        }
    }

    fn file_bytes(&self) -> u64 {
        self.reader.file_bytes().saturating_sub(self.part.start)
    }

    fn text_bytes(&self) -> u64 {
        self.read
    }

    fn rows(&self) -> u64 {
        self.reader
            .scanner()
            .records()
            .saturating_sub(u64::from(self.part.header))
            .saturating_sub(self.skipped)
    }
}

/// Reads the next chunk of `file` into `buf`: how many bytes, 0 at its end.
fn read_chunk(file: &mut impl Read, buf: &mut [u8]) -> Result<usize, FeedError> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            read => return read.map_err(FeedError::File),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::scan::spans_in;

    /// Every piece of a feed of `text`, asking for a cut `cut_after` bytes
    /// in: the bytes, the cuts, the rows.
    fn pieces(
        text: &[u8],
        edits: Option<&Edits>,
        cut_after: u64,
    ) -> Result<(Vec<u8>, Vec<u64>, u64), FeedError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, text).unwrap();
        let dialect = Dialect::default();
        let mut feed = csv(&path, &dialect, Part::whole(true), edits).unwrap();
        let (mut bytes, mut cuts) = (Vec::new(), Vec::new());
        while let Some(p) = feed.next(cut_after)? {
            bytes.extend_from_slice(p.bytes);
            cuts.extend(p.cut);
        }
        Ok((bytes, cuts, feed.rows()))
    }

    const FILES: [&[u8]; 4] = [
        b"id,name\n1,a\n2,\"b\nc\"\n3,d\n",
        b"id,name\r\n1,a\r\n2,\"x,\r\ny\"\r\n",
        b"id\n1\n\n2",
        b"id,name\n",
    ];

    #[test]
    fn a_feed_sends_the_file_as_it_is_and_cuts_at_the_first_record_end_asked_for() {
        for text in FILES {
            let (spans, _) = spans_in(&Dialect::default(), text);
            for cut_after in 0..=text.len() as u64 + 1 {
                let (bytes, cuts, rows) = pieces(text, None, cut_after).unwrap();
                assert_eq!(bytes, text, "cut after {cut_after}");
                // A last record without a line end is complete only at the
                // file's end, where there is nothing left to cut.
                let ended = text.ends_with(b"\n");
                let expected: Vec<u64> = spans
                    .iter()
                    .map(|s| s.end)
                    .filter(|end| ended || *end < text.len() as u64)
                    .find(|end| *end >= cut_after)
                    .into_iter()
                    .collect();
                assert_eq!(cuts, expected, "{:?} cut after {cut_after}", text);
                assert_eq!(rows, spans.len() as u64 - 1);
            }
        }
    }

    #[test]
    fn an_edited_feed_leaves_out_and_clears_records_by_their_start_and_is_never_cut() {
        let text = b"id,name\n1,a\n2,\"b\nc\"\n3,d\n";
        let edits = Edits {
            skip: vec![12],
            null: vec![(20, vec![1])],
            strip: 0,
        };
        let (bytes, cuts, rows) = pieces(text, Some(&edits), 0).unwrap();
        assert_eq!(bytes, b"id,name\n1,a\n3,\n");
        assert!(cuts.is_empty());
        assert_eq!(rows, 2);
        let strip = Edits {
            strip: 1,
            ..Edits::default()
        };
        let (bytes, _, rows) = pieces(text, Some(&strip), 0).unwrap();
        assert_eq!(bytes, b"id\n1\n2\n3\n");
        assert_eq!(rows, 3);
    }

    #[test]
    fn an_end_of_data_marker_stops_a_feed_with_its_line_whether_edited_or_not() {
        let text = b"id\n1\n\\.\n2\n";
        let strip = Edits {
            skip: vec![3],
            ..Edits::default()
        };
        for edits in [None, Some(&strip)] {
            match pieces(text, edits, u64::MAX) {
                Err(FeedError::EndMarker { line }) => assert_eq!(line, 3),
                other => panic!("{other:?}"),
            }
        }
    }
}
