//! Settings resolved in one place: flag > `SSHMAP_*` environment > config file > default.
//!
//! The core receives a [`Settings`] value (and per-command values built with
//! [`Layers::get`]), never clap types, so every stage can be driven from tests.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use jiff::tz::TimeZone;

use crate::cli::GlobalArgs;

/// The lower layers under the command line: environment and config file.
#[derive(Debug, Default, Clone)]
pub struct Layers {
    env: HashMap<String, String>,
    file: toml::Table,
    file_path: Option<PathBuf>,
    /// How the config file was found, or why there is none.
    file_source: FileSource,
    /// Files looked at in order, for `sshmap config` and `-v`.
    searched: Vec<String>,
}

/// How [`Layers`] found its config file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum FileSource {
    /// No file: none named and none found.
    #[default]
    None,
    /// `--config none` / `SSHMAP_CONFIG=none`: lookup turned off.
    Off,
    Flag,
    Env,
    /// Found by the search, at this place in the list (`$XDG_CONFIG_HOME/…`, `/etc/…`).
    Found(&'static str),
}

/// Where one resolved value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Env(String),
    File { path: PathBuf, key: String },
    Default,
}

impl Origin {
    /// Names the place to fix a bad value: `--tz`, `$SSHMAP_TZ`, `tz in FILE`.
    pub fn describe(&self, flag: &str) -> String {
        match self {
            Origin::Flag | Origin::Default => format!("--{flag}"),
            Origin::Env(var) => format!("${var}"),
            Origin::File { path, key } => format!("{key} in config file {}", path.display()),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag => f.write_str("flag"),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::File { path, key } => write!(f, "{}: {key}", path.display()),
            Origin::Default => f.write_str("default"),
        }
    }
}

/// The places searched for a config file when none is named, in order:
/// `$XDG_CONFIG_HOME/sshmap/config.toml` (else `~/.config/…`), then `/etc/sshmap/config.toml`.
pub fn config_search_path(
    xdg_config_home: Option<&str>,
    home: Option<&str>,
) -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    let xdg = xdg_config_home
        .filter(|v| !v.is_empty() && Path::new(v).is_absolute())
        .map(PathBuf::from)
        .or_else(|| {
            home.filter(|h| !h.is_empty())
                .map(|h| Path::new(h).join(".config"))
        });
    if let Some(x) = xdg {
        out.push((x.join("sshmap/config.toml"), "$XDG_CONFIG_HOME"));
    }
    out.push((PathBuf::from("/etc/sshmap/config.toml"), "/etc"));
    out
}

