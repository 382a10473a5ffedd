//! [`classify`](super::classify)'s fast path: the commonest sshd messages,
//! read from their fixed words and built in place.
//!
//! `Failed password for …`, `Invalid user …`, `Connection closed|reset by …`,
//! `Disconnected from …`, `Accepted …`, `Received disconnect from …`,
//! `maximum authentication attempts exceeded …`, `Disconnecting … Too many
//! authentication failures`, `Unable to negotiate with …`, `banner
//! exchange: …` and `Did not receive identification string from …` with an
//! address, a port and a plain short name are four lines in five of a busy
//! log. The general reader takes them through the
//! level and `[preauth]` strippers, the dispatcher and a reader that returns
//! an `Option<Msg>`, which was copied twice on its way out (~55 instructions
//! a line); here each is one dispatch on its first byte, the same address
//! readers as the general path, and the `Msg` written once (issue #15,
//! with the readers below: `classify` 111.7M -> 73.3M Ir on 200k lines).
//! Anything else, or anything unsure (a long, escaped or non-ASCII name,
//! `[postauth]`, trailing blanks, a name holding `:`), is `None` and goes to
//! the general reader, which the test `fast_path_is_the_general_reader`
//! holds this to.

use super::*;

/// Writes what a fast reader found into `m`, which holds [`Msg::new`]'s
/// fields but for the address, which the reader writes where it reads it
/// ([`ip_port`]). Each reader calls it once, after its last check, so that
/// a reader that gives up leaves `m` as it was but for `ip`. Inlined into
/// each reader, the fields are stored straight into the `Msg` that
/// `classify` returns, where a `Fast` value returned by every reader to
/// one place was moved through the stack on its way there (issue #15).
#[inline(always)]
fn found(
    m: &mut Msg,
    kind: Kind,
    user: Option<Text>,
    invalid_user: bool,
    port: Option<u16>,
    conn: Conn,
) {
    m.kind = kind;
    fill(&mut m.user, user);
    m.invalid_user = invalid_user;
    m.port = port;
    m.conn = conn;
}

/// What the general reader gives `msg`, for the shapes above, written into
/// `m` (a [`Msg::new`]); `None`: ask it, `m` untouched.
#[inline(always)]
pub(super) fn read(msg: &[u8], m: &mut Msg) -> Option<()> {
    let read = dispatch(msg, m);
    if read.is_none() {
        // An address a reader wrote before it gave up.
        m.ip = None;
    }
    read
}

/// [`read`], but that a reader that gives up may leave an address in `m`.
#[inline(always)]
fn dispatch(msg: &[u8], m: &mut Msg) -> Option<()> {
    // The general reader's prelude is a no-op on these first bytes (no level
    // but the `error: ` matched below, no repeat, no PAM prefix, no leading
    // blank); at the end only `[preauth]` or no blank at all keeps it one.
    let (&last, _) = msg.split_last()?;
    let (body, preauth) = match last {
        b']' => (msg.strip_suffix(b" [preauth]")?, true),
        0..=b' ' => return None,
        _ => (msg, false),
    };
    match msg[0] {
        b'F' => auth(
            body.strip_prefix(b"Failed password for ")?,
            Kind::AuthFailure,
            PASSWORD,
            m,
        ),
        // Whole prefixes compared (a few vector compares each), where
        // matching their first bytes first compared byte by byte.
        b'A' => {
            let (r, method) = match body.strip_prefix(b"Accepted password for ") {
                Some(r) => (r, PASSWORD),
                None => (body.strip_prefix(b"Accepted publickey for ")?, PUBLICKEY),
            };
            auth(r, Kind::AuthSuccess, method, m)
        }
        b'R' => received(body.strip_prefix(b"Received disconnect from ")?, preauth, m),
        b'U' => probe(
            body.strip_prefix(b"Unable to negotiate with ")?,
            Kind::NegotiationFailure,
            m,
        ),
        b'b' => probe(
            strip_long(body, b"banner exchange: Connection from ")?,
            Kind::BadProtocol,
            m,
        ),
        b'I' => invalid(body.strip_prefix(b"Invalid user ")?, m),
        b'C' => {
            let r = or_else(body.strip_prefix(b"Connection closed by "), || {
                body.strip_prefix(b"Connection reset by ")
            })?;
            ended(r, preauth, false, m)
        }
        b'D' => {
            if let Some(r) = body.strip_prefix(b"Disconnected from ") {
                return ended(r, preauth, true, m);
            }
            if let Some(r) = body.strip_prefix(b"Disconnecting ") {
                return too_many_end(r, m);
            }
            silent(
                strip_long(body, b"Did not receive identification string from ")?,
                m,
            )
        }
        b'e' => too_many(
            strip_long(
                body,
                b"error: maximum authentication attempts exceeded for ",
            )?,
            m,
        ),
        _ => None,
    }
}

