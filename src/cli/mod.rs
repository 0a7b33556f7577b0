//! The command line: clap types, the connection prompt, and how results and
//! errors are printed. The only module that knows about terminals.
//!
//! Exit codes are psql's (see [`exit`]).

/// `eprintln!` for the command's own lines, which never fails: a stderr
/// closed by its reader (`2>&1 | head`) must not abort or undo a load, so a
/// line that cannot be written is dropped (see [`err`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::err(&format!("{}\n", format_args!($($arg)*)))
    };
}

mod account;
mod describe;
mod errors;
pub mod exit;
mod graph;
mod progress;

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{ArgAction, Parser};
use fkload::conninfo::{ConnInfo, Overrides};
use fkload::{Connector, Error, ErrorKind, Event, Loader, LoaderBuilder, OnOrphan, Strategy};

/// Examples and exit codes, after the options.
const AFTER_HELP: &str = "\
Examples:
  fkload -d shop ./data                        load ./data into database shop
  fkload -d shop -l ./data                     print the plan, write nothing
  fkload -d shop check ./data                  list every problem, load nothing
  fkload -d shop -j 2 ./data                   load over two connections
  fkload --schema-file schema.sql check ./data check fixtures with no database service
  fkload --delimiter ';' --null '\\N' -d shop ./export
                                               load semicolon files with MySQL's NULL

Exit codes:
  0  loaded (check: the data would load)
  1  fkload's own error (usage, files, headers, the plan; check: problems found);
     nothing was written
  2  the connection failed or was lost, or its settings are invalid
  3  the server rejected a row or a statement; everything was rolled back
  4  interrupted (SIGINT, SIGTERM): a parallel load stopped, left for --resume
     or repair (a one-transaction load rolls back and exits 3)";

