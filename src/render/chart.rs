//! Bar and pie charts (top countries, users, IPs, ASNs, or attempts by hour of day).
//!
//! Labels are attacker-controlled (user names): they are truncated to fit and
//! escaped by the back ends, never interpreted.

use super::map::{thousands, Metrics};
use super::scene::{Anchor, Item, Scene, Shape, Stroke};
use super::text;
use super::theme::Theme;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Bar,
    Pie,
}

impl Style {
    pub fn from_name(s: &str) -> Option<Style> {
        match s.to_ascii_lowercase().as_str() {
            "bar" | "bars" => Some(Style::Bar),
            "pie" => Some(Style::Pie),
            _ => None,
        }
    }
}

/// What a chart shows: rows in display order, plus the rest folded into "other".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChartData {
    pub title: String,
    /// Second line (time range, totals).
    pub subtitle: String,
    pub rows: Vec<(String, u64)>,
    pub other: u64,
    /// Rows are a fixed sequence (hours 0–23) drawn as columns, not a ranking.
    pub sequence: bool,
}

impl ChartData {
    /// The `top` largest of `counts` (ties by label), the rest summed into `other`.
    pub fn top(
        title: impl Into<String>,
        counts: impl IntoIterator<Item = (String, u64)>,
        top: usize,
    ) -> ChartData {
        let mut rows: Vec<(String, u64)> = counts.into_iter().filter(|r| r.1 > 0).collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let other = rows.iter().skip(top).map(|r| r.1).sum();
        rows.truncate(top);
        ChartData {
            title: title.into(),
            rows,
            other,
            ..ChartData::default()
        }
    }

    pub fn total(&self) -> u64 {
        self.rows.iter().map(|r| r.1).sum::<u64>() + self.other
    }
}

#[derive(Clone, Debug)]
pub struct ChartOptions {
    pub width: u32,
    pub height: u32,
    pub theme: Theme,
    pub style: Style,
}

/// Text scale of a chart: charts are smaller than maps, so their text grows a
/// little relative to the picture. A short, wide chart (a few bars) keeps the
/// scale of a 16:10 one of its width.
fn unit(width: u32, height: u32) -> f32 {
    let m = Metrics::new(width, height.max(width * 10 / 16));
    (m.u * 1.4).max(0.45)
}

/// (title, subtitle line height) above the plot: where the plot area starts.
fn plot_top(data: &ChartData, u: f32) -> f32 {
    let (title_sz, body, margin) = (34.0 * u, 20.0 * u, 24.0 * u);
    let mut top = margin + title_sz;
    if !data.subtitle.is_empty() {
        top += body * 1.5;
    }
    top + body * 1.2
}

/// The height at which a ranked bar chart of `width` has no empty band below
/// its bars (at most `max`).
pub fn fitted_height(data: &ChartData, width: u32, max: u32) -> u32 {
    let u = unit(width, max);
    let rows = data.rows.len() + usize::from(data.other > 0);
    let h = plot_top(data, u) + rows.max(1) as f32 * 20.0 * u * 2.4 + 24.0 * u;
    (h.ceil() as u32).clamp(120, max)
}

pub fn scene(data: &ChartData, opts: &ChartOptions) -> Scene {
    let pal = opts.theme.palette();
    let (w, h) = (opts.width as f32, opts.height as f32);
    let u = unit(opts.width, opts.height);
    let (title_sz, body, small) = (34.0 * u, 20.0 * u, 16.0 * u);
    let margin = 24.0 * u;
    let mut s = Scene::new(opts.width, opts.height, pal.background, data.title.clone());
    s.text(
        margin,
        margin + title_sz,
        title_sz,
        pal.text,
        Anchor::Start,
        data.title.clone(),
    );
    if !data.subtitle.is_empty() {
        s.text(
            margin,
            margin + title_sz + body * 1.5,
            body,
            pal.muted,
            Anchor::Start,
            data.subtitle.clone(),
        );
    }
    let top = plot_top(data, u);
    let area = (margin, top, w - 2.0 * margin, h - top - margin);
    let total = data.total();
    if total == 0 {
        s.text(
            w / 2.0,
            area.1 + area.3 / 2.0,
            title_sz * 1.4,
            pal.text,
            Anchor::Middle,
            "no attempts",
        );
        return s;
    }
    let mut rows: Vec<(String, u64)> = data.rows.clone();
    if data.other > 0 {
        rows.push(("other".to_string(), data.other));
    }
    match (opts.style, data.sequence) {
        (Style::Bar, true) => columns(&mut s, &rows, area, body, small, u, opts.theme),
        (Style::Bar, false) => bars(&mut s, &rows, data.other > 0, area, body, u, opts.theme),
        (Style::Pie, _) => pie(
            &mut s,
            &rows,
            data.other > 0,
            total,
            area,
            body,
            u,
            opts.theme,
        ),
    }
    s
}

