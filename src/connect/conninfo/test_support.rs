//! What the tests of the connection-settings modules share: resolving
//! from a map of variables, and a password file with given permissions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub(super) use std::collections::HashMap;
pub(super) use std::path::{Path, PathBuf};

pub(super) use super::*;
pub(super) use crate::connect::tls::{SslMode, Transport};

pub(super) fn resolve_with(
    o: &Overrides,
    vars: &[(&str, &str)],
) -> Result<ConnInfo, ConnInfoError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ConnInfo::resolve_as(o, &|k| map.get(k).cloned(), &|| Ok("osuser".to_owned()))
}

pub(super) fn d(s: &str) -> Overrides {
    Overrides {
        dbname: Some(s.to_owned()),
        ..Overrides::default()
    }
}

pub(super) fn ok(o: &Overrides, vars: &[(&str, &str)]) -> ConnInfo {
    match resolve_with(o, vars) {
        Ok(c) => c,
        Err(e) => panic!("resolve failed: {e}"),
    }
}

pub(super) fn err(o: &Overrides, vars: &[(&str, &str)]) -> ConnInfoError {
    match resolve_with(o, vars) {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e,
    }
}

pub(super) fn write_passfile(dir: &Path, text: &str, mode: u32) -> PathBuf {
    let path = dir.join("pgpass");
    std::fs::write(&path, text).expect("write pgpass");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("chmod pgpass");
    }
    #[cfg(not(unix))]
    let _ = mode;
    path
}

pub(super) fn config_password(c: &ConnInfo) -> Option<Vec<u8>> {
    c.config_for(0, Transport::Plain)
        .get_password()
        .map(<[u8]>::to_vec)
}
