//! The input: the data directory and its files as `COPY` will read them.
//!
//! The seam is [`data_file`]: a [`data_file::DataFile`] says how it is
//! written ([`mod@format`]) and answers everything the planner, the runners and
//! the bad-rows code ask of a file (the `COPY` options, the data to send as
//! a [`feed`], the parts to cut it into, the line of a record, the records
//! one by one, a part's as [`records`] for statements that may end after
//! any record, the [`reject`] file), each with one arm per format. Nothing
//! outside this folder knows how a CSV file is read.
//!
//! [`source`] lists the files, their dialects (from `fkload.toml`,
//! [`manifest`], and the options, [`dialect`]) and headers; [`mod@file`] opens a
//! file (decompressed, from any offset) and says which part of it a `COPY`
//! sends. CSV's own: [`scan`] finds records as `COPY` does, [`lines`] the
//! physical line a record starts on, and [`edit`] leaves records out or
//! changes them on their way to the server (the rows `--on-orphan` sets
//! aside, the columns a reject file added).

pub(crate) mod data_file;
pub mod dialect;
pub(crate) mod edit;
pub(crate) mod feed;
pub(crate) mod file;
pub mod format;
pub(crate) mod lines;
pub mod manifest;
pub(crate) mod records;
pub(crate) mod reject;
pub(crate) mod scan;
pub(crate) mod source;
