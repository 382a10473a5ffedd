//! `sshmap timelapse`: options checked, events binned, frames rendered in parallel and encoded, file written.
//!
//! Every option is checked before any log is read, so a typo fails at once,
//! not after parsing a day of logs. The video is written to `FILE.partial` and
//! renamed at the end: an interrupted run never leaves a truncated video under
//! the requested name.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::picture::{parse_lat_lon, parse_size};
use crate::analyze::{Aggregate, AggregateOptions, BinOptions, TimeBins};
use crate::cli::{InputArgs, TimelapseArgs};
use crate::commands as app;
use crate::event::Ts;
use crate::flow;
use crate::render::map::thousands;
use crate::render::projection::Projection;
use crate::render::theme::Theme;
use crate::render::timelapse::fade::Fade;
use crate::render::timelapse::frame::{FrameOptions, Frames};
use crate::render::timelapse::state::{States, Summary};
use crate::render::timelapse::stream;
use crate::render::timelapse::timeline::{self, Timeline};
use crate::render::video::{self, Encoder, VideoFormat};
use crate::settings::{self, Layers, Settings};
use crate::store;

/// More frames than this is almost surely a mistake (`--bin 1s` over a year).
pub const MAX_FRAMES: usize = 1_000_000;

/// Everything `timelapse` needs, resolved and checked.
#[derive(Clone, Debug)]
pub struct Options {
    pub output: PathBuf,
    pub format: VideoFormat,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub bin_secs: u64,
    /// Half-life in bins.
    pub half_life: f64,
    pub from: Option<Ts>,
    pub to: Option<Ts>,
    pub projection: Projection,
    pub theme: Theme,
    pub points: bool,
    /// The accounts panel: top user names of the trailing window.
    pub accounts: bool,
    /// The closing summary, held [`SUMMARY_SECS`] at the end.
    pub summary: bool,
    pub title: String,
    pub progress: bool,
}

/// How long the closing summary stays on screen.
pub const SUMMARY_SECS: u32 = 2;

impl Options {
    pub fn resolve(settings: &Settings, layers: &Layers, a: &TimelapseArgs) -> Result<Options> {
        let section = Some("timelapse");
        let format_flag: Option<String> = layers.get(a.format.clone(), section, "format")?;
        let format = VideoFormat::resolve(format_flag.as_deref(), &a.output)?;
        let size: Option<String> = layers.get(a.size.clone(), section, "size")?;
        let (width, height) = match size {
            Some(s) => parse_size(&s)?,
            // GIF is for small sizes: a 720p GIF is tens of megabytes.
            None if format == VideoFormat::Gif => (640, 360),
            None => (1280, 720),
        };
        video::check_size(format, width, height)?;
        let fps: u32 = layers.get(a.fps, section, "fps")?.unwrap_or(15);
        if !(1..=120).contains(&fps) {
            bail!("--fps {fps}: use 1 to 120 frames per second");
        }
        let bin: String = layers
            .get(a.bin.clone(), section, "bin")?
            .unwrap_or_else(|| "1m".into());
        let bin_secs = timeline::parse_bin(&bin)?;
        let fade: String = layers
            .get(a.fade.clone(), section, "fade")?
            .unwrap_or_else(|| "5".into());
        let half_life = timeline::parse_half_life(&fade, bin_secs)?;
        let center = match &a.center {
            Some(c) => parse_lat_lon(c, "--center")?,
            None => (30.0, 10.0),
        };
        let proj_name: Option<String> = layers.get(a.projection.clone(), section, "projection")?;
        let projection = match proj_name.as_deref() {
            None => Projection::EqualEarth,
            Some(n) => Projection::from_name(n, center)
                .with_context(|| format!("--projection {n:?}: use one of {}", Projection::NAMES))?,
        };
        let theme_name: Option<String> = layers.get(a.theme.clone(), section, "theme")?;
        let theme = match theme_name.as_deref() {
            None => Theme::Dark,
            Some(t) => {
                Theme::from_name(t).with_context(|| format!("--theme {t:?}: use dark or light"))?
            }
        };
        let time = |flag: &str, v: &Option<String>| -> Result<Option<Ts>> {
            v.as_deref()
                .map(|s| {
                    let micros = settings::parse_time(s, &settings.tz)
                        .with_context(|| format!("--{flag}"))?;
                    let offset = jiff::Timestamp::from_microsecond(micros)
                        .map(|t| settings.tz.to_offset(t).seconds())
                        .unwrap_or(0);
                    Ok(Ts::from_micros(micros, offset))
                })
                .transpose()
        };
        let (from, to) = (time("from", &a.input.from)?, time("to", &a.input.to)?);
        if let (Some(f), Some(t)) = (from, to) {
            if f.micros >= t.micros {
                bail!("--from must be before --to");
            }
            let frames = (t.micros - f.micros) / 1_000_000 / bin_secs as i64;
            if frames > MAX_FRAMES as i64 {
                bail!("--from … --to at --bin {bin} is {frames} frames; at most {MAX_FRAMES} (use a longer --bin)");
            }
        }
        Ok(Options {
            output: a.output.clone(),
            format,
            width,
            height,
            fps,
            bin_secs,
            half_life,
            from,
            to,
            projection,
            theme,
            points: a.points,
            accounts: a.accounts,
            summary: !a.no_summary,
            title: a
                .title
                .clone()
                .unwrap_or_else(|| "SSH attack attempts".into()),
            progress: !settings.quiet && std::io::stderr().is_terminal(),
        })
    }
}

