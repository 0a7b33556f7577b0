//! Hostile and unusual names: quoted, mixed case, spaces, dots, quotes and
//! semicolons in schema, table, column and file names. None may run as SQL.

use crate::util::support::{Scenario, keys};

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

mod generated {
    //! Property test: schemas, tables, columns and constraints named with quotes,
    //! backslashes, semicolons, spaces, dots, capitals, unicode, up to the
    //! 63-byte limit, load and come back exactly; no SQL runs from a name.

    use proptest::prelude::*;

    use crate::util::support::{Scenario, keys};

    /// A quoted identifier, written here rather than borrowed from fkload's
    /// own quoting, which is what these tests check.
    fn ident(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    /// A name PostgreSQL keeps as it is: 1 to 63 bytes, no NUL, and (as it
    /// becomes a file or folder name) no '/'.
    fn name() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![
                Just('"'),
                Just('\''),
                Just('\\'),
                Just(';'),
                Just(' '),
                Just('.'),
                Just('-'),
                Just('é'),
                Just('Ж'),
                Just('😀'),
                proptest::char::range('a', 'z'),
                proptest::char::range('A', 'Z'),
            ],
            1..40,
        )
        .prop_map(|chars| {
            let mut s: String = chars.into_iter().collect();
            while s.len() > 63 {
                s.pop();
            }
            s
        })
        .prop_filter("not . or ..", |s| s != "." && s != "..")
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]
        #[test]
        fn hostile_names_load_and_keys_come_back(
            schema in name(), parent in name(), child in name(), col in name(), key in name()
        ) {
            prop_assume!(parent != child);
            let (s_, p_, c_, k_) = (ident(&schema), ident(&parent), ident(&child), ident(&key));
            let col_ = ident(&col);
            let sql = format!(
                "CREATE SCHEMA {s_};
                 CREATE TABLE {s_}.{p_} ({col_} int PRIMARY KEY, other int NOT NULL);
                 CREATE TABLE {s_}.{c_} ({col_} int NOT NULL CONSTRAINT {k_} REFERENCES {s_}.{p_});
                 CREATE UNIQUE INDEX ON {s_}.{c_} ({col_});
                 ALTER TABLE {s_}.{p_} ADD FOREIGN KEY (other) REFERENCES {s_}.{c_} ({col_}) DEFERRABLE;"
            );
            // The header names the column as CSV writes it: quoted, quotes doubled.
            let header = format!("\"{}\"", col.replace('"', "\"\""));
            let sc = Scenario::new(
                "generated_names",
                &sql,
                &[
                    (&format!("{schema}/{parent}.csv"), &format!("{header},other\n1,1\n2,2\n")),
                    (&format!("{schema}/{child}.csv"), &format!("{header}\n1\n2\n")),
                ],
            );
            let before = keys(&sc.db);
            for strategy in ["keep", "revalidate"] {
                sc.db.exec(&format!("TRUNCATE {s_}.{p_}, {s_}.{c_}"));
                sc.run(&["--strategy", strategy]).ok();
                prop_assert_eq!(sc.db.query_i64(&format!("SELECT count(*) FROM {s_}.{c_}")), 2);
                prop_assert_eq!(keys(&sc.db), before.clone());
            }
        }
    }
}
