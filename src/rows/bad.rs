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
use std::io::Write;
use std::ops::Range;
use std::path::PathBuf;

use postgres::Transaction;
use postgres::error::SqlState;

use crate::database::copy::{self, Copied, CopyFailure};
use crate::database::db;
use crate::error::{DbErrorInfo, Error, ErrorKind};
use crate::input::data_file::DataFile;
use crate::input::feed::FeedError;
use crate::input::format::{Record, RecordAt};
use crate::input::records::Rec;
use crate::input::reject::Rejects;
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
/// "x"`), or of the report itself (a NOT NULL violation names it). A row
/// with too many or too few fields (22P04) is not a column's, whatever the
/// CONTEXT says (PostgreSQL 17 names the last column read there when the
/// COPY skips rows).
pub(crate) fn column_of(db: &DbErrorInfo) -> Option<String> {
    if db.code == SqlState::BAD_COPY_FILE_FORMAT {
        return db.column.clone();
    }
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
    /// The rows refused.
    pub(crate) rows: u64,
    /// Every row refused, when kept ([`Tally::keeping_every_row`]): its
    /// start in the file and why, in file order.
    every: Option<Vec<(u64, String)>>,
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
            rows: 0,
            every: None,
        }
    }

    /// A tally that keeps every row refused too (about its reason's length
    /// per row), for the orphan policy to decide with ([`Tally::take_every`]).
    pub(crate) fn keeping_every_row(mut self) -> Tally {
        self.every = Some(Vec::new());
        self
    }

    /// Every row refused, when kept: its start in the file and why.
    pub(crate) fn take_every(&mut self) -> Vec<(u64, String)> {
        self.every.take().unwrap_or_default()
    }

    /// Adds the rows of `other`, refused in another part of the same file.
    pub(crate) fn merge(&mut self, other: Tally) {
        self.rows += other.rows;
        for (key, k) in other.kinds {
            match self.kinds.entry(key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(k);
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    let mine = o.get_mut();
                    if k.first_line < mine.first_line {
                        mine.first_line = k.first_line;
                        mine.db = k.db;
                    }
                    mine.rows += k.rows;
                    mine.examples.extend(k.examples);
                    mine.examples.sort_by_key(|(line, _)| *line);
                    mine.examples.truncate(self.max_examples);
                }
            }
        }
    }

    /// Whether no row was refused.
    pub(crate) fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Counts the record `at`, refused as `db` says (`why`, for a reject
    /// file).
    fn add(&mut self, at: &RecordAt, why: &str, db: DbErrorInfo) {
        let line = at.line;
        if let Some(every) = &mut self.every {
            every.push((at.start, why.to_string()));
        }
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
        self.rows += 1;
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

/// Where the records a `--on-error skip` load sets aside go: the reject
/// file of one data file, created with its first record.
pub(crate) struct SetAside<'a> {
    file: &'a DataFile,
    columns: &'a [String],
    strip: usize,
    path: PathBuf,
    /// The file's header as it has it, for the reject file's.
    header: Option<(u64, Vec<u8>)>,
    /// One part of a file among others: no header ([`Rejects::headless`]).
    part: bool,
    out: Option<Rejects<'a>>,
    /// The records written.
    pub(crate) rows: u64,
}

impl<'a> SetAside<'a> {
    /// The reject file at `path` of the file of `step`.
    pub(crate) fn new(step: &'a Step, path: PathBuf) -> SetAside<'a> {
        SetAside {
            file: &step.file,
            columns: &step.columns,
            strip: step.strip,
            path,
            header: None,
            part: false,
            out: None,
            rows: 0,
        }
    }

    /// The reject file at `path` of one part of the file of `step`, to be
    /// merged with the others' ([`crate::input::reject::merge`]).
    pub(crate) fn of_part(step: &'a Step, path: PathBuf) -> SetAside<'a> {
        SetAside {
            part: true,
            ..SetAside::new(step, path)
        }
    }

    /// Where the reject file is, once a record went into it.
    pub(crate) fn written(&self) -> Option<&std::path::Path> {
        self.out.as_ref().map(|_| self.path.as_path())
    }

    fn header(&mut self, rec: &Rec<'_>) {
        self.header = Some((rec.at.line, rec.raw.to_vec()));
    }

    fn record(&mut self, at: &RecordAt, raw: &[u8], why: &str) -> Result<(), Error> {
        let out = match &mut self.out {
            Some(out) => out,
            None => {
                let mut out =
                    Rejects::create(self.file, self.columns, self.strip, self.path.clone())?;
                if self.part {
                    out = out.headless();
                } else if let Some((line, bytes)) = &self.header {
                    out.take(&Record {
                        start: 0,
                        index: 0,
                        line: *line,
                        bytes,
                    })?;
                }
                self.out.insert(out)
            }
        };
        out.take(&Record {
            start: at.start,
            // A row (a later part's first record is its 0th too).
            index: 1,
            line: at.line,
            bytes: raw,
        })?;
        out.reject(why)?;
        self.rows += 1;
        Ok(())
    }

    /// Flushes the reject file.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when it cannot be written.
    pub(crate) fn finish(self) -> Result<(), Error> {
        self.out.map_or(Ok(()), Rejects::finish)
    }
}

/// The fewest and most records a statement holds, and its most bytes.
const MIN_RECORDS: usize = 64;
const MAX_RECORDS: usize = 1 << 17;
const MAX_BYTES: usize = 16 << 20;

/// What a statement costs beyond its rows (a savepoint, its release, the
/// COPY's start and end), in the time of a row, times two: see [`Sizing`].
/// Measured on PostgreSQL 15 with TPC-H lineitem (`benches/bad_rows.sh`):
/// about 0.5 ms a statement, the time of some 220 rows.
const STATEMENT_COST: f64 = 512.0;

/// How many records the next statement holds. A row refused at random in
/// a statement of `b` records costs the `b / 2` before it, sent again; a
/// statement costs [`STATEMENT_COST`] / 2 rows. With a row in `g` refused,
/// the cost per row, `b / 2g + c / b`, is least at `b = sqrt(2 c g)`: the
/// size follows the refusals met so far, at most doubling from one
/// statement to the next.
#[derive(Debug)]
struct Sizing {
    size: usize,
    judged: u64,
    refused: u64,
}

impl Sizing {
    fn new() -> Sizing {
        Sizing {
            size: MIN_RECORDS,
            judged: 0,
            refused: 0,
        }
    }

    fn after(&mut self, judged: usize, refused: u64) {
        self.judged += judged as u64;
        self.refused += refused;
        #[allow(clippy::cast_precision_loss)]
        let gap = (self.judged + 1) as f64 / (self.refused + 1) as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let best = (STATEMENT_COST * gap).sqrt() as usize;
        self.size = best.clamp(MIN_RECORDS, MAX_RECORDS).min(self.size * 2);
    }
}

/// The records of one statement, held until the server took them: as they
/// are sent, and as the file has them where that differs.
#[derive(Debug, Default)]
struct Batch {
    data: Vec<u8>,
    raws: Vec<u8>,
    held: Vec<Held>,
}

#[derive(Debug)]
struct Held {
    at: RecordAt,
    /// Where it ends in `data`.
    end: usize,
    /// Where it is in `raws`, when it was changed on the way.
    raw: Option<Range<usize>>,
}

impl Batch {
    fn clear(&mut self) {
        self.data.clear();
        self.raws.clear();
        self.held.clear();
    }

    fn push(&mut self, rec: &Rec<'_>) {
        self.data.extend_from_slice(rec.sent);
        let raw = (!std::ptr::eq(rec.raw, rec.sent)).then(|| {
            let from = self.raws.len();
            self.raws.extend_from_slice(rec.raw);
            from..self.raws.len()
        });
        self.held.push(Held {
            at: rec.at,
            end: self.data.len(),
            raw,
        });
    }

    /// The data of records `from..to`.
    fn body(&self, from: usize, to: usize) -> &[u8] {
        let start = if from == 0 {
            0
        } else {
            self.held[from - 1].end
        };
        let end = if to == 0 { 0 } else { self.held[to - 1].end };
        &self.data[start..end.max(start)]
    }

    /// Record `i` as it is sent.
    fn sent(&self, i: usize) -> &[u8] {
        self.body(i, i + 1)
    }

    /// Record `i` as the file has it.
    fn raw(&self, i: usize) -> &[u8] {
        match &self.held[i].raw {
            Some(r) => &self.raws[r.clone()],
            None => self.body(i, i + 1),
        }
    }
}

/// The savepoint each statement runs under.
const SAVEPOINT: &str = "fkload_rows";

/// Streams `copy` (one part of the file of `step`) into its table in `tx`,
/// going around each row the server refuses on its own (see the module's
/// documentation), which `tally` counts and `aside`, when given, writes to a
/// reject file. The statements do not `FREEZE` (each is a subtransaction
/// of its own).
///
/// Returns the rows loaded, or the failure that is not a row's own (a key,
/// a file that cannot be read), with the COPY it ended.
///
/// # Errors
/// When a savepoint cannot be made, released or rolled back, or a reject
/// file cannot be written.
pub(crate) fn stream_around(
    tx: &mut Transaction<'_>,
    step: &Step,
    copy: &copy::Copy<'_>,
    progress: &mut dyn FnMut(u64),
    tally: &mut Tally,
    mut aside: Option<&mut SetAside<'_>>,
    server_skips: bool,
) -> Result<Result<Copied, CopyFailure>, Error> {
    let mut records = match step.file.records(copy.part, copy.edits) {
        Ok(r) => r,
        Err(e) => return Ok(Err(CopyFailure::File(e))),
    };
    let mut round = Round {
        tx,
        step,
        copy,
        header: None,
        sizing: Sizing::new(),
        batch: Batch::default(),
        rows: 0,
        server_skips,
        types: None,
    };
    let mut exhausted = false;
    while !exhausted {
        round.batch.clear();
        let (size, mut bytes) = (round.sizing.size, 0usize);
        while round.batch.held.len() < size && bytes < MAX_BYTES {
            let rec = match records.next() {
                Ok(Some(rec)) => rec,
                Ok(None) => {
                    exhausted = true;
                    break;
                }
                Err(FeedError::File(e)) => return Ok(Err(CopyFailure::File(e))),
                Err(FeedError::EndMarker { line }) => {
                    return Ok(Err(CopyFailure::EndMarker { line }));
                }
            };
            if copy.part.header && rec.index == 0 {
                round.header = Some(rec.sent.to_vec());
                if let Some(aside) = aside.as_deref_mut() {
                    aside.header(&rec);
                }
                continue;
            }
            bytes += rec.sent.len();
            round.batch.push(&rec);
        }
        if round.batch.held.is_empty() && round.header.is_none() {
            break;
        }
        if let Err(failure) = round.send(tally, aside.as_deref_mut())? {
            return Ok(Err(failure));
        }
        progress(records.file_bytes());
    }
    Ok(Ok(Copied {
        rows: round.rows,
        text_bytes: records.text_bytes(),
    }))
}

/// The statements of one part, a batch at a time.
struct Round<'t, 'c, 'x> {
    tx: &'t mut Transaction<'x>,
    step: &'t Step,
    copy: &'t copy::Copy<'c>,
    /// The header, until a statement sent it.
    header: Option<Vec<u8>>,
    sizing: Sizing,
    batch: Batch,
    /// The rows loaded.
    rows: u64,
    /// The server skips the rows its columns' types refuse itself
    /// (`ON_ERROR ignore`, see [`server_skips`]).
    server_skips: bool,
    /// The table's columns and their types (`varchar(5)`), once needed.
    types: Option<Vec<(String, String)>>,
}

/// A record the server skipped (`ON_ERROR ignore`): which of the batch,
/// the column whose type refused it, and the server's notice.
struct Skipped {
    i: usize,
    column: String,
    notice: String,
}

/// Whether the COPYs of `step` in `plan` let the server skip the rows their
/// columns' types refuse (`ON_ERROR ignore`, PostgreSQL 17 and later): a
/// row refused so costs no statement of its own. Not on Citus, and only for
/// a UTF-8 file (the value is judged again, as text, for the server's own
/// message: `pg_input_error_info`).
pub(crate) fn server_skips(server_version_num: i32, on_citus: bool, step: &Step) -> bool {
    let utf8 = step
        .file
        .encoding()
        .is_none_or(|e| e.eq_ignore_ascii_case("UTF8") || e.eq_ignore_ascii_case("UTF-8"));
    server_version_num >= 170_000 && !on_citus && utf8
}

impl Round<'_, '_, '_> {
    /// Sends the batch under a savepoint, going around each row refused.
    fn send(
        &mut self,
        tally: &mut Tally,
        mut aside: Option<&mut SetAside<'_>>,
    ) -> Result<Result<(), CopyFailure>, Error> {
        db::exec(self.tx, &format!("SAVEPOINT {SAVEPOINT}"), "loading")?;
        let to = self.batch.held.len();
        // The rows refused that cost a statement of their own (not those
        // the server skipped itself), for the size of the next batch.
        let (mut from, mut refused) = (0, 0u64);
        loop {
            let error = match self.statement(from, to) {
                Ok(Some(skipped)) => {
                    self.set_aside_skipped(&skipped, tally, aside.as_deref_mut())?;
                    break;
                }
                Ok(None) => {
                    self.rollback()?;
                    continue;
                }
                Err(CopyFailure::Server { error, start }) => (error, start),
                Err(other) => return Ok(Err(other)),
            };
            let Some((db, i)) = self.refused_row(&error.0, from) else {
                return Ok(Err(CopyFailure::Server {
                    error: error.0,
                    start: error.1,
                }));
            };
            self.rollback()?;
            // The records before it, which the server took, go again on
            // their own, and stay.
            if i > from {
                let skipped = match self.statement(from, i) {
                    Ok(Some(skipped)) => skipped,
                    // The server no longer skips rows: the rest of the
                    // batch goes again, as it would have from the start.
                    Ok(None) => {
                        self.rollback()?;
                        continue;
                    }
                    Err(failure) => return Ok(Err(failure)),
                };
                self.set_aside_skipped(&skipped, tally, aside.as_deref_mut())?;
                db::exec(
                    self.tx,
                    &format!("RELEASE SAVEPOINT {SAVEPOINT}"),
                    "loading",
                )?;
                db::exec(self.tx, &format!("SAVEPOINT {SAVEPOINT}"), "loading")?;
            }
            let why = format!(
                "{}{}",
                db.message,
                crate::error::notes::refused_where(
                    column_of(&db).as_deref(),
                    db.constraint.as_deref()
                )
            );
            let at = self.batch.held[i].at;
            if let Some(aside) = aside.as_deref_mut() {
                aside.record(&at, self.batch.raw(i), &why)?;
            }
            tally.add(&at, &why, db);
            refused += 1;
            from = i + 1;
            if from == to {
                break;
            }
        }
        db::exec(
            self.tx,
            &format!("RELEASE SAVEPOINT {SAVEPOINT}"),
            "loading",
        )?;
        self.sizing.after(to, refused);
        Ok(Ok(()))
    }

    /// Rolls back to the batch's savepoint, which stays.
    fn rollback(&mut self) -> Result<(), Error> {
        db::exec(
            self.tx,
            &format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"),
            "loading",
        )
    }

    /// One COPY of records `from..to` of the batch (and of the header, if
    /// no statement sent it yet); the records the server skipped, in order.
    /// `None` when the server skipped rows whose notices did not reach
    /// fkload (a caller's connection, without fkload's notice callback):
    /// the statement is to be rolled back and sent again, the server no
    /// longer skipping rows.
    fn statement(&mut self, from: usize, to: usize) -> Result<Option<Vec<Skipped>>, CopyFailure> {
        let header = self.header.as_deref();
        let start = match (header, self.batch.held.get(from)) {
            (Some(_), _) | (None, None) => self.copy.part.start,
            (None, Some(h)) => h.at.start,
        };
        let server = |error| CopyFailure::Server { error, start };
        let sql = if self.server_skips {
            self.copy.statement_skipping(header.is_some())
        } else {
            self.copy.statement(header.is_some())
        };
        // The notices of this statement alone.
        let _ = db::take_notices();
        let mut writer = db::copy_in(self.tx, &sql).map_err(server)?;
        let body = self.batch.body(from, to);
        for bytes in header.into_iter().chain([body]) {
            writer
                .write_all(bytes)
                .map_err(|e| copy::server_io(e, start))?;
        }
        let rows = writer.finish().map_err(server)?;
        let sent = (to - from) as u64;
        let skipped = if self.server_skips {
            self.skipped(from, to)
        } else {
            Some(Vec::new())
        };
        match skipped {
            Some(skipped) if rows + skipped.len() as u64 == sent => {
                self.header = None;
                self.rows += rows;
                Ok(Some(skipped))
            }
            _ if self.server_skips && rows < sent => {
                self.server_skips = false;
                Ok(None)
            }
            _ => Err(CopyFailure::RowCount {
                file: sent,
                server: rows,
            }),
        }
    }

    /// The records of `from..to` the server skipped, from its notices
    /// (`skipping row due to data type incompatibility at line N for column
    /// "c": ...`); `None` when a notice cannot be placed.
    fn skipped(&self, from: usize, to: usize) -> Option<Vec<Skipped>> {
        let (notices, dropped) = db::take_notices();
        if dropped {
            return None;
        }
        let mut data = self.header.as_deref().unwrap_or_default().to_vec();
        data.extend_from_slice(self.batch.body(from, to));
        let mut said: Vec<(u64, String, String)> = notices
            .iter()
            .filter_map(|n| {
                let (line, column) = skip_notice(n.message())?;
                Some((line, column, n.message().to_string()))
            })
            .collect();
        said.sort_by_key(|(line, _, _)| *line);
        let lines: Vec<u64> = said.iter().map(|(line, _, _)| *line).collect();
        let found = self.step.file.records_holding(&data, &lines);
        let mut out = Vec::with_capacity(said.len());
        for ((_, column, notice), k) in said.into_iter().zip(found) {
            let k = usize::try_from(k?).ok()?;
            let i = from + k.checked_sub(usize::from(self.header.is_some()))?;
            (i < to).then_some(())?;
            out.push(Skipped { i, column, notice });
        }
        Some(out)
    }

    /// Counts and sets aside the records the server skipped, each with the
    /// server's own message for its value (`pg_input_error_info`, asked
    /// for all of them at once), or else its notice.
    fn set_aside_skipped(
        &mut self,
        skipped: &[Skipped],
        tally: &mut Tally,
        mut aside: Option<&mut SetAside<'_>>,
    ) -> Result<(), Error> {
        if skipped.is_empty() {
            return Ok(());
        }
        let during = "reading why the server refused a row";
        if self.types.is_none() {
            let rows = db::query(
                self.tx,
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_catalog.pg_attribute \
                 WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped",
                &[&self.step.table.oid],
                during,
            )?;
            self.types = Some(rows.iter().map(|r| (r.get(0), r.get(1))).collect());
        }
        let types = self.types.as_deref().unwrap_or_default();
        let mut values: Vec<Option<String>> = Vec::with_capacity(skipped.len());
        let mut names: Vec<Option<String>> = Vec::with_capacity(skipped.len());
        for s in skipped {
            let index = self.step.columns.iter().position(|c| *c == s.column);
            let value = index
                .and_then(|k| self.step.file.field_value(self.batch.sent(s.i), k))
                .flatten()
                .and_then(|v| String::from_utf8(v).ok());
            values.push(value);
            names.push(
                types
                    .iter()
                    .find(|(c, _)| *c == s.column)
                    .map(|(_, t)| t.clone()),
            );
        }
        let judged = db::query(
            self.tx,
            "SELECT e.message, e.sql_error_code FROM unnest($1::text[], $2::text[]) \
             WITH ORDINALITY AS u(v, t, n) \
             LEFT JOIN LATERAL pg_catalog.pg_input_error_info(u.v, u.t) AS e ON true ORDER BY u.n",
            &[&values, &names],
            during,
        )?;
        for (s, row) in skipped.iter().zip(judged) {
            let (message, code): (Option<String>, Option<String>) = (row.get(0), row.get(1));
            let db = DbErrorInfo {
                severity: "ERROR".into(),
                code: SqlState::from_code(code.as_deref().unwrap_or("22000")),
                message: message.unwrap_or_else(|| s.notice.clone()),
                column: Some(s.column.clone()),
                ..DbErrorInfo::default()
            };
            let why = format!(
                "{}{}",
                db.message,
                crate::error::notes::refused_where(Some(&s.column), None)
            );
            let at = self.batch.held[s.i].at;
            if let Some(aside) = aside.as_deref_mut() {
                aside.record(&at, self.batch.raw(s.i), &why)?;
            }
            tally.add(&at, &why, db);
        }
        Ok(())
    }

    /// The report of a row refused on its own in the statement of records
    /// `from..`, and which record of the batch it is; `None` when the
    /// failure is not a row's own, or is the header's.
    fn refused_row(&self, e: &postgres::Error, from: usize) -> Option<(DbErrorInfo, usize)> {
        let db = e
            .as_db_error()
            .map(DbErrorInfo::from_db)
            .filter(is_row_error)?;
        let line =
            crate::input::lines::context_line(db.context.as_deref()?, &self.step.table.name.name)?;
        let header = self.header.as_deref().unwrap_or_default();
        let mut data = header.to_vec();
        data.extend_from_slice(self.batch.body(from, self.batch.held.len()));
        let k = usize::try_from(self.step.file.record_holding(&data, line)?).ok()?;
        let k = k.checked_sub(usize::from(self.header.is_some()))?;
        let i = from + k;
        (i < self.batch.held.len()).then_some((db, i))
    }
}

/// The line and column of a notice of `COPY ... ON_ERROR ignore,
/// LOG_VERBOSITY verbose` for a row it skipped (PostgreSQL 17: `skipping row
/// due to data type incompatibility at line N for column "c": ...`).
fn skip_notice(message: &str) -> Option<(u64, String)> {
    let rest = message.strip_prefix("skipping row due to data type incompatibility at line ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let rest = rest[digits.len()..].strip_prefix(" for column \"")?;
    // The column's name ends at the last `": ` (a name may hold quotes).
    let end = rest.rfind("\": ").or_else(|| rest.rfind('"'))?;
    Some((digits.parse().ok()?, rest[..end].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_notices_give_the_line_and_the_column() {
        assert_eq!(
            skip_notice(
                "skipping row due to data type incompatibility at line 3 for column \"qty\": \"x\""
            ),
            Some((3, "qty".to_string()))
        );
        assert_eq!(
            skip_notice(
                "skipping row due to data type incompatibility at line 12 for column \"a b\": null input"
            ),
            Some((12, "a b".to_string()))
        );
        assert_eq!(
            skip_notice("1 row was skipped due to data type incompatibility"),
            None
        );
    }

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
        let wide = report(
            SqlState::BAD_COPY_FILE_FORMAT,
            "COPY t, line 17, column d: \"1,extra\"",
            None,
        );
        assert_eq!(column_of(&wide), None);
    }
}
