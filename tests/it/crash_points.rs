//! Every crash point of every path, on five scenarios (see `crash.rs` for
//! what is checked after each kill). A build without the `failpoints`
//! feature skips these with a printed reason.
//!
//! By default recovery (`repair`, `--resume`) is itself killed at every
//! statement from one journal state per scenario and path (the one where it
//! has the most to do); `FKLOAD_TEST_CRASH=all` does it from every distinct
//! journal state the kills left.

use crate::util::crash::{self, Case, Count};
use crate::util::failure;
use crate::util::pg::server_version_num;
use crate::util::support::skip;

/// TPC-H's shape, small: region already holds rows (they must stay), nation
/// and part are empty (their indexes are rebuilt after the data under
/// revalidate), partsupp has a composite primary key with a comment and a
/// CLUSTER mark and a plain index with a comment, and lineitem references it
/// through a composite key.
const TPCH: Case = Case {
    name: "crash_tpch",
    schema: "
CREATE TABLE region (r_regionkey int PRIMARY KEY, r_name text NOT NULL);
INSERT INTO region VALUES (0, 'AFRICA'), (1, 'AMERICA');
CREATE TABLE nation (n_nationkey int PRIMARY KEY, n_name text NOT NULL,
                     n_regionkey int NOT NULL REFERENCES region);
CREATE TABLE part (p_partkey int PRIMARY KEY, p_name text NOT NULL);
CREATE TABLE partsupp (ps_partkey int NOT NULL REFERENCES part,
                       ps_nationkey int NOT NULL REFERENCES nation,
                       ps_availqty int NOT NULL,
                       CONSTRAINT partsupp_pkey PRIMARY KEY (ps_partkey, ps_nationkey));
COMMENT ON CONSTRAINT partsupp_pkey ON partsupp IS 'composite';
ALTER TABLE partsupp CLUSTER ON partsupp_pkey;
CREATE INDEX partsupp_qty ON partsupp (ps_availqty);
COMMENT ON INDEX partsupp_qty IS 'a plain index';
CREATE TABLE lineitem (l_orderkey int, l_linenumber int, l_partkey int NOT NULL,
                       l_nationkey int NOT NULL, PRIMARY KEY (l_orderkey, l_linenumber),
                       CONSTRAINT lineitem_partsupp_fk FOREIGN KEY (l_partkey, l_nationkey)
                           REFERENCES partsupp);
COMMENT ON CONSTRAINT lineitem_partsupp_fk ON lineitem IS 'composite key';",
    files: &[
        ("region.csv", "r_regionkey,r_name\n2,ASIA\n"),
        (
            "nation.csv",
            "n_nationkey,n_name,n_regionkey\n1,KENYA,0\n2,PERU,1\n3,CHINA,2\n",
        ),
        ("part.csv", "p_partkey,p_name\n1,bolt\n2,nut\n"),
        (
            "partsupp.csv",
            "ps_partkey,ps_nationkey,ps_availqty\n1,1,10\n1,2,20\n2,3,30\n",
        ),
        (
            "lineitem.csv",
            "l_orderkey,l_linenumber,l_partkey,l_nationkey\n1,1,1,1\n1,2,1,2\n2,1,2,3\n",
        ),
    ],
};

/// A cycle of NOT NULL keys: one must be dropped (or set NOT ENFORCED) and
/// put back.
const NOT_NULL_CYCLE: Case = Case {
    name: "crash_cycle",
    schema: "
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL REFERENCES store);
ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;
COMMENT ON CONSTRAINT store_manager_fkey ON store IS 'kept through crashes';",
    files: &[
        ("store.csv", "id,manager_id\n1,1\n2,2\n"),
        ("staff.csv", "id,store_id\n1,1\n2,2\n"),
    ],
};

/// A cycle through a partitioned table, with keys on the root and copies on
/// partitions that have names and comments of their own.
const PARTITIONED: Case = Case {
    name: "crash_partitioned",
    schema: crate::util::support::PARTITIONED_CYCLE,
    files: &[
        ("team.csv", "id,lead_id,lead_kind\n1,10,a\n2,11,b\n"),
        ("member.csv", "id,kind,team_id\n10,a,1\n11,b,2\n12,b,1\n"),
    ],
};

