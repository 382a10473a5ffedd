//! Integration tests: one binary, a module per area, helpers in `util`.

mod cli;
mod corpora;
mod store;
mod geoip;
mod live;
mod mmdb_writer;
mod openssh_fixtures;
mod report;
mod render;
mod timelapse;
mod robustness;
mod serve;
mod util;
