//! `sshmap ingest`: reads inputs into a [`Store`] exactly once, resuming each
//! from its checkpoint.
//!
//! An input is known by the hash of its first line ([`fingerprint`]), not by
//! its path: `auth.log` renamed to `auth.log.1`, or gzipped to `auth.log.2.gz`,
//! is the same input, so only its unread tail is added; a copytruncated file
//! starts with a new first line and is a new input.
//!
//! Why a read restarts before the checkpoint: the correlator holds events back
//! until their connection reveals its address, and an event's attempts depend
//! on earlier lines of its connection. So a checkpoint records three points,
//! all at block boundaries of the decompressed stream:
//!
//! - `end`: everything before it was read;
//! - `keep` (at least [`WINDOW_LINES`] before `end`, at a point where the
//!   correlator held nothing back): events before it are final;
//! - `warm` (another window earlier): where the next read starts, with the
//!   year-inference state saved there, to rebuild connection state.
//!
//! The next read replays `warm..keep` without storing, and replaces the stored
//! events from `keep` on with what it derives now that it sees more of the
//! input. Each commit (events, rollups, checkpoint) is one transaction, so a
//! kill at any point leaves the store at the previous commit, and the next run
//! converges on what one clean read gives.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;

use super::{Batch, Checkpoint, Store, StoreError};
use crate::event::{Event, Ts};
use crate::parse::{self, correlate::STALE_LINES, BlockStats, Correlator};
use crate::pipeline;
use crate::source::{self, Compression, Input};

/// How far behind the end of a read events stay provisional, and how far
/// before `keep` a resumed read starts: twice the correlator's hold horizon.
pub const WINDOW_LINES: u64 = 2 * STALE_LINES;
/// Bytes per parse block (the granularity of checkpoints).
pub const BLOCK: usize = 1 << 20;
/// Blocks parsed in parallel, and committed together.
pub const BATCH: usize = 8;
/// The fingerprint covers the first line, at most this many bytes.
pub const FP_MAX: usize = 4096;
/// Bytes before `warm` that must still match when a read resumes.
const GUARD: usize = 256;

/// What one input gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub input: String,
    /// Net events added to the store by this run.
    pub added: i64,
    /// Bytes read past the previous checkpoint.
    pub new_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// 64-bit FNV-1a: stable across versions and platforms (unlike `std`'s hasher).
