//! Loads into Citus: a coordinator and two workers that `util::pg` boots, with
//! reference, distributed and Citus-local tables. Skipped, saying so, where
//! Citus is not installed (`FKLOAD_TEST_CITUS=required` makes that a failure).

use std::path::Path;
use std::time::{Duration, Instant};

use crate::util::TestDb;
use crate::util::crash::{self, Outcome};
use crate::util::pg::{citus_db, citus_unavailable, citus_worker_urls};
use crate::util::support::{Run, command, fkload, keys, output, skip, write};

/// A Citus database with `schema`, or `None` (the test skipped, saying why).
fn cluster(test: &str, schema: &str) -> Option<TestDb> {
    if let Some(why) = citus_unavailable() {
        skip(test, &why);
        return None;
    }
    let db = citus_db(test);
    // One statement per transaction: Citus refuses a key to a reference table
    // after a parallel operation on a distributed one in the same transaction.
    for statement in schema.split(";\n").filter(|s| !s.trim().is_empty()) {
        db.exec(statement);
    }
    Some(db)
}

/// The example shop on Citus: category, customer and product are reference
/// tables, orders and order_line distributed on the order id and colocated,
/// product_note a Citus-local table (Citus makes it one when it references a
/// reference table).
/// Keys are added after the tables are distributed (Citus takes no key from a
/// local table to a distributed one), by name as pg_dump writes them: Citus
/// gives an unnamed key NOT VALID copies on the shards (`ALTER TABLE t ADD
/// FOREIGN KEY ...`), which fkload, adding keys back by name, would make
/// valid.
const SHOP: &str = "
CREATE TABLE category (id integer PRIMARY KEY, parent_id integer, name text NOT NULL);
CREATE TABLE customer (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL);
CREATE TABLE product (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_id integer NOT NULL, name text NOT NULL,
    price numeric(10, 2) NOT NULL CHECK (price >= 0));
CREATE TABLE orders (id serial PRIMARY KEY, customer_email text NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT now(), note text);
CREATE TABLE order_line (order_id integer NOT NULL, line_no integer NOT NULL,
    product_id integer NOT NULL, quantity integer NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (order_id, line_no));
SELECT create_reference_table('category');
SELECT create_reference_table('customer');
SELECT create_reference_table('product');
SELECT create_distributed_table('orders', 'id');
SELECT create_distributed_table('order_line', 'order_id', colocate_with => 'orders');
ALTER TABLE category ADD CONSTRAINT category_parent_id_fkey
    FOREIGN KEY (parent_id) REFERENCES category (id);
ALTER TABLE product ADD CONSTRAINT product_category_id_fkey
    FOREIGN KEY (category_id) REFERENCES category (id);
ALTER TABLE orders ADD CONSTRAINT orders_customer_email_fkey
    FOREIGN KEY (customer_email) REFERENCES customer (email);
ALTER TABLE order_line ADD CONSTRAINT order_line_order_id_fkey
    FOREIGN KEY (order_id) REFERENCES orders (id);
ALTER TABLE order_line ADD CONSTRAINT order_line_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES product (id);
CREATE TABLE product_note (product_id integer NOT NULL, note text NOT NULL);
ALTER TABLE product_note ADD CONSTRAINT product_note_product_id_fkey
    FOREIGN KEY (product_id) REFERENCES product (id);";

fn shop_data() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/shop/data")
}

/// Writes a shop of `orders` orders (three lines each) into `dir`, with the
/// fixture's reference tables.
fn big_shop(dir: &Path, orders: usize) {
    for name in ["category.csv", "customer.csv", "product.csv"] {
        let body = std::fs::read(shop_data().join(name)).expect("fixture");
        write(dir, name, &body);
    }
    let emails = ["ada@example.com", "grace@example.com", "edsger@example.com"];
    let mut o = String::from("id,customer_email,placed_at,note\n");
    let mut l = String::from("order_id,line_no,product_id,quantity\n");
    for i in 1..=orders {
        o.push_str(&format!("{i},{},2026-01-05 10:00:00+00,\n", emails[i % 3]));
        for line in 1..=3 {
            l.push_str(&format!("{i},{line},{},{line}\n", 10 + (i + line) % 3));
        }
    }
    write(dir, "orders.csv", o.as_bytes());
    write(dir, "order_line.csv", l.as_bytes());
    write(
        dir,
        "product_note.csv",
        b"product_id,note\n10,heavy\n12,\"fresh, whole\"\n",
    );
}

