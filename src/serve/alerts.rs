//! Intrusion alerts: a successful login that looks like a break-in.
//!
//! Rules, checked on every `auth_success` against the failures of the window
//! (event time, so replayed logs alert the same way as live ones):
//! - `success_after_ip_failures`: the address failed before;
//! - `success_after_user_failures`: the user had at least N failures, from anywhere;
//! - `new_country`: the user logged in before, but never from this country.
//!   The first login ever seen for a user is not an alert: there is no history
//!   to compare with (the store provides longer history when there is one).
//!
//! Alerts go to the stream, to stderr and, through a bounded queue, to an
//! optional webhook that is retried with backoff on its own task: a slow or
//! dead webhook never holds up ingest; when the queue is full alerts are
//! dropped from the webhook (and counted), never from the stream.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use crate::event::{Event, Kind};

/// Which rule fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    SuccessAfterIpFailures,
    SuccessAfterUserFailures,
    NewCountry,
}

/// One alert: the success event and why it is suspicious.
#[derive(Clone, Debug)]
pub struct Alert {
    pub rules: Vec<Rule>,
    /// Failures from the same address in the window.
    pub ip_failures: u64,
    /// Failures for the same user in the window.
    pub user_failures: u64,
    /// Countries this user logged in from before (for `new_country`).
    pub known_countries: Vec<String>,
    pub event: Event,
}

impl Alert {
    /// One line for humans (stderr, page banner).
    pub fn message(&self, anonymize: bool) -> String {
        let ev = &self.event;
        let ip = match ev.ip {
            Some(ip) if anonymize => super::public::anonymize_ip(ip),
            Some(ip) => ip.to_string(),
            None => "?".into(),
        };
        let user = ev.user.as_deref().unwrap_or("?");
        let user = if anonymize {
            super::public::scrub_text(user).into_owned()
        } else {
            user.to_string()
        };
        let country = ev
            .geo
            .as_ref()
            .and_then(|g| g.country.as_deref())
            .unwrap_or("??");
        let mut why = Vec::new();
        for r in &self.rules {
            why.push(match r {
                Rule::SuccessAfterIpFailures => {
                    format!("after {} from this address", failures(self.ip_failures))
                }
                Rule::SuccessAfterUserFailures => {
                    format!("after {} for this user", failures(self.user_failures))
                }
                Rule::NewCountry => format!(
                    "the user's first login from {country} (before: {})",
                    self.known_countries.join(", ")
                ),
            });
        }
        format!("login of {user:?} from {ip} ({country}) {}", why.join("; "))
    }

    /// The JSON sent on the stream and to the webhook.
    pub fn to_json(&self, anonymize: bool) -> String {
        let mut ev = serde_json::to_value(&self.event).unwrap_or_default();
        if anonymize {
            super::public::scrub_event_value(&mut ev);
        }
        serde_json::json!({
            "type": "alert",
            "rules": self.rules,
            "ts": self.event.ts.to_rfc3339(),
            "message": self.message(anonymize),
            "user": ev.get("user"),
            "ip": ev.get("ip"),
            "country": self.event.geo.as_ref().and_then(|g| g.country.as_deref()),
            "ip_failures": self.ip_failures,
            "user_failures": self.user_failures,
            "known_countries": self.known_countries,
            "event": ev,
        })
        .to_string()
    }
}

/// Failures kept for the rules; beyond this the oldest are forgotten.
const MAX_FAILURES: usize = 200_000;
/// Users whose login countries are remembered.
const MAX_USERS: usize = 100_000;

/// The rules' memory: failures of the window, countries of past logins.
pub struct Alerter {
    window: i64,
    user_threshold: u64,
    failures: VecDeque<(i64, Option<IpAddr>, Option<String>)>,
    by_ip: HashMap<IpAddr, u64>,
    by_user: HashMap<String, u64>,
    countries: HashMap<String, HashSet<String>>,
}

