//! Why connection settings cannot be used: [`ConnInfoError`], when they do
//! not resolve (libpq's rules, shared by every part of `conninfo`) or the
//! TLS files and settings they name cannot make a connector. Carried as the
//! typed source of [`ErrorKind::Settings`](crate::ErrorKind::Settings). A
//! leaf: it imports nothing of the crate (public as
//! `fkload::conninfo::ConnInfoError`).

use std::path::PathBuf;

/// Why connection settings could not be resolved, or the TLS connector
/// they describe could not be made (a file that cannot be read or parsed,
/// a wrong passphrase, a verifying mode without roots). No variant ever
/// carries a password: URIs are redacted before they are stored here.
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
    #[error("definition of service \"{service}\" not found")]
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
    /// `sslrootcert` names a file that is not there, and the mode verifies.
    #[error(
        "root certificate file \"{}\" does not exist",
        path.display()
    )]
    NoRootFile { path: PathBuf },
    /// A verifying `sslmode` without root certificates to verify against.
    #[error(
        "sslmode {0} needs a root certificate to verify the server against (sslrootcert, or ~/.postgresql/root.crt)"
    )]
    NoRoot(&'static str),
    /// A certificate, key or CRL file that cannot be read.
    #[error("could not read {what} \"{}\": {source}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file OpenSSL cannot load (not PEM, a wrong passphrase); `message`
    /// is OpenSSL's.
    #[error("could not load {what} \"{}\": {message}", path.display())]
    Load {
        what: &'static str,
        path: PathBuf,
        message: String,
    },
    /// A private key file others can read.
    #[error(
        "private key file \"{}\" has group or world access; file must have permissions u=rw (0600) or less if owned by the current user, or permissions u=rw,g=r (0640) or less if owned by root",
        path.display()
    )]
    KeyPermissions { path: PathBuf },
    /// A TLS protocol version OpenSSL does not know.
    #[error("invalid value \"{0}\" for ssl_min_protocol_version or ssl_max_protocol_version")]
    Protocol(String),
    /// OpenSSL could not set up the connector.
    #[error("could not set up TLS: {0}")]
    OpenSsl(#[from] openssl::error::ErrorStack),
}

impl ConnInfoError {
    /// The DETAIL, where libpq gives one: the files searched for a service.
    pub fn detail(&self) -> Option<String> {
        match self {
            ConnInfoError::ServiceNotFound { searched, .. } => Some(format!(
                "Searched {}.",
                searched
                    .iter()
                    .map(|p| format!("\"{}\"", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            _ => None,
        }
    }

    /// The HINT, where libpq gives one: what to do about a root certificate
    /// file that is not there.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ConnInfoError::NoRootFile { .. } => Some(
                "Either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification.",
            ),
            _ => None,
        }
    }
}
