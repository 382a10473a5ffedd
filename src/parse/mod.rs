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
    pub program: Program,
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

/// Whether a classified line goes on to correlation: an address-less `other`
/// line matters only to `--all`, unless it is a probe whose kind its
/// connection decides.
#[inline(always)]
fn wanted(msg: &Msg, all: bool) -> bool {
    !(msg.kind == Kind::Other
        && !all
        && msg.ip.is_none()
        && msg.conn == message::Conn::None
        && msg.repeat_last.is_none()
        && msg.probe.is_none())
}

/// [`parse_line`] reusing the block's host name allocations and the
/// previous lines' timestamp and `host program[` parses when they repeat.
/// The general path of [`parse_block_into`], which takes most lines itself.
#[inline(never)]
fn parse_line_cached(
    line: &[u8],
    number: u64,
    all: bool,
    hosts: &mut Vec<Arc<str>>,
    stamps: &mut envelope::StampCache,
) -> Result<Option<RawLine>, Skip> {
    let env = envelope::split_hosted(line, stamps)?;
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
    if !wanted(&msg, all) {
        return Ok(None);
    }
    // The host of a line whose `host program[` the cache gave comes with the
    // cache's `Arc` for it (issue #15).
    let host = match stamps.head_host(|h| share_host(hosts, h)) {
        Some(h) => Some(h),
        None => env.host.map(|h| share_host(hosts, &h)),
    };
    Ok(Some(RawLine {
        line: number,
        stamp: env.stamp,
        host,
        program,
        pid: env.pid,
        msg,
    }))
}

/// The block's `Arc` for host name `h`: one per name, shared by its lines.
fn share_host(hosts: &mut Vec<Arc<str>>, h: &str) -> Arc<str> {
    match hosts.iter().position(|p| **p == *h) {
        Some(i) => {
            let a = hosts[i].clone();
            // Towards the front (a swap: `rotate_right` cost more than the search).
            hosts.swap(0, i);
            a
        }
        None => {
            let a: Arc<str> = Arc::from(h);
            if hosts.len() == HOSTS {
                hosts.pop();
            }
            hosts.insert(0, a.clone());
            a
        }
    }
}

/// The parsed lines of one block, with line numbers counted from `first_line`.
#[derive(Debug, Default)]
pub struct Block {
    pub lines: Vec<RawLine>,
    pub stats: BlockStats,
}

/// sysklogd's `last message repeated N times` (`raw`): repeats the line just
/// before it.
#[cold]
fn repeat(lines: &mut Vec<RawLine>, raw: RawLine, first_line: u64) {
    match lines.last() {
        Some(prev) if prev.line + 1 == raw.line && prev.msg.kind != Kind::Other => {
            let mut again = prev.clone();
            again.msg.count = raw.msg.repeat_last.unwrap_or(1);
            again.line = raw.line;
            again.stamp = raw.stamp;
            lines.push(again);
        }
        // The block's first line: the line it repeats ended the previous
        // block, which the flow's sequential stage still knows.
        _ if raw.line == first_line => lines.push(raw),
        _ => {}
    }
}

/// Parses a block of whole lines (the last one may lack its newline).
pub fn parse_block(block: &[u8], first_line: u64, all: bool) -> Block {
    parse_block_into(block, first_line, all, Vec::new())
}

/// [`parse_block`] into `lines` (emptied first): the flow gives back the
/// lists of blocks it has taken, so the parallel parse writes into memory
/// already mapped, not into a fresh megabyte and a half a block, which cost a
/// page fault every 4 KiB (issue #15).
pub fn parse_block_into(block: &[u8], first_line: u64, all: bool, lines: Vec<RawLine>) -> Block {
    #[cfg(target_arch = "x86_64")]
    if let Some(scan) = Avx2::detect() {
        // SAFETY: the CPU has AVX2, BMI1 and BMI2 (`scan` says so).
        return unsafe { parse_block_avx2(block, first_line, all, lines, scan) };
    }
    parse_block_with(block, first_line, all, lines, Sse2)
}

