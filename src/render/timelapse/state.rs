//! What each frame shows, computed in frame order: lit countries, pulsing points, clock, counter, top 5.
//!
//! Everything that depends on earlier frames (the fade, the running count, the
//! trailing window) lives here, so frames themselves can be drawn in any order
//! on any thread from a [`FrameState`] alone.

use std::collections::{HashMap, VecDeque};

use super::fade::{Fade, Intensities};
use super::timeline::Timeline;

/// How long a point stays on screen, in half-lives: after four it is at 1/16 and gone.
const POINT_HALF_LIVES: f64 = 4.0;

/// A place attempts came from, `age` bins ago.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pulse {
    pub lat: f32,
    pub lon: f32,
    pub attempts: u32,
    pub age: u32,
}

/// Everything needed to draw one frame.
#[derive(Clone, Debug, PartialEq)]
pub struct FrameState {
    pub index: usize,
    pub clock: String,
    /// Attempts from the first frame through this one.
    pub total: u64,
    /// Attempts in this bin.
    pub now: u64,
    /// (ISO code, heat in [0, 1], presence in [0, 1]) of every lit country.
    pub lit: Vec<(String, f32, f32)>,
    pub pulses: Vec<Pulse>,
    /// The five countries with most attempts in the trailing window, with their counts.
    pub top: Vec<(String, u64)>,
    /// The accounts panel (`--accounts`): the five user names with most attempts
    /// in the trailing window, with their counts (attacker text, drawn escaped).
    /// `None`: no panel.
    pub accounts: Option<Vec<(String, u64)>>,
}

/// The part of a country's glow that stays when it has no attempt in a frame.
const BASE_GLOW: f64 = 0.5;

/// Steps through the timeline one frame at a time.
pub struct States<'a> {
    tl: &'a Timeline,
    fade: Fade,
    peak: f64,
    points: bool,
    window: usize,
    next: usize,
    total: u64,
    intensities: Intensities,
    /// Attempts per country over the trailing window, and the bins inside it.
    window_sums: Vec<u64>,
    /// Bins whose pulses are still visible, newest last.
    recent: VecDeque<usize>,
    point_life: u32,
    /// Attempts per user name over the trailing window, when the accounts panel is on.
    user_sums: Option<HashMap<u32, u64>>,
}

impl<'a> States<'a> {
    /// `window`: bins in the top-5 window (at least 1).
    pub fn new(tl: &'a Timeline, fade: Fade, points: bool, window: usize) -> States<'a> {
        States {
            tl,
            fade,
            peak: peak(tl, &fade),
            points,
            window: window.max(1),
            next: 0,
            total: 0,
            intensities: Intensities::new(),
            window_sums: vec![0; tl.countries.len()],
            recent: VecDeque::new(),
            point_life: (fade.half_life() * POINT_HALF_LIVES).ceil().max(1.0) as u32,
            user_sums: None,
        }
    }

    /// Adds the accounts panel: the top user names of the trailing window.
    pub fn with_accounts(mut self) -> States<'a> {
        self.user_sums = Some(HashMap::new());
        self
    }

    /// The top of the colour scale (see [`peak`]).
    pub fn peak(&self) -> f64 {
        self.peak
    }

    /// The state of the next frame. Call it once per frame, in order.
    pub fn next_state(&mut self) -> FrameState {
        let i = self.next;
        self.next += 1;
        let tl = self.tl;
        let bin = tl.bin(i);
        self.intensities.step(&self.fade, &bin.countries);
        let now = bin.attempts();
        self.total += now;

        for &(id, n) in &bin.countries {
            self.window_sums[usize::from(id)] += u64::from(n);
        }
        if i >= self.window {
            for &(id, n) in &tl.bin(i - self.window).countries {
                self.window_sums[usize::from(id)] -= u64::from(n);
            }
        }
        let mut top: Vec<(u16, u64)> = self
            .window_sums
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(id, &n)| (id as u16, n))
            .collect();
        top.sort_by(|a, b| {
            b.1.cmp(&a.1)
                .then_with(|| tl.countries.code(a.0).cmp(tl.countries.code(b.0)))
        });
        top.truncate(5);

