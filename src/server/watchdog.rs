//! Removal that does not depend on this process ending well: a shell waits
//! on a pipe whose only writer is this process, and when the pipe closes (a
//! drop, an exit, a panic, a kill) it stops the server and removes its
//! directory. Statics are never dropped, so a process's shared server is
//! removed this way too.
//!
//! The line `keep` on the pipe tells it to leave the server running (for
//! inspection after a test run) and end.

use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::process::OS_USER;
use crate::error::ServerError;

const SCRIPT: &str = r#"
trap '' HUP INT TERM
read -r line || :
[ "$line" = keep ] && exit 0
if [ -f "$2/data/postmaster.pid" ]; then
    if [ "$3" = root ]; then
        runuser -u "$4" -- "$1" -D "$2/data" -m immediate -w stop >/dev/null 2>&1
    else
        "$1" -D "$2/data" -m immediate -w stop >/dev/null 2>&1
    fi
fi
rm -rf -- "$2"
"#;

/// Starts the shell that, once this process's end of its stdin closes,
/// stops the server of `base` and removes `base`.
///
/// It has its own process group, so that Ctrl-C (or a test runner
/// signalling a timed-out test's group) reaches only this process, which
/// then drops the server in order. Its output goes to /dev/null: a test
/// runner waits for the end of the output it captures, which would never
/// come while the watchdog held it.
pub(super) fn spawn(bindir: &Path, base: &Path, as_root: bool) -> Result<Child, ServerError> {
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("fkload-pg-watchdog")
        .arg(bindir.join("pg_ctl"))
        .arg(base)
        .arg(if as_root { "root" } else { "user" })
        .arg(OS_USER)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|source| ServerError::Spawn {
            program: "the shell that removes the server".into(),
            source,
        })
}

/// Closes the pipe and waits: the server is stopped and its directory gone
/// on return.
pub(super) fn finish(mut watchdog: Child) {
    drop(watchdog.stdin.take());
    let _ = watchdog.wait();
}

/// Tells the watchdog to leave the server as it is, and waits for it to end.
#[cfg(feature = "testing")]
pub(super) fn release(mut watchdog: Child) {
    if let Some(mut pipe) = watchdog.stdin.take() {
        use std::io::Write as _;
        let _ = pipe.write_all(b"keep\n");
    }
    let _ = watchdog.wait();
}
