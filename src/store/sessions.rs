//! Per-connection sessions, maintained at insert time.
//!
//! A session groups the events of one input with the same host and pid, a
//! compatible address (the same, or either unknown), and no more than
//! [`GAP`] seconds after the session's latest event (sshd's login grace time
//! is 2 minutes; pids are reused). An event without a pid is a session of its
//! own. The rule is applied to an input's events in line order, so which
//! session an event joins depends only on the events before it: the sessions
//! of a prefix of the input are final except for the ones still open.
//!
//! A session's id is the event id of its first event. Each back end keeps, per
//! input, a [`Tracker`]: the possibly-open session of every (host, pid) seen
//! recently, kept in step with the `sessions` table by the checkpoint's
//! version. A commit assigns its new events with it and then writes the
//! sessions it touched, whole.
//!
//! A tracker is filled on demand ([`Tracker::on_demand`]): before a commit,
//! the back end looks up in the table the latest session of each (host, pid)
//! of the batch that the tracker does not hold ([`Tracker::wanted`]). A re-run
//! after an append so loads the connections of the lines it reads, not every
//! connection of the last hour (or, when the appended lines are dated earlier
//! than the stored ones, of the whole span since then): its cost follows what
//! it reads, not the input's size or density. Once the tracker's floor passes
//! the latest stored session it knows every session that can continue, and
//! stops looking up.
//!
//! The look-ups go through a key table, `session_keys (input, pid, host, id)`
//! (`host` `''` when there is none), not an index on `sessions`: an index
//! would take each new session at a random place (pids are not in time
//! order), and every commit of a large ingest would rewrite nearly all its
//! pages. The key table is written once per run instead, at its end
//! ([`crate::store::Store::finish`]), in key order, and the input's row says
//! up to which session id it is complete (`inputs.keys_to`). A look-up that
//! finds it behind (a run killed before its end, or one still going) first
//! catches it up from the sessions' id range (ids above `keys_to`), then
//! answers from the key table and, for the sessions written since, from
//! [`KeyTail`]: the latest id of each connection among them, read from that
//! same id range as it grows.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::{Interner, Result, Session, StoreError};
use crate::event::{Event, Kind};

/// Seconds between a session's latest event and the next one of the same
/// connection, beyond which the next one starts a new session.
pub const GAP: i64 = 600;
/// Slack below a batch's earliest second when a tracker is loaded or evicts
/// closed sessions, so slightly out-of-order later batches need no reload.
const MARGIN: i64 = 3600;
/// A tracker evicts sessions that can no longer continue once it holds this many.
const EVICT_AT: usize = 50_000;
/// At most this many sessions open at once: beyond, the ones idle longest are
/// forgotten (a flood of connections within the grace time, e.g. one line per
/// pid); a later event of a forgotten session starts a new one. Memory stays
/// bounded, and so does the work of a commit.
const MAX_OPEN: usize = 100_000;

pub fn secs(micros: i64) -> i64 {
    micros.div_euclid(1_000_000)
}

/// `success` > `failure` > `other`: a session's outcome is the highest of its events'.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    Other,
    Failure,
    Success,
}

impl Outcome {
    pub fn of(kind: Kind, attempts: i64) -> Outcome {
        if kind == Kind::AuthSuccess {
            Outcome::Success
        } else if attempts > 0 {
            Outcome::Failure
        } else {
            Outcome::Other
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Other => "other",
            Outcome::Failure => "failure",
            Outcome::Success => "success",
        }
    }

    pub fn parse(s: &str) -> Result<Outcome> {
        match s {
            "other" => Ok(Outcome::Other),
            "failure" => Ok(Outcome::Failure),
            "success" => Ok(Outcome::Success),
            _ => Err(StoreError::BadValue(s.to_string())),
        }
    }
}

/// What of an event the grouping needs (from an [`Event`] or a stored row).
pub struct Ev<'a> {
    pub id: i64,
    pub micros: i64,
    pub host: Option<&'a Arc<str>>,
    pub pid: Option<u32>,
    pub ip: Option<IpAddr>,
    pub user: Option<&'a str>,
    pub kind: Kind,
    pub attempts: i64,
}

