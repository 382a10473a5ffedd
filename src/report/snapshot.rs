//! The report's data: the aggregate's numbers folded into a compact
//! snapshot that the page's JavaScript explores (and that the live map sends
//! its clients).
//!
//! Every count comes from [`crate::analyze::Aggregate`] (built with
//! `details: true`), the same aggregate as `sshmap stats --json`, `map` and
//! `chart`; this file only chooses what to embed. The busiest addresses are
//! kept in full (time series, users tried, sessions); the rest only count per
//! country and time, so a report of ten million events stays a few megabytes.

use std::net::IpAddr;
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use serde::Serialize;

use crate::analyze::{Aggregate, AsnAgg, CountryAgg, IpAgg, Session, Summary, SERIES_BIN};
use crate::event::Kind;
use crate::geo::countries;

use super::world;

/// Base bin: the aggregate's series. Bins are widened here to keep at most [`MAX_BINS`].
const BASE: i64 = SERIES_BIN;
const MAX_BINS: i64 = 400;
/// Addresses kept in full, at most, and at most this many (address, bin) cells among them.
const MAX_IPS: usize = 3000;
const MAX_IP_CELLS: usize = 200_000;
/// Addresses whose sessions are embedded (the busiest, plus every one that logged in).
const MAX_SESSION_IPS: usize = 300;
const MAX_USERS: usize = 500;
const MAX_ASNS: usize = 500;

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

fn ip_series(r: &IpAgg) -> &[(i64, u64, u64)] {
    r.detail.as_ref().map_or(&[], |d| &d.series)
}

fn logins_of(r: &IpAgg) -> u32 {
    r.detail.as_ref().map_or(0, |d| d.successes)
}

impl Snapshot {
    /// Builds the snapshot the page renders from an aggregate made with
    /// `details: true` (without them, addresses, users and networks have no series).
    pub fn build(agg: &Aggregate, opts: &Options, summary: &Summary) -> Snapshot {
        let offset = agg.offset().unwrap_or(0);
        let (global, global_succ) = agg.series();
        let span = opts
            .span
            .map(|(a, b)| (a.div_euclid(BASE), b.div_euclid(BASE)));
        let mut lo = global.iter().map(|c| c.0).min();
        let mut hi = global.iter().map(|c| c.0).max();
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
        for (b, a, e) in rebin(global) {
            series[b][0] = a;
            series[b][1] = e;
        }
        for (b, s, _) in rebin(global_succ) {
            series[b][2] = s;
        }

        // Countries, busiest first; index into this list is the `c` of addresses.
        let mut cs: Vec<(&Arc<str>, &CountryAgg)> = agg.countries().iter().collect();
        cs.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
        let country_idx: HashMap<&str, usize> = cs
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (&***c, i))
            .collect();
        let countries: Vec<CountryOut> = cs
            .iter()
            .map(|(cc, c)| {
                let xy = countries::label_point(cc).map(|(lat, lon)| world::project(lon, lat));
                CountryOut {
                    cc: cc.to_string(),
                    name: c
                        .name
                        .as_deref()
                        .map(str::to_string)
                        .or_else(|| countries::name(cc).map(str::to_string))
                        .unwrap_or_else(|| cc.to_string()),
                    x: xy.map(|p| p.0),
                    y: xy.map(|p| p.1),
                    s: flat3(&c.series),
                }
            })
            .collect();

