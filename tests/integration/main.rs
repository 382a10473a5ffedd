//! Integration tests: one binary, modules per area.

mod render;
mod util;
