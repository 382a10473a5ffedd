//! `tail -F` for `serve --tail`: follows a path across rotation and resumes
//! from checkpoints after a restart.
//!
//! Polling, not inotify: a poll every 100 ms costs one `stat` and catches every
//! rotation style the same way — rename + create (logrotate's default),
//! copytruncate, deletion and re-creation — on any file system, including
//! network ones where inotify is silent. The file being read stays open, so
//! after a rename or an unlink what was written to it before the switch is
//! still read to the end (and its inode cannot be reused meanwhile).
//!
//! A [`Position`] names a file by fingerprint — device, inode and a hash of its
//! first bytes — not by path, so a checkpoint taken before a rotation is never
//! applied to the new file; [`Checkpoints`] persists positions atomically
//! (temp file, `fsync`, rename), versioned like vector's checkpointer.

use std::collections::BTreeMap;
use std::fs::File;
use std::hash::Hasher;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Bytes at the start of a file that fingerprint it.
const HEAD: u64 = 256;
/// Bytes read per poll at most: a huge backlog is delivered in pieces.
const MAX_POLL: usize = 8 << 20;

/// Where reading stopped in one file: after the last whole line handed out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    /// Hash of the first `head_len` bytes.
    pub head: u64,
    pub head_len: u64,
    pub offset: u64,
}

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Next byte to read.
    pos: u64,
    head: u64,
    head_len: u64,
}

/// Follows one path.
pub struct Follower {
    path: PathBuf,
    open: Option<Open>,
    /// Bytes of a line not yet terminated.
    partial: Vec<u8>,
    /// Inside a line longer than `max_line`: skip to its end.
    discarding: bool,
    max_line: usize,
    resume: Option<Position>,
    /// Lines dropped for being too long.
    pub too_long: u64,
}

fn head_hash(file: &File, len: u64) -> io::Result<(u64, u64)> {
    let n = len.min(HEAD);
    let mut buf = vec![0u8; n as usize];
    file.read_exact_at(&mut buf, 0)?;
    let mut h = rustc_hash::FxHasher::default();
    h.write(&buf);
    Ok((h.finish(), n))
}

