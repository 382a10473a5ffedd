//! `sshmap serve`: handlers through `app().oneshot(request)`, and real sockets
//! for the SSE stream, the tail and syslog sources and the shutdown.

use std::io::{Read, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use sshmap::serve::{self, app, FeedOptions, ServeConfig};
use tower::ServiceExt;

pub const TOKEN: &str = "test-token-123";

pub fn opts() -> FeedOptions {
    FeedOptions {
        geo: Some(std::sync::Arc::new(sshmap::geo::Locator::embedded())),
        tz: jiff::tz::TimeZone::UTC,
        year: None,
        webhook: None,
        stderr: false,
        hold: serve::HOLD,
    }
}

pub fn cfg() -> ServeConfig {
    ServeConfig {
        tokens: vec![serve::Token {
            secret: TOKEN.into(),
            name: "t".into(),
            hosts: None,
        }],
        home: Some((48.85, 2.35)),
        ..ServeConfig::default()
    }
}

/// An RFC 3339 stamp for now, as rsyslog writes it.
pub fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

pub fn line(pid: u32, msg: &str) -> String {
    format!("{} web1 sshd[{pid}]: {msg}", now())
}

fn post(body: impl Into<Body>, ct: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/api/ingest").header(header::CONTENT_TYPE, ct);
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(body.into()).unwrap()
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

async fn text(r: axum::response::Response) -> (StatusCode, String) {
    let status = r.status();
    let b = to_bytes(r.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8_lossy(&b).into_owned())
}

async fn call(router: &axum::Router, req: Request<Body>) -> (StatusCode, String) {
    text(router.clone().oneshot(req).await.unwrap()).await
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0)
}

#[tokio::test]
async fn healthz_metrics_and_page() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    assert_eq!(
        call(&a, get("/healthz")).await,
        (StatusCode::OK, "ok\n".into())
    );
    let (s, m) = call(&a, get("/metrics")).await;
    assert_eq!(s, StatusCode::OK);
    for name in [
        "sshmap_sse_clients",
        "sshmap_lag_seconds",
        "sshmap_events_total{kind=\"auth_failure\"}",
        "sshmap_ingest_errors_total{reason=\"malformed_json\"}",
    ] {
        assert!(metric(&m, name) >= 0.0, "{name} missing:\n{m}");
    }
    let resp = a.clone().oneshot(get("/")).await.unwrap();
    let csp = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let (_, page) = text(resp).await;
    assert!(
        page.contains("live.js") && page.contains("id=\"map\""),
        "the report's page with the live layer"
    );
    let without_ns = page.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_ns.contains("http://") && !without_ns.contains("https://"),
        "no external requests"
    );
    assert!(
        csp.contains("connect-src 'self'") && page.matches("Content-Security-Policy").count() == 1,
        "{csp}"
    );
    r.stop();
}

