//! Store: events, rollups, sessions and input checkpoints in SQLite (embedded
//! default), PostgreSQL (`--db postgres://…`, for fleets) or ClickHouse
//! (`--db clickhouse://HOST:8123/DB`, beyond one PostgreSQL).
//!
//! # Layout
//!
//! - [`Store`] — the one trait both back ends implement; [`open`] picks one from a `--db` value.
//! - [`sqlite`] — rusqlite, WAL, versioned migrations.
//! - [`postgres`] — binary COPY, BRIN-indexed events, `LISTEN/NOTIFY` on [`NOTIFY_CHANNEL`].
//! - [`clickhouse`] — plain HTTP, `RowBinary`, day partitions, rollups as
//!   materialized views; exactly once by attempt tags (no transactions there).
//! - [`ingest`] — exactly-once incremental ingest of log inputs, keyed by content fingerprint.
//!
//! # Exactly once
//!
//! An event's key is `(input, line)` ([`event_id`]): an input is identified by
//! the fingerprint of its first line (so a renamed or compressed rotated copy is
//! the same input), a line by its 1-based number in the decompressed stream.
//! Each commit writes events, rollup deltas and the advanced checkpoint in one
//! transaction, guarded by the checkpoint's version (two writers on one input:
//! the second stops). Events before the checkpoint's `keep_line` are final;
//! the ones after it were derived from an unfinished view of the input
//! (connections still open at the end of the read) and are derived again, and
//! replaced, when the input is read next. See [`ingest`].

pub mod clickhouse;
pub mod ingest;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
mod rows;
pub(crate) mod sessions;
pub(crate) mod sqlite;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustc_hash::FxHashMap;
use thiserror::Error;

use crate::event::{Event, Geo, Kind, Scope, Src, Text, Ts};
use crate::flow::InputReport;
use crate::parse::BlockStats;

/// The PostgreSQL channel on which each commit announces new events
/// (payload: JSON `{"input":…, "events":N, "to":"RFC 3339"}`).
pub const NOTIFY_CHANNEL: &str = "sshmap_events";

/// Bits of [`event_id`] that hold the line number.
const LINE_BITS: u32 = 40;

/// The idempotency key of an event: its input and line.
pub fn event_id(input_id: i64, line: u64) -> i64 {
    (input_id << LINE_BITS) | (line as i64 & ((1i64 << LINE_BITS) - 1))
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot open the SQLite database {path}: {source}; check the path and its permissions, or pass another --db")]
    Open {
        path: String,
        source: rusqlite::Error,
    },
    #[error("{path} is not an sshmap database or is corrupt ({detail}); move it away (sshmap will create a new one) or pass another --db")]
    Corrupt { path: String, detail: String },
    #[error("the database {path} is locked by another process (waited {secs} s); retry when the other sshmap or sqlite3 has finished")]
    Locked { path: String, secs: u64 },
    #[error("the database was written by a newer sshmap (schema version {found}, this one knows up to {known}); upgrade sshmap")]
    TooNew { found: i64, known: i64 },
    #[error("cannot connect to PostgreSQL at {url}: {detail}; check that the server runs and the URL (user, password, database) is right")]
    Connect { url: String, detail: String },
    #[error("cannot reach ClickHouse at {url}: {detail}; check that the server runs and that the URL (host, HTTP port — 8123 by default —, user, password) is right")]
    ConnectClickHouse { url: String, detail: String },
    #[error("ClickHouse: {0}")]
    ClickHouse(String),
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    #[cfg(not(feature = "postgres"))]
    #[error("--db {0}: this sshmap was built without PostgreSQL (cargo feature `postgres`); use a SQLite file")]
    NoPostgres(String),
    #[error("input {input} is being ingested by another process at the same time; it was left to that one")]
    Concurrent { input: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error(
        "--db {0:?}: unsupported URL; use a file path, sqlite://PATH, postgres://USER@HOST/DB or clickhouse://HOST:8123/DB"
    )]
    BadUrl(String),
    #[error(
        "the stored value {0:?} is not valid in this sshmap version; the database may be corrupt"
    )]
    BadValue(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the store lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(String),
    ClickHouse(String),
}