impl Follower {
    /// Follows `path`; `resume` is the checkpoint of a previous run, applied
    /// only if the file at `path` is still the same file.
    pub fn new(path: impl Into<PathBuf>, resume: Option<Position>, max_line: usize) -> Follower {
        Follower {
            path: path.into(),
            open: None,
            partial: Vec::new(),
            discarding: false,
            max_line,
            resume,
            too_long: 0,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The position after the last line handed out, for a checkpoint.
    pub fn position(&self) -> Option<Position> {
        let Some(o) = self.open.as_ref() else {
            // Not opened yet: the checkpoint we were given still holds.
            return self.resume.clone();
        };
        Some(Position {
            dev: o.dev,
            ino: o.ino,
            head: o.head,
            head_len: o.head_len,
            offset: o.pos - self.partial.len() as u64,
        })
    }

    /// Checks the path once and appends every new whole line to `out` (without
    /// the newline). Returns `true` when more data is waiting (call again soon).
    pub fn poll(&mut self, out: &mut Vec<Vec<u8>>) -> io::Result<bool> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => Some(m),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let same = match (&self.open, &meta) {
            (Some(o), Some(m)) => o.dev == m.dev() && o.ino == m.ino(),
            _ => false,
        };
        if same {
            let m = meta.as_ref().expect("meta");
            let o = self.open.as_mut().expect("open");
            if m.len() < o.pos {
                // Truncated in place (copytruncate): start again from the top.
                o.pos = 0;
                o.head_len = 0;
                self.partial.clear();
                self.discarding = false;
            }
            return self.read(out);
        }
        // Rotated, deleted or not open yet: first finish the file we have.
        if self.open.is_some() {
            if self.read(out)? {
                return Ok(true);
            }
            if meta.is_none() {
                // Deleted: keep the handle until a new file appears.
                return Ok(false);
            }
            if !self.partial.is_empty() && !self.discarding {
                // The writer moved on: its unterminated last line is complete.
                out.push(std::mem::take(&mut self.partial));
            }
            self.partial.clear();
            self.discarding = false;
            self.open = None;
        }
        if let Some(r) = self.resume.take() {
            // A checkpoint from before a restart: if the path now holds another
            // file, the one we were reading was rotated while we were stopped.
            // Finish it first (the loop above switches to the path after it).
            // Only a file whose first bytes we hashed can be recognised (an
            // inode number alone may have been reused by another file).
            let moved = meta
                .as_ref()
                .is_none_or(|m| m.dev() != r.dev || m.ino() != r.ino);
            if moved && r.head_len > 0 {
                if let Some(file) = find_rotated(&self.path, &r)? {
                    let fm = file.metadata()?;
                    self.open = Some(Open {
                        file,
                        dev: fm.dev(),
                        ino: fm.ino(),
                        pos: r.offset,
                        head: r.head,
                        head_len: r.head_len,
                    });
                    return self.read(out).map(|_| true);
                }
            }
            self.resume = Some(r);
        }
        if meta.is_none() {
            return Ok(false);
        }
        let file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        // Metadata of the handle, not the path: the path may have moved on again.
        let fm = file.metadata()?;
        let (head, head_len) = head_hash(&file, fm.len())?;
        let mut pos = 0;
        if let Some(r) = self.resume.take() {
            if r.dev == fm.dev()
                && r.ino == fm.ino()
                && r.head_len <= fm.len()
                && r.offset <= fm.len()
            {
                let (h, _) = head_hash(&file, r.head_len)?;
                if h == r.head {
                    pos = r.offset;
                }
            }
        }
        self.open = Some(Open {
            file,
            dev: fm.dev(),
            ino: fm.ino(),
            pos,
            head,
            head_len,
        });
        self.read(out)
    }

    /// Reads the open file from its position to the end (at most [`MAX_POLL`]).
    fn read(&mut self, out: &mut Vec<Vec<u8>>) -> io::Result<bool> {
        let Some(o) = self.open.as_mut() else {
            return Ok(false);
        };
        let mut buf = vec![0u8; 64 << 10];
        let mut total = 0;
        loop {
            let n = o.file.read_at(&mut buf, o.pos)?;
            if n == 0 {
                break;
            }
            o.pos += n as u64;
            total += n;
            let mut chunk = &buf[..n];
            while let Some(i) = memchr::memchr(b'\n', chunk) {
                let piece = &chunk[..i];
                chunk = &chunk[i + 1..];
                if self.discarding {
                    self.discarding = false;
                    continue;
                }
                if self.partial.len() + piece.len() > self.max_line {
                    self.partial.clear();
                    self.too_long += 1;
                    continue;
                }
                if self.partial.is_empty() {
                    out.push(piece.to_vec());
                } else {
                    let mut line = std::mem::take(&mut self.partial);
                    line.extend_from_slice(piece);
                    out.push(line);
                }
            }
            if !self.discarding {
                self.partial.extend_from_slice(chunk);
                if self.partial.len() > self.max_line {
                    self.partial.clear();
                    self.discarding = true;
                    self.too_long += 1;
                }
            }
            if total >= MAX_POLL {
                break;
            }
        }
        if o.head_len < HEAD && o.pos > o.head_len {
            let (h, l) = head_hash(&o.file, o.pos)?;
            o.head = h;
            o.head_len = l;
        }
        Ok(total >= MAX_POLL)
    }
}

/// The file a checkpoint was taken in, when it is no longer at its path: the
/// same device and inode in the same directory (renamed, e.g. `auth.log.1`),
/// whose first bytes still match. (A copy made by copytruncate is not taken
/// for it: the truncated original keeps the inode, and its lost tail cannot be
/// told apart from the copy's older lines.)
fn find_rotated(path: &Path, r: &Position) -> io::Result<Option<File>> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let Ok(m) = entry.metadata() else { continue };
        if !m.is_file() || m.dev() != r.dev || m.ino() != r.ino {
            continue;
        }
        if r.head_len > m.len() || r.offset > m.len() {
            return Ok(None);
        }
        let Ok(file) = File::open(entry.path()) else {
            continue;
        };
        if head_hash(&file, r.head_len)?.0 == r.head {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

/// Positions of every followed path, saved as one versioned JSON file.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    pub version: u32,
    pub files: BTreeMap<String, Position>,
}

impl Checkpoints {
    /// Reads `path`; a missing file is an empty set, a damaged one is reported.
    pub fn load(path: &Path) -> io::Result<Checkpoints> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: damaged checkpoint file ({e}); delete it to start over",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Checkpoints {
                version: 1,
                files: BTreeMap::new(),
            }),
            Err(e) => Err(e),
        }
    }

    /// Writes atomically: temp file, fsync, rename, fsync of the directory.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        // Unique per process and save: two savers (a periodic save and the
        // last one at shutdown, or two processes) never share a temp file.
        static SAVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = SAVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut name = path.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".{}.{n}.tmp", std::process::id()));
        let tmp = path.with_file_name(name);
        {
            let mut f = File::create(&tmp)?;
            let mut c = self.clone();
            c.version = 1;
            serde_json::to_writer(&mut f, &c).map_err(io::Error::other)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
