//! The journal of a parallel load: a table in the target database, committed
//! before anything is dropped, that says what a run dropped (with the
//! statements that put it back and the catalog's description of it, to check
//! the result against) and which tables it loaded (with the transaction that
//! did it and, in `expect`, the number of rows).
//!
//! A parallel load commits table by table, so a key or index it dropped lives
//! only in this journal until the run restores it. Every exit path the run
//! controls restores them; the journal is what a later run (or `repair`) needs
//! after one it does not control (kill -9, a lost server). The table lives in
//! its own schema, `fkload`, created on first use and removed when empty.
//!
//! Invariants:
//! - one entry per object: a resumed run that drops again a key or index its
//!   interrupted run had put back reuses that entry ([`redrop`]), so that a
//!   key is never both "restored" and "dropped";
//! - an entry's state changes in the transaction that does the work (see
//!   `parallel::journaled`): "dropped" means the object is not in place now,
//!   "restored" that it is, "loaded" that the entry's rows are committed,
//!   "undone" that they were taken out again;
//! - a run that finished says so in the transaction that makes its last
//!   change ([`finish`]): an entry of kind `run`. From then on nothing may undo
//!   it: recovery of a finished run only clears its entries ([`close`]), which
//!   can fail (another session reading the journal holds a lock the `DROP
//!   TABLE` needs) without any harm;
//! - what must be restored is read from the journal when it is restored,
//!   never from an earlier reading (a step of the repair may have changed it).

use postgres::GenericClient;

use crate::database::db;
use crate::error::{Error, ErrorKind, Pending, PendingObject, PendingTable, SetAside};
use crate::sql::QualName;

/// Creates the journal if it is not there, one statement each, in one
/// transaction: a crash leaves both or neither.
const CREATE: [&str; 2] = [
    "CREATE SCHEMA IF NOT EXISTS fkload",
    "CREATE TABLE IF NOT EXISTS fkload.journal (
    run text NOT NULL,
    seq int NOT NULL,
    kind text NOT NULL CONSTRAINT journal_kind_check
        CHECK (kind IN ('key', 'unenforced', 'index', 'table', 'run')),
    target text NOT NULL,
    name text NOT NULL,
    restore text,
    statements text[],
    expect text,
    txid bigint,
    state text NOT NULL,
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run, seq)
)",
];

/// Brings a journal an earlier fkload made up to date (it lacked the
/// statements and the description of each object, and could not say that a
/// run finished), and labels it. One statement, and it alters the table only
/// when it is out of date: an `ALTER TABLE` waits for every session reading the
/// journal (a monitoring query, `pg_dump`), which must not stop a load.
const UPGRADE: &str = "DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute
                  WHERE attrelid = 'fkload.journal'::regclass AND attname = 'expect')
     OR NOT EXISTS (SELECT 1 FROM pg_constraint
                     WHERE conrelid = 'fkload.journal'::regclass
                       AND conname = 'journal_kind_check'
                       AND pg_get_constraintdef(oid) LIKE '%''run''%') THEN
    ALTER TABLE fkload.journal ADD COLUMN IF NOT EXISTS statements text[];
    ALTER TABLE fkload.journal ADD COLUMN IF NOT EXISTS expect text;
    ALTER TABLE fkload.journal DROP CONSTRAINT IF EXISTS journal_kind_check;
    ALTER TABLE fkload.journal ADD CONSTRAINT journal_kind_check
      CHECK (kind IN ('key', 'unenforced', 'index', 'table', 'run'));
    COMMENT ON TABLE fkload.journal IS
      'fkload: what a parallel load dropped and loaded; do not edit while a load runs';
  END IF;
END$$";

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

/// Runs that did not finish: a finished run has an entry of kind `run`
/// (until its entries are deleted).
const UNFINISHED: &str = "
SELECT run, count(*) FILTER (WHERE kind IN ('key', 'unenforced', 'index') AND state = 'dropped')
  FROM fkload.journal GROUP BY run HAVING NOT bool_or(kind = 'run') ORDER BY run";

/// Every entry of a run, in sequence order.
const ENTRIES: &str = "
SELECT seq, kind, target, name, statements, coalesce(restore, ''), expect, state
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
    /// Its keys and indexes, whatever their state.
    pub objects: Vec<Entry>,
}

