//! The machine-readable account of a run (`--report FILE.json`): what was
//! planned, what was loaded, skipped and set NULL, which keys were deferred,
//! dropped or unenforced and put back, which indexes were rebuilt and
//! sequences moved, every problem found, how the run ended, and any earlier
//! parallel load that did not finish.
//!
//! An error's `"message"` is the command's psql layout (`errors.rs`); the
//! rest is data: the plan's and an unfinished run's JSON are the library's
//! ([`fkload::Plan::to_json`], [`fkload::plan::Step::to_json`],
//! [`fkload::error::Pending::to_json`]), the report, the problems and the
//! error are read here from their public fields.
//!
//! The shape is versioned ([`VERSION`], the `"fkload_report"` member) and
//! described by `schema/report.schema.json` in the repository; a change that
//! removes or retypes a member raises the version.

use fkload::error::{DuplicateViolation, KeyViolation, Orphan, Pending, Problems};
use fkload::{Error, ErrorKind, Plan, Report};
use postgres::error::SqlState;
use serde_json::{Value, json};

/// The version of the report's shape.
pub const VERSION: u32 = 1;

/// What a run gives its account from.
#[derive(Debug, Default, Clone, Copy)]
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
    pub interrupted: &'a [Pending],
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
    pub fn to_json(self, message: &dyn Fn(&Error) -> String) -> Value {
        let problems = self.problems.or(self.error.and_then(Error::problems));
        let interrupted = match self.error.map(Error::kind) {
            Some(ErrorKind::UnfinishedLoad { runs }) => runs.as_slice(),
            _ => self.interrupted,
        };
        json!({
            "fkload_report": VERSION,
            "fkload_version": env!("CARGO_PKG_VERSION"),
            "command": self.command,
            "ok": self.exit_code == 0,
            "exit_code": self.exit_code,
            "plan": self.plan.map(Plan::to_json),
            "tables": tables(self.plan, self.report),
            "result": self.report.map(result),
            "problems": problems.map(|p| problems_json(p, message)),
            "error": self.error.map(|e| error(e, message)),
            "unfinished_runs": interrupted.iter().map(Pending::to_json).collect::<Vec<_>>(),
        })
    }
}

/// One entry per file: the plan's, with what the load did to it.
fn tables(plan: Option<&Plan>, report: Option<&Report>) -> Vec<Value> {
    let Some(plan) = plan else {
        return Vec::new();
    };
    plan.steps()
        .iter()
        .map(|s| {
            let done = report.and_then(|r| r.tables.iter().find(|t| t.path == s.path()));
            let mut entry = s.to_json();
            if let Value::Object(entry) = &mut entry {
                entry.extend([
                    ("text_bytes".to_string(), json!(done.map(|t| t.text_bytes))),
                    ("rows".to_string(), json!(done.map(|t| t.rows))),
                    ("skipped".to_string(), json!(done.map(|t| t.skipped))),
                    ("nulled".to_string(), json!(done.map(|t| t.nulled))),
                    ("refused".to_string(), json!(done.map(|t| t.refused))),
                    (
                        "seconds".to_string(),
                        json!(done.map(|t| t.elapsed.as_secs_f64())),
                    ),
                ]);
            }
            entry
        })
        .collect()
}

fn result(r: &Report) -> Value {
    json!({
        "rows": r.rows(),
        "bytes": r.bytes(),
        "text_bytes": r.text_bytes(),
        "skipped": r.skipped(),
        "nulled": r.nulled(),
        "refused": r.refused_rows(),
        "refused_rows": r.refused.iter().map(bad_rows).collect::<Vec<_>>(),
        "seconds": r.elapsed.as_secs_f64(),
        "keys_deferred": r.keys_deferred,
        "keys_restored": r.keys_restored,
        "keys_enforced": r.keys_enforced,
        "sequences": r.sequences.iter().map(|(q, v)| json!({
            "sequence": { "schema": q.schema, "name": q.name },
            "value": v,
        })).collect::<Vec<_>>(),
        "rejects": r.rejects.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "warnings": r.warnings,
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

/// A refusal of rows ([`ErrorKind::Refused`]).
fn bad_rows(e: &Error) -> Value {
    let ErrorKind::Refused {
        path,
        db,
        column,
        rows,
        examples,
    } = e.kind()
    else {
        return Value::Null;
    };
    json!({
        "file": path.display().to_string(),
        "sqlstate": db.code.code(),
        "message": db.message,
        "column": column,
        "constraint": db.constraint,
        "rows": rows,
        "examples": examples.iter().map(|(line, message)| json!({
            "line": line,
            "message": message,
        })).collect::<Vec<_>>(),
    })
}

fn problems_json(p: &Problems, message: &dyn Fn(&Error) -> String) -> Value {
    json!({
        "count": p.count(),
        "max_examples": p.max_examples,
        "errors": p.errors.iter().map(|e| error(e, message)).collect::<Vec<_>>(),
        "keys": p.keys.iter().map(key_violation).collect::<Vec<_>>(),
        "duplicates": p.duplicates.iter().map(duplicate).collect::<Vec<_>>(),
        "bad_rows": p.bad_rows.iter().map(bad_rows).collect::<Vec<_>>(),
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
        "file": position.map(|(path, _)| path.display().to_string()),
        "line": position.and_then(|(_, line)| line),
        "connection": e.is_connection(),
    })
}
