//! Running the server's programs (initdb, pg_ctl, pg_basebackup): as the
//! server's account when we are root, since PostgreSQL refuses to run as
//! root; to their end; a failure quoting what they wrote.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::error::ServerError;

/// The account a server started by root runs as (the server packages
/// create it).
pub(super) const OS_USER: &str = "postgres";
/// The server's superuser (trust authentication, on a socket only its OS
/// user can reach, or on 127.0.0.1 for a test's server).
pub(super) const SUPERUSER: &str = "postgres";

pub(super) fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The server program `name` of `bindir`, run as the server's account when
/// `as_root`, in `dir` (the server's base directory, which that account can
/// enter: it may not be allowed into our working directory, and initdb and
/// postgres complain when they cannot return to it).
pub(super) fn program(bindir: &Path, name: &str, as_root: bool, dir: &Path) -> Command {
    let exe = bindir.join(name);
    let mut c = if as_root {
        let mut r = Command::new("runuser");
        r.args(["-u", OS_USER, "--"]).arg(exe);
        r
    } else {
        Command::new(exe)
    };
    c.current_dir(dir).stdin(Stdio::null());
    c
}

/// Runs `command` to its end: its stdout, or an error quoting its output.
pub(super) fn run(command: &mut Command) -> Result<String, ServerError> {
    let program = format!("{command:?}");
    let out = command.output().map_err(|source| ServerError::Spawn {
        program: program.clone(),
        source,
    })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(ServerError::Failed {
            program,
            status: out.status,
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr).trim_end()
            ),
        })
    }
}
