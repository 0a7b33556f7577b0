//! How fkload makes connections: one [`Connector`] for every connection of a
//! load (the control connection, the workers of a parallel load, repair, the
//! lock diagnosis, cancel requests), so that the transport and the session
//! settings live in one place.
//!
//! A connector from libpq-style settings ([`ConnInfo`]) tries the hosts in
//! order, and for each the transports its `sslmode` allows ([`tls`]), as
//! libpq does: a server that refuses a session in one transport (`allow`,
//! `prefer`) is asked again in the other; a host that cannot be reached, or
//! whose session does not fit `target_session_attrs`, gives way to the next;
//! a failed authentication ends the search (libpq tries no further host).
//! Unless `target_session_attrs` says otherwise, a session must accept writes
//! (a load never lands on a standby); [`Connector::for_reading`] lifts that.
//!
//! Session settings (`lock_timeout`, `statement_timeout`) travel in the
//! startup packet's `options` (`-c name=value`), after whatever `options` the
//! connection settings had: each connection gets them once, as it starts.

use postgres::{CancelToken, Client, Config, NoTls};

use crate::conninfo::{ConnInfo, SessionAttrs};
use crate::db;
use crate::error::{DbErrorInfo, Error, ErrorKind};
use crate::tls::{self, TlsSettings, Transport};

/// Makes the connections of a load. Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    target: Target,
    /// `-c name=value` settings for every session.
    settings: String,
    /// Whether a session that does not accept writes is refused (unless
    /// `target_session_attrs` was given).
    writable: bool,
    /// Where it connects, for messages (never with a password).
    describe: String,
    /// The TLS connector, made on first use and shared by every connection
    /// and clone: making one reads the trusted certificates again, which costs
    /// far more than a connection to a server nearby.
    tls: std::sync::Arc<std::sync::Mutex<Option<postgres_openssl::MakeTlsConnector>>>,
}

#[derive(Clone)]
enum Target {
    Info(Box<ConnInfo>),
    Config(Box<Config>),
}

impl std::fmt::Debug for Connector {
    /// The target only: the settings hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.describe)
            .finish_non_exhaustive()
    }
}

/// What a session is, as the server tells it right after connecting.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Session {
    /// The host (or socket directory) it was made to.
    pub host: String,
    pub user: String,
    pub database: String,
    /// `inet_server_port()`: none over a Unix socket.
    pub port: Option<i32>,
    /// Whether it is encrypted, and with which protocol.
    pub ssl: bool,
    pub ssl_version: Option<String>,
    /// `pg_is_in_recovery()`: a standby.
    pub in_recovery: bool,
    /// `transaction_read_only`.
    pub read_only: bool,
}

impl Session {
    /// Why a load may not run in this session, if it may not.
    pub fn not_writable(&self) -> Option<&'static str> {
        if self.in_recovery {
            Some("the server is in recovery (a standby)")
        } else if self.read_only {
            Some("the session is read-only (default_transaction_read_only is on)")
        } else {
            None
        }
    }
}

/// What the server says of a new session.
const SESSION: &str = "
SELECT current_user::text, current_database()::text, inet_server_port(),
       coalesce((SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()), false),
       (SELECT version FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl),
       pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'";

impl Connector {
    /// Connects as libpq-style settings say ([`ConnInfo`]).
    pub fn new(info: &ConnInfo) -> Connector {
        Connector {
            describe: info.describe(),
            target: Target::Info(Box::new(info.clone())),
            settings: String::new(),
            writable: true,
            tls: std::sync::Arc::default(),
        }
    }

