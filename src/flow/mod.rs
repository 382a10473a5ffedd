//! The one flow from log lines to events, for every command.
//!
//! ```text
//!  source (file, rotated series, gz/zst, stdin, journal)      live sources (tail -F, syslog, HTTP)
//!        │ blocks of whole lines (~1 MiB)                            │ lines, one stream per source
//!        ▼                                                           │
//!  parse::parse_block ── in parallel (rayon) ──┐                     │
//!                                              ▼                     ▼
//!                               Stream: correlate in order (held lines bounded),
//!                                       `message repeated` across blocks
//!                                              │
//!                                   enrich (GeoIP), select (--from/--to/--host)
//!                                              │
//!                                              ▼
//!                 Sink: analyze::Aggregate (stats, map, chart, report, timelapse) ·
//!                       event writer (parse) · store transaction (ingest) · live publisher (serve)
//! ```
//!
//! [`drive`] runs one input: helper threads read blocks and parse them in
//! parallel while the calling thread correlates, enriches and feeds the sink
//! in order, and parses too whenever the next block is not ready, so output
//! is ready as early as possible and memory stays flat whatever the file
//! size (at most two batches of [`BATCH`] blocks read and not yet taken). After each block the sink gets a [`Boundary`] (offset, line,
//! held events, year state): what the store needs for its checkpoint. [`run`]
//! drives a list of inputs for the batch commands. `serve` pushes each
//! stream's lines through the same [`Stream`] ([`Stream::push_line`]) and
//! releases held events on the wall clock ([`Stream::release_idle`]).

mod blocks;
mod sink;

use std::io::{self, IsTerminal, Read};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

pub use blocks::{Blocks, Chunk, BLOCK};
pub(crate) use sink::merge_by;
pub use sink::{Boundary, Each, Ordered, Sink};

use crate::event::{Event, Ts};
use crate::geo::{Enricher, Locator};
use crate::parse::{self, BlockStats, Correlator, RawLine};
use crate::source::{self, Input};

/// Blocks parsed in parallel per round.
pub const BATCH: usize = 8;
/// [`Stream::push_block`] passes the events of this many lines on at a time:
/// some 100 KB of them, read again by the sink while they are in the cache,
/// where a block's (1.4 MB) were not (issue #15).
const RUN_LINES: usize = 512;
/// Bytes at the end of each block whose hash a [`Boundary`] carries.
pub const GUARD: usize = 256;

#[derive(Clone, Debug)]
pub struct Options {
    pub all: bool,
    pub year: Option<i32>,
    pub tz: jiff::tz::TimeZone,
    /// Show a progress bar (only ever on a terminal).
    pub progress: bool,
    /// GeoIP databases; `None` (`--geoip none`): events get a `scope` but no `geo`.
    pub geo: Option<Arc<Locator>>,
    /// `--from` / `--to`: events outside are dropped (and not counted as events).
    pub range: TimeRange,
    /// `--host`: only events of this host.
    pub host: Option<String>,
}

/// A half-open time interval `[from, to)` in Unix microseconds; open ends are unbounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Option<i64>,
    pub to: Option<i64>,
}

impl TimeRange {
    pub fn contains(&self, ts: Ts) -> bool {
        self.from.is_none_or(|f| ts.micros >= f) && self.to.is_none_or(|t| ts.micros < t)
    }
}

/// What one input gave (`stats --json` `inputs`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InputReport {
    pub input: String,
    pub lines: u64,
    pub events: u64,
    /// Lines that gave no event (other programs, non-event sshd lines, malformed, too long).
    pub skipped: u64,
    pub other_programs: u64,
    pub malformed: u64,
    pub too_long: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The correlator options of an input whose year-less lines are placed
/// closest before `reference` (its modification time, or now).
pub fn correlator_options(opts: &Options, reference: Option<SystemTime>) -> parse::Options {
    parse::Options {
        all: opts.all,
        year: opts.year,
        tz: opts.tz.clone(),
        reference: reference_ts(reference.unwrap_or_else(SystemTime::now), &opts.tz),
    }
}

/// `t` as a [`Ts`] with the offset of `tz` at that instant.
pub fn reference_ts(t: SystemTime, tz: &jiff::tz::TimeZone) -> Ts {
    let micros = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(_) => 0,
    };
    let offset = jiff::Timestamp::from_microsecond(micros)
        .map(|t| tz.to_offset(t).seconds())
        .unwrap_or(0);
    Ts::from_micros(micros, offset)
}

/// The sequential stage of one input stream: correlation, and `message
/// repeated` lines whose line ended the previous block (or batch of live lines).
pub struct Stream {
    corr: Correlator,
    /// The last parsed line passed on, for `last message repeated N times`.
    last: Option<RawLine>,
    /// Live streams: the bytes of the last line that parsed (re-parsed only
    /// when a `last message repeated` follows it).
    last_bytes: Vec<u8>,
    last_no: u64,
    all: bool,
    /// Line numbers of [`Stream::push_line`].
    line: u64,
    /// Lines pushed with [`Stream::push_line`], by outcome.
    pub stats: BlockStats,
}

