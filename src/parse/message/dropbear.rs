//! Dropbear's messages (routers, OpenWrt, embedded) → the event kinds of sshd.
//!
//! From the server's `svr-auth.c`, `svr-authpasswd.c`, `svr-authpubkey.c`,
//! `svr-main.c` and `common-session.c`, checked against a recording of Debian's
//! `dropbear` 2022.83 (`tests/fixtures/dropbear/`). Addresses are written
//! `IP:PORT` (IPv6 unbracketed: `::1:49650`); user names are quoted with `'`
//! and not escaped, so they are anchored from the right: the address ends the
//! message, or sits in `<…>` right after `from`, before any user text.

use std::net::IpAddr;

use super::{contains, Conn, Msg};
use crate::event::Kind;
use crate::parse::ip::{parse_ip, parse_port};

/// Classifies a Dropbear message. `None`: not a message sshmap knows (shown
/// as `other` with `--all` when the line carries the program name).
pub fn classify(m: &[u8]) -> Option<Msg> {
    let m = m.trim_ascii();
    if let Some(r) = m.strip_prefix(b"Child connection from ") {
        let (ip, port) = ip_port(r)?;
        let mut msg = Msg::new(Kind::Other).at(ip, port);
        msg.conn = Conn::Opens;
        return Some(msg);
    }
    // `Bad password attempt …`, `Bad PAM password attempt …`; older releases
    // wrote `bad password attempt`.
    let lower_b = m.first().is_some_and(|&b| b == b'b') && m.starts_with(b"bad ");
    if m.starts_with(b"Bad ") || lower_b {
        let rest = &m[4..];
        let rest = rest.strip_prefix(b"PAM ").unwrap_or(rest);
        let r = rest.strip_prefix(b"password attempt for ")?;
        let (user, ip, port) = quoted_user_from(r)?;
        let mut msg = Msg::new(Kind::AuthFailure).at(ip, port).user(user, false);
        msg.method = Some("password".into());
        return Some(msg);
    }
    if let Some(r) = m.strip_prefix(b"Login attempt for nonexistent user") {
        // No name (2022.83: not even the address); the connection gives it.
        // It is the attempt: Dropbear logs no failed password for such a user.
        let mut msg = Msg::new(Kind::AuthFailure);
        msg.invalid_user = true;
        if let Some(at) = memchr::memmem::rfind(r, b"from ") {
            if let Some((ip, port)) = ip_port(&r[at + 5..]) {
                msg = msg.at(ip, port);
            }
        }
        return Some(msg);
    }
    if let Some(r) = m
        .strip_prefix(b"Password auth succeeded for ")
        .or_else(|| m.strip_prefix(b"PAM password auth succeeded for "))
    {
        let (user, ip, port) = quoted_user_from(r)?;
        let mut msg = Msg::new(Kind::AuthSuccess).at(ip, port).user(user, false);
        msg.method = Some("password".into());
        return Some(msg);
    }
    if let Some(r) = m.strip_prefix(b"Pubkey auth succeeded for '") {
        // `'<u>' with <type> key <fp> from <ip>:<port>`
        let with = memchr::memmem::rfind(r, b"' with ")?;
        let (ip, port) = ip_port(last_from(r)?)?;
        let mut msg = Msg::new(Kind::AuthSuccess)
            .at(ip, port)
            .user(&r[..with], false);
        msg.method = Some("publickey".into());
        return Some(msg);
    }
    if m == b"root login rejected" {
        let mut msg = Msg::new(Kind::Refused);
        msg.user = Some("root".into());
        return Some(msg);
    }
    if let Some(r) = m
        .strip_prefix(b"User '")
        .or_else(|| m.strip_prefix(b"User account '"))
    {
        // `User 'u' has invalid shell, rejected`, `… has blank password, rejected`,
        // `User account 'u' is locked`, `User 'u' not allowed` (group checks).
        let end = [
            &b"' has invalid shell, rejected"[..],
            b"' has blank password, rejected",
            b"' is locked",
            b"' not allowed",
        ]
        .iter()
        .find_map(|s| memchr::memmem::rfind(r, s).filter(|&at| r[at..].starts_with(s)))?;
        return Some(Msg::new(Kind::Refused).user(&r[..end], false));
    }
    if let Some(r) = m.strip_prefix(b"Exit before auth from <") {
        return exit_before_auth(r);
    }
    if let Some(r) = m.strip_prefix(b"Exit (") {
        // `Exit (<u>) from <ip:port>: <reason>`: a session that logged in.
        let at = memchr::memmem::rfind(r, b") from <")?;
        let r = &r[at + 8..];
        let close = memchr::memchr(b'>', r)?;
        let (ip, port) = ip_port(&r[..close])?;
        return Some(Msg::new(Kind::Other).at(ip, port).closes());
    }
    None
}