fn bars(
    s: &mut Scene,
    rows: &[(String, u64)],
    has_other: bool,
    area: (f32, f32, f32, f32),
    body: f32,
    u: f32,
    theme: Theme,
) {
    let pal = theme.palette();
    let (x, y, w, h) = area;
    let n = rows.len().max(1) as f32;
    let row_h = (h / n).min(body * 2.4);
    let size = (row_h * 0.55).min(body);
    let max_label = w * 0.32;
    let label_w = rows
        .iter()
        .map(|r| text::width(&text::truncate(&r.0, size, max_label), size))
        .fold(0.0f32, f32::max);
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let value_w = text::width(&thousands(max), size) + 12.0 * u;
    let bx = x + label_w + 12.0 * u;
    let bw = (w - label_w - 12.0 * u - value_w).max(10.0);
    for (i, (label, v)) in rows.iter().enumerate() {
        let ry = y + i as f32 * row_h;
        let is_other = has_other && i + 1 == rows.len();
        let color = if is_other {
            pal.other
        } else {
            pal.ramp_at(0.6)
        };
        let len = bw * (*v as f32 / max as f32);
        let bar_h = row_h * 0.7;
        s.items.push(Item::Rect {
            x: bx,
            y: ry + (row_h - bar_h) / 2.0,
            w: len.max(1.0),
            h: bar_h,
            fill: color,
        });
        let base = ry + row_h / 2.0 + size * 0.36;
        s.text(
            bx - 8.0 * u,
            base,
            size,
            pal.text,
            Anchor::End,
            text::truncate(label, size, max_label),
        );
        s.text(
            bx + len + 6.0 * u,
            base,
            size,
            pal.muted,
            Anchor::Start,
            thousands(*v),
        );
    }
}

fn columns(
    s: &mut Scene,
    rows: &[(String, u64)],
    area: (f32, f32, f32, f32),
    body: f32,
    small: f32,
    u: f32,
    theme: Theme,
) {
    let pal = theme.palette();
    let (x, y, w, h) = area;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1);
    let n = rows.len().max(1) as f32;
    let col_w = w / n;
    let plot_h = h - small * 2.2 - body * 1.2;
    let base = y + body * 1.2 + plot_h;
    for (i, (label, v)) in rows.iter().enumerate() {
        let cx = x + i as f32 * col_w;
        let len = plot_h * (*v as f32 / max as f32);
        let color = pal.ramp_at(0.6);
        s.items.push(Item::Rect {
            x: cx + col_w * 0.12,
            y: base - len,
            w: col_w * 0.76,
            h: len.max(if *v > 0 { 1.0 } else { 0.0 }),
            fill: color,
        });
        s.text(
            cx + col_w / 2.0,
            base + small * 1.4,
            small,
            pal.muted,
            Anchor::Middle,
            text::truncate(label, small, col_w),
        );
        if *v > 0 && text::width(&thousands(*v), small * 0.85) < col_w {
            s.text(
                cx + col_w / 2.0,
                base - len - 4.0 * u,
                small * 0.85,
                pal.muted,
                Anchor::Middle,
                thousands(*v),
            );
        }
    }
    s.items.push(Item::Rect {
        x,
        y: base,
        w,
        h: u.max(1.0),
        fill: pal.muted,
    });
}