/// The per minute × country rollup answers exactly when frames are whole
/// minutes, `--from`/`--to` fall on minutes, and neither points (per address
/// places), accounts (user names) nor `--host` (not a rollup key) are asked for.
fn rollups_suffice(opts: &Options, filter: &store::Filter) -> bool {
    let minute = |m: Option<i64>| m.is_none_or(|m| m.rem_euclid(60_000_000) == 0);
    !opts.points
        && !opts.accounts
        && filter.host.is_none()
        && opts.bin_secs % 60 == 0
        && minute(filter.from)
        && minute(filter.to)
}

/// Fills `bins` from the store's rollups instead of its raw events (which
/// `--keep` may have pruned). Bins are in the offset of the first stored
/// event, as a read of the events would put them, else in `--tz`.
fn from_rollups(
    st: &mut dyn store::Store,
    filter: &store::Filter,
    settings: &Settings,
    bins: &mut TimeBins,
) -> Result<()> {
    let from = filter.from.map_or(i64::MIN, |m| m.div_euclid(1_000_000));
    let to = filter.to.map_or(i64::MAX, |m| m.div_euclid(1_000_000));
    let rows: Vec<_> = st
        .minute_country(from, to)?
        .into_iter()
        .filter(|r| r.attempts > 0)
        .collect();
    let Some(first) = rows.iter().map(|r| r.minute).min() else {
        return Ok(());
    };
    let offset = super::picture::rollup_offset(st, first, settings)?;
    for r in &rows {
        let country = (!r.country.is_empty()).then_some(&*r.country);
        bins.count(
            r.minute,
            offset,
            country,
            u32::try_from(r.attempts).unwrap_or(u32::MAX),
        );
    }
    Ok(())
}

/// Runs `sshmap timelapse`; returns the exit code.
pub fn run(settings: &Settings, layers: &Layers, a: &TimelapseArgs) -> Result<i32> {
    let opts = Options::resolve(settings, layers, a)?;
    let started = Instant::now();
    let mut agg = Aggregate::new(AggregateOptions {
        bins: Some(BinOptions {
            secs: opts.bin_secs,
            from: opts.from,
            to: opts.to,
            points: opts.points,
        }),
        ..AggregateOptions::default()
    });
    let failed = match layers.get(a.input.db.clone(), None, "db")? {
        Some(db) => {
            if !a.input.inputs.is_empty() {
                bail!("pass either INPUT files or --db, not both");
            }
            let mut st = store::open(&store::Location::parse(Some(&db))?)?;
            let filter = store::Filter {
                from: opts.from.map(|t| t.micros),
                to: opts.to.map(|t| t.micros),
                host: a.input.host.clone(),
            };
            if rollups_suffice(&opts, &filter) {
                // The rollups fill the bins only: no addresses, no user names.
                let bins = agg.bins_mut().expect("asked for bins");
                from_rollups(st.as_mut(), &filter, settings, bins)?;
            } else {
                st.scan(&filter, &mut |ev| agg.add(&ev))?;
            }
            false
        }
        None => {
            // The range is applied here (and by the bins), so input expansion must not see it.
            let plain = InputArgs {
                from: None,
                to: None,
                ..a.input.clone()
            };
            let (inputs, mut failed) = app::inputs(settings, &plain)?;
            let mut popts = app::pipeline_options(settings, false)?;
            popts.range = flow::TimeRange {
                from: opts.from.map(|t| t.micros),
                to: opts.to.map(|t| t.micros),
            };
            popts.host = a.input.host.clone();
            let reports = flow::run(&inputs, &popts, &mut agg)?;
            failed |= app::report_inputs(settings, &reports);
            failed
        }
    };
    let totals = (agg.events() > 0).then(|| agg.counts());
    let tl = Timeline::of(agg);
    if tl.frames == 0 {
        bail!(
            "no attack attempts to show{}: nothing to render",
            if opts.from.is_some() || opts.to.is_some() {
                " in --from … --to"
            } else {
                ""
            }
        );
    }
    if tl.frames > MAX_FRAMES {
        bail!("the data spans {} frames at this --bin; at most {MAX_FRAMES} (use a longer --bin, or --from/--to)", tl.frames);
    }
    let read = started.elapsed();
    let written = render(&tl, &opts)?;
    if !settings.quiet {
        // The same numbers as `stats`, `map` and `report` (one aggregate).
        if let Some(t) = &totals {
            eprintln!(
                "sshmap: {} attempts from {} unique IPs in {} countries",
                thousands(t.attempts),
                thousands(t.unique_ips),
                thousands(t.countries)
            );
        }
        let secs = written.frames as f64 / f64::from(opts.fps);
        eprintln!(
            "sshmap: wrote {}: {} frames ({} per frame){}, {}x{}, {} fps, {:.1} s of video, {} bytes, in {:.1} s (reading {:.1} s)",
            opts.output.display(),
            thousands(tl.frames as u64),
            human(opts.bin_secs),
            if opts.summary {
                format!(" and a {SUMMARY_SECS} s summary")
            } else {
                String::new()
            },
            opts.width,
            opts.height,
            opts.fps,
            secs,
            thousands(written.bytes),
            started.elapsed().as_secs_f64(),
            read.as_secs_f64(),
        );
    }
    Ok(i32::from(failed))
}