/// [`parse_block_with`] compiled for AVX2, which its newline scan takes
/// (issue #15: 32 bytes an instruction, and the three-operand forms spare
/// the loop's moves), and for BMI1 and BMI2 (shifts by a register, the
/// head order's nibbles), which every CPU with AVX2 has.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2")]
unsafe fn parse_block_avx2(
    block: &[u8],
    first_line: u64,
    all: bool,
    lines: Vec<RawLine>,
    scan: Avx2,
) -> Block {
    parse_block_with(block, first_line, all, lines, scan)
}

/// [`parse_block_into`] with newlines found by `scan`.
#[inline(always)]
fn parse_block_with(
    block: &[u8],
    first_line: u64,
    all: bool,
    mut lines: Vec<RawLine>,
    scan: impl Newlines,
) -> Block {
    lines.clear();
    // Sized for a typical log (~110-byte lines, most of them kept): growing
    // the vector copied every parsed line a few times over.
    lines.reserve(block.len() / 128);
    let mut out = Block {
        lines,
        stats: BlockStats::default(),
    };
    let mut hosts = Vec::with_capacity(HOSTS);
    let mut stamps = envelope::StampCache::default();
    let mut n = first_line;
    let (mut lines, mut start) = (Lines::new(block, scan), 0);
    loop {
        let mut ends = lines.scan_on();
        let Some(&first) = ends.first() else {
            break;
        };
        // Only a round's first line can be too long: the others start after
        // an end of the round and end within it, at most `64 * CHUNKS + 64`
        // bytes (issue #15: no check a line).
        if first - start > MAX_LINE {
            out.stats.too_long += 1;
            n += 1;
            start = first + 1;
            ends = &ends[1..];
        }
        // Room for a parsed line a line, which is the most a line adds
        // (issue #15: not checked a line).
        out.lines.reserve(ends.len());
        for &end in ends {
            debug_assert!(start <= end && end <= block.len());
            // SAFETY: `ends` rise and end at `block.len()` at most (a mask's
            // bits are newlines of the block, and the block's end follows a
            // last line), and `start` is 0 or one past the end before:
            // `start..end` is in the block (issue #15: its two checks cost
            // ~4 instructions a line).
            let line = unsafe { block.get_unchecked(start..end) };
            start = end + 1;
            debug_assert!(line.len() <= MAX_LINE);
            match envelope::quick(line, &mut stamps) {
                // Most lines: a cached stamp and head of sshd. Issue #15: no
                // `Envelope` and no `RawLine` returned and moved; with
                // [`Lines`], the block's own work (all but `classify`) went
                // from 108.7M to 87.1M instructions on 200k lines.
                Some(envelope::Hit::Ours(q))
                    if matches!(
                        q.program,
                        Program::Sshd
                            | Program::SshdSession
                            | Program::SshdAuth
                            | Program::SshdPamUnix
                    ) =>
                {
                    // The message is classified straight into the list's
                    // next slot (issue #15: `classify` returned it, and it
                    // was copied twice on its way there).
                    debug_assert!(out.lines.capacity() > out.lines.len());
                    // SAFETY: the list has room for this line (`reserve`
                    // above, and each line before added one at most).
                    let slot = unsafe { out.lines.as_mut_ptr().add(out.lines.len()) };
                    // SAFETY: `slot` is the first element of the spare
                    // capacity `reserve` made, and nothing touches the list
                    // while `msg` lives: the field is written before it is
                    // borrowed, and below it is either counted in with the
                    // other fields (`set_len`), or read out, or dropped —
                    // never left initialized outside the list's length but
                    // by a panic, which only leaks it.
                    let msg = unsafe {
                        let msg = std::ptr::addr_of_mut!((*slot).msg);
                        msg.write(Msg::other());
                        &mut *msg
                    };
                    message::classify_into(q.msg, msg);
                    if !wanted(msg, all) {
                        // SAFETY: as above; dropped once, not used again.
                        unsafe { std::ptr::drop_in_place(msg) };
                    } else {
                        let repeats = msg.repeat_last.is_some();
                        let host = Some(stamps.quick_host(|h| share_host(&mut hosts, h)));
                        // SAFETY: as above; every other field is written
                        // here, and the line is then counted in, or read out
                        // once and not used again (issue #15: written
                        // straight from the cache, not through the stack).
                        unsafe {
                            std::ptr::addr_of_mut!((*slot).line).write(n);
                            std::ptr::addr_of_mut!((*slot).stamp).write(stamps.quick_stamp());
                            std::ptr::addr_of_mut!((*slot).host).write(host);
                            std::ptr::addr_of_mut!((*slot).program).write(q.program);
                            std::ptr::addr_of_mut!((*slot).pid).write(Some(q.pid));
                            if repeats {
                                repeat(&mut out.lines, std::ptr::read(slot), first_line);
                            } else {
                                out.lines.set_len(out.lines.len() + 1);
                            }
                        }
                    }
                }
                Some(envelope::Hit::Other) => out.stats.other_programs += 1,
                _ => match parse_line_cached(line, n, all, &mut hosts, &mut stamps) {
                    Ok(Some(raw)) => keep(&mut out.lines, raw, first_line),
                    Ok(None) => {}
                    Err(Skip::OtherProgram) => out.stats.other_programs += 1,
                    Err(Skip::Malformed) => {
                        // Blank lines are not malformed, just empty.
                        if !line.iter().all(|b| b.is_ascii_whitespace()) {
                            out.stats.malformed += 1;
                        }
                    }
                },
            }
            n += 1;
        }
    }
    // Counted once, not a line at a time.
    out.stats.lines = n - first_line;
    out
}

