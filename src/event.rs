//! What a load tells its caller as it goes: one [`Event`] per phase and per
//! file, for progress display. Only the calling thread receives them.

use std::time::Duration;

use crate::plan::{PlannedIndex, PlannedKey, Step};

/// What the load is doing, for progress display.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Event<'a> {
    /// An earlier parallel load had not finished: its rows were taken out and
    /// its keys and indexes put back before this load began (`run` is its id
    /// in the journal).
    Repaired { run: &'a str },
    /// A file starts loading.
    TableStarted { step: &'a Step },
    /// Bytes of a file sent so far.
    Progress { step: &'a Step, sent: u64 },
    /// A file has loaded.
    TableLoaded {
        step: &'a Step,
        rows: u64,
        /// Bytes of CSV text sent: the file's size, unless it is compressed.
        text_bytes: u64,
        elapsed: Duration,
    },
    /// An index dropped before the data is being built.
    BuildingIndex { index: &'a PlannedIndex },
    /// A dropped key is being added back (and validated).
    RestoringKey { key: &'a PlannedKey },
    /// `--on-orphan`: the orphan rows of a key are being searched for, in
    /// the files, before the load (round 2 and later: after rows set aside
    /// in the round before, whose children may now be orphans).
    SearchingOrphans { key: &'a PlannedKey, round: u32 },
    /// A check found key `key` violated and is finding its orphan rows
    /// (counted, the first few listed), in the table where `in_place`, else
    /// in its files read again.
    ListingOrphans { key: &'a PlannedKey, in_place: bool },
    /// The load failed on a key and was rolled back; the data is being
    /// checked (as `fkload check` does) to report every violated key.
    ListingProblems,
    /// Deferred constraints are being checked.
    CheckingDeferred,
    /// About to commit.
    Committing,
}
