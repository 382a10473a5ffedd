//! Runs one command: resolves settings, wires the stages, reports problems.
//!
//! Exit codes (DESIGN §1): 0 success; 1 the work was done but some input could
//! not be read; 2 usage or startup error. A closed stdout pipe is success.

use std::io::{self, BufWriter, Write};
use std::sync::Arc;

use anyhow::{bail, Context, Result};

use crate::analyze::{self, Stats};
use crate::cli::{Cli, Command, FormatArg, GeoipCommand, IngestArgs, InputArgs};
use crate::event::{EventWriter, Format};
use crate::flow::{self, InputReport};
use crate::geo::{self, GeoConfig, Locator};
use crate::settings::{self, Layers, Settings};
use crate::source::{self, Input};
use crate::store;

mod picture;
mod timelapse;

pub use picture::{parse_lat_lon, parse_size};

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<i32> {
    let layers = Layers::load(cli.global.config.as_deref())?;
    let settings = Settings::resolve(&cli.global, &layers)?;
    match cli.command {
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
        Command::Serve(a) => serve(&settings, &layers, &a),
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
        eprintln!("sshmap: {e}");
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
fn locator(settings: &Settings) -> Result<Option<Locator>> {
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
            eprintln!("sshmap: {}", crate::escape::terminal(e));
            any = true;
        }
    }
    any
}

fn parse(settings: &Settings, args: &InputArgs, format: Format, all: bool) -> Result<i32> {
    let (inputs, mut failed) = inputs(settings, args)?;
    let stdout = io::stdout().lock();
    let mut w = EventWriter::new(BufWriter::with_capacity(1 << 16, stdout), format)?;
    let mut opts = pipeline_options(settings, all)?;
    opts.range = time_range(settings, args)?;
    opts.host = args.host.clone();
    let reports = flow::run(
        &inputs,
        &opts,
        // In input order, as the store gives them back (`parse --db`).
        &mut flow::Ordered::new(flow::Each(|ev: crate::event::Event| w.write(&ev))),
    )?;
    w.flush().context("writing events")?;
    failed |= report_errors(&reports);
    Ok(i32::from(failed))
}

/// `parse --db`: the stored events, in the order a read of the logs gives them.
fn parse_db(settings: &Settings, db: &str, args: &InputArgs, format: Format) -> Result<i32> {
    let (mut st, filter) = open_db_filter(settings, db, args)?;
    let stdout = io::stdout().lock();
    let mut w = EventWriter::new(BufWriter::with_capacity(1 << 16, stdout), format)?;
    let mut res = Ok(());
    st.scan(&filter, &mut |ev| {
        if res.is_ok() {
            res = w.write(&ev);
        }
    })?;
    res?;
    w.flush().context("writing events")?;
    Ok(0)
}

/// The store `--db` names and the `--from`/`--to`/`--host` filter of an analysis command.
fn open_db_filter(
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

fn stats(settings: &Settings, args: &InputArgs, top: usize, json: bool) -> Result<i32> {
    let (inputs, mut failed) = inputs(settings, args)?;
    let mut opts = pipeline_options(settings, false)?;
    opts.range = time_range(settings, args)?;
    opts.host = args.host.clone();
    let mut stats = Stats::new();
    let reports = flow::run(
        &inputs,
        &opts,
        &mut flow::Each(|ev: crate::event::Event| {
            stats.add(&ev);
            Ok(())
        }),
    )?;
    failed |= report_errors(&reports);
    print_summary(&stats.summary(top, reports), json)?;
    Ok(i32::from(failed))
}

fn print_summary(summary: &analyze::Summary, json: bool) -> Result<()> {
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, summary).map_err(io::Error::from)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(analyze::table::render(summary).as_bytes())?;
    }
    out.flush()?;
    Ok(())
}

/// `sshmap ingest`: logs into the store, each input from its checkpoint.
fn ingest(settings: &Settings, a: &IngestArgs, db: Option<&str>) -> Result<i32> {
    let keep = match a.keep.as_deref() {
        Some(k) => Some(
            store::parse_duration(k)
                .with_context(|| format!("--keep {k:?}: use a duration such as 90d, 12h or 2w"))?,
        ),
        None => None,
    };
    let loc = store::Location::parse(db)?;
    let (inputs, mut failed) = inputs(
        settings,
        &InputArgs {
            inputs: a.inputs.clone(),
            ..InputArgs::default()
        },
    )?;
    let mut st = store::open(&loc)?;
    let opts = pipeline_options(settings, false)?;
    let reports = store::ingest::run(&mut *st, &inputs, &opts)?;
    for r in &reports {
        if let Some(e) = &r.error {
            eprintln!("sshmap: {}", crate::escape::terminal(e));
            failed = true;
        } else if !settings.quiet {
            let note = r
                .note
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            eprintln!(
                "sshmap: {}: {:+} events{note}",
                crate::escape::terminal(&r.input),
                r.added
            );
        }
    }
    if let Some(secs) = keep {
        let now = jiff::Timestamp::now().as_microsecond();
        let n = st.prune(now - secs * 1_000_000)?;
        if !settings.quiet {
            eprintln!("sshmap: --keep: pruned {n} raw events (rollups and sessions kept)");
        }
    }
    Ok(i32::from(failed))
}

