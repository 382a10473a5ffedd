//! `serve` options, resolved once from flags, `SSHMAP_*` variables and the
//! `[serve]` table of the config file (flag > env > file > default).
//!
//! Lists (`tail`, `ingest-token`) and the `[[serve.tokens]]` table come from the
//! file only in addition to the flags: a token given on the command line does
//! not hide the ones with host restrictions in the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use crate::cli::ServeArgs;
use crate::settings::Layers;

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
            alert_user_failures: 5,
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

fn parse_home(s: &str) -> Option<(f64, f64)> {
    let (a, b) = s.split_once(',')?;
    let lat: f64 = a.trim().parse().ok()?;
    let lon: f64 = b.trim().parse().ok()?;
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

fn addr(flag: &'static str, s: &str) -> Result<SocketAddr, ConfigError> {
    s.parse().map_err(|_| ConfigError::Addr {
        flag,
        value: s.to_string(),
    })
}

impl ServeConfig {
    /// Resolves the `serve` options: flag > `SSHMAP_*` > `[serve]` in the file > default.
    pub fn resolve(
        args: &ServeArgs,
        layers: &Layers,
        data_dir: Option<&std::path::Path>,
    ) -> Result<ServeConfig, ConfigError> {
        let d = ServeConfig::default();
        let get = |flag: Option<String>, key: &str| -> Result<Option<String>, ConfigError> {
            layers
                .get(flag, Some("serve"), key)
                .map_err(|e| ConfigError::Other(format!("{e:#}")))
        };
        let listen = match get(args.listen.clone(), "listen")? {
            Some(s) => addr("--listen", &s)?,
            None => d.listen,
        };
        let syslog = get(args.syslog.clone(), "syslog")?
            .map(|s| addr("--syslog", &s))
            .transpose()?;
        let window = match get(args.window.clone(), "window")? {
            Some(s) => parse_duration(&s).map_err(ConfigError::Window)?,
            None => d.window,
        };
        let keep = get(args.keep.clone(), "keep")?
            .map(|s| parse_duration(&s).map_err(ConfigError::Keep))
            .transpose()?;
        let home = get(args.home.clone(), "home")?
            .map(|s| parse_home(&s).ok_or(ConfigError::Home(s)))
            .transpose()?;
        let bool_opt = |flag: bool, key: &str| -> Result<bool, ConfigError> {
            Ok(flag
                || layers
                    .get::<bool>(None, Some("serve"), key)
                    .map_err(|e| ConfigError::Other(format!("{e:#}")))?
                    .unwrap_or(false))
        };
        let num = |key: &str, default: usize| -> Result<usize, ConfigError> {
            Ok(layers
                .get::<usize>(None, Some("serve"), key)
                .map_err(|e| ConfigError::Other(format!("{e:#}")))?
                .unwrap_or(default))
        };

        let mut tail = args.tail.clone();
        tail.extend(
            strings(layers.file_value(Some("serve"), "tail"))
                .into_iter()
                .map(PathBuf::from),
        );
        let mut tokens: Vec<Token> = args
            .ingest_token
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, secret)| Token {
                secret,
                name: format!("flag{}", i + 1),
                hosts: None,
            })
            .collect();
        if let Ok(env) = std::env::var("SSHMAP_INGEST_TOKEN") {
            // Several tokens in one variable, comma-separated.
            for (i, s) in env.split(',').filter(|s| !s.is_empty()).enumerate() {
                tokens.push(Token {
                    secret: s.to_string(),
                    name: format!("env{}", i + 1),
                    hosts: None,
                });
            }
        }
        for (i, s) in strings(layers.file_value(Some("serve"), "ingest-token"))
            .into_iter()
            .enumerate()
        {
            tokens.push(Token {
                secret: s,
                name: format!("file{}", i + 1),
                hosts: None,
            });
        }
        if let Some(list) = layers.file_value(Some("serve"), "tokens") {
            let arr = list.as_array().ok_or(ConfigError::Token(0))?;
            for (i, t) in arr.iter().enumerate() {
                let tbl = t.as_table().ok_or(ConfigError::Token(i + 1))?;
                let secret = tbl
                    .get("token")
                    .and_then(|v| v.as_str())
                    .ok_or(ConfigError::Token(i + 1))?
                    .to_string();
                let name = tbl
                    .get("name")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("token{}", i + 1));
                let hosts = tbl.get("hosts").map(|v| strings(Some(v)));
                tokens.push(Token {
                    secret,
                    name,
                    hosts,
                });
            }
        }
        // Token files: one token per line, `#` comments; out of `ps`, unlike argv.
        let mut token_files = args.ingest_token_file.clone();
        token_files.extend(
            strings(layers.file_value(Some("serve"), "ingest-token-file"))
                .into_iter()
                .map(PathBuf::from),
        );
        if let Ok(p) = std::env::var("SSHMAP_INGEST_TOKEN_FILE") {
            token_files.push(PathBuf::from(p));
        }
        for f in &token_files {
            for (i, secret) in read_secrets(f)?.into_iter().enumerate() {
                tokens.push(Token {
                    secret,
                    name: format!(
                        "{}:{}",
                        f.file_name()
                            .map(|n| n.to_string_lossy())
                            .unwrap_or_default(),
                        i + 1
                    ),
                    hosts: None,
                });
            }
        }
        let read_token = match get(args.read_token.clone(), "read-token")? {
            Some(t) => Some(t.trim().to_string()),
            None => match layers
                .get::<PathBuf>(
                    args.read_token_file.clone(),
                    Some("serve"),
                    "read-token-file",
                )
                .map_err(|e| ConfigError::Other(format!("{e:#}")))?
            {
                Some(f) => Some(read_secrets(&f)?.into_iter().next().ok_or_else(|| {
                    ConfigError::Other(format!("--read-token-file {}: no token in it", f.display()))
                })?),
                None => None,
            },
        };
        if read_token.as_ref().is_some_and(|t| t.len() < 8) {
            return Err(ConfigError::Other(
                "--read-token must be at least 8 characters long".into(),
            ));
        }
        if tokens.iter().any(|t| t.secret.len() < 8) {
            return Err(ConfigError::Other(
                "ingest tokens must be at least 8 characters long".into(),
            ));
        }
        let checkpoint = layers
            .get::<PathBuf>(None, Some("serve"), "checkpoint")
            .map_err(|e| ConfigError::Other(format!("{e:#}")))?
            .or_else(|| data_dir.map(|d| d.join("serve-checkpoints.json")));
        let poll_ms = num("poll-ms", 100)?;
        let journal_dir = layers
            .get::<PathBuf>(args.journal_dir.clone(), Some("serve"), "journal-dir")
            .map_err(|e| ConfigError::Other(format!("{e:#}")))?;
        Ok(ServeConfig {
            listen,
            tail,
            journal: bool_opt(args.journal, "journal")? || journal_dir.is_some(),
            journal_dir,
            syslog,
            db: get(args.db.clone(), "db")?,
            window,
            tokens,
            home,
            anonymize_ip: bool_opt(args.anonymize_ip, "anonymize-ip")?,
            webhook: get(args.webhook.clone(), "webhook")?,
            max_body: num("max-body", d.max_body)?,
            max_events: num("max-events", d.max_events)?.max(1),
            snapshot_events: num("snapshot-events", d.snapshot_events)?,
            sse_buffer: num("sse-buffer", d.sse_buffer)?.max(16),
            sse_tick: Duration::from_millis(
                num("sse-tick-ms", DEFAULT_TICK_MS as usize)?.min(1000) as u64,
            ),
            keep,
            alert_user_failures: num("alert-user-failures", d.alert_user_failures as usize)?.max(1)
                as u32,
            checkpoint,
            poll: Duration::from_millis(poll_ms.clamp(10, 5000) as u64),
            instance: layers
                .get::<String>(None, Some("serve"), "instance")
                .map_err(|e| ConfigError::Other(format!("{e:#}")))?
                .unwrap_or_else(hostname),
            read_token,
            memory_budget: match num("memory-budget-mb", DEFAULT_MEMORY_BUDGET_MB as usize)? {
                0 => 0,
                mb => (mb.max(64) as u64) << 20,
            },
            ingest_rate: layers
                .get::<f64>(None, Some("serve"), "ingest-rate")
                .map_err(|e| ConfigError::Other(format!("{e:#}")))?
                .filter(|r| r.is_finite() && *r >= 0.0)
                .unwrap_or(d.ingest_rate),
            max_sse_clients: num("max-sse-clients", d.max_sse_clients)?,
            max_connections: num("max-connections", d.max_connections)?.max(16),
            write_timeout: Duration::from_millis(
                num("write-timeout-ms", d.write_timeout.as_millis() as usize)?.clamp(100, 600_000)
                    as u64,
            ),
        })
    }
}