/// Keys, indexes and rows of every placement of every Citus table (what
/// `run_command_on_placements` reads on each shard and copy), with the keys
/// and indexes the coordinator declares: what a load must leave as it found
/// it, rows aside.
fn placements(db: &TestDb) -> (Vec<String>, Vec<String>) {
    let per = |command: &str| {
        db.query_strings(&format!(
            "SELECT concat_ws(' | ', p.logicalrelid::text, r.nodeport, r.shardid, r.success, r.result)
               FROM pg_dist_partition p,
                    run_command_on_placements(p.logicalrelid, $c${command}$c$) r
              ORDER BY 1"
        ))
    };
    let schema = per("WITH r AS (SELECT '%s'::regclass AS r)
         SELECT coalesce(string_agg(x, ' ; ' ORDER BY x), '-') FROM (
           SELECT conname || ' ' || pg_get_constraintdef(oid) || ' valid=' || convalidated
                  || ' deferrable=' || condeferrable || ' deferred=' || condeferred AS x
             FROM pg_constraint WHERE conrelid = (SELECT r FROM r)
           UNION ALL
           SELECT pg_get_indexdef(indexrelid) || ' clustered=' || indisclustered
             FROM pg_index WHERE indrelid = (SELECT r FROM r)) d");
    let rows = per("SELECT count(*) FROM %s");
    let mut declared = keys(db);
    declared.extend(crate::util::support::indexes(db));
    (schema.into_iter().chain(declared).collect(), rows)
}

/// Asserts that two lists of placements are equal, showing only the
/// entries that differ.
fn assert_same(after: &[String], before: &[String], what: &str) {
    if after != before {
        let gone: Vec<&String> = before.iter().filter(|b| !after.contains(b)).collect();
        let new: Vec<&String> = after.iter().filter(|a| !before.contains(a)).collect();
        panic!("{what}: not as before\nbefore, not after: {gone:#?}\nafter, not before: {new:#?}");
    }
}

/// Rows per placement of `table`: one number per shard placement (a
/// reference table has one per node).
fn placement_rows(db: &TestDb, table: &str) -> Vec<i64> {
    db.query_strings(&format!(
        "SELECT result FROM run_command_on_placements('{table}', 'SELECT count(*) FROM %s')
          ORDER BY nodeport, shardid"
    ))
    .iter()
    .map(|r| r.parse().expect("count"))
    .collect()
}

/// Asserts what a load of `orders` orders of [`big_shop`] leaves on every
/// placement: each reference table whole on every node, each distributed
/// table's rows once over its shards.
fn assert_shop_rows(db: &TestDb, orders: i64) {
    for (table, rows) in [("category", 4), ("customer", 3), ("product", 3)] {
        let per = placement_rows(db, table);
        assert!(per.len() >= 3, "{table}: {per:?}");
        assert!(per.iter().all(|&n| n == rows), "{table}: {per:?}");
    }
    assert_eq!(placement_rows(db, "product_note"), [2], "product_note");
    for (table, rows) in [("orders", orders), ("order_line", 3 * orders)] {
        let per = placement_rows(db, table);
        assert!(per.len() > 2, "{table}: {per:?}");
        assert_eq!(per.iter().sum::<i64>(), rows, "{table}: {per:?}");
    }
}

const ORDERS: usize = 2000;

#[test]
fn every_strategy_loads_into_citus_and_every_placement_keeps_its_keys_and_indexes() {
    let test = "every_strategy_loads_into_citus_and_every_placement_keeps_its_keys_and_indexes";
    let Some(db) = cluster(test, SHOP) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    big_shop(dir.path(), ORDERS);
    let (schema, empty) = placements(&db);
    assert!(
        schema.iter().any(|p| p.contains("FOREIGN KEY")),
        "{schema:#?}"
    );
    // -l says which tables Citus manages and how.
    let listed = fkload(&db, dir.path(), &["-l", "--strategy", "revalidate"]).ok();
    for expected in [
        "Citus: reference",
        "Citus: distributed by id, colocation",
        "Citus: distributed by order_id, colocation",
        "Citus: local, made so by its keys to or from reference tables",
        "keys kept in place (they check each row):\n  \"product_note_product_id_fkey\" on public.product_note -> public.product\n",
        "citus: 13.",
    ] {
        assert!(
            listed.stdout.contains(expected),
            "{expected}:\n{}",
            listed.stdout
        );
    }
    for strategy in ["keep", "revalidate"] {
        fkload(&db, dir.path(), &["--strategy", strategy, "--truncate"]).ok();
        assert_same(
            &placements(&db).0,
            &schema,
            &format!("--strategy {strategy}"),
        );
        assert_shop_rows(&db, i64::try_from(ORDERS).expect("orders"));
        // No shard name reaches the user: the same load again fails on the
        // first duplicate, named by its table and index.
        let again = fkload(&db, dir.path(), &["--strategy", strategy]).fails(3);
        assert!(
            again.stderr.contains("\"category_pkey\""),
            "{}",
            again.stderr
        );
        assert!(!again.stderr.contains("_1020"), "{}", again.stderr);
    }
    db.exec("TRUNCATE order_line, orders, product_note, product, customer, category");
    assert_eq!(placements(&db), (schema, empty));
}

/// TPC-H's tables and keys (`benches/tpch`) on Citus: the dimension tables
/// reference tables, orders and lineitem distributed on the order key and
/// colocated; lineitem references partsupp through a composite key.
fn tpch_schema() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tpch");
    let tables = std::fs::read_to_string(root.join("tables.sql")).expect("tables.sql");
    let keys = std::fs::read_to_string(root.join("keys.sql")).expect("keys.sql");
    let mut schema = tables;
    for t in [
        "region", "nation", "part", "supplier", "partsupp", "customer",
    ] {
        schema.push_str(&format!("\nSELECT create_reference_table('{t}');\n"));
    }
    schema.push_str("SELECT create_distributed_table('orders', 'o_orderkey');\n");
    schema.push_str(
        "SELECT create_distributed_table('lineitem', 'l_orderkey', colocate_with => 'orders');\n",
    );
    schema + &keys
}

