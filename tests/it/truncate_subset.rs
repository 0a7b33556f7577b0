//! `--truncate` on some of the tables: a table outside the load that
//! references an emptied one (directly, or through other such tables) must
//! go in the same `TRUNCATE`. Empty ones are taken along and named; ones
//! that hold rows stop the load before anything is written, named with their
//! row counts, unless `--cascade` says to empty them too.

use fkload::{Connector, ErrorKind, Loader};

use crate::util::support::{Scenario, assert_unchanged, snapshot};

/// product is loaded; review references it, vote references review (a chain
/// outside the load); tag is outside and references nothing loaded.
const SCHEMA: &str = "
CREATE TABLE product (id int PRIMARY KEY, name text);
CREATE TABLE review (id int PRIMARY KEY, product_id int REFERENCES product);
CREATE TABLE vote (id int PRIMARY KEY, review_id int REFERENCES review);
CREATE TABLE tag (id int PRIMARY KEY, name text);
INSERT INTO product VALUES (1, 'old'), (2, 'older');
INSERT INTO tag VALUES (1, 'kept');";

fn scenario(label: &str) -> Scenario {
    Scenario::new(label, SCHEMA, &[("product.csv", "id,name\n7,new\n")])
}

fn products(s: &Scenario) -> Vec<String> {
    s.db.query_strings("SELECT id || ' ' || name FROM product ORDER BY id")
}

#[test]
fn empty_referencing_tables_are_emptied_too_and_named() {
    let s = scenario("trunc_empty_refs");
    let listed = s.run(&["-l", "--truncate"]).ok();
    for t in [
        "public.review (empty; references public.product)",
        "public.vote (empty; references public.review)",
    ] {
        assert!(
            listed
                .stdout
                .contains(&format!("truncate also: {t}, which is not loaded")),
            "{t}: {}",
            listed.stdout
        );
    }
    assert!(!listed.stdout.contains("public.tag"), "{}", listed.stdout);
    let run = s.run(&["--truncate"]).ok();
    assert!(
        run.stderr.contains("fkload: note: --truncate also empties public.review (empty; references public.product), which is not loaded"),
        "{}",
        run.stderr
    );
    assert_eq!(products(&s), ["7 new"]);
    assert_eq!(s.db.query_strings("SELECT name FROM tag"), ["kept"]);
}

#[test]
fn referencing_tables_with_rows_stop_the_load_before_anything_is_written() {
    let s = scenario("trunc_held_refs");
    s.db.exec("INSERT INTO review VALUES (1, 1), (2, 2), (3, 1); INSERT INTO vote VALUES (1, 3)");
    let before = snapshot(&s.db);
    for args in [
        &["--truncate"][..],
        &["-l", "--truncate"],
        &["check", "--truncate"],
    ] {
        let run = s.run(args).fails(1);
        assert!(
            run.stderr
                .contains("--truncate would have to empty tables outside the load")
                && run
                    .stderr
                    .contains("  public.review (3 rows; references public.product)")
                && run
                    .stderr
                    .contains("  public.vote (1 row; references public.review)")
                && run.stderr.contains("--cascade"),
            "{args:?}: {}",
            run.stderr
        );
        assert_unchanged(&s.db, &before);
        assert_eq!(products(&s), ["1 old", "2 older"]);
    }
    // Only the ones with rows are named as the reason.
    s.db.exec("DELETE FROM vote");
    let run = s.run(&["--truncate"]).fails(1);
    assert!(!run.stderr.contains("public.vote"), "{}", run.stderr);

    // --cascade empties them, and says so.
    s.db.exec("INSERT INTO vote VALUES (1, 3)");
    let run = s.run(&["--truncate", "--cascade"]).ok();
    assert!(
        run.stderr.contains("fkload: warning: --truncate --cascade also empties public.review (3 rows; references public.product), which is not loaded")
            && run.stderr.contains("public.vote (1 row; references public.review)"),
        "{}",
        run.stderr
    );
    assert_eq!(products(&s), ["7 new"]);
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM review") + s.db.query_i64("SELECT count(*) FROM vote"),
        0
    );
    assert_eq!(s.db.query_strings("SELECT name FROM tag"), ["kept"]);
}

#[test]
fn tables_left_out_by_a_pattern_count_as_outside() {
    let s = Scenario::new(
        "trunc_pattern",
        SCHEMA,
        &[
            ("product.csv", "id,name\n7,new\n"),
            ("review.csv", "id,product_id\n5,7\n"),
        ],
    );
    s.db.exec("INSERT INTO review VALUES (1, 1)");
    // Loaded together, review is emptied as a loaded table (vote is empty).
    s.run(&["--truncate"]).ok();
    assert_eq!(s.db.query_strings("SELECT id::text FROM review"), ["5"]);
    // Left out by -T, its row stops the load.
    let run = s.run(&["--truncate", "-T", "review"]).fails(1);
    assert!(
        run.stderr
            .contains("public.review (1 row; references public.product)"),
        "{}",
        run.stderr
    );
}

#[test]
fn rows_written_after_the_plan_into_a_table_found_empty_stop_the_load() {
    let s = scenario("trunc_race");
    let config: postgres::Config = s.db.url.parse().unwrap();
    let loader = Loader::builder()
        .connector(Connector::from_config(config))
        .truncate(true)
        .build();
    let plan = loader.plan(s.path()).unwrap();
    assert_eq!(plan.also_emptied().count(), 2);
    // Someone writes a review between the plan and the load.
    s.db.exec("INSERT INTO review VALUES (1, 1)");
    let before = snapshot(&s.db);
    let e = loader.load(&plan, &mut |_| {}).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::TruncateReferenced { tables } if tables[0].contains("public.review (1 row")),
        "{e}"
    );
    assert_unchanged(&s.db, &before);
}

#[test]
fn a_loaded_partition_leaves_its_siblings_and_their_keys_outside() {
    let s = Scenario::new(
        "trunc_partition",
        "CREATE TABLE customer (id int PRIMARY KEY);
         CREATE TABLE orders (id int, y int, customer_id int REFERENCES customer,
                              PRIMARY KEY (id, y)) PARTITION BY LIST (y);
         CREATE TABLE orders_2023 PARTITION OF orders FOR VALUES IN (2023);
         CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES IN (2024);
         INSERT INTO customer VALUES (1);
         INSERT INTO orders VALUES (1, 2023, 1), (2, 2024, 1);",
        &[
            ("customer.csv", "id\n1\n2\n"),
            ("orders_2024.csv", "id,y,customer_id\n5,2024,2\n"),
        ],
    );
    let before = snapshot(&s.db);
    // orders_2023's copy of the key still references customer.
    let run = s.run(&["--truncate"]).fails(1);
    assert!(
        run.stderr
            .contains("public.orders (2 rows; references public.customer)"),
        "{}",
        run.stderr
    );
    assert_unchanged(&s.db, &before);
    s.run(&["--truncate", "--cascade"]).ok();
    assert_eq!(
        s.db.query_strings("SELECT id || ' ' || y FROM orders ORDER BY id"),
        ["5 2024"]
    );
}
