//! A data file as the CSV text it holds: plain, gzip (`.csv.gz`, every member
//! of a multi-member file, as pigz and bgzip write them) or zstd (`.csv.zst`,
//! every frame), told by the name and confirmed by the first bytes.
//!
//! Everything that reads a data file reads it through [`open`] or
//! [`open_at`], so that offsets and lines are those of the text, whatever the
//! file is stored as: the header, the COPY stream, the line of an error, the
//! records of a reject file. A compressed file cannot be entered at an offset:
//! [`open_at`] reads and drops what comes before it (compressed files are
//! never cut into parts, so that happens only when an error's line is looked
//! up). [`overlapped`] moves the decompression to a thread of its own, so that
//! it runs while the previous chunk is being sent.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

/// How a data file is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// The first bytes of each compressed format.
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// How much decompressed text goes at a time through [`overlapped`]'s
/// channel, and how many such chunks may wait in it.
const CHUNK: usize = 1024 * 1024;
const CHUNKS_AHEAD: usize = 4;

impl Compression {
    /// The data-file suffixes fkload reads, each with its compression.
    pub const SUFFIXES: [(&'static str, Compression); 6] = [
        (".csv", Compression::None),
        (".csv.gz", Compression::Gzip),
        (".csv.zst", Compression::Zstd),
        (".tsv", Compression::None),
        (".tsv.gz", Compression::Gzip),
        (".tsv.zst", Compression::Zstd),
    ];

    /// The table part of a data file's name and its compression, or `None`
    /// for a name that is not a data file's.
    pub fn split_name(name: &str) -> Option<(&str, Compression)> {
        Compression::SUFFIXES
            .iter()
            .find_map(|(suffix, c)| name.strip_suffix(suffix).map(|stem| (stem, *c)))
    }

    /// The compression the name of `path` says: that of a data file's
    /// suffix, or for any other name (a file `fkload.toml` maps) `.gz` or
    /// `.zst` at its end.
    pub fn of(path: &Path) -> Compression {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        match Compression::split_name(&name) {
            Some((_, c)) => c,
            None if name.ends_with(".gz") => Compression::Gzip,
            None if name.ends_with(".zst") => Compression::Zstd,
            None => Compression::None,
        }
    }

    /// Whether a data file's name says tab-separated (`.tsv`, `.tsv.gz`,
    /// `.tsv.zst`).
    pub fn is_tsv(name: &str) -> bool {
        [".tsv", ".tsv.gz", ".tsv.zst"]
            .iter()
            .any(|s| name.ends_with(s))
    }

    /// Its name, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "plain text",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The compression the first bytes of a file show (`None` for anything
    /// else: plain text).
    fn by_magic(head: &[u8]) -> Compression {
        if head.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if head.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else {
            Compression::None
        }
    }
}

/// A data file's text, and how many bytes of the file itself were read for
/// it so far (for progress: the file's size is what the plan counts).
pub struct Input {
    text: Box<dyn Read + Send>,
    read: Arc<AtomicU64>,
    compression: Compression,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("compression", &self.compression)
            .field("read", &self.file_bytes_read())
            .finish_non_exhaustive()
    }
}

impl Input {
    /// Bytes of the file (compressed, where it is) read so far.
    pub fn file_bytes_read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// A handle that reads [`Input::file_bytes_read`] while the input is
    /// borrowed or moved.
    pub fn bytes_read_handle(&self) -> BytesRead {
        BytesRead(Arc::clone(&self.read))
    }
}

/// See [`Input::bytes_read_handle`].
#[derive(Debug, Clone)]
pub struct BytesRead(Arc<AtomicU64>);

