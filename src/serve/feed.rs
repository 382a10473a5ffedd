//! The live pipeline: batches of lines from every source → parse → correlate
//! (one [`Correlator`] per input stream) → GeoIP → alerts → publish, then the
//! [`Writer`] thread stores them and answers the senders.
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
use super::state::{now_micros, Batch, BatchResult, Shared};
use super::writer::{Commit, Writer};
use crate::event::Event;
use crate::flow;
use crate::geo::{Enricher, Locator};
use crate::source::tail::Position;
use crate::store::{self, Location, Store};

/// Batches waiting for the pipeline.
pub const QUEUE: usize = 1024;

/// Lines parsed and published as one group at most (the writer merges
/// groups that wait for it into one transaction).
const MAX_GROUP_LINES: usize = 20_000;

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
    /// How long a held line waits for the rest of its connection on the wall
    /// clock (default [`HOLD`]).
    pub hold: Duration,
}

/// The default [`FeedOptions::hold`].
pub const HOLD: Duration = Duration::from_secs(crate::parse::correlate::WALL_HOLD_SECS as u64);

struct Stream {
    /// The flow's sequential stage, as for a batch input.
    flow: flow::Stream,
    used: u64,
    /// The stream's checkpoint key in the store.
    fingerprint: i64,
    /// Events emitted so far, and lines that gave none (held ones not counted).
    emitted: u64,
    skipped: u64,
}

impl Stream {
    /// Lines read so far that gave no event and hold none back; the change
    /// since the last call.
    fn newly_skipped(&mut self) -> u64 {
        let now = self
            .flow
            .stats
            .lines
            .saturating_sub(self.emitted + self.flow.held() as u64);
        let delta = now.saturating_sub(self.skipped);
        self.skipped = self.skipped.max(now);
        delta
    }
}

/// The stream name that announces new events from other instances (PostgreSQL).
pub const REMOTE: &str = "\u{1}remote";

/// The stream name of the periodic tick that releases held events on the wall clock.
pub const TICK: &str = "\u{1}tick";

/// How far back stored logins count as a user's history for `new_country`.
const HISTORY: Duration = Duration::from_secs(30 * 86_400);

/// What the pipeline found in the store at start.
#[derive(Default)]
pub struct Startup {
    /// Resume positions of followed files, by path.
    pub resume: HashMap<String, Position>,
    /// A message for stderr when the store could not be used.
    pub error: Option<String>,
}

/// The store's key of a stream: instance and stream name.
fn stream_fingerprint(instance: &str, name: &str) -> i64 {
    crate::store::ingest::fnv1a(format!("serve:{instance}:{name}").as_bytes())
}

