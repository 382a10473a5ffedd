//! Connection correlation, timestamps and the release of events.
//!
//! sshd writes some lines without an address (`Disconnecting: Too many
//! authentication failures for root`, `kex_exchange_identification: …`) and
//! some before the line that carries it. Lines of one connection share
//! (host, pid), so such an event is held until its connection reveals the
//! address or ends; PIDs are reused, so the binding is dropped when the
//! connection closes. The same hold decides whether a PAM failure is an attack
//! attempt of its own or one that an `auth_failure` of the same connection
//! already reports (DESIGN §2: never double-counted).
//!
//! A held event never holds up another connection: every other event leaves at
//! once, and a held one leaves as soon as its connection decides it — so the
//! order is input order within a connection, and across connections only a held
//! event comes later than the lines after it. A held event waits at most until
//! its connection has been silent for [`HOLD_SECS`] on the log's own clock or
//! for [`STALE_LINES`] lines, and on a live stream for [`WALL_HOLD_SECS`] of
//! wall-clock time ([`Correlator::release_idle`]); then it leaves with what it
//! has (no address, or a PAM failure counted as its own attempt), exactly as at
//! the end of a batch input.

use std::collections::VecDeque;

use rustc_hash::FxHashMap as HashMap;
use std::collections::hash_map::{Entry, OccupiedEntry};
use std::net::IpAddr;
use std::sync::Arc;

use jiff::tz::TimeZone;

use super::envelope::{Program, Stamp};
use super::message::Conn;
use super::RawLine;
use crate::event::{days_from_civil, Event, Kind, Src, Ts};

/// A held event is released after this many further lines without news of its connection.
pub const STALE_LINES: u64 = 5_000;
/// … or when its connection has been silent this long on the log's clock
/// (sshd's `LoginGraceTime` is 120 s: a connection that waits longer for its
/// address has ended without one).
pub const HOLD_SECS: i64 = 120;
/// … or, on a live stream, when no line of its connection came for this long.
pub const WALL_HOLD_SECS: i64 = 10;
/// At most this many events are held (counted from the oldest held to the
/// last one, those that left between included); beyond it the oldest
/// connection is closed.
const MAX_HELD: usize = 100_000;
/// Open connections remembered at most. Beyond it, those silent for more than
/// [`STALE_LINES`] lines are taken as ended: a connection whose close line never
/// came (lost, rate-limited, or logs like a flood of one line per pid) must
/// not stay in memory for the rest of a long `serve` run. No real log has this
/// many connections open at once, so ordinary correlation never sees it.
const MAX_CONNS: usize = 100_000;
/// Held events are checked for the time and line bounds every this many lines
/// (the oldest one on every line).
const SWEEP_LINES: u64 = 1_024;

/// What the correlator needs to know about its input.
#[derive(Clone, Debug)]
pub struct Options {
    /// Emit `other` events too (`parse --all`).
    pub all: bool,
    /// `--year`: the year of the first year-less line.
    pub year: Option<i32>,
    /// Zone of timestamps without an offset.
    pub tz: TimeZone,
    /// The input's modification time (or now): year-less lines are placed closest before it.
    pub reference: Ts,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            all: false,
            year: None,
            tz: TimeZone::UTC,
            reference: Ts::from_micros(0, 0),
        }
    }
}

type ConnKey = (u32, u32); // (host id, pid)

/// One open connection. Logs whose connections never write their end fill
/// the map with [`MAX_CONNS`] of these (a 10M-line log does: 262 144 buckets,
/// and twice that while it grows), so it is kept small: 56 bytes, not 80
/// (issue #15: 16.8 MB at the bound, not 23 MB).
#[derive(Default)]
struct ConnState {
    ip: Option<IpAddr>,
    /// Its source port, when `has_port` (an `Option<u16>` takes 4 bytes).
    port: u16,
    has_port: bool,
    auth_failed: bool,
    logged_in: bool,
    too_many_seen: bool,
    bad_protocol_seen: bool,
    /// Keys in [`Correlator::held`] of this connection's held events.
    held: HeldKeys,
    last_line: u64,
    /// Time of its last line (log clock, µs).
    last_ts: i64,
    /// Wall-clock time of its last line (µs; 0 in batch reads), or [`TRACE`].
    last_wall: i64,
}

/// [`ConnState::last_wall`] of an entry that is not a connection but the
/// trace of one that closed after an `auth_failure`, at line `last_line` from
/// `ip`: PAM writes its `PAM N more authentication failures` summary after
/// sshd's close line, and the pid's next connection must know. Kept in the
/// connection map rather than in one of its own, the close and the next
/// connection touch one entry (issue #15: `push_mut` 89.8M -> 84.8M Ir on 200k
/// lines: two to four hash operations a failed connection saved); a mark in a field a trace
/// does not use keeps the entry at 56 bytes. Nothing else is set, and the
/// walks of the connections pass traces by.
const TRACE: i64 = i64::MIN;

impl ConnState {
    /// The trace of a connection that closed after a failure ([`TRACE`]).
    fn trace(ip: Option<IpAddr>, line: u64) -> ConnState {
        ConnState {
            ip,
            last_line: line,
            last_wall: TRACE,
            ..ConnState::default()
        }
    }

    /// Whether this is a [`TRACE`], not an open connection.
    #[inline]
    fn closed(&self) -> bool {
        self.last_wall == TRACE
    }

    fn port(&self) -> Option<u16> {
        self.has_port.then_some(self.port)
    }

    fn set_port(&mut self, port: Option<u16>) {
        self.has_port = port.is_some();
        self.port = port.unwrap_or(0);
    }
}

/// A connection's held event keys, in order: nothing allocated while it holds
/// none (nearly every connection), and 8 bytes where a `Vec` takes 24.
#[derive(Default)]
#[allow(clippy::box_collection)] // the point: a thin pointer in the connection map
struct HeldKeys(Option<Box<Vec<u64>>>);

impl HeldKeys {
    fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|v| v.is_empty())
    }

    /// Adds `idx`, in a list from `spare` when it takes its first one.
    #[allow(clippy::vec_box)] // the boxes are what is reused, with their lists
    fn push(&mut self, idx: u64, spare: &mut Vec<Box<Vec<u64>>>) {
        self.0
            .get_or_insert_with(|| spare.pop().unwrap_or_default())
            .push(idx);
    }

    /// Gives its list back to `spare` for the next connection that holds
    /// events: two allocations and two frees a connection saved (issue #15:
    /// some 3.3M Ir on 200k lines).
    #[allow(clippy::vec_box)]
    fn recycle(self, spare: &mut Vec<Box<Vec<u64>>>) {
        if let Some(mut list) = self.0 {
            if spare.len() < SPARE_LISTS && list.capacity() <= 16 {
                list.clear();
                spare.push(list);
            }
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, u64> {
        self.0.as_deref().map_or(&[][..], |v| &v[..]).iter()
    }

    fn retain(&mut self, f: impl FnMut(&u64) -> bool) {
        if let Some(v) = &mut self.0 {
            v.retain(f);
        }
    }
}

#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<ConnState>() == 56);

/// The open connections and [`TRACE`]s, in two maps: those that had a line
/// lately and those silent for a while. A log whose connections often never
/// write their end fills one map with up to [`MAX_CONNS`] of them (a 10M-line
/// log does: 262,144 buckets of 64 bytes), and then nearly every line's
/// look-up and every new connection's insertion missed the caches (issue
/// #15: two thirds of the correlator's samples at 10M lines). The map of
/// recent ones stays small enough to stay cached. A key is in one map at
/// most and an entry found among the silent ones moves back, so every
/// look-up answers as one map would: only where an entry lives changes,
/// never what the correlator decides.
struct Conns {
    recent: HashMap<ConnKey, ConnState>,
    silent: HashMap<ConnKey, ConnState>,
    /// `recent` holds this many at most before its silent entries move.
    cap: usize,
    /// Entries silent for more than this many lines move ([`SILENT_LINES`]).
    silence: u64,
    /// The key and line of each [`TRACE`] among the silent ones (of a
    /// connection that ended there, or one moved young), the oldest first:
    /// [`Conns::cool`] forgets those [`TRACE_LINES`] old, as it forgets
    /// those among the recent ones that it walks by.
    silent_traces: VecDeque<(ConnKey, u64)>,
}

/// [`Conns::cap`] to begin with: 1,024 entries of 64 bytes (128 KB of
/// buckets). `stats` of 10M generated lines on a loaded machine, cap and
/// silence (issue #15): 1,024 and 512 lines 2.92–3.13 s; 512 and 256 2.99 s;
/// 2,048 and 512 3.02 s; 4,096 and 1,024 3.20 s; one map 4.63 s.
const RECENT_CONNS: usize = 1_024;
/// An entry of [`Conns::recent`] silent for more than this many lines moves
/// when the map is full: 95% of the lines of a connection come within 332
/// lines of its last one in the generated logs.
const SILENT_LINES: u64 = 512;

impl Default for Conns {
    fn default() -> Self {
        Conns {
            recent: HashMap::default(),
            silent: HashMap::default(),
            cap: RECENT_CONNS,
            silence: SILENT_LINES,
            silent_traces: VecDeque::new(),
        }
    }
}

impl Conns {
    fn len(&self) -> usize {
        self.recent.len() + self.silent.len()
    }

    /// The entry of `key`, in the recent map (where a silent one moves).
    #[inline(always)]
    fn entry(&mut self, key: ConnKey) -> Entry<'_, ConnKey, ConnState> {
        match self.recent.entry(key) {
            Entry::Vacant(v) if !self.silent.is_empty() => match self.silent.remove(&key) {
                Some(conn) => Entry::Occupied(v.insert_entry(conn)),
                None => Entry::Vacant(v),
            },
            e => e,
        }
    }

    /// The entry of `key` where it is, and whether that is among the silent
    /// ones: a connection that ends there does not move first.
    fn occupied(&mut self, key: ConnKey) -> Option<(OccupiedEntry<'_, ConnKey, ConnState>, bool)> {
        match self.recent.entry(key) {
            Entry::Occupied(o) => Some((o, false)),
            Entry::Vacant(_) if self.silent.is_empty() => None,
            Entry::Vacant(_) => match self.silent.entry(key) {
                Entry::Occupied(o) => Some((o, true)),
                Entry::Vacant(_) => None,
            },
        }
    }

    #[inline]
    fn get(&self, key: &ConnKey) -> Option<&ConnState> {
        self.recent.get(key).or_else(|| self.silent.get(key))
    }

    fn iter(&self) -> impl Iterator<Item = (&ConnKey, &ConnState)> {
        self.recent.iter().chain(self.silent.iter())
    }

    fn keys(&self) -> impl Iterator<Item = &ConnKey> {
        self.iter().map(|(k, _)| k)
    }

    #[cfg(test)]
    fn values(&self) -> impl Iterator<Item = &ConnState> {
        self.iter().map(|(_, c)| c)
    }

    /// Whether [`Conns::cool`] is due: the recent map is full.
    #[inline(always)]
    fn full(&self) -> bool {
        self.recent.len() >= self.cap
    }

    /// Moves the entries of the recent map that had no line in the last
    /// [`Conns::silence`] lines before `line` to the silent map, but for the
    /// [`TRACE`]s older than [`TRACE_LINES`], which tell nothing any more and
    /// are forgotten: returns how many. Where most entries are that recent,
    /// the map may hold twice as many: a walk of its entries comes once in
    /// as many new ones as it leaves room for, so it costs a few visits per
    /// connection.
    #[cold]
    #[inline(never)]
    fn cool(&mut self, line: u64) -> usize {
        if self.silent.capacity() == 0 {
            // Its bound at once: no growth, each a rehash of every entry.
            self.silent.reserve(MAX_CONNS + RECENT_CONNS);
        }
        let mut forgotten = self.expire(line);
        let (silent, traces, silence) = (&mut self.silent, &mut self.silent_traces, self.silence);
        self.recent.retain(|k, c| {
            let quiet = line.saturating_sub(c.last_line);
            if quiet <= silence {
                return true;
            }
            if c.closed() {
                if quiet >= TRACE_LINES {
                    forgotten += 1;
                    return false;
                }
                traces.push_back((*k, c.last_line));
            }
            silent.insert(*k, std::mem::take(c));
            false
        });
        if self.recent.len() > self.cap / 2 {
            self.cap *= 2;
        }
        forgotten
    }

    /// Forgets the [`TRACE`]s among the silent ones [`TRACE_LINES`] old at
    /// `line`: returns how many.
    fn expire(&mut self, line: u64) -> usize {
        let mut forgotten = 0;
        while let Some(&(key, at)) = self.silent_traces.front() {
            if line.saturating_sub(at) < TRACE_LINES {
                break;
            }
            self.silent_traces.pop_front();
            // Unless a new connection took its pid since.
            if let Entry::Occupied(o) = self.silent.entry(key) {
                if o.get().closed() && o.get().last_line == at {
                    o.remove();
                    forgotten += 1;
                }
            }
        }
        forgotten
    }
}

