//! The one event type that flows through every stage (DESIGN §2), and its
//! JSON Lines / CSV encodings.
//!
//! Events are produced by [`crate::parse`], enriched by [`crate::geo`], stored,
//! analysed and drawn. The JSON shape is a public contract: field names and
//! `kind` values never change meaning; new fields may be added.

use std::fmt;
use std::io::{self, Write};
use std::net::IpAddr;
use std::sync::Arc;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

/// What happened, as DESIGN §2 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    AuthFailure,
    InvalidUser,
    TooManyFailures,
    PreauthClose,
    NegotiationFailure,
    BadProtocol,
    Refused,
    PamFailure,
    Penalty,
    AuthSuccess,
    Ban,
    Unban,
    /// A command typed in a honeypot session after its login (Cowrie
    /// `cowrie.command.input`; the text in [`Event::command`]). No attempt.
    Command,
    /// Any other sshd line; only emitted with `parse --all`.
    Other,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::AuthFailure,
        Kind::InvalidUser,
        Kind::TooManyFailures,
        Kind::PreauthClose,
        Kind::NegotiationFailure,
        Kind::BadProtocol,
        Kind::Refused,
        Kind::PamFailure,
        Kind::Penalty,
        Kind::AuthSuccess,
        Kind::Ban,
        Kind::Unban,
        Kind::Command,
        Kind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::AuthFailure => "auth_failure",
            Kind::InvalidUser => "invalid_user",
            Kind::TooManyFailures => "too_many_failures",
            Kind::PreauthClose => "preauth_close",
            Kind::NegotiationFailure => "negotiation_failure",
            Kind::BadProtocol => "bad_protocol",
            Kind::Refused => "refused",
            Kind::PamFailure => "pam_failure",
            Kind::Penalty => "penalty",
            Kind::AuthSuccess => "auth_success",
            Kind::Ban => "ban",
            Kind::Unban => "unban",
            Kind::Command => "command",
            Kind::Other => "other",
        }
    }

    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether every event of this kind is an attack attempt (DESIGN §2).
    /// `pam_failure` is decided per event by the correlator, see [`Event::attempts`].
    pub fn is_attempt(self) -> bool {
        matches!(
            self,
            Kind::AuthFailure | Kind::NegotiationFailure | Kind::BadProtocol | Kind::Refused
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An instant with the UTC offset it should be shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ts {
    /// Microseconds since the Unix epoch (UTC).
    pub micros: i64,
    /// Offset from UTC in seconds that the source used (or `--tz` gave).
    pub offset: i32,
}

impl Ts {
    pub fn from_micros(micros: i64, offset: i32) -> Ts {
        Ts { micros, offset }
    }

    pub fn unix_secs(self) -> i64 {
        self.micros.div_euclid(1_000_000)
    }

    /// RFC 3339 with the offset, seconds precision, microseconds only when present.
    pub fn to_rfc3339(self) -> String {
        let mut s = String::with_capacity(32);
        self.write_rfc3339(&mut s);
        s
    }

    pub fn write_rfc3339(self, out: &mut String) {
        use std::fmt::Write as _;
        let local = self.micros + i64::from(self.offset) * 1_000_000;
        let secs = local.div_euclid(1_000_000);
        let frac = local.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            y,
            m,
            d,
            sod / 3600,
            (sod / 60) % 60,
            sod % 60
        );
        if frac != 0 {
            let _ = write!(out, ".{frac:06}");
        }
        let off = self.offset;
        let sign = if off < 0 { '-' } else { '+' };
        let a = off.unsigned_abs();
        let _ = write!(out, "{}{:02}:{:02}", sign, a / 3600, (a / 60) % 60);
    }
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month, day) → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Where an address sits (issue 3 fills `Public` vs the rest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    Public,
    Private,
    Loopback,
    Reserved,
}

/// Location of the source address (DESIGN §2 `geo`).
#[derive(Clone, Debug, PartialEq, Default, Serialize)]
pub struct Geo {
    pub country: Option<Arc<str>>,
    pub country_name: Option<Arc<str>>,
    pub city: Option<Arc<str>>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub asn: Option<u32>,
    pub org: Option<Arc<str>>,
    /// `"city"` or `"country"`: how precise `lat`/`lon` are.
    pub precision: Option<&'static str>,
}

/// Where the event was read (DESIGN §2 `src`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Src {
    pub input: Arc<str>,
    /// 1-based line number in that input.
    pub line: u64,
}