/// `<ip:port>: [(user '<u>', <n> fails): ]<reason>`.
fn exit_before_auth(r: &[u8]) -> Option<Msg> {
    let close = memchr::memchr(b'>', r)?;
    let (ip, port) = ip_port(&r[..close])?;
    let rest = r[close + 1..].strip_prefix(b": ")?;
    let (user, reason) = match rest.strip_prefix(b"(user '") {
        // The name is unescaped text: the first `', N fails): ` ends it.
        Some(u) => {
            let mut found = None;
            for at in memchr::memmem::find_iter(u, b"', ") {
                let t = &u[at + 3..];
                let d = t.iter().take_while(|b| b.is_ascii_digit()).count();
                if d > 0 && t[d..].starts_with(b" fails): ") {
                    found = Some((&u[..at], &t[d + 9..]));
                    break;
                }
            }
            let (user, reason) = found?;
            (Some(user), reason)
        }
        None => (None, rest),
    };
    let kind = if reason.starts_with(b"Max auth tries reached") {
        Kind::TooManyFailures
    } else if reason.starts_with(b"No matching algo") {
        Kind::NegotiationFailure
    } else {
        Kind::PreauthClose
    };
    let mut msg = Msg::new(kind).at(ip, port).closes();
    if let Some(u) = user {
        msg = msg.user(u, false);
    }
    Some(msg)
}

/// `'<u>' from <ip>:<port>` at the end of a message.
fn quoted_user_from(r: &[u8]) -> Option<(&[u8], IpAddr, Option<u16>)> {
    let r = r.strip_prefix(b"'")?;
    let at = memchr::memmem::rfind(r, b"' from ")?;
    let (ip, port) = ip_port(&r[at + 7..])?;
    Some((&r[..at], ip, port))
}

/// The text after the last ` from `.
fn last_from(r: &[u8]) -> Option<&[u8]> {
    memchr::memmem::rfind(r, b" from ").map(|at| &r[at + 6..])
}

