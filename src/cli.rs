//! The command-line surface (DESIGN §1), as plain clap-derive types.
//!
//! Nothing here is used by the core: [`crate::settings`] turns these values,
//! the environment and the config file into [`crate::settings::Settings`].
//! Every flag carries a help line and every subcommand examples: the man page
//! and the shell completions (`sshmap manpage`, `sshmap completions`) are
//! generated from these same definitions.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "sshmap",
    version,
    about = "Who is attacking your SSH server, from where and when",
    long_about = "sshmap parses sshd authentication logs (syslog, RFC 5424, journald, sshd -e) and shows \
                  the attacks as statistics, maps, video, an HTML report or a live web map.",
    after_help = "\
Examples:
  sshmap stats                                  # the system's log (/var/log/auth.log, /var/log/secure or the journal)
  sshmap stats --json /var/log/auth.log*        # one JSON object
  sshmap map auth.log -o attacks.png --points   # a world map
  sshmap serve --tail /var/log/auth.log         # the live map on http://127.0.0.1:8022/

INPUT: a file (plain, .gz, .zst), a glob, a directory of rotated logs, `-` (stdin), `journal` or `journal:DIR`.
Config: --config FILE, $SSHMAP_CONFIG, $XDG_CONFIG_HOME/sshmap/config.toml, /etc/sshmap/config.toml
(the first found); precedence flag > SSHMAP_* environment > file > default. `sshmap config` shows the result.
Exit codes: 0 success, 1 some input could not be read (the rest was processed), 2 usage or startup error."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options accepted before or after any subcommand.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Config file (TOML), `none` for no file [env: SSHMAP_CONFIG] [default: $XDG_CONFIG_HOME/sshmap/config.toml, else /etc/sshmap/config.toml]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// City or country database (.mmdb: GeoLite2/DB-IP, or ip-location-db), `none` to turn GeoIP off [env: SSHMAP_GEOIP]
    #[arg(long, global = true, value_name = "PATH")]
    pub geoip: Option<PathBuf>,
    /// ASN database (.mmdb) [env: SSHMAP_ASN]
    #[arg(long, global = true, value_name = "PATH")]
    pub asn: Option<PathBuf>,
    /// Year for syslog timestamps that carry none (default: inferred from the file's mtime) [env: SSHMAP_YEAR]
    #[arg(long, global = true, value_name = "YYYY")]
    pub year: Option<i32>,
    /// Time zone for timestamps that carry none: a name (Europe/Paris, UTC) or an offset (+02:00) (default: the system's) [env: SSHMAP_TZ]
    #[arg(long, global = true, value_name = "ZONE")]
    pub tz: Option<String>,
    /// No progress bars, no notes on stderr (errors are still printed) [env: SSHMAP_QUIET]
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr: -v names the config file and sums up each input (lines, events, skipped); -vv also prints every resolved setting
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print normalized events, one per line
    #[command(after_help = "\
Examples:
  sshmap parse /var/log/auth.log                # JSON lines (DESIGN §2 fields, see docs/events.md)
  sshmap parse --format csv auth.log.2.gz > events.csv
  journalctl -o short-iso -u ssh | sshmap parse -
  sshmap parse --all journal                    # every sshd line, kind `other` for the rest
  sshmap parse --db ~/.local/share/sshmap/sshmap.db --from 2026-11-01

Times (--from, --to): RFC 3339 (2026-11-23T07:00:00Z), a date (2026-11-23) or a local date-time
(2026-11-23T07:00), read in --tz.")]
    Parse(ParseArgs),
    /// Top countries, users, IPs and a per-hour histogram
    #[command(after_help = "\
Examples:
  sshmap stats                                  # the system's log, tables on the terminal
  sshmap stats --json --top 20 /var/log/auth.log*
  sshmap stats --db sshmap.db --from 2026-11-01 --to 2026-11-08 --host web1")]
    Stats(StatsArgs),
    /// Draw a world map of the attacks (PNG or SVG)
    #[command(after_help = "\
