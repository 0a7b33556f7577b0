//! PostgreSQL 18's `NOT ENFORCED` keys: a key the load sets aside is set `NOT
//! ENFORCED` and enforced again (the same catalog object comes back), and a key
//! declared `NOT ENFORCED` orders nothing and is left alone. On older servers
//! these tests say so and pass (the other modules cover the drop path there).

use crate::util::pg::server_version_num;
use crate::util::support::{
    PARTITIONED_CYCLE as CYCLE, Scenario, assert_unchanged, command, keys, output, skip, snapshot,
};

fn on_18(test: &str) -> bool {
    let v = server_version_num();
    if v < 180000 {
        skip(
            test,
            &format!("the server is {v}, NOT ENFORCED keys came with 180000"),
        );
        return false;
    }
    true
}

/// Every foreign key row (clones included) with its oid: the same rows after a
/// load mean the very same constraints came back, not copies.
fn key_oids(s: &Scenario) -> Vec<String> {
    s.db.query_strings(
        "SELECT concat_ws(' | ', conrelid::regclass::text, conname, oid::text)
           FROM pg_constraint WHERE contype = 'f' ORDER BY 1",
    )
}

fn oid_of(s: &Scenario, key: &str) -> String {
    s.db.query_strings(&format!(
        "SELECT oid::text FROM pg_constraint WHERE conname = '{key}' AND conparentid = 0"
    ))
    .concat()
}

const TEAM: &str = "id,lead_id,lead_kind\n1,10,a\n2,11,b\n";
const MEMBER: &str = "id,kind,team_id\n10,a,1\n11,b,2\n12,b,1\n";

#[test]
fn a_cycle_key_is_set_not_enforced_and_the_same_key_comes_back() {
    if !on_18("a_cycle_key_is_set_not_enforced_and_the_same_key_comes_back") {
        return;
    }
    for (label, args) in [
        ("enforce_keep", &["--strategy", "keep"][..]),
        ("enforce_jobs", &["-j", "2"][..]),
    ] {
        let s = Scenario::new(label, CYCLE, &[("team.csv", TEAM), ("member.csv", MEMBER)]);
        let (before, oids) = (keys(&s.db), key_oids(&s));
        let mut plan_args = args.to_vec();
        plan_args.push("-l");
        let plan = s.run(&plan_args).ok().stdout;
        assert!(
            plan.contains("set NOT ENFORCED (not deferrable), then ENFORCED"),
            "{plan}"
        );
        assert!(plan.contains("dropped keys: none"), "{plan}");
        s.run(args)
            .ok()
            .stdout_has("1 keys set NOT ENFORCED and enforced again");
        assert_eq!(keys(&s.db), before, "{label}: definitions and comments");
        assert_eq!(
            key_oids(&s),
            oids,
            "{label}: the same constraints, names kept"
        );
        assert_eq!(s.db.query_i64("SELECT count(*) FROM member"), 3);
    }
}

#[test]
fn revalidate_drops_a_key_whose_index_is_rebuilt_and_unenforces_the_others() {
    if !on_18("revalidate_drops_a_key_whose_index_is_rebuilt_and_unenforces_the_others") {
        return;
    }
    // team is empty, so its primary key is built after the data and the key
    // that references it must be dropped; member's index (partitioned) stays,
    // so the key that references member is only unenforced.
    let s = Scenario::new(
        "enforce_revalidate",
        CYCLE,
        &[("team.csv", TEAM), ("member.csv", MEMBER)],
    );
    let before = keys(&s.db);
    let lead = oid_of(&s, "team_lead_fkey");
    let plan = s.run(&["--strategy", "revalidate", "-l"]).ok().stdout;
    assert!(
        plan.contains("\"member_team_fkey\" on public.member -> public.team: FOREIGN KEY"),
        "dropped, with its definition: {plan}"
    );
    assert!(
        plan.contains("then ENFORCED (one validating pass):\n  \"team_lead_fkey\""),
        "{plan}"
    );
    s.run(&["--strategy", "revalidate"])
        .ok()
        .stdout_has("1 keys dropped and restored, 1 keys set NOT ENFORCED and enforced again");
    assert_eq!(keys(&s.db), before, "both keys, copies' names and comments");
    assert_eq!(
        oid_of(&s, "team_lead_fkey"),
        lead,
        "the unenforced key itself"
    );
}

