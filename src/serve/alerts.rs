//! Intrusion alerts: a successful login that looks like a break-in.
//!
//! Rules, checked on every `auth_success` against the failures of the window
//! (event time, so replayed logs alert the same way as live ones):
//! - `success_after_ip_failures`: the address had at least N failures
//!   ([`Thresholds::ip_failures`], default 5: a brute force, not a typo);
//! - `success_after_user_failures`: the user had at least N failures, from
//!   anywhere ([`Thresholds::user_failures`], default 5);
//! - `new_country`: the user logged in before, but never from this country.
//!   The first login ever seen for a user is not an alert: there is no history
//!   to compare with (the store provides longer history when there is one).
//!
//! A wrong password or two before a login is what people do every day: with
//! the defaults, a typo then a login raises nothing, a brute force that ends in
//! a login does. [`Thresholds::describe`] is the sentence the live page shows.
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
    /// Another alert for the same address and user went out less than
    /// [`QUIET`] ago (event time): this one goes to the stream (the page
    /// groups it) but not to stderr or the webhook.
    pub quiet: bool,
    /// Alerts of the same address and user kept quiet since the last one that
    /// went out (told with the next one that does).
    pub held_back: u64,
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
        let more = match self.held_back {
            0 => String::new(),
            n => format!(" ({n} more of these since the last alert)"),
        };
        format!(
            "login of {user:?} from {ip} ({country}) {}{more}",
            why.join("; ")
        )
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
            "held_back": self.held_back,
            "event": ev,
        })
        .to_string()
    }
}

/// Alerts for one address and user: at most one a minute goes to stderr and
/// the webhook (a login loop of a bot that found a password would otherwise
/// flood both); the stream gets every one.
pub const QUIET: Duration = Duration::from_secs(60);
/// Address and user pairs whose last loud alert is remembered.
const MAX_LOUD: usize = 10_000;

/// Failures kept for the rules; beyond this the oldest are forgotten.
pub(super) const MAX_FAILURES: usize = 200_000;
/// Users whose login countries are remembered.
const MAX_USERS: usize = 100_000;

/// When a login counts as suspicious: failures (in the window) at or above these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// Failures from the login's address (`alert-ip-failures`).
    pub ip_failures: u32,
    /// Failures for the login's user, from anywhere (`alert-user-failures`).
    pub user_failures: u32,
}

impl Thresholds {
    /// Default of `alert-ip-failures`: more than a typo or two (sshd's PAM asks
    /// three times per connection), fewer than any brute force.
    pub const DEFAULT_IP_FAILURES: u32 = 5;
    /// Default of `alert-user-failures`.
    pub const DEFAULT_USER_FAILURES: u32 = 5;

    /// The rules in words, with these thresholds and the window (the live page's line).
    pub fn describe(&self, window: Duration) -> String {
        format!(
            "alert on a login after \u{2265} {} from its address or \u{2265} {} for its user \
             (in the last {}), or from a country new for its user",
            failures(u64::from(self.ip_failures)),
            failures(u64::from(self.user_failures)),
            span(window),
        )
    }
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            ip_failures: Self::DEFAULT_IP_FAILURES,
            user_failures: Self::DEFAULT_USER_FAILURES,
        }
    }
}