impl<'a> Ev<'a> {
    pub fn of(id: i64, ev: &'a Event) -> Ev<'a> {
        Ev {
            id,
            micros: ev.ts.micros,
            host: ev.host.as_ref(),
            pid: ev.pid,
            ip: ev.ip,
            user: ev.user.as_deref(),
            kind: ev.kind,
            attempts: i64::from(ev.attempts),
        }
    }
}

/// One session as stored (times in microseconds).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acc {
    pub id: i64,
    pub host: Option<Arc<str>>,
    pub pid: Option<u32>,
    pub ip: Option<IpAddr>,
    pub users: BTreeSet<String>,
    pub attempts: i64,
    pub outcome: Outcome,
    pub start: i64,
    pub end: i64,
    /// Changed since it was last written.
    pub dirty: bool,
}

impl Acc {
    pub fn new(e: &Ev<'_>) -> Acc {
        Acc {
            id: e.id,
            host: e.host.cloned(),
            pid: e.pid,
            ip: None,
            users: BTreeSet::new(),
            attempts: 0,
            outcome: Outcome::Other,
            start: e.micros,
            end: e.micros,
            dirty: true,
        }
    }

    /// Whether `e`, of the same host and pid, continues this session.
    pub fn continues(&self, e: &Ev<'_>) -> bool {
        e.pid.is_some()
            && (self.ip.is_none() || e.ip.is_none() || self.ip == e.ip)
            && secs(e.micros) - secs(self.end) <= GAP
    }

    pub fn add(&mut self, e: &Ev<'_>) {
        if self.ip.is_none() {
            self.ip = e.ip;
        }
        self.start = self.start.min(e.micros);
        self.end = self.end.max(e.micros);
        self.attempts += e.attempts;
        if let Some(u) = e.user {
            if !self.users.contains(u) {
                self.users.insert(u.to_string());
            }
        }
        self.outcome = self.outcome.max(Outcome::of(e.kind, e.attempts));
        self.dirty = true;
    }

    /// The user names as stored: sorted, distinct, joined by `\n`; `None` when
    /// none was tried (`Some("")`: only the empty name). One name (most
    /// sessions) is borrowed, not copied.
    pub fn users_text(&self) -> Option<Cow<'_, str>> {
        let mut users = self.users.iter();
        let first = users.next()?;
        if self.users.len() == 1 {
            return Some(Cow::Borrowed(first.as_str()));
        }
        let mut s = first.clone();
        for u in users {
            s.push('\n');
            s.push_str(u);
        }
        Some(Cow::Owned(s))
    }

    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(crate::event::ip_string)
    }

    /// From stored columns; `users` as [`Acc::users_text`] writes it.
    #[allow(clippy::too_many_arguments)]
    pub fn from_stored(
        id: i64,
        host: Option<&str>,
        pid: Option<i64>,
        ip: Option<&str>,
        users: Option<&str>,
        attempts: i64,
        outcome: &str,
        start: i64,
        end: i64,
        interner: &mut Interner,
    ) -> Result<Acc> {
        Ok(Acc {
            id,
            host: host.map(|h| interner.get(h)),
            pid: pid.map(|p| p as u32),
            ip: parse_ip(ip)?,
            users: users
                .map(|u| u.split('\n').map(str::to_string).collect())
                .unwrap_or_default(),
            attempts,
            outcome: Outcome::parse(outcome)?,
            start,
            end,
            dirty: false,
        })
    }

    pub fn to_session(&self) -> Session {
        Session {
            host: self.host.as_deref().map(str::to_string),
            pid: self.pid.map(i64::from),
            ip: self.ip_text(),
            users: self.users_text().map(Cow::into_owned).unwrap_or_default(),
            attempts: self.attempts,
            outcome: self.outcome.as_str().to_string(),
            start: secs(self.start),
            end: secs(self.end),
        }
    }
}

pub fn parse_ip(ip: Option<&str>) -> Result<Option<IpAddr>> {
    match ip {
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| StoreError::BadValue(s.to_string())),
        None => Ok(None),
    }
}

type Key = (Option<Arc<str>>, Option<u32>);

/// The possibly-open sessions of one input.
pub struct Tracker {
    pub input: i64,
    /// The checkpoint version this tracker agrees with the table at.
    pub version: i64,
    /// Every (host, pid) absent from `open` has no session, or one whose last
    /// event is before this second.
    floor: i64,
    open: FxHashMap<Key, Acc>,
    /// Keys of `open` sessions made dirty since the last settle (each once).
    touched: Vec<Key>,
    /// Sessions closed by this batch, still to be written.
    closed: Vec<Acc>,
    /// `open`'s size that triggers the next eviction (doubles when little goes).
    evict_at: usize,
    /// The second of the latest stored session `open` may lack: while it is at
    /// or above `floor`, a (host, pid) absent from `open` must be looked up in
    /// the table first ([`Tracker::wanted`]). Below `floor`: `open` is complete.
    stored_until: i64,
    /// Set by the back end at its first look-up; dropped once no more are needed.
    pub keys: Option<KeyTail>,
}

