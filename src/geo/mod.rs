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
pub mod db;
pub mod locate;
pub mod scope;
pub mod update;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use thiserror::Error;

use crate::event::{Event, Geo};

pub use db::{Database, DbKind, Origin, DBIP_ATTRIBUTION};
pub use locate::{GeoConfig, Located, Locator};
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
pub struct Enricher<'a> {
    locator: Option<&'a Locator>,
    cache: HashMap<IpAddr, Option<Geo>>,
}

impl<'a> Enricher<'a> {
    /// `None`: enrichment off (`--geoip none`); events still get a `scope`.
    pub fn new(locator: Option<&'a Locator>) -> Enricher<'a> {
        Enricher { locator, cache: HashMap::new() }
    }

    pub fn enrich(&mut self, ev: &mut Event) {
        let Some(ip) = ev.ip else { return };
        let s = scope(ip);
        ev.scope = Some(s);
        let Some(locator) = self.locator else { return };
        if s != crate::event::Scope::Public {
            ev.geo = None;
            return;
        }
        if let Some(g) = self.cache.get(&ip) {
            ev.geo = g.clone();
            return;
        }
        if self.cache.len() >= CACHE_MAX {
            self.cache.clear();
        }
        let g = locator.locate(ip).geo;
        ev.geo = g.clone();
        self.cache.insert(ip, g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Kind, Scope, Src, Ts};

    fn event(ip: &str) -> Event {
        Event {
            ts: Ts::default(),
            host: None,
            program: "sshd".into(),
            pid: None,
            kind: Kind::AuthFailure,
            method: None,
            user: None,
            invalid_user: false,
            ip: Some(ip.parse().unwrap()),
            port: None,
            count: 1,
            attempts: 1,
            geo: None,
            scope: None,
            src: Src { input: "t".into(), line: 1 },
        }
    }

    #[test]
    fn enricher_sets_scope_and_geo_and_caches() {
        let loc = Locator::embedded();
        let mut en = Enricher::new(Some(&loc));
        let mut a = event("8.8.8.8");
        en.enrich(&mut a);
        assert_eq!(a.scope, Some(Scope::Public));
        assert_eq!(a.geo.as_ref().and_then(|g| g.country.as_deref()), Some("US"));
        let mut b = event("8.8.8.8");
        en.enrich(&mut b);
        assert_eq!(a.geo, b.geo);
        assert_eq!(en.cache.len(), 1);
        let mut p = event("192.168.0.1");
        en.enrich(&mut p);
        assert_eq!((p.scope, p.geo), (Some(Scope::Private), None));
    }

    #[test]
    fn enricher_without_locator_still_sets_scope() {
        let mut en = Enricher::new(None);
        let mut a = event("8.8.8.8");
        en.enrich(&mut a);
        assert_eq!((a.scope, a.geo), (Some(Scope::Public), None));
    }
}
