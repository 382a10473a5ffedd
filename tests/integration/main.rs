//! Integration tests: one binary, a module per area, helpers in `util`.

mod cli;
mod corpora;
mod openssh_fixtures;
mod robustness;
mod util;
