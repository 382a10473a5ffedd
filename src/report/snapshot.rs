//! The report's data: events folded in Rust into a compact snapshot that the
//! page's JavaScript explores (and that the live map will send its clients).
//!
//! Memory grows with distinct addresses, users and five-minute bins, never with
//! lines. At the end the busiest addresses are kept in full (time series, users
//! tried, sessions); the rest only count per country and time, so a report of
//! ten million events stays a few megabytes. Every number the page shows for
//! the whole range is exact: totals come from [`crate::analyze::Stats`], the
//! same code as `sshmap stats --json`.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::analyze::{Stats, Summary};
use crate::event::{Event, Kind, Ts};
use crate::geo::countries;

use super::world;

/// Base bin: five minutes. Bins are widened at the end to keep at most [`MAX_BINS`].
const BASE: i64 = 300;
const MAX_BINS: i64 = 400;
/// Addresses kept in full, at most, and at most this many (address, bin) cells among them.
const MAX_IPS: usize = 3000;
const MAX_IP_CELLS: usize = 200_000;
/// Addresses whose sessions are embedded (the busiest, plus every one that logged in).
const MAX_SESSION_IPS: usize = 300;
const SESSIONS_PER_IP: usize = 8;
const USERS_PER_IP: usize = 24;
const USERS_PER_SESSION: usize = 4;
const FAILURES_KEPT: usize = 10;
/// Sessions of its address kept with each login (those just before it).
const SESSIONS_AT_LOGIN: usize = 4;
const MAX_USERS: usize = 500;
const MAX_ASNS: usize = 500;
const MAX_SUCCESSES: usize = 1000;
/// A honeypot's passwords and commands (Cowrie): characters kept of each, and
/// at most this many characters of commands per login (the page stays a few
/// megabytes whatever an attacker pastes).
const PASSWORD_CHARS: usize = 128;
const COMMAND_CHARS: usize = 512;
const COMMAND_CHARS_PER_LOGIN: usize = 2048;

/// How the report shows addresses.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub title: String,
    /// Addresses as networks (/24, /48) everywhere in the page, user and host
    /// names included (for reports shared publicly): applied by [`super::render`].
    pub anonymize_ip: bool,
    /// A time span (Unix seconds) the time axis covers even where it has no
    /// events: the live page's window, so events that arrive later fall inside it.
    pub span: Option<(i64, i64)>,
}

/// An address as the report may show it: its network with `--anonymize-ip`
/// ([`crate::anonymize::ip`], the same text as the live map's events).
pub fn show_ip(ip: IpAddr, anonymize: bool) -> String {
    if anonymize {
        crate::anonymize::ip(ip)
    } else {
        ip.to_string()
    }
}

/// Appends to a time series of (bin, a, b) kept in arrival order, merging runs of one bin.
fn bump(series: &mut Vec<(i64, u64, u64)>, bin: i64, a: u64, b: u64) {
    match series.last_mut() {
        Some(last) if last.0 == bin => {
            last.1 += a;
            last.2 += b;
        }
        _ => series.push((bin, a, b)),
    }
}

#[derive(Clone)]
struct Failure {
    secs: i64,
    user: u32,
    kind: Kind,
    /// The connection it came on (pid, or source port when there is no pid).
    pid: Option<u32>,
    port: Option<u16>,
    /// A honeypot's record of the password tried.
    password: Option<Box<str>>,
}

/// Attacker text cut to `max` characters (`…` marks a cut).
fn clip(s: &str, max: usize) -> Box<str> {
    match s.char_indices().nth(max) {
        None => s.into(),
        Some((i, _)) => format!("{}…", &s[..i]).into(),
    }
}

/// Whether two events of one address came on the same connection: the same
/// sshd pid or, for servers that log no pid (Cowrie), the same source port,
/// within `GAP` seconds.
fn same_conn(a: (Option<u32>, Option<u16>, i64), b: (Option<u32>, Option<u16>, i64)) -> bool {
    const GAP: i64 = 3600;
    let near = (a.2 - b.2).abs() < GAP;
    near && match (a.0, b.0) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.1.is_some() && a.1 == b.1,
        _ => false,
    }
}

#[derive(Clone)]
struct Session {
    pid: Option<u32>,
    host: Option<Arc<str>>,
    port: Option<u16>,
    start: i64,
    end: i64,
    attempts: u64,
    users: Vec<u32>,
    kinds: u32,
}

