//! Connection settings, resolved the way psql and libpq resolve them.
//!
//! This module owns turning what the user gave (`-d`, `-h`, `-p`, `-U`), the
//! `PG*` environment variables, `DATABASE_URL` and the password file into one
//! [`ConnInfo`], and turning that into a [`postgres::Config`]. It parses both
//! libpq connection-string formats (`postgres://` URIs and `key=value`
//! strings) itself, because `postgres::Config`'s own parser knows nothing of
//! psql's precedence rules, the environment or `.pgpass`.
//!
//! It also reads libpq's service files (`service=`, `PGSERVICE`) and the TLS
//! settings (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`, `sslpassword`,
//! `sslcrl`, ... and their `PGSSL*` variables and `~/.postgresql/` defaults),
//! which `tls` turns into a connector. It does not own connecting (the host
//! loop is the connector's), prompting for a password (the connector decides
//! when, [`crate::Connector::session_with_prompt`], and hands the answer to
//! [`ConnInfo::set_password`]; the caller's terminal asks), or command-line
//! parsing.
//!
//! No crate does this with libpq's rules (checked in 2026: postgres-service
//! ignores `PGSERVICEFILE` and sends unknown keys to the server,
//! pg-client-config misreads `\:` in the password file and takes only
//! tokio-postgres's `Config`, pg-connection-string is AGPL;
//! `postgres::Config`'s parser refuses libpq's TLS and service keywords), so
//! it is written here, one part per module: the string formats
//! (`syntax`), service files (`service`), the password file (`passfile`),
//! the `ssl*` keywords (`ssl`) and the default user (`user`), with what they
//! all share in two leaves below them: libpq's defaults (`defaults`) and the
//! error ([`ConnInfoError`], `error`), so that no part imports this file. This
//! file holds the precedence and the resolved [`ConnInfo`].
//!
//! Precedence, checked against psql's `startup.c` and the libpq docs for
//! `PQconnectdbParams`: psql passes `host`, `port`, `user` and then `dbname`
//! with `expand_dbname` set, and libpq lets the fields of an expanded `dbname`
//! string override the entries before it. So `psql -h a -d "host=b"` goes to
//! `b`, and the same holds here: `-d` string values, then `-h`/`-p`/`-U`, then
//! `PG*` variables, then defaults. Without `-d`, `DATABASE_URL` takes its place
//! but ranks below `-h`/`-p`/`-U`: it is the environment, and typed flags beat
//! the environment. A service (`service=`, or `PGSERVICE`) fills in what is
//! still unset after those, then the `PG*` variables (libpq's
//! `conninfo_add_defaults`).

mod defaults;
mod passfile;
mod service;
mod ssl;
mod syntax;
#[cfg(test)]
mod test_support;
mod user;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use postgres::config::ChannelBinding;

use crate::connect::tls::{SslMode, TlsSettings, Transport};
pub use crate::error::settings::ConnInfoError;
use defaults::{
    DEFAULT_APPLICATION_NAME, DEFAULT_PORT, DEFAULT_SOCKET_DIR, DEFAULT_TCP_HOST, REDACTED,
};
use passfile::{Passfile, default_passfile, password_in, read_passfile};
use service::service_settings;
use ssl::tls_settings;
use syntax::{Params, parse_conn_arg, redact_conn_string};
use user::os_user;

/// Environment fallbacks, consulted only for keywords nothing above set (as
/// libpq's `conninfo_add_defaults` does).
const ENV_FALLBACKS: &[(&str, &str)] = &[
    ("host", "PGHOST"),
    ("port", "PGPORT"),
    ("user", "PGUSER"),
    ("password", "PGPASSWORD"),
    ("passfile", "PGPASSFILE"),
    ("dbname", "PGDATABASE"),
    ("application_name", "PGAPPNAME"),
    ("connect_timeout", "PGCONNECT_TIMEOUT"),
    ("options", "PGOPTIONS"),
    ("sslmode", "PGSSLMODE"),
    ("sslrootcert", "PGSSLROOTCERT"),
    ("sslcert", "PGSSLCERT"),
    ("sslkey", "PGSSLKEY"),
    ("sslcrl", "PGSSLCRL"),
    ("sslcrldir", "PGSSLCRLDIR"),
    ("sslsni", "PGSSLSNI"),
    ("ssl_min_protocol_version", "PGSSLMINPROTOCOLVERSION"),
    ("ssl_max_protocol_version", "PGSSLMAXPROTOCOLVERSION"),
    ("channel_binding", "PGCHANNELBINDING"),
    ("client_encoding", "PGCLIENTENCODING"),
    ("target_session_attrs", "PGTARGETSESSIONATTRS"),
];

