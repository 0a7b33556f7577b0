//! Bad rows: why a load failed, to the file and line ([`diagnose`]), the
//! orphan and duplicate rows of a key, found set-wise on the server
//! ([`orphan`]), and `--on-orphan`'s choice of which rows go, with the reject
//! files ([`policy`]).

pub(crate) mod bad;
pub(crate) mod diagnose;
pub(crate) mod edits;
pub(crate) mod orphan;
pub(crate) mod policy;
