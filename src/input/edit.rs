//! Changing a file's records on their way to the server, without touching
//! the file: leaving out the rows `--on-orphan skip` rejects, setting the key
//! fields `--on-orphan null` clears to NULL, and leaving out the two columns a
//! reject file adds (`fkload_line`, `fkload_reason`) so that a fixed reject
//! file loads as it is.
//!
//! Records are cut as COPY reads them ([`crate::input::scan`]); fields are split as
//! `FORMAT csv` splits them in the file's dialect (its delimiter between
//! fields, its quote, its escape or a doubled quote inside quotes). A NULL
//! is written as the dialect's NULL string, unquoted. Everything not changed
//! goes byte for byte.
//!
//! Records are named by the byte offset they start at in the file, which
//! holds for a whole file and for each part of a parallel load.

use std::io::{self, Read};
use std::ops::Range;
use std::path::Path;

use crate::input::dialect::Dialect;
use crate::input::file::Part;
use crate::input::format::RecordAt;
use crate::input::scan::{RecordSpan, Scanner};

/// How much of a file one read takes.
const CHUNK: usize = 256 * 1024;

/// What to do with the records of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Edits {
    /// Records left out, by start offset, ascending.
    pub skip: Vec<u64>,
    /// Records whose fields at these (0-based) positions become NULL, by
    /// start offset, ascending.
    pub null: Vec<(u64, Vec<usize>)>,
    /// Fields left out at the end of every record, the header's included.
    pub strip: usize,
}

/// What happens to one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    Keep,
    Skip,
    Null(&'a [usize]),
}

impl Edits {
    /// Whether the file goes as it is.
    pub fn is_empty(&self) -> bool {
        self.skip.is_empty() && self.null.is_empty() && self.strip == 0
    }

    /// What happens to the record that starts at byte `start`.
    pub fn action(&self, start: u64) -> Action<'_> {
        if self.skip.binary_search(&start).is_ok() {
            return Action::Skip;
        }
        match self.null.binary_search_by_key(&start, |(s, _)| *s) {
            Ok(i) => Action::Null(&self.null[i].1),
            Err(_) => Action::Keep,
        }
    }

    /// The record as it goes to the server (`None`: left out). `header` says
    /// whether it is the file's header (never left out or cleared).
    pub fn apply<'r>(
        &self,
        dialect: &Dialect,
        start: u64,
        header: bool,
        record: &'r [u8],
    ) -> Option<Edited<'r>> {
        let action = if header {
            Action::Keep
        } else {
            self.action(start)
        };
        match action {
            Action::Skip => None,
            Action::Keep if self.strip == 0 => Some(Edited::Same(record)),
            Action::Keep => Some(Edited::New(edit(dialect, record, &[], self.strip))),
            Action::Null(fields) => Some(Edited::New(edit(dialect, record, fields, self.strip))),
        }
    }
}

/// A record as it goes to the server.
#[derive(Debug, PartialEq, Eq)]
pub enum Edited<'a> {
    Same(&'a [u8]),
    New(Vec<u8>),
}

impl Edited<'_> {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Edited::Same(b) => b,
            Edited::New(v) => v,
        }
    }
}

/// Splits a record into its fields and its line end (`\n`, `\r\n`, `\r`, or
/// none for a last line without one).
pub fn split_terminator(record: &[u8]) -> (&[u8], &[u8]) {
    let cut = if record.ends_with(b"\r\n") {
        2
    } else if record.ends_with(b"\n") || record.ends_with(b"\r") {
        1
    } else {
        0
    };
    record.split_at(record.len() - cut)
}