#[test]
fn an_orphan_found_when_enforcing_again_is_reported_and_nothing_changes() {
    if !on_18("an_orphan_found_when_enforcing_again_is_reported_and_nothing_changes") {
        return;
    }
    let s = Scenario::new(
        "enforce_orphan",
        CYCLE,
        &[
            ("team.csv", "id,lead_id,lead_kind\n1,10,a\n2,77,b\n"),
            ("member.csv", MEMBER),
        ],
    );
    let (before, oids) = (snapshot(&s.db), key_oids(&s));
    for args in [&["--strategy", "keep"][..], &["-j", "2"][..]] {
        let out = s.run(args).fails(3);
        assert!(
            out.stderr.contains(
                "team.csv:3: key (lead_id, lead_kind)=(77, b) is not present in table public.member"
            ) || out
                .stderr
                .contains("member.csv:4: key (team_id)=(1) is not present"),
            "{args:?}: {}",
            out.stderr
        );
        assert_unchanged(&s.db, &before);
        assert_eq!(key_oids(&s), oids);
    }
}

#[test]
fn a_key_declared_not_enforced_orders_nothing_and_is_left_alone() {
    if !on_18("a_key_declared_not_enforced_orders_nothing_and_is_left_alone") {
        return;
    }
    // Both ways NOT ENFORCED: no cycle, and rows that break the keys load (they
    // are documentation only). An enforced key next to them still checks.
    let s = Scenario::new(
        "enforce_declared",
        "CREATE TABLE a (id int PRIMARY KEY, b_id int);
         CREATE TABLE b (id int PRIMARY KEY, a_id int
             CONSTRAINT b_a_ne REFERENCES a NOT ENFORCED);
         ALTER TABLE a ADD CONSTRAINT a_b_ne FOREIGN KEY (b_id) REFERENCES b NOT ENFORCED;
         CREATE TABLE c (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a);",
        &[
            ("a.csv", "id,b_id\n1,99\n"),
            ("b.csv", "id,a_id\n1,98\n"),
            ("c.csv", "id,a_id\n1,1\n"),
        ],
    );
    let (before, oids) = (keys(&s.db), key_oids(&s));
    let plan = s.run(&["-l"]).ok().stdout;
    assert!(plan.contains("cycles: none"), "{plan}");
    for strategy in ["keep", "revalidate"] {
        s.db.exec("DELETE FROM c; DELETE FROM a; DELETE FROM b;");
        s.run(&["--strategy", strategy]).ok();
        assert_eq!(keys(&s.db), before, "{strategy}: still NOT ENFORCED");
        assert_eq!(key_oids(&s), oids, "{strategy}: never touched");
        assert_eq!(s.db.query_i64("SELECT count(*) FROM a WHERE b_id = 99"), 1);
    }
    // The enforced key still checks.
    s.db.exec("DELETE FROM c; DELETE FROM a; DELETE FROM b;");
    crate::util::support::write(s.path(), "c.csv", b"id,a_id\n1,5\n");
    s.run(&[])
        .fails(3)
        .stderr_has("c.csv:2: key (a_id)=(5) is not present in table public.a");
}

