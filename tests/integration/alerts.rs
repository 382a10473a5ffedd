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
