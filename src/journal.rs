//! The journal of a parallel load: a table in the target database, committed
//! before anything is dropped, that says what a run dropped (with the SQL that
//! puts it back) and which tables it loaded (with the transaction that did it).
//!
//! A parallel load commits table by table, so a key or index it dropped lives
//! only in this journal until the run restores it. Every exit path the run
//! controls restores them; the journal is what a later run (or `repair`) needs
//! after one it does not control (kill -9, a lost server). The table lives in
//! its own schema, `fkload`, created on first use and removed when empty.

use postgres::GenericClient;

use crate::catalog::server_error;
use crate::error::{Error, ErrorKind};

/// Creates the journal if it is not there.
const CREATE: &str = "
CREATE SCHEMA IF NOT EXISTS fkload;
CREATE TABLE IF NOT EXISTS fkload.journal (
    run text NOT NULL,
    seq int NOT NULL,
    kind text NOT NULL CHECK (kind IN ('key', 'unenforced', 'index', 'table')),
    target text NOT NULL,
    name text NOT NULL,
    restore text,
    txid bigint,
    state text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, seq)
);
COMMENT ON TABLE fkload.journal IS
    'fkload: what a parallel load dropped and loaded; do not edit while a load runs'";

/// The journal is trusted only when this role owns its schema and table, nobody
/// else was granted anything on them, and the table has no triggers or rules:
/// fkload runs the statements the journal holds, and writes into it with its
/// own privileges.
const TRUSTED: &str = "
SELECT n.nspowner = r.oid AND c.relowner = r.oid
       AND n.nspacl IS NULL AND c.relacl IS NULL
       AND NOT c.relhastriggers AND NOT c.relhasrules
  FROM pg_namespace n
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'journal'
  JOIN pg_roles r ON r.rolname = current_user
 WHERE n.nspname = 'fkload'";

/// One parallel load at a time per database: a session-level advisory lock on
/// the control connection, held for the whole run. A run killed with its
/// connection loses the lock, so `--resume` can take its journal over.
const LOCK: &str = "SELECT pg_try_advisory_lock(hashtext('fkload journal'))";
const UNLOCK: &str = "SELECT pg_advisory_unlock(hashtext('fkload journal'))";

/// Runs that did not finish: a finished run deletes its entries.
const UNFINISHED: &str = "
SELECT run, count(*) FILTER (WHERE kind <> 'table' AND state = 'dropped')
  FROM fkload.journal GROUP BY run ORDER BY run";

/// What an unfinished run left: the tables it loaded (with the transaction id
/// of their rows) and the keys and indexes it left dropped.
const LEFT: &str = "
SELECT seq, kind, target, name, coalesce(restore, ''), xmin::text, state
  FROM fkload.journal WHERE run = $1 ORDER BY seq";

/// A run that did not finish.
#[derive(Debug, Clone, Default)]
pub struct Unfinished {
    pub run: String,
    /// The highest sequence number it used: a resumed run continues after it.
    pub max_seq: i32,
    /// Files (or parts) it loaded and committed: (seq, target table as SQL
    /// writes it, file name in the journal).
    pub loaded: Vec<(i32, String, String)>,
    /// Indexes, then keys, it left dropped: (seq, name, restore script), in the
    /// order to restore them (keys need the unique indexes they reference).
    pub dropped: Vec<(i32, String, String)>,
}

/// The kind of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A key dropped; its restore script adds it back.
    Key,
    /// A key set `NOT ENFORCED` (PostgreSQL 18); its restore script enforces it.
    Unenforced,
    Index,
    Table,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Unenforced => "unenforced",
            Kind::Index => "index",
            Kind::Table => "table",
        }
    }
}