/// The byte ranges of the fields of `body` (a record without its line end),
/// split at delimiters outside quotes as COPY splits them in `dialect`. An
/// empty body is one (empty) field.
pub fn fields(dialect: &Dialect, body: &[u8]) -> Vec<Range<usize>> {
    let escape = (dialect.escape != dialect.quote).then_some(dialect.escape);
    let mut out = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut last_was_esc = false;
    for (i, &b) in body.iter().enumerate() {
        // Inside quotes an escape escapes the next quote or escape; with no
        // escape of its own, `""` toggles twice: still quoted.
        if quoted && Some(b) == escape {
            last_was_esc = !last_was_esc;
            continue;
        }
        let escaped = std::mem::take(&mut last_was_esc);
        if b == dialect.quote {
            if !escaped {
                quoted = !quoted;
            }
        } else if b == dialect.delimiter && !quoted {
            out.push(start..i);
            start = i + 1;
        }
    }
    out.push(start..body.len());
    out
}

/// The value of field `index` of `record` as COPY reads it in `dialect`:
/// `Some(None)` for NULL (the NULL string, unquoted), else its text with
/// the quotes and escapes taken out; `None` when the record has no such
/// field.
pub fn field_value(dialect: &Dialect, record: &[u8], index: usize) -> Option<Option<Vec<u8>>> {
    let (body, _) = split_terminator(record);
    let raw = &body[fields(dialect, body).get(index)?.clone()];
    if raw == dialect.null.as_bytes() {
        return Some(None);
    }
    let mut out = Vec::with_capacity(raw.len());
    let (mut quoted, mut i) = (false, 0);
    while i < raw.len() {
        let b = raw[i];
        let next = raw.get(i + 1).copied();
        if quoted
            && b == dialect.escape
            && (next == Some(dialect.quote) || next == Some(dialect.escape))
        {
            // An escaped quote or escape (with the default escape, `""`).
            if let Some(n) = next {
                out.push(n);
            }
            i += 2;
            continue;
        }
        if b == dialect.quote {
            quoted = !quoted;
        } else {
            out.push(b);
        }
        i += 1;
    }
    Some(Some(out))
}

/// `record` with the fields at `null` set to NULL (the dialect's NULL
/// string) and the last `strip` fields left out; its line end kept.
pub fn edit(dialect: &Dialect, record: &[u8], null: &[usize], strip: usize) -> Vec<u8> {
    let (body, end) = split_terminator(record);
    let ranges = fields(dialect, body);
    let keep = ranges.len().saturating_sub(strip);
    let mut out = Vec::with_capacity(record.len());
    for (i, r) in ranges.iter().take(keep).enumerate() {
        if i > 0 {
            out.push(dialect.delimiter);
        }
        if null.contains(&i) {
            out.extend_from_slice(&dialect.null_bytes());
        } else {
            out.extend_from_slice(&body[r.clone()]);
        }
    }
    out.extend_from_slice(end);
    out
}

/// What [`for_each_record`] calls with each record: its start offset in the
/// file, its span, its bytes; false stops the reading.
pub type Visit<'a> = dyn FnMut(u64, &RecordSpan, &[u8]) -> io::Result<bool> + 'a;

/// Reads the records of `part` of the file at `path`, written in `dialect`,
/// as COPY does, calling
/// `visit` with each record's start offset in the file, its span (as the
/// scanner counts from the part's start) and its bytes (line end included),
/// until `visit` returns false. Returns the scanner, for the end-of-data
/// marker and the record count.
///
/// # Errors
/// When the file cannot be read, or `visit` fails.
pub fn for_each_record(
    path: &Path,
    dialect: &Dialect,
    part: Part,
    visit: &mut Visit<'_>,
) -> io::Result<Scanner> {
    for_each_record_counted(path, dialect, part, &mut |_| {}, visit)
}

/// [`for_each_record`], telling `file_bytes` after each read how many bytes
/// of the file itself (compressed, where it is) have been read.
///
/// # Errors
/// When the file cannot be read, or `visit` fails.
pub fn for_each_record_counted(
    path: &Path,
    dialect: &Dialect,
    part: Part,
    file_bytes: &mut dyn FnMut(u64),
    visit: &mut Visit<'_>,
) -> io::Result<Scanner> {
    let mut reader = RecordReader::open(path, dialect, part)?;
    while reader.next_chunk(visit)? {
        file_bytes(reader.file_bytes());
    }
    Ok(reader.scanner)
}