/// The kind of a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A key dropped; its statements add it back.
    Key,
    /// A key set `NOT ENFORCED` (PostgreSQL 18); its statement enforces it.
    Unenforced,
    Index,
    Table,
    /// The run itself: present once the run finished.
    Run,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Key => "key",
            Kind::Unenforced => "unenforced",
            Kind::Index => "index",
            Kind::Table => "table",
            Kind::Run => "run",
        }
    }

    fn parse(s: &str) -> Kind {
        match s {
            "key" => Kind::Key,
            "unenforced" => Kind::Unenforced,
            "index" => Kind::Index,
            "run" => Kind::Run,
            _ => Kind::Table,
        }
    }

    /// A key or an index: something a run sets aside and puts back.
    pub fn is_object(self) -> bool {
        matches!(self, Kind::Key | Kind::Unenforced | Kind::Index)
    }

    /// A key, dropped or unenforced.
    pub fn is_key(self) -> bool {
        matches!(self, Kind::Key | Kind::Unenforced)
    }
}

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A key or index set aside, not back yet.
    Dropped,
    /// A key or index back in place.
    Restored,
    /// A table's file (or part) committed.
    Loaded,
    /// A table's rows taken out again by an undo.
    Undone,
    /// The run's own entry: it finished.
    Finished,
    /// A state this fkload does not write (a newer fkload's journal).
    Unknown,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Dropped => "dropped",
            State::Restored => "restored",
            State::Loaded => "loaded",
            State::Undone => "undone",
            State::Finished => "finished",
            State::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "dropped" => State::Dropped,
            "restored" => State::Restored,
            "loaded" => State::Loaded,
            "undone" => State::Undone,
            "finished" => State::Finished,
            _ => State::Unknown,
        }
    }
}

/// A key or index entry of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub seq: i32,
    pub kind: Kind,
    /// The table, as SQL writes it (qualified and quoted).
    pub target: String,
    /// The key's or index's name.
    pub name: String,
    /// The statements that put it back, one per round trip. A journal an
    /// earlier fkload wrote has none: then `script` holds them all.
    pub statements: Vec<String>,
    pub script: String,
    /// How the catalog described a key or index before the run dropped it
    /// (see [`crate::database::catalog::describe`]), or how many rows a table's entry
    /// loaded; none in an earlier fkload's journal.
    pub expect: Option<String>,
    pub state: State,
}

impl Entry {
    /// What the entry names, for messages.
    pub fn what(&self) -> String {
        let kind = if self.kind == Kind::Index {
            "index"
        } else {
            "key"
        };
        format!("{kind} \"{}\" on {}", self.name, self.target)
    }
}

/// Whether the journal table is there.
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn exists(client: &mut impl GenericClient) -> Result<bool, Error> {
    Ok(db::query_one(
        client,
        "SELECT to_regclass('fkload.journal') IS NOT NULL",
        &[],
        "reading the journal",
    )?
    .get(0))
}

/// Takes the journal's lock for this session, before [`open`]: one parallel
/// load (or repair) at a time per database.
///
/// # Errors
/// [`ErrorKind::LoadRunning`] when another session holds it; [`ErrorKind::Sql`].
pub fn lock(client: &mut impl GenericClient) -> Result<(), Error> {
    let locked: bool = db::query_one(client, LOCK, &[], "locking the journal")?.get(0);
    if locked {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::LoadRunning))
    }
}

