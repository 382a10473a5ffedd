//! The command-line surface (DESIGN §1), as plain clap-derive types.
//!
//! Nothing here is used by the core: [`crate::settings`] turns these values,
//! the environment and the config file into [`crate::settings::Settings`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "sshmap",
    version,
    about = "Who is attacking your SSH server, from where and when",
    long_about = "sshmap parses sshd authentication logs (syslog, RFC 5424, journald, sshd -e) and shows \
                  the attacks as statistics, maps, video, an HTML report or a live web map."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Args, Default, Clone)]
pub struct GlobalArgs {
    /// Config file (TOML); also $SSHMAP_CONFIG
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// City or country database (.mmdb: GeoLite2/DB-IP, or ip-location-db) [env: SSHMAP_GEOIP]
    #[arg(long, global = true, value_name = "PATH")]
    pub geoip: Option<PathBuf>,
    /// ASN database (.mmdb) [env: SSHMAP_ASN]
    #[arg(long, global = true, value_name = "PATH")]
    pub asn: Option<PathBuf>,
    /// Year for syslog timestamps that carry none (default: inferred from the file's mtime) [env: SSHMAP_YEAR]
    #[arg(long, global = true, value_name = "YYYY")]
    pub year: Option<i32>,
    /// Time zone for timestamps that carry none, e.g. Europe/Paris or UTC (default: the system's) [env: SSHMAP_TZ]
    #[arg(long, global = true, value_name = "ZONE")]
    pub tz: Option<String>,
    /// No progress bars, no notes on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print normalized events, one per line
    Parse(ParseArgs),
    /// Top countries, users, IPs and a per-hour histogram
    Stats(StatsArgs),
    /// Draw a world map of the attacks (PNG or SVG)
    Map(MapArgs),
    /// Draw a bar or pie chart (PNG or SVG)
    Chart(ChartArgs),
    /// Render a timelapse video (MP4 or GIF)
    Timelapse(TimelapseArgs),
    /// Write a self-contained interactive HTML report
    Report(ReportArgs),
    /// Store events incrementally in a database
    Ingest(IngestArgs),
    /// Serve the live attack map
    Serve(ServeArgs),
    /// Look up addresses and manage the GeoIP databases
    Geoip {
        #[command(subcommand)]
        command: GeoipCommand,
    },
}

