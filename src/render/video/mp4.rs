//! H.264 in MP4: OpenH264 (built from its bundled source) encodes, muxide writes the container with fast start.

use std::io::Write;

use anyhow::{Context, Result};
use openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, QpRange, RateControlMode,
};
use openh264::formats::{RgbaSliceU8, YUVBuffer};
use openh264::OpenH264API;

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

pub struct Mp4Encoder<W: Write> {
    enc: Encoder,
    mux: muxide::api::Muxer<W>,
    fps: f64,
    index: u64,
    written: u64,
    bytes: u64,
    buf: Vec<u8>,
}

impl<W: Write> Mp4Encoder<W> {
    pub fn new(out: W, width: u32, height: u32, fps: u32) -> Result<Self> {
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
        let enc = Encoder::with_api_config(OpenH264API::from_source(), config).context("starting the H.264 encoder")?;
        let mux = muxide::api::MuxerBuilder::new(out)
            .video(muxide::api::VideoCodec::H264, width, height, f64::from(fps))
            .with_fast_start(true)
            .build()
            .map_err(|e| anyhow::anyhow!("starting the MP4 muxer: {e}"))?;
        Ok(Mp4Encoder { enc, mux, fps: f64::from(fps.max(1)), index: 0, written: 0, bytes: 0, buf: Vec::with_capacity(1 << 16) })
    }

    pub fn push(&mut self, yuv: &YUVBuffer) -> Result<()> {
        let bs = self.enc.encode(yuv).context("H.264 encoding")?;
        let key = matches!(bs.frame_type(), FrameType::IDR | FrameType::I);
        self.buf.clear();
        bs.write_vec(&mut self.buf);
        let pts = self.index as f64 / self.fps;
        self.index += 1;
        // Even with frame skipping off the encoder may return nothing for a
        // frame; the muxer rejects empty samples, and the previous sample's
        // duration then stretches to cover it (timestamps stay exact).
        if self.buf.is_empty() {
            return Ok(());
        }
        self.bytes += self.buf.len() as u64;
        self.mux.write_video(pts, &self.buf, key).map_err(|e| anyhow::anyhow!("writing MP4: {e}"))?;
        self.written += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<Written> {
        let mut mux = self.mux;
        mux.finish_in_place().map_err(|e| anyhow::anyhow!("finishing MP4: {e}"))?;
        let mut w = mux.into_writer();
        w.flush().context("writing MP4")?;
        Ok(Written { frames: self.written, bytes: self.bytes })
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
                        let inside = x >= (i as u32 * 4) % w && x < (i as u32 * 4) % w + 16 && y >= 8 && y < 24;
                        px[p..p + 4].copy_from_slice(if inside { &[255, 200, 0, 255] } else { &[10, 12, 20, 255] });
                    }
                }
                px
            })
            .collect()
    }

    #[test]
    fn writes_an_mp4_with_every_frame() {
        let (w, h) = (64u32, 48u32);
        let mut out = Vec::new();
        let mut enc = Mp4Encoder::new(&mut out, w, h, 15).unwrap();
        // Identical frames too: a static stretch must not be dropped by rate control.
        let mut fr = frames(w, h, 20);
        fr.extend(std::iter::repeat_n(fr[19].clone(), 10));
        for f in &fr {
            enc.push(&to_yuv(w, h, f)).unwrap();
        }
        let written = enc.finish().unwrap();
        assert_eq!(written.frames, 30);
        assert_eq!(&out[4..8], b"ftyp");
        // Fast start: the index (moov) comes before the media data (mdat).
        let moov = out.windows(4).position(|b| b == b"moov").unwrap();
        let mdat = out.windows(4).position(|b| b == b"mdat").unwrap();
        assert!(moov < mdat);
        assert!(out.windows(4).any(|b| b == b"avc1"));
    }
}
