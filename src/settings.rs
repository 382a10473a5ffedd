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
}

impl Layers {
    /// Reads the process environment and the config file named by
    /// `--config`, else `$SSHMAP_CONFIG`.
    pub fn load(config_flag: Option<&Path>) -> Result<Layers> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("SSHMAP_"))
            .collect();
        Layers::from_parts(env, config_flag)
    }

    pub fn from_parts(env: HashMap<String, String>, config_flag: Option<&Path>) -> Result<Layers> {
        let path = config_flag
            .map(Path::to_path_buf)
            .or_else(|| env.get("SSHMAP_CONFIG").map(PathBuf::from));
        let file = match &path {
            Some(p) => {
                let text = std::fs::read_to_string(p).with_context(|| {
                    format!(
                        "cannot read config file {} (--config / SSHMAP_CONFIG)",
                        p.display()
                    )
                })?;
                toml::from_str::<toml::Table>(&text)
                    .with_context(|| format!("config file {} is not valid TOML", p.display()))?
            }
            None => toml::Table::new(),
        };
        Ok(Layers {
            env,
            file,
            file_path: path,
        })
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
        let env_key = format!("SSHMAP_{}", key.replace('-', "_").to_ascii_uppercase());
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
                    "{key} = {text:?} in config file {} is not valid: {e}",
                    self.file_display()
                )
            });
        }
        Ok(None)
    }

    /// Raw access to a config-file value (for lists and tables).
    pub fn file_value(&self, section: Option<&str>, key: &str) -> Option<&toml::Value> {
        let table = match section {
            Some(s) => self.file.get(s)?.as_table()?,
            None => &self.file,
        };
        table.get(key).or_else(|| table.get(&key.replace('-', "_")))
    }

    fn file_display(&self) -> String {
        self.file_path
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }
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
                bail!("--year {y} is out of range (1970–9999)");
            }
        }
        let tz_name: Option<String> = layers.get(args.tz.clone(), None, "tz")?;
        let tz = match tz_name.as_deref() {
            None => TimeZone::try_system().unwrap_or(TimeZone::UTC),
            Some("UTC" | "utc" | "Z") => TimeZone::UTC,
            Some(name) => parse_tz(name)?,
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
    crate::duration::parse(s)
        .ok()
        .and_then(|d| i64::try_from(d.as_secs()).ok())
}

/// A zone name (`Europe/Paris`) or a fixed offset (`+02:00`, `-0500`).
pub fn parse_tz(name: &str) -> Result<TimeZone> {
    if let Some(off) = parse_fixed_offset(name) {
        return Ok(TimeZone::fixed(
            jiff::tz::Offset::from_seconds(off).context("offset out of range")?,
        ));
    }
    TimeZone::get(name).with_context(|| {
        format!("--tz {name:?}: unknown time zone (use a name such as Europe/Paris, UTC or +02:00)")
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
            file_path: None,
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
