//! Real OpenSSH 9.2 logs (recorded by `scripts/record-sshd-fixtures.sh`, see
//! `tests/fixtures/openssh/README.md`) parsed end to end through the binary.
//!
//! Two recordings of the same client actions, at `LogLevel INFO`
//! (`openssh/`) and `VERBOSE` (`openssh/verbose/`). In each, the three files
//! hold the same sshd messages in three rsyslog envelopes, so they must give
//! the same events; `expected.jsonl` was written from the recording's ground
//! truth (`ground-truth.jsonl`, what the client did), not from sshmap's output.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::util::{fixture, run};

const ENVELOPES: [&str; 3] = ["rfc3164.log", "rfc3339.log", "rfc5424.log"];
/// The recordings: `LogLevel INFO` and `LogLevel VERBOSE`.
const SETS: [&str; 2] = ["openssh", "openssh/verbose"];

fn read(set: &str, file: &str) -> String {
    std::fs::read_to_string(fixture(&format!("{set}/{file}")))
        .unwrap_or_else(|e| panic!("{set}/{file}: {e}"))
}

/// The year the files were recorded in (RFC 3164 lines carry none).
fn year(set: &str) -> String {
    let v = read(set, "versions.txt");
    let at = v
        .lines()
        .find_map(|l| l.strip_prefix("recorded_at="))
        .expect("recorded_at in versions.txt");
    at[..4].to_string()
}

/// Attack attempts by DESIGN §2 that the client's actions gave, as the
/// recording script wrote them down (`attempts` of each action: one per wrong
/// password, per negotiation or protocol failure, per `refused`; PAM lines add
/// none, since every connection with a PAM failure also logged `Failed password`).
fn ground_truth_attempts(set: &str) -> u64 {
    read(set, "ground-truth.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("ground-truth line")["attempts"]
                .as_u64()
                .expect("attempts")
        })
        .sum()
}

fn parse(set: &str, file: &str) -> Vec<Value> {
    let path = fixture(&format!("{set}/{file}"));
    let out = run(&[
        "parse",
        "--format",
        "jsonl",
        "--year",
        &year(set),
        "--tz",
        "UTC",
        path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "sshmap parse {set}/{file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8 output")
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{file}: bad JSON line {l:?}: {e}"))
        })
        .collect()
}

/// An event without `src`, its `ts` cut to whole seconds (RFC 3164 has no fraction).
fn envelope_free(ev: &Value) -> Value {
    let mut ev = ev.clone();
    let obj = ev.as_object_mut().expect("event object");
    obj.remove("src");
    if let Some(Value::String(ts)) = obj.get("ts") {
        obj.insert("ts".into(), json!(whole_seconds(ts)));
    }
    ev
}

/// `2026-11-23T13:49:57.184258+00:00` → `2026-11-23T13:49:57+00:00`.
fn whole_seconds(ts: &str) -> String {
    match ts.find('.') {
        Some(dot) => {
            let tail = ts[dot..]
                .find(['+', '-', 'Z'])
                .map_or("", |i| &ts[dot + i..]);
            format!("{}{}", &ts[..dot], tail)
        }
        None => ts.to_string(),
    }
}

/// The fields `expected.jsonl` pins.
fn projection(ev: &Value) -> Value {
    let mut p = serde_json::Map::new();
    for k in [
        "ts",
        "kind",
        "method",
        "user",
        "invalid_user",
        "ip",
        "port",
        "count",
        "attempts",
    ] {
        let v = ev.get(k).cloned().unwrap_or(Value::Null);
        p.insert(
            k.into(),
            if k == "ts" {
                json!(whole_seconds(v.as_str().unwrap_or("")))
            } else {
                v
            },
        );
    }
    Value::Object(p)
}

