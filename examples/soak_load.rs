//! Load generator and checker of the `sshmap serve` soak (issue #13, BENCHMARKS.md
//! `## Serve under attack`), driven by `scripts/soak-serve.sh`; everything on 127.0.0.1.
//!
//! ```text
//! soak_load run --addr A --syslog A --token T --pid PID --out DIR [--readers 1000] [--idle 100]
//!               [--rate 5000] [--http-share 50] [--flood 8] [--secs 600] [--measure 50]
//! soak_load check --db FILE --out DIR --stderr FILE [--budget-mb 512]
//! soak_load lines N       # N generated lines, for a look or a parser check
//! ```
//!
//! `run` offers, for `--secs`:
//! - `--readers` SSE clients that read everything (they reconnect when dropped); the
//!   first `--measure` of them also time each marked event from its send to its arrival,
//! - `--idle` SSE clients that never read a byte (a small receive buffer; replaced by
//!   fresh ones every 20 s, so that some are always there to be dropped),
//! - `--rate` sshd lines a second, `--http-share` % of them over `POST /api/ingest`
//!   (two keep-alive connections, a batch every 10 ms; a line counts as acknowledged
//!   only once its 200 came back) and the rest over `--syslog` TCP (RFC 5424, newline
//!   framed),
//! - `--flood` unauthenticated loops of `GET /api/events?limit=100000` and `GET /`,
//!
//! samples the server's RSS, CPU time and the machine's load average every second,
//! waits for the server to finish the lines it has, then sends it SIGTERM while 100
//! non-reading clients and the readers are connected and times its exit. It writes
//! `DIR/summary.json` and `DIR/acked` (the acknowledged HTTP batches).
//!
//! Every line carries a unique user name, `soak<h|s><conn>x<seq>t<send micros>`;
//! `check` counts them in the SQLite store afterwards: each acknowledged HTTP line
//! and each syslog line must be there exactly once, and no other. It prints one
//! PASS/FAIL line per criterion and exits 1 when one fails.

#![recursion_limit = "256"]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

fn stamp() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// A public-looking IPv4 address for line `k` (no private, loopback or multicast first octet).
fn ip(k: u64) -> String {
    const FIRST: [u8; 16] = [
        1, 5, 23, 31, 45, 61, 80, 91, 103, 117, 139, 159, 176, 185, 195, 221,
    ];
    format!(
        "{}.{}.{}.{}",
        FIRST[(k % 16) as usize],
        (k / 16) % 256,
        (k / 4096) % 256,
        1 + (k / 7) % 250
    )
}

/// The message of line `seq` of a stream: sshd's lines of one attacking connection,
/// four per pid (invalid user, two failed passwords, the close), every 50th
/// connection a valid user whose last line is a success. Each carries `user` once.
fn message(seq: u64, user: &str) -> (u64, String) {
    let conn = seq / 4;
    let pid = 10_000 + conn % 4_000_000;
    let ip = ip(conn);
    let port = 1024 + (conn * 7) % 64_000;
    let valid = conn % 50 == 0;
    let m = match (seq % 4, valid) {
        (0, false) => format!("Invalid user {user} from {ip} port {port}"),
        (0, true) | (1, true) | (2, true) => {
            format!("Failed password for {user} from {ip} port {port} ssh2")
        }
        (1, false) | (2, false) => {
            format!("Failed password for invalid user {user} from {ip} port {port} ssh2")
        }
        (_, false) => format!("Connection closed by invalid user {user} {ip} port {port} [preauth]"),
        (_, true) => format!(
            "Accepted publickey for {user} from {ip} port {port} ssh2: ED25519 SHA256:Zm9vYmFyYmF6cXV4cXV1eA"
        ),
    };
    (pid, m)
}

fn user(src: char, conn: usize, seq: u64) -> String {
    format!("soak{src}{conn}x{seq}t{}", now_micros())
}

/// A plain line as `POST /api/ingest` gets it (Debian 12's high-precision timestamps).
fn http_line(out: &mut String, ts: &str, conn: usize, seq: u64) {
    let (pid, m) = message(seq, &user('h', conn, seq));
    let host = seq / 4 % 4;
    out.push_str(&format!("{ts} web{host} sshd[{pid}]: {m}\n"));
}

/// An RFC 5424 syslog message, newline framed, as rsyslog's `omfwd` sends it.
fn syslog_line(out: &mut String, ts: &str, seq: u64) {
    let (pid, m) = message(seq, &user('s', 0, seq));
    let host = seq / 4 % 4;
    out.push_str(&format!("<38>1 {ts} gw{host} sshd {pid} - - {m}\n"));
}

