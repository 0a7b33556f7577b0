//! A server's error report, every field of it: `postgres::Error`'s own
//! Display says only "db error". Its Display is the primary line; the
//! fields are the data.

use std::fmt;

use postgres::error::SqlState;

/// Every field of a server error report, kept because the user needs them all.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DbErrorInfo {
    pub severity: String,
    /// SQLSTATE, e.g. [`SqlState::FOREIGN_KEY_VIOLATION`] (`23503`).
    pub code: SqlState,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// The CONTEXT lines (`where` in libpq).
    pub context: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub column: Option<String>,
    pub constraint: Option<String>,
}

impl Default for DbErrorInfo {
    /// An empty report (no SQLSTATE), for building one field by field.
    fn default() -> DbErrorInfo {
        DbErrorInfo {
            severity: String::new(),
            code: SqlState::from_code(""),
            message: String::new(),
            detail: None,
            hint: None,
            context: None,
            schema: None,
            table: None,
            column: None,
            constraint: None,
        }
    }
}

impl DbErrorInfo {
    /// Copies the fields of a server error.
    pub fn from_db(e: &postgres::error::DbError) -> DbErrorInfo {
        DbErrorInfo {
            severity: e.severity().to_string(),
            code: e.code().clone(),
            message: e.message().to_string(),
            detail: e.detail().map(str::to_string),
            hint: e.hint().map(str::to_string),
            context: e.where_().map(str::to_string),
            schema: e.schema().map(str::to_string),
            table: e.table().map(str::to_string),
            column: e.column().map(str::to_string),
            constraint: e.constraint().map(str::to_string),
        }
    }
}

impl fmt::Display for DbErrorInfo {
    /// The primary line as psql starts it: `ERROR:  message` (the severity,
    /// `ERROR` when the report has none). The detail, hint and context are
    /// the fields; the CLI lays them out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = if self.severity.is_empty() {
            "ERROR"
        } else {
            &self.severity
        };
        write!(f, "{severity}:  {}", self.message)
    }
}
