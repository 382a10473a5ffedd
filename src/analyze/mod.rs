//! Analyze: the one aggregate every view's numbers come from.
//!
//! [`Aggregate`] is a flow sink ([`crate::flow::Sink`]) fed one event at a
//! time; memory grows with distinct addresses, users, hours (and, where a view
//! asks for them, time bins), never with lines. `stats` prints its
//! [`Summary`] (the `stats --json` object of DESIGN §1); `map` and `chart`
//! draw projections of it (`render::map::MapData::from(&agg)`); `report` and
//! the live page build their snapshot from it; `timelapse` takes its time
//! bins. So the numbers the views show cannot disagree: one definition of an
//! attempt, of `unique_ips` and of `countries` (addresses, and their
//! countries, with at least one attempt), written once here.
//!
//! Each view asks for what it needs in [`AggregateOptions`]: time bins
//! (`timelapse`), the report's per-address details, another measure than
//! attack attempts (`map`/`chart --kind`). What it does not ask for costs
//! nothing.

pub(crate) mod bins;
pub(crate) mod table;

use std::collections::{BTreeMap, VecDeque};

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::event::{ip_string, Event, Geo, Kind, Src, Ts};
use crate::flow::InputReport;
use crate::geo::{Enricher, RecordPair};

pub use bins::{Bin, BinOptions, Countries, Names, TimeBins, MAX_NAMES};

/// What the aggregate counts beyond the totals every view shares.
#[derive(Clone, Debug, Default)]
pub struct AggregateOptions {
    /// The measure: `None` counts attack attempts (DESIGN §2); `Some(kinds)`
    /// counts events of these kinds instead, each worth its `count`
    /// (`map`/`chart --kind`). Every "attempts" number then means this measure.
    pub kinds: Option<Vec<Kind>>,
    /// Time bins of the measure (`timelapse`).
    pub bins: Option<BinOptions>,
    /// The report's details: five-minute series (overall, per address,
    /// country, user and network), the users and sessions of each address and
    /// what came before each login.
    pub details: bool,
}

/// Width of the report's time series, in seconds.
pub const SERIES_BIN: i64 = 300;
/// Details kept per address (report).
const SESSIONS_PER_IP: usize = 8;
const USERS_PER_IP: usize = 24;
const USERS_PER_SESSION: usize = 4;
const FAILURES_KEPT: usize = 10;
/// Sessions of its address kept with each login (those just before it).
const SESSIONS_AT_LOGIN: usize = 4;
/// A honeypot's passwords and commands (Cowrie), with details: characters
/// kept of each, and at most this many characters of commands per login (the
/// report stays a few megabytes whatever an attacker pastes).
pub const PASSWORD_CHARS: usize = 128;
pub const COMMAND_CHARS: usize = 512;
pub const COMMAND_CHARS_PER_LOGIN: usize = 2048;

/// Attacker text cut to `max` characters (`…` marks a cut).
fn clip(s: &str, max: usize) -> Box<str> {
    match s.char_indices().nth(max) {
        None => s.into(),
        Some((i, _)) => format!("{}…", &s[..i]).into(),
    }
}

/// Whether two events of one address came on the same connection: the same
/// sshd pid or, for servers that log no pid (Cowrie), the same source port,
/// within an hour. (pid, source port, Unix seconds) of each.
fn same_conn(a: (Option<u32>, Option<u16>, i64), b: (Option<u32>, Option<u16>, i64)) -> bool {
    const GAP: i64 = 3600;
    let near = (a.2 - b.2).abs() < GAP;
    near && match (a.0, b.0) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.1.is_some() && a.1 == b.1,
        _ => false,
    }
}

/// One bin of a time series: (bin, a, b).
pub type Cell = (i64, u64, u64);
/// A time series kept in arrival order; runs of one bin merged.
pub type Series = Vec<Cell>;

fn bump(series: &mut Series, bin: i64, a: u64, b: u64) {
    match series.last_mut() {
        Some(last) if last.0 == bin => {
            last.1 += a;
            last.2 += b;
        }
        _ => series.push((bin, a, b)),
    }
}

/// One source address.
pub struct IpAgg {
    pub attempts: u64,
    pub events: u64,
    /// Where it is, as its first located event said.
    pub geo: Option<Arc<Geo>>,
    /// Unix seconds of its first and last event.
    pub first: i64,
    pub last: i64,
    /// With [`AggregateOptions::details`].
    pub detail: Option<Box<IpDetail>>,
}

impl IpAgg {
    pub fn country(&self) -> Option<&Arc<str>> {
        self.geo.as_ref().and_then(|g| g.country.as_ref())
    }
}

/// What the report shows of an address beyond its totals.
#[derive(Default)]
pub struct IpDetail {
    /// (series bin, attempts, events).
    pub series: Series,
    /// (user id, attempts), at most [`USERS_PER_IP`]; `more_users` says more were tried.
    pub users: Vec<(u32, u64)>,
    pub more_users: bool,
    /// Its last attempts.
    pub recent: VecDeque<Failure>,
    /// Its last sessions (connections: one pid, or with no pid one source
    /// port, on one host).
    pub sessions: VecDeque<Session>,
    pub successes: u32,
}

#[derive(Clone, Debug)]
pub struct Failure {
    pub secs: i64,
    /// User id, or [`NO_USER`].
    pub user: u32,
    pub kind: Kind,
    /// The connection it came on (pid, or source port when there is no pid).
    pub pid: Option<u32>,
    pub port: Option<u16>,
    /// A honeypot's record of the password tried, cut to [`PASSWORD_CHARS`].
    pub password: Option<Box<str>>,
}

#[derive(Clone, Debug)]
pub struct Session {
    pub pid: Option<u32>,
    pub host: Option<Arc<str>>,
    pub port: Option<u16>,
    pub start: i64,
    pub end: i64,
    pub attempts: u64,
    /// User ids.
    pub users: Vec<u32>,
    /// Bit `kind as u32` set for each kind seen.
    pub kinds: u32,
}

/// A user id for events without a user name.
pub const NO_USER: u32 = u32::MAX;

/// A user name, with the measure counted on it.
pub struct UserAgg {
    pub name: String,
    pub attempts: u64,
    /// With details: (series bin, attempts, 0).
    pub series: Series,
}

#[derive(Default)]
pub struct CountryAgg {
    pub name: Option<Arc<str>>,
    pub attempts: u64,
    pub events: u64,
    /// With details: (series bin, attempts, events).
    pub series: Series,
}

/// Countries by ISO code ([`Aggregate::countries`]): a map from the code to
/// a place in a list, and a small cache from the address of the code's
/// interned `Arc` (the locator hands out one per country) to that place, so
/// the per-event update neither hashes nor compares the code. Iteration order
/// is the map's: the same as a `HashMap<Arc<str>, CountryAgg>` filled with
/// the same codes in the same order.
#[derive(Default)]
pub struct CountryMap {
    index: HashMap<Arc<str>, u32>,
    list: Vec<(Arc<str>, CountryAgg)>,
    /// Slot by the code's address → place in `list` + 1 (0: empty). A hit
    /// requires the very `Arc` kept in `list`, alive as long as `self`, so an
    /// address can never stand for another code.
    recent: [u32; 32],
}

impl CountryMap {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, code: &str) -> Option<&CountryAgg> {
        self.index.get(code).map(|&i| &self.list[i as usize].1)
    }

    /// (code, aggregate), in the map's order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<str>, &CountryAgg)> {
        self.index
            .iter()
            .map(|(c, &i)| (c, &self.list[i as usize].1))
    }

    pub fn values(&self) -> impl Iterator<Item = &CountryAgg> {
        self.list.iter().map(|(_, a)| a)
    }

    fn slot(code: &Arc<str>) -> usize {
        (Arc::as_ptr(code) as *const u8 as usize >> 4) & 31
    }

    /// Inlined: once an event, and a call cost a third of it (issue #15).
    #[inline(always)]
    fn entry(&mut self, code: &Arc<str>) -> &mut CountryAgg {
        let i = self.place(code);
        &mut self.list[i].1
    }

    /// The place of `code` in the list, made (with nothing counted) if new.
    #[inline(always)]
    fn place(&mut self, code: &Arc<str>) -> usize {
        let slot = Self::slot(code);
        let hit = self.recent[slot].wrapping_sub(1) as usize;
        if hit < self.list.len() && Arc::ptr_eq(&self.list[hit].0, code) {
            return hit;
        }
        let i = match self.index.get(&**code) {
            Some(&i) => i as usize,
            None => {
                let i = self.list.len();
                self.index.insert(code.clone(), i as u32);
                self.list.push((code.clone(), CountryAgg::default()));
                i
            }
        };
        if Arc::ptr_eq(&self.list[i].0, code) {
            self.recent[slot] = i as u32 + 1;
        }
        i
    }
}

impl std::ops::Index<&str> for CountryMap {
    type Output = CountryAgg;

    fn index(&self, code: &str) -> &CountryAgg {
        self.get(code).expect("no such country")
    }
}

/// Slots of [`Aggregate::user_id`]'s cache (a power of two).
const USER_SLOTS: usize = 256;

/// A key for a user name, and its slot: cheap, and names that share a key
/// only share a slot (the cache checks the name). A name of up to 7 bytes
/// has its length in the key's top byte and its bytes below (those of 4 to
/// 7 bytes as they are, from two overlapping word loads; of 1 to 3 the
/// first, middle and last), so the key stands for the whole name: two such
/// names with one key are one name. Longer names have `0xff` on top, so a
/// short name never takes a long one's key, and their first eight bytes
/// below. Loads where a loop over the bytes was a third of [`Aggregate::user_id`]
/// (issue #15: with `user_id` inlined, `Out::flush` 53.2M -> 48.2M Ir on 200k
/// lines). (The key it replaces, `len * 256^len + bytes`, let an 8-byte name
/// starting with NULs take a short name's key.)
#[inline(always)]
fn user_key(u: &str) -> (u64, usize) {
    let b = u.as_bytes();
    let n = b.len();
    let word = |i: usize| u64::from(u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]));
    let h = if n >= 8 {
        word(0) | word(4) << 32 | 0xff << 56
    } else if n >= 4 {
        word(0) | word(n - 4) << ((n - 4) * 8) | (n as u64) << 56
    } else if n > 0 {
        u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16 | (n as u64) << 56
    } else {
        0
    };
    let slot = (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize & (USER_SLOTS - 1);
    (h, slot)
}

/// Slots of [`IpMap`]'s cache (a power of two): 64 KiB, about twice the
/// addresses of a day of a busy server's log (issue #15: 4,096 slots missed
/// one event in thirteen on 200k lines, 7,768 addresses).
const IP_SLOTS: usize = 16384;

/// Each address, its aggregate and, fed by [`Aggregate::add_enriching`], the
/// geo the enricher gave it (`None` until asked).
type IpEntry = (IpAddr, IpAgg, Option<Placed>);

/// The geo the enricher gave an address, asked once an address, and what
/// each of its events then counts on without reading the geo: the places of
/// its country in [`Aggregate::countries`] and of its ASN in
/// [`Aggregate::asns`].
#[derive(Clone)]
struct Placed {
    geo: Option<Arc<Geo>>,
    /// The place of its country in the [`CountryMap`]'s list + 1; 0: none.
    country: u32,
    /// The place of its ASN in the [`AsnMap`]'s list + 1; 0: none.
    asn: u32,
}

impl Placed {
    /// An address with no answer to look up.
    const NOWHERE: Placed = Placed {
        geo: None,
        country: 0,
        asn: 0,
    };
}

/// Addresses ([`Aggregate::ips`]): a map from the address to a place in a
/// list, and a direct-mapped cache of [`IP_SLOTS`] from a multiplicative hash
/// of the address to that place: most events find their address in the cache
/// without a hash-table probe. Iteration order is the map's: the same as a
/// `HashMap<IpAddr, IpAgg>` filled with the same addresses in the same order.
pub struct IpMap {
    index: HashMap<IpAddr, u32>,
    list: Vec<IpEntry>,
    recent: Box<[IpSlot; IP_SLOTS]>,
}

/// One slot of [`IpMap`]'s cache. An IPv4 address's slot keeps its bits
/// and its place in the list + 1: a hit is told by the slot alone, with no
/// read of the list's entry and its tag (issue #15). An IPv6 address's slot
/// keeps its place + 1 with [`V6_SLOT`] set, checked against the address
/// in the list. `place` 0: empty. A slot is written only with the address
/// at that place (the list never shrinks), so a hit is that address.
#[derive(Clone, Copy, Default)]
struct IpSlot {
    v4: u32,
    place: u32,
}

/// [`IpSlot::place`]'s mark of an IPv6 address; places at or above it are
/// not cached.
const V6_SLOT: u32 = 1 << 31;

impl Default for IpMap {
    fn default() -> Self {
        IpMap {
            index: HashMap::default(),
            list: Vec::new(),
            recent: vec![IpSlot::default(); IP_SLOTS]
                .into_boxed_slice()
                .try_into()
                .unwrap_or_else(|_| unreachable!("IP_SLOTS slots")),
        }
    }
}

impl IpMap {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub fn get(&self, ip: &IpAddr) -> Option<&IpAgg> {
        self.index.get(ip).map(|&i| &self.list[i as usize].1)
    }

    /// (address, aggregate), in the map's order.
    pub fn iter(&self) -> impl Iterator<Item = (&IpAddr, &IpAgg)> {
        self.index
            .iter()
            .map(|(ip, &i)| (ip, &self.list[i as usize].1))
    }

    pub fn values(&self) -> impl Iterator<Item = &IpAgg> {
        self.list.iter().map(|(_, a, _)| a)
    }

    /// The bits an IPv4 address's slot keeps: its octets as they lie in
    /// memory (no byte swap; any fixed order tells addresses apart).
    #[inline(always)]
    fn v4_key(a: &std::net::Ipv4Addr) -> u32 {
        u32::from_ne_bytes(a.octets())
    }

    #[inline(always)]
    fn slot(ip: &IpAddr) -> usize {
        let h = match ip {
            IpAddr::V4(a) => u64::from(Self::v4_key(a)),
            IpAddr::V6(a) => {
                let x = u128::from(*a);
                (x as u64) ^ ((x >> 64) as u64).rotate_left(17)
            }
        };
        (h.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 50) as usize & (IP_SLOTS - 1)
    }

    #[cfg(test)]
    fn entry_with(&mut self, ip: IpAddr, make: impl FnOnce() -> IpAgg) -> &mut IpAgg {
        let i = self.index_with(&ip, make);
        &mut self.list[i].1
    }

