//! Intrusion alerts that need history from the store: a login from a country
//! a user never logged in from before, with the earlier logins stored weeks
//! ago (outside the live window), read back through `Store::logins`.

use std::time::Duration;

use super::serve::{http, read_sse, Server};
use super::util::run;
use sshmap::serve::ServeConfig;
use sshmap::store::{self, Location};

/// An RFC 3339 syslog line `days` ago.
fn line_days_ago(days: i64, pid: u32, msg: &str) -> String {
    let t = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * days);
    format!(
        "{} web1 sshd[{pid}]: {msg}",
        t.strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
    )
}

fn history_log(dir: &std::path::Path) -> std::path::PathBuf {
    let lines = [
        line_days_ago(
            12,
            100,
            "Accepted password for carol from 8.8.8.8 port 40000 ssh2",
        ),
        line_days_ago(
            11,
            101,
            "Accepted publickey for carol from 77.88.8.8 port 40001 ssh2: ED25519 SHA256:abc",
        ),
        line_days_ago(
            45,
            102,
            "Accepted password for carol from 1.0.1.1 port 40002 ssh2",
        ),
        line_days_ago(
            10,
            103,
            "Failed password for carol from 200.160.0.1 port 40003 ssh2",
        ),
        line_days_ago(
            9,
            104,
            "Accepted password for dave from 200.160.0.1 port 40004 ssh2",
        ),
    ];
    let p = dir.join("history.log");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

#[test]
fn logins_come_from_the_store_alike_on_both_back_ends() {
    let dir = tempfile::tempdir().unwrap();
    let log = history_log(dir.path());
    let db = dir.path().join("h.db");
    let o = run(&[
        "-q",
        "ingest",
        log.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let now = jiff::Timestamp::now().as_microsecond();
    let month = 30 * 86_400 * 1_000_000i64;
    let mut s = store::open(&Location::Sqlite(db.clone())).unwrap();
    let mut got = s.logins(now - month, now).unwrap();
    got.sort();
    // Within 30 days: carol from US and RU, dave from BR; not the 45-day-old CN login, not a failure.
    let want: Vec<(String, String)> = [("carol", "RU"), ("carol", "US"), ("dave", "BR")]
        .iter()
        .map(|(u, c)| (u.to_string(), c.to_string()))
        .collect();
    assert_eq!(got, want);
    if let Ok(url) = std::env::var("SSHMAP_TEST_PG") {
        if !url.is_empty() {
            let mut c = postgres::Client::connect(&url, postgres::NoTls)
                .unwrap_or_else(|e| panic!("SSHMAP_TEST_PG={url} is set but unreachable: {e}"));
            c.batch_execute(
                "DROP SCHEMA IF EXISTS alert_history CASCADE; CREATE SCHEMA alert_history",
            )
            .unwrap();
            let sep = if url.contains('?') { '&' } else { '?' };
            let pg = format!("{url}{sep}options=-c%20search_path%3Dalert_history");
            let o = run(&["-q", "ingest", log.to_str().unwrap(), "--db", &pg]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let mut p = store::open(&Location::Postgres(pg)).unwrap();
            let mut got = p.logins(now - month, now).unwrap();
            got.sort();
            assert_eq!(got, want);
        }
    }
}

#[test]
fn a_login_from_a_new_country_alerts_with_the_stored_history() {
    let dir = tempfile::tempdir().unwrap();
    let log = history_log(dir.path());
    let db = dir.path().join("h.db");
    let o = run(&[
        "-q",
        "ingest",
        log.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let srv = Server::start(ServeConfig {
        db: Some(db.to_str().unwrap().to_string()),
        tokens: vec![sshmap::serve::Token {
            secret: "test-token-123".into(),
            name: "t".into(),
            hosts: None,
        }],
        ..ServeConfig::default()
    });
    let (mut s, _) = srv.stream();
    let post = |msg: &str| {
        let body = line_days_ago(0, 200, msg);
        let r = http(
            srv.addr,
            "POST",
            "/api/ingest",
            &[
                ("Authorization", "Bearer test-token-123"),
                ("Content-Type", "text/plain"),
            ],
            body.as_bytes(),
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    };
    // Carol from a country she used within the month: no alert; then from China (only 45 days ago): an alert.
    post("Accepted password for carol from 8.8.4.4 port 41000 ssh2");
    post("Accepted password for carol from 1.0.1.1 port 41001 ssh2");
    let got = read_sse(
        &mut s,
        |t| t.contains("event: alert"),
        Duration::from_secs(10),
    );
    let alerts: Vec<&str> = got.split("event: alert").skip(1).collect();
    assert_eq!(alerts.len(), 1, "{got}");
    assert!(
        alerts[0].contains("new_country") && alerts[0].contains("1.0.1.1"),
        "{got}"
    );
    assert!(
        alerts[0].contains("before: RU, US") || alerts[0].contains("before: US, RU"),
        "{got}"
    );
    srv.stop();
}

/// A webhook receiver on 127.0.0.1: each request's body, in order of arrival.
fn hook() -> (String, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut req = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then Content-Length bytes of body.
            let body = loop {
                let n = c.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                req.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&req).into_owned();
                if let Some(end) = text.find("\r\n\r\n") {
                    let len: usize = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break Some(
                            String::from_utf8_lossy(&req[end + 4..end + 4 + len]).into_owned(),
                        );
                    }
                }
            };
            let _ =
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(b) = body {
                let _ = tx.send(b);
            }
        }
    });
    (url, rx)
}

#[test]
fn a_burst_of_alerts_reaches_the_webhook_once_and_the_stream_whole() {
    let (url, rx) = hook();
    let srv = Server::start(ServeConfig {
        webhook: Some(url),
        ..super::serve::cfg()
    });
    let (mut s, _) = srv.stream();
    let ip = "198.51.100.90";
    let mut lines: Vec<String> = (0..5)
        .map(|k| {
            super::serve::line(
                300 + k,
                &format!("Failed password for root from {ip} port {k} ssh2"),
            )
        })
        .collect();
    // A bot looping on the password it found: ten logins in a second.
    for k in 0..10 {
        lines.push(super::serve::line(
            310 + k,
            &format!(
                "Accepted password for deploy from {ip} port {} ssh2",
                100 + k
            ),
        ));
    }
    // Then another user from the same address: another group, its own alert.
    lines.push(super::serve::line(
        330,
        &format!("Accepted password for ubuntu from {ip} port 200 ssh2"),
    ));
    let resp = http(
        srv.addr,
        "POST",
        "/api/ingest",
        &[("Authorization", &format!("Bearer {}", super::serve::TOKEN))],
        (lines.join("\n") + "\n").as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // The stream: all eleven alerts (the page groups them).
    let got = read_sse(
        &mut s,
        |t| t.matches("event: alert").count() >= 11,
        Duration::from_secs(10),
    );
    assert_eq!(got.matches("event: alert").count(), 11, "{got}");
    // The webhook, fed in order from one queue: deploy once, then ubuntu — the
    // nine other deploy alerts were held back, or ubuntu's would not be second.
    let first = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a first webhook POST");
    let second = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a second webhook POST");
    assert!(first.contains("\"user\":\"deploy\""), "{first}");
    assert!(
        second.contains("\"user\":\"ubuntu\""),
        "second POST: {second}"
    );
    srv.stop();
}
