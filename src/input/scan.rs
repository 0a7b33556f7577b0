//! Reading a CSV stream the way PostgreSQL's `COPY ... (FORMAT csv)` reads it:
//! where each record ends, which line numbers the server gives it, and which
//! lines a person sees in an editor.
//!
//! The server's `line N` counts lines its own way: the line-ending style is fixed
//! by the first line (`\n`, `\r\n` or `\r`), a blank line is a record (one NULL),
//! and newlines inside quoted fields count only when they match that style. A
//! person counts `\n` (or `\r` in a file of bare `\r` endings). [`Scanner`] keeps
//! both, so an error the server reports at its line N is shown at the line where
//! that record starts in the file.
//!
//! It also finds what makes the server stop reading early: a line holding only
//! `\.` is COPY's end-of-data marker, even in a CSV file.
//!
//! The scan jumps from quote to line end with `memchr`, so it costs little next to
//! sending the bytes; it never copies or allocates per record.

use memchr::{memchr, memchr3};

use crate::input::dialect::Dialect;

/// The line-ending style, fixed by the first line end outside quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Eol {
    Nl,
    CrNl,
    Cr,
}

/// Where one record lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    /// 0 for the header, then 1, 2, ... as COPY counts rows (from 1 in a file
    /// without a header).
    pub index: u64,
    /// The server's line numbers of the record's first and last line.
    pub pg_first: u64,
    pub pg_last: u64,
    /// The line the record starts on, as an editor numbers lines.
    pub line: u64,
    /// Byte offset just past the record (its line end included).
    pub end: u64,
}

/// A streaming reader of records; feed it the file's bytes in any chunks.
#[derive(Debug, Clone)]
pub struct Scanner {
    quote: u8,
    /// The escape byte when it is not the quote (COPY then only takes it
    /// inside quotes, before a quote or another escape).
    escape: Option<u8>,
    /// The last byte inside quotes was an escape that escapes the next one.
    last_was_esc: bool,
    in_quote: bool,
    eol: Option<Eol>,
    /// A `\r` outside quotes whose meaning the next byte decides.
    pending_cr: bool,
    /// The current line holds something (an empty line is still a record).
    content: bool,
    /// `\.` detection at the start of a line: 1 = at the start, 2 = after `\`,
    /// 3 = after `\.`, 0 = not a marker.
    marker: u8,
    offset: u64,
    index: u64,
    pg_line: u64,
    user_line: u64,
    start_pg: u64,
    start_user: u64,
    end_marker: Option<u64>,
    /// The index of the first record: 1 in a file without a header, so
    /// that a record's index is its row number either way.
    base: u64,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::new()
    }
}

impl Scanner {
    /// A scanner of COPY's default CSV (`"` quotes, `""` inside them).
    pub fn new() -> Scanner {
        Scanner::with(&Dialect::default())
    }

    /// A scanner of files written in `dialect`: its quote and escape decide
    /// where records end, and without a header the first record is row 1.
    pub fn with(dialect: &Dialect) -> Scanner {
        let base = u64::from(!dialect.header);
        Scanner {
            quote: dialect.quote,
            escape: (dialect.escape != dialect.quote).then_some(dialect.escape),
            last_was_esc: false,
            in_quote: false,
            eol: None,
            pending_cr: false,
            content: false,
            marker: 1,
            offset: 0,
            index: base,
            base,
            pg_line: 1,
            user_line: 1,
            start_pg: 1,
            start_user: 1,
            end_marker: None,
        }
    }

    /// The editor line of the first `\.` line outside quotes, if any: the server
    /// stops reading there.
    pub fn end_marker(&self) -> Option<u64> {
        self.end_marker
    }

    /// Records completed so far, header included.
    pub fn records(&self) -> u64 {
        self.index - self.base
    }