impl Location {
    /// `postgres://…`/`postgresql://…`, `sqlite://PATH`, or a plain path; `None`: the default file.
    pub fn parse(db: Option<&str>) -> Result<Location> {
        match db {
            None => Ok(Location::Sqlite(default_path())),
            Some(s) if s.starts_with("postgres://") || s.starts_with("postgresql://") => {
                Ok(Location::Postgres(s.to_string()))
            }
            Some(s) if s.starts_with("clickhouse://") => {
                clickhouse::Url::parse(s)?;
                Ok(Location::ClickHouse(s.to_string()))
            }
            Some(s) => {
                if let Some(p) = s.strip_prefix("sqlite://") {
                    return Ok(Location::Sqlite(PathBuf::from(p)));
                }
                if s.is_empty() || s.contains("://") {
                    return Err(StoreError::BadUrl(s.to_string()));
                }
                Ok(Location::Sqlite(PathBuf::from(s)))
            }
        }
    }
}

/// `$XDG_DATA_HOME/sshmap/sshmap.db`, else `~/.local/share/sshmap/sshmap.db`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("sshmap").join("sshmap.db")
}

/// Opens (creating and migrating when needed) the store at `loc`.
pub fn open(loc: &Location) -> Result<Box<dyn Store>> {
    Ok(match loc {
        Location::Sqlite(p) => Box::new(sqlite::SqliteStore::open(p)?),
        #[cfg(feature = "postgres")]
        Location::Postgres(url) => Box::new(postgres::PgStore::connect(url)?),
        #[cfg(not(feature = "postgres"))]
        Location::Postgres(url) => return Err(StoreError::NoPostgres(url.clone()).into()),
        Location::ClickHouse(url) => Box::new(clickhouse::ClickHouseStore::connect(url)?),
    })
}

/// One input's progress. Lines are 1-based; offsets are in the decompressed stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    pub id: i64,
    /// The input's key: the hash of its first line, or for an input that
    /// shares its first line with another, of its first bytes (see [`ingest`]).
    pub fingerprint: i64,
    /// The path it was last read from.
    pub name: String,
    pub dev: u64,
    pub ino: u64,
    /// Bumped by every commit: a writer whose expected version is stale stops.
    pub version: i64,
    /// Everything before this offset has been read; `end_line` lines.
    pub end_offset: u64,
    pub end_line: u64,
    /// Events of lines before `keep_line` are final; later ones are re-derived on the next read.
    pub keep_offset: u64,
    pub keep_line: u64,
    /// Line statistics of the lines before `keep_line`.
    pub keep_stats: BlockStats,
    /// Where the next read starts (at or before `keep`), to rebuild connection state.
    pub warm_offset: u64,
    pub warm_line: u64,
    pub warm_year: Option<(i32, u8)>,
    /// Hash and length of the bytes just before `warm_offset`: the input must still hold them.
    pub warm_hash: i64,
    pub warm_hash_len: u64,
    /// Journal inputs: the cursor of the entry just before `warm_offset`
    /// (`journalctl --after-cursor` starts the next read there).
    pub cursor: Option<String>,
    /// Hash and length of the input's first bytes (up to 64 KiB): with the
    /// first line, what tells apart two inputs that start alike. 0: not known
    /// (written by an older sshmap; the first line alone identifies it).
    pub head_hash: i64,
    pub head_len: u64,
    /// Statistics of all lines read, and events stored.
    pub stats: BlockStats,
    pub events: u64,
}

impl Checkpoint {
    pub fn fresh(id: i64, fingerprint: i64, name: &str, dev: u64, ino: u64) -> Checkpoint {
        Checkpoint {
            id,
            fingerprint,
            name: name.to_string(),
            dev,
            ino,
            keep_line: 1,
            warm_line: 1,
            ..Checkpoint::default()
        }
    }

    /// The input's content fingerprint (see [`crate::source::fingerprint`]):
    /// `head_hash` over its first `head_len` bytes. The first line's hash is
    /// `fingerprint`, the input's key, unless two inputs share that line.
    pub fn file_fingerprint(&self) -> crate::source::fingerprint::Fingerprint {
        crate::source::fingerprint::Fingerprint {
            line: self.fingerprint,
            head: self.head_hash,
            head_len: self.head_len,
        }
    }

    /// Records the input's content fingerprint (its first bytes; the key stays).
    pub fn set_file_fingerprint(&mut self, fp: crate::source::fingerprint::Fingerprint) {
        self.head_hash = fp.head;
        self.head_len = fp.head_len;
    }

