//! Video encoders for the timelapse: H.264 in MP4 ([`mp4`], container by [`mp4mux`]) and animated GIF ([`gif`]), in-process.
//!
//! Frames arrive as opaque RGBA. Each encoder splits its work in two: a
//! [`prepare`] step that is pure and runs on the rendering threads (colour
//! conversion, palette quantisation — the costly part), and a sequential
//! [`Encoder::push`] that must see frames in order.

pub(crate) mod gif;
#[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
pub(crate) mod mp4;
#[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
pub(crate) mod mp4mux;

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use anyhow::{bail, Result};

/// Output container, from `--format` or the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VideoFormat {
    Mp4,
    Gif,
}

impl VideoFormat {
    pub fn from_name(s: &str) -> Option<VideoFormat> {
        match s.trim_start_matches('.').to_ascii_lowercase().as_str() {
            "mp4" | "m4v" | "h264" => Some(VideoFormat::Mp4),
            "gif" => Some(VideoFormat::Gif),
            _ => None,
        }
    }

    pub fn from_path(p: &Path) -> Option<VideoFormat> {
        VideoFormat::from_name(p.extension()?.to_str()?)
    }

    /// `--format` if given, else the extension of `path`.
    pub fn resolve(flag: Option<&str>, path: &Path) -> Result<VideoFormat> {
        if let Some(f) = flag {
            return match VideoFormat::from_name(f) {
                Some(v) => Ok(v),
                None => bail!("--format {f:?}: use mp4 or gif"),
            };
        }
        match VideoFormat::from_path(path) {
            Some(v) => Ok(v),
            None => bail!(
                "cannot tell the video format of {}: name it .mp4 or .gif, or pass --format mp4|gif",
                path.display()
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            VideoFormat::Mp4 => "mp4",
            VideoFormat::Gif => "gif",
        }
    }
}

/// A frame ready for [`Encoder::push`].
pub enum Prepared {
    #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
    Yuv(openh264::formats::YUVBuffer),
    Gif(::gif::Frame<'static>),
}

/// Converts an opaque RGBA frame for `format`. Pure: call it from any thread.
pub fn prepare(format: VideoFormat, width: u32, height: u32, rgba: Vec<u8>) -> Prepared {
    match format {
        #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
        VideoFormat::Mp4 => Prepared::Yuv(mp4::to_yuv(width, height, &rgba)),
        // check_size refuses MP4 in a build without an H.264 encoder, before any frame.
        #[cfg(not(any(feature = "mp4", feature = "mp4-cisco-openh264")))]
        VideoFormat::Mp4 => unreachable!("MP4 without an H.264 encoder"),
        VideoFormat::Gif => Prepared::Gif(gif::quantize(width, height, rgba)),
    }
}

/// An open video file being written.
pub enum Encoder {
    // Boxed: OpenH264's bitstream info is several kilobytes inline.
    #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
    Mp4(Box<mp4::Mp4Encoder>),
    Gif(Box<gif::GifEncoder<BufWriter<File>>>),
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    pub frames: u64,
    pub bytes: u64,
}

impl Encoder {
    pub fn create(
        path: &Path,
        format: VideoFormat,
        width: u32,
        height: u32,
        fps: u32,
    ) -> Result<Encoder> {
        check_size(format, width, height)?;
        Ok(match format {
            #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
            VideoFormat::Mp4 => {
                Encoder::Mp4(Box::new(mp4::Mp4Encoder::create(path, width, height, fps)?))
            }
            #[cfg(not(any(feature = "mp4", feature = "mp4-cisco-openh264")))]
            VideoFormat::Mp4 => unreachable!("check_size refuses MP4 without an encoder"),
            VideoFormat::Gif => {
                let out = File::create(path)
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
                Encoder::Gif(Box::new(gif::GifEncoder::new(
                    BufWriter::with_capacity(1 << 20, out),
                    width,
                    height,
                    fps,
                )?))
            }
        })
    }

    pub fn push(&mut self, frame: Prepared) -> Result<()> {
        match (self, frame) {
            #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
            (Encoder::Mp4(e), Prepared::Yuv(y)) => e.push(&y),
            (Encoder::Gif(e), Prepared::Gif(f)) => e.push(f),
            #[allow(unreachable_patterns)] // a GIF-only build has one pair
            _ => bail!("internal error: frame prepared for another format"),
        }
    }

    /// `frame` shown for `frames` frames: repeated in an MP4 (identical frames
    /// cost H.264 next to nothing), one frame with the summed delay in a GIF.
    pub fn push_held(&mut self, frame: Prepared, frames: u64) -> Result<()> {
        match (self, frame) {
            #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
            (Encoder::Mp4(e), Prepared::Yuv(y)) => {
                for _ in 0..frames.max(1) {
                    e.push(&y)?;
                }
                Ok(())
            }
            (Encoder::Gif(e), Prepared::Gif(f)) => e.push_held(f, frames),
            #[allow(unreachable_patterns)] // a GIF-only build has one pair
            _ => bail!("internal error: frame prepared for another format"),
        }
    }

    pub fn finish(self) -> Result<Written> {
        match self {
            #[cfg(any(feature = "mp4", feature = "mp4-cisco-openh264"))]
            Encoder::Mp4(e) => e.finish(),
            Encoder::Gif(e) => e.finish(),
        }
    }
}

/// Sizes each format can hold.
pub fn check_size(format: VideoFormat, width: u32, height: u32) -> Result<()> {
    #[cfg(not(any(feature = "mp4", feature = "mp4-cisco-openh264")))]
    if format == VideoFormat::Mp4 {
        bail!("this sshmap was built without an H.264 encoder (cargo feature `mp4`): write a .gif, or rebuild with default features");
    }
    if width < 16 || height < 16 {
        bail!("--size {width}x{height} is too small (at least 16x16)");
    }
    match format {
        // 4:2:0 chroma needs even sizes; level 5.2 tops out near 4096×2304.
        VideoFormat::Mp4 if width % 2 != 0 || height % 2 != 0 => {
            bail!("--size {width}x{height}: MP4 (H.264 4:2:0) needs an even width and height")
        }
        VideoFormat::Mp4 if u64::from(width) * u64::from(height) > 4096 * 2304 => {
            bail!("--size {width}x{height} is larger than H.264 allows here (at most 4096x2304)")
        }
        VideoFormat::Gif if width > 4096 || height > 4096 => {
            bail!("--size {width}x{height}: keep GIFs small (at most 4096 a side; 640x360 is typical)")
        }
        _ => Ok(()),
    }
}
