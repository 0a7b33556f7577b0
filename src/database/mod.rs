//! What fkload asks of the database: every statement goes through [`db`]
//! (one per round trip; each a crash and failure point in test builds),
//! [`copy`] streams a file with `COPY ... FROM STDIN`, [`catalog`] reads
//! tables, keys, indexes and sequences, [`citus`] what Citus manages, and
//! [`pattern`] matches `-t`/`-n` patterns as psql does, on the server.

pub(crate) mod catalog;
pub mod citus;
pub(crate) mod copy;
pub(crate) mod db;
pub mod pattern;