/// What the user gave on the command line (psql's -d -h -p -U), all optional.
///
/// `Debug` redacts any password inside `dbname`, since `-d` may be a URI or
/// `key=value` string carrying one.
#[derive(Clone, Default)]
pub struct Overrides {
    /// `-d`: a `postgres://` or `postgresql://` URI, a `key=value` conninfo
    /// string, or a plain database name.
    pub dbname: Option<String>,
    /// `-h`
    pub host: Option<String>,
    /// `-p`
    pub port: Option<String>,
    /// `-U`
    pub user: Option<String>,
}

impl fmt::Debug for Overrides {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Overrides")
            .field("dbname", &self.dbname.as_deref().map(redact_conn_string))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .finish()
    }
}

/// libpq's `target_session_attrs`: which of the hosts is acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum SessionAttrs {
    #[default]
    Any,
    /// Accepts writes (`transaction_read_only` off).
    ReadWrite,
    /// Does not accept writes.
    ReadOnly,
    /// Not in recovery.
    Primary,
    /// In recovery (a hot standby).
    Standby,
    /// A standby if any host is one, else any.
    PreferStandby,
}

impl SessionAttrs {
    fn parse(v: &str) -> Option<SessionAttrs> {
        Some(match v {
            "any" => SessionAttrs::Any,
            "read-write" => SessionAttrs::ReadWrite,
            "read-only" => SessionAttrs::ReadOnly,
            "primary" => SessionAttrs::Primary,
            "standby" => SessionAttrs::Standby,
            "prefer-standby" => SessionAttrs::PreferStandby,
            _ => return None,
        })
    }
}

/// Resolved settings. `Debug` and `Display` never show a password.
#[derive(Clone)]
pub struct ConnInfo {
    hosts: Vec<String>,
    /// `hostaddr` per host: where to connect, while the host name stays for
    /// TLS (the server name to check) and the password file.
    hostaddrs: Vec<Option<String>>,
    /// One port per host, so `ports[i]` goes with `hosts[i]`.
    ports: Vec<u16>,
    user: String,
    dbname: String,
    /// From the string, `PGPASSWORD` or a prompt: for every host.
    password: Option<String>,
    /// From the password file, per host (`None` where it has no line).
    host_passwords: Vec<Option<String>>,
    application_name: String,
    connect_timeout: Option<Duration>,
    options: Option<String>,
    tls: TlsSettings,
    channel_binding: ChannelBinding,
    session_attrs: SessionAttrs,
    /// Whether `target_session_attrs` was given (else a load asks for a
    /// writable primary).
    session_attrs_given: bool,
    /// What libpq would print as a warning while resolving (a password file
    /// others can read).
    warnings: Vec<String>,
    /// Accepted for libpq compatibility but not acted on (keepalives); kept so
    /// `Debug` shows they were seen.
    ignored: Vec<(&'static str, String)>,
}

impl ConnInfo {
    /// Resolve with libpq's precedence. `env` looks up an environment variable
    /// (tests pass a closure over a map; the CLI passes
    /// `|k| std::env::var(k).ok()`).
    ///
    /// The password comes from the `-d`/`DATABASE_URL` string, else
    /// `PGPASSWORD`, else the password file, which is matched against the
    /// first host only: `postgres::Config` carries one password for every host,
    /// and taking another host's entry would send that host's password to the
    /// first one.
    ///
    /// # Errors
    ///
    /// Any [`ConnInfoError`]: a malformed URI or `key=value` string, an unknown
    /// or unsupported keyword, a bad port or port count, a bad
    /// `connect_timeout`, `sslmode` or `target_session_attrs` value, or an
    /// `sslmode` that needs TLS.
    pub fn resolve(
        o: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ConnInfo, ConnInfoError> {
        Self::resolve_as(o, env, &os_user)
    }

    /// [`ConnInfo::resolve`] with the default user name from `os_user`
    /// (asked only when no user is given), for tests.
    ///
    /// # Errors
    /// As [`ConnInfo::resolve`].
    pub fn resolve_as(
        o: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
        os_user: &dyn Fn() -> Result<String, ConnInfoError>,
    ) -> Result<ConnInfo, ConnInfoError> {
        let mut params = Params::default();
        let flags = |params: &mut Params| {
            // psql ignores empty option values, and puts these before dbname.
            for (key, value) in [("host", &o.host), ("port", &o.port), ("user", &o.user)] {
                if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                    params.set(key, v.to_owned());
                }
            }
        };
        if let Some(arg) = o.dbname.as_deref().filter(|d| !d.is_empty()) {
            flags(&mut params);
            // Later entries win, so the string's values beat -h/-p/-U.
            params.merge(parse_conn_arg(arg)?);
        } else {
            // DATABASE_URL stands in for -d, but it is the environment: flags
            // typed on the command line win over it, as they win over PGHOST.
            if let Some(url) = env("DATABASE_URL").filter(|d| !d.is_empty()) {
                params.merge(parse_conn_arg(&url)?);
            }
            flags(&mut params);
        }
        // The service fills what is unset, before the environment does.
        let service = params
            .nonempty("service")
            .map(str::to_owned)
            .or_else(|| env("PGSERVICE").filter(|s| !s.is_empty()));
        if let Some(service) = service {
            for (key, value) in service_settings(&service, env)? {
                if !params.contains(key) {
                    params.set(key, value);
                }
            }
        }
        for &(key, var) in ENV_FALLBACKS {
            // A keyword set to "" above still blocks the variable, as in libpq.
            if !params.contains(key)
                && let Some(v) = env(var)
            {
                params.set(key, v);
            }
        }
        Self::from_params(&params, env, os_user)
    }

