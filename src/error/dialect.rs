//! Why a file's dialect is refused: [`DialectError`], the rule of COPY's
//! (or of fkload's reading of files) that the options break. The source of
//! [`ErrorKind::Dialect`](crate::ErrorKind::Dialect); public as
//! `fkload::dialect::DialectError`. A leaf: it imports nothing of the crate.

/// Why the options of a dialect are refused: the rule of COPY's they break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialectError {
    /// A delimiter, quote or escape (`what`) that is not one single-byte
    /// character.
    #[error("the {what} must be a single one-byte character, not {value:?}")]
    NotOneByte { what: &'static str, value: String },
    #[error("the delimiter cannot be newline or carriage return")]
    NewlineDelimiter,
    #[error("the NULL string cannot hold a newline or carriage return")]
    NewlineInNull,
    #[error("the delimiter and the quote must be different")]
    DelimiterIsQuote,
    #[error(
        "the delimiter {:?} must not appear in the NULL string {null:?}",
        char::from(*delimiter)
    )]
    DelimiterInNull { delimiter: u8, null: String },
    #[error(
        "the quote {:?} must not appear in the NULL string {null:?}",
        char::from(*quote)
    )]
    QuoteInNull { quote: u8, null: String },
    /// An encoding name that is empty or holds other than printable ASCII.
    #[error("{0:?} is not an encoding name")]
    NotAnEncoding(String),
    /// An encoding name the server does not know.
    #[error("{0:?} is not an encoding PostgreSQL knows")]
    UnknownEncoding(String),
    /// A delimiter, quote or escape (`what`) whose byte can be the second
    /// byte of a character in `encoding` (the server's name of it): where
    /// records end cannot be told.
    #[error(
        "in {encoding} the byte of the {what} {:?} can be part of a character, so fkload cannot tell where records end: choose another {what}",
        char::from(*byte)
    )]
    AmbiguousByte {
        encoding: String,
        what: &'static str,
        byte: u8,
    },
}
