//! `fkload.toml`: what the data directory says about its own files.
//!
//! ```toml
//! delimiter = ";"          # for every file of the directory
//! null = "\\N"
//!
//! [files."person.csv"]     # for one file, by its name in the directory
//! header = false
//! columns = ["id", "name"]
//!
//! [files."export-2024.dat"]
//! table = "sales.orders"   # a name that does not follow the rules
//! ```
//!
//! The keys are `delimiter`, `quote`, `escape`, `null`, `header` and
//! `encoding` at the top and in a file's table, and `table` and `columns` in
//! a file's table only. A key fkload does not know is an error naming the
//! key and its line: a misspelt option must not be ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, ErrorKind, ManifestError};
use crate::input::dialect::DialectOptions;

/// The manifest's file name in the data directory.
pub const NAME: &str = "fkload.toml";

/// What `fkload.toml` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Manifest {
    /// Where it was read from.
    pub path: PathBuf,
    /// For every file.
    pub all: DialectOptions,
    /// For one file each, by its name relative to the data directory.
    pub files: BTreeMap<String, FileEntry>,
}

/// A file's own table in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileEntry {
    pub dialect: DialectOptions,
    /// The table the file loads, read as a file name's stem is
    /// (`orders`, `sales.orders`).
    pub table: Option<String>,
    /// The table's columns in the file's field order: the header's names
    /// replaced (renamed), or given where the file has no header.
    pub columns: Option<Vec<String>>,
    /// The line of the file's table in the manifest, for messages.
    pub line: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Top {
    delimiter: Option<String>,
    quote: Option<String>,
    escape: Option<String>,
    null: Option<String>,
    header: Option<bool>,
    encoding: Option<String>,
    #[serde(default)]
    files: BTreeMap<String, toml::Spanned<PerFile>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PerFile {
    delimiter: Option<String>,
    quote: Option<String>,
    escape: Option<String>,
    null: Option<String>,
    header: Option<bool>,
    encoding: Option<String>,
    table: Option<String>,
    columns: Option<Vec<String>>,
}

impl Manifest {
    /// Reads `dir/fkload.toml`, or `None` when there is none.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when it cannot be read, [`ErrorKind::Manifest`] when
    /// it is not valid TOML, has a key fkload does not know, or a value of
    /// the wrong type.
    pub fn read(dir: &Path) -> Result<Option<Manifest>, Error> {
        let path = dir.join(NAME);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::new(ErrorKind::Io { path, source })),
        };
        Manifest::parse(&path, &text).map(Some)
    }

    /// Parses the text of a manifest read from `path`.
    ///
    /// # Errors
    /// As [`Manifest::read`].
    pub fn parse(path: &Path, text: &str) -> Result<Manifest, Error> {
        let top: Top = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start));
            Error::new(ErrorKind::Manifest {
                path: path.to_path_buf(),
                line,
                source: ManifestError::Toml(e),
            })
        })?;
        let files = top
            .files
            .into_iter()
            .map(|(name, spanned)| {
                let line = line_of(text, spanned.span().start);
                let f = spanned.into_inner();
                let entry = FileEntry {
                    dialect: DialectOptions {
                        delimiter: f.delimiter,
                        quote: f.quote,
                        escape: f.escape,
                        null: f.null,
                        header: f.header,
                        encoding: f.encoding,
                    },
                    table: f.table,
                    columns: f.columns,
                    line,
                };
                (name, entry)
            })
            .collect();
        Ok(Manifest {
            path: path.to_path_buf(),
            all: DialectOptions {
                delimiter: top.delimiter,
                quote: top.quote,
                escape: top.escape,
                null: top.null,
                header: top.header,
                encoding: top.encoding,
            },
            files,
        })
    }
}

/// The 1-based line of byte `at` of `text`.
fn line_of(text: &str, at: usize) -> usize {
    1 + text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, Error> {
        Manifest::parse(Path::new("d/fkload.toml"), text)
    }

    #[test]
    fn top_level_and_per_file_keys() {
        let m = parse(
            "delimiter = \";\"\nnull = '\\N'\n\n[files.\"person.csv\"]\nheader = false\ncolumns = [\"id\", \"name\"]\ntable = \"people\"\n",
        )
        .unwrap();
        assert_eq!(m.all.delimiter.as_deref(), Some(";"));
        assert_eq!(m.all.null.as_deref(), Some("\\N"));
        let p = &m.files["person.csv"];
        assert_eq!(p.dialect.header, Some(false));
        assert_eq!(
            p.columns.as_deref(),
            Some(&["id".into(), "name".into()][..])
        );
        assert_eq!(p.table.as_deref(), Some("people"));
        assert_eq!(p.line, 4);
    }

    #[test]
    fn an_unknown_key_names_the_key_and_its_line() {
        let e = parse("null = ''\ndelimter = \";\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d/fkload.toml:2: "), "{e}");
        assert!(e.contains("unknown field `delimter`"), "{e}");
        let e = parse("[files.\"a.csv\"]\nheader = false\ncolumn = [\"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("d/fkload.toml:3: "), "{e}");
        assert!(e.contains("`column`"), "{e}");
        let e = parse("table = \"x\"\n").unwrap_err().to_string();
        assert!(e.contains("`table`"), "only in a file's table: {e}");
    }

    #[test]
    fn wrong_types_and_bad_toml_are_errors_with_lines() {
        let e = parse("\nheader = \"no\"\n").unwrap_err().to_string();
        assert!(e.starts_with("d/fkload.toml:2: "), "{e}");
        let e = parse("delimiter = \n").unwrap_err().to_string();
        assert!(e.starts_with("d/fkload.toml:1: "), "{e}");
    }
}
