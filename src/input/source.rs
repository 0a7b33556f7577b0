//! The data directory: which files there are, which table each one names, and what
//! its header row says.
//!
//! Owns the file-name rules (`<table>.csv`, `<schema>.<table>.csv`,
//! `<schema>/<table>.csv`) and the header parser. It does not look at the catalog:
//! turning a [`FileName`] into a table is [`crate::database::catalog::Catalog::resolve`]'s job,
//! so that this module stays pure and testable without a server.
//!
//! Files are never read whole: only the header row is read here, and the rest of the
//! file is streamed by [`crate::database::copy`].

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, HeaderError, Ignored, ManifestError};
pub use crate::input::data_file::{DataFile, FileName};
use crate::input::dialect::{Dialect, DialectOptions};
use crate::input::file::{self, Compression};
use crate::input::format::Format;
use crate::input::manifest::{self, Manifest};

/// The UTF-8 byte-order mark some editors put at the start of a CSV file.
const BOM: &str = "\u{feff}";

/// What [`scan`] finds: the data files, and every other entry (but those
/// whose names start with a dot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub files: Vec<DataFile>,
    pub ignored: Vec<Ignored>,
}

/// The compressions whose files fkload does not read, by suffix after `.csv`.
const UNREAD: [&str; 9] = ["bz2", "xz", "lz4", "lzma", "zip", "br", "Z", "lz", "7z"];

/// Why a file that is not a data file is not loaded.
fn why_not(name: &str) -> String {
    let unread = name
        .rsplit_once(".csv.")
        .map(|(_, ext)| ext)
        .filter(|ext| UNREAD.contains(ext));
    match unread {
        Some(ext) => format!(
            "compressed as .{ext}, which fkload does not read: decompress it, or compress it as .csv.gz or .csv.zst"
        ),
        None => "not a data file: fkload loads <table>.csv and <table>.tsv (each also .gz or .zst), and the files fkload.toml names".into(),
    }
}

/// Lists the data files (`.csv`, `.tsv`, each also `.gz` or `.zst`, and
/// whatever `fkload.toml` names) of `dir` and of its immediate
/// subdirectories, sorted by relative name so that every run sees them in the
/// same order, each with its dialect, and every other entry with why it is
/// not loaded. Entries whose names start with a dot and are not data files
/// (`.DS_Store`), and what a dot-directory (`.git`) holds beside data files,
/// are left out altogether, as is `fkload.toml` itself.
///
/// A file's dialect is, key by key: its table in `fkload.toml`, then
/// `options` (the command line), then the top of `fkload.toml`, then its
/// name (`.tsv` is tab-separated), then COPY's defaults.
///
/// Entries that are not regular files (directories named `x.csv`, FIFOs, broken
/// links) are reported as errors rather than skipped: a user who put them there
/// meant them to be loaded.
///
/// # Errors
/// [`ErrorKind::Io`] when the directory or a subdirectory cannot be read,
/// [`ErrorKind::NotAFile`] for a data file's name on an entry that is not a
/// regular file, [`ErrorKind::Manifest`] for a manifest that cannot be read
/// or names a file that is not there, and [`ErrorKind::Dialect`] for options
/// COPY would refuse.
pub fn scan(dir: &Path, options: &DialectOptions) -> Result<Listing, Error> {
    let mut listing = Scan {
        options,
        manifest: Manifest::read(dir)?,
        out: Listing::default(),
        seen: Vec::new(),
    };
    for entry in read_dir_sorted(dir)? {
        listing.top_entry(&entry)?;
    }
    listing.all_named_seen(dir)?;
    let mut out = listing.out;
    out.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    out.ignored.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// A [`Listing`] being made (see [`scan`]).
struct Scan<'a> {
    options: &'a DialectOptions,
    manifest: Option<Manifest>,
    out: Listing,
    /// The data files listed so far, by relative name.
    seen: Vec<String>,
}

