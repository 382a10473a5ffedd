//! The web app: `fn app(state) -> Router` and its handlers (DESIGN §1 routes).
//!
//! - `GET /` — the live map page (assets compiled in);
//! - `GET /api/stream` — SSE: a `snapshot` of the window, then `event` and `alert` messages;
//! - `GET /api/events?since=&until=&kind=&limit=`, `GET /api/stats?window=&top=`;
//! - `POST /api/ingest` — bearer token, size-limited, omhttp JSON or plain lines;
//! - `GET /healthz`, `GET /metrics` (Prometheus text).
//!
//! With `--read-token`, everything but `/healthz`, the static assets and the
//! ingest (its own tokens) needs that token. Heavy answers keep to the memory
//! budget (DESIGN §6): the page is rendered once a second whatever the number
//! of readers, `/api/events` is streamed, each heavy route builds a few answers
//! at once (429 beyond), and above the budget they answer 503.

use std::convert::Infallible;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::limits::{ConnInfo, ConnState};
use super::state::{AppState, Batch, Next};
use crate::analyze::{Aggregate, AggregateOptions};
use crate::event::Kind;
use crate::source::http as ingest;

const SCRIPT: &str = include_str!("../../assets/web/live.js");
const STYLE: &str = include_str!("../../assets/web/live.css");
/// Comment frames keep idle connections (and proxies) alive and detect gone clients.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// How long the rendered page is shared (the stream brings it up to date).
const PAGE_TTL: Duration = Duration::from_secs(1);
/// How long a request waits for a free slot on a heavy route before 429.
const SLOT_WAIT: Duration = Duration::from_secs(2);
/// `/api/events` is written in pieces of about this size.
const EVENTS_CHUNK: usize = 64 << 10;

/// The router over a running state.
pub fn app(state: AppState) -> Router {
    // Behind the read token when there is one.
    let reader = Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics))
        .route("/api/events", get(events))
        .route("/api/stats", get(stats))
        .route("/api/stream", get(stream))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_auth,
        ));
    Router::new()
        .merge(reader)
        .route(
            "/live.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/live.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/ingest", post(ingest_handler))
        .with_state(state)
}

/// `--read-token`: `Authorization: Bearer TOKEN`, or basic auth with TOKEN as
/// the password (any user name), which is what a browser asks for.
async fn read_auth(
    State(s): State<AppState>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let Some(want) = s.cfg.read_token.as_deref() else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .and_then(|(scheme, v)| {
            if scheme.eq_ignore_ascii_case("bearer") {
                Some(v.trim().to_string())
            } else if scheme.eq_ignore_ascii_case("basic") {
                use base64::Engine as _;
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()?;
                let text = String::from_utf8(raw).ok()?;
                text.split_once(':').map(|(_, pw)| pw.to_string())
            } else {
                None
            }
        });
    if given.is_some_and(|g| constant_time_eq(g.as_bytes(), want.as_bytes())) {
        return next.run(req).await;
    }
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "this map is private: give the read token (Authorization: Bearer TOKEN, or the password of HTTP basic auth)",
    );
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"sshmap\", charset=\"UTF-8\""),
    );
    r
}

/// The connection a request came on (absent in `oneshot` tests).
type Conn = Option<Extension<ConnectInfo<ConnInfo>>>;

fn conn_state(c: &Conn) -> Option<Arc<ConnState>> {
    c.as_ref()
        .map(|Extension(ConnectInfo(ConnInfo(s)))| s.clone())
}

/// 503 above the memory budget.
fn over_budget(s: &AppState) -> Option<Response> {
    s.budget.over().then(|| {
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is at its memory budget: try again in a few seconds",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        r
    })
}

/// A slot on a heavy route, or 429 after [`SLOT_WAIT`].
async fn slot(
    s: &AppState,
    sem: &Arc<tokio::sync::Semaphore>,
) -> Result<tokio::sync::OwnedSemaphorePermit, Response> {
    match tokio::time::timeout(SLOT_WAIT, sem.clone().acquire_owned()).await {
        Ok(Ok(p)) => Ok(p),
        _ => {
            s.metrics.refused_busy.fetch_add(1, Relaxed);
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests of this kind at once: try again in a moment",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Err(r)
        }
    }
}

