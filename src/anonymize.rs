//! `--anonymize-ip`: the one anonymizer, applied where a page, the API or a
//! report is written (DESIGN §6), so that no full address leaves the process
//! in any field — user names and host names included.
//!
//! An address becomes its network (`203.0.113.0/24`, `2001:db8:1::/48`):
//! enough to see that attacks come from one provider, never a full address.
//! Attacker text (user names, methods, host names) can hold addresses glued to
//! other characters (`evil-203.0.113.77`, `root@198.51.100.7:22`, `x1.2.3.4.5`,
//! `ip-10-1-2-3`), so [`text`] looks for four numbers in a row whatever
//! surrounds them, not for whole words that parse.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv6Addr};

/// The network part of an address: /24 for IPv4, /48 for IPv6.
pub fn ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => self::ip(IpAddr::V4(v4)),
            None => {
                let s = a.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        },
    }
}

/// `s` with every address in it replaced by its network.
/// Idempotent: a network it wrote is left as it is.
pub fn text(s: &str) -> Cow<'_, str> {
    // IPv6 first: `::ffff:1.2.3.4` is one address, not an IPv4 one inside.
    let v6 = mask_v6(s);
    match mask_v4(&v6) {
        Cow::Borrowed(_) => v6,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

/// Every string of a JSON document through [`text`] (keys are ours, left alone).
pub fn json(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            if let Cow::Owned(m) = text(s) {
                *s = m;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(json),
        Value::Object(o) => o.values_mut().for_each(json),
        _ => {}
    }
}

/// IPv4: runs of digits joined by one separator (`.`, `-` or `_`); any four
/// numbers ≤ 255 in a row are an address.
fn mask_v4(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut last = 0;
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // Components of the run starting here: (start, end) of each number.
        let mut comps: Vec<(usize, usize)> = Vec::new();
        let mut sep = 0u8;
        let mut j = i;
        loop {
            let c0 = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            comps.push((c0, j));
            let next_is_num = j + 1 < b.len() && b[j + 1].is_ascii_digit();
            let is_sep = j < b.len() && matches!(b[j], b'.' | b'-' | b'_');
            if is_sep && next_is_num && (sep == 0 || b[j] == sep) {
                sep = b[j];
                j += 1;
            } else {
                break;
            }
        }
        // Digits glued on the outside (`1234.5.6.7`, `1.2.3.4567`) hide an
        // address too: the first number keeps its last digits, the last its first.
        let small = |a: usize, e: usize| e > a && s[a..e].parse::<u16>().is_ok_and(|n| n <= 255);
        let n = comps.len();
        if let Some(&(a, e)) = comps.first() {
            if let Some(a2) = (a..e).filter(|&a2| e - a2 <= 3).find(|&a2| small(a2, e)) {
                comps[0] = (a2, e);
            }
        }
        if let Some(&(a, e)) = comps.last().filter(|_| n > 1) {
            if let Some(e2) = (a + 1..=e)
                .rev()
                .filter(|&e2| e2 - a <= 3)
                .find(|&e2| small(a, e2))
            {
                comps[n - 1] = (a, e2);
            }
        }
        let octet = |&(a, e): &(usize, usize)| e - a <= 3 && small(a, e);
        let ok: Vec<bool> = comps.iter().map(octet).collect();
        // The first component of each window of four octets; hyphens only
        // count as a whole run of exactly four (`2026-11-23` is a date).
        let windows: Vec<usize> = (0..comps.len().saturating_sub(3))
            .filter(|&w| ok[w..w + 4].iter().all(|&x| x))
            .filter(|_| sep == b'.' || comps.len() == 4)
            .collect();
        if let Some(&w) = windows.first() {
            // The first address becomes its network; every number after its
            // third octet in the run is zeroed, so no later window leaks either.
            let o: Vec<&str> = comps[w..w + 3].iter().map(|&(a, e)| &s[a..e]).collect();
            let sep = sep as char;
            let net = format!("{}{sep}{}{sep}{}{sep}0/24", o[0], o[1], o[2]);
            let masked_already =
                comps.len() == w + 4 && comps[w + 3].1 == j && s[comps[w].0..].starts_with(&net);
            if !masked_already {
                out.push_str(&s[last..comps[w].0]);
                out.push_str(&net);
                for _ in comps.iter().skip(w + 4) {
                    out.push(sep);
                    out.push('0');
                }
                last = j;
            }
        }
        i = j.max(i + 1);
    }
    if last == 0 && out.is_empty() {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

/// IPv6: runs of hex digits and colons with at least two colons; a run that
/// parses (alone, or once letters glued in front of it are dropped) becomes its
/// /48, and one with an address-like shape that does not parse is masked whole.
fn mask_v6(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let is_c = |c: u8| c.is_ascii_hexdigit() || c == b':' || c == b'.';
    let mut out = String::new();
    let mut last = 0;
    let mut changed = false;
    let mut i = 0;
    while i < b.len() {
        if !is_c(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_c(b[i]) {
            i += 1;
        }
        let run = &s[start..i];
        if run.matches(':').count() < 2 {
            continue;
        }
        // `[2001:db8::1]:22`, `::ffff:1.2.3.4` and letters glued in front (`beef2001:db8::1`).
        // The run as it is (`2001:db8::`), else without a trailing `:` or `.`.
        let stripped = run.trim_end_matches([':', '.']);
        let (trimmed, parsed) = [run, stripped]
            .into_iter()
            .find_map(|t| {
                (0..t.len().min(5)).find_map(|k| {
                    t.get(k..)
                        .and_then(|x| x.parse::<Ipv6Addr>().ok())
                        .map(|a| (t, Some((k, a))))
                })
            })
            .unwrap_or((stripped, None));
        let masked = match parsed {
            Some((k, a)) => {
                let net = ip(IpAddr::V6(a));
                // A network this wrote before (`2001:db8:0::/48`) stays.
                (!s[start + k..].starts_with(&net)).then(|| format!("{}{net}", &trimmed[..k]))
            }
            // Not one address but shaped like one (`::` or six colons): masked whole.
            None if run.contains("::") || run.matches(':').count() >= 6 => {
                Some("(address)".to_string())
            }
            None => None,
        };
        if let Some(m) = masked {
            out.push_str(&s[last..start]);
            out.push_str(&m);
            out.push_str(&run[trimmed.len()..]);
            last = i;
            changed = true;
        }
    }
    if !changed {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_not_addresses() {
        assert_eq!(ip("203.0.113.9".parse().unwrap()), "203.0.113.0/24");
        assert_eq!(ip("2001:db8:1:2::9".parse().unwrap()), "2001:db8:1::/48");
        assert_eq!(ip("::ffff:1.2.3.4".parse().unwrap()), "1.2.3.0/24");
    }

    #[test]
    fn addresses_inside_attacker_text() {
        for (given, want) in [
            (
                "root from 198.51.100.7 port 22",
                "root from 198.51.100.0/24 port 22",
            ),
            ("x198.51.100.7:2222y", "x198.51.100.0/24:2222y"),
            ("evil-203.0.113.77", "evil-203.0.113.0/24"),
            ("a1.2.3.4", "a1.2.3.0/24"),
            ("1.2.3.4.5", "1.2.3.0/24.0"),
            ("ip-10-1-2-3", "ip-10-1-2-0/24"),
            ("198.51.100.23", "198.51.100.0/24"),
            ("2001:db8::1", "2001:db8:0::/48"),
            ("[2001:db8:5::1]:22", "[2001:db8:5::/48]:22"),
            ("beef2001:db8::1", "beef2001:db8:0::/48"),
            ("::ffff:9.8.7.6", "9.8.7.0/24"),
            ("admin", "admin"),
            ("dead:beef", "dead:beef"),
            ("v1.2", "v1.2"),
            ("2026-11-23", "2026-11-23"),
            ("1.2.3", "1.2.3"),
            ("999.1.1.1", "999.1.1.0/24"),
            ("1234.5.6.7", "1234.5.6.0/24"),
            ("1.2.3.4567", "1.2.3.0/24"),
        ] {
            assert_eq!(text(given), want, "{given}");
        }
    }

    #[test]
    fn no_full_address_survives_whatever_surrounds_it() {
        let addrs = ["203.0.113.77", "8.8.4.4", "2001:db8:77::abcd"];
        for a in addrs {
            for (pre, post) in [
                ("", ""),
                ("x", "y"),
                ("1.", ".1"),
                ("ab", ":22"),
                ("-", "-"),
                ("::", ""),
            ] {
                let s = format!("{pre}{a}{post}");
                let m = text(&s);
                assert!(!m.contains(a), "{s} -> {m}");
            }
        }
    }

    #[test]
    fn idempotent() {
        for s in [
            "1.2.3.4",
            "::ffff:9.8.7.6",
            "2001:db8::1",
            "a 1.2.3.4.5 b",
            "ip-10-1-2-3",
        ] {
            let once = text(s).into_owned();
            assert_eq!(text(&once), once, "{s}");
        }
    }

    #[test]
    fn json_documents_every_string() {
        let mut v = serde_json::json!({"a": ["u 1.2.3.4", {"h": "host-5.6.7.8"}], "n": 5});
        json(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"a": ["u 1.2.3.0/24", {"h": "host-5.6.7.0/24"}], "n": 5})
        );
    }
}