/// Creates the journal if needed (the caller holds its [`lock`]). An
/// unfinished earlier run is refused unless
/// `resume`, in which case what it left is returned.
///
/// With `resume` and no journal at all, or one whose runs all finished,
/// there is nothing to resume: a
/// parallel load makes the journal before it changes anything and removes
/// it, in one transaction with its last entries, once it has finished, so
/// that no journal means "not started" or "finished", which a resumed run
/// cannot tell apart (loading again would double the rows of tables without
/// a unique key). A journal with no entries was made by a run killed before
/// it recorded anything: resuming it is loading from the start.
///
/// # Errors
/// [`ErrorKind::Interrupted`] naming the unfinished run (or when there are
/// several); [`ErrorKind::NothingToResume`]; [`ErrorKind::Sql`] when the
/// journal cannot be created (the role needs CREATE on the database).
pub fn open(client: &mut impl GenericClient, resume: bool) -> Result<Option<Unfinished>, Error> {
    if resume && !exists(client)? {
        return Err(Error::new(ErrorKind::NothingToResume));
    }
    let during = "creating the journal fkload.journal";
    let mut tx = db::begin(client, during)?;
    for sql in CREATE {
        db::exec(&mut tx, sql, during)?;
    }
    db::commit(tx, during)?;
    let trusted: bool = db::query_one(client, TRUSTED, &[], "reading the journal")?.get(0);
    if !trusted {
        return Err(Error::new(ErrorKind::JournalNotTrusted));
    }
    db::exec(client, UPGRADE, "creating the journal fkload.journal")?;
    let rows = db::query(client, UNFINISHED, &[], "reading the journal")?;
    let Some(first) = rows.first() else {
        // Only finished runs (whose journal could not be removed) are nothing
        // to resume; loading again would double their rows.
        if resume && !finished_runs(client)?.is_empty() {
            return Err(Error::new(ErrorKind::NothingToResume));
        }
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
    for e in entries(client, &run)? {
        left.max_seq = left.max_seq.max(e.seq);
        match e.kind {
            Kind::Table if e.state == State::Loaded => left.loaded.push((e.seq, e.target, e.name)),
            Kind::Table | Kind::Run => {}
            Kind::Key | Kind::Unenforced | Kind::Index => left.objects.push(e),
        }
    }
    Ok(Some(left))
}

/// Every entry of `run`, in sequence order (tables too, with no statements).
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn entries(client: &mut impl GenericClient, run: &str) -> Result<Vec<Entry>, Error> {
    Ok(db::query(client, ENTRIES, &[&run], "reading the journal")?
        .iter()
        .map(|r| Entry {
            seq: r.get(0),
            kind: Kind::parse(r.get(1)),
            target: r.get(2),
            name: r.get(3),
            statements: r.get::<_, Option<Vec<String>>>(4).unwrap_or_default(),
            script: r.get(5),
            expect: r.get(6),
            state: State::parse(r.get(7)),
        })
        .collect())
}

/// What a run is about to drop: the object, the statements that restore it,
/// and how the catalog describes it now.
pub struct Dropping<'a> {
    pub kind: Kind,
    pub target: &'a str,
    pub name: &'a str,
    pub statements: &'a [String],
    pub expect: Option<&'a str>,
}

/// Records an object the run is about to drop.
///
/// # Errors
/// [`ErrorKind::Sql`] when the insert fails.
pub fn dropped(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
    d: &Dropping<'_>,
) -> Result<(), Error> {
    let script = d.statements.join(";\n");
    db::execute(
        client,
        "INSERT INTO fkload.journal
             (run, seq, kind, target, name, restore, statements, expect, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'dropped')",
        &[
            &run,
            &seq,
            &d.kind.as_str(),
            &d.target,
            &d.name,
            &script,
            &d.statements,
            &d.expect,
        ],
        "writing the journal",
    )
    .map(|_| ())
}

/// Records that a resumed run drops again an object its interrupted run had
/// put back (entry `seq`): the entry is dropped again, with this run's way of
/// restoring it. What it expects stays: the object as it was before either
/// run.
///
/// # Errors
/// [`ErrorKind::Sql`] when the update fails.
pub fn redrop(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
    d: &Dropping<'_>,
) -> Result<(), Error> {
    let script = d.statements.join(";\n");
    db::execute(
        client,
        "UPDATE fkload.journal
            SET kind = $3, restore = $4, statements = $5, state = 'dropped', at = now()
          WHERE run = $1 AND seq = $2",
        &[&run, &seq, &d.kind.as_str(), &script, &d.statements],
        "writing the journal",
    )
    .map(|_| ())
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
    rows: u64,
) -> Result<(), Error> {
    // A table's entry keeps the number of rows loaded in `expect`, which
    // describes a key or index in theirs.
    let rows = rows.to_string();
    db::execute(
        client,
        "INSERT INTO fkload.journal (run, seq, kind, target, name, txid, state, expect)
         VALUES ($1, $2, 'table', $3, $4, txid_current(), 'loaded', $5)",
        &[&run, &seq, &target, &file, &rows],
        "writing the journal",
    )
    .map(|_| ())
}

/// Sets the state of an entry.
///
/// # Errors
/// [`ErrorKind::Sql`] when the update fails.
pub fn mark(
    client: &mut impl GenericClient,
    run: &str,
    seq: i32,
    state: State,
) -> Result<(), Error> {
    db::execute(
        client,
        "UPDATE fkload.journal SET state = $3, at = now() WHERE run = $1 AND seq = $2",
        &[&run, &seq, &state.as_str()],
        "writing the journal",
    )
    .map(|_| ())
}

/// Records that `run` finished, in the transaction `tx` that makes its last
/// change: from its commit on, nothing undoes the run (see the module docs).
///
/// # Errors
/// [`ErrorKind::Sql`] when the insert fails.
pub fn finish(tx: &mut impl GenericClient, run: &str) -> Result<(), Error> {
    db::execute(
        tx,
        "INSERT INTO fkload.journal (run, seq, kind, target, name, state)
         VALUES ($1, 0, 'run', '', '', 'finished')",
        &[&run],
        "recording that the load finished",
    )
    .map(|_| ())
}

