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
//! A [`Position`] names a file by device, inode and content fingerprint (its
//! first line and a checksum of its first 64 KiB: [`super::fingerprint`], the
//! scheme `ingest` uses too), not by path, so a checkpoint taken before a
//! rotation is never applied to another file; [`Checkpoints`] persists
//! positions atomically (temp file, `fsync`, rename), versioned like vector's
//! checkpointer. A checkpoint that does not fit the file found is reported
//! ([`Follower::take_notes`]), never applied.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use super::fingerprint::{Fingerprint, Position};

/// Bytes read per poll at most: a huge backlog is delivered in pieces.
const MAX_POLL: usize = 8 << 20;

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Next byte to read.
    pos: u64,
    /// Of the bytes read so far (at least), up to 64 KiB.
    fp: Fingerprint,
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
    /// What the user should hear of: a checkpoint that did not fit.
    notes: Vec<String>,
    /// Lines dropped for being too long.
    pub too_long: u64,
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
            notes: Vec::new(),
            too_long: 0,
        }
    }

    /// What happened that the user should hear of since the last call: a
    /// checkpoint that does not fit the file at the path (which is then read
    /// from its start, never from the checkpoint's offset).
    pub fn take_notes(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notes)
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
            fingerprint: o.fp,
            offset: o.pos - self.partial.len() as u64,
            legacy: false,
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
                o.fp = Fingerprint::default();
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
            // Only a file whose content we fingerprinted can be recognised (an
            // inode number alone may have been reused by another file).
            let moved = meta
                .as_ref()
                .is_none_or(|m| m.dev() != r.dev || m.ino() != r.ino);
            if moved && r.known() {
                if let Some(file) = find_rotated(&self.path, &r)? {
                    let fm = file.metadata()?;
                    // Fingerprinted anew: a checkpoint of an older sshmap is upgraded here.
                    let fp = Fingerprint::read(&file, fm.len())?;
                    self.open = Some(Open {
                        file,
                        dev: fm.dev(),
                        ino: fm.ino(),
                        pos: r.offset,
                        fp,
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
        let fp = Fingerprint::read(&file, fm.len())?;
        let mut pos = 0;
        if let Some(r) = self.resume.take() {
            let name = crate::escape::terminal(&self.path.display().to_string()).into_owned();
            if r.dev == fm.dev() && r.ino == fm.ino() {
                if r.offset > fm.len() {
                    self.notes.push(format!(
                        "{name}: shorter ({} bytes) than at the checkpoint ({} bytes): truncated while sshmap \
                         was stopped; reading it from its start",
                        fm.len(),
                        r.offset
                    ));
                } else if r.matches_file(&file)? {
                    pos = r.offset;
                } else {
                    self.notes.push(format!(
                        "{name}: its content differs from the checkpoint's (first bytes rewritten while sshmap \
                         was stopped): reading it from its start, not from byte {}",
                        r.offset
                    ));
                }
            } else if r.offset > 0 {
                self.notes.push(format!(
                    "{name}: the file of the checkpoint (read up to byte {}) is neither at this path nor \
                     renamed in its directory: lines written to it after sshmap stopped are not read; \
                     reading {name} from its start",
                    r.offset
                ));
            }
        }
        self.open = Some(Open {
            file,
            dev: fm.dev(),
            ino: fm.ino(),
            pos,
            fp,
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
        // A file shorter than the fingerprint's reach when opened is known by
        // more of its bytes as it grows.
        o.fp.grow(&o.file, o.pos)?;
        Ok(total >= MAX_POLL)
    }
}

/// The file a checkpoint was taken in, when it is no longer at its path: the
/// same device and inode in the same directory (renamed, e.g. `auth.log.1`),
/// whose fingerprint still matches. (A copy made by copytruncate is not taken
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
        if r.offset > m.len() {
            return Ok(None);
        }
        let Ok(file) = File::open(entry.path()) else {
            continue;
        };
        if r.matches_file(&file)? {
            return Ok(Some(file));
        }
    }
    Ok(None)
}

/// The version [`Checkpoints::save`] writes. 1: sshmap before the shared
/// fingerprint (a 256-byte hash, flat in each position), still read.
pub const VERSION: u32 = 2;

/// Positions of every followed path, saved as one versioned JSON file.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoints {
    pub version: u32,
    pub files: BTreeMap<String, Position>,
}

/// A position as version 1 wrote it.
#[derive(Deserialize)]
struct PositionV1 {
    dev: u64,
    ino: u64,
    head: u64,
    head_len: u64,
    offset: u64,
}

#[derive(Deserialize)]
struct FileV1 {
    files: BTreeMap<String, PositionV1>,
}

impl Checkpoints {
    /// Reads `path`; a missing file is an empty set, a damaged one is
    /// reported. A file of version 1 is read as [`Position::legacy`]
    /// positions: each file is fingerprinted anew when it is opened, and the
    /// next save writes the current version (`version` says which was read).
    pub fn load(path: &Path) -> io::Result<Checkpoints> {
        let bad = |e: String| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: damaged checkpoint file ({e}); delete it to start over",
                    path.display()
                ),
            )
        };
        let b = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Checkpoints {
                    version: VERSION,
                    files: BTreeMap::new(),
                })
            }
            Err(e) => return Err(e),
        };
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let v = serde_json::from_slice::<Version>(&b)
            .map_err(|e| bad(e.to_string()))?
            .version;
        match v {
            1 => {
                let old: FileV1 = serde_json::from_slice(&b).map_err(|e| bad(e.to_string()))?;
                let files = old
                    .files
                    .into_iter()
                    .map(|(k, p)| {
                        let p = Position {
                            dev: p.dev,
                            ino: p.ino,
                            fingerprint: Fingerprint {
                                line: 0,
                                head: p.head as i64,
                                head_len: p.head_len,
                            },
                            offset: p.offset,
                            legacy: true,
                        };
                        (k, p)
                    })
                    .collect();
                // The version read, for the caller to say so; saved as [`VERSION`].
                Ok(Checkpoints { version: 1, files })
            }
            VERSION => serde_json::from_slice(&b).map_err(|e| bad(e.to_string())),
            v => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: checkpoint file of version {v}, written by a newer sshmap (this one reads up to \
                     {VERSION})",
                    path.display()
                ),
            )),
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
            c.version = VERSION;
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