impl Stream {
    pub fn new(name: Arc<str>, opts: parse::Options) -> Stream {
        let all = opts.all;
        Stream {
            corr: Correlator::new(name, opts),
            last: None,
            last_bytes: Vec::new(),
            last_no: 0,
            all,
            line: 0,
            stats: BlockStats::default(),
        }
    }

    /// Live streams: the number of the line pushed last (line numbers are the
    /// events' keys in the store, so they continue across restarts).
    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn set_line(&mut self, line: u64) {
        self.line = line;
    }

    pub fn correlator(&mut self) -> &mut Correlator {
        &mut self.corr
    }

    /// Events held back now (waiting for their connection's address or outcome).
    pub fn held(&self) -> usize {
        self.corr.held()
    }

    pub fn held_since(&self) -> Option<u64> {
        self.corr.held_since()
    }

    /// The lines of one parsed block, in order, their events appended to
    /// `out`. Gives back the block's list, emptied, for the next block
    /// ([`parse::parse_block_into`]). The correlator takes the runs of lines
    /// between `last message repeated` ones in one call each, and builds
    /// their events in `out` (issue #15).
    pub fn push_block(
        &mut self,
        block: parse::Block,
        out: &mut Vec<Event>,
        mut flush: impl FnMut(&mut Vec<Event>),
    ) -> Vec<RawLine> {
        let mut block = block;
        let last = block.lines.last().cloned();
        for run in block.lines.chunks_mut(RUN_LINES) {
            let mut rest = run;
            while !rest.is_empty() {
                let taken = self.corr.push_lines(rest, out);
                let Some((repeat, tail)) = rest[taken..].split_first_mut() else {
                    break;
                };
                self.push_raw(repeat, &mut |ev| out.push(ev));
                repeat.release();
                rest = tail;
            }
            flush(out);
        }
        if last.is_some() {
            self.last = last;
        }
        // Emptied here, where its lines were just read (a thread that
        // parses would read them from the other core's cache: measured no
        // faster in issue #15), and without a drop of each: every line was
        // taken by `push_lines` or released after `push_raw`, so it owns
        // nothing (issue #15: the drops' checks were 3.4M Ir on 200k lines).
        debug_assert!(block.lines.iter().all(RawLine::owns_nothing));
        // SAFETY: a shorter length leaves nothing uninitialized in it; the
        // lines past it are forgotten, and they own nothing to leak.
        unsafe { block.lines.set_len(0) };
        block.lines
    }

    /// One live line (without its newline): numbered, parsed and correlated.
    pub fn push_line(&mut self, line: &[u8], out: &mut impl FnMut(Event)) {
        self.line += 1;
        self.stats.lines += 1;
        if line.len() > parse::MAX_LINE {
            self.stats.too_long += 1;
            return;
        }
        match parse::parse_line(line, self.line, self.all) {
            Ok(Some(mut raw)) => {
                if raw.msg.repeat_last.is_none() {
                    // Keep the bytes, not a parsed copy: `last message repeated`
                    // is rare, and copying bytes costs less than cloning a line.
                    self.last_bytes.clear();
                    self.last_bytes.extend_from_slice(line);
                    self.last_no = self.line;
                    self.last = None;
                } else if self.last.is_none() && self.last_no + 1 == self.line {
                    self.last = parse::parse_line(&self.last_bytes, self.last_no, self.all)
                        .ok()
                        .flatten();
                }
                self.push_raw(&mut raw, out);
            }
            Ok(None) => {}
            Err(parse::Skip::OtherProgram) => self.stats.other_programs += 1,
            Err(parse::Skip::Malformed) => {
                if !line.iter().all(|b| b.is_ascii_whitespace()) {
                    self.stats.malformed += 1;
                }
            }
        }
    }

    fn push_raw(&mut self, raw: &mut RawLine, out: &mut impl FnMut(Event)) {
        let Some(n) = raw.msg.repeat_last else {
            self.corr.push_mut(raw, out);
            return;
        };
        // sysklogd: `last message repeated N times` repeats the line just before.
        match &self.last {
            Some(prev)
                if prev.line + 1 == raw.line && prev.msg.kind != crate::event::Kind::Other =>
            {
                let mut again = prev.clone();
                again.msg.count = n;
                again.line = raw.line;
                again.stamp = raw.stamp;
                self.last = Some(again.clone());
                self.corr.push(again, out);
            }
            _ => {}
        }
    }

    /// Live streams: sets the wall clock (µs) of the lines pushed next.
    pub fn set_wall_clock(&mut self, micros: i64) {
        self.corr.set_wall_clock(micros);
    }