/// The records of a part of a file, a chunk at a time: each call of
/// [`RecordReader::next_chunk`] reads the next chunk and hands over the
/// records it completes, as COPY reads them.
pub struct RecordReader {
    file: std::io::Take<crate::input::file::Input>,
    read: crate::input::file::BytesRead,
    scanner: Scanner,
    part: Part,
    buf: Vec<u8>,
    /// The bytes of the records not yet complete, from offset `carry_at`
    /// of the part.
    carry: Vec<u8>,
    carry_at: u64,
    spans: Vec<RecordSpan>,
    /// The reading is over: the file's end or the end-of-data marker.
    done: bool,
    /// A visit said to stop.
    stopped: bool,
}

impl RecordReader {
    /// Opens `part` of the file at `path`, written in `dialect`.
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn open(path: &Path, dialect: &Dialect, part: Part) -> io::Result<RecordReader> {
        let file = crate::input::file::open_at(path, part.start)?;
        let read = file.bytes_read_handle();
        Ok(RecordReader {
            file: file.take(part.end.saturating_sub(part.start)),
            read,
            scanner: Scanner::with(dialect),
            part,
            buf: vec![0u8; CHUNK],
            carry: Vec::new(),
            carry_at: 0,
            spans: Vec::new(),
            done: false,
            stopped: false,
        })
    }

    /// Bytes of the file itself (compressed, where it is) read so far.
    pub fn file_bytes(&self) -> u64 {
        self.read.get()
    }

    /// The scanner, for the end-of-data marker and the record count.
    pub fn scanner(&self) -> &Scanner {
        &self.scanner
    }

