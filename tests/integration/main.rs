//! Integration tests: one binary, modules per area.

mod geoip;
mod mmdb_writer;
