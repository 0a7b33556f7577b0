//! libpq's service files (`service=`, `PGSERVICE`): which files are read,
//! in which order, and what a group in one may hold.

use std::path::{Path, PathBuf};

use super::syntax::{KEYWORDS, is_space};
use crate::error::settings::ConnInfoError;

/// Where libpq looks for the system-wide service file when `PGSYSCONFDIR` is
/// not set: the directory Debian's and Ubuntu's libpq are built with.
const SYSCONFDIR: &str = "/etc/postgresql-common";

/// The settings service `name` gives, from the first service file that
/// defines it: `PGSERVICEFILE` or `~/.pg_service.conf`, then
/// `PGSYSCONFDIR/pg_service.conf` (libpq's `parseServiceInfo`). A file that
/// does not exist is passed over.
///
/// # Errors
/// [`ConnInfoError::ServiceNotFound`] naming the files searched;
/// [`ConnInfoError::ServiceFile`] for a line libpq would refuse.
pub(super) fn service_settings(
    name: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(&'static str, String)>, ConnInfoError> {
    let user_file = env("PGSERVICEFILE")
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            env("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| PathBuf::from(h).join(".pg_service.conf"))
        });
    let system_file = PathBuf::from(
        env("PGSYSCONFDIR")
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| SYSCONFDIR.to_owned()),
    )
    .join("pg_service.conf");
    let mut searched = Vec::new();
    for file in user_file.into_iter().chain([system_file]) {
        searched.push(file.clone());
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        if let Some(settings) = parse_service(&text, name, &file)? {
            return Ok(settings);
        }
    }
    Err(ConnInfoError::ServiceNotFound {
        service: name.to_owned(),
        searched,
    })
}

/// Service `name`'s settings in a service file's `text`, or `None` when the
/// file does not define it. Follows libpq's `parseServiceFile`: blank lines
/// and `#` comments skipped, lines trimmed, a `[name]` group up to the next
/// group, `key=value` lines (the key exactly a libpq keyword).
fn parse_service(
    text: &str,
    name: &str,
    path: &Path,
) -> Result<Option<Vec<(&'static str, String)>>, ConnInfoError> {
    let mut in_group = false;
    let mut found = false;
    let mut settings: Vec<(&'static str, String)> = Vec::new();
    let error = |line: usize, reason| ConnInfoError::ServiceFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_matches(is_space);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(group) = line.strip_prefix('[') {
            if in_group {
                break;
            }
            in_group = group.strip_suffix(']') == Some(name);
            found |= in_group;
            continue;
        }
        if !in_group {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(error(n + 1, "syntax error"));
        };
        if key == "service" {
            return Err(error(n + 1, "nested service specifications not supported"));
        }
        let Some(k) = KEYWORDS.iter().find(|k| **k == key) else {
            return Err(error(n + 1, "syntax error"));
        };
        // The first setting of a key in the group wins, as in libpq.
        if !settings.iter().any(|(s, _)| s == k) {
            settings.push((k, value.to_owned()));
        }
    }
    Ok(found.then_some(settings))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn a_service_fills_what_is_unset_and_the_environment_what_is_left() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("services.conf");
        std::fs::write(
            &file,
            "# comment\n[other]\nhost=wrong\n\n  [prod]  \nhost=svc-host\nport=6000\nuser=svc-user\nsslmode=require\n[next]\ndbname=wrong\n",
        )
        .expect("write");
        let file_name = file.to_str().expect("utf-8 path").to_owned();
        let env = |extra: &[(&str, &str)]| {
            let mut v: Vec<(String, String)> =
                vec![("PGSERVICEFILE".to_owned(), file_name.clone())];
            v.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            v
        };
        let ok = |o: &Overrides, vars: Vec<(String, String)>| {
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            ok(o, &vars)
        };
        let err = |o: &Overrides, vars: Vec<(String, String)>| {
            let vars: Vec<(&str, &str)> =
                vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            err(o, &vars)
        };
        let c = ok(
            &d("service=prod port=7000"),
            env(&[("PGUSER", "env-user"), ("PGDATABASE", "envdb")]),
        );
        // Explicit beats the service, which beats the environment.
        assert_eq!(c.hosts(), ["svc-host"]);
        assert_eq!(c.port(), 7000);
        assert_eq!(c.user(), "svc-user");
        assert_eq!(c.dbname(), "envdb");
        assert_eq!(c.tls().mode, SslMode::Require);
        // PGSERVICE names it too.
        let c = ok(&Overrides::default(), env(&[("PGSERVICE", "prod")]));
        assert_eq!(c.hosts(), ["svc-host"]);
        // An unknown service names the files searched.
        let e = err(&d("service=nope"), env(&[("PGSYSCONFDIR", "/nonexistent")]));
        assert_eq!(e.to_string(), "definition of service \"nope\" not found");
        assert_eq!(
            e.detail(),
            Some(format!(
                "Searched \"{}\", \"/nonexistent/pg_service.conf\".",
                file.display()
            ))
        );
        // The system file is read when the user's lacks the service.
        let sys = tempfile::tempdir().expect("temp dir");
        std::fs::write(sys.path().join("pg_service.conf"), "[sys]\ndbname=sysdb\n").expect("write");
        let c = ok(
            &d("service=sys"),
            env(&[("PGSYSCONFDIR", sys.path().to_str().expect("utf-8 path"))]),
        );
        assert_eq!(c.dbname(), "sysdb");
    }

    #[test]
    fn service_file_errors_name_the_line() {
        let p = Path::new("s.conf");
        let e = parse_service("[a]\nhost = x\n", "a", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "syntax error in service file \"s.conf\", line 2"
        );
        let e = parse_service("[a]\nservice=b\n", "a", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "nested service specifications not supported in service file \"s.conf\", line 2"
        );
        let e = parse_service("[a]\nbogus=1\n", "a", p).unwrap_err();
        assert!(matches!(e, ConnInfoError::ServiceFile { line: 2, .. }));
        assert_eq!(parse_service("[b]\nbogus\n", "a", p).unwrap(), None);
        // The first setting of a key in the group wins.
        assert_eq!(
            parse_service("[a]\nport=1\nport=2\n", "a", p).unwrap(),
            Some(vec![("port", "1".to_owned())])
        );
    }
}
