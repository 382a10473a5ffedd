//! One aggregate (issue 12): `stats --json`, the map, the chart, the report
//! and the timelapse read the same `analyze::Aggregate`, so on one hostile
//! generated log they must show the same attempts, unique IPs, countries and
//! top countries. Each view is read as a user sees it (JSON, the SVG's text
//! and tooltips, the page's embedded data, the command's summary line), so a
//! view that counted on its own — every address instead of the attacking ones,
//! every country an event came from, a different attempt rule — fails here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::util::{run, write_log};

/// xorshift64: a fixed, dependency-free sequence.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const USERS: &[&str] = &[
    "root",
    "admin",
    "evil from 1.2.3.4 port 22 ssh2",
    "a b\"c<script>x</script>",
    "ünï",
    "oracle",
];

/// Addresses: many public ones (many countries), private and documentation
/// ones (no country), IPv6.
fn addresses(rng: &mut Rng) -> Vec<String> {
    let mut out = Vec::new();
    while out.len() < 400 {
        let v = rng.next() as u32;
        let ip = std::net::Ipv4Addr::from(v);
        let o = ip.octets();
        if ip.is_private()
            || ip.is_loopback()
            || ip.is_multicast()
            || o[0] == 0
            || o[0] >= 224
            || o[0] == 100
            || o[0] == 169
        {
            continue;
        }
        out.push(ip.to_string());
    }
    for s in [
        "10.0.0.7",
        "192.168.1.20",
        "203.0.113.9",
        "2a03:b0c0:3:d0::1",
        "2001:db8::5",
        "2607:f8b0:4004:800::200e",
    ] {
        out.push(s.to_string());
    }
    out
}

/// One connection's lines (no time stamp, no host).
fn connection(rng: &mut Rng, pid: u32, ip: &str, user: &str) -> Vec<String> {
    let port = 30_000 + pid;
    let mut out = Vec::new();
    // Some addresses never attempt anything: they count in `addresses` only.
    let quiet = rng.below(6) == 0;
    let steps = 1 + rng.below(6);
    for _ in 0..steps {
        let l = match (quiet, rng.below(11)) {
            (true, 0..=3) => format!("sshd[{pid}]: Connection closed by {ip} port {port} [preauth]"),
            (true, 4..=6) => format!("sshd[{pid}]: Invalid user {user} from {ip} port {port}"),
            (true, _) => format!("sshd[{pid}]: Accepted publickey for {user} from {ip} port {port} ssh2"),
            (false, 0 | 1) => {
                format!("sshd[{pid}]: Failed password for {user} from {ip} port {port} ssh2")
            }
            (false, 2) => format!(
                "sshd[{pid}]: Failed password for invalid user {user} from {ip} port {port} ssh2"
            ),
            (false, 3) => format!(
                "sshd[{pid}]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={user}"
            ),
            (false, 4) => format!(
                "sshd[{pid}]: message repeated {} times: [ Failed password for {user} from {ip} port {port} ssh2]",
                2 + rng.below(4)
            ),
            (false, 5) => format!(
                "sshd[{pid}]: Unable to negotiate with {ip} port {port}: no matching key exchange method found. Their offer: diffie-hellman-group1-sha1 [preauth]"
            ),
            (false, 6) => format!(
                "sshd[{pid}]: Disconnecting: Too many authentication failures for {user} [preauth]"
            ),
            (false, 7) => format!(
                "sshd[{pid}]: error: kex_exchange_identification: Connection closed by remote host"
            ),
            (false, 8) => format!("sshd[{pid}]: Invalid user {user} from {ip} port {port}"),
            (false, 9) => format!("sshd[{pid}]: Accepted password for {user} from {ip} port {port} ssh2"),
            _ => format!("CRON[{pid}]: pam_unix(cron:session): session opened for user {user}"),
        };
        out.push(l);
    }
    if rng.below(2) == 0 {
        out.push(format!(
            "sshd[{pid}]: Connection closed by {ip} port {port} [preauth]"
        ));
    }
    out
}