        // Addresses kept in full: the busiest, within the cell budget, plus every one that logged in.
        let mut order: Vec<_> = agg.ips().iter().collect();
        order.sort_by(|(xi, x), (yi, y)| {
            y.attempts
                .cmp(&x.attempts)
                .then(y.events.cmp(&x.events))
                .then(xi.cmp(yi))
        });
        let mut kept = Vec::new();
        let mut others = Vec::new();
        let mut cells = 0usize;
        for &(ip, r) in &order {
            let n = ip_series(r).len().min(nbins);
            if (kept.len() < MAX_IPS && cells + n <= MAX_IP_CELLS) || logins_of(r) > 0 {
                cells += n;
                kept.push((ip, r));
            } else {
                others.push(r);
            }
        }
        let session_ips: std::collections::HashSet<&IpAddr> = kept
            .iter()
            .take(MAX_SESSION_IPS)
            .chain(kept.iter().filter(|(_, r)| logins_of(r) > 0))
            .map(|(ip, _)| *ip)
            .collect();
        let out_index: HashMap<IpAddr, usize> = kept
            .iter()
            .enumerate()
            .map(|(k, (ip, _))| (**ip, k))
            .collect();
        let uname = |u: u32| agg.user_name(u).map(str::to_string);
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
            .map(|&(ip, r)| {
                let geo = r.geo.as_deref();
                let xy = geo
                    .and_then(|g| g.lat.zip(g.lon))
                    .map(|(lat, lon)| world::project(lon, lat));
                let d = r.detail.as_deref();
                let mut users: Vec<(String, u64)> = d
                    .map(|d| &d.users[..])
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|&(u, n)| Some((uname(u)?, n)))
                    .collect();
                users.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                let sessions = session_ips
                    .contains(ip)
                    .then(|| d.map(|d| d.sessions.iter().map(session_out).collect()))
                    .flatten();
                IpOut {
                    ip: show_ip(*ip, opts.anonymize_ip),
                    c: r.country().and_then(|c| country_idx.get(&**c).copied()),
                    city: geo.and_then(|g| g.city.as_deref()).map(str::to_string),
                    p: geo.and_then(|g| g.precision),
                    x: xy.map(|p| p.0),
                    y: xy.map(|p| p.1),
                    asn: geo.and_then(|g| g.asn),
                    org: geo.and_then(|g| g.org.as_deref()).map(str::to_string),
                    a: r.attempts,
                    e: r.events,
                    f: r.first,
                    l: r.last,
                    u: users,
                    um: d.is_some_and(|d| d.more_users),
                    ok: logins_of(r),
                    s: flat3(ip_series(r)),
                    ss: sessions,
                }
            })
            .collect();

        // The others only count, by the bins of their first and last event (for unique addresses in a range).
        let mut iv: HashMap<(usize, usize), u64> = HashMap::default();
        for r in &others {
            let f = (r.first.div_euclid(BASE).div_euclid(factor) - b0) as usize;
            let l = (r.last.div_euclid(BASE).div_euclid(factor) - b0) as usize;
            *iv.entry((f, l)).or_default() += 1;
        }
        let mut iv: Vec<((usize, usize), u64)> = iv.into_iter().collect();
        iv.sort_unstable();

        let mut user_list: Vec<_> = agg.users().iter().filter(|u| u.attempts > 0).collect();
        user_list.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.name.cmp(&b.name)));
        user_list.truncate(MAX_USERS);
        let users = user_list
            .into_iter()
            .map(|u| UserOut {
                u: u.name.clone(),
                s: flat2(&u.series),
            })
            .collect();
        let mut asn_list: Vec<(&u32, &AsnAgg)> = agg.asns().iter().collect();
        asn_list.sort_by(|a, b| b.1.attempts.cmp(&a.1.attempts).then(a.0.cmp(b.0)));
        asn_list.truncate(MAX_ASNS);
        let asns = asn_list
            .into_iter()
            .map(|(&asn, a)| AsnOut {
                asn,
                org: a.org.as_deref().map(str::to_string),
                s: flat3(&a.series),
            })
            .collect();

        let successes = agg
            .logins()
            .map(|s| SuccessOut {
                t: s.ts.unix_secs(),
                i: s.ip.and_then(|i| out_index.get(&i).copied()),
                ip: s.ip.map(|i| show_ip(i, opts.anonymize_ip)),
                u: s.user.clone(),
                m: s.method.clone(),
                c: s.country.as_deref().map(str::to_string),
                fb: s.failures_from_ip,
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
        let (logins, suspicious) = agg.login_totals();

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
                successes: logins,
                suspicious,
            },
            bin: BASE * factor,
            t0: b0 * factor * BASE,
            series,
            countries,
            ips,
            others: Others {
                ips: others.len() as u64,
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

    use crate::analyze::AggregateOptions;
    use crate::event::{Event, Ts};

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
            user: Some(user.into()),
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
        let mut c = Aggregate::new(AggregateOptions {
            details: true,
            ..AggregateOptions::default()
        });
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
        let snap = Snapshot::build(&c, &Options::default(), &summary);
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

    fn detailed() -> Aggregate {
        Aggregate::new(AggregateOptions {
            details: true,
            ..AggregateOptions::default()
        })
    }

    #[test]
    fn honeypot_logins_keep_their_connections_passwords_and_commands_within_budget() {
        use crate::analyze::{COMMAND_CHARS_PER_LOGIN, PASSWORD_CHARS};
        let mut c = detailed();
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
        let snap = Snapshot::build(&c, &Options::default(), &c.summary(10, vec![]));
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
        let mut c = detailed();
        let ip = "198.51.100.1".parse().unwrap();
        c.add(&event(t, ip, "root", "US", 1, Kind::AuthFailure));
        c.add(&event(t, ip, "root", "US", 1, Kind::AuthSuccess));
        let snap = Snapshot::build(&c, &Options::default(), &c.summary(10, vec![]));
        let json = serde_json::to_value(&snap.successes[0]).unwrap();
        for k in ["pw", "cmd", "cmdm"] {
            assert!(json.get(k).is_none(), "{k} in {json}");
        }
        assert!(json["rf"][0].get("p").is_none(), "{json}");
    }

    /// Without details (stats, map, chart) the aggregate keeps no password or
    /// command: its summary is the same with or without the honeypot's text.
    #[test]
    fn honeypot_text_changes_no_total() {
        let t = 1_790_000_000;
        let evs = [
            cowrie(t, 2000, Kind::AuthFailure, "123456"),
            cowrie(t + 1, 2000, Kind::AuthSuccess, "toor"),
            cowrie(t + 2, 2000, Kind::Command, "uname -a"),
        ];
        let mut with = detailed();
        let mut plain = Aggregate::default();
        let mut bare = Aggregate::default();
        for e in &evs {
            with.add(e);
            plain.add(e);
            let mut e = e.clone();
            e.honeypot = None;
            bare.add(&e);
        }
        let j = |a: &Aggregate| serde_json::to_string(&a.summary(10, vec![])).unwrap();
        assert_eq!(j(&with), j(&plain));
        assert_eq!(j(&plain), j(&bare));
        assert!(plain
            .logins()
            .all(|l| l.passwords.is_empty() && l.commands.is_empty()));
        assert_eq!(with.logins().next().unwrap().commands.len(), 1);
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
