//! TLS as libpq does it: what each `sslmode` means, which certificate files
//! it reads (and their defaults in `~/.postgresql/`), and the OpenSSL
//! connector for one host.
//!
//! The meanings, from libpq's documentation and its `fe-secure-openssl.c`:
//! - `disable`: plain text only; `allow`: plain text first, then TLS if the
//!   server refuses the plain session; `prefer` (the default): TLS first, then
//!   plain text if the TLS session fails; `require`: TLS only.
//! - The server's certificate chain is checked whenever a root certificate is
//!   there (`sslrootcert`, or `~/.postgresql/root.crt`), whatever the mode:
//!   `require` with a root file is `verify-ca`, for compatibility.
//!   `verify-ca` and `verify-full` need one; `verify-full` also checks the host
//!   name (or address) against the certificate.
//! - `sslrootcert=system` trusts the platform's roots (OpenSSL's default
//!   paths, `SSL_CERT_FILE` and `SSL_CERT_DIR` included); it makes
//!   `verify-full` the default and refuses weaker modes.
//! - Unix sockets never use TLS.
//!
//! OpenSSL was chosen over rustls because libpq is built on it and matched it
//! in every case tried: a CA-signed certificate naming the host in its CN only,
//! a self-signed server certificate as its own root, client keys encrypted in
//! either PEM format (`sslpassword`), CRL checks of the whole chain
//! (`sslcrl`, `sslcrldir`); rustls refuses the first three. It adds 81 kB to
//! the binary (rustls with ring: 1.5 MB) and needs `libssl-dev` to build.

use std::path::{Path, PathBuf};

use openssl::pkey::PKey;
use openssl::ssl::{
    SslConnector, SslConnectorBuilder, SslFiletype, SslMethod, SslVerifyMode, SslVersion,
};
use openssl::x509::X509;
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use postgres_openssl::MakeTlsConnector;

use crate::error::settings::ConnInfoError;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    /// Parses libpq's spelling.
    pub fn parse(s: &str) -> Option<SslMode> {
        Some(match s {
            "disable" => SslMode::Disable,
            "allow" => SslMode::Allow,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return None,
        })
    }

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Checks the certificate chain whatever the root files say.
    fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

/// How a connection to one host is tried: in plain text or in TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Plain,
    Tls,
}

/// The transports `mode` tries, in order, for a host: libpq's `disable` "only
/// try a non-SSL connection", `allow` "first try a non-SSL connection; if that
/// fails, try an SSL connection", `prefer` "first try an SSL connection; if
/// that fails, try a non-SSL connection", `require`, `verify-ca` and
/// `verify-full` "only try an SSL connection". A Unix socket (`socket`) is
/// always plain text ("sslmode is ignored for Unix domain socket
/// communication"). When the next transport is tried is the connector's rule
/// (`connect::rules`).
pub(crate) fn attempts(mode: SslMode, socket: bool) -> &'static [Transport] {
    use Transport::{Plain, Tls};
    if socket {
        return &[Plain];
    }
    match mode {
        SslMode::Disable => &[Plain],
        SslMode::Allow => &[Plain, Tls],
        SslMode::Prefer => &[Tls, Plain],
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => &[Tls],
    }
}

/// The root certificates to trust.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RootCert {
    /// A PEM file of certificates.
    File(PathBuf),
    /// The platform's (`sslrootcert=system`).
    System,
}

/// Everything TLS needs for a connection, as the connection settings give
/// it. `Debug` never shows `password`.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`, or libpq's default file when it exists.
    pub rootcert: Option<RootCert>,
    /// The root file was named (`sslrootcert`, `PGSSLROOTCERT`): a verifying
    /// mode without it is an error that names it.
    pub rootcert_named: bool,
    /// `sslcert` and `sslkey` (or their defaults, when they exist).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// `sslpassword`: the passphrase of an encrypted `sslkey`.
    pub password: Option<String>,
    /// `sslcrl` (or `~/.postgresql/root.crl` when it exists) and `sslcrldir`.
    pub crl: Option<PathBuf>,
    pub crldir: Option<PathBuf>,
    /// `ssl_min_protocol_version` (libpq's default: TLSv1.2) and
    /// `ssl_max_protocol_version`.
    pub min_protocol: Option<String>,
    pub max_protocol: Option<String>,
    /// `sslsni`: send the host name (default on).
    pub sni: bool,
}

