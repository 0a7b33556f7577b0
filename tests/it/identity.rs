//! Who fkload connects as, with libpq (psql) as the oracle: with no user
//! given, the effective user's account name (getpwuid), whatever `$USER` and
//! `$LOGNAME` say or whether they are set; and the password prompt when the
//! server asks for one and a terminal can answer.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::pg::PrivateServer;
use crate::util::support::{Scenario, command, output, skip, without_libpq_env};

/// The account name of the effective user, read from the password database
/// by `id -un` (not by fkload's own code).
fn effective_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// host and port of a test database URL `postgres://user@host:port/db`.
fn host_port(url: &str) -> (String, String) {
    let rest = url.split_once('@').map_or(url, |(_, r)| r);
    let (hostport, _) = rest.split_once('/').unwrap_or((rest, ""));
    let (host, port) = hostport.rsplit_once(':').unwrap_or((hostport, "5432"));
    (host.to_string(), port.to_string())
}

#[test]
fn with_no_user_given_fkload_connects_as_psql_does() {
    let test = "with_no_user_given_fkload_connects_as_psql_does";
    let me = effective_user();
    let s = Scenario::new(
        "identity",
        "CREATE TABLE who (id int PRIMARY KEY, name text NOT NULL DEFAULT current_user);",
        &[("who.csv", "id\n1\n")],
    );
    // A login role named after the OS account, allowed to load the table.
    let role = me.replace('"', "\"\"");
    let made = s.db.client().batch_execute(&format!(
        "DO $$BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{}') THEN
             CREATE ROLE \"{role}\" LOGIN;
           END IF;
         END$$;
         GRANT SELECT, INSERT ON who TO \"{role}\";",
        me.replace('\'', "''")
    ));
    if let Err(e) = made {
        skip(test, &format!("cannot create a role for {me}: {e}"));
        return;
    }
    let Some(psql) = ["/usr/bin/psql", "/usr/local/bin/psql"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        skip(test, "psql is not installed: it is the oracle");
        return;
    };
    let (host, port) = host_port(&s.db.url);
    let conninfo = format!("host={host} port={port} dbname={}", s.db.name);
    // The environments cron, docker exec and systemd give, and one where
    // $USER names someone else (su without -l keeps it).
    let envs: [&[(&str, &str)]; 3] = [&[], &[("USER", "postgres")], &[("LOGNAME", "nobody")]];
    for (n, env) in envs.iter().enumerate() {
        let mut oracle = Command::new(psql);
        without_libpq_env(&mut oracle);
        oracle.env_remove("USER").env_remove("LOGNAME");
        oracle.envs(env.iter().copied());
        let out = oracle
            .args(["-X", "-Atc", "SELECT current_user", &conninfo])
            .output()
            .expect("run psql");
        let expected = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(expected, me, "psql, env {env:?}: {out:?}");

        s.db.exec("TRUNCATE who");
        let mut c = command();
        c.env_remove("USER").env_remove("LOGNAME");
        c.envs(env.iter().copied());
        let run = output(c.args(["-d", &conninfo]).arg(s.path()).output().unwrap());
        assert_eq!(run.code, 0, "env {n} {env:?}: {}", run.stderr);
        let loaded_as = s.db.query_strings("SELECT name FROM who");
        assert_eq!(loaded_as, std::slice::from_ref(&expected), "env {env:?}");
    }
}

/// A pseudo-terminal whose slave side becomes the controlling terminal of a
/// child: what a password prompt reads from (`/dev/tty`).
struct Pty {
    master: std::fs::File,
    slave: OwnedFd,
}

fn pty() -> Pty {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two new descriptors into the two integers; the
    // name, termios and window size pointers may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nothing else.
    unsafe {
        Pty {
            master: std::fs::File::from_raw_fd(master),
            slave: OwnedFd::from_raw_fd(slave),
        }
    }
}

