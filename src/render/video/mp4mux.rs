//! A minimal fast-start MP4 writer for one H.264 track, with memory flat in the number of frames.
//!
//! Why not a muxer crate: `muxide` keeps every encoded frame in memory until
//! the end (it needs the sample table before the data for fast start), which
//! at `--bin 1s` over a day is 86,400 frames — most of a gigabyte. Here frames
//! are streamed to a staging file as they come; only 4 bytes per frame (the
//! size) and the key-frame numbers stay in memory. At the end the index
//! (`moov`) is written first and the staged data copied after it, so players
//! can start before the whole file has arrived ("fast start").

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Writes an MP4 to `path` from Annex-B H.264 access units.
pub struct Mp4Writer {
    path: PathBuf,
    staging_path: PathBuf,
    /// `None` once [`Mp4Writer::finish`] took it.
    staging: Option<BufWriter<File>>,
    width: u32,
    height: u32,
    fps: u32,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    sizes: Vec<u32>,
    /// 1-based numbers of key-frame samples.
    keys: Vec<u32>,
    bytes: u64,
    buf: Vec<u8>,
}

/// Splits an Annex-B byte stream into NAL units (without start codes).
pub fn nal_units(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= data.len() {
        if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let n = starts.len();
    (0..n).map(move |k| {
        let s = starts[k];
        let mut e = if k + 1 < n {
            starts[k + 1] - 3
        } else {
            data.len()
        };
        // A 4-byte start code leaves one zero byte at the end of the previous unit.
        while e > s && data[e - 1] == 0 && k + 1 < n {
            e -= 1;
        }
        &data[s..e]
    })
}

impl Mp4Writer {
    /// Frames go to `path` + `.mdat` until [`Mp4Writer::finish`] writes `path`.
    pub fn create(path: &Path, width: u32, height: u32, fps: u32) -> io::Result<Mp4Writer> {
        let mut staging_path = path.as_os_str().to_owned();
        staging_path.push(".mdat");
        let staging_path = PathBuf::from(staging_path);
        // Read back by finish(): opened for both.
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&staging_path)?;
        let staging = BufWriter::with_capacity(1 << 20, file);
        Ok(Mp4Writer {
            path: path.to_path_buf(),
            staging_path,
            staging: Some(staging),
            width,
            height,
            fps: fps.max(1),
            sps: None,
            pps: None,
            sizes: Vec::new(),
            keys: Vec::new(),
            bytes: 0,
            buf: Vec::with_capacity(1 << 16),
        })
    }

    /// Appends one frame (an Annex-B access unit). Parameter sets are moved
    /// into the sample description, the rest stored length-prefixed (AVCC).
    pub fn write(&mut self, annexb: &[u8], key: bool) -> io::Result<()> {
        self.buf.clear();
        for nal in nal_units(annexb) {
            match nal.first().map(|b| b & 0x1f) {
                None => continue,
                Some(7) => {
                    self.sps.get_or_insert_with(|| nal.to_vec());
                }
                Some(8) => {
                    self.pps.get_or_insert_with(|| nal.to_vec());
                }
                // Access unit delimiters carry nothing an MP4 needs.
                Some(9) => {}
                Some(_) => {
                    self.buf
                        .extend_from_slice(&(nal.len() as u32).to_be_bytes());
                    self.buf.extend_from_slice(nal);
                }
            }
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        if self.sizes.is_empty() && !key {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "the first H.264 frame is not a key frame",
            ));
        }
        self.staging
            .as_mut()
            .ok_or_else(|| io::Error::other("MP4 already finished"))?
            .write_all(&self.buf)?;
        self.sizes.push(self.buf.len() as u32);
        if key {
            self.keys.push(self.sizes.len() as u32);
        }
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    pub fn frames(&self) -> u64 {
        self.sizes.len() as u64
    }

    /// Writes `ftyp`, `moov`, then the staged frames as `mdat`; returns the file size.
    pub fn finish(mut self) -> io::Result<u64> {
        // The staging file is removed by Drop, on success and on error alike.
        let mut staging = self
            .staging
            .take()
            .ok_or_else(|| io::Error::other("MP4 already finished"))?;
        staging.flush()?;
        let (Some(sps), Some(pps)) = (self.sps.clone(), self.pps.clone()) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "no H.264 frames (no SPS/PPS) to write",
            ));
        };
        let ftyp = ftyp();
        // The sample offsets depend on the size of moov, which does not depend on them (co64).
        let moov_len = self.moov(&sps, &pps, 0).len() as u64;
        let mdat_header = 16u64;
        let first = ftyp.len() as u64 + moov_len + mdat_header;
        let moov = self.moov(&sps, &pps, first);
        debug_assert_eq!(moov.len() as u64, moov_len);

        let mut out = BufWriter::with_capacity(1 << 20, File::create(&self.path)?);
        out.write_all(&ftyp)?;
        out.write_all(&moov)?;
        // 64-bit mdat size: a long day at a large size may pass 4 GiB.
        out.write_all(&1u32.to_be_bytes())?;
        out.write_all(b"mdat")?;
        out.write_all(&(mdat_header + self.bytes).to_be_bytes())?;
        let mut staged = staging.into_inner().map_err(|e| e.into_error())?;
        staged.rewind()?;
        let copied = io::copy(
            &mut BufReader::with_capacity(1 << 20, staged).take(self.bytes),
            &mut out,
        )?;
        if copied != self.bytes {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "staged frames were cut short",
            ));
        }
        out.flush()?;
        Ok(first + self.bytes)
    }

    fn moov(&self, sps: &[u8], pps: &[u8], first_offset: u64) -> Vec<u8> {
        let n = self.sizes.len() as u32;
        // 1024 ticks per frame: the time base ffmpeg itself picks, exact for any integer fps.
        let timescale = self.fps * 1024;
        let duration = u64::from(n) * 1024;
        let movie_ms = u64::from(n) * 1000 / u64::from(self.fps);

        let mvhd = full_box(b"mvhd", 0, 0, |b| {
            b.extend_from_slice(&[0; 8]); // creation, modification
            b.extend_from_slice(&1000u32.to_be_bytes());
            b.extend_from_slice(&(movie_ms as u32).to_be_bytes());
            b.extend_from_slice(&0x0001_0000u32.to_be_bytes()); // rate 1.0
            b.extend_from_slice(&0x0100u16.to_be_bytes()); // volume 1.0
            b.extend_from_slice(&[0; 10]);
            b.extend_from_slice(&MATRIX);
            b.extend_from_slice(&[0; 24]);
            b.extend_from_slice(&2u32.to_be_bytes()); // next track id
        });
        let tkhd = full_box(b"tkhd", 0, 3, |b| {
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&1u32.to_be_bytes()); // track id
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(&(movie_ms as u32).to_be_bytes());
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&[0; 4]); // layer, alternate group
            b.extend_from_slice(&[0; 4]); // volume, reserved
            b.extend_from_slice(&MATRIX);
            b.extend_from_slice(&(self.width << 16).to_be_bytes());
            b.extend_from_slice(&(self.height << 16).to_be_bytes());
        });
        let mdhd = full_box(b"mdhd", 0, 0, |b| {
            b.extend_from_slice(&[0; 8]);
            b.extend_from_slice(&timescale.to_be_bytes());
            b.extend_from_slice(&(duration as u32).to_be_bytes());
            b.extend_from_slice(&0x55c4u16.to_be_bytes()); // language "und"
            b.extend_from_slice(&[0; 2]);
        });
        let hdlr = full_box(b"hdlr", 0, 0, |b| {
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(b"vide");
            b.extend_from_slice(&[0; 12]);
            b.extend_from_slice(b"sshmap video\0");
        });
        let vmhd = full_box(b"vmhd", 0, 1, |b| b.extend_from_slice(&[0; 8]));
        let dref = full_box(b"dref", 0, 0, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&full_box(b"url ", 0, 1, |_| {}));
        });
        let dinf = plain_box(b"dinf", &dref);
        let avcc = plain_box(b"avcC", &{
            let mut b = vec![
                1,
                sps.get(1).copied().unwrap_or(66),
                sps.get(2).copied().unwrap_or(0),
                sps.get(3).copied().unwrap_or(31),
                0xff,
                0xe1,
            ];
            b.extend_from_slice(&(sps.len() as u16).to_be_bytes());
            b.extend_from_slice(sps);
            b.push(1);
            b.extend_from_slice(&(pps.len() as u16).to_be_bytes());
            b.extend_from_slice(pps);
            b
        });
        let avc1 = plain_box(b"avc1", &{
            let mut b = vec![0; 6];
            b.extend_from_slice(&1u16.to_be_bytes()); // data reference index
            b.extend_from_slice(&[0; 16]);
            b.extend_from_slice(&(self.width as u16).to_be_bytes());
            b.extend_from_slice(&(self.height as u16).to_be_bytes());
            b.extend_from_slice(&0x0048_0000u32.to_be_bytes()); // 72 dpi
            b.extend_from_slice(&0x0048_0000u32.to_be_bytes());
            b.extend_from_slice(&[0; 4]);
            b.extend_from_slice(&1u16.to_be_bytes()); // frames per sample
            let mut name = [0u8; 32];
            name[0] = 6;
            name[1..7].copy_from_slice(b"sshmap");
            b.extend_from_slice(&name);
            b.extend_from_slice(&0x0018u16.to_be_bytes()); // depth
            b.extend_from_slice(&0xffffu16.to_be_bytes());
            b.extend_from_slice(&avcc);
            b
        });
        let stsd = full_box(b"stsd", 0, 0, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&avc1);
        });
        let stts = full_box(b"stts", 0, 0, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&n.to_be_bytes());
            b.extend_from_slice(&1024u32.to_be_bytes());
        });
        let stss = full_box(b"stss", 0, 0, |b| {
            b.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
            for k in &self.keys {
                b.extend_from_slice(&k.to_be_bytes());
            }
        });
        // One sample per chunk keeps the tables trivial; co64 costs 8 bytes a frame.
        let stsc = full_box(b"stsc", 0, 0, |b| {
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&1u32.to_be_bytes());
            b.extend_from_slice(&1u32.to_be_bytes());
        });
        let stsz = full_box(b"stsz", 0, 0, |b| {
            b.extend_from_slice(&0u32.to_be_bytes());
            b.extend_from_slice(&n.to_be_bytes());
            for s in &self.sizes {
                b.extend_from_slice(&s.to_be_bytes());
            }
        });
        let co64 = full_box(b"co64", 0, 0, |b| {
            b.extend_from_slice(&n.to_be_bytes());
            let mut off = first_offset;
            for s in &self.sizes {
                b.extend_from_slice(&off.to_be_bytes());
                off += u64::from(*s);
            }
        });
        let stbl = plain_box(b"stbl", &[stsd, stts, stss, stsc, stsz, co64].concat());
        let minf = plain_box(b"minf", &[vmhd, dinf, stbl].concat());
        let mdia = plain_box(b"mdia", &[mdhd, hdlr, minf].concat());
        let trak = plain_box(b"trak", &[tkhd, mdia].concat());
        plain_box(b"moov", &[mvhd, trak].concat())
    }
}

