//! What a log file is known by, whatever its name: its first line and a
//! checksum of its first bytes (up to [`HEAD_MAX`]), as vector's file source
//! does. One scheme for `ingest` (an input's row in the store) and for
//! `serve --tail` (a followed file's [`Position`], in the store or the
//! checkpoint file), so a file ingested and tailed has the same fingerprint.
//!
//! - The first line (newline included, at most [`LINE_MAX`] bytes) is the
//!   usual lookup key: `auth.log` renamed to `auth.log.1`, or gzipped, keeps it.
//! - The checksum covers the first `head_len` bytes: two files that share a
//!   first line (a banner, a header) but differ later are two files.
//!
//! A file that grows keeps its identity: it is the file of a fingerprint when
//! its first `head_len` bytes hash to `head`, however long it is now. The
//! fingerprint then grows with the file, up to [`HEAD_MAX`] bytes; FNV-1a goes
//! on from where it stopped, so growing costs only the new bytes.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use serde::{Deserialize, Serialize};

/// Bytes at the start of a file that its checksum covers, at most.
pub const HEAD_MAX: usize = 64 << 10;
/// The first line counts up to this many bytes.
pub const LINE_MAX: usize = 4096;

const FNV_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a of `bytes`, going on from `h` (the hash of what came before, or
/// the hash of nothing). The same values as [`crate::flow::fnv1a`]: stores
/// written before this module keep matching.
fn fnv1a_from(h: i64, bytes: &[u8]) -> i64 {
    let mut h = h as u64;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h as i64
}

fn fnv1a(bytes: &[u8]) -> i64 {
    fnv1a_from(FNV_BASIS as i64, bytes)
}

/// The hash of the first line of a stream that starts with `head`: up to and
/// including its newline, at most [`LINE_MAX`] bytes. `None` while there is no
/// complete first line yet (`at_eof`: `head` is the whole stream, and a last
/// line without a newline counts).
pub fn first_line(head: &[u8], at_eof: bool) -> Option<i64> {
    let n = match memchr::memchr(b'\n', &head[..head.len().min(LINE_MAX)]) {
        Some(i) => i + 1,
        None if head.len() >= LINE_MAX => LINE_MAX,
        None if at_eof && !head.is_empty() => head.len(),
        None => return None,
    };
    Some(fnv1a(&head[..n]))
}

/// A file's content fingerprint: its first line and a checksum of its first
/// `head_len` bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// [`first_line`]; 0 while the file has no first line.
    pub line: i64,
    /// FNV-1a of the first `head_len` bytes.
    pub head: i64,
    /// At most [`HEAD_MAX`]; 0 for an empty file.
    pub head_len: u64,
}

impl Fingerprint {
    /// The fingerprint of a stream that starts with `head` (only its first
    /// [`HEAD_MAX`] bytes count); `at_eof`: `head` is all of it.
    pub fn of(head: &[u8], at_eof: bool) -> Fingerprint {
        let at_eof = at_eof && head.len() <= HEAD_MAX;
        let head = &head[..head.len().min(HEAD_MAX)];
        Fingerprint {
            line: first_line(head, at_eof).unwrap_or(0),
            head: fnv1a(head),
            head_len: head.len() as u64,
        }
    }

    /// The fingerprint of `file` as far as its first `len` bytes go (its size,
    /// or what has been read of it).
    pub fn read(file: &File, len: u64) -> io::Result<Fingerprint> {
        let want = len.min(HEAD_MAX as u64) as usize;
        let head = read_head(file, want)?;
        // Shorter than asked: the file was truncated meanwhile; it ends there.
        Ok(Fingerprint::of(&head, head.len() < HEAD_MAX))
    }

    /// Whether a stream that starts with `head` is the file of this
    /// fingerprint (it may have grown since). A fingerprint of nothing (an
    /// empty file) matches every file.
    pub fn matches(&self, head: &[u8]) -> bool {
        let n = self.head_len as usize;
        n == 0 || (n <= head.len() && fnv1a(&head[..n]) == self.head)
    }