/// The runs the journal says finished (their entries are still there when the
/// journal could not be removed).
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn finished_runs(client: &mut impl GenericClient) -> Result<Vec<String>, Error> {
    Ok(db::query(
        client,
        "SELECT run FROM fkload.journal WHERE kind = 'run' ORDER BY run",
        &[],
        "reading the journal",
    )?
    .iter()
    .map(|r| r.get(0))
    .collect())
}

/// Whether `run` finished (its journal entries may still be there).
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn finished(client: &mut impl GenericClient, run: &str) -> Result<bool, Error> {
    Ok(db::query_one(
        client,
        "SELECT to_regclass('fkload.journal') IS NOT NULL
                AND EXISTS (SELECT 1 FROM fkload.journal WHERE run = $1 AND kind = 'run')",
        &[&run],
        "reading the journal",
    )?
    .get(0))
}

/// Forgets `run` and every run that finished, and removes the journal when no
/// run is left in it, in one transaction: see [`open`] for why a crash must not
/// leave an empty journal behind a finished run.
///
/// # Errors
/// [`ErrorKind::Sql`] when the statements fail (a session reading the journal
/// holds a lock the `DROP TABLE` waits for, until a lock timeout).
pub fn close(client: &mut impl GenericClient, run: &str) -> Result<(), Error> {
    let during = "removing the journal";
    let mut tx = db::begin(client, during)?;
    db::execute(
        &mut tx,
        "DELETE FROM fkload.journal
          WHERE run = $1 OR run IN (SELECT run FROM fkload.journal WHERE kind = 'run')",
        &[&run],
        during,
    )?;
    // The schema goes only when nothing else lives in it.
    db::exec(
        &mut tx,
        "DO $$BEGIN
           IF NOT EXISTS (SELECT 1 FROM fkload.journal) THEN
             DROP TABLE fkload.journal;
             BEGIN
               DROP SCHEMA fkload;
             EXCEPTION WHEN dependent_objects_still_exist THEN NULL;
             END;
           END IF;
         END$$",
        during,
    )?;
    db::commit(tx, during)
}

/// After a run that failed, with the lock held: removes the journal when no
/// run is left in it (a run that failed before it recorded anything made it
/// for nothing). Tidying: should it fail, an empty journal means only that no
/// run recorded anything, and the next command removes it.
pub fn tidy(client: &mut postgres::Client) {
    if !client.is_closed() && exists(client).unwrap_or(false) {
        let _ = close(client, "");
    }
}

/// Gives the advisory lock back (it also goes with the connection).
pub fn unlock(client: &mut impl GenericClient) {
    let _ = db::exec(client, UNLOCK, "unlocking the journal");
}

/// A table a run loaded and committed, from its journal entry.
pub struct Loaded {
    pub seq: i32,
    pub target: String,
    /// The transaction id of its rows.
    pub xid: String,
    /// How many rows it loaded; `None` in a journal written before fkload
    /// counted them.
    pub rows: Option<u64>,
}

/// Tables `run` loaded and committed, last loaded first (children before their
/// parents).
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn loaded_tables(client: &mut impl GenericClient, run: &str) -> Result<Vec<Loaded>, Error> {
    Ok(db::query(
        client,
        "SELECT seq, target, xmin::text, expect FROM fkload.journal
          WHERE run = $1 AND kind = 'table' AND state = 'loaded' ORDER BY seq DESC",
        &[&run],
        "reading the journal",
    )?
    .iter()
    .map(|r| Loaded {
        seq: r.get(0),
        target: r.get(1),
        xid: r.get(2),
        rows: r.get::<_, Option<String>>(3).and_then(|n| n.parse().ok()),
    })
    .collect())
}

/// Whether the journal is there and this role may read it: one row when the
/// table exists. Read from `pg_class` rather than with
/// `to_regclass('fkload.journal')`, which fails where the role has no
/// `USAGE` on the schema (the journal of another role's load).
const READABLE: &str = "
SELECT has_schema_privilege(n.oid, 'USAGE') AND has_table_privilege(c.oid, 'SELECT')
  FROM pg_namespace n
  JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'journal'
 WHERE n.nspname = 'fkload'";

/// What each unfinished run left: its tables loaded and its keys and indexes
/// still set aside, in the order it recorded them. A run with neither is
/// still listed (the outer join), as [`open`] refuses it too; a run with an
/// entry of kind `run` finished and is left out, whatever its other entries
/// say (they are only left because the journal could not be removed).
const PENDING: &str = "
WITH unfinished AS (
    SELECT run FROM fkload.journal GROUP BY run HAVING NOT bool_or(kind = 'run')
)
SELECT u.run, j.kind, j.target, j.name
  FROM unfinished u
  LEFT JOIN fkload.journal j
    ON j.run = u.run
   AND ((j.kind = 'table' AND j.state = 'loaded')
        OR (j.kind IN ('key', 'unenforced', 'index') AND j.state = 'dropped'))
 ORDER BY u.run, j.seq";