/// Bulk-load a directory of CSV files into PostgreSQL in foreign-key order.
///
/// Each `<table>.csv`, `<schema>.<table>.csv` or `<schema>/<table>.csv` file of
/// DIR (with a header row naming the columns) is loaded into that table, parents
/// before children, in one transaction: all or nothing.
#[derive(Debug, Parser)]
#[command(
    name = "fkload",
    version,
    disable_help_flag = true,
    disable_help_subcommand = true,
    override_usage = "fkload [OPTIONS] DIR\n       fkload [OPTIONS] check [OPTIONS] DIR\n       fkload [OPTIONS] graph [--format dot|mermaid] DIR|--all\n       fkload [OPTIONS] repair [OPTIONS]\n       fkload --schema-file FILE [OPTIONS] up DIR",
    after_help = AFTER_HELP,
    subcommand_negates_reqs = true,
    args_conflicts_with_subcommands = false
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// The data directory.
    #[arg(value_name = "DIR", required = true)]
    pub dir: Option<PathBuf>,

    /// Database name, or a postgres:// URI or "key=value" connection string
    /// [default: $DATABASE_URL, then $PGDATABASE, then the user name]
    #[arg(
        short = 'd',
        long = "dbname",
        value_name = "DBNAME",
        global = true,
        help_heading = "Connection options"
    )]
    pub dbname: Option<String>,

    /// Database server host or socket directory [default: $PGHOST, then
    /// /var/run/postgresql, then localhost]
    #[arg(
        short = 'h',
        long = "host",
        value_name = "HOSTNAME",
        global = true,
        help_heading = "Connection options"
    )]
    pub host: Option<String>,

    /// Database server port [default: $PGPORT, then 5432]
    #[arg(
        short = 'p',
        long = "port",
        value_name = "PORT",
        global = true,
        help_heading = "Connection options"
    )]
    pub port: Option<String>,

    /// Database user name [default: $PGUSER, then the OS user]
    #[arg(
        short = 'U',
        long = "username",
        value_name = "USERNAME",
        global = true,
        help_heading = "Connection options"
    )]
    pub username: Option<String>,

    /// Never prompt for a password
    #[arg(
        short = 'w',
        long = "no-password",
        conflicts_with = "password",
        global = true,
        help_heading = "Connection options"
    )]
    pub no_password: bool,

    /// Prompt for a password before connecting
    #[arg(
        short = 'W',
        long = "password",
        global = true,
        help_heading = "Connection options"
    )]
    pub password: bool,

    /// Start a throwaway PostgreSQL server from this machine's server
    /// binaries, create the database from FILE (SQL, e.g. pg_dump
    /// --schema-only), do the job there, and remove the server (instead of
    /// connecting: not with -d, -h, -p, -U)
    #[arg(
        long = "schema-file",
        value_name = "FILE",
        global = true,
        conflicts_with_all = ["dbname", "host", "port", "username", "password"],
        help_heading = "Connection options"
    )]
    pub schema_file: Option<PathBuf>,

    /// Print the load plan (order, levels, cycles, deferred and dropped keys) and
    /// write nothing
    #[arg(short = 'l', long = "list", help_heading = "Load options")]
    pub list: bool,

    /// How foreign keys are checked: keep (in place, per row), revalidate
    /// (dropped, then re-added with one validating pass; indexes of empty
    /// tables built after the data), or auto (by input size)
    #[arg(long = "strategy", value_enum, default_value_t = StrategyArg::Auto, help_heading = "Load options")]
    pub strategy: StrategyArg,

    /// Load over N connections, one transaction per file (not atomic while it
    /// runs; a failure takes the committed rows out again)
    #[arg(
        short = 'j',
        long = "jobs",
        value_name = "N",
        default_value_t = 1,
        help_heading = "Load options"
    )]
    pub jobs: usize,

    /// Empty the loaded tables first, in the same transaction (then COPY writes
    /// the rows frozen where it can); a failure gives the old rows back
    #[arg(long = "truncate", help_heading = "Load options")]
    pub truncate: bool,

    /// Give up waiting for a lock after this long (as PostgreSQL's lock_timeout:
    /// 500ms, 5s, 2min; 0 waits forever), and name the sessions holding it
    #[arg(long = "lock-timeout", value_name = "DURATION", default_value = "5s", value_parser = parse_duration, global = true, help_heading = "Connection options")]
    pub lock_timeout: String,

    /// Cancel any statement that runs longer than this (statement_timeout;
    /// 0, the default, never)
    #[arg(long = "statement-timeout", value_name = "DURATION", default_value = "0", value_parser = parse_duration, global = true, help_heading = "Connection options")]
    pub statement_timeout: String,

    /// What to do with rows whose foreign key has no parent row: error (fail
    /// and report every violated key), skip (leave them out), null (set
    /// their key to NULL where that satisfies it, else leave them out);
    /// skipped and changed rows go to the reject files
    #[arg(long = "on-orphan", value_enum, default_value_t = OnOrphanArg::Error, help_heading = "Load options")]
    pub on_orphan: OnOrphanArg,

    /// What to do with rows the server refuses on their own (a value the
    /// column's type refuses, text too long, NULL in a NOT NULL column, a
    /// CHECK, too many or too few fields, bytes not in the encoding): stop
    /// (the load fails at the first, with its file and line), skip (set
    /// each aside into the reject files with the server's message, load the
    /// rest, every key and constraint enforced)
    #[arg(long = "on-error", value_enum, default_value_t = OnErrorArg::Stop, help_heading = "Load options")]
    pub on_error: OnErrorArg,

    /// Where --on-orphan and --on-error skip write the rows they set aside
    /// or change: one <file>.rejects.csv per file, the record as it was with
    /// its line and the reason added
    #[arg(
        long = "reject-dir",
        value_name = "DIR",
        default_value = "fkload-rejects",
        help_heading = "Load options"
    )]
    pub reject_dir: PathBuf,

    /// Finish a parallel load that did not finish (killed, server lost): load the
    /// files it had not committed, then put back every key and index
    #[arg(long = "resume", help_heading = "Load options")]
    pub resume: bool,

    /// Send each file as COPY statements of about this size, cut at record
    /// boundaries (an error stops the load within one batch); k, M, G suffixes
    #[arg(long = "batch-size", value_name = "BYTES", default_value = "64M", value_parser = parse_size, help_heading = "Load options")]
    pub batch_size: u64,

    /// List at most N examples per problem (orphan rows, missing parent keys,
    /// duplicated keys, rows refused for one reason) in errors and in check;
    /// the counts are always whole
    #[arg(
        long = "max-examples",
        value_name = "N",
        default_value_t = 20,
        global = true,
        help_heading = "Load options"
    )]
    pub max_examples: usize,

    /// Load only the tables matching PATTERN (psql's patterns, as pg_dump -t;
    /// repeatable; then -n and -N do not apply)
    #[arg(
        short = 't',
        long = "table",
        value_name = "PATTERN",
        global = true,
        help_heading = "Load options"
    )]
    pub table: Vec<String>,

    /// Load only the tables of the schemas matching PATTERN (repeatable)
    #[arg(
        short = 'n',
        long = "schema",
        value_name = "PATTERN",
        global = true,
        help_heading = "Load options"
    )]
    pub schema: Vec<String>,

    /// Leave out the tables matching PATTERN (repeatable)
    #[arg(
        short = 'T',
        long = "exclude-table",
        value_name = "PATTERN",
        global = true,
        help_heading = "Load options"
    )]
    pub exclude_table: Vec<String>,

    /// Leave out the tables of the schemas matching PATTERN (repeatable)
    #[arg(
        short = 'N',
        long = "exclude-schema",
        value_name = "PATTERN",
        global = true,
        help_heading = "Load options"
    )]
    pub exclude_schema: Vec<String>,

    /// With --truncate, also empty the tables outside the load that
    /// reference a loaded one and hold rows (empty ones always are)
    #[arg(long = "cascade", global = true, help_heading = "Load options")]
    pub cascade: bool,

    /// The files' field delimiter, one character (\t for tab; default ',',
    /// tab for .tsv files)
    #[arg(
        long = "delimiter",
        value_name = "CHAR",
        global = true,
        help_heading = "File format options"
    )]
    pub delimiter: Option<String>,

    /// The files' quote character (default ")
    #[arg(
        long = "quote",
        value_name = "CHAR",
        global = true,
        help_heading = "File format options"
    )]
    pub quote: Option<String>,

    /// The character that escapes a quote inside quotes (default: the quote,
    /// doubled)
    #[arg(
        long = "escape",
        value_name = "CHAR",
        global = true,
        help_heading = "File format options"
    )]
    pub escape: Option<String>,

    /// The unquoted text that stands for NULL, e.g. '\N' or NULL (default:
    /// an empty field)
    #[arg(
        long = "null",
        value_name = "STRING",
        global = true,
        help_heading = "File format options"
    )]
    pub null: Option<String>,

    /// The files have no header row: their fields are the table's columns in
    /// order, or fkload.toml's columns
    #[arg(
        long = "no-header",
        global = true,
        help_heading = "File format options"
    )]
    pub no_header: bool,

    /// The files' encoding, any name COPY's ENCODING takes (LATIN1, WIN1252,
    /// ...; default UTF8)
    #[arg(
        long = "encoding",
        value_name = "NAME",
        global = true,
        help_heading = "File format options"
    )]
    pub encoding: Option<String>,

    /// Write a JSON account of the run to FILE (- for stdout): the plan, the
    /// rows loaded, skipped and nulled per table, the keys and indexes set
    /// aside and put back, every problem found, how it ended (the shape:
    /// schema/report.schema.json)
    #[arg(
        long = "report",
        value_name = "FILE",
        global = true,
        help_heading = "Output options"
    )]
    pub report: Option<PathBuf>,

    /// Print a line as each table starts and finishes loading
    #[arg(
        short = 'v',
        long = "verbose",
        global = true,
        help_heading = "Output options"
    )]
    pub verbose: bool,

    /// Print nothing but errors
    #[arg(
        short = 'q',
        long = "quiet",
        conflicts_with = "verbose",
        global = true,
        help_heading = "Output options"
    )]
    pub quiet: bool,

    /// Print the shell completions for SHELL (bash, zsh, fish, elvish,
    /// powershell) and exit
    #[arg(
        long = "completions",
        value_name = "SHELL",
        exclusive = true,
        help_heading = "Other options"
    )]
    pub completions: Option<clap_complete::Shell>,

    /// Print the manual page (roff, for man -l -) and exit
    #[arg(long = "man", exclusive = true, help_heading = "Other options")]
    pub man: bool,

    /// Print help (-h is the host, as in psql)
    #[arg(
        short = '?',
        long = "help",
        action = ArgAction::HelpShort,
        global = true,
        help_heading = "Other options"
    )]
    pub help: Option<bool>,
}

