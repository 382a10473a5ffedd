//! The frame timeline: `--bin` and `--fade` values, and the frames between
//! `--from` and `--to` made of the aggregate's time bins
//! ([`crate::analyze::TimeBins`], where events are counted).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};

#[cfg(test)]
use crate::event::Event;
use crate::event::Ts;

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

use crate::analyze::{Aggregate, TimeBins};
#[cfg(test)]
use crate::analyze::{AggregateOptions, BinOptions};
pub use crate::analyze::{Bin, Countries, Names};

/// The summary's count of addresses has no cap: it is the aggregate's
/// `unique_ips`, the number `stats`, the map and the report show.
pub const MAX_ADDRESSES: usize = usize::MAX;

/// Time bins fed directly (tests): an aggregate with bins underneath, so
/// events are counted by the same code as a flow's.
#[cfg(test)]
pub struct Binner(Aggregate);

#[cfg(test)]
impl Binner {
    pub fn new(bin_secs: u64, from: Option<Ts>, to: Option<Ts>, points: bool) -> Binner {
        Binner(Aggregate::new(AggregateOptions {
            bins: Some(BinOptions {
                secs: bin_secs,
                from,
                to,
                points,
            }),
            ..AggregateOptions::default()
        }))
    }

    /// Counts one event if it is an attack attempt inside `--from`/`--to`.
    pub fn add(&mut self, ev: &Event) {
        self.0.add(ev);
    }

    /// See [`TimeBins::count`].
    pub fn count(&mut self, secs: i64, offset: i32, country: Option<&str>, attempts: u32) -> i64 {
        let bins = self.0.bins_mut().expect("made with bins");
        bins.count(secs, offset, country, attempts)
    }

    pub fn finish(self) -> Timeline {
        Timeline::of(self.0)
    }
}

impl Timeline {
    /// The frames of an aggregate made with bins; the summary's addresses are
    /// its `unique_ips` (`None` when no event was read: rollups only).
    pub fn of(mut agg: Aggregate) -> Timeline {
        let addresses = (agg.events() > 0).then(|| agg.counts().unique_ips);
        let mut tl = Timeline::from(agg.take_bins().expect("made with bins"));
        tl.addresses = addresses;
        tl
    }
}

/// The frames: `--from`/`--to` where given, else the span of the data.
impl From<TimeBins> for Timeline {
    fn from(b: TimeBins) -> Timeline {
        let offset = b.offset.unwrap_or(0);
        let local_bin = |t: Ts, ceil: bool| {
            let local = t.micros.div_euclid(1_000_000) + i64::from(offset);
            let sub = t.micros.rem_euclid(1_000_000) != 0;
            let n = local.div_euclid(b.bin_secs);
            if ceil && (local.rem_euclid(b.bin_secs) != 0 || sub) {
                n + 1
            } else {
                n
            }
        };
        let start = match b.from {
            Some(f) => local_bin(f, false),
            None => b.first.unwrap_or(0),
        };
        let end = match b.to {
            Some(t) => local_bin(t, true),
            None => b.last.map_or(start, |l| l + 1),
        };
        Timeline {
            bin_secs: b.bin_secs,
            offset,
            start,
            frames: (end - start).max(0) as usize,
            bins: b.bins,
            countries: b.countries,
            users: b.users,
            addresses: None,
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
    use crate::event::{Geo, Kind};
    use std::sync::Arc;

    fn ev(secs: i64, country: Option<&str>, attempts: u32) -> Event {
        Event {
            ts: Ts::from_micros(secs * 1_000_000, 0),
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
            ..Event::at_line(1)
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
