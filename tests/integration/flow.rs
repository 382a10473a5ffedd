//! The one flow: the same generated hostile log through `parse`, through
//! `ingest` (in appended chunks, across a rotation) then `parse --db`, and
//! through `serve` fed by `--tail`, syslog TCP and `POST /api/ingest` gives the
//! same events — and the data losses that the three drivers had before they
//! became one, each pinned by a test.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sshmap::serve::{FeedOptions, ServeConfig};

use super::serve::{cfg, http, opts, Server, TOKEN};
use super::util::run;

fn feed(hold: Duration) -> FeedOptions {
    FeedOptions { hold, ..opts() }
}

fn config() -> ServeConfig {
    ServeConfig {
        db: None,
        checkpoint: None,
        poll: Duration::from_millis(50),
        ..cfg()
    }
}

/// An RFC 3339 stamp `secs` seconds after `base` (Unix seconds).
fn stamp(base: i64, secs: i64) -> String {
    jiff::Timestamp::from_second(base + secs)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S+00:00")
        .to_string()
}

pub(crate) fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The body of an HTTP/1.1 response (chunked or not).
fn body(resp: &str) -> String {
    let (head, rest) = resp.split_once("\r\n\r\n").unwrap_or((resp, ""));
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return rest.to_string();
    }
    let mut out = String::new();
    let mut rest = rest;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