/// Arguments `--key value`.
fn args(a: &[String]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut i = 0;
    while i + 1 < a.len() {
        if let Some(k) = a[i].strip_prefix("--") {
            m.insert(k.to_string(), a[i + 1].clone());
        }
        i += 2;
    }
    m
}

/// One keep-alive HTTP/1.1 connection that posts bodies and reads the answers.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr) -> std::io::Result<Conn> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Conn {
            s,
            buf: Vec::with_capacity(4096),
        })
    }

    /// The status of the answer to a POST of `body`.
    fn post(&mut self, token: &str, body: &[u8]) -> std::io::Result<u16> {
        let head = format!(
            "POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.s.write_all(head.as_bytes())?;
        self.s.write_all(body)?;
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.s.read(&mut chunk)?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(end) = memchr::memmem::find(&self.buf, b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    return head
                        .get(9..12)
                        .and_then(|c| c.parse().ok())
                        .ok_or_else(|| std::io::ErrorKind::InvalidData.into());
                }
            }
        }
    }
}

/// A GET with `Connection: close`: the status and the body, for `/metrics`.
fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())?;
    let mut v = Vec::new();
    s.read_to_end(&mut v)?;
    let text = String::from_utf8_lossy(&v).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

/// The value of an unlabelled Prometheus metric (summed over its labels otherwise).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|r| r.starts_with(' ') || r.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The process' state letter and user+system CPU seconds, from `/proc/PID/stat`.
fn proc_stat(pid: u32) -> Option<(char, f64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let state = f.first()?.chars().next()?;
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some((state, ticks / 100.0))
}

fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(-1.0)
}

/// Latency histogram shared by the measuring readers: 1 ms buckets up to 60 s.
struct Histogram {
    buckets: Vec<AtomicU64>,
    max: AtomicU64,
}

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..60_000).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }
    fn add(&self, micros: u64) {
        let i = ((micros / 1000) as usize).min(self.buckets.len() - 1);
        self.buckets[i].fetch_add(1, Relaxed);
        self.max.fetch_max(micros, Relaxed);
    }
    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }
    fn quantile_ms(&self, q: f64) -> u64 {
        let want = ((self.count() as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= want {
                return i as u64 + 1;
            }
        }
        self.max.load(Relaxed) / 1000
    }
}

/// The start of a marked user name in an SSE event.
const MARKER: &[u8] = b"\"user\":\"soak";

/// Times the marked events in `data`; returns where an unfinished one may start.
fn scan(finder: &memchr::memmem::Finder<'_>, data: &[u8], now: u64, hist: &Histogram) -> usize {
    let mut done = 0;
    for at in finder.find_iter(data) {
        if at < done {
            continue;
        }
        let rest = &data[at + MARKER.len()..];
        let Some(t) = rest.iter().take(40).position(|&b| b == b't') else {
            if rest.len() < 40 {
                return at;
            }
            done = at + MARKER.len();
            continue;
        };
        let digits = &rest[t + 1..];
        let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == digits.len() {
            return at;
        }
        let sent = digits[..n].iter().fold(0u64, |a, &d| {
            a.wrapping_mul(10).wrapping_add(u64::from(d - b'0'))
        });
        hist.add(now.saturating_sub(sent));
        done = at + MARKER.len() + t + 1 + n;
    }
    done.max(data.len().saturating_sub(MARKER.len() + 40))
}

#[derive(Default)]
struct Counters {
    read_bytes: AtomicU64,
    read_events: AtomicU64,
    readers_connected: AtomicI64,
    reader_connects: AtomicU64,
    reader_ends: AtomicU64,
    reader_refused: AtomicU64,
    idle_opened: AtomicU64,
    idle_failed: AtomicU64,
    http_acked: AtomicU64,
    http_unacked: AtomicU64,
    http_requests: AtomicU64,
    http_errors: AtomicU64,
    syslog_sent: AtomicU64,
    flood: Mutex<HashMap<String, u64>>,
    flood_bytes: AtomicU64,
}

