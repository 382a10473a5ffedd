//! `sshmap serve` under attack (issue #13): each test plays one attack on
//! 127.0.0.1, bounded in count and time, and asserts what must hold — status
//! codes, what is stored, memory, how fast the process ends — not only "no panic".

use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use sshmap::serve::{self, app, ServeConfig};
use tower::ServiceExt;

use super::serve::{http, line, opts, Server, TOKEN};

/// The serve tests' options, without a home position.
fn cfg() -> ServeConfig {
    ServeConfig {
        home: None,
        ..super::serve::cfg()
    }
}

fn req(method: &str, uri: &str, headers: &[(&str, &str)], body: impl Into<Body>) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(body.into()).unwrap()
}

fn get(uri: &str) -> Request<Body> {
    req("GET", uri, &[], Body::empty())
}

fn post(token: &str, ct: &str, body: impl Into<Body>) -> Request<Body> {
    let auth = format!("Bearer {token}");
    req(
        "POST",
        "/api/ingest",
        &[("authorization", &auth), ("content-type", ct)],
        body,
    )
}

async fn call(a: &axum::Router, r: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let resp = a.clone().oneshot(r).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let b = to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (status, headers, String::from_utf8_lossy(&b).into_owned())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

/// `/metrics` of a server on a socket.
fn metrics_of(addr: SocketAddr) -> String {
    http(addr, "GET", "/metrics", &[], b"")
}

/// A failed login whose user name is `pad` bytes long (a big snapshot with few events).
fn padded_line(i: u32, pad: usize) -> String {
    line(
        10_000 + i,
        &format!(
            "Failed password for invalid user u{i}-{} from 192.0.2.{} port {} ssh2",
            "x".repeat(pad),
            i % 250 + 1,
            1000 + i % 60_000
        ),
    )
}

/// Posts `n` lines over HTTP in batches; every batch must be acknowledged.
fn fill(addr: SocketAddr, n: u32, pad: usize) {
    let auth = format!("Bearer {TOKEN}");
    let per = (2_000_000 / (pad + 120)).max(1) as u32;
    let mut i = 0;
    while i < n {
        let body: Vec<String> = (i..n.min(i + per)).map(|k| padded_line(k, pad)).collect();
        let r = http(
            addr,
            "POST",
            "/api/ingest",
            &[("Authorization", &auth), ("Content-Type", "text/plain")],
            body.join("\n").as_bytes(),
        );
        assert!(r.starts_with("HTTP/1.1 200"), "{}", &r[..r.len().min(300)]);
        i += per;
    }
}

/// A request sent on a connection that is then never read.
fn idle_client(addr: SocketAddr, path: &str) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
        .unwrap();
    s
}

/// `sshmap serve` as a child process, with its address; stderr is drained.
struct Proc {
    child: Child,
    addr: SocketAddr,
}

