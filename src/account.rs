//! The machine-readable account of a run (`--report FILE.json`): what was
//! planned, what was loaded, skipped and set NULL, which keys were deferred,
//! dropped or unenforced and put back, which indexes were rebuilt and
//! sequences moved, every problem found, how the run ended, and any earlier
//! parallel load that did not finish.
//!
//! An error's `"message"` is worded by the caller (the command passes its
//! psql layout, `src/cli/errors.rs`); the rest of an error is data here.
//!
//! The shape is versioned ([`VERSION`], the `"fkload_report"` member) and
//! described by `schema/report.schema.json` in the repository; a change that
//! removes or retypes a member raises the version.

use postgres::error::SqlState;
use serde_json::{Value, json};

use crate::error::Error;
use crate::error::{DuplicateViolation, KeyViolation, Orphan, Problems};
use crate::plan::{ColumnsFrom, KeyAction, Plan, Strategy, StrategyReason, Truncate};
use crate::run::report::Report;
use crate::sql::QualName;

/// The version of the report's shape.
pub const VERSION: u32 = 1;

/// What a run gives its account from.
#[derive(Debug, Default, Clone, Copy)]
#[non_exhaustive]
pub struct Account<'a> {
    /// `load`, `check` or `plan` (`-l`).
    pub command: &'a str,
    /// The plan, once made.
    pub plan: Option<&'a Plan>,
    /// What a load did, when it loaded.
    pub report: Option<&'a Report>,
    /// What a check found (or a load that failed on keys).
    pub problems: Option<&'a Problems>,
    /// How the run failed, when it did.
    pub error: Option<&'a Error>,
    /// Earlier parallel loads that did not finish, as the run found them
    /// (`-l`; a check that refused them has them in its error).
    pub interrupted: &'a [crate::error::Pending],
    /// The process's exit code.
    pub exit_code: u8,
}

