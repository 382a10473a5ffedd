//! What users see in each view (issue #16): suspicious logins first and cut
//! lists that say so, terminal width and colour, chart sizing and refusals.
//!
//! Browser checks run `tests/browser/views.mjs` with `SSHMAP_TEST_BROWSER=1`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::util::run;

/// `Nov 22 HH:MM:SS` for a second of the day.
fn at(secs: u32) -> String {
    format!(
        "Nov 22 {:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    )
}

/// A busy day: `logins` ordinary public-key logins of `deploy` from a few
/// addresses, a brute force on root from 218.92.0.34 (China) that ends in a
/// login (the address tries again in the evening), and a login of `deploy` from a new country (185.220.101.45, Germany).
fn busy_day(dir: &Path, logins: u32) -> PathBuf {
    let mut log = String::new();
    let step = 80_000 / logins.max(1);
    let mut pid = 1000;
    for i in 0..logins {
        pid += 1;
        let _ = writeln!(
            log,
            "{} web1 sshd[{pid}]: Accepted publickey for deploy from 81.2.69.{} port {} ssh2: ED25519 SHA256:abc",
            at(i * step),
            1 + i % 3,
            40000 + i % 20000
        );
        if i % 7 == 0 {
            pid += 1;
            let _ = writeln!(
                log,
                "{} web1 sshd[{pid}]: Failed password for invalid user admin{} from 45.{}.33.{} port 5{:04} ssh2",
                at(i * step + 1),
                i % 50,
                60 + i % 100,
                1 + i % 200,
                i % 10000
            );
        }
    }
    for k in 0..300 {
        pid += 1;
        let _ = writeln!(
            log,
            "{} web1 sshd[{pid}]: Failed password for root from 218.92.0.34 port {} ssh2",
            at(30_000 + k),
            30000 + k
        );
    }
    let _ = writeln!(
        log,
        "{} web1 sshd[{}]: Accepted password for root from 218.92.0.34 port 44444 ssh2",
        at(30_400),
        pid + 1
    );
    let _ = writeln!(
        log,
        "{} web1 sshd[{}]: Accepted publickey for deploy from 185.220.101.45 port 44445 ssh2: ED25519 SHA256:abc",
        at(60_000),
        pid + 2
    );
    // The same address comes back in the evening: its latest sessions are not those of the login.
    for k in 0..20 {
        let _ = writeln!(
            log,
            "{} web1 sshd[{}]: Failed password for oracle from 218.92.0.34 port {} ssh2",
            at(75_000 + k * 60),
            pid + 10 + k,
            50000 + k
        );
    }
    let p = dir.join("busy.log");
    std::fs::write(&p, log).unwrap();
    p
}

fn tmp(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("views")
        .join(name);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stdout(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "sshmap {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn logins_suspicious_first_and_cut_lists_say_so() {
    let dir = tmp("logins");
    let log = busy_day(&dir, 5_200);
    let log = log.to_str().unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&["stats", "--year", "2026", "--json", log])).unwrap();
    assert_eq!(json["successful_logins_total"], 5_202);
    assert_eq!(json["suspicious_logins"], 2);
    let list = json["successful_logins"].as_array().unwrap();
    assert_eq!(
        list.len(),
        1000,
        "the JSON list is cut at 1,000 and says the total"
    );
    assert_eq!(list[0]["ip"], "218.92.0.34");
    assert_eq!(list[0]["failures_from_ip"], 300);
    assert_eq!(list[0]["failures_for_user"], 300);
    assert_eq!(list[1]["ip"], "185.220.101.45");
    assert_eq!(list[1]["new_country"], true);
    assert_eq!(list[2]["failures_from_ip"], 0);

    let text = stdout(&["stats", "--year", "2026", log]);
    let section = &text[text.find("Successful logins").expect("a logins table")..];
    let lines: Vec<&str> = section.lines().collect();
    assert!(
        lines[0].contains("5,202") && lines[0].contains("2 suspicious"),
        "{}",
        lines[0]
    );
    assert!(
        lines[2].contains("218.92.0.34"),
        "the brute-forced login comes first:\n{section}"
    );
    assert!(
        lines[3].contains("↳ after 300 failures from this IP, 300 failures for this user"),
        "with what came before it:\n{section}"
    );
    assert!(lines[4].contains("185.220.101.45"), "{section}");
    assert!(
        lines[5].contains("↳ new country for this user"),
        "{section}"
    );
    assert!(
        section.contains("… 5,182 more (0 of them suspicious)"),
        "the cut list says how many more:\n{section}"
    );
}

