//! Render: world maps and charts (PNG, SVG) and timelapse video (MP4, GIF) from one scene description.
//!
//! - [`timelapse`] — `sshmap timelapse`: time bins, the per-country fade, frames rendered in parallel.
//! - [`video`]     — the in-process encoders: H.264 in MP4, animated GIF.

pub mod timelapse;
pub mod video;