/// Parses the command line; usage errors exit 1 as psql's do (clap's own is 2,
/// which fkload keeps for connection failures).
pub fn parse() -> Result<Args, u8> {
    parse_from(std::env::args_os()).map_err(|e| {
        if e.use_stderr() {
            err(&usage_error(&e));
            exit::FATAL
        } else {
            let _ = e.print();
            exit::OK
        }
    })
}

/// A usage error as fkload's other errors start: `fkload: ...` (clap says
/// `error: ...`).
fn usage_error(e: &clap::Error) -> String {
    let text = e.render().to_string();
    match text.strip_prefix("error: ") {
        Some(rest) => format!("fkload: {rest}"),
        None => format!("fkload: {text}"),
    }
}

/// The load's own arguments: given with a subcommand, they would be ignored,
/// so they are refused (the connection options, timeouts and verbosity are
/// global: they go before or after the subcommand).
const LOAD_ONLY: [&str; 10] = [
    "dir",
    "list",
    "strategy",
    "jobs",
    "truncate",
    "resume",
    "batch_size",
    "on_orphan",
    "on_error",
    "reject_dir",
];

fn parse_from<I, T>(args: I) -> Result<Args, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    let mut command = Args::command();
    let matches = command.try_get_matches_from_mut(args)?;
    let args = Args::from_arg_matches(&matches)?;
    if matches.subcommand_name() == Some("up") && args.schema_file.is_none() {
        return Err(command.error(
            clap::error::ErrorKind::MissingRequiredArgument,
            "up starts a throwaway server: give the schema to create with --schema-file FILE",
        ));
    }
    // up is a load: only the directory (its own) and -l do not go with it.
    let refused: &[&str] = if matches.subcommand_name() == Some("up") {
        &LOAD_ONLY[..2]
    } else {
        &LOAD_ONLY
    };
    // The throwaway server is a new database: repair has nothing to undo there.
    if matches!(args.command, Some(Command::Repair { .. })) && args.schema_file.is_some() {
        return Err(command.error(
            clap::error::ErrorKind::ArgumentConflict,
            "repair works on an existing database: --schema-file does not go with it",
        ));
    }
    if args.command.is_some()
        && let Some(id) = refused
            .iter()
            .find(|id| matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
    {
        let name = command
            .get_arguments()
            .find(|a| a.get_id() == *id)
            .map_or_else(|| id.to_string(), |a| a.to_string());
        return Err(command.error(
            clap::error::ErrorKind::ArgumentConflict,
            format!(
                "{name} is an argument of a load: it does not go with {}",
                matches.subcommand_name().unwrap_or("a subcommand")
            ),
        ));
    }
    Ok(args)
}

/// `builder` with the tables to load (-t, -n, -T and -N) and how the files
/// are written.
fn choose(args: &Args, builder: LoaderBuilder) -> LoaderBuilder {
    builder
        .tables(&args.table)
        .schemas(&args.schema)
        .exclude_tables(&args.exclude_table)
        .exclude_schemas(&args.exclude_schema)
        .dialect(dialect(args))
}

/// How the files are written, from --delimiter, --quote, --escape, --null,
/// --no-header and --encoding (fkload.toml says the rest).
fn dialect(args: &Args) -> fkload::dialect::DialectOptions {
    let mut d = fkload::dialect::DialectOptions::default();
    d.delimiter.clone_from(&args.delimiter);
    d.quote.clone_from(&args.quote);
    d.escape.clone_from(&args.escape);
    d.null.clone_from(&args.null);
    d.header = args.no_header.then_some(false);
    d.encoding.clone_from(&args.encoding);
    d
}

