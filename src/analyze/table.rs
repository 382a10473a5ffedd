//! The `sshmap stats` terminal view: totals, top tables and an hourly histogram.
//!
//! Every attacker-controlled string passes through [`crate::escape::terminal`]
//! and is cut to a column width, so a user name cannot break the layout or
//! send escape sequences to the terminal.
//!
//! The layout fits [`Terminal::width`] columns (prose wrapped, the widest text
//! column cut, histogram bars scaled), and colour is used only on a terminal
//! without `NO_COLOR` (<https://no-color.org>).

use std::fmt::Write as _;
use std::io::IsTerminal as _;

use super::Summary;
use crate::escape;

const NAME_WIDTH: usize = 32;

/// Where the text goes: its width in columns and whether it may be coloured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Terminal {
    pub width: usize,
    pub color: bool,
}

impl Terminal {
    /// Standard output: `$COLUMNS`, else the terminal's width, else 80; colour on a
    /// terminal unless `NO_COLOR` is set (to anything but "").
    pub fn detect() -> Terminal {
        let tty = std::io::stdout().is_terminal();
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|&w| w > 0)
            .or_else(|| {
                tty.then(|| console::Term::stdout().size_checked())
                    .flatten()
                    .map(|(_, w)| usize::from(w))
            })
            .unwrap_or(80);
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Terminal {
            width: width.clamp(40, 400),
            color: tty && !no_color,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

const BOLD: &str = "1";
const RED: &str = "31";
const YELLOW: &str = "33";

/// Words of `text` in lines of at most `width` columns, continuation lines indented by `indent`.
fn wrap(out: &mut String, text: &str, width: usize, indent: usize) {
    let lead: String = text.chars().take_while(|c| *c == ' ').collect();
    let mut line = lead.clone();
    let mut empty = true;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let n = line.chars().count();
        if !empty && n + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = " ".repeat(indent);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

fn cut(s: &str, width: usize) -> String {
    let s = escape::terminal(s);
    if s.chars().count() <= width {
        return s.into_owned();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

fn is_number(c: &str) -> bool {
    !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit() || ch == ',')
}

/// A table fitted to `term.width`: when too wide, the widest text column is cut
/// (with "…") until it fits. A row with a note (`notes[i]`) is painted red on a
/// colour terminal and followed by its note, wrapped, on lines of its own.
fn table(
    out: &mut String,
    term: &Terminal,
    title: &str,
    header: &[&str],
    rows: &[Vec<String>],
    notes: &[Option<String>],
) {
    out.push('\n');
    out.push_str(&term.paint(BOLD, title));
    out.push('\n');
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
    let text_col: Vec<bool> = (0..widths.len())
        .map(|i| i == 0 || !rows.iter().all(|r| is_number(&r[i]) || r[i].is_empty()))
        .collect();
    // One leading space, then " cell" per column.
    while 1 + widths.iter().map(|w| w + 1).sum::<usize>() > term.width {
        let Some((i, _)) = widths
            .iter()
            .enumerate()
            .filter(|(i, w)| text_col[*i] && **w > 6)
            .max_by_key(|(_, w)| **w)
        else {
            break;
        };
        widths[i] -= 1;
    }
    let line = |out: &mut String, cells: &[String], paint: bool| {
        let mut l = String::from(" ");
        for (i, c) in cells.iter().enumerate() {
            let c = if c.chars().count() > widths[i] {
                let mut t: String = c.chars().take(widths[i] - 1).collect();
                t.push('…');
                t
            } else {
                c.clone()
            };
            let pad = widths[i] - c.chars().count();
            // Numbers right-aligned, text left-aligned.
            if i > 0 && is_number(&c) {
                let _ = write!(l, " {}{}", " ".repeat(pad), c);
            } else {
                let _ = write!(l, " {}{}", c, " ".repeat(pad));
            }
        }
        let l = l.trim_end_matches(' ');
        if paint {
            out.push_str(&term.paint(RED, l));
        } else {
            out.push_str(l);
        }
        out.push('\n');
    };
    line(
        out,
        &header.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        false,
    );
    for (k, r) in rows.iter().enumerate() {
        let note = notes.get(k).and_then(Option::as_deref);
        line(out, r, note.is_some());
        if let Some(note) = note {
            let mut n = String::new();
            wrap(&mut n, &format!("    ↳ {note}"), term.width, 6);
            out.push_str(&term.paint(RED, n.trim_end()));
            out.push('\n');
        }
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

/// Renders the summary for standard output ([`Terminal::detect`]).
pub fn render(s: &Summary) -> String {
    render_for(s, &Terminal::detect())
}

/// Renders the summary for a terminal of `term.width` columns.
pub fn render_for(s: &Summary, term: &Terminal) -> String {
    let w = term.width;
    let mut out = String::new();
    let range = match (&s.from, &s.to) {
        (Some(f), Some(t)) => format!("{} → {}", short_ts(f), short_ts(t)),
        _ => "no events".into(),
    };
    out.push_str(&term.paint(BOLD, &format!("sshmap stats: {range}")));
    out.push('\n');
    wrap(
        &mut out,
        &format!(
            "  {} attack attempts from {} unique IPs in {} countries; {} events from {} addresses, {} successful logins",
            num(s.attempts),
            num(s.unique_ips),
            num(s.countries),
            num(s.events),
            num(s.addresses),
            num(s.successful_logins_total)
        ),
        w,
        2,
    );
    wrap(
        &mut out,
        "  (unique IPs and countries: those with at least one attack attempt, as on the map and in the report; an attempt is one try at a password or key, an event any sshd line of note)",
        w,
        3,
    );
    let mut kinds: Vec<(&String, &u64)> = s.by_kind.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let kinds: Vec<Vec<String>> = kinds
        .into_iter()
        .map(|(k, n)| vec![k.clone(), num(*n)])
        .collect();
    table(
        &mut out,
        term,
        "Events by kind",
        &["kind", "events"],
        &kinds,
        &[],
    );
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
        term,
        "Top IPs",
        &["ip", "attempts", "events", "country"],
        &ips,
        &[],
    );
    let users: Vec<Vec<String>> = s
        .top_users
        .iter()
        .map(|t| vec![cut(&t.user, NAME_WIDTH), num(t.attempts)])
        .collect();
    table(
        &mut out,
        term,
        "Top user names",
        &["user", "attempts"],
        &users,
        &[],
    );
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
        term,
        "Top countries",
        &["code", "country", "attempts"],
        &countries,
        &[],
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
            term,
            "Top networks",
            &["asn", "organization", "attempts"],
            &asns,
            &[],
        );
    }
    logins(&mut out, term, s);
    histogram(&mut out, term, s);
    out.push('\n');
    out.push_str(&term.paint(BOLD, "Inputs"));
    out.push('\n');
    for i in &s.inputs {
        let mut l = format!(
            "  {}: {} lines, {} events, {} skipped",
            escape::terminal(&i.input),
            num(i.lines),
            num(i.events),
            num(i.skipped)
        );
        if i.malformed + i.too_long > 0 {
            let _ = write!(
                l,
                " ({} malformed, {} too long)",
                num(i.malformed),
                num(i.too_long)
            );
        }
        if let Some(e) = &i.error {
            let _ = write!(l, " — error: {}", escape::terminal(e));
        }
        wrap(&mut out, &l, w, 4);
    }
    out
}

/// `2026-11-22T08:26:40+00:00` → `2026-11-22 08:26:40` (the offset is the log's own).
fn short_ts(ts: &str) -> String {
    ts.get(..19).unwrap_or(ts).replace('T', " ")
}

/// How many logins the terminal lists; the rest are counted.
const LOGINS_SHOWN: usize = 20;

/// What came before a login, in words ("" for an ordinary one).
fn why(l: &super::Success) -> String {
    let mut w = Vec::new();
    if l.failures_from_ip > 0 {
        w.push(format!(
            "after {} failures from this IP",
            num(l.failures_from_ip)
        ));
    }
    if l.failures_for_user > 0 {
        let after = if w.is_empty() { "after " } else { "" };
        w.push(format!(
            "{after}{} failures for this user",
            num(l.failures_for_user)
        ));
    }
    if l.new_country {
        w.push("new country for this user".to_string());
    }
    w.join(", ")
}

/// Successful logins, suspicious ones first, cut at [`LOGINS_SHOWN`] with a count of the rest.
fn logins(out: &mut String, term: &Terminal, s: &Summary) {
    let total = s.successful_logins_total;
    if total == 0 {
        return;
    }
    let listed: Vec<&super::Success> = s.successful_logins.iter().take(LOGINS_SHOWN).collect();
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|l| {
            vec![
                short_ts(&l.ts),
                cut(l.user.as_deref().unwrap_or(""), 20),
                l.ip.clone().unwrap_or_default(),
                l.country.as_deref().unwrap_or_default().to_string(),
                cut(l.method.as_deref().unwrap_or(""), 16),
            ]
        })
        .collect();
    let notes: Vec<Option<String>> = listed
        .iter()
        .map(|l| l.suspicious().then(|| why(l)))
        .collect();
    let title = format!(
        "Successful logins: {}, {} suspicious (listed first)",
        num(total),
        num(s.suspicious_logins)
    );
    table(
        out,
        term,
        &title,
        &["time", "user", "ip", "cc", "method"],
        &rows,
        &notes,
    );
    wrap(
        out,
        "  suspicious (↳): after failures from the address or for the user, or from a new country for the user",
        term.width,
        4,
    );
    let shown = rows.len() as u64;
    if total > shown {
        let rest_suspicious = s
            .suspicious_logins
            .saturating_sub(notes.iter().filter(|n| n.is_some()).count() as u64);
        wrap(
            out,
            &format!(
                "  … {} more ({} of them suspicious); `sshmap stats --json` lists up to {}",
                num(total - shown),
                num(rest_suspicious),
                num(s.successful_logins.len() as u64)
            ),
            term.width,
            4,
        );
    }
}

/// Attempts per hour: each hour of the range when it spans at most two days,
/// else by hour of the day. Bars are scaled to the terminal's width.
fn histogram(out: &mut String, term: &Terminal, s: &Summary) {
    let rows: Vec<(String, u64)> = if s.per_hour.len() <= 48 {
        s.per_hour
            .iter()
            .map(|h| (short_ts(&h.hour)[..16].to_string(), h.attempts))
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
    out.push('\n');
    out.push_str(&term.paint(BOLD, title));
    out.push('\n');
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0);
    if max == 0 {
        let _ = writeln!(out, "  (none)");
        return;
    }
    let label_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let num_w = rows.iter().map(|r| num(r.1).len()).max().unwrap_or(1);
    // "  label number bar"
    let room = term
        .width
        .saturating_sub(2 + label_w + 1 + num_w + 1)
        .clamp(4, 60);
    for (label, n) in rows {
        let bar = ((n as f64 / max as f64) * room as f64).round() as usize;
        let bar = if n > 0 { bar.max(1) } else { 0 };
        let _ = writeln!(
            out,
            "  {label:>label_w$} {:>num_w$} {}",
            num(n),
            term.paint(if n * 2 > max { RED } else { YELLOW }, &"█".repeat(bar))
        );
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
    fn wrap_keeps_lines_within_the_width() {
        let mut out = String::new();
        wrap(
            &mut out,
            "  one two three four five six seven eight nine ten",
            20,
            4,
        );
        assert!(out.lines().all(|l| l.chars().count() <= 20), "{out}");
        assert!(out.lines().nth(1).unwrap().starts_with("    "), "{out}");
    }

    #[test]
    fn hostile_names_are_escaped_and_cut() {
        assert_eq!(cut("a\x1b[31mb", 32), "a\\x1b[31mb");
        assert_eq!(cut(&"x".repeat(40), 10).chars().count(), 10);
    }
}
