//! Progress on stderr: a bar over all bytes to load while a terminal watches
//! (indicatif hides it otherwise), and with `-v` a line per table and phase.

use std::time::Duration;

use fkload::plan::KeyAction;
use fkload::{Event, Plan};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    verbose: bool,
    /// Bytes sent per file (several load at once with -j).
    sent: Vec<u64>,
}

impl Progress {
    pub fn new(plan: &Plan, verbose: bool, quiet: bool) -> Progress {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(plan.bytes()), target);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:30} {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} eta {eta} {wide_msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress {
            bar,
            verbose,
            sent: vec![0; plan.steps().len()],
        }
    }

    pub fn event(&mut self, e: Event<'_>) {
        match e {
            Event::Repaired { run } => {
                self.bar.suspend(|| {
                    errln!(
                        "fkload: WARNING:  an earlier parallel load (run {run}) did not finish; its rows were taken out and its keys and indexes put back"
                    );
                });
            }
            Event::Progress { step, sent } => {
                if let Some(s) = self.sent.get_mut(step.index()) {
                    *s = sent;
                }
                self.bar.set_position(self.sent.iter().sum());
            }
            Event::TableLoaded {
                step,
                rows,
                text_bytes,
                elapsed,
            } => {
                let text = if !step.compressed() {
                    String::new()
                } else {
                    format!(
                        " ({} of text from {})",
                        super::human_bytes(text_bytes),
                        super::human_bytes(step.bytes())
                    )
                };
                self.say(format!(
                    "  {rows} rows{text} in {:.2}s",
                    elapsed.as_secs_f64()
                ));
            }
            other => {
                if let Some((status, line)) = phase(other) {
                    self.bar.set_message(status);
                    self.say(line);
                }
            }
        }
    }

    fn say(&self, line: String) {
        if self.verbose {
            self.bar.suspend(|| errln!("fkload: {line}"));
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// What the bar shows and `-v` says as a phase of the load begins (a file,
/// a key, an index, a search); `None` for an event that begins none.
fn phase(e: Event<'_>) -> Option<(String, String)> {
    match e {
        Event::TableStarted { step: s } => Some((
            s.table().human(),
            format!("loading {} into {}", s.path().display(), s.table().human()),
        )),
        Event::RestoringKey { key } => {
            let what = if key.action() == KeyAction::Unenforce {
                "enforcing again"
            } else {
                "adding back"
            };
            Some((
                format!("{what} {}", key.name()),
                format!("{what} key \"{}\" on {}", key.name(), key.table().human()),
            ))
        }
        Event::BuildingIndex { index } => Some((
            format!("building {}", index.name()),
            format!(
                "building index \"{}\" on {}",
                index.name(),
                index.table().human()
            ),
        )),
        Event::SearchingOrphans { key, round } => Some((
            format!("finding orphans of {}", key.name()),
            format!(
                "finding the rows of {} that break key \"{}\" (round {round})",
                key.table().human(),
                key.name()
            ),
        )),
        Event::ListingOrphans { key, in_place } => Some((
            format!("finding orphans of {}", key.name()),
            listing_orphans(key, in_place),
        )),
        Event::ListingProblems => Some((
            "listing every problem".into(),
            "the load failed on a key and was rolled back; checking the data to list every problem"
                .into(),
        )),
        Event::CheckingDeferred => Some((
            "checking deferred keys".into(),
            "checking deferred keys".into(),
        )),
        Event::Committing => Some(("committing".into(), "committing".into())),
        _ => None,
    }
}

/// What `-v` says while a violated key's orphan rows are found.
pub fn listing_orphans(key: &fkload::plan::PlannedKey, in_place: bool) -> String {
    format!(
        "key \"{}\" is violated: finding the rows of {} that break it, {}",
        key.name(),
        key.table().human(),
        if in_place {
            "in the table"
        } else {
            "reading the files again"
        }
    )
}