    /// Connects as a rust-postgres [`Config`] says (`sslmode` `require` or
    /// `prefer` in TLS without checking the server's certificate; hosts as
    /// rust-postgres tries them).
    pub fn from_config(config: Config) -> Connector {
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => format!("\"{name}\""),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => format!("\"{}\"", path.display()),
            })
            .collect();
        let describe = format!(
            "hosts {} as user \"{}\" database \"{}\"",
            hosts.join(", "),
            config.get_user().unwrap_or_default(),
            config.get_dbname().unwrap_or_default()
        );
        Connector {
            target: Target::Config(Box::new(config)),
            settings: String::new(),
            writable: true,
            describe,
            tls: std::sync::Arc::default(),
        }
    }

    /// Sets a server setting for every session this connector opens, as
    /// `-c name=value` in the startup options (`value` in the setting's own
    /// units, such as `5s` for `lock_timeout`).
    #[must_use]
    pub fn setting(mut self, name: &str, value: &str) -> Connector {
        self.settings.push_str(&format!(" -c {name}={value}"));
        self
    }

    /// Accepts a session that does not take writes (for plans, which only
    /// read), unless `target_session_attrs` asks otherwise.
    #[must_use]
    pub fn for_reading(mut self) -> Connector {
        self.writable = false;
        self
    }

    /// Where it connects, as messages say it.
    pub fn target(&self) -> &str {
        &self.describe
    }

    /// Opens a connection.
    ///
    /// # Errors
    /// [`ErrorKind::Connect`], with the client's error as the source (see
    /// [`Error::needs_password`]); [`ErrorKind::NotWritable`] when every host
    /// that answered is a standby or read-only; [`ErrorKind::Settings`] when
    /// the TLS settings cannot be used (a file missing or unreadable).
    pub fn connect(&self) -> Result<Client, Error> {
        self.session().map(|(client, _)| client)
    }

    /// Opens a connection, and says what session it is.
    ///
    /// # Errors
    /// As [`Connector::connect`].
    pub fn session(&self) -> Result<(Client, Session), Error> {
        match &self.target {
            Target::Config(config) => self.connect_config(config),
            Target::Info(info) => self.connect_info(info),
        }
    }

    /// Asks the server to cancel what the session of `token` is running.
    pub fn cancel(&self, token: &CancelToken) {
        let sent = match &self.target {
            Target::Info(info) if info.tls().mode != tls::SslMode::Disable => self
                .tls_connector(info.tls())
                .map(|c| token.cancel_query(c).is_ok())
                .unwrap_or(false),
            _ => false,
        };
        if !sent {
            let _ = token.cancel_query(NoTls);
        }
    }

    fn with_settings(&self, mut config: Config) -> Config {
        if !self.settings.is_empty() {
            let options = config.get_options().unwrap_or_default();
            let options = format!("{options}{}", self.settings);
            config.options(options.trim());
        }
        config
    }

    fn connect_config(&self, config: &Config) -> Result<(Client, Session), Error> {
        let config = self.with_settings(config.clone());
        let result = match config.get_ssl_mode() {
            postgres::config::SslMode::Disable => config.connect(NoTls),
            _ => {
                let settings = TlsSettings {
                    mode: tls::SslMode::Require,
                    sni: true,
                    ..TlsSettings::default()
                };
                config.connect(self.tls_connector(&settings)?)
            }
        };
        let mut client = result.map_err(|e| connect_error(&self.describe, e))?;
        let host = config
            .get_hosts()
            .first()
            .map(|h| format!("{h:?}"))
            .unwrap_or_default();
        let session = describe_session(&mut client, host)?;
        if self.writable
            && let Some(why) = session.not_writable()
        {
            return Err(Error::new(ErrorKind::NotWritable {
                target: self.describe.clone(),
                reasons: vec![why.to_string()],
            }));
        }
        Ok((client, session))
    }

    /// libpq's host loop (see the module docs).
    fn connect_info(&self, info: &ConnInfo) -> Result<(Client, Session), Error> {
        let (attrs, given) = info.session_attrs();
        let attrs = match (attrs, given, self.writable) {
            (_, true, _) => attrs,
            (_, false, true) => SessionAttrs::ReadWrite,
            (_, false, false) => SessionAttrs::Any,
        };
        let passes: &[SessionAttrs] = match attrs {
            SessionAttrs::PreferStandby => &[SessionAttrs::Standby, SessionAttrs::Any],
            _ => std::slice::from_ref(&attrs),
        };
        let mut failures: Vec<String> = Vec::new();
        let mut refusals: Vec<String> = Vec::new();
        let mut last: Option<postgres::Error> = None;
        for &pass in passes {
            for i in 0..info.host_count() {
                match self.try_host(info, i)? {
                    Tried::Connected(mut client, host) => {
                        let session = describe_session(&mut client, host)?;
                        match refusal(pass, &session) {
                            None => return Ok((*client, session)),
                            Some(why) => refusals.push(format!("{}: {why}", info.describe_host(i))),
                        }
                    }
                    Tried::Failed(e, message, stop) => {
                        failures.push(format!("{}: {message}", info.describe_host(i)));
                        last = Some(e);
                        if stop {
                            return Err(self.failed(failures, last));
                        }
                    }
                }
            }
        }
        if !refusals.is_empty() {
            let mut reasons = refusals;
            reasons.extend(failures);
            return Err(Error::new(ErrorKind::NotWritable {
                target: self.describe.clone(),
                reasons,
            }));
        }
        Err(self.failed(failures, last))
    }

    /// The error for hosts that all failed (or one that ended the search).
    fn failed(&self, failures: Vec<String>, last: Option<postgres::Error>) -> Error {
        let kind = ErrorKind::Connect {
            target: self.describe.clone(),
            message: failures.join("\n"),
        };
        match last {
            Some(e) => Error::caused_by(kind, e),
            None => Error::new(kind),
        }
    }

    /// The TLS connector of `info`'s settings, made once (see `tls`).
    fn tls_connector(
        &self,
        settings: &TlsSettings,
    ) -> Result<postgres_openssl::MakeTlsConnector, Error> {
        let mut slot = self
            .tls
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(made) = slot.as_ref() {
            return Ok(made.clone());
        }
        let made = settings.connector().map_err(|e| settings_error(&e))?;
        *slot = Some(made.clone());
        Ok(made)
    }

    /// Host `i` in each transport its `sslmode` allows, until one connects.
    fn try_host(&self, info: &ConnInfo, i: usize) -> Result<Tried, Error> {
        let transports = tls::attempts(info.tls().mode, info.is_socket(i));
        let mut outcome = None;
        for (n, &transport) in transports.iter().enumerate() {
            let config = self.with_settings(info.config_for(i, transport));
            let result = match transport {
                Transport::Plain => config.connect(NoTls),
                Transport::Tls => config.connect(self.tls_connector(info.tls())?),
            };
            let e = match result {
                Ok(client) => {
                    let host = config
                        .get_hosts()
                        .first()
                        .map(|h| match h {
                            postgres::config::Host::Tcp(name) => name.clone(),
                            #[cfg(unix)]
                            postgres::config::Host::Unix(p) => p.display().to_string(),
                        })
                        .unwrap_or_default();
                    return Ok(Tried::Connected(Box::new(client), host));
                }
                Err(e) => e,
            };
            let answered = e.as_db_error().is_some() || is_tls_failure(&e);
            // A server that answered is asked again in the other transport
            // (libpq's allow and prefer); one that asked for a password we do
            // not have, or refused the last transport's authentication, ends
            // the search: libpq tries no further host after a failed login.
            let auth = e.code().is_some_and(|c| c.code().starts_with("28")) || needs_password(&e);
            let more = n + 1 < transports.len();
            let message = error_text(&e);
            let stop = auth && !(more && answered && !needs_password(&e));
            if more && answered && !needs_password(&e) {
                outcome = Some(Tried::Failed(e, message, stop));
                continue;
            }
            return Ok(Tried::Failed(e, message, stop));
        }
        outcome.ok_or_else(|| Error::new(ErrorKind::NoConnector))
    }
}