/// TPC-H-shaped rows that satisfy every key: `orders` orders of three lines.
fn tpch_data(dir: &Path, orders: u32) {
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut add = |name, header: &str, rows: Vec<String>| {
        files.push((name, format!("{header}\n{}\n", rows.join("\n"))));
    };
    add(
        "region.csv",
        "r_regionkey,r_name,r_comment",
        (0..5)
            .map(|r| format!("{r},REGION{r},\"a region, {r}\""))
            .collect(),
    );
    add(
        "nation.csv",
        "n_nationkey,n_name,n_regionkey,n_comment",
        (0..25)
            .map(|n| format!("{n},NATION{n},{},x", n % 5))
            .collect(),
    );
    add(
        "part.csv",
        "p_partkey,p_name,p_mfgr,p_brand,p_type,p_size,p_container,p_retailprice,p_comment",
        (1..=40)
            .map(|p| format!("{p},part {p},M#1,B#1,STEEL,{p},BOX,{p}.50,x"))
            .collect(),
    );
    add(
        "supplier.csv",
        "s_suppkey,s_name,s_address,s_nationkey,s_phone,s_acctbal,s_comment",
        (1..=10)
            .map(|s| format!("{s},S#{s},street,{},11-111,1.00,x", s % 25))
            .collect(),
    );
    add(
        "partsupp.csv",
        "ps_partkey,ps_suppkey,ps_availqty,ps_supplycost,ps_comment",
        (1..=40)
            .flat_map(|p| [p % 10 + 1, (p + 5) % 10 + 1].map(|s| format!("{p},{s},1,1.00,x")))
            .collect(),
    );
    add(
        "customer.csv",
        "c_custkey,c_name,c_address,c_nationkey,c_phone,c_acctbal,c_mktsegment,c_comment",
        (1..=30)
            .map(|c| format!("{c},C#{c},street,{},11-111,1.00,BUILDING,x", c % 25))
            .collect(),
    );
    add(
        "orders.csv",
        "o_orderkey,o_custkey,o_orderstatus,o_totalprice,o_orderdate,o_orderpriority,o_clerk,o_shippriority,o_comment",
        (1..=orders)
            .map(|o| format!("{o},{},O,1.00,1996-01-02,5-LOW,Clerk#1,0,x", o % 30 + 1))
            .collect(),
    );
    add(
        "lineitem.csv",
        "l_orderkey,l_partkey,l_suppkey,l_linenumber,l_quantity,l_extendedprice,l_discount,l_tax,\
         l_returnflag,l_linestatus,l_shipdate,l_commitdate,l_receiptdate,l_shipinstruct,l_shipmode,l_comment",
        (1..=orders)
            .flat_map(|o| {
                (1..=3).map(move |l| {
                    let p = (o + l) % 40 + 1;
                    format!(
                        "{o},{p},{},{l},1,1.00,0,0,N,O,1996-01-02,1996-01-02,1996-01-02,NONE,TRUCK,x",
                        p % 10 + 1
                    )
                })
            })
            .collect(),
    );
    for (name, body) in files {
        write(dir, name, body.as_bytes());
    }
}