    pub fn report(&self) -> InputReport {
        InputReport {
            input: self.name.clone(),
            lines: self.stats.lines,
            events: self.events,
            skipped: self.stats.lines.saturating_sub(self.events),
            other_programs: self.stats.other_programs,
            malformed: self.stats.malformed,
            too_long: self.stats.too_long,
            error: None,
        }
    }
}

/// One atomic write: replace the provisional events (first commit of a read),
/// add new ones, advance the checkpoint.
pub struct Batch<'a> {
    /// The checkpoint to write; its `version` must be `expected_version + 1`.
    pub checkpoint: &'a Checkpoint,
    pub expected_version: i64,
    /// Delete the stored events of this input from this line on first.
    pub replace_from: Option<u64>,
    pub events: &'a Events,
}

/// A commit's events with what a store derives from them alone: the text of
/// each address and the rollup deltas. Made with the batch, before the
/// store's transaction: `ingest` makes it on the thread that correlates the
/// log rather than on the writer thread, the one an ingest waits for (issue #15).
pub struct Events {
    list: Vec<Event>,
    /// The text of each distinct address of the events, formatted once.
    ips: Vec<Arc<str>>,
    /// Where each address's text is in `ips`.
    index: FxHashMap<IpAddr, u32>,
    /// Each event's address, an index in `ips` (`u32::MAX`: none).
    ip_of: Vec<u32>,
    rollups: RollupRows,
}

impl Events {
    pub fn new(list: Vec<Event>) -> Events {
        let mut index: FxHashMap<IpAddr, u32> = FxHashMap::default();
        let mut ips: Vec<Arc<str>> = Vec::new();
        let mut roll = Rollups::default();
        let ip_of = list
            .iter()
            .map(|ev| {
                roll.add_event(ev, 1);
                match ev.ip {
                    Some(a) => *index.entry(a).or_insert_with(|| {
                        ips.push(crate::event::ip_string(a).into());
                        ips.len() as u32 - 1
                    }),
                    None => u32::MAX,
                }
            })
            .collect();
        let rollups = roll.rows(|a| ips[index[&a] as usize].clone());
        Events {
            list,
            ips,
            index,
            ip_of,
            rollups,
        }
    }

    /// The text of the address of the `k`-th event.
    pub fn ip(&self, k: usize) -> Option<&str> {
        self.ips.get(self.ip_of[k] as usize).map(|s| &**s)
    }

    /// The text of `ip` when it is the address of one of the events.
    pub fn ip_text(&self, ip: IpAddr) -> Option<&str> {
        self.index.get(&ip).map(|&k| &*self.ips[k as usize])
    }

    /// The rollup deltas of the events.
    pub fn rollups(&self) -> &RollupRows {
        &self.rollups
    }
}

impl std::ops::Deref for Events {
    type Target = [Event];

    fn deref(&self) -> &[Event] {
        &self.list
    }
}

/// Which events a query reads.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Microseconds since the epoch, inclusive.
    pub from: Option<i64>,
    /// Microseconds since the epoch, exclusive.
    pub to: Option<i64>,
    pub host: Option<String>,
}

/// Per minute × country × kind (the rollup maps and videos read).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct MinuteRow {
    /// Unix seconds of the minute's start.
    pub minute: i64,
    /// ISO code, `""` when unknown (shared between rows).
    pub country: Arc<str>,
    pub kind: &'static str,
    pub events: i64,
    pub attempts: i64,
}

/// A stored kind name back to its static name.
pub(crate) fn kind_name(s: &str) -> Result<&'static str> {
    Kind::from_name(s)
        .map(Kind::as_str)
        .ok_or_else(|| StoreError::BadValue(s.to_string()))
}

/// Per hour × source address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HourIpRow {
    pub hour: i64,
    pub ip: String,
    pub country: Arc<str>,
    pub events: i64,
    pub attempts: i64,
}

/// Attack attempts in the minute rollup over a range: what a chart's subtitle
/// shows without the rows ([`Store::attempt_span`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptSpan {
    /// Unix seconds of the first and the last minute with attempts.
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// The sum of the attempts.
    pub attempts: u64,
}

/// The busiest addresses of the hour × address rollup over a range ([`Store::top_ips`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopIps {
    /// A prefix of every address with attempts, sorted by attempts (most first) then
    /// address text, that holds at least the first `n` and every address tied with the `n`-th.
    pub ips: Vec<(String, u64)>,
    /// The attempts of every address, listed or not.
    pub attempts: u64,
}

