//! The plan as `fkload -l` prints it: first any earlier parallel load that did
//! not finish (the plan is of the database as it left it), then order, levels,
//! cycles and how each is broken, the keys deferred, dropped or unenforced
//! (the unfinished run's among them), the indexes built after the data, and
//! why the strategy.

use std::fmt::Write as _;

use fkload::error::Pending;
use fkload::plan::{KeyAction, PlannedKey, QualName};
use fkload::{Plan, Strategy};

use super::human_bytes as human;

/// Why the plan's strategy, in the words of the command line.
fn reason(plan: &Plan) -> String {
    let (bytes, threshold) = (plan.bytes(), Plan::REVALIDATE_FROM_BYTES);
    match plan.strategy() {
        Strategy::Revalidate if plan.strategy_by_size() => format!(
            "{} of input is at least {}: one validating pass per key beats a check per row",
            human(bytes),
            human(threshold)
        ),
        Strategy::Keep if plan.strategy_by_size() => format!(
            "{} of input is under {}: checking rows as they arrive is cheaper than re-adding keys",
            human(bytes),
            human(threshold)
        ),
        _ => match plan.strategy() {
            Strategy::Keep => "chosen with --strategy keep".to_string(),
            Strategy::Revalidate => "chosen with --strategy revalidate".to_string(),
        },
    }
}

/// The plan as `-l` prints it, made over the unfinished runs `interrupted`.
pub fn describe(plan: &Plan, interrupted: &[Pending]) -> String {
    let mut out = String::new();
    for p in interrupted {
        let _ = writeln!(out, "{}\n", unfinished(p, "this plan"));
    }
    heading(&mut out, plan);
    steps(&mut out, plan);
    ignored(&mut out, plan);
    cycles(&mut out, plan);
    keys(&mut out, plan, interrupted);
    indexes(&mut out, plan, interrupted);
    out
}

/// An unfinished parallel load, in psql's layout, for `-l` (stdout) and
/// `graph` (stderr): what it is, what it left, that `shown` (the plan, the
/// graph) is of the database as it left it, and what to do.
pub fn unfinished(p: &Pending, shown: &str) -> String {
    let mut what = p.describe();
    if let Some(first) = what.get(..1) {
        what = first.to_uppercase() + &what[1..];
    }
    format!(
        "WARNING:  an earlier parallel load (run {run}) did not finish: {shown} is of the \
         database as it left it\nDETAIL:  {what}.\nHINT:  Run fkload repair to undo it (a load \
         without --resume does that first), or fkload -j N --resume DIR with its directory \
         to finish it.",
        run = p.run
    )
}

/// The entries of the directory that are not loaded, and why.
fn ignored(out: &mut String, plan: &Plan) {
    if plan.ignored().is_empty() {
        return;
    }
    let _ = writeln!(out, "\nnot loaded:");
    for i in plan.ignored() {
        let _ = writeln!(out, "  {}: {}", i.rel, i.why);
    }
}

/// The directory, files, bytes and transactions; the strategy and why; the
/// truncation.
fn heading(out: &mut String, plan: &Plan) {
    let tables = plan.steps().len();
    let transactions = if plan.jobs() > 1 {
        format!(
            "{} connections, one transaction per file: NOT atomic (other sessions see each \
             table as it commits; a failure takes the committed rows out again)",
            plan.jobs()
        )
    } else {
        "one transaction (all or nothing)".to_string()
    };
    let _ = writeln!(
        out,
        "plan for {}: {} {}, {} bytes, {transactions}",
        plan.dir().display(),
        tables,
        if tables == 1 { "file" } else { "files" },
        plan.bytes()
    );
    let strategy = match plan.strategy() {
        Strategy::Keep => "keep (keys stay in place and check each row)",
        Strategy::Revalidate => {
            "revalidate (keys dropped, data loaded, each key added back with one validating pass)"
        }
    };
    let _ = writeln!(out, "strategy: {strategy}: {}", reason(plan));
    if plan.freezes() {
        let _ = writeln!(
            out,
            "truncate: each table just before its data, which COPY writes frozen (FREEZE)"
        );
    } else if plan.truncates() {
        let _ = writeln!(
            out,
            "truncate: every loaded table, in one statement, before the data"
        );
    }
    if let Some(dir) = plan.refused_rows_to() {
        let _ = writeln!(
            out,
            "on error: rows the server refuses (a bad value, NULL in NOT NULL, a CHECK, a wrong \
             field count, bad bytes) are set aside into {}, the rest loaded",
            dir.display()
        );
    }
    if let Some(version) = plan.citus() {
        let _ = writeln!(
            out,
            "citus: {version}; keys of Citus tables that break a cycle are dropped and added \
             back, never deferred (SET CONSTRAINTS does not reach the shards); -j and --resume \
             cannot load Citus tables"
        );
    }
    for (table, rows) in plan.also_emptied() {
        let _ = writeln!(
            out,
            "truncate also: {table}, which is not loaded{}",
            if rows > 0 { " (--cascade)" } else { "" }
        );
    }
}

