//! Why connection settings could not be resolved: the one error type of the
//! connection settings, shared by every part of them. A leaf: it imports
//! nothing of the crate.

use std::path::PathBuf;

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
