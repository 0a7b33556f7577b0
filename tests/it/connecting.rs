//! Connecting wherever psql connects, with libpq (psql) as the oracle: for a
//! table of settings (TLS modes and files, client certificates, CRLs,
//! channel binding, several hosts, service files, password files, URIs,
//! key=value strings, the environment), psql and fkload run with the same settings and must give the
//! same four facts (user, database, server port, whether the session is
//! encrypted), or both refuse. And a load never lands on a standby.

use std::path::Path;
use std::process::Command;

use crate::util::pg::PrivateServer;
use crate::util::pki::{KEY_PASSWORD, Pki};
use crate::util::support::{command, output, skip, write};

/// What a client got: the four facts, or a refusal.
type Outcome = Result<(String, String, String, bool), String>;

const FACTS: &str = "select current_user, current_database(), inet_server_port(), \
                     (select ssl from pg_stat_ssl where pid = pg_backend_pid())";

/// Roles and rules: tlsuser only over TLS, plainuser only without it,
/// certuser by client certificate, scramuser by password either way.
const HBA: &str = "
hostssl   all tlsuser   127.0.0.1/32 trust
hostnossl all plainuser 127.0.0.1/32 trust
hostssl   all certuser  127.0.0.1/32 cert
host      all scramuser 127.0.0.1/32 scram-sha-256";

const SCRAM_PASSWORD: &str = "Scr4m-pw";

