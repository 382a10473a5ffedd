//! Draws one timelapse frame with the map renderer: the world scene with lit countries, pulses, clock, counter and top 5
//! (and, with `--accounts`, the top user names); and the closing summary frame.
//!
//! Countries are projected once ([`Frames::new`], from [`map::scene`]); each frame clones that
//! scene, recolours the lit countries, adds its overlays and goes through the
//! same raster back end as `sshmap map`, so a frame and a map never disagree.

use std::collections::HashMap;

use crate::geo::countries;
use crate::render::map::{self, thousands, MapData, MapOptions};
use crate::render::projection::{Fit, Projection};
use crate::render::raster;
use crate::render::scene::{Anchor, Color, Item, Scene, Shape, Stroke};
use crate::render::text;
use crate::render::theme::{Palette, Theme};

use super::state::{FrameState, Summary};

/// How frames look.
#[derive(Clone, Debug)]
pub struct FrameOptions {
    pub width: u32,
    pub height: u32,
    pub projection: Projection,
    pub theme: Theme,
    pub title: String,
    /// Label of the top-5 window, e.g. "last 15 min".
    pub window_label: String,
    /// Offset label shown beside the clock ("UTC", "UTC+01:00").
    pub zone: String,
    /// Fade half-life in bins: pulses grow and fade with it.
    pub half_life: f64,
    /// Attempts (faded) at the top of the glow scale, written under the legend.
    pub glow_peak: f64,
}

/// Sizes that grow with the picture (1 unit = 1 px at 1280×720).
struct Metrics {
    u: f32,
    margin: f32,
}

impl Metrics {
    fn new(w: u32, h: u32) -> Metrics {
        // Below 1280×720 the text shrinks more slowly than the picture, so a
        // 640×360 GIF stays legible (6 px text would not be).
        let raw = (w as f32 / 1280.0).min(h as f32 / 720.0).max(0.25);
        let u = if raw < 1.0 { raw.powf(0.6) } else { raw };
        Metrics {
            u,
            margin: 16.0 * u,
        }
    }
}

/// The projected world, ready to draw any frame.
pub struct Frames {
    opts: FrameOptions,
    pal: &'static Palette,
    m: Metrics,
    proj: Projection,
    fit: Fit,
    /// Background, ocean and every country in the land colour.
    base: Scene,
    /// Where each country's shape sits: (index of the countries group, index inside it).
    shape_at: HashMap<String, (usize, usize)>,
}

impl Frames {
    pub fn new(opts: FrameOptions) -> Frames {
        let (w, h) = (opts.width, opts.height);
        let pal = opts.theme.palette();
        let m = Metrics::new(w, h);
        let proj = opts.projection;
        // The world layer comes from the map scene itself (projection, ±180° seams,
        // globe clipping, borders): a frame is `sshmap map` with no attempts yet,
        // recoloured. Its header and legend are left out; the frame has its own.
        let mopts = MapOptions {
            width: w,
            height: h,
            projection: proj,
            theme: opts.theme,
            ..MapOptions::default()
        };
        let fit = map::pixel_fit(&mopts);
        let map_scene = map::scene(&MapData::default(), &mopts);
        let mut base = Scene::new(w, h, pal.background, opts.title.clone());
        base.items.extend(
            map_scene
                .items
                .into_iter()
                .filter(|it| matches!(it, Item::Group { id: Some(id), .. } if id == "countries")),
        );
        let mut shape_at = HashMap::new();
        for (g, item) in base.items.iter().enumerate() {
            if let Item::Group { items, .. } = item {
                for (i, it) in items.iter().enumerate() {
                    if let Item::Shape(Shape { id: Some(id), .. }) = it {
                        shape_at.insert(id.clone(), (g, i));
                    }
                }
            }
        }
        Frames {
            opts,
            pal,
            m,
            proj,
            fit,
            base,
            shape_at,
        }
    }

    pub fn width(&self) -> u32 {
        self.opts.width
    }

    pub fn height(&self) -> u32 {
        self.opts.height
    }

    /// Where (lat, lon) lands in the frame, if it is on the drawn side of the world.
    pub fn locate(&self, lat: f64, lon: f64) -> Option<(f32, f32)> {
        self.proj
            .visible(lon, lat)
            .then(|| self.fit.apply(self.proj.project(lon, lat)))
    }

    /// Colour of a lit country: the ramp at its heat, blended over land by its presence.
    pub fn country_color(&self, heat: f32, presence: f32) -> Color {
        self.pal
            .land
            .lerp(self.pal.ramp_at(f64::from(heat)), f64::from(presence))
    }