fn asset(ct: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ct),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The report's policy (its inline script and style by hash, nothing from the
/// network) plus what the live layer needs: its own script and style, and the stream.
/// `frame-ancestors` only works in the HTTP header (browsers ignore it, with a
/// console error, in the page's `<meta>`), so the header adds it.
fn live_csp() -> String {
    crate::report::csp()
        .replacen("script-src ", "script-src 'self' ", 1)
        .replacen("style-src ", "style-src 'self' ", 1)
        + "; connect-src 'self'"
}

/// `GET /`: the report's page (world map, totals, timeline, tables) rendered
/// from the window, with the live layer (`live.js`) that folds in each new
/// event from the stream, pulses, arcs, the feed, alerts and the replay.
async fn page(State(s): State<AppState>) -> Response {
    if let Some(r) = over_budget(&s) {
        return r;
    }
    // One render at a time, shared for PAGE_TTL: a hundred readers cost one page.
    let html = {
        let mut cache = match tokio::time::timeout(SLOT_WAIT * 5, s.page_cache.lock()).await {
            Ok(c) => c,
            Err(_) => {
                s.metrics.refused_busy.fetch_add(1, Relaxed);
                return error(StatusCode::TOO_MANY_REQUESTS, "busy: try again in a moment");
            }
        };
        match cache.as_ref() {
            Some((at, html)) if at.elapsed() < PAGE_TTL => html.clone(),
            _ => {
                *cache = None;
                let html = Bytes::from(render_page(&s).await);
                *cache = Some((Instant::now(), html.clone()));
                html
            }
        }
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_string()),
            (
                header::CONTENT_SECURITY_POLICY,
                live_csp() + "; frame-ancestors 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
        ],
        html,
    )
        .into_response()
}

async fn render_page(s: &AppState) -> String {
    let items = s.events(None, None, &[], s.cfg.snapshot_events);
    let (anon, home) = (s.cfg.anonymize_ip, s.cfg.home);
    let window = s.cfg.window.as_secs();
    // The alert rules with their thresholds, in words: the page states them.
    let alert_rules = s.cfg.alert_thresholds().describe(s.cfg.window);
    let html = tokio::task::spawn_blocking(move || {
        let mut c = Aggregate::new(AggregateOptions { details: true, ..AggregateOptions::default() });
        for i in &items {
            if let Some(e) = i.event() {
                c.add(e);
            }
        }
        drop(items);
        let summary = c.summary(10, Vec::new());
        // The time axis covers the whole window, so that live events fall on it.
        let now = crate::serve::state::now_micros() / 1_000_000;
        let span = Some((now - window as i64, now));
        let snap = crate::report::Snapshot::build(&c, &crate::report::Options { title: "sshmap live".into(), anonymize_ip: anon, span }, &summary);
        drop(c);
        // With --anonymize-ip, render is where the anonymizer runs over the page's data.
        let mut html = crate::report::render(&snap);
        drop(snap);
        let csp = crate::escape::html(&crate::report::csp()).into_owned();
        html = html.replacen(&csp, &crate::escape::html(&live_csp()), 1);
        let live = serde_json::json!({
            "home": home.map(|(lat, lon)| { let (x, y) = crate::report::world::project(lon, lat); [x, y] }),
            "window_seconds": window,
            "anonymized": anon,
            "alert_rules": alert_rules,
        });
        html = html.replacen("</head>", "<link rel=\"stylesheet\" href=\"live.css\">\n</head>", 1);
        html.replacen(
            "</body>",
            &format!(
                "<script type=\"application/json\" id=\"sshmap-live\">{}</script>\n<script src=\"live.js\"></script>\n</body>",
                crate::report::script_json(&live)
            ),
            1,
        )
    })
    .await
    .unwrap_or_default();
    super::limits::release_memory();
    html
}

async fn metrics(State(s): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics_text(),
    )
        .into_response()
}

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.into(),
    )
        .into_response()
}