    /// Live streams: releases what connections silent on the wall clock for
    /// `hold` hold (µs, [`parse::correlate::WALL_HOLD_SECS`] by default).
    pub fn release_idle(&mut self, now: i64, hold: i64, out: &mut impl FnMut(Event)) -> bool {
        self.corr.release_idle(now, hold, out)
    }

    /// The end of the input: releases every held event.
    pub fn finish(&mut self, out: &mut impl FnMut(Event)) {
        self.corr.finish_all(out);
    }
}

/// Where [`drive`] starts reading and what it passes on.
#[derive(Clone, Debug, Default)]
pub struct Start {
    /// Offset of the reader's first byte in the decompressed input.
    pub offset: u64,
    /// Number of the reader's first line.
    pub line: u64,
    /// No block straddles this offset.
    pub split: Option<u64>,
    /// Events of lines before this one are correlated but not passed on (a
    /// store re-reading what it keeps already).
    pub emit_from: u64,
    /// A journal (`journalctl -o json` lines): boundaries carry cursors, not guard hashes.
    pub journal: bool,
    /// Blocks read together, a batch: a store commits after each; 0: [`BATCH`].
    pub batch: usize,
}

/// Which events a command asked for; the others are dropped before the sink.
#[derive(Clone, Debug, Default)]
pub struct Select {
    pub range: TimeRange,
    pub host: Option<String>,
}

impl Select {
    /// No event is dropped (no `--from`, `--to` or `--host`).
    pub fn keeps_all(&self) -> bool {
        self.range == TimeRange::default() && self.host.is_none()
    }

    pub fn keeps(&self, ev: &Event) -> bool {
        self.range.contains(ev.ts)
            && self
                .host
                .as_deref()
                .is_none_or(|h| ev.host.as_deref() == Some(h))
    }
}

/// Why [`drive`] stopped early.
#[derive(Debug)]
pub enum Error<E> {
    /// The input could not be read further (what came before was processed).
    Read(io::Error),
    /// The sink refused (a closed pipe, a store failure).
    Sink(E),
}

/// Counts of one [`drive`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    pub stats: BlockStats,
    /// Events passed to the sink.
    pub events: u64,
}

/// What a parsed block brings to the sequential stage besides its lines.
struct ChunkInfo {
    start: u64,
    end: u64,
    dropped: u64,
    guard_hash: i64,
    guard_len: u64,
    cursor: Option<String>,
    /// The last block of a batch read together (not ended by the input's end).
    batch_end: bool,
}

/// A block read and numbered, to be parsed by whichever thread is free.
struct Job {
    seq: u64,
    batch_end: bool,
    chunk: Chunk,
    /// A list of lines already taken, to be parsed into.
    list: Vec<RawLine>,
}

/// A parsed block, waiting for its turn in the sequential stage.
struct Done {
    seq: u64,
    info: ChunkInfo,
    block: parse::Block,
    /// The block's buffer, for the reader to read into again.
    bytes: Vec<u8>,
}

/// The blocks of one [`drive`] between the threads that read, parse and take them.
struct State {
    blocks: Blocks<Box<dyn Read + Send>>,
    /// Blocks read so far (the next one's `seq`).
    read: u64,
    /// Blocks read, not yet being parsed.
    todo: std::collections::VecDeque<Job>,
    /// Blocks `taken..read` in order: `Some` once parsed.
    done: std::collections::VecDeque<Option<(ChunkInfo, parse::Block)>>,
    /// Blocks the sequential stage has taken.
    taken: u64,
    /// Lists of taken blocks, to be parsed into again.
    lists: Vec<Vec<RawLine>>,
    /// Set once nothing more can be read: `Some(error)` after a read error,
    /// which the sequential stage takes after the blocks before it.
    end: Option<Option<io::Error>>,
    /// The sequential stage stopped taking (or a thread panicked).
    stop: bool,
}

impl State {
    /// Reads the next batch of blocks into `todo`. Their lines are numbered
    /// from 1 when parsed and renumbered when taken ([`renumber`]).
    fn read_batch(&mut self, per_batch: usize) {
        let from = self.todo.len();
        for _ in 0..per_batch {
            match self.blocks.next_chunk() {
                Ok(Some(chunk)) => {
                    self.todo.push_back(Job {
                        seq: self.read,
                        batch_end: false,
                        chunk,
                        list: self.lists.pop().unwrap_or_default(),
                    });
                    self.done.push_back(None);
                    self.read += 1;
                }
                Ok(None) => {
                    self.end = Some(None);
                    break;
                }
                Err(e) => {
                    self.end = Some(Some(e));
                    break;
                }
            }
        }
        // A batch cut short by a read error still ends as a batch (a store
        // commits what was read before the error); one cut by the end does not.
        if !matches!(self.end, Some(None)) && self.todo.len() > from {
            if let Some(last) = self.todo.back_mut() {
                last.batch_end = true;
            }
        }
    }
}

