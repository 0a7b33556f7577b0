//! The command line itself: help, usage errors, connection failures, passwords.

use crate::support::{Scenario, command, output};

#[test]
fn help_uses_question_mark_because_h_is_the_host() {
    let out = output(command().arg("-?").output().unwrap());
    assert_eq!(out.code, 0);
    for flag in [
        "-d, --dbname",
        "-h, --host",
        "-p, --port",
        "-U, --username",
        "-w, --no-password",
        "-W, --password",
        "-l, --list",
    ] {
        assert!(
            out.stdout.contains(flag),
            "help lacks {flag}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn usage_error_exits_1() {
    let out = output(command().arg("--no-such-flag").output().unwrap());
    assert_eq!(out.code, 1, "{}", out.stderr);
}

#[test]
fn connection_failure_exits_2_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1.
    let out = output(
        command()
            .args(["-d", "postgres://app:s3cr3t-pw@127.0.0.1:1/shop"])
            .arg(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("connection to"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cr3t-pw"), "{}", out.stderr);
    let out = output(
        command()
            .args(["-h", "127.0.0.1", "-p", "1", "-U", "app", "-d", "shop"])
            .env("PGPASSWORD", "s3cr3t-pw")
            .arg(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 2);
    assert!(!out.stderr.contains("s3cr3t-pw"), "{}", out.stderr);
}

#[test]
fn list_writes_nothing() {
    let s = Scenario::new(
        "list_only",
        "CREATE TABLE t (id int PRIMARY KEY);",
        &[("t.csv", "id\n1\n")],
    );
    s.run(&["-l"]).ok().stdout_has("t.csv");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 0);
}

#[test]
fn connection_settings_come_from_the_libpq_environment() {
    let s = Scenario::new(
        "pg_env",
        "CREATE TABLE t (id int);",
        &[("t.csv", "id\n1\n")],
    );
    // postgres://postgres@127.0.0.1:PORT/NAME
    let rest = s.db.url.trim_start_matches("postgres://postgres@");
    let (hostport, dbname) = rest.split_once('/').unwrap();
    let (host, port) = hostport.split_once(':').unwrap();
    let out = output(
        command()
            .env("PGHOST", host)
            .env("PGPORT", port)
            .env("PGUSER", "postgres")
            .env("PGDATABASE", dbname)
            .arg(s.path())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 1);
    // DATABASE_URL stands in for -d (t has no key: a second load adds a row).
    let out = output(
        command()
            .env("DATABASE_URL", &s.db.url)
            .arg(s.path())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 2);
}

#[test]
fn invalid_connection_settings_exit_2_like_psql() {
    let dir = tempfile::tempdir().unwrap();
    let out = output(
        command()
            .args(["-d", "host=localhost nosuchoption=1 password=hunter2"])
            .arg(dir.path())
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("invalid connection option \"nosuchoption\""),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}