/// Adds a parsed line to its block's.
#[inline(always)]
fn keep(lines: &mut Vec<RawLine>, raw: RawLine, first_line: u64) {
    if raw.msg.repeat_last.is_some() {
        repeat(lines, raw, first_line)
    } else {
        lines.push(raw)
    }
}

/// The ends of the lines of a block, as `block.split(|&b| b == b'\n')`
/// gives the lines but for an empty last one (the block's final newline ends
/// the last line): the places of their newlines, and the block's end after a
/// last line without one.
///
/// Issue #15: one pass over the block, 64 bytes at a time into a mask of
/// newlines, instead of a `memchr` a line (~85 instructions each, mostly the
/// set-up of a search that ends within ~110 bytes). The scan runs ahead of
/// the lines, [`CHUNKS`] chunks at a time ([`Lines::scan_on`]): in a small
/// loop of its own its state stays in registers, where the block's loop,
/// with a call of `classify` a line, kept it on the stack, and its chunks
/// need no check but the loop's.
struct Lines<'a, N> {
    block: &'a [u8],
    /// Where the bytes not yet scanned start; past the block's end once the
    /// end is in `ends`.
    at: usize,
    ends: [usize; ENDS],
    scan: N,
}

/// The whole chunks of 64 bytes a round of [`Lines::scan_on`] takes at most.
const CHUNKS: usize = 32;

/// Room for the line ends of a round: up to 64 a chunk, and a last short
/// chunk's and the block's end after them.
const ENDS: usize = 4096;

const _: () = assert!(ENDS >= 64 * CHUNKS + 65);

// A round's lines but its first are shorter than `MAX_LINE` (see
// `parse_block_with`).
const _: () = assert!(64 * CHUNKS + 64 < MAX_LINE);

impl<'a, N: Newlines> Lines<'a, N> {
    fn new(block: &'a [u8], scan: N) -> Self {
        Lines {
            block,
            at: 0,
            ends: [0; ENDS],
            scan,
        }
    }