impl BytesRead {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.text.read(buf)
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens the data file at `path` as its text, from the start.
///
/// # Errors
/// When the file cannot be opened or read, and ([`io::ErrorKind::InvalidData`])
/// when its first bytes are not those of the compression its name says: a
/// gzip or zstd file named `.csv`, a `.csv.gz` that is not gzip.
pub fn open(path: &Path) -> io::Result<Input> {
    let mut file = File::open(path)?;
    let mut head = [0u8; 4];
    let mut got = 0;
    while got < head.len() {
        match file.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let named = Compression::of(path);
    let found = Compression::by_magic(&head[..got]);
    // An empty compressed file has no magic: it is an error too (a
    // compressor never writes nothing).
    if named != found {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let message = match (named, found) {
            (Compression::None, _) => format!(
                "the file is {}-compressed, but its name ends in .csv: name it {}{}",
                found.name(),
                name,
                if found == Compression::Gzip {
                    ".gz"
                } else {
                    ".zst"
                }
            ),
            _ => format!(
                "the name says {} but the file is not {} data (it starts with {})",
                named.name(),
                named.name(),
                if got == 0 {
                    "nothing: it is empty".to_string()
                } else {
                    head[..got]
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                }
            ),
        };
        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
    }
    let read = Arc::new(AtomicU64::new(0));
    let counted = BufReader::with_capacity(
        CHUNK,
        Counting {
            inner: file,
            read: Arc::clone(&read),
        },
    );
    let text: Box<dyn Read + Send> = match named {
        Compression::None => Box::new(counted),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(counted)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(counted)?),
    };
    Ok(Input {
        text,
        read,
        compression: named,
    })
}

/// Opens the data file at `path` as its text, from byte `start` of the text:
/// a plain file seeks there, a compressed one reads up to it.
///
/// # Errors
/// As [`open`]; [`io::ErrorKind::UnexpectedEof`] when the text is shorter.
pub fn open_at(path: &Path, start: u64) -> io::Result<Input> {
    if start == 0 {
        return open(path);
    }
    if Compression::of(path) == Compression::None {
        let mut input = open(path)?;
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        if start > len {
            return Err(past_the_end(len, start));
        }
        file.seek(SeekFrom::Start(start))?;
        input.read.store(start, Ordering::Relaxed);
        input.text = Box::new(Counting {
            inner: BufReader::with_capacity(CHUNK, file),
            read: Arc::clone(&input.read),
        });
        return Ok(input);
    }
    let mut input = open(path)?;
    let skipped = io::copy(&mut (&mut input).take(start), &mut io::sink())?;
    if skipped < start {
        return Err(past_the_end(skipped, start));
    }
    Ok(input)
}

fn past_the_end(len: u64, start: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the text ends at byte {len}, before byte {start}"),
    )
}

/// `input` with its decompression on a thread of its own, a few chunks
/// ahead of the reader; a plain file is returned as it is (reading it costs
/// little). The thread ends when the text ends, on an error (handed to the
/// reader), or when the reader is dropped.
pub fn overlapped(input: Input) -> Input {
    if input.compression == Compression::None {
        return input;
    }
    let Input {
        mut text,
        read,
        compression,
    } = input;
    let (tx, rx) = mpsc::sync_channel::<io::Result<Option<Vec<u8>>>>(CHUNKS_AHEAD);
    let spawned = std::thread::Builder::new()
        .name("fkload-decompress".into())
        .spawn(move || {
            loop {
                let mut chunk = vec![0u8; CHUNK];
                let mut filled = 0;
                let result = loop {
                    match text.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == chunk.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(filled);
                let done = filled == 0 || result.is_err();
                if filled > 0 && tx.send(Ok(Some(chunk))).is_err() {
                    return;
                }
                match result {
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                    // The end, said: a thread that stops without saying it
                    // (a panic) is an error to the reader, never an end.
                    Ok(()) if done => {
                        let _ = tx.send(Ok(None));
                        return;
                    }
                    Ok(()) => {}
                }
            }
        });
    match spawned {
        Ok(_) => Input {
            text: Box::new(Channel {
                rx,
                chunk: Vec::new(),
                at: 0,
                ended: false,
            }),
            read,
            compression,
        },
        // No thread to be had: the reader decompresses as it reads. The
        // text went into the closure; reopen is not possible here, so fail
        // the reads with the reason.
        Err(e) => Input {
            text: Box::new(Failed(Some(e))),
            read,
            compression,
        },
    }
}

/// The reading end of [`overlapped`].
struct Channel {
    rx: mpsc::Receiver<io::Result<Option<Vec<u8>>>>,
    chunk: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at == self.chunk.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(Some(chunk))) => {
                    self.chunk = chunk;
                    self.at = 0;
                }
                Ok(Ok(None)) => {
                    self.ended = true;
                    return Ok(0);
                }
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvError) => {
                    return Err(io::Error::other(
                        "the decompression stopped before the end of the file",
                    ));
                }
            }
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Reads that fail with the error that kept [`overlapped`] from starting.
struct Failed(Option<io::Error>);

