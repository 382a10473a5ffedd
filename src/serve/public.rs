//! What the API and the page send: event and stats JSON, with `--anonymize-ip`
//! applied here, at the boundary, so no route can forget it.
//!
//! Anonymized addresses keep the network (`203.0.113.0/24`, `2001:db8:1::/48`):
//! enough to see that attacks come from one provider, never a full address.
//! Host names that are addresses and address-looking words inside user names
//! (attacker text) are masked the same way.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::analyze::Summary;
use crate::event::Event;

/// The network part of an address: /24 for IPv4, /48 for IPv6.
pub fn anonymize_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

/// Masks every word of `s` that parses as an IP address.
pub fn scrub_text(s: &str) -> Cow<'_, str> {
    let is_ip_char = |c: char| c.is_ascii_hexdigit() || c == '.' || c == ':';
    let mut out = String::new();
    let mut last = 0;
    let mut changed = false;
    let mut i = 0;
    let b = s.as_bytes();
    while i < b.len() {
        if is_ip_char(b[i] as char) {
            let start = i;
            while i < b.len() && is_ip_char(b[i] as char) {
                i += 1;
            }
            let word = &s[start..i];
            // `::ffff:1.2.3.4` and `1.2.3.4:22` are addresses too.
            let cand = word.trim_matches(':');
            let parsed = crate::parse::ip::parse_ip(cand.as_bytes()).or_else(|| {
                cand.rsplit_once(':').and_then(|(a, p)| {
                    p.parse::<u16>()
                        .ok()
                        .and(crate::parse::ip::parse_ip(a.as_bytes()))
                })
            });
            if let Some(ip) = parsed.filter(|_| cand.contains(['.', ':']) && cand.len() >= 3) {
                out.push_str(&s[last..start]);
                out.push_str(&anonymize_ip(ip));
                last = i;
                changed = true;
            }
        } else {
            i += 1;
        }
    }
    if !changed {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[last..]);
    Cow::Owned(out)
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
        serde_json::to_string(ev).unwrap_or_else(|_| "{}".into())
    };
    if let Some((lat, lon)) = ev.geo.as_ref().and_then(|g| g.lat.zip(g.lon)) {
        let (x, y) = crate::report::world::project(lon, lat);
        if json.ends_with('}') && x.is_finite() && y.is_finite() {
            json.pop();
            json.push_str(&format!(",\"map\":[{x:.1},{y:.1}]}}"));
        }
    }
    json
}

/// Anonymizes an event already turned into a JSON value.
pub fn scrub_event_value(v: &mut serde_json::Value) {
    use serde_json::Value;
    if let Some(obj) = v.as_object_mut() {
        if let Some(Value::String(ip)) = obj.get("ip") {
            let masked = ip
                .parse::<IpAddr>()
                .map(anonymize_ip)
                .unwrap_or_else(|_| "(masked)".into());
            obj.insert("ip".into(), Value::String(masked));
        }
        for key in ["host", "user", "method"] {
            if let Some(Value::String(s)) = obj.get(key) {
                if let Cow::Owned(m) = scrub_text(s) {
                    obj.insert(key.into(), Value::String(m));
                }
            }
        }
        if let Some(Value::Object(src)) = obj.get_mut("src") {
            if let Some(Value::String(s)) = src.get("input") {
                if let Cow::Owned(m) = scrub_text(s) {
                    src.insert("input".into(), Value::String(m));
                }
            }
        }
    }
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
        assert_eq!(scrub_text("x198.51.100.7:2222y"), "x198.51.100.0/24y");
        assert_eq!(scrub_text("admin"), "admin");
        assert_eq!(scrub_text("dead:beef"), "dead:beef");
        assert_eq!(scrub_text("v1.2"), "v1.2");
    }
}
