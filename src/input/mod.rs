//! The input: the data directory and its files as `COPY` will read them.
//! [`source`] lists the files, their dialects (from `fkload.toml`,
//! [`manifest`], and the options, [`dialect`]) and headers; [`file`] opens a
//! file (decompressed, from any offset) and says which part of it a `COPY`
//! sends; [`scan`] finds records as `COPY` does, [`lines`] the physical line
//! a record starts on, and [`edit`] leaves records out or changes them on
//! their way to the server (the rows `--on-orphan` sets aside, the columns a
//! reject file added).

pub mod dialect;
pub(crate) mod edit;
pub(crate) mod file;
pub(crate) mod lines;
pub mod manifest;
pub(crate) mod scan;
pub(crate) mod source;
