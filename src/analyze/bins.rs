//! Time bins of attack attempts (the timelapse's frames): the part of the
//! [`super::Aggregate`] that `--bin` asks for.
//!
//! Bins are numbered from the Unix epoch in the local time of the data (the
//! offset of the first event, or of `--from`), so events can be counted as
//! they stream in, before the span of the data — and so the first frame — is
//! known. Memory is one small entry per bin that saw an attempt, never one per
//! event.

use std::collections::BTreeMap;

use crate::event::{Event, Geo, Ts};

/// What the aggregate should bin: width, range and whether to keep places.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BinOptions {
    pub secs: u64,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
    /// Keep where attempts came from, per bin (the timelapse's points).
    pub points: bool,
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
    index: std::collections::HashMap<String, u32>,
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

/// At most this many distinct places per bin are kept for points: beyond it
/// the dots would cover the map anyway, and memory stays bounded.
const MAX_POINTS_PER_BIN: usize = 4096;

/// Attempts counted into bins as they stream in.
#[derive(Debug)]
pub struct TimeBins {
    pub bin_secs: i64,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
    points: bool,
    /// Local offset of the bins (of the first event, or of `--from`).
    pub offset: Option<i32>,
    pub countries: Countries,
    /// The user names of [`Bin::users`].
    pub users: Names,
    pub bins: BTreeMap<i64, Bin>,
    /// First and last bin that saw an attempt.
    pub first: Option<i64>,
    pub last: Option<i64>,
}

impl TimeBins {
    pub fn new(o: BinOptions) -> TimeBins {
        TimeBins {
            bin_secs: o.secs.max(1) as i64,
            from: o.from,
            to: o.to,
            points: o.points,
            offset: o.from.map(|t| t.offset),
            countries: Countries::default(),
            users: Names::default(),
            bins: BTreeMap::new(),
            first: None,
            last: None,
        }
    }

    /// Counts `attempts` of `ev` (the aggregate's measure of it), from the
    /// place `geo` (the event's, or its address's), when it is inside
    /// `--from`/`--to`.
    pub fn add(&mut self, ev: &Event, geo: Option<&Geo>, attempts: u32) {
        if attempts == 0 {
            return;
        }
        if self.from.is_some_and(|f| ev.ts.micros < f.micros)
            || self.to.is_some_and(|t| ev.ts.micros >= t.micros)
        {
            return;
        }
        let country = geo.and_then(|g| g.country.as_deref());
        let b = self.count(ev.ts.unix_secs(), ev.ts.offset, country, attempts);
        let bin = self.bins.get_mut(&b).expect("just counted");
        // The accounts tried (the accounts panel, the summary).
        if let Some(id) = ev.user.as_deref().and_then(|u| self.users.id(u)) {
            match bin.users.binary_search_by_key(&id, |&(i, _)| i) {
                Ok(i) => bin.users[i].1 += attempts,
                Err(i) if bin.users.len() < MAX_POINTS_PER_BIN => {
                    bin.users.insert(i, (id, attempts))
                }
                Err(_) => {}
            }
        }
        if self.points {
            if let Some((lat, lon)) = geo.and_then(|g| g.lat.zip(g.lon)) {
                let (lat, lon) = (lat as f32, lon as f32);
                // Linear search: a bin holds few distinct places, and most
                // attempts repeat the place of the one before.
                match bin.points.iter().rposition(|p| p.0 == lat && p.1 == lon) {
                    Some(i) => bin.points[i].2 += attempts,
                    None if bin.points.len() < MAX_POINTS_PER_BIN => {
                        bin.points.push((lat, lon, attempts))
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

    /// Attempts in all bins.
    pub fn attempts(&self) -> u64 {
        self.bins.values().map(Bin::attempts).sum()
    }
}