/// One normalized sshd security event.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub ts: Ts,
    pub host: Option<Arc<str>>,
    pub program: Arc<str>,
    pub pid: Option<u32>,
    pub kind: Kind,
    pub method: Option<String>,
    /// The name as the client sent it; `Some("")` for an empty name.
    pub user: Option<String>,
    pub invalid_user: bool,
    pub ip: Option<IpAddr>,
    pub port: Option<u16>,
    /// 1, or N for `message repeated N times: [ … ]` and `PAM N more …`.
    pub count: u32,
    /// Attack attempts this event stands for (DESIGN §2 last column):
    /// `count` for attempt kinds, 0 for the others, and for `pam_failure`
    /// only the part no `auth_failure` of the same connection reported.
    pub attempts: u32,
    /// Shared by every event from the same address: cloning an event costs
    /// one reference count, not one per string (the enricher's hot path).
    pub geo: Option<Arc<Geo>>,
    pub scope: Option<Scope>,
    /// What a honeypot logged beyond sshd's fields; `None` for sshd.
    pub honeypot: Option<Box<Honeypot>>,
    pub src: Src,
}

/// What a honeypot (Cowrie) logs beyond sshd's fields. Boxed in [`Event`]:
/// sshd's events, nearly all of them, pay one pointer for it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Honeypot {
    /// The password of a login attempt, as the client sent it. Attacker text.
    pub password: Option<String>,
    /// The command line typed, on a [`Kind::Command`] event. Attacker text.
    pub command: Option<String>,
}

impl Honeypot {
    /// `None` when there is nothing to keep.
    pub fn boxed(password: Option<String>, command: Option<String>) -> Option<Box<Honeypot>> {
        (password.is_some() || command.is_some()).then(|| Box::new(Honeypot { password, command }))
    }
}

impl Event {
    /// The password a honeypot logged with this login attempt.
    pub fn password(&self) -> Option<&str> {
        self.honeypot.as_ref()?.password.as_deref()
    }

    /// The command typed, on a [`Kind::Command`] event.
    pub fn command(&self) -> Option<&str> {
        self.honeypot.as_ref()?.command.as_deref()
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct SrcRef<'a>(&'a Src);
        impl Serialize for SrcRef<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("input", &*self.0.input)?;
                m.serialize_entry("line", &self.0.line)?;
                m.end()
            }
        }
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ts", &self.ts.to_rfc3339())?;
        m.serialize_entry("host", &self.host.as_deref())?;
        m.serialize_entry("program", &*self.program)?;
        m.serialize_entry("pid", &self.pid)?;
        m.serialize_entry("kind", self.kind.as_str())?;
        m.serialize_entry("method", &self.method)?;
        m.serialize_entry("user", &self.user)?;
        m.serialize_entry("invalid_user", &self.invalid_user)?;
        m.serialize_entry("ip", &self.ip.map(|ip| ip.to_string()))?;
        m.serialize_entry("port", &self.port)?;
        m.serialize_entry("count", &self.count)?;
        m.serialize_entry("attempts", &self.attempts)?;
        m.serialize_entry("geo", &self.geo)?;
        if let Some(scope) = self.scope {
            m.serialize_entry("scope", &scope)?;
        }
        // Honeypot fields, only when present: sshd's events keep their bytes.
        if let Some(p) = self.password() {
            m.serialize_entry("password", p)?;
        }
        if let Some(c) = self.command() {
            m.serialize_entry("command", c)?;
        }
        m.serialize_entry("src", &SrcRef(&self.src))?;
        m.end()
    }
}

/// Output encodings of `sshmap parse`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