impl Drop for Mp4Writer {
    fn drop(&mut self) {
        self.staging = None;
        let _ = std::fs::remove_file(&self.staging_path);
    }
}

const MATRIX: [u8; 36] = [
    0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
    0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, //
    0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0,
];

fn ftyp() -> Vec<u8> {
    plain_box(
        b"ftyp",
        &[
            b"isom".as_slice(),
            &512u32.to_be_bytes(),
            b"isom",
            b"iso2",
            b"avc1",
            b"mp41",
        ]
        .concat(),
    )
}

fn plain_box(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(body.len() + 8);
    b.extend_from_slice(&((body.len() + 8) as u32).to_be_bytes());
    b.extend_from_slice(kind);
    b.extend_from_slice(body);
    b
}

fn full_box(kind: &[u8; 4], version: u8, flags: u32, fill: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut body = vec![
        version,
        (flags >> 16) as u8,
        (flags >> 8) as u8,
        flags as u8,
    ];
    fill(&mut body);
    plain_box(kind, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_annex_b() {
        let s = [
            0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 1, 0x65, 4, 5,
        ];
        let units: Vec<&[u8]> = nal_units(&s).collect();
        assert_eq!(
            units,
            vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 4, 5][..]]
        );
    }

    #[test]
    fn boxes_nest_with_fast_start_and_offsets_into_mdat() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.mp4");
        let mut w = Mp4Writer::create(&p, 64, 48, 15).unwrap();
        w.write(
            &[
                0, 0, 0, 1, 0x67, 0x42, 0xc0, 0x1f, 0, 0, 0, 1, 0x68, 0xce, 0, 0, 0, 1, 0x65, 0xaa,
                0xbb,
            ],
            true,
        )
        .unwrap();
        w.write(&[0, 0, 0, 1, 0x41, 0xcc], false).unwrap();
        w.write(&[], false).unwrap();
        assert_eq!(w.frames(), 2);
        let size = w.finish().unwrap();
        let f = std::fs::read(&p).unwrap();
        assert_eq!(f.len() as u64, size);
        assert!(!dir.path().join("t.mp4.mdat").exists());
        let pos = |k: &[u8]| f.windows(4).position(|w| w == k).unwrap();
        assert!(pos(b"ftyp") < pos(b"moov") && pos(b"moov") < pos(b"mdat"));
        // The first sample (AVCC: 4-byte length, then the slice) starts where co64 says.
        let co64 = pos(b"co64");
        let first = u64::from_be_bytes(f[co64 + 12..co64 + 20].try_into().unwrap()) as usize;
        assert_eq!(&f[first..first + 7], &[0, 0, 0, 3, 0x65, 0xaa, 0xbb]);
        assert_eq!(&f[first + 7..first + 13], &[0, 0, 0, 2, 0x41, 0xcc]);
        // SPS/PPS went into avcC, not into the samples.
        let avcc = pos(b"avcC");
        assert_eq!(&f[avcc + 4..avcc + 8], &[1, 0x42, 0xc0, 0x1f]);
    }

    #[test]
    fn the_first_frame_must_be_a_key_frame() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Mp4Writer::create(&dir.path().join("t.mp4"), 64, 48, 15).unwrap();
        assert!(w.write(&[0, 0, 1, 0x41, 1], false).is_err());
        drop(w);
        assert!(!dir.path().join("t.mp4.mdat").exists());
    }
}
