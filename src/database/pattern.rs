//! Choosing tables by name as pg_dump does: `-t`/`-T` table patterns and
//! `-n`/`-N` schema patterns, in psql's pattern language.
//!
//! A pattern becomes the regular expressions psql's `processSQLNamePattern`
//! makes (outside double quotes letters fold to lower case, `*` is any text,
//! `?` one character, `.` separates schema and name, other regular
//! expression characters keep their meaning; inside double quotes every
//! character is itself; `$` is always itself), and the server matches them
//! with its own `~`, so that a pattern selects what it selects in pg_dump.

use postgres::GenericClient;

use crate::database::db;
use crate::error::{DbErrorInfo, Error, ErrorKind, PatternError};

/// Which tables to load, as pg_dump's switches choose them: with any
/// `tables` pattern, the tables that match one (the schema patterns do not
/// apply then); else, with any `schemas` pattern, the tables of the schemas
/// that match one; else every table. Then the tables that match an
/// `exclude_tables` pattern go, and (without `tables`) those of a schema that
/// matches an `exclude_schemas` pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Selection {
    pub tables: Vec<String>,
    pub schemas: Vec<String>,
    pub exclude_tables: Vec<String>,
    pub exclude_schemas: Vec<String>,
}

impl Selection {
    /// Whether it selects every table.
    pub fn is_all(&self) -> bool {
        self.tables.is_empty()
            && self.schemas.is_empty()
            && self.exclude_tables.is_empty()
            && self.exclude_schemas.is_empty()
    }
}

/// A pattern as anchored regular expressions: the schema's (when the pattern
/// names one) and the name's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Regexes {
    pub schema: Option<String>,
    pub name: String,
}

/// The regular expressions of `pattern`, as `processSQLNamePattern` writes
/// them.
///
/// # Errors
/// [`PatternError::TooManyDots`] for a pattern with more than one unquoted
/// dot (a database name is not taken).
pub(crate) fn regexes(pattern: &str) -> Result<Regexes, PatternError> {
    // The finished parts (schema, then name) and the one being written.
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut chars = pattern.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' => {
                if in_quotes && chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = !in_quotes;
                }
            }
            c if !in_quotes && c.is_ascii_uppercase() => cur.push(c.to_ascii_lowercase()),
            '*' if !in_quotes => cur.push_str(".*"),
            '?' if !in_quotes => cur.push('.'),
            '.' if !in_quotes => parts.push(std::mem::take(&mut cur)),
            '$' => cur.push_str("\\$"),
            c => {
                // Inside quotes a regular expression character is itself;
                // `[]` is always (an array type's name, not a class).
                let quoted = in_quotes && "|*+?()[]{}.^$\\".contains(c);
                let array = c == '[' && chars.peek() == Some(&']');
                if quoted || array {
                    cur.push('\\');
                }
                cur.push(c);
            }
        }
    }
    parts.push(cur);
    let anchored = |s: &str| format!("^({s})$");
    match parts.as_slice() {
        [name] => Ok(Regexes {
            schema: None,
            name: anchored(name),
        }),
        [schema, name] => Ok(Regexes {
            schema: Some(anchored(schema)),
            name: anchored(name),
        }),
        _ => Err(PatternError::TooManyDots(pattern.to_string())),
    }
}

/// Which of `tables` (oids) `selection` keeps; for each it leaves out, why.
///
/// # Errors
/// [`ErrorKind::Selection`] for a pattern that cannot be read or that the
/// server's regular expressions refuse; [`ErrorKind::Sql`] and
/// [`ErrorKind::ConnectionLost`].
pub(crate) fn left_out(
    client: &mut impl GenericClient,
    selection: &Selection,
    tables: &[u32],
    search_path: &[String],
) -> Result<Vec<(u32, String)>, Error> {
    // As psql, pg_catalog comes first unless the path places it.
    let mut path: Vec<String> = search_path.to_vec();
    if !path.iter().any(|s| s == "pg_catalog") {
        path.insert(0, "pg_catalog".into());
    }
    let tables = &Tables {
        oids: tables,
        path: &path,
    };
    let mut kept: Vec<u32> = tables.oids.to_vec();
    let mut out: Vec<(u32, String)> = Vec::new();
    let by_tables = !selection.tables.is_empty();
    let (includes, switch, schema_only) = if by_tables {
        (&selection.tables, "-t", false)
    } else {
        (&selection.schemas, "-n", true)
    };
    if !includes.is_empty() {
        let mut chosen = Vec::new();
        for p in includes {
            chosen.extend(matching(client, tables, switch, p, schema_only)?);
        }
        let why = format!("not selected: its table matches no {switch} pattern");
        keep_only(&mut kept, &mut out, |t| chosen.contains(t), &why);
    }
    let mut excludes: Vec<(&String, &str, bool)> = selection
        .exclude_tables
        .iter()
        .map(|p| (p, "-T", false))
        .collect();
    if !by_tables {
        excludes.extend(selection.exclude_schemas.iter().map(|p| (p, "-N", true)));
    }
    for (p, switch, schema_only) in excludes {
        let hit = matching(client, tables, switch, p, schema_only)?;
        let why = format!("excluded by {switch} {p}");
        keep_only(&mut kept, &mut out, |t| !hit.contains(t), &why);
    }
    Ok(out)
}

