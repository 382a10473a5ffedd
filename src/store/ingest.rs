//! `sshmap ingest`: reads inputs into a [`Store`] exactly once, resuming each
//! from its checkpoint.
//!
//! An input is known by its content fingerprint
//! ([`crate::source::fingerprint`], the scheme `serve --tail` uses too: its
//! first line, and a checksum of its first 64 KiB), not by its path: `auth.log` renamed to `auth.log.1`, or gzipped to `auth.log.2.gz`,
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

use super::{Batch, Checkpoint, Events, Store, StoreError};
use crate::event::Event;
use crate::flow;
use crate::geo::Enricher;
use crate::parse::{correlate::STALE_LINES, BlockStats};
use crate::source::fingerprint::Fingerprint;
use crate::source::{self, Compression, Input};

pub use crate::flow::fnv1a;

/// How far behind the end of a read events stay provisional, and how far
/// before `keep` a resumed read starts: twice the correlator's hold horizon.
pub const WINDOW_LINES: u64 = 2 * STALE_LINES;
/// Bytes per parse block (the granularity of checkpoints).
pub const BLOCK: usize = 1 << 20;
/// Blocks parsed in parallel, and committed together.
pub const BATCH: usize = 8;
pub use crate::source::fingerprint::HEAD_MAX;

/// The checkpoint of the input that starts with `head`, or a new one.
///
/// An input is the one whose recorded first bytes (`head_len` of them) `head`
/// starts with — the longest such record, as a grown file still starts with
/// what it held before. Inputs recorded by an older sshmap (no head) are
/// matched by their first line. A new input is keyed by its first line,
/// unless another input has that key already: two files that start with the
/// same line but differ later are two inputs, and the user is told.
#[allow(clippy::too_many_arguments)]
fn find_input(
    store: &mut dyn Store,
    head: &[u8],
    line_fp: i64,
    name: &str,
    dev: u64,
    ino: u64,
    known: &[(u64, u64)],
    report: &mut IngestReport,
) -> Result<Checkpoint, Failure> {
    let all = store.checkpoints()?;
    let matches = |c: &Checkpoint| {
        if c.head_len > 0 {
            c.file_fingerprint().matches(head)
        } else {
            c.fingerprint == line_fp
        }
    };
    if let Some(c) = all.iter().filter(|c| matches(c)).max_by_key(|c| c.head_len) {
        return Ok(c.clone());
    }
    let taken = |k: i64| all.iter().find(|c| c.fingerprint == k);
    let mut key = line_fp;
    if let Some(other) = taken(line_fp) {
        report.note = Some(format!(
            "starts with the same line as {} (ingested before) but its content differs: stored as an input of \
             its own",
            other.name
        ));
        let mut n = 0u8;
        while taken(key).is_some() {
            n = n.wrapping_add(1);
            let mut salted = head.to_vec();
            salted.push(n);
            key = fnv1a(&salted);
        }
    } else if (dev != 0 || ino != 0) && known.contains(&(dev, ino)) {
        report.note = Some("copytruncate detected: reading the new content from its start".into());
    }
    Ok(store.claim(key, name, dev, ino)?)
}

/// What one input gave.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngestReport {
    pub input: String,
    /// Net events added to the store by this run.
    pub added: i64,
    /// Bytes read past the previous checkpoint.
    pub new_bytes: u64,
    /// Bytes read in all: the new ones and those re-read before them to rebuild
    /// connection state (at most a few MiB, whatever the input's size).
    pub read_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The usual key of an input whose decompressed stream starts with `head`:
/// the hash of its first line ([`crate::source::fingerprint::first_line`]).
/// `None` while the input has no complete first line yet.
pub fn fingerprint(head: &[u8], at_eof: bool) -> Option<i64> {
    crate::source::fingerprint::first_line(head, at_eof)
}

