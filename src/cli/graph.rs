//! `fkload graph`: the dependency graph of a data directory's plan, or of
//! every table of the database (`--all`), as Graphviz DOT or Mermaid on
//! stdout ([`fkload::render`]).
//!
//! It only reads (the catalog and the files' headers, as `-l` does), on a
//! connection that may be a standby's. An earlier parallel load that did not
//! finish is warned of on stderr first: its keys are not drawn (they are
//! dropped), and a load undoes it before it loads.

use std::path::PathBuf;

use fkload::render::{self, Format};
use fkload::{Error, Loader};

/// `fkload graph`'s own arguments (the connection options are global).
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The data directory whose load plan to draw.
    #[arg(value_name = "DIR", required_unless_present = "all")]
    pub dir: Option<PathBuf>,

    /// Draw every table and foreign key of the database instead (as if each
    /// table had a file)
    #[arg(long = "all", conflicts_with = "dir")]
    pub all: bool,

    /// The language to write: Graphviz DOT or a Mermaid flowchart
    #[arg(long = "format", value_enum, default_value_t = FormatArg::Dot)]
    pub format: FormatArg,
}

/// `--format`'s values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Dot,
    Mermaid,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Format {
        match f {
            FormatArg::Dot => Format::Dot,
            FormatArg::Mermaid => Format::Mermaid,
        }
    }
}

/// Makes the plan (of `DIR`, with the tables and dialect `choice` gives, or
/// of the whole database) on the control connection and prints its graph.
///
/// # Errors
/// As [`Loader::plan`] for a directory, [`Loader::overview`] for `--all`.
pub fn run(
    args: &GraphArgs,
    client: postgres::Client,
    session: fkload::Session,
    choice: (fkload::pattern::Selection, fkload::dialect::DialectOptions),
) -> Result<(), Error> {
    let loader = Loader::builder()
        .control(client, session)
        .select(choice.0)
        .dialect(choice.1)
        .build();
    for p in loader.interrupted()? {
        eprintln!("fkload: {}", super::describe::unfinished(&p, "the graph"));
    }
    let plan = match &args.dir {
        Some(dir) => loader.plan(dir)?,
        None => loader.overview()?,
    };
    super::out(&render::render(&plan, args.format.into()));
    Ok(())
}
