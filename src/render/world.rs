//! The embedded country polygons (Natural Earth 1:110m and 1:50m) and their decoder.
//!
//! `assets/world/*.bin` are written by `scripts/build-world.py`, which already
//! unwrapped, pole-closed and clipped every ring to [-180°, 180°]: nothing here
//! needs to know about the antimeridian. A country is a list of rings filled with
//! the even-odd rule, so holes (Lesotho inside South Africa) come out right.

use std::sync::OnceLock;

const W110: &[u8] = include_bytes!("../../assets/world/countries-110m.bin");
const W50: &[u8] = include_bytes!("../../assets/world/countries-50m.bin");

/// Which Natural Earth scale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    /// 1:110m, for pictures up to about 1080p.
    Low,
    /// 1:50m, for larger ones.
    High,
}

impl Detail {
    /// The scale that looks right at this size without wasting time.
    pub fn for_size(width: u32, height: u32) -> Detail {
        if u64::from(width) * u64::from(height) <= 1920 * 1080 {
            Detail::Low
        } else {
            Detail::High
        }
    }
}

pub struct CountryShape {
    /// ISO 3166-1 alpha-2.
    pub iso2: String,
    /// Rings of (lon, lat) in degrees.
    pub rings: Vec<Vec<(f32, f32)>>,
}

pub struct World {
    pub countries: Vec<CountryShape>,
}

/// The encoded bytes at a scale (benchmarks decode them afresh).
pub fn embedded(detail: Detail) -> &'static [u8] {
    match detail {
        Detail::Low => W110,
        Detail::High => W50,
    }
}

/// The geometry at a scale, decoded on first use.
pub fn get(detail: Detail) -> &'static World {
    static LOW: OnceLock<World> = OnceLock::new();
    static HIGH: OnceLock<World> = OnceLock::new();
    match detail {
        Detail::Low => LOW.get_or_init(|| decode(W110).expect("embedded 110m geometry is valid")),
        Detail::High => HIGH.get_or_init(|| decode(W50).expect("embedded 50m geometry is valid")),
    }
}

/// Decodes the format described in `scripts/build-world.py`.
pub fn decode(data: &[u8]) -> Option<World> {
    let mut r = Reader { data, pos: 0 };
    if r.take(8)? != b"SSHMAPW1" {
        return None;
    }
    let n = r.u16()?;
    let mut countries = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let iso2 = String::from_utf8(r.take(2)?.to_vec()).ok()?;
        let nrings = r.u16()?;
        let mut rings = Vec::with_capacity(usize::from(nrings));
        for _ in 0..nrings {
            let npts = usize::try_from(r.varint()?).ok()?;
            let mut ring = Vec::with_capacity(npts.min(1 << 20));
            let (mut x, mut y) = (0i64, 0i64);
            for _ in 0..npts {
                x += unzigzag(r.varint()?);
                y += unzigzag(r.varint()?);
                ring.push((
                    (x as f32) * (360.0 / 65535.0) - 180.0,
                    (y as f32) * (180.0 / 65535.0) - 90.0,
                ));
            }
            rings.push(ring);
        }
        countries.push(CountryShape { iso2, rings });
    }
    Some(World { countries })
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.data.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_scales_decode_within_bounds() {
        for d in [Detail::Low, Detail::High] {
            let w = decode(if d == Detail::Low { W110 } else { W50 }).unwrap();
            assert!(w.countries.len() >= 175, "{d:?}");
            for c in &w.countries {
                assert_eq!(c.iso2.len(), 2);
                for r in &c.rings {
                    assert!(r.len() >= 3);
                    for &(lon, lat) in r {
                        assert!((-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat));
                    }
                }
            }
            for iso in ["FR", "RU", "US", "ZA", "LS", "AQ", "FJ", "XK"] {
                assert!(
                    w.countries.iter().any(|c| c.iso2 == iso),
                    "{iso} missing at {d:?}"
                );
            }
        }
    }

    #[test]
    fn no_ring_jumps_across_the_map() {
        // A jump of more than half the world between neighbouring points is a streak.
        for c in &get(Detail::High).countries {
            for r in &c.rings {
                for w in r.windows(2) {
                    assert!((w[0].0 - w[1].0).abs() < 180.0, "{} jumps", c.iso2);
                }
            }
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert!(decode(b"nope").is_none());
        assert!(decode(b"SSHMAPW1\x01\x00FR\x01\x00\xff").is_none());
    }
}
