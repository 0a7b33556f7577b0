//! How a data file is written: the CSV dialect of PostgreSQL's `COPY ...
//! (FORMAT csv)`, with its delimiter, quote, escape, NULL string, header and
//! encoding.
//!
//! A dialect is put together in layers ([`DialectOptions`]), each filling
//! what the one above it leaves open: a file's own table in `fkload.toml`,
//! then the command line, then the top of `fkload.toml`, then what the file's
//! name says (`.tsv` means tab), then COPY's own defaults. It is checked
//! by the rules COPY checks its options by, so that a dialect the server
//! would refuse is refused before anything is written, with the place it
//! came from.
//!
//! The options go to the server as COPY's own (`Dialect::copy_options`):
//! the file's bytes still go through unparsed. fkload reads them itself only
//! to find where records end (the record scanner), to read the header, and to
//! change fields under `--on-orphan`; all of these follow the same dialect.

pub use crate::error::dialect::DialectError;
use crate::sql::literal;

/// The dialect of one file, complete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) struct Dialect {
    /// The byte between fields.
    pub delimiter: u8,
    /// The byte that quotes a field.
    pub quote: u8,
    /// The byte that, inside quotes, makes the next quote (or escape) a
    /// character; the quote itself by default (`""`).
    pub escape: u8,
    /// The text that stands for NULL when unquoted (empty by default).
    pub null: String,
    /// Whether the first record names the columns.
    pub header: bool,
    /// The file's encoding, as given (any name PostgreSQL's `ENCODING`
    /// option takes); `None` is the client's, UTF-8.
    pub encoding: Option<String>,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            delimiter: b',',
            quote: b'"',
            escape: b'"',
            null: String::new(),
            header: true,
            encoding: None,
        }
    }
}

impl Dialect {
    /// Whether this is COPY's own CSV with a header, in UTF-8.
    #[cfg(test)]
    pub fn is_default(&self) -> bool {
        *self == Dialect::default()
    }

    /// COPY's options for this dialect but `HEADER`, each as `, NAME 'x'`,
    /// only those that differ from COPY's defaults.
    pub fn copy_options(&self) -> String {
        let mut out = String::new();
        let byte = |b: u8| literal(&char::from(b).to_string());
        if self.delimiter != b',' {
            out.push_str(&format!(", DELIMITER {}", byte(self.delimiter)));
        }
        if self.quote != b'"' {
            out.push_str(&format!(", QUOTE {}", byte(self.quote)));
        }
        if self.escape != self.quote {
            out.push_str(&format!(", ESCAPE {}", byte(self.escape)));
        }
        if !self.null.is_empty() {
            out.push_str(&format!(", NULL {}", literal(&self.null)));
        }
        if let Some(e) = &self.encoding {
            out.push_str(&format!(", ENCODING {}", literal(e)));
        }
        out
    }

    /// `text` in the file's encoding. A character the encoding lacks
    /// becomes `?` in LATIN1 and in encodings fkload has no encoder for, and
    /// an HTML numeric reference (`&#8364;`) in the others.
    pub fn encode(&self, text: &str) -> Vec<u8> {
        let ascii_or = |keep: fn(char) -> Option<u8>| -> Vec<u8> {
            text.chars().map(|c| keep(c).unwrap_or(b'?')).collect()
        };
        match self.encoding.as_deref() {
            None | Some("UTF8") => text.as_bytes().to_vec(),
            // windows-1252 (encoding_rs's latin1) would write C1 controls.
            Some("LATIN1") => ascii_or(|c| u8::try_from(u32::from(c)).ok()),
            Some(name) => match decoder(name) {
                Some(enc) => enc.encode(text).0.into_owned(),
                None => ascii_or(|c| c.is_ascii().then_some(c as u8)),
            },
        }
    }

    /// The NULL string in the file's encoding.
    pub fn null_bytes(&self) -> Vec<u8> {
        self.encode(&self.null)
    }

    /// `text` as one quoted field of this dialect, in the file's encoding
    /// (see [`Dialect::encode`]).
    pub fn quoted_field(&self, text: &str) -> Vec<u8> {
        let bytes = self.encode(text);
        let mut out = Vec::with_capacity(bytes.len() + 2);
        out.push(self.quote);
        for b in bytes {
            if b == self.quote || (b == self.escape && self.escape != self.quote) {
                out.push(self.escape);
            }
            out.push(b);
        }
        out.push(self.quote);
        out
    }

