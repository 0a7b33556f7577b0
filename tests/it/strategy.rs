//! `--strategy revalidate`: keys dropped and re-added with one validating pass,
//! indexes of empty tables built after the data; everything comes back as it
//! was, and errors still name file and line.

use crate::util::support::{Scenario, assert_unchanged, indexes, keys, snapshot};

const SCHEMA: &str = "
CREATE TABLE customer (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text);
COMMENT ON CONSTRAINT customer_email_key ON customer IS 'one account per address';
CREATE INDEX customer_name_idx ON customer (lower(name)) WITH (fillfactor = 70);
COMMENT ON INDEX customer_name_idx IS 'for search';
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer
                     ON DELETE CASCADE DEFERRABLE, placed date,
                     EXCLUDE USING btree (placed WITH =) WHERE (placed < '2000-01-01'));
CREATE INDEX orders_placed_idx ON orders (placed) WHERE placed IS NOT NULL;
ALTER TABLE orders CLUSTER ON orders_pkey;";

fn scenario(label: &str, orders: &str) -> Scenario {
    Scenario::new(
        label,
        SCHEMA,
        &[
            ("customer.csv", "id,email,name\n1,a@x,Ada\n2,b@x,Bob\n"),
            ("orders.csv", orders),
        ],
    )
}

#[test]
fn revalidate_restores_every_key_and_index_exactly() {
    let s = scenario(
        "revalidate_ok",
        "id,customer_id,placed\n10,1,2026-01-01\n11,2,\n",
    );
    let (k, i) = (keys(&s.db), indexes(&s.db));
    let plan = s.run(&["-l", "--strategy", "revalidate"]).ok().stdout;
    assert!(plan.contains("strategy: revalidate"), "{plan}");
    assert!(
        plan.contains("constraint \"customer_email_key\" UNIQUE (email)"),
        "{plan}"
    );
    assert!(plan.contains("CREATE INDEX orders_placed_idx"), "{plan}");
    s.run(&["--strategy", "revalidate"]).ok();
    assert_eq!(keys(&s.db), k);
    assert_eq!(indexes(&s.db), i);
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 2);
}

#[test]
fn small_loads_keep_keys_by_default() {
    let s = scenario("auto_keep", "id,customer_id,placed\n10,1,2026-01-01\n");
    s.run(&["-l"]).ok().stdout_has("strategy: keep");
}

#[test]
fn revalidate_lists_every_orphan_found_by_validation() {
    let s = scenario(
        "revalidate_orphans",
        "id,customer_id,placed\n10,1,\n11,7,\n12,8,\n",
    );
    let before = snapshot(&s.db);
    let i = indexes(&s.db);
    let out = s.run(&["--strategy", "revalidate"]).fails(3);
    for want in [
        "orders.csv:3: key (customer_id)=(7) is not present in table public.customer",
        "orders.csv:4: key (customer_id)=(8) is not present in table public.customer",
    ] {
        assert!(
            out.stderr.contains(want),
            "{want:?} missing:\n{}",
            out.stderr
        );
    }
    assert_unchanged(&s.db, &before);
    assert_eq!(indexes(&s.db), i);
}

#[test]
fn revalidate_traces_a_duplicate_found_by_the_index_build_to_its_lines() {
    let s = scenario(
        "revalidate_dups",
        "id,customer_id,placed\n10,1,\n11,2,\n10,2,\n12,1,\n11,1,\n",
    );
    let before = snapshot(&s.db);
    let out = s.run(&["--strategy", "revalidate"]).fails(3);
    for want in [
        "could not create unique index \"orders_pkey\"",
        "orders.csv:2: key (id)=(10) is duplicated",
        "orders.csv:4: key (id)=(10) is duplicated",
        "orders.csv:3: key (id)=(11) is duplicated",
        "orders.csv:6: key (id)=(11) is duplicated",
    ] {
        assert!(
            out.stderr.contains(want),
            "{want:?} missing:\n{}",
            out.stderr
        );
    }
    assert_unchanged(&s.db, &before);
}

#[test]
fn tables_with_rows_keep_their_indexes() {
    let s = scenario("revalidate_nonempty", "id,customer_id,placed\n10,1,\n");
    s.db.exec(
        "ALTER TABLE orders ALTER customer_id DROP NOT NULL;
         INSERT INTO orders VALUES (1, NULL, NULL);",
    );
    let plan = s.run(&["-l", "--strategy", "revalidate"]).ok().stdout;
    assert!(!plan.contains("orders_pkey"), "{plan}");
    assert!(plan.contains("customer_pkey"), "{plan}");
    s.run(&["--strategy", "revalidate"]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 2);
}

#[test]
fn truncate_replaces_the_rows_under_either_strategy() {
    let (db, dir) = Scenario::fixture("shop");
    let (k, i) = (keys(&db), indexes(&db));
    db.exec("INSERT INTO category VALUES (99, NULL, 'old')");
    for strategy in ["keep", "revalidate"] {
        let out =
            crate::util::support::fkload(&db, &dir, &["--truncate", "--strategy", strategy]).ok();
        assert!(out.stdout.contains("loaded 17 rows"), "{}", out.stdout);
        assert_eq!(
            db.query_i64("SELECT count(*) FROM category"),
            4,
            "{strategy}"
        );
        assert_eq!(
            db.query_i64("SELECT count(*) FROM order_line"),
            4,
            "{strategy}"
        );
        assert_eq!(keys(&db), k);
        assert_eq!(indexes(&db), i);
    }
    let plan =
        crate::util::support::fkload(&db, &dir, &["-l", "--truncate", "--strategy", "revalidate"])
            .ok()
            .stdout;
    assert!(
        plan.contains("truncate: each table just before its data, which COPY writes frozen"),
        "{plan}"
    );
}

#[test]
fn failed_truncating_load_gives_the_old_rows_back() {
    let (db, dir) = Scenario::fixture("shop");
    crate::util::support::fkload(&db, &dir, &[]).ok();
    let before = snapshot(&db);
    let bad = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), bad.path().join(f.file_name())).unwrap();
    }
    std::fs::write(
        bad.path().join("order_line.csv"),
        "order_id,line_no,product_id,quantity\n100,1,77,1\n",
    )
    .unwrap();
    for strategy in ["keep", "revalidate"] {
        crate::util::support::fkload(&db, bad.path(), &["--truncate", "--strategy", strategy])
            .fails(3)
            .stderr_has("order_line.csv:2: key (product_id)=(77)");
        assert_unchanged(&db, &before);
    }
}

#[test]
fn truncate_refuses_parallel_loads() {
    let (db, dir) = Scenario::fixture("shop");
    crate::util::support::fkload(&db, &dir, &["--truncate", "-j", "2"])
        .fails(1)
        .stderr_has("--truncate cannot go with -j");
}
