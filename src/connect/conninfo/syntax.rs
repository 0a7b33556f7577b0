//! The two libpq connection-string formats, `postgres://` URIs and
//! `key=value` strings, read as libpq's `conninfo_parse` and
//! `conninfo_uri_parse_options` read them, and shown with their passwords
//! replaced.

use std::collections::BTreeMap;

use super::defaults::REDACTED;
use crate::error::settings::ConnInfoError;

/// Keywords this module accepts in connection strings, spelled as libpq does.
pub(super) const KEYWORDS: &[&str] = &[
    "host",
    "hostaddr",
    "port",
    "user",
    "password",
    "passfile",
    "dbname",
    "application_name",
    "fallback_application_name",
    "connect_timeout",
    "options",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "channel_binding",
    "client_encoding",
    "target_session_attrs",
    "service",
    "keepalives",
];

/// Real libpq keywords that fkload cannot honour. Naming them gets a clearer
/// error than libpq's generic "invalid connection option".
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "sslcompression",
    "sslcertmode",
    "sslnegotiation",
    "gssencmode",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "requirepeer",
    "require_auth",
    "replication",
    "load_balance_hosts",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
];

/// Keyword values set explicitly at some level. `Some("")` is kept apart from
/// absent: in libpq an empty value from a string blocks the environment
/// fallback and then means "default".
#[derive(Debug, Default)]
pub(super) struct Params(BTreeMap<&'static str, String>);

impl Params {
    pub(super) fn set(&mut self, key: &'static str, value: String) {
        self.0.insert(key, value);
    }

    pub(super) fn merge(&mut self, later: Params) {
        self.0.extend(later.0);
    }

    pub(super) fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub(super) fn nonempty(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The canonical spelling of a keyword, or why it is refused. `shown` is what
/// an error may print for it (a redaction when it may be a password fragment).
fn keyword(
    key: &str,
    shown: String,
    unknown: fn(String) -> ConnInfoError,
) -> Result<&'static str, ConnInfoError> {
    if let Some(k) = KEYWORDS.iter().find(|k| **k == key) {
        return Ok(k);
    }
    if UNSUPPORTED_KEYWORDS.contains(&key) {
        return Err(ConnInfoError::UnsupportedOption(key.to_owned()));
    }
    Err(unknown(shown))
}

/// What an error may print for `key`: right after a `password` value, a stray
/// "key" is most likely the rest of an unquoted password containing a space.
fn shown_key(previous: Option<&str>, key: &str) -> String {
    if previous == Some("password") {
        REDACTED.to_owned()
    } else {
        key.to_owned()
    }
}

fn uri_prefix_len(s: &str) -> Option<usize> {
    ["postgresql://", "postgres://"]
        .into_iter()
        .find(|p| s.starts_with(p))
        .map(str::len)
}

/// Expand a `-d`/`DATABASE_URL` value the way libpq's `expand_dbname` does.
pub(super) fn parse_conn_arg(arg: &str) -> Result<Params, ConnInfoError> {
    if uri_prefix_len(arg).is_some() {
        parse_uri(arg)
    } else if arg.contains('=') {
        parse_key_value(arg)
    } else {
        let mut p = Params::default();
        p.set("dbname", arg.to_owned());
        Ok(p)
    }
}

pub(super) fn is_space(c: char) -> bool {
    // C's isspace(), which libpq uses.
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Split a `key=value` string into raw pairs, following libpq's
/// `conninfo_parse`: blanks around `=` allowed, values end at a blank unless
/// single-quoted, and a backslash takes the next character literally.
fn tokenize_key_value(s: &str) -> Result<Vec<(String, String)>, ConnInfoError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut chars = s.chars().peekable();
    let skip_blanks = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|c| is_space(*c)).is_some() {}
    };
    loop {
        skip_blanks(&mut chars);
        if chars.peek().is_none() {
            return Ok(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !is_space(*c)) {
            key.push(c);
        }
        skip_blanks(&mut chars);
        if chars.next_if_eq(&'=').is_none() {
            let previous = pairs.last().map(|(k, _)| k.as_str());
            return Err(ConnInfoError::MissingEquals(shown_key(previous, &key)));
        }
        skip_blanks(&mut chars);
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    None => return Err(ConnInfoError::UnterminatedQuote),
                    Some('\\') => {
                        if let Some(c) = chars.next() {
                            value.push(c);
                        }
                    }
                    Some('\'') => break,
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next() {
                if is_space(c) {
                    break;
                }
                if c == '\\' {
                    if let Some(next) = chars.next() {
                        value.push(next);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
}

fn parse_key_value(s: &str) -> Result<Params, ConnInfoError> {
    let mut params = Params::default();
    let mut previous: Option<&str> = None;
    for (key, value) in tokenize_key_value(s)? {
        let k = keyword(
            &key,
            shown_key(previous, &key),
            ConnInfoError::InvalidOption,
        )?;
        params.set(k, value);
        previous = Some(k);
    }
    Ok(params)
}

/// Parse a connection URI the way libpq's `conninfo_uri_parse_options` does:
/// `scheme://[user[:password]@][netloc][:port][,...][/dbname][?param=value&...]`.
fn parse_uri(uri: &str) -> Result<Params, ConnInfoError> {
    let u = Uri(uri);
    let mut params = Params::default();
    let mut rest = uri_prefix_len(uri).map_or(uri, |n| &uri[n..]);

    // Credentials end at an '@' that comes before any '/'.
    if let Some(i) = rest.find(['@', '/'])
        && rest[i..].starts_with('@')
    {
        let (user, password) = match rest[..i].split_once(':') {
            Some((u, pw)) => (u, Some(pw)),
            None => (&rest[..i], None),
        };
        if !user.is_empty() {
            params.set("user", u.decode(user)?);
        }
        if let Some(pw) = password.filter(|pw| !pw.is_empty()) {
            params.set("password", u.decode(pw)?);
        }
        rest = &rest[i + 1..];
    }

    let (hosts, ports, mut rest) = u.netloc(rest)?;
    if !hosts.is_empty() {
        params.set("host", u.decode(&hosts)?);
    }
    if !ports.is_empty() {
        params.set("port", u.decode(&ports)?);
    }

    if let Some(after) = rest.strip_prefix('/') {
        let end = after.find('?').unwrap_or(after.len());
        // An empty path must not set dbname: that would block PGDATABASE.
        if end > 0 {
            params.set("dbname", u.decode(&after[..end])?);
        }
        rest = &after[end..];
    }
    if let Some(query) = rest.strip_prefix('?') {
        u.parameters(query, &mut params)?;
    }
    Ok(params)
}

/// A URI being parsed, for its errors (which show it redacted).
struct Uri<'a>(&'a str);

impl Uri<'_> {
    fn invalid(&self, reason: String) -> ConnInfoError {
        ConnInfoError::InvalidUri {
            uri: redact_uri(self.0),
            reason,
        }
    }

    fn decode(&self, s: &str) -> Result<String, ConnInfoError> {
        percent_decode(s).map_err(|r| self.invalid(r.to_owned()))
    }

    /// The `host[:port]` pairs separated by commas at the start of `rest`,
    /// as libpq's comma lists of hosts and of ports (still encoded), and
    /// what follows them.
    fn netloc<'r>(&self, mut rest: &'r str) -> Result<(String, String, &'r str), ConnInfoError> {
        let mut hosts = String::new();
        let mut ports = String::new();
        loop {
            let host;
            if let Some(after) = rest.strip_prefix('[') {
                let end = after.find(']').ok_or_else(|| {
                    self.invalid(
                        "end of string reached when looking for matching \"]\" in IPv6 host address"
                            .to_owned(),
                    )
                })?;
                if end == 0 {
                    return Err(self.invalid("IPv6 host address may not be empty".to_owned()));
                }
                host = &after[..end];
                rest = &after[end + 1..];
                if let Some(c) = rest.chars().next()
                    && !matches!(c, ':' | '/' | '?' | ',')
                {
                    return Err(self.invalid(format!(
                        "unexpected character \"{c}\" after IPv6 host address (expected \":\" or \"/\")"
                    )));
                }
            } else {
                let end = rest.find([':', '/', '?', ',']).unwrap_or(rest.len());
                host = &rest[..end];
                rest = &rest[end..];
            }
            hosts.push_str(host);
            if let Some(after) = rest.strip_prefix(':') {
                let end = after.find(['/', '?', ',']).unwrap_or(after.len());
                ports.push_str(&after[..end]);
                rest = &after[end..];
            }
            match rest.strip_prefix(',') {
                Some(after) => {
                    hosts.push(',');
                    ports.push(',');
                    rest = after;
                }
                None => return Ok((hosts, ports, rest)),
            }
        }
    }

    /// The `param=value&...` after `?`, into `params`.
    fn parameters(&self, mut query: &str, params: &mut Params) -> Result<(), ConnInfoError> {
        let mut previous: Option<&'static str> = None;
        while !query.is_empty() {
            let (piece, next) = query.split_once('&').unwrap_or((query, ""));
            query = next;
            let Some((raw_key, raw_value)) = piece.split_once('=') else {
                let shown = shown_key(previous, piece);
                return Err(self.invalid(format!(
                    "missing key/value separator \"=\" in query parameter \"{shown}\""
                )));
            };
            if raw_value.contains('=') {
                let shown = shown_key(previous, raw_key);
                return Err(self.invalid(format!(
                    "extra key/value separator \"=\" in query parameter \"{shown}\""
                )));
            }
            let mut key = self.decode(raw_key)?;
            let mut value = self.decode(raw_value)?;
            // libpq's JDBC-compatibility spelling.
            if key == "ssl" && value == "true" {
                key = "sslmode".to_owned();
                value = "require".to_owned();
            }
            let k = keyword(
                &key,
                shown_key(previous, &key),
                ConnInfoError::InvalidUriParameter,
            )?;
            params.set(k, value);
            previous = Some(k);
        }
        Ok(())
    }
}

/// Decode `%XX` escapes. The error never quotes the input, which may be a
/// password.
fn percent_decode(s: &str) -> Result<String, &'static str> {
    fn hex(b: u8) -> Option<u8> {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err("invalid percent-encoded token");
            };
            let decoded = (hi << 4) | lo;
            if decoded == 0 {
                return Err("forbidden value %00 in percent-encoded value");
            }
            out.push(decoded);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-decoded value is not valid UTF-8")
}

/// The URI with its password (in the credentials or a `password` query
/// parameter) replaced, for error messages.
fn redact_uri(uri: &str) -> String {
    let Some(prefix_len) = uri_prefix_len(uri) else {
        return uri.to_owned();
    };
    let (prefix, mut rest) = uri.split_at(prefix_len);
    let mut out = prefix.to_owned();
    if let Some(i) = rest.find(['@', '/'])
        && rest[i..].starts_with('@')
    {
        match rest[..i].split_once(':') {
            Some((user, _)) => {
                out.push_str(user);
                out.push(':');
                out.push_str(REDACTED);
            }
            None => out.push_str(&rest[..i]),
        }
        out.push('@');
        rest = &rest[i + 1..];
    }
    let Some((before, query)) = rest.split_once('?') else {
        out.push_str(rest);
        return out;
    };
    out.push_str(before);
    out.push('?');
    let mut previous_was_password = false;
    let pieces: Vec<String> = query
        .split('&')
        .map(|piece| match piece.split_once('=') {
            Some((key, _)) if percent_decode(key).is_ok_and(|k| k == "password") => {
                previous_was_password = true;
                format!("{key}={REDACTED}")
            }
            None if previous_was_password => REDACTED.to_owned(),
            _ => {
                previous_was_password = false;
                piece.to_owned()
            }
        })
        .collect();
    out.push_str(&pieces.join("&"));
    out
}

/// A `-d` value fit to show: passwords replaced, plain names as they are.
pub(super) fn redact_conn_string(s: &str) -> String {
    if uri_prefix_len(s).is_some() {
        return redact_uri(s);
    }
    if !s.contains('=') {
        return s.to_owned();
    }
    match tokenize_key_value(s) {
        Ok(pairs) => pairs
            .iter()
            .map(|(k, v)| {
                if k == "password" {
                    format!("{k}={REDACTED}")
                } else {
                    format!("{k}={}", quote_value(v))
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        // Unparseable, so we cannot tell where a password would be.
        Err(_) => "<unparseable connection string>".to_owned(),
    }
}

fn quote_value(v: &str) -> String {
    if !v.is_empty() && !v.chars().any(|c| is_space(c) || c == '\'' || c == '\\') {
        return v.to_owned();
    }
    let escaped = v.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn uri_with_credentials_host_port_and_dbname() {
        let c = ok(&d("postgres://app:secret@db.example:5433/shop"), &[]);
        assert_eq!(c.user(), "app");
        assert_eq!(c.hosts(), ["db.example"]);
        assert_eq!(c.port(), 5433);
        assert_eq!(c.dbname(), "shop");
        assert_eq!(config_password(&c), Some(b"secret".to_vec()));
    }

    #[test]
    fn uri_percent_decodes_every_part() {
        let c = ok(
            &d("postgresql://a%40b:p%3Aw%2Fd%25@%2Fvar%2Frun%2Fpg:5432/my%20db"),
            &[],
        );
        assert_eq!(c.user(), "a@b");
        assert_eq!(config_password(&c), Some(b"p:w/d%".to_vec()));
        assert_eq!(c.hosts(), ["/var/run/pg"]);
        assert_eq!(c.dbname(), "my db");
    }

    #[test]
    fn uri_ipv6_hosts_in_brackets() {
        let c = ok(&d("postgresql://[::1]:6543,[fe80::1%25eth0]/db"), &[]);
        assert_eq!(c.hosts(), ["::1", "fe80::1%eth0"]);
        assert_eq!(c.ports(), [6543, 5432]);
    }

    #[test]
    fn uri_multi_host_with_per_host_ports() {
        let c = ok(&d("postgresql://a:5433,b:5434,c/db"), &[]);
        assert_eq!(c.hosts(), ["a", "b", "c"]);
        assert_eq!(c.ports(), [5433, 5434, 5432]);
        assert_eq!(
            c.describe(),
            r#"hosts "a" port 5433, "b" port 5434, "c" port 5432 as user "osuser" database "db""#
        );
    }

    #[test]
    fn uri_query_params_override_netloc_and_set_options() {
        let c = ok(
            &d("postgres://u@h:1/db?host=h2&port=7777&user=u2&dbname=db2\
                &application_name=my%20app&connect_timeout=10\
                &options=-c%20search_path%3Dfoo&sslmode=disable&password=pw"),
            &[],
        );
        assert_eq!(c.hosts(), ["h2"]);
        assert_eq!(c.port(), 7777);
        assert_eq!(c.user(), "u2");
        assert_eq!(c.dbname(), "db2");
        assert_eq!(c.application_name(), "my app");
        assert_eq!(c.connect_timeout(), Some(Duration::from_secs(10)));
        let config = c.config_for(0, Transport::Plain);
        assert_eq!(config.get_options(), Some("-c search_path=foo"));
        assert_eq!(c.tls().mode, SslMode::Disable);
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn uri_with_no_netloc_uses_defaults_and_query_socket_host() {
        let c = ok(&d("postgresql:///shop?host=%2Ftmp"), &[("PGUSER", "alice")]);
        assert_eq!(c.hosts(), ["/tmp"]);
        assert_eq!(c.user(), "alice");
        assert_eq!(c.dbname(), "shop");
        // An empty path leaves dbname to PGDATABASE.
        let c = ok(&d("postgresql://h/"), &[("PGDATABASE", "envdb")]);
        assert_eq!(c.dbname(), "envdb");
    }

    #[test]
    fn uri_errors_are_typed_and_redacted() {
        let cases = [
            "postgres://u:hunter2@h/db?x=%zz",
            "postgres://u:hunter2@[::1/db",
            "postgres://u:hunter2@[]/db",
            "postgres://u:hunter2@[::1]x/db",
            "postgres://u:hunter2@h/db?sslmode=disable&&dbname=x",
            "postgres://u:hunter2@h/db?options=a=b",
            "postgres://u:hunter2@h/db?options=%00",
        ];
        for uri in cases {
            let e = err(&d(uri), &[]);
            assert!(
                matches!(e, ConnInfoError::InvalidUri { .. }),
                "{uri}: {e:?}"
            );
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("postgres://u:********@"), "{shown}");
        }
    }

    #[test]
    fn uri_password_query_param_and_fragment_are_redacted() {
        let e = err(&d("postgres://h/db?password=hunter2&nope&x=%zz"), &[]);
        let shown = e.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("nope"), "{shown}");
    }

    #[test]
    fn uri_unknown_param_is_rejected_and_ssl_true_means_require() {
        assert!(matches!(
            err(&d("postgres://h/db?foo=bar"), &[]),
            ConnInfoError::InvalidUriParameter(k) if k == "foo"
        ));
        let c = ok(&d("postgres://h/db?ssl=true"), &[]);
        assert_eq!(c.tls().mode, SslMode::Require);
    }

    #[test]
    fn key_value_basic() {
        let c = ok(&d("host=h port=5433 dbname=shop user=app"), &[]);
        assert_eq!(c.hosts(), ["h"]);
        assert_eq!(c.port(), 5433);
        assert_eq!(c.dbname(), "shop");
        assert_eq!(c.user(), "app");
    }

    #[test]
    fn key_value_quotes_escapes_and_blanks_around_equals() {
        let c = ok(
            &d(r"dbname = 'my db'  password='it\'s \\ x' options='-c geqo=off' user=a\ b"),
            &[],
        );
        assert_eq!(c.dbname(), "my db");
        assert_eq!(config_password(&c), Some(br"it's \ x".to_vec()));
        assert_eq!(
            c.config_for(0, Transport::Plain).get_options(),
            Some("-c geqo=off")
        );
        assert_eq!(c.user(), "a b");
    }

    #[test]
    fn key_value_syntax_errors() {
        assert!(matches!(
            err(&d("dbname='shop"), &[]),
            ConnInfoError::UnterminatedQuote
        ));
        assert!(matches!(
            err(&d("dbname=shop host"), &[]),
            ConnInfoError::MissingEquals(k) if k == "host"
        ));
        assert!(matches!(
            err(&d("foo=bar"), &[]),
            ConnInfoError::InvalidOption(k) if k == "foo"
        ));
        assert!(matches!(
            err(&d("gssencmode=require"), &[]),
            ConnInfoError::UnsupportedOption(k) if k == "gssencmode"
        ));
    }

    #[test]
    fn key_value_errors_do_not_leak_password_fragments() {
        for s in ["password=hunter 2 x", "password=hunter twopart=x"] {
            let e = err(&d(s), &[]);
            let shown = format!("{e} {e:?}");
            assert!(
                !shown.contains('2') && !shown.contains("twopart"),
                "{shown}"
            );
        }
    }

    #[test]
    fn key_value_ignored_and_accepted_keywords() {
        let c = ok(
            &d(
                "client_encoding=UTF8 keepalives=1 fallback_application_name=fb \
                target_session_attrs=read-write hostaddr=10.0.0.1 host=name",
            ),
            &[],
        );
        assert_eq!(c.application_name(), "fb");
        // hostaddr says where to connect; the name stays (TLS checks it).
        assert_eq!(c.hosts(), ["name"]);
        assert_eq!(
            c.config_for(0, Transport::Plain).get_hostaddrs(),
            ["10.0.0.1".parse::<std::net::IpAddr>().unwrap()]
        );
        assert_eq!(c.session_attrs(), (SessionAttrs::ReadWrite, true));
        for (v, want) in [
            ("primary", SessionAttrs::Primary),
            ("standby", SessionAttrs::Standby),
            ("prefer-standby", SessionAttrs::PreferStandby),
            ("read-only", SessionAttrs::ReadOnly),
            ("any", SessionAttrs::Any),
        ] {
            let c = ok(&d(&format!("target_session_attrs={v}")), &[]);
            assert_eq!(c.session_attrs(), (want, true));
        }
        assert!(matches!(
            err(&d("target_session_attrs=master"), &[]),
            ConnInfoError::InvalidValue { .. }
        ));
        assert!(matches!(
            err(&d("client_encoding=LATIN1"), &[]),
            ConnInfoError::UnsupportedEncoding(e) if e == "LATIN1"
        ));
    }

    #[test]
    fn plain_dbname_sets_only_the_database() {
        let o = Overrides {
            dbname: Some("shop".into()),
            host: Some("h".into()),
            ..Overrides::default()
        };
        let c = ok(&o, &[("PGDATABASE", "envdb")]);
        assert_eq!(c.dbname(), "shop");
        assert_eq!(c.hosts(), ["h"]);
    }
}
