//! Runs one command: resolves settings, wires the stages, reports problems.
//!
//! Exit codes (DESIGN §1): 0 success; 1 the work was done but some input could
//! not be read; 2 usage or startup error. A closed stdout pipe is success.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::analyze::{self, Aggregate};
use crate::cli::{Cli, Command, FormatArg, GeoipCommand, IngestArgs, InputArgs};
use crate::event::{EventWriter, Format};
use crate::flow::{self, InputReport};
use crate::geo::{self, GeoConfig, Locator};
use crate::settings::{self, Layers, Settings};
use crate::source::{self, Input};
use crate::store;

mod geoip;
mod ingest;
mod parse;
mod picture;
mod report;
#[cfg(feature = "serve")]
mod serve;
mod stats;
mod timelapse;

use geoip::geoip;
use ingest::ingest;
use parse::{parse, parse_db};
use report::report;
#[cfg(feature = "serve")]
use serve::{serve, serve_config_error};
use stats::{stats, stats_db};

pub use picture::{parse_lat_lon, parse_size};

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    // These need no settings: a broken config file must not stop them.
    match &cli.command {
        Command::Completions { shell } => {
            let mut out = io::stdout().lock();
            crate::cli::completions(*shell, &mut out);
            out.flush()?;
            return Ok(0);
        }
        Command::Manpage { dir } => {
            let mut out = io::stdout().lock();
            crate::cli::manpage(dir.as_deref(), &mut out).with_context(|| match dir {
                Some(d) => format!("writing the man pages into {}", d.display()),
                None => "writing the man page".into(),
            })?;
            out.flush()?;
            return Ok(0);
        }
        _ => {}
    }
    let layers = Layers::load(cli.global.config.as_deref())?;
    let settings = Settings::resolve(&cli.global, &layers)?;
    if settings.verbose >= 1 {
        match layers.file_path() {
            Some(p) => eprintln!("sshmap: config file {}", p.display()),
            None => eprintln!("sshmap: no config file"),
        }
    }
    if settings.verbose >= 2 {
        eprint!("{}", settings.describe(&cli.global, &layers));
    }
    match cli.command {
        Command::Completions { .. } | Command::Manpage { .. } => unreachable!("handled above"),
        Command::Config => {
            // The [serve] table is checked too, as `serve` would read it.
            #[cfg(feature = "serve")]
            {
                let none = crate::cli::ServeArgs::default();
                crate::serve::ServeConfig::resolve(&none, &layers, settings.data_dir.as_deref())
                    .map_err(|e| serve_config_error(e, &none, &layers))?;
            }
            let mut out = io::stdout().lock();
            out.write_all(settings.describe(&cli.global, &layers).as_bytes())?;
            out.flush()?;
            Ok(0)
        }
        Command::Parse(a) => {
            let format = match a.format {
                FormatArg::Jsonl => Format::Jsonl,
                FormatArg::Csv => Format::Csv,
            };
            match layers.get(a.input.db.clone(), None, "db")? {
                Some(_) if a.all => {
                    bail!("--all shows log lines that are not events; the store keeps only events: leave out --all or read the logs")
                }
                Some(db) => parse_db(&settings, &db, &a.input, format),
                None => parse(&settings, &a.input, format, a.all),
            }
        }
        Command::Stats(a) => match layers.get(a.input.db.clone(), None, "db")? {
            Some(db) => stats_db(&settings, &db, &a.input, a.top, a.json),
            None => stats(&settings, &a.input, a.top, a.json),
        },
        Command::Map(a) => picture::map(&settings, a),
        Command::Chart(a) => picture::chart(&settings, a),
        Command::Timelapse(a) => timelapse::run(&settings, &layers, &a),
        Command::Report(a) => {
            let db = layers.get(a.input.db.clone(), None, "db")?;
            report(&settings, &a, db.as_deref())
        }
        Command::Ingest(a) => {
            let db = layers.get(a.db.clone(), None, "db")?;
            ingest(&settings, &a, db.as_deref())
        }
        #[cfg(feature = "serve")]
        Command::Serve(a) => serve(&settings, &layers, &a),
        #[cfg(not(feature = "serve"))]
        Command::Serve(_) => bail!(
            "this sshmap was built without the live map (cargo feature `serve`): rebuild with default features"
        ),
        Command::Geoip { command } => geoip(&settings, command),
    }
}