pub fn fnv1a(bytes: &[u8]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// The fingerprint of an input whose decompressed stream starts with `head`:
/// the hash of its first line (newline included, at most [`FP_MAX`] bytes).
/// `None` while the input has no complete first line yet.
pub fn fingerprint(head: &[u8], at_eof: bool) -> Option<i64> {
    let n = match memchr::memchr(b'\n', &head[..head.len().min(FP_MAX)]) {
        Some(i) => i + 1,
        None if head.len() >= FP_MAX => FP_MAX,
        None if at_eof && !head.is_empty() => head.len(),
        None => return None,
    };
    Some(fnv1a(&head[..n]))
}

/// Ingests every input in turn; a problem with one is reported in its
/// [`IngestReport`] and the others go on. Only a store failure stops the run.
pub fn run(
    store: &mut dyn Store,
    inputs: &[Input],
    opts: &pipeline::Options,
    enrich: &mut dyn FnMut(&mut Event),
) -> Result<Vec<IngestReport>, StoreError> {
    let mut out = Vec::with_capacity(inputs.len());
    // Files as they were known before this run: a new first line in a known
    // file (same device and inode) means it was truncated in place.
    let known: Vec<(u64, u64)> = store
        .checkpoints()?
        .into_iter()
        .filter(|c| c.dev != 0 || c.ino != 0)
        .map(|c| (c.dev, c.ino))
        .collect();
    for input in inputs {
        let mut report = IngestReport {
            input: input.name(),
            ..IngestReport::default()
        };
        match ingest_one(store, input, opts, enrich, &known, &mut report) {
            Ok(()) => {}
            Err(Failure::Input(msg)) => report.error = Some(msg),
            Err(Failure::Store(StoreError::Concurrent { input })) => {
                report.error = Some(StoreError::Concurrent { input }.to_string())
            }
            Err(Failure::Store(e)) => return Err(e),
        }
        out.push(report);
    }
    Ok(out)
}

enum Failure {
    /// This input could not be read; the run goes on.
    Input(String),
    Store(StoreError),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

/// A block boundary: a place a later read may start or keep from.
#[derive(Clone, Debug)]
struct Boundary {
    offset: u64,
    /// Number of the line that starts here.
    line: u64,
    year: Option<(i32, u8)>,
    /// The correlator held nothing back here.
    idle: bool,
    /// Line statistics before this point (known from `keep` on).
    stats: Option<BlockStats>,
    guard_hash: i64,
    guard_len: u64,
    /// Journal inputs: the cursor of the last entry before this point.
    cursor: Option<String>,
}

fn ingest_one(
    store: &mut dyn Store,
    input: &Input,
    opts: &pipeline::Options,
    enrich: &mut dyn FnMut(&mut Event),
    known: &[(u64, u64)],
    report: &mut IngestReport,
) -> Result<(), Failure> {
    let name = input.name();
    // The journal is one input per directory, read after the cursor of its checkpoint.
    let journal_fp = match input {
        Input::Journal(_) => Some(fnv1a(format!("journal\0{name}").as_bytes())),
        _ => None,
    };
    let opened = match (input, journal_fp) {
        (Input::Journal(dir), Some(fp)) => {
            let cursor = store.checkpoint(fp)?.and_then(|c| c.cursor);
            source::open_journal(dir.as_deref(), cursor.as_deref()).map(|mut o| {
                o.reader = Box::new(source::SortedJson::new(io::BufReader::with_capacity(
                    1 << 16,
                    o.reader,
                )));
                o
            })
        }
        _ => source::open(input),
    }
    .map_err(|e| Failure::Input(e.to_string()))?;
    let mut child = opened.child;
    let res = ingest_opened(
        store,
        input,
        journal_fp,
        &name,
        opened.reader,
        opened.mtime,
        opened.compression,
        opts,
        enrich,
        known,
        report,
    );
    if let Some(c) = child.as_mut() {
        let _ = c.kill();
        let _ = c.wait();
    }
    res
}

#[allow(clippy::too_many_arguments)]
fn ingest_opened(
    store: &mut dyn Store,
    input: &Input,
    journal_fp: Option<i64>,
    name: &str,
    mut reader: Box<dyn Read + Send>,
    mtime: Option<SystemTime>,
    compression: Compression,
    opts: &pipeline::Options,
    enrich: &mut dyn FnMut(&mut Event),
    known: &[(u64, u64)],
    report: &mut IngestReport,
) -> Result<(), Failure> {
    let io_fail = |e: io::Error| Failure::Input(format!("{name}: {e}"));
    // The first line, for the fingerprint.
    let mut head = Vec::with_capacity(FP_MAX);
    let mut at_eof = false;
    while head.len() < FP_MAX && memchr::memchr(b'\n', &head).is_none() {
        let mut buf = [0u8; 4096];
        let want = (FP_MAX - head.len()).min(buf.len());
        match reader.read(&mut buf[..want]) {
            Ok(0) => {
                at_eof = true;
                break;
            }
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_fail(e)),
        }
    }
    let journal = journal_fp.is_some();
    let Some(fp) = journal_fp.or_else(|| fingerprint(&head, at_eof)) else {
        report.note = Some("empty: nothing to ingest yet".into());
        return Ok(());
    };
    let (dev, ino, size) = match input {
        Input::File(p) => {
            use std::os::unix::fs::MetadataExt;
            let m = std::fs::metadata(p).map_err(io_fail)?;
            (m.dev(), m.ino(), Some(m.len()))
        }
        _ => (0, 0, None),
    };
    let plain_file = matches!(input, Input::File(_)) && compression == Compression::None;
    let mut cp = match store.checkpoint(fp)? {
        Some(cp) => cp,
        None => {
            if (dev != 0 || ino != 0) && known.contains(&(dev, ino)) {
                report.note =
                    Some("copytruncate detected: reading the new content from its start".into());
            }
            store.claim(fp, name, dev, ino)?
        }
    };
    cp.name = name.to_string();
    cp.dev = dev;
    cp.ino = ino;
    let old = cp.clone();
    if plain_file {
        if let Some(size) = size {
            if old.end_offset > 0 && size == old.end_offset {
                report.note = Some("up to date".into());
                return Ok(());
            }
            if size < old.end_offset {
                return Err(Failure::Input(format!(
                    "{name}: shorter ({size} bytes) than when it was last ingested ({} bytes) although it starts \
                     with the same line; nothing was changed for it",
                    old.end_offset
                )));
            }
        }
    }
    // Position the stream at the guard bytes before `warm`.
    // (journalctl already starts there: after the cursor saved with `warm`).
    let guard_start = if journal {
        0
    } else {
        old.warm_offset - old.warm_hash_len
    };
    let mut stream: Box<dyn Read + Send> = if plain_file && guard_start > head.len() as u64 {
        let Input::File(p) = input else {
            unreachable!()
        };
        let mut f = File::open(p).map_err(io_fail)?;
        f.seek(SeekFrom::Start(guard_start)).map_err(io_fail)?;
        Box::new(io::BufReader::with_capacity(1 << 16, f))
    } else {
        let mut r: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(reader));
        let skipped =
            io::copy(&mut (&mut r).take(guard_start), &mut io::sink()).map_err(io_fail)?;
        if skipped < guard_start {
            return Err(Failure::Input(format!(
                "{name}: shorter than when it was last ingested although it starts with the same line; nothing was \
                 changed for it"
            )));
        }
        r
    };
    if !journal && old.warm_hash_len > 0 {
        let mut guard = vec![0u8; old.warm_hash_len as usize];
        stream.read_exact(&mut guard).map_err(io_fail)?;
        if fnv1a(&guard) != old.warm_hash {
            return Err(Failure::Input(format!(
                "{name}: starts like an input ingested before but its content differs; it was left out (ingest it \
                 into another --db to read it whole)"
            )));
        }
    }

    let reference = {
        let micros = mtime
            .unwrap_or_else(SystemTime::now)
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        let offset = jiff::Timestamp::from_microsecond(micros)
            .map(|t| opts.tz.to_offset(t).seconds())
            .unwrap_or(0);
        Ts::from_micros(micros, offset)
    };
    let copts = parse::Options {
        all: false,
        year: opts.year,
        tz: opts.tz.clone(),
        reference,
    };
    let mut corr = Correlator::new(Arc::from(name), copts);
    corr.set_year_state(old.warm_year);

    let mut blocks = Blocks::new(stream, old.warm_offset, Some(old.keep_offset));
    let mut boundaries = vec![Boundary {
        offset: old.warm_offset,
        line: old.warm_line,
        year: old.warm_year,
        idle: true,
        stats: (old.warm_offset == old.keep_offset).then_some(old.keep_stats),
        guard_hash: old.warm_hash,
        guard_len: old.warm_hash_len,
        cursor: old.cursor.clone(),
    }];
    let mut stats = old.keep_stats;
    let mut pending: Vec<Event> = Vec::new();
    let mut first_commit = true;
    let keep_line = old.keep_line;
    let mut emit = |mut ev: Event, pending: &mut Vec<Event>| {
        if ev.src.line >= keep_line {
            enrich(&mut ev);
            pending.push(ev);
        }
    };
    // Three stages overlap: a reader thread reads and parses (in parallel)
    // the next batch of blocks, this thread correlates and enriches, and a
    // writer thread commits. Commits stay in order; the first failure stops
    // the writer, and no later batch is committed.
    let (parsed_tx, parsed_rx) = std::sync::mpsc::sync_channel::<io::Result<Parsed>>(1);
    let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Job>(1);
    let first_line = old.warm_line;
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut next_line = first_line;
            loop {
                let mut batch = Vec::with_capacity(BATCH);
                let mut eof = false;
                while batch.len() < BATCH {
                    match blocks.next() {
                        Ok(Some(c)) => batch.push(c),
                        Ok(None) => {
                            eof = true;
                            break;
                        }
                        Err(e) => {
                            let _ = parsed_tx.send(Err(e));
                            return;
                        }
                    }
                }
                let mut firsts = Vec::with_capacity(batch.len());
                for c in &batch {
                    let first = next_line + c.dropped;
                    let n = memchr::memchr_iter(b'\n', &c.bytes).count() as u64
                        + u64::from(!c.bytes.is_empty() && !c.bytes.ends_with(b"\n"));
                    firsts.push(first);
                    next_line = first + n;
                }
                let blocks: Vec<parse::Block> = batch
                    .par_iter()
                    .zip(&firsts)
                    .map(|(c, &first)| parse::parse_block(&c.bytes, first, false))
                    .collect();
                let chunks = batch
                    .iter()
                    .zip(&firsts)
                    .map(|(c, &first)| {
                        // A journal is re-read after its cursor, not checked by bytes.
                        let tail = if journal {
                            &[][..]
                        } else {
                            &c.bytes[c.bytes.len().saturating_sub(GUARD)..]
                        };
                        ChunkInfo {
                            start: c.start,
                            end: c.end,
                            dropped: c.dropped,
                            first,
                            guard_hash: if journal { 0 } else { fnv1a(tail) },
                            guard_len: tail.len() as u64,
                            cursor: if journal { last_cursor(&c.bytes) } else { None },
                        }
                    })
                    .collect();
                if parsed_tx
                    .send(Ok(Parsed {
                        chunks,
                        blocks,
                        next_line,
                        eof,
                    }))
                    .is_err()
                    || eof
                {
                    return;
                }
            }
        });
        let writer = scope.spawn(move || {
            let mut added = 0i64;
            for job in jobs_rx {
                let batch = Batch {
                    checkpoint: &job.checkpoint,
                    expected_version: job.expected_version,
                    replace_from: job.replace_from,
                    events: &job.events,
                };
                match store.commit(batch) {
                    Ok(n) => added += n,
                    Err(e) => return (added, Some(e)),
                }
            }
            (added, None)
        });
        let res = (|| -> Result<(), Failure> {
            for parsed in parsed_rx.iter() {
                let Parsed {
                    chunks,
                    blocks,
                    next_line,
                    eof,
                } = parsed.map_err(io_fail)?;
                for (i, (c, block)) in chunks.iter().zip(blocks).enumerate() {
                    if c.start >= old.keep_offset {
                        stats.add(&block.stats);
                        stats.lines += c.dropped;
                        stats.too_long += c.dropped;
                    }
                    for raw in block.lines {
                        corr.push(raw, &mut |ev| emit(ev, &mut pending));
                    }
                    let line_after = chunks.get(i + 1).map_or(next_line, |n| n.first);
                    boundaries.push(Boundary {
                        offset: c.end,
                        line: line_after,
                        year: corr.year_state(),
                        idle: corr.held_since().is_none(),
                        stats: (c.end >= old.keep_offset).then_some(stats),
                        guard_hash: c.guard_hash,
                        guard_len: c.guard_len,
                        cursor: c.cursor.clone(),
                    });
                }
                let pos = boundaries.last().expect("at least the start").offset;
                if eof {
                    corr.finish_all(&mut |ev| emit(ev, &mut pending));
                    if let Some(b) = boundaries.last_mut() {
                        b.idle = true;
                    }
                    if pos < old.end_offset {
                        return Err(Failure::Input(format!(
                            "{name}: shorter ({pos} bytes) than when it was last ingested ({} bytes) although it \
                             starts with the same line; nothing was changed for it",
                            old.end_offset
                        )));
                    }
                    if pos == old.end_offset && first_commit && old.version > 0 {
                        report.note = Some("up to date".into());
                        return Ok(());
                    }
                }
                if pos < old.end_offset {
                    // Not past what is stored yet: a commit now could drop stored events.
                    continue;
                }
                report.new_bytes = pos - old.end_offset;
                let replace_from = first_commit.then_some(old.keep_line);
                advance(&mut cp, &mut boundaries);
                let expected = cp.version;
                cp.version += 1;
                let job = Job {
                    checkpoint: cp.clone(),
                    expected_version: expected,
                    replace_from,
                    events: std::mem::take(&mut pending),
                };
                if jobs_tx.send(job).is_err() {
                    // The writer stopped on an error, reported below.
                    break;
                }
                first_commit = false;
            }
            Ok(())
        })();
        drop(jobs_tx);
        drop(parsed_rx);
        let (added, err) = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        report.added += added;
        match err {
            Some(e) => Err(Failure::Store(e)),
            None => res,
        }
    })
}