/// Column order of the CSV encoding.
pub const CSV_HEADER: &str = "ts,host,program,pid,kind,method,user,invalid_user,ip,port,count,attempts,country,country_name,city,lat,lon,asn,org,input,line";

/// Writes events in one of the [`Format`]s.
pub struct EventWriter<W: Write> {
    out: W,
    format: Format,
    buf: Vec<u8>,
}

impl<W: Write> EventWriter<W> {
    pub fn new(out: W, format: Format) -> io::Result<Self> {
        let mut w = EventWriter {
            out,
            format,
            buf: Vec::with_capacity(512),
        };
        if format == Format::Csv {
            w.out.write_all(CSV_HEADER.as_bytes())?;
            w.out.write_all(b"\n")?;
        }
        Ok(w)
    }

    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        self.buf.clear();
        match self.format {
            Format::Jsonl => ev.write_json(&mut self.buf),
            Format::Csv => write_csv_row(&mut self.buf, ev),
        }
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn write_csv_row(buf: &mut Vec<u8>, ev: &Event) {
    fn field(buf: &mut Vec<u8>, s: &str) {
        // RFC 4180 quoting, and a leading quote mark against spreadsheet formula
        // injection: user names are attacker text. Control characters (a decoded
        // `\033` in a user name) are shown, not sent to whoever reads the CSV.
        let s = &*crate::escape::terminal(s);
        let formula = matches!(
            s.as_bytes().first(),
            Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
        );
        if formula || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
            buf.push(b'"');
            if formula {
                buf.push(b'\'');
            }
            for b in s.bytes() {
                if b == b'"' {
                    buf.push(b'"');
                }
                buf.push(b);
            }
            buf.push(b'"');
        } else {
            buf.extend_from_slice(s.as_bytes());
        }
        buf.push(b',');
    }
    fn opt<T: ToString>(buf: &mut Vec<u8>, v: Option<T>) {
        if let Some(v) = v {
            field(buf, &v.to_string());
        } else {
            buf.push(b',');
        }
    }
    // Numbers are sshmap's own, never attacker text: written as they are, so a
    // spreadsheet reads `-12.528` as a number (the guard made it `'-12.528`).
    fn num<T: std::fmt::Display>(buf: &mut Vec<u8>, v: Option<T>) {
        if let Some(v) = v {
            let _ = write!(buf, "{v}");
        }
        buf.push(b',');
    }
    let geo = ev.geo.as_ref();
    field(buf, &ev.ts.to_rfc3339());
    opt(buf, ev.host.as_deref());
    field(buf, &ev.program);
    num(buf, ev.pid);
    field(buf, ev.kind.as_str());
    opt(buf, ev.method.as_deref());
    opt(buf, ev.user.as_deref());
    field(buf, if ev.invalid_user { "true" } else { "false" });
    opt(buf, ev.ip);
    num(buf, ev.port);
    num(buf, Some(ev.count));
    num(buf, Some(ev.attempts));
    opt(buf, geo.and_then(|g| g.country.as_deref()));
    opt(buf, geo.and_then(|g| g.country_name.as_deref()));
    opt(buf, geo.and_then(|g| g.city.as_deref()));
    num(buf, geo.and_then(|g| g.lat));
    num(buf, geo.and_then(|g| g.lon));
    num(buf, geo.and_then(|g| g.asn));
    opt(buf, geo.and_then(|g| g.org.as_deref()));
    field(buf, &ev.src.input);
    num(buf, Some(ev.src.line));
    buf.pop(); // trailing comma
}