/// The files in load order, with their levels and tables.
fn steps(out: &mut String, plan: &Plan) {
    if plan.steps().is_empty() {
        return;
    }
    let wf = plan
        .steps()
        .iter()
        .map(|s| s.file_name().chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(out, "\n{:>5}  {:<wf$}  table", "level", "file");
    for s in plan.steps() {
        let note = if s.self_referencing() {
            "  (references itself)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:>5}  {:<wf$}  {}{}",
            s.level(),
            s.file_name(),
            s.table().human(),
            note
        );
        let dialect = s.dialect();
        let mut how: Vec<String> = Vec::new();
        if let Some(kind) = s.citus() {
            how.push(format!("Citus: {kind}"));
        }
        if !dialect.is_empty() {
            how.push(dialect);
        }
        if let Some(from) = s.columns_from() {
            how.push(format!("columns {from}: {}", s.columns().join(", ")));
        }
        if !how.is_empty() {
            let _ = writeln!(out, "{:>5}  {:<wf$}  ({})", "", "", how.join("; "));
        }
    }
}

/// Each cycle and the keys that break it.
fn cycles(out: &mut String, plan: &Plan) {
    if plan.cycles().is_empty() {
        let _ = writeln!(out, "\ncycles: none");
        return;
    }
    let _ = writeln!(out, "\ncycles:");
    for c in plan.cycles() {
        let names: Vec<String> = c.tables().iter().map(QualName::human).collect();
        let _ = writeln!(out, "  {}", names.join(", "));
        for k in c.broken(plan) {
            let _ = writeln!(out, "    broken by {}", describe_action(k));
        }
    }
}

/// The keys deferred, dropped and unenforced; the keys an unfinished run
/// left dropped or unenforced are listed with the dropped ones (they are not
/// in place now, and the plan cannot see them).
fn keys(out: &mut String, plan: &Plan, interrupted: &[Pending]) {
    let deferred: Vec<&PlannedKey> = plan.deferred().collect();
    let dropped: Vec<&PlannedKey> = plan.dropped().collect();
    let left: Vec<String> = set_aside_by(interrupted, false);
    let _ = writeln!(
        out,
        "\ndeferred keys:{}",
        if deferred.is_empty() { " none" } else { "" }
    );
    for k in deferred {
        let _ = writeln!(out, "  {}", describe_key(k));
    }
    let _ = writeln!(
        out,
        "dropped keys:{}",
        if dropped.is_empty() && left.is_empty() {
            " none"
        } else {
            ""
        }
    );
    for l in left {
        let _ = writeln!(out, "  {l}");
    }
    for k in dropped {
        let _ = writeln!(out, "  {}: {}", describe_key(k), k.definition());
    }
    if plan.strategy() == Strategy::Revalidate {
        // A NOT VALID key, or one whose dropping would change what it is on
        // (a table Citus made local by itself), stays in place.
        let kept: Vec<&PlannedKey> = plan
            .keys()
            .iter()
            .filter(|k| k.action() == KeyAction::Keep)
            .collect();
        if !kept.is_empty() {
            let _ = writeln!(out, "keys kept in place (they check each row):");
            for k in kept {
                let _ = writeln!(out, "  {}", describe_key(k));
            }
        }
    }
    let unenforced: Vec<&PlannedKey> = plan.unenforced().collect();
    if !unenforced.is_empty() {
        let _ = writeln!(
            out,
            "keys set NOT ENFORCED for the load, then ENFORCED (one validating pass):"
        );
        for k in unenforced {
            let _ = writeln!(out, "  {}", describe_key(k));
        }
    }
}

/// The indexes (else the keys) the unfinished runs set aside, each with the
/// run that did it.
fn set_aside_by(interrupted: &[Pending], indexes: bool) -> Vec<String> {
    let mut left = Vec::new();
    for p in interrupted {
        let what: Vec<String> = if indexes {
            p.indexes_left().collect()
        } else {
            p.keys_left().collect()
        };
        left.extend(
            what.into_iter()
                .map(|o| format!("{o} by the unfinished run {}", p.run)),
        );
    }
    left
}

/// The indexes built after the data, and those an unfinished run dropped.
fn indexes(out: &mut String, plan: &Plan, interrupted: &[Pending]) {
    let left = set_aside_by(interrupted, true);
    if !left.is_empty() {
        let _ = writeln!(out, "dropped indexes:");
        for l in left {
            let _ = writeln!(out, "  {l}");
        }
    }
    if plan.indexes().is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "indexes built after the data (their tables are empty):"
    );
    for i in plan.indexes() {
        let _ = writeln!(out, "  {}: {}", i.table().human(), i.definition());
    }
}

fn describe_key(k: &PlannedKey) -> String {
    format!(
        "\"{}\" on {} -> {}",
        k.name(),
        k.table().human(),
        k.references().human()
    )
}

fn describe_action(k: &PlannedKey) -> String {
    let how = match k.action() {
        KeyAction::Keep => "kept".to_string(),
        KeyAction::Defer => "deferred (the key is DEFERRABLE; checked at commit)".into(),
        KeyAction::Drop { not_valid_first } => {
            let back = if !k.validated() {
                "added back NOT VALID, as it was"
            } else if not_valid_first {
                "added back NOT VALID, then VALIDATE CONSTRAINT"
            } else {
                "added back with a validating pass (partitioned table)"
            };
            if k.deferrable() {
                format!("dropped, {back}")
            } else {
                format!("dropped (not deferrable), {back}")
            }
        }
        KeyAction::Unenforce => "set NOT ENFORCED (not deferrable), then ENFORCED: one \
                                 validating pass, the key never leaves the catalog"
            .into(),
    };
    format!("{}: {how}", describe_key(k))
}
