//! The report's world map: country outlines as SVG path data, in Equal Earth.
//!
//! Shapes come from the embedded `assets/world/countries-50m.bin` (format in
//! `scripts/build-world.py`). Paths are rounded to a tenth of a unit in a
//! 1000-unit-wide view box and points closer than that to the previous one are
//! dropped: the map stays crisp at 8× zoom and weighs a few hundred kilobytes
//! instead of megabytes.
//!
//! The projection is the same formula as `sshmap map` (Equal Earth, Šavrič et
//! al. 2018); when the renderer's `render::projection` lands on main this
//! module should call it instead of its own copy.

use std::fmt::Write as _;

const WORLD_50M: &[u8] = include_bytes!("../../assets/world/countries-50m.bin");

/// Width of the SVG view box; the height follows from the projection's aspect.
pub const WIDTH: f64 = 1000.0;

const A1: f64 = 1.340264;
const A2: f64 = -0.081106;
const A3: f64 = 0.000893;
const A4: f64 = 0.003796;

/// Equal Earth, unit sphere: (lon, lat) in degrees → (x, y) with y up.
pub fn equal_earth(lon: f64, lat: f64) -> (f64, f64) {
    let m = 3f64.sqrt() / 2.0;
    let lam = lon.to_radians();
    let th = (m * lat.to_radians().sin()).asin();
    let t2 = th * th;
    let t6 = t2 * t2 * t2;
    let y = th * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
    let x = 2.0 * 3f64.sqrt() * lam * th.cos() / (3.0 * (A1 + 3.0 * A2 * t2 + t6 * (7.0 * A3 + 9.0 * A4 * t2)));
    (x, y)
}

/// Extent of the projected world: x in ±XMAX, y in ±YMAX.
fn extent() -> (f64, f64) {
    (equal_earth(180.0, 0.0).0, equal_earth(0.0, 90.0).1)
}

/// Height of the SVG view box.
pub fn height() -> f64 {
    let (xm, ym) = extent();
    (WIDTH * ym / xm).round()
}

/// (lon, lat) → view-box coordinates (y down), rounded to 0.1.
pub fn project(lon: f64, lat: f64) -> (f64, f64) {
    let (xm, ym) = extent();
    let (x, y) = equal_earth(lon, lat);
    let s = WIDTH / (2.0 * xm);
    let h = height();
    let px = (x + xm) * s;
    let py = h / 2.0 - y * s;
    debug_assert!(ym > 0.0);
    ((px * 10.0).round() / 10.0, (py * 10.0).round() / 10.0)
}

/// One country's outline: ISO code and SVG path data (even-odd fill).
pub struct CountryPath {
    pub iso2: String,
    pub d: String,
}

/// The sphere's outline (the map's background), as SVG path data.
pub fn outline() -> String {
    let mut pts = Vec::new();
    for i in 0..=36 {
        pts.push(project(180.0, 90.0 - f64::from(i) * 5.0));
    }
    for i in 0..=36 {
        pts.push(project(-180.0, -90.0 + f64::from(i) * 5.0));
    }
    let mut d = String::new();
    for (i, (x, y)) in pts.iter().enumerate() {
        let _ = write!(d, "{}{x} {y}", if i == 0 { "M" } else { "L" });
    }
    d.push('Z');
    d
}

/// Every country of the embedded 1:50m geometry.
pub fn countries() -> Vec<CountryPath> {
    decode(WORLD_50M).unwrap_or_default()
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.b.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|s| u16::from_le_bytes([s[0], s[1]]))
    }
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.take(1)?.first()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }
}

fn decode(data: &[u8]) -> Option<Vec<CountryPath>> {
    let mut r = Reader { b: data, at: 0 };
    if r.take(8)? != b"SSHMAPW1" {
        return None;
    }
    let n = r.u16()?;
    let mut out = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let iso2 = String::from_utf8_lossy(r.take(2)?).into_owned();
        let rings = r.u16()?;
        let mut d = String::new();
        for _ in 0..rings {
            let count = r.varint()?;
            let (mut qx, mut qy) = (0i64, 0i64);
            let mut ring: Vec<(f64, f64)> = Vec::with_capacity(count as usize);
            for _ in 0..count {
                qx += r.zigzag()?;
                qy += r.zigzag()?;
                let lon = qx as f64 / 65535.0 * 360.0 - 180.0;
                let lat = qy as f64 / 65535.0 * 180.0 - 90.0;
                let p = project(lon, lat);
                if ring.last() != Some(&p) {
                    ring.push(p);
                }
            }
            write_ring(&mut d, &ring);
        }
        if !d.is_empty() {
            out.push(CountryPath { iso2, d });
        }
    }
    Some(out)
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
        let _ = write!(d, "{}{}{sep}{}", if first { "l" } else if dx < 0 { "" } else { " " }, fmt(dx), fmt(dy));
        first = false;
        (px, py) = (x, y);
    }
    d.push('z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_earth_matches_reference_values() {
        // proj: +proj=eqearth on the unit sphere.
        let (x, y) = equal_earth(180.0, 0.0);
        assert!((x - 2.7066).abs() < 1e-3, "{x}");
        assert!(y.abs() < 1e-12);
        let (_, y) = equal_earth(0.0, 90.0);
        assert!((y - 1.3173).abs() < 1e-3, "{y}");
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