    /// The entry at `i` without a bounds check: once an event (issue #15).
    ///
    /// # Safety
    /// `i` is a place [`IpMap::index_with`] gave in this map: an index of
    /// its list, which never shrinks.
    #[inline(always)]
    unsafe fn entry_unchecked(&mut self, i: usize) -> &mut IpEntry {
        debug_assert!(i < self.list.len());
        // SAFETY: in bounds (the caller's contract).
        unsafe { self.list.get_unchecked_mut(i) }
    }

    /// The geo kept with the address at `i` ([`Placed`]).
    fn geo_at(&self, i: usize) -> Option<&Arc<Geo>> {
        self.list[i].2.as_ref().and_then(|p| p.geo.as_ref())
    }

    /// The place of `ip` in the list, made with `make` if new.
    /// Inlined: once an event, and a call cost a third of it (issue #15).
    #[inline(always)]
    fn index_with(&mut self, ip: &IpAddr, make: impl FnOnce() -> IpAgg) -> usize {
        let slot = Self::slot(ip);
        let s = self.recent[slot];
        match ip {
            IpAddr::V4(a) => {
                // `place` in 1..V6_SLOT: an IPv4 address's.
                if s.v4 == Self::v4_key(a) && s.place.wrapping_sub(1) < V6_SLOT - 1 {
                    return s.place as usize - 1;
                }
            }
            IpAddr::V6(_) => {
                let i = (s.place & !V6_SLOT).wrapping_sub(1) as usize;
                if s.place & V6_SLOT != 0 && i < self.list.len() && self.list[i].0 == *ip {
                    return i;
                }
            }
        }
        self.index_missed(*ip, slot, make)
    }

    /// [`IpMap::index_with`] of an address not in its slot: not inlined, as
    /// nine in ten are. One probe of the map, new address or not (issue #15:
    /// with 16,384 slots, 12,405 -> 9,383 misses and `Out::flush` 45.1M ->
    /// 44.7M Ir on 200k lines).
    #[inline(never)]
    fn index_missed(&mut self, ip: IpAddr, slot: usize, make: impl FnOnce() -> IpAgg) -> usize {
        // One probe of the map whether the address is new or not.
        let next = self.list.len();
        let i = *self.index.entry(ip).or_insert(next as u32) as usize;
        if i == next {
            self.list.push((ip, make(), None));
        }
        let place = i as u32 + 1;
        if place < V6_SLOT {
            self.recent[slot] = match ip {
                IpAddr::V4(a) => IpSlot {
                    v4: Self::v4_key(&a),
                    place,
                },
                IpAddr::V6(_) => IpSlot {
                    v4: 0,
                    place: place | V6_SLOT,
                },
            };
        }
        i
    }
}

#[derive(Default)]
pub struct AsnAgg {
    pub org: Option<Arc<str>>,
    pub attempts: u64,
    /// With details: (series bin, attempts, events).
    pub series: Series,
}

/// ASNs ([`Aggregate::asns`]): a map from the number to a place in a list.
/// An address's events count on its ASN's place, found when the address is
/// placed ([`Placed`]): no probe of the map an event (issue #15). Iteration
/// order is the map's: the same as a `HashMap<u32, AsnAgg>` filled with the
/// same numbers in the same order.
#[derive(Default)]
pub struct AsnMap {
    index: HashMap<u32, u32>,
    list: Vec<AsnAgg>,
}

impl AsnMap {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// (number, aggregate), in the map's order.
    pub fn iter(&self) -> AsnIter<'_> {
        AsnIter {
            index: self.index.iter(),
            list: &self.list,
        }
    }

    /// The place of `asn` in the list, made (with nothing counted) if new.
    fn place(&mut self, asn: u32) -> usize {
        let next = self.list.len();
        let i = *self.index.entry(asn).or_insert(next as u32) as usize;
        if i == next {
            self.list.push(AsnAgg::default());
        }
        i
    }
}

/// [`AsnMap::iter`].
pub struct AsnIter<'a> {
    index: std::collections::hash_map::Iter<'a, u32, u32>,
    list: &'a [AsnAgg],
}

impl<'a> Iterator for AsnIter<'a> {
    type Item = (&'a u32, &'a AsnAgg);

    fn next(&mut self) -> Option<Self::Item> {
        self.index
            .next()
            .map(|(asn, &i)| (asn, &self.list[i as usize]))
    }
}

impl<'a> IntoIterator for &'a AsnMap {
    type Item = (&'a u32, &'a AsnAgg);
    type IntoIter = AsnIter<'a>;

    fn into_iter(self) -> AsnIter<'a> {
        self.iter()
    }
}

/// A successful login and what came before it.
pub struct Login {
    pub ts: Ts,
    pub ip: Option<IpAddr>,
    pub user: Option<String>,
    pub method: Option<String>,
    pub country: Option<Arc<str>>,
    /// Attack attempts from this address before the login.
    pub failures_from_ip: u64,
    /// Attack attempts on this user name (from any address) before the login.
    pub failures_for_user: u64,
    /// The user had logged in before, never from this country.
    pub new_country: bool,
    /// With details: the address's last attempts and sessions at the login
    /// (its own session included when earlier lines of it were seen).
    pub recent: Vec<Failure>,
    pub sessions: Vec<Session>,
    /// With details, a honeypot's passwords tried on this login's connection,
    /// in order, the last the one that got in: (user id, password).
    pub passwords: Vec<(u32, Box<str>)>,
    /// With details, the commands typed after the login (Unix seconds, text),
    /// within [`COMMAND_CHARS_PER_LOGIN`], and how many more were typed.
    pub commands: Vec<(i64, Box<str>)>,
    command_chars: usize,
    pub commands_more: u64,
}

impl Login {
    /// After failures from its address or for its user, or from a new country.
    pub fn suspicious(&self) -> bool {
        self.failures_from_ip > 0 || self.failures_for_user > 0 || self.new_country
    }

    fn success(&self) -> Success {
        Success {
            ts: self.ts.to_rfc3339(),
            user: self.user.clone(),
            ip: self.ip.map(ip_string),
            method: self.method.clone(),
            country: self.country.clone(),
            failures_from_ip: self.failures_from_ip,
            failures_for_user: self.failures_for_user,
            new_country: self.new_country,
        }
    }
}

/// The report's overall series (with details).
#[derive(Default)]
struct Totals {
    /// (series bin, attempts, events).
    all: Series,
    /// (series bin, logins, 0).
    logins: Series,
}

/// The hour being counted by [`Aggregate::add_list_enriching`], and the
/// time stamp of the events being counted in it. An event adds its totals to
/// its hour's, folded into the aggregate once an hour ([`Aggregate::fold`]),
/// not once a stamp: half the events start a stamp of their own on 200k
/// lines, and a new stamp in the same hour now costs its second and its
/// bounds only.
struct Run {
    /// The stamp and its Unix second.
    ts: Ts,
    secs: i64,
    /// The hour (Unix hours), its first second, its first µs (where an
    /// `i64` holds it), and the hour of the day in the log's offset.
    hour: i64,
    hour_start: i64,
    hour_micros: Option<i64>,
    hod: usize,
    /// The hour's totals so far.
    events: u64,
    attempts: u64,
    /// `attempts` when the stamp began: the stamp has an attempt when
    /// `attempts` has grown since.
    stamp_from: u64,
}

impl Run {
    fn at(ts: Ts, offset: i32) -> Run {
        let secs = ts.unix_secs();
        let hour = secs.div_euclid(3600);
        Run {
            ts,
            secs,
            hour,
            hour_start: hour * 3600,
            hour_micros: (hour * 3600).checked_mul(1_000_000),
            hod: (secs + i64::from(offset)).rem_euclid(86_400) as usize / 3600,
            events: 0,
            attempts: 0,
            stamp_from: 0,
        }
    }

    /// Moves on to the stamp `ts` when it is in the same hour (most are)
    /// and a local hour starts where a UTC one does (`whole_hours`: an
    /// offset of whole hours); `false`, nothing changed, otherwise. Its
    /// second comes from its µs into the hour, `d`, with no signed division
    /// (issue #15): `hour_micros` is a multiple of 10^6, so with `d` in
    /// 0..3600·10^6 (exact: the subtraction is checked) the second is
    /// `hour_start + d / 10^6`.
    #[inline(always)]
    fn same_hour(&mut self, ts: Ts, whole_hours: bool) -> bool {
        match self.hour_micros.and_then(|h| ts.micros.checked_sub(h)) {
            Some(d) if whole_hours && (0..3_600_000_000).contains(&d) => {
                self.ts = ts;
                self.secs = self.hour_start + (d as u64 / 1_000_000) as i64;
                self.stamp_from = self.attempts;
                true
            }
            _ => false,
        }
    }

    /// Whether the stamp being counted has an attempt (the measure).
    fn stamp_attempted(&self) -> bool {
        self.attempts != self.stamp_from
    }
}

/// The earliest and the latest of some stamps of a list, kept while it is
/// counted and folded into the aggregate's bounds after: `lo <= hi` always
/// (both start at the first stamp), so a stamp after `hi` (most are) needs
/// no comparison with `lo`.
#[derive(Clone, Copy)]
struct Span {
    lo: Ts,
    hi: Ts,
}

impl Span {
    fn at(ts: Ts) -> Span {
        Span { lo: ts, hi: ts }
    }

    #[inline(always)]
    fn add(&mut self, ts: Ts) {
        if later(ts, self.hi) {
            self.hi = ts;
        } else if later(self.lo, ts) {
            self.lo = ts;
        }
    }
}

/// `span` widened to `ts` (made of it when there is none).
#[inline(always)]
fn widen(span: &mut Option<Span>, ts: Ts) {
    match span {
        Some(s) => s.add(ts),
        None => *span = Some(Span::at(ts)),
    }
}

/// `a > b` in `Ts`'s order (µs, then offset), the offsets compared only
/// where the µs are equal: the derived order compared both and merged
/// them, nine instructions a comparison (issue #15).
#[inline(always)]
fn later(a: Ts, b: Ts) -> bool {
    a.micros > b.micros || (a.micros == b.micros && a.offset > b.offset)
}

/// The aggregate of a flow of events: see the module's documentation.
pub struct Aggregate {
    kinds: Option<Vec<Kind>>,
    /// Time of the first and the last event, and of the first and the last
    /// with an attempt (the measure); the bounds of [`NEVER`] while there is none.
    from: Ts,
    to: Ts,
    attempts_from: Ts,
    attempts_to: Ts,
    events: u64,
    attempts: u64,
    by_kind: [u64; Kind::ALL.len()],
    ips: IpMap,
    user_index: HashMap<String, u32>,
    /// Slot by [`user_slot`] → user id + 1 (0: empty).
    recent_users: [u32; USER_SLOTS],
    /// The [`user_key`] of each slot's name.
    recent_user_keys: [u64; USER_SLOTS],
    users: Vec<UserAgg>,
    countries: CountryMap,
    asns: AsnMap,
    /// What [`Aggregate::place`] made of each answer, by where it lies.
    placings: HashMap<RecordPair, Placed>,
    /// Unix hour → (attempts, events).
    hours: BTreeMap<i64, (u64, u64)>,
    hour_of_day: [u64; 24],
    /// The hour being counted: (unix hour, attempts, events), folded into `hours` on change.
    hour_run: Option<(i64, u64, u64)>,
    /// The last event's time and (Unix second, hour, series bin, hour of the
    /// day in `offset`), which depend on nothing but its µs (`offset` is set once).
    time_memo: Option<(Ts, (i64, i64, i64, usize))>,
    /// Logins that came after failures or from a new country, and the others,
    /// each capped at [`MAX_SUCCESSES`] (so a day of routine logins cannot
    /// crowd out one after a brute force); `successes_total` counts them all.
    suspicious: Vec<Login>,
    ordinary: Vec<Login>,
    successes_total: u64,
    suspicious_total: u64,
    /// Countries each user id has logged in from (for "new country for the user").
    /// Each with its [`user_key`]: a code of up to 7 bytes (every ISO code)
    /// is told from another by the key alone, with no `memcmp` call (issue
    /// #15: `add_login` 2.24M -> 1.56M Ir on 200k lines).
    login_countries: HashMap<u32, Vec<(u64, Arc<str>)>>,
    /// With details, the kept login of each pid-less connection (address,
    /// source port): where its commands go. (suspicious list?, index); at
    /// most one entry per kept login.
    login_conns: HashMap<(IpAddr, u16), (bool, usize)>,
    /// Offset of the first event, used to show hours in the log's own zone.
    offset: i32,
    details: Option<Totals>,
    bins: Option<TimeBins>,
}

/// The totals of an aggregate (see [`Summary`] for what each means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub events: u64,
    pub attempts: u64,
    pub unique_ips: u64,
    pub countries: u64,
    pub addresses: u64,
}

/// A successful login (shown because it is what intrusion alerts are about).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Success {
    pub ts: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub method: Option<String>,
    /// The login's, shared (issue #15: a copy per login was an allocation).
    pub country: Option<Arc<str>>,
    /// Attack attempts from this address before the login.
    pub failures_from_ip: u64,
    /// Attack attempts on this user name (from any address) before the login.
    pub failures_for_user: u64,
    /// The user had logged in before, never from this country.
    pub new_country: bool,
}

impl Success {
    /// After failures from its address or for its user, or from a new country.
    pub fn suspicious(&self) -> bool {
        self.failures_from_ip > 0 || self.failures_for_user > 0 || self.new_country
    }
}

/// The bounds a time span starts from: any event is after the first and before the second.
const NEVER: (Ts, Ts) = (
    Ts {
        micros: i64::MAX,
        offset: i32::MAX,
    },
    Ts {
        micros: i64::MIN,
        offset: i32::MIN,
    },
);

/// Keep at most this many successful logins of each class (suspicious, ordinary).
pub const MAX_SUCCESSES: usize = 1000;

impl Default for Aggregate {
    fn default() -> Self {
        Aggregate::new(AggregateOptions::default())
    }
}

