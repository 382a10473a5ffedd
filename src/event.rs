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

pub use crate::parse::text::Text;

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
        let mut buf = [0u8; RFC3339_MAX];
        let n = self.rfc3339_bytes(&mut buf);
        // The digits, signs and separators written are ASCII.
        out.push_str(std::str::from_utf8(&buf[..n]).unwrap_or_default());
    }

    /// [`Ts::to_rfc3339`] into `buf`, digit by digit (no `fmt`: `parse` writes
    /// one per event, and the formatter was a fifth of its time, issue #15);
    /// returns the length.
    pub fn rfc3339_bytes(self, buf: &mut [u8; RFC3339_MAX]) -> usize {
        let local = self.micros + i64::from(self.offset) * 1_000_000;
        let secs = local.div_euclid(1_000_000);
        let frac = local.rem_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        let mut n = 0;
        if (0..=9999).contains(&y) {
            digits(buf, &mut n, y as u32, 4);
        } else {
            // `{:04}` of a year out of four digits (never from a log's stamps).
            let s = format!("{y:04}");
            let s = &s.as_bytes()[..s.len().min(12)];
            buf[..s.len()].copy_from_slice(s);
            n = s.len();
        }
        buf[n] = b'-';
        n += 1;
        digits(buf, &mut n, m, 2);
        buf[n] = b'-';
        n += 1;
        digits(buf, &mut n, d, 2);
        buf[n] = b'T';
        n += 1;
        digits(buf, &mut n, sod / 3600, 2);
        buf[n] = b':';
        n += 1;
        digits(buf, &mut n, (sod / 60) % 60, 2);
        buf[n] = b':';
        n += 1;
        digits(buf, &mut n, sod % 60, 2);
        if frac != 0 {
            buf[n] = b'.';
            n += 1;
            digits(buf, &mut n, frac as u32, 6);
        }
        let off = self.offset;
        buf[n] = if off < 0 { b'-' } else { b'+' };
        n += 1;
        let a = off.unsigned_abs();
        // Offsets are within a day; `{:02}` of more would print three digits.
        digits(buf, &mut n, (a / 3600).min(99), 2);
        buf[n] = b':';
        n += 1;
        digits(buf, &mut n, (a / 60) % 60, 2);
        n
    }
}

/// The longest [`Ts::rfc3339_bytes`]: a 12-byte year, `-MM-DDTHH:MM:SS.ffffff+HH:MM`.
pub const RFC3339_MAX: usize = 12 + 28;