    fn from_params(
        p: &Params,
        env: &dyn Fn(&str) -> Option<String>,
        os_user: &dyn Fn() -> Result<String, ConnInfoError>,
    ) -> Result<ConnInfo, ConnInfoError> {
        let user = match p.nonempty("user") {
            Some(u) => u.to_owned(),
            None => os_user()?,
        };
        let dbname = p.nonempty("dbname").unwrap_or(&user).to_owned();
        let Places {
            hosts,
            hostaddrs,
            ports,
        } = places(p)?;
        // The password file is read per host, as libpq reads it: each host
        // gets its own line.
        let passfile = p
            .nonempty("passfile")
            .map(PathBuf::from)
            .or_else(|| default_passfile(env));
        let (host_passwords, warnings) = match passfile.as_deref().map(read_passfile) {
            Some(Passfile::Lines(text)) => {
                let found = hosts
                    .iter()
                    .zip(&ports)
                    .map(|(host, &port)| password_in(&text, host, port, &dbname, &user))
                    .collect();
                (found, Vec::new())
            }
            Some(Passfile::TooOpen(warning)) => (vec![None; hosts.len()], vec![warning]),
            Some(Passfile::None) | None => (vec![None; hosts.len()], Vec::new()),
        };
        let connect_timeout = match p.nonempty("connect_timeout") {
            Some(v) => parse_connect_timeout(v)?,
            None => None,
        };
        let attrs = p.nonempty("target_session_attrs");
        if let Some(encoding) = p.nonempty("client_encoding")
            && !is_utf8(encoding, env)
        {
            return Err(ConnInfoError::UnsupportedEncoding(encoding.to_owned()));
        }
        Ok(ConnInfo {
            host_passwords,
            hosts,
            hostaddrs,
            ports,
            user,
            dbname,
            password: p.nonempty("password").map(str::to_owned),
            application_name: p
                .nonempty("application_name")
                .or(p.nonempty("fallback_application_name"))
                .unwrap_or(DEFAULT_APPLICATION_NAME)
                .to_owned(),
            connect_timeout,
            options: p.nonempty("options").map(str::to_owned),
            tls: tls_settings(p, env)?,
            channel_binding: channel_binding(p)?,
            session_attrs: match attrs {
                None => SessionAttrs::Any,
                Some(v) => SessionAttrs::parse(v).ok_or_else(|| ConnInfoError::InvalidValue {
                    option: "target_session_attrs",
                    value: v.to_owned(),
                })?,
            },
            session_attrs_given: attrs.is_some(),
            warnings,
            ignored: ["keepalives"]
                .into_iter()
                .filter_map(|k| p.nonempty(k).map(|v| (k, v.to_owned())))
                .collect(),
        })
    }

    /// The user name to log in as.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The database to connect to.
    pub fn dbname(&self) -> &str {
        &self.dbname
    }

    /// Hosts in the order they will be tried, as resolved: a value starting
    /// with `/` is a Unix socket directory.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// The port of the first host.
    pub fn port(&self) -> u16 {
        self.ports.first().copied().unwrap_or(DEFAULT_PORT)
    }

    /// One port per host, in the order of [`ConnInfo::hosts`].
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The `application_name` the server will see.
    pub fn application_name(&self) -> &str {
        &self.application_name
    }

