//! The one configured entry point: a [`Loader`] made by a [`LoaderBuilder`]
//! from options (strategy, connections, truncation, resume, COPY batch size)
//! and a [`Connector`], with [`Loader::plan`] and [`Loader::load`]. It owns the
//! policy around a load: an interrupted parallel load is repaired first (or
//! resumed), a resumed load is a parallel one, the runner is chosen by the
//! number of connections, and a lock wait that ended a load is explained.
//!
//! [`Loader::plan_in`] and [`Loader::load_in`] run on a connection or an open
//! transaction of the caller's instead (one transaction, no journal): a test
//! can load inside its own transaction and roll it back.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use postgres::{Client, GenericClient};

use crate::connect::{Connector, Session};
use crate::error::Problems;
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::options::{OnOrphan, Options, StrategyChoice};
use crate::plan::{self, Plan, Purpose, Strategy};
use crate::rows::diagnose;
use crate::rows::edits::FileEdits;
use crate::rows::policy::{self, Rejected};
use crate::run::check;
use crate::run::journal;
use crate::run::parallel;
use crate::run::repair;
use crate::run::report::Report;
use crate::run::stop::Stop;
use crate::run::transaction;

/// Builds a [`Loader`].
///
/// ```no_run
/// # fn main() -> Result<(), fkload::Error> {
/// let info = fkload::conninfo::ConnInfo::resolve(
///     &fkload::conninfo::Overrides { dbname: Some("shop".into()), ..Default::default() },
///     &|k| std::env::var(k).ok(),
/// )?; // a ConnInfoError is an fkload::Error (ErrorKind::Settings)
/// let loader = fkload::Loader::builder()
///     .connector(fkload::Connector::new(&info).setting("lock_timeout", "5s"))
///     .jobs(2)
///     .build();
/// let plan = loader.plan("fixtures/shop/data")?;
/// let report = loader.load(&plan, &mut |_event| {})?;
/// println!("{report}");
/// # Ok(())
/// # }
/// ```
#[derive(Default)]
pub struct LoaderBuilder {
    options: Options,
    connector: Option<Connector>,
    control: Option<(Client, Session)>,
}

impl std::fmt::Debug for LoaderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoaderBuilder")
            .field("options", &self.options)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("options", &self.options)
            .field("connector", &self.connector)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Cancel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cancel").finish_non_exhaustive()
    }
}

impl LoaderBuilder {
    /// How keys are checked. Without it a load chooses by input size
    /// ([`Plan::REVALIDATE_FROM_BYTES`]); a check always revalidates.
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> LoaderBuilder {
        self.options.strategy = match strategy {
            Strategy::Keep => StrategyChoice::Keep,
            Strategy::Revalidate => StrategyChoice::Revalidate,
        };
        self
    }

    /// Sends each file as COPY statements of about this many bytes, cut at
    /// record boundaries (default 64 MiB).
    #[must_use]
    pub fn batch_bytes(mut self, bytes: u64) -> LoaderBuilder {
        self.options.batch_bytes = bytes.max(1);
        self
    }

    /// Loads over this many connections, one transaction per file (or part):
    /// not atomic while it runs; a failure takes the committed rows out again.
    #[must_use]
    pub fn jobs(mut self, jobs: usize) -> LoaderBuilder {
        self.options.jobs = jobs.max(1);
        self
    }

    /// Empties the loaded tables first, in the load's transaction.
    #[must_use]
    pub fn truncate(mut self, truncate: bool) -> LoaderBuilder {
        self.options.truncate = truncate;
        self
    }

    /// With [`LoaderBuilder::truncate`]: tables outside the load that
    /// reference an emptied table (directly or through each other) must be
    /// emptied in the same `TRUNCATE`. Empty ones always are (the plan lists
    /// them in [`Plan::also_emptied`]); ones that hold rows
    /// make the plan fail ([`ErrorKind::TruncateReferenced`](crate::ErrorKind))
    /// unless `cascade` is true.
    #[must_use]
    pub fn cascade(mut self, cascade: bool) -> LoaderBuilder {
        self.options.cascade = cascade;
        self
    }

    /// Finishes a parallel load that was interrupted (a resumed load is a
    /// parallel one) instead of repairing it first.
    #[must_use]
    pub fn resume(mut self, resume: bool) -> LoaderBuilder {
        self.options.resume = resume;
        self
    }