impl Scan<'_> {
    /// Lists an entry of the data directory: a data file, a schema's
    /// directory, or an entry that is not loaded.
    fn top_entry(&mut self, entry: &std::fs::DirEntry) -> Result<(), Error> {
        // The path from the entry itself, so that a name that is not UTF-8 still
        // opens; the (lossy) text is only for matching and messages.
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let meta = std::fs::metadata(&path);
        let is_dir = meta.as_ref().map(|m| m.is_dir()).unwrap_or(false);
        if name == manifest::NAME && !is_dir {
            return Ok(());
        }
        if (!is_dir || Compression::split_name(&name).is_some())
            && self.add(None, name.clone(), &name, path.clone(), meta)?
        {
            return Ok(());
        }
        if is_dir {
            self.schema_dir(&name, &path)?;
        } else if !name.starts_with('.') {
            self.out.ignored.push(Ignored {
                why: why_not(&name),
                rel: name,
            });
        }
        Ok(())
    }

    /// Lists the entries of directory `name` (at `path`), a schema's.
    fn schema_dir(&mut self, name: &str, path: &Path) -> Result<(), Error> {
        // A directory is a schema's, whatever its name (".x" is a schema
        // name too); but what a dot-directory (.git) holds beside data
        // files is nobody's data, and is not listed.
        let hidden = name.starts_with('.');
        for sub in read_dir_sorted(path)? {
            let sub_name = sub.file_name().to_string_lossy().into_owned();
            let rel = format!("{name}/{sub_name}");
            let sub_path = sub.path();
            let sub_meta = std::fs::metadata(&sub_path);
            let sub_dir = sub_meta.as_ref().map(|m| m.is_dir()).unwrap_or(false);
            if (!sub_dir || Compression::split_name(&sub_name).is_some())
                && self.add(Some(name), rel.clone(), &sub_name, sub_path, sub_meta)?
            {
                continue;
            }
            if hidden || sub_name.starts_with('.') {
                continue;
            }
            let why = if sub_dir {
                "a directory inside a schema's directory: only <schema>/<table>.csv (.tsv, .gz, .zst) is read".into()
            } else {
                why_not(&sub_name)
            };
            self.out.ignored.push(Ignored { rel, why });
        }
        Ok(())
    }

    /// Lists the entry `name` (`rel` in the data directory, in `schema`'s
    /// directory or at the top) if it is a data file, with its dialect and
    /// what the manifest says of it. Returns whether it is one.
    fn add(
        &mut self,
        schema: Option<&str>,
        rel: String,
        name: &str,
        path: PathBuf,
        meta: std::io::Result<std::fs::Metadata>,
    ) -> Result<bool, Error> {
        let Some(stem) = table_stem(self.manifest.as_ref(), &rel, name)? else {
            return Ok(false);
        };
        check_regular(&path, meta)?;
        let dialect = dialect_of(&rel, &path, self.options, self.manifest.as_ref())?;
        let entry = self.manifest.as_ref().and_then(|m| m.files.get(&rel));
        self.seen.push(rel.clone());
        self.out.files.push(DataFile {
            path,
            name: match schema {
                Some(schema) => FileName::InSchema {
                    schema: schema.to_string(),
                    stem: stem.to_string(),
                },
                None => FileName::Bare {
                    stem: stem.to_string(),
                },
            },
            rel,
            format: Format::Csv(dialect),
            columns: entry.and_then(|e| e.columns.clone()),
        });
        Ok(true)
    }

    /// Fails on a file the manifest names that the directory `dir` lacks.
    fn all_named_seen(&self, dir: &Path) -> Result<(), Error> {
        if let Some(m) = &self.manifest
            && let Some((rel, e)) = m.files.iter().find(|(rel, _)| !self.seen.contains(rel))
        {
            return Err(Error::new(ErrorKind::Manifest {
                path: m.path.clone(),
                line: Some(e.line),
                source: ManifestError::NotInDirectory {
                    file: rel.clone(),
                    dir: dir.to_path_buf(),
                },
            }));
        }
        Ok(())
    }
}