struct IpRec {
    ip: IpAddr,
    country: Option<Arc<str>>,
    city: Option<Arc<str>>,
    lat: Option<f64>,
    lon: Option<f64>,
    precision: Option<&'static str>,
    asn: Option<u32>,
    org: Option<Arc<str>>,
    attempts: u64,
    events: u64,
    first: i64,
    last: i64,
    series: Vec<(i64, u64, u64)>,
    /// (user id, attempts), at most [`USERS_PER_IP`]; `more_users` counts attempts beyond.
    users: Vec<(u32, u64)>,
    more_users: bool,
    failures: u64,
    recent: VecDeque<Failure>,
    sessions: VecDeque<Session>,
    successes: u32,
}

#[derive(Default)]
struct SeriesAgg {
    name: Option<Arc<str>>,
    attempts: u64,
    series: Vec<(i64, u64, u64)>,
}

struct SuccessRec {
    ts: Ts,
    ip: Option<usize>,
    user: Option<String>,
    method: Option<String>,
    country: Option<Arc<str>>,
    failures_before: u64,
    failures_for_user: u64,
    new_country: bool,
    recent: Vec<Failure>,
    /// The address's last sessions when the login came (its own included when
    /// earlier lines of that connection were seen), for "sessions around this login".
    sessions: Vec<Session>,
    /// A honeypot's passwords tried on this login's connection, in order, the
    /// last the one that got in: (user id, password).
    passwords: Vec<(u32, Box<str>)>,
    /// Commands typed after the login (time, text), within the budget, and
    /// how many more were typed.
    commands: Vec<(i64, Box<str>)>,
    command_chars: usize,
    commands_more: u64,
}

impl SuccessRec {
    fn suspicious(&self) -> bool {
        self.failures_before > 0 || self.failures_for_user > 0 || self.new_country
    }
}

const NO_USER: u32 = u32::MAX;

/// Folds events into the report snapshot.
pub struct Collector {
    stats: Stats,
    offset: Option<i32>,
    global: Vec<(i64, u64, u64)>,
    global_succ: Vec<(i64, u64, u64)>,
    ip_index: HashMap<IpAddr, usize>,
    ips: Vec<IpRec>,
    user_index: HashMap<String, u32>,
    user_names: Vec<String>,
    users: Vec<SeriesAgg>,
    countries: HashMap<Arc<str>, SeriesAgg>,
    asns: HashMap<u32, SeriesAgg>,
    /// Logins kept for the page: suspicious ones and the others, each capped
    /// at [`MAX_SUCCESSES`], so a day of routine logins cannot crowd out one
    /// that came after a brute force.
    successes: Vec<SuccessRec>,
    ordinary: Vec<SuccessRec>,
    successes_total: u64,
    suspicious_total: u64,
    /// Countries each user id has logged in from.
    login_countries: HashMap<u32, Vec<Arc<str>>>,
    /// The kept login of each pid-less connection (address, source port):
    /// where its commands go. (suspicious list?, index); at most one entry
    /// per kept login.
    login_conns: HashMap<(IpAddr, u16), (bool, usize)>,
}

impl Default for Collector {
    fn default() -> Self {
        Collector::new()
    }
}

impl Collector {
    pub fn new() -> Collector {
        Collector {
            stats: Stats::new(),
            offset: None,
            global: Vec::new(),
            global_succ: Vec::new(),
            ip_index: HashMap::default(),
            ips: Vec::new(),
            user_index: HashMap::default(),
            user_names: Vec::new(),
            users: Vec::new(),
            countries: HashMap::default(),
            asns: HashMap::default(),
            successes: Vec::new(),
            ordinary: Vec::new(),
            successes_total: 0,
            suspicious_total: 0,
            login_countries: HashMap::default(),
            login_conns: HashMap::default(),
        }
    }

    fn user_id(&mut self, u: &str) -> u32 {
        if let Some(&id) = self.user_index.get(u) {
            return id;
        }
        let id = self.user_names.len() as u32;
        self.user_index.insert(u.to_string(), id);
        self.user_names.push(u.to_string());
        self.users.push(SeriesAgg::default());
        id
    }