/// The tokens of a file: one per line, blank lines and `#` comments skipped.
fn read_secrets(path: &std::path::Path) -> Result<Vec<String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Other(format!("token file {}: {e}", path.display())))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect())
}

/// A TOML string or array of strings.
fn strings(v: Option<&toml::Value>) -> Vec<String> {
    match v {
        Some(toml::Value::String(s)) => vec![s.clone()],
        Some(toml::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5h"), Ok(Duration::from_secs(18_000)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn home_is_checked() {
        assert_eq!(parse_home("48.85, 2.35"), Some((48.85, 2.35)));
        assert_eq!(parse_home("100,2"), None);
        assert_eq!(parse_home("48.85"), None);
    }

    #[test]
    fn file_tokens_with_hosts_and_flags_combine() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[serve]\nwindow = \"2h\"\nanonymize-ip = true\ntail = [\"/var/log/auth.log\"]\n\
             [[serve.tokens]]\ntoken = \"web-secret-1\"\nhosts = [\"web1\", \"web2\"]\n",
        )
        .unwrap();
        let layers = Layers::from_parts(Default::default(), Some(&p)).unwrap();
        let args = ServeArgs {
            ingest_token: vec!["flag-secret-1".into()],
            home: Some("48.85,2.35".into()),
            keep: Some("30d".into()),
            ..Default::default()
        };
        let c = ServeConfig::resolve(&args, &layers, None).unwrap();
        assert_eq!(c.window, Duration::from_secs(7200));
        assert!(c.anonymize_ip);
        assert_eq!(c.tail, vec![PathBuf::from("/var/log/auth.log")]);
        assert_eq!(c.home, Some((48.85, 2.35)));
        assert_eq!(c.tokens.len(), 2);
        assert_eq!(
            c.tokens[1].hosts.as_deref(),
            Some(&["web1".to_string(), "web2".to_string()][..])
        );
        assert_eq!(c.keep, Some(Duration::from_secs(30 * 86_400)));
        assert_eq!(c.sse_tick, Duration::from_millis(DEFAULT_TICK_MS));
    }

    #[test]
    fn keep_and_tick_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "[serve]\nkeep = \"12h\"\nsse-tick-ms = 0\n").unwrap();
        let layers = Layers::from_parts(Default::default(), Some(&p)).unwrap();
        let args = ServeArgs::default();
        let c = ServeConfig::resolve(&args, &layers, None).unwrap();
        assert_eq!(c.keep, Some(Duration::from_secs(12 * 3600)));
        assert_eq!(c.sse_tick, Duration::ZERO);
        std::fs::write(&p, "[serve]\nkeep = \"soon\"\n").unwrap();
        let layers = Layers::from_parts(Default::default(), Some(&p)).unwrap();
        assert!(matches!(
            ServeConfig::resolve(&args, &layers, None),
            Err(ConfigError::Keep(_))
        ));
    }

    #[test]
    fn tokens_from_files_and_limits_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = dir.path().join("tokens");
        std::fs::write(&tokens, "# fleet\nfile-token-1\n\n  file-token-2  \n").unwrap();
        let read = dir.path().join("read");
        std::fs::write(&read, "read-token-123\n").unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            format!(
                "[serve]\nread-token-file = \"{}\"\nmemory-budget-mb = 256\ningest-rate = 5\nwrite-timeout-ms = 2000\n",
                read.display()
            ),
        )
        .unwrap();
        let layers = Layers::from_parts(Default::default(), Some(&p)).unwrap();
        let args = ServeArgs {
            ingest_token_file: vec![tokens],
            ..Default::default()
        };
        let c = ServeConfig::resolve(&args, &layers, None).unwrap();
        let secrets: Vec<&str> = c.tokens.iter().map(|t| t.secret.as_str()).collect();
        assert!(secrets.contains(&"file-token-1") && secrets.contains(&"file-token-2"));
        assert_eq!(c.read_token.as_deref(), Some("read-token-123"));
        assert_eq!(c.memory_budget, 256 << 20);
        assert_eq!(c.ingest_rate, 5.0);
        assert_eq!(c.write_timeout, Duration::from_secs(2));
        // Without a config: the documented budget.
        let c = ServeConfig::resolve(
            &ServeArgs::default(),
            &Layers::from_parts(Default::default(), None).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(c.memory_budget, DEFAULT_MEMORY_BUDGET_MB << 20);
        assert!(c.read_token.is_none());
    }
}
