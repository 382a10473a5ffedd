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

fn parse_v4(s: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut n = 0;
    let mut val: u32 = 0;
    let mut digits = 0;
    for &b in s {
        match b {
            b'0'..=b'9' => {
                val = val * 10 + u32::from(b - b'0');
                digits += 1;
                if digits > 3 || val > 255 {
                    return None;
                }
            }
            b'.' => {
                if digits == 0 || n == 3 {
                    return None;
                }
                octets[n] = val as u8;
                n += 1;
                val = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    octets[3] = val as u8;
    Some(Ipv4Addr::from(octets))
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
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(b"22"), Some(22));
        assert_eq!(parse_port(b"65535"), Some(65535));
        assert_eq!(parse_port(b"65536"), None);
        assert_eq!(parse_port(b""), None);
    }
}