    /// What differs from the default, for people: `delimiter ';', null
    /// '\N', no header`; empty for the default.
    pub fn describe(&self) -> String {
        let show = |b: u8| match b {
            b'\t' => "tab".to_string(),
            b' ' => "space".to_string(),
            other => format!("'{}'", char::from(other)),
        };
        let mut parts = Vec::new();
        if self.delimiter != b',' {
            parts.push(format!("delimiter {}", show(self.delimiter)));
        }
        if self.quote != b'"' {
            parts.push(format!("quote {}", show(self.quote)));
        }
        if self.escape != self.quote {
            parts.push(format!("escape {}", show(self.escape)));
        }
        if !self.null.is_empty() {
            parts.push(format!("null '{}'", self.null));
        }
        if !self.header {
            parts.push("no header".into());
        }
        if let Some(e) = &self.encoding {
            parts.push(format!("encoding {e}"));
        }
        parts.join(", ")
    }
}

/// Part of a dialect: what one layer (an option, a manifest table) says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DialectOptions {
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub escape: Option<String>,
    pub null: Option<String>,
    pub header: Option<bool>,
    pub encoding: Option<String>,
}

impl DialectOptions {
    /// These options, with what they leave open taken from `below`. A
    /// quote given without an escape brings its own default escape (the
    /// quote), not the escape of a layer below, which went with another
    /// quote.
    pub fn over(&self, below: &DialectOptions) -> DialectOptions {
        let escape = match (&self.escape, &self.quote) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(_)) => None,
            (None, None) => below.escape.clone(),
        };
        DialectOptions {
            delimiter: self.delimiter.clone().or_else(|| below.delimiter.clone()),
            quote: self.quote.clone().or_else(|| below.quote.clone()),
            escape,
            null: self.null.clone().or_else(|| below.null.clone()),
            header: self.header.or(below.header),
            encoding: self.encoding.clone().or_else(|| below.encoding.clone()),
        }
    }

    /// Whether no option is set.
    pub fn is_empty(&self) -> bool {
        *self == DialectOptions::default()
    }

    /// The complete dialect, COPY's defaults filling what is open (and tab
    /// for the delimiter of a `.tsv` file), checked as COPY checks its
    /// options.
    ///
    /// # Errors
    /// A [`DialectError`]: the rule broken, in COPY's words where COPY has
    /// them.
    pub(crate) fn resolve(&self, tsv: bool) -> Result<Dialect, DialectError> {
        let one = |what: &'static str, value: &Option<String>, default: u8| match value {
            None => Ok(default),
            Some(v) => single_byte(v).ok_or_else(|| DialectError::NotOneByte {
                what,
                value: v.clone(),
            }),
        };
        let delimiter = one("delimiter", &self.delimiter, if tsv { b'\t' } else { b',' })?;
        let quote = one("quote", &self.quote, b'"')?;
        let escape = one("escape", &self.escape, quote)?;
        let null = self.null.clone().unwrap_or_default();
        if delimiter == b'\n' || delimiter == b'\r' {
            return Err(DialectError::NewlineDelimiter);
        }
        if null.contains(['\n', '\r']) {
            return Err(DialectError::NewlineInNull);
        }
        if delimiter == quote {
            return Err(DialectError::DelimiterIsQuote);
        }
        if null.as_bytes().contains(&delimiter) {
            return Err(DialectError::DelimiterInNull { delimiter, null });
        }
        if null.as_bytes().contains(&quote) {
            return Err(DialectError::QuoteInNull { quote, null });
        }
        if let Some(e) = &self.encoding
            && (e.is_empty() || !e.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(DialectError::NotAnEncoding(e.clone()));
        }
        Ok(Dialect {
            delimiter,
            quote,
            escape,
            null,
            header: self.header.unwrap_or(true),
            encoding: self.encoding.clone(),
        })
    }
}

