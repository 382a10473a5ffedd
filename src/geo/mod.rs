//! Enrich: where an address is (country, city, ASN) from MaxMind-format databases.
//!
//! Works offline with no set-up: DB-IP's "IP to Country Lite" database (CC BY 4.0)
//! is compiled into the binary. `--geoip` (city or country) and `--asn` add
//! precision; `sshmap geoip update` downloads the current DB-IP Lite database.
//!
//! - [`scope`]   — private, loopback and reserved ranges, never looked up.
//! - [`db`]      — one `.mmdb` file, read in the MaxMind and the flat (ip-location-db) schema.
//! - [`locate`]  — the [`Locator`]: the databases in use and the [`Geo`] of an address.
//! - [`update`]  — `sshmap geoip update`: download, check, rename into the data directory.
//! - [`Enricher`] — fills `geo` and `scope` on events, one lookup per distinct address.

pub mod countries;
pub(crate) mod db;
pub(crate) mod locate;
pub(crate) mod scope;
pub(crate) mod update;

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;

use crate::event::{Event, Geo, Scope};

pub use db::{Database, DbKind, Origin, DBIP_ATTRIBUTION};
pub use locate::{GeoConfig, Located, Locator, RecordPair};
pub use scope::scope;

/// What can go wrong opening or updating a database. Each message names the
/// option or command that fixes it.
#[derive(Debug, Error)]
pub enum GeoError {
    #[error("{flag} {}: cannot open it ({err}). Check the path, or leave {flag} out to use the embedded DB-IP country database", path.display())]
    Open {
        flag: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("{flag} {}: not a MaxMind DB ({reason}). Pass a .mmdb file such as GeoLite2-City.mmdb or dbip-city-lite.mmdb", path.display())]
    NotMmdb {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("{flag} {}: wrong kind of database ({found}): {hint}", path.display())]
    WrongType {
        flag: &'static str,
        path: PathBuf,
        found: String,
        hint: &'static str,
    },
    #[error("geoip update: {0}")]
    Update(String),
}

/// Above this many distinct addresses the cache starts again (a long `serve`
/// run must not grow without bound); a lookup costs well under a microsecond.
const CACHE_MAX: usize = 1 << 20;

/// Fills `scope` (every event with an address) and `geo` (public addresses
/// a database knows) on events, looking each distinct address up once.
///
/// This runs on the pipeline's one sequential thread for every event, so it is
/// kept small and cache-friendly: a memo of the previous address (sshd writes
/// several lines per connection), a small direct-mapped table of recent IPv4
/// addresses that stays in the CPU cache (attack sources are heavy-tailed: a few
/// thousand addresses send most lines), then compact maps from the address
/// (IPv4 as `u32`) to an index into the few distinct answers.
pub struct Enricher<'a> {
    locator: Option<&'a Locator>,
    /// (IPv4 address, answer index + 1); 0 marks an empty slot (0.0.0.0 is never looked up).
    recent: Box<[(u32, u32)]>,
    v4: HashMap<u32, u32, BuildHasherDefault<AddrHasher>>,
    v6: HashMap<u128, u32, BuildHasherDefault<AddrHasher>>,
    /// Distinct answers; index 0 is "unknown" (`None`).
    answers: Vec<Option<Arc<Geo>>>,
    /// Answer → its index, by the address of the interned `Geo`.
    index: HashMap<usize, u32>,
    last: Option<(IpAddr, Option<Arc<Geo>>)>,
}

