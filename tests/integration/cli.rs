//! The command line: exit codes, output formats, stdin, compression, errors.

use std::io::Write;
use std::process::Stdio;

use crate::util::{fixture, run, sshmap};

#[test]
fn parse_reads_stdin_and_prints_jsonl() {
    let mut child = sshmap()
        .args(["parse", "--year", "2026", "--tz", "UTC", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"Nov 23 07:41:35 vm sshd[4202]: Failed password for alice from 203.0.113.9 port 34932 ssh2\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ts"], "2026-11-23T07:41:35+00:00");
    assert_eq!(v["kind"], "auth_failure");
    assert_eq!(v["user"], "alice");
    assert_eq!(v["ip"], "203.0.113.9");
    assert_eq!(v["port"], 34932);
    assert_eq!(v["pid"], 4202);
    assert_eq!(v["host"], "vm");
    assert_eq!(v["method"], "password");
    assert_eq!(v["invalid_user"], false);
    assert_eq!(v["count"], 1);
    assert_eq!(v["src"]["input"], "-");
    assert_eq!(v["src"]["line"], 1);
    assert!(v["geo"].is_null() || v["geo"].is_object());
}

#[test]
fn unreadable_input_is_reported_and_the_rest_processed() {
    let sample = fixture("sample/auth.log");
    let out = run(&[
        "stats",
        "--json",
        "/nonexistent/auth.log",
        sample.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/auth.log"));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["events"].as_u64().unwrap() > 0);
    assert_eq!(v["inputs"].as_array().unwrap().len(), 2);
}

#[test]
fn gzip_and_zstd_detected_by_magic_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(fixture("sample/auth.log")).unwrap();
    let gz = dir.path().join("rotated-without-suffix");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::fast(),
    );
    enc.write_all(&text).unwrap();
    enc.finish().unwrap();
    let zst = dir.path().join("other.log");
    std::fs::write(&zst, zstd::encode_all(&text[..], 3).unwrap()).unwrap();
    let plain = run(&[
        "stats",
        "--json",
        fixture("sample/auth.log").to_str().unwrap(),
    ]);
    let a: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    for p in [&gz, &zst] {
        let out = run(&["stats", "--json", p.to_str().unwrap()]);
        assert!(out.status.success());
        let b: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(a["events"], b["events"]);
        assert_eq!(a["attempts"], b["attempts"]);
    }
}

