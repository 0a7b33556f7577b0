//! Where the server binaries are: `FKLOAD_PGBINDIR` (the one variable for
//! it, read by `--schema-file`, by `testing` and by the integration tests),
//! `initdb` on `PATH`, `pg_config --bindir`, the newest
//! `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), Homebrew's
//! `postgresql@N`, `/usr/pgsql-*/bin` (the PGDG packages of Fedora and
//! RHEL). A directory counts only when it holds `initdb`, `pg_ctl` and
//! `postgres` together, so that the three come from one installation.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::ServerError;

/// The variable naming the directory of the server binaries.
pub(crate) const BINDIR_VAR: &str = "FKLOAD_PGBINDIR";

/// The directory with `initdb`, `pg_ctl` and `postgres`; see the module
/// documentation for the order.
///
/// # Errors
/// [`ServerError::NotABindir`] when `FKLOAD_PGBINDIR` names a directory
/// without them, [`ServerError::NoBinaries`] (saying what to install) when
/// none is found.
pub(crate) fn find_bindir() -> Result<PathBuf, ServerError> {
    find_bindir_in(&|k| std::env::var_os(k))
}

fn find_bindir_in(env: &dyn Fn(&str) -> Option<OsString>) -> Result<PathBuf, ServerError> {
    if let Some(dir) = env(BINDIR_VAR).filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_tools(&dir) {
            Ok(dir)
        } else {
            Err(ServerError::NotABindir { dir })
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    for dir in std::env::split_paths(&env("PATH").unwrap_or_default()) {
        // initdb on PATH is often a link into a versioned directory; that
        // directory keeps all the tools of one installation together
        // (Debian's /usr/bin has wrappers for some of them only).
        if let Ok(real) = std::fs::canonicalize(dir.join("initdb"))
            && let Some(parent) = real.parent()
        {
            candidates.push(parent.to_path_buf());
        }
        candidates.push(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        candidates.push(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    for dir in ["/usr/lib/postgresql", "/opt/homebrew/opt", "/usr/local/opt"] {
        candidates.extend(newest_first(Path::new(dir), "bin"));
    }
    candidates.extend(
        newest_first(Path::new("/usr"), "bin")
            .into_iter()
            .filter(|p| {
                p.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n.to_string_lossy().starts_with("pgsql-"))
            }),
    );
    candidates
        .into_iter()
        .find(|d| has_server_tools(d))
        .ok_or(ServerError::NoBinaries)
}

/// The `<sub>` directories of the entries of `dir`, newest version first
/// (`postgresql@17` before `postgresql@9.6`, `16` before `9.6`: numbers,
/// not strings, are compared).
fn newest_first(dir: &Path, sub: &str) -> Vec<PathBuf> {
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let version: Vec<u64> = name
                .trim_start_matches(|c: char| !c.is_ascii_digit())
                .split('.')
                .map(|p| p.parse().unwrap_or(0))
                .collect();
            (version, e.path().join(sub))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found.into_iter().map(|(_, p)| p).collect()
}

fn has_server_tools(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|t| dir.join(t).is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_binaries_says_what_to_install() {
        let empty = tempfile::tempdir().unwrap();
        let e = find_bindir_in(&|k| match k {
            BINDIR_VAR => Some(empty.path().into()),
            _ => None,
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("lacks one of initdb"), "{e}");
        // The message says what is missing; what to install is the hint.
        assert!(
            ServerError::NoBinaries
                .to_string()
                .starts_with("found no PostgreSQL server binaries")
        );
        assert!(
            ServerError::NoBinaries
                .hint()
                .is_some_and(|h| h.starts_with("Install them"))
        );
    }

    #[test]
    fn versions_sort_newest_first() {
        let d = tempfile::tempdir().unwrap();
        for v in ["9.6", "16", "10", "postgresql@17", "postgresql@14"] {
            std::fs::create_dir(d.path().join(v)).unwrap();
        }
        let got: Vec<String> = newest_first(d.path(), "bin")
            .iter()
            .map(|p| {
                p.parent()
                    .unwrap()
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(got, ["postgresql@17", "16", "postgresql@14", "10", "9.6"]);
    }
}