/// Why a duration or a size given on the command line is refused (clap
/// writes it after the option's name).
#[derive(Debug, thiserror::Error)]
enum ValueError {
    #[error("not a duration: {0:?} (use e.g. 500ms, 5s, 2min, or 0)")]
    Duration(String),
    #[error("not a size: {0:?}")]
    Size(String),
    #[error("unknown unit in {0:?} (use k, M or G)")]
    SizeUnit(String),
    #[error("size out of range: {0:?}")]
    SizeRange(String),
}

/// A PostgreSQL duration as the settings take it: a number and an optional unit
/// (us, ms, s, min, h, d; milliseconds without one).
fn parse_duration(s: &str) -> Result<String, ValueError> {
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    let unit = &s[digits..];
    if digits > 0 && ["", "us", "ms", "s", "min", "h", "d"].contains(&unit) {
        Ok(s.to_string())
    } else {
        Err(ValueError::Duration(s.to_string()))
    }
}

/// `64M`, `512k`, `1G` or plain bytes (powers of 1024).
fn parse_size(s: &str) -> Result<u64, ValueError> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| ValueError::Size(s.to_string()))?;
    let factor: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return Err(ValueError::SizeUnit(s.to_string())),
    };
    n.checked_mul(factor)
        .filter(|&b| b > 0)
        .ok_or_else(|| ValueError::SizeRange(s.to_string()))
}

/// What else fkload does besides loading.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print the dependency graph of DIR's load plan, or of every table of the
    /// database (--all), as Graphviz DOT or a Mermaid flowchart: tables,
    /// foreign keys (child -> parent), cycles, and the keys a load defers,
    /// drops or sets NOT ENFORCED. Reads only. The connection options go
    /// before or after the word graph.
    #[command(
        disable_help_flag = true,
        override_usage = "fkload [OPTIONS] graph [--format dot|mermaid] DIR|--all"
    )]
    Graph(graph::GraphArgs),
    /// Undo what an interrupted parallel load (-j) left: take out the rows it
    /// committed and put back every key and index it dropped (a load also does
    /// this first, unless --resume finishes the interrupted load instead).
    /// The connection options go before or after the word repair.
    #[command(disable_help_flag = true)]
    Repair {
        /// Take out of each table the rows that still carry the run's
        /// transaction id even when their number is not the number the run
        /// loaded (without it, such a table is left as it is and the repair
        /// stops)
        #[arg(long)]
        force: bool,
    },
    /// Check DIR without loading it: every file is loaded in a transaction
    /// that is rolled back, and every problem is reported (every row the
    /// server refuses, by file and reason, each file it rejects, every
    /// violated foreign key with its orphan rows, every unique index with its
    /// duplicates). Exit 0 when it would load, 1 when
    /// not. The connection options and --max-examples go before or after
    /// the word check.
    #[command(disable_help_flag = true)]
    Check {
        /// The data directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Check as a load with --truncate would load: into emptied tables
        #[arg(long = "truncate")]
        truncate: bool,
    },
    /// Start a throwaway server (--schema-file FILE is required), load DIR
    /// into it, print its connection URI on stdout and keep it running until
    /// Ctrl-C, then remove it: a seeded development database in one command.
    #[command(
        disable_help_flag = true,
        override_usage = "fkload --schema-file FILE up DIR"
    )]
    Up {
        /// The data directory.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `--on-orphan`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnOrphanArg {
    Error,
    Skip,
    Null,
}

/// `--on-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnErrorArg {
    Stop,
    Skip,
}

impl From<OnOrphanArg> for OnOrphan {
    fn from(s: OnOrphanArg) -> OnOrphan {
        match s {
            OnOrphanArg::Error => OnOrphan::Error,
            OnOrphanArg::Skip => OnOrphan::Skip,
            OnOrphanArg::Null => OnOrphan::Null,
        }
    }
}

/// `--strategy`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StrategyArg {
    Auto,
    Keep,
    Revalidate,
}

impl StrategyArg {
    /// The strategy asked for; `None` for auto (the plan chooses by size).
    fn strategy(self) -> Option<Strategy> {
        match self {
            StrategyArg::Auto => None,
            StrategyArg::Keep => Some(Strategy::Keep),
            StrategyArg::Revalidate => Some(Strategy::Revalidate),
        }
    }
}

/// What a run did, for `--report`.
#[derive(Debug, Default)]
struct Outcome {
    command: &'static str,
    plan: Option<fkload::Plan>,
    report: Option<fkload::Report>,
    problems: Option<fkload::error::Problems>,
    /// Earlier parallel loads that did not finish, as `-l` found them.
    interrupted: Vec<fkload::error::Pending>,
}

