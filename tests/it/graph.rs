//! `fkload graph`: the dependency graph of a directory's plan and of the whole
//! database, as DOT (read by Graphviz's `dot` where it is installed) and as
//! Mermaid (read back line by line), with names that need quoting.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::Stdio;

use crate::util::support::{Run, Scenario, command, keys, output, skip};

/// A cycle of deferrable keys (husband, wife), a cycle of plain ones (store,
/// staff), a self-reference (category), a table in schema "Sales" with a
/// space in its name whose key's name holds a quote, double quotes, a
/// backslash and a `#`, a referenced table with no file (customer), and one
/// with neither keys nor file (lonely).
const SCHEMA: &str = r#"
CREATE TABLE husband (id int PRIMARY KEY, wife_id int);
CREATE TABLE wife (id int PRIMARY KEY, husband_id int REFERENCES husband DEFERRABLE);
ALTER TABLE husband ADD FOREIGN KEY (wife_id) REFERENCES wife DEFERRABLE;
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL REFERENCES store);
ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;
CREATE TABLE category (id int PRIMARY KEY, parent_id int REFERENCES category);
CREATE TABLE customer (id int PRIMARY KEY);
CREATE TABLE lonely (id int PRIMARY KEY);
CREATE SCHEMA "Sales";
CREATE TABLE "Sales"."Order Lines" (
    id int PRIMARY KEY,
    category_id int CONSTRAINT "line's ""category"" \ #1" REFERENCES category,
    customer_id int REFERENCES customer
);"#;

/// The files: every table but customer and lonely, headers only.
const FILES: &[(&str, &str)] = &[
    ("husband.csv", "id,wife_id\n"),
    ("wife.csv", "id,husband_id\n"),
    ("store.csv", "id,manager_id\n"),
    ("staff.csv", "id,store_id\n"),
    ("category.csv", "id,parent_id\n"),
    ("Sales/Order Lines.csv", "id,category_id,customer_id\n"),
];

/// What the plan does to the key that breaks the cycle of plain keys.
fn set_aside() -> &'static str {
    if crate::util::pg::server_version_num() >= 180000 {
        "unenforced"
    } else {
        "dropped, re-added"
    }
}

/// `fkload -d URL graph [args]`, and the same with the connection options
/// after the subcommand's own arguments: both must print the same graph.
fn graph(s: &Scenario, args: &[&str]) -> String {
    let before = run(command().arg("-d").arg(&s.db.url).arg("graph").args(args)).ok();
    let after = run(command().arg("graph").args(args).arg("-d").arg(&s.db.url)).ok();
    assert_eq!(before.stdout, after.stdout, "-d before or after graph");
    before.stdout
}

fn run(c: &mut std::process::Command) -> Run {
    output(c.output().expect("run fkload"))
}

/// Feeds `dot` to Graphviz (`dot -Tsvg`) and returns the SVG, or `None`
/// (saying why) when Graphviz is not installed.
fn svg(test: &str, dot: &str) -> Option<String> {
    let child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            skip(
                test,
                &format!("Graphviz's dot cannot run ({e}); install graphviz"),
            );
            return None;
        }
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(dot.as_bytes())
        .expect("write to dot");
    let out = child.wait_with_output().expect("dot");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.trim().is_empty(),
        "dot rejected the graph: {stderr}\n{dot}"
    );
    Some(String::from_utf8(out.stdout).expect("SVG is UTF-8"))
}

/// The node ids and arrows (from, to, label) of fkload's Mermaid, checking
/// each line's shape: ids are `t<N>` tokens, every label is one quoted
/// string with no quote, `|` or raw `#`/`<` inside (but the `<br>` fkload
/// writes), and every arrow joins declared nodes.
fn read_mermaid(text: &str) -> (BTreeSet<String>, Vec<(String, String, String)>) {
    let token = |id: &str| {
        id.strip_prefix('t')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let escaped = |label: &str| {
        let label = label.replace("<br>", "");
        !label.contains(['"', '|', '<', '>', '`'])
            && label.split('#').skip(1).all(|code| {
                code.split_once(';')
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
            })
    };
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("flowchart BT"), "{text}");
    let mut nodes = BTreeSet::new();
    let mut arrows = Vec::new();
    for line in lines.map(str::trim) {
        if line.starts_with("subgraph ")
            || line == "end"
            || line.starts_with("classDef ")
            || line.starts_with("style ")
            || line.starts_with("linkStyle ")
        {
            continue;
        }
        if let Some((id, rest)) = line.split_once("[\"") {
            let label = rest
                .strip_suffix(":::nofile")
                .unwrap_or(rest)
                .strip_suffix("\"]")
                .unwrap_or_else(|| panic!("node line: {line}"));
            assert!(token(id) && escaped(label), "node line: {line}");
            assert!(nodes.insert(id.to_string()), "declared twice: {line}");
            continue;
        }
        let (from, rest) = line.split_once(' ').expect("arrow line");
        let rest = rest
            .strip_prefix("-->|\"")
            .or_else(|| rest.strip_prefix("-.->|\""))
            .unwrap_or_else(|| panic!("unknown line: {line}"));
        let (label, to) = rest.split_once("\"| ").expect("arrow label");
        assert!(token(from) && token(to) && escaped(label), "arrow: {line}");
        arrows.push((from.to_string(), to.to_string(), label.to_string()));
    }
    for (from, to, _) in &arrows {
        assert!(
            nodes.contains(from) && nodes.contains(to),
            "{from} -> {to} joins an undeclared node:\n{text}"
        );
    }
    (nodes, arrows)
}

