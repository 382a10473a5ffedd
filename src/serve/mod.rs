//! Serve: the live attack map — every live source feeds one pipeline, the web
//! app shows its window and streams each new event and alert.
//!
//! # Layout
//!
//! - [`config`]  — `serve` options resolved from flags, environment and `[serve]` in the file.
//! - [`state`]   — the window, the SSE tick ring, metrics; the [`state::AppState`] handlers share.
//! - [`feed`]    — the pipeline thread: lines → parse → correlate → GeoIP → alerts → publish.
//! - [`writer`]  — the store thread: commits events with checkpoints, answers senders, prunes (`--keep`).
//! - [`alerts`]  — intrusion rules and the webhook.
//! - [`ingest`]  — `POST /api/ingest` bodies (rsyslog omhttp JSON, plain lines).
//! - [`sources`] — `--tail`, `--journal`, `--syslog`.
//! - [`public`]  — the JSON the API sends, with `--anonymize-ip` applied.
//! - [`limits`]  — write deadlines, the memory budget, ingest rate limits.
//! - [`routes`]  — `fn app(state) -> Router`.
//!
//! [`run`] takes a bound listener and a shutdown future (as mini-redis'
//! `server::run`), so tests bind port 0 and stop it cleanly.

pub(crate) mod alerts;
pub(crate) mod config;
pub(crate) mod feed;
pub(crate) mod limits;
pub(crate) mod public;
pub(crate) mod routes;
pub(crate) mod sources;
pub(crate) mod state;
pub(crate) mod webhook;
pub(crate) mod writer;

use std::future::{Future, IntoFuture};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

pub use config::{ServeConfig, Token};
pub use feed::{FeedOptions, HOLD};
pub use routes::app;
pub use state::{AppState, Shared};

#[derive(Debug, Error)]
pub enum ServeError {
    #[error(
        "--syslog {addr}: cannot listen ({source}); pick a free port, ports below 1024 need root"
    )]
    Syslog {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("checkpoints: {0}")]
    Checkpoint(std::io::Error),
    #[error("web server: {0}")]
    Http(std::io::Error),
    #[error("{0}")]
    Store(String),
}

/// How long connections get to finish at shutdown before they are dropped.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A started pipeline without the web server (tests drive [`app`] over it).
pub struct Running {
    pub shared: AppState,
    feed: Option<std::thread::JoinHandle<()>>,
    ticker: Option<std::thread::JoinHandle<()>>,
    rx_guard: Option<mpsc::Sender<state::Batch>>,
    /// What the store held at start (resume positions of followed files).
    pub startup: feed::Startup,
}

/// Starts the pipeline thread (and the webhook task, which needs a runtime);
/// returns once the store (if any) is open and the window filled from it.
pub fn start(cfg: ServeConfig, mut opts: FeedOptions) -> Running {
    let (tx, rx) = mpsc::channel(feed::QUEUE);
    let shared = Arc::new(Shared::new(cfg, tx.clone()));
    if let Some(url) = shared.cfg.webhook.clone() {
        let (wtx, wrx) = mpsc::channel(webhook::WEBHOOK_QUEUE);
        opts.webhook = Some(wtx);
        tokio::spawn(webhook::webhook(url, wrx, shared.clone()));
    }
    let ticker = (!shared.cfg.sse_tick.is_zero()).then(|| {
        let s = shared.clone();
        std::thread::Builder::new()
            .name("sse-tick".into())
            .spawn(move || s.run_ticker())
            .expect("spawn sse-tick")
    });
    let s2 = shared.clone();
    let (stx, srx) = std::sync::mpsc::channel();
    let feed = std::thread::Builder::new()
        .name("pipeline".into())
        .spawn(move || feed::run(s2, rx, opts, stx))
        .expect("spawn pipeline");
    let startup = srx.recv().unwrap_or_default();
    #[cfg(feature = "postgres")]
    if let Some(url) = shared.cfg.db.clone().filter(|d| d.starts_with("postgres")) {
        spawn_listener(url, shared.clone());
    }
    if let Some(db) = shared.cfg.db.as_deref() {
        if db.starts_with("clickhouse://") {
            spawn_poller(shared.clone());
        }
    }
    spawn_hold_clock(shared.clone());
    Running {
        shared,
        feed: Some(feed),
        ticker,
        rx_guard: Some(tx),
        startup,
    }
}

