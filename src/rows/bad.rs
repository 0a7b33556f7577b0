//! Rows the server refuses one by one: a value its column's type refuses, a
//! NULL in a NOT NULL column, a CHECK, a row with too many or too few
//! fields, bytes not in the file's encoding ([`is_row_error`]). A COPY stops
//! at the first; [`stream_around`] goes on past each, so that one run finds
//! every one, the server the judge of each.
//!
//! How: the part goes as one COPY under a savepoint. When the server refuses
//! a row at its line N, the savepoint is rolled back, the record holding
//! line N is set aside, and the part is split there: the records before it
//! (which the server read without a fault of their own) and those after it
//! go again, each as a COPY of its own, the earlier first. A good record is
//! sent at most twice (once in the COPY that failed after it, once in the
//! one that loads it); each bad record costs a round trip and a rollback.
//! Memory holds the bad records' offsets and the first few reports per
//! reason ([`Tally`]).

use std::collections::BTreeMap;

use postgres::Transaction;
use postgres::error::SqlState;

use crate::database::copy::{self, Copied, CopyFailure};
use crate::database::db;
use crate::error::{DbErrorInfo, Error, ErrorKind};
use crate::input::file::Part;
use crate::plan::Step;

/// Whether the server refused a row for something of its own: a data
/// exception (class 22: a value its type refuses, too long, out of range,
/// a bad date, bytes not in the encoding, a malformed row of a COPY file),
/// a NULL in a NOT NULL column (23502) or a CHECK (23514). A key (unique or
/// foreign) is not: whether it holds depends on other rows.
pub(crate) fn is_row_error(db: &DbErrorInfo) -> bool {
    db.code.code().starts_with("22")
        || db.code == SqlState::NOT_NULL_VIOLATION
        || db.code == SqlState::CHECK_VIOLATION
}

/// The column of a COPY error's CONTEXT (`COPY t, line 3, column qty:
/// "x"`), or of the report itself (a NOT NULL violation names it).
pub(crate) fn column_of(db: &DbErrorInfo) -> Option<String> {
    let from_context = db.context.as_deref().and_then(|c| {
        let line = c
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with("COPY "))?;
        let rest = &line[line.find(", column ")? + ", column ".len()..];
        let name = rest.find(": ").map_or(rest, |i| &rest[..i]);
        Some(name.to_string())
    });
    from_context.or_else(|| db.column.clone())
}

/// The rows of one file the server refused, by reason: exact counts, the
/// first few reports, every record's offset.
#[derive(Debug)]
pub(crate) struct Tally {
    max_examples: usize,
    /// By (SQLSTATE, column, constraint): the report of the first, the
    /// count, the first few (line, message).
    kinds: BTreeMap<(String, Option<String>, Option<String>), Kind>,
    /// The records set aside, by start offset, ascending.
    pub(crate) starts: Vec<u64>,
}

#[derive(Debug)]
struct Kind {
    /// Where it was first met, to list the kinds in file order.
    first_line: u64,
    db: DbErrorInfo,
    column: Option<String>,
    rows: u64,
    examples: Vec<(u64, String)>,
}

impl Tally {
    pub(crate) fn new(max_examples: usize) -> Tally {
        Tally {
            max_examples,
            kinds: BTreeMap::new(),
            starts: Vec::new(),
        }
    }

    /// Whether no row was refused.
    pub(crate) fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Counts the record at `start`, on editor line `line`, refused as `db`
    /// says.
    fn add(&mut self, start: u64, line: u64, db: DbErrorInfo) {
        let column = column_of(&db);
        let key = (
            db.code.code().to_string(),
            column.clone(),
            db.constraint.clone(),
        );
        let max = self.max_examples;
        let kind = self.kinds.entry(key).or_insert_with(|| Kind {
            first_line: line,
            db: db.clone(),
            column,
            rows: 0,
            examples: Vec::new(),
        });
        kind.rows += 1;
        if kind.examples.len() < max {
            kind.examples.push((line, db.message));
        }
        let at = self.starts.partition_point(|s| *s < start);
        self.starts.insert(at, start);
    }

    /// The refusals of the file of `step`, one entry per reason, in the
    /// order the file first meets them; each reason's rows in file order.
    pub(crate) fn into_problems(self, step: &Step) -> Vec<Error> {
        let mut kinds: Vec<Kind> = self.kinds.into_values().collect();
        kinds.sort_by_key(|k| k.first_line);
        kinds
            .into_iter()
            .map(|mut k| {
                k.examples.sort_by_key(|(line, _)| *line);
                Error::new(ErrorKind::Refused {
                    path: step.file.path.clone(),
                    db: Box::new(k.db),
                    column: k.column,
                    rows: k.rows,
                    examples: k.examples,
                })
            })
            .collect()
    }
}