fn psql() -> Option<&'static str> {
    ["/usr/bin/psql", "/usr/local/bin/psql"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// The environment a case runs with: the libpq variables cleared, HOME a
/// directory of the case's own, connections bounded in time.
fn environment(c: &mut Command, home: &Path, env: &[(String, String)]) {
    crate::util::support::without_libpq_env(c);
    for var in [
        "PGSSLMODE",
        "PGSSLROOTCERT",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGSSLCRL",
        "PGCHANNELBINDING",
        "PGSERVICEFILE",
        "PGSYSCONFDIR",
        "PGTARGETSESSIONATTRS",
        "PGCLIENTENCODING",
    ] {
        c.env_remove(var);
    }
    c.env("HOME", home).env("PGCONNECT_TIMEOUT", "5");
    for (k, v) in env {
        c.env(k, v);
    }
}

fn with_psql(psql: &str, conninfo: &str, home: &Path, env: &[(String, String)]) -> Outcome {
    let mut c = Command::new(psql);
    environment(&mut c, home, env);
    let out = c
        .args(["-X", "-w", "-At", "-d", conninfo, "-c", FACTS])
        .output()
        .expect("run psql");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let f: Vec<&str> = stdout.split('|').collect();
    assert_eq!(f.len(), 4, "psql said {stdout:?}");
    Ok((f[0].into(), f[1].into(), f[2].into(), f[3] == "t"))
}

fn with_fkload(conninfo: &str, home: &Path, env: &[(String, String)], dir: &Path) -> Outcome {
    let mut c = command();
    environment(&mut c, home, env);
    let out = output(
        c.args(["-v", "-l", "-w", "-d", conninfo])
            .arg(dir)
            .output()
            .expect("run fkload"),
    );
    if out.code != 0 {
        assert_eq!(
            out.code, 2,
            "a refusal is a connection failure: {}",
            out.stderr
        );
        return Err(out.stderr);
    }
    // fkload: connected to H as user "U", database "D", server port P, TLS on (...)
    let line = out
        .stderr
        .lines()
        .find(|l| l.starts_with("fkload: connected to "))
        .unwrap_or_else(|| panic!("no connected line in:\n{}", out.stderr));
    let quoted: Vec<&str> = line.split('"').collect();
    let port = line
        .split("server port ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_default();
    // inet_server_port() is null on a socket; psql prints nothing.
    let port = if port == "none (Unix socket)" {
        ""
    } else {
        port
    };
    Ok((
        quoted[1].to_string(),
        quoted[3].to_string(),
        port.to_string(),
        line.contains("TLS on"),
    ))
}

/// One row of the table: settings and what `~/.postgresql` holds.
struct Case {
    name: &'static str,
    conninfo: String,
    env: Vec<(String, String)>,
    /// (file of the PKI, name in `~/.postgresql/`).
    home: Vec<(&'static str, &'static str)>,
    /// A refusal libpq 16 and later gives where this machine's psql (15)
    /// predates the setting (`sslrootcert=system`): then psql is no oracle.
    libpq16_refuses: bool,
}

fn case(name: &'static str, conninfo: String) -> Case {
    Case {
        name,
        conninfo,
        env: vec![],
        home: vec![],
        libpq16_refuses: false,
    }
}

/// A TCP port on localhost that nothing listens on (bound, then let go).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs every case with psql and with fkload and compares.
fn compare(psql: &str, pki: &Pki, dir: &Path, cases: Vec<Case>) -> Vec<String> {
    let mut report = Vec::new();
    for c in cases {
        let home = tempfile::tempdir().expect("home");
        let dot = home.path().join(".postgresql");
        std::fs::create_dir(&dot).expect("mkdir");
        for (file, name) in &c.home {
            let to = dot.join(name);
            std::fs::copy(pki.path(file), &to).expect("copy");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        let mut oracle = with_psql(psql, &c.conninfo, home.path(), &c.env);
        if c.libpq16_refuses {
            oracle = Err("libpq 16 and later refuse this".into());
        }
        let ours = with_fkload(&c.conninfo, home.path(), &c.env, dir);
        let same = match (&oracle, &ours) {
            (Ok(a), Ok(b)) => a == b,
            (Err(_), Err(_)) => true,
            _ => false,
        };
        assert!(
            same,
            "{}: {}\npsql:   {oracle:?}\nfkload: {ours:?}",
            c.name, c.conninfo
        );
        report.push(format!(
            "{}: {}",
            c.name,
            match oracle {
                Ok((_, _, _, true)) => "TLS",
                Ok(_) => "plain",
                Err(_) => "refused",
            }
        ));
    }
    report
}

#[test]
fn every_sslmode_connects_or_refuses_as_libpq_does() {
    let test = "every_sslmode_connects_or_refuses_as_libpq_does";
    let Some(psql) = psql() else {
        skip(test, "psql is not installed: it is the oracle");
        return;
    };
    let Some(server) = PrivateServer::boot() else {
        skip(
            test,
            "FKLOAD_TEST_DATABASE_URL is set: this test configures TLS on a server of its own",
        );
        return;
    };
    let pki = match Pki::new("certuser") {
        Ok(p) => p,
        Err(e) => {
            skip(test, &format!("no test PKI: {e}"));
            return;
        }
    };
    server.exec(
        "postgres",
        &format!(
            "CREATE ROLE tlsuser LOGIN; CREATE ROLE plainuser LOGIN; CREATE ROLE certuser LOGIN;
             CREATE ROLE scramuser LOGIN PASSWORD '{SCRAM_PASSWORD}';
             CREATE TABLE t (id int); GRANT SELECT ON t TO PUBLIC;"
        ),
    );
    server.set_hba(HBA);
    let use_cert = |name: &str| {
        server
            .set_tls(
                &pki.path(&format!("{name}.crt")),
                &pki.path(&format!("{name}.key")),
                &pki.path("ca.crt"),
            )
            .unwrap_or_else(|e| panic!("the server took TLS once and now refuses it: {e}"))
    };
    if let Err(e) = server.set_tls(
        &pki.path("server-localhost.crt"),
        &pki.path("server-localhost.key"),
        &pki.path("ca.crt"),
    ) {
        skip(test, &format!("the server cannot do TLS: {e}"));
        return;
    }
    let data = tempfile::tempdir().expect("data");
    write(data.path(), "t.csv", b"id\n1\n");
    let port = server.port();
    let p = |file: &str| pki.path(file).display().to_string();
    let on = |user: &str, host: &str, extra: &str| {
        format!("host={host} port={port} dbname=postgres user={user} {extra}")
    };
    let tls = |extra: &str| on("tlsuser", "localhost", extra);

    let mut cases = vec![
        case("tls-only, disable", tls("sslmode=disable")),
        case("tls-only, allow", tls("sslmode=allow")),
        case("tls-only, prefer", tls("sslmode=prefer")),
        case("tls-only, default mode", tls("")),
        case("tls-only, require", tls("sslmode=require")),
        case(
            "require, right CA",
            tls(&format!("sslmode=require sslrootcert={}", p("ca.crt"))),
        ),
        case(
            "require, wrong CA",
            tls(&format!(
                "sslmode=require sslrootcert={}",
                p("other-ca.crt")
            )),
        ),
        case(
            "verify-ca, right CA",
            tls(&format!("sslmode=verify-ca sslrootcert={}", p("ca.crt"))),
        ),
        case(
            "verify-ca, wrong CA",
            tls(&format!(
                "sslmode=verify-ca sslrootcert={}",
                p("other-ca.crt")
            )),
        ),
        case("verify-ca, no CA at all", tls("sslmode=verify-ca")),
        case(
            "verify-full, name matches",
            tls(&format!("sslmode=verify-full sslrootcert={}", p("ca.crt"))),
        ),
        case(
            "verify-full, by address (not in the certificate)",
            on(
                "tlsuser",
                "127.0.0.1",
                &format!("sslmode=verify-full sslrootcert={}", p("ca.crt")),
            ),
        ),
        // libpq 16's sslrootcert=system: the platform's roots (here none
        // trusts the test CA) and verify-full; a weaker mode is an error.
        Case {
            libpq16_refuses: true,
            ..case("system roots (verify-full)", tls("sslrootcert=system"))
        },
        Case {
            libpq16_refuses: true,
            ..case(
                "system roots with require",
                tls("sslrootcert=system sslmode=require"),
            )
        },
        // The platform's roots are OpenSSL's, SSL_CERT_FILE included.
        Case {
            env: vec![("SSL_CERT_FILE".into(), p("ca.crt"))],
            ..case("system roots that trust the CA", tls("sslrootcert=system"))
        },
        Case {
            home: vec![("other-ca.crt", "root.crt")],
            ..case("prefer, a wrong root.crt at home", tls("sslmode=prefer"))
        },
        Case {
            home: vec![("ca.crt", "root.crt")],
            ..case("verify-full, root.crt at home", tls("sslmode=verify-full"))
        },
        Case {
            env: vec![
                ("PGSSLMODE".into(), "verify-full".into()),
                ("PGSSLROOTCERT".into(), p("ca.crt")),
            ],
            ..case("verify-full from PGSSL* variables", tls(""))
        },
        case(
            "URI",
            format!(
                "postgresql://tlsuser@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}",
                p("ca.crt")
            ),
        ),
        case(
            "plain-only, prefer",
            on("plainuser", "localhost", "sslmode=prefer"),
        ),
        case(
            "plain-only, allow",
            on("plainuser", "localhost", "sslmode=allow"),
        ),
        case(
            "plain-only, require",
            on("plainuser", "localhost", "sslmode=require"),
        ),
        case(
            "plain-only, disable",
            on("plainuser", "localhost", "sslmode=disable"),
        ),
        case(
            "client certificate",
            on(
                "certuser",
                "localhost",
                &format!(
                    "sslmode=require sslcert={} sslkey={}",
                    p("client.crt"),
                    p("client.key")
                ),
            ),
        ),
        case(
            "client certificate missing",
            on("certuser", "localhost", "sslmode=require"),
        ),
        case(
            "encrypted client key, its passphrase",
            on(
                "certuser",
                "localhost",
                &format!(
                    "sslmode=require sslcert={} sslkey={} sslpassword='{KEY_PASSWORD}'",
                    p("client.crt"),
                    p("client-encrypted.key")
                ),
            ),
        ),
        case(
            "encrypted client key, a wrong passphrase",
            on(
                "certuser",
                "localhost",
                &format!(
                    "sslmode=require sslcert={} sslkey={} sslpassword=wrong",
                    p("client.crt"),
                    p("client-encrypted.key")
                ),
            ),
        ),
        Case {
            home: vec![
                ("client.crt", "postgresql.crt"),
                ("client.key", "postgresql.key"),
            ],
            ..case(
                "client certificate at home",
                on("certuser", "localhost", "sslmode=require"),
            )
        },
        case(
            "channel binding required, over TLS",
            on(
                "scramuser",
                "localhost",
                &format!("sslmode=require channel_binding=require password={SCRAM_PASSWORD}"),
            ),
        ),
        case(
            "channel binding required, in plain text",
            on(
                "scramuser",
                "localhost",
                &format!("sslmode=disable channel_binding=require password={SCRAM_PASSWORD}"),
            ),
        ),
        case(
            "channel binding preferred, in plain text",
            on(
                "scramuser",
                "localhost",
                &format!("sslmode=disable password={SCRAM_PASSWORD}"),
            ),
        ),
    ];

    // Revocation: the server's certificate revoked by a file or a directory
    // of CRLs, or a CRL that revokes nothing; at home, root.crl is the
    // default file.
    let crl = |extra: &str| {
        tls(&format!(
            "sslmode=verify-full sslrootcert={} {extra}",
            p("ca.crt")
        ))
    };
    cases.extend([
        case(
            "CRL revoking nothing",
            crl(&format!("sslcrl={}", p("empty.crl"))),
        ),
        case(
            "CRL revoking the server's certificate",
            crl(&format!("sslcrl={}", p("revoked.crl"))),
        ),
        case(
            "CRL directory revoking the server's certificate",
            crl(&format!("sslcrldir={}", p("crldir"))),
        ),
        Case {
            home: vec![("revoked.crl", "root.crl")],
            ..case("CRL at home revoking the server's certificate", crl(""))
        },
        Case {
            env: vec![("PGSSLCRL".into(), p("revoked.crl"))],
            ..case("CRL from PGSSLCRL", crl(""))
        },
    ]);

    // Several hosts: the first one down (a port nobody listens on), in a
    // key=value list, a URI, and the PGHOST/PGPORT variables; or every one
    // down.
    let dead = free_port();
    cases.extend([
        case(
            "two hosts, the first down",
            format!("host=localhost,127.0.0.1 port={dead},{port} dbname=postgres user=tlsuser sslmode=require"),
        ),
        case(
            "URI with two hosts, the first down",
            format!("postgresql://tlsuser@localhost:{dead},localhost:{port}/postgres?sslmode=require"),
        ),
        Case {
            env: vec![
                ("PGHOST".into(), "localhost,localhost".into()),
                ("PGPORT".into(), format!("{dead},{port}")),
            ],
            ..case(
                "PGHOST and PGPORT lists, the first down",
                "dbname=postgres user=tlsuser sslmode=require".into(),
            )
        },
        case(
            "two hosts, both down",
            format!("host=localhost,localhost port={dead},{dead} dbname=postgres user=tlsuser"),
        ),
        // TCP refuses tlsuser in plain text; the socket would let it in.
        case(
            "two hosts, the first refuses the login",
            format!(
                "host=localhost,{} port={port} dbname=postgres user=tlsuser sslmode=disable",
                server.socket_dir().expect("a server of its own").display()
            ),
        ),
        case(
            "two hosts, the first a socket",
            format!(
                "host={},localhost port={port} dbname=postgres user=tlsuser sslmode=disable",
                server.socket_dir().expect("a server of its own").display()
            ),
        ),
    ]);

    // A service file, a password file, and one others can read.
    let files = tempfile::tempdir().expect("files");
    let services = files.path().join("pg_service.conf");
    std::fs::write(
        &services,
        format!(
            "[tls]\nhost=localhost\nport={port}\ndbname=postgres\nsslmode=verify-full\nsslrootcert={}\n",
            p("ca.crt")
        ),
    )
    .expect("service file");
    let service_env = vec![("PGSERVICEFILE".to_string(), services.display().to_string())];
    cases.push(Case {
        env: service_env.clone(),
        ..case("service file", "service=tls user=tlsuser".into())
    });
    cases.push(Case {
        env: service_env.clone(),
        ..case(
            "service file, mode overridden",
            "service=tls user=tlsuser sslmode=disable".into(),
        )
    });
    cases.push(Case {
        env: service_env,
        ..case("unknown service", "service=nope user=tlsuser".into())
    });
    for (name, mode) in [
        ("password file", 0o600),
        ("password file others can read", 0o644),
    ] {
        let pgpass = files.path().join(format!("pgpass-{mode:o}"));
        std::fs::write(
            &pgpass,
            format!("localhost:{port}:*:scramuser:{SCRAM_PASSWORD}\n"),
        )
        .expect("pgpass");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(mode)).expect("chmod");
        cases.push(Case {
            env: vec![("PGPASSFILE".into(), pgpass.display().to_string())],
            ..case(name, on("scramuser", "localhost", "sslmode=require"))
        });
    }
    let mut report = compare(psql, &pki, data.path(), cases);

    // A certificate for another name: only the name check fails.
    use_cert("server-other");
    report.extend(compare(
        psql,
        &pki,
        data.path(),
        vec![
            case(
                "other name, verify-full",
                tls(&format!("sslmode=verify-full sslrootcert={}", p("ca.crt"))),
            ),
            case(
                "other name, verify-ca",
                tls(&format!("sslmode=verify-ca sslrootcert={}", p("ca.crt"))),
            ),
        ],
    ));
    use_cert("server-localhost");
    // Everything, for --nocapture.
    println!("{}", report.join("\n"));
}

/// What the refusals say, and that no password shows in them.
#[test]
fn tls_refusals_name_the_cause_and_hide_passwords() {
    let test = "tls_refusals_name_the_cause_and_hide_passwords";
    let Some(server) = PrivateServer::boot() else {
        skip(
            test,
            "FKLOAD_TEST_DATABASE_URL is set: this test configures TLS on a server of its own",
        );
        return;
    };
    let pki = match Pki::new("certuser") {
        Ok(p) => p,
        Err(e) => {
            skip(test, &format!("no test PKI: {e}"));
            return;
        }
    };
    server.exec(
        "postgres",
        "CREATE ROLE tlsuser LOGIN; CREATE ROLE certuser LOGIN;",
    );
    server.set_hba(HBA);
    if let Err(e) = server.set_tls(
        &pki.path("server-other.crt"),
        &pki.path("server-other.key"),
        &pki.path("ca.crt"),
    ) {
        skip(test, &format!("the server cannot do TLS: {e}"));
        return;
    }
    let data = tempfile::tempdir().expect("data");
    write(data.path(), "t.csv", b"id\n1\n");
    let home = tempfile::tempdir().expect("home");
    let run = |conninfo: String| {
        let mut c = command();
        environment(&mut c, home.path(), &[]);
        output(
            c.args(["-l", "-w", "-d", &conninfo])
                .arg(data.path())
                .output()
                .expect("run"),
        )
    };
    let port = server.port();
    let ca = pki.path("ca.crt");
    let out = run(format!(
        "host=localhost port={port} user=tlsuser dbname=postgres sslmode=verify-full sslrootcert={}",
        ca.display()
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("certificate verify failed"),
        "{}",
        out.stderr
    );
    let out = run(format!(
        "host=localhost port={port} user=tlsuser dbname=postgres sslmode=verify-ca"
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("needs a root certificate"),
        "{}",
        out.stderr
    );
    let out = run(format!(
        "host=localhost port={port} user=certuser dbname=postgres sslmode=require sslcert={} sslkey={} sslpassword=Wr0ngPass",
        pki.path("client.crt").display(),
        pki.path("client-encrypted.key").display()
    ));
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("client-encrypted.key"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Wr0ngPass"), "{}", out.stderr);
}

/// A standby is refused before anything is read or written; with a standby
/// and its primary listed, the load goes to the primary, as psql's
/// `target_session_attrs=read-write` does.
#[test]
fn a_load_never_lands_on_a_standby() {
    let test = "a_load_never_lands_on_a_standby";
    let Some(primary) = PrivateServer::boot() else {
        skip(
            test,
            "FKLOAD_TEST_DATABASE_URL is set: this test starts a standby of its own",
        );
        return;
    };
    if crate::util::pg::tool("pg_basebackup").is_none() {
        skip(
            test,
            "the server's installation has no pg_basebackup to make a standby with",
        );
        return;
    }
    primary.exec("postgres", "CREATE DATABASE shop");
    primary.exec("shop", "CREATE TABLE t (id int PRIMARY KEY)");
    let standby = primary.standby();
    // The standby has the table once it has replayed it.
    for _ in 0..100 {
        let mut c = postgres::Client::connect(&standby.url("shop"), postgres::NoTls);
        if let Ok(c) = &mut c
            && c.query_one("SELECT to_regclass('t') IS NOT NULL", &[])
                .is_ok_and(|r| r.get::<_, bool>(0))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let data = tempfile::tempdir().expect("data");
    write(data.path(), "t.csv", b"id\n1\n2\n");
    let run = |args: &[&str]| {
        output(
            command()
                .args(args)
                .arg(data.path())
                .output()
                .expect("run fkload"),
        )
    };
    let (p, s) = (primary.port(), standby.port());

    let out = run(&[
        "-d",
        &format!("host=127.0.0.1 port={s} user=postgres dbname=shop"),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("the server is in recovery (a standby)"),
        "{}",
        out.stderr
    );
    // Even asked for (target_session_attrs=standby), a load refuses it.
    let out = run(&[
        "-d",
        &format!("host=127.0.0.1 port={s} user=postgres dbname=shop target_session_attrs=standby"),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("in recovery"), "{}", out.stderr);
    // Refused before the catalog is read: a file naming no table would be
    // an error of its own (exit 1) had the plan been made first.
    let other = tempfile::tempdir().expect("data");
    write(other.path(), "no_such_table.csv", b"id\n1\n");
    let out = output(
        command()
            .args([
                "-d",
                &format!("host=127.0.0.1 port={s} user=postgres dbname=shop"),
            ])
            .arg(other.path())
            .output()
            .expect("run fkload"),
    );
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("in recovery"), "{}", out.stderr);
    // A plan only reads: the standby answers it.
    let out = run(&[
        "-l",
        "-d",
        &format!("host=127.0.0.1 port={s} user=postgres dbname=shop"),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("public.t"), "{}", out.stdout);

    let both = format!("host=127.0.0.1,127.0.0.1 port={s},{p} user=postgres dbname=shop");
    let out = run(&["-v", "-d", &both]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("server port {p}")),
        "{}",
        out.stderr
    );
    let mut c = postgres::Client::connect(&primary.url("shop"), postgres::NoTls).expect("primary");
    assert_eq!(
        c.query_one("SELECT count(*) FROM t", &[])
            .expect("count")
            .get::<_, i64>(0),
        2
    );

    // psql agrees on where read-write goes.
    if let Some(psql) = psql() {
        let out = Command::new(psql)
            .args([
                "-X",
                "-At",
                "-d",
                &format!("{both} target_session_attrs=read-write"),
                "-c",
                "select inet_server_port()",
            ])
            .output()
            .expect("psql");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), p.to_string());
    }
}

/// A password file others can read is passed over with libpq's warning, on
/// stderr, and its password is not used.
#[test]
fn a_password_file_others_can_read_is_ignored_with_a_warning() {
    let s = crate::util::support::Scenario::new(
        "pgpass_open",
        "CREATE TABLE t (id int);",
        &[("t.csv", "id\n1\n")],
    );
    let dir = tempfile::tempdir().expect("dir");
    let pgpass = dir.path().join("pgpass");
    std::fs::write(&pgpass, "*:*:*:*:Ign0red-pw\n").expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = output(
        command()
            .env("PGPASSFILE", &pgpass)
            .args(["-l", "-d", &s.db.url])
            .arg(s.path())
            .output()
            .expect("run fkload"),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "fkload: WARNING:  password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
            pgpass.display()
        )),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Ign0red-pw"));
}
