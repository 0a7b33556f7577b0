//! Planning: what a load will do, decided before a row is written. The
//! survey (`survey.rs`) reads the facts: the directory, the catalog, the
//! headers; the pure `decide` (`decide.rs`) makes the [`Plan`] from them,
//! with `graph.rs` ordering the tables and breaking cycles. A plan is never
//! changed once made.

mod decide;
mod graph;
mod model;
pub(crate) mod overview;
mod render;
mod survey;

use std::path::Path;

use postgres::GenericClient;

pub(crate) use crate::input::source::ColumnsFrom;
// The catalog's and the directory's types the plan is made of, by the paths
// the runners' tests know.
#[cfg(test)]
pub(crate) use crate::database::catalog::{
    Column, ForeignKey, Index, IndexConstraint, KeyClone, Table,
};
#[cfg(test)]
pub(crate) use crate::input::source::{DataFile, FileName};
pub use crate::sql::QualName;
pub(crate) use decide::decide;
pub(crate) use model::{AlsoEmptied, Purpose, StrategyReason, Truncate};
pub use model::{Cycle, KeyAction, Plan, PlannedIndex, PlannedKey, Step, Strategy};
pub(crate) use survey::{Survey, survey};

use crate::error::Error;
use crate::options::Options;

/// Surveys `dir` and the database and decides the plan for `purpose`.
/// Writes nothing.
///
/// # Errors
/// What [`survey`] and [`decide`] report.
pub(crate) fn make(
    client: &mut impl GenericClient,
    dir: &Path,
    options: &Options,
    purpose: Purpose,
) -> Result<Plan, Error> {
    let facts = survey(client, dir, options, purpose)?;
    decide(facts, options, purpose)
}
