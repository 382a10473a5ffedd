//! Shared state of a running `serve`: the window of recent events, the
//! broadcast to SSE clients, the metrics and the way into the pipeline.
//!
//! Every event is turned into its public JSON once, when it is published.
//! SSE frames go out in ticks ([`ServeConfig::sse_tick`]): the frames published
//! during a tick are concatenated into one shared buffer, and every client
//! wakes once per tick and writes that buffer, whatever the number of events
//! in it. With a thousand clients and a thousand events a second that is a few
//! ten thousand wake-ups and writes a second instead of a million.
//!
//! The ring of recent ticks is the only per-client buffer: it holds about
//! [`ServeConfig::sse_buffer`] messages, and a client whose next tick has left
//! it is dropped, never buffered.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use tokio::sync::{mpsc, oneshot, watch};

use super::alerts::Alert;
use super::config::ServeConfig;
use super::public;
use crate::event::{Event, Kind};

/// One published message: an event or an alert.
#[derive(Debug)]
pub struct Item {
    pub seq: u64,
    /// Event time, microseconds since the epoch.
    pub ts: i64,
    pub kind: ItemKind,
    /// The public JSON.
    pub json: Bytes,
}

#[derive(Debug)]
pub enum ItemKind {
    Event(Event),
    /// Boxed: alerts are few, and the window holds up to `max_events` items.
    Alert(Box<Alert>),
}

impl Item {
    pub fn event(&self) -> Option<&Event> {
        match &self.kind {
            ItemKind::Event(e) => Some(e),
            ItemKind::Alert(_) => None,
        }
    }
}

/// Lines for the pipeline, from one input stream (a followed file, syslog, HTTP).
pub struct Batch {
    /// The stream: lines of one stream are correlated together, in order.
    pub input: Arc<str>,
    pub lines: Vec<Vec<u8>>,
    pub received: Instant,
    /// Answered once the lines are parsed, stored and published.
    pub ack: Option<oneshot::Sender<BatchResult>>,
    /// For a followed file: where reading stopped after these lines, stored
    /// with their events in one transaction.
    pub position: Option<crate::source::tail::Position>,
}

/// What became of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BatchResult {
    pub lines: u64,
    pub events: u64,
    pub skipped: u64,
}

#[derive(Default)]
struct Window {
    events: VecDeque<Arc<Item>>,
    alerts: VecDeque<Arc<Item>>,
    next_seq: u64,
    /// SSE frames published since the last tick, in order.
    pending: Vec<u8>,
    /// Each pending message's sequence number and offset in `pending`.
    pending_index: Vec<(u64, usize)>,
    /// When the first pending message was published.
    pending_since: Option<Instant>,
}

/// The frames of one tick: SSE messages back to back, shared by every client.
#[derive(Debug)]
pub struct Tick {
    pub no: u64,
    pub frames: Bytes,
    /// Each message's sequence number and offset in `frames`.
    pub index: Vec<(u64, usize)>,
}

impl Tick {
    pub fn messages(&self) -> usize {
        self.index.len()
    }

    /// The frames of the messages numbered `seq` and after.
    pub fn from_seq(&self, seq: u64) -> Bytes {
        match self.index.iter().find(|(s, _)| *s >= seq) {
            Some((_, at)) => self.frames.slice(*at..),
            None => Bytes::new(),
        }
    }
}

/// Recent ticks, oldest first; what a client has not written yet is here.
#[derive(Default)]
struct Ring {
    ticks: VecDeque<Arc<Tick>>,
    /// The number the next tick gets.
    next_no: u64,
    messages: usize,
}

/// What [`Shared::next_ticks`] found for a client.
pub enum Next {
    /// Ticks from the client's position on, in order (the position moved past them).
    Ticks(Vec<Arc<Tick>>),
    /// Nothing new yet.
    Nothing,
    /// The client's next tick left the ring: it fell too far behind.
    Lagged,
}

/// Alerts kept for the snapshot.
const MAX_ALERTS: usize = 200;

/// How long an encoded SSE snapshot is shared by the clients that connect:
/// a thousand clients connecting at once share one snapshot's memory, and each
/// catches up from the tick ring where the snapshot ends.
const SNAPSHOT_TTL: Duration = Duration::from_millis(1000);

