//! The frame timeline: `--bin` and `--fade` values, and events aggregated into time bins between `--from` and `--to`.
//!
//! Bins are numbered from the Unix epoch in the local time of the data (the
//! offset of the first event), so events can be aggregated as they stream in,
//! before the span of the data — and so the first frame — is known. Memory is
//! one small entry per bin that saw an attempt, never one per event.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use anyhow::{bail, Context, Result};

use crate::event::{Event, Ts};

/// Parses `--bin`: a duration such as `1m`, `30s`, `1h` ([`crate::duration::seconds`]), at least one second.
pub fn parse_bin(s: &str) -> Result<u64> {
    match crate::duration::seconds(s) {
        Some(n) if n >= 1 => Ok(n as u64),
        Some(_) => bail!("--bin {s:?}: the shortest bin is 1s"),
        None => bail!("--bin {s:?} is not a duration: use e.g. 1m, 30s, 1h or 1d"),
    }
}

/// The `--fade` half-life in bins: a bare number is bins (`5`, `2.5`), else a duration (`5m`).
pub fn parse_half_life(s: &str, bin_secs: u64) -> Result<f64> {
    if let Ok(n) = s.trim().parse::<f64>() {
        if n.is_finite() && n > 0.0 {
            return Ok(n);
        }
        bail!("--fade {s}: the half-life must be positive (bins, e.g. 5, or a duration, e.g. 5m)");
    }
    let secs = crate::duration::seconds(s)
        .with_context(|| format!("--fade {s:?}: give a number of bins (5) or a duration (5m)"))?;
    if secs <= 0 {
        bail!("--fade {s}: the half-life must be positive");
    }
    Ok(secs as f64 / bin_secs as f64)
}

/// What one bin saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bin {
    /// Attempts per country (index into [`Countries`]), sorted by index.
    pub countries: Vec<(u16, u32)>,
    /// Attempts from places without a country (private addresses, unknown).
    pub unplaced: u64,
    /// Where attempts came from: (lat, lon, attempts), one entry per place.
    pub points: Vec<(f32, f32, u32)>,
    /// Attempts per user name (index into [`Names`]), sorted by index; only
    /// when events are read (the store's rollups have no user names).
    pub users: Vec<(u32, u32)>,
}

impl Bin {
    pub fn attempts(&self) -> u64 {
        self.unplaced
            + self
                .countries
                .iter()
                .map(|&(_, n)| u64::from(n))
                .sum::<u64>()
    }
}

/// ISO codes seen in the data, numbered in order of appearance.
#[derive(Clone, Debug, Default)]
pub struct Countries {
    codes: Vec<String>,
    index: std::collections::HashMap<String, u16>,
}

impl Countries {
    pub fn id(&mut self, iso2: &str) -> u16 {
        if let Some(&i) = self.index.get(iso2) {
            return i;
        }
        let i = self.codes.len() as u16;
        self.codes.push(iso2.to_string());
        self.index.insert(iso2.to_string(), i);
        i
    }

    pub fn code(&self, id: u16) -> &str {
        &self.codes[usize::from(id)]
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }
}

