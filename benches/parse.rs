//! Parser throughput: `parse::parse_block` on one thread, its envelope and
//! message stages alone, and the whole
//! `flow::run` (read, parallel parse, correlate) on a file, in bytes/s.
//!
//! Input: the first ~20 MB of `bench-data/auth-1m.log` (`scripts/gen-bench-log.py`)
//! when it exists, else a similar log made here, so `cargo bench` works on a
//! fresh checkout.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sshmap::flow::{self, Options, TimeRange};
use sshmap::parse::{envelope, message, parse_block};
use sshmap::source::Input;

const SIZE: usize = 20 << 20;

fn input() -> (Vec<u8>, &'static str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-data/auth-1m.log");
    if let Ok(mut data) = std::fs::read(&path) {
        if data.len() > SIZE {
            let end = data[..SIZE]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(SIZE, |i| i + 1);
            data.truncate(end);
        }
        return (data, "bench-data/auth-1m.log");
    }
    (generate(SIZE), "generated")
}

/// A small stand-in for `scripts/gen-bench-log.py`: the same kinds of lines in
/// roughly the same mix, addresses skewed towards a few heavy hitters.
fn generate(size: usize) -> Vec<u8> {
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let ips: Vec<String> = (0..20_000)
        .map(|i| {
            let r = next();
            if i % 17 == 0 {
                format!(
                    "2a01:4f8:{:x}:{:x}::{:x}",
                    r & 0xffff,
                    (r >> 16) & 0xffff,
                    (r >> 32) & 0xfff
                )
            } else {
                format!(
                    "{}.{}.{}.{}",
                    11 + (r % 200),
                    (r >> 8) & 255,
                    (r >> 16) & 255,
                    1 + ((r >> 24) % 254)
                )
            }
        })
        .collect();
    let users = [
        "root", "admin", "test", "ubuntu", "oracle", "postgres", "git", "guest", "pi", "user",
    ];
    let mut out = Vec::with_capacity(size + 512);
    let (mut sec, mut pid) = (0u64, 1000u64);
    while out.len() < size {
        let r = next();
        sec = (sec + (r % 3)).min(86_399);
        pid += 1 + (r >> 8) % 30;
        let t = format!(
            "Nov 22 {:02}:{:02}:{:02} web1",
            sec / 3600,
            sec / 60 % 60,
            sec % 60
        );
        let u = (((r >> 16) % 1000) as f64 / 1000.0).powi(3);
        let ip = &ips[(u * ips.len() as f64) as usize];
        let user = users[((r >> 40) % users.len() as u64) as usize];
        let port = 1024 + (r >> 20) % 64_000;
        let p = format!("{t} sshd[{pid}]:");
        let lines = match (r >> 32) % 20 {
            0..=10 => format!(
                "{p} Invalid user {user} from {ip} port {port}\n{p} Failed password for invalid user {user} from {ip} port {port} ssh2\n{p} Connection closed by invalid user {user} {ip} port {port} [preauth]\n"
            ),
            11..=13 => format!(
                "{p} pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user=root\n{p} Failed password for root from {ip} port {port} ssh2\n{p} Received disconnect from {ip} port {port}:11: Bye Bye [preauth]\n{p} Disconnected from authenticating user root {ip} port {port} [preauth]\n"
            ),
            14 => format!("{p} Accepted publickey for alice from {ip} port {port} ssh2: ED25519 SHA256:k1kjhwoH/H3w31MbGOIGd7qxrkSQJnoAN0eYJVHDmmI\n"),
            15 => format!("{p} Unable to negotiate with {ip} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]\n"),
            16 => format!("{p} error: kex_exchange_identification: Connection closed by remote host\n{p} Connection closed by {ip} port {port}\n"),
            _ => format!("{t} CRON[{pid}]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)\n"),
        };
        out.extend_from_slice(lines.as_bytes());
    }
    out
}

fn bench(c: &mut Criterion) {
    let (data, source) = input();
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    eprintln!("input: {source}, {} bytes, {lines} lines", data.len());

    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.bench_function("parse_block (1 thread)", |b| {
        b.iter(|| {
            black_box(parse_block(black_box(&data), 1, false))
                .lines
                .len()
        })
    });

    // The stages of `parse_block` one by one (issue #15), over the same lines.
    let lines: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    g.bench_function("envelope::split_cached (1 thread)", |b| {
        b.iter(|| {
            let mut cache = envelope::StampCache::default();
            lines
                .iter()
                .filter(|l| envelope::split_cached(black_box(l), &mut cache).is_ok())
                .count()
        })
    });
    let messages: Vec<Vec<u8>> = lines
        .iter()
        .filter_map(|l| envelope::split(l).ok())
        .filter(|e| e.program.is_some())
        .map(|e| e.msg.into_owned())
        .collect();
    g.bench_function("message::classify (1 thread, sshd messages)", |b| {
        b.iter(|| {
            messages
                .iter()
                .map(|m| message::classify(black_box(m)).count)
                .sum::<u32>()
        })
    });

    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&data).expect("write temp file");
    file.flush().expect("flush");
    let inputs = [Input::File(file.path().to_path_buf())];
    let opts = Options {
        all: false,
        year: Some(2026),
        tz: jiff::tz::TimeZone::UTC,
        progress: false,
        geo: None,
        range: TimeRange::default(),
        host: None,
    };
    g.bench_function("flow::run (file, all threads)", |b| {
        b.iter(|| {
            let mut events = 0u64;
            flow::run(
                &inputs,
                &opts,
                &mut flow::Each(|_ev| -> std::io::Result<()> {
                    events += 1;
                    Ok(())
                }),
            )
            .expect("flow");
            black_box(events)
        })
    });

    // The event writer of `parse --format jsonl` (issue #15), over the events
    // of the same input, with its cache as `parse` keeps it.
    let mut events = Vec::new();
    flow::run(
        &inputs,
        &opts,
        &mut flow::Each(|ev| -> std::io::Result<()> {
            events.push(ev);
            Ok(())
        }),
    )
    .expect("flow");
    g.bench_function("event::write_json_with (1 thread)", |b| {
        let mut out = Vec::with_capacity(1 << 20);
        b.iter(|| {
            let mut cache = sshmap::event::JsonCache::default();
            let mut bytes = 0;
            for ev in &events {
                out.clear();
                ev.write_json_with(&mut out, &mut cache);
                bytes += out.len();
            }
            black_box(bytes)
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
