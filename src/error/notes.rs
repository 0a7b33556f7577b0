//! The words an error kind's data becomes: the pieces of primary messages
//! worked out from data (a count, a mode, the runs left unfinished), and
//! the DETAIL and HINT texts that take more than a sentence (lists, one
//! line per thing). Plain data in, text out: which kind says what is
//! `Error::detail` and `Error::hint`'s, where the lines go is the CLI's
//! (`src/cli/errors.rs`), and nothing here names a command-line flag.

use super::state::{Ignored, Pending};

/// `c` as a message names a delimiter: `';'`, `tab`.
fn delimiter_name(c: char) -> String {
    if c == '\t' {
        "tab".into()
    } else {
        format!("'{c}'")
    }
}

/// `c` as an option value is written: `';'`, `'\t'`.
fn delimiter_literal(c: char) -> String {
    if c == '\t' {
        "'\\t'".into()
    } else {
        format!("'{c}'")
    }
}

/// The entries of a directory that load nothing, one line each.
pub(super) fn ignored(ignored: &[Ignored]) -> Option<String> {
    lines(ignored.iter().map(|i| format!("{}: {}", i.rel, i.why)))
}

/// The sessions holding locks, under the sentence that says so.
pub(super) fn blockers(blockers: &[String]) -> Option<String> {
    (!blockers.is_empty()).then(|| {
        format!(
            "Sessions holding locks on the tables of the load:{}",
            blockers
                .iter()
                .map(|b| format!("\n  {b}"))
                .collect::<String>()
        )
    })
}

/// The hint for a one-column header that seems separated by `c`.
pub(super) fn other_delimiter(c: char) -> String {
    format!(
        "The header seems to be separated by {}, not by the delimiter fkload used: load with the delimiter {}, or set delimiter in fkload.toml.",
        delimiter_name(c),
        delimiter_literal(c)
    )
}

/// Lines joined, `None` when there are none.
pub(super) fn lines(items: impl Iterator<Item = String>) -> Option<String> {
    let all: Vec<String> = items.collect();
    (!all.is_empty()).then(|| all.join("\n"))
}

/// The primary message of [`ErrorKind::UnfinishedLoad`](super::ErrorKind::UnfinishedLoad).
pub(super) fn unfinished(runs: &[Pending]) -> String {
    let (which, whose) = match runs {
        [one] => (
            format!("an earlier parallel load (run {}) did not finish", one.run),
            "its load",
        ),
        _ => {
            let ids: Vec<&str> = runs.iter().map(|p| p.run.as_str()).collect();
            (
                format!(
                    "earlier parallel loads (runs {}) did not finish",
                    ids.join(", ")
                ),
                "their loads",
            )
        }
    };
    format!(
        "{which}: the database holds part of {whose}, so a check would not say what a load finds"
    )
}