#[test]
fn tpch_loads_into_citus_with_every_strategy_and_comes_back_identical_on_every_placement() {
    let test =
        "tpch_loads_into_citus_with_every_strategy_and_comes_back_identical_on_every_placement";
    let Some(db) = cluster(test, &tpch_schema()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    tpch_data(dir.path(), 1000);
    let (schema, empty) = placements(&db);
    for strategy in ["keep", "revalidate"] {
        fkload(&db, dir.path(), &["--strategy", strategy, "--truncate"]).ok();
        assert_same(
            &placements(&db).0,
            &schema,
            &format!("--strategy {strategy}"),
        );
        for (table, rows) in [
            ("region", 5),
            ("nation", 25),
            ("partsupp", 80),
            ("customer", 30),
        ] {
            assert_eq!(placement_rows(&db, table), vec![rows; 3], "{table}");
        }
        for (table, rows) in [("orders", 1000), ("lineitem", 3000)] {
            let per = placement_rows(&db, table);
            assert_eq!(per.iter().sum::<i64>(), rows, "{table}: {per:?}");
        }
    }
    // A lineitem whose (part, supplier) pair is not in partsupp: found through
    // the composite key, by line.
    let lines = std::fs::read_to_string(dir.path().join("lineitem.csv")).expect("lineitem");
    write(
        dir.path(),
        "lineitem.csv",
        lines.replacen("\n1,3,4,1,", "\n1,3,7,1,", 1).as_bytes(),
    );
    db.exec("TRUNCATE lineitem, orders, customer, partsupp, supplier, part, nation, region");
    let failed = fkload(&db, dir.path(), &["--strategy", "revalidate"]).fails(3);
    assert!(
        failed
            .stderr
            .contains("lineitem.csv:2: key (l_partkey, l_suppkey)=(3, 7) is not present"),
        "{}",
        failed.stderr
    );
    assert_eq!(placements(&db), (schema, empty));
}

/// Cycles among Citus tables: reference tables whose keys are NOT NULL both
/// ways, and reference tables whose cycle keys are DEFERRABLE (Citus defers
/// none of them on the shards, so they are dropped and added back).
const CYCLES: &str = "
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL);
CREATE TABLE shift (id int PRIMARY KEY, lead_id int);
CREATE TABLE crew (id int PRIMARY KEY, shift_id int);
SELECT create_reference_table('store');
SELECT create_reference_table('staff');
SELECT create_reference_table('shift');
SELECT create_reference_table('crew');
ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;
ALTER TABLE staff ADD CONSTRAINT staff_store_fkey FOREIGN KEY (store_id) REFERENCES store;
ALTER TABLE shift ADD CONSTRAINT shift_lead_fkey FOREIGN KEY (lead_id) REFERENCES crew
    DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE crew ADD CONSTRAINT crew_shift_fkey FOREIGN KEY (shift_id) REFERENCES shift
    DEFERRABLE INITIALLY IMMEDIATE;";