async fn reader(
    addr: SocketAddr,
    measure: bool,
    c: Arc<Counters>,
    hist: Arc<Histogram>,
    stop: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
) {
    let finder = memchr::memmem::Finder::new(MARKER);
    let event = memchr::memmem::Finder::new(b"\nevent: event\n");
    let mut buf = vec![0u8; 128 << 10];
    while !stop.load(Relaxed) {
        let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
            if !term.load(Relaxed) {
                c.reader_refused.fetch_add(1, Relaxed);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        if s.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .is_err()
        {
            continue;
        }
        let mut kept = 0;
        let mut first = true;
        // The last bytes read: a stream the server ends (a client that fell too far
        // behind) ends with the last chunk, and the connection stays open (keep-alive).
        let mut last = [0u8; 7];
        let mut ended = false;
        let mut snapshot = true;
        loop {
            // No timer per read: the tasks are aborted at the end.
            let n = match s.read(&mut buf[kept..]).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let len = kept + n;
            if first {
                if !buf[..len.min(16)].starts_with(b"HTTP/1.1 200") {
                    // 503: at the memory budget or the client limit; again in a second.
                    if !term.load(Relaxed) {
                        c.reader_refused.fetch_add(1, Relaxed);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    break;
                }
                first = false;
                c.reader_connects.fetch_add(1, Relaxed);
                c.readers_connected.fetch_add(1, Relaxed);
            }
            c.read_bytes.fetch_add(n as u64, Relaxed);
            let fresh = &buf[kept..len];
            if fresh.len() >= 7 {
                last.copy_from_slice(&fresh[fresh.len() - 7..]);
            } else {
                last.rotate_left(fresh.len());
                last[7 - fresh.len()..].copy_from_slice(fresh);
            }
            if &last == b"\r\n0\r\n\r\n" {
                ended = true;
                break;
            }
            if measure {
                // The snapshot holds the window's old events: only live
                // messages (`id: N` first) are timed.
                let mut from = 0;
                if snapshot {
                    match memchr::memmem::find(&buf[..len], b"\n\nid: ") {
                        Some(p) => {
                            snapshot = false;
                            from = p + 2;
                        }
                        None => {
                            let rest = len.saturating_sub(5);
                            buf.copy_within(rest..len, 0);
                            kept = len - rest;
                            continue;
                        }
                    }
                }
                c.read_events
                    .fetch_add(event.find_iter(&buf[from..len]).count() as u64, Relaxed);
                let rest = from + scan(&finder, &buf[from..len], now_micros(), &hist);
                buf.copy_within(rest..len, 0);
                kept = len - rest;
            }
        }
        if !first {
            c.readers_connected.fetch_sub(1, Relaxed);
            if !term.load(Relaxed) {
                c.reader_ends.fetch_add(1, Relaxed);
            }
        }
        if ended {
            // As EventSource does, after the stream's `retry: 2000`.
            drop(s);
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
}

/// `n` SSE clients that ask for the stream and never read.
async fn idle_clients(addr: SocketAddr, n: usize, c: &Counters) -> Vec<tokio::net::TcpStream> {
    let mut v = Vec::new();
    for _ in 0..n {
        let s = async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.set_recv_buffer_size(4096)?;
            let mut s = sock.connect(addr).await?;
            s.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
                .await?;
            std::io::Result::Ok(s)
        }
        .await;
        match s {
            Ok(s) => {
                c.idle_opened.fetch_add(1, Relaxed);
                v.push(s);
            }
            Err(_) => {
                c.idle_failed.fetch_add(1, Relaxed);
            }
        }
    }
    v
}

async fn flooder(addr: SocketAddr, path: &'static str, c: Arc<Counters>, stop: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 256 << 10];
    while !stop.load(Relaxed) {
        let r = async {
            let mut s = tokio::net::TcpStream::connect(addr).await?;
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await?;
            let mut status = String::new();
            let mut total = 0u64;
            loop {
                let n = s.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                if status.is_empty() {
                    status = String::from_utf8_lossy(&buf[9..12.min(n)]).into_owned();
                }
                total += n as u64;
            }
            std::io::Result::Ok((status, total))
        }
        .await;
        let key = match r {
            Ok((status, n)) => {
                c.flood_bytes.fetch_add(n, Relaxed);
                format!("{} {status}", path.split('?').next().unwrap_or(path))
            }
            Err(e) => format!(
                "{} error {:?}",
                path.split('?').next().unwrap_or(path),
                e.kind()
            ),
        };
        *c.flood.lock().unwrap().entry(key).or_default() += 1;
    }
}

/// A batch of HTTP lines: poster, first sequence number, lines, acknowledged.
type Batches = Mutex<Vec<(usize, u64, u64, bool)>>;

/// What the HTTP posters share.
struct Posting<'a> {
    addr: SocketAddr,
    token: &'a str,
    t0: Instant,
    secs: f64,
    c: &'a Counters,
    batches: &'a Batches,
    post_ms: &'a Mutex<Vec<u32>>,
}

fn http_poster(p: &Posting<'_>, conn_no: usize, rate: f64) {
    let Posting {
        addr,
        token,
        t0,
        secs,
        c,
        batches,
        post_ms,
    } = *p;
    let mut conn = None;
    let mut seq = 0u64;
    let mut tick = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        tick += 1;
        let owed = (rate * t0.elapsed().as_secs_f64()) as u64;
        if owed > seq {
            let n = (owed - seq).min(20_000);
            let ts = stamp();
            let mut body = String::with_capacity(n as usize * 130);
            for k in seq..seq + n {
                http_line(&mut body, &ts, conn_no, k);
            }
            if conn.is_none() {
                conn = Conn::new(addr).ok();
            }
            let sent = Instant::now();
            let status = match conn.as_mut().map(|cn| cn.post(token, body.as_bytes())) {
                Some(Ok(s)) => s,
                _ => {
                    conn = None;
                    c.http_errors.fetch_add(1, Relaxed);
                    0
                }
            };
            post_ms
                .lock()
                .unwrap()
                .push(sent.elapsed().as_millis() as u32);
            c.http_requests.fetch_add(1, Relaxed);
            let ok = status == 200;
            if ok {
                c.http_acked.fetch_add(n, Relaxed);
            } else {
                c.http_unacked.fetch_add(n, Relaxed);
                if status != 0 {
                    eprintln!("soak_load: POST /api/ingest answered {status}");
                }
            }
            batches.lock().unwrap().push((conn_no, seq, n, ok));
            seq += n;
        }
        let next = t0 + Duration::from_millis(10 * tick);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
}

fn syslog_sender(addr: SocketAddr, rate: f64, t0: Instant, secs: f64, c: &Counters) {
    let mut s = TcpStream::connect(addr).expect("connect to --syslog");
    s.set_nodelay(true).ok();
    let mut seq = 0u64;
    let mut tick = 0u64;
    while t0.elapsed().as_secs_f64() < secs {
        tick += 1;
        let owed = (rate * t0.elapsed().as_secs_f64()) as u64;
        if owed > seq {
            let ts = stamp();
            let mut out = String::with_capacity((owed - seq) as usize * 130);
            for k in seq..owed {
                syslog_line(&mut out, &ts, k);
            }
            s.write_all(out.as_bytes()).expect("syslog write");
            c.syslog_sent.fetch_add(owed - seq, Relaxed);
            seq = owed;
        }
        let next = t0 + Duration::from_millis(10 * tick);
        if let Some(d) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(d);
        }
    }
    s.flush().ok();
    // A clean close: the server reads to the end, then sees EOF.
    s.shutdown(std::net::Shutdown::Write).ok();
    let mut sink = [0u8; 64];
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let _ = s.read(&mut sink);
}

fn pct(v: &mut [u32], q: f64) -> u32 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1]
}

