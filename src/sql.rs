//! Quoting of identifiers and literals for the SQL fkload builds.
//!
//! Every name that reaches SQL comes from a file name, a header row or the catalog,
//! and may hold quotes, spaces, capitals, dots or semicolons. Identifiers are
//! therefore always double-quoted (never "only when needed"), which keeps their
//! case and makes every character inert. Values go as bind parameters wherever the
//! statement accepts them; [`literal`] is for the few that do not (`COMMENT ON`).

use std::fmt;

/// `name` as a quoted SQL identifier: `a"b` becomes `"a""b"`.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// `value` as an SQL string literal, as the server's `quote_literal` writes it:
/// quotes doubled, and backslashes doubled behind an `E` prefix so the literal
/// means the same whatever `standard_conforming_strings` says.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 3);
    if value.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in value.chars() {
        if c == '\'' || c == '\\' {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A schema-qualified relation name. Display writes it quoted for SQL.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub struct QualName {
    pub schema: String,
    pub name: String,
}

impl QualName {
    pub fn new(schema: impl Into<String>, name: impl Into<String>) -> QualName {
        QualName {
            schema: schema.into(),
            name: name.into(),
        }
    }
}

impl QualName {
    /// The name for messages: `schema.table`, each part quoted only where SQL would
    /// need it (capitals, spaces, punctuation), as PostgreSQL's messages write names.
    pub fn human(&self) -> String {
        format!("{}.{}", human_ident(&self.schema), human_ident(&self.name))
    }
}

/// `name` quoted only where an unquoted identifier would read differently.
pub fn human_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if plain { name.to_string() } else { ident(name) }
}

impl fmt::Display for QualName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", ident(&self.schema), ident(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn identifiers_are_always_quoted() {
        assert_eq!(ident("orders"), "\"orders\"");
        assert_eq!(ident("Order Lines"), "\"Order Lines\"");
        assert_eq!(ident("a\"b;drop"), "\"a\"\"b;drop\"");
        assert_eq!(
            QualName::new("Sales", "x.y").to_string(),
            "\"Sales\".\"x.y\""
        );
    }

    #[test]
    fn human_names_quote_only_when_needed() {
        assert_eq!(QualName::new("public", "orders").human(), "public.orders");
        assert_eq!(
            QualName::new("Sales", "Order Lines").human(),
            "\"Sales\".\"Order Lines\""
        );
    }

    #[test]
    fn literals_escape_quotes_and_backslashes() {
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "E'a\\\\b'");
        assert_eq!(literal(""), "''");
    }

    proptest! {
        /// Reading the quoted identifier back gives the name, and nothing escapes the quotes.
        #[test]
        fn ident_round_trips(name in "\\PC{0,40}") {
            let q = ident(&name);
            prop_assert!(q.starts_with('"') && q.ends_with('"'));
            let inner = &q[1..q.len() - 1];
            prop_assert_eq!(inner.replace("\"\"", "\""), name);
            // Every quote inside comes in pairs: no lone quote ends the identifier early.
            prop_assert!(inner.split("\"\"").all(|part| !part.contains('"')));
        }
    }
}