/// Keeps in `kept` the tables `stays` says, the others going to `out` with
/// `why`.
fn keep_only(
    kept: &mut Vec<u32>,
    out: &mut Vec<(u32, String)>,
    stays: impl Fn(&u32) -> bool,
    why: &str,
) {
    kept.retain(|t| {
        let s = stays(t);
        if !s {
            out.push((*t, why.to_string()));
        }
        s
    });
}

/// Which of `tables` pattern `pattern` (of switch `switch`) matches, by the
/// server's regular expressions: a schema pattern is all schema; a table
/// pattern without a dot matches the name among the visible tables.
/// The tables patterns choose among, and the search path that says which
/// are visible.
struct Tables<'a> {
    oids: &'a [u32],
    path: &'a [String],
}

fn matching(
    client: &mut impl GenericClient,
    tables: &Tables<'_>,
    switch: &str,
    pattern: &str,
    schema_only: bool,
) -> Result<Vec<u32>, Error> {
    let refused = |source| ErrorKind::Selection {
        switch: switch.to_string(),
        pattern: pattern.to_string(),
        source,
    };
    let r = regexes(pattern).map_err(|e| Error::new(refused(e)))?;
    let (schema, name) = if schema_only {
        (Some(r.name), None)
    } else {
        (r.schema, Some(r.name))
    };
    // A table pattern without a schema matches only the tables the search
    // path shows (pg_table_is_visible: the first schema of the path holding
    // a relation of that name), as in psql and pg_dump. The session's path is
    // pinned while fkload plans, so the visibility is worked out from the
    // path it had.
    let visible_only = !schema_only && schema.is_none();
    let rows = db::try_query(
        client,
        "SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
          WHERE c.oid = ANY($1) \
            AND ($2::text IS NULL OR n.nspname ~ $2) AND ($3::text IS NULL OR c.relname ~ $3) \
            AND (NOT $4 OR c.relnamespace = ( \
                  SELECT s.oid FROM unnest($5::text[]) WITH ORDINALITY AS p(name, i) \
                    JOIN pg_namespace s ON s.nspname = p.name \
                   WHERE EXISTS (SELECT 1 FROM pg_class o \
                                  WHERE o.relnamespace = s.oid AND o.relname = c.relname) \
                   ORDER BY p.i LIMIT 1))",
        &[&tables.oids, &schema, &name, &visible_only, &tables.path],
    )
    .map_err(|e| match e.as_db_error() {
        // The server's report is the pattern's error, and the client's
        // error its source.
        Some(db) => {
            let kind = refused(PatternError::Refused(Box::new(DbErrorInfo::from_db(db))));
            Error::caused_by(kind, e)
        }
        None => Error::server(e, "matching the table patterns"),
    })?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_read_as_psql_reads_them() {
        let cases = [
            "orders",
            "Orders",
            "\"Orders\"",
            "sales.*",
            "*.order?",
            "\"My.Schema\".\"a*b\"",
            "a$b",
            "\"x\"\"y\"",
            "int[]",
            "t[0-9]+",
            "\"t[0-9]+\"",
            "Ärger",
        ];
        let out: Vec<String> = cases
            .iter()
            .map(|c| format!("{c} -> {:?}", regexes(c).unwrap()))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
        assert!(regexes("a.b.c").is_err());
    }
}