    /// The scene of one frame.
    pub fn scene(&self, st: &FrameState) -> Scene {
        let mut s = self.base.clone();
        let fills: Vec<((usize, usize), Color)> = st
            .lit
            .iter()
            .filter_map(|(code, heat, presence)| {
                Some((
                    *self.shape_at.get(code)?,
                    self.country_color(*heat, *presence),
                ))
            })
            .collect();
        for ((g, i), color) in fills {
            if let Some(Item::Group { items, .. }) = s.items.get_mut(g) {
                if let Some(Item::Shape(sh)) = items.get_mut(i) {
                    sh.fill = Some(color);
                }
            }
        }
        self.pulses(&mut s, st);
        self.overlays(&mut s, st);
        s
    }

    /// Draws a frame: opaque RGBA, row by row.
    pub fn draw(&self, st: &FrameState) -> Vec<u8> {
        raster::draw(&self.scene(st)).take()
    }

    fn pulses(&self, s: &mut Scene, st: &FrameState) {
        if st.pulses.is_empty() {
            return;
        }
        let (u, h) = (self.m.u, self.opts.half_life.max(0.5) as f32);
        let mut items = Vec::with_capacity(st.pulses.len() * 2);
        for p in &st.pulses {
            let (lon, lat) = (f64::from(p.lon), f64::from(p.lat));
            if !self.proj.visible(lon, lat) {
                continue;
            }
            let (x, y) = self.fit.apply(self.proj.project(lon, lat));
            let fade = 0.5f32.powf(p.age as f32 / h);
            let r = (1.5 + (1.0 + p.attempts as f32).log10() * 1.5) * u;
            let dot = self
                .pal
                .point
                .with_alpha((f32::from(self.pal.point.a) * fade).round() as u8);
            items.push(Item::Circle {
                title: None,
                cx: x,
                cy: y,
                r,
                fill: dot,
                stroke: None,
            });
            // The ring expands as the hit ages: the "pulse".
            let ring = r + (p.age as f32 + 0.5) / h * 10.0 * u;
            items.push(Item::Circle {
                title: None,
                cx: x,
                cy: y,
                r: ring,
                fill: Color { a: 0, ..dot },
                stroke: Some(Stroke {
                    color: dot.with_alpha((f32::from(dot.a) * 0.7) as u8),
                    width: 1.2 * u,
                }),
            });
        }
        s.items.push(Item::Group {
            id: Some("points".into()),
            clip: None,
            items,
        });
    }

