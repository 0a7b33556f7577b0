//! `repair` after a parallel load killed while it was putting keys back: the
//! keys it had already restored must survive (they were dropped again to take
//! the rows out, and must be put back too), whether `repair` runs alone or at
//! the start of the next load. And `repair` checks what it put back.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::util::crash::{state, wait_for_disconnect};
use crate::util::support::{Scenario, command, output};

/// Two independent keys: a -> p and b -> q. Every table already holds a row,
/// so no index is rebuilt; a slow trigger on a keeps the loads going for a
/// second, time enough to take a lock on b once its key is dropped.
const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY);
CREATE TABLE q (id int PRIMARY KEY);
CREATE TABLE a (id int PRIMARY KEY, p_id int NOT NULL,
                CONSTRAINT a_p_fk FOREIGN KEY (p_id) REFERENCES p);
CREATE TABLE b (id int PRIMARY KEY, q_id int NOT NULL,
                CONSTRAINT b_q_fk FOREIGN KEY (q_id) REFERENCES q);
COMMENT ON CONSTRAINT a_p_fk ON a IS 'restored before the kill';
INSERT INTO p VALUES (0); INSERT INTO q VALUES (0);
INSERT INTO a VALUES (0, 0); INSERT INTO b VALUES (0, 0);
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END$$;
CREATE TRIGGER slow BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION slow();";

fn scenario(label: &str) -> Scenario {
    let rows = |cols: &str, f: &dyn Fn(u32) -> String| {
        let mut out = format!("{cols}\n");
        for i in 1..=100 {
            out.push_str(&f(i));
        }
        out
    };
    let (p, q) = (
        rows("id", &|i| format!("{i}\n")),
        rows("id", &|i| format!("{i}\n")),
    );
    let (a, b) = (
        rows("id,p_id", &|i| format!("{i},{i}\n")),
        rows("id,q_id", &|i| format!("{i},{i}\n")),
    );
    Scenario::new(
        label,
        SCHEMA,
        &[("p.csv", &p), ("q.csv", &q), ("a.csv", &a), ("b.csv", &b)],
    )
}