/// Streams `copy` (one part of the file of `step`) into its table in `tx`,
/// going around each row the server refuses on its own (see the module's
/// documentation), which `tally` counts. The COPYs are not cut into batches
/// and do not `FREEZE` (each is a subtransaction of its own).
///
/// Returns the rows loaded, or the failure that is not a row's own (a key,
/// a file that cannot be read), with the COPY it ended.
///
/// # Errors
/// When a savepoint cannot be made or rolled back, or the file cannot be
/// read to find a refused row.
pub(crate) fn stream_around(
    tx: &mut Transaction<'_>,
    step: &Step,
    copy: &copy::Copy<'_>,
    progress: &mut dyn FnMut(u64),
    tally: &mut Tally,
) -> Result<Result<Copied, CopyFailure>, Error> {
    let mut loaded = Copied {
        rows: 0,
        text_bytes: 0,
    };
    // The parts still to send, the next on top.
    let mut todo: Vec<Part> = vec![copy.part];
    while let Some(part) = todo.pop() {
        if part.start >= part.end {
            continue;
        }
        let this = copy::Copy {
            part,
            batch: None,
            freeze: false,
            ..*copy
        };
        let mut sp = db::begin(tx, "loading")?;
        let error = match copy::stream(&mut sp, &this, progress) {
            Ok(c) => {
                db::commit(sp, "loading")?;
                loaded.rows += c.rows;
                loaded.text_bytes += c.text_bytes;
                continue;
            }
            Err(CopyFailure::Server { error, start }) => (error, start),
            Err(other) => return Ok(Err(other)),
        };
        let (e, start) = error;
        let refused = e
            .as_db_error()
            .map(DbErrorInfo::from_db)
            .filter(is_row_error);
        let line = refused.as_ref().and_then(|db| {
            crate::input::lines::context_line(db.context.as_deref()?, &step.table.name.name)
        });
        let (Some(db), Some(line)) = (refused, line) else {
            return Ok(Err(CopyFailure::Server { error: e, start }));
        };
        db::rollback(sp, "loading")?;
        let at = step
            .file
            .record_at(part, copy.edits, line)
            .map_err(|source| {
                Error::new(ErrorKind::Io {
                    path: step.file.path.clone(),
                    source,
                })
            })?;
        // Never around the header: it is not a row.
        let Some(at) = at.filter(|r| !(part.header && r.start == part.start)) else {
            return Ok(Err(CopyFailure::Server { error: e, start }));
        };
        tally.add(at.start, at.line, db);
        todo.push(Part {
            start: at.end,
            end: part.end,
            header: false,
            line_base: at.line_base_after,
        });
        todo.push(Part {
            start: part.start,
            end: at.start,
            header: part.header,
            line_base: part.line_base,
        });
    }
    Ok(Ok(loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(code: SqlState, context: &str, column: Option<&str>) -> DbErrorInfo {
        DbErrorInfo {
            code,
            message: "m".into(),
            context: Some(context.into()),
            column: column.map(Into::into),
            ..DbErrorInfo::default()
        }
    }

    #[test]
    fn row_errors_are_the_rows_own_and_keys_are_not() {
        let row = |c: SqlState| is_row_error(&report(c, "", None));
        assert!(row(SqlState::INVALID_TEXT_REPRESENTATION));
        assert!(row(SqlState::STRING_DATA_RIGHT_TRUNCATION));
        assert!(row(SqlState::BAD_COPY_FILE_FORMAT));
        assert!(row(SqlState::CHARACTER_NOT_IN_REPERTOIRE));
        assert!(row(SqlState::NOT_NULL_VIOLATION));
        assert!(row(SqlState::CHECK_VIOLATION));
        assert!(!row(SqlState::FOREIGN_KEY_VIOLATION));
        assert!(!row(SqlState::UNIQUE_VIOLATION));
        assert!(!row(SqlState::QUERY_CANCELED));
    }

    #[test]
    fn the_column_comes_from_the_copy_context_or_the_report() {
        let c = |ctx: &str, col: Option<&str>| {
            column_of(&report(SqlState::INVALID_TEXT_REPRESENTATION, ctx, col))
        };
        assert_eq!(
            c("COPY t, line 3, column qty: \"x\"", None).as_deref(),
            Some("qty")
        );
        assert_eq!(
            c("COPY t, line 3, column qty: null input", None).as_deref(),
            Some("qty")
        );
        assert_eq!(
            c("SQL function f\nCOPY t, line 3, column a b: \"x\"", None).as_deref(),
            Some("a b")
        );
        assert_eq!(
            c("COPY t, line 3: \"1,,x\"", Some("name")).as_deref(),
            Some("name")
        );
        assert_eq!(c("COPY t, line 3", None), None);
    }
}
