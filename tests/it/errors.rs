//! Loads that fail: each must exit with the documented code, name the file and
//! line (or constraint and key), and leave rows and keys exactly as they were.

use crate::util::support::{Scenario, assert_unchanged, snapshot};

const SHOP: &str = "
CREATE TABLE customer (id int PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customer,
                     qty int NOT NULL, note text);
INSERT INTO customer VALUES (1000, 'existing@x');";

fn shop(label: &str, orders: &str) -> Scenario {
    Scenario::new(
        label,
        SHOP,
        &[
            ("customer.csv", "id,email\n1,a@x\n2,b@x\n"),
            ("orders.csv", orders),
        ],
    )
}

/// Runs a scenario expected to fail with `code`, checks the database did not
/// change, and returns stderr.
fn fails(s: &Scenario, code: i32) -> String {
    let before = snapshot(&s.db);
    let out = s.run(&[]).fails(code);
    assert_unchanged(&s.db, &before);
    out.stderr
}

#[test]
fn every_orphan_is_reported_with_file_line_and_key() {
    let s = shop(
        "orphans",
        "id,customer_id,qty,note\n1,1,1,\n2,99,1,\n3,2,1,\"multi\nline\"\n4,98,1,\n5,1000,1,\n6,99,2,\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("violates foreign key constraint \"orders_customer_id_fkey\""),
        "{err}"
    );
    assert!(
        err.contains("DETAIL:  3 rows of public.orders have no parent row in public.customer; 2 distinct keys are missing."),
        "{err}"
    );
    assert!(
        err.contains("missing from public.customer: (customer_id)=(99), (customer_id)=(98)"),
        "{err}"
    );
    for (line, key) in [(3, 99), (6, 98), (8, 99)] {
        let want = format!(
            "orders.csv:{line}: key (customer_id)=({key}) is not present in table public.customer"
        );
        assert!(err.contains(&want), "missing {want:?} in:\n{err}");
    }
    assert!(
        !err.contains("orders.csv:7:"),
        "row with an existing parent outside the files is fine"
    );
}

#[test]
fn bad_value_names_file_line_and_column() {
    let s = shop("bad_value", "id,customer_id,qty,note\n1,1,1,\n2,1,x,\n");
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:3: ERROR:  invalid input syntax for type integer: \"x\""),
        "{err}"
    );
    assert!(err.contains("column qty"), "{err}");
}

#[test]
fn error_after_a_multiline_record_points_at_the_records_first_line() {
    let s = shop(
        "multiline_line",
        "id,customer_id,qty,note\n1,1,1,\"a\nb\nc\"\n2,1,1,\"d\ne\"\n3,1,oops,\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:7: ERROR:  invalid input syntax"),
        "{err}"
    );
    let s = shop(
        "multiline_line2",
        "id,customer_id,qty,note\n1,1,1,\"a\nb\"\n2,1,x,\"c\nd\"\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:4: ERROR:  invalid input syntax"),
        "{err}"
    );
}

#[test]
fn wrong_column_counts_name_the_line() {
    let s = shop(
        "extra_column",
        "id,customer_id,qty,note\n1,1,1,\n2,1,1,,extra\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:3: ERROR:  extra data after last expected column"),
        "{err}"
    );
    let s = shop("missing_column", "id,customer_id,qty,note\n1,1,1,\n2,1\n");
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:3: ERROR:  missing data for column \"qty\""),
        "{err}"
    );
}

#[test]
fn unterminated_quote_points_at_the_opening_record() {
    let s = shop(
        "unterminated",
        "id,customer_id,qty,note\n1,1,1,\n2,1,1,\"never closed\n3,1,1,\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:3: ERROR:  unterminated CSV quoted field"),
        "{err}"
    );
}

#[test]
fn not_null_violation_names_the_line() {
    let s = shop("not_null", "id,customer_id,qty,note\n1,1,1,\n2,1,,\n");
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:3: ERROR:  null value in column \"qty\""),
        "{err}"
    );
}

#[test]
fn duplicate_key_names_the_line() {
    let s = shop(
        "duplicate",
        "id,customer_id,qty,note\n1,1,1,\n2,1,1,\n1,2,1,\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains(
            "orders.csv:4: ERROR:  duplicate key value violates unique constraint \"orders_pkey\""
        ),
        "{err}"
    );
    assert!(
        err.contains("DETAIL:  Key (id)=(1) already exists."),
        "{err}"
    );
}

