//! Fuzzes the line parser and the correlator: any bytes, never a panic.
//! `parse_block` reaches every parser: the envelopes (syslog, RFC 5424,
//! journal and Cowrie JSON), sshd's and Dropbear's messages, bare lines.
//!
//! Run with `cargo +nightly fuzz run parse_line` from the repository root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sshmap::parse::{parse_block, Correlator, Options};

fuzz_target!(|data: &[u8]| {
    let block = parse_block(data, 1, true);
    let mut c = Correlator::new("fuzz".into(), Options::default());
    for raw in block.lines {
        c.push(raw, &mut |ev| {
            let _ = serde_json::to_string(&ev.kind.as_str());
        });
    }
    c.finish_all(&mut |_| {});
});