    pub fn add(&mut self, ev: &Event) {
        if ev.kind == Kind::Other {
            return;
        }
        self.stats.add(ev);
        self.offset.get_or_insert(ev.ts.offset);
        let secs = ev.ts.unix_secs();
        let bin = secs.div_euclid(BASE);
        let attempts = u64::from(ev.attempts);
        let success = ev.kind == Kind::AuthSuccess;
        bump(&mut self.global, bin, attempts, 1);
        if success {
            self.successes_total += 1;
            bump(&mut self.global_succ, bin, 1, 0);
        }
        let uid = match &ev.user {
            Some(u) => self.user_id(u),
            None => NO_USER,
        };
        if attempts > 0 && uid != NO_USER {
            let u = &mut self.users[uid as usize];
            u.attempts += attempts;
            bump(&mut u.series, bin, attempts, 0);
        }
        let geo = ev.geo.as_ref();
        if let Some(c) = geo.and_then(|g| g.country.as_ref()) {
            let agg = match self.countries.get_mut(c) {
                Some(a) => a,
                None => self.countries.entry(c.clone()).or_default(),
            };
            if agg.name.is_none() {
                agg.name = geo.and_then(|g| g.country_name.clone());
            }
            agg.attempts += attempts;
            bump(&mut agg.series, bin, attempts, 1);
        }
        if let Some(asn) = geo.and_then(|g| g.asn) {
            let agg = self.asns.entry(asn).or_default();
            if agg.name.is_none() {
                agg.name = geo.and_then(|g| g.org.clone());
            }
            agg.attempts += attempts;
            bump(&mut agg.series, bin, attempts, 1);
        }
        let Some(ip) = ev.ip else {
            if success {
                self.push_success(ev, None, uid);
            }
            return;
        };
        let idx = match self.ip_index.get(&ip) {
            Some(&i) => i,
            None => {
                let i = self.ips.len();
                self.ip_index.insert(ip, i);
                self.ips.push(IpRec {
                    ip,
                    country: geo.and_then(|g| g.country.clone()),
                    city: geo.and_then(|g| g.city.clone()),
                    lat: geo.and_then(|g| g.lat),
                    lon: geo.and_then(|g| g.lon),
                    precision: geo.and_then(|g| g.precision),
                    asn: geo.and_then(|g| g.asn),
                    org: geo.and_then(|g| g.org.clone()),
                    attempts: 0,
                    events: 0,
                    first: secs,
                    last: secs,
                    series: Vec::new(),
                    users: Vec::new(),
                    more_users: false,
                    failures: 0,
                    recent: VecDeque::new(),
                    sessions: VecDeque::new(),
                    successes: 0,
                });
                i
            }
        };
        if success {
            self.push_success(ev, Some(idx), uid);
        }
        if ev.kind == Kind::Command {
            self.add_command(ev, ip, secs);
        }
        let r = &mut self.ips[idx];
        r.attempts += attempts;
        r.events += 1;
        r.first = r.first.min(secs);
        r.last = r.last.max(secs);
        bump(&mut r.series, bin, attempts, 1);
        if success {
            r.successes += 1;
        }
        if attempts > 0 {
            if uid != NO_USER {
                if let Some(e) = r.users.iter_mut().find(|(u, _)| *u == uid) {
                    e.1 += attempts;
                } else if r.users.len() < USERS_PER_IP {
                    r.users.push((uid, attempts));
                } else {
                    r.more_users = true;
                }
            }
            r.failures += attempts;
            if r.recent.len() == FAILURES_KEPT {
                r.recent.pop_front();
            }
            r.recent.push_back(Failure {
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
        let s = r.sessions.iter_mut().rev().take(4).find(|s| {
            s.host == ev.host && same_conn((s.pid, s.port, s.end), (ev.pid, ev.port, secs))
        });
        let s = match s {
            Some(s) => s,
            None => {
                if r.sessions.len() == SESSIONS_PER_IP {
                    r.sessions.pop_front();
                }
                r.sessions.push_back(Session {
                    pid: ev.pid,
                    host: ev.host.clone(),
                    port: ev.port,
                    start: secs,
                    end: secs,
                    attempts: 0,
                    users: Vec::new(),
                    kinds: 0,
                });
                r.sessions.back_mut().expect("just pushed")
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

    fn push_success(&mut self, ev: &Event, ip: Option<usize>, uid: u32) {
        let country = ev.geo.as_ref().and_then(|g| g.country.clone());
        let mut new_country = false;
        if let (true, Some(c)) = (uid != NO_USER, &country) {
            let seen = self.login_countries.entry(uid).or_default();
            if !seen.contains(c) {
                new_country = !seen.is_empty();
                if seen.len() < 16 {
                    seen.push(c.clone());
                }
            }
        }
        let secs = ev.ts.unix_secs();
        let (failures_before, recent, sessions) = match ip.map(|i| &self.ips[i]) {
            Some(r) => (
                r.failures,
                r.recent.iter().cloned().collect::<Vec<Failure>>(),
                r.sessions
                    .iter()
                    .skip(r.sessions.len().saturating_sub(SESSIONS_AT_LOGIN))
                    .cloned()
                    .collect(),
            ),
            None => (0, Vec::new(), Vec::new()),
        };
        // The passwords tried on this connection, then the one that got in.
        let mut passwords: Vec<(u32, Box<str>)> = recent
            .iter()
            .filter(|f| same_conn((f.pid, f.port, f.secs), (ev.pid, ev.port, secs)))
            .filter_map(|f| Some((f.user, f.password.clone()?)))
            .collect();
        if let Some(p) = ev.password() {
            passwords.push((uid, clip(p, PASSWORD_CHARS)));
        }
        let rec = SuccessRec {
            ts: ev.ts,
            ip,
            user: ev.user.clone(),
            method: ev.method.clone(),
            country,
            failures_before,
            failures_for_user: if uid == NO_USER {
                0
            } else {
                self.users[uid as usize].attempts
            },
            new_country,
            recent,
            sessions,
            passwords,
            commands: Vec::new(),
            command_chars: 0,
            commands_more: 0,
        };
        let suspicious = rec.suspicious();
        let list = if suspicious {
            self.suspicious_total += 1;
            &mut self.successes
        } else {
            &mut self.ordinary
        };
        if list.len() < MAX_SUCCESSES {
            list.push(rec);
            if let (None, Some(ip), Some(port)) = (ev.pid, ev.ip, ev.port) {
                self.login_conns
                    .insert((ip, port), (suspicious, list.len() - 1));
            }
        }
    }

    /// A command typed after a login (a honeypot's record): kept with the
    /// login of its connection, in order, within the per-login budget.
    fn add_command(&mut self, ev: &Event, ip: IpAddr, secs: i64) {
        let (Some(port), Some(text)) = (ev.port, ev.command()) else {
            return;
        };
        let Some(&(suspicious, i)) = self.login_conns.get(&(ip, port)) else {
            return;
        };
        let list = if suspicious {
            &mut self.successes
        } else {
            &mut self.ordinary
        };
        let rec = &mut list[i];
        let text = clip(text, COMMAND_CHARS);
        let n = text.chars().count();
        if rec.command_chars + n > COMMAND_CHARS_PER_LOGIN {
            rec.commands_more += 1;
            return;
        }
        rec.command_chars += n;
        rec.commands.push((secs, text));
    }

    /// The `stats --json` object of the same events (the report's totals).
    pub fn summary(&self, top: usize, inputs: Vec<crate::flow::InputReport>) -> Summary {
        self.stats.summary(top, inputs)
    }

    /// Builds the snapshot the page renders.
    pub fn snapshot(&self, opts: &Options, summary: &Summary) -> Snapshot {
        let offset = self.offset.unwrap_or(0);
        let span = opts
            .span
            .map(|(a, b)| (a.div_euclid(BASE), b.div_euclid(BASE)));
        let mut lo = self.global.iter().map(|c| c.0).min();
        let mut hi = self.global.iter().map(|c| c.0).max();
        if let Some((a, b)) = span {
            lo = Some(lo.map_or(a, |l| l.min(a)));
            hi = Some(hi.map_or(b, |h| h.max(b)));
        }
        let (lo, hi) = (lo.unwrap_or(0), hi.unwrap_or(0));
        // Widen bins (5 min, 15 min, 1 h, …) until the range fits MAX_BINS.
        let factor = [1i64, 3, 6, 12, 24, 72, 144, 288, 2016]
            .into_iter()
            .find(|f| (hi.div_euclid(*f) - lo.div_euclid(*f) + 1) <= MAX_BINS)
            .unwrap_or(2016 * ((hi - lo) / (2016 * MAX_BINS) + 1));
        let b0 = lo.div_euclid(factor);
        let nbins = (hi.div_euclid(factor) - b0 + 1).max(1) as usize;
        let rebin = |s: &[(i64, u64, u64)]| -> Vec<(usize, u64, u64)> {
            let mut v: Vec<(usize, u64, u64)> = s
                .iter()
                .map(|&(b, a, e)| ((b.div_euclid(factor) - b0) as usize, a, e))
                .collect();
            v.sort_unstable_by_key(|c| c.0);
            let mut out: Vec<(usize, u64, u64)> = Vec::with_capacity(v.len());
            for c in v {
                match out.last_mut() {
                    Some(l) if l.0 == c.0 => {
                        l.1 += c.1;
                        l.2 += c.2;
                    }
                    _ => out.push(c),
                }
            }
            out
        };
        let flat3 = |s: &[(i64, u64, u64)]| -> Vec<u64> {
            rebin(s)
                .into_iter()
                .flat_map(|(b, a, e)| [b as u64, a, e])
                .collect()
        };
        let flat2 = |s: &[(i64, u64, u64)]| -> Vec<u64> {
            rebin(s)
                .into_iter()
                .flat_map(|(b, a, _)| [b as u64, a])
                .collect()
        };
        let mut series = vec![[0u64; 3]; nbins];
        for (b, a, e) in rebin(&self.global) {
            series[b][0] = a;
            series[b][1] = e;
        }
        for (b, s, _) in rebin(&self.global_succ) {
            series[b][2] = s;
        }

        // Countries, busiest first; index into this list is the `c` of addresses.
        let mut cs: Vec<(&Arc<str>, &SeriesAgg)> = self.countries.iter().collect();
        cs.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
        let country_idx: HashMap<&str, usize> = cs
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (&***c, i))
            .collect();
        let countries: Vec<CountryOut> = cs
            .iter()
            .map(|(cc, agg)| {
                let xy = countries::label_point(cc).map(|(lat, lon)| world::project(lon, lat));
                CountryOut {
                    cc: cc.to_string(),
                    name: agg
                        .name
                        .as_deref()
                        .map(str::to_string)
                        .or_else(|| countries::name(cc).map(str::to_string))
                        .unwrap_or_else(|| cc.to_string()),
                    x: xy.map(|p| p.0),
                    y: xy.map(|p| p.1),
                    s: flat3(&agg.series),
                }
            })
            .collect();

        // Addresses kept in full: the busiest, within the cell budget, plus every one that logged in.
        let mut order: Vec<usize> = (0..self.ips.len()).collect();
        order.sort_by(|&a, &b| {
            let (x, y) = (&self.ips[a], &self.ips[b]);
            y.attempts
                .cmp(&x.attempts)
                .then(y.events.cmp(&x.events))
                .then(x.ip.cmp(&y.ip))
        });
        let mut detailed = vec![false; self.ips.len()];
        let mut kept = Vec::new();
        let mut cells = 0usize;
        for &i in &order {
            let r = &self.ips[i];
            let n = r.series.len().min(nbins);
            if (kept.len() < MAX_IPS && cells + n <= MAX_IP_CELLS) || r.successes > 0 {
                cells += n;
                detailed[i] = true;
                kept.push(i);
            }
        }
        let session_ips: std::collections::HashSet<usize> = kept
            .iter()
            .copied()
            .take(MAX_SESSION_IPS)
            .chain(kept.iter().copied().filter(|&i| self.ips[i].successes > 0))
            .collect();
        let mut out_index = vec![usize::MAX; self.ips.len()];
        let uname = |u: u32| self.user_names.get(u as usize).cloned();
        let session_out = |s: &Session| SessionOut {
            host: s.host.as_deref().map(str::to_string),
            pid: s.pid,
            port: s.port,
            start: s.start,
            end: s.end,
            attempts: s.attempts,
            users: s.users.iter().filter_map(|&u| uname(u)).collect(),
            kinds: Kind::ALL
                .iter()
                .filter(|k| s.kinds & (1 << (**k as u32)) != 0)
                .map(|k| k.as_str())
                .collect(),
        };
        let ips: Vec<IpOut> = kept
            .iter()
            .enumerate()
            .map(|(k, &i)| {
                out_index[i] = k;
                let r = &self.ips[i];
                let xy = r.lat.zip(r.lon).map(|(lat, lon)| world::project(lon, lat));
                let mut users: Vec<(String, u64)> = r
                    .users
                    .iter()
                    .filter_map(|&(u, n)| Some((uname(u)?, n)))
                    .collect();
                users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let sessions = session_ips
                    .contains(&i)
                    .then(|| r.sessions.iter().map(session_out).collect());
                IpOut {
                    ip: show_ip(r.ip, opts.anonymize_ip),
                    c: r.country
                        .as_deref()
                        .and_then(|c| country_idx.get(c).copied()),
                    city: r.city.as_deref().map(str::to_string),
                    p: r.precision,
                    x: xy.map(|p| p.0),
                    y: xy.map(|p| p.1),
                    asn: r.asn,
                    org: r.org.as_deref().map(str::to_string),
                    a: r.attempts,
                    e: r.events,
                    f: r.first,
                    l: r.last,
                    u: users,
                    um: r.more_users,
                    ok: r.successes,
                    s: flat3(&r.series),
                    ss: sessions,
                }
            })
            .collect();

        // The others only count, by the bins of their first and last event (for unique addresses in a range).
        let mut iv: HashMap<(usize, usize), u64> = HashMap::default();
        let mut others = 0u64;
        for (i, r) in self.ips.iter().enumerate() {
            if detailed[i] {
                continue;
            }
            others += 1;
            let f = (r.first.div_euclid(BASE).div_euclid(factor) - b0) as usize;
            let l = (r.last.div_euclid(BASE).div_euclid(factor) - b0) as usize;
            *iv.entry((f, l)).or_default() += 1;
        }
        let mut iv: Vec<((usize, usize), u64)> = iv.into_iter().collect();
        iv.sort_unstable();

        let mut user_list: Vec<(&str, &SeriesAgg)> = self
            .users
            .iter()
            .enumerate()
            .filter(|(_, a)| a.attempts > 0)
            .map(|(i, a)| (self.user_names[i].as_str(), a))
            .collect();
        user_list.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
        user_list.truncate(MAX_USERS);
        let users = user_list
            .into_iter()
            .map(|(u, a)| UserOut {
                u: u.to_string(),
                s: flat2(&a.series),
            })
            .collect();
        let mut asn_list: Vec<(&u32, &SeriesAgg)> = self.asns.iter().collect();
        asn_list.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
        asn_list.truncate(MAX_ASNS);
        let asns = asn_list
            .into_iter()
            .map(|(&asn, a)| AsnOut {
                asn,
                org: a.name.as_deref().map(str::to_string),
                s: flat3(&a.series),
            })
            .collect();

        let successes = self
            .successes
            .iter()
            .chain(&self.ordinary)
            .map(|s| SuccessOut {
                t: s.ts.unix_secs(),
                i: s.ip.map(|i| out_index[i]).filter(|&k| k != usize::MAX),
                ip: s.ip.map(|i| show_ip(self.ips[i].ip, opts.anonymize_ip)),
                u: s.user.clone(),
                m: s.method.clone(),
                c: s.country.as_deref().map(str::to_string),
                fb: s.failures_before,
                fu: s.failures_for_user,
                nc: s.new_country,
                ss: s.sessions.iter().map(session_out).collect(),
                rf: s
                    .recent
                    .iter()
                    .map(|f| FailureOut {
                        t: f.secs,
                        u: uname(f.user),
                        k: f.kind.as_str(),
                        p: f.password.as_deref().map(str::to_string),
                    })
                    .collect(),
                pw: s
                    .passwords
                    .iter()
                    .map(|(u, p)| (uname(*u), p.to_string()))
                    .collect(),
                cmd: s
                    .commands
                    .iter()
                    .map(|(t, c)| (*t, c.to_string()))
                    .collect(),
                cmdm: s.commands_more,
            })
            .collect();

        Snapshot {
            v: 1,
            title: opts.title.clone(),
            anonymized: opts.anonymize_ip,
            offset,
            from: summary.from.clone(),
            to: summary.to.clone(),
            totals: Totals {
                events: summary.events,
                attempts: summary.attempts,
                unique_ips: summary.unique_ips,
                countries: summary.countries,
                successes: self.successes_total,
                suspicious: self.suspicious_total,
            },
            bin: BASE * factor,
            t0: b0 * factor * BASE,
            series,
            countries,
            ips,
            others: Others {
                ips: others,
                iv: iv
                    .into_iter()
                    .flat_map(|((f, l), n)| [f as u64, l as u64, n])
                    .collect(),
            },
            users,
            asns,
            successes,
            world: WorldOut {
                w: world::WIDTH,
                h: world::height(),
            },
        }
    }
}

#[derive(Serialize)]
pub struct Snapshot {
    pub v: u32,
    pub title: String,
    pub anonymized: bool,
    /// UTC offset (seconds) to show times in: the log's own.
    pub offset: i32,
    pub from: Option<String>,
    pub to: Option<String>,
    pub totals: Totals,
    /// Bin width in seconds and start of bin 0 (Unix seconds).
    pub bin: i64,
    pub t0: i64,
    /// Per bin: [attempts, events, successful logins].
    pub series: Vec<[u64; 3]>,
    pub countries: Vec<CountryOut>,
    pub ips: Vec<IpOut>,
    pub others: Others,
    pub users: Vec<UserOut>,
    pub asns: Vec<AsnOut>,
    pub successes: Vec<SuccessOut>,
    pub world: WorldOut,
}

#[derive(Serialize)]
pub struct Totals {
    pub events: u64,
    pub attempts: u64,
    pub unique_ips: u64,
    pub countries: u64,
    pub successes: u64,
    /// Logins after failures from the address or for the user, or from a new country.
    pub suspicious: u64,
}

/// A country; `s` is flat `[bin, attempts, events, …]`.
#[derive(Serialize)]
pub struct CountryOut {
    pub cc: String,
    pub name: String,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub s: Vec<u64>,
}

/// An address kept in full.
#[derive(Serialize)]
pub struct IpOut {
    pub ip: String,
    /// Index into `countries`.
    pub c: Option<usize>,
    pub city: Option<String>,
    /// Precision of the point: "city" or "country".
    pub p: Option<&'static str>,
    pub x: Option<f64>,
    pub y: Option<f64>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    pub a: u64,
    pub e: u64,
    pub f: i64,
    pub l: i64,
    /// Users tried, with attempts (capped; `um` says more were tried).
    pub u: Vec<(String, u64)>,
    pub um: bool,
    pub ok: u32,
    pub s: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ss: Option<Vec<SessionOut>>,
}

#[derive(Serialize)]
pub struct SessionOut {
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub port: Option<u16>,
    pub start: i64,
    pub end: i64,
    pub attempts: u64,
    pub users: Vec<String>,
    pub kinds: Vec<&'static str>,
}

/// Addresses not kept in full: how many, and flat `[first bin, last bin, count, …]`.
#[derive(Serialize)]
pub struct Others {
    pub ips: u64,
    pub iv: Vec<u64>,
}

/// A user name; `s` is flat `[bin, attempts, …]`.
#[derive(Serialize)]
pub struct UserOut {
    pub u: String,
    pub s: Vec<u64>,
}

#[derive(Serialize)]
pub struct AsnOut {
    pub asn: u32,
    pub org: Option<String>,
    pub s: Vec<u64>,
}

/// A successful login and the failures from its address before it.
#[derive(Serialize)]
pub struct SuccessOut {
    pub t: i64,
    /// Index into `ips`.
    pub i: Option<usize>,
    pub ip: Option<String>,
    pub u: Option<String>,
    pub m: Option<String>,
    pub c: Option<String>,
    /// Failed attempts from the same address before this login.
    pub fb: u64,
    /// Failed attempts on the same user name (any address) before this login.
    pub fu: u64,
    /// The user had logged in before, never from this country.
    pub nc: bool,
    /// The address's sessions just before this login.
    pub ss: Vec<SessionOut>,
    /// The last of them.
    pub rf: Vec<FailureOut>,
    /// A honeypot's passwords tried on the login's connection, in order, the
    /// last the one that got in: `[user, password]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pw: Vec<(Option<String>, String)>,
    /// Commands typed after the login, in order: `[time, command]`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<(i64, String)>,
    /// Commands typed beyond those kept.
    #[serde(skip_serializing_if = "is_zero")]
    pub cmdm: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Serialize)]
pub struct FailureOut {
    pub t: i64,
    pub u: Option<String>,
    pub k: &'static str,
    /// A honeypot's record of the password tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p: Option<String>,
}

#[derive(Serialize)]
pub struct WorldOut {
    pub w: f64,
    pub h: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(secs: i64, ip: IpAddr, user: &str, cc: &'static str, asn: u32, kind: Kind) -> Event {
        let geo = crate::event::Geo {
            country: Some(cc.into()),
            country_name: None,
            city: None,
            lat: Some(10.0),
            lon: Some(20.0),
            asn: Some(asn),
            org: Some("Some Net".into()),
            precision: Some("country"),
        };
        Event {
            ts: Ts::from_micros(secs * 1_000_000, 0),
            host: Some("h".into()),
            program: "sshd".into(),
            pid: Some((secs % 30_000) as u32),
            kind,
            method: Some("password".into()),
            user: Some(user.to_string()),
            invalid_user: false,
            ip: Some(ip),
            port: Some(22),
            count: 1,
            attempts: u32::from(kind == Kind::AuthFailure),
            geo: Some(Arc::new(geo)),
            scope: None,
            honeypot: None,
            src: crate::event::Src {
                input: "t".into(),
                line: 1,
            },
        }
    }

    #[test]
    fn a_month_of_many_addresses_stays_small_and_exact() {
        // 400k events, 100k addresses, 3000 user names, 700 networks over 30 days: every cap is hit.
        let mut c = Collector::new();
        let ccs = ["CN", "US", "RU", "DE", "BR", "IN", "VN", "NL", "FR", "KR"];
        let mut x = 12345u64;
        let t0 = 1_790_000_000i64;
        for i in 0..400_000i64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0b00_0000 + (x % 100_000) as u32));
            let user = format!("u{}", (x >> 20) % 3000);
            let kind = if i % 5000 == 0 {
                Kind::AuthSuccess
            } else {
                Kind::AuthFailure
            };
            c.add(&event(
                t0 + i * 6,
                ip,
                &user,
                ccs[(x % 10) as usize],
                ((x >> 8) % 700) as u32,
                kind,
            ));
        }
        let summary = c.summary(10, vec![]);
        let snap = c.snapshot(&Options::default(), &summary);
        let json = serde_json::to_string(&snap).unwrap();
        assert!(json.len() < 4_000_000, "snapshot is {} bytes", json.len());
        assert!(snap.series.len() <= MAX_BINS as usize);
        assert_eq!(
            snap.series.iter().map(|s| s[0]).sum::<u64>(),
            summary.attempts
        );
        assert_eq!(snap.ips.len() as u64 + snap.others.ips, summary.addresses);
        let others: u64 = snap.others.iv.chunks(3).map(|c| c[2]).sum();
        assert_eq!(others, snap.others.ips);
        assert_eq!(snap.totals.successes, 80);
    }

    /// A honeypot event: no pid, the connection told by its source port.
    fn cowrie(secs: i64, port: u16, kind: Kind, text: &str) -> Event {
        let mut e = event(secs, "203.0.113.9".parse().unwrap(), "root", "US", 1, kind);
        e.program = "cowrie".into();
        e.pid = None;
        e.port = Some(port);
        if kind == Kind::Command {
            e.user = None;
            e.method = None;
            e.honeypot = crate::event::Honeypot::boxed(None, Some(text.into()));
        } else {
            e.honeypot = crate::event::Honeypot::boxed(Some(text.into()), None);
        }
        e
    }

    #[test]
    fn honeypot_logins_keep_their_connections_passwords_and_commands_within_budget() {
        let mut c = Collector::new();
        let t = 1_790_000_000;
        c.add(&cowrie(t, 1000, Kind::AuthFailure, "other connection"));
        c.add(&cowrie(t + 1, 2000, Kind::AuthFailure, "123456"));
        c.add(&cowrie(t + 2, 2000, Kind::AuthFailure, &"x".repeat(1000)));
        c.add(&cowrie(t + 3, 2000, Kind::AuthSuccess, "toor"));
        // Typed on another connection of the address, which never logged in.
        c.add(&cowrie(t + 4, 1000, Kind::Command, "not this login's"));
        for i in 0..100 {
            c.add(&cowrie(
                t + 5 + i,
                2000,
                Kind::Command,
                &format!("{i:03} {}", "y".repeat(96)),
            ));
        }
        let snap = c.snapshot(&Options::default(), &c.summary(10, vec![]));
        let login = &snap.successes[0];
        let pw: Vec<&str> = login.pw.iter().map(|p| p.1.as_str()).collect();
        assert_eq!(pw.len(), 3, "{pw:?}");
        assert_eq!((pw[0], pw[2]), ("123456", "toor"));
        assert_eq!(pw[1], format!("{}…", "x".repeat(PASSWORD_CHARS)));
        assert!(login.pw.iter().all(|p| p.0.as_deref() == Some("root")));
        let shown: usize = login.cmd.iter().map(|c| c.1.chars().count()).sum();
        assert!(shown <= COMMAND_CHARS_PER_LOGIN && shown > COMMAND_CHARS_PER_LOGIN - 100);
        assert_eq!(login.cmd.len() as u64 + login.cmdm, 100);
        for (i, c) in login.cmd.iter().enumerate() {
            assert!(c.1.starts_with(&format!("{i:03} ")), "in order: {}", c.1);
        }
        // The earlier failure of the other connection shows its password in the list.
        assert_eq!(login.rf[0].p.as_deref(), Some("other connection"));
        // An sshd login (a pid, no password) has none of it.
        let mut c = Collector::new();
        let ip = "198.51.100.1".parse().unwrap();
        c.add(&event(t, ip, "root", "US", 1, Kind::AuthFailure));
        c.add(&event(t, ip, "root", "US", 1, Kind::AuthSuccess));
        let snap = c.snapshot(&Options::default(), &c.summary(10, vec![]));
        let json = serde_json::to_value(&snap.successes[0]).unwrap();
        for k in ["pw", "cmd", "cmdm"] {
            assert!(json.get(k).is_none(), "{k} in {json}");
        }
        assert!(json["rf"][0].get("p").is_none(), "{json}");
    }

    #[test]
    fn anonymizes_v4_and_v6() {
        assert_eq!(
            show_ip("203.0.113.77".parse().unwrap(), true),
            "203.0.113.0/24"
        );
        assert_eq!(
            show_ip("2001:db8:abcd:12::1".parse().unwrap(), true),
            "2001:db8:abcd::/48"
        );
        assert_eq!(
            show_ip("203.0.113.77".parse().unwrap(), false),
            "203.0.113.77"
        );
    }
}
