//! Runs one command: resolves settings, wires the stages, reports problems.
//!
//! Exit codes (DESIGN §1): 0 success; 1 the work was done but some input could
//! not be read; 2 usage or startup error. A closed stdout pipe is success.

use std::io::{self, BufWriter, Write};

use anyhow::{bail, Context, Result};

use crate::analyze::{self, Stats};
use crate::cli::{Cli, Command, FormatArg, InputArgs};
use crate::event::{EventWriter, Format};
use crate::pipeline::{self, InputReport};
use crate::settings::{Layers, Settings};
use crate::source::{self, Input};

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
            parse(&settings, &a.input, format, a.all)
        }
        Command::Stats(a) => stats(&settings, &a.input, a.top, a.json),
        Command::Map(a) => crate::render::command::map(&settings, a),
        Command::Chart(a) => crate::render::command::chart(&settings, a),
        Command::Timelapse(_) => not_yet("timelapse", "Timelapse video"),
        Command::Report(_) => not_yet("report", "Interactive HTML report"),
        Command::Ingest(_) => not_yet("ingest", "Store"),
        Command::Serve(_) => not_yet("serve", "Live attack map"),
        Command::Geoip { .. } => not_yet("geoip", "GeoIP enrichment"),
    }
}

fn not_yet(cmd: &str, issue: &str) -> Result<i32> {
    eprintln!("sshmap: `{cmd}` is not implemented yet (planned in the issue \"{issue}\")");
    Ok(2)
}

/// True when the error chain is a closed pipe (`sshmap parse | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| e.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe))
}

/// Expands INPUT arguments (or auto-detects), reporting problems on stderr.
pub(crate) fn inputs(settings: &Settings, args: &InputArgs) -> Result<(Vec<Input>, bool)> {
    if args.db.is_some() {
        bail!("--db is not implemented yet (planned in the issue \"Store\"); pass log files instead");
    }
    if args.from.is_some() || args.to.is_some() {
        bail!("--from/--to are not implemented yet for log inputs");
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

pub(crate) fn pipeline_options(settings: &Settings, all: bool) -> pipeline::Options {
    pipeline::Options { all, year: settings.year, tz: settings.tz.clone(), progress: !settings.quiet }
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
    let opts = pipeline_options(settings, all);
    let reports = pipeline::run(&inputs, &opts, &mut |ev| w.write(&ev))?;
    w.flush().context("writing events")?;
    failed |= report_errors(&reports);
    Ok(i32::from(failed))
}

fn stats(settings: &Settings, args: &InputArgs, top: usize, json: bool) -> Result<i32> {
    let (inputs, mut failed) = inputs(settings, args)?;
    let opts = pipeline_options(settings, false);
    let mut stats = Stats::new();
    let reports = pipeline::run(&inputs, &opts, &mut |ev| {
        stats.add(&ev);
        Ok(())
    })?;
    failed |= report_errors(&reports);
    let summary = stats.summary(top, reports);
    let mut out = io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &summary)?;
        out.write_all(b"\n")?;
    } else {
        out.write_all(analyze::table::render(&summary).as_bytes())?;
    }
    out.flush()?;
    Ok(i32::from(failed))
}
