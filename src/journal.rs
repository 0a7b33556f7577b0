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

/// Runs that dropped something and did not finish putting it back.
const UNFINISHED: &str = "
SELECT run, count(*) FILTER (WHERE kind <> 'table' AND state = 'dropped')
  FROM fkload.journal GROUP BY run
HAVING count(*) FILTER (WHERE kind <> 'table' AND state = 'dropped') > 0
 ORDER BY run";

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

/// Creates the journal if needed and refuses to start over a run that left keys
/// or indexes dropped.
///
/// # Errors
/// [`ErrorKind::Interrupted`] naming the unfinished run;
/// [`ErrorKind::Sql`] when the journal cannot be created (the role needs CREATE
/// on the database).
pub fn open(client: &mut impl GenericClient) -> Result<(), Error> {
    client
        .batch_execute(CREATE)
        .map_err(|e| server_error(e, "creating the journal fkload.journal"))?;
    let rows = client
        .query(UNFINISHED, &[])
        .map_err(|e| server_error(e, "reading the journal"))?;
    if let Some(r) = rows.first() {
        return Err(Error::new(ErrorKind::Interrupted {
            run: r.get(0),
            dropped: r.get(1),
        }));
    }
    Ok(())
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
