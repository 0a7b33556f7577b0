//! Which line of which file: the one place that maps what the server says
//! (a COPY statement's line number, a record number) to the line of the file
//! an editor shows, and cuts files at record boundaries.
//!
//! Every answer comes from one pass of the [`Scanner`] over the file, which
//! reads it as COPY does (quoted newlines, CRLF, blank lines, the end marker);
//! lines are counted as an editor counts them (`\n`, or `\r` alone in a file
//! of bare carriage returns).

use std::io::Read;
use std::path::Path;

use crate::error::{Error, ErrorKind};
use crate::input::dialect::Dialect;
use crate::input::file;
use crate::input::file::Part;
use crate::input::scan::{RecordSpan, Scanner};

/// How much of a file one read takes.
const CHUNK: usize = 256 * 1024;

/// The line number in a COPY error's CONTEXT: `COPY orders, line 57, column id: "x"`.
///
/// `relname` is the (unqualified) table name the server writes; matching it
/// exactly keeps a table or column name that itself contains ", line 9" from
/// being misread. When functions called by triggers add their own CONTEXT lines,
/// the COPY line is the last one.
pub fn context_line(context: &str, relname: &str) -> Option<u64> {
    let prefix = format!("COPY {relname}, line ");
    context.lines().rev().find_map(|l| {
        let rest = l.trim_start().strip_prefix(&prefix)?;
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// Maps record numbers (1 = the first row after the header) to the line each
/// record starts on (1 = the header line), reading `path` once, as COPY reads
/// it ([`crate::input::scan`]).
///
/// `wanted` must be sorted ascending; the result is in the same order. Records past
/// the end of the file are left out.
///
/// # Errors
/// [`ErrorKind::Io`] when the file cannot be read.
pub fn record_lines(
    path: &Path,
    dialect: &Dialect,
    wanted: &[u64],
) -> Result<Vec<(u64, u64)>, Error> {
    let mut out = Vec::with_capacity(wanted.len());
    let mut next = 0;
    scan_file(path, dialect, &mut |r| {
        while next < wanted.len() && wanted[next] <= r.index {
            if wanted[next] == r.index {
                out.push((r.index, r.line));
            }
            next += 1;
        }
        next < wanted.len()
    })?;
    Ok(out)
}

/// Cuts a file into parts of about `every` bytes, each ending at a record
/// boundary, for loading over several connections. Reads the file once.
///
/// # Errors
/// [`ErrorKind::Io`] when the file cannot be read.
pub fn split(path: &Path, dialect: &Dialect, every: u64) -> Result<Vec<Part>, Error> {
    let mut parts = vec![Part::whole(dialect.header)];
    let mut next_cut = every.max(1);
    // A cut waits for the next record: its first line is the next part's.
    let mut cut: Option<u64> = None;
    scan_file(path, dialect, &mut |r| {
        if let Some(end) = cut.take() {
            if let Some(last) = parts.last_mut() {
                last.end = end;
            }
            parts.push(Part {
                start: end,
                end: u64::MAX,
                header: false,
                line_base: r.line - 1,
            });
        }
        if r.end >= next_cut {
            cut = Some(r.end);
            next_cut = r.end + every.max(1);
        }
        true
    })?;
    Ok(parts)
}

/// The editor line of the record holding the server's line `line` of a COPY
/// statement that started at byte `start` (a record boundary) of the file.
///
/// Each statement counts lines afresh, and its line-ending style is fixed by its
/// own first line, so the count is redone from `start` as that statement saw
/// it; the editor lines before `start` are counted as an editor counts them.
/// `None` when the file is shorter or cannot be read.
pub fn statement_line(path: &Path, dialect: &Dialect, start: u64, line: u64) -> Option<u64> {
    let base = editor_lines_before(path, start).ok()?;
    let mut found = None;
    scan_from(path, dialect, start, &mut |r| {
        if r.pg_first <= line && line <= r.pg_last {
            found = Some(base + r.line);
        }
        found.is_none()
    })
    .ok()?;
    found
}

/// [`statement_line`] for a statement sent with `edits` applied.
pub fn edited_statement_line(
    path: &Path,
    dialect: &Dialect,
    start: u64,
    edits: &crate::input::edit::Edits,
    line: u64,
) -> Option<u64> {
    let part = Part {
        start,
        end: u64::MAX,
        header: start == 0 && dialect.header,
        line_base: editor_lines_before(path, start).ok()?,
    };
    crate::input::edit::edited_line(path, dialect, part, edits, line)
}

/// The editor lines that end before byte `end` of the file: its `\n`s, or in
/// a file of bare carriage returns its `\r`s.
fn editor_lines_before(path: &Path, end: u64) -> std::io::Result<u64> {
    let mut before = file::open(path)?.take(end);
    let (mut newlines, mut returns) = (0u64, 0u64);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = before.read(&mut buf)?;
        if n == 0 {
            break;
        }
        newlines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        returns += memchr::memchr_iter(b'\r', &buf[..n]).count() as u64;
    }
    Ok(if newlines == 0 { returns } else { newlines })
}

/// Feeds the whole file to a [`Scanner`] until `visit` returns false.
fn scan_file(
    path: &Path,
    dialect: &Dialect,
    visit: &mut dyn FnMut(&RecordSpan) -> bool,
) -> Result<(), Error> {
    scan_from(path, dialect, 0, visit).map_err(|source| {
        Error::new(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Feeds the file from byte `start` (a record boundary: the scanner counts
/// records and lines afresh there, as a COPY statement that starts there
/// does) to a [`Scanner`] until `visit` returns false.
fn scan_from(
    path: &Path,
    dialect: &Dialect,
    start: u64,
    visit: &mut dyn FnMut(&RecordSpan) -> bool,
) -> std::io::Result<()> {
    let mut file = file::open_at(path, start)?;
    let mut scanner = Scanner::with(dialect);
    let mut buf = vec![0u8; CHUNK];
    let mut going = true;
    while going {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        scanner.feed(&buf[..n], &mut |r| going = going && visit(r));
    }
    if going {
        scanner.finish(&mut |r| going = going && visit(r));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lines_follow_embedded_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "id,note\n1,\"two\nlines\"\n2,x\n3,\"a\r\nb\"\n4,y\n").unwrap();
        assert_eq!(
            record_lines(&p, &Dialect::default(), &[1, 2, 3, 4, 9]).unwrap(),
            vec![(1, 2), (2, 4), (3, 5), (4, 7)]
        );
    }

    #[test]
    fn split_cuts_at_record_boundaries_and_keeps_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        let body = "id,note\n1,a\n2,\"b\nb\"\n3,c\n4,d\n";
        std::fs::write(&p, body).unwrap();
        let parts = split(&p, &Dialect::default(), 10).unwrap();
        // Every byte in exactly one part, parts back to back.
        assert_eq!(parts[0].start, 0);
        assert!(parts[0].header && parts.iter().skip(1).all(|p| !p.header));
        for w in parts.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        assert_eq!(parts.last().unwrap().end, u64::MAX);
        // Each later part starts where a record starts, with its line numbers.
        for p in &parts[1..] {
            let start = usize::try_from(p.start).unwrap();
            assert_eq!(&body[start - 1..start], "\n");
            let editor = body[..start].matches('\n').count() as u64;
            assert_eq!(p.line_base, editor);
        }
        assert!(parts.len() >= 3, "{parts:?}");
    }

    #[test]
    fn record_lines_count_blank_lines_and_crlf_as_copy_does() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "pid\r\n1\r\n\r\n99\r\n1\r\n98\r\n").unwrap();
        assert_eq!(
            record_lines(&p, &Dialect::default(), &[3, 5]).unwrap(),
            vec![(3, 4), (5, 6)],
            "the blank line is record 2"
        );
    }

    #[test]
    fn statement_line_maps_any_line_of_a_record_to_its_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.csv");
        std::fs::write(&p, "id,note\n1,\"two\nlines\"\n2,x\n").unwrap();
        assert_eq!(statement_line(&p, &Dialect::default(), 0, 1), Some(1));
        assert_eq!(statement_line(&p, &Dialect::default(), 0, 2), Some(2));
        assert_eq!(statement_line(&p, &Dialect::default(), 0, 3), Some(2));
        assert_eq!(statement_line(&p, &Dialect::default(), 0, 4), Some(4));
        // A statement that starts at the record on line 4 counts from 1 there.
        let start = "id,note\n1,\"two\nlines\"\n".len() as u64;
        assert_eq!(statement_line(&p, &Dialect::default(), start, 1), Some(4));
    }

    #[test]
    fn context_lines_as_the_server_writes_them() {
        // Real CONTEXT texts from PostgreSQL 15.
        assert_eq!(
            context_line("COPY orders, line 57, column customer_id: \"x\"", "orders"),
            Some(57)
        );
        assert_eq!(
            context_line("COPY orders, line 3: \"1,2,3,4\"", "orders"),
            Some(3)
        );
        assert_eq!(context_line("COPY orders, line 12", "orders"), Some(12));
        assert_eq!(
            context_line("PL/pgSQL function f() line 3 at RAISE\nCOPY t, line 4", "t"),
            Some(4)
        );
        assert_eq!(
            context_line("COPY a, line 9, b, line 5, column c: \"1\"", "a, line 9, b"),
            Some(5)
        );
        assert_eq!(context_line("SQL statement \"SELECT 1\"", "t"), None);
    }
}
