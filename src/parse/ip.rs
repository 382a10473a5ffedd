//! Addresses as sshd writes them, made canonical.
//!
//! `::ffff:1.2.3.4` becomes `1.2.3.4`, IPv6 zone ids (`fe80::1%eth0`) and
//! brackets are dropped, and leading-zero IPv4 (`192.030.0.6`, seen in fail2ban's
//! tests) is read as decimal rather than rejected.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Parses an IPv4 or IPv6 address token; `None` for host names and garbage.
pub fn parse_ip(s: &[u8]) -> Option<IpAddr> {
    let s = s
        .strip_prefix(b"[")
        .and_then(|x| x.strip_suffix(b"]"))
        .unwrap_or(s);
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    if let Some(v4) = parse_v4(s) {
        return Some(IpAddr::V4(v4));
    }
    // Hex groups up to an optional zone: nearly every IPv6 address, in one
    // pass (issue #15).
    if let Some(v6) = parse_v6_hex(s) {
        return Some(IpAddr::V6(v6).to_canonical());
    }
    // Else only an IPv4 tail (`::ffff:1.2.3.4`) makes an address, for the
    // standard parser: a `:` and a `.` before the zone id (`%`), which is
    // dropped. One pass for the three.
    let (mut colon, mut dot, mut end) = (false, false, s.len());
    for (i, &b) in s.iter().enumerate() {
        match b {
            b':' => colon = true,
            b'.' => dot = true,
            b'%' => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    if !(colon && dot) {
        return None;
    }
    let v6: Ipv6Addr = std::str::from_utf8(&s[..end]).ok()?.parse().ok()?;
    Some(IpAddr::V6(v6).to_canonical())
}

/// IPv6 of hex groups only (no IPv4 tail), accepting exactly what
/// `Ipv6Addr::from_str` accepts for such text, in a tenth of its
/// instructions (issue #15): 1–4 hex digits a group, eight of them or
/// fewer around one `::` that stands for at least one zero group. A `%`
/// ends the text (the zone id that follows is dropped).
fn parse_v6_hex(s: &[u8]) -> Option<Ipv6Addr> {
    // One pass, group by group (issue #15: splitting at `::` with a searcher
    // built per call, then at each `:`, took ~800 instructions an address).
    let mut groups = [0u16; 8];
    let mut n = 0;
    // Where `::` stands, as a count of the groups before it.
    let mut gap = None;
    let mut i = 0;
    if s.starts_with(b"::") {
        gap = Some(0);
        i = 2;
    }
    // The hex value of `s[j]`; 16 for another byte or past the end.
    let hex = |j: usize| s.get(j).map_or(16, |&b| HEX[usize::from(b)]);
    while i < s.len() && s[i] != b'%' {
        // A group's digits unrolled (at most four: a fifth refuses the
        // text), where a loop counted them (issue #15).
        let d0 = hex(i);
        if d0 > 15 || n == 8 {
            return None;
        }
        let mut v = u16::from(d0);
        i += 1;
        let d1 = hex(i);
        if d1 < 16 {
            v = v << 4 | u16::from(d1);
            i += 1;
            let d2 = hex(i);
            if d2 < 16 {
                v = v << 4 | u16::from(d2);
                i += 1;
                let d3 = hex(i);
                if d3 < 16 {
                    v = v << 4 | u16::from(d3);
                    i += 1;
                    if hex(i) < 16 {
                        return None;
                    }
                }
            }
        }
        groups[n] = v;
        n += 1;
        match &s[i..] {
            [] | [b'%', ..] => break,
            [b':', b':', ..] if gap.is_none() => {
                gap = Some(n);
                i += 2;
            }
            // A group must follow a single `:`.
            [b':', next, ..] if *next != b'%' => i += 1,
            _ => return None,
        }
    }
    match gap {
        None if n == 8 => {}
        // `::` stands for one zero group at least.
        // The groups after the gap moved to the end, the words as one
        // number (group k in bits 16k..): two shifts where `copy_within` and
        // `fill` called memmove and memset (issue #15).
        Some(g) if n < 8 => {
            let m = n - g;
            if m > 0 {
                let all = groups
                    .iter()
                    .rev()
                    .fold(0u128, |a, &x| a << 16 | u128::from(x));
                let before = all & ((1u128 << (16 * g)) - 1);
                let after = (all >> (16 * g)) << (16 * (8 - m));
                let v = before | after;
                for (k, x) in groups.iter_mut().enumerate() {
                    *x = (v >> (16 * k)) as u16;
                }
            }
        }
        _ => return None,
    }
    Some(Ipv6Addr::from(groups))
}

/// Each byte's hex digit value, 16 for the others: a table look-up instead
/// of three range tests (issue #15; with the groups moved by shifts in
/// `parse_v6_hex`, an IPv6 address at the end of a line went from ~640 to
/// ~580 instructions).
static HEX: [u8; 256] = {
    let mut t = [16u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Dotted decimal, 1–3 digits an octet (leading zeros read as decimal).
fn parse_v4(s: &[u8]) -> Option<Ipv4Addr> {
    // `1.2.3.4` to `255.255.255.255`.
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    v4_prefix(s).and_then(|(ip, n)| (n == s.len()).then_some(ip))
}

/// A text shorter than 16 bytes, zeros after it, as a 16-byte window;
/// `None` when it is shorter than the shortest address (`1.2.3.4`). A zero
/// is no digit and no dot: it ends an address as the end of the text does.
/// Read by two overlapping loads (their common bytes are the same), not
/// copied byte by byte (issue #15).
#[inline(always)]
fn head_window(s: &[u8]) -> Option<[u8; 16]> {
    let n = s.len();
    debug_assert!(n < 16);
    let v = if n >= 8 {
        let lo = u64::from_le_bytes(s[..8].try_into().unwrap());
        let hi = u64::from_le_bytes(s[n - 8..].try_into().unwrap());
        u128::from(lo) | u128::from(hi) << (8 * (n - 8))
    } else if n == 7 {
        let lo = u32::from_le_bytes(s[..4].try_into().unwrap());
        let hi = u32::from_le_bytes(s[3..].try_into().unwrap());
        u128::from(lo) | u128::from(hi) << 24
    } else {
        return None;
    };
    Some(v.to_le_bytes())
}

/// [`head_window`] from the other end: zeros before the text (window byte
/// `j` is `s[s.len() + j - 16]`).
#[inline(always)]
fn tail_window(s: &[u8]) -> Option<[u8; 16]> {
    let n = s.len();
    debug_assert!(n < 16);
    let v = if n >= 8 {
        let lo = u64::from_le_bytes(s[..8].try_into().unwrap());
        let hi = u64::from_le_bytes(s[n - 8..].try_into().unwrap());
        u128::from(lo) << (8 * (16 - n)) | u128::from(hi) << 64
    } else if n == 7 {
        let lo = u32::from_le_bytes(s[..4].try_into().unwrap());
        let hi = u32::from_le_bytes(s[3..].try_into().unwrap());
        (u128::from(lo) | u128::from(hi) << 24) << 72
    } else {
        return None;
    };
    Some(v.to_le_bytes())
}

/// Dotted decimal at the start of `s`, read in place: the address and the
/// bytes it takes. Octets take up to three digits, so `1.2.3.4567` reads
/// `1.2.3.456` (None: past 255) and `1.2.3.2555` reads `1.2.3.255`: the caller
/// checks that its delimiter follows, and then the token is exactly what
/// [`parse_ip`] reads as this address.
///
/// Read in a window of 16 bytes, the first ones of `s` or a copy of a
/// shorter text ([`head_window`]), where every index is in bounds: a
/// bounds check a byte and a function call made it ~140 instructions an
/// address (issue #15).
#[inline(always)]
pub fn v4_prefix(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    match s.first_chunk::<16>() {
        Some(w) => v4_in_head(w),
        None => v4_in_head(&head_window(s)?),
    }
}

/// [`v4_prefix`] in its window.
#[inline(always)]
fn v4_in_head(w: &[u8; 16]) -> Option<(Ipv4Addr, usize)> {
    // Four octets and three dots take 15 bytes at most, and a reader looks
    // at most one byte past an octet: every index below is in 0..15, and
    // the masks only tell the compiler so.
    let dot = |i: usize| w[i & 15] == b'.';
    let (a, i) = octet_from(w, 0)?;
    if !dot(i) {
        return None;
    }
    let (b, i) = octet_from(w, i + 1)?;
    if !dot(i) {
        return None;
    }
    let (c, i) = octet_from(w, i + 1)?;
    if !dot(i) {
        return None;
    }
    let (d, i) = octet_from(w, i + 1)?;
    Some((Ipv4Addr::new(a, b, c, d), i))
}

/// Dotted decimal at the end of `s`, read from the right: where it starts
/// and the address. As [`v4_prefix`], the caller checks the byte before it
/// (the readers of `… <ip> port <n>` anchor on the right end of the message).
///
/// Read in a window of the last 16 bytes, which holds any address with the
/// byte before it, so that no index needs a bounds check (issue #15: ~30
/// instructions less an address). A text shorter than 16 bytes (the address
/// alone of `Connection closed by <ip> port <n>`) is read in a copy
/// ([`tail_window`]), where the byte reader took it.
#[inline(always)]
pub fn v4_suffix(s: &[u8]) -> Option<(usize, Ipv4Addr)> {
    // The window is read in place when it can be: a copy of it cost ~10
    // instructions an address.
    let (i, ip) = match s.last_chunk::<16>() {
        Some(w) => v4_in_tail_seen(w)?,
        None => v4_in_tail(&tail_window(s)?)?,
    };
    // The address lies in `s`, not in the zeros before it: `i` is at least
    // `16 - s.len()`.
    Some((s.len() + i - 16, ip))
}

/// Windows that [`v4_in_tail_seen`] remembers, per thread.
const SEEN: usize = 256;

thread_local! {
    /// Windows that [`v4_in_tail`] read and what it read in them (the start
    /// in its high half and the address in its low one, or `u64::MAX` for
    /// none), each at the place a hash of its window gives; at first the
    /// window of zero bytes, which holds no address.
    static V4_SEEN: [Cell<(u128, u64)>; SEEN] =
        const { [const { Cell::new((0, u64::MAX)) }; SEEN] };
}

/// [`v4_in_tail`], remembered: a log names the same addresses over and
/// over (a brute force sends line after line from one address), and the
/// window is all that the reading depends on, so a window read before is
/// answered from what it gave, one hash and a compare where reading it
/// took ~100 instructions (issue #15). The key is the window from its last
/// space on ([`from_last_space`]): the same address after other words
/// (`… for root from <ip>`, `Connection closed by <ip>`) is one key, and
/// about five addresses in six of the bench log are answered so with 256
/// keys a thread, where whole windows were two in three.
#[inline(always)]
pub fn v4_in_tail_seen(w: &[u8; 16]) -> Option<(usize, Ipv4Addr)> {
    let v = v4_seen(w);
    (v != u64::MAX).then(|| ((v >> 32) as usize, Ipv4Addr::from(v as u32)))
}

/// [`v4_in_tail_seen`] as one word: the start in its high half and the
/// address in its low one, or `u64::MAX` for none.
///
/// Not inlined: inlined into `classify`'s large reader, the thread-local
/// access stayed a call of the library's accessor (~24 instructions a
/// look-up, issue #15); in a function of its own it is inlined, two
/// instructions.
#[inline(never)]
fn v4_seen(w: &[u8; 16]) -> u64 {
    let key = from_last_space(w);
    // Fibonacci hashing of the window's two halves: the top bits of the
    // product, one per place.
    let mixed = (key as u64 ^ (key >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let at = (mixed >> (64 - SEEN.trailing_zeros())) as usize;
    let slot: *const Cell<(u128, u64)> = V4_SEEN.with(|seen| &seen[at] as *const _);
    // SAFETY: a place in this thread's table, which lives as long as the
    // thread; nothing else borrows it while this runs.
    let slot = unsafe { &*slot };
    let (k, v) = slot.get();
    if k == key {
        return v;
    }
    let v = match v4_in_tail(&key.to_le_bytes()) {
        Some((i, ip)) => (i as u64) << 32 | u64::from(u32::from(ip)),
        None => u64::MAX,
    };
    slot.set((key, v));
    v
}

/// The window `w` with its bytes before its last space zeroed (all of it
/// when it holds none): what [`v4_in_tail`] reads of it, which gives the
/// same on both. It reads from the right end only digits and dots and the
/// one byte before them, so never a byte before a space; and the zeros
/// keep a space, so that the zeroed window is its own key.
#[inline(always)]
fn from_last_space(w: &[u8; 16]) -> u128 {
    let (lo, hi) = w.split_at(8);
    let mut lo = u64::from_le_bytes(lo.try_into().unwrap());
    let mut hi = u64::from_le_bytes(hi.try_into().unwrap());
    let m = spaces(w);
    if m != 0 {
        // The halves apart, not the shift of a `u128` (~6 instructions
        // less): the space is in the low half for addresses of eight bytes
        // or more, nearly all of them.
        let at = 15 - m.leading_zeros();
        if at < 8 {
            lo &= !0 << (8 * at);
        } else {
            lo = 0;
            hi &= !0 << (8 * (at - 8));
        }
    }
    u128::from(lo) | u128::from(hi) << 64
}

/// The spaces of `w`, bit `i` for byte `i`: an SSE2 compare and its mask,
/// where a loop took ~40 instructions.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub fn spaces(w: &[u8; 16]) -> u16 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of x86_64 itself, always there; the unaligned
    // load reads the 16 bytes of `w`.
    let bits = unsafe {
        let v = _mm_loadu_si128(w.as_ptr().cast::<__m128i>());
        _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)))
    };
    bits as u16
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
pub fn spaces(w: &[u8; 16]) -> u16 {
    w.iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | u16::from(b == b' ') << i)
}

/// Windows that [`v6_suffix_seen`] remembers, per thread.
const SEEN6: usize = 64;

/// A window of [`v6_suffix_seen`] and what [`v6_suffix`] read in a text
/// with it: the address, and how many bytes it takes at the end.
#[derive(Clone, Copy)]
struct Seen6 {
    window: [u64; 4],
    addr: u128,
    /// 0 for a place that holds nothing yet (an address takes two bytes
    /// at least).
    len: u8,
}

thread_local! {
    static V6_SEEN: [Cell<Seen6>; SEEN6] = const {
        [const {
            Cell::new(Seen6 {
                window: [0; 4],
                addr: 0,
                len: 0,
            })
        }; SEEN6]
    };
}

/// [`v6_suffix`], remembered as [`v4_suffix`]'s windows are: a brute force
/// from an IPv6 address sends line after line from it, and reading one took
/// ~300 instructions (issue #15).
///
/// The key is [`v6_window`]: the last 32 bytes of `s` with zeros for those
/// up to its last space. [`v6_suffix`] reads the address and the byte before
/// it, and stops at the first byte that is neither a hex digit nor a colon,
/// as a space and a zero both are: when the address and the byte before it
/// lie in the window, it reads in `s` what it reads in the key, in every
/// text with that key. Only such results are remembered (an address of
/// 31 bytes at most); a text without an address is read each time.
pub fn v6_suffix_seen(s: &[u8]) -> Option<(usize, Ipv6Addr)> {
    let window = v6_window(s);
    let mixed = (window[0] ^ window[1] ^ window[2] ^ window[3]).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let at = (mixed >> (64 - SEEN6.trailing_zeros())) as usize;
    let slot: *const Cell<Seen6> = V6_SEEN.with(|seen| &seen[at] as *const _);
    // SAFETY: a place in this thread's table, which lives as long as the
    // thread; nothing else borrows it while this runs.
    let slot = unsafe { &*slot };
    let seen = slot.get();
    if seen.len != 0 && seen.window == window {
        // The key holds the address at its end, so `s` does.
        return Some((s.len() - usize::from(seen.len), Ipv6Addr::from(seen.addr)));
    }
    let found = v6_suffix(s);
    if let Some((at, addr)) = found {
        let len = s.len() - at;
        if len < 32 {
            slot.set(Seen6 {
                window,
                addr: u128::from(addr),
                len: len as u8,
            });
        }
    }
    found
}

/// The key of [`v6_suffix_seen`]: the last 32 bytes of `s` as four words
/// (zeros before a shorter text), and zeros for the bytes up to the last
/// space in them.
#[inline(always)]
fn v6_window(s: &[u8]) -> [u64; 4] {
    let word = |b: &[u8], k: usize| u64::from_le_bytes(b[8 * k..8 * k + 8].try_into().unwrap());
    let mut w = match s.last_chunk::<32>() {
        Some(b) => [word(b, 0), word(b, 1), word(b, 2), word(b, 3)],
        None => {
            let mut b = [0u8; 32];
            b[32 - s.len()..].copy_from_slice(s);
            [word(&b, 0), word(&b, 1), word(&b, 2), word(&b, 3)]
        }
    };
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const SPACES: u64 = 0x2020_2020_2020_2020;
    // The bits to clear, from the start of the window: those of the bytes
    // up to the last space.
    let mut cut = 0;
    for k in (0..4).rev() {
        let x = w[k] ^ SPACES;
        // The high bit of each byte that is a space (exact: the additions
        // stay inside each byte).
        let spaces = !(((x & !HIGH) + !HIGH) | x) & HIGH;
        if spaces != 0 {
            cut = 64 * k as u32 + 64 - spaces.leading_zeros();
            break;
        }
    }
    // Word by word, where clearing the words below with `fill` called memset.
    for (k, x) in w.iter_mut().enumerate() {
        *x &= match cut.saturating_sub(64 * k as u32) {
            0 => u64::MAX,
            c if c >= 64 => 0,
            c => u64::MAX << c,
        };
    }
    w
}

/// [`v4_suffix`] in its window: where the address starts in it.
#[inline(always)]
fn v4_in_tail(w: &[u8; 16]) -> Option<(usize, Ipv4Addr)> {
    // Four octets and three dots take 15 bytes at most: every index below
    // is in 1..16, and the masks only tell the compiler so.
    let dot = |i: usize| w[i.wrapping_sub(1) & 15] == b'.';
    let (dd, i) = octet_to(w, 16)?;
    if !dot(i) {
        return None;
    }
    let (c, i) = octet_to(w, i - 1)?;
    if !dot(i) {
        return None;
    }
    let (b, i) = octet_to(w, i - 1)?;
    if !dot(i) {
        return None;
    }
    let (a, i) = octet_to(w, i - 1)?;
    Some((i, Ipv4Addr::new(a, b, c, dd)))
}

/// The octet of 1–3 digits starting at `w[i]`, `i` in 0..=12 (as many as
/// there are, up to three) and where it ends; `None` for no digit or a
/// value past 255.
#[inline(always)]
fn octet_from(w: &[u8; 16], i: usize) -> Option<(u8, usize)> {
    let d = |n: usize| w[(i + n) & 15].wrapping_sub(b'0');
    let d0 = d(0);
    if d0 > 9 {
        return None;
    }
    let d1 = d(1);
    if d1 > 9 {
        return Some((d0, i + 1));
    }
    let d2 = d(2);
    if d2 > 9 {
        return Some((d0 * 10 + d1, i + 2));
    }
    let v = u32::from(d0) * 100 + u32::from(d1) * 10 + u32::from(d2);
    Some((u8::try_from(v).ok()?, i + 3))
}

/// The octet of 1–3 digits ending at `w[end - 1]`, `end` in 4..=16 (as many
/// as there are, up to three) and where it starts; `None` for no digit or a
/// value past 255.
#[inline(always)]
fn octet_to(w: &[u8; 16], end: usize) -> Option<(u8, usize)> {
    let d = |n: usize| w[end.wrapping_sub(n) & 15].wrapping_sub(b'0');
    let d0 = d(1);
    if d0 > 9 {
        return None;
    }
    let d1 = d(2);
    if d1 > 9 {
        return Some((d0, end - 1));
    }
    let d2 = d(3);
    if d2 > 9 {
        return Some((d1 * 10 + d0, end - 2));
    }
    let v = u32::from(d2) * 100 + u32::from(d1) * 10 + u32::from(d0);
    Some((u8::try_from(v).ok()?, end - 3))
}

/// Hex-only IPv6 ([`parse_v6_hex`]'s language without a zone) ending `s`,
/// read from the right: where it starts and the address. The address is
/// the whole run of hex digits and colons that ends `s`: the byte before
/// it, if any, is neither, and the caller checks it (the readers of `…
/// <ip> port <n>` anchor on the right end of the message). `None` also for
/// a run that is no such address, which the general reader then reads.
///
/// One pass from the right, the groups shifted in from the top of a word:
/// finding the word's start with `memrchr`, then the standard reader's
/// steps, took ~550 instructions an address (issue #15).
pub fn v6_suffix(s: &[u8]) -> Option<(usize, Ipv6Addr)> {
    let hex = |b: u8| u32::from(HEX[usize::from(b)]);
    // Whether the address starts where `t` ends: `t` is empty, or its last
    // byte is neither a hex digit nor a colon.
    let starts = |t: &[u8]| t.last().is_none_or(|&b| b != b':' && hex(b) > 15);
    // The groups read since the `::` (or all of them), the last read at the
    // top; the groups after the `::`, at the bottom, once it is read.
    let mut acc = 0u128;
    let mut after_gap = 0u128;
    let mut gap = false;
    let mut n = 0;
    // What is left of `s`, read from its end: slice patterns, where indices
    // each took a bounds check (~410 -> ~290 instructions an address).
    let mut t = s;
    // `::` ends the address.
    if let [rest @ .., b':', b':'] = t {
        gap = true;
        t = rest;
        if starts(t) {
            return Some((t.len(), Ipv6Addr::UNSPECIFIED));
        }
    }
    loop {
        // A group: 1–4 hex digits, no fifth before them.
        let (v, rest) = match *t {
            [.., a, b, c, d] if hex(d) < 16 => {
                if hex(c) > 15 {
                    (hex(d), &t[..t.len() - 1])
                } else if hex(b) > 15 {
                    (hex(c) << 4 | hex(d), &t[..t.len() - 2])
                } else if hex(a) > 15 {
                    (hex(b) << 8 | hex(c) << 4 | hex(d), &t[..t.len() - 3])
                } else {
                    let rest = &t[..t.len() - 4];
                    if rest.last().is_some_and(|&x| hex(x) < 16) {
                        return None;
                    }
                    (hex(a) << 12 | hex(b) << 8 | hex(c) << 4 | hex(d), rest)
                }
            }
            // Fewer than four bytes, or no digit: a byte at a time.
            _ => {
                let (mut v, mut k, mut rest) = (0, 0, t);
                while let [r @ .., x] = rest {
                    if hex(*x) > 15 {
                        break;
                    }
                    v |= hex(*x) << (4 * k);
                    k += 1;
                    rest = r;
                }
                if k == 0 {
                    return None;
                }
                (v, rest)
            }
        };
        if n == 8 {
            return None;
        }
        t = rest;
        acc = acc >> 16 | u128::from(v) << 112;
        n += 1;
        match t {
            [rest @ .., b':', b':'] => {
                if gap {
                    return None;
                }
                // The `n` groups read are the last ones of the address.
                gap = true;
                after_gap = acc >> (128 - 16 * n);
                acc = 0;
                t = rest;
                // `::` starts the address.
                if starts(t) {
                    break;
                }
            }
            // A group must come before a single `:`.
            [rest @ .., b':'] => t = rest,
            _ => break,
        }
    }
    // Eight groups, or fewer with `::` for one zero group at least.
    match (gap, n) {
        (false, 8) | (true, 0..=7) => Some((t.len(), Ipv6Addr::from(acc | after_gap))),
        _ => None,
    }
}

/// A TCP port: 1–5 digits, at most 65535.
pub fn parse_port(s: &[u8]) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = s.iter().fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
    u16::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A text of up to `max_len - 1` bytes drawn from `alphabet`.
    fn random_text(next: &mut impl FnMut() -> u64, alphabet: &[u8], max_len: u64) -> Vec<u8> {
        let len = (next() % max_len) as usize;
        (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect()
    }

    fn ip(s: &str) -> Option<String> {
        parse_ip(s.as_bytes()).map(|i| i.to_string())
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(ip("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(
            ip("::ffff:218.249.210.161").as_deref(),
            Some("218.249.210.161")
        );
        assert_eq!(ip("fe80::1%eth0").as_deref(), Some("fe80::1"));
        assert_eq!(ip("[2001:db8::1]").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("2001:DB8:0:0::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip("192.030.0.6").as_deref(), Some("192.30.0.6"));
        assert_eq!(ip("256.1.1.1"), None);
        assert_eq!(ip("1.2.3"), None);
        assert_eq!(ip("1.2.3.4.5"), None);
        assert_eq!(ip("example.com"), None);
        assert_eq!(ip(""), None);
        assert_eq!(ip("1111.2.3.4"), None);
        for bad in [
            "1.2.3.4.",
            ".1.2.3.4",
            "1..2.3",
            "1.2.3.4 ",
            "1.2.3.1000",
            "1.2.3.256",
            "1.2.3.",
            "1.2.3.a",
            "1.2.3.-4",
            "1,2.3.4",
            "01.02.003.4x",
        ] {
            assert_eq!(ip(bad), None, "{bad}");
        }
        assert_eq!(ip("0.0.0.0").as_deref(), Some("0.0.0.0"));
        assert_eq!(ip("255.255.255.255").as_deref(), Some("255.255.255.255"));
        assert_eq!(ip("001.002.003.004").as_deref(), Some("1.2.3.4"));
    }

    /// Dotted decimal against its definition (four dot-separated octets of
    /// one to three digits, at most 255): random texts of its alphabet.
    #[test]
    fn ipv4_matches_its_definition() {
        let defined = |t: &[u8]| -> Option<Ipv4Addr> {
            let parts: Vec<&[u8]> = t.split(|&b| b == b'.').collect();
            if parts.len() != 4 {
                return None;
            }
            let mut o = [0u8; 4];
            for (x, p) in o.iter_mut().zip(&parts) {
                if p.is_empty() || p.len() > 3 || !p.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                *x = std::str::from_utf8(p).ok()?.parse().ok()?;
            }
            Some(Ipv4Addr::from(o))
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"0123456789012345678901234567899....a ";
        for _ in 0..200_000 {
            let t = random_text(&mut next, alphabet, 19);
            assert_eq!(
                parse_v4(&t),
                defined(&t),
                "{:?}",
                String::from_utf8_lossy(&t)
            );
        }
        // Near misses: 3–5 groups of 0–4 digits (leading zeros, values past 255).
        for _ in 0..200_000 {
            let groups = 3 + (next() % 3) as usize;
            let t: Vec<u8> = (0..groups)
                .map(|_| {
                    let digits = (next() % 5) as usize;
                    (0..digits)
                        .map(|_| b'0' + (next() % 10) as u8)
                        .collect::<Vec<u8>>()
                })
                .collect::<Vec<_>>()
                .join(&b'.');
            assert_eq!(
                parse_v4(&t),
                defined(&t),
                "{:?}",
                String::from_utf8_lossy(&t)
            );
        }
        for n in 0..100_000u64 {
            let a = Ipv4Addr::from((next() as u32) ^ (n as u32));
            let t = a.to_string();
            assert_eq!(parse_v4(t.as_bytes()), Some(a), "{t}");
        }
    }

    /// The in-place readers against [`parse_v4`]: what they read is the
    /// address [`parse_v4`] reads in the token they took, and a token of
    /// digits and dots that [`parse_v4`] reads, whatever follows or precedes
    /// it, they read whole.
    #[test]
    fn v4_prefix_and_suffix_read_what_parse_v4_reads() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"0123456789012345678901234567899.....a :[]";
        let tok_byte = |b: &u8| b.is_ascii_digit() || *b == b'.';
        let mut cases: Vec<Vec<u8>> = Vec::new();
        cases.extend((0..300_000).map(|_| random_text(&mut next, alphabet, 24)));
        for _ in 0..100_000 {
            let a = Ipv4Addr::from(next() as u32).to_string();
            let pre = ["", " ", "x", "1", ".", "from "][(next() % 6) as usize];
            let post = ["", " ", "x", "1", ".", " port 22", ":"][(next() % 7) as usize];
            cases.push(format!("{pre}{a}{post}").into_bytes());
        }
        for s in cases {
            let shown = String::from_utf8_lossy(&s);
            let head = s.iter().take_while(|b| tok_byte(b)).count();
            match v4_prefix(&s) {
                Some((ip, n)) => assert_eq!(parse_v4(&s[..n]), Some(ip), "{shown:?}"),
                None => assert_eq!(parse_v4(&s[..head]), None, "{shown:?}"),
            }
            if let Some(ip) = parse_v4(&s[..head]) {
                assert_eq!(v4_prefix(&s), Some((ip, head)), "{shown:?}");
            }
            let tail = s.len() - s.iter().rev().take_while(|b| tok_byte(b)).count();
            match v4_suffix(&s) {
                Some((i, ip)) => assert_eq!(parse_v4(&s[i..]), Some(ip), "{shown:?}"),
                None => assert_eq!(parse_v4(&s[tail..]), None, "{shown:?}"),
            }
            if let Some(ip) = parse_v4(&s[tail..]) {
                assert_eq!(v4_suffix(&s), Some((tail, ip)), "{shown:?}");
            }
        }
    }

    /// The byte readers that the window readers replaced, the reference
    /// for them: a bounds-checked look at each byte.
    fn digit_at(s: &[u8], i: usize) -> u8 {
        s.get(i).map_or(10, |b| b.wrapping_sub(b'0'))
    }

    fn prefix_bytes(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
        let octet = |i: usize| -> Option<(u8, usize)> {
            let n = (i..i + 3).take_while(|&j| digit_at(s, j) <= 9).count();
            if n == 0 {
                return None;
            }
            let v: u32 = s[i..i + n]
                .iter()
                .fold(0, |a, &b| a * 10 + u32::from(b - b'0'));
            Some((u8::try_from(v).ok()?, i + n))
        };
        let mut o = [0u8; 4];
        let mut i = 0;
        for (k, x) in o.iter_mut().enumerate() {
            if k > 0 {
                if s.get(i) != Some(&b'.') {
                    return None;
                }
                i += 1;
            }
            (*x, i) = octet(i)?;
        }
        Some((Ipv4Addr::from(o), i))
    }

    fn suffix_bytes(s: &[u8]) -> Option<(usize, Ipv4Addr)> {
        let octet = |end: usize| -> Option<(u8, usize)> {
            let n = (1..=3.min(end))
                .take_while(|&k| digit_at(s, end - k) <= 9)
                .count();
            if n == 0 {
                return None;
            }
            let v: u32 = s[end - n..end]
                .iter()
                .fold(0, |a, &b| a * 10 + u32::from(b - b'0'));
            Some((u8::try_from(v).ok()?, end - n))
        };
        let mut o = [0u8; 4];
        let mut i = s.len();
        for k in (0..4).rev() {
            if k < 3 {
                if i == 0 || s[i - 1] != b'.' {
                    return None;
                }
                i -= 1;
            }
            (o[k], i) = octet(i)?;
        }
        Some((i, Ipv4Addr::from(o)))
    }

    /// The window readers against the byte readers: texts of every length
    /// up to 24 bytes, often with an address (near-valid, or one cut short)
    /// at their start or end.
    #[test]
    fn window_readers_are_the_byte_readers() {
        let mut next = crate::testing::xorshift(0x0416_5eed);
        let alphabet = b"0123456789012345678901234567899....a \0\xff";
        let (mut front, mut back) = (0, 0);
        for n in 0..600_000u32 {
            let mut t = random_text(&mut next, alphabet, 25);
            if n % 2 == 0 {
                let a: String = (0..4)
                    .map(|_| (next() % 300).to_string())
                    .collect::<Vec<_>>()
                    .join(".");
                let a = a.as_bytes();
                let k = a.len().min(t.len());
                if n % 4 == 0 {
                    let at = t.len() - k;
                    t[at..].copy_from_slice(&a[a.len() - k..]);
                } else {
                    t[..k].copy_from_slice(&a[..k]);
                }
            }
            let shown = String::from_utf8_lossy(&t);
            let p = v4_prefix(&t);
            let q = v4_suffix(&t);
            front += usize::from(p.is_some());
            back += usize::from(q.is_some());
            assert_eq!(p, prefix_bytes(&t), "{shown:?}");
            assert_eq!(q, suffix_bytes(&t), "{shown:?}");
        }
        assert!(front > 30_000 && back > 30_000, "{front} {back}");
    }

    /// The remembered window reader against the reader, on windows drawn
    /// from a few thousand (most of them seen before, and many more than
    /// the places: each place is taken by one window after another), of
    /// addresses, near-addresses and random bytes. The addresses are drawn
    /// from a few hundred, so that many windows share their text from the
    /// last space on (one key) and differ before it.
    #[test]
    fn remembered_windows_are_read_again() {
        let mut next = crate::testing::xorshift(0x05ee_5eed);
        let alphabet = b"0123456789012345678901234567899....a \0\xff";
        let addrs: Vec<Ipv4Addr> = (0..300).map(|_| Ipv4Addr::from(next() as u32)).collect();
        let pool: Vec<[u8; 16]> = (0..3_000)
            .map(|n| {
                let mut w = [0u8; 16];
                for b in w.iter_mut() {
                    *b = alphabet[(next() % alphabet.len() as u64) as usize];
                }
                if n % 2 == 0 {
                    let a = addrs[(next() % addrs.len() as u64) as usize].to_string();
                    let a = &a.as_bytes()[(next() % 2) as usize..];
                    w[16 - a.len()..].copy_from_slice(a);
                    w[15 - a.len()] = [b' ', b'1', b'.', b'x'][(next() % 4) as usize];
                }
                w
            })
            .collect();
        let mut found = 0;
        for _ in 0..400_000 {
            let w = &pool[(next() % pool.len() as u64) as usize];
            let read = v4_in_tail(w);
            found += usize::from(read.is_some());
            let bytewise = (0..16).fold(0, |m, i| m | u16::from(w[i] == b' ') << i);
            assert_eq!(spaces(w), bytewise);
            assert_eq!(v4_in_tail_seen(w), read, "{:?}", String::from_utf8_lossy(w));
        }
        assert!(found > 50_000, "{found}");
    }

    /// The remembered IPv6 reader against the reader, on texts drawn from a
    /// few thousand: heads (random bytes, spaces, zero bytes, hex and colons
    /// that may join the address) before tails that end in an address or
    /// near one, so that many texts share a key with others and places are
    /// taken by one text after another.
    #[test]
    fn remembered_v6_texts_are_read_again() {
        let mut next = crate::testing::xorshift(0x06ee_5eed);
        let alphabet = b"0123456789abcdef:::: \0x.\xff";
        let heads: Vec<Vec<u8>> = (0..40)
            .map(|n| match n {
                0 => Vec::new(),
                1 => b" ".to_vec(),
                2 => b"from ".to_vec(),
                _ => random_text(&mut next, alphabet, 40),
            })
            .collect();
        let tails: Vec<Vec<u8>> = (0..100)
            .map(|n| {
                if n % 4 == 3 {
                    return random_text(&mut next, alphabet, 40);
                }
                let a = Ipv6Addr::from(
                    ((next() as u128) << 64 | next() as u128)
                        & !((((next() % 2) as u128) * 0xffff_ffff_ffff) << (16 * (next() % 5))),
                );
                let before = [" ", "", "x", ":", "1", "\0", "  "][(next() % 7) as usize];
                let a = match n % 3 {
                    0 => a.to_string(),
                    _ => V6_EDGES[(next() % V6_EDGES.len() as u64) as usize].to_string(),
                };
                format!("{before}{a}").into_bytes()
            })
            .collect();
        let pool: Vec<Vec<u8>> = heads
            .iter()
            .flat_map(|h| tails.iter().map(move |t| [&h[..], &t[..]].concat()))
            .collect();
        let mut found = 0;
        for _ in 0..400_000 {
            let t = &pool[(next() % pool.len() as u64) as usize];
            let read = v6_suffix(t);
            found += usize::from(read.is_some());
            assert_eq!(v6_suffix_seen(t), read, "{:?}", String::from_utf8_lossy(t));
        }
        assert!(found > 100_000, "{found}");
    }

    /// IPv6 texts at the edges of the grammar (`::` placement, group counts
    /// and widths), for the readers' tests.
    const V6_EDGES: &[&str] = &[
        "::",
        "::1",
        "1::",
        "1:2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7::",
        "::2:3:4:5:6:7:8",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1::2::3",
        ":1::",
        "1:::2",
        "00000::",
        "0000::",
        "1:2:3:4:5:6:7",
        ":",
        ":::",
        "1:",
        ":1",
        "1::2:3:4:5:6:7",
        "1::2:3:4:5:6:7:8",
        "12345::",
    ];

    /// The right-to-left IPv6 reader against [`parse_v6_hex`] on the run of
    /// hex digits and colons that ends the text: random texts of their
    /// alphabet after a space or a letter, and random addresses.
    #[test]
    fn v6_suffix_is_parse_v6_hex_on_the_last_run() {
        let mut next = crate::testing::xorshift(0x0006_5eed);
        let alphabet = b"0123456789abcdefABCDEF::::::: g.";
        let run = |t: &[u8]| {
            t.len()
                - t.iter()
                    .rev()
                    .take_while(|&&b| b == b':' || HEX[usize::from(b)] < 16)
                    .count()
        };
        let mut cases: Vec<Vec<u8>> = V6_EDGES
            .iter()
            .chain(&["", "x ::", "x :::", "::12345", "a:b::c:d", "g::1", ".::1"])
            .map(|c| c.as_bytes().to_vec())
            .collect();
        cases.extend((0..400_000).map(|_| random_text(&mut next, alphabet, 30)));
        for _ in 0..50_000 {
            let a = Ipv6Addr::from(
                ((next() as u128) << 64 | next() as u128)
                    & !((((next() % 2) as u128) * 0xffff_ffff) << (16 * (next() % 6))),
            );
            let pre = ["", " ", "x", "from "][(next() % 4) as usize];
            cases.push(format!("{pre}{a}").into_bytes());
            let full: Vec<String> = a.segments().iter().map(|g| format!("{g:X}")).collect();
            cases.push(format!("{pre}{}", full.join(":")).into_bytes());
        }
        let mut hit = 0;
        for c in cases {
            let at = run(&c);
            let want = parse_v6_hex(&c[at..]).map(|a| (at, a));
            let got = v6_suffix(&c);
            hit += usize::from(got.is_some());
            assert_eq!(got, want, "{:?}", String::from_utf8_lossy(&c));
        }
        assert!(hit > 100_000, "{hit}");
    }

    /// The hex-only IPv6 reader accepts and reads exactly what the standard
    /// parser does: random texts of its alphabet, and random addresses written
    /// with and without `::`.
    #[test]
    fn ipv6_hex_matches_the_standard_parser() {
        let std_v6 = |t: &[u8]| -> Option<Ipv6Addr> { std::str::from_utf8(t).ok()?.parse().ok() };
        let mut next = crate::testing::xorshift(0x2545_f491_4f6c_dd1d);
        let alphabet = b"0123456789abcdefABCDEF:::::g";
        let mut cases: Vec<Vec<u8>> = V6_EDGES
            .iter()
            .chain(&["fFfF::AbCd"])
            .map(|c| c.as_bytes().to_vec())
            .collect();
        cases.extend((0..200_000).map(|_| random_text(&mut next, alphabet, 24)));
        for _ in 0..20_000 {
            let a = Ipv6Addr::from(
                ((next() as u128) << 64 | next() as u128)
                    & !((((next() % 2) as u128) * 0xffff_ffff) << 32),
            );
            cases.push(a.to_string().into_bytes());
            let full: Vec<String> = a.segments().iter().map(|g| format!("{g:x}")).collect();
            cases.push(full.join(":").into_bytes());
        }
        for c in cases {
            if c.contains(&b'.') || c.is_empty() {
                continue;
            }
            assert_eq!(
                parse_v6_hex(&c),
                std_v6(&c),
                "{:?}",
                String::from_utf8_lossy(&c)
            );
        }
    }

    /// Zones and IPv4 tails: what the standard parser reads in the text
    /// before the first `%` (when it holds a `:`), made canonical.
    #[test]
    fn zoned_and_dotted_ipv6_read_as_the_standard_parser_does() {
        let reference = |t: &[u8]| -> Option<IpAddr> {
            let t = &t[..t.iter().position(|&b| b == b'%').unwrap_or(t.len())];
            if !t.contains(&b':') {
                return None;
            }
            let v6: Ipv6Addr = std::str::from_utf8(t).ok()?.parse().ok()?;
            Some(IpAddr::V6(v6).to_canonical())
        };
        let mut x: u64 = 0x3c6e_f372_fe94_f82b;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"0123456789abcdefABCDEF::::::..%%%ge";
        let mut cases: Vec<Vec<u8>> = [
            "::%",
            "::%eth0",
            "1::%x",
            "1:%x",
            "%",
            "::ffff:1.2.3.4%x",
            "fe80::1%eth0%1",
        ]
        .iter()
        .map(|c| c.as_bytes().to_vec())
        .collect();
        for _ in 0..300_000 {
            let len = 1 + (next() % 30) as usize;
            cases.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
        for _ in 0..20_000 {
            let a = Ipv6Addr::from((next() as u128) << 64 | next() as u128);
            let zone = ["", "%eth0", "%", "%1%2"][(next() % 4) as usize];
            cases.push(format!("{a}{zone}").into_bytes());
        }
        for c in cases {
            if parse_v4(&c).is_some() {
                continue;
            }
            assert_eq!(
                parse_ip(&c),
                reference(&c),
                "{:?}",
                String::from_utf8_lossy(&c)
            );
        }
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(b"22"), Some(22));
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(parse_port(b"65536"), None);
        assert_eq!(parse_port(b""), None);
    }
}