/// Ingests every input in turn; a problem with one is reported in its
/// [`IngestReport`] and the others go on. Only a store failure stops the run.
pub fn run(
    store: &mut dyn Store,
    inputs: &[Input],
    opts: &flow::Options,
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
        match ingest_one(store, input, opts, &known, &mut report) {
            Ok(()) => {}
            Err(Failure::Input(msg)) => report.error = Some(msg),
            Err(Failure::Store(StoreError::Concurrent { input })) => {
                report.error = Some(StoreError::Concurrent { input }.to_string())
            }
            Err(Failure::Store(e)) => return Err(e),
            Err(Failure::WriterStopped) => unreachable!("reported as the store error"),
        }
        // What the input's commits leave to the end of a run (its session keys).
        store.finish()?;
        out.push(report);
    }
    Ok(out)
}

enum Failure {
    /// This input could not be read; the run goes on.
    Input(String),
    Store(StoreError),
    /// The writer thread stopped on a store error (which is reported instead).
    WriterStopped,
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

fn ingest_one(
    store: &mut dyn Store,
    input: &Input,
    opts: &flow::Options,
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
    opts: &flow::Options,
    known: &[(u64, u64)],
    report: &mut IngestReport,
) -> Result<(), Failure> {
    let io_fail = |e: io::Error| Failure::Input(format!("{name}: {e}"));
    // The first bytes: the first line is the input's usual key, and the bytes
    // after it tell apart inputs that start with the same line.
    let mut head = Vec::with_capacity(HEAD_MAX);
    let mut at_eof = false;
    while head.len() < HEAD_MAX {
        let at = head.len();
        head.resize(HEAD_MAX, 0);
        match reader.read(&mut head[at..]) {
            Ok(0) => {
                head.truncate(at);
                at_eof = true;
                break;
            }
            Ok(n) => head.truncate(at + n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => head.truncate(at),
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
    let mut cp = if journal {
        match store.checkpoint(fp)? {
            Some(cp) => cp,
            None => store.claim(fp, name, dev, ino)?,
        }
    } else {
        let mut cp = find_input(store, &head, fp, name, dev, ino, known, report)?;
        if cp.head_len < head.len() as u64 {
            // What identifies it from now on: as many of its first bytes as there are.
            cp.set_file_fingerprint(Fingerprint::of(&head, at_eof));
        }
        cp
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
    let mut stream_reader: Box<dyn Read + Send> = if plain_file && guard_start > head.len() as u64 {
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
        stream_reader.read_exact(&mut guard).map_err(io_fail)?;
        if fnv1a(&guard) != old.warm_hash {
            return Err(Failure::Input(format!(
                "{name}: starts like an input ingested before but its content differs; it was left out (ingest it \
                 into another --db to read it whole)"
            )));
        }
    }

    let mut stream = flow::Stream::new(
        Arc::from(name),
        flow::correlator_options(
            &flow::Options {
                all: false,
                ..opts.clone()
            },
            mtime,
        ),
    );
    stream.correlator().set_year_state(old.warm_year);
    let start = flow::Start {
        offset: old.warm_offset,
        line: old.warm_line,
        split: Some(old.keep_offset),
        emit_from: old.keep_line,
        journal,
        batch: 0,
    };
    let mut enricher = Enricher::new(opts.geo.as_deref());
    // Three stages overlap: the flow's reader thread reads and parses (in
    // parallel) the next batch of blocks, this thread correlates and enriches,
    // and a writer thread commits. Commits stay in order; the first failure
    // stops the writer, and no later batch is committed.
    let (jobs_tx, jobs_rx) = std::sync::mpsc::sync_channel::<Job>(1);
    std::thread::scope(|scope| {
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
        let mut sink = Commits {
            name,
            points: vec![Point {
                offset: old.warm_offset,
                line: old.warm_line,
                year: old.warm_year,
                stats: (old.warm_offset == old.keep_offset).then_some(old.keep_stats),
                guard_hash: old.warm_hash,
                guard_len: old.warm_hash_len,
                cursor: old.cursor.clone(),
            }],
            stats: old.keep_stats,
            pending: Vec::new(),
            first_commit: true,
            cp,
            old,
            jobs: jobs_tx,
            report: &mut *report,
        };
        let mut tally = flow::Tally::default();
        // The same bar as the analysis commands' (a terminal, a log over 32 MiB), from the checkpoint on.
        let bar = flow::progress_bar(opts.progress, size, name);
        if let Some(b) = &bar {
            b.set_position(start.offset);
        }
        let res = flow::drive(
            stream_reader,
            &start,
            &mut stream,
            &mut enricher,
            &flow::Select::default(),
            &mut sink,
            bar.as_ref(),
            &mut tally,
        );
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        drop(sink);
        let (added, err) = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        report.added += added;
        match (err, res) {
            (Some(e), _) => Err(Failure::Store(e)),
            (None, Ok(())) | (None, Err(flow::Error::Sink(Failure::WriterStopped))) => Ok(()),
            (None, Err(flow::Error::Sink(f))) => Err(f),
            (None, Err(flow::Error::Read(e))) => Err(io_fail(e)),
        }
    })
}

/// A point where a later read may start or keep from: a block boundary.
#[derive(Clone, Debug)]
struct Point {
    offset: u64,
    /// Number of the line that starts here.
    line: u64,
    year: Option<(i32, u8)>,
    /// Line statistics before this point (known from `keep` on).
    stats: Option<BlockStats>,
    guard_hash: i64,
    guard_len: u64,
    /// Journal inputs: the cursor of the last entry before this point.
    cursor: Option<String>,
}

/// The store's sink: gathers the events of a group of blocks and commits them
/// with the checkpoint that the group's last boundary gives.
struct Commits<'a> {
    name: &'a str,
    points: Vec<Point>,
    /// Line statistics from `keep` on.
    stats: BlockStats,
    pending: Vec<Event>,
    first_commit: bool,
    cp: Checkpoint,
    old: Checkpoint,
    jobs: std::sync::mpsc::SyncSender<Job>,
    report: &'a mut IngestReport,
}

impl flow::Sink for Commits<'_> {
    type Error = Failure;

    fn event(&mut self, ev: Event) -> Result<(), Failure> {
        self.pending.push(ev);
        Ok(())
    }

    fn boundary(&mut self, b: &flow::Boundary) -> Result<(), Failure> {
        let old = &self.old;
        if !b.eof {
            if b.start >= old.keep_offset {
                self.stats.add(&b.stats);
            }
            self.points.push(Point {
                offset: b.offset,
                line: b.line,
                year: b.year,
                stats: (b.offset >= old.keep_offset).then_some(self.stats),
                guard_hash: b.guard_hash,
                guard_len: b.guard_len,
                cursor: b.cursor.clone(),
            });
        }
        if !(b.batch_end || b.eof) {
            return Ok(());
        }
        let pos = self.points.last().expect("at least the start").offset;
        self.report.read_bytes = pos.saturating_sub(self.old.warm_offset);
        let old = &self.old;
        if b.eof {
            if pos < old.end_offset {
                return Err(Failure::Input(format!(
                    "{}: shorter ({pos} bytes) than when it was last ingested ({} bytes) although it \
                     starts with the same line; nothing was changed for it",
                    self.name, old.end_offset
                )));
            }
            if pos == old.end_offset && self.first_commit && old.version > 0 {
                self.report.note = Some("up to date".into());
                return Ok(());
            }
        }
        if pos < old.end_offset {
            // Not past what is stored yet: a commit now could drop stored events.
            return Ok(());
        }
        self.report.new_bytes = pos - old.end_offset;
        let replace_from = self.first_commit.then_some(old.keep_line);
        advance(&mut self.cp, &mut self.points, b.held_since);
        let expected = self.cp.version;
        self.cp.version += 1;
        let job = Job {
            checkpoint: self.cp.clone(),
            expected_version: expected,
            replace_from,
            // The events' rollups and address texts are derived here, not on
            // the writer thread (issue #15).
            events: Events::new(std::mem::take(&mut self.pending)),
        };
        self.first_commit = false;
        // A closed channel: the writer stopped on an error, reported by the caller.
        self.jobs.send(job).map_err(|_| Failure::WriterStopped)
    }
}

/// One commit, for the writer thread.
struct Job {
    checkpoint: Checkpoint,
    expected_version: i64,
    replace_from: Option<u64>,
    events: Events,
}

/// Moves the checkpoint to the last point and picks new `keep` and `warm`
/// points. `held_since`: the line of the oldest event the flow still holds —
/// every event before it has been emitted, so `keep` may be any point up to it
/// (a log with many connections open at once holds something at almost every
/// block boundary, but never for long).
fn advance(cp: &mut Checkpoint, points: &mut Vec<Point>, held_since: Option<u64>) {
    let end = points.last().expect("at least the start").clone();
    cp.end_offset = end.offset;
    cp.end_line = end.line - 1;
    if let Some(s) = end.stats {
        cp.stats = s;
    }
    if let Some(k) = points.iter().rev().find(|b| {
        b.stats.is_some()
            && b.line + WINDOW_LINES <= end.line
            && b.line >= cp.keep_line
            && held_since.is_none_or(|h| b.line <= h)
    }) {
        cp.keep_offset = k.offset;
        cp.keep_line = k.line;
        cp.keep_stats = k.stats.expect("checked");
    }
    let warm = points
        .iter()
        .rev()
        .find(|b| b.line + WINDOW_LINES <= cp.keep_line)
        .or_else(|| points.first())
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
    points.retain(|b| b.offset >= cp.warm_offset);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_the_first_line() {
        assert_eq!(
            fingerprint(b"abc\ndef", false),
            fingerprint(b"abc\nxyz\n", false)
        );
        assert_eq!(fingerprint(b"ab", false), None);
        assert!(fingerprint(b"ab", true).is_some());
    }

    /// The same content ingested (plain or gzipped) and followed by
    /// `serve --tail` has the same fingerprint: one function, one scheme.
    #[test]
    fn ingest_and_tail_fingerprint_a_file_alike() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let opts = flow::Options {
            all: false,
            year: Some(2026),
            tz: jiff::tz::TimeZone::UTC,
            progress: false,
            geo: None,
            range: Default::default(),
            host: None,
        };
        let line = |i: usize| {
            format!("Nov  3 10:00:{:02} web1 sshd[{i}]: Failed password for root from 45.227.254.8 port {i} ssh2\n", i % 60)
        };
        let cases: Vec<(&str, String)> = vec![
            ("short", (0..3).map(line).collect()),
            ("long", (0..2000).map(line).collect()),
            (
                "long first line",
                format!("{}\n{}", "x".repeat(5000), line(1)),
            ),
            (
                "no newline",
                "Nov  3 10:00:00 web1 sshd[1]: Connection closed".into(),
            ),
        ];
        for (i, (what, text)) in cases.iter().enumerate() {
            let plain = dir.path().join(format!("{i}.log"));
            std::fs::write(&plain, text).unwrap();
            let gz = dir.path().join(format!("{i}.log.gz"));
            let mut enc = flate2::write::GzEncoder::new(
                File::create(&gz).unwrap(),
                flate2::Compression::default(),
            );
            enc.write_all(text.as_bytes()).unwrap();
            enc.finish().unwrap();

            let mut tail = crate::source::tail::Follower::new(&plain, None, 1 << 20);
            let mut lines = Vec::new();
            while tail.poll(&mut lines).unwrap() {}
            let tailed = tail.position().unwrap().fingerprint;
            assert_eq!(tailed, Fingerprint::of(text.as_bytes(), true), "{what}");

            for input in [&plain, &gz] {
                let mut st = crate::store::sqlite::SqliteStore::open(
                    &dir.path()
                        .join(format!("{i}-{}.db", input.display().to_string().len())),
                )
                .unwrap();
                let r = run(&mut st, &[Input::File(input.clone())], &opts).unwrap();
                assert!(r[0].error.is_none(), "{what}: {r:?}");
                let cps = st.checkpoints().unwrap();
                assert_eq!(cps.len(), 1);
                assert_eq!(
                    cps[0].file_fingerprint(),
                    tailed,
                    "{what}: {}",
                    input.display()
                );
            }
        }
    }
}