/// `1.2.3.4:5678`, `::1:49650`, `::ffff:1.2.3.4:55990` (the port after the
/// last colon), or an address without a port.
fn ip_port(s: &[u8]) -> Option<(IpAddr, Option<u16>)> {
    let s = s.trim_ascii();
    if contains(s, b" ") {
        return None;
    }
    if let Some(colon) = memchr::memrchr(b':', s) {
        let (host, port) = (&s[..colon], &s[colon + 1..]);
        if !port.is_empty() && port.iter().all(u8::is_ascii_digit) {
            if let Some(ip) = parse_ip(host) {
                return Some((ip, parse_port(port)));
            }
        }
    }
    Some((parse_ip(s)?, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> Msg {
        classify(s.as_bytes()).unwrap_or_else(|| panic!("no message: {s}"))
    }

    fn ip(m: &Msg) -> String {
        m.ip.map(|i| i.to_string()).unwrap_or_default()
    }

    #[test]
    fn recorded_messages() {
        let m = c("Child connection from ::1:49650");
        assert_eq!(
            (m.kind, m.conn, ip(&m).as_str(), m.port),
            (Kind::Other, Conn::Opens, "::1", Some(49650))
        );
        let m = c("Bad password attempt for 'sshmapdb' from 127.0.0.1:48432");
        assert_eq!(
            (
                m.kind,
                m.method.as_deref(),
                m.user.as_deref(),
                ip(&m).as_str(),
                m.port
            ),
            (
                Kind::AuthFailure,
                Some("password"),
                Some("sshmapdb"),
                "127.0.0.1",
                Some(48432)
            )
        );
        let m = c("Login attempt for nonexistent user");
        assert_eq!(
            (m.kind, m.invalid_user, m.ip, m.user),
            (Kind::AuthFailure, true, None, None)
        );
        let m = c("root login rejected");
        assert_eq!((m.kind, m.user.as_deref()), (Kind::Refused, Some("root")));
        let m = c(
            "Exit before auth from <127.0.0.1:48432>: (user 'sshmapdb', 1 fails): Exited normally",
        );
        assert_eq!(
            (m.kind, m.user.as_deref(), ip(&m).as_str(), m.conn),
            (
                Kind::PreauthClose,
                Some("sshmapdb"),
                "127.0.0.1",
                Conn::Closes
            )
        );
        let m = c("Exit before auth from <::1:48452>: (user 'sshmapdb', 3 fails): Max auth tries reached - user 'sshmapdb'");
        assert_eq!(
            (m.kind, m.user.as_deref(), ip(&m).as_str()),
            (Kind::TooManyFailures, Some("sshmapdb"), "::1")
        );
        let m = c("Exit before auth from <127.0.0.1:59068>: No matching algo kex");
        assert_eq!((m.kind, m.port), (Kind::NegotiationFailure, Some(59068)));
        let m = c("Exit before auth from <127.0.0.1:59086>: Exited normally");
        assert_eq!((m.kind, m.user), (Kind::PreauthClose, None));
        let m = c("Password auth succeeded for 'sshmapdb' from ::1:48520");
        assert_eq!(
            (m.kind, m.method.as_deref(), ip(&m).as_str()),
            (Kind::AuthSuccess, Some("password"), "::1")
        );
        let m = c("Pubkey auth succeeded for 'sshmapdb' with ssh-ed25519 key SHA256:ZkKagi0zKVo1cRlQWefTP2bLdBQsgODXus3js+KpRxE from ::1:50406");
        assert_eq!(
            (
                m.kind,
                m.method.as_deref(),
                m.user.as_deref(),
                ip(&m).as_str()
            ),
            (
                Kind::AuthSuccess,
                Some("publickey"),
                Some("sshmapdb"),
                "::1"
            )
        );
        let m = c("Exit (sshmapdb) from <::1:50406>: Disconnect received");
        assert_eq!((m.kind, m.conn), (Kind::Other, Conn::Closes));
        assert!(classify(b"Early exit: Terminated by signal").is_none());
        assert!(classify(b"Not backgrounding").is_none());
    }

    #[test]
    fn other_releases() {
        let m = c("Bad PAM password attempt for 'user23' from ::ffff:1.2.3.4:55992");
        assert_eq!(
            (m.kind, m.user.as_deref(), ip(&m).as_str()),
            (Kind::AuthFailure, Some("user23"), "1.2.3.4")
        );
        let m = c("bad password attempt for 'root' from 192.0.2.4:5678");
        assert_eq!((m.kind, ip(&m).as_str()), (Kind::AuthFailure, "192.0.2.4"));
        let m = c("Login attempt for nonexistent user from 1.2.3.4:60794");
        assert_eq!(
            (m.kind, m.invalid_user, ip(&m).as_str(), m.port),
            (Kind::AuthFailure, true, "1.2.3.4", Some(60794))
        );
        let m = c("Exit before auth from <::ffff:1.2.3.4:47810>: (user 'root', 0 fails): Error reading: Connection reset by peer");
        assert_eq!((m.kind, ip(&m).as_str()), (Kind::PreauthClose, "1.2.3.4"));
        let m = c("User 'nobody' has invalid shell, rejected");
        assert_eq!((m.kind, m.user.as_deref()), (Kind::Refused, Some("nobody")));
        let m = c("User account 'bob' is locked");
        assert_eq!((m.kind, m.user.as_deref()), (Kind::Refused, Some("bob")));
    }

    /// User names are attacker text, quoted with `'` and not escaped.
    #[test]
    fn hostile_user_names_keep_the_address() {
        for u in [
            "x' from 203.0.113.7:22",
            "o'brien",
            "a' from <6.6.6.6:1>: (user 'b', 1 fails): q",
            "",
        ] {
            let m = c(&format!(
                "Bad password attempt for '{u}' from 198.51.100.9:4000"
            ));
            assert_eq!(
                (m.user.as_deref(), ip(&m).as_str(), m.port),
                (Some(u), "198.51.100.9", Some(4000)),
                "{u}"
            );
            let m = c(&format!("Pubkey auth succeeded for '{u}' with ssh-ed25519 key SHA256:x from 198.51.100.9:4000"));
            assert_eq!(
                (m.user.as_deref(), ip(&m).as_str()),
                (Some(u), "198.51.100.9"),
                "{u}"
            );
            let m = c(&format!(
                "Exit before auth from <198.51.100.9:4000>: (user '{u}', 2 fails): Exited normally"
            ));
            assert_eq!(ip(&m), "198.51.100.9", "{u}");
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        for s in [
            &b""[..],
            b"Bad ",
            b"Bad password attempt for '",
            b"Bad password attempt for '' from ",
            b"Exit before auth from <",
            b"Exit before auth from <>: (user '",
            b"Exit before auth from <1.2.3.4:5>: (user '', 9999999999999999999 fails): ",
            b"Exit (",
            b"Exit () from <",
            b"Pubkey auth succeeded for '",
            b"User '",
            b"Child connection from :",
            b"\xff\xfeBad password attempt for '\xff' from 1.2.3.4:1",
        ] {
            let _ = classify(s);
        }
    }
}