/// About 1,500 lines over three hours: connections interleaved, two hosts.
fn hostile_log(dir: &Path) -> PathBuf {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let ips = addresses(&mut rng);
    let mut conns: Vec<(String, Vec<String>)> = (0..420u32)
        .map(|i| {
            let ip = ips[rng.below(ips.len())].clone();
            let user = USERS[rng.below(USERS.len())];
            let host = if i % 3 == 0 { "db2" } else { "web1" };
            (host.to_string(), connection(&mut rng, 2000 + i, &ip, user))
        })
        .collect();
    let base = 1_795_132_800i64; // 2026-11-20T00:00:00Z
    let mut t = 0i64;
    let mut lines = Vec::new();
    while !conns.is_empty() {
        let i = rng.below(conns.len().min(12));
        let (host, ls) = &mut conns[i];
        let l = ls.remove(0);
        let ts = jiff::Timestamp::from_second(base + t)
            .unwrap()
            .strftime("%Y-%m-%dT%H:%M:%S+00:00")
            .to_string();
        lines.push(format!("{ts} {host} {l}"));
        t += 1 + rng.below(12) as i64;
        if ls.is_empty() {
            conns.remove(i);
        }
    }
    write_log(dir, "auth.log", &lines)
}

fn ok(args: &[&str]) -> std::process::Output {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `1,234` → 1234.
fn number(s: &str) -> u64 {
    s.replace(',', "")
        .parse()
        .unwrap_or_else(|_| panic!("{s:?}"))
}

/// "N attempts from M unique IPs in K countries" → (N, M, K), from any text.
fn totals_line(text: &str) -> (u64, u64, u64) {
    let i = text
        .find(" unique IPs in ")
        .unwrap_or_else(|| panic!("no totals in {}", &text[..text.len().min(400)]));
    let before = &text[..i];
    let words: Vec<&str> = before.rsplitn(4, ' ').collect();
    // words: [M, "from", "attempts", "...N"]
    assert_eq!((words[1], words[2]), ("from", "attempts"), "{before}");
    let n = words[3].rsplit([' ', '>']).next().unwrap();
    let after = &text[i + " unique IPs in ".len()..];
    let k = after.split(' ').next().unwrap();
    (number(n), number(words[0]), number(k))
}

/// The `<title>` tooltips of an SVG.
fn titles(svg: &str) -> Vec<String> {
    svg.split("<title>")
        .skip(1)
        .filter_map(|s| s.split_once("</title>").map(|(t, _)| t.to_string()))
        .collect()
}

/// The contents of an SVG's `<text>` elements, unescaped.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|s| {
            let body = &s[s.find('>')? + 1..];
            Some(unescape(&body[..body.find("</text>")?]))
        })
        .collect()
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The JSON snapshot embedded in the page.
fn snapshot(html: &str) -> serde_json::Value {
    let start = html
        .find(r#"<script type="application/json" id="sshmap-data">"#)
        .expect("data element");
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..];
    let end = body.find("</script>").unwrap();
    serde_json::from_str(&body[..end]).expect("snapshot is JSON")
}

