//! `-j N`: one transaction per file over N connections. Not atomic while it
//! runs, but the end state is: everything loaded with every key and index back,
//! or (after an error) the rows it committed taken out again and every key and
//! index back. The journal is gone either way.

use crate::util::support::{Scenario, assert_unchanged, indexes, keys, snapshot};

fn journal_gone(s: &Scenario) {
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'fkload'"),
        0,
        "the journal and its schema are removed"
    );
}

#[test]
fn parallel_load_restores_every_key_and_index() {
    let (db, dir) = Scenario::fixture("shop");
    let (k, i) = (keys(&db), indexes(&db));
    for strategy in ["keep", "revalidate"] {
        db.exec("TRUNCATE category, customer, product, orders, order_line");
        let out =
            crate::util::support::fkload(&db, &dir, &["-j", "2", "--strategy", strategy]).ok();
        assert!(out.stdout.contains("loaded 17 rows"), "{}", out.stdout);
        assert_eq!(keys(&db), k, "{strategy}");
        assert_eq!(indexes(&db), i, "{strategy}");
        assert_eq!(db.query_i64("SELECT count(*) FROM order_line"), 4);
        assert_eq!(
            db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'fkload'"),
            0
        );
    }
}

#[test]
fn parallel_plan_says_it_is_not_atomic() {
    let (db, dir) = Scenario::fixture("shop");
    let out = crate::util::support::fkload(&db, &dir, &["-l", "-j", "3"]).ok();
    assert!(
        out.stdout
            .contains("3 connections, one transaction per file: NOT atomic"),
        "{}",
        out.stdout
    );
}

#[test]
fn parallel_cycle_of_deferrable_keys_drops_them() {
    let s = Scenario::new(
        "jobs_cycle",
        "CREATE TABLE husband (id int PRIMARY KEY, wife_id int NOT NULL);
         CREATE TABLE wife (id int PRIMARY KEY, husband_id int NOT NULL REFERENCES husband DEFERRABLE);
         ALTER TABLE husband ADD FOREIGN KEY (wife_id) REFERENCES wife DEFERRABLE;",
        &[("husband.csv", "id,wife_id\n1,2\n"), ("wife.csv", "id,husband_id\n2,1\n")],
    );
    let before = keys(&s.db);
    s.run(&["-j", "2", "--strategy", "keep"]).ok();
    assert_eq!(keys(&s.db), before);
    journal_gone(&s);
}

#[test]
fn failed_parallel_load_takes_its_rows_out_and_puts_keys_back() {
    let s = Scenario::new(
        "jobs_orphans",
        "CREATE TABLE customer (id int PRIMARY KEY, email text UNIQUE);
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer);
         CREATE TABLE note (id int PRIMARY KEY, body text);
         INSERT INTO note VALUES (1, 'was here before');",
        &[
            ("customer.csv", "id,email\n1,a@x\n2,b@x\n"),
            ("orders.csv", "id,customer_id\n10,1\n11,7\n12,8\n"),
            ("note.csv", "id,body\n2,new\n3,new\n"),
        ],
    );
    let before = snapshot(&s.db);
    let i = indexes(&s.db);
    for strategy in ["revalidate", "keep"] {
        let out = s.run(&["-j", "2", "--strategy", strategy]).fails(3);
        for want in [
            "orders.csv:3: key (customer_id)=(7) is not present in table public.customer",
            "orders.csv:4: key (customer_id)=(8) is not present in table public.customer",
        ] {
            assert!(
                out.stderr.contains(want),
                "{strategy}: {want:?} missing:\n{}",
                out.stderr
            );
        }
        assert_unchanged(&s.db, &before);
        assert_eq!(indexes(&s.db), i);
        assert_eq!(
            s.db.query_strings("SELECT body FROM note"),
            ["was here before"],
            "rows that were there stay; the run's rows go"
        );
        journal_gone(&s);
    }
}