/// Lists of held event keys kept for reuse at most.
const SPARE_LISTS: usize = 64;

struct Slot {
    ev: Event,
    need_ip: bool,
    undecided: bool,
    key: Option<ConnKey>,
}

impl Slot {
    fn held(&self) -> bool {
        self.need_ip || self.undecided
    }
}

/// The held events by arrival number, the first the oldest: a queue, as they
/// come in order and nearly always leave soon, where a `BTreeMap` searched
/// its nodes on every insertion and removal (issue #15: `push_mut` 84.8M ->
/// 81.7M Ir on 200k lines).
#[derive(Default)]
struct Held {
    /// The event numbered `first + i` at `i`, `None` once it left; the front
    /// is always one still held (the queue is trimmed), and the back the last
    /// one numbered.
    slots: VecDeque<Option<Slot>>,
    first: u64,
    /// Events still held.
    len: usize,
}

impl Held {
    #[inline]
    fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn len(&self) -> usize {
        self.len
    }

    /// Numbers from the oldest event held to the last one numbered: the
    /// queue's length, those that left between included. The bound of
    /// [`MAX_HELD`] applies to it, so that one old event cannot make the
    /// queue grow without end.
    #[inline]
    fn span(&self) -> usize {
        self.slots.len()
    }

    /// Holds event number `idx`, the one after the last numbered.
    #[inline]
    fn push(&mut self, idx: u64, slot: Slot) {
        if self.slots.is_empty() {
            self.first = idx;
        }
        debug_assert_eq!(idx, self.first + self.slots.len() as u64);
        self.slots.push_back(Some(slot));
        self.len += 1;
    }

    #[inline]
    fn at(&self, idx: u64) -> Option<usize> {
        idx.checked_sub(self.first).map(|i| i as usize)
    }

    #[inline]
    fn get(&self, idx: u64) -> Option<&Slot> {
        self.slots.get(self.at(idx)?)?.as_ref()
    }

    #[inline]
    fn get_mut(&mut self, idx: u64) -> Option<&mut Slot> {
        let i = self.at(idx)?;
        self.slots.get_mut(i)?.as_mut()
    }

    /// Passes event `idx` on to `sink` if it is held (an `other` one only
    /// when `all`), an undecided one as an attempt of its own when `own` (its
    /// connection ended). It leaves a `None` behind it, where the front
    /// (held) keeps the queue trimmed. Moved once, from its entry straight to
    /// its place in the sink's list ([`EventSink::put_taken`]; issue #15: a
    /// take out of the queue, then a pass into the list, were three copies
    /// of the ~200-byte entry, and some 240 Ir an event).
    #[inline(always)]
    fn release(&mut self, idx: u64, own: bool, all: bool, sink: &mut impl EventSink) {
        let Some(i) = self.at(idx) else { return };
        let Some(entry) = self.slots.get_mut(i) else {
            return;
        };
        let Some(slot) = entry else { return };
        if own && slot.undecided {
            slot.ev.attempts = slot.ev.count;
        }
        if slot.ev.kind == Kind::Other && !all {
            *entry = None;
        } else {
            sink.put_taken(entry);
        }
        self.len -= 1;
        if i == 0 {
            self.trim();
        }
    }

    /// Drops the front entries of events that left.
    #[inline]
    fn trim(&mut self) {
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.first += 1;
        }
    }

    /// The oldest event held.
    #[inline]
    fn first(&self) -> Option<&Slot> {
        self.slots.front().and_then(Option::as_ref)
    }

    /// The number of the oldest event held.
    fn first_idx(&self) -> Option<u64> {
        self.first().map(|_| self.first)
    }

    /// The events held, oldest first.
    fn values(&self) -> impl Iterator<Item = &Slot> {
        self.slots.iter().flatten()
    }
}

/// Kinds whose attempt an `auth_failure` of the same connection may already
/// report: a PAM failure before `Failed password`, a `User x not allowed` refusal
/// before `Failed password for invalid user x`. They count only when no
/// `auth_failure` of their connection does (DESIGN §2: never double-counted).
fn absorbable(kind: Kind) -> bool {
    matches!(kind, Kind::PamFailure | Kind::Refused)
}

/// Per-input sequential state: correlation, year inference, zone conversion.
pub struct Correlator {
    shared: Shared,
    opts: Options,
    hosts: Vec<Arc<str>>,
    conns: Conns,
    /// Entries of `conns` that are [`TRACE`]s, not counted as connections.
    closed_count: usize,
    /// Held events by arrival number (so the first is the oldest line).
    held: Held,
    /// Emptied [`HeldKeys`] lists of ended connections, boxes and all.
    #[allow(clippy::vec_box)]
    spare_keys: Vec<Box<Vec<u64>>>,
    next_key: u64,
    /// The latest time seen on the log's clock (µs).
    clock: i64,
    /// Wall clock of the lines being pushed (µs), set by live streams.
    wall: i64,
    next_sweep: u64,
    /// The oldest held event's connection was fresh: until this line and
    /// this time (µs) it cannot be stale. Reset when the oldest held event
    /// leaves (another one is the oldest then), not when a later one does,
    /// nor when one is held (events held later never come first): with
    /// [`Correlator::quiet_line`], what the sweep found holds on (issue #15:
    /// a `sweep_check` after each event that left, 1.0M Ir on 200k lines).
    /// Spares [`Correlator::sweep`] its look-ups on most lines.
    front_fresh: Option<(u64, i64)>,
    /// [`Correlator::sweep`] has nothing to do while the line is before this
    /// one and the clock not past `quiet_clock`: what its checks found last,
    /// folded into two words (issue #15: six loads and compares a line, now
    /// two). Cleared (0) with `front_fresh`, and when an event is held in an
    /// empty queue or past its bound.
    quiet_line: u64,
    quiet_clock: i64,
    year: Option<i32>,
    last_month: u8,
    /// The last line's instant, which a line without a stamp takes: at
    /// first the input's reference.
    last_ts: Ts,
    tz_cache: Option<(i64, i32)>,
    /// The local hour of the last civil stamp converted: its day (the
    /// stamp's year, month and day), the second of the day it starts at, its
    /// length (3600 s, 0 for none) and its instant and offset. A line of the same hour is that instant plus
    /// its seconds since, with no conversion: the year, the day number and
    /// the offset (cached per local hour by [`Correlator::offset_for_local`])
    /// are those of the hour's first line. That holds while the year state is
    /// the one its conversion left, so whatever else changes that state
    /// ([`Correlator::set_year_state`]) clears it. A few compares and one
    /// subtraction (issue #15: a conversion per distinct second was 8.2M Ir on
    /// 200k lines, one per hour some 0.02M).
    civil_day: (Option<i32>, u8, u8),
    civil_hour_sod: u32,
    civil_hour_len: u32,
    civil_hour_micros: i64,
    civil_offset: i32,
    line: u64,
    /// Indices in `hosts` of the last hosts interned, the last first: a
    /// block's lines share one `Arc` per host name, and a few hosts interleave
    /// (issue #15: `intern` 6.4M -> some 0.6M Ir on 200k lines).
    recent_hosts: [u32; RECENT],
}

/// Entries of the small caches of names, the last used first: a few hosts
/// and programs interleave in a log.
const RECENT: usize = 4;

/// Puts `item` first in `recent`, the others after it in order (the last
/// one out unless `item` was among them).
fn put_first<T: PartialEq>(recent: &mut [T; RECENT], item: T) {
    let at = recent.iter().position(|x| *x == item).unwrap_or(RECENT - 1);
    recent[..=at].rotate_right(1);
    recent[0] = item;
}

/// One shared `Arc<str>` per program name instead of an allocation per event,
/// found by the line's one-byte [`Program`] (issue #15: `program` 7.8M -> some
/// 1M Ir on 200k lines with a search of the last names used; now one load).
struct Programs([Arc<str>; Program::COUNT]);

impl Default for Programs {
    fn default() -> Self {
        Programs(Program::ALL.map(|p| Arc::from(p.as_str())))
    }
}

impl Programs {
    #[inline]
    fn get(&self, program: Program) -> Arc<str> {
        self.0[program as usize].clone()
    }
}

impl RawLine {
    /// Drops what the line owns (its host, names and honeypot record), as an
    /// event built of it takes them.
    #[cold]
    #[inline(never)]
    pub fn release(&mut self) {
        self.host = None;
        self.msg.method = None;
        self.msg.user = None;
        self.msg.honeypot = None;
    }

    /// Whether the line owns nothing a drop would free: so are the lines
    /// [`Correlator::push_lines`] took.
    pub fn owns_nothing(&self) -> bool {
        self.host.is_none()
            && self.msg.method.is_none()
            && self.msg.user.is_none()
            && self.msg.honeypot.is_none()
    }
}

/// What every event of an input shares: the input's name and the programs'.
struct Shared {
    input: Arc<str>,
    programs: Programs,
}

impl Shared {
    /// The event of `raw` as its connection decided it (`kind`, `attempts`,
    /// and the address and port it lent, written into the line), built once
    /// where it goes (the sink or a held slot) rather than moved through the
    /// correlator, and taking the line's names, host and honeypot record
    /// rather than cloning them.
    #[inline(always)]
    fn event(&mut self, raw: &mut RawLine, ts: Ts, kind: Kind, attempts: u32) -> Event {
        // The shared names first: the line's own fields then go from the
        // line straight to where the event is built, not through the stack
        // around the reference counts (issue #15).
        let program = self.programs.get(raw.program);
        let input = self.input.clone();
        let m = &mut raw.msg;
        Event {
            ts,
            host: raw.host.take(),
            program,
            pid: raw.pid,
            kind,
            method: m.method.take(),
            user: m.user.take(),
            invalid_user: m.invalid_user,
            ip: m.ip,
            port: m.port,
            count: m.count,
            attempts,
            geo: None,
            scope: None,
            honeypot: m.honeypot.take(),
            src: Src {
                input,
                line: raw.line,
            },
        }
    }

