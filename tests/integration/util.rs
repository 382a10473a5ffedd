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

/// A file under `tests/fixtures`.
pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// Parses lines as one input through the library, all events included.
pub fn parse_lines(lines: &[&str]) -> Vec<Event> {
    let mut c = Correlator::new(
        "t".into(),
        Options {
            year: Some(2026),
            ..Options::default()
        },
    );
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if let Ok(Some(raw)) = parse_line(l.as_bytes(), i as u64 + 1, false) {
            c.push(raw, &mut |e| out.push(e));
        }
    }
    c.finish_all(&mut |e| out.push(e));
    out
}

/// Writes `lines` (joined with newlines) to `dir/name`.
pub fn write_log(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&p, text).expect("write log");
    p
}
