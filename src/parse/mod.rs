//! Parse: envelope → sshd message → connection correlation. Pure, no I/O.
//!
//! [`parse_block`] turns a block of whole lines into [`RawLine`]s and is safe to
//! run on many blocks in parallel; [`Correlator`] then takes the lines of one
//! input in order and produces [`crate::event::Event`]s.
//!
//! A line that is not an sshd event is an expected miss, counted in
//! [`BlockStats`], never an error: hostile, binary or gigantic lines are skipped.

pub(crate) mod correlate;
pub mod envelope;
pub(crate) mod ip;
pub mod message;
pub mod text;

pub use correlate::{Correlator, Options};
pub use envelope::Skip;
use envelope::{Program, Stamp};
use message::Msg;

use std::sync::Arc;

use crate::event::Kind;

/// Lines longer than this are skipped and counted: no sshd line comes close.
pub const MAX_LINE: usize = 64 * 1024;

/// One sshd or fail2ban line, parsed, before correlation.
#[derive(Clone, Debug, PartialEq)]
pub struct RawLine {
    /// 1-based line number in the input.
    pub line: u64,
    pub stamp: Stamp,
    pub host: Option<Arc<str>>,
    pub program: &'static str,
    pub pid: Option<u32>,
    pub msg: Msg,
}

/// What happened to the lines of a block, for `stats --json` `inputs`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BlockStats {
    pub lines: u64,
    /// Lines written by programs other than sshd and fail2ban.
    pub other_programs: u64,
    /// Lines with no recognizable envelope or message (garbage, binary, truncated).
    pub malformed: u64,
    /// Lines over [`MAX_LINE`] bytes.
    pub too_long: u64,
}

impl BlockStats {
    pub fn add(&mut self, o: &BlockStats) {
        self.lines += o.lines;
        self.other_programs += o.other_programs;
        self.malformed += o.malformed;
        self.too_long += o.too_long;
    }
}

/// Parses one line. `Ok(None)`: an sshd line that is no event and needs no
/// correlation (only with `all == false`); `Err`: not an sshd line.
pub fn parse_line(line: &[u8], number: u64, all: bool) -> Result<Option<RawLine>, Skip> {
    parse_line_cached(
        line,
        number,
        all,
        &mut Vec::new(),
        &mut envelope::StampCache::default(),
    )
}

/// Host names a block shares (`Arc`s), the last one used first.
const HOSTS: usize = 8;

/// [`parse_line`] reusing the block's host name allocations and the
/// previous lines' timestamp and `host program[` parses when they repeat.
fn parse_line_cached(
    line: &[u8],
    number: u64,
    all: bool,
    hosts: &mut Vec<Arc<str>>,
    stamps: &mut envelope::StampCache,
) -> Result<Option<RawLine>, Skip> {
    let env = envelope::split_cached(line, stamps)?;
    let (program, msg) = match env.program {
        Some(Program::Fail2ban) => match message::classify_fail2ban(&env.msg) {
            Some(m) => (Program::Fail2ban, m),
            None => return Ok(None),
        },
        Some(Program::Cowrie) => (
            Program::Cowrie,
            message::cowrie::classify(&env.msg).unwrap_or_else(message::Msg::other),
        ),
        Some(Program::Dropbear) => (
            Program::Dropbear,
            message::dropbear::classify(&env.msg).unwrap_or_else(message::Msg::other),
        ),
        Some(p) => (p, message::classify(&env.msg)),
        None => match message::classify_bare(&env.msg) {
            Some(m) => (Program::Sshd, m),
            // `sshd -e`-like bare output of Dropbear (`dropbear -E` without its prefix).
            None => match message::dropbear::classify(&env.msg).filter(|m| m.kind != Kind::Other) {
                Some(m) => (Program::Dropbear, m),
                None => return Err(Skip::Malformed),
            },
        },
    };
    // An address-less `other` line matters only to `--all`, unless it is a
    // probe whose kind its connection decides.
    if msg.kind == Kind::Other
        && !all
        && msg.ip.is_none()
        && msg.conn == message::Conn::None
        && msg.repeat_last.is_none()
        && msg.probe.is_none()
    {
        return Ok(None);
    }
    Ok(Some(RawLine {
        line: number,
        stamp: env.stamp,
        host: env
            .host
            .map(|h| match hosts.iter().position(|p| **p == *h) {
                Some(i) => {
                    let a = hosts[i].clone();
                    // Towards the front (a swap: `rotate_right` cost more than the search).
                    hosts.swap(0, i);
                    a
                }
                None => {
                    let a: Arc<str> = Arc::from(&*h);
                    if hosts.len() == HOSTS {
                        hosts.pop();
                    }
                    hosts.insert(0, a.clone());
                    a
                }
            }),
        program: program.as_str(),
        pid: env.pid,
        msg,
    }))
}

