//! Files sent as several COPY statements (`--batch-size`): every row arrives once,
//! errors in later batches name the file's own line, and a self-referencing file
//! whose key checks each statement is never cut.

use crate::util::support::{Scenario, assert_unchanged, snapshot};

fn rows(n: usize, crlf: bool) -> String {
    let eol = if crlf { "\r\n" } else { "\n" };
    let mut s = format!("id,note{eol}");
    for i in 1..=n {
        if i % 7 == 0 {
            s.push_str(&format!("{i},\"two{eol}lines\"{eol}"));
        } else {
            s.push_str(&format!("{i},n{i}{eol}"));
        }
    }
    s
}

#[test]
fn every_row_arrives_once_across_batches() {
    for crlf in [false, true] {
        let s = Scenario::new(
            "batches",
            "CREATE TABLE t (id int PRIMARY KEY, note text);",
            &[("t.csv", &rows(200, crlf))],
        );
        s.run(&["--batch-size", "64"])
            .ok()
            .stdout_has("loaded 200 rows");
        assert_eq!(s.db.query_i64("SELECT count(*) FROM t"), 200);
        assert_eq!(s.db.query_i64("SELECT sum(id) FROM t"), 200 * 201 / 2);
        let eol = if crlf { "\r\n" } else { "\n" };
        assert_eq!(
            s.db.query_strings("SELECT note FROM t WHERE id = 14"),
            [format!("two{eol}lines")]
        );
    }
}

#[test]
fn an_error_in_a_later_batch_names_the_files_line() {
    let mut body = rows(200, false);
    body.push_str("201,ok\nbad,x\n");
    // 200 rows, every 7th on two lines: 228 lines of rows, the header, then 201.
    let s = Scenario::new(
        "batch_error",
        "CREATE TABLE t (id int PRIMARY KEY, note text);",
        &[("t.csv", &body)],
    );
    let before = snapshot(&s.db);
    // Statements of one record each: every multi-line record starts a statement,
    // whose own line count the server begins before it knows the line ends.
    for size in ["100", "1"] {
        s.run(&["--batch-size", size])
            .fails(3)
            .stderr_has("t.csv:231: ERROR:  invalid input syntax for type integer: \"bad\"");
        assert_unchanged(&s.db, &before);
    }
}

#[test]
fn a_self_referencing_file_checked_per_statement_is_never_cut() {
    // Children first: cut into batches, the first batch's rows would miss their
    // parents at the end of its statement.
    let mut body = String::from("id,boss\n");
    for i in 1..100 {
        body.push_str(&format!("{i},{}\n", i + 1));
    }
    body.push_str("100,\n");
    let s = Scenario::new(
        "selfref_batches",
        "CREATE TABLE e (id int PRIMARY KEY, boss int REFERENCES e);",
        &[("e.csv", &body)],
    );
    s.run(&["--strategy", "keep", "--batch-size", "32"]).ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM e"), 100);
    // Revalidate drops the key, so the file may be cut.
    let s = Scenario::new(
        "selfref_batches_revalidate",
        "CREATE TABLE e (id int PRIMARY KEY, boss int REFERENCES e);",
        &[("e.csv", &body)],
    );
    s.run(&["--strategy", "revalidate", "--batch-size", "32"])
        .ok();
    assert_eq!(s.db.query_i64("SELECT count(*) FROM e"), 100);
}