impl Layers {
    /// Reads the process environment and the config file: `--config`, else
    /// `$SSHMAP_CONFIG`, else the first of [`config_search_path`] that exists.
    pub fn load(config_flag: Option<&Path>) -> Result<Layers> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("SSHMAP_"))
            .collect();
        let var = |k: &str| std::env::var(k).ok();
        let search = config_search_path(var("XDG_CONFIG_HOME").as_deref(), var("HOME").as_deref());
        Layers::find(env, config_flag, &search)
    }

    /// The environment and the file named by `--config`, else `$SSHMAP_CONFIG`; no search.
    pub fn from_parts(env: HashMap<String, String>, config_flag: Option<&Path>) -> Result<Layers> {
        Layers::find(env, config_flag, &[])
    }

    /// The environment and the file named by `--config`, else `$SSHMAP_CONFIG`,
    /// else the first file of `search` that exists. A named file must be
    /// readable; a found one that this user may not read (a service's config
    /// kept from other users) is skipped, and `sshmap config` says so.
    pub fn find(
        env: HashMap<String, String>,
        config_flag: Option<&Path>,
        search: &[(PathBuf, &'static str)],
    ) -> Result<Layers> {
        let named = match (config_flag, env.get("SSHMAP_CONFIG")) {
            (Some(p), _) => Some((p.to_path_buf(), FileSource::Flag, "--config")),
            (None, Some(v)) if !v.is_empty() => {
                Some((PathBuf::from(v), FileSource::Env, "$SSHMAP_CONFIG"))
            }
            _ => None,
        };
        let mut layers = Layers {
            env,
            ..Layers::default()
        };
        match named {
            Some((p, _, _)) if p.as_os_str() == "none" => layers.file_source = FileSource::Off,
            Some((p, source, how)) => {
                layers.searched.push(format!("{} ({how})", p.display()));
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read config file {} ({how})", p.display()))?;
                layers.file = parse_file(&p, &text)?;
                layers.file_path = Some(p);
                layers.file_source = source;
            }
            None => {
                for (p, how) in search {
                    match std::fs::read_to_string(p) {
                        Ok(text) => {
                            layers.searched.push(format!("{} (found)", p.display()));
                            layers.file = parse_file(p, &text)?;
                            layers.file_path = Some(p.clone());
                            layers.file_source = FileSource::Found(how);
                            break;
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                            layers.searched.push(format!("{} (not found)", p.display()));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                            layers.searched.push(format!(
                                "{} (not readable by this user: skipped)",
                                p.display()
                            ));
                        }
                        Err(e) => {
                            return Err(e).with_context(|| {
                                format!("cannot read config file {}", p.display())
                            })
                        }
                    }
                }
            }
        }
        Ok(layers)
    }

    /// The config file in use, if any.
    pub fn file_path(&self) -> Option<&Path> {
        self.file_path.as_deref()
    }

    /// How the config file was found.
    pub fn file_source(&self) -> &FileSource {
        &self.file_source
    }

    /// Resolves one option. `key` is the flag name (`geoip`, `ingest-token`);
    /// the environment variable is `SSHMAP_` + upper snake case, the file key
    /// is the same name with `_` or `-` (optionally inside `[section]`).
    pub fn get<T>(&self, flag: Option<T>, section: Option<&str>, key: &str) -> Result<Option<T>>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        if flag.is_some() {
            return Ok(flag);
        }
        let env_key = env_name(key);
        if let Some(v) = self.env.get(&env_key) {
            return v
                .parse()
                .map(Some)
                .map_err(|e| anyhow::anyhow!("${env_key}={v:?} is not valid: {e}"));
        }
        if let Some(v) = self.file_value(section, key) {
            let text = match v {
                toml::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            return text.parse().map(Some).map_err(|e| {
                anyhow::anyhow!(
                    "{} = {text:?} in config file {} is not valid: {e}",
                    file_key(section, key),
                    self.file_display()
                )
            });
        }
        Ok(None)
    }

    /// Where the value of an option comes from (`flag_given`: the command line set it).
    pub fn origin(&self, flag_given: bool, section: Option<&str>, key: &str) -> Origin {
        if flag_given {
            return Origin::Flag;
        }
        let env_key = env_name(key);
        if self.env.contains_key(&env_key) {
            return Origin::Env(env_key);
        }
        match (&self.file_path, self.file_value(section, key)) {
            (Some(path), Some(_)) => Origin::File {
                path: path.clone(),
                key: file_key(section, key),
            },
            _ => Origin::Default,
        }
    }

    /// Raw access to a config-file value (for lists and tables).
    pub fn file_value(&self, section: Option<&str>, key: &str) -> Option<&toml::Value> {
        let table = match section {
            Some(s) => self.file.get(s)?.as_table()?,
            None => &self.file,
        };
        table.get(key).or_else(|| table.get(&key.replace('-', "_")))
    }

    /// Keys of the config file that sshmap does not know (typos), as `key` or `[section] key`.
    pub fn unknown_keys(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in &self.file {
            let norm = k.replace('_', "-");
            if k == "serve" {
                if let Some(t) = v.as_table() {
                    for sk in t.keys() {
                        if !SERVE_KEYS.contains(&sk.replace('_', "-").as_str()) {
                            out.push(format!("[serve] {sk}"));
                        }
                    }
                }
            } else if !TOP_KEYS.contains(&norm.as_str()) {
                out.push(k.clone());
            }
        }
        out
    }

    fn file_display(&self) -> String {
        self.file_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
}

/// The default of a `[serve]` key, as `sshmap config` shows it.
#[cfg(not(feature = "serve"))]
fn serve_default(_key: &str, _data_dir: Option<&Path>) -> String {
    "(default; this sshmap was built without `serve`)".into()
}

/// The default of a `[serve]` key, as `sshmap config` shows it.
#[cfg(feature = "serve")]
fn serve_default(key: &str, data_dir: Option<&Path>) -> String {
    let d = crate::serve::ServeConfig::default();
    let secs = |t: std::time::Duration| format!("{}s", t.as_secs());
    match key {
        "listen" => d.listen.to_string(),
        "window" => secs(d.window),
        "journal" | "anonymize-ip" => "false".into(),
        "db" => crate::store::default_path().display().to_string(),
        "checkpoint" => data_dir.map_or("(none)".into(), |d| {
            d.join("serve-checkpoints.json").display().to_string()
        }),
        "max-body" => d.max_body.to_string(),
        "max-events" => d.max_events.to_string(),
        "snapshot-events" => d.snapshot_events.to_string(),
        "sse-buffer" => d.sse_buffer.to_string(),
        "sse-tick-ms" => d.sse_tick.as_millis().to_string(),
        "alert-ip-failures" => d.alert_ip_failures.to_string(),
        "alert-user-failures" => d.alert_user_failures.to_string(),
        "poll-ms" => d.poll.as_millis().to_string(),
        "instance" => d.instance,
        _ => "(none)".into(),
    }
}

/// Top-level keys of the config file (the table `[serve]` aside).
pub const TOP_KEYS: &[&str] = &["geoip", "asn", "year", "tz", "quiet", "data-dir", "db"];
/// Keys of the `[serve]` table.
pub const SERVE_KEYS: &[&str] = &[
    "listen",
    "tail",
    "journal",
    "journal-dir",
    "syslog",
    "db",
    "window",
    "ingest-token",
    "tokens",
    "home",
    "anonymize-ip",
    "webhook",
    "keep",
    "instance",
    "checkpoint",
    "max-body",
    "max-events",
    "snapshot-events",
    "sse-buffer",
    "sse-tick-ms",
    "alert-ip-failures",
    "alert-user-failures",
    "poll-ms",
];

fn env_name(key: &str) -> String {
    format!("SSHMAP_{}", key.replace('-', "_").to_ascii_uppercase())
}

fn file_key(section: Option<&str>, key: &str) -> String {
    match section {
        Some(s) => format!("[{s}] {key}"),
        None => key.to_string(),
    }
}

fn parse_file(p: &Path, text: &str) -> Result<toml::Table> {
    toml::from_str::<toml::Table>(text)
        .with_context(|| format!("config file {} is not valid TOML", p.display()))
}

/// Options every command shares, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub geoip: Option<PathBuf>,
    pub asn: Option<PathBuf>,
    /// Where sshmap keeps data (`geoip update` databases): `$SSHMAP_DATA_DIR` /
    /// `data_dir` in the config, else `$XDG_DATA_HOME/sshmap`, else `~/.local/share/sshmap`.
    pub data_dir: Option<PathBuf>,
    /// Year for timestamps without one; `None`: infer from mtime.
    pub year: Option<i32>,
    /// Zone for timestamps without an offset.
    pub tz: TimeZone,
    pub quiet: bool,
    pub verbose: u8,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            geoip: None,
            asn: None,
            data_dir: None,
            year: None,
            tz: TimeZone::UTC,
            quiet: false,
            verbose: 0,
        }
    }
}

