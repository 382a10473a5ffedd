//! `sshmap serve`: its options resolved (flag > env > `[serve]` in the file >
//! default), then the live map run until SIGINT/SIGTERM.

use super::*;
use crate::cli::ServeArgs;
use crate::serve::config::{
    hostname, parse_duration, ConfigError, ServeConfig, Token, DEFAULT_MEMORY_BUDGET_MB,
    DEFAULT_TICK_MS,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// A bad `serve` value, with where it came from when that was not the flag
/// the message names (a key in the config file, an `SSHMAP_*` variable).
#[cfg(feature = "serve")]
pub(super) fn serve_config_error(
    e: crate::serve::config::ConfigError,
    args: &crate::cli::ServeArgs,
    layers: &Layers,
) -> anyhow::Error {
    use crate::serve::config::ConfigError as E;
    let (key, flag_given) = match &e {
        E::Window(_) => ("window", args.window.is_some()),
        E::Keep(_) => ("keep", args.keep.is_some()),
        E::Home(_) => ("home", args.home.is_some()),
        E::Addr { flag, .. } if *flag == "--syslog" => ("syslog", args.syslog.is_some()),
        E::Addr { .. } => ("listen", args.listen.is_some()),
        _ => return e.into(),
    };
    match layers.origin(flag_given, Some("serve"), key) {
        o @ (settings::Origin::File { .. } | settings::Origin::Env(_)) => {
            anyhow::Error::new(e).context(o.describe(key))
        }
        _ => e.into(),
    }
}

#[cfg(feature = "serve")]
pub(super) fn serve(
    settings: &Settings,
    layers: &Layers,
    args: &crate::cli::ServeArgs,
) -> Result<i32> {
    let mut cfg = crate::serve::ServeConfig::resolve(args, layers, settings.data_dir.as_deref())
        .map_err(|e| serve_config_error(e, args, layers))?;
    // The store is SQLite at the default path unless --db names another, or `none` (memory only).
    cfg.db = match cfg.db.take() {
        Some(d) if d == "none" => {
            // Memory only: nothing is written, not even the default checkpoint
            // file (a restart would resume partway through a window it lost).
            if layers.origin(false, Some("serve"), "checkpoint") == settings::Origin::Default {
                cfg.checkpoint = None;
            }
            None
        }
        Some(d) => Some(d),
        None => Some(crate::store::default_path().display().to_string()),
    };
    let opts = crate::serve::FeedOptions {
        geo: locator(settings)?.map(Arc::new),
        tz: settings.tz.clone(),
        year: settings.year,
        webhook: None,
        stderr: true,
        hold: crate::serve::feed::HOLD,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| {
                format!(
                    "--listen {}: cannot listen (port in use? pick another with --listen)",
                    cfg.listen
                )
            })?;
        if !settings.quiet {
            let addr = listener.local_addr()?;
            eprintln!(
                "sshmap: serving the live map on http://{addr}/ (window {}s)",
                cfg.window.as_secs()
            );
        }
        crate::serve::run(listener, cfg, opts, crate::serve::signal()).await?;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(0)
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
        // A threshold of failures: at least 1 (a login with no failure never alerts).
        let flag_num = |flag: Option<u32>, key: &str, default: u32| -> Result<u32, ConfigError> {
            Ok(layers
                .get::<u32>(flag, Some("serve"), key)
                .map_err(|e| ConfigError::Other(format!("{e:#}")))?
                .unwrap_or(default)
                .max(1))
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
            alert_ip_failures: flag_num(
                args.alert_ip_failures,
                "alert-ip-failures",
                d.alert_ip_failures,
            )?,
            alert_user_failures: flag_num(
                args.alert_user_failures,
                "alert-user-failures",
                d.alert_user_failures,
            )?,
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
    use std::time::Duration;

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
    fn alert_thresholds_from_flags_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        let layers = Layers::from_parts(Default::default(), None).unwrap();
        let c = ServeConfig::resolve(&ServeArgs::default(), &layers, None).unwrap();
        assert_eq!((c.alert_ip_failures, c.alert_user_failures), (5, 5));
        std::fs::write(
            &p,
            "[serve]\nalert-ip-failures = 3\nalert-user-failures = 0\n",
        )
        .unwrap();
        let layers = Layers::from_parts(Default::default(), Some(&p)).unwrap();
        let c = ServeConfig::resolve(&ServeArgs::default(), &layers, None).unwrap();
        // Zero is taken as one: a login without any failure never alerts.
        assert_eq!((c.alert_ip_failures, c.alert_user_failures), (3, 1));
        let args = ServeArgs {
            alert_ip_failures: Some(10),
            ..Default::default()
        };
        let c = ServeConfig::resolve(&args, &layers, None).unwrap();
        assert_eq!((c.alert_ip_failures, c.alert_user_failures), (10, 1));
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
