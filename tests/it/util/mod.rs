//! Shared helpers for the integration tests.
//!
//! [`pg`] owns the throwaway PostgreSQL server and hands each test its own
//! database; its main items are re-exported here so tests can write
//! `util::TestDb::new("label")`. [`support`] has the scenarios, the binary
//! and the snapshots of what must not change; [`crash`] the crash points.

// Each helper is used by only some tests; while a test file is being written
// (or is filtered out) the rest would otherwise trip dead-code warnings.
#![allow(dead_code, unused_imports)]

pub mod crash;
pub mod failure;
pub mod pg;
pub mod pki;
pub mod support;

pub use pg::{TestDb, server_url, server_version_num};
