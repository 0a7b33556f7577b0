//! The plan of every table of the database, as if each had a file: what
//! `fkload graph --all` draws ([`Plan::to_dot`], [`Plan::to_mermaid`]).
//!
//! It is an ordinary [`Plan`], made by the same `plan::decide` as a load's
//! (strategy keep, one transaction), so its cycles are broken and its keys
//! deferred, dropped or set `NOT ENFORCED` exactly as a load of every table
//! would. It has no data behind it: each step's file is empty (no path, no
//! header, no bytes), so it is for showing, not for loading. Partitions are
//! not steps of their own: their rows go through their root's file, as in a
//! load.
//!
//! Nothing here writes: the catalog is read (`Catalog::read`) and the
//! session's `search_path` is given back.

use std::collections::HashMap;
use std::path::PathBuf;

use postgres::GenericClient;

use crate::database::catalog::{Catalog, Details, Table};
use crate::error::Error;
use crate::input::source::{DataFile, FileName, Header};
use crate::options::{Options, StrategyChoice};
use crate::plan::{self, Plan, Purpose, Survey};

/// Reads the catalog and makes the plan of every table of the database (see
/// the module docs). Writes nothing; a read-only transaction is enough.
///
/// Complexity: the catalog reads, then `plan::decide`'s, which is
/// O(keys × tables) for attaching keys to tables.
///
/// # Errors
/// [`ErrorKind::Sql`](crate::ErrorKind::Sql) when a catalog query fails (a
/// server older than 12), [`ErrorKind::ConnectionLost`](crate::ErrorKind::ConnectionLost)
/// when the connection drops.
pub(crate) fn plan(client: &mut impl GenericClient) -> Result<Plan, Error> {
    let catalog = Catalog::read(client)?;
    let plan = of_catalog(&catalog);
    // The search_path goes back even when planning failed.
    catalog.done(client)?;
    plan
}

/// The plan of every table of `catalog` that a file could name on its own:
/// plain and partitioned tables, not partitions.
pub(crate) fn of_catalog(catalog: &Catalog) -> Result<Plan, Error> {
    let roots: Vec<&Table> = catalog
        .tables
        .iter()
        .filter(|t| t.ancestors.is_empty())
        .collect();
    of_tables(catalog, &roots)
}

/// The plan of `tables` as if each had an empty file; keys to other tables
/// reference tables without a step, as a load's do.
pub(crate) fn of_tables(catalog: &Catalog, tables: &[&Table]) -> Result<Plan, Error> {
    let targets: Vec<(DataFile, Table)> =
        tables
            .iter()
            .map(|t| {
                let file = DataFile {
                    path: PathBuf::new(),
                    rel: String::new(),
                    name: FileName::InSchema {
                        schema: t.name.schema.clone(),
                        stem: t.name.name.clone(),
                    },
                    format: crate::input::format::Format::Csv(
                        crate::input::dialect::Dialect::default(),
                    ),
                    columns: None,
                };
                (file, (*t).clone())
            })
            .collect();
    let headers = targets
        .iter()
        .map(|_| {
            Ok(Header {
                columns: Vec::new(),
                bytes: 0,
                from: crate::input::source::ColumnsFrom::Header,
                fields: 0,
            })
        })
        .collect();
    let options = Options {
        strategy: StrategyChoice::Keep,
        ..Options::default()
    };
    let facts = Survey {
        dir: PathBuf::new(),
        catalog: catalog.clone(),
        details: Details::default(),
        targets,
        headers,
        ignored: Vec::new(),
        rows_also_emptied: HashMap::new(),
    };
    plan::decide(facts, &options, Purpose::Load)
}