impl TopIps {
    /// From every address's attempts (any order, no zeros): sorted and cut after the `n`-th and its ties.
    pub fn cut(mut all: Vec<(String, u64)>, n: usize) -> TopIps {
        let attempts = all.iter().map(|r| r.1).sum();
        all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        if n < all.len() {
            let t = all[n.max(1) - 1].1;
            let keep = all.iter().take_while(|r| r.1 >= t).count();
            all.truncate(keep);
        }
        TopIps { ips: all, attempts }
    }
}

/// A connection: its events grouped by input, host, pid and address (see [`sessions`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Session {
    pub host: Option<String>,
    pub pid: Option<i64>,
    pub ip: Option<String>,
    /// Distinct user names tried, sorted, joined by `\n`.
    pub users: String,
    pub attempts: i64,
    /// `success`, `failure` or `other`.
    pub outcome: String,
    /// Unix seconds of the first and the last event.
    pub start: i64,
    pub end: i64,
}

/// The store: both back ends answer the same queries with the same rows.
/// `Send`: `serve` moves a store into its writer task.
pub trait Store: Send {
    /// `sqlite`, `postgres` or `clickhouse`.
    fn backend(&self) -> &'static str;
    /// The checkpoint of the input with this fingerprint.
    fn checkpoint(&mut self, fingerprint: i64) -> Result<Option<Checkpoint>>;
    /// Registers an input (or returns the one another process just registered).
    fn claim(&mut self, fingerprint: i64, name: &str, dev: u64, ino: u64) -> Result<Checkpoint>;
    /// Every input, in the order they were first ingested.
    fn checkpoints(&mut self) -> Result<Vec<Checkpoint>>;
    /// Writes one batch atomically and returns the net number of events added;
    /// [`StoreError::Concurrent`] when the checkpoint's version moved.
    fn commit(&mut self, batch: Batch<'_>) -> Result<i64>;
    /// Ends a run of commits: writes what they leave to the end (SQLite and
    /// PostgreSQL: the session keys of every input whose key table is behind,
    /// see [`sessions`]). A run killed before it loses nothing: the next look-up
    /// or `finish` catches up.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
    /// Events matching `filter`, in input then line order (the order a read of the logs gives).
    fn scan(&mut self, filter: &Filter, sink: &mut dyn FnMut(Event)) -> Result<()>;
    /// Rollup: per minute × country × kind in `[from, to)` (unix seconds).
    fn minute_country(&mut self, from: i64, to: i64) -> Result<Vec<MinuteRow>>;
    /// Rollup: per hour × address in `[from, to)` (unix seconds).
    fn hour_ip(&mut self, from: i64, to: i64) -> Result<Vec<HourIpRow>>;
    /// Total and first/last minute of the attack attempts in the minute rollup in
    /// `[from, to)` (unix seconds): what [`Store::minute_country`]'s rows with
    /// attempts give, without fetching them.
    fn attempt_span(&mut self, from: i64, to: i64) -> Result<AttemptSpan> {
        let mut s = AttemptSpan::default();
        for r in self.minute_country(from, to)? {
            if r.attempts > 0 {
                s.first.get_or_insert(r.minute);
                s.last = Some(r.minute);
                s.attempts += r.attempts as u64;
            }
        }
        Ok(s)
    }
    /// The `n` busiest addresses (and their ties) of the hour × address rollup in
    /// `[from, to)` (unix seconds), with the attempts of all: what
    /// [`Store::hour_ip`]'s rows with attempts give summed per address, without fetching them.
    fn top_ips(&mut self, from: i64, to: i64, n: usize) -> Result<TopIps> {
        let mut ips: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
        for r in self.hour_ip(from, to)? {
            if r.attempts > 0 {
                *ips.entry(r.ip).or_default() += r.attempts as u64;
            }
        }
        Ok(TopIps::cut(ips.into_iter().collect(), n))
    }
    /// Connections (see [`sessions`]) that started in `[filter.from, filter.to)`
    /// on `filter.host`, sorted; from the `sessions` table, maintained at insert
    /// time and kept when raw events are pruned.
    fn sessions(&mut self, filter: &Filter) -> Result<Vec<Session>>;
    /// Deletes raw events before `before` (microseconds), except the provisional
    /// ones at the end of each input (see [`ingest`]); rollups and sessions stay.
    /// Returns how many.
    fn prune(&mut self, before: i64) -> Result<u64>;
    /// Number of stored raw events.
    fn count(&mut self) -> Result<u64>;
    /// (user, country) of each successful login in `[from, to)` (microseconds),
    /// for the live map's alert history; back ends answer from an index, not by
    /// decoding every event.
    fn logins(&mut self, from: i64, to: i64) -> Result<Vec<(String, String)>> {
        let mut out = Vec::new();
        self.scan(
            &Filter {
                from: Some(from),
                to: Some(to),
                host: None,
            },
            &mut |ev| {
                if ev.kind == Kind::AuthSuccess {
                    if let (Some(u), Some(c)) =
                        (&ev.user, ev.geo.as_ref().and_then(|g| g.country.as_deref()))
                    {
                        out.push((u.to_string(), c.to_string()));
                    }
                }
            },
        )?;
        Ok(out)
    }
}

/// Rollup deltas of one commit. Accumulated in hash maps keyed without
/// allocation per event (the country is the event's shared `Arc<str>`, the
/// address is not formatted), then applied in key order ([`Rollups::rows`]:
/// no deadlocks between concurrent PostgreSQL writers).
#[derive(Default, Debug)]
pub struct Rollups {
    minute: FxHashMap<MinuteKey, (i64, i64)>,
    hour_ip: FxHashMap<(i64, IpAddr), HourIpCounts>,
}

/// (minute, country, kind).
type MinuteKey = (i64, Option<Arc<str>>, Kind);
/// (country, events, attempts).
type HourIpCounts = (Option<Arc<str>>, i64, i64);

/// The nonzero deltas of a [`Rollups`], each table's in the order its primary key sorts.
#[derive(Clone, Debug, Default)]
pub struct RollupRows {
    pub minute: Vec<MinuteDelta>,
    pub hour_ip: Vec<HourIpDelta>,
}

/// One rollup delta.
#[derive(Clone, Debug, PartialEq)]
pub struct MinuteDelta {
    pub minute: i64,
    country: Option<Arc<str>>,
    pub kind: &'static str,
    pub events: i64,
    pub attempts: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HourIpDelta {
    pub hour: i64,
    pub ip: Arc<str>,
    country: Option<Arc<str>>,
    pub events: i64,
    pub attempts: i64,
}

impl MinuteDelta {
    /// ISO code, `""` when unknown.
    pub fn country(&self) -> &str {
        self.country.as_deref().unwrap_or("")
    }
}

impl HourIpDelta {
    /// ISO code, `""` when unknown.
    pub fn country(&self) -> &str {
        self.country.as_deref().unwrap_or("")
    }
}

/// A delta row: its order in its table, and its counts (events, attempts).
trait Delta: Clone {
    fn order(&self, other: &Self) -> Ordering;
    fn counts(&self) -> (i64, i64);
    /// Adds `other`'s counts (a row of the same key).
    fn add(&mut self, other: &Self);
}

impl Delta for MinuteDelta {
    fn order(&self, other: &Self) -> Ordering {
        (self.minute, self.country(), self.kind).cmp(&(other.minute, other.country(), other.kind))
    }