/// User names seen in the data, numbered in order of appearance: at most
/// [`MAX_NAMES`]; attempts on names beyond that are not counted per user.
#[derive(Clone, Debug, Default)]
pub struct Names {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

/// Distinct user names kept for the accounts panel and the summary.
pub const MAX_NAMES: usize = 1 << 20;

impl Names {
    pub fn id(&mut self, name: &str) -> Option<u32> {
        if let Some(&i) = self.index.get(name) {
            return Some(i);
        }
        if self.names.len() >= MAX_NAMES {
            return None;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        Some(i)
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }
}

/// Distinct attacking addresses counted for the summary; beyond this the count says "at least".
pub const MAX_ADDRESSES: usize = 1 << 20;

/// At most this many distinct places per bin are kept for points: beyond it
/// the dots would cover the map anyway, and memory stays bounded.
const MAX_POINTS_PER_BIN: usize = 4096;

/// Aggregates events into bins as they stream in.
#[derive(Debug)]
pub struct Binner {
    bin_secs: i64,
    from: Option<Ts>,
    to: Option<Ts>,
    points: bool,
    /// Local offset of the bins (of the first event, or of `--from`).
    offset: Option<i32>,
    pub countries: Countries,
    bins: BTreeMap<i64, Bin>,
    first: Option<i64>,
    last: Option<i64>,
    users: Names,
    /// Attacking addresses, when events were read (`None`: rollups only).
    addresses: Option<HashSet<IpAddr>>,
}

impl Binner {
    pub fn new(bin_secs: u64, from: Option<Ts>, to: Option<Ts>, points: bool) -> Binner {
        Binner {
            bin_secs: bin_secs.max(1) as i64,
            from,
            to,
            points,
            offset: from.map(|t| t.offset),
            countries: Countries::default(),
            bins: BTreeMap::new(),
            first: None,
            last: None,
            users: Names::default(),
            addresses: None,
        }
    }

    /// Counts one event if it is an attack attempt inside `--from`/`--to`.
    pub fn add(&mut self, ev: &Event) {
        if ev.attempts == 0 {
            return;
        }
        if self.from.is_some_and(|f| ev.ts.micros < f.micros)
            || self.to.is_some_and(|t| ev.ts.micros >= t.micros)
        {
            return;
        }
        let country = ev.geo.as_ref().and_then(|g| g.country.as_deref());
        let b = self.count(ev.ts.unix_secs(), ev.ts.offset, country, ev.attempts);
        let bin = self.bins.get_mut(&b).expect("just counted");
        // The accounts tried and the addresses (the accounts panel, the summary).
        if let Some(id) = ev.user.as_deref().and_then(|u| self.users.id(u)) {
            match bin.users.binary_search_by_key(&id, |&(i, _)| i) {
                Ok(i) => bin.users[i].1 += ev.attempts,
                Err(i) if bin.users.len() < MAX_POINTS_PER_BIN => {
                    bin.users.insert(i, (id, ev.attempts))
                }
                Err(_) => {}
            }
        }
        let addresses = self.addresses.get_or_insert_with(HashSet::new);
        if let Some(ip) = ev.ip {
            if addresses.len() < MAX_ADDRESSES {
                addresses.insert(ip);
            }
        }
        if self.points {
            if let Some((lat, lon)) = ev.geo.as_ref().and_then(|g| g.lat.zip(g.lon)) {
                let (lat, lon) = (lat as f32, lon as f32);
                // Linear search: a bin holds few distinct places, and most
                // attempts repeat the place of the one before.
                match bin.points.iter().rposition(|p| p.0 == lat && p.1 == lon) {
                    Some(i) => bin.points[i].2 += ev.attempts,
                    None if bin.points.len() < MAX_POINTS_PER_BIN => {
                        bin.points.push((lat, lon, ev.attempts))
                    }
                    None => {}
                }
            }
        }
    }

    /// Counts `attempts` from `country` at `secs` (an event in `offset`, or a
    /// rollup row of the store); returns the bin. `--from`/`--to` are the caller's.
    pub fn count(&mut self, secs: i64, offset: i32, country: Option<&str>, attempts: u32) -> i64 {
        let offset = *self.offset.get_or_insert(offset);
        let b = (secs + i64::from(offset)).div_euclid(self.bin_secs);
        self.first = Some(self.first.map_or(b, |f| f.min(b)));
        self.last = Some(self.last.map_or(b, |l| l.max(b)));
        let country = country.map(|c| self.countries.id(c));
        let bin = self.bins.entry(b).or_default();
        match country {
            Some(id) => match bin.countries.binary_search_by_key(&id, |&(i, _)| i) {
                Ok(i) => bin.countries[i].1 += attempts,
                Err(i) => bin.countries.insert(i, (id, attempts)),
            },
            None => bin.unplaced += u64::from(attempts),
        }
        b
    }