fn error(status: StatusCode, msg: &str) -> Response {
    json_response(status, serde_json::json!({ "error": msg }).to_string())
}

/// RFC 3339, a date, or Unix seconds → microseconds.
fn parse_time(s: &str) -> Option<i64> {
    if let Ok(secs) = s.parse::<f64>() {
        return Some((secs * 1e6) as i64);
    }
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_microsecond());
    }
    s.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .map(|z| z.timestamp().as_microsecond())
}

#[derive(Deserialize)]
struct EventsQuery {
    since: Option<String>,
    until: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
}

async fn events(State(s): State<AppState>, Query(q): Query<EventsQuery>) -> Response {
    if let Some(r) = over_budget(&s) {
        return r;
    }
    let since = match q.since.as_deref().map(|t| parse_time(t).ok_or(t)) {
        Some(Err(t)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("since={t:?}: use RFC 3339, YYYY-MM-DD or Unix seconds"),
            )
        }
        Some(Ok(v)) => Some(v),
        None => None,
    };
    let until = match q.until.as_deref().map(|t| parse_time(t).ok_or(t)) {
        Some(Err(t)) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("until={t:?}: use RFC 3339, YYYY-MM-DD or Unix seconds"),
            )
        }
        Some(Ok(v)) => Some(v),
        None => None,
    };
    let mut kinds = Vec::new();
    for k in q
        .kind
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|k| !k.is_empty())
    {
        match Kind::from_name(k) {
            Some(k) => kinds.push(k),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("kind={k:?}: not an event kind (auth_failure, auth_success, …)"),
                )
            }
        }
    }
    let permit = match slot(&s, &s.slots_events).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let items = s.events(since, until, &kinds, q.limit.unwrap_or(10_000).min(100_000));
    // Written in pieces from the shared items: a reader costs a piece of
    // memory at a time, not a copy of its whole answer.
    let body = futures_util::stream::unfold(
        (items, 0usize, permit),
        |(items, mut i, permit)| async move {
            if i > items.len() {
                return None;
            }
            let mut buf = Vec::with_capacity(EVENTS_CHUNK + 1024);
            if i == 0 {
                buf.push(b'[');
            }
            while i < items.len() && buf.len() < EVENTS_CHUNK {
                if i > 0 {
                    buf.push(b',');
                }
                buf.extend_from_slice(&items[i].json);
                i += 1;
            }
            if i == items.len() {
                buf.push(b']');
                i += 1;
            }
            Some((
                Ok::<Bytes, Infallible>(Bytes::from(buf)),
                (items, i, permit),
            ))
        },
    );
    json_response(StatusCode::OK, Body::from_stream(body))
}

#[derive(Deserialize)]
struct StatsQuery {
    window: Option<String>,
    top: Option<usize>,
}

async fn stats(State(s): State<AppState>, Query(q): Query<StatsQuery>) -> Response {
    if let Some(r) = over_budget(&s) {
        return r;
    }
    let window = match q.window.as_deref() {
        None => s.window(),
        Some(w) => match super::config::parse_duration(w) {
            Ok(d) => d.min(s.window()),
            Err(e) => return error(StatusCode::BAD_REQUEST, &format!("window: {e}")),
        },
    };
    let _permit = match slot(&s, &s.slots_stats).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let since = super::state::now_micros().saturating_sub(window.as_micros() as i64);
    let items = s.events(Some(since), None, &[], usize::MAX);
    let top = q.top.unwrap_or(10).min(1000);
    // Aggregating a window of events takes milliseconds: off the async workers.
    let anon = s.cfg.anonymize_ip;
    let summary = tokio::task::spawn_blocking(move || {
        let mut st = Aggregate::default();
        for i in &items {
            if let Some(e) = i.event() {
                st.add(e);
            }
        }
        let mut sum = st.summary(top, Vec::new());
        if anon {
            super::public::scrub_summary(&mut sum);
        }
        sum
    })
    .await;
    match summary {
        Ok(sum) => {
            let mut v = serde_json::to_value(&sum).unwrap_or_default();
            if anon {
                // Every string, not only the fields that should hold addresses.
                crate::anonymize::json(&mut v);
            }
            if let Some(o) = v.as_object_mut() {
                o.insert("window_seconds".into(), window.as_secs().into());
                o.remove("inputs");
            }
            json_response(StatusCode::OK, v.to_string())
        }
        Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "stats failed"),
    }
}

