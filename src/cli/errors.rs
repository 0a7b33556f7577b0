//! How the command shows an error: the one place that lays an [`Error`] out,
//! in psql's layout. The library gives the data (the primary message as the
//! error's `Display`, [`Error::detail`], [`Error::hint`], the server's report,
//! the rows found); this module puts them on lines (`DETAIL:  `, `HINT:  `,
//! `CONTEXT:  `), words what the library leaves to the command (its flags:
//! `--truncate`, `-j`, `--delimiter`), and adds the command's own advice.
//!
//! The same layout, without `fkload: ` and without the advice, is the JSON
//! report's `"message"` ([`layout`]).

use std::fmt::Display;

use fkload::error::{DbErrorInfo, DuplicateViolation, KeyViolation, Problems};
use fkload::{Error, ErrorKind};

/// An error as the command prints it: `fkload: ` before its layout, then
/// the command's advice as a HINT. A load that checked its data after a
/// failed key lists every problem as `fkload check` does, then says it was
/// rolled back.
pub(crate) fn printed(e: &Error) -> String {
    if let Some(p) = e.problems() {
        let blocks: Vec<String> = blocks(p).iter().map(|b| format!("fkload: {b}")).collect();
        let hint = advice(e)
            .map(|h| format!("\nHINT:  {h}"))
            .unwrap_or_default();
        return format!(
            "{}\nfkload: the load was rolled back: {}{hint}",
            blocks.join("\n\n"),
            p.summary()
        );
    }
    match advice(e) {
        Some(h) => format!("fkload: {}\nHINT:  {h}", layout(e)),
        None => format!("fkload: {}", layout(e)),
    }
}

/// Every problem of a check as a block of its own: the rejected files, the
/// violated keys, the duplicated keys, what could not be checked.
pub(crate) fn blocks(p: &Problems) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    blocks.extend(p.errors.iter().map(layout));
    blocks.extend(
        p.keys
            .iter()
            .map(|v| format!("ERROR:  {v}{}", key_rows(v, "DETAIL:  "))),
    );
    blocks.extend(
        p.duplicates
            .iter()
            .map(|d| format!("ERROR:  {d}{}", duplicate_rows(d, "DETAIL:  "))),
    );
    blocks.extend(p.bad_rows.iter().map(layout));
    blocks.extend(p.unchecked.iter().map(ToString::to_string));
    blocks
}

/// An error in psql's layout: the primary line (a server's report as
/// `ERROR:  message`, after the file and line it is about), then its
/// DETAIL, HINT and CONTEXT; an error around another (a lock wait, a failed
/// undo) lays the other out first.
pub(crate) fn layout(e: &Error) -> String {
    match e.kind() {
        ErrorKind::Problems(p) => format!("{}\n\n{}", blocks(p).join("\n\n"), p.summary()),
        ErrorKind::Sql { during, db } => server(e, db)
            .field("CONTEXT", Some(format!("fkload: {during}")))
            .0,
        ErrorKind::Copy { db, .. } => server(e, db).0,
        ErrorKind::ForeignKey { db, violation } => server(e, db).0 + &key_rows(violation, ""),
        ErrorKind::Duplicate { db, violation } => {
            server(e, db).0 + &duplicate_rows(violation, "")
        }
        ErrorKind::Blocked { error, .. } => Psql(layout(error)).field("DETAIL", e.detail()).0,
        ErrorKind::Cleanup { error, cleanup } => Psql(layout(error))
            .line(format!(
                "fkload: putting the database back after that failed too: {}",
                layout(cleanup)
            ))
            .field("DETAIL", e.detail())
            .0,
        // One DETAIL line per entry of the directory.
        ErrorKind::NoDataFiles { ignored, .. } | ErrorKind::NothingSelected { ignored, .. } => {
            ignored
                .iter()
                .fold(Psql::new(e), |out, i| {
                    out.field("DETAIL", Some(format!("{}: {}", i.rel, i.why)))
                })
                .0
        }
        ErrorKind::TruncateReferenced { tables } => Psql::new(
            "--truncate would have to empty tables outside the load, which reference the loaded ones and hold rows:",
        )
        .line(tables.iter().map(|t| format!("  {t}")).collect::<Vec<_>>().join("\n"))
        .field(
            "HINT",
            Some("Load those tables too (a file each), or give --cascade to empty them as well."),
        )
        .0,
        ErrorKind::CitusUnsupported {
            jobs,
            resume,
            tables,
            why,
        } => {
            let what = if *resume {
                "--resume".to_string()
            } else {
                format!("-j {jobs}")
            };
            format!(
                "{what} cannot work on Citus tables ({}): {why}",
                tables.join(", ")
            )
        }
        ErrorKind::HeaderNotUtf8 { .. } => {
            format!("{e}: if the file is in another encoding, say which (--encoding)")
        }
        ErrorKind::UnknownColumn {
            seems_delimited_by: Some(c),
            ..
        } => Psql::new(e)
            .field("DETAIL", e.detail())
            .field("HINT", Some(other_delimiter(*c)))
            .0,
        _ => Psql::new(e)
            .field("DETAIL", e.detail())
            .field("HINT", e.hint())
            .0,
    }
}

