//! `fkload check` and the report of a load that fails on keys: every problem
//! in one run (each rejected file, every violated key with its orphans
//! counted and the first few at their lines, every unique index's
//! duplicates), the database and its sequences untouched afterwards.

use std::path::Path;

use fkload::problems::{KeyViolation, Problems};

use crate::util::pg::TestDb;
use crate::util::support::{
    PARTIAL_SHOP, Scenario, indexes, partial_export, scenario_of, snapshot,
};

/// The check, through the library, on the test database.
fn check(db: &TestDb, dir: &Path) -> Problems {
    let mut client = db.client();
    fkload::Loader::builder()
        .build()
        .check_in(&mut client, dir, &mut |_| {})
        .expect("the check runs")
}

fn key<'a>(p: &'a Problems, name: &str) -> &'a KeyViolation {
    p.keys
        .iter()
        .find(|k| k.constraint == name)
        .unwrap_or_else(|| panic!("no violation of {name} in:\n{p}"))
}

/// Everything a check must leave as it was: rows, keys, indexes, and the
/// state of every sequence.
fn state(db: &TestDb) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    let (counts, keys) = snapshot(db);
    let sequences = db
        .query_strings(
            "SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences ORDER BY 1",
        )
        .into_iter()
        .flat_map(|seq| {
            db.query_strings(&format!(
                "SELECT format('{seq} %s %s', last_value, is_called) FROM {seq}"
            ))
        })
        .collect();
    (counts, keys, indexes(db), sequences)
}

#[test]
fn check_reports_every_violated_key_with_counts_and_lines() {
    let s = scenario_of("check_partial", PARTIAL_SHOP, &partial_export());
    let before = state(&s.db);
    let out = s.run(&["check", "--max-examples", "3"]).fails(1);
    for needle in [
        "violates foreign key constraint \"orders_customer_id_fkey\"",
        "10 rows of public.orders have no parent row in public.customers; 10 distinct keys are missing.",
        "orders.csv:92: key (customer_id)=(91) is not present in table public.customers",
        "... and 7 more rows",
        "101 rows of public.order_items have no parent row in public.products; 1 key is missing.",
        "missing from public.products: (product_id)=(1)",
        "2 rows of public.order_items have no parent row in public.orders; 1 key is missing.",
        "order_items.csv:202: key (order_id)=(101)",
        "check: 3 problems: foreign keys violated: 3",
    ] {
        assert!(
            out.stderr.contains(needle),
            "lacks {needle:?}:\n{}",
            out.stderr
        );
    }
    // The first three examples per key, no more.
    assert_eq!(
        out.stderr
            .matches("is not present in table public.products")
            .count(),
        3,
        "{}",
        out.stderr
    );
    assert_eq!(state(&s.db), before, "a check leaves everything as it was");

    let p = check(&s.db, s.path());
    assert_eq!(p.keys.len(), 3, "{p}");
    let o = key(&p, "orders_customer_id_fkey");
    assert_eq!((o.rows, o.missing_keys, o.examples.len()), (10, 10, 10));
    assert_eq!(o.examples[9].line, 101);
    let i = key(&p, "order_items_product_id_fkey");
    assert_eq!((i.rows, i.missing_keys), (101, 1));
    assert_eq!(i.examples.len(), 20, "--max-examples defaults to 20");
    assert_eq!(i.missing_examples, vec!["(product_id)=(1)".to_string()]);
    let i = key(&p, "order_items_order_id_fkey");
    assert_eq!((i.rows, i.missing_keys), (2, 1));
    assert_eq!(state(&s.db), before);
}

#[test]
fn a_clean_directory_checks_clean_and_parents_in_the_database_count() {
    let s = scenario_of("check_clean", PARTIAL_SHOP, &partial_export());
    // The parents the files leave out are in the database already.
    s.db.exec(
        "INSERT INTO customers SELECT g, 'c' || g FROM generate_series(91, 100) g;
         INSERT INTO products VALUES (1, 'p1');",
    );
    let files = partial_export();
    let items: String = (1..=100)
        .flat_map(|o| (1..=2).map(move |p| format!("{o},{p},1\n")))
        .collect();
    std::fs::write(
        s.path().join("order_items.csv"),
        format!("order_id,product_id,qty\n{items}"),
    )
    .expect("write");
    drop(files);
    let before = state(&s.db);
    s.run(&["check"]).ok().stdout_has("the data would load");
    assert_eq!(state(&s.db), before);
    // And it does.
    s.run(&[]).ok();
}

