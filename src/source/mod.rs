//! Sources: where log bytes come from.
//!
//! An INPUT argument is a path, a glob, a directory of rotated logs, `-`
//! (stdin) or `journal`; [`expand`] turns the arguments into an ordered list of
//! [`Input`]s (rotated series oldest first) and [`open`] gives a reader with
//! compression detected by magic bytes, not by name: some rotators gzip without
//! a `.gz` suffix.

pub(crate) mod fingerprint;
pub(crate) mod http;
pub(crate) mod rotate;
pub(crate) mod syslog;
pub(crate) mod tail;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::SystemTime;

use thiserror::Error;

/// One thing to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    File(PathBuf),
    Stdin,
    /// `journalctl -o json` for sshd, sshd-session and sshd-auth: the system's
    /// journal, or (`journal:DIR`) the journal files in DIR (copied from another
    /// machine, a container's `/var/log/journal`).
    Journal(Option<PathBuf>),
}

/// journalctl's arguments for sshd's messages as JSON, from the system's
/// journal or the journal files in `dir`.
pub fn journalctl_args(dir: Option<&Path>) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(d) = dir {
        let mut a = std::ffi::OsString::from("--directory=");
        a.push(d.as_os_str());
        args.push(a);
    }
    for a in [
        "-o",
        "json",
        "--no-pager",
        "_COMM=sshd",
        "_COMM=sshd-session",
        "_COMM=sshd-auth",
    ] {
        args.push(a.into());
    }
    args
}

impl Input {
    /// The name events carry in `src.input`.
    pub fn name(&self) -> String {
        match self {
            Input::File(p) => p.display().to_string(),
            Input::Stdin => "-".into(),
            Input::Journal(None) => "journal".into(),
            Input::Journal(Some(d)) => format!("journal:{}", d.display()),
        }
    }
}

#[derive(Debug, Error)]
pub enum SourceError {
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0}: no such file, directory or glob match")]
    NotFound(String),
    #[error("{pattern}: invalid glob pattern: {msg}")]
    BadGlob { pattern: String, msg: String },
    #[error(
        "journal: cannot run journalctl ({0}); is this a systemd machine? Pass a log file instead"
    )]
    Journal(io::Error),
}

/// Expands INPUT arguments. Problems with one argument are returned beside the
/// inputs that could be found, so the rest is still processed.
pub fn expand(args: &[String]) -> (Vec<Input>, Vec<SourceError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-" => inputs.push(Input::Stdin),
            "journal" if !Path::new(arg).exists() => inputs.push(Input::Journal(None)),
            _ if arg.starts_with("journal:") && !Path::new(arg).exists() => {
                let dir = PathBuf::from(&arg["journal:".len()..]);
                if dir.is_dir() {
                    inputs.push(Input::Journal(Some(dir)));
                } else {
                    errors.push(SourceError::NotFound(arg.clone()));
                }
            }
            _ => {
                let path = Path::new(arg);
                if path.is_dir() {
                    match std::fs::read_dir(path) {
                        Ok(rd) => {
                            let files: Vec<PathBuf> = rd
                                .filter_map(|e| e.ok())
                                .map(|e| e.path())
                                .filter(|p| p.is_file())
                                .collect();
                            inputs.extend(rotate::order(files).into_iter().map(Input::File));
                        }
                        Err(source) => errors.push(SourceError::Io {
                            path: arg.clone(),
                            source,
                        }),
                    }
                } else if path.exists() || !has_glob_chars(arg) {
                    // A missing plain path is reported when it is opened.
                    inputs.push(Input::File(path.to_path_buf()));
                } else {
                    match glob::glob(arg) {
                        Ok(paths) => {
                            let files: Vec<PathBuf> = paths
                                .filter_map(|p| p.ok())
                                .filter(|p| p.is_file())
                                .collect();
                            if files.is_empty() {
                                errors.push(SourceError::NotFound(arg.clone()));
                            }
                            inputs.extend(rotate::order(files).into_iter().map(Input::File));
                        }
                        Err(e) => errors.push(SourceError::BadGlob {
                            pattern: arg.clone(),
                            msg: e.to_string(),
                        }),
                    }
                }
            }
        }
    }
    (inputs, errors)
}

