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
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

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

/// The bytes of a database: a memory map or a static slice. Shared by the
/// reader and the database's own walk of the search tree ([`V4Top`]).
#[derive(Clone)]
pub enum Bytes {
    Static(&'static [u8]),
    Mapped(Arc<maxminddb::Mmap>),
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
    /// The reader's bytes, for [`Database::offset`].
    bytes: Bytes,
    /// Built at the first IPv4 [`Database::offset`]; `None`: a tree it
    /// does not read (the reader answers then).
    v4_top: OnceLock<Option<V4Top>>,
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
        Database::from_bytes(Bytes::Static(EMBEDDED), Origin::Embedded)
            .expect("the embedded GeoIP database is valid")
    }

    fn from_bytes(bytes: Bytes, origin: Origin) -> Result<Database, MaxMindDbError> {
        let reader = Reader::from_source(bytes.clone())?;
        Ok(Database {
            kind: DbKind::from_type(&reader.metadata().database_type),
            reader,
            origin,
            bytes,
            v4_top: OnceLock::new(),
        })
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
        Database::from_bytes(Bytes::Mapped(Arc::new(map)), origin).map_err(|e| GeoError::NotMmdb {
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
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

    /// Where the answer for `ip` (already canonical) lies, as
    /// [`Database::find`] says it: `find(ip).ok().flatten()`'s offset. An
    /// IPv4 address's walk of the search tree starts from [`V4Top`], past
    /// its first [`V4_TOP_BITS`] levels, and leaves no [`Found`] to build
    /// (issue #15: `Database::find` walked ~14 levels for each of 7,768
    /// addresses on 200k lines, ~470 instructions an address).
    pub fn offset(&self, ip: IpAddr) -> Option<usize> {
        if let IpAddr::V4(v4) = ip {
            let top = self.v4_top.get_or_init(|| V4Top::build(self));
            if let Some(answer) = top.as_ref().and_then(|t| t.offset(self.tree(), v4)) {
                return answer;
            }
        }
        self.find(ip).ok().flatten().map(|f| f.offset)
    }

    /// The file's bytes (the search tree first).
    fn tree(&self) -> &[u8] {
        self.bytes.as_ref()
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

/// Levels of the search tree that [`V4Top`] walks ahead.
const V4_TOP_BITS: u32 = 12;

/// The IPv4 part of a database's search tree read as the reader reads it
/// (MaxMind DB spec, "Search tree"), its first [`V4_TOP_BITS`] levels
/// walked ahead: the node each 12-bit prefix leads to (or the record or
/// empty mark a walk stops at, on a larger network), 16 KiB, 8,191 node
/// reads to build. A look-up then reads the last levels only.
struct V4Top {
    record_size: usize,
    node_count: usize,
    /// Where the data section ends (its metadata marker) and starts:
    /// a record's pointer `p` is at offset `p - node_count - 16`, which
    /// must lie before `data_len`, or the reader calls it an error.
    data_len: usize,
    /// Node (or record pointer) after the first bits, by those bits.
    nodes: Box<[u32]>,
}

/// What ends the data section (MaxMind DB spec, "Database Metadata").
const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";

impl V4Top {
    /// `None` where the tree is not one to walk here (the reader answers):
    /// record sizes other than 24, 28 and 32 bits, a node past the bytes.
    fn build(db: &Database) -> Option<V4Top> {
        let m = db.reader.metadata();
        let (record_size, node_count) = (usize::from(m.record_size), m.node_count as usize);
        if !matches!(record_size, 24 | 28 | 32) || u32::try_from(node_count).is_err() {
            return None;
        }
        let buf = db.tree();
        let marker = memchr::memmem::rfind(buf, METADATA_MARKER)?;
        let data_len = marker.checked_sub(node_count.checked_mul(record_size)? / 4 + 16)?;
        let mut top = V4Top {
            record_size,
            node_count,
            data_len,
            nodes: Box::new([]),
        };
        // IPv4 in an IPv6 tree: the node after 96 zero bits (`::a.b.c.d`).
        let mut start = 0;
        if m.ip_version == 6 {
            for _ in 0..96 {
                if start >= node_count {
                    break;
                }
                start = top.read(buf, start, 0)?;
            }
        }
        // Level by level: each node's two children, in order of the bits.
        let mut level = vec![start as u32];
        for _ in 0..V4_TOP_BITS {
            let mut next = Vec::with_capacity(level.len() * 2);
            for &n in &level {
                let n = n as usize;
                for bit in 0..2 {
                    next.push(if n >= node_count {
                        n as u32
                    } else {
                        top.read(buf, n, bit)? as u32
                    });
                }
            }
            level = next;
        }
        top.nodes = level.into_boxed_slice();
        Some(top)
    }

    /// Record `bit` (0: left, 1: right) of node `node`, as the reader
    /// decodes it; `None` past the bytes.
    #[inline(always)]
    fn read(&self, buf: &[u8], node: usize, bit: usize) -> Option<usize> {
        let word = |at: usize| -> Option<u32> {
            let b = buf.get(at..at + 4)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        Some(match self.record_size {
            // Two 3-byte records: the left one in the first three bytes.
            24 => (word(node * 6 + bit * 2)? >> (8 - bit * 8) & 0xff_ffff) as usize,
            // 3 bytes, a shared byte (the left record's top nibble, then
            // the right one's), 3 bytes.
            28 if bit == 0 => {
                let w = word(node * 7)?;
                (w >> 8 | (w << 20 & 0x0f00_0000)) as usize
            }
            28 => (word(node * 7 + 3)? & 0x0fff_ffff) as usize,
            _ => word(node * 8 + bit * 4)? as usize,
        })
    }

    /// [`Database::offset`] of `ip`, or `None` where the reader must answer
    /// (a node past the bytes).
    fn offset(&self, buf: &[u8], ip: Ipv4Addr) -> Option<Option<usize>> {
        let ip = u32::from(ip);
        let mut node = self.nodes[(ip >> (32 - V4_TOP_BITS)) as usize] as usize;
        for i in V4_TOP_BITS..32 {
            if node >= self.node_count {
                break;
            }
            node = self.read(buf, node, (ip >> (31 - i) & 1) as usize)?;
        }
        // Empty (`node_count`), or the bits ran out on a node: no record.
        if node <= self.node_count {
            return Some(None);
        }
        // A pointer into the separator or past the data is the reader's
        // error: no record either.
        Some(
            (node - self.node_count)
                .checked_sub(16)
                .filter(|&offset| offset < self.data_len),
        )
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

    /// The test databases' bytes with their search tree written again in
    /// `record_size` bits (they come in 32), and as an IPv4 tree if `v4`
    /// (the same nodes, walked from the root).
    fn rewritten(bytes: &[u8], record_size: usize, v4: bool) -> Vec<u8> {
        let m = Reader::from_source(bytes).unwrap().metadata().clone();
        assert_eq!(m.record_size, 32);
        let nodes = m.node_count as usize;
        let mut out = Vec::new();
        for n in 0..nodes {
            let rec = |i: usize| {
                let b = &bytes[n * 8 + i * 4..n * 8 + i * 4 + 4];
                u32::from_be_bytes([b[0], b[1], b[2], b[3]])
            };
            let (l, r) = (rec(0), rec(1));
            match record_size {
                24 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                28 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push(((l >> 24) << 4 | r >> 24) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                _ => unreachable!(),
            }
        }
        out.extend_from_slice(&bytes[nodes * 8..]);
        let meta = memchr::memmem::rfind(&out, METADATA_MARKER).unwrap();
        let mut patch = |key: &[u8], from: u8, to: u8| {
            let at = meta + memchr::memmem::find(&out[meta..], key).unwrap() + key.len();
            assert_eq!(
                out[at..at + 2],
                [0xa1, from],
                "{key:?} as a one-byte uint16"
            );
            out[at + 1] = to;
        };
        patch(b"record_size", 32, record_size as u8);
        if v4 {
            patch(b"ip_version", 6, 4);
        }
        out
    }

    /// [`Database::offset`] (its own walk of the tree for IPv4) against
    /// the reader's [`Database::find`]: the embedded database (24 bits), the
    /// test databases in 32, 28 and 24 bits, as IPv6 and as IPv4 trees, and
    /// with records pointing into the separator and past the data; random
    /// addresses, those of the test networks and their edges, IPv6 ones.
    #[test]
    fn offsets_are_the_readers() {
        use super::super::locate::mmdb_writer::fixtures;
        let mut rnd = crate::testing::xorshift(0x0ff5_e75e);
        let mut dbs = vec![Database::embedded()];
        for w in [
            fixtures::maxmind_city(),
            fixtures::maxmind_asn(),
            fixtures::flat_city(),
            fixtures::flat_country("DE"),
        ] {
            let bytes = w.build();
            let mut variants = vec![bytes.clone()];
            for v4 in [false, true] {
                for size in [24, 28] {
                    variants.push(rewritten(&bytes, size, v4));
                }
            }
            // Some right records made pointers into the separator and past
            // the data section (32 bits: the first node's at byte 4).
            let m = Reader::from_source(&bytes[..]).unwrap().metadata().clone();
            let nodes = m.node_count;
            for bad in [nodes + 1, nodes + 15, nodes + 16 + bytes.len() as u32] {
                let mut b = bytes.clone();
                for n in (0..nodes as usize).step_by(3) {
                    b[n * 8 + 4..n * 8 + 8].copy_from_slice(&bad.to_be_bytes());
                }
                variants.push(b);
            }
            for b in variants {
                let b: &'static [u8] = Box::leak(b.into_boxed_slice());
                dbs.push(Database::from_bytes(Bytes::Static(b), Origin::Embedded).unwrap());
            }
        }
        let mut ips: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "8.8.8.8",
            "81.2.69.160",
            "81.2.69.255",
            "81.2.70.0",
            "89.160.20.112",
            "1.130.0.1",
            "2001:218::1",
            "::ffff:8.8.8.8",
            "::",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for _ in 0..3000 {
            let x = rnd();
            ips.push(IpAddr::V4(Ipv4Addr::from(x as u32)));
            // Near the test networks: the first 20 bits of one's, the rest random.
            let near: [Ipv4Addr; 4] = [
                [81, 2, 69, 0].into(),
                [89, 160, 20, 0].into(),
                [1, 130, 0, 0].into(),
                [8, 8, 8, 0].into(),
            ];
            let base = u32::from(near[x as usize % 4]) & !0xfff;
            ips.push(IpAddr::V4(Ipv4Addr::from(base | (x >> 32) as u32 & 0xfff)));
        }
        let mut found = 0;
        for (d, db) in dbs.iter().enumerate() {
            for ip in &ips {
                let want = db.find(*ip).ok().flatten().map(|f| f.offset);
                assert_eq!(db.offset(*ip), want, "database {d}, {ip}");
                found += usize::from(want.is_some());
            }
            // Its own walk answered (the reader only for IPv6).
            assert!(matches!(db.v4_top.get(), Some(Some(_))), "database {d}");
        }
        assert!(found > ips.len() / 2, "{found}");
    }

    /// [`V4Top::read`] of nodes laid out as the spec says ("Node Layout"),
    /// in 24, 28 and 32 bits: records of every bit set, the 28-bit ones'
    /// top nibbles in their shared middle byte.
    #[test]
    fn node_records_read_as_laid_out() {
        let mut rnd = crate::testing::xorshift(0x001a_1d07);
        for record_size in [24usize, 28, 32] {
            let top = V4Top {
                record_size,
                node_count: 0,
                data_len: 0,
                nodes: Box::new([]),
            };
            let mask = (1u64 << record_size) - 1;
            for _ in 0..2000 {
                let (l, r) = (rnd() & mask, rnd() & mask);
                let mut buf = vec![0xee; 3]; // node 1: the node before is not read
                buf.resize(record_size / 4, 0x5a);
                match record_size {
                    24 => {
                        buf.extend_from_slice(&l.to_be_bytes()[5..]);
                        buf.extend_from_slice(&r.to_be_bytes()[5..]);
                    }
                    28 => {
                        buf.extend_from_slice(&l.to_be_bytes()[5..]);
                        buf.push(((l >> 24) << 4 | r >> 24) as u8);
                        buf.extend_from_slice(&r.to_be_bytes()[5..]);
                    }
                    _ => {
                        buf.extend_from_slice(&l.to_be_bytes()[4..]);
                        buf.extend_from_slice(&r.to_be_bytes()[4..]);
                    }
                }
                buf.resize(buf.len() + 8, 0xa5);
                assert_eq!(
                    top.read(&buf, 1, 0),
                    Some(l as usize),
                    "{record_size}: {l:x}"
                );
                assert_eq!(
                    top.read(&buf, 1, 1),
                    Some(r as usize),
                    "{record_size}: {r:x}"
                );
            }
            // Past the bytes: no record.
            assert_eq!(top.read(&[0; 5], 1, 1), None);
        }
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
