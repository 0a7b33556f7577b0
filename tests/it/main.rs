//! fkload's integration tests: one binary (to keep link time down), run against a
//! real PostgreSQL server that `util::pg` boots (or `FKLOAD_TEST_DATABASE_URL`).
//! Every test gets its own fresh database.

mod util;

mod bad_rows;
mod batches;
mod check;
mod citus;
mod cli;
mod compressed;
mod connecting;
mod corpus;
mod crash_points;
mod cycles;
mod datasets;
mod deferred;
mod dialects;
mod enforce;
mod errors;
mod failures;
mod faults;
mod finished;
mod graph;
mod identity;
mod interrupt;
mod jobs;
mod key_identity;
mod library;
mod lines;
mod load;
mod names;
mod orphans;
mod output;
mod partitions;
mod passwords;
mod repair;
mod report;
mod select;
mod skips;
mod strategy;
mod streams;
mod testing;
mod throwaway;
mod timeouts;
mod truncate_subset;
mod unfinished;