#[test]
fn graph_of_a_directory_draws_cycles_actions_loops_and_quoted_names() {
    let test = "graph_of_a_directory_draws_cycles_actions_loops_and_quoted_names";
    let s = Scenario::new("graph_dir", SCHEMA, FILES);
    let dir = s.path().to_str().expect("UTF-8 temp dir");
    let before = keys(&s.db);
    let dot = graph(&s, &[dir]);
    assert_eq!(
        graph(&s, &["--format", "dot", dir]),
        dot,
        "dot is the default"
    );
    for line in [
        "  subgraph \"cluster_cycle_1\" {",
        "  subgraph \"cluster_cycle_2\" {",
        "\"public.husband\" -> \"public.wife\" [label=\"husband_wife_id_fkey\\ndeferred\", style=dashed, color=red, fontcolor=red];",
        "\"public.wife\" -> \"public.husband\" [label=\"wife_husband_id_fkey\", color=red, fontcolor=red];",
        "\"public.category\" -> \"public.category\" [label=\"category_parent_id_fkey\"];",
        "\"\\\"Sales\\\".\\\"Order Lines\\\"\" -> \"public.category\" [label=\"line's \\\"category\\\" \\\\ #1\"];",
        "\"public.customer\" [label=\"customer\\n(no file)\", style=dashed];",
    ] {
        assert!(dot.contains(line), "lacks {line}:\n{dot}");
    }
    let broken = format!(
        "\"public.staff\" -> \"public.store\" [label=\"staff_store_id_fkey\\n{}\", style=dashed, color=red, fontcolor=red];",
        set_aside()
    );
    assert!(dot.contains(&broken), "lacks {broken}:\n{dot}");
    assert!(
        !dot.contains("lonely"),
        "a table with no file and no key is not drawn:\n{dot}"
    );
    assert_eq!(keys(&s.db), before, "graph changes nothing");

    if let Some(svg) = svg(test, &dot) {
        for text in [
            "&quot;Sales&quot;.&quot;Order Lines&quot;",
            "line&#39;s &quot;category&quot; \\ #1",
            "(no file)",
            "cycle 2",
        ] {
            assert!(svg.contains(text), "the SVG lacks {text}:\n{svg}");
        }
    }

    let mermaid = graph(&s, &["--format", "mermaid", dir]);
    let (nodes, arrows) = read_mermaid(&mermaid);
    assert_eq!(nodes.len(), 7, "six loaded tables and customer:\n{mermaid}");
    assert_eq!(arrows.len(), 7, "{mermaid}");
    assert!(
        mermaid.contains("[\"#34;Sales#34;.#34;Order Lines#34;\"]"),
        "{mermaid}"
    );
    assert!(
        arrows
            .iter()
            .any(|(_, _, l)| l == "line's #34;category#34; \\ #35;1"),
        "{mermaid}"
    );
    assert_eq!(mermaid.matches("subgraph cycle").count(), 2, "{mermaid}");
    assert!(
        arrows
            .iter()
            .any(|(f, t, l)| f == t && l == "category_parent_id_fkey"),
        "the self-reference is a loop:\n{mermaid}"
    );
}

#[test]
fn graph_of_the_database_draws_every_table() {
    let test = "graph_of_the_database_draws_every_table";
    let s = Scenario::new("graph_all", SCHEMA, &[]);
    let dot = graph(&s, &["--all"]);
    for line in [
        "\"public.lonely\" [label=\"lonely\"];",
        "\"public.customer\" [label=\"customer\"];",
        "\"\\\"Sales\\\".\\\"Order Lines\\\"\" -> \"public.customer\" [label=\"Order Lines_customer_id_fkey\"];",
        "\"public.husband\" -> \"public.wife\" [label=\"husband_wife_id_fkey\\ndeferred\", style=dashed, color=red, fontcolor=red];",
    ] {
        assert!(dot.contains(line), "lacks {line}:\n{dot}");
    }
    assert!(
        !dot.contains("no file"),
        "--all has no files to miss:\n{dot}"
    );
    svg(test, &dot);
    let (nodes, arrows) = read_mermaid(&graph(&s, &["--all", "--format", "mermaid"]));
    assert_eq!((nodes.len(), arrows.len()), (8, 7));
}

#[test]
fn graph_takes_a_directory_or_all_and_a_known_format() {
    for (args, says) in [
        (&["graph"][..], "required"),
        (&["graph", "--all", "./data"], "cannot be used with"),
        (
            &["graph", "--format", "png", "--all"],
            "invalid value 'png'",
        ),
    ] {
        let out = run(command().args(args));
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
    let help = run(command().args(["graph", "-?"])).ok();
    assert!(
        help.stdout.contains("--all") && help.stdout.contains("--format"),
        "{}",
        help.stdout
    );
}