/// What the sequential stage does next.
enum Due {
    /// Take the next block in order.
    Take(ChunkInfo, parse::Block),
    /// Parse a block (the next in order is not parsed yet).
    Parse(Job),
    /// The input ended; a read error if that is how.
    End(Option<io::Error>),
}

/// The shared side of [`drive`]: its [`State`] and the rules of who does what.
struct Work {
    state: std::sync::Mutex<State>,
    changed: std::sync::Condvar,
    /// Blocks read and not yet taken, at most.
    limit: u64,
    per_batch: usize,
    all: bool,
    journal: bool,
}

impl Work {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A thread that panicked left nothing half-done that matters here:
        // it set `stop`, and the panic comes out of the thread scope.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, g: std::sync::MutexGuard<'a, State>) -> std::sync::MutexGuard<'a, State> {
        self.changed.wait(g).unwrap_or_else(|e| e.into_inner())
    }

    /// A block to parse, reading a batch when there is room; `None` when the
    /// input has ended (or the flow stopped) and nothing is left to parse.
    fn next_job(&self) -> Option<Job> {
        let mut g = self.lock();
        loop {
            if g.stop {
                return None;
            }
            if let Some(job) = self.pop_or_read(&mut g) {
                return Some(job);
            }
            if g.end.is_some() && g.todo.is_empty() {
                return None;
            }
            g = self.wait(g);
        }
    }

    /// For the sequential stage: the next block in order once it is parsed,
    /// else a block to parse meanwhile, else the end.
    fn next_for_taker(&self) -> Due {
        let mut g = self.lock();
        loop {
            if g.stop {
                return Due::End(None);
            }
            if let Some(Some(_)) = g.done.front() {
                let (info, block) = g.done.pop_front().flatten().expect("checked");
                g.taken += 1;
                drop(g);
                // Room to read again.
                self.changed.notify_all();
                return Due::Take(info, block);
            }
            if let Some(job) = self.pop_or_read(&mut g) {
                return Due::Parse(job);
            }
            // After the read above: it may have found the end.
            if g.done.is_empty() {
                if let Some(end) = g.end.as_mut() {
                    return Due::End(end.take());
                }
            }
            g = self.wait(g);
        }
    }

    /// The next block read and not being parsed; reads a batch first when
    /// none is waiting and fewer than `limit` blocks would be in flight.
    fn pop_or_read(&self, g: &mut State) -> Option<Job> {
        if g.todo.is_empty()
            && g.end.is_none()
            && g.read - g.taken + self.per_batch as u64 <= self.limit
        {
            g.read_batch(self.per_batch);
            if g.todo.len() > 1 {
                // Others may take the rest of the batch.
                self.changed.notify_all();
            }
        }
        g.todo.pop_front()
    }

    /// A parsed block into its place in order.
    fn finish(&self, d: Done) {
        let mut g = self.lock();
        let Done {
            seq,
            info,
            block,
            bytes,
        } = d;
        g.blocks.recycle(bytes);
        let at = (seq - g.taken) as usize;
        g.done[at] = Some((info, block));
        drop(g);
        self.changed.notify_all();
    }

    /// The list of a block taken, to be parsed into again.
    fn give_back(&self, list: Vec<RawLine>) {
        let mut g = self.lock();
        if g.lists.len() < self.limit as usize {
            g.lists.push(list);
        }
    }
}

impl Job {
    fn parse(self, work: &Work) -> Done {
        let Job {
            seq,
            batch_end,
            chunk,
            list,
        } = self;
        let block = parse::parse_block_into(&chunk.bytes, 1, work.all, list);
        // A journal is re-read after its cursor, not checked by bytes.
        let tail = if work.journal {
            &[][..]
        } else {
            &chunk.bytes[chunk.bytes.len().saturating_sub(GUARD)..]
        };
        let info = ChunkInfo {
            start: chunk.start,
            end: chunk.end,
            dropped: chunk.dropped,
            guard_hash: if work.journal { 0 } else { fnv1a(tail) },
            guard_len: tail.len() as u64,
            cursor: if work.journal {
                last_cursor(&chunk.bytes)
            } else {
                None
            },
            batch_end,
        };
        Done {
            seq,
            info,
            block,
            bytes: chunk.bytes,
        }
    }
}

/// Numbers the lines of a block parsed from line 1 from `first` on. The
/// block's lines are counted by its parse, so no thread counts newlines
/// before it (issue #15: that count was ~28 instructions a line, under the
/// flow's lock); this is one addition a kept line, on lines read next.
fn renumber(lines: &mut [RawLine], first: u64) {
    // Wrapping: a `Start` may number its first line 0.
    let shift = first.wrapping_sub(1);
    if shift != 0 {
        for raw in lines {
            raw.line = raw.line.wrapping_add(shift);
        }
    }
}