/// The runs the journal says did not finish, with what each left, for the
/// commands that only read (`-l`, `check`, `graph`). Reads only: no lock, no
/// journal created, nothing upgraded; a standby will do. Empty when there is
/// no journal, or when this role may not read it (a journal of another
/// role's load, which that role's commands report).
///
/// # Errors
/// [`ErrorKind::Sql`] when the read fails.
pub fn pending(client: &mut impl GenericClient) -> Result<Vec<Pending>, Error> {
    let during = "reading the journal";
    let readable = db::query(client, READABLE, &[], during)?;
    if !readable.first().is_some_and(|r| r.get::<_, bool>(0)) {
        return Ok(Vec::new());
    }
    let mut runs: Vec<Pending> = Vec::new();
    for r in db::query(client, PENDING, &[], during)? {
        let run: String = r.get(0);
        if runs.last().is_none_or(|p| p.run != run) {
            runs.push(Pending {
                run,
                loaded: Vec::new(),
                dropped: Vec::new(),
            });
        }
        let Some(kind) = r.get::<_, Option<&str>>(1) else {
            continue;
        };
        let target: String = r.get(2);
        let table = qualified(&target).unwrap_or_else(|| QualName::new("", target));
        let name: String = r.get(3);
        let Some(last) = runs.last_mut() else {
            continue;
        };
        let what = match Kind::parse(kind) {
            Kind::Table => {
                last.loaded.push(PendingTable { table, file: name });
                continue;
            }
            Kind::Key => SetAside::Key,
            Kind::Unenforced => SetAside::Unenforced,
            Kind::Index => SetAside::Index,
            Kind::Run => continue,
        };
        last.dropped.push(PendingObject { what, table, name });
    }
    Ok(runs)
}

/// A journal target (`"schema"."table"`, as [`QualName`]'s `Display` writes
/// it) read back; `None` for anything else.
fn qualified(target: &str) -> Option<QualName> {
    let mut parts: Vec<String> = Vec::new();
    let mut rest = target;
    loop {
        let mut chars = rest.strip_prefix('"')?.chars();
        let mut part = String::new();
        loop {
            match chars.next()? {
                '"' if chars.as_str().starts_with('"') => {
                    part.push('"');
                    chars.next();
                }
                '"' => break,
                c => part.push(c),
            }
        }
        parts.push(part);
        rest = chars.as_str();
        if rest.is_empty() {
            break;
        }
        rest = rest.strip_prefix('.')?;
    }
    match <[String; 2]>::try_from(parts) {
        Ok([schema, name]) => Some(QualName::new(schema, name)),
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back_as_written() {
        for kind in [
            Kind::Key,
            Kind::Unenforced,
            Kind::Index,
            Kind::Table,
            Kind::Run,
        ] {
            assert_eq!(Kind::parse(kind.as_str()), kind);
        }
        assert!(Kind::Key.is_key() && Kind::Unenforced.is_key());
        assert!(!Kind::Index.is_key() && !Kind::Table.is_key());
    }

    /// Every statement the journal is made with is one statement: the
    /// connection sends each alone (a script would be one unit of failure).
    #[test]
    fn the_journal_is_made_one_statement_at_a_time() {
        for sql in CREATE {
            // Outside string literals ('...'), no statement separator.
            let outside: String = sql.split('\'').step_by(2).collect::<Vec<_>>().concat();
            assert!(!outside.trim().trim_end_matches(';').contains(';'), "{sql}");
        }
    }

    #[test]
    fn targets_read_back_as_written() {
        for q in [
            QualName::new("public", "c"),
            QualName::new("Sa\"les", "x.y"),
        ] {
            assert_eq!(qualified(&q.to_string()), Some(q));
        }
        assert_eq!(qualified("public.c"), None);
        assert_eq!(qualified("\"a\""), None);
    }

    #[test]
    fn entries_name_what_they_restore() {
        let e = Entry {
            seq: 1,
            kind: Kind::Unenforced,
            target: "\"public\".\"a\"".into(),
            name: "a_p_fk".into(),
            statements: vec![],
            script: String::new(),
            expect: None,
            state: State::Dropped,
        };
        assert_eq!(e.what(), "key \"a_p_fk\" on \"public\".\"a\"");
    }
}