impl Event {
    /// `serde_json::to_string(ev)`, written field by field: the same bytes (the
    /// same escaping and number formatting, from serde_json itself) without the
    /// serializer's generic machinery, which was a third of the live pipeline's
    /// time per line. Every writer of event JSON uses it (`parse`, the API, SSE).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let ev = self;
        use serde::Serialize;
        fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) {
            let _ = serde_json::to_writer(&mut *out, v);
        }
        fn key(out: &mut Vec<u8>, k: &str) {
            out.extend_from_slice(b",\"");
            out.extend_from_slice(k.as_bytes());
            out.extend_from_slice(b"\":");
        }
        fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
            match v {
                Some(s) => put(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        let mut ts = String::with_capacity(32);
        ev.ts.write_rfc3339(&mut ts);
        out.extend_from_slice(b"{\"ts\":");
        put(out, ts.as_str());
        key(out, "host");
        opt_str(out, ev.host.as_deref());
        key(out, "program");
        put(out, &*ev.program);
        key(out, "pid");
        put(out, &ev.pid);
        key(out, "kind");
        put(out, ev.kind.as_str());
        key(out, "method");
        opt_str(out, ev.method.as_deref());
        key(out, "user");
        opt_str(out, ev.user.as_deref());
        key(out, "invalid_user");
        put(out, &ev.invalid_user);
        key(out, "ip");
        match ev.ip {
            Some(ip) => {
                use std::io::Write;
                let _ = write!(out, "\"{ip}\"");
            }
            None => out.extend_from_slice(b"null"),
        }
        key(out, "port");
        put(out, &ev.port);
        key(out, "count");
        put(out, &ev.count);
        key(out, "attempts");
        put(out, &ev.attempts);
        key(out, "geo");
        match &ev.geo {
            Some(g) => {
                out.extend_from_slice(b"{\"country\":");
                opt_str(out, g.country.as_deref());
                key(out, "country_name");
                opt_str(out, g.country_name.as_deref());
                key(out, "city");
                opt_str(out, g.city.as_deref());
                key(out, "lat");
                put(out, &g.lat);
                key(out, "lon");
                put(out, &g.lon);
                key(out, "asn");
                put(out, &g.asn);
                key(out, "org");
                opt_str(out, g.org.as_deref());
                key(out, "precision");
                opt_str(out, g.precision);
                out.push(b'}');
            }
            None => out.extend_from_slice(b"null"),
        }
        if let Some(scope) = ev.scope {
            key(out, "scope");
            put(out, &scope);
        }
        if let Some(p) = ev.password() {
            key(out, "password");
            put(out, p);
        }
        if let Some(c) = ev.command() {
            key(out, "command");
            put(out, c);
        }
        out.extend_from_slice(b",\"src\":{\"input\":");
        put(out, &*ev.src.input);
        out.extend_from_slice(b",\"line\":");
        put(out, &ev.src.line);
        out.extend_from_slice(b"}}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_offsets_and_fractions() {
        // 2026-11-23T07:41:35Z
        let secs = days_from_civil(2026, 11, 23) * 86_400 + 7 * 3600 + 41 * 60 + 35;
        let ts = Ts::from_micros(secs * 1_000_000, 0);
        assert_eq!(ts.to_rfc3339(), "2026-11-23T07:41:35+00:00");
        let ts = Ts::from_micros(secs * 1_000_000 + 738_197, 3600);
        assert_eq!(ts.to_rfc3339(), "2026-11-23T08:41:35.738197+01:00");
        let ts = Ts::from_micros(secs * 1_000_000, -(4 * 3600 + 1800));
        assert_eq!(ts.to_rfc3339(), "2026-11-23T03:11:35-04:30");
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000i64, -1, 0, 1, 10_957, 20_415, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }

    /// Issue 14: the honeypot fields appear only when present, so an sshd
    /// event's JSON keeps its bytes; both encoders agree on them.
    #[test]
    fn honeypot_fields_only_when_present() {
        let mut ev = Event {
            ts: Ts::default(),
            host: Some("vm".into()),
            program: "sshd".into(),
            pid: Some(7),
            kind: Kind::AuthFailure,
            method: Some("password".into()),
            user: Some("root".into()),
            invalid_user: false,
            ip: Some("192.0.2.1".parse().unwrap()),
            port: Some(22),
            count: 1,
            attempts: 1,
            geo: None,
            scope: None,
            honeypot: None,
            src: Src {
                input: "a".into(),
                line: 3,
            },
        };
        let json = |ev: &Event| {
            let mut buf = Vec::new();
            ev.write_json(&mut buf);
            assert_eq!(buf, serde_json::to_vec(ev).unwrap());
            String::from_utf8(buf).unwrap()
        };
        assert_eq!(
            json(&ev),
            r#"{"ts":"1970-01-01T00:00:00+00:00","host":"vm","program":"sshd","pid":7,"kind":"auth_failure","method":"password","user":"root","invalid_user":false,"ip":"192.0.2.1","port":22,"count":1,"attempts":1,"geo":null,"src":{"input":"a","line":3}}"#
        );
        ev.program = "cowrie".into();
        ev.honeypot = Honeypot::boxed(Some("</script>\u{1b}".into()), None);
        assert!(json(&ev)
            .ends_with(r#""geo":null,"password":"</script>\u001b","src":{"input":"a","line":3}}"#));
        ev.kind = Kind::Command;
        ev.honeypot = Honeypot::boxed(None, Some("uname -a".into()));
        assert!(json(&ev).contains(r#""kind":"command","#));
        assert!(json(&ev).contains(r#""command":"uname -a","src""#));
        assert_eq!(Kind::from_name("command"), Some(Kind::Command));
        assert!(!Kind::Command.is_attempt());
    }

    #[test]
    fn csv_quotes_and_defuses_attacker_text() {
        let mut buf = Vec::new();
        let ev = Event {
            ts: Ts::default(),
            host: None,
            program: "sshd".into(),
            pid: Some(1),
            kind: Kind::AuthFailure,
            method: Some("password".into()),
            user: Some("=cmd|' /C calc'!A0,\"x\"".into()),
            invalid_user: true,
            ip: Some("192.0.2.1".parse().unwrap()),
            port: Some(22),
            count: 1,
            attempts: 1,
            geo: None,
            scope: None,
            honeypot: None,
            src: Src {
                input: "a".into(),
                line: 3,
            },
        };
        write_csv_row(&mut buf, &ev);
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains(",\"'=cmd|' /C calc'!A0,\"\"x\"\"\","), "{s}");
        let mut buf = Vec::new();
        write_csv_row(
            &mut buf,
            &Event {
                user: Some("a\x1b[2Jb".into()),
                ..ev
            },
        );
        assert!(String::from_utf8(buf).unwrap().contains(",a\\x1b[2Jb,"));
        assert!(s.ends_with(",a,3"), "{s}");
    }

    /// Issue #14: negative coordinates came out as `'-12.528`, text to a
    /// spreadsheet. Numbers are ours, not attacker text: no formula guard.
    #[test]
    fn csv_numbers_stay_numbers() {
        let ev = Event {
            ts: Ts::default(),
            host: Some("-host".into()),
            program: "sshd".into(),
            pid: Some(1),
            kind: Kind::AuthFailure,
            method: Some("-password".into()),
            user: Some("-1+1".into()),
            invalid_user: false,
            ip: Some("192.0.2.1".parse().unwrap()),
            port: Some(22),
            count: 1,
            attempts: 1,
            geo: Some(
                Geo {
                    country: Some("BR".into()),
                    country_name: Some("Brazil".into()),
                    city: Some("-Town".into()),
                    lat: Some(-12.528),
                    lon: Some(-46.5),
                    asn: Some(64500),
                    org: Some("=Org".into()),
                    precision: Some("city"),
                }
                .into(),
            ),
            scope: None,
            honeypot: None,
            src: Src {
                input: "a".into(),
                line: 3,
            },
        };
        let mut buf = Vec::new();
        write_csv_row(&mut buf, &ev);
        let s = String::from_utf8(buf).unwrap();
        assert!(s.contains(",-12.528,-46.5,64500,"), "{s}");
        // Attacker and database text keeps the guard.
        assert!(s.contains(",\"'-1+1\","), "{s}");
        assert!(s.contains(",\"'-host\","), "{s}");
        assert!(s.contains(",\"'-password\","), "{s}");
        assert!(s.contains(",\"'-Town\","), "{s}");
        assert!(s.contains(",\"'=Org\","), "{s}");
    }
}
