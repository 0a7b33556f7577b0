//! The JSON of a plan and of an unfinished parallel load, as the
//! machine-readable account of a run (`--report FILE.json`, written by the
//! command) has them: what was planned per table, the strategy and why, the
//! keys and what the load does to them, the indexes rebuilt, the cycles; what
//! an unfinished run committed and set aside. The shape is described by
//! `schema/report.schema.json` in the repository (its `plan`, `tables` and
//! `unfinished_runs` members); the rest of the account (the report, the
//! problems, the error) is public data, and the command's.
//!
//! Also what a program reads of an unfinished run beyond its
//! [`Pending::describe`]: the keys and indexes it left set aside.

use serde_json::{Value, json};

use crate::error::{Pending, SetAside};
use crate::plan::{ColumnsFrom, KeyAction, Plan, Step, Strategy, StrategyReason, Truncate};
use crate::sql::QualName;

fn name(q: &QualName) -> Value {
    json!({ "schema": q.schema, "name": q.name })
}

impl Plan {
    /// The plan as JSON: the account's `plan` member (directory, server
    /// version, strategy and why, connections, truncation, bytes, keys and
    /// their actions, indexes rebuilt, cycles and the keys that break them).
    pub fn to_json(&self) -> Value {
        let p = self;
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
            "on_error": if p.refused_to.is_some() { "skip" } else { "stop" },
            "reject_dir": p.refused_to.as_ref().map(|d| d.display().to_string()),
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
}

impl Step {
    /// The step as JSON: what the account's `tables` entry for its file
    /// says before the load (table, file, level, columns and where they come
    /// from, dialect, bytes).
    pub fn to_json(&self) -> Value {
        let s = self;
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
        })
    }
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

impl Pending {
    /// The run as JSON: an entry of the account's `unfinished_runs` (the
    /// run, the files it committed, the keys and indexes it set aside).
    pub fn to_json(&self) -> Value {
        let p = self;
        json!({
            "run": p.run,
            "loaded": p.loaded.iter().map(|t| json!({
                "table": name(&t.table),
                "file": t.file,
            })).collect::<Vec<_>>(),
            "set_aside": p.dropped.iter().map(|o| json!({
                "kind": match o.what {
                    SetAside::Key => "key",
                    SetAside::Unenforced => "unenforced_key",
                    _ => "index",
                },
                "name": o.name,
                "table": name(&o.table),
            })).collect::<Vec<_>>(),
        })
    }

    /// The keys the run left dropped or `NOT ENFORCED`, each described
    /// (`key "c_p_fkey" on public.c dropped`).
    pub fn keys_left(&self) -> impl Iterator<Item = String> {
        self.dropped
            .iter()
            .filter(|o| o.what != SetAside::Index)
            .map(|o| o.describe())
    }

    /// The indexes the run left dropped, each described (`index "o_idx" on
    /// public.o dropped`).
    pub fn indexes_left(&self) -> impl Iterator<Item = String> {
        self.dropped
            .iter()
            .filter(|o| o.what == SetAside::Index)
            .map(|o| o.describe())
    }
}
