//! H.264 in MP4: OpenH264 encodes, [`super::mp4mux`] writes a fast-start MP4.
//!
//! OpenH264 is compiled in from its bundled source (feature `mp4`), or, for
//! distributors who ship Cisco's binary for its patent licence (feature
//! `mp4-cisco-openh264` without `mp4`), loaded at run time from `$SSHMAP_OPENH264`.

use std::path::Path;

use anyhow::{Context, Result};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange,
    RateControlMode,
};
use openh264::formats::{RgbaSliceU8, YUVBuffer};
use openh264::OpenH264API;

use super::mp4mux::Mp4Writer;
use super::Written;

/// RGBA → I420. Called on the rendering threads: it costs about as much as encoding.
pub fn to_yuv(width: u32, height: u32, rgba: &[u8]) -> YUVBuffer {
    YUVBuffer::from_rgba8_source(RgbaSliceU8::new(rgba, (width as usize, height as usize)))
}

/// Quantiser bounds: 20 keeps 1-pixel borders crisp; flat map areas cost almost nothing at any QP.
const QP_RANGE: (u8, u8) = (20, 28);

/// Bit rate for a size and frame rate: about 0.1 bit per pixel per frame, which
/// keeps the 1-pixel borders and the small text crisp; flat map areas cost almost nothing.
pub fn bitrate(width: u32, height: u32, fps: u32) -> u32 {
    let bits = u64::from(width) * u64::from(height) * u64::from(fps.max(1)) / 10;
    bits.clamp(500_000, 20_000_000) as u32
}

/// The OpenH264 compiled in.
#[cfg(feature = "mp4")]
fn api() -> Result<OpenH264API> {
    Ok(OpenH264API::from_source())
}

/// Cisco's OpenH264 library, at the path `$SSHMAP_OPENH264` names; only a
/// released binary whose SHA-256 the openh264 crate knows is loaded.
#[cfg(all(feature = "mp4-cisco-openh264", not(feature = "mp4")))]
fn api() -> Result<OpenH264API> {
    let path = std::env::var_os("SSHMAP_OPENH264").context(
        "this sshmap loads OpenH264 at run time: set SSHMAP_OPENH264 to the path of Cisco's \
         libopenh264 (e.g. /usr/lib/sshmap/libopenh264-2.6.0-linux64.8.so), or write a .gif",
    )?;
    OpenH264API::from_blob_path(&path).with_context(|| {
        format!(
            "loading OpenH264 from {}: it must be Cisco's released binary of the version this sshmap was built for",
            std::path::Path::new(&path).display()
        )
    })
}

pub struct Mp4Encoder {
    enc: Encoder,
    mux: Mp4Writer,
    buf: Vec<u8>,
}

impl Mp4Encoder {
    pub fn create(path: &Path, width: u32, height: u32, fps: u32) -> Result<Self> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(bitrate(width, height, fps)))
            .max_frame_rate(FrameRate::from_hz(fps as f32))
            // Every bin must become a frame: rate control would drop some. With
            // rate control off the quantiser stays in QP_RANGE, which keeps the
            // borders and text sharp (and OpenH264 stops warning that it cannot
            // hold a bit rate without skipping frames).
            .skip_frames(false)
            .rate_control_mode(RateControlMode::Off)
            .qp(QpRange::new(QP_RANGE.0, QP_RANGE.1))
            // A key frame every 10 s of video, so players can seek.
            .intra_frame_period(IntraFramePeriod::from_num_frames(fps.max(1) * 10));
        let enc = Encoder::with_api_config(api()?, config).context("starting the H.264 encoder")?;
        let mux = Mp4Writer::create(path, width, height, fps)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(Mp4Encoder {
            enc,
            mux,
            buf: Vec::with_capacity(1 << 16),
        })
    }

    pub fn push(&mut self, yuv: &YUVBuffer) -> Result<()> {
        let bs = self.enc.encode(yuv).context("H.264 encoding")?;
        let key = matches!(bs.frame_type(), FrameType::IDR | FrameType::I);
        self.buf.clear();
        bs.write_vec(&mut self.buf);
        // Even with frame skipping off the encoder may return nothing for a
        // frame; the writer skips it and the previous frame shows a little longer.
        self.mux.write(&self.buf, key).context("writing MP4")
    }

    pub fn finish(self) -> Result<Written> {
        let frames = self.mux.frames();
        let bytes = self.mux.finish().context("finishing MP4")?;
        Ok(Written { frames, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A moving square on a dark background, `n` frames.
    pub fn frames(w: u32, h: u32, n: usize) -> Vec<Vec<u8>> {
        (0..n)
            .map(|i| {
                let mut px = vec![0u8; (w * h * 4) as usize];
                for y in 0..h {
                    for x in 0..w {
                        let p = ((y * w + x) * 4) as usize;
                        let left = (i as u32 * 4) % w;
                        let inside = (left..left + 16).contains(&x) && (8..24).contains(&y);
                        px[p..p + 4].copy_from_slice(if inside {
                            &[255, 200, 0, 255]
                        } else {
                            &[10, 12, 20, 255]
                        });
                    }
                }
                px
            })
            .collect()
    }

    #[test]
    fn writes_an_mp4_with_every_frame() {
        let (w, h) = (64u32, 48u32);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.mp4");
        let mut enc = Mp4Encoder::create(&path, w, h, 15).unwrap();
        // Identical frames too: a static stretch must not be dropped by rate control.
        let mut fr = frames(w, h, 20);
        fr.extend(std::iter::repeat_n(fr[19].clone(), 10));
        for f in &fr {
            enc.push(&to_yuv(w, h, f)).unwrap();
        }
        let written = enc.finish().unwrap();
        assert_eq!(written.frames, 30);
        let out = std::fs::read(&path).unwrap();
        assert_eq!(written.bytes, out.len() as u64);
        assert_eq!(&out[4..8], b"ftyp");
        // Fast start: the index (moov) comes before the media data (mdat).
        let moov = out.windows(4).position(|b| b == b"moov").unwrap();
        let mdat = out.windows(4).position(|b| b == b"mdat").unwrap();
        assert!(moov < mdat);
        assert!(out.windows(4).any(|b| b == b"avc1"));
    }
}