    fn overlays(&self, s: &mut Scene, st: &FrameState) {
        let (w, h) = (self.opts.width as f32, self.opts.height as f32);
        let (u, mg, pal) = (self.m.u, self.m.margin, self.pal);

        // Top left: title, then the clock, large.
        s.text(
            mg,
            mg + 13.0 * u,
            13.0 * u,
            pal.muted,
            Anchor::Start,
            self.opts.title.clone(),
        );
        let clock_size = if st.clock.len() > 8 { 30.0 } else { 40.0 } * u;
        let clock_y = mg + 13.0 * u + 8.0 * u + clock_size;
        s.text(
            mg,
            clock_y,
            clock_size,
            pal.text,
            Anchor::Start,
            st.clock.clone(),
        );
        s.text(
            mg,
            clock_y + 16.0 * u,
            12.0 * u,
            pal.muted,
            Anchor::Start,
            self.opts.zone.clone(),
        );

        // Top right: the running count and this bin's.
        let rx = w - mg;
        s.text(
            rx,
            mg + 13.0 * u,
            13.0 * u,
            pal.muted,
            Anchor::End,
            "attack attempts",
        );
        s.text(
            rx,
            mg + 13.0 * u + 8.0 * u + 30.0 * u,
            30.0 * u,
            pal.text,
            Anchor::End,
            thousands(st.total),
        );
        let now = if st.now > 0 {
            format!("+{}", thousands(st.now))
        } else {
            String::new()
        };
        s.text(
            rx,
            mg + 13.0 * u + 8.0 * u + 30.0 * u + 18.0 * u,
            14.0 * u,
            pal.ramp_at(0.8),
            Anchor::End,
            now,
        );

        // Bottom left: top 5 of the window, each with its current colour.
        let line = 17.0 * u;
        let size = 13.0 * u;
        let mut y = h - mg - line * 5.0;
        s.text(
            mg,
            y - line,
            size,
            pal.muted,
            Anchor::Start,
            format!("top countries, {}", self.opts.window_label),
        );
        for (code, n) in &st.top {
            let name = countries::name(code).unwrap_or(code);
            let color = st
                .lit
                .iter()
                .find(|l| &l.0 == code)
                .map_or(pal.land, |l| self.country_color(l.1, l.2));
            s.items.push(Item::Rect {
                x: mg,
                y: y - size * 0.8,
                w: size,
                h: size * 0.8,
                fill: color,
            });
            let label = text::truncate(name, size, 170.0 * u);
            s.text(mg + size * 1.5, y, size, pal.text, Anchor::Start, label);
            s.text(
                mg + size * 1.5 + 240.0 * u,
                y,
                size,
                pal.text,
                Anchor::End,
                thousands(*n),
            );
            y += line;
        }

        // Above the top 5, over the South Pacific: the accounts tried (`--accounts`).
        if let Some(accounts) = &st.accounts {
            let mut y = h - mg - line * 5.0 - line * 1.6 - line * 5.0;
            s.text(
                mg,
                y - line,
                size,
                pal.muted,
                Anchor::Start,
                format!("top accounts tried, {}", self.opts.window_label),
            );
            for (name, n) in accounts {
                // Attacker text: control characters shown escaped, cut to the column.
                let label = text::truncate(&account(name), size, 190.0 * u);
                s.text(mg, y, size, pal.text, Anchor::Start, label);
                s.text(
                    mg + size * 1.5 + 240.0 * u,
                    y,
                    size,
                    pal.text,
                    Anchor::End,
                    thousands(*n),
                );
                y += line;
            }
        }

        // Bottom right: the colour scale and the attribution.
        let bar_w = 150.0 * u;
        let bar_h = 8.0 * u;
        let bar_y = h - mg - 14.0 * u - bar_h;
        s.items.push(Item::Gradient {
            x: rx - bar_w,
            y: bar_y,
            w: bar_w,
            h: bar_h,
            stops: pal.ramp.to_vec(),
        });
        s.text(
            rx - bar_w - 6.0 * u,
            bar_y + bar_h,
            11.0 * u,
            pal.muted,
            Anchor::End,
            "glow: attempts, fading (log)",
        );
        // The scale's ends in attempts, just above the bar.
        let ends = [
            (rx - bar_w, Anchor::Start, "1".to_string()),
            (
                rx,
                Anchor::End,
                thousands(self.opts.glow_peak.round().max(1.0) as u64),
            ),
        ];
        for (x, anchor, label) in ends {
            s.text(x, bar_y - 3.0 * u, 10.0 * u, pal.muted, anchor, label);
        }
        s.text(
            rx,
            h - mg,
            10.0 * u,
            pal.muted,
            Anchor::End,
            crate::render::map::ATTRIBUTION,
        );
    }
}

/// A user name as the panels show it: an empty one says so.
fn account(name: &str) -> String {
    if name.is_empty() {
        "(empty name)".into()
    } else {
        name.to_string()
    }
}