/// How one host went.
enum Tried {
    /// Connected, to this host (or socket directory).
    Connected(Box<Client>, String),
    /// Failed, with this message; `true` when no further host may be tried.
    Failed(postgres::Error, String, bool),
}

/// Why a session does not fit `attrs`, libpq's words.
fn refusal(attrs: SessionAttrs, s: &Session) -> Option<&'static str> {
    match attrs {
        SessionAttrs::ReadWrite if s.read_only || s.in_recovery => {
            Some(s.not_writable().unwrap_or("the session is read-only"))
        }
        SessionAttrs::ReadOnly if !s.read_only && !s.in_recovery => {
            Some("the session is not read-only")
        }
        SessionAttrs::Primary if s.in_recovery => Some("the server is in hot standby mode"),
        SessionAttrs::Standby if !s.in_recovery => Some("the server is not in hot standby mode"),
        _ => None,
    }
}

/// Asks the server what the session is.
fn describe_session(client: &mut Client, host: String) -> Result<Session, Error> {
    let row = db::query_one(client, SESSION, &[], "connecting")?;
    Ok(Session {
        host,
        user: row.get(0),
        database: row.get(1),
        port: row.get(2),
        ssl: row.get(3),
        ssl_version: row.get(4),
        in_recovery: row.get(5),
        read_only: row.get(6),
    })
}

/// Whether the client failed in the TLS handshake (the server answered, but
/// not in TLS, or its certificate did not verify).
fn is_tls_failure(e: &postgres::Error) -> bool {
    e.to_string().starts_with("error performing TLS handshake")
}

/// Whether the server asked for a password the settings lack.
fn needs_password(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.to_string() == "password missing" {
            return true;
        }
        source = s.source();
    }
    false
}

/// The client's own text, less the source chain it repeats; a server's
/// report in psql's layout.
fn error_text(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return DbErrorInfo::from_db(db).to_string();
    }
    let mut m = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        let t = s.to_string();
        if !m.contains(&t) {
            m = format!("{m}: {t}");
        }
        src = s.source();
    }
    m
}

/// A failed connection, described without the password.
fn connect_error(target: &str, e: postgres::Error) -> Error {
    let message = error_text(&e);
    Error::caused_by(
        ErrorKind::Connect {
            target: target.to_string(),
            message,
        },
        e,
    )
}

/// TLS settings that cannot be used.
fn settings_error(e: &tls::TlsError) -> Error {
    Error::new(ErrorKind::Settings {
        message: e.to_string(),
    })
}
