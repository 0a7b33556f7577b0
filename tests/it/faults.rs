//! Faults: fkload killed (SIGKILL) or its backend terminated at several points
//! of a load. Afterwards the database holds the complete load or nothing, and
//! every key is as it was; a killed parallel load is finished by --resume.

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::util::crash::wait_for_disconnect;
use crate::util::support::{Scenario, command, counts, indexes, keys, output, snapshot};

/// A cycle (one key dropped and re-added), a slow trigger so that every phase
/// takes a while, and enough rows to be caught in the middle of each.
const SCHEMA: &str = "
CREATE TABLE store (id int PRIMARY KEY, manager_id int NOT NULL);
CREATE TABLE staff (id int PRIMARY KEY, store_id int NOT NULL REFERENCES store);
ALTER TABLE store ADD CONSTRAINT store_manager_fkey FOREIGN KEY (manager_id) REFERENCES staff;
COMMENT ON CONSTRAINT store_manager_fkey ON store IS 'kept through faults';
CREATE TABLE visit (id int PRIMARY KEY, staff_id int NOT NULL REFERENCES staff);
CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END$$;
CREATE TRIGGER slow BEFORE INSERT ON visit FOR EACH ROW EXECUTE FUNCTION slow();";

fn scenario(label: &str) -> Scenario {
    let mut stores = String::from("id,manager_id\n");
    let mut staff = String::from("id,store_id\n");
    let mut visits = String::from("id,staff_id\n");
    for i in 1..=200 {
        stores.push_str(&format!("{i},{i}\n"));
        staff.push_str(&format!("{i},{i}\n"));
        visits.push_str(&format!("{i},{}\n", i % 200 + 1));
    }
    Scenario::new(
        label,
        SCHEMA,
        &[
            ("store.csv", &stores),
            ("staff.csv", &staff),
            ("visit.csv", &visits),
        ],
    )
}

fn spawn(s: &Scenario, args: &[&str]) -> Child {
    command()
        .arg("-d")
        .arg(&s.db.url)
        .args(args)
        .arg(s.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// All or nothing: the rows of every table are all there or none are, and the
/// keys are exactly as they were.
fn all_or_nothing(s: &Scenario, before: &(Vec<String>, Vec<String>), label: &str) {
    let now = counts(&s.db);
    let complete = ["public.staff=200", "public.store=200", "public.visit=200"];
    assert!(
        now == before.0 || now == complete,
        "{label}: partial load left behind: {now:?}"
    );
    assert_eq!(keys(&s.db), before.1, "{label}: keys changed");
}

#[test]
fn sigkill_at_any_point_leaves_all_or_nothing() {
    // The load takes about 2 s (200 slow rows); kill it at several points.
    for (n, ms) in [50u64, 300, 900, 1600, 2300, 3000].into_iter().enumerate() {
        let s = scenario(&format!("kill9_{n}"));
        let before = snapshot(&s.db);
        let mut child = spawn(&s, &["--strategy", "keep"]);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        // The server notices the closed connection and rolls back.
        wait_for_disconnect(&s.db);
        all_or_nothing(&s, &before, &format!("SIGKILL after {ms} ms"));
    }
}

#[test]
fn terminated_backend_exits_2_and_leaves_nothing() {
    let s = scenario("terminate");
    let before = snapshot(&s.db);
    let child = spawn(&s, &["--strategy", "keep"]);
    std::thread::sleep(Duration::from_millis(700));
    s.db.exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = '{}' AND application_name = 'fkload'",
        s.db.name
    ));
    let out = output(child.wait_with_output().unwrap());
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(snapshot(&s.db), before);
}

#[test]
fn killed_parallel_load_is_finished_by_resume() {
    for (n, ms) in [200u64, 900, 1800].into_iter().enumerate() {
        let s = scenario(&format!("kill9_jobs_{n}"));
        let before = snapshot(&s.db);
        let idx = indexes(&s.db);
        let mut child = spawn(&s, &["-j", "2", "--strategy", "revalidate"]);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whatever the kill left, --resume ends with the whole load and every
        // key and index back; a kill before the load changed anything leaves
        // the database as it was and nothing to resume, and a load then does
        // the whole job.
        wait_for_disconnect(&s.db);
        let mut out = output(
            spawn(&s, &["-j", "2", "--resume"])
                .wait_with_output()
                .unwrap(),
        );
        if out
            .stderr
            .contains("no interrupted parallel load to resume")
        {
            assert_eq!(out.code, 1, "{}", out.stderr);
            assert_eq!(snapshot(&s.db), before, "kill after {ms} ms");
            out = output(spawn(&s, &["-j", "2"]).wait_with_output().unwrap());
        }
        assert_eq!(
            out.code, 0,
            "kill after {ms} ms, then --resume:\n{}",
            out.stderr
        );
        assert_eq!(
            counts(&s.db),
            ["public.staff=200", "public.store=200", "public.visit=200"]
        );
        assert_eq!(keys(&s.db), before.1, "kill after {ms} ms");
        assert_eq!(indexes(&s.db), idx, "kill after {ms} ms");
    }
}