/// Runs the pipeline until every sender of `rx` is gone or a [`stop_batch`]
/// arrives. `started` gets what the store holds once it is open.
pub fn run(
    shared: Arc<Shared>,
    mut rx: mpsc::Receiver<Batch>,
    opts: FeedOptions,
    started: std::sync::mpsc::Sender<Startup>,
) {
    let locator = opts.geo.clone();
    let mut enricher = Enricher::new(locator.as_deref());
    let mut alerter = Alerter::new(shared.cfg.window, shared.cfg.alert_thresholds());
    let mut streams: HashMap<Arc<str>, Stream> = HashMap::new();
    let mut tick = 0u64;
    let mut events: Vec<Event> = Vec::new();
    let instance = shared.cfg.instance.clone();
    let mut startup = Startup::default();
    let mut store: Option<Box<dyn Store>> = match shared
        .cfg
        .db
        .as_deref()
        .map(|d| Location::parse(Some(d)).and_then(|l| store::open(&l)))
    {
        None => None,
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            startup.error = Some(format!("--db: {e}"));
            let _ = started.send(startup);
            return;
        }
    };
    // Per remote input: the highest line already shown (PostgreSQL fan-out).
    let mut remote_seen: HashMap<Arc<str>, u64> = HashMap::new();
    let remote_from = now_micros() - shared.cfg.window.as_micros() as i64;
    if let Some(st) = store.as_mut() {
        match preload(
            st.as_mut(),
            &shared,
            &mut alerter,
            &instance,
            &mut remote_seen,
        ) {
            Ok(resume) => startup.resume = resume,
            Err(e) => startup.error = Some(format!("--db: reading the store: {e}")),
        }
    }
    let failed = startup.error.is_some();
    let _ = started.send(startup);
    if failed {
        return;
    }
    // From here on the store belongs to the writer thread; dropping the
    // writer (when this function returns) waits for its last commits.
    let writer = store.map(|st| Writer::spawn(st, shared.clone()));
    let mut remote = Some((remote_seen, remote_from));
    // A batch taken from the queue that belongs to the next group.
    let mut carry: Option<Batch> = None;
    loop {
        let batch = match carry.take() {
            Some(b) => b,
            None => match rx.blocking_recv() {
                Some(b) => b,
                None => break,
            },
        };
        if batch.input.is_empty() {
            // Shutdown: what the streams hold leaves now, as at the end of a batch input.
            for stream in streams.values_mut() {
                let mut released = Vec::new();
                stream.flow.finish(&mut |ev| released.push(ev));
                let (a, w) = (&mut alerter, writer.as_ref());
                deliver(&shared, &opts, &mut enricher, a, w, stream, released);
            }
            break;
        }
        if &*batch.input == TICK {
            let (now, hold) = (now_micros(), opts.hold.as_micros() as i64);
            for stream in streams.values_mut() {
                let mut released = Vec::new();
                stream
                    .flow
                    .release_idle(now, hold, &mut |ev| released.push(ev));
                let (a, w) = (&mut alerter, writer.as_ref());
                deliver(&shared, &opts, &mut enricher, a, w, stream, released);
            }
            shared.metrics.lines_held.store(
                streams.values().map(|s| s.flow.held() as u64).sum(),
                Relaxed,
            );
            continue;
        }
        if &*batch.input == REMOTE {
            if let (Some(w), Some((mut seen, mut from))) = (&writer, remote.take()) {
                let inst = instance.clone();
                let got = w.call(move |st| {
                    let evs = remote_events(st.store.as_mut(), &inst, &mut seen, &mut from);
                    (evs, seen, from)
                });
                if let Some((evs, seen, from)) = got {
                    remote = Some((seen, from));
                    for ev in &evs {
                        // Another instance alerted on its own events; here they only feed the rules.
                        let _ = alerter.check(ev);
                    }
                    shared.publish(evs, Vec::new());
                }
            }
            continue;
        }
        // Group commit: batches of the same stream already waiting go into one
        // store transaction (one fsync), which is what keeps many small POSTs fast.
        let mut group = vec![batch];
        let mut group_lines = group[0].lines.len();
        while group_lines < MAX_GROUP_LINES {
            match rx.try_recv() {
                Ok(b) if b.input == group[0].input => {
                    group_lines += b.lines.len();
                    group.push(b);
                }
                Ok(b) => {
                    carry = Some(b);
                    break;
                }
                Err(_) => break,
            }
        }
        let batch = &group[0];
        tick += 1;
        let stream =
            match streams.get_mut(&batch.input) {
                Some(s) => s,
                None => {
                    if streams.len() >= MAX_STREAMS {
                        if let Some(k) = streams
                            .iter()
                            .min_by_key(|(_, s)| s.used)
                            .map(|(k, _)| k.clone())
                        {
                            if let (Some(old), Some(w)) = (streams.remove(&k), &writer) {
                                w.call_later(move |st| st.forget(old.fingerprint));
                            }
                        }
                    }
                    // With a shared PostgreSQL or ClickHouse, events carry their instance so others can tell them apart.
                    let name: Arc<str> =
                        if shared.cfg.db.as_deref().is_some_and(|d| {
                            d.starts_with("postgres") || d.starts_with("clickhouse")
                        }) {
                            Arc::from(format!("{}@{instance}", batch.input))
                        } else {
                            batch.input.clone()
                        };
                    let fingerprint = stream_fingerprint(&instance, &batch.input);
                    let opened = writer.as_ref().and_then(|w| {
                        let name = name.to_string();
                        w.call(move |st| st.open(fingerprint, &name).map_err(|e| e.to_string()))
                    });
                    // Line numbers continue across restarts: they are the events' keys in the store.
                    let line = match opened {
                        Some(Ok(line)) => line,
                        Some(Err(e)) => {
                            eprintln!("sshmap: store: {e}");
                            shared.metrics.store_errors.fetch_add(1, Relaxed);
                            0
                        }
                        None => 0,
                    };
                    let mut flow = flow::Stream::new(name.clone(), correlator_options(&opts));
                    flow.set_line(line);
                    streams.entry(batch.input.clone()).or_insert(Stream {
                        flow,
                        used: 0,
                        fingerprint,
                        emitted: 0,
                        skipped: 0,
                    })
                }
            };
        stream.used = tick;
        if let Some(w) = &writer {
            w.parsing(stream.fingerprint);
        }
        events.clear();
        let mut results = Vec::with_capacity(group.len());
        let mut position = None;
        stream.flow.set_wall_clock(now_micros());
        for b in &group {
            let before = events.len();
            for line in &b.lines {
                stream.flow.push_line(line, &mut |ev| events.push(ev));
            }
            let lines = b.lines.len() as u64;
            let evs = (events.len() - before) as u64;
            stream.emitted += evs;
            results.push(BatchResult {
                lines,
                events: evs,
                skipped: stream.newly_skipped(),
            });
            position = b.position.clone().or(position);
        }
        let lines: u64 = results.iter().map(|r| r.lines).sum();
        shared.metrics.add_lines(&batch.input, lines);
        shared
            .metrics
            .lines_skipped
            .fetch_add(results.iter().map(|r| r.skipped).sum(), Relaxed);
        let received = batch.received;
        let acks: Vec<_> = group
            .into_iter()
            .zip(results)
            .filter_map(|(b, r)| b.ack.map(|a| (a, r)))
            .collect();
        let evs = std::mem::take(&mut events);
        publish_and_store(
            &shared,
            &opts,
            &mut enricher,
            &mut alerter,
            writer.as_ref(),
            evs,
            Commit {
                fingerprint: stream.fingerprint,
                events: Vec::new(),
                end_line: stream.flow.line(),
                lines,
                position,
                acks,
            },
        );
        shared
            .metrics
            .lag_micros
            .store(received.elapsed().as_micros() as u64, Relaxed);
    }
}