#[test]
fn a_failed_load_reports_every_violated_key_whatever_the_strategy() {
    let s = scenario_of("check_load_all", PARTIAL_SHOP, &partial_export());
    let before = state(&s.db);
    for args in [
        &["--strategy", "keep"][..],
        &["--strategy", "revalidate"],
        &["-j", "2"],
        &["--strategy", "keep", "--truncate"],
    ] {
        let out = s.run(args).fails(3);
        for constraint in [
            "orders_customer_id_fkey",
            "order_items_product_id_fkey",
            "order_items_order_id_fkey",
        ] {
            assert!(
                out.stderr.contains(&format!("constraint \"{constraint}\"")),
                "{args:?} lacks {constraint}:\n{}",
                out.stderr
            );
        }
        assert!(
            out.stderr.contains("the load was rolled back: 3 problems"),
            "{args:?}:\n{}",
            out.stderr
        );
        assert_eq!(state(&s.db), before, "{args:?}");
    }
}

#[test]
fn check_sets_back_the_sequences_column_defaults_advanced() {
    let s = Scenario::new(
        "check_sequences",
        "CREATE TABLE a (id serial PRIMARY KEY, n int);
         CREATE TABLE b (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, a_id int REFERENCES a, n int);
         CREATE SEQUENCE shared START 100;
         CREATE TABLE c (id int PRIMARY KEY DEFAULT nextval('shared'), n int);
         SELECT nextval('a_id_seq');",
        &[
            ("a.csv", "n\n1\n2\n3\n"),
            ("b.csv", "a_id,n\n1,1\n9,2\n"),
            ("c.csv", "n\n1\n2\n"),
        ],
    );
    let before = state(&s.db);
    let seqs = || {
        s.db.query_strings(
            "SELECT format('%s %s %s', sequencename, last_value, start_value) FROM pg_sequences ORDER BY 1",
        )
    };
    let seqs_before = seqs();
    s.run(&["check"])
        .fails(1)
        .stderr_has("b_a_id_fkey")
        .stderr_has("b.csv:3: key (a_id)=(9)");
    assert_eq!(seqs(), seqs_before, "no sequence moved");
    assert_eq!(state(&s.db), before);
    // The next value is the one it would have been.
    assert_eq!(s.db.query_i64("SELECT nextval('a_id_seq')"), 2);
    assert_eq!(s.db.query_i64("SELECT nextval('b_id_seq')"), 1);
    assert_eq!(s.db.query_i64("SELECT nextval('shared')"), 100);
}

#[test]
fn composite_keys_follow_their_match_type() {
    let s = Scenario::new(
        "check_match",
        "CREATE TABLE p (a int, b int, PRIMARY KEY (a, b));
         CREATE TABLE simple_c (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES p);
         CREATE TABLE full_c (id int PRIMARY KEY, a int, b int,
                              FOREIGN KEY (a, b) REFERENCES p MATCH FULL);",
        &[
            ("p.csv", "a,b\n1,1\n"),
            // A NULL part: not checked under MATCH SIMPLE.
            ("simple_c.csv", "id,a,b\n1,1,1\n2,9,\n3,9,9\n"),
            // One NULL part is an orphan under MATCH FULL; all NULL is not.
            ("full_c.csv", "id,a,b\n1,1,1\n2,9,\n3,,\n4,9,9\n"),
        ],
    );
    let p = check(&s.db, s.path());
    let simple = key(&p, "simple_c_a_b_fkey");
    assert_eq!(simple.rows, 1, "{p}");
    assert_eq!(simple.examples[0].line, 4);
    let full = key(&p, "full_c_a_b_fkey");
    assert_eq!(full.rows, 2, "{p}");
    let lines: Vec<u64> = full.examples.iter().map(|o| o.line).collect();
    assert_eq!(lines, vec![3, 5]);
    assert_eq!(full.examples[0].key, "(a, b)=(9, null)");
    // The server agrees row by row: each reported row alone fails to load,
    // each other row alone loads.
    for (file, header, rows, bad) in [
        (
            "simple_c.csv",
            "id,a,b",
            &["1,1,1", "2,9,", "3,9,9"][..],
            &[3][..],
        ),
        (
            "full_c.csv",
            "id,a,b",
            &["1,1,1", "2,9,", "3,,", "4,9,9"],
            &[2, 4],
        ),
    ] {
        for (i, row) in rows.iter().enumerate() {
            let one = Scenario::new(
                "check_match_one",
                "CREATE TABLE p (a int, b int, PRIMARY KEY (a, b));
                 CREATE TABLE simple_c (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES p);
                 CREATE TABLE full_c (id int PRIMARY KEY, a int, b int,
                                      FOREIGN KEY (a, b) REFERENCES p MATCH FULL);",
                &[("p.csv", "a,b\n1,1\n"), (file, &format!("{header}\n{row}\n"))],
            );
            let code = one.run(&[]).code;
            let orphan = bad.contains(&(i + 1));
            assert_eq!(code, if orphan { 3 } else { 0 }, "{file} row {row}");
        }
    }
}