Examples:
  sshmap map auth.log -o attacks.png
  sshmap map auth.log -o attacks.svg --points --home 48.85,2.35 --theme light
  sshmap map --db sshmap.db -o globe.png --projection orthographic --center 45,10 --size 1080x1080
  sshmap map auth.log -o logins.png --kind auth_success --title \"Successful logins\"")]
    Map(MapArgs),
    /// Draw a bar or pie chart (PNG or SVG)
    #[command(after_help = "\
Examples:
  sshmap chart auth.log -o countries.png --by country
  sshmap chart auth.log -o users.svg --by user --style pie --top 8
  sshmap chart --db sshmap.db -o hours.png --by hour --from 2026-11-01")]
    Chart(ChartArgs),
    /// Render a timelapse video (MP4 or GIF)
    #[command(after_help = "\
Examples:
  sshmap timelapse /var/log/auth.log -o day.mp4            # 1280x720, 15 fps, one frame per minute
  sshmap timelapse auth.log -o day.gif --bin 5m --size 640x360 --points
  sshmap timelapse --db sshmap.db -o week.mp4 --from 2026-11-16 --to 2026-11-23 --bin 10m --fade 30m

Durations (--bin, --fade): a number and a unit: 45s, 30m (or 30min), 12h, 1d.
Sizes: WIDTHxHEIGHT in pixels (1280x720); both even for MP4.
The video ends on a summary held for 2 s (span, attempts, addresses, countries, top countries,
top accounts tried); --no-summary leaves it out. Read from --db's per-minute rollups, the summary
has no addresses or accounts; --accounts (or --points) reads the stored events instead.")]
    Timelapse(TimelapseArgs),
    /// Write a self-contained interactive HTML report
    #[command(after_help = "\
Examples:
  sshmap report /var/log/auth.log* -o report.html
  sshmap report --db sshmap.db -o public.html --anonymize-ip --title \"Attacks on example.net\"")]
    Report(ReportArgs),
    /// Store events incrementally in a database
    #[command(after_help = "\
Examples:
  sshmap ingest /var/log/auth.log               # into $XDG_DATA_HOME/sshmap/sshmap.db, exactly once
  sshmap ingest --db /srv/sshmap.db --keep 90d /var/log/auth.log*
  sshmap ingest --db postgres://sshmap@db/sshmap journal

Run it from cron or a timer as often as you like: each input resumes where the last run stopped.
Durations (--keep): a number and a unit: 12h, 90d, 2w.")]
    Ingest(IngestArgs),
    /// Serve the live attack map
    #[command(after_help = "\
Examples:
  sshmap serve --tail /var/log/auth.log                        # http://127.0.0.1:8022/
  sshmap serve --journal --listen 0.0.0.0:8022 --anonymize-ip  # a public wall
  sshmap serve --syslog 0.0.0.0:6514 --ingest-token \"$(cat /etc/sshmap/token)\" --db postgres://sshmap@db/sshmap
  sshmap serve --config /etc/sshmap/config.toml                # every flag as a key in [serve]

Every flag is also a key in the [serve] table of the config file (listen, tail = [..], journal,
journal-dir, syslog, db, window, ingest-token = [..], home, anonymize-ip, webhook, keep,
alert-ip-failures, alert-user-failures) and an SSHMAP_* variable (SSHMAP_LISTEN, SSHMAP_WINDOW, SSHMAP_INGEST_TOKEN=a,b, …).
Durations (--window, --keep): a number and a unit: 90s, 30m, 5h, 2d, 2w.
Intrusion alerts (the page's list, stderr, --webhook): a login after at least 5 failures from its
address (--alert-ip-failures) or 5 for its user (--alert-user-failures) within --window, or from a
country the user never logged in from before; a typo or two before a login is no alert.
Stderr and the webhook get at most one alert a minute per address and user; the page, all of them.
As a service: contrib/sshmap.service (see README, \"Run it as a service\").")]
    Serve(ServeArgs),
    /// Look up addresses and manage the GeoIP databases
    #[command(after_help = "\