/// Once a second the pipeline releases what connections silent on the wall
/// clock hold (a line whose connection never logs again must not wait for
/// ever). Dropped when the queue is full: lines are arriving then anyway.
fn spawn_hold_clock(shared: AppState) {
    let _ = std::thread::Builder::new()
        .name("hold-clock".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(1));
            if *shared.closing.borrow() || shared.ingest.is_closed() {
                return;
            }
            let _ = shared.ingest.try_send(named_batch(feed::TICK));
        });
}

fn remote_batch() -> state::Batch {
    named_batch(feed::REMOTE)
}

fn named_batch(name: &str) -> state::Batch {
    state::Batch {
        input: Arc::from(name),
        lines: Vec::new(),
        received: std::time::Instant::now(),
        ack: None,
        position: None,
    }
}

/// ClickHouse has no LISTEN/NOTIFY: every [`crate::store::clickhouse::POLL`]
/// the pipeline fetches the events other instances stored since its cursor
/// (as after a PostgreSQL announcement). Dropped when the queue is full.
fn spawn_poller(shared: AppState) {
    let _ = std::thread::Builder::new()
        .name("ch-poll".into())
        .spawn(move || loop {
            std::thread::sleep(crate::store::clickhouse::POLL);
            if *shared.closing.borrow() || shared.ingest.is_closed() {
                return;
            }
            let _ = shared.ingest.try_send(remote_batch());
        });
}