fn has_glob_chars(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

/// With no INPUT: the system's log, and a note saying which.
pub fn autodetect() -> (Vec<Input>, String) {
    autodetect_in(Path::new("/"))
}

/// [`autodetect`] under another root directory (for tests).
pub fn autodetect_in(root: &Path) -> (Vec<Input>, String) {
    for base in ["var/log/auth.log", "var/log/secure"] {
        let full = root.join(base);
        let base = full.display().to_string();
        let p = full.as_path();
        if p.is_file() {
            let dir = p.parent().unwrap_or(Path::new("/"));
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let series: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|q| {
                            q.file_name()
                                .and_then(|n| n.to_str())
                                .is_some_and(|n| rotate::base_name(n) == name)
                        })
                        .collect()
                })
                .unwrap_or_else(|_| vec![p.to_path_buf()]);
            let n = series.len();
            let note = format!(
                "no INPUT given: reading {base} and {} rotated file(s)",
                n.saturating_sub(1)
            );
            return (
                rotate::order(series).into_iter().map(Input::File).collect(),
                note,
            );
        }
    }
    (
        vec![Input::Journal(None)],
        "no INPUT given and no /var/log/auth.log or /var/log/secure: reading the journal".into(),
    )
}

/// An open input: a reader and what is known about it.
pub struct Opened {
    pub reader: Box<dyn Read + Send>,
    /// Modification time (files), used to infer years; `None` for streams.
    pub mtime: Option<SystemTime>,
    /// `journalctl` child, waited for when the reader is done.
    pub child: Option<Child>,
    pub compression: Compression,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Opens an input for reading, decompressing by magic bytes.
pub fn open(input: &Input) -> Result<Opened, SourceError> {
    match input {
        Input::File(path) => {
            let io_err = |source| SourceError::Io {
                path: path.display().to_string(),
                source,
            };
            let file = File::open(path).map_err(io_err)?;
            let meta = file.metadata().map_err(io_err)?;
            if meta.is_dir() {
                return Err(io_err(io::Error::other("is a directory")));
            }
            let (reader, compression) = decompress(Box::new(file)).map_err(io_err)?;
            Ok(Opened {
                reader,
                mtime: meta.modified().ok(),
                child: None,
                compression,
            })
        }
        Input::Stdin => {
            let (reader, compression) =
                decompress(Box::new(io::stdin())).map_err(|source| SourceError::Io {
                    path: "-".into(),
                    source,
                })?;
            Ok(Opened {
                reader,
                mtime: None,
                child: None,
                compression,
            })
        }
        Input::Journal(dir) => open_journal(dir.as_deref(), None),
    }
}

/// `journalctl -o json` for sshd's messages, from the start of the journal or
/// after `cursor`.
pub fn open_journal(dir: Option<&Path>, cursor: Option<&str>) -> Result<Opened, SourceError> {
    let mut cmd = Command::new("journalctl");
    cmd.args(journalctl_args(dir));
    if let Some(c) = cursor {
        cmd.arg(format!("--after-cursor={c}"));
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(SourceError::Journal)?;
    let out = child.stdout.take().expect("piped stdout");
    Ok(Opened {
        reader: Box::new(out),
        mtime: None,
        child: Some(child),
        compression: Compression::None,
    })
}

/// Rewrites journalctl's JSON lines with their fields in name order.
/// journalctl prints an entry's fields in hash order, which differs between
/// runs; `ingest` needs the same bytes for the same entries (its checkpoints
/// are byte offsets). Lines that are not JSON objects pass unchanged.
pub struct SortedJson<R: BufRead> {
    inner: R,
    line: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
}

impl<R: BufRead> SortedJson<R> {
    pub fn new(inner: R) -> Self {
        SortedJson {
            inner,
            line: Vec::new(),
            out: Vec::new(),
            pos: 0,
        }
    }
}

impl<R: BufRead> SortedJson<R> {
    /// Appends the next line, sorted, to `out`; false at the end.
    fn refill(&mut self) -> io::Result<bool> {
        self.line.clear();
        if self.inner.read_until(b'\n', &mut self.line)? == 0 {
            return Ok(false);
        }
        let body = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
        // serde_json's map is ordered by key (no `preserve_order` feature).
        match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body) {
            Ok(m) => {
                serde_json::to_writer(&mut self.out, &m).map_err(io::Error::other)?;
                self.out.push(b'\n');
            }
            Err(_) => self.out.extend_from_slice(&self.line),
        }
        Ok(true)
    }
}

impl<R: BufRead> Read for SortedJson<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Keep only what the caller has not taken yet (at most one line's worth).
        self.out.drain(..self.pos);
        self.pos = 0;
        // Whole lines until the caller's buffer can be filled.
        while self.out.len() - self.pos < buf.len() && self.refill()? {}
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Wraps `inner` in the decoder its first bytes call for.
pub fn decompress(inner: Box<dyn Read + Send>) -> io::Result<(Box<dyn Read + Send>, Compression)> {
    // Small enough that the block reader's 1 MiB reads bypass it once the
    // peeked head is used up (a plain file's bytes are then copied once).
    let mut buf = BufReader::with_capacity(64 << 10, inner);
    let head = buf.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        // Multi-member: `cat a.gz b.gz` and some rotators produce several members.
        return Ok((
            Box::new(GzipErrors(flate2::bufread::MultiGzDecoder::new(buf))),
            Compression::Gzip,
        ));
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let dec = zstd::stream::read::Decoder::with_buffer(buf)?;
        return Ok((Box::new(dec), Compression::Zstd));
    }
    Ok((Box::new(buf), Compression::None))
}

/// Says what a gzip decoding error means for the user: the file is cut or
/// damaged, and what came before the damage was read.
struct GzipErrors<R>(R);

impl<R: Read> Read for GzipErrors<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| {
            let what = if e.kind() == io::ErrorKind::UnexpectedEof {
                "gzip data ends early (truncated file?)"
            } else {
                "damaged gzip data"
            };
            io::Error::new(
                e.kind(),
                format!("{what}: {e}; the whole lines before it were read"),
            )
        })
    }
}

