//! What a load found left or set aside: a stopped run, the unfinished runs of
//! a journal, the entries of a data directory that load nothing. Plain data,
//! read by the error kinds, the plan and the reports.

use crate::sql::QualName;

/// What a stopped parallel load left, from its journal: the data of
/// [`ErrorKind::Stopped`](crate::ErrorKind::Stopped).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stopped {
    /// The run whose journal lists what it left; `None` when it had changed
    /// nothing (the database is as before, and no journal names it).
    pub run: Option<String>,
    /// Files (or parts of big files) it committed; `None` when the journal
    /// could not be read after the stop.
    pub units_loaded: Option<usize>,
    /// How many files (or parts) it had to load.
    pub units_total: usize,
    /// Keys and indexes it left dropped; `None` when the journal could not be
    /// read after the stop.
    pub dropped: Option<usize>,
    /// How many connections it loaded over.
    pub jobs: usize,
}

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
/// item of [`ErrorKind::NotRestored`](crate::ErrorKind::NotRestored).
/// `Display`: `key "c_p_fkey" on "public"."c" is missing`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unrestored {
    /// A key; else an index.
    pub key: bool,
    pub name: String,
    /// The table it is on, as SQL names it (as the journal holds it).
    pub table: String,
    pub state: UnrestoredState,
}

/// How an [`Unrestored`] key or index is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnrestoredState {
    /// The journal says it was never put back: it is still in this state
    /// (`dropped`).
    Still(String),
    /// It is not in the catalog.
    Missing,
    /// It was not there before, and is now: as the catalog describes it.
    Appeared(String),
    /// It differs from what it was: both as the catalog describes them.
    Differs { was: String, is: String },
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
        let state = match (was, is) {
            (_, None) => UnrestoredState::Missing,
            (None, Some(is)) => UnrestoredState::Appeared(is.to_string()),
            (Some(was), Some(is)) => UnrestoredState::Differs {
                was: was.to_string(),
                is: is.to_string(),
            },
        };
        Unrestored {
            key,
            name: name.to_string(),
            table: table.to_string(),
            state,
        }
    }
}

impl std::fmt::Display for Unrestored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.key { "key" } else { "index" };
        write!(f, "{kind} \"{}\" on {}", self.name, self.table)?;
        match &self.state {
            UnrestoredState::Still(state) => write!(f, " is still {state}"),
            UnrestoredState::Missing => f.write_str(" is missing"),
            UnrestoredState::Appeared(is) => write!(f, " was not there and is now: {is}"),
            UnrestoredState::Differs { was, is } => write!(f, " was: {was}; it is now: {is}"),
        }
    }
}