    /// [`Fingerprint::matches`] for an open file.
    pub fn matches_file(&self, file: &File) -> io::Result<bool> {
        let head = read_head(file, self.head_len as usize)?;
        Ok(self.matches(&head))
    }

    /// Covers the file's first `len` bytes (its size, or what has been read
    /// of it) once it has grown, up to [`HEAD_MAX`]. Reads only the new bytes,
    /// except while the first line may still be incomplete.
    pub fn grow(&mut self, file: &File, len: u64) -> io::Result<()> {
        let to = len.min(HEAD_MAX as u64);
        if to <= self.head_len {
            return Ok(());
        }
        if self.head_len < LINE_MAX as u64 {
            *self = Fingerprint::read(file, to)?;
            return Ok(());
        }
        let mut more = vec![0u8; (to - self.head_len) as usize];
        let n = read_at_most(file, &mut more, self.head_len)?;
        self.head = fnv1a_from(self.head, &more[..n]);
        self.head_len += n as u64;
        Ok(())
    }
}

/// The first `n` bytes of `file` (fewer if it is shorter).
fn read_head(file: &File, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let got = read_at_most(file, &mut buf, 0)?;
    buf.truncate(got);
    Ok(buf)
}

fn read_at_most(file: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Where reading stopped in one file, known by device, inode and content:
/// after the last whole line handed out.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    pub fingerprint: Fingerprint,
    pub offset: u64,
    /// Written by an sshmap before this scheme (`serve --tail` checkpoints of
    /// version 1): `fingerprint.head` may be the older hash of the first
    /// `head_len` ≤ 256 bytes ([`legacy_head`]), which is accepted too. The
    /// first time the file is opened, it is fingerprinted anew.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub legacy: bool,
}

impl Position {
    /// Whether the checkpoint knows anything of its file's content: only
    /// then can the file be recognised under another name (an inode number
    /// alone may have been reused by another file).
    pub fn known(&self) -> bool {
        self.fingerprint.head_len > 0
    }

    /// Whether `file` is the file this position was taken in.
    pub fn matches_file(&self, file: &File) -> io::Result<bool> {
        if self.fingerprint.matches_file(file)? {
            return Ok(true);
        }
        if self.legacy && self.fingerprint.head_len <= LEGACY_HEAD {
            let head = read_head(file, self.fingerprint.head_len as usize)?;
            return Ok(head.len() as u64 == self.fingerprint.head_len
                && legacy_head(&head) == self.fingerprint.head as u64);
        }
        Ok(false)
    }
}

/// Bytes the older `serve --tail` fingerprint covered.
pub const LEGACY_HEAD: u64 = 256;

