//! How fkload makes connections: one [`Connector`] for every connection of a
//! load (the control connection, the workers of a parallel load, repair, the
//! lock diagnosis, cancel requests), so that the transport and the session
//! settings live in one place.
//!
//! Session settings (`lock_timeout`, `statement_timeout`) travel in the
//! startup packet's `options` (`-c name=value`), after whatever `options` the
//! connection settings had: each connection gets them once, as it starts.

use postgres::{CancelToken, Client, Config, NoTls};

use crate::conninfo::ConnInfo;
use crate::error::{DbErrorInfo, Error, ErrorKind};

/// Makes the connections of a load. Cheap to clone.
#[derive(Clone)]
pub struct Connector {
    config: Config,
    /// Where it connects, for messages (never with a password).
    target: String,
}

impl std::fmt::Debug for Connector {
    /// The target only: the config holds the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl Connector {
    /// Connects as libpq-style settings say ([`ConnInfo`]).
    pub fn new(info: &ConnInfo) -> Connector {
        Connector {
            config: info.to_config(),
            target: info.describe(),
        }
    }

    /// Connects as a rust-postgres [`Config`] says.
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
        let target = format!(
            "hosts {} as user \"{}\" database \"{}\"",
            hosts.join(", "),
            config.get_user().unwrap_or_default(),
            config.get_dbname().unwrap_or_default()
        );
        Connector { config, target }
    }

    /// Sets a server setting for every session this connector opens, as
    /// `-c name=value` in the startup options (`value` in the setting's own
    /// units, such as `5s` for `lock_timeout`).
    #[must_use]
    pub fn setting(mut self, name: &str, value: &str) -> Connector {
        let options = self.config.get_options().unwrap_or_default();
        let options = format!("{options} -c {name}={value}");
        self.config.options(options.trim());
        self
    }

    /// Where it connects, as messages say it.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Opens a connection.
    ///
    /// # Errors
    /// [`ErrorKind::Connect`], with the client's error as the source (see
    /// [`Error::needs_password`]).
    pub fn connect(&self) -> Result<Client, Error> {
        self.config
            .connect(NoTls)
            .map_err(|e| connect_error(&self.target, e))
    }

    /// Asks the server to cancel what the session of `token` is running.
    pub fn cancel(&self, token: &CancelToken) {
        let _ = token.cancel_query(NoTls);
    }
}

/// A failed connection, described without the password.
fn connect_error(target: &str, e: postgres::Error) -> Error {
    let message = match e.as_db_error() {
        Some(db) => DbErrorInfo::from_db(db).to_string(),
        None => {
            // The client's own text, less the source chain it repeats.
            let mut m = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                let t = s.to_string();
                if !m.contains(&t) {
                    m = format!("{m}: {t}");
                }
                src = s.source();
            }
            m
        }
    };
    Error::caused_by(
        ErrorKind::Connect {
            target: target.to_string(),
            message,
        },
        e,
    )
}
