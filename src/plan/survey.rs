//! Everything a plan is made from, read before anything is decided: the
//! data directory (files, dialects, headers), the catalog and the details of
//! the tables the files name, the table patterns, the encodings, and the row
//! counts `--truncate` needs. Reads only; [`super::decide`] then makes the
//! plan from these facts without a server.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use postgres::GenericClient;

use super::model::{Purpose, Strategy};
use crate::database::catalog::{Catalog, Details, Needs, Table};
use crate::error::{Error, ErrorKind, Ignored};
use crate::input::source::{self, DataFile, Header};
use crate::options::Options;
use crate::sql::QualName;

/// The facts a plan is decided from.
pub(crate) struct Survey {
    pub dir: PathBuf,
    pub catalog: Catalog,
    pub details: Details,
    /// Each file and the table it names, in directory order.
    pub targets: Vec<(DataFile, Table)>,
    /// Each file's header, or why it could not be read (reported in file
    /// order, after the checks of the files before it).
    pub headers: Vec<Result<Header, Error>>,
    /// The entries of the directory that are not loaded, and why, by name.
    pub ignored: Vec<Ignored>,
    /// With `--truncate`: the rows of each table outside the load that
    /// emptying the loaded ones would empty too (by oid).
    pub rows_also_emptied: HashMap<u32, u64>,
}

/// Reads what a plan for `dir` is decided from. Writes nothing.
///
/// # Errors
/// [`ErrorKind::Io`], [`ErrorKind::NotAFile`], [`ErrorKind::Dialect`] for
/// files; [`ErrorKind::NoDataFiles`] for a directory without any;
/// [`ErrorKind::NothingSelected`] when the patterns leave none;
/// [`ErrorKind::UnknownTable`], [`ErrorKind::AmbiguousTable`],
/// [`ErrorKind::DuplicateFile`] when files and tables do not fit;
/// [`ErrorKind::Sql`] or [`ErrorKind::ConnectionLost`] from the reads.
pub(crate) fn survey(
    client: &mut impl GenericClient,
    dir: &Path,
    options: &Options,
    purpose: Purpose,
) -> Result<Survey, Error> {
    let listing = source::scan(dir, &options.dialect)?;
    if listing.files.is_empty() {
        return Err(Error::new(ErrorKind::NoDataFiles {
            dir: dir.to_path_buf(),
            ignored: listing.ignored,
        }));
    }
    let catalog = Catalog::read(client)?;
    let read = read_with(
        client,
        dir,
        options,
        purpose,
        &catalog,
        listing.files,
        listing.ignored,
    );
    // The search_path goes back even when a read failed.
    catalog.done(client)?;
    let (targets, headers, details, mut ignored, rows_also_emptied) = read?;
    ignored.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(Survey {
        dir: dir.to_path_buf(),
        catalog,
        details,
        targets,
        headers,
        ignored,
        rows_also_emptied,
    })
}

type Read = (
    Vec<(DataFile, Table)>,
    Vec<Result<Header, Error>>,
    Details,
    Vec<Ignored>,
    HashMap<u32, u64>,
);

/// The reads after the catalog's: the files' tables, the patterns, the
/// encodings, the headers, the tables' details and the row counts.
fn read_with(
    client: &mut impl GenericClient,
    dir: &Path,
    options: &Options,
    purpose: Purpose,
    catalog: &Catalog,
    files: Vec<DataFile>,
    mut ignored: Vec<Ignored>,
) -> Result<Read, Error> {
    let mut targets = targets(catalog, files)?;
    if !options.selection.is_all() {
        select(client, dir, options, catalog, &mut targets, &mut ignored)?;
    }
    check_encodings(client, &mut targets)?;
    let headers: Vec<Result<Header, Error>> = targets
        .iter()
        .map(|(f, _)| source::read_header(f))
        .collect();
    let bytes = headers.iter().flatten().map(|h| h.bytes).sum();
    let (strategy, _) = purpose.strategy(options.strategy, bytes);
    let tables: Vec<&Table> = targets.iter().map(|(_, t)| t).collect();
    let needs = Needs {
        indexes: strategy == Strategy::Revalidate,
        triggers: options.truncate,
    };
    let details = Details::read(client, &tables, needs)?;
    let rows = if options.truncate {
        let loaded = targets.iter().map(|(_, t)| t.clone()).collect();
        count_rows(client, &also_emptied(catalog, loaded))?
    } else {
        HashMap::new()
    };
    Ok((targets, headers, details, ignored, rows))
}

/// Leaves out the files whose tables the patterns do not select (into
/// `ignored`, with why).
fn select(
    client: &mut impl GenericClient,
    dir: &Path,
    options: &Options,
    catalog: &Catalog,
    targets: &mut Vec<(DataFile, Table)>,
    ignored: &mut Vec<Ignored>,
) -> Result<(), Error> {
    let oids: Vec<u32> = targets.iter().map(|(_, t)| t.oid).collect();
    let out = crate::database::pattern::left_out(
        client,
        &options.selection,
        &oids,
        &catalog.search_path,
    )?;
    targets.retain(|(f, t)| match out.iter().find(|(o, _)| *o == t.oid) {
        Some((_, why)) => {
            ignored.push(Ignored {
                rel: f.rel.clone(),
                why: why.clone(),
            });
            false
        }
        None => true,
    });
    if targets.is_empty() {
        return Err(Error::new(ErrorKind::NothingSelected {
            dir: dir.to_path_buf(),
            ignored: ignored.clone(),
        }));
    }
    Ok(())
}

