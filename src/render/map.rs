//! The world map scene: countries coloured by attempts (log scale), attacker
//! points, the server's home, title with the time range, totals, legend and attribution.

use std::collections::HashMap;
use std::net::IpAddr;

use super::projection::{Fit, Projection};
use super::scene::{Anchor, Color, Item, Scene, Shape, Stroke};
use super::theme::{log_pos, Palette, Theme};
use super::world::{self, Detail};
use crate::analyze::Aggregate;
use crate::event::{Geo, Ts};
use crate::geo::countries;

/// A point's key: (lat, lon) in hundredths of a degree.
pub type Place = (i32, i32);

/// What the map draws: a projection of the aggregate
/// ([`MapData::from`]`(&Aggregate)`), never counted apart from it.
#[derive(Clone, Debug, Default)]
pub struct MapData {
    /// ISO alpha-2 → attempts.
    pub countries: HashMap<String, u64>,
    /// (lat, lon) rounded to 0.01° → attempts.
    pub points: HashMap<(i32, i32), u64>,
    pub attempts: u64,
    /// Attempts from addresses no database could place.
    pub unlocated: u64,
    /// Addresses with at least one attempt.
    pub unique_ips: u64,
    /// Per address: attempts and the point it is drawn at (for labels and tooltips).
    pub by_ip: HashMap<IpAddr, (u64, Option<Place>)>,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
}

/// Where an address is drawn: its city when the database knows it, else its
/// country's label point.
pub fn place(geo: Option<&Geo>) -> Option<Place> {
    let country = geo.and_then(|g| g.country.as_deref());
    match geo {
        Some(g) if g.precision == Some("city") => g.lat.zip(g.lon),
        _ => None,
    }
    .or_else(|| country.and_then(countries::label_point))
    .map(|(lat, lon)| ((lat * 100.0).round() as i32, (lon * 100.0).round() as i32))
}

impl From<&Aggregate> for MapData {
    /// The aggregate's attempts (its measure) by country, place and address.
    fn from(agg: &Aggregate) -> MapData {
        let mut d = MapData {
            attempts: agg.attempts(),
            unlocated: agg.unlocated(),
            ..MapData::default()
        };
        (d.from, d.to) = agg.attempts_span();
        for (c, a) in agg.attacking_countries() {
            *d.countries.entry(c.to_ascii_uppercase()).or_default() += a.attempts;
        }
        for (ip, a) in agg.attacking_ips() {
            d.unique_ips += 1;
            let key = place(a.geo.as_deref());
            if let Some(k) = key {
                *d.points.entry(k).or_default() += a.attempts;
            }
            d.by_ip.insert(*ip, (a.attempts, key));
        }
        d
    }
}

impl MapData {
    /// Attempts by country only (tests, other callers that have no events).
    pub fn from_countries(counts: &[(&str, u64)]) -> MapData {
        let mut d = MapData::default();
        for &(c, n) in counts {
            *d.countries.entry(c.to_ascii_uppercase()).or_default() += n;
            d.attempts += n;
            if let Some((lat, lon)) = countries::label_point(c) {
                *d.points
                    .entry(((lat * 100.0).round() as i32, (lon * 100.0).round() as i32))
                    .or_default() += n;
            }
        }
        d
    }
}

#[derive(Clone, Debug)]
pub struct MapOptions {
    pub width: u32,
    pub height: u32,
    pub projection: Projection,
    pub theme: Theme,
    pub points: bool,
    /// The server's own position (lat, lon).
    pub home: Option<(f64, f64)>,
    pub title: Option<String>,
    /// With points: label this many of the busiest addresses with address and attempts.
    pub top_labels: usize,
}

impl Default for MapOptions {
    fn default() -> Self {
        MapOptions {
            width: 1920,
            height: 1080,
            projection: Projection::EqualEarth,
            theme: Theme::Dark,
            points: false,
            home: None,
            title: None,
            top_labels: 5,
        }
    }
}

pub const ATTRIBUTION: &str = "Map: Natural Earth · GeoIP: DB-IP (CC BY 4.0) · sshmap";

/// Sizes in pixels for this picture: text and margins grow with the image.
pub(crate) struct Metrics {
    pub u: f32,
    pub margin: f32,
    pub title: f32,
    pub body: f32,
    pub small: f32,
}