#[tokio::test]
async fn ingest_needs_the_token_and_stores_nothing_without_it() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    let body = line(
        1,
        "Failed password for root from 203.0.113.9 port 4242 ssh2",
    );
    assert_eq!(
        call(&a, post(body.clone(), "text/plain", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(
            &a,
            post(body.clone(), "text/plain", Some("wrong-token-123"))
        )
        .await
        .0,
        StatusCode::UNAUTHORIZED
    );
    let mut req = post(body, "text/plain", None);
    req.headers_mut().insert(
        header::AUTHORIZATION,
        format!("Basic {TOKEN}").parse().unwrap(),
    );
    assert_eq!(call(&a, req).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(call(&a, get("/api/events")).await.1, "[]");
    assert_eq!(r.shared.metrics.ingest_errors("unauthorized"), 3);
    r.stop();
}

#[tokio::test]
async fn ingest_text_and_omhttp_json_then_query_events_and_stats() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    let text_body = [
        line(10, "Invalid user admin from 8.8.8.8 port 4242"),
        line(
            10,
            "Failed password for invalid user admin from 8.8.8.8 port 4242 ssh2",
        ),
        "Nov 23 07:00:00 web1 CRON[5]: not sshd".to_string(),
    ]
    .join("\n");
    let (s, b) = call(&a, post(text_body, "text/plain", Some(TOKEN))).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let v: serde_json::Value = serde_json::from_str(&b).unwrap();
    assert_eq!(
        (v["lines"].as_u64(), v["events"].as_u64()),
        (Some(3), Some(2)),
        "{b}"
    );
    let omhttp = serde_json::json!([{
        "timereported": now(), "hostname": "web1", "programname": "sshd", "procid": "11",
        "msg": " Failed password for root from 1.1.1.1 port 4243 ssh2"
    }]);
    let (s, b) = call(
        &a,
        post(omhttp.to_string(), "application/json", Some(TOKEN)),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (_, evs) = call(&a, get("/api/events")).await;
    let evs: Vec<serde_json::Value> = serde_json::from_str(&evs).unwrap();
    assert_eq!(evs.len(), 3);
    assert_eq!(evs[2]["ip"], "1.1.1.1");
    assert_eq!(
        evs[0]["geo"]["country"], "US",
        "GeoIP enrichment applies to ingest"
    );
    let (_, f) = call(&a, get("/api/events?kind=auth_failure")).await;
    assert_eq!(
        serde_json::from_str::<Vec<serde_json::Value>>(&f)
            .unwrap()
            .len(),
        2
    );
    let (s, _) = call(&a, get("/api/events?kind=nope")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)).to_string();
    let (_, f) = call(&a, get(&format!("/api/events?since={future}"))).await;
    assert_eq!(f, "[]");
    let (s, st) = call(&a, get("/api/stats?window=1h")).await;
    assert_eq!(s, StatusCode::OK);
    let st: serde_json::Value = serde_json::from_str(&st).unwrap();
    assert_eq!(st["attempts"], 2);
    assert_eq!(st["window_seconds"], 3600);
    assert_eq!(st["top_users"][0]["user"], "admin");
    let (_, m) = call(&a, get("/metrics")).await;
    assert_eq!(
        metric(&m, "sshmap_events_total{kind=\"auth_failure\"}"),
        2.0
    );
    assert_eq!(
        metric(&m, "sshmap_lines_read_total{source=\"http:t\"}"),
        4.0,
        "{m}"
    );
    r.stop();
}

#[tokio::test]
async fn bad_bodies_are_refused_and_counted() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    let big = vec![b'a'; 10_000_000];
    assert_eq!(
        call(&a, post(big, "text/plain", Some(TOKEN))).await.0,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // Without a Content-Length (streamed): still refused.
    let chunks =
        futures_util::stream::iter((0..100).map(|_| Ok::<_, std::io::Error>(vec![b'a'; 100_000])));
    let req = Request::post("/api/ingest")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::from_stream(chunks))
        .unwrap();
    assert_eq!(call(&a, req).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        call(&a, post("{\"msg\": ", "application/json", Some(TOKEN)))
            .await
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(
            &a,
            post(
                vec![0u8, 159, 146, 150, 0xff, 0],
                "application/octet-stream",
                Some(TOKEN)
            )
        )
        .await
        .0,
        StatusCode::BAD_REQUEST
    );
    let (_, m) = call(&a, get("/metrics")).await;
    assert_eq!(
        metric(&m, "sshmap_ingest_errors_total{reason=\"too_large\"}"),
        2.0,
        "{m}"
    );
    assert_eq!(
        metric(&m, "sshmap_ingest_errors_total{reason=\"malformed_json\"}"),
        1.0
    );
    assert_eq!(
        metric(&m, "sshmap_ingest_errors_total{reason=\"binary\"}"),
        1.0
    );
    assert_eq!(call(&a, get("/api/events")).await.1, "[]");
    r.stop();
}

#[tokio::test]
async fn tokens_may_claim_only_their_hosts() {
    let mut c = cfg();
    c.tokens.push(serve::Token {
        secret: "web2-only-token".into(),
        name: "w2".into(),
        hosts: Some(vec!["web2".into()]),
    });
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let l = line(
        1,
        "Failed password for root from 203.0.113.9 port 4242 ssh2",
    ); // host web1
    let (s, b) = call(&a, post(l.clone(), "text/plain", Some("web2-only-token"))).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    assert_eq!(call(&a, get("/api/events")).await.1, "[]");
    let ok = l.replace(" web1 ", " web2 ");
    assert_eq!(
        call(&a, post(ok, "text/plain", Some("web2-only-token")))
            .await
            .0,
        StatusCode::OK
    );
    r.stop();
}

/// Reads an SSE body until `pred` holds for the text so far (or the time runs out).
async fn read_until(body: &mut Body, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
    let mut acc = String::new();
    let end = Instant::now() + limit;
    while !pred(&acc) {
        let left = end.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, body.frame()).await {
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    acc.push_str(&String::from_utf8_lossy(&d));
                }
            }
            _ => break,
        }
    }
    acc
}

