//! `sshmap report`: the HTML file itself (offline, CSP, escaping, anonymization,
//! totals equal to `stats --json`) and, in headless Chromium, the page's behaviour.
//!
//! The browser test runs `tests/browser/report.mjs` with node and npm
//! `playwright-core` against Debian's `/usr/bin/chromium` (both installed by
//! `.ci/run`, which sets `SSHMAP_TEST_BROWSER=1`); without that variable it is skipped.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::mmdb_writer::fixtures;
use crate::util::{fixture, run};

/// User names an attacker could send to break the page.
const HOSTILE: [&str; 4] = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "</script><script>alert(2)</script>",
    "\"'><svg onload=alert(3)>",
];

/// The sample log plus failed logins with hostile user names and a late success.
fn hostile_log(dir: &Path) -> PathBuf {
    let mut log = std::fs::read_to_string(fixture("sample/auth.log")).unwrap();
    for (i, name) in HOSTILE.iter().enumerate() {
        let pid = 40000 + i;
        log.push_str(&format!(
            "Nov 22 23:56:0{i} web1 sshd[{pid}]: Invalid user {name} from 45.227.254.8 port 4242{i}\n\
             Nov 22 23:56:0{i} web1 sshd[{pid}]: Failed password for invalid user {name} from 45.227.254.8 port 4242{i} ssh2\n"
        ));
    }
    // Addresses the test city and ASN databases know (London, Melbourne, Tokyo).
    for (i, ip) in ["81.2.69.160", "81.2.69.161", "1.130.7.9", "2001:218::7"]
        .iter()
        .enumerate()
    {
        log.push_str(&format!(
            "Nov 22 23:57:0{i} web1 sshd[{}]: Failed password for root from {ip} port 5100{i} ssh2\n",
            41000 + i
        ));
    }
    let p = dir.join("auth.log");
    std::fs::write(&p, log).unwrap();
    p
}

fn report(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "report failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = args
        .iter()
        .position(|a| *a == "-o")
        .map(|i| args[i + 1])
        .unwrap();
    std::fs::read_to_string(out).unwrap()
}