/// Lines of `sshmap stats` output with `COLUMNS` set, in characters.
fn widths(log: &str, columns: &str) -> Vec<(usize, String)> {
    let o = crate::util::sshmap()
        .args(["stats", "--year", "2026", log])
        .env("COLUMNS", columns)
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| (l.chars().count(), l.to_string()))
        .collect()
}

#[test]
fn stats_fits_60_columns_and_sorts_kinds_by_count() {
    let dir = tmp("columns");
    let busy = busy_day(&dir, 600);
    let sample = crate::util::fixture("sample/auth.log");
    for log in [busy.to_str().unwrap(), sample.to_str().unwrap()] {
        for (n, l) in widths(log, "60") {
            assert!(n <= 60, "{n} columns: {l:?}");
        }
        // Wider terminals get longer bars, not cut ones.
        let wide = widths(log, "120");
        let bar = |ls: &[(usize, String)]| {
            ls.iter()
                .map(|(_, l)| l.matches('█').count())
                .max()
                .unwrap()
        };
        assert!(
            bar(&wide) > bar(&widths(log, "60")),
            "bars scale to the width"
        );
    }
    let text = stdout(&["stats", "--year", "2026", sample.to_str().unwrap()]);
    let kinds: Vec<u64> = text[text.find("Events by kind").unwrap()..]
        .lines()
        .skip(2)
        .take_while(|l| !l.is_empty())
        .map(|l| {
            l.split_whitespace()
                .last()
                .unwrap()
                .replace(',', "")
                .parse()
                .unwrap()
        })
        .collect();
    assert!(
        kinds.len() > 3 && kinds.windows(2).all(|w| w[0] >= w[1]),
        "{kinds:?}"
    );
}

/// Runs `sshmap stats` in a pseudo-terminal (util-linux `script`), with `env`.
fn stats_on_a_tty(env: &str) -> Option<String> {
    let bin = env!("CARGO_BIN_EXE_sshmap");
    let sample = crate::util::fixture("sample/auth.log");
    let o = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("{env} {bin} stats --year 2026 {}", sample.display()),
            "/dev/null",
        ])
        .output()
        .ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn stats_colours_a_terminal_unless_no_color_and_never_a_pipe() {
    let piped = stdout(&[
        "stats",
        "--year",
        "2026",
        crate::util::fixture("sample/auth.log").to_str().unwrap(),
    ]);
    assert!(!piped.contains('\x1b'), "colour in a pipe");
    let Some(tty) = stats_on_a_tty("env -u NO_COLOR") else {
        eprintln!("no `script` to make a pseudo-terminal: skipped");
        return;
    };
    assert!(tty.contains("\x1b[1m"), "no colour on a terminal");
    let no_color = stats_on_a_tty("NO_COLOR=1").unwrap();
    assert!(!no_color.contains('\x1b'), "NO_COLOR is ignored");
}

