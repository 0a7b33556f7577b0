//! The `ssl*` keywords and their `~/.postgresql/` defaults, as
//! [`TlsSettings`] for [`crate::connect::tls`] to build a connector from.

use std::path::PathBuf;

use super::syntax::Params;
use crate::connect::tls::{RootCert, SslMode, TlsSettings};
use crate::error::settings::ConnInfoError;

/// The TLS settings: `sslmode` (default `prefer`, or `verify-full` with
/// `sslrootcert=system`), the certificate files with libpq's defaults in
/// `~/.postgresql/` (used when they exist), the passphrase, the CRLs and the
/// protocol bounds.
///
/// # Errors
/// [`ConnInfoError::InvalidValue`] for a bad `sslmode` or `sslsni`;
/// [`ConnInfoError::WeakSslModeWithSystemRoot`].
pub(super) fn tls_settings(
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

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

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
}
