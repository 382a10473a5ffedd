//! Load generator for `sshmap serve` (BENCHMARKS.md `## Serve`), run as a second process.
//!
//! ```text
//! serve_load ingest ADDR TOKEN [LINES] [BATCH] [CONNS]      # HTTP ingest throughput
//! serve_load sse ADDR TOKEN [CLIENTS] [RATE] [SECS] [PID]   # SSE latency with many clients
//! ```
//!
//! `sse` opens CLIENTS streams, posts RATE failed-login lines per second whose
//! user name carries the send time, and measures, on every client, the time
//! from the POST to the event's arrival; with PID it samples the server's RSS.
//! The clients only look for those markers (memchr's `memmem` over each read,
//! no copy of the stream, no JSON parsing) and count into one fixed histogram,
//! so that the generator, on the same cores, costs as little as it can.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use tokio::io::AsyncReadExt;

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

/// One keep-alive HTTP/1.1 connection that posts bodies and reads the answers.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        Conn {
            s,
            buf: Vec::with_capacity(4096),
        }
    }

    fn post(&mut self, token: &str, body: &[u8]) -> u16 {
        let head = format!(
            "POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.s.write_all(head.as_bytes()).unwrap();
        self.s.write_all(body).unwrap();
        self.buf.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let n = self.s.read(&mut chunk).unwrap();
            assert!(n > 0, "server closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&self.buf);
            if let Some(end) = text.find("\r\n\r\n") {
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if self.buf.len() >= end + 4 + len {
                    return text[9..12].parse().unwrap();
                }
            }
        }
    }
}

fn ingest(addr: SocketAddr, token: &str, lines: usize, batch: usize, conns: usize) {
    let per = lines / conns;
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for c in 0..conns {
            s.spawn(move || {
                let mut conn = Conn::new(addr);
                let mut sent = 0;
                let mut pid = 1000 + c as u32 * 100_000;
                while sent < per {
                    let n = batch.min(per - sent);
                    let ts = stamp();
                    let mut body = String::with_capacity(n * 110);
                    for i in 0..n {
                        pid += 1;
                        let k = sent + i;
                        body.push_str(&format!(
                            "{ts} web{c} sshd[{pid}]: Failed password for invalid user u{} from {}.{}.{}.{} port {} ssh2\n",
                            k % 5000,
                            1 + (k % 200),
                            (k / 200) % 250,
                            (k / 7) % 250,
                            1 + k % 250,
                            1024 + k % 60000
                        ));
                    }
                    assert_eq!(conn.post(token, body.as_bytes()), 200);
                    sent += n;
                }
            });
        }
    });
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "ingest: {} lines in {:.2} s = {:.0} lines/s ({} per request, {} connections)",
        per * conns,
        secs,
        (per * conns) as f64 / secs,
        batch,
        conns
    );
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Latency histogram shared by every client: 100 µs buckets up to 10 s (the
/// last bucket takes the rest), so a million deliveries a second cost one
/// relaxed add each and no memory that grows with the run.
struct Histogram {
    buckets: Vec<AtomicU64>,
    max: AtomicU64,
}

const BUCKET_MICROS: u64 = 100;
const BUCKETS: usize = 100_000;

impl Histogram {
    fn new() -> Histogram {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            max: AtomicU64::new(0),
        }
    }

    fn add(&self, micros: u64) {
        let i = ((micros / BUCKET_MICROS) as usize).min(BUCKETS - 1);
        self.buckets[i].fetch_add(1, Relaxed);
        self.max.fetch_max(micros, Relaxed);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Relaxed)).sum()
    }

    /// The upper edge of the bucket holding quantile `q`, in milliseconds.
    fn quantile_ms(&self, q: f64) -> f64 {
        let total = self.count();
        let want = ((total as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += b.load(Relaxed);
            if seen >= want {
                return ((i as u64 + 1) * BUCKET_MICROS) as f64 / 1000.0;
            }
        }
        self.max.load(Relaxed) as f64 / 1000.0
    }
}

/// The marker the posters put in the user name: `"user":"t<send micros>"`.
const MARKER: &[u8] = b"\"user\":\"t";

/// Counts the markers in `data` into `hist`; returns where an unfinished one may start.
fn scan(finder: &memchr::memmem::Finder<'_>, data: &[u8], now: u64, hist: &Histogram) -> usize {
    let mut done = 0;
    for at in finder.find_iter(data) {
        if at < done {
            continue;
        }
        let digits = &data[at + MARKER.len()..];
        let mut sent = 0u64;
        let mut n = 0;
        while n < digits.len() && digits[n].is_ascii_digit() && n < 20 {
            sent = sent
                .wrapping_mul(10)
                .wrapping_add(u64::from(digits[n] - b'0'));
            n += 1;
        }
        if n == digits.len() {
            // Cut by the end of the read: the rest comes with the next one.
            return at;
        }
        hist.add(now.saturating_sub(sent));
        done = at + MARKER.len() + n;
    }
    // A marker cut inside its first bytes is at most this close to the end.
    done.max(data.len().saturating_sub(MARKER.len()))
}