/// Deferrable keys: a deferrable cycle key, and an INITIALLY DEFERRED key
/// outside the cycle on the same table.
const DEFERRABLE: Case = Case {
    name: "crash_deferrable",
    schema: "
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL, shift_id int NOT NULL);
CREATE TABLE shift (id int PRIMARY KEY);
ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;
ALTER TABLE staff ADD CONSTRAINT staff_store_fkey FOREIGN KEY (store_id) REFERENCES store
    DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE staff ADD CONSTRAINT staff_shift_fkey FOREIGN KEY (shift_id) REFERENCES shift
    DEFERRABLE INITIALLY DEFERRED;",
    files: &[
        ("shift.csv", "id\n1\n2\n"),
        ("store.csv", "id,manager_id\n1,1\n2,2\n"),
        ("staff.csv", "id,store_id,shift_id\n1,1,1\n2,2,2\n"),
    ],
};

/// Keys that were NOT VALID: a cycle of two (one breaks it and comes back
/// NOT VALID, the loaded rows checked from the files; the other stays), and
/// one DEFERRABLE INITIALLY DEFERRED outside it.
const NOT_VALID: Case = Case {
    name: "crash_not_valid",
    schema: "
CREATE TABLE parent (id int PRIMARY KEY, child_id int);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL);
CREATE TABLE toy (id int PRIMARY KEY, child_id int NOT NULL);
ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent
    NOT VALID;
ALTER TABLE parent ADD CONSTRAINT parent_child_fk FOREIGN KEY (child_id) REFERENCES child
    NOT VALID;
ALTER TABLE toy ADD CONSTRAINT toy_child_fk FOREIGN KEY (child_id) REFERENCES child
    DEFERRABLE INITIALLY DEFERRED NOT VALID;",
    files: &[
        ("parent.csv", "id,child_id\n1,1\n2,2\n"),
        ("child.csv", "id,parent_id\n1,1\n2,2\n"),
        ("toy.csv", "id,child_id\n1,1\n2,2\n"),
    ],
};

const CASES: [&Case; 5] = [
    &TPCH,
    &NOT_NULL_CYCLE,
    &PARTITIONED,
    &DEFERRABLE,
    &NOT_VALID,
];

/// One line of the report the closing note quotes.
fn report(case: &Case, path: &str, count: &Count) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "crash points on PostgreSQL {}: {} {path}: load {}, journal states {}, repair {}, resume {}",
        server_version_num(),
        case.name,
        count.load,
        count.journal_states,
        count.repair,
        count.resume
    );
}

fn every_state() -> bool {
    std::env::var("FKLOAD_TEST_CRASH").is_ok_and(|v| v == "all")
}

/// `FKLOAD_TEST_CRASH=revalidate` enumerates only the revalidate paths: on
/// PostgreSQL 18 those are the ones that differ from 15's (valid keys set NOT
/// ENFORCED instead of dropped); keep's differ only for cycle keys, which
/// take the same NOT ENFORCED statements.
fn enumerates(strategy: &str) -> bool {
    strategy == "revalidate" || !revalidate_only()
}

fn revalidate_only() -> bool {
    std::env::var("FKLOAD_TEST_CRASH").is_ok_and(|v| v == "revalidate")
}

/// The cases to enumerate: with `FKLOAD_TEST_CRASH=revalidate`, not the one
/// whose keys are all NOT VALID, which PostgreSQL 18 drops as 15 does (only a
/// valid key is set NOT ENFORCED).
fn cases() -> impl Iterator<Item = &'static Case> {
    CASES
        .into_iter()
        .filter(|c| !(revalidate_only() && c.name == NOT_VALID.name))
}

#[test]
fn a_one_transaction_load_killed_at_any_statement_leaves_everything_as_it_was() {
    let test = "a_one_transaction_load_killed_at_any_statement_leaves_everything_as_it_was";
    if !crash::enumerate(test) {
        return;
    }
    for case in cases() {
        for strategy in ["keep", "revalidate"] {
            if !enumerates(strategy) {
                continue;
            }
            let load = crash::one_transaction(case, &["--strategy", strategy]);
            let count = Count {
                load,
                ..Count::default()
            };
            report(case, &format!("one transaction, {strategy}"), &count);
        }
    }
}

/// The parallel enumerations copy databases by the hundred: only on the
/// test harness's own server, not on one `FKLOAD_TEST_DATABASE_URL` names.
fn own_server(test: &str) -> bool {
    if std::env::var_os("FKLOAD_TEST_DATABASE_URL").is_some() {
        skip(
            test,
            "FKLOAD_TEST_DATABASE_URL is set: these tests copy databases by the hundred",
        );
        return false;
    }
    true
}

