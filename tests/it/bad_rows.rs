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

/// The files the oracle tests read: (label, line end, header, encoding).
const CASES: [(&str, &[u8], bool, &str); 4] = [
    ("lf", b"\n", true, "UTF8"),
    ("crlf", b"\r\n", true, "UTF8"),
    ("headerless", b"\n", false, "UTF8"),
    // 0xff 0xfe is two letters there: a name that fits.
    ("latin1", b"\n", true, "LATIN1"),
];

/// A scenario of [`SCHEMA`] whose directory holds `t.csv` written so, and
/// the `fkload.toml` that says how.
fn scenario(name: &str, eol: &[u8], header: bool, encoding: &str) -> Scenario {
    let (body, _) = file_with(eol, header);
    let s = Scenario::new(name, SCHEMA, &[]);
    std::fs::write(s.path().join("t.csv"), &body).unwrap();
    std::fs::write(
        s.path().join("fkload.toml"),
        format!("header = {header}\nencoding = \"{encoding}\"\n"),
    )
    .unwrap();
    s
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
    for (label, eol, header, encoding) in CASES {
        let s = scenario(&format!("bad_rows_{label}"), eol, header, encoding);
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

/// The id of each record that loads, by the record's place, for a record
/// the server takes (its first field).
fn id_of(record: &[u8]) -> i64 {
    let field = record.split(|&b| b == b',').next().unwrap();
    std::str::from_utf8(field).unwrap().parse().unwrap()
}

#[test]
fn skip_loads_exactly_the_rows_the_server_takes_alone_and_sets_aside_the_rest_byte_for_byte() {
    for (label, eol, header, encoding) in CASES {
        let (_, lines) = file_with(eol, header);
        let s = scenario(&format!("bad_rows_skip_{label}"), eol, header, encoding);
        let refused = refused_alone(&s.db, eol, header, encoding);
        let rej = tempfile::tempdir().unwrap();
        let loader = fkload::Loader::builder()
            .skip_refused_rows(true)
            .reject_dir(rej.path())
            .build();
        let mut client = s.db.client();
        let plan = loader.plan_in(&mut client, s.path()).unwrap();
        let report = loader
            .load_in(&mut client, &plan, &mut |_| {})
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        // Loaded: exactly the records the server takes alone.
        let kept: Vec<i64> = records()
            .iter()
            .zip(&lines)
            .filter(|(_, l)| !refused.contains(l))
            .map(|(r, _)| id_of(r))
            .collect();
        let mut ids: Vec<i64> = client
            .query("SELECT id::bigint FROM t ORDER BY id", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.sort_unstable();
        assert_eq!(ids, kept, "{label}");
        assert_eq!(report.refused_rows(), refused.len() as u64, "{label}");
        assert_eq!(report.tables[0].rows, kept.len() as u64);
        let counted: u64 = report
            .refused
            .iter()
            .map(|e| match e.kind() {
                ErrorKind::Refused { rows, .. } => *rows,
                other => panic!("{other:?}"),
            })
            .sum();
        assert_eq!(counted, refused.len() as u64);
        // The reject file: a header, then each refused record byte for
        // byte, with its line and the server's reason.
        let reject = std::fs::read(rej.path().join("t.rejects.csv")).unwrap();
        let mut expected_head = if header {
            HEADER.as_bytes().to_vec()
        } else {
            b"\"id\",\"name\",\"qty\",\"born\",\"ok\",\"u\",\"m\",\"j\",\"a\",\"d\"".to_vec()
        };
        expected_head.extend_from_slice(b",fkload_line,fkload_reason");
        expected_head.extend_from_slice(eol);
        assert!(
            reject.starts_with(&expected_head),
            "{label}: {}",
            String::from_utf8_lossy(&reject)
        );
        let mut rest = &reject[expected_head.len()..];
        let mut fixed = expected_head.clone();
        for (k, (r, line)) in records()
            .iter()
            .zip(&lines)
            .filter(|(_, l)| refused.contains(l))
            .enumerate()
        {
            let own: Vec<u8> = r
                .iter()
                .flat_map(|&b| if b == b'\n' { eol.to_vec() } else { vec![b] })
                .collect();
            let mut start = own.clone();
            start.extend_from_slice(format!(",{line},\"").as_bytes());
            assert!(
                rest.starts_with(&start),
                "{label}: line {line}: {}",
                String::from_utf8_lossy(rest)
            );
            let end = rest
                .windows(eol.len() + 1)
                .position(|w| w[0] == b'"' && &w[1..] == eol)
                .unwrap()
                + 1
                + eol.len();
            // Fixed: a good record in its place, the two columns kept.
            fixed.extend_from_slice(format!("{},fixed,1,,,,,,,1", 100 + k).as_bytes());
            fixed.extend_from_slice(&rest[own.len()..end]);
            rest = &rest[end..];
        }
        assert!(
            rest.is_empty(),
            "{label}: {}",
            String::from_utf8_lossy(rest)
        );
        // Loaded back once fixed, as the reject directory is.
        std::fs::write(rej.path().join("t.rejects.csv"), &fixed).unwrap();
        let back = fkload::Loader::builder().build();
        let plan = back.plan_in(&mut client, rej.path()).unwrap();
        back.load_in(&mut client, &plan, &mut |_| {})
            .unwrap_or_else(|e| panic!("{label}: loading the fixed rejects: {e}"));
        assert_eq!(
            s.db.query_i64("SELECT count(*) FROM t WHERE name = 'fixed'"),
            refused.len() as i64
        );
    }
}

#[test]
fn a_skip_load_says_what_it_set_aside_and_exits_0() {
    let (body, _) = file(b"\n");
    let s = Scenario::new("bad_rows_skip_cli", SCHEMA, &[]);
    std::fs::write(s.path().join("t.csv"), &body).unwrap();
    let rej = tempfile::tempdir().unwrap();
    let dir = rej.path().display().to_string();
    s.run(&["--on-error", "skip", "--reject-dir", &dir])
        .ok()
        .stderr_has(&format!(
            "fkload: WARNING:  16 rows the server refused set aside (--on-error skip), in the reject files of {dir}"
        ))
        .stdout_has("set aside 16 rows the server refused (--on-error skip), by file and reason:")
        .stdout_has("value too long for type character varying(5) (column name) (2 rows, the first on line 4)");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 2);
    assert!(rej.path().join("fkload.toml").exists());
}

#[test]
fn a_skip_load_still_stops_at_a_key_and_leaves_the_database_as_it_was() {
    let s = Scenario::new(
        "bad_rows_skip_key",
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p);",
        &[("p.csv", "id\n1\nx\n"), ("c.csv", "id,p\n1,1\n2,2\n")],
    );
    let rej = tempfile::tempdir().unwrap();
    let dir = rej.path().display().to_string();
    s.run(&["--on-error", "skip", "--reject-dir", &dir])
        .fails(3)
        .stderr_has("foreign key");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM p"), 0);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 0);
}

/// The rows of `t` (as text, sorted) and the reject file in `rej`.
fn loaded(s: &Scenario, rej: &std::path::Path) -> (Vec<String>, Vec<u8>) {
    let rows: Vec<String> =
        s.db.client()
            .query("SELECT t::text FROM t ORDER BY t::text", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    (rows, std::fs::read(rej.join("t.rejects.csv")).unwrap())
}

/// Two loads loaded the same rows and wrote the same reject file, byte for
/// byte.
fn same(got: &(Vec<String>, Vec<u8>), expected: &(Vec<String>, Vec<u8>), label: &str) {
    assert_eq!(got.0, expected.0, "{label}");
    assert_eq!(
        String::from_utf8_lossy(&got.1),
        String::from_utf8_lossy(&expected.1),
        "{label}"
    );
}

#[test]
fn a_parallel_skip_load_sets_aside_what_one_transaction_does_part_by_part() {
    for (label, eol, header) in [
        ("lf", &b"\n"[..], true),
        ("crlf", &b"\r\n"[..], true),
        ("headerless", &b"\n"[..], false),
    ] {
        // The file four times over, so that it is cut into several parts.
        let (one, _) = file_with(eol, header);
        let mut body = one.clone();
        let records = if header {
            &one[HEADER.len() + eol.len()..]
        } else {
            &one[..]
        };
        for _ in 0..3 {
            body.extend_from_slice(records);
        }
        let manifest = format!("header = {header}\n");
        let run = |name: &str, args: &[&str]| {
            let s = Scenario::new(&format!("bad_rows_par_{label}_{name}"), SCHEMA, &[]);
            s.db.exec("ALTER TABLE t DROP CONSTRAINT t_pkey");
            std::fs::write(s.path().join("t.csv"), &body).unwrap();
            std::fs::write(s.path().join("fkload.toml"), &manifest).unwrap();
            let rej = tempfile::tempdir().unwrap();
            let dir = rej.path().display().to_string();
            let mut all = vec!["--on-error", "skip", "--reject-dir", &dir];
            all.extend_from_slice(args);
            s.run(&all).ok();
            let parts: Vec<_> = std::fs::read_dir(rej.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains(".part-"))
                .collect();
            assert!(parts.is_empty(), "{label}: parts left: {parts:?}");
            loaded(&s, rej.path())
        };
        let one = run("one", &[]);
        same(
            &run("par", &["-j", "2", "--batch-size", "150"]),
            &one,
            label,
        );
        assert_eq!(one.0.len(), 8, "{label}");
    }
}

#[test]
fn skip_with_an_orphan_policy_takes_the_children_of_a_refused_parent_with_it() {
    let schema = "CREATE TABLE p (id int PRIMARY KEY, born date);
        CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p, qty int CHECK (qty > 0));";
    let files = [
        (
            "p.csv",
            "id,born\n1,2020-01-01\n2,2020-02-30\n3,2020-01-03\n",
        ),
        (
            "c.csv",
            "id,p,qty\n10,1,1\n11,2,1\n12,3,0\n13,3,1\n14,4,1\n",
        ),
    ];
    for (policy, c_rows) in [("skip", "10,13"), ("null", "10,11,13,14")] {
        let s = Scenario::new(&format!("bad_rows_policy_{policy}"), schema, &files);
        let rej = tempfile::tempdir().unwrap();
        let dir = rej.path().display().to_string();
        s.run(&[
            "--on-error",
            "skip",
            "--on-orphan",
            policy,
            "--reject-dir",
            &dir,
        ])
        .ok()
        .stderr_has("2 rows the server refused set aside (--on-error skip)");
        let ids = |t: &str| {
            s.db.client()
                .query(
                    &format!("SELECT string_agg(id::text, ',' ORDER BY id) FROM {t}"),
                    &[],
                )
                .unwrap()[0]
                .get::<_, String>(0)
        };
        assert_eq!(ids("p"), "1,3", "{policy}");
        assert_eq!(ids("c"), c_rows, "{policy}");
        let p = std::fs::read_to_string(rej.path().join("p.rejects.csv")).unwrap();
        assert_eq!(
            p,
            "id,born,fkload_line,fkload_reason\n\
             2,2020-02-30,3,\"date/time field value out of range: \"\"2020-02-30\"\" (column born)\"\n",
            "{policy}"
        );
        let c = std::fs::read_to_string(rej.path().join("c.rejects.csv")).unwrap();
        let lines: Vec<&str> = c.lines().collect();
        assert_eq!(lines.len(), 4, "{policy}: {c}");
        assert!(lines[1].starts_with("11,2,1,3,"), "{policy}: {c}");
        assert!(
            lines[2]
                .starts_with("12,3,0,4,\"new row for relation \"\"c\"\" violates check constraint"),
            "{policy}: {c}"
        );
        assert!(lines[3].starts_with("14,4,1,6,"), "{policy}: {c}");
        let manifest = std::fs::read_to_string(rej.path().join("fkload.toml")).unwrap();
        assert!(manifest.contains("p.rejects.csv") && manifest.contains("c.rejects.csv"));
    }
}

/// On PostgreSQL 17 and later the command's connections let the server skip
/// the rows a type refuses (`ON_ERROR ignore`) and read its notices; a
/// caller's connection does not. Either way the same rows load and the same
/// reject file is written, byte for byte (the library's way is checked
/// against the oracle above).
#[test]
fn the_server_skipping_rows_itself_sets_aside_what_savepoints_do() {
    for (label, eol, header) in [
        ("lf", &b"\n"[..], true),
        ("crlf", &b"\r\n"[..], true),
        ("headerless", &b"\n"[..], false),
    ] {
        let (body, _) = file_with(eol, header);
        let manifest = format!("header = {header}\n");
        let load = |name: &str, by_command: bool| {
            let s = Scenario::new(&format!("bad_rows_ways_{label}_{name}"), SCHEMA, &[]);
            std::fs::write(s.path().join("t.csv"), &body).unwrap();
            std::fs::write(s.path().join("fkload.toml"), &manifest).unwrap();
            let rej = tempfile::tempdir().unwrap();
            if by_command {
                let dir = rej.path().display().to_string();
                s.run(&["--on-error", "skip", "--reject-dir", &dir]).ok();
            } else {
                let loader = fkload::Loader::builder()
                    .skip_refused_rows(true)
                    .reject_dir(rej.path())
                    .build();
                let mut client = s.db.client();
                let plan = loader.plan_in(&mut client, s.path()).unwrap();
                loader.load_in(&mut client, &plan, &mut |_| {}).unwrap();
            }
            loaded(&s, rej.path())
        };
        same(&load("command", true), &load("library", false), label);
    }
}

/// Every statement of a `--on-error skip` load (the savepoints around each
/// refused row, and on 17+ the query for the server's messages) is a crash
/// point and a failure point: killed there, the database is as it was;
/// failing there, the load reports it and changes nothing, or gets through
/// and loaded what a clean run loads.
#[test]
fn a_skip_load_killed_or_failing_at_any_statement_is_all_or_nothing() {
    use crate::util::{crash, failure};
    let test = "a_skip_load_killed_or_failing_at_any_statement_is_all_or_nothing";
    if !crash::enumerate(test) {
        return;
    }
    let case = crash::Case {
        name: "bad_rows_points",
        schema: "CREATE TABLE p (id int PRIMARY KEY, born date NOT NULL);
            CREATE TABLE c (id int PRIMARY KEY, p int REFERENCES p, qty int CHECK (qty > 0));",
        files: &[
            (
                "p.csv",
                "id,born\n1,2020-01-01\n2,2020-02-30\n3,2020-01-03\n4,\n",
            ),
            (
                "c.csv",
                "id,p,qty\n10,1,1\n11,3,x\n12,3,0\n13,3,1\n14,1,1,9\n",
            ),
        ],
    };
    let rej = tempfile::tempdir().unwrap();
    let dir = rej.path().display().to_string();
    let args = ["--on-error", "skip", "--reject-dir", &dir];
    let kills = crash::one_transaction(&case, &args);
    let failures = failure::one_transaction(&case, &args);
    assert!(kills >= 10, "only {kills} statements");
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "crash and failure points of a skip load: {kills} crash points; {failures}"
    );
}