#[test]
fn rotated_directory_is_read_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let line = |d: u32, u: &str| {
        format!("Nov {d:2} 10:00:00 h sshd[{d}]: Invalid user {u} from 192.0.2.{d} port 1\n")
    };
    std::fs::write(dir.path().join("auth.log"), line(5, "newest")).unwrap();
    std::fs::write(dir.path().join("auth.log.1"), line(4, "middle")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(line(3, "oldest").as_bytes()).unwrap();
    std::fs::write(dir.path().join("auth.log.2.gz"), enc.finish().unwrap()).unwrap();
    let out = run(&["parse", "--year", "2026", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    let users: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["user"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(users, ["oldest", "middle", "newest"]);
}

#[test]
fn csv_output_has_header_and_quotes() {
    let out = run(&[
        "parse",
        "--format",
        "csv",
        "--year",
        "2026",
        fixture("sample/auth.log").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("ts,host,program,pid,kind,"));
    assert!(text.lines().count() > 2);
}

#[test]
fn closed_pipe_is_success() {
    let mut child = sshmap()
        .args([
            "parse",
            "--year",
            "2026",
            fixture("sample/auth.log").to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn global_options_before_or_after_the_subcommand() {
    let f = fixture("sample/auth.log");
    let a = run(&[
        "--year",
        "2021",
        "--tz",
        "UTC",
        "parse",
        f.to_str().unwrap(),
    ]);
    let b = run(&[
        "parse",
        f.to_str().unwrap(),
        "--year",
        "2021",
        "--tz",
        "UTC",
    ]);
    assert!(a.status.success() && b.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(String::from_utf8_lossy(&a.stdout).contains("\"ts\":\"2021-"));
}

#[test]
fn env_and_config_file_resolve_below_flags() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("sshmap.toml");
    std::fs::write(&cfg, "year = 2019\ntz = \"UTC\"\n").unwrap();
    let f = fixture("sample/auth.log");
    let first_ts = |out: std::process::Output| -> String {
        let s = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(s.lines().next().unwrap()).unwrap();
        v["ts"].as_str().unwrap()[..4].to_string()
    };
    let file_only = sshmap()
        .args([
            "parse",
            f.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(first_ts(file_only), "2019");
    let env = sshmap()
        .args(["parse", f.to_str().unwrap()])
        .env("SSHMAP_CONFIG", &cfg)
        .env("SSHMAP_YEAR", "2020")
        .output()
        .unwrap();
    assert_eq!(first_ts(env), "2020");
    let flag = sshmap()
        .args(["parse", f.to_str().unwrap(), "--year", "2022"])
        .env("SSHMAP_CONFIG", &cfg)
        .env("SSHMAP_YEAR", "2020")
        .output()
        .unwrap();
    assert_eq!(first_ts(flag), "2022");
}

#[test]
fn from_and_to_select_a_time_range() {
    let f = fixture("sample/auth.log");
    let all = run(&[
        "stats",
        "--json",
        "--year",
        "2026",
        "--tz",
        "UTC",
        f.to_str().unwrap(),
    ]);
    let part = run(&[
        "stats",
        "--json",
        "--year",
        "2026",
        "--tz",
        "UTC",
        "--from",
        "2026-11-22T06:00",
        "--to",
        "2026-11-22T12:00:00Z",
        f.to_str().unwrap(),
    ]);
    assert!(
        part.status.success(),
        "{}",
        String::from_utf8_lossy(&part.stderr)
    );
    let a: serde_json::Value = serde_json::from_slice(&all.stdout).unwrap();
    let p: serde_json::Value = serde_json::from_slice(&part.stdout).unwrap();
    assert!(p["events"].as_u64().unwrap() < a["events"].as_u64().unwrap());
    assert!(p["from"].as_str().unwrap() >= "2026-11-22T06:00:00");
    assert!(p["to"].as_str().unwrap() < "2026-11-22T12:00:00");
    let bad = run(&["stats", "--from", "soon", f.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--from"));
}

#[test]
fn host_filter_gives_the_same_answer_on_logs_and_on_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(fixture("sample/auth.log")).unwrap();
    // Every third line from a second host.
    let two: String = sample
        .lines()
        .enumerate()
        .map(|(i, l)| if i % 3 == 0 { l.replacen(" web1 ", " db2 ", 1) } else { l.to_string() } + "\n")
        .collect();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, two).unwrap();
    let db = dir.path().join("s.db");
    let (log, db) = (log.to_str().unwrap(), db.to_str().unwrap());
    let g = ["--year", "2026", "--tz", "UTC"];
    let with = |args: &[&str]| -> Vec<u8> {
        let o = run(&[&g[..], args].concat());
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    with(&["ingest", "-q", log, "--db", db]);
    for host in ["web1", "db2"] {
        let on_logs: serde_json::Value =
            serde_json::from_slice(&with(&["stats", "--json", "--host", host, log])).unwrap();
        let on_db: serde_json::Value =
            serde_json::from_slice(&with(&["stats", "--json", "--host", host, "--db", db]))
                .unwrap();
        assert!(on_logs["events"].as_u64().unwrap() > 0);
        for k in [
            "events",
            "attempts",
            "unique_ips",
            "by_kind",
            "top_ips",
            "top_users",
            "top_countries",
            "countries",
            "per_hour",
            "successful_logins",
            "from",
            "to",
        ] {
            assert_eq!(on_logs[k], on_db[k], "{host} {k}");
        }
        let events = with(&["parse", "--host", host, log]);
        assert_eq!(
            events,
            with(&["parse", "--host", host, "--db", db]),
            "{host}"
        );
        assert!(String::from_utf8(events)
            .unwrap()
            .lines()
            .all(|l| l.contains(&format!("\"host\":\"{host}\""))));
    }
}

/// `journal` runs `journalctl -o json`: here a stand-in on PATH replays a
/// recorded journal (this machine has no running journald), so the spawn, the
/// JSON envelope, byte-array messages and the forged-identifier check are real.
#[test]
fn journal_input_reads_journalctl_json() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("journalctl");
    let rec = fixture("journal/sshd.json");
    std::fs::write(
        &fake,
        format!(
            "#!/bin/sh\necho \"$@\" > {}/args\ncat {}\n",
            dir.path().display(),
            rec.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = sshmap()
        .args(["parse", "journal"])
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let evs: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = evs.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    // The `logger -t sshd` forgery (_COMM=logger) and the CRON line are not sshd.
    assert_eq!(kinds, ["invalid_user", "auth_failure", "auth_failure"]);
    assert_eq!(evs[0]["host"], "deb12");
    assert_eq!(evs[0]["ts"], "2026-11-23T07:00:01+00:00");
    assert_eq!(evs[2]["program"], "sshd-session");
    assert_eq!(evs[2]["ip"], "198.51.100.7");
    assert_eq!(evs[2]["src"]["input"], "journal");
    let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
    assert!(
        args.contains("-o json") && args.contains("_COMM=sshd-session"),
        "{args}"
    );
}

#[test]
fn missing_year_is_inferred_from_the_file_mtime() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("auth.log");
    std::fs::write(
        &p,
        "Dec 31 23:59:00 h sshd[1]: Invalid user a from 192.0.2.1 port 1\nJan  1 00:01:00 h sshd[2]: Invalid user b from 192.0.2.2 port 2\n",
    )
    .unwrap();
    let st = std::process::Command::new("touch")
        .args(["-d", "2024-01-01T12:00:00Z"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(st.success());
    let out = run(&["parse", "--tz", "UTC", p.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let ts: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["ts"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        ts,
        ["2023-12-31T23:59:00+00:00", "2024-01-01T00:01:00+00:00"]
    );
}

#[test]
fn no_input_autodetects_the_system_log() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("var/log")).unwrap();
    std::fs::write(root.path().join("var/log/secure"), "x\n").unwrap();
    std::fs::write(root.path().join("var/log/secure-20261101"), "y\n").unwrap();
    let (inputs, note) = sshmap::source::autodetect_in(root.path());
    assert_eq!(inputs.len(), 2);
    assert!(note.contains("secure"), "{note}");
    std::fs::write(root.path().join("var/log/auth.log"), "x\n").unwrap();
    let (inputs, note) = sshmap::source::autodetect_in(root.path());
    assert_eq!(
        inputs,
        vec![sshmap::source::Input::File(
            root.path().join("var/log/auth.log")
        )]
    );
    assert!(note.contains("auth.log"));
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(
        sshmap::source::autodetect_in(empty.path()).0,
        vec![sshmap::source::Input::Journal(None)]
    );
}
