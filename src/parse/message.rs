//! sshd (and fail2ban) messages → event kind and fields.
//!
//! User names, methods and banners are attacker text: addresses are taken from
//! the position sshd writes them in, anchored from the right end of the
//! message, never from the first IP-looking token (see
//! `shared/reference/sshd-variants.md` §11 for the pitfalls this follows).

use std::net::IpAddr;
use std::sync::LazyLock;

use memchr::memmem::{Finder, FinderRev};

use super::ip::{
    parse_ip, parse_port, spaces, v4_in_tail_seen, v4_prefix, v4_suffix, v6_suffix_seen,
};
pub use super::text::Text;
use crate::event::Kind;

/// Built once: `memmem::find` builds a searcher per call, and that set-up
/// cost more than the search on a line (issue #15: ~200 instructions a line).
static PORT: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b" port "));
static FOR: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b" for "));
static COLON: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b": "));
static RHOST: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b" rhost="));
static R_FROM: LazyLock<FinderRev<'static>> = LazyLock::new(|| FinderRev::new(b" from "));
static R_NOT_ALLOWED: LazyLock<FinderRev<'static>> =
    LazyLock::new(|| FinderRev::new(b" not allowed because "));

/// How a message affects the connection it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Conn {
    #[default]
    None,
    /// A new connection starts (VERBOSE `Connection from …`).
    Opens,
    /// The connection ends: forget the pid → address binding afterwards.
    Closes,
}

/// A classified message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub kind: Kind,
    pub method: Option<Text>,
    pub user: Option<Text>,
    pub invalid_user: bool,
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    pub count: u32,
    pub conn: Conn,
    /// sysklogd's `last message repeated N times`: N copies of the previous event.
    pub repeat_last: Option<u32>,
    /// The message names its source by a host name (`UseDNS yes`) that is no
    /// address: the event has no address, and takes none from its connection.
    pub named_host: bool,
    /// A line without an address that ends a probe (`fatal: Read from socket
    /// failed`, `Unable to negotiate a key exchange method`): this kind when its
    /// connection's address is already known and it tried no password, else `other`.
    pub probe: Option<Kind>,
    /// A connection end written without `[preauth]` and without a user
    /// preamble: pre-auth (old sshd without privilege separation, the listener
    /// before the pre-auth child) unless its connection logged in.
    pub maybe_postauth: bool,
    /// A honeypot's record of the password tried (Cowrie), or of a command typed.
    pub honeypot: Option<Box<crate::event::Honeypot>>,
}

impl Msg {
    #[inline(always)]
    fn new(kind: Kind) -> Msg {
        Msg {
            kind,
            method: None,
            user: None,
            invalid_user: false,
            ip: None,
            port: None,
            count: 1,
            conn: Conn::None,
            repeat_last: None,
            named_host: false,
            probe: None,
            maybe_postauth: false,
            honeypot: None,
        }
    }
    #[inline(always)]
    fn at(mut self, ip: IpAddr, port: Option<u16>) -> Msg {
        self.ip = Some(ip);
        self.port = port;
        self
    }
    #[inline(always)]
    fn user(mut self, user: &[u8], invalid: bool) -> Msg {
        self.user = Some(decode_text(user));
        self.invalid_user = invalid;
        self
    }
    /// A message of a known program that is no event.
    pub fn other() -> Msg {
        Msg::new(Kind::Other)
    }
    #[inline(always)]
    fn probe(mut self, kind: Kind) -> Msg {
        self.probe = Some(kind);
        self
    }
    #[inline(always)]
    fn closes(mut self) -> Msg {
        self.conn = Conn::Closes;
        self
    }
}

/// Sets `slot`, which holds `None` (a field of a [`Msg::new`]), to `v`.
/// An assignment would drop the old value first, and in a `Msg` behind a
/// reference the compiler cannot see that it is `None`: a call of the drop
/// code for each name set (issue #15: ~6 instructions each).
#[inline(always)]
fn fill<T>(slot: &mut Option<T>, v: Option<T>) {
    debug_assert!(slot.is_none());
    // The old value is `None`: forgetting it leaks nothing.
    std::mem::forget(std::mem::replace(slot, v));
}

/// Classifies an sshd message. Every sshd line gives a `Msg` (kind
/// [`Kind::Other`] when it is not a security event), except that bare lines
/// with no program name are only accepted as known events (see [`classify_bare`]).
#[inline(always)]
pub fn classify(msg: &[u8]) -> Msg {
    let mut m = Msg::new(Kind::Other);
    classify_outlined(msg, &mut m);
    m
}

/// [`classify_into`] as a function of its own, for the callers but the
/// block parser's loop.
#[inline(never)]
fn classify_outlined(msg: &[u8], m: &mut Msg) {
    classify_into(msg, m);
}

/// [`classify`] written into `m`, a [`Msg::new`] of the caller's, in place:
/// the readers store only the fields they find, where a `Msg` returned by
/// value was built aside and copied field by field (issue #15). Inlined
/// into the block parser's loop, which calls it on nearly every line: as a
/// function of its own, it saved and restored six registers a call.
#[inline(always)]
pub(crate) fn classify_into(msg: &[u8], m: &mut Msg) {
    // The commonest messages.
    if fast::read(msg, m).is_none() {
        classify_rest(msg, m);
    }
}

/// [`classify`] for what its fast path leaves: `m` is still [`Msg::new`]'s.
#[inline(always)]
fn classify_rest(msg: &[u8], m: &mut Msg) {
    if let Some(kind) = fast::fixed(msg) {
        m.kind = kind;
    } else if let Some((r, n)) = or_else(fast::pam_failure(msg).map(|r| (r, 1)), || {
        fast::pam_more(msg)
    }) {
        // pam_unix's failures for sshd and sshd's `PAM <n> more
        // authentication failures`: the general reader's steps, without its
        // prelude and dispatch.
        pam_fields_into(r, n, m);
    } else {
        *m = classify_general(msg);
    }
}

/// [`classify`] for every message.
#[inline(never)]
fn classify_general(msg: &[u8]) -> Msg {
    // The first byte says whether a prefix can match at all (issue #15: these
    // compares ran on every line).
    let first = msg.first().copied();
    // rsyslog repeat reduction: `message repeated 5 times: [ Failed password …]`
    if let Some(rest) = (first == Some(b'm'))
        .then(|| msg.strip_prefix(b"message repeated "))
        .flatten()
    {
        if let Some((n, inner)) = repeated(rest) {
            let mut m = classify(inner);
            m.count = m.count.saturating_mul(n);
            return m;
        }
    }
    if let Some(rest) = (first == Some(b'l'))
        .then(|| msg.strip_prefix(b"last message repeated "))
        .flatten()
    {
        let n = rest
            .split(|&b| b == b' ')
            .next()
            .and_then(|n| std::str::from_utf8(n).ok()?.parse().ok());
        let mut m = Msg::new(Kind::Other);
        m.repeat_last = n;
        return m;
    }
    let msg = strip_level(msg);
    // PAM modules write their own lines, never suffixed by the monitor; a
    // trailing ` [preauth]` there belongs to the (attacker-chosen) user name.
    let (body, preauth) = if msg.starts_with(b"pam_") || msg.starts_with(b"PAM ") {
        (msg.trim_ascii_end(), false)
    } else {
        strip_preauth(msg)
    };
    // Matched, not unwrapped into a local: each move of the `Msg` was a
    // 112-byte copy (issue #15).
    match sshd(body, preauth) {
        // Lines relayed from the pre-auth child are vis-encoded twice (once by the
        // child, once by the monitor): `j\\303\\266` for `jö`.
        // (A byte loop: names are short, and `str::contains` searched with
        // set-up costs.)
        Some(m)
            if preauth
                && m.user
                    .as_ref()
                    .is_some_and(|u| u.bytes().any(|b| b == b'\\')) =>
        {
            decode_again(m)
        }
        Some(m) => m,
        None => Msg::new(Kind::Other),
    }
}

/// The user name of `m` decoded a second time.
#[cold]
fn decode_again(mut m: Msg) -> Msg {
    if let Some(u) = m.user.as_mut() {
        *u = decode_text(u.as_bytes());
    }
    m
}

/// A line with no program name (`sshd -e`, s6-log, Docker): accepted only if it
/// is a known sshd security message, so that stray text is not counted as sshd.
pub fn classify_bare(msg: &[u8]) -> Option<Msg> {
    let m = classify(msg);
    (m.kind != Kind::Other).then_some(m)
}

/// fail2ban: `NOTICE  [sshd] Ban 1.2.3.4`, `[sshd] Restore Ban …`, `Unban …`.
pub fn classify_fail2ban(msg: &[u8]) -> Option<Msg> {
    let open = memchr::memchr(b'[', msg)?;
    let close = open + memchr::memchr(b']', &msg[open..])?;
    let jail = &msg[open + 1..close];
    // Only SSH jails: fail2ban logs every service to the same file.
    if !contains(jail, b"ssh") {
        return None;
    }
    let rest = msg[close + 1..].trim_ascii_start();
    let (kind, ip) = if let Some(ip) = rest
        .strip_prefix(b"Ban ")
        .or_else(|| rest.strip_prefix(b"Restore Ban "))
    {
        (Kind::Ban, ip)
    } else if let Some(ip) = rest.strip_prefix(b"Unban ") {
        (Kind::Unban, ip)
    } else {
        return None;
    };
    let ip = parse_ip(first_token(ip))?;
    Some(Msg::new(kind).at(ip, None))
}

