//! Hostile and unusual names: quoted, mixed case, spaces, dots, quotes and
//! semicolons in schema, table, column and file names. None may run as SQL.

use crate::support::{Scenario, keys};

#[test]
fn cross_schema_keys_with_quoted_mixed_case_names() {
    let s = Scenario::new(
        "quoted_names",
        r#"CREATE SCHEMA "Sales"; CREATE SCHEMA "Ref Data";
           CREATE TABLE "Ref Data"."Country Codes" ("Code" text PRIMARY KEY);
           CREATE TABLE "Sales"."Order Lines" ("Line ID" int PRIMARY KEY,
               "Country" text NOT NULL REFERENCES "Ref Data"."Country Codes");"#,
        &[
            ("Sales.Order Lines.csv", "Line ID,Country\n1,FR\n"),
            ("Ref Data/Country Codes.csv", "Code\nFR\n"),
        ],
    );
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_i64(r#"SELECT count(*) FROM "Sales"."Order Lines""#),
        1
    );
}

#[test]
fn quote_and_semicolon_in_file_name_and_header_stay_names() {
    let s = Scenario::new(
        "hostile",
        r#"CREATE TABLE canary (id int);
           CREATE TABLE "x""; DROP TABLE canary; --" ("a""b;c" int PRIMARY KEY,
               "it's; DROP TABLE canary" text);"#,
        &[(
            "x\"; DROP TABLE canary; --.csv",
            "\"a\"\"b;c\",it's; DROP TABLE canary\n1,ok\n",
        )],
    );
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_i64(r#"SELECT count(*) FROM "x""; DROP TABLE canary; --""#),
        1
    );
    assert_eq!(
        s.db.query_i64("SELECT count(*) FROM pg_class WHERE relname = 'canary'"),
        1,
        "no SQL ran from a name"
    );
}

#[test]
fn cycle_of_keys_with_hostile_names_is_restored_exactly() {
    let s = Scenario::new(
        "hostile_cycle",
        r#"CREATE SCHEMA "we ""quote"" ;";
           CREATE TABLE "we ""quote"" ;"."A" (id int PRIMARY KEY, b int NOT NULL);
           CREATE TABLE "we ""quote"" ;"."B" (id int PRIMARY KEY,
               a int NOT NULL CONSTRAINT "b → a; ""key""" REFERENCES "we ""quote"" ;"."A");
           ALTER TABLE "we ""quote"" ;"."A" ADD CONSTRAINT "a'b\c" FOREIGN KEY (b)
               REFERENCES "we ""quote"" ;"."B";
           COMMENT ON CONSTRAINT "a'b\c" ON "we ""quote"" ;"."A" IS 'it''s \ fine';"#,
        &[
            ("we \"quote\" ;/A.csv", "id,b\n1,1\n"),
            ("we \"quote\" ;/B.csv", "id,a\n1,1\n"),
        ],
    );
    let before = keys(&s.db);
    s.run(&[]).ok();
    assert_eq!(keys(&s.db), before);
}
