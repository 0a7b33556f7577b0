//! How fkload makes connections: one [`Connector`] for every connection of a
//! load (the control connection, the workers of a parallel load, repair, the
//! lock diagnosis, cancel requests), so that the transport and the session
//! settings live in one place.
//!
//! A connector from libpq-style settings ([`ConnInfo`]) tries the hosts in
//! order, and for each the transports its `sslmode` allows, as libpq does:
//! a server that refuses a session in one transport (`allow`, `prefer`) is
//! asked again in the other; a host that cannot be reached, or whose session
//! does not fit `target_session_attrs`, gives way to the next; a failed
//! authentication ends the search (libpq tries no further host). Unless
//! `target_session_attrs` says otherwise, a session must accept writes (a
//! load never lands on a standby), and a load refuses a standby or
//! read-only session even when `target_session_attrs` let it through;
//! [`Connector::for_reading`] lifts both. Those decisions are pure functions
//! in `rules` (a state machine over the hosts, unit-tested against libpq's
//! documented rules); `failure` reads the client's errors into them; this
//! file makes the attempts and the errors. [`Connector::session_with_prompt`]
//! asks for a password as psql does, through a function of the caller's
//! (the terminal is the command line's).
//!
//! Session settings (`lock_timeout`, `statement_timeout`) travel in the
//! startup packet's `options` (`-c name=value`), after whatever `options` the
//! connection settings had: each connection gets them once, as it starts.

pub mod conninfo;
pub(crate) mod failure;
mod rules;
pub(crate) mod tls;

use postgres::{CancelToken, Client, Config, NoTls};

use crate::connect::conninfo::ConnInfo;
use crate::connect::tls::{TlsSettings, Transport};
use crate::database::db;
use crate::error::{DbErrorInfo, Error, ErrorKind, HostAttempt};
use rules::{Attempt, Ending, Misfit, Next, Prompting, Purpose, Search, SessionState};

/// Makes the connections of a load. Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    target: Target,
    /// `-c name=value` settings for every session.
    settings: String,
    /// What its sessions are for: a load refuses a session that does not
    /// accept writes.
    purpose: Purpose,
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
    /// What the connector made it for: a session made for a load was
    /// judged writable as it was made (or refused then).
    purpose: Purpose,
}

impl Session {
    /// Why a load may not run in this session, if it may not.
    pub fn not_writable(&self) -> Option<&'static str> {
        rules::loadable(self.state()).err().map(Misfit::text)
    }

    /// Refuses a load in this session unless it may run there: a session
    /// a connector made for a load was judged as it was made (see
    /// [`Connector::session`]), one made for reading is judged now, before
    /// anything is read or written. `connector` names the target in the
    /// error.
    pub(crate) fn ready_for_load(&self, connector: Option<&Connector>) -> Result<(), Error> {
        if self.purpose == Purpose::Load {
            return Ok(());
        }
        rules::loadable(self.state()).map_err(|misfit| {
            Error::new(ErrorKind::NotWritable {
                target: connector.map_or_else(|| self.host.clone(), |c| c.describe.clone()),
                reasons: vec![HostAttempt::misfit(None, misfit)],
            })
        })
    }

    /// What the rules need of it.
    fn state(&self) -> SessionState {
        SessionState {
            in_recovery: self.in_recovery,
            read_only: self.read_only,
        }
    }
}

/// What the server says of a new session.
const SESSION: &str = "
SELECT current_user::text, current_database()::text, inet_server_port(),
       coalesce((SELECT ssl FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid()), false),
       (SELECT version FROM pg_catalog.pg_stat_ssl WHERE pid = pg_backend_pid() AND ssl),
       pg_is_in_recovery(), current_setting('transaction_read_only') = 'on'";

/// Why a connector gave no session: the error, and how the search over the
/// hosts ended (none when it did not run to an end: TLS settings that
/// cannot be used, a session that could not be described).
struct NoSession {
    error: Error,
    ending: Option<Ending>,
}

impl From<Error> for NoSession {
    fn from(error: Error) -> NoSession {
        NoSession {
            error,
            ending: None,
        }
    }
}