/// Publishes and stores events that the wall clock or the end released.
fn deliver(
    shared: &Shared,
    opts: &FeedOptions,
    enricher: &mut Enricher<'_>,
    alerter: &mut Alerter,
    writer: Option<&Writer>,
    stream: &mut Stream,
    events: Vec<Event>,
) {
    if events.is_empty() {
        return;
    }
    stream.emitted += events.len() as u64;
    let commit = Commit {
        fingerprint: stream.fingerprint,
        events: Vec::new(),
        end_line: stream.flow.line(),
        lines: 0,
        position: None,
        acks: Vec::new(),
    };
    publish_and_store(shared, opts, enricher, alerter, writer, events, commit);
}

/// Enriches, checks alerts, publishes, then hands the events to the writer
/// (which answers the senders once they are stored).
#[allow(clippy::too_many_arguments)]
fn publish_and_store(
    shared: &Shared,
    opts: &FeedOptions,
    enricher: &mut Enricher<'_>,
    alerter: &mut Alerter,
    writer: Option<&Writer>,
    mut events: Vec<Event>,
    mut commit: Commit,
) {
    let mut alerts = Vec::new();
    for ev in events.iter_mut() {
        enricher.enrich(ev);
        if let Some(a) = alerter.check(ev) {
            // A burst for one address and user goes out once a minute (the stream gets all).
            if opts.stderr && !a.quiet {
                eprintln!(
                    "sshmap: ALERT {}",
                    crate::escape::terminal(&a.message(false))
                );
            }
            if let Some(tx) = opts.webhook.as_ref().filter(|_| !a.quiet) {
                // The webhook goes to the operator, like stderr: full addresses
                // (`--anonymize-ip` is about what the public page and API show).
                if tx.try_send(a.to_json(false)).is_err() {
                    shared.metrics.webhook_dropped.fetch_add(1, Relaxed);
                }
            }
            alerts.push(a);
        }
    }
    match writer {
        Some(w) => {
            commit.events = events.clone();
            shared.publish(events, alerts);
            w.commit(commit);
        }
        None => {
            shared.publish(events, alerts);
            for (ack, r) in commit.acks {
                let _ = ack.send(r);
            }
        }
    }
}

