//! Which addresses may be looked up at all: private, loopback, link-local,
//! CGNAT, documentation and other special-purpose ranges never get a country.
//!
//! A database lookup of `10.0.0.1` or `2001:db8::1` answers nothing useful at
//! best and a wrong country at worst (some databases map special ranges to the
//! registry's country), so these are classified first and given `geo: null`.
//! Ranges follow the IANA IPv4 and IPv6 Special-Purpose Address Registries.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::event::Scope;

/// Where `ip` sits. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is classified as IPv4.
pub fn scope(ip: IpAddr) -> Scope {
    match ip.to_canonical() {
        IpAddr::V4(v4) => scope_v4(v4),
        IpAddr::V6(v6) => scope_v6(v6),
    }
}

fn in_v4(ip: u32, net: [u8; 4], len: u32) -> bool {
    let net = u32::from_be_bytes(net);
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    ip & mask == net & mask
}

fn scope_v4(ip: Ipv4Addr) -> Scope {
    let n = u32::from(ip);
    const LOOPBACK: &[([u8; 4], u32)] = &[([127, 0, 0, 0], 8)];
    // RFC 1918, shared address space (CGNAT, RFC 6598), link-local (RFC 3927).
    const PRIVATE: &[([u8; 4], u32)] = &[
        ([10, 0, 0, 0], 8),
        ([172, 16, 0, 0], 12),
        ([192, 168, 0, 0], 16),
        ([100, 64, 0, 0], 10),
        ([169, 254, 0, 0], 16),
    ];
    const RESERVED: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network"
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // TEST-NET-1 (documentation)
        ([198, 51, 100, 0], 24), // TEST-NET-2
        ([203, 0, 113, 0], 24),  // TEST-NET-3
        ([198, 18, 0, 0], 15),   // benchmarking
        ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, and 255.255.255.255
    ];
    if LOOPBACK.iter().any(|&(net, len)| in_v4(n, net, len)) {
        Scope::Loopback
    } else if PRIVATE.iter().any(|&(net, len)| in_v4(n, net, len)) {
        Scope::Private
    } else if RESERVED.iter().any(|&(net, len)| in_v4(n, net, len)) {
        Scope::Reserved
    } else {
        Scope::Public
    }
}

fn in_v6(ip: u128, net: u128, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    ip & mask == net & mask
}

fn scope_v6(ip: Ipv6Addr) -> Scope {
    let n = u128::from(ip);
    if ip.is_loopback() {
        return Scope::Loopback;
    }
    // Unique local (fc00::/7), link-local (fe80::/10), deprecated site-local
    // (fec0::/10), NAT64 local-use (64:ff9b:1::/48).
    const PRIVATE: &[(u128, u32)] = &[
        (0xfc00 << 112, 7),
        (0xfe80 << 112, 10),
        (0xfec0 << 112, 10),
        (0x0064_ff9b_0001 << 80, 48),
    ];
    if PRIVATE.iter().any(|&(net, len)| in_v6(n, net, len)) {
        return Scope::Private;
    }
    const RESERVED: &[(u128, u32)] = &[
        (0x2001_0db8 << 96, 32), // documentation
        (0x3fff << 112, 20),     // documentation (RFC 9637)
        (0x0100 << 112, 64),     // discard-only
        (0x2001_0002 << 96, 48), // benchmarking
        (0x2001_0010 << 96, 28), // ORCHID
        (0x2001_0020 << 96, 28), // ORCHIDv2
    ];
    if RESERVED.iter().any(|&(net, len)| in_v6(n, net, len)) {
        return Scope::Reserved;
    }
    // Only global unicast (2000::/3) is routed on the Internet; the rest
    // (::, ::/96 IPv4-compatible, multicast ff00::/8, unassigned) is reserved.
    if in_v6(n, 0x2000 << 112, 3) {
        Scope::Public
    } else {
        Scope::Reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ip: &str) -> Scope {
        scope(ip.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        assert_eq!(s("8.8.8.8"), Scope::Public);
        assert_eq!(s("1.1.1.1"), Scope::Public);
        assert_eq!(s("127.0.0.1"), Scope::Loopback);
        assert_eq!(s("127.255.255.254"), Scope::Loopback);
        for p in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "169.254.1.1",
        ] {
            assert_eq!(s(p), Scope::Private, "{p}");
        }
        for r in [
            "0.0.0.0",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.19.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
        ] {
            assert_eq!(s(r), Scope::Reserved, "{r}");
        }
        // Neighbours of the special ranges are public.
        for p in [
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "11.0.0.0",
            "198.20.0.0",
            "223.255.255.255",
        ] {
            assert_eq!(s(p), Scope::Public, "{p}");
        }
    }

    #[test]
    fn ipv6_ranges() {
        assert_eq!(s("2001:4860:4860::8888"), Scope::Public);
        assert_eq!(s("2a02:d300::1"), Scope::Public);
        assert_eq!(s("::1"), Scope::Loopback);
        assert_eq!(s("fd00::1"), Scope::Private);
        assert_eq!(s("fe80::1"), Scope::Private);
        assert_eq!(s("2001:db8::1"), Scope::Reserved);
        assert_eq!(s("3fff::1"), Scope::Reserved);
        assert_eq!(s("::"), Scope::Reserved);
        assert_eq!(s("ff02::1"), Scope::Reserved);
        assert_eq!(s("100::1"), Scope::Reserved);
    }

    #[test]
    fn ipv4_mapped_is_classified_as_ipv4() {
        assert_eq!(s("::ffff:10.0.0.1"), Scope::Private);
        assert_eq!(s("::ffff:127.0.0.1"), Scope::Loopback);
        assert_eq!(s("::ffff:8.8.8.8"), Scope::Public);
    }
}