/// Starts a `-j 2` revalidate load; once it has dropped the keys, another
/// session takes a lock on b that lets rows in but no ALTER TABLE. Waits
/// until the load has put a_p_fk back and waits on that lock, and kills it
/// there.
fn kill_between_two_restores(s: &Scenario) {
    let mut holder = s.db.client();
    let mut child = command()
        .args(["-d", &s.db.url, "-j", "2", "--strategy", "revalidate"])
        .args(["--lock-timeout", "0"])
        .arg(s.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let journaled = |sql: &str| {
        s.db.query_i64("SELECT count(*) FROM pg_class WHERE oid = to_regclass('fkload.journal')")
            == 1
            && s.db.query_i64(sql) > 0
    };
    while !journaled("SELECT count(*) FROM fkload.journal WHERE name = 'b_q_fk'") {
        assert!(Instant::now() < deadline, "the load never dropped b_q_fk");
        std::thread::sleep(Duration::from_millis(5));
    }
    holder
        .batch_execute("BEGIN; LOCK TABLE b IN SHARE UPDATE EXCLUSIVE MODE")
        .unwrap();
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM fkload.journal WHERE state = 'restored'"),
        0,
        "the lock came too late"
    );
    loop {
        let restored = journaled(
            "SELECT count(*) FROM fkload.journal WHERE name = 'a_p_fk' AND state = 'restored'",
        );
        let waiting = s.db.query_i64(&format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = '{}'
                AND application_name = 'fkload' AND wait_event_type = 'Lock'",
            s.db.name
        )) > 0;
        if restored && waiting {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the load never got to wait for b with a_p_fk back"
        );
        if let Ok(Some(status)) = child.try_wait() {
            let out = output(child.wait_with_output().unwrap());
            panic!("the load ended ({status}) before the kill:\n{}", out.stderr);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    holder.batch_execute("COMMIT").unwrap();
    wait_for_disconnect(&s.db);
}

#[test]
fn repair_keeps_the_keys_a_killed_run_had_already_restored() {
    let s = scenario("repair_restored_keys");
    let before = state(&s.db);
    kill_between_two_restores(&s);
    let out = output(
        command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(state(&s.db), before, "repair");
}

#[test]
fn the_next_load_repairs_first_and_keeps_the_keys_a_killed_run_had_restored() {
    let s = scenario("load_restored_keys");
    let before = state(&s.db);
    kill_between_two_restores(&s);
    s.run(&["--strategy", "keep"])
        .ok()
        .stderr_has("did not finish; its rows were taken out");
    // Every key is there, and holds: each table has its old row and the
    // files' rows once.
    let now = state(&s.db);
    let keys = |st: &[String]| -> Vec<String> {
        st.iter()
            .filter(|l| l.starts_with("key") || l.starts_with("index"))
            .cloned()
            .collect()
    };
    assert_eq!(keys(&now), keys(&before), "keys and indexes after the load");
    for t in ["p", "q", "a", "b"] {
        assert_eq!(s.db.query_i64(&format!("SELECT count(*) FROM {t}")), 101);
    }
}

#[test]
fn repair_refuses_to_report_success_when_a_key_is_not_back_as_it_was() {
    let s = scenario("repair_checks");
    kill_between_two_restores(&s);
    // The journal's way back for each key loses something: a_p_fk's comment,
    // b_q_fk altogether. repair runs them, and must notice.
    s.db.exec(
        "UPDATE fkload.journal
            SET statements = statements || 'COMMENT ON CONSTRAINT a_p_fk ON a IS NULL'::text
          WHERE name = 'a_p_fk';
         UPDATE fkload.journal SET statements = ARRAY['SELECT 1'] WHERE name = 'b_q_fk';",
    );
    let out = output(
        command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stderr, out.stdout);
    // Before PostgreSQL 18 a key set aside is dropped, so b_q_fk is missing;
    // on 18 it is set NOT ENFORCED, and stays so.
    let b_q_fk = if crate::util::pg::server_version_num() >= 180000 {
        "key \"b_q_fk\" on \"public\".\"b\" was: public.b | b_q_fk | FOREIGN KEY (q_id) REFERENCES public.q(id) | t | f | f | true | -; it is now: public.b | b_q_fk | FOREIGN KEY (q_id) REFERENCES public.q(id) NOT ENFORCED | f | f | f | false | -"
    } else {
        "key \"b_q_fk\" on \"public\".\"b\" is missing"
    };
    for needle in [
        "2 keys or indexes are not back as they were",
        "key \"a_p_fk\" on \"public\".\"a\" was: public.a | a_p_fk | FOREIGN KEY (p_id) REFERENCES public.p(id) | t | f | f | true | restored before the kill; it is now: public.a | a_p_fk | FOREIGN KEY (p_id) REFERENCES public.p(id) | t | f | f | true | -",
        b_q_fk,
        "HINT:  fkload.journal (run ",
    ] {
        assert!(
            out.stderr.contains(needle),
            "{needle:?} in:\n{}",
            out.stderr
        );
    }
    assert!(!out.stdout.contains("repaired"), "{}", out.stdout);
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM fkload.journal WHERE kind IN ('key', 'unenforced')"),
        2,
        "the journal is kept"
    );
}

/// The undo deletes exactly the rows the run loaded, or nothing: a row of the
/// run that another session changed after the run committed it carries that
/// session's transaction id, so the delete by the run's id would leave it
/// behind; `repair` says so, deletes nothing, and leaves the journal to
/// finish once it is dealt with.
#[test]
fn repair_deletes_nothing_when_the_rows_are_not_exactly_the_ones_the_run_loaded() {
    let s = Scenario::new(
        "undo_count",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p);",
        &[
            ("p.csv", "id\n1\n2\n3\n"),
            ("c.csv", "id,p_id\n1,1\n2,2\n3,3\n"),
        ],
    );
    let args = ["-j", "2", "--strategy", "keep"];
    // Killed at each statement in turn until a table's rows are committed.
    let loaded = "SELECT count(*) FROM fkload.journal WHERE kind = 'table' AND state = 'loaded'";
    let total = crate::util::crash::statements(&s, &args);
    let mut killed_at = None;
    for n in 1..=total {
        assert!(
            crate::util::crash::run_killed_at(&s, &args, n),
            "not killed at {n}"
        );
        let has_journal =
            s.db.query_strings("SELECT to_regclass('fkload.journal') IS NOT NULL")[0] == "t";
        if has_journal && s.db.query_i64(loaded) > 0 {
            killed_at = Some(n);
            break;
        }
    }
    assert!(
        killed_at.is_some(),
        "no statement of {total} left a loaded table"
    );
    let table = s.db.query_strings(
        "SELECT target FROM fkload.journal WHERE kind = 'table' AND state = 'loaded' LIMIT 1",
    )[0]
    .clone();
    let before = s.db.query_i64(&format!("SELECT count(*) FROM {table}"));
    assert!(before > 0);
    // Another session changes one of the run's rows.
    s.db.exec(&format!(
        "UPDATE {table} SET id = id + 100 WHERE id = (SELECT min(id) FROM {table})"
    ));
    let repair = output(
        command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .expect("run fkload repair"),
    );
    assert_eq!(repair.code, 1, "{}{}", repair.stdout, repair.stderr);
    assert!(
        repair.stderr.contains(&format!(
            "out again would delete {} rows, but the run loaded {before}: nothing was deleted",
            before - 1
        )),
        "{}",
        repair.stderr
    );
    assert_eq!(
        s.db.query_i64(&format!("SELECT count(*) FROM {table}")),
        before,
        "rows were deleted"
    );
    assert_eq!(s.db.query_i64(loaded), 1, "the journal forgot the table");
    // --force takes out the rows that still carry the run's id: the changed
    // row stays, with its change, and the journal is gone.
    let forced = output(
        command()
            .args(["-d", &s.db.url, "repair", "--force"])
            .output()
            .expect("run fkload repair --force"),
    );
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert_eq!(
        s.db.query_strings(&format!("SELECT id FROM {table}")),
        ["101"],
        "only the changed row stays"
    );
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'fkload'"),
        0,
        "the journal is still there"
    );
}