fn is_failure(k: Kind) -> bool {
    matches!(
        k,
        Kind::AuthFailure
            | Kind::InvalidUser
            | Kind::PamFailure
            | Kind::Refused
            | Kind::TooManyFailures
    )
}

impl Alerter {
    pub fn new(window: Duration, user_threshold: u32) -> Alerter {
        Alerter {
            window: window.as_micros() as i64,
            user_threshold: u64::from(user_threshold),
            failures: VecDeque::new(),
            by_ip: HashMap::new(),
            by_user: HashMap::new(),
            countries: HashMap::new(),
        }
    }

    /// Seeds the login history (from the store): `user` logged in from `country`.
    pub fn remember_login(&mut self, user: &str, country: &str) {
        if self.countries.len() < MAX_USERS || self.countries.contains_key(user) {
            self.countries
                .entry(user.to_string())
                .or_default()
                .insert(country.to_string());
        }
    }

    /// Looks at one event (in order); returns an alert for a suspicious success.
    pub fn check(&mut self, ev: &Event) -> Option<Alert> {
        self.expire(ev.ts.micros);
        if is_failure(ev.kind) {
            // Failed attempts, as the correlator counts them: an invalid-user
            // line and its auth_failure, or a PAM failure and the auth_failure
            // that reports it, are one attempt (the others carry 0).
            let n = u64::from(ev.attempts);
            if n == 0 {
                return None;
            }
            if let Some(ip) = ev.ip {
                *self.by_ip.entry(ip).or_default() += n;
            }
            if let Some(u) = &ev.user {
                *self.by_user.entry(u.clone()).or_default() += n;
            }
            for _ in 0..n.min(16) {
                self.failures
                    .push_back((ev.ts.micros, ev.ip, ev.user.clone()));
            }
            while self.failures.len() > MAX_FAILURES {
                self.pop_failure();
            }
            return None;
        }
        if ev.kind != Kind::AuthSuccess {
            return None;
        }
        let ip_failures = ev
            .ip
            .and_then(|ip| self.by_ip.get(&ip))
            .copied()
            .unwrap_or(0);
        let user_failures = ev
            .user
            .as_ref()
            .and_then(|u| self.by_user.get(u))
            .copied()
            .unwrap_or(0);
        let mut rules = Vec::new();
        if ip_failures > 0 {
            rules.push(Rule::SuccessAfterIpFailures);
        }
        if user_failures >= self.user_threshold {
            rules.push(Rule::SuccessAfterUserFailures);
        }
        let mut known_countries = Vec::new();
        let country = ev.geo.as_ref().and_then(|g| g.country.as_deref());
        if let (Some(user), Some(country)) = (&ev.user, country) {
            match self.countries.get_mut(user) {
                Some(seen) if !seen.contains(country) => {
                    rules.push(Rule::NewCountry);
                    known_countries = seen.iter().cloned().collect();
                    known_countries.sort();
                    seen.insert(country.to_string());
                }
                Some(_) => {}
                None => self.remember_login(user, country),
            }
        }
        (!rules.is_empty()).then(|| Alert {
            rules,
            ip_failures,
            user_failures,
            known_countries,
            event: ev.clone(),
        })
    }

    fn expire(&mut self, now: i64) {
        let start = now - self.window;
        while self.failures.front().is_some_and(|f| f.0 < start) {
            self.pop_failure();
        }
    }

    fn pop_failure(&mut self) {
        let Some((_, ip, user)) = self.failures.pop_front() else {
            return;
        };
        if let Some(ip) = ip {
            if let Some(n) = self.by_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_ip.remove(&ip);
                }
            }
        }
        if let Some(u) = user {
            if let Some(n) = self.by_user.get_mut(&u) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    self.by_user.remove(&u);
                }
            }
        }
    }
}