/// Keeps the client gauges however the stream ends, and counts a client that
/// was closed because it stopped reading as dropped.
struct ClientGuard {
    shared: AppState,
    conn: Option<Arc<ConnState>>,
    /// The snapshot is not handed to the connection yet.
    snapshot: bool,
}

impl ClientGuard {
    fn snapshot_sent(&mut self) {
        if std::mem::take(&mut self.snapshot) {
            self.shared.metrics.sse_snapshot.fetch_sub(1, Relaxed);
        }
    }
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.snapshot_sent();
        self.shared.metrics.sse_clients.fetch_sub(1, Relaxed);
        if let Some(c) = &self.conn {
            c.set_sse(false);
            if c.timed_out() {
                self.shared.metrics.sse_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// `GET /api/stream`. A client costs the shared snapshot (one for every client
/// that connects within a second) and references to the shared ticks it has
/// not written; one that falls [`super::ServeConfig::sse_buffer`] messages
/// behind, or whose writes make no progress for
/// [`super::ServeConfig::write_timeout`], is dropped, never buffered.
async fn stream(State(s): State<AppState>, conn: Conn) -> Response {
    if let Some(r) = over_budget(&s) {
        return r;
    }
    if s.metrics.sse_clients.load(Relaxed) >= s.cfg.max_sse_clients as i64 {
        s.metrics.refused_sse.fetch_add(1, Relaxed);
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many live clients: try again later",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return r;
    }
    let conn = conn_state(&conn);
    s.metrics.sse_clients.fetch_add(1, Relaxed);
    s.metrics.sse_snapshot.fetch_add(1, Relaxed);
    if let Some(c) = &conn {
        c.set_sse(true);
    }
    let guard = ClientGuard {
        shared: s.clone(),
        conn,
        snapshot: true,
    };
    let ticks = s.ticks();
    let start = s.sse_start();

    struct St {
        first: Option<Bytes>,
        /// Ticks (slices of the shared buffers) not written yet, oldest first.
        queue: std::collections::VecDeque<Bytes>,
        next_tick: u64,
        /// Messages before this one were in the snapshot.
        next_seq: u64,
        ticks: tokio::sync::watch::Receiver<u64>,
        guard: ClientGuard,
        closing: tokio::sync::watch::Receiver<bool>,
    }
    let closing = s.closing.subscribe();
    let st = St {
        first: Some(start.first),
        queue: Default::default(),
        next_tick: start.next_tick,
        next_seq: start.next_seq,
        ticks,
        guard,
        closing,
    };
    let body = futures_util::stream::unfold(st, |mut st| async move {
        if let Some(f) = st.first.take() {
            return Some((Ok::<Bytes, Infallible>(f), st));
        }
        // Asked for more: the connection took the snapshot.
        st.guard.snapshot_sent();
        loop {
            if *st.closing.borrow() {
                return None;
            }
            // One tick per write, each a slice of the buffer every client shares.
            if let Some(b) = st.queue.pop_front() {
                return Some((Ok(b), st));
            }
            // Marked seen before looking at the ring: a tick added after the
            // look changes the value again and wakes this client.
            st.ticks.borrow_and_update();
            match st.guard.shared.next_ticks(&mut st.next_tick) {
                Next::Ticks(ticks) => {
                    let seq = std::mem::take(&mut st.next_seq);
                    st.queue.extend(
                        ticks
                            .iter()
                            .map(|t| t.from_seq(seq))
                            .filter(|b| !b.is_empty()),
                    );
                    continue;
                }
                Next::Lagged => {
                    // Too slow: dropped, not buffered. The browser reconnects and gets a fresh snapshot.
                    st.guard.shared.metrics.sse_dropped.fetch_add(1, Relaxed);
                    return None;
                }
                Next::Nothing => {}
            }
            tokio::select! {
                n = tokio::time::timeout(KEEPALIVE, st.ticks.changed()) => match n {
                    Err(_) => return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), st)),
                    Ok(Err(_)) => return None,
                    Ok(Ok(())) => {}
                },
                _ = st.closing.changed() => return None,
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// The token that `Authorization: Bearer …` names, if any.
fn bearer<'a>(s: &'a AppState, headers: &HeaderMap) -> Option<&'a super::config::Token> {
    let h = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, given) = h.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let given = given.trim().as_bytes();
    s.cfg
        .tokens
        .iter()
        .find(|t| constant_time_eq(t.secret.as_bytes(), given))
}

/// Compares without stopping at the first difference (no timing oracle on the secret).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn too_many(s: &AppState, wait: f64) -> Response {
    s.metrics.refused_rate.fetch_add(1, Relaxed);
    s.metrics.ingest_error("rate_limited");
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many ingest requests from this client: send bigger batches less often",
    );
    if let Ok(v) = HeaderValue::from_str(&format!("{}", wait.ceil().max(1.0) as u64)) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

async fn ingest_handler(State(s): State<AppState>, conn: Conn, req: Request) -> Response {
    let received = Instant::now();
    let peer = conn_state(&conn).map(|c| c.peer.ip());
    // Authentication comes before the body is read: no token, no work.
    let Some(token) = bearer(&s, req.headers()) else {
        // Guesses count against the client's rate like requests do.
        if let Err(wait) = s.ingest_limiter.check(peer, "") {
            return too_many(&s, wait);
        }
        s.metrics.ingest_error("unauthorized");
        let mut r = error(
            StatusCode::UNAUTHORIZED,
            if s.cfg.tokens.is_empty() {
                "ingest is disabled: start serve with --ingest-token TOKEN (or tokens in the config file)"
            } else {
                "missing or wrong bearer token (Authorization: Bearer TOKEN)"
            },
        );
        r.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    };
    if let Err(wait) = s.ingest_limiter.check(peer, &token.name) {
        return too_many(&s, wait);
    }
    let limit = s.cfg.max_body;
    let too_large = || {
        s.metrics.ingest_error("too_large");
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("body over {limit} bytes: send smaller batches"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(_) => return too_large(),
    };
    let lines = match ingest::decode(ct.as_deref(), &body) {
        Ok(l) => l,
        Err(e) => {
            s.metrics.ingest_error(e.reason());
            return error(StatusCode::BAD_REQUEST, &e.to_string());
        }
    };
    if let Some(allowed) = &token.hosts {
        // The host of each line as the parser reads it (DESIGN §6), whatever the format.
        let bad = lines.iter().map(ingest::Line::host).find(|h| {
            !h.as_deref()
                .is_some_and(|h| allowed.iter().any(|a| a.eq_ignore_ascii_case(h)))
        });
        if let Some(bad) = bad {
            s.metrics.ingest_error("forbidden_host");
            let host = bad
                .as_deref()
                .map(|h| crate::escape::terminal(h).into_owned())
                .unwrap_or_else(|| "(none)".into());
            return error(
                StatusCode::FORBIDDEN,
                &format!(
                    "token {:?} may not send lines for host {host:?}; nothing was stored",
                    token.name
                ),
            );
        }
    }
    s.metrics.ingest_requests.fetch_add(1, Relaxed);
    if lines.is_empty() {
        return json_response(StatusCode::OK, r#"{"lines":0,"events":0,"skipped":0}"#);
    }
    let (ack, done) = oneshot::channel();
    let batch = Batch {
        input: Arc::from(format!("http:{}", token.name)),
        lines: lines.into_iter().map(|l| l.text).collect(),
        received,
        ack: Some(ack),
        position: None,
    };
    if s.ingest.send(batch).await.is_err() {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    // Answer only once the lines went through: a 200 means they are in.
    match done.await {
        Ok(r) => json_response(
            StatusCode::OK,
            serde_json::to_string(&r).unwrap_or_default(),
        ),
        Err(_) => error(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}