/// The stem the entry `name` (at `rel`) is read as, if it is a data file:
/// the table the manifest gives it, else its name without `.csv` or `.tsv`
/// (and a compression's suffix).
///
/// # Errors
/// [`ErrorKind::Manifest`] when the manifest names a file whose name does not
/// say its table, and gives none.
fn table_stem<'a>(
    manifest: Option<&'a Manifest>,
    rel: &str,
    name: &'a str,
) -> Result<Option<&'a str>, Error> {
    let entry = manifest.and_then(|m| m.files.get(rel));
    match (
        entry.and_then(|e| e.table.as_deref()),
        Compression::split_name(name),
    ) {
        (Some(table), _) => Ok(Some(table)),
        (None, Some((stem, _))) => Ok(Some(stem)),
        (None, None) if entry.is_some() => {
            let m = manifest.map(|m| m.path.clone()).unwrap_or_default();
            Err(Error::new(ErrorKind::Manifest {
                path: m,
                line: entry.map(|e| e.line),
                source: ManifestError::NoTable {
                    file: rel.to_string(),
                },
            }))
        }
        (None, None) => Ok(None),
    }
}

/// The dialect of the file at `rel`, from its layers (see [`scan`]).
fn dialect_of(
    rel: &str,
    path: &Path,
    options: &DialectOptions,
    manifest: Option<&Manifest>,
) -> Result<Dialect, Error> {
    let own = manifest.and_then(|m| m.files.get(rel));
    let empty = DialectOptions::default();
    let all = manifest.map_or(&empty, |m| &m.all);
    let own_dialect = own.map_or(&empty, |e| &e.dialect);
    let layers = own_dialect.over(&options.over(all));
    layers.resolve(Compression::is_tsv(rel)).map_err(|refused| {
        let mut from = Vec::new();
        if let (Some(m), Some(e)) = (manifest, own)
            && !e.dialect.is_empty()
        {
            from.push(format!("{}:{} [files.\"{rel}\"]", m.path.display(), e.line));
        }
        if !options.is_empty() {
            from.push("the command line".into());
        }
        if let Some(m) = manifest
            && !m.all.is_empty()
        {
            from.push(m.path.display().to_string());
        }
        if from.is_empty() {
            from.push("the file's name".into());
        }
        Error::new(ErrorKind::Dialect {
            path: path.to_path_buf(),
            from: format!("options from {}", from.join(", ")),
            source: refused,
        })
    })
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<std::fs::DirEntry>, Error> {
    let io = |source| {
        Error::new(ErrorKind::Io {
            path: dir.to_path_buf(),
            source,
        })
    };
    let mut entries = std::fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    Ok(entries)
}

fn check_regular(path: &Path, meta: std::io::Result<std::fs::Metadata>) -> Result<(), Error> {
    match meta {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => Err(Error::new(ErrorKind::NotAFile {
            path: path.to_path_buf(),
        })),
        Err(source) => Err(Error::new(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })),
    }
}

/// Where a file's column names come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnsFrom {
    /// Its header row.
    Header,
    /// `columns` in `fkload.toml` (renaming the header's, if it has one).
    Manifest,
    /// The table's own columns in order, for a file without a header whose
    /// records have as many fields.
    TableOrder,
}

impl ColumnsFrom {
    /// For people: "from the header", ...
    pub fn describe(self) -> &'static str {
        match self {
            ColumnsFrom::Header => "from the header",
            ColumnsFrom::Manifest => "from fkload.toml",
            ColumnsFrom::TableOrder => "in the table's order",
        }
    }
}

/// What the start of a file says about its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The column names in file order; empty for [`ColumnsFrom::TableOrder`]
    /// until the plan fills them from the table.
    pub columns: Vec<String>,
    /// The file's size in bytes, for the plan and the summary.
    pub bytes: u64,
    pub from: ColumnsFrom,
    /// How many fields the first record has (0 for an empty file).
    pub fields: usize,
}

