//! What a load did: rows and bytes per table, keys deferred and restored,
//! sequences advanced, and the time it took. The CLI prints it as the summary.

use std::fmt::{self, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use crate::plan::KeyAction;
use crate::sql::QualName;

/// The outcome of a successful load.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// One entry per file, in load order.
    pub tables: Vec<TableReport>,
    /// Keys deferred for the load (all checked before commit).
    pub keys_deferred: usize,
    /// Keys dropped and added back exactly as they were.
    pub keys_restored: usize,
    /// Keys set `NOT ENFORCED` for the load and enforced again (PostgreSQL 18).
    pub keys_enforced: usize,
    /// Sequences moved forward past the loaded values, with their new value.
    pub sequences: Vec<(QualName, i64)>,
    /// Things the user should know that did not stop the load.
    pub warnings: Vec<String>,
    /// The reject files `--on-orphan` and `--on-error skip` wrote.
    pub rejects: Vec<PathBuf>,
    /// The rows `--on-error skip` set aside, one entry per file and reason
    /// ([`crate::ErrorKind::Refused`]: the count, the first rows at their
    /// lines, the server's message), in load order.
    pub refused: Vec<crate::Error>,
    pub elapsed: Duration,
}

/// One file's load.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TableReport {
    pub table: QualName,
    pub path: PathBuf,
    pub rows: u64,
    /// The file's size (compressed, where it is).
    pub bytes: u64,
    /// Bytes of CSV text sent: `bytes`, unless the file is compressed.
    pub text_bytes: u64,
    pub elapsed: Duration,
    /// Rows `--on-orphan` left out.
    pub skipped: u64,
    /// Rows `--on-orphan null` loaded with their key set to NULL.
    pub nulled: u64,
    /// Rows `--on-error skip` set aside: the server refused them.
    pub refused: u64,
}

impl Report {
    /// Bytes as the summary writes them (`512 B`, `3.2 kB`, `1.5 MB`,
    /// `2.0 GB`: decimal units, one decimal), for a program that prints
    /// sizes beside fkload's.
    #[must_use]
    pub fn human_bytes(bytes: u64) -> String {
        human_bytes(bytes)
    }

    /// Counts a key put back after the data, by how it had been set aside.
    pub(crate) fn count_restored(&mut self, action: KeyAction) {
        match action {
            KeyAction::Unenforce => self.keys_enforced += 1,
            _ => self.keys_restored += 1,
        }
    }

    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }

    /// Bytes of CSV text sent: [`Report::bytes`] unless files were compressed.
    pub fn text_bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.text_bytes).sum()
    }

    /// Rows `--on-orphan` left out.
    pub fn skipped(&self) -> u64 {
        self.tables.iter().map(|t| t.skipped).sum()
    }

    /// Rows `--on-orphan null` loaded with their key set to NULL.
    pub fn nulled(&self) -> u64 {
        self.tables.iter().map(|t| t.nulled).sum()
    }

    /// Rows `--on-error skip` set aside: the server refused them.
    pub fn refused_rows(&self) -> u64 {
        self.tables.iter().map(|t| t.refused).sum()
    }
}

/// Bytes as the summary writes them: `512 B`, `3.2 kB`, `1.5 MB`, `2.0 GB`.
pub(crate) fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if b < 1000 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1000.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.1} {unit}")
}

impl fmt::Display for Report {
    /// The summary: a line per table, then totals with throughput.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.write_tables(&mut out);
        self.write_totals(&mut out);
        if self.skipped() + self.nulled() > 0 {
            self.write_set_aside(&mut out);
        }
        if self.refused_rows() > 0 {
            self.write_refused(&mut out);
        }
        f.write_str(&out)
    }
}

/// The parts of the summary.
impl Report {
    /// The columns of --on-orphan are shown only when it set a row aside.
    fn set_aside_any(&self) -> bool {
        self.skipped() + self.nulled() + self.refused_rows() > 0
    }

    /// The text a file held is shown only when one was compressed.
    fn compressed_any(&self) -> bool {
        self.tables.iter().any(|t| {
            crate::input::file::Compression::of(&t.path) != crate::input::file::Compression::None
        })
    }