Examples:
  sshmap geoip lookup 203.0.113.9 2001:db8::1
  sshmap geoip info
  sshmap geoip update --edition city")]
    Geoip {
        #[command(subcommand)]
        command: GeoipCommand,
    },
    /// Print the resolved settings and where each came from
    #[command(after_help = "\
Examples:
  sshmap config                                 # which config file, and every setting's value and origin
  SSHMAP_TZ=Europe/Paris sshmap config --config /etc/sshmap/config.toml

Origins: `flag`, `env SSHMAP_…`, `FILE: key` or `default`.")]
    Config,
    /// Print a shell completion script
    #[command(after_help = "\
Examples:
  sshmap completions bash > /etc/bash_completion.d/sshmap
  sshmap completions zsh > \"${fpath[1]}/_sshmap\"
  sshmap completions fish > ~/.config/fish/completions/sshmap.fish")]
    Completions {
        /// The shell to write the script for
        #[arg(value_enum)]
        shell: ShellArg,
    },
    /// Print the man page (roff), generated from this help
    #[command(after_help = "\
Examples:
  sshmap manpage | man -l -
  sshmap manpage > /usr/local/share/man/man1/sshmap.1
  sshmap manpage --dir /usr/local/share/man/man1    # also sshmap-stats.1, sshmap-serve.1, …")]
    Manpage {
        /// Write sshmap.1 and one page per subcommand (sshmap-stats.1, …) into DIR instead of printing sshmap.1
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Shells `sshmap completions` writes for.
#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
    Elvish,
    Powershell,
}

