//! Files in other CSV dialects: other delimiters, quotes, escapes, NULL
//! strings, no header, other encodings, given on the command line or in
//! `fkload.toml`. The oracle is the server: each dialect's files are what
//! `psql \copy ... TO` writes with the same options, and they must load
//! back to exactly the rows they came from; the options fkload refuses are
//! the ones COPY refuses.

use std::path::Path;
use std::process::Command;

use crate::util::pg::{TestDb, tool};
use crate::util::support::{Scenario, fkload, skip, write};

const SCHEMA: &str = "
CREATE TABLE person (id int PRIMARY KEY, name text, note text);
CREATE TABLE pet (id int PRIMARY KEY, owner int REFERENCES person, name text);";

/// The same tables, with no key: where the source rows (orphans included)
/// are written from.
const SOURCE_SCHEMA: &str = "
CREATE TABLE person (id int PRIMARY KEY, name text, note text);
CREATE TABLE pet (id int PRIMARY KEY, owner int, name text);";

/// Values that each dialect must carry: every delimiter, quote, escape and
/// NULL string of the cases, line ends, the end-of-data marker, accents.
fn values(latin1: bool) -> Vec<Option<&'static str>> {
    let mut v = vec![
        None,
        Some(""),
        Some("NULL"),
        Some("\\N"),
        Some("a,b"),
        Some("a;b"),
        Some("a|b"),
        Some("a\tb"),
        Some("say \"hi\""),
        Some("it's"),
        Some("back\\slash \\\" \\'"),
        Some("two\nlines"),
        Some("cr\r\nlf"),
        Some("\\."),
        Some(" spaced "),
        Some("Zoë Ærøskøbing"),
    ];
    if !latin1 {
        v.push(Some("€uro"));
    }
    v
}

fn literal(v: Option<&str>) -> String {
    match v {
        None => "NULL".into(),
        Some(s) => format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
    }
}

/// The orphan pet's name.
const ORPHAN: &str = "or\\\"p\\'h;a,n|\t\"";

/// Rows for person and pet (pet 0 references no person: the orphan, last).
fn fill(db: &TestDb, latin1: bool) {
    let vals = values(latin1);
    let n = vals.len();
    let mut sql = String::new();
    for (i, v) in vals.iter().enumerate() {
        sql.push_str(&format!(
            "INSERT INTO person VALUES ({}, {}, {});\n",
            i + 1,
            literal(*v),
            literal(vals[(i + 3) % n])
        ));
        sql.push_str(&format!(
            "INSERT INTO pet VALUES ({}, {}, {});\n",
            i + 1,
            (i % n) + 1,
            literal(vals[(i + 5) % n])
        ));
    }
    // The orphan's name holds every delimiter, quote and escape, so that
    // its key field is found only by splitting as COPY does.
    sql.push_str(&format!(
        "INSERT INTO pet VALUES (1000, 999, {});\n",
        literal(Some(ORPHAN))
    ));
    db.exec(&sql);
}

/// Every row of `table` as the server prints it, in id order; with
/// `keyed`, pet's rows whose owner exists only.
fn rows(db: &TestDb, table: &str, keyed: bool) -> String {
    let filter = if keyed {
        " WHERE owner IS NULL OR owner IN (SELECT id FROM person)"
    } else {
        ""
    };
    db.query_strings(&format!(
        "SELECT coalesce(string_agg(t::text, ' | ' ORDER BY id), '') FROM {table} t{filter}"
    ))
    .join("")
}

/// Writes `query`'s rows to `path` as `psql \copy ... TO` does with `options`.
fn psql_copy_to(psql: &Path, db: &TestDb, query: &str, path: &Path, options: &str) {
    let out = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &db.url, "-c"])
        .arg(format!(
            "\\copy ({query}) TO '{}' WITH (FORMAT csv{options})",
            path.display()
        ))
        .output()
        .expect("psql runs");
    assert!(
        out.status.success(),
        "psql \\copy {options}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One dialect: its COPY options as psql takes them, the same as fkload's
/// command-line arguments and as `fkload.toml` keys, and the files' suffix.
struct Case {
    label: &'static str,
    copy: &'static str,
    args: &'static [&'static str],
    toml: &'static str,
    suffix: &'static str,
    header: bool,
    latin1: bool,
}