#[test]
fn a_journal_with_no_dropped_objects_is_repaired_before_the_next_load() {
    // A killed run that had committed a table of rows but dropped nothing.
    let s = Scenario::new(
        "jobs_leftover_journal",
        "CREATE TABLE t (id int PRIMARY KEY);
         CREATE SCHEMA fkload;
         CREATE TABLE fkload.journal (run text, seq int, kind text, target text, name text,
             restore text, txid bigint, state text, at timestamptz DEFAULT now(),
             PRIMARY KEY (run, seq));
         BEGIN;
         INSERT INTO t VALUES (7);
         INSERT INTO fkload.journal (run, seq, kind, target, name, txid, state)
         VALUES ('123-4', 1, 'table', '\"public\".\"t\"', 't.csv', txid_current(), 'loaded');
         COMMIT;",
        &[("t.csv", "id\n1\n")],
    );
    s.run(&[])
        .ok()
        .stderr_has("an earlier parallel load (run 123-4) did not finish; its rows were taken out");
    assert_eq!(s.db.query_strings("SELECT id::text FROM t"), ["1"]);
    journal_gone(&s);
}

/// A database as a killed `-j` run leaves it: the key orders -> customer
/// dropped (and journaled with its restore script), orders loaded and committed
/// with its journal entry in the same transaction, customer not loaded yet.
const BEFORE_RUN: &str = "
CREATE TABLE customer (id int PRIMARY KEY, email text UNIQUE);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL
    CONSTRAINT orders_customer_fk REFERENCES customer ON DELETE CASCADE);
COMMENT ON CONSTRAINT orders_customer_fk ON orders IS 'every order has a customer';";

const KILLED_RUN: &str = r#"
CREATE SCHEMA fkload;
CREATE TABLE fkload.journal (run text, seq int, kind text, target text, name text,
    restore text, txid bigint, state text, at timestamptz DEFAULT now(),
    PRIMARY KEY (run, seq));