    /// Reads `buf`, calling `on_record` for each record it completes.
    pub fn feed(&mut self, buf: &[u8], on_record: &mut impl FnMut(&RecordSpan)) {
        let mut i = 0;
        // The next escape byte at or after `i` (absolute), looked up once per
        // escape rather than once per special byte.
        let mut next_esc: Option<Option<usize>> = None;
        while i < buf.len() {
            if self.pending_cr {
                self.pending_cr = false;
                if buf[i] == b'\n' {
                    // "\r\n": the record ends after the \n.
                    self.eol = Some(Eol::CrNl);
                    self.offset += 1;
                    i += 1;
                    self.end_record(on_record);
                    continue;
                }
                // A bare \r ended the line; this byte starts the next one.
                self.eol = Some(Eol::Cr);
                self.end_record(on_record);
            }
            let rest = &buf[i..];
            let mut found = memchr3(self.quote, b'\n', b'\r', rest);
            if let (true, Some(e)) = (self.in_quote, self.escape) {
                let at = match next_esc {
                    Some(Some(at)) if at >= i => Some(at),
                    Some(None) => None,
                    _ => {
                        let at = memchr(e, rest).map(|j| i + j);
                        next_esc = Some(at);
                        at
                    }
                };
                if let Some(at) = at {
                    found = Some(found.map_or(at - i, |j| j.min(at - i)));
                }
            }
            let Some(j) = found else {
                self.ordinary(rest);
                self.offset += rest.len() as u64;
                break;
            };
            self.ordinary(&rest[..j]);
            self.offset += j as u64 + 1;
            i += j + 1;
            self.special(rest[j], on_record);
        }
    }

    /// Ends the stream: a last record without a line end still counts.
    pub fn finish(&mut self, on_record: &mut impl FnMut(&RecordSpan)) {
        // `\.` with no line end after it: whether the server takes it for the
        // marker, the row count tells; nothing after it can be lost.
        if self.marker == 3 {
            self.marker = 0;
        }
        if self.pending_cr {
            self.pending_cr = false;
            self.eol = Some(Eol::Cr);
            self.end_record(on_record);
        } else if self.content || self.in_quote {
            self.end_record(on_record);
        }
    }

    /// Bytes that are neither quotes nor line ends.
    fn ordinary(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.content = true;
        self.last_was_esc = false;
        if self.in_quote {
            return;
        }
        for &b in bytes {
            self.marker = match (self.marker, b) {
                (1, b'\\') => 2,
                (2, b'.') => 3,
                (0, _) => return,
                _ => 0,
            };
        }
    }

    fn special(&mut self, b: u8, on_record: &mut impl FnMut(&RecordSpan)) {
        // COPY's rule (copyfromparse.c, CopyReadLineText): inside quotes an
        // escape escapes the next escape or quote; a quote not escaped
        // toggles quoting.
        if self.in_quote && Some(b) == self.escape {
            self.content = true;
            self.last_was_esc = !self.last_was_esc;
            return;
        }
        let escaped = std::mem::take(&mut self.last_was_esc);
        match b {
            _ if b == self.quote => {
                self.content = true;
                self.marker = 0;
                if !escaped {
                    self.in_quote = !self.in_quote;
                }
            }
            // The server counts a quoted line end only when it is the file's
            // style, and takes any style but `\n` for `\r`, including before the
            // first line end has fixed it (copyfromparse.c, CopyReadLineText).
            b'\n' if self.in_quote => {
                self.content = true;
                if self.eol != Some(Eol::Cr) {
                    self.user_line += 1;
                }
                if self.eol == Some(Eol::Nl) {
                    self.pg_line += 1;
                }
            }
            b'\r' if self.in_quote => {
                self.content = true;
                if self.eol == Some(Eol::Cr) {
                    self.user_line += 1;
                }
                if self.eol != Some(Eol::Nl) {
                    self.pg_line += 1;
                }
            }
            b'\n' => {
                if self.eol.is_none() {
                    self.eol = Some(Eol::Nl);
                }
                self.end_record(on_record);
            }
            _ => match self.eol {
                // \r outside quotes: in a \r\n file the \n ends the record; in a
                // \r file this ends it; at the first line end, the next byte says.
                Some(Eol::CrNl) => {}
                Some(Eol::Cr) => self.end_record(on_record),
                _ => {
                    if self.eol.is_none() {
                        self.pending_cr = true;
                    }
                }
            },
        }
    }

