//! Rows the server refuses one by one (a value its type refuses, too long,
//! NULL in a NOT NULL column, a CHECK, a domain's check, too many or too few
//! fields, bytes not in the encoding): `fkload check` names every one in one
//! run. The oracle is the server: each record is sent alone, in a COPY of
//! its own (as `psql \copy` would), and refused or not.

use std::io::Write;

use fkload::ErrorKind;

use crate::util::pg::TestDb;
use crate::util::support::Scenario;

const SCHEMA: &str = "
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE t (
    id int PRIMARY KEY,
    name varchar(5) NOT NULL,
    qty numeric(5,2) CHECK (qty >= 0),
    born date,
    ok boolean,
    u uuid,
    m mood,
    j jsonb,
    a int[],
    d posint
);
";

const HEADER: &str = "id,name,qty,born,ok,u,m,j,a,d";

/// Good records and bad ones of every kind, some quoted across lines.
fn records() -> Vec<&'static [u8]> {
    vec![
        b"1,ann,1.5,2020-01-01,t,a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,ok,{},{1},1",
        b"x,bob,1,2020-01-01,t,,ok,,,1",
        b"3,\"too\nlong\",1,,,,,,,",
        b"4,,1,,,,,,,",
        b"5,eve,1000,,,,,,,",
        b"6,eve,-1,,,,,,,",
        b"7,\"a\nb\",1,2020-02-30,,,,,,",
        b"8,eve,1,,maybe,,,,,",
        b"9,eve,1,,,not-a-uuid,,,,",
        b"10,eve,1,,,,angry,,,",
        b"11,eve,1,,,,,\"{\"\"a\"\":}\",,",
        b"12,eve,1,,,,,,\"{1,x}\",",
        b"13,eve,1,,,,,,,0",
        b"14,eve,1,,,,,,,1,extra",
        b"15,eve,1",
        b"16,\xff\xfe,1,,,,,,,",
        b"17,\"multi\nline\",2,2021-03-04,f,,happy,\"[1, 2]\",\"{1,2}\",3",
        b"18,zed,3,,,,,,,",
    ]
}

/// The file, its records ended by `eol`, and the line each record starts on.
fn file(eol: &[u8]) -> (Vec<u8>, Vec<u64>) {
    file_with(eol, true)
}

/// [`file`], with or without its header.
fn file_with(eol: &[u8], header: bool) -> (Vec<u8>, Vec<u64>) {
    let mut out = Vec::new();
    if header {
        out.extend_from_slice(HEADER.as_bytes());
        out.extend_from_slice(eol);
    }
    let mut line = 1 + u64::from(header);
    let mut lines = Vec::new();
    for r in records() {
        lines.push(line);
        let r: Vec<u8> = if eol == b"\n" {
            r.to_vec()
        } else {
            // A quoted newline follows the file's style as an editor's would.
            r.iter()
                .flat_map(|&b| if b == b'\n' { eol.to_vec() } else { vec![b] })
                .collect()
        };
        line += r.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        out.extend_from_slice(&r);
        out.extend_from_slice(eol);
    }
    (out, lines)
}

/// The lines of the records the server refuses when each is sent alone.
fn refused_alone(db: &TestDb, eol: &[u8], header: bool, encoding: &str) -> Vec<u64> {
    let (_, lines) = file_with(eol, header);
    let mut client = db.client();
    let mut refused = Vec::new();
    for (r, line) in records().into_iter().zip(lines) {
        let mut tx = client.transaction().unwrap();
        let sent = (|| {
            let mut w = tx.copy_in(&format!(
                "COPY t FROM STDIN (FORMAT csv, ENCODING '{encoding}')"
            ))?;
            // A refusal shows in finish, whatever the writes say.
            let _ = w.write_all(r).and_then(|()| w.write_all(eol));
            w.finish()
        })();
        if sent.is_err() {
            refused.push(line);
        }
        tx.rollback().unwrap();
    }
    refused
}

#[test]
fn check_names_every_row_the_server_refuses_alone_and_nothing_else() {
    let cases = [
        ("lf", &b"\n"[..], true, "UTF8"),
        ("crlf", &b"\r\n"[..], true, "UTF8"),
        ("headerless", &b"\n"[..], false, "UTF8"),
        // 0xff 0xfe is two letters there: a name that fits.
        ("latin1", &b"\n"[..], true, "LATIN1"),
    ];
    for (label, eol, header, encoding) in cases {
        let (body, _) = file_with(eol, header);
        let s = Scenario::new(&format!("bad_rows_{label}"), SCHEMA, &[]);
        std::fs::write(s.path().join("t.csv"), &body).unwrap();
        std::fs::write(
            s.path().join("fkload.toml"),
            format!("header = {header}\nencoding = \"{encoding}\"\n"),
        )
        .unwrap();
        let expected = refused_alone(&s.db, eol, header, encoding);
        assert!(
            expected.len() >= 13,
            "{label}: the oracle refuses {expected:?}"
        );
        let problems = fkload::Loader::builder()
            .max_examples(100)
            .build()
            .check_in(&mut s.db.client(), s.path(), &mut |_| {})
            .expect("the check runs");
        let refusals: Vec<(u64, Vec<u64>)> = problems
            .bad_rows
            .iter()
            .map(|e| match e.kind() {
                ErrorKind::Refused { rows, examples, .. } => {
                    (*rows, examples.iter().map(|(line, _)| *line).collect())
                }
                other => panic!("not a refusal: {other:?}"),
            })
            .collect();
        let mut found: Vec<u64> = refusals.iter().flat_map(|(_, l)| l.clone()).collect();
        found.sort_unstable();
        assert_eq!(found, expected, "{label}: {problems}");
        let counted: u64 = refusals.iter().map(|(n, _)| n).sum();
        assert_eq!(counted, expected.len() as u64);
        assert!(problems.errors.is_empty(), "{:?}", problems.errors);
        assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 0);
    }
}

#[test]
fn check_lists_each_reason_with_its_rows_at_their_lines_and_exits_1() {
    let (body, _) = file(b"\n");
    let s = Scenario::new("bad_rows_cli", SCHEMA, &[]);
    std::fs::write(s.path().join("t.csv"), &body).unwrap();
    let t = s.path().join("t.csv").display().to_string();
    s.run(&["check", "--max-examples", "1"])
        .fails(1)
        .stderr_has(&format!(
            "fkload: {t}: ERROR:  value too long for type character varying(5) (column name)\n\
             DETAIL:  2 rows refused for this reason.\n\
             {t}:4: value too long for type character varying(5)\n\
             ... and 1 more row"
        ))
        .stderr_has(&format!(
            "{t}: ERROR:  invalid byte sequence for encoding \"UTF8\": 0xff\n\
             DETAIL:  1 row refused for this reason.\n\
             {t}:19: invalid byte sequence"
        ))
        .stderr_has("check: 14 problems: rows refused (by file and reason): 14");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 0);
}