/// Stops the helpers of a [`drive`] when the sequential stage leaves (at the
/// end, on a sink error, or unwinding from a panic), and when a helper panics.
struct StopOnDrop<'a>(&'a Work);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.lock().stop = true;
        self.0.changed.notify_all();
    }
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

/// Reads `reader` to its end through `stream`: blocks read and parsed in
/// parallel (by helper threads, and by this one while it waits), correlated
/// here in order, enriched, selected and passed to
/// `sink`, with a [`Boundary`] after every block and a last one (`eof`) once
/// every held event is released. `tally` is kept up to date even when a read
/// or sink error stops the flow.
#[allow(clippy::too_many_arguments)]
pub fn drive<S: Sink>(
    reader: Box<dyn Read + Send>,
    start: &Start,
    stream: &mut Stream,
    enricher: &mut Enricher<'_>,
    select: &Select,
    sink: &mut S,
    progress: Option<&indicatif::ProgressBar>,
    tally: &mut Tally,
) -> Result<(), Error<S::Error>> {
    let all = stream.all;
    let journal = start.journal;
    let per_batch = if start.batch == 0 { BATCH } else { start.batch };
    // Threads that parse: this one, between the blocks it takes, and the
    // helpers. Every thread does whatever is due — the next block in order
    // if it is parsed and this is the calling thread, else a block to parse
    // — so as many threads run as there are cores, none of them waits while
    // there is work, and none spins (issue #15).
    let helpers = rayon::current_num_threads().saturating_sub(1).max(1);
    let work = Work {
        state: std::sync::Mutex::new(State {
            blocks: Blocks::new(reader, start.offset, start.split),
            read: 0,
            todo: std::collections::VecDeque::new(),
            done: std::collections::VecDeque::new(),
            taken: 0,
            lists: Vec::new(),
            end: None,
            stop: false,
        }),
        changed: std::sync::Condvar::new(),
        // Blocks read and not yet taken: two batches, so a thread always
        // finds one to parse, and memory stays flat.
        limit: 2 * per_batch as u64,
        per_batch,
        all,
        journal,
    };
    let emit_from = start.emit_from;
    std::thread::scope(|scope| {
        for _ in 0..helpers {
            scope.spawn(|| {
                let stop = StopOnDrop(&work);
                while let Some(job) = work.next_job() {
                    work.finish(job.parse(&work));
                }
                // Done: the others go on (only a panic stops them all).
                std::mem::forget(stop);
            });
        }
        // Helpers stop when the input ends or this thread stops taking.
        let _stop = StopOnDrop(&work);
        let mut out = Out {
            sink,
            enricher,
            select,
            emit_from,
            failed: None,
            events: 0,
            buf: Vec::new(),
        };
        let mut last = Boundary {
            start: start.offset,
            offset: start.offset,
            line: start.line,
            ..Boundary::default()
        };
        let mut read_err = None;
        // The number of the next block's first line.
        let mut next_line = start.line;
        'read: loop {
            let (c, block) = match work.next_for_taker() {
                Due::Parse(job) => {
                    work.finish(job.parse(&work));
                    continue;
                }
                Due::Take(c, mut block) => {
                    let first = next_line + c.dropped;
                    next_line = first + block.stats.lines;
                    renumber(&mut block.lines, first);
                    (c, block)
                }
                Due::End(err) => {
                    read_err = err;
                    break;
                }
            };
            let mut stats = block.stats;
            stats.lines += c.dropped;
            stats.too_long += c.dropped;
            tally.stats.add(&stats);
            let mut buf = std::mem::take(&mut out.buf);
            let list = stream.push_block(block, &mut buf, |evs| out.flush_list(evs));
            out.buf = buf;
            work.give_back(list);
            if let Some(bar) = progress {
                bar.inc(c.end - c.start);
            }
            last = Boundary {
                start: c.start,
                offset: c.end,
                line: next_line,
                stats,
                year: stream.corr.year_state(),
                held_since: stream.held_since(),
                guard_hash: c.guard_hash,
                guard_len: c.guard_len,
                cursor: c.cursor,
                batch_end: c.batch_end,
                eof: false,
            };
            if !out.boundary(&last) {
                break 'read;
            }
        }
        if read_err.is_none() && out.failed.is_none() {
            stream.finish(&mut |ev| out.buf.push(ev));
            last.held_since = None;
            last.batch_end = true;
            last.eof = true;
            last.year = stream.corr.year_state();
            out.boundary(&last);
        } else if read_err.is_some() {
            // What was read is processed; what is held leaves as at an end.
            stream.finish(&mut |ev| out.buf.push(ev));
            out.flush();
        }
        tally.events += out.events;
        if let Some(e) = out.failed {
            return Err(Error::Sink(e));
        }
        if let Some(e) = read_err {
            return Err(Error::Read(e));
        }
        Ok(())
    })
}

