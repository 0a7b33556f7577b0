//! The command line itself: help, usage errors, connection failures, passwords.

use crate::util::support::{Scenario, command, output};

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

/// A parallel load killed half way (a crash point of the `failpoints` build),
/// so that repair has something to do; without crash points, nothing to
/// repair (the arguments are still parsed and used).
fn interrupted(label: &str) -> (Scenario, bool, Vec<String>) {
    let s = Scenario::new(
        label,
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p);",
        &[("p.csv", "id\n1\n"), ("c.csv", "id,p_id\n1,1\n")],
    );
    let keys = crate::util::support::keys(&s.db);
    if !cfg!(feature = "failpoints") {
        return (s, false, keys);
    }
    crate::util::crash::interrupt(&s, &["-j", "2", "--strategy", "revalidate"]);
    (s, true, keys)
}

/// Where the options go around `repair`: a name, and the arguments for a URL.
type Placement = (&'static str, fn(&str) -> Vec<String>);

#[test]
fn repair_takes_the_connection_options_before_and_after_it() {
    if !cfg!(feature = "failpoints") {
        crate::util::support::skip(
            "repair_takes_the_connection_options_before_and_after_it",
            "without crash points there is no interrupted load to repair; the options are parsed only",
        );
    }
    let url_of = |s: &Scenario| s.db.url.clone();
    let placements: [Placement; 4] = [
        ("before", |u| vec!["-d".into(), u.into(), "repair".into()]),
        ("after", |u| vec!["repair".into(), "-d".into(), u.into()]),
        ("after, long", |u| {
            vec!["repair".into(), format!("--dbname={u}"), "-v".into()]
        }),
        ("around", |u| {
            vec![
                "--lock-timeout".into(),
                "10s".into(),
                "repair".into(),
                "--statement-timeout".into(),
                "1min".into(),
                "--dbname".into(),
                u.into(),
            ]
        }),
    ];
    for (n, (where_, args)) in placements.iter().enumerate() {
        let (s, armed, before) = interrupted(&format!("repair_args_{n}"));
        let out = output(command().args(args(&url_of(&s))).output().unwrap());
        assert_eq!(out.code, 0, "{where_}: {}", out.stderr);
        let expected = if armed {
            "repaired run"
        } else {
            "nothing to repair"
        };
        assert!(out.stdout.contains(expected), "{where_}: {}", out.stdout);
        assert_eq!(crate::util::support::keys(&s.db), before, "{where_}");
        assert_eq!(
            s.db.query_i64(
                "SELECT count(*) FROM pg_class WHERE oid = to_regclass('fkload.journal')"
            ),
            0,
            "{where_}: the journal is gone"
        );
    }
    // -U and -h after the word too, split the way psql takes them.
    let (s, armed, before) = interrupted("repair_split_args");
    let (host, port) =
        s.db.url
            .split_once('@')
            .and_then(|(_, r)| r.split_once('/'))
            .and_then(|(hp, _)| hp.rsplit_once(':'))
            .map(|(h, p)| (h.to_string(), p.to_string()))
            .unwrap();
    let out = output(
        command()
            .args([
                "repair", "-h", &host, "-p", &port, "-U", "postgres", "-d", &s.db.name,
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let expected = if armed {
        "repaired run"
    } else {
        "nothing to repair"
    };
    assert!(out.stdout.contains(expected), "{}", out.stdout);
    assert_eq!(crate::util::support::keys(&s.db), before);
}

#[test]
fn help_works_after_repair_and_load_arguments_are_refused_there() {
    for args in [
        &["repair", "--help"][..],
        &["repair", "-?"],
        &["-?", "repair"],
    ] {
        let out = output(command().args(args).output().unwrap());
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert!(
            out.stdout.contains("-d, --dbname"),
            "{args:?}: {}",
            out.stdout
        );
    }
    let out = output(command().args(["repair", "--help"]).output().unwrap());
    assert!(
        out.stdout.contains("Usage: fkload repair"),
        "{}",
        out.stdout
    );
    for args in [
        &["-j", "2", "repair"][..],
        &["repair", "-j", "2"],
        &["--truncate", "repair"],
        &["repair", "--truncate"],
        &["-l", "repair"],
        &["./data", "repair"],
    ] {
        let out = output(command().args(args).output().unwrap());
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("does not go with repair")
                || out.stderr.contains("unexpected argument"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// `fkload -l ... | head -1`: a reader that goes away is no error: exit 0,
/// nothing on stderr (not a panic about a broken pipe).
#[test]
fn a_closed_pipe_on_stdout_is_not_an_error() {
    let s = Scenario::new(
        "closed_pipe",
        "CREATE TABLE t (id int PRIMARY KEY);",
        &[("t.csv", "id\n1\n")],
    );
    for args in [&["-l"][..], &[]] {
        let mut child = command()
            .args(["-d", &s.db.url])
            .args(args)
            .arg(s.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Closed before fkload has connected, let alone written.
        drop(child.stdout.take());
        let out = output(child.wait_with_output().unwrap());
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}");
        s.db.exec("TRUNCATE t");
    }
}
