//! A real Cowrie 3.1.4 `cowrie.json` (recorded by
//! `scripts/record-cowrie-fixtures.sh`, see `tests/fixtures/cowrie/README.md`)
//! parsed end to end through the binary, the input detected by its content.

use serde_json::Value;

use crate::util::{fixture, run};

fn parse(all: bool) -> Vec<Value> {
    let path = fixture("cowrie/cowrie.json");
    let mut args = vec!["parse", path.to_str().unwrap()];
    if all {
        args.push("--all");
    }
    let out = run(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn cowrie_logins_are_auth_events_of_the_same_contract() {
    let truth = std::fs::read_to_string(fixture("cowrie/ground-truth.jsonl")).unwrap();
    let attempts: u64 = truth
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["attempts"]
                .as_u64()
                .unwrap()
        })
        .sum();
    let evs = parse(false);
    let failed: Vec<&Value> = evs.iter().filter(|e| e["kind"] == "auth_failure").collect();
    let ok: Vec<&Value> = evs.iter().filter(|e| e["kind"] == "auth_success").collect();
    assert_eq!(
        evs.len(),
        failed.len() + ok.len(),
        "only logins by default: {evs:?}"
    );
    assert_eq!(failed.len() as u64, attempts);
    assert_eq!(ok.len(), 6);
    for e in &evs {
        assert_eq!(e["program"], "cowrie", "{e}");
        assert_eq!(e["host"], "vm", "the sensor: {e}");
        assert_eq!(e["method"], "password", "{e}");
        assert!(e["ip"] == "127.0.0.1" || e["ip"] == "::1", "{e}");
        assert!(e["port"].is_u64(), "{e}");
        assert!(
            e["ts"].as_str().unwrap().starts_with("2026-12-04T23:"),
            "{e}"
        );
    }
    // The attacker's name, as sent, with the connection's own address.
    for ip in ["127.0.0.1", "::1"] {
        assert!(ok
            .iter()
            .any(|e| e["user"] == "x from 203.0.113.7 port 22" && e["ip"] == ip));
        assert_eq!(
            failed
                .iter()
                .filter(|e| e["user"] == "root" && e["ip"] == ip)
                .count(),
            3
        );
    }
    let stats = run(&[
        "stats",
        "--json",
        fixture("cowrie/cowrie.json").to_str().unwrap(),
    ]);
    let s: Value = serde_json::from_slice(&stats.stdout).unwrap();
    assert_eq!(s["attempts"], attempts);
    assert_eq!(s["inputs"][0]["malformed"], 0, "{s}");
}

/// Every record is Cowrie's: with `--all` none is skipped or taken for another program.
#[test]
fn cowrie_every_record_is_read() {
    let records = std::fs::read_to_string(fixture("cowrie/cowrie.json"))
        .unwrap()
        .lines()
        .count();
    let evs = parse(true);
    assert_eq!(evs.len(), records);
    assert!(evs
        .iter()
        .all(|e| e["program"] == "cowrie" && e["ip"].is_string()));
}