/// Renders and encodes every frame of `tl` into `opts.output`.
pub fn render(tl: &Timeline, opts: &Options) -> Result<video::Written> {
    let fade = Fade::new(opts.half_life);
    // The top 5 counts attempts over three half-lives: the countries still visibly lit.
    let window = (opts.half_life * 3.0).round().max(1.0) as usize;
    let mut states = States::new(tl, fade, opts.points, window);
    if opts.accounts {
        states = states.with_accounts();
    }
    let frames = Frames::new(FrameOptions {
        width: opts.width,
        height: opts.height,
        projection: opts.projection,
        theme: opts.theme,
        title: opts.title.clone(),
        window_label: format!("last {}", human(window as u64 * opts.bin_secs)),
        // A video of one day says which day under its clock.
        zone: if tl.spans_days() || tl.frames == 0 {
            tl.offset_label()
        } else {
            format!("{} {}", tl.date(0), tl.offset_label())
        },
        half_life: opts.half_life,
        glow_peak: states.peak(),
    });
    let partial = partial_path(&opts.output);
    let mut enc = Encoder::create(&partial, opts.format, opts.width, opts.height, opts.fps)?;
    let bar = opts
        .progress
        .then(|| progress_bar(tl.frames as u64))
        .flatten();
    let (format, w, h) = (opts.format, opts.width, opts.height);
    let mut last = None;
    let res = stream::run(
        tl.frames,
        stream::chunk_len(),
        |i| {
            let st = states.next_state();
            if i + 1 == tl.frames {
                last = Some(st.clone());
            }
            st
        },
        |st| video::prepare(format, w, h, frames.draw(&st)),
        |p| {
            enc.push(p)?;
            if let Some(b) = &bar {
                b.inc(1);
            }
            Ok(())
        },
    )
    .and_then(|()| match last.filter(|_| opts.summary) {
        // The closing summary: one picture held SUMMARY_SECS.
        Some(last) => {
            let sum = Summary::of(tl);
            let still = video::prepare(format, w, h, frames.draw_summary(&last, &sum));
            enc.push_held(still, u64::from(opts.fps * SUMMARY_SECS))
        }
        None => Ok(()),
    })
    .and_then(|()| enc.finish());
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    match res {
        Ok(w) => {
            std::fs::rename(&partial, &opts.output).with_context(|| {
                format!(
                    "cannot rename {} to {}",
                    partial.display(),
                    opts.output.display()
                )
            })?;
            Ok(w)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    out.with_file_name(name)
}

fn progress_bar(frames: u64) -> Option<indicatif::ProgressBar> {
    let bar = indicatif::ProgressBar::new(frames).with_style(
        indicatif::ProgressStyle::with_template("frames [{bar:30}] {pos}/{len} {rate} ETA {eta}")
            .ok()?
            // indicatif's {per_sec} prints four decimals (78.8198/s).
            .with_key(
                "rate",
                |s: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", frame_rate(s.per_sec()));
                },
            )
            .progress_chars("=> "),
    );
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
    Some(bar)
}

/// A rate for the progress line: `78.8198` → "78.8/s", `1234.5` → "1234/s".
pub fn frame_rate(per_sec: f64) -> String {
    if per_sec >= 100.0 {
        format!("{per_sec:.0}/s")
    } else {
        format!("{per_sec:.1}/s")
    }
}

/// `900` → "15 min", `5400` → "1 h 30 min", `45` → "45 s".
pub fn human(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut parts = Vec::new();
    for (n, unit) in [(d, "d"), (h, "h"), (m, "min"), (s, "s")] {
        if n > 0 {
            parts.push(format!("{n} {unit}"));
        }
    }
    if parts.is_empty() {
        "0 s".into()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rate_is_rounded_not_printed_with_four_decimals() {
        assert_eq!(frame_rate(78.8198), "78.8/s");
        assert_eq!(frame_rate(1234.56), "1235/s");
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(900), "15 min");
        assert_eq!(human(5400), "1 h 30 min");
        assert_eq!(human(45), "45 s");
        assert_eq!(human(86_400 + 60), "1 d 1 min");
    }

    #[test]
    fn partial_name() {
        assert_eq!(
            partial_path(Path::new("/tmp/day.mp4")),
            PathBuf::from("/tmp/day.mp4.partial")
        );
    }
}