/// Runs the command and returns the exit code.
pub fn run(args: &Args) -> u8 {
    if let Some(shell) = args.completions {
        use clap::CommandFactory;
        let mut command = Args::command();
        clap_complete::generate(shell, &mut command, "fkload", &mut std::io::stdout());
        return exit::OK;
    }
    if args.man {
        use clap::CommandFactory;
        let mut page = Vec::new();
        return match clap_mangen::Man::new(Args::command()).render(&mut page) {
            Ok(()) => {
                out(&String::from_utf8_lossy(&page));
                exit::OK
            }
            Err(e) => {
                errln!("fkload: could not write the manual page: {e}");
                exit::FATAL
            }
        };
    }
    let mut outcome = Outcome {
        command: match (&args.command, args.list) {
            (Some(Command::Check { .. }), _) => "check",
            (Some(Command::Repair { .. }), _) => "repair",
            (Some(Command::Up { .. }), _) => "load",
            (Some(_), _) => "graph",
            (None, true) => "plan",
            (None, false) => "load",
        },
        ..Outcome::default()
    };
    let result = run_inner(args, &mut outcome);
    let code = match &result {
        Ok(code) => *code,
        Err(e) => {
            match interrupted(e.kind(), args) {
                Some(line) => errln!("fkload: {line}"),
                None => errln!("{}", errors::printed(e)),
            }
            exit::for_error(e)
        }
    };
    match &args.report {
        Some(path) => match write_account(path, &outcome, result.as_ref().err(), code) {
            Ok(()) => code,
            Err(why) => {
                errln!(
                    "fkload: could not write the report \"{}\": {why}",
                    path.display()
                );
                if code == exit::OK { exit::FATAL } else { code }
            }
        },
        None => code,
    }
}

/// Writes the JSON account of the run to `path` (`-` for stdout).
fn write_account(
    path: &std::path::Path,
    outcome: &Outcome,
    error: Option<&Error>,
    code: u8,
) -> std::io::Result<()> {
    let mut account = account::Account::new(outcome.command, code);
    account.plan = outcome.plan.as_ref();
    account.report = outcome.report.as_ref();
    account.problems = outcome.problems.as_ref();
    account.error = error;
    account.interrupted = &outcome.interrupted;
    let text = serde_json::to_string_pretty(&account.to_json(&errors::layout))? + "\n";
    if path == std::path::Path::new("-") {
        out(&text);
        Ok(())
    } else {
        std::fs::write(path, text)
    }
}

fn run_inner(args: &Args, outcome: &mut Outcome) -> Result<u8, Error> {
    // (parse_from makes sure that up has --schema-file.)
    let throwaway = match &args.schema_file {
        Some(schema) => Some(throwaway(args, schema)?),
        None => None,
    };
    let (connector, client, session) = match &throwaway {
        Some(t) => connect_with(args, t.conninfo(THROWAWAY_DB)?)?,
        None => connect(args)?,
    };
    if args.verbose {
        errln!("fkload: {}", describe_session(&session));
    }
    if let Some(Command::Graph(graph_args)) = &args.command {
        let builder = choose(args, Loader::builder().control(client, session));
        return graph::run(graph_args, builder).map(|()| exit::OK);
    }
    let loader = loader(args, connector, client, session);
    if let Some(Command::Check { dir, .. }) = &args.command {
        return check(args, loader, dir, outcome);
    }
    if let Some(Command::Repair { force }) = args.command {
        return repair(args, &loader, force);
    }
    let dir = match (&args.command, &args.dir) {
        (Some(Command::Up { dir }), _) | (_, Some(dir)) => dir,
        _ => return Ok(exit::OK),
    };
    // up: Ctrl-C stops the server once it is loaded (a Ctrl-C during the load
    // takes effect when the load has ended).
    let stop = match (&args.command, &throwaway) {
        (Some(Command::Up { .. }), Some(_)) => {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            let _ = ctrlc::set_handler(move || {
                let _ = tx.send(());
            });
            Some(rx)
        }
        _ => None,
    };
    let plan = plan(args, &loader, dir, outcome)?;
    if args.list {
        out(&describe::describe(&plan, &outcome.interrupted));
        return Ok(exit::OK);
    }
    if !args.quiet {
        warn_not_loaded(&plan);
    }
    load(args, &loader, &plan, outcome)?;
    if let (Some(stop), Some(server)) = (stop, &throwaway) {
        // Its connections go: the database is the user's now (and can be a
        // template only without them).
        drop(loader);
        serve(server, &stop);
    }
    Ok(exit::OK)
}

/// The loader the options describe, on the connections made.
fn loader(
    args: &Args,
    connector: Connector,
    client: postgres::Client,
    session: fkload::Session,
) -> Loader {
    // `check` empties the tables only with its own --truncate.
    let truncate = match &args.command {
        Some(Command::Check { truncate, .. }) => *truncate,
        _ => args.truncate,
    };
    let mut builder = Loader::builder()
        .connector(connector)
        .control(client, session)
        .batch_bytes(args.batch_size)
        .jobs(args.jobs)
        .truncate(truncate)
        .resume(args.resume)
        .max_examples(args.max_examples)
        .cascade(args.cascade)
        .on_orphan(args.on_orphan.into())
        .skip_refused_rows(args.on_error == OnErrorArg::Skip)
        .reject_dir(&args.reject_dir);
    if let Some(strategy) = args.strategy.strategy() {
        builder = builder.strategy(strategy);
    }
    choose(args, builder).build()
}

/// `fkload repair`: undoes what an interrupted parallel load left, and says so.
fn repair(args: &Args, loader: &Loader, force: bool) -> Result<u8, Error> {
    let repaired = if force {
        loader.repair_force()?
    } else {
        loader.repair()?
    };
    if !args.quiet {
        out(&match repaired {
            Some(run) => format!(
                "repaired run {run}: its rows are out, and every key and index it dropped \
                 is back as it was (checked against the journal)\n"
            ),
            None => "nothing to repair\n".to_string(),
        });
    }
    Ok(exit::OK)
}