    fn counts(&self) -> (i64, i64) {
        (self.events, self.attempts)
    }

    fn add(&mut self, other: &Self) {
        self.events += other.events;
        self.attempts += other.attempts;
    }
}

impl Delta for HourIpDelta {
    fn order(&self, other: &Self) -> Ordering {
        (self.hour, &*self.ip).cmp(&(other.hour, &*other.ip))
    }

    fn counts(&self) -> (i64, i64) {
        (self.events, self.attempts)
    }

    fn add(&mut self, other: &Self) {
        self.events += other.events;
        self.attempts += other.attempts;
    }
}

/// Two lists of deltas in order as one: equal keys summed (`first`'s row
/// kept, its country: what counting `first`'s events before `then`'s gives),
/// the rows that sum to nothing left out.
fn merge_deltas<T: Delta>(first: Vec<T>, then: &[T]) -> Vec<T> {
    let mut out = Vec::with_capacity(first.len() + then.len());
    let mut a = first.into_iter().peekable();
    let mut b = then.iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(x), Some(y)) => x.order(y),
        };
        let d = match order {
            Ordering::Less => a.next().expect("peeked"),
            Ordering::Greater => b.next().expect("peeked").clone(),
            Ordering::Equal => {
                let mut d = a.next().expect("peeked");
                d.add(b.next().expect("peeked"));
                d
            }
        };
        if d.counts() != (0, 0) {
            out.push(d);
        }
    }
    out
}