impl std::fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsSettings")
            .field("mode", &self.mode)
            .field("rootcert", &self.rootcert)
            .field("cert", &self.cert)
            .field("key", &self.key)
            .field("password", &self.password.as_ref().map(|_| "********"))
            .field("crl", &self.crl)
            .field("crldir", &self.crldir)
            .field("min_protocol", &self.min_protocol)
            .field("max_protocol", &self.max_protocol)
            .field("sni", &self.sni)
            .finish()
    }
}

impl TlsSettings {
    /// The connector for the TLS attempt of a connection: trusts the root
    /// certificates (checking the chain when there are any, or when the mode
    /// verifies), checks the host name under `verify-full`, presents the
    /// client certificate, checks CRLs.
    ///
    /// # Errors
    /// [`ConnInfoError`] naming the file or setting at fault.
    pub(crate) fn connector(&self) -> Result<MakeTlsConnector, ConnInfoError> {
        let mut b = SslConnector::builder(SslMethod::tls_client())?;
        let min = self.min_protocol.as_deref().unwrap_or("TLSv1.2");
        b.set_min_proto_version(protocol(min)?)?;
        if let Some(max) = &self.max_protocol {
            b.set_max_proto_version(protocol(max)?)?;
        }
        let verify_chain = match &self.rootcert {
            // The builder starts with OpenSSL's default paths.
            Some(RootCert::System) => true,
            Some(RootCert::File(path)) if path.is_file() => {
                b.set_cert_store(self.root_store(path)?);
                true
            }
            Some(RootCert::File(path)) if self.mode.verifies() || self.rootcert_named => {
                if self.mode.verifies() {
                    return Err(ConnInfoError::NoRootFile { path: path.clone() });
                }
                false
            }
            _ if self.mode.verifies() => return Err(ConnInfoError::NoRoot(self.mode.as_str())),
            _ => false,
        };
        b.set_verify(if verify_chain {
            SslVerifyMode::PEER
        } else {
            SslVerifyMode::NONE
        });
        self.client_certificate(&mut b)?;
        let mut connector = MakeTlsConnector::new(b.build());
        let (full, sni) = (self.mode == SslMode::VerifyFull, self.sni);
        connector.set_callback(move |config, _domain| {
            config.set_verify_hostname(full);
            config.set_use_server_name_indication(sni);
            Ok(())
        });
        Ok(connector)
    }

    /// The root certificates of `path`, with the CRLs of `sslcrl` and
    /// `sslcrldir` checked against every certificate of the chain.
    fn root_store(&self, path: &Path) -> Result<X509Store, ConnInfoError> {
        let mut store = X509StoreBuilder::new()?;
        let pem = read(path, "root certificate file")?;
        let certs = X509::stack_from_pem(&pem).map_err(|e| ConnInfoError::Load {
            what: "root certificate file",
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        for cert in certs {
            store.add_cert(cert)?;
        }
        if self.crl.is_some() || self.crldir.is_some() {
            if let Some(crl) = &self.crl {
                store
                    .add_lookup(X509Lookup::file())?
                    .load_crl_file(crl, SslFiletype::PEM)
                    .map_err(|e| ConnInfoError::Load {
                        what: "CRL file",
                        path: crl.clone(),
                        message: e.to_string(),
                    })?;
            }
            if let Some(dir) = &self.crldir {
                let dir = dir.to_str().ok_or_else(|| ConnInfoError::Load {
                    what: "CRL directory",
                    path: dir.clone(),
                    message: "not valid UTF-8".into(),
                })?;
                store
                    .add_lookup(X509Lookup::hash_dir())?
                    .add_dir(dir, SslFiletype::PEM)?;
            }
            store.set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)?;
        }
        Ok(store.build())
    }

    /// Present `sslcert` with `sslkey`, when the certificate file exists
    /// (libpq's rule: no file, no client certificate).
    fn client_certificate(&self, b: &mut SslConnectorBuilder) -> Result<(), ConnInfoError> {
        if let Some(cert) = &self.cert
            && cert.is_file()
        {
            b.set_certificate_chain_file(cert)
                .map_err(|e| ConnInfoError::Load {
                    what: "client certificate file",
                    path: cert.clone(),
                    message: e.to_string(),
                })?;
            if let Some(key) = &self.key {
                let pkey = self.private_key(key)?;
                b.set_private_key(&pkey)?;
                b.check_private_key().map_err(|e| ConnInfoError::Load {
                    what: "private key file",
                    path: key.clone(),
                    message: e.to_string(),
                })?;
            }
        }
        Ok(())
    }

    /// The client's private key, decrypted with `sslpassword` when it is
    /// encrypted; refused when others may read it, as libpq does.
    fn private_key(&self, path: &Path) -> Result<PKey<openssl::pkey::Private>, ConnInfoError> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(path).map_err(|source| ConnInfoError::File {
                what: "private key file",
                path: path.to_path_buf(),
                source,
            })?;
            // SAFETY: geteuid cannot fail.
            let me = unsafe { libc::geteuid() };
            let mode = meta.mode();
            // libpq's two rules: a key of ours lets nobody else in; a key of
            // root's lets its group read it, no more.
            let ours_too_open = meta.uid() == me && mode & 0o077 != 0;
            let roots_too_open = meta.uid() == 0 && mode & 0o037 != 0;
            if ours_too_open || roots_too_open {
                return Err(ConnInfoError::KeyPermissions {
                    path: path.to_path_buf(),
                });
            }
        }
        let pem = read(path, "private key file")?;
        let key = match &self.password {
            Some(pw) => PKey::private_key_from_pem_passphrase(&pem, pw.as_bytes()),
            None => PKey::private_key_from_pem(&pem),
        };
        key.map_err(|e| ConnInfoError::Load {
            what: "private key file",
            path: path.to_path_buf(),
            message: if self.password.is_none() && pem.windows(9).any(|w| w == b"ENCRYPTED") {
                "the key is encrypted and no sslpassword was given".into()
            } else {
                e.to_string()
            },
        })
    }
}