#[test]
fn cycles_and_self_references_have_their_orphans_found() {
    let s = Scenario::new(
        "check_cycle",
        "CREATE TABLE emp (id int PRIMARY KEY, boss_id int REFERENCES emp);
         CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
         CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL REFERENCES store);
         ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;",
        &[
            ("emp.csv", "id,boss_id\n1,\n2,3\n3,1\n4,9\n"),
            ("store.csv", "id,manager_id\n1,10\n2,99\n"),
            ("staff.csv", "id,store_id\n10,1\n11,7\n"),
        ],
    );
    let before = state(&s.db);
    let p = check(&s.db, s.path());
    assert_eq!(p.keys.len(), 3, "{p}");
    // A later row of the same file is a parent (2's boss is 3).
    let emp = key(&p, "emp_boss_id_fkey");
    assert_eq!((emp.rows, emp.examples[0].line), (1, 5), "{p}");
    assert_eq!(key(&p, "store_manager_fkey").examples[0].line, 3);
    assert_eq!(key(&p, "staff_store_id_fkey").examples[0].line, 3);
    assert_eq!(state(&s.db), before);
}

#[test]
fn a_rejected_file_is_reported_and_the_rest_still_checked() {
    let mut files = partial_export();
    files[0].1 = "id,name\n1,c1\n2,c2\nx,c3\n".into();
    let s = scenario_of("check_rejected", PARTIAL_SHOP, &files);
    let before = state(&s.db);
    let out = s.run(&["check"]).fails(1);
    for needle in [
        "customers.csv:4: ERROR:  invalid input syntax for type integer: \"x\"",
        // The key to the rejected file cannot be checked...
        "not checked: key \"orders_customer_id_fkey\" of public.orders:",
        "customers.csv did not load",
        // ...the others still are.
        "101 rows of public.order_items have no parent row in public.products",
    ] {
        assert!(
            out.stderr.contains(needle),
            "lacks {needle:?}:\n{}",
            out.stderr
        );
    }
    assert_eq!(state(&s.db), before);
}

#[test]
fn duplicates_are_listed_with_every_line_holding_the_key() {
    let s = Scenario::new(
        "check_dups",
        "CREATE TABLE products (id int PRIMARY KEY, sku text UNIQUE);",
        &[(
            "products.csv",
            "id,sku\n1,a\n2,b\n2,c\n3,d\n2,e\n3,f\n4,a\n",
        )],
    );
    let before = state(&s.db);
    let p = check(&s.db, s.path());
    assert_eq!(p.duplicates.len(), 2, "{p}");
    let pkey = p
        .duplicates
        .iter()
        .find(|d| d.index == "products_pkey")
        .expect("pkey");
    assert_eq!((pkey.rows, pkey.keys), (5, 2), "{p}");
    let lines: Vec<Vec<u64>> = pkey
        .examples
        .iter()
        .map(|(_, rows)| rows.iter().map(|r| r.line).collect())
        .collect();
    assert_eq!(lines, vec![vec![3, 4, 6], vec![5, 7]]);
    let sku = p
        .duplicates
        .iter()
        .find(|d| d.index == "products_sku_key")
        .expect("sku");
    assert_eq!((sku.rows, sku.keys), (2, 1));
    assert_eq!(state(&s.db), before);
}