const CASES: &[Case] = &[
    Case {
        label: "comma",
        copy: "",
        args: &[],
        toml: "",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "semicolon",
        copy: ", DELIMITER ';'",
        args: &["--delimiter", ";"],
        toml: "delimiter = \";\"",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "tsv",
        copy: ", DELIMITER E'\\t'",
        args: &[],
        toml: "",
        suffix: "tsv",
        header: true,
        latin1: false,
    },
    Case {
        label: "tab",
        copy: ", DELIMITER E'\\t'",
        args: &["--delimiter", "\\t"],
        toml: "delimiter = \"\\t\"",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "pipe",
        copy: ", DELIMITER '|'",
        args: &["--delimiter", "|"],
        toml: "delimiter = \"|\"",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "single_quote",
        copy: ", QUOTE ''''",
        args: &["--quote", "'"],
        toml: "quote = \"'\"",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "backslash_escape",
        copy: ", ESCAPE E'\\\\'",
        args: &["--escape", "\\"],
        toml: "escape = '\\'",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "quote_and_escape",
        copy: ", QUOTE '''', ESCAPE E'\\\\', FORCE_QUOTE *",
        args: &["--quote", "'", "--escape", "\\"],
        toml: "quote = \"'\"\nescape = '\\'",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "null_backslash_n",
        copy: ", NULL E'\\\\N'",
        args: &["--null", "\\N"],
        toml: "null = '\\N'",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "null_word_quoted",
        copy: ", NULL 'NULL', FORCE_QUOTE *",
        args: &["--null", "NULL"],
        toml: "null = \"NULL\"",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "no_header",
        copy: ", HEADER false",
        args: &["--no-header"],
        toml: "header = false",
        suffix: "csv",
        header: false,
        latin1: false,
    },
    Case {
        label: "latin1",
        copy: ", ENCODING 'LATIN1'",
        args: &["--encoding", "LATIN1"],
        toml: "encoding = \"latin1\"",
        suffix: "csv",
        header: true,
        latin1: true,
    },
    Case {
        label: "win1252",
        copy: ", ENCODING 'WIN1252'",
        args: &["--encoding", "WIN1252"],
        toml: "encoding = \"WIN1252\"",
        suffix: "csv",
        header: true,
        latin1: false,
    },
    Case {
        label: "all_at_once",
        copy: ", HEADER false, DELIMITER ';', QUOTE '''', ESCAPE E'\\\\', NULL E'\\\\N', ENCODING 'LATIN1'",
        args: &[
            "--no-header",
            "--delimiter",
            ";",
            "--quote",
            "'",
            "--escape",
            "\\",
            "--null",
            "\\N",
            "--encoding",
            "LATIN1",
        ],
        toml: "header = false\ndelimiter = \";\"\nquote = \"'\"\nescape = '\\'\nnull = '\\N'\nencoding = \"LATIN1\"",
        suffix: "csv",
        header: false,
        latin1: true,
    },
];

/// The source database of a case, and its person and pet files written by
/// psql into `dir` (pet without its orphan unless `orphan`).
fn source(psql: &Path, case: &Case, dir: &Path, orphan: bool) -> TestDb {
    let src = TestDb::new(&format!("dialect_src_{}", case.label));
    src.exec(SOURCE_SCHEMA);
    fill(&src, case.latin1);
    let header = if case.header { ", HEADER true" } else { "" };
    let copy = format!("{header}{}", case.copy);
    psql_copy_to(
        psql,
        &src,
        "SELECT * FROM person ORDER BY id",
        &dir.join(format!("person.{}", case.suffix)),
        &copy,
    );
    // With a header, the key comes after the name, as a file may have it.
    let pets = match (orphan, case.header) {
        (true, true) => "SELECT id, name, owner FROM pet ORDER BY id",
        (true, false) => "SELECT * FROM pet ORDER BY id",
        (false, _) => "SELECT * FROM pet WHERE owner <> 999 ORDER BY id",
    };
    psql_copy_to(
        psql,
        &src,
        pets,
        &dir.join(format!("pet.{}", case.suffix)),
        &copy,
    );
    src
}

