//! Citus (distributed PostgreSQL): which tables it manages and how, and what a
//! load must do differently there.
//!
//! Citus keeps a table's rows in shards on worker nodes (a distributed table)
//! or a copy on every node (a reference table); the coordinator, which fkload
//! talks to, forwards COPY and DDL to the shards. What that changes for a load:
//! - `SET CONSTRAINTS ... DEFERRED` does not reach the shards (Citus #2234):
//!   keys of Citus tables that break a cycle are dropped and added back, never
//!   deferred;
//! - a row's `xmin` is the transaction id of the node and shard transaction that
//!   wrote it, not the coordinator's: a parallel load (`-j`), whose undo takes
//!   out rows by `xmin`, and `--resume` are refused (and an undo that would
//!   not delete as many rows as the run loaded stops, on every server);
//! - errors from shards carry shard names (`<name>_<shardid>`), which
//!   [`unshard`] maps back to the names the user knows;
//! - settings given at connection time stay on the coordinator: the load
//!   repeats `lock_timeout` and `statement_timeout` with `SET LOCAL`, which
//!   Citus propagates under `citus.propagate_set_commands = 'local'`;
//! - the orphan search reads a distributed parent's keys into a temporary
//!   table first (Citus joins no local table with a distributed one).

use std::collections::HashMap;
use std::fmt;

use postgres::GenericClient;
use postgres::error::SqlState;

use crate::database::db;
use crate::error::{DbErrorInfo, Error};

/// What Citus makes of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Sharded by `column` (none for a single-shard table), in colocation
    /// group `colocation`.
    Distributed {
        column: Option<String>,
        colocation: u32,
    },
    /// One copy on every node.
    Reference,
    /// Kept on the coordinator, managed by Citus (it may reference or be
    /// referenced by reference tables). `auto`: Citus made it one because of
    /// a key to or from a reference table, and makes it a plain table again
    /// when the last such key is dropped (then a new shard when one is added).
    Local { auto: bool },
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Distributed {
                column: Some(c),
                colocation,
            } => write!(f, "distributed by {c}, colocation {colocation}"),
            Kind::Distributed {
                column: None,
                colocation,
            } => write!(f, "distributed (single shard), colocation {colocation}"),
            Kind::Reference => f.write_str("reference"),
            Kind::Local { auto: false } => f.write_str("local"),
            Kind::Local { auto: true } => {
                f.write_str("local, made so by its keys to or from reference tables")
            }
        }
    }
}

/// Citus in the target database: its version and the kind of each table it
/// manages (by oid); tables it does not manage are plain.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Citus {
    pub version: String,
    pub tables: HashMap<u32, Kind>,
    /// The id of every shard, to know shard names in errors ([`unshard`]).
    pub shards: Vec<i64>,
}

/// The Citus extension's version, if the database has it.
const EXTENSION: &str =
    "SELECT extversion::text FROM pg_catalog.pg_extension WHERE extname = 'citus'";

/// Every table Citus manages. `partmethod` is `h` for hash-distributed tables
/// (`a` and `r` for the old append and range ones) and `n` for the rest:
/// reference tables replicate (`repmodel = 't'`), a single-shard distributed
/// table has a colocation group, a Citus-local table none. `autoconverted` (Citus 11 on; read through `to_jsonb` so that one
/// query serves every version) marks a local table Citus made one by itself.
const TABLES: &str = "
SELECT p.logicalrelid::oid, p.partmethod::text, p.repmodel::text, p.colocationid::oid,
       CASE WHEN p.partmethod <> 'n'
            THEN pg_catalog.column_to_column_name(p.logicalrelid, p.partkey) END,
       coalesce((to_jsonb(p) ->> 'autoconverted')::bool, false)
  FROM pg_catalog.pg_dist_partition p";

/// Every shard's id.
const SHARDS: &str = "SELECT shardid FROM pg_catalog.pg_dist_shard ORDER BY 1";

/// Reads what Citus says of the database's tables, or `None` without Citus.
///
/// # Errors
/// [`ErrorKind::Sql`](crate::ErrorKind::Sql) when a catalog query fails.
pub(crate) fn read(client: &mut impl GenericClient) -> Result<Option<Citus>, Error> {
    let during = "reading the catalog";
    let Some(row) = db::query(client, EXTENSION, &[], during)?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let version: String = row.get(0);
    let tables = db::query(client, TABLES, &[], during)?
        .iter()
        .map(|r| {
            let method: String = r.get(1);
            let model: String = r.get(2);
            let colocation: u32 = r.get(3);
            let kind = if method != "n" {
                Kind::Distributed {
                    column: r.get(4),
                    colocation,
                }
            } else if model == "t" {
                Kind::Reference
            } else if colocation != 0 {
                Kind::Distributed {
                    column: None,
                    colocation,
                }
            } else {
                Kind::Local { auto: r.get(5) }
            };
            (r.get::<_, u32>(0), kind)
        })
        .collect();
    let shards = db::query(client, SHARDS, &[], during)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    Ok(Some(Citus {
        version,
        tables,
        shards,
    }))
}