/// The older `serve --tail` fingerprint of a file's first (≤ 256) bytes:
/// rustc-hash 2's `FxHasher` (a test pins its values: if an upgrade of that
/// crate changes them, copy the old algorithm here).
pub fn legacy_head(head: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut h = rustc_hash::FxHasher::default();
    h.write(head);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fnv_is_the_stores_hash_and_goes_on_where_it_stopped() {
        for s in [&b""[..], b"a", b"Nov  3 sshd[1]: hello\n", &[0xff; 300]] {
            assert_eq!(fnv1a(s), crate::flow::fnv1a(s));
            for cut in 0..s.len() {
                assert_eq!(fnv1a_from(fnv1a(&s[..cut]), &s[cut..]), fnv1a(s));
            }
        }
    }

    #[test]
    fn first_line_needs_a_newline_the_end_or_line_max() {
        assert_eq!(
            first_line(b"abc\ndef", false),
            first_line(b"abc\nxyz\n", false)
        );
        assert_eq!(first_line(b"abc\ndef", false), Some(fnv1a(b"abc\n")));
        assert_eq!(first_line(b"ab", false), None);
        assert_eq!(first_line(b"ab", true), Some(fnv1a(b"ab")));
        assert_eq!(first_line(b"", true), None);
        let long = vec![b'x'; LINE_MAX + 10];
        assert_eq!(first_line(&long, false), Some(fnv1a(&long[..LINE_MAX])));
    }

    /// Two files that share their first line and their first 256 bytes but
    /// differ later have different fingerprints; a file that grew still
    /// matches the fingerprint taken before.
    #[test]
    fn shared_start_differs_growth_matches() {
        let common = format!("{}\n", "x".repeat(300));
        let a = format!("{common}line a\n");
        let b = format!("{common}line b\n");
        let fa = Fingerprint::of(a.as_bytes(), true);
        let fb = Fingerprint::of(b.as_bytes(), true);
        assert_eq!(fa.line, fb.line);
        assert_ne!(fa, fb);
        assert!(!fa.matches(b.as_bytes()));
        let grown = format!("{a}more\n");
        assert!(fa.matches(grown.as_bytes()));
        assert!(
            !fa.matches(&a.as_bytes()[..a.len() - 1]),
            "shorter than the fingerprint"
        );
        // Only the first HEAD_MAX bytes count.
        let big = vec![b'y'; HEAD_MAX + 5];
        let mut big2 = big.clone();
        big2[HEAD_MAX + 1] = b'z';
        assert_eq!(Fingerprint::of(&big, true), Fingerprint::of(&big2, true));
        assert_eq!(Fingerprint::of(&big, true).head_len, HEAD_MAX as u64);
    }

    /// Growing a fingerprint with a file, in any steps, gives what
    /// fingerprinting the grown file at once gives.
    #[test]
    fn growing_equals_reading_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let mut f = std::fs::File::create(&p).unwrap();
        let r = std::fs::File::open(&p).unwrap();
        let mut fp = Fingerprint::read(&r, 0).unwrap();
        assert_eq!(fp, Fingerprint::of(b"", true));
        assert_eq!(fp.head_len, 0);
        let mut written = 0u64;
        // A first line longer than LINE_MAX written in pieces, then lines past HEAD_MAX.
        let mut step = 0;
        while written < HEAD_MAX as u64 + 3000 {
            let piece = if step < 3 {
                "z".repeat(1700)
            } else {
                format!("line {step} {}\n", "q".repeat(step % 900))
            };
            f.write_all(piece.as_bytes()).unwrap();
            written += piece.len() as u64;
            fp.grow(&r, written).unwrap();
            assert_eq!(
                fp,
                Fingerprint::read(&r, written).unwrap(),
                "after {written} bytes"
            );
            step += 1;
        }
        assert_eq!(fp.head_len, HEAD_MAX as u64);
        let all = std::fs::read(&p).unwrap();
        assert_eq!(fp, Fingerprint::of(&all, true));
    }

    /// The values the older `serve --tail` wrote (rustc-hash 2.1's FxHasher);
    /// checkpoint files of version 1 depend on them.
    #[test]
    fn legacy_head_is_pinned() {
        assert_eq!(
            legacy_head(b"Nov  3 10:00:00 web1 sshd[1]: x\n"),
            LEGACY_GOLDEN
        );
    }
    const LEGACY_GOLDEN: u64 = 10_251_663_079_053_319_834;

    #[test]
    fn legacy_positions_match_by_either_hash() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, "a first line\nsecond\n").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let head = std::fs::read(&p).unwrap();
        let mut pos = Position {
            fingerprint: Fingerprint {
                line: 0,
                head: legacy_head(&head[..10]) as i64,
                head_len: 10,
            },
            legacy: true,
            ..Position::default()
        };
        assert!(pos.matches_file(&f).unwrap());
        pos.legacy = false;
        assert!(
            !pos.matches_file(&f).unwrap(),
            "the old hash only counts for old checkpoints"
        );
        pos.fingerprint = Fingerprint::of(&head[..10], false);
        assert!(pos.matches_file(&f).unwrap());
        pos.fingerprint.head ^= 1;
        pos.legacy = true;
        assert!(!pos.matches_file(&f).unwrap());
    }
}