#[test]
fn every_dialect_loads_back_what_psql_copy_to_writes_from_options_and_from_the_manifest() {
    let Some(psql) = tool("psql") else {
        skip(
            "every_dialect_loads_back_what_psql_copy_to_writes",
            "no psql beside the test server (FKLOAD_TEST_DATABASE_URL set, or a build without it)",
        );
        return;
    };
    for case in CASES {
        let dir = tempfile::tempdir().unwrap();
        let src = source(&psql, case, dir.path(), false);
        let want = (rows(&src, "person", false), rows(&src, "pet", true));
        // From the command line, then from fkload.toml's top, then from
        // each file's own table in it.
        let per_file = |name: &str| {
            if case.toml.is_empty() {
                String::new()
            } else {
                format!("[files.\"{name}.{}\"]\n{}\n", case.suffix, case.toml)
            }
        };
        let ways: [(&str, Vec<&str>, String); 3] = [
            ("options", case.args.to_vec(), String::new()),
            ("manifest", Vec::new(), format!("{}\n", case.toml)),
            (
                "per_file",
                Vec::new(),
                format!("{}{}", per_file("person"), per_file("pet")),
            ),
        ];
        for (way, args, toml) in ways {
            let manifest = dir.path().join("fkload.toml");
            let _ = std::fs::remove_file(&manifest);
            if !toml.trim().is_empty() {
                std::fs::write(&manifest, &toml).unwrap();
            }
            let db = TestDb::new(&format!("dialect_{}_{way}", case.label));
            db.exec(SCHEMA);
            let run = fkload(&db, dir.path(), &args);
            assert_eq!(
                run.code, 0,
                "{} by {way}: {}\n{}",
                case.label, run.stderr, run.stdout
            );
            let got = (rows(&db, "person", false), rows(&db, "pet", false));
            assert_eq!(got, want, "{} by {way}", case.label);
            // And the same through the parallel load, which cuts the plain
            // files at record boundaries (64 bytes a part here).
            let par = TestDb::new(&format!("dialect_{}_{way}_j", case.label));
            par.exec(SCHEMA);
            let mut jargs = args.clone();
            jargs.extend(["-j", "2", "--batch-size", "64"]);
            let run = fkload(&par, dir.path(), &jargs);
            assert_eq!(
                run.code, 0,
                "{} by {way} with -j 2: {}",
                case.label, run.stderr
            );
            let got = (rows(&par, "person", false), rows(&par, "pet", false));
            assert_eq!(got, want, "{} by {way} with -j 2", case.label);
        }
    }
}

/// The line the orphan (pet 1000, the last record) starts on.
fn last_record_line(path: &Path) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
    body.iter().filter(|&&b| b == b'\n').count() + 1
}

