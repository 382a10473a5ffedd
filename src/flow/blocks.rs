//! Blocks of whole lines read from a stream, with their offsets in it.
//!
//! Each block ends at a newline (or at the end of the input) and is about
//! [`BLOCK`] bytes; a line longer than a block (no sshd line is) is skipped and
//! counted. A block never straddles `split`, so line statistics can be split
//! exactly at a store checkpoint's `keep` point.

use std::io::{self, Read};

/// Bytes per block: the unit of parallel parsing and of checkpoints.
pub const BLOCK: usize = 1 << 20;

/// Block buffers kept for reuse: a batch's worth and one.
const SPARE: usize = super::BATCH + 1;

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
    /// A read error, returned after the whole lines read before it.
    error: Option<io::Error>,
    /// Buffers of parsed blocks, given back ([`Blocks::recycle`]) to hold
    /// the next ones.
    spare: Vec<Vec<u8>>,
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
            error: None,
            spare: Vec::new(),
        }
    }

    /// Gives back the buffer of a block that is parsed: the next blocks are
    /// read into it. A fresh megabyte for every block cost a page fault every
    /// 4 KiB as the allocator handed pages back and took them again (issue #15).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() >= BLOCK && self.spare.len() < SPARE {
            buf.clear();
            self.spare.push(buf);
        }
    }

    /// The next block. A read error (a truncated gzip, a disk error) ends the
    /// input, but the whole lines read before it come first, as a last block;
    /// the error comes on the next call. The cut line is dropped: its last
    /// field may be a cut address.
    pub fn next_chunk(&mut self) -> io::Result<Option<Chunk>> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let mut dropped = 0u64;
        let start = self.pos;
        loop {
            let mut buf = std::mem::take(&mut self.carry);
            if buf.len() < BLOCK && !self.eof {
                // Straight into the block's spare capacity: no zeroing, and a
                // plain file's bytes are copied once, by the kernel.
                let want = BLOCK - buf.len();
                buf.reserve_exact(want);
                match (&mut self.inner).take(want as u64).read_to_end(&mut buf) {
                    Ok(n) => {
                        if n < want {
                            self.eof = true;
                        }
                    }
                    Err(e) => {
                        // `read_to_end` keeps what it read before the error.
                        let whole = if self.skipping {
                            0
                        } else {
                            memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1)
                        };
                        if whole == 0 {
                            return Err(e);
                        }
                        buf.truncate(whole);
                        self.eof = true;
                        self.error = Some(e);
                        self.pos += whole as u64;
                        return Ok(Some(Chunk {
                            start,
                            end: self.pos,
                            dropped,
                            bytes: buf,
                        }));
                    }
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
                    // The cut line's start goes to the front of the next
                    // block's buffer: a spare one when there is one.
                    let mut next = self.spare.pop().unwrap_or_default();
                    next.extend_from_slice(&buf[c..]);
                    buf.truncate(c);
                    self.carry = next;
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

    #[test]
    fn recycled_buffers_give_the_same_blocks() {
        // Lines of varied lengths over several blocks, one far too long.
        let mut data = Vec::new();
        let mut i = 0u64;
        while data.len() < 5 * BLOCK {
            i += 1;
            let n = (i * 7919 % 300) as usize;
            data.extend(std::iter::repeat_n(b'a' + (i % 26) as u8, n));
            data.push(b'\n');
            if i == 9_000 {
                data.extend(std::iter::repeat_n(b'x', BLOCK + 10));
                data.push(b'\n');
            }
        }
        data.extend_from_slice(b"no newline at the end");
        let split = Some(3 * BLOCK as u64 + 12_345);
        let chunks = |recycle: bool| {
            let mut b = Blocks::new(&data[..], 0, split);
            let mut out = Vec::new();
            while let Some(c) = b.next_chunk().unwrap() {
                out.push((c.start, c.end, c.dropped, c.bytes.clone()));
                if recycle {
                    b.recycle(c.bytes);
                }
            }
            out
        };
        let plain = chunks(false);
        assert!(plain.len() > 3 && plain.iter().any(|c| c.2 > 0));
        assert_eq!(chunks(true), plain);
    }

    /// Gives a few bytes per call, then fails: the whole lines before the
    /// failure still come out as a block, the cut line is dropped, and the
    /// error follows.
    struct Trickle<'a> {
        data: &'a [u8],
        fail_at: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.fail_at == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(7).min(self.data.len()).min(self.fail_at);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            self.fail_at -= n;
            Ok(n)
        }
    }

    #[test]
    fn short_reads_fill_the_block_and_an_error_keeps_the_whole_lines_before_it() {
        let data = b"one\ntwo\nthree\nfour\n";
        let mut b = Blocks::new(
            Trickle {
                data,
                fail_at: usize::MAX,
            },
            0,
            None,
        );
        let c = b.next_chunk().unwrap().unwrap();
        assert_eq!(c.bytes, data);
        assert!(b.next_chunk().unwrap().is_none());

        let mut b = Blocks::new(Trickle { data, fail_at: 12 }, 0, None);
        let c = b.next_chunk().unwrap().unwrap();
        assert_eq!(c.bytes, b"one\ntwo\n");
        assert_eq!((c.start, c.end), (0, 8));
        let err = b.next_chunk().err().expect("the error after the lines");
        assert_eq!(err.to_string(), "disk on fire");
    }
}
