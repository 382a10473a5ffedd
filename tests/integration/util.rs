//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sshmap::event::Event;
use sshmap::parse::{parse_line, Correlator, Options};

/// The built `sshmap` binary.
pub fn sshmap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sshmap"))
}

/// Runs `sshmap` with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    sshmap().args(args).output().expect("run sshmap")
}

/// The third-party corpora shipped beside the repository (`../shared/corpora`).
pub fn corpora() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpora")
}

/// A file under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// Parses lines as one input through the library, all events included.
pub fn parse_lines(lines: &[&str]) -> Vec<Event> {
    let mut c = Correlator::new("t".into(), Options { year: Some(2026), ..Options::default() });
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Ok(Some(raw)) = parse_line(l.as_bytes(), i as u64 + 1, false) {
            c.push(raw, &mut |e| out.push(e));
        }
    }
    c.finish_all(&mut |e| out.push(e));
    out
}