/// A parsed batch of blocks, from the reader thread.
struct Parsed {
    chunks: Vec<ChunkInfo>,
    blocks: Vec<parse::Block>,
    /// The number of the line after the batch.
    next_line: u64,
    eof: bool,
}

/// Where a block lies, and the hash of its last bytes (a later read's guard).
struct ChunkInfo {
    start: u64,
    end: u64,
    dropped: u64,
    /// Number of its first line.
    first: u64,
    guard_hash: i64,
    guard_len: u64,
    /// Journal inputs: the cursor of its last entry.
    cursor: Option<String>,
}

/// One commit, for the writer thread.
struct Job {
    checkpoint: Checkpoint,
    expected_version: i64,
    replace_from: Option<u64>,
    events: Vec<Event>,
}

/// Moves the checkpoint to the last boundary and picks new `keep` and `warm` points.
fn advance(cp: &mut Checkpoint, boundaries: &mut Vec<Boundary>) {
    let end = boundaries.last().expect("at least the start").clone();
    cp.end_offset = end.offset;
    cp.end_line = end.line - 1;
    if let Some(s) = end.stats {
        cp.stats = s;
    }
    if let Some(k) = boundaries.iter().rev().find(|b| {
        b.idle && b.stats.is_some() && b.line + WINDOW_LINES <= end.line && b.line >= cp.keep_line
    }) {
        cp.keep_offset = k.offset;
        cp.keep_line = k.line;
        cp.keep_stats = k.stats.expect("checked");
    }
    let warm = boundaries
        .iter()
        .rev()
        .find(|b| b.line + WINDOW_LINES <= cp.keep_line)
        .or_else(|| boundaries.first())
        .expect("at least the start")
        .clone();
    if warm.offset >= cp.warm_offset {
        cp.warm_offset = warm.offset;
        cp.warm_line = warm.line;
        cp.warm_year = warm.year;
        cp.warm_hash = warm.guard_hash;
        cp.warm_hash_len = warm.guard_len;
        cp.cursor = warm.cursor;
    }
    boundaries.retain(|b| b.offset >= cp.warm_offset);
}