impl<'a> Enricher<'a> {
    /// `None`: enrichment off (`--geoip none`); events still get a `scope`.
    pub fn new(locator: Option<&'a Locator>) -> Enricher<'a> {
        Enricher {
            locator,
            recent: vec![(0, 0); RECENT].into_boxed_slice(),
            v4: HashMap::default(),
            v6: HashMap::default(),
            answers: vec![None],
            index: HashMap::new(),
            last: None,
        }
    }

    pub fn enrich(&mut self, ev: &mut Event) {
        let Some(ip) = ev.ip else { return };
        if let Some((last, geo)) = &self.last {
            if *last == ip {
                ev.geo = geo.clone();
                ev.scope = Some(if geo.is_some() {
                    Scope::Public
                } else {
                    scope(ip)
                });
                return;
            }
        }
        let s = scope(ip);
        ev.scope = Some(s);
        let Some(locator) = self.locator else { return };
        let geo = if s != Scope::Public {
            None
        } else {
            let ip = ip.to_canonical();
            let hit = match ip {
                IpAddr::V4(v4) => {
                    let n = u32::from(v4);
                    let slot = recent_slot(n);
                    let (k, i) = self.recent[slot];
                    if k == n && i != 0 {
                        Some(i - 1)
                    } else {
                        let i = self.v4.get(&n).copied();
                        if let Some(i) = i {
                            self.recent[slot] = (n, i + 1);
                        }
                        i
                    }
                }
                IpAddr::V6(v6) => self.v6.get(&u128::from(v6)).copied(),
            };
            match hit {
                Some(i) => self.answers[i as usize].clone(),
                None => self.miss(locator, ip),
            }
        };
        ev.geo = geo.clone();
        self.last = Some((ip, geo));
    }

    /// The `geo` [`Enricher::enrich`] gives an event from `ip`, asked of the
    /// locator without this enricher's caches: for a sink that asks once an
    /// address and keeps the answer (the aggregate, issue #15).
    pub fn geo(&self, ip: IpAddr) -> Option<Arc<Geo>> {
        let (ip, at) = self.records(ip)?;
        self.geo_at(ip, at)
    }

    /// [`Enricher::geo`] in two steps, for a sink that keeps what it made of
    /// each answer by where the answer lies (the aggregate, issue #15): the
    /// address made canonical and where its answer lies, `None` where there
    /// is none to look up (no locator, or an address that is not public: the
    /// locator answers `None` for it, as `enrich` does)...
    pub fn records(&self, ip: IpAddr) -> Option<(IpAddr, RecordPair)> {
        let locator = self.locator?;
        let ip = ip.to_canonical();
        (scope(ip) == Scope::Public).then(|| (ip, locator.records(ip)))
    }

    /// ...then the answer there: that of [`Locator::locate`].
    pub fn geo_at(&self, ip: IpAddr, at: RecordPair) -> Option<Arc<Geo>> {
        self.locator.and_then(|l| l.answer_at(ip, at))
    }
}

impl Enricher<'_> {
    #[cold]
    fn miss(&mut self, locator: &Locator, ip: IpAddr) -> Option<Arc<Geo>> {
        if self.v4.len() + self.v6.len() >= CACHE_MAX {
            self.v4.clear();
            self.v6.clear();
            self.answers.truncate(1);
            self.index.clear();
            self.recent.fill((0, 0));
        }
        let geo = locator.locate(ip).geo;
        // Answers are interned by the locator: equal answers are the same Arc.
        let i = match &geo {
            None => 0,
            Some(g) => *self
                .index
                .entry(Arc::as_ptr(g) as usize)
                .or_insert_with(|| {
                    self.answers.push(Some(g.clone()));
                    (self.answers.len() - 1) as u32
                }),
        };
        match ip {
            IpAddr::V4(v4) => self.v4.insert(u32::from(v4), i),
            IpAddr::V6(v6) => self.v6.insert(u128::from(v6), i),
        };
        geo
    }
}

/// Slots in [`Enricher::recent`]: 32 KiB, about an L1 data cache.
const RECENT: usize = 4096;

fn recent_slot(ip: u32) -> usize {
    (ip.wrapping_mul(0x9E37_79B1) >> (32 - RECENT.trailing_zeros())) as usize
}