/// Where events come from: log inputs, or a store.
#[derive(Debug, Args, Default, Clone)]
#[command(next_help_heading = None)]
pub struct InputArgs {
    /// Files, globs, directories of rotated logs, `-` for stdin, `journal`, or `journal:DIR` (journal files in DIR) [default: /var/log/auth.log, /var/log/secure, else the journal]
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// Read from this store instead of logs: a SQLite file path, sqlite://PATH or postgres://… [env: SSHMAP_DB]
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Only events at or after this time: RFC 3339, YYYY-MM-DD or YYYY-MM-DDTHH:MM (read in --tz)
    #[arg(long, value_name = "T")]
    pub from: Option<String>,
    /// Only events before this time (same forms as --from)
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
    /// Output format: JSON lines (one event object per line) or CSV with a header
    #[arg(long, value_enum, default_value_t = FormatArg::Jsonl)]
    pub format: FormatArg,
    /// Also print every other sshd line (kind `other`)
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum FormatArg {
    /// One JSON object per line
    Jsonl,
    /// Comma-separated values with a header line
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
    /// Output file: .png or .svg (the extension chooses the format)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Picture size in pixels, WIDTHxHEIGHT [default: 1920x1080]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// equal-earth (default), mercator, natural-earth or orthographic (a globe)
    #[arg(long, value_name = "NAME")]
    pub projection: Option<String>,
    /// Centre of the orthographic globe, in degrees [default: --home, else 30,10]
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub center: Option<String>,
    /// Colour theme: dark or light [default: dark]
    #[arg(long, value_name = "dark|light")]
    pub theme: Option<String>,
    /// Draw the attackers as points sized by attempts
    #[arg(long)]
    pub points: bool,
    /// Mark the server's own position, in degrees (e.g. 48.85,2.35)
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub home: Option<String>,
    /// Count these event kinds (comma-separated, e.g. auth_success,refused) instead of attack attempts
    #[arg(long, value_name = "KIND,...")]
    pub kind: Option<String>,
    /// Title drawn on the map [default: "Attack attempts by country", or the --kind counted]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
}

#[derive(Debug, Args)]
pub struct ChartArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// Output file: .png or .svg (the extension chooses the format)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// What to count attempts by: country, user (names tried), ip, hour (of the day) or asn (network)
    #[arg(long, value_name = "country|user|ip|hour|asn")]
    pub by: String,
    /// Chart style: bar or pie [default: bar]
    #[arg(long, value_name = "bar|pie")]
    pub style: Option<String>,
    /// Rows shown; the rest is summed into "other"
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Picture size in pixels, WIDTHxHEIGHT [default: 1200x750]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// Colour theme: dark or light [default: dark]
    #[arg(long, value_name = "dark|light")]
    pub theme: Option<String>,
    /// Count these event kinds (comma-separated, e.g. auth_success,refused) instead of attack attempts
    #[arg(long, value_name = "KIND,...")]
    pub kind: Option<String>,
    /// Title drawn above the chart [default: what is counted, and the time range]
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
    /// Time per frame, a duration down to 1s (45s, 1m, 10m, 1h) [default: 1m]
    #[arg(long, value_name = "DURATION")]
    pub bin: Option<String>,
    /// Frames per second of the video [default: 15]
    #[arg(long)]
    pub fps: Option<u32>,
    /// Half-life of a country's glow: bins (5) or a duration (5m) [default: 5]
    #[arg(long, value_name = "HALF_LIFE")]
    pub fade: Option<String>,
    /// Frame size in pixels, WIDTHxHEIGHT [default: 1280x720; 640x360 for GIF]
    #[arg(long, value_name = "WxH")]
    pub size: Option<String>,
    /// equal-earth (default), mercator, natural-earth or orthographic (a globe)
    #[arg(long, value_name = "NAME")]
    pub projection: Option<String>,
    /// Centre of the orthographic globe, in degrees [default: 30,10]
    #[arg(long, value_name = "LAT,LON", allow_hyphen_values = true)]
    pub center: Option<String>,
    /// Colour theme: dark or light [default: dark]
    #[arg(long, value_name = "dark|light")]
    pub theme: Option<String>,
    /// Pulse a point where each attacker is, fading like the countries
    #[arg(long)]
    pub points: bool,
    /// Title drawn on every frame [default: "SSH attack attempts"]
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,
    /// Add a panel of the user names tried most in the last minutes (above the top countries)
    #[arg(long)]
    pub accounts: bool,
    /// Leave out the closing summary (totals, top countries and accounts, held 2 s at the end)
    #[arg(long = "no-summary")]
    pub no_summary: bool,
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
    /// Files, globs, directories of rotated logs, `-` for stdin, `journal`, or `journal:DIR` (journal files in DIR) [default: /var/log/auth.log, /var/log/secure, else the journal]
    #[arg(value_name = "INPUT")]
    pub inputs: Vec<String>,
    /// The store: a SQLite file path, sqlite://PATH or postgres://… [default: $XDG_DATA_HOME/sshmap/sshmap.db] [env: SSHMAP_DB]
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// After ingesting, delete raw events older than this duration (90d, 12h, 2w); rollups and sessions are kept
    #[arg(long, value_name = "DURATION")]
    pub keep: Option<String>,
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Follow this log file like tail -F (rotation, copytruncate, re-creation); repeat for several
    #[arg(long, value_name = "PATH")]
    pub tail: Vec<PathBuf>,
    /// Follow the system's journal (journalctl -f), resuming after the last entry handled
    #[arg(long)]
    pub journal: bool,
    /// Follow the journal files in DIR (`journalctl --directory`) instead of the system's journal
    #[arg(long, value_name = "DIR")]
    pub journal_dir: Option<PathBuf>,
    /// Listen for syslog on this address, UDP and TCP (RFC 3164/5424, newline or octet-counted), e.g. 0.0.0.0:6514
    #[arg(long, value_name = "ADDR")]
    pub syslog: Option<String>,
    /// Address of the web page and API [default: 127.0.0.1:8022]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// The store: SQLite path, sqlite://PATH, postgres://…, or `none` (memory only, nothing written) [default: $XDG_DATA_HOME/sshmap/sshmap.db]
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// How far back the live map reaches, a duration (90m, 5h, 2d) [default: 5h]
    #[arg(long, value_name = "DURATION")]
    pub window: Option<String>,
    /// A bearer token that POST /api/ingest accepts (at least 8 characters); repeat for several
    #[arg(long = "ingest-token", value_name = "TOKEN")]
    pub ingest_token: Vec<String>,
    /// The server's position, in degrees: arcs on the map are drawn to it (e.g. 48.85,2.35)
    #[arg(long, value_name = "LAT,LON")]
    pub home: Option<String>,
    /// Show networks instead of addresses on the page and in the API (a.b.c.0/24, IPv6 /48)
    #[arg(long = "anonymize-ip")]
    pub anonymize_ip: bool,
    /// POST each intrusion alert as JSON to this URL (retried with backoff)
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
    /// Alert on a login from an address with at least N failures in the window [default: 5]
    #[arg(long = "alert-ip-failures", value_name = "N")]
    pub alert_ip_failures: Option<u32>,
    /// Alert on a login of a user with at least N failures in the window, from anywhere [default: 5]
    #[arg(long = "alert-user-failures", value_name = "N")]
    pub alert_user_failures: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum GeoipCommand {
    /// Where an address is, by the databases in use
    #[command(after_help = "\
Examples:
  sshmap geoip lookup 203.0.113.9 2001:db8::1
  sshmap geoip lookup --json 218.92.0.112
  sshmap --geoip dbip-city-lite.mmdb --asn dbip-asn-lite.mmdb geoip lookup 8.8.8.8")]
    Lookup {
        /// IPv4 or IPv6 addresses to look up
        #[arg(required = true, value_name = "IP")]
        ips: Vec<String>,
        /// One JSON object per address ({ip, scope, geo}) instead of text
        #[arg(long)]
        json: bool,
    },
    /// The databases in use, their build dates and attributions
    #[command(after_help = "\
Examples:
  sshmap geoip info
  sshmap --geoip /var/lib/sshmap/dbip-city-lite.mmdb geoip info")]
    Info,
    /// Download the current DB-IP Lite database into the data directory
    #[command(after_help = "\
Examples:
  sshmap geoip update                           # country database, this month's (else last month's)
  sshmap geoip update --edition city            # adds coordinates: points at city precision
  SSHMAP_DATA_DIR=/var/lib/sshmap sshmap geoip update --edition asn
  sshmap geoip update --url http://mirror.example.net/dbip-country-lite.mmdb.gz")]
    Update {
        /// Which database: country, city (adds coordinates) or asn (networks) [default: country]
        #[arg(long, value_name = "country|city|asn")]
        edition: Option<String>,
        /// Download from this URL instead of db-ip.com (plain or gzipped .mmdb, e.g. a local mirror)
        #[arg(long, value_name = "URL")]
        url: Option<String>,
    },
}

/// The whole command tree, for help, completions and the man page.
pub fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}

/// `sshmap completions SHELL`: the completion script for the whole tree.
pub fn completions(shell: ShellArg, out: &mut dyn std::io::Write) {
    use clap_complete::Shell;
    let shell = match shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
        ShellArg::Elvish => Shell::Elvish,
        ShellArg::Powershell => Shell::PowerShell,
    };
    clap_complete::generate(shell, &mut command(), "sshmap", out);
}

/// `sshmap manpage`: `sshmap.1` on `out`, or with `dir` every page written there.
pub fn manpage(dir: Option<&std::path::Path>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    let cmd = command();
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            clap_mangen::generate_to(cmd, d)
        }
        None => {
            let mut cmd = cmd.disable_help_subcommand(true);
            cmd.build();
            clap_mangen::Man::new(cmd).render(out)
        }
    }
}