/// The `__CURSOR` of the last JSON line in `block`.
fn last_cursor(block: &[u8]) -> Option<String> {
    let body = block.strip_suffix(b"\n").unwrap_or(block);
    let line = &body[memchr::memrchr(b'\n', body).map_or(0, |i| i + 1)..];
    const KEY: &[u8] = b"\"__CURSOR\":\"";
    let at = memchr::memmem::find(line, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &line[at..])?;
    std::str::from_utf8(&line[at..at + len])
        .ok()
        .map(str::to_string)
}

/// A block of whole lines and where it ends in the decompressed stream.
struct Chunk {
    start: u64,
    end: u64,
    /// Too-long lines skipped just before `bytes`.
    dropped: u64,
    bytes: Vec<u8>,
}

/// Like [`source::BlockReader`], but knows offsets and never lets a block
/// straddle `split` (the old `keep` point, so statistics split exactly there).
struct Blocks<R: Read> {
    inner: R,
    pos: u64,
    split: Option<u64>,
    carry: Vec<u8>,
    eof: bool,
    skipping: bool,
}

impl<R: Read> Blocks<R> {
    fn new(inner: R, pos: u64, split: Option<u64>) -> Self {
        Blocks {
            inner,
            pos,
            split,
            carry: Vec::new(),
            eof: false,
            skipping: false,
        }
    }

