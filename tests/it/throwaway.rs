//! `--schema-file`: a throwaway server from this machine's binaries, with
//! the schema applied, for a load, a check or `up`; removed afterwards,
//! whatever happened.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::util::pg::tool;
use crate::util::support::{command, output, skip, write};

/// The shop fixture's schema and data.
fn shop() -> (PathBuf, PathBuf) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/shop");
    (root.join("schema.sql"), root.join("data"))
}

/// fkload with the binaries of the server the tests use, or `None` (and a
/// skip) when the tests use a server given by URL.
fn fkload(test: &str) -> Option<std::process::Command> {
    let Some(initdb) = tool("initdb") else {
        skip(
            test,
            "the tests use FKLOAD_TEST_DATABASE_URL, so no server binaries are known",
        );
        return None;
    };
    let mut c = command();
    c.env("FKLOAD_PGBINDIR", initdb.parent().unwrap());
    Some(c)
}

/// The server's directory, from `-v`'s line.
fn server_dir(stderr: &str) -> PathBuf {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("fkload: throwaway server PostgreSQL "))
        .unwrap_or_else(|| panic!("no throwaway line in:\n{stderr}"));
    PathBuf::from(line.rsplit_once(" in ").unwrap().1)
}

#[test]
fn a_load_and_a_check_run_on_a_throwaway_server_that_is_then_removed() {
    let Some(mut c) = fkload("throwaway_load") else {
        return;
    };
    let (schema, data) = shop();
    let run = output(
        c.arg("--schema-file")
            .arg(&schema)
            .arg("-v")
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("loaded "), "{}", run.stdout);
    let dir = server_dir(&run.stderr);
    assert!(!dir.exists(), "{} is left behind", dir.display());

    // check finds an orphan, with no database service at all.
    let bad = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&data).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), bad.path().join(f.file_name())).unwrap();
    }
    let lines = std::fs::read_to_string(bad.path().join("order_line.csv")).unwrap();
    let header = lines.lines().next().unwrap().to_string();
    let width = header.split(',').count();
    let orphan_order = header
        .split(',')
        .position(|c| c == "order_id")
        .expect("order_line has order_id");
    let mut fields = vec!["1".to_string(); width];
    fields[0] = "999999".into();
    fields[orphan_order] = "424242".into();
    let mut text = lines.clone();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&fields.join(","));
    text.push('\n');
    write(bad.path(), "order_line.csv", text.as_bytes());
    let mut c = fkload("throwaway_check").unwrap();
    let run = output(
        c.arg("--schema-file")
            .arg(&schema)
            .args(["-v", "check"])
            .arg(bad.path())
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stderr, run.stdout);
    assert!(run.stderr.contains("(order_id)=(424242)"), "{}", run.stderr);
    assert!(!server_dir(&run.stderr).exists());
}

#[test]
fn a_bad_schema_or_connection_options_are_errors_and_leave_nothing() {
    let Some(mut c) = fkload("throwaway_bad_schema") else {
        return;
    };
    let (_, data) = shop();
    let schema = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        schema.path(),
        "CREATE TABLE ok (id int);\nCREATE TABLE broken (id nosuchtype);\n",
    )
    .unwrap();
    let run = output(
        c.arg("--schema-file")
            .arg(schema.path())
            .arg("-v")
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("the schema") && run.stderr.contains("nosuchtype"),
        "{}",
        run.stderr
    );
    assert!(!server_dir(&run.stderr).exists());

    let run = output(
        command()
            .args(["--schema-file", "s.sql", "-d", "shop"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    let run = output(command().arg("up").arg(&data).output().unwrap());
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("give the schema to create with --schema-file"),
        "{}",
        run.stderr
    );

    let run = output(
        command()
            .env("FKLOAD_PGBINDIR", "/nonexistent")
            .args(["--schema-file", "s.sql"])
            .arg(&data)
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("FKLOAD_PGBINDIR=/nonexistent lacks one of initdb"),
        "{}",
        run.stderr
    );
}

/// Starts `fkload --schema-file <shop> -v up <shop data>` with `c` and
/// returns it with the URI it prints once the data is loaded.
fn up(mut c: std::process::Command) -> (std::process::Child, String) {
    let (schema, data) = shop();
    let mut child = c
        .arg("--schema-file")
        .arg(&schema)
        .args(["-v", "up"])
        .arg(&data)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let uri = stdout
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("postgresql://"))
        .expect("a URI on stdout");
    (child, uri)
}

#[test]
fn up_serves_the_loaded_database_until_ctrl_c_then_removes_it() {
    let Some(c) = fkload("throwaway_up") else {
        return;
    };
    let (child, uri) = up(c);
    // Another client reaches the loaded data at the URI.
    let psql = tool("psql");
    if let Some(psql) = psql {
        let out = std::process::Command::new(psql)
            .args([
                "-X",
                "-A",
                "-t",
                "-d",
                &uri,
                "-c",
                "SELECT count(*) > 0 FROM customer",
            ])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "t",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut client = postgres::Client::connect(&uri, postgres::NoTls).unwrap();
    let n: i64 = client
        .query_one("SELECT count(*) FROM customer", &[])
        .unwrap()
        .get(0);
    assert!(n > 0);
    drop(client);
    // Ctrl-C.
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!server_dir(&stderr).exists(), "{stderr}");
}

#[test]
fn a_killed_fkload_leaves_no_server_behind() {
    let Some(c) = fkload("throwaway_killed") else {
        return;
    };
    let (mut child, uri) = up(c);
    let socket = uri
        .split_once("host=")
        .and_then(|(_, rest)| rest.split('&').next())
        .map(|h| h.replace("%2F", "/"))
        .unwrap();
    let dir = Path::new(&socket).parent().unwrap().to_path_buf();
    assert!(dir.exists());
    child.kill().unwrap();
    child.wait().unwrap();
    // The watchdog stops the server and removes the directory.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while dir.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
