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
//! which [`crate::tls`] turns into a connector. It does not own connecting
//! (the host loop is the connector's), prompting for a password (`-W`: the
//! caller prompts and hands the result to [`ConnInfo::set_password`]), or
//! command-line parsing.
//!
//! No crate does this with libpq's rules (checked in 2026: postgres-service
//! ignores `PGSERVICEFILE` and sends unknown keys to the server,
//! pg-client-config misreads `\:` in the password file and takes only
//! tokio-postgres's `Config`, pg-connection-string is AGPL), so it is
//! written here.
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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use postgres::config::ChannelBinding;

use crate::tls::{RootCert, SslMode, TlsSettings, Transport};

/// Port used when nothing names one.
const DEFAULT_PORT: u16 = 5432;

/// The Unix socket directory of Debian/Ubuntu builds of PostgreSQL, which is
/// where most servers fkload meets listen. libpq compiles its own default in;
/// we cannot ask it, so we pick the common one.
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// TCP host tried after the socket directory when no host is given.
const DEFAULT_TCP_HOST: &str = "localhost";

/// `fallback_application_name`: what `pg_stat_activity` shows unless the user
/// names the application.
const DEFAULT_APPLICATION_NAME: &str = "fkload";

/// Stands in for a password (or a likely fragment of one) in anything shown.
const REDACTED: &str = "********";

/// Keywords this module accepts in connection strings, spelled as libpq does.
const KEYWORDS: &[&str] = &[
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

/// Where libpq looks for the system-wide service file when `PGSYSCONFDIR` is
/// not set: the directory Debian's and Ubuntu's libpq are built with.
const SYSCONFDIR: &str = "/etc/postgresql-common";

/// Why connection settings could not be resolved. No variant ever carries a
/// password: URIs are redacted before they are stored here.
#[derive(Debug, thiserror::Error)]
pub enum ConnInfoError {
    /// A `postgres://` URI that does not parse; `uri` is already redacted.
    #[error("invalid connection URI \"{uri}\": {reason}")]
    InvalidUri {
        /// The URI with any password replaced.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A URI query parameter libpq does not know.
    #[error("invalid URI query parameter \"{0}\"")]
    InvalidUriParameter(String),
    /// A `key=value` string with a key and no `=`.
    #[error("missing \"=\" after \"{0}\" in connection info string")]
    MissingEquals(String),
    /// A `key=value` string whose quoted value never closes.
    #[error("unterminated quoted string in connection info string")]
    UnterminatedQuote,
    /// A `key=value` keyword libpq does not know.
    #[error("invalid connection option \"{0}\"")]
    InvalidOption(String),
    /// A libpq keyword that fkload cannot honour.
    #[error("connection option \"{0}\" is not supported by fkload")]
    UnsupportedOption(String),
    /// A port that is not a number from 1 to 65535.
    #[error("invalid port number \"{0}\"")]
    InvalidPort(String),
    /// A port list that is neither one port nor one per host.
    #[error("could not match {ports} port numbers to {hosts} hosts")]
    PortCountMismatch {
        /// How many ports were listed.
        ports: usize,
        /// How many hosts were listed.
        hosts: usize,
    },
    /// A value libpq would reject for this keyword.
    #[error("invalid value \"{value}\" for connection option \"{option}\"")]
    InvalidValue {
        /// The keyword.
        option: &'static str,
        /// The rejected value.
        value: String,
    },
    /// A valid libpq value that fkload cannot honour.
    #[error("connection option {option}=\"{value}\" is not supported by fkload")]
    UnsupportedValue {
        /// The keyword.
        option: &'static str,
        /// The value.
        value: String,
    },
    /// `sslrootcert=system` with a mode that does not check the host name.
    #[error("weak sslmode \"{0}\" may not be used with sslrootcert=system (use \"verify-full\")")]
    WeakSslModeWithSystemRoot(String),
    /// A host list and a `hostaddr` list of different lengths.
    #[error("could not match {hosts} host names to {hostaddrs} hostaddr values")]
    HostaddrCountMismatch {
        /// How many host names were listed.
        hosts: usize,
        /// How many addresses were listed.
        hostaddrs: usize,
    },
    /// A service no service file defines.
    #[error(
        "definition of service \"{service}\" not found\nDETAIL:  Searched {}.",
        searched.iter().map(|p| format!("\"{}\"", p.display())).collect::<Vec<_>>().join(", ")
    )]
    ServiceNotFound {
        /// The service's name.
        service: String,
        /// The files searched, in order (those that exist or were named).
        searched: Vec<PathBuf>,
    },
    /// A line of a service file libpq would refuse.
    #[error("{reason} in service file \"{}\", line {line}", path.display())]
    ServiceFile {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong: "syntax error", "nested service specifications not supported".
        reason: &'static str,
    },
    /// A client encoding other than UTF-8.
    #[error(
        "client_encoding \"{0}\" is not supported: fkload talks to the server in UTF8 and sends each file as it is"
    )]
    UnsupportedEncoding(String),
    /// No user was given and the effective user ID has no account name.
    #[error("could not look up local user ID {uid}: {reason}")]
    UnknownOsUser {
        /// The effective user ID.
        uid: u32,
        /// Why the lookup failed.
        reason: String,
    },
}