/// The batch that ends [`run`] (an empty stream name, which no source uses).
pub fn stop_batch() -> Batch {
    Batch {
        input: Arc::from(""),
        lines: Vec::new(),
        received: std::time::Instant::now(),
        ack: None,
        position: None,
    }
}

fn correlator_options(opts: &FeedOptions) -> crate::parse::Options {
    // Year-less lines are placed closest before "now plus a day": live lines are
    // at most a little ahead of this clock (a sender's clock skew).
    let now = SystemTime::now() + Duration::from_secs(86_400);
    crate::parse::Options {
        all: false,
        year: opts.year,
        tz: opts.tz.clone(),
        reference: flow::reference_ts(now, &opts.tz),
    }
}

/// Fills the window and the alert history from the store; returns the resume
/// positions of followed files.
fn preload(
    st: &mut dyn Store,
    shared: &Shared,
    alerter: &mut Alerter,
    instance: &str,
    remote_seen: &mut HashMap<Arc<str>, u64>,
) -> store::Result<HashMap<String, Position>> {
    let now = now_micros();
    let window_start = now - shared.cfg.window.as_micros() as i64;
    let history_start = now - HISTORY.as_micros() as i64;
    // Logins before the window only teach the alerter who logs in from where:
    // read from an index, not by decoding a month of events.
    if history_start < window_start {
        for (user, country) in st.logins(history_start, window_start)? {
            alerter.remember_login(&user, &country);
        }
    }
    // The window is read in one pass holding only what is kept: the newest
    // `max_events` events for the page, and the newest failures the alerter
    // can hold (older ones would leave its counts anyway). Logins teach it
    // who logs in from where, as above; a restart sends no alerts, so their
    // order against the failures does not matter. Holding the whole window
    // instead cost 2 GB on a restart after a 10-minute soak at 5,000 lines/s.
    let mut window = Newest::new(shared.cfg.max_events);
    let mut failures = Newest::new(super::alerts::MAX_FAILURES);
    st.scan(
        &store::Filter {
            from: Some(window_start),
            to: None,
            host: None,
        },
        &mut |ev| {
            let seen = remote_seen.entry(ev.src.input.clone()).or_default();
            *seen = (*seen).max(ev.src.line);
            if Alerter::counts(&ev) {
                failures.push(ev.clone());
            } else if ev.kind == crate::event::Kind::AuthSuccess {
                if let (Some(u), Some(c)) =
                    (&ev.user, ev.geo.as_ref().and_then(|g| g.country.as_deref()))
                {
                    alerter.remember_login(u, c);
                }
            }
            window.push(ev);
        },
    )?;
    for ev in failures.into_sorted() {
        let _ = alerter.check(&ev);
    }
    let window = window.into_sorted();
    shared.preload(window);
    let mut resume = HashMap::new();
    for path in &shared.cfg.tail {
        let key = path.display().to_string();
        if let Some(cp) = st.checkpoint(stream_fingerprint(instance, &key))? {
            if let Some(p) = stored_position(&cp) {
                resume.insert(key, p);
            }
        }
    }
    Ok(resume)
}