/// psql's lines, written one after the other.
struct Psql(String);

impl Psql {
    fn new(primary: impl Display) -> Psql {
        Psql(primary.to_string())
    }

    /// `LABEL:  text` on a line of its own, when there is a text (its own
    /// lines follow unlabelled, as psql prints them).
    fn field(self, label: &str, text: Option<impl Display>) -> Psql {
        match text {
            Some(t) => self.line(format!("{label}:  {t}")),
            None => self,
        }
    }

    fn line(mut self, text: impl Display) -> Psql {
        self.0.push_str(&format!("\n{text}"));
        self
    }
}

/// A server's report under `e`'s primary line: its DETAIL, HINT and
/// CONTEXT.
fn server(e: &Error, db: &DbErrorInfo) -> Psql {
    Psql::new(e)
        .field("DETAIL", db.detail.as_deref())
        .field("HINT", db.hint.as_deref())
        .field("CONTEXT", db.context.as_deref())
}

/// The orphan rows of a key on the lines after its message, `lead` before
/// the first (`DETAIL:  `, or nothing under a server report that has its
/// own), or why they could not be listed.
fn key_rows(v: &KeyViolation, lead: &str) -> String {
    match (&v.search_failed, v.detail()) {
        (Some(why), _) => format!("\nfkload: could not list the orphan rows: {why}"),
        (None, Some(rows)) => format!("\n{lead}{rows}"),
        (None, None) => String::new(),
    }
}

/// The rows sharing a key, as [`key_rows`] writes orphans.
fn duplicate_rows(d: &DuplicateViolation, lead: &str) -> String {
    match (&d.search_failed, d.detail()) {
        (Some(why), _) => format!("\nfkload: could not list the duplicate rows: {why}"),
        (None, Some(rows)) => format!("\n{lead}{rows}"),
        (None, None) => String::new(),
    }
}

/// The hint for a header that seems separated by `c`, in the command's
/// options.
fn other_delimiter(c: char) -> String {
    let (name, option) = match c {
        '\t' => ("tab".to_string(), "'\\t'".to_string()),
        c => (format!("'{c}'"), format!("'{c}'")),
    };
    format!(
        "The header seems to be separated by {name}, not by the delimiter fkload used: load with --delimiter {option}, or set delimiter in fkload.toml."
    )
}

/// What to do about orphan rows a load found.
const ORPHAN_HINT: &str = "Load the missing parent rows, or load with --on-orphan skip (or null) to set these rows aside; fkload check lists the problems without loading.";