/// The account name of the effective user, as libpq takes its default user
/// name (`getpwuid(geteuid())`): never `$USER` or `$LOGNAME`, which cron,
/// `docker exec` or a systemd unit may leave unset, or set to another name.
///
/// # Errors
/// [`ConnInfoError::UnknownOsUser`] when the password database has no entry
/// for the effective user ID.
pub fn os_user() -> Result<String, ConnInfoError> {
    // SAFETY: geteuid cannot fail. getpwuid_r writes only into `pwd` and `buf`,
    // both ours and large enough as told (it reports ERANGE otherwise, and the
    // buffer grows); `result` points to `pwd` or is null.
    let uid = unsafe { libc::geteuid() };
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if result.is_null() || pwd.pw_name.is_null() {
            let reason = if rc == 0 {
                "user does not exist".to_string()
            } else {
                std::io::Error::from_raw_os_error(rc).to_string()
            };
            return Err(ConnInfoError::UnknownOsUser { uid, reason });
        }
        // SAFETY: on success pw_name points to a NUL-terminated string in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Ok(name.to_string_lossy().into_owned());
    }
}

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
#[non_exhaustive]
pub enum SessionAttrs {
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

        let list = |spec: &str| -> Vec<String> { spec.split(',').map(str::to_owned).collect() };
        let addrs = p.nonempty("hostaddr").map(list);
        let (hosts, hosts_given) = match (p.nonempty("host").map(list), &addrs) {
            (Some(hosts), _) => {
                let hosts: Vec<String> = hosts
                    .into_iter()
                    .map(|h| {
                        if h.is_empty() {
                            default_host_element().to_owned()
                        } else {
                            h
                        }
                    })
                    .collect();
                let n = hosts.len();
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

        let mut warnings = Vec::new();
        let password = p.nonempty("password").map(str::to_owned);
        // The password file is read per host, as libpq reads it: each host
        // gets its own line.
        let host_passwords = match p
            .nonempty("passfile")
            .map(PathBuf::from)
            .or_else(|| default_passfile(env))
        {
            Some(file) => match read_passfile(&file) {
                Passfile::Lines(text) => hosts
                    .iter()
                    .zip(&ports)
                    .map(|(host, &port)| password_in(&text, host, port, &dbname, &user))
                    .collect(),
                Passfile::TooOpen => {
                    warnings.push(format!(
                        "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                        file.display()
                    ));
                    vec![None; hosts.len()]
                }
                Passfile::None => vec![None; hosts.len()],
            },
            None => vec![None; hosts.len()],
        };

        let application_name = p
            .nonempty("application_name")
            .or(p.nonempty("fallback_application_name"))
            .unwrap_or(DEFAULT_APPLICATION_NAME)
            .to_owned();
        let connect_timeout = match p.nonempty("connect_timeout") {
            Some(v) => parse_connect_timeout(v)?,
            None => None,
        };
        let tls = tls_settings(p, env)?;
        let channel_binding = match p.nonempty("channel_binding").unwrap_or("prefer") {
            "disable" => ChannelBinding::Disable,
            "prefer" => ChannelBinding::Prefer,
            "require" => ChannelBinding::Require,
            other => {
                return Err(ConnInfoError::InvalidValue {
                    option: "channel_binding",
                    value: other.to_owned(),
                });
            }
        };
        let attrs = p.nonempty("target_session_attrs");
        let session_attrs = match attrs {
            None => SessionAttrs::Any,
            Some(v) => SessionAttrs::parse(v).ok_or_else(|| ConnInfoError::InvalidValue {
                option: "target_session_attrs",
                value: v.to_owned(),
            })?,
        };
        if let Some(encoding) = p.nonempty("client_encoding")
            && !is_utf8(encoding, env)
        {
            return Err(ConnInfoError::UnsupportedEncoding(encoding.to_owned()));
        }
        let ignored = ["keepalives"]
            .into_iter()
            .filter_map(|k| p.nonempty(k).map(|v| (k, v.to_owned())))
            .collect();

        Ok(ConnInfo {
            host_passwords,
            hosts,
            hostaddrs,
            ports,
            user,
            dbname,
            password,
            application_name,
            connect_timeout,
            options: p.nonempty("options").map(str::to_owned),
            tls,
            channel_binding,
            session_attrs,
            session_attrs_given: attrs.is_some(),
            warnings,
            ignored,
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
    pub fn tls(&self) -> &TlsSettings {
        &self.tls
    }

    /// Which hosts are acceptable, and whether the user said so
    /// (`target_session_attrs`).
    pub fn session_attrs(&self) -> (SessionAttrs, bool) {
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

/// Keyword values set explicitly at some level. `Some("")` is kept apart from
/// absent: in libpq an empty value from a string blocks the environment
/// fallback and then means "default".
#[derive(Debug, Default)]
struct Params(BTreeMap<&'static str, String>);

impl Params {
    fn set(&mut self, key: &'static str, value: String) {
        self.0.insert(key, value);
    }

    fn merge(&mut self, later: Params) {
        self.0.extend(later.0);
    }

    fn contains(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    fn nonempty(&self, key: &str) -> Option<&str> {
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
fn parse_conn_arg(arg: &str) -> Result<Params, ConnInfoError> {
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

fn is_space(c: char) -> bool {
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
    let invalid = |reason: String| ConnInfoError::InvalidUri {
        uri: redact_uri(uri),
        reason,
    };
    let decode = |s: &str| percent_decode(s).map_err(|r| invalid(r.to_owned()));
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
            params.set("user", decode(user)?);
        }
        if let Some(pw) = password.filter(|pw| !pw.is_empty()) {
            params.set("password", decode(pw)?);
        }
        rest = &rest[i + 1..];
    }

    // host[:port] pairs separated by commas; collected as libpq's comma lists.
    let mut hosts = String::new();
    let mut ports = String::new();
    let terminator = loop {
        let host;
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(|| {
                invalid(
                    "end of string reached when looking for matching \"]\" in IPv6 host address"
                        .to_owned(),
                )
            })?;
            if end == 0 {
                return Err(invalid("IPv6 host address may not be empty".to_owned()));
            }
            host = &after[..end];
            rest = &after[end + 1..];
            if let Some(c) = rest.chars().next()
                && !matches!(c, ':' | '/' | '?' | ',')
            {
                return Err(invalid(format!(
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
            None => break rest.chars().next(),
        }
    };
    if !hosts.is_empty() {
        params.set("host", decode(&hosts)?);
    }
    if !ports.is_empty() {
        params.set("port", decode(&ports)?);
    }

    if terminator == Some('/') {
        let after = &rest[1..];
        let end = after.find('?').unwrap_or(after.len());
        // An empty path must not set dbname: that would block PGDATABASE.
        if end > 0 {
            params.set("dbname", decode(&after[..end])?);
        }
        rest = &after[end..];
    }

    if let Some(mut query) = rest.strip_prefix('?') {
        let mut previous: Option<&'static str> = None;
        while !query.is_empty() {
            let (piece, next) = query.split_once('&').unwrap_or((query, ""));
            query = next;
            let Some((raw_key, raw_value)) = piece.split_once('=') else {
                let shown = shown_key(previous, piece);
                return Err(invalid(format!(
                    "missing key/value separator \"=\" in query parameter \"{shown}\""
                )));
            };
            if raw_value.contains('=') {
                let shown = shown_key(previous, raw_key);
                return Err(invalid(format!(
                    "extra key/value separator \"=\" in query parameter \"{shown}\""
                )));
            }
            let mut key = decode(raw_key)?;
            let mut value = decode(raw_value)?;
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
    }
    Ok(params)
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
fn redact_conn_string(s: &str) -> String {
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

#[cfg(windows)]
fn default_passfile(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("APPDATA")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("postgresql").join("pgpass.conf"))
}

#[cfg(not(windows))]
fn default_passfile(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".pgpass"))
}

/// What a password file gave.
enum Passfile {
    /// Its text.
    Lines(String),
    /// Group or others may read it: libpq ignores it, with a warning.
    TooOpen,
    /// None, or not readable: as in libpq, no password (a missing file is
    /// normal, and a broken one should not stop a connection that may not
    /// need a password at all).
    None,
}

fn read_passfile(path: &Path) -> Passfile {
    let Ok(meta) = std::fs::metadata(path) else {
        return Passfile::None;
    };
    if !meta.is_file() {
        return Passfile::None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            return Passfile::TooOpen;
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => Passfile::Lines(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Passfile::None,
    }
}

/// The password a password file's `text` holds for this connection: the
/// first line whose host, port, database and user match (`*` matches any).
fn password_in(text: &str, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    // "localhost" stands for both TCP to localhost and the default socket.
    let host = if host == DEFAULT_SOCKET_DIR {
        DEFAULT_TCP_HOST
    } else {
        host
    };
    let port = port.to_string();
    text.lines()
        .map(|line| line.trim_end_matches(['\r', '\n']))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .find_map(|line| {
            let rest = pgpass_field(line, host)?;
            let rest = pgpass_field(rest, &port)?;
            let rest = pgpass_field(rest, dbname)?;
            let rest = pgpass_field(rest, user)?;
            Some(pgpass_unescape(rest))
        })
        .filter(|pw| !pw.is_empty())
}

/// The settings service `name` gives, from the first service file that
/// defines it: `PGSERVICEFILE` or `~/.pg_service.conf`, then
/// `PGSYSCONFDIR/pg_service.conf` (libpq's `parseServiceInfo`). A file that
/// does not exist is passed over.
///
/// # Errors
/// [`ConnInfoError::ServiceNotFound`] naming the files searched;
/// [`ConnInfoError::ServiceFile`] for a line libpq would refuse.
fn service_settings(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(&'static str, String)>, ConnInfoError> {
    let user_file = env("PGSERVICEFILE")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".pg_service.conf"))
        });
    let system_file = PathBuf::from(
        env("PGSYSCONFDIR")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| SYSCONFDIR.to_owned()),
    )
    .join("pg_service.conf");
    let mut searched = Vec::new();
    for file in user_file.into_iter().chain([system_file]) {
        searched.push(file.clone());
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(settings) = parse_service(&text, name, &file)? {
            return Ok(settings);
        }
    }
    Err(ConnInfoError::ServiceNotFound {
        service: name.to_owned(),
        searched,
    })
}

/// Service `name`'s settings in a service file's `text`, or `None` when the
/// file does not define it. Follows libpq's `parseServiceFile`: blank lines
/// and `#` comments skipped, lines trimmed, a `[name]` group up to the next
/// group, `key=value` lines (the key exactly a libpq keyword).
fn parse_service(
    text: &str,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<(&'static str, String)>>, ConnInfoError> {
    let mut in_group = false;
    let mut found = false;
    let mut settings: Vec<(&'static str, String)> = Vec::new();
    let error = |line: usize, reason| ConnInfoError::ServiceFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_matches(is_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(group) = line.strip_prefix('[') {
            if in_group {
                break;
            }
            in_group = group.strip_suffix(']') == Some(name);
            found |= in_group;
            continue;
        }
        if !in_group {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(n + 1, "syntax error"));
        };
        if key == "service" {
            return Err(error(n + 1, "nested service specifications not supported"));
        }
        let Some(k) = KEYWORDS.iter().find(|k| **k == key) else {
            return Err(error(n + 1, "syntax error"));
        };
        // The first setting of a key in the group wins, as in libpq.
        if !settings.iter().any(|(s, _)| s == k) {
            settings.push((k, value.to_owned()));
        }
    }
    Ok(found.then_some(settings))
}

/// The TLS settings: `sslmode` (default `prefer`, or `verify-full` with
/// `sslrootcert=system`), the certificate files with libpq's defaults in
/// `~/.postgresql/` (used when they exist), the passphrase, the CRLs and the
/// protocol bounds.
///
/// # Errors
/// [`ConnInfoError::InvalidValue`] for a bad `sslmode` or `sslsni`;
/// [`ConnInfoError::WeakSslModeWithSystemRoot`].
fn tls_settings(
    p: &Params,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<TlsSettings, ConnInfoError> {
    let home = env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".postgresql"));
    let default = |file: &str| {
        home.as_ref()
            .map(|dir| dir.join(file))
            .filter(|f| f.is_file())
    };
    let named_root = p.nonempty("sslrootcert");
    let rootcert = match named_root {
        Some("system") => Some(RootCert::System),
        Some(path) => Some(RootCert::File(PathBuf::from(path))),
        None => default("root.crt").map(RootCert::File),
    };
    let mode = match p.nonempty("sslmode") {
        Some(v) => SslMode::parse(v).ok_or_else(|| ConnInfoError::InvalidValue {
            option: "sslmode",
            value: v.to_owned(),
        })?,
        None if rootcert == Some(RootCert::System) => SslMode::VerifyFull,
        None => SslMode::Prefer,
    };
    if rootcert == Some(RootCert::System) && mode != SslMode::VerifyFull {
        return Err(ConnInfoError::WeakSslModeWithSystemRoot(
            mode.as_str().to_owned(),
        ));
    }
    let sni = match p.nonempty("sslsni").unwrap_or("1") {
        "1" => true,
        "0" => false,
        other => {
            return Err(ConnInfoError::InvalidValue {
                option: "sslsni",
                value: other.to_owned(),
            });
        }
    };
    Ok(TlsSettings {
        mode,
        rootcert,
        rootcert_named: named_root.is_some(),
        cert: p
            .nonempty("sslcert")
            .map(PathBuf::from)
            .or_else(|| default("postgresql.crt")),
        key: p
            .nonempty("sslkey")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|dir| dir.join("postgresql.key"))),
        password: p.nonempty("sslpassword").map(str::to_owned),
        crl: p
            .nonempty("sslcrl")
            .map(PathBuf::from)
            .or_else(|| default("root.crl")),
        crldir: p.nonempty("sslcrldir").map(PathBuf::from),
        min_protocol: p.nonempty("ssl_min_protocol_version").map(str::to_owned),
        max_protocol: p.nonempty("ssl_max_protocol_version").map(str::to_owned),
        sni,
    })
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

/// Match one `:`-terminated field of a password-file line against `token`,
/// returning the rest of the line after the field. Follows libpq's
/// `pwdfMatchesString`: a field of exactly `*` matches anything, and a
/// backslash makes the next character literal.
fn pgpass_field<'a>(line: &'a str, token: &str) -> Option<&'a str> {
    if let Some(rest) = line.strip_prefix("*:") {
        return Some(rest);
    }
    let mut chars = line.char_indices();
    let mut tok = token.chars();
    while let Some((i, c)) = chars.next() {
        let (c, escaped) = if c == '\\' {
            // A trailing backslash cannot match anything.
            (chars.next()?.1, true)
        } else {
            (c, false)
        };
        if c == ':' && !escaped && tok.as_str().is_empty() {
            return Some(&line[i + 1..]);
        }
        if tok.next() != Some(c) {
            return None;
        }
    }
    // The line ended before a password field.
    None
}

/// The password field: up to the next unescaped `:`, backslashes removed.
fn pgpass_unescape(field: &str) -> String {
    let mut out = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        match c {
            ':' => break,
            // libpq keeps a trailing lone backslash.
            '\\' => out.push(chars.next().unwrap_or('\\')),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(o: &Overrides, vars: &[(&str, &str)]) -> Result<ConnInfo, ConnInfoError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ConnInfo::resolve_as(o, &|k| map.get(k).cloned(), &|| Ok("osuser".to_owned()))
    }

    fn d(s: &str) -> Overrides {
        Overrides {
            dbname: Some(s.to_owned()),
            ..Overrides::default()
        }
    }

    fn ok(o: &Overrides, vars: &[(&str, &str)]) -> ConnInfo {
        match resolve_with(o, vars) {
            Ok(c) => c,
            Err(e) => panic!("resolve failed: {e}"),
        }
    }

    fn err(o: &Overrides, vars: &[(&str, &str)]) -> ConnInfoError {
        match resolve_with(o, vars) {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    fn write_passfile(dir: &Path, text: &str, mode: u32) -> PathBuf {
        let path = dir.join("pgpass");
        std::fs::write(&path, text).expect("write pgpass");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .expect("chmod pgpass");
        }
        #[cfg(not(unix))]
        let _ = mode;
        path
    }

    fn config_password(c: &ConnInfo) -> Option<Vec<u8>> {
        c.config_for(0, Transport::Plain)
            .get_password()
            .map(<[u8]>::to_vec)
    }

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
    fn os_user_is_the_effective_users_account_name() {
        // The password database, read independently of libc: the account
        // whose uid is this process's effective uid.
        let uid = unsafe { libc::geteuid() };
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let expected = passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_owned())
        });
        if let Some(expected) = expected {
            assert_eq!(os_user().unwrap(), expected);
        }
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
    fn sslmode_values() {
        for mode in [
            "disable",
            "allow",
            "prefer",
            "require",
            "verify-ca",
            "verify-full",
        ] {
            let c = ok(&d(&format!("sslmode={mode}")), &[]);
            assert_eq!(c.tls().mode.as_str(), mode);
        }
        let c = ok(&Overrides::default(), &[("PGSSLMODE", "require")]);
        assert_eq!(c.tls().mode, SslMode::Require);
        assert_eq!(ok(&Overrides::default(), &[]).tls().mode, SslMode::Prefer);
        assert!(matches!(
            err(&d("sslmode=bogus"), &[]),
            ConnInfoError::InvalidValue {
                option: "sslmode",
                ..
            }
        ));
    }

    #[test]
    fn sslrootcert_system_means_verify_full_and_refuses_weaker_modes() {
        let c = ok(&d("sslrootcert=system"), &[]);
        assert_eq!(c.tls().mode, SslMode::VerifyFull);
        assert_eq!(c.tls().rootcert, Some(RootCert::System));
        let e = err(&d("sslrootcert=system sslmode=require"), &[]);
        assert_eq!(
            e.to_string(),
            r#"weak sslmode "require" may not be used with sslrootcert=system (use "verify-full")"#
        );
        assert!(
            ok(&d("sslrootcert=system sslmode=verify-full"), &[])
                .tls()
                .mode
                == SslMode::VerifyFull
        );
    }

    #[test]
    fn tls_files_default_to_those_in_dot_postgresql_that_exist() {
        let home = tempfile::tempdir().expect("temp dir");
        let dir = home.path().join(".postgresql");
        std::fs::create_dir(&dir).expect("mkdir");
        let env = [("HOME", home.path().to_str().expect("utf-8 path"))];
        // Nothing there: no root, no CRL, no certificate.
        let c = ok(&Overrides::default(), &env);
        assert_eq!(c.tls().rootcert, None);
        assert_eq!(c.tls().crl, None);
        assert_eq!(c.tls().cert, None);
        for f in ["root.crt", "root.crl", "postgresql.crt"] {
            std::fs::write(dir.join(f), "x").expect("write");
        }
        let c = ok(&Overrides::default(), &env);
        assert_eq!(c.tls().rootcert, Some(RootCert::File(dir.join("root.crt"))));
        assert_eq!(c.tls().crl, Some(dir.join("root.crl")));
        assert_eq!(c.tls().cert, Some(dir.join("postgresql.crt")));
        assert_eq!(c.tls().key, Some(dir.join("postgresql.key")));
        // Named ones win, and PGSSL* name them too.
        let c = ok(
            &d("sslrootcert=/r.pem sslkey=/k.pem sslpassword=kp"),
            &[("HOME", env[0].1), ("PGSSLCERT", "/c.pem")],
        );
        assert_eq!(c.tls().rootcert, Some(RootCert::File("/r.pem".into())));
        assert_eq!(c.tls().cert, Some(PathBuf::from("/c.pem")));
        assert_eq!(c.tls().key, Some(PathBuf::from("/k.pem")));
        assert_eq!(c.tls().password.as_deref(), Some("kp"));
        assert!(!format!("{c:?}").contains("kp\""));
    }

    #[test]
    fn a_service_fills_what_is_unset_and_the_environment_what_is_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("services.conf");
        std::fs::write(
            &file,
            "# comment\n[other]\nhost=wrong\n\n  [prod]  \nhost=svc-host\nport=6000\nuser=svc-user\nsslmode=require\n[next]\ndbname=wrong\n",
        )
        .expect("write");
        let file_name = file.to_str().expect("utf-8 path").to_owned();
        let env = |extra: &[(&str, &str)]| {
            let mut v: Vec<(String, String)> =
                vec![("PGSERVICEFILE".to_owned(), file_name.clone())];
            v.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            v
        };
        let ok = |o: &Overrides, vars: Vec<(String, String)>| {
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            ok(o, &vars)
        };
        let err = |o: &Overrides, vars: Vec<(String, String)>| {
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            err(o, &vars)
        };
        let c = ok(
            &d("service=prod port=7000"),
            env(&[("PGUSER", "env-user"), ("PGDATABASE", "envdb")]),
        );
        // Explicit beats the service, which beats the environment.
        assert_eq!(c.hosts(), ["svc-host"]);
        assert_eq!(c.port(), 7000);
        assert_eq!(c.user(), "svc-user");
        assert_eq!(c.dbname(), "envdb");
        assert_eq!(c.tls().mode, SslMode::Require);
        // PGSERVICE names it too.
        let c = ok(&Overrides::default(), env(&[("PGSERVICE", "prod")]));
        assert_eq!(c.hosts(), ["svc-host"]);
        // An unknown service names the files searched.
        let e = err(&d("service=nope"), env(&[("PGSYSCONFDIR", "/nonexistent")]));
        assert_eq!(
            e.to_string(),
            format!(
                "definition of service \"nope\" not found\nDETAIL:  Searched \"{}\", \"/nonexistent/pg_service.conf\".",
                file.display()
            )
        );
        // The system file is read when the user's lacks the service.
        let sys = tempfile::tempdir().expect("temp dir");
        std::fs::write(sys.path().join("pg_service.conf"), "[sys]\ndbname=sysdb\n").expect("write");
        let c = ok(
            &d("service=sys"),
            env(&[("PGSYSCONFDIR", sys.path().to_str().expect("utf-8 path"))]),
        );
        assert_eq!(c.dbname(), "sysdb");
    }

    #[test]
    fn service_file_errors_name_the_line() {
        let p = Path::new("s.conf");
        let e = parse_service("[a]\nhost = x\n", "a", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "syntax error in service file \"s.conf\", line 2"
        );
        let e = parse_service("[a]\nservice=b\n", "a", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nested service specifications not supported in service file \"s.conf\", line 2"
        );
        let e = parse_service("[a]\nbogus=1\n", "a", p).unwrap_err();
        assert!(matches!(e, ConnInfoError::ServiceFile { line: 2, .. }));
        assert_eq!(parse_service("[b]\nbogus\n", "a", p).unwrap(), None);
        // The first setting of a key in the group wins.
        assert_eq!(
            parse_service("[a]\nport=1\nport=2\n", "a", p).unwrap(),
            Some(vec![("port", "1".to_owned())])
        );
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

    #[test]
    fn pgpass_wildcards_escapes_comments_and_first_match() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_passfile(
            dir.path(),
            "# db.example:5432:shop:app:commented\n\
             \n\
             other:5432:shop:app:wronghost\n\
             db.example:5432:shop:app:pw\\:with\\\\colon:trailing\r\n\
             *:*:*:app:later\n\
             h\\:x:*:*:*:escapedhost\n\
             *:*:*:*:anyone\n",
            0o600,
        );
        let passfile = file.to_str().expect("utf-8 path");
        let env = [("PGPASSFILE", passfile)];
        let pw = |s: &str| config_password(&ok(&d(s), &env));
        assert_eq!(
            pw("host=db.example dbname=shop user=app"),
            Some(br"pw:with\colon".to_vec())
        );
        assert_eq!(
            pw("host=elsewhere dbname=x user=app"),
            Some(b"later".to_vec())
        );
        assert_eq!(
            pw("host=h:x dbname=x user=zed"),
            Some(b"escapedhost".to_vec())
        );
        assert_eq!(pw("host=q dbname=x user=zed"), Some(b"anyone".to_vec()));
        // A given password wins over the file.
        assert_eq!(
            pw("host=db.example dbname=shop user=app password=given"),
            Some(b"given".to_vec())
        );
        let c = ok(
            &d("host=q user=zed"),
            &[("PGPASSFILE", passfile), ("PGPASSWORD", "envpw")],
        );
        assert_eq!(config_password(&c), Some(b"envpw".to_vec()));
    }

    #[test]
    fn pgpass_localhost_matches_default_socket_and_home_is_used() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_passfile(dir.path(), "localhost:5432:shop:app:sockpw\n", 0o600);
        std::fs::rename(&path, dir.path().join(".pgpass")).expect("rename");
        let home = dir.path().to_str().expect("utf-8 path");
        let c = ok(&d("dbname=shop user=app"), &[("HOME", home)]);
        assert_eq!(config_password(&c), Some(b"sockpw".to_vec()));
        let c = ok(&d("host=localhost dbname=shop user=app"), &[("HOME", home)]);
        assert!(c.has_password());
        // Another socket directory is matched by its path, not as localhost.
        let c = ok(&d("host=/tmp dbname=shop user=app"), &[("HOME", home)]);
        assert!(!c.has_password());
    }

    #[cfg(unix)]
    #[test]
    fn pgpass_with_group_or_world_access_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_passfile(dir.path(), "*:*:*:*:pw\n", 0o640);
        let passfile = file.to_str().expect("utf-8 path");
        let c = ok(&d("host=h"), &[("PGPASSFILE", passfile)]);
        assert!(!c.has_password());
    }

    #[test]
    fn pgpass_lines_are_matched_per_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_passfile(dir.path(), "b:*:*:*:bpw\n", 0o600);
        let passfile = file.to_str().expect("utf-8 path");
        let c = ok(&d("host=a,b"), &[("PGPASSFILE", passfile)]);
        assert!(c.has_password());
        assert_eq!(c.config_for(0, Transport::Plain).get_password(), None);
        assert_eq!(
            c.config_for(1, Transport::Plain).get_password(),
            Some(&b"bpw"[..])
        );
        // One given for all wins over the file.
        let c = ok(&d("host=a,b password=all"), &[("PGPASSFILE", passfile)]);
        assert_eq!(
            c.config_for(1, Transport::Plain).get_password(),
            Some(&b"all"[..])
        );
    }

    #[test]
    fn a_password_file_others_can_read_is_ignored_with_libpqs_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = write_passfile(dir.path(), "*:*:*:*:pw\n", 0o644);
        let passfile = file.to_str().expect("utf-8 path");
        let c = ok(&d("host=a"), &[("PGPASSFILE", passfile)]);
        assert!(!c.has_password());
        assert_eq!(
            c.warnings(),
            [format!(
                "password file \"{passfile}\" has group or world access; permissions should be u=rw (0600) or less"
            )]
        );
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
        assert_eq!(config.get_ssl_mode(), postgres::config::SslMode::Require);
        assert_eq!(config.get_user(), Some("u"));
        assert_eq!(config.get_dbname(), Some("x"));
        assert_eq!(config.get_application_name(), Some("fkload"));
        assert_eq!(config.get_password(), None);
    }
}