/// A (host, pid) whose latest stored session a batch needs.
pub type Wanted = (Option<Arc<str>>, u32);

/// Where a tracker's look-ups search: the key table holds every stored session
/// of the input up to `keyed`; the sessions stored after it (read in id order
/// up to `scanned`) are held here, the latest of each connection.
#[derive(Debug)]
pub struct KeyTail {
    pub keyed: i64,
    pub scanned: i64,
    latest: FxHashMap<Key, i64>,
}

impl KeyTail {
    pub fn new(keyed: i64) -> KeyTail {
        KeyTail {
            keyed,
            scanned: keyed,
            latest: FxHashMap::default(),
        }
    }

    /// A stored session after `scanned`, in id order.
    pub fn add(&mut self, id: i64, host: Option<Arc<str>>, pid: u32) {
        self.scanned = self.scanned.max(id);
        self.latest.insert((host, Some(pid)), id);
    }

    /// The latest session of (host, pid) among those after `keyed`.
    pub fn latest(&self, host: &Option<Arc<str>>, pid: u32) -> Option<i64> {
        self.latest.get(&(host.clone(), Some(pid))).copied()
    }
}

impl Tracker {
    /// An empty tracker; fill it with [`Tracker::seed`] in session id order
    /// with every stored session of the input that ended at `floor` or later.
    /// `floor`: sessions that ended before this second are not needed.
    pub fn new(input: i64, version: i64, floor: i64) -> Tracker {
        Tracker {
            input,
            version,
            floor,
            open: FxHashMap::default(),
            touched: Vec::new(),
            closed: Vec::new(),
            evict_at: EVICT_AT,
            stored_until: i64::MIN,
            keys: None,
        }
    }

    /// An empty tracker filled on demand: before each batch, the caller seeds
    /// the latest stored session of each (host, pid) of [`Tracker::wanted`].
    /// `stored_until`: the second the input's latest stored session ended
    /// (`None`: it has none); `floor` as for [`Tracker::new`].
    pub fn on_demand(input: i64, version: i64, floor: i64, stored_until: Option<i64>) -> Tracker {
        Tracker {
            stored_until: stored_until.unwrap_or(i64::MIN),
            ..Tracker::new(input, version, floor)
        }
    }

    /// The (host, pid) of `events` whose latest stored session the tracker
    /// needs and does not hold, each once: those with a pid (an event without
    /// one is a session of its own) absent from the tracker, as long as the
    /// table may hold a session that can still continue. Seed what the table
    /// has for them (the latest session of each, by id) before adding `events`.
    pub fn wanted(&self, events: &[Event]) -> Vec<Wanted> {
        if !self.looks_up() {
            return Vec::new();
        }
        let mut seen: rustc_hash::FxHashSet<(Option<&Arc<str>>, u32)> = Default::default();
        let mut out = Vec::new();
        for e in events {
            let Some(pid) = e.pid else { continue };
            if seen.insert((e.host.as_ref(), pid))
                && !self.open.contains_key(&(e.host.clone(), Some(pid)))
            {
                out.push((e.host.clone(), pid));
            }
        }
        out
    }

    /// Whether the table may hold a session the tracker lacks that can still continue.
    pub fn looks_up(&self) -> bool {
        self.stored_until >= self.floor
    }

    /// The floor to load a tracker with for a batch whose earliest event is at `min_secs`.
    pub fn floor_for(min_secs: i64) -> i64 {
        min_secs - GAP - MARGIN
    }

    /// Sessions that ended before this (Unix seconds) cannot continue.
    pub fn floor(&self) -> i64 {
        self.floor
    }

    /// A stored session, in id order: the latest of each (host, pid) wins.
    /// One that ended before the floor cannot continue, and hides the ones before it.
    pub fn seed(&mut self, s: Acc) {
        let key = (s.host.clone(), s.pid);
        if secs(s.end) >= self.floor {
            self.open.insert(key, s);
        } else {
            self.open.remove(&key);
        }
    }

    /// Whether this tracker can group a batch whose earliest event is at `min_secs`
    /// (an event that early could continue a session it did not load).
    pub fn covers(&self, min_secs: i64) -> bool {
        min_secs >= self.floor.saturating_add(GAP)
    }

