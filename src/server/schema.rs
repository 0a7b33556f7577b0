//! A database made from a schema file: what `--schema-file` (and a
//! `testing` template) starts from.

use std::path::Path;
use std::process::{Command, Stdio};

use super::Throwaway;
use crate::error::{Error, ErrorKind};
use crate::error::{ServerError, client_text};

impl Throwaway {
    /// Creates database `name` and runs the SQL file `schema` in it: with
    /// the server's own `psql` when it has one (so that a `pg_dump` schema
    /// with its psql commands works), else as one simple query.
    ///
    /// # Errors
    /// [`ErrorKind::Io`] when the file cannot be read, [`ErrorKind::Throwaway`]
    /// ([`ServerError::Schema`]) with psql's (or the server's) message when
    /// the SQL fails.
    pub fn create_database(&self, name: &str, schema: &Path) -> Result<(), Error> {
        let mut admin = self.connect("postgres")?;
        crate::database::db::exec(
            &mut admin,
            &format!("CREATE DATABASE {}", crate::sql::ident(name)),
            "creating the database",
        )?;
        let psql = self.0.bindir.join("psql");
        if psql.is_file() {
            return self
                .psql_file(&psql, name, schema)
                .map_err(|e| Error::new(ErrorKind::Throwaway(e)));
        }
        let text = std::fs::read_to_string(schema).map_err(|source| {
            Error::new(ErrorKind::Io {
                path: schema.to_path_buf(),
                source,
            })
        })?;
        // Reported as psql's failure is: the schema, then the server's words.
        crate::database::db::try_exec(&mut self.connect(name)?, &text).map_err(|e| {
            Error::new(ErrorKind::Throwaway(ServerError::Schema {
                path: schema.to_path_buf(),
                message: client_text(&e),
                source: Some(e),
            }))
        })
    }

    /// Runs `schema` with `psql` in database `name`, stopping at the first
    /// error.
    fn psql_file(&self, psql: &Path, name: &str, schema: &Path) -> Result<(), ServerError> {
        let out = Command::new(psql)
            .args([
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                &self.uri(name),
                "-f",
            ])
            .arg(schema)
            .stdin(Stdio::null())
            .output()
            .map_err(|source| ServerError::Spawn {
                program: psql.display().to_string(),
                source,
            })?;
        if out.status.success() {
            return Ok(());
        }
        Err(ServerError::Schema {
            path: schema.to_path_buf(),
            message: String::from_utf8_lossy(&out.stderr).trim_end().to_string(),
            source: None,
        })
    }
}
