//! Ctrl-C (SIGINT) and SIGTERM during a load. A `-j 2` load stops within a
//! fraction of a second: its running statements are cancelled, nothing is
//! undone, one line says what run it left and the commands that finish or
//! undo it, and it exits 4; `--resume` then finishes it and `repair` undoes
//! it. A one-transaction load still rolls back and exits 3. The same through
//! a real pseudo-terminal, where Ctrl-C is the ^C byte.

use std::io::Write as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::util::support::{Run, Scenario, command, keys, output, skip, snapshot};

/// Two independent keys, a -> p and b -> q, each table holding a row. p and
/// q are the bigger files and load at once (a parallel load starts the
/// biggest first); a slow trigger on a and b keeps their loads going for
/// about 3 s each after that, time enough to interrupt with a table
/// committed and the keys dropped.
const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY, pad text);
CREATE TABLE q (id int PRIMARY KEY, pad text);
CREATE TABLE a (id int PRIMARY KEY, p_id int NOT NULL,
                CONSTRAINT a_p_fk FOREIGN KEY (p_id) REFERENCES p);
CREATE TABLE b (id int PRIMARY KEY, q_id int NOT NULL,
                CONSTRAINT b_q_fk FOREIGN KEY (q_id) REFERENCES q);
INSERT INTO p VALUES (0, ''); INSERT INTO q VALUES (0, '');
INSERT INTO a VALUES (0, 0); INSERT INTO b VALUES (0, 0);
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END$$;
CREATE TRIGGER slow BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION slow();
CREATE TRIGGER slow BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION slow();
CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(0.01); RETURN OLD; END$$;";

const ROWS: u32 = 300;

fn scenario(label: &str) -> Scenario {
    let rows = |cols: &str, f: &dyn Fn(u32) -> String| {
        let mut out = format!("{cols}\n");
        for i in 1..=ROWS {
            out.push_str(&f(i));
        }
        out
    };
    let pad = "x".repeat(40);
    let p = rows("id,pad", &|i| format!("{i},{pad}\n"));
    let a = rows("id,p_id", &|i| format!("{i},{i}\n"));
    let b = rows("id,q_id", &|i| format!("{i},{i}\n"));
    Scenario::new(
        label,
        SCHEMA,
        &[("p.csv", &p), ("q.csv", &p), ("a.csv", &a), ("b.csv", &b)],
    )
}

/// The full data, as a finished load leaves it.
fn loaded() -> Vec<String> {
    let n = ROWS + 1;
    vec![
        format!("public.a={n}"),
        format!("public.b={n}"),
        format!("public.p={n}"),
        format!("public.q={n}"),
    ]
}

fn spawn(s: &Scenario, args: &[&str]) -> Child {
    command()
        .args(["-d", &s.db.url])
        .args(args)
        .arg(s.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fkload")
}

/// Waits until `sql` counts something (once `needs`, a relation, exists),
/// failing should the load end first.
fn wait_until(s: &Scenario, child: &mut Child, needs: Option<&str>, sql: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let there = needs.is_none_or(|r| {
            s.db.query_i64(&format!(
                "SELECT count(*) FROM pg_class WHERE oid = to_regclass('{r}')"
            )) == 1
        });
        if there && s.db.query_i64(sql) > 0 {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the load ended ({status}) before {what}");
        }
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Until the parallel load has committed a table (its keys dropped) and
/// loads a and b.
fn wait_for_a_commit(s: &Scenario, child: &mut Child) {
    wait_until(
        s,
        child,
        Some("fkload.journal"),
        "SELECT count(*) FROM fkload.journal WHERE kind = 'table' AND state = 'loaded'",
        "a table was committed",
    );
}

/// Sends `signal` and waits for the end: the run, and how long it took.
fn signal_and_wait(child: Child, signal: libc::c_int) -> (Run, Duration) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let sent = Instant::now();
    // SAFETY: kill(2) on the pid of our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let run = output(child.wait_with_output().expect("wait for fkload"));
    (run, sent.elapsed())
}

/// A parallel load interrupted with `signal` once a table is committed: exit
/// 4 within 2 s, one line naming the run and the commands; nothing undone.
fn interrupt_parallel(s: &Scenario, signal: libc::c_int) -> String {
    let report = tempfile::NamedTempFile::new().expect("report file");
    let path = report.path().to_str().expect("utf-8");
    let mut child = spawn(
        s,
        &["-j", "2", "--strategy", "revalidate", "--report", path],
    );
    wait_for_a_commit(s, &mut child);
    let (run, took) = signal_and_wait(child, signal);
    assert_eq!(run.code, 4, "exit code, stderr:\n{}", run.stderr);
    let account: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the report")).expect("JSON");
    crate::report::assert_valid(&account);
    assert_eq!(account["exit_code"], 4);
    assert_eq!(account["ok"], false);
    assert!(
        took < Duration::from_secs(2),
        "took {took:?}:\n{}",
        run.stderr
    );
    let id =
        s.db.query_strings("SELECT DISTINCT run FROM fkload.journal")
            .pop()
            .expect("the journal names the run");
    let dir = s.path().display().to_string();
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("fkload: interrupted"))
        .collect();
    assert_eq!(lines.len(), 1, "one line:\n{}", run.stderr);
    let line = lines[0];
    assert!(line.contains(&format!("run {id} committed ")), "{line}");
    assert!(line.contains(" of 4 files"), "{line}");
    assert!(
        line.ends_with(&format!(
            "fkload -j 2 --resume {dir} finishes it, fkload repair undoes it"
        )),
        "{line}"
    );
    // Nothing was undone: a table's rows stay, and no key is back (dropped,
    // or on PostgreSQL 18 still NOT ENFORCED).
    assert!(
        s.db.query_i64("SELECT count(*) FROM p") + s.db.query_i64("SELECT count(*) FROM q") > 2,
        "{line}"
    );
    let left = keys(&s.db);
    assert!(left.iter().all(|k| k.contains("NOT ENFORCED")), "{left:?}");
    // No session of the load is left running.
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.db.query_i64(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'fkload'",
        s.db.name
    )) > 0
    {
        assert!(Instant::now() < deadline, "the load's sessions stay");
        std::thread::sleep(Duration::from_millis(20));
    }
    line.to_string()
}

