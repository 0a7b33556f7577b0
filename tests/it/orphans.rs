//! `--on-orphan skip|null`: the rows that break a key are left out (or
//! their key set NULL), with every row a parent's absence orphans in turn,
//! under both strategies, in parallel and with cycles; every such row goes
//! to a reject file holding its exact bytes, which loads again once the
//! parents are there.

use std::path::Path;

use crate::util::support::{PARTIAL_SHOP, Scenario, partial_export, scenario_of, snapshot, write};

/// The data records of a reject file (its header left out).
fn rejects(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("reject file");
    text.lines().skip(1).map(str::to_string).collect()
}

#[test]
fn skip_leaves_out_orphans_and_what_they_orphan_under_every_way_of_loading() {
    for (label, args) in [
        ("skip_keep", &["--strategy", "keep"][..]),
        ("skip_revalidate", &["--strategy", "revalidate"]),
        ("skip_jobs", &["-j", "2"]),
        ("skip_truncate", &["--strategy", "keep", "--truncate"]),
        ("skip_small_batches", &["--batch-size", "100"]),
    ] {
        let s = scenario_of(label, PARTIAL_SHOP, &partial_export());
        let rej = tempfile::tempdir().expect("reject dir");
        let dir = rej.path().to_str().expect("utf-8").to_string();
        let mut all: Vec<&str> = vec!["--on-orphan", "skip", "--reject-dir", &dir];
        all.extend(args);
        let out = s.run(&all).ok();
        assert!(
            out.stdout.contains("set aside 122 rows with no parent (122 skipped, 0 loaded with their key set to NULL)"),
            "{label}: {}",
            out.stdout
        );
        // Product 1's 101 items, the 10 items of orders 91-100 (whose
        // customers are missing), and order 101's other item.
        assert_eq!(
            s.db.query_strings(
                "SELECT format('%s %s %s %s', (SELECT count(*) FROM customers), (SELECT count(*) FROM orders),
                               (SELECT count(*) FROM products), (SELECT count(*) FROM order_items))"
            ),
            vec!["90 90 19 90".to_string()],
            "{label}"
        );
        let orders = rejects(&rej.path().join("orders.rejects.csv"));
        assert_eq!(orders.len(), 10, "{label}");
        assert_eq!(
            orders[0],
            "91,91,n91,92,\"key \"\"orders_customer_id_fkey\"\": (customer_id)=(91) is not present in table public.customers\""
        );
        let items = rejects(&rej.path().join("order_items.rejects.csv"));
        assert_eq!(items.len(), 112, "{label}");
        // A row whose parent was set aside says so.
        assert!(
            items.iter().any(|l| l.starts_with("91,2,1,183,")
                && l.contains("(order_id)=(91) is not present in table public.orders")),
            "{label}: {items:?}"
        );
        // A row that breaks two keys names both.
        assert!(
            items.iter().any(|l| l.starts_with("91,1,1,182,")
                && l.contains("\"\"order_items_order_id_fkey\"\": (order_id)=(91)")
                && l.contains("\"\"order_items_product_id_fkey\"\": (product_id)=(1)")),
            "{label}: {items:?}"
        );
        assert!(!rej.path().join("customers.rejects.csv").exists());
    }
}

#[test]
fn null_clears_the_nullable_key_and_skips_rows_it_cannot_clear() {
    let s = Scenario::new(
        "null_policy",
        "CREATE TABLE p (a int, b int, PRIMARY KEY (a, b));
         CREATE TABLE simple_c (id int PRIMARY KEY, a int NOT NULL, b int, FOREIGN KEY (a, b) REFERENCES p);
         CREATE TABLE full_c (id int PRIMARY KEY, a int NOT NULL, b int, FOREIGN KEY (a, b) REFERENCES p MATCH FULL);
         CREATE TABLE full_n (id int PRIMARY KEY, a int, b int, FOREIGN KEY (a, b) REFERENCES p MATCH FULL);
         CREATE TABLE strict_c (id int PRIMARY KEY, a int NOT NULL, b int NOT NULL, FOREIGN KEY (a, b) REFERENCES p);",
        &[
            ("p.csv", "a,b\n1,1\n"),
            ("simple_c.csv", "id,a,b\n1,1,1\n2,9,9\n"),
            ("full_c.csv", "id,a,b\n1,1,1\n2,9,9\n"),
            ("full_n.csv", "id,a,b\n1,1,1\n2,9,9\n"),
            ("strict_c.csv", "id,a,b\n1,1,1\n2,9,9\n"),
        ],
    );
    let rej = tempfile::tempdir().expect("reject dir");
    let dir = rej.path().to_str().expect("utf-8");
    let out = s.run(&["--on-orphan", "null", "--reject-dir", dir]).ok();
    assert!(
        out.stdout
            .contains("(2 skipped, 2 loaded with their key set to NULL)"),
        "{}",
        out.stdout
    );
    let rows = |t: &str| {
        s.db.query_strings(&format!(
            "SELECT format('%s %s %s', id, coalesce(a::text, '-'), coalesce(b::text, '-')) FROM {t} ORDER BY id"
        ))
    };
    // MATCH SIMPLE: the nullable column of the key is cleared.
    assert_eq!(rows("simple_c"), vec!["1 1 1", "2 9 -"]);
    // MATCH FULL: only if every column can be cleared.
    assert_eq!(rows("full_c"), vec!["1 1 1"]);
    assert_eq!(rows("full_n"), vec!["1 1 1", "2 - -"]);
    assert_eq!(rows("strict_c"), vec!["1 1 1"]);
    let simple = rejects(&rej.path().join("simple_c.rejects.csv"));
    assert_eq!(simple.len(), 1);
    assert!(
        simple[0].starts_with("2,9,9,3,") && simple[0].contains("set to NULL"),
        "{simple:?}"
    );
    assert_eq!(rejects(&rej.path().join("strict_c.rejects.csv")).len(), 1);
}