    /// Timeout for each connection attempt, if any.
    pub fn connect_timeout(&self) -> Option<Duration> {
        self.connect_timeout
    }

    /// Whether a password is known (from the string, `PGPASSWORD`, the
    /// password file for some host, or [`ConnInfo::set_password`]).
    pub fn has_password(&self) -> bool {
        self.password.is_some() || self.host_passwords.iter().any(Option::is_some)
    }

    /// Use this password, e.g. from a `-W` prompt, in place of any other. An
    /// empty one means none, as in libpq.
    pub fn set_password(&mut self, pw: String) {
        self.password = Some(pw).filter(|pw| !pw.is_empty());
    }

    /// The password for host `i`: the one given, else that host's line of
    /// the password file.
    fn password_for(&self, i: usize) -> Option<&str> {
        self.password
            .as_deref()
            .or_else(|| self.host_passwords.get(i).and_then(|p| p.as_deref()))
    }

    /// The TLS settings.
    pub(crate) fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// Which hosts are acceptable, and whether the user said so
    /// (`target_session_attrs`).
    pub(crate) fn session_attrs(&self) -> (SessionAttrs, bool) {
        (self.session_attrs, self.session_attrs_given)
    }

    /// What libpq would have printed as warnings while resolving.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Whether host `i` is a Unix socket directory.
    pub(crate) fn is_socket(&self, i: usize) -> bool {
        self.hosts.get(i).is_some_and(|h| h.starts_with('/'))
    }

    /// `host "a" port 5432`: host `i`, for messages.
    pub(crate) fn describe_host(&self, i: usize) -> String {
        format!(
            "host {:?} port {}",
            self.hosts.get(i).map_or("", String::as_str),
            self.ports.get(i).copied().unwrap_or(DEFAULT_PORT)
        )
    }

    /// A `postgres::Config` for host `i` alone, in plain text or in TLS (the
    /// TLS connector checks the server's certificate): the connector tries
    /// the hosts, and the transports of each, itself, as libpq does.
    pub(crate) fn config_for(&self, i: usize, transport: Transport) -> postgres::Config {
        let mut config = postgres::Config::new();
        // What `COPY ... ON_ERROR ignore` says of each row it skips, among
        // others (see crate::rows::bad).
        config.notice_callback(crate::database::db::keep_notice);
        if let Some(host) = self.hosts.get(i) {
            // On Unix, Config::host turns a leading '/' into a socket path.
            config.host(host);
        }
        if let Some(Some(addr)) = self.hostaddrs.get(i)
            && let Ok(addr) = addr.parse()
        {
            config.hostaddr(addr);
        }
        config.port(self.ports.get(i).copied().unwrap_or(DEFAULT_PORT));
        config
            .user(&self.user)
            .dbname(&self.dbname)
            .application_name(&self.application_name)
            .channel_binding(self.channel_binding)
            .ssl_mode(match transport {
                Transport::Plain => postgres::config::SslMode::Disable,
                // libpq's prefer: a server that answers "no TLS" is spoken to
                // in plain text on the same connection, not a second one.
                Transport::Tls if self.tls.mode == SslMode::Prefer => {
                    postgres::config::SslMode::Prefer
                }
                Transport::Tls => postgres::config::SslMode::Require,
            });
        if let Some(pw) = self.password_for(i) {
            config.password(pw);
        }
        if let Some(options) = &self.options {
            config.options(options);
        }
        if let Some(timeout) = self.connect_timeout {
            config.connect_timeout(timeout);
        }
        config
    }

    /// How many hosts there are to try.
    pub(crate) fn host_count(&self) -> usize {
        self.hosts.len()
    }

    /// e.g. `user "app" on host "localhost" port 5432 database "shop"`; never
    /// a password. Meant for error messages.
    pub fn describe(&self) -> String {
        let same_port = self.ports.windows(2).all(|w| w[0] == w[1]);
        let quoted: Vec<String> = self.hosts.iter().map(|h| format!("{h:?}")).collect();
        let place = match (quoted.as_slice(), same_port) {
            ([one], _) => format!("host {one} port {}", self.port()),
            (many, true) => format!("hosts {} port {}", many.join(", "), self.port()),
            (many, false) => {
                let pairs: Vec<String> = many
                    .iter()
                    .zip(&self.ports)
                    .map(|(h, p)| format!("{h} port {p}"))
                    .collect();
                format!("hosts {}", pairs.join(", "))
            }
        };
        format!("{place} as user {:?} database {:?}", self.user, self.dbname)
    }
}

impl fmt::Debug for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnInfo")
            .field("hosts", &self.hosts)
            .field("hostaddrs", &self.hostaddrs)
            .field("ports", &self.ports)
            .field("user", &self.user)
            .field("dbname", &self.dbname)
            .field("password", &self.password.as_ref().map(|_| REDACTED))
            .field(
                "host_passwords",
                &self
                    .host_passwords
                    .iter()
                    .map(|p| p.as_ref().map(|_| REDACTED))
                    .collect::<Vec<_>>(),
            )
            .field("application_name", &self.application_name)
            .field("connect_timeout", &self.connect_timeout)
            .field("options", &self.options)
            .field("tls", &self.tls)
            .field("channel_binding", &self.channel_binding)
            .field("session_attrs", &self.session_attrs)
            .field("ignored", &self.ignored)
            .finish()
    }
}