impl Metrics {
    pub fn new(w: u32, h: u32) -> Metrics {
        let u = (w as f32 / 1920.0).min(h as f32 / 1080.0).max(0.2);
        Metrics {
            u,
            margin: 24.0 * u,
            title: 34.0 * u,
            body: 22.0 * u,
            small: 16.0 * u,
        }
    }
}

pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn short(n: u64) -> String {
    match n {
        0..=9_999 => thousands(n),
        10_000..=999_999 => format!("{}k", n / 1000),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

/// "2026-11-23 07:41 – 2026-11-24 08:00 UTC+01:00".
pub fn time_range(from: Option<Ts>, to: Option<Ts>) -> Option<String> {
    let (f, t) = (from?.to_rfc3339(), to?.to_rfc3339());
    let day_min = |s: &str| s.get(..16).unwrap_or(s).replace('T', " ");
    let off = t.get(t.len().saturating_sub(6)..).unwrap_or("");
    let zone = if off == "+00:00" {
        "UTC".to_string()
    } else {
        format!("UTC{off}")
    };
    Some(format!("{} – {} {zone}", day_min(&f), day_min(&t)))
}

/// Builds the map scene.
pub fn scene(data: &MapData, opts: &MapOptions) -> Scene {
    let (w, h) = (opts.width, opts.height);
    let pal = opts.theme.palette();
    let m = Metrics::new(w, h);
    let title = opts
        .title
        .clone()
        .unwrap_or_else(|| "SSH attack attempts by country".to_string());
    let mut s = Scene::new(w, h, pal.background, title.clone());

    // Header: title, then the time range and totals.
    let mut y = m.margin + m.title;
    s.text(m.margin, y, m.title, pal.text, Anchor::Start, title);
    y += m.body * 1.5;
    let mut sub = Vec::new();
    if let Some(r) = time_range(data.from, data.to) {
        sub.push(r);
    }
    sub.push(format!(
        "{} attempts from {} unique IPs in {} countries",
        thousands(data.attempts),
        thousands(data.unique_ips),
        data.countries.len()
    ));
    s.text(
        m.margin,
        y,
        m.body,
        pal.muted,
        Anchor::Start,
        sub.join("   ·   "),
    );
    let (mx, my, mw, mh) = map_rect(opts);
    let proj = opts.projection;
    let fit = pixel_fit(opts);
    s.items.push(map_layer(
        data,
        &proj,
        &fit,
        pal,
        &m,
        Detail::for_size(w, h),
    ));

    if let (Some((lat, lon)), true) = (opts.home, opts.points) {
        if proj.visible(lon, lat) {
            s.items
                .push(arcs_layer(data, (lat, lon), &proj, &fit, pal, &m));
        }
    }
    // Home and its label first claim their place: attackers' labels keep clear of it.
    let home = opts
        .home
        .filter(|&(lat, lon)| proj.visible(lon, lat))
        .map(|(lat, lon)| {
            let (x, y) = fit.apply(proj.project(lon, lat));
            let r = 7.0 * m.u;
            let (tx, ty) = (x + r + 4.0 * m.u, y + m.small * 0.35);
            let plate = (
                tx - 3.0 * m.u,
                ty - m.small - 1.0 * m.u,
                tx + super::text::width("home", m.small) + 3.0 * m.u,
                ty + m.small * 0.3 + 1.0 * m.u,
            );
            (x, y, r, tx, ty, plate)
        });
    let reserved: Vec<(f32, f32, f32, f32)> = home
        .iter()
        .flat_map(|&(x, y, r, _, _, plate)| [plate, (x - r, y - r, x + r, y + r)])
        .collect();
    if opts.points && !data.points.is_empty() {
        s.items.push(points_layer(data, &proj, &fit, pal, &m));
        labels_layer(
            &mut s,
            data,
            &proj,
            &fit,
            pal,
            &m,
            opts.top_labels,
            &reserved,
        );
    }
    if let Some((x, y, r, tx, ty, plate)) = home {
        {
            s.items.push(Item::Circle {
                title: None,
                cx: x,
                cy: y,
                r,
                fill: pal.home.with_alpha(60),
                stroke: Some(Stroke {
                    color: pal.home,
                    width: 2.5 * m.u,
                }),
            });
            s.items.push(Item::Circle {
                title: None,
                cx: x,
                cy: y,
                r: 2.5 * m.u,
                fill: pal.home,
                stroke: None,
            });
            // Drawn last, on a dark plate: it stays readable over dense points
            // (Europe, where many servers are).
            s.items.push(Item::Rect {
                x: plate.0,
                y: plate.1,
                w: plate.2 - plate.0,
                h: plate.3 - plate.1,
                fill: pal.background.with_alpha(190),
            });
            s.text(tx, ty, m.small, pal.home, Anchor::Start, "home");
        }
    }
    if data.attempts == 0 {
        s.text(
            mx + mw / 2.0,
            my + mh / 2.0,
            m.title * 1.6,
            pal.text,
            Anchor::Middle,
            "no attempts",
        );
    }
    legend(&mut s, data, pal, &m);
    s
}

/// The rectangle the world is drawn in: between the header and the legend.
fn map_rect(opts: &MapOptions) -> (f32, f32, f32, f32) {
    let m = Metrics::new(opts.width, opts.height);
    let header = m.margin + m.title + m.body * 1.5 + m.body * 0.8;
    let footer = m.small * 4.6 + m.margin;
    (
        m.margin,
        header,
        opts.width as f32 - 2.0 * m.margin,
        (opts.height as f32 - header - footer).max(10.0),
    )
}

/// Where (lon, lat) lands in the picture: `fit.apply(opts.projection.project(lon, lat))`.
pub fn pixel_fit(opts: &MapOptions) -> Fit {
    let (x, y, w, h) = map_rect(opts);
    Fit::new(
        &opts.projection,
        f64::from(x),
        f64::from(y),
        f64::from(w),
        f64::from(h),
    )
}

fn map_layer(
    data: &MapData,
    proj: &Projection,
    fit: &Fit,
    pal: &Palette,
    m: &Metrics,
    detail: Detail,
) -> Item {
    let outline: Vec<(f32, f32)> = proj.outline().into_iter().map(|p| fit.apply(p)).collect();
    let max = data.countries.values().copied().max().unwrap_or(0);
    let mut items = Vec::with_capacity(260);
    items.push(Item::Shape(Shape {
        id: Some("ocean".into()),
        title: None,
        rings: vec![outline.clone()],
        closed: true,
        fill: Some(pal.ocean),
        stroke: None,
        lines: None,
    }));
    // At most one pixel: tiny-skia draws those as anti-aliased hairlines, far cheaper than
    // stroking 100k vertices of 50m borders into polygons, and they look the same.
    let border = Stroke {
        color: pal.border,
        width: (0.6 * m.u).clamp(0.4, 1.0),
    };
    let globe = matches!(proj, Projection::Orthographic { .. });
    // Attacking countries drawn big enough to see; the others get a dot.
    let min_px = (5.0 * m.u).max(4.0);
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for c in &world::get(detail).countries {
        let mut rings = Vec::with_capacity(c.rings.len());
        let mut lines: Vec<Vec<(f32, f32)>> = Vec::new();
        let mut cut = false;
        for r in &c.rings {
            let vis: Vec<bool> = if globe {
                r.iter()
                    .map(|&(lon, lat)| proj.visible(f64::from(lon), f64::from(lat)))
                    .collect()
            } else {
                Vec::new()
            };
            if globe && !vis.iter().any(|&v| v) {
                continue;
            }
            let plane: Vec<(f64, f64)> = r
                .iter()
                .map(|&(lon, lat)| proj.project(f64::from(lon), f64::from(lat)))
                .collect();
            let pts: Vec<(f32, f32)> = plane.iter().map(|&p| fit.apply(p)).collect();
            // Border lines: every edge except the ±180° cut, the pole closure and the far side.
            let n = r.len();
            let mut cur: Vec<(f32, f32)> = Vec::new();
            let mut ring_lines = Vec::new();
            for i in 0..n {
                let j = (i + 1) % n;
                let (a, b) = (r[i], r[j]);
                let seam =
                    (a.0.abs() >= 179.99 && b.0.abs() >= 179.99 && a.0.signum() == b.0.signum())
                        || (a.1.abs() >= 89.99 && b.1.abs() >= 89.99);
                let hidden = globe && !vis[i] && !vis[j];
                if seam || hidden {
                    cut = true;
                    if cur.len() > 1 {
                        ring_lines.push(std::mem::take(&mut cur));
                    }
                    cur.clear();
                } else {
                    if cur.is_empty() {
                        cur.push(pts[i]);
                    }
                    cur.push(pts[j]);
                }
            }
            if cur.len() > 1 {
                ring_lines.push(cur);
            }
            lines.extend(ring_lines);
            rings.push(if globe {
                globe_ring(&plane, &vis)
                    .into_iter()
                    .map(|p| fit.apply(p))
                    .collect()
            } else {
                pts
            });
        }
        if rings.is_empty() {
            continue;
        }
        let n = data.countries.get(&c.iso2).copied().unwrap_or(0);
        let name = countries::name(&c.iso2).unwrap_or(&c.iso2);
        if n > 0 {
            let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
            for &(x, y) in rings.iter().flatten() {
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            if (x1 - x0).max(y1 - y0) >= min_px {
                seen.insert(c.iso2.as_str());
            }
        }
        items.push(Item::Shape(Shape {
            id: Some(c.iso2.clone()),
            title: Some(format!("{name}: {} attempts", thousands(n))),
            rings,
            closed: true,
            fill: Some(pal.attempts(n, max)),
            stroke: Some(border),
            lines: cut.then_some(lines),
        }));
    }
    let mut small: Vec<(&String, &u64)> = data
        .countries
        .iter()
        .filter(|(cc, n)| **n > 0 && !seen.contains(cc.as_str()))
        .collect();
    small.sort();
    for (cc, &n) in small {
        let Some((lat, lon)) = countries::label_point(cc) else {
            continue;
        };
        if !proj.visible(lon, lat) {
            continue;
        }
        let (x, y) = fit.apply(proj.project(lon, lat));
        let name = countries::name(cc).unwrap_or(cc);
        items.push(Item::Circle {
            title: Some(format!("{name}: {} attempts", thousands(n))),
            cx: x,
            cy: y,
            r: (3.0 * m.u).max(2.5),
            fill: pal.attempts(n, max),
            stroke: Some(border),
        });
    }
    // Mercator's band is cut by the clip; the other outlines already contain everything.
    let clip = matches!(proj, Projection::Mercator).then(|| vec![outline]);
    Item::Group {
        id: Some("countries".into()),
        clip,
        items,
    }
}

/// A ring on the globe with each run of far-side points (already pushed onto the
/// rim) replaced by one arc along the rim that sweeps the same net angle. Tracing
/// the run itself goes back and forth along the rim, and the chords of the two
/// passes leave visible slivers.
fn globe_ring(plane: &[(f64, f64)], vis: &[bool]) -> Vec<(f64, f64)> {
    let n = plane.len();
    let Some(start) = vis.iter().position(|&v| v) else {
        return Vec::new();
    };
    if vis.iter().all(|&v| v) {
        return plane.to_vec();
    }
    let mut out = Vec::with_capacity(n + 64);
    let mut k = 0;
    while k < n {
        let i = (start + k) % n;
        if vis[i] {
            out.push(plane[i]);
            k += 1;
            continue;
        }
        let mut a0 = plane[i].1.atan2(plane[i].0);
        let first = a0;
        let mut sweep = 0.0;
        while k < n && !vis[(start + k) % n] {
            let p = plane[(start + k) % n];
            let a = p.1.atan2(p.0);
            let mut d = a - a0;
            if d > std::f64::consts::PI {
                d -= std::f64::consts::TAU;
            } else if d < -std::f64::consts::PI {
                d += std::f64::consts::TAU;
            }
            sweep += d;
            a0 = a;
            k += 1;
        }
        let steps = ((sweep.abs() / 2f64.to_radians()).ceil() as usize).max(1);
        for j in 0..=steps {
            let a = first + sweep * j as f64 / steps as f64;
            out.push((a.cos(), a.sin()));
        }
    }
    out
}

fn points_layer(data: &MapData, proj: &Projection, fit: &Fit, pal: &Palette, m: &Metrics) -> Item {
    let max = data.points.values().copied().max().unwrap_or(1).max(1);
    let mut pts: Vec<(&(i32, i32), &u64)> = data.points.iter().collect();
    // Big circles first so small ones stay visible on top of them.
    pts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let edge = Stroke {
        color: pal.point_edge,
        width: (0.8 * m.u).max(0.5),
    };
    // Per point: how many addresses, and the busiest one (for the tooltip).
    let mut per: HashMap<Place, (usize, Option<(IpAddr, u64)>)> = HashMap::new();
    for (ip, &(n, key)) in &data.by_ip {
        if let Some(k) = key {
            let e = per.entry(k).or_default();
            e.0 += 1;
            if e.1.is_none_or(|(bip, bn)| n > bn || (n == bn && *ip < bip)) {
                e.1 = Some((*ip, n));
            }
        }
    }
    let items = pts
        .into_iter()
        .filter_map(|(&(la, lo), &n)| {
            let (lat, lon) = (f64::from(la) / 100.0, f64::from(lo) / 100.0);
            if !proj.visible(lon, lat) {
                return None;
            }
            let (x, y) = fit.apply(proj.project(lon, lat));
            let r = (16.0 * m.u * ((n as f32) / (max as f32)).sqrt())
                .max(2.0 * m.u)
                .max(1.5);
            let title = match per.get(&(la, lo)) {
                Some((1, Some((ip, _)))) => format!("{ip}: {} attempts", thousands(n)),
                Some((k, Some((ip, a)))) => format!(
                    "{} attempts from {k} addresses; the busiest: {ip} ({})",
                    thousands(n),
                    thousands(*a)
                ),
                _ => format!("{} attempts", thousands(n)),
            };
            Some(Item::Circle {
                title: Some(title),
                cx: x,
                cy: y,
                r,
                fill: pal.point,
                stroke: Some(edge),
            })
        })
        .collect();
    Item::Group {
        id: Some("points".into()),
        clip: None,
        items,
    }
}

/// The `top` busiest addresses with a known point: "address  attempts" beside
/// their point, skipping any label that would overlap one already placed.
#[allow(clippy::too_many_arguments)]
fn labels_layer(
    s: &mut Scene,
    data: &MapData,
    proj: &Projection,
    fit: &Fit,
    pal: &Palette,
    m: &Metrics,
    top: usize,
    reserved: &[(f32, f32, f32, f32)],
) {
    let mut ips: Vec<(&IpAddr, &(u64, Option<Place>))> = data
        .by_ip
        .iter()
        .filter(|(_, (_, k))| k.is_some())
        .collect();
    ips.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(b.0)));
    let max = data.points.values().copied().max().unwrap_or(1).max(1);
    let size = m.small;
    let mut placed: Vec<(f32, f32, f32, f32)> = reserved.to_vec();
    let mut shown = 0;
    let busiest = ips.first().map_or(0, |i| i.1 .0);
    for (ip, &(n, key)) in ips {
        // The top few, and only those that stand out (not one of a thousand at 4 attempts).
        if shown == top || n * 20 < busiest {
            break;
        }
        let Some((la, lo)) = key else { continue };
        let (lat, lon) = (f64::from(la) / 100.0, f64::from(lo) / 100.0);
        if !proj.visible(lon, lat) {
            continue;
        }
        let (x, y) = fit.apply(proj.project(lon, lat));
        let at_point = data.points.get(&(la, lo)).copied().unwrap_or(n);
        let r = (16.0 * m.u * ((at_point as f32) / (max as f32)).sqrt()).max(2.0 * m.u);
        let text = format!("{ip}  {}", thousands(n));
        let (tx, ty) = (x + r + 4.0 * m.u, y + size * 0.35);
        let b = (
            tx,
            ty - size,
            tx + super::text::width(&text, size),
            ty + size * 0.3,
        );
        if placed
            .iter()
            .any(|p| b.0 < p.2 && p.0 < b.2 && b.1 < p.3 && p.1 < b.3)
        {
            continue;
        }
        placed.push(b);
        // A dark plate so the label reads on the brightest country.
        s.items.push(Item::Rect {
            x: b.0 - 3.0 * m.u,
            y: b.1 - 1.0 * m.u,
            w: b.2 - b.0 + 6.0 * m.u,
            h: b.3 - b.1 + 2.0 * m.u,
            fill: pal.background.with_alpha(190),
        });
        s.text(tx, ty, size, pal.text, Anchor::Start, text);
        shown += 1;
    }
}

/// Arcs from the busiest points to home, as the live page draws them.
fn arcs_layer(
    data: &MapData,
    home: (f64, f64),
    proj: &Projection,
    fit: &Fit,
    pal: &Palette,
    m: &Metrics,
) -> Item {
    let (hx, hy) = fit.apply(proj.project(home.1, home.0));
    let mut pts: Vec<(&(i32, i32), &u64)> = data.points.iter().collect();
    pts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let items = pts
        .into_iter()
        .take(12)
        .filter_map(|(&(la, lo), _)| {
            let (lat, lon) = (f64::from(la) / 100.0, f64::from(lo) / 100.0);
            if !proj.visible(lon, lat) {
                return None;
            }
            let (x, y) = fit.apply(proj.project(lon, lat));
            let (dx, dy) = (hx - x, hy - y);
            let len = (dx * dx + dy * dy).sqrt();
            if len < 4.0 * m.u {
                return None;
            }
            // A quadratic curve bowed to one side by a fifth of its length, upwards on screen.
            let (mut nx, mut ny) = (-dy / len, dx / len);
            if ny > 0.0 {
                (nx, ny) = (-nx, -ny);
            }
            let (cx, cy) = (x + dx / 2.0 + nx * len * 0.2, y + dy / 2.0 + ny * len * 0.2);
            let line: Vec<(f32, f32)> = (0..=32)
                .map(|i| {
                    let t = i as f32 / 32.0;
                    let a = (1.0 - t) * (1.0 - t);
                    let b = 2.0 * (1.0 - t) * t;
                    let c = t * t;
                    (a * x + b * cx + c * hx, a * y + b * cy + c * hy)
                })
                .collect();
            Some(Item::Shape(Shape {
                id: None,
                title: None,
                rings: vec![line],
                closed: false,
                fill: None,
                stroke: Some(Stroke {
                    color: pal.home.with_alpha(150),
                    width: (1.4 * m.u).max(1.0),
                }),
                lines: None,
            }))
        })
        .collect();
    Item::Group {
        id: Some("arcs".into()),
        clip: None,
        items,
    }
}

fn legend(s: &mut Scene, data: &MapData, pal: &Palette, m: &Metrics) {
    let (w, h) = (s.width as f32, s.height as f32);
    let max = data.countries.values().copied().max().unwrap_or(0);
    let bar_w = (360.0 * m.u).min(w * 0.4);
    let bar_h = m.small * 0.9;
    let x = m.margin;
    let bar_y = h - m.margin - m.small * 1.6 - bar_h;
    s.text(
        x,
        bar_y - m.small * 0.5,
        m.small,
        pal.muted,
        Anchor::Start,
        "attempts per country (log scale)",
    );
    if max > 0 {
        s.items.push(Item::Gradient {
            x,
            y: bar_y,
            w: bar_w,
            h: bar_h,
            stops: pal.ramp.to_vec(),
        });
        let mut ticks = vec![1u64];
        let mut t = 10u64;
        while t < max {
            ticks.push(t);
            t = t.saturating_mul(10);
        }
        if max > 1 {
            // The max's own label wins over a round tick too close to it ("100 187").
            ticks.retain(|&t| t == 1 || log_pos(t, max) < 0.85);
            ticks.push(max);
        }
        let mut last_end = f32::MIN;
        let n = ticks.len();
        for (i, v) in ticks.into_iter().enumerate() {
            let tx = x + bar_w * log_pos(v, max) as f32;
            let label = short(v);
            let lw = super::text::width(&label, m.small);
            let anchor = if i == 0 {
                Anchor::Start
            } else if i + 1 == n {
                Anchor::End
            } else {
                Anchor::Middle
            };
            let start = match anchor {
                Anchor::Start => tx,
                Anchor::Middle => tx - lw / 2.0,
                Anchor::End => tx - lw,
            };
            // Skip a tick whose label would overlap the previous one (the max wins).
            if start < last_end + 4.0 * m.u && i + 1 != n {
                continue;
            }
            last_end = start + lw;
            s.items.push(Item::Rect {
                x: tx - 0.5 * m.u.max(1.0),
                y: bar_y + bar_h,
                w: m.u.max(1.0),
                h: 4.0 * m.u,
                fill: pal.muted,
            });
            s.text(
                tx,
                bar_y + bar_h + m.small * 1.3,
                m.small,
                pal.muted,
                anchor,
                label,
            );
        }
    }
    // "No attempts" swatch.
    let sx = x + bar_w + 18.0 * m.u;
    s.items.push(Item::Rect {
        x: sx,
        y: bar_y,
        w: bar_h * 1.4,
        h: bar_h,
        fill: pal.land,
    });
    s.text(
        sx + bar_h * 1.4 + 6.0 * m.u,
        bar_y + bar_h * 0.85,
        m.small,
        pal.muted,
        Anchor::Start,
        "none",
    );

    // Right side: top countries, unplaced attempts, attribution.
    let rx = w - m.margin;
    let mut top: Vec<(&String, &u64)> = data.countries.iter().collect();
    top.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    if !top.is_empty() && data.attempts > 0 {
        let line = top
            .iter()
            .take(5)
            .map(|(c, &n)| {
                let name = countries::name(c).unwrap_or(c);
                format!("{name} {:.0}%", 100.0 * n as f64 / data.attempts as f64)
            })
            .collect::<Vec<_>>()
            .join(" · ");
        s.text(
            rx,
            bar_y - m.small * 0.5,
            m.small,
            pal.text,
            Anchor::End,
            format!("Top: {line}"),
        );
    }
    if data.unlocated > 0 {
        s.text(
            rx,
            bar_y + bar_h * 0.85,
            m.small,
            pal.muted,
            Anchor::End,
            format!(
                "{} attempts from addresses with no known location",
                thousands(data.unlocated)
            ),
        );
    }
    s.text(
        rx,
        h - m.margin,
        m.small * 0.85,
        pal.muted,
        Anchor::End,
        ATTRIBUTION,
    );
}

/// Colour of a country in a scene (tests and callers that want to know).
pub fn country_fill(scene: &Scene, iso2: &str) -> Option<Color> {
    fn find(items: &[Item], iso2: &str) -> Option<Color> {
        items.iter().find_map(|it| match it {
            Item::Shape(s) if s.id.as_deref() == Some(iso2) => s.fill,
            Item::Group { items, .. } => find(items, iso2),
            _ => None,
        })
    }
    find(&scene.items, iso2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::scene::Text;

    #[test]
    fn colours_follow_the_log_ramp() {
        let d = MapData::from_countries(&[("CN", 1000), ("FR", 10), ("us", 1)]);
        let s = scene(&d, &MapOptions::default());
        let p = Theme::Dark.palette();
        assert_eq!(country_fill(&s, "CN"), Some(*p.ramp.last().unwrap()));
        assert_eq!(country_fill(&s, "US"), Some(p.ramp[0]));
        assert_eq!(country_fill(&s, "DE"), Some(p.land));
        assert_eq!(country_fill(&s, "FR"), Some(p.ramp_at(1.0 / 3.0)));
    }

    /// Issue 16 point 9: the home label was hidden under the labels of nearby attackers.
    #[test]
    fn attackers_labels_keep_clear_of_home() {
        let mut d = MapData::default();
        // A busy attacker placed on home itself (Paris), and one far away.
        for (ip, lat, lon, n) in [
            ("203.0.113.7", 48.85, 2.35, 500u64),
            ("198.51.100.9", 35.0, 105.0, 400),
        ] {
            let key = (
                (lat * 100.0f64).round() as i32,
                (lon * 100.0f64).round() as i32,
            );
            *d.points.entry(key).or_default() += n;
            d.by_ip.insert(ip.parse().unwrap(), (n, Some(key)));
            d.attempts += n;
        }
        let opts = MapOptions {
            points: true,
            home: Some((48.85, 2.35)),
            top_labels: 5,
            ..MapOptions::default()
        };
        let s = scene(&d, &opts);
        let texts: Vec<&Text> = s
            .items
            .iter()
            .filter_map(|i| match i {
                Item::Text(t) => Some(t),
                _ => None,
            })
            .collect();
        let bbox = |t: &Text| {
            (
                t.x,
                t.y - t.size,
                t.x + crate::render::text::width(&t.text, t.size),
                t.y,
            )
        };
        let home = texts.iter().find(|t| t.text == "home").expect("home label");
        let h = bbox(home);
        assert!(
            texts.iter().any(|t| t.text.starts_with("198.51.100.9")),
            "the far attacker is labelled"
        );
        for t in texts.iter().filter(|t| t.text.contains("  ")) {
            let b = bbox(t);
            let overlap = b.0 < h.2 && h.0 < b.2 && b.1 < h.3 && h.1 < b.3;
            assert!(!overlap, "{:?} covers the home label", t.text);
        }
    }

    #[test]
    fn numbers_and_ranges() {
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(12), "12");
        assert_eq!(short(25_000), "25k");
        let r = time_range(
            Some(Ts::from_micros(0, 0)),
            Some(Ts::from_micros(3_600_000_000, 0)),
        )
        .unwrap();
        assert_eq!(r, "1970-01-01 00:00 – 1970-01-01 01:00 UTC");
    }
}