impl RollupRows {
    /// The deltas of a commit that first uncounts `removed` (the events it
    /// replaces), then counts these.
    pub fn after(&self, removed: Option<&Rollups>) -> Cow<'_, RollupRows> {
        let Some(removed) = removed else {
            return Cow::Borrowed(self);
        };
        let first = removed.rows(|a| crate::event::ip_string(a).into());
        Cow::Owned(RollupRows {
            minute: merge_deltas(first.minute, &self.minute),
            hour_ip: merge_deltas(first.hour_ip, &self.hour_ip),
        })
    }
}

impl Rollups {
    /// Counts (or, with `sign` -1, uncounts) one event.
    pub fn add(
        &mut self,
        micros: i64,
        country: Option<&Arc<str>>,
        kind: Kind,
        ip: Option<IpAddr>,
        attempts: i64,
        sign: i64,
    ) {
        let secs = micros.div_euclid(1_000_000);
        let m = self
            .minute
            .entry((secs.div_euclid(60) * 60, country.cloned(), kind))
            .or_default();
        m.0 += sign;
        m.1 += sign * attempts;
        if let Some(ip) = ip {
            let h = self
                .hour_ip
                .entry((secs.div_euclid(3600) * 3600, ip))
                .or_insert_with(|| (country.cloned(), 0, 0));
            h.1 += sign;
            h.2 += sign * attempts;
        }
    }

    pub fn add_event(&mut self, ev: &Event, sign: i64) {
        let country = ev.geo.as_ref().and_then(|g| g.country.as_ref());
        self.add(
            ev.ts.micros,
            country,
            ev.kind,
            ev.ip,
            i64::from(ev.attempts),
            sign,
        );
    }

    /// Uncounts a stored event (its columns as text).
    pub fn remove_stored(
        &mut self,
        micros: i64,
        country: Option<&str>,
        kind: &str,
        ip: Option<&str>,
        attempts: i64,
        interner: &mut Interner,
    ) -> Result<()> {
        let kind = Kind::from_name(kind).ok_or_else(|| StoreError::BadValue(kind.to_string()))?;
        let ip = sessions::parse_ip(ip)?;
        let country = country.map(|c| interner.get(c));
        self.add(micros, country.as_ref(), kind, ip, attempts, -1);
        Ok(())
    }

    /// The nonzero deltas in key order: per minute by (minute, country,
    /// kind), per hour × address by (hour, address text); `ip` gives an
    /// address's text.
    pub fn rows(&self, mut ip: impl FnMut(IpAddr) -> Arc<str>) -> RollupRows {
        let mut minute: Vec<MinuteDelta> = self
            .minute
            .iter()
            .filter(|(_, v)| **v != (0, 0))
            .map(|((minute, country, kind), (n, a))| MinuteDelta {
                minute: *minute,
                country: country.clone(),
                kind: kind.as_str(),
                events: *n,
                attempts: *a,
            })
            .collect();
        minute.sort_unstable_by(Delta::order);
        let mut hour_ip: Vec<HourIpDelta> = self
            .hour_ip
            .iter()
            .filter(|(_, v)| (v.1, v.2) != (0, 0))
            .map(|((hour, addr), (country, n, a))| HourIpDelta {
                hour: *hour,
                ip: ip(*addr),
                country: country.clone(),
                events: *n,
                attempts: *a,
            })
            .collect();
        hour_ip.sort_unstable_by(Delta::order);
        RollupRows { minute, hour_ip }
    }
}

/// An event as stored: the columns both back ends share, in this order.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub id: i64,
    pub ts: i64,
    pub ts_offset: i32,
    pub host: Option<String>,
    pub program: String,
    pub pid: Option<i64>,
    pub kind: String,
    pub method: Option<String>,
    pub user: Option<String>,
    pub invalid_user: bool,
    pub ip: Option<String>,
    pub port: Option<i32>,
    pub count: i64,
    pub attempts: i64,
    pub has_geo: bool,
    pub country: Option<String>,
    pub country_name: Option<String>,
    pub city: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub asn: Option<i64>,
    pub org: Option<String>,
    pub precision: Option<String>,
    pub scope: Option<String>,
    pub src: String,
    /// A honeypot's password of a login attempt, and a command typed (NULL for sshd).
    pub password: Option<String>,
    pub command: Option<String>,
}