impl fmt::Display for ConnInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Where to connect: one entry per host in each list.
struct Places {
    hosts: Vec<String>,
    hostaddrs: Vec<Option<String>>,
    ports: Vec<u16>,
}

/// The hosts, their `hostaddr`s and their ports, paired as libpq pairs them:
/// an empty host is the default socket, `hostaddr` alone names the hosts too,
/// and one port serves every host.
fn places(p: &Params) -> Result<Places, ConnInfoError> {
    let list = |spec: &str| -> Vec<String> { spec.split(',').map(str::to_owned).collect() };
    let addrs = p.nonempty("hostaddr").map(list);
    let (hosts, hosts_given) = match (p.nonempty("host").map(list), &addrs) {
        (Some(hosts), _) => {
            let n = hosts.len();
            let hosts = hosts
                .into_iter()
                .map(|h| {
                    if h.is_empty() {
                        default_host_element().to_owned()
                    } else {
                        h
                    }
                })
                .collect();
            (hosts, n)
        }
        // hostaddr alone: each address is also the name (for TLS).
        (None, Some(addrs)) => (addrs.clone(), addrs.len()),
        (None, None) => (default_hosts(), 1),
    };
    let hostaddrs: Vec<Option<String>> = match addrs {
        None => vec![None; hosts.len()],
        Some(addrs) if addrs.len() == hosts.len() => addrs
            .into_iter()
            .map(|a| Some(a).filter(|a| !a.is_empty()))
            .collect(),
        Some(addrs) => {
            return Err(ConnInfoError::HostaddrCountMismatch {
                hosts: hosts_given,
                hostaddrs: addrs.len(),
            });
        }
    };
    let ports = p
        .nonempty("port")
        .unwrap_or("")
        .split(',')
        .map(parse_port)
        .collect::<Result<Vec<u16>, _>>()?;
    // Counted against the hosts as given, so a port list cannot pair up
    // with the two default hosts that stand in for one unnamed host.
    let ports = match ports.as_slice() {
        [one] => vec![*one; hosts.len()],
        many if many.len() == hosts_given => ports,
        many => {
            return Err(ConnInfoError::PortCountMismatch {
                ports: many.len(),
                hosts: hosts_given,
            });
        }
    };
    Ok(Places {
        hosts,
        hostaddrs,
        ports,
    })
}

fn channel_binding(p: &Params) -> Result<ChannelBinding, ConnInfoError> {
    Ok(match p.nonempty("channel_binding").unwrap_or("prefer") {
        "disable" => ChannelBinding::Disable,
        "prefer" => ChannelBinding::Prefer,
        "require" => ChannelBinding::Require,
        other => {
            return Err(ConnInfoError::InvalidValue {
                option: "channel_binding",
                value: other.to_owned(),
            });
        }
    })
}

#[cfg(unix)]
fn default_hosts() -> Vec<String> {
    // libpq tries only the socket directory; we also try localhost so a
    // server that listens on TCP only is found without -h.
    vec![DEFAULT_SOCKET_DIR.to_owned(), DEFAULT_TCP_HOST.to_owned()]
}

#[cfg(not(unix))]
fn default_hosts() -> Vec<String> {
    vec![DEFAULT_TCP_HOST.to_owned()]
}

/// What an empty element of a host list means (libpq: the default socket).
fn default_host_element() -> &'static str {
    if cfg!(unix) {
        DEFAULT_SOCKET_DIR
    } else {
        DEFAULT_TCP_HOST
    }
}

fn parse_port(s: &str) -> Result<u16, ConnInfoError> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(DEFAULT_PORT);
    }
    match t.parse::<u16>() {
        Ok(port) if port != 0 => Ok(port),
        _ => Err(ConnInfoError::InvalidPort(s.to_owned())),
    }
}