/// A readable diff of two event lists (longest common subsequence), or None.
fn diff(expected: &[Value], got: &[Value]) -> Option<String> {
    let (n, m) = (expected.len(), got.len());
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if expected[i] == got[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < n || j < m {
        if i < n && j < m && expected[i] == got[j] {
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out += &format!("  unexpected (got #{j}): {}\n", got[j]);
            j += 1;
        } else {
            out += &format!("  missing (expected #{i}): {}\n", expected[i]);
            i += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

fn expected(set: &str) -> Vec<Value> {
    read(set, "expected.jsonl")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| projection(&serde_json::from_str(l).expect("expected.jsonl line")))
        .collect()
}

#[test]
fn three_envelopes_give_the_same_events() {
    for set in SETS {
        let base: Vec<Value> = parse(set, ENVELOPES[0]).iter().map(envelope_free).collect();
        assert!(!base.is_empty());
        for file in &ENVELOPES[1..] {
            let other: Vec<Value> = parse(set, file).iter().map(envelope_free).collect();
            if let Some(d) = diff(&base, &other) {
                panic!("{set}/{file} differs from {}:\n{d}", ENVELOPES[0]);
            }
        }
    }
}

#[test]
fn events_match_the_ground_truth() {
    let mut failures = String::new();
    for set in SETS {
        let want = expected(set);
        for file in ENVELOPES {
            let got: Vec<Value> = parse(set, file).iter().map(projection).collect();
            if let Some(d) = diff(&want, &got) {
                failures += &format!("{set}/{file}: events differ from expected.jsonl:\n{d}");
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// Every hostile name must come out exactly as sshd logged it (decoded from
/// its `\ooo` escapes) and with the real client address, never an address or
/// port written inside the name.
#[test]
fn hostile_user_names_keep_the_true_source() {
    // As the client sent them (ground-truth.jsonl). sshd logged the
    // `<script>` name cut at its `/`: `<script>alert(1)<`.
    let hostile = [
        "admin user",
        "o'brien",
        "say \"hi\"",
        "<script>alert(1)<",
        "<img src=x onerror=alert(1)>",
        "x from 203.0.113.7",
        "y port 22 ssh2",
        "z from 198.51.100.1 port 22 ssh2",
        "jösé",
        "用户",
    ];
    let mut failures = Vec::new();
    for (set, file) in SETS
        .iter()
        .flat_map(|s| ENVELOPES.iter().map(move |f| (*s, *f)))
    {
        let events = parse(set, file);
        for name in hostile {
            for ip in ["127.0.0.1", "::1"] {
                for kind in ["invalid_user", "auth_failure", "preauth_close"] {
                    let found = events.iter().any(|e| {
                        e["kind"] == kind
                            && e["user"] == name
                            && e["ip"] == ip
                            && e["invalid_user"] == true
                    });
                    if !found {
                        failures.push(format!(
                            "{set}/{file}: no {kind} event for invalid user {name:?} from {ip}"
                        ));
                    }
                }
            }
        }
        for e in &events {
            let ip = e["ip"].as_str().unwrap_or("");
            if ip != "127.0.0.1" && ip != "::1" {
                failures.push(format!(
                    "{set}/{file}: event with a source that is not the client: {e}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn stats_match_the_ground_truth() {
    let mut failures = Vec::new();
    for set in SETS {
        let attempts = ground_truth_attempts(set);
        let want = expected(set);
        assert_eq!(
            want.iter()
                .map(|e| e["attempts"].as_u64().unwrap())
                .sum::<u64>(),
            attempts,
            "{set}: expected.jsonl vs ground truth"
        );
        let mut by_kind: BTreeMap<String, u64> = BTreeMap::new();
        for e in &want {
            *by_kind
                .entry(e["kind"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        for file in ENVELOPES {
            let lines = read(set, file).lines().count();
            let path = fixture(&format!("{set}/{file}"));
            let out = run(&[
                "stats",
                "--json",
                "--year",
                &year(set),
                "--tz",
                "UTC",
                path.to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "sshmap stats {set}/{file}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let s: Value = serde_json::from_slice(&out.stdout).expect("stats JSON");
            let mut check = |what: &str, got: &Value, want: Value| {
                if *got != want {
                    failures.push(format!(
                        "{set}/{file}: {what} = {got}, ground truth says {want}"
                    ));
                }
            };
            check("attempts", &s["attempts"], json!(attempts));
            check("unique_ips", &s["unique_ips"], json!(2));
            check("events", &s["events"], json!(want.len()));
            check("by_kind", &s["by_kind"], json!(by_kind));
            check("inputs[0].lines", &s["inputs"][0]["lines"], json!(lines));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