/// Hash for address keys: fold the halves, multiply by a large odd
/// constant (SipHash's DoS resistance is not needed for a cache that is
/// cleared when it grows large).
#[derive(Default)]
pub struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 ^= self.0 >> 29;
    }
    fn write_u128(&mut self, n: u128) {
        let folded = (n as u64) ^ ((n >> 64) as u64).rotate_left(32);
        self.0 = (self.0 ^ folded).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 ^= self.0 >> 29;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(ip: &str) -> Event {
        Event {
            ip: Some(ip.parse().unwrap()),
            ..Event::at_line(1)
        }
    }

    #[test]
    fn enricher_sets_scope_and_geo_and_caches() {
        let loc = Locator::embedded();
        let mut en = Enricher::new(Some(&loc));
        let mut a = event("8.8.8.8");
        en.enrich(&mut a);
        assert_eq!(a.scope, Some(Scope::Public));
        assert_eq!(
            a.geo.as_ref().and_then(|g| g.country.as_deref()),
            Some("US")
        );
        let mut b = event("8.8.8.8");
        en.enrich(&mut b);
        assert_eq!(a.geo, b.geo);
        assert_eq!((en.v4.len(), en.answers.len()), (1, 2));
        let mut p = event("192.168.0.1");
        en.enrich(&mut p);
        assert_eq!((p.scope, p.geo), (Some(Scope::Private), None));
    }

    #[test]
    fn cached_answers_equal_direct_lookups() {
        let loc = Locator::embedded();
        let mut en = Enricher::new(Some(&loc));
        // A deterministic mix of repeats, slot collisions, IPv6 and private addresses.
        let mut x: u32 = 12345;
        let mut ips: Vec<IpAddr> = Vec::new();
        for i in 0..20_000u32 {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            ips.push(match i % 7 {
                0 => IpAddr::V6(std::net::Ipv6Addr::new(
                    0x2a00 + (x >> 28) as u16,
                    x as u16,
                    0,
                    0,
                    0,
                    0,
                    0,
                    1,
                )),
                1 => IpAddr::V4(std::net::Ipv4Addr::from(x % 64)), // 0.0.0.x: reserved
                _ => IpAddr::V4(std::net::Ipv4Addr::from(x % 5000 * 40_009)),
            });
        }
        for ip in ips {
            let mut ev = event(&ip.to_string());
            en.enrich(&mut ev);
            let direct = loc.locate(ip);
            assert_eq!(
                (ev.scope, ev.geo.as_deref()),
                (Some(direct.scope), direct.geo.as_deref()),
                "{ip}"
            );
        }
    }

    /// [`Enricher::geo`] (the aggregate's, once an address) against `enrich`.
    #[test]
    fn geo_is_what_enrich_gives() {
        let loc = Locator::embedded();
        for locator in [Some(&loc), None] {
            let mut en = Enricher::new(locator);
            let mut x: u32 = 777;
            for i in 0..5000u32 {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let ip = match i % 5 {
                    0 => IpAddr::V6(std::net::Ipv6Addr::new(
                        0x2a00 + (x >> 28) as u16,
                        x as u16,
                        0,
                        0,
                        0,
                        0,
                        0,
                        1,
                    )),
                    1 => IpAddr::V6(std::net::Ipv4Addr::from(x).to_ipv6_mapped()),
                    2 => IpAddr::V4(std::net::Ipv4Addr::from(x % 4096)),
                    _ => IpAddr::V4(std::net::Ipv4Addr::from(x)),
                };
                let mut ev = event(&ip.to_string());
                en.enrich(&mut ev);
                assert_eq!(en.geo(ip), ev.geo, "{ip}");
            }
        }
    }

    #[test]
    fn enricher_without_locator_still_sets_scope() {
        let mut en = Enricher::new(None);
        let mut a = event("8.8.8.8");
        en.enrich(&mut a);
        assert_eq!((a.scope, a.geo), (Some(Scope::Public), None));
    }
}