    /// Assigns the next event (in id order) and returns its session's id.
    pub fn add(&mut self, e: &Ev<'_>) -> i64 {
        let key = (e.host.cloned(), e.pid);
        let (id, was_dirty) = match self.open.get_mut(&key) {
            Some(s) if s.continues(e) => {
                let was = s.dirty;
                s.add(e);
                (s.id, was)
            }
            Some(s) => {
                let mut fresh = Acc::new(e);
                fresh.add(e);
                let old = std::mem::replace(s, fresh);
                let was = old.dirty;
                if old.dirty {
                    self.closed.push(old);
                }
                (e.id, was)
            }
            None => {
                let mut fresh = Acc::new(e);
                fresh.add(e);
                self.open.insert(key.clone(), fresh);
                (e.id, false)
            }
        };
        if !was_dirty {
            self.touched.push(key);
        }
        id
    }

    /// The sessions changed since the last [`Tracker::settle`], in id order.
    pub fn dirty(&self) -> Vec<&Acc> {
        let mut v: Vec<&Acc> = self
            .closed
            .iter()
            .chain(
                self.touched
                    .iter()
                    .filter_map(|k| self.open.get(k))
                    .filter(|s| s.dirty),
            )
            .collect();
        v.sort_unstable_by_key(|s| s.id);
        v
    }

    /// After the dirty sessions were written: forgets them as dirty, and when
    /// the tracker grew large, the sessions that cannot continue at `min_secs` or later.
    pub fn settle(&mut self, min_secs: i64) {
        self.closed.clear();
        for k in self.touched.drain(..) {
            if let Some(s) = self.open.get_mut(&k) {
                s.dirty = false;
            }
        }
        let next = Tracker::floor_for(min_secs);
        // (`i64::MAX`: a commit without events says nothing of the time.)
        if self.stored_until >= self.floor && next > self.stored_until && min_secs < i64::MAX {
            // Every stored session that `open` may lack ended before `next`:
            // none can continue from now on, and no more look-ups are needed.
            // (Sessions in `open` that ended earlier stay until an eviction;
            // nothing can continue them either.)
            self.floor = next;
        }
        if self.open.len() >= self.evict_at || self.open.len() > MAX_OPEN {
            let floor = Tracker::floor_for(min_secs).max(self.floor);
            self.open.retain(|_, s| secs(s.end) >= floor);
            self.floor = floor;
            if self.open.len() > MAX_OPEN {
                // Idle longest first; ties by id, so the choice is deterministic.
                let mut by_age: Vec<(i64, i64, Key)> = self
                    .open
                    .iter()
                    .map(|(k, s)| (s.end, s.id, k.clone()))
                    .collect();
                by_age.sort_unstable_by_key(|x| (x.0, x.1));
                for (_, _, k) in by_age.into_iter().take(self.open.len() - MAX_OPEN / 2) {
                    self.open.remove(&k);
                }
            }
            // Evicting again only after the tracker doubled keeps settles cheap
            // when few sessions can go.
            self.evict_at = (2 * self.open.len()).clamp(EVICT_AT, MAX_OPEN);
        }
        if !self.looks_up() {
            // The floor only rises: no look-up will need them again.
            self.keys = None;
        }
    }
}

/// Rebuilds sessions from their remaining events (after a replace deleted some):
/// `events` in id order, each with the session it belongs to.
pub fn rebuild<'a>(events: impl Iterator<Item = (i64, Ev<'a>)>) -> FxHashMap<i64, Acc> {
    let mut out: FxHashMap<i64, Acc> = FxHashMap::default();
    for (session, e) in events {
        out.entry(session).or_insert_with(|| Acc::new(&e)).add(&e);
    }
    out
}

/// A [`Tracker`] for every input a store writes.
#[derive(Default)]
pub struct Trackers(FxHashMap<i64, Tracker>);

impl Trackers {
    pub const KEEP: usize = 4;

