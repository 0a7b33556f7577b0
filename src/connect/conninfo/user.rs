//! The default user name: the effective user's account, as libpq takes it.

use crate::error::settings::ConnInfoError;

/// The account name of the effective user, as libpq takes its default user
/// name (`getpwuid(geteuid())`): never `$USER` or `$LOGNAME`, which cron,
/// `docker exec` or a systemd unit may leave unset, or set to another name.
///
/// # Errors
/// [`ConnInfoError::UnknownOsUser`] when the password database has no entry
/// for the effective user ID.
pub(crate) fn os_user() -> Result<String, ConnInfoError> {
    // SAFETY: geteuid cannot fail. getpwuid_r writes only into `pwd` and `buf`,
    // both ours and large enough as told (it reports ERANGE otherwise, and the
    // buffer grows); `result` points to `pwd` or is null.
    let uid = unsafe { libc::geteuid() };
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if result.is_null() || pwd.pw_name.is_null() {
            let reason = if rc == 0 {
                "user does not exist".to_string()
            } else {
                std::io::Error::from_raw_os_error(rc).to_string()
            };
            return Err(ConnInfoError::UnknownOsUser { uid, reason });
        }
        // SAFETY: on success pw_name points to a NUL-terminated string in `buf`.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        return Ok(name.to_string_lossy().into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_user_is_the_effective_users_account_name() {
        // The password database, read independently of libc: the account
        // whose uid is this process's effective uid.
        let uid = unsafe { libc::geteuid() };
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
        let expected = passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_owned())
        });
        if let Some(expected) = expected {
            assert_eq!(os_user().unwrap(), expected);
        }
    }
}
