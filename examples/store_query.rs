//! Times the rollup queries maps and videos make, on a filled store:
//! `cargo run --release --example store_query DB DAY` (DB: a SQLite path or
//! postgres:// URL; DAY: YYYY-MM-DD). Prints the median of 20 runs.
use std::time::Instant;

use sshmap::store::{self, Location};

fn main() {
    let mut args = std::env::args().skip(1);
    let db = args.next().expect("DB");
    let day = args.next().expect("DAY (YYYY-MM-DD)");
    let from =
        sshmap::settings::parse_time(&day, &jiff::tz::TimeZone::UTC).expect("DAY") / 1_000_000;
    let to = from + 86_400;
    let mut s = store::open(&Location::parse(Some(&db)).unwrap()).unwrap();
    let t = Instant::now();
    let n = s.count().unwrap();
    println!(
        "{} raw events stored (count: {:.0} ms)",
        n,
        t.elapsed().as_secs_f64() * 1e3
    );
    for (name, f) in [
        ("per minute x country x kind, one day", 0),
        ("per hour x ip, one day", 1),
    ] {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..20 {
            let t = Instant::now();
            rows = if f == 0 {
                s.minute_country(from, to).unwrap().len()
            } else {
                s.hour_ip(from, to).unwrap().len()
            };
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name}: {rows} rows, median {:.1} ms, max {:.1} ms",
            times[10], times[19]
        );
    }
}
