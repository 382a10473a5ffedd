//! Runs source → parse → enrich for a list of inputs and hands each event to a sink.
//!
//! Blocks of whole lines are parsed in parallel (rayon), then correlated in
//! order on the calling thread, so output order is input order and memory stays
//! flat whatever the file size: at most [`BATCH`] blocks are in flight.

use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::time::SystemTime;

use rayon::prelude::*;
use serde::Serialize;

use crate::event::{Event, Ts};
use crate::geo::{Enricher, Locator};
use crate::parse::{self, BlockStats, Correlator};
use crate::source::{self, BlockReader, Input};

/// Bytes per parse block.
pub const BLOCK: usize = 1 << 20;
/// Blocks parsed in parallel per round.
pub const BATCH: usize = 8;

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

/// Reads every input in turn. A sink error (a closed pipe) stops the run and
/// is returned; an unreadable input is recorded in its report and the run goes on.
pub fn run(
    inputs: &[Input],
    opts: &Options,
    sink: &mut dyn FnMut(Event) -> io::Result<()>,
) -> io::Result<Vec<InputReport>> {
    let mut reports = Vec::with_capacity(inputs.len());
    // Enriched here, after correlation, on the calling thread: one cache for the
    // whole run, so each distinct address is looked up once.
    let mut enricher = Enricher::new(opts.geo.as_deref());
    let sink = &mut |mut ev: Event| {
        enricher.enrich(&mut ev);
        sink(ev)
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
                let res = run_one(
                    input,
                    opened.reader,
                    opened.mtime,
                    size,
                    opts,
                    &mut report,
                    sink,
                );
                if let Some(c) = child.as_mut() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
                match res {
                    Ok(()) => {}
                    Err(RunError::Sink(e)) => return Err(e),
                    Err(RunError::Read(e)) => report.error = Some(format!("{}: {e}", input.name())),
                }
            }
            Err(e) => report.error = Some(e.to_string()),
        }
        reports.push(report);
    }
    Ok(reports)
}

enum RunError {
    Read(io::Error),
    Sink(io::Error),
}

fn run_one(
    input: &Input,
    reader: Box<dyn io::Read + Send>,
    mtime: Option<SystemTime>,
    size: Option<u64>,
    opts: &Options,
    report: &mut InputReport,
    sink: &mut dyn FnMut(Event) -> io::Result<()>,
) -> Result<(), RunError> {
    let reference = mtime.unwrap_or_else(SystemTime::now);
    let micros = match reference.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_micros() as i64,
        Err(_) => 0,
    };
    let offset = jiff::Timestamp::from_microsecond(micros)
        .map(|t| opts.tz.to_offset(t).seconds())
        .unwrap_or(0);
    let copts = parse::Options {
        all: opts.all,
        year: opts.year,
        tz: opts.tz.clone(),
        reference: Ts::from_micros(micros, offset),
    };
    let mut corr = Correlator::new(Arc::from(input.name()), copts);
    let mut blocks = BlockReader::new(reader, BLOCK);
    let bar = progress_bar(opts.progress, size, &input.name());
    let mut stats = BlockStats::default();
    let sink_err: std::cell::RefCell<Option<io::Error>> = std::cell::RefCell::new(None);
    let events = std::cell::Cell::new(0u64);
    let range = opts.range;
    let host = opts.host.as_deref();
    let mut emit = |ev: Event| {
        if !range.contains(ev.ts) || host.is_some_and(|h| ev.host.as_deref() != Some(h)) {
            return;
        }
        if sink_err.borrow().is_none() {
            events.set(events.get() + 1);
            if let Err(e) = sink(ev) {
                *sink_err.borrow_mut() = Some(e);
            }
        }
    };
    // Reading and parallel parsing run on a producer thread while this thread
    // correlates and feeds the sink: the two halves overlap.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Vec<parse::Block>, BlockStats, usize)>(2);
    let all = opts.all;
    let read_err = std::thread::scope(|scope| {
        let producer = scope.spawn(move || -> Option<io::Error> {
            let mut next_line = 1u64;
            loop {
                let mut batch = Vec::with_capacity(BATCH);
                let mut dropped_stats = BlockStats::default();
                let mut err = None;
                while batch.len() < BATCH {
                    match blocks.next_block() {
                        Ok(Some((b, dropped))) => {
                            dropped_stats.too_long += dropped;
                            dropped_stats.lines += dropped;
                            next_line += dropped;
                            // Line numbers: count newlines now so blocks parse independently.
                            let n = memchr::memchr_iter(b'\n', &b).count() as u64
                                + u64::from(!b.is_empty() && !b.ends_with(b"\n"));
                            batch.push((b, next_line));
                            next_line += n;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            err = Some(e);
                            break;
                        }
                    }
                }
                if batch.is_empty() {
                    return err;
                }
                let bytes: usize = batch.iter().map(|(b, _)| b.len()).sum();
                let parsed: Vec<parse::Block> = batch
                    .par_iter()
                    .map(|(b, first)| parse::parse_block(b, *first, all))
                    .collect();
                if tx.send((parsed, dropped_stats, bytes)).is_err() || err.is_some() {
                    return err;
                }
            }
        });
        for (parsed, dropped, bytes) in rx.iter() {
            stats.add(&dropped);
            for block in parsed {
                stats.add(&block.stats);
                for raw in block.lines {
                    corr.push(raw, &mut emit);
                }
            }
            if let Some(bar) = &bar {
                bar.inc(bytes as u64);
            }
            if sink_err.borrow().is_some() {
                break;
            }
        }
        drop(rx);
        producer.join().unwrap_or(None)
    });
    corr.finish_all(&mut emit);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    report.lines = stats.lines;
    let events = events.get();
    report.events = events;
    report.other_programs = stats.other_programs;
    report.malformed = stats.malformed;
    report.too_long = stats.too_long;
    report.skipped = stats.lines.saturating_sub(events);
    if let Some(e) = sink_err.into_inner() {
        return Err(RunError::Sink(e));
    }
    if let Some(e) = read_err {
        return Err(RunError::Read(e));
    }
    Ok(())
}

fn progress_bar(enabled: bool, size: Option<u64>, name: &str) -> Option<indicatif::ProgressBar> {
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