impl Settings {
    pub fn resolve(args: &GlobalArgs, layers: &Layers) -> Result<Settings> {
        let year: Option<i32> = layers.get(args.year, None, "year")?;
        if let Some(y) = year {
            if !(1970..=9999).contains(&y) {
                let at = layers
                    .origin(args.year.is_some(), None, "year")
                    .describe("year");
                bail!("{at}: year {y} is out of range (1970–9999)");
            }
        }
        let tz_name: Option<String> = layers.get(args.tz.clone(), None, "tz")?;
        let tz = match tz_name.as_deref() {
            None => TimeZone::try_system().unwrap_or(TimeZone::UTC),
            Some("UTC" | "utc" | "Z") => TimeZone::UTC,
            Some(name) => parse_tz(name)
                .with_context(|| layers.origin(args.tz.is_some(), None, "tz").describe("tz"))?,
        };
        Ok(Settings {
            geoip: layers.get(args.geoip.clone(), None, "geoip")?,
            asn: layers.get(args.asn.clone(), None, "asn")?,
            data_dir: crate::geo::update::data_dir(layers.get(None, None, "data-dir")?),
            year,
            tz,
            quiet: args.quiet || layers.get::<bool>(None, None, "quiet")?.unwrap_or(false),
            verbose: args.verbose,
        })
    }

