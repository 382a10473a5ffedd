//! The journal with real components: journal files written by systemd's own
//! `systemd-journal-remote` (from journal export format), read and followed by
//! the real `journalctl` through `journal:DIR` and `serve --journal-dir`.
//!
//! Needs the Debian packages `systemd` (journalctl) and `systemd-journal-remote`
//! (installed by .ci/run). A container has no journald, which is why the files
//! are written by journal-remote rather than by sshd through journald.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::serve::{read_sse, Server};
use super::util::{fixture, run};
use sshmap::serve::ServeConfig;

fn journal_remote() -> PathBuf {
    for p in [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("systemd-journal-remote not found: install the Debian packages systemd systemd-journal-remote (see .ci/run)");
}

/// One journal entry in export format (binary-safe field encoding for every field).
fn export_entry(out: &mut Vec<u8>, fields: &[(&str, &[u8])]) {
    for (k, v) in fields {
        if k.starts_with("__") && *k != "__REALTIME_TIMESTAMP" && *k != "__MONOTONIC_TIMESTAMP" {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        if v.contains(&b'\n') || !k.starts_with('_') && std::str::from_utf8(v).is_err() {
            out.push(b'\n');
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            out.extend_from_slice(v);
            out.push(b'\n');
        } else {
            out.push(b'=');
            out.extend_from_slice(v);
            out.push(b'\n');
        }
    }
    out.push(b'\n');
}

/// Appends the entries to DIR/remote.journal with systemd-journal-remote.
fn append_journal(dir: &Path, export: &[u8]) {
    let mut child = Command::new(journal_remote())
        .arg(format!("--output={}", dir.join("remote.journal").display()))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run systemd-journal-remote");
    child.stdin.take().unwrap().write_all(export).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "systemd-journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const BOOT: &[u8] = b"4a1c9e03d1b84f2a9c6e1f0b7d2e5a61";

/// The fixture `tests/fixtures/journal/sshd.json` (journalctl -o json) back in export format.
fn fixture_export() -> Vec<u8> {
    let text = std::fs::read_to_string(fixture("journal/sshd.json")).unwrap();
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
        for (k, val) in v.as_object().unwrap() {
            let bytes = match val {
                serde_json::Value::String(s) => s.as_bytes().to_vec(),
                serde_json::Value::Array(a) => {
                    a.iter().map(|b| b.as_u64().unwrap() as u8).collect()
                }
                other => other.to_string().into_bytes(),
            };
            fields.push((k.clone(), bytes));
        }
        fields.push((
            "__MONOTONIC_TIMESTAMP".into(),
            (1_000_000 + i as u64).to_string().into_bytes(),
        ));
        fields.push(("_BOOT_ID".into(), BOOT.to_vec()));
        let refs: Vec<(&str, &[u8])> = fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        export_entry(&mut out, &refs);
    }
    out
}

fn events(out: &std::process::Output) -> Vec<serde_json::Value> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("src");
            v
        })
        .collect()
}