/// libpq semantics: zero or negative waits forever, and 1 is raised to 2
/// because a one-second timeout can expire almost at once.
fn parse_connect_timeout(v: &str) -> Result<Option<Duration>, ConnInfoError> {
    let secs: i32 = v.trim().parse().map_err(|_| ConnInfoError::InvalidValue {
        option: "connect_timeout",
        value: v.to_owned(),
    })?;
    Ok(u64::try_from(secs)
        .ok()
        .filter(|s| *s > 0)
        .map(|s| Duration::from_secs(s.max(2))))
}

/// Whether a `client_encoding` value is UTF-8 (`auto` is the locale's, from
/// `LC_ALL`, `LC_CTYPE` or `LANG`).
fn is_utf8(encoding: &str, env: &dyn Fn(&str) -> Option<String>) -> bool {
    let utf8 = |e: &str| {
        let e = e.to_ascii_lowercase().replace(['-', '_'], "");
        e == "utf8" || e == "unicode"
    };
    if encoding.eq_ignore_ascii_case("auto") {
        let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
            .iter()
            .find_map(|v| env(v).filter(|l| !l.is_empty()))
            .unwrap_or_default();
        return locale
            .rsplit_once('.')
            .is_some_and(|(_, codeset)| utf8(codeset.split('@').next().unwrap_or("")));
    }
    utf8(encoding)
}

#[cfg(test)]
mod tests {
    use super::test_support::*;

    #[test]
    fn database_url_only_when_d_is_absent() {
        let env = [("DATABASE_URL", "postgres://urlhost/urldb")];
        let c = ok(&Overrides::default(), &env);
        assert_eq!(c.hosts(), ["urlhost"]);
        assert_eq!(c.dbname(), "urldb");

        let c = ok(&d(""), &env);
        assert_eq!(c.dbname(), "urldb", "an empty -d counts as absent");

        let c = ok(&d("shop"), &env);
        assert_eq!(c.dbname(), "shop");
        assert_ne!(c.hosts(), ["urlhost"]);

        let c = ok(&Overrides::default(), &[("DATABASE_URL", "")]);
        assert_eq!(c.hosts(), default_hosts());

        // Typed flags beat the environment, DATABASE_URL included.
        let o = Overrides {
            host: Some("flaghost".into()),
            ..Overrides::default()
        };
        let c = ok(&o, &env);
        assert_eq!(c.hosts(), ["flaghost"]);
        assert_eq!(c.dbname(), "urldb");
    }

    #[test]
    fn d_string_values_beat_flags_like_psql() {
        let o = Overrides {
            dbname: Some("host=b port=2 user=ub".into()),
            host: Some("a".into()),
            port: Some("1".into()),
            user: Some("ua".into()),
        };
        let c = ok(&o, &[]);
        assert_eq!(c.hosts(), ["b"]);
        assert_eq!(c.port(), 2);
        assert_eq!(c.user(), "ub");

        // A string that does not mention them leaves the flags in force.
        let o = Overrides {
            dbname: Some("postgres:///shop".into()),
            ..o
        };
        let c = ok(&o, &[]);
        assert_eq!(c.hosts(), ["a"]);
        assert_eq!(c.port(), 1);
        assert_eq!(c.user(), "ua");
    }

    #[test]
    fn flags_beat_environment() {
        let o = Overrides {
            host: Some("a".into()),
            port: Some("1".into()),
            user: Some("ua".into()),
            dbname: None,
        };
        let env = [("PGHOST", "e"), ("PGPORT", "9"), ("PGUSER", "ue")];
        let c = ok(&o, &env);
        assert_eq!(
            (c.hosts(), c.port(), c.user()),
            (&["a".to_owned()][..], 1, "ua")
        );
        // Empty flags are ignored, as psql does.
        let o = Overrides {
            host: Some(String::new()),
            ..Overrides::default()
        };
        assert_eq!(ok(&o, &env).hosts(), ["e"]);
    }

    #[test]
    fn environment_fallbacks() {
        let env = [
            ("PGHOST", "eh1,eh2"),
            ("PGPORT", "6001,6002"),
            ("PGUSER", "eu"),
            ("PGPASSWORD", "epw"),
            ("PGDATABASE", "edb"),
            ("PGAPPNAME", "eapp"),
            ("PGCONNECT_TIMEOUT", "7"),
            ("PGOPTIONS", "-c x=y"),
            ("PGSSLMODE", "disable"),
        ];
        let c = ok(&Overrides::default(), &env);
        assert_eq!(c.hosts(), ["eh1", "eh2"]);
        assert_eq!(c.ports(), [6001, 6002]);
        assert_eq!(c.user(), "eu");
        assert_eq!(c.dbname(), "edb");
        assert_eq!(c.application_name(), "eapp");
        assert_eq!(c.connect_timeout(), Some(Duration::from_secs(7)));
        let config = c.config_for(1, Transport::Plain);
        assert_eq!(config.get_password(), Some(&b"epw"[..]));
        assert_eq!(config.get_options(), Some("-c x=y"));
        assert_eq!(c.tls().mode, SslMode::Disable);
    }