/// The tables outside the load that a `TRUNCATE` of the `emptied` ones
/// must take too: every table with a key to an emptied table, and to those,
/// and so on; each with the emptied table it references (the first of
/// `emptied`, in its order, that it does).
pub(super) fn also_emptied(catalog: &Catalog, mut emptied: Vec<Table>) -> Vec<(Table, QualName)> {
    let mut also: Vec<(Table, QualName)> = Vec::new();
    loop {
        let found = catalog.foreign_keys.iter().find_map(|fk| {
            let referenced = emptied.iter().find(|t| covers(catalog, t, fk.ref_table))?;
            let child = catalog.table(fk.table)?;
            // Emptied only by a TRUNCATE of itself or of a partitioned
            // ancestor: a loaded partition leaves its siblings' rows (and
            // their copies of the key) in place.
            let inside = emptied
                .iter()
                .any(|t| t.oid == child.oid || child.ancestors.contains(&t.oid));
            (!inside).then(|| (child.clone(), referenced.name.clone()))
        });
        match found {
            Some((child, referenced)) => {
                emptied.push(child.clone());
                also.push((child, referenced));
            }
            None => break,
        }
    }
    also
}

/// The rows of each table (one count per table).
fn count_rows(
    client: &mut impl GenericClient,
    tables: &[(Table, QualName)],
) -> Result<HashMap<u32, u64>, Error> {
    let mut rows = HashMap::with_capacity(tables.len());
    for (table, _) in tables {
        let row = crate::database::db::query_one(
            client,
            &format!("SELECT count(*) FROM {}", table.truncate_target()),
            &[],
            "counting the rows of a table that emptying the loaded ones would empty too",
        )?;
        rows.insert(table.oid, u64::try_from(row.get::<_, i64>(0)).unwrap_or(0));
    }
    Ok(rows)
}

/// Replaces each file's encoding by the server's name of it (which also
/// checks that the server knows it), and refuses a dialect fkload cannot
/// scan in that encoding: one where a delimiter, quote or escape byte can be
/// the second byte of a character. One query per distinct encoding.
fn check_encodings(
    client: &mut impl GenericClient,
    targets: &mut [(DataFile, Table)],
) -> Result<(), Error> {
    let mut known: BTreeMap<String, String> = BTreeMap::new();
    for (file, _) in targets.iter_mut() {
        let Some(given) = file.encoding().map(str::to_owned) else {
            continue;
        };
        let canonical = match known.get(&given) {
            Some(c) => c.clone(),
            None => {
                let row = crate::database::db::query_one(
                    client,
                    "SELECT pg_catalog.pg_encoding_to_char(pg_catalog.pg_char_to_encoding($1))::text",
                    &[&given],
                    "reading the name of an encoding",
                )?;
                let c: String = row.get(0);
                known.insert(given.clone(), c.clone());
                c
            }
        };
        file.name_encoding(&canonical).map_err(|source| {
            Error::new(ErrorKind::Dialect {
                path: file.path.clone(),
                from: "the encoding".into(),
                source,
            })
        })?;
    }
    Ok(())
}

/// Each file with the one table it names; no table named twice.
fn targets(catalog: &Catalog, files: Vec<DataFile>) -> Result<Vec<(DataFile, Table)>, Error> {
    let mut targets: Vec<(DataFile, Table)> = Vec::with_capacity(files.len());
    let mut by_table: BTreeMap<u32, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        let table = resolve(catalog, &f)?;
        by_table.entry(table.oid).or_default().push(f.path.clone());
        targets.push((f, table));
    }
    if let Some((oid, paths)) = by_table.iter().find(|(_, p)| p.len() > 1) {
        let table = catalog
            .table(*oid)
            .map(|t| t.name.human())
            .unwrap_or_default();
        return Err(Error::new(ErrorKind::DuplicateFile {
            table,
            paths: paths.clone(),
        }));
    }
    Ok(targets)
}

fn resolve(catalog: &Catalog, f: &DataFile) -> Result<Table, Error> {
    let found = catalog.resolve(&f.name);
    match found.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::new(ErrorKind::UnknownTable {
            path: f.path.clone(),
            candidates: catalog
                .similar(&f.name)
                .iter()
                .map(|t| t.name.human())
                .collect(),
        })),
        many => Err(Error::new(ErrorKind::AmbiguousTable {
            path: f.path.clone(),
            candidates: many.iter().map(|t| t.name.human()).collect(),
        })),
    }
}

/// True when rows loaded into `loaded` land in (or route through) relation `rel`:
/// the same table, a partition of it, or a partitioned ancestor of it.
pub(super) fn covers(catalog: &Catalog, loaded: &Table, rel: u32) -> bool {
    loaded.oid == rel
        || loaded.ancestors.contains(&rel)
        || catalog
            .table(rel)
            .is_some_and(|t| t.ancestors.contains(&loaded.oid))
}
