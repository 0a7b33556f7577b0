//! A test that skips says so, and the run's last lines count the skips: a
//! run that skipped half its tests must not look like one that ran them.

use std::process::Command;

use crate::util::support::skipped_summary;

#[test]
fn skips_are_grouped_by_reason_and_counted() {
    let skipped = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(t, w)| (t.to_string(), w.to_string()))
            .collect()
    };
    assert_eq!(skipped_summary(&[]), None);
    assert_eq!(
        skipped_summary(&skipped(&[
            ("a", "no server 18"),
            ("b", "no datasets"),
            ("c", "no server 18"),
        ]))
        .unwrap(),
        "skipped: 3 tests (2 reasons)\n  2: no server 18: a, c\n  1: no datasets: b"
    );
}

/// The test binary run on one test that skips (the soak test, without
/// `FKLOAD_TEST_SOAK`): the skip is printed with its reason, and counted
/// after the harness's own `test result:` line, on a passing run as on a
/// failing one.
#[test]
fn a_skipped_test_is_counted_after_the_test_result_line() {
    let me = std::env::current_exe().expect("the test binary");
    // One stream for both, as a terminal shows them, to see the order.
    let run = Command::new("sh")
        .arg("-c")
        .arg("\"$0\" --exact faults::fifty_killed_parallel_loads_lose_no_key --test-threads 1 2>&1")
        .arg(&me)
        .env_remove("FKLOAD_TEST_SOAK")
        .output()
        .expect("run the test binary");
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{out}");
    assert!(
        out.contains(
            "skipped fifty_killed_parallel_loads_lose_no_key: set FKLOAD_TEST_SOAK=1 to kill 50 parallel loads"
        ),
        "{out}"
    );
    let result = out.find("test result: ok.").expect("a test result line");
    let summary = out
        .find("skipped: 1 test (1 reason)\n  1: set FKLOAD_TEST_SOAK=1")
        .unwrap_or_else(|| panic!("no skip count in:\n{out}"));
    assert!(summary > result, "the count comes last:\n{out}");
    assert!(
        !out[summary..].contains("passed"),
        "not in the harness's own form:\n{out}"
    );
}
