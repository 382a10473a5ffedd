//! Helpers shared by the integration tests: the binary, and log files in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the built `sshmap` with these arguments.
pub fn sshmap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sshmap")).args(args).output().expect("run sshmap")
}

/// Writes `lines` (joined with newlines) to `dir/name`.
pub fn write_log(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&p, text).expect("write log");
    p
}