/// `text` with every double-quoted shard name (`"<name>_<shardid>"`, whose
/// `<shardid>` is one of `shards`) written as `<name>`: what a shard's error
/// says, in the names of the tables, keys and indexes the user declared.
pub fn unshard(text: &str, shards: &[i64]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('"') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find('"') else {
            break;
        };
        out.push_str(unshard_name(&rest[..close], shards));
        out.push('"');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// `name` without its shard suffix, when it is `<base>_<one of shards>`.
pub fn unshard_name<'a>(name: &'a str, shards: &[i64]) -> &'a str {
    match name.rsplit_once('_') {
        Some((base, id))
            if !base.is_empty()
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_digit())
                && id.parse().is_ok_and(|n: i64| shards.contains(&n)) =>
        {
            base
        }
        _ => name,
    }
}

/// Whether a CONTEXT line is a shard's COPY (`COPY <name>_<shardid>, line
/// N...`).
pub(crate) fn is_shard_copy_context(line: &str, shards: &[i64]) -> bool {
    line.strip_prefix("COPY ")
        .and_then(|rest| rest.split([',', ' ']).next())
        .is_some_and(|rel| unshard_name(rel, shards) != rel)
}

/// The session's `lock_timeout` and `statement_timeout` where they are not
/// the server's defaults (set for the connection, the role, the database or
/// in the configuration): the coordinator's session has them, the workers'
/// connections do not.
const SESSION_TIMEOUTS: &str =
    "SELECT name::text, pg_catalog.current_setting(name) FROM pg_catalog.pg_settings
  WHERE name IN ('lock_timeout', 'statement_timeout') AND source <> 'default' ORDER BY 1";

/// Carries the session's timeouts to the workers for the rest of the
/// transaction `tx`, when the load writes to a table Citus manages
/// (`on_citus`).
///
/// # Errors
/// The server's, as [`ErrorKind::Sql`](crate::ErrorKind::Sql).
pub(crate) fn carry_timeouts(tx: &mut impl GenericClient, on_citus: bool) -> Result<(), Error> {
    if !on_citus {
        return Ok(());
    }
    let during = "carrying the timeouts to the Citus workers";
    let settings: Vec<(String, String)> = db::query(tx, SESSION_TIMEOUTS, &[], during)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    if settings.is_empty() {
        return Ok(());
    }
    for statement in propagate(&settings) {
        db::exec(tx, &statement, during)?;
    }
    Ok(())
}

/// The statements that carry `settings` (name, value) to the worker nodes in
/// the current transaction: `SET LOCAL` of each, which Citus sends on to every
/// node the transaction reaches once `citus.propagate_set_commands` is
/// `local`.
pub(crate) fn propagate(settings: &[(String, String)]) -> Vec<String> {
    let mut out = vec!["SET LOCAL citus.propagate_set_commands = 'local'".to_string()];
    out.extend(settings.iter().map(|(name, value)| {
        format!(
            "SET LOCAL {} = {}",
            crate::sql::ident(name),
            crate::sql::literal(value)
        )
    }));
    out
}

impl DbErrorInfo {
    /// This report with the names of Citus shards (`<name>_<shardid>`, for
    /// one of `shards`) written as the names the user declared.
    pub(crate) fn unsharded(mut self, shards: &[i64]) -> DbErrorInfo {
        if shards.is_empty() {
            return self;
        }
        let fix = |s: &mut String| *s = unshard(s, shards);
        fix(&mut self.message);
        if let Some(s) = &mut self.detail {
            fix(s);
        }
        // A shard's COPY counts the lines Citus sent it, not the file's: such
        // a context line says nothing true about the file.
        self.context = self.context.as_deref().and_then(|c| {
            let kept: Vec<&str> = c
                .lines()
                .filter(|l| !is_shard_copy_context(l, shards))
                .collect();
            (!kept.is_empty()).then(|| unshard(&kept.join("\n"), shards))
        });
        // A worker's error relayed by the coordinator's COPY comes as an
        // internal error (XX000, Citus's ReportCopyError): the message says
        // which it is.
        // (The message is read in English, the workers' lc_messages by
        // default; in another language the code stays XX000.)
        if self.code == SqlState::INTERNAL_ERROR {
            let kinds = [
                (
                    "violates foreign key constraint",
                    SqlState::FOREIGN_KEY_VIOLATION,
                ),
                ("violates unique constraint", SqlState::UNIQUE_VIOLATION),
                ("violates check constraint", SqlState::CHECK_VIOLATION),
                ("violates not-null constraint", SqlState::NOT_NULL_VIOLATION),
                (
                    "violates exclusion constraint",
                    SqlState::EXCLUSION_VIOLATION,
                ),
            ];
            if let Some((_, code)) = kinds.iter().find(|(m, _)| self.message.contains(m)) {
                self.code = code.clone();
            }
        }
        // A worker's error relayed by the coordinator carries no table or
        // constraint field: the message names them.
        if self.constraint.is_none() {
            self.constraint = quoted_after(&self.message, " constraint \"");
        }
        if self.table.is_none() {
            self.table = quoted_after(&self.message, " on table \"");
        }
        for s in [&mut self.table, &mut self.constraint]
            .into_iter()
            .flatten()
        {
            *s = unshard_name(s, shards).to_string();
        }
        self
    }
}