/// What a user of the command line can do about an error, in its flags.
fn advice(e: &Error) -> Option<String> {
    if let ErrorKind::Copy {
        held: Some((table, rows)),
        ..
    } = e.kind()
    {
        let them = if *rows == 1 { "it" } else { "them" };
        return Some(format!(
            "{table} held {rows} {} before this load: if the file repeats {them}, load with --truncate to replace {them} (it empties the table first, in the same transaction).",
            if *rows == 1 { "row" } else { "rows" },
        ));
    }
    if e.problems().is_some_and(|p| !p.keys.is_empty()) {
        return Some(ORPHAN_HINT.into());
    }
    Some(String::from(match e.kind() {
        ErrorKind::Interrupted { .. } => {
            "Rerun with --resume to load the rest and put everything back, or run fkload repair to undo it."
        }
        ErrorKind::NothingToResume => "Load without --resume.",
        ErrorKind::UnfinishedLoad { .. } => {
            "Run fkload repair to undo it (a load without --resume does that first), or fkload -j N --resume DIR with its directory to finish it; then check again."
        }
        ErrorKind::Duplicate { .. } => "Keep one row per key.",
        ErrorKind::Cleanup { .. } => {
            "Run fkload repair to undo the load, or fix the cause and rerun with --resume to finish it."
        }
        ErrorKind::Blocked { blockers, .. } if !blockers.is_empty() => {
            "End those transactions, or give fkload more time (--lock-timeout)."
        }
        ErrorKind::TruncateInParallel => {
            "--truncate cannot go with -j: load in one transaction, or empty the tables first yourself."
        }
        ErrorKind::CitusUnsupported { .. } => {
            "Load in one transaction (without -j): it is atomic on Citus, and fkload repair or --resume are not needed."
        }
        ErrorKind::UndoMismatch { .. } => {
            "Rows of the run were changed or deleted since it loaded them, or rows that are not the run's carry its transaction id (on Citus, none do): see what the table holds, then run fkload repair --force to take out the rows that still carry it."
        }
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    //! What the command words itself: the kinds whose library text names
    //! no flag, in the command's flags; the layout of the detail and hint
    //! the library gives as data (insta snapshot in `src/cli/snapshots/`).

    use super::*;

    #[test]
    fn the_command_words_its_flags_and_lays_out_the_data() {
        let cases: Vec<(&str, Error)> = vec![
            (
                "truncate_referenced",
                ErrorKind::TruncateReferenced {
                    tables: vec![
                        "public.review (3 rows; references public.product)".into(),
                        "public.tag (1 row; references public.product)".into(),
                    ],
                }
                .into(),
            ),
            (
                "citus_jobs",
                ErrorKind::CitusUnsupported {
                    jobs: 2,
                    resume: false,
                    tables: vec![
                        "public.customer (reference)".into(),
                        "public.orders (distributed by id, colocation 2)".into(),
                    ],
                    why: "a parallel load commits table by table".into(),
                }
                .into(),
            ),
            (
                "citus_resume",
                ErrorKind::CitusUnsupported {
                    jobs: 2,
                    resume: true,
                    tables: vec!["public.customer (reference)".into()],
                    why: "a parallel load commits table by table".into(),
                }
                .into(),
            ),
            (
                "unknown_column_tab",
                ErrorKind::UnknownColumn {
                    path: "data/person.csv".into(),
                    table: "public.person".into(),
                    column: "id\tname".into(),
                    source_of_names: "the header row".into(),
                    available: vec!["id".into(), "name".into()],
                    seems_delimited_by: Some('\t'),
                }
                .into(),
            ),
            (
                "header_not_utf8",
                ErrorKind::HeaderNotUtf8 {
                    path: "data/person.csv".into(),
                    column: 3,
                }
                .into(),
            ),
            (
                "end_marker",
                ErrorKind::EndMarker {
                    path: "data/t.csv".into(),
                    line: 3,
                }
                .into(),
            ),
            (
                "service_not_found",
                fkload::conninfo::ConnInfoError::ServiceNotFound {
                    service: "prod".into(),
                    searched: vec!["/home/app/.pg_service.conf".into()],
                }
                .into(),
            ),
            (
                "no_root_file",
                fkload::conninfo::ConnInfoError::NoRootFile {
                    path: "/home/app/.postgresql/root.crt".into(),
                }
                .into(),
            ),
            (
                "no_binaries",
                ErrorKind::Throwaway(fkload::error::ServerError::NoBinaries).into(),
            ),
        ];
        let mut all = String::new();
        for (name, e) in &cases {
            all.push_str(&format!(
                "== {name} (exit {})\n{}\n-- the report's message:\n{}\n",
                super::super::exit::for_error(e),
                printed(e),
                layout(e)
            ));
        }
        insta::assert_snapshot!(all);
    }
}
