//! Passwords never appear in what fkload prints, whichever way they were given
//! (URI, key=value string, PGPASSWORD, a password file, DATABASE_URL, a
//! service file), on a
//! server that really asks for them (scram-sha-256), in successful loads, plans,
//! data errors, connection errors and wrong-password errors.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::util::pg::PrivateServer;
use crate::util::support::{Run, command, output, write};

const ROLE: &str = "fkload_pw";
/// Every character that one of the ways must escape: `:` and `\` (password
/// file), `'` and `\` and the space (key=value), `@ / ? # % =` (URI).
const PASSWORD: &str = "pa:ss w'o\\rd@/?#%=x-Zq7S3cret";
/// What must not appear: the password, its distinctive tail, and its encodings.
const TELLTALES: [&str; 3] = ["Zq7S3cret", "pa:ss", "pa%3Ass"];

fn uri_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn kv_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn pgpass_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace(':', "\\:")
}

/// One way to give the password: its name, fkload's arguments, its environment.
type Way = (String, Vec<String>, Vec<(String, String)>);

/// The ways to give the password: extra arguments and environment for a
/// connection to `db`, with `password`.
fn ways(port: &str, db: &str, password: &str, pgpass: &Path) -> Vec<Way> {
    let uri = format!(
        "postgres://{ROLE}:{}@127.0.0.1:{port}/{db}",
        uri_encode(password)
    );
    let kv = format!(
        "host=127.0.0.1 port={port} user={ROLE} dbname={db} password={}",
        kv_quote(password)
    );
    std::fs::write(
        pgpass,
        format!("127.0.0.1:{port}:*:{ROLE}:{}\n", pgpass_escape(password)),
    )
    .unwrap();
    std::fs::set_permissions(pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let split: Vec<String> = ["-h", "127.0.0.1", "-p", port, "-U", ROLE, "-d", db]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let env = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    // A service file holds the password too (the rest of its line, as is).
    let services = pgpass.with_extension("services");
    std::fs::write(
        &services,
        format!(
            "[pw]\nhost=127.0.0.1\nport={port}\nuser={ROLE}\ndbname={db}\npassword={password}\n"
        ),
    )
    .unwrap();
    vec![
        ("URI".into(), vec!["-d".into(), uri.clone()], vec![]),
        ("key=value".into(), vec!["-d".into(), kv], vec![]),
        (
            "PGPASSWORD".into(),
            split.clone(),
            env("PGPASSWORD", password),
        ),
        (
            "password file".into(),
            split,
            env("PGPASSFILE", &pgpass.to_string_lossy()),
        ),
        ("DATABASE_URL".into(), vec![], env("DATABASE_URL", &uri)),
        (
            "service file".into(),
            vec!["-d".into(), "service=pw".into()],
            env("PGSERVICEFILE", &services.to_string_lossy()),
        ),
    ]
}

fn run(args: &[String], env: &[(String, String)], extra: &[&str], dir: &Path) -> Run {
    let mut c: Command = command();
    c.arg("-w").args(args).args(extra).arg(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    output(c.output().expect("run fkload"))
}

fn assert_silent(what: &str, out: &Run) {
    for t in TELLTALES {
        assert!(
            !out.stdout.contains(t) && !out.stderr.contains(t),
            "{what}: the password ({t}) was shown:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn passwords_never_appear_in_output_whichever_way_they_are_given() {
    let Some(server) = PrivateServer::boot() else {
        crate::util::support::skip(
            "passwords_never_appear_in_output_whichever_way_they_are_given",
            "FKLOAD_TEST_DATABASE_URL points at a server whose authentication the tests may not change",
        );
        return;
    };
    let sql_password = PASSWORD.replace('\'', "''");
    server.exec(
        "postgres",
        &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{sql_password}'"),
    );
    server.exec("postgres", &format!("CREATE DATABASE pwdb OWNER {ROLE}"));
    server.exec(
        "pwdb",
        &format!(
            "SET ROLE {ROLE};
             CREATE TABLE p (id int PRIMARY KEY, c_id int NOT NULL);
             CREATE TABLE c (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p);
             ALTER TABLE p ADD FOREIGN KEY (c_id) REFERENCES c;"
        ),
    );
    server.require_password(ROLE);
    let url = server.url("pwdb");
    let port = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(port, _)| port.to_string())
        .expect("port in the server URL");

    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good");
    write(&good, "p.csv", b"id,c_id\n1,1\n");
    write(&good, "c.csv", b"id,p_id\n1,1\n");
    let bad = tmp.path().join("bad");
    write(&bad, "p.csv", b"id,c_id\n1,1\n");
    write(&bad, "c.csv", b"id,p_id\n1,1\n2,42\n");
    let pgpass = tmp.path().join("pgpass");

    // Without it, the server refuses: the password is really what lets in.
    let plain: Vec<String> = ["-h", "127.0.0.1", "-p", &port, "-U", ROLE, "-d", "pwdb"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = run(&plain, &[], &[], &good).fails(2);
    assert!(out.stderr.contains("password"), "{}", out.stderr);

    for (way, args, env) in ways(&port, "pwdb", PASSWORD, &pgpass) {
        let what = |case: &str| format!("{way}, {case}");
        let out = run(&args, &env, &["-v", "--truncate"], &good);
        assert_eq!(out.code, 0, "{}: {}", what("load"), out.stderr);
        assert_silent(&what("load"), &out);
        assert_silent(&what("plan"), &run(&args, &env, &["-l"], &good).ok());
        let out = run(&args, &env, &["-v", "--truncate"], &bad).fails(3);
        assert!(out.stderr.contains("c.csv:3"), "{}", out.stderr);
        assert_silent(&what("data error"), &out);
        let out = run(&args, &env, &["-v", "-j", "2"], &bad).fails(3);
        assert_silent(&what("parallel data error"), &out);
    }
    // A database that does not exist: the connection error describes the
    // connection, without its password.
    for (way, args, env) in ways(&port, "no_such_db", PASSWORD, &pgpass) {
        let out = run(&args, &env, &[], &good).fails(2);
        assert!(out.stderr.contains("no_such_db"), "{way}: {}", out.stderr);
        assert_silent(&format!("{way}, unknown database"), &out);
    }
    // A wrong password is not shown either.
    let wrong = PASSWORD.replace("Zq7S3cret", "Zq7S3cretWrong");
    for (way, args, env) in ways(&port, "pwdb", &wrong, &pgpass) {
        let out = run(&args, &env, &[], &good).fails(2);
        assert!(
            out.stderr.contains("password authentication failed"),
            "{way}: {}",
            out.stderr
        );
        assert_silent(&format!("{way}, wrong password"), &out);
    }
}