    /// The ends of the next lines, in order; none once the block is done.
    #[inline(always)]
    fn scan_on(&mut self) -> &[usize] {
        let mut found = 0;
        // Rounds until a newline (a line may be longer than a round's
        // bytes) or the block's end.
        while found == 0 {
            let Some(rest) = self.block.get(self.at..) else {
                break;
            };
            let whole = (rest.len() / 64).min(CHUNKS);
            let mut at = self.at;
            let stop = at + whole * 64;
            // Four chunks a turn, each read at `at` in place (issue #15: a
            // slice iterator and a chunk at a time kept three counters, ~14
            // instructions a chunk; two a turn, ~12).
            while at + 256 <= stop {
                let masks = [0, 64, 128, 192].map(|k| self.newlines_at(at + k));
                for (k, mask) in masks.into_iter().enumerate() {
                    found = self.take(found, at + 64 * k, mask);
                }
                at += 256;
            }
            while at < stop {
                found = self.take(found, at, self.newlines_at(at));
                at += 64;
            }
            if whole < CHUNKS {
                // The last bytes (fewer than 64, maybe none), then the end
                // of a last line that no newline ends, as if one followed.
                let tail = &rest[whole * 64..];
                let open = self.block.last().is_some_and(|&b| b != b'\n');
                let mask = newlines_bytewise(tail) | u64::from(open) << tail.len();
                found = self.take(found, at, mask);
                at = self.block.len() + 1;
            }
            self.at = at;
        }
        &self.ends[..found]
    }

    /// The newlines of the 64 bytes at `at`, for `at + 64 <= block.len()`.
    #[inline(always)]
    fn newlines_at(&self, at: usize) -> u64 {
        debug_assert!(at + 64 <= self.block.len());
        // SAFETY: `scan_on` reads only whole chunks of the block's rest
        // (`stop` is `whole` chunks past `self.at`, and `whole` is the number
        // of whole chunks left).
        let c = unsafe { &*self.block.as_ptr().add(at).cast::<[u8; 64]>() };
        self.scan.newlines64(c)
    }

    /// Puts the places of `mask`'s bits, counted from `at`, at `ends[found..]`:
    /// how many ends there are then.
    #[inline(always)]
    fn take(&mut self, mut found: usize, at: usize, mut mask: u64) -> usize {
        while mask != 0 {
            debug_assert!(found < ENDS);
            // SAFETY: a round finds at most 64 ends a chunk, and a last one
            // after its chunks (see `ENDS`): `found` stays below `ENDS`
            // (issue #15: `% ENDS` still cost an instruction a line).
            unsafe { *self.ends.get_unchecked_mut(found) = at + mask.trailing_zeros() as usize };
            found += 1;
            mask &= mask - 1;
        }
        found
    }
}

/// How [`Lines`] finds the newlines among 64 bytes.
trait Newlines: Copy {
    /// The newlines of `c` as a mask (bit `i`: `c[i]`).
    fn newlines64(self, c: &[u8; 64]) -> u64;
}

/// [`newlines64`]: SSE2, which every x86_64 has (a byte loop elsewhere).
#[derive(Clone, Copy)]
struct Sse2;

impl Newlines for Sse2 {
    #[inline(always)]
    fn newlines64(self, c: &[u8; 64]) -> u64 {
        newlines64(c)
    }
}