    /// Reads the next chunk and calls `visit` with each record it
    /// completes: its start offset in the file, its span (as the scanner
    /// counts from the part's start) and its bytes (line end included).
    /// Returns whether there is more to read: false at the file's end, at
    /// an end-of-data marker (the scanner has it) and once `visit` returned
    /// false.
    ///
    /// # Errors
    /// When the file cannot be read, or `visit` fails.
    pub fn next_chunk(&mut self, visit: &mut Visit<'_>) -> io::Result<bool> {
        if self.done || self.stopped {
            return Ok(false);
        }
        let n = loop {
            match self.file.read(&mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            self.done = true;
            let spans = &mut self.spans;
            self.scanner.finish(&mut |r| spans.push(*r));
            // The last record may end without a line end: it ends at the
            // file's end.
            let end = self.carry_at + self.carry.len() as u64;
            if let Some(last) = self.spans.last_mut() {
                last.end = last.end.max(end);
            }
            self.hand_over(visit)?;
            return Ok(false);
        }
        self.carry.extend_from_slice(&self.buf[..n]);
        let spans = &mut self.spans;
        self.scanner.feed(&self.buf[..n], &mut |r| spans.push(*r));
        if self.scanner.end_marker().is_some() {
            // The server would stop there: the caller reports it.
            self.done = true;
            return Ok(false);
        }
        self.hand_over(visit)?;
        Ok(!self.stopped)
    }

    /// Hands the complete records over to `visit`, until it says to stop.
    fn hand_over(&mut self, visit: &mut Visit<'_>) -> io::Result<()> {
        let mut used = 0usize;
        for r in self.spans.drain(..) {
            let len = usize::try_from(r.end - self.carry_at).unwrap_or(usize::MAX) - used;
            let bytes = &self.carry[used..used + len];
            if !self.stopped {
                self.stopped = !visit(self.part.start + self.carry_at + used as u64, &r, bytes)?;
            }
            used += len;
        }
        self.carry.drain(..used);
        self.carry_at += used as u64;
        Ok(())
    }
}

/// The editor line of the record the server's `line` N falls in, for a COPY
/// of `part` sent with `edits` applied: the server counts the lines of what
/// it received, so the edited records are counted again here and the record
/// found is mapped back to the line it starts on in the file.
pub fn edited_line(
    path: &Path,
    dialect: &Dialect,
    part: Part,
    edits: &Edits,
    line: u64,
) -> Option<u64> {
    record_at(path, dialect, part, edits, line)
        .ok()
        .flatten()
        .map(|r| r.line)
}

/// The record the server's `line` N falls in, for a COPY of `part` sent
/// with `edits` applied (the lines of what the server received, counted
/// again here); `None` when the part has no such line.
///
/// # Errors
/// When the file cannot be read.
pub fn record_at(
    path: &Path,
    dialect: &Dialect,
    part: Part,
    edits: &Edits,
    line: u64,
) -> io::Result<Option<RecordAt>> {
    let mut sent = Scanner::with(dialect);
    let mut found: Option<RecordAt> = None;
    // The last record sent, and whether the one after the record found has
    // been seen.
    let mut last: Option<RecordAt> = None;
    let mut done = false;
    for_each_record(path, dialect, part, &mut |start, span, bytes| {
        let here = part.line_base + span.line;
        if let Some(found) = found.as_mut() {
            // The record after it: the part after the record found starts
            // on its line.
            found.line_base_after = here - 1;
            done = true;
            return Ok(false);
        }
        let header = part.header && span.index == 0;
        if let Some(out) = edits.apply(dialect, start, header, bytes) {
            let at = RecordAt {
                start,
                end: start + bytes.len() as u64,
                line: here,
                line_base_after: here + newlines(bytes),
            };
            last = Some(at);
            sent.feed(out.bytes(), &mut |r| {
                if r.pg_first <= line && line <= r.pg_last {
                    found = Some(at);
                }
            });
        }
        Ok(true)
    })?;
    if found.is_none() && !done {
        // A last record without a line end completes only now.
        sent.finish(&mut |r| {
            if r.pg_first <= line && line <= r.pg_last {
                found = last;
            }
        });
    }
    Ok(found)
}

/// The editor lines a record's bytes end: its `\n`s, or in a file of bare
/// carriage returns its `\r`s.
pub(crate) fn newlines(bytes: &[u8]) -> u64 {
    let n = memchr::memchr_iter(b'\n', bytes).count() as u64;
    if n > 0 {
        n
    } else {
        memchr::memchr_iter(b'\r', bytes).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn fields_split_at_commas_outside_quotes() {
        let body = b"1,\"a,b\",\"say \"\"hi\"\"\",,\"x\ny\"";
        let d = Dialect::default();
        let got: Vec<&[u8]> = fields(&d, body).into_iter().map(|r| &body[r]).collect();
        assert_eq!(
            got,
            vec![
                &b"1"[..],
                b"\"a,b\"",
                b"\"say \"\"hi\"\"\"",
                b"",
                b"\"x\ny\""
            ]
        );
        assert_eq!(fields(&d, b"").len(), 1);
    }

    #[test]
    fn field_values_are_unquoted_as_copy_reads_them() {
        let d = Dialect::default();
        let v = |r: &[u8], i| field_value(&d, r, i);
        assert_eq!(v(b"1,,x\n", 1), Some(None));
        assert_eq!(v(b"1,\"\",x\n", 1), Some(Some(Vec::new())));
        assert_eq!(v(b"1,\"a\"\"b,c\"\r\n", 1), Some(Some(b"a\"b,c".to_vec())));
        assert_eq!(v(b"1,ab\"c\"d", 1), Some(Some(b"abcd".to_vec())));
        assert_eq!(v(b"1,2", 2), None);
        let e = Dialect {
            escape: b'\\',
            null: "\\N".into(),
            ..Dialect::default()
        };
        assert_eq!(
            field_value(&e, b"\"a\\\"b\\\\\",\\N", 0),
            Some(Some(b"a\"b\\".to_vec()))
        );
        assert_eq!(field_value(&e, b"x,\\N", 1), Some(None));
    }

    #[test]
    fn fields_split_in_another_dialect() {
        let d = crate::input::dialect::DialectOptions {
            delimiter: Some(";".into()),
            quote: Some("'".into()),
            escape: Some("\\".into()),
            null: Some("\\N".into()),
            ..Default::default()
        }
        .resolve(false)
        .unwrap();
        let body = b"1;'a;\\'b';\\N;x,y;'\\\\';'\"'";
        let got: Vec<&[u8]> = fields(&d, body).into_iter().map(|r| &body[r]).collect();
        assert_eq!(
            got,
            vec![&b"1"[..], b"'a;\\'b'", b"\\N", b"x,y", b"'\\\\'", b"'\"'"]
        );
        assert_eq!(edit(&d, b"1;'a;b';7\n", &[2], 0), b"1;'a;b';\\N\n");
        assert_eq!(edit(&d, b"1;2;3;4\n", &[0], 2), b"\\N;2\n");
    }

    #[test]
    fn edit_nulls_fields_and_strips_the_reject_columns_keeping_the_line_end() {
        let d = Dialect::default();
        assert_eq!(edit(&d, b"1,42,\"a,b\"\r\n", &[1], 0), b"1,,\"a,b\"\r\n");
        assert_eq!(
            edit(&d, b"1,42,x,7,\"why, \"\"so\"\"\"\n", &[], 2),
            b"1,42,x\n"
        );
        assert_eq!(edit(&d, b"1,42,x,7,why", &[0, 2], 2), b",42,");
    }

    #[test]
    fn actions_by_start_offset() {
        let e = Edits {
            skip: vec![10, 30],
            null: vec![(20, vec![1])],
            strip: 0,
        };
        assert_eq!(e.action(10), Action::Skip);
        assert_eq!(e.action(20), Action::Null(&[1]));
        assert_eq!(e.action(25), Action::Keep);
    }

    /// A CSV field as COPY would read it: quoted or not, with commas, quotes,
    /// CR and LF inside quotes.
    fn field() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9 ]{0,5}",
            "[a-z,\"\r\n ]{0,6}".prop_map(|s| format!("\"{}\"", s.replace('"', "\"\""))),
        ]
    }

    proptest! {
        #[test]
        fn records_come_back_byte_for_byte(
            rows in prop::collection::vec(prop::collection::vec(field(), 1..4), 1..8),
            crlf in any::<bool>(),
            chunk_end in any::<bool>(),
        ) {
            let eol = if crlf { "\r\n" } else { "\n" };
            let mut text: String = rows.iter().map(|r| format!("{}{eol}", r.join(","))).collect();
            // A last line without a line end must hold something to be a record.
            let last_empty = rows.last().is_some_and(|r| r.len() == 1 && r[0].is_empty());
            if chunk_end && !last_empty {
                text.truncate(text.len() - eol.len());
            }
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f.csv");
            std::fs::write(&path, &text).unwrap();
            let mut back = Vec::new();
            let mut starts = Vec::new();
            let d = Dialect::default();
            for_each_record(&path, &d, Part::whole(true), &mut |start, _, bytes| {
                starts.push(start);
                back.extend_from_slice(bytes);
                Ok(true)
            }).unwrap();
            prop_assert_eq!(String::from_utf8(back).unwrap(), text.clone());
            // Each record's fields are the ones it was made of.
            let mut i = 0;
            for_each_record(&path, &d, Part::whole(true), &mut |_, _, bytes| {
                let (body, _) = split_terminator(bytes);
                let got: Vec<String> = fields(&d, body)
                    .into_iter()
                    .map(|r| String::from_utf8(body[r].to_vec()).unwrap())
                    .collect();
                if got != rows[i] {
                    return Err(io::Error::other(format!("{got:?} != {:?}", rows[i])));
                }
                i += 1;
                Ok(true)
            }).unwrap();
            prop_assert_eq!(starts.len(), rows.len());
        }
    }
}
