//! The rows found keeping data from loading: orphan rows of a foreign key,
//! rows sharing a unique key, and what could not be checked. Every list is
//! bounded (the first N examples, N = the loader's `max_examples`); the
//! counts are exact. Each says its message (`Display`) and its rows as a
//! DETAIL (`detail()`); laying them out is the CLI's.

use std::fmt;
use std::path::PathBuf;

/// One row of a file: where it starts and the key it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Orphan {
    pub path: PathBuf,
    /// The physical line the row starts on (1 = the header line).
    pub line: u64,
    /// `(col, col)=(value, value)` as the server's DETAIL writes keys.
    pub key: String,
}

/// The orphan rows of one foreign key: child rows whose key has no parent
/// row, neither in the files nor in the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyViolation {
    /// The constraint's name.
    pub constraint: String,
    /// Child table, qualified and quoted as SQL would write it.
    pub child: String,
    /// Parent table, qualified and quoted.
    pub parent: String,
    /// How many rows of the files are orphans.
    pub rows: u64,
    /// The first of them, in file order.
    pub examples: Vec<Orphan>,
    /// How many distinct parent keys are missing (per file, summed over the
    /// files the key checks).
    pub missing_keys: u64,
    /// The first missing parent keys, in the order the files first name them.
    pub missing_examples: Vec<String>,
    /// Why the rows could not be listed, when they could not (the key is
    /// still violated).
    pub search_failed: Option<String>,
    /// The rows were not searched for yet: the check after the rollback
    /// lists them.
    pub(crate) not_searched: bool,
}

impl KeyViolation {
    /// Key `constraint` of `child`, violated, its rows left for the check
    /// after the rollback to list.
    pub(crate) fn not_searched(constraint: &str, child: String, parent: String) -> KeyViolation {
        KeyViolation {
            constraint: constraint.to_string(),
            child,
            parent,
            search_failed: Some("not searched: the check after the rollback lists them".into()),
            not_searched: true,
            ..KeyViolation::default()
        }
    }
}

/// The rows of one unique index that share a key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DuplicateViolation {
    /// The constraint's (or the index's) name.
    pub index: String,
    /// The table, qualified.
    pub table: String,
    /// How many rows hold a key that another row holds too.
    pub rows: u64,
    /// How many keys are held more than once.
    pub keys: u64,
    /// The first duplicated keys, each with the rows that hold it (at most
    /// `max_examples` rows per key), in file order.
    pub examples: Vec<(String, Vec<Orphan>)>,
    /// Why the rows could not be listed, when they could not.
    pub search_failed: Option<String>,
}

/// A file that could not be checked, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unchecked {
    /// The key (or check) that could not be made.
    pub what: String,
    /// Why: the file whose rows it needs failed to load.
    pub because: String,
}

pub(crate) fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for KeyViolation {
    /// The message, as the server words it (`insert or update on table ...
    /// violates foreign key constraint ...`); [`KeyViolation::detail`] has
    /// the rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "insert or update on table {} violates foreign key constraint \"{}\"",
            self.child, self.constraint
        )
    }
}

impl KeyViolation {
    /// The orphan rows, as a DETAIL: the counts in a sentence, then each
    /// example at its file and line, how many more there are, and the
    /// missing parent keys. `None` when they could not be listed
    /// ([`KeyViolation::search_failed`] says why).
    pub fn detail(&self) -> Option<String> {
        if self.search_failed.is_some() {
            return None;
        }
        let mut out = format!(
            "{} of {} {} no parent row in {}; {} {} missing.",
            plural(self.rows, "row", "rows"),
            self.child,
            if self.rows == 1 { "has" } else { "have" },
            self.parent,
            plural(self.missing_keys, "key", "distinct keys"),
            if self.missing_keys == 1 { "is" } else { "are" },
        );
        for o in &self.examples {
            out.push_str(&format!(
                "\n{}:{}: key {} is not present in table {}",
                o.path.display(),
                o.line,
                o.key,
                self.parent
            ));
        }
        let more = self.rows.saturating_sub(self.examples.len() as u64);
        if more > 0 {
            out.push_str(&format!(
                "\n... and {more} more {}",
                if more == 1 { "row" } else { "rows" }
            ));
        }
        if !self.missing_examples.is_empty() {
            let shown = self.missing_examples.len() as u64;
            out.push_str(&format!(
                "\nmissing from {}: {}",
                self.parent,
                self.missing_examples.join(", ")
            ));
            if self.missing_keys > shown {
                out.push_str(&format!(" ... and {} more", self.missing_keys - shown));
            }
        }
        Some(out)
    }
}

impl fmt::Display for DuplicateViolation {
    /// The message, as the server words it; [`DuplicateViolation::detail`]
    /// has the rows.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "duplicate key value violates unique constraint \"{}\"",
            self.index
        )
    }
}

impl DuplicateViolation {
    /// The rows sharing a key, as a DETAIL: the counts in a sentence, then
    /// each row at its file and line, and how many more keys there are.
    /// `None` when they could not be listed
    /// ([`DuplicateViolation::search_failed`] says why).
    pub fn detail(&self) -> Option<String> {
        if self.search_failed.is_some() {
            return None;
        }
        let mut out = format!(
            "{} of {} share {}.",
            plural(self.rows, "row", "rows"),
            self.table,
            plural(self.keys, "key", "keys"),
        );
        for (key, rows) in &self.examples {
            for r in rows {
                out.push_str(&format!(
                    "\n{}:{}: key {key} is duplicated",
                    r.path.display(),
                    r.line
                ));
            }
        }
        let more = self.keys.saturating_sub(self.examples.len() as u64);
        if more > 0 {
            out.push_str(&format!(
                "\n... and {more} more {}",
                if more == 1 { "key" } else { "keys" }
            ));
        }
        Some(out)
    }
}

impl fmt::Display for Unchecked {
    /// `not checked: key "c_p_fkey" of public.c: p.csv did not load`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not checked: {}: {}", self.what, self.because)
    }
}
