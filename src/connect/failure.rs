//! How an attempt failed, read from the client's error into the rules'
//! [`Failure`]: the one place that reads a `postgres::Error` for them.
//!
//! postgres 0.19 has no typed way to tell its connection failures apart
//! beyond the server's report ([`postgres::Error::as_db_error`] and its
//! SQLSTATE): its error kind is private, and the causes of its client-side
//! failures are boxed strings. So a server error is read by its SQLSTATE
//! (class 28, invalid authorization, is a failed login), and two client-side
//! failures by the crate's own words: the kind "error performing TLS
//! handshake", and the cause "password missing", which the crate gives when
//! the server asks for a password (cleartext, MD5 or SCRAM) and its settings
//! have none. No SQLSTATE can stand for that one: the server is still
//! waiting for the password when the client gives up, as libpq gives up
//! ("fe_sendauth: no password supplied", `PQconnectionNeedsPassword`). The
//! tests hold these words to the crate with a fake server, so an upgrade
//! that changes them fails here, not in a user's prompt.

use super::rules::Failure;
use crate::error::{Error, ErrorKind};

/// The crate's kind of error for a failed TLS handshake (its Display).
const TLS_HANDSHAKE: &str = "error performing TLS handshake";

/// The crate's cause when the server asked for a password it lacks.
const PASSWORD_MISSING: &str = "password missing";

/// How the attempt that gave `e` failed.
pub(crate) fn classify(e: &postgres::Error) -> Failure {
    if let Some(db) = e.as_db_error() {
        return Failure::Refused {
            login: db.code().code().starts_with("28"),
        };
    }
    if password_needed(e) {
        Failure::PasswordNeeded
    } else if e.to_string() == TLS_HANDSHAKE {
        Failure::Tls
    } else {
        Failure::NoAnswer
    }
}

/// Whether the server asked for a password and the client had none: no
/// server report, and the crate's own cause.
pub(crate) fn password_needed(e: &postgres::Error) -> bool {
    e.as_db_error().is_none()
        && std::error::Error::source(e).is_some_and(|s| s.to_string() == PASSWORD_MISSING)
}

impl Error {
    /// Whether a connection failed because the server asked for a password
    /// and none was given (a terminal could then ask for one), as the
    /// connector reads the client's error.
    pub fn needs_password(&self) -> bool {
        matches!(self.kind(), ErrorKind::Connect { .. })
            && self.client_error().is_some_and(password_needed)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::io::{Read, Write};
    use std::net::TcpListener;

    use super::*;

    /// The SSLRequest code of the protocol.
    const SSL_REQUEST: u32 = 80_877_103;

    /// A server on a free port that answers the startup packet (after
    /// refusing TLS with `N`) with `replies[0]`, each later message of the
    /// client with the next reply, and hangs up when they run out.
    fn fake(replies: Vec<Vec<u8>>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut replies = replies.into_iter();
            // Untyped packets until the startup packet, then typed messages.
            let mut started = false;
            loop {
                if started {
                    let mut kind = [0u8; 1];
                    if s.read_exact(&mut kind).is_err() {
                        return;
                    }
                }
                let mut len = [0u8; 4];
                if s.read_exact(&mut len).is_err() {
                    return;
                }
                let mut body = vec![0; u32::from_be_bytes(len) as usize - 4];
                if s.read_exact(&mut body).is_err() {
                    return;
                }
                if !started && body == SSL_REQUEST.to_be_bytes() {
                    s.write_all(b"N").unwrap();
                    continue;
                }
                started = true;
                match replies.next() {
                    Some(reply) => s.write_all(&reply).unwrap(),
                    None => return,
                }
            }
        });
        port
    }

    /// A backend message: its type, its length, its body.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(u32::try_from(body.len()).unwrap() + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// An authentication request of this code (3 cleartext, 5 MD5 with a
    /// salt, 10 SASL with its mechanisms).
    fn auth(code: u32, rest: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(rest);
        message(b'R', &body)
    }

    /// A FATAL ErrorResponse with this SQLSTATE.
    fn fatal(sqlstate: &str) -> Vec<u8> {
        let body = format!("SFATAL\0VFATAL\0C{sqlstate}\0Mno\0\0");
        message(b'E', body.as_bytes())
    }

    fn config(port: u16, password: Option<&str>) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.host("127.0.0.1")
            .port(port)
            .user("u")
            .dbname("d")
            .ssl_mode(postgres::config::SslMode::Disable);
        if let Some(pw) = password {
            c.password(pw);
        }
        c
    }

    fn failure(config: &postgres::Config) -> (Failure, postgres::Error) {
        let e = config.connect(postgres::NoTls).err().unwrap();
        (classify(&e), e)
    }

    /// psql prompts on `PQconnectionNeedsPassword`: the server asked for a
    /// password (in any of the three ways) and none was given.
    #[test]
    fn a_password_request_without_a_password_is_password_needed() {
        for request in [
            auth(3, b""),
            auth(5, b"salt"),
            auth(10, b"SCRAM-SHA-256\0\0"),
        ] {
            let (f, e) = failure(&config(fake(vec![request.clone()]), None));
            assert_eq!(f, Failure::PasswordNeeded, "{e:?}");
            assert!(password_needed(&e));
        }
    }

    /// libpq, "Specifying Multiple Hosts": "If a connection is established
    /// successfully, but authentication fails, the remaining hosts in the
    /// list are not tried": a wrong password (28P01) and a pg_hba.conf
    /// refusal (28000) are failed logins; a database that does not exist
    /// (3D000) is refused, but no login failed.
    #[test]
    fn server_refusals_are_read_by_their_sqlstate() {
        let port = fake(vec![auth(3, b""), fatal("28P01")]);
        let (f, e) = failure(&config(port, Some("wrong")));
        assert_eq!(f, Failure::Refused { login: true }, "{e:?}");
        assert!(!password_needed(&e));
        let (f, _) = failure(&config(fake(vec![fatal("28000")]), None));
        assert_eq!(f, Failure::Refused { login: true });
        let (f, _) = failure(&config(fake(vec![fatal("3D000")]), None));
        assert_eq!(f, Failure::Refused { login: false });
    }

    /// libpq: a host that cannot be reached, or that hangs up before it
    /// says anything, gives way to the next.
    #[test]
    fn no_answer_is_no_answer() {
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (f, e) = failure(&config(closed, None));
        assert_eq!(f, Failure::NoAnswer, "{e:?}");
        let (f, e) = failure(&config(fake(Vec::new()), None));
        assert_eq!(f, Failure::NoAnswer, "{e:?}");
    }

    /// libpq, `sslmode=prefer`: "if that fails, try a non-SSL connection":
    /// a server without TLS fails the TLS attempt as a TLS failure.
    #[test]
    fn a_server_without_tls_fails_the_tls_attempt() {
        let port = fake(Vec::new());
        let mut c = config(port, None);
        c.ssl_mode(postgres::config::SslMode::Require);
        let tls = openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls()).unwrap();
        let e = c
            .connect(postgres_openssl::MakeTlsConnector::new(tls.build()))
            .err()
            .unwrap();
        assert_eq!(classify(&e), Failure::Tls, "{e:?}");
    }
}