    /// The frames: `--from`/`--to` where given, else the span of the data.
    pub fn finish(self) -> Timeline {
        let offset = self.offset.unwrap_or(0);
        let local_bin = |t: Ts, ceil: bool| {
            let local = t.micros.div_euclid(1_000_000) + i64::from(offset);
            let sub = t.micros.rem_euclid(1_000_000) != 0;
            let b = local.div_euclid(self.bin_secs);
            if ceil && (local.rem_euclid(self.bin_secs) != 0 || sub) {
                b + 1
            } else {
                b
            }
        };
        let start = match self.from {
            Some(f) => local_bin(f, false),
            None => self.first.unwrap_or(0),
        };
        let end = match self.to {
            Some(t) => local_bin(t, true),
            None => self.last.map_or(start, |l| l + 1),
        };
        Timeline {
            bin_secs: self.bin_secs,
            offset,
            start,
            frames: (end - start).max(0) as usize,
            bins: self.bins,
            countries: self.countries,
            users: self.users,
            addresses: self.addresses.map(|a| a.len() as u64),
        }
    }
}

/// Bins from `start` to `start + frames`, one frame each.
#[derive(Debug)]
pub struct Timeline {
    pub bin_secs: i64,
    /// Offset from UTC, in seconds, in which the clock is shown.
    pub offset: i32,
    /// First bin number (local seconds / bin_secs).
    pub start: i64,
    pub frames: usize,
    bins: BTreeMap<i64, Bin>,
    pub countries: Countries,
    /// The user names of [`Bin::users`].
    pub users: Names,
    /// Distinct attacking addresses (at most [`MAX_ADDRESSES`]); `None` when
    /// the bins came from the store's rollups, which do not keep them per minute.
    pub addresses: Option<u64>,
}

static EMPTY: Bin = Bin {
    countries: Vec::new(),
    unplaced: 0,
    points: Vec::new(),
    users: Vec::new(),
};

impl Timeline {
    /// What frame `i` saw (empty if nothing).
    pub fn bin(&self, frame: usize) -> &Bin {
        self.bins
            .get(&(self.start + frame as i64))
            .unwrap_or(&EMPTY)
    }

    /// Start of frame `i`, in local seconds since the epoch.
    pub fn local_start(&self, frame: usize) -> i64 {
        (self.start + frame as i64) * self.bin_secs
    }

    /// Whether the frames cover more than one calendar day (the clock then shows the date).
    pub fn spans_days(&self) -> bool {
        if self.frames == 0 {
            return false;
        }
        let first = self.local_start(0).div_euclid(86_400);
        let last = (self.local_start(self.frames) - 1).div_euclid(86_400);
        first != last
    }

    /// The clock of frame `i`: `HH:MM` (with seconds for sub-minute bins), the date first when the range spans days.
    pub fn clock(&self, frame: usize) -> String {
        let t = self.local_start(frame);
        let (days, sod) = (t.div_euclid(86_400), t.rem_euclid(86_400));
        let mut s = String::new();
        if self.spans_days() {
            let (y, m, d) = crate::event::civil_from_days(days);
            s = format!("{y:04}-{m:02}-{d:02} ");
        }
        s += &format!("{:02}:{:02}", sod / 3600, (sod / 60) % 60);
        if self.bin_secs % 60 != 0 {
            s += &format!(":{:02}", sod % 60);
        }
        s
    }

    /// The calendar date (`YYYY-MM-DD`, in the clock's offset) of frame `i`.
    pub fn date(&self, frame: usize) -> String {
        let (y, m, d) = crate::event::civil_from_days(self.local_start(frame).div_euclid(86_400));
        format!("{y:04}-{m:02}-{d:02}")
    }

