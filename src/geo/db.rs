//! One MaxMind-format database (`.mmdb`), opened by memory map or embedded,
//! and its records read in either schema found in the wild.
//!
//! - MaxMind / DB-IP: `country.iso_code`, `country.names.en`, `city.names.en`,
//!   `location.latitude/longitude` (double), `autonomous_system_number/organization`.
//! - ip-location-db (flat): `country_code`, `city`, `latitude`, `longitude`
//!   (stored as *float*, f32), `asn` or `autonomous_system_number`, `as_organization`.
//!
//! The decoder of `maxminddb` is strictly typed (asking for an `f64` where the
//! file has a float is an error), so numbers go through [`Num`], which takes
//! whatever numeric type the file holds.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{MaxMindDbError, Reader};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use super::GeoError;

/// The embedded DB-IP "IP to Country Lite" database (CC BY 4.0).
pub static EMBEDDED: &[u8] = include_bytes!("../../assets/geo/dbip-country.mmdb");

/// Required attribution for every DB-IP database.
pub const DBIP_ATTRIBUTION: &str = "IP Geolocation by DB-IP (https://db-ip.com)";

/// What a database answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbKind {
    City,
    Country,
    Asn,
    /// A type name we do not recognise: its fields are used as they come.
    Other,
}

impl DbKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::City => "city",
            DbKind::Country => "country",
            DbKind::Asn => "asn",
            DbKind::Other => "other",
        }
    }

    /// From the metadata's `database_type` (`GeoLite2-City`, `DBIP-ASN-Lite`,
    /// `ip-location-db: dbip-city`…).
    fn from_type(t: &str) -> DbKind {
        let t = t.to_ascii_lowercase();
        // Location first: ip-location-db's `geo-whois-asn-country` and
        // `iptoasn-country` are country databases built from ASN data.
        if t.contains("city") {
            DbKind::City
        } else if t.contains("country") {
            DbKind::Country
        } else if t.contains("asn") || t.contains("-isp") || t.contains(" isp") {
            DbKind::Asn
        } else {
            DbKind::Other
        }
    }
}

/// Where a database comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Compiled into the binary.
    Embedded,
    /// Downloaded by `sshmap geoip update` into the data directory.
    Downloaded(PathBuf),
    /// Given by the user: `flag` is `--geoip` or `--asn`.
    User { flag: &'static str, path: PathBuf },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded => f.write_str("embedded in the sshmap binary"),
            Origin::Downloaded(p) => write!(f, "{} (sshmap geoip update)", p.display()),
            Origin::User { flag, path } => write!(f, "{} ({flag})", path.display()),
        }
    }
}

/// The bytes of a database: a memory map or a static slice.
pub enum Bytes {
    Static(&'static [u8]),
    Mapped(maxminddb::Mmap),
}

impl AsRef<[u8]> for Bytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            Bytes::Static(b) => b,
            Bytes::Mapped(m) => m,
        }
    }
}

/// An open database.
pub struct Database {
    reader: Reader<Bytes>,
    pub kind: DbKind,
    pub origin: Origin,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("type", &self.reader.metadata().database_type)
            .field("kind", &self.kind)
            .field("origin", &self.origin)
            .finish()
    }
}

/// What one record says, borrowed from the database.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Record<'a> {
    pub country: Option<&'a str>,
    pub country_name: Option<&'a str>,
    pub city: Option<&'a str>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub asn: Option<u32>,
    pub org: Option<&'a str>,
}

impl Database {
    /// The database compiled into the binary.
    pub fn embedded() -> Database {
        let reader = Reader::from_source(Bytes::Static(EMBEDDED))
            .expect("the embedded GeoIP database is valid");
        Database {
            kind: DbKind::from_type(&reader.metadata().database_type),
            reader,
            origin: Origin::Embedded,
        }
    }