/// True when the error chain is a closed pipe (`sshmap parse | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Expands INPUT arguments (or auto-detects), reporting problems on stderr.
pub(crate) fn inputs(settings: &Settings, args: &InputArgs) -> Result<(Vec<Input>, bool)> {
    if args.db.is_some() {
        bail!("--db: this command reads log inputs only");
    }
    if args.inputs.is_empty() {
        let (inputs, note) = source::autodetect();
        if !settings.quiet {
            eprintln!("sshmap: {note}");
        }
        return Ok((inputs, false));
    }
    let (inputs, errors) = source::expand(&args.inputs);
    for e in &errors {
        eprintln!("sshmap: {}", with_hint(&e.to_string()));
    }
    Ok((inputs, !errors.is_empty()))
}

pub(crate) fn pipeline_options(settings: &Settings, all: bool) -> Result<flow::Options> {
    Ok(flow::Options {
        all,
        year: settings.year,
        tz: settings.tz.clone(),
        progress: !settings.quiet,
        geo: locator(settings)?.map(Arc::new),
        range: flow::TimeRange::default(),
        host: None,
    })
}

/// `--from` / `--to` of an analysis command, read in `--tz`.
pub(crate) fn time_range(settings: &Settings, args: &InputArgs) -> Result<flow::TimeRange> {
    let parse = |flag: &str, v: &Option<String>| -> Result<Option<i64>> {
        v.as_deref()
            .map(|s| settings::parse_time(s, &settings.tz).with_context(|| format!("--{flag}")))
            .transpose()
    };
    let range = flow::TimeRange {
        from: parse("from", &args.from)?,
        to: parse("to", &args.to)?,
    };
    if let (Some(f), Some(t)) = (range.from, range.to) {
        if f >= t {
            bail!("--from must be before --to");
        }
    }
    Ok(range)
}

/// The GeoIP databases the settings name; `None` for `--geoip none`.
pub(crate) fn locator(settings: &Settings) -> Result<Option<Locator>> {
    if settings.geoip.as_deref().is_some_and(geo::locate::is_off) && settings.asn.is_none() {
        return Ok(None);
    }
    let cfg = GeoConfig {
        geoip: settings.geoip.clone(),
        asn: settings.asn.clone(),
        data_dir: settings.data_dir.clone(),
    };
    let loc = Locator::from_config(&cfg)?;
    for w in &loc.warnings {
        eprintln!("sshmap: warning: {}", crate::escape::terminal(w));
    }
    Ok(Some(loc))
}

/// Reports unreadable inputs; returns true if there was one.
pub(crate) fn report_errors(reports: &[InputReport]) -> bool {
    let mut any = false;
    for r in reports {
        if let Some(e) = &r.error {
            eprintln!("sshmap: {}", with_hint(&crate::escape::terminal(e)));
            any = true;
        }
    }
    any
}

/// [`report_errors`], and with `-v` a line per input: lines read, events, lines skipped.
pub(crate) fn report_inputs(settings: &Settings, reports: &[InputReport]) -> bool {
    if settings.verbose >= 1 {
        for r in reports.iter().filter(|r| r.error.is_none()) {
            eprintln!(
                "sshmap: {}: {} lines, {} events, {} skipped ({} other programs, {} malformed, {} too long)",
                crate::escape::terminal(&r.input),
                r.lines,
                r.events,
                r.skipped,
                r.other_programs,
                r.malformed,
                r.too_long
            );
        }
    }
    report_errors(reports)
}

/// What to do about an input this user may not read, added to its error.
pub const PERMISSION_HINT: &str = "hint: on Debian and Ubuntu the logs are readable by group adm and the \
     journal by group systemd-journal: add your user to the `adm` group (sudo usermod -aG adm $USER, then \
     log in again) or use sudo";

/// `msg` with [`PERMISSION_HINT`] when it is a permission problem.
pub fn with_hint(msg: &str) -> String {
    if msg.contains("os error 13") || msg.contains("Permission denied") {
        format!("{msg}\n  {PERMISSION_HINT}")
    } else {
        msg.to_string()
    }
}

/// The store `--db` names and the `--from`/`--to`/`--host` filter of an analysis command.
pub(crate) fn open_db_filter(
    settings: &Settings,
    db: &str,
    args: &InputArgs,
) -> Result<(Box<dyn store::Store>, store::Filter)> {
    if !args.inputs.is_empty() {
        bail!("pass either INPUT files or --db, not both");
    }
    let st = store::open(&store::Location::parse(Some(db))?)?;
    let range = time_range(settings, args)?;
    Ok((
        st,
        store::Filter {
            from: range.from,
            to: range.to,
            host: args.host.clone(),
        },
    ))
}
