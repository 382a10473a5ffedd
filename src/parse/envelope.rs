//! Envelopes: the part of a log line before the sshd message.
//!
//! Detected per line, so one stream may mix formats: RFC 3164 (with or without
//! host, PRI, FreeBSD `<fac.lvl>`, busybox `auth.info`), RFC 3339 and journalctl
//! short-iso/-precise/-full/-unix, RFC 5424 with structured data, macOS unified
//! log, s6-log / fail2ban `YYYY-MM-DD HH:MM:SS`, socklog, journald and Docker JSON,
//! and bare `sshd -e` output with no prefix at all.

use std::borrow::Cow;
use std::sync::Arc;

/// When a line says it happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    /// No timestamp on the line (`sshd -e`).
    None,
    /// An absolute instant, with the offset the line was written in.
    Abs { micros: i64, offset: i32 },
    /// Wall-clock time without a zone; RFC 3164 also lacks the year.
    Civil {
        year: Option<i32>,
        month: u8,
        day: u8,
        sod: u32,
        micros: u32,
    },
}

/// Which program wrote the line; only these are parsed further.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Program {
    Sshd,
    SshdSession,
    SshdAuth,
    SshdPamUnix,
    Fail2ban,
    Dropbear,
    Cowrie,
}

// `Program::ALL` has every program at its own index (the match fails to
// build when a program is added: add it to `ALL` too).
const _: () = {
    match Program::Sshd {
        Program::Sshd
        | Program::SshdSession
        | Program::SshdAuth
        | Program::SshdPamUnix
        | Program::Fail2ban
        | Program::Dropbear
        | Program::Cowrie => {}
    }
    let mut i = 0;
    while i < Program::COUNT {
        assert!(Program::ALL[i] as usize == i);
        i += 1;
    }
};

impl Program {
    /// Every program, each at the index `program as usize`.
    pub const ALL: [Program; 7] = [
        Program::Sshd,
        Program::SshdSession,
        Program::SshdAuth,
        Program::SshdPamUnix,
        Program::Fail2ban,
        Program::Dropbear,
        Program::Cowrie,
    ];
    /// How many there are: `program as usize` is below it.
    pub const COUNT: usize = Program::ALL.len();

    pub fn as_str(self) -> &'static str {
        match self {
            Program::Sshd => "sshd",
            Program::SshdSession => "sshd-session",
            Program::SshdAuth => "sshd-auth",
            Program::SshdPamUnix => "sshd(pam_unix)",
            Program::Fail2ban => "fail2ban",
            Program::Dropbear => "dropbear",
            Program::Cowrie => "cowrie",
        }
    }

    /// Recognizes a program name; `None` for every other program.
    pub fn from_name(name: &[u8]) -> Option<Program> {
        match name {
            b"sshd" => Some(Program::Sshd),
            b"sshd-session" => Some(Program::SshdSession),
            b"sshd-auth" => Some(Program::SshdAuth),
            b"sshd(pam_unix)" => Some(Program::SshdPamUnix),
            b"dropbear" => Some(Program::Dropbear),
            b"cowrie" => Some(Program::Cowrie),
            _ if name.starts_with(b"fail2ban") => Some(Program::Fail2ban),
            _ => None,
        }
    }
}

/// A line split into envelope fields and the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope<'a> {
    pub stamp: Stamp,
    pub host: Option<Cow<'a, str>>,
    /// `None` when the line names no program (bare `sshd -e`, s6-log, Docker):
    /// the message is then accepted only if it is a known sshd message.
    pub program: Option<Program>,
    pub pid: Option<u32>,
    pub msg: Cow<'a, [u8]>,
}

/// Why a line has no envelope of interest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Skip {
    /// Written by a program that is not sshd or fail2ban.
    OtherProgram,
    /// Not a log line this parser understands.
    Malformed,
}

/// Splits `line` (no trailing newline) into its envelope and message.
pub fn split(line: &[u8]) -> Result<Envelope<'_>, Skip> {
    split_cached(line, &mut StampCache::default())
}

/// The RFC 3164 timestamp of an earlier line, as its bytes and its parse
/// (issue #15): a log writes many lines a second, so most lines repeat the
/// stamp of the line before, and comparing 15 bytes is cheaper than parsing.
///
/// It also keeps the `host program[` bytes of an earlier line and what they
/// gave: lines of one host and program differ only from the pid on.
#[derive(Clone, Debug)]
pub struct StampCache {
    key: [u8; 24],
    len: usize,
    /// `Stamp::None`: none cached (only `Civil` ones are); no `Option`, which
    /// a line of the cache's paid a check for (issue #15).
    stamp: Stamp,
    /// Where the seconds are when `stamp` is RFC 3164's `… HH:MM:SS` (no
    /// year, no fraction, `key[len - 3]` a colon, 10 to 15 bytes, `key[len]`
    /// the space after them): the next second of it is the same stamp with
    /// other seconds ([`next_second`]).
    tick: Option<Tick>,
    /// The `host program[` heads seen last: a log interleaves a few hosts
    /// and programs (sshd, sshd-session, CRON, …).
    heads: [Head; HEADS],
    /// The first bytes of `heads[i]` at `tags[i]`: most heads tried fail
    /// there, and the loop that tries them reads 16 bytes a head, not 72
    /// (issue #15: ~20 instructions a head tried in vain, on one line in two).
    tags: [Tag; HEADS],
    /// The order `heads` are tried in, a head's index a nibble (the first in
    /// the low bits): `heads` stay where they are (issue #15: moving a
    /// 72-byte head to the front cost ~36 instructions on 4 lines in 10,
    /// which alternate between two heads). A head that fits moves one place
    /// on ([`transpose`]), a new one goes first. Always a permutation of
    /// `0..HEADS`.
    order: u64,
    /// The index of the head [`head_hit`] took last.
    last: usize,
    /// Where the host of the line split last starts, when that line took its
    /// host and program from the head used last (see [`split_hosted`]).
    hit: Option<usize>,
}

impl Default for StampCache {
    fn default() -> Self {
        StampCache {
            key: [0; 24],
            len: 0,
            stamp: Stamp::None,
            tick: None,
            heads: Default::default(),
            tags: Default::default(),
            order: 0xfedc_ba98_7654_3210,
            last: 0,
            hit: None,
        }
    }
}

/// The bytes of a [`StampCache::tick`] stamp in its key's first 16 read as
/// one number ([`key16`]), as masks: a line's stamp is compared with the
/// cached one in one go (issue #15: word by word, with their bounds
/// checks, the stamp of a line cost ~60 instructions).
#[derive(Clone, Copy, Debug)]
struct Tick {
    /// The bytes before the seconds, and the space after them (issue #15:
    /// no check of its own for that space, nor for the line's length).
    before: u128,
    /// `before` and the two digits of the seconds: a line of the same
    /// second has these bytes (issue #15: one test for most lines, ~4
    /// instructions less than a test of each part).
    whole: u128,
    /// The stamp's second of the day less what it took of the seconds.
    minute: u32,
    /// Where the seconds are (their first digit; below 14).
    at: u8,
}

/// The first 16 bytes of `b` as a number (little-endian).
#[inline(always)]
fn key16(b: &[u8; 24]) -> u128 {
    let mut k = [0; 16];
    k.copy_from_slice(&b[..16]);
    u128::from_le_bytes(k)
}

/// Heads a [`StampCache`] keeps (issue #15: 8 were too few for a log of two
/// hosts and their cron, sudo, systemd and logind, and each line of the head
/// left out took the general path, ~1,500 instructions). As many as a `u64`
/// has nibbles ([`StampCache::order`]).
const HEADS: usize = 16;

/// `order` (see [`StampCache::order`]) with its `k`th nibble and the one
/// before it swapped, for `0 < k < HEADS`.
///
/// Issue #15: a transposition, not a move to the front. A log's busiest head
/// stays first when a quieter one comes between two of its lines, and on
/// 200k lines of two hosts the heads tried fell from 1.95 to 1.76 a line,
/// each move a few instructions (a move to the front took ~15).
#[inline(always)]
fn transpose(order: u64, k: usize) -> u64 {
    let at = 4 * (k as u32 - 1);
    // The two nibbles' difference, put back into each: a swap.
    let x = ((order >> at) ^ (order >> (at + 4))) & 0xf;
    order ^ (x << at) ^ (x << (at + 4))
}

/// The first 16 bytes of a [`Head`]'s `bytes` (zero-padded), compared first
/// under `mask` (the bytes the head has of those 16; none for no head): all
/// of most heads, in one compare (issue #15: with 8, most heads that fit
/// were compared again word by word, ~10 instructions a line).
#[derive(Clone, Copy, Debug)]
struct Tag {
    first: Lane,
    mask: Lane,
}

/// The tag of an empty head: it fits only where the line goes on with 16
/// bytes `0xff`, and then the head, with no program and not bare, reads
/// no pid there: [`head_hit`] gives `None`, as it does where no head fits
/// (the heads after an empty one are empty: a new one takes the last
/// place, an empty one's while there is one). Issue #15: no check of the
/// head's length for each head that fits.
impl Default for Tag {
    fn default() -> Self {
        Tag {
            first: lane(u128::MAX),
            mask: lane(u128::MAX),
        }
    }
}

impl Tag {
    /// Whether a line whose first 16 bytes are `first` may start with the
    /// head.
    #[inline(always)]
    fn may_fit(&self, first: Lane) -> bool {
        lanes_eq_under(first, self.first, self.mask)
    }
}

/// 16 bytes as [`Tag::may_fit`] compares them: an SSE2 register on x86_64
/// (issue #15: as a `u128`, the compare was done in two 64-bit halves, ~14
/// instructions a head tried).
#[cfg(target_arch = "x86_64")]
type Lane = std::arch::x86_64::__m128i;

#[cfg(not(target_arch = "x86_64"))]
type Lane = u128;