#[tokio::test]
async fn stream_sends_snapshot_then_events_and_alerts_anonymized() {
    let mut c = cfg();
    c.anonymize_ip = true;
    // One failure then a login: an alert only below the default threshold (5).
    c.alert_ip_failures = 1;
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let ip = "203.0.113.77";
    call(
        &a,
        post(
            line(
                20,
                &format!("Failed password for alice from {ip} port 1 ssh2"),
            ),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    let resp = a.clone().oneshot(get("/api/stream")).await.unwrap();
    assert_eq!(resp.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = resp.into_body();
    let snap = read_until(&mut body, Duration::from_secs(5), |s| s.contains("\n\n")).await;
    assert!(
        snap.starts_with("retry: 2000\nevent: snapshot\ndata: {"),
        "{snap}"
    );
    assert!(
        snap.contains("\"home\":[48.85,2.35]") && snap.contains("auth_failure"),
        "{snap}"
    );
    assert_eq!(r.shared.metrics.sse_clients.load(Relaxed), 1);
    call(
        &a,
        post(
            line(
                21,
                &format!("Accepted password for alice from {ip} port 2 ssh2"),
            ),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    let live = read_until(&mut body, Duration::from_secs(5), |s| {
        s.contains("event: alert")
    })
    .await;
    assert!(
        live.contains("event: event\ndata: {") && live.contains("auth_success"),
        "{live}"
    );
    assert!(live.contains("success_after_ip_failures"), "{live}");
    let (_, evs) = call(&a, get("/api/events")).await;
    let (_, st) = call(&a, get("/api/stats")).await;
    for (what, t) in [
        ("snapshot", &snap),
        ("stream", &live),
        ("events", &evs),
        ("stats", &st),
    ] {
        assert!(!t.contains(ip), "{what} leaks the address: {t}");
    }
    assert!(live.contains("203.0.113.0/24"));
    drop(body);
    assert_eq!(r.shared.metrics.sse_clients.load(Relaxed), 0);
    r.stop();
}

#[tokio::test]
async fn slow_sse_clients_are_dropped_not_buffered() {
    let mut c = cfg();
    c.sse_buffer = 16;
    // Ticks are sent by hand below: ten ticks of ten events each.
    c.sse_tick = Duration::from_secs(3600);
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let mut body = a
        .clone()
        .oneshot(get("/api/stream"))
        .await
        .unwrap()
        .into_body();
    // The client reads nothing while 100 events go out.
    for t in 0..10 {
        let lines: Vec<String> = (0..10)
            .map(|i| {
                line(
                    100 + t * 10 + i,
                    &format!(
                        "Failed password for u{i} from 192.0.2.{} port 1 ssh2",
                        t * 10 + i + 1
                    ),
                )
            })
            .collect();
        call(&a, post(lines.join("\n"), "text/plain", Some(TOKEN))).await;
        r.shared.flush();
    }
    let got = read_until(&mut body, Duration::from_secs(5), |_| false).await;
    assert!(got.contains("event: snapshot"));
    assert!(
        got.matches("event: event").count() < 100,
        "a lagging client gets cut off"
    );
    assert_eq!(r.shared.metrics.sse_dropped.load(Relaxed), 1);
    assert_eq!(r.shared.metrics.sse_clients.load(Relaxed), 0);
    r.stop();
}

/// The data frames of an SSE body, as the server wrote them (one per tick), up to `n` events.
async fn body_frames(body: &mut Body, n: usize) -> Vec<String> {
    let mut frames = Vec::new();
    let end = Instant::now() + Duration::from_secs(10);
    while frames
        .iter()
        .map(|f: &String| f.matches("event: event").count())
        .sum::<usize>()
        < n
    {
        match tokio::time::timeout(end.saturating_duration_since(Instant::now()), body.frame())
            .await
        {
            Ok(Some(Ok(f))) => {
                if let Ok(d) = f.into_data() {
                    frames.push(String::from_utf8_lossy(&d).into_owned());
                }
            }
            _ => break,
        }
    }
    frames
}

#[tokio::test]
async fn events_of_one_tick_arrive_in_order_as_separate_sse_events_in_one_write() {
    let mut c = cfg();
    c.sse_tick = Duration::from_secs(3600);
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let mut body = a
        .clone()
        .oneshot(get("/api/stream"))
        .await
        .unwrap()
        .into_body();
    let snap = read_until(&mut body, Duration::from_secs(5), |s| s.contains("\n\n")).await;
    assert!(snap.contains("event: snapshot"), "{snap}");
    // Three requests, five events, one tick.
    for (pid, users) in [
        (1, &["a0", "a1"][..]),
        (2, &["a2"][..]),
        (3, &["a3", "a4"][..]),
    ] {
        let lines: Vec<String> = users
            .iter()
            .map(|u| {
                line(
                    pid,
                    &format!("Failed password for {u} from 198.51.100.9 port 1 ssh2"),
                )
            })
            .collect();
        call(&a, post(lines.join("\n"), "text/plain", Some(TOKEN))).await;
    }
    r.shared.flush();
    let frames = body_frames(&mut body, 5).await;
    assert_eq!(frames.len(), 1, "one tick, one write: {frames:?}");
    let messages: Vec<&str> = frames[0].split_terminator("\n\n").collect();
    assert_eq!(messages.len(), 5, "{frames:?}");
    let mut last_id = None;
    for (i, m) in messages.iter().enumerate() {
        let mut ls = m.lines();
        let id: u64 = ls
            .next()
            .unwrap()
            .strip_prefix("id: ")
            .unwrap()
            .parse()
            .unwrap();
        assert!(last_id.is_none_or(|l| id > l), "ids increase: {frames:?}");
        last_id = Some(id);
        assert_eq!(ls.next(), Some("event: event"));
        let data: serde_json::Value =
            serde_json::from_str(ls.next().unwrap().strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(data["user"], format!("a{i}"), "in order: {frames:?}");
        assert_eq!(ls.next(), None);
    }
    r.stop();
}

#[tokio::test]
async fn a_client_that_connects_mid_tick_gets_each_event_once() {
    let mut c = cfg();
    c.sse_tick = Duration::from_secs(3600);
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    call(
        &a,
        post(
            line(1, "Failed password for sent from 198.51.100.9 port 1 ssh2"),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    r.shared.flush();
    // Published, not yet sent when the client comes: in its snapshot, skipped in the tick.
    call(
        &a,
        post(
            line(
                2,
                "Failed password for pending from 198.51.100.9 port 1 ssh2",
            ),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    let mut body = a
        .clone()
        .oneshot(get("/api/stream"))
        .await
        .unwrap()
        .into_body();
    let snap = read_until(&mut body, Duration::from_secs(5), |s| s.contains("\n\n")).await;
    assert!(
        snap.contains("\"user\":\"sent\"") && snap.contains("\"user\":\"pending\""),
        "{snap}"
    );
    call(
        &a,
        post(
            line(3, "Failed password for later from 198.51.100.9 port 1 ssh2"),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    r.shared.flush();
    let live = body_frames(&mut body, 1).await.concat();
    assert_eq!(live.matches("event: event").count(), 1, "{live}");
    assert!(live.contains("\"user\":\"later\""), "{live}");
    // The pending event went out in that tick, to clients that were there before.
    call(
        &a,
        post(
            line(4, "Failed password for after from 198.51.100.9 port 1 ssh2"),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    r.shared.flush();
    let live = body_frames(&mut body, 1).await.concat();
    assert!(
        live.contains("\"user\":\"after\"")
            && !live.contains("pending")
            && !live.contains("\"user\":\"sent\""),
        "{live}"
    );
    r.stop();
}

#[tokio::test]
async fn stopping_sends_the_last_tick() {
    let mut c = cfg();
    c.sse_tick = Duration::from_secs(3600);
    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let mut body = a
        .clone()
        .oneshot(get("/api/stream"))
        .await
        .unwrap()
        .into_body();
    read_until(&mut body, Duration::from_secs(5), |s| s.contains("\n\n")).await;
    call(
        &a,
        post(
            line(1, "Failed password for last from 198.51.100.9 port 1 ssh2"),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    let shared = r.shared.clone();
    tokio::task::spawn_blocking(move || r.stop()).await.unwrap();
    let live = body_frames(&mut body, 1).await.concat();
    assert!(live.contains("\"user\":\"last\""), "{live}");
    drop(shared);
}

fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[tokio::test]
async fn ten_thousand_sse_connects_leave_memory_flat() {
    let r = serve::start(cfg(), opts());
    let a = app(r.shared.clone());
    let lines: Vec<String> = (0..200)
        .map(|i| {
            line(
                100 + i,
                &format!(
                    "Failed password for u{i} from 8.8.{}.{} port 1 ssh2",
                    i / 200,
                    i % 200 + 1
                ),
            )
        })
        .collect();
    call(&a, post(lines.join("\n"), "text/plain", Some(TOKEN))).await;
    let cycle = || async {
        let mut body = a
            .clone()
            .oneshot(get("/api/stream"))
            .await
            .unwrap()
            .into_body();
        let f = body.frame().await.unwrap().unwrap();
        assert!(f.is_data());
    };
    for _ in 0..1000 {
        cycle().await;
    }
    let before = rss_kib();
    for _ in 0..10_000 {
        cycle().await;
    }
    let after = rss_kib();
    assert_eq!(r.shared.metrics.sse_clients.load(Relaxed), 0);
    assert!(
        after < before + 8 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    r.stop();
}

/// A raw HTTP/1.1 request on a fresh connection; returns the whole response.
pub fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// A running `serve::run` on 127.0.0.1:0 and the way to stop it.
pub struct Server {
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    pub fn start(cfg: ServeConfig) -> Server {
        Server::start_with(cfg, opts())
    }

    pub fn start_with(cfg: ServeConfig, feed: FeedOptions) -> Server {
        let (atx, arx) = std::sync::mpsc::channel();
        let (stx, srx) = tokio::sync::oneshot::channel::<()>();
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                atx.send(l.local_addr().unwrap()).unwrap();
                serve::run(l, cfg, feed, async move {
                    let _ = srx.await;
                })
                .await
                .unwrap();
            });
        });
        let addr = arx.recv().unwrap();
        Server {
            addr,
            stop: Some(stx),
            handle: Some(handle),
        }
    }

    /// Stops it like SIGTERM does and waits for `run` to return.
    pub fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.handle.take().unwrap().join().unwrap();
    }

    /// Opens `/api/stream` and returns the socket after the snapshot.
    pub fn stream(&self) -> (std::net::TcpStream, String) {
        let mut s = std::net::TcpStream::connect(self.addr).unwrap();
        s.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let snap = read_sse(
            &mut s,
            |t| t.contains("event: snapshot") && t.contains("}\n\n"),
            Duration::from_secs(10),
        );
        (s, snap)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Reads from a raw SSE socket until `pred` holds (or `limit` passes).
pub fn read_sse(
    s: &mut std::net::TcpStream,
    pred: impl Fn(&str) -> bool,
    limit: Duration,
) -> String {
    let end = Instant::now() + limit;
    let mut acc = String::new();
    let mut buf = [0u8; 65536];
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while !pred(&acc) && Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => acc.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
    acc
}

#[test]
fn real_socket_sse_tail_and_syslog_then_graceful_shutdown_flushes_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let cps = dir.path().join("cp.json");
    std::fs::write(&log, "").unwrap();
    let syslog_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let syslog_addr: std::net::SocketAddr = format!("127.0.0.1:{syslog_port}").parse().unwrap();
    let mut c = cfg();
    c.tail = vec![log.clone()];
    c.checkpoint = Some(cps.clone());
    c.syslog = Some(syslog_addr);
    let srv = Server::start(c);
    let (mut sse, snap) = srv.stream();
    assert!(
        snap.contains("text/event-stream") && snap.contains("event: snapshot"),
        "{snap}"
    );

    // tail: a line appended to the file arrives on the stream within a second.
    let t0 = Instant::now();
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(
        f,
        "{}",
        line(30, "Failed password for root from 203.0.113.30 port 1 ssh2")
    )
    .unwrap();
    let got = read_sse(
        &mut sse,
        |t| t.contains("203.0.113.30"),
        Duration::from_secs(5),
    );
    assert!(got.contains("203.0.113.30"), "{got}");
    assert!(
        t0.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t0.elapsed()
    );

    // HTTP ingest over a real socket.
    let body = line(31, "Failed password for root from 203.0.113.31 port 1 ssh2");
    let resp = http(
        srv.addr,
        "POST",
        "/api/ingest",
        &[
            ("Authorization", &format!("Bearer {TOKEN}")),
            ("Content-Type", "text/plain"),
        ],
        body.as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(read_sse(
        &mut sse,
        |t| t.contains("203.0.113.31"),
        Duration::from_secs(5)
    )
    .contains("203.0.113.31"));

    // syslog: RFC 5424 octet-counted over TCP, RFC 3164 over UDP.
    let m5424 = format!(
        "<38>1 {} web1 sshd 32 - - Failed password for root from 203.0.113.32 port 1 ssh2",
        now()
    );
    let mut tcp = std::net::TcpStream::connect(syslog_addr).unwrap();
    tcp.write_all(format!("{} {m5424}", m5424.len()).as_bytes())
        .unwrap();
    assert!(read_sse(
        &mut sse,
        |t| t.contains("203.0.113.32"),
        Duration::from_secs(5)
    )
    .contains("203.0.113.32"));
    let stamp = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %e %H:%M:%S")
        .to_string();
    let m3164 = format!(
        "<38>{stamp} web1 sshd[33]: Failed password for root from 203.0.113.33 port 1 ssh2"
    );
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.send_to(m3164.as_bytes(), syslog_addr).unwrap();
    assert!(read_sse(
        &mut sse,
        |t| t.contains("203.0.113.33"),
        Duration::from_secs(5)
    )
    .contains("203.0.113.33"));

    // Graceful shutdown ends the open stream and writes the checkpoint.
    srv.stop();
    let cp: serde_json::Value = serde_json::from_slice(&std::fs::read(&cps).unwrap()).unwrap();
    let len = std::fs::metadata(&log).unwrap().len();
    assert_eq!(
        cp["files"][log.display().to_string()]["offset"],
        len,
        "{cp}"
    );
}

#[test]
fn restart_resumes_from_the_checkpoint_without_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let cps = dir.path().join("cp.json");
    std::fs::write(
        &log,
        format!(
            "{}\n",
            line(40, "Failed password for root from 203.0.113.40 port 1 ssh2")
        ),
    )
    .unwrap();
    let mut c = cfg();
    c.tail = vec![log.clone()];
    c.checkpoint = Some(cps.clone());
    let srv = Server::start(c.clone());
    let (mut sse, snap) = srv.stream();
    let first = if snap.contains("203.0.113.40") {
        snap
    } else {
        read_sse(
            &mut sse,
            |t| t.contains("203.0.113.40"),
            Duration::from_secs(5),
        )
    };
    assert!(first.contains("203.0.113.40"));
    srv.stop();
    // Written while the server is down.
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(
        f,
        "{}",
        line(41, "Failed password for root from 203.0.113.41 port 1 ssh2")
    )
    .unwrap();
    let srv = Server::start(c);
    let (mut sse, snap) = srv.stream();
    let all = if snap.contains("203.0.113.41") {
        snap
    } else {
        snap + &read_sse(
            &mut sse,
            |t| t.contains("203.0.113.41"),
            Duration::from_secs(5),
        )
    };
    assert!(all.contains("203.0.113.41"), "{all}");
    assert!(
        !all.contains("203.0.113.40"),
        "the line read before the restart came again: {all}"
    );
    srv.stop();
}

#[test]
fn store_keeps_the_window_and_the_tail_position_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(
        &log,
        format!(
            "{}\n",
            line(50, "Failed password for root from 203.0.113.50 port 1 ssh2")
        ),
    )
    .unwrap();
    let mut c = cfg();
    c.tail = vec![log.clone()];
    c.db = Some(dir.path().join("sshmap.db").display().to_string());
    let srv = Server::start(c.clone());
    let (mut sse, snap) = srv.stream();
    if !snap.contains("203.0.113.50") {
        assert!(read_sse(
            &mut sse,
            |t| t.contains("203.0.113.50"),
            Duration::from_secs(5)
        )
        .contains("203.0.113.50"));
    }
    let body = line(51, "Failed password for root from 203.0.113.51 port 1 ssh2");
    let resp = http(
        srv.addr,
        "POST",
        "/api/ingest",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body.as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    srv.stop();
    // No checkpoint file: the position must come from the store.
    let srv = Server::start(c);
    std::thread::sleep(Duration::from_millis(500));
    let resp = http(srv.addr, "GET", "/api/events", &[], b"");
    assert!(
        resp.contains("203.0.113.50") && resp.contains("203.0.113.51"),
        "window not refilled from the store: {resp}"
    );
    assert_eq!(
        resp.matches("\"kind\":\"auth_failure\"").count(),
        2,
        "the followed file was read again: {resp}"
    );
    srv.stop();
}

#[tokio::test]
async fn keep_prunes_old_raw_events_from_the_store_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sshmap.db").display().to_string();
    let c = ServeConfig {
        db: Some(db.clone()),
        ..cfg()
    };
    let r = serve::start(c.clone(), opts());
    let a = app(r.shared.clone());
    let old = "2020-01-02T03:04:05+00:00 web1 sshd[7]: Failed password for root from 203.0.113.60 port 1 ssh2";
    let body = format!(
        "{old}\n{}",
        line(8, "Failed password for root from 203.0.113.61 port 1 ssh2")
    );
    let (status, _) = call(&a, post(body, "text/plain", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    tokio::task::spawn_blocking(move || r.stop()).await.unwrap();
    let loc = sshmap::store::Location::parse(Some(&db)).unwrap();
    assert_eq!(
        sshmap::store::open(&loc).unwrap().count().unwrap(),
        2,
        "both stored"
    );
    // Restarted with --keep 30d: the 2020 event goes, today's stays.
    let r = serve::start(
        ServeConfig {
            keep: Some(Duration::from_secs(30 * 86_400)),
            ..c
        },
        opts(),
    );
    tokio::task::spawn_blocking(move || r.stop()).await.unwrap();
    let mut st = sshmap::store::open(&loc).unwrap();
    assert_eq!(st.count().unwrap(), 1);
    let mut ips = Vec::new();
    st.scan(&Default::default(), &mut |e| {
        ips.push(e.ip.unwrap().to_string())
    })
    .unwrap();
    assert_eq!(ips, ["203.0.113.61"]);
}

/// `SSHMAP_TEST_PG` (scripts/test-pg.sh), in a schema of its own so the store tests' resets do not interfere.
fn pg_url() -> Option<String> {
    let url = std::env::var("SSHMAP_TEST_PG")
        .ok()
        .filter(|s| !s.is_empty())?;
    let mut c = postgres::Client::connect(&url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("SSHMAP_TEST_PG={url} is set but unreachable: {e}"));
    c.batch_execute("DROP SCHEMA IF EXISTS serve_fanout CASCADE; CREATE SCHEMA serve_fanout")
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-c%20search_path%3Dserve_fanout"))
}

#[test]
fn two_instances_on_one_postgres_each_show_all_events() {
    let Some(url) = pg_url() else {
        eprintln!(
            "SSHMAP_TEST_PG not set: PostgreSQL fan-out test skipped (scripts/test-pg.sh sets it)"
        );
        return;
    };
    let a = Server::start(ServeConfig {
        db: Some(url.clone()),
        instance: "a".into(),
        ..cfg()
    });
    let b = Server::start(ServeConfig {
        db: Some(url),
        instance: "b".into(),
        ..cfg()
    });
    let (mut sa, _) = a.stream();
    let (mut sb, _) = b.stream();
    for (srv, ip) in [(&a, "203.0.113.60"), (&b, "203.0.113.61")] {
        let body = line(
            60,
            &format!("Failed password for root from {ip} port 1 ssh2"),
        );
        let resp = http(
            srv.addr,
            "POST",
            "/api/ingest",
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            body.as_bytes(),
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
    let got_a = read_sse(
        &mut sa,
        |t| t.contains("203.0.113.60") && t.contains("203.0.113.61"),
        Duration::from_secs(5),
    );
    let got_b = read_sse(
        &mut sb,
        |t| t.contains("203.0.113.60") && t.contains("203.0.113.61"),
        Duration::from_secs(5),
    );
    assert!(
        got_a.contains("203.0.113.61"),
        "A did not get B's event: {got_a}"
    );
    assert!(
        got_b.contains("203.0.113.60"),
        "B did not get A's event: {got_b}"
    );
    assert_eq!(
        got_a.matches("203.0.113.60").count(),
        1,
        "shown twice: {got_a}"
    );
    a.stop();
    b.stop();
}

#[test]
fn webhook_gets_the_alert_after_a_failed_delivery() {
    // A webhook receiver that fails the first delivery and accepts the second.
    let hook = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_addr = hook.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for (n, conn) in hook.incoming().enumerate() {
            let mut c = conn.unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 8192];
            // Headers, then as many body bytes as Content-Length says.
            loop {
                let k = c.read(&mut buf).unwrap_or(0);
                if k == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..k]);
                let t = String::from_utf8_lossy(&req).to_string();
                if let Some(end) = t.find("\r\n\r\n") {
                    let len: usize = t[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap())
                        })
                        .unwrap_or(0);
                    if req.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = c.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let _ = tx.send(String::from_utf8_lossy(&req).into_owned());
        }
    });
    let srv = Server::start(ServeConfig {
        webhook: Some(format!("http://{hook_addr}/hook")),
        alert_ip_failures: 1,
        ..cfg()
    });
    let body = [
        line(70, "Failed password for bob from 198.51.100.70 port 1 ssh2"),
        line(
            71,
            "Accepted password for bob from 198.51.100.70 port 2 ssh2",
        ),
    ]
    .join("\n");
    let resp = http(
        srv.addr,
        "POST",
        "/api/ingest",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body.as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let first = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("first delivery");
    let second = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("retried delivery");
    assert!(first.starts_with("POST /hook"), "{first}");
    assert!(
        second.contains("\"type\":\"alert\"") && second.contains("success_after_ip_failures"),
        "{second}"
    );
    std::thread::sleep(Duration::from_millis(200));
    let m = http(srv.addr, "GET", "/metrics", &[], b"");
    assert!(
        m.contains("sshmap_webhook_total{outcome=\"sent\"} 1"),
        "{m}"
    );
    srv.stop();
}

#[test]
fn cli_serve_prints_alerts_on_stderr_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("sshmap.toml");
    std::fs::write(&conf, format!("[serve]\nlisten = \"127.0.0.1:0\"\nwindow = \"2h\"\ndb = \"{}\"\ningest-token = [\"{TOKEN}\"]\nalert-ip-failures = 1\n", dir.path().join("s.db").display())).unwrap();
    let mut child = super::util::sshmap()
        .args(["serve", "--config"])
        .arg(&conf)
        .env("SSHMAP_DATA_DIR", dir.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut err, &mut first).unwrap();
    let addr: std::net::SocketAddr = first
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    assert!(first.contains("window 7200s"), "{first}");
    let body = [
        line(
            80,
            "Failed password for carol from 198.51.100.80 port 1 ssh2",
        ),
        line(
            81,
            "Accepted publickey for carol from 198.51.100.80 port 2 ssh2",
        ),
    ]
    .join("\n");
    let resp = http(
        addr,
        "POST",
        "/api/ingest",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body.as_bytes(),
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let mut alert = String::new();
    std::io::BufRead::read_line(&mut err, &mut alert).unwrap();
    assert!(
        alert.starts_with("sshmap: ALERT")
            && alert.contains("carol")
            && alert.contains("198.51.100.80"),
        "{alert}"
    );
    unsafe_kill(child.id(), 15);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

fn unsafe_kill(pid: u32, sig: i32) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// A restart reads the window holding only what it keeps: the page gets the
/// newest `max_events`, and the alerter's counts come back from failures
/// that are no longer on the page (a brute force before the restart, a login
/// after it, alerts).
#[tokio::test]
async fn restart_keeps_the_newest_events_and_the_alerters_counts() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("sshmap.db").display().to_string();
    let c = ServeConfig {
        db: Some(db.clone()),
        max_events: 50,
        ..cfg()
    };
    let r = serve::start(c.clone(), opts());
    let a = app(r.shared.clone());
    // The oldest: five failures from the brute forcer, then 200 others.
    let mut body = String::new();
    for i in 0..5 {
        body += &line(
            100 + i,
            "Failed password for root from 192.0.2.5 port 1 ssh2",
        );
        body.push('\n');
    }
    let (status, _) = call(&a, post(body, "text/plain", Some(TOKEN))).await;
    assert_eq!(status, StatusCode::OK);
    for i in 0..200u32 {
        let msg = format!(
            "Failed password for admin from 198.51.{}.{} port 1 ssh2",
            100 + i / 100,
            i % 100
        );
        let (status, _) = call(&a, post(line(1000 + i, &msg), "text/plain", Some(TOKEN))).await;
        assert_eq!(status, StatusCode::OK);
    }
    tokio::task::spawn_blocking(move || r.stop()).await.unwrap();

    let r = serve::start(c, opts());
    let a = app(r.shared.clone());
    let (_, evs) = call(&a, get("/api/events?limit=1000")).await;
    let v: serde_json::Value = serde_json::from_str(&evs).unwrap();
    let ips: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips.len(), 50, "{evs}");
    assert!(
        ips.contains(&"198.51.101.99"),
        "the newest is missing: {ips:?}"
    );
    assert!(
        !ips.contains(&"192.0.2.5") && !ips.contains(&"198.51.100.0"),
        "an old event came back: {ips:?}"
    );
    let resp = a.clone().oneshot(get("/api/stream")).await.unwrap();
    let mut stream = resp.into_body();
    read_until(&mut stream, Duration::from_secs(5), |s| s.contains("\n\n")).await;
    let (status, _) = call(
        &a,
        post(
            line(9, "Accepted password for root from 192.0.2.5 port 2 ssh2"),
            "text/plain",
            Some(TOKEN),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let live = read_until(&mut stream, Duration::from_secs(5), |s| {
        s.contains("event: alert")
    })
    .await;
    assert!(live.contains("success_after_ip_failures"), "{live}");
    tokio::task::spawn_blocking(move || r.stop()).await.unwrap();
}