impl Aggregate {
    pub fn new(opts: AggregateOptions) -> Aggregate {
        Aggregate {
            kinds: opts.kinds,
            from: NEVER.0,
            to: NEVER.1,
            attempts_from: NEVER.0,
            attempts_to: NEVER.1,
            events: 0,
            attempts: 0,
            by_kind: [0; Kind::ALL.len()],
            ips: IpMap::default(),
            user_index: HashMap::default(),
            recent_users: [0; USER_SLOTS],
            recent_user_keys: [0; USER_SLOTS],
            users: Vec::new(),
            countries: CountryMap::default(),
            asns: AsnMap::default(),
            placings: HashMap::default(),
            hours: BTreeMap::new(),
            hour_of_day: [0; 24],
            hour_run: None,
            time_memo: None,
            suspicious: Vec::new(),
            ordinary: Vec::new(),
            successes_total: 0,
            suspicious_total: 0,
            login_countries: HashMap::default(),
            login_conns: HashMap::default(),
            offset: 0,
            details: opts.details.then(Totals::default),
            bins: opts.bins.map(TimeBins::new),
        }
    }

    /// What `ev` is worth in the measure (attack attempts unless `kinds` says otherwise).
    fn measure(&self, ev: &Event) -> u64 {
        match &self.kinds {
            None => u64::from(ev.attempts),
            Some(k) if k.contains(&ev.kind) => u64::from(ev.count.max(1)),
            Some(_) => 0,
        }
    }

    /// The id of a user name, numbered in order of first sight. A
    /// direct-mapped cache of recent names (checked against the name kept
    /// with the id) answers most look-ups without hashing the name and
    /// probing the map (issue #15: `user_id` 7.6M -> 6.7M Ir on 200k lines).
    /// Each slot keeps the name's [`user_key`] too: a name of up to 7 bytes
    /// with the slot's key is the slot's name, with no `memcmp` call (issue
    /// #15: `user_id` and its `memcmp` 6.6M -> 4.7M Ir on 200k lines).
    /// Inlined, the rest ([`Aggregate::user_id_miss`]) not: a call cost a
    /// third of a hit (issue #15).
    #[inline(always)]
    fn user_id(&mut self, u: &str) -> u32 {
        let (key, slot) = user_key(u);
        let hit = self.recent_users[slot].wrapping_sub(1) as usize;
        if hit < self.users.len()
            && self.recent_user_keys[slot] == key
            && (u.len() < 8 || self.users[hit].name == u)
        {
            return hit as u32;
        }
        self.user_id_miss(u, key, slot)
    }

    /// [`Aggregate::user_id`] of a name not in its slot.
    #[inline(never)]
    fn user_id_miss(&mut self, u: &str, key: u64, slot: usize) -> u32 {
        let id = match self.user_index.get(u) {
            Some(&id) => id,
            None => {
                let id = self.users.len() as u32;
                self.user_index.insert(u.to_string(), id);
                self.users.push(UserAgg {
                    name: u.to_string(),
                    attempts: 0,
                    series: Vec::new(),
                });
                id
            }
        };
        self.recent_users[slot] = id + 1;
        self.recent_user_keys[slot] = key;
        id
    }

    pub fn add(&mut self, ev: &Event) {
        if ev.kind == Kind::Other {
            return;
        }
        let times = self.times(ev);
        let at = ev.ip.map(|ip| self.ip_index(ip, times.0 .0));
        self.count(ev, times, ev.geo.as_ref(), at);
    }

    /// [`Aggregate::add`] of an event the flow has not enriched: the geo of
    /// its address comes from `enricher` once an address and is kept with
    /// it, so an event costs no enrichment, no `Arc` clone and no second
    /// look-up of its address (issue #15: the flow's `flush` 111.1M -> 89.0M
    /// Ir on 200k lines, the locator's memo included). Counts as `add` of
    /// the enriched event.
    pub fn add_enriching(&mut self, ev: &Event, enricher: &Enricher<'_>) {
        if ev.kind == Kind::Other {
            return;
        }
        let times = self.times(ev);
        let Some(ip) = ev.ip else {
            self.count(ev, times, None, None);
            return;
        };
        let i = self.ip_index(ip, times.0 .0);
        if self.ips.list[i].2.is_none() {
            self.place(i, ip, enricher);
        }
        // Taken out while the event is counted (the count borrows the whole
        // aggregate), put back after.
        let placed = &mut self.ips.list[i].2;
        let geo = placed.as_mut().and_then(|p| p.geo.take());
        self.count(ev, times, geo.as_ref(), Some(i));
        if let Some(p) = &mut self.ips.list[i].2 {
            p.geo = geo;
        }
    }

    /// Asks `enricher` for the geo of the address at `i` in
    /// [`Aggregate::ips`] (at its first event) and keeps it there as a
    /// [`Placed`], the entries of its country and its ASN made with nothing
    /// counted on them (as counting the event makes them) but their names,
    /// which counting the event would set from this geo
    /// ([`Aggregate::count`]): the first event of an address is counted
    /// right after it is placed.
    ///
    /// What it made of each answer is kept by where the answer lies
    /// ([`Aggregate::placings`]): an address whose answer was met before
    /// (most: a country database has a few hundred) is placed without asking
    /// the locator's shared memo (a lock and a probe) and placing its
    /// country and ASN again (issue #15: `Aggregate::place` 4.91M -> 4.48M Ir
    /// on 200k lines, 7,768 addresses).
    #[cold]
    #[inline(never)]
    fn place(&mut self, i: usize, ip: IpAddr, enricher: &Enricher<'_>) {
        let placed = match enricher.records(ip) {
            None => Placed::NOWHERE,
            Some((ip, at)) => match self.placings.get(&at) {
                Some(p) => p.clone(),
                None => {
                    let p = self.placed(enricher.geo_at(ip, at));
                    self.placings.insert(at, p.clone());
                    p
                }
            },
        };
        self.ips.list[i].2 = Some(placed);
    }

    /// An answer placed: the entries of its country and its ASN made, with
    /// their names ([`Aggregate::place`]).
    fn placed(&mut self, geo: Option<Arc<Geo>>) -> Placed {
        let country = match geo.as_ref().and_then(|g| g.country.as_ref()) {
            Some(c) => {
                let k = self.countries.place(c);
                let agg = &mut self.countries.list[k].1;
                if agg.name.is_none() {
                    agg.name = geo.as_ref().and_then(|g| g.country_name.clone());
                }
                k as u32 + 1
            }
            None => 0,
        };
        let asn = match geo.as_ref().and_then(|g| g.asn) {
            Some(n) => {
                let k = self.asns.place(n);
                let agg = &mut self.asns.list[k];
                if agg.org.is_none() {
                    agg.org = geo.as_ref().and_then(|g| g.org.clone());
                }
                k as u32 + 1
            }
            None => 0,
        };
        Placed { geo, country, asn }
    }

    /// [`Aggregate::add_enriching`] of each event of a list, for an
    /// aggregate without time bins and details (`stats`, `map`, `chart`): the
    /// path chosen once a list, not once an event, and what an event adds
    /// to the totals of its time stamp (nine events in ten share the one
    /// before's) added once a stamp ([`Aggregate::fold`]). Its address's
    /// country and ASN come from its [`Placed`], with no look-up of the code.
    /// Counts as `add_enriching` of each event, in order (tested against it):
    /// only the totals of the stamp being counted wait, and nothing an event
    /// reads (a login reads its address's and its user's attempts) waits
    /// (issue #15: `Out::flush`, which feeds it, 72.6M -> 53.2M Ir on 200k
    /// lines).
    fn add_list_enriching(&mut self, evs: &mut Vec<Event>, enricher: &Enricher<'_>) {
        debug_assert!(self.bins.is_none() && self.details.is_none());
        match self.kinds.as_ref() {
            None => self.add_list_measured(evs, enricher, |ev| u64::from(ev.attempts)),
            Some(kinds) => {
                // The measure's kinds as bits.
                let mask = kinds.iter().fold(0u32, |m, &k| m | 1 << k as u32);
                self.add_list_measured(evs, enricher, move |ev| {
                    if mask >> ev.kind as u32 & 1 != 0 {
                        u64::from(ev.count.max(1))
                    } else {
                        0
                    }
                });
            }
        }
    }

    /// [`Aggregate::add_list_enriching`] with the measure of an event (a
    /// loop for each measure: which one is not asked again at each event).
    /// Each event borrows its address's entry once, asking for its geo or
    /// counting a login out of that borrow (issue #15: with the stamp's hour
    /// kept from the stamp before, `Out::flush` 48.2M -> 45.1M Ir on 200k
    /// lines). Totals wait for the end of their hour, bounds for the end of
    /// the list ([`Run`], [`Span`]).
    #[inline(always)]
    fn add_list_measured(
        &mut self,
        evs: &mut Vec<Event>,
        enricher: &Enricher<'_>,
        measure: impl Fn(&Event) -> u64,
    ) {
        let Some(start) = evs.iter().find(|e| e.kind != Kind::Other) else {
            evs.clear();
            return;
        };
        if self.events == 0 {
            self.offset = start.ts.offset;
        }
        let whole_hours = self.offset % 3600 == 0;
        let mut run = Run::at(start.ts, self.offset);
        let mut span = Span::at(start.ts);
        // Of the stamps with an attempt.
        let mut attempted: Option<Span> = None;
        each_then_drop(evs, |ev| {
            let kind = ev.kind;
            if kind == Kind::Other {
                return;
            }
            let attempts = measure(ev);
            if ev.ts != run.ts {
                if run.stamp_attempted() {
                    widen(&mut attempted, run.ts);
                }
                span.add(ev.ts);
                if !run.same_hour(ev.ts, whole_hours) {
                    self.fold(&run);
                    run = Run::at(ev.ts, self.offset);
                }
            }
            run.events += 1;
            run.attempts += attempts;
            self.by_kind[kind as usize] += 1;
            let success = kind == Kind::AuthSuccess;
            // As in `count`: names numbered only where something reads them.
            let uid = match &ev.user {
                Some(u) if attempts > 0 || success => self.user_id(u),
                _ => NO_USER,
            };
            if attempts > 0 && uid != NO_USER {
                // SAFETY: `uid` is an id `user_id` gave: an index of
                // `users`, which never shrinks.
                unsafe { self.users.get_unchecked_mut(uid as usize) }.attempts += attempts;
            }
            let Some(ip) = &ev.ip else {
                if success {
                    self.add_login(ev, None, uid, None);
                }
                return;
            };
            let secs = run.secs;
            let i = self.ips.index_with(ip, || IpAgg {
                attempts: 0,
                events: 0,
                geo: None,
                first: secs,
                last: secs,
                detail: None,
            });
            // SAFETY: `i` is a place `index_with` gave, in this map.
            let mut entry = unsafe { self.ips.entry_unchecked(i) };
            if entry.2.is_none() || success {
                // An address's first event, or a login, which reads its
                // address's attempts before its own are counted.
                if entry.2.is_none() {
                    self.place(i, *ip, enricher);
                    // As `count` at each event; once here, as the geo it
                    // reads never changes after.
                    let (_, a, p) = &mut self.ips.list[i];
                    let geo = p.as_ref().and_then(|p| p.geo.as_ref());
                    if a.country().is_none() && geo.is_some() {
                        a.geo = geo.cloned();
                    }
                }
                if success {
                    let geo = self.ips.geo_at(i).cloned();
                    self.add_login(ev, geo.as_ref(), uid, Some(i));
                }
                entry = &mut self.ips.list[i];
            }
            let (_, a, Some(p)) = entry else {
                return; // placed above
            };
            a.attempts += attempts;
            a.events += 1;
            // `first <= last` (both start at the first event's second): a
            // second after `last` (most are) needs no comparison with `first`.
            if secs > a.last {
                a.last = secs;
            } else if secs < a.first {
                a.first = secs;
            }
            // Its geo and the names of its country and ASN were set when it
            // was placed.
            if p.country != 0 {
                // SAFETY: `p.country - 1` is a place `CountryMap::place`
                // gave in this aggregate's map ([`Aggregate::placed`]),
                // whose list never shrinks.
                let agg = unsafe {
                    self.countries
                        .list
                        .get_unchecked_mut(p.country as usize - 1)
                };
                agg.1.attempts += attempts;
                agg.1.events += 1;
            }
            if p.asn != 0 {
                // SAFETY: `p.asn - 1` is a place `AsnMap::place` gave in
                // this aggregate's map ([`Aggregate::placed`]), whose list
                // never shrinks.
                unsafe { self.asns.list.get_unchecked_mut(p.asn as usize - 1) }.attempts +=
                    attempts;
            }
        });
        if run.stamp_attempted() {
            widen(&mut attempted, run.ts);
        }
        self.fold(&run);
        self.from = self.from.min(span.lo);
        self.to = self.to.max(span.hi);
        if let Some(a) = attempted {
            self.attempts_from = self.attempts_from.min(a.lo);
            self.attempts_to = self.attempts_to.max(a.hi);
        }
    }

    /// Adds the totals of a [`Run`]'s hour (at least one event).
    #[inline(always)]
    fn fold(&mut self, run: &Run) {
        self.events += run.events;
        self.attempts += run.attempts;
        self.add_hour(run.hour, run.attempts, run.events);
        self.hour_of_day[run.hod] += run.attempts;
    }

    /// Adds `attempts` and `events` to `hour`'s. Events arrive mostly in
    /// time order: to the current hour without a tree lookup.
    #[inline(always)]
    fn add_hour(&mut self, hour: i64, attempts: u64, events: u64) {
        match &mut self.hour_run {
            Some((h, a, n)) if *h == hour => {
                *a += attempts;
                *n += events;
            }
            run => {
                if let Some((h, a, n)) = run.take() {
                    let e = self.hours.entry(h).or_default();
                    e.0 += a;
                    e.1 += n;
                }
                *run = Some((hour, attempts, events));
            }
        }
    }

    /// (Unix second, hour, series bin, hour of the day in the log's offset)
    /// of an event; the offset is the first event's. And whether the event
    /// has the very time of the one before it, which was counted: the
    /// bounds [`Aggregate::count`] keeps then already hold it.
    #[inline(always)]
    fn times(&mut self, ev: &Event) -> ((i64, i64, i64, usize), bool) {
        if self.events == 0 {
            self.offset = ev.ts.offset;
        }
        // Lines of one second come together (syslog stamps): their divisions once.
        match self.time_memo {
            Some((ts, t)) if ts == ev.ts => (t, true),
            _ => {
                let secs = ev.ts.unix_secs();
                let local = secs + i64::from(self.offset);
                let t = (
                    secs,
                    secs.div_euclid(3600),
                    secs.div_euclid(SERIES_BIN),
                    local.rem_euclid(86_400) as usize / 3600,
                );
                self.time_memo = Some((ev.ts, t));
                (t, false)
            }
        }
    }