/// `p` (at most eight bytes) as the top bytes of a word: what the last
/// eight bytes of a text ending with `p` give shifted right by `8 * (8 -
/// p.len())`.
const fn tail_word(p: &[u8]) -> u64 {
    let mut w = 0u64;
    let mut i = p.len();
    while i > 0 {
        i -= 1;
        w = w << 8 | p[i] as u64;
    }
    w
}

/// `s` without its end `p` (at most eight bytes, `word` its [`tail_word`]):
/// one load and one compare where the slice pattern compared each byte
/// (issue #15).
#[inline(always)]
fn strip_tail<'a>(s: &'a [u8], p: &[u8], word: u64) -> Option<&'a [u8]> {
    let n = p.len();
    match s.len().checked_sub(8) {
        Some(at) => {
            let w = u64::from_le_bytes(s[at..].try_into().unwrap());
            (w >> (8 * (8 - n)) == word).then(|| &s[..s.len() - n])
        }
        None => s.strip_suffix(p),
    }
}

/// `s` without its start `p`, a prefix of 16 bytes or more, compared
/// sixteen bytes at a time in place (the last sixteen overlapping the
/// ones before): `strip_prefix` called memcmp for a prefix past 32 bytes
/// (~25 instructions with the call, issue #15).
#[inline(always)]
pub(super) fn strip_long<'a>(s: &'a [u8], p: &[u8]) -> Option<&'a [u8]> {
    let n = p.len();
    debug_assert!(n >= 16);
    if s.len() < n {
        return None;
    }
    let chunk = |b: &[u8], at: usize| u128::from_le_bytes(b[at..at + 16].try_into().unwrap());
    let mut at = 0;
    while at + 16 < n {
        if chunk(s, at) != chunk(p, at) {
            return None;
        }
        at += 16;
    }
    (chunk(s, n - 16) == chunk(p, n - 16)).then(|| &s[n..])
}

const PORT: u64 = tail_word(b" port ");
const FROM: u64 = tail_word(b" from");
const SSH2: u64 = tail_word(b" ssh2");
const SSH1: u64 = tail_word(b" ssh1");

/// `<body> <ip> port <n>` ending `s` (its last byte a digit): the body
/// (without its space) and the port, as [`ip_port_end`] reads them when
/// its port is there, and the address written into `ip`. (Returned, the
/// address went through every reader's branches, its IPv6 bytes moved
/// from one stack slot to the next also for IPv4: ~12 instructions a line,
/// issue #15.)
#[inline(always)]
fn ip_port<'a>(s: &'a [u8], ip: &mut Option<IpAddr>) -> Option<(&'a [u8], u16)> {
    // Clients' source ports: nearly all five digits, most others four.
    let (head, port) = match or_else(port_words::<5>(s), || port_words::<4>(s)) {
        Some(found) => found,
        None => {
            let (t, port) = trailing_port(s)?;
            (strip_tail(t, b" port ", PORT)?, port)
        }
    };
    let before = match v4_token_end(head) {
        Some((before, v4)) => {
            *ip = Some(v4);
            before
        }
        None => {
            let (before, v6) = ip_token_end(head)?;
            *ip = Some(v6);
            before
        }
    };
    Some((before, port))
}

