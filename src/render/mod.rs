//! Render: world maps and charts (PNG, SVG) and timelapse video (MP4, GIF) from one scene description.
//!
//! Built by the maps and timelapse issues.
