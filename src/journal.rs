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
    kind text NOT NULL CHECK (kind IN ('key', 'index', 'table')),
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
    /// Tables it loaded and committed: (seq, target table as SQL writes it).
    pub loaded: Vec<(i32, String)>,
    /// Indexes, then keys, it left dropped: (seq, name, restore script), in the
    /// order to restore them (keys need the unique indexes they reference).
    pub dropped: Vec<(i32, String, String)>,
}

/// The kind of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Key,
    Index,
    Table,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
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
    client
        .batch_execute(CREATE)
        .map_err(|e| server_error(e, "creating the journal fkload.journal"))?;
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
        match (kind.as_str(), state.as_str()) {
            ("table", "loaded") => left.loaded.push((seq, target)),
            ("index", "dropped") => indexes.push((seq, name, restore)),
            ("key", "dropped") => keys.push((seq, name, restore)),
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
    client
        .batch_execute(
            "DO $$BEGIN
               IF NOT EXISTS (SELECT 1 FROM fkload.journal) THEN
                 DROP TABLE fkload.journal;
                 IF NOT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = 'fkload'::regnamespace) THEN
                   DROP SCHEMA fkload;
                 END IF;
               END IF;
             END$$",
        )
        .map_err(|e| server_error(e, "removing the journal"))
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