/// `x` (little-endian bytes) as a [`Lane`].
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lane(x: u128) -> Lane {
    // SAFETY: SSE2 is part of x86_64 itself, always there.
    unsafe { std::arch::x86_64::_mm_set_epi64x((x >> 64) as i64, x as i64) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn lane(x: u128) -> Lane {
    x
}

/// `lane(u128::from_le_bytes(*b))` in one load (issue #15: the number's
/// two halves were loaded and put together, 5 instructions a line).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lane_of(b: &[u8; 16]) -> Lane {
    // SAFETY: SSE2 is part of x86_64 itself, always there; the unaligned
    // load reads the 16 bytes of `b`.
    unsafe { std::arch::x86_64::_mm_loadu_si128(b.as_ptr().cast()) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn lane_of(b: &[u8; 16]) -> Lane {
    u128::from_le_bytes(*b)
}

/// Whether `a` and `b` have the same bytes where `mask` has all ones.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn lanes_eq_under(a: Lane, b: Lane, mask: Lane) -> bool {
    use std::arch::x86_64::{
        _mm_and_si128, _mm_cmpeq_epi8, _mm_movemask_epi8, _mm_setzero_si128, _mm_xor_si128,
    };
    // SAFETY: SSE2 is part of x86_64 itself, always there.
    unsafe {
        let x = _mm_and_si128(_mm_xor_si128(a, b), mask);
        _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_setzero_si128())) == 0xffff
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn lanes_eq_under(a: Lane, b: Lane, mask: Lane) -> bool {
    (a ^ b) & mask == 0
}

/// The `host program[` bytes of an earlier line and what they gave.
#[derive(Clone, Debug, Default)]
struct Head {
    /// Length of `host program[` in `bytes`; 0: nothing cached.
    len: u8,
    host_len: u8,
    /// `None`: a program that is not ours (the line is [`Skip::OtherProgram`]).
    program: Option<Program>,
    /// `host name: ` with no pid after it, of a program that is not ours.
    bare: bool,
    bytes: [u8; 32],
    /// The host name as the block shares it, once a caller asked for it
    /// ([`StampCache::head_host`]).
    host: Option<Arc<str>>,
}

impl Head {
    /// Whether `s` starts with this head and goes on after it, when its
    /// first bytes are the head's ([`Tag::may_fit`]; an empty head "fits"
    /// what its tag fits, see there).
    #[inline]
    fn fits(&self, s: &[u8]) -> bool {
        let n = usize::from(self.len);
        s.len() > n && (n <= 16 || words_eq(s, &self.bytes, 16, n))
    }

    /// The host name as the block shares it: the `Arc` `share` gave for it
    /// the first time, so a line costs no UTF-8 check, no name compare and
    /// no allocation (issue #15).
    #[inline(always)]
    fn shared_host(&mut self, share: impl FnOnce(&str) -> Arc<str>) -> Arc<str> {
        match &self.host {
            Some(h) => h.clone(),
            None => self.share_host(share),
        }
    }

    /// [`Head::shared_host`] the first time (issue #15: inlined, the
    /// `get_or_insert_with` it was could be left a call for every line).
    #[cold]
    fn share_host(&mut self, share: impl FnOnce(&str) -> Arc<str>) -> Arc<str> {
        let h = share(&lossy(&self.bytes[..usize::from(self.host_len)]));
        self.host = Some(h.clone());
        h
    }
}

impl StampCache {
    /// The head a line took its `host program[` from last.
    #[inline(always)]
    fn last_head(&mut self) -> &mut Head {
        &mut self.heads[self.last & 0xf]
    }

    /// The host of the line [`split_hosted`] split last, when it came from a
    /// cached head (its envelope's `host` is then `None`): the head's
    /// ([`Head::shared_host`]). `None` for other lines.
    pub(crate) fn head_host(&mut self, share: impl FnOnce(&str) -> Arc<str>) -> Option<Arc<str>> {
        self.hit?;
        Some(self.last_head().shared_host(share))
    }

    /// The stamp of a line [`quick`] gave [`Hit::Ours`] for: the cached one.
    #[inline(always)]
    pub(crate) fn quick_stamp(&self) -> Stamp {
        self.stamp
    }

    /// The host of a line [`quick`] gave [`Hit::Ours`] for: its head's, as
    /// [`StampCache::head_host`] gives it.
    #[inline(always)]
    pub(crate) fn quick_host(&mut self, share: impl FnOnce(&str) -> Arc<str>) -> Arc<str> {
        self.last_head().shared_host(share)
    }
}

/// [`split`] with the stamp of the previous line at hand (the same result).
pub fn split_cached<'a>(line: &'a [u8], cache: &mut StampCache) -> Result<Envelope<'a>, Skip> {
    let mut env = split_hosted(line, cache)?;
    if let Some(at) = cache.hit {
        let n = usize::from(cache.last_head().host_len);
        env.host = Some(lossy(&line[at..at + n]));
    }
    Ok(env)
}

/// [`split_cached`], but a line whose `host program[` a cached head gave
/// comes with no host: [`StampCache::head_host`] has it. Inlined into the
/// caller, the envelope reaches it with no copy.
#[inline(always)]
pub(crate) fn split_hosted<'a>(
    line: &'a [u8],
    cache: &mut StampCache,
) -> Result<Envelope<'a>, Skip> {
    cache.hit = None;
    let line = trim_end(line);
    if let Some(env) = cached_line(line, cache) {
        return env;
    }
    split_uncached(line, cache)
}

/// [`split_hosted`] for the lines [`cached_line`] does not take (kept out of
/// line: its frame and moves cost the common line ~100 instructions).
#[inline(never)]
fn split_uncached<'a>(line: &'a [u8], cache: &mut StampCache) -> Result<Envelope<'a>, Skip> {
    match line.first() {
        None => Err(Skip::Malformed),
        Some(b'{') => json(line),
        Some(b'<') => pri(line),
        _ => after_pri(line, cache),
    }
}

/// [`after_pri`] for the line most lines of a syslog file are: the stamp and
/// the `host program[` of earlier lines, then a pid (issue #15: its own small
/// function, without the general path's frame and moves; with the word
/// compares, the word pid reader and the head's host `Arc`, the envelope of
/// 200k lines went from 90.3M to ~45M instructions). `None`: any other line.
#[inline(always)]
fn cached_line<'a>(line: &'a [u8], cache: &mut StampCache) -> Option<Result<Envelope<'a>, Skip>> {
    let (hit, host_at) = cached_hit(line, cache)?;
    Some(match hit {
        Hit::Ours(q) => {
            cache.hit = Some(host_at);
            Ok(Envelope {
                stamp: cache.quick_stamp(),
                host: None,
                program: Some(q.program),
                pid: Some(q.pid),
                msg: Cow::Borrowed(q.msg),
            })
        }
        Hit::Other => Err(Skip::OtherProgram),
    })
}

/// What the caches gave a line of one of our programs: its envelope but the
/// stamp and the host, which the cache has ([`StampCache::quick_stamp`],
/// [`StampCache::quick_host`]: read from there, not moved through here).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quick<'a> {
    pub program: Program,
    pub pid: u32,
    pub msg: &'a [u8],
}

/// What [`cached_hit`] made of a line.
pub(crate) enum Hit<'a> {
    Ours(Quick<'a>),
    /// A cached head of another program: [`Skip::OtherProgram`].
    Other,
}

/// [`split_hosted`] for the line the caches take, without an [`Envelope`]
/// (issue #15: the parse of a block reads the few fields it needs straight
/// from here, with no `Envelope` built, matched and moved). The same line as
/// `split_hosted` gives, its host aside; `None` where it would take the
/// general path.
#[inline(always)]
pub(crate) fn quick<'a>(line: &'a [u8], cache: &mut StampCache) -> Option<Hit<'a>> {
    cached_hit(trim_end(line), cache).map(|(hit, _)| hit)
}

/// [`cached_line`]'s work: the cached stamp (or the next second of it), then
/// a cached head; with the hit, where the line's host starts (for
/// `cache.hit`, which [`quick`] leaves alone: a block's parse asks the head
/// itself).
#[inline(always)]
fn cached_hit<'a>(line: &'a [u8], cache: &mut StampCache) -> Option<(Hit<'a>, usize)> {
    match (cache.tick, line.first_chunk::<16>()) {
        // The bytes before the seconds and the space after them (there is a
        // tick only with a stamp), then the seconds: a line of the next
        // second is the cached one's with two other bytes.
        (Some(t), Some(l)) => {
            let x = u128::from_le_bytes(*l) ^ key16(&cache.key);
            if x & t.whole != 0 {
                if x & t.before != 0 {
                    if !restamp(line, cache) {
                        return None;
                    }
                } else {
                    // Caches the line's stamp in turn.
                    next_second(l, t, cache)?;
                }
            }
        }
        _ => {
            // A cached stamp starts with an uppercase letter: no `{` or `<` line.
            if cache.stamp == Stamp::None {
                return None;
            }
            let n = cache.len;
            if !(line.len() > n && line[n] == b' ' && prefix_eq(line, &cache.key, n)) {
                return None;
            }
        }
    }
    // The line's stamp is the cached one, `n` bytes.
    let n = cache.len;
    // `line[n]` is a space; most often the only one. No head starts with a
    // space or a tab (`remember_head` takes them after `skip_spaces`), so
    // more are skipped only once no head fits (issue #15: not looked for on
    // every line, ~9 instructions).
    let mut rest = &line[n + 1..];
    loop {
        if let Some(hit) = head_hit(rest, cache) {
            return Some((hit, line.len() - rest.len()));
        }
        if !matches!(rest.first(), Some(b' ' | b'\t')) {
            return None;
        }
        rest = skip_spaces(rest);
    }
}

/// The cached stamp, `t` a tick of it, moved on to the seconds of `l`, the
/// first 16 bytes of a line (issue #15: the next line of a busy log, ~250
/// instructions a parse, ~110 a call of this with the whole stamp compared
/// again and moved in and out, ~45 inlined, ~30 with the minute kept and
/// no bounds checks, ~20 with their place kept). `None`: no seconds
/// `00`..=`59`, the stamp left as it was: a leap second, which `hms` counts
/// as 59, is parsed and cached by the general path ([`restamp`] would not:
/// the bytes before the seconds are the cached ones).
#[inline(always)]
fn next_second(l: &[u8; 16], t: Tick, cache: &mut StampCache) -> Option<()> {
    // `& 15`: a tick's seconds are among the first 16 bytes (its stamp has
    // 15 at most), which the compiler can not tell: no bounds checks.
    let i = usize::from(t.at) & 15;
    let j = (i + 1) & 15;
    // As `u32`s from the start: no byte widened twice.
    let a = u32::from(l[i]).wrapping_sub(u32::from(b'0'));
    let b = u32::from(l[j]).wrapping_sub(u32::from(b'0'));
    if a > 5 || b > 9 {
        return None;
    }
    if let Stamp::Civil { sod, .. } = &mut cache.stamp {
        *sod = t.minute + a * 10 + b;
    }
    (cache.key[i], cache.key[j]) = (l[i], l[j]);
    Some(())
}

