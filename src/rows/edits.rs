//! How each file's records are sent: as they are, or edited on their way
//! to the server (the columns a reject file added left out, which the plan
//! says; the rows `--on-orphan` sets aside or loads with a NULL key, which
//! its policy decides before the run). The run's, by step; a plan is not
//! changed by it.

use std::sync::Arc;

use crate::input::edit::Edits;
use crate::plan::{Plan, Step};

/// The records each step's file sends otherwise than it holds them, by step
/// index: the columns a reject file added (the plan's `strip`), and the rows
/// `--on-orphan` left out or changed. A run's, decided before it starts; the
/// plan is not changed.
#[derive(Debug, Clone)]
pub(crate) struct FileEdits(pub(crate) Vec<Option<Arc<Edits>>>);

impl FileEdits {
    /// Only what the plan says: the columns reject files added.
    pub(crate) fn of(plan: &Plan) -> FileEdits {
        FileEdits(plan.steps.iter().map(strip_only).collect())
    }

    /// The edits of step `index`, if its records are sent edited.
    pub(crate) fn step(&self, index: usize) -> Option<&Edits> {
        self.0.get(index).and_then(Option::as_deref)
    }
}

/// The edits of a file that only leave out the columns a reject file added.
pub(crate) fn strip_only(step: &Step) -> Option<Arc<Edits>> {
    (step.strip > 0).then(|| {
        Arc::new(Edits {
            strip: step.strip,
            ..Edits::default()
        })
    })
}
