//! `sshmap geoip update`: downloads the current DB-IP Lite database into the
//! data directory, atomically.
//!
//! The download (gzip or plain, told by magic bytes) goes to a temporary file
//! beside the target; only once it is complete, opens as a MaxMind DB, passes
//! verification and is the right kind, is it renamed over the old one. So a
//! truncated or corrupt download leaves the database in use untouched.

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::db::{Database, DbKind, Origin};
use super::GeoError;

/// A DB-IP Lite edition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edition {
    Country,
    City,
    Asn,
}

impl Edition {
    pub fn parse(s: &str) -> Result<Edition, GeoError> {
        match s.to_ascii_lowercase().as_str() {
            "country" => Ok(Edition::Country),
            "city" => Ok(Edition::City),
            "asn" => Ok(Edition::Asn),
            _ => Err(GeoError::Update(format!(
                "--edition {s:?}: unknown edition (use country, city or asn)"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Edition::Country => "country",
            Edition::City => "city",
            Edition::Asn => "asn",
        }
    }

    /// The file name in the data directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Edition::Country => "dbip-country-lite.mmdb",
            Edition::City => "dbip-city-lite.mmdb",
            Edition::Asn => "dbip-asn-lite.mmdb",
        }
    }

    /// DB-IP's monthly file (published early in the month).
    pub fn dbip_url(self, year: i16, month: i8) -> String {
        format!(
            "https://download.db-ip.com/free/dbip-{}-lite-{year:04}-{month:02}.mmdb.gz",
            self.as_str()
        )
    }
}

/// `$SSHMAP_DATA_DIR` / `data_dir` in the config (passed in as `explicit`), else
/// `$XDG_DATA_HOME/sshmap`, else `~/.local/share/sshmap`.
pub fn data_dir(explicit: Option<PathBuf>) -> Option<PathBuf> {
    if explicit.is_some() {
        return explicit;
    }
    let nonempty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    nonempty("XDG_DATA_HOME")
        .filter(|p| p.is_absolute())
        .map(|p| p.join("sshmap"))
        .or_else(|| nonempty("HOME").map(|h| h.join(".local/share/sshmap")))
}

/// What an update did.
#[derive(Debug)]
pub struct Updated {
    pub path: PathBuf,
    pub url: String,
    pub database_type: String,
    pub build_epoch: u64,
    /// Size of the database written (after gunzip).
    pub bytes: u64,
}

/// Larger than any real database (DB-IP City Lite is ~130 MB): a bound
/// against a decompression bomb filling the disk.
const MAX_BYTES: u64 = 4 << 30;

/// Downloads `edition` (from `url`, else DB-IP's file of this month, then of
/// last month) into `dir`, replacing the previous copy only on success.
pub fn update(dir: &Path, edition: Edition, url: Option<&str>) -> Result<Updated, GeoError> {
    let urls = match url {
        Some(u) => vec![u.to_string()],
        None => {
            let now = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC);
            let this = now.date();
            let last = this
                .first_of_month()
                .yesterday()
                .map_err(|e| GeoError::Update(e.to_string()))?;
            vec![
                edition.dbip_url(this.year(), this.month()),
                edition.dbip_url(last.year(), last.month()),
            ]
        }
    };
    fs::create_dir_all(dir).map_err(|e| {
        GeoError::Update(format!(
            "cannot create the data directory {}: {e} (set SSHMAP_DATA_DIR)",
            dir.display()
        ))
    })?;
    let target = dir.join(edition.file_name());
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        edition.file_name(),
        std::process::id()
    ));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("sshmap/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent();
    let mut last_err = String::new();
    for (i, u) in urls.iter().enumerate() {
        let res =
            download(&agent, u, &tmp).and_then(|bytes| check(&tmp, edition).map(|db| (bytes, db)));
        match res {
            Ok((bytes, (database_type, build_epoch))) => {
                fs::rename(&tmp, &target).map_err(|e| {
                    let _ = fs::remove_file(&tmp);
                    GeoError::Update(format!(
                        "cannot move the new database to {}: {e}",
                        target.display()
                    ))
                })?;
                if let Ok(d) = fs::File::open(dir) {
                    let _ = d.sync_all();
                }
                return Ok(Updated {
                    path: target,
                    url: u.clone(),
                    database_type,
                    build_epoch,
                    bytes,
                });
            }
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                // This month's file may not be published yet: try last month's.
                let not_found = matches!(e, Fetch::Status(404));
                last_err = format!("{u}: {e}");
                if !(not_found && url.is_none() && i + 1 < urls.len()) {
                    break;
                }
            }
        }
    }
    let keep = if target.is_file() {
        format!("; the database in use ({}) is unchanged", target.display())
    } else {
        "; the embedded database stays in use".to_string()
    };
    Err(GeoError::Update(format!("{last_err}{keep}")))
}