/// [`timestamp`], reusing the cached parse when the line starts with the same
/// `Mmm dd HH:MM:SS` bytes followed by a space: the BSD form reads nothing
/// past its own bytes but the one after them, so the result is the same.
fn cached_timestamp(s: &[u8], cache: &mut StampCache) -> (Stamp, usize) {
    let n = cache.len;
    if cache.stamp != Stamp::None && s.len() > n && s[n] == b' ' && prefix_eq(s, &cache.key, n) {
        return (cache.stamp, n);
    }
    let (stamp, used) = timestamp(s);
    remember_stamp(s, stamp, used, cache);
    (stamp, used)
}

/// Caches `stamp`, the [`timestamp`] of `s` that took `used` bytes, when it is
/// RFC 3164's and a space follows it: whether it did.
fn remember_stamp(s: &[u8], stamp: Stamp, used: usize, cache: &mut StampCache) -> bool {
    let cached = used > 0
        && used <= cache.key.len()
        && s[0].is_ascii_uppercase()
        && s.get(used) == Some(&b' ')
        && matches!(stamp, Stamp::Civil { year: None, .. });
    if cached {
        // With the space after it, for a tick's compare.
        let k = (used + 1).min(cache.key.len());
        cache.key[..k].copy_from_slice(&s[..k]);
        cache.len = used;
        cache.stamp = stamp;
        cache.tick = match stamp {
            Stamp::Civil { micros: 0, sod, .. }
                if (10..=15).contains(&used) && s[used - 3] == b':' =>
            {
                // What `hms` took of the seconds (a leap second counts as 59).
                let secs = (u32::from(s[used - 2].wrapping_sub(b'0')) * 10
                    + u32::from(s[used - 1].wrapping_sub(b'0')))
                .min(59);
                let at = 8 * (used as u32 - 2);
                let before = ((1 << at) - 1) | (0xff << (8 * used));
                Some(Tick {
                    before,
                    whole: before | 0xffff << at,
                    minute: sod - secs,
                    at: (used - 2) as u8,
                })
            }
            _ => None,
        };
    }
    cached
}

/// [`cached_hit`] for a line whose stamp is not the cached one, nor its next
/// second (a log's next minute): the line's stamp parsed and cached, as
/// [`cached_timestamp`] would; false where it is not cached (the cache as
/// it was, the line for the general path). Issue #15: a log's line of a new
/// minute, one in 140, took the general path, ~1,000 instructions more.
#[cold]
#[inline(never)]
fn restamp(line: &[u8], cache: &mut StampCache) -> bool {
    // Only those are cached: most other lines (no stamp, another form)
    // are not parsed twice.
    if !line.first().is_some_and(u8::is_ascii_uppercase) {
        return false;
    }
    let (stamp, used) = timestamp(line);
    remember_stamp(line, stamp, used, cache)
}

/// `s` without the carriage returns, newlines, spaces, tabs and NULs it
/// ends with.
#[inline(always)]
fn trim_end(s: &[u8]) -> &[u8] {
    // Those bytes are all at most a space, and most lines end with none
    // (issue #15: the loop's set-up cost ~10 instructions a line).
    match s.last() {
        Some(&b) if b > b' ' => s,
        _ => trim_end_bytewise(s),
    }
}

/// [`trim_end`] a byte at a time.
fn trim_end_bytewise(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n' | b' ' | b'\t' | 0] = s {
        s = rest;
    }
    s
}

fn skip_spaces(s: &[u8]) -> &[u8] {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t') {
        i += 1;
    }
    &s[i..]
}

/// Bytes `at..at + 8` of `s` as a number.
#[inline(always)]
fn word(s: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(b)
}

/// `s[..n] == key[..n]` when the first `from` bytes are known equal, a word
/// at a time, for `8 <= n` and `from <= n` (issue #15: a `[u8]` compare
/// calls `bcmp`, several times the cost).
#[inline(always)]
fn words_eq(s: &[u8], key: &[u8], from: usize, n: usize) -> bool {
    let mut i = from;
    while i + 8 < n {
        if word(s, i) != word(key, i) {
            return false;
        }
        i += 8;
    }
    // The last word, overlapping the one before.
    word(s, n - 8) == word(key, n - 8)
}

/// `s[..n] == key[..n]` (both at least `n` long).
#[inline(always)]
fn prefix_eq(s: &[u8], key: &[u8], n: usize) -> bool {
    if n < 8 {
        return s[..n] == key[..n];
    }
    words_eq(s, key, 0, n)
}

/// `<PRI>` then RFC 5424 (`<38>1 …`) or an RFC 3164 line.
fn pri(line: &[u8]) -> Result<Envelope<'_>, Skip> {
    let close = memchr::memchr(b'>', &line[..line.len().min(6)]).ok_or(Skip::Malformed)?;
    let digits = &line[1..close];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Skip::Malformed);
    }
    let rest = &line[close + 1..];
    if let [b'1', b' ', tail @ ..] = rest {
        return rfc5424(tail);
    }
    after_pri(rest, &mut StampCache::default())
}

/// RFC 5424 after `<PRI>1 `: `TS HOST APP PROCID MSGID SD MSG`.
fn rfc5424(s: &[u8]) -> Result<Envelope<'_>, Skip> {
    let (ts, s) = token(s).ok_or(Skip::Malformed)?;
    let stamp = if ts == b"-" {
        Stamp::None
    } else {
        let (stamp, used) = iso_timestamp(ts).ok_or(Skip::Malformed)?;
        if used != ts.len() {
            return Err(Skip::Malformed);
        }
        stamp
    };
    let (host, s) = token(s).ok_or(Skip::Malformed)?;
    let (app, s) = token(s).ok_or(Skip::Malformed)?;
    let program = Program::from_name(app).ok_or(Skip::OtherProgram)?;
    let (procid, s) = token(s).ok_or(Skip::Malformed)?;
    let (_msgid, s) = token(s).ok_or(Skip::Malformed)?;
    // Structured data: `-` or one or more `[id k="v" …]`, values may hold `\]`.
    let msg = if let Some(rest) = s.strip_prefix(b"-") {
        rest
    } else if s.first() == Some(&b'[') {
        let mut i = 0;
        let mut in_quotes = false;
        loop {
            match s.get(i) {
                None => break,
                Some(b'\\') if in_quotes => i += 1,
                Some(b'"') => in_quotes = !in_quotes,
                Some(b']') if !in_quotes && s.get(i + 1) != Some(&b'[') => {
                    i += 1;
                    break;
                }
                _ => {}
            }
            i += 1;
        }
        &s[i.min(s.len())..]
    } else {
        s
    };
    let msg = msg.strip_prefix(b" ").unwrap_or(msg);
    let msg = msg.strip_prefix("\u{feff}".as_bytes()).unwrap_or(msg);
    Ok(Envelope {
        stamp,
        host: (host != b"-").then(|| String::from_utf8_lossy(host)),
        program: Some(program),
        pid: parse_u32(procid),
        msg: Cow::Borrowed(msg),
    })
}

/// Splits the next space-separated token (one space after it is consumed).
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    if s.is_empty() {
        return None;
    }
    match memchr::memchr(b' ', s) {
        Some(i) => Some((&s[..i], &s[i + 1..])),
        None => Some((s, &[])),
    }
}

fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s.iter().fold(0u64, |a, &b| a * 10 + u64::from(b - b'0'));
    u32::try_from(v).ok()
}

/// Everything that is not `<PRI>1` or JSON: timestamp, then host/program.
fn after_pri<'a>(line: &'a [u8], cache: &mut StampCache) -> Result<Envelope<'a>, Skip> {
    let (stamp, used) = cached_timestamp(line, cache);
    let rest = skip_spaces(&line[used..]);
    if used == 0 {
        // No timestamp: `sshd[1]: msg` (socklog tail), `host sshd[1]: msg`
        // (a journal's message with its host), or bare `sshd -e` output, whose
        // `fatal: …`/`error: …` must not be taken for a program name.
        let mut words = rest.split(|&b| b == b' ');
        let first = words.next().unwrap_or_default();
        let second = words.next().unwrap_or_default();
        // The second word of a bare line may be client text (`Failed <method>
        // for …`): taken for a program only when it is one of ours.
        let host_then_ours = second.ends_with(b"]:")
            && !matches!(first, b"Failed" | b"Postponed")
            && matches!(program_token(second), Some((Some(_), Some(_))));
        if first.contains(&b'[') || host_then_ours {
            if let Some(env) = host_program(rest, Stamp::None) {
                return env;
            }
        }
        return Ok(bare(Stamp::None, line));
    }
    if let Some(env) = cached_head(rest, stamp, cache) {
        if env.is_ok() {
            cache.hit = Some(line.len() - rest.len());
        }
        return env;
    }
    match host_program(rest, stamp) {
        Some(env) => {
            remember_head(rest, &env, cache);
            env
        }
        None => {
            // socklog without a program: `… auth.info: Invalid user …`
            let rest = match rest.iter().position(|&b| b == b' ') {
                Some(i) if rest[..i].ends_with(b":") && is_facility_level(&rest[..i - 1]) => {
                    skip_spaces(&rest[i..])
                }
                _ => rest,
            };
            Ok(bare(stamp, rest))
        }
    }
}

