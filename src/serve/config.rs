//! `serve` options as plain values (resolved from flags, `SSHMAP_*` variables and the
//! `[serve]` table of the config file in `commands::serve`: flag > env > file > default).
//!
//! Lists (`tail`, `ingest-token`) and the `[[serve.tokens]]` table come from the
//! file only in addition to the flags: a token given on the command line does
//! not hide the ones with host restrictions in the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

/// An ingest token and the host names it may send lines for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub secret: String,
    /// Shown in metrics and logs instead of the secret.
    pub name: String,
    /// `None`: any host. Otherwise the lines' host names must be in the list.
    pub hosts: Option<Vec<String>>,
}

/// Everything `serve` needs, as plain values.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub tail: Vec<PathBuf>,
    pub journal: bool,
    /// Follow the journal files in this directory instead of the system's journal.
    pub journal_dir: Option<PathBuf>,
    pub syslog: Option<SocketAddr>,
    pub db: Option<String>,
    pub window: Duration,
    pub tokens: Vec<Token>,
    /// (lat, lon) of the server: arcs end there.
    pub home: Option<(f64, f64)>,
    pub anonymize_ip: bool,
    pub webhook: Option<String>,
    /// `POST /api/ingest` bodies above this are refused with 413.
    pub max_body: usize,
    /// Events kept in memory for the window, whatever its length.
    pub max_events: usize,
    /// Events a new SSE client gets in its snapshot (the newest ones).
    pub snapshot_events: usize,
    /// Messages an SSE client may fall behind before it is dropped.
    pub sse_buffer: usize,
    /// SSE frames are sent in ticks of this length: each client wakes and
    /// writes once per tick, however many events it brings. Zero: at once.
    pub sse_tick: Duration,
    /// Raw events older than this are deleted from the store (at start and
    /// hourly; rollups are kept). `None`: kept for ever.
    pub keep: Option<Duration>,
    /// `auth_success` after this many failures from the same address raises an alert.
    pub alert_ip_failures: u32,
    /// `auth_success` after this many failures for the same user raises an alert.
    pub alert_user_failures: u32,
    /// Where tail checkpoints are kept; `None`: no checkpoints.
    pub checkpoint: Option<PathBuf>,
    /// How often followed files are checked.
    pub poll: Duration,
    /// This instance's name in a shared store (default: the host name): its
    /// streams' checkpoints and, on PostgreSQL, its events' `src.input` suffix.
    pub instance: String,
    /// When set, `/`, `/metrics` and `/api/*` (but `/healthz` and the ingest,
    /// which has its own tokens) need it: `Authorization: Bearer`, or HTTP
    /// basic auth with it as the password (what a browser asks for).
    pub read_token: Option<String>,
    /// The resident memory the server keeps to (DESIGN §6): above 90 % of it,
    /// new pages, streams and API answers get 503 until memory is back. Zero:
    /// none — the library's default, since a process that embeds the server
    /// (a test binary) has memory of its own; `sshmap serve` resolves
    /// [`DEFAULT_MEMORY_BUDGET_MB`].
    pub memory_budget: u64,
    /// `POST /api/ingest` requests per second per client (address and token),
    /// with bursts of twice that; more get 429. Zero: no limit. The default
    /// (1 000) leaves room for senders that post every few milliseconds
    /// (`examples/serve_load.rs` posts every 10 ms on four connections).
    pub ingest_rate: f64,
    /// SSE clients at most; more get 503.
    pub max_sse_clients: usize,
    /// Open connections at most; more are closed at once.
    pub max_connections: usize,
    /// A write to a client that makes no progress for this long closes the
    /// connection (SSE readers that stopped reading, slow loris readers).
    pub write_timeout: Duration,
}

impl ServeConfig {
    /// The alert rules' thresholds.
    pub fn alert_thresholds(&self) -> super::alerts::Thresholds {
        super::alerts::Thresholds {
            ip_failures: self.alert_ip_failures,
            user_failures: self.alert_user_failures,
        }
    }
}

/// The machine's host name, for [`ServeConfig::instance`].
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8022)),
            tail: Vec::new(),
            journal: false,
            journal_dir: None,
            syslog: None,
            db: None,
            window: Duration::from_secs(5 * 3600),
            tokens: Vec::new(),
            home: None,
            anonymize_ip: false,
            webhook: None,
            max_body: 4 << 20,
            max_events: 100_000,
            snapshot_events: 20_000,
            sse_buffer: 4096,
            sse_tick: Duration::from_millis(DEFAULT_TICK_MS),
            keep: None,
            alert_ip_failures: super::alerts::Thresholds::DEFAULT_IP_FAILURES,
            alert_user_failures: super::alerts::Thresholds::DEFAULT_USER_FAILURES,
            checkpoint: None,
            poll: Duration::from_millis(100),
            instance: hostname(),
            read_token: None,
            memory_budget: 0,
            ingest_rate: 1000.0,
            max_sse_clients: 2000,
            max_connections: 4096,
            write_timeout: Duration::from_secs(5),
        }
    }
}

/// Default [`ServeConfig::memory_budget`], MiB (`memory-budget-mb`).
pub const DEFAULT_MEMORY_BUDGET_MB: u64 = 512;

/// Default [`ServeConfig::sse_tick`]: short enough to look instant on the map,
/// long enough that a thousand clients cost little at a thousand events a second.
pub const DEFAULT_TICK_MS: u64 = 50;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("--window: {0}")]
    Window(crate::duration::DurationError),
    #[error("--keep: {0}")]
    Keep(crate::duration::DurationError),
    #[error("--home {0:?}: expected LAT,LON in degrees, e.g. 48.85,2.35")]
    Home(String),
    #[error("{flag} {value:?}: not a socket address (use e.g. 127.0.0.1:8022 or [::]:514)")]
    Addr { flag: &'static str, value: String },
    #[error(
        "[[serve.tokens]] entry {0}: needs token = \"...\" and optionally hosts = [\"web1\", ...]"
    )]
    Token(usize),
    #[error("{0}")]
    Other(String),
}

/// `90s`, `30m`, `1.5h`, `2d`, or plain seconds, longer than zero: the one
/// checked parser ([`crate::duration`]) behind flags, the file and queries.
pub fn parse_duration(s: &str) -> Result<Duration, crate::duration::DurationError> {
    crate::duration::parse_positive(s)
}