/// The end of a flow: selection, enrichment and the sink, which stops taking
/// anything after its first error.
struct Out<'a, 'g, S: Sink> {
    sink: &'a mut S,
    enricher: &'a mut Enricher<'g>,
    select: &'a Select,
    emit_from: u64,
    failed: Option<S::Error>,
    events: u64,
    /// The events released since the last [`Out::flush`]: a block's go to the
    /// sink as one list (issue #15).
    buf: Vec<Event>,
}

impl<S: Sink> Out<'_, '_, S> {
    /// Selects, enriches and passes on what was released since the last flush.
    fn flush(&mut self) {
        let mut buf = std::mem::take(&mut self.buf);
        self.flush_list(&mut buf);
        self.buf = buf;
    }

    /// [`Out::flush`] of the events in `buf`, which it leaves empty.
    fn flush_list(&mut self, buf: &mut Vec<Event>) {
        if self.failed.is_some() {
            buf.clear();
            return;
        }
        let (emit_from, select) = (self.emit_from, self.select);
        // Most runs select nothing out: no pass over the list then.
        if emit_from != 0 || !select.keeps_all() {
            buf.retain(|ev| ev.src.line >= emit_from && select.keeps(ev));
        }
        self.events += buf.len() as u64;
        if let Err(e) = self.sink.enrich_events(buf, self.enricher) {
            self.failed = Some(e);
        }
        // Dropped here, by the thread that just read them: on a thread
        // that parses, their ~200 bytes each would move between the cores'
        // caches twice (tried in issue #15: 5% slower).
        buf.clear();
    }

    /// Passes on a boundary; `false` once the sink has failed.
    fn boundary(&mut self, b: &Boundary) -> bool {
        self.flush();
        if self.failed.is_some() {
            return false;
        }
        if let Err(e) = self.sink.boundary(b) {
            self.failed = Some(e);
            return false;
        }
        true
    }
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

/// Reads every input in turn into `sink` (batch commands). A sink error (a
/// closed pipe) stops the run and is returned; an unreadable input is recorded
/// in its report and the run goes on.
pub fn run<S: Sink<Error = io::Error>>(
    inputs: &[Input],
    opts: &Options,
    sink: &mut S,
) -> io::Result<Vec<InputReport>> {
    let mut reports = Vec::with_capacity(inputs.len());
    // One enrichment cache for the whole run: each distinct address is looked up once.
    let mut enricher = Enricher::new(opts.geo.as_deref());
    let select = Select {
        range: opts.range,
        host: opts.host.clone(),
    };
    for input in inputs {
        let mut report = InputReport {
            input: input.name(),
            ..InputReport::default()
        };
        match source::open(input) {
            Ok(opened) => {
                let mut child = opened.child;
                let size = match input {
                    Input::File(p) if opened.compression == source::Compression::None => {
                        std::fs::metadata(p).map(|m| m.len()).ok()
                    }
                    _ => None,
                };
                let mut stream = Stream::new(
                    Arc::from(input.name()),
                    correlator_options(opts, opened.mtime),
                );
                let bar = progress_bar(opts.progress, size, &input.name());
                let mut tally = Tally::default();
                let res = drive(
                    opened.reader,
                    &Start {
                        line: 1,
                        // As many blocks a batch as there are threads to parse
                        // them: the first batch's parse and the last one's
                        // correlation run alone, and a batch in flight costs
                        // ~1.6 MiB a block (1M lines, 2 cores: 54 -> 41 MB,
                        // wall no slower). Stores commit per batch: theirs stay at
                        // [`BATCH`].
                        batch: rayon::current_num_threads().clamp(2, BATCH),
                        ..Start::default()
                    },
                    &mut stream,
                    &mut enricher,
                    &select,
                    sink,
                    bar.as_ref(),
                    &mut tally,
                );
                if let Some(bar) = bar {
                    bar.finish_and_clear();
                }
                if let Some(c) = child.as_mut() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                report.lines = tally.stats.lines;
                report.events = tally.events;
                report.other_programs = tally.stats.other_programs;
                report.malformed = tally.stats.malformed;
                report.too_long = tally.stats.too_long;
                report.skipped = tally.stats.lines.saturating_sub(tally.events);
                match res {
                    Ok(()) => {}
                    Err(Error::Sink(e)) => return Err(e),
                    Err(Error::Read(e)) => report.error = Some(format!("{}: {e}", input.name())),
                }
            }
            Err(e) => report.error = Some(e.to_string()),
        }
        reports.push(report);
    }
    Ok(reports)
}

/// A byte progress bar on stderr: on a terminal, when enabled, for inputs over 32 MiB.
pub(crate) fn progress_bar(
    enabled: bool,
    size: Option<u64>,
    name: &str,
) -> Option<indicatif::ProgressBar> {
    if !enabled || !io::stderr().is_terminal() {
        return None;
    }
    let bar = match size {
        Some(n) if n > 32 << 20 => indicatif::ProgressBar::new(n).with_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
            )
            .ok()?
            .progress_chars("=> "),
        ),
        _ => return None,
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    bar.set_message(crate::escape::terminal(name).into_owned());
    Some(bar)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives `text` from its first line into `sink`.
    fn drive_text<S: Sink>(text: &str, sink: &mut S) -> Result<(), Error<S::Error>> {
        let mut stream = Stream::new("t".into(), parse::Options::default());
        let mut enricher = Enricher::new(None);
        let start = Start {
            line: 1,
            ..Start::default()
        };
        let reader = Box::new(io::Cursor::new(text.as_bytes().to_vec()));
        let select = Select::default();
        let mut tally = Tally::default();
        drive(
            reader,
            &start,
            &mut stream,
            &mut enricher,
            &select,
            sink,
            None,
            &mut tally,
        )
    }

