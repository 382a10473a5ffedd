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

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
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

fn sse(addr: SocketAddr, token: String, clients: usize, rate: usize, secs: u64, pid: Option<u32>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let lat: Arc<Mutex<Vec<u64>>> = Arc::default();
    let connected = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    rt.block_on(async {
        for _ in 0..clients {
            let (lat, connected, stop) = (lat.clone(), connected.clone(), stop.clone());
            handles.push(tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                use tokio::io::AsyncWriteExt;
                s.write_all(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
                    .await
                    .unwrap();
                let mut buf = vec![0u8; 1 << 16];
                let mut pending = Vec::new();
                let mut first = true;
                let mut mine = Vec::new();
                while !stop.load(Relaxed) {
                    let n = match tokio::time::timeout(Duration::from_millis(200), s.read(&mut buf))
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
                    let now = now_micros();
                    pending.extend_from_slice(&buf[..n]);
                    // Marker: `"user":"t<send micros>"`.
                    let mut at = 0;
                    while let Some(i) = memchr::memmem::find(&pending[at..], b"\"user\":\"t") {
                        let start = at + i + 9;
                        let Some(end) = pending[start..].iter().position(|&b| b == b'"') else {
                            break;
                        };
                        if let Ok(sent) = std::str::from_utf8(&pending[start..start + end])
                            .unwrap_or("x")
                            .parse::<u64>()
                        {
                            mine.push(now.saturating_sub(sent));
                        }
                        at = start + end;
                    }
                    pending.drain(..at);
                    if pending.len() > 1 << 20 {
                        pending.clear();
                    }
                }
                lat.lock().unwrap().extend(mine);
            }));
        }
        while connected.load(Relaxed) < clients as u64 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        println!("sse: {clients} clients connected");
    });
    // The poster: RATE lines per second in 10 ms ticks, on its own connection.
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
    // answer (a store commit) does not hold back the offered rate.
    const POSTERS: usize = 4;
    let sent = AtomicU64::new(0);
    let t0 = Instant::now();
    std::thread::scope(|sc| {
        for p in 0..POSTERS {
            let (token, sent) = (&token, &sent);
            sc.spawn(move || {
                let mut conn = Conn::new(addr);
                let per_tick = (rate / 100 / POSTERS).max(1);
                let mut tick = 0u64;
                let mut k = p as u64 * 1_000_000_000;
                while t0.elapsed() < Duration::from_secs(secs) {
                    let ts = stamp();
                    let mut body = String::new();
                    for _ in 0..per_tick {
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
                    sent.fetch_add(per_tick as u64, Relaxed);
                    tick += 1;
                    let next = t0 + Duration::from_millis(10 * tick);
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            });
        }
    });
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
    let mut l = std::mem::take(&mut *lat.lock().unwrap());
    l.sort_unstable();
    let q = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    println!(
        "sse: {} events sent ({:.0}/s), {} deliveries measured (expected {}), latency ms p50 {:.1} p99 {:.1} max {:.1}{}",
        k,
        k as f64 / secs as f64,
        l.len(),
        k as usize * clients,
        q(0.5),
        q(0.99),
        q(1.0),
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
