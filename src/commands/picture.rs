//! `sshmap map` and `sshmap chart`: read events into the aggregate, draw a projection of it, write the file.
//!
//! Option values are checked before any log is read, so a typo in `--size`
//! fails in milliseconds, not after parsing a gigabyte.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::analyze::{Aggregate, AggregateOptions};
use crate::cli::{ChartArgs, InputArgs, MapArgs};
use crate::commands as app;
use crate::event::Kind;
use crate::flow;
use crate::geo::countries;
use crate::render::chart::{self, ChartData, ChartOptions, Style};
use crate::render::map::{self, thousands, MapData, MapOptions};
use crate::render::projection::Projection;
use crate::render::theme::Theme;
use crate::render::{encode, Format};
use crate::settings::Settings;

/// Which events count, and for how much.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub range: flow::TimeRange,
    /// `None`: attack attempts (DESIGN §2); else events of these kinds, each worth its `count`.
    pub kinds: Option<Vec<Kind>>,
}

impl Filter {
    /// The aggregate that counts what this filter asks for.
    fn aggregate(&self) -> Aggregate {
        Aggregate::new(AggregateOptions {
            kinds: self.kinds.clone(),
            ..AggregateOptions::default()
        })
    }

    fn new(settings: &Settings, input: &InputArgs, kind: Option<&str>) -> Result<Filter> {
        let kinds = match kind {
            None => None,
            Some(list) => Some(
                list.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| {
                        Kind::from_name(s).with_context(|| {
                            let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                            format!(
                                "--kind {s:?}: unknown kind (use one of {})",
                                names.join(", ")
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
        };
        Ok(Filter {
            range: app::time_range(settings, input)?,
            kinds,
        })
    }

    /// Words for the title: what was counted.
    fn noun(&self) -> String {
        match &self.kinds {
            None => "attack attempts".to_string(),
            Some(k) => k.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ") + " events",
        }
    }
}

/// `1920x1080` → (1920, 1080).
pub fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .with_context(|| format!("--size {s:?}: use WIDTHxHEIGHT, e.g. 1920x1080"))?;
    let w: u32 = w
        .trim()
        .parse()
        .with_context(|| format!("--size {s:?}: bad width"))?;
    let h: u32 = h
        .trim()
        .parse()
        .with_context(|| format!("--size {s:?}: bad height"))?;
    if !(64..=16384).contains(&w) || !(64..=16384).contains(&h) {
        bail!("--size {s:?}: each side must be between 64 and 16384 pixels");
    }
    Ok((w, h))
}

/// `48.85,2.35` → (48.85, 2.35), checked.
pub fn parse_lat_lon(s: &str, flag: &str) -> Result<(f64, f64)> {
    let bad = || format!("{flag} {s:?}: use LAT,LON in degrees, e.g. 48.85,2.35");
    let (a, b) = s.split_once(',').with_context(bad)?;
    let lat: f64 = a.trim().parse().with_context(bad)?;
    let lon: f64 = b.trim().parse().with_context(bad)?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        bail!("{flag} {s:?}: latitude must be within ±90 and longitude within ±180");
    }
    Ok((lat, lon))
}

fn output_format(p: &Path) -> Result<Format> {
    Format::from_path(p)
        .with_context(|| format!("-o {}: the file name must end in .png or .svg", p.display()))
}

fn theme(s: Option<&str>) -> Result<Theme> {
    s.map_or(Ok(Theme::Dark), |t| {
        Theme::from_name(t).with_context(|| format!("--theme {t:?}: use dark or light"))
    })
}

/// Runs the pipeline (or reads the store) over the inputs into `agg`.
fn read_events(
    settings: &Settings,
    input: &InputArgs,
    filter: &Filter,
    agg: &mut Aggregate,
) -> Result<bool> {
    // --from/--to are applied here, so the shared input expansion must not see them.
    if let Some(db) = &input.db {
        if !input.inputs.is_empty() {
            bail!("pass either INPUT files or --db, not both");
        }
        let mut st = crate::store::open(&crate::store::Location::parse(Some(db))?)?;
        let f = crate::store::Filter {
            from: filter.range.from,
            to: filter.range.to,
            host: input.host.clone(),
        };
        st.scan(&f, &mut |ev| agg.add(&ev))?;
        return Ok(false);
    }
    let plain = InputArgs {
        from: None,
        to: None,
        ..input.clone()
    };
    let (inputs, mut failed) = app::inputs(settings, &plain)?;
    let mut opts = app::pipeline_options(settings, false)?;
    opts.host = input.host.clone();
    opts.range = filter.range;
    let reports = flow::run(&inputs, &opts, agg)?;
    failed |= app::report_inputs(settings, &reports);
    Ok(failed)
}

/// What the store's rollups (per minute × country × kind, per hour × address)
/// hold for `--db` in the range: exactly what the raw events would give for
/// attack attempts when the range falls on whole hours and no `--host` or
/// `--kind` is asked for.
pub struct Rolled {
    /// (minute, ISO code or "", attempts), attempts > 0.
    pub minutes: Vec<(i64, String, u64)>,
    /// Attempts per source address.
    pub ips: HashMap<String, u64>,
    /// The offset the events were stamped in (see [`rollup_offset`]).
    pub offset: i32,
}

/// A store and a range of its rollups, in unix seconds.
type RollupRange = (Box<dyn crate::store::Store>, i64, i64);

/// The store and the range in unix seconds when the rollups answer exactly
/// (see [`Rolled`]), else `None`.
fn rollup_store(input: &InputArgs, filter: &Filter) -> Result<Option<RollupRange>> {
    let Some(db) = &input.db else { return Ok(None) };
    let hour = |m: Option<i64>| m.is_none_or(|m| m.rem_euclid(3_600_000_000) == 0);
    if filter.kinds.is_some()
        || input.host.is_some()
        || !hour(filter.range.from)
        || !hour(filter.range.to)
    {
        return Ok(None);
    }
    if !input.inputs.is_empty() {
        bail!("pass either INPUT files or --db, not both");
    }
    let st = crate::store::open(&crate::store::Location::parse(Some(db))?)?;
    let from = filter
        .range
        .from
        .map_or(i64::MIN, |m| m.div_euclid(1_000_000));
    let to = filter
        .range
        .to
        .map_or(i64::MAX, |m| m.div_euclid(1_000_000));
    Ok(Some((st, from, to)))
}

/// A `--by ip` chart from the rollups when they answer exactly, else `None`:
/// what [`Rolled::chart_into`] gives, from the store's total, span and top `top`
/// addresses rather than every row of both rollups.
fn rolled_ips(
    settings: &Settings,
    input: &InputArgs,
    filter: &Filter,
    top: usize,
) -> Result<Option<ChartCounts>> {
    let Some((mut st, from, to)) = rollup_store(input, filter)? else {
        return Ok(None);
    };
    let span = st.attempt_span(from, to)?;
    let ips = st.top_ips(from, to, top.max(1))?;
    let offset = match span.first {
        Some(m) => rollup_offset(st.as_mut(), m, settings)?,
        None => 0,
    };
    let ts = |m: i64| crate::event::Ts::from_micros(m * 1_000_000, offset);
    let listed: u64 = ips.ips.iter().map(|r| r.1).sum();
    Ok(Some(ChartCounts {
        from: span.first.map(ts),
        to: span.last.map(ts),
        total: span.attempts,
        rest: ips.attempts - listed,
        counts: ips.ips.into_iter().collect(),
        ..ChartCounts::default()
    }))
}

/// Reads [`Rolled`] when the rollups answer exactly (see there), else `None`.
fn rolled(settings: &Settings, input: &InputArgs, filter: &Filter) -> Result<Option<Rolled>> {
    let Some((mut st, from, to)) = rollup_store(input, filter)? else {
        return Ok(None);
    };
    let mut minutes: Vec<(i64, String, u64)> = Vec::new();
    for r in st.minute_country(from, to)? {
        if r.attempts <= 0 {
            continue;
        }
        match minutes.last_mut() {
            Some(last) if last.0 == r.minute && *last.1 == *r.country => {
                last.2 += r.attempts as u64
            }
            _ => minutes.push((r.minute, r.country.to_string(), r.attempts as u64)),
        }
    }
    let mut ips: HashMap<String, u64> = HashMap::new();
    for r in st.hour_ip(from, to)? {
        if r.attempts > 0 {
            *ips.entry(r.ip.to_string()).or_default() += r.attempts as u64;
        }
    }
    let offset = match minutes.first() {
        Some(&(m, _, _)) => rollup_offset(st.as_mut(), m, settings)?,
        None => 0,
    };
    Ok(Some(Rolled {
        minutes,
        ips,
        offset,
    }))
}

/// The offset of the first attack attempt stored in `minute` (a read of the
/// events would show times in it), else the offset `--tz` gives (pruned events).
pub(crate) fn rollup_offset(
    st: &mut dyn crate::store::Store,
    minute: i64,
    settings: &Settings,
) -> Result<i32> {
    let mut offset = None;
    let probe = crate::store::Filter {
        from: Some(minute * 1_000_000),
        to: Some((minute + 60) * 1_000_000),
        host: None,
    };
    st.scan(&probe, &mut |ev| {
        if ev.attempts > 0 && offset.is_none() {
            offset = Some(ev.ts.offset);
        }
    })?;
    Ok(offset.unwrap_or_else(|| {
        jiff::Timestamp::from_second(minute)
            .map(|t| settings.tz.to_offset(t).seconds())
            .unwrap_or(0)
    }))
}

impl Rolled {
    fn span(&self) -> (Option<crate::event::Ts>, Option<crate::event::Ts>) {
        let ts = |m: i64| crate::event::Ts::from_micros(m * 1_000_000, self.offset);
        (
            self.minutes.first().map(|m| ts(m.0)),
            self.minutes.last().map(|m| ts(m.0)),
        )
    }

    /// What [`ChartCounts::from_aggregate`] would give from the raw events, for `by` a rollup key.
    fn chart_into(&self, by: By, agg: &mut ChartCounts) {
        (agg.from, agg.to) = self.span();
        for (minute, country, n) in &self.minutes {
            agg.total += n;
            match by {
                By::Country => {
                    let key = if country.is_empty() {
                        "(no location)".to_string()
                    } else {
                        match countries::name(country) {
                            Some(name) => format!("{name} ({country})"),
                            None => country.clone(),
                        }
                    };
                    *agg.counts.entry(key).or_default() += n;
                }
                By::Hour => {
                    let off = *agg.offset.get_or_insert(self.offset);
                    let local = minute + i64::from(off);
                    agg.hours[local.rem_euclid(86_400) as usize / 3600] += n;
                }
                By::Ip | By::User | By::Asn => {}
            }
        }
        if by == By::Ip {
            for (ip, n) in &self.ips {
                *agg.counts.entry(ip.clone()).or_default() += n;
            }
        }
    }

    /// The map of attack attempts (country places; per-address places are in the raw events).
    fn map_data(&self) -> MapData {
        let mut d = MapData::default();
        for (_, country, n) in &self.minutes {
            d.attempts += n;
            if country.is_empty() {
                d.unlocated += n;
                continue;
            }
            *d.countries.entry(country.to_ascii_uppercase()).or_default() += n;
            if let Some((lat, lon)) = countries::label_point(country) {
                *d.points
                    .entry(((lat * 100.0).round() as i32, (lon * 100.0).round() as i32))
                    .or_default() += n;
            }
        }
        d.unique_ips = self.ips.len() as u64;
        (d.from, d.to) = self.span();
        d
    }
}

/// The attempts' centre of mass on the sphere, as (lat, lon); `None` without points
/// or when they balance out (attacks from everywhere).
fn attack_centre(data: &MapData) -> Option<(f64, f64)> {
    let (mut x, mut y, mut z, mut n) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (&(la, lo), &w) in &data.points {
        let (lat, lon) = (
            (f64::from(la) / 100.0).to_radians(),
            (f64::from(lo) / 100.0).to_radians(),
        );
        let w = w as f64;
        x += w * lat.cos() * lon.cos();
        y += w * lat.cos() * lon.sin();
        z += w * lat.sin();
        n += w;
    }
    let r = (x * x + y * y + z * z).sqrt();
    if n == 0.0 || r < n * 0.05 {
        return None;
    }
    Some((
        z.atan2((x * x + y * y).sqrt()).to_degrees(),
        y.atan2(x).to_degrees(),
    ))
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

pub fn map(settings: &Settings, args: MapArgs) -> Result<i32> {
    let format = output_format(&args.output)?;
    let (width, height) = args.size.as_deref().map_or(Ok((1920, 1080)), parse_size)?;
    let home = args
        .home
        .as_deref()
        .map(|s| parse_lat_lon(s, "--home"))
        .transpose()?;
    let center = args
        .center
        .as_deref()
        .map(|c| parse_lat_lon(c, "--center"))
        .transpose()?;
    if let Some(p) = args.projection.as_deref() {
        // Checked before reading the logs: a typo fails at once.
        Projection::from_name(p, (0.0, 0.0)).with_context(|| {
            format!(
                "--projection {p:?}: unknown (use one of {})",
                Projection::NAMES
            )
        })?;
    }
    let theme = theme(args.theme.as_deref())?;
    let filter = Filter::new(settings, &args.input, args.kind.as_deref())?;
    // Without per-address places, the rollups hold the whole map.
    let rolled = if args.points {
        None
    } else {
        rolled(settings, &args.input, &filter)?
    };
    let (data, failed) = match &rolled {
        Some(r) => (r.map_data(), false),
        None => {
            let mut agg = filter.aggregate();
            let failed = read_events(settings, &args.input, &filter, &mut agg)?;
            (MapData::from(&agg), failed)
        }
    };
    // The globe faces --center, else --home, else where the attacks come from.
    let center = center
        .or(home)
        .or_else(|| attack_centre(&data))
        .unwrap_or((30.0, 10.0));
    let projection = match args.projection.as_deref() {
        None => Projection::EqualEarth,
        Some(p) => Projection::from_name(p, center).expect("checked above"),
    };
    let title = args.title.clone().unwrap_or_else(|| {
        let noun = filter.noun();
        let mut t = noun[..1].to_uppercase() + &noun[1..];
        t.push_str(" by country");
        t
    });
    let opts = MapOptions {
        width,
        height,
        projection,
        theme,
        points: args.points,
        home,
        title: Some(title),
        top_labels: 5,
    };
    let scene = map::scene(&data, &opts);
    write(&args.output, &encode(&scene, format))?;
    if !settings.quiet {
        eprintln!(
            "sshmap: wrote {} ({} attempts from {} countries)",
            crate::escape::terminal(&args.output.display().to_string()),
            thousands(data.attempts),
            data.countries.len()
        );
    }
    Ok(i32::from(failed))
}

/// What `--by` groups on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Country,
    User,
    Ip,
    Hour,
    Asn,
}

impl By {
    pub fn from_name(s: &str) -> Option<By> {
        Some(match s.to_ascii_lowercase().as_str() {
            "country" | "countries" => By::Country,
            "user" | "users" => By::User,
            "ip" | "ips" => By::Ip,
            "hour" | "hours" => By::Hour,
            "asn" | "asns" => By::Asn,
            _ => return None,
        })
    }
}

/// The `--by asn` row of events whose address no ASN database knows.
const UNKNOWN_AS: &str = "(unknown AS)";

/// The counts a chart shows, per `--by` key: a projection of the aggregate
/// (or of the store's rollups).
#[derive(Default)]
pub struct ChartCounts {
    counts: HashMap<String, u64>,
    hours: [u64; 24],
    offset: Option<i32>,
    from: Option<crate::event::Ts>,
    to: Option<crate::event::Ts>,
    total: u64,
    /// Attempts of keys left out of `counts` (fewer than the last shown; see [`rolled_ips`]).
    rest: u64,
}

impl ChartCounts {
    pub fn from_aggregate(agg: &Aggregate, by: By) -> ChartCounts {
        let (from, to) = agg.attempts_span();
        let mut c = ChartCounts {
            from,
            to,
            total: agg.attempts(),
            offset: agg.offset(),
            ..ChartCounts::default()
        };
        let mut put = |k: String, n: u64| {
            if n > 0 {
                *c.counts.entry(k).or_default() += n;
            }
        };
        match by {
            By::Country => {
                for (cc, a) in agg.attacking_countries() {
                    let key = match countries::name(cc) {
                        Some(n) => format!("{n} ({cc})"),
                        None => cc.to_string(),
                    };
                    put(key, a.attempts);
                }
                put("(no location)".to_string(), agg.unlocated());
            }
            By::User => {
                for u in agg.users() {
                    let key = if u.name.is_empty() {
                        "(empty name)".to_string()
                    } else {
                        u.name.clone()
                    };
                    put(key, u.attempts);
                }
            }
            By::Ip => {
                for (ip, a) in agg.attacking_ips() {
                    put(ip.to_string(), a.attempts);
                }
            }
            By::Asn => {
                let mut known = 0;
                for (asn, a) in agg.asns() {
                    known += a.attempts;
                    let key = match a.org.as_deref() {
                        Some(o) => format!("AS{asn} {o}"),
                        None => format!("AS{asn}"),
                    };
                    put(key, a.attempts);
                }
                put(UNKNOWN_AS.to_string(), agg.attempts() - known);
            }
            // Hours of the day in the log's own offset (the first event's), as `stats` shows them.
            By::Hour => c.hours = agg.hour_of_day(),
        }
        c
    }

    pub fn data(self, by: By, top: usize, noun: &str) -> ChartData {
        let what = match by {
            By::Country => "country",
            By::User => "user name",
            By::Ip => "source IP",
            By::Hour => "hour of day",
            By::Asn => "network (AS)",
        };
        let mut t = noun[..1].to_uppercase() + &noun[1..];
        t.push_str(" by ");
        t.push_str(what);
        let mut d = if by == By::Hour {
            ChartData {
                title: t,
                rows: (0..24)
                    .map(|h| (format!("{h:02}"), self.hours[h]))
                    .collect(),
                sequence: true,
                ..ChartData::default()
            }
        } else {
            let mut d = ChartData::top(t, self.counts, top.max(1));
            d.other += self.rest;
            d
        };
        let mut sub = Vec::new();
        if let Some(r) = map::time_range(self.from, self.to) {
            sub.push(r);
        }
        sub.push(format!("{} {noun}", thousands(self.total)));
        d.subtitle = sub.join("   ·   ");
        d
    }
}

pub fn chart(settings: &Settings, args: ChartArgs) -> Result<i32> {
    let format = output_format(&args.output)?;
    let by = By::from_name(&args.by)
        .with_context(|| format!("--by {:?}: use country, user, ip, hour or asn", args.by))?;
    let style = match args.style.as_deref() {
        None => Style::Bar,
        Some(s) => Style::from_name(s).with_context(|| format!("--style {s:?}: use bar or pie"))?,
    };
    if by == By::Hour && style == Style::Pie {
        anyhow::bail!(
            "--by hour --style pie: slices of a clock read badly; use --style bar (the default) for 24 columns in order"
        );
    }
    let size = args.size.as_deref().map(parse_size).transpose()?;
    let theme = theme(args.theme.as_deref())?;
    let filter = Filter::new(settings, &args.input, args.kind.as_deref())?;
    // Countries, hours and addresses are rollup keys; users and networks are not.
    // An address chart needs only the total, the span and the top addresses: the store answers those.
    let rolled = match by {
        By::Country | By::Hour => rolled(settings, &args.input, &filter)?.map(|r| {
            let mut c = ChartCounts::default();
            r.chart_into(by, &mut c);
            c
        }),
        By::Ip => rolled_ips(settings, &args.input, &filter, args.top)?,
        By::User | By::Asn => None,
    };
    let (counts, failed) = match rolled {
        Some(c) => (c, false),
        None => {
            let mut agg = filter.aggregate();
            let failed = read_events(settings, &args.input, &filter, &mut agg)?;
            (ChartCounts::from_aggregate(&agg, by), failed)
        }
    };
    let mut data = counts.data(by, args.top, &filter.noun());
    if by == By::Asn && data.total() > 0 && data.rows.iter().all(|r| r.0 == UNKNOWN_AS) {
        anyhow::bail!(
            "--by asn: no event has a network (AS) number{}; give an ASN database with --asn PATH \
             (GeoLite2-ASN or DB-IP \"IP to ASN Lite\" .mmdb)",
            if settings.asn.is_none() {
                " because no ASN database was given"
            } else {
                ""
            }
        );
    }
    if let Some(t) = args.title {
        data.title = t;
    }
    // Without --size, a bar chart is as tall as its bars.
    let (width, height) = size.unwrap_or_else(|| match (style, data.sequence) {
        (Style::Bar, false) => (1200, chart::fitted_height(&data, 1200, 750)),
        _ => (1200, 750),
    });
    let scene = chart::scene(
        &data,
        &ChartOptions {
            width,
            height,
            theme,
            style,
        },
    );
    write(&args.output, &encode(&scene, format))?;
    if !settings.quiet {
        eprintln!(
            "sshmap: wrote {} ({} {} of {} {})",
            crate::escape::terminal(&args.output.display().to_string()),
            data.rows.len() + usize::from(data.other > 0),
            match (style, data.sequence) {
                (Style::Pie, _) => "slices",
                (Style::Bar, true) => "columns",
                (Style::Bar, false) => "bars",
            },
            thousands(data.total()),
            filter.noun()
        );
    }
    Ok(i32::from(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_globe_faces_where_the_attacks_come_from() {
        let (lat, lon) =
            attack_centre(&MapData::from_countries(&[("CN", 90), ("VN", 10)])).unwrap();
        assert!(
            (15.0..45.0).contains(&lat) && (95.0..115.0).contains(&lon),
            "{lat},{lon}"
        );
        assert_eq!(attack_centre(&MapData::default()), None);
    }

    #[test]
    fn option_values() {
        assert_eq!(parse_size("800x600").unwrap(), (800, 600));
        assert!(parse_size("800").is_err() && parse_size("10x10").is_err());
        assert_eq!(
            parse_lat_lon("48.85, 2.35", "--home").unwrap(),
            (48.85, 2.35)
        );
        assert!(parse_lat_lon("91,0", "--home").is_err());
        assert_eq!(By::from_name("IP"), Some(By::Ip));
    }
}