    fn next(&mut self) -> io::Result<Option<Chunk>> {
        let mut dropped = 0u64;
        let start = self.pos;
        loop {
            let mut buf = std::mem::take(&mut self.carry);
            while buf.len() < BLOCK && !self.eof {
                let at = buf.len();
                buf.resize(BLOCK, 0);
                match self.inner.read(&mut buf[at..]) {
                    Ok(0) => {
                        buf.truncate(at);
                        self.eof = true;
                    }
                    Ok(n) => buf.truncate(at + n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(at),
                    Err(e) => return Err(e),
                }
            }
            if self.skipping {
                match memchr::memchr(b'\n', &buf) {
                    Some(i) => {
                        self.skipping = false;
                        buf.drain(..=i);
                        self.pos += i as u64 + 1;
                        dropped += 1;
                    }
                    None => {
                        self.pos += buf.len() as u64;
                        if self.eof {
                            dropped += 1;
                            self.skipping = false;
                        } else {
                            continue;
                        }
                        buf.clear();
                    }
                }
            }
            if buf.is_empty() && self.eof {
                return Ok((dropped > 0).then(|| Chunk {
                    start,
                    end: self.pos,
                    dropped,
                    bytes: Vec::new(),
                }));
            }
            let mut cut = if self.eof {
                Some(buf.len())
            } else {
                memchr::memrchr(b'\n', &buf).map(|i| i + 1)
            };
            if let Some(s) = self.split {
                if s > self.pos && s < self.pos + cut.unwrap_or(buf.len()) as u64 {
                    cut = Some((s - self.pos) as usize);
                }
            }
            match cut {
                Some(c) => {
                    self.carry = buf.split_off(c);
                    self.pos += c as u64;
                    return Ok(Some(Chunk {
                        start,
                        end: self.pos,
                        dropped,
                        bytes: buf,
                    }));
                }
                None => {
                    // One line fills the whole block: no sshd line is that long.
                    self.pos += buf.len() as u64;
                    self.skipping = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_at_the_keep_point_and_count_offsets() {
        let mut data = Vec::new();
        for i in 0..100_000 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let split = 12_345 * 11; // some line boundary? find the real one
        let split = data[..split].iter().rposition(|&b| b == b'\n').unwrap() as u64 + 1;
        let mut b = Blocks::new(&data[..], 0, Some(split));
        let mut ends = Vec::new();
        let mut all = Vec::new();
        while let Some(c) = b.next().unwrap() {
            assert_eq!(c.start, all.len() as u64);
            all.extend_from_slice(&c.bytes);
            ends.push(c.end);
        }
        assert_eq!(all, data);
        assert!(ends.contains(&split));
    }

    #[test]
    fn fingerprint_is_the_first_line() {
        assert_eq!(
            fingerprint(b"abc\ndef", false),
            fingerprint(b"abc\nxyz\n", false)
        );
        assert_eq!(fingerprint(b"ab", false), None);
        assert!(fingerprint(b"ab", true).is_some());
    }
}
