//! Integration tests: one binary, a module per area, helpers in `util`.

mod aggregate;
mod alerts;
mod attack;
mod checkpoint;
mod cli;
mod clickhouse;
mod corpora;
mod cowrie_fixtures;
mod dropbear_fixtures;
mod exact;
mod flow;
mod geoip;
mod journal;
mod live;
mod mmdb_writer;
mod openssh_fixtures;
mod render;
mod report;
mod robustness;
mod serve;
mod ship;
mod store;
mod timelapse;
mod util;
mod views;
