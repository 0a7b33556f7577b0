//! The password file (`~/.pgpass`, `passfile`, `PGPASSFILE`), read per host
//! with libpq's matching rules, and ignored with libpq's warning when others
//! can read it.

use std::path::{Path, PathBuf};

use super::defaults::{DEFAULT_SOCKET_DIR, DEFAULT_TCP_HOST};

#[cfg(windows)]
pub(super) fn default_passfile(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("APPDATA")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("postgresql").join("pgpass.conf"))
}

#[cfg(not(windows))]
pub(super) fn default_passfile(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".pgpass"))
}

/// What a password file gave.
pub(super) enum Passfile {
    /// Its text.
    Lines(String),
    /// Group or others may read it: libpq ignores it, with this warning.
    TooOpen(String),
    /// None, or not readable: as in libpq, no password (a missing file is
    /// normal, and a broken one should not stop a connection that may not
    /// need a password at all).
    None,
}

pub(super) fn read_passfile(path: &Path) -> Passfile {
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
            return Passfile::TooOpen(format!(
                "password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            ));
        }
    }
    match std::fs::read(path) {
        Ok(bytes) => Passfile::Lines(String::from_utf8_lossy(&bytes).into_owned()),
        Err(_) => Passfile::None,
    }
}

/// The password a password file's `text` holds for this connection: the
/// first line whose host, port, database and user match (`*` matches any).
pub(super) fn password_in(
    text: &str,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<String> {
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
    use super::super::test_support::*;

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
}