        // Lit by each frame's share: a country glows at its faded level times a
        // factor from its share of this bin's attempts, so a dense day, where the
        // busiest countries sit at the top of the scale all day, still breathes
        // with who attacks most right now.
        let bin_max = bin.countries.iter().map(|&(_, n)| n).max().unwrap_or(0);
        let share = |id: u16| -> f64 {
            if bin_max == 0 {
                return 0.0;
            }
            let n = bin.countries.iter().find(|c| c.0 == id).map_or(0, |c| c.1);
            f64::from(n) / f64::from(bin_max)
        };
        let mut lit: Vec<(String, f32, f32)> = self
            .intensities
            .lit()
            .map(|(id, v)| {
                (
                    tl.countries.code(id).to_string(),
                    (Fade::heat(v, self.peak) * (BASE_GLOW + (1.0 - BASE_GLOW) * share(id))) as f32,
                    Fade::presence(v) as f32,
                )
            })
            .collect();
        // Dim first, so a bright country's border is drawn over its neighbours'.
        lit.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));

        let mut pulses = Vec::new();
        if self.points {
            if !bin.points.is_empty() {
                self.recent.push_back(i);
            }
            while self
                .recent
                .front()
                .is_some_and(|&b| i - b >= self.point_life as usize)
            {
                self.recent.pop_front();
            }
            // Oldest first: fresh pulses are drawn on top.
            for &b in &self.recent {
                let age = (i - b) as u32;
                pulses.extend(tl.bin(b).points.iter().map(|&(lat, lon, attempts)| Pulse {
                    lat,
                    lon,
                    attempts,
                    age,
                }));
            }
        }

        let accounts = self.user_sums.as_mut().map(|sums| {
            for &(id, n) in &bin.users {
                *sums.entry(id).or_default() += u64::from(n);
            }
            if i >= self.window {
                for &(id, n) in &tl.bin(i - self.window).users {
                    if let Some(v) = sums.get_mut(&id) {
                        *v -= u64::from(n);
                        if *v == 0 {
                            sums.remove(&id);
                        }
                    }
                }
            }
            top_names(sums.iter().map(|(&id, &n)| (tl.users.name(id), n)), 5)
        });

        FrameState {
            index: i,
            clock: tl.clock(i),
            total: self.total,
            now,
            lit,
            pulses,
            top: top
                .into_iter()
                .map(|(id, n)| (tl.countries.code(id).to_string(), n))
                .collect(),
            accounts,
        }
    }
}

/// The `k` largest counts, ties by name: the same order whatever the map's.
fn top_names<'n>(it: impl Iterator<Item = (&'n str, u64)>, k: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(&str, u64)> = it.filter(|&(_, n)| n > 0).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    v.truncate(k);
    v.into_iter().map(|(s, n)| (s.to_string(), n)).collect()
}

/// What the closing summary frame says about the whole video.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// First and last moment shown, e.g. "2026-11-22 00:00 – 24:00".
    pub span: String,
    pub attempts: u64,
    /// Distinct attacking addresses; `None` when not known (the store's rollups).
    pub addresses: Option<u64>,
    pub countries: usize,
    /// The five countries with most attempts over the whole video.
    pub top_countries: Vec<(String, u64)>,
    /// The five user names with most attempts over the whole video (empty when
    /// the events were not read: the store's rollups have no user names).
    pub top_users: Vec<(String, u64)>,
}

impl Summary {
    /// Totals over every frame of `tl`.
    pub fn of(tl: &Timeline) -> Summary {
        let mut by_country = vec![0u64; tl.countries.len()];
        let mut by_user: HashMap<u32, u64> = HashMap::new();
        let mut attempts = 0;
        for i in 0..tl.frames {
            let b = tl.bin(i);
            attempts += b.attempts();
            for &(id, n) in &b.countries {
                by_country[usize::from(id)] += u64::from(n);
            }
            for &(id, n) in &b.users {
                *by_user.entry(id).or_default() += u64::from(n);
            }
        }
        Summary {
            span: span(tl),
            attempts,
            addresses: tl.addresses,
            countries: by_country.iter().filter(|&&n| n > 0).count(),
            top_countries: top_names(
                by_country
                    .iter()
                    .enumerate()
                    .map(|(id, &n)| (tl.countries.code(id as u16), n)),
                5,
            ),
            top_users: top_names(by_user.iter().map(|(&id, &n)| (tl.users.name(id), n)), 5),
        }
    }
}