#[test]
fn orphans_in_a_dialect_are_found_at_their_line_skipped_nulled_and_rejected_byte_for_byte() {
    let Some(psql) = tool("psql") else {
        skip(
            "orphans_in_a_dialect_are_found_at_their_line",
            "no psql beside the test server (FKLOAD_TEST_DATABASE_URL set, or a build without it)",
        );
        return;
    };
    for case in CASES.iter().filter(|c| {
        [
            "semicolon",
            "quote_and_escape",
            "null_word_quoted",
            "all_at_once",
            "tsv",
        ]
        .contains(&c.label)
    }) {
        let dir = tempfile::tempdir().unwrap();
        let src = source(&psql, case, dir.path(), true);
        let pet_file = dir.path().join(format!("pet.{}", case.suffix));
        let line = last_record_line(&pet_file);
        let record = {
            let bytes = std::fs::read(&pet_file).unwrap();
            let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes).to_vec();
            let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
            body[start..].to_vec()
        };

        // check: the orphan at its line.
        let db = TestDb::new(&format!("dialect_orphan_{}", case.label));
        db.exec(SCHEMA);
        let mut args = vec!["check"];
        args.extend(case.args);
        let run = fkload(&db, dir.path(), &args);
        assert_eq!(
            run.code, 1,
            "{}: {}\n{}",
            case.label, run.stderr, run.stdout
        );
        let at = format!("pet.{}:{line}", case.suffix);
        assert!(
            run.stdout.contains(&at) || run.stderr.contains(&at),
            "{}: no {at} in:\n{}\n{}",
            case.label,
            run.stdout,
            run.stderr
        );
        // A failed load says the same.
        let run = fkload(&db, dir.path(), case.args);
        assert_eq!(run.code, 3, "{}: {}", case.label, run.stderr);
        assert!(run.stderr.contains(&at), "{}: {}", case.label, run.stderr);

        // skip: everything else loads, the orphan's bytes go to the reject
        // file in the same dialect.
        let rejects = tempfile::tempdir().unwrap();
        let mut args: Vec<&str> = case.args.to_vec();
        let reject_dir = rejects.path().to_str().unwrap();
        args.extend(["--on-orphan", "skip", "--reject-dir", reject_dir]);
        let run = fkload(&db, dir.path(), &args);
        assert_eq!(run.code, 0, "{}: {}", case.label, run.stderr);
        assert_eq!(
            (rows(&db, "person", false), rows(&db, "pet", false)),
            (rows(&src, "person", false), rows(&src, "pet", true)),
            "{}",
            case.label
        );
        let reject =
            std::fs::read(rejects.path().join(format!("pet.rejects.{}", case.suffix))).unwrap();
        let lines: Vec<&[u8]> = reject.split(|&b| b == b'\n').collect();
        assert!(
            lines[1].starts_with(&record),
            "{}: {:?} does not start with {:?}",
            case.label,
            String::from_utf8_lossy(lines[1]),
            String::from_utf8_lossy(&record)
        );
        let delimiter = match case.label {
            "semicolon" | "all_at_once" => b';',
            "tsv" => b'\t',
            _ => b',',
        };
        let rest = &lines[1][record.len()..];
        assert_eq!(rest[0], delimiter, "{}", case.label);
        assert!(
            rest[1..].starts_with(format!("{line}").as_bytes()),
            "{}",
            case.label
        );
        // The reject file's header ends with the two added columns.
        assert!(
            lines[0].ends_with(
                &[
                    &[delimiter][..],
                    b"fkload_line",
                    &[delimiter],
                    b"fkload_reason"
                ]
                .concat()
            ),
            "{}: {:?}",
            case.label,
            String::from_utf8_lossy(lines[0])
        );

        // The reject directory loads as it is, once the parent is there:
        // its fkload.toml gives each reject file its table and dialect.
        db.exec("INSERT INTO person (id) VALUES (999)");
        let run = fkload(&db, rejects.path(), &[]);
        assert_eq!(run.code, 0, "{}: {}", case.label, run.stderr);
        assert_eq!(
            db.query_strings("SELECT concat_ws(' ', owner, name) FROM pet WHERE id = 1000"),
            [format!("999 {ORPHAN}")],
            "{}",
            case.label
        );

        // null: the orphan's owner becomes NULL (written as the dialect's
        // NULL string), the rest as it was.
        let db = TestDb::new(&format!("dialect_null_{}", case.label));
        db.exec(SCHEMA);
        let mut args: Vec<&str> = case.args.to_vec();
        args.extend(["--on-orphan", "null", "--reject-dir", reject_dir]);
        let run = fkload(&db, dir.path(), &args);
        assert_eq!(run.code, 0, "{}: {}", case.label, run.stderr);
        assert_eq!(
            db.query_strings("SELECT concat_ws(' ', coalesce(owner::text, 'none'), name) FROM pet WHERE id = 1000"),
            [format!("none {ORPHAN}")],
            "{}",
            case.label
        );
        assert_eq!(
            db.query_i64("SELECT count(*) FROM pet"),
            src.query_i64("SELECT count(*) FROM pet"),
            "{}",
            case.label
        );
    }
}