impl Connector {
    /// Connects as libpq-style settings say ([`ConnInfo`]).
    pub fn new(info: &ConnInfo) -> Connector {
        Connector {
            describe: info.describe(),
            target: Target::Info(Box::new(info.clone())),
            settings: String::new(),
            purpose: Purpose::Load,
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
            purpose: Purpose::Load,
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
        self.purpose = Purpose::Read;
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
    /// that answered is a standby or read-only, or (for a load)
    /// `target_session_attrs` chose one; [`ErrorKind::Settings`] when the
    /// TLS settings cannot be used (a file missing or unreadable);
    /// [`ErrorKind::PasswordPrompt`] when the password could not be asked
    /// for.
    pub fn connect(&self) -> Result<Client, Error> {
        self.session().map(|(client, _)| client)
    }

    /// Opens a connection, and says what session it is.
    ///
    /// # Errors
    /// As [`Connector::connect`].
    pub fn session(&self) -> Result<(Client, Session), Error> {
        self.open().map_err(|no| no.error)
    }

    /// Opens a connection as psql opens its first one (`startup.c`): with
    /// `first` (`-W`) `ask` is asked for the password before connecting;
    /// otherwise, when the server asks for a password the settings lack, it
    /// is asked once, if `may_ask` (not `-w`, and someone to answer), and the
    /// connection is tried again. `ask` gets the user name. The connector
    /// keeps the password for every later connection.
    ///
    /// # Errors
    /// As [`Connector::connect`]; [`ErrorKind::Connect`] when `ask` fails.
    pub fn session_with_prompt(
        &mut self,
        first: bool,
        may_ask: bool,
        ask: &mut dyn FnMut(&str) -> std::io::Result<String>,
    ) -> Result<(Client, Session), Error> {
        let prompting = Prompting { first, may_ask };
        let mut asked = prompting.before();
        if asked {
            self.ask_password(ask)?;
        }
        loop {
            match self.open() {
                Ok(made) => return Ok(made),
                Err(NoSession {
                    ending: Some(ending),
                    ..
                }) if prompting.after(ending, asked) => {
                    self.ask_password(ask)?;
                    asked = true;
                }
                Err(no) => return Err(no.error),
            }
        }
    }

    /// Asks `ask` for the password, and uses it from now on (an empty one
    /// means none, as in libpq).
    fn ask_password(
        &mut self,
        ask: &mut dyn FnMut(&str) -> std::io::Result<String>,
    ) -> Result<(), Error> {
        let user = match &self.target {
            Target::Info(info) => info.user().to_owned(),
            Target::Config(config) => config.get_user().unwrap_or_default().to_owned(),
        };
        let password = ask(&user).map_err(|e| {
            Error::new(ErrorKind::PasswordPrompt {
                target: self.describe.clone(),
                source: e,
            })
        })?;
        match &mut self.target {
            Target::Info(info) => info.set_password(password),
            Target::Config(config) if !password.is_empty() => {
                config.password(password);
            }
            Target::Config(_) => {}
        }
        Ok(())
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

    fn open(&self) -> Result<(Client, Session), NoSession> {
        match &self.target {
            Target::Config(config) => self.connect_config(config),
            Target::Info(info) => self.connect_info(info),
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

    /// rust-postgres's own host loop, then the load's rule.
    fn connect_config(&self, config: &Config) -> Result<(Client, Session), NoSession> {
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
        let mut client = result.map_err(|e| NoSession {
            ending: Some(match failure::classify(&e) {
                rules::Failure::PasswordNeeded => Ending::PasswordNeeded,
                rules::Failure::Refused { login: true } => Ending::LoginFailed,
                _ => Ending::Exhausted,
            }),
            error: connect_error(&self.describe, e),
        })?;
        let host = config
            .get_hosts()
            .first()
            .map(|h| format!("{h:?}"))
            .unwrap_or_default();
        let session = self.describe_session(&mut client, host)?;
        if self.purpose == Purpose::Load
            && let Err(misfit) = rules::loadable(session.state())
        {
            return Err(NoSession {
                error: Error::new(ErrorKind::NotWritable {
                    target: self.describe.clone(),
                    reasons: vec![HostAttempt::misfit(None, misfit)],
                }),
                ending: Some(Ending::NotLoadable),
            });
        }
        Ok((client, session))
    }

    /// libpq's host loop (see the module docs): `rules::Search` says which
    /// attempt to make next, and when to stop.
    fn connect_info(&self, info: &ConnInfo) -> Result<(Client, Session), NoSession> {
        let sockets = (0..info.host_count()).map(|i| info.is_socket(i)).collect();
        let (attrs, given) = info.session_attrs();
        let wanted = rules::wanted(given.then_some(attrs), self.purpose);
        let mut search = Search::new(sockets, info.tls().mode, wanted, self.purpose);
        let mut log = Log::default();
        let mut next = search.start();
        loop {
            let attempt = match next {
                Next::Try(attempt) => attempt,
                Next::GiveUp(ending) => {
                    return Err(NoSession {
                        error: log.error(&self.describe, ending),
                        ending: Some(ending),
                    });
                }
            };
            let place = info.describe_host(attempt.host);
            next = match self.attempt(info, attempt)? {
                Ok((client, session)) => match search.connected(session.state()) {
                    Ok(()) => return Ok((client, session)),
                    Err((misfit, next)) => {
                        log.refusals.push(HostAttempt::misfit(Some(place), misfit));
                        next
                    }
                },
                Err(e) => {
                    let next = search.failed(failure::classify(&e));
                    // A host's first transport that failed is not reported
                    // when its other one is tried: that one's outcome is.
                    if !matches!(next, Next::Try(Attempt { fallback: true, .. })) {
                        log.failures.push(attempt_error(Some(place), &e));
                        log.last = Some(e);
                    }
                    next
                }
            };
        }
    }

    /// One attempt: the session it made, or the client's error.
    fn attempt(
        &self,
        info: &ConnInfo,
        attempt: Attempt,
    ) -> Result<Result<(Client, Session), postgres::Error>, Error> {
        let config = self.with_settings(info.config_for(attempt.host, attempt.transport));
        let result = match attempt.transport {
            Transport::Plain => config.connect(NoTls),
            Transport::Tls => config.connect(self.tls_connector(info.tls())?),
        };
        let mut client = match result {
            Ok(client) => client,
            Err(e) => return Ok(Err(e)),
        };
        let host = config
            .get_hosts()
            .first()
            .map(|h| match h {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .unwrap_or_default();
        let session = self.describe_session(&mut client, host)?;
        Ok(Ok((client, session)))
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
        let made = settings.connector().map_err(Error::from)?;
        *slot = Some(made.clone());
        Ok(made)
    }

    /// Asks the server what the session is.
    fn describe_session(&self, client: &mut Client, host: String) -> Result<Session, Error> {
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
            purpose: self.purpose,
        })
    }
}

/// What the attempts of a search said, for the error if it gives up.
#[derive(Default)]
struct Log {
    /// Per host that failed: where, and why.
    failures: Vec<HostAttempt>,
    /// Per session that did not fit: where, and why.
    refusals: Vec<HostAttempt>,
    /// The client's error of the last host that failed.
    last: Option<postgres::Error>,
}

impl Log {
    /// The error of a search that ended so: sessions that did not fit make
    /// it [`ErrorKind::NotWritable`] (unless a login failed, which ends the
    /// search as a failed connection).
    fn error(self, target: &str, ending: Ending) -> Error {
        let refused = match ending {
            Ending::Exhausted => !self.refusals.is_empty(),
            Ending::NotLoadable => true,
            Ending::LoginFailed | Ending::PasswordNeeded => false,
        };
        if refused {
            let mut reasons = self.refusals;
            reasons.extend(self.failures);
            return Error::new(ErrorKind::NotWritable {
                target: target.to_string(),
                reasons,
            });
        }
        let kind = ErrorKind::Connect {
            target: target.to_string(),
            attempts: self.failures,
        };
        match self.last {
            Some(e) => Error::caused_by(kind, e),
            None => Error::new(kind),
        }
    }
}

/// What an attempt that failed with `e` came to: the server's report (the
/// last host's detail and hint are the error's: [`Error::detail`],
/// [`Error::hint`]), or the client's own text, less the source chain it
/// repeats.
fn attempt_error(host: Option<String>, e: &postgres::Error) -> HostAttempt {
    if let Some(db) = e.as_db_error() {
        return HostAttempt::Server {
            host,
            db: Box::new(DbErrorInfo::from_db(db)),
        };
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
    HostAttempt::Client { host, text: m }
}

/// A failed connection, described without the password.
fn connect_error(target: &str, e: postgres::Error) -> Error {
    let attempt = attempt_error(None, &e);
    Error::caused_by(
        ErrorKind::Connect {
            target: target.to_string(),
            attempts: vec![attempt],
        },
        e,
    )
}