    /// [`Shared::event`] written at `dst` field by field: the line's names
    /// go from the line to the event without passing through the stack.
    ///
    /// # Safety
    /// `dst` is valid for a write of an `Event` (its old value is not dropped).
    #[inline(always)]
    unsafe fn write_event(
        &mut self,
        dst: *mut Event,
        raw: &mut RawLine,
        ts: Ts,
        kind: Kind,
        attempts: u32,
    ) {
        use std::ptr::addr_of_mut;
        // Every field is named here: one added to `Event` fails this build
        // until it is written below too.
        let _every_field = |e: &Event| {
            let Event {
                ts: _,
                host: _,
                program: _,
                pid: _,
                kind: _,
                method: _,
                user: _,
                invalid_user: _,
                ip: _,
                port: _,
                count: _,
                attempts: _,
                geo: _,
                scope: _,
                honeypot: _,
                src: _,
            } = e;
        };
        let program = self.programs.get(raw.program);
        let input = self.input.clone();
        let m = &mut raw.msg;
        // SAFETY: each field of `dst` is written once (the caller's
        // promise); each owned field of the line is copied bit for bit and
        // its place then overwritten with `None` without a drop, so it has
        // one owner, the event.
        unsafe {
            addr_of_mut!((*dst).ts).write(ts);
            addr_of_mut!((*dst).host).copy_from_nonoverlapping(&raw.host, 1);
            std::ptr::write(&mut raw.host, None);
            addr_of_mut!((*dst).program).write(program);
            addr_of_mut!((*dst).pid).write(raw.pid);
            addr_of_mut!((*dst).kind).write(kind);
            addr_of_mut!((*dst).method).copy_from_nonoverlapping(&m.method, 1);
            std::ptr::write(&mut m.method, None);
            addr_of_mut!((*dst).user).copy_from_nonoverlapping(&m.user, 1);
            std::ptr::write(&mut m.user, None);
            addr_of_mut!((*dst).invalid_user).write(m.invalid_user);
            addr_of_mut!((*dst).ip).write(m.ip);
            addr_of_mut!((*dst).port).write(m.port);
            addr_of_mut!((*dst).count).write(m.count);
            addr_of_mut!((*dst).attempts).write(attempts);
            addr_of_mut!((*dst).geo).write(None);
            addr_of_mut!((*dst).scope).write(None);
            addr_of_mut!((*dst).honeypot).copy_from_nonoverlapping(&m.honeypot, 1);
            std::ptr::write(&mut m.honeypot, None);
            addr_of_mut!((*dst).src).write(Src {
                input,
                line: raw.line,
            });
        }
    }
}

/// Where the correlator's events go: a closure that takes each one, or the
/// list of the flow's block ([`Correlator::push_lines`]), where an event is
/// built in its slot rather than on the stack and then copied there (issue
/// #15: one copy of ~200 bytes an event).
trait EventSink {
    fn put(&mut self, ev: Event);

    /// Passes on the event that `build` makes.
    #[inline(always)]
    fn put_with(&mut self, build: impl FnOnce() -> Event) {
        self.put(build());
    }

    /// Passes on the event of `raw` ([`Shared::event`]).
    #[inline(always)]
    fn put_event(
        &mut self,
        shared: &mut Shared,
        raw: &mut RawLine,
        ts: Ts,
        kind: Kind,
        attempts: u32,
    ) {
        self.put(shared.event(raw, ts, kind, attempts));
    }

    /// Passes on the event of a held `entry`, which is left `None`.
    #[inline(always)]
    fn put_taken(&mut self, entry: &mut Option<Slot>) {
        if let Some(slot) = entry.take() {
            self.put(slot.ev);
        }
    }
}

impl<F: FnMut(Event)> EventSink for F {
    #[inline(always)]
    fn put(&mut self, ev: Event) {
        self(ev);
    }
}

impl EventSink for Vec<Event> {
    #[inline(always)]
    fn put(&mut self, ev: Event) {
        self.push(ev);
    }

    #[inline(always)]
    fn put_with(&mut self, build: impl FnOnce() -> Event) {
        self.reserve(1);
        let len = self.len();
        // SAFETY: `reserve(1)` left room for one more event at `len`, which
        // is written before the length takes it in (should `build` panic,
        // the list is as it was). Test `events_built_in_the_list_are_those_passed_on`.
        unsafe {
            self.as_mut_ptr().add(len).write(build());
            self.set_len(len + 1);
        }
    }

    #[inline(always)]
    fn put_event(
        &mut self,
        shared: &mut Shared,
        raw: &mut RawLine,
        ts: Ts,
        kind: Kind,
        attempts: u32,
    ) {
        self.reserve(1);
        let len = self.len();
        // SAFETY: `reserve(1)` left room for one more event at `len`, which
        // is written whole before the length takes it in.
        unsafe {
            shared.write_event(self.as_mut_ptr().add(len), raw, ts, kind, attempts);
            self.set_len(len + 1);
        }
    }

    #[inline(always)]
    fn put_taken(&mut self, entry: &mut Option<Slot>) {
        let Some(slot) = entry else { return };
        self.reserve(1);
        let len = self.len();
        // SAFETY: `reserve(1)` left room for one more event at `len`. The
        // event is copied there, its entry then overwritten with `None`
        // without dropping the event (which lives on in the list alone), and
        // the length takes it in; nothing between can panic. Tests
        // `events_built_in_the_list_are_those_passed_on` (against
        // `put_taken` of a closure) and `held_queue_answers_as_a_btree_map`.
        unsafe {
            self.as_mut_ptr()
                .add(len)
                .copy_from_nonoverlapping(&slot.ev, 1);
            std::ptr::write(entry, None);
            self.set_len(len + 1);
        }
    }
}

/// Passes `ev` on unless it is `other` and `other` events are not wanted.
#[inline]
fn emit(all: bool, ev: Event, sink: &mut impl EventSink) {
    if ev.kind == Kind::Other && !all {
        return;
    }
    // Moved once, into its place in a list (one copy of ~200 bytes fewer).
    sink.put_with(|| ev);
}

/// Whether a connection opens with a line that an `auth_failure` of its
/// pid's previous connection, which closed at `closed` (its
/// [`TRACE`]), already reports (PAM writes its summary
/// after sshd's close line).
#[inline]
fn failed_before(closed: &ConnState, kind: Kind, ip: Option<IpAddr>, line: u64) -> bool {
    absorbable(kind) && ip == closed.ip && line.saturating_sub(closed.last_line) < TRACE_LINES
}

/// A [`TRACE`] tells a line of its pid this many lines after the close at
/// most: older, nothing tells it from no trace ([`failed_before`]).
const TRACE_LINES: u64 = 16;

/// Ends the open connection in `entry` at line `line`: after a failure it
/// becomes its [`TRACE`] in place, otherwise it leaves the map. Returns its
/// state; [`Correlator::ended`] does the rest.
#[inline]
fn close_entry(
    mut entry: OccupiedEntry<'_, ConnKey, ConnState>,
    line: u64,
    closed_count: &mut usize,
) -> ConnState {
    if entry.get().auth_failed {
        let trace = ConnState::trace(entry.get().ip, line);
        *closed_count += 1;
        std::mem::replace(entry.get_mut(), trace)
    } else {
        entry.remove()
    }
}

/// Passes on the held events of `conn` that are no longer waiting for
/// anything, in order.
fn release_decided(conn: &mut ConnState, held: &mut Held, all: bool, sink: &mut impl EventSink) {
    conn.held.retain(|&idx| match held.get(idx) {
        Some(slot) if slot.held() => true,
        Some(_) => {
            held.release(idx, false, all, sink);
            false
        }
        None => false,
    });
}

impl Correlator {
    pub fn new(input: Arc<str>, opts: Options) -> Correlator {
        let reference = opts.reference;
        Correlator {
            shared: Shared {
                input,
                programs: Programs::default(),
            },
            opts,
            hosts: Vec::new(),
            conns: Conns::default(),
            closed_count: 0,
            held: Held::default(),
            spare_keys: Vec::new(),
            next_key: 0,
            clock: i64::MIN,
            wall: 0,
            next_sweep: SWEEP_LINES,
            front_fresh: None,
            quiet_line: 0,
            quiet_clock: i64::MIN,
            year: None,
            last_month: 0,
            last_ts: reference,
            tz_cache: None,
            civil_day: (None, 0, 0),
            civil_hour_sod: 0,
            civil_hour_len: 0,
            civil_hour_micros: 0,
            civil_offset: 0,
            line: 0,
            recent_hosts: [u32::MAX; RECENT],
        }
    }

    /// Takes one parsed line (`line` is its 1-based number in the input) and
    /// passes every event that is ready to `sink`: this line's, unless it is
    /// held, and those of earlier lines that it decides.
    pub fn push(&mut self, mut raw: RawLine, sink: &mut impl FnMut(Event)) {
        self.push_mut(&mut raw, sink);
    }

    /// [`Correlator::push`] of a line left in place (its names, host and
    /// honeypot fields taken): the flow's blocks pass their lines without
    /// moving them, each move a copy of some 200 bytes (issue #15).
    ///
    /// The line's event is decided in locals and built once, where it goes;
    /// a line of a known connection costs one look-up of it, a close after a
    /// failure leaves its [`TRACE`] in the same entry (issue #15: `push_mut`
    /// 134.0M -> 89.8M Ir on 200k lines, with the caches of `resolve`, hosts and
    /// programs; 84.8M with the traces).
    pub fn push_mut(&mut self, raw: &mut RawLine, sink: &mut impl FnMut(Event)) {
        self.push_line(raw, sink, true);
    }

    /// [`Correlator::push_mut`] of each line of `lines` up to the first
    /// `last message repeated` one, which the flow resolves: returns how many
    /// were taken. One call a run of lines, the per-line body inlined in its
    /// loop (issue #15: a call, its saved registers and the flow's loop a
    /// line).
    ///
    /// Each line taken is left owning nothing (its event took its host, names
    /// and honeypot record, or they were dropped here): the flow forgets its
    /// block's lines without a drop of each ([`RawLine::owns_nothing`]).
    pub fn push_lines(&mut self, lines: &mut [RawLine], sink: &mut Vec<Event>) -> usize {
        for (i, raw) in lines.iter_mut().enumerate() {
            if raw.msg.repeat_last.is_some() {
                return i;
            }
            if !self.push_line(raw, sink, false) {
                raw.release();
            }
        }
        lines.len()
    }