/// PostgreSQL LISTEN: each announcement makes the pipeline fetch the events
/// other instances stored. Reconnects with backoff; ends when the pipeline does.
#[cfg(feature = "postgres")]
fn spawn_listener(url: String, shared: AppState) {
    let _ = std::thread::Builder::new()
        .name("pg-listen".into())
        .spawn(move || {
            let mut delay = Duration::from_millis(500);
            loop {
                match crate::store::postgres::Listener::connect(&url) {
                    Ok(mut l) => {
                        delay = Duration::from_millis(500);
                        // Events stored between the start (or a lost connection) and this LISTEN.
                        let _ = shared.ingest.try_send(remote_batch());
                        loop {
                            if *shared.closing.borrow() {
                                return;
                            }
                            match l.next(Duration::from_millis(500)) {
                                Ok(Some(_)) => {
                                    let _ = shared.ingest.try_send(remote_batch());
                                }
                                Ok(None) => {}
                                Err(e) => {
                                    eprintln!("sshmap: PostgreSQL LISTEN: {e}; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => eprintln!("sshmap: PostgreSQL LISTEN: {e}; retrying"),
                }
                if *shared.closing.borrow() {
                    return;
                }
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(30));
            }
        });
}

impl Running {
    /// Stops the pipeline once every line already sent is published.
    pub fn stop(mut self) {
        self.rx_guard.take();
        // The state keeps a sender too: a stop batch ends the loop once the queue drained.
        let _ = self.shared.ingest.try_send(feed::stop_batch());
        if let Some(f) = self.feed.take() {
            let _ = f.join();
        }
        // After the pipeline: its last events go out in a final tick.
        self.shared.stop_ticker();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// Runs `serve` on `listener` until `shutdown` completes; then stops the
/// sources, lets the pipeline drain and writes the checkpoints.
pub async fn run(
    listener: TcpListener,
    cfg: ServeConfig,
    opts: FeedOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let cps =
        sources::CheckpointSet::load(cfg.checkpoint.clone()).map_err(ServeError::Checkpoint)?;
    let syslog = match cfg.syslog {
        Some(addr) => {
            let udp = tokio::net::UdpSocket::bind(addr)
                .await
                .map_err(|source| ServeError::Syslog { addr, source })?;
            let tcp = TcpListener::bind(addr)
                .await
                .map_err(|source| ServeError::Syslog { addr, source })?;
            Some((udp, tcp))
        }
        None => None,
    };
    // Blocks this worker briefly while the store opens: only at start.
    let running = start(cfg, opts);
    if let Some(e) = &running.startup.error {
        let e = ServeError::Store(e.clone());
        tokio::task::spawn_blocking(move || running.stop())
            .await
            .ok();
        return Err(e);
    }
    let shared = running.shared.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let tails: Vec<_> = shared
        .cfg
        .tail
        .iter()
        .map(|p| {
            let resume = running
                .startup
                .resume
                .get(&p.display().to_string())
                .cloned();
            sources::spawn_tail(p.clone(), shared.clone(), cps.clone(), resume, stop.clone())
        })
        .collect();
    let mut tasks = Vec::new();
    if let Some((udp, tcp)) = syslog {
        tasks.push(tokio::spawn(sources::syslog(udp, tcp, shared.clone())));
    }
    if shared.cfg.journal {
        let (s, c) = (shared.clone(), cps.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = sources::journal(s, c).await {
                eprintln!("sshmap: --journal: {e}; is journalctl installed?");
            }
        }));
    }
    {
        // Expire the window and save checkpoints every second: a crash loses at most a second of progress.
        let (s, c) = (shared.clone(), cps.clone());
        tasks.push(tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(1));
            loop {
                t.tick().await;
                s.expire();
                if let Err(e) = c.flush() {
                    eprintln!("sshmap: saving checkpoints: {e}");
                }
            }
        }));
    }
    {
        // Memory goes back to the system after a burst of big answers.
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut t = tokio::time::interval(Duration::from_secs(2));
            loop {
                t.tick().await;
                if s.budget.limit == 0 || s.budget.rss() > s.budget.limit / 8 {
                    limits::release_memory();
                }
            }
        }));
    }
    let closing = shared.closing.clone();
    let (signalled_tx, signalled) = tokio::sync::oneshot::channel::<()>();
    let shut = async move {
        shutdown.await;
        // SSE streams never end by themselves: tell them to, or the graceful shutdown waits forever.
        let _ = closing.send(true);
        let _ = signalled_tx.send(());
    };
    let listener = limits::Listener::new(
        listener,
        shared.conns.clone(),
        shared.cfg.write_timeout,
        shared.cfg.max_connections,
    );
    let server = axum::serve(
        listener,
        app(shared.clone()).into_make_service_with_connect_info::<limits::ConnInfo>(),
    )
    .with_graceful_shutdown(shut)
    .into_future();
    // Graceful, but bounded: a client that does not read what is left of its
    // answer keeps its connection open, and SIGTERM must end the process
    // within seconds whatever clients do (DESIGN §6). Connections still open
    // after the grace are dropped with the runtime.
    let res = tokio::select! {
        r = server => r,
        _ = async {
            if signalled.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        } => Ok(()),
    };
    stop.store(true, Relaxed);
    for t in &tasks {
        t.abort();
    }
    // An aborted task stops at its next await, not at once: the periodic
    // checkpoint task may be inside a flush, which writes the same temporary
    // file as the final flush below (the loser's rename failed and `serve`
    // exited 2 on SIGTERM). Wait until they are gone.
    for t in tasks {
        let _ = t.await;
    }
    // Tail threads finish their batch in flight (acknowledged, then checkpointed).
    let joins = tokio::task::spawn_blocking(move || {
        for t in tails {
            let _ = t.join();
        }
    });
    let _ = joins.await;
    let flushed = cps.flush();
    tokio::task::spawn_blocking(move || running.stop())
        .await
        .ok();
    res.map_err(ServeError::Http)?;
    flushed.map_err(ServeError::Checkpoint)
}

/// Completes on SIGINT or SIGTERM.
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
