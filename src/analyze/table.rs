//! The `sshmap stats` terminal view: totals, top tables and an hourly histogram.
//!
//! Every attacker-controlled string passes through [`crate::escape::terminal`]
//! and is cut to a column width, so a user name cannot break the layout or
//! send escape sequences to the terminal.

use std::fmt::Write as _;

use super::Summary;
use crate::escape;

const NAME_WIDTH: usize = 32;

fn cut(s: &str, width: usize) -> String {
    let s = escape::terminal(s);
    if s.chars().count() <= width {
        return s.into_owned();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

fn table(out: &mut String, title: &str, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "\n{title}");
    if rows.is_empty() {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        out.push(' ');
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            // Numbers right-aligned, text left-aligned.
            if i > 0 && c.chars().all(|ch| ch.is_ascii_digit() || ch == ',') && !c.is_empty() {
                let _ = write!(out, " {}{}", " ".repeat(pad), c);
            } else {
                let _ = write!(out, " {}{}", c, " ".repeat(pad));
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(
        out,
        &header.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    );
    for r in rows {
        line(out, r);
    }
}

fn num(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Renders the summary for a terminal.
pub fn render(s: &Summary) -> String {
    let mut out = String::new();
    let range = match (&s.from, &s.to) {
        (Some(f), Some(t)) => format!("{f} → {t}"),
        _ => "no events".into(),
    };
    let _ = writeln!(out, "sshmap stats: {range}");
    let _ = writeln!(
        out,
        "  {} attack attempts from {} unique IPs in {} countries; {} events from {} addresses, {} successful logins",
        num(s.attempts),
        num(s.unique_ips),
        num(s.countries),
        num(s.events),
        num(s.addresses),
        num(s.by_kind.get("auth_success").copied().unwrap_or(0))
    );
    let _ = writeln!(
        out,
        "  (unique IPs and countries: those with at least one attack attempt, as on the map and in the report)"
    );
    let kinds: Vec<Vec<String>> = s
        .by_kind
        .iter()
        .map(|(k, n)| vec![k.clone(), num(*n)])
        .collect();
    table(&mut out, "Events by kind", &["kind", "events"], &kinds);
    let ips: Vec<Vec<String>> = s
        .top_ips
        .iter()
        .map(|t| {
            vec![
                t.ip.clone(),
                num(t.attempts),
                num(t.events),
                t.country.clone().unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &mut out,
        "Top IPs",
        &["ip", "attempts", "events", "country"],
        &ips,
    );
    let users: Vec<Vec<String>> = s
        .top_users
        .iter()
        .map(|t| vec![cut(&t.user, NAME_WIDTH), num(t.attempts)])
        .collect();
    table(&mut out, "Top user names", &["user", "attempts"], &users);
    let countries: Vec<Vec<String>> = s
        .top_countries
        .iter()
        .map(|t| {
            vec![
                t.country.clone(),
                t.country_name.clone().unwrap_or_default(),
                num(t.attempts),
            ]
        })
        .collect();
    table(
        &mut out,
        "Top countries",
        &["code", "country", "attempts"],
        &countries,
    );
    if !s.top_asns.is_empty() {
        let asns: Vec<Vec<String>> = s
            .top_asns
            .iter()
            .map(|t| {
                vec![
                    format!("AS{}", t.asn),
                    cut(t.org.as_deref().unwrap_or(""), NAME_WIDTH),
                    num(t.attempts),
                ]
            })
            .collect();
        table(
            &mut out,
            "Top networks",
            &["asn", "organization", "attempts"],
            &asns,
        );
    }
    logins(&mut out, s);
    histogram(&mut out, s);
    let _ = writeln!(out, "\nInputs");
    for i in &s.inputs {
        let _ = write!(
            out,
            "  {}: {} lines, {} events, {} skipped",
            escape::terminal(&i.input),
            num(i.lines),
            num(i.events),
            num(i.skipped)
        );
        if i.malformed + i.too_long > 0 {
            let _ = write!(
                out,
                " ({} malformed, {} too long)",
                num(i.malformed),
                num(i.too_long)
            );
        }
        if let Some(e) = &i.error {
            let _ = write!(out, " — error: {}", escape::terminal(e));
        }
        out.push('\n');
    }
    out
}

/// How many logins the terminal lists; the rest are counted.
const LOGINS_SHOWN: usize = 20;

/// What came before a login, in words ("" for an ordinary one).
fn why(l: &super::Success) -> String {
    let mut w = Vec::new();
    if l.failures_from_ip > 0 {
        w.push(format!("after {} failures from this IP", num(l.failures_from_ip)));
    }
    if l.failures_for_user > 0 {
        let after = if w.is_empty() { "after " } else { "" };
        w.push(format!("{after}{} failures for this user", num(l.failures_for_user)));
    }
    if l.new_country {
        w.push("new country for this user".to_string());
    }
    w.join(", ")
}

/// Successful logins, suspicious ones first, cut at [`LOGINS_SHOWN`] with a count of the rest.
fn logins(out: &mut String, s: &Summary) {
    let total = s.successful_logins_total;
    if total == 0 {
        return;
    }
    let rows: Vec<Vec<String>> = s
        .successful_logins
        .iter()
        .take(LOGINS_SHOWN)
        .map(|l| {
            vec![
                l.ts.get(..19).unwrap_or(&l.ts).replace('T', " "),
                cut(l.user.as_deref().unwrap_or(""), 20),
                l.ip.clone().unwrap_or_default(),
                l.country.clone().unwrap_or_default(),
                cut(l.method.as_deref().unwrap_or(""), 16),
                why(l),
            ]
        })
        .collect();
    let title = format!(
        "Successful logins: {}, {} suspicious (listed first)",
        num(total),
        num(s.suspicious_logins)
    );
    table(
        out,
        &title,
        &["time", "user", "ip", "cc", "method", "before"],
        &rows,
    );
    let _ = writeln!(
        out,
        "  suspicious: after failures from the address or for the user, or from a new country"
    );
    let shown = rows.len() as u64;
    if total > shown {
        let rest_suspicious = s.suspicious_logins.saturating_sub(
            s.successful_logins
                .iter()
                .take(LOGINS_SHOWN)
                .filter(|l| l.suspicious())
                .count() as u64,
        );
        let _ = writeln!(
            out,
            "  … {} more ({} of them suspicious); `sshmap stats --json` lists up to {}",
            num(total - shown),
            num(rest_suspicious),
            num(s.successful_logins.len() as u64)
        );
    }
}

/// Attempts per hour: each hour of the range when it spans at most two days,
/// else by hour of the day.
fn histogram(out: &mut String, s: &Summary) {
    let rows: Vec<(String, u64)> = if s.per_hour.len() <= 48 {
        s.per_hour
            .iter()
            .map(|h| {
                (
                    h.hour.get(..16).unwrap_or(&h.hour).replace('T', " "),
                    h.attempts,
                )
            })
            .collect()
    } else {
        s.hour_of_day
            .iter()
            .enumerate()
            .map(|(h, &n)| (format!("{h:02}:00"), n))
            .collect()
    };
    let title = if s.per_hour.len() <= 48 {
        "Attempts per hour"
    } else {
        "Attempts by hour of day"
    };
    let _ = writeln!(out, "\n{title}");
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0);
    if max == 0 {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let label_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (label, n) in rows {
        let bar = ((n as f64 / max as f64) * 40.0).round() as usize;
        let _ = writeln!(out, "  {label:>label_w$} {:>9} {}", num(n), "█".repeat(bar));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_get_separators() {
        assert_eq!(num(0), "0");
        assert_eq!(num(1234), "1,234");
        assert_eq!(num(1_234_567), "1,234,567");
    }

    #[test]
    fn hostile_names_are_escaped_and_cut() {
        assert_eq!(cut("a\x1b[31mb", 32), "a\\x1b[31mb");
        assert_eq!(cut(&"x".repeat(40), 10).chars().count(), 10);
    }
}