    /// `sshmap config`: the config file, then each setting, its value and where it came from.
    pub fn describe(&self, args: &GlobalArgs, layers: &Layers) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let file = match (layers.file_path(), layers.file_source()) {
            (Some(p), FileSource::Flag) => format!("{} (--config)", p.display()),
            (Some(p), FileSource::Env) => format!("{} ($SSHMAP_CONFIG)", p.display()),
            (Some(p), _) => format!("{} (found)", p.display()),
            (None, FileSource::Off) => "none (--config none)".into(),
            (None, _) => "none".into(),
        };
        let _ = writeln!(out, "config file: {file}");
        for s in &layers.searched {
            let _ = writeln!(out, "  searched: {s}");
        }
        let row = |out: &mut String, key: &str, value: String, origin: Origin| {
            let _ = writeln!(out, "{key:<22} = {value:<40} # {origin}");
        };
        let shown = |p: &Option<PathBuf>| p.as_deref().map(|p| p.display().to_string());
        let _ = writeln!(out);
        row(
            &mut out,
            "geoip",
            shown(&self.geoip).unwrap_or_else(|| {
                "(embedded DB-IP country database, or one `geoip update` fetched)".into()
            }),
            layers.origin(args.geoip.is_some(), None, "geoip"),
        );
        row(
            &mut out,
            "asn",
            shown(&self.asn).unwrap_or_else(|| "(none)".into()),
            layers.origin(args.asn.is_some(), None, "asn"),
        );
        row(
            &mut out,
            "year",
            self.year
                .map_or("(from each file's modification time)".into(), |y| {
                    y.to_string()
                }),
            layers.origin(args.year.is_some(), None, "year"),
        );
        let tz_origin = layers.origin(args.tz.is_some(), None, "tz");
        let tz_name = self.tz.iana_name().map(str::to_string).unwrap_or_else(|| {
            let off = self.tz.to_offset(jiff::Timestamp::now());
            off.to_string()
        });
        let tz_value = if tz_origin == Origin::Default {
            format!("{tz_name} (the system's)")
        } else {
            tz_name
        };
        row(&mut out, "tz", tz_value, tz_origin);
        row(
            &mut out,
            "quiet",
            self.quiet.to_string(),
            layers.origin(args.quiet, None, "quiet"),
        );
        let _ = writeln!(
            out,
            "{:<22} = {:<40} # {}",
            "verbose",
            self.verbose,
            if self.verbose > 0 { "flag" } else { "default" }
        );
        row(
            &mut out,
            "data-dir",
            shown(&self.data_dir).unwrap_or_else(|| "(none: set SSHMAP_DATA_DIR)".into()),
            layers.origin(false, None, "data-dir"),
        );
        let db: Option<String> = layers.get(None, None, "db").ok().flatten();
        row(
            &mut out,
            "db",
            db.unwrap_or_else(|| crate::store::default_path().display().to_string()),
            layers.origin(false, None, "db"),
        );
        let _ = writeln!(out, "\n[serve]");
        for key in SERVE_KEYS {
            let origin = layers.origin(false, Some("serve"), key);
            let value = if matches!(*key, "ingest-token" | "tokens") {
                match layers.file_value(Some("serve"), key) {
                    Some(toml::Value::Array(a)) => format!("({} hidden)", a.len()),
                    Some(_) => "(hidden)".into(),
                    None if matches!(origin, Origin::Env(_)) => "(hidden)".into(),
                    None => "(none)".into(),
                }
            } else if let Origin::Env(var) = &origin {
                layers.env.get(var).cloned().unwrap_or_default()
            } else {
                match layers.file_value(Some("serve"), key) {
                    Some(toml::Value::String(s)) => s.clone(),
                    Some(v) => v.to_string(),
                    None => serve_default(key, self.data_dir.as_deref()),
                }
            };
            row(&mut out, key, value, origin);
        }
        let unknown = layers.unknown_keys();
        if !unknown.is_empty() {
            let _ = writeln!(out);
            for k in unknown {
                let _ = writeln!(out, "warning: unknown key {k} in the config file (ignored)");
            }
        }
        out
    }
}

/// A point in time from the command line: RFC 3339 (`2026-11-23T07:00:00+01:00`),
/// or a date / date-time without offset (`2026-11-23`, `2026-11-23T07:00`,
/// `2026-11-23 07:00:00`) read in `tz`. Returns Unix microseconds.
pub fn parse_time(s: &str, tz: &TimeZone) -> Result<i64> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_microsecond());
    }
    let civil = if let (10, Ok(d)) = (s.len(), s.parse::<jiff::civil::Date>()) {
        d.to_datetime(jiff::civil::Time::midnight())
    } else {
        s.replace(' ', "T").parse::<jiff::civil::DateTime>().with_context(|| {
            format!("{s:?} is not a time: use RFC 3339 (2026-11-23T07:00:00Z), a date (2026-11-23) or a local date-time (2026-11-23T07:00)")
        })?
    };
    let zoned = civil
        .to_zoned(tz.clone())
        .with_context(|| format!("{s:?} does not exist in the time zone"))?;
    Ok(zoned.timestamp().as_microsecond())
}

