//! Each key comes back as itself (its definition, its copies on partitions with
//! their names), and an error names the right key: regressions from the first
//! review, each test named after what broke.

use crate::util::support::{Scenario, assert_unchanged, keys, snapshot};

#[test]
fn search_path_changed_by_a_trigger_does_not_retarget_a_restored_key() {
    let s = Scenario::new(
        "search_path_trigger",
        "CREATE SCHEMA other;
         CREATE TABLE other.b (id int PRIMARY KEY, a_id int);
         INSERT INTO other.b VALUES (1, NULL);
         CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL);
         CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a,
                         a2 int NOT NULL REFERENCES a);
         ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES b;
         CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS
           $$BEGIN PERFORM set_config('search_path', 'other,public', false); RETURN NEW; END$$;
         CREATE TRIGGER t BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION f();",
        &[
            ("a.csv", "id,b_id\n1,1\n"),
            ("b.csv", "id,a_id,a2\n1,1,1\n"),
        ],
    );
    let before = keys(&s.db);
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
}

const ATTACHED: &str = "
CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL, x int NOT NULL);
CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL,
                CONSTRAINT b_a_fk FOREIGN KEY (a_id) REFERENCES a) PARTITION BY RANGE (id);
CREATE TABLE b1 (id int PRIMARY KEY, a_id int NOT NULL,
                 CONSTRAINT b1_own_fk FOREIGN KEY (a_id) REFERENCES a);
COMMENT ON CONSTRAINT b1_own_fk ON b1 IS 'partition comment';
ALTER TABLE b ATTACH PARTITION b1 FOR VALUES FROM (0) TO (100);
ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES b,
              ADD CONSTRAINT a_b_fk2 FOREIGN KEY (x) REFERENCES b;";

#[test]
fn partition_copies_keep_their_names_and_comments_after_a_re_add() {
    // Breaking b_a_fk (one key) beats breaking a_b_fk and a_b_fk2 (two).
    let s = Scenario::new(
        "clone_names",
        ATTACHED,
        &[("a.csv", "id,b_id,x\n1,1,1\n"), ("b.csv", "id,a_id\n1,1\n")],
    );
    let before = keys(&s.db);
    assert!(
        before.iter().any(|k| k.starts_with("b1_own_fk")),
        "{before:?}"
    );
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
    s.run(&["--strategy", "revalidate"]).fails(3); // duplicates now; keys still intact
    assert_eq!(keys(&s.db), before);
}

#[test]
fn orphan_reported_under_a_partition_copys_own_name() {
    let s = Scenario::new(
        "clone_orphan",
        ATTACHED,
        &[
            ("a.csv", "id,b_id,x\n1,1,1\n"),
            ("b.csv", "id,a_id\n1,1\n2,5\n"),
        ],
    );
    let before = snapshot(&s.db);
    s.run(&["--strategy", "keep"])
        .fails(3)
        .stderr_has("b.csv:3: key (a_id)=(5) is not present in table public.a");
    assert_unchanged(&s.db, &before);
}

#[test]
fn key_referencing_a_partitioned_table_comes_back_valid_on_every_copy() {
    let s = Scenario::new(
        "ref_partitioned",
        "CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL);
         CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a,
                         a2 int NOT NULL REFERENCES a) PARTITION BY RANGE (id);
         CREATE TABLE b1 PARTITION OF b FOR VALUES FROM (0) TO (100);
         ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES b ON DELETE CASCADE;",
        &[
            ("a.csv", "id,b_id\n1,1\n"),
            ("b.csv", "id,a_id,a2\n1,1,1\n"),
        ],
    );
    let before = keys(&s.db);
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
}

#[test]
fn deferrable_key_whose_name_another_constraint_shares_is_dropped_not_deferred() {
    let s = Scenario::new(
        "shared_name",
        "CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL);
         CREATE TABLE b (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a);
         ALTER TABLE a ADD CONSTRAINT fk FOREIGN KEY (b_id) REFERENCES b DEFERRABLE;
         CREATE TABLE x (id int PRIMARY KEY);
         CREATE TABLE y (x_id int, CONSTRAINT fk FOREIGN KEY (x_id) REFERENCES x);",
        &[("a.csv", "id,b_id\n1,1\n"), ("b.csv", "id,a_id\n1,1\n")],
    );
    let before = keys(&s.db);
    let plan = s.run(&["-l"]).ok().stdout;
    assert!(plan.contains("deferred keys: none"), "{plan}");
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
}

#[test]
fn same_named_deferred_keys_report_the_orphans_of_the_right_one() {
    let s = Scenario::new(
        "same_name_orphans",
        "CREATE TABLE p1 (id int PRIMARY KEY); CREATE TABLE p2 (id int PRIMARY KEY);
         CREATE TABLE c1 (p int, CONSTRAINT fk FOREIGN KEY (p) REFERENCES p1 DEFERRABLE INITIALLY DEFERRED);
         CREATE TABLE c2 (p int, CONSTRAINT fk FOREIGN KEY (p) REFERENCES p2 DEFERRABLE INITIALLY DEFERRED);",
        &[
            ("p1.csv", "id\n1\n"),
            ("p2.csv", "id\n1\n"),
            ("c1.csv", "p\n1\n"),
            ("c2.csv", "p\n1\n7\n8\n"),
        ],
    );
    let before = snapshot(&s.db);
    let out = s.run(&[]).fails(3);
    assert!(
        out.stderr
            .contains("c2.csv:3: key (p)=(7) is not present in table public.p2"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("c2.csv:4: key (p)=(8)"),
        "{}",
        out.stderr
    );
    assert_unchanged(&s.db, &before);
}

#[test]
fn key_on_one_partition_reports_only_rows_routed_there() {
    let s = Scenario::new(
        "partition_only_key",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE r (id int, pid int) PARTITION BY RANGE (id);
         CREATE TABLE r1 PARTITION OF r FOR VALUES FROM (0) TO (100);
         CREATE TABLE r2 PARTITION OF r FOR VALUES FROM (100) TO (200);
         ALTER TABLE r1 ADD CONSTRAINT r1_pid_fk FOREIGN KEY (pid) REFERENCES p;",
        &[
            ("p.csv", "id\n1\n"),
            ("r.csv", "id,pid\n1,1\n150,77\n50,99\n"),
        ],
    );
    let out = s.run(&[]).fails(3);
    assert!(
        out.stderr.contains("r.csv:4: key (pid)=(99)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("r.csv:3:"), "{}", out.stderr);
}

#[test]
fn orphan_search_compares_with_the_keys_own_equality() {
    let s = Scenario::new(
        "char_equality",
        "CREATE TABLE p (c char(5) PRIMARY KEY); CREATE TABLE ch (id int, c text REFERENCES p);",
        &[("p.csv", "c\nab\n"), ("ch.csv", "id,c\n1,ab \n2,zz\n")],
    );
    let out = s.run(&[]).fails(3);
    assert!(
        out.stderr.contains("ch.csv:3: key (c)=(zz)"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("ch.csv:2:"), "{}", out.stderr);
}