/// Reads what the start of `file` says about its columns (its header row,
/// as PostgreSQL's `FORMAT csv` reads it in the file's dialect, or the
/// number of fields of its first record), and what `fkload.toml` says.
///
/// A UTF-8 byte-order mark before the first name is dropped. Only the first
/// record is read, however large the file. Names in another encoding than
/// UTF-8 are decoded from `file.dialect.encoding`, which must be the
/// server's name of it (`pg_encoding_to_char`).
///
/// # Errors
/// [`ErrorKind::Io`] when the file cannot be opened or read, and
/// [`ErrorKind::Header`] for an empty file, a header that is not valid CSV
/// or not in its encoding, an empty column name, a name given twice, or
/// `columns` in `fkload.toml` that do not match the fields.
pub fn read_header(file: &DataFile) -> Result<Header, Error> {
    let path = &file.path;
    let io = |source| {
        Error::new(ErrorKind::Io {
            path: path.to_path_buf(),
            source,
        })
    };
    let bad = |source| {
        Error::new(ErrorKind::Header {
            path: path.to_path_buf(),
            source,
        })
    };
    let bytes = std::fs::metadata(path).map_err(io)?.len();
    let problem = |e| match e {
        HeaderProblem::Io(source) => io(source),
        HeaderProblem::Bad(source) => bad(source),
        HeaderProblem::NotUtf8 { column } => Error::new(ErrorKind::HeaderNotUtf8 {
            path: path.to_path_buf(),
            column,
        }),
    };
    let Format::Csv(d) = &file.format;
    let (names, fields) = if d.header {
        let names = parse_header(file::open(path).map_err(io)?, d).map_err(problem)?;
        let n = names.len();
        (names, n)
    } else {
        let first = first_record(file::open(path).map_err(io)?, d, false).map_err(problem)?;
        (Vec::new(), first.map_or(0, |r| r.len()))
    };
    let (columns, from) = match &file.columns {
        Some(given) => {
            if fields != 0 && given.len() != fields {
                return Err(bad(HeaderError::ColumnCount {
                    given: given.len(),
                    fields,
                    header: d.header,
                }));
            }
            if let Some(twice) = given
                .iter()
                .enumerate()
                .find(|(i, c)| given[..*i].contains(c))
            {
                return Err(bad(HeaderError::RepeatedManifestColumn {
                    name: twice.1.clone(),
                }));
            }
            (given.clone(), ColumnsFrom::Manifest)
        }
        None if d.header => (names, ColumnsFrom::Header),
        None => (Vec::new(), ColumnsFrom::TableOrder),
    };
    Ok(Header {
        columns,
        bytes,
        from,
        fields,
    })
}

/// Why a header could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeaderProblem {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[source] std::io::Error),
    /// The first record is no header COPY would read: why.
    #[error("{0}")]
    Bad(HeaderError),
    /// A column name is not UTF-8, and no other encoding was named.
    #[error("column name {column} is not valid UTF-8")]
    NotUtf8 { column: usize },
}

/// The longest first record fkload reads for a header: longer is an
/// unterminated quote, not a header.
const MAX_FIRST_RECORD: usize = 16 * 1024 * 1024;

/// The fields of the first record of `input` in `dialect`, unquoted as COPY
/// unquotes them, or `None` for an empty input. A header must be on the
/// first line (COPY's HEADER skips the first line, blank or not); a file
/// without one must not start with a byte-order mark, which COPY would load
/// as part of the first value.
fn first_record<R: Read>(
    mut input: R,
    dialect: &Dialect,
    header: bool,
) -> Result<Option<Vec<Vec<u8>>>, HeaderProblem> {
    let mut scanner = crate::input::scan::Scanner::with(dialect);
    let mut bytes: Vec<u8> = Vec::new();
    let mut end: Option<u64> = None;
    let mut buf = vec![0u8; 64 * 1024];
    while end.is_none() {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(HeaderProblem::Io(e)),
        };
        bytes.extend_from_slice(&buf[..n]);
        scanner.feed(&buf[..n], &mut |r| {
            end.get_or_insert(r.end);
        });
        if end.is_none() && bytes.len() > MAX_FIRST_RECORD {
            return Err(HeaderProblem::Bad(HeaderError::FirstRecordTooLong {
                mib: MAX_FIRST_RECORD >> 20,
            }));
        }
    }
    if end.is_none() {
        scanner.finish(&mut |r| {
            end.get_or_insert(r.end);
        });
    }
    let Some(end) = end else {
        return Ok(None);
    };
    let record = &bytes[..usize::try_from(end).unwrap_or(bytes.len()).min(bytes.len())];
    let utf8 = matches!(dialect.encoding.as_deref(), None | Some("UTF8"));
    let record = match record.strip_prefix(BOM.as_bytes()) {
        Some(_) if !header => {
            return Err(HeaderProblem::Bad(HeaderError::MarkWithoutHeader));
        }
        Some(rest) if utf8 => rest,
        _ => record,
    };
    if header && record.first().is_some_and(|&b| b == b'\n' || b == b'\r') {
        return Err(HeaderProblem::Bad(HeaderError::EmptyFirstLine));
    }
    let (body, _) = crate::input::edit::split_terminator(record);
    Ok(Some(
        crate::input::edit::fields(dialect, body)
            .into_iter()
            .map(|r| unquote(dialect, &body[r]))
            .collect(),
    ))
}