    /// Opens a file by memory map. `flag` names the option to fix in errors.
    pub fn open(path: &Path, origin: Origin, flag: &'static str) -> Result<Database, GeoError> {
        let file = std::fs::File::open(path).map_err(|err| GeoError::Open {
            flag,
            path: path.to_path_buf(),
            err,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(GeoError::Open {
                flag,
                path: path.to_path_buf(),
                err: std::io::Error::other("is a directory"),
            });
        }
        // SAFETY: the map is read-only; sshmap never writes a database in place
        // (`geoip update` writes a new file and renames it over the old one, which
        // leaves this mapping's inode untouched).
        let map = unsafe { maxminddb::Mmap::map(&file) }.map_err(|err| GeoError::Open {
            flag,
            path: path.to_path_buf(),
            err,
        })?;
        let reader = Reader::from_source(Bytes::Mapped(map)).map_err(|e| GeoError::NotMmdb {
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let kind = DbKind::from_type(&reader.metadata().database_type);
        Ok(Database {
            reader,
            kind,
            origin,
        })
    }

    pub fn metadata(&self) -> &maxminddb::Metadata {
        self.reader.metadata()
    }

    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// What the database says about `ip` (already canonical); `None` when it
    /// has no record, or cannot answer (an IPv6 address in an IPv4-only file).
    pub fn lookup(&self, ip: IpAddr) -> Result<Option<Record<'_>>, MaxMindDbError> {
        match self.find(ip)? {
            Some(found) => found.record(),
            None => Ok(None),
        }
    }

    /// Where the answer for `ip` lies, without decoding it: many addresses
    /// share one record, and its offset is a key for what was decoded from it
    /// (see [`super::Locator::locate`]). `None` as for [`Database::lookup`].
    pub fn find(&self, ip: IpAddr) -> Result<Option<Found<'_>>, MaxMindDbError> {
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let res = self.reader.lookup(ip)?;
        Ok(res.offset().map(|offset| Found { offset, res }))
    }

    /// Full structural check of the file (search tree, data section, metadata).
    pub fn verify(&self) -> Result<(), MaxMindDbError> {
        self.reader.verify()
    }

    /// Networks in the database (walks the whole tree: for `geoip info`).
    pub fn count_networks(&self) -> Result<u64, MaxMindDbError> {
        let mut n = 0;
        for r in self.reader.networks(Default::default())? {
            r?;
            n += 1;
        }
        Ok(n)
    }

    /// Licence and attribution, from what the database says it is.
    pub fn licence(&self) -> (&'static str, String) {
        let m = self.reader.metadata();
        let text = format!(
            "{} {}",
            m.database_type,
            m.description
                .values()
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        )
        .to_ascii_lowercase();
        if self.origin == Origin::Embedded || text.contains("dbip") || text.contains("db-ip") {
            (
                "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)",
                DBIP_ATTRIBUTION.to_string(),
            )
        } else if text.contains("geolite") {
            (
                "GeoLite2 End User License Agreement",
                "This product includes GeoLite2 data created by MaxMind, available from https://www.maxmind.com".into(),
            )
        } else if text.contains("geoip2") {
            (
                "MaxMind commercial licence",
                "GeoIP2 data by MaxMind (https://www.maxmind.com)".into(),
            )
        } else {
            (
                "unknown (see the database's own terms)",
                m.description.get("en").cloned().unwrap_or_default(),
            )
        }
    }
}

/// A record found by [`Database::find`], not yet decoded.
pub struct Found<'a> {
    /// Its offset in the data section: equal offsets, equal records.
    pub offset: usize,
    res: maxminddb::LookupResult<'a, Bytes>,
}

impl<'a> Found<'a> {
    /// The record (`None`: an empty one), as [`Database::lookup`] gives it.
    pub fn record(&self) -> Result<Option<Record<'a>>, MaxMindDbError> {
        Ok(self.res.decode::<Raw<'a>>()?.map(Raw::into_record))
    }
}

/// Both schemas in one pass; unknown fields are skipped.
#[derive(Deserialize, Default)]
struct Raw<'a> {
    #[serde(borrow, default)]
    country: Option<Named<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<Named<'a>>,
    #[serde(borrow, default)]
    city: Option<Named<'a>>,
    #[serde(default)]
    location: Option<Location>,
    #[serde(default)]
    autonomous_system_number: Option<Num>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(default)]
    latitude: Option<Num>,
    #[serde(default)]
    longitude: Option<Num>,
    #[serde(default)]
    asn: Option<Num>,
    #[serde(borrow, default)]
    as_organization: Option<&'a str>,
}

