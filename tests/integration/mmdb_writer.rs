//! A minimal MaxMind DB (`.mmdb`) writer for building test databases with
//! known answers: an IPv6 search tree (IPv4 under `::/96`), 32-bit records,
//! a data section of maps, strings, numbers and floats, and the metadata.
//!
//! Format: <https://maxmind.github.io/MaxMind-DB/>. Also used by the unit tests
//! of `src/geo` (included there with `#[path]`).
#![allow(dead_code)]

use std::net::IpAddr;

/// A value in the data section.
#[derive(Clone, Debug)]
pub enum Value {
    Str(String),
    Double(f64),
    Float(f32),
    U16(u16),
    U32(u32),
    U64(u64),
    Bool(bool),
    Map(Vec<(String, Value)>),
    Array(Vec<Value>),
}

/// `Value::Map` from pairs.
pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

pub fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

#[derive(Clone, Copy)]
enum Rec {
    Empty,
    Node(usize),
    Data(usize),
}

/// Builds a database in memory.
pub struct Writer {
    database_type: String,
    nodes: Vec<[Rec; 2]>,
    data: Vec<u8>,
}

impl Writer {
    pub fn new(database_type: &str) -> Writer {
        Writer {
            database_type: database_type.to_string(),
            nodes: vec![[Rec::Empty, Rec::Empty]],
            data: Vec::new(),
        }
    }

    /// Inserts `value` for the network `cidr` ("81.2.69.0/24", "2001:218::/32").
    /// Insert wider networks before the narrower ones inside them.
    pub fn insert(&mut self, cidr: &str, value: &Value) {
        let (addr, len) = cidr.split_once('/').expect("CIDR");
        let ip: IpAddr = addr.parse().expect("address");
        let len: u32 = len.parse().expect("prefix length");
        let (bits, len) = match ip {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), len + 96),
            IpAddr::V6(v6) => (u128::from(v6), len),
        };
        let offset = self.data.len();
        encode(&mut self.data, value);
        let mut node = 0;
        for i in 0..len {
            let bit = ((bits >> (127 - i)) & 1) as usize;
            if i + 1 == len {
                self.nodes[node][bit] = Rec::Data(offset);
                break;
            }
            node = match self.nodes[node][bit] {
                Rec::Node(n) => n,
                other => {
                    // Split an empty or wider record: both halves inherit it.
                    self.nodes.push([other, other]);
                    let n = self.nodes.len() - 1;
                    self.nodes[node][bit] = Rec::Node(n);
                    n
                }
            };
        }
    }

    /// The file's bytes.
    pub fn build(&self) -> Vec<u8> {
        let count = self.nodes.len();
        let mut out = Vec::new();
        for node in &self.nodes {
            for rec in node {
                let v = match *rec {
                    Rec::Empty => count,
                    Rec::Node(n) => n,
                    Rec::Data(off) => count + 16 + off,
                };
                out.extend_from_slice(&(v as u32).to_be_bytes());
            }
        }
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&self.data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        let meta = Value::Map(vec![
            ("binary_format_major_version".into(), Value::U16(2)),
            ("binary_format_minor_version".into(), Value::U16(0)),
            ("build_epoch".into(), Value::U64(1_767_225_600)), // 2026-01-01
            ("database_type".into(), s(&self.database_type)),
            (
                "description".into(),
                map([("en", s("sshmap test database"))]),
            ),
            ("ip_version".into(), Value::U16(6)),
            ("languages".into(), Value::Array(vec![s("en")])),
            ("node_count".into(), Value::U32(count as u32)),
            ("record_size".into(), Value::U16(32)),
        ]);
        encode(&mut out, &meta);
        out
    }

    /// Writes the file.
    pub fn write(&self, path: &std::path::Path) {
        std::fs::write(path, self.build()).expect("write test database");
    }
}

/// Control byte(s): type in the top 3 bits (or 0 and an extended type byte),
/// size in the low 5 bits with 1–3 extension bytes.
fn control(out: &mut Vec<u8>, ty: u8, size: usize) {
    let (first, ext): (u8, Vec<u8>) = if size < 29 {
        (size as u8, vec![])
    } else if size < 29 + 256 {
        (29, vec![(size - 29) as u8])
    } else if size < 285 + 65_536 {
        (30, ((size - 285) as u16).to_be_bytes().to_vec())
    } else {
        (31, ((size - 65_821) as u32).to_be_bytes()[1..].to_vec())
    };
    if ty <= 7 {
        out.push((ty << 5) | first);
    } else {
        out.push(first);
        out.push(ty - 7);
    }
    out.extend_from_slice(&ext);
}

fn uint(out: &mut Vec<u8>, ty: u8, v: u64, max: usize) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().max(8 - max);
    control(out, ty, 8 - skip);
    out.extend_from_slice(&bytes[skip..]);
}

fn encode(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Str(s) => {
            control(out, 2, s.len());
            out.extend_from_slice(s.as_bytes());
        }
        Value::Double(d) => {
            control(out, 3, 8);
            out.extend_from_slice(&d.to_be_bytes());
        }
        Value::U16(n) => uint(out, 5, u64::from(*n), 2),
        Value::U32(n) => uint(out, 6, u64::from(*n), 4),
        Value::Map(pairs) => {
            control(out, 7, pairs.len());
            for (k, v) in pairs {
                encode(out, &Value::Str(k.clone()));
                encode(out, v);
            }
        }
        Value::U64(n) => uint(out, 9, *n, 8),
        Value::Array(items) => {
            control(out, 11, items.len());
            for i in items {
                encode(out, i);
            }
        }
        Value::Bool(b) => control(out, 14, usize::from(*b)),
        Value::Float(f) => {
            control(out, 15, 4);
            out.extend_from_slice(&f.to_be_bytes());
        }
    }
}