fn parallel(test: &str, strategy: &str) {
    if !crash::enumerate(test) {
        return;
    }
    if !enumerates(strategy) {
        skip(test, "FKLOAD_TEST_CRASH=revalidate");
        return;
    }
    if !own_server(test) {
        return;
    }
    for case in cases() {
        let args = ["--strategy", strategy, "-j", "2"];
        let count = crash::parallel(case, &args, every_state());
        report(case, &format!("-j 2, {strategy}"), &count);
    }
}

#[test]
fn a_parallel_revalidate_load_killed_at_any_statement_is_repaired_or_resumed_exactly() {
    parallel(
        "a_parallel_revalidate_load_killed_at_any_statement_is_repaired_or_resumed_exactly",
        "revalidate",
    );
}

#[test]
fn a_parallel_keep_load_killed_at_any_statement_is_repaired_or_resumed_exactly() {
    parallel(
        "a_parallel_keep_load_killed_at_any_statement_is_repaired_or_resumed_exactly",
        "keep",
    );
}

/// A row that breaks a key of the scenario: (its file, the row).
fn orphan(case: &Case) -> (&'static str, &'static str) {
    match case.name {
        "crash_tpch" => ("lineitem.csv", "9,1,9,9"),
        "crash_cycle" => ("staff.csv", "9,9"),
        "crash_partitioned" => ("member.csv", "19,a,9"),
        "crash_deferrable" => ("staff.csv", "9,1,9"),
        _ => ("toy.csv", "9,9"),
    }
}

/// Whether the failure enumeration runs here: as the crash enumeration, but
/// not under `FKLOAD_TEST_CRASH=revalidate` (CI's PostgreSQL 18 leg, where
/// only the statements differ from 15's, not how fkload handles their
/// failure; the crash points cover those statements there).
fn failures(test: &str) -> bool {
    if revalidate_only() {
        skip(
            test,
            "FKLOAD_TEST_CRASH=revalidate: failure points run on the 15 leg",
        );
        return false;
    }
    crash::enumerate(test)
}

/// One line of the failure report the closing note quotes.
fn report_failures(case: &Case, path: &str, what: &str) {
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr().lock(),
        "failure points on PostgreSQL {}: {} {path}: {what}",
        server_version_num(),
        case.name,
    );
}

#[test]
fn a_one_transaction_load_failing_at_any_statement_reports_it_and_changes_nothing() {
    let test = "a_one_transaction_load_failing_at_any_statement_reports_it_and_changes_nothing";
    if !failures(test) {
        return;
    }
    for case in cases() {
        for strategy in ["keep", "revalidate"] {
            if !enumerates(strategy) {
                continue;
            }
            let tally = failure::one_transaction(case, &["--strategy", strategy]);
            report_failures(
                case,
                &format!("one transaction, {strategy}"),
                &tally.to_string(),
            );
        }
    }
}

fn parallel_failures(test: &str, strategy: &str) {
    if !failures(test) {
        return;
    }
    if !own_server(test) {
        return;
    }
    for case in cases() {
        let args = ["--strategy", strategy, "-j", "2"];
        // Recovery from the journals failures leave: killed at every
        // statement on TPC-H's shape, and failing at every statement on it and
        // on the partitioned cycle (whose keys come back through DO blocks);
        // on every scenario with FKLOAD_TEST_CRASH=all. Repair and resume run
        // the same code on every scenario, with more or fewer statements; the
        // crash points kill them on every scenario.
        let all = every_state() || case.name == TPCH.name;
        let tally = failure::parallel(case, &args, every_state(), all);
        report_failures(case, &format!("-j 2, {strategy}"), &tally.to_string());
        if !(all || case.name == PARTITIONED.name) {
            continue;
        }
        let (repair, resume) = failure::recovery(case, &args);
        report_failures(
            case,
            &format!("-j 2, {strategy}, interrupted"),
            &format!("repair {repair} failure points, --resume {resume}"),
        );
    }
}

#[test]
fn a_parallel_revalidate_load_failing_at_any_statement_is_undone_or_left_to_repair() {
    parallel_failures(
        "a_parallel_revalidate_load_failing_at_any_statement_is_undone_or_left_to_repair",
        "revalidate",
    );
}

#[test]
fn a_parallel_keep_load_failing_at_any_statement_is_undone_or_left_to_repair() {
    parallel_failures(
        "a_parallel_keep_load_failing_at_any_statement_is_undone_or_left_to_repair",
        "keep",
    );
}

#[test]
fn check_failing_at_any_statement_never_says_the_data_would_load() {
    let test = "check_failing_at_any_statement_never_says_the_data_would_load";
    if !failures(test) {
        return;
    }
    for case in cases() {
        let points = failure::check(case, orphan(case));
        report_failures(case, "check", &format!("{points} failure points"));
    }
}
