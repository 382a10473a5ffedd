//! Integration tests: one binary, a module per area, helpers in `util`.

mod cli;
mod corpora;
mod store;
mod util;
