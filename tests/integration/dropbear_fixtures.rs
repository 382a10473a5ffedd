//! Real Dropbear 2022.83 logs (recorded by `scripts/record-dropbear-fixtures.sh`,
//! see `tests/fixtures/dropbear/README.md`) parsed end to end through the binary.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::util::{fixture, run};

const ENVELOPES: [&str; 3] = ["rfc3164.log", "rfc3339.log", "rfc5424.log"];

fn parse(file: &str) -> Vec<Value> {
    let path = fixture(&format!("dropbear/{file}"));
    let out = run(&[
        "parse",
        "--year",
        "2026",
        "--tz",
        "UTC",
        path.to_str().unwrap(),
    ]);
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

/// What DESIGN §2 pins, `ts` cut to whole seconds (RFC 3164 has no fraction).
fn projection(ev: &Value) -> Value {
    let mut p = serde_json::Map::new();
    for k in [
        "ts",
        "program",
        "kind",
        "method",
        "user",
        "invalid_user",
        "ip",
        "port",
        "attempts",
    ] {
        let mut v = ev.get(k).cloned().unwrap_or(Value::Null);
        if k == "ts" {
            let s = v.as_str().unwrap();
            v = json!(format!("{}+00:00", &s[..19]));
        }
        p.insert(k.into(), v);
    }
    Value::Object(p)
}

#[test]
fn dropbear_three_envelopes_give_the_same_events() {
    let base: Vec<Value> = parse(ENVELOPES[0]).iter().map(projection).collect();
    assert!(!base.is_empty());
    for f in &ENVELOPES[1..] {
        let other: Vec<Value> = parse(f).iter().map(projection).collect();
        assert_eq!(base, other, "{f} differs from {}", ENVELOPES[0]);
    }
}

/// The client's actions (`ground-truth.jsonl`) against what was parsed: the
/// attempts, one event kind per Dropbear message, every address the client's.
#[test]
fn dropbear_events_match_the_ground_truth() {
    let truth = std::fs::read_to_string(fixture("dropbear/ground-truth.jsonl")).unwrap();
    let attempts: u64 = truth
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["attempts"]
                .as_u64()
                .unwrap()
        })
        .sum();
    for f in ENVELOPES {
        let evs = parse(f);
        assert_eq!(
            evs.iter()
                .map(|e| e["attempts"].as_u64().unwrap())
                .sum::<u64>(),
            attempts,
            "{f}: attempts"
        );
        let mut by_kind: BTreeMap<(String, String), u64> = BTreeMap::new();
        for e in &evs {
            assert_eq!(e["program"], "dropbear", "{e}");
            let ip = e["ip"]
                .as_str()
                .unwrap_or_else(|| panic!("{f}: no address: {e}"));
            assert!(ip == "127.0.0.1" || ip == "::1", "{f}: {e}");
            *by_kind
                .entry((ip.to_string(), e["kind"].as_str().unwrap().to_string()))
                .or_default() += 1;
        }
        // Per address: 1+2 wrong passwords, root refused (-w), 4 nonexistent
        // users, 3 wrong passwords ending in `Max auth tries reached`, 2
        // negotiation failures, 11 pre-auth exits, 2 logins.
        for ip in ["127.0.0.1", "::1"] {
            let got: BTreeMap<&str, u64> = by_kind
                .iter()
                .filter(|((i, _), _)| i == ip)
                .map(|((_, k), n)| (k.as_str(), *n))
                .collect();
            let want = BTreeMap::from([
                ("auth_failure", 10),
                ("auth_success", 2),
                ("negotiation_failure", 2),
                ("preauth_close", 11),
                ("refused", 1),
                ("too_many_failures", 1),
            ]);
            assert_eq!(got, want, "{f} {ip}");
        }
        // `Login attempt for nonexistent user` names nobody and no address:
        // the connection (`Child connection from`) gives it.
        let invalid: Vec<&Value> = evs.iter().filter(|e| e["invalid_user"] == true).collect();
        assert_eq!(invalid.len(), 8, "{f}");
        assert!(invalid
            .iter()
            .all(|e| e["kind"] == "auth_failure" && e["port"].is_u64()));
    }
}
