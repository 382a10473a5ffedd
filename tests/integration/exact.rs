//! Issue #14, "exact on every log sshd writes": the self-describing fixtures of
//! `tests/fixtures/exact/` (each log line preceded by the events it must give),
//! a truncated gzip read through the binary, and CSV numbers.

use std::io::Write;

use serde_json::Value;
use sshmap::event::Kind;

use crate::util::{fixture, parse_lines, run};

/// Parses `exact/NAME` as one input and checks every line against the
/// `# expect:` comments above it; returns how many lines were checked.
fn check_fixture(name: &str) -> usize {
    let text = std::fs::read_to_string(fixture(&format!("exact/{name}"))).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let events: Vec<Value> = parse_lines(&lines)
        .into_iter()
        .filter(|e| e.kind != Kind::Other)
        .map(|e| serde_json::to_value(&e).unwrap())
        .collect();
    let mut failures = Vec::new();
    let mut want: Vec<Option<Value>> = Vec::new();
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let number = i as u64 + 1;
        if let Some(rest) = line.strip_prefix("# expect:") {
            let rest = rest.trim();
            want.push(if rest == "nothing" {
                None
            } else {
                Some(serde_json::from_str(rest).unwrap_or_else(|e| panic!("{name}:{number}: {e}")))
            });
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        assert!(
            !want.is_empty(),
            "{name}:{number}: no `# expect:` above {line}"
        );
        let got: Vec<&Value> = events
            .iter()
            .filter(|e| e["src"]["line"] == number)
            .collect();
        let expected: Vec<&Value> = want.iter().flatten().collect();
        let ok = got.len() == expected.len()
            && got.iter().zip(&expected).all(|(g, w)| {
                w.as_object()
                    .unwrap()
                    .iter()
                    .all(|(k, v)| g.get(k).unwrap_or(&Value::Null) == v)
            });
        if !ok {
            failures.push(format!(
                "{name}:{number}: {line}\n  want {expected:?}\n  got  {got:?}"
            ));
        }
        want.clear();
        checked += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    checked
}

#[test]
fn injection_after_the_ssh2_suffix_keeps_sshds_address() {
    assert!(check_fixture("injection-after-ssh2.log") >= 10);
}

#[test]
fn from_addr_without_port_is_parsed() {
    assert!(check_fixture("from-without-port.log") >= 8);
}

#[test]
fn connection_ends_without_preauth_are_events() {
    assert!(check_fixture("no-preauth.log") >= 15);
}

#[test]
fn pam_error_takes_the_from_address_never_via_or_another_lines() {
    assert!(check_fixture("pam-via.log") >= 10);
}

#[test]
fn addressless_probes_of_a_known_connection_are_scanner_kinds() {
    assert!(check_fixture("probes.log") >= 15);
}

#[test]
fn new_year_out_of_order_line_stays_in_the_old_year() {
    assert!(check_fixture("new-year.log") >= 6);
}

/// A gzip cut short: what decompresses is parsed (as `zcat` shows it), and the
/// run exits 1 naming the input.
#[test]
fn truncated_gzip_keeps_its_readable_part() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = String::new();
    // About 2 MiB of text: more than one read block, so the cut falls in the last one.
    let n = 24_000;
    for i in 0..n {
        log.push_str(&format!(
            "Nov 23 07:41:{:02} vm sshd[{}]: Invalid user u{i} from 192.0.2.{} port {}\n",
            i % 60,
            1000 + i,
            i % 250 + 1,
            1024 + i % 60000
        ));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(log.as_bytes()).unwrap();
    let full = gz.finish().unwrap();
    let cut = &full[..full.len() * 9 / 10];
    // What a streaming decoder gets out of the cut file, as zcat would.
    let mut readable = Vec::new();
    let mut dec = flate2::read::GzDecoder::new(cut);
    let _ = std::io::copy(&mut dec, &mut readable);
    let whole_lines = readable.iter().filter(|&&b| b == b'\n').count();
    assert!(whole_lines > n / 2, "{whole_lines}");
    let path = dir.path().join("auth.log.2.gz");
    std::fs::write(&path, cut).unwrap();
    let out = run(&["parse", "--year", "2026", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("auth.log.2.gz") && err.contains("truncated"),
        "{err}"
    );
    let events = String::from_utf8(out.stdout).unwrap().lines().count();
    assert_eq!(events, whole_lines, "every whole line zcat recovers");
}

/// The new parsers (Dropbear's lines, Cowrie's JSON, the old sshd forms) on
/// every prefix of their recorded lines and on lines with bytes replaced
/// (a deterministic stand-in for a run of the fuzz target, which reaches them
/// through the same `parse_block`): never a panic.
#[test]
fn new_parsers_survive_cut_and_damaged_lines() {
    let mut lines: Vec<String> = Vec::new();
    for f in [
        "dropbear/rfc3164.log",
        "dropbear/rfc5424.log",
        "cowrie/cowrie.json",
    ] {
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        lines.extend(text.lines().map(str::to_string));
    }
    for f in [
        "exact/injection-after-ssh2.log",
        "exact/from-without-port.log",
        "exact/no-preauth.log",
        "exact/probes.log",
    ] {
        let text = std::fs::read_to_string(fixture(f)).unwrap();
        lines.extend(
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .map(str::to_string),
        );
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut block = Vec::new();
    for l in &lines {
        let b = l.as_bytes();
        for cut in (0..b.len()).step_by(3) {
            block.extend_from_slice(&b[..cut]);
            block.push(b'\n');
        }
        for _ in 0..20 {
            let mut m = b.to_vec();
            for _ in 0..3 {
                let i = (next() as usize) % m.len().max(1);
                if let Some(x) = m.get_mut(i) {
                    *x = [b' ', b'\'', b':', b'<', b'>', b'"', b'{', 0xff, b'1']
                        [next() as usize % 9];
                }
            }
            block.extend_from_slice(&m);
            block.push(b'\n');
        }
    }
    let parsed = sshmap::parse::parse_block(&block, 1, true);
    let mut c = sshmap::parse::Correlator::new("t".into(), sshmap::parse::Options::default());
    let mut n = 0;
    for raw in parsed.lines {
        c.push(raw, &mut |_| n += 1);
    }
    c.finish_all(&mut |_| n += 1);
    assert!(n > 1000, "{n} events");
}