/// The double-quoted name right after `marker` (which ends with the opening
/// quote) in `message`.
fn quoted_after(message: &str, marker: &str) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let len = message[start..].find('"')?;
    Some(message[start..start + len].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_become_the_declared_ones() {
        let names = [102009, 102012];
        let message = r#"insert or update on table "orders_102012" violates foreign key constraint "orders_customer_email_fkey_102012""#;
        assert_eq!(
            unshard(message, &names),
            r#"insert or update on table "orders" violates foreign key constraint "orders_customer_email_fkey""#
        );
        assert_eq!(
            unshard(
                r#"Key (x)=(1) is not present in table "customer_102009"."#,
                &names
            ),
            r#"Key (x)=(1) is not present in table "customer"."#
        );
        // Not a shard of a known name: left as it is.
        // A number that is no shard id, or no number: left as it is.
        assert_eq!(unshard(r#"table "t_2024""#, &names), r#"table "t_2024""#);
        assert_eq!(unshard_name("orders_", &names), "orders_");
        assert_eq!(unshard_name("_102009", &names), "_102009");
        assert_eq!(unshard_name("orders_x102009", &names), "orders_x102009");
        // A value in quotes that is no name, and an unclosed quote.
        assert_eq!(
            unshard(r#"a "b" c "orders_102009"#, &names),
            r#"a "b" c "orders_102009"#
        );
    }

    #[test]
    fn a_shards_copy_context_is_known() {
        let shards = [102008];
        assert!(is_shard_copy_context(
            "COPY category_102008, line 1",
            &shards
        ));
        assert!(is_shard_copy_context(
            "COPY category_102008 line 1",
            &shards
        ));
        assert!(!is_shard_copy_context("COPY category, line 1", &shards));
        assert!(!is_shard_copy_context(
            "COPY category_102009, line 1",
            &shards
        ));
        assert!(!is_shard_copy_context(
            "while executing command on 127.0.0.1:5432",
            &shards
        ));
    }

    #[test]
    fn settings_are_carried_as_set_local() {
        let s = propagate(&[("lock_timeout".into(), "5s".into())]);
        assert_eq!(
            s,
            [
                "SET LOCAL citus.propagate_set_commands = 'local'",
                "SET LOCAL \"lock_timeout\" = '5s'"
            ]
        );
    }

    /// What Citus's coordinator relays of a worker's key violation in a
    /// COPY: an internal error, shard names, no table or constraint field,
    /// and the shard COPY's own line.
    #[test]
    fn a_relayed_shard_error_names_the_declared_table_and_key() {
        let relayed = DbErrorInfo {
            severity: "ERROR".into(),
            code: SqlState::INTERNAL_ERROR,
            message: "insert or update on table \"orders_102012\" violates foreign key constraint \"orders_customer_email_fkey_102012\"".into(),
            detail: Some("Key (customer_email)=(x) is not present in table \"customer_102009\".".into()),
            context: Some("COPY orders_102012, line 3\nwhile executing command on 127.0.0.1:5433".into()),
            ..Default::default()
        };
        let info = relayed.clone().unsharded(&[102009, 102012]);
        assert_eq!(info.code, SqlState::FOREIGN_KEY_VIOLATION);
        assert_eq!(info.table.as_deref(), Some("orders"));
        assert_eq!(
            info.constraint.as_deref(),
            Some("orders_customer_email_fkey")
        );
        assert_eq!(
            info.message,
            "insert or update on table \"orders\" violates foreign key constraint \"orders_customer_email_fkey\""
        );
        assert_eq!(
            info.detail.as_deref(),
            Some("Key (customer_email)=(x) is not present in table \"customer\".")
        );
        assert_eq!(
            info.context.as_deref(),
            Some("while executing command on 127.0.0.1:5433")
        );
        // Without Citus (no shard ids), nothing changes.
        assert_eq!(relayed.clone().unsharded(&[]), relayed);
        // A duplicate, likewise.
        let dup = DbErrorInfo {
            code: SqlState::INTERNAL_ERROR,
            message: "duplicate key value violates unique constraint \"orders_pkey_102012\"".into(),
            ..Default::default()
        }
        .unsharded(&[102012]);
        assert_eq!(
            (dup.code.code(), dup.constraint.as_deref()),
            ("23505", Some("orders_pkey"))
        );
    }
}