#[allow(clippy::too_many_arguments)]
fn pie(
    s: &mut Scene,
    rows: &[(String, u64)],
    has_other: bool,
    total: u64,
    area: (f32, f32, f32, f32),
    body: f32,
    u: f32,
    theme: Theme,
) {
    let pal = theme.palette();
    let (x, y, w, h) = area;
    let r = (h / 2.0).min(w * 0.28) * 0.95;
    let (cx, cy) = (x + r + 8.0 * u, y + h / 2.0);
    let mut a0 = -std::f64::consts::FRAC_PI_2;
    let edge = Stroke {
        color: pal.background,
        width: (1.5 * u).max(1.0),
    };
    let size = body.min(h / (rows.len() as f32 * 1.7));
    let lx = cx + r + 32.0 * u;
    let max_label = (x + w - lx) * 0.6;
    // The numbers stand in a column right after the longest label, not at the far edge.
    let label_w = rows
        .iter()
        .map(|r| text::width(&text::truncate(&r.0, size, max_label), size))
        .fold(0.0f32, f32::max);
    let value_w = rows
        .iter()
        .map(|r| text::width(&format!("{}  100.0%", thousands(r.1)), size))
        .fold(0.0f32, f32::max);
    let value_x = (lx + size * 1.5 + label_w + size * 1.2 + value_w).min(x + w);
    for (i, (label, v)) in rows.iter().enumerate() {
        let frac = *v as f64 / total as f64;
        let a1 = a0 + frac * std::f64::consts::TAU;
        let is_other = has_other && i + 1 == rows.len();
        let color = if is_other {
            pal.other
        } else {
            pal.series[i % pal.series.len()]
        };
        let steps = ((a1 - a0) / 1f64.to_radians()).ceil().max(1.0) as usize;
        let mut ring = Vec::with_capacity(steps + 2);
        if frac < 0.9999 {
            ring.push((cx, cy));
        }
        for k in 0..=steps {
            let a = a0 + (a1 - a0) * k as f64 / steps as f64;
            ring.push((cx + r * a.cos() as f32, cy + r * a.sin() as f32));
        }
        s.items.push(Item::Shape(Shape {
            id: None,
            title: Some(format!("{label}: {}", thousands(*v))),
            rings: vec![ring],
            closed: true,
            fill: Some(color),
            stroke: Some(edge),
            lines: None,
        }));
        a0 = a1;
        // Legend row.
        let ly = y + h / 2.0 - rows.len() as f32 * size * 0.85 + i as f32 * size * 1.7;
        s.items.push(Item::Rect {
            x: lx,
            y: ly,
            w: size,
            h: size,
            fill: color,
        });
        s.text(
            lx + size * 1.5,
            ly + size * 0.85,
            size,
            pal.text,
            Anchor::Start,
            text::truncate(label, size, max_label),
        );
        s.text(
            value_x,
            ly + size * 0.85,
            size,
            pal.muted,
            Anchor::End,
            format!("{}  {:.1}%", thousands(*v), 100.0 * frac),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_folds_the_rest_into_other() {
        let d = ChartData::top(
            "t",
            vec![
                ("a".into(), 5),
                ("b".into(), 9),
                ("c".into(), 1),
                ("d".into(), 0),
            ],
            2,
        );
        assert_eq!(d.rows, vec![("b".to_string(), 9), ("a".to_string(), 5)]);
        assert_eq!(d.other, 1);
        assert_eq!(d.total(), 15);
    }

    #[test]
    fn pie_legend_numbers_stand_next_to_their_labels() {
        let d = ChartData::top(
            "C",
            vec![("China (CN)".into(), 187), ("Lithuania (LT)".into(), 56)],
            10,
        );
        let s = scene(
            &d,
            &ChartOptions {
                width: 1200,
                height: 750,
                theme: Theme::Dark,
                style: Style::Pie,
            },
        );
        let x_of = |pred: &dyn Fn(&str) -> bool| {
            s.items
                .iter()
                .find_map(|i| match i {
                    Item::Text(t) if pred(&t.text) => Some(t.x),
                    _ => None,
                })
                .unwrap()
        };
        let label = x_of(&|t| t == "Lithuania (LT)");
        let value = x_of(&|t| t.starts_with("56 "));
        assert!(
            value - label < 400.0,
            "label at {label}, number ends at {value}"
        );
    }

    #[test]
    fn every_style_draws_and_empty_says_so() {
        let d = ChartData::top(
            "Users",
            vec![("root".into(), 50), ("<script>".into(), 3)],
            10,
        );
        for style in [Style::Bar, Style::Pie] {
            let s = scene(
                &d,
                &ChartOptions {
                    width: 800,
                    height: 500,
                    theme: Theme::Dark,
                    style,
                },
            );
            assert!(s
                .items
                .iter()
                .any(|i| matches!(i, Item::Text(t) if t.text == "<script>")));
        }
        let e = scene(
            &ChartData::default(),
            &ChartOptions {
                width: 800,
                height: 500,
                theme: Theme::Light,
                style: Style::Pie,
            },
        );
        assert!(e
            .items
            .iter()
            .any(|i| matches!(i, Item::Text(t) if t.text == "no attempts")));
    }
}
