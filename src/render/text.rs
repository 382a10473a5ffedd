//! Text: the embedded DejaVu Sans (Bitstream Vera licence, `assets/fonts/`), measured and rasterized with ab_glyph.
//!
//! Both back ends use the same measurements, so layout (legend labels, chart
//! label columns) is decided once in the scene, not per format.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont};

const DEJAVU: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

pub fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(DEJAVU).expect("embedded DejaVu Sans parses"))
}

/// What is drawn for attacker text: control characters made visible (`\x1b`),
/// so they can neither vanish nor draw as boxes that hide what was sent.
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    crate::escape::terminal(s)
}

/// Advance width of a line at `size` pixels.
pub fn width(s: &str, size: f32) -> f32 {
    let f = font().as_scaled(PxScale::from(size));
    let mut w = 0.0;
    let mut prev = None;
    for c in visible(s).chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            w += f.kern(p, id);
        }
        w += f.h_advance(id);
        prev = Some(id);
    }
    w
}

/// Shortens `s` with an ellipsis so it fits in `max` pixels.
pub fn truncate(s: &str, size: f32, max: f32) -> String {
    let s = visible(s).into_owned();
    if width(&s, size) <= max {
        return s;
    }
    let mut chars: Vec<char> = s.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let t: String = chars.iter().collect::<String>() + "…";
        if width(&t, size) <= max {
            return t;
        }
    }
    "…".to_string()
}

/// Calls `plot(x, y, coverage)` for each pixel of the line, `x` where the line
/// starts and `y` its baseline.
pub fn rasterize(s: &str, size: f32, x: f32, y: f32, mut plot: impl FnMut(i32, i32, f32)) {
    let font = font();
    let f = font.as_scaled(PxScale::from(size));
    let mut pen = x;
    let mut prev = None;
    for c in visible(s).chars() {
        let id = f.glyph_id(c);
        if let Some(p) = prev {
            pen += f.kern(p, id);
        }
        let glyph = id.with_scale_and_position(PxScale::from(size), ab_glyph::point(pen, y));
        pen += f.h_advance(id);
        prev = Some(id);
        if let Some(outlined) = font.outline_glyph(glyph) {
            let b = outlined.px_bounds();
            outlined.draw(|gx, gy, cov| {
                plot(b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov)
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_scale_and_truncate() {
        let w = width("Attempts", 20.0);
        assert!(w > 60.0 && w < 120.0, "{w}");
        assert!((width("Attempts", 40.0) - 2.0 * w).abs() < 1.0);
        let t = truncate("a-very-long-user-name-indeed", 20.0, 100.0);
        assert!(t.ends_with('…') && width(&t, 20.0) <= 100.0, "{t}");
        assert_eq!(truncate("root", 20.0, 100.0), "root");
        assert_eq!(visible("a\x1b[2J"), "a\\x1b[2J");
    }
}
