//! Map projections as pure functions: longitude/latitude in degrees → plane coordinates (y up).
//!
//! Plane units are those of the unit sphere; [`Fit`] scales them to pixels. Equal
//! Earth is the default because it keeps areas true, which a choropleth needs: a
//! big country does not look like more attacks than it sent.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4, PI};

/// Mercator is cut here: beyond, Greenland and Antarctica swallow the picture.
pub const MERCATOR_LAT: (f64, f64) = (-70.0, 78.0);

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Projection {
    EqualEarth,
    Mercator,
    NaturalEarth,
    /// A globe seen from above (lat, lon).
    Orthographic {
        lat0: f64,
        lon0: f64,
    },
}

impl Projection {
    /// Parses a `--projection` name; `center` is used by the globe.
    pub fn from_name(name: &str, center: (f64, f64)) -> Option<Projection> {
        let n = name.to_ascii_lowercase().replace(['-', '_', ' '], "");
        Some(match n.as_str() {
            "equalearth" => Projection::EqualEarth,
            "mercator" => Projection::Mercator,
            "naturalearth" | "naturalearth1" => Projection::NaturalEarth,
            "orthographic" | "globe" | "ortho" => Projection::Orthographic {
                lat0: center.0,
                lon0: center.1,
            },
            _ => return None,
        })
    }

    pub const NAMES: &'static str = "equal-earth, mercator, natural-earth, orthographic";

    /// Projects a point. On the globe, points on the far side are pushed onto the
    /// rim at their own bearing, so a ring that passes behind the globe runs along
    /// the edge instead of cutting across the disc (see [`Projection::visible`]).
    pub fn project(&self, lon: f64, lat: f64) -> (f64, f64) {
        let lam = lon.to_radians();
        let phi = lat.clamp(-90.0, 90.0).to_radians();
        match *self {
            Projection::EqualEarth => equal_earth(lam, phi),
            Projection::Mercator => {
                let phi = phi.clamp(-89.5f64.to_radians(), 89.5f64.to_radians());
                (lam, (FRAC_PI_4 + phi / 2.0).tan().ln())
            }
            Projection::NaturalEarth => natural_earth(lam, phi),
            Projection::Orthographic { lat0, lon0 } => {
                let (p0, dl) = (lat0.to_radians(), lam - lon0.to_radians());
                let x = phi.cos() * dl.sin();
                let y = p0.cos() * phi.sin() - p0.sin() * phi.cos() * dl.cos();
                if self.cos_c(lam, phi) >= 0.0 {
                    (x, y)
                } else {
                    let r = x.hypot(y);
                    if r < 1e-12 {
                        (0.0, -1.0)
                    } else {
                        (x / r, y / r)
                    }
                }
            }
        }
    }

    fn cos_c(&self, lam: f64, phi: f64) -> f64 {
        match *self {
            Projection::Orthographic { lat0, lon0 } => {
                let p0 = lat0.to_radians();
                p0.sin() * phi.sin() + p0.cos() * phi.cos() * (lam - lon0.to_radians()).cos()
            }
            _ => 1.0,
        }
    }

    /// Whether the point is drawn (the near side of the globe; Mercator's latitude band).
    pub fn visible(&self, lon: f64, lat: f64) -> bool {
        match self {
            Projection::Orthographic { .. } => {
                self.cos_c(lon.to_radians(), lat.to_radians()) >= 0.0
            }
            Projection::Mercator => (MERCATOR_LAT.0..=MERCATOR_LAT.1).contains(&lat),
            _ => true,
        }
    }

    /// Plane → (lon, lat) in degrees; `None` outside the map.
    pub fn invert(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        let (lam, phi) = match *self {
            Projection::EqualEarth => equal_earth_inv(x, y)?,
            Projection::Mercator => (x, 2.0 * y.exp().atan() - FRAC_PI_2),
            Projection::NaturalEarth => natural_earth_inv(x, y)?,
            Projection::Orthographic { lat0, lon0 } => {
                let rho = x.hypot(y);
                if rho > 1.0 + 1e-12 {
                    return None;
                }
                let (p0, l0) = (lat0.to_radians(), lon0.to_radians());
                if rho < 1e-15 {
                    (l0, p0)
                } else {
                    let c = rho.min(1.0).asin();
                    let phi = (c.cos() * p0.sin() + y * c.sin() * p0.cos() / rho)
                        .clamp(-1.0, 1.0)
                        .asin();
                    let lam =
                        l0 + (x * c.sin()).atan2(rho * c.cos() * p0.cos() - y * c.sin() * p0.sin());
                    (lam, phi)
                }
            }
        };
        if lam.abs() > PI + 1e-9 && !matches!(self, Projection::Orthographic { .. }) {
            return None;
        }
        let lon = (lam.to_degrees() + 540.0).rem_euclid(360.0) - 180.0;
        Some((lon, phi.to_degrees()))
    }