/// An encoded SSE snapshot and where its live continuation starts.
#[derive(Clone)]
pub struct SseStart {
    /// The `snapshot` SSE message.
    pub first: Bytes,
    pub next_tick: u64,
    pub next_seq: u64,
    built: Instant,
}

/// Counters for `/metrics`.
#[derive(Default)]
pub struct Metrics {
    lines: Mutex<BTreeMap<String, u64>>,
    pub lines_skipped: AtomicU64,
    /// Events held back now, waiting for their connection (bounded: see `flow`).
    pub lines_held: AtomicU64,
    pub events: [AtomicU64; Kind::ALL.len()],
    ingest_errors: Mutex<BTreeMap<&'static str, u64>>,
    pub store_errors: AtomicU64,
    pub ingest_requests: AtomicU64,
    pub sse_clients: AtomicI64,
    /// SSE clients whose snapshot is not handed to the connection yet.
    pub sse_snapshot: AtomicI64,
    pub sse_dropped: AtomicU64,
    /// Requests refused: no free slot on a heavy route, the ingest rate, too many SSE clients.
    pub refused_busy: AtomicU64,
    pub refused_rate: AtomicU64,
    pub refused_sse: AtomicU64,
    pub alerts: AtomicU64,
    pub webhook_sent: AtomicU64,
    pub webhook_failed: AtomicU64,
    pub webhook_dropped: AtomicU64,
    pub syslog_dropped: AtomicU64,
    /// Last batch: time from receipt to publication, microseconds.
    pub lag_micros: AtomicU64,
    /// Highest event time seen, microseconds since the epoch.
    pub last_event_ts: AtomicI64,
}

impl Metrics {
    pub fn add_lines(&self, source: &str, n: u64) {
        let mut m = self.lines.lock().expect("metrics lock");
        match m.get_mut(source) {
            Some(v) => *v += n,
            None => {
                // Bounded: a hostile peer could otherwise make up endless stream names.
                if m.len() < 256 {
                    m.insert(source.to_string(), n);
                } else {
                    *m.entry("other".into()).or_default() += n;
                }
            }
        }
    }

    pub fn ingest_error(&self, reason: &'static str) {
        *self
            .ingest_errors
            .lock()
            .expect("metrics lock")
            .entry(reason)
            .or_default() += 1;
    }

    pub fn ingest_errors(&self, reason: &str) -> u64 {
        self.ingest_errors
            .lock()
            .expect("metrics lock")
            .get(reason)
            .copied()
            .unwrap_or(0)
    }
}

/// The state every handler and source shares.
pub struct Shared {
    pub cfg: ServeConfig,
    /// Lock order: `window`, then `ring`.
    window: Mutex<Window>,
    /// Signalled when the first frame of a tick is pending, and at stop.
    pending_cv: Condvar,
    ring: Mutex<Ring>,
    /// The number of the next tick: changes when a tick is added to the ring.
    tick_tx: watch::Sender<u64>,
    ticker_stop: std::sync::atomic::AtomicBool,
    pub metrics: Metrics,
    /// The way into the pipeline ([`super::feed`]).
    pub ingest: mpsc::Sender<Batch>,
    pub started: Instant,
    /// Set to `true` at shutdown: SSE streams end.
    pub closing: watch::Sender<bool>,
    /// Connections (see [`super::limits`]).
    pub conns: Arc<super::limits::ConnMetrics>,
    pub budget: super::limits::Budget,
    pub ingest_limiter: super::limits::RateLimiter,
    /// The last SSE snapshot, shared for [`SNAPSHOT_TTL`].
    sse_cache: Mutex<Option<SseStart>>,
    /// The last rendered page and when: one render serves every request for a second.
    pub page_cache: tokio::sync::Mutex<Option<(Instant, Bytes)>>,
    /// Answers built at once, per heavy route: beyond, 429.
    pub slots_events: Arc<tokio::sync::Semaphore>,
    pub slots_stats: Arc<tokio::sync::Semaphore>,
}

pub type AppState = Arc<Shared>;