/// The stored column list, in [`Row`] order.
pub const COLUMNS: &str = "id, ts, ts_offset, host, program, pid, kind, method, username, invalid_user, ip, port, \
     count, attempts, has_geo, country, country_name, city, lat, lon, asn, org, geo_precision, scope, src, \
     password, command";

impl Row {
    pub fn from_event(input_id: i64, ev: &Event) -> Row {
        let g = ev.geo.as_ref();
        Row {
            id: event_id(input_id, ev.src.line),
            ts: ev.ts.micros,
            ts_offset: ev.ts.offset,
            host: ev.host.as_deref().map(str::to_string),
            program: ev.program.to_string(),
            pid: ev.pid.map(i64::from),
            kind: ev.kind.as_str().to_string(),
            method: ev.method.as_deref().map(String::from),
            user: ev.user.as_deref().map(String::from),
            invalid_user: ev.invalid_user,
            ip: ev.ip.map(crate::event::ip_string),
            port: ev.port.map(i32::from),
            count: i64::from(ev.count),
            attempts: i64::from(ev.attempts),
            has_geo: g.is_some(),
            country: g.and_then(|g| g.country.as_deref().map(str::to_string)),
            country_name: g.and_then(|g| g.country_name.as_deref().map(str::to_string)),
            city: g.and_then(|g| g.city.as_deref().map(str::to_string)),
            lat: g.and_then(|g| g.lat),
            lon: g.and_then(|g| g.lon),
            asn: g.and_then(|g| g.asn.map(i64::from)),
            org: g.and_then(|g| g.org.as_deref().map(str::to_string)),
            precision: g.and_then(|g| g.precision.map(str::to_string)),
            scope: ev.scope.map(|s| scope_name(s).to_string()),
            src: ev.src.input.to_string(),
            password: ev.password().map(str::to_string),
            command: ev.command().map(str::to_string),
        }
    }

    /// Back to an [`Event`]; `interner` shares repeated strings between events.
    pub fn into_event(self, interner: &mut Interner) -> Result<Event> {
        let kind =
            Kind::from_name(&self.kind).ok_or_else(|| StoreError::BadValue(self.kind.clone()))?;
        let ip = match self.ip {
            Some(s) => Some(s.parse().map_err(|_| StoreError::BadValue(s))?),
            None => None,
        };
        let geo = self.has_geo.then(|| Geo {
            country: self.country.map(|c| interner.get(&c)),
            country_name: self.country_name.map(|c| interner.get(&c)),
            city: self.city.map(|c| interner.get(&c)),
            lat: self.lat,
            lon: self.lon,
            asn: self.asn.map(|a| a as u32),
            org: self.org.map(|o| interner.get(&o)),
            precision: self.precision.as_deref().and_then(|p| match p {
                "city" => Some("city"),
                "country" => Some("country"),
                _ => None,
            }),
        });
        let scope = match self.scope.as_deref() {
            None => None,
            Some("public") => Some(Scope::Public),
            Some("private") => Some(Scope::Private),
            Some("loopback") => Some(Scope::Loopback),
            Some("reserved") => Some(Scope::Reserved),
            Some(other) => return Err(StoreError::BadValue(other.to_string())),
        };
        Ok(Event {
            ts: Ts::from_micros(self.ts, self.ts_offset),
            host: self.host.map(|h| interner.get(&h)),
            program: interner.get(&self.program),
            pid: self.pid.map(|p| p as u32),
            kind,
            method: self.method.map(Text::from),
            user: self.user.map(Text::from),
            invalid_user: self.invalid_user,
            ip,
            port: self.port.map(|p| p as u16),
            count: self.count as u32,
            attempts: self.attempts as u32,
            geo: geo.map(Arc::new),
            scope,
            honeypot: crate::event::Honeypot::boxed(self.password, self.command),
            src: Src {
                input: interner.get(&self.src),
                line: (self.id & ((1i64 << LINE_BITS) - 1)) as u64,
            },
        })
    }
}

pub(crate) fn scope_name(s: Scope) -> &'static str {
    match s {
        Scope::Public => "public",
        Scope::Private => "private",
        Scope::Loopback => "loopback",
        Scope::Reserved => "reserved",
    }
}

/// Shares the `Arc<str>` of repeated strings (hosts, countries, input names).
#[derive(Default)]
pub struct Interner(std::collections::HashMap<String, Arc<str>>);