fn metric_sum(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.starts_with(name) && matches!(l.as_bytes().get(name.len()), Some(b' ' | b'{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// An event as the paths must agree on it: everything but where it was read
/// (`src`: file names and line numbers differ between inputs) and the live
/// page's `map` position.
fn canonical(mut v: serde_json::Value) -> String {
    if let Some(o) = v.as_object_mut() {
        o.remove("src");
        o.remove("map");
    }
    v.to_string()
}

pub(crate) fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn jsonl(out: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(out)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| canonical(serde_json::from_str(l).expect("event JSON")))
        .collect()
}

/// Waits until the server has read `lines` lines, holds nothing back and its
/// window has stopped changing; returns the window's events by stream.
fn quiet_events(srv: &Server, lines: u64) -> std::collections::BTreeMap<String, Vec<String>> {
    let end = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    loop {
        let m = body(&http(srv.addr, "GET", "/metrics", &[], b""));
        let read = metric_sum(&m, "sshmap_lines_read_total") as u64;
        let held = metric_sum(&m, "sshmap_lines_held") as u64;
        let events = body(&http(srv.addr, "GET", "/api/events?limit=100000", &[], b""));
        if read >= lines && held == 0 && events == last {
            break;
        }
        assert!(
            Instant::now() < end,
            "not quiet after 30 s: read {read} of {lines} lines, {held} held\n{}",
            m.lines()
                .filter(|l| l.starts_with("sshmap_lines"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        last = events;
        std::thread::sleep(Duration::from_millis(1300));
    }
    let all: Vec<serde_json::Value> = serde_json::from_str(&last).expect("events JSON");
    let mut by = std::collections::BTreeMap::<String, Vec<String>>::new();
    for ev in all {
        let input = ev["src"]["input"].as_str().unwrap_or("").to_string();
        let kind = if input.starts_with("http:") {
            "http"
        } else if input.starts_with("syslog:") {
            "syslog"
        } else {
            "tail"
        };
        by.entry(kind.into()).or_default().push(canonical(ev));
    }
    by
}

// ---------------------------------------------------------------------------
// The generated hostile log.

const USERS: &[&str] = &[
    "root",
    "admin",
    "evil from 1.2.3.4 port 22 ssh2",
    "a b\"c<script>x",
    "ünï",
];
const IPS: &[&str] = &[
    "45.227.254.8",
    "218.92.0.112",
    "2a03:b0c0:3:d0::1",
    "185.220.101.45",
    "61.177.172.60",
];

#[derive(Clone, Debug)]
enum Step {
    Pam,
    Fail,
    Invalid,
    Accept,
    /// `Disconnecting: Too many authentication failures` — no address.
    TooMany,
    /// `kex_exchange_identification: …` — no address; may never get one.
    Kex,
    Close,
    /// rsyslog's `message repeated N times: [ … ]`.
    Repeated(u8),
    /// sysklogd's `last message repeated N times` (repeats whatever came before).
    LastRepeated(u8),
    /// A line of another program.
    Noise,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Pam),
        4 => Just(Step::Fail),
        2 => Just(Step::Invalid),
        1 => Just(Step::Accept),
        2 => Just(Step::TooMany),
        2 => Just(Step::Kex),
        3 => Just(Step::Close),
        1 => (2u8..6).prop_map(Step::Repeated),
        1 => (2u8..4).prop_map(Step::LastRepeated),
        1 => Just(Step::Noise),
    ]
}

#[derive(Clone, Debug)]
struct Conn {
    host: bool,
    user: usize,
    ip: usize,
    steps: Vec<Step>,
}

fn conn() -> impl Strategy<Value = Conn> {
    (
        any::<bool>(),
        0..USERS.len(),
        0..IPS.len(),
        proptest::collection::vec(step(), 1..7),
    )
        .prop_map(|(host, user, ip, steps)| Conn {
            host,
            user,
            ip,
            steps,
        })
}

#[derive(Clone, Debug)]
pub(crate) struct Log {
    conns: Vec<Conn>,
    /// Which open connection writes the next line.
    order: Vec<u8>,
    /// Connections before this index are in the first (rotated) half.
    split: usize,
    /// Lines written a few seconds "late" (syslog reordering).
    late: Vec<bool>,
}

pub(crate) fn log() -> impl Strategy<Value = Log> {
    proptest::collection::vec(conn(), 1..14).prop_flat_map(|conns| {
        let n = conns.len();
        (
            Just(conns),
            proptest::collection::vec(any::<u8>(), 64),
            0..=n,
            proptest::collection::vec(any::<bool>(), 64),
        )
            .prop_map(|(conns, order, split, late)| Log {
                conns,
                order,
                split,
                late,
            })
    })
}

fn render(c: &Conn, pid: u32, step: &Step) -> String {
    let (user, ip, port) = (USERS[c.user], IPS[c.ip], 40_000 + pid);
    match step {
        Step::Pam => format!(
            "sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"
        ),
        Step::Fail => format!("sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2"),
        Step::Invalid => format!("sshd[{pid}]: Invalid user {user} from {ip} port {port}"),
        Step::Accept => format!("sshd[{pid}]: Accepted password for {user} from {ip} port {port} ssh2"),
        Step::TooMany => format!(
            "sshd[{pid}]: Disconnecting: Too many authentication failures for {user} [preauth]"
        ),
        Step::Kex => format!(
            "sshd[{pid}]: error: kex_exchange_identification: Connection closed by remote host"
        ),
        Step::Close => format!("sshd[{pid}]: Connection closed by {ip} port {port} [preauth]"),
        Step::Repeated(n) => format!(
            "sshd[{pid}]: message repeated {n} times: [ Failed password for {user} from {ip} port {port} ssh2]"
        ),
        Step::LastRepeated(n) => format!("sshd[{pid}]: last message repeated {n} times"),
        Step::Noise => format!("CRON[{pid}]: pam_unix(cron:session): session opened for user {user}"),
    }
}

/// The two halves of the log (a rotation between them), as lines.
pub(crate) fn lines_of(log: &Log, base: i64) -> (Vec<String>, Vec<String>) {
    let mut t = 0i64;
    let mut k = 0usize;
    let half = |range: std::ops::Range<usize>, t: &mut i64, k: &mut usize| {
        let mut cursor: Vec<usize> = vec![0; log.conns.len()];
        let mut out = Vec::new();
        loop {
            let open: Vec<usize> = range
                .clone()
                .filter(|&i| cursor[i] < log.conns[i].steps.len())
                .collect();
            if open.is_empty() {
                return out;
            }
            let pick = open[log.order[*k % log.order.len()] as usize % open.len()];
            let late = log.late[*k % log.late.len()] && *k % 5 == 0;
            *k += 1;
            let c = &log.conns[pick];
            let pid = 1000 + pick as u32;
            let host = if c.host { "web1" } else { "db2" };
            let ts = stamp(base, *t - if late { 3 } else { 0 });
            *t += 1;
            out.push(format!(
                "{ts} {host} {}",
                render(c, pid, &c.steps[cursor[pick]])
            ));
            cursor[pick] += 1;
        }
    };
    let mut a = half(0..log.split, &mut t, &mut k);
    let mut b = half(log.split..log.conns.len(), &mut t, &mut k);
    // sysklogd's `last message repeated` as the very first line of a rotated
    // file has no meaning the paths agree on: `serve --tail` follows one
    // stream across the rotation (it repeats the old file's last line), a
    // batch read takes each file on its own (nothing to repeat). Not generated.
    while b
        .first()
        .is_some_and(|l| l.contains("]: last message repeated"))
    {
        let first = b.remove(0);
        a.push(first);
    }
    (a, b)
}

fn write(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn cli(args: &[&str]) -> Vec<u8> {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// (a) `parse` of the two files; (b) `ingest` in chunks across a rotation, then `parse --db`
/// (into `store`, else a SQLite file).
pub(crate) fn batch_paths(
    dir: &Path,
    a: &[String],
    b: &[String],
    store: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let one = dir.join("one");
    std::fs::create_dir_all(&one).unwrap();
    write(&one.join("auth.log.1"), a);
    write(&one.join("auth.log"), b);
    let (p1, p2) = (one.join("auth.log.1"), one.join("auth.log"));
    let parsed = jsonl(&cli(&["parse", p1.to_str().unwrap(), p2.to_str().unwrap()]));

    let two = dir.join("two");
    std::fs::create_dir_all(&two).unwrap();
    let file = two.join("s.db");
    let db = store.unwrap_or(file.to_str().unwrap());
    let log = two.join("auth.log");
    let rotated = two.join("auth.log.1");
    let ingest = |paths: &[&Path]| {
        let mut args = vec!["-q", "ingest", "--db", db];
        let owned: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        args.extend(owned.iter().map(|s| s.as_str()));
        cli(&args);
    };
    // The first half in three appended chunks, ingested after each.
    let third = a.len().div_ceil(3).max(1);
    for chunk in a.chunks(third) {
        write(&log, chunk);
        ingest(&[&log]);
    }
    // Rotated by rename; the second half in two chunks into a new file.
    if log.exists() {
        std::fs::rename(&log, &rotated).unwrap();
    }
    let half = b.len().div_ceil(2).max(1);
    for chunk in b.chunks(half) {
        write(&log, chunk);
        let mut paths: Vec<&Path> = Vec::new();
        if rotated.exists() {
            paths.push(&rotated);
        }
        paths.push(&log);
        ingest(&paths);
    }
    let stored = jsonl(&cli(&["parse", "--db", db]));
    (parsed, stored)
}

/// (c) `serve` fed the same lines by `--tail` (with the rotation), syslog TCP and HTTP.
fn live_paths(
    dir: &Path,
    a: &[String],
    b: &[String],
) -> std::collections::BTreeMap<String, Vec<String>> {
    let live = dir.join("live");
    std::fs::create_dir_all(&live).unwrap();
    let log = live.join("auth.log");
    std::fs::write(&log, "").unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut c = config();
    c.tail = vec![log.clone()];
    c.syslog = Some(format!("127.0.0.1:{port}").parse().unwrap());
    let srv = Server::start_with(c, feed(Duration::from_secs(1)));
    // Tail: the first half, then a rename-and-create rotation with the second.
    write(&log, a);
    std::thread::sleep(Duration::from_millis(400));
    std::fs::rename(&log, live.join("auth.log.1")).unwrap();
    write(&log, b);
    // Syslog over TCP, newline-framed.
    let mut tcp = None;
    for _ in 0..50 {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    let mut tcp = tcp.expect("syslog TCP listener");
    for l in a.iter().chain(b) {
        writeln!(tcp, "{l}").unwrap();
    }
    tcp.flush().unwrap();
    // HTTP, one request per half.
    for half in [a, b] {
        if half.is_empty() {
            continue;
        }
        let text = half.join("\n");
        let resp = http(
            srv.addr,
            "POST",
            "/api/ingest",
            &[
                ("Authorization", &format!("Bearer {TOKEN}")),
                ("Content-Type", "text/plain"),
            ],
            text.as_bytes(),
        );
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    }
    let total = 3 * (a.len() + b.len()) as u64;
    let by = quiet_events(&srv, total);
    drop(tcp);
    srv.stop();
    by
}

pub(crate) fn cases() -> u32 {
    std::env::var("SSHMAP_FLOW_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        max_shrink_iters: 64,
        ..ProptestConfig::default()
    })]

    /// The differential test of the flow (issue: one flow from every source to every view).
    #[test]
    fn parse_ingest_and_serve_give_the_same_events(log in log()) {
        let dir = tempfile::tempdir().unwrap();
        // Recent, so the live window (5 h) holds them all.
        let (a, b) = lines_of(&log, now_secs() - 3600);
        let (parsed, stored) = batch_paths(dir.path(), &a, &b, None);
        let parsed = sorted(parsed);
        prop_assert_eq!(&sorted(stored), &parsed, "ingest (chunks, rotation) then parse --db");
        let live = live_paths(dir.path(), &a, &b);
        for source in ["tail", "syslog", "http"] {
            let got = sorted(live.get(source).cloned().unwrap_or_default());
            prop_assert_eq!(&got, &parsed, "serve fed by {}", source);
        }
    }
}

// ---------------------------------------------------------------------------
// Regressions.

/// 1. An address-less line whose connection never logs again held back every
///    later line of every connection for good (`/api/events` showed 1 of 4).
#[test]
fn serve_never_stalls_on_an_orphan_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    std::fs::write(&log, "").unwrap();
    let mut c = config();
    c.tail = vec![log.clone()];
    // Long enough that the other events surely arrive first on a loaded machine.
    let hold = Duration::from_secs(5);
    let srv = Server::start_with(c, feed(hold));
    let base = now_secs() - 60;
    let lines = vec![
        format!("{} web1 sshd[100]: Failed password for root from 45.227.254.8 port 1 ssh2", stamp(base, 0)),
        format!("{} web1 sshd[101]: error: kex_exchange_identification: Connection closed by remote host", stamp(base, 1)),
        format!("{} web1 sshd[102]: Failed password for root from 218.92.0.112 port 2 ssh2", stamp(base, 2)),
        format!("{} web1 sshd[103]: Failed password for root from 185.220.101.45 port 3 ssh2", stamp(base, 3)),
    ];
    let start = Instant::now();
    write(&log, &lines);
    // The other connections' events come at once, before the hold ends.
    let count = |srv: &Server| {
        body(&http(srv.addr, "GET", "/api/events", &[], b""))
            .matches("\"kind\":")
            .count()
    };
    while count(&srv) < 3 {
        assert!(
            start.elapsed() < hold,
            "the failures waited behind the orphan line"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The orphan itself leaves after the hold, without an address.
    while count(&srv) < 4 {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the orphan line was never released"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let events = body(&http(srv.addr, "GET", "/api/events", &[], b""));
    assert!(events.contains("\"kind\":\"bad_protocol\""), "{events}");
    let m = body(&http(srv.addr, "GET", "/metrics", &[], b""));
    assert_eq!(
        metric_sum(&m, "sshmap_lines_skipped_total"),
        0.0,
        "held lines counted as skipped"
    );
    assert_eq!(metric_sum(&m, "sshmap_lines_held"), 0.0);
    srv.stop();
}

/// 2. `serve --tail` lost what was appended to a file rotated while it was stopped.
#[test]
fn serve_tail_reads_a_rotation_that_happened_while_it_was_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("auth.log");
    let mut c = config();
    c.tail = vec![log.clone()];
    c.db = Some(dir.path().join("sshmap.db").display().to_string());
    let base = now_secs() - 3000;
    let line = |i: i64| {
        format!(
            "{} web1 sshd[{}]: Failed password for root from 45.227.254.8 port {} ssh2",
            stamp(base, i),
            5000 + i,
            1000 + i
        )
    };
    write(&log, &(0..3).map(line).collect::<Vec<_>>());
    let srv = Server::start_with(c.clone(), feed(Duration::from_secs(1)));
    let count = |srv: &Server| {
        body(&http(srv.addr, "GET", "/api/events?limit=100000", &[], b""))
            .matches("\"kind\":\"auth_failure\"")
            .count()
    };
    let end = Instant::now() + Duration::from_secs(10);
    while count(&srv) < 3 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(count(&srv), 3);
    srv.stop();
    // While stopped: 2,000 more lines, then `mv auth.log auth.log.1` and a new auth.log.
    write(&log, &(3..2003).map(line).collect::<Vec<_>>());
    std::fs::rename(&log, dir.path().join("auth.log.1")).unwrap();
    write(&log, &(2003..2008).map(line).collect::<Vec<_>>());
    let srv = Server::start_with(c, feed(Duration::from_secs(1)));
    let end = Instant::now() + Duration::from_secs(20);
    while count(&srv) < 2008 && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(
        count(&srv),
        2008,
        "lines of the rotated file were lost or doubled"
    );
    srv.stop();
}

/// A log of `n` lines with ~40 connections open at once, each PAM failure
/// waiting for its connection's `Failed password`: at every block boundary
/// some event is held.
fn busy_log(n: usize, base: i64) -> Vec<String> {
    let mut out = Vec::with_capacity(n);
    let mut t = 0usize;
    while out.len() < n {
        for (lag, step) in [(0usize, 0u8), (20, 1), (40, 2)] {
            if t < lag {
                continue;
            }
            let c = t - lag;
            let pid = 10_000 + c;
            let ip = format!("45.{}.{}.{}", 100 + c % 100, (c / 100) % 250, 1 + c % 200);
            let ts = stamp(base, (out.len() / 10) as i64);
            out.push(match step {
                0 => format!("{ts} web1 sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root"),
                1 => format!("{ts} web1 sshd[{pid}]: Failed password for root from {ip} port {} ssh2", 1024 + c % 60_000),
                _ => format!("{ts} web1 sshd[{pid}]: Connection closed by authenticating user root {ip} port {} [preauth]", 1024 + c % 60_000),
            });
        }
        t += 1;
    }
    out.truncate(n);
    out
}

/// 3. After a full ingest of a log with many connections open at once, the
///    resume points stayed at 0: every re-run re-read the whole file.
#[test]
fn reingest_after_an_append_reads_only_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let base = now_secs() - 86_400;
    let mut read = Vec::new();
    for n in [60_000usize, 120_000] {
        let log = dir.path().join(format!("auth-{n}.log"));
        let lines = busy_log(n + 10, base);
        write(&log, &lines[..n]);
        let db = dir.path().join(format!("s-{n}.db"));
        let mut st = sshmap::store::open(&sshmap::store::Location::Sqlite(db.clone())).unwrap();
        let opts = sshmap::flow::Options {
            all: false,
            year: None,
            tz: jiff::tz::TimeZone::UTC,
            progress: false,
            geo: Some(std::sync::Arc::new(sshmap::geo::Locator::embedded())),
            range: Default::default(),
            host: None,
        };
        let inputs = [sshmap::source::Input::File(log.clone())];
        let first = sshmap::store::ingest::run(&mut *st, &inputs, &opts).unwrap();
        assert!(first[0].error.is_none(), "{first:?}");
        write(&log, &lines[n..]);
        let again = sshmap::store::ingest::run(&mut *st, &inputs, &opts).unwrap();
        assert!(again[0].error.is_none(), "{again:?}");
        let size = std::fs::metadata(&log).unwrap().len();
        assert!(
            again[0].read_bytes * 2 < size,
            "{n} lines: re-read {} of {size} bytes after appending 10 lines",
            again[0].read_bytes
        );
        read.push(again[0].read_bytes);
        drop(st);
        // And the store holds what one clean read gives.
        let stored = jsonl(&cli(&["parse", "--db", db.to_str().unwrap()]));
        let clean = jsonl(&cli(&["parse", log.to_str().unwrap()]));
        assert_eq!(sorted(stored), sorted(clean), "{n} lines");
    }
    // Flat in the file size: twice the file, about the same re-read.
    assert!(
        read[1] <= read[0] + (2 << 20),
        "re-read grows with the file: {read:?}"
    );
}

/// 4. Two different files whose first line is the same were taken for one
///    input: ingesting the second deleted the first one's events.
#[test]
fn files_that_share_a_first_line_are_two_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let base = now_secs() - 86_400;
    let first = format!(
        "{} web1 sshd[1]: Server listening on 0.0.0.0 port 22.",
        stamp(base, 0)
    );
    let make = |name: &str, ip: &str, n: i64| {
        let mut lines = vec![first.clone()];
        for i in 0..n {
            lines.push(format!(
                "{} web1 sshd[{}]: Failed password for root from {ip} port {} ssh2",
                stamp(base, 1 + i),
                100 + i,
                2000 + i
            ));
        }
        let p = dir.path().join(name);
        write(&p, &lines);
        p
    };
    let a = make("a.log", "45.227.254.8", 3000);
    let b = make("b.log", "218.92.0.112", 1);
    let db = dir.path().join("s.db");
    let db = db.to_str().unwrap();
    cli(&["-q", "ingest", "--db", db, a.to_str().unwrap()]);
    let o = run(&["ingest", "--db", db, b.to_str().unwrap()]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("same line as"),
        "no word of the shared first line: {err}"
    );
    let stats: serde_json::Value =
        serde_json::from_slice(&cli(&["stats", "--json", "--db", db])).unwrap();
    assert_eq!(stats["events"], 3001, "{stats}");
    // Both stay put on later runs, in either order.
    cli(&[
        "-q",
        "ingest",
        "--db",
        db,
        b.to_str().unwrap(),
        a.to_str().unwrap(),
    ]);
    let stats: serde_json::Value =
        serde_json::from_slice(&cli(&["stats", "--json", "--db", db])).unwrap();
    assert_eq!(stats["events"], 3001, "{stats}");
}

/// 5. `stats` and the map title counted unique IPs and countries differently.
#[test]
fn stats_and_the_map_count_addresses_and_countries_alike() {
    let dir = tempfile::tempdir().unwrap();
    let base = now_secs() - 86_400;
    // One attacking address, and one that only logs in (no attempt).
    let lines = vec![
        format!(
            "{} web1 sshd[1]: Failed password for root from 45.227.254.8 port 1 ssh2",
            stamp(base, 0)
        ),
        format!(
            "{} web1 sshd[2]: Accepted publickey for alice from 218.92.0.112 port 2 ssh2",
            stamp(base, 1)
        ),
    ];
    let log = dir.path().join("auth.log");
    write(&log, &lines);
    let stats: serde_json::Value =
        serde_json::from_slice(&cli(&["stats", "--json", log.to_str().unwrap()])).unwrap();
    assert_eq!(
        (stats["unique_ips"].as_u64(), stats["countries"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(stats["addresses"].as_u64(), Some(2));
    let svg = dir.path().join("m.svg");
    cli(&["map", log.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(
        text.contains("1 attempts from 1 unique IPs in 1 countries"),
        "map title disagrees with stats"
    );
    let table = String::from_utf8(cli(&["stats", log.to_str().unwrap()])).unwrap();
    assert!(table.contains("1 unique IPs in 1 countries"), "{table}");
    assert!(table.contains("at least one attack attempt"), "{table}");
}