impl Frames {
    /// The closing summary: the last frame's map, dimmed, under the totals of
    /// the whole video (span, attempts, addresses, countries, top countries,
    /// top accounts tried).
    pub fn summary_scene(&self, last: &FrameState, sum: &Summary) -> Scene {
        let mut s = self.scene(&FrameState {
            pulses: Vec::new(),
            ..last.clone()
        });
        // Only the map stays under the panel: the frame's own texts are dropped.
        s.items.retain(|it| {
            !matches!(
                it,
                Item::Text(_) | Item::Rect { .. } | Item::Gradient { .. }
            )
        });
        let (w, h) = (self.opts.width as f32, self.opts.height as f32);
        let (u, pal) = (self.m.u, self.pal);
        s.items.push(Item::Rect {
            x: 0.0,
            y: 0.0,
            w,
            h,
            fill: pal.background.with_alpha(200),
        });
        let cx = w / 2.0;
        // The block is 330 units tall; centred, at most the frame.
        let mut y = ((h - 330.0 * u) / 2.0).max(4.0 * u);
        y += 18.0 * u;
        s.text(
            cx,
            y,
            18.0 * u,
            pal.muted,
            Anchor::Middle,
            self.opts.title.clone(),
        );
        y += 32.0 * u;
        s.text(cx, y, 24.0 * u, pal.text, Anchor::Middle, sum.span.clone());
        y += 62.0 * u;
        s.text(
            cx,
            y,
            56.0 * u,
            pal.ramp_at(0.85),
            Anchor::Middle,
            thousands(sum.attempts),
        );
        y += 30.0 * u;
        let mut from = vec!["attack attempts".to_string()];
        if let Some(a) = sum.addresses {
            let plus = if a as usize >= super::timeline::MAX_ADDRESSES {
                "+"
            } else {
                ""
            };
            from.push(format!(
                "from {}{plus} address{}",
                thousands(a),
                if a == 1 { "" } else { "es" }
            ));
        }
        from.push(format!(
            "in {} countr{}",
            thousands(sum.countries as u64),
            if sum.countries == 1 { "y" } else { "ies" }
        ));
        s.text(cx, y, 18.0 * u, pal.text, Anchor::Middle, from.join(" "));
        y += 46.0 * u;
        // Two columns: top countries, top accounts tried.
        let (size, line, col) = (17.0 * u, 23.0 * u, 280.0 * u);
        let countries: Vec<(String, u64)> = sum
            .top_countries
            .iter()
            .map(|(c, n)| (countries::name(c).unwrap_or(c).to_string(), *n))
            .collect();
        let users: Vec<(String, u64)> = sum
            .top_users
            .iter()
            .map(|(name, n)| (account(name), *n))
            .collect();
        let columns: Vec<(&str, &[(String, u64)])> = if users.is_empty() {
            vec![("top countries", &countries)]
        } else {
            vec![
                ("top countries", &countries),
                ("top accounts tried", &users),
            ]
        };
        let gap = 40.0 * u;
        let total = col * columns.len() as f32 + gap * (columns.len() as f32 - 1.0);
        let mut x = cx - total / 2.0;
        for (head, rows) in columns {
            s.text(x, y, 14.0 * u, pal.muted, Anchor::Start, head);
            let mut ry = y + line * 1.2;
            for (name, n) in rows {
                let count = thousands(*n);
                let room = col - text::width(&count, size) - 12.0 * u;
                s.text(
                    x,
                    ry,
                    size,
                    pal.text,
                    Anchor::Start,
                    text::truncate(name, size, room),
                );
                s.text(x + col, ry, size, pal.text, Anchor::End, count);
                ry += line;
            }
            x += col + gap;
        }
        s.text(
            w - self.m.margin,
            h - self.m.margin,
            10.0 * u,
            pal.muted,
            Anchor::End,
            crate::render::map::ATTRIBUTION,
        );
        s
    }