#[test]
fn cycles_of_citus_tables_load_with_their_keys_dropped_and_put_back_on_every_placement() {
    let test =
        "cycles_of_citus_tables_load_with_their_keys_dropped_and_put_back_on_every_placement";
    let Some(db) = cluster(test, CYCLES) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    write(dir.path(), "store.csv", b"id,manager_id\n1,1\n2,2\n");
    write(dir.path(), "staff.csv", b"id,store_id\n1,1\n2,2\n");
    write(dir.path(), "shift.csv", b"id,lead_id\n1,1\n2,2\n");
    write(dir.path(), "crew.csv", b"id,shift_id\n1,1\n2,2\n");
    let (schema, empty) = placements(&db);
    let listed = fkload(&db, dir.path(), &["-l"]).ok();
    assert!(
        listed
            .stdout
            .contains("\"crew_shift_fkey\" on public.crew -> public.shift: dropped, added back"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains(": deferred ("), "{}", listed.stdout);
    for strategy in ["keep", "revalidate"] {
        fkload(&db, dir.path(), &["--strategy", strategy, "--truncate"]).ok();
        assert_same(
            &placements(&db).0,
            &schema,
            &format!("--strategy {strategy}"),
        );
        for table in ["store", "staff", "shift", "crew"] {
            assert_eq!(placement_rows(&db, table), vec![2; 3], "{table}");
        }
    }
    // An orphan in the cycle: named by file, line, key and value; nothing
    // changes on any placement.
    db.exec("TRUNCATE store, staff, shift, crew");
    write(dir.path(), "crew.csv", b"id,shift_id\n1,1\n2,7\n");
    let failed = fkload(&db, dir.path(), &[]).fails(3);
    for expected in [
        "crew_shift_fkey",
        "crew.csv:3: key (shift_id)=(7) is not present",
    ] {
        assert!(
            failed.stderr.contains(expected),
            "{expected}:\n{}",
            failed.stderr
        );
    }
    assert_eq!(placements(&db), (schema, empty));
}

/// A shop whose orders name a customer that is not there (line 4 of
/// orders.csv, the first order of ada@example.com).
fn broken_shop(dir: &Path) {
    big_shop(dir, 20);
    let orders = std::fs::read_to_string(dir.join("orders.csv")).expect("orders");
    let orders = orders.replacen("ada@example.com", "nobody@example.com", 1);
    write(dir, "orders.csv", orders.as_bytes());
}

#[test]
fn an_orphan_in_a_distributed_table_is_reported_by_file_line_and_key_and_changes_nothing() {
    let test =
        "an_orphan_in_a_distributed_table_is_reported_by_file_line_and_key_and_changes_nothing";
    let Some(db) = cluster(test, SHOP) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    broken_shop(dir.path());
    let before = placements(&db);
    for args in [&["--strategy", "keep"][..], &["--strategy", "revalidate"]] {
        let failed = fkload(&db, dir.path(), args).fails(3);
        for expected in [
            "orders_customer_email_fkey",
            "public.orders",
            "orders.csv",
            "orders.csv:4: key (customer_email)=(nobody@example.com) is not present",
        ] {
            assert!(
                failed.stderr.contains(expected),
                "{args:?} {expected}:\n{}",
                failed.stderr
            );
        }
        assert!(
            !failed.stderr.contains("_1020"),
            "{args:?}: {}",
            failed.stderr
        );
        assert_eq!(placements(&db), before, "{args:?}");
    }
    // check lists it without loading; --on-orphan skip loads the rest.
    let checked = fkload(&db, dir.path(), &["check"]);
    assert!(
        checked.stdout.contains("orders.csv:4:") || checked.stderr.contains("orders.csv:4:"),
        "{}{}",
        checked.stdout,
        checked.stderr
    );
    let rejects = tempfile::tempdir().expect("rejects");
    let reject_dir = rejects.path().to_string_lossy().into_owned();
    fkload(
        &db,
        dir.path(),
        &["--on-orphan", "skip", "--reject-dir", &reject_dir],
    )
    .ok();
    assert_eq!(placement_rows(&db, "orders").iter().sum::<i64>(), 19);
    // A line of a distributed table whose value does not parse: its line.
    write(
        dir.path(),
        "order_line.csv",
        b"order_id,line_no,product_id,quantity\n1,1,10,1\n1,2,10,lots\n",
    );
    db.exec("TRUNCATE order_line, orders, product_note, product, customer, category");
    let bad = fkload(
        &db,
        dir.path(),
        &["--on-orphan", "skip", "--reject-dir", &reject_dir],
    )
    .fails(3);
    assert!(
        bad.stderr
            .contains("order_line.csv:3: ERROR:  invalid input syntax"),
        "{}",
        bad.stderr
    );
    assert_eq!(placements(&db), before);
}

#[test]
fn parallel_loads_and_resume_are_refused_on_citus_before_anything_is_written() {
    let test = "parallel_loads_and_resume_are_refused_on_citus_before_anything_is_written";
    let Some(db) = cluster(test, SHOP) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    big_shop(dir.path(), 20);
    let before = placements(&db);
    for args in [
        &["-j", "2"][..],
        &["--resume"],
        &["-j", "2", "--strategy", "revalidate"],
    ] {
        let refused = fkload(&db, dir.path(), args).fails(1);
        assert!(
            refused.stderr.contains("cannot work on Citus tables")
                && refused.stderr.contains("public.orders (distributed by id"),
            "{args:?}: {}",
            refused.stderr
        );
        assert_eq!(placements(&db), before, "{args:?}");
        assert_eq!(
            db.query_i64("SELECT count(*) FROM pg_namespace WHERE nspname = 'fkload'"),
            0,
            "{args:?}: a journal was made"
        );
    }
}

/// fkload with `args` on `db`, killed after `limit` if it has not ended.
fn fkload_within(db: &TestDb, dir: &Path, args: &[&str], limit: Duration) -> Option<Run> {
    let mut child = command()
        .arg("-d")
        .arg(&db.url)
        .args(args)
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run fkload");
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.try_wait().expect("wait").is_some() {
            return Some(output(child.wait_with_output().expect("output")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn the_timeouts_reach_the_workers() {
    let test = "the_timeouts_reach_the_workers";
    let Some(db) = cluster(test, SHOP) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    big_shop(dir.path(), 20);
    // A session on a worker holds every shard of orders there, as a
    // transaction of another application would.
    let shards = db.query_strings(
        "SELECT shard_name(logicalrelid, shardid) FROM pg_dist_shard WHERE logicalrelid = 'orders'::regclass",
    );
    let mut holders = Vec::new();
    for url in citus_worker_urls(&db.name) {
        let mut worker = postgres::Client::connect(&url, postgres::NoTls).expect("worker");
        let here: Vec<String> = shards
            .iter()
            .filter(|s| {
                worker
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[s])
                    .expect("regclass")
                    .get(0)
            })
            .cloned()
            .collect();
        worker
            .batch_execute("BEGIN; SET LOCAL citus.enable_manual_changes_to_shards = on")
            .expect("begin");
        for shard in &here {
            worker
                .batch_execute(&format!("LOCK TABLE {shard} IN ACCESS EXCLUSIVE MODE"))
                .expect("lock");
        }
        holders.push(worker);
    }
    let t0 = Instant::now();
    let run = fkload_within(
        &db,
        dir.path(),
        &["--lock-timeout", "1s"],
        Duration::from_secs(60),
    )
    .expect("fkload still waited for the worker's lock after 60 s: the timeout did not reach it");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("lock timeout"), "{}", run.stderr);
    // The error names the sessions on the workers that hold the locks.
    assert!(
        run.stderr.contains("on worker 127.0.0.1:") && run.stderr.contains("LOCK TABLE"),
        "{}",
        run.stderr
    );
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    // The statement timeout reaches them too: without a lock timeout, the
    // COPY waiting on a worker is cancelled after 2 s.
    let t0 = Instant::now();
    let run = fkload_within(
        &db,
        dir.path(),
        &["--lock-timeout", "0", "--statement-timeout", "2s"],
        Duration::from_secs(60),
    )
    .expect("fkload still waited after 60 s: the statement timeout did not reach the worker");
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("statement timeout"), "{}", run.stderr);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    drop(holders);
}

#[test]
fn a_load_into_citus_killed_at_any_statement_leaves_every_placement_as_it_was() {
    let test = "a_load_into_citus_killed_at_any_statement_leaves_every_placement_as_it_was";
    if !crash::enumerate(test) {
        return;
    }
    let Some(db) = cluster(test, CYCLES) else {
        return;
    };
    let dir = tempfile::tempdir().expect("dir");
    write(dir.path(), "store.csv", b"id,manager_id\n1,1\n2,2\n");
    write(dir.path(), "staff.csv", b"id,store_id\n1,1\n2,2\n");
    write(dir.path(), "shift.csv", b"id,lead_id\n1,1\n2,2\n");
    write(dir.path(), "crew.csv", b"id,shift_id\n1,1\n2,2\n");
    let before = placements(&db);
    // Revalidate: every key dropped and added back, the cycle's among them,
    // and every index rebuilt (keep's statements on this schema are a subset
    // of these).
    let args = ["--strategy", "revalidate", "--truncate"];
    let mut n = 1;
    loop {
        match crash::run_at(&db, &args, Some(dir.path()), n) {
            Outcome::Killed => {
                assert_eq!(placements(&db), before, "killed before statement {n}");
            }
            Outcome::Finished(run) => {
                assert_eq!(run.code, 0, "{}", run.stderr);
                assert!(n > 10, "only {n} statements");
                break;
            }
        }
        n += 1;
    }
}