fn q(
    client: &mut impl GenericClient,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<(), Error> {
    client
        .execute(sql, params)
        .map(|_| ())
        .map_err(|e| server_error(e, "writing the journal"))
}

/// Creates the journal if needed. An unfinished earlier run is refused unless
/// `resume`, in which case what it left is returned.
///
/// # Errors
/// [`ErrorKind::Interrupted`] naming the unfinished run (or when there are
/// several); [`ErrorKind::Sql`] when the journal cannot be created (the role
/// needs CREATE on the database).
pub fn open(client: &mut impl GenericClient, resume: bool) -> Result<Option<Unfinished>, Error> {
    let locked: bool = client
        .query_one(LOCK, &[])
        .map_err(|e| server_error(e, "locking the journal"))?
        .get(0);
    if !locked {
        return Err(Error::new(ErrorKind::Plan {
            message: "another parallel fkload load is running on this database".into(),
        }));
    }
    client
        .batch_execute(CREATE)
        .map_err(|e| server_error(e, "creating the journal fkload.journal"))?;
    let trusted: bool = client
        .query_one(TRUSTED, &[])
        .map_err(|e| server_error(e, "reading the journal"))?
        .get(0);
    if !trusted {
        return Err(Error::new(ErrorKind::Plan {
            message: "fkload.journal is not this role's alone (another owner, grants, triggers \
                      or rules): fkload will not run the statements it holds"
                .into(),
        }));
    }
    let rows = client
        .query(UNFINISHED, &[])
        .map_err(|e| server_error(e, "reading the journal"))?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let run: String = first.get(0);
    if !resume || rows.len() > 1 {
        return Err(Error::new(ErrorKind::Interrupted {
            run,
            dropped: first.get(1),
        }));
    }
    let mut left = Unfinished {
        run: run.clone(),
        ..Unfinished::default()
    };
    let (mut indexes, mut keys) = (Vec::new(), Vec::new());
    for r in client
        .query(LEFT, &[&run])
        .map_err(|e| server_error(e, "reading the journal"))?
    {
        let (seq, kind, target, name, restore, state): (
            i32,
            String,
            String,
            String,
            String,
            String,
        ) = (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(6));
        left.max_seq = left.max_seq.max(seq);
        match (kind.as_str(), state.as_str()) {
            ("table", "loaded") => left.loaded.push((seq, target, name)),
            ("index", "dropped") => indexes.push((seq, name, restore)),
            ("key" | "unenforced", "dropped") => keys.push((seq, name, restore)),
            _ => {}
        }
    }
    left.dropped = indexes.into_iter().chain(keys).collect();
    Ok(Some(left))
}

/// Records an object the run is about to drop, with the SQL that restores it.
///
/// # Errors
/// [`ErrorKind::Sql`] when the insert fails.
pub fn dropped(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
    kind: Kind,
    target: &str,
    name: &str,
    restore: &str,
) -> Result<(), Error> {
    q(
        client,
        "INSERT INTO fkload.journal (run, seq, kind, target, name, restore, state)
         VALUES ($1, $2, $3, $4, $5, $6, 'dropped')",
        &[&run, &seq, &kind.as_str(), &target, &name, &restore],
    )
}

/// Records, in the (sub)transaction that loaded it, that a table's file is
/// loaded. The entry's own `xmin` is then the transaction id of the loaded rows:
/// COPY runs under a savepoint, whose rows carry the subtransaction's id, which
/// `txid_current()` does not tell (it gives the top-level one, kept for reading).
///
/// # Errors
/// [`ErrorKind::Sql`] when the insert fails.
pub fn loaded(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
    target: &str,
    file: &str,
) -> Result<(), Error> {
    q(
        client,
        "INSERT INTO fkload.journal (run, seq, kind, target, name, txid, state)
         VALUES ($1, $2, 'table', $3, $4, txid_current(), 'loaded')",
        &[&run, &seq, &target, &file],
    )?;
    Ok(())
}

/// Sets the state of an entry (`restored`, `undone`).
///
/// # Errors
/// [`ErrorKind::Sql`] when the update fails.
pub fn mark(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
    state: &str,
) -> Result<(), Error> {
    q(
        client,
        "UPDATE fkload.journal SET state = $3, at = now() WHERE run = $1 AND seq = $2",
        &[&run, &seq, &state],
    )
}

/// The transaction id of the rows loaded for entry `seq` of `run` (the entry's
/// own `xmin`, see [`loaded`]), as text.
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn loading_xid(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
) -> Result<Option<String>, Error> {
    let rows = client
        .query(
            "SELECT xmin::text FROM fkload.journal WHERE run = $1 AND seq = $2 AND kind = 'table'",
            &[&run, &seq],
        )
        .map_err(|e| server_error(e, "reading the journal"))?;
    Ok(rows.first().map(|r| r.get(0)))
}

/// Forgets a finished run, and removes the journal when no run is left in it.
///
/// # Errors
/// [`ErrorKind::Sql`] when the statements fail.
pub fn close(client: &mut impl GenericClient, run: &str) -> Result<(), Error> {
    q(client, "DELETE FROM fkload.journal WHERE run = $1", &[&run])?;
    // The schema goes only when nothing else lives in it.
    client
        .batch_execute(
            "DO $$BEGIN
               IF NOT EXISTS (SELECT 1 FROM fkload.journal) THEN
                 DROP TABLE fkload.journal;
                 BEGIN
                   DROP SCHEMA fkload;
                 EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
                 END;
               END IF;
             END$$",
        )
        .map_err(|e| server_error(e, "removing the journal"))
}

/// Gives the advisory lock back (it also goes with the connection).
pub fn unlock(client: &mut impl GenericClient) {
    let _ = client.batch_execute(UNLOCK);
}

/// Keys of `run` that are back in place: (seq, kind, target, name). A failed
/// run sets them aside again before taking its rows out, so that no key blocks
/// the deletes or cascades them into other rows.
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn restored_keys(
    client: &mut impl GenericClient,
    run: &str,
) -> Result<Vec<(i32, Kind, String, String)>, Error> {
    Ok(client
        .query(
            "SELECT seq, kind, target, name FROM fkload.journal
              WHERE run = $1 AND kind IN ('key', 'unenforced') AND state = 'restored'
              ORDER BY seq",
            &[&run],
        )
        .map_err(|e| server_error(e, "reading the journal"))?
        .iter()
        .map(|r| {
            let kind = if r.get::<_, &str>(1) == "unenforced" {
                Kind::Unenforced
            } else {
                Kind::Key
            };
            (r.get(0), kind, r.get(2), r.get(3))
        })
        .collect())
}

/// Tables `run` loaded and committed, last loaded first (children before their
/// parents): (seq, target, xid of their rows).
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn loaded_tables(
    client: &mut impl GenericClient,
    run: &str,
) -> Result<Vec<(i32, String, String)>, Error> {
    Ok(client
        .query(
            "SELECT seq, target, xmin::text FROM fkload.journal
              WHERE run = $1 AND kind = 'table' AND state = 'loaded' ORDER BY seq DESC",
            &[&run],
        )
        .map_err(|e| server_error(e, "reading the journal"))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
}

/// The state of every entry of `run`, by sequence number.
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn states(
    client: &mut impl GenericClient,
    run: &str,
) -> Result<std::collections::HashMap<i32, String>, Error> {
    Ok(client
        .query(
            "SELECT seq, state FROM fkload.journal WHERE run = $1",
            &[&run],
        )
        .map_err(|e| server_error(e, "reading the journal"))?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect())
}