#[test]
fn an_owner_without_superuser_loads_cycles_with_every_strategy() {
    let s = scenario("least_privilege");
    s.db.exec(&format!(
        "DO $$BEGIN
           IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'fkload_owner') THEN
             CREATE ROLE fkload_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE;
           END IF;
         END$$;
         ALTER TABLE store OWNER TO fkload_owner;
         ALTER TABLE staff OWNER TO fkload_owner;
         ALTER TABLE visit OWNER TO fkload_owner;
         ALTER FUNCTION slow() OWNER TO fkload_owner;
         GRANT CREATE ON DATABASE {} TO fkload_owner;",
        s.db.name
    ));
    let before = keys(&s.db);
    let url =
        s.db.url
            .replace("postgres://postgres@", "postgres://fkload_owner@");
    for args in [
        vec!["--strategy", "keep"],
        vec!["--strategy", "revalidate", "--truncate"],
        vec!["-j", "2"],
    ] {
        s.db.exec("TRUNCATE store, staff, visit");
        let out = output(
            command()
                .arg("-d")
                .arg(&url)
                .args(&args)
                .arg(s.path())
                .output()
                .unwrap(),
        );
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(keys(&s.db), before, "{args:?}");
        assert_eq!(s.db.query_i64("SELECT count(*) FROM visit"), 200);
    }
}

/// Fifty parallel loads killed at pseudo-random points, each followed by
/// `fkload repair`: afterwards no key or index is lost and no row is left.
/// Takes about two minutes: runs when FKLOAD_TEST_SOAK is set (.ci/run sets it).
#[test]
fn fifty_killed_parallel_loads_lose_no_key() {
    if std::env::var_os("FKLOAD_TEST_SOAK").is_none() {
        crate::util::support::skip(
            "fifty_killed_parallel_loads_lose_no_key",
            "set FKLOAD_TEST_SOAK=1 to kill 50 parallel loads",
        );
        return;
    }
    let s = scenario("soak");
    let before = snapshot(&s.db);
    let idx = indexes(&s.db);
    let mut seed: u64 = 0x5eed;
    for round in 0..50 {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ms = 20 + (seed >> 33) % 2500;
        let strategy = if round % 2 == 0 { "revalidate" } else { "keep" };
        let mut child = spawn(&s, &["-j", "2", "--strategy", strategy]);
        std::thread::sleep(Duration::from_millis(ms));
        let _ = child.kill();
        let _ = child.wait();
        wait_for_disconnect(&s.db);
        let out = output(
            command()
                .args(["-d", &s.db.url, "repair"])
                .output()
                .unwrap(),
        );
        assert_eq!(out.code, 0, "round {round} ({ms} ms): {}", out.stderr);
        let now = counts(&s.db);
        let complete = ["public.staff=200", "public.store=200", "public.visit=200"];
        assert!(
            now == before.0 || now == complete,
            "round {round} ({ms} ms): {now:?}"
        );
        assert_eq!(keys(&s.db), before.1, "round {round} ({ms} ms)");
        assert_eq!(indexes(&s.db), idx, "round {round} ({ms} ms)");
        if now != before.0 {
            s.db.exec("TRUNCATE store, staff, visit");
        }
    }
}

#[test]
fn server_restart_mid_load_exits_2_and_leaves_nothing() {
    let Some(server) = crate::util::pg::PrivateServer::boot() else {
        crate::util::support::skip(
            "server_restart_mid_load_exits_2_and_leaves_nothing",
            "FKLOAD_TEST_DATABASE_URL points at a server the tests may not restart",
        );
        return;
    };
    let template = scenario("restart_files");
    for (n, mode) in ["fast", "immediate"].into_iter().enumerate() {
        let db = format!("restart_{n}");
        server.exec("postgres", &format!("CREATE DATABASE {db}"));
        server.exec(&db, SCHEMA);
        let url = server.url(&db);
        let child = command()
            .arg("-d")
            .arg(&url)
            .args(["--strategy", "keep"])
            .arg(template.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        server.restart(mode);
        let out = output(child.wait_with_output().unwrap());
        assert_eq!(out.code, 2, "{mode}: {}", out.stderr);
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        for t in ["store", "staff", "visit"] {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .unwrap()
                .get(0);
            assert_eq!(n, 0, "{mode}: {t}");
        }
        let keys: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_constraint WHERE contype = 'f'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(keys, 3, "{mode}: every key still there");
    }
}
