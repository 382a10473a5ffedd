//! The [`Locator`]: the databases in use, chosen once from settings, and the
//! answer for one address as a [`Geo`].
//!
//! Which database answers "where": `--geoip` (flag > `SSHMAP_GEOIP` > config),
//! else one downloaded by `sshmap geoip update` (city preferred over country),
//! else the embedded DB-IP country database. "Which network": `--asn`, else a
//! downloaded ASN database, else the ASN fields of the first database if it has any.

use rustc_hash::FxHashMap as HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::event::{Geo, Scope};

use super::db::{Database, DbKind, Origin, Record};
use super::{countries, scope, GeoError};

/// What the locator is built from (resolved settings, no clap types).
#[derive(Clone, Debug, Default)]
pub struct GeoConfig {
    /// `--geoip PATH`.
    pub geoip: Option<PathBuf>,
    /// `--asn PATH`.
    pub asn: Option<PathBuf>,
    /// Where `geoip update` puts databases; `None`: no data directory.
    pub data_dir: Option<PathBuf>,
}

/// Words that turn enrichment off when given as `--geoip` (`--geoip none`).
pub fn is_off(path: &Path) -> bool {
    matches!(path.to_str(), Some("none" | "off")) && !path.exists()
}

/// The databases in use.
#[derive(Debug)]
pub struct Locator {
    geo: Option<Database>,
    asn: Option<Database>,
    /// Problems that did not stop the run (a damaged downloaded database).
    pub warnings: Vec<String>,
    /// One allocation per distinct answer and name, shared by every address:
    /// with a country database a million events point at a few hundred `Geo`s,
    /// whose reference counts and fields stay in cache on the per-event path.
    interned: Mutex<Interned>,
}

#[derive(Debug, Default)]
struct Interned {
    strings: HashMap<Box<str>, Arc<str>>,
    geos: HashMap<GeoKey, Arc<Geo>>,
    /// The answer made from each pair of records (offsets in the location and
    /// the ASN database): addresses share records (a country database has a
    /// few hundred), and decoding one, naming its country and interning its
    /// answer cost ~2,000 instructions a new address (issue #15: `locate`
    /// 21.1M -> 6.3M Ir on 200k lines, 7,768 addresses).
    by_record: HashMap<RecordPair, Option<Arc<Geo>>>,
}

/// The offsets of an address's records in the location and the ASN database.
pub type RecordPair = (Option<usize>, Option<usize>);

/// Above this many record pairs [`Interned::by_record`] starts again.
const BY_RECORD_MAX: usize = 1 << 20;

/// Everything a [`Geo`] holds, hashable (coordinates by their bits).
type GeoKey = (
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<u64>,
    Option<u64>,
    Option<u32>,
    Option<Arc<str>>,
    Option<&'static str>,
);

/// The answer for one address.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    /// The address looked up (IPv4-mapped IPv6 made IPv4).
    pub ip: IpAddr,
    pub scope: Scope,
    pub geo: Option<Arc<Geo>>,
}

impl Locator {
    /// Only the embedded country database.
    pub fn embedded() -> Locator {
        Locator {
            geo: Some(Database::embedded()),
            asn: None,
            warnings: Vec::new(),
            interned: Mutex::default(),
        }
    }

