//! A plan's dependency graph as text: Graphviz DOT or Mermaid.
//!
//! Tables are nodes, foreign keys are arrows from the referencing table to
//! the referenced one, labelled with the constraint's name; a table that
//! references itself has a loop. Each cycle (a strongly connected component of
//! two or more tables, [`Plan::cycles`]) is a cluster (DOT) or a subgraph
//! (Mermaid), and its arrows are red. A key the load defers, drops or sets
//! `NOT ENFORCED` ([`KeyAction`]) is dashed, and its label says so. A table a
//! loaded key references but no file loads is drawn dashed, "(no file)".
//!
//! Names are the catalog's own and may hold anything but NUL: quotes,
//! backslashes, spaces, newlines, `#`, `<`, any script. They are written
//! escaped for each language, never dropped or mangled:
//! - DOT: every node id and label is a quoted string; `"` and `\` are escaped
//!   with a backslash and a line break is written `\n` (so the id is one line
//!   and a label's backslash cannot start an escape such as `\N`). The node id
//!   is the table's name as fkload's messages write it (`public.orders`,
//!   `"Sales"."Order Lines"`), which is unique.
//! - Mermaid: node ids are tokens (`t0`, `t1`, ... in load order) and the name
//!   is the quoted label, where `"`, `#`, `&`, `<`, `>`, `|`, a backtick and
//!   control characters are entity codes (`#34;`), as Mermaid decodes them.
//!
//! Labels leave out the `public` schema (`orders`, `"Sales"."Order Lines"`).
//!
//! Pure: a [`Plan`] in, a string out, in a stable order (nodes in load order,
//! then the tables without a file by name; arrows in key order). Linear in
//! tables and keys (but for a key whose tables load through several files,
//! one arrow per pair of them).

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write as _;

use crate::plan::{KeyAction, Plan, QualName};
use crate::sql::human_ident;

/// The language to write the graph in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Format {
    /// Graphviz DOT (`dot -Tsvg`).
    #[default]
    Dot,
    /// A Mermaid flowchart (renders in Markdown on GitHub and GitLab).
    Mermaid,
}

impl Plan {
    /// The plan's dependency graph as Graphviz DOT (`dot -Tsvg`): tables
    /// are nodes, foreign keys arrows from the referencing table to the
    /// referenced one, each cycle a red cluster, a key the load defers,
    /// drops or unenforces dashed. Names are quoted and escaped as DOT
    /// reads them. Linear in tables and keys.
    pub fn to_dot(&self) -> String {
        render(self, Format::Dot)
    }

    /// The plan's dependency graph as a Mermaid flowchart (renders in
    /// Markdown on GitHub and GitLab), drawn as [`Plan::to_dot`] draws it.
    pub fn to_mermaid(&self) -> String {
        render(self, Format::Mermaid)
    }
}

/// `plan`'s dependency graph in `format` (see the module docs).
pub(crate) fn render(plan: &Plan, format: Format) -> String {
    let picture = Picture::of(plan);
    match format {
        Format::Dot => dot(&picture),
        Format::Mermaid => mermaid(&picture),
    }
}

/// What is drawn, whatever the language.
struct Picture {
    nodes: Vec<Node>,
    arrows: Vec<Arrow>,
    /// Node indices of each cycle, in the plan's order.
    cycles: Vec<Vec<usize>>,
}

struct Node {
    name: QualName,
    /// A step of the plan loads it (else a key of a loaded table references
    /// it).
    loaded: bool,
}

struct Arrow {
    from: usize,
    to: usize,
    key: String,
    action: KeyAction,
    /// Both ends lie on one cycle.
    in_cycle: bool,
}