/// ` port <n>` ending `s` where `n` has `N` digits (1 to 5): the text
/// before it and the port, which [`trailing_port`] and the ` port ` before
/// its digits give then. `None`: another shape, or a port past 65535.
///
/// The digits are the top `N` bytes of the last word, checked and read
/// with masks known at compile time, where [`trailing_port`] first finds
/// how many there are (issue #15: ~25 instructions a line less).
#[inline(always)]
fn port_words<const N: usize>(s: &[u8]) -> Option<(&[u8], u16)> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let top: u64 = !0 << (8 * (8 - N));
    let head = strip_tail(&s[..s.len().checked_sub(N)?], b" port ", PORT)?;
    // Six bytes of ` port ` before them: `s` holds eight at least.
    let x = u64::from_le_bytes(s[s.len() - 8..].try_into().unwrap()) & top;
    // Each kept byte is 0x30..=0x39: its high nibble is 3, and stays 3
    // when 6 is added. (A byte past 0x3f fails the first test; only then
    // can the addition carry into the next byte.)
    let nibbles = (0xf0 * ONES) & top;
    let zeros = (0x30 * ONES) & top;
    if x & nibbles != zeros || x.wrapping_add((0x06 * ONES) & top) & nibbles != zeros {
        return None;
    }
    Some((head, u16::try_from(eight_digits(x - zeros)).ok()?))
}

/// `<before> from` → `<before>`; `from` → empty.
#[inline(always)]
fn strip_from(w: &[u8]) -> Option<&[u8]> {
    match strip_tail(w, b" from", FROM) {
        Some(who) => Some(who),
        None => (w == b"from").then_some(&[][..]),
    }
}

/// `<method> for [invalid user ]<u> from <ip> port <n> ssh2[: <info>]` after
/// `Failed ` or `Accepted `: what [`auth_result`] reads.
#[inline(always)]
fn auth(rest: &[u8], kind: Kind, method: Text, m: &mut Msg) -> Option<()> {
    let (who, port) = ssh2_who(rest, &mut m.ip)?;
    let (user, invalid_user) = match who {
        b"<invalid username>" => (None, true),
        _ => {
            let (user, invalid) = strip_invalid_fast(who);
            // `ssh2_at_end`'s condition (the prefix holds no `:`); a name
            // with one after a first candidate goes to the general reader too.
            (Some(Text::plain_inline_without(user, b':')?), invalid)
        }
    };
    found(m, kind, user, invalid_user, Some(port), Conn::None);
    fill(&mut m.method, Some(method));
    Some(())
}

/// [`from_ip_port_ssh2`], but for [`ssh2_at_end`]'s condition that `who`
/// holds no `:`: the caller checks it with the name (and refuses any name
/// with a `:`, also after a first candidate).
#[inline(always)]
fn ssh2_who<'a>(rest: &'a [u8], ip: &mut Option<IpAddr>) -> Option<(&'a [u8], u16)> {
    if let Some(found) = ssh2_end(rest, ip) {
        return Some(found);
    }
    if let Some(found) = ssh2_info(rest, ip) {
        return Some(found);
    }
    // Neither shape: the first candidate, as `from_ip_port_ssh2` takes it.
    let (who, addr, port) = ssh2_first_candidate(rest)?;
    *ip = Some(addr);
    Some((who, port?))
}

/// `<who> from <ip> port <n>[ ssh2]: <info>` (`Accepted publickey for …`)
/// where the first `:` of `rest` is the one after the port: then that port
/// is the first candidate of [`ssh2_first_candidate`], which took ~590
/// instructions a line searching for it (issue #15). An earlier candidate
/// would be followed by `: ` (the text goes on after it), whose `:` would
/// come before this one; and no earlier ` port ` overlaps this one, as
/// the word before it is an address, which does not end in `port`.
#[inline(always)]
fn ssh2_info<'a>(rest: &'a [u8], ip: &mut Option<IpAddr>) -> Option<(&'a [u8], u16)> {
    let colon = memchr::memchr(b':', rest)?;
    if rest.get(colon + 1) != Some(&b' ') {
        return None;
    }
    ssh2_end(&rest[..colon], ip)
}

/// `error: maximum authentication attempts exceeded for [invalid user ]<u>
/// from <ip> port <n> ssh2`: [`for_user_from_ssh2`].
#[inline(always)]
fn too_many(rest: &[u8], m: &mut Msg) -> Option<()> {
    let (who, port) = ssh2_who(rest, &mut m.ip)?;
    let (user, invalid_user) = strip_invalid_fast(who);
    let user = Text::plain_inline_without(user, b':')?;
    found(
        m,
        Kind::TooManyFailures,
        Some(user),
        invalid_user,
        Some(port),
        Conn::None,
    );
    Some(())
}