#[test]
fn a_failed_parallel_load_unenforces_restored_keys_to_undo_and_enforces_them_again() {
    if !on_18("a_failed_parallel_load_unenforces_restored_keys_to_undo_and_enforces_them_again") {
        return;
    }
    // p is not empty, so its index stays and both keys are unenforced; c2's
    // orphan fails its key after c1's may already be enforced again.
    let s = Scenario::new(
        "enforce_undo",
        "CREATE TABLE p (id int PRIMARY KEY);
         INSERT INTO p VALUES (0);
         CREATE TABLE c1 (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p ON DELETE CASCADE);
         CREATE TABLE c2 (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p);",
        &[
            ("p.csv", "id\n1\n2\n"),
            ("c1.csv", "id,p_id\n1,1\n2,2\n"),
            ("c2.csv", "id,p_id\n1,1\n2,42\n"),
        ],
    );
    let (before, oids) = (snapshot(&s.db), key_oids(&s));
    let plan = s
        .run(&["-j", "2", "--strategy", "revalidate", "-l"])
        .ok()
        .stdout;
    assert!(plan.contains("\"c1_p_id_fkey\" on public.c1"), "{plan}");
    assert!(plan.contains("dropped keys: none"), "{plan}");
    s.run(&["-j", "2", "--strategy", "revalidate"])
        .fails(3)
        .stderr_has("c2.csv:3: key (p_id)=(42) is not present in table public.p");
    assert_unchanged(&s.db, &before);
    assert_eq!(key_oids(&s), oids);
}

/// A `-j` run killed after it had set a key NOT ENFORCED (journaled with the
/// statement that enforces it) and committed one table.
const KILLED_RUN: &str = r#"
CREATE TABLE customer (id int PRIMARY KEY);
INSERT INTO customer VALUES (0);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL
    CONSTRAINT orders_customer_fk REFERENCES customer);
CREATE SCHEMA fkload;
CREATE TABLE fkload.journal (run text, seq int, kind text, target text, name text,
    restore text, txid bigint, state text, at timestamptz DEFAULT now(),
    PRIMARY KEY (run, seq));
BEGIN;
INSERT INTO fkload.journal (run, seq, kind, target, name, restore, state)
VALUES ('200-1', 1, 'unenforced', '"public"."orders"', 'orders_customer_fk',
        'ALTER TABLE "public"."orders" ALTER CONSTRAINT "orders_customer_fk" ENFORCED',
        'dropped');
ALTER TABLE orders ALTER CONSTRAINT orders_customer_fk NOT ENFORCED;
COMMIT;
BEGIN;
INSERT INTO orders VALUES (10, 1), (11, 2);
INSERT INTO fkload.journal (run, seq, kind, target, name, txid, state)
VALUES ('200-1', 3, 'table', '"public"."orders"', 'orders.csv', txid_current(), 'loaded');
COMMIT;
"#;

#[test]
fn repair_and_resume_enforce_a_key_a_killed_run_left_not_enforced() {
    if !on_18("repair_and_resume_enforce_a_key_a_killed_run_left_not_enforced") {
        return;
    }
    let files = [
        ("customer.csv", "id\n1\n2\n"),
        ("orders.csv", "id,customer_id\n10,1\n11,2\n"),
    ];
    // repair: the rows go, the key is enforced again.
    let s = Scenario::new("enforce_repair", "", &files);
    s.db.exec(KILLED_RUN);
    let oid = oid_of(&s, "orders_customer_fk");
    assert!(
        keys(&s.db).concat().contains("NOT ENFORCED"),
        "the killed run left the key NOT ENFORCED"
    );
    let out = output(
        command()
            .args(["-d", &s.db.url, "repair"])
            .output()
            .expect("run fkload repair"),
    )
    .ok();
    assert!(out.stdout.contains("repaired run 200-1"), "{}", out.stdout);
    assert!(!keys(&s.db).concat().contains("NOT ENFORCED"));
    assert_eq!(oid_of(&s, "orders_customer_fk"), oid);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 0);

    // --resume: customer is loaded, orders is not loaded again, the key is
    // enforced again over both.
    let s = Scenario::new("enforce_resume", "", &files);
    s.db.exec(KILLED_RUN);
    let oid = oid_of(&s, "orders_customer_fk");
    s.run(&["-j", "2", "--resume"])
        .ok()
        .stderr_has("orders.csv was not loaded again");
    assert!(!keys(&s.db).concat().contains("NOT ENFORCED"));
    assert_eq!(oid_of(&s, "orders_customer_fk"), oid);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 2);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM customer"), 3);
}
