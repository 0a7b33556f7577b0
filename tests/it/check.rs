//! `fkload check` and the report of a load that fails on keys: every problem
//! in one run (each rejected file, every violated key with its orphans
//! counted and the first few at their lines, every unique index's
//! duplicates), the database and its sequences untouched afterwards.

use std::path::Path;

use fkload::error::{KeyViolation, Problems};

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

/// A load that fails on a key but whose check after the rollback finds
/// nothing (here a trigger writes an orphan only the first time a sequence
/// is taken from) keeps its own error, and says why no rows are listed
/// rather than that the check lists them.
#[test]
fn a_failed_load_whose_check_finds_nothing_says_so() {
    let s = Scenario::new(
        "check_load_none",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p);
         CREATE TABLE a (id int PRIMARY KEY);
         CREATE SEQUENCE once;
         CREATE FUNCTION orphan_once() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF nextval('once') = 1 THEN INSERT INTO c VALUES (1000, 999); END IF;
             RETURN NULL;
           END $$;
         CREATE TRIGGER orphan_once AFTER INSERT ON a FOR EACH STATEMENT EXECUTE FUNCTION orphan_once();",
        &[("p.csv", "id\n1\n"), ("c.csv", "id,p_id\n1,1\n"), ("a.csv", "id\n1\n")],
    );
    let out = s.run(&["--strategy", "revalidate"]).fails(3);
    assert!(
        out.stderr.contains("constraint \"c_p_id_fkey\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(
            "could not list the orphan rows: the check after the rollback found no orphan row"
        ),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr
            .contains("the check after the rollback lists them"),
        "{}",
        out.stderr
    );
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
        // Every row the server refuses, at its line (issue 23: no longer
        // the file's first refusal as the file's error)...
        "customers.csv: ERROR:  invalid input syntax for type integer: \"x\" (column id)",
        "customers.csv:4: invalid input syntax for type integer: \"x\"",
        // The key to the file with refused rows cannot be checked...
        "not checked: key \"orders_customer_id_fkey\" of public.orders:",
        "customers.csv did not load whole",
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

/// The check, through the library, with options.
fn check_with(db: &TestDb, dir: &Path, truncate: bool, max_examples: usize) -> Problems {
    let mut client = db.client();
    fkload::Loader::builder()
        .truncate(truncate)
        .max_examples(max_examples)
        .build()
        .check_in(&mut client, dir, &mut |_| {})
        .expect("the check runs")
}

/// Each violated key as one line: counts, every example's line and key, the
/// missing keys.
fn summary(p: &Problems) -> Vec<String> {
    let mut keys: Vec<String> = p
        .keys
        .iter()
        .map(|k| {
            let lines: Vec<String> = k
                .examples
                .iter()
                .map(|o| format!("{}:{}", o.line, o.key))
                .collect();
            format!(
                "{} {} {} {} {:?} {:?}",
                k.constraint,
                k.rows,
                k.missing_keys,
                lines.join(" "),
                k.missing_examples,
                k.search_failed
            )
        })
        .collect();
    keys.sort();
    keys
}

/// The orphans of a table the check loaded from empty are searched in the
/// table itself (its rows are in file order); of any other table, in the file
/// read again. Every way gives the same counts, lines and keys: tables that
/// hold rows, that were emptied but keep their pages, that the plan empties
/// (`--truncate`), that a key from outside the load keeps from being emptied,
/// with a trigger someone wrote; examples that stop short of every orphan.
#[test]
fn orphans_found_in_the_table_and_in_the_file_agree() {
    // Quoted line breaks and CRLF, so that records and lines differ.
    let mut files = partial_export();
    files[2].1 = files[2]
        .1
        .replace(",n5\n", ",\"n\r\n5\"\n")
        .replace('\n', "\r\n");
    for max in [20, 3] {
        let empty = scenario_of("check_in_table", PARTIAL_SHOP, &files);
        let reference = summary(&check_with(&empty.db, empty.path(), false, max));
        assert_eq!(reference.len(), 3, "{reference:#?}");
        let first = if max == 20 {
            "93:(customer_id)=(91) "
        } else {
            ""
        };
        assert!(
            reference.iter().any(|k| k
                .starts_with(&format!("orders_customer_id_fkey 10 10 {first}"))
                && k.contains("None")),
            "{reference:#?}"
        );
        let rows = "INSERT INTO customers VALUES (500, 'x'); INSERT INTO products VALUES (500, 'x');
                    INSERT INTO orders VALUES (500, 500, 'old'); INSERT INTO order_items VALUES (500, 500, 1);";
        for (label, setup, truncate) in [
            // Rows already there: the file is read again.
            ("check_in_file_rows", rows.to_string(), false),
            // The same emptied by the plan: searched in the tables.
            ("check_in_table_truncated", rows.to_string(), true),
            // Emptied, but its pages stay until VACUUM.
            (
                "check_in_file_deleted",
                format!(
                    "{rows} DELETE FROM order_items; DELETE FROM orders; DELETE FROM products; DELETE FROM customers;"
                ),
                false,
            ),
            // A key from outside the load keeps orders from being truncated.
            (
                "check_in_file_outside",
                "CREATE TABLE outside (order_id int REFERENCES orders)".to_string(),
                false,
            ),
            // A trigger of the user's could change or move rows.
            (
                "check_in_file_trigger",
                "CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
                 CREATE TRIGGER t BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION keep();"
                    .to_string(),
                false,
            ),
        ] {
            let s = scenario_of(label, PARTIAL_SHOP, &files);
            s.db.exec(&setup);
            let before = state(&s.db);
            assert_eq!(
                summary(&check_with(&s.db, s.path(), truncate, max)),
                reference,
                "{label}, {max} examples"
            );
            assert_eq!(state(&s.db), before, "{label}: the check leaves it as it was");
        }
    }
}