/// `Disconnecting [(authenticating|invalid) user <u> ]<ip> port <n>: Too
/// many authentication failures`: [`disconnecting_user`].
#[inline(always)]
fn too_many_end(r: &[u8], m: &mut Msg) -> Option<()> {
    let head = r.strip_suffix(b": Too many authentication failures")?;
    let (before, port) = ip_port(head, &mut m.ip)?;
    let (user, invalid_user) = match before {
        [] => (None, false),
        _ => match preamble(before)? {
            Who::Nobody => (None, false),
            Who::Trying(u, invalid) => (Some(Text::plain_inline(u)?), invalid),
            Who::LoggedIn(u) => (Some(Text::plain_inline(u)?), false),
        },
    };
    found(
        m,
        Kind::TooManyFailures,
        user,
        invalid_user,
        Some(port),
        Conn::Closes,
    );
    Some(())
}

/// The kind of a message whose start decides it, whatever follows, as the
/// general reader finds it: pam_unix's session lines and its `check pass;`
/// (no event), and `error: kex_exchange_identification: …` (a bad protocol,
/// no address) when it ends in neither a blank nor `]` (which the general
/// reader's strippers would take from its end). Answered without the
/// general reader's prelude and dispatch (issue #15).
#[inline(always)]
pub(super) fn fixed(msg: &[u8]) -> Option<Kind> {
    const KEX: &[u8] = b"error: kex_exchange_identification: ";
    match msg.first()? {
        b'p' => {
            let r = msg.strip_prefix(b"pam_unix(sshd:")?;
            (r.starts_with(b"session): ") || r.starts_with(b"auth): check pass;"))
                .then_some(Kind::Other)
        }
        b'e' if msg.starts_with(KEX) => {
            let last = *msg.last()?;
            (msg.len() > KEX.len() && last > b' ' && last != b']').then_some(Kind::BadProtocol)
        }
        _ => None,
    }
}

/// `pam_unix(sshd:auth): authentication failure;<fields>`: the fields, as
/// the general reader gives them to [`pam_fields`] (PAM lines are only
/// trimmed at the end).
#[inline(always)]
pub(super) fn pam_failure(msg: &[u8]) -> Option<&[u8]> {
    strip_long(msg, b"pam_unix(sshd:auth): authentication failure;").map(|r| r.trim_ascii_end())
}

/// `PAM <n> more authentication failure[s];<fields>`: the fields and `n`,
/// as the general reader gives them to [`pam_fields`] (it took ~750
/// instructions a line, issue #15). `None` also for a count that is not
/// 1–9 digits (`+2`, or one past `u32::MAX`, which the general reader
/// judges), and for another text after it, which it makes no event.
#[inline(always)]
pub(super) fn pam_more(msg: &[u8]) -> Option<(&[u8], u32)> {
    let r = msg.strip_prefix(b"PAM ")?.trim_ascii_end();
    let d = r.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=9).contains(&d) || r.get(d) != Some(&b' ') {
        return None;
    }
    let n = r[..d]
        .iter()
        .fold(0u32, |a, &b| a * 10 + u32::from(b - b'0'));
    let rest = &r[d + 1..];
    let fields = or_else(rest.strip_prefix(b"more authentication failures;"), || {
        rest.strip_prefix(b"more authentication failure;")
    })?;
    Some((fields, n))
}

/// [`ssh2_at_end`] but for its check that `who` holds no `:`.
#[inline(always)]
fn ssh2_end<'a>(rest: &'a [u8], ip: &mut Option<IpAddr>) -> Option<(&'a [u8], u16)> {
    let t = or_else(strip_tail(rest, b" ssh2", SSH2), || {
        strip_tail(rest, b" ssh1", SSH1)
    })
    .unwrap_or(rest);
    let (w, port) = ip_port(t, ip)?;
    Some((strip_from(w)?, port))
}

/// [`strip_invalid`], which only names of twelve bytes or more that start
/// `invalid ` or `illegal ` need.
#[inline(always)]
fn strip_invalid_fast(who: &[u8]) -> (&[u8], bool) {
    const INVALID: u64 = tail_word(b"invalid ");
    const ILLEGAL: u64 = tail_word(b"illegal ");
    // Bytes 5..13 of `invalid user `: with the first word, all 13 of them
    // in two compares, where the last five took one each (issue #15).
    const ID_USER: u64 = tail_word(b"id user ");
    let word = |at: usize| {
        who.get(at..at + 8)
            .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
    };
    match word(0) {
        Some(w) if who.len() >= 12 => {
            if w == INVALID && word(5) == Some(ID_USER) {
                // `invalid user <u>` read in place.
                (&who[13..], true)
            } else if w == INVALID || w == ILLEGAL {
                strip_invalid(who)
            } else {
                (who, false)
            }
        }
        _ => (who, false),
    }
}