/// The plan of loading `dir`, kept in `outcome`; with -l, the parallel loads
/// left unfinished are read first, and told about when the plan fails.
fn plan(
    args: &Args,
    loader: &Loader,
    dir: &std::path::Path,
    outcome: &mut Outcome,
) -> Result<fkload::Plan, Error> {
    if args.list {
        // Read first: a plan that fails is reported with them.
        outcome.interrupted = loader.interrupted()?;
    }
    let plan = loader.plan(dir).inspect_err(|_| {
        for p in &outcome.interrupted {
            eprintln!("fkload: {}", describe::unfinished(p, "the plan"));
        }
    })?;
    outcome.plan = Some(plan.clone());
    Ok(plan)
}

/// Warns of the files of the directory the plan leaves out, and of the
/// tables --truncate empties that are not loaded.
fn warn_not_loaded(plan: &fkload::Plan) {
    for i in plan.ignored() {
        errln!(
            "fkload: warning: not loading {}: {}",
            plan.dir().join(&i.rel).display(),
            i.why
        );
    }
    for (table, rows) in plan.also_emptied() {
        let what = if rows == 0 { "note" } else { "warning" };
        errln!(
            "fkload: {what}: --truncate{} also empties {table}, which is not loaded",
            if rows > 0 { " --cascade" } else { "" },
        );
    }
}

/// Runs the load of `plan` with its progress, stoppable by Ctrl-C, and
/// prints the report's warnings and the report, which goes into `outcome`.
fn load(
    args: &Args,
    loader: &Loader,
    plan: &fkload::Plan,
    outcome: &mut Outcome,
) -> Result<(), Error> {
    let mut progress = progress::Progress::new(plan, args.verbose, args.quiet);
    let mut observer = |e: Event<'_>| progress.event(e);
    cancel_on_interrupt(loader, plan);
    let result = loader.load(plan, &mut observer);
    progress.finish();
    let report = result?;
    for w in &report.warnings {
        errln!("fkload: WARNING:  {w}");
    }
    if !args.quiet {
        out(&format!("{report}\n"));
    }
    outcome.report = Some(report);
    Ok(())
}

/// Ctrl-C (or SIGTERM) during a one-transaction load cancels the running
/// statement on the server, which rolls everything back and reports it. A
/// parallel load stops: its running statements are cancelled, nothing new
/// starts, and it is left for --resume or repair (undoing gigabytes is not
/// what an interrupt asks for), said in one line, exit 4; the undo of a
/// failed run is let finish. A second signal exits at once.
fn cancel_on_interrupt(loader: &Loader, plan: &fkload::Plan) {
    let cancel = loader.cancel_handle();
    let pressed = std::sync::atomic::AtomicBool::new(false);
    let parallel = plan.jobs() > 1;
    let commands = finish_or_undo(plan.jobs(), plan.dir());
    let _ = ctrlc::set_handler(move || {
        if pressed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            if parallel {
                errln!(
                    "fkload: interrupted again: exiting at once; if the load changed \
                     anything, fkload.journal lists it: {commands}"
                );
                std::process::exit(i32::from(exit::INTERRUPTED));
            }
            errln!(
                "fkload: interrupted again: exiting at once; the server rolls the load \
                 back as the connection closes"
            );
            std::process::exit(i32::from(exit::SQL));
        }
        if !parallel {
            errln!("fkload: cancelling: the load rolls back");
        } else if cancel.is_undoing() {
            errln!(
                "fkload: interrupted: the failed load is being undone and finishes \
                 first (interrupt again to exit at once: then fkload repair undoes the rest)"
            );
        }
        cancel.cancel();
    });
}

/// The one line for a parallel load that a signal stopped
/// ([`ErrorKind::Stopped`]; `None` for other errors): what the database
/// holds, and the commands that finish or undo it.
fn interrupted(kind: &ErrorKind, args: &Args) -> Option<String> {
    let ErrorKind::Stopped {
        run,
        units_loaded,
        units_total,
        dropped,
        jobs,
    } = kind
    else {
        return None;
    };
    let Some(run) = run else {
        return Some(
            "interrupted: the load stopped before it changed anything; the database \
             is as it was"
                .to_string(),
        );
    };
    let dir = args
        .dir
        .as_deref()
        .unwrap_or_else(|| std::path::Path::new("DIR"));
    let commands = finish_or_undo(*jobs, dir);
    Some(match (units_loaded, dropped) {
        (Some(loaded), Some(dropped)) => format!(
            "interrupted: run {run} committed {loaded} of {} {} and left {dropped} {} dropped; \
             {commands}",
            units_total,
            if *units_total == 1 {
                "file"
            } else {
                "files (or parts)"
            },
            if *dropped == 1 {
                "key or index"
            } else {
                "keys or indexes"
            },
        ),
        _ => format!(
            "interrupted: run {run} stopped; fkload.journal lists what it committed and \
             dropped; {commands}"
        ),
    })
}

/// The commands that finish an interrupted parallel load of `dir` or undo it.
fn finish_or_undo(jobs: usize, dir: &std::path::Path) -> String {
    let dir = dir.display().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@=".contains(c);
    let dir = if !dir.is_empty() && dir.chars().all(plain) {
        dir
    } else {
        format!("'{}'", dir.replace('\'', "'\\''"))
    };
    format!("fkload -j {jobs} --resume {dir} finishes it, fkload repair undoes it")
}