#[test]
fn every_view_shows_the_numbers_of_the_one_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_log(dir.path());
    let log = log.to_str().unwrap();
    let path = |n: &str| dir.path().join(n).to_str().unwrap().to_string();

    // stats --json: the reference.
    let stats: serde_json::Value =
        serde_json::from_slice(&ok(&["stats", "--json", "--top", "300", log]).stdout).unwrap();
    let attempts = stats["attempts"].as_u64().unwrap();
    let unique_ips = stats["unique_ips"].as_u64().unwrap();
    let countries = stats["countries"].as_u64().unwrap();
    let addresses = stats["addresses"].as_u64().unwrap();
    // The log is hostile where the definitions could part: addresses without
    // an attempt, countries seen only in logins or closes, unlocated addresses.
    assert!(attempts > 500 && countries > 20, "{stats}");
    assert!(
        addresses > unique_ips,
        "some addresses never attempt: {stats}"
    );
    let by_cc: BTreeMap<String, u64> = stats["top_countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["country"].as_str().unwrap().to_string(),
                c["attempts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        by_cc.values().filter(|&&n| n == 0).count() > 0,
        "a country seen without attempts: {by_cc:?}"
    );
    assert_eq!(by_cc.values().filter(|&&n| n > 0).count() as u64, countries);
    let located: u64 = by_cc.values().sum();
    assert!(located < attempts, "some attempts are unlocated");
    // The ten busiest countries, as stats orders them.
    let top: Vec<(String, u64)> = stats["top_countries"]
        .as_array()
        .unwrap()
        .iter()
        .take(10)
        .map(|c| {
            (
                c["country"].as_str().unwrap().to_string(),
                c["attempts"].as_u64().unwrap(),
            )
        })
        .collect();

    // map: the title line and each country's tooltip.
    let map = path("m.svg");
    ok(&["map", log, "-o", &map]);
    let svg = std::fs::read_to_string(&map).unwrap();
    assert_eq!(
        totals_line(&svg),
        (attempts, unique_ips, countries),
        "map title"
    );
    let map_tips: BTreeMap<String, u64> = titles(&svg)
        .iter()
        .filter_map(|t| {
            let (name, n) = t.rsplit_once(": ")?;
            Some((unescape(name), number(n.strip_suffix(" attempts")?)))
        })
        .collect();

    // chart --by country: one bar per country, its label `Name (CC)` and its value.
    let chart = path("c.svg");
    ok(&[
        "chart", log, "--by", "country", "--top", "300", "-o", &chart,
    ]);
    let csvg = std::fs::read_to_string(&chart).unwrap();
    let texts = texts(&csvg);
    let bars: Vec<(String, String, u64)> = texts
        .windows(2)
        .filter_map(|w| {
            let (name, cc) = w[0].strip_suffix(')')?.rsplit_once(" (")?;
            let n = w[1].replace(',', "").parse().ok()?;
            Some((name.to_string(), cc.to_string(), n))
        })
        .collect();
    assert_eq!(
        bars.len() as u64,
        countries,
        "one bar per attacking country"
    );
    assert!(
        csvg.contains(&format!(
            "{} attack attempts",
            sshmap::render::map::thousands(attempts)
        )),
        "chart subtitle"
    );
    // The same number for every country, and the same ranking (ties may be
    // broken differently: stats breaks them by events, the chart by name).
    let chart_by_cc: BTreeMap<String, u64> = bars.iter().map(|b| (b.1.clone(), b.2)).collect();
    let attacking: BTreeMap<String, u64> = by_cc
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(c, &n)| (c.clone(), n))
        .collect();
    assert_eq!(chart_by_cc, attacking, "chart bars");
    let ranks = |v: &[(String, u64)]| v.iter().map(|c| c.1).collect::<Vec<u64>>();
    let chart_top: Vec<(String, u64)> = bars
        .iter()
        .take(top.len())
        .map(|b| (b.1.clone(), b.2))
        .collect();
    assert_eq!(ranks(&chart_top), ranks(&top), "chart ranking");
    for (name, cc, n) in bars.iter().take(top.len()) {
        assert_eq!(map_tips.get(name), Some(n), "map tooltip of {cc} ({name})");
    }
    // "(no location)" has no "(CC)": it is no country bar.
    let chart_sum: u64 = bars.iter().map(|b| b.2).sum();
    assert_eq!(
        chart_sum, located,
        "chart bars add up to the located attempts"
    );

    // report: the embedded snapshot's totals and countries.
    let html_path = path("r.html");
    ok(&["report", log, "-o", &html_path]);
    let html = std::fs::read_to_string(&html_path).unwrap();
    let snap = snapshot(&html);
    let totals = &snap["totals"];
    assert_eq!(
        (
            totals["attempts"].as_u64(),
            totals["unique_ips"].as_u64(),
            totals["countries"].as_u64(),
            totals["events"].as_u64()
        ),
        (
            Some(attempts),
            Some(unique_ips),
            Some(countries),
            stats["events"].as_u64()
        ),
        "report totals"
    );
    let series_sum = |s: &serde_json::Value| -> u64 {
        s.as_array()
            .unwrap()
            .chunks(3)
            .map(|c| c[1].as_u64().unwrap())
            .sum()
    };
    let report_countries: Vec<(String, u64)> = snap["countries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["cc"].as_str().unwrap().to_string(), series_sum(&c["s"])))
        .collect();
    let report_by_cc: BTreeMap<String, u64> = report_countries
        .iter()
        .filter(|c| c.1 > 0)
        .cloned()
        .collect();
    assert_eq!(report_by_cc, attacking, "report countries");
    assert_eq!(
        ranks(&report_countries[..top.len()]),
        ranks(&top),
        "report ranking"
    );
    let all_bins: u64 = snap["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[0].as_u64().unwrap())
        .sum();
    assert_eq!(all_bins, attempts, "report time series");
    let addrs = snap["ips"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["a"].as_u64().unwrap() > 0)
        .count() as u64;
    assert_eq!(addrs, unique_ips, "report addresses with attempts");

    // timelapse: its summary line, from the aggregate whose bins it draws.
    let video = path("t.gif");
    let o = ok(&[
        "timelapse",
        log,
        "-o",
        &video,
        "--bin",
        "30m",
        "--size",
        "160x90",
        "--fps",
        "2",
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        totals_line(&err),
        (attempts, unique_ips, countries),
        "timelapse: {err}"
    );
}