#[test]
fn reject_files_keep_the_exact_bytes_and_load_once_the_parents_are_there() {
    // CRLF line ends, quoted fields with commas, quotes and line breaks.
    let orders = "id,customer_id,note\r\n\
                  1,1,plain\r\n\
                  2,7,\"a, \"\"quoted\"\"\r\nnote\"\r\n\
                  3,1,\"\"\r\n\
                  4,8,\"multi\nline\"\r\n\
                  5,1,last";
    let s = Scenario::new(
        "reject_bytes",
        PARTIAL_SHOP,
        &[("customers.csv", "id,name\n1,c1\n"), ("orders.csv", orders)],
    );
    let rej = tempfile::tempdir().expect("reject dir");
    let dir = rej.path().to_str().expect("utf-8");
    s.run(&["--on-orphan", "skip", "--reject-dir", dir]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM orders"), 3);
    let file = std::fs::read(rej.path().join("orders.rejects.csv")).expect("reject file");
    let text = String::from_utf8(file).expect("utf-8");
    let expected = "id,customer_id,note,fkload_line,fkload_reason\r\n\
                    2,7,\"a, \"\"quoted\"\"\r\nnote\",3,\"key \"\"orders_customer_id_fkey\"\": (customer_id)=(7) is not present in table public.customers\"\r\n\
                    4,8,\"multi\nline\",6,\"key \"\"orders_customer_id_fkey\"\": (customer_id)=(8) is not present in table public.customers\"\r\n";
    assert_eq!(text, expected);

    // Fixed (the parents added), the reject file loads as it is: its two
    // added columns are left out.
    s.db.exec("INSERT INTO customers VALUES (7, 'c7'), (8, 'c8')");
    let again = tempfile::tempdir().expect("dir");
    write(again.path(), "orders.csv", text.as_bytes());
    crate::util::support::fkload(&s.db, again.path(), &[]).ok();
    assert_eq!(
        s.db.query_strings("SELECT format('%s|%s', id, note) FROM orders ORDER BY id"),
        vec![
            "1|plain".to_string(),
            "2|a, \"quoted\"\r\nnote".into(),
            "3|".into(),
            "4|multi\nline".into(),
            "5|last".into()
        ]
    );
}

#[test]
fn self_references_and_cycles_skip_what_their_skipped_rows_orphan() {
    let s = Scenario::new(
        "skip_cycle",
        "CREATE TABLE emp (id int PRIMARY KEY, boss_id int REFERENCES emp);
         CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
         CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL REFERENCES store);
         ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;",
        &[
            // 5 reports to 4, 4 to 3, 3 to a boss not there: all three go.
            ("emp.csv", "id,boss_id\n5,4\n1,\n2,1\n4,3\n3,9\n"),
            // Store 2's manager is missing; staff 11 works in store 2; store
            // 3's manager is 11.
            ("store.csv", "id,manager_id\n1,10\n2,99\n3,11\n"),
            ("staff.csv", "id,store_id\n10,1\n11,2\n12,3\n"),
        ],
    );
    let rej = tempfile::tempdir().expect("reject dir");
    let dir = rej.path().to_str().expect("utf-8");
    for args in [&["--strategy", "keep"][..], &["--strategy", "revalidate"]] {
        s.db.exec("TRUNCATE emp, store, staff");
        let mut all = vec!["--on-orphan", "skip", "--reject-dir", dir];
        all.extend(args);
        s.run(&all).ok();
        assert_eq!(
            s.db.query_strings("SELECT id::text FROM emp ORDER BY id"),
            vec!["1", "2"],
            "{args:?}"
        );
        assert_eq!(
            s.db.query_strings("SELECT id::text FROM store ORDER BY id"),
            vec!["1"],
            "{args:?}"
        );
        assert_eq!(
            s.db.query_strings("SELECT id::text FROM staff ORDER BY id"),
            vec!["10"],
            "{args:?}"
        );
        let emp = rejects(&rej.path().join("emp.rejects.csv"));
        let lines: Vec<&str> = emp
            .iter()
            .map(|l| l.split(',').nth(2).unwrap_or(""))
            .collect();
        assert_eq!(lines, vec!["2", "5", "6"], "{emp:?}");
    }
}