    /// Draws the summary frame: opaque RGBA, row by row.
    pub fn draw_summary(&self, last: &FrameState, sum: &Summary) -> Vec<u8> {
        raster::draw(&self.summary_scene(last, sum)).take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::timelapse::state::Pulse;

    fn opts() -> FrameOptions {
        FrameOptions {
            width: 640,
            height: 360,
            projection: Projection::EqualEarth,
            theme: Theme::Dark,
            title: "test".into(),
            window_label: "last 15 min".into(),
            zone: "UTC".into(),
            glow_peak: 10.0,
            half_life: 5.0,
        }
    }

    fn state(lit: Vec<(&str, f32, f32)>) -> FrameState {
        FrameState {
            index: 0,
            clock: "12:34".into(),
            total: 1234,
            now: 12,
            lit: lit
                .into_iter()
                .map(|(c, h, p)| (c.to_string(), h, p))
                .collect(),
            pulses: vec![Pulse {
                lat: 48.85,
                lon: 2.35,
                attempts: 10,
                age: 1,
            }],
            top: vec![("CN".into(), 10)],
            accounts: None,
        }
    }

    /// The pixel at a country's label point.
    fn pixel(f: &Frames, rgba: &[u8], iso2: &str) -> [u8; 3] {
        let (lat, lon) = countries::label_point(iso2).unwrap();
        let (x, y) = f.fit.apply(f.proj.project(lon, lat));
        let i = (y.round() as usize * f.width() as usize + x.round() as usize) * 4;
        [rgba[i], rgba[i + 1], rgba[i + 2]]
    }

    #[test]
    fn lit_countries_take_their_colour_and_the_rest_stays_land() {
        let f = Frames::new(opts());
        let rgba = f.draw(&state(vec![("CN", 1.0, 1.0), ("BR", 0.3, 0.5)]));
        assert_eq!(rgba.len(), 640 * 360 * 4);
        let pal = Theme::Dark.palette();
        let hot = *pal.ramp.last().unwrap();
        assert_eq!(pixel(&f, &rgba, "CN"), [hot.r, hot.g, hot.b]);
        let br = f.country_color(0.3, 0.5);
        assert_eq!(pixel(&f, &rgba, "BR"), [br.r, br.g, br.b]);
        assert_eq!(pixel(&f, &rgba, "AU"), [pal.land.r, pal.land.g, pal.land.b]);
    }

    #[test]
    fn the_glow_legend_has_numbers() {
        let f = Frames::new(opts());
        let s = f.scene(&state(vec![("CN", 1.0, 1.0)]));
        let texts: Vec<&str> = s
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Text(t) => Some(t.text.as_str()),
                _ => None,
            })
            .collect();
        assert!(texts.contains(&"1") && texts.contains(&"10"), "{texts:?}");
    }

    #[test]
    fn no_presence_is_plain_land() {
        let f = Frames::new(opts());
        let pal = Theme::Dark.palette();
        assert_eq!(f.country_color(0.9, 0.0), pal.land);
        assert_eq!(f.country_color(1.0, 1.0), *pal.ramp.last().unwrap());
    }

    fn texts(s: &Scene) -> Vec<String> {
        s.items
            .iter()
            .filter_map(|i| match i {
                Item::Text(t) => Some(t.text.clone()),
                _ => None,
            })
            .collect()
    }

    const HOSTILE: &str = "ro\u{1b}[2Jot\u{202e}";

    #[test]
    fn the_accounts_panel_shows_user_names_escaped() {
        let f = Frames::new(opts());
        let mut st = state(vec![("CN", 1.0, 1.0)]);
        assert!(
            !texts(&f.scene(&st)).iter().any(|t| t.contains("accounts")),
            "no panel unless asked for"
        );
        st.accounts = Some(vec![
            (HOSTILE.into(), 1234),
            ("<b>admin</b>".into(), 7),
            (String::new(), 1),
        ]);
        let t = texts(&f.scene(&st));
        assert!(
            t.contains(&"top accounts tried, last 15 min".to_string()),
            "{t:?}"
        );
        assert!(t.contains(&"ro\\x1b[2Jot\\u{202e}".to_string()), "{t:?}");
        assert!(t.contains(&"<b>admin</b>".to_string()), "{t:?}");
        assert!(
            t.contains(&"(empty name)".to_string()) && t.contains(&"1,234".to_string()),
            "{t:?}"
        );
        assert!(
            !t.iter()
                .any(|x| x.chars().any(|c| c.is_control() || c == '\u{202e}')),
            "a control character reached the frame: {t:?}"
        );
        // The panel is drawn: its pixels differ from the frame without it, in the left column only.
        let without = f.draw(&state(vec![("CN", 1.0, 1.0)]));
        let with = f.draw(&st);
        let (mut n, mut right) = (0, 0);
        for (i, (a, b)) in without
            .chunks_exact(4)
            .zip(with.chunks_exact(4))
            .enumerate()
        {
            if a != b {
                n += 1;
                if i % 640 > 320 {
                    right += 1;
                }
            }
        }
        assert!(
            n > 200 && right == 0,
            "{n} pixels changed, {right} right of the middle"
        );
    }

    #[test]
    fn the_summary_says_the_totals_and_hides_the_frame_overlays() {
        let f = Frames::new(opts());
        let sum = Summary {
            span: "2026-11-22 00:00 \u{2013} 24:00 UTC".into(),
            attempts: 123_456,
            addresses: Some(789),
            countries: 42,
            top_countries: vec![("CN".into(), 100_000), ("BR".into(), 20_000)],
            top_users: vec![(HOSTILE.into(), 5000), ("root".into(), 4000)],
        };
        let last = state(vec![("CN", 1.0, 1.0)]);
        let t = texts(&f.summary_scene(&last, &sum));
        for want in [
            "test",
            "2026-11-22 00:00 \u{2013} 24:00 UTC",
            "123,456",
            "attack attempts from 789 addresses in 42 countries",
            "top countries",
            "China",
            "100,000",
            "top accounts tried",
            "ro\\x1b[2Jot\\u{202e}",
            "5,000",
        ] {
            assert!(t.contains(&want.to_string()), "{want:?} not in {t:?}");
        }
        assert!(
            !t.contains(&"12:34".to_string()),
            "the frame's clock under the summary: {t:?}"
        );
        // From rollups: no addresses, no accounts column.
        let t = texts(&f.summary_scene(
            &last,
            &Summary {
                addresses: None,
                top_users: Vec::new(),
                ..sum
            },
        ));
        assert!(
            t.contains(&"attack attempts in 42 countries".to_string()),
            "{t:?}"
        );
        assert!(!t.contains(&"top accounts tried".to_string()), "{t:?}");
    }
}