fn serve(settings: &Settings, layers: &Layers, args: &crate::cli::ServeArgs) -> Result<i32> {
    let mut cfg = crate::serve::ServeConfig::resolve(args, layers, settings.data_dir.as_deref())?;
    // The store is SQLite at the default path unless --db names another, or `none` (memory only).
    cfg.db = match cfg.db.take() {
        Some(d) if d == "none" => None,
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

fn report(settings: &Settings, args: &crate::cli::ReportArgs, db: Option<&str>) -> Result<i32> {
    let mut collector = crate::report::Collector::new();
    let mut failed = false;
    let reports = if let Some(db) = db {
        if !args.input.inputs.is_empty() {
            bail!("pass either INPUT files or --db, not both");
        }
        let mut st = store::open(&store::Location::parse(Some(db))?)?;
        let range = time_range(settings, &args.input)?;
        let filter = store::Filter {
            from: range.from,
            to: range.to,
            host: args.input.host.clone(),
        };
        st.scan(&filter, &mut |ev| collector.add(&ev))?;
        st.checkpoints()?
            .iter()
            .map(store::Checkpoint::report)
            .collect()
    } else {
        let (inputs, f) = inputs(settings, &args.input)?;
        let mut opts = pipeline_options(settings, false)?;
        opts.range = time_range(settings, &args.input)?;
        opts.host = args.input.host.clone();
        let reports = flow::run(
            &inputs,
            &opts,
            &mut flow::Each(|ev: crate::event::Event| {
                collector.add(&ev);
                Ok(())
            }),
        )?;
        failed = f | report_errors(&reports);
        reports
    };
    let summary = collector.summary(10, reports);
    let title = args
        .title
        .clone()
        .unwrap_or_else(|| "SSH attacks".to_string());
    let snap = collector.snapshot(
        &crate::report::Options {
            title,
            anonymize_ip: args.anonymize_ip,
            span: None,
        },
        &summary,
    );
    let html = crate::report::render(&snap);
    std::fs::write(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    if !settings.quiet {
        eprintln!(
            "sshmap: wrote {} ({} KB)",
            crate::escape::terminal(&args.output.display().to_string()),
            html.len() / 1024
        );
    }
    Ok(i32::from(failed))
}

/// `stats --db`: the same summary, fed from the store.
fn stats_db(
    settings: &Settings,
    db: &str,
    args: &InputArgs,
    top: usize,
    json: bool,
) -> Result<i32> {
    let (mut st, filter) = open_db_filter(settings, db, args)?;
    let mut stats = Stats::new();
    st.scan(&filter, &mut |ev| stats.add(&ev))?;
    let reports = st
        .checkpoints()?
        .iter()
        .map(store::Checkpoint::report)
        .collect();
    print_summary(&stats.summary(top, reports), json)?;
    Ok(0)
}

fn geoip(settings: &Settings, command: GeoipCommand) -> Result<i32> {
    let mut out = io::stdout().lock();
    match command {
        GeoipCommand::Lookup { ips, json } => {
            let loc = locator(settings)?.context(
                "GeoIP is off (--geoip none): leave it out to use the embedded database",
            )?;
            for s in &ips {
                let ip = crate::parse::ip::parse_ip(s.trim().as_bytes()).with_context(|| {
                    format!("{s:?} is not an IP address (give IPv4 or IPv6 addresses)")
                })?;
                let l = loc.locate(ip);
                if json {
                    #[derive(serde::Serialize)]
                    struct Out<'a> {
                        ip: String,
                        scope: crate::event::Scope,
                        geo: &'a Option<Arc<crate::event::Geo>>,
                    }
                    serde_json::to_writer(
                        &mut out,
                        &Out {
                            ip: l.ip.to_string(),
                            scope: l.scope,
                            geo: &l.geo,
                        },
                    )?;
                    out.write_all(b"\n")?;
                } else {
                    writeln!(out, "{}", geo::locate::describe(&l))?;
                }
            }
        }
        GeoipCommand::Info => {
            let loc = locator(settings)?;
            let dir = settings
                .data_dir
                .as_deref()
                .map(|d| d.display().to_string());
            writeln!(
                out,
                "data directory: {}",
                dir.as_deref().unwrap_or("(none: set SSHMAP_DATA_DIR)")
            )?;
            match &loc {
                None => writeln!(out, "GeoIP enrichment is off (--geoip none)")?,
                Some(loc) => {
                    for (role, db) in loc.databases() {
                        write!(out, "{}", geo::locate::info(role, db))?;
                    }
                }
            }
        }
        GeoipCommand::Update { edition, url } => {
            let edition = geo::update::Edition::parse(edition.as_deref().unwrap_or("country"))?;
            let dir = settings
                .data_dir
                .as_deref()
                .context("no data directory: set SSHMAP_DATA_DIR (or XDG_DATA_HOME / HOME)")?;
            if !settings.quiet {
                eprintln!(
                    "sshmap: downloading the DB-IP {} Lite database…",
                    edition.as_str()
                );
            }
            let u = geo::update::update(dir, edition, url.as_deref())?;
            writeln!(
                out,
                "{}: {} ({}, built {}, {} bytes) from {}",
                u.path.display(),
                u.database_type,
                edition.as_str(),
                geo::locate::date(u.build_epoch),
                u.bytes,
                u.url
            )?;
            writeln!(out, "Attribution: {}", geo::DBIP_ATTRIBUTION)?;
        }
    }
    out.flush()?;
    Ok(0)
}