impl<'a> Raw<'a> {
    fn into_record(self) -> Record<'a> {
        let country = self.country.or(self.registered_country);
        let (lat, lon) = match self.location {
            Some(l) => (l.latitude.map(|n| n.0), l.longitude.map(|n| n.0)),
            None => (self.latitude.map(|n| n.0), self.longitude.map(|n| n.0)),
        };
        let nonempty = |s: Option<&'a str>| s.filter(|s| !s.is_empty());
        Record {
            country: nonempty(self.country_code.or(country.as_ref().and_then(|c| c.code))),
            country_name: nonempty(country.as_ref().and_then(|c| c.name)),
            city: nonempty(self.city.and_then(|c| c.name)),
            lat,
            lon,
            asn: self
                .autonomous_system_number
                .or(self.asn)
                .and_then(|n| (n.0 >= 1.0 && n.0 <= f64::from(u32::MAX)).then_some(n.0 as u32)),
            org: nonempty(self.autonomous_system_organization.or(self.as_organization)),
        }
    }
}

#[derive(Deserialize, Default)]
struct Location {
    #[serde(default)]
    latitude: Option<Num>,
    #[serde(default)]
    longitude: Option<Num>,
}

/// Any numeric MMDB value, as `f64`.
#[derive(Clone, Copy)]
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Num, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f32<E>(self, v: f32) -> Result<Num, E> {
                Ok(Num(f64::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            // Some writers store numbers as text ("15169").
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim()
                    .trim_start_matches("AS")
                    .parse()
                    .map(Num)
                    .map_err(|_| E::custom("not a number"))
            }
        }
        d.deserialize_any(V)
    }
}

/// A place: a bare string (flat schema) or a map with `iso_code` and
/// `names.en` (MaxMind schema).
#[derive(Default)]
struct Named<'a> {
    code: Option<&'a str>,
    name: Option<&'a str>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Named<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Named<'a>, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Named<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a name or a map with iso_code and names")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Named<'a>, E> {
                Ok(Named {
                    code: None,
                    name: Some(v),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Named<'a>, A::Error> {
                let mut out = Named::default();
                while let Some(key) = map.next_key::<&'de str>()? {
                    match key {
                        "iso_code" => out.code = Some(map.next_value()?),
                        "names" => out.name = map.next_value::<Names<'de>>()?.en,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_from_database_type() {
        assert_eq!(DbKind::from_type("GeoLite2-City"), DbKind::City);
        assert_eq!(DbKind::from_type("DBIP-City-Lite"), DbKind::City);
        assert_eq!(DbKind::from_type("GeoLite2-Country"), DbKind::Country);
        assert_eq!(DbKind::from_type("GeoLite2-ASN"), DbKind::Asn);
        assert_eq!(
            DbKind::from_type("DBIP-ASN-Lite (compat=GeoLite2-ASN)"),
            DbKind::Asn
        );
        assert_eq!(DbKind::from_type("GeoIP2-ISP"), DbKind::Asn);
        assert_eq!(
            DbKind::from_type("geo-whois-asn-country ipv4"),
            DbKind::Country
        );
        assert_eq!(DbKind::from_type("iptoasn-country"), DbKind::Country);
        assert_eq!(DbKind::from_type("my-thing"), DbKind::Other);
    }

    #[test]
    fn embedded_database_opens_and_answers() {
        let db = Database::embedded();
        assert_eq!(db.kind, DbKind::Country, "{}", db.database_type());
        let rec = db.lookup("8.8.8.8".parse().unwrap()).unwrap().unwrap();
        assert_eq!(rec.country, Some("US"));
        let rec = db.lookup("1.1.1.1".parse().unwrap()).unwrap().unwrap();
        assert_eq!(rec.country, Some("AU"));
        assert!(db.licence().1.contains("DB-IP"));
    }
}
