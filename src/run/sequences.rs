//! Sequences that feed loaded columns (serial, identity, or a `nextval()`
//! default on any sequence) are moved past the loaded values at the end of a
//! load, so that the next insert does not collide.

use postgres::Transaction;

use crate::database::catalog::SequenceFeed;
use crate::database::db;
use crate::error::Error;
use crate::plan::Plan;
use crate::run::report::Report;
use crate::sql::{QualName, ident};

/// Moves every sequence that feeds a loaded column past the loaded values, so
/// that the next insert does not collide. A sequence never moves backwards, and
/// never past its own bounds (the data then holds values the sequence can never
/// give; a warning says so).
///
/// `setval` is not undone by a rollback, so every target is worked out first
/// (reads only) and the sequences are moved last, just before COMMIT, when
/// nothing else can fail. The `nextval` calls that column defaults made during
/// the load are not undone by a rollback either: that is PostgreSQL's rule.
pub(crate) fn advance(
    tx: &mut Transaction<'_>,
    plan: &Plan,
    report: &mut Report,
) -> Result<(), Error> {
    // Per sequence: the value to set (the furthest loaded value of all columns it
    // feeds), or none when the sequence is already past it.
    let mut targets: Vec<(&SequenceFeed, i64)> = Vec::new();
    for step in &plan.steps {
        for feed in &step.sequences {
            let during = format!("advancing sequence {}", feed.sequence.human());
            let ascending = feed.increment > 0;
            let agg = if ascending { "max" } else { "min" };
            let sql = format!(
                "SELECT {agg}({})::int8 FROM {}",
                ident(&feed.column),
                step.table.name
            );
            let extreme: Option<i64> = db::query_one(tx, &sql, &[], &during)?.get(0);
            let Some(extreme) = extreme else { continue };
            match targets
                .iter_mut()
                .find(|(f, _)| f.sequence == feed.sequence)
            {
                Some((_, v)) if ascending => *v = (*v).max(extreme),
                Some((_, v)) => *v = (*v).min(extreme),
                None => targets.push((feed, extreme)),
            }
        }
    }
    let mut moves: Vec<(QualName, i64)> = Vec::new();
    for (feed, extreme) in targets {
        let during = format!("advancing sequence {}", feed.sequence.human());
        let ascending = feed.increment > 0;
        if (ascending && extreme > feed.max) || (!ascending && extreme < feed.min) {
            report.warnings.push(format!(
                "sequence {} was not advanced: the loaded value {extreme} of {} is beyond its {} {}",
                feed.sequence.human(),
                crate::sql::human_ident(&feed.column),
                if ascending { "maximum" } else { "minimum" },
                if ascending { feed.max } else { feed.min },
            ));
            continue;
        }
        let sql = format!("SELECT last_value, is_called FROM {}", feed.sequence);
        let row = db::query_one(tx, &sql, &[], &during)?;
        let (last, called): (i64, bool) = (row.get(0), row.get(1));
        let next = if called {
            last.saturating_add(feed.increment)
        } else {
            last
        };
        let behind = if ascending {
            extreme >= next
        } else {
            extreme <= next
        };
        if behind {
            moves.push((feed.sequence.clone(), extreme));
        }
    }
    for (sequence, value) in moves {
        let during = format!("advancing sequence {}", sequence.human());
        db::query_one(
            tx,
            "SELECT setval($1::text::regclass, $2, true)",
            &[&sequence.to_string(), &value],
            &during,
        )?;
        report.sequences.push((sequence, value));
    }
    Ok(())
}