    #[test]
    fn repeated_line_at_the_start_of_a_live_batch_repeats_the_previous_batch() {
        let mut s = Stream::new("t".into(), parse::Options::default());
        let mut out = Vec::new();
        s.push_line(
            b"Feb 22 10:21:42 h sshd[1332]: Failed password for root from 192.0.2.9 port 4 ssh2",
            &mut |e| out.push(e),
        );
        s.push_line(
            b"Feb 22 10:21:43 h sshd[1332]: last message repeated 2 times",
            &mut |e| out.push(e),
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[1].src.line, out[1].count), (2, 2));
        // Twice in a row, then after a line of another program: nothing to repeat.
        s.push_line(
            b"Feb 22 10:21:44 h sshd[1332]: last message repeated 3 times",
            &mut |e| out.push(e),
        );
        assert_eq!((out.len(), out[2].src.line, out[2].count), (3, 3, 3));
        s.push_line(b"Feb 22 10:21:45 h CRON[9]: (root) CMD (true)", &mut |e| {
            out.push(e)
        });
        s.push_line(
            b"Feb 22 10:21:46 h sshd[1332]: last message repeated 4 times",
            &mut |e| out.push(e),
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn boundaries_number_lines_and_end_with_eof() {
        let mut text = String::new();
        for i in 0..30_000 {
            text.push_str(&format!(
                "Feb 22 10:21:42 h sshd[{i}]: Invalid user u{i}-some-padding-to-make-the-line-longer from 192.0.2.9 port 4\n"
            ));
        }
        struct Rec(Vec<Boundary>, u64);
        impl Sink for Rec {
            type Error = ();
            fn event(&mut self, _ev: Event) -> Result<(), ()> {
                self.1 += 1;
                Ok(())
            }
            fn boundary(&mut self, b: &Boundary) -> Result<(), ()> {
                self.0.push(b.clone());
                Ok(())
            }
        }
        let mut rec = Rec(Vec::new(), 0);
        drive_text(&text, &mut rec).unwrap();
        assert_eq!(rec.1, 30_000);
        let b = &rec.0;
        assert!(b.len() >= 3, "{}", b.len());
        assert!(b.last().unwrap().eof);
        assert_eq!(b.last().unwrap().offset, text.len() as u64);
        assert_eq!(b.last().unwrap().line, 30_001);
        // Each boundary's line is the line starting at its offset.
        for x in &b[..b.len() - 1] {
            let before = &text.as_bytes()[..x.offset as usize];
            assert_eq!(
                x.line,
                memchr::memchr_iter(b'\n', before).count() as u64 + 1
            );
        }
        // An empty input: no event, one boundary, the end.
        let mut empty = Rec(Vec::new(), 0);
        drive_text("", &mut empty).unwrap();
        assert_eq!(empty.1, 0);
        assert!(empty.0.len() == 1 && empty.0[0].eof && empty.0[0].line == 1);
    }

    /// Events and boundaries of `reader` driven with `batch` blocks a batch
    /// in a pool of `threads`.
    fn drive_in_pool(
        reader: Box<dyn Read + Send>,
        batch: usize,
        threads: usize,
    ) -> (Vec<Event>, Vec<Boundary>, Result<(), Error<()>>) {
        struct Rec(Vec<Event>, Vec<Boundary>);
        impl Sink for Rec {
            type Error = ();
            fn event(&mut self, ev: Event) -> Result<(), ()> {
                self.0.push(ev);
                Ok(())
            }
            fn boundary(&mut self, b: &Boundary) -> Result<(), ()> {
                self.1.push(b.clone());
                Ok(())
            }
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let mut rec = Rec(Vec::new(), Vec::new());
        let res = pool.install(|| {
            let mut stream = Stream::new("t".into(), parse::Options::default());
            let mut enricher = Enricher::new(None);
            let start = Start {
                line: 1,
                batch,
                ..Start::default()
            };
            drive(
                reader,
                &start,
                &mut stream,
                &mut enricher,
                &Select::default(),
                &mut rec,
                None,
                &mut Tally::default(),
            )
        });
        (rec.0, rec.1, res)
    }

    /// ~9 MiB of connections that span blocks, with held lines and `message
    /// repeated`, so a block taken out of order would change the events.
    fn many_blocks() -> String {
        let mut text = String::new();
        for i in 0..90_000u32 {
            let pid = 1000 + i / 3;
            let ip = format!("198.51.{}.{}", (i / 250) % 250, i % 250);
            let (m, s) = ((i / 60) % 60, i % 60);
            text.push_str(&match i % 3 {
                0 => format!("Feb 22 10:{m:02}:{s:02} h sshd[{pid}]: Failed password for root from {ip} port 4 ssh2\n"),
                1 => format!("Feb 22 10:{m:02}:{s:02} h sshd[{pid}]: last message repeated {} times\n", 2 + i % 5),
                _ => format!("Feb 22 10:{m:02}:{s:02} h sshd[{pid}]: Disconnecting: Too many authentication failures for root [preauth]\n"),
            });
        }
        text
    }

    #[test]
    fn blocks_are_taken_in_order_whichever_thread_parses_them() {
        let text = many_blocks();
        // The reference: the live path, a line at a time.
        let mut stream = Stream::new("t".into(), parse::Options::default());
        let mut want = Vec::new();
        for line in text.lines() {
            stream.push_line(line.as_bytes(), &mut |e| want.push(e));
        }
        stream.finish(&mut |e| want.push(e));
        let mut enricher = Enricher::new(None);
        want.iter_mut().for_each(|e| enricher.enrich(e));
        want.sort_by_key(|e| e.src.line);
        assert!(want.len() >= 90_000, "{}", want.len());
        // Many threads on few cores finish blocks out of order: a block
        // taken as it finishes, not in order, would break the boundaries.
        let mixes = [
            (1, 1),
            (2, 2),
            (3, 2),
            (2, 4),
            (8, 3),
            (1, 8),
            (2, 16),
            (4, 16),
        ];
        for (batch, threads) in mixes.into_iter().cycle().take(3 * mixes.len()) {
            let reader = Box::new(io::Cursor::new(text.clone().into_bytes()));
            let (mut got, bounds, res) = drive_in_pool(reader, batch, threads);
            res.unwrap();
            got.sort_by_key(|e| e.src.line);
            if let Some(i) = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i)) {
                panic!(
                    "batch {batch}, {threads} threads: event {i} of {}/{}:\n{:?}\n{:?}",
                    got.len(),
                    want.len(),
                    got.get(i),
                    want.get(i)
                );
            }
            let (last, blocks) = bounds.split_last().unwrap();
            assert!(last.eof && last.offset == text.len() as u64);
            assert!(blocks.len() >= 8, "{}", blocks.len());
            let mut offset = 0;
            for (i, b) in blocks.iter().enumerate() {
                assert_eq!(b.start, offset, "blocks follow each other");
                offset = b.offset;
                let before = &text.as_bytes()[..b.offset as usize];
                assert_eq!(
                    b.line,
                    memchr::memchr_iter(b'\n', before).count() as u64 + 1
                );
                // A batch ends every `batch` blocks; one cut short by the end does not.
                assert_eq!(
                    b.batch_end,
                    (i + 1) % batch == 0,
                    "block {i}, batch {batch}"
                );
            }
        }
    }