impl Proc {
    fn start(conf: &str, args: &[&str], env: &[(&str, &str)]) -> (Proc, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sshmap.toml");
        std::fs::write(&path, conf).unwrap();
        let mut cmd = super::util::sshmap();
        cmd.args(["serve", "--config"])
            .arg(&path)
            .args(args)
            .env("SSHMAP_DATA_DIR", dir.path())
            .env_remove("SSHMAP_INGEST_TOKEN")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        err.read_line(&mut first).unwrap();
        let addr: SocketAddr = first
            .split("http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("serve did not start: {first}"));
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = err.read_to_end(&mut sink);
        });
        (Proc { child, addr }, dir)
    }

    fn rss_kib(&self) -> u64 {
        rss_of(self.child.id())
    }

    /// SIGTERM, then the time it took to exit (None: still running after `limit`; killed).
    fn term(mut self, limit: Duration) -> Option<Duration> {
        let t0 = Instant::now();
        kill(self.child.id(), 15);
        while t0.elapsed() < limit {
            if let Ok(Some(st)) = self.child.try_wait() {
                assert!(st.success(), "{st:?}");
                return Some(t0.elapsed());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kill(pid: u32, sig: i32) {
    let _ = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Samples a process' RSS until `stop`; returns the peak (KiB).
fn rss_peak(pid: u32, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut peak = 0;
        while !stop.load(Relaxed) {
            peak = peak.max(rss_of(pid));
            std::thread::sleep(Duration::from_millis(5));
        }
        peak
    })
}

const CONF: &str = "[serve]\nlisten = \"127.0.0.1:0\"\ndb = \"none\"\n";

fn conf_with_token(extra: &str) -> String {
    format!("{CONF}ingest-token = [\"{TOKEN}\"]\n{extra}")
}

// 1. A token limited to some hosts is checked against the host of the parsed line.

#[tokio::test]
async fn attack_host_restricted_token_cannot_smuggle_another_host_in_any_format() {
    let mut c = cfg();
    c.tokens.push(serve::Token {
        secret: "web1-only-token".into(),
        name: "w1".into(),
        hosts: Some(vec!["web1".into()]),
    });
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    // Stamped now: the accepted web1 copy below must fall inside the server's window.
    let stamp = super::serve::now();
    let evil =
        format!("{stamp} evil sshd[1]: Accepted password for root from 221.28.46.22 port 22 ssh2");
    let evil = evil.as_str();
    let bodies: Vec<(&str, String)> = vec![
        // journald fields say web1, the Docker `log` line the parser reads says evil.
        ("application/json", serde_json::json!({"_HOSTNAME": "web1", "MESSAGE": "x", "_COMM": "sshd", "log": evil}).to_string()),
        ("application/json", serde_json::json!({"_HOSTNAME": "web1", "log": evil}).to_string()),
        // rsyslog properties say web1, the raw line says evil.
        ("application/json", serde_json::json!({"hostname": "web1", "rawmsg": evil}).to_string()),
        ("application/json", serde_json::json!([{"hostname": "web1", "msg": "x"}, {"hostname": "web1", "line": evil}]).to_string()),
        // An escaped object inside a string, Loki and Kafka envelopes.
        ("application/json", serde_json::json!([serde_json::json!({"_HOSTNAME": "web1", "log": evil}).to_string()]).to_string()),
        ("application/json", serde_json::json!({"streams": [{"stream": {"host": "web1"}, "values": [["1", evil]]}]}).to_string()),
        ("application/json", serde_json::json!({"records": [{"value": {"hostname": "web1", "raw": evil}}]}).to_string()),
        // journald record of host evil; RFC 5424 and plain lines.
        ("application/json", serde_json::json!({"_HOSTNAME": "evil", "MESSAGE": "Accepted password for root from 221.28.46.22 port 22 ssh2", "_COMM": "sshd", "SYSLOG_IDENTIFIER": "sshd", "__REALTIME_TIMESTAMP": "1764880921000000"}).to_string()),
        ("text/plain", format!("<38>1 {stamp} evil sshd 1 - - Accepted password for root from 221.28.46.22 port 22 ssh2")),
        ("text/plain", format!("{}\n{evil}", line(5, "Failed password for root from 221.28.46.22 port 22 ssh2"))),
    ];
    for (ct, body) in &bodies {
        let (s, _, b) = call(&a, post("web1-only-token", ct, body.clone())).await;
        // 403, or 400 for a body the decoder does not take at all: refused either way.
        assert!(
            s == StatusCode::FORBIDDEN || s == StatusCode::BAD_REQUEST,
            "{body}: {s} {b}"
        );
    }
    // The body exactly: journald fields for web1, a Docker line for evil.
    let (s, _, b) = call(
        &a,
        post("web1-only-token", "application/json", bodies[0].1.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert!(
        b.contains("evil") && b.contains("nothing was stored"),
        "{b}"
    );
    r.shared.flush();
    let (_, _, events) = call(&a, get("/api/events")).await;
    assert_eq!(events, "[]", "a refused request stored something");
    // The same lines for web1 go in, and their host is web1.
    let ok = evil.replace(" evil ", " web1 ");
    let body = serde_json::json!({"_HOSTNAME": "web1", "MESSAGE": "x", "_COMM": "sshd", "log": ok})
        .to_string();
    let (s, _, b) = call(&a, post("web1-only-token", "application/json", body)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, _, events) = call(&a, get("/api/events")).await;
    let v: serde_json::Value = serde_json::from_str(&events).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(v[0]["host"], "web1");
    r.stop();
}

// 2. Clients that never read are dropped; SIGTERM ends the server whatever they do.

#[test]
fn attack_sse_clients_that_never_read_are_dropped_by_the_write_deadline() {
    let mut c = cfg();
    c.write_timeout = Duration::from_secs(1);
    let srv = Server::start(c);
    // A snapshot of ~13 MB: more than the socket buffers hold.
    fill(srv.addr, 10_000, 1000);
    let idle: Vec<TcpStream> = (0..5)
        .map(|_| idle_client(srv.addr, "/api/stream"))
        .collect();
    let end = Instant::now() + Duration::from_secs(20);
    let mut m = metrics_of(srv.addr);
    while Instant::now() < end
        && !(metric(&m, "sshmap_sse_dropped_total") >= 5.0
            && metric(&m, "sshmap_sse_clients") == 0.0)
    {
        std::thread::sleep(Duration::from_millis(200));
        m = metrics_of(srv.addr);
    }
    assert!(
        metric(&m, "sshmap_sse_dropped_total") >= 5.0,
        "clients that never read stay connected:\n{m}"
    );
    assert_eq!(metric(&m, "sshmap_sse_clients"), 0.0, "{m}");
    assert!(metric(&m, "sshmap_write_timeouts_total") >= 5.0, "{m}");
    // A client that reads still gets its snapshot.
    let (_, snap) = srv.stream();
    assert!(snap.contains("event: snapshot"));
    drop(idle);
    srv.stop();
}

#[test]
fn attack_sigterm_ends_serve_within_5s_while_clients_do_not_read() {
    // A long write deadline: the shutdown may not wait for it.
    let (p, _dir) = Proc::start(&conf_with_token("write-timeout-ms = 600000\n"), &[], &[]);
    fill(p.addr, 6000, 1000);
    let idle: Vec<TcpStream> = (0..20)
        .map(|i| idle_client(p.addr, if i % 4 == 0 { "/" } else { "/api/stream" }))
        .collect();
    // Until the server is stuck writing to them.
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && metric(&metrics_of(p.addr), "sshmap_connections_blocked") < 10.0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = p.term(Duration::from_secs(5));
    drop(idle);
    eprintln!("SIGTERM to exit: {took:?}");
    assert!(took.is_some(), "serve still runs 5 s after SIGTERM");
}

// 3. --anonymize-ip: no full address leaves the process, in any field, on any route.

const LEAKS: [&str; 5] = [
    "203.0.113.77",
    "192.0.2.44",
    "198.51.100.23",
    "8.8.4.4",
    "2001:db8:77::abcd",
];

fn leaky_lines() -> Vec<String> {
    let host_line =
        |h: &str, pid: u32, msg: &str| format!("{} {h} sshd[{pid}]: {msg}", super::serve::now());
    vec![
        line(1, "Failed password for invalid user evil-203.0.113.77 from 8.8.4.4 port 4000 ssh2"),
        line(2, "Failed password for invalid user evil from 192.0.2.44 port 22 from 8.8.4.4 port 4001 ssh2"),
        host_line("198.51.100.23", 3, "Failed password for root from 8.8.4.4 port 4002 ssh2"),
        host_line("198.51.100.23", 4, "Accepted password for admin2001:db8:77::abcd from 8.8.4.4 port 4003 ssh2"),
        line(5, "Invalid user x1.2.3.4.5 from 2001:db8:77::abcd port 4004"),
    ]
}

fn assert_no_leak(what: &str, text: &str) {
    for ip in LEAKS {
        assert!(!text.contains(ip), "{what} shows the full address {ip}");
    }
}

#[tokio::test]
async fn attack_anonymize_ip_hides_addresses_in_user_and_host_names_everywhere() {
    let mut c = cfg();
    c.anonymize_ip = true;
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let (s, _, b) = call(&a, post(TOKEN, "text/plain", leaky_lines().join("\n"))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    r.shared.flush();
    let (_, _, events) = call(&a, get("/api/events")).await;
    assert!(events.contains("8.8.4.0/24"), "{events}");
    assert!(events.matches("\"kind\"").count() >= 5, "{events}");
    assert_no_leak("/api/events", &events);
    let (_, _, stats) = call(&a, get("/api/stats")).await;
    assert_no_leak("/api/stats", &stats);
    let (s, _, page) = call(&a, get("/")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(page.contains("8.8.4.0/24"), "the page shows networks");
    assert_no_leak("GET /", &page);
    let mut body = a
        .clone()
        .oneshot(get("/api/stream"))
        .await
        .unwrap()
        .into_body();
    let f = http_body_util::BodyExt::frame(&mut body)
        .await
        .unwrap()
        .unwrap();
    let snap = String::from_utf8_lossy(f.data_ref().unwrap()).into_owned();
    assert!(snap.contains("event: snapshot"));
    assert_no_leak("the SSE snapshot", &snap);
    drop(body);
    r.stop();

    // The report: the same anonymizer at its boundary.
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, leaky_lines().join("\n") + "\n").unwrap();
    let out = dir.path().join("r.html");
    let o = super::util::run(&[
        "report",
        log.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--anonymize-ip",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("8.8.4.0/24"), "the report shows networks");
    assert_no_leak("report --anonymize-ip", &html);
}

// 4. Values that do not fit: a clear error, never a panic.

#[tokio::test]
async fn attack_huge_durations_and_numbers_in_queries_are_400_not_panics() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    for q in [
        "/api/stats?window=99999999999999999999d",
        "/api/stats?window=18446744073709551615w",
        "/api/stats?window=1e400h",
        "/api/stats?window=-5m",
        "/api/stats?window=nan",
        "/api/stats?top=99999999999999999999999",
        "/api/events?limit=99999999999999999999999",
        "/api/events?since=nonsense",
    ] {
        let (s, _, b) = call(&a, get(q)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {b}");
    }
    for q in [
        "/api/stats?window=1.5h",
        "/api/stats?window=3600",
        "/api/stats?window=90d",
        "/api/events?since=1e300",
        "/api/events?since=-1e300&until=1e300",
        "/api/events?limit=0",
    ] {
        let (s, _, b) = call(&a, get(q)).await;
        assert_eq!(s, StatusCode::OK, "{q}: {b}");
    }
    r.stop();
}

#[test]
fn attack_huge_durations_from_flags_env_and_file_exit_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    let huge = "99999999999999999999d";
    type Case<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, String);
    let cases: Vec<Case> = vec![
        (
            vec!["--window".into(), huge.into()],
            vec![],
            CONF.to_string(),
        ),
        (vec!["--keep".into(), huge.into()], vec![], CONF.to_string()),
        (vec![], vec![("SSHMAP_WINDOW", huge)], CONF.to_string()),
        (vec![], vec![], format!("{CONF}window = \"{huge}\"\n")),
        (vec![], vec![], format!("{CONF}keep = \"{huge}\"\n")),
    ];
    for (args, env, file) in cases {
        std::fs::write(&conf, &file).unwrap();
        let o = super::util::sshmap()
            .args(["serve", "--config"])
            .arg(&conf)
            .args(&args)
            .envs(env.iter().copied())
            .env("SSHMAP_DATA_DIR", dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?} {env:?} {file}: {err}");
        assert!(
            err.contains("too long") && !err.contains("panicked"),
            "{err}"
        );
    }
    // The analysis commands share the parser.
    let o = super::util::run(&[
        "timelapse",
        "-",
        "-o",
        "/tmp/sshmap-attack-never-written.gif",
        "--bin",
        huge,
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--bin") && !err.contains("panicked"), "{err}");
}

// 5. Memory: big answers and many readers stay inside the budget.

#[test]
fn attack_parallel_big_answers_stay_inside_the_memory_budget_and_memory_returns() {
    let (p, _dir) = Proc::start(&conf_with_token(""), &[], &[]);
    fill(p.addr, 20_000, 300);
    std::thread::sleep(Duration::from_millis(500));
    let base = p.rss_kib();
    let pid = p.child.id();
    let addr = p.addr;
    let wave = |path: &'static str, n: usize| -> (u64, usize, usize) {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = rss_peak(pid, stop.clone());
        let ok = Arc::new(AtomicU64::new(0));
        let refused = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (ok, refused) = (ok.clone(), refused.clone());
                std::thread::spawn(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
                    s.write_all(
                        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                            .as_bytes(),
                    )
                    .unwrap();
                    // Read slowly at first: answers pile up if the server builds them whole.
                    std::thread::sleep(Duration::from_millis(300));
                    let mut head = [0u8; 12];
                    s.read_exact(&mut head).unwrap();
                    // Read to the end keeping only the last bytes: the test's own memory stays flat.
                    let mut rest = Vec::new();
                    let mut buf = vec![0u8; 64 << 10];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        rest.extend_from_slice(&buf[..n]);
                        if rest.len() > 4096 {
                            rest.drain(..rest.len() - 64);
                        }
                    }
                    let status = &head[9..12];
                    if status == b"200" {
                        let tail = String::from_utf8_lossy(&rest[rest.len().saturating_sub(64)..])
                            .into_owned();
                        assert!(
                            tail.contains(if path == "/" { "</html>" } else { "]" }),
                            "a cut answer: {tail}"
                        );
                        ok.fetch_add(1, Relaxed);
                    } else {
                        assert!(
                            status == b"429" || status == b"503",
                            "{}",
                            String::from_utf8_lossy(&head)
                        );
                        refused.fetch_add(1, Relaxed);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        stop.store(true, Relaxed);
        let peak = peak.join().unwrap();
        (
            peak,
            ok.load(Relaxed) as usize,
            refused.load(Relaxed) as usize,
        )
    };
    let (peak, ok, _) = wave("/api/events?limit=100000", 50);
    assert!(ok >= 8, "only {ok} of 50 answered");
    assert!(
        peak < base + 120 * 1024,
        "50 parallel /api/events: RSS from {base} KiB to a peak of {peak} KiB"
    );
    let (peak, ok, _) = wave("/", 100);
    assert!(ok >= 50, "only {ok} of 100 pages");
    assert!(
        peak < base + 150 * 1024,
        "100 parallel GET /: RSS from {base} KiB to a peak of {peak} KiB"
    );
    // And it goes back.
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end && p.rss_kib() > base + 40 * 1024 {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        p.rss_kib() <= base + 40 * 1024,
        "RSS stays at {} KiB after the load (was {base})",
        p.rss_kib()
    );
    assert!(p.term(Duration::from_secs(5)).is_some());
}

#[tokio::test]
async fn attack_over_the_memory_budget_heavy_routes_answer_503_and_ingest_goes_on() {
    let mut c = cfg();
    c.memory_budget = 1;
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    for path in ["/", "/api/events", "/api/stats", "/api/stream"] {
        let (s, h, _) = call(&a, get(path)).await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{path}");
        assert!(h.contains_key(header::RETRY_AFTER), "{path}");
    }
    assert_eq!(call(&a, get("/healthz")).await.0, StatusCode::OK);
    let l = line(1, "Failed password for root from 203.0.113.9 port 1 ssh2");
    assert_eq!(
        call(&a, post(TOKEN, "text/plain", l)).await.0,
        StatusCode::OK
    );
    let (_, _, m) = call(&a, get("/metrics")).await;
    assert!(
        metric(&m, "sshmap_refused_total{reason=\"memory\"}") >= 4.0,
        "{m}"
    );
    r.stop();
}

// 6. A private dashboard, ingest rate limits, tokens kept out of argv.

#[tokio::test]
async fn attack_read_token_guards_the_page_and_api_but_not_healthz() {
    let mut c = cfg();
    c.read_token = Some("read-secret-42".into());
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    for path in ["/", "/api/events", "/api/stats", "/api/stream", "/metrics"] {
        let (s, h, _) = call(&a, get(path)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
        assert!(
            h.get(header::WWW_AUTHENTICATE)
                .is_some_and(|v| v.to_str().unwrap().starts_with("Basic")),
            "{path}: a browser must be able to ask for it"
        );
        let (s, _, _) = call(
            &a,
            req(
                "GET",
                path,
                &[("authorization", "Bearer wrong-secret-42")],
                Body::empty(),
            ),
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{path}");
    }
    assert_eq!(call(&a, get("/healthz")).await.0, StatusCode::OK);
    let (s, _, _) = call(
        &a,
        req(
            "GET",
            "/api/events",
            &[("authorization", "Bearer read-secret-42")],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Basic auth, any user: `read:read-secret-42`.
    let (s, _, _) = call(
        &a,
        req(
            "GET",
            "/api/stats",
            &[("authorization", "Basic cmVhZDpyZWFkLXNlY3JldC00Mg==")],
            Body::empty(),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    // Ingest keeps its own tokens.
    let l = line(1, "Failed password for root from 203.0.113.9 port 1 ssh2");
    assert_eq!(
        call(&a, post(TOKEN, "text/plain", l)).await.0,
        StatusCode::OK
    );
    r.stop();
}

#[tokio::test]
async fn attack_ingest_floods_from_one_client_get_429() {
    let mut c = cfg();
    c.ingest_rate = 2.0;
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let mut codes = Vec::new();
    for i in 0..12 {
        let l = line(i, "Failed password for root from 203.0.113.9 port 1 ssh2");
        let (s, h, _) = call(&a, post(TOKEN, "text/plain", l)).await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert!(h.contains_key(header::RETRY_AFTER));
        }
        codes.push(s.as_u16());
    }
    let ok = codes.iter().filter(|&&c| c == 200).count();
    assert!(
        (4..=5).contains(&ok),
        "a burst of twice the rate, then 429: {codes:?}"
    );
    // Wrong tokens are limited too (no free guessing).
    let mut limited = 0;
    for _ in 0..12 {
        let (s, _, _) = call(&a, post("guess-guess-guess", "text/plain", "x")).await;
        limited += usize::from(s == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(limited >= 6, "{limited}");
    r.stop();
}

#[test]
fn attack_tokens_come_from_files_and_the_environment_not_argv() {
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("ingest.tokens");
    std::fs::write(&tf, "# fleet\nfile-token-12345\n\n").unwrap();
    let (p, _d) = Proc::start(
        CONF,
        &["--ingest-token-file", tf.to_str().unwrap()],
        &[("SSHMAP_READ_TOKEN", "env-read-token-1")],
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", p.child.id())).unwrap();
    let cmdline = String::from_utf8_lossy(&cmdline);
    assert!(!cmdline.contains("file-token-12345") && !cmdline.contains("env-read-token-1"));
    let l = line(1, "Failed password for root from 203.0.113.9 port 1 ssh2");
    let r = http(
        p.addr,
        "POST",
        "/api/ingest",
        &[("Authorization", "Bearer file-token-12345")],
        l.as_bytes(),
    );
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let r = http(p.addr, "GET", "/api/events", &[], b"");
    assert!(r.starts_with("HTTP/1.1 401"), "{r}");
    let r = http(
        p.addr,
        "GET",
        "/api/events",
        &[("Authorization", "Bearer env-read-token-1")],
        b"",
    );
    assert!(
        r.starts_with("HTTP/1.1 200") && r.contains("203.0.113.9"),
        "{r}"
    );
    assert!(p.term(Duration::from_secs(5)).is_some());
}

// 7. What an operator watches.

#[tokio::test]
async fn metrics_show_memory_clients_by_state_and_build_info() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    let _stream = a.clone().oneshot(get("/api/stream")).await.unwrap();
    let (_, _, m) = call(&a, get("/metrics")).await;
    assert!(metric(&m, "sshmap_resident_memory_bytes") > 1e6, "{m}");
    assert_eq!(
        metric(&m, "sshmap_memory_budget_bytes"),
        0.0,
        "none in the library"
    );
    assert_eq!(metric(&m, "sshmap_sse_clients"), 1.0);
    assert_eq!(
        metric(&m, "sshmap_sse_clients_by_state{state=\"snapshot\"}"),
        1.0,
        "{m}"
    );
    assert!(
        m.contains("sshmap_sse_clients_by_state{state=\"blocked\"} 0"),
        "{m}"
    );
    assert!(
        m.contains(&format!(
            "sshmap_build_info{{version=\"{}\"",
            env!("CARGO_PKG_VERSION")
        )),
        "{m}"
    );
    r.stop();
}