BEGIN;
INSERT INTO fkload.journal (run, seq, kind, target, name, restore, state)
VALUES ('100-1', 1, 'key', '"public"."orders"', 'orders_customer_fk',
        'ALTER TABLE "public"."orders" ADD CONSTRAINT "orders_customer_fk" FOREIGN KEY (customer_id) REFERENCES public.customer(id) ON DELETE CASCADE NOT VALID;
ALTER TABLE "public"."orders" VALIDATE CONSTRAINT "orders_customer_fk";
COMMENT ON CONSTRAINT "orders_customer_fk" ON "public"."orders" IS ''every order has a customer''',
        'dropped');
ALTER TABLE orders DROP CONSTRAINT orders_customer_fk;
COMMIT;
BEGIN;
INSERT INTO orders VALUES (10, 1), (11, 2);
INSERT INTO fkload.journal (run, seq, kind, target, name, txid, state)
VALUES ('100-1', 3, 'table', '"public"."orders"', 'orders.csv', txid_current(), 'loaded');
COMMIT;
"#;

fn interrupted(label: &str, customers: &str) -> (Scenario, Vec<String>) {
    let s = Scenario::new(
        label,
        BEFORE_RUN,
        &[
            ("customer.csv", customers),
            ("orders.csv", "id,customer_id\n10,1\n11,2\n"),
        ],
    );
    let original = keys(&s.db);
    s.db.exec(KILLED_RUN);
    assert_ne!(keys(&s.db), original, "the killed run dropped the key");
    (s, original)
}

#[test]
fn resume_loads_the_rest_and_puts_the_dropped_key_back() {
    let (s, original) = interrupted("resume_ok", "id,email\n1,a@x\n2,b@x\n");
    let out = s.run(&["-j", "2", "--resume"]).ok();
    assert!(
        out.stderr.contains("orders.csv was not loaded again"),
        "{}",
        out.stderr
    );
    assert_eq!(keys(&s.db), original);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 2);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM customer"), 2);
    journal_gone(&s);
}

#[test]
fn failed_resume_takes_out_both_runs_rows_and_puts_the_key_back() {
    let (s, original) = interrupted("resume_fail", "id,email\n1,a@x\n");
    let out = s.run(&["-j", "2", "--resume"]).fails(3);
    assert!(out.stderr.contains("orders_customer_fk"), "{}", out.stderr);
    assert_eq!(keys(&s.db), original);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 0);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM customer"), 0);
    journal_gone(&s);
}

#[test]
fn failed_parallel_load_takes_out_children_before_parents() {
    // Keys kept (keep) or re-added before a later one fails (revalidate) must
    // neither block the undo nor cascade it: x's orphan fails the load after p
    // and c have committed; ON DELETE SET NULL would rewrite c's rows if p's
    // were deleted first.
    let s = Scenario::new(
        "jobs_undo_order",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p ON DELETE SET NULL);
         CREATE TABLE x (id int PRIMARY KEY, c_id int NOT NULL CONSTRAINT x_zz REFERENCES c);",
        &[
            ("p.csv", "id\n1\n2\n"),
            ("c.csv", "id,p_id\n10,1\n11,2\n"),
            ("x.csv", "id,c_id\n20,10\n21,99\n"),
        ],
    );
    let before = snapshot(&s.db);
    for strategy in ["keep", "revalidate"] {
        s.run(&["-j", "2", "--strategy", strategy])
            .fails(3)
            .stderr_has("x.csv:3: key (c_id)=(99) is not present in table public.c");
        assert_unchanged(&s.db, &before);
        journal_gone(&s);
    }
}

#[test]
fn a_journal_someone_else_owns_is_not_trusted() {
    let s = Scenario::new(
        "jobs_untrusted",
        "CREATE TABLE t (id int PRIMARY KEY);
         DO $$BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fkload_test_other') THEN
             CREATE ROLE fkload_test_other;
           END IF;
         END$$;
         CREATE SCHEMA fkload AUTHORIZATION fkload_test_other;",
        &[("t.csv", "id\n1\n")],
    );
    let out = s.run(&["-j", "2"]).fails(1);
    assert!(
        out.stderr
            .contains("fkload.journal is not this role's alone")
            || out.stderr.contains("permission denied"),
        "{}",
        out.stderr
    );
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 0);
}

/// `--resume` finishes a parallel load that left a journal; with no journal
/// there is nothing to finish, and it cannot tell a load that never began from
/// one that finished (loading again would double rows), so it refuses. (It
/// used to load from the start; the crash-point enumeration found the case
/// where that doubled a finished load.)
#[test]
fn resume_refuses_without_a_journal_and_alone_runs_as_a_parallel_load() {
    let s = Scenario::new(
        "jobs_resume_alone",
        "CREATE TABLE husband (id int PRIMARY KEY, wife_id int NOT NULL);
         CREATE TABLE wife (id int PRIMARY KEY, husband_id int NOT NULL REFERENCES husband DEFERRABLE);
         ALTER TABLE husband ADD FOREIGN KEY (wife_id) REFERENCES wife DEFERRABLE;",
        &[("husband.csv", "id,wife_id\n1,2\n"), ("wife.csv", "id,husband_id\n2,1\n")],
    );
    let before = keys(&s.db);
    s.run(&["-l", "--resume"]).ok().stdout_has("NOT atomic");
    s.run(&["--resume", "--strategy", "keep"])
        .fails(1)
        .stderr_has("there is no interrupted parallel load to resume in this database");
    assert_eq!(keys(&s.db), before);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM husband"), 0);
    journal_gone(&s);
    if !crate::util::crash::available(
        "resume_refuses_without_a_journal_and_alone_runs_as_a_parallel_load (second half)",
    ) {
        return;
    }
    // A journal left by a killed -j run: --resume without -j finishes it.
    let args = ["-j", "2", "--strategy", "keep"];
    crate::util::crash::interrupt(&s, &args);
    s.run(&["--resume"]).ok();
    assert_eq!(keys(&s.db), before);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM husband"), 1);
    journal_gone(&s);
}

#[test]
fn big_files_are_shared_between_connections_and_undone_part_by_part() {
    // --batch-size 64 cuts files above 128 bytes into parts of about 128 bytes,
    // each in its own transaction.
    let mut body = String::from("id,note\n");
    for i in 1..=300 {
        if i % 9 == 0 {
            body.push_str(&format!("{i},\"multi\nline\"\n"));
        } else {
            body.push_str(&format!("{i},n{i}\n"));
        }
    }
    let s = Scenario::new(
        "jobs_parts",
        "CREATE TABLE t (id int PRIMARY KEY, note text);",
        &[("t.csv", &body)],
    );
    let (k, i) = (keys(&s.db), indexes(&s.db));
    s.run(&["-j", "2", "--batch-size", "64", "--strategy", "revalidate"])
        .ok()
        .stdout_has("loaded 300 rows");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 300);
    assert_eq!(s.db.query_i64("SELECT sum(id) FROM t"), 300 * 301 / 2);
    assert_eq!(
        s.db.query_strings("SELECT note FROM t WHERE id = 18"),
        ["multi\nline"]
    );
    assert_eq!((keys(&s.db), indexes(&s.db)), (k, i));

    // A bad value in a later part: its line, and every part's rows out again.
    s.db.exec("TRUNCATE t");
    body.push_str("301,ok\nbad,x\n");
    std::fs::write(s.path().join("t.csv"), &body).unwrap();
    let lines = body.lines().count();
    s.run(&["-j", "2", "--batch-size", "64", "--strategy", "keep"])
        .fails(3)
        .stderr_has(&format!(
            "t.csv:{lines}: ERROR:  invalid input syntax for type integer: \"bad\""
        ));
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 0);
    journal_gone(&s);
}

#[test]
fn repair_takes_the_interrupted_runs_rows_out_and_puts_its_key_back() {
    let (s, original) = interrupted("repair", "id,email\n1,a@x\n2,b@x\n");
    let out = crate::util::support::output(
        crate::util::support::command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .unwrap(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("repaired run 100-1"), "{}", out.stdout);
    assert_eq!(keys(&s.db), original);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 0);
    journal_gone(&s);
    let out = crate::util::support::output(
        crate::util::support::command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .unwrap(),
    );
    assert!(out.stdout.contains("nothing to repair"), "{}", out.stdout);
}

#[test]
fn the_next_load_repairs_an_interrupted_run_first() {
    let (s, original) = interrupted("auto_repair", "id,email\n1,a@x\n2,b@x\n");
    s.run(&[])
        .ok()
        .stderr_has("an earlier parallel load (run 100-1) did not finish");
    assert_eq!(keys(&s.db), original);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 2);
    journal_gone(&s);
}

/// The partitioned cycle, and a table with neither keys nor indexes that a
/// test can hold locked to stop a run after its keys are dropped.
fn clones_schema() -> String {
    format!(
        "{}\nCREATE TABLE blocker (n int);",
        crate::util::support::PARTITIONED_CYCLE
    )
}

/// Starts `fkload -j 2 --strategy revalidate` while another session holds
/// `blocker` locked against writes (reads, as planning's, pass), kills it once it waits for that lock (its keys dropped
/// and journaled by then), and lets the lock go.
fn killed_while_blocked(label: &str) -> (Scenario, Vec<String>) {
    let s = Scenario::new(
        label,
        &clones_schema(),
        &[
            ("team.csv", "id,lead_id,lead_kind\n1,10,a\n2,11,b\n"),
            ("member.csv", "id,kind,team_id\n10,a,1\n11,b,2\n"),
            ("blocker.csv", "n\n1\n"),
        ],
    );
    let before = keys(&s.db);
    let mut holder = s.db.client();
    holder
        .batch_execute("BEGIN; LOCK TABLE blocker IN SHARE MODE")
        .unwrap();
    let mut child = crate::util::support::command()
        .args(["-d", &s.db.url, "-j", "2", "--strategy", "revalidate"])
        .args(["--lock-timeout", "60s"])
        .arg(s.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.db.query_i64(
        "SELECT count(*) FROM pg_stat_activity
          WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%blocker%'",
    ) == 0
    {
        assert!(std::time::Instant::now() < deadline, "fkload never waited");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    holder.batch_execute("ROLLBACK").unwrap();
    // The server notices the closed connections in its own time.
    while s.db.query_i64(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'fkload'",
    ) > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "fkload's sessions linger"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_ne!(keys(&s.db), before, "the killed run had dropped the keys");
    (s, before)
}

#[test]
fn resume_and_repair_give_partition_copies_their_own_names_and_comments_back() {
    let (s, before) = killed_while_blocked("jobs_clone_names_resume");
    s.run(&["-j", "2", "--resume"]).ok();
    assert_eq!(
        keys(&s.db),
        before,
        "--resume: names and comments of the copies"
    );
    assert_eq!(s.db.query_i64("SELECT count(*) FROM member"), 2);
    journal_gone(&s);

    let (s, before) = killed_while_blocked("jobs_clone_names_repair");
    crate::util::support::output(
        crate::util::support::command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .unwrap(),
    )
    .ok();
    assert_eq!(
        keys(&s.db),
        before,
        "repair: names and comments of the copies"
    );
    assert_eq!(s.db.query_i64("SELECT count(*) FROM member"), 0);
    journal_gone(&s);
}