    /// `--on-error skip`: each row the server refuses on its own (a value
    /// its column's type refuses, text too long, a NULL in a NOT NULL
    /// column, a CHECK, too many or too few fields, bytes not in the file's
    /// encoding) is set aside into the file's reject file in
    /// [`LoaderBuilder::reject_dir`], with its line and the server's
    /// message, and the rest loads, every key and constraint enforced
    /// (default false: the first such row stops the load). The rows set
    /// aside are in [`Report::refused`](crate::Report::refused), by file and
    /// reason.
    #[must_use]
    pub fn skip_refused_rows(mut self, skip: bool) -> LoaderBuilder {
        self.options.skip_refused = skip;
        self
    }

    /// Lists at most this many examples per problem (orphan rows, missing
    /// parent keys, duplicated keys, rows refused for one reason) in errors
    /// and checks (default 20); the counts are always complete.
    #[must_use]
    pub fn max_examples(mut self, max: usize) -> LoaderBuilder {
        self.options.max_examples = max;
        self
    }

    /// What a load does with rows whose foreign key has no parent row
    /// (default: fail, and report every violated key).
    #[must_use]
    pub fn on_orphan(mut self, policy: OnOrphan) -> LoaderBuilder {
        self.options.on_orphan = policy;
        self
    }

    /// Loads only the tables that match one of `patterns` (`-t`), as psql
    /// reads a pattern (`sales.order*`, `"Mixed Case"`, `?` and `*`); the
    /// files of the others are left out, and listed in [`Plan::ignored`]
    /// with why. Each call adds patterns; by default every table.
    #[must_use]
    pub fn tables<S: Into<String>>(
        mut self,
        patterns: impl IntoIterator<Item = S>,
    ) -> LoaderBuilder {
        let s = &mut self.options.selection;
        s.tables.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Loads only the tables of the schemas that match one of `patterns`
    /// (`-n`), as [`LoaderBuilder::tables`] does.
    #[must_use]
    pub fn schemas<S: Into<String>>(
        mut self,
        patterns: impl IntoIterator<Item = S>,
    ) -> LoaderBuilder {
        let s = &mut self.options.selection;
        s.schemas.extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Leaves out the tables that match one of `patterns` (`-T`), even when
    /// they match [`LoaderBuilder::tables`].
    #[must_use]
    pub fn exclude_tables<S: Into<String>>(
        mut self,
        patterns: impl IntoIterator<Item = S>,
    ) -> LoaderBuilder {
        let s = &mut self.options.selection;
        s.exclude_tables
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// Leaves out the tables of the schemas that match one of `patterns`
    /// (`-N`).
    #[must_use]
    pub fn exclude_schemas<S: Into<String>>(
        mut self,
        patterns: impl IntoIterator<Item = S>,
    ) -> LoaderBuilder {
        let s = &mut self.options.selection;
        s.exclude_schemas
            .extend(patterns.into_iter().map(Into::into));
        self
    }

    /// How the files are written (delimiter, quote, escape, NULL string,
    /// header, encoding): over the top of the directory's `fkload.toml`,
    /// under each file's own table in it, and for `.tsv` files over their
    /// tab. Checked as COPY checks its options when the plan is made.
    #[must_use]
    pub fn dialect(mut self, dialect: crate::input::dialect::DialectOptions) -> LoaderBuilder {
        self.options.dialect = dialect;
        self
    }

    /// Where [`LoaderBuilder::on_orphan`] writes the rows it sets aside or
    /// changes: one `<file>.rejects.csv` per file (default `fkload-rejects`).
    #[must_use]
    pub fn reject_dir(mut self, dir: impl Into<PathBuf>) -> LoaderBuilder {
        self.options.reject_dir = dir.into();
        self
    }

    /// How the loader connects (every connection it makes).
    #[must_use]
    pub fn connector(mut self, connector: Connector) -> LoaderBuilder {
        self.connector = Some(connector);
        self
    }

    /// A connection, made by the connector ([`Connector::session`]), to use
    /// as the control connection (the one that plans, and runs a
    /// one-transaction load).
    #[must_use]
    pub fn control(mut self, client: Client, session: Session) -> LoaderBuilder {
        self.control = Some((client, session));
        self
    }

    pub fn build(self) -> Loader {
        let mut options = self.options;
        if options.resume {
            // A resumed load is a parallel one, however many connections.
            options.jobs = options.jobs.max(2);
        }
        Loader {
            options,
            connector: self.connector,
            control: Mutex::new(self.control),
            cancel: Cancel::default(),
        }
    }
}

/// Loads a directory of CSV files in foreign-key order. See the crate docs.
pub struct Loader {
    options: Options,
    connector: Option<Connector>,
    /// The control connection, made on first use, and its session.
    control: Mutex<Option<(Client, Session)>>,
    cancel: Cancel,
}

impl Loader {
    /// A builder with the default options and no connector.
    pub fn builder() -> LoaderBuilder {
        LoaderBuilder::default()
    }

    /// Reads the data directory and the catalog, on the control connection,
    /// and makes the plan. Writes nothing.
    ///
    /// # Errors
    /// See [`Loader::plan_in`]; [`ErrorKind::NoConnector`] without a connector.
    pub fn plan(&self, dir: impl AsRef<Path>) -> Result<Plan, Error> {
        let mut control = self.control()?;
        let (client, _) = control_client(&mut control)?;
        self.plan_in(client, dir)
    }

    /// [`Loader::plan`] on a connection or transaction of the caller's.
    ///
    /// # Errors
    /// [`ErrorKind::Io`], [`ErrorKind::NotAFile`], [`ErrorKind::Header`] for
    /// files; [`ErrorKind::UnknownTable`], [`ErrorKind::AmbiguousTable`],
    /// [`ErrorKind::DuplicateFile`], [`ErrorKind::UnknownColumn`],
    /// [`ErrorKind::GeneratedColumn`] when files and tables do not fit;
    /// [`ErrorKind::TruncateInParallel`]; [`ErrorKind::Sql`] or
    /// [`ErrorKind::ConnectionLost`] from the catalog reads.
    pub fn plan_in(
        &self,
        client: &mut impl GenericClient,
        dir: impl AsRef<Path>,
    ) -> Result<Plan, Error> {
        plan::make(client, dir.as_ref(), &self.options, Purpose::Load)
    }

    /// The earlier parallel loads that did not finish (`fkload.journal`), on
    /// the control connection, with what each left: some of its rows
    /// committed, its keys and indexes set aside (so not among a plan's
    /// [`Plan::keys`] and [`Plan::indexes`]). A plan made now is of the
    /// database as they left it; a load repairs them first and plans again
    /// (unless it resumes one), and a check refuses them. Reads only: no lock,
    /// nothing created; a standby will do.
    ///
    /// # Errors
    /// [`ErrorKind::Sql`] or [`ErrorKind::ConnectionLost`] when the journal
    /// cannot be read; [`ErrorKind::NoConnector`] without a connector.
    pub fn interrupted(&self) -> Result<Vec<crate::error::Pending>, Error> {
        let mut control = self.control()?;
        let (client, _) = control_client(&mut control)?;
        journal::pending(client)
    }

    /// The plan of every table of the database, as if each had a file (what
    /// `fkload graph --all` draws: an ordinary plan, with each step's file
    /// empty, for showing, not for loading), on the control
    /// connection. Reads only.
    ///
    /// # Errors
    /// [`ErrorKind::Sql`] or [`ErrorKind::ConnectionLost`] from the catalog
    /// reads; [`ErrorKind::NoConnector`] without a connector.
    pub fn overview(&self) -> Result<Plan, Error> {
        let mut control = self.control()?;
        let (client, _) = control_client(&mut control)?;
        crate::plan::overview::plan(client)
    }

    /// Runs `plan` on connections the connector makes: in one transaction, or
    /// over [`LoaderBuilder::jobs`] connections. A journal that an interrupted
    /// parallel load left is repaired first (an [`Event::Repaired`] says so,
    /// and the plan is made again, as the keys and indexes it put back change
    /// it), unless this load resumes it. A load that ended on a lock wait or a
    /// timeout names the sessions that held locks on its tables.
    ///
    /// # Errors
    /// See [`Loader::load_in`]; for a parallel load, [`ErrorKind::Interrupted`],
    /// [`ErrorKind::LoadRunning`], [`ErrorKind::JournalNotTrusted`],
    /// [`ErrorKind::NothingToResume`], [`ErrorKind::Cleanup`];
    /// [`ErrorKind::Blocked`] around an error a lock wait caused;
    /// [`ErrorKind::Stopped`] when a parallel load was stopped by
    /// [`Cancel::cancel`];
    /// [`ErrorKind::NoConnector`] without a connector.
    pub fn load(&self, plan: &Plan, observer: &mut dyn FnMut(Event<'_>)) -> Result<Report, Error> {
        let mut control = self.control()?;
        let (client, session) = control_client(&mut control)?;
        self.writable(session)?;
        let stop = &self.cancel.0;
        stop.arm(self.connector()?.clone());
        let result = {
            let _control = stop.register(client.cancel_token());
            self.load_armed(client, plan, observer)
        };
        stop.disarm();
        result
    }

    /// [`Loader::load`] once a cancel can reach it.
    fn load_armed(
        &self,
        client: &mut Client,
        plan: &Plan,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Error> {
        let replanned;
        let mut plan = plan;
        if !self.options.resume
            && let Some(run) = repair::repair(client, false)?
        {
            observer(Event::Repaired { run: &run });
            replanned = self.plan_in(client, &plan.dir)?;
            plan = &replanned;
        }
        let mut before = self.before_load(client, plan, observer)?;
        let refused = std::mem::take(&mut before.refused);
        let edited = &before.edited;
        let plan = before.plan.as_ref().unwrap_or(plan);
        let result = if plan.jobs > 1 {
            let connector = self.connector()?;
            parallel::run(
                client,
                connector,
                plan,
                edited,
                self.options.resume,
                &self.cancel.0,
                observer,
            )
        } else {
            transaction::run(client, plan, edited, observer)
        };
        let result = result
            .map(|r| with_rejected(r, plan, &before, refused))
            .map_err(|e| self.every_problem(client, plan, e, observer));
        // A lock wait that ran out: name who holds the locks, on a new
        // connection (the load's own may be out of step).
        // A duplicate in a table that held rows: say how many, on a new
        // connection too.
        result.map_err(|e| match self.connector().and_then(Connector::connect) {
            Ok(mut fresh) => {
                let e = diagnose::explain_wait(&mut fresh, plan, e);
                diagnose::rows_held(&mut fresh, plan, e)
            }
            Err(_) => e,
        })
    }

    /// Checks the data of `dir` without loading it: every file loaded in a
    /// transaction that is rolled back, every key and unique index checked
    /// after the data (see `fkload check` in README.md). Returns what would
    /// keep it from loading, empty when it would load; the database (its
    /// sequences included) is as it was.
    ///
    /// # Errors
    /// [`ErrorKind::UnfinishedLoad`] when an earlier parallel load did not
    /// finish (see [`Loader::interrupted`]): nothing is checked then. What
    /// [`Loader::plan`] reports (the check needs a plan), and what stops the
    /// check itself (a lost connection); problems of the data are in the
    /// returned [`Problems`].
    pub fn check(
        &self,
        dir: impl AsRef<Path>,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Problems, Error> {
        let mut control = self.control()?;
        let (client, session) = control_client(&mut control)?;
        self.writable(session)?;
        self.check_in(client, dir, observer)
    }

    /// [`Loader::check`] on a connection or an open transaction of the
    /// caller's (the check runs in a savepoint of it, rolled back).
    ///
    /// # Errors
    /// As [`Loader::check`].
    pub fn check_in(
        &self,
        client: &mut impl GenericClient,
        dir: impl AsRef<Path>,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Problems, Error> {
        // An unfinished parallel load holds part of its rows with its keys
        // set aside: checked over it, the data would seem to load (or fail)
        // for reasons a load, which undoes the run first, does not meet.
        let runs = journal::pending(client)?;
        if !runs.is_empty() {
            return Err(Error::new(ErrorKind::UnfinishedLoad { runs }));
        }
        let plan = plan::make(client, dir.as_ref(), &self.options, Purpose::Check)?;
        check::run(client, &plan, observer)
    }

    /// A load that failed on a key reports every problem of its data, as
    /// `check` finds them, not only the key the server stopped at (which
    /// depends on the strategy and the order): one violated key alone stays
    /// [`ErrorKind::ForeignKey`], with every orphan row of it, whatever the
    /// entry point; more is [`ErrorKind::Problems`] (see
    /// [`Error::violations`]). The load is rolled back (or,
    /// in parallel, undone) by then; should the check itself fail or find
    /// nothing, the load's own error stands, and says why it lists no rows.
    fn every_problem(
        &self,
        client: &mut impl GenericClient,
        plan: &Plan,
        e: Error,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Error {
        if !matches!(e.kind(), ErrorKind::ForeignKey { .. }) {
            return e;
        }
        observer(Event::ListingProblems);
        let why = match self.check_in(client, &plan.dir, observer) {
            Ok(problems) if !problems.is_empty() => return e.with_problems(problems),
            Ok(_) => "the check after the rollback found no orphan row: the rows \
                      or their parents were not the same the second time"
                .to_string(),
            Err(c) => format!("the check after the rollback failed: {c}"),
        };
        let mut e = e;
        if let ErrorKind::ForeignKey { violation, .. } = e.kind_mut()
            && violation.not_searched
        {
            violation.search_failed = Some(why);
            violation.not_searched = false;
        }
        e
    }

    /// Runs `plan` in one transaction on a connection of the caller's, or in a
    /// savepoint of the caller's open transaction (the caller then commits or
    /// rolls back). No journal, no repair: a parallel plan is run in one
    /// transaction too.
    ///
    /// # Errors
    /// [`ErrorKind::Copy`] with file and line when the server rejects a row;
    /// [`ErrorKind::ForeignKey`] with every orphan row when one key is
    /// violated, [`ErrorKind::Problems`] when several are or the data has
    /// other problems too ([`Error::violations`] lists the keys either way);
    /// [`ErrorKind::Duplicate`]; [`ErrorKind::NotRestored`]; [`ErrorKind::Io`];
    /// [`ErrorKind::Sql`] and [`ErrorKind::ConnectionLost`]. The load's own
    /// transaction (or savepoint) is rolled back.
    pub fn load_in(
        &self,
        client: &mut impl GenericClient,
        plan: &Plan,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<Report, Error> {
        let mut before = self.before_load(client, plan, observer)?;
        let refused = std::mem::take(&mut before.refused);
        let plan = before.plan.as_ref().unwrap_or(plan);
        transaction::run(client, plan, &before.edited, observer)
            .map(|r| with_rejected(r, plan, &before, refused))
            .map_err(|e| self.every_problem(client, plan, e, observer))
    }

    /// Undoes what an interrupted parallel load left (see
    /// `parallel`): its rows out, every key and index it dropped back
    /// and checked. Returns the run's id, or `None` when there was nothing to
    /// repair.
    ///
    /// # Errors
    /// Journal, lock and server errors; [`ErrorKind::NotRestored`] (the
    /// journal is then kept); [`ErrorKind::NoConnector`] without a connector;
    /// [`ErrorKind::UndoMismatch`] when a table would lose another number of
    /// rows than the run loaded into it (nothing is taken out of it then).
    pub fn repair(&self) -> Result<Option<String>, Error> {
        self.repair_with(false)
    }

    /// [`Loader::repair`], taking out of each table the rows still carrying
    /// the run's transaction id even when their number is not the number the
    /// run loaded (rows of the run others changed since stay, with their
    /// changes).
    ///
    /// # Errors
    /// As [`Loader::repair`], but never [`ErrorKind::UndoMismatch`].
    pub fn repair_force(&self) -> Result<Option<String>, Error> {
        self.repair_with(true)
    }

    fn repair_with(&self, force: bool) -> Result<Option<String>, Error> {
        let mut control = self.control()?;
        let (client, session) = control_client(&mut control)?;
        self.writable(session)?;
        repair::repair(client, force)
    }

    /// Refuses a session a load may not write to (a standby or a read-only
    /// session): the connector's rule (see `Session::ready_for_load`).
    fn writable(&self, session: &Session) -> Result<(), Error> {
        session.ready_for_load(self.connector.as_ref())
    }

    /// The control session: where the loader is connected, as the server
    /// says it.
    ///
    /// # Errors
    /// As [`Connector::connect`].
    pub fn session(&self) -> Result<Session, Error> {
        let mut control = self.control()?;
        let (_, session) = control_client(&mut control)?;
        Ok(session.clone())
    }

    /// A handle that stops a running load from another thread (a Ctrl-C
    /// handler): a one-transaction load's running statement fails and
    /// everything rolls back; a parallel load stops and returns
    /// [`ErrorKind::Stopped`], resumable (see [`Cancel`]).
    pub fn cancel_handle(&self) -> Cancel {
        self.cancel.clone()
    }

    fn connector(&self) -> Result<&Connector, Error> {
        self.connector
            .as_ref()
            .ok_or_else(|| Error::new(ErrorKind::NoConnector))
    }

    /// The control connection, made now if it is not there yet.
    fn control(&self) -> Result<MutexGuard<'_, Option<(Client, Session)>>, Error> {
        let mut guard = self
            .control
            .lock()
            .map_err(|_| Error::new(ErrorKind::WorkerPanicked("control")))?;
        if guard.is_none() {
            *guard = Some(self.connector()?.session()?);
        }
        Ok(guard)
    }
}

/// The client and session a [`Loader::control`] guard holds (it always holds
/// one).
/// The report with what `--on-orphan` did to each file.
/// What is decided before the load: the rows the orphan policy (and
/// `--on-error skip` with it) leaves out or changes.
struct BeforeLoad {
    edited: FileEdits,
    rejected: Vec<Rejected>,
    /// The rows the server refuses, by file and reason, when they were
    /// found before the load.
    refused: Vec<Error>,
    reject_dir: PathBuf,
    /// The plan to load with instead, when it differs: with the refused
    /// rows already left out, the load stops at any other.
    plan: Option<Plan>,
}

impl Loader {
    /// Decides what the orphan policy leaves out or changes. With
    /// `--on-error skip` too, the rows the server refuses are found first
    /// (`check::refused_rows`, a check of the rows alone, rolled back): a
    /// parent refused orphans its children, which the policy then decides
    /// on; the refused rows go to the reject files with the orphans.
    fn before_load(
        &self,
        client: &mut impl GenericClient,
        plan: &Plan,
        observer: &mut dyn FnMut(Event<'_>),
    ) -> Result<BeforeLoad, Error> {
        let first = plan.refused_to.is_some()
            && self.options.on_orphan != OnOrphan::Error
            && !plan.keys.is_empty();
        let mut gone: Vec<Vec<(u64, String)>> = vec![Vec::new(); plan.steps.len()];
        let mut refused = Vec::new();
        if first {
            let judged = plan::make(client, &plan.dir, &self.options, Purpose::Check)?;
            for (path, mut tally) in check::refused_rows(client, &judged, observer)? {
                if let Some(step) = plan.steps.iter().find(|s| s.file.path == path) {
                    gone[step.index] = tally.take_every();
                    refused.extend(tally.into_problems(step));
                }
            }
        }
        let (edited, rejected) = policy::apply(
            client,
            plan,
            self.options.on_orphan,
            &self.options.reject_dir,
            &gone,
            observer,
        )?;
        let plan = first.then(|| {
            let mut p = plan.clone();
            p.refused_to = None;
            p
        });
        Ok(BeforeLoad {
            edited,
            rejected,
            refused,
            plan,
            reject_dir: self.options.reject_dir.clone(),
        })
    }
}

/// `report` with what was decided `before` the load, and the rows the
/// server refuses found then (`refused`).
fn with_rejected(
    mut report: Report,
    plan: &Plan,
    before: &BeforeLoad,
    refused: Vec<Error>,
) -> Report {
    let rejected = &before.rejected;
    report.refused.extend(refused);
    for t in report.tables.iter_mut() {
        if let Some(r) = plan
            .steps
            .iter()
            .find(|s| s.file.path == t.path)
            .and_then(|s| rejected.get(s.index))
        {
            t.skipped = r.skipped;
            t.nulled = r.nulled;
            t.refused += r.refused;
        }
    }
    report
        .rejects
        .extend(rejected.iter().filter_map(|r| r.file.clone()));
    let refused: u64 = rejected.iter().map(|r| r.refused).sum();
    if refused > 0 {
        report.warnings.push(crate::run::pipeline::refused_warning(
            refused,
            &before.reject_dir,
        ));
    }
    report
}

fn control_client<'a>(
    guard: &'a mut MutexGuard<'_, Option<(Client, Session)>>,
) -> Result<(&'a mut Client, &'a Session), Error> {
    guard
        .as_mut()
        .map(|(c, s)| (c, &*s))
        .ok_or_else(|| Error::new(ErrorKind::NoConnector))
}

/// Stops a running load (see [`Loader::cancel_handle`]): a one-transaction
/// load rolls back; a parallel load starts nothing more, cancels the running
/// statement of each of its connections and returns [`ErrorKind::Stopped`],
/// leaving its journal for a resumed load or a repair.
#[derive(Clone, Default)]
pub struct Cancel(Stop);

impl Cancel {
    /// Asks the server to cancel the statements the load is running, and
    /// stops a parallel load; nothing when no load runs. Returns whether a
    /// load was running. While a failed parallel load is being undone, the
    /// undo is not cancelled: it runs to its end (see [`Cancel::is_undoing`]).
    pub fn cancel(&self) -> bool {
        self.0.stop()
    }

    /// Whether a failed parallel load is being undone now: a cancel lets the
    /// undo finish.
    pub fn is_undoing(&self) -> bool {
        self.0.is_undoing()
    }
}