    /// The body of [`Correlator::push_mut`]; `may_repeat` false where the
    /// caller knows the line is no `last message repeated` (its test once a
    /// line, not twice: the calls between can not tell the compiler so).
    /// Returns whether an event took the line's fields.
    #[inline(always)]
    fn push_line(
        &mut self,
        raw: &mut RawLine,
        sink: &mut impl EventSink,
        may_repeat: bool,
    ) -> bool {
        self.line = raw.line;
        let ts = self.resolve(raw.stamp);
        self.clock = self.clock.max(ts.micros);
        let host_id = raw.host.as_ref().map(|h| self.intern(h));
        let m = &raw.msg;
        if may_repeat && m.repeat_last.is_some() {
            // `last message repeated` whose line is not known here: nothing to repeat
            // (the flow resolves the ones whose previous line it saw).
            return false;
        }
        let all = self.opts.all;
        let mut kind = m.kind;
        let count = m.count;
        let mut attempts = if kind.is_attempt() { count } else { 0 };
        let Some(pid) = raw.pid else {
            if absorbable(kind) {
                attempts = count;
            }
            let keep = kind != Kind::Other || all;
            if keep {
                sink.put_event(&mut self.shared, raw, ts, kind, attempts);
            }
            self.sweep(sink);
            return keep;
        };
        // The line's rarer fields are read where they are used, not kept
        // across the connection's look-up (issue #15: fewer values spilled).
        let opens = m.conn == Conn::Opens;
        let key = (host_id.unwrap_or(u32::MAX), pid);
        // One look-up for a line of a known connection or a new one; the
        // entry also removes a closing connection (issue #15: they were two to
        // four, and a `finish` of a connection that was not there).
        if self.conns.full() {
            self.closed_count -= self.conns.cool(self.line);
        }
        let room = self.conns.len() - self.closed_count < MAX_CONNS;
        let known = match self.conns.entry(key) {
            // The pid's previous connection closed after a failure: its trace
            // becomes the new connection.
            Entry::Occupied(mut o) if o.get().closed() => {
                if room {
                    let fresh = ConnState {
                        auth_failed: failed_before(o.get(), kind, raw.msg.ip, raw.line),
                        ..ConnState::default()
                    };
                    *o.get_mut() = fresh;
                    self.closed_count -= 1;
                    Some(o)
                } else {
                    None
                }
            }
            // A pid reused by a new connection is not this one.
            Entry::Occupied(o)
                if !opens
                    && !matches!((raw.msg.ip, o.get().ip), (Some(a), Some(old)) if a != old) =>
            {
                Some(o)
            }
            // No trace of a failed connection either: it would be in the map.
            Entry::Vacant(v) if room => Some(v.insert_entry(ConnState::default())),
            _ => None,
        };
        let mut entry = match known {
            Some(o) => o,
            None => {
                // A pid reused, or the map is full: the general way.
                let fresh = self.open_connection(key, kind, raw.msg.ip, raw.line, sink);
                self.conns.entry(key).insert_entry(fresh)
            }
        };
        let conn = entry.get_mut();
        conn.last_line = raw.line;
        if ts.micros < conn.last_ts {
            // The log's clock went back: a connection may go stale sooner.
            self.front_fresh = None;
            self.quiet_line = 0;
        }
        conn.last_ts = ts.micros;
        conn.last_wall = self.wall;
        let mut decided = false;
        // A line's address and port are read where they are used and the
        // ones its connection lends it written into it, not kept in locals
        // across the connection's look-up (issue #15: spilled and reloaded).
        let closes = raw.msg.conn == Conn::Closes && raw.msg.ip.is_some();
        if let Some(new) = raw.msg.ip {
            if conn.ip.is_none() {
                conn.ip = Some(new);
                conn.set_port(raw.msg.port);
                for idx in conn.held.iter() {
                    if let Some(slot) = self.held.get_mut(*idx) {
                        if slot.need_ip {
                            slot.ev.ip = Some(new);
                            slot.ev.port = slot.ev.port.or(raw.msg.port);
                            slot.need_ip = false;
                            decided = true;
                        }
                    }
                }
            }
        }
        // A line that names its host (`from example.com`) is not about the
        // address another line of the pid gave.
        if raw.msg.ip.is_none() && conn.ip.is_some() && !raw.msg.named_host {
            raw.msg.ip = conn.ip;
            // The port belongs to the connection only when no user could have faked it.
            raw.msg.port = raw.msg.port.or(conn.port());
        }
        // An address-less probe (`fatal: Read from socket failed`) is a scanner
        // attempt of a known connection that tried no password; otherwise `other`.
        if let Some(probe) = raw.msg.probe {
            if raw.msg.ip.is_some() && !conn.auth_failed {
                kind = probe;
                attempts = count;
            }
        }
        // A connection end without `[preauth]` after a login is a logout.
        if raw.msg.maybe_postauth && conn.logged_in {
            kind = Kind::Other;
        }
        match kind {
            Kind::AuthSuccess => conn.logged_in = true,
            Kind::TooManyFailures if conn.too_many_seen => {
                // `maximum authentication attempts exceeded` and the `Disconnecting …`
                // that follows are one event.
                kind = Kind::Other;
            }
            Kind::TooManyFailures => conn.too_many_seen = true,
            // `kex_exchange_identification: …` then `banner exchange: … invalid format`:
            // one scanner connection, one attempt (the second line shown, not counted).
            Kind::BadProtocol if conn.bad_protocol_seen => attempts = 0,
            Kind::BadProtocol => conn.bad_protocol_seen = true,
            Kind::AuthFailure if !conn.auth_failed => {
                conn.auth_failed = true;
                for idx in conn.held.iter() {
                    if let Some(slot) = self.held.get_mut(*idx) {
                        if slot.undecided {
                            slot.ev.attempts = 0;
                            slot.undecided = false;
                            decided = true;
                        }
                    }
                }
            }
            _ => {}
        }
        if decided {
            // Earlier lines of this connection leave before this one.
            let front = self.held.first_idx();
            release_decided(conn, &mut self.held, all, sink);
            if self.held.first_idx() != front {
                self.front_fresh = None;
                if self.held.is_empty() && self.line < self.next_sweep {
                    // What `sweep_check` would find, with nothing held and no
                    // full sweep due (issue #15: a call a held event).
                    (self.quiet_line, self.quiet_clock) = (self.next_sweep, i64::MAX);
                } else {
                    self.quiet_line = 0;
                }
            }
        }
        let undecided = absorbable(kind) && !conn.auth_failed;
        let need_ip = raw.msg.ip.is_none() && kind != Kind::Other && !raw.msg.named_host;
        // A closing line without an address (`Disconnecting: Too many …`) is
        // followed by one that has it (`Connection closed by IP`): wait for that.
        if absorbable(kind) && conn.auth_failed {
            attempts = 0;
        }
        let keep = kind != Kind::Other || all;
        if !(need_ip || undecided) {
            // The connection's held events leave before its closing line.
            if closes {
                let conn = close_entry(entry, self.line, &mut self.closed_count);
                self.ended(conn, sink);
            }
            if keep {
                sink.put_event(&mut self.shared, raw, ts, kind, attempts);
            }
        } else {
            if keep {
                let idx = self.next_key;
                self.next_key += 1;
                conn.held.push(idx, &mut self.spare_keys);
                let ev = self.shared.event(raw, ts, kind, attempts);
                let slot = Slot {
                    ev,
                    need_ip,
                    undecided,
                    key: Some(key),
                };
                self.held.push(idx, slot);
                // What the sweep found last holds unless the queue was empty
                // or has grown past its bound.
                if self.held.len() == 1 {
                    // The oldest held now, of a connection that had a line
                    // just now (`last_line`, `last_ts`): what the sweep's
                    // look-up of it would find, unless the log's clock is
                    // past it already (then the sweep decides). An event
                    // leaving before the sweep (`closes`) resets it (issue
                    // #15: a sweep and its two look-ups a held event).
                    debug_assert!(self.front_fresh.is_none());
                    self.front_fresh = (self.clock.saturating_sub(ts.micros)
                        <= HOLD_SECS * 1_000_000)
                        .then(|| Self::fresh_until(self.line, ts.micros));
                    self.quiet_line = 0;
                } else if self.held.span() > MAX_HELD {
                    self.quiet_line = 0;
                }
            }
            if closes {
                let conn = close_entry(entry, self.line, &mut self.closed_count);
                self.ended(conn, sink);
            }
        }
        self.sweep(sink);
        keep
    }

    /// A new connection where a pid was reused or the map is full: ends the
    /// old one, then makes room. Returns the new connection's state.
    #[inline(never)]
    fn open_connection(
        &mut self,
        key: ConnKey,
        kind: Kind,
        ip: Option<IpAddr>,
        line: u64,
        sink: &mut impl EventSink,
    ) -> ConnState {
        self.finish(key, sink);
        let mut auth_failed = false;
        if let Some((o, _)) = self.conns.occupied(key) {
            // Only a trace is left (finish keeps no connection).
            auth_failed = failed_before(o.get(), kind, ip, line);
            o.remove();
            self.closed_count -= 1;
        }
        let fresh = ConnState {
            auth_failed,
            ..ConnState::default()
        };
        if self.open_connections() >= MAX_CONNS {
            self.end_silent_connections(sink);
        }
        fresh
    }

    /// Line of the oldest event still held back, if any. Every event of the
    /// lines before it has been passed to the sink: the store keeps events
    /// final only up to such a point.
    pub fn held_since(&self) -> Option<u64> {
        self.held.first().map(|s| s.ev.src.line)
    }

    /// Events held back now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    /// Year inference state (year and month of the last year-less line), so a
    /// read resumed in the middle of an input dates its lines as a full read would.
    pub fn year_state(&self) -> Option<(i32, u8)> {
        self.year.map(|y| (y, self.last_month))
    }

    /// Restores a state saved with [`Correlator::year_state`].
    pub fn set_year_state(&mut self, state: Option<(i32, u8)>) {
        if let Some((y, m)) = state {
            self.year = Some(y);
            self.last_month = m;
            // The cached instant was of the year state it replaces.
            self.civil_hour_len = 0;
        }
    }

    /// Sets the wall-clock time (µs) of the lines pushed next: live streams
    /// only, for [`Correlator::release_idle`].
    pub fn set_wall_clock(&mut self, micros: i64) {
        self.wall = micros;
    }