#[test]
fn options_fkload_refuses_are_the_ones_copy_refuses() {
    let db = TestDb::new("dialect_rules");
    db.exec("CREATE TABLE t (a text, b text)");
    let mut client = db.client();
    let delimiters = [
        ",", ";", "\t", " ", "|", "ab", "é", "\n", "\r", "\"", "'", "\\",
    ];
    let quotes = ["\"", "'", "ab", ",", "|"];
    let escapes: [Option<&str>; 4] = [None, Some("\\"), Some("'"), Some("xy")];
    let nulls = ["", "\\N", "NULL", "a,b", "\"x", "'", "a\nb", "|"];
    let lit = |s: &str| format!("E'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"));
    let mut compared = 0;
    for d in delimiters {
        for q in quotes {
            for e in escapes {
                for n in nulls {
                    let mut sql = format!(
                        "COPY t FROM STDIN WITH (FORMAT csv, DELIMITER {}, QUOTE {}, NULL {}",
                        lit(d),
                        lit(q),
                        lit(n)
                    );
                    if let Some(e) = e {
                        sql.push_str(&format!(", ESCAPE {}", lit(e)));
                    }
                    sql.push(')');
                    let answer = client.copy_in(&sql).and_then(|w| w.finish());
                    let server = answer.is_ok();
                    if !server {
                        // A refused COPY leaves the client's connection closed.
                        client = db.client();
                    }
                    let mut o = fkload::dialect::DialectOptions::default();
                    o.delimiter = Some(d.into());
                    o.quote = Some(q.into());
                    o.escape = e.map(str::to_string);
                    o.null = Some(n.into());
                    let ours = o.check(false);
                    assert_eq!(
                        ours.is_ok(),
                        server,
                        "delimiter {d:?} quote {q:?} escape {e:?} null {n:?}: fkload says {ours:?}, the server {answer:?}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 12 * 5 * 4 * 8);
}

#[test]
fn encodings_fkload_takes_are_the_ones_the_server_knows() {
    let s = Scenario::new(
        "dialect_encodings",
        SCHEMA,
        &[("person.csv", "id,name\n1,x\n")],
    );
    for name in [
        "LATIN1",
        "latin1",
        "ISO_8859_1",
        "WIN1252",
        "win1252",
        "UTF8",
        "utf-8",
        "unicode",
        "SJIS",
        "KOI8R",
        "EUC_TW",
        "nonsense",
        "LATIN99",
    ] {
        let server =
            s.db.client()
                .copy_in(&format!(
                    "COPY person FROM STDIN WITH (FORMAT csv, ENCODING '{name}')"
                ))
                .and_then(|w| w.finish())
                .is_ok();
        let run = s.run(&["-l", "--encoding", name]);
        assert_eq!(
            run.code == 0,
            server,
            "{name}: fkload exit {}: {}",
            run.code,
            run.stderr
        );
        if !server {
            assert!(
                run.stderr.contains("not an encoding PostgreSQL knows"),
                "{}",
                run.stderr
            );
        }
    }
    // In SJIS a backslash can be the second byte of a character: as an
    // escape it is refused, as the default CSV it is not used.
    let run = s.run(&["-l", "--encoding", "SJIS", "--escape", "\\"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("can be part of a character"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_latin1_file_with_accented_names_loads_as_utf8_text() {
    // Written by hand, not by the server: what a spreadsheet exports.
    let s = Scenario::new("dialect_latin1", SCHEMA, &[]);
    s.db.exec("ALTER TABLE person RENAME COLUMN note TO \"Bemerkung für\"");
    write(
        s.path(),
        "person.csv",
        b"id;name;Bemerkung f\xfcr\r\n1;Zo\xeb;Caf\xe9 cr\xe8me\r\n2;\"M\xfcller; Hans\";\r\n",
    );
    s.run(&["--delimiter", ";", "--encoding", "latin1"]).ok();
    assert_eq!(
        s.db.query_strings("SELECT concat_ws('/', id, name, coalesce(\"Bemerkung für\", 'NULL')) FROM person ORDER BY id"),
        ["1/Zoë/Café crème", "2/Müller; Hans/NULL"]
    );
    // Read as UTF-8 (the default), the header is refused with a pointer.
    let s2 = Scenario::new("dialect_latin1_as_utf8", SCHEMA, &[]);
    std::fs::copy(s.path().join("person.csv"), s2.path().join("person.csv")).unwrap();
    let run = s2.run(&["--delimiter", ";"]).fails(1);
    assert!(run.stderr.contains("--encoding"), "{}", run.stderr);
}

#[test]
fn files_without_a_header_take_the_manifests_columns_or_the_tables_order() {
    let s = Scenario::new("dialect_no_header", SCHEMA, &[]);
    s.db.exec("ALTER TABLE person ADD COLUMN up text GENERATED ALWAYS AS (upper(name)) STORED");
    // person: the table's own order (the generated column left out); pet:
    // the manifest's columns, in another order.
    write(s.path(), "person.csv", b"1,ann,\n2,bob,x\n");
    write(s.path(), "pet.csv", b"rex,10,1\n\"tom, jr\",11,2\n");
    write(
        s.path(),
        "fkload.toml",
        b"header = false\n\n[files.\"pet.csv\"]\ncolumns = [\"name\", \"id\", \"owner\"]\n",
    );
    let run = s.run(&["-l"]).ok();
    assert!(
        run.stdout
            .contains("columns in the table's order: id, name, note")
            && run
                .stdout
                .contains("columns from fkload.toml: name, id, owner"),
        "{}",
        run.stdout
    );
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_strings("SELECT concat_ws('/', p.id, p.owner, p.name, o.up, coalesce(o.note, 'NULL')) FROM pet p JOIN person o ON o.id = p.owner ORDER BY p.id"),
        ["10/1/rex/ANN/NULL", "11/2/tom, jr/BOB/x"]
    );

    // A record of another width than the table: refused, naming both.
    let s = Scenario::new(
        "dialect_no_header_width",
        SCHEMA,
        &[("person.csv", "1,ann\n")],
    );
    let run = s.run(&["--no-header"]).fails(1);
    assert!(
        run.stderr
            .contains("first record has 2 fields, but table public.person has 3 columns"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_manifest_maps_files_to_tables_renames_columns_and_names_its_mistakes() {
    let s = Scenario::new("dialect_manifest", SCHEMA, &[]);
    write(s.path(), "export-2024.dat", b"ident|full name\n1|ann\n");
    write(s.path(), "pets.csv", b"id,owner,name\n7,1,rex\n");
    write(
        s.path(),
        "fkload.toml",
        br#"# the export's own names
[files."export-2024.dat"]
table = "person"
delimiter = "|"
columns = ["id", "name"]

[files."pets.csv"]
table = "public.pet"
"#,
    );
    let run = s.run(&["-l"]).ok();
    assert!(
        run.stdout.contains("export-2024.dat  public.person"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("not loaded"), "{}", run.stdout);
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_strings(
            "SELECT concat_ws('/', p.id, p.name, o.name) FROM pet p JOIN person o ON o.id = p.owner"
        ),
        ["7/rex/ann"]
    );

    // Mistakes, each named with the manifest's line, nothing written.
    let cases: [(&str, &str); 5] = [
        (
            "null = ''\ndelimter = \";\"\n",
            "fkload.toml:2: unknown field `delimter`",
        ),
        (
            "[files.\"pets.csv\"]\ntable = \"pet\"\ncolums = [\"a\"]\n",
            "fkload.toml:3: unknown field `colums`",
        ),
        (
            "[files.\"nope.csv\"]\nheader = false\n",
            "fkload.toml:1: [files.\"nope.csv\"] names a file that is not in",
        ),
        ("header = \"no\"\n", "fkload.toml:1: invalid type"),
        (
            "delimiter = \";;\"\n",
            "the delimiter must be a single one-byte character",
        ),
    ];
    for (toml, want) in cases {
        let s = Scenario::new(
            "dialect_manifest_bad",
            SCHEMA,
            &[("pets.csv", "id,owner,name\n")],
        );
        write(s.path(), "fkload.toml", toml.as_bytes());
        let run = s.run(&[]).fails(1);
        assert!(run.stderr.contains(want), "{toml:?}: {}", run.stderr);
    }
    // A file that does not follow the rules must name its table.
    let s = Scenario::new("dialect_manifest_table", SCHEMA, &[("x.dat", "id\n")]);
    write(
        s.path(),
        "fkload.toml",
        b"[files.\"x.dat\"]\nheader = true\n",
    );
    s.run(&[]).fails(1).stderr_has("must give the file's table");
}

#[test]
fn a_header_in_another_delimiter_gets_a_hint_naming_it() {
    for (body, hint) in [
        ("id;name;note\n1;a;b\n", "--delimiter ';'"),
        ("id\tname\tnote\n1\ta\tb\n", "--delimiter '\\t'"),
        ("id|name|note\n1|a|b\n", "--delimiter '|'"),
    ] {
        let s = Scenario::new("dialect_hint", SCHEMA, &[("person.csv", body)]);
        let run = s.run(&[]).fails(1);
        assert!(
            run.stderr.contains("does not exist in table public.person")
                && run.stderr.contains(hint),
            "{body:?}: {}",
            run.stderr
        );
        assert_eq!(s.db.query_i64("SELECT count(*) FROM person"), 0);
    }
    // With the delimiter it uses, the same file has no hint to give.
    let s = Scenario::new(
        "dialect_hint_ok",
        SCHEMA,
        &[("person.csv", "id;nam;note\n")],
    );
    let run = s.run(&["--delimiter", ";"]).fails(1);
    assert!(!run.stderr.contains("HINT"), "{}", run.stderr);
}