/// `Unable to negotiate with <IPv4> port <n>: …`, `banner exchange:
/// Connection from <IPv4> port <n>: …`: what `sshd` reads.
#[inline(always)]
fn probe(r: &[u8], kind: Kind, m: &mut Msg) -> Option<()> {
    let (ip, port) = v4_port_prefix(r)?;
    m.ip = Some(ip);
    found(m, kind, None, false, port, Conn::Closes);
    Some(())
}

/// `Received disconnect from <IPv4> port <n>:<code>: …`: what `sshd` reads.
/// The code is read where the port ends: [`disconnect_code`] searched for
/// ` port ` again, which is the first one (the address holds no space).
#[inline(always)]
fn received(r: &[u8], preauth: bool, m: &mut Msg) -> Option<()> {
    let (ip, port, rest) = v4_port_rest(r)?;
    let (kind, conn, maybe_postauth) = if preauth {
        (Kind::PreauthClose, Conn::Closes, false)
    } else if code_after(rest) == Some(11) {
        (Kind::Other, Conn::Closes, false)
    } else {
        // `connection_end(Who::Nobody, …)`, not the connection's last line.
        (Kind::PreauthClose, Conn::None, true)
    };
    m.ip = Some(ip);
    found(m, kind, None, false, port, conn);
    m.maybe_postauth = maybe_postauth;
    Some(())
}

/// `Did not receive identification string from <ip> port <n>`: what
/// `sshd` reads ([`ip_maybe_port_end`] with its port).
#[inline(always)]
fn silent(r: &[u8], m: &mut Msg) -> Option<()> {
    let (before, port) = ip_port(r, &mut m.ip)?;
    if !before.is_empty() {
        return None;
    }
    found(m, Kind::BadProtocol, None, false, Some(port), Conn::Closes);
    Some(())
}

/// `Invalid user <u> from <ip> port <n>`: [`invalid_user`].
#[inline(always)]
fn invalid(r: &[u8], m: &mut Msg) -> Option<()> {
    let (w, port) = ip_port(r, &mut m.ip)?;
    let user = Text::plain_inline(strip_from(w)?)?;
    found(
        m,
        Kind::InvalidUser,
        Some(user),
        true,
        Some(port),
        Conn::None,
    );
    Some(())
}