    /// Opens the databases the settings name. A missing, corrupt or
    /// wrong-type file is an error naming the flag to fix.
    pub fn from_config(cfg: &GeoConfig) -> Result<Locator, GeoError> {
        let mut warnings = Vec::new();
        let geo = match cfg.geoip.as_deref() {
            Some(p) if is_off(p) => None,
            Some(p) => {
                let db = Database::open(
                    p,
                    Origin::User {
                        flag: "--geoip",
                        path: p.to_path_buf(),
                    },
                    "--geoip",
                )?;
                if db.kind == DbKind::Asn {
                    return Err(GeoError::WrongType {
                        flag: "--geoip",
                        path: p.to_path_buf(),
                        found: db.database_type().to_string(),
                        hint: "it is an ASN database: pass it with --asn, and a city or country database with --geoip",
                    });
                }
                Some(db)
            }
            None => {
                let downloaded = cfg.data_dir.as_deref().and_then(|dir| {
                    [
                        super::update::Edition::City,
                        super::update::Edition::Country,
                    ]
                    .into_iter()
                    .find_map(|e| open_downloaded(&dir.join(e.file_name()), &mut warnings))
                });
                Some(downloaded.unwrap_or_else(Database::embedded))
            }
        };
        let asn = match cfg.asn.as_deref() {
            Some(p) if is_off(p) => None,
            Some(p) => {
                let db = Database::open(
                    p,
                    Origin::User {
                        flag: "--asn",
                        path: p.to_path_buf(),
                    },
                    "--asn",
                )?;
                if matches!(db.kind, DbKind::City | DbKind::Country) {
                    return Err(GeoError::WrongType {
                        flag: "--asn",
                        path: p.to_path_buf(),
                        found: db.database_type().to_string(),
                        hint: "it is a location database: pass it with --geoip, and an ASN database (GeoLite2-ASN.mmdb, dbip-asn-lite.mmdb) with --asn",
                    });
                }
                Some(db)
            }
            None => cfg.data_dir.as_deref().and_then(|dir| {
                open_downloaded(
                    &dir.join(super::update::Edition::Asn.file_name()),
                    &mut warnings,
                )
            }),
        };
        Ok(Locator {
            geo,
            asn,
            warnings,
            interned: Mutex::default(),
        })
    }

    fn intern(&self, s: &str) -> Arc<str> {
        let mut m = self.interned.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(a) = m.strings.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        m.strings.insert(s.into(), a.clone());
        a
    }

    fn intern_geo(&self, g: Geo) -> Arc<Geo> {
        let key: GeoKey = (
            g.country.clone(),
            g.country_name.clone(),
            g.city.clone(),
            g.lat.map(f64::to_bits),
            g.lon.map(f64::to_bits),
            g.asn,
            g.org.clone(),
            g.precision,
        );
        let mut m = self.interned.lock().unwrap_or_else(|e| e.into_inner());
        m.geos.entry(key).or_insert_with(|| Arc::new(g)).clone()
    }