fn resumed_to_the_full_data(signal: libc::c_int, label: &str) {
    let s = scenario(label);
    let before = keys(&s.db);
    interrupt_parallel(&s, signal);
    s.run(&["-j", "2", "--resume", "--strategy", "revalidate"])
        .ok();
    assert_eq!(snapshot(&s.db), (loaded(), before));
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM pg_class WHERE oid = to_regclass('fkload.journal')"),
        0
    );
}

fn repaired_to_the_database_of_before(signal: libc::c_int, label: &str) {
    let s = scenario(label);
    let before = snapshot(&s.db);
    interrupt_parallel(&s, signal);
    let repair = command()
        .args(["-d", &s.db.url, "repair"])
        .output()
        .expect("run fkload repair");
    output(repair).ok();
    assert_eq!(snapshot(&s.db), before);
}

#[test]
fn ctrl_c_stops_a_parallel_load_resumably_and_resume_finishes_it() {
    resumed_to_the_full_data(libc::SIGINT, "int_resume");
}

#[test]
fn ctrl_c_stops_a_parallel_load_and_repair_undoes_it() {
    repaired_to_the_database_of_before(libc::SIGINT, "int_repair");
}

#[test]
fn sigterm_stops_a_parallel_load_resumably_and_resume_finishes_it() {
    resumed_to_the_full_data(libc::SIGTERM, "term_resume");
}

#[test]
fn sigterm_stops_a_parallel_load_and_repair_undoes_it() {
    repaired_to_the_database_of_before(libc::SIGTERM, "term_repair");
}

/// A one-transaction load interrupted while it loads a: rolled back, exit 3.
fn one_transaction_rolls_back(signal: libc::c_int, label: &str) {
    let s = scenario(label);
    let before = snapshot(&s.db);
    let mut child = spawn(&s, &[]);
    wait_until(
        &s,
        &mut child,
        None,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}'
                AND application_name = 'fkload' AND query LIKE 'COPY%'
                AND query LIKE '%\"a\"%' AND state = 'active'",
            s.db.name
        ),
        "the load copied into a",
    );
    let (run, took) = signal_and_wait(child, signal);
    assert_eq!(run.code, 3, "exit code, stderr:\n{}", run.stderr);
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        run.stderr
            .contains("fkload: cancelling: the load rolls back"),
        "{}",
        run.stderr
    );
    assert_eq!(snapshot(&s.db), before);
}

#[test]
fn ctrl_c_still_rolls_a_one_transaction_load_back() {
    one_transaction_rolls_back(libc::SIGINT, "int_one");
}

#[test]
fn sigterm_rolls_a_one_transaction_load_back() {
    one_transaction_rolls_back(libc::SIGTERM, "term_one");
}