fn run(a: &HashMap<String, String>) {
    let get_s = |k: &str| {
        a.get(k)
            .unwrap_or_else(|| panic!("--{k} is required"))
            .clone()
    };
    let num = |k: &str, d: f64| a.get(k).map(|v| v.parse().expect("a number")).unwrap_or(d);
    let addr: SocketAddr = get_s("addr").parse().expect("--addr host:port");
    let syslog: SocketAddr = get_s("syslog").parse().expect("--syslog host:port");
    let token = get_s("token");
    let pid: u32 = get_s("pid").parse().expect("--pid");
    let out = std::path::PathBuf::from(get_s("out"));
    let readers = num("readers", 1000.0) as usize;
    let idle = num("idle", 100.0) as usize;
    let rate = num("rate", 5000.0);
    let http_share = num("http-share", 50.0) / 100.0;
    let flood_loops = num("flood", 8.0) as usize;
    let secs = num("secs", 600.0);
    let measure = (num("measure", 50.0) as usize).min(readers);
    const HTTP_CONNS: usize = 2;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let c = Arc::new(Counters::default());
    let hist = Arc::new(Histogram::new());
    let stop_load = Arc::new(AtomicBool::new(false));
    let stop_readers = Arc::new(AtomicBool::new(false));
    let term = Arc::new(AtomicBool::new(false));
    let stop_sampler = Arc::new(AtomicBool::new(false));

    // Samples every second: server RSS, server CPU, load average, readers connected.
    let samples: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sampler = {
        let (samples, stop, c) = (samples.clone(), stop_sampler.clone(), c.clone());
        std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut tick = 0u64;
            while !stop.load(Relaxed) {
                let rss = proc_status_kib(pid, "VmRSS:").unwrap_or(0);
                let cpu = proc_stat(pid).map(|s| s.1).unwrap_or(0.0);
                samples.lock().unwrap().push(json!({
                    "t": t0.elapsed().as_secs(),
                    "rss_kib": rss,
                    "cpu_s": cpu,
                    "load1": loadavg(),
                    "readers": c.readers_connected.load(Relaxed),
                    "read_bytes": c.read_bytes.load(Relaxed),
                    "lines": c.http_acked.load(Relaxed) + c.syslog_sent.load(Relaxed),
                }));
                tick += 1;
                let next = t0 + Duration::from_secs(tick);
                if let Some(d) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        })
    };

    let load_start = loadavg();
    // Readers first, spread over two seconds.
    let mut reader_tasks = Vec::new();
    rt.block_on(async {
        for i in 0..readers {
            reader_tasks.push(tokio::spawn(reader(
                addr,
                i < measure,
                c.clone(),
                hist.clone(),
                stop_readers.clone(),
                term.clone(),
            )));
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        for _ in 0..100 {
            if c.readers_connected.load(Relaxed) as usize >= readers {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    println!(
        "soak_load: {} of {readers} readers connected",
        c.readers_connected.load(Relaxed)
    );

    // Idle clients, replaced every 20 s.
    let idle_task = {
        let (c, stop) = (c.clone(), stop_load.clone());
        rt.spawn(async move {
            while !stop.load(Relaxed) {
                let held = idle_clients(addr, idle, &c).await;
                for _ in 0..200 {
                    if stop.load(Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                drop(held);
            }
        })
    };
    let flood_tasks: Vec<_> = (0..flood_loops)
        .map(|i| {
            let path = if i % 2 == 0 {
                "/api/events?limit=100000"
            } else {
                "/"
            };
            rt.spawn(flooder(addr, path, c.clone(), stop_load.clone()))
        })
        .collect();

    let batches: Batches = Mutex::default();
    let post_ms: Mutex<Vec<u32>> = Mutex::default();
    let t0 = Instant::now();
    let cpu0 = proc_stat(pid).map(|s| s.1).unwrap_or(0.0);
    let http_rate = rate * http_share;
    let posting = Posting {
        addr,
        token: &token,
        t0,
        secs,
        c: &c,
        batches: &batches,
        post_ms: &post_ms,
    };
    std::thread::scope(|sc| {
        for p in 0..HTTP_CONNS {
            let posting = &posting;
            sc.spawn(move || http_poster(posting, p, http_rate / HTTP_CONNS as f64));
        }
        if rate - http_rate > 0.0 {
            let c = &*c;
            sc.spawn(move || syslog_sender(syslog, rate - http_rate, t0, secs, c));
        }
        // Progress, every minute.
        sc.spawn(|| {
            let mut m = 0;
            while t0.elapsed().as_secs_f64() < secs {
                std::thread::sleep(Duration::from_secs(1));
                if t0.elapsed().as_secs() / 60 > m {
                    m = t0.elapsed().as_secs() / 60;
                    println!(
                        "soak_load: {m} min: RSS {} MiB, {} lines, {} readers connected, {:.1} GB read, load {:.2}",
                        proc_status_kib(pid, "VmRSS:").unwrap_or(0) / 1024,
                        c.http_acked.load(Relaxed) + c.syslog_sent.load(Relaxed),
                        c.readers_connected.load(Relaxed),
                        c.read_bytes.load(Relaxed) as f64 / 1e9,
                        loadavg()
                    );
                }
            }
        });
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu1 = proc_stat(pid).map(|s| s.1).unwrap_or(0.0);
    let deliveries_during_load = c.read_bytes.load(Relaxed);
    stop_load.store(true, Relaxed);
    rt.block_on(async {
        let _ = idle_task.await;
        for t in flood_tasks {
            let _ = t.await;
        }
    });

    // Let the server finish what it has: lines read stops moving.
    let mut last = -1.0;
    let settle = Instant::now();
    while settle.elapsed() < Duration::from_secs(120) {
        let m = get(addr, "/metrics").map(|r| r.1).unwrap_or_default();
        let n = metric(&m, "sshmap_lines_read_total");
        if n == last {
            break;
        }
        last = n;
        std::thread::sleep(Duration::from_secs(1));
    }
    let settle_s = settle.elapsed().as_secs_f64();
    let metrics = get(addr, "/metrics").map(|r| r.1).unwrap_or_default();
    std::fs::write(out.join("metrics"), &metrics).unwrap();

    // SIGTERM with fresh non-reading clients (and the readers) connected.
    let held = rt.block_on(async {
        let held = idle_clients(addr, idle, &c).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        held
    });
    term.store(true, Relaxed);
    let readers_at_term = c.readers_connected.load(Relaxed);
    let t_term = Instant::now();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -TERM {pid} failed");
    let mut exit_s = None;
    while t_term.elapsed() < Duration::from_secs(30) {
        match proc_stat(pid) {
            None | Some(('Z', _)) | Some(('X', _)) => {
                exit_s = Some(t_term.elapsed().as_secs_f64());
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    drop(held);
    stop_readers.store(true, Relaxed);
    stop_sampler.store(true, Relaxed);
    for t in &reader_tasks {
        t.abort();
    }
    let _ = sampler.join();

    let samples = std::mem::take(&mut *samples.lock().unwrap());
    let mut rss: Vec<u32> = samples
        .iter()
        .filter_map(|s| s["rss_kib"].as_u64())
        .filter(|&k| k > 0)
        .map(|k| k as u32)
        .collect();
    let rss_end = rss.last().copied().unwrap_or(0);
    let loads: Vec<f64> = samples.iter().filter_map(|s| s["load1"].as_f64()).collect();
    let mut post_ms = post_ms.into_inner().unwrap();
    let batches = batches.into_inner().unwrap();
    let acked_http = c.http_acked.load(Relaxed);
    let syslog_sent = c.syslog_sent.load(Relaxed);
    let events_sent = acked_http + c.http_unacked.load(Relaxed) + syslog_sent;
    let flood = c.flood.lock().unwrap().clone();
    let summary = json!({
        "readers": readers, "idle": idle, "rate": rate, "http_share": http_share,
        "flood_loops": flood_loops, "secs": secs, "elapsed_s": elapsed, "measure": measure,
        "lines_offered_per_s": (acked_http + c.http_unacked.load(Relaxed) + syslog_sent) as f64 / elapsed,
        "http_acked": acked_http, "http_unacked": c.http_unacked.load(Relaxed),
        "http_requests": c.http_requests.load(Relaxed), "http_errors": c.http_errors.load(Relaxed),
        "post_ms_p50": pct(&mut post_ms, 0.5), "post_ms_p99": pct(&mut post_ms, 0.99),
        "post_ms_max": post_ms.last().copied().unwrap_or(0),
        "syslog_sent": syslog_sent,
        "read_bytes": c.read_bytes.load(Relaxed), "read_bytes_during_load": deliveries_during_load,
        "measured_events": c.read_events.load(Relaxed),
        "measured_expected": events_sent * measure as u64,
        "latency_ms_p50": hist.quantile_ms(0.5), "latency_ms_p99": hist.quantile_ms(0.99),
        "latency_ms_max": hist.max.load(Relaxed) / 1000, "latency_count": hist.count(),
        "reader_connects": c.reader_connects.load(Relaxed), "reader_ends": c.reader_ends.load(Relaxed),
        "reader_refused": c.reader_refused.load(Relaxed), "readers_at_term": readers_at_term,
        "idle_opened": c.idle_opened.load(Relaxed), "idle_failed": c.idle_failed.load(Relaxed),
        "flood": flood, "flood_bytes": c.flood_bytes.load(Relaxed),
        "rss_max_kib": rss.iter().max().copied().unwrap_or(0),
        "rss_end_kib": rss_end,
        "rss_median_kib": pct(&mut rss, 0.5),
        "server_cpu_s_during_load": cpu1 - cpu0,
        "load_start": load_start,
        "load_min": loads.iter().cloned().fold(f64::INFINITY, f64::min),
        "load_max": loads.iter().cloned().fold(0.0, f64::max),
        "load_mean": loads.iter().sum::<f64>() / loads.len().max(1) as f64,
        "settle_s": settle_s,
        "sigterm_exit_s": exit_s,
        "samples": samples,
    });
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
    let mut acked = String::new();
    for (p, start, n, ok) in &batches {
        acked.push_str(&format!("{p} {start} {n} {}\n", u8::from(*ok)));
    }
    std::fs::write(out.join("acked"), acked).unwrap();
    println!(
        "soak_load: done, SIGTERM to exit {}",
        exit_s
            .map(|s| format!("{s:.2} s"))
            .unwrap_or("(still running after 30 s)".into())
    );
}

/// Counts each marked user name in the store and checks the criteria.
fn check(a: &HashMap<String, String>) -> bool {
    let get_s = |k: &str| {
        a.get(k)
            .unwrap_or_else(|| panic!("--{k} is required"))
            .clone()
    };
    let out = std::path::PathBuf::from(get_s("out"));
    let budget_mb: u64 = a
        .get("budget-mb")
        .map(|v| v.parse().unwrap())
        .unwrap_or(512);
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let metrics = std::fs::read_to_string(out.join("metrics")).unwrap_or_default();
    let stderr = std::fs::read_to_string(get_s("stderr")).unwrap_or_default();
    let u = |k: &str| s[k].as_u64().unwrap_or(0);

    // Counts per (source, poster) by sequence number.
    let mut counts: HashMap<(u8, usize), Vec<u8>> = HashMap::new();
    let mut phantom = 0u64;
    let db = rusqlite::Connection::open_with_flags(
        get_s("db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("open the store");
    let mut stmt = db
        .prepare("SELECT username FROM events WHERE username >= 'soak' AND username < 'soal'")
        .unwrap();
    let mut rows = stmt.query([]).unwrap();
    let mut stored = 0u64;
    while let Some(r) = rows.next().unwrap() {
        let name: String = r.get(0).unwrap();
        stored += 1;
        let parsed = (|| {
            let rest = name.strip_prefix("soak")?;
            let src = *rest.as_bytes().first()?;
            let (conn, rest) = rest[1..].split_once('x')?;
            let (seq, _) = rest.split_once('t')?;
            Some((src, conn.parse::<usize>().ok()?, seq.parse::<usize>().ok()?))
        })();
        let Some((src, conn, seq)) = parsed else {
            phantom += 1;
            continue;
        };
        let v = counts.entry((src, conn)).or_default();
        if v.len() <= seq {
            v.resize(seq + 1, 0);
        }
        v[seq] = v[seq].saturating_add(1);
    }
    let count = |src: u8, conn: usize, seq: u64| -> u8 {
        counts
            .get(&(src, conn))
            .and_then(|v| v.get(seq as usize).copied())
            .unwrap_or(0)
    };
    let (mut acked, mut acked_missing, mut acked_dup, mut unacked_stored, mut unacked_dup) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut known = 0u64;
    for l in std::fs::read_to_string(out.join("acked")).unwrap().lines() {
        let f: Vec<u64> = l.split(' ').map(|x| x.parse().unwrap()).collect();
        let (p, start, n, ok) = (f[0] as usize, f[1], f[2], f[3] == 1);
        for seq in start..start + n {
            let k = count(b'h', p, seq);
            known += u64::from(k);
            if ok {
                acked += 1;
                acked_missing += u64::from(k == 0);
                acked_dup += u64::from(k > 1);
            } else {
                unacked_stored += u64::from(k >= 1);
                unacked_dup += u64::from(k > 1);
            }
        }
    }
    let syslog_sent = u("syslog_sent");
    let (mut syslog_missing, mut syslog_dup) = (0u64, 0u64);
    for seq in 0..syslog_sent {
        let k = count(b's', 0, seq);
        known += u64::from(k);
        syslog_missing += u64::from(k == 0);
        syslog_dup += u64::from(k > 1);
    }
    phantom += stored - known;
    let m = |name: &str| metric(&metrics, name);
    let secs = s["elapsed_s"].as_f64().unwrap_or(1.0);
    let rate = s["rate"].as_f64().unwrap_or(0.0);
    let achieved = (acked + syslog_sent) as f64 / secs;
    let exit_s = s["sigterm_exit_s"].as_f64();
    let idle = u("idle");
    // The last round of idle clients may have closed before the server's deadline took them.
    let idle_due = u("idle_opened").saturating_sub(idle);
    let dropped = m("sshmap_sse_dropped_total") as u64;
    // An idle client is only forced to stall once the events sent to it overflow the
    // socket buffers: a short or slow run may never get there.
    let enough = secs >= 60.0 && rate >= 1000.0;

    println!(
        "readers: {} connects, {} streams ended by the server before SIGTERM (a reader too far behind; it reconnects after 2 s), {} refused; {:.1} GB read ({:.1} MB/s), {} readers connected at SIGTERM",
        u("reader_connects"),
        u("reader_ends"),
        u("reader_refused"),
        u("read_bytes") as f64 / 1e9,
        u("read_bytes_during_load") as f64 / 1e6 / secs,
        u("readers_at_term")
    );
    println!(
        "measured readers ({}): {} live events received of {} sent x readers; latency send -> arrival p50 {} ms, p99 {} ms, max {} ms",
        u("measure"),
        u("latency_count"),
        u("measured_expected"),
        u("latency_ms_p50"),
        u("latency_ms_p99"),
        u("latency_ms_max")
    );
    println!(
        "ingest: {achieved:.0} lines/s stored-or-acknowledged of {rate:.0} offered; HTTP {} requests, {} lines acknowledged, {} not ({} errors), answer p50 {} / p99 {} / max {} ms; syslog {} lines sent",
        u("http_requests"),
        acked,
        u("http_unacked"),
        u("http_errors"),
        u("post_ms_p50"),
        u("post_ms_p99"),
        u("post_ms_max"),
        syslog_sent
    );
    println!(
        "store: {stored} marked events; HTTP acknowledged {acked}: {acked_missing} missing, {acked_dup} more than once; not acknowledged stored {unacked_stored} ({unacked_dup} more than once); syslog {syslog_sent}: {syslog_missing} missing, {syslog_dup} more than once; {phantom} unknown"
    );
    let mut flood: Vec<(String, u64)> = s["flood"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                .collect()
        })
        .unwrap_or_default();
    flood.sort();
    println!(
        "flood: {} ({:.1} GB)",
        flood
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        u("flood_bytes") as f64 / 1e9
    );
    println!(
        "server: CPU {:.0} s in {:.0} s of load; metrics: sse_dropped_total {dropped}, write_timeouts_total {}, refused_total {}, store_errors_total {}, syslog_dropped_total {}; idle clients opened {} ({} failed)",
        s["server_cpu_s_during_load"].as_f64().unwrap_or(0.0),
        secs,
        m("sshmap_write_timeouts_total"),
        m("sshmap_refused_total"),
        m("sshmap_store_errors_total"),
        m("sshmap_syslog_dropped_total"),
        u("idle_opened"),
        u("idle_failed")
    );
    println!(
        "machine load average (1 min): {:.2} at the start, {:.2} to {:.2} during the run (mean {:.2})",
        s["load_start"].as_f64().unwrap_or(0.0),
        s["load_min"].as_f64().unwrap_or(0.0),
        s["load_max"].as_f64().unwrap_or(0.0),
        s["load_mean"].as_f64().unwrap_or(0.0)
    );
    // RSS over the run, one figure a minute (the maximum of that minute).
    if let Some(samples) = s["samples"].as_array() {
        let per_min: Vec<String> = samples
            .chunks(60)
            .map(|ch| {
                let mx = ch
                    .iter()
                    .filter_map(|x| x["rss_kib"].as_u64())
                    .max()
                    .unwrap_or(0);
                format!("{}", mx / 1024)
            })
            .collect();
        println!("RSS MiB, maximum of each minute: {}", per_min.join(" "));
    }
    let checks = [
        (
            format!(
                "RSS peak {} MiB (median {}, end {}) under the {budget_mb} MiB budget",
                u("rss_max_kib") / 1024,
                u("rss_median_kib") / 1024,
                u("rss_end_kib") / 1024
            ),
            u("rss_max_kib") > 0 && u("rss_max_kib") < budget_mb * 1024,
        ),
        (
            "no panic on the server's stderr".to_string(),
            !stderr.contains("panicked"),
        ),
        (
            format!("every acknowledged HTTP line stored exactly once ({acked} lines)"),
            acked > 0 && acked_missing == 0 && acked_dup == 0 && unacked_dup == 0,
        ),
        (
            format!("every syslog line stored exactly once ({syslog_sent} lines)"),
            syslog_missing == 0 && syslog_dup == 0,
        ),
        (
            format!("no stored line that was not sent ({phantom})"),
            phantom == 0,
        ),
        (
            format!("ingest kept up: {achieved:.0} lines/s >= 95 % of {rate:.0}"),
            achieved >= 0.95 * rate,
        ),
        (
            format!(
                "idle SSE clients dropped: sse_dropped_total {dropped} >= {idle_due}{}",
                if enough {
                    ""
                } else {
                    " (not checked: under 60 s or 1,000 lines/s, the socket buffers may hold it all)"
                }
            ),
            !enough || dropped >= idle_due,
        ),
        (
            format!(
                "SIGTERM to exit {} (< 5 s)",
                exit_s
                    .map(|s| format!("{s:.2} s"))
                    .unwrap_or("timeout".into())
            ),
            exit_s.is_some_and(|s| s < 5.0),
        ),
    ];
    let mut ok = true;
    for (text, good) in &checks {
        println!("{} {text}", if *good { "PASS" } else { "FAIL" });
        ok &= good;
    }
    ok
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let usage = "usage: soak_load run --addr A --syslog A --token T --pid PID --out DIR [...] | soak_load check --db FILE --out DIR --stderr FILE [--budget-mb N] | soak_load lines N";
    match a.get(1).map(String::as_str) {
        Some("run") => run(&args(&a[2..])),
        Some("check") => std::process::exit(if check(&args(&a[2..])) { 0 } else { 1 }),
        Some("lines") => {
            let n: u64 = a.get(2).and_then(|v| v.parse().ok()).unwrap_or(20);
            let ts = stamp();
            let mut out = String::new();
            for k in 0..n {
                http_line(&mut out, &ts, 0, k);
                syslog_line(&mut out, &ts, k);
            }
            print!("{out}");
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
