//! The timelapse video (`sshmap timelapse`, run in `commands::timelapse`): one world-map frame per time bin, countries lighting up as they attack and fading on their own.
//!
//! - [`timeline`] — `--bin`, `--from`, `--to`; events aggregated into bins as they stream in.
//! - [`frame`]    — one frame drawn with the map renderer (scene + raster back end).
//! - [`fade`]     — per-country intensity: exponential decay, re-brightened by every hit.
//! - [`state`]    — what each frame shows, stepped in frame order.
//! - [`stream`]   — frames rendered in parallel, encoded in order, memory flat.

pub(crate) mod fade;
pub mod frame;
pub(crate) mod state;
pub(crate) mod stream;
pub(crate) mod timeline;