/// `<pid>]:` then a space or the end: the pid of a `name[pid]:` token, and
/// the message after that space (issue #15: the caller's check for it cost
/// ~11 instructions a line, and the word compare below has seen it).
///
/// Up to 7 digits read as one word (issue #15: a digit loop cost ~90
/// instructions a pid): the bytes that are no digit found all at once, the
/// digits combined in pairs, then in fours.
#[inline(always)]
fn pid_colon(rest: &[u8]) -> Option<(u32, &[u8])> {
    // The word of digits, and the 4 bytes read for `]: ` after up to 8 of
    // them: no check for those (issue #15: ~4 instructions a line), and the
    // rare shorter ones a byte at a time.
    if rest.len() < 12 {
        return pid_colon_bytewise(rest);
    }
    // Digits become 0..=9; a byte that was no digit gets its high bit in
    // `nd` (from `t` itself, or from the add: `t` in 10..0x80). An add that
    // carries out of a byte starts from a byte flagged itself, so the lowest
    // flag is exact, and that is the only one read.
    let w = word(rest, 0);
    let t = w ^ 0x3030_3030_3030_3030;
    let nd = (t.wrapping_add(0x7676_7676_7676_7676) | t) & 0x8080_8080_8080_8080;
    if nd == 0 {
        // 8 digits or more: rare, and up to 10 may still make a pid.
        return pid_colon_bytewise(rest);
    }
    let d = (nd.trailing_zeros() / 8) as usize;
    if d == 0 {
        return None;
    }
    // The d digits at the top of the word, the first one most significant,
    // zero digits before them.
    let x = t << (64 - 8 * d);
    // Byte pairs: 10 * first + second in each even byte.
    let x = (x.wrapping_mul(10) + (x >> 8)) & 0x00ff_00ff_00ff_00ff;
    // 16-bit pairs of those: 100 * first + second in lanes 0 and 2.
    let x = (x.wrapping_mul(100) + (x >> 16)) & 0x0000_ffff_0000_ffff;
    let v = (x & 0xffff) * 10_000 + (x >> 32);
    // `]: ` after the digits, read from there whatever their number (issue
    // #15: most pids of a busy host have 6 or 7 digits, and a check in the
    // word for up to 5 first cost them ~3 instructions).
    if let Some(t) = rest[d..].first_chunk::<4>() {
        if u32::from_le_bytes(*t) & 0xff_ffff == u32::from_le_bytes(*b"]: \0") {
            return Some((v as u32, &rest[d + 3..]));
        }
    }
    let tail = match &rest[d..] {
        [b']', b':', tail @ ..] if tail.is_empty() || tail[0] == b' ' => tail,
        _ => return None,
    };
    Some((v as u32, skip_one_space(tail)))
}

/// [`pid_colon`] a digit at a time.
fn pid_colon_bytewise(rest: &[u8]) -> Option<(u32, &[u8])> {
    // One pass: digits (at most 10, as `parse_u32` takes), then `]:`.
    let mut v: u64 = 0;
    let mut d = 0;
    for &b in rest.iter().take(11) {
        let x = b.wrapping_sub(b'0');
        if x > 9 {
            break;
        }
        v = v * 10 + u64::from(x);
        d += 1;
    }
    if d == 0 || d > 10 {
        return None;
    }
    let tail = match &rest[d..] {
        [b']', b':', tail @ ..] if tail.is_empty() || tail[0] == b' ' => tail,
        _ => return None,
    };
    Some((u32::try_from(v).ok()?, skip_one_space(tail)))
}

/// `b` as UTF-8, borrowed when it is valid (nearly always; cheaper than
/// `String::from_utf8_lossy`'s chunk iterator).
fn lossy(b: &[u8]) -> Cow<'_, str> {
    if let Some(s) = super::text::ascii_str(b) {
        return Cow::Borrowed(s);
    }
    match std::str::from_utf8(b) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(b),
    }
}

/// The first 16 bytes of `s` as a number (little-endian, zero-padded).
#[inline(always)]
fn first16(s: &[u8]) -> u128 {
    match s.first_chunk::<16>() {
        Some(b) => u128::from_le_bytes(*b),
        None => first16_padded(s),
    }
}

/// [`first16`] of fewer than 16 bytes.
#[cold]
fn first16_padded(s: &[u8]) -> u128 {
    let mut b = [0u8; 16];
    b[..s.len()].copy_from_slice(s);
    u128::from_le_bytes(b)
}

/// [`host_program`] for a line that starts with the `host program[` bytes of
/// an earlier one (see [`remember_head`]): the same tokens, so the same result,
/// but the host left out (the caller takes it from the head used last).
/// `None`: no cached head fits.
#[inline(always)]
fn cached_head<'a>(
    s: &'a [u8],
    stamp: Stamp,
    cache: &mut StampCache,
) -> Option<Result<Envelope<'a>, Skip>> {
    Some(match head_hit(s, cache)? {
        Hit::Ours(q) => Ok(Envelope {
            stamp,
            host: None,
            program: Some(q.program),
            pid: Some(q.pid),
            msg: Cow::Borrowed(q.msg),
        }),
        Hit::Other => Err(Skip::OtherProgram),
    })
}

/// [`cached_head`]'s work, with no [`Envelope`] built.
#[inline(always)]
fn head_hit<'a>(s: &'a [u8], cache: &mut StampCache) -> Option<Hit<'a>> {
    let first = match s.first_chunk::<16>() {
        Some(b) => lane_of(b),
        None => lane(first16_padded(s)),
    };
    let order = cache.order;
    // A plain loop: `find` over the range was left a call.
    let mut k = 0;
    let (h, i) = loop {
        let i = (order >> (4 * k)) as usize & 0xf;
        if cache.tags[i].may_fit(first) && cache.heads[i].fits(s) {
            break (&cache.heads[i], i);
        }
        k += 1;
        if k == HEADS {
            return None;
        }
    };
    // Only a head of another program is bare (issue #15: a head of ours
    // is not asked whether it is).
    let hit = match h.program {
        Some(program) => {
            let (pid, msg) = pid_colon(&s[usize::from(h.len)..])?;
            Hit::Ours(Quick {
                program,
                pid,
                msg: strip_solaris_id(msg),
            })
        }
        // Whatever follows a bare head.
        None if h.bare => Hit::Other,
        None => {
            pid_colon(&s[usize::from(h.len)..])?;
            Hit::Other
        }
    };
    cache.last = i;
    // One place towards the front.
    if k != 0 {
        cache.order = transpose(order, k);
    }
    Some(hit)
}

/// Keeps `host program[` of a line [`host_program`] read as `host name[pid]: msg`
/// (one space, the host first), for [`cached_head`]: `env` is what it gave,
/// an envelope of one of our programs or [`Skip::OtherProgram`]. `s` starts
/// with no space or tab (`after_pri` skipped them), nor does a head
/// ([`cached_hit`] counts on it).
fn remember_head(s: &[u8], env: &Result<Envelope<'_>, Skip>, cache: &mut StampCache) {
    if s.first() == Some(&b'<') {
        return;
    }
    let (hl, program) = match env {
        Ok(Envelope {
            host: Some(Cow::Borrowed(host)),
            program: Some(program),
            pid: Some(_),
            ..
        }) => {
            if !s.starts_with(host.as_bytes()) {
                return;
            }
            (host.len(), Some(*program))
        }
        Err(Skip::OtherProgram) => {
            // The first token must be what `host_program` took for the host:
            // no program token, no facility, no colon.
            let Some(hl) = s.iter().position(|&b| b == b' ') else {
                return;
            };
            let tok = &s[..hl];
            if tok.is_empty()
                || tok.ends_with(b":")
                || program_token(tok).is_some()
                || is_facility_level(tok)
            {
                return;
            }
            (hl, None)
        }
        _ => return,
    };
    if s.get(hl) != Some(&b' ') {
        return;
    }
    let name_at = hl + 1;
    let Some(open) = s[name_at..].iter().position(|&b| b == b'[' || b == b' ') else {
        return;
    };
    let open = name_at + open;
    let n = open + 1;
    let pid = match env {
        Ok(e) => e.pid,
        Err(_) => pid_colon(&s[n..]).map(|(p, _)| p),
    };
    // `host name: ` of another program, with no pid (`kernel: …`): that
    // token is the one `host_program` decides by, whatever follows it
    // (issue #15: 1 line in 100 of a real log took the general path).
    let bare = program.is_none()
        && open > name_at
        && !matches!(s[name_at], b' ' | b'\t')
        && s[open] == b' '
        && n <= 32
        && program_token(&s[name_at..open]) == Some((None, None));
    if !bare
        && (open == name_at
            || s[open] != b'['
            || n > 32
            || Program::from_name(&s[name_at..open]) != program
            || pid.is_none()
            || pid_colon(&s[n..]).map(|(p, _)| p) != pid)
    {
        return;
    }
    let tag = Tag {
        first: lane(first16(&s[..n])),
        mask: lane(if n >= 16 {
            u128::MAX
        } else {
            (1u128 << (8 * n)) - 1
        }),
    };
    let mut head = Head {
        bytes: [0; 32],
        len: n as u8,
        host_len: hl as u8,
        program,
        bare,
        host: None,
    };
    head.bytes[..n].copy_from_slice(&s[..n]);
    // In the place of the head used least lately, then tried first.
    let slot = cache.order >> (4 * (HEADS - 1));
    cache.heads[slot as usize] = head;
    cache.tags[slot as usize] = tag;
    cache.order = cache.order << 4 | slot;
}

fn bare(stamp: Stamp, msg: &[u8]) -> Envelope<'_> {
    Envelope {
        stamp,
        host: None,
        program: None,
        pid: None,
        msg: Cow::Borrowed(msg),
    }
}

/// `[<fac.lvl>] [host] [fac.lvl] program[pid]: msg`. `None` if no program token is found.
fn host_program(mut s: &[u8], stamp: Stamp) -> Option<Result<Envelope<'_>, Skip>> {
    // FreeBSD `syslogd -v`: `<10.5>` or `<auth.info>` before the host.
    if s.first() == Some(&b'<') {
        if let Some(end) = memchr::memchr(b'>', &s[..s.len().min(24)]) {
            s = skip_spaces(&s[end + 1..]);
        }
    }
    let mut host: Option<&[u8]> = None;
    for _ in 0..3 {
        let end = s.iter().position(|&b| b == b' ').unwrap_or(s.len());
        let tok = &s[..end];
        if tok.is_empty() {
            return None;
        }
        if let Some(p) = program_token(tok) {
            let after = skip_one_space(&s[end..]);
            let (prog, pid) = p;
            return Some(match prog {
                Some(program) => {
                    let msg = strip_solaris_id(after);
                    // socklog: `auth.info: May 27 04:31:28 sshd[30993]: ` carries a
                    // second RFC 3164 envelope; the outer one is the precise one.
                    Ok(Envelope {
                        stamp,
                        host: host.map(lossy),
                        program: Some(program),
                        pid,
                        msg: Cow::Borrowed(msg),
                    })
                }
                None => Err(Skip::OtherProgram),
            });
        }
        if is_facility_level(tok.strip_suffix(b":").unwrap_or(tok)) {
            s = skip_spaces(&s[end..]);
            if tok.ends_with(b":") {
                // socklog: an inner RFC 3164 timestamp may follow.
                let (_, used) = timestamp(s);
                s = skip_spaces(&s[used..]);
            }
            continue;
        }
        if host.is_some() || tok.ends_with(b":") {
            return None;
        }
        host = Some(tok);
        s = skip_spaces(&s[end..]);
    }
    None
}