impl Read for Failed {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("the decompression thread did not start")))
    }
}

/// The part of a file one COPY sends: from `start` to `end` (bytes), starting
/// at a record boundary. Only the part at 0 has the header. `line_base` is the
/// editor's line number just before the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub start: u64,
    pub end: u64,
    pub header: bool,
    pub line_base: u64,
}

impl Part {
    /// The whole file, with or without a header.
    pub fn whole(header: bool) -> Part {
        Part {
            start: 0,
            end: u64::MAX,
            header,
            line_base: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(members: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in members {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(m).unwrap();
            out.extend(e.finish().unwrap());
        }
        out
    }

    fn zstd_frames(frames: &[&[u8]]) -> Vec<u8> {
        frames
            .iter()
            .flat_map(|f| zstd::stream::encode_all(*f, 1).unwrap())
            .collect()
    }

    fn read_all(mut input: Input) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        input.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn every_member_and_frame_is_read_plain_or_overlapped_from_any_offset() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"id,note\n1,\"a\nb\"\n2,x\n3,y\n";
        // Cut inside a quoted field and inside a record.
        let (a, b) = text.split_at(12);
        for (name, bytes) in [
            ("t.csv", text.to_vec()),
            ("t.csv.gz", gzip(&[a, b])),
            ("t.csv.zst", zstd_frames(&[a, b])),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(read_all(open(&p).unwrap()).unwrap(), text, "{name}");
            let over = overlapped(open(&p).unwrap());
            assert_eq!(read_all(over).unwrap(), text, "{name} overlapped");
            for start in [0, 1, 12, 13, text.len() as u64] {
                let got = read_all(open_at(&p, start).unwrap()).unwrap();
                assert_eq!(got, &text[start as usize..], "{name} from {start}");
            }
            assert!(open_at(&p, text.len() as u64 + 1).is_err(), "{name}");
            let mut input = open(&p).unwrap();
            io::copy(&mut input, &mut io::sink()).unwrap();
            assert_eq!(input.file_bytes_read(), bytes.len() as u64, "{name}");
        }
    }

    #[test]
    fn a_name_that_lies_about_the_bytes_is_an_error_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"id\n1\n";
        for (name, bytes, says) in [
            (
                "g.csv",
                gzip(&[text]),
                "gzip-compressed, but its name ends in .csv: name it g.csv.gz",
            ),
            (
                "z.csv",
                zstd_frames(&[text]),
                "zstd-compressed, but its name ends in .csv: name it z.csv.zst",
            ),
            (
                "p.csv.gz",
                text.to_vec(),
                "the name says gzip but the file is not gzip data (it starts with 69 64 0a 31)",
            ),
            (
                "p.csv.zst",
                gzip(&[text]),
                "the name says zstd but the file is not zstd data (it starts with 1f 8b",
            ),
            (
                "e.csv.gz",
                Vec::new(),
                "it starts with nothing: it is empty",
            ),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            let e = open(&p).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{name}");
            assert!(e.to_string().contains(says), "{name}: {e}");
        }
    }

    /// A decompression that stops without saying it ended (a panic on its
    /// thread) fails the read: it must never pass for the end of the text.
    #[test]
    fn a_decompression_that_dies_is_an_error_not_an_end() {
        struct Dies(usize);
        impl Read for Dies {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    panic!("the decompressor died");
                }
                self.0 -= 1;
                buf[0] = b'x';
                Ok(1)
            }
        }
        let input = Input {
            text: Box::new(Dies(3)),
            read: Arc::new(AtomicU64::new(0)),
            compression: Compression::Gzip,
        };
        let e = read_all(overlapped(input)).unwrap_err();
        assert!(e.to_string().contains("the decompression stopped"), "{e}");
    }

    #[test]
    fn a_truncated_file_fails_to_read_plain_or_overlapped() {
        let dir = tempfile::tempdir().unwrap();
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{i},row {i}\n").into_bytes())
            .collect();
        for (name, bytes) in [
            ("t.csv.gz", gzip(&[&text])),
            ("t.csv.zst", zstd_frames(&[&text])),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
            assert!(read_all(open(&p).unwrap()).is_err(), "{name}");
            assert!(
                read_all(overlapped(open(&p).unwrap())).is_err(),
                "{name} overlapped"
            );
        }
    }
}