/// The parsed lines of one block, with line numbers counted from `first_line`.
#[derive(Debug, Default)]
pub struct Block {
    pub lines: Vec<RawLine>,
    pub stats: BlockStats,
}

/// Parses a block of whole lines (the last one may lack its newline).
pub fn parse_block(block: &[u8], first_line: u64, all: bool) -> Block {
    // Sized for a typical log (~110-byte lines, most of them kept): growing
    // the vector copied every parsed line a few times over.
    let mut out = Block {
        lines: Vec::with_capacity(block.len() / 128),
        stats: BlockStats::default(),
    };
    let mut n = first_line;
    let mut hosts = Vec::with_capacity(HOSTS);
    let mut stamps = envelope::StampCache::default();
    let mut start = 0;
    let len = block.len();
    while start < len {
        let end = memchr::memchr(b'\n', &block[start..]).map_or(len, |i| start + i);
        let line = &block[start..end];
        start = end + 1;
        out.stats.lines += 1;
        if line.len() > MAX_LINE {
            out.stats.too_long += 1;
        } else {
            match parse_line_cached(line, n, all, &mut hosts, &mut stamps) {
                Ok(Some(raw)) if raw.msg.repeat_last.is_some() => {
                    // sysklogd: `last message repeated N times` repeats the line just before.
                    match out.lines.last() {
                        Some(prev) if prev.line + 1 == n && prev.msg.kind != Kind::Other => {
                            let mut again = prev.clone();
                            again.msg.count = raw.msg.repeat_last.unwrap_or(1);
                            again.line = n;
                            again.stamp = raw.stamp;
                            out.lines.push(again);
                        }
                        // The block's first line: the line it repeats ended the previous
                        // block, which the flow's sequential stage still knows.
                        _ if n == first_line => out.lines.push(raw),
                        _ => {}
                    }
                }
                Ok(Some(raw)) => out.lines.push(raw),
                Ok(None) => {}
                Err(Skip::OtherProgram) => out.stats.other_programs += 1,
                Err(Skip::Malformed) => {
                    // Blank lines are not malformed, just empty.
                    if !line.iter().all(|b| b.is_ascii_whitespace()) {
                        out.stats.malformed += 1;
                    }
                }
            }
        }
        n += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_counts_lines_and_skips() {
        let text = b"Jun  6 04:17:04 h CRON[1]: x\nJun  6 04:17:04 h sshd[2]: Invalid user a from 192.0.2.1 port 1\n\x00\xff garbage\n\nJun  6 04:17:05 h sshd[2]: Server listening on 0.0.0.0 port 22.";
        let b = parse_block(text, 1, false);
        assert_eq!(b.stats.lines, 5);
        assert_eq!(b.stats.other_programs, 1);
        assert_eq!(b.stats.malformed, 1);
        assert_eq!(b.lines.len(), 1);
        assert_eq!(b.lines[0].line, 2);
        let b = parse_block(text, 1, true);
        assert_eq!(b.lines.len(), 2);
        assert_eq!(b.lines[1].line, 5);
    }

    #[test]
    fn huge_lines_are_skipped() {
        let mut text = vec![b'a'; MAX_LINE + 10];
        text.extend_from_slice(
            b"\nJun  6 04:17:04 h sshd[2]: Invalid user a from 192.0.2.1 port 1\n",
        );
        let b = parse_block(&text, 1, false);
        assert_eq!((b.stats.lines, b.stats.too_long, b.lines.len()), (2, 1, 1));
    }
}
