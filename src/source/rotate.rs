//! Orders a rotated log series oldest first.
//!
//! `auth.log.4.gz` … `auth.log.2.gz`, `auth.log.1`, `auth.log`; dated
//! rotations (`secure-20261101`, `auth.log-20261101.gz`) by date; different
//! base names kept apart, each series in turn, in name order.

use std::cmp::Ordering;
use std::path::PathBuf;

/// The series a file belongs to: the name without rotation and compression suffixes.
pub fn base_name(name: &str) -> &str {
    let mut n = name;
    for ext in [".gz", ".zst", ".xz", ".bz2"] {
        if let Some(s) = n.strip_suffix(ext) {
            n = s;
            break;
        }
    }
    if let Some(dot) = n.rfind('.') {
        if n[dot + 1..].bytes().all(|b| b.is_ascii_digit()) && dot + 1 < n.len() {
            return &n[..dot];
        }
    }
    if let Some(dash) = n.rfind('-') {
        let d = &n[dash + 1..];
        if d.len() >= 8 && d.bytes().all(|b| b.is_ascii_digit()) {
            return &n[..dash];
        }
    }
    n
}

/// Rotation age: larger is older. The live file is 0.
fn age(name: &str) -> (u8, i64) {
    let base = base_name(name);
    let rest = &name[base.len()..];
    let rest = rest
        .trim_end_matches(".gz")
        .trim_end_matches(".zst")
        .trim_end_matches(".xz")
        .trim_end_matches(".bz2");
    if let Some(n) = rest.strip_prefix('.').and_then(|d| d.parse::<i64>().ok()) {
        return (1, n);
    }
    if let Some(d) = rest.strip_prefix('-').and_then(|d| d.parse::<i64>().ok()) {
        // Dated: older dates are older; keep them before numbered ones.
        return (2, -d);
    }
    (0, 0)
}

/// Sorts paths: by series name, then oldest first.
pub fn order(mut paths: Vec<PathBuf>) -> Vec<PathBuf> {
    paths.sort_by(|a, b| {
        let an = a.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let bn = b.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let (ab, bb) = (base_name(an), base_name(bn));
        a.parent()
            .cmp(&b.parent())
            .then_with(|| ab.cmp(bb))
            .then_with(|| {
                let (aa, ba) = (age(an), age(bn));
                // Older (greater age) first.
                ba.cmp(&aa)
            })
            .then(Ordering::Equal)
    });
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_series_oldest_first() {
        let names = [
            "auth.log",
            "auth.log.1",
            "auth.log.10.gz",
            "auth.log.2.gz",
            "auth.log.4.gz",
            "auth.log.3.gz",
        ];
        let got = order(names.iter().map(PathBuf::from).collect());
        let got: Vec<_> = got.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            got,
            [
                "auth.log.10.gz",
                "auth.log.4.gz",
                "auth.log.3.gz",
                "auth.log.2.gz",
                "auth.log.1",
                "auth.log"
            ]
        );
    }

    #[test]
    fn dated_series_and_bases() {
        let names = [
            "secure",
            "secure-20261115",
            "secure-20261101.gz",
            "auth.log",
        ];
        let got = order(names.iter().map(PathBuf::from).collect());
        let got: Vec<_> = got.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            got,
            [
                "auth.log",
                "secure-20261101.gz",
                "secure-20261115",
                "secure"
            ]
        );
        assert_eq!(base_name("auth.log.2.gz"), "auth.log");
        assert_eq!(base_name("auth.log"), "auth.log");
    }
}