/// `up`: prints the loaded database's URI on stdout and waits for Ctrl-C.
fn serve(server: &fkload::server::Throwaway, stop: &std::sync::mpsc::Receiver<()>) {
    errln!(
        "fkload: PostgreSQL {} serves the loaded database until Ctrl-C (then it is removed):",
        server.version()
    );
    out(&format!("{}\n", server.uri(THROWAWAY_DB)));
    let _ = stop.recv();
    errln!(
        "fkload: stopping the server and removing {}",
        server.dir().display()
    );
}

/// `fkload check DIR`: every problem to stderr, in psql's layout, then a
/// line that counts them; exit 1 when there is any.
fn check(
    args: &Args,
    loader: Loader,
    dir: &std::path::Path,
    outcome: &mut Outcome,
) -> Result<u8, Error> {
    let verbose = args.verbose;
    let mut observer = |e: Event<'_>| {
        if verbose && let Event::TableStarted { step } = e {
            errln!(
                "fkload: checking {} into {}",
                step.path().display(),
                step.table().human()
            );
        } else if verbose && let Event::RestoringKey { key } = e {
            errln!(
                "fkload: checking key \"{}\" of {}",
                key.name(),
                key.table().human()
            );
        } else if verbose && let Event::ListingOrphans { key, in_place } = e {
            errln!("fkload: {}", progress::listing_orphans(key, in_place));
        }
    };
    let problems = loader.check(dir, &mut observer)?;
    let code = if problems.is_empty() {
        if !args.quiet {
            out(
                "check: the data would load: every file loads, every foreign key and unique index holds\n",
            );
        }
        exit::OK
    } else {
        for block in errors::blocks(&problems) {
            errln!("fkload: {block}\n");
        }
        errln!("fkload: check: {}", problems.summary());
        exit::FATAL
    };
    outcome.problems = Some(problems);
    Ok(code)
}

/// Bytes as the summary writes them (`512 B`, `3.2 kB`, `1.5 MB`): the
/// library's [`fkload::Report`] says its sizes so in its `Display`, and the
/// command's own lines (`-l`'s strategy, `-v`'s compressed files) the same.
fn human_bytes(b: u64) -> String {
    fkload::Report::human_bytes(b)
}