    /// The drawn part of the world, as a closed ring in plane coordinates.
    pub fn outline(&self) -> Vec<(f64, f64)> {
        match self {
            Projection::Orthographic { .. } => (0..=360)
                .map(|i| {
                    let a = f64::from(i).to_radians();
                    (a.cos(), a.sin())
                })
                .collect(),
            Projection::Mercator => {
                let (s, n) = MERCATOR_LAT;
                [(-180.0, s), (180.0, s), (180.0, n), (-180.0, n)]
                    .iter()
                    .map(|&(lo, la)| self.project(lo, la))
                    .collect()
            }
            _ => {
                let mut ring = Vec::with_capacity(4 * 181);
                for i in -90..=90 {
                    ring.push(self.project(-180.0, f64::from(i)));
                }
                for i in (-90..=90).rev() {
                    ring.push(self.project(180.0, f64::from(i)));
                }
                ring
            }
        }
    }

    /// Bounding box of [`Projection::outline`]: (xmin, ymin, xmax, ymax).
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        let mut b = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for (x, y) in self.outline() {
            b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
        }
        b
    }
}

// Equal Earth (Šavrič, Patterson, Jenny 2018).
const A1: f64 = 1.340264;
const A2: f64 = -0.081106;
const A3: f64 = 0.000893;
const A4: f64 = 0.003796;
const M: f64 = 0.866_025_403_784_438_6; // sqrt(3) / 2

fn equal_earth(lam: f64, phi: f64) -> (f64, f64) {
    let t = (M * phi.sin()).asin();
    let (t2, t6) = (t * t, t.powi(6));
    let x = lam * t.cos() / (M * (A1 + 3.0 * A2 * t2 + t6 * (7.0 * A3 + 9.0 * A4 * t2)));
    let y = t * (A1 + A2 * t2 + t6 * (A3 + A4 * t2));
    (x, y)
}

fn equal_earth_inv(x: f64, y: f64) -> Option<(f64, f64)> {
    let mut t = y;
    for _ in 0..20 {
        let t2 = t * t;
        let t6 = t2 * t2 * t2;
        let fy = t * (A1 + A2 * t2 + t6 * (A3 + A4 * t2)) - y;
        let fpy = A1 + 3.0 * A2 * t2 + t6 * (7.0 * A3 + 9.0 * A4 * t2);
        let d = fy / fpy;
        t -= d;
        if d.abs() < 1e-12 {
            break;
        }
    }
    let s = t.sin() / M;
    if s.abs() > 1.0 + 1e-9 {
        return None;
    }
    let t2 = t * t;
    let t6 = t2 * t2 * t2;
    let lam = M * x * (A1 + 3.0 * A2 * t2 + t6 * (7.0 * A3 + 9.0 * A4 * t2)) / t.cos();
    Some((lam, s.clamp(-1.0, 1.0).asin()))
}

// Natural Earth I (Šavrič et al. 2011), polynomial form.
fn natural_earth(lam: f64, phi: f64) -> (f64, f64) {
    let p2 = phi * phi;
    let p4 = p2 * p2;
    let x =
        lam * (0.870700 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4)));
    let y = phi * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)));
    (x, y)
}

fn natural_earth_inv(x: f64, y: f64) -> Option<(f64, f64)> {
    let mut phi = y;
    for _ in 0..25 {
        let p2 = phi * phi;
        let p4 = p2 * p2;
        let f = phi
            * (1.007226 + p2 * (0.015085 + p4 * (-0.044475 + 0.028874 * p2 - 0.005916 * p4)))
            - y;
        let fp = 1.007226
            + p2 * (3.0 * 0.015085
                + p4 * (-7.0 * 0.044475 + 9.0 * 0.028874 * p2 - 11.0 * 0.005916 * p4));
        let d = f / fp;
        phi -= d;
        if d.abs() < 1e-12 {
            break;
        }
    }
    if phi.abs() > FRAC_PI_2 + 1e-9 {
        return None;
    }
    let p2 = phi * phi;
    let p4 = p2 * p2;
    let k = 0.870700 - 0.131979 * p2 + p4 * (-0.013791 + p4 * (0.003971 * p2 - 0.001529 * p4));
    Some((x / k, phi))
}