/// The last string [`Interner`] handed out, checked first: rows in key order
/// repeat a country or host many times in a row.
#[derive(Default)]
pub struct RunInterner {
    last: Option<Arc<str>>,
    all: Interner,
}

impl RunInterner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        match &self.last {
            Some(l) if **l == *s => l.clone(),
            _ => {
                let a = self.all.get(s);
                self.last = Some(a.clone());
                a
            }
        }
    }
}

impl Interner {
    pub fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.0.get(s) {
            return a.clone();
        }
        if self.0.len() > 100_000 {
            self.0.clear();
        }
        let a: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), a.clone());
        a
    }
}

pub use crate::duration::seconds as parse_duration;
#[cfg(feature = "postgres")]
pub use postgres::Listener;
pub use sqlite::SqliteStore;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(
            Location::parse(Some("postgres://u@h/d")).unwrap(),
            Location::Postgres("postgres://u@h/d".into())
        );
        assert_eq!(
            Location::parse(Some("sqlite:///tmp/x.db")).unwrap(),
            Location::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Location::parse(Some("x.db")).unwrap(),
            Location::Sqlite("x.db".into())
        );
        assert!(Location::parse(Some("mysql://h/d")).is_err());
        assert_eq!(
            Location::parse(Some("clickhouse://h:8123/d")).unwrap(),
            Location::ClickHouse("clickhouse://h:8123/d".into())
        );
        assert!(Location::parse(Some("clickhouse://h/d;x")).is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("12h"), Some(12 * 3600));
        assert_eq!(parse_duration("x"), None);
    }

    /// A commit's deltas after a replace (the removed rows merged into the
    /// added ones) are those of one count of both, the removed first: sums,
    /// order, the removed row's country, and no row that sums to nothing.
    #[test]
    fn deltas_after_a_replace_are_one_count_of_both() {
        let (de, fr) = (Arc::<str>::from("DE"), Arc::<str>::from("FR"));
        let ip = |n: u8| Some(IpAddr::from([10, 0, 0, n]));
        // (µs, country, kind, address, attempts)
        let removed = [
            (60_000_000, Some(&de), Kind::AuthFailure, ip(1), 2),
            (60_000_000, Some(&de), Kind::AuthFailure, ip(1), 1),
            (7_200_000_000, None, Kind::PreauthClose, ip(2), 0),
            (10_800_000_000, Some(&fr), Kind::AuthFailure, ip(9), 1),
        ];
        let added = [
            (60_000_000, Some(&fr), Kind::AuthFailure, ip(1), 1),
            (60_000_000, Some(&de), Kind::AuthFailure, ip(1), 3),
            (7_200_000_000, None, Kind::PreauthClose, ip(2), 0),
            (0, None, Kind::PreauthClose, None, 0),
            (3_600_000_000, Some(&de), Kind::AuthSuccess, ip(200), 0),
        ];
        let text = |a: IpAddr| Arc::from(crate::event::ip_string(a));
        let (mut both, mut gone, mut new) = Default::default();
        for (m, c, k, a, n) in removed {
            Rollups::add(&mut both, m, c, k, a, n, -1);
            Rollups::add(&mut gone, m, c, k, a, n, -1);
        }
        for (m, c, k, a, n) in added {
            Rollups::add(&mut both, m, c, k, a, n, 1);
            Rollups::add(&mut new, m, c, k, a, n, 1);
        }
        let want = both.rows(text);
        let got = new.rows(text);
        let got = got.after(Some(&gone));
        assert_eq!(got.minute, want.minute);
        assert_eq!(got.hour_ip, want.hour_ip);
        // 10.0.0.2's closes net nothing in either table; the hour row of
        // 10.0.0.1 nets attempts only and keeps DE, the removed row's country.
        assert_eq!(got.minute.len(), 5);
        let hour: Vec<(&str, &str, i64)> = got
            .hour_ip
            .iter()
            .map(|d| (&*d.ip, d.country(), d.events))
            .collect();
        assert_eq!(
            hour,
            [
                ("10.0.0.1", "DE", 0),
                ("10.0.0.200", "DE", 1),
                ("10.0.0.9", "FR", -1)
            ]
        );
        assert!(matches!(new.rows(text).after(None), Cow::Borrowed(_)));
    }

    #[test]
    fn ids_keep_input_then_line_order() {
        assert!(event_id(1, 1 << 39) < event_id(2, 1));
        assert_eq!(event_id(3, 17) & ((1 << LINE_BITS) - 1), 17);
    }
}
