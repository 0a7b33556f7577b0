//! A test PKI made with the `openssl` command: a CA, a second CA nobody
//! trusts, server certificates for `localhost` and for another name, a
//! client certificate with its key plain and encrypted, and the CA's
//! revocation lists (one empty, one revoking the `localhost` certificate, and
//! that one again in a hashed directory). Files in a temporary directory,
//! keys `0600`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of the test PKI.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

/// The passphrase of the encrypted client key.
pub const KEY_PASSWORD: &str = "k3y-pass:phrase";

impl Pki {
    /// Makes one, or `None` (with the reason) when `openssl` is missing.
    pub fn new(client_cn: &str) -> Result<Pki, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let pki = Pki { dir };
        pki.ca("ca", "fkload test CA")?;
        pki.ca("other-ca", "fkload other CA")?;
        pki.leaf("server-localhost", "localhost", Some("DNS:localhost"))?;
        pki.leaf("server-other", "other.example", Some("DNS:other.example"))?;
        pki.leaf("client", client_cn, None)?;
        pki.openssl(&[
            "pkcs8",
            "-topk8",
            "-v2",
            "aes-256-cbc",
            "-in",
            "client.key",
            "-out",
            "client-encrypted.key",
            "-passout",
            &format!("pass:{KEY_PASSWORD}"),
        ])?;
        for key in ["client.key", "client-encrypted.key"] {
            chmod(&pki.path(key), 0o600)?;
        }
        pki.crls()?;
        Ok(pki)
    }

    /// `empty.crl`, then `revoked.crl` revoking `server-localhost.crt`, and
    /// `crldir/` holding the latter under its hash (`sslcrldir`'s layout).
    fn crls(&self) -> Result<(), String> {
        let write = |name: &str, text: &str| {
            std::fs::write(self.path(name), text).map_err(|e| e.to_string())
        };
        write(
            "ca.cnf",
            "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
             default_md = sha256\ndefault_crl_days = 3650\ncertificate = ca.crt\nprivate_key = ca.key\n",
        )?;
        write("index.txt", "")?;
        write("crlnumber", "01\n")?;
        self.openssl(&["ca", "-config", "ca.cnf", "-gencrl", "-out", "empty.crl"])?;
        self.openssl(&["ca", "-config", "ca.cnf", "-revoke", "server-localhost.crt"])?;
        self.openssl(&["ca", "-config", "ca.cnf", "-gencrl", "-out", "revoked.crl"])?;
        std::fs::create_dir(self.path("crldir")).map_err(|e| e.to_string())?;
        std::fs::copy(self.path("revoked.crl"), self.path("crldir/revoked.crl"))
            .map_err(|e| e.to_string())?;
        self.openssl(&["rehash", "crldir"])
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    fn openssl(&self, args: &[&str]) -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .map_err(|e| format!("cannot run openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "openssl {args:?} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// A self-signed CA `<name>.crt` with its key.
    fn ca(&self, name: &str, cn: &str) -> Result<(), String> {
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.crt"),
            "-days",
            "3650",
            "-subj",
            &format!("/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    /// `<name>.crt` for `cn` (and `san`), signed by the CA, with its key.
    fn leaf(&self, name: &str, cn: &str, san: Option<&str>) -> Result<(), String> {
        self.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.csr"),
            "-subj",
            &format!("/CN={cn}"),
        ])?;
        let ext = self.path(&format!("{name}.ext"));
        let mut text = String::from("basicConstraints=CA:FALSE\n");
        if let Some(san) = san {
            text.push_str(&format!("subjectAltName={san}\n"));
        }
        std::fs::write(&ext, text).map_err(|e| e.to_string())?;
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &format!("{name}.crt"),
            "-days",
            "3650",
            "-extfile",
            &format!("{name}.ext"),
        ])
    }
}

fn chmod(path: &Path, mode: u32) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| e.to_string())
}
