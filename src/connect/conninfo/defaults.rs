//! libpq's defaults where nothing names a value, and the mark that stands in
//! for a password: what every part of the connection settings shares. A leaf:
//! it imports nothing of the crate.

/// Port used when nothing names one.
pub(super) const DEFAULT_PORT: u16 = 5432;

/// The Unix socket directory of Debian/Ubuntu builds of PostgreSQL, which is
/// where most servers fkload meets listen. libpq compiles its own default in;
/// we cannot ask it, so we pick the common one.
pub(super) const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// TCP host tried after the socket directory when no host is given.
pub(super) const DEFAULT_TCP_HOST: &str = "localhost";

/// `fallback_application_name`: what `pg_stat_activity` shows unless the user
/// names the application.
pub(super) const DEFAULT_APPLICATION_NAME: &str = "fkload";

/// Stands in for a password (or a likely fragment of one) in anything shown.
pub(super) const REDACTED: &str = "********";
