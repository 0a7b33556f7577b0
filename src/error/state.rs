//! What a load found left or set aside: the unfinished runs of a journal,
//! the keys and indexes not back as they were, the entries of a data directory that load nothing. Plain data,
//! read by the error kinds, the plan and the reports.

use crate::sql::QualName;

/// A parallel load that did not finish, as a command that only reads
/// reports it (see [`crate::Loader::interrupted`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The run's id in the journal.
    pub run: String,
    /// The files it committed, with their tables, in the order it loaded
    /// them: their rows are in the database.
    pub(crate) loaded: Vec<PendingTable>,
    /// The keys and indexes it set aside and did not put back.
    pub(crate) dropped: Vec<PendingObject>,
}

/// A file an unfinished run committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingTable {
    pub table: QualName,
    /// The file (or part of one) as the journal names it.
    pub file: String,
}

/// A key or index an unfinished run set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingObject {
    pub what: SetAside,
    /// The table it is on.
    pub table: QualName,
    pub name: String,
}

/// How an unfinished run set a key or index aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum SetAside {
    /// A key, dropped: it is not in the catalog now.
    Key,
    /// A key set `NOT ENFORCED` (PostgreSQL 18): it checks no row now.
    Unenforced,
    /// An index, dropped.
    Index,
}

impl PendingObject {
    /// `key "c_p_fkey" on public.c dropped`, for messages.
    pub fn describe(&self) -> String {
        let (kind, how) = match self.what {
            SetAside::Key => ("key", "dropped"),
            SetAside::Unenforced => ("key", "NOT ENFORCED"),
            SetAside::Index => ("index", "dropped"),
        };
        format!("{kind} \"{}\" on {} {how}", self.name, self.table.human())
    }
}

impl Pending {
    /// What the run left, in one sentence for messages: `it committed rows
    /// into public.p (p.csv) and left key "c_p_fkey" on public.c dropped`.
    pub fn describe(&self) -> String {
        let loaded = if self.loaded.is_empty() {
            "committed no rows".to_string()
        } else {
            let files: Vec<String> = self
                .loaded
                .iter()
                .map(|t| format!("{} ({})", t.table.human(), t.file))
                .collect();
            format!("committed rows into {}", files.join(", "))
        };
        let dropped = if self.dropped.is_empty() {
            "left no key or index set aside".to_string()
        } else {
            let objects: Vec<String> = self.dropped.iter().map(PendingObject::describe).collect();
            format!("left {}", objects.join(", "))
        };
        format!("it {loaded} and {dropped}")
    }
}

/// A file of the data directory that fkload does not load, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Ignored {
    /// The name relative to the data directory.
    pub rel: String,
    pub why: String,
}

/// A key or index a load (or a repair) put back that is not as it was: one
/// item of [`ErrorKind::NotRestored`](crate::ErrorKind::NotRestored). Each
/// variant names the object (`key`: a key, else an index; its `name`; the
/// `table` it is on, as SQL names it, as the journal holds it) and says how
/// it is. `Display`: `key "c_p_fkey" on "public"."c" is missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unrestored {
    /// The journal says it was never put back: it is still in this `state`
    /// (`dropped`).
    Still {
        key: bool,
        name: String,
        table: String,
        state: String,
    },
    /// It is not in the catalog.
    Missing {
        key: bool,
        name: String,
        table: String,
    },
    /// It was not there before, and is now: as the catalog describes it.
    Appeared {
        key: bool,
        name: String,
        table: String,
        is: String,
    },
    /// It differs from what it was: both as the catalog describes them.
    Differs {
        key: bool,
        name: String,
        table: String,
        was: String,
        is: String,
    },
}

impl Unrestored {
    /// The object (key or index `name` on `table`), from how the catalog
    /// described it before (`was`) and describes it now (`is`): missing,
    /// new, or different (call it only when they differ).
    pub(crate) fn compared(
        key: bool,
        name: &str,
        table: &str,
        was: Option<&str>,
        is: Option<&str>,
    ) -> Unrestored {
        let (name, table) = (name.to_string(), table.to_string());
        match (was, is) {
            (_, None) => Unrestored::Missing { key, name, table },
            (None, Some(is)) => Unrestored::Appeared {
                key,
                name,
                table,
                is: is.to_string(),
            },
            (Some(was), Some(is)) => Unrestored::Differs {
                key,
                name,
                table,
                was: was.to_string(),
                is: is.to_string(),
            },
        }
    }

    /// Whether it is a key (else an index), its name, and its table.
    pub fn object(&self) -> (bool, &str, &str) {
        match self {
            Unrestored::Still {
                key, name, table, ..
            }
            | Unrestored::Missing { key, name, table }
            | Unrestored::Appeared {
                key, name, table, ..
            }
            | Unrestored::Differs {
                key, name, table, ..
            } => (*key, name, table),
        }
    }
}

impl std::fmt::Display for Unrestored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (key, name, table) = self.object();
        let kind = if key { "key" } else { "index" };
        write!(f, "{kind} \"{name}\" on {table}")?;
        match self {
            Unrestored::Still { state, .. } => write!(f, " is still {state}"),
            Unrestored::Missing { .. } => f.write_str(" is missing"),
            Unrestored::Appeared { is, .. } => write!(f, " was not there and is now: {is}"),
            Unrestored::Differs { was, is, .. } => write!(f, " was: {was}; it is now: {is}"),
        }
    }
}