fn stats(log: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["stats", "--year", "2026", "--json", log];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success());
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The JSON snapshot embedded in the page.
pub(crate) fn snapshot(html: &str) -> serde_json::Value {
    let start = html
        .find(r#"<script type="application/json" id="sshmap-data">"#)
        .expect("data element");
    let body = &html[start..];
    let body = &body[body.find('>').unwrap() + 1..];
    let end = body.find("</script>").unwrap();
    serde_json::from_str(&body[..end]).expect("snapshot is JSON")
}

#[test]
fn report_is_one_offline_file_whose_totals_equal_stats_json() {
    let dir = tempfile::tempdir().unwrap();
    let log = hostile_log(dir.path());
    let log = log.to_str().unwrap();
    let out = dir.path().join("r.html");
    let html = report(&[
        "report",
        "--year",
        "2026",
        log,
        "-o",
        out.to_str().unwrap(),
        "--title",
        "Attacks <on> web1",
    ]);
    let s = stats(log, &[]);
    let snap = snapshot(&html);
    for k in ["attempts", "unique_ips", "countries", "events"] {
        assert_eq!(snap["totals"][k], s[k], "{k}");
    }
    assert_eq!(snap["totals"]["successes"], s["by_kind"]["auth_success"]);
    let series_attempts: u64 = snap["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c[0].as_u64().unwrap())
        .sum();
    assert_eq!(
        series_attempts,
        s["attempts"].as_u64().unwrap(),
        "time series add up to the total"
    );
    assert_eq!(
        snap["countries"].as_array().unwrap().len() as u64,
        s["countries"].as_u64().unwrap()
    );

    // One file, nothing fetched: a CSP that forbids the network, no URL but the SVG namespace.
    assert!(html.contains(
        r#"<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;"#
    ));
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(
        !without_ns.contains("http://")
            && !without_ns.contains("https://")
            && !without_ns.contains("//cdn")
    );
    assert!(
        !html.contains("<link") && !html.contains("<img") && !html.contains("<iframe"),
        "no resource tags"
    );
    // The title is escaped; hostile names never appear as markup.
    assert!(html.contains("<title>Attacks &lt;on&gt; web1</title>"));
    for h in HOSTILE {
        assert!(!html.contains(h), "{h} appears raw in the page");
    }
    assert_eq!(
        html.matches("<script").count(),
        2,
        "only the data and the code"
    );
    let users: Vec<&str> = snap["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["u"].as_str().unwrap())
        .collect();
    for h in HOSTILE {
        assert!(users.contains(&h), "{h} missing from the users: {users:?}");
    }
    // The success after failures from the same address carries them.
    let ok = snap["successes"].as_array().unwrap();
    assert_eq!(ok.len(), 2);
    assert!(
        ok.iter()
            .any(|s| s["fb"].as_u64().unwrap() > 0 && !s["rf"].as_array().unwrap().is_empty()),
        "{ok:?}"
    );
}

#[test]
fn anonymize_ip_hides_every_address() {
    let dir = tempfile::tempdir().unwrap();
    let log = fixture("sample/auth.log");
    let out = dir.path().join("r.html");
    let html = report(&[
        "report",
        "--year",
        "2026",
        log.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--anonymize-ip",
    ]);
    let s = stats(log.to_str().unwrap(), &[]);
    let snap = snapshot(&html);
    assert_eq!(snap["anonymized"], true);
    assert_eq!(snap["totals"]["unique_ips"], s["unique_ips"]);
    for ip in s["top_ips"].as_array().unwrap() {
        let ip = ip["ip"].as_str().unwrap();
        assert!(!html.contains(ip), "{ip} appears in an anonymized report");
    }
    assert!(
        html.contains("\"218.92.0.0/24\""),
        "IPv4 keeps three octets"
    );
    assert!(html.contains("2001:da8:8000::/48"), "IPv6 keeps /48");
    assert!(!html.contains("2001:da8:8000:6fc0"));
}

#[test]
fn report_in_headless_chromium() {
    if std::env::var_os("SSHMAP_SKIP_BROWSER_TESTS").is_some() {
        eprintln!("SSHMAP_SKIP_BROWSER_TESTS is set: browser test skipped");
        return;
    }
    if !crate::ship::browser_tests_enabled("report_in_headless_chromium") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/report.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: run `npm ci --prefix tests/browser` (and `apt-get install chromium`), \
         or set SSHMAP_SKIP_BROWSER_TESTS=1"
    );
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&keep).unwrap();
    let log = hostile_log(&keep);
    // City and ASN databases: points at city precision and a filled ASN table.
    let (city, asn) = (keep.join("city.mmdb"), keep.join("asn.mmdb"));
    fixtures::maxmind_city().write(&city);
    fixtures::maxmind_asn().write(&asn);
    let geo = [
        "--geoip",
        city.to_str().unwrap(),
        "--asn",
        asn.to_str().unwrap(),
    ];
    let html = keep.join("report.html");
    let mut args = vec![
        "report",
        "--year",
        "2026",
        log.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ];
    args.extend_from_slice(&geo);
    report(&args);
    let stats_path = keep.join("stats.json");
    std::fs::write(
        &stats_path,
        serde_json::to_vec(&stats(log.to_str().unwrap(), &geo)).unwrap(),
    )
    .unwrap();
    let shot = keep.join("screenshot.png");
    let o = Command::new("node")
        .arg(&script)
        .args([&html, &stats_path, &shot])
        .env("SSHMAP_HOSTILE", serde_json::to_string(&HOSTILE).unwrap())
        .output()
        .expect("run node (install nodejs)");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "browser checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let shot_len = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(shot_len > 10_000, "screenshot missing or empty");
    eprintln!("screenshot for a person to look at: {}", shot.display());
}