/// The one byte of `value` when it is a single ASCII character; `\t` written
/// as two characters (as a shell passes it) is a tab.
fn single_byte(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [b] if b.is_ascii() && *b != 0 => Some(*b),
        b"\\t" => Some(b'\t'),
        _ => None,
    }
}

/// The lowest byte below 0x80 that can be the second (or a later) byte of a
/// character in `canonical` (the server's name of an encoding), for the
/// encodings where that happens (PostgreSQL's client-only encodings): a scan
/// for ASCII bytes can then misread the file. `None` for the others.
pub(crate) fn lowest_trail_byte(canonical: &str) -> Option<u8> {
    match canonical {
        // Four-byte characters have digits as their second and fourth bytes.
        "GB18030" => Some(0x30),
        "JOHAB" => Some(0x31),
        "SJIS" | "SHIFT_JIS_2004" | "BIG5" | "GBK" => Some(0x40),
        "UHC" => Some(0x41),
        _ => None,
    }
}

/// The decoder for an encoding, by the server's canonical name; `None` when
/// fkload has none (only ASCII can then be read client-side).
pub(crate) fn decoder(canonical: &str) -> Option<&'static encoding_rs::Encoding> {
    let label: &[u8] = match canonical {
        "UTF8" => b"utf-8",
        // WHATWG's latin1 is windows-1252, which reads every LATIN1 byte
        // outside 0x80..0x9F (control characters) the same.
        "LATIN1" | "WIN1252" => b"windows-1252",
        "LATIN2" => b"iso-8859-2",
        "LATIN3" => b"iso-8859-3",
        "LATIN4" => b"iso-8859-4",
        "ISO_8859_5" => b"iso-8859-5",
        "ISO_8859_6" => b"iso-8859-6",
        "ISO_8859_7" => b"iso-8859-7",
        "ISO_8859_8" => b"iso-8859-8",
        "LATIN5" => b"windows-1254",
        "LATIN6" => b"iso-8859-10",
        "LATIN7" => b"iso-8859-13",
        "LATIN8" => b"iso-8859-14",
        "LATIN9" => b"iso-8859-15",
        "LATIN10" => b"iso-8859-16",
        "WIN866" => b"ibm866",
        "WIN874" => b"windows-874",
        "WIN1250" => b"windows-1250",
        "WIN1251" => b"windows-1251",
        "WIN1253" => b"windows-1253",
        "WIN1254" => b"windows-1254",
        "WIN1255" => b"windows-1255",
        "WIN1256" => b"windows-1256",
        "WIN1257" => b"windows-1257",
        "WIN1258" => b"windows-1258",
        "KOI8R" => b"koi8-r",
        "KOI8U" => b"koi8-u",
        "EUC_JP" => b"euc-jp",
        "EUC_KR" | "UHC" => b"euc-kr",
        "SJIS" => b"shift_jis",
        "BIG5" => b"big5",
        "GBK" => b"gbk",
        "GB18030" => b"gb18030",
        _ => return None,
    };
    encoding_rs::Encoding::for_label(label)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(f: impl FnOnce(&mut DialectOptions)) -> DialectOptions {
        let mut o = DialectOptions::default();
        f(&mut o);
        o
    }

    #[test]
    fn defaults_are_copys_and_tsv_means_tab() {
        let d = DialectOptions::default().resolve(false).unwrap();
        assert!(d.is_default());
        assert_eq!(d.copy_options(), "");
        assert_eq!(d.describe(), "");
        let t = DialectOptions::default().resolve(true).unwrap();
        assert_eq!(t.delimiter, b'\t');
        assert_eq!(t.copy_options(), ", DELIMITER '\t'");
        assert_eq!(t.describe(), "delimiter tab");
    }

    #[test]
    fn options_render_as_copy_options() {
        let d = opts(|o| {
            o.delimiter = Some(";".into());
            o.quote = Some("'".into());
            o.escape = Some("\\".into());
            o.null = Some("\\N".into());
            o.header = Some(false);
            o.encoding = Some("LATIN1".into());
        })
        .resolve(false)
        .unwrap();
        assert_eq!(
            d.copy_options(),
            ", DELIMITER ';', QUOTE '''', ESCAPE E'\\\\', NULL E'\\\\N', ENCODING 'LATIN1'"
        );
        assert_eq!(
            d.describe(),
            "delimiter ';', quote ''', escape '\\', null '\\N', no header, encoding LATIN1"
        );
    }

    #[test]
    fn escape_follows_the_quote_unless_given() {
        let d = opts(|o| o.quote = Some("'".into())).resolve(false).unwrap();
        assert_eq!((d.quote, d.escape), (b'\'', b'\''));
        assert_eq!(d.copy_options(), ", QUOTE ''''");
    }

    #[test]
    fn a_quote_given_alone_does_not_take_the_escape_of_another_layer() {
        let below = opts(|o| {
            o.quote = Some("'".into());
            o.escape = Some("\\".into());
        });
        let d = opts(|o| o.quote = Some("\"".into()))
            .over(&below)
            .resolve(false)
            .unwrap();
        assert_eq!((d.quote, d.escape), (b'"', b'"'));
        let d = opts(|o| o.delimiter = Some(";".into()))
            .over(&below)
            .resolve(false)
            .unwrap();
        assert_eq!((d.quote, d.escape), (b'\'', b'\\'));
    }

    #[test]
    fn text_is_written_in_the_files_encoding() {
        let d = |e: &str| {
            opts(|o| o.encoding = Some(e.into()))
                .resolve(false)
                .unwrap()
        };
        assert_eq!(d("LATIN1").encode("é€"), b"\xe9?");
        assert_eq!(d("WIN1252").encode("é€"), b"\xe9\x80");
        assert_eq!(d("MULE_INTERNAL").encode("aé"), b"a?");
        assert_eq!(d("UTF8").encode("é"), "é".as_bytes());
    }

    #[test]
    fn upper_layers_win() {
        let top = opts(|o| o.delimiter = Some(";".into()));
        let below = opts(|o| {
            o.delimiter = Some("|".into());
            o.null = Some("NULL".into());
        });
        let d = top.over(&below).resolve(true).unwrap();
        assert_eq!((d.delimiter, d.null.as_str()), (b';', "NULL"));
    }

    #[test]
    fn bad_dialects_are_refused_as_copy_refuses_them() {
        let bad = |f: fn(&mut DialectOptions)| opts(f).resolve(false).unwrap_err().to_string();
        assert!(bad(|o| o.delimiter = Some(";;".into())).contains("single one-byte"));
        assert!(bad(|o| o.delimiter = Some("é".into())).contains("single one-byte"));
        assert!(bad(|o| o.delimiter = Some(String::new())).contains("single one-byte"));
        assert!(bad(|o| o.delimiter = Some("\n".into())).contains("newline"));
        assert!(bad(|o| o.delimiter = Some("\"".into())).contains("must be different"));
        assert!(bad(|o| o.null = Some("a,b".into())).contains("NULL string"));
        assert!(bad(|o| o.null = Some("\"x".into())).contains("NULL string"));
        assert!(bad(|o| o.null = Some("a\nb".into())).contains("newline"));
        assert!(bad(|o| o.quote = Some("ab".into())).contains("quote"));
        assert!(bad(|o| o.encoding = Some("latin 1".into())).contains("encoding"));
    }

    #[test]
    fn quoted_fields_escape_as_the_dialect_does() {
        let d = Dialect::default();
        assert_eq!(d.quoted_field("a \"b\", c"), b"\"a \"\"b\"\", c\"");
        let e = opts(|o| {
            o.quote = Some("'".into());
            o.escape = Some("\\".into());
            o.encoding = Some("LATIN1".into());
        })
        .resolve(false)
        .unwrap();
        assert_eq!(e.quoted_field("Zoë's \\"), b"'Zo\xeb\\'s \\\\'");
    }

    #[test]
    fn every_canonical_name_fkload_maps_has_a_decoder() {
        for name in [
            "UTF8", "LATIN1", "WIN1252", "LATIN9", "KOI8R", "SJIS", "UHC",
        ] {
            assert!(decoder(name).is_some(), "{name}");
        }
        assert!(decoder("MULE_INTERNAL").is_none());
        let (text, _, bad) = decoder("LATIN1").unwrap().decode(b"Jos\xe9");
        assert_eq!((text.as_ref(), bad), ("José", false));
    }
}