/// Where events come from: log inputs, or a store.
#[derive(Debug, Args, Default, Clone)]
pub struct InputArgs {
    /// Files, globs, directories of rotated logs, `-` for stdin, `journal`, or `journal:DIR` (journal files in DIR)
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Read from this store instead of logs (sqlite path or postgres:// URL)
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Only events at or after this time (RFC 3339 or YYYY-MM-DD)
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Only events before this time
    #[arg(long, value_name = "T")]
    pub to: Option<String>,
    /// Only events of this host (the host name in the log lines)
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    #[command(flatten)]
    pub input: InputArgs,
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,
    /// Also print every other sshd line (kind `other`)
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    Jsonl,
    Csv,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Rows in each top list
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// One JSON object instead of tables
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MapArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .png or .svg
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Picture size in pixels [default: 1920x1080]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// equal-earth (default), mercator, natural-earth or orthographic (a globe)
    #[arg(long, value_name = "NAME")]
    pub projection: Option<String>,
    /// Centre of the orthographic globe [default: --home, else 30,10]
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub center: Option<String>,
    #[arg(long, value_name = "dark|light")]
    pub theme: Option<String>,
    /// Draw the attackers as points sized by attempts
    #[arg(long)]
    pub points: bool,
    /// Mark the server's own position
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub home: Option<String>,
    /// Count these event kinds (comma-separated) instead of attack attempts
    #[arg(long, value_name = "KIND,...")]
    pub kind: Option<String>,
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChartArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .png or .svg
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[arg(long, value_name = "country|user|ip|hour|asn")]
    pub by: String,
    #[arg(long, value_name = "bar|pie")]
    pub style: Option<String>,
    /// Rows shown; the rest is summed into "other"
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Picture size in pixels [default: 1200x750]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    #[arg(long, value_name = "dark|light")]
    pub theme: Option<String>,
    /// Count these event kinds (comma-separated) instead of attack attempts
    #[arg(long, value_name = "KIND,...")]
    pub kind: Option<String>,
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct TimelapseArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .mp4 (H.264) or .gif
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// mp4 or gif [default: from the file extension]
    #[arg(long, value_name = "mp4|gif")]
    pub format: Option<String>,
    /// Time per frame, down to 1s [default: 1m]
    #[arg(long, value_name = "DURATION")]
    pub bin: Option<String>,
    /// Frames per second of the video [default: 15]
    #[arg(long)]
    pub fps: Option<u32>,
    /// Half-life of a country's glow: bins (5) or a duration (5m) [default: 5]
    #[arg(long, value_name = "HALF_LIFE")]
    pub fade: Option<String>,
    /// Frame size in pixels [default: 1280x720; 640x360 for GIF]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// equal-earth (default), mercator, natural-earth or orthographic (a globe)
    #[arg(long, value_name = "NAME")]
    pub projection: Option<String>,
    /// Centre of the orthographic globe [default: 30,10]
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub center: Option<String>,
    #[arg(long, value_name = "dark|light")]
    pub theme: Option<String>,
    /// Pulse a point where each attacker is, fading like the countries
    #[arg(long)]
    pub points: bool,
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// The HTML file to write (one file, opens offline)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Title shown on the page (default: "SSH attacks")
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Hide addresses for a public report: last IPv4 octet zeroed, IPv6 cut to /48
    #[arg(long = "anonymize-ip")]
    pub anonymize_ip: bool,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files, globs, directories of rotated logs, `-` for stdin, `journal`, or `journal:DIR` (journal files in DIR)
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// The store: a SQLite file path, sqlite://PATH or postgres://… [default: $XDG_DATA_HOME/sshmap/sshmap.db] [env: SSHMAP_DB]
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// After ingesting, delete raw events older than this (e.g. 90d, 12h); rollups and sessions are kept
    #[arg(long, value_name = "DURATION")]
    pub keep: Option<String>,
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    #[arg(long, value_name = "PATH")]
    pub tail: Vec<PathBuf>,
    #[arg(long)]
    pub journal: bool,
    /// Follow the journal files in DIR (`journalctl --directory`) instead of the system's journal
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    #[arg(long, value_name = "ADDR")]
    pub syslog: Option<String>,
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    #[arg(long = "ingest-token", value_name = "TOKEN")]
    pub ingest_token: Vec<String>,
    #[arg(long, value_name = "LAT,LON")]
    pub home: Option<String>,
    #[arg(long = "anonymize-ip")]
    pub anonymize_ip: bool,
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// Delete raw events older than this from the store, at start and hourly (e.g. 90d); rollups are kept
    #[arg(long, value_name = "DURATION")]
    pub keep: Option<String>,
    /// Read ingest tokens from FILE, one per line (kept out of `ps`; also $SSHMAP_INGEST_TOKEN)
    #[arg(long = "ingest-token-file", value_name = "FILE")]
    pub ingest_token_file: Vec<PathBuf>,
    /// Require this token (Bearer, or HTTP basic auth password) for the page and /api/* (also $SSHMAP_READ_TOKEN)
    #[arg(long = "read-token", value_name = "TOKEN")]
    pub read_token: Option<String>,
    /// Read the --read-token from FILE
    #[arg(long = "read-token-file", value_name = "FILE")]
    pub read_token_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum GeoipCommand {
    /// Where an address is, by the databases in use
    Lookup {
        #[arg(required = true)]
        ips: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// The databases in use, their build dates and attributions
    Info,
    /// Download the current DB-IP Lite database into the data directory
    Update {
        #[arg(long, value_name = "country|city|asn")]
        edition: Option<String>,
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}