    fn end_record(&mut self, on_record: &mut impl FnMut(&RecordSpan)) {
        if self.marker == 3 && self.end_marker.is_none() {
            self.end_marker = Some(self.start_user);
        }
        on_record(&RecordSpan {
            index: self.index,
            pg_first: self.start_pg,
            pg_last: self.pg_line,
            line: self.start_user,
            end: self.offset,
        });
        self.index += 1;
        self.pg_line += 1;
        self.user_line += 1;
        self.start_pg = self.pg_line;
        self.start_user = self.user_line;
        self.content = false;
        self.marker = 1;
    }
}

/// Scans all of `bytes` and returns every record's span.
#[cfg(test)]
pub fn spans(bytes: &[u8]) -> (Vec<RecordSpan>, Option<u64>) {
    spans_in(&Dialect::default(), bytes)
}

/// [`spans`] of a file written in `dialect`.
#[cfg(test)]
pub fn spans_in(dialect: &Dialect, bytes: &[u8]) -> (Vec<RecordSpan>, Option<u64>) {
    let mut s = Scanner::with(dialect);
    let mut out = Vec::new();
    s.feed(bytes, &mut |r| out.push(*r));
    s.finish(&mut |r| out.push(*r));
    (out, s.end_marker())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lines(bytes: &[u8]) -> Vec<(u64, u64, u64)> {
        spans(bytes)
            .0
            .iter()
            .map(|r| (r.pg_first, r.pg_last, r.line))
            .collect()
    }

    #[test]
    fn lf_file_with_a_multiline_record() {
        assert_eq!(
            lines(b"id,note\n1,\"a\nb\"\n2,x\n"),
            [(1, 1, 1), (2, 3, 2), (4, 4, 4)]
        );
    }

    #[test]
    fn crlf_file_counts_like_the_server_and_the_editor() {
        // The server counts \r inside quotes in a \r\n file; an editor counts \n.
        assert_eq!(
            lines(b"id,note\r\n1,x\r\nzz,\"a\r\nb\"\r\n4,x\r\n"),
            [(1, 1, 1), (2, 2, 2), (3, 4, 3), (5, 5, 5)]
        );
        // A bare \n inside quotes of a \r\n file: the editor sees a line, the
        // server does not.
        assert_eq!(
            lines(b"h\r\n\"a\nb\"\r\nc\r\n"),
            [(1, 1, 1), (2, 2, 2), (3, 3, 4)]
        );
    }

    #[test]
    fn cr_file_counts_carriage_returns() {
        assert_eq!(
            lines(b"h\r1\r\"a\rb\"\r2"),
            [(1, 1, 1), (2, 2, 2), (3, 4, 3), (5, 5, 5)]
        );
    }

    #[test]
    fn blank_lines_are_records_and_a_missing_final_newline_is_fine() {
        let (s, _) = spans(b"pid\n1\n\n99\n1\n98");
        assert_eq!(s.len(), 6);
        assert_eq!(s[2].line, 3);
        assert_eq!(s[3].line, 4);
        assert_eq!(s[5].line, 6);
        assert_eq!(s[5].end, 14);
        assert_eq!(
            spans(b"h\n1\n").0.len(),
            2,
            "a final newline makes no record"
        );
    }

    #[test]
    fn end_marker_only_alone_on_a_line_outside_quotes() {
        assert_eq!(spans(b"h\n1\n\\.\n2\n").1, Some(3));
        assert_eq!(spans(b"h\r\n1\r\n\\.\r\n2\r\n").1, Some(3));
        assert_eq!(spans(b"h\n\"\\.\"\n").1, None, "quoted");
        assert_eq!(spans(b"h\n\"x\n\\.\n\"\n").1, None, "inside a quoted field");
        assert_eq!(spans(b"h\n\\.x\n").1, None);
        assert_eq!(spans(b"h\nx\\.\n").1, None);
        assert_eq!(
            spans(b"h\n\\.").1,
            None,
            "at the very end the row count decides"
        );
    }

    #[test]
    fn quoted_line_ends_before_the_style_is_known_count_as_the_server_counts_them() {
        // A first record with a quoted \n: the server has not seen a line end
        // yet, compares with \r, and does not count it (an editor does).
        assert_eq!(lines(b"\"a\nb\"\n1\n"), [(1, 1, 1), (2, 2, 3)]);
        assert_eq!(lines(b"\"a\rb\"\n1\n"), [(1, 2, 1), (3, 3, 2)]);
    }

    #[test]
    fn unterminated_quote_runs_to_the_end() {
        let (s, _) = spans(b"h\n1\n\"open\n2\n3\n");
        assert_eq!(s.len(), 3);
        assert_eq!((s[2].line, s[2].pg_last), (3, 6));
    }

    #[test]
    fn another_quote_and_a_backslash_escape_end_records_where_copy_does() {
        let d = crate::input::dialect::DialectOptions {
            quote: Some("'".into()),
            escape: Some("\\".into()),
            ..Default::default()
        }
        .resolve(false)
        .unwrap();
        // 'a\'\nb': an escaped quote does not close, so the newline is quoted.
        let (s, _) = spans_in(&d, b"h\n'a\\'\nb'\n2\n");
        assert_eq!(s.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 4]);
        // An escaped escape before the quote: the quote closes.
        let (s, _) = spans_in(&d, b"h\n'a\\\\'\n2\n");
        assert_eq!(s.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 3]);
        // A double quote is an ordinary byte here; outside quotes a
        // backslash is ordinary, and `\.` still ends the data.
        let (s, m) = spans_in(&d, b"h\n\"a\n\\x\n\\.\n");
        assert_eq!((s.len(), m), (4, Some(4)));
        // With the default dialect the same bytes read otherwise.
        assert_eq!(spans(b"h\n'a\\'\nb'\n2\n").0.len(), 4);
    }

    proptest! {
        /// Any quote and escape: chunk boundaries never change the result.
        #[test]
        fn chunking_does_not_matter_in_any_dialect(
            body in proptest::collection::vec(prop_oneof![
                Just(b'a'), Just(b'\''), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(b'\\'), Just(b'.')
            ], 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..4),
            quote in prop_oneof![Just("'"), Just("\"")],
            escape in prop_oneof![Just("\\"), Just("'"), Just("\"")],
        ) {
            let d = crate::input::dialect::DialectOptions {
                quote: Some(quote.into()),
                escape: Some(escape.into()),
                ..Default::default()
            }
            .resolve(false)
            .unwrap();
            let whole = spans_in(&d, &body);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.sort_unstable();
            let mut s = Scanner::with(&d);
            let mut out = Vec::new();
            let mut from = 0;
            for c in cuts.into_iter().chain([body.len()]) {
                s.feed(&body[from..c], &mut |r| out.push(*r));
                from = c;
            }
            s.finish(&mut |r| out.push(*r));
            prop_assert_eq!(out, whole.0);
            prop_assert_eq!(s.end_marker(), whole.1);
        }

        /// Chunk boundaries never change the result.
        #[test]
        fn chunking_does_not_matter(
            body in proptest::collection::vec(prop_oneof![
                Just(b'a'), Just(b','), Just(b'"'), Just(b'\n'), Just(b'\r'), Just(b'\\'), Just(b'.')
            ], 0..200),
            cut in 0usize..200,
        ) {
            let whole = spans(&body);
            let cut = cut.min(body.len());
            let mut s = Scanner::new();
            let mut out = Vec::new();
            s.feed(&body[..cut], &mut |r| out.push(*r));
            s.feed(&body[cut..], &mut |r| out.push(*r));
            s.finish(&mut |r| out.push(*r));
            prop_assert_eq!(out, whole.0);
            prop_assert_eq!(s.end_marker(), whole.1);
        }
    }
}
