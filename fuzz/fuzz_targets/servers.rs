//! Fuzzes the Dropbear and Cowrie parsers, and the envelopes in front of them,
//! deeper than random bytes reach: Dropbear messages arrive behind a real
//! syslog envelope, Cowrie records as valid JSON whose values are fuzzed (so
//! serde gets past the braces and the classifier sees hostile user names,
//! passwords, commands, addresses, ports and timestamps).
//!
//! What must hold, besides never panicking:
//! - the event's hand-written JSON (`Event::write_json`) is the serde
//!   encoding, byte for byte (two encoders of one contract);
//! - a Cowrie login keeps the record's password, a command its text, exactly.
//!
//! Input: a mode byte (`% 3`: 0 raw, 1 Dropbear, 2 Cowrie), then the mode's
//! bytes. Run with `cargo +nightly fuzz run servers` from the repository root
//! (seeds: `fuzz/seeds.sh`; see docs/fuzzing.md).
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use sshmap::event::{Event, Kind};
use sshmap::parse::{parse_block, Correlator, Options};

/// The first byte picks the mode; the rest is the mode's input. Raw bytes
/// are taken as they are (not through `arbitrary`, which would interleave
/// continuation bytes), so the recorded fixtures seed it directly.
enum Mode {
    /// Any bytes, as a block (the envelope sends each line to its parser).
    Raw,
    /// Dropbear messages, one per line, behind the envelope this byte picks.
    Dropbear(u8),
    /// Cowrie records, one per line, from `arbitrary`.
    Cowrie,
}

#[derive(Arbitrary, Debug)]
enum Addr {
    V4([u8; 4]),
    V6([u16; 8]),
    Text(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
struct Rec {
    eventid: u8,
    other_eventid: String,
    session: String,
    src_ip: Addr,
    src_port: Option<i64>,
    username: Option<String>,
    password: Option<String>,
    input: Option<String>,
    protocol: Option<String>,
    timestamp: Option<String>,
    sensor: Option<String>,
}

const EVENTIDS: [&str; 8] = [
    "cowrie.login.failed",
    "cowrie.login.success",
    "cowrie.command.input",
    "cowrie.session.connect",
    "cowrie.session.closed",
    "cowrie.client.version",
    "cowrie.command.failed",
    "cowrie.log.closed",
];

fn events(block: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    let parsed = parse_block(block, 1, true);
    let mut c = Correlator::new("fuzz".into(), Options::default());
    for raw in parsed.lines {
        c.push(raw, &mut |ev| out.push(ev));
    }
    c.finish_all(&mut |ev| out.push(ev));
    for ev in &out {
        let mut mine = Vec::new();
        ev.write_json(&mut mine);
        let serde = serde_json::to_vec(ev).expect("an event serializes");
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&serde),
            "write_json and serde disagree"
        );
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, data)) = data.split_first() else {
        return;
    };
    let mode = match first % 3 {
        0 => Mode::Raw,
        1 => match data.split_first() {
            Some((&e, _)) => Mode::Dropbear(e),
            None => return,
        },
        _ => Mode::Cowrie,
    };
    match mode {
        Mode::Raw => {
            events(data);
        }
        Mode::Dropbear(envelope) => {
            let pid = 4242;
            let mut block = Vec::new();
            for m in data[1..].split(|&b| b == b'\n') {
                match envelope % 4 {
                    0 => block.extend_from_slice(
                        format!("Dec  4 23:18:12 vm dropbear[{pid}]: ").as_bytes(),
                    ),
                    1 => block.extend_from_slice(
                        format!("2026-12-04T23:18:12.369726+00:00 vm dropbear[{pid}]: ").as_bytes(),
                    ),
                    2 => block.extend_from_slice(
                        format!("<86>1 2026-12-04T23:18:12.369726+00:00 vm dropbear {pid} - -  ")
                            .as_bytes(),
                    ),
                    _ => {}
                }
                block.extend_from_slice(m);
                block.push(b'\n');
            }
            events(&block);
        }
        Mode::Cowrie => {
            let u = arbitrary::Unstructured::new(data);
            let Ok(recs) = Vec::<Rec>::arbitrary_take_rest(u) else {
                return;
            };
            let mut block = Vec::new();
            for r in &recs {
                let mut o = serde_json::Map::new();
                let eventid = match EVENTIDS.get(usize::from(r.eventid)) {
                    Some(e) => (*e).to_string(),
                    None => format!("cowrie.{}", r.other_eventid),
                };
                o.insert("eventid".into(), eventid.into());
                o.insert("session".into(), r.session.clone().into());
                match &r.src_ip {
                    Addr::V4(a) => o.insert(
                        "src_ip".into(),
                        std::net::Ipv4Addr::from(*a).to_string().into(),
                    ),
                    Addr::V6(a) => o.insert(
                        "src_ip".into(),
                        std::net::Ipv6Addr::from(*a).to_string().into(),
                    ),
                    Addr::Text(t) => o.insert("src_ip".into(), t.clone().into()),
                    Addr::Missing => None,
                };
                let mut put = |k: &str, v: &Option<String>| {
                    if let Some(v) = v {
                        o.insert(k.into(), v.clone().into());
                    }
                };
                put("username", &r.username);
                put("password", &r.password);
                put("input", &r.input);
                put("protocol", &r.protocol);
                put("timestamp", &r.timestamp);
                put("sensor", &r.sensor);
                if let Some(p) = r.src_port {
                    o.insert("src_port".into(), p.into());
                }
                let line = serde_json::to_vec(&o).expect("a map serializes");
                block.extend_from_slice(&line);
                block.push(b'\n');
            }
            for ev in events(&block) {
                let Some(r) = usize::try_from(ev.src.line)
                    .ok()
                    .and_then(|l| recs.get(l - 1))
                else {
                    panic!("event of line {} beyond the input", ev.src.line);
                };
                match ev.kind {
                    Kind::AuthFailure | Kind::AuthSuccess if &*ev.program == "cowrie" => {
                        assert_eq!(
                            ev.password().map(str::to_string),
                            r.password,
                            "password of line {}",
                            ev.src.line
                        );
                        assert_eq!(
                            ev.user.as_deref(),
                            r.username.as_deref(),
                            "user of line {}",
                            ev.src.line
                        );
                    }
                    Kind::Command => assert_eq!(
                        ev.command().map(str::to_string),
                        r.input,
                        "command of line {}",
                        ev.src.line
                    ),
                    _ => assert_eq!(ev.command(), None),
                }
            }
        }
    }
});
