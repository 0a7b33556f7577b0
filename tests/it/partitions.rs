//! Partitioned tables: one file for the root, keys declared on the root or on a
//! partition, as parent and as child, in cycles.

use crate::util::support::{Scenario, assert_unchanged, keys, set_aside, snapshot};

const SCHEMA: &str = "
CREATE TABLE customer (id int PRIMARY KEY, region text NOT NULL)
    PARTITION BY RANGE (id);
CREATE TABLE customer_low PARTITION OF customer FOR VALUES FROM (0) TO (2);
CREATE TABLE customer_high PARTITION OF customer FOR VALUES FROM (2) TO (100);
CREATE TABLE payment (id int, customer_id int NOT NULL REFERENCES customer,
                      paid date NOT NULL, PRIMARY KEY (id, paid))
    PARTITION BY RANGE (paid);
CREATE TABLE payment_2025 PARTITION OF payment FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE payment_2026 PARTITION OF payment FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE audit (id int PRIMARY KEY);
-- A key declared on one partition only: it counts for the root's file.
ALTER TABLE payment_2026 ADD CONSTRAINT payment_2026_audit_fkey
    FOREIGN KEY (id) REFERENCES audit;";

#[test]
fn partitioned_parent_and_child_load_through_their_roots() {
    let s = Scenario::new(
        "partitions",
        SCHEMA,
        &[
            (
                "payment.csv",
                "id,customer_id,paid\n1,1,2025-03-01\n2,2,2026-03-01\n",
            ),
            ("customer.csv", "id,region\n1,eu\n2,us\n"),
            ("audit.csv", "id\n2\n"),
        ],
    );
    let plan = s.run(&["-l"]).ok().stdout;
    let pos = |f: &str| {
        plan.find(f)
            .unwrap_or_else(|| panic!("{f} not in:\n{plan}"))
    };
    assert!(pos("customer.csv") < pos("payment.csv"), "{plan}");
    assert!(
        pos("audit.csv") < pos("payment.csv"),
        "key on a partition orders the root: {plan}"
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM ONLY payment_2026"), 1);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM customer_high"), 1);
}

#[test]
fn orphan_in_a_partitioned_child_is_reported_and_nothing_loads() {
    let s = Scenario::new(
        "partition_orphan",
        SCHEMA,
        &[
            (
                "payment.csv",
                "id,customer_id,paid\n1,1,2025-03-01\n2,7,2025-04-01\n",
            ),
            ("customer.csv", "id,region\n1,eu\n"),
            ("audit.csv", "id\n"),
        ],
    );
    let before = snapshot(&s.db);
    s.run(&[])
        .fails(3)
        .stderr_has("payment.csv:3: key (customer_id)=(7) is not present in table public.customer");
    assert_unchanged(&s.db, &before);
}

#[test]
fn cycle_through_a_partitioned_table_restores_the_key_on_the_root() {
    let s = Scenario::new(
        "partition_cycle",
        "CREATE TABLE team (id int PRIMARY KEY, lead_id int NOT NULL, lead_kind text NOT NULL);
         CREATE TABLE member (id int, kind text NOT NULL, team_id int NOT NULL REFERENCES team,
                              PRIMARY KEY (id, kind)) PARTITION BY LIST (kind);
         CREATE TABLE member_a PARTITION OF member FOR VALUES IN ('a');
         CREATE TABLE member_b PARTITION OF member FOR VALUES IN ('b');
         ALTER TABLE team ADD CONSTRAINT team_lead_fkey
             FOREIGN KEY (lead_id, lead_kind) REFERENCES member;",
        &[
            ("team.csv", "id,lead_id,lead_kind\n1,10,a\n"),
            ("member.csv", "id,kind,team_id\n10,a,1\n11,b,1\n"),
        ],
    );
    let before = keys(&s.db);
    s.run(&[]).ok().stdout_has(set_aside().1);
    assert_eq!(
        keys(&s.db),
        before,
        "root key and its partition copies come back"
    );
}

#[test]
fn key_declared_on_a_partitioned_table_is_dropped_and_validated_on_re_add() {
    // Two keys from team to member and one back: the one back, declared on the
    // partitioned table, is the cheapest to break. Before PostgreSQL 18 it cannot
    // be added NOT VALID, so it comes back with a validating ADD; on 18 it is
    // set NOT ENFORCED and enforced again.
    let s = Scenario::new(
        "partition_root_key_dropped",
        "CREATE TABLE team (id int PRIMARY KEY, lead_id int NOT NULL, deputy_id int NOT NULL);
         CREATE TABLE member (id int PRIMARY KEY, team_id int NOT NULL REFERENCES team)
             PARTITION BY RANGE (id);
         CREATE TABLE member_1 PARTITION OF member FOR VALUES FROM (0) TO (100);
         CREATE TABLE member_2 PARTITION OF member FOR VALUES FROM (100) TO (200);
         ALTER TABLE team ADD FOREIGN KEY (lead_id) REFERENCES member;
         ALTER TABLE team ADD FOREIGN KEY (deputy_id) REFERENCES member;
         COMMENT ON CONSTRAINT member_team_id_fkey ON member IS 'members belong to a team';",
        &[
            ("team.csv", "id,lead_id,deputy_id\n1,10,110\n"),
            ("member.csv", "id,team_id\n10,1\n110,1\n"),
        ],
    );
    let before = keys(&s.db);
    let plan = s.run(&["-l"]).ok().stdout;
    assert!(
        plan.contains(&format!(
            "\"member_team_id_fkey\" on public.member -> public.team: {}",
            set_aside().0
        )),
        "{plan}"
    );
    if crate::util::pg::server_version_num() < 180000 {
        assert!(
            plan.contains("validating pass (partitioned table)"),
            "{plan}"
        );
    }
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);

    // And an orphan found by that validating pass is reported with its line.
    let s = Scenario::new(
        "partition_root_key_orphan",
        "CREATE TABLE team (id int PRIMARY KEY, lead_id int NOT NULL, deputy_id int NOT NULL);
         CREATE TABLE member (id int PRIMARY KEY, team_id int NOT NULL REFERENCES team)
             PARTITION BY RANGE (id);
         CREATE TABLE member_1 PARTITION OF member FOR VALUES FROM (0) TO (100);
         CREATE TABLE member_2 PARTITION OF member FOR VALUES FROM (100) TO (200);
         ALTER TABLE team ADD FOREIGN KEY (lead_id) REFERENCES member;
         ALTER TABLE team ADD FOREIGN KEY (deputy_id) REFERENCES member;",
        &[
            ("team.csv", "id,lead_id,deputy_id\n1,10,110\n"),
            ("member.csv", "id,team_id\n10,1\n110,1\n120,9\n"),
        ],
    );
    let before = snapshot(&s.db);
    s.run(&[])
        .fails(3)
        .stderr_has("member.csv:4: key (team_id)=(9) is not present in table public.team");
    assert_unchanged(&s.db, &before);
}
