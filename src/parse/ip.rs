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
    let v6: Ipv6Addr = std::str::from_utf8(s).ok()?.parse().ok()?;
    Some(IpAddr::V6(v6).to_canonical())
}

/// Dotted decimal, 1–3 digits an octet (leading zeros read as decimal).
/// Octet by octet rather than byte by byte: this runs for every address of
/// every line (issue #15).
fn parse_v4(s: &[u8]) -> Option<Ipv4Addr> {
    let digit = |i: usize| s.get(i).map(|b| b.wrapping_sub(b'0')).filter(|d| *d <= 9);
    let mut octets = [0u8; 4];
    let mut i = 0;
    for (k, octet) in octets.iter_mut().enumerate() {
        if k > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let mut v = u32::from(digit(i)?);
        i += 1;
        if let Some(d) = digit(i) {
            v = v * 10 + u32::from(d);
            i += 1;
            if let Some(d) = digit(i) {
                v = v * 10 + u32::from(d);
                i += 1;
            }
        }
        *octet = u8::try_from(v).ok()?;
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

    #[test]
    fn ports() {
        assert_eq!(parse_port(b"22"), Some(22));
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(parse_port(b"65536"), None);
        assert_eq!(parse_port(b""), None);
    }
}
