//! Enrich: where an address is (country, city, ASN) from MaxMind-format databases.
//!
//! Built by the GeoIP issue; until then every event has `geo: null`.
pub mod countries;
