//! What the command prints, as a reviewer reads it (insta snapshots in
//! `tests/it/snapshots/`): the help, plans (`-l`) and the layout of errors.
//! Temporary paths and ports are replaced by placeholders; a change to any of
//! these texts shows in the diff of its snapshot.

use crate::util::pg::server_version_num;
use crate::util::support::{PARTITIONED_CYCLE, Scenario, command, output};

/// `text` with the scenario's temporary directory and the server's port
/// replaced, so that the snapshot is the same on every run.
fn stable(s: &Scenario, text: &str) -> String {
    let port =
        s.db.url
            .rsplit_once(':')
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(port, _)| port.to_string())
            .unwrap_or_default();
    text.replace(&s.path().display().to_string(), "[DIR]")
        .replace(&s.db.name, "[DB]")
        .replace(&format!("port {port}"), "port [PORT]")
}

#[test]
fn help() {
    let out = output(command().arg("-?").output().unwrap());
    assert_eq!(out.code, 0);
    insta::assert_snapshot!(out.stdout);
    let out = output(command().args(["repair", "-?"]).output().unwrap());
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("repair_help", out.stdout);
}

/// `-?` and `--help` print the same, for every command; usage errors start
/// with `fkload:` as the other errors do, and exit 1.
#[test]
fn help_flags_agree_and_usage_errors_say_fkload() {
    for cmd in [&[][..], &["check"], &["graph"], &["repair"], &["up"]] {
        let short = output(command().args(cmd).arg("-?").output().unwrap());
        let long = output(command().args(cmd).arg("--help").output().unwrap());
        assert_eq!(short.code, 0, "{cmd:?}: {}", short.stderr);
        assert_eq!(short.stdout, long.stdout, "{cmd:?}");
    }
    for args in [
        &["--bogus", "x"][..],
        &[],
        &["--jobs", "two", "x"],
        &["up", "x"],
    ] {
        let out = output(command().args(args).output().unwrap());
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("fkload: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("error:"), "{args:?}: {}", out.stderr);
    }
}

/// Shell completions and the manual page come from the same definition as
/// the help, and are valid for their readers.
#[test]
fn completions_and_the_manual_page_are_generated() {
    let bash = output(command().args(["--completions", "bash"]).output().unwrap());
    assert_eq!(bash.code, 0, "{}", bash.stderr);
    assert!(bash.stdout.contains("--schema-file"), "{}", bash.stdout);
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fkload.bash");
    std::fs::write(&script, &bash.stdout).unwrap();
    let checked = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = output(command().args(["--completions", shell]).output().unwrap());
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains("fkload"), "{shell}");
    }
    let man = output(command().arg("--man").output().unwrap());
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.contains(".TH fkload 1"), "{}", man.stdout);
    for option in ["schema\\-file", "delimiter", "on\\-orphan"] {
        assert!(man.stdout.contains(option), "{option}");
    }
    // Rendered by man itself where the machine has it.
    let page = dir.path().join("fkload.1");
    std::fs::write(&page, &man.stdout).unwrap();
    if let Ok(rendered) = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
    {
        assert!(
            rendered.status.success(),
            "{}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        assert!(String::from_utf8_lossy(&rendered.stdout).contains("foreign"));
    }
}

/// The plan of the bundled example, which has a self-reference, under
/// either strategy.
#[test]
fn plan_of_the_bundled_example() {
    let (db, dir) = Scenario::fixture("shop");
    for strategy in ["keep", "revalidate"] {
        let out = output(
            command()
                .args(["-d", &db.url, "-l", "--strategy", strategy])
                .arg(&dir)
                .output()
                .unwrap(),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let text = out.stdout.replace(&dir.display().to_string(), "[DIR]");
        insta::assert_snapshot!(format!("plan_shop_{strategy}"), text);
    }
}

/// A cycle through a partitioned table, planned for a parallel load: keys
/// dropped (or on PostgreSQL 18 set NOT ENFORCED) and indexes rebuilt.
#[test]
fn plan_of_a_partitioned_cycle_in_parallel() {
    let s = Scenario::new(
        "output_plan_cycle",
        PARTITIONED_CYCLE,
        &[
            ("team.csv", "id,lead_id,lead_kind\n1,10,a\n"),
            ("member.csv", "id,kind,team_id\n10,a,1\n"),
        ],
    );
    let out = s.run(&["-l", "-j", "2", "--strategy", "revalidate"]).ok();
    let version = if server_version_num() >= 180000 {
        "18"
    } else {
        "before_18"
    };
    insta::assert_snapshot!(
        format!("plan_partitioned_cycle_{version}"),
        stable(&s, &out.stdout)
    );
}

/// An error case: its name, its files, fkload's arguments.
type ErrorCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

/// The layouts of the errors a load reports: a bad value with its line, every
/// orphan of a key, a duplicate traced to its lines, a header naming no
/// column, a file naming no table.
#[test]
fn error_layouts() {
    let schema = "
        CREATE TABLE product (id int PRIMARY KEY, name text NOT NULL);
        CREATE TABLE line (id int PRIMARY KEY, product_id int NOT NULL REFERENCES product,
                           quantity int NOT NULL);";
    let cases: [ErrorCase; 5] = [
        (
            "bad_value",
            &[
                ("product.csv", "id,name\n1,bolt\n"),
                ("line.csv", "id,product_id,quantity\n1,1,2\n2,1,two\n"),
            ],
            &["--strategy", "keep"],
        ),
        (
            "orphans",
            &[
                ("product.csv", "id,name\n1,bolt\n"),
                (
                    "line.csv",
                    "id,product_id,quantity\n1,1,2\n2,13,1\n3,\"14\",1\n",
                ),
            ],
            &["--strategy", "keep"],
        ),
        (
            "duplicates",
            &[
                ("product.csv", "id,name\n1,bolt\n2,nut\n1,bolt again\n"),
                ("line.csv", "id,product_id,quantity\n"),
            ],
            &["--strategy", "revalidate"],
        ),
        ("unknown_column", &[("product.csv", "id,mail\n1,x\n")], &[]),
        ("unknown_table", &[("Product.csv", "id,name\n1,x\n")], &[]),
    ];
    for (name, files, args) in cases {
        let s = Scenario::new(&format!("output_{name}"), schema, files);
        let out = s.run(args);
        assert_ne!(out.code, 0, "{name}");
        insta::assert_snapshot!(
            format!("error_{name}"),
            format!("exit {}\n{}", out.code, stable(&s, &out.stderr))
        );
    }
}