/// `-v` says when a violated key's orphans are being found, and where: in
/// the table the check loaded from empty, or in the files read again (a
/// table that holds rows).
#[test]
fn verbose_says_where_the_orphans_are_searched() {
    let s = scenario_of("check_verbose", PARTIAL_SHOP, &partial_export());
    s.run(&["-v", "check"])
        .fails(1)
        .stderr_has(
            "key \"orders_customer_id_fkey\" is violated: finding the rows of public.orders that break it, in the table",
        )
        .stderr_has(
            "key \"order_items_product_id_fkey\" is violated: finding the rows of public.order_items that break it, in the table",
        );
    s.db.exec(
        "INSERT INTO customers VALUES (500, 'x'); INSERT INTO orders VALUES (500, 500, 'old')",
    );
    s.run(&["-v", "check"]).fails(1).stderr_has(
        "key \"orders_customer_id_fkey\" is violated: finding the rows of public.orders that break it, reading the files again",
    );
}

/// A row's record number in a table the check loaded is its rank in the
/// heap, which holds only where COPY fills pages in the order rows come: a
/// COPY that may use the free space map puts a short row back into a page a
/// long one left room in. Rows of such widths (stored uncompressed, in
/// line), every one an orphan, are each reported at their own line.
#[test]
fn orphans_of_rows_of_uneven_widths_are_at_their_lines() {
    let widths = [5000, 5000, 3500, 5000, 4000, 600, 7000, 300, 2500];
    let rows: String = (0..60)
        .map(|i| {
            format!(
                "{i},{},{}\n",
                1000 + i,
                "x".repeat(widths[i % widths.len()])
            )
        })
        .collect();
    let s = Scenario::new(
        "check_uneven_rows",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p, pad text);
         ALTER TABLE c ALTER pad SET STORAGE PLAIN;",
        &[
            ("p.csv", "id\n1\n"),
            ("c.csv", &format!("id,p_id,pad\n{rows}")),
        ],
    );
    let p = check_with(&s.db, s.path(), false, 100);
    let k = key(&p, "c_p_id_fkey");
    assert_eq!(
        (k.rows, k.missing_keys, k.examples.len()),
        (60, 60, 60),
        "{p}"
    );
    for (i, o) in k.examples.iter().enumerate() {
        assert_eq!(
            (o.line, o.key.as_str()),
            (i as u64 + 2, format!("(p_id)=({})", 1000 + i).as_str()),
            "{p}"
        );
    }
    // The heap really is out of file order where COPY may use the free
    // space map (a table not emptied in the transaction).
    s.db.exec(&format!(
        "ALTER TABLE c DROP CONSTRAINT c_p_id_fkey;
         COPY c FROM '{}' (FORMAT csv, HEADER)",
        s.path().join("c.csv").display()
    ));
    let order =
        s.db.query_strings("SELECT string_agg(id::text, ',' ORDER BY ctid) FROM c");
    let file: Vec<String> = (0..60).map(|i| i.to_string()).collect();
    assert_ne!(
        order,
        vec![file.join(",")],
        "the free space map reorders rows"
    );
}

/// A partition loaded from a file of its own while its partitioned parent
/// has a file too holds the rows of both: it is searched in its file, each
/// orphan at its own file and line.
#[test]
fn a_partition_whose_parent_is_loaded_too_has_its_orphans_at_their_lines() {
    let s = Scenario::new(
        "check_partition_and_parent",
        "CREATE TABLE p (id int PRIMARY KEY);
         CREATE TABLE m (id int, pid int REFERENCES p) PARTITION BY RANGE (id);
         CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (1000);",
        &[
            ("p.csv", "id\n1\n"),
            ("m.csv", "id,pid\n1,1\n2,99\n"),
            ("m1.csv", "id,pid\n3,1\n4,1\n5,77\n"),
        ],
    );
    let p = check(&s.db, s.path());
    let k = key(&p, "m_pid_fkey");
    assert_eq!((k.rows, k.missing_keys), (2, 2), "{p}");
    let mut at: Vec<String> = k
        .examples
        .iter()
        .map(|o| {
            format!(
                "{}:{} {}",
                o.path.file_name().unwrap().to_string_lossy(),
                o.line,
                o.key
            )
        })
        .collect();
    at.sort();
    assert_eq!(at, ["m.csv:3 (pid)=(99)", "m1.csv:4 (pid)=(77)"], "{p}");
}