    /// Live streams: releases the held events of connections that had no line
    /// for `bound` µs of wall-clock time before `now` (µs; [`WALL_HOLD_SECS`] by
    /// default), as the end of a batch input would. Returns whether anything
    /// was released.
    pub fn release_idle(&mut self, now: i64, bound: i64, sink: &mut impl FnMut(Event)) -> bool {
        if self.held.is_empty() {
            return false;
        }
        let idle: Vec<ConnKey> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.held.is_empty() && now - c.last_wall >= bound)
            .map(|(k, _)| *k)
            .collect();
        let before = self.held.len();
        for k in idle {
            self.finish(k, sink);
        }
        self.held.len() != before
    }

    /// Releases every held event: call at the end of the input. They leave
    /// with what they have, as their connections' ends would release them,
    /// in the order of their lines (the oldest first) whatever connections
    /// hold them: a fixed order, not that of a walk of the connections.
    /// Then every connection ends (with nothing left to release).
    pub fn finish_all(&mut self, sink: &mut impl FnMut(Event)) {
        self.front_fresh = None;
        self.quiet_line = 0;
        let rest = std::mem::take(&mut self.held);
        for mut slot in rest.slots.into_iter().flatten() {
            if slot.undecided {
                slot.ev.attempts = slot.ev.count;
            }
            self.emit_or_drop(slot.ev, sink);
        }
        let keys: Vec<ConnKey> = self.conns.keys().copied().collect();
        for k in keys {
            self.finish(k, sink);
        }
    }

    /// Connections remembered now (tests, memory bounds).
    pub fn open_connections(&self) -> usize {
        self.conns.len() - self.closed_count
    }

    /// The open connection `key`, if any (not a [`TRACE`]).
    #[inline]
    fn open_conn(&self, key: ConnKey) -> Option<&ConnState> {
        self.conns.get(&key).filter(|c| !c.closed())
    }

    /// Ends the connections silent for more than [`STALE_LINES`] lines. At most
    /// that many connections saw a line since, so this leaves room for many
    /// more before it runs again: amortized, it costs nothing per line.
    fn end_silent_connections(&mut self, sink: &mut impl EventSink) {
        let line = self.line;
        let silent: Vec<ConnKey> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.closed() && line.saturating_sub(c.last_line) > STALE_LINES)
            .map(|(k, _)| *k)
            .collect();
        for k in silent {
            self.finish(k, sink);
        }
    }

    #[inline]
    fn emit_or_drop(&mut self, ev: Event, sink: &mut impl EventSink) {
        emit(self.opts.all, ev, sink);
    }

    /// The connection ended: held events leave with what they have; an
    /// undecided PAM failure is an attempt of its own.
    fn finish(&mut self, key: ConnKey, sink: &mut impl EventSink) {
        if let Some((o, silent)) = self.conns.occupied(key) {
            if !o.get().closed() {
                let conn = close_entry(o, self.line, &mut self.closed_count);
                if silent && conn.auth_failed {
                    // Its trace stays there: forgotten by key (the walks of
                    // `cool` see the recent ones only).
                    self.conns.silent_traces.push_back((key, self.line));
                }
                self.ended(conn, sink);
            }
        }
    }

    /// The rest of [`close_entry`]: the held events of the connection leave.
    #[inline(always)]
    fn ended(&mut self, conn: ConnState, sink: &mut impl EventSink) {
        // Nearly every connection ends holding nothing: no call then (issue #15).
        if conn.held.0.is_some() {
            self.release_conn(conn, sink);
        }
    }

    /// The held events of an ended connection leave with what they have.
    #[inline(never)]
    fn release_conn(&mut self, conn: ConnState, sink: &mut impl EventSink) {
        if !conn.held.is_empty() {
            let front = self.held.first_idx();
            for idx in conn.held.iter() {
                self.held.release(*idx, true, self.opts.all, sink);
            }
            if self.held.first_idx() != front {
                self.front_fresh = None;
                self.quiet_line = 0;
            }
        }
        conn.held.recycle(&mut self.spare_keys);
    }

    /// Whether the connection of a held event has been silent past the bounds.
    fn is_stale(&self, key: Option<ConnKey>) -> bool {
        self.conn_stale(key.and_then(|k| self.open_conn(k)))
    }

    /// [`Correlator::is_stale`] of the connection found (`None`: it ended).
    #[inline]
    fn conn_stale(&self, conn: Option<&ConnState>) -> bool {
        conn.is_none_or(|c| {
            self.line.saturating_sub(c.last_line) > STALE_LINES
                || self.clock.saturating_sub(c.last_ts) > HOLD_SECS * 1_000_000
        })
    }

    /// Until when (line, log clock) a connection that had a line at `line`
    /// and `ts` cannot be stale: [`Correlator::front_fresh`].
    #[inline]
    fn fresh_until(line: u64, ts: i64) -> (u64, i64) {
        (line + STALE_LINES, ts.saturating_add(HOLD_SECS * 1_000_000))
    }

    /// Releases held events past the bounds: the oldest on every line, all of
    /// them every [`SWEEP_LINES`] lines. Nothing to do while none is held or
    /// the oldest held one's connection is known fresh, until the next full
    /// sweep: that much is checked inline (issue #15: `sweep` 6.9M -> 3.0M Ir
    /// on 200k lines), as two compares with what [`Correlator::sweep_check`]
    /// found last.
    #[inline(always)]
    fn sweep(&mut self, sink: &mut impl EventSink) {
        if self.line < self.quiet_line && self.clock <= self.quiet_clock {
            // Under test, on every line: the full checks say the same.
            #[cfg(test)]
            assert!(self.rests(), "line {}", self.line);
            return;
        }
        self.sweep_check(sink);
    }

    /// The full checks of [`Correlator::sweep`]: nothing to do now.
    #[inline(always)]
    fn rests(&self) -> bool {
        let quiet = self.held.is_empty()
            || self.front_fresh.is_some_and(|(line, clock)| {
                self.line <= line && self.clock <= clock && self.held.span() <= MAX_HELD
            });
        quiet && self.line < self.next_sweep
    }

    /// [`Correlator::sweep`] in full, which then records until when it has
    /// nothing to do: while none is held, until the next full sweep; while
    /// the oldest held one's connection is fresh, until it may not be (or
    /// the next full sweep). Whatever may end that sooner clears it: an event
    /// held in an empty queue or past [`MAX_HELD`], and a reset of
    /// `front_fresh`.
    #[inline(never)]
    fn sweep_check(&mut self, sink: &mut impl EventSink) {
        self.sweep_now(sink);
        (self.quiet_line, self.quiet_clock) = if self.held.is_empty() {
            (self.next_sweep, i64::MAX)
        } else {
            match self.front_fresh {
                Some((line, clock)) if self.held.span() <= MAX_HELD => {
                    (line.saturating_add(1).min(self.next_sweep), clock)
                }
                _ => (0, i64::MIN),
            }
        };
    }

    #[inline(always)]
    fn sweep_now(&mut self, sink: &mut impl EventSink) {
        if self.rests() {
            return;
        }
        if self.held.is_empty() {
            self.next_sweep = self.line + SWEEP_LINES;
            return;
        }
        self.sweep_held(sink);
    }

    #[inline(never)]
    fn sweep_held(&mut self, sink: &mut impl EventSink) {
        let fresh = self.front_fresh.is_some_and(|(line, clock)| {
            self.line <= line && self.clock <= clock && self.held.span() <= MAX_HELD
        });
        while let Some(front) = self.held.first().filter(|_| !fresh) {
            let key = front.key;
            // One look-up of its connection for both questions.
            let conn = key.and_then(|k| self.open_conn(k));
            if !(self.conn_stale(conn) || self.held.span() > MAX_HELD) {
                self.front_fresh = conn.map(|c| Self::fresh_until(c.last_line, c.last_ts));
                break;
            }
            self.release_slot_conn(key, sink);
        }
        if self.line >= self.next_sweep {
            self.next_sweep = self.line + SWEEP_LINES;
            let mut stale: Vec<ConnKey> = self
                .held
                .values()
                .filter_map(|s| s.key)
                .filter(|k| self.is_stale(Some(*k)))
                .collect();
            stale.dedup();
            for k in stale {
                self.finish(k, sink);
            }
        }
    }

    /// Ends the connection of a held event (or, without one, releases the oldest held event).
    fn release_slot_conn(&mut self, key: Option<ConnKey>, sink: &mut impl EventSink) {
        match key {
            Some(k) if self.open_conn(k).is_some() => self.finish(k, sink),
            _ => {
                self.front_fresh = None;
                self.quiet_line = 0;
                if let Some(idx) = self.held.first_idx() {
                    self.held.release(idx, true, self.opts.all, sink);
                }
            }
        }
    }

    #[inline]
    fn intern(&mut self, host: &Arc<str>) -> u32 {
        // Where `hosts` still holds this very `Arc` (so its address was not
        // reused), that is the answer: names in `hosts` differ.
        for &i in &self.recent_hosts {
            if self
                .hosts
                .get(i as usize)
                .is_some_and(|h| Arc::ptr_eq(h, host))
            {
                return i;
            }
        }
        let i = self.intern_slow(host);
        put_first(&mut self.recent_hosts, i);
        i
    }

    #[cold]
    fn intern_slow(&mut self, host: &Arc<str>) -> u32 {
        // A block's lines share one `Arc` per host name: the pointer nearly
        // always tells, with no string compared.
        if let Some(i) = self.hosts.iter().rposition(|h| Arc::ptr_eq(h, host)) {
            return i as u32;
        }
        if let Some(i) = self.hosts.iter().rposition(|h| **h == **host) {
            // The next block's `Arc` for the same name: keep it for its lines.
            self.hosts[i] = host.clone();
            return i as u32;
        }
        if self.hosts.len() >= 4096 {
            // Hostile input with endless host names: stop interning, share one slot.
            self.hosts.truncate(4095);
        }
        self.hosts.push(host.clone());
        (self.hosts.len() - 1) as u32
    }

    /// Turns a line's stamp into an instant: year inference and `--tz` for
    /// syslog, the previous line's time for lines that carry none.
    #[inline]
    fn resolve(&mut self, stamp: Stamp) -> Ts {
        // Syslog's stamps, nearly every line's, tested first.
        let ts = if let Stamp::Civil {
            year,
            month,
            day,
            sod,
            micros,
        } = stamp
        {
            let since = sod.wrapping_sub(self.civil_hour_sod);
            if since < self.civil_hour_len && (year, month, day) == self.civil_day {
                // The same day and year state give the same year and day
                // number, and leave the state as it is (`infer_year` of the
                // month it last saw); the same local hour, the same offset.
                self.civil_in_hour(since, micros)
            } else {
                self.resolve_civil(year, month, day, sod, micros)
            }
        } else if let Stamp::Abs { micros, offset } = stamp {
            Ts::from_micros(micros, offset)
        } else {
            self.last_ts
        };
        self.last_ts = ts;
        ts
    }

    /// The instant `since` seconds and `micros` µs after the start of the
    /// cached local hour ([`Correlator::civil_day`]).
    #[inline(always)]
    fn civil_in_hour(&self, since: u32, micros: u32) -> Ts {
        Ts::from_micros(
            self.civil_hour_micros + i64::from(since) * 1_000_000 + i64::from(micros),
            self.civil_offset,
        )
    }

    /// The general conversion of a civil stamp, whose local hour it caches.
    #[inline(never)]
    fn resolve_civil(
        &mut self,
        year: Option<i32>,
        month: u8,
        day: u8,
        sod: u32,
        micros: u32,
    ) -> Ts {
        self.civil_day = (year, month, day);
        let year = match year {
            Some(y) => y,
            None => self.infer_year(month, day, sod),
        };
        let days = days_from_civil(i64::from(year), u32::from(month), u32::from(day));
        let local_secs = days * 86_400 + i64::from(sod);
        let offset = self.offset_for_local(local_secs);
        // The hour's first second: `days * 86_400` is whole hours, so this is
        // the local hour `offset_for_local` keyed its offset by.
        let since = sod % 3600;
        self.civil_hour_sod = sod - since;
        self.civil_hour_len = 3600;
        self.civil_hour_micros = (local_secs - i64::from(since) - i64::from(offset)) * 1_000_000;
        self.civil_offset = offset;
        self.civil_in_hour(since, micros)
    }

    fn infer_year(&mut self, month: u8, day: u8, sod: u32) -> i32 {
        match self.year {
            None => {
                let r = self.opts.reference;
                let local = r.micros.div_euclid(1_000_000) + i64::from(r.offset);
                let (ry, rm, rd) = crate::event::civil_from_days(local.div_euclid(86_400));
                let y = match self.opts.year {
                    Some(y) => y,
                    None => {
                        let ref_sod = local.rem_euclid(86_400) as u32;
                        // A line stamped after the reference belongs to the year before.
                        if (u32::from(month), u32::from(day), sod) > (rm, rd, ref_sod + 3600) {
                            ry as i32 - 1
                        } else {
                            ry as i32
                        }
                    }
                };
                self.year = Some(y);
                self.last_month = month;
                y
            }
            Some(y) => {
                if month == 12 && self.last_month == 1 {
                    // Syslog wrote a December line a moment after January's
                    // first ones: it belongs to the old year, and the lines
                    // after it stay in the new one.
                    return y - 1;
                }
                let y = if month + 6 <= self.last_month {
                    y + 1
                } else {
                    y
                };
                self.year = Some(y);
                self.last_month = month;
                y
            }
        }
    }

    /// The zone's offset at a local wall-clock time, cached per local hour.
    fn offset_for_local(&mut self, local_secs: i64) -> i32 {
        let hour = local_secs.div_euclid(3600);
        if let Some((h, off)) = self.tz_cache {
            if h == hour {
                return off;
            }
        }
        let off_at = |secs: i64| -> i32 {
            jiff::Timestamp::from_second(secs)
                .map(|t| self.opts.tz.to_offset(t).seconds())
                .unwrap_or(0)
        };
        let guess = off_at(local_secs);
        let off = off_at(local_secs - i64::from(guess));
        self.tz_cache = Some((hour, off));
        off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_line;
    use std::collections::{BTreeMap, HashSet};

    fn run(lines: &[&str], opts: Options) -> Vec<Event> {
        let mut c = Correlator::new("t".into(), opts.clone());
        let mut out = Vec::new();
        let text = lines.join("\n");
        for raw in crate::parse::parse_block(text.as_bytes(), 1, opts.all).lines {
            c.push(raw, &mut |e| out.push(e));
        }
        c.finish_all(&mut |e| out.push(e));
        out
    }

    fn utc_ref(y: i64, m: u32, d: u32) -> Options {
        Options {
            reference: Ts::from_micros(days_from_civil(y, m, d) * 86_400 * 1_000_000, 0),
            ..Options::default()
        }
    }

    /// [`Correlator::resolve`] of generated stamps gives what the general
    /// conversion of each gives, and leaves the same year state.
    fn resolve_like_plain(
        cached: &mut Correlator,
        plain: &mut Correlator,
        next: &mut impl FnMut() -> u64,
    ) {
        let (mut month, mut day, mut sod) = (1u8, 1u8, 0u32);
        for i in 0..50_000u32 {
            let r = next();
            match r % 16 {
                0 => month = (r >> 8) as u8 % 12 + 1,
                // Days past a month's end too: DST changes on the last Sunday.
                1 => day = (r >> 8) as u8 % 31 + 1,
                2..=6 => sod = (sod + 1) % 86_400,
                // Another hour, before or after, or the edges of one.
                7 => sod = (r >> 8) as u32 % 86_400,
                8 => sod = ((r >> 8) as u32 % 24 * 3600 + 3599 + (r >> 40) as u32 % 2) % 86_400,
                _ => {}
            }
            let year = (r % 89 == 0).then(|| 2020 + (r >> 16) as i32 % 8);
            let micros = if r % 3 == 0 {
                (r >> 24) as u32 % 1_000_000
            } else {
                0
            };
            if i % 7_919 == 7_918 {
                let state = Some((2000 + (r >> 32) as i32 % 30, (r >> 40) as u8 % 12 + 1));
                cached.set_year_state(state);
                plain.set_year_state(state);
            }
            let stamp = Stamp::Civil {
                year,
                month,
                day,
                sod,
                micros,
            };
            let got = cached.resolve(stamp);
            // The full conversion, every time.
            let want = plain.resolve_civil(year, month, day, sod, micros);
            assert_eq!(got, want, "line {i}: {stamp:?}");
            assert_eq!(cached.year_state(), plain.year_state(), "line {i}");
            // Its local time of day is the stamp's.
            let local = want.micros + i64::from(want.offset) * 1_000_000;
            assert_eq!(
                local.rem_euclid(86_400_000_000),
                i64::from(sod) * 1_000_000 + i64::from(micros),
                "line {i}: {stamp:?}"
            );
        }
    }

    /// The caches of `resolve`, `intern` and `Programs::get` give the general
    /// answers, on generated interleavings (issue #15: they replaced look-ups
    /// done on every line).
    #[test]
    fn caches_give_the_general_answers() {
        let mut next = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        // Stamps: mostly the same second or the next, month jumps both ways
        // (year inference and its rollovers), some with a year, a year state
        // set from outside now and then; in UTC, and in a zone whose offset
        // changes (its hours of DST changes are hit now and then).
        let mut paris = utc_ref(2026, 3, 1);
        paris.tz = TimeZone::get("Europe/Paris").unwrap();
        for opts in [utc_ref(2026, 3, 1), paris] {
            let mut cached = Correlator::new("t".into(), opts.clone());
            let mut plain = Correlator::new("t".into(), opts);
            resolve_like_plain(&mut cached, &mut plain, &mut next);
        }
        let mut cached = Correlator::new("t".into(), utc_ref(2026, 3, 1));

        // Hosts: a few names, a new `Arc` of each name now and then (the next
        // block's), interleaved at random.
        let names = ["web1", "bastion", "db", "h", "mail.example.org"];
        let mut arcs: Vec<Arc<str>> = names.iter().map(|n| Arc::from(*n)).collect();
        let mut ids: Vec<Option<u32>> = vec![None; names.len()];
        let mut seen = 0;
        for _ in 0..50_000 {
            let r = next();
            let n = (r % names.len() as u64) as usize;
            if (r >> 8) % 61 == 0 {
                arcs[n] = Arc::from(names[n]);
            }
            let id = cached.intern(&arcs[n]);
            let want = *ids[n].get_or_insert_with(|| {
                seen += 1;
                seen - 1
            });
            assert_eq!(id, want, "{}", names[n]);
            assert!(Arc::ptr_eq(&cached.hosts[id as usize], &arcs[n]));
        }

        // Programs: one `Arc` per program, of its name.
        let progs = Program::ALL;
        let mut first: Vec<Option<Arc<str>>> = vec![None; progs.len()];
        for _ in 0..20_000 {
            let n = (next() % progs.len() as u64) as usize;
            let p = cached.shared.programs.get(progs[n]);
            assert_eq!(&*p, progs[n].as_str());
            let f = first[n].get_or_insert_with(|| p.clone());
            assert!(Arc::ptr_eq(f, &p));
        }
    }

    #[test]
    fn connections_that_never_close_do_not_pile_up() {
        // A `serve` flood: every line from a new pid, no close line ever.
        let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
        let mut n = 0u64;
        let total = 3 * MAX_CONNS as u64;
        for i in 0..total {
            let l = format!(
                "Feb 12 04:09:20 h sshd[{}]: Failed password for root from 192.0.2.1 port 5 ssh2",
                1000 + i
            );
            let raw = crate::parse::parse_line(l.as_bytes(), i + 1, false)
                .unwrap()
                .unwrap();
            c.push(raw, &mut |_| n += 1);
            assert!(c.open_connections() <= MAX_CONNS);
            // Those silent for long leave the map of recent ones, which stays small.
            assert!(c.conns.recent.len() <= RECENT_CONNS);
            // The traces of those ended at the bound leave too.
            assert!(c.conns.len() <= 2 * MAX_CONNS);
        }
        c.finish_all(&mut |_| n += 1);
        assert_eq!(n, total, "every line still gives its event");
    }

    /// A pid whose connections fail and close one after another leaves one
    /// trace, taken by the next connection each time: the keys kept to find
    /// the traces stay bounded too (a `serve` run may see this for weeks).
    #[test]
    fn keys_of_traces_taken_again_stay_bounded() {
        let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
        let mut evs = Vec::new();
        let mut line = 0;
        for i in 0..20_000 {
            let head = format!("Mar  7 18:53:21 h sshd[{}]:", 100 + i % 3);
            for l in [
                format!("{head} Failed password for root from 192.0.2.7 port 5 ssh2"),
                format!("{head} Connection closed by authenticating user root 192.0.2.7 port 5 [preauth]"),
            ] {
                line += 1;
                let raw = parse_line(l.as_bytes(), line, false).unwrap().unwrap();
                c.push(raw, &mut |e| evs.push(e));
            }
            assert!(c.conns.silent_traces.is_empty());
            assert_eq!(c.conns.len(), 3.min(i + 1));
        }
        let failures = evs.iter().filter(|e| e.kind == Kind::AuthFailure).count();
        assert_eq!(failures, 20_000);
    }

    /// Connections closed after a failure leave a [`TRACE`] in the connection
    /// map for the PAM summary that follows the close: many of them stay
    /// bounded (those of the last [`TRACE_LINES`] lines), are not counted as
    /// connections, and every summary right after its close is still known
    /// as the failure's (issue #15: they replaced a map of their own).
    #[test]
    fn traces_of_failed_connections_stay_bounded() {
        traces_stay_bounded_among(0);
    }

    /// [`traces_of_failed_connections_stay_bounded`] in maps that hold many
    /// more connections than traces, most of them silent.
    #[test]
    fn traces_stay_bounded_among_many_open_connections() {
        traces_stay_bounded_among(24_576);
    }

    fn traces_stay_bounded_among(idle: usize) {
        let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
        let mut evs = Vec::new();
        let mut line = 0;
        let mut push = |c: &mut Correlator, evs: &mut Vec<Event>, l: String| {
            line += 1;
            let raw = crate::parse::parse_line(l.as_bytes(), line, false)
                .unwrap()
                .unwrap();
            c.push(raw, &mut |e| evs.push(e));
        };
        // Connections whose close never comes (pids apart from the others').
        for i in 0..idle {
            let l = format!(
                "Mar  7 18:53:20 h sshd[{}]: Invalid user u from 192.0.2.9 port 7",
                900_000 + i
            );
            push(&mut c, &mut evs, l);
        }
        let total = 12_388;
        let mut summaries = 0;
        for i in 0..total {
            let pid = 10_000 + i;
            let ip = format!("192.0.2.{}", i % 200 + 1);
            let head = format!("Mar  7 18:53:21 h sshd[{pid}]:");
            let failed = format!("{head} Failed password for root from {ip} port 5 ssh2");
            push(&mut c, &mut evs, failed);
            let close = format!("{head} Connection closed by authenticating user root {ip} port 5");
            push(&mut c, &mut evs, close + " [preauth]");
            if i % 4 == 0 {
                summaries += 1;
                let pam = format!("{head} PAM 1 more authentication failure; logname= uid=0");
                let pam = pam + &format!(" euid=0 tty=ssh ruser= rhost={ip}  user=root");
                push(&mut c, &mut evs, pam);
            }
            if idle > 0 && i % 64 != 0 && i + 1 != total {
                continue;
            }
            let traces = c.conns.values().filter(|s| s.closed()).count();
            assert_eq!(traces, c.closed_count);
            if i % 256 == 0 {
                // Those among the silent ones are found by their keys.
                let keys: HashSet<ConnKey> = c.conns.silent_traces.iter().map(|t| t.0).collect();
                assert!(c
                    .conns
                    .silent
                    .iter()
                    .all(|(k, s)| !s.closed() || keys.contains(k)));
            }
            // No more than the map of recent ones holds.
            assert!(traces <= c.conns.cap);
            assert_eq!(c.open_connections(), c.conns.len() - traces);
            // The connections of the summaries stay open (no close line came).
            assert_eq!(c.open_connections(), idle + summaries);
        }
        // A summary long after its close counts as an attempt of its own.
        let late = "Mar  7 18:53:22 h sshd[10001]: PAM 1 more authentication failure; logname= \
                    uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2  user=root";
        push(&mut c, &mut evs, late.into());
        c.finish_all(&mut |e| evs.push(e));
        let pam: Vec<u32> = evs
            .iter()
            .filter(|e| e.kind == Kind::PamFailure)
            .map(|e| e.attempts)
            .collect();
        assert_eq!(pam.len(), summaries + 1);
        assert!(pam[..summaries].iter().all(|&a| a == 0));
        assert_eq!(pam[summaries], 1);
        assert_eq!(c.open_connections(), 0);
    }

    /// The queue of held events answers as the `BTreeMap` it replaced, on
    /// generated arrivals and departures (issue #15).
    #[test]
    fn held_queue_answers_as_a_btree_map() {
        let line = "Feb 12 04:09:20 h sshd[7]: Failed password for root from 192.0.2.1 port 5 ssh2";
        let base = run(&[line], utc_ref(2026, 3, 1)).remove(0);
        let slot = |n: u64| {
            let mut ev = base.clone();
            ev.src.line = n;
            ev.count = 7;
            Slot {
                ev,
                need_ip: n % 2 == 0,
                undecided: n % 3 == 0,
                key: Some((n as u32, 1)),
            }
        };
        // Releases `idx` into a list, or by a closure, as its connection
        // ended: its line, and whether it left as an attempt of its own.
        let mut ways = 0;
        let mut release = |held: &mut Held, idx: u64| {
            let mut out = Vec::new();
            ways += 1;
            if ways % 2 == 0 {
                held.release(idx, true, false, &mut out);
            } else {
                held.release(idx, true, false, &mut |e| out.push(e));
            }
            assert!(out.len() <= 1);
            out.pop().map(|e| (e.src.line, e.attempts == e.count))
        };
        let mut rnd = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let mut held = Held::default();
        let mut model: BTreeMap<u64, u64> = BTreeMap::new();
        let mut next = 0u64;
        for step in 0..200_000 {
            let r = rnd();
            let far = (r >> 16) % (next + 2);
            // Mostly one of the last few numbered, as events leave soon.
            let near = next.saturating_sub(1 + (r >> 24) % 16);
            match r % 8 {
                0..=2 => {
                    held.push(next, slot(next));
                    model.insert(next, next);
                    next += 1;
                }
                3 | 4 => {
                    let idx = if r & 0x100 == 0 { near } else { far };
                    let undecided = held.get(idx).is_some_and(|s| s.undecided);
                    let got = release(&mut held, idx);
                    assert_eq!(
                        got,
                        model.remove(&idx).map(|n| (n, undecided)),
                        "step {step}"
                    );
                }
                5 => {
                    let got = held.first_idx().and_then(|idx| release(&mut held, idx));
                    let want = model.pop_first().map(|(n, _)| (n, n % 3 == 0));
                    assert_eq!(got, want, "step {step}");
                }
                _ => {
                    let idx = if r & 0x100 == 0 { near } else { far };
                    let got = held.get(idx).map(|s| s.ev.src.line);
                    assert_eq!(got, model.get(&idx).copied(), "step {step}");
                    let want = held.get(idx).map(|s| (s.need_ip, s.undecided, s.key));
                    let got = held.get_mut(idx).map(|s| (s.need_ip, s.undecided, s.key));
                    assert_eq!(got, want);
                }
            }
            assert_eq!(held.len(), model.len());
            assert_eq!(held.is_empty(), model.is_empty());
            let first = held.first().map(|s| s.ev.src.line);
            assert_eq!(first, model.first_key_value().map(|(_, v)| *v));
            assert!(held.span() >= held.len());
            // Nothing that left is kept before the oldest still held.
            assert_eq!(
                held.span() as u64,
                model.first_key_value().map_or(0, |(k, _)| next - k)
            );
            if step % 997 == 0 {
                assert!(held
                    .values()
                    .map(|s| s.ev.src.line)
                    .eq(model.values().copied()));
            }
        }
    }

    #[test]
    fn no_ip_line_gets_the_address_of_a_later_close() {
        let evs = run(
            &[
                "Feb 12 04:09:21 h sshd[26713]: Disconnecting: Too many authentication failures for root [preauth]",
                "Feb 12 04:09:21 h sshd[26713]: Connection closed by 61.0.0.1 [preauth]",
            ],
            utc_ref(2026, 3, 1),
        );
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].kind, Kind::TooManyFailures);
        assert_eq!(evs[0].ip.unwrap().to_string(), "61.0.0.1");
        assert_eq!(evs[0].user.as_deref(), Some("root"));
        assert_eq!(evs[1].kind, Kind::PreauthClose);
    }

    #[test]
    fn binding_is_dropped_when_the_connection_closes() {
        let evs = run(
            &[
                "Feb 12 04:09:20 h sshd[7]: Failed password for root from 192.0.2.1 port 5 ssh2",
                "Feb 12 04:09:21 h sshd[7]: Connection closed by authenticating user root 192.0.2.1 port 5 [preauth]",
                "Feb 12 04:10:00 h sshd[7]: error: kex_exchange_identification: Connection closed by remote host",
                "Feb 12 04:10:00 h sshd[7]: Connection closed by 198.51.100.9 port 7",
            ],
            utc_ref(2026, 3, 1),
        );
        let bad = evs.iter().find(|e| e.kind == Kind::BadProtocol).unwrap();
        assert_eq!(bad.ip.unwrap().to_string(), "198.51.100.9");
        assert_eq!(bad.attempts, 1);
    }

    #[test]
    fn pam_failure_reported_by_auth_failure_is_not_an_attempt() {
        let evs = run(
            &[
                "Mar  7 18:53:20 bar sshd[1556]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.113  user=rda",
                "Mar  7 18:53:22 bar sshd[1556]: Failed password for rda from 192.0.2.113 port 4 ssh2",
                "Mar  7 18:53:25 bar sshd[1556]: Failed password for rda from 192.0.2.113 port 4 ssh2",
                "Mar  7 18:53:26 bar sshd[1556]: PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.113  user=rda",
                "Mar  7 18:53:27 bar sshd[1556]: Connection closed by authenticating user rda 192.0.2.113 port 4 [preauth]",
                // A connection whose only trace is PAM: that one counts.
                "Mar  7 18:54:20 bar sshd[1600]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.114  user=x",
                "Mar  7 18:54:27 bar sshd[1600]: Connection closed by 192.0.2.114 port 9 [preauth]",
            ],
            utc_ref(2026, 3, 10),
        );
        let kinds: Vec<_> = evs.iter().map(|e| (e.kind, e.attempts)).collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::PamFailure, 0),
                (Kind::AuthFailure, 1),
                (Kind::AuthFailure, 1),
                (Kind::PamFailure, 0),
                (Kind::PreauthClose, 0),
                (Kind::PamFailure, 1),
                (Kind::PreauthClose, 0),
            ]
        );
        // Here in input order: each held line is decided by the next line of its connection.
        let lines: Vec<u64> = evs.iter().map(|e| e.src.line).collect();
        assert_eq!(lines, vec![1, 2, 3, 4, 5, 6, 7]);
    }

    #[test]
    fn refusal_reported_by_auth_failure_is_not_an_attempt() {
        let evs = run(
            &[
                "Nov 23 13:50:16 vm sshd[26632]: User daemon from 192.0.2.5 not allowed because listed in DenyUsers",
                "Nov 23 13:50:18 vm sshd[26632]: Failed password for invalid user daemon from 192.0.2.5 port 45858 ssh2",
                "Nov 23 13:50:18 vm sshd[26632]: Connection closed by invalid user daemon 192.0.2.5 port 45858 [preauth]",
                // Refused and gone without a password: that refusal is the attempt.
                "Nov 23 13:51:16 vm sshd[26700]: User daemon from 192.0.2.6 not allowed because listed in DenyUsers",
                "Nov 23 13:51:18 vm sshd[26700]: Connection closed by invalid user daemon 192.0.2.6 port 45860 [preauth]",
            ],
            utc_ref(2026, 11, 24),
        );
        let got: Vec<_> = evs.iter().map(|e| (e.kind, e.attempts)).collect();
        assert_eq!(
            got,
            vec![
                (Kind::Refused, 0),
                (Kind::AuthFailure, 1),
                (Kind::PreauthClose, 0),
                (Kind::Refused, 1),
                (Kind::PreauthClose, 0)
            ]
        );
    }

    #[test]
    fn too_many_failures_counted_once_per_connection() {
        let evs = run(
            &[
                "Nov 23 21:50:38 myhost sshd[109798]: error: maximum authentication attempts exceeded for invalid user xxx from 192.0.2.7 port 49941 ssh2 [preauth]",
                "Nov 23 21:50:38 myhost sshd[109798]: Disconnecting invalid user xxx 192.0.2.7 port 49941: Too many authentication failures [preauth]",
            ],
            utc_ref(2026, 11, 24),
        );
        assert_eq!(
            evs.iter()
                .filter(|e| e.kind == Kind::TooManyFailures)
                .count(),
            1
        );
    }

    #[test]
    fn year_inference_from_reference_and_december_rollover() {
        let evs = run(
            &[
                "Dec 31 23:59:59 h sshd[1]: Invalid user a from 192.0.2.1 port 1",
                "Jan  1 00:00:01 h sshd[2]: Invalid user b from 192.0.2.2 port 2",
            ],
            utc_ref(2026, 1, 2),
        );
        assert_eq!(evs[0].ts.to_rfc3339(), "2025-12-31T23:59:59+00:00");
        assert_eq!(evs[1].ts.to_rfc3339(), "2026-01-01T00:00:01+00:00");
        let mut o = utc_ref(2026, 1, 2);
        o.year = Some(2019);
        let evs = run(
            &["Mar  1 10:00:00 h sshd[1]: Invalid user a from 192.0.2.1 port 1"],
            o,
        );
        assert_eq!(evs[0].ts.to_rfc3339(), "2019-03-01T10:00:00+00:00");
    }

    #[test]
    fn tz_applies_to_zoneless_stamps_with_dst() {
        let mut o = utc_ref(2026, 12, 1);
        o.tz = TimeZone::get("Europe/Paris").unwrap();
        let evs = run(
            &[
                "Jul  1 12:00:00 h sshd[1]: Invalid user a from 192.0.2.1 port 1",
                "Nov 23 12:00:00 h sshd[2]: Invalid user b from 192.0.2.2 port 2",
            ],
            o,
        );
        assert_eq!(evs[0].ts.to_rfc3339(), "2026-07-01T12:00:00+02:00");
        assert_eq!(evs[0].ts.unix_secs() % 86_400, 10 * 3600);
        assert_eq!(evs[1].ts.to_rfc3339(), "2026-11-23T12:00:00+01:00");
    }

    #[test]
    fn repeated_messages_carry_their_count() {
        let evs = run(
            &[
                "Dec 10 06:55:48 LabSZ sshd[24200]: message repeated 5 times: [ Failed password for root from 5.36.59.76 port 42393 ssh2]",
                "Feb 22 10:21:42 h sshd[1332]: Failed password for root from 192.0.2.9 port 4 ssh2",
                "Feb 22 10:21:43  sshd[1332]: last message repeated 2 times",
            ],
            utc_ref(2026, 3, 1),
        );
        assert_eq!((evs[0].count, evs[0].attempts), (5, 5));
        assert_eq!(evs.len(), 3);
        assert_eq!((evs[2].count, evs[2].attempts, evs[2].src.line), (2, 2, 3));
    }

    #[test]
    fn a_held_event_is_released_when_stale() {
        let mut lines = vec!["Feb 12 04:09:21 h sshd[1]: Disconnecting: Too many authentication failures for root [preauth]".to_string()];
        for i in 0..(STALE_LINES + 10) {
            lines.push(format!(
                "Feb 12 04:09:22 h sshd[9]: Invalid user u{i} from 192.0.2.1 port 1"
            ));
        }
        let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            if let Ok(Some(raw)) = parse_line(l.as_bytes(), (i + 1) as u64, false) {
                c.push(raw, &mut |e| out.push(e));
            }
        }
        assert_eq!(
            out.len(),
            lines.len(),
            "every line gave its event before the end"
        );
        let held = out.iter().find(|e| e.src.line == 1).unwrap();
        assert_eq!(held.kind, Kind::TooManyFailures);
        assert_eq!(held.ip, None);
        assert_eq!(c.held_since(), None);
    }

    /// Regression (live map stalled for good): an address-less line whose
    /// connection never logs again held back every later line of every connection.
    #[test]
    fn an_orphan_line_never_holds_up_other_connections() {
        let lines = [
            "Dec  4 20:42:01 h sshd[100]: Failed password for root from 192.0.2.1 port 1 ssh2",
            "Dec  4 20:42:02 h sshd[101]: error: kex_exchange_identification: Connection closed by remote host",
            "Dec  4 20:42:03 h sshd[102]: Failed password for root from 192.0.2.2 port 2 ssh2",
            "Dec  4 20:42:04 h sshd[103]: Failed password for root from 192.0.2.3 port 3 ssh2",
        ];
        let mut c = Correlator::new("t".into(), utc_ref(2026, 12, 5));
        let mut out = Vec::new();
        c.set_wall_clock(1_000_000);
        for (i, l) in lines.iter().enumerate() {
            let raw = parse_line(l.as_bytes(), i as u64 + 1, false)
                .unwrap()
                .unwrap();
            c.push(raw, &mut |e| out.push(e));
        }
        let got: Vec<u64> = out.iter().map(|e| e.src.line).collect();
        assert_eq!(
            got,
            vec![1, 3, 4],
            "the other connections' events left at once"
        );
        assert_eq!((c.held(), c.held_since()), (1, Some(2)));
        // Not yet: the connection has been silent for less than the wall-clock bound.
        assert!(!c.release_idle(
            1_000_000 + (WALL_HOLD_SECS - 1) * 1_000_000,
            WALL_HOLD_SECS * 1_000_000,
            &mut |e| out.push(e)
        ));
        assert!(c.release_idle(
            1_000_000 + WALL_HOLD_SECS * 1_000_000,
            WALL_HOLD_SECS * 1_000_000,
            &mut |e| out.push(e)
        ));
        assert_eq!(out.len(), 4);
        assert_eq!(
            (out[3].src.line, out[3].kind, out[3].ip),
            (2, Kind::BadProtocol, None)
        );
        assert_eq!(c.held(), 0);
    }

    /// At the end of the input the held events leave in the order of their
    /// lines, whatever connections hold them (not in the order of a walk of
    /// the connections).
    #[test]
    fn held_events_leave_in_line_order_at_the_end() {
        let mut lines = Vec::new();
        // Address-less lines of many connections, no close: all held to the end.
        for i in 0..200u32 {
            let pid = 90_000 - i * 37 % 1000 * 7;
            lines.push(format!(
                "Feb 12 04:09:{:02} h{} sshd[{pid}]: error: kex_exchange_identification: Connection closed by remote host",
                i % 60,
                i % 3
            ));
        }
        let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let raw = parse_line(l.as_bytes(), i as u64 + 1, false)
                .unwrap()
                .unwrap();
            c.push(raw, &mut |e| out.push(e));
        }
        assert!(out.is_empty());
        c.finish_all(&mut |e| out.push(e));
        let got: Vec<u64> = out.iter().map(|e| e.src.line).collect();
        assert_eq!(got, (1..=200).collect::<Vec<u64>>());
        assert_eq!((c.held(), c.open_connections()), (0, 0));

        // Generated logs: what is held at the end leaves in line order.
        let mut many = 0;
        for seed in 1..=8u64 {
            let text = generated_log(seed * 0x2545_f491, 3_000);
            let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
            for raw in crate::parse::parse_block(text.as_bytes(), 1, false).lines {
                c.push(raw, &mut |_| {});
            }
            let mut end = Vec::new();
            c.finish_all(&mut |e| end.push(e.src.line));
            assert!(end.windows(2).all(|w| w[0] < w[1]), "seed {seed}: {end:?}");
            many += usize::from(end.len() > 1);
        }
        assert!(many > 0, "some logs end with several held events");
    }

    /// Pushes `lines` one by one: line 1's event (held) must have left after
    /// line `leaves_after` and not before.
    fn line_1_leaves_after(lines: &[&str], leaves_after: usize) {
        let mut c = Correlator::new("t".into(), utc_ref(2026, 3, 1));
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let raw = parse_line(l.as_bytes(), i as u64 + 1, false)
                .unwrap()
                .unwrap();
            c.push(raw, &mut |e| out.push(e));
            let released = out.iter().any(|e| e.src.line == 1);
            assert_eq!(released, i + 1 >= leaves_after, "after line {}", i + 1);
        }
    }

    /// A connection whose clock goes back goes stale sooner: the sweep's
    /// shortcut (the oldest held connection known fresh until a time) must
    /// not keep its event past that.
    #[test]
    fn a_held_event_leaves_on_time_when_its_connection_clock_goes_back() {
        line_1_leaves_after(
            &[
                "Feb 12 04:00:00 h sshd[1]: error: kex_exchange_identification: Connection closed by remote host",
                "Feb 12 04:01:00 h sshd[2]: Invalid user a from 192.0.2.1 port 1",
                "Feb 12 03:59:00 h sshd[1]: error: kex_exchange_identification: Connection closed by remote host",
                "Feb 12 04:01:00 h sshd[3]: Invalid user b from 192.0.2.2 port 2",
                "Feb 12 04:01:30 h sshd[4]: Invalid user c from 192.0.2.3 port 3",
            ],
            5,
        );
    }

    #[test]
    fn a_held_event_leaves_when_its_connection_is_silent_on_the_log_clock() {
        line_1_leaves_after(
            &[
                "Feb 12 04:00:00 h sshd[1]: error: kex_exchange_identification: Connection closed by remote host",
                "Feb 12 04:01:00 h sshd[2]: Invalid user a from 192.0.2.1 port 1",
                "Feb 12 04:02:01 h sshd[3]: Invalid user b from 192.0.2.2 port 2",
            ],
            3,
        );
    }

    /// A generated log for the differential tests: a few hosts, pids that
    /// collide and are reused, lines of every kind the correlator treats
    /// apart (held, absorbed, closing, probes, named hosts, logouts, `message
    /// repeated`, `last message repeated`, lines without a pid), a clock that
    /// mostly goes on, sometimes stands, jumps or goes back, and now and then
    /// a line of hostile bytes.
    fn generated_log(seed: u64, lines: usize) -> String {
        let mut rnd = crate::testing::xorshift(seed);
        let hosts = ["web1", "db", "bastion"];
        let progs = ["sshd", "sshd", "sshd-session", "CRON"];
        // The last one is longer than a `Text` keeps inline.
        let users = [
            "root",
            "admin",
            "a b",
            "",
            "x]: y",
            "a-name-of-forty-bytes-0123456789abcdefgh",
        ];
        let mut secs: i64 = 40 * 86_400;
        let mut out = String::new();
        for _ in 0..lines {
            let r = rnd();
            match r % 64 {
                0 => secs -= (r >> 8) as i64 % 300,
                1 => secs += (r >> 8) as i64 % 400,
                2..=30 => secs += 1,
                _ => {}
            }
            let ip = match (r >> 12) % 8 {
                0 => "2001:db8::7".to_string(),
                n => format!("192.0.2.{}", n * 3 + (r >> 40) % 3),
            };
            let port = 1000 + (r >> 20) % 5;
            let u = users[((r >> 24) % users.len() as u64) as usize];
            let msg = match (r >> 28) % 31 {
                0 | 1 => format!("Failed password for {u} from {ip} port {port} ssh2"),
                2 => format!("Failed password for invalid user {u} from {ip} port {port} ssh2"),
                3 => format!("Accepted password for {u} from {ip} port {port} ssh2"),
                4 => format!("Invalid user {u} from {ip} port {port}"),
                5 | 6 => format!("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}"),
                7 => "pam_unix(sshd:auth): check pass; user unknown".to_string(),
                8 => format!("PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={u}"),
                9 | 10 => format!("Connection closed by {ip} port {port} [preauth]"),
                11 => format!("Connection closed by authenticating user {u} {ip} port {port} [preauth]"),
                12 => format!("Disconnecting: Too many authentication failures for {u} [preauth]"),
                13 => format!("error: maximum authentication attempts exceeded for {u} from {ip} port {port} ssh2 [preauth]"),
                14 => format!("Disconnecting invalid user {u} {ip} port {port}: Too many authentication failures [preauth]"),
                15 => "error: kex_exchange_identification: Connection closed by remote host".to_string(),
                16 => format!("banner exchange: Connection from {ip} port {port}: invalid format"),
                17 => format!("Received disconnect from {ip} port {port}:11: Bye Bye [preauth]"),
                18 => format!("Disconnected from user {u} {ip} port {port}"),
                19 => format!("Connection closed by {ip} port {port}"),
                20 => "Read from socket failed: Connection reset by peer".to_string(),
                21 => "Unable to negotiate a key exchange method".to_string(),
                22 => format!("User {u} from {ip} not allowed because listed in DenyUsers"),
                23 => format!("User {u} from example.com not allowed because not in any group"),
                24 => format!("Connection from {ip} port {port} on 10.0.0.1 port 22"),
                25 => format!("message repeated 3 times: [ Failed password for {u} from {ip} port {port} ssh2]"),
                26 => "last message repeated 2 times".to_string(),
                27 => format!("pam_unix(sshd:session): session opened for user {u}(uid=1000) by (uid=0)"),
                28 => format!("Unable to negotiate with {ip} port {port}: no matching key exchange method found."),
                29 => "Server listening on 0.0.0.0 port 22.".to_string(),
                _ => String::from_utf8_lossy(&(r ^ rnd()).to_le_bytes()).into_owned(),
            };
            let host = hosts[((r >> 34) % 3) as usize];
            let prog = progs[((r >> 36) % 4) as usize];
            // Few pids, so that connections meet and pids are reused.
            let pid = 100 + (r >> 44) % 40;
            let day = secs.div_euclid(86_400);
            let (_, m, d) = crate::event::civil_from_days(day);
            let month = [
                "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
            ][m as usize - 1];
            let sod = secs.rem_euclid(86_400);
            let stamp = format!(
                "{month} {d:2} {:02}:{:02}:{:02}",
                sod / 3600,
                sod / 60 % 60,
                sod % 60
            );
            if (r >> 50) % 29 == 0 {
                out.push_str(&format!("{stamp} {host} {prog}: {msg}\n"));
            } else {
                out.push_str(&format!("{stamp} {host} {prog}[{pid}]: {msg}\n"));
            }
        }
        out
    }

    /// Events a closure takes, one line at a time ([`Correlator::push`]).
    fn events_one_by_one(text: &str, opts: &Options) -> Vec<Event> {
        events_with_conns(text, opts, Conns::default()).0
    }

    /// [`events_one_by_one`] with the connection maps `conns`; also returns
    /// how many lines found entries in the silent map.
    fn events_with_conns(text: &str, opts: &Options, conns: Conns) -> (Vec<Event>, usize) {
        let mut c = Correlator::new("t".into(), opts.clone());
        c.conns = conns;
        let mut out = Vec::new();
        let mut silent = 0;
        for raw in crate::parse::parse_block(text.as_bytes(), 1, opts.all).lines {
            silent += usize::from(!c.conns.silent.is_empty());
            c.push(raw, &mut |e| out.push(e));
        }
        c.finish_all(&mut |e| out.push(e));
        (out, silent)
    }

    /// Where a connection's entry lives, among the recent or the silent
    /// ones, changes nothing the correlator decides: the same events, in the
    /// same order, whether entries never move or move all the time, with
    /// pids reused, traces, held events and connections that come back from
    /// the silent map (issue #15).
    #[test]
    fn silent_connections_decide_as_recent_ones() {
        for seed in 1..=8u64 {
            let text = generated_log(seed * 0x5851_f42d, 6_000);
            for all in [false, true] {
                let opts = Options {
                    all,
                    ..utc_ref(2026, 3, 1)
                };
                let never = Conns {
                    cap: usize::MAX,
                    ..Conns::default()
                };
                let (want, none) = events_with_conns(&text, &opts, never);
                assert_eq!(none, 0);
                for (cap, silence) in [(1, 0), (2, 1), (8, 5), (40, 30)] {
                    let conns = Conns {
                        cap,
                        silence,
                        ..Conns::default()
                    };
                    let (got, silent) = events_with_conns(&text, &opts, conns);
                    assert!(silent > 1_000, "seed {seed}, cap {cap}: {silent}");
                    assert_eq!(got.len(), want.len(), "seed {seed}, cap {cap}");
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert_eq!(g, w, "seed {seed}, all {all}, cap {cap}, event {i}");
                    }
                }
            }
        }
    }

    /// [`Correlator::push_lines`] builds the events in the list itself
    /// ([`EventSink::put_with`], unsafe): the same events as a closure
    /// takes, on generated logs cut into runs at random places (issue #15).
    #[test]
    fn events_built_in_the_list_are_those_passed_on() {
        let mut ways = [false; 4];
        let mut unkept = 0;
        for seed in 1..=12u64 {
            let text = generated_log(seed * 0x9e37_79b9, 4_000);
            for all in [false, true] {
                let opts = Options {
                    all,
                    ..utc_ref(2026, 3, 1)
                };
                let want = events_one_by_one(&text, &opts);
                // The logs take the correlator's rare ways too.
                for (i, e) in want.iter().enumerate() {
                    let absorbed = e.kind == Kind::PamFailure && e.attempts == 0;
                    ways[0] |= absorbed;
                    ways[1] |= e.kind == Kind::PamFailure && !absorbed;
                    ways[2] |= e.kind == Kind::BadProtocol && e.ip.is_none();
                    ways[3] |= i > 0 && want[i - 1].src.line > e.src.line;
                }
                let mut lines = crate::parse::parse_block(text.as_bytes(), 1, all).lines;
                let mut c = Correlator::new("t".into(), opts.clone());
                let mut got = Vec::new();
                let mut rnd = crate::testing::xorshift(seed);
                let mut rest = &mut lines[..];
                while !rest.is_empty() {
                    // Runs of any length, as the flow's blocks cut them.
                    let cut = ((rnd() % 64) as usize).min(rest.len());
                    let (run, tail) = rest.split_at_mut(cut);
                    let mut run = run;
                    while !run.is_empty() {
                        let before = got.len();
                        let n = c.push_lines(run, &mut got);
                        // The lines taken own nothing (the flow forgets them
                        // without a drop), those without an event too.
                        for line in &run[..n] {
                            assert!(line.owns_nothing(), "seed {seed}: {}", line.line);
                        }
                        unkept += n.saturating_sub(got.len() - before);
                        let Some((repeat, more)) = run[n..].split_first_mut() else {
                            break;
                        };
                        assert!(repeat.msg.repeat_last.is_some());
                        c.push_mut(repeat, &mut |e| got.push(e));
                        run = more;
                    }
                    rest = tail;
                }
                c.finish_all(&mut |e| got.push(e));
                assert!(want.len() > 1_000, "seed {seed}: {} events", want.len());
                assert_eq!(got.len(), want.len(), "seed {seed}, all {all}");
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(g, w, "seed {seed}, all {all}, event {i}");
                }
            }
        }
        assert_eq!(ways, [true; 4], "absorbed, counted, no address, held");
        assert!(unkept > 1_000, "{unkept} lines taken without an event");
    }
}