/// `error: ` / `fatal: ` exist only on the syslog channel; `kernel: [ 970.69] `
/// (or `kernel:[ 970.69]: `) in some journals.
fn strip_level(msg: &[u8]) -> &[u8] {
    let mut msg = msg.trim_ascii_start();
    if !matches!(msg.first(), Some(b'k' | b'e' | b'f' | b'd')) {
        // None of the prefixes below can match.
        return msg;
    }
    if let Some(r) = msg.strip_prefix(b"kernel:") {
        let r = r.trim_ascii_start();
        if let Some(close) = r.strip_prefix(b"[").and_then(|x| memchr::memchr(b']', x)) {
            let r = &r[close + 2..];
            msg = r.strip_prefix(b":").unwrap_or(r).trim_ascii_start();
        }
    }
    for p in [&b"error: "[..], b"fatal: ", b"debug1: "] {
        if let Some(r) = msg.strip_prefix(p) {
            return r;
        }
    }
    msg
}

fn strip_preauth(msg: &[u8]) -> (&[u8], bool) {
    let msg = msg.trim_ascii_end();
    if msg.last() != Some(&b']') {
        return (msg, false);
    }
    if let Some(r) = msg.strip_suffix(b" [preauth]") {
        (r, true)
    } else if let Some(r) = msg.strip_suffix(b" [postauth]") {
        (r, false)
    } else {
        (msg, false)
    }
}

fn repeated(rest: &[u8]) -> Option<(u32, &[u8])> {
    let sp = memchr::memchr(b' ', rest)?;
    let n: u32 = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
    let inner = rest[sp..].strip_prefix(b" times: [")?;
    let inner = inner.trim_ascii_end();
    let inner = inner.strip_suffix(b"]").unwrap_or(inner);
    Some((n, inner.trim_ascii_start()))
}

fn contains(h: &[u8], n: &[u8]) -> bool {
    memchr::memmem::find(h, n).is_some()
}

fn first_token(s: &[u8]) -> &[u8] {
    let s = s.trim_ascii_start();
    let end = s
        .iter()
        .position(|b| b.is_ascii_whitespace())
        .unwrap_or(s.len());
    &s[..end]
}