/// Test databases with known answers, in both schemas.
pub mod fixtures {
    use super::*;

    /// MaxMind-schema city database: city records, a country-only record, and
    /// ASN fields on one record, for IPv4 and IPv6.
    ///
    /// | network | answer |
    /// |---|---|
    /// | 81.2.69.0/24 | London, GB, 51.5142 −0.0931 |
    /// | 2001:218::/32 | Tokyo, JP, 35.685 139.7514 |
    /// | 89.160.20.0/24 | SE, country only (no city, no location) |
    /// | 2a02:d300::/32 | FR, country only |
    /// | 1.128.0.0/11 | AU, Melbourne, with AS1221 Telstra in the record |
    pub fn maxmind_city() -> Writer {
        let mut w = Writer::new("GeoLite2-City");
        let city = |cc: &str, country: &str, city: &str, lat: f64, lon: f64| {
            map([
                (
                    "city",
                    map([
                        ("geoname_id", Value::U32(1)),
                        ("names", map([("en", s(city)), ("de", s("x"))])),
                    ]),
                ),
                ("continent", map([("code", s("EU"))])),
                (
                    "country",
                    map([("iso_code", s(cc)), ("names", map([("en", s(country))]))]),
                ),
                (
                    "location",
                    map([
                        ("accuracy_radius", Value::U16(100)),
                        ("latitude", Value::Double(lat)),
                        ("longitude", Value::Double(lon)),
                    ]),
                ),
            ])
        };
        w.insert(
            "81.2.69.0/24",
            &city("GB", "United Kingdom", "London", 51.5142, -0.0931),
        );
        w.insert(
            "2001:218::/32",
            &city("JP", "Japan", "Tokyo", 35.685, 139.7514),
        );
        let country_only = |cc: &str, name: &str| {
            map([(
                "country",
                map([("iso_code", s(cc)), ("names", map([("en", s(name))]))]),
            )])
        };
        w.insert("89.160.20.0/24", &country_only("SE", "Sweden"));
        w.insert("2a02:d300::/32", &country_only("FR", "France"));
        let mut mel = city("AU", "Australia", "Melbourne", -37.814, 144.9633);
        if let Value::Map(pairs) = &mut mel {
            pairs.push(("autonomous_system_number".into(), Value::U32(1221)));
            pairs.push((
                "autonomous_system_organization".into(),
                s("Telstra Pty Ltd"),
            ));
        }
        w.insert("1.128.0.0/11", &mel);
        w
    }

    /// MaxMind-schema ASN database.
    ///
    /// | network | answer |
    /// |---|---|
    /// | 81.2.69.0/24 | AS20712 Andrews & Arnold Ltd |
    /// | 2001:218::/32 | AS2914 NTT America, Inc. (a 16-bit-looking number stored as uint32) |
    /// | 89.160.0.0/16 | AS29518 Bredband2 AB |
    pub fn maxmind_asn() -> Writer {
        let mut w = Writer::new("GeoLite2-ASN");
        let asn = |n: u32, org: &str| {
            map([
                ("autonomous_system_number", Value::U32(n)),
                ("autonomous_system_organization", s(org)),
            ])
        };
        w.insert("81.2.69.0/24", &asn(20712, "Andrews & Arnold Ltd"));
        w.insert("2001:218::/32", &asn(2914, "NTT America, Inc."));
        w.insert("89.160.0.0/16", &asn(29518, "Bredband2 AB"));
        w
    }

    /// Flat-schema (ip-location-db) city database: floats for coordinates.
    ///
    /// | network | answer |
    /// |---|---|
    /// | 81.2.69.0/24 | London, GB, 51.5142 −0.0931 (f32) |
    /// | 2a02:d300::/32 | Paris, FR, 48.8534 2.3488 (f32) |
    /// | 89.160.20.0/24 | SE, no city |
    pub fn flat_city() -> Writer {
        let mut w = Writer::new("ip-location-db: dbip-city");
        let city = |cc: &str, city: &str, lat: f32, lon: f32| {
            map([
                ("city", s(city)),
                ("country_code", s(cc)),
                ("latitude", Value::Float(lat)),
                ("longitude", Value::Float(lon)),
                ("state1", s("x")),
            ])
        };
        w.insert("81.2.69.0/24", &city("GB", "London", 51.5142, -0.0931));
        w.insert("2a02:d300::/32", &city("FR", "Paris", 48.8534, 2.3488));
        w.insert("89.160.20.0/24", &map([("country_code", s("SE"))]));
        w
    }

    /// Flat-schema ASN database (`asn`, `as_organization`).
    pub fn flat_asn() -> Writer {
        let mut w = Writer::new("ip-location-db: asn");
        w.insert(
            "81.2.69.0/24",
            &map([
                ("asn", Value::U32(20712)),
                ("as_organization", s("Andrews & Arnold Ltd")),
            ]),
        );
        w.insert(
            "2a02:d300::/32",
            &map([("asn", Value::U32(3215)), ("as_organization", s("Orange"))]),
        );
        w
    }

    /// Flat-schema country database with a made-up type name, for `geoip update`.
    pub fn flat_country(cc_for_8888: &str) -> Writer {
        let mut w = Writer::new("DBIP-Country-Lite");
        w.insert("8.8.8.0/24", &map([("country_code", s(cc_for_8888))]));
        w.insert("1.1.1.0/24", &map([("country_code", s("AU"))]));
        w
    }
}
