//! Raster back end: a [`Scene`] drawn with tiny-skia, written as PNG.
//!
//! PNG is encoded with the `png` crate's fast deflate: the default level costs
//! about 60 ms at 1080p, more than drawing the whole map.

use std::io::Write;

use tiny_skia::{FillRule, Mask, Paint, PathBuilder, Pixmap, Rect, Transform};

use super::scene::{Anchor, Color, Item, Scene, Stroke};
use super::text;

/// Draws the scene into a new pixmap.
pub fn draw(scene: &Scene) -> Pixmap {
    let mut pm = Pixmap::new(scene.width.max(1), scene.height.max(1)).expect("non-zero size");
    pm.fill(skia(scene.background));
    for item in &scene.items {
        draw_item(&mut pm, item, None);
    }
    pm
}

/// Encodes a pixmap as an RGB PNG (pictures are opaque).
pub fn encode_png(pm: &Pixmap, out: impl Write) -> std::io::Result<()> {
    let mut enc = png::Encoder::new(out, pm.width(), pm.height());
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::Fast);
    // Adaptive filtering tries every filter on every row; maps are mostly flat
    // areas where `Up` compresses as well at a fraction of the time.
    enc.set_filter(png::Filter::Up);
    let mut w = enc.write_header().map_err(std::io::Error::other)?;
    let mut rgb = Vec::with_capacity(pm.data().len() / 4 * 3);
    for px in pm.data().chunks_exact(4) {
        rgb.extend_from_slice(&px[..3]);
    }
    w.write_image_data(&rgb).map_err(std::io::Error::other)?;
    w.finish().map_err(std::io::Error::other)
}

/// Draws and encodes in one go.
pub fn png_bytes(scene: &Scene) -> Vec<u8> {
    let mut out = Vec::new();
    encode_png(&draw(scene), &mut out).expect("writing to memory");
    out
}

fn skia(c: Color) -> tiny_skia::Color {
    tiny_skia::Color::from_rgba8(c.r, c.g, c.b, c.a)
}

fn paint(c: Color) -> Paint<'static> {
    let mut p = Paint::default();
    p.set_color(skia(c));
    p.anti_alias = true;
    p
}

fn rings_path(rings: &[Vec<(f32, f32)>], closed: bool) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    push_rings(&mut pb, rings, closed);
    pb.finish()
}

/// Appends rings (or open polylines) to a path under construction.
fn push_rings(pb: &mut PathBuilder, rings: &[Vec<(f32, f32)>], closed: bool) {
    for r in rings {
        let Some(&(x, y)) = r.first() else { continue };
        pb.move_to(x, y);
        for &(x, y) in &r[1..] {
            pb.line_to(x, y);
        }
        if closed {
            pb.close();
        }
    }
}

fn stroke_with(s: &Stroke) -> tiny_skia::Stroke {
    // Bevel joins: round ones add an arc at each of the 50m borders' 100k vertices.
    tiny_skia::Stroke {
        width: s.width,
        line_join: tiny_skia::LineJoin::Bevel,
        ..Default::default()
    }
}

