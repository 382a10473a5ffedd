//! The live pipeline: batches of lines from every source → parse → correlate
//! (one [`Correlator`] per input stream) → GeoIP → alerts → publish.
//!
//! It runs on one dedicated thread: parsing is CPU work that must not stall the
//! async workers serving clients, and one thread keeps every stream's events
//! and the alert rules in one order. Its input queue is bounded, so a flood of
//! lines slows the senders down (HTTP clients wait for their answer, followed
//! files are read later) instead of filling memory.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use super::alerts::Alerter;
use super::state::{Batch, BatchResult, Shared};
use crate::event::{Event, Ts};
use crate::geo::{Enricher, Locator};
use crate::parse::{self, Correlator};

/// Batches waiting for the pipeline.
pub const QUEUE: usize = 1024;

/// Streams that get their own correlator; beyond this the least recent is dropped.
const MAX_STREAMS: usize = 1024;

/// What the pipeline needs besides the shared state.
pub struct FeedOptions {
    pub geo: Option<Arc<Locator>>,
    pub tz: jiff::tz::TimeZone,
    pub year: Option<i32>,
    /// Alerts for the webhook task; `None`: no webhook.
    pub webhook: Option<mpsc::Sender<String>>,
    /// Print alerts on stderr.
    pub stderr: bool,
}

struct Stream {
    corr: Correlator,
    line: u64,
    used: u64,
}

/// Runs the pipeline until every sender of `rx` is gone.
pub fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Batch>, opts: FeedOptions) {
    let locator = opts.geo.clone();
    let mut enricher = Enricher::new(locator.as_deref());
    let mut alerter = Alerter::new(shared.cfg.window, shared.cfg.alert_user_failures);
    let mut streams: HashMap<Arc<str>, Stream> = HashMap::new();
    let mut tick = 0u64;
    let mut events: Vec<Event> = Vec::new();
    while let Some(batch) = rx.blocking_recv() {
        if batch.input.is_empty() {
            break;
        }
        tick += 1;
        let stream = match streams.get_mut(&batch.input) {
            Some(s) => s,
            None => {
                if streams.len() >= MAX_STREAMS {
                    if let Some(k) = streams.iter().min_by_key(|(_, s)| s.used).map(|(k, _)| k.clone()) {
                        streams.remove(&k);
                    }
                }
                let corr = Correlator::new(batch.input.clone(), correlator_options(&opts));
                streams.entry(batch.input.clone()).or_insert(Stream { corr, line: 0, used: 0 })
            }
        };
        stream.used = tick;
        let mut result = BatchResult { lines: batch.lines.len() as u64, ..BatchResult::default() };
        events.clear();
        for line in &batch.lines {
            stream.line += 1;
            if line.len() > parse::MAX_LINE {
                continue;
            }
            if let Ok(Some(raw)) = parse::parse_line(line, stream.line, false) {
                stream.corr.push(raw, &mut |ev| events.push(ev));
            }
        }
        shared.metrics.add_lines(&batch.input, result.lines);
        result.events = events.len() as u64;
        result.skipped = result.lines.saturating_sub(result.events);
        shared.metrics.lines_skipped.fetch_add(result.skipped, Relaxed);
        let mut alerts = Vec::new();
        for ev in events.iter_mut() {
            enricher.enrich(ev);
            if let Some(a) = alerter.check(ev) {
                if opts.stderr {
                    eprintln!("sshmap: ALERT {}", crate::escape::terminal(&a.message(false)));
                }
                if let Some(tx) = &opts.webhook {
                    if tx.try_send(a.to_json(shared.cfg.anonymize_ip)).is_err() {
                        shared.metrics.webhook_dropped.fetch_add(1, Relaxed);
                    }
                }
                alerts.push(a);
            }
        }
        shared.publish(std::mem::take(&mut events), alerts);
        shared.metrics.lag_micros.store(batch.received.elapsed().as_micros() as u64, Relaxed);
        if let Some(ack) = batch.ack {
            let _ = ack.send(result);
        }
    }
}

/// The batch that ends [`run`] (an empty stream name, which no source uses).
pub fn stop_batch() -> Batch {
    Batch { input: Arc::from(""), lines: Vec::new(), received: std::time::Instant::now(), ack: None }
}

fn correlator_options(opts: &FeedOptions) -> parse::Options {
    // Year-less lines are placed closest before "now plus a day": live lines are
    // at most a little ahead of this clock (a sender's clock skew).
    let now = SystemTime::now() + Duration::from_secs(86_400);
    let micros = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0);
    let offset = jiff::Timestamp::from_microsecond(micros).map(|t| opts.tz.to_offset(t).seconds()).unwrap_or(0);
    parse::Options { all: false, year: opts.year, tz: opts.tz.clone(), reference: Ts::from_micros(micros, offset) }
}
