//! What the API and the page send: event and stats JSON, with `--anonymize-ip`
//! applied here, at the boundary, so no route can forget it.
//!
//! The anonymizer itself is [`crate::anonymize`], shared with the report.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::analyze::Summary;
use crate::event::Event;

/// The network part of an address ([`crate::anonymize::ip`]).
pub fn anonymize_ip(ip: IpAddr) -> String {
    crate::anonymize::ip(ip)
}

/// Masks every address inside `s` ([`crate::anonymize::text`]).
pub fn scrub_text(s: &str) -> Cow<'_, str> {
    crate::anonymize::text(s)
}

/// An event as the API sends it: the DESIGN §2 JSON, anonymized on demand.
/// An extra `map: [x, y]` field places the event on the page's world map (the
/// report's projection), so the browser needs no projection code.
pub fn event_json(ev: &Event, anonymize: bool) -> String {
    let mut json = if anonymize {
        let mut v = serde_json::to_value(ev).unwrap_or_default();
        scrub_event_value(&mut v);
        v.to_string()
    } else {
        plain_event_json(ev)
    };
    if let Some((lat, lon)) = ev.geo.as_ref().and_then(|g| g.lat.zip(g.lon)) {
        let (x, y) = crate::report::world::project(lon, lat);
        if json.ends_with('}') && x.is_finite() && y.is_finite() {
            use std::fmt::Write;
            json.pop();
            let _ = write!(json, ",\"map\":[{x:.1},{y:.1}]}}");
        }
    }
    json
}

/// The event's DESIGN §2 JSON ([`Event::write_json`]).
fn plain_event_json(ev: &Event) -> String {
    let mut out = Vec::with_capacity(512);
    ev.write_json(&mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Anonymizes an event already turned into a JSON value: every string field
/// (address, host, user, method, input, program, GeoIP names).
pub fn scrub_event_value(v: &mut serde_json::Value) {
    crate::anonymize::json(v);
}

/// Anonymizes the addresses of a stats summary (top IPs merge by network).
pub fn scrub_summary(s: &mut Summary) {
    let mut merged: Vec<crate::analyze::TopIp> = Vec::new();
    for mut t in std::mem::take(&mut s.top_ips) {
        t.ip =
            t.ip.parse::<IpAddr>()
                .map(anonymize_ip)
                .unwrap_or_else(|_| "(masked)".into());
        match merged.iter_mut().find(|m| m.ip == t.ip) {
            Some(m) => {
                m.attempts += t.attempts;
                m.events += t.events;
                m.first = m.first.clone().min(t.first);
                m.last = m.last.clone().max(t.last);
            }
            None => merged.push(t),
        }
    }
    merged.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(a.ip.cmp(&b.ip)));
    s.top_ips = merged;
    for u in &mut s.top_users {
        u.user = scrub_text(&u.user).into_owned();
    }

    for l in &mut s.successful_logins {
        l.ip =
            l.ip.as_deref()
                .and_then(|i| i.parse::<IpAddr>().ok())
                .map(anonymize_ip);
        l.user = l.user.as_deref().map(|u| scrub_text(u).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_events() -> Vec<Event> {
        let locator = crate::geo::Locator::embedded();
        let mut enricher = crate::geo::Enricher::new(Some(&locator));
        let mut out = Vec::new();
        let lines = [
            "2026-11-23T07:41:35.123456+00:00 web1 sshd[42]: Failed password for root from 203.0.113.9 port 4242 ssh2",
            "2026-11-23T07:41:35+02:00 web1 sshd[43]: Failed password for invalid user a\"b\\\\c from 8.8.8.8 port 22 ssh2",
            "2026-11-23T07:41:36+00:00 web1 sshd[44]: Accepted publickey for alice from 2001:db8::1 port 22 ssh2: ED25519 SHA256:x",
            "Nov 23 07:41:37 web2 sshd[45]: Invalid user \u{e9}l\u{e8}ve\u{7f}\u{2028} from 1.1.1.1 port 5",
            "Nov 23 07:41:38 web2 sshd[46]: Connection closed by 9.9.9.9 port 5 [preauth]",
            "Nov 23 07:41:39 web2 sshd[47]: Disconnected from authenticating user root 81.2.69.142 port 4 [preauth]",
        ];
        let mut c = crate::parse::Correlator::new(
            "in\u{1}put\"".into(),
            crate::parse::Options {
                year: Some(2026),
                ..Default::default()
            },
        );
        let mut sink = |mut ev: Event| {
            enricher.enrich(&mut ev);
            out.push(ev);
        };
        for (n, l) in lines.iter().enumerate() {
            if let Ok(Some(raw)) = crate::parse::parse_line(l.as_bytes(), n as u64 + 1, false) {
                c.push(raw, &mut sink);
            }
        }
        c.finish_all(&mut sink);
        assert!(out.len() >= 4, "{out:?}");
        assert!(
            out.iter().any(|e| e
                .geo
                .as_ref()
                .is_some_and(|g| g.lat.is_some() && g.country.is_some())),
            "{out:?}"
        );
        assert!(
            out.iter()
                .any(|e| e.user.as_deref().is_some_and(|u| u.contains('"'))),
            "{out:?}"
        );
        // Every field absent, and control characters in attacker text.
        let mut bare = out[0].clone();
        bare.host = None;
        bare.pid = None;
        bare.method = None;
        bare.user = Some("\u{0}\u{1f}\n\t\r\u{8}\u{c}</script>".into());
        bare.ip = None;
        bare.port = None;
        bare.geo = None;
        bare.scope = None;
        out.push(bare);
        let mut geo = out[0].clone();
        geo.geo = Some(std::sync::Arc::new(crate::event::Geo {
            lat: Some(f64::NAN),
            lon: Some(-0.0),
            asn: Some(7),
            ..Default::default()
        }));
        out.push(geo);
        out
    }

    #[test]
    fn hand_written_event_json_is_serde_json_byte_for_byte() {
        for ev in sample_events() {
            assert_eq!(
                plain_event_json(&ev),
                serde_json::to_string(&ev).unwrap(),
                "{ev:?}"
            );
        }
    }

    #[test]
    fn networks_not_addresses() {
        assert_eq!(
            anonymize_ip("203.0.113.9".parse().unwrap()),
            "203.0.113.0/24"
        );
        assert_eq!(
            anonymize_ip("2001:db8:1:2::9".parse().unwrap()),
            "2001:db8:1::/48"
        );
    }

    #[test]
    fn scrubs_addresses_inside_attacker_text() {
        assert_eq!(
            scrub_text("root from 198.51.100.7 port 22"),
            "root from 198.51.100.0/24 port 22"
        );
        assert_eq!(scrub_text("x198.51.100.7:2222y"), "x198.51.100.0/24:2222y");
        assert_eq!(scrub_text("admin"), "admin");
        assert_eq!(scrub_text("dead:beef"), "dead:beef");
        assert_eq!(scrub_text("v1.2"), "v1.2");
    }
}
