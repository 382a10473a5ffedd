//! The ClickHouse store (`--db clickhouse://…`) against a real server: Debian's
//! `clickhouse-server`, started here as a plain process with its config in a
//! temp dir, on 127.0.0.1 and free ports. Skipped (with a note) when the
//! binary is missing, unless `SSHMAP_TEST_CLICKHOUSE=1` (`.ci/run`), which
//! makes a missing or failing server a failure.
//!
//! With `SSHMAP_TEST_CLICKHOUSE_MODERN=PYTHON` (a Python that has PyPI's
//! `chdb-core`), every server here is instead a modern ClickHouse engine
//! (chDB, 26.x) behind `scripts/chdb-http.py`, so the same tests run on the
//! modern layout (`DateTime64`, `LowCardinality`, `IPv6`, `TTL`); the
//! two-shard test, which needs servers that talk TCP to each other, is then
//! skipped. `.ci/run` runs the suite both ways.

use std::fs;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sshmap::event::Event;
use sshmap::store::{self, Filter, Location, Store};

use crate::util::{fixture, run};

/// The server binary: `clickhouse-server` (Debian) or `clickhouse server` (upstream single binary).
fn server_binary() -> Option<(PathBuf, Vec<&'static str>)> {
    let path = std::env::var_os("PATH")?;
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
    {
        let p = dir.join("clickhouse-server");
        if p.is_file() {
            return Some((p, vec![]));
        }
        let p = dir.join("clickhouse");
        if p.is_file() {
            return Some((p, vec!["server"]));
        }
    }
    None
}

/// `SSHMAP_TEST_CLICKHOUSE_MODERN`: the Python with `chdb-core` to serve the modern engine.
fn modern() -> Option<String> {
    std::env::var("SSHMAP_TEST_CLICKHOUSE_MODERN")
        .ok()
        .filter(|v| !v.is_empty())
}