#[test]
fn duplicate_of_an_existing_row_names_the_line() {
    let s = Scenario::new(
        "dup_existing",
        SHOP,
        &[("customer.csv", "id,email\n1,a@x\n1000,b@x\n")],
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("customer.csv:3: ERROR:  duplicate key value"),
        "{err}"
    );
}

#[test]
fn unknown_table_lists_similar_names() {
    let s = Scenario::new("unknown_table", SHOP, &[("Customer.csv", "id,email\n")]);
    let err = fails(&s, 1);
    assert!(
        err.contains("Customer.csv: no table matches this file name"),
        "{err}"
    );
    assert!(err.contains("Similar tables: public.customer"), "{err}");
}

#[test]
fn ambiguous_name_lists_the_candidates() {
    let s = Scenario::new(
        "ambiguous",
        "CREATE SCHEMA a; CREATE TABLE a.b (id int); CREATE TABLE public.\"a.b\" (id int);",
        &[("a.b.csv", "id\n1\n")],
    );
    let err = fails(&s, 1);
    assert!(err.contains("file name is ambiguous"), "{err}");
    assert!(
        err.contains("public.\"a.b\"") && err.contains("a.b"),
        "{err}"
    );
}

#[test]
fn two_files_for_one_table() {
    let s = Scenario::new(
        "two_files",
        SHOP,
        &[
            ("customer.csv", "id,email\n"),
            ("public.customer.csv", "id,email\n"),
        ],
    );
    let err = fails(&s, 1);
    assert!(
        err.contains("table public.customer is named by more than one file"),
        "{err}"
    );
}

#[test]
fn header_problems_are_caught_before_anything_is_written() {
    for (label, header, want) in [
        (
            "unknown_col",
            "id,mail",
            "column \"mail\" of the header row does not exist in table public.customer",
        ),
        (
            "dup_col",
            "id,email,id",
            "column \"id\" appears more than once",
        ),
        (
            "empty_col",
            "id,,email",
            "column name 2 of the header row is empty",
        ),
        ("empty_file", "", "file is empty"),
    ] {
        let body = if header.is_empty() {
            String::new()
        } else {
            format!("{header}\n1,a@x\n")
        };
        let s = Scenario::new(label, SHOP, &[("customer.csv", &body)]);
        let err = fails(&s, 1);
        assert!(err.contains(want), "{label}: {err}");
        assert!(
            err.contains("customer.csv:1:") || label == "empty_file",
            "{label}: {err}"
        );
    }
}

#[test]
fn generated_column_in_the_header_is_refused() {
    let s = Scenario::new(
        "generated_in_header",
        "CREATE TABLE t (id int, double_id int GENERATED ALWAYS AS (id * 2) STORED);",
        &[("t.csv", "id,double_id\n1,2\n")],
    );
    let err = fails(&s, 1);
    assert!(
        err.contains("column \"double_id\" of table public.t is a generated column"),
        "{err}"
    );
}

#[test]
fn a_directory_named_csv_is_refused() {
    let s = Scenario::new("dir_named_csv", SHOP, &[]);
    std::fs::create_dir(s.path().join("customer.csv")).unwrap();
    let err = fails(&s, 1);
    assert!(
        err.contains("customer.csv\" is not a regular file"),
        "{err}"
    );
}

#[test]
fn missing_directory_is_an_error_of_ours() {
    let s = Scenario::new("missing_dir", SHOP, &[]);
    let out = crate::util::support::fkload(&s.db, &s.path().join("nope"), &[]).fails(1);
    assert!(out.stderr.contains("could not read"), "{}", out.stderr);
}

#[test]
fn library_error_carries_the_orphans() {
    let s = shop("lib_orphans", "id,customer_id,qty,note\n1,5,1,\n");
    let mut client = s.db.client();
    let err = fkload::load_dir(&mut client, s.path()).unwrap_err();
    match err.kind() {
        fkload::ErrorKind::ForeignKey { violation, .. } => {
            let v = violation;
            assert_eq!(v.constraint, "orders_customer_id_fkey");
            assert_eq!((v.rows, v.missing_keys), (1, 1));
            assert_eq!(v.examples.len(), 1);
            assert_eq!(v.examples[0].line, 2);
            assert_eq!(v.examples[0].key, "(customer_id)=(5)");
        }
        other => panic!("expected a foreign-key error, got {other:?}"),
    }
}