#[test]
fn journal_dir_input_reads_real_journal_files_like_the_json_export() {
    let dir = tempfile::tempdir().unwrap();
    append_journal(dir.path(), &fixture_export());
    let spec = format!("journal:{}", dir.path().display());
    let from_journal = events(&run(&["parse", "--format", "jsonl", &spec]));
    let from_json = events(&run(&[
        "parse",
        "--format",
        "jsonl",
        fixture("journal/sshd.json").to_str().unwrap(),
    ]));
    // journalctl's _COMM match leaves out the spoofed `logger` line and cron, as the JSON parser does.
    assert_eq!(from_journal, from_json);
    assert!(from_journal.len() >= 3, "{from_journal:?}");
    // The Latin-1 user name (a byte array in JSON) went through journal-remote and journalctl intact.
    assert!(
        from_journal.iter().any(|e| e["user"]
            .as_str()
            .is_some_and(|u| u.starts_with('j') && u.len() > 1)),
        "{from_journal:?}"
    );
    let missing = run(&["parse", "journal:/nonexistent/dir"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("journal:/nonexistent/dir"));
}

fn live_entry(out: &mut Vec<u8>, seq: u64, pid: u32, comm: &str, msg: &str) {
    let now = jiff::Timestamp::now().as_microsecond() as u64;
    export_entry(
        out,
        &[
            ("__REALTIME_TIMESTAMP", now.to_string().as_bytes()),
            (
                "__MONOTONIC_TIMESTAMP",
                (5_000_000 + seq).to_string().as_bytes(),
            ),
            ("_BOOT_ID", BOOT),
            ("_HOSTNAME", b"deb12"),
            ("SYSLOG_IDENTIFIER", comm.as_bytes()),
            ("_COMM", comm.as_bytes()),
            ("_PID", pid.to_string().as_bytes()),
            ("_UID", b"0"),
            ("PRIORITY", b"6"),
            ("MESSAGE", msg.as_bytes()),
        ],
    );
}

#[test]
fn serve_follows_a_journal_directory_and_resumes_after_its_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    // Entries from before the first start are history: not shown.
    let mut old = Vec::new();
    live_entry(
        &mut old,
        1,
        700,
        "sshd",
        "Failed password for root from 198.51.100.1 port 1 ssh2",
    );
    append_journal(&journal, &old);
    let cfg = ServeConfig {
        journal_dir: Some(journal.clone()),
        journal: true,
        checkpoint: Some(dir.path().join("checkpoints.json")),
        tokens: vec![],
        // One failure then a login: an alert only below the default threshold (5).
        alert_ip_failures: 1,
        ..ServeConfig::default()
    };
    let srv = Server::start(cfg.clone());
    let (mut s, snap) = srv.stream();
    assert!(!snap.contains("198.51.100.1"), "history shown: {snap}");
    // journalctl -f needs a moment to set up its inotify watch.
    std::thread::sleep(Duration::from_millis(700));
    let mut new = Vec::new();
    live_entry(
        &mut new,
        2,
        701,
        "sshd-session",
        "Failed password for invalid user oracle from 203.0.113.77 port 40100 ssh2",
    );
    live_entry(
        &mut new,
        3,
        702,
        "sshd-session",
        "Accepted password for deploy from 203.0.113.77 port 40101 ssh2",
    );
    append_journal(&journal, &new);
    let got = read_sse(
        &mut s,
        |t| t.contains("event: alert"),
        Duration::from_secs(10),
    );
    assert!(
        got.contains("\"kind\":\"auth_failure\"") && got.contains("\"user\":\"oracle\""),
        "{got}"
    );
    assert!(
        got.contains("\"kind\":\"auth_success\"") && got.contains("success_after_ip_failures"),
        "{got}"
    );
    assert!(!got.contains("198.51.100.1"), "history replayed: {got}");
    srv.stop();

    // Written while serve is down: shown after the restart, and nothing before it again.
    let mut down = Vec::new();
    live_entry(
        &mut down,
        4,
        703,
        "sshd",
        "Invalid user ghost from 192.0.2.44 port 40200",
    );
    append_journal(&journal, &down);
    let srv = Server::start(cfg);
    let (mut s, snap) = srv.stream();
    let got = if snap.contains("192.0.2.44") {
        snap
    } else {
        read_sse(
            &mut s,
            |t| t.contains("192.0.2.44"),
            Duration::from_secs(10),
        )
    };
    assert!(
        got.contains("\"user\":\"ghost\""),
        "entry written while down is missing: {got}"
    );
    assert!(
        !got.contains("oracle") && !got.contains("198.51.100.1"),
        "entries before the cursor again: {got}"
    );
    srv.stop();
}

fn stored_events(db: &Path) -> Vec<serde_json::Value> {
    events(&run(&[
        "parse",
        "--format",
        "jsonl",
        "--db",
        db.to_str().unwrap(),
    ]))
}

