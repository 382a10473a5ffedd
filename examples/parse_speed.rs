//! Times the pipeline halves separately, single-threaded, on 1 MiB blocks:
//! `cargo run --release --example parse_speed FILE`.
use std::time::{Duration, Instant};

fn main() {
    let path = std::env::args().nth(1).expect("FILE");
    let data = std::fs::read(&path).unwrap();
    let mut c = sshmap::parse::Correlator::new("x".into(), sshmap::parse::Options::default());
    let mut st = sshmap::analyze::Aggregate::default();
    let (mut tp, mut tc) = (Duration::ZERO, Duration::ZERO);
    let mut start = 0;
    let mut line = 1;
    let mut n = 0;
    while start < data.len() {
        let mut end = (start + (1 << 20)).min(data.len());
        if end < data.len() {
            end = start + memchr::memrchr(b'\n', &data[start..end]).unwrap() + 1;
        }
        let t = Instant::now();
        let block = sshmap::parse::parse_block(&data[start..end], line, false);
        tp += t.elapsed();
        line += block.stats.lines;
        n += block.lines.len();
        let t = Instant::now();
        for raw in block.lines {
            c.push(raw, &mut |e| st.add(&e));
        }
        tc += t.elapsed();
        start = end;
    }
    c.finish_all(&mut |e| st.add(&e));
    let mb = data.len() as f64 / 1e6;
    eprintln!(
        "{mb:.0} MB, {n} raw lines: parse {tp:?} ({:.0} MB/s), correlate+stats {tc:?} ({:.0} MB/s)",
        mb / tp.as_secs_f64(),
        mb / tc.as_secs_f64()
    );
}