    /// The place of `ip` in [`Aggregate::ips`], made at its first event (at
    /// `secs`): before the event is counted, with nothing counted on it, as
    /// if it were not there yet.
    #[inline(always)]
    fn ip_index(&mut self, ip: IpAddr, secs: i64) -> usize {
        let detailed = self.details.is_some();
        self.ips.index_with(&ip, || IpAgg {
            attempts: 0,
            events: 0,
            geo: None,
            first: secs,
            last: secs,
            detail: detailed.then(Box::default),
        })
    }

    /// Counts an event (not `other`) whose times, geo and place in
    /// [`Aggregate::ips`] (with an address) are given.
    #[inline(always)]
    fn count(
        &mut self,
        ev: &Event,
        ((secs, hour, bin, hod), same_ts): ((i64, i64, i64, usize), bool),
        geo: Option<&Arc<Geo>>,
        at: Option<usize>,
    ) {
        self.events += 1;
        // Bounds, not options: events come mostly in order, so mostly one
        // store; and none to compare when the event before had this very time
        // (issue #15: 9 in 10 events on 200k lines).
        if !same_ts {
            if ev.ts < self.from {
                self.from = ev.ts;
            }
            if ev.ts > self.to {
                self.to = ev.ts;
            }
        }
        let attempts = self.measure(ev);
        self.attempts += attempts;
        if attempts > 0 {
            if ev.ts < self.attempts_from {
                self.attempts_from = ev.ts;
            }
            if ev.ts > self.attempts_to {
                self.attempts_to = ev.ts;
            }
        }
        self.by_kind[ev.kind as usize] += 1;
        self.add_hour(hour, attempts, 1);
        self.hour_of_day[hod] += attempts;
        if let Some(b) = &mut self.bins {
            b.add(
                ev,
                geo.map(|g| &**g),
                u32::try_from(attempts).unwrap_or(u32::MAX),
            );
        }
        let detailed = self.details.is_some();
        let success = ev.kind == Kind::AuthSuccess;
        if let Some(t) = &mut self.details {
            bump(&mut t.all, bin, attempts, 1);
            if success {
                bump(&mut t.logins, bin, 1, 0);
            }
        }
        if let Some(c) = geo.and_then(|g| g.country.as_ref()) {
            let agg = self.countries.entry(c);
            agg.attempts += attempts;
            agg.events += 1;
            if agg.name.is_none() {
                agg.name = geo.and_then(|g| g.country_name.clone());
            }
            if detailed {
                bump(&mut agg.series, bin, attempts, 1);
            }
        }
        if let Some(asn) = geo.and_then(|g| g.asn) {
            let k = self.asns.place(asn);
            let agg = &mut self.asns.list[k];
            if agg.org.is_none() {
                agg.org = geo.and_then(|g| g.org.clone());
            }
            agg.attempts += attempts;
            if detailed {
                bump(&mut agg.series, bin, attempts, 1);
            }
        }
        // User names are numbered only where something reads them.
        let uid = match &ev.user {
            Some(u) if attempts > 0 || success || detailed => self.user_id(u),
            _ => NO_USER,
        };
        if attempts > 0 && uid != NO_USER {
            let u = &mut self.users[uid as usize];
            u.attempts += attempts;
            if detailed {
                bump(&mut u.series, bin, attempts, 0);
            }
        }
        // A login is read against what came before it, this event not yet
        // counted (its address's entry is there, with nothing on it yet).
        if success {
            self.add_login(ev, geo, uid, at);
        }
        let (Some(ip), Some(i)) = (ev.ip, at) else {
            return;
        };
        if detailed && ev.kind == Kind::Command {
            self.add_command(ev, ip, secs);
        }
        let a = &mut self.ips.list[i].1;
        a.attempts += attempts;
        a.events += 1;
        a.first = a.first.min(secs);
        a.last = a.last.max(secs);
        if a.country().is_none() && geo.is_some() {
            a.geo = geo.cloned();
        }
        if let Some(d) = &mut a.detail {
            d.add(ev, secs, bin, attempts, uid, success);
        }
    }

    /// Records a login with what came before it.
    fn add_login(&mut self, ev: &Event, geo: Option<&Arc<Geo>>, uid: u32, at: Option<usize>) {
        self.successes_total += 1;
        let country = geo.and_then(|g| g.country.clone());
        let mut new_country = false;
        if let (true, Some(c)) = (uid != NO_USER, &country) {
            let key = user_key(c).0;
            let seen = self.login_countries.entry(uid).or_default();
            if !seen
                .iter()
                .any(|(k, s)| *k == key && (c.len() < 8 || s == c))
            {
                new_country = !seen.is_empty();
                if seen.len() < 16 {
                    seen.push((key, c.clone()));
                }
            }
        }
        let ip = at.map(|i| &self.ips.list[i].1);
        let failures_from_ip = ip.map_or(0, |a| a.attempts);
        let failures_for_user = if uid == NO_USER {
            0
        } else {
            self.users[uid as usize].attempts
        };
        // Decided before the login is built ([`Login::suspicious`]): once its
        // list is full a login is only counted, so it is not built (its
        // strings allocated and freed) at all (issue #15: `add_login` 4.47M
        // -> 2.21M Ir on 200k lines, 4,717 of 5,732 logins past the cap).
        let suspicious = failures_from_ip > 0 || failures_for_user > 0 || new_country;
        if suspicious {
            self.suspicious_total += 1;
        }
        let full = if suspicious {
            self.suspicious.len()
        } else {
            self.ordinary.len()
        } >= MAX_SUCCESSES;
        if full {
            return;
        }
        let (recent, sessions) = match ip.and_then(|a| a.detail.as_deref()) {
            Some(d) => (
                d.recent.iter().cloned().collect::<Vec<Failure>>(),
                d.sessions
                    .iter()
                    .skip(d.sessions.len().saturating_sub(SESSIONS_AT_LOGIN))
                    .cloned()
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        // With details, the passwords tried on this connection, then the one that got in.
        let mut passwords = Vec::new();
        if self.details.is_some() {
            let secs = ev.ts.unix_secs();
            passwords = recent
                .iter()
                .filter(|f| same_conn((f.pid, f.port, f.secs), (ev.pid, ev.port, secs)))
                .filter_map(|f| Some((f.user, f.password.clone()?)))
                .collect();
            if let Some(p) = ev.password() {
                passwords.push((uid, clip(p, PASSWORD_CHARS)));
            }
        }
        let login = Login {
            ts: ev.ts,
            ip: ev.ip,
            user: ev.user.as_deref().map(String::from),
            method: ev.method.as_deref().map(String::from),
            country,
            failures_from_ip,
            failures_for_user,
            new_country,
            recent,
            sessions,
            passwords,
            commands: Vec::new(),
            command_chars: 0,
            commands_more: 0,
        };
        debug_assert_eq!(login.suspicious(), suspicious);
        let list = if suspicious {
            &mut self.suspicious
        } else {
            &mut self.ordinary
        };
        list.push(login);
        if let (true, None, Some(ip), Some(port)) = (self.details.is_some(), ev.pid, ev.ip, ev.port)
        {
            self.login_conns
                .insert((ip, port), (suspicious, list.len() - 1));
        }
    }

    /// With details, a command typed after a login (a honeypot's record):
    /// kept with the login of its connection, in order, within the per-login budget.
    fn add_command(&mut self, ev: &Event, ip: IpAddr, secs: i64) {
        let (Some(port), Some(text)) = (ev.port, ev.command()) else {
            return;
        };
        let Some(&(suspicious, i)) = self.login_conns.get(&(ip, port)) else {
            return;
        };
        let list = if suspicious {
            &mut self.suspicious
        } else {
            &mut self.ordinary
        };
        let login = &mut list[i];
        let text = clip(text, COMMAND_CHARS);
        let n = text.chars().count();
        if login.command_chars + n > COMMAND_CHARS_PER_LOGIN {
            login.commands_more += 1;
            return;
        }
        login.command_chars += n;
        login.commands.push((secs, text));
    }

    /// The totals every view shows.
    pub fn counts(&self) -> Counts {
        Counts {
            events: self.events,
            attempts: self.attempts,
            unique_ips: self.attacking_ips().count() as u64,
            countries: self.attacking_countries().count() as u64,
            addresses: self.ips.len() as u64,
        }
    }

    /// Events counted (every kind but `other`).
    pub fn events(&self) -> u64 {
        self.events
    }

    /// The measure over every event (attack attempts unless `kinds` said otherwise).
    pub fn attempts(&self) -> u64 {
        self.attempts
    }

    /// Time of the first and the last event.
    pub fn span(&self) -> (Option<Ts>, Option<Ts>) {
        let any = self.events > 0;
        (any.then_some(self.from), any.then_some(self.to))
    }

    /// Time of the first and the last event with an attempt (the measure):
    /// the range a picture of attempts covers.
    pub fn attempts_span(&self) -> (Option<Ts>, Option<Ts>) {
        let any = self.attempts > 0;
        (
            any.then_some(self.attempts_from),
            any.then_some(self.attempts_to),
        )
    }

    /// UTC offset of the first event: the log's own zone.
    pub fn offset(&self) -> Option<i32> {
        (self.events > 0).then_some(self.offset)
    }

    /// Every address of any event.
    pub fn ips(&self) -> &IpMap {
        &self.ips
    }

    /// Addresses with at least one attempt: the `unique_ips` of every view.
    pub fn attacking_ips(&self) -> impl Iterator<Item = (&IpAddr, &IpAgg)> {
        self.ips.iter().filter(|(_, a)| a.attempts > 0)
    }

    /// Countries by ISO code (events without one are not here).
    pub fn countries(&self) -> &CountryMap {
        &self.countries
    }

    /// Countries with at least one attempt: the `countries` of every view.
    pub fn attacking_countries(&self) -> impl Iterator<Item = (&Arc<str>, &CountryAgg)> {
        self.countries.iter().filter(|(_, c)| c.attempts > 0)
    }

    /// The measure of events whose address no database placed in a country.
    pub fn unlocated(&self) -> u64 {
        self.attempts - self.countries.values().map(|c| c.attempts).sum::<u64>()
    }

    /// User names by id (see [`IpDetail::users`]); `attempts` may be 0.
    pub fn users(&self) -> &[UserAgg] {
        &self.users
    }

    pub fn user_name(&self, id: u32) -> Option<&str> {
        self.users.get(id as usize).map(|u| u.name.as_str())
    }

    pub fn asns(&self) -> &AsnMap {
        &self.asns
    }

    /// The measure by hour of the day (0–23) in the first event's offset.
    pub fn hour_of_day(&self) -> [u64; 24] {
        self.hour_of_day
    }

    /// Logins kept: the suspicious ones, then the others, each in time of arrival.
    pub fn logins(&self) -> impl Iterator<Item = &Login> {
        self.suspicious.iter().chain(&self.ordinary)
    }

    /// (logins in all, suspicious logins).
    pub fn login_totals(&self) -> (u64, u64) {
        (self.successes_total, self.suspicious_total)
    }

    /// With details: the overall (series bin, attempts, events) and (series bin, logins, 0).
    pub fn series(&self) -> (&[Cell], &[Cell]) {
        match &self.details {
            Some(t) => (&t.all, &t.logins),
            None => (&[], &[]),
        }
    }

    /// The time bins, when [`AggregateOptions::bins`] asked for them.
    pub fn bins(&self) -> Option<&TimeBins> {
        self.bins.as_ref()
    }

    pub fn bins_mut(&mut self) -> Option<&mut TimeBins> {
        self.bins.as_mut()
    }

    pub fn take_bins(&mut self) -> Option<TimeBins> {
        self.bins.take()
    }

    /// Suspicious logins first (most failures from the address, then for the
    /// user, then a new country), then the others in time order; at most
    /// [`MAX_SUCCESSES`] in all.
    ///
    /// The suspicious ones are sorted as places in their list, then moved
    /// into that order once: a sort of the `Success`es themselves moved
    /// them, ten times each (issue #15: the sort 1.17M -> 0.81M Ir for
    /// 1,000 on 200k lines). Where their stamps' texts already come in
    /// the list's order (logins arrive in time), ties are broken by place,
    /// which orders them as their texts do (and equal texts as a stable
    /// sort does), without comparing the texts (the sort 0.81M -> 0.41M).
    fn ranked_successes(&self) -> Vec<Success> {
        let suspicious: Vec<Success> = self.suspicious.iter().map(Login::success).collect();
        let in_order = suspicious.windows(2).all(|w| w[0].ts <= w[1].ts);
        // (key, place): the places' order breaks the ties left, as a stable
        // sort does, so the order is total and an unstable sort of the
        // keys, read once each, gives it (issue #15: a stable sort of places
        // that read each login's numbers at each comparison, 0.50M -> 0.39M
        // Ir for 1,000 on 200k lines).
        let mut order: Vec<_> = suspicious
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let key = (s.failures_from_ip, s.new_country, s.failures_for_user);
                (std::cmp::Reverse(key), i)
            })
            .collect();
        order.sort_unstable_by(|(a, i), (b, j)| {
            a.cmp(b)
                .then_with(|| {
                    if in_order {
                        std::cmp::Ordering::Equal
                    } else {
                        suspicious[*i].ts.cmp(&suspicious[*j].ts)
                    }
                })
                .then(i.cmp(j))
        });
        let mut slots: Vec<Option<Success>> = suspicious.into_iter().map(Some).collect();
        let mut out: Vec<Success> = order.iter().filter_map(|&(_, i)| slots[i].take()).collect();
        let room = MAX_SUCCESSES.saturating_sub(out.len());
        out.extend(self.ordinary.iter().take(room).map(Login::success));
        out
    }