#[test]
fn ingest_of_a_journal_is_exactly_once_across_runs_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    append_journal(&journal, &fixture_export());
    let spec = format!("journal:{}", journal.display());
    let db = dir.path().join("j.db");
    let ingest = |db: &Path| {
        let o = run(&["ingest", &spec, "--db", db.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    ingest(&db);
    let first = stored_events(&db);
    assert!(first.len() >= 3, "{first:?}");
    // journalctl prints fields in a different order on each run: still nothing new.
    ingest(&db);
    assert_eq!(stored_events(&db), first);

    // New entries, one of them continuing a connection of the old ones (same pid).
    let mut more = Vec::new();
    live_entry(
        &mut more,
        10,
        901,
        "sshd",
        "Connection closed by invalid user admin 203.0.113.50 port 40022 [preauth]",
    );
    for i in 0..50u32 {
        live_entry(
            &mut more,
            11 + u64::from(i),
            2000 + i,
            "sshd-session",
            &format!(
                "Failed password for root from 198.51.100.{} port {} ssh2",
                i % 7,
                1000 + i
            ),
        );
    }
    append_journal(&journal, &more);
    let stderr = ingest(&db);
    let after = stored_events(&db);
    // Exactly what one read of the whole journal gives (the close line is an event too).
    assert_eq!(
        after,
        events(&run(&["parse", "--format", "jsonl", &spec])),
        "{stderr}"
    );
    assert!(after.len() >= first.len() + 50, "{stderr}");
    ingest(&db);
    assert_eq!(stored_events(&db), after);

    // The same as one clean ingest of the whole journal.
    let clean = dir.path().join("clean.db");
    ingest(&clean);
    assert_eq!(stored_events(&clean), after);
    let stats = |args: &[&str]| -> serde_json::Value {
        let o = run(args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    assert_eq!(
        stats(&["stats", "--json", "--db", db.to_str().unwrap()]),
        stats(&["stats", "--json", &spec])
    );
}

#[test]
fn ingest_of_a_large_journal_resumes_after_the_saved_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    std::fs::create_dir(&journal).unwrap();
    // Enough entries that the checkpoint's warm point (and its cursor) moves past the start.
    let mut big = Vec::new();
    for i in 0..25_000u32 {
        live_entry(
            &mut big,
            u64::from(i),
            10_000 + i % 30_000,
            "sshd",
            &format!(
                "Failed password for invalid user u{} from 203.0.113.{} port {} ssh2",
                i % 97,
                i % 200,
                1024 + i % 60_000
            ),
        );
    }
    append_journal(&journal, &big);
    let spec = format!("journal:{}", journal.display());
    let db = dir.path().join("j.db");
    let ingest = || {
        let o = run(&["ingest", &spec, "--db", db.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    ingest();
    let cursor = {
        let mut st = sshmap::store::open(&sshmap::store::Location::Sqlite(db.clone())).unwrap();
        let cps = st.checkpoints().unwrap();
        assert_eq!(cps.len(), 1);
        assert!(
            cps[0].warm_line > 1,
            "warm point did not move: {:?}",
            cps[0]
        );
        cps[0]
            .cursor
            .clone()
            .expect("a journal checkpoint keeps a cursor")
    };
    let mut more = Vec::new();
    for i in 0..100u32 {
        live_entry(
            &mut more,
            100_000 + u64::from(i),
            50_000 + i,
            "sshd-session",
            &format!(
                "Failed password for root from 198.51.100.{} port {} ssh2",
                i % 50,
                2000 + i
            ),
        );
    }
    append_journal(&journal, &more);
    ingest();
    ingest();
    let stored = stored_events(&db);
    assert_eq!(stored, events(&run(&["parse", "--format", "jsonl", &spec])));
    assert_eq!(stored.len(), 25_100);
    let mut st = sshmap::store::open(&sshmap::store::Location::Sqlite(db.clone())).unwrap();
    assert!(st.checkpoints().unwrap()[0].cursor.is_some(), "{cursor}");
}
