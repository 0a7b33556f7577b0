//! The bad-input corpus: every file of `tests/corpus` loaded as `t.csv` into a
//! fresh database; `tests/corpus/expected.tsv` says the exit code and what the
//! output must say. A failure must leave the database as it was. Entries that
//! cannot be files in git (a FIFO, a directory, a symlink loop, a 50 MB field,
//! an unreadable file) are made here.

use std::path::Path;

use crate::util::support::{Scenario, assert_unchanged, fkload, snapshot};

const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL,
                amount numeric(10, 2) CHECK (amount >= 0), at timestamptz,
                parent int REFERENCES p,
                total numeric GENERATED ALWAYS AS (amount * 2) STORED);";

fn check(label: &str, make: impl FnOnce(&Path), code: i32, expect: &str) {
    let s = Scenario::new(label, SCHEMA, &[]);
    make(s.path());
    let before = snapshot(&s.db);
    let out = fkload(&s.db, s.path(), &[]);
    assert_eq!(out.code, code, "{label}: {}\n{}", out.stderr, out.stdout);
    let text = if code == 0 { &out.stdout } else { &out.stderr };
    assert!(
        text.contains(expect),
        "{label}: expected {expect:?} in:\n{text}"
    );
    if code != 0 {
        assert_unchanged(&s.db, &before);
    }
}

#[test]
fn every_file_of_the_corpus_gives_its_documented_result() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let expected = std::fs::read_to_string(dir.join("expected.tsv")).unwrap();
    let mut seen = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let mut f = line.splitn(3, '\t');
        let (file, code, expect) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
        let body = std::fs::read(dir.join(file)).unwrap();
        let label = format!("corpus_{}", file.trim_end_matches(".csv"));
        check(
            &label,
            |d| std::fs::write(d.join("t.csv"), &body).unwrap(),
            code.parse().unwrap(),
            expect,
        );
        seen += 1;
    }
    let files = std::fs::read_dir(&dir).unwrap().count() - 1;
    assert_eq!(seen, files, "every corpus file has a line in expected.tsv");
    assert!(seen >= 40);
}

#[test]
fn entries_that_are_not_plain_files() {
    check(
        "corpus_directory",
        |d| std::fs::create_dir(d.join("t.csv")).unwrap(),
        1,
        "t.csv\" is not a regular file",
    );
    check(
        "corpus_fifo",
        |d| {
            let ok = std::process::Command::new("mkfifo")
                .arg(d.join("t.csv"))
                .status()
                .unwrap();
            assert!(ok.success());
        },
        1,
        "t.csv\" is not a regular file",
    );
    check(
        "corpus_symlink_loop",
        |d| {
            std::os::unix::fs::symlink(d.join("u.csv"), d.join("t.csv")).unwrap();
            std::os::unix::fs::symlink(d.join("t.csv"), d.join("u.csv")).unwrap();
        },
        1,
        "could not read",
    );
    check(
        "corpus_dangling_symlink",
        |d| std::os::unix::fs::symlink(d.join("nowhere.csv"), d.join("t.csv")).unwrap(),
        1,
        "could not read",
    );
}

#[test]
fn an_unreadable_file_is_named_with_the_reason() {
    use std::os::unix::fs::PermissionsExt;
    let s = Scenario::new("corpus_unreadable", SCHEMA, &[("t.csv", "id,name\n1,a\n")]);
    let file = s.path().join("t.csv");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = snapshot(&s.db);
    let out = if crate::util::pg::running_as_root() {
        // Root reads any file: the load runs as nobody, who must be able to
        // reach the binary (not so in a clone under a private home directory).
        let exe = env!("CARGO_BIN_EXE_fkload");
        let mut reach = std::process::Command::new("runuser");
        reach.args(["-u", "nobody", "--", exe, "-V"]);
        if !reach.output().is_ok_and(|o| o.status.success()) {
            crate::util::support::skip(
                "an_unreadable_file_is_named_with_the_reason",
                &format!("running as root, and the user nobody cannot run {exe}"),
            );
            return;
        }
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "nobody", "--", exe, "-d", &s.db.url])
            .arg(s.path());
        crate::util::support::without_libpq_env(&mut c);
        crate::util::support::output(c.output().unwrap())
    } else {
        fkload(&s.db, s.path(), &[])
    };
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("t.csv") && out.stderr.contains("Permission denied"),
        "{}",
        out.stderr
    );
    assert_unchanged(&s.db, &before);
}

#[test]
fn a_50_mb_field_loads_and_a_50_mb_bad_value_fails_on_its_line() {
    let big = "x".repeat(50 * 1024 * 1024);
    check(
        "corpus_big_text",
        |d| std::fs::write(d.join("t.csv"), format!("id,name\n1,\"{big}\"\n")).unwrap(),
        0,
        "loaded 1 rows",
    );
    check(
        "corpus_big_bad_value",
        |d| std::fs::write(d.join("t.csv"), format!("id,name\n1,ok\n{big},x\n")).unwrap(),
        3,
        "t.csv:3: ERROR:  invalid input syntax for type integer",
    );
}