/// The dispatcher: first byte, then prefixes. Returns `None` for non-events.
fn sshd(m: &[u8], preauth: bool) -> Option<Msg> {
    match *m.first()? {
        b'F' => {
            if let Some(r) = m.strip_prefix(b"Failed ") {
                return auth_result(r, Kind::AuthFailure);
            }
            None
        }
        b'A' => {
            if let Some(r) = m.strip_prefix(b"Accepted ") {
                return auth_result(r, Kind::AuthSuccess);
            }
            if let Some(r) = m.strip_prefix(b"Access denied for user ") {
                // `fatal: Access denied for user X by PAM account configuration`
                let end =
                    memchr::memmem::rfind(r, b" by PAM account configuration").unwrap_or(r.len());
                return Some(Msg::new(Kind::Refused).user(&r[..end], false));
            }
            None
        }
        b'I' => {
            if let Some(r) = m
                .strip_prefix(b"Invalid user ")
                .or_else(|| m.strip_prefix(b"Illegal user "))
            {
                return invalid_user(r);
            }
            None
        }
        b'C' => {
            if let Some(r) = m
                .strip_prefix(b"Connection closed by ")
                .or_else(|| m.strip_prefix(b"Connection reset by "))
            {
                return closed_by(r, preauth);
            }
            if let Some(r) = m.strip_prefix(b"Connection from ") {
                // VERBOSE: `Connection from IP port N on LADDR port LPORT`.
                let (ip, port) = ip_port_prefix(r)?;
                let mut msg = Msg::new(Kind::Other).at(ip, port);
                msg.conn = Conn::Opens;
                return Some(msg);
            }
            if m.starts_with(b"Corrupted MAC on input") {
                return Some(Msg::new(Kind::BadProtocol));
            }
            None
        }
        b'D' => {
            if let Some(r) = m.strip_prefix(b"Disconnected from ") {
                return disconnected_from(r, preauth);
            }
            if let Some(r) = m.strip_prefix(b"Disconnecting: ") {
                return disconnecting_colon(r);
            }
            if let Some(r) = m.strip_prefix(b"Disconnecting ") {
                return disconnecting_user(r);
            }
            if let Some(r) = m.strip_prefix(b"Did not receive identification string from ") {
                let (ip, port) = ip_maybe_port_end(r)?;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            None
        }
        b'R' => {
            if let Some(r) = m.strip_prefix(b"Received disconnect from ") {
                let (ip, port) = ip_until_colon(r)?;
                if preauth {
                    return Some(Msg::new(Kind::PreauthClose).at(ip, port).closes());
                }
                // Without `[preauth]`: the session's end, written by the post-auth
                // child (another pid than the login's), with code 11
                // (`disconnected by user`); or a pre-auth end of an sshd without
                // privilege separation (`3: …: Auth fail` from a brute-force client).
                if disconnect_code(r) == Some(11) {
                    return Some(Msg::new(Kind::Other).at(ip, port).closes());
                }
                let mut msg = connection_end(Who::Nobody, ip, port, false);
                // Not the last line: `Disconnected from …` follows (7.2+).
                msg.conn = Conn::None;
                return Some(msg);
            }
            if m.starts_with(b"Read from socket failed: ") {
                // OpenSSH <= 6.7: the client reset the connection.
                return Some(Msg::new(Kind::Other).probe(Kind::BadProtocol));
            }
            if let Some(r) = m.strip_prefix(b"ROOT LOGIN REFUSED FROM ") {
                let (ip, port) = ip_maybe_port_end(r)?;
                let mut msg = Msg::new(Kind::Refused).at(ip, port);
                msg.user = Some("root".into());
                return Some(msg);
            }
            None
        }
        b'r' => {
            if let Some(r) = m.strip_prefix(b"refused connect from ") {
                // libwrap: `refused connect from NAME (IP)`
                let r = r.strip_suffix(b")")?;
                let open = memchr::memrchr(b'(', r)?;
                let ip = parse_ip(&r[open + 1..])?;
                return Some(Msg::new(Kind::Refused).at(ip, None).closes());
            }
            None
        }
        b'U' => {
            if let Some(r) = m.strip_prefix(b"User ") {
                return user_not_allowed(r);
            }
            if let Some(r) = m.strip_prefix(b"Unable to negotiate with ") {
                let (ip, port) = ip_until_colon(r)?;
                return Some(Msg::new(Kind::NegotiationFailure).at(ip, port).closes());
            }
            if m.starts_with(b"Unable to negotiate a key exchange method") {
                // OpenSSH <= 6.7, no address.
                return Some(Msg::new(Kind::Other).probe(Kind::NegotiationFailure));
            }
            None
        }
        b'B' => {
            if let Some(r) = m.strip_prefix(b"Bad protocol version identification ") {
                // The banner is attacker text: anchor the address on the right.
                let (before, ip, port) = from_ip_maybe_port_end(r)?;
                let _ = before;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            if m.starts_with(b"Bad packet length")
                || m.starts_with(b"Bad remote protocol version identification")
            {
                return Some(Msg::new(Kind::BadProtocol));
            }
            None
        }
        b'b' => {
            if let Some(r) = m.strip_prefix(b"banner exchange: Connection from ") {
                let (ip, port) = ip_until_colon(r)?;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            None
        }
        b'n' => {
            // OpenSSH <= 6.7: `no matching <cipher|mac|comp> found: client … server …` (K14).
            if m.starts_with(b"no matching ") && contains(m, b" found: client ") {
                return Some(Msg::new(Kind::Other).probe(Kind::NegotiationFailure));
            }
            None
        }
        b'S' => {
            // A patched sshd's connection trace (fail2ban gh-864):
            // `SSH: Server;Ltype: Version;Remote: 127.0.0.1-1780;Protocol: 2.0;…`.
            if let Some(r) = m.strip_prefix(b"SSH: Server;Ltype: ") {
                let r = &r[memchr::memmem::find(r, b";Remote: ")? + 9..];
                let r = &r[..memchr::memchr(b';', r).unwrap_or(r.len())];
                let dash = memchr::memrchr(b'-', r)?;
                let ip = parse_ip(&r[..dash])?;
                return Some(Msg::new(Kind::Other).at(ip, parse_port(&r[dash + 1..])));
            }
            None
        }
        b'k' => {
            if m.starts_with(b"kex_exchange_identification: ") {
                return Some(Msg::new(Kind::BadProtocol));
            }
            None
        }
        b'm' => {
            if let Some(r) = m.strip_prefix(b"maximum authentication attempts exceeded for ") {
                return for_user_from_ssh2(r, Kind::TooManyFailures);
            }
            None
        }
        b'd' => {
            if let Some(r) = m.strip_prefix(b"drop connection #") {
                return drop_connection(r);
            }
            None
        }
        b'p' => {
            if let Some(p) = m.strip_prefix(b"pam_unix(") {
                // `pam_unix(<service>:<facility>): `, sshd's own first
                // (issue #15: a substring search built per line cost ~350
                // instructions).
                let rest = match p.strip_prefix(b"sshd:auth): ") {
                    Some(rest) => rest,
                    None => {
                        let colon = find_paren_colon(p)?;
                        if !p[..colon].ends_with(b":auth") {
                            return None;
                        }
                        &p[colon + 3..]
                    }
                };
                return pam_fields(rest.strip_prefix(b"authentication failure;")?, 1);
            }
            if let Some(r) = m.strip_prefix(b"probed from ") {
                return probed(r);
            }
            None
        }
        b'a' => {
            if let Some(r) = m.strip_prefix(b"administratively prohibited connection for ") {
                return for_user_from(r, Kind::Refused);
            }
            // sshd(pam_unix)[pid]: authentication failure; … (2005-era RHEL)
            if let Some(r) = m.strip_prefix(b"authentication failure;") {
                return pam_fields(r, 1);
            }
            None
        }
        b'P' => {
            if let Some(x) = m.strip_prefix(b"PAM: ") {
                // `error: PAM: <pam_strerror> for [illegal user ]<u> from <host>`;
                // the text's case differs between PAM implementations (Linux-PAM,
                // OpenPAM, Apple's).
                const FAILURES: [&[u8]; 4] = [
                    b"authentication failure for ",
                    b"authentication error for ",
                    b"user not known to the underlying authentication module for ",
                    b"unknown user for ",
                ];
                let r2 = FAILURES.iter().find_map(|p| {
                    x.get(..p.len())
                        .filter(|h| h.eq_ignore_ascii_case(p))
                        .map(|_| &x[p.len()..])
                })?;
                return pam_error(r2);
            }
            if let Some(r) = m.strip_prefix(b"Postponed ") {
                return postponed(r);
            }
            if let Some(r) = m.strip_prefix(b"PAM ") {
                // `PAM 4 more authentication failures; … rhost=IP  user=root`
                let sp = memchr::memchr(b' ', r)?;
                let n: u32 = std::str::from_utf8(&r[..sp]).ok()?.parse().ok()?;
                let rest = &r[sp + 1..];
                let rest = rest
                    .strip_prefix(b"more authentication failures;")
                    .or_else(|| rest.strip_prefix(b"more authentication failure;"))?;
                return pam_fields(rest, n);
            }
            if let Some(r) = m.strip_prefix(b"Protocol major versions differ for ") {
                let (ip, port) = ip_until_colon(r)?;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            None
        }
        b's' => {
            if let Some(r) = m.strip_prefix(b"srclimit_penalise: ") {
                return srclimit(r);
            }
            if let Some(r) = m.strip_prefix(b"ssh_dispatch_run_fatal: Connection from ") {
                let (ip, port) = preamble_ip_port_colon(r)?;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            if let Some(r) = m.strip_prefix(b"ssh_dispatch_run_fatal: Connection to ") {
                let (ip, port) = ip_until_colon(r)?;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            if let Some(r) = m.strip_prefix(b"scanned from ") {
                return probed(r);
            }
            None
        }
        b'T' => {
            if let Some(r) = m.strip_prefix(b"Timeout before authentication for ") {
                if let Some(r) = r.strip_prefix(b"connection from ") {
                    // 9.8+ listener: `… from IP to LADDR, pid = N`
                    let end = memchr::memmem::find(r, b" to ").unwrap_or(r.len());
                    let ip = parse_ip(&r[..end])?;
                    return Some(Msg::new(Kind::PreauthClose).at(ip, None));
                }
                let (ip, port) = ip_maybe_port_end(r)?;
                return Some(Msg::new(Kind::PreauthClose).at(ip, port).closes());
            }
            if let Some(r) = m.strip_prefix(b"Too many authentication failures for ") {
                return Some(too_many_user(r));
            }
            None
        }
        b'M' => {
            if let Some(r) = m.strip_prefix(b"Magic value check failed (") {
                let r = &r[memchr::memmem::find(r, b" from ")? + 6..];
                let (ip, port) = ip_maybe_port_end(r)?;
                return Some(Msg::new(Kind::BadProtocol).at(ip, port).closes());
            }
            None
        }
        _ => None,
    }
}

/// `<m> for [invalid user ]<u> from <ip> port <n> ssh2[: …]` (A1–A11).
fn auth_result(r: &[u8], kind: Kind) -> Option<Msg> {
    // sshd's common methods (`Text`s built at compile time), else the first ` for `.
    let (method, rest) = if let Some(rest) = r.strip_prefix(b"password for ") {
        (PASSWORD, rest)
    } else if let Some(rest) = r.strip_prefix(b"publickey for ") {
        (PUBLICKEY, rest)
    } else {
        let for_at = find_for(r)?;
        (decode_text(&r[..for_at]), &r[for_at + 5..])
    };
    // Old sshd wrote no `port N` (or no `ssh2`): then the address ends the
    // message. Never for lines that may carry no address at all (`Too many
    // authentication failures for <u>`): a name ending in `from 1.2.3.4` would
    // become the source.
    let (who, ip, port) = match from_ip_port_ssh2(rest) {
        Some(found) => found,
        None => from_ip_maybe_port_end(rest)?,
    };
    // SunSSH / Solaris: the name is not logged.
    let (user, invalid_user) = match who {
        b"<invalid username>" => (None, true),
        _ => {
            let (user, invalid) = strip_invalid(who);
            (Some(decode_text(user)), invalid)
        }
    };
    // Built in place, where the builder's steps moved the whole `Msg`.
    Some(Msg {
        method: Some(method),
        user,
        invalid_user,
        ip: Some(ip),
        port,
        ..Msg::new(kind)
    })
}

const PASSWORD: Text = Text::from_static("password");
const PUBLICKEY: Text = Text::from_static("publickey");

/// The first ` for ` in `r`. sshd's method is one word, so it nearly always
/// starts at the first space: checked there before the searcher runs (an
/// occurrence starts with a space, so none comes before the first one).
fn find_for(r: &[u8]) -> Option<usize> {
    match r.iter().position(|&b| b == b' ') {
        Some(sp) if r[sp..].starts_with(b" for ") => Some(sp),
        _ => FOR.find(r),
    }
}

/// `Postponed <m> for [invalid user ]<u> from <ip> port <n> ssh2` (A13):
/// `invalid_user` for an invalid one; for a valid one only the address.
fn postponed(r: &[u8]) -> Option<Msg> {
    let rest = &r[find_for(r)? + 5..];
    let (who, ip, port) = from_ip_port_ssh2(rest)?;
    let (user, invalid) = strip_invalid(who);
    if invalid {
        return Some(Msg::new(Kind::InvalidUser).at(ip, port).user(user, true));
    }
    Some(Msg::new(Kind::Other).at(ip, port))
}

/// `invalid user X` / `illegal user X` → (X, true).
fn strip_invalid(who: &[u8]) -> (&[u8], bool) {
    for p in [&b"invalid user "[..], b"illegal user "] {
        if let Some(u) = who.strip_prefix(p) {
            return (u, true);
        }
    }
    if who == b"invalid user" || who == b"illegal user" {
        return (b"", true);
    }
    (who, false)
}

/// Finds sshd's `from <ip> port <n> ssh2`, followed by the end of the message
/// or by `: INFO`, and returns the text before it (the user), the address and
/// the port.
///
/// Both sides are attacker text: the user name before it, and INFO after it
/// (the client's auth info, a certificate ID, hostbased `client user`/`client
/// host`, ssh1 `ruser`). A fake in the name is followed by more name and then
/// ` from <real>`, never directly by the end or `: `, so it is no candidate; a
/// fake in INFO comes after the real one. So the first candidate wins.
fn from_ip_port_ssh2(s: &[u8]) -> Option<(&[u8], IpAddr, Option<u16>)> {
    ssh2_at_end(s).or_else(|| ssh2_first_candidate(s))
}

/// [`from_ip_port_ssh2`] by its definition: the first candidate.
fn ssh2_first_candidate(s: &[u8]) -> Option<(&[u8], IpAddr, Option<u16>)> {
    Ports { s, pos: 0 }.find_map(|at| ssh2_candidate(s, at))
}

/// The common case of [`from_ip_port_ssh2`], read from the right end: `<who>
/// from <IPv4> port <n>[ ssh2]` ends `s` and `<who>` holds no `:`. Then no
/// earlier candidate exists: one would be followed by `: `, and that `:`
/// would lie in `<who>` (neither ` from `, the address nor what follows
/// holds one). `None` sends the caller to the general reader (issue #15: the
/// candidate search took ~600 instructions a `Failed password` line).
fn ssh2_at_end(s: &[u8]) -> Option<(&[u8], IpAddr, Option<u16>)> {
    // Slice patterns: byte compares in place, where `strip_suffix` called
    // the library's comparison.
    let t = match s {
        [t @ .., b' ', b's', b's', b'h', b'1' | b'2'] => t,
        _ => s,
    };
    let (t, port) = trailing_port(t)?;
    let [head @ .., b' ', b'p', b'o', b'r', b't', b' '] = t else {
        return None;
    };
    // An address that starts `head` has no ` from` before it: `None` below.
    let (w, ip) = match v4_token_end(head) {
        Some(found) => found,
        None => ip_token_end(head)?,
    };
    let who = match w {
        [who @ .., b' ', b'f', b'r', b'o', b'm'] => who,
        b"from" => &[][..],
        _ => return None,
    };
    if has_colon(who) {
        return None;
    }
    Some((who, ip, Some(port)))
}

/// Whether `s` holds a `:`, eight bytes at a time: names are short, and
/// memchr's set-up cost more than the search (issue #15).
#[allow(clippy::manual_contains)]
fn has_colon(s: &[u8]) -> bool {
    if s.len() < 8 {
        return s.iter().any(|&b| b == b':');
    }
    // Eight bytes a word, the last word overlapping the one before.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const COLONS: u64 = 0x3a3a_3a3a_3a3a_3a3a;
    let has = |w: &[u8]| {
        let x = u64::from_le_bytes(w.try_into().unwrap()) ^ COLONS;
        x.wrapping_sub(ONES) & !x & (ONES << 7) != 0
    };
    s.chunks_exact(8).any(has) || has(&s[s.len() - 8..])
}

/// A port of 1–5 digits ending `t` (no more digits before them), and the
/// text before it. `None`: no digit, more than five, or past 65535.
///
/// The last eight bytes as one word: which are digits, then their value by
/// three multiplications, where a loop took ~80 instructions a port
/// (issue #15). Shorter texts: [`trailing_port_loop`].
#[inline(always)]
fn trailing_port(t: &[u8]) -> Option<(&[u8], u16)> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let Some(at) = t.len().checked_sub(8) else {
        return trailing_port_loop(t);
    };
    // Byte 7: the last one of `t`.
    let x = u64::from_le_bytes(t[at..].try_into().unwrap());
    // A byte is a digit when its low seven bits are 0x30..=0x39 and its high
    // bit is clear (the additions stay inside each byte).
    let low = x & !HIGH;
    let at_least_0 = low.wrapping_add(0x5050_5050_5050_5050);
    let past_9 = low.wrapping_add(0x4646_4646_4646_4646);
    let digit = at_least_0 & !past_9 & !x & HIGH;
    // The digits that end the word.
    let n = ((!digit & HIGH).leading_zeros() / 8) as usize;
    if n == 0 || n > 5 {
        return None;
    }
    // Those bytes as digit values; the others zero: leading zeros.
    let keep = u64::MAX << (8 * (8 - n));
    let v = eight_digits((x & keep) - (ZEROS & keep));
    Some((&t[..t.len() - n], u16::try_from(v).ok()?))
}

/// The value of eight decimal digits, the first in the lowest byte (each
/// byte 0–9): pairs, then fours, then all eight, each step a multiplication.
#[inline(always)]
fn eight_digits(v: u64) -> u32 {
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    const MASK: u64 = 0x0000_00ff_0000_00ff;
    const MUL1: u64 = 100 + (1_000_000 << 32);
    const MUL2: u64 = 1 + (10_000 << 32);
    ((v & MASK)
        .wrapping_mul(MUL1)
        .wrapping_add(((v >> 16) & MASK).wrapping_mul(MUL2))
        >> 32) as u32
}

/// [`trailing_port`] a byte at a time.
fn trailing_port_loop(t: &[u8]) -> Option<(&[u8], u16)> {
    let mut i = t.len();
    let stop = i.saturating_sub(5);
    let mut v = 0u32;
    let mut mul = 1u32;
    while i > stop {
        let d = t[i - 1].wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        v += u32::from(d) * mul;
        mul *= 10;
        i -= 1;
    }
    if i == t.len() || (i > 0 && t[i - 1].is_ascii_digit()) {
        return None;
    }
    Some((&t[..i], u16::try_from(v).ok()?))
}

/// Where ` port ` occurs in `s`, first to last, not overlapping: what
/// `PORT.find_iter` gives. The `p`s are few in a line's tail, and memchr's
/// search for them costs less than the substring searcher's set-up on a
/// short haystack (issue #15).
struct Ports<'a> {
    s: &'a [u8],
    /// Where the next occurrence may start.
    pos: usize,
}

impl Iterator for Ports<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        let s = self.s;
        // The `p` of an occurrence at `pos` or later.
        let mut i = self.pos + 1;
        while i < s.len() {
            let j = i + memchr::memchr(b'p', &s[i..])?;
            if s[j - 1] == b' ' && s[j..].starts_with(b"port ") {
                self.pos = j - 1 + 6;
                return Some(j - 1);
            }
            i = j + 1;
        }
        None
    }
}

/// The first ` port ` in `s`.
fn find_port(s: &[u8]) -> Option<usize> {
    Ports { s, pos: 0 }.next()
}

fn ssh2_candidate(s: &[u8], port_at: usize) -> Option<(&[u8], IpAddr, Option<u16>)> {
    let before = &s[..port_at];
    let sp = memchr::memrchr(b' ', before)?;
    let ip = parse_ip(&before[sp + 1..])?;
    let who = before[..sp]
        .strip_suffix(b" from")
        .or_else(|| (&before[..sp] == b"from").then_some(&b""[..]))?;
    let after = &s[port_at + 6..];
    let digits = after.iter().take_while(|b| b.is_ascii_digit()).count();
    let port = parse_port(&after[..digits])?;
    let tail = &after[digits..];
    let tail = tail
        .strip_prefix(b" ssh2")
        .or_else(|| tail.strip_prefix(b" ssh1"))
        .unwrap_or(tail);
    if !(tail.is_empty() || tail.starts_with(b": ")) {
        return None;
    }
    Some((who, ip, Some(port)))
}

/// `[invalid user ]<u> from <ip> port <n> ssh2` (M2, M3).
fn for_user_from_ssh2(r: &[u8], kind: Kind) -> Option<Msg> {
    let (who, ip, port) = from_ip_port_ssh2(r)?;
    let (user, invalid) = strip_invalid(who);
    Some(Msg::new(kind).at(ip, port).user(user, invalid))
}

/// `[invalid user ]<u> from <ip> port <n>` (U8).
fn for_user_from(r: &[u8], kind: Kind) -> Option<Msg> {
    let (before, ip, port) = from_ip_maybe_port_end(r)?;
    let (user, invalid) = strip_invalid(before);
    Some(Msg::new(kind).at(ip, port).user(user, invalid))
}

/// `Invalid user <u> from <ip>[ port <n>]` (U1–U3).
fn invalid_user(r: &[u8]) -> Option<Msg> {
    let (user, ip, port) = from_ip_maybe_port_end(r)?;
    Some(Msg {
        user: Some(decode_text(user)),
        invalid_user: true,
        ip: Some(ip),
        port,
        ..Msg::new(Kind::InvalidUser)
    })
}

/// `<before> from <ip>[ port <n>]` at the end of `s`.
fn from_ip_maybe_port_end(s: &[u8]) -> Option<(&[u8], IpAddr, Option<u16>)> {
    let (before, ip, port) = ip_port_end(s)?;
    let before = before
        .strip_suffix(b" from")
        .or_else(|| (before == b"from").then_some(&b""[..]))?;
    Some((before, ip, port))
}

/// `<ip>[ port <n>]` ending `s`; returns the text before the address (without its space).
fn ip_port_end(s: &[u8]) -> Option<(&[u8], IpAddr, Option<u16>)> {
    let s = s.trim_ascii_end();
    // ` port <digits>` at the very end: the trailing digits, then the words
    // before them (the last ` port ` is the only one digits alone can follow).
    let (head, port) = match trailing_port(s) {
        Some(([head @ .., b' ', b'p', b'o', b'r', b't', b' '], port)) => (head, Some(port)),
        // Up to five digits, no ` port ` before them: no port.
        Some(_) => (s, None),
        None => port_end(s)?,
    };
    let (before, ip) = match v4_token_end(head) {
        Some(found) => found,
        None => ip_token_end(head)?,
    };
    Some((before, ip, port))
}

/// [`ip_port_end`]'s port by its definition, for what [`trailing_port`]
/// leaves: no digit, or more than it reads.
fn port_end(s: &[u8]) -> Option<(&[u8], Option<u16>)> {
    let digits = s.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    let num = s.len() - digits;
    Some(match s[..num].strip_suffix(b" port ") {
        Some(head) if digits > 0 => (head, Some(parse_port(&s[num..])?)),
        _ => (s, None),
    })
}

/// The address that is the last word of `s`, and the text before it (without
/// its space).
fn ip_token_end(s: &[u8]) -> Option<(&[u8], IpAddr)> {
    if let Some(found) = v6_token_end(s) {
        return Some(found);
    }
    let sp = memchr::memrchr(b' ', s);
    let tok = match sp {
        Some(i) => &s[i + 1..],
        None => s,
    };
    let ip = parse_ip(tok)?;
    let before = match sp {
        Some(i) => &s[..i],
        None => &[][..],
    };
    Some((before, ip))
}

/// [`ip_token_end`] for IPv4, nearly every address: read from the right end
/// in place, the token is the address when a space or the start precedes it
/// (issue #15: with the token search and a padded copy, `ip_port_end` took
/// ~480 instructions a line).
/// `None`: no IPv4 word, left to the general reader.
#[inline(always)]
fn v4_token_end(s: &[u8]) -> Option<(&[u8], IpAddr)> {
    let (at, v4) = v4_suffix(s)?;
    Some((word_before(s, at)?, IpAddr::V4(v4)))
}

/// [`ip_token_end`] for hex-only IPv6 ([`v6_suffix_seen`]), nearly every IPv6
/// address sshd writes. `None`: left to the general reader.
#[inline(always)]
fn v6_token_end(s: &[u8]) -> Option<(&[u8], IpAddr)> {
    let (at, v6) = v6_suffix_seen(s)?;
    Some((word_before(s, at)?, IpAddr::V6(v6).to_canonical()))
}

/// The text before the last word of `s`, which starts at `at`: `None`
/// when no space (or the start of `s`) comes before it.
#[inline(always)]
fn word_before(s: &[u8], at: usize) -> Option<&[u8]> {
    match at.checked_sub(1) {
        None => Some(&[][..]),
        Some(sp) if s[sp] == b' ' => Some(&s[..sp]),
        Some(_) => None,
    }
}

fn ip_maybe_port_end(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    let (before, ip, port) = ip_port_end(s)?;
    before.is_empty().then_some((ip, port))
}

/// `<ip> port <n>[ on …]` at the start of `s`.
fn ip_port_prefix(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    let sp = memchr::memchr(b' ', s).unwrap_or(s.len());
    let ip = parse_ip(&s[..sp])?;
    let rest = &s[sp..];
    let port = rest.strip_prefix(b" port ").and_then(|p| {
        let d = p.iter().take_while(|b| b.is_ascii_digit()).count();
        parse_port(&p[..d])
    });
    Some((ip, port))
}

/// `<ip> port <n>:…` or `<ip>: …` (old, no port) at the start of `s`.
fn ip_until_colon(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    v4_port_prefix(s).or_else(|| ip_until_colon_general(s))
}

/// [`ip_until_colon`] for `<IPv4> port <n>`, read in place: that ` port ` is
/// the first one, since the address holds no space (issue #15).
fn v4_port_prefix(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    let (ip, port, _) = v4_port_rest(s)?;
    Some((ip, port))
}

/// [`v4_port_prefix`] and the text after the port's digits.
#[inline(always)]
fn v4_port_rest(s: &[u8]) -> Option<(IpAddr, Option<u16>, &[u8])> {
    let (v4, n) = v4_prefix(s)?;
    let p = s[n..].strip_prefix(b" port ")?;
    let (port, d) = leading_port(p);
    Some((IpAddr::V4(v4), port, &p[d..]))
}

/// The digits that start `p`: the port they write (`None` for none, more
/// than five, or past 65535, as [`parse_port`] reads them) and how many
/// there are. The first eight bytes as one word, as [`trailing_port`]
/// reads them, where a loop took ~10 instructions a digit (issue #15);
/// shorter texts and eight digits or more: [`leading_port_loop`].
#[inline(always)]
fn leading_port(p: &[u8]) -> (Option<u16>, usize) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    let Some(w) = p.first_chunk::<8>() else {
        return leading_port_loop(p);
    };
    // Byte 0: the first one of `p`.
    let x = u64::from_le_bytes(*w);
    // A byte is a digit when its low seven bits are 0x30..=0x39 and its high
    // bit is clear (the additions stay inside each byte).
    let low = x & !HIGH;
    let digit = low.wrapping_add(0x5050_5050_5050_5050)
        & !low.wrapping_add(0x4646_4646_4646_4646)
        & !x
        & HIGH;
    let other = !digit & HIGH;
    if other == 0 {
        return leading_port_loop(p);
    }
    // The digits that start the word.
    let d = (other.trailing_zeros() / 8) as usize;
    let port = match d {
        // Those bytes at the top of the word as digit values, zeros below:
        // leading zeros.
        1..=5 => {
            let up = 8 * (8 - d);
            u16::try_from(eight_digits((x << up) - (ZEROS << up))).ok()
        }
        _ => None,
    };
    (port, d)
}

/// [`leading_port`] a byte at a time: the digits, and what [`parse_port`]
/// reads in them, in one pass.
fn leading_port_loop(p: &[u8]) -> (Option<u16>, usize) {
    let mut v = 0u32;
    let mut d = 0;
    while let Some(x) = p.get(d).map(|b| b.wrapping_sub(b'0')).filter(|&x| x <= 9) {
        v = v.saturating_mul(10).saturating_add(u32::from(x));
        d += 1;
    }
    let port = match d {
        1..=5 => u16::try_from(v).ok(),
        _ => None,
    };
    (port, d)
}

fn ip_until_colon_general(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    if let Some(at) = find_port(s) {
        if let Some(ip) = parse_ip(&s[..at]) {
            let p = &s[at + 6..];
            let d = p.iter().take_while(|b| b.is_ascii_digit()).count();
            return Some((ip, parse_port(&p[..d])));
        }
    }
    let end = COLON.find(s).unwrap_or(s.len());
    let tok = &s[..end];
    let tok = tok.strip_suffix(b":").unwrap_or(tok);
    Some((parse_ip(tok)?, None))
}

/// The reason code of `Received disconnect from <ip> port <n>:<code>: …` or
/// `… from <ip>: <code>: …`.
fn disconnect_code(r: &[u8]) -> Option<u32> {
    let rest = match find_port(r) {
        Some(at) => {
            let p = &r[at + 6..];
            &p[p.iter().take_while(|b| b.is_ascii_digit()).count()..]
        }
        None => &r[COLON.find(r)?..],
    };
    code_after(rest)
}

/// [`disconnect_code`] in what follows the port's digits (or the address):
/// `:<code>` after optional blanks. The digits read as `str::parse` reads
/// them (`None` past `u32::MAX`), without its UTF-8 check (issue #15).
#[inline]
fn code_after(rest: &[u8]) -> Option<u32> {
    let rest = rest.strip_prefix(b":")?.trim_ascii_start();
    let d = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if d == 0 {
        return None;
    }
    rest[..d].iter().try_fold(0u32, |a, &b| {
        a.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// ssh_dispatch_run_fatal: `[authenticating user X |invalid user X ]<ip> port <n>: <err>`
fn preamble_ip_port_colon(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    // The error text after `: ` is server-generated; the preamble may hold a user
    // name, so anchor on the first `port N: ` whose preceding token is an address.
    let finder = &*PORT;
    let mut found = None;
    for at in finder.find_iter(s) {
        let p = &s[at + 6..];
        let d = p.iter().take_while(|b| b.is_ascii_digit()).count();
        if d == 0 || !(p[d..].starts_with(b": ") || p[d..].is_empty()) {
            continue;
        }
        let before = &s[..at];
        let tok = &before[memchr::memrchr(b' ', before).map_or(0, |i| i + 1)..];
        if let (Some(ip), Some(port)) = (parse_ip(tok), parse_port(&p[..d])) {
            found = Some((ip, Some(port)));
        }
    }
    found.or_else(|| ip_until_colon(s))
}

/// Who sshd says is at the other end, before the address (packet.c `remote_id`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Who<'a> {
    /// No preamble: before the user name was sent, or sshd < 7.5.
    Nobody,
    /// `authenticating user X` / `invalid user X` (bool: invalid): pre-auth.
    Trying(&'a [u8], bool),
    /// `user X`: logged in.
    LoggedIn(&'a [u8]),
}

/// `[(authenticating|invalid) user <u> |user <u> ]<ip>[ port <n>]`.
fn user_preamble(s: &[u8]) -> Option<(Who<'_>, IpAddr, Option<u16>)> {
    let (before, ip, port) = ip_port_end(s)?;
    if before.is_empty() {
        return Some((Who::Nobody, ip, port));
    }
    Some((preamble(before)?, ip, port))
}

/// The words before the address of [`user_preamble`], when not empty:
/// `authenticating user X`, `invalid user X`, `user X` (post-auth); monitor.c
/// may drop the space: `authenticatinguser X` (sshd-variants §11.17). Chosen
/// by the first byte, where trying the four prefixes in turn cost ~40
/// instructions a line (issue #15). Inlined into the fast readers: a call
/// returned the `Who` through memory (~8 instructions a line).
#[inline(always)]
fn preamble(who: &[u8]) -> Option<Who<'_>> {
    match who.first()? {
        b'a' => or_else(after_words(who, b"authenticating user "), || {
            after_words(who, b"authenticatinguser ")
        })
        .map(|u| Who::Trying(u, false)),
        b'i' => after_words(who, b"invalid user ").map(|u| Who::Trying(u, true)),
        b'u' => after_words(who, b"user ").map(Who::LoggedIn),
        _ => None,
    }
}

/// The name after the words `p` (which end with a space); empty for the
/// words alone without it: `invalid user  192.0.2.68` leaves `invalid user` +
/// nothing.
#[inline(always)]
fn after_words<'a>(who: &'a [u8], p: &[u8]) -> Option<&'a [u8]> {
    or_else(who.strip_prefix(p), || {
        (who == &p[..p.len() - 1]).then_some(&b""[..])
    })
}

/// `a.or_else(b)`, always inlined: in `classify`'s large reader the
/// library's `or_else` stayed a call (~12 instructions each, issue #15).
#[inline(always)]
fn or_else<T>(a: Option<T>, b: impl FnOnce() -> Option<T>) -> Option<T> {
    match a {
        Some(x) => Some(x),
        None => b(),
    }
}

/// A connection end: `preauth_close`, or `other` after a login.
fn connection_end(who: Who<'_>, ip: IpAddr, port: Option<u16>, preauth: bool) -> Msg {
    let kind = match who {
        Who::LoggedIn(_) if !preauth => Kind::Other,
        _ => Kind::PreauthClose,
    };
    let (user, invalid_user) = match who {
        Who::Nobody => (None, false),
        Who::Trying(u, invalid) => (Some(decode_text(u)), invalid),
        Who::LoggedIn(u) => (Some(decode_text(u)), false),
    };
    Msg {
        user,
        invalid_user,
        ip: Some(ip),
        port,
        conn: Conn::Closes,
        maybe_postauth: !preauth && who == Who::Nobody,
        ..Msg::new(kind)
    }
}

/// `Connection closed by …` / `Connection reset by …` (C1–C4). Without
/// `[preauth]`: the listener's close of a connection that sent no banner
/// (OpenSSH >= 8.0), old sshd without privilege separation, or a logout.
fn closed_by(r: &[u8], preauth: bool) -> Option<Msg> {
    let (who, ip, port) = user_preamble(r)?;
    Some(connection_end(who, ip, port, preauth))
}

/// `Disconnected from [(authenticating|invalid) user <u> |user <u> ]<ip> port <n>` (C5, C6).
/// Without `[preauth]` and without a preamble it is the logout of sshd 7.2–7.4
/// (written by the session's process, whose pid never logged the login).
fn disconnected_from(r: &[u8], preauth: bool) -> Option<Msg> {
    let (who, ip, port) = user_preamble(r)?;
    if !preauth && who == Who::Nobody {
        return Some(Msg::new(Kind::Other).at(ip, port).closes());
    }
    Some(connection_end(who, ip, port, preauth))
}

/// `Disconnecting: …` (M1, M2, M4, M6, K17).
fn disconnecting_colon(r: &[u8]) -> Option<Msg> {
    if let Some(u) = r.strip_prefix(b"Too many authentication failures for ") {
        return Some(too_many_user(u).closes());
    }
    if r.starts_with(b"Too many authentication failures") {
        return Some(Msg::new(Kind::TooManyFailures).closes());
    }
    if r.starts_with(b"Packet corrupt")
        || r.starts_with(b"Bad packet length")
        || r.starts_with(b"Corrupted MAC")
    {
        return Some(Msg::new(Kind::BadProtocol).closes());
    }
    Some(Msg::new(Kind::PreauthClose).closes())
}

/// `[invalid user ]<u>[ from <ip> port <n> ssh2]` after "Too many authentication failures for ".
fn too_many_user(u: &[u8]) -> Msg {
    if let Some(m) = for_user_from_ssh2(u, Kind::TooManyFailures) {
        return m;
    }
    let (user, invalid) = strip_invalid(u);
    Msg::new(Kind::TooManyFailures).user(user, invalid)
}

/// `Disconnecting (authenticating|invalid) user <u> <ip> port <n>: <reason>` (M5, M7, M8).
fn disconnecting_user(r: &[u8]) -> Option<Msg> {
    const TOO_MANY: &[u8] = b": Too many authentication failures";
    let (head, kind) = if let Some(h) = r.strip_suffix(TOO_MANY) {
        (h, Kind::TooManyFailures)
    } else {
        // The reason is server text (`Change of username or service not allowed: (u,svc) -> …`
        // holds user names): take the first `<ip> port <n>: ` after the preamble.
        let finder = &*PORT;
        let mut head = None;
        for at in finder.find_iter(r) {
            let p = &r[at + 6..];
            let d = p.iter().take_while(|b| b.is_ascii_digit()).count();
            if d > 0 && p[d..].starts_with(b": ") {
                let before = &r[..at];
                let tok = &before[memchr::memrchr(b' ', before).map_or(0, |i| i + 1)..];
                if parse_ip(tok).is_some() {
                    head = Some(&r[..at + 6 + d]);
                    break;
                }
            }
        }
        (head?, Kind::PreauthClose)
    };
    let (who, ip, port) = user_preamble(head)?;
    let msg = Msg::new(kind).at(ip, port).closes();
    Some(match who {
        Who::Nobody => msg,
        Who::Trying(u, invalid) => msg.user(u, invalid),
        Who::LoggedIn(u) => msg.user(u, false),
    })
}

/// `User <u> from <host> not allowed because …` / `User <u> not allowed because …` (U5, U6).
fn user_not_allowed(r: &[u8]) -> Option<Msg> {
    let at = R_NOT_ALLOWED.rfind(r)?;
    let head = &r[..at];
    let reason = &r[at + 21..];
    // Post-auth `/etc/nologin exists` refusals are not attacks.
    if reason.ends_with(b" exists") {
        return None;
    }
    let mut msg = Msg::new(Kind::Refused);
    if let Some(f) = R_FROM.rfind(head) {
        let host = &head[f + 6..];
        if !host.is_empty() && !host.contains(&b' ') {
            // With UseDNS the host may be a name: no address then.
            msg.ip = parse_ip(host);
            msg.named_host = msg.ip.is_none();
            return Some(msg.user(&head[..f], false));
        }
    }
    Some(msg.user(head, false))
}

/// `… rhost=<ip|host>[  user=<u>]` after a PAM authentication failure.
fn pam_fields(r: &[u8], count: u32) -> Option<Msg> {
    let mut msg = Msg::new(Kind::Other);
    pam_fields_into(r, count, &mut msg);
    Some(msg)
}

/// [`pam_fields`] written into `msg`, a [`Msg::new`]: [`classify`]'s own,
/// where a `Msg` returned was copied into it (issue #15).
fn pam_fields_into(r: &[u8], count: u32, msg: &mut Msg) {
    // pam_unix's fields for sshd, up to `rhost=`: no search needed (issue #15).
    const SSHD_FIELDS: &[u8] = b" logname= uid=0 euid=0 tty=ssh ruser= rhost=";
    msg.kind = Kind::PamFailure;
    msg.count = count;
    let sshd_fields = fast::strip_long(r, SSHD_FIELDS).is_some();
    let rhost = if sshd_fields {
        Some(SSHD_FIELDS.len() - 7)
    } else {
        RHOST.find(r)
    };
    if let Some(at) = rhost {
        msg.ip = rhost_ip(r, at + 7);
        if msg.ip.is_none() {
            msg.named_host = r.get(at + 7).is_some_and(|&b| b != b' ');
        }
    }
    // `user=` is always last; names may hold spaces. No ` user=` lies in
    // or across the end of sshd's fields: the search stops at the address,
    // where it went on through the six `=` of the fields when no user
    // followed (issue #15: a pam_unix failure line 757 -> 562 instructions).
    let user_at = if sshd_fields {
        rfind_user(&r[SSHD_FIELDS.len()..]).map(|at| at + SSHD_FIELDS.len())
    } else {
        rfind_user(r)
    };
    if let Some(at) = user_at {
        let u = r[at + 6..].trim_ascii_end();
        if !u.is_empty() {
            fill(&mut msg.user, Some(decode_text(u)));
        }
    }
}

/// The address of the host that starts at `r[at]` and ends at the first
/// space or the end, as [`parse_ip`] reads it. IPv4 is read by the
/// remembered reader ([`v4_in_tail_seen`]) from its right end, found among
/// the next 16 bytes with one compare, where reading it from the left took
/// ~90 instructions; and hex-only IPv6 likewise ([`v6_suffix_seen`]), where
/// `parse_ip` took ~450 (issue #15). Either is taken only when it starts at
/// `at`: then the host is that address, which `parse_ip` reads as the same.
fn rhost_ip(r: &[u8], at: usize) -> Option<IpAddr> {
    let v = &r[at..];
    // The end of an IPv4 address: a space among the first 16 bytes, or
    // the end of a shorter text (an address that starts at `at` then holds
    // no space).
    let end = match v.first_chunk::<16>() {
        Some(c) => spaces(c).trailing_zeros() as usize,
        None => v.len(),
    };
    if end < 16 && at + end >= 16 {
        // The 16 bytes that end with the address, the one before it made a
        // space: the reader stops there as at the `=` it replaces, and the
        // window is remembered as those of sshd's own lines with this
        // address are (a window of `rhost=` took places of theirs).
        let mut w: [u8; 16] = r[at + end - 16..at + end].try_into().unwrap();
        w[15 - end] = b' ';
        match v4_in_tail_seen(&w) {
            Some((start, v4)) if start == 16 - end => return Some(IpAddr::V4(v4)),
            _ => {}
        }
    }
    let end = memchr::memchr(b' ', v).unwrap_or(v.len());
    match v6_suffix_seen(&r[..at + end]) {
        Some((start, v6)) if start == at => Some(IpAddr::V6(v6).to_canonical()),
        _ => parse_ip(&v[..end]),
    }
}

/// The first `): ` in `s`.
fn find_paren_colon(s: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = memchr::memchr(b')', &s[from..]) {
        let at = from + i;
        if s[at + 1..].starts_with(b": ") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The last ` user=` in `r`, found from its `=`: the last `=` of the line is
/// nearly always its own (issue #15: the reverse substring searcher took ~370
/// instructions a line).
fn rfind_user(r: &[u8]) -> Option<usize> {
    let mut end = r.len();
    while let Some(eq) = rfind_eq(&r[..end]) {
        if eq >= 5 && &r[eq - 5..eq] == b" user" {
            return Some(eq - 5);
        }
        end = eq;
    }
    None
}

/// The last `=` in `s`, eight bytes at a time from the end: what follows
/// the last `=` of a PAM line is short, and `memrchr`'s set-up took ~80
/// instructions a search (issue #15).
fn rfind_eq(s: &[u8]) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const EQ: u64 = 0x3d3d_3d3d_3d3d_3d3d;
    let mut end = s.len();
    while let Some(at) = end.checked_sub(8) {
        let x = u64::from_le_bytes(s[at..end].try_into().unwrap()) ^ EQ;
        // The high bit of each byte that is zero in `x` (an `=` in `s`):
        // exact, as the additions stay inside each byte.
        let eq = !(((x & !HIGH) + !HIGH) | x) & HIGH;
        if eq != 0 {
            return Some(at + (63 - eq.leading_zeros() as usize) / 8);
        }
        end = at;
    }
    s[..end].iter().rposition(|&b| b == b'=')
}

/// `error: PAM: Authentication failure for [illegal user ]<u> from <host>[ via <laddr>]` (Q8, Q9).
fn pam_error(r: &[u8]) -> Option<Msg> {
    // The user name may hold ` from ` and ` via `: the last ` from ` is sshd's,
    // and ` via <laddr>` (Apple) is the local address, after the host.
    let f = R_FROM.rfind(r)?;
    let (user, invalid) = strip_invalid(&r[..f]);
    let mut msg = Msg::new(Kind::PamFailure).user(user, invalid);
    let host = &r[f + 6..];
    let host = memchr::memmem::find(host, b" via ").map_or(host, |v| &host[..v]);
    let host = host.trim_ascii();
    msg.ip = parse_ip(host);
    msg.named_host = msg.ip.is_none() && !host.is_empty();
    Some(msg)
}

/// `<n> from [<ip>]:<port> on [<laddr>]:<lport> <reason>` (P1).
fn drop_connection(r: &[u8]) -> Option<Msg> {
    let r = &r[memchr::memmem::find(r, b" from [")? + 7..];
    let close = memchr::memchr(b']', r)?;
    let ip = parse_ip(&r[..close])?;
    let port = r[close + 1..].strip_prefix(b":").and_then(|p| {
        let d = p.iter().take_while(|b| b.is_ascii_digit()).count();
        parse_port(&p[..d])
    });
    Some(Msg::new(Kind::Penalty).at(ip, port))
}

/// `ipv4: new 198.51.100.7/32 deferred penalty …` / `127.0.0.1/32: activating ipv4 penalty …` (P2, P3).
fn srclimit(r: &[u8]) -> Option<Msg> {
    let net = if let Some(x) = r
        .strip_prefix(b"ipv4: new ")
        .or_else(|| r.strip_prefix(b"ipv6: new "))
    {
        first_token(x)
    } else {
        let c = memchr::memmem::find(r, b": activating ")?;
        &r[..c]
    };
    let mut msg = Msg::new(Kind::Penalty);
    // A penalty is for a network block; only a single-address block names the attacker.
    if let Some(slash) = memchr::memchr(b'/', net) {
        let ip = parse_ip(&net[..slash])?;
        let bits = &net[slash + 1..];
        let full = match ip {
            IpAddr::V4(_) => &b"32"[..],
            IpAddr::V6(_) => b"128",
        };
        if bits == full {
            msg.ip = Some(ip);
        }
    } else {
        msg.ip = parse_ip(net);
    }
    if contains(r, b"table full") {
        return None;
    }
    Some(msg)
}

/// `probed from <ip> port <n> with <banner>.  Don't panic.` (K16)
fn probed(r: &[u8]) -> Option<Msg> {
    let (ip, port) = ip_port_prefix(r)?;
    Some(Msg::new(Kind::BadProtocol).at(ip, port).closes())
}

/// [`decode_user`] without allocating for a short name with no escapes.
// `contains` is memchr, whose set-up costs more than the loop on a name.
#[allow(clippy::manual_contains)]
pub fn decode_text(raw: &[u8]) -> Text {
    if let Some(t) = Text::plain_inline(raw) {
        return t;
    }
    // Names are short: ASCII checked a word at a time, then a plain loop for
    // a backslash (`contains` pays memchr's set-up).
    if let Some(s) = super::text::ascii_str(raw) {
        if !raw.iter().any(|&b| b == b'\\') {
            return Text::new(s);
        }
    }
    if !raw.contains(&b'\\') {
        if let Ok(s) = std::str::from_utf8(raw) {
            return Text::new(s);
        }
    }
    Text::from(decode_user(raw))
}

/// sshd writes names through `strnvis(VIS_CSTYLE|VIS_NL|VIS_TAB|VIS_OCTAL)`:
/// decode `\ooo`, `\n`, `\t`, `\\` … back to bytes and keep the result if it is
/// valid UTF-8; otherwise the name is kept as sshd wrote it.
pub fn decode_user(raw: &[u8]) -> String {
    if !raw.contains(&b'\\') {
        return match std::str::from_utf8(raw) {
            Ok(s) => s.to_owned(),
            Err(_) => String::from_utf8_lossy(raw).into_owned(),
        };
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' || i + 1 >= raw.len() {
            out.push(b);
            i += 1;
            continue;
        }
        let n = raw[i + 1];
        let (byte, used) = match n {
            b'0'..=b'7' => {
                let d: Vec<u8> = raw[i + 1..]
                    .iter()
                    .take(3)
                    .take_while(|c| (b'0'..=b'7').contains(c))
                    .copied()
                    .collect();
                let v = d.iter().fold(0u32, |a, &c| a * 8 + u32::from(c - b'0'));
                if v > 255 {
                    (b'\\', 1)
                } else {
                    (v as u8, 1 + d.len())
                }
            }
            b'n' => (b'\n', 2),
            b't' => (b'\t', 2),
            b'r' => (b'\r', 2),
            b'b' => (8, 2),
            b'a' => (7, 2),
            b'v' => (11, 2),
            b'f' => (12, 2),
            b's' => (b' ', 2),
            b'\\' => (b'\\', 2),
            _ => (b'\\', 1),
        };
        out.push(byte);
        i += used;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(_) => String::from_utf8_lossy(raw).into_owned(),
    }
}

#[cfg(test)]
mod ports_tests {
    use super::*;

    #[test]
    fn ports_are_the_finders_occurrences() {
        let cases: &[&[u8]] = &[
            b"",
            b" port ",
            b"port ",
            b" port",
            b"a port b",
            b"root from 1.2.3.4 port 22 ssh2",
            b"invalid user port from 1.2.3.4 port 22 ssh2",
            b"x port port port 1",
            b" port  port p pp port port ",
            b"pppp port pport  port",
            b"u from 1.2.3.4 port 1 ssh2: RSA port 2 port 3",
        ];
        for s in cases {
            let ours: Vec<usize> = Ports { s, pos: 0 }.collect();
            let theirs: Vec<usize> = PORT.find_iter(s).collect();
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(s));
            assert_eq!(find_port(s), PORT.find(s));
        }
    }
}

/// The fast readers against the general ones they stand in for, on
/// generated hostile texts: sshd's shapes with user names that hold
/// addresses, ports, `from`, `ssh2`, colons and odd spacing.
#[cfg(test)]
mod fast_path_tests {
    use super::*;

    fn rng(mut x: u64) -> impl FnMut() -> u64 {
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    /// Texts built from the words of the address-carrying messages.
    fn hostile(n: usize, seed: u64) -> Vec<Vec<u8>> {
        let mut next = rng(seed);
        let words: &[&[u8]] = &[
            b" ",
            b" ",
            b" ",
            b"from",
            b" from ",
            b"port",
            b" port ",
            b" port",
            b"port ",
            b"ssh2",
            b" ssh2",
            b" ssh1",
            b": ",
            b":",
            b"::",
            b"1.2.3.4",
            b"10.0.0.1",
            b"255.255.255.255",
            b"256.1.1.1",
            b"1.2.3",
            b"01.002.3.4",
            b"2001:db8::1",
            b"::ffff:1.2.3.4",
            b"fe80::1%eth0",
            b"[1.2.3.4]",
            b"host.example",
            b"22",
            b"65535",
            b"65536",
            b"0",
            b"123456",
            b"invalid user ",
            b"user ",
            b"authenticating user ",
            b"root",
            b"x",
            b"\\",
            b"\xc3\xb6",
            b"\xff",
            b"\t",
            b"\\t",
            b"\\303\\266",
            b"[preauth]",
            b" user=",
            b"=",
            b"user=",
            b")",
            b"): ",
            b"(",
        ];
        (0..n)
            .map(|_| {
                let k = 1 + (next() % 14) as usize;
                let mut v = Vec::new();
                for _ in 0..k {
                    v.extend_from_slice(words[(next() % words.len() as u64) as usize]);
                }
                // Often sshd's own tail, after attacker text.
                match next() % 4 {
                    0 => v.extend_from_slice(b" from 198.51.100.7 port 4711 ssh2"),
                    1 => v.extend_from_slice(b" 198.51.100.7 port 4711"),
                    _ => {}
                }
                v
            })
            .collect()
    }

    #[test]
    fn ssh2_at_end_is_the_first_candidate() {
        let mut hit = 0;
        for s in hostile(300_000, 0x5eed_0001) {
            if let Some(fast) = ssh2_at_end(&s) {
                hit += 1;
                assert_eq!(
                    Some(fast),
                    ssh2_first_candidate(&s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
        assert!(hit > 20_000, "{hit}");
    }

    #[test]
    fn v4_token_end_is_ip_token_end() {
        let mut hit = 0;
        for s in hostile(300_000, 0x5eed_0002) {
            let spaced = [&s[..], b" 10.1.2.3"].concat();
            let glued = [&s[..], b"10.1.2.3"].concat();
            for head in [&s[..], &spaced, &glued] {
                if let Some(fast) = v4_token_end(head) {
                    hit += 1;
                    assert_eq!(
                        Some(fast),
                        ip_token_end(head),
                        "{:?}",
                        String::from_utf8_lossy(head)
                    );
                }
            }
        }
        assert!(hit > 200_000, "{hit}");
    }

    #[test]
    fn v4_port_prefix_is_ip_until_colon() {
        let mut next = rng(0x5eed_0003);
        let mut hit = 0;
        for tail in hostile(300_000, 0x5eed_0004) {
            let ip = [
                "1.2.3.4",
                "10.0.0.1",
                "256.0.0.1",
                "1.2.3.4.5",
                "01.2.3.40",
                "::1",
                "",
            ][(next() % 7) as usize];
            let mid =
                [" port ", " port 22:", " port 65536: ", ": ", " ", ""][(next() % 6) as usize];
            let s = [ip.as_bytes(), mid.as_bytes(), &tail].concat();
            if let Some(fast) = v4_port_prefix(&s) {
                hit += 1;
                assert_eq!(
                    Some(fast),
                    ip_until_colon_general(&s),
                    "{:?}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
        assert!(hit > 50_000, "{hit}");
    }

    /// The word-at-a-time port reader against the byte loop: every port
    /// text of up to seven digits after a space, a letter or nothing, and
    /// generated hostile tails.
    #[test]
    fn trailing_port_is_the_byte_loop() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for n in (0..100_000u32).chain([123_456, 999_999, 1_000_000, 9_999_999]) {
            for width in [0, 5, 6, 7] {
                let digits = format!("{n:0width$}");
                let pres: [&[u8]; 7] = [
                    b"x port ",
                    b" port",
                    b"",
                    b"a",
                    b"12345678 ",
                    b"\xff\xff\xff\xff\xff\xff\xff",
                    b"abcdef\xb0\xb9",
                ];
                for pre in pres {
                    cases.push([pre, digits.as_bytes()].concat());
                }
            }
        }
        cases.extend(hostile(200_000, 0x5eed_0007));
        for t in cases {
            assert_eq!(
                trailing_port(&t),
                trailing_port_loop(&t),
                "{:?}",
                String::from_utf8_lossy(&t)
            );
        }
    }

    /// The word-at-a-time port reader at the start of a text against the
    /// byte loop: port texts of up to nine digits before other bytes, a
    /// colon, high bytes or nothing, and generated hostile texts.
    #[test]
    fn leading_port_is_the_byte_loop() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for n in (0..100_000u32)
            .step_by(7)
            .chain([65_535, 65_536, 99_999, 123_456_789])
        {
            for width in [0, 5, 6, 8, 9] {
                let digits = format!("{n:0width$}");
                let tails: [&[u8]; 7] = [
                    b"",
                    b":11: Bye",
                    b" ",
                    b"\xff\xff\xff\xff",
                    b"/",
                    b":",
                    b"x port 1",
                ];
                for tail in tails {
                    cases.push([digits.as_bytes(), tail].concat());
                }
            }
        }
        cases.extend(hostile(200_000, 0x5eed_000a));
        for p in cases {
            assert_eq!(
                leading_port(&p),
                leading_port_loop(&p),
                "{:?}",
                String::from_utf8_lossy(&p)
            );
        }
    }

    #[test]
    fn searches_find_what_memmem_finds() {
        for s in hostile(200_000, 0x5eed_0005) {
            assert_eq!(rfind_user(&s), memchr::memmem::rfind(&s, b" user="));
            assert_eq!(rfind_eq(&s), s.iter().rposition(|&b| b == b'='));
            assert_eq!(find_paren_colon(&s), memchr::memmem::find(&s, b"): "));
        }
    }

    /// [`preamble`] by its first byte against the four prefixes in turn.
    #[test]
    fn preamble_is_the_prefixes_in_turn() {
        fn in_turn(who: &[u8]) -> Option<Who<'_>> {
            for (p, trying) in [
                (&b"authenticating user "[..], Some(false)),
                (b"authenticatinguser ", Some(false)),
                (b"invalid user ", Some(true)),
                (b"user ", None),
            ] {
                let u = who
                    .strip_prefix(p)
                    .or_else(|| (who == &p[..p.len() - 1]).then_some(&b""[..]));
                if let Some(u) = u {
                    return Some(match trying {
                        Some(invalid) => Who::Trying(u, invalid),
                        None => Who::LoggedIn(u),
                    });
                }
            }
            None
        }
        let pres: [&[u8]; 9] = [
            b"",
            b"authenticating user ",
            b"authenticating user",
            b"authenticatinguser ",
            b"invalid user ",
            b"invalid user",
            b"user ",
            b"user",
            b"illegal user ",
        ];
        for s in hostile(100_000, 0x5eed_0009) {
            for pre in pres {
                for who in [[pre, &s[..]].concat(), pre.to_vec()] {
                    assert!(
                        preamble(&who) == in_turn(&who),
                        "{:?}",
                        String::from_utf8_lossy(&who)
                    );
                }
            }
        }
    }

    /// After sshd's pam_unix fields, the last ` user=` is the one found in
    /// what follows them.
    #[test]
    fn no_user_field_starts_in_sshd_fields() {
        const SSHD_FIELDS: &[u8] = b" logname= uid=0 euid=0 tty=ssh ruser= rhost=";
        for s in hostile(200_000, 0x5eed_0008) {
            for tail in [&s[..], &s[s.len() / 2..], b"user=x", b"r user=", b" user="] {
                let r = [SSHD_FIELDS, tail].concat();
                let n = SSHD_FIELDS.len();
                assert_eq!(rfind_user(&r[n..]).map(|at| at + n), rfind_user(&r));
                let m = pam_fields(&r, 1).unwrap();
                let general = Msg {
                    user: memchr::memmem::rfind(&r, b" user=")
                        .map(|at| r[at + 6..].trim_ascii_end())
                        .filter(|u| !u.is_empty())
                        .map(decode_text),
                    ..m.clone()
                };
                assert_eq!(m, general);
            }
        }
    }

    /// [`decode_text`]'s fast paths keep what [`decode_user`] gives.
    #[test]
    fn decode_text_is_decode_user() {
        for s in hostile(200_000, 0x5eed_0006) {
            for raw in [&s[..], &s[..s.len().min(30)], &s[s.len() / 2..]] {
                assert_eq!(decode_text(raw).as_str(), decode_user(raw));
            }
        }
    }
}

pub(crate) mod cowrie;
pub(crate) mod dropbear;
mod fast;

#[cfg(test)]
mod tests;