/// Scales plane coordinates into a pixel rectangle, centred, y down.
#[derive(Clone, Copy, Debug)]
pub struct Fit {
    pub scale: f64,
    pub cx: f64,
    pub cy: f64,
    /// Plane coordinates of the rectangle's centre.
    pub mx: f64,
    pub my: f64,
}

impl Fit {
    pub fn new(proj: &Projection, x: f64, y: f64, w: f64, h: f64) -> Fit {
        let (x0, y0, x1, y1) = proj.bounds();
        let scale = (w / (x1 - x0)).min(h / (y1 - y0));
        Fit {
            scale,
            cx: x + w / 2.0,
            cy: y + h / 2.0,
            mx: (x0 + x1) / 2.0,
            my: (y0 + y1) / 2.0,
        }
    }

    pub fn apply(&self, p: (f64, f64)) -> (f32, f32) {
        (
            (self.cx + (p.0 - self.mx) * self.scale) as f32,
            (self.cy - (p.1 - self.my) * self.scale) as f32,
        )
    }

    pub fn unapply(&self, px: f64, py: f64) -> (f64, f64) {
        (
            (px - self.cx) / self.scale + self.mx,
            -(py - self.cy) / self.scale + self.my,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> [Projection; 4] {
        [
            Projection::EqualEarth,
            Projection::Mercator,
            Projection::NaturalEarth,
            Projection::Orthographic {
                lat0: 40.0,
                lon0: 10.0,
            },
        ]
    }

    #[test]
    fn round_trips() {
        for p in all() {
            for lat in (-85..=85).step_by(5) {
                for lon in (-175..=175).step_by(5) {
                    let (lat, lon) = (f64::from(lat) + 0.3, f64::from(lon) + 0.7);
                    if !p.visible(lon, lat) && !matches!(p, Projection::Mercator) {
                        continue;
                    }
                    let (x, y) = p.project(lon, lat);
                    let (lo, la) = p
                        .invert(x, y)
                        .unwrap_or_else(|| panic!("{p:?} {lon} {lat}"));
                    assert!(
                        (lo - lon).abs() < 1e-6 && (la - lat).abs() < 1e-6,
                        "{p:?}: {lon},{lat} -> {lo},{la}"
                    );
                }
            }
        }
    }

    #[test]
    fn known_points() {
        // Equal Earth: the equator spans ±π/(M·A1); the pole sits at θ = 60°.
        let (x, y) = Projection::EqualEarth.project(180.0, 0.0);
        assert!(
            (x - PI / (M * A1)).abs() < 1e-9 && y.abs() < 1e-12,
            "{x} {y}"
        );
        let (x, y) = Projection::EqualEarth.project(0.0, 90.0);
        assert!(x.abs() < 1e-12 && (y - 1.317_362).abs() < 1e-4, "{y}");
        // Natural Earth: the equator spans ±0.8707π, the pole lies at 1.0 * latitude polynomial.
        let (x, _) = Projection::NaturalEarth.project(180.0, 0.0);
        assert!((x - 0.8707 * PI).abs() < 1e-9);
        // Mercator: y = ln(tan(45° + φ/2)).
        let (_, y) = Projection::Mercator.project(0.0, 45.0);
        assert!((y - 0.881_373_587).abs() < 1e-8);
        // The globe's centre is the origin; its antipode lands on the rim.
        let g = Projection::Orthographic {
            lat0: 48.0,
            lon0: 2.0,
        };
        let (x, y) = g.project(2.0, 48.0);
        assert!(x.abs() < 1e-12 && y.abs() < 1e-12);
        assert!(g.visible(2.0, 48.0) && !g.visible(-178.0, -48.0));
        let (x, y) = g.project(-150.0, -30.0);
        assert!((x.hypot(y) - 1.0).abs() < 1e-9);
        assert_eq!(
            Projection::from_name("Equal-Earth", (0.0, 0.0)),
            Some(Projection::EqualEarth)
        );
        assert_eq!(Projection::from_name("robinson", (0.0, 0.0)), None);
    }

    #[test]
    fn fit_centres_the_world() {
        let p = Projection::EqualEarth;
        let f = Fit::new(&p, 0.0, 0.0, 1000.0, 500.0);
        let (x, y) = f.apply(p.project(0.0, 0.0));
        assert!((x - 500.0).abs() < 0.01 && (y - 250.0).abs() < 0.01);
        let (x, _) = f.apply(p.project(180.0, 0.0));
        assert!(x <= 1000.01);
        let back = f.unapply(700.0, 100.0);
        let again = f.apply(back);
        assert!((again.0 - 700.0).abs() < 1e-3 && (again.1 - 100.0).abs() < 1e-3);
    }
}