impl Picture {
    fn of(plan: &Plan) -> Picture {
        let mut nodes: Vec<Node> = plan
            .steps
            .iter()
            .map(|s| Node {
                name: s.table.name.clone(),
                loaded: true,
            })
            .collect();
        // Referenced tables that no file loads, by name.
        let unloaded: BTreeSet<&QualName> = plan
            .keys
            .iter()
            .filter(|k| k.parent_steps.is_empty())
            .map(|k| &k.ref_table)
            .collect();
        nodes.extend(unloaded.into_iter().map(|name| Node {
            name: name.clone(),
            loaded: false,
        }));
        let index: HashMap<&QualName, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (&n.name, i))
            .collect();
        let cycles: Vec<Vec<usize>> = plan
            .cycles
            .iter()
            .map(|c| {
                c.tables
                    .iter()
                    .filter_map(|t| index.get(t).copied())
                    .collect()
            })
            .collect();
        let mut arrows = Vec::new();
        for k in &plan.keys {
            let parents: Vec<usize> = if k.parent_steps.is_empty() {
                index.get(&k.ref_table).copied().into_iter().collect()
            } else {
                k.parent_steps.clone()
            };
            for &from in &k.child_steps {
                for &to in &parents {
                    let in_cycle =
                        from != to && cycles.iter().any(|c| c.contains(&from) && c.contains(&to));
                    arrows.push(Arrow {
                        from,
                        to,
                        key: k.key.name.clone(),
                        action: k.action,
                        in_cycle,
                    });
                }
            }
        }
        Picture {
            nodes,
            arrows,
            cycles,
        }
    }

    /// The nodes on no cycle, in order.
    fn outside_cycles(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(|i| !self.cycles.iter().any(|c| c.contains(i)))
    }
}

/// A table as the labels write it: without the `public` schema, each part
/// quoted only where SQL would need it.
fn display(name: &QualName) -> String {
    match name.schema.as_str() {
        "public" => human_ident(&name.name),
        // A table outside the catalog's reach has only "oid N" as its name.
        "" => name.name.clone(),
        _ => name.human(),
    }
}

/// What the load does to a key, for its label; `None` when it is kept.
fn action_note(action: KeyAction) -> Option<&'static str> {
    match action {
        KeyAction::Keep => None,
        KeyAction::Defer => Some("deferred"),
        KeyAction::Drop { .. } => Some("dropped, re-added"),
        KeyAction::Unenforce => Some("unenforced"),
    }
}

/// `s` as a DOT quoted string that reads back as `s` when used as a label
/// (an `escString`): `"` and `\` escaped, line breaks as `\n` and `\r`.
fn dot_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The node id of a table in DOT: its name as fkload's messages write it.
fn dot_id(name: &QualName) -> String {
    dot_string(&name.human())
}

fn dot(p: &Picture) -> String {
    let mut out = String::new();
    out.push_str("digraph fkload {\n");
    // Referenced tables (parents) above their children.
    out.push_str("  rankdir=BT;\n");
    out.push_str("  node [shape=box];\n");
    out.push_str("  edge [fontsize=10];\n");
    let node = |out: &mut String, indent: &str, i: usize| {
        let n: &Node = &p.nodes[i];
        if n.loaded {
            let _ = writeln!(
                out,
                "{indent}{} [label={}];",
                dot_id(&n.name),
                dot_string(&display(&n.name))
            );
        } else {
            let _ = writeln!(
                out,
                "{indent}{} [label={}, style=dashed];",
                dot_id(&n.name),
                dot_string(&format!("{}\n(no file)", display(&n.name)))
            );
        }
    };
    for (c, members) in p.cycles.iter().enumerate() {
        let _ = writeln!(out, "  subgraph \"cluster_cycle_{}\" {{", c + 1);
        let _ = writeln!(
            out,
            "    label=\"cycle {}\"; style=rounded; color=red; fontcolor=red;",
            c + 1
        );
        for &i in members {
            node(&mut out, "    ", i);
        }
        out.push_str("  }\n");
    }
    for i in p.outside_cycles() {
        node(&mut out, "  ", i);
    }
    for a in &p.arrows {
        let label = match action_note(a.action) {
            Some(note) => format!("{}\n{note}", a.key),
            None => a.key.clone(),
        };
        let mut attrs = format!("label={}", dot_string(&label));
        if a.action != KeyAction::Keep {
            attrs.push_str(", style=dashed");
        }
        if a.in_cycle {
            attrs.push_str(", color=red, fontcolor=red");
        }
        let _ = writeln!(
            out,
            "  {} -> {} [{attrs}];",
            dot_id(&p.nodes[a.from].name),
            dot_id(&p.nodes[a.to].name)
        );
    }
    out.push_str("}\n");
    out
}