/// A snapshot of the window for a new client, and its live continuation.
pub struct Snapshot {
    pub events: Vec<Arc<Item>>,
    pub alerts: Vec<Arc<Item>>,
    pub truncated: bool,
    /// The client's position: the first tick it has to write.
    pub next_tick: u64,
    /// The first sequence number not in the snapshot: messages before it in
    /// the first tick (published, not yet sent when the client came) are skipped.
    pub next_seq: u64,
    /// Changes whenever a tick is added.
    pub ticks: watch::Receiver<u64>,
}

pub fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Shared {
    pub fn new(cfg: ServeConfig, ingest: mpsc::Sender<Batch>) -> Shared {
        let (closing, _) = watch::channel(false);
        let (tick_tx, _) = watch::channel(0);
        let budget = super::limits::Budget::new(cfg.memory_budget);
        let ingest_limiter = super::limits::RateLimiter::new(cfg.ingest_rate);
        Shared {
            budget,
            ingest_limiter,
            conns: Default::default(),
            sse_cache: Mutex::default(),
            page_cache: Default::default(),
            slots_events: Arc::new(tokio::sync::Semaphore::new(8)),
            slots_stats: Arc::new(tokio::sync::Semaphore::new(4)),
            cfg,
            window: Mutex::default(),
            pending_cv: Condvar::new(),
            ring: Mutex::default(),
            tick_tx,
            ticker_stop: Default::default(),
            metrics: Metrics::default(),
            ingest,
            started: Instant::now(),
            closing,
        }
    }

    fn window_start(&self) -> i64 {
        now_micros() - self.cfg.window.as_micros() as i64
    }

    /// Publishes events and alerts: window, SSE clients, counters, in one
    /// critical section so that every client sees one order without gaps.
    pub fn publish(&self, events: Vec<Event>, alerts: Vec<Alert>) {
        self.publish_as(events, alerts, true);
    }

    /// Fills the window with stored events at start: not counted, not broadcast.
    pub fn preload(&self, events: Vec<Event>) {
        self.publish_as(events, Vec::new(), false);
    }

    fn publish_as(&self, events: Vec<Event>, alerts: Vec<Alert>, live: bool) {
        if events.is_empty() && alerts.is_empty() {
            return;
        }
        let anon = self.cfg.anonymize_ip;
        // Encoding outside the lock: it is the expensive part.
        let mut encoded: Vec<(i64, ItemKind, Bytes)> =
            Vec::with_capacity(events.len() + alerts.len());
        let mut max_ts = i64::MIN;
        for ev in events {
            if live {
                self.metrics.events[ev.kind as usize].fetch_add(1, Relaxed);
            }
            max_ts = max_ts.max(ev.ts.micros);
            let json = exact(public::event_json(&ev, anon));
            encoded.push((ev.ts.micros, ItemKind::Event(ev), json));
        }
        for a in alerts {
            self.metrics.alerts.fetch_add(1, Relaxed);
            let mut text = a.to_json(anon);
            if anon {
                // Every string of the alert, its message included.
                if let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&text) {
                    crate::anonymize::json(&mut v);
                    text = v.to_string();
                }
            }
            let json = exact(text);
            encoded.push((a.event.ts.micros, ItemKind::Alert(Box::new(a)), json));
        }
        if max_ts > i64::MIN {
            self.metrics.last_event_ts.fetch_max(max_ts, Relaxed);
        }
        let start = self.window_start();
        let mut w = self.window.lock().expect("window lock");
        let was_pending = !w.pending_index.is_empty();
        for (ts, kind, json) in encoded {
            let seq = w.next_seq;
            w.next_seq += 1;
            let is_alert = matches!(kind, ItemKind::Alert(_));
            if live {
                if w.pending_index.is_empty() {
                    w.pending_since = Some(Instant::now());
                }
                let at = w.pending.len();
                w.pending_index.push((seq, at));
                write_frame(
                    &mut w.pending,
                    seq,
                    if is_alert { "alert" } else { "event" },
                    &json,
                );
            }
            let item = Arc::new(Item {
                seq,
                ts,
                kind,
                json,
            });
            // Events older than the window are still sent (a late line is
            // still news) but not kept.
            if is_alert {
                w.alerts.push_back(item);
                if w.alerts.len() > MAX_ALERTS {
                    w.alerts.pop_front();
                }
            } else if ts >= start {
                w.events.push_back(item);
            }
        }
        while w.events.len() > self.cfg.max_events {
            w.events.pop_front();
        }
        while w.events.front().is_some_and(|i| i.ts < start) {
            w.events.pop_front();
        }
        if !w.pending_index.is_empty() {
            if self.cfg.sse_tick.is_zero() {
                self.flush_locked(&mut w);
            } else if !was_pending {
                self.pending_cv.notify_all();
            }
        }
    }

    /// Moves the pending frames into the ring as one tick and wakes the clients.
    fn flush_locked(&self, w: &mut Window) {
        if w.pending_index.is_empty() {
            return;
        }
        let frames = Bytes::from(std::mem::take(&mut w.pending));
        let index = std::mem::take(&mut w.pending_index);
        let messages = index.len();
        w.pending_since = None;
        let next = {
            let mut r = self.ring.lock().expect("ring lock");
            let no = r.next_no;
            r.next_no += 1;
            r.messages += messages;
            r.ticks.push_back(Arc::new(Tick { no, frames, index }));
            // Bounded by messages, not ticks: a tick may hold one event or thousands.
            while r.messages > self.cfg.sse_buffer && r.ticks.len() > 1 {
                if let Some(t) = r.ticks.pop_front() {
                    r.messages -= t.messages();
                }
            }
            r.next_no
        };
        self.tick_tx.send_replace(next);
    }

    /// Sends what is pending now, without waiting for the tick (tests, shutdown).
    pub fn flush(&self) {
        let mut w = self.window.lock().expect("window lock");
        self.flush_locked(&mut w);
    }

    /// The tick loop: once frames are pending, waits out the tick and sends
    /// them. Runs on its own thread until [`Shared::stop_ticker`]; idle, it sleeps.
    pub fn run_ticker(&self) {
        let tick = self.cfg.sse_tick;
        let mut w = self.window.lock().expect("window lock");
        loop {
            if self.ticker_stop.load(Relaxed) {
                self.flush_locked(&mut w);
                return;
            }
            match w.pending_since {
                None => {
                    w = self
                        .pending_cv
                        .wait_timeout(w, Duration::from_secs(1))
                        .expect("window lock")
                        .0;
                }
                Some(since) => {
                    let due = since + tick;
                    let now = Instant::now();
                    if now >= due {
                        self.flush_locked(&mut w);
                    } else {
                        w = self
                            .pending_cv
                            .wait_timeout(w, due - now)
                            .expect("window lock")
                            .0;
                    }
                }
            }
        }
    }

    /// Ends [`Shared::run_ticker`] after it sent what is pending.
    pub fn stop_ticker(&self) {
        self.ticker_stop.store(true, Relaxed);
        let _w = self.window.lock().expect("window lock");
        self.pending_cv.notify_all();
    }

    /// The ticks a client at position `next` has not written yet; moves `next` past them.
    pub fn next_ticks(&self, next: &mut u64) -> Next {
        let r = self.ring.lock().expect("ring lock");
        if *next >= r.next_no {
            return Next::Nothing;
        }
        match r.ticks.front() {
            Some(first) if first.no <= *next => {
                let skip = (*next - first.no) as usize;
                let out: Vec<Arc<Tick>> = r.ticks.iter().skip(skip).cloned().collect();
                *next = r.next_no;
                Next::Ticks(out)
            }
            _ => Next::Lagged,
        }
    }

    /// Drops events that left the window (called periodically).
    pub fn expire(&self) {
        let start = self.window_start();
        let mut w = self.window.lock().expect("window lock");
        while w.events.front().is_some_and(|i| i.ts < start) {
            w.events.pop_front();
        }
    }

    /// Copies the window and takes the client's position in the tick ring
    /// under one lock: nothing is missed or doubled. Messages published but
    /// not yet sent in a tick are in the snapshot; the client skips them when
    /// their tick comes.
    pub fn subscribe(&self) -> Snapshot {
        let w = self.window.lock().expect("window lock");
        let next_tick = self.ring.lock().expect("ring lock").next_no;
        let ticks = self.tick_tx.subscribe();
        let n = w.events.len();
        let keep = self.cfg.snapshot_events.min(n);
        Snapshot {
            events: w.events.iter().skip(n - keep).cloned().collect(),
            alerts: w.alerts.iter().cloned().collect(),
            truncated: keep < n,
            next_tick,
            next_seq: w.next_seq,
            ticks,
        }
    }

    /// The snapshot message for a new SSE client and its position in the tick
    /// ring: the one built less than [`SNAPSHOT_TTL`] ago while the ring still
    /// holds the ticks after it, or a new one.
    pub fn sse_start(&self) -> SseStart {
        let mut cache = self.sse_cache.lock().expect("sse cache");
        if let Some(c) = cache.as_ref() {
            let r = self.ring.lock().expect("ring lock");
            let in_ring =
                c.next_tick >= r.next_no || r.ticks.front().is_some_and(|t| t.no <= c.next_tick);
            if c.built.elapsed() < SNAPSHOT_TTL && in_ring {
                return c.clone();
            }
        }
        // Dropped before the new one is built: never two in memory for this.
        *cache = None;
        let snap = self.subscribe();
        let mut first =
            Vec::with_capacity(snap.events.iter().map(|i| i.json.len() + 1).sum::<usize>() + 256);
        first.extend_from_slice(b"retry: 2000\nevent: snapshot\ndata: {\"window_seconds\":");
        first.extend_from_slice(self.cfg.window.as_secs().to_string().as_bytes());
        first.extend_from_slice(b",\"home\":");
        first.extend_from_slice(
            match self.cfg.home {
                Some((lat, lon)) => format!("[{lat},{lon}]"),
                None => "null".into(),
            }
            .as_bytes(),
        );
        first.extend_from_slice(
            format!(
                ",\"anonymized\":{},\"truncated\":{},\"now\":\"{}\",\"events\":",
                self.cfg.anonymize_ip,
                snap.truncated,
                jiff::Timestamp::now()
            )
            .as_bytes(),
        );
        join_json_into(&mut first, &snap.events);
        first.extend_from_slice(b",\"alerts\":");
        join_json_into(&mut first, &snap.alerts);
        first.extend_from_slice(b"}\n\n");
        let start = SseStart {
            first: exact_bytes(first),
            next_tick: snap.next_tick,
            next_seq: snap.next_seq,
            built: Instant::now(),
        };
        *cache = Some(start.clone());
        start
    }

    /// A receiver of the tick number (changes whenever a tick is added).
    pub fn ticks(&self) -> watch::Receiver<u64> {
        self.tick_tx.subscribe()
    }

    /// Events of the window (newest last) matching a filter, at most `limit` of the newest.
    pub fn events(
        &self,
        since: Option<i64>,
        until: Option<i64>,
        kinds: &[Kind],
        limit: usize,
    ) -> Vec<Arc<Item>> {
        let w = self.window.lock().expect("window lock");
        let mut out: Vec<Arc<Item>> = w
            .events
            .iter()
            .rev()
            .filter(|i| since.is_none_or(|s| i.ts >= s) && until.is_none_or(|u| i.ts < u))
            .filter(|i| kinds.is_empty() || i.event().is_some_and(|e| kinds.contains(&e.kind)))
            .take(limit)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    pub fn window_len(&self) -> usize {
        self.window.lock().expect("window lock").events.len()
    }

    /// Prometheus text exposition.
    pub fn metrics_text(&self) -> String {
        use std::fmt::Write;
        let m = &self.metrics;
        let mut s = String::with_capacity(2048);
        s.push_str("# HELP sshmap_lines_read_total Log lines read, by source.\n# TYPE sshmap_lines_read_total counter\n");
        for (src, n) in m.lines.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                s,
                "sshmap_lines_read_total{{source=\"{}\"}} {n}",
                prom_escape(src)
            );
        }
        let _ = writeln!(s, "# HELP sshmap_lines_skipped_total Lines that gave no event.\n# TYPE sshmap_lines_skipped_total counter\nsshmap_lines_skipped_total {}", m.lines_skipped.load(Relaxed));
        let _ = writeln!(s, "# HELP sshmap_lines_held Lines whose event waits for its connection (its address or outcome), at most 10 s.\n# TYPE sshmap_lines_held gauge\nsshmap_lines_held {}", m.lines_held.load(Relaxed));
        s.push_str(
            "# HELP sshmap_events_total Events, by kind.\n# TYPE sshmap_events_total counter\n",
        );
        for k in Kind::ALL {
            let _ = writeln!(
                s,
                "sshmap_events_total{{kind=\"{}\"}} {}",
                k.as_str(),
                m.events[k as usize].load(Relaxed)
            );
        }
        s.push_str("# HELP sshmap_ingest_errors_total Refused ingest requests and dropped input, by reason.\n# TYPE sshmap_ingest_errors_total counter\n");
        let errs = m.ingest_errors.lock().expect("metrics lock").clone();
        for reason in [
            "unauthorized",
            "forbidden_host",
            "too_large",
            "malformed_json",
            "binary",
            "bad_request",
            "queue_full",
            "rate_limited",
        ] {
            let _ = writeln!(
                s,
                "sshmap_ingest_errors_total{{reason=\"{reason}\"}} {}",
                errs.get(reason).copied().unwrap_or(0)
            );
        }
        let lag = m.lag_micros.load(Relaxed) as f64 / 1e6;
        let last = m.last_event_ts.load(Relaxed);
        let event_lag = if last > 0 {
            ((now_micros() - last) as f64 / 1e6).max(0.0)
        } else {
            0.0
        };
        let queue = self.ingest.max_capacity() - self.ingest.capacity();
        let _ = write!(
            s,
            "# HELP sshmap_ingest_requests_total POST /api/ingest requests accepted.\n# TYPE sshmap_ingest_requests_total counter\nsshmap_ingest_requests_total {}\n\
             # HELP sshmap_sse_clients Connected SSE clients.\n# TYPE sshmap_sse_clients gauge\nsshmap_sse_clients {}\n\
             # HELP sshmap_sse_dropped_total SSE clients dropped for falling behind.\n# TYPE sshmap_sse_dropped_total counter\nsshmap_sse_dropped_total {}\n\
             # HELP sshmap_alerts_total Intrusion alerts raised.\n# TYPE sshmap_alerts_total counter\nsshmap_alerts_total {}\n\
             # HELP sshmap_webhook_total Webhook deliveries, by outcome.\n# TYPE sshmap_webhook_total counter\n\
             sshmap_webhook_total{{outcome=\"sent\"}} {}\nsshmap_webhook_total{{outcome=\"failed\"}} {}\nsshmap_webhook_total{{outcome=\"dropped\"}} {}\n\
             # HELP sshmap_syslog_dropped_total Syslog datagrams dropped because the pipeline was full.\n# TYPE sshmap_syslog_dropped_total counter\nsshmap_syslog_dropped_total {}\n\
             # HELP sshmap_lag_seconds Time from receiving the last batch of lines to publishing its events.\n# TYPE sshmap_lag_seconds gauge\nsshmap_lag_seconds {lag:.6}\n\
             # HELP sshmap_event_lag_seconds Age of the newest event.\n# TYPE sshmap_event_lag_seconds gauge\nsshmap_event_lag_seconds {event_lag:.3}\n\
             # HELP sshmap_queue_batches Batches waiting for the pipeline.\n# TYPE sshmap_queue_batches gauge\nsshmap_queue_batches {queue}\n\
             # HELP sshmap_store_errors_total Failed writes to the store.\n# TYPE sshmap_store_errors_total counter\nsshmap_store_errors_total {}\n\
             # HELP sshmap_window_events Events in the window.\n# TYPE sshmap_window_events gauge\nsshmap_window_events {}\n",
            m.ingest_requests.load(Relaxed),
            m.sse_clients.load(Relaxed),
            m.sse_dropped.load(Relaxed),
            m.alerts.load(Relaxed),
            m.webhook_sent.load(Relaxed),
            m.webhook_failed.load(Relaxed),
            m.webhook_dropped.load(Relaxed),
            m.syslog_dropped.load(Relaxed),
            m.store_errors.load(Relaxed),
            self.window_len(),
        );
        let c = &self.conns;
        let clients = m.sse_clients.load(Relaxed).max(0);
        let snapshot = m.sse_snapshot.load(Relaxed).clamp(0, clients);
        let blocked = c.sse_blocked.load(Relaxed).clamp(0, clients - snapshot);
        let _ = write!(
            s,
            "# HELP sshmap_resident_memory_bytes Resident memory of the process.\n# TYPE sshmap_resident_memory_bytes gauge\nsshmap_resident_memory_bytes {}\n\
             # HELP sshmap_memory_budget_bytes The memory budget: above 90 % of it heavy answers get 503.\n# TYPE sshmap_memory_budget_bytes gauge\nsshmap_memory_budget_bytes {}\n\
             # HELP sshmap_refused_total Requests refused to keep the budget, by reason.\n# TYPE sshmap_refused_total counter\n\
             sshmap_refused_total{{reason=\"memory\"}} {}\nsshmap_refused_total{{reason=\"busy\"}} {}\nsshmap_refused_total{{reason=\"rate\"}} {}\nsshmap_refused_total{{reason=\"sse_clients\"}} {}\nsshmap_refused_total{{reason=\"connections\"}} {}\n\
             # HELP sshmap_sse_clients_by_state SSE clients: snapshot (not yet handed over), live (written), blocked (the client does not read).\n# TYPE sshmap_sse_clients_by_state gauge\n\
             sshmap_sse_clients_by_state{{state=\"snapshot\"}} {snapshot}\nsshmap_sse_clients_by_state{{state=\"live\"}} {}\nsshmap_sse_clients_by_state{{state=\"blocked\"}} {blocked}\n\
             # HELP sshmap_connections Open HTTP connections.\n# TYPE sshmap_connections gauge\nsshmap_connections {}\n\
             # HELP sshmap_connections_blocked Connections whose writes wait on the client.\n# TYPE sshmap_connections_blocked gauge\nsshmap_connections_blocked {}\n\
             # HELP sshmap_write_timeouts_total Connections closed because the client stopped reading.\n# TYPE sshmap_write_timeouts_total counter\nsshmap_write_timeouts_total {}\n\
             # HELP sshmap_build_info Version and target of this binary.\n# TYPE sshmap_build_info gauge\nsshmap_build_info{{version=\"{}\",os=\"{}\",arch=\"{}\",profile=\"{}\"}} 1\n\
             # HELP sshmap_uptime_seconds Time since start.\n# TYPE sshmap_uptime_seconds gauge\nsshmap_uptime_seconds {:.0}\n",
            self.budget.rss(),
            self.budget.limit,
            self.budget.refused.load(Relaxed),
            m.refused_busy.load(Relaxed),
            m.refused_rate.load(Relaxed),
            m.refused_sse.load(Relaxed),
            c.refused.load(Relaxed),
            clients - snapshot - blocked,
            c.open.load(Relaxed).max(0),
            c.blocked.load(Relaxed).max(0),
            c.timed_out.load(Relaxed),
            env!("CARGO_PKG_VERSION"),
            std::env::consts::OS,
            std::env::consts::ARCH,
            if cfg!(debug_assertions) { "debug" } else { "release" },
            self.started.elapsed().as_secs_f64(),
        );
        s
    }

    pub fn window(&self) -> Duration {
        self.cfg.window
    }
}

/// Appends a JSON array of pre-encoded items.
pub fn join_json_into(out: &mut Vec<u8>, items: &[Arc<Item>]) {
    out.push(b'[');
    for (n, i) in items.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(&i.json);
    }
    out.push(b']');
}

fn exact_bytes(v: Vec<u8>) -> Bytes {
    Bytes::from(v.into_boxed_slice())
}

/// The string's bytes in an allocation of their size: the window keeps up to
/// `max_events` of them, and a grown `String` has up to twice the room.
fn exact(s: String) -> Bytes {
    Bytes::from(s.into_bytes().into_boxed_slice())
}

/// Appends one SSE message (`id:`, `event:`, `data:`) to `out`.
fn write_frame(out: &mut Vec<u8>, seq: u64, name: &str, json: &[u8]) {
    use std::io::Write;
    let _ = write!(out, "id: {seq}\nevent: {name}\ndata: ");
    out.extend_from_slice(json);
    out.extend_from_slice(b"\n\n");
}

fn prom_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
