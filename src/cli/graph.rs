//! `fkload graph`: the dependency graph of a data directory's plan, or of
//! every table of the database (`--all`), as Graphviz DOT or Mermaid on
//! stdout ([`fkload::Plan::to_dot`], [`fkload::Plan::to_mermaid`]).
//!
//! It only reads (the catalog and the files' headers, as `-l` does), on a
//! connection that may be a standby's. An earlier parallel load that did not
//! finish is warned of on stderr first: its keys are not drawn (they are
//! dropped), and a load undoes it before it loads.

use std::path::PathBuf;

use fkload::{Error, LoaderBuilder};

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

/// Makes the plan (of `DIR`, with the control connection, tables and
/// dialect `builder` has, or of the whole database) and prints its graph.
///
/// # Errors
/// As [`fkload::Loader::plan`] for a directory, [`fkload::Loader::overview`]
/// for `--all`.
pub fn run(args: &GraphArgs, builder: LoaderBuilder) -> Result<(), Error> {
    let loader = builder.build();
    for p in loader.interrupted()? {
        eprintln!("fkload: {}", super::describe::unfinished(&p, "the graph"));
    }
    let plan = match &args.dir {
        Some(dir) => loader.plan(dir)?,
        None => loader.overview()?,
    };
    super::out(&match args.format {
        FormatArg::Dot => plan.to_dot(),
        FormatArg::Mermaid => plan.to_mermaid(),
    });
    Ok(())
}