/// The newest `cap` events pushed, by time (then by arrival): a min-heap, so
/// pushing costs O(log cap) and nothing older than the kept ones is held.
struct Newest {
    cap: usize,
    seq: u64,
    heap: std::collections::BinaryHeap<std::cmp::Reverse<ByTime>>,
}

struct ByTime(i64, u64, Event);

impl PartialEq for ByTime {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl Eq for ByTime {}
impl PartialOrd for ByTime {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for ByTime {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

impl Newest {
    fn new(cap: usize) -> Newest {
        Newest {
            cap,
            seq: 0,
            heap: std::collections::BinaryHeap::new(),
        }
    }

    fn push(&mut self, ev: Event) {
        if self.cap == 0 {
            return;
        }
        self.seq += 1;
        let item = ByTime(ev.ts.micros, self.seq, ev);
        if self.heap.len() < self.cap {
            self.heap.push(std::cmp::Reverse(item));
        } else if self.heap.peek().is_some_and(|oldest| item > oldest.0) {
            self.heap.pop();
            self.heap.push(std::cmp::Reverse(item));
        }
    }

    /// Oldest first.
    fn into_sorted(self) -> Vec<Event> {
        let mut v: Vec<ByTime> = self.heap.into_iter().map(|r| r.0).collect();
        v.sort_unstable();
        v.into_iter().map(|b| b.2).collect()
    }
}

/// Writes a followed file's position into its stream's row: device, inode,
/// offset and the file's fingerprint, which goes to `warm_hash` and
/// `warm_hash_len` (a stream is never re-read from a warm point; `head_hash`
/// and `head_len` are what `ingest` tells its inputs apart by, and a stream
/// row must never be taken for an ingested file). The fingerprint's first-line
/// hash is not kept: a followed file is recognised by its checksum.
pub(super) fn store_position(cp: &mut store::Checkpoint, p: &Position) {
    cp.dev = p.dev;
    cp.ino = p.ino;
    cp.end_offset = p.offset;
    cp.keep_offset = p.offset;
    cp.warm_offset = p.offset;
    cp.warm_hash = p.fingerprint.head;
    cp.warm_hash_len = p.fingerprint.head_len;
}

/// The position [`store_position`] wrote. An sshmap before the shared
/// fingerprint wrote the older 256-byte hash there, so a short one is taken as
/// either ([`Position::legacy`]); the file is fingerprinted anew when opened.
pub(super) fn stored_position(cp: &store::Checkpoint) -> Option<Position> {
    if cp.dev == 0 && cp.ino == 0 {
        return None;
    }
    Some(Position {
        dev: cp.dev,
        ino: cp.ino,
        fingerprint: crate::source::fingerprint::Fingerprint {
            line: 0,
            head: cp.warm_hash,
            head_len: cp.warm_hash_len,
        },
        offset: cp.end_offset,
        legacy: cp.warm_hash_len <= crate::source::fingerprint::LEGACY_HEAD,
    })
}

/// Events other instances stored since the last look (PostgreSQL LISTEN/NOTIFY, ClickHouse polling).
fn remote_events(
    st: &mut dyn Store,
    instance: &str,
    seen: &mut HashMap<Arc<str>, u64>,
    from: &mut i64,
) -> Vec<Event> {
    let own = format!("@{instance}");
    let mut out = Vec::new();
    let mut newest = *from;
    // A little slack: writers' clocks and commit order differ.
    let filter = store::Filter {
        from: Some(*from - 300_000_000),
        to: None,
        host: None,
    };
    let res = st.scan(&filter, &mut |ev| {
        if ev.src.input.ends_with(&own) {
            return;
        }
        let s = seen.entry(ev.src.input.clone()).or_default();
        if ev.src.line > *s {
            *s = ev.src.line;
            newest = newest.max(ev.ts.micros);
            out.push(ev);
        }
    });
    if let Err(e) = res {
        eprintln!("sshmap: store: {e}");
    }
    *from = newest;
    out.sort_by_key(|e| e.ts.micros);
    out
}