fn skip_one_space(s: &[u8]) -> &[u8] {
    // `sshd[1]: msg`; socklog writes two spaces, which belong to no user name.
    s.strip_prefix(b" ").unwrap_or(s)
}

/// A program token: `name[pid]:`, `name:`, `name[pid]` (no colon), `[name]:`, `[name]`.
/// `Some((None, _))` is a recognizable program that is not ours.
fn program_token(tok: &[u8]) -> Option<(Option<Program>, Option<u32>)> {
    let t = tok.strip_suffix(b":").unwrap_or(tok);
    let colon = t.len() != tok.len();
    if let Some(inner) = t.strip_prefix(b"[").and_then(|x| x.strip_suffix(b"]")) {
        // fail2ban's `[sshd]` bracketed daemon.
        return Some((Program::from_name(inner), None));
    }
    // Tokens are short: a plain loop beats memchr's set-up here.
    if let Some(open) = t.iter().rposition(|&b| b == b'[') {
        if t.last() == Some(&b']') && open > 0 {
            let pid = parse_u32(&t[open + 1..t.len() - 1]);
            pid?;
            return Some((Program::from_name(&t[..open]), pid));
        }
        return None;
    }
    if colon
        && !t.is_empty()
        && t.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.()/".contains(&b))
    {
        if is_facility_level(t) {
            return None;
        }
        return Some((Program::from_name(t), None));
    }
    if t.starts_with(b"fail2ban.") {
        // fail2ban's own log: `fail2ban.actions        [123]: NOTICE …`
        return Some((Some(Program::Fail2ban), None));
    }
    None
}

fn is_facility_level(t: &[u8]) -> bool {
    let Some(dot) = t.iter().position(|&b| b == b'.') else {
        return false;
    };
    let (fac, lvl) = (&t[..dot], &t[dot + 1..]);
    const FAC: &[&[u8]] = &[
        b"auth",
        b"authpriv",
        b"daemon",
        b"user",
        b"local0",
        b"local1",
        b"local2",
        b"local3",
        b"local4",
        b"local5",
        b"local6",
        b"local7",
        b"security",
        b"syslog",
        b"kern",
    ];
    const LVL: &[&[u8]] = &[
        b"emerg", b"alert", b"crit", b"err", b"error", b"warn", b"warning", b"notice", b"info",
        b"debug",
    ];
    FAC.contains(&fac) && LVL.contains(&lvl)
}

/// Solaris: `[ID 800047 auth.info] ` before the message.
#[inline(always)]
fn strip_solaris_id(msg: &[u8]) -> &[u8] {
    if msg.first() == Some(&b'[') {
        return strip_solaris_id_here(msg);
    }
    msg
}