    /// The attribution lines every view that shows results must carry
    /// (report footer, live map), one per distinct database licence.
    pub fn attributions(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (_, db) in self.databases() {
            let a = db.licence().1;
            if !a.is_empty() && !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// The databases in use: (role, database).
    pub fn databases(&self) -> impl Iterator<Item = (&'static str, &Database)> {
        self.geo
            .iter()
            .map(|d| ("location", d))
            .chain(self.asn.iter().map(|d| ("asn", d)))
    }

    /// Where `ip` is. Non-public addresses get `geo: None` without a lookup;
    /// a database error for one address is a miss, not a failure of the run.
    pub fn locate(&self, ip: IpAddr) -> Located {
        let ip = ip.to_canonical();
        let scope = scope::scope(ip);
        let geo = match scope {
            Scope::Public => self.answer_at(ip, self.records(ip)),
            _ => None,
        };
        Located { ip, scope, geo }
    }

    /// Where the answer for `ip` (canonical, public) lies: equal pairs,
    /// equal answers ([`Locator::answer_at`]). A search error is a miss, as
    /// a record that does not decode is.
    pub fn records(&self, ip: IpAddr) -> RecordPair {
        (
            self.geo.as_ref().and_then(|db| db.offset(ip)),
            self.asn.as_ref().and_then(|db| db.offset(ip)),
        )
    }

    /// The answer for `ip` (canonical, public), whose records are `key`
    /// ([`Locator::records`]).
    pub fn answer_at(&self, ip: IpAddr, key: RecordPair) -> Option<Arc<Geo>> {
        {
            let m = self.interned.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(geo) = m.by_record.get(&key) {
                return geo.clone();
            }
        }
        // Records not met yet: found again, to be decoded.
        let found = self.geo.as_ref().and_then(|db| db.find(ip).ok().flatten());
        let asn_found = self.asn.as_ref().and_then(|db| db.find(ip).ok().flatten());
        let rec = found.and_then(|f| f.record().ok().flatten());
        let asn_rec = asn_found.and_then(|f| f.record().ok().flatten());
        let geo = self.answer(rec, asn_rec);
        let mut m = self.interned.lock().unwrap_or_else(|e| e.into_inner());
        if m.by_record.len() >= BY_RECORD_MAX {
            m.by_record.clear();
        }
        m.by_record.insert(key, geo.clone());
        geo
    }

    /// The answer made from a location and an ASN record, interned.
    fn answer(&self, rec: Option<Record<'_>>, asn_rec: Option<Record<'_>>) -> Option<Arc<Geo>> {
        let rec = rec.unwrap_or_default();
        let (asn, org) = match &asn_rec {
            Some(a) if a.asn.is_some() => (a.asn, a.org),
            _ => (rec.asn, rec.org),
        };
        let precise = self.geo.as_ref().is_some_and(|d| d.kind != DbKind::Country);
        let geo = to_geo(&rec, asn, org, precise, &mut |s| self.intern(s));
        geo.map(|g| self.intern_geo(g))
    }

    /// [`Locator::locate`] decoding the records every time (the reference
    /// its memo of answers by record is tested against).
    #[cfg(test)]
    fn locate_decoding(&self, ip: IpAddr) -> Option<Arc<Geo>> {
        let ip = ip.to_canonical();
        if scope::scope(ip) != Scope::Public {
            return None;
        }
        let rec = self
            .geo
            .as_ref()
            .and_then(|db| db.lookup(ip).ok().flatten());
        let asn_rec = self
            .asn
            .as_ref()
            .and_then(|db| db.lookup(ip).ok().flatten());
        self.answer(rec, asn_rec)
    }
}

/// One line for `sshmap geoip lookup`.
pub fn describe(l: &Located) -> String {
    use std::fmt::Write as _;
    let t = |s: &str| crate::escape::terminal(s).into_owned();
    let mut out = format!("{}: ", l.ip);
    let Some(g) = &l.geo else {
        let _ = match l.scope {
            Scope::Public => write!(out, "not in the databases"),
            s => write!(
                out,
                "{} address, no location",
                serde_json::to_value(s)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            ),
        };
        return out;
    };
    let mut place = Vec::new();
    if let Some(c) = &g.city {
        place.push(t(c));
    }
    match (&g.country_name, &g.country) {
        (Some(n), Some(c)) => place.push(format!("{} ({})", t(n), t(c))),
        (None, Some(c)) => place.push(t(c)),
        _ => {}
    }
    out.push_str(if place.is_empty() {
        "unknown country"
    } else {
        ""
    });
    out.push_str(&place.join(", "));
    if let (Some(lat), Some(lon), Some(p)) = (g.lat, g.lon, g.precision) {
        let _ = write!(out, ", {p} precision at {lat}, {lon}");
    }
    if let Some(asn) = g.asn {
        let _ = write!(out, "; AS{asn}");
        if let Some(o) = &g.org {
            let _ = write!(out, " {}", t(o));
        }
    }
    out
}

/// A Unix time as `YYYY-MM-DD`.
pub fn date(epoch: u64) -> String {
    let (y, m, d) = crate::event::civil_from_days(i64::try_from(epoch / 86_400).unwrap_or(0));
    format!("{y:04}-{m:02}-{d:02}")
}

/// The `sshmap geoip info` block for one database.
pub fn info(role: &str, db: &Database) -> String {
    let m = db.metadata();
    let records = db
        .count_networks()
        .map(|n| n.to_string())
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let (licence, attribution) = db.licence();
    format!(
        "\n{role} database: {}\n  type:        {} ({}, IPv{})\n  built:       {}\n  records:     {records} networks\n  licence:     {licence}\n  attribution: {attribution}\n",
        db.origin,
        crate::escape::terminal(&m.database_type),
        db.kind.as_str(),
        m.ip_version,
        date(m.build_epoch),
    )
}

fn open_downloaded(path: &Path, warnings: &mut Vec<String>) -> Option<Database> {
    if !path.is_file() {
        return None;
    }
    match Database::open(
        path,
        Origin::Downloaded(path.to_path_buf()),
        "sshmap geoip update",
    ) {
        Ok(db) => Some(db),
        Err(e) => {
            warnings.push(format!(
                "{e}; ignoring it (run `sshmap geoip update` again)"
            ));
            None
        }
    }
}

/// Four decimals: about 11 m, more than any IP database can claim, and the
/// f32 values of the flat schema print without a tail of noise digits.
fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

fn to_geo(
    rec: &Record<'_>,
    asn: Option<u32>,
    org: Option<&str>,
    precise: bool,
    intern: &mut dyn FnMut(&str) -> Arc<str>,
) -> Option<Geo> {
    let country = rec.country.map(|c| c.to_ascii_uppercase());
    if country.is_none() && asn.is_none() {
        return None;
    }
    let mut geo = Geo {
        country_name: country
            .as_deref()
            .and_then(countries::name)
            .or(rec.country_name)
            .map(&mut *intern),
        asn,
        org: org.map(&mut *intern),
        ..Geo::default()
    };
    let valid = |lat: f64, lon: f64| {
        (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && (lat, lon) != (0.0, 0.0)
    };
    match (rec.lat, rec.lon) {
        // A city database's own coordinates, when it names the city (records
        // without a city carry a country centroid with a huge accuracy radius).
        (Some(lat), Some(lon)) if precise && rec.city.is_some() && valid(lat, lon) => {
            geo.city = rec.city.map(&mut *intern);
            geo.lat = Some(round4(lat));
            geo.lon = Some(round4(lon));
            geo.precision = Some("city");
        }
        _ => {
            if let Some((lat, lon)) = country.as_deref().and_then(countries::label_point) {
                geo.lat = Some(round4(lat));
                geo.lon = Some(round4(lon));
                geo.precision = Some("country");
            }
        }
    }
    geo.country = country.as_deref().map(intern);
    Some(geo)
}

/// Test databases (the analyze tests' too).
#[cfg(test)]
#[path = "../../tests/integration/mmdb_writer.rs"]
pub(crate) mod mmdb_writer;

#[cfg(test)]
mod tests {
    use super::mmdb_writer::fixtures;
    use super::*;

    fn locator(
        dir: &Path,
        geo: Option<mmdb_writer::Writer>,
        asn: Option<mmdb_writer::Writer>,
    ) -> Result<Locator, GeoError> {
        let mut cfg = GeoConfig::default();
        if let Some(w) = geo {
            let p = dir.join("geo.mmdb");
            w.write(&p);
            cfg.geoip = Some(p);
        }
        if let Some(w) = asn {
            let p = dir.join("asn.mmdb");
            w.write(&p);
            cfg.asn = Some(p);
        }
        Locator::from_config(&cfg)
    }

    fn geo(loc: &Locator, ip: &str) -> Option<Geo> {
        loc.locate(ip.parse().unwrap()).geo.map(|g| (*g).clone())
    }

    #[test]
    fn maxmind_schema_city_country_and_asn() {
        let dir = tempfile::tempdir().unwrap();
        let loc = locator(
            dir.path(),
            Some(fixtures::maxmind_city()),
            Some(fixtures::maxmind_asn()),
        )
        .unwrap();
        let g = geo(&loc, "81.2.69.142").unwrap();
        assert_eq!(g.country.as_deref(), Some("GB"));
        assert_eq!(g.city.as_deref(), Some("London"));
        assert_eq!(
            (g.lat, g.lon, g.precision),
            (Some(51.5142), Some(-0.0931), Some("city"))
        );
        assert_eq!(
            (g.asn, g.org.as_deref()),
            (Some(20712), Some("Andrews & Arnold Ltd"))
        );
        let g = geo(&loc, "2001:218:1::1").unwrap();
        assert_eq!(
            (g.country.as_deref(), g.city.as_deref(), g.asn),
            (Some("JP"), Some("Tokyo"), Some(2914))
        );
        assert_eq!((g.lat, g.lon), (Some(35.685), Some(139.7514)));
        // Country-only records: the country's point, country precision.
        let g = geo(&loc, "89.160.20.112").unwrap();
        assert_eq!(
            (g.country.as_deref(), g.city.as_deref(), g.precision),
            (Some("SE"), None, Some("country"))
        );
        assert_eq!(g.country_name.as_deref(), Some("Sweden"));
        assert_eq!(
            (g.asn, g.org.as_deref()),
            (Some(29518), Some("Bredband2 AB"))
        );
        let g = geo(&loc, "2a02:d300::1").unwrap();
        assert_eq!(
            (g.country.as_deref(), g.precision, g.asn),
            (Some("FR"), Some("country"), None)
        );
        // ASN fields inside the location database are used when no ASN database knows the address.
        let g = geo(&loc, "1.130.0.1").unwrap();
        assert_eq!(
            (g.city.as_deref(), g.asn, g.org.as_deref()),
            (Some("Melbourne"), Some(1221), Some("Telstra Pty Ltd"))
        );
        // Unknown to every database.
        assert_eq!(geo(&loc, "8.8.8.8"), None);
        // The test writer's files pass the reader's full verification.
        for (_, db) in loc.databases() {
            db.verify().unwrap();
        }
        assert_eq!(geo(&loc, "2600::1"), None);
    }

    #[test]
    fn flat_schema_city_and_asn() {
        let dir = tempfile::tempdir().unwrap();
        let loc = locator(
            dir.path(),
            Some(fixtures::flat_city()),
            Some(fixtures::flat_asn()),
        )
        .unwrap();
        let g = geo(&loc, "81.2.69.1").unwrap();
        assert_eq!(
            (g.country.as_deref(), g.city.as_deref()),
            (Some("GB"), Some("London"))
        );
        // f32 in the file, rounded to 4 decimals: no 51.514198303222656.
        assert_eq!(
            (g.lat, g.lon, g.precision),
            (Some(51.5142), Some(-0.0931), Some("city"))
        );
        assert_eq!(
            (g.asn, g.org.as_deref()),
            (Some(20712), Some("Andrews & Arnold Ltd"))
        );
        let g = geo(&loc, "2a02:d300:1234::5").unwrap();
        assert_eq!(
            (
                g.country.as_deref(),
                g.country_name.as_deref(),
                g.city.as_deref()
            ),
            (Some("FR"), Some("France"), Some("Paris"))
        );
        assert_eq!(
            (g.lat, g.lon, g.asn, g.org.as_deref()),
            (Some(48.8534), Some(2.3488), Some(3215), Some("Orange"))
        );
        let g = geo(&loc, "89.160.20.1").unwrap();
        assert_eq!(
            (g.country.as_deref(), g.precision),
            (Some("SE"), Some("country"))
        );
    }

    #[test]
    fn asn_database_alone_with_the_embedded_one() {
        let dir = tempfile::tempdir().unwrap();
        let loc = locator(dir.path(), None, Some(fixtures::maxmind_asn())).unwrap();
        let g = geo(&loc, "81.2.69.1").unwrap();
        assert_eq!((g.country.as_deref(), g.asn), (Some("GB"), Some(20712)));
    }

    #[test]
    fn bad_files_name_the_flag_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.mmdb");
        let err = Locator::from_config(&GeoConfig {
            geoip: Some(missing),
            ..GeoConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("--geoip ") && err.contains("nope.mmdb") && err.contains("cannot open"),
            "{err}"
        );
        let junk = dir.path().join("junk.mmdb");
        std::fs::write(&junk, b"this is not a database").unwrap();
        let err = Locator::from_config(&GeoConfig {
            asn: Some(junk.clone()),
            ..GeoConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("--asn ") && err.contains("not a MaxMind DB"),
            "{err}"
        );
        // Truncated: the metadata at the end is gone.
        let bytes = fixtures::maxmind_city().build();
        std::fs::write(&junk, &bytes[..bytes.len() / 2]).unwrap();
        let err = Locator::from_config(&GeoConfig {
            geoip: Some(junk),
            ..GeoConfig::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a MaxMind DB"), "{err}");
        let err = locator(dir.path(), Some(fixtures::maxmind_asn()), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--geoip")
                && err.contains("GeoLite2-ASN")
                && err.contains("pass it with --asn"),
            "{err}"
        );
        let err = locator(dir.path(), None, Some(fixtures::maxmind_city()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--asn") && err.contains("pass it with --geoip"),
            "{err}"
        );
    }

    #[test]
    fn downloaded_database_is_preferred_over_the_embedded_one() {
        let dir = tempfile::tempdir().unwrap();
        fixtures::flat_country("NL").write(&dir.path().join("dbip-country-lite.mmdb"));
        let cfg = GeoConfig {
            data_dir: Some(dir.path().to_path_buf()),
            ..GeoConfig::default()
        };
        let loc = Locator::from_config(&cfg).unwrap();
        assert_eq!(geo(&loc, "8.8.8.8").unwrap().country.as_deref(), Some("NL"));
        // A damaged one is ignored with a warning, not an error.
        std::fs::write(dir.path().join("dbip-country-lite.mmdb"), b"garbage").unwrap();
        let loc = Locator::from_config(&cfg).unwrap();
        assert_eq!(geo(&loc, "8.8.8.8").unwrap().country.as_deref(), Some("US"));
        assert_eq!(loc.warnings.len(), 1);
    }

    #[test]
    fn embedded_answers_known_addresses() {
        let loc = Locator::embedded();
        let g = loc.locate("8.8.8.8".parse().unwrap()).geo.unwrap();
        assert_eq!(g.country.as_deref(), Some("US"));
        assert_eq!(g.country_name.as_deref(), Some("United States"));
        assert_eq!(g.precision, Some("country"));
        assert!(g.lat.is_some() && g.lon.is_some());
        assert_eq!(g.city, None);
        assert_eq!(
            loc.attributions(),
            ["IP Geolocation by DB-IP (https://db-ip.com)"]
        );
        let g = loc.locate("1.1.1.1".parse().unwrap()).geo.unwrap();
        assert_eq!(g.country.as_deref(), Some("AU"));
    }

    #[test]
    fn ipv4_mapped_is_looked_up_as_ipv4() {
        let loc = Locator::embedded();
        let l = loc.locate("::ffff:8.8.8.8".parse().unwrap());
        assert_eq!(l.ip, "8.8.8.8".parse::<IpAddr>().unwrap());
        assert_eq!(l.geo.unwrap().country.as_deref(), Some("US"));
    }

    #[test]
    fn non_public_addresses_get_no_country() {
        let loc = Locator::embedded();
        for (ip, scope) in [
            ("10.0.0.1", Scope::Private),
            ("127.0.0.1", Scope::Loopback),
            ("100.64.1.1", Scope::Private),
            ("192.0.2.1", Scope::Reserved),
            ("::1", Scope::Loopback),
            ("fe80::1", Scope::Private),
            ("2001:db8::1", Scope::Reserved),
        ] {
            let l = loc.locate(ip.parse().unwrap());
            assert_eq!((l.scope, l.geo), (scope, None), "{ip}");
        }
    }

    #[test]
    fn record_to_geo_precision() {
        let city = Record {
            country: Some("fr"),
            city: Some("Paris"),
            lat: Some(48.856_613_4),
            lon: Some(2.352_222),
            ..Record::default()
        };
        let g = to_geo(&city, Some(3215), Some("Orange"), true, &mut |s: &str| {
            Arc::from(s)
        })
        .unwrap();
        assert_eq!(g.country.as_deref(), Some("FR"));
        assert_eq!(g.country_name.as_deref(), Some("France"));
        assert_eq!(
            (g.city.as_deref(), g.lat, g.lon, g.precision),
            (Some("Paris"), Some(48.8566), Some(2.3522), Some("city"))
        );
        assert_eq!((g.asn, g.org.as_deref()), (Some(3215), Some("Orange")));
        // A city database's record without a city is placed at the country's point.
        let country_only = Record {
            country: Some("FR"),
            lat: Some(46.0),
            lon: Some(2.0),
            ..Record::default()
        };
        let g = to_geo(&country_only, None, None, true, &mut |s: &str| Arc::from(s)).unwrap();
        assert_eq!((g.city, g.precision), (None, Some("country")));
        assert_eq!(
            (g.lat, g.lon),
            countries::label_point("FR")
                .map(|(a, b)| (Some(round4(a)), Some(round4(b))))
                .unwrap()
        );
        assert_eq!(
            to_geo(&Record::default(), None, None, true, &mut |s: &str| {
                Arc::from(s)
            }),
            None
        );
        // ASN alone still says something.
        let g = to_geo(
            &Record::default(),
            Some(64500),
            None,
            false,
            &mut |s: &str| Arc::from(s),
        )
        .unwrap();
        assert_eq!((g.country, g.precision, g.asn), (None, None, Some(64500)));
    }

    /// The memo of answers by record against decoding each time: the
    /// embedded database, and test city and ASN databases of both schemas
    /// (records with and without a city, ASN from either file, addresses no
    /// file knows), each address asked twice in a scrambled order.
    #[test]
    fn answers_by_record_equal_decoded_answers() {
        let dir = tempfile::tempdir().unwrap();
        let sub = |n: &str| {
            let d = dir.path().join(n);
            std::fs::create_dir(&d).unwrap();
            d
        };
        let locators = [
            Locator::embedded(),
            locator(
                &sub("mm"),
                Some(fixtures::maxmind_city()),
                Some(fixtures::maxmind_asn()),
            )
            .unwrap(),
            locator(&sub("mmc"), Some(fixtures::maxmind_city()), None).unwrap(),
            locator(
                &sub("flat"),
                Some(fixtures::flat_city()),
                Some(fixtures::flat_asn()),
            )
            .unwrap(),
        ];
        // The fixtures' own networks, their neighbours, and a spread of others.
        let mut ips: Vec<IpAddr> = [
            "81.2.69.142",
            "81.2.69.160",
            "2001:218:1::1",
            "89.160.20.112",
            "2a02:d300::1",
            "1.130.0.1",
            "8.8.8.8",
            "2600::1",
            "1.1.1.1",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..6000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ips.push(match i % 5 {
                0 => IpAddr::V6(std::net::Ipv6Addr::from(
                    (u128::from(x) << 64 | u128::from(x.rotate_left(9))) & !(0xe000 << 112)
                        | (0x2000 << 112),
                )),
                1 => IpAddr::V4(std::net::Ipv4Addr::from(0x5102_4500 | (x as u32 & 0x3ff))),
                _ => IpAddr::V4(std::net::Ipv4Addr::from(x as u32)),
            });
        }
        for loc in &locators {
            for round in 0..2 {
                for (j, _) in ips.iter().enumerate() {
                    let ip = ips[(j * (1 + 2 * round) + round * 17) % ips.len()];
                    let (memo, decoded) = (loc.locate(ip).geo, loc.locate_decoding(ip));
                    assert_eq!(memo, decoded, "{ip}");
                    // Interned: the very same answer.
                    assert!(
                        memo.is_none()
                            || Arc::ptr_eq(memo.as_ref().unwrap(), decoded.as_ref().unwrap()),
                        "{ip}"
                    );
                }
            }
        }
    }
}