/// "2026-11-22 00:00 – 24:00" (one day), "2026-11-16 00:00 – 2026-11-23 00:00":
/// from the first frame's start to the last frame's end, in the clock's offset.
fn span(tl: &Timeline) -> String {
    let (a, b) = (tl.local_start(0), tl.local_start(tl.frames));
    let day = |t: i64| {
        let (y, m, d) = crate::event::civil_from_days(t.div_euclid(86_400));
        format!("{y:04}-{m:02}-{d:02}")
    };
    let hm = |t: i64, secs: bool| {
        let sod = t.rem_euclid(86_400);
        let mut s = format!("{:02}:{:02}", sod / 3600, sod / 60 % 60);
        if secs {
            s += &format!(":{:02}", sod % 60);
        }
        s
    };
    let secs = tl.bin_secs % 60 != 0;
    let end = if b.div_euclid(86_400) == a.div_euclid(86_400) {
        hm(b, secs)
    } else if b.rem_euclid(86_400) == 0 && (b - 1).div_euclid(86_400) == a.div_euclid(86_400) {
        // Midnight after a one-day video: the end of that day.
        if secs {
            "24:00:00".into()
        } else {
            "24:00".into()
        }
    } else {
        format!("{} {}", day(b), hm(b, secs))
    };
    format!(
        "{} {} \u{2013} {end} {}",
        day(a),
        hm(a, secs),
        tl.offset_label()
    )
}

