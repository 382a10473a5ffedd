//! The parser against third-party expectations: CrowdSec's sshd parser
//! assertions (including its must-not-match lines) and sshguard's SSH cases.
//! Their notion of "attack" differs from sshmap's kinds, so what is checked is
//! the shared ground: which lines are sshd security events, and their source
//! address and user.

use std::collections::HashMap;
use std::fs;

use sshmap::event::Kind;

use crate::util::{fixture, parse_lines};

/// `[i].Success == true`, `[i].Evt.Parsed["sshd_client_ip"] == "x"` … for s01-parse.
fn crowdsec_expectations(dir: &str) -> (Vec<String>, HashMap<usize, HashMap<String, String>>) {
    let base = fixture(&format!("third_party/crowdsec/{dir}"));
    let log = fs::read_dir(&base)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "log"))
        .unwrap();
    let lines: Vec<String> = fs::read_to_string(log)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let asserts = fs::read_to_string(base.join("parser.assert")).unwrap();
    let mut exp: HashMap<usize, HashMap<String, String>> = HashMap::new();
    for a in asserts
        .lines()
        .filter(|l| l.starts_with(r#"results["s01-parse"]["crowdsecurity/sshd-logs"]["#))
    {
        let rest = a.split(r#"["crowdsecurity/sshd-logs"]["#).nth(1).unwrap();
        let idx: usize = rest[..rest.find(']').unwrap()].parse().unwrap();
        let field = if rest.contains(".Success == ") {
            "Success".to_string()
        } else if let Some(p) = rest.find(r#"Parsed[""#) {
            let f = &rest[p + 8..];
            f[..f.find('"').unwrap()].to_string()
        } else {
            continue;
        };
        let value = a
            .rsplit("== ")
            .next()
            .unwrap()
            .trim()
            .trim_matches('"')
            .to_string();
        exp.entry(idx).or_default().insert(field, value);
    }
    (lines, exp)
}

fn check_crowdsec(dir: &str) -> usize {
    let (lines, exp) = crowdsec_expectations(dir);
    let mut checked = 0;
    for (i, line) in lines.iter().enumerate() {
        let evs: Vec<_> = parse_lines(&[line])
            .into_iter()
            .filter(|e| e.kind != Kind::Other)
            .collect();
        let Some(e) = exp.get(&i) else { continue };
        match e.get("Success").map(String::as_str) {
            Some("true") => {
                let ev = evs
                    .first()
                    .unwrap_or_else(|| panic!("{dir}[{i}] no event for {line}"));
                if let Some(ip) = e.get("sshd_client_ip") {
                    assert_eq!(
                        ev.ip.map(|x| x.to_string()).as_deref(),
                        Some(ip.as_str()),
                        "{dir}[{i}] {line}"
                    );
                }
                if let Some(u) = e.get("sshd_invalid_user").or_else(|| e.get("sshd_user")) {
                    assert_eq!(ev.user.as_deref(), Some(u.as_str()), "{dir}[{i}] {line}");
                }
                checked += 1;
            }
            Some("false") => {
                assert!(
                    evs.is_empty(),
                    "{dir}[{i}] must not match: {line} → {evs:?}"
                );
                checked += 1;
            }
            _ => {}
        }
    }
    checked
}

#[test]
fn crowdsec_sshd_logs() {
    assert_eq!(check_crowdsec("sshd-logs"), 24);
}

#[test]
fn crowdsec_false_positives_do_not_match() {
    let (lines, _) = crowdsec_expectations("sshd-logs-fp");
    for line in &lines {
        let evs: Vec<_> = parse_lines(&[line])
            .into_iter()
            .filter(|e| e.kind != Kind::Other)
            .collect();
        assert!(evs.is_empty(), "{line} → {evs:?}");
    }
    assert!(!lines.is_empty());
}

#[test]
fn crowdsec_opnsense_rfc5424() {
    assert!(check_crowdsec("opnsense-sshd") > 0);
}

#[test]
fn crowdsec_success_logs() {
    let (lines, _) = crowdsec_expectations("sshd-success-logs");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let evs = parse_lines(&refs);
    let ok = evs.iter().filter(|e| e.kind == Kind::AuthSuccess).count();
    let accepted = lines.iter().filter(|l| l.contains("Accepted ")).count();
    assert_eq!(ok, accepted);
    assert!(ok > 0);
}

/// sshguard `tests.txt`: input line, then `<service> <ip> <af> <danger>` or `*`, blocks split by `M`.
#[test]
fn sshguard_ssh_cases() {
    let text = fs::read_to_string(fixture("third_party/sshguard/tests.txt")).unwrap();
    let ssh = &text[..text.find("# Dropbear").unwrap()];
    let mut cases = 0;
    for block in ssh.split("\nM\n") {
        let lines: Vec<&str> = block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let [input, expect] = lines[..] else { continue };
        let evs: Vec<_> = parse_lines(&[input])
            .into_iter()
            .filter(|e| e.kind != Kind::Other)
            .collect();
        if expect == "*" {
            assert!(evs.iter().all(|e| e.attempts == 0), "{input} → {evs:?}");
        } else {
            let ip = expect.split(' ').nth(1).unwrap();
            let ev = evs
                .first()
                .unwrap_or_else(|| panic!("no event for {input}"));
            assert_eq!(ev.ip.map(|x| x.to_string()).as_deref(), Some(ip), "{input}");
        }
        cases += 1;
    }
    assert!(cases >= 55, "only {cases} cases");
}

/// Datadog's samples: journald-shaped JSON with the sshd message.
#[test]
fn datadog_samples() {
    let text = fs::read_to_string(fixture("third_party/datadog/sshd_tests.yaml")).unwrap();
    let msgs: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("\"message\": \""))
        .map(|m| m.trim_end_matches('"').replace("\\\"", "\""))
        .collect();
    assert!(msgs.len() >= 5, "{msgs:?}");
    for m in &msgs {
        let line = format!("Jan 14 14:12:20 ssh-server sshd[1]: {m}");
        let evs = parse_lines(&[&line]);
        if m.starts_with("Failed") || m.starts_with("Accepted") || m.starts_with("Invalid user") {
            let ev = evs
                .iter()
                .find(|e| e.kind != Kind::Other)
                .unwrap_or_else(|| panic!("{m}"));
            assert!(ev.ip.is_some() && ev.user.is_some(), "{m}");
        }
    }
}

/// sshguard's Dropbear cases (service 101): bare messages and syslog lines.
#[test]
fn sshguard_dropbear_cases() {
    let text = fs::read_to_string(fixture("third_party/sshguard/tests.txt")).unwrap();
    let start = text.find("# Dropbear").unwrap();
    let end = start + text[start..].find("# }}}").unwrap();
    let mut cases = 0;
    for block in text[start..end].split("\nM\n") {
        let lines: Vec<&str> = block
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let [input, expect] = lines[..] else { continue };
        let ev = parse_lines(&[input])
            .into_iter()
            .find(|e| e.kind != Kind::Other)
            .unwrap_or_else(|| panic!("no event for {input}"));
        let ip = expect.split(' ').nth(1).unwrap();
        assert_eq!(ev.ip.map(|x| x.to_string()).as_deref(), Some(ip), "{input}");
        assert_eq!(&*ev.program, "dropbear", "{input}");
        cases += 1;
    }
    assert_eq!(cases, 6);
}