/// The rules' memory: failures of the window, countries of past logins.
pub struct Alerter {
    window: i64,
    ip_threshold: u64,
    user_threshold: u64,
    failures: VecDeque<(i64, Option<IpAddr>, Option<String>)>,
    by_ip: HashMap<IpAddr, u64>,
    by_user: HashMap<String, u64>,
    countries: HashMap<String, HashSet<String>>,
    /// Per address and user: when the last alert went to stderr and the
    /// webhook, and how many were kept quiet since.
    loud: HashMap<(Option<IpAddr>, Option<String>), (i64, u64)>,
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
    /// Thresholds below 1 are taken as 1.
    pub fn new(window: Duration, t: Thresholds) -> Alerter {
        Alerter {
            window: window.as_micros() as i64,
            ip_threshold: u64::from(t.ip_failures.max(1)),
            user_threshold: u64::from(t.user_failures.max(1)),
            failures: VecDeque::new(),
            by_ip: HashMap::new(),
            by_user: HashMap::new(),
            countries: HashMap::new(),
            loud: HashMap::new(),
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
    /// Whether `check` counts `ev` as failed attempts (what a restart must
    /// replay, newest first, to rebuild the counts).
    pub fn counts(ev: &Event) -> bool {
        is_failure(ev.kind) && ev.attempts > 0
    }

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
                *self.by_user.entry(u.to_string()).or_default() += n;
            }
            for _ in 0..n.min(16) {
                self.failures.push_back((
                    ev.ts.micros,
                    ev.ip,
                    ev.user.as_deref().map(String::from),
                ));
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
            .and_then(|u| self.by_user.get(u.as_str()))
            .copied()
            .unwrap_or(0);
        let mut rules = Vec::new();
        if ip_failures >= self.ip_threshold {
            rules.push(Rule::SuccessAfterIpFailures);
        }
        if user_failures >= self.user_threshold {
            rules.push(Rule::SuccessAfterUserFailures);
        }
        let mut known_countries = Vec::new();
        let country = ev.geo.as_ref().and_then(|g| g.country.as_deref());
        if let (Some(user), Some(country)) = (&ev.user, country) {
            match self.countries.get_mut(user.as_str()) {
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
        if rules.is_empty() {
            return None;
        }
        let (quiet, held_back) = self.rate_limit(ev);
        Some(Alert {
            rules,
            ip_failures,
            user_failures,
            known_countries,
            quiet,
            held_back,
            event: ev.clone(),
        })
    }

    /// Whether an alert for `ev` stays quiet (one loud a [`QUIET`] per address
    /// and user), and how many were held back before a loud one.
    fn rate_limit(&mut self, ev: &Event) -> (bool, u64) {
        let now = ev.ts.micros;
        let quiet = QUIET.as_micros() as i64;
        if self.loud.len() >= MAX_LOUD {
            self.loud.retain(|_, (t, _)| now - *t < quiet);
            if self.loud.len() >= MAX_LOUD {
                self.loud.clear();
            }
        }
        let key = (ev.ip, ev.user.as_deref().map(String::from));
        match self.loud.get_mut(&key) {
            Some((t, held)) if (0..quiet).contains(&(now - *t)) => {
                *held += 1;
                (true, 0)
            }
            Some((t, held)) => {
                let n = std::mem::take(held);
                *t = now;
                (false, n)
            }
            None => {
                self.loud.insert(key, (now, 0));
                (false, 0)
            }
        }
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

/// `5 h`, `90 min`, `1 d`, `45 s`: the window as the page says it.
fn span(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0 s".into(),
        s if s % 86_400 == 0 => format!("{} d", s / 86_400),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
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

    fn th(ip_failures: u32, user_failures: u32) -> Thresholds {
        Thresholds {
            ip_failures,
            user_failures,
        }
    }

    #[test]
    fn a_typo_then_a_login_is_no_alert_by_default() {
        // One to four wrong passwords, then the right one: what people do every day.
        for typos in 1..Thresholds::DEFAULT_IP_FAILURES {
            let mut a = Alerter::new(Duration::from_secs(3600), Thresholds::default());
            for k in 0..typos {
                assert!(a
                    .check(&ev(
                        i64::from(k),
                        Kind::AuthFailure,
                        "203.0.113.9",
                        "alice",
                        None
                    ))
                    .is_none());
            }
            let got = a.check(&ev(10, Kind::AuthSuccess, "203.0.113.9", "alice", None));
            assert!(
                got.is_none(),
                "{typos} typo(s) then a login alerted: {got:?}"
            );
        }
    }

    #[test]
    fn a_brute_force_then_a_login_from_the_same_address_alerts_by_default() {
        let mut a = Alerter::new(Duration::from_secs(3600), Thresholds::default());
        // Five failures spread over users (as a dictionary attack does), none reaching the user rule.
        for (k, user) in ["root", "admin", "oracle", "test", "alice"]
            .iter()
            .enumerate()
        {
            a.check(&ev(k as i64, Kind::AuthFailure, "203.0.113.9", user, None));
        }
        let alert = a
            .check(&ev(10, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .expect("alert");
        assert_eq!(alert.rules, vec![Rule::SuccessAfterIpFailures]);
        assert_eq!(alert.ip_failures, 5);
        assert!(alert
            .message(false)
            .contains("after 5 failures from this address"));
        // Another address, few failures for the user: nothing.
        assert!(a
            .check(&ev(20, Kind::AuthSuccess, "198.51.100.1", "alice", None))
            .is_none());
    }

    #[test]
    fn the_address_threshold_is_configurable() {
        let mut a = Alerter::new(Duration::from_secs(3600), th(1, 5));
        a.check(&ev(0, Kind::AuthFailure, "203.0.113.9", "alice", None));
        let alert = a
            .check(&ev(10, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .expect("with alert-ip-failures = 1 a single failure alerts");
        assert_eq!(alert.rules, vec![Rule::SuccessAfterIpFailures]);
        // Zero is taken as one: a login with no failure at all never alerts.
        let mut a = Alerter::new(Duration::from_secs(3600), th(0, 0));
        assert!(a
            .check(&ev(10, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .is_none());
    }

    #[test]
    fn the_rules_are_described_with_their_thresholds() {
        let d = Thresholds::default().describe(Duration::from_secs(5 * 3600));
        assert_eq!(
            d,
            "alert on a login after \u{2265} 5 failures from its address or \u{2265} 5 failures \
             for its user (in the last 5 h), or from a country new for its user"
        );
        let d = th(1, 12).describe(Duration::from_secs(5400));
        assert!(
            d.contains("\u{2265} 1 failure from")
                && d.contains("\u{2265} 12 failures for")
                && d.contains("90 min"),
            "{d}"
        );
    }

    #[test]
    fn failures_leave_the_window() {
        let mut a = Alerter::new(Duration::from_secs(60), th(1, 5));
        a.check(&ev(0, Kind::AuthFailure, "203.0.113.9", "alice", None));
        assert!(a
            .check(&ev(61, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .is_none());
        assert!(a.by_ip.is_empty() && a.by_user.is_empty());
    }

    #[test]
    fn success_after_n_failures_for_the_user_from_anywhere() {
        let mut a = Alerter::new(Duration::from_secs(3600), th(5, 3));
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
        let mut a = Alerter::new(Duration::from_secs(3600), th(1, 5));
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
        let mut a = Alerter::new(Duration::from_secs(3600), th(1, 5));
        a.check(&ev(0, Kind::AuthFailure, "203.0.113.9", "alice", None));
        let alert = a
            .check(&ev(1, Kind::AuthSuccess, "203.0.113.9", "alice", None))
            .unwrap();
        let j = alert.to_json(true);
        assert!(!j.contains("203.0.113.9"), "{j}");
        assert!(j.contains("203.0.113.0/24"), "{j}");
        assert!(alert.to_json(false).contains("203.0.113.9"));
    }

    #[test]
    fn a_burst_goes_out_once_a_minute_per_address_and_user() {
        let mut a = Alerter::new(Duration::from_secs(3600), Thresholds::default());
        for k in 0..5 {
            a.check(&ev(k, Kind::AuthFailure, "203.0.113.9", "root", None));
        }
        // 35 logins in 30 s (a bot looping on a found password), and one of another user.
        let burst: Vec<Alert> = (0..35)
            .filter_map(|k| {
                a.check(&ev(
                    10 + k * 30 / 35,
                    Kind::AuthSuccess,
                    "203.0.113.9",
                    "deploy",
                    None,
                ))
            })
            .collect();
        assert_eq!(burst.len(), 35, "every alert still reaches the stream");
        assert_eq!(burst.iter().filter(|x| !x.quiet).count(), 1);
        assert!(!burst[0].quiet && burst[1..].iter().all(|x| x.quiet));
        let other = a
            .check(&ev(20, Kind::AuthSuccess, "203.0.113.9", "ubuntu", None))
            .unwrap();
        assert!(!other.quiet, "another user is another group");
        // A minute after the first loud one: loud again, saying how many were held back.
        let next = a
            .check(&ev(70, Kind::AuthSuccess, "203.0.113.9", "deploy", None))
            .unwrap();
        assert!(!next.quiet);
        assert_eq!(next.held_back, 34);
        assert!(
            next.message(false)
                .ends_with("(34 more of these since the last alert)"),
            "{}",
            next.message(false)
        );
        assert!(next.to_json(false).contains("\"held_back\":34"));
        let after = a
            .check(&ev(71, Kind::AuthSuccess, "203.0.113.9", "deploy", None))
            .unwrap();
        assert!(after.quiet && after.held_back == 0);
    }
}