/// A duration such as `90d`, `12h`, `1.5h`, `45s`, `2w` or plain seconds, in
/// whole seconds (`--keep`, `--bin`, `--fade`): [`crate::duration::parse`].
pub fn parse_duration(s: &str) -> Option<i64> {
    crate::duration::seconds(s)
}

/// A zone name (`Europe/Paris`) or a fixed offset (`+02:00`, `-0500`).
pub fn parse_tz(name: &str) -> Result<TimeZone> {
    if let Some(off) = parse_fixed_offset(name) {
        return Ok(TimeZone::fixed(
            jiff::tz::Offset::from_seconds(off).context("offset out of range")?,
        ));
    }
    TimeZone::get(name).with_context(|| {
        format!("{name:?}: unknown time zone (use a name such as Europe/Paris, UTC or +02:00)")
    })
}

fn parse_fixed_offset(s: &str) -> Option<i32> {
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = s[1..].chars().filter(|c| *c != ':').collect();
    if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[..2].parse().ok()?;
    let m: i32 = digits[2..].parse().ok()?;
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(env: &[(&str, &str)], file: &str) -> Layers {
        let env = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Layers {
            env,
            file: toml::from_str(file).unwrap(),
            ..Layers::default()
        }
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let l = layers(
            &[("SSHMAP_YEAR", "2021")],
            "year = 2019\ngeoip = \"/f.mmdb\"\n[serve]\nwindow = \"2h\"",
        );
        assert_eq!(l.get(Some(2024), None, "year").unwrap(), Some(2024));
        assert_eq!(l.get::<i32>(None, None, "year").unwrap(), Some(2021));
        let l2 = layers(&[], "year = 2019");
        assert_eq!(l2.get::<i32>(None, None, "year").unwrap(), Some(2019));
        assert_eq!(l2.get::<i32>(None, None, "tz").unwrap(), None);
        assert_eq!(
            l.get::<PathBuf>(None, None, "geoip").unwrap(),
            Some(PathBuf::from("/f.mmdb"))
        );
        assert_eq!(
            l.get::<String>(None, Some("serve"), "window")
                .unwrap()
                .as_deref(),
            Some("2h")
        );
    }

    #[test]
    fn origin_names_flag_variable_or_file_key() {
        let mut l = layers(
            &[("SSHMAP_TZ", "UTC")],
            "year = 2019\n[serve]\nwindow = \"2h\"\nwindw = 1",
        );
        l.file_path = Some(PathBuf::from("/etc/sshmap/config.toml"));
        assert_eq!(l.origin(true, None, "year"), Origin::Flag);
        assert_eq!(l.origin(false, None, "tz"), Origin::Env("SSHMAP_TZ".into()));
        assert_eq!(
            l.origin(false, Some("serve"), "window").describe("window"),
            "[serve] window in config file /etc/sshmap/config.toml"
        );
        assert_eq!(l.origin(false, None, "geoip"), Origin::Default);
        assert_eq!(l.unknown_keys(), ["[serve] windw"]);
        let err = l
            .get::<i32>(None, Some("serve"), "window")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("[serve] window = \"2h\" in config file /etc/sshmap/config.toml"),
            "{err}"
        );
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let l = layers(&[("SSHMAP_YEAR", "soon")], "");
        let err = l.get::<i32>(None, None, "year").unwrap_err().to_string();
        assert!(err.contains("SSHMAP_YEAR"), "{err}");
    }

    #[test]
    fn times_from_the_command_line() {
        let paris = TimeZone::get("Europe/Paris").unwrap();
        assert_eq!(
            parse_time("2026-11-23T07:00:00Z", &paris).unwrap(),
            1_795_417_200_000_000
        );
        assert_eq!(
            parse_time("2026-11-23T08:00", &paris).unwrap(),
            1_795_417_200_000_000
        );
        assert_eq!(
            parse_time("2026-11-23 08:00:00", &paris).unwrap(),
            1_795_417_200_000_000
        );
        assert_eq!(
            parse_time("2026-11-23", &TimeZone::UTC).unwrap(),
            1_795_392_000_000_000
        );
        assert!(parse_time("yesterday", &paris)
            .unwrap_err()
            .to_string()
            .contains("RFC 3339"));
    }

    #[test]
    fn fixed_offsets() {
        assert_eq!(parse_fixed_offset("+02:00"), Some(7200));
        assert_eq!(parse_fixed_offset("-0530"), Some(-(5 * 3600 + 1800)));
        assert_eq!(parse_fixed_offset("Europe/Paris"), None);
    }
}
