//! The report's world map: country outlines as SVG path data, in Equal Earth.
//!
//! Shapes and projection are the renderer's ([`crate::render::world`] 1:50m,
//! [`crate::render::projection::Projection::EqualEarth`]), the same as `sshmap map`.
//! Paths are rounded to a tenth of a unit in a 1000-unit-wide view box and points
//! closer than half a unit to the previous one are dropped: the map stays crisp at
//! 8× zoom and weighs a few hundred kilobytes instead of megabytes.

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::render::projection::Projection;
use crate::render::world::{self as geometry, Detail};

/// Width of the SVG view box; the height follows from the projection's aspect.
pub const WIDTH: f64 = 1000.0;

const PROJ: Projection = Projection::EqualEarth;

/// Plane bounds of the projected world (xmin, ymin, xmax, ymax, y up), computed once.
fn bounds() -> (f64, f64, f64, f64) {
    static B: OnceLock<(f64, f64, f64, f64)> = OnceLock::new();
    *B.get_or_init(|| PROJ.bounds())
}

/// Height of the SVG view box.
pub fn height() -> f64 {
    let (x0, y0, x1, y1) = bounds();
    (WIDTH * (y1 - y0) / (x1 - x0)).round()
}

/// (lon, lat) → view-box coordinates (y down), rounded to 0.1.
pub fn project(lon: f64, lat: f64) -> (f64, f64) {
    let (x0, y0, x1, y1) = bounds();
    let (x, y) = PROJ.project(lon, lat);
    let s = WIDTH / (x1 - x0);
    let px = (x - x0) * s;
    let py = height() / 2.0 - (y - (y0 + y1) / 2.0) * s;
    ((px * 10.0).round() / 10.0, (py * 10.0).round() / 10.0)
}

/// One country's outline: ISO code and SVG path data (even-odd fill).
pub struct CountryPath {
    pub iso2: String,
    pub d: String,
}

/// The sphere's outline (the map's background), as SVG path data.
pub fn outline() -> String {
    let mut d = String::new();
    for (i, lonlat) in outline_lonlat().into_iter().enumerate() {
        let (x, y) = project(lonlat.0, lonlat.1);
        let _ = write!(d, "{}{x} {y}", if i == 0 { "M" } else { "L" });
    }
    d.push('Z');
    d
}

fn outline_lonlat() -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = (0..=36)
        .map(|i| (180.0, 90.0 - f64::from(i) * 5.0))
        .collect();
    v.extend((0..=36).map(|i| (-180.0, -90.0 + f64::from(i) * 5.0)));
    v
}

/// Every country of the embedded 1:50m geometry.
pub fn countries() -> Vec<CountryPath> {
    geometry::get(Detail::High)
        .countries
        .iter()
        .filter_map(|c| {
            let mut d = String::new();
            for ring in &c.rings {
                let mut pts: Vec<(f64, f64)> = Vec::with_capacity(ring.len());
                for &(lon, lat) in ring {
                    let p = project(f64::from(lon), f64::from(lat));
                    if pts.last() != Some(&p) {
                        pts.push(p);
                    }
                }
                write_ring(&mut d, &pts);
            }
            (!d.is_empty()).then(|| CountryPath {
                iso2: c.iso2.clone(),
                d,
            })
        })
        .collect()
}

/// Appends one ring as relative path commands in tenths (`M x y l dx dy … z`).
fn write_ring(d: &mut String, ring: &[(f64, f64)]) {
    if ring.len() < 3 {
        return;
    }
    let tenth = |v: f64| (v * 10.0).round() as i64;
    let fmt = |v: i64| {
        let s = if v < 0 { "-" } else { "" };
        let a = v.unsigned_abs();
        if a % 10 == 0 {
            format!("{s}{}", a / 10)
        } else {
            format!("{s}{}.{}", a / 10, a % 10)
        }
    };
    let (mut px, mut py) = (tenth(ring[0].0), tenth(ring[0].1));
    let _ = write!(d, "M{} {}", fmt(px), fmt(py));
    let mut first = true;
    for &(x, y) in &ring[1..] {
        let (x, y) = (tenth(x), tenth(y));
        // Drop points within half a unit of the last one kept: invisible, and most of the bytes.
        if (x - px).abs() + (y - py).abs() < 5 {
            continue;
        }
        let (dx, dy) = (x - px, y - py);
        let sep = if dy < 0 { "" } else { " " };
        let _ = write!(
            d,
            "{}{}{sep}{}",
            if first {
                "l"
            } else if dx < 0 {
                ""
            } else {
                " "
            },
            fmt(dx),
            fmt(dy)
        );
        first = false;
        (px, py) = (x, y);
    }
    d.push('z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_box_has_equal_earths_aspect() {
        // Equal Earth: 2·2.7066 wide, 2·1.3173 high.
        assert!((height() - 487.0).abs() <= 1.0, "{}", height());
        assert_eq!(project(-180.0, 0.0).0, 0.0);
        assert_eq!(project(180.0, 0.0).0, WIDTH);
        assert!((project(0.0, 0.0).1 - height() / 2.0).abs() < 0.6);
    }

    #[test]
    fn every_country_has_a_path_inside_the_view_box() {
        let c = countries();
        assert!(c.len() > 200, "{}", c.len());
        let fr = c.iter().find(|c| c.iso2 == "FR").expect("France");
        assert!(fr.d.starts_with('M') && fr.d.ends_with('z'));
        let (x, y) = project(2.35, 48.85);
        assert!(x > 480.0 && x < 530.0 && y > 60.0 && y < 90.0, "{x} {y}");
        let total: usize = c.iter().map(|c| c.d.len()).sum();
        assert!(total < 900_000, "world paths are {total} bytes");
    }
}