/// [`newlines64_avx2`]; a value is the proof that the CPU has AVX2, BMI1
/// and BMI2, made only by [`Avx2::detect`].
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    fn detect() -> Option<Avx2> {
        (is_x86_feature_detected!("avx2")
            && is_x86_feature_detected!("bmi1")
            && is_x86_feature_detected!("bmi2"))
        .then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Newlines for Avx2 {
    #[inline(always)]
    fn newlines64(self, c: &[u8; 64]) -> u64 {
        // SAFETY: an `Avx2` exists only where the CPU has AVX2.
        unsafe { newlines64_avx2(c) }
    }
}

/// [`newlines_bytewise`] of 64 bytes, 32 at a time with AVX2: a compare and
/// a `movemask` each. Inlined only into code compiled for AVX2
/// ([`parse_block_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn newlines64_avx2(c: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_set1_epi8,
    };
    let nl = _mm256_set1_epi8(b'\n' as i8);
    // SAFETY: the unaligned loads read bytes 0..32 and 32..64 of `c`.
    let (lo, hi) = unsafe {
        (
            _mm256_loadu_si256(c.as_ptr().cast::<__m256i>()),
            _mm256_loadu_si256(c.as_ptr().add(32).cast::<__m256i>()),
        )
    };
    let lo = _mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, nl)) as u32;
    let hi = _mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, nl)) as u32;
    u64::from(lo) | u64::from(hi) << 32
}

/// The newlines among the first 64 bytes of `s`, a byte at a time (a
/// block's last bytes, and the reference the tests compare [`newlines64`]
/// and [`newlines64_avx2`] with).
#[cold]
#[inline(never)]
fn newlines_bytewise(s: &[u8]) -> u64 {
    s.iter()
        .take(64)
        .enumerate()
        .fold(0, |m, (i, &b)| m | u64::from(b == b'\n') << i)
}

