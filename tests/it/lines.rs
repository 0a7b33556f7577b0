//! Property test of the error-line mapper: files of generated records (quoted
//! fields with commas, doubled quotes and embedded LF or CRLF line breaks; LF or
//! CRLF line ends), one bad record among them, loaded whole or cut into COPY
//! statements of any size, under both strategies. The error must name the line
//! the bad record starts on, as an editor counts it: from the server's own line
//! count (a bad value) or from fkload's scan of the file (an orphan).

use proptest::prelude::*;

use crate::util::support::{Scenario, assert_unchanged, snapshot};

const SCHEMA: &str = "
CREATE TABLE p (id int PRIMARY KEY);
INSERT INTO p VALUES (1), (2), (3);
CREATE TABLE t (id int PRIMARY KEY, note text, p int REFERENCES p);";

/// A note's text: letters, spaces, commas, quotes and line breaks.
fn note() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'z').prop_map(|c| c.to_string()),
            1 => Just(" ".to_string()),
            1 => Just(",".to_string()),
            1 => Just("\"".to_string()),
            1 => Just("\n".to_string()),
            1 => Just("\r\n".to_string()),
        ],
        0..12,
    )
    .prop_map(|parts| parts.concat())
}

/// A note as CSV writes it: quoted when it must be (or when `quote` says so).
fn encode(note: &str, quote: bool) -> String {
    let must = note.is_empty() || note.contains([',', '"', '\n', '\r']);
    if must || quote {
        format!("\"{}\"", note.replace('"', "\"\""))
    } else {
        note.to_string()
    }
}

#[derive(Debug, Clone, Copy)]
enum Bad {
    /// An id that is not an integer: the server's error, with its line.
    Value,
    /// A parent that does not exist: fkload's orphan search, with its line.
    Orphan,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]
    #[test]
    fn an_error_names_the_line_its_record_starts_on(
        notes in proptest::collection::vec((note(), any::<bool>()), 1..40),
        bad_at in any::<proptest::sample::Index>(),
        crlf in any::<bool>(),
        bad in prop_oneof![Just(Bad::Value), Just(Bad::Orphan)],
        batch in 1u64..400,
        revalidate in any::<bool>(),
    ) {
        let eol = if crlf { "\r\n" } else { "\n" };
        let k = bad_at.index(notes.len());
        let mut body = format!("id,note,p{eol}");
        let mut start_line = 0;
        for (i, (text, quote)) in notes.iter().enumerate() {
            if i == k {
                // Editor lines: one per \n before the record, plus one.
                start_line = body.matches('\n').count() + 1;
            }
            let (id, parent) = match (i == k, bad) {
                (true, Bad::Value) => ("x".to_string(), 1),
                (true, Bad::Orphan) => ((i + 1).to_string(), 999),
                _ => ((i + 1).to_string(), i % 3 + 1),
            };
            body.push_str(&format!("{id},{},{parent}{eol}", encode(text, *quote)));
        }
        let expected = match bad {
            Bad::Value => format!(
                "t.csv:{start_line}: ERROR:  invalid input syntax for type integer: \"x\""
            ),
            Bad::Orphan => format!(
                "t.csv:{start_line}: key (p)=(999) is not present in table public.p"
            ),
        };
        let s = Scenario::new("lines", SCHEMA, &[("t.csv", &body)]);
        let before = snapshot(&s.db);
        let strategy = if revalidate { "revalidate" } else { "keep" };
        let batch = batch.to_string();
        for args in [
            vec!["--strategy", strategy],
            vec!["--strategy", strategy, "--batch-size", &batch],
        ] {
            let out = s.run(&args);
            prop_assert_eq!(out.code, 3, "{:?}: {}", args, out.stderr);
            prop_assert!(
                out.stderr.contains(&expected),
                "{:?}: expected {:?} in:\n{}\nfile: {:?}",
                args,
                expected,
                out.stderr,
                body
            );
            assert_unchanged(&s.db, &before);
        }
    }
}
