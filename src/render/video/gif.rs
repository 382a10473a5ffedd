//! Animated GIF: each frame quantised to its own 256-colour palette (NeuQuant, on the rendering threads).

use std::io::Write;

use anyhow::{Context, Result};

use super::Written;

/// NeuQuant sampling step: 10 is the crate's recommended balance of speed and colour.
const SPEED: i32 = 10;

/// Quantises one opaque RGBA frame. Pure: call it from any thread.
pub fn quantize(width: u32, height: u32, mut rgba: Vec<u8>) -> gif::Frame<'static> {
    gif::Frame::from_rgba_speed(width as u16, height as u16, &mut rgba, SPEED)
}

pub struct GifEncoder<W: Write> {
    enc: gif::Encoder<CountingWriter<W>>,
    fps: u32,
    index: u64,
}

/// Counts bytes written, for the summary.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> GifEncoder<W> {
    pub fn new(out: W, width: u32, height: u32, fps: u32) -> Result<Self> {
        let mut enc = gif::Encoder::new(
            CountingWriter {
                inner: out,
                bytes: 0,
            },
            width as u16,
            height as u16,
            &[],
        )
        .context("starting the GIF encoder")?;
        enc.set_repeat(gif::Repeat::Infinite)
            .context("writing GIF")?;
        Ok(GifEncoder {
            enc,
            fps: fps.max(1),
            index: 0,
        })
    }

    /// Delay of frame `i` in centiseconds (GIF's unit): rounded so that the
    /// running total stays on time, e.g. 7, 7, 6, 7, 7, 6… at 15 fps.
    fn delay(&self, i: u64) -> u16 {
        let at = |k: u64| (k * 100 + u64::from(self.fps) / 2) / u64::from(self.fps);
        (at(i + 1) - at(i)).max(1) as u16
    }

    pub fn push(&mut self, mut frame: gif::Frame<'static>) -> Result<()> {
        frame.delay = self.delay(self.index);
        self.enc.write_frame(&frame).context("writing GIF")?;
        self.index += 1;
        Ok(())
    }

    /// One frame shown for as long as `frames` frames (a still: the closing summary),
    /// written once with their delays added up, so a still costs one frame's bytes.
    pub fn push_held(&mut self, mut frame: gif::Frame<'static>, frames: u64) -> Result<()> {
        let frames = frames.max(1);
        let total: u64 = (0..frames)
            .map(|k| u64::from(self.delay(self.index + k)))
            .sum();
        frame.delay = total.min(u64::from(u16::MAX)) as u16;
        self.enc.write_frame(&frame).context("writing GIF")?;
        self.index += frames;
        Ok(())
    }

    pub fn finish(self) -> Result<Written> {
        let frames = self.index;
        let mut w = self.enc.into_inner().context("finishing GIF")?;
        w.flush().context("writing GIF")?;
        Ok(Written {
            frames,
            bytes: w.bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_frame_and_decodes() {
        let (w, h) = (40u32, 30u32);
        let mut out = Vec::new();
        let mut enc = GifEncoder::new(&mut out, w, h, 15).unwrap();
        for i in 0..12u8 {
            let mut px = vec![0u8; (w * h * 4) as usize];
            for p in px.chunks_exact_mut(4) {
                p.copy_from_slice(&[i * 20, 100, 200 - i * 10, 255]);
            }
            enc.push(quantize(w, h, px)).unwrap();
        }
        assert_eq!(enc.finish().unwrap().frames, 12);
        let mut dec = gif::DecodeOptions::new();
        dec.set_color_output(gif::ColorOutput::RGBA);
        let mut d = dec.read_info(&out[..]).unwrap();
        let mut n = 0;
        let mut total_delay = 0u32;
        while let Some(f) = d.read_next_frame().unwrap() {
            assert_eq!((f.width, f.height), (40, 30));
            total_delay += u32::from(f.delay);
            n += 1;
        }
        assert_eq!(n, 12);
        // 12 frames at 15 fps = 0.8 s.
        assert_eq!(total_delay, 80);
    }
}
