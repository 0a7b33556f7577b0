//! Foreign-key cycles: deferred when deferrable, otherwise dropped and added back
//! exactly as they were.

use crate::util::support::{Scenario, assert_unchanged, keys, set_aside, snapshot};

const TWO: &str = "
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL REFERENCES store ON DELETE CASCADE);
ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;
COMMENT ON CONSTRAINT store_manager_fkey ON store IS 'each store''s manager; it''s \\ here';
COMMENT ON CONSTRAINT staff_store_id_fkey ON staff IS 'staff work in a store';";

#[test]
fn two_table_cycle_of_not_null_keys_drops_one_key_and_restores_it() {
    let s = Scenario::new(
        "cycle2",
        TWO,
        &[
            ("store.csv", "id,manager_id\n1,10\n2,20\n"),
            ("staff.csv", "id,store_id\n10,1\n20,2\n"),
        ],
    );
    let before = keys(&s.db);
    let (planned, done) = set_aside();
    let plan = s.run(&["-l"]).ok().stdout;
    assert_eq!(plan.matches(planned).count(), 1, "{plan}");
    s.run(&[]).ok().stdout_has(done);
    assert_eq!(
        keys(&s.db),
        before,
        "keys, comments included, come back exactly"
    );
    assert_eq!(s.db.query_i64("SELECT count(*) FROM staff"), 2);
}

#[test]
fn three_table_cycle_breaks_one_key() {
    let s = Scenario::new(
        "cycle3",
        "CREATE TABLE a (id int PRIMARY KEY, b_id int NOT NULL);
         CREATE TABLE b (id int PRIMARY KEY, c_id int NOT NULL);
         CREATE TABLE c (id int PRIMARY KEY, a_id int NOT NULL REFERENCES a);
         ALTER TABLE a ADD FOREIGN KEY (b_id) REFERENCES b;
         ALTER TABLE b ADD FOREIGN KEY (c_id) REFERENCES c;",
        &[
            ("a.csv", "id,b_id\n1,1\n"),
            ("b.csv", "id,c_id\n1,1\n"),
            ("c.csv", "id,a_id\n1,1\n"),
        ],
    );
    let before = keys(&s.db);
    let plan = s.run(&["-l"]).ok().stdout;
    assert_eq!(plan.matches("broken by").count(), 1, "{plan}");
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
}

#[test]
fn deferrable_cycle_is_deferred_not_dropped() {
    let s = Scenario::new(
        "cycle_deferrable",
        "CREATE TABLE husband (id int PRIMARY KEY, wife_id int NOT NULL);
         CREATE TABLE wife (id int PRIMARY KEY,
             husband_id int NOT NULL REFERENCES husband DEFERRABLE INITIALLY IMMEDIATE);
         ALTER TABLE husband ADD FOREIGN KEY (wife_id) REFERENCES wife DEFERRABLE;",
        &[
            ("husband.csv", "id,wife_id\n1,2\n"),
            ("wife.csv", "id,husband_id\n2,1\n"),
        ],
    );
    let before = keys(&s.db);
    let plan = s.run(&["-l"]).ok().stdout;
    assert!(plan.contains("deferred (the key is DEFERRABLE"), "{plan}");
    assert!(plan.contains("dropped keys: none"), "{plan}");
    s.run(&[]).ok().stdout_has("1 keys deferred");
    assert_eq!(keys(&s.db), before);
}

#[test]
fn not_valid_key_in_a_cycle_stays_not_valid() {
    let s = Scenario::new(
        "cycle_not_valid",
        "CREATE TABLE x (id int PRIMARY KEY, y_id int);
         CREATE TABLE y (id int PRIMARY KEY, x_id int REFERENCES x);
         INSERT INTO x VALUES (100, 999);  -- an old orphan the NOT VALID key tolerates
         ALTER TABLE x ADD CONSTRAINT x_y_fkey FOREIGN KEY (y_id) REFERENCES y NOT VALID;",
        &[("x.csv", "id,y_id\n1,1\n"), ("y.csv", "id,x_id\n1,1\n")],
    );
    let before = keys(&s.db);
    assert!(
        before
            .iter()
            .any(|k| k.starts_with("x_y_fkey") && k.contains("NOT VALID"))
    );
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
}

#[test]
fn orphan_in_a_cycle_is_found_at_validation_and_the_dropped_key_comes_back() {
    let s = Scenario::new(
        "cycle_orphan",
        TWO,
        &[
            ("store.csv", "id,manager_id\n1,10\n2,99\n"),
            ("staff.csv", "id,store_id\n10,1\n20,2\n"),
        ],
    );
    let before = snapshot(&s.db);
    let out = s.run(&[]).fails(3);
    assert!(
        out.stderr.contains("store_manager_fkey") || out.stderr.contains("staff_store_id_fkey")
    );
    // Whichever key was dropped, the orphan is found with its line.
    assert!(
        out.stderr.contains("store.csv:3: key (manager_id)=(99)"),
        "{}",
        out.stderr
    );
    assert_unchanged(&s.db, &before);
}

#[test]
fn orphan_behind_a_deferred_key_is_found_when_the_deferred_keys_are_checked() {
    let s = Scenario::new(
        "deferred_orphan",
        "CREATE TABLE husband (id int PRIMARY KEY, wife_id int NOT NULL);
         CREATE TABLE wife (id int PRIMARY KEY,
             husband_id int NOT NULL REFERENCES husband DEFERRABLE);
         ALTER TABLE husband ADD FOREIGN KEY (wife_id) REFERENCES wife DEFERRABLE;",
        &[
            ("husband.csv", "id,wife_id\n1,2\n3,4\n"),
            ("wife.csv", "id,husband_id\n2,1\n4,3\n6,5\n"),
        ],
    );
    let before = snapshot(&s.db);
    s.run(&[])
        .fails(3)
        .stderr_has("wife.csv:4: key (husband_id)=(5) is not present in table public.husband");
    assert_unchanged(&s.db, &before);
}

#[test]
fn not_valid_key_dropped_for_a_cycle_still_rejects_loaded_orphans() {
    // Had the NOT VALID key stayed in place it would have checked the new rows;
    // dropping it to break the cycle (one key, against two the other way) must
    // not let orphans in.
    let s = Scenario::new(
        "not_valid_orphan",
        "CREATE TABLE x (id int PRIMARY KEY, y_id int);
         CREATE TABLE y (id int PRIMARY KEY, x_id int NOT NULL REFERENCES x,
                         x2 int NOT NULL REFERENCES x);
         ALTER TABLE x ADD CONSTRAINT x_y_fkey FOREIGN KEY (y_id) REFERENCES y NOT VALID;",
        &[
            ("x.csv", "id,y_id\n1,1\n2,42\n"),
            ("y.csv", "id,x_id,x2\n1,1,1\n"),
        ],
    );
    let plan = s.run(&["-l"]).ok().stdout;
    assert!(
        plan.contains("\"x_y_fkey\" on public.x -> public.y: dropped"),
        "{plan}"
    );
    let before = snapshot(&s.db);
    s.run(&[])
        .fails(3)
        .stderr_has("x.csv:3: key (y_id)=(42) is not present in table public.y");
    assert_unchanged(&s.db, &before);
}