enum Fetch {
    Status(u16),
    Other(String),
}

impl std::fmt::Display for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fetch::Status(s) => write!(f, "HTTP status {s}"),
            Fetch::Other(s) => f.write_str(s),
        }
    }
}

/// Streams `url` into `tmp`, gunzipping when the body is gzip.
fn download(agent: &ureq::Agent, url: &str, tmp: &Path) -> Result<u64, Fetch> {
    let resp = agent.get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(s) => Fetch::Status(s),
        e => Fetch::Other(e.to_string()),
    })?;
    let body = resp.into_body().into_reader();
    let mut body = BufReader::with_capacity(1 << 16, body);
    let gz = body
        .fill_buf()
        .map_err(|e| Fetch::Other(format!("download failed: {e}")))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gz {
        Box::new(flate2::read::MultiGzDecoder::new(body))
    } else {
        Box::new(body)
    };
    let mut out = fs::File::create(tmp)
        .map_err(|e| Fetch::Other(format!("cannot write {}: {e}", tmp.display())))?;
    let n = io::copy(&mut reader.take(MAX_BYTES + 1), &mut out)
        .map_err(|e| Fetch::Other(format!("download failed or truncated: {e}")))?;
    if n > MAX_BYTES {
        return Err(Fetch::Other(format!(
            "larger than {} GiB: not a GeoIP database",
            MAX_BYTES >> 30
        )));
    }
    out.flush()
        .and_then(|()| out.sync_all())
        .map_err(|e| Fetch::Other(format!("cannot write {}: {e}", tmp.display())))?;
    Ok(n)
}

/// The downloaded file opens, verifies, and is of the edition asked for.
fn check(tmp: &Path, edition: Edition) -> Result<(String, u64), Fetch> {
    let db = Database::open(tmp, Origin::Downloaded(tmp.to_path_buf()), "geoip update")
        .map_err(|e| Fetch::Other(format!("the download is not a usable database: {e}")))?;
    db.verify()
        .map_err(|e| Fetch::Other(format!("the download is damaged (truncated?): {e}")))?;
    let ok = match edition {
        Edition::Asn => matches!(db.kind, DbKind::Asn | DbKind::Other),
        Edition::City | Edition::Country => db.kind != DbKind::Asn,
    };
    if !ok {
        return Err(Fetch::Other(format!(
            "the download is a {} database ({}), not the {} edition asked for",
            db.kind.as_str(),
            db.database_type(),
            edition.as_str()
        )));
    }
    Ok((db.database_type().to_string(), db.metadata().build_epoch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editions_and_urls() {
        assert_eq!(Edition::parse("City").unwrap(), Edition::City);
        assert!(Edition::parse("planet")
            .unwrap_err()
            .to_string()
            .contains("country, city or asn"));
        assert_eq!(
            Edition::Country.dbip_url(2026, 3),
            "https://download.db-ip.com/free/dbip-country-lite-2026-03.mmdb.gz"
        );
    }

    #[test]
    fn explicit_data_dir_wins() {
        assert_eq!(data_dir(Some("/x".into())), Some(PathBuf::from("/x")));
    }
}