/// `Connection closed|reset by …` ([`closed_by`]) and `Disconnected from …`
/// ([`disconnected_from`]: `disconnected`) with a port.
#[inline(always)]
fn ended(r: &[u8], preauth: bool, disconnected: bool, m: &mut Msg) -> Option<()> {
    let (before, port) = ip_port(r, &mut m.ip)?;
    let who = match before {
        [] => Who::Nobody,
        _ => preamble(before)?,
    };
    let (kind, conn) = match who {
        // The logout of sshd 7.2–7.4.
        Who::Nobody if disconnected && !preauth => (Kind::Other, Conn::Closes),
        Who::LoggedIn(_) if !preauth => (Kind::Other, Conn::Closes),
        _ => (Kind::PreauthClose, Conn::Closes),
    };
    let (user, invalid_user) = match who {
        Who::Nobody => (None, false),
        Who::Trying(u, invalid) => (Some(Text::plain_inline(u)?), invalid),
        Who::LoggedIn(u) => (Some(Text::plain_inline(u)?), false),
    };
    found(m, kind, user, invalid_user, Some(port), conn);
    m.maybe_postauth = !preauth && !disconnected && who == Who::Nobody;
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages of the fast path's shapes and near them: sshd's words,
    /// attacker names that hold addresses, ports, `from`, `ssh2`, colons,
    /// escapes and odd spacing, and endings that the prelude must refuse.
    fn messages(n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut next = crate::testing::xorshift(seed);
        let heads: &[&[u8]] = &[
            b"Failed password for ",
            b"Failed password for invalid user ",
            b"Failed password for illegal user ",
            b"Failed publickey for ",
            b"Failed password for",
            b"Invalid user ",
            b"Invalid user",
            b"Illegal user ",
            b"Connection closed by ",
            b"Connection closed by authenticating user ",
            b"Connection closed by invalid user ",
            b"Connection closed by user ",
            b"Connection reset by ",
            b"Connection reset by invalid user ",
            b"Connection from ",
            b"Disconnected from ",
            b"Disconnected from user ",
            b"Disconnected from invalid user ",
            b"Disconnected from authenticating user ",
            b"Disconnecting ",
            b"Accepted password for ",
            b"Accepted publickey for ",
            b"Accepted publickey for invalid user ",
            b"Accepted keyboard-interactive/pam for ",
            b"Access denied for user ",
            b"Received disconnect from ",
            b"Unable to negotiate with ",
            b"Unable to negotiate with 198.51.100.7 port 4711: no matching",
            b"banner exchange: Connection from ",
            b"banner exchange: Connection from 198.51.100.7 port 4711: invalid format",
            b"User ",
            b"Received disconnect from 198.51.100.7 port 4711:11: Bye",
            b"Received disconnect from 198.51.100.7 port 4711:3: ",
            b"Received disconnect from 198.51.100.7: 11: ",
            b"Received disconnect from 198.51.100.7 port 4711:0011: x",
            b"Received disconnect from 198.51.100.7 port 4711: \t11: x",
            b"Received disconnect from 198.51.100.7 port 4711:4294967307: x",
            b"Received disconnect from 198.51.100.7 port 4711:99999999999: x",
            b"Received disconnect from 198.51.100.7 port 4711:+11: x",
            b"Received disconnect from 198.51.100.7 port 04711:11",
            b"Received disconnect from 198.51.100.7 port 471100:11",
            b"Did not receive identification string from ",
            b"Did not receive identification string from 198.51.100.7",
            b"PAM 1 more authentication failure;",
            b"PAM 2 more authentication failures;",
            b"PAM 2 more authentication failure;",
            b"PAM 2 more authentication failures",
            b"PAM +2 more authentication failures;",
            b"PAM 02 more authentication failures;",
            b"PAM 4294967296 more authentication failures;",
            b"PAM 123456789 more authentication failures;",
            b"PAM 2  more authentication failures;",
            b"PAM  2 more authentication failures;",
            b"PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=",
            b"Disconnecting invalid user ",
            b"Disconnecting authenticating user ",
            b"error: maximum authentication attempts exceeded for ",
            b"error: maximum authentication attempts exceeded for invalid user ",
            b"maximum authentication attempts exceeded for ",
            b"pam_unix(sshd:session): session opened for user ",
            b"pam_unix(sshd:auth): check pass; user unknown",
            b"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=",
            b"pam_unix(sshd:sessio",
            b"error: kex_exchange_identification: ",
            b"error: kex_exchange_identification: Connection closed by remote host",
            b"error: kex_exchange_identification:",
            b"kex_exchange_identification: ",
            b" Failed password for ",
            b"error: Failed password for ",
        ];
        let words: &[&[u8]] = &[
            b"",
            b"root",
            b"x",
            b" ",
            b"  ",
            b"from",
            b" from ",
            b"port",
            b" port ",
            b"ssh2",
            b" ssh2",
            b":",
            b": ",
            b"1.2.3.4",
            b"10.0.0.1",
            b"256.1.1.1",
            b"2001:db8::1",
            b"::ffff:1.2.3.4",
            b"22",
            b"65536",
            b"invalid user ",
            b"user ",
            b"authenticating user ",
            b"invalid user",
            b"<invalid username>",
            b"\\",
            b"\\303\\266",
            b"\xc3\xb6",
            b"\xff",
            b"\t",
            b"[preauth]",
            b"abcdefghijklmnopqrstuvwxyz0123456789",
        ];
        let tails: &[&[u8]] = &[
            b" from 198.51.100.7 port 4711 ssh2",
            b" from 198.51.100.7 port 4711 ssh1",
            b" from 198.51.100.7 port 4711",
            b" from 2001:db8::7 port 4711 ssh2",
            b" from 198.51.100.7 port 4711 ssh2: RSA SHA256:x",
            b" from 198.51.100.7",
            b" from 198.51.100.7 port 4711 ssh2: ED25519 SHA256:abc",
            b" from 198.51.100.7 port 4711 ssh2: RSA-CERT ID x port 1 ssh2",
            b" from 198.51.100.7 port 4711: RSA x",
            b" from 198.51.100.7 port 4711 ssh2:x",
            b" from 198.51.100.7 port 4711 ssh2: ",
            b" from 198.51.100.7 port 4711 ssh1: x: y",
            b" from 198.51.100.7 port 4711  ssh2: x",
            b" from 198.51.100.7 port 4711x: x",
            b" from [198.51.100.7] port 4711 ssh2: x",
            b" from 2001:db8::7 port 4711 ssh2: x",
            b" 198.51.100.7  user=root",
            b" 198.51.100.7 ",
            b"  user=x port 22",
            b" port 22: 11: Bye Bye",
            b" 198.51.100.7 port 4711: Too many authentication failures",
            b" 198.51.100.7 port 4711: Too many authentication failures [preauth]",
            b": Too many authentication failures",
            b":11: Bye Bye",
            b" from 1.2.3.4 port 65536 ssh2",
            b" from 1.2.3.4 port 0 ssh2",
            b" from 1.2.3.4 port 123456",
            b" from 01.2.3.255 port 22",
            b" from host.example port 22",
            b" 198.51.100.7 port 4711",
            b" 198.51.100.7 port 4711 [preauth]",
            b" 198.51.100.7 port 4711  [preauth]",
            b" 198.51.100.7 port 4711 [postauth]",
            b" 198.51.100.7 port 4711 ",
            b" 2001:db8::7 port 4711 [preauth]",
            b" 198.51.100.7",
            b"198.51.100.7 port 4711",
            b"",
        ];
        (0..n)
            .map(|_| {
                let mut v = heads[(next() % heads.len() as u64) as usize].to_vec();
                for _ in 0..(next() % 4) {
                    v.extend_from_slice(words[(next() % words.len() as u64) as usize]);
                }
                v.extend_from_slice(tails[(next() % tails.len() as u64) as usize]);
                if next() % 8 == 0 {
                    v.extend_from_slice(b" [preauth]");
                }
                if next() % 16 == 0 {
                    v.truncate((next() % (v.len() as u64 + 1)) as usize);
                }
                v
            })
            .collect()
    }

    /// The fast path gives what the general reader gives, and takes most of
    /// the common shapes.
    #[test]
    fn fast_path_is_the_general_reader() {
        let mut fast = 0;
        let all = messages(400_000, 0xfa57_0001);
        for m in &all {
            let general = classify_general(m);
            let mut f = Msg::new(Kind::Other);
            if read(m, &mut f).is_some() {
                fast += 1;
                assert_eq!(f, general, "{:?}", String::from_utf8_lossy(m));
            } else {
                // A reader that gives up writes nothing.
                assert_eq!(f, Msg::new(Kind::Other), "{:?}", String::from_utf8_lossy(m));
            }
            if let Some(kind) = fixed(m) {
                assert_eq!(general, Msg::new(kind), "{:?}", String::from_utf8_lossy(m));
            }
            assert_eq!(classify(m), general, "{:?}", String::from_utf8_lossy(m));
        }
        assert!(fast > 30_000, "{fast}");
    }

    /// The word readers against the slice functions they stand in for.
    #[test]
    fn word_readers_are_the_slice_functions() {
        let mut next = crate::testing::xorshift(0xfa57_0002);
        let alphabet = b" portfromsh12invalid legaluser";
        for _ in 0..300_000 {
            let len = (next() % 20) as usize;
            let s: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            for (p, w) in [
                (&b" port "[..], PORT),
                (b" from", FROM),
                (b" ssh2", SSH2),
                (b" ssh1", SSH1),
                (b"t ", tail_word(b"t ")),
                (b"12345678", tail_word(b"12345678")),
            ] {
                assert_eq!(strip_tail(&s, p, w), s.strip_suffix(p));
                let glued = [&s[..], p].concat();
                assert_eq!(strip_tail(&glued, p, w), Some(&s[..]));
            }
            for pre in [
                &b""[..],
                b"invalid user ",
                b"illegal user ",
                b"invalid user",
                b"invalid ",
            ] {
                let who = [pre, &s[..]].concat();
                assert_eq!(strip_invalid_fast(&who), strip_invalid(&who));
            }
        }
    }

    /// [`strip_long`] against `strip_prefix`: the prefixes it reads, each
    /// cut short, changed in one byte, or followed by more text.
    #[test]
    fn strip_long_is_strip_prefix() {
        let mut next = crate::testing::xorshift(0xfa57_0004);
        for p in [
            &b"banner exchange: Connection from "[..],
            b"Did not receive identification string from ",
            b"error: maximum authentication attempts exceeded for ",
            b"pam_unix(sshd:auth): authentication failure;",
            b" logname= uid=0 euid=0 tty=ssh ruser= rhost=",
            b"0123456789abcdef",
            b"0123456789abcdef0123456789abcdef",
        ] {
            for _ in 0..20_000 {
                let mut s = p.to_vec();
                match next() % 4 {
                    0 => s.truncate((next() % (p.len() as u64 + 1)) as usize),
                    1 => {
                        let at = (next() % p.len() as u64) as usize;
                        s[at] ^= 1 << (next() % 8);
                    }
                    2 => s.extend_from_slice(&p[..(next() % p.len() as u64) as usize]),
                    _ => {}
                }
                assert_eq!(
                    strip_long(&s, p),
                    s.strip_prefix(p),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
    }

    /// [`port_words`] against [`trailing_port`] and the ` port ` before it,
    /// on texts near the shape: digits, spaces, `port`, other bytes, short
    /// texts, ports past 65535, bytes 0x3a..=0x3f and high bytes.
    #[test]
    fn port_words_are_trailing_port() {
        let mut next = crate::testing::xorshift(0xfa57_0003);
        let pieces: &[&[u8]] = &[
            b"0", b"1", b"5", b"6", b"9", b"65535", b"65536", b"99999", b"00022", b" ", b" port ",
            b"port ", b"port", b"x", b":", b";", b"?", b"/", b"\xff", b"\x80", b"\xb9", b"\xf9",
        ];
        let mut taken = [0; 2];
        for _ in 0..400_000 {
            let mut s = Vec::new();
            for _ in 0..(next() % 5) {
                s.extend_from_slice(pieces[(next() % pieces.len() as u64) as usize]);
            }
            if next() % 2 == 0 {
                s.extend_from_slice(b" port ");
            }
            for _ in 0..(next() % 7) {
                s.push(b"0123456789:/ \xb0"[(next() % 14) as usize]);
            }
            let general = trailing_port(&s)
                .and_then(|(t, port)| Some((strip_tail(t, b" port ", PORT)?, port)));
            for (i, fast) in [port_words::<5>(&s), port_words::<4>(&s)]
                .into_iter()
                .enumerate()
            {
                if let Some(found) = fast {
                    taken[i] += 1;
                    assert_eq!(Some(found), general, "{:?}", String::from_utf8_lossy(&s));
                }
            }
        }
        assert!(taken.iter().all(|&n| n > 3_000), "{taken:?}");
    }

    #[test]
    fn fast_path_takes_sshd_lines() {
        for m in [
            "Failed password for root from 1.2.3.4 port 22 ssh2",
            "Failed password for invalid user admin from 2001:db8::1 port 22 ssh2",
            "Invalid user test from 1.2.3.4 port 22",
            "Connection closed by 1.2.3.4 port 22",
            "Connection closed by invalid user x 1.2.3.4 port 22 [preauth]",
            "Connection reset by authenticating user root 1.2.3.4 port 22 [preauth]",
            "Disconnected from user alice 1.2.3.4 port 22",
            "Disconnected from 1.2.3.4 port 22",
            "Accepted publickey for a from 1.2.3.4 port 22 ssh2: ED25519 SHA256:x",
            "Accepted password for a from 1.2.3.4 port 22 ssh2",
            "Received disconnect from 1.2.3.4 port 22:11: Bye Bye [preauth]",
            "Received disconnect from 1.2.3.4 port 22:11: disconnected by user",
            "error: maximum authentication attempts exceeded for root from 1.2.3.4 port 22 ssh2 [preauth]",
            "Disconnecting invalid user x 1.2.3.4 port 22: Too many authentication failures [preauth]",
        ] {
            let mut f = Msg::new(Kind::Other);
            read(m.as_bytes(), &mut f).unwrap_or_else(|| panic!("{m}"));
            assert_eq!(f, classify_general(m.as_bytes()), "{m}");
        }
    }
}