/// Runs `tests/browser/views.mjs MODE ARGS…`; `None` when browser tests are off.
fn browser(mode: &str, args: &[&Path]) -> Option<serde_json::Value> {
    if !crate::ship::browser_tests_enabled(mode) {
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = std::process::Command::new("node")
        .arg(root.join("tests/browser/views.mjs"))
        .arg(mode)
        .args(args)
        .output()
        .expect("run node");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "browser check {mode} failed: {text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(serde_json::from_str(text.trim()).expect("one JSON object"))
}

#[test]
fn report_with_5000_logins_stays_a_few_screens_tall_until_expanded() {
    let dir = tmp("report-logins");
    let log = busy_day(&dir, 5_200);
    let html = dir.join("report.html");
    stdout(&[
        "report",
        "--year",
        "2026",
        log.to_str().unwrap(),
        "-o",
        html.to_str().unwrap(),
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains(r#""fu":300"#) && page.contains(r#""nc":true"#));
    let shot = dir.join("logins.png");
    if let Some(out) = browser("logins", &[&html, &shot]) {
        eprintln!("{out}");
    }
    if let Some(out) = browser("tables", &[&html, &dir.join("tables.png")]) {
        eprintln!("{out}");
    }
    if let Some(out) = browser("labels", &[&html, &dir.join("labels.png")]) {
        eprintln!("{out}");
    }
    if let Some(out) = browser("colours", &[&html, &dir.join("colours.png")]) {
        eprintln!("{out}");
    }
}

/// The last pixel row with anything but the background colour (the top-left pixel).
fn last_drawn_row(png: &Path) -> (u32, u32) {
    let (w, h, px) = crate::render::decode_png(&std::fs::read(png).unwrap());
    let bg = &px[..3];
    let last = (0..h)
        .rev()
        .find(|&y| {
            (0..w).any(|x| {
                let i = ((y * w + x) * 3) as usize;
                &px[i..i + 3] != bg
            })
        })
        .unwrap_or(0);
    (h, last)
}

#[test]
fn bar_chart_is_as_tall_as_its_bars_and_says_what_it_wrote() {
    let dir = tmp("chart");
    let sample = crate::util::fixture("sample/auth.log");
    let png = dir.join("users.png");
    let o = run(&[
        "chart",
        "--year",
        "2026",
        sample.to_str().unwrap(),
        "--by",
        "user",
        "-o",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("wrote") && err.contains("users.png") && err.contains("11 bars"),
        "{err}"
    );
    let (h, last) = last_drawn_row(&png);
    assert!(h < 750, "height {h}: not fitted to 11 bars");
    assert!(
        h - last < h / 10,
        "an empty band of {} px below the bars (height {h})",
        h - last
    );
    // A given size is kept.
    let sized = dir.join("sized.png");
    let o = run(&[
        "chart",
        "--year",
        "2026",
        sample.to_str().unwrap(),
        "--by",
        "user",
        "--size",
        "800x600",
        "-o",
        sized.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(last_drawn_row(&sized).0, 600);
}

#[test]
fn chart_refuses_an_hour_pie_and_an_asn_chart_without_asn_data() {
    let dir = tmp("chart-refuse");
    let sample = crate::util::fixture("sample/auth.log");
    let out = dir.join("x.png");
    let o = run(&[
        "chart",
        "--year",
        "2026",
        sample.to_str().unwrap(),
        "--by",
        "hour",
        "--style",
        "pie",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--style bar"));
    let o = run(&[
        "chart",
        "--year",
        "2026",
        sample.to_str().unwrap(),
        "--by",
        "asn",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--asn PATH") && err.contains("no ASN database was given"),
        "{err}"
    );
    assert!(!out.exists(), "no 100% \"(unknown AS)\" chart is written");
}

#[test]
fn static_map_labels_the_top_attacker_with_tooltips_and_arcs_home() {
    let dir = tmp("map");
    let log = busy_day(&dir, 300);
    let svg = dir.join("map.svg");
    stdout(&[
        "map",
        "--year",
        "2026",
        log.to_str().unwrap(),
        "--points",
        "--home",
        "48.85,2.35",
        "-o",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        labels.contains(&"218.92.0.34  320"),
        "the top attacker is labelled: {labels:?}"
    );
    assert!(
        !labels.iter().any(|l| l.starts_with("45.")),
        "addresses with a handful of attempts are not labelled: {labels:?}"
    );
    let tips: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .filter_map(|c| c.children().find(|t| t.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert!(tips.len() > 10, "a tooltip per point: {}", tips.len());
    assert!(
        tips.iter().any(|t| t.contains("218.92.0.34 (320)")),
        "{tips:?}"
    );
    let arcs = doc
        .descendants()
        .find(|n| n.attribute("id") == Some("arcs"))
        .expect("arcs to home");
    assert!(arcs.children().filter(|n| n.is_element()).count() >= 5);
}

#[test]
fn small_attacking_countries_show_as_a_dot() {
    let dir = tmp("map-small");
    let log = busy_day(&dir, 300);
    let svg = dir.join("map.svg");
    stdout(&[
        "map",
        "--year",
        "2026",
        log.to_str().unwrap(),
        "--size",
        "960x540",
        "-o",
        svg.to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let dots: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("circle"))
        .filter_map(|c| c.children().find(|t| t.has_tag_name("title")))
        .filter_map(|t| t.text())
        .collect();
    assert!(dots.iter().any(|d| d.starts_with("Singapore:")), "{dots:?}");
    assert!(
        !dots.iter().any(|d| d.starts_with("China:")),
        "a big country gets no dot: {dots:?}"
    );
}

/// A dense day: 6 hours of attacks from six countries, every minute, in bursts
/// (xorshift counts), so every country stays lit all the time.
fn dense_day(dir: &Path) -> PathBuf {
    let ips = [
        "218.92.0.34",
        "45.227.254.8",
        "183.81.169.238",
        "185.220.101.45",
        "179.43.180.106",
        "8.8.4.4",
    ];
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut log = String::new();
    let mut pid = 10_000;
    for minute in 0..360u32 {
        for ip in ips {
            for k in 0..(next() % 12) as u32 {
                pid += 1;
                let _ = writeln!(
                    log,
                    "{} web1 sshd[{pid}]: Failed password for root from {ip} port {} ssh2",
                    at(minute * 60 + k * 4),
                    30000 + k
                );
            }
        }
    }
    let p = dir.join("dense.log");
    std::fs::write(&p, log).unwrap();
    p
}

#[test]
fn a_dense_day_visibly_breathes_in_the_timelapse() {
    let dir = tmp("dense");
    let log = dense_day(&dir);
    let gif = dir.join("dense.gif");
    stdout(&[
        "timelapse",
        "--year",
        "2026",
        log.to_str().unwrap(),
        "--bin",
        "10m",
        "--size",
        "320x180",
        "-q",
        "-o",
        gif.to_str().unwrap(),
    ]);
    let Ok(o) = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(&gif)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
    else {
        eprintln!("no ffmpeg to decode the GIF: skipped");
        return;
    };
    let frame = 320 * 180 * 3;
    let frames: Vec<&[u8]> = o.stdout.chunks_exact(frame).collect();
    assert!(frames.len() >= 30, "{} frames", frames.len());
    // Share of pixels that change visibly from one frame to the next, over the middle of the day.
    let changed: Vec<f64> = frames[6..frames.len() - 1]
        .windows(2)
        .map(|w| {
            let n = w[0]
                .chunks_exact(3)
                .zip(w[1].chunks_exact(3))
                .filter(|(a, b)| a.iter().zip(b.iter()).any(|(p, q)| p.abs_diff(*q) > 12))
                .count();
            n as f64 / (320.0 * 180.0)
        })
        .collect();
    let mean = changed.iter().sum::<f64>() / changed.len() as f64;
    eprintln!("mean share of changed pixels per frame: {mean:.4}");
    assert!(
        mean > 0.02,
        "frames differ by {:.2}% of pixels: the dense day does not move",
        mean * 100.0
    );
}