/// `s` as the text of a quoted Mermaid label: the characters Mermaid's parser
/// or its HTML would read as syntax become entity codes (`#34;`), which it
/// decodes for display.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '#' | '&' | '<' | '>' | '|' | '`') || c.is_control() {
            let _ = write!(out, "#{};", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

fn mermaid(p: &Picture) -> String {
    let mut out = String::new();
    out.push_str("flowchart BT\n");
    let node = |out: &mut String, indent: &str, i: usize| {
        let n: &Node = &p.nodes[i];
        let label = mermaid_text(&display(&n.name));
        if n.loaded {
            let _ = writeln!(out, "{indent}t{i}[\"{label}\"]");
        } else {
            let _ = writeln!(out, "{indent}t{i}[\"{label}<br>(no file)\"]:::nofile");
        }
    };
    for (c, members) in p.cycles.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cycle{} [\"cycle {}\"]", c + 1, c + 1);
        for &i in members {
            node(&mut out, "    ", i);
        }
        out.push_str("  end\n");
    }
    for i in p.outside_cycles() {
        node(&mut out, "  ", i);
    }
    for a in &p.arrows {
        let key = mermaid_text(&a.key);
        let (arrow, label) = match action_note(a.action) {
            Some(note) => ("-.->", format!("{key}<br>({note})")),
            None => ("-->", key),
        };
        let _ = writeln!(out, "  t{} {arrow}|\"{label}\"| t{}", a.from, a.to);
    }
    if p.nodes.iter().any(|n| !n.loaded) {
        out.push_str("  classDef nofile stroke-dasharray: 5 5\n");
    }
    for c in 1..=p.cycles.len() {
        let _ = writeln!(out, "  style cycle{c} stroke:red");
    }
    let red: Vec<String> = p
        .arrows
        .iter()
        .enumerate()
        .filter(|(_, a)| a.in_cycle)
        .map(|(i, _)| i.to_string())
        .collect();
    if !red.is_empty() {
        let _ = writeln!(out, "  linkStyle {} stroke:red,color:red", red.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    //! Graphs of plans made without a server (`overview` over catalogs made
    //! by hand), as insta snapshots, and a property test: whatever the names,
    //! the DOT reads back (by Graphviz's lexing rules) and the Mermaid is well
    //! formed, with every name intact in its label.

    use std::collections::BTreeSet;
    use std::error::Error;

    use proptest::prelude::{
        ProptestConfig, any, prop_assert, prop_assert_eq, prop_oneof, proptest,
    };
    use proptest::strategy::{Just, Strategy as _};

    use super::*;
    use crate::database::catalog::{Catalog, ForeignKey, Table};
    use crate::plan::overview;

    fn table(oid: u32, schema: &str, name: &str) -> Table {
        Table {
            oid,
            name: QualName::new(schema, name),
            ..Table::default()
        }
    }

    /// A valid, enforced key `name` (oid `oid`) from `table` to `ref_table`.
    fn key(oid: u32, name: &str, table: u32, ref_table: u32, deferrable: bool) -> ForeignKey {
        ForeignKey {
            oid,
            name: name.into(),
            table,
            ref_table,
            ref_index: ref_table + 1000,
            deferrable,
            validated: true,
            enforced: true,
            match_type: 's',
            ..ForeignKey::default()
        }
    }

    /// A deferrable cycle, a cycle of plain keys, a self-reference, a table
    /// in another schema with a space in its name, and names with quotes,
    /// backslashes, `#`, `<` and `|`.
    fn catalog(version: i32) -> Catalog {
        Catalog::of(
            version,
            vec![
                table(1, "public", "husband"),
                table(2, "public", "wife"),
                table(3, "public", "store"),
                table(4, "public", "staff"),
                table(5, "public", "category"),
                table(6, "public", "orders"),
                table(7, "Sales", "Order Lines"),
                table(8, "public", "we\"ird\\name é"),
            ],
            vec![
                key(11, "husband_wife_fkey", 1, 2, true),
                key(12, "wife_husband_fkey", 2, 1, true),
                key(13, "store_manager_fkey", 3, 4, false),
                key(14, "staff_store_id_fkey", 4, 3, false),
                key(15, "category_parent_fkey", 5, 5, false),
                key(16, "Order Lines_order_fkey", 7, 6, false),
                key(17, "k \"1\" \\N #x; <b>|", 8, 6, false),
            ],
        )
    }

    fn all(version: i32) -> Plan {
        overview::of_catalog(&catalog(version)).unwrap()
    }

    #[test]
    fn dot_of_cycles_self_reference_and_odd_names() {
        insta::assert_snapshot!(render(&all(150000), Format::Dot));
    }

    #[test]
    fn mermaid_of_cycles_self_reference_and_odd_names() {
        insta::assert_snapshot!(render(&all(150000), Format::Mermaid));
    }

    #[test]
    fn a_key_set_not_enforced_on_18_says_so() {
        let plan = all(180000);
        let dot = render(&plan, Format::Dot);
        assert!(
            dot.contains("\"public.staff\" -> \"public.store\" [label=\"staff_store_id_fkey\\nunenforced\", style=dashed, color=red, fontcolor=red];"),
            "{dot}"
        );
        let mermaid = render(&plan, Format::Mermaid);
        assert!(
            mermaid.contains("|\"staff_store_id_fkey<br>(unenforced)\"|"),
            "{mermaid}"
        );
    }

    /// As a directory's plan: the files load orders and "Order Lines", and
    /// orders references customer, which no file loads.
    #[test]
    fn a_referenced_table_without_a_file_is_drawn_dashed() {
        let c = Catalog::of(
            150000,
            vec![
                table(1, "public", "customer"),
                table(6, "public", "orders"),
                table(7, "Sales", "Order Lines"),
            ],
            vec![
                key(16, "Order Lines_order_fkey", 7, 6, false),
                key(18, "orders_customer_fkey", 6, 1, false),
            ],
        );
        let files: Vec<&Table> = c.tables.iter().filter(|t| t.oid != 1).collect();
        let plan = overview::of_tables(&c, &files).unwrap();
        insta::assert_snapshot!(format!(
            "{}\n{}",
            render(&plan, Format::Dot),
            render(&plan, Format::Mermaid)
        ));
    }

    #[test]
    fn an_empty_plan_is_an_empty_graph() {
        let plan = overview::of_catalog(&Catalog::of(150000, vec![], vec![])).unwrap();
        assert_eq!(
            render(&plan, Format::Dot),
            "digraph fkload {\n  rankdir=BT;\n  node [shape=box];\n  edge [fontsize=10];\n}\n"
        );
        assert_eq!(render(&plan, Format::Mermaid), "flowchart BT\n");
    }

    #[test]
    fn escaping() {
        assert_eq!(dot_string("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(dot_string("\\N"), "\"\\\\N\"");
        assert_eq!(
            mermaid_text("a\"b#c;<br>|`x`"),
            "a#34;b#35;c;#60;br#62;#124;#96;x#96;"
        );
        assert_eq!(mermaid_text("Order Lines é 中"), "Order Lines é 中");
        assert_eq!(
            display(&QualName::new("public", "Order Lines")),
            "\"Order Lines\""
        );
        assert_eq!(
            display(&QualName::new("Sales", "orders")),
            "\"Sales\".orders"
        );
    }

    /// One DOT token, as Graphviz's lexer (`scan.l`) reads it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Tok {
        /// A quoted string: `\"` is a quote, `\\` stays two characters, any
        /// other backslash stays.
        Str(String),
        Word(String),
        Punct(char),
    }

    /// The tokens of one line, or `None` when a string is not closed.
    fn dot_tokens(line: &str) -> Option<Vec<Tok>> {
        let mut out = Vec::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ' ' => {}
                '"' => {
                    let mut s = String::new();
                    loop {
                        match chars.next()? {
                            '"' => break,
                            '\\' => match chars.next()? {
                                '"' => s.push('"'),
                                other => {
                                    s.push('\\');
                                    s.push(other);
                                }
                            },
                            other => s.push(other),
                        }
                    }
                    out.push(Tok::Str(s));
                }
                '-' if chars.peek() == Some(&'>') => {
                    chars.next();
                    out.push(Tok::Word("->".into()));
                }
                c if c.is_alphanumeric() || c == '_' => {
                    let mut w = c.to_string();
                    while let Some(&n) = chars.peek().filter(|n| n.is_alphanumeric() || **n == '_')
                    {
                        w.push(n);
                        chars.next();
                    }
                    out.push(Tok::Word(w));
                }
                c => out.push(Tok::Punct(c)),
            }
        }
        Some(out)
    }

    /// A label string as Graphviz shows it (`escString`): `\\` is a
    /// backslash, `\n` and `\r` end lines; any other escape (`\N`, `\G`, ...)
    /// would be replaced by a name, so it is an error here.
    fn shown(s: &str) -> Result<String, Box<dyn Error>> {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('\\') => out.push('\\'),
                Some('"') => out.push('"'),
                Some('n') => out.push('\n'),
                Some('r') => out.push('\r'),
                other => return Err(format!("escape \\{other:?} in {s:?}").into()),
            }
        }
        Ok(out)
    }

    /// The label attribute of a statement's tokens.
    fn label(toks: &[Tok]) -> Option<&str> {
        toks.windows(3).find_map(|w| match w {
            [Tok::Word(l), Tok::Punct('='), Tok::Str(s)] if l == "label" => Some(s.as_str()),
            _ => None,
        })
    }

    /// Reads the DOT back: node ids with their shown labels, and arrows
    /// (from, to, shown label); checks that every line is one complete
    /// statement and every arrow joins declared nodes.
    type Dot = (Vec<(String, String)>, Vec<(String, String, String)>);

    fn read_dot(text: &str) -> Result<Dot, Box<dyn Error>> {
        let mut nodes: Vec<(String, String)> = Vec::new();
        let mut arrows = Vec::new();
        let mut depth = 0i32;
        for line in text.lines() {
            let toks = dot_tokens(line).ok_or_else(|| format!("unclosed string: {line}"))?;
            depth += toks.iter().filter(|t| **t == Tok::Punct('{')).count() as i32;
            depth -= toks.iter().filter(|t| **t == Tok::Punct('}')).count() as i32;
            match toks.as_slice() {
                [Tok::Str(id), Tok::Punct('['), rest @ ..] => {
                    if rest.last() != Some(&Tok::Punct(';')) {
                        return Err(format!("unterminated node: {line}").into());
                    }
                    let l = label(rest).ok_or_else(|| format!("no label: {line}"))?;
                    nodes.push((id.clone(), shown(l)?));
                }
                [
                    Tok::Str(a),
                    Tok::Word(arrow),
                    Tok::Str(b),
                    Tok::Punct('['),
                    rest @ ..,
                ] if arrow == "->" => {
                    let l = label(rest).ok_or_else(|| format!("no label: {line}"))?;
                    arrows.push((a.clone(), b.clone(), shown(l)?));
                }
                // Else a string may only be an attribute's value (of the graph
                // or a cluster) or a cluster's name.
                _ if toks.iter().any(|t| matches!(t, Tok::Str(_)))
                    && !line.trim_start().starts_with("subgraph")
                    && !matches!(toks.first(), Some(Tok::Word(_))) =>
                {
                    return Err(format!("stray string: {line}").into());
                }
                _ => {}
            }
        }
        if depth != 0 {
            return Err(format!("braces do not balance: {depth}").into());
        }
        let ids: BTreeSet<&String> = nodes.iter().map(|(id, _)| id).collect();
        if ids.len() != nodes.len() {
            return Err("a node is declared twice".into());
        }
        for (a, b, _) in &arrows {
            if !ids.contains(a) || !ids.contains(b) {
                return Err(format!("arrow {a:?} -> {b:?} joins an undeclared node").into());
            }
        }
        Ok((nodes, arrows))
    }

    /// A Mermaid label's text as shown: entity codes decoded, `<br>` a line
    /// break. Errors on a character that should have been a code.
    fn mermaid_shown(s: &str) -> Result<String, Box<dyn Error>> {
        if s.chars().any(char::is_control) {
            return Err(format!("raw control character in {s:?}").into());
        }
        let s = s.replace("<br>", "\n");
        let mut out = String::new();
        let mut rest = s.as_str();
        while let Some(i) = rest.find(['#', '"', '&', '<', '>', '|', '`']) {
            out.push_str(&rest[..i]);
            rest = &rest[i..];
            if !rest.starts_with('#') {
                return Err(format!("raw {:?} in {s:?}", &rest[..1]).into());
            }
            let end = rest
                .find(';')
                .ok_or_else(|| format!("unended code in {s:?}"))?;
            let code: u32 = rest[1..end]
                .parse()
                .map_err(|_| format!("bad code in {s:?}"))?;
            out.push(char::from_u32(code).ok_or("not a character")?);
            rest = &rest[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn is_token(id: &str) -> bool {
        id.strip_prefix('t')
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    }

    /// Reads the Mermaid back: node ids with shown labels, and arrows (from,
    /// to, shown label); checks the ids are tokens and every arrow joins
    /// declared nodes.
    fn read_mermaid(text: &str) -> Result<Dot, Box<dyn Error>> {
        let mut lines = text.lines();
        if lines.next() != Some("flowchart BT") {
            return Err("no flowchart header".into());
        }
        let (mut nodes, mut arrows) = (Vec::new(), Vec::new());
        let mut open = 0i32;
        for line in lines {
            let line = line.trim();
            if line.starts_with("subgraph ") {
                open += 1;
            } else if line == "end" {
                open -= 1;
            } else if let Some((id, rest)) = line.split_once("[\"") {
                let rest = rest
                    .strip_suffix(":::nofile")
                    .unwrap_or(rest)
                    .strip_suffix("\"]")
                    .ok_or_else(|| format!("unterminated node: {line}"))?;
                if !is_token(id) || rest.contains('"') {
                    return Err(format!("bad node: {line}").into());
                }
                nodes.push((id.to_string(), mermaid_shown(rest)?));
            } else if let Some((from, rest)) = line.split_once(' ') {
                if from == "classDef" || from == "style" || from == "linkStyle" {
                    continue;
                }
                let rest = rest
                    .strip_prefix("-->|\"")
                    .or_else(|| rest.strip_prefix("-.->|\""))
                    .ok_or_else(|| format!("bad arrow: {line}"))?;
                let (l, to) = rest
                    .split_once("\"| ")
                    .ok_or_else(|| format!("bad arrow: {line}"))?;
                if !is_token(from) || !is_token(to) || l.contains('"') {
                    return Err(format!("bad arrow: {line}").into());
                }
                arrows.push((from.to_string(), to.to_string(), mermaid_shown(l)?));
            } else {
                return Err(format!("unknown line: {line}").into());
            }
        }
        if open != 0 {
            return Err("a subgraph is not closed".into());
        }
        let ids: BTreeSet<&String> = nodes.iter().map(|(id, _)| id).collect();
        for (a, b, _) in &arrows {
            if !ids.contains(a) || !ids.contains(b) {
                return Err(format!("arrow {a} -> {b} joins an undeclared node").into());
            }
        }
        Ok((nodes, arrows))
    }

    #[test]
    fn the_readers_read_the_snapshot_case() {
        let plan = all(150000);
        let (nodes, arrows) = read_dot(&render(&plan, Format::Dot)).unwrap();
        assert!(
            nodes.contains(&(
                "public.\"we\"\"ird\\\\name é\"".to_string(),
                "\"we\"\"ird\\name é\"".to_string()
            )),
            "{nodes:?}"
        );
        assert!(
            arrows.iter().any(|(_, _, l)| l == "k \"1\" \\N #x; <b>|"),
            "{arrows:?}"
        );
        let (nodes, arrows) = read_mermaid(&render(&plan, Format::Mermaid)).unwrap();
        assert!(
            nodes.iter().any(|(_, l)| l == "\"Sales\".\"Order Lines\""),
            "{nodes:?}"
        );
        assert!(
            arrows.iter().any(|(_, _, l)| l == "k \"1\" \\N #x; <b>|"),
            "{arrows:?}"
        );
    }

    /// Names as the catalog allows them: quotes, backslashes, spaces, dots,
    /// line breaks, `#`, `;`, `<`, `|`, backticks, letters of any script.
    fn name() -> impl proptest::strategy::Strategy<Value = String> {
        "[a-zA-Z0-9 \"\\\\#;<>|`.\n\t\u{e9}\u{4e2d}\u{1F600}-]{1,8}"
    }

    /// Up to 8 tables (distinct names) and 12 keys among them (deferrable or
    /// not), self-references and cycles included.
    fn catalogs() -> impl proptest::strategy::Strategy<Value = Catalog> {
        let schema = prop_oneof![
            Just("public".to_string()),
            Just("Sales".to_string()),
            name()
        ];
        proptest::collection::btree_set((schema, name()), 1..8).prop_flat_map(|tables| {
            let n = tables.len();
            let tables: Vec<Table> = tables
                .into_iter()
                .enumerate()
                .map(|(i, (s, t))| table(i as u32 + 1, &s, &t))
                .collect();
            let keys = proptest::collection::vec((0..n, 0..n, any::<bool>(), name()), 0..12);
            (Just(tables), keys).prop_map(|(tables, keys)| {
                let keys = keys
                    .into_iter()
                    .enumerate()
                    .map(|(i, (c, p, d, k))| key(100 + i as u32, &k, c as u32 + 1, p as u32 + 1, d))
                    .collect();
                Catalog::of(150000, tables, keys)
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        /// Every table is one node whose label shows its name; every key is
        /// one arrow between declared nodes whose label shows the key's name;
        /// nothing in a name escapes its string.
        #[test]
        fn every_name_reads_back(catalog in catalogs()) {
            let plan = overview::of_catalog(&catalog).unwrap();
            let names: BTreeSet<String> = catalog.tables.iter().map(|t| display(&t.name)).collect();
            // The arrows' labels as shown, in DOT and in Mermaid.
            let labels = |open: &str, close: &str| {
                let mut l: Vec<String> = plan.keys.iter().map(|k| match action_note(k.action) {
                    Some(note) => format!("{}\n{open}{note}{close}", k.key.name),
                    None => k.key.name.clone(),
                }).collect();
                l.sort();
                l
            };

            let (nodes, arrows) = read_dot(&render(&plan, Format::Dot))
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let shown: BTreeSet<String> = nodes.iter().map(|(_, l)| l.clone()).collect();
            prop_assert_eq!(nodes.len(), catalog.tables.len());
            prop_assert_eq!(&shown, &names);
            let mut shown: Vec<String> = arrows.into_iter().map(|(_, _, l)| l).collect();
            shown.sort();
            prop_assert_eq!(shown, labels("", ""));

            let (nodes, arrows) = read_mermaid(&render(&plan, Format::Mermaid))
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let shown: BTreeSet<String> = nodes.iter().map(|(_, l)| l.clone()).collect();
            prop_assert_eq!(nodes.len(), catalog.tables.len());
            prop_assert_eq!(&shown, &names);
            let mut shown: Vec<String> = arrows.into_iter().map(|(_, _, l)| l).collect();
            shown.sort();
            prop_assert_eq!(shown, labels("(", ")"));
            prop_assert!(plan.keys.iter().all(|k| k.child_steps.len() == 1));
        }
    }
}