fn required() -> bool {
    std::env::var("SSHMAP_TEST_CLICKHOUSE").is_ok_and(|v| v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running server; stopped (SIGKILL, by its id) and its files removed on drop.
pub struct Server {
    child: Child,
    pub http_port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a server, or `None` (after a note) where there is none to start.
    pub fn start(test: &str) -> Option<Server> {
        Server::start_with(test, "")
    }

    /// `extra`: more config (e.g. `<remote_servers>`).
    /// Free ports are free when asked for, not always when the server binds
    /// them (other tests start servers at once): a port taken meanwhile is retried.
    pub fn start_with(test: &str, extra: &str) -> Option<Server> {
        let mut tries = 0;
        loop {
            match Server::try_start_on(test, free_port(), free_port(), extra) {
                Ok(s) => return s,
                Err(e) if tries < 3 && e.contains("Address already in use") => tries += 1,
                Err(e) => panic!("{e}"),
            }
        }
    }

    pub fn start_on(test: &str, http_port: u16, tcp_port: u16, extra: &str) -> Option<Server> {
        Server::try_start_on(test, http_port, tcp_port, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A server, `None` where there is none to start, or why it did not start.
    fn try_start_on(
        test: &str,
        http_port: u16,
        tcp_port: u16,
        extra: &str,
    ) -> Result<Option<Server>, String> {
        if let Some(python) = modern() {
            return Server::start_chdb(&python, http_port).map(Some);
        }
        let Some((bin, pre)) = server_binary() else {
            assert!(
                !required(),
                "SSHMAP_TEST_CLICKHOUSE=1 but no clickhouse-server on PATH"
            );
            eprintln!("{test}: no clickhouse-server: skipped (apt-get install clickhouse-server; .ci/run does)");
            return Ok(None);
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        fs::write(
            dir.path().join("config.xml"),
            format!(
                r#"<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{d}/data/</path>
  <tmp_path>{d}/tmp/</tmp_path>
  <user_files_path>{d}/user_files/</user_files_path>
  <format_schema_path>{d}/format_schemas/</format_schema_path>
  <mark_cache_size>5368709</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
  {extra}
</yandex>
"#
            ),
        )
        .unwrap();
        fs::write(
            dir.path().join("users.xml"),
            r#"<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>4000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
"#,
        )
        .unwrap();
        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        let child = Command::new(bin)
            .args(pre)
            .arg(format!("--config-file={d}/config.xml"))
            .current_dir(dir.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start clickhouse-server");
        let mut s = Server {
            child,
            http_port,
            _dir: dir,
        };
        s.wait_ready()?;
        Ok(Some(s))
    }

    /// The modern engine: `scripts/chdb-http.py` on `http_port`.
    fn start_chdb(python: &str, http_port: u16) -> Result<Server, String> {
        let dir = tempfile::tempdir().unwrap();
        let log = fs::File::create(dir.path().join("server.log")).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/chdb-http.py");
        let child = Command::new(python)
            .arg(script)
            .arg(http_port.to_string())
            .arg(dir.path().join("data"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .expect("start scripts/chdb-http.py");
        let mut s = Server {
            child,
            http_port,
            _dir: dir,
        };
        s.wait_ready()?;
        Ok(s)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(r) = ureq::get(&format!("http://127.0.0.1:{}/ping", self.http_port)).call() {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if let Some(st) = self.child.try_wait().unwrap() {
                return Err(format!(
                    "the ClickHouse server exited ({st}): {}",
                    fs::read_to_string(self._dir.path().join("server.log")).unwrap_or_default()
                ));
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the ClickHouse server did not answer within 60 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, db: &str) -> String {
        format!("clickhouse://127.0.0.1:{}/{db}", self.http_port)
    }

    /// Runs SQL over HTTP; the response text.
    pub fn query(&self, sql: &str) -> String {
        let mut r = ureq::post(&format!("http://127.0.0.1:{}/", self.http_port))
            .send(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        r.body_mut().read_to_string().unwrap()
    }
}

fn sample() -> String {
    fs::read_to_string(fixture("sample/auth.log")).expect("sample log")
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "sshmap failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn ingest(db: &str, log: &Path) -> Output {
    ok(run(&[
        "ingest",
        "--tz",
        "UTC",
        "--db",
        db,
        log.to_str().unwrap(),
    ]))
}

fn stats(args: &[&str]) -> serde_json::Value {
    let mut a = vec!["stats", "--json", "--tz", "UTC"];
    a.extend_from_slice(args);
    serde_json::from_slice(&ok(run(&a)).stdout).expect("json")
}

fn scan(s: &mut Box<dyn Store>, f: &Filter) -> Vec<Event> {
    let mut v = Vec::new();
    s.scan(f, &mut |e| v.push(e)).unwrap();
    v
}

fn open(db: &str) -> Box<dyn Store> {
    store::open(&Location::parse(Some(db)).unwrap()).expect("open")
}

/// The sample, split after `n` lines.
fn split(text: &str, n: usize) -> (String, String) {
    let mut a = String::new();
    let mut b = String::new();
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i < n {
            a.push_str(l)
        } else {
            b.push_str(l)
        }
    }
    (a, b)
}

fn append(path: &Path, text: &str) {
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

#[test]
fn clickhouse_answers_every_query_as_sqlite_and_stats_as_the_logs() {
    let Some(srv) = Server::start("clickhouse_answers_every_query_as_sqlite") else {
        return;
    };
    let ch = srv.url("diff");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let (a, b) = split(&sample(), 600);
    fs::write(&log, &a).unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    // Appended lines replace the provisional events at the end (tombstones in ClickHouse).
    append(&log, &b);
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
        let again = ingest(db, &log);
        assert!(
            String::from_utf8_lossy(&again.stderr).contains("+0 events"),
            "{again:?}"
        );
    }
    let mut s1 = open(lite);
    let mut s2 = open(&ch);
    assert_eq!(s2.backend(), "clickhouse");
    let all = Filter::default();
    let evs = scan(&mut s1, &all);
    assert_eq!(evs.len(), 898);
    assert_eq!(scan(&mut s2, &all), evs);
    let mid = evs[evs.len() / 2].ts.micros;
    let f = Filter {
        from: Some(mid),
        to: Some(mid + 3_600_000_000),
        host: Some("web1".into()),
    };
    assert!(!scan(&mut s1, &f).is_empty());
    assert_eq!(scan(&mut s2, &f), scan(&mut s1, &f));
    assert_eq!(
        s2.minute_country(0, i64::MAX).unwrap(),
        s1.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(
        s2.hour_ip(0, i64::MAX).unwrap(),
        s1.hour_ip(0, i64::MAX).unwrap()
    );
    assert_eq!(s2.sessions(&all).unwrap(), s1.sessions(&all).unwrap());
    assert_eq!(s2.sessions(&f).unwrap(), s1.sessions(&f).unwrap());
    assert_eq!(s2.logins(0, i64::MAX).unwrap().len(), {
        let mut l = s1.logins(0, i64::MAX).unwrap();
        l.sort();
        l.dedup();
        l.len()
    });
    let strip = |v: Vec<store::Checkpoint>| v.into_iter().map(|c| c.report()).collect::<Vec<_>>();
    assert_eq!(
        strip(s2.checkpoints().unwrap()),
        strip(s1.checkpoints().unwrap())
    );
    // The views: stats --json and parse --db from ClickHouse equal the logs'.
    assert_eq!(stats(&["--db", &ch]), stats(&[log.to_str().unwrap()]));
    assert_eq!(stats(&["--db", &ch]), stats(&["--db", lite]));
    let parse = |args: &[&str]| {
        let mut a = vec!["parse", "--tz", "UTC"];
        a.extend_from_slice(args);
        ok(run(&a)).stdout
    };
    assert_eq!(parse(&["--db", &ch]), parse(&[log.to_str().unwrap()]));
    assert_eq!(s2.prune(mid).unwrap(), s1.prune(mid).unwrap());
    assert_eq!(s2.count().unwrap(), s1.count().unwrap());
}

/// `--keep`: final raw events before the cut go (as in SQLite), the rollups and sessions stay.
#[test]
fn clickhouse_retention_prunes_like_sqlite_and_keeps_rollups_and_sessions() {
    let Some(srv) = Server::start("clickhouse_retention") else {
        return;
    };
    let ch = srv.url("keep");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    crate::store::big_log(&log, 30);
    let text = fs::read_to_string(&log).unwrap();
    let (a, b) = split(&text, 20_000);
    fs::write(&log, &a).unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    let mut s1 = open(lite);
    let mut s2 = open(&ch);
    let all = Filter::default();
    let total = s2.count().unwrap();
    let rollups = s2.minute_country(0, i64::MAX).unwrap();
    let hours = s2.hour_ip(0, i64::MAX).unwrap();
    let sessions = s2.sessions(&all).unwrap();
    assert_eq!(rollups, s1.minute_country(0, i64::MAX).unwrap());
    // The log is dated in the past: a 1-hour retention keeps only the provisional tail.
    for db in [lite, ch.as_str()] {
        ok(run(&[
            "ingest",
            "--tz",
            "UTC",
            "--db",
            db,
            "--keep",
            "1h",
            log.to_str().unwrap(),
        ]));
    }
    let kept = s2.count().unwrap();
    assert!(kept > 0 && kept + 1000 < total, "{kept} of {total}");
    assert_eq!(kept, s1.count().unwrap());
    assert_eq!(scan(&mut s2, &all), scan(&mut s1, &all));
    assert_eq!(s2.minute_country(0, i64::MAX).unwrap(), rollups);
    assert_eq!(s2.hour_ip(0, i64::MAX).unwrap(), hours);
    assert_eq!(s2.sessions(&all).unwrap(), sessions);
    // More lines: the provisional tail is replaced, nothing is counted twice.
    append(&log, &b);
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    assert_eq!(scan(&mut s2, &all), scan(&mut s1, &all));
    assert_eq!(
        s2.minute_country(0, i64::MAX).unwrap(),
        s1.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(
        s2.hour_ip(0, i64::MAX).unwrap(),
        s1.hour_ip(0, i64::MAX).unwrap()
    );
    assert_eq!(s2.sessions(&all).unwrap(), s1.sessions(&all).unwrap());
}

impl Server {
    /// The highest committed checkpoint version in `db`, 0 before there is one.
    fn version(&self, db: &str) -> i64 {
        let r = ureq::post(&format!("http://127.0.0.1:{}/", self.http_port))
            .send(format!("SELECT max(version) FROM {db}.inputs FINAL"));
        match r {
            Ok(mut r) if r.status() == 200 => r
                .body_mut()
                .read_to_string()
                .unwrap_or_default()
                .trim()
                .parse()
                .unwrap_or(0),
            _ => 0,
        }
    }
}

/// Everything a reader of `db` sees, compared with a clean SQLite ingest of the same log.
fn assert_same_as(ch: &str, lite: &str) {
    let mut s1 = open(lite);
    let mut s2 = open(ch);
    let all = Filter::default();
    let got = scan(&mut s2, &all);
    let want = scan(&mut s1, &all);
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the resumed store differs from a clean run");
    assert_eq!(s2.count().unwrap(), want.len() as u64);
    assert_eq!(
        s2.minute_country(0, i64::MAX).unwrap(),
        s1.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(
        s2.hour_ip(0, i64::MAX).unwrap(),
        s1.hour_ip(0, i64::MAX).unwrap()
    );
    assert_eq!(s2.sessions(&all).unwrap(), s1.sessions(&all).unwrap());
    assert_eq!(stats(&["--db", ch]), stats(&["--db", lite]));
}

/// What a store shows between a kill and the next run: whole commits only
/// (the rollups count exactly the events a scan gives).
fn assert_consistent(ch: &str) -> usize {
    let mut s = open(ch);
    let evs = scan(&mut s, &Filter::default());
    assert_eq!(s.count().unwrap(), evs.len() as u64);
    let rolled: i64 = s
        .minute_country(0, i64::MAX)
        .unwrap()
        .iter()
        .map(|r| r.events)
        .sum();
    assert_eq!(
        rolled,
        evs.len() as i64,
        "the rollups count a half-written commit"
    );
    evs.len()
}

/// The worst moment, deterministically: the process dies after a commit's
/// events are in and before its checkpoint. Readers ignore those rows; the
/// next run writes the commit again, and nothing is lost or doubled.
#[test]
fn clickhouse_death_between_events_and_checkpoint_loses_and_doubles_nothing() {
    let Some(srv) = Server::start("clickhouse_death_between_events_and_checkpoint") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    crate::store::big_log(&log, 120); // ~13 MB: two commits
    let lite = dir.path().join("clean.db");
    let lite = lite.to_str().unwrap();
    ingest(lite, &log);
    for (round, at) in ["1", "2"].into_iter().enumerate() {
        let ch = srv.url(&format!("abort{round}"));
        let out = crate::util::sshmap()
            .args([
                "ingest",
                "-q",
                "--tz",
                "UTC",
                "--db",
                &ch,
                log.to_str().unwrap(),
            ])
            .env("SSHMAP_TEST_CLICKHOUSE_ABORT", at)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the ingest was to abort at commit {at}"
        );
        let seen = assert_consistent(&ch);
        if at == "1" {
            assert_eq!(seen, 0, "the aborted first commit is visible");
        } else {
            assert!(seen > 0);
        }
        // A second abort of the retried commit: two aborted attempts of one version.
        if at == "1" {
            let out = crate::util::sshmap()
                .args([
                    "ingest",
                    "-q",
                    "--tz",
                    "UTC",
                    "--db",
                    &ch,
                    log.to_str().unwrap(),
                ])
                .env("SSHMAP_TEST_CLICKHOUSE_ABORT", "1")
                .output()
                .unwrap();
            assert!(!out.status.success());
            assert_eq!(assert_consistent(&ch), 0);
        }
        ingest(&ch, &log);
        assert_same_as(&ch, lite);
    }
}

/// The same SIGKILL loop as SQLite's and PostgreSQL's (tests/integration/store.rs).
#[test]
fn clickhouse_sigkill_in_the_middle_of_a_large_file_then_ingest_again_equals_a_clean_run() {
    let Some(srv) = Server::start("clickhouse_sigkill") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    crate::store::big_log(&log, 300); // ~33 MB, ~300k lines: several commits
    let lite = dir.path().join("clean.db");
    let lite = lite.to_str().unwrap();
    ingest(lite, &log);
    for (round, delay_ms) in [0u64, 150, 400].into_iter().enumerate() {
        let name = format!("killed{round}");
        let ch = srv.url(&name);
        let mut child = crate::util::sshmap()
            .args([
                "ingest",
                "-q",
                "--tz",
                "UTC",
                "--db",
                &ch,
                log.to_str().unwrap(),
            ])
            .spawn()
            .unwrap();
        let start = Instant::now();
        while srv.version(&name) < 1 {
            assert!(start.elapsed() < Duration::from_secs(120), "no commit seen");
            assert!(
                child.try_wait().unwrap().is_none(),
                "ingest finished before it could be killed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "ingest finished before it could be killed"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let partial = assert_consistent(&ch);
        assert!(
            partial < 300 * 898,
            "the kill came too late to test anything"
        );
        ingest(&ch, &log);
        assert_same_as(&ch, lite);
    }
}

/// Live fan-out without LISTEN/NOTIFY: two `serve` instances on one ClickHouse
/// each show the other's events (polled), once.
#[test]
fn two_serve_instances_on_one_clickhouse_each_show_all_events() {
    use crate::serve::{cfg, http, line, read_sse, TOKEN};
    use sshmap::serve::ServeConfig;
    let Some(srv) = Server::start("two_serve_instances_on_one_clickhouse") else {
        return;
    };
    let url = srv.url("fanout");
    let a = crate::serve::Server::start(ServeConfig {
        db: Some(url.clone()),
        instance: "a".into(),
        ..cfg()
    });
    let b = crate::serve::Server::start(ServeConfig {
        db: Some(url),
        instance: "b".into(),
        ..cfg()
    });
    let (mut sa, _) = a.stream();
    let (mut sb, _) = b.stream();
    for (s, ip) in [(&a, "203.0.113.60"), (&b, "203.0.113.61")] {
        let body = line(
            60,
            &format!("Failed password for root from {ip} port 1 ssh2"),
        );
        let resp = http(
            s.addr,
            "POST",
            "/api/ingest",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            body.as_bytes(),
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
    let both = |t: &str| t.contains("203.0.113.60") && t.contains("203.0.113.61");
    let got_a = read_sse(&mut sa, both, Duration::from_secs(10));
    let got_b = read_sse(&mut sb, both, Duration::from_secs(10));
    assert!(
        got_a.contains("203.0.113.61"),
        "A did not get B's event: {got_a}"
    );
    assert!(
        got_b.contains("203.0.113.60"),
        "B did not get A's event: {got_b}"
    );
    // Later polls do not show an event again.
    std::thread::sleep(Duration::from_millis(2500));
    let more_a = read_sse(&mut sa, |_| false, Duration::from_millis(500));
    let all_a = format!("{got_a}{more_a}");
    assert_eq!(
        all_a.matches("203.0.113.60").count(),
        1,
        "shown twice: {all_a}"
    );
    assert_eq!(
        all_a.matches("203.0.113.61").count(),
        1,
        "shown twice: {all_a}"
    );
    a.stop();
    b.stop();
}

/// A cluster: two server processes as two shards, events and rollups in
/// `Distributed` tables, written and read through sshmap; every view equals SQLite's.
#[test]
fn two_shard_cluster_answers_as_sqlite() {
    let ports: Vec<(u16, u16)> = (0..2).map(|_| (free_port(), free_port())).collect();
    let shards: String = ports
        .iter()
        .map(|(_, tcp)| {
            format!("<shard><replica><host>127.0.0.1</host><port>{tcp}</port></replica></shard>")
        })
        .collect();
    let extra = format!("<remote_servers><fleet>{shards}</fleet></remote_servers>");
    if modern().is_some() {
        eprintln!("two_shard_cluster: the modern engine has no TCP port between servers: skipped");
        return;
    }
    let Some(s1) = Server::start_on("two_shard_cluster", ports[0].0, ports[0].1, &extra) else {
        return;
    };
    let s2 = Server::start_on("two_shard_cluster", ports[1].0, ports[1].1, &extra).unwrap();
    let ch = format!(
        "clickhouse://127.0.0.1:{}/fleet?cluster=fleet&nodes=127.0.0.1:{},127.0.0.1:{}",
        s1.http_port, s1.http_port, s2.http_port
    );
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let (a, b) = split(&sample(), 600);
    fs::write(&log, &a).unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    append(&log, &b);
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    // Both shards hold events.
    for s in [&s1, &s2] {
        let n: u64 = s
            .query("SELECT count() FROM fleet.events_local")
            .trim()
            .parse()
            .unwrap();
        assert!(n > 100, "a shard holds {n} rows");
    }
    let mut c = open(&ch);
    let mut l = open(lite);
    let all = Filter::default();
    assert_eq!(scan(&mut c, &all), scan(&mut l, &all));
    assert_eq!(
        c.minute_country(0, i64::MAX).unwrap(),
        l.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(
        c.hour_ip(0, i64::MAX).unwrap(),
        l.hour_ip(0, i64::MAX).unwrap()
    );
    assert_eq!(c.sessions(&all).unwrap(), l.sessions(&all).unwrap());
    assert_eq!(stats(&["--db", &ch]), stats(&[log.to_str().unwrap()]));
    let mid = scan(&mut l, &all)[400].ts.micros;
    assert_eq!(c.prune(mid).unwrap(), l.prune(mid).unwrap());
    assert_eq!(c.count().unwrap(), l.count().unwrap());
}

/// The flow's differential test (tests/integration/flow.rs) on ClickHouse:
/// a generated hostile log ingested in appended chunks across a rotation, then
/// `parse --db clickhouse://…`, gives the events `parse` gives on the files.
#[test]
fn flow_ingest_in_chunks_then_parse_db_on_clickhouse_equals_parse() {
    use proptest::test_runner::{Config, TestRunner};
    let Some(srv) = Server::start("flow_ingest_in_chunks_then_parse_db_on_clickhouse") else {
        return;
    };
    let n = std::sync::atomic::AtomicUsize::new(0);
    let mut runner = TestRunner::new(Config {
        cases: crate::flow::cases(),
        max_shrink_iters: 16,
        ..Config::default()
    });
    runner
        .run(&crate::flow::log(), |log| {
            let k = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let db = srv.url(&format!("flow{k}"));
            let dir = tempfile::tempdir().unwrap();
            let (a, b) = crate::flow::lines_of(&log, crate::flow::now_secs() - 3600);
            let (parsed, stored) = crate::flow::batch_paths(dir.path(), &a, &b, Some(&db));
            proptest::prop_assert_eq!(
                crate::flow::sorted(stored),
                crate::flow::sorted(parsed),
                "ingest into ClickHouse (chunks, rotation) then parse --db"
            );
            Ok(())
        })
        .unwrap();
}

/// Bad `--db` values and an unreachable server: a clear error, no panic (no server needed).
#[test]
fn clickhouse_bad_url_or_no_server_is_a_clear_error() {
    let port = free_port(); // nothing listens there
    let url = format!("clickhouse://u:secret@127.0.0.1:{port}/db");
    let out = run(&["stats", "--db", &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("cannot reach ClickHouse"), "{err}");
    assert!(
        !err.contains("secret") && !err.contains("panicked"),
        "{err}"
    );
    for bad in [
        "clickhouse://h/db;DROP TABLE x",
        "clickhouse:///db",
        "clickhouse://h/db?cluster=c",
        "clickhouse://h/db?what=1",
    ] {
        let out = run(&["stats", "--db", bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(err.contains("unsupported URL"), "{bad}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Many collectors at once: three processes ingest three different logs into
/// one ClickHouse at the same time; the store equals SQLite's of the three.
#[test]
fn clickhouse_three_collectors_at_once_equal_sqlite() {
    let Some(srv) = Server::start("clickhouse_three_collectors_at_once") else {
        return;
    };
    let ch = srv.url("collectors");
    let dir = tempfile::tempdir().unwrap();
    let text = sample();
    let logs: Vec<PathBuf> = (0..3)
        .map(|k| {
            let p = dir.path().join(format!("host{k}.log"));
            // Each collector's own host name: three inputs.
            fs::write(&p, text.replace(" web1 ", &format!(" web1-{k} "))).unwrap();
            p
        })
        .collect();
    let kids: Vec<_> = logs
        .iter()
        .map(|p| {
            crate::util::sshmap()
                .args([
                    "ingest",
                    "-q",
                    "--tz",
                    "UTC",
                    "--db",
                    &ch,
                    p.to_str().unwrap(),
                ])
                .spawn()
                .unwrap()
        })
        .collect();
    for mut k in kids {
        assert!(k.wait().unwrap().success());
    }
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    for p in &logs {
        ingest(lite, p);
    }
    let mut c = open(&ch);
    let mut l = open(lite);
    let all = Filter::default();
    let (mut got, mut want) = (scan(&mut c, &all), scan(&mut l, &all));
    assert_eq!(got.len(), 3 * 898);
    // Inputs are numbered in the order they were claimed, which the race decides.
    let key = |e: &Event| (e.src.input.to_string(), e.src.line);
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert!(got == want);
    assert_eq!(
        c.minute_country(0, i64::MAX).unwrap(),
        l.minute_country(0, i64::MAX).unwrap()
    );
    assert_eq!(c.sessions(&all).unwrap(), l.sessions(&all).unwrap());
    assert_eq!(c.checkpoints().unwrap().len(), 3);
}

/// Every other view answers from ClickHouse as from SQLite: the map, the
/// charts (from the rollups and from raw events) and the report, byte for byte.
#[test]
fn maps_charts_and_the_report_from_clickhouse_equal_sqlite() {
    let Some(srv) = Server::start("maps_charts_and_the_report_from_clickhouse") else {
        return;
    };
    let ch = srv.url("views");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    fs::write(&log, sample()).unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    let views: &[&[&str]] = &[
        &["map", "--tz", "UTC"],
        &["map", "--tz", "UTC", "--points", "--home", "48.85,2.35"],
        &["chart", "--tz", "UTC", "--by", "country"],
        &["chart", "--tz", "UTC", "--by", "hour"],
        &["chart", "--tz", "UTC", "--by", "ip"],
        &["chart", "--tz", "UTC", "--by", "user"],
        &["report", "--tz", "UTC"],
    ];
    for (k, view) in views.iter().enumerate() {
        let ext = if view[0] == "report" { "html" } else { "svg" };
        let mut outs = Vec::new();
        for (name, db) in [("lite", lite), ("ch", ch.as_str())] {
            let out = dir.path().join(format!("{k}-{name}.{ext}"));
            let mut args = view.to_vec();
            args.extend(["--db", db, "-o", out.to_str().unwrap()]);
            ok(run(&args));
            outs.push(fs::read(&out).unwrap());
        }
        assert!(outs[0].len() > 1000, "{view:?}");
        assert!(
            outs[0] == outs[1],
            "{view:?}: ClickHouse differs from SQLite"
        );
    }
}

/// Issue 14: a honeypot's passwords and commands are stored in ClickHouse as
/// in SQLite, and the events of a version-1 database (before those columns)
/// get them on open: old events read back without them, new ones with them.
#[test]
fn clickhouse_keeps_cowrie_passwords_and_commands_and_migrates_version_1() {
    let Some(srv) = Server::start("clickhouse_keeps_cowrie") else {
        return;
    };
    let ch = srv.url("cowrie");
    let dir = tempfile::tempdir().unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    let log = fixture("cowrie/cowrie.json");
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    assert_same_as(&ch, lite);
    let evs = scan(&mut open(&ch), &Filter::default());
    let details = |evs: &[Event]| -> Vec<(u64, Option<String>, Option<String>)> {
        evs.iter()
            .filter(|e| e.honeypot.is_some())
            .map(|e| {
                let p = e.password().map(str::to_string);
                (e.src.line, p, e.command().map(str::to_string))
            })
            .collect()
    };
    let want = details(&evs);
    assert_eq!(want.iter().filter(|d| d.2.is_some()).count(), 6);
    assert_eq!(want.iter().filter(|d| d.1.is_some()).count(), 12);
    // Back to version 1: no such columns, schema version 1.
    srv.query("ALTER TABLE cowrie.events DROP COLUMN password, DROP COLUMN command");
    srv.query("DROP TABLE cowrie.sshmap_schema");
    srv.query("CREATE TABLE cowrie.sshmap_schema (version Int64) ENGINE = TinyLog");
    srv.query("INSERT INTO cowrie.sshmap_schema (version) VALUES (1)");
    let old = scan(&mut open(&ch), &Filter::default());
    assert_eq!(old.len(), evs.len());
    assert!(details(&old).is_empty());
    let copy = dir.path().join("cowrie-2.json");
    let text = fs::read_to_string(&log).unwrap();
    fs::write(&copy, text.replace("\"vm\"", "\"vm2\"")).unwrap();
    ingest(&ch, &copy);
    let new: Vec<Event> = scan(&mut open(&ch), &Filter::default())
        .into_iter()
        .filter(|e| e.host.as_deref() == Some("vm2"))
        .collect();
    assert_eq!(details(&new), want);
}

/// The DDL branches on `version()`: a server ≥ 23 creates `DateTime64`,
/// `LowCardinality` and `IPv6` columns, 18.16 the `Int64`/`String` ones; the
/// layout read is what the tables have, so a database made by an old server
/// keeps working on a new one. Both answer `stats` as the log does.
#[test]
fn clickhouse_layout_follows_the_server_version_and_an_old_database_stays_readable() {
    use sshmap::store::clickhouse::{ddl_for, ClickHouseStore};
    let Some(srv) = Server::start("clickhouse_layout") else {
        return;
    };
    let version = srv.query("SELECT version()");
    let major: u32 = version.split('.').next().unwrap().trim().parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    fs::write(&log, sample()).unwrap();
    let want = stats(&[log.to_str().unwrap()]);
    let types = |db: &str| -> String {
        srv.query(&format!(
            "SELECT table, name, type FROM system.columns WHERE database = '{db}' \
             AND name IN ('ts', 'ip', 'kind', 'username') AND table IN ('events', 'rollup_hour_ip') \
             ORDER BY table, name"
        ))
    };
    let fresh = srv.url("fresh");
    let store = ClickHouseStore::connect(&fresh).unwrap();
    assert_eq!(store.modern(), major >= 23, "server {version}");
    drop(store);
    if major >= 23 {
        assert_eq!(
            types("fresh"),
            "events\tip\tNullable(IPv6)\nevents\tkind\tLowCardinality(String)\n\
             events\tts\tDateTime64(6, \\'UTC\\')\nevents\tusername\tLowCardinality(Nullable(String))\n\
             rollup_hour_ip\tip\tIPv6\n"
        );
    } else {
        assert_eq!(
            types("fresh"),
            "events\tip\tString\nevents\tkind\tString\nevents\tts\tInt64\n\
             events\tusername\tNullable(String)\nrollup_hour_ip\tip\tString\n"
        );
    }
    ingest(&fresh, &log);
    assert_eq!(stats(&["--db", &fresh]), want);
    // A database an 18.16 server made (its DDL by hand here), opened by this server.
    srv.query("CREATE DATABASE old");
    let (core, data) = ddl_for((18, 16));
    for sql in core.iter().chain(data) {
        let sql = sql
            .replace("{ev}", "events")
            .replace("{rm}", "rollup_minute")
            .replace("{rh}", "rollup_hour_ip")
            .replace("IF NOT EXISTS ", "IF NOT EXISTS old.")
            .replace(" TO rollup", " TO old.rollup")
            .replace("FROM events", "FROM old.events");
        srv.query(&sql);
    }
    let old = srv.url("old");
    assert!(!ClickHouseStore::connect(&old).unwrap().modern());
    assert!(types("old").contains("events\tts\tInt64\n"));
    ingest(&old, &log);
    assert_eq!(stats(&["--db", &old]), want);
    let mut o = open(&old);
    let mut f = open(&fresh);
    let all = Filter::default();
    assert_eq!(scan(&mut o, &all), scan(&mut f, &all));
    let hours = f.hour_ip(0, i64::MAX).unwrap();
    assert_eq!(o.hour_ip(0, i64::MAX).unwrap(), hours);
    // One address's history, from the hourly rollup's key, on both layouts: an
    // IPv4 and an IPv6 address of the sample, one never seen, and attacker text.
    drop((o, f));
    for db in [&fresh, &old] {
        let mut c = ClickHouseStore::connect(db).unwrap();
        for ip in ["218.92.0.112", "2001:da8:8000:6fc0::12"] {
            let want: Vec<_> = hours.iter().filter(|h| h.ip == ip).cloned().collect();
            assert!(!want.is_empty(), "{ip} is in the sample");
            assert_eq!(c.ip_history(ip).unwrap(), want, "{db} {ip}");
        }
        for ip in ["192.0.2.77", "' OR 1=1 --", "", "::ffff:zz"] {
            assert_eq!(c.ip_history(ip).unwrap(), vec![], "{db} {ip:?}");
        }
    }
}

/// `--keep` as a TTL (modern servers): the TTL alone, applied by the server's
/// own merge, removes what `prune` removes in SQLite (the provisional tail and
/// open sessions stay), and the rollups and sessions keep their counts. 18.16
/// has no TTL: asking for one is a clear error.
#[test]
fn clickhouse_ttl_alone_expires_what_sqlite_prunes_and_keeps_the_rollups() {
    use sshmap::store::clickhouse::ClickHouseStore;
    let Some(srv) = Server::start("clickhouse_ttl") else {
        return;
    };
    let ch = srv.url("ttl");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    // Copies of the sample (the same times), as in the retention test: most of it final.
    crate::store::big_log(&log, 30);
    let (a, _) = split(&fs::read_to_string(&log).unwrap(), 20_000);
    fs::write(&log, &a).unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap();
    for db in [lite, ch.as_str()] {
        ingest(db, &log);
    }
    let mut c = ClickHouseStore::connect(&ch).unwrap();
    let all = Filter::default();
    if !c.modern() {
        let e = c.retain(0).unwrap_err().to_string();
        assert!(
            e.contains("TTL needs a database created by ClickHouse 23"),
            "{e}"
        );
        assert!(!srv.query("SHOW CREATE TABLE ttl.events").contains("TTL"));
        return;
    }
    let mut l = open(lite);
    // The cut: the middle of the widest gap between events in the middle half
    // of the log, so the TTL's whole seconds and the seconds this test takes
    // cannot move an event across it.
    let mut ts: Vec<i64> = scan(&mut l, &all).iter().map(|e| e.ts.micros).collect();
    ts.sort_unstable();
    ts.dedup();
    let n = ts.len();
    let (gap, at) = (n / 4..3 * n / 4)
        .map(|k| (ts[k + 1] - ts[k], k))
        .max()
        .unwrap();
    assert!(gap >= 60_000_000, "the sample's widest gap is {gap} µs");
    let before = ts[at] + gap / 2;
    let rollups = c.minute_country(0, i64::MAX).unwrap();
    let hours = c.hour_ip(0, i64::MAX).unwrap();
    let sessions = c.sessions(&all).unwrap();
    let total = c.count().unwrap();
    c.retain(before).unwrap();
    assert!(srv
        .query("SHOW CREATE TABLE ttl.events")
        .contains("TTL toDateTime(ts)"));
    // Metadata only: nothing is gone before a merge.
    assert_eq!(c.count().unwrap(), total);
    srv.query("OPTIMIZE TABLE ttl.events FINAL");
    let pruned = l.prune(before).unwrap();
    assert!(pruned > 1000, "SQLite pruned {pruned}");
    assert_eq!(c.count().unwrap(), total - pruned);
    let mut c: Box<dyn Store> = Box::new(c);
    assert_eq!(scan(&mut c, &all), scan(&mut l, &all));
    assert_eq!(c.minute_country(0, i64::MAX).unwrap(), rollups);
    assert_eq!(c.hour_ip(0, i64::MAX).unwrap(), hours);
    assert_eq!(c.sessions(&all).unwrap(), sessions);
    assert_eq!(l.minute_country(0, i64::MAX).unwrap(), rollups);
}

/// Failed passwords from `ips` (address, count) on `day` of November, one a minute from `hour`.
fn attempts_log(day: u32, hour: u32, ips: &[(&str, u32)]) -> String {
    let mut s = String::new();
    let mut m = 0;
    for (ip, n) in ips {
        for _ in 0..*n {
            s += &format!(
                "Nov {day:2} {:02}:{:02}:07 web1 sshd[{}]: Failed password for root from {ip} port 4242 ssh2\n",
                hour + m / 60,
                m % 60,
                3000 + m
            );
            m += 1;
        }
    }
    s
}

/// Per store: `top_ips` and `attempt_span` over `ranges` checked against the
/// full rollups, and their answers as text (for comparing the stores).
fn rollup_answers(dbs: &[String], ranges: &[(i64, i64)]) -> Vec<Vec<String>> {
    let mut answers = Vec::new();
    for db in dbs {
        let mut st = open(db);
        let mut per_db = Vec::new();
        for &(from, to) in ranges {
            let mut full = std::collections::HashMap::<String, u64>::new();
            for r in st.hour_ip(from, to).unwrap() {
                if r.attempts > 0 {
                    *full.entry(r.ip).or_default() += r.attempts as u64;
                }
            }
            for n in [1, 2, 3, 4, 5, 100] {
                let want = store::TopIps::cut(full.clone().into_iter().collect(), n);
                let got = st.top_ips(from, to, n).unwrap();
                assert_eq!(got, want, "{db} top {n} of {from}..{to}");
                per_db.push(format!("{got:?}"));
            }
            let mut want = store::AttemptSpan::default();
            for r in st.minute_country(from, to).unwrap() {
                if r.attempts > 0 {
                    want.first.get_or_insert(r.minute);
                    want.last = Some(r.minute);
                    want.attempts += r.attempts as u64;
                }
            }
            let got = st.attempt_span(from, to).unwrap();
            assert_eq!(got, want, "{db} span of {from}..{to}");
            per_db.push(format!("{got:?}"));
        }
        answers.push(per_db);
    }
    answers
}

/// `chart --by ip` from every store is byte for byte the first's.
fn same_ip_charts(dir: &Path, dbs: &[String], tag: &str) {
    for top in ["1", "2", "10"] {
        let mut outs = Vec::new();
        for db in dbs {
            let out = dir.join(format!("ip-{tag}-{top}-{}.svg", outs.len()));
            ok(run(&[
                "chart",
                "--tz",
                "UTC",
                "--by",
                "ip",
                "--top",
                top,
                "--db",
                db,
                "-o",
                out.to_str().unwrap(),
            ]));
            outs.push(fs::read(&out).unwrap());
        }
        for (db, o) in dbs.iter().zip(&outs) {
            assert!(
                o == &outs[0],
                "{tag}: chart --top {top}: {db} differs from SQLite"
            );
        }
    }
}

/// `chart --by ip` asks the store only for the total, the span and the top
/// addresses (`attempt_span`, `top_ips`): on every back end those equal what
/// the full rollups give (`minute_country`, `hour_ip`), with ties at the cut,
/// several days and several inputs, and the charts stay byte for byte the same.
#[test]
fn top_ips_and_attempt_span_equal_the_full_rollups_on_every_back_end() {
    let Some(srv) = Server::start("top_ips_and_attempt_span") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Three addresses tie at 4 across two inputs and three days; one address is in both inputs.
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.log");
    fs::write(
        &a,
        attempts_log(20, 23, &[("198.51.100.9", 2), ("203.0.113.5", 4)])
            + &attempts_log(21, 0, &[("192.0.2.77", 1), ("198.51.100.20", 3)]),
    )
    .unwrap();
    fs::write(
        &b,
        attempts_log(21, 5, &[("198.51.100.9", 2), ("192.0.2.1", 4)])
            + &attempts_log(22, 12, &[("198.51.100.20", 1), ("10.9.8.7", 1)]),
    )
    .unwrap();
    let lite = dir.path().join("s.db");
    let lite = lite.to_str().unwrap().to_string();
    let ch = srv.url("topips");
    let mut dbs = vec![lite.clone(), ch.clone()];
    let pg = std::env::var("SSHMAP_TEST_PG")
        .ok()
        .filter(|s| !s.is_empty());
    let _guard = pg.as_ref().map(|_| {
        crate::store::PG_LOCK
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    });
    if let Some(url) = &pg {
        let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
        c.batch_execute(
            "DROP TABLE IF EXISTS events, rollup_minute, rollup_hour_ip, sessions, session_keys, inputs, sshmap_schema CASCADE",
        )
        .unwrap();
        dbs.push(url.clone());
    }
    for db in &dbs {
        ingest(db, &a);
        ingest(db, &b);
    }
    let first = open(&lite)
        .attempt_span(i64::MIN, i64::MAX)
        .unwrap()
        .first
        .unwrap();
    let day = |d: i64| first.div_euclid(86_400) * 86_400 + d * 86_400; // d days after Nov 20
    let ranges = [(i64::MIN, i64::MAX), (day(1), day(2)), (day(3), day(4))];
    let answers = rollup_answers(&dbs, &ranges);
    // The whole store: 18 attempts, the top 2 cut inside a four-way tie at 4 (text order decides).
    let whole = open(&lite).top_ips(i64::MIN, i64::MAX, 2).unwrap();
    assert_eq!(whole.attempts, 18);
    let names: Vec<&str> = whole.ips.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(
        names,
        ["192.0.2.1", "198.51.100.20", "198.51.100.9", "203.0.113.5"],
        "every address tied with the 2nd, in text order"
    );
    let day2 = open(&lite).attempt_span(day(1), day(2)).unwrap();
    assert_eq!(day2.attempts, 10, "{day2:?}");
    for (db, got) in dbs.iter().zip(&answers) {
        assert_eq!(got, &answers[0], "{db} answers as SQLite");
    }
    same_ip_charts(dir.path(), &dbs, "ties");
    // A third input ingested in two parts: the second ingest replaces the
    // provisional events at the end of the first (rollup rows that subtract).
    let (first_part, rest) = split(&sample(), 40);
    let c = dir.path().join("c.log");
    fs::write(&c, &first_part).unwrap();
    for db in &dbs {
        ingest(db, &c);
    }
    append(&c, &rest);
    for db in &dbs {
        ingest(db, &c);
    }
    let answers = rollup_answers(&dbs, &[(i64::MIN, i64::MAX), (day(2), day(3))]);
    for (db, got) in dbs.iter().zip(&answers) {
        assert_eq!(
            got, &answers[0],
            "{db} answers as SQLite after the second part"
        );
    }
    same_ip_charts(dir.path(), &dbs, "parts");
}