/// `v` zero-padded to `width` decimal digits (`v < 10^width`).
fn digits(buf: &mut [u8], n: &mut usize, mut v: u32, width: usize) {
    for i in (0..width).rev() {
        buf[*n + i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    *n += width;
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
    /// Names are kept inline (no allocation up to 30 bytes): every event
    /// has one or two, and a `String` each was a malloc and a free (issue #15).
    pub method: Option<Text>,
    /// The name as the client sent it; `Some("")` for an empty name.
    pub user: Option<Text>,
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

/// Writes events in one of the [`Format`]s. Events gather in a buffer of
/// its own ([`EventWriter::CHUNK`]) that goes to `out` in one piece (one
/// `write_all` an event cost a tenth of writing it, issue #15): what is
/// not [`EventWriter::flush`]ed is lost.
pub struct EventWriter<W: Write> {
    out: W,
    format: Format,
    buf: Vec<u8>,
    cache: JsonCache,
}

impl<W: Write> EventWriter<W> {
    pub fn new(out: W, format: Format) -> io::Result<Self> {
        let mut w = EventWriter {
            out,
            format,
            buf: Vec::with_capacity(Self::CHUNK + 4096),
            cache: JsonCache::default(),
        };
        if format == Format::Csv {
            w.out.write_all(CSV_HEADER.as_bytes())?;
            w.out.write_all(b"\n")?;
        }
        Ok(w)
    }

    const CHUNK: usize = 64 << 10;

    pub fn write(&mut self, ev: &Event) -> io::Result<()> {
        match self.format {
            Format::Jsonl => ev.write_json_with(&mut self.buf, &mut self.cache),
            Format::Csv => write_csv_row(&mut self.buf, ev),
        }
        self.buf.push(b'\n');
        if self.buf.len() >= Self::CHUNK {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
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
        self.write_json_with(out, &mut JsonCache::off());
    }

    /// [`Event::write_json`] reusing what it wrote before: `geo` objects,
    /// shared names (host, program, input) and the last timestamp.
    pub fn write_json_with(&self, out: &mut Vec<u8>, cache: &mut JsonCache) {
        let ev = self;
        // Each constant run of bytes in one piece: a call per piece is most
        // of what writing an event costs.
        out.reserve(512);
        out.extend_from_slice(b"{\"ts\":\"");
        cache.ts(out, ev.ts);
        out.extend_from_slice(b"\",\"host\":");
        match &ev.host {
            Some(h) => cache.name(out, h, JsonCache::HOST),
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"program\":");
        cache.name(out, &ev.program, JsonCache::PROGRAM);
        out.extend_from_slice(b",\"pid\":");
        opt_int(out, ev.pid);
        out.extend_from_slice(b",\"kind\":\"");
        out.extend_from_slice(ev.kind.as_str().as_bytes());
        out.extend_from_slice(b"\",\"method\":");
        opt_str(out, ev.method.as_deref());
        out.extend_from_slice(b",\"user\":");
        opt_str(out, ev.user.as_deref());
        out.extend_from_slice(if ev.invalid_user {
            b",\"invalid_user\":true,\"ip\":"
        } else {
            b",\"invalid_user\":false,\"ip\":"
        });
        match ev.ip {
            Some(ip) => {
                out.push(b'"');
                write_ip(out, ip);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"port\":");
        opt_int(out, ev.port);
        out.extend_from_slice(b",\"count\":");
        int(out, ev.count);
        out.extend_from_slice(b",\"attempts\":");
        int(out, ev.attempts);
        out.extend_from_slice(b",\"geo\":");
        match &ev.geo {
            Some(g) => cache.write(out, g),
            None => out.extend_from_slice(b"null"),
        }
        match ev.scope {
            Some(Scope::Public) => out.extend_from_slice(b",\"scope\":\"public\""),
            Some(Scope::Private) => out.extend_from_slice(b",\"scope\":\"private\""),
            Some(Scope::Loopback) => out.extend_from_slice(b",\"scope\":\"loopback\""),
            Some(Scope::Reserved) => out.extend_from_slice(b",\"scope\":\"reserved\""),
            None => {}
        }
        if let Some(p) = ev.password() {
            out.extend_from_slice(b",\"password\":");
            json_str(out, p);
        }
        if let Some(c) = ev.command() {
            out.extend_from_slice(b",\"command\":");
            json_str(out, c);
        }
        out.extend_from_slice(b",\"src\":{\"input\":");
        cache.name(out, &ev.src.input, JsonCache::INPUT);
        out.extend_from_slice(b",\"line\":");
        int(out, ev.src.line);
        out.extend_from_slice(b"}}");
    }
}

#[cfg(test)]
impl Event {
    /// A one-attempt `auth_failure` of line `line` of input `t`, nothing else
    /// set: tests fill in what they look at.
    pub(crate) fn at_line(line: u64) -> Event {
        Event {
            ts: Ts::default(),
            host: None,
            program: "sshd".into(),
            pid: None,
            kind: Kind::AuthFailure,
            method: None,
            user: None,
            invalid_user: false,
            ip: None,
            port: None,
            count: 1,
            attempts: 1,
            geo: None,
            scope: None,
            honeypot: None,
            src: Src {
                input: "t".into(),
                line,
            },
        }
    }
}

/// A JSON string, or `null`.
fn opt_str(out: &mut Vec<u8>, v: Option<&str>) {
    match v {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// An integer as serde_json writes it (its own `itoa`).
fn int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn opt_int<I: itoa::Integer>(out: &mut Vec<u8>, v: Option<I>) {
    match v {
        Some(v) => int(out, v),
        None => out.extend_from_slice(b"null"),
    }
}

/// `s` as a JSON string, as serde_json writes it: text that needs no escape
/// (no control character, quote or backslash: nearly every name) is copied
/// as it is, the rest goes through serde_json's escaper.
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// Whether `b` holds a byte JSON escapes: a control character, `"` or `\\`.
/// Eight bytes at a time (a name is checked once per event written).
fn needs_escape(b: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Whether a byte of `w` is below `n` (n <= 128): exact, no false positive.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0;
    let zero = |w: u64| w.wrapping_sub(ONES) & !w & HIGH != 0;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap_or_default());
        if below(w, 0x20) || zero(w ^ (ONES * 0x22)) || zero(w ^ (ONES * 0x5c)) {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&c| c < 0x20 || c == b'"' || c == b'\\')
}

/// What [`Event::write_json_with`] wrote before and writes again.
///
/// The `geo` objects by their `Arc`: every event of an address shares one, and
/// formatting its two floats cost more than the rest of the event (issue #15).
/// A slot keeps its `Arc`, so the address it is found by cannot be reused for
/// another value while it is there. The same for the shared names (host,
/// program, input: the same few `Arc`s on every event), and the last
/// timestamp (lines of one second come together).
#[derive(Default)]
pub struct JsonCache {
    slots: Vec<Option<(Arc<Geo>, Vec<u8>)>>,
    names: [Option<(Arc<str>, Vec<u8>)>; 8],
    next_name: usize,
    /// Per field (host, program, input): the slot of its last name, looked
    /// at first (nearly always the one).
    last_name: [usize; 3],
    ts: Option<(Ts, [u8; RFC3339_MAX], usize)>,
    /// Write everything afresh, keep nothing (one event alone).
    off: bool,
}

impl JsonCache {
    const SLOTS: usize = 256;
    const HOST: usize = 0;
    const PROGRAM: usize = 1;
    const INPUT: usize = 2;

    /// A cache that keeps nothing: for an event written alone.
    pub fn off() -> JsonCache {
        JsonCache {
            off: true,
            ..JsonCache::default()
        }
    }

    fn ts(&mut self, out: &mut Vec<u8>, ts: Ts) {
        match &self.ts {
            Some((t, buf, n)) if *t == ts && !self.off => out.extend_from_slice(&buf[..*n]),
            _ => {
                let mut buf = [0u8; RFC3339_MAX];
                let n = ts.rfc3339_bytes(&mut buf);
                out.extend_from_slice(&buf[..n]);
                if !self.off {
                    self.ts = Some((ts, buf, n));
                }
            }
        }
    }

    /// The name of `field` (`HOST`, `PROGRAM` or `INPUT`).
    fn name(&mut self, out: &mut Vec<u8>, s: &Arc<str>, field: usize) {
        if self.off {
            return json_str(out, s);
        }
        if let Some((a, bytes)) = &self.names[self.last_name[field]] {
            if Arc::ptr_eq(a, s) {
                return out.extend_from_slice(bytes);
            }
        }
        // A few names, searched in turn; a new one takes the slot after the
        // last one taken.
        for (i, slot) in self.names.iter().enumerate() {
            if let Some((a, bytes)) = slot {
                if Arc::ptr_eq(a, s) {
                    self.last_name[field] = i;
                    return out.extend_from_slice(bytes);
                }
            }
        }
        let mut bytes = Vec::with_capacity(s.len() + 2);
        json_str(&mut bytes, s);
        out.extend_from_slice(&bytes);
        let at = self.next_name;
        self.next_name = (at + 1) % self.names.len();
        self.names[at] = Some((s.clone(), bytes));
        self.last_name[field] = at;
    }

    fn write(&mut self, out: &mut Vec<u8>, g: &Arc<Geo>) {
        if self.off {
            return write_geo(out, g);
        }
        if self.slots.is_empty() {
            self.slots.resize_with(Self::SLOTS, || None);
        }
        let h = (Arc::as_ptr(g) as u64 >> 4).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56;
        let slot = &mut self.slots[h as usize % Self::SLOTS];
        match slot {
            Some((a, bytes)) if Arc::ptr_eq(a, g) => out.extend_from_slice(bytes),
            _ => {
                let mut bytes = Vec::with_capacity(160);
                write_geo(&mut bytes, g);
                out.extend_from_slice(&bytes);
                *slot = Some((g.clone(), bytes));
            }
        }
    }
}

/// A `geo` object as serde_json writes the [`Geo`] struct.
fn write_geo(out: &mut Vec<u8>, g: &Geo) {
    fn opt_f64(out: &mut Vec<u8>, v: Option<f64>) {
        match v {
            // serde_json's own float format (ryu); it writes `null` for NaN and infinities.
            Some(v) if v.is_finite() => {
                out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes())
            }
            _ => out.extend_from_slice(b"null"),
        }
    }
    out.extend_from_slice(b"{\"country\":");
    opt_str(out, g.country.as_deref());
    out.extend_from_slice(b",\"country_name\":");
    opt_str(out, g.country_name.as_deref());
    out.extend_from_slice(b",\"city\":");
    opt_str(out, g.city.as_deref());
    out.extend_from_slice(b",\"lat\":");
    opt_f64(out, g.lat);
    out.extend_from_slice(b",\"lon\":");
    opt_f64(out, g.lon);
    out.extend_from_slice(b",\"asn\":");
    opt_int(out, g.asn);
    out.extend_from_slice(b",\"org\":");
    opt_str(out, g.org.as_deref());
    out.extend_from_slice(b",\"precision\":");
    opt_str(out, g.precision);
    out.push(b'}');
}

/// An address as `Display` writes it, without the formatter (one per event
/// in `parse`'s output, where the formatter cost more than the rest of the
/// line; an IPv6 address ~2,000 instructions). IPv6 as RFC 5952 and `std`
/// write it: lowercase hex groups without leading zeros, the longest run of
/// two or more zero groups (the first of equal ones) as `::`, an IPv4-mapped
/// address as `::ffff:a.b.c.d`.
pub fn write_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut buf = [0u8; 16];
            let mut n = 0;
            for o in v4.octets() {
                let [len, d @ ..] = OCTETS[usize::from(o)];
                buf[n..n + 3].copy_from_slice(&d);
                n += usize::from(len);
                buf[n] = b'.';
                n += 1;
            }
            out.extend_from_slice(&buf[..n - 1]);
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                out.extend_from_slice(b"::ffff:");
                return write_ip(out, IpAddr::V4(v4));
            }
            let g = v6.segments();
            let (mut zeros_at, mut zeros, mut run_at, mut run) = (0, 0, 0, 0);
            for (i, &x) in g.iter().enumerate() {
                if x != 0 {
                    run = 0;
                    continue;
                }
                if run == 0 {
                    run_at = i;
                }
                run += 1;
                if run > zeros {
                    (zeros_at, zeros) = (run_at, run);
                }
            }
            if zeros > 1 {
                write_hex_groups(out, &g[..zeros_at]);
                out.extend_from_slice(b"::");
                write_hex_groups(out, &g[zeros_at + zeros..]);
            } else {
                write_hex_groups(out, &g);
            }
        }
    }
}

/// IPv6 groups joined by `:`, each in lowercase hex without leading zeros.
fn write_hex_groups(out: &mut Vec<u8>, groups: &[u16]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, &x) in groups.iter().enumerate() {
        if i > 0 {
            out.push(b':');
        }
        let digits = (16 - x.leading_zeros() as usize).div_ceil(4).max(1);
        for k in (0..digits).rev() {
            out.push(HEX[usize::from(x >> (4 * k)) & 0xf]);
        }
    }
}