    #[test]
    fn a_read_error_comes_after_the_blocks_read_before_it() {
        /// Gives `ok` bytes, then fails.
        struct Failing(io::Cursor<Vec<u8>>);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.read(buf)? {
                    0 => Err(io::Error::other("disk on fire")),
                    n => Ok(n),
                }
            }
        }
        let text = many_blocks();
        let cut = 5 * BLOCK / 2;
        for (batch, threads) in [(1, 1), (2, 2), (8, 3)] {
            let reader = Box::new(Failing(io::Cursor::new(text.as_bytes()[..cut].to_vec())));
            let (events, bounds, res) = drive_in_pool(reader, batch, threads);
            assert!(matches!(res, Err(Error::Read(ref e)) if e.to_string() == "disk on fire"));
            // Every whole line before the error was read, and its block ends a batch
            // (a store commits it).
            let whole = memchr::memrchr(b'\n', &text.as_bytes()[..cut]).unwrap() as u64 + 1;
            let last = bounds.last().unwrap();
            assert!(
                !last.eof && last.offset == whole && last.batch_end,
                "{last:?}"
            );
            let lines =
                memchr::memchr_iter(b'\n', &text.as_bytes()[..whole as usize]).count() as u64;
            assert!(
                events.iter().any(|e| e.src.line + 5 >= lines),
                "the last lines' events"
            );
        }
    }
}
