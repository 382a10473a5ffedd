//! Analyze: aggregates over events — totals, top lists, time histograms.
//!
//! [`Stats`] is fed one event at a time (memory grows with distinct IPs, users
//! and hours, not with the number of lines) and produces the `stats --json`
//! object of DESIGN §1, the same whether events come from logs or a store.

pub(crate) mod table;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::event::{Event, Kind, Ts};
use crate::flow::InputReport;

#[derive(Default)]
struct IpAgg {
    attempts: u64,
    events: u64,
    country: Option<Arc<str>>,
    asn: Option<u32>,
    org: Option<Arc<str>>,
    first: i64,
    last: i64,
}

#[derive(Default)]
struct CountryAgg {
    name: Option<Arc<str>>,
    attempts: u64,
    events: u64,
}

/// Running aggregate of events.
#[derive(Default)]
pub struct Stats {
    from: Option<Ts>,
    to: Option<Ts>,
    events: u64,
    attempts: u64,
    by_kind: [u64; Kind::ALL.len()],
    ips: HashMap<IpAddr, IpAgg>,
    users: HashMap<String, u64>,
    countries: HashMap<Arc<str>, CountryAgg>,
    asns: HashMap<u32, (Option<Arc<str>>, u64)>,
    /// Unix hour → (attempts, events).
    hours: BTreeMap<i64, (u64, u64)>,
    hour_of_day: [u64; 24],
    /// The hour being counted: (unix hour, attempts, events), folded into `hours` on change.
    hour_run: Option<(i64, u64, u64)>,
    /// Logins that came after failures or from a new country, and the others,
    /// each capped at [`MAX_SUCCESSES`]; `successes_total` counts them all.
    suspicious: Vec<Success>,
    ordinary: Vec<Success>,
    successes_total: u64,
    suspicious_total: u64,
    /// Countries each user has logged in from (for "new country for the user").
    login_countries: HashMap<String, Vec<Arc<str>>>,
    /// Offset of the first event, used to show hours in the log's own zone.
    offset: i32,
}

/// A successful login (shown because it is what intrusion alerts are about).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Success {
    pub ts: String,
    pub user: Option<String>,
    pub ip: Option<String>,
    pub method: Option<String>,
    pub country: Option<String>,
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

/// Keep at most this many successful logins of each class (suspicious, ordinary).
const MAX_SUCCESSES: usize = 1000;

impl Stats {
    pub fn new() -> Stats {
        Stats::default()
    }

    pub fn add(&mut self, ev: &Event) {
        if ev.kind == Kind::Other {
            return;
        }
        if self.events == 0 {
            self.offset = ev.ts.offset;
        }
        self.events += 1;
        self.from = Some(self.from.map_or(ev.ts, |f| f.min(ev.ts)));
        self.to = Some(self.to.map_or(ev.ts, |t| t.max(ev.ts)));
        let attempts = u64::from(ev.attempts);
        self.attempts += attempts;
        self.by_kind[ev.kind as usize] += 1;
        let secs = ev.ts.unix_secs();
        // Events arrive mostly in time order: add to the current hour without a tree lookup.
        let hour = secs.div_euclid(3600);
        match &mut self.hour_run {
            Some((h, a, n)) if *h == hour => {
                *a += attempts;
                *n += 1;
            }
            run => {
                if let Some((h, a, n)) = run.take() {
                    let e = self.hours.entry(h).or_default();
                    e.0 += a;
                    e.1 += n;
                }
                *run = Some((hour, attempts, 1));
            }
        }
        let local = secs + i64::from(self.offset);
        self.hour_of_day[local.rem_euclid(86_400) as usize / 3600] += attempts;
        let geo = ev.geo.as_ref();
        if let Some(ip) = ev.ip {
            let a = self.ips.entry(ip).or_insert_with(|| IpAgg {
                first: secs,
                last: secs,
                ..IpAgg::default()
            });
            a.attempts += attempts;
            a.events += 1;
            a.first = a.first.min(secs);
            a.last = a.last.max(secs);
            if a.country.is_none() {
                a.country = geo.and_then(|g| g.country.clone());
                a.asn = geo.and_then(|g| g.asn);
                a.org = geo.and_then(|g| g.org.clone());
            }
        }
        if let Some(c) = geo.and_then(|g| g.country.clone()) {
            let agg = self.countries.entry(c).or_default();
            agg.attempts += attempts;
            agg.events += 1;
            if agg.name.is_none() {
                agg.name = geo.and_then(|g| g.country_name.clone());
            }
        }
        if let Some(asn) = geo.and_then(|g| g.asn) {
            let e = self
                .asns
                .entry(asn)
                .or_insert_with(|| (geo.and_then(|g| g.org.clone()), 0));
            e.1 += attempts;
        }
        if attempts > 0 {
            if let Some(u) = &ev.user {
                if let Some(n) = self.users.get_mut(u.as_str()) {
                    *n += attempts;
                } else {
                    self.users.insert(u.clone(), attempts);
                }
            }
        }
        if ev.kind == Kind::AuthSuccess {
            self.add_success(ev);
        }
    }