/// `ip.to_string()`, without the formatter (the stores write one per
/// distinct address per commit, where `Display` cost ~1,500 instructions).
pub fn ip_string(ip: IpAddr) -> String {
    let mut out = Vec::with_capacity(15);
    write_ip(&mut out, ip);
    // `write_ip` writes ASCII digits, dots, colons and hex.
    String::from_utf8(out).unwrap_or_default()
}

/// Each octet's decimal digits: `[len, d0, d1, d2]`.
const OCTETS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let v = i as u8;
        t[i] = if v >= 100 {
            [3, b'0' + v / 100, b'0' + (v / 10) % 10, b'0' + v % 10]
        } else if v >= 10 {
            [2, b'0' + v / 10, b'0' + v % 10, 0]
        } else {
            [1, b'0' + v, 0, 0]
        };
        i += 1;
    }
    t
};

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

    /// The digit-by-digit writers give `fmt`'s and serde_json's bytes.
    #[test]
    fn hand_written_json_matches_fmt_and_serde() {
        let fmt_ts = |ts: Ts| {
            let local = ts.micros + i64::from(ts.offset) * 1_000_000;
            let (secs, frac) = (local.div_euclid(1_000_000), local.rem_euclid(1_000_000));
            let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            let mut s = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                y,
                m,
                d,
                sod / 3600,
                (sod / 60) % 60,
                sod % 60
            );
            if frac != 0 {
                s += &format!(".{frac:06}");
            }
            let a = ts.offset.unsigned_abs();
            let sign = if ts.offset < 0 { '-' } else { '+' };
            s + &format!("{}{:02}:{:02}", sign, a / 3600, (a / 60) % 60)
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..20_000 {
            let micros = match i % 4 {
                0 => (next() % 4_000_000_000) as i64 * 1_000_000,
                1 => (next() as i64) >> 10,
                2 => -((next() % 100_000_000_000) as i64),
                _ => (next() % 253_402_300_799) as i64 * 1_000_000 + (next() % 1_000_000) as i64,
            };
            let offset = (next() % (2 * 93_600)) as i32 - 93_600;
            let ts = Ts::from_micros(micros, offset);
            assert_eq!(ts.to_rfc3339(), fmt_ts(ts), "{ts:?}");
            let ip = if i % 3 == 0 {
                IpAddr::from(((next() as u128) << 64 | next() as u128).to_be_bytes())
            } else if i % 3 == 1 {
                // Zero runs of every length and place, small groups, mapped
                // and compatible IPv4.
                let mut g = [0u16; 8];
                for x in &mut g {
                    *x = match next() % 4 {
                        0 | 1 => 0,
                        2 => (next() % 16) as u16,
                        _ => next() as u16,
                    };
                }
                if next() % 8 == 0 {
                    g[..5].fill(0);
                    g[5] = if next() % 2 == 0 { 0xffff } else { 0 };
                }
                IpAddr::from(std::net::Ipv6Addr::from(g))
            } else {
                IpAddr::from((next() as u32).to_be_bytes())
            };
            let mut out = Vec::new();
            write_ip(&mut out, ip);
            assert_eq!(out, ip.to_string().as_bytes());
            assert_eq!(ip_string(ip), ip.to_string());
        }
        for ip in [
            "::",
            "::1",
            "1::",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1:0:0:2:0:0:0:3",
            "0:0:1::",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_string(ip), ip.to_string());
        }
        for ts in [
            i64::MIN / 2,
            -62_135_596_800_000_000 - 1,
            253_402_300_800_000_000,
        ] {
            assert_eq!(
                Ts::from_micros(ts, 0).to_rfc3339(),
                fmt_ts(Ts::from_micros(ts, 0))
            );
        }
        let mut strings: Vec<String> = (0u8..=127).map(|b| format!("a{}b", b as char)).collect();
        // Every position of an 8-byte word, and the tail after it.
        for b in ['"', '\\', '\u{1f}', '\n', '\u{0}', '!', '#', '[', ']', 'é'] {
            for at in 0..19 {
                let mut t: Vec<char> = "abcdefghijklmnopqrs".chars().collect();
                t[at] = b;
                strings.push(t.into_iter().collect());
            }
        }
        strings.extend(
            [
                "",
                "root",
                "jö",
                "\u{2028}",
                "\u{7f}x",
                "\"\\",
                "日本",
                "\u{1b}[31m",
            ]
            .map(String::from),
        );
        for s in strings {
            let mut out = Vec::new();
            json_str(&mut out, &s);
            assert_eq!(out, serde_json::to_vec(&s).unwrap(), "{s:?}");
        }
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
            host: Some("vm".into()),
            pid: Some(7),
            method: Some("password".into()),
            user: Some("root".into()),
            ip: Some("192.0.2.1".parse().unwrap()),
            port: Some(22),
            src: Src {
                input: "a".into(),
                line: 3,
            },
            ..Event::at_line(3)
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
        // `geo` objects through the writer's cache: the same bytes as serde_json,
        // whether the `Arc` is shared, fresh, or dropped and its address reused.
        let mut cache = JsonCache::default();
        for i in 0..600u32 {
            let g = Geo {
                country: Some(format!("C{}", i % 7).into()),
                country_name: (i % 3 == 0).then(|| "Côte \"d\" Ivoire".into()),
                city: None,
                lat: Some(f64::from(i) / 7.0 - 40.0),
                lon: if i % 5 == 0 {
                    Some(f64::NAN)
                } else {
                    Some(-f64::from(i) * 0.1)
                },
                asn: (i % 2 == 0).then_some(i * 1000),
                org: Some("AS\u{1}x".into()),
                precision: Some("city"),
            };
            let shared = Arc::new(g);
            // Names: one `Arc` kept, fresh ones (other text, or the same), and
            // stamps that repeat, then change.
            let kept: Arc<str> = Arc::from("web-1");
            for k in 0..2 {
                ev.geo = Some(shared.clone());
                ev.host = match i % 3 {
                    0 => Some(kept.clone()),
                    1 => Some(Arc::from(format!("h{}\"", i % 11).as_str())),
                    _ => None,
                };
                ev.src.input = Arc::from(if i % 2 == 0 { "a" } else { "b\\c" });
                ev.scope = [
                    None,
                    Some(Scope::Public),
                    Some(Scope::Private),
                    Some(Scope::Loopback),
                    Some(Scope::Reserved),
                ][i as usize % 5];
                ev.invalid_user = i % 4 == 1;
                ev.pid = (i % 6 != 0).then_some(i * 7919);
                ev.port = (i % 7 != 0).then_some((i * 131) as u16);
                ev.ts = Ts::from_micros(
                    i64::from(i / 3) * 1_000_000 + i64::from(k),
                    3600 * (i % 2) as i32,
                );
                let mut buf = Vec::new();
                ev.write_json_with(&mut buf, &mut cache);
                assert_eq!(buf, serde_json::to_vec(&ev).unwrap());
            }
        }
        ev.geo = None;
        ev.src.input = "a".into();
        (ev.scope, ev.invalid_user, ev.pid, ev.port) = (None, false, Some(7), Some(22));
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
            pid: Some(1),
            method: Some("password".into()),
            user: Some("=cmd|' /C calc'!A0,\"x\"".into()),
            invalid_user: true,
            ip: Some("192.0.2.1".parse().unwrap()),
            port: Some(22),
            src: Src {
                input: "a".into(),
                line: 3,
            },
            ..Event::at_line(3)
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