/// What each unfinished run left, and where it is listed.
pub(super) fn unfinished_detail(runs: &[Pending]) -> String {
    let left = match runs {
        [one] => format!("{}.", capitalized(&one.describe())),
        _ => runs
            .iter()
            .map(|p| format!("Run {}: {}.", p.run, p.describe()))
            .collect::<Vec<_>>()
            .join(" "),
    };
    format!("{left} fkload.journal lists them, with the SQL that puts each key and index back.")
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The primary message of [`ErrorKind::Stopped`](super::ErrorKind::Stopped).
pub(super) fn stopped(
    run: Option<&str>,
    units_loaded: Option<usize>,
    units_total: usize,
    dropped: Option<usize>,
) -> String {
    let Some(run) = run else {
        return "the parallel load was stopped before it changed anything".to_string();
    };
    let counted = match (units_loaded, dropped) {
        (Some(loaded), Some(dropped)) => format!(
            ": it committed {loaded} of {units_total} files or parts and left {dropped} keys or indexes dropped"
        ),
        _ => String::new(),
    };
    format!("the parallel load (run {run}) was stopped{counted}")
}

/// The mode [`ErrorKind::CitusUnsupported`](super::ErrorKind::CitusUnsupported) refuses, in the library's terms.
pub(super) fn citus_mode(jobs: usize, resume: bool) -> String {
    if resume {
        "resuming a parallel load".to_string()
    } else {
        format!("a parallel load over {jobs} connections")
    }
}

/// The primary message of [`ErrorKind::NotRestored`](super::ErrorKind::NotRestored).
pub(super) fn not_restored(count: usize) -> String {
    if count == 1 {
        "1 key or index is not back as it was".to_string()
    } else {
        format!("{count} keys or indexes are not back as they were")
    }
}

/// ` during <what fkload was doing>`, or nothing.
pub(super) fn during(during: &str) -> String {
    if during.is_empty() {
        String::new()
    } else {
        format!(" during {during}")
    }
}

/// What a refusal of rows is about, after its message: ` (column qty)`,
/// ` (constraint "t_qty_check")`, or nothing.
pub(crate) fn refused_where(column: Option<&str>, constraint: Option<&str>) -> String {
    match (column, constraint) {
        (Some(c), _) => format!(" (column {c})"),
        (None, Some(c)) => format!(" (constraint \"{c}\")"),
        (None, None) => String::new(),
    }
}

/// The rows a refusal lists, as a DETAIL: the count, then each row at its
/// file and line with the server's message, and how many more there are.
pub(crate) fn refused(path: &std::path::Path, rows: u64, examples: &[(u64, String)]) -> String {
    let mut out = format!(
        "{} refused for this reason.",
        crate::error::found::plural(rows, "row", "rows")
    );
    for (line, message) in examples {
        out.push_str(&format!("\n{}:{line}: {message}", path.display()));
    }
    let more = rows.saturating_sub(examples.len() as u64);
    if more > 0 {
        out.push_str(&format!(
            "\n... and {more} more {}",
            if more == 1 { "row" } else { "rows" }
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Error, ErrorKind, Ignored, Unrestored};

    fn texts(e: &Error) -> String {
        format!(
            "{e}\n{}\n{}",
            e.detail().unwrap_or_default(),
            e.hint().unwrap_or_default()
        )
    }

    /// The library once said `--truncate would have to empty ...`, `give
    /// --cascade`, `-j 2 cannot work on Citus tables`, `load with
    /// --delimiter ';'` and `say which (--encoding)`: it says what happened
    /// in its own terms now, and the command adds its flags.
    #[test]
    fn no_message_detail_or_hint_names_a_flag() {
        let kinds = [
            ErrorKind::TruncateReferenced {
                tables: vec!["public.review (3 rows; references public.product)".into()],
            },
            ErrorKind::CitusUnsupported {
                jobs: 2,
                resume: false,
                tables: vec!["public.orders (reference)".into()],
                why: "why".into(),
            },
            ErrorKind::CitusUnsupported {
                jobs: 2,
                resume: true,
                tables: vec!["public.orders (reference)".into()],
                why: "why".into(),
            },
            ErrorKind::UnknownColumn {
                path: "data/p.csv".into(),
                table: "public.p".into(),
                column: "id;name".into(),
                source_of_names: "the header row".into(),
                available: vec!["id".into(), "name".into()],
                seems_delimited_by: Some(';'),
            },
            ErrorKind::HeaderNotUtf8 {
                path: "data/p.csv".into(),
                column: 3,
            },
            ErrorKind::NothingToResume,
            ErrorKind::TruncateInParallel,
        ];
        for kind in kinds {
            let text = texts(&Error::new(kind));
            assert!(!text.contains("--") && !text.contains("-j "), "{text}");
        }
    }

    /// A kind that lists several things keeps them as data; the detail has
    /// one line per thing, and the message none of them.
    #[test]
    fn lists_are_detail_lines() {
        let e = Error::new(ErrorKind::NoDataFiles {
            dir: "data".into(),
            ignored: vec![
                Ignored {
                    rel: "a.txt".into(),
                    why: "not a data file".into(),
                },
                Ignored {
                    rel: "b".into(),
                    why: "a directory".into(),
                },
            ],
        });
        assert!(!e.to_string().contains('\n'));
        assert_eq!(
            e.detail().as_deref(),
            Some("a.txt: not a data file\nb: a directory")
        );
        let e = Error::new(ErrorKind::Blocked {
            error: Box::new(Error::new(ErrorKind::LoadRunning)),
            blockers: vec!["pid 1 (a)".into(), "pid 2 (b)".into()],
        });
        assert_eq!(e.to_string(), ErrorKind::LoadRunning.to_string());
        assert_eq!(
            e.detail().as_deref(),
            Some("Sessions holding locks on the tables of the load:\n  pid 1 (a)\n  pid 2 (b)")
        );
        let e = Error::new(ErrorKind::NotRestored {
            journal: Some("17-1".into()),
            problems: vec![
                Unrestored::compared(
                    true,
                    "a",
                    "t",
                    Some("FOREIGN KEY (p) REFERENCES p(id)"),
                    None,
                ),
                Unrestored::compared(false, "b", "t", None, None),
            ],
        });
        assert_eq!(e.to_string(), "2 keys or indexes are not back as they were");
        assert_eq!(
            e.detail().as_deref(),
            Some("key \"a\" on t is missing\nindex \"b\" on t is missing")
        );
        assert_eq!(
            e.hint().as_deref(),
            Some(
                "fkload.journal (run 17-1) is kept: it holds the statements that restore each one."
            )
        );
    }

    /// The settings' and the dialect's errors are sources (once flattened
    /// into a message), and their detail and hint are the error's.
    #[test]
    fn typed_errors_are_sources_with_their_detail_and_hint() {
        use std::error::Error as _;
        let e = Error::new(ErrorKind::Dialect {
            path: "data/p.csv".into(),
            from: "the encoding".into(),
            source: crate::error::dialect::DialectError::UnknownEncoding("klingon".into()),
        });
        assert_eq!(
            e.to_string(),
            "data/p.csv: \"klingon\" is not an encoding PostgreSQL knows (the encoding)"
        );
        assert!(
            e.source()
                .is_some_and(|s| s.is::<crate::error::dialect::DialectError>())
        );
        let e = Error::from(crate::error::settings::ConnInfoError::NoRootFile {
            path: "/r.crt".into(),
        });
        assert_eq!(
            e.to_string(),
            "invalid connection settings: root certificate file \"/r.crt\" does not exist"
        );
        assert!(
            e.hint()
                .is_some_and(|h| h.starts_with("Either provide the file"))
        );
        assert!(
            e.source()
                .is_some_and(|s| s.is::<crate::error::settings::ConnInfoError>())
        );
        let e = Error::from(crate::error::settings::ConnInfoError::ServiceNotFound {
            service: "s".into(),
            searched: vec!["/a".into()],
        });
        assert_eq!(e.detail().as_deref(), Some("Searched \"/a\"."));
        assert!(
            e.source()
                .is_some_and(|s| s.is::<crate::error::settings::ConnInfoError>())
        );
    }
}