    /// The header, then a line per table.
    fn write_tables(&self, out: &mut String) {
        let names: Vec<String> = self.tables.iter().map(|t| t.table.human()).collect();
        let w = names
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        let policy = self.set_aside_any();
        let compressed = self.compressed_any();
        let _ = write!(out, "{:<w$}  {:>12}  {:>10}", "table", "rows", "bytes");
        if compressed {
            let _ = write!(out, "  {:>10}", "text");
        }
        let _ = write!(out, "  {:>8}", "time");
        let _ = if policy {
            writeln!(out, "  {:>8}  {:>8}  {:>8}", "skipped", "nulled", "refused")
        } else {
            writeln!(out)
        };
        for (t, name) in self.tables.iter().zip(&names) {
            let _ = write!(
                out,
                "{:<w$}  {:>12}  {:>10}",
                name,
                t.rows,
                human_bytes(t.bytes)
            );
            if compressed {
                let _ = write!(out, "  {:>10}", human_bytes(t.text_bytes));
            }
            let _ = write!(out, "  {:>7.2}s", t.elapsed.as_secs_f64());
            let _ = if policy {
                writeln!(out, "  {:>8}  {:>8}  {:>8}", t.skipped, t.nulled, t.refused)
            } else {
                writeln!(out)
            };
        }
    }

    /// The totals line: rows, sizes, time and rate, then the keys and
    /// sequences the load dealt with.
    fn write_totals(&self, out: &mut String) {
        let secs = self.elapsed.as_secs_f64();
        // The rate is of CSV text, whatever the files were stored as.
        let rate = if secs > 0.0 {
            format!(
                "{}/s",
                human_bytes((self.text_bytes() as f64 / secs) as u64)
            )
        } else {
            "-".into()
        };
        let size = if self.compressed_any() {
            format!(
                "{}, {} of text",
                human_bytes(self.bytes()),
                human_bytes(self.text_bytes())
            )
        } else {
            human_bytes(self.bytes())
        };
        let _ = write!(
            out,
            "loaded {} rows ({size}) into {} tables in {:.2}s, {rate}",
            self.rows(),
            self.tables.len(),
            secs
        );
        if self.keys_deferred + self.keys_restored + self.keys_enforced > 0 {
            let _ = write!(
                out,
                "; {} keys deferred, {} keys dropped and restored",
                self.keys_deferred, self.keys_restored
            );
            if self.keys_enforced > 0 {
                let _ = write!(
                    out,
                    ", {} keys set NOT ENFORCED and enforced again",
                    self.keys_enforced
                );
            }
        }
        if !self.sequences.is_empty() {
            let _ = write!(out, "; {} sequences advanced", self.sequences.len());
        }
    }

    /// The rows --on-error skip set aside: a line per file and reason.
    fn write_refused(&self, out: &mut String) {
        let _ = write!(
            out,
            "\nset aside {} rows the server refused (--on-error skip), by file and reason:",
            self.refused_rows()
        );
        for e in &self.refused {
            if let crate::ErrorKind::Refused { rows, examples, .. } = e.kind() {
                let first = examples
                    .first()
                    .map(|(line, _)| format!(", the first on line {line}"))
                    .unwrap_or_default();
                let _ = write!(
                    out,
                    "\n  {e} ({}{first})",
                    crate::error::found::plural(*rows, "row", "rows")
                );
            }
        }
    }

    /// The line of the rows --on-orphan set aside, and its reject files.
    fn write_set_aside(&self, out: &mut String) {
        let files: Vec<String> = self
            .rejects
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        let _ = write!(
            out,
            "\nset aside {} rows with no parent ({} skipped, {} loaded with their key set to NULL): {}",
            self.skipped() + self.nulled(),
            self.skipped(),
            self.nulled(),
            files.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_like_a_person_writes_them() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500), "1.5 kB");
        assert_eq!(human_bytes(2_000_000), "2.0 MB");
        assert_eq!(human_bytes(1_000_000_000), "1.0 GB");
    }
}
