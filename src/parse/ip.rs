//! Addresses as sshd writes them, made canonical.
//!
//! `::ffff:1.2.3.4` becomes `1.2.3.4`, IPv6 zone ids (`fe80::1%eth0`) and
//! brackets are dropped, and leading-zero IPv4 (`192.030.0.6`, seen in fail2ban's
//! tests) is read as decimal rather than rejected.

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
    if !s.contains(&b':') {
        return None;
    }
    let s = match memchr::memchr(b'%', s) {
        Some(i) => &s[..i],
        None => s,
    };
    let v6: Ipv6Addr = if s.contains(&b'.') {
        // An IPv4 tail (`::ffff:1.2.3.4`): the standard parser.
        std::str::from_utf8(s).ok()?.parse().ok()?
    } else {
        parse_v6_hex(s)?
    };
    Some(IpAddr::V6(v6).to_canonical())
}

/// IPv6 of hex groups only (no IPv4 tail), accepting exactly what
/// `Ipv6Addr::from_str` accepts for such text, in a tenth of its
/// instructions (issue #15): 1–4 hex digits a group, eight of them or
/// fewer around one `::` that stands for at least one zero group.
fn parse_v6_hex(s: &[u8]) -> Option<Ipv6Addr> {
    let mut groups = [0u16; 8];
    let (head, tail) = match memchr::memmem::find(s, b"::") {
        Some(i) => (&s[..i], Some(&s[i + 2..])),
        None => (s, None),
    };
    let n = hex_groups(head, &mut groups)?;
    match tail {
        None if n == 8 => {}
        None => return None,
        Some(_) if n >= 8 => return None,
        Some(t) => {
            let mut back = [0u16; 7];
            let m = hex_groups(t, &mut back[..7 - n])?;
            groups[8 - m..].copy_from_slice(&back[..m]);
        }
    }
    Some(Ipv6Addr::from(groups))
}

/// `a:b:c` into `out`; `None` for an empty group, a group of more than four
/// digits or a non-hex byte, or more groups than `out` holds.
fn hex_groups(s: &[u8], out: &mut [u16]) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut n = 0;
    for part in s.split(|&b| b == b':') {
        if n == out.len() || part.is_empty() || part.len() > 4 {
            return None;
        }
        let mut v: u16 = 0;
        for &b in part {
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return None,
            };
            v = v << 4 | u16::from(d);
        }
        out[n] = v;
        n += 1;
    }
    Some(n)
}

/// Dotted decimal, 1–3 digits an octet (leading zeros read as decimal).
/// Octet by octet rather than byte by byte, in a zero-padded copy whose
/// indexes need no bounds checks: this runs for nearly every line (issue #15).
fn parse_v4(s: &[u8]) -> Option<Ipv4Addr> {
    // `1.2.3.4` to `255.255.255.255`.
    if !(7..=15).contains(&s.len()) {
        return None;
    }
    let mut b = [0u8; 16];
    b[..s.len()].copy_from_slice(s);
    // A byte's digit value; a padding zero byte is no digit. Octets start at
    // 12 at most, so `i + 2` stays in the copy (the mask only spares the checks).
    let digit = |i: usize| b[i & 15].wrapping_sub(b'0');
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if b[i & 15] != b'.' {
                return None;
            }
            i += 1;
        }
        let d0 = u32::from(digit(i));
        if d0 > 9 {
            return None;
        }
        let (d1, d2) = (u32::from(digit(i + 1)), u32::from(digit(i + 2)));
        let (v, n) = if d1 > 9 {
            (d0, 1)
        } else if d2 > 9 {
            (d0 * 10 + d1, 2)
        } else {
            (d0 * 100 + d1 * 10 + d2, 3)
        };
        *octet = u8::try_from(v).ok()?;
        i += n;
    }
    (i == s.len()).then(|| Ipv4Addr::from(octets))
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
            let len = (next() % 19) as usize;
            let t: Vec<u8> = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
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

    /// The hex-only IPv6 reader accepts and reads exactly what the standard
    /// parser does: random texts of its alphabet, and random addresses written
    /// with and without `::`.
    #[test]
    fn ipv6_hex_matches_the_standard_parser() {
        let std_v6 = |t: &[u8]| -> Option<Ipv6Addr> { std::str::from_utf8(t).ok()?.parse().ok() };
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let alphabet = b"0123456789abcdefABCDEF:::::g";
        let mut cases: Vec<Vec<u8>> = [
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
            "fFfF::AbCd",
            "1::2:3:4:5:6:7",
            "1::2:3:4:5:6:7:8",
            "12345::",
        ]
        .iter()
        .map(|c| c.as_bytes().to_vec())
        .collect();
        for _ in 0..200_000 {
            let len = (next() % 24) as usize;
            cases.push(
                (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect(),
            );
        }
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

    #[test]
    fn ports() {
        assert_eq!(parse_port(b"22"), Some(22));
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(parse_port(b"65536"), None);
        assert_eq!(parse_port(b""), None);
    }
}