fn read(path: &Path, what: &'static str) -> Result<Vec<u8>, ConnInfoError> {
    std::fs::read(path).map_err(|source| ConnInfoError::File {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn protocol(name: &str) -> Result<Option<SslVersion>, ConnInfoError> {
    Ok(Some(match name {
        "TLSv1" => SslVersion::TLS1,
        "TLSv1.1" => SslVersion::TLS1_1,
        "TLSv1.2" => SslVersion::TLS1_2,
        "TLSv1.3" => SslVersion::TLS1_3,
        "" => return Ok(None),
        other => return Err(ConnInfoError::Protocol(other.to_string())),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libpq, `sslmode`: each mode's transports in its documented order; a
    /// Unix socket in plain text only.
    #[test]
    fn modes_try_libpqs_transports_in_libpqs_order() {
        use Transport::{Plain, Tls};
        for (mode, tcp) in [
            ("disable", &[Plain][..]),
            ("allow", &[Plain, Tls]),
            ("prefer", &[Tls, Plain]),
            ("require", &[Tls]),
            ("verify-ca", &[Tls]),
            ("verify-full", &[Tls]),
        ] {
            let m = SslMode::parse(mode).unwrap();
            assert_eq!(m.as_str(), mode);
            assert_eq!(attempts(m, false), tcp, "{mode}");
            assert_eq!(attempts(m, true), [Plain], "{mode} on a socket");
        }
        assert_eq!(SslMode::parse("verify_full"), None);
    }

    #[test]
    fn verifying_modes_need_a_root() {
        let settings = |mode, rootcert: Option<RootCert>| TlsSettings {
            mode,
            rootcert,
            sni: true,
            ..TlsSettings::default()
        };
        assert!(matches!(
            settings(SslMode::VerifyCa, None).connector(),
            Err(ConnInfoError::NoRoot("verify-ca"))
        ));
        let missing = RootCert::File("/nonexistent/root.crt".into());
        assert!(matches!(
            settings(SslMode::VerifyFull, Some(missing.clone())).connector(),
            Err(ConnInfoError::NoRootFile { .. })
        ));
        // Without verification a missing file is no error.
        assert!(
            settings(SslMode::Require, Some(missing))
                .connector()
                .is_ok()
        );
        assert!(settings(SslMode::Require, None).connector().is_ok());
        assert!(
            settings(SslMode::VerifyFull, Some(RootCert::System))
                .connector()
                .is_ok()
        );
    }

    #[test]
    fn the_passphrase_never_shows() {
        let s = TlsSettings {
            password: Some("s3cret-key-pass".into()),
            ..TlsSettings::default()
        };
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