/// Runs the fade over the whole timeline once to find the top of the colour
/// scale: the 99th percentile of each frame's highest intensity. Not the
/// maximum, so that one burst minute does not leave the rest of the day in the
/// darkest colours (the burst itself is clamped to the top colour).
/// Cheap (lit countries × frames) next to drawing a single frame.
fn peak(tl: &Timeline, fade: &Fade) -> f64 {
    let mut it = Intensities::new();
    let mut maxima = Vec::new();
    for i in 0..tl.frames {
        let hits = &tl.bin(i).countries;
        it.step(fade, hits);
        if !hits.is_empty() {
            maxima.push(hits.iter().map(|&(id, _)| it.get(id)).fold(0.0, f64::max));
        }
    }
    if maxima.is_empty() {
        return 0.0;
    }
    maxima.sort_by(f64::total_cmp);
    let k = ((maxima.len() as f64 * 0.99).ceil() as usize).clamp(1, maxima.len()) - 1;
    maxima[k]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Event, Geo, Ts};
    use crate::render::timelapse::timeline::Binner;
    use std::sync::Arc;

    fn ev(min: i64, country: &str, attempts: u32) -> Event {
        Event {
            ts: Ts::from_micros((1_700_000_040 + min * 60) * 1_000_000, 0),
            count: attempts,
            attempts,
            geo: Some(Arc::new(Geo {
                country: Some(Arc::from(country)),
                lat: Some(10.0),
                lon: Some(20.0),
                ..Geo::default()
            })),
            ..Event::at_line(1)
        }
    }

    #[test]
    fn lit_counter_top_and_pulses() {
        let mut b = Binner::new(60, None, None, true);
        for e in [
            ev(0, "FR", 3),
            ev(1, "CN", 10),
            ev(1, "FR", 1),
            ev(30, "US", 2),
        ] {
            b.add(&e);
        }
        let tl = b.finish();
        assert_eq!(tl.frames, 31);
        let mut st = States::new(&tl, Fade::new(2.0), true, 3);
        assert!((st.peak() - 10.0).abs() < 1e-9);
        let f0 = st.next_state();
        assert_eq!(f0.total, 3);
        assert_eq!(f0.lit.len(), 1);
        assert_eq!(f0.lit[0].0, "FR");
        assert_eq!(f0.top, vec![("FR".to_string(), 3)]);
        assert_eq!(f0.pulses.len(), 1);
        let f1 = st.next_state();
        assert_eq!(f1.total, 14);
        assert_eq!(f1.now, 11);
        // Brightest last.
        assert_eq!(f1.lit.last().unwrap().0, "CN");
        assert_eq!(f1.lit.last().unwrap().1, 1.0);
        assert_eq!(f1.top, vec![("CN".to_string(), 10), ("FR".to_string(), 4)]);
        assert_eq!(
            f1.pulses.iter().map(|p| p.age).collect::<Vec<_>>(),
            vec![1, 0]
        );
        let f2 = st.next_state();
        let f3 = st.next_state();
        assert_eq!(f2.top.len(), 2);
        // The window is 3 bins: frame 0's attempts left it.
        assert_eq!(f3.top, vec![("CN".to_string(), 10), ("FR".to_string(), 1)]);
        let heat =
            |f: &FrameState, c: &str| f.lit.iter().find(|l| l.0 == c).map(|l| l.1).unwrap_or(0.0);
        assert!(heat(&f3, "CN") < heat(&f2, "CN"));
        let mut last = st.next_state();
        for _ in 5..30 {
            last = st.next_state();
        }
        assert_eq!(last.index, 29);
        assert!(last.lit.is_empty(), "faded out: {:?}", last.lit);
        assert!(last.pulses.is_empty());
        assert!(last.top.is_empty());
        let f30 = st.next_state();
        assert_eq!(f30.lit[0].0, "US");
        assert_eq!(f30.total, 16);
    }

    fn ev_user(min: i64, country: &str, user: &str, ip: &str, attempts: u32) -> Event {
        let mut e = ev(min, country, attempts);
        e.user = Some(user.into());
        e.ip = Some(ip.parse().unwrap());
        e
    }

    #[test]
    fn the_accounts_panel_counts_the_trailing_window() {
        let mut b = Binner::new(60, None, None, false);
        for e in [
            ev_user(0, "CN", "root", "192.0.2.1", 3),
            ev_user(0, "CN", "admin", "192.0.2.1", 1),
            ev_user(1, "FR", "admin", "192.0.2.2", 5),
            ev_user(5, "FR", "x\u{1b}[2J", "192.0.2.2", 1),
        ] {
            b.add(&e);
        }
        let tl = b.finish();
        let names = |f: &FrameState| {
            f.accounts
                .clone()
                .unwrap()
                .into_iter()
                .map(|(n, c)| format!("{n}={c}"))
                .collect::<Vec<_>>()
        };
        let mut st = States::new(&tl, Fade::new(1.0), false, 3).with_accounts();
        let f: Vec<FrameState> = (0..tl.frames).map(|_| st.next_state()).collect();
        assert_eq!(names(&f[0]), ["root=3", "admin=1"]);
        assert_eq!(names(&f[1]), ["admin=6", "root=3"]);
        assert_eq!(names(&f[2]), ["admin=6", "root=3"]);
        // Frame 0 left the three-bin window.
        assert_eq!(names(&f[3]), ["admin=5"]);
        assert!(names(&f[4]).is_empty(), "an empty window: an empty panel");
        assert_eq!(names(&f[5]), ["x\u{1b}[2J=1"]);
        // Without the panel, nothing is counted for it.
        let mut st = States::new(&tl, Fade::new(1.0), false, 3);
        assert_eq!(st.next_state().accounts, None);
    }

    #[test]
    fn the_summary_totals_the_whole_video() {
        let mut b = Binner::new(60, None, None, false);
        for e in [
            ev_user(0, "CN", "root", "192.0.2.1", 3),
            ev_user(0, "CN", "admin", "192.0.2.3", 1),
            ev_user(1, "FR", "admin", "192.0.2.2", 5),
            ev_user(5, "US", "oracle", "192.0.2.2", 1),
        ] {
            b.add(&e);
        }
        let tl = b.finish();
        let sum = Summary::of(&tl);
        assert_eq!(sum.attempts, 10);
        assert_eq!(sum.addresses, Some(3));
        assert_eq!(sum.countries, 3);
        assert_eq!(
            sum.top_countries,
            vec![("FR".into(), 5), ("CN".into(), 4), ("US".into(), 1)]
        );
        assert_eq!(
            sum.top_users,
            vec![
                ("admin".into(), 6),
                ("root".into(), 3),
                ("oracle".into(), 1)
            ]
        );
        // 2023-11-14 22:14 UTC, six one-minute frames.
        assert_eq!(sum.span, "2023-11-14 22:14 \u{2013} 22:20 UTC");

        // From the store's rollups: no addresses, no user names.
        let mut b = Binner::new(60, None, None, false);
        b.count(1_700_000_040, 0, Some("CN"), 7);
        let sum = Summary::of(&b.finish());
        assert_eq!((sum.attempts, sum.addresses), (7, None));
        assert!(sum.top_users.is_empty());
    }

    #[test]
    fn a_one_day_summary_ends_at_24_00() {
        let day = 20_000 * 86_400;
        let from = Ts::from_micros(day * 1_000_000, 3600);
        let to = Ts::from_micros((day + 86_400) * 1_000_000, 3600);
        let mut b = Binner::new(600, Some(from), Some(to), false);
        b.count(day + 5000, 3600, Some("CN"), 1);
        let sum = Summary::of(&b.finish());
        assert_eq!(
            sum.span,
            "2024-10-04 01:00 \u{2013} 2024-10-05 01:00 UTC+01:00"
        );
        let mut b = Binner::new(600, None, None, false);
        b.count(day, 0, Some("CN"), 1);
        b.count(day + 86_399, 0, Some("CN"), 1);
        assert_eq!(
            Summary::of(&b.finish()).span,
            "2024-10-04 00:00 \u{2013} 24:00 UTC"
        );
    }
}