#[test]
fn a_bad_value_after_a_skipped_row_is_reported_at_its_own_line() {
    let s = Scenario::new(
        "skip_then_bad",
        PARTIAL_SHOP,
        &[
            ("customers.csv", "id,name\n1,c1\n"),
            (
                "orders.csv",
                "id,customer_id,note\n1,1,a\n2,9,b\n3,9,c\n4,1,d\n5,x,e\n",
            ),
        ],
    );
    let before = snapshot(&s.db);
    let rej = tempfile::tempdir().expect("reject dir");
    let dir = rej.path().to_str().expect("utf-8");
    // The orphan search casts every key value: "x" is rejected there,
    // or by the load, at line 6 either way.
    s.run(&["--on-orphan", "skip", "--reject-dir", dir])
        .fails(3)
        .stderr_has("invalid input syntax for type integer: \"x\"");
    assert_eq!(snapshot(&s.db), before);
    // A bad value outside the key: found by the load, after two skipped rows.
    let s = Scenario::new(
        "skip_then_bad_note",
        "CREATE TABLE customers (id int PRIMARY KEY);
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int REFERENCES customers, qty int);",
        &[
            ("customers.csv", "id\n1\n"),
            (
                "orders.csv",
                "id,customer_id,qty\n1,1,1\n2,9,1\n3,9,1\n4,1,1\n5,1,x\n6,1,1\n",
            ),
        ],
    );
    s.run(&["--on-orphan", "skip", "--reject-dir", dir])
        .fails(3)
        .stderr_has("orders.csv:6: ERROR:  invalid input syntax for type integer: \"x\"");
}

#[test]
fn a_file_without_the_key_columns_is_refused_by_the_policy() {
    let s = Scenario::new(
        "skip_no_key_column",
        "CREATE TABLE p (id serial PRIMARY KEY, n int);
         CREATE TABLE c (id int PRIMARY KEY, p_id int REFERENCES p);",
        &[("p.csv", "n\n1\n"), ("c.csv", "id,p_id\n1,1\n")],
    );
    let before = snapshot(&s.db);
    let rej = tempfile::tempdir().expect("reject dir");
    let dir = rej.path().to_str().expect("utf-8");
    s.run(&["--on-orphan", "skip", "--reject-dir", dir])
        .fails(1)
        .stderr_has("p.csv: the file has no column id of key \"c_p_id_fkey\"");
    assert_eq!(snapshot(&s.db), before);
}

/// The orphan rows of a staged file are read through a portal: its bind and
/// each fetch once went to the client directly, so no crash or failure test
/// could reach them. They are statements of `db.rs` now: a load with
/// `--on-orphan` killed or failing at either reports it (or dies) and leaves
/// the database as it was.
#[test]
fn reading_the_orphan_rows_is_a_crash_and_failure_point() {
    use crate::util::crash::{self, fkload_env, state, wait_for_disconnect};
    use crate::util::support::output;
    let test = "reading_the_orphan_rows_is_a_crash_and_failure_point";
    if !crash::available(test) {
        return;
    }
    let s = Scenario::new(
        "orphan_portal",
        PARTIAL_SHOP,
        &[
            ("customers.csv", "id,name\n1,c1\n"),
            ("orders.csv", "id,customer_id,note\n1,1,a\n2,7,b\n"),
        ],
    );
    // A reject directory per run: a run finds none of an earlier one's files.
    let run_with = |db: &crate::util::TestDb, env: &[(&str, &str)]| {
        let rej = tempfile::tempdir().expect("reject dir");
        let dir = rej.path().to_str().expect("utf-8");
        let args = ["--on-orphan", "skip", "--reject-dir", dir];
        output(fkload_env(db, &args, Some(s.path()), env))
    };
    // The statements' numbers, from a clean run's trace on a copy.
    let copy = s.db.copy("trace");
    let trace = tempfile::NamedTempFile::new().expect("trace file");
    let path = trace.path().to_string_lossy().into_owned();
    let run = run_with(&copy, &[("FKLOAD_FAILPOINT_TRACE", &path)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(trace.path()).expect("read trace");
    let points: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(_, sql)| {
            sql.starts_with("FETCH (the next rows of a portal)")
                || (sql.starts_with("SELECT") && sql.contains("FROM pg_temp."))
        })
        .map(|(n, _)| n)
        .collect();
    assert!(points.len() >= 2, "no bind and fetch traced:\n{text}");
    let before = state(&s.db);
    for n in points {
        for point in [
            n.to_string(),
            format!("{n}:lock-timeout"),
            format!("{n}:disconnect"),
        ] {
            let run = run_with(&s.db, &[("FKLOAD_FAILPOINT", &point)]);
            let (said, code) = if point.contains(':') {
                ("failing", 2..=3)
            } else {
                ("killed before", -1..=-1)
            };
            assert!(
                run.stderr.contains(&format!("failpoint {n}: {said}")) && code.contains(&run.code),
                "{point}: exit {}:\n{}",
                run.code,
                run.stderr
            );
            wait_for_disconnect(&s.db);
            assert_eq!(state(&s.db), before, "{point}: the database changed");
        }
    }
}