/// Writes to stdout; a reader that went away (`fkload -l ... | head`) is not
/// an error: the rest is dropped quietly.
fn out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Writes `text` to stderr in one write, ignoring a failure: what fkload says
/// is not the load, and a reader that went away (`2>&1 | head`) must not end
/// it (`eprintln!` panics on a closed stderr, and the panic rolled the load
/// back).
pub(crate) fn err(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// The database a throwaway server's schema is created in.
const THROWAWAY_DB: &str = "fkload";

/// Starts a throwaway server and creates [`THROWAWAY_DB`] in it from
/// `schema`; `-v` says where.
fn throwaway(args: &Args, schema: &std::path::Path) -> Result<fkload::server::Throwaway, Error> {
    let server = fkload::server::Throwaway::start()?;
    if args.verbose {
        errln!(
            "fkload: throwaway server PostgreSQL {} in {}",
            server.version(),
            server.dir().display()
        );
    }
    server.create_database(THROWAWAY_DB, schema)?;
    Ok(server)
}

/// Connects as psql would: settings by libpq's precedence, a password prompt
/// with -W, or when the server asks for one and a terminal is there to
/// answer. Returns the connector (the password a prompt gave included), its
/// first connection and what the server says of that session. libpq's
/// warnings (a password file others can read) go to stderr.
fn connect(args: &Args) -> Result<(Connector, postgres::Client, fkload::Session), Error> {
    let overrides = Overrides {
        dbname: args.dbname.clone(),
        host: args.host.clone(),
        port: args.port.clone(),
        user: args.username.clone(),
    };
    let info = ConnInfo::resolve(&overrides, &|k| std::env::var(k).ok())?;
    connect_with(args, info)
}

fn connect_with(
    args: &Args,
    info: ConnInfo,
) -> Result<(Connector, postgres::Client, fkload::Session), Error> {
    for w in info.warnings() {
        errln!("fkload: WARNING:  {w}");
    }
    let mut connector = Connector::new(&info)
        .setting("lock_timeout", &args.lock_timeout)
        .setting("statement_timeout", &args.statement_timeout);
    // A plan only reads: a standby will do.
    if args.list || matches!(args.command, Some(Command::Graph(_))) {
        connector = connector.for_reading();
    }
    // The connector decides when to ask (psql's rules); a prompt after a
    // failed attempt needs someone at a terminal to answer it.
    let may_ask = !args.no_password && std::io::stdin().is_terminal();
    let (client, session) = connector.session_with_prompt(args.password, may_ask, &mut |user| {
        rpassword::prompt_password(format!("Password for user {user}: "))
    })?;
    Ok((connector, client, session))
}

/// The `-v` line that says where fkload is connected, with the four facts
/// psql would give for the same settings (`current_user`,
/// `current_database()`, `inet_server_port()`, and whether the session is
/// encrypted).
fn describe_session(s: &fkload::Session) -> String {
    let port = s
        .port
        .map_or_else(|| "none (Unix socket)".to_string(), |p| p.to_string());
    let tls = match (&s.ssl_version, s.ssl) {
        (Some(v), true) => format!("on ({v})"),
        (_, true) => "on".to_string(),
        (_, false) => "off".to_string(),
    };
    format!(
        "connected to {} as user \"{}\", database \"{}\", server port {port}, TLS {tls}",
        s.host, s.user, s.database
    )
}

#[cfg(test)]
mod tests {
    //! Errors as the command prints them, with the hints it adds (insta
    //! snapshots in `src/cli/snapshots/`), and their exit codes.

    use fkload::error::DbErrorInfo;

    use super::*;

    fn db(code: &str, message: &str) -> DbErrorInfo {
        let mut db = DbErrorInfo::default();
        db.severity = "ERROR".into();
        db.code = postgres::error::SqlState::from_code(code);
        db.message = message.into();
        db
    }

    /// The client's error when the server hangs up: a listener that reads
    /// the startup message and closes the socket.
    fn connection_closed() -> postgres::Error {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut len = [0u8; 4];
            s.read_exact(&mut len).unwrap();
            let mut rest = vec![0u8; u32::from_be_bytes(len) as usize - 4];
            s.read_exact(&mut rest).unwrap();
        });
        let e = postgres::Config::new()
            .host("127.0.0.1")
            .port(port)
            .user("app")
            .ssl_mode(postgres::config::SslMode::Disable)
            .connect(postgres::NoTls)
            .err()
            .unwrap();
        server.join().unwrap();
        e
    }

    fn sql(code: &str, message: &str) -> Error {
        Error::from(ErrorKind::Sql {
            during: "adding back key \"a_p_fk\" on public.a".into(),
            db: db(code, message),
        })
    }

    #[test]
    fn errors_as_printed() {
        let cases: Vec<(&str, Error)> = vec![
            (
                "interrupted",
                ErrorKind::Interrupted {
                    run: "1796000000-4242".into(),
                    dropped: 3,
                }
                .into(),
            ),
            ("nothing_to_resume", ErrorKind::NothingToResume.into()),
            ("truncate_in_parallel", ErrorKind::TruncateInParallel.into()),
            (
                "blocked",
                ErrorKind::Blocked {
                    error: Box::new(sql("55P03", "canceling statement due to lock timeout")),
                    blockers: vec![
                        "pid 4242 (app, idle in transaction, transaction open for 00:03:10): LOCK TABLE orders IN ACCESS EXCLUSIVE MODE".into(),
                    ],
                }
                .into(),
            ),
            (
                "cleanup",
                ErrorKind::Cleanup {
                    error: Box::new(sql("23503", "insert or update on table \"a\" violates foreign key constraint \"a_p_fk\"")),
                    cleanup: Box::new(
                        ErrorKind::ConnectionLost {
                            during: "taking the rows loaded into \"public\".\"a\" out again".into(),
                            source: connection_closed(),
                        }
                        .into(),
                    ),
                }
                .into(),
            ),
            (
                "not_restored",
                ErrorKind::NotRestored {
                    journal: Some("1796000000-4242".into()),
                    problems: vec![fkload::error::Unrestored::Missing {
                        key: true,
                        name: "b_q_fk".into(),
                        table: "\"public\".\"b\"".into(),
                    }],
                }
                .into(),
            ),
            (
                "connect",
                ErrorKind::Connect {
                    target: "host \"localhost\" port 5432 as user \"app\" database \"shop\"".into(),
                    attempts: vec![fkload::error::HostAttempt::Client {
                        host: None,
                        text: "error connecting to server: Connection refused (os error 111)".into(),
                    }],
                }
                .into(),
            ),
        ];
        let mut all = String::new();
        for (name, e) in &cases {
            all.push_str(&format!(
                "== {name} (exit {})\n{}\n",
                exit::for_error(e),
                errors::printed(e)
            ));
        }
        insta::assert_snapshot!(all);
    }

    /// A stopped parallel load: exit 4, and one line with the run, what it
    /// left, and the commands (the directory quoted for a shell when needed).
    #[test]
    fn an_interrupted_parallel_load_is_one_line_and_exit_4() {
        let args = Args::parse_from(["fkload", "-j", "3", "my data"]);
        let stopped = |run: Option<&str>, units_loaded, dropped| ErrorKind::Stopped {
            run: run.map(str::to_string),
            units_loaded,
            units_total: 5,
            dropped,
            jobs: 3,
        };
        let s = stopped(None, None, None);
        assert_eq!(exit::for_error(&Error::from(s)), exit::INTERRUPTED);
        let s = stopped(None, None, None);
        assert_eq!(
            interrupted(&s, &args).as_deref(),
            Some(
                "interrupted: the load stopped before it changed anything; the database is as it was"
            )
        );
        let s = stopped(Some("1765-123"), Some(3), Some(2));
        assert_eq!(
            interrupted(&s, &args).as_deref(),
            Some(
                "interrupted: run 1765-123 committed 3 of 5 files (or parts) and left 2 keys or \
                 indexes dropped; fkload -j 3 --resume 'my data' finishes it, fkload repair undoes it"
            )
        );
        assert_eq!(exit::for_error(&Error::from(s)), exit::INTERRUPTED);
        let s = stopped(Some("1765-123"), None, Some(2));
        let line = interrupted(&s, &args).unwrap_or_default();
        assert!(!line.contains('\n'));
        assert!(line.starts_with("interrupted: run 1765-123 stopped"));
        assert_eq!(interrupted(&ErrorKind::NoConnector, &args), None);
    }
}