/// [`strip_solaris_id`] for a message that starts with `[`.
fn strip_solaris_id_here(msg: &[u8]) -> &[u8] {
    if msg.starts_with(b"[ID ") {
        if let Some(end) = memchr::memchr(b']', msg) {
            return skip_spaces(&msg[end + 1..]);
        }
    }
    msg
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn month(s: &[u8]) -> Option<u8> {
    let m = s.get(..3)?;
    MONTHS
        .iter()
        .position(|x| x.as_slice() == m)
        .map(|i| i as u8 + 1)
}

/// Parses a leading timestamp in any supported form; returns (stamp, bytes used), 0 if none.
pub fn timestamp(s: &[u8]) -> (Stamp, usize) {
    match s.first() {
        Some(b'0'..=b'9') => {
            if let Some(r) = iso_timestamp(s) {
                return r;
            }
            if let Some(r) = unix_timestamp(s) {
                return r;
            }
            (Stamp::None, 0)
        }
        Some(b'A'..=b'Z') => {
            if let Some(r) = bsd_timestamp(s) {
                return r;
            }
            // journalctl short-full: `Tue 2024-01-02 03:04:05 UTC `
            if s.len() > 4 && s[3] == b' ' && s[4].is_ascii_digit() {
                if let Some((stamp, used)) = iso_timestamp(&s[4..]) {
                    return (stamp, used + 4);
                }
            }
            (Stamp::None, 0)
        }
        _ => (Stamp::None, 0),
    }
}

fn digits<const N: usize>(s: &[u8], at: usize) -> Option<u32> {
    let d = s.get(at..at + N)?;
    let mut v = 0u32;
    for &b in d {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// `HH:MM:SS` at `at`, returns seconds of day.
fn hms(s: &[u8], at: usize) -> Option<u32> {
    let h = digits::<2>(s, at)?;
    let m = digits::<2>(s, at + 3)?;
    let sec = digits::<2>(s, at + 6)?;
    if s[at + 2] != b':' || s[at + 5] != b':' || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(h * 3600 + m * 60 + sec.min(59))
}

/// Fraction after `.` or `,`: returns (microseconds, bytes used including the separator).
fn fraction(s: &[u8], at: usize) -> (u32, usize) {
    match s.get(at) {
        Some(b'.' | b',') => {
            let n = s[at + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if n == 0 {
                return (0, 0);
            }
            let mut v = 0u32;
            for i in 0..6 {
                v *= 10;
                if i < n {
                    v += u32::from(s[at + 1 + i] - b'0');
                }
            }
            (v, n + 1)
        }
        _ => (0, 0),
    }
}

/// `Mmm dd HH:MM:SS[.ffffff]` with the day space-padded, zero-padded or unpadded.
fn bsd_timestamp(s: &[u8]) -> Option<(Stamp, usize)> {
    let month = month(s)?;
    if s.get(3) != Some(&b' ') {
        return None;
    }
    let mut i = 4;
    if s.get(i) == Some(&b' ') {
        i += 1;
    }
    let d1 = *s.get(i)?;
    if !d1.is_ascii_digit() {
        return None;
    }
    let mut day = u32::from(d1 - b'0');
    i += 1;
    if let Some(&d2) = s.get(i) {
        if d2.is_ascii_digit() {
            day = day * 10 + u32::from(d2 - b'0');
            i += 1;
        }
    }
    if s.get(i) != Some(&b' ') || day == 0 || day > 31 {
        return None;
    }
    i += 1;
    let sod = hms(s, i)?;
    i += 8;
    let (micros, used) = fraction(s, i);
    i += used;
    Some((
        Stamp::Civil {
            year: None,
            month,
            day: day as u8,
            sod,
            micros,
        },
        i,
    ))
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac|,frac][Z|±HH:MM|±HHMM| ±HHMM]`; a zone makes it absolute.
fn iso_timestamp(s: &[u8]) -> Option<(Stamp, usize)> {
    let year = digits::<4>(s, 0)?;
    let mon = digits::<2>(s, 5)?;
    let day = digits::<2>(s, 8)?;
    if s[4] != b'-' || s[7] != b'-' || !matches!(s.get(10), Some(b'T' | b' ')) {
        return None;
    }
    if !(1..=12).contains(&mon) || !(1..=31).contains(&day) {
        return None;
    }
    let sod = hms(s, 11)?;
    let mut i = 19;
    let (micros, used) = fraction(s, i);
    i += used;
    let civil = Stamp::Civil {
        year: Some(year as i32),
        month: mon as u8,
        day: day as u8,
        sod,
        micros,
    };
    let offset = match s.get(i) {
        Some(b'Z' | b'z') => {
            i += 1;
            Some(0)
        }
        Some(b'+' | b'-') => {
            let (off, used) = parse_offset(&s[i..])?;
            i += used;
            Some(off)
        }
        // macOS unified log: `… 06:47:42.801612-0700  host`; short-full ` UTC`.
        Some(b' ') => match s.get(i + 1) {
            Some(b'+' | b'-') => match parse_offset(&s[i + 1..]) {
                Some((off, used)) => {
                    i += 1 + used;
                    Some(off)
                }
                None => None,
            },
            Some(b'U')
                if s[i + 1..].starts_with(b"UTC") && matches!(s.get(i + 4), None | Some(b' ')) =>
            {
                i += 4;
                Some(0)
            }
            _ => None,
        },
        _ => None,
    };
    if matches!(s.get(i), Some(b) if !b.is_ascii_whitespace()) {
        return None;
    }
    Some(match (offset, civil) {
        (
            Some(offset),
            Stamp::Civil {
                year: Some(y),
                month,
                day,
                sod,
                micros,
            },
        ) => {
            let days =
                crate::event::days_from_civil(i64::from(y), u32::from(month), u32::from(day));
            let local = (days * 86_400 + i64::from(sod)) * 1_000_000 + i64::from(micros);
            (
                Stamp::Abs {
                    micros: local - i64::from(offset) * 1_000_000,
                    offset,
                },
                i,
            )
        }
        _ => (civil, i),
    })
}

/// `±HH:MM` or `±HHMM` → (seconds east of UTC, bytes used).
fn parse_offset(s: &[u8]) -> Option<(i32, usize)> {
    let sign = if s[0] == b'-' { -1 } else { 1 };
    let h = digits::<2>(s, 1)?;
    let (m, used) = if s.get(3) == Some(&b':') {
        (digits::<2>(s, 4)?, 6)
    } else {
        (digits::<2>(s, 3)?, 5)
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some((sign * (h as i32 * 3600 + m as i32 * 60), used))
}

/// journalctl short-unix: `1704164645.123456 `.
fn unix_timestamp(s: &[u8]) -> Option<(Stamp, usize)> {
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(9..=11).contains(&n) || s.get(n) != Some(&b'.') {
        return None;
    }
    let secs: i64 = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    let (micros, used) = fraction(s, n);
    if used == 0 || s.get(n + used) != Some(&b' ') {
        return None;
    }
    Some((
        Stamp::Abs {
            micros: secs * 1_000_000 + i64::from(micros),
            offset: 0,
        },
        n + used,
    ))
}

/// journald (`journalctl -o json`) and Docker json-file records.
fn json(line: &[u8]) -> Result<Envelope<'_>, Skip> {
    #[derive(serde::Deserialize)]
    struct Rec {
        #[serde(rename = "MESSAGE")]
        message: Option<serde_json::Value>,
        #[serde(rename = "SYSLOG_IDENTIFIER")]
        ident: Option<String>,
        #[serde(rename = "_COMM")]
        comm: Option<String>,
        #[serde(rename = "_PID")]
        pid: Option<String>,
        #[serde(rename = "SYSLOG_PID")]
        syslog_pid: Option<String>,
        #[serde(rename = "_HOSTNAME")]
        hostname: Option<String>,
        #[serde(rename = "__REALTIME_TIMESTAMP")]
        realtime: Option<String>,
        #[serde(rename = "_SOURCE_REALTIME_TIMESTAMP")]
        source_realtime: Option<String>,
        // Docker json-file
        log: Option<String>,
        time: Option<String>,
        // Cowrie's cowrie.json
        eventid: Option<String>,
        timestamp: Option<String>,
        sensor: Option<String>,
    }
    let rec: Rec = serde_json::from_slice(line).map_err(|_| Skip::Malformed)?;
    if let Some(eventid) = rec.eventid.as_deref() {
        if !eventid.starts_with("cowrie.") {
            return Err(Skip::OtherProgram);
        }
        // The record is the message: message::cowrie reads its fields.
        let stamp = rec
            .timestamp
            .as_deref()
            .and_then(|t| iso_timestamp(t.as_bytes()))
            .map_or(Stamp::None, |(s, _)| s);
        return Ok(Envelope {
            stamp,
            host: rec.sensor.map(Cow::Owned),
            program: Some(Program::Cowrie),
            pid: None,
            msg: Cow::Borrowed(line),
        });
    }
    if let Some(log) = rec.log {
        let stamp = rec
            .time
            .as_deref()
            .and_then(|t| iso_timestamp(t.as_bytes()))
            .map(|(s, _)| s)
            .unwrap_or(Stamp::None);
        let msg = trim_end(log.as_bytes()).to_vec();
        // Docker logs of `sshd -e`: bare message, or a syslog line inside.
        return match after_pri(&msg, &mut StampCache::default()) {
            Ok(Envelope {
                stamp: inner,
                host,
                program,
                pid,
                msg: m,
            }) => Ok(Envelope {
                stamp: if inner == Stamp::None { stamp } else { inner },
                host: host.map(|h| Cow::Owned(h.into_owned())),
                program,
                pid,
                msg: Cow::Owned(m.into_owned()),
            }),
            Err(e) => Err(e),
        };
    }
    let ident = rec
        .ident
        .as_deref()
        .or(rec.comm.as_deref())
        .ok_or(Skip::Malformed)?;
    let program = Program::from_name(ident.as_bytes()).ok_or(Skip::OtherProgram)?;
    // `logger -t sshd` forges SYSLOG_IDENTIFIER but not the trusted _COMM.
    if let Some(comm) = rec.comm.as_deref() {
        if Program::from_name(comm.as_bytes()).is_none() && !comm.starts_with("fail2ban") {
            return Err(Skip::OtherProgram);
        }
    }
    let msg: Vec<u8> = match rec.message {
        Some(serde_json::Value::String(s)) => s.into_bytes(),
        // Non-UTF-8 messages are arrays of byte values.
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_u64())
            .filter(|&b| b < 256)
            .map(|b| b as u8)
            .collect(),
        _ => return Err(Skip::Malformed),
    };
    let micros = rec
        .source_realtime
        .as_deref()
        .or(rec.realtime.as_deref())
        .and_then(|t| t.parse::<i64>().ok());
    let stamp = micros.map_or(Stamp::None, |micros| Stamp::Abs { micros, offset: 0 });
    let pid = rec
        .syslog_pid
        .as_deref()
        .or(rec.pid.as_deref())
        .and_then(|p| p.parse().ok());
    let msg = trim_end(&msg).to_vec();
    Ok(Envelope {
        stamp,
        host: rec.hostname.map(Cow::Owned),
        program: Some(program),
        pid,
        msg: Cow::Owned(msg),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #15: the stamp and `host program[` caches give what `split` gives,
    /// line after line, whatever follows the cached bytes.
    #[test]
    fn cached_split_is_split() {
        let lines: &[&[u8]] = &[
            b"Nov 22 00:00:01 web1 sshd[12]: Failed password for root from 192.0.2.1 port 22 ssh2",
            b"Nov 22 00:00:01 web1 sshd[13]: Invalid user a from 192.0.2.1 port 2",
            b"Nov 22 00:00:01.5 web1 sshd[13]: x",
            b"Nov 22 00:00:01 web1 sshd[99999999999]: x",
            b"Nov 22 00:00:01 web1 kernel: [590831.718391] [UFW BLOCK] IN=eth0",
            b"Nov 22 00:00:01 web1 kernel: [590831.718391] [UFW BLOCK] IN=eth0",
            b"Nov 22 00:00:01 web1 kernel: sshd[1]: Invalid user a from 192.0.2.1 port 1",
            b"Nov 22 00:00:01 web1 kernel:\t[1.5] x",
            b"Nov 22 00:00:01 web1 kernel:",
            b"Nov 22 00:00:01 web1 kernel:x y",
            b"Nov 22 00:00:01 web1 kernel: x",
            b"Nov 22 00:00:01 web1 kernel:  x",
            b"Nov 22 00:00:01 web1 local0.info: sshd[1]: x",
            b"Nov 22 00:00:01 web1 local0.info: sshd[1]: x",
            b"Nov 22 00:00:01 web1 sshd: Invalid user a from 192.0.2.1 port 1",
            b"Nov 22 00:00:01 web1 sshd: Invalid user a from 192.0.2.1 port 1",
            b"Nov 22 00:00:01 web1 auth.info sshd[1]: x",
            b"Nov 22 00:00:01 web1 auth.info sshd[1]: x",
            b"Nov 22 00:00:01 web1 sshd[14]:x",
            b"Nov 22 00:00:01 web1 sshd[14]",
            b"Nov 22 00:00:01 web1 sshd[14]:",
            b"Nov 22 00:00:01 web1 sshd[]: x",
            b"Nov 22 00:00:01 web1 sshd[15] x",
            b"Nov 22 00:00:01 web1 sshd[16]:\tx",
            b"Nov 22 00:00:01 web1 sshd-session[16]: x",
            b"Nov 22 00:00:01  web1 sshd[17]: x",
            b"Nov 22 00:00:01 web1 CRON[18]: x",
            b"Nov 22 00:00:01 web1 auth.info sshd[19]: x",
            b"Nov 22 00:00:02 web1 sshd[20]: [ID 800047 auth.info] x",
            b"Nov 22 00:00:02 web1 sshd[20]: x",
            b"Nov 22 00:00:02 web\xff sshd[21]: x",
            b"Nov 22 00:00:02 web\xff sshd[21]: x",
            b"Nov 22 00:00:02 sshd[22]: x",
            b"Nov 22 00:00:02 web1 sshd[23]: x",
            // Other programs (cached as such) and what must not take their place.
            b"Nov 22 00:00:02 web1 CRON[18]:x",
            b"Nov 22 00:00:02 web1 CRON[99999999999]: x",
            b"Nov 22 00:00:02 web1 CRON[4294967296]: x",
            b"Nov 22 00:00:02 web1 CRON[4294967295]: x",
            b"Nov 22 00:00:02 web1 CRON[]: x",
            b"Nov 22 00:00:02 web1 CRON[18] x",
            b"Nov 22 00:00:02 web1 CRON[18]:",
            b"Nov 22 00:00:02 web1 \tCRON[1]: x",
            b"Nov 22 00:00:02 web1 \tsshd[1]: x",
            b"Nov 22 00:00:02 web1 kernel: [1.2] x",
            b"Nov 22 00:00:02 h sshd[1]: x",
            b"Nov 22 00:00:02 h CRON[1]: x",
            b"Nov 22 00:00:02 h  CRON[1]: x",
            b"Nov 22 00:00:02 web1[1]: CRON[2]: x",
            b"Nov 22 00:00:02 web1[1]: sshd[2]: x",
            b"Nov 22 00:00:02 auth.info CRON[3]: x",
            b"Nov 22 00:00:02 web1: CRON[4]: x",
            b"Nov 22 00:00:02 <10.5> web1 CRON[5]: x",
            b"Nov 22 00:00:02 web1 fail2ban.actions[6]: x",
            b"Nov 22 00:00:02 web1 [sshd]: x",
            b"Nov 22 00:00:02 web1 CRON[7]: sshd[8]: x",
            b"Nov 22 00:00:02 a-very-long-host-name-indeed sshd[9]: x",
            b"Nov 22 00:00:02 a-very-long-host-name-indeed CRON[9]: x",
            b"Nov 22 00:00:02 web2 sshd[10]: x",
            b"Nov 22 00:00:02 web3 sshd[11]: x",
        ];
        let mut cache = StampCache::default();
        for _ in 0..3 {
            for line in lines.iter().chain(lines.iter().rev()) {
                assert_eq!(
                    split_cached(line, &mut cache),
                    split(line),
                    "{}",
                    String::from_utf8_lossy(line)
                );
            }
        }
        // Every line after every other, from an empty cache: a head cached
        // from one line gives the next what `split` gives.
        for a in lines {
            for b in lines {
                let mut cache = StampCache::default();
                let _ = split_cached(a, &mut cache);
                assert_eq!(
                    split_cached(b, &mut cache),
                    split(b),
                    "{} then {}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                );
            }
        }
    }

    /// A small xorshift generator for the generated-input tests.
    fn rng() -> impl FnMut() -> u64 {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Issue #15: the word-at-a-time compares and the pid reader give what
    /// their definitions give.
    #[test]
    fn fast_readers_match_their_definitions() {
        let mut next = rng();
        for _ in 0..200_000 {
            let mut key = [0u8; 32];
            for b in &mut key {
                *b = b"ab"[(next() % 2) as usize];
            }
            let mut s = key.to_vec();
            if next() % 4 != 0 {
                let at = (next() % 32) as usize;
                s[at] ^= 1 << (next() % 8);
            }
            let n = (next() % 33) as usize;
            if n <= 24 {
                assert_eq!(prefix_eq(&s, &key, n), s[..n] == key[..n], "{n}");
            }
            if n >= 17 && s[..16] == key[..16] {
                assert_eq!(words_eq(&s, &key, 16, n), s[..n] == key[..n], "{n}");
            }
            if n >= 9 {
                if s[..8] == key[..8] {
                    assert_eq!(words_eq(&s, &key, 8, n), s[..n] == key[..n], "{n}");
                }
                assert_eq!(words_eq(&s, &key, 0, n), s[..n] == key[..n], "{n}");
            }
        }
        // `pid_colon`: the digits as `parse_u32` reads them, then `]:` and a
        // space or the end; the message after that space.
        let defined = |t: &[u8]| -> Option<(u32, Vec<u8>)> {
            let d = t.iter().take_while(|b| b.is_ascii_digit()).count();
            let pid = parse_u32(&t[..d])?;
            let tail = t[d..].strip_prefix(b"]:")?;
            (tail.is_empty() || tail[0] == b' ')
                .then(|| (pid, tail.get(1..).unwrap_or(b"").to_vec()))
        };
        let alphabet = b"01234567899999]: x/:\x80\xff";
        let ends: &[&[u8]] = &[
            b"]: x", b"]:", b"]", b"]:x", b"] x", b": x", b"]: ", b"", b"]:\t",
        ];
        for _ in 0..200_000 {
            let t: Vec<u8> = if next() % 2 == 0 {
                let len = (next() % 20) as usize;
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect()
            } else {
                let digits = (next() % 13) as usize;
                let mut t: Vec<u8> = (0..digits).map(|_| b'0' + (next() % 10) as u8).collect();
                t.extend_from_slice(ends[(next() % ends.len() as u64) as usize]);
                t
            };
            let want = defined(&t);
            let shown = String::from_utf8_lossy(&t);
            assert_eq!(
                pid_colon(&t).map(|(p, tail)| (p, tail.to_vec())),
                want,
                "{shown:?}"
            );
            assert_eq!(
                pid_colon_bytewise(&t).map(|(p, tail)| (p, tail.to_vec())),
                want,
                "{shown:?}"
            );
        }
        // `trim_end`: what the byte loop leaves, on ends of bytes around a
        // space and the trimmed ones.
        let alphabet = b"\r\n \t\0\x1f!x\x80\xff";
        for _ in 0..100_000 {
            let len = (next() % 8) as usize;
            let t: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            assert_eq!(trim_end(&t), trim_end_bytewise(&t), "{t:?}");
        }
    }

    /// Issue #15: a `host name: ` head with no pid serves the next lines of
    /// that program, and only those that go on after its space.
    #[test]
    fn a_bare_head_of_another_program_is_cached() {
        let mut cache = StampCache::default();
        let line = b"Nov 22 00:00:01 web1 kernel: [590831.718391] [UFW BLOCK] IN=eth0";
        assert_eq!(split_cached(line, &mut cache), Err(Skip::OtherProgram));
        let next = b"Nov 22 00:00:01 web1 kernel: [590832.1] x";
        assert!(matches!(quick(next, &mut cache), Some(Hit::Other)));
        assert!(quick(b"Nov 22 00:00:01 web1 kernel:", &mut cache).is_none());
        assert!(quick(b"Nov 22 00:00:01 web1 kernel:x", &mut cache).is_none());
        let mut cache = StampCache::default();
        let _ = split_cached(b"Nov 22 00:00:01 web1 local0.info: x", &mut cache);
        assert!(quick(b"Nov 22 00:00:01 web1 local0.info: x", &mut cache).is_none());
    }

    /// Issue #15: `transpose` swaps the `k`th of 16 nibbles with the one
    /// before it, and keeps a permutation one.
    #[test]
    fn transpose_swaps_a_nibble_with_the_one_before() {
        let mut next = rng();
        let mut order = StampCache::default().order;
        for _ in 0..100_000 {
            let k = (next() % 15 + 1) as usize;
            let mut want: Vec<u64> = (0..16).map(|i| (order >> (4 * i)) & 0xf).collect();
            want.swap(k - 1, k);
            order = transpose(order, k);
            let got: Vec<u64> = (0..16).map(|i| (order >> (4 * i)) & 0xf).collect();
            assert_eq!(got, want);
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..16).collect::<Vec<u64>>());
        }
    }

    /// Issue #15: generated lines through one cache, one after another, split
    /// as `split` splits each alone, and `split_hosted` with the cache's host.
    #[test]
    fn cached_split_of_generated_lines_is_split() {
        let stamps: &[&[u8]] = &[
            b"Nov 22 00:00:01",
            b"Nov 22 00:00:01",
            b"Nov 22 00:00:02",
            b"Nov 22 00:00:59",
            b"Nov 22 00:00:60",
            b"Nov 22 00:00:61",
            b"Nov 22 00:00:99",
            b"Nov 22 00:00:0a",
            b"Nov 22 00:00:\xff0",
            b"Nov 22 00:01:00",
            b"Nov 22 00:01:00.25",
            b"Nov 22 00:01:01.25",
            b"Nov 22 00:01:01,5",
            b"Nov 22 23:59:30",
            b"Nov  2 00:00:01",
            b"Nov 2 00:00:01",
            b"Nov 2 00:00:02",
            b"Nov 2 00:00:59",
            b"Nov 22 00:00:1",
            b"Nov 22 00:00:01.5",
            // Other minutes, parsed and cached on the quick path (`restamp`),
            // and what is not cached there.
            b"Nov 22 00:02:00",
            b"Nov 22 01:02:03",
            b"Dec 31 23:59:59",
            b"Jan  1 00:00:00",
            b"nov 22 00:00:01",
            b"Nov 22 0:00:01",
            b"Nov 22 00:00:01 2024",
            b"2024-01-02T03:04:05Z",
            b"",
        ];
        let seps: &[&[u8]] = &[b" ", b" ", b" ", b"  ", b"\t", b""];
        let hosts: &[&[u8]] = &[
            b"web1",
            b"web1",
            b"bastion",
            b"a-very-long-host-name-indeed",
            b"h",
            b"web\xff",
            b"w\xc3\xa9b",
            b"auth.info",
            b"web1:",
            b"<10.5> web1",
            b"web1[1]:",
            b"",
        ];
        let programs: &[&[u8]] = &[
            b"sshd",
            b"sshd",
            b"sshd-session",
            b"CRON",
            b"kernel:",
            b"[sshd]",
            b"fail2ban.actions",
            b"sshd(pam_unix)",
            b"dropbear",
            b"sshd-sessionx",
            b"",
        ];
        let pids: &[&[u8]] = &[
            b"[1]",
            b"[3073]",
            b"[53580]",
            b"[1234567]",
            b"[4294967295]",
            b"[4294967296]",
            b"[99999999999]",
            b"[]",
            b"[12a]",
            b"",
        ];
        let colons: &[&[u8]] = &[
            b": ",
            b": ",
            b":",
            b"",
            b" ",
            b":\t",
            b": [ID 800047 auth.info] ",
        ];
        let msgs: &[&[u8]] = &[
            b"Invalid user admin from 150.203.168.160 port 47917",
            b"Failed password for root from 192.0.2.1 port 22 ssh2",
            b"x",
            b"",
            b" trailing  \r",
            b"\xff\xfe",
        ];
        let mut next = rng();
        let mut pick = |set: &[&'static [u8]]| set[(next() % set.len() as u64) as usize];
        let mut cached = StampCache::default();
        let mut hosted = StampCache::default();
        let mut quicked = StampCache::default();
        let mut hits = 0;
        let mut quick_hits = 0;
        for _ in 0..100_000 {
            let mut line = Vec::new();
            // Most lines as a log writes them (the cached heads' case), the
            // rest pieced together at random.
            let parts = if pick(&[b"", b"", b"", b"x"]).is_empty() {
                [
                    pick(&stamps[..4]),
                    b" ",
                    pick(&hosts[..4]),
                    b" ",
                    pick(&programs[..4]),
                    pick(&pids[..3]),
                    b": ",
                    pick(msgs),
                ]
            } else {
                [
                    pick(stamps),
                    pick(seps),
                    pick(hosts),
                    pick(seps),
                    pick(programs),
                    pick(pids),
                    pick(colons),
                    pick(msgs),
                ]
            };
            for part in parts {
                line.extend_from_slice(part);
            }
            let want = split(&line);
            let shown = String::from_utf8_lossy(&line);
            assert_eq!(split_cached(&line, &mut cached), want, "{shown}");
            let mut got = split_hosted(&line, &mut hosted);
            if let Ok(env) = &mut got {
                if let Some(h) = hosted.head_host(|h: &str| Arc::from(h)) {
                    hits += 1;
                    assert_eq!(env.host, None, "{shown}");
                    env.host = Some(Cow::Owned(h.to_string()));
                }
            }
            assert_eq!(got, want, "{shown}");
            // `quick` first, as a block's parse does, the general path after
            // it where it gives nothing, with one cache.
            let got = match quick(&line, &mut quicked) {
                Some(Hit::Ours(q)) => {
                    quick_hits += 1;
                    let h = quicked.quick_host(|h: &str| Arc::from(h));
                    Ok(Envelope {
                        stamp: quicked.quick_stamp(),
                        host: Some(Cow::Owned(h.to_string())),
                        program: Some(q.program),
                        pid: Some(q.pid),
                        msg: Cow::Borrowed(q.msg),
                    })
                }
                Some(Hit::Other) => Err(Skip::OtherProgram),
                None => split_cached(&line, &mut quicked),
            };
            assert_eq!(got, want, "{shown}");
        }
        // The cached heads did serve lines.
        assert!(hits > 1000, "{hits}");
        assert!(quick_hits > 1000, "{quick_hits}");
    }

    /// Issue #15: an empty head's tag fits a line that goes on with 16
    /// bytes `0xff` after its stamp ([`Tag::default`]); such lines are
    /// split as [`split`] splits them, by [`split_cached`] and [`quick`],
    /// with no head cached or a few.
    #[test]
    fn lines_an_empty_head_fits_are_split() {
        let warm: &[&[u8]] = &[
            b"Nov 22 00:00:01 web1 sshd[1]: x",
            b"Nov 22 00:00:01 bastion CRON[2]: y",
            b"Nov 22 00:00:01 h kernel: z",
        ];
        let tails: &[&[u8]] = &[
            b"",
            b" sshd[1]: x",
            b"sshd[1]: x",
            b"1]: x",
            b"[1]: x",
            b"123]: x",
            b": x",
        ];
        for heads in 0..=warm.len() {
            for tail in tails {
                for ff in [15, 16, 17, 40] {
                    let mut cache = StampCache::default();
                    for w in &warm[..heads] {
                        assert_ne!(split_cached(w, &mut cache), Err(Skip::Malformed));
                    }
                    let mut line = b"Nov 22 00:00:01 ".to_vec();
                    line.resize(line.len() + ff, 0xff);
                    line.extend_from_slice(tail);
                    let want = split(&line);
                    let shown = String::from_utf8_lossy(&line);
                    assert_eq!(split_cached(&line, &mut cache.clone()), want, "{shown}");
                    match quick(&line, &mut cache) {
                        None => {}
                        Some(Hit::Other) => assert_eq!(want, Err(Skip::OtherProgram), "{shown}"),
                        Some(Hit::Ours(q)) => {
                            let env = want.unwrap();
                            assert_eq!(
                                (env.program, env.pid, &*env.msg),
                                (Some(q.program), Some(q.pid), q.msg),
                                "{shown}"
                            );
                        }
                    }
                }
            }
        }
    }

    fn ok(line: &str) -> Envelope<'_> {
        split(line.as_bytes()).unwrap_or_else(|e| panic!("{line}: {e:?}"))
    }

    fn civil(month: u8, day: u8, h: u32, m: u32, s: u32) -> Stamp {
        Stamp::Civil {
            year: None,
            month,
            day,
            sod: h * 3600 + m * 60 + s,
            micros: 0,
        }
    }

    #[test]
    fn rfc3164_variants() {
        let e = ok("Jun  6 04:17:04 host sshd[1189074]: Failed password for root");
        assert_eq!(e.stamp, civil(6, 6, 4, 17, 4));
        assert_eq!(e.host.as_deref(), Some("host"));
        assert_eq!(e.program, Some(Program::Sshd));
        assert_eq!(e.pid, Some(1_189_074));
        assert_eq!(&*e.msg, b"Failed password for root");
        assert_eq!(
            ok("Feb 7 16:01:07 linux-m899 sshd[5106]: x").stamp,
            civil(2, 7, 16, 1, 7)
        );
        assert_eq!(
            ok("Jul 05 18:22:44 mercury sshd[4669]: x").stamp,
            civil(7, 5, 18, 22, 44)
        );
        let e = ok("Nov 23 21:50:37 sshd[8148]: Connection closed");
        assert_eq!((e.host, e.pid), (None, Some(8148)));
        let e = ok("Feb 22 10:21:43  sshd[1332]: last message repeated 2 times");
        assert_eq!(&*e.msg, b"last message repeated 2 times");
        let e = ok("Mar  3 00:17:22 [sshd]: User root from");
        assert_eq!((e.program, e.pid), (Some(Program::Sshd), None));
        let e = ok("Jul  3 14:59:17 host sshd-session[1571]: Failed");
        assert_eq!(e.program, Some(Program::SshdSession));
        let e = ok("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure;");
        assert_eq!(e.program, Some(Program::SshdPamUnix));
        assert_eq!(
            split(b"Jun 14 15:16:01 combo sudo[1]: x"),
            Err(Skip::OtherProgram)
        );
        assert_eq!(
            split(b"Jun 14 15:16:01 combo CRON[1]: x"),
            Err(Skip::OtherProgram)
        );
    }

    #[test]
    fn freebsd_busybox_solaris_pri() {
        let e = ok("Jan  1 00:00:00 <10.5> foxtrot sshd[1234]: Invalid");
        assert_eq!(
            (e.host.as_deref(), &*e.msg),
            (Some("foxtrot"), &b"Invalid"[..])
        );
        let e = ok("Jun 20 02:18:39 vps auth.info sshd[13482]: Invalid");
        assert_eq!(e.host.as_deref(), Some("vps"));
        let e = ok("Mar 29 05:59:23 dusky sshd[20878]: [ID 800047 auth.info] Failed keyboard");
        assert_eq!(&*e.msg, b"Failed keyboard");
        let e = ok("<38>Nov  3 07:41:35 vm sshd[42]: Accepted");
        assert_eq!((e.host.as_deref(), e.pid), (Some("vm"), Some(42)));
    }

    #[test]
    fn rfc3339_and_journalctl_forms() {
        let e = ok("2023-11-14T00:20:42.738197+01:00 myserver sshd[1112652]: User root");
        let Stamp::Abs { micros, offset } = e.stamp else {
            panic!()
        };
        assert_eq!(offset, 3600);
        assert_eq!(
            crate::event::Ts::from_micros(micros, offset).to_rfc3339(),
            "2023-11-14T00:20:42.738197+01:00"
        );
        let e = ok("2020-05-29T11:28:56.058908+02:00 bastion sshd[20974] error: PAM: x");
        assert_eq!(&*e.msg, b"error: PAM: x");
        let e = ok("2024-01-02T03:04:05+0000 host sshd[1]: m");
        assert!(matches!(e.stamp, Stamp::Abs { offset: 0, .. }));
        let e = ok("Jan 02 03:04:05.123456 host sshd[1]: m");
        assert!(matches!(
            e.stamp,
            Stamp::Civil {
                micros: 123_456,
                ..
            }
        ));
        let e = ok("Tue 2024-01-02 03:04:05 UTC host sshd[1]: m");
        assert!(matches!(e.stamp, Stamp::Abs { offset: 0, .. }));
        assert_eq!(e.host.as_deref(), Some("host"));
        let e = ok("1704164645.123456 host sshd[1]: m");
        assert_eq!(
            e.stamp,
            Stamp::Abs {
                micros: 1_704_164_645_123_456,
                offset: 0
            }
        );
    }

    #[test]
    fn macos_s6_socklog_bare() {
        let e = ok("2020-03-23 06:47:42.801612-0700  localhost sshd[3186]: m");
        assert!(matches!(e.stamp, Stamp::Abs { offset: -25200, .. }));
        assert_eq!(e.host.as_deref(), Some("localhost"));
        let e = ok("2018-06-26 13:22:02.108781500 Failed password for woold from 10.10.10.76 port 34718 ssh2");
        assert_eq!(e.program, None);
        assert!(matches!(
            e.stamp,
            Stamp::Civil {
                year: Some(2018),
                micros: 108_781,
                ..
            }
        ));
        assert!(e.msg.starts_with(b"Failed password"));
        let e =
            ok("2015-05-27T04:31:28.10040 auth.info: May 27 04:31:28 sshd[30993]: Invalid user x");
        assert_eq!(
            (e.program, &*e.msg),
            (Some(Program::Sshd), &b"Invalid user x"[..])
        );
        let e = ok("2015-05-27T04:31:28.10040 auth.info: sshd[30993]:  Invalid user x");
        assert_eq!(&*e.msg, b" Invalid user x");
        let e = ok("Invalid user user from 203.0.113.5 port 53821\r");
        assert_eq!((e.program, e.stamp), (None, Stamp::None));
        assert_eq!(&*e.msg, b"Invalid user user from 203.0.113.5 port 53821");
    }

    /// A journal message printed with its host and no time (`srv sshd[1]: …`).
    #[test]
    fn host_and_program_without_timestamp() {
        let e = ok("srv sshd[13709]: error: PAM: Authentication failure for x from 192.0.2.6");
        assert_eq!(
            (e.stamp, e.host.as_deref(), e.program, e.pid),
            (Stamp::None, Some("srv"), Some(Program::Sshd), Some(13709))
        );
        assert!(e.msg.starts_with(b"error: PAM"));
        // Bare `sshd -e` lines stay bare, whatever their second word.
        for line in [
            "Failed password for a[1]: from 192.0.2.1 port 1 ssh2",
            "Failed p[1]: for a from 192.0.2.1 port 1 ssh2",
            "Failed sshd[1]: for a from 192.0.2.1 port 1 ssh2",
            "error: kex_exchange_identification: Connection closed by remote host",
        ] {
            let e = ok(line);
            assert_eq!((e.program, &*e.msg), (None, line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn rfc5424() {
        let e = ok("<38>1 2019-07-08T17:40:16.954167-04:00 hostname.example.com sshd 57915 - - Failed unknown");
        assert_eq!(
            (e.host.as_deref(), e.pid),
            (Some("hostname.example.com"), Some(57915))
        );
        assert_eq!(&*e.msg, b"Failed unknown");
        let e = ok(
            r#"<38>1 2019-07-08T17:40:16Z h sshd 1 - [timeQuality tzKnown="1"][x@1 t="[a\]b]"] Bye"#,
        );
        assert_eq!(&*e.msg, b"Bye");
        let e = ok(r#"<38>1 2019-07-08T17:40:16Z h sshd 44255 - [meta sequenceId="1"] Bye"#);
        assert_eq!(&*e.msg, b"Bye");
        assert_eq!(
            split(b"<38>1 2019-07-08T17:40:16Z h cron 1 - - x"),
            Err(Skip::OtherProgram)
        );
    }

    #[test]
    fn fail2ban_native_log() {
        let e =
            ok("2006-02-13 15:52:30,388 fail2ban.actions        [123]: NOTICE  [sshd] Ban 1.2.3.4");
        assert_eq!(e.program, Some(Program::Fail2ban));
        assert!(matches!(
            e.stamp,
            Stamp::Civil {
                year: Some(2006),
                micros: 388_000,
                ..
            }
        ));
        assert!(e.msg.ends_with(b"Ban 1.2.3.4"));
    }

    #[test]
    fn journald_json_and_byte_array_message() {
        let line = r#"{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"deb","SYSLOG_IDENTIFIER":"sshd-session","_COMM":"sshd-session","_PID":"77","MESSAGE":"Invalid user bob from 192.0.2.1 port 4"}"#;
        let e = ok(line);
        assert_eq!(
            e.stamp,
            Stamp::Abs {
                micros: 1_700_000_000_123_456,
                offset: 0
            }
        );
        assert_eq!(
            (e.program, e.pid, e.host.as_deref()),
            (Some(Program::SshdSession), Some(77), Some("deb"))
        );
        let line = r#"{"SYSLOG_IDENTIFIER":"sshd","_COMM":"sshd","MESSAGE":[73,110,118,255]}"#;
        assert_eq!(&*ok(line).msg, b"Inv\xff");
        let forged = r#"{"SYSLOG_IDENTIFIER":"sshd","_COMM":"logger","MESSAGE":"Accepted password for x from 1.2.3.4 port 1 ssh2"}"#;
        assert_eq!(split(forged.as_bytes()), Err(Skip::OtherProgram));
        let docker = r#"{"log":"Invalid user user from 203.0.113.5 port 53821\r\n","stream":"stderr","time":"2021-01-27T16:39:25.123Z"}"#;
        let e = ok(docker);
        assert!(matches!(e.stamp, Stamp::Abs { offset: 0, .. }));
        assert_eq!(&*e.msg, b"Invalid user user from 203.0.113.5 port 53821");
    }
}