#[test]
fn end_of_data_marker_line_is_refused_instead_of_losing_rows() {
    let s = Scenario::new(
        "end_marker",
        "CREATE TABLE t (id int, note text);",
        &[("t.csv", "id,note\n1,a\n\\.\n2,b\n3,c\n")],
    );
    let err = fails(&s, 1);
    assert!(
        err.contains("t.csv:3: a line holding only \\. is COPY's end-of-data marker"),
        "{err}"
    );
    // Quoted, the same value loads.
    let s = Scenario::new(
        "end_marker_quoted",
        "CREATE TABLE t (note text);",
        &[("t.csv", "note\na\n\"\\.\"\nb\n")],
    );
    s.run(&[]).ok();
    assert_eq!(
        s.db.query_strings("SELECT note FROM t ORDER BY 1"),
        ["\\.", "a", "b"]
    );
}

#[test]
fn crlf_files_report_the_lines_an_editor_shows() {
    let s = shop(
        "crlf_lines",
        "id,customer_id,qty,note\r\n1,1,1,\r\n2,1,1,\"a\r\nb\"\r\n3,1,x,\r\n",
    );
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:5: ERROR:  invalid input syntax"),
        "{err}"
    );
    let s = shop(
        "crlf_orphans",
        "id,customer_id,qty,note\r\n1,1,1,\r\n2,9,1,\"a\r\nb\"\r\n3,8,1,\r\n",
    );
    let err = fails(&s, 3);
    assert!(err.contains("orders.csv:3: key (customer_id)=(9)"), "{err}");
    assert!(err.contains("orders.csv:5: key (customer_id)=(8)"), "{err}");
}

#[test]
fn blank_lines_are_rows_as_copy_reads_them() {
    let s = Scenario::new(
        "blank_lines",
        "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (pid int REFERENCES p);",
        &[("p.csv", "id\n1\n"), ("c.csv", "pid\n1\n\n99\n1\n98\n")],
    );
    let err = fails(&s, 3);
    assert!(err.contains("c.csv:4: key (pid)=(99)"), "{err}");
    assert!(err.contains("c.csv:6: key (pid)=(98)"), "{err}");
}

#[test]
fn carriage_return_files_report_their_lines() {
    let s = shop("cr_lines", "id,customer_id,qty,note\r1,1,1,\r2,1,x,\r");
    let err = fails(&s, 3);
    assert!(
        err.contains("orders.csv:3: ERROR:  invalid input syntax"),
        "{err}"
    );
}

/// A key that is already in a table the load did not empty: the error says
/// how many rows the table held and points to `--truncate`, in one
/// transaction and in parallel; `--truncate` then replaces them. A table
/// that held nothing gets no such hint.
#[test]
fn a_duplicate_in_a_table_that_held_rows_says_how_many_and_points_to_truncate() {
    let s = Scenario::new(
        "held_rows",
        "CREATE TABLE t (id int PRIMARY KEY, note text);
         INSERT INTO t VALUES (1, 'old'), (7, 'old');",
        &[("t.csv", "id,note\n1,new\n2,new\n")],
    );
    for args in [&[][..], &["-j", "2"]] {
        let before = snapshot(&s.db);
        s.run(args).fails(3).stderr_has("Key (id)=(1) already exists").stderr_has(
            "HINT:  public.t held 2 rows before this load: if the file repeats them, load with --truncate to replace them",
        );
        assert_unchanged(&s.db, &before);
    }
    s.run(&["--truncate"]).ok();
    assert_eq!(
        s.db.query_strings("SELECT string_agg(id || note, ',' ORDER BY id) FROM t"),
        ["1new,2new"]
    );

    let empty = Scenario::new(
        "held_none",
        "CREATE TABLE t (id int PRIMARY KEY, note text);",
        &[("t.csv", "id,note\n1,a\n1,b\n")],
    );
    let out = empty.run(&[]).fails(3);
    assert!(!out.stderr.contains("before this load"), "{}", out.stderr);
}