    /// Records a login with what came before it (read before this event counts:
    /// a login is no attempt, so the address and user totals are the failures before).
    fn add_success(&mut self, ev: &Event) {
        self.successes_total += 1;
        let country = ev.geo.as_ref().and_then(|g| g.country.clone());
        let mut new_country = false;
        if let (Some(u), Some(c)) = (&ev.user, &country) {
            let seen = self.login_countries.entry(u.clone()).or_default();
            if !seen.contains(c) {
                new_country = !seen.is_empty();
                if seen.len() < 16 {
                    seen.push(c.clone());
                }
            }
        }
        let s = Success {
            ts: ev.ts.to_rfc3339(),
            user: ev.user.clone(),
            ip: ev.ip.map(|i| i.to_string()),
            method: ev.method.clone(),
            country: country.as_deref().map(str::to_string),
            failures_from_ip: ev
                .ip
                .and_then(|ip| self.ips.get(&ip))
                .map_or(0, |a| a.attempts),
            failures_for_user: ev
                .user
                .as_deref()
                .and_then(|u| self.users.get(u))
                .copied()
                .unwrap_or(0),
            new_country,
        };
        let list = if s.suspicious() {
            self.suspicious_total += 1;
            &mut self.suspicious
        } else {
            &mut self.ordinary
        };
        if list.len() < MAX_SUCCESSES {
            list.push(s);
        }
    }

    /// Suspicious logins first (most failures from the address, then for the
    /// user, then a new country), then the others in time order; at most
    /// [`MAX_SUCCESSES`] in all.
    fn ranked_successes(&self) -> Vec<Success> {
        let mut out = self.suspicious.clone();
        out.sort_by(|a, b| {
            b.failures_from_ip
                .cmp(&a.failures_from_ip)
                .then(b.new_country.cmp(&a.new_country))
                .then(b.failures_for_user.cmp(&a.failures_for_user))
                .then(a.ts.cmp(&b.ts))
        });
        let room = MAX_SUCCESSES.saturating_sub(out.len());
        out.extend(self.ordinary.iter().take(room).cloned());
        out
    }

    /// The `stats --json` object.
    pub fn summary(&self, top: usize, inputs: Vec<InputReport>) -> Summary {
        let mut top_ips: Vec<TopIp> = self
            .ips
            .iter()
            .map(|(ip, a)| TopIp {
                ip: ip.to_string(),
                attempts: a.attempts,
                events: a.events,
                country: a.country.as_deref().map(str::to_string),
                asn: a.asn,
                org: a.org.as_deref().map(str::to_string),
                first: Ts::from_micros(a.first * 1_000_000, self.offset).to_rfc3339(),
                last: Ts::from_micros(a.last * 1_000_000, self.offset).to_rfc3339(),
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
            .map(|(u, &n)| TopUser {
                user: u.clone(),
                attempts: n,
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
            .map(|(&asn, (org, n))| TopAsn {
                asn,
                org: org.as_deref().map(str::to_string),
                attempts: *n,
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
        Summary {
            from: self.from.map(Ts::to_rfc3339),
            to: self.to.map(Ts::to_rfc3339),
            events: self.events,
            attempts: self.attempts,
            unique_ips: self.ips.values().filter(|a| a.attempts > 0).count() as u64,
            countries: self.countries.values().filter(|c| c.attempts > 0).count() as u64,
            addresses: self.ips.len() as u64,
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