/// Ctrl-C typed on a real terminal (the ^C byte into a pseudo-terminal that
/// `script` from util-linux runs fkload on): the terminal sends SIGINT to the
/// whole foreground process group, as a user's Ctrl-C does. The shell that
/// `script` starts `exec`s fkload, so that fkload is that group, as under an
/// interactive shell (a non-interactive dash that waited for it would die of
/// the SIGINT itself, and `script` would report its 130).
#[test]
fn ctrl_c_on_a_terminal_stops_a_parallel_load_with_exit_4() {
    let test = "ctrl_c_on_a_terminal_stops_a_parallel_load_with_exit_4";
    let script = std::process::Command::new("script")
        .arg("--version")
        .output();
    if !script.is_ok_and(|o| o.status.success()) {
        return skip(
            test,
            "no script(1) from util-linux to run fkload on a terminal",
        );
    }
    let s = scenario("tty");
    let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
    let line = [
        env!("CARGO_BIN_EXE_fkload"),
        "-d",
        &s.db.url,
        "-j",
        "2",
        "--strategy",
        "revalidate",
        &s.path().display().to_string(),
    ]
    .iter()
    .map(|a| quote(a))
    .fold(String::from("exec"), |line, a| line + " " + &a);
    let mut c = std::process::Command::new("script");
    crate::util::support::without_libpq_env(&mut c);
    let mut child = c
        .env("SHELL", "/bin/sh")
        .args(["-qefc", &line, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start script");
    wait_for_a_commit(&s, &mut child);
    let sent = Instant::now();
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"\x03").expect("type ^C");
    stdin.flush().expect("flush");
    let run = output(child.wait_with_output().expect("wait for script"));
    drop(stdin);
    let took = sent.elapsed();
    // The progress bars left out: what fkload said, after the exit code.
    let said: Vec<&str> = run
        .stdout
        .split(['\r', '\n'])
        .filter_map(|l| l.find("fkload:").map(|at| &l[at..]))
        .collect();
    assert_eq!(run.code, 4, "exit code; fkload said: {said:?}");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert!(
        run.stdout.contains("fkload: interrupted: run ")
            && run.stdout.contains("fkload repair undoes it"),
        "{}",
        run.stdout
    );
}

/// A second Ctrl-C right after the first exits at once (or the stop has
/// ended already): exit 4 either way, with a line that names the commands,
/// and repair gives back the database of before.
#[test]
fn a_second_ctrl_c_exits_at_once_with_exit_4() {
    let s = scenario("int_twice");
    let before = snapshot(&s.db);
    let mut child = spawn(&s, &["-j", "2", "--strategy", "revalidate"]);
    wait_for_a_commit(&s, &mut child);
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let sent = Instant::now();
    for _ in 0..2 {
        // SAFETY: kill(2) on the pid of our own child, not yet reaped.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
        std::thread::sleep(Duration::from_millis(5));
    }
    let run = output(child.wait_with_output().expect("wait for fkload"));
    assert_eq!(run.code, 4, "exit code, stderr:\n{}", run.stderr);
    assert!(sent.elapsed() < Duration::from_secs(2));
    assert!(
        run.stderr.lines().any(|l| l.starts_with("fkload: interrupted")
            && l.ends_with("fkload repair undoes it")),
        "{}",
        run.stderr
    );
    crate::util::crash::wait_for_disconnect(&s.db);
    let repair = command()
        .args(["-d", &s.db.url, "repair"])
        .output()
        .expect("run fkload repair");
    output(repair).ok();
    assert_eq!(snapshot(&s.db), before);
}

/// Ctrl-C while a failed parallel load takes its rows out again (slowly: a
/// trigger sleeps on each deleted row of a) does not cut the undo halfway:
/// it finishes, says so, and the load's own error and exit code stand, with
/// the database as before and no journal left.
#[test]
fn ctrl_c_lets_the_undo_of_a_failed_parallel_load_finish() {
    let s = scenario("int_undo");
    // An orphan at the end of a: the key fails when it is added back.
    let mut a = std::fs::read_to_string(s.path().join("a.csv")).expect("read a.csv");
    a.push_str("9999,9999\n");
    std::fs::write(s.path().join("a.csv"), a).expect("write a.csv");
    s.db.exec(
        "CREATE TRIGGER slow_delete BEFORE DELETE ON a FOR EACH ROW EXECUTE FUNCTION slow_delete()",
    );
    let before = snapshot(&s.db);
    let mut child = spawn(&s, &["-j", "2", "--strategy", "revalidate"]);
    wait_until(
        &s,
        &mut child,
        None,
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}'
                AND application_name = 'fkload' AND query LIKE 'DELETE%' AND state = 'active'",
            s.db.name
        ),
        "the failed load took its rows out",
    );
    let (run, _) = signal_and_wait(child, libc::SIGINT);
    assert_eq!(run.code, 3, "exit code, stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("fkload: interrupted: the failed load is being undone and finishes first"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("a_p_fk"), "{}", run.stderr);
    assert_eq!(snapshot(&s.db), before);
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM pg_class WHERE oid = to_regclass('fkload.journal')"),
        0
    );
}