/// Reads whole-line blocks of about `size` bytes. A line longer than a block
/// is skipped up to its newline and reported through `on_too_long`.
///
/// A read error (a truncated gzip member, a disk error) ends the input, but
/// the whole lines read before it are still returned; the error comes on the
/// next call. The cut line is dropped: its last field may be a cut address.
pub struct BlockReader<R: Read> {
    inner: R,
    size: usize,
    carry: Vec<u8>,
    eof: bool,
    skipping: bool,
    error: Option<io::Error>,
}

impl<R: Read> BlockReader<R> {
    pub fn new(inner: R, size: usize) -> Self {
        BlockReader {
            inner,
            size: size.max(1024),
            carry: Vec::new(),
            eof: false,
            skipping: false,
            error: None,
        }
    }

    /// The next block (ending at a newline, or at end of input), and whether a
    /// too-long line was dropped before it. `None` at the end.
    pub fn next_block(&mut self) -> io::Result<Option<(Vec<u8>, u64)>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut dropped = 0u64;
        loop {
            if self.eof && self.carry.is_empty() {
                return Ok(None);
            }
            let mut buf = std::mem::take(&mut self.carry);
            buf.reserve(self.size);
            while buf.len() < self.size && !self.eof {
                let start = buf.len();
                buf.resize(self.size.max(start + 1), 0);
                match self.inner.read(&mut buf[start..]) {
                    Ok(0) => {
                        buf.truncate(start);
                        self.eof = true;
                    }
                    Ok(n) => buf.truncate(start + n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(start),
                    Err(e) => {
                        buf.truncate(start);
                        let whole = if self.skipping {
                            0
                        } else {
                            memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
                        };
                        buf.truncate(whole);
                        self.eof = true;
                        if buf.is_empty() {
                            return Err(e);
                        }
                        self.error = Some(e);
                        return Ok(Some((buf, dropped)));
                    }
                }
            }
            if self.skipping {
                match memchr::memchr(b'\n', &buf) {
                    Some(i) => {
                        self.skipping = false;
                        buf.drain(..=i);
                        dropped += 1;
                    }
                    None => {
                        if self.eof {
                            dropped += 1;
                            self.skipping = false;
                        }
                        continue;
                    }
                }
            }
            if self.eof {
                if buf.is_empty() {
                    return Ok(if dropped > 0 {
                        Some((Vec::new(), dropped))
                    } else {
                        None
                    });
                }
                return Ok(Some((buf, dropped)));
            }
            match memchr::memrchr(b'\n', &buf) {
                Some(i) => {
                    self.carry = buf.split_off(i + 1);
                    return Ok(Some((buf, dropped)));
                }
                None => {
                    // One line fills the whole block: it is not an sshd line.
                    self.skipping = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn block_reader_splits_at_newlines_and_drops_giant_lines() {
        let mut data = Vec::new();
        for i in 0..1000 {
            writeln!(data, "line {i}").unwrap();
        }
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend_from_slice(b"\nlast");
        let mut r = BlockReader::new(&data[..], 1024);
        let mut text = Vec::new();
        let mut dropped = 0;
        while let Some((b, d)) = r.next_block().unwrap() {
            assert!(b.is_empty() || b.ends_with(b"\n") || b.ends_with(b"last"));
            text.extend_from_slice(&b);
            dropped += d;
        }
        assert_eq!(dropped, 1);
        let s = String::from_utf8(text).unwrap();
        assert!(s.starts_with("line 0\n") && s.ends_with("line 999\nlast"));
    }

    /// Issue #14: a gzip cut short lost its last block (1 MiB of lines).
    #[test]
    fn truncated_gzip_gives_its_whole_lines_then_the_error() {
        use flate2::write::GzEncoder;
        let mut text = Vec::new();
        for i in 0..20_000 {
            writeln!(text, "line {i} from 192.0.2.{}", i % 250).unwrap();
        }
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let full = gz.finish().unwrap();
        let cut = full[..full.len() * 3 / 4].to_vec();
        let (r, _) = decompress(Box::new(io::Cursor::new(cut))).unwrap();
        let mut r = BlockReader::new(r, 64 * 1024);
        let mut got = Vec::new();
        let err = loop {
            match r.next_block() {
                Ok(Some((b, _))) => got.extend_from_slice(&b),
                Ok(None) => panic!("a truncated gzip must end in an error"),
                Err(e) => break e,
            }
        };
        // What zcat shows of the cut file, up to its last whole line.
        let mut readable = Vec::new();
        let _ = io::copy(
            &mut flate2::read::GzDecoder::new(&full[..full.len() * 3 / 4]),
            &mut readable,
        );
        readable.truncate(memchr::memrchr(b'\n', &readable).unwrap() + 1);
        assert!(readable.len() > text.len() / 2);
        assert_eq!(got.len(), readable.len(), "every whole line zcat shows");
        assert!(text.starts_with(&got));
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{err}");
        assert!(r.next_block().unwrap().is_none(), "nothing after the error");
    }

    #[test]
    fn magic_bytes_pick_the_decoder() {
        use flate2::write::GzEncoder;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"a\n").unwrap();
        let mut two = gz.finish().unwrap();
        let mut gz2 = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz2.write_all(b"b\n").unwrap();
        two.extend(gz2.finish().unwrap());
        let (mut r, c) = decompress(Box::new(io::Cursor::new(two))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((c, s.as_str()), (Compression::Gzip, "a\nb\n"));
        let z = zstd::encode_all(&b"z\n"[..], 1).unwrap();
        let (mut r, c) = decompress(Box::new(io::Cursor::new(z))).unwrap();
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!((c, s.as_str()), (Compression::Zstd, "z\n"));
    }
}