    #[test]
    fn empty_value_in_string_blocks_environment() {
        let c = ok(&d("host='' dbname=x"), &[("PGHOST", "e")]);
        assert_eq!(c.hosts(), default_hosts());
    }

    #[test]
    fn defaults() {
        let c = ok(&Overrides::default(), &[]);
        assert_eq!(c.hosts(), default_hosts());
        if cfg!(unix) {
            assert_eq!(c.hosts(), ["/var/run/postgresql", "localhost"]);
        }
        assert_eq!(c.port(), 5432);
        assert_eq!(c.user(), "osuser");
        assert_eq!(c.dbname(), "osuser");
        assert_eq!(c.application_name(), "fkload");
        assert_eq!(c.connect_timeout(), None);
        assert!(!c.has_password());

        // libpq takes the effective user's account name, never $USER or
        // $LOGNAME (cron and docker exec leave them unset, su may keep them).
        let c = ok(
            &Overrides::default(),
            &[("USER", "alice"), ("LOGNAME", "bob")],
        );
        assert_eq!((c.user(), c.dbname()), ("osuser", "osuser"));
    }

    #[test]
    fn the_os_user_is_asked_only_when_no_user_is_given() {
        let fails = || {
            Err(ConnInfoError::UnknownOsUser {
                uid: 4242,
                reason: "user does not exist".into(),
            })
        };
        let e = ConnInfo::resolve_as(&Overrides::default(), &|_| None, &fails).unwrap_err();
        assert_eq!(
            e.to_string(),
            "could not look up local user ID 4242: user does not exist"
        );
        let given = ConnInfo::resolve_as(&d("user=app"), &|_| None, &fails).unwrap();
        assert_eq!((given.user(), given.dbname()), ("app", "app"));
        let env = |k: &str| (k == "PGUSER").then(|| "envuser".to_owned());
        let from_env = ConnInfo::resolve_as(&Overrides::default(), &env, &fails).unwrap();
        assert_eq!(from_env.user(), "envuser");
    }

    #[test]
    fn ports_are_validated_and_paired_with_hosts() {
        assert!(matches!(
            err(&d("port=abc"), &[]),
            ConnInfoError::InvalidPort(p) if p == "abc"
        ));
        assert!(matches!(
            err(&d("port=0"), &[]),
            ConnInfoError::InvalidPort(_)
        ));
        assert!(matches!(
            err(&d("port=70000"), &[]),
            ConnInfoError::InvalidPort(_)
        ));
        assert!(matches!(
            err(&d("host=a,b,c port=1,2"), &[]),
            ConnInfoError::PortCountMismatch { ports: 2, hosts: 3 }
        ));
        // Two ports do not pair with the two default hosts standing for one.
        assert!(matches!(
            err(&d("port=1,2"), &[]),
            ConnInfoError::PortCountMismatch { ports: 2, hosts: 1 }
        ));
        let c = ok(&d("host=a,b port=9"), &[]);
        assert_eq!(c.ports(), [9, 9]);
        let c = ok(&d("host=a,,b"), &[]);
        assert_eq!(c.hosts()[1], default_host_element());
    }

    #[test]
    fn client_encoding_is_utf8_or_refused() {
        for ok_value in ["UTF8", "utf8", "UTF-8", "unicode"] {
            ok(&d(&format!("client_encoding={ok_value}")), &[]);
        }
        ok(&d("client_encoding=auto"), &[("LANG", "en_US.UTF-8")]);
        assert!(matches!(
            err(&d("client_encoding=auto"), &[("LANG", "de_DE.ISO-8859-1")]),
            ConnInfoError::UnsupportedEncoding(_)
        ));
        assert!(matches!(
            err(&Overrides::default(), &[("PGCLIENTENCODING", "LATIN1")]),
            ConnInfoError::UnsupportedEncoding(_)
        ));
    }