/// [`newlines_bytewise`] of 64 bytes, 16 at a time with SSE2: a compare and a
/// `movemask` each (the compiler does not turn the byte loop into these).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn newlines64(c: &[u8; 64]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    let mut m = 0;
    for (k, part) in c.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of x86_64 itself, always there; the unaligned
        // load reads the 16 bytes of `part`, which are in bounds.
        let bits = unsafe {
            let v = _mm_loadu_si128(part.as_ptr().cast::<__m128i>());
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)))
        };
        m |= u64::from(bits as u16) << (16 * k);
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn newlines64(c: &[u8; 64]) -> u64 {
    newlines_bytewise(c)
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

    /// What `parse_line` makes of the lines of `block`, one at a time.
    fn line_by_line(block: &[u8], first_line: u64, all: bool) -> (Vec<RawLine>, BlockStats) {
        let mut lines = Vec::new();
        let mut stats = BlockStats::default();
        if block.is_empty() {
            return (lines, stats);
        }
        let whole = block.strip_suffix(b"\n").unwrap_or(block);
        for (i, line) in whole.split(|&c| c == b'\n').enumerate() {
            stats.lines += 1;
            if line.len() > MAX_LINE {
                stats.too_long += 1;
                continue;
            }
            match parse_line(line, first_line + i as u64, all) {
                Ok(Some(raw)) => lines.push(raw),
                Ok(None) => {}
                Err(Skip::OtherProgram) => stats.other_programs += 1,
                Err(Skip::Malformed) => {
                    if !line.iter().all(|b| b.is_ascii_whitespace()) {
                        stats.malformed += 1;
                    }
                }
            }
        }
        (lines, stats)
    }

    /// Issue #15: lines over [`MAX_LINE`] are skipped and counted wherever
    /// they are in a round of the scan (which checks only a round's first
    /// line), among short ones, long ones just short enough, lines of about
    /// a round, and at the block's end, with or without its newline.
    #[test]
    fn too_long_lines_anywhere_are_skipped() {
        let line = b"Nov 22 00:00:00 web1 sshd[3073]: Invalid user a from 192.0.2.1 port 1";
        let mut next = crate::testing::xorshift(0x1234_5678_9abc_def1);
        for round in 0..60 {
            let mut block = Vec::new();
            for _ in 0..(next() % 12) {
                // The line, padded with spaces (which `trim_end` takes off).
                let len = match next() % 5 {
                    0 => MAX_LINE - 2 + (next() % 5) as usize,
                    1 => 2 * MAX_LINE + (next() % 70) as usize,
                    2 => 64 * CHUNKS - 70 + (next() % 140) as usize,
                    _ => line.len() + (next() % 64) as usize,
                };
                block.extend_from_slice(line);
                block.resize(block.len() + len - line.len(), b' ');
                block.push(b'\n');
            }
            if round % 2 == 1 {
                block.pop();
            }
            for all in [false, true] {
                let b = parse_block(&block, 3, all);
                let sse2 = parse_block_with(&block, 3, all, Vec::new(), Sse2);
                assert_eq!((&sse2.lines, sse2.stats), (&b.lines, b.stats));
                assert_eq!((b.lines, b.stats), line_by_line(&block, 3, all));
            }
        }
    }

    /// Issue #15: a block of generated lines gives what `parse_line` gives
    /// line by line, and its lines share one `Arc` per host name.
    #[test]
    fn block_of_generated_lines_is_parse_line() {
        let heads: &[&[u8]] = &[
            b"Nov 22 00:00:00 web1 sshd[3073]: ",
            b"Nov 22 00:00:00 web1 sshd[3074]: ",
            b"Nov 22 00:00:01 bastion sshd-session[53580]: ",
            b"Nov 22 00:00:01 bastion sshd-session[53580]:",
            b"Nov 22 00:00:01 web\xff sshd[1]: ",
            b"Nov 22 00:00:01 web1 CRON[1]: ",
            b"Nov 22 00:00:02 web1 kernel: ",
            b"Nov 22 00:00:02 sshd[7]: ",
            b"2024-01-02T03:04:05Z web1 sshd[9]: ",
            b"",
            // Hostile heads for the cached path: next seconds, odd seconds,
            // fractions, spacing, other programs of ours, odd pids.
            b"Nov 22 00:00:02 web1 sshd[3073]: ",
            b"Nov 22 00:00:03 bastion sshd-session[53580]: ",
            b"Nov 22 00:00:60 web1 sshd[3073]: ",
            b"Nov 22 00:00:61 web1 sshd[3073]: ",
            b"Nov 22 00:00:5x web1 sshd[3073]: ",
            b"Nov 22 00:00:03.5 web1 sshd[3073]: ",
            b"Nov 22 00:00:03  web1 sshd[3073]: ",
            b"Nov 22 00:00:03\tweb1 sshd[3073]: ",
            b"Nov 22 00:00:03 web1  sshd[3073]: ",
            b"Nov 22 00:00:03 web1 sshd[3073]:",
            b"Nov 22 00:00:03 web1 sshd[3073]:x",
            b"Nov 22 00:00:03 web1 sshd[]: ",
            b"Nov 22 00:00:03 web1 sshd[99999999999]: ",
            b"Nov 22 00:00:03 web1 sshd[12345678]: ",
            b"Nov 22 00:00:03 web1 sshd[3073]: [ID 800047 auth.info] ",
            b"Nov 22 00:00:03 web1 dropbear[5]: ",
            b"Nov 22 00:00:03 web1 cowrie[5]: ",
            b"Nov 22 00:00:03 web1 fail2ban.actions[5]: ",
            b"Nov 22 00:00:03 web1 sshd(pam_unix)[5]: ",
            b"Nov 22 00:00:03 web1 sshd-auth[5]: ",
            b"Nov 22 00:00:03 web1 sshd-sessionx[5]: ",
            b"Nov 23 00:00:03 a-very-long-host-name-indeed sshd[5]: ",
            b"Nov 23 00:00:03 w\xc3\xa9b sshd[5]: ",
        ];
        let msgs: &[&[u8]] = &[
            b"Invalid user admin from 150.203.168.160 port 47917",
            b"Failed password for root from 192.0.2.1 port 22 ssh2",
            b"Accepted publickey for deploy from 2001:db8::1 port 50022 ssh2: ED25519 SHA256:x",
            b"Connection closed by invalid user admin 192.0.2.9 port 4 [preauth]",
            b"pam_unix(sshd:auth): check pass; user unknown",
            b"Server listening on 0.0.0.0 port 22.",
            b"",
            b"\x00\xff",
            b"Connection closed by 192.0.2.9 port 4 [preauth]  \r",
            b"Received disconnect from 192.0.2.7 port 5:11: Bye Bye [preauth]\t ",
            b"[sshd] Ban 192.0.2.3",
            b"Bad password attempt for 'root' from 192.0.2.4:22",
            b"login attempt [root/1234] succeeded",
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut block = Vec::new();
        for _ in 0..20_000 {
            block.extend_from_slice(heads[(next() % heads.len() as u64) as usize]);
            block.extend_from_slice(msgs[(next() % msgs.len() as u64) as usize]);
            block.push(b'\n');
        }
        for all in [false, true] {
            let b = parse_block(&block, 7, all);
            // The block's parse with each newline scan, AVX2 or not.
            let sse2 = parse_block_with(&block, 7, all, Vec::new(), Sse2);
            assert_eq!((&sse2.lines, sse2.stats), (&b.lines, b.stats));
            let (lines, stats) = line_by_line(&block, 7, all);
            assert_eq!(b.stats, stats);
            assert_eq!(b.lines.len(), lines.len());
            for (got, want) in b.lines.iter().zip(&lines) {
                assert_eq!(got, want);
            }
            let mut shared: Vec<Arc<str>> = Vec::new();
            for h in b.lines.iter().filter_map(|l| l.host.as_ref()) {
                match shared.iter().find(|s| ***s == **h) {
                    Some(s) => assert!(Arc::ptr_eq(s, h), "{h}"),
                    None => shared.push(h.clone()),
                }
            }
        }
    }

    /// The proof of AVX2 where the CPU has it.
    #[cfg(target_arch = "x86_64")]
    fn avx2() -> Option<Avx2> {
        Avx2::detect()
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn avx2() -> Option<Sse2> {
        None
    }

    /// The lines of `block` as [`parse_block_with`] takes them.
    fn lines_of(block: &[u8], scan: impl Newlines) -> Vec<&[u8]> {
        let (mut lines, mut start, mut got) = (Lines::new(block, scan), 0, Vec::new());
        loop {
            let ends = lines.scan_on();
            if ends.is_empty() {
                return got;
            }
            for &end in ends {
                got.push(&block[start..end]);
                start = end + 1;
            }
        }
    }

    /// Issue #15: `Lines` splits a block as `split` does, and the SSE2 and
    /// AVX2 masks are the byte loop's, on generated blocks of short, empty
    /// and long lines (longer than a scan's round, or the whole block), of
    /// lengths around multiples of 64 and of a round, and of more lines than
    /// one round gives.
    #[test]
    fn lines_of_generated_blocks_are_split() {
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        for round in 0..3_000 {
            let len = match round % 3 {
                0 => (next() % 700) as usize,
                1 => (next() % 40) as usize * 64 + (next() % 3) as usize,
                _ => (next() % 40_000) as usize,
            };
            // Mostly no newline, some, many (runs of empty lines), or none.
            let odds = [3, 40, 120, 2, 0][round % 5];
            let block: Vec<u8> = (0..len)
                .map(|_| match next() % 256 {
                    r if r < odds => b'\n',
                    r => r as u8 | 1,
                })
                .collect();
            let mut want: Vec<&[u8]> = block.split(|&b| b == b'\n').collect();
            if block.last() == Some(&b'\n') || block.is_empty() {
                want.pop();
            }
            assert_eq!(lines_of(&block, Sse2), want, "{block:?}");
            if let Some(avx2) = avx2() {
                assert_eq!(lines_of(&block, avx2), want, "{block:?}");
            }
            for at in 0..block.len().saturating_sub(64).min(700) {
                let c = block[at..].first_chunk::<64>().unwrap();
                assert_eq!(newlines64(c), newlines_bytewise(c), "{c:?}");
                if let Some(avx2) = avx2() {
                    assert_eq!(avx2.newlines64(c), newlines_bytewise(c), "{c:?}");
                }
            }
        }
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