    /// For a commit of `b`: the second of its earliest event, and its input's
    /// tracker, taken out (it goes back only if the commit succeeds) when it
    /// agrees with the table at the expected version and covers that second;
    /// `None`: the caller loads a fresh one. A batch that replaces provisional
    /// events drops the tracker (their sessions are rebuilt from the table).
    pub fn take_for(&mut self, b: &super::Batch<'_>) -> (i64, Option<Tracker>) {
        let input = b.checkpoint.id;
        let min_secs = b
            .events
            .iter()
            .map(|e| e.ts.unix_secs())
            .min()
            .unwrap_or(i64::MAX);
        let t = self.0.remove(&input);
        if b.replace_from.is_some() {
            return (min_secs, None);
        }
        (
            min_secs,
            t.filter(|t| t.version == b.expected_version && t.covers(min_secs)),
        )
    }

    /// Keeps `t` for the next commit of its input. At most [`Trackers::KEEP`]
    /// inputs are kept (an ingest reads one input after another; a dropped
    /// tracker only costs a reload).
    pub fn put(&mut self, t: Tracker) {
        if self.0.len() >= Self::KEEP && !self.0.contains_key(&t.input) {
            self.0.clear();
        }
        self.0.insert(t.input, t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(
        id: i64,
        secs: i64,
        pid: Option<u32>,
        ip: Option<&str>,
        user: Option<&'static str>,
        attempts: i64,
    ) -> Ev<'static> {
        Ev {
            id,
            micros: secs * 1_000_000,
            host: None,
            pid,
            ip: ip.map(|s| s.parse().unwrap()),
            user,
            kind: if attempts > 0 {
                Kind::AuthFailure
            } else {
                Kind::PreauthClose
            },
            attempts,
        }
    }

    #[test]
    fn grouping_follows_pid_address_and_gap() {
        let mut t = Tracker::new(1, 0, i64::MIN / 2);
        assert_eq!(t.add(&ev(1, 100, Some(7), None, None, 0)), 1);
        assert_eq!(
            t.add(&ev(2, 101, Some(7), Some("192.0.2.1"), Some("root"), 1)),
            1
        );
        assert_eq!(
            t.add(&ev(3, 102, Some(7), Some("192.0.2.2"), None, 1)),
            3,
            "another address"
        );
        assert_eq!(
            t.add(&ev(4, 102 + GAP, Some(7), None, Some("admin"), 1)),
            3,
            "within the gap"
        );
        assert_eq!(
            t.add(&ev(5, 103 + 2 * GAP, Some(7), None, None, 0)),
            5,
            "past the gap"
        );
        assert_eq!(t.add(&ev(6, 103 + 2 * GAP, None, None, None, 0)), 6);
        assert_eq!(
            t.add(&ev(7, 103 + 2 * GAP, None, None, None, 0)),
            7,
            "no pid: a session each"
        );
        let d = t.dirty();
        assert_eq!(d.iter().map(|s| s.id).collect::<Vec<_>>(), [1, 3, 5, 6, 7]);
        assert_eq!(d[0].attempts, 1);
        assert_eq!(d[0].users_text().as_deref(), Some("root"));
        assert_eq!(d[1].users_text().as_deref(), Some("admin"));
        assert_eq!(d[1].outcome, Outcome::Failure);
        assert_eq!(d[2].outcome, Outcome::Other);
        t.settle(0);
        assert!(t.dirty().is_empty());
    }

    #[test]
    fn a_tracker_knows_which_batches_it_covers() {
        let mut t = Tracker::new(1, 0, Tracker::floor_for(10_000));
        assert!(t.covers(10_000));
        assert!(t.covers(10_000 - MARGIN));
        assert!(!t.covers(10_000 - MARGIN - 1));
        // A later, earlier-ending session of the same connection hides the older one.
        let mut a = Acc::new(&ev(1, 10_000, Some(3), None, None, 0));
        t.seed(a.clone());
        a.id = 2;
        a.end = 0;
        t.seed(a);
        assert_eq!(t.add(&ev(3, 10_001, Some(3), None, None, 0)), 3);
    }

    fn event(secs: i64, host: Option<&Arc<str>>, pid: Option<u32>) -> Event {
        Event {
            ts: crate::event::Ts::from_micros(secs * 1_000_000, 0),
            host: host.cloned(),
            pid,
            kind: Kind::PreauthClose,
            attempts: 0,
            ..Event::at_line(1)
        }
    }

    /// A tracker filled on demand asks for exactly the connections of the
    /// batch it does not hold, once each, and none without a pid.
    #[test]
    fn an_on_demand_tracker_wants_only_the_connections_of_the_batch() {
        let h: Arc<str> = Arc::from("web1");
        let mut t = Tracker::on_demand(1, 0, Tracker::floor_for(10_000), Some(9_000));
        let mut held = Acc::new(&ev(1, 9_500, Some(3), None, None, 0));
        held.host = Some(h.clone());
        t.seed(held);
        let batch = [
            event(10_000, Some(&h), Some(3)),
            event(10_001, Some(&h), Some(4)),
            event(10_002, None, Some(4)),
            event(10_003, Some(&h), Some(4)),
            event(10_004, Some(&h), None),
        ];
        assert_eq!(t.wanted(&batch), vec![(Some(h.clone()), 4), (None, 4)]);
        // What the table has for them is seeded, and continued.
        let mut stored = Acc::new(&ev(2, 9_900, Some(4), None, None, 0));
        stored.host = Some(h.clone());
        t.seed(stored);
        let evs: Vec<i64> = batch
            .iter()
            .enumerate()
            .map(|(i, e)| t.add(&Ev::of(10 + i as i64, e)))
            .collect();
        assert_eq!(evs, [1, 2, 12, 2, 14]);
        assert!(t.wanted(&batch).is_empty(), "held now");
    }

    /// Once the floor passes the latest stored session, the tracker holds
    /// every session that can continue: no more look-ups (a full ingest, or
    /// the rest of a large append, costs none).
    #[test]
    fn an_on_demand_tracker_stops_looking_up_past_the_stored_sessions() {
        let fresh = Tracker::on_demand(1, 0, Tracker::floor_for(10_000), None);
        assert!(fresh.wanted(&[event(10_000, None, Some(5))]).is_empty());
        let mut t = Tracker::on_demand(1, 0, Tracker::floor_for(10_000), Some(9_000));
        t.settle(10_000);
        assert_eq!(t.wanted(&[event(10_000, None, Some(5))]).len(), 1);
        let later = 9_000 + GAP + MARGIN;
        t.settle(later);
        assert_eq!(
            t.wanted(&[event(later, None, Some(5))]).len(),
            1,
            "still reachable"
        );
        t.settle(later + 1);
        assert!(t.wanted(&[event(later + 1, None, Some(5))]).is_empty());
        // The floor went up with it: an earlier batch needs a fresh tracker.
        assert!(t.covers(later + 1 - MARGIN) && !t.covers(later - MARGIN));
    }

    /// The sessions stored after the key table's coverage: the latest of each
    /// connection answers; dropped once the tracker needs no more look-ups.
    #[test]
    fn a_key_tail_holds_the_latest_session_of_each_connection_while_needed() {
        let h: Arc<str> = Arc::from("web1");
        let mut k = KeyTail::new(100);
        k.add(101, Some(h.clone()), 7);
        k.add(105, None, 7);
        k.add(109, Some(h.clone()), 7);
        assert_eq!(k.latest(&Some(h.clone()), 7), Some(109));
        assert_eq!(k.latest(&None, 7), Some(105));
        assert_eq!(k.latest(&Some(h.clone()), 8), None);
        assert_eq!((k.keyed, k.scanned), (100, 109));
        let mut t = Tracker::on_demand(1, 0, Tracker::floor_for(10_000), Some(9_000));
        t.keys = Some(k);
        t.settle(10_000);
        assert!(t.keys.is_some(), "look-ups still possible");
        t.settle(9_000 + GAP + MARGIN + 1);
        assert!(t.keys.is_none());
    }

    #[test]
    fn a_flood_of_connections_keeps_the_tracker_bounded() {
        let mut t = Tracker::new(1, 0, i64::MIN / 2);
        let n = 3 * MAX_OPEN as i64;
        for chunk in 0..30 {
            let per = n / 30;
            for i in chunk * per..(chunk + 1) * per {
                // A new pid per line, all within one minute: nothing is old enough to go by time.
                t.add(&ev(
                    i + 1,
                    1_000 + i / 10_000,
                    Some(i as u32),
                    Some("192.0.2.9"),
                    None,
                    1,
                ));
            }
            // Each commit writes exactly the sessions of its own lines.
            assert_eq!(t.dirty().len() as i64, per);
            t.settle(1_000 + (chunk + 1) * per / 10_000);
            assert!(t.open.len() <= MAX_OPEN, "{}", t.open.len());
            assert!(t.dirty().is_empty());
        }
        // The sessions kept are the most recent ones.
        let last = ev(
            n,
            1_000 + (n - 1) / 10_000,
            Some((n - 1) as u32),
            Some("192.0.2.9"),
            None,
            1,
        );
        assert_eq!(t.add(&last), n, "the latest session is still open");
    }
}
