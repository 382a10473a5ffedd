//! SVG back end: the same [`Scene`] as the PNG, as a standalone SVG document.
//!
//! Every string that may come from an attacker (user names, titles) goes
//! through [`crate::escape::html`]; ids are ISO codes we generated ourselves but
//! are escaped too, for the day that changes.

use std::fmt::Write as _;

use super::scene::{Anchor, Color, Item, Scene, Shape, Stroke};
use crate::escape::html;

pub fn render(scene: &Scene) -> String {
    let mut out = String::with_capacity(1 << 20);
    let _ = write!(
        out,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" font-family=\"DejaVu Sans, Verdana, sans-serif\">\n<title>{t}</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"{bg}\"/>\n",
        w = scene.width,
        h = scene.height,
        t = html(&scene.title),
        bg = scene.background.hex(),
    );
    let mut ids = 0usize;
    for item in &scene.items {
        write_item(&mut out, item, &mut ids);
    }
    out.push_str("</svg>\n");
    out
}

fn fill_attrs(out: &mut String, attr: &str, c: Color) {
    let _ = write!(out, " {attr}=\"{}\"", c.hex());
    if c.a != 255 {
        let _ = write!(out, " {attr}-opacity=\"{:.3}\"", f32::from(c.a) / 255.0);
    }
}

fn stroke_attrs(out: &mut String, s: Option<&Stroke>) {
    if let Some(s) = s {
        fill_attrs(out, "stroke", s.color);
        let _ = write!(
            out,
            " stroke-width=\"{}\" stroke-linejoin=\"round\"",
            num(s.width)
        );
    }
}

/// One decimal is a tenth of a pixel: invisible, and it halves the file.
fn num(v: f32) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

fn path_data(out: &mut String, rings: &[Vec<(f32, f32)>], closed: bool) {
    for r in rings {
        for (i, &(x, y)) in r.iter().enumerate() {
            out.push(if i == 0 { 'M' } else { 'L' });
            out.push_str(&num(x));
            out.push(' ');
            out.push_str(&num(y));
        }
        if closed && !r.is_empty() {
            out.push('Z');
        }
    }
}

fn write_shape(out: &mut String, s: &Shape) {
    out.push_str("<path");
    if let Some(id) = &s.id {
        let _ = write!(out, " id=\"{}\"", html(id));
    }
    match s.fill {
        Some(c) => fill_attrs(out, "fill", c),
        None => out.push_str(" fill=\"none\""),
    }
    if s.closed {
        out.push_str(" fill-rule=\"evenodd\"");
    }
    if s.lines.is_none() {
        stroke_attrs(out, s.stroke.as_ref());
    }
    out.push_str(" d=\"");
    path_data(out, &s.rings, s.closed);
    out.push('"');
    match &s.title {
        Some(t) => {
            let _ = writeln!(out, "><title>{}</title></path>", html(t));
        }
        None => out.push_str("/>\n"),
    }
    if let (Some(lines), Some(st)) = (&s.lines, &s.stroke) {
        out.push_str("<path fill=\"none\"");
        stroke_attrs(out, Some(st));
        out.push_str(" d=\"");
        path_data(out, lines, false);
        out.push_str("\"/>\n");
    }
}

fn write_item(out: &mut String, item: &Item, ids: &mut usize) {
    match item {
        Item::Shape(s) => write_shape(out, s),
        Item::Circle {
            cx,
            cy,
            r,
            fill,
            stroke,
            title,
        } => {
            let _ = write!(
                out,
                "<circle cx=\"{}\" cy=\"{}\" r=\"{}\"",
                num(*cx),
                num(*cy),
                num(*r)
            );
            fill_attrs(out, "fill", *fill);
            stroke_attrs(out, stroke.as_ref());
            match title {
                Some(t) => {
                    let _ = writeln!(
                        out,
                        "><title>{}</title></circle>",
                        html(&super::text::visible(t))
                    );
                }
                None => out.push_str("/>\n"),
            }
        }
        Item::Rect { x, y, w, h, fill } => {
            let _ = write!(
                out,
                "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"",
                num(*x),
                num(*y),
                num(*w),
                num(*h)
            );
            fill_attrs(out, "fill", *fill);
            out.push_str("/>\n");
        }
        Item::Gradient { x, y, w, h, stops } => {
            *ids += 1;
            let id = format!("grad{ids}");
            let _ = write!(
                out,
                "<defs><linearGradient id=\"{id}\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">"
            );
            let n = stops.len().max(2) - 1;
            for (i, c) in stops.iter().enumerate() {
                let _ = write!(
                    out,
                    "<stop offset=\"{:.4}\" stop-color=\"{}\"/>",
                    i as f32 / n as f32,
                    c.hex()
                );
            }
            let _ = write!(
                out,
                "</linearGradient></defs>\n<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"url(#{id})\"/>\n",
                num(*x),
                num(*y),
                num(*w),
                num(*h)
            );
        }
        Item::Text(t) => {
            let anchor = match t.anchor {
                Anchor::Start => "start",
                Anchor::Middle => "middle",
                Anchor::End => "end",
            };
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\"",
                num(t.x),
                num(t.y),
                num(t.size)
            );
            fill_attrs(out, "fill", t.color);
            // Same visible form as the PNG (control characters shown as \xNN), then XML-escaped.
            let _ = writeln!(out, ">{}</text>", html(&super::text::visible(&t.text)));
        }
        Item::Group { id, clip, items } => {
            out.push_str("<g");
            if let Some(id) = id {
                let _ = write!(out, " id=\"{}\"", html(id));
            }
            if let Some(rings) = clip {
                *ids += 1;
                let cid = format!("clip{ids}");
                let mut d = String::new();
                path_data(&mut d, rings, true);
                let _ = writeln!(
                    out,
                    " clip-path=\"url(#{cid})\"><defs><clipPath id=\"{cid}\"><path clip-rule=\"evenodd\" d=\"{d}\"/></clipPath></defs>"
                );
            } else {
                out.push_str(">\n");
            }
            for it in items {
                write_item(out, it, ids);
            }
            out.push_str("</g>\n");
        }
    }
}