    /// The `stats --json` object.
    pub fn summary(&self, top: usize, inputs: Vec<InputReport>) -> Summary {
        // Only the addresses that can make the top list are formatted: those
        // whose (attempts, events) reach the `top`-th best; ties at the edge are
        // all kept, then ordered by the address text as before.
        let rank = |a: &IpAgg| (a.attempts, a.events);
        let edge = top_rank(self.ips.values().map(rank), top);
        let mut top_ips: Vec<TopIp> = self
            .ips
            .list
            .iter()
            .filter(|(_, a, _)| edge.is_some_and(|e| rank(a) >= e))
            .map(|(ip, a, _)| {
                let geo = a.geo.as_deref();
                TopIp {
                    ip: ip_string(*ip),
                    attempts: a.attempts,
                    events: a.events,
                    country: a.country().map(|c| c.to_string()),
                    asn: geo.and_then(|g| g.asn),
                    org: geo.and_then(|g| g.org.as_deref()).map(str::to_string),
                    first: Ts::from_micros(a.first * 1_000_000, self.offset).to_rfc3339(),
                    last: Ts::from_micros(a.last * 1_000_000, self.offset).to_rfc3339(),
                }
            })
            .collect();
        top_ips.sort_by(|a, b| {
            b.attempts
                .cmp(&a.attempts)
                .then(b.events.cmp(&a.events))
                .then(a.ip.cmp(&b.ip))
        });
        top_ips.truncate(top);
        let mut top_users: Vec<TopUser> = self
            .users
            .iter()
            .filter(|u| u.attempts > 0)
            .map(|u| TopUser {
                user: u.name.clone(),
                attempts: u.attempts,
            })
            .collect();
        top_users.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.user.cmp(&b.user)));
        top_users.truncate(top);
        let mut top_countries: Vec<TopCountry> = self
            .countries
            .iter()
            .map(|(c, a)| TopCountry {
                country: c.to_string(),
                country_name: a.name.as_deref().map(str::to_string),
                attempts: a.attempts,
                events: a.events,
            })
            .collect();
        top_countries.sort_by(|a, b| {
            b.attempts
                .cmp(&a.attempts)
                .then(b.events.cmp(&a.events))
                .then(a.country.cmp(&b.country))
        });
        top_countries.truncate(top);
        let mut top_asns: Vec<TopAsn> = self
            .asns
            .iter()
            .map(|(&asn, a)| TopAsn {
                asn,
                org: a.org.as_deref().map(str::to_string),
                attempts: a.attempts,
            })
            .collect();
        top_asns.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.asn.cmp(&b.asn)));
        top_asns.truncate(top);
        let mut hours = self.hours.clone();
        if let Some((h, a, n)) = self.hour_run {
            let e = hours.entry(h).or_default();
            e.0 += a;
            e.1 += n;
        }
        let per_hour = hours
            .iter()
            .map(|(&h, &(attempts, events))| HourBin {
                hour: Ts::from_micros(h * 3_600_000_000, self.offset).to_rfc3339(),
                attempts,
                events,
            })
            .collect();
        let counts = self.counts();
        let (from, to) = self.span();
        Summary {
            from: from.map(Ts::to_rfc3339),
            to: to.map(Ts::to_rfc3339),
            events: counts.events,
            attempts: counts.attempts,
            unique_ips: counts.unique_ips,
            countries: counts.countries,
            addresses: counts.addresses,
            by_kind: Kind::ALL
                .iter()
                .zip(self.by_kind)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (k.as_str().to_string(), n))
                .collect(),
            top_ips,
            top_users,
            top_countries,
            top_asns,
            per_hour,
            hour_of_day: self.hour_of_day,
            successful_logins: self.ranked_successes(),
            successful_logins_total: self.successes_total,
            suspicious_logins: self.suspicious_total,
            inputs,
        }
    }
}

/// The `top`-th best of `ranks`, or the worst where there are fewer (`None`
/// for none, or `top` 0): the edge of a top list. The best `top` so far are
/// kept in a heap whose root is the worst of them, so most ranks cost one
/// comparison, where collecting every address and partitioning them cost
/// ~50 instructions an address (issue #15: `Aggregate::summary` 3.33M ->
/// 3.04M Ir on 200k lines).
fn top_rank<R: Ord>(ranks: impl Iterator<Item = R>, top: usize) -> Option<R> {
    let mut best = std::collections::BinaryHeap::with_capacity(top);
    for r in ranks {
        if best.len() < top {
            best.push(std::cmp::Reverse(r));
        } else if let Some(mut worst) = best.peek_mut() {
            if r > worst.0 {
                *worst = std::cmp::Reverse(r);
            }
        }
    }
    // The root: the worst of the best.
    best.pop().map(|r| r.0)
}

impl IpDetail {
    fn add(&mut self, ev: &Event, secs: i64, bin: i64, attempts: u64, uid: u32, success: bool) {
        bump(&mut self.series, bin, attempts, 1);
        if success {
            self.successes += 1;
        }
        if attempts > 0 {
            if uid != NO_USER {
                if let Some(e) = self.users.iter_mut().find(|(u, _)| *u == uid) {
                    e.1 += attempts;
                } else if self.users.len() < USERS_PER_IP {
                    self.users.push((uid, attempts));
                } else {
                    self.more_users = true;
                }
            }
            if self.recent.len() == FAILURES_KEPT {
                self.recent.pop_front();
            }
            self.recent.push_back(Failure {
                secs,
                user: uid,
                kind: ev.kind,
                pid: ev.pid,
                port: ev.port,
                password: ev.password().map(|p| clip(p, PASSWORD_CHARS)),
            });
        }
        // A session is one connection: the same pid (or, with no pid, the
        // same source port) on the same host.
        let s = self.sessions.iter_mut().rev().take(4).find(|s| {
            s.host == ev.host && same_conn((s.pid, s.port, s.end), (ev.pid, ev.port, secs))
        });
        let s = match s {
            Some(s) => s,
            None => {
                if self.sessions.len() == SESSIONS_PER_IP {
                    self.sessions.pop_front();
                }
                self.sessions.push_back(Session {
                    pid: ev.pid,
                    host: ev.host.clone(),
                    port: ev.port,
                    start: secs,
                    end: secs,
                    attempts: 0,
                    users: Vec::new(),
                    kinds: 0,
                });
                self.sessions.back_mut().expect("just pushed")
            }
        };
        s.end = s.end.max(secs);
        s.attempts += attempts;
        s.kinds |= 1 << (ev.kind as u32);
        if s.port.is_none() {
            s.port = ev.port;
        }
        if uid != NO_USER && !s.users.contains(&uid) && s.users.len() < USERS_PER_SESSION {
            s.users.push(uid);
        }
    }
}

/// Calls `count` on each event of `evs`, in order, and drops the events in
/// runs of [`DROP_RUN`], right after they are counted, while their cache
/// lines are at hand; `evs` is left empty. The flow dropped the whole list
/// after the aggregate had read it, and read every event back from memory to
/// do so (issue #15: a third of the D1 read misses of `Out::flush` on 200k
/// lines). `Vec::retain` drops in place too, but called its closure, the
/// whole count of an event, out of line; and a drop after each event, a call,
/// made the count keep its state on the stack (+11 and +17 instructions an
/// event). Each event is dropped by [`drop_event`], inline.
#[inline(always)]
fn each_then_drop(evs: &mut Vec<Event>, mut count: impl FnMut(&Event)) {
    let len = evs.len();
    let at = evs.as_mut_ptr();
    // SAFETY: the list owns no event from here on (length 0, capacity and
    // buffer kept), so each of the `len` initialized events is read, then
    // dropped, exactly once, here; a panic in `count` leaks the rest,
    // never drops one twice.
    unsafe {
        evs.set_len(0);
        let mut from = 0;
        while from < len {
            let run = std::ptr::slice_from_raw_parts_mut(at.add(from), DROP_RUN.min(len - from));
            for ev in &*run {
                count(ev);
            }
            for i in 0..run.len() {
                drop_event(at.add(from + i));
            }
            from += DROP_RUN;
        }
    }
}

/// `ptr::drop_in_place(ev)`, field by field and inline: the call an event
/// cost a quarter of the drop (issue #15: `enrich_events` 38.5M -> 37.4M Ir
/// on 200k lines). Every field is named, so a field added to [`Event`] does
/// not compile here until it is named too (and so dropped).
///
/// # Safety
/// As `ptr::drop_in_place(ev)`: `ev` points to a valid event, not used
/// after but to be freed.
#[inline(always)]
unsafe fn drop_event(ev: *mut Event) {
    let Event {
        ts: _,
        host,
        program,
        pid: _,
        kind: _,
        method,
        user,
        invalid_user: _,
        ip: _,
        port: _,
        count: _,
        attempts: _,
        geo,
        scope: _,
        honeypot,
        src: Src { input, line: _ },
    } = unsafe { &mut *ev };
    // SAFETY: each field that owns something is dropped once, the event
    // never read again (the caller's contract).
    unsafe {
        std::ptr::drop_in_place(host);
        std::ptr::drop_in_place(program);
        std::ptr::drop_in_place(method);
        std::ptr::drop_in_place(user);
        std::ptr::drop_in_place(geo);
        std::ptr::drop_in_place(honeypot);
        std::ptr::drop_in_place(input);
    }
}

/// Events counted between two drops ([`each_then_drop`]): ~6 KiB of them,
/// well within an L1 data cache.
const DROP_RUN: usize = 32;

/// The aggregate is a sink of the flow: `flow::run(&inputs, &opts, &mut agg)`.
impl crate::flow::Sink for Aggregate {
    type Error = std::io::Error;
    fn event(&mut self, ev: Event) -> std::io::Result<()> {
        self.add(&ev);
        Ok(())
    }

    fn events(&mut self, evs: &mut Vec<Event>) -> std::io::Result<()> {
        each_then_drop(evs, |ev| self.add(ev));
        Ok(())
    }

