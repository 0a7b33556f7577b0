//! Closed output streams: `fkload -v ... 2>&1 | head -5` closes stderr (and
//! stdout) while the load runs. What fkload says is not the load: a write that
//! fails must neither abort it nor roll it back.

use std::process::Stdio;

use crate::util::support::{Scenario, command, scenario_of};

/// A parent and a child with enough rows for `-v` to say several things.
fn shop() -> Scenario {
    let parents: String = (1..=200).map(|i| format!("{i},p{i}\n")).collect();
    let children: String = (1..=2000)
        .map(|i| format!("{i},{}\n", i % 200 + 1))
        .collect();
    scenario_of(
        "closed_stderr",
        "CREATE TABLE p (id int PRIMARY KEY, name text);
         CREATE TABLE c (id int PRIMARY KEY, p int NOT NULL REFERENCES p);",
        &[
            ("p.csv", format!("id,name\n{parents}")),
            ("c.csv", format!("id,p\n{children}")),
        ],
    )
}

#[test]
fn a_closed_stderr_neither_aborts_nor_undoes_a_verbose_load() {
    for args in [&["-v"][..], &["-v", "-j", "2"][..]] {
        let s = shop();
        let mut child = command()
            .arg("-d")
            .arg(&s.db.url)
            .args(args)
            .arg(s.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run fkload");
        // The reader goes away at once, as head does after its lines.
        drop(child.stderr.take());
        drop(child.stdout.take());
        let status = child.wait().expect("wait for fkload");
        assert_eq!(status.code(), Some(0), "{args:?}: {status:?}");
        assert_eq!(s.db.query_i64("SELECT count(*) FROM p"), 200, "{args:?}");
        assert_eq!(s.db.query_i64("SELECT count(*) FROM c"), 2000, "{args:?}");
    }
}