/// A field's value as COPY reads it in `dialect` (copyfromparse.c,
/// CopyReadAttributesCSV): quoted parts lose their quotes, and inside them
/// an escape before a quote or an escape stands for that byte.
fn unquote(dialect: &Dialect, field: &[u8]) -> Vec<u8> {
    let (q, e) = (dialect.quote, dialect.escape);
    let mut out = Vec::with_capacity(field.len());
    let mut in_quote = false;
    let mut i = 0;
    while i < field.len() {
        let c = field[i];
        if in_quote {
            if c == e && field.get(i + 1).is_some_and(|&n| n == q || n == e) {
                out.push(field[i + 1]);
                i += 2;
                continue;
            }
            if c == q {
                in_quote = false;
            } else {
                out.push(c);
            }
        } else if c == q {
            in_quote = true;
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

/// Parses the first record of `input` as a header row in `dialect`.
///
/// # Errors
/// [`HeaderProblem::Bad`] with a message in PostgreSQL's style when the header is
/// missing, malformed, not in its encoding, has an empty name or repeats a name.
pub fn parse_header<R: Read>(input: R, dialect: &Dialect) -> Result<Vec<String>, HeaderProblem> {
    let Some(record) = first_record(input, dialect, true)? else {
        return Err(HeaderProblem::Bad(HeaderError::Empty));
    };
    let decoder = match dialect.encoding.as_deref() {
        None | Some("UTF8") => None,
        Some(other) => Some((other, crate::input::dialect::decoder(other))),
    };
    let mut columns: Vec<String> = Vec::with_capacity(record.len());
    for (i, field) in record.iter().enumerate() {
        let name = match decoder {
            None => std::str::from_utf8(field)
                .map(str::to_string)
                .map_err(|_| HeaderProblem::NotUtf8 { column: i + 1 })?,
            Some(_) if field.is_ascii() => String::from_utf8_lossy(field).into_owned(),
            Some((_, Some(enc))) => {
                let (text, bad) = enc.decode_without_bom_handling(field);
                if bad {
                    return Err(HeaderProblem::Bad(HeaderError::NotInEncoding {
                        column: i + 1,
                        encoding: dialect.encoding.clone().unwrap_or_default(),
                    }));
                }
                text.into_owned()
            }
            Some((name, None)) => {
                return Err(HeaderProblem::Bad(HeaderError::Undecodable {
                    column: i + 1,
                    encoding: name.to_string(),
                }));
            }
        };
        let name = if i == 0 {
            name.strip_prefix(BOM).map(str::to_string).unwrap_or(name)
        } else {
            name
        };
        if name.is_empty() {
            return Err(HeaderProblem::Bad(HeaderError::EmptyName { column: i + 1 }));
        }
        if columns.contains(&name) {
            return Err(HeaderProblem::Bad(HeaderError::RepeatedName { name }));
        }
        columns.push(name);
    }
    Ok(columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Result<Vec<String>, HeaderProblem> {
        parse_header(s.as_bytes(), &Dialect::default())
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Any bytes at all: an answer, never a panic.
            #[test]
            fn header_parser_takes_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
                let _ = parse_header(bytes.as_slice(), &Dialect::default());
            }

            /// Names written as CSV writes them (quoted, quotes doubled) read back.
            #[test]
            fn quoted_names_read_back(names in proptest::collection::btree_set("[^\\x00]{1,20}", 1..8)) {
                let names: Vec<String> = names.into_iter().collect();
                let line: Vec<String> = names.iter().map(|n| format!("\"{}\"", n.replace('"', "\"\""))).collect();
                let text = format!("{}\n1\n", line.join(","));
                let parsed = parse_header(text.as_bytes(), &Dialect::default()).map_err(|e| format!("{e:?}"));
                // A first name starting with the BOM character loses it, as COPY's
                // reader of a UTF-8 file would.
                prop_assume!(!names[0].starts_with('\u{feff}'));
                prop_assert_eq!(parsed, Ok(names));
            }

            /// Every reading of a file name joins back to the name.
            #[test]
            fn readings_join_back(stem in "[^/\\x00]{1,40}") {
                let readings = FileName::Bare { stem: stem.clone() }.readings();
                prop_assert_eq!(&readings[0], &(None, stem.clone()));
                for (schema, table) in &readings[1..] {
                    let schema = schema.as_ref().unwrap();
                    prop_assert_eq!(format!("{schema}.{table}"), stem.clone());
                    prop_assert!(!schema.is_empty() && !table.is_empty());
                }
            }
        }
    }

    #[test]
    fn header_plain_quoted_and_bom() {
        assert_eq!(header("a,b,c\n1,2,3\n").unwrap(), ["a", "b", "c"]);
        assert_eq!(
            header("\u{feff}id,\"Order Lines\",\"a,b\"\r\n").unwrap(),
            ["id", "Order Lines", "a,b"]
        );
        assert_eq!(
            header("\"we\"\"ird\",x").unwrap(),
            ["we\"ird", "x"],
            "doubled quotes are one quote"
        );
    }

    #[test]
    fn header_errors() {
        assert!(header("").unwrap_err().to_string().contains("empty"));
        assert!(
            header("\nid\n1\n")
                .unwrap_err()
                .to_string()
                .contains("first line is empty")
        );
        assert!(
            header("\r\nid\r\n")
                .unwrap_err()
                .to_string()
                .contains("first line is empty")
        );
        assert!(
            header("a,,b\n")
                .unwrap_err()
                .to_string()
                .contains("column name 2")
        );
        assert!(
            header("a,b,a\n")
                .unwrap_err()
                .to_string()
                .contains("\"a\" appears more")
        );
    }

    #[test]
    fn bare_name_readings_cover_every_dot() {
        let n = FileName::Bare {
            stem: "Sales.Order Lines".into(),
        };
        assert_eq!(
            n.readings(),
            vec![
                (None, "Sales.Order Lines".to_string()),
                (Some("Sales".to_string()), "Order Lines".to_string())
            ]
        );
        let n = FileName::Bare {
            stem: "a.b.c".into(),
        };
        assert_eq!(n.readings().len(), 3);
        let n = FileName::Bare { stem: ".x".into() };
        assert_eq!(n.readings(), vec![(None, ".x".to_string())]);
    }

    #[test]
    fn scan_finds_top_level_and_schema_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.csv"), "x\n").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "").unwrap();
        std::fs::create_dir(dir.path().join("Sales")).unwrap();
        std::fs::write(dir.path().join("Sales/Order Lines.csv"), "x\n").unwrap();
        std::fs::write(dir.path().join("Sales/c.csv.zst"), "x\n").unwrap();
        std::fs::write(dir.path().join("Sales/d.csv.bz2"), "x\n").unwrap();
        std::fs::create_dir(dir.path().join("Sales/deeper")).unwrap();
        std::fs::write(dir.path().join("a.csv.gz"), "x\n").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "").unwrap();
        std::fs::write(dir.path().join(".hidden.csv"), "x\n").unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".git/HEAD"), "x\n").unwrap();
        let listing = scan(dir.path(), &DialectOptions::default()).unwrap();
        let files = listing.files;
        let rels: Vec<_> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(
            rels,
            [
                ".hidden.csv",
                "Sales/Order Lines.csv",
                "Sales/c.csv.zst",
                "a.csv.gz",
                "b.csv"
            ]
        );
        let ignored: Vec<String> = listing
            .ignored
            .iter()
            .map(|i| format!("{}: {}", i.rel, i.why))
            .collect();
        insta::assert_snapshot!(ignored.join("\n"));
        assert_eq!(
            files[1].name,
            FileName::InSchema {
                schema: "Sales".into(),
                stem: "Order Lines".into()
            }
        );
    }

    #[test]
    fn scan_gives_each_file_its_dialect_by_layer() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a.csv",
            "b.tsv",
            "c.tsv.gz",
            "d.csv",
            "Sales/odd.dat",
            "Sales/e.csv",
        ] {
            if let Some((d, _)) = name.split_once('/') {
                std::fs::create_dir_all(dir.path().join(d)).unwrap();
            }
            std::fs::write(dir.path().join(name), "x\n").unwrap();
        }
        std::fs::write(
            dir.path().join("fkload.toml"),
            "null = 'NULL'\nquote = \"'\"\n[files.\"d.csv\"]\ndelimiter = \"|\"\nnull = ''\n[files.\"Sales/odd.dat\"]\ntable = \"orders\"\ncolumns = [\"x\"]\n",
        )
        .unwrap();
        let cli = DialectOptions {
            delimiter: Some(";".into()),
            quote: Some("\"".into()),
            ..Default::default()
        };
        let listing = scan(dir.path(), &cli).unwrap();
        assert!(listing.ignored.is_empty(), "{:?}", listing.ignored);
        let got: Vec<String> = listing
            .files
            .iter()
            .map(|f| format!("{} {:?} [{}]", f.rel, f.name, f.format.describe()))
            .collect();
        assert_eq!(
            got,
            [
                "Sales/e.csv InSchema { schema: \"Sales\", stem: \"e\" } [delimiter ';', null 'NULL']",
                "Sales/odd.dat InSchema { schema: \"Sales\", stem: \"orders\" } [delimiter ';', null 'NULL']",
                "a.csv Bare { stem: \"a\" } [delimiter ';', null 'NULL']",
                "b.tsv Bare { stem: \"b\" } [delimiter ';', null 'NULL']",
                "c.tsv.gz Bare { stem: \"c\" } [delimiter ';', null 'NULL']",
                "d.csv Bare { stem: \"d\" } [delimiter '|']",
            ]
        );
        assert_eq!(listing.files[1].columns, Some(vec!["x".to_string()]));
        // Without the command line, .tsv is tab and the manifest's quote holds.
        let listing = scan(dir.path(), &DialectOptions::default()).unwrap();
        assert_eq!(
            listing.files[3].format.describe(),
            "delimiter tab, quote ''', null 'NULL'"
        );
        // A dialect COPY would refuse names the file and where it came from.
        let bad = DialectOptions {
            delimiter: Some("'".into()),
            ..Default::default()
        };
        let e = scan(dir.path(), &bad).unwrap_err().to_string();
        assert!(
            e.contains(
                "the delimiter and the quote must be different (options from the command line, "
            ) && e.contains("fkload.toml)"),
            "{e}"
        );
    }

    #[test]
    fn header_fields_are_read_as_copy_reads_them() {
        let d = crate::input::dialect::DialectOptions {
            escape: Some("\\".into()),
            ..Default::default()
        }
        .resolve(false)
        .unwrap();
        let names = |text: &[u8], d: &Dialect| parse_header(text, d).map_err(|e| format!("{e:?}"));
        // An escape before anything but a quote or an escape is itself.
        assert_eq!(
            names(b"\"C:\\tmp\",\"a\\\"b\",\"c\\\\\"\n", &d).unwrap(),
            ["C:\\tmp", "a\"b", "c\\"]
        );
        // A quote in the middle of a field starts quoting, as in COPY.
        assert_eq!(
            names(b"a\"b,c\",d\n", &Dialect::default()).unwrap(),
            ["ab,c", "d"]
        );
        // A quoted line break belongs to the header.
        assert_eq!(
            names(b"\"x\ny\",z\r\n1,2\r\n", &Dialect::default()).unwrap(),
            ["x\ny", "z"]
        );
        let no_header = crate::input::dialect::DialectOptions {
            header: Some(false),
            ..Default::default()
        }
        .resolve(false)
        .unwrap();
        let bom = first_record(&b"\xef\xbb\xbf1,2\n"[..], &no_header, false).unwrap_err();
        assert!(bom.to_string().contains("byte-order mark"));
        assert_eq!(
            first_record(&b"1,\"a,b\",3"[..], &no_header, false)
                .unwrap()
                .map(|r| r.len()),
            Some(3)
        );
        assert!(first_record(&b""[..], &no_header, false).unwrap().is_none());
    }

    #[test]
    fn scan_rejects_a_directory_named_csv() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("x.csv")).unwrap();
        let err = scan(dir.path(), &DialectOptions::default()).unwrap_err();
        assert!(matches!(err.kind(), ErrorKind::NotAFile { .. }), "{err}");
    }
}
