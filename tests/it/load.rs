//! Loads that succeed: shapes of key graphs, column mapping, sequences, triggers.

use crate::util::support::{Scenario, counts, keys};

#[test]
fn parent_and_child_load_parent_first() {
    // The child's file sorts first by name; only the key order makes it work.
    let s = Scenario::new(
        "parent_child",
        "CREATE TABLE b_parent (id int PRIMARY KEY);
         CREATE TABLE a_child (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES b_parent);",
        &[
            ("a_child.csv", "id,parent_id\n1,10\n2,20\n"),
            ("b_parent.csv", "id\n10\n20\n"),
        ],
    );
    s.run(&[]).ok().stdout_has("loaded 4 rows");
    assert_eq!(s.db.query_i64("SELECT count(*) FROM a_child"), 2);
}

#[test]
fn chain_gets_one_level_per_table() {
    let s = Scenario::new(
        "chain",
        "CREATE TABLE c1 (id int PRIMARY KEY);
         CREATE TABLE b2 (id int PRIMARY KEY, c1 int NOT NULL REFERENCES c1);
         CREATE TABLE a3 (id int PRIMARY KEY, b2 int NOT NULL REFERENCES b2);",
        &[
            ("a3.csv", "id,b2\n1,1\n"),
            ("b2.csv", "id,c1\n1,1\n"),
            ("c1.csv", "id\n1\n"),
        ],
    );
    let out = s.run(&["-l"]).ok();
    let order: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains(".csv"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .map(|l| Box::leak(l.into_boxed_str()) as &str)
        .collect();
    assert_eq!(
        order,
        [
            "1 c1.csv public.c1",
            "2 b2.csv public.b2",
            "3 a3.csv public.a3"
        ]
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM a3"), 1);
}

#[test]
fn diamond_loads_both_middles_before_the_bottom() {
    let s = Scenario::new(
        "diamond",
        "CREATE TABLE top (id int PRIMARY KEY);
         CREATE TABLE left_side (id int PRIMARY KEY, top_id int NOT NULL REFERENCES top);
         CREATE TABLE right_side (id int PRIMARY KEY, top_id int NOT NULL REFERENCES top);
         CREATE TABLE bottom (l int NOT NULL REFERENCES left_side, r int NOT NULL REFERENCES right_side);",
        &[
            ("bottom.csv", "l,r\n1,2\n"),
            ("left_side.csv", "id,top_id\n1,1\n"),
            ("right_side.csv", "id,top_id\n2,1\n"),
            ("top.csv", "id\n1\n"),
        ],
    );
    let plan = s.run(&["-l"]).ok().stdout;
    let pos = |f: &str| {
        plan.find(f)
            .unwrap_or_else(|| panic!("{f} not in plan:\n{plan}"))
    };
    assert!(pos("top.csv") < pos("left_side.csv") && pos("top.csv") < pos("right_side.csv"));
    assert!(pos("left_side.csv") < pos("bottom.csv") && pos("right_side.csv") < pos("bottom.csv"));
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM bottom"), 1);
}

#[test]
fn composite_key_and_key_to_unique_column() {
    let s = Scenario::new(
        "composite",
        "CREATE TABLE region (country text, code text, name text, PRIMARY KEY (country, code));
         CREATE TABLE account (id int PRIMARY KEY, email text NOT NULL UNIQUE);
         CREATE TABLE office (id int PRIMARY KEY, country text, code text,
             manager_email text REFERENCES account (email),
             FOREIGN KEY (country, code) REFERENCES region);",
        &[
            (
                "office.csv",
                "id,country,code,manager_email\n1,FR,75,a@x\n2,DE,BE,\n3,,,b@x\n",
            ),
            ("account.csv", "id,email\n1,a@x\n2,b@x\n"),
            (
                "region.csv",
                "country,code,name\nFR,75,Paris\nDE,BE,Berlin\n",
            ),
        ],
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM office"), 3);
}

#[test]
fn self_reference_whose_children_come_before_parents() {
    let s = Scenario::new(
        "selfref",
        "CREATE TABLE employee (id int PRIMARY KEY, boss int REFERENCES employee);",
        &[("employee.csv", "id,boss\n3,2\n2,1\n1,\n")],
    );
    s.run(&["-l"]).ok().stdout_has("(references itself)");
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM employee"), 3);
}

#[test]
fn columns_map_by_header_name_in_any_order_and_omitted_ones_take_defaults() {
    let s = Scenario::new(
        "columns",
        "CREATE TABLE t (id int PRIMARY KEY, a text, b text DEFAULT 'dflt',
                         total int GENERATED ALWAYS AS (id * 10) STORED);",
        &[("t.csv", "a,id\nx,1\n\"\",2\n,3\n")],
    );
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_strings(
            "SELECT concat_ws('|', id, coalesce(a, 'NULL'), b, total) FROM t ORDER BY id"
        ),
        ["1|x|dflt|10", "2||dflt|20", "3|NULL|dflt|30"],
        "unquoted empty is NULL, \"\" is an empty string, generated column computed"
    );
}

#[test]
fn identity_always_takes_the_files_values_and_sequences_move_past_them() {
    let s = Scenario::new(
        "sequences",
        "CREATE TABLE ident (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
         CREATE TABLE ser (id serial PRIMARY KEY, v text);
         CREATE SEQUENCE loose_seq;  -- not OWNED BY the column, as in Pagila
         CREATE TABLE loose (id int PRIMARY KEY DEFAULT nextval('loose_seq'), v text);
         CREATE SEQUENCE ahead_seq START 1000;
         SELECT nextval('ahead_seq');
         CREATE TABLE ahead (id int PRIMARY KEY DEFAULT nextval('ahead_seq'));",
        &[
            ("ident.csv", "id,v\n7,a\n42,b\n"),
            ("ser.csv", "id,v\n5,a\n9,b\n"),
            ("loose.csv", "id,v\n30,a\n"),
            ("ahead.csv", "id\n3\n"),
        ],
    );
    s.run(&[]).ok().stdout_has("3 sequences advanced");
    assert_eq!(
        s.db.query_strings("SELECT id::text FROM ident ORDER BY ident.id"),
        ["7", "42"]
    );
    s.db.exec(
        "INSERT INTO ident (v) VALUES ('c'); INSERT INTO ser (v) VALUES ('c');
         INSERT INTO loose (v) VALUES ('b'); INSERT INTO ahead DEFAULT VALUES;",
    );
    assert_eq!(s.db.query_i64("SELECT max(id) FROM ident"), 43);
    assert_eq!(s.db.query_i64("SELECT max(id) FROM ser"), 10);
    assert_eq!(s.db.query_i64("SELECT max(id) FROM loose"), 31);
    assert_eq!(
        s.db.query_i64("SELECT max(id) FROM ahead"),
        1001,
        "a sequence ahead of the data is never moved backwards"
    );
}

#[test]
fn before_insert_trigger_fires() {
    let s = Scenario::new(
        "trigger",
        "CREATE TABLE doc (id int PRIMARY KEY, body text, words int);
         CREATE FUNCTION count_words() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN NEW.words := array_length(regexp_split_to_array(NEW.body, '\\s+'), 1); RETURN NEW; END $$;
         CREATE TRIGGER doc_words BEFORE INSERT ON doc FOR EACH ROW EXECUTE FUNCTION count_words();",
        &[("doc.csv", "id,body\n1,one two three\n")],
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT words FROM doc"), 3);
}

#[test]
fn parent_outside_the_directory_counts_its_existing_rows() {
    let s = Scenario::new(
        "outside_parent",
        "CREATE TABLE currency (code text PRIMARY KEY);
         INSERT INTO currency VALUES ('EUR'), ('USD');
         CREATE TABLE price (id int PRIMARY KEY, currency text NOT NULL REFERENCES currency);",
        &[("price.csv", "id,currency\n1,EUR\n2,USD\n")],
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM price"), 2);
}

/// An empty directory is an error, not a load of nothing (issue 12: a
/// directory of files fkload does not read used to "load 0 rows" and exit 0).
#[test]
fn an_empty_directory_is_an_error() {
    let s = Scenario::new("empty_dir", "CREATE TABLE t (id int);", &[]);
    s.run(&[]).fails(1).stderr_has("no data files");
}

#[test]
fn header_only_files_load_no_rows() {
    let s = Scenario::new(
        "header_only",
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (p int REFERENCES p);",
        &[("p.csv", "id\n"), ("c.csv", "p")],
    );
    s.run(&[]).ok();
    assert_eq!(counts(&s.db), ["public.c=0", "public.p=0"]);
}

#[test]
fn bom_crlf_and_embedded_newlines_load() {
    let s = Scenario::new(
        "bom_crlf",
        "CREATE TABLE note (id int PRIMARY KEY, body text);",
        &[(
            "note.csv",
            "\u{feff}id,body\r\n1,\"a\r\nb\"\r\n2,\"x,\"\"y\"\"\"\r\n",
        )],
    );
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_strings("SELECT body FROM note ORDER BY id"),
        ["a\r\nb", "x,\"y\""]
    );
}

#[test]
fn schema_folders_and_dotted_names_pick_the_schema() {
    let s = Scenario::new(
        "schemas",
        "CREATE SCHEMA sales; CREATE SCHEMA hr;
         CREATE TABLE sales.region (id int PRIMARY KEY);
         CREATE TABLE hr.staff (id int PRIMARY KEY, region int REFERENCES sales.region);",
        &[
            ("hr/staff.csv", "id,region\n1,1\n"),
            ("sales.region.csv", "id\n1\n"),
        ],
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM hr.staff"), 1);
}

#[test]
fn library_loads_the_example_fixture() {
    let (db, dir) = crate::util::support::Scenario::fixture("shop");
    let before = keys(&db);
    let mut client = db.client();
    let report = fkload::load_dir(&mut client, &dir).expect("load");
    assert_eq!(report.rows(), 17);
    assert_eq!(report.tables.len(), 5);
    assert_eq!(keys(&db), before);
    assert_eq!(db.query_i64("SELECT count(*) FROM order_line"), 4);
}

#[test]
fn text_key_fed_by_a_sequence_is_left_alone() {
    // The sequence feeds a text column through an expression: the data says
    // nothing about where it should be, and max(code)::int8 would fail.
    let s = Scenario::new(
        "text_sequence",
        "CREATE SEQUENCE code_seq;
         CREATE TABLE t (code text PRIMARY KEY DEFAULT 'X' || nextval('code_seq'));",
        &[("t.csv", "code\nX7\nY\n")],
    );
    s.run(&[]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 2);
}

/// From the first review.
#[test]
fn sequences_stay_put_when_the_load_fails_and_never_pass_their_bounds() {
    let s = Scenario::new(
        "sequence_bounds",
        "CREATE TABLE a (id serial PRIMARY KEY);
         CREATE SEQUENCE s MAXVALUE 100;
         CREATE TABLE b (id int PRIMARY KEY DEFAULT nextval('s'));",
        &[("a.csv", "id\n500\n"), ("b.csv", "id\n500\n")],
    );
    let out = s.run(&[]).ok();
    assert!(
        out.stderr
            .contains("WARNING:  sequence public.s was not advanced"),
        "{}",
        out.stderr
    );
    assert_eq!(s.db.query_i64("SELECT last_value FROM a_id_seq"), 500);

    let s = Scenario::new(
        "sequence_rollback",
        "CREATE TABLE a (id serial PRIMARY KEY);
         CREATE TABLE c (a_id int REFERENCES a);",
        &[("a.csv", "id\n500\n"), ("c.csv", "a_id\n501\n")],
    );
    s.run(&[]).fails(3);
    assert_eq!(
        s.db.query_strings("SELECT is_called::text FROM a_id_seq"),
        ["false"],
        "a failed load moves no sequence"
    );
}