    /// `+00:00`-style offset label of the clock.
    pub fn offset_label(&self) -> String {
        let a = self.offset.unsigned_abs();
        if self.offset == 0 {
            return "UTC".into();
        }
        format!(
            "UTC{}{:02}:{:02}",
            if self.offset < 0 { '-' } else { '+' },
            a / 3600,
            (a / 60) % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Geo, Kind, Src};
    use std::sync::Arc;

    fn ev(secs: i64, country: Option<&str>, attempts: u32) -> Event {
        Event {
            ts: Ts::from_micros(secs * 1_000_000, 0),
            host: None,
            program: Arc::from("sshd"),
            pid: None,
            kind: Kind::AuthFailure,
            method: None,
            user: None,
            invalid_user: false,
            ip: None,
            port: None,
            count: attempts,
            attempts,
            geo: country.map(|c| {
                Arc::new(Geo {
                    country: Some(Arc::from(c)),
                    lat: Some(1.0),
                    lon: Some(2.0),
                    ..Geo::default()
                })
            }),
            scope: None,
            honeypot: None,
            src: Src {
                input: Arc::from("t"),
                line: 1,
            },
        }
    }

    #[test]
    fn bins_and_half_lives() {
        assert_eq!(parse_bin("1m").unwrap(), 60);
        assert_eq!(parse_bin("1s").unwrap(), 1);
        assert_eq!(parse_bin("2d").unwrap(), 172_800);
        assert!(parse_bin("0s")
            .unwrap_err()
            .to_string()
            .contains("shortest"));
        assert!(parse_bin("1x").is_err());
        assert_eq!(parse_half_life("5", 60).unwrap(), 5.0);
        assert_eq!(parse_half_life("2.5", 60).unwrap(), 2.5);
        assert_eq!(parse_half_life("10m", 60).unwrap(), 10.0);
        assert_eq!(parse_half_life("30s", 60).unwrap(), 0.5);
        assert!(parse_half_life("0", 60).is_err());
        assert!(parse_half_life("soon", 60).is_err());
    }

    #[test]
    fn span_of_the_data_in_whole_bins() {
        let day = 20_000 * 86_400;
        let mut b = Binner::new(60, None, None, true);
        b.add(&ev(day + 30, Some("FR"), 1)); // 00:00:30
        b.add(&ev(day + 7199, Some("CN"), 2)); // 01:59:59
        b.add(&ev(day + 7199, Some("CN"), 3));
        b.add(&ev(day + 100, None, 4));
        let mut no = ev(day + 100, Some("FR"), 0);
        no.kind = Kind::InvalidUser;
        b.add(&no);
        let tl = b.finish();
        assert_eq!(tl.frames, 120);
        assert_eq!(tl.clock(0), "00:00");
        assert_eq!(tl.clock(119), "01:59");
        let fr = tl.countries.code(tl.bin(0).countries[0].0).to_string();
        assert_eq!(fr, "FR");
        assert_eq!(tl.bin(119).countries, vec![(1, 5)]);
        assert_eq!(tl.bin(119).points, vec![(1.0, 2.0, 5)]);
        assert_eq!(tl.bin(1).unplaced, 4);
        assert_eq!(tl.bin(1).attempts(), 4);
        assert!(tl.bin(50).countries.is_empty());
    }

    #[test]
    fn from_to_bound_the_frames_and_filter() {
        let day = 20_000 * 86_400;
        let from = Ts::from_micros((day + 3600) * 1_000_000, 0);
        let to = Ts::from_micros((day + 2 * 86_400) * 1_000_000, 0);
        let mut b = Binner::new(3600, Some(from), Some(to), false);
        b.add(&ev(day + 10, Some("FR"), 1)); // before --from: dropped
        b.add(&ev(day + 3600, Some("CN"), 1));
        let tl = b.finish();
        assert_eq!(tl.frames, 47);
        assert!(tl.spans_days());
        assert_eq!(tl.clock(0), "2024-10-04 01:00");
        assert_eq!(tl.bin(0).countries.len(), 1);
        assert!(tl.bin(0).points.is_empty());
    }

    #[test]
    fn seconds_on_the_clock_for_sub_minute_bins() {
        let mut b = Binner::new(1, None, None, false);
        b.add(&ev(20_000 * 86_400 + 61, Some("FR"), 1));
        let tl = b.finish();
        assert_eq!(tl.frames, 1);
        assert_eq!(tl.clock(0), "00:01:01");
    }
}
