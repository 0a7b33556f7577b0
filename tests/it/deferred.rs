//! Deferred triggers and the statements PostgreSQL refuses while their events
//! are pending ("cannot ALTER TABLE ... because it has pending trigger
//! events"): valid data loads on every path (keep, revalidate, `-j 2` with
//! either, `--truncate` with either, `--resume`) whatever deferred trigger
//! the tables carry, and every key and index is back as it was.

use crate::util::support::{Scenario, counts, indexes, keys};

/// The case that broke: a key that is `NOT VALID` and `DEFERRABLE INITIALLY
/// DEFERRED` stays in place under revalidate, so every child row queues an
/// event until COMMIT, and the child's primary key (rebuilt after the data)
/// could not be built.
const NOT_VALID_DEFERRED: &str = "
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int PRIMARY KEY, parent_id int NOT NULL);
CREATE INDEX child_parent ON child (parent_id);
ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id)
  REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED NOT VALID;";

/// A constraint trigger of the user's, deferred: it queues an event for each
/// child row too (on a partitioned child: on each partition).
const CONSTRAINT_TRIGGER: &str = "
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int, kind text NOT NULL, parent_id int NOT NULL REFERENCES parent,
                    PRIMARY KEY (id, kind)) PARTITION BY LIST (kind);
CREATE TABLE child_a PARTITION OF child FOR VALUES IN ('a');
CREATE TABLE child_b PARTITION OF child FOR VALUES IN ('b');
CREATE TABLE note (id int PRIMARY KEY, child_id int NOT NULL, child_kind text NOT NULL,
                   FOREIGN KEY (child_id, child_kind) REFERENCES child);
CREATE FUNCTION checked() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RETURN NULL; END$$;
CREATE CONSTRAINT TRIGGER child_checked AFTER INSERT ON child
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION checked();
CREATE CONSTRAINT TRIGGER note_checked AFTER INSERT ON note
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION checked();";

/// Under keep, a cycle key deferred and another dropped on the same table:
/// staff -> store is deferrable (deferred), staff -> visit is not (dropped
/// and added back: an ALTER TABLE of staff, whose rows queued the deferred
/// key's events). visit -> staff is NOT VALID, so it is not the one broken.
const DEFERRED_AND_DROPPED: &str = "
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL, visit_id int NOT NULL);
CREATE TABLE visit (id int PRIMARY KEY, staff_id int NOT NULL);
ALTER TABLE store ADD CONSTRAINT store_manager_fk FOREIGN KEY (manager_id) REFERENCES staff;
ALTER TABLE staff ADD CONSTRAINT staff_store_fk FOREIGN KEY (store_id) REFERENCES store
  DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE staff ADD CONSTRAINT staff_visit_fk FOREIGN KEY (visit_id) REFERENCES visit;
ALTER TABLE visit ADD CONSTRAINT visit_staff_fk FOREIGN KEY (staff_id) REFERENCES staff
  NOT VALID;
COMMENT ON CONSTRAINT staff_visit_fk ON staff IS 'added back after a deferral';";

/// A trigger of one loaded table writes rows into another, loaded later,
/// whose deferred constraint trigger queues events for them: under
/// `--truncate`, that table cannot be emptied just before its own rows.
const WRITES_AHEAD: &str = "
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE zlog (id bigserial PRIMARY KEY, parent_id int, note text);
CREATE FUNCTION log_parent() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN INSERT INTO zlog (parent_id, note) VALUES (NEW.id, 'by trigger'); RETURN NEW; END$$;
CREATE TRIGGER log_parent AFTER INSERT ON parent FOR EACH ROW EXECUTE FUNCTION log_parent();
CREATE FUNCTION checked() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN RETURN NULL; END$$;
CREATE CONSTRAINT TRIGGER zlog_checked AFTER INSERT ON zlog
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION checked();";

type Files = &'static [(&'static str, &'static str)];

fn scenarios() -> Vec<(&'static str, &'static str, Files)> {
    vec![
        (
            "not_valid_deferred",
            NOT_VALID_DEFERRED,
            &[
                ("parent.csv", "id\n1\n2\n"),
                ("child.csv", "id,parent_id\n1,1\n2,2\n"),
            ],
        ),
        (
            "constraint_trigger",
            CONSTRAINT_TRIGGER,
            &[
                ("parent.csv", "id\n1\n2\n"),
                ("child.csv", "id,kind,parent_id\n1,a,1\n2,b,2\n"),
                ("note.csv", "id,child_id,child_kind\n1,1,a\n2,2,b\n"),
            ],
        ),
        (
            "writes_ahead",
            WRITES_AHEAD,
            &[
                ("parent.csv", "id\n1\n2\n"),
                ("zlog.csv", "id,parent_id,note\n100,1,from the file\n"),
            ],
        ),
        (
            "deferred_and_dropped",
            DEFERRED_AND_DROPPED,
            &[
                ("store.csv", "id,manager_id\n1,1\n2,2\n"),
                ("staff.csv", "id,store_id,visit_id\n1,1,1\n2,2,2\n"),
                ("visit.csv", "id,staff_id\n1,1\n2,2\n"),
            ],
        ),
    ]
}

/// Every path a load can take.
const PATHS: [&[&str]; 6] = [
    &["--strategy", "keep"],
    &["--strategy", "revalidate"],
    &["--strategy", "keep", "--truncate"],
    &["--strategy", "revalidate", "--truncate"],
    &["--strategy", "keep", "-j", "2"],
    &["--strategy", "revalidate", "-j", "2"],
];

#[test]
fn valid_data_loads_under_deferred_triggers_on_every_path() {
    for (label, schema, files) in scenarios() {
        for (n, args) in PATHS.iter().enumerate() {
            let s = Scenario::new(&format!("{label}_{n}"), schema, files);
            let (k, i) = (keys(&s.db), indexes(&s.db));
            let out = s.run(args);
            assert_eq!(
                out.code, 0,
                "{label} {args:?}:\n{}\n{}",
                out.stderr, out.stdout
            );
            assert!(
                counts(&s.db).iter().all(|c| !c.ends_with("=0")),
                "{label} {args:?}: {:?}",
                counts(&s.db)
            );
            assert_eq!(keys(&s.db), k, "{label} {args:?}: keys");
            assert_eq!(indexes(&s.db), i, "{label} {args:?}: indexes");
        }
    }
}

/// `--resume` after a parallel load killed half way (a crash point of the
/// `failpoints` build), on each scenario.
#[test]
fn a_killed_parallel_load_under_deferred_triggers_resumes() {
    if !crate::util::crash::available("a_killed_parallel_load_under_deferred_triggers_resumes") {
        return;
    }
    for (label, schema, files) in scenarios() {
        for strategy in ["keep", "revalidate"] {
            let s = Scenario::new(&format!("{label}_resume_{strategy}"), schema, files);
            let (k, i) = (keys(&s.db), indexes(&s.db));
            let args = ["--strategy", strategy, "-j", "2"];
            crate::util::crash::interrupt(&s, &args);
            s.run(&["-j", "2", "--resume"]).ok();
            assert!(counts(&s.db).iter().all(|c| !c.ends_with("=0")));
            assert_eq!(keys(&s.db), k, "{label} {strategy}: keys");
            assert_eq!(indexes(&s.db), i, "{label} {strategy}: indexes");
        }
    }
}