fn sse(addr: SocketAddr, token: String, clients: usize, rate: usize, secs: u64, pid: Option<u32>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let hist = Arc::new(Histogram::new());
    let connected = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    rt.block_on(async {
        for _ in 0..clients {
            let (hist, connected, stop) = (hist.clone(), connected.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                use tokio::io::AsyncWriteExt;
                s.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let finder = memchr::memmem::Finder::new(MARKER);
                // Bytes of an unfinished marker are moved to the front before the next read.
                let mut buf = vec![0u8; 1 << 16];
                let mut kept = 0;
                let mut first = true;
                while !stop.load(Relaxed) {
                    let n = match tokio::time::timeout(
                        Duration::from_millis(200),
                        s.read(&mut buf[kept..]),
                    )
                    .await
                    {
                        Ok(Ok(0)) | Ok(Err(_)) => break,
                        Ok(Ok(n)) => n,
                        Err(_) => continue,
                    };
                    if first {
                        first = false;
                        connected.fetch_add(1, Relaxed);
                    }
                    let len = kept + n;
                    let rest = scan(&finder, &buf[..len], now_micros(), &hist);
                    buf.copy_within(rest..len, 0);
                    kept = len - rest;
                }
            }));
        }
        while connected.load(Relaxed) < clients as u64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("sse: {clients} clients connected");
    });
    let rss_max = Arc::new(AtomicU64::new(0));
    let sampler = pid.map(|pid| {
        let (rss_max, stop) = (rss_max.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                rss_max.fetch_max(rss_kib(pid), Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    });
    // Four posters, each on its own keep-alive connection, so that one slow
    // answer (a store commit) does not hold back the offered rate. Every
    // 10 ms each sends what its share of RATE owes by then.
    const POSTERS: usize = 4;
    let sent = AtomicU64::new(0);
    let t0 = Instant::now();
    std::thread::scope(|sc| {
        for p in 0..POSTERS {
            let (token, sent) = (&token, &sent);
            sc.spawn(move || {
                let mut conn = Conn::new(addr);
                let share = rate as f64 / POSTERS as f64;
                let mut tick = 0u64;
                let mut mine = 0u64;
                let mut k = p as u64 * 1_000_000_000;
                while t0.elapsed() < Duration::from_secs(secs) {
                    tick += 1;
                    let owed = (share * t0.elapsed().as_secs_f64()) as u64;
                    if owed > mine {
                        let ts = stamp();
                        let mut body = String::new();
                        for _ in mine..owed {
                            k += 1;
                            body.push_str(&format!(
                                "{ts} web{p} sshd[{}]: Failed password for t{} from 8.8.{}.{} port 22 ssh2\n",
                                10_000 + k % 1_000_000,
                                now_micros(),
                                k % 250,
                                1 + k % 250
                            ));
                        }
                        assert_eq!(conn.post(token, body.as_bytes()), 200);
                        sent.fetch_add(owed - mine, Relaxed);
                        mine = owed;
                    }
                    let next = t0 + Duration::from_millis(10 * tick);
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            });
        }
    });
    let elapsed = t0.elapsed().as_secs_f64();
    let k = sent.load(Relaxed);
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Relaxed);
    rt.block_on(async {
        for h in handles {
            let _ = h.await;
        }
    });
    drop(rt);
    if let Some(s) = sampler {
        let _ = s.join();
    }
    println!(
        "sse: {} events sent ({:.0}/s), {} deliveries measured (expected {}), latency ms p50 {:.1} p99 {:.1} max {:.1}{}",
        k,
        k as f64 / elapsed,
        hist.count(),
        k as usize * clients,
        hist.quantile_ms(0.5),
        hist.quantile_ms(0.99),
        hist.max.load(Relaxed) as f64 / 1000.0,
        pid.map(|_| format!(", server RSS max {} MiB", rss_max.load(Relaxed) / 1024)).unwrap_or_default()
    );
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let usage = "usage: serve_load ingest ADDR TOKEN [LINES] [BATCH] [CONNS] | serve_load sse ADDR TOKEN [CLIENTS] [RATE] [SECS] [PID]";
    let mode = a.get(1).expect(usage);
    let addr: SocketAddr = a.get(2).expect(usage).parse().expect("ADDR is host:port");
    let token = a.get(3).expect(usage).clone();
    let n = |i: usize, d: usize| a.get(i).map(|v| v.parse().expect("a number")).unwrap_or(d);
    match mode.as_str() {
        "ingest" => ingest(addr, &token, n(4, 1_000_000), n(5, 1000), n(6, 2)),
        "sse" => sse(
            addr,
            token,
            n(4, 1000),
            n(5, 1000),
            n(6, 10) as u64,
            a.get(7).map(|p| p.parse().unwrap()),
        ),
        _ => panic!("{usage}"),
    }
}