    /// The flow's events are not enriched: see [`Aggregate::add_enriching`].
    /// Each is dropped once counted ([`each_then_drop`]).
    fn enrich_events(
        &mut self,
        evs: &mut Vec<Event>,
        enricher: &mut Enricher<'_>,
    ) -> std::io::Result<()> {
        if self.bins.is_none() && self.details.is_none() {
            self.add_list_enriching(evs, enricher);
        } else {
            each_then_drop(evs, |ev| self.add_enriching(ev, &*enricher));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopIp {
    pub ip: String,
    pub attempts: u64,
    pub events: u64,
    pub country: Option<String>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    pub first: String,
    pub last: String,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopUser {
    pub user: String,
    pub attempts: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopCountry {
    pub country: String,
    pub country_name: Option<String>,
    pub attempts: u64,
    pub events: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct TopAsn {
    pub asn: u32,
    pub org: Option<String>,
    pub attempts: u64,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct HourBin {
    /// Start of the hour, RFC 3339.
    pub hour: String,
    pub attempts: u64,
    pub events: u64,
}

/// The `stats --json` object (DESIGN §1).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Summary {
    pub from: Option<String>,
    pub to: Option<String>,
    pub events: u64,
    pub attempts: u64,
    /// Addresses with at least one attack attempt — the one definition every
    /// view uses (the map's title, the report, the live page).
    pub unique_ips: u64,
    /// Countries of those addresses (with at least one attempt).
    pub countries: u64,
    /// Every address of any event (successful logins and closes included).
    pub addresses: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub top_ips: Vec<TopIp>,
    pub top_users: Vec<TopUser>,
    pub top_countries: Vec<TopCountry>,
    pub top_asns: Vec<TopAsn>,
    /// Each hour of the range that had events.
    pub per_hour: Vec<HourBin>,
    /// Attempts by hour of the day (0–23) in the log's own offset.
    pub hour_of_day: [u64; 24],
    /// Suspicious logins first (see [`Success::suspicious`]), then the others;
    /// cut at 1,000 — `successful_logins_total` says how many there were.
    pub successful_logins: Vec<Success>,
    pub successful_logins_total: u64,
    /// Logins after failures from their address or for their user, or from a new country.
    pub suspicious_logins: u64,
    pub inputs: Vec<InputReport>,
}

impl Summary {
    /// The object as `serde_json::to_vec_pretty` writes it (tested against
    /// it), without serde's generic path: its formatter cost ~2,500
    /// instructions a login, and `stats --json` writes 1,000 of them (issue
    /// #15: `print_summary` 3.66M -> 1.81M Ir on 200k lines).
    pub fn write_json_pretty(&self, out: &mut Vec<u8>) {
        let mut j = Pretty {
            out,
            depth: 0,
            first: true,
        };
        j.open(b'{');
        j.key("from");
        j.opt_str(self.from.as_deref());
        j.key("to");
        j.opt_str(self.to.as_deref());
        j.key("events");
        j.int(self.events);
        j.key("attempts");
        j.int(self.attempts);
        j.key("unique_ips");
        j.int(self.unique_ips);
        j.key("countries");
        j.int(self.countries);
        j.key("addresses");
        j.int(self.addresses);
        j.key("by_kind");
        j.open(b'{');
        for (kind, n) in &self.by_kind {
            j.item();
            j.str(kind);
            j.out.extend_from_slice(b": ");
            j.int(*n);
        }
        j.close(b'}');
        j.key("top_ips");
        j.list(&self.top_ips, |j, t| {
            j.key("ip");
            j.str(&t.ip);
            j.key("attempts");
            j.int(t.attempts);
            j.key("events");
            j.int(t.events);
            j.key("country");
            j.opt_str(t.country.as_deref());
            j.key("asn");
            j.opt_int(t.asn);
            j.key("org");
            j.opt_str(t.org.as_deref());
            j.key("first");
            j.str(&t.first);
            j.key("last");
            j.str(&t.last);
        });
        j.key("top_users");
        j.list(&self.top_users, |j, t| {
            j.key("user");
            j.str(&t.user);
            j.key("attempts");
            j.int(t.attempts);
        });
        j.key("top_countries");
        j.list(&self.top_countries, |j, t| {
            j.key("country");
            j.str(&t.country);
            j.key("country_name");
            j.opt_str(t.country_name.as_deref());
            j.key("attempts");
            j.int(t.attempts);
            j.key("events");
            j.int(t.events);
        });
        j.key("top_asns");
        j.list(&self.top_asns, |j, t| {
            j.key("asn");
            j.int(t.asn);
            j.key("org");
            j.opt_str(t.org.as_deref());
            j.key("attempts");
            j.int(t.attempts);
        });
        j.key("per_hour");
        j.list(&self.per_hour, |j, h| {
            j.key("hour");
            j.str(&h.hour);
            j.key("attempts");
            j.int(h.attempts);
            j.key("events");
            j.int(h.events);
        });
        j.key("hour_of_day");
        j.open(b'[');
        for n in self.hour_of_day {
            j.item();
            j.int(n);
        }
        j.close(b']');
        j.key("successful_logins");
        j.list(&self.successful_logins, |j, s| {
            j.key("ts");
            j.str(&s.ts);
            j.key("user");
            j.opt_str(s.user.as_deref());
            j.key("ip");
            j.opt_str(s.ip.as_deref());
            j.key("method");
            j.opt_str(s.method.as_deref());
            j.key("country");
            j.opt_str(s.country.as_deref());
            j.key("failures_from_ip");
            j.int(s.failures_from_ip);
            j.key("failures_for_user");
            j.int(s.failures_for_user);
            j.key("new_country");
            j.out
                .extend_from_slice(if s.new_country { b"true" } else { b"false" });
        });
        j.key("successful_logins_total");
        j.int(self.successful_logins_total);
        j.key("suspicious_logins");
        j.int(self.suspicious_logins);
        j.key("inputs");
        j.list(&self.inputs, |j, r| {
            j.key("input");
            j.str(&r.input);
            j.key("lines");
            j.int(r.lines);
            j.key("events");
            j.int(r.events);
            j.key("skipped");
            j.int(r.skipped);
            j.key("other_programs");
            j.int(r.other_programs);
            j.key("malformed");
            j.int(r.malformed);
            j.key("too_long");
            j.int(r.too_long);
            if let Some(e) = &r.error {
                j.key("error");
                j.str(e);
            }
        });
        j.close(b'}');
    }
}

/// serde_json's pretty printer (`PrettyFormatter`, two spaces a level) for
/// [`Summary::write_json_pretty`]: each member or element on a line of its
/// own, an empty object or list as `{}` or `[]`.
struct Pretty<'a> {
    out: &'a mut Vec<u8>,
    depth: usize,
    /// Nothing written yet in the object or list being written.
    first: bool,
}

impl Pretty<'_> {
    const INDENT: &'static [u8] = b"\n        ";

    fn open(&mut self, bracket: u8) {
        self.out.push(bracket);
        self.depth += 1;
        self.first = true;
    }

    fn close(&mut self, bracket: u8) {
        self.depth -= 1;
        if !self.first {
            self.newline();
        }
        self.out.push(bracket);
        self.first = false;
    }

    /// A new line and the indent of the depth, in one copy (the summary's
    /// deepest level is 3).
    fn newline(&mut self) {
        self.out
            .extend_from_slice(&Self::INDENT[..1 + 2 * self.depth]);
    }

    /// Starts an element of a list.
    fn item(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.newline();
    }

    /// Starts a member of an object named `k`: a field's name, which needs
    /// no escape.
    fn key(&mut self, k: &'static str) {
        self.item();
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\": ");
    }

    fn str(&mut self, s: &str) {
        crate::event::json_str(self.out, s);
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => self.str(s),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    fn int<I: itoa::Integer>(&mut self, n: I) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }

    fn opt_int<I: itoa::Integer>(&mut self, n: Option<I>) {
        match n {
            Some(n) => self.int(n),
            None => self.out.extend_from_slice(b"null"),
        }
    }

    /// A list of objects, each written by `member`s.
    fn list<T>(&mut self, items: &[T], mut members: impl FnMut(&mut Self, &T)) {
        self.open(b'[');
        for t in items {
            self.item();
            self.open(b'{');
            members(self, t);
            self.close(b'}');
        }
        self.close(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Honeypot, Text};

    /// [`each_then_drop`] counts each event once, in order, and drops each
    /// once ([`drop_event`]): the input name, host, program and geo the
    /// events share have one reference left after lists of every length
    /// around [`DROP_RUN`], events with and without each optional field,
    /// names inline and on the heap, a honeypot's record or none. After a
    /// panic in the count, the events of the run under way and after it
    /// are leaked, none dropped twice, and the list is left empty.
    #[test]
    fn each_then_drop_counts_and_drops_each_event_once() {
        let input: Arc<str> = Arc::from("in");
        let host: Arc<str> = Arc::from("h");
        let program: Arc<str> = Arc::from("sshd");
        let geo = Arc::new(Geo::default());
        let long = "a-user-name-longer-than-thirty-bytes";
        let list = |n: u64| -> Vec<Event> {
            (0..n)
                .map(|line| Event {
                    host: (line % 2 == 0).then(|| host.clone()),
                    program: program.clone(),
                    method: (line % 3 != 0).then(|| Text::new(&long[..line as usize % 37])),
                    user: (line % 5 != 0).then(|| Text::new(&long[line as usize % 37..])),
                    geo: (line % 7 != 0).then(|| geo.clone()),
                    honeypot: Honeypot::boxed(
                        (line % 4 == 1).then(|| long.to_string()),
                        (line % 6 == 1).then(|| long.to_string()),
                    ),
                    src: Src {
                        input: input.clone(),
                        line,
                    },
                    ..Event::at_line(line)
                })
                .collect()
        };
        let counts = || {
            [&input, &host, &program]
                .map(Arc::strong_count)
                .into_iter()
                .chain([Arc::strong_count(&geo)])
                .collect::<Vec<_>>()
        };
        let run = DROP_RUN as u64;
        for n in [0, 1, run - 1, run, run + 1, 2 * run, 3 * run + 5] {
            let mut evs = list(n);
            let mut seen = Vec::new();
            each_then_drop(&mut evs, |e| seen.push(e.src.line));
            assert!(evs.is_empty());
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
            assert_eq!(counts(), [1, 1, 1, 1], "{n} events");
        }
        let mut evs = list(3 * run);
        let stop = run + 3;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            each_then_drop(&mut evs, |e| assert!(e.src.line != stop))
        }));
        assert!(res.is_err());
        assert!(evs.is_empty());
        assert_eq!(Arc::strong_count(&input), 1 + 2 * run as usize);
        assert_eq!(Arc::strong_count(&program), 1 + 2 * run as usize);
    }

    /// [`top_rank`] against a sort of all the ranks: ties (few distinct
    /// ranks), more and fewer ranks than `top`, `top` 0 and 1.
    #[test]
    fn top_rank_is_the_sorted_ranks_top_th() {
        let mut rnd = crate::testing::xorshift(0x7f4a_7c15_9e37_79b9);
        for case in 0..400 {
            let n = (rnd() % 60) as usize;
            let spread = 1 + rnd() % if case % 2 == 0 { 4 } else { 1000 };
            let ranks: Vec<(u64, u64)> = (0..n).map(|_| (rnd() % spread, rnd() % 3)).collect();
            let top = (rnd() % 70) as usize;
            let mut sorted = ranks.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let want = if top == 0 {
                None
            } else {
                sorted.get(top.min(n).wrapping_sub(1)).copied()
            };
            assert_eq!(
                top_rank(ranks.iter().copied(), top),
                want,
                "{ranks:?} top {top}"
            );
        }
    }

    /// The pointer cache of [`CountryMap`] against a plain map: codes shared
    /// as one `Arc`, the same code in fresh `Arc`s, `Arc`s freed and their
    /// memory reused for other codes. Counts and iteration order must match.
    /// [`IpMap`]'s cache against a plain map: more addresses than slots (so
    /// slots collide and are overwritten), IPv4, IPv6 and IPv4-mapped IPv6
    /// (equal numbers, different addresses), IPv6 addresses whose low bits
    /// are an IPv4 address's, the zero addresses (the bits of an IPv6 slot),
    /// revisited in another order.
    #[test]
    fn ip_map_is_a_map_whatever_the_slots() {
        use std::net::{Ipv4Addr, Ipv6Addr};
        let mut ips: Vec<IpAddr> = Vec::new();
        for i in 0..6000u32 {
            let v4 = Ipv4Addr::from(i.wrapping_mul(2_654_435_761));
            ips.push(IpAddr::V4(v4));
            if i % 3 == 0 {
                ips.push(IpAddr::V6(v4.to_ipv6_mapped()));
                ips.push(IpAddr::V6(Ipv6Addr::from(u128::from(i) << 64)));
                ips.push(IpAddr::V6(Ipv6Addr::from(u128::from(u32::from(v4)))));
            }
        }
        ips.extend([
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            IpAddr::V6(Ipv4Addr::UNSPECIFIED.to_ipv6_mapped()),
            IpAddr::V4(Ipv4Addr::BROADCAST),
        ]);
        // Addresses of one slot, IPv4 and IPv6 alike.
        let mut rnd = crate::testing::xorshift(0x5eed);
        let want = IpMap::slot(&ips[0]);
        let mut same = 0;
        while same < 40 {
            let x = rnd();
            let ip = if x % 2 == 0 {
                IpAddr::V4(Ipv4Addr::from(x as u32))
            } else {
                IpAddr::V6(Ipv6Addr::from(u128::from(x) << 17))
            };
            if IpMap::slot(&ip) == want {
                ips.push(ip);
                same += 1;
            }
        }
        let fresh = || IpAgg {
            attempts: 0,
            events: 0,
            geo: None,
            first: 0,
            last: 0,
            detail: None,
        };
        let mut map = IpMap::default();
        let mut plain: HashMap<IpAddr, IpAgg> = HashMap::default();
        for round in 0..3u64 {
            for j in 0..ips.len() {
                // Each round a different stride through the list.
                let ip = ips[(j * (2 * round as usize + 1)) % ips.len()];
                let n = round * 7 + j as u64 % 5;
                map.entry_with(ip, fresh).attempts += n;
                plain.entry(ip).or_insert_with(fresh).attempts += n;
                map.entry_with(ip, fresh).events += 1;
                plain.get_mut(&ip).unwrap().events += 1;
            }
        }
        let got: Vec<(IpAddr, u64, u64)> = map
            .iter()
            .map(|(i, a)| (*i, a.attempts, a.events))
            .collect();
        let want: Vec<(IpAddr, u64, u64)> = plain
            .iter()
            .map(|(i, a)| (*i, a.attempts, a.events))
            .collect();
        assert_eq!(got, want);
        assert_eq!(map.len(), plain.len());
        assert_eq!(
            map.get(&ips[5]).map(|a| a.attempts),
            plain.get(&ips[5]).map(|a| a.attempts)
        );
    }

    /// [`Aggregate::user_id`]'s cache against a plain map: more names than
    /// slots, names sharing their first eight bytes and length, the empty
    /// name, long and non-ASCII names, revisited in other orders.
    #[test]
    fn user_ids_are_a_map_whatever_the_slots() {
        let mut names: Vec<String> = Vec::new();
        for i in 0..1500u32 {
            names.push(format!("u{i}"));
            names.push(format!("postgres{}", i % 40));
            names.push(format!("{}-ü-{i}-long-name-past-thirty-bytes", i % 7));
        }
        names.extend(["", "root", "admin", "rooT"].map(String::from));
        // Short names whose keys stand for them: every length to 8, bytes
        // that carry into nothing (0, 255), shared slots.
        for i in 0..3000u32 {
            let len = i as usize % 9;
            let b: String = (0..len)
                .map(|k| ['\0', 'a', 'b', '\u{7f}'][(i as usize >> (2 * k)) % 4])
                .collect();
            names.push(b);
        }
        names.extend(
            ["\u{ff}", "\u{ff}\u{ff}", "aaaaaaa", "aaaaaaaa", "aaaaaaaaa"].map(String::from),
        );
        // An 8-byte name whose first bytes read as a short name's length
        // (the key before took "a"'s for it), and names that differ only
        // past the bytes a short key reads.
        names.extend(
            [
                "\0\0\0\0\0\0\u{1}a",
                "a",
                "\0\0\0\0\0\u{1}\0a",
                "abc",
                "abd",
                "abcd",
                "abce",
                "abcdefg",
                "abcdefh",
                "\u{7}abcdefg",
            ]
            .map(String::from),
        );
        let mut agg = Aggregate::default();
        let mut plain: HashMap<String, u32> = HashMap::default();
        for round in 0..3usize {
            for j in 0..names.len() {
                let u = &names[(j * (2 * round + 1) + round) % names.len()];
                let n = plain.len() as u32;
                let want = *plain.entry(u.clone()).or_insert(n);
                assert_eq!(agg.user_id(u), want, "{u}");
                assert_eq!(agg.user_name(want), Some(u.as_str()));
            }
        }
        assert_eq!(agg.users().len(), plain.len());
    }

    /// The per-second memo of [`Aggregate::add`]: runs of one stamp, stamps
    /// before 1970, across hours, days and five-minute bins, against the
    /// hour of the day, hours and series computed here event by event.
    #[test]
    fn repeated_stamps_count_as_computed_one_by_one() {
        let secs: Vec<i64> = vec![
            -86_401,
            -86_401,
            -1,
            -1,
            -1,
            0,
            0,
            299,
            300,
            300,
            3599,
            3599,
            3600,
            86_399,
            86_399,
            86_400,
            86_400,
            86_400,
            7,
            7,
            1_700_000_000,
            1_700_000_000,
            1_700_000_299,
        ];
        let mut agg = Aggregate::new(AggregateOptions {
            details: true,
            ..AggregateOptions::default()
        });
        let mut hod = [0u64; 24];
        let mut series: Vec<Cell> = Vec::new();
        for &s in &secs {
            agg.add(&ev(s, Kind::AuthFailure, Some("192.0.2.1"), "u", None));
            hod[((s + 3600).rem_euclid(86_400) / 3600) as usize] += 1;
            bump(&mut series, s.div_euclid(SERIES_BIN), 1, 1);
        }
        assert_eq!(agg.hour_of_day(), hod);
        assert_eq!(agg.series().0, &series[..]);
        let ip = agg.ips().get(&"192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!((ip.first, ip.last), (-86_401, 1_700_000_299));
        let s = agg.summary(10, Vec::new());
        let by_hour = serde_json::to_value(&s).unwrap();
        assert_eq!(by_hour["attempts"], secs.len());
    }

    #[test]
    fn country_map_is_a_map_whatever_the_arcs() {
        let codes: Vec<String> = (0..300).map(|i| format!("C{}", i % 97)).collect();
        let shared: Vec<Arc<str>> = (0..97).map(|i| Arc::from(format!("C{i}"))).collect();
        let mut map = CountryMap::default();
        let mut plain: HashMap<Arc<str>, CountryAgg> = HashMap::default();
        for round in 0..4u64 {
            for (j, c) in codes.iter().enumerate() {
                // Even lines: the shared Arc; odd: a fresh one, dropped right after,
                // so its address is soon reused by another code's fresh Arc.
                let fresh: Arc<str> = Arc::from(c.as_str());
                let code = if j % 2 == 0 { &shared[j % 97] } else { &fresh };
                let n = round * 1000 + j as u64;
                map.entry(code).attempts += n;
                plain.entry(code.clone()).or_default().attempts += n;
                map.entry(code).events += 1;
                plain.get_mut(&**code).unwrap().events += 1;
            }
        }
        let got: Vec<(String, u64, u64)> = map
            .iter()
            .map(|(c, a)| (c.to_string(), a.attempts, a.events))
            .collect();
        let want: Vec<(String, u64, u64)> = plain
            .iter()
            .map(|(c, a)| (c.to_string(), a.attempts, a.events))
            .collect();
        assert_eq!(got, want);
        assert_eq!(map.len(), 97);
        assert_eq!(map["C5"].attempts, plain["C5"].attempts);
        assert!(map.get("C97").is_none());
    }

    fn ev(secs: i64, kind: Kind, ip: Option<&str>, user: &str, cc: Option<&str>) -> Event {
        Event {
            ts: Ts::from_micros(secs * 1_000_000, 3600),
            host: Some("h".into()),
            program: "sshd".into(),
            pid: Some((secs % 7) as u32),
            kind,
            method: None,
            user: Some(user.into()),
            invalid_user: false,
            ip: ip.map(|i| i.parse().unwrap()),
            port: Some(22),
            count: 1,
            attempts: u32::from(kind == Kind::AuthFailure),
            geo: cc.map(|c| {
                Arc::new(Geo {
                    country: Some(c.into()),
                    lat: Some(1.0),
                    lon: Some(2.0),
                    asn: Some(64500),
                    ..Geo::default()
                })
            }),
            scope: None,
            honeypot: None,
            src: Src {
                input: "t".into(),
                line: 1,
            },
        }
    }

    /// A mixed stream: attempts, logins, closes, addresses without a country,
    /// a country seen only in a login, an address-less line.
    fn events() -> Vec<Event> {
        let mut v = Vec::new();
        for i in 0..300i64 {
            let (ip, cc) = match i % 5 {
                0 => (Some("203.0.113.1"), Some("FR")),
                1 => (Some("198.51.100.2"), Some("CN")),
                2 => (Some("10.0.0.3"), None),
                3 => (None, None),
                _ => (Some("2001:db8::4"), Some("US")),
            };
            let kind = match i % 7 {
                0 => Kind::AuthSuccess,
                1 | 2 => Kind::PreauthClose,
                _ => Kind::AuthFailure,
            };
            v.push(ev(
                1_800_000_000 + i * 97,
                kind,
                ip,
                ["root", "a<b"][i as usize % 2],
                cc,
            ));
        }
        v.push(ev(
            1_800_000_000,
            Kind::AuthSuccess,
            Some("192.0.2.9"),
            "alice",
            Some("DE"),
        ));
        v
    }

    /// Every number a view reads of two aggregates: the summary, the
    /// addresses, countries and networks in their maps' orders, the series,
    /// logins, users and bins.
    fn assert_same_views(one: &Aggregate, flow: &Aggregate, ctx: &str) {
        let sum = |a: &Aggregate| a.summary(1000, vec![]);
        assert_eq!(sum(one), sum(flow), "{ctx}");
        assert_eq!(one.counts(), flow.counts(), "{ctx}");
        let ips = |a: &Aggregate| {
            a.ips()
                .iter()
                .map(|(ip, x)| {
                    let d = x.detail.as_ref().map(|d| {
                        (
                            d.series.clone(),
                            d.users.clone(),
                            d.recent.len(),
                            d.sessions.len(),
                        )
                    });
                    (*ip, x.attempts, x.events, x.first, x.last, x.geo.clone(), d)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(ips(one), ips(flow), "{ctx}");
        let countries = |a: &Aggregate| {
            a.countries()
                .iter()
                .map(|(c, x)| {
                    (
                        c.clone(),
                        x.name.clone(),
                        x.attempts,
                        x.events,
                        x.series.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(countries(one), countries(flow), "{ctx}");
        let asns = |a: &Aggregate| {
            a.asns()
                .iter()
                .map(|(n, x)| (*n, x.org.clone(), x.attempts, x.series.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(asns(one), asns(flow), "{ctx}");
        assert_eq!(one.series(), flow.series(), "{ctx}");
        let logins = |a: &Aggregate| {
            a.logins()
                .map(|l| {
                    (
                        l.success(),
                        l.recent.len(),
                        l.sessions.len(),
                        l.passwords.clone(),
                        l.commands.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(logins(one), logins(flow), "{ctx}");
        // The bins (their countries and names by id: the maps' own
        // orders are random).
        let binned = |a: &Aggregate| {
            a.bins().map(|b| {
                let names: Vec<String> = b
                    .bins
                    .values()
                    .flat_map(|x| x.users.iter().map(|u| b.users.name(u.0).to_string()))
                    .collect();
                let codes: Vec<String> = (0..b.countries.len())
                    .map(|i| b.countries.code(i as u16).to_string())
                    .collect();
                (b.bins.clone(), codes, names, b.first, b.last, b.offset)
            })
        };
        assert_eq!(binned(one), binned(flow), "{ctx}");
        let users = |a: &Aggregate| {
            a.users()
                .iter()
                .map(|u| (u.name.clone(), u.attempts, u.series.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(users(one), users(flow), "{ctx}");
        assert_eq!(one.hour_of_day(), flow.hour_of_day(), "{ctx}");
        assert_eq!(one.span(), flow.span(), "{ctx}");
        assert_eq!(one.attempts_span(), flow.attempts_span(), "{ctx}");
        assert_eq!(one.offset(), flow.offset(), "{ctx}");
        assert_eq!(one.login_totals(), flow.login_totals(), "{ctx}");
        assert_eq!(one.unlocated(), flow.unlocated(), "{ctx}");
    }

    /// The seconds and hours the list path gives stamps ([`Run`]) against
    /// those of one event at a time: stamps before 1970, at the edges of
    /// hours, a µs apart, and at the ends of an `i64` of µs (where an hour's
    /// first µs is out of range), in order, reversed and shuffled, with
    /// offsets of whole hours and not.
    #[test]
    fn a_list_places_its_stamps_in_their_seconds_and_hours() {
        use crate::flow::Sink;
        const H: i64 = 3_600_000_000;
        let mut micros: Vec<i64> = vec![
            i64::MIN,
            i64::MIN + 1,
            i64::MIN + H - 1,
            i64::MIN + 2 * H,
            -H - 1,
            -H,
            -1_000_001,
            -1,
            0,
            999_999,
            1_000_000,
            H - 1,
            H,
            H + 1,
            1_800_000_000_000_000,
            1_800_000_000_000_000 + H - 1,
            i64::MAX - 2 * H,
            i64::MAX - H + 1,
            i64::MAX,
        ];
        let mut rnd = crate::testing::xorshift(0x94d0_49bb_1331_11eb);
        let hours = |a: &Aggregate| {
            let mut h = a.hours.clone();
            if let Some((k, x, n)) = a.hour_run {
                let e = h.entry(k).or_default();
                e.0 += x;
                e.1 += n;
            }
            h
        };
        let ips = |a: &Aggregate| {
            a.ips()
                .iter()
                .map(|(ip, x)| (*ip, x.attempts, x.events, x.first, x.last))
                .collect::<Vec<_>>()
        };
        for round in 0..6 {
            match round {
                0 => {}
                1 => micros.reverse(),
                _ => {
                    for i in (1..micros.len()).rev() {
                        micros.swap(i, rnd() as usize % (i + 1));
                    }
                }
            }
            for offset in [0, 3600, -7200, 19_800] {
                let evs: Vec<Event> = micros
                    .iter()
                    .flat_map(|&m| {
                        let mut e = ev(0, Kind::AuthFailure, Some("192.0.2.1"), "u", None);
                        e.ts = Ts::from_micros(m, offset);
                        let mut close = e.clone();
                        close.kind = Kind::PreauthClose;
                        close.attempts = 0;
                        [e, close]
                    })
                    .collect();
                let mut one = Aggregate::default();
                let en = Enricher::new(None);
                for e in &evs {
                    one.add_enriching(e, &en);
                }
                let mut flow = Aggregate::default();
                let mut en = Enricher::new(None);
                for chunk in evs.chunks(1 + round * 3) {
                    flow.enrich_events(&mut chunk.to_vec(), &mut en).unwrap();
                }
                let ctx = format!("round {round}, offset {offset}");
                assert_eq!(ips(&one), ips(&flow), "{ctx}");
                assert_eq!(hours(&one), hours(&flow), "{ctx}");
                assert_eq!(one.hour_of_day(), flow.hour_of_day(), "{ctx}");
                assert_eq!(one.span(), flow.span(), "{ctx}");
                assert_eq!(one.attempts_span(), flow.attempts_span(), "{ctx}");
                assert_eq!(one.counts(), flow.counts(), "{ctx}");
            }
        }
    }

    /// [`Aggregate::ranked_successes`] against a sort of the `Success`es
    /// themselves by their keys, then their stamps' texts: logins in time
    /// order and not, with equal stamps, stamps of other offsets (whose
    /// texts sort apart from their times), ties on every key.
    #[test]
    fn logins_rank_as_their_successes_sort() {
        let mut rnd = crate::testing::xorshift(0xd1b5_4a32_d192_ed03);
        let mut next = move |n: u64| rnd() % n;
        for round in 0..8 {
            let mut agg = Aggregate::default();
            let mut secs = 1_800_000_000i64;
            for _ in 0..3000 {
                secs += match (round % 2, next(10)) {
                    (0, _) | (_, 0..=7) => next(3) as i64,
                    _ => -(next(500) as i64),
                };
                let kind = [Kind::AuthFailure, Kind::AuthSuccess][next(2) as usize];
                let ip = format!("192.0.2.{}", next(6));
                let user = ["root", "alice", "bob"][next(3) as usize];
                let cc = ["FR", "DE", "JP"][next(3) as usize];
                let mut e = ev(secs, kind, Some(&ip), user, Some(cc));
                if round >= 4 && next(7) == 0 {
                    e.ts.offset = -7200;
                }
                agg.add(&e);
            }
            let mut want: Vec<Success> = agg.suspicious.iter().map(Login::success).collect();
            want.sort_by(|a, b| {
                b.failures_from_ip
                    .cmp(&a.failures_from_ip)
                    .then(b.new_country.cmp(&a.new_country))
                    .then(b.failures_for_user.cmp(&a.failures_for_user))
                    .then(a.ts.cmp(&b.ts))
            });
            let room = MAX_SUCCESSES.saturating_sub(want.len());
            want.extend(agg.ordinary.iter().take(room).map(Login::success));
            assert!(agg.suspicious.len() > 100, "{}", agg.suspicious.len());
            assert_eq!(agg.ranked_successes(), want, "round {round}");
        }
    }

    /// A login's "new country" (a country its user never logged in from,
    /// with earlier logins) against a list of the codes seen: codes as
    /// fresh `Arc`s and shared ones, of 1 to 12 bytes (those of 8 and more
    /// compared as text), with NUL bytes, case apart, more than the 16 kept.
    #[test]
    fn a_login_from_a_new_country_is_told_by_its_code() {
        let codes = [
            "FR",
            "fr",
            "F",
            "F\0",
            "\0F",
            "",
            "GB",
            "ABCDEFG",
            "ABCDEFGH",
            "ABCDEFGI",
            "ABCDEFGHIJKL",
            "ABCDEFGHIJKM",
            "ü",
            "a",
            "b",
            "c",
            "d",
            "e",
            "f",
            "g",
            "h",
            "i",
        ];
        let shared: Vec<Arc<str>> = codes.iter().map(|&c| Arc::from(c)).collect();
        let mut rnd = crate::testing::xorshift(0x1656_67b1_9e37_79f9);
        let mut next = move |n: u64| rnd() % n;
        let mut agg = Aggregate::default();
        let mut want = Vec::new();
        let mut seen: HashMap<&str, Vec<&str>> = HashMap::default();
        for i in 0..3000 {
            let user = ["root", "alice", "bob"][next(3) as usize];
            let k = next(codes.len() as u64) as usize;
            let code = if next(2) == 0 {
                shared[k].clone()
            } else {
                Arc::from(codes[k])
            };
            let mut e = ev(
                1_800_000_000 + i,
                Kind::AuthSuccess,
                Some("192.0.2.1"),
                user,
                None,
            );
            e.geo = Some(Arc::new(Geo {
                country: Some(code),
                ..Geo::default()
            }));
            agg.add(&e);
            let s = seen.entry(user).or_default();
            if !s.contains(&codes[k]) {
                want.push(!s.is_empty());
                if s.len() < 16 {
                    s.push(codes[k]);
                }
            } else {
                want.push(false);
            }
        }
        let got: Vec<bool> = agg.logins().map(|l| l.new_country).collect();
        // The kept logins: suspicious ones (new countries among them), then
        // the others, each list in order.
        let (mut sus, mut ord) = (Vec::new(), Vec::new());
        for (i, &n) in want.iter().enumerate() {
            if n {
                sus.push(i);
            } else {
                ord.push(i);
            }
        }
        assert!(sus.len() > 100, "{}", sus.len());
        let expect: Vec<bool> = sus
            .iter()
            .take(MAX_SUCCESSES)
            .chain(ord.iter().take(MAX_SUCCESSES))
            .map(|&i| want[i])
            .collect();
        assert_eq!(got, expect);
    }

    /// [`Summary::write_json_pretty`] against serde_json's pretty printer:
    /// names that need escapes (quotes, backslashes, control characters),
    /// non-ASCII and long ones, every option `None` and `Some`, lists empty
    /// and not, inputs with an error and without; and the summary of an
    /// aggregate of such names.
    #[test]
    fn summary_json_is_serde_jsons_pretty_object() {
        let names = [
            "",
            "root",
            "a\"b",
            "back\\slash",
            "tab\there",
            "line\n",
            "\u{1}\u{8}\u{c}\u{1f}\u{7f}",
            "ü日本",
            "</script>",
            "a-name-longer-than-thirty-two-bytes-of-text",
        ];
        let mut rnd = crate::testing::xorshift(0x5851_f42d_4c95_7f2d);
        let mut next = move |n: u64| rnd() % n;
        let same = |s: &Summary| {
            let mut got = Vec::new();
            s.write_json_pretty(&mut got);
            let want = serde_json::to_vec_pretty(s).unwrap();
            assert_eq!(
                String::from_utf8(got).unwrap(),
                String::from_utf8(want).unwrap()
            );
        };
        for _ in 0..200 {
            let k = next(4) as usize;
            let n = next(1 << 40);
            let mut name = || names[next(names.len() as u64) as usize].to_string();
            let opt = |n: u64| (n % 3 != 0).then(|| names[n as usize % names.len()].to_string());
            let summary = Summary {
                from: opt(n),
                to: opt(n >> 3),
                events: n,
                attempts: n >> 7,
                unique_ips: 0,
                countries: u64::MAX,
                addresses: n >> 20,
                by_kind: (0..k).map(|i| (name(), i as u64)).collect(),
                top_ips: (0..k)
                    .map(|i| TopIp {
                        ip: name(),
                        attempts: n >> i,
                        events: 1,
                        country: opt(n >> i),
                        asn: (i % 2 == 0).then_some(u32::MAX - i as u32),
                        org: opt(n >> (i + 2)),
                        first: name(),
                        last: name(),
                    })
                    .collect(),
                top_users: (0..k)
                    .map(|i| TopUser {
                        user: name(),
                        attempts: i as u64,
                    })
                    .collect(),
                top_countries: (0..k)
                    .map(|i| TopCountry {
                        country: name(),
                        country_name: opt(n >> i),
                        attempts: 0,
                        events: i as u64,
                    })
                    .collect(),
                top_asns: (0..k)
                    .map(|i| TopAsn {
                        asn: i as u32,
                        org: opt(n >> i),
                        attempts: n,
                    })
                    .collect(),
                per_hour: (0..k)
                    .map(|i| HourBin {
                        hour: name(),
                        attempts: i as u64,
                        events: n,
                    })
                    .collect(),
                hour_of_day: std::array::from_fn(|h| n >> h),
                successful_logins: (0..k)
                    .map(|i| Success {
                        ts: name(),
                        user: opt(n >> i),
                        ip: opt(n >> (i + 1)),
                        method: opt(n >> (i + 2)),
                        country: opt(n >> (i + 3)).map(Arc::from),
                        failures_from_ip: n,
                        failures_for_user: i as u64,
                        new_country: i % 2 == 1,
                    })
                    .collect(),
                successful_logins_total: n,
                suspicious_logins: 1,
                inputs: (0..k)
                    .map(|i| InputReport {
                        input: name(),
                        lines: n,
                        error: opt(n >> i),
                        ..InputReport::default()
                    })
                    .collect(),
            };
            same(&summary);
        }
        let mut agg = Aggregate::default();
        for (i, user) in names.iter().enumerate() {
            let kind = [Kind::AuthFailure, Kind::AuthSuccess][i % 2];
            let mut e = ev(
                1_800_000_000 + i as i64,
                kind,
                Some("81.2.69.160"),
                user,
                Some("GB"),
            );
            e.method = Some(names[names.len() - 1 - i].into());
            agg.add(&e);
        }
        let inputs = vec![InputReport {
            input: "auth\".log".into(),
            error: Some("no such file\n".into()),
            ..InputReport::default()
        }];
        same(&agg.summary(10, inputs));
    }

    /// The flow's way ([`Aggregate::add_enriching`]: one geo per address,
    /// asked once) against each event enriched, then added: every view's
    /// numbers alike, with the embedded database and without one
    /// (`--geoip none`), with details and bins and without.
    #[test]
    fn enriching_as_it_adds_counts_as_adding_enriched_events() {
        use crate::flow::Sink;
        use crate::geo::Locator;
        let mut rnd = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let mut next = move |n: u64| rnd() % n;
        let kinds = [
            Kind::AuthFailure,
            Kind::InvalidUser,
            Kind::PreauthClose,
            Kind::AuthSuccess,
            Kind::Command,
            Kind::Other,
            Kind::PamFailure,
        ];
        let mut evs = Vec::new();
        for i in 0..4000i64 {
            // Public addresses of many countries (repeated), IPv6, IPv4-mapped,
            // private and reserved ones, none.
            let ip = match next(8) {
                0 => None,
                1 => Some(format!("10.0.{}.{}", next(3), next(3))),
                2 => Some(format!("2a0{}:{:x}::1", next(10), next(4))),
                3 => Some(format!("::ffff:8.8.{}.8", next(2))),
                4 => Some(format!("192.0.2.{}", next(3))),
                _ => Some(format!("{}.{}.7.1", 1 + next(220), next(3))),
            };
            let kind = kinds[next(kinds.len() as u64) as usize];
            let mut e = ev(
                1_800_000_000 + i * 13 + next(40) as i64,
                kind,
                ip.as_deref(),
                ["root", "admin", "a<b", ""][next(4) as usize],
                None,
            );
            e.attempts = u32::from(kind == Kind::AuthFailure) * (1 + next(3) as u32);
            e.port = Some(next(3) as u16);
            e.pid = (next(4) != 0).then(|| next(5) as u32);
            if next(3) == 0 {
                e.honeypot = crate::event::Honeypot::boxed(
                    Some(format!("pw{}", next(5))),
                    Some(format!("cmd {}", next(5))),
                );
            }
            evs.push(e);
        }
        let embedded = Locator::embedded();
        for locator in [Some(&embedded), None] {
            for (details, bins) in [(false, false), (true, true)] {
                let opts = || AggregateOptions {
                    kinds: None,
                    bins: bins.then_some(BinOptions {
                        secs: 600,
                        from: None,
                        to: None,
                        points: true,
                    }),
                    details,
                };
                let mut one = Aggregate::new(opts());
                let mut en = Enricher::new(locator);
                for e in &evs {
                    let mut e = e.clone();
                    en.enrich(&mut e);
                    one.add(&e);
                }
                let mut flow = Aggregate::new(opts());
                let mut en = Enricher::new(locator);
                for chunk in evs.chunks(97) {
                    let mut list = chunk.to_vec();
                    flow.enrich_events(&mut list, &mut en).unwrap();
                    // Counted and dropped.
                    assert!(list.is_empty());
                }
                assert_same_views(&one, &flow, "");
                assert!(!bins || one.bins().is_some_and(|b| !b.bins.is_empty()));
                if locator.is_some() {
                    assert!(one.countries().len() > 20, "{}", one.countries().len());
                }
            }
        }
    }

    /// [`Aggregate::add_list_enriching`], the path of a list without
    /// details and bins, against [`Aggregate::add_enriching`] of each event
    /// and against each event enriched, then added: stamps in runs (the
    /// stamp's totals wait) and out of order, the measure as attempts and as
    /// kinds, addresses that repeat, private ones, none, logins (which read
    /// the counts before them), lists of every size and of `other` only;
    /// with the embedded database, a city and an ASN database (networks with
    /// a country, an ASN, both, neither) and none. And lists of an aggregate
    /// with details or bins, which take the event-by-event path.
    #[test]
    fn a_list_counts_as_its_events_one_by_one() {
        use crate::flow::Sink;
        use crate::geo::locate::mmdb_writer;
        use crate::geo::{GeoConfig, Locator};
        let mut rnd = crate::testing::xorshift(0x9e37_79b9_7f4a_7c15);
        let mut next = move |n: u64| rnd() % n;
        let kinds = [
            Kind::AuthFailure,
            Kind::AuthFailure,
            Kind::InvalidUser,
            Kind::PreauthClose,
            Kind::AuthSuccess,
            Kind::Other,
            Kind::PamFailure,
            Kind::Refused,
        ];
        let users = [
            "root",
            "admin",
            "",
            "a",
            "postgres",
            "oracle-db-admin-x",
            "ü",
        ];
        let mut evs = Vec::new();
        let mut secs = 1_800_000_000i64;
        for _ in 0..6000 {
            // Mostly the stamp before, sometimes the next seconds, an earlier
            // one, or the same second with other microseconds.
            let micros = match next(10) {
                0..=5 => 0,
                6 | 7 => {
                    secs += next(4000) as i64;
                    0
                }
                8 => {
                    secs -= next(5000) as i64;
                    0
                }
                _ => next(3) as i64,
            };
            let ip = match next(12) {
                0 => None,
                1 => Some(format!("10.0.0.{}", next(3))),
                2 => Some(format!("81.2.69.{}", next(4))),
                3 => Some(format!("2001:218::{:x}", next(3))),
                4 => Some(format!("89.160.{}.1", 19 + next(3))),
                5 => Some(format!("2a02:d300::{}", next(2))),
                6 => Some(format!("1.130.0.{}", next(3))),
                7 => Some(format!("::ffff:8.8.8.{}", next(2))),
                _ => Some(format!("{}.{}.7.1", 1 + next(220), next(2))),
            };
            let kind = kinds[next(kinds.len() as u64) as usize];
            let mut e = ev(
                secs,
                kind,
                ip.as_deref(),
                users[next(users.len() as u64) as usize],
                None,
            );
            e.ts.micros += micros;
            // Stamps apart in their offset alone.
            if next(25) == 0 {
                e.ts.offset = 0;
            }
            if next(9) == 0 {
                e.user = None;
            }
            e.count = 1 + next(2) as u32;
            e.attempts = match kind {
                Kind::AuthFailure | Kind::Refused => e.count,
                Kind::PamFailure => next(2) as u32,
                _ => 0,
            };
            e.pid = Some(next(50) as u32);
            evs.push(e);
        }
        let dir = tempfile::tempdir().unwrap();
        let city = dir.path().join("city.mmdb");
        let asn = dir.path().join("asn.mmdb");
        mmdb_writer::fixtures::maxmind_city().write(&city);
        mmdb_writer::fixtures::maxmind_asn().write(&asn);
        let with_asn = Locator::from_config(&GeoConfig {
            geoip: Some(city),
            asn: Some(asn),
            data_dir: None,
        })
        .unwrap();
        let embedded = Locator::embedded();
        let measures = [
            None,
            Some(vec![Kind::AuthSuccess, Kind::PreauthClose]),
            Some(vec![]),
        ];
        // The log's offset: whole hours, and not (a stamp's local hour then
        // starts apart from its UTC hour).
        let half: Vec<Event> = evs
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.ts.offset = 19_800;
                e
            })
            .collect();
        let cases = [
            (0, Some(&embedded), &evs[..]),
            (1, Some(&with_asn), &evs),
            (2, None, &evs),
            (0, Some(&embedded), &half[..]),
        ];
        for (l, locator, evs) in cases {
            for kinds in &measures {
                for (details, bins) in [(false, false), (true, false), (false, true)] {
                    let opts = || AggregateOptions {
                        kinds: kinds.clone(),
                        bins: bins.then_some(BinOptions {
                            secs: 600,
                            from: None,
                            to: None,
                            points: true,
                        }),
                        details,
                    };
                    let ctx = format!(
                        "locator {l}, offset {}, kinds {kinds:?}, details {details}, bins {bins}",
                        evs[0].ts.offset
                    );
                    let mut one = Aggregate::new(opts());
                    let en = Enricher::new(locator);
                    for e in evs {
                        one.add_enriching(e, &en);
                    }
                    let mut enriched = Aggregate::new(opts());
                    let mut en = Enricher::new(locator);
                    for e in evs {
                        let mut e = e.clone();
                        en.enrich(&mut e);
                        enriched.add(&e);
                    }
                    let mut flow = Aggregate::new(opts());
                    let mut en = Enricher::new(locator);
                    let mut rest = evs;
                    while !rest.is_empty() {
                        let n = (next(300) as usize).min(rest.len());
                        let mut list = rest[..n].to_vec();
                        flow.enrich_events(&mut list, &mut en).unwrap();
                        assert!(list.is_empty());
                        rest = &rest[n..];
                        if next(5) == 0 {
                            let mut others =
                                vec![ev(secs, Kind::Other, Some("81.2.69.1"), "x", None)];
                            flow.enrich_events(&mut others, &mut en).unwrap();
                        }
                    }
                    assert_same_views(&one, &flow, &ctx);
                    assert_same_views(&enriched, &flow, &ctx);
                    if l == 1 {
                        assert!(flow.asns().len() >= 3, "{ctx}");
                    }
                }
            }
        }
    }

    #[test]
    fn what_a_view_asks_for_changes_no_total() {
        let plain = {
            let mut a = Aggregate::default();
            events().iter().for_each(|e| a.add(e));
            a
        };
        let mut rich = Aggregate::new(AggregateOptions {
            kinds: None,
            bins: Some(BinOptions {
                secs: 600,
                from: None,
                to: None,
                points: true,
            }),
            details: true,
        });
        events().iter().for_each(|e| rich.add(e));
        assert_eq!(plain.summary(50, vec![]), rich.summary(50, vec![]));
        let bins = rich.bins().unwrap();
        assert_eq!(bins.attempts(), rich.attempts());
        let (all, _) = rich.series();
        assert_eq!(all.iter().map(|c| c.1).sum::<u64>(), rich.attempts());
        let c = plain.counts();
        // DE is seen only in a login, 192.0.2.9 only logs in: neither is attacking.
        assert_eq!((c.unique_ips, c.countries, c.addresses), (4, 3, 5));
        assert_eq!(plain.countries().len(), 4);
        assert!(plain.unlocated() > 0);
        assert_eq!(
            plain.attacking_ips().map(|(_, a)| a.attempts).sum::<u64>(),
            events()
                .iter()
                .filter(|e| e.ip.is_some())
                .map(|e| u64::from(e.attempts))
                .sum::<u64>()
        );
    }

    #[test]
    fn kinds_replace_attempts_everywhere() {
        let mut a = Aggregate::new(AggregateOptions {
            kinds: Some(vec![Kind::AuthSuccess]),
            ..AggregateOptions::default()
        });
        events().iter().for_each(|e| a.add(e));
        let logins = events()
            .iter()
            .filter(|e| e.kind == Kind::AuthSuccess)
            .count() as u64;
        assert_eq!(a.attempts(), logins);
        assert_eq!(a.countries()["DE"].attempts, 1);
        assert_eq!(a.hour_of_day().iter().sum::<u64>(), logins);
        assert_eq!(a.counts().unique_ips, 5);
    }

    /// The top list picks its candidates before formatting them: for every
    /// cut, ties at the edge included, it is the head of the full ordering.
    #[test]
    fn the_top_addresses_are_the_head_of_the_full_ordering_ties_included() {
        let mut a = Aggregate::default();
        // Attempts 1..=4 over 60 addresses: many ties at every cut, and
        // address texts that sort differently from the numbers (9 < 10 as
        // numbers, "10.…" < "9.…" as text).
        for i in 0..60u32 {
            let ip = format!("{}.0.0.{}", 1 + i % 12, i);
            for _ in 0..=(i % 4) {
                a.add(&ev(
                    1_800_000_000 + i64::from(i),
                    Kind::AuthFailure,
                    Some(&ip),
                    "root",
                    Some("FR"),
                ));
            }
        }
        let all = a.summary(1000, vec![]).top_ips;
        assert_eq!(all.len(), 60);
        for top in [0, 1, 2, 14, 15, 16, 30, 59, 60, 61] {
            let head: Vec<_> = a
                .summary(top, vec![])
                .top_ips
                .into_iter()
                .map(|t| t.ip)
                .collect();
            let want: Vec<_> = all.iter().take(top).map(|t| t.ip.clone()).collect();
            assert_eq!(head, want, "top {top}");
        }
    }
}