fn draw_item(pm: &mut Pixmap, item: &Item, mask: Option<&Mask>) {
    match item {
        Item::Shape(s) => {
            let Some(path) = rings_path(&s.rings, s.closed) else {
                return;
            };
            if let Some(fill) = s.fill {
                pm.fill_path(
                    &path,
                    &paint(fill),
                    FillRule::EvenOdd,
                    Transform::identity(),
                    mask,
                );
            }
            if let Some(st) = &s.stroke {
                let lines = s.lines.as_ref().and_then(|l| rings_path(l, false));
                let p = lines.as_ref().unwrap_or(&path);
                pm.stroke_path(
                    p,
                    &paint(st.color),
                    &stroke_with(st),
                    Transform::identity(),
                    mask,
                );
            }
        }
        Item::Circle {
            cx,
            cy,
            r,
            fill,
            stroke,
            ..
        } => {
            let Some(path) = PathBuilder::from_circle(*cx, *cy, r.max(0.1)) else {
                return;
            };
            pm.fill_path(
                &path,
                &paint(*fill),
                FillRule::Winding,
                Transform::identity(),
                mask,
            );
            if let Some(st) = stroke {
                pm.stroke_path(
                    &path,
                    &paint(st.color),
                    &stroke_with(st),
                    Transform::identity(),
                    mask,
                );
            }
        }
        Item::Rect { x, y, w, h, fill } => {
            if let Some(r) = Rect::from_xywh(*x, *y, *w, *h) {
                pm.fill_rect(r, &paint(*fill), Transform::identity(), mask);
            }
        }
        Item::Gradient { x, y, w, h, stops } => {
            let Some(r) = Rect::from_xywh(*x, *y, *w, *h) else {
                return;
            };
            let n = stops.len().max(2) - 1;
            let gs: Vec<tiny_skia::GradientStop> = stops
                .iter()
                .enumerate()
                .map(|(i, c)| tiny_skia::GradientStop::new(i as f32 / n as f32, skia(*c)))
                .collect();
            let Some(shader) = tiny_skia::LinearGradient::new(
                tiny_skia::Point::from_xy(*x, 0.0),
                tiny_skia::Point::from_xy(x + w, 0.0),
                gs,
                tiny_skia::SpreadMode::Pad,
                Transform::identity(),
            ) else {
                return;
            };
            let p = Paint {
                shader,
                anti_alias: true,
                ..Paint::default()
            };
            pm.fill_rect(r, &p, Transform::identity(), mask);
        }
        Item::Text(t) => draw_text(pm, t),
        Item::Group { clip, items, .. } => {
            let own = clip.as_ref().and_then(|rings| {
                let path = rings_path(rings, true)?;
                let mut m = Mask::new(pm.width(), pm.height())?;
                m.fill_path(&path, FillRule::EvenOdd, true, Transform::identity());
                Some(m)
            });
            let m = own.as_ref().or(mask);
            if let Some(stroke) = common_stroke(items) {
                // Countries: fill them all, then stroke every border as one path. One
                // big stroke is cheaper than hundreds of small ones, and no fill
                // covers half of a neighbour's border.
                let mut pb = PathBuilder::new();
                for it in items {
                    let Item::Shape(s) = it else { continue };
                    if let Some(fill) = s.fill {
                        if let Some(path) = rings_path(&s.rings, s.closed) {
                            pm.fill_path(
                                &path,
                                &paint(fill),
                                FillRule::EvenOdd,
                                Transform::identity(),
                                m,
                            );
                        }
                    }
                    if s.stroke.is_some() {
                        let (lines, closed) = match &s.lines {
                            Some(l) => (l, false),
                            None => (&s.rings, s.closed),
                        };
                        push_rings(&mut pb, lines, closed);
                    }
                }
                if let Some(path) = pb.finish() {
                    pm.stroke_path(
                        &path,
                        &paint(stroke.color),
                        &stroke_with(&stroke),
                        Transform::identity(),
                        m,
                    );
                }
            } else {
                for it in items {
                    draw_item(pm, it, m);
                }
            }
        }
    }
}

/// The one stroke every stroked shape of a group shares, if the group holds only shapes.
fn common_stroke(items: &[Item]) -> Option<Stroke> {
    let mut found: Option<Stroke> = None;
    for it in items {
        let Item::Shape(s) = it else { return None };
        match (s.stroke, found) {
            (Some(st), None) => found = Some(st),
            (Some(st), Some(f)) if st != f => return None,
            _ => {}
        }
    }
    found
}

fn draw_text(pm: &mut Pixmap, t: &super::scene::Text) {
    let w = text::width(&t.text, t.size);
    let x = match t.anchor {
        Anchor::Start => t.x,
        Anchor::Middle => t.x - w / 2.0,
        Anchor::End => t.x - w,
    };
    let (pw, ph) = (pm.width() as i32, pm.height() as i32);
    let data = pm.data_mut();
    let a = f32::from(t.color.a) / 255.0;
    let src = [
        f32::from(t.color.r),
        f32::from(t.color.g),
        f32::from(t.color.b),
    ];
    text::rasterize(&t.text, t.size, x, t.y, |px, py, cov| {
        if px < 0 || py < 0 || px >= pw || py >= ph {
            return;
        }
        let k = (cov.clamp(0.0, 1.0) * a).min(1.0);
        if k <= 0.0 {
            return;
        }
        let i = (py as usize * pw as usize + px as usize) * 4;
        // Premultiplied source-over.
        for c in 0..3 {
            let d = f32::from(data[i + c]);
            data[i + c] = (src[c] * k + d * (1.0 - k)).round() as u8;
        }
        let d = f32::from(data[i + 3]);
        data[i + 3] = (255.0 * k + d * (1.0 - k)).round() as u8;
    });
}