impl<'a> Account<'a> {
    /// An account of `command` that ended with `exit_code`.
    pub fn new(command: &'a str, exit_code: u8) -> Account<'a> {
        Account {
            command,
            exit_code,
            ..Account::default()
        }
    }

    /// The account as JSON; `message` words each error for its
    /// `"message"` member (the command passes its psql layout of the error;
    /// `|e| e.to_string()` gives the primary message alone).
    pub fn to_json(&self, message: &dyn Fn(&Error) -> String) -> Value {
        let problems = self.problems.or(self.error.and_then(Error::problems));
        let interrupted = match self.error.map(Error::kind) {
            Some(crate::ErrorKind::UnfinishedLoad { runs }) => runs.as_slice(),
            _ => self.interrupted,
        };
        json!({
            "fkload_report": VERSION,
            "fkload_version": env!("CARGO_PKG_VERSION"),
            "command": self.command,
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "plan": self.plan.map(plan),
            "tables": tables(self.plan, self.report),
            "result": self.report.map(result),
            "problems": problems.map(|p| problems_json(p, message)),
            "error": self.error.map(|e| error(e, message)),
            "unfinished_runs": interrupted.iter().map(unfinished).collect::<Vec<_>>(),
        })
    }
}

fn name(q: &QualName) -> Value {
    json!({ "schema": q.schema, "name": q.name })
}

fn plan(p: &Plan) -> Value {
    let (strategy, reason, bytes) = match (p.strategy, p.strategy_reason) {
        (s, StrategyReason::Chosen) => (s, "chosen", None),
        (s, StrategyReason::Large { bytes }) => (s, "large", Some(bytes)),
        (s, StrategyReason::Small { bytes }) => (s, "small", Some(bytes)),
    };
    json!({
        "dir": p.dir.display().to_string(),
        "server_version_num": p.server_version_num,
        "strategy": match strategy { Strategy::Keep => "keep", Strategy::Revalidate => "revalidate" },
        "strategy_reason": reason,
        "strategy_bytes": bytes,
        "jobs": p.jobs,
        "truncate": match p.truncate {
            Truncate::No => "no",
            Truncate::Upfront => "upfront",
            Truncate::PerStep => "per_table",
        },
        "truncate_also": p.truncate_also.iter().map(|a| json!({
            "table": name(&a.table.name),
            "references": name(&a.references),
            "rows": a.rows,
        })).collect::<Vec<_>>(),
        "bytes": p.bytes(),
        "keys": p.keys.iter().map(|k| json!({
            "constraint": k.key.name,
            "table": name(&k.table),
            "references": name(&k.ref_table),
            "action": match k.action {
                KeyAction::Keep => "keep",
                KeyAction::Defer => "defer",
                KeyAction::Drop { .. } => "drop",
                KeyAction::Unenforce => "unenforce",
            },
            "validated": k.key.validated,
        })).collect::<Vec<_>>(),
        "indexes_rebuilt": p.indexes.iter().map(|i| json!({
            "index": i.index.name,
            "table": name(&i.table),
        })).collect::<Vec<_>>(),
        "cycles": p.cycles.iter().map(|c| json!({
            "tables": c.tables.iter().map(name).collect::<Vec<_>>(),
            "broken_by": c.broken.iter().filter_map(|&k| p.keys.get(k)).map(|k| k.key.name.clone()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// One entry per file: the plan's, with what the load did to it.
fn tables(plan: Option<&Plan>, report: Option<&Report>) -> Vec<Value> {
    let Some(plan) = plan else {
        return Vec::new();
    };
    plan.steps
        .iter()
        .map(|s| {
            let done = report.and_then(|r| r.tables.iter().find(|t| t.path == s.file.path));
            json!({
                "table": name(&s.table.name),
                "file": s.file.path.display().to_string(),
                "level": s.level,
                "columns": s.columns,
                "columns_from": match s.columns_from {
                    ColumnsFrom::Header => "header",
                    ColumnsFrom::Manifest => "manifest",
                    ColumnsFrom::TableOrder => "table_order",
                },
                "dialect": s.file.dialect().map(dialect),
                "bytes": s.bytes,
                "text_bytes": done.map(|t| t.text_bytes),
                "rows": done.map(|t| t.rows),
                "skipped": done.map(|t| t.skipped),
                "nulled": done.map(|t| t.nulled),
                "seconds": done.map(|t| t.elapsed.as_secs_f64()),
            })
        })
        .collect()
}

/// A file's dialect, each byte as a one-character string.
fn dialect(d: &crate::input::dialect::Dialect) -> Value {
    let text = |b: u8| char::from(b).to_string();
    json!({
        "delimiter": text(d.delimiter),
        "quote": text(d.quote),
        "escape": text(d.escape),
        "null": d.null,
        "header": d.header,
        "encoding": d.encoding,
    })
}

fn result(r: &Report) -> Value {
    json!({
        "rows": r.rows(),
        "bytes": r.bytes(),
        "text_bytes": r.text_bytes(),
        "skipped": r.skipped(),
        "nulled": r.nulled(),
        "seconds": r.elapsed.as_secs_f64(),
        "keys_deferred": r.keys_deferred,
        "keys_restored": r.keys_restored,
        "keys_enforced": r.keys_enforced,
        "sequences": r.sequences.iter().map(|(q, v)| json!({
            "sequence": name(q),
            "value": v,
        })).collect::<Vec<_>>(),
        "rejects": r.rejects.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "warnings": r.warnings,
    })
}

/// An earlier parallel load that did not finish, and what it left.
fn unfinished(p: &crate::error::Pending) -> Value {
    json!({
        "run": p.run,
        "loaded": p.loaded.iter().map(|t| json!({
            "table": name(&t.table),
            "file": t.file,
        })).collect::<Vec<_>>(),
        "set_aside": p.dropped.iter().map(|o| json!({
            "kind": match o.what {
                crate::error::SetAside::Key => "key",
                crate::error::SetAside::Unenforced => "unenforced_key",
                _ => "index",
            },
            "name": o.name,
            "table": name(&o.table),
        })).collect::<Vec<_>>(),
    })
}

fn row(o: &Orphan) -> Value {
    json!({ "file": o.path.display().to_string(), "line": o.line, "key": o.key })
}

fn key_violation(v: &KeyViolation) -> Value {
    json!({
        "constraint": v.constraint,
        "table": v.child,
        "references": v.parent,
        "rows": v.rows,
        "examples": v.examples.iter().map(row).collect::<Vec<_>>(),
        "missing_keys": v.missing_keys,
        "missing_examples": v.missing_examples,
        "search_failed": v.search_failed,
    })
}

fn duplicate(d: &DuplicateViolation) -> Value {
    json!({
        "index": d.index,
        "table": d.table,
        "rows": d.rows,
        "keys": d.keys,
        "examples": d.examples.iter().map(|(key, rows)| json!({
            "key": key,
            "rows": rows.iter().map(row).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "search_failed": d.search_failed,
    })
}

fn problems_json(p: &Problems, message: &dyn Fn(&Error) -> String) -> Value {
    json!({
        "count": p.count(),
        "max_examples": p.max_examples,
        "errors": p.errors.iter().map(|e| error(e, message)).collect::<Vec<_>>(),
        "keys": p.keys.iter().map(key_violation).collect::<Vec<_>>(),
        "duplicates": p.duplicates.iter().map(duplicate).collect::<Vec<_>>(),
        "unchecked": p.unchecked.iter().map(|u| json!({
            "what": u.what,
            "because": u.because,
        })).collect::<Vec<_>>(),
    })
}

fn error(e: &Error, message: &dyn Fn(&Error) -> String) -> Value {
    let position = e.position();
    json!({
        "message": message(e),
        "sqlstate": e.sqlstate().map(SqlState::code),
        "file": position.map(|p| p.path.display().to_string()),
        "line": position.and_then(|p| p.line),
        "connection": e.is_connection(),
    })
}