    #[test]
    fn connect_timeout_follows_libpq() {
        let t = |v: &str| ok(&d(&format!("connect_timeout={v}")), &[]).connect_timeout();
        assert_eq!(t("1"), Some(Duration::from_secs(2)));
        assert_eq!(t("30"), Some(Duration::from_secs(30)));
        assert_eq!(t("0"), None);
        assert_eq!(t("-5"), None);
        assert!(matches!(
            err(&d("connect_timeout=soon"), &[]),
            ConnInfoError::InvalidValue {
                option: "connect_timeout",
                ..
            }
        ));
    }

    /// libpq, `connect_timeout`: "This timeout applies separately to each
    /// host name or IP address": every host's attempt gets the whole
    /// timeout (the connector makes one `Config` per attempt).
    #[test]
    fn connect_timeout_is_per_host() {
        let c = ok(&d("host=a,b,c connect_timeout=5"), &[]);
        for i in 0..c.host_count() {
            for transport in [Transport::Plain, Transport::Tls] {
                let config = c.config_for(i, transport);
                assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(5)));
                assert_eq!(config.get_hosts().len(), 1);
            }
        }
    }

    /// libpq, `load_balance_hosts`: "disable (default): ... Hosts are tried
    /// in the order in which they are provided", which is the only order
    /// fkload tries them in; `random` is refused rather than ignored.
    #[test]
    fn hosts_keep_their_order_and_load_balancing_is_refused() {
        let c = ok(&d("host=c,a,b"), &[]);
        assert_eq!(c.hosts(), ["c", "a", "b"]);
        assert!(matches!(
            err(&d("host=a,b load_balance_hosts=random"), &[]),
            ConnInfoError::UnsupportedOption(k) if k == "load_balance_hosts"
        ));
    }

    #[test]
    fn password_never_shown() {
        let mut c = ok(&d("postgres://app:hunter2@h/shop"), &[]);
        c.set_password("s3cr3t-prompted".into());
        for shown in [format!("{c:?}"), c.describe(), c.to_string()] {
            assert!(
                !shown.contains("hunter2") && !shown.contains("s3cr3t"),
                "{shown}"
            );
        }
        assert!(format!("{:?}", c.config_for(0, Transport::Plain)).contains("password: Some(_)"));
        for o in [
            d("postgres://app:hunter2@h/shop?password=hunter2"),
            d("host=h password='hunter2 x'"),
            d("password=hunter2 'broken"),
        ] {
            let shown = format!("{o:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        assert!(format!("{:?}", d("host=h dbname=shop")).contains("dbname=shop"));
    }

    #[test]
    fn describe_format() {
        let c = ok(&d("postgres://app@localhost/shop"), &[]);
        assert_eq!(
            c.describe(),
            r#"host "localhost" port 5432 as user "app" database "shop""#
        );
        let c = ok(&d("host=a,b port=6 user=u dbname=x"), &[]);
        assert_eq!(
            c.describe(),
            r#"hosts "a", "b" port 6 as user "u" database "x""#
        );
    }

    #[test]
    fn set_password_overrides_and_empty_means_none() {
        let mut c = ok(&d("password=old"), &[]);
        c.set_password("new".into());
        assert_eq!(config_password(&c), Some(b"new".to_vec()));
        c.set_password(String::new());
        assert!(!c.has_password());
        assert_eq!(config_password(&c), None);
    }

    #[cfg(unix)]
    #[test]
    fn each_host_gets_a_config_of_its_own() {
        use postgres::config::Host;
        let c = ok(
            &d("host=/run/pg,db.example port=5433,5434 user=u dbname=x"),
            &[],
        );
        assert_eq!(c.host_count(), 2);
        assert!(c.is_socket(0) && !c.is_socket(1));
        let config = c.config_for(0, Transport::Plain);
        assert_eq!(config.get_hosts(), [Host::Unix(PathBuf::from("/run/pg"))]);
        assert_eq!(config.get_ports(), [5433]);
        let config = c.config_for(1, Transport::Tls);
        assert_eq!(config.get_hosts(), [Host::Tcp("db.example".into())]);
        assert_eq!(config.get_ports(), [5434]);
        // prefer's TLS attempt goes on in plain text if the server has no
        // TLS; require's does not.
        assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Prefer);
        assert_eq!(config.get_user(), Some("u"));
        assert_eq!(config.get_dbname(), Some("x"));
        assert_eq!(config.get_application_name(), Some("fkload"));
        assert_eq!(config.get_password(), None);
        let c = ok(&d("host=db.example sslmode=require"), &[]);
        assert_eq!(
            c.config_for(0, Transport::Tls).get_ssl_mode(),
            postgres::config::SslMode::Require
        );
    }
}