/// Reads what the child writes to the terminal until `until` appears (which
/// must) or, without `until`, until the terminal closes (EIO once the child
/// has exited); 30 s at most.
fn read_until(master: &mut std::fs::File, seen: &mut String, until: Option<&str>) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        if until.is_some_and(|u| seen.contains(u)) {
            return;
        }
        match master.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
        }
    }
    if let Some(u) = until {
        assert!(seen.contains(u), "no {u:?} on the terminal:\n{seen}");
    }
}

#[test]
fn the_password_prompt_appears_when_the_server_asks_and_a_terminal_answers() {
    let test = "the_password_prompt_appears_when_the_server_asks_and_a_terminal_answers";
    let Some(server) = PrivateServer::boot() else {
        skip(
            test,
            "FKLOAD_TEST_DATABASE_URL points at a server whose authentication the tests may not change",
        );
        return;
    };
    const ROLE: &str = "fkload_prompt";
    const PASSWORD: &str = "Pr0mpt-s3cret";
    server.exec(
        "postgres",
        &format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"),
    );
    server.exec("postgres", &format!("CREATE DATABASE prompt OWNER {ROLE}"));
    server.exec(
        "prompt",
        &format!("SET ROLE {ROLE}; CREATE TABLE t (id int PRIMARY KEY);"),
    );
    server.require_password(ROLE);
    let (host, port) = host_port(&server.url("prompt"));
    let dir = tempfile::tempdir().unwrap();
    crate::util::support::write(dir.path(), "t.csv", b"id\n1\n2\n");

    let args = ["-h", &host, "-p", &port, "-U", ROLE, "-d", "prompt"];
    let (mut child, mut master) = on_terminal(&args, dir.path());
    let mut seen = String::new();
    read_until(
        &mut master,
        &mut seen,
        Some(&format!("Password for user {ROLE}:")),
    );
    // A person types once the prompt has turned echo off; so does this test.
    wait_for_echo_off(&master);
    master
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .expect("answer the prompt");
    read_until(&mut master, &mut seen, None);
    let status = child.wait().expect("wait for fkload");
    assert_eq!(status.code(), Some(0), "{seen}");
    assert!(seen.contains("loaded 2 rows"), "{seen}");
    assert!(!seen.contains(PASSWORD), "the password was echoed:\n{seen}");
    let rows = postgres::Client::connect(&server.url("prompt"), postgres::NoTls)
        .unwrap()
        .query_one("SELECT count(*) FROM t", &[])
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(rows, 2);

    // -w: no prompt, though a terminal is there; the server's refusal, exit 2.
    let mut args = args.to_vec();
    args.insert(0, "-w");
    let (mut child, mut master) = on_terminal(&args, dir.path());
    let mut seen = String::new();
    read_until(&mut master, &mut seen, None);
    let status = child.wait().expect("wait for fkload");
    assert_eq!(status.code(), Some(2), "{seen}");
    assert!(!seen.contains("Password for user"), "{seen}");
    assert!(seen.contains("password"), "{seen}");
}

/// Waits (10 s at most) until the terminal no longer echoes what is typed.
fn wait_for_echo_off(master: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        // SAFETY: tcgetattr fills the termios struct it is given.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::tcgetattr(master.as_raw_fd(), &mut t) };
        if rc == 0 && t.c_lflag & libc::ECHO == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the prompt never turned echo off"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs fkload with `args` and `dir` with a new pseudo-terminal as its
/// controlling terminal and stdin, stdout and stderr; returns the child and
/// the terminal's master side.
fn on_terminal(args: &[&str], dir: &std::path::Path) -> (std::process::Child, std::fs::File) {
    let t = pty();
    let fd = |f: &OwnedFd| Stdio::from(f.try_clone().expect("dup"));
    let mut c = command();
    c.args(args)
        .arg(dir)
        .stdin(fd(&t.slave))
        .stdout(fd(&t.slave))
        .stderr(fd(&t.slave));
    // SAFETY: only async-signal-safe calls between fork and exec: a new
    // session, whose controlling terminal is the pty on stdin.
    unsafe {
        c.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = c.spawn().expect("spawn fkload on a terminal");
    drop(t.slave);
    (child, t.master)
}
