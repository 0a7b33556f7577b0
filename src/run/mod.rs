//! Running a plan. The stages are written once ([`pipeline`]); the runners
//! are the one-transaction load ([`transaction`]), `fkload check`
//! ([`check`]) and the parallel load ([`parallel`], over the work queue of
//! [`pool`], recorded in [`journal`], undone by [`repair`], stopped by
//! [`stop`]). [`ddl`] sets keys and indexes aside and puts them back,
//! [`sequences`] moves the sequences past the loaded values, and [`report`]
//! is what a load did.

pub(crate) mod check;
pub(crate) mod ddl;
pub(crate) mod journal;
pub(crate) mod parallel;
pub(crate) mod pipeline;
pub(crate) mod pool;
pub(crate) mod repair;
pub(crate) mod report;
pub(crate) mod sequences;
pub(crate) mod stop;
pub(crate) mod transaction;
