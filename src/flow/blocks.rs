//! Blocks of whole lines read from a stream, with their offsets in it.
//!
//! Each block ends at a newline (or at the end of the input) and is about
//! [`BLOCK`] bytes; a line longer than a block (no sshd line is) is skipped and
//! counted. A block never straddles `split`, so line statistics can be split
//! exactly at a store checkpoint's `keep` point.

use std::io::{self, Read};

/// Bytes per block: the unit of parallel parsing and of checkpoints.
pub const BLOCK: usize = 1 << 20;

/// A block of whole lines and where it ends in the decompressed stream.
pub struct Chunk {
    pub start: u64,
    pub end: u64,
    /// Too-long lines skipped just before `bytes`.
    pub dropped: u64,
    pub bytes: Vec<u8>,
}

/// Reads blocks of whole lines with their offsets; never lets a block
/// straddle `split` (the old `keep` point, so statistics split exactly there).
pub struct Blocks<R: Read> {
    inner: R,
    pos: u64,
    split: Option<u64>,
    carry: Vec<u8>,
    eof: bool,
    skipping: bool,
}

impl<R: Read> Blocks<R> {
    pub fn new(inner: R, pos: u64, split: Option<u64>) -> Self {
        Blocks {
            inner,
            pos,
            split,
            carry: Vec::new(),
            eof: false,
            skipping: false,
        }
    }

    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        let mut dropped = 0u64;
        let start = self.pos;
        loop {
            let mut buf = std::mem::take(&mut self.carry);
            while buf.len() < BLOCK && !self.eof {
                let at = buf.len();
                buf.resize(BLOCK, 0);
                match self.inner.read(&mut buf[at..]) {
                    Ok(0) => {
                        buf.truncate(at);
                        self.eof = true;
                    }
                    Ok(n) => buf.truncate(at + n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => buf.truncate(at),
                    Err(e) => return Err(e),
                }
            }
            if self.skipping {
                match memchr::memchr(b'\n', &buf) {
                    Some(i) => {
                        self.skipping = false;
                        buf.drain(..=i);
                        self.pos += i as u64 + 1;
                        dropped += 1;
                    }
                    None => {
                        self.pos += buf.len() as u64;
                        if self.eof {
                            dropped += 1;
                            self.skipping = false;
                        } else {
                            continue;
                        }
                        buf.clear();
                    }
                }
            }
            if buf.is_empty() && self.eof {
                return Ok((dropped > 0).then(|| Chunk {
                    start,
                    end: self.pos,
                    dropped,
                    bytes: Vec::new(),
                }));
            }
            let mut cut = if self.eof {
                Some(buf.len())
            } else {
                memchr::memrchr(b'\n', &buf).map(|i| i + 1)
            };
            if let Some(s) = self.split {
                if s > self.pos && s < self.pos + cut.unwrap_or(buf.len()) as u64 {
                    cut = Some((s - self.pos) as usize);
                }
            }
            match cut {
                Some(c) => {
                    self.carry = buf.split_off(c);
                    self.pos += c as u64;
                    return Ok(Some(Chunk {
                        start,
                        end: self.pos,
                        dropped,
                        bytes: buf,
                    }));
                }
                None => {
                    // One line fills the whole block: no sshd line is that long.
                    self.pos += buf.len() as u64;
                    self.skipping = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_split_at_the_keep_point_and_count_offsets() {
        let mut data = Vec::new();
        for i in 0..100_000 {
            data.extend_from_slice(format!("line {i}\n").as_bytes());
        }
        let split = 12_345 * 11; // some line boundary? find the real one
        let split = data[..split].iter().rposition(|&b| b == b'\n').unwrap() as u64 + 1;
        let mut b = Blocks::new(&data[..], 0, Some(split));
        let mut ends = Vec::new();
        let mut all = Vec::new();
        while let Some(c) = b.next_chunk().unwrap() {
            assert_eq!(c.start, all.len() as u64);
            all.extend_from_slice(&c.bytes);
            ends.push(c.end);
        }
        assert_eq!(all, data);
        assert!(ends.contains(&split));
    }
}