fn failures(n: u64) -> String {
    if n == 1 {
        "1 failure".into()
    } else {
        format!("{n} failures")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Geo, Src, Ts};
    use std::sync::Arc;

    fn ev(secs: i64, kind: Kind, ip: &str, user: &str, country: Option<&str>) -> Event {
        Event {
            ts: Ts::from_micros(secs * 1_000_000, 0),
            host: Some("h".into()),
            program: "sshd".into(),
            pid: Some(1),
            kind,
            method: Some("password".into()),
            user: Some(user.into()),
            invalid_user: false,
            ip: Some(ip.parse().unwrap()),
            port: Some(1),
            count: 1,
            attempts: u32::from(kind == Kind::AuthFailure),
            geo: country.map(|c| {
                Arc::new(Geo {
                    country: Some(c.into()),
                    ..Geo::default()
                })
            }),
            scope: None,
            honeypot: None,
            src: Src {
                input: "t".into(),
                line: 1,
            },
        }
    }

    #[test]
    fn success_after_failures_from_the_same_address() {
        let mut a = Alerter::new(Duration::from_secs(3600), 5);
        assert!(a
            .check(&ev(0, Kind::AuthFailure, "203.0.113.9", "alice", None))
            .is_none());
        let alert = a
            .check(&ev(10, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .expect("alert");
        assert_eq!(alert.rules, vec![Rule::SuccessAfterIpFailures]);
        assert_eq!(alert.ip_failures, 1);
        // Another address, few failures for the user: nothing.
        assert!(a
            .check(&ev(20, Kind::AuthSuccess, "198.51.100.1", "alice", None))
            .is_none());
    }

    #[test]
    fn failures_leave_the_window() {
        let mut a = Alerter::new(Duration::from_secs(60), 5);
        a.check(&ev(0, Kind::AuthFailure, "203.0.113.9", "alice", None));
        assert!(a
            .check(&ev(61, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .is_none());
        assert!(a.by_ip.is_empty() && a.by_user.is_empty());
    }

    #[test]
    fn success_after_n_failures_for_the_user_from_anywhere() {
        let mut a = Alerter::new(Duration::from_secs(3600), 3);
        for (i, ip) in ["192.0.2.1", "192.0.2.2", "192.0.2.3"].iter().enumerate() {
            a.check(&ev(i as i64, Kind::AuthFailure, ip, "root", None));
        }
        let alert = a
            .check(&ev(10, Kind::AuthSuccess, "198.51.100.1", "root", None))
            .expect("alert");
        assert_eq!(alert.rules, vec![Rule::SuccessAfterUserFailures]);
        assert_eq!(alert.user_failures, 3);
    }

    #[test]
    fn new_country_for_a_user_with_history() {
        let mut a = Alerter::new(Duration::from_secs(3600), 5);
        assert!(
            a.check(&ev(0, Kind::AuthSuccess, "192.0.2.1", "bob", Some("FR")))
                .is_none(),
            "first login: no history"
        );
        assert!(a
            .check(&ev(1, Kind::AuthSuccess, "192.0.2.2", "bob", Some("FR")))
            .is_none());
        let alert = a
            .check(&ev(2, Kind::AuthSuccess, "192.0.2.3", "bob", Some("KP")))
            .expect("alert");
        assert_eq!(alert.rules, vec![Rule::NewCountry]);
        assert_eq!(alert.known_countries, vec!["FR".to_string()]);
        assert!(
            a.check(&ev(3, Kind::AuthSuccess, "192.0.2.3", "bob", Some("KP")))
                .is_none(),
            "now known"
        );
    }

    #[test]
    fn alert_json_is_anonymized_on_demand() {
        let mut a = Alerter::new(Duration::from_secs(3600), 5);
        a.check(&ev(0, Kind::AuthFailure, "203.0.113.9", "alice", None));
        let alert = a
            .check(&ev(1, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .unwrap();
        let j = alert.to_json(true);
        assert!(!j.contains("203.0.113.9"), "{j}");
        assert!(j.contains("203.0.113.0/24"), "{j}");
        assert!(alert.to_json(false).contains("203.0.113.9"));
    }
}
