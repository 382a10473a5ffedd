//! Render: world maps and charts (PNG, SVG) and timelapse video (MP4, GIF) from one scene description.
//!
//! - [`projection`] — Equal Earth, Mercator, Natural Earth, orthographic: pure functions.
//! - [`world`]      — the embedded Natural Earth country polygons.
//! - [`scene`]      — what a picture contains, in pixels; [`raster`] (PNG) and [`svg`] draw it.
//! - [`map`], [`chart`] — build scenes from aggregates (`sshmap map` / `sshmap chart` run in `commands::picture`).
//! - [`text`], [`theme`] — the embedded font and the colours.
//! - [`timelapse`] — `sshmap timelapse`: time bins, the per-country fade, frames rendered in parallel.
//! - [`video`]     — the in-process encoders: H.264 in MP4, animated GIF.

pub mod chart;
pub mod map;
pub mod projection;
pub mod raster;
pub mod scene;
pub mod svg;
pub(crate) mod text;
pub mod theme;
pub mod timelapse;
pub mod video;
pub mod world;

use std::path::Path;

/// Output format, chosen by the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Png,
    Svg,
}

impl Format {
    pub fn from_path(p: &Path) -> Option<Format> {
        match p.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "png" => Some(Format::Png),
            "svg" => Some(Format::Svg),
            _ => None,
        }
    }
}

/// Encodes a scene in a format.
pub fn encode(scene: &scene::Scene, format: Format) -> Vec<u8> {
    match format {
        Format::Png => raster::png_bytes(scene),
        Format::Svg => svg::render(scene).into_bytes(),
    }
}
