//! `sshmap timelapse`: MP4 and GIF files checked from the outside (ffprobe, ffmpeg, the gif decoder), frame by frame.
//!
//! Needs `ffprobe` and `ffmpeg` on PATH (Debian package `ffmpeg`; `.ci/run` installs it).

use std::path::Path;
use std::process::Command;

use sshmap::geo::countries;
use sshmap::render::projection::Projection;
use sshmap::render::theme::Theme;
use sshmap::render::timelapse::frame::{FrameOptions, Frames};

use crate::util::run;

/// Addresses the embedded DB-IP country database places in big countries
/// (so a country's label point is well inside many pixels at 640×360).
const SOURCES: [(&str, &str); 7] = [
    ("CN", "1.0.1.1"),
    ("BR", "200.160.0.1"),
    ("US", "8.8.8.8"),
    ("RU", "77.88.8.8"),
    ("AU", "139.130.4.5"),
    ("ZA", "41.0.0.1"),
    ("CA", "103.21.244.1"),
];

/// Two hours of failed logins on 2026-11-22: in minute N, `1 + N % 5` attempts from
/// country `N % 7` of [`SOURCES`], and from no one else.
fn two_hour_log(dir: &Path) -> std::path::PathBuf {
    let mut lines = Vec::new();
    let mut pid = 1000;
    for minute in 0..120 {
        let (_, ip) = SOURCES[minute % SOURCES.len()];
        for k in 0..1 + minute % 5 {
            pid += 1;
            lines.push(format!(
                "Nov 22 {:02}:{:02}:{:02} web1 sshd[{pid}]: Failed password for root from {ip} port {} ssh2",
                minute / 60,
                minute % 60,
                (k * 7) % 60,
                40000 + k
            ));
        }
    }
    let p = dir.join("auth.log");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn tool(name: &str) -> Command {
    let ok = Command::new(name)
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "`{name}` is not on PATH: install Debian's `ffmpeg` package (apt-get install -y ffmpeg) to run the timelapse tests");
    Command::new(name)
}

/// ffprobe's view of the first video stream.
fn probe(path: &Path) -> serde_json::Value {
    let out = tool("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries"])
        .arg("stream=codec_name,width,height,r_frame_rate,avg_frame_rate,nb_frames,nb_read_frames:format=format_name,duration")
        .args(["-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut s = v["streams"][0].clone();
    s["format"] = v["format"].clone();
    s
}

/// Every frame decoded by ffmpeg as RGB.
fn decode(path: &Path, w: usize, h: usize) -> Vec<Vec<u8>> {
    let out = tool("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
        .chunks_exact(w * h * 3)
        .map(<[u8]>::to_vec)
        .collect()
}

fn frames_640() -> Frames {
    Frames::new(FrameOptions {
        width: 640,
        height: 360,
        projection: Projection::EqualEarth,
        theme: Theme::Dark,
        title: String::new(),
        window_label: String::new(),
        zone: String::new(),
        half_life: 1.0,
        glow_peak: 10.0,
    })
}

/// Mean colour of the 3×3 pixels around a country's label point.
fn country_rgb(frames: &Frames, rgb: &[u8], iso2: &str) -> [f32; 3] {
    let (lat, lon) = countries::label_point(iso2).unwrap();
    let (x, y) = frames.locate(lat, lon).unwrap();
    let (x, y) = (x.round() as usize, y.round() as usize);
    let mut sum = [0f32; 3];
    for dy in 0..3 {
        for dx in 0..3 {
            let i = ((y + dy - 1) * 640 + x + dx - 1) * 3;
            for c in 0..3 {
                sum[c] += f32::from(rgb[i + c]) / 9.0;
            }
        }
    }
    sum
}

fn distance(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

#[test]
fn mp4_has_a_frame_per_minute_and_minute_n_lights_its_country() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_hour_log(dir.path());
    let out = dir.path().join("day.mp4");
    let o = run(&[
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-q",
        "timelapse",
        log.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--size",
        "640x360",
        "--fade",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(
        o.stderr.is_empty(),
        "quiet run wrote to stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!dir.path().join("day.mp4.partial").exists());

    let p = probe(&out);
    assert_eq!(p["codec_name"], "h264");
    assert_eq!(
        (p["width"].as_u64(), p["height"].as_u64()),
        (Some(640), Some(360))
    );
    assert_eq!(p["r_frame_rate"], "15/1");
    assert_eq!(p["avg_frame_rate"], "15/1");
    // 120 minutes, then the closing summary held 2 s (30 frames).
    assert_eq!(p["nb_frames"], "150", "{p}");
    assert_eq!(p["nb_read_frames"], "150", "{p}");
    assert!(p["format"]["format_name"].as_str().unwrap().contains("mp4"));
    let secs: f64 = p["format"]["duration"].as_str().unwrap().parse().unwrap();
    assert!((secs - 10.0).abs() < 0.1, "150 frames at 15 fps: {secs} s");

    let decoded = decode(&out, 640, 360);
    assert_eq!(decoded.len(), 150);
    // The summary: unlike the last minute's frame, then still (H.264 leaves a little noise).
    let changed = |a: &[u8], b: &[u8]| {
        a.chunks_exact(3)
            .zip(b.chunks_exact(3))
            .filter(|(p, q)| p.iter().zip(q.iter()).any(|(x, y)| x.abs_diff(*y) > 24))
            .count() as f64
            / (640.0 * 360.0)
    };
    let into_summary = changed(&decoded[119], &decoded[120]);
    assert!(
        into_summary > 0.05,
        "the summary looks like the last frame: {into_summary}"
    );
    for k in 121..150 {
        let c = changed(&decoded[120], &decoded[k]);
        assert!(c < 0.002, "summary frame {k} differs from the first by {c}");
    }
    let decoded = &decoded[..120];
    let frames = frames_640();
    let land = Theme::Dark.palette().land;
    let land = [f32::from(land.r), f32::from(land.g), f32::from(land.b)];
    for (n, rgb) in decoded.iter().enumerate() {
        let (now, _) = SOURCES[n % SOURCES.len()];
        // Frame N: the country of minute N glows, far from the colour of quiet land.
        let lit = country_rgb(&frames, rgb, now);
        assert!(
            distance(lit, land) > 60.0,
            "frame {n}: {now} should be lit, is {lit:?} (land {land:?})"
        );
        // The country that attacked six minutes ago has faded back (half-life one bin).
        if n >= 6 {
            let (old, _) = SOURCES[(n - 6) % SOURCES.len()];
            let faded = country_rgb(&frames, rgb, old);
            assert!(
                distance(faded, land) < 25.0,
                "frame {n}: {old} should have faded, is {faded:?}"
            );
        }
    }
    // Fading is gradual: the country of minute 0 dims frame after frame until minute 7 hits again.
    let cn: Vec<f32> = (0..7)
        .map(|n| distance(country_rgb(&frames, &decoded[n], "CN"), land))
        .collect();
    assert!(
        cn.windows(2).all(|w| w[1] <= w[0] + 3.0),
        "China should fade monotonically: {cn:?}"
    );
    assert!(cn[1] < cn[0] - 10.0 && cn[3] < cn[1]);
    assert!(
        distance(country_rgb(&frames, &decoded[7], "CN"), land) > 60.0,
        "China re-brightens when it attacks again"
    );
}

#[test]
fn gif_decodes_to_one_frame_per_bin() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_hour_log(dir.path());
    let out = dir.path().join("day.gif");
    let o = run(&[
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-q",
        "timelapse",
        log.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--bin",
        "5m",
        "--size",
        "320x180",
        "--fps",
        "10",
        "--points",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut d = opts.read_info(std::fs::File::open(&out).unwrap()).unwrap();
    assert_eq!((d.width(), d.height()), (320, 180));
    let (mut n, mut delay) = (0, 0u32);
    while let Some(f) = d.read_next_frame().unwrap() {
        n += 1;
        delay += u32::from(f.delay);
    }
    assert_eq!(n, 25, "two hours in 5-minute bins, then the summary");
    assert_eq!(
        delay, 440,
        "24 frames at 10 fps and the summary held 2 s: 4.4 s in centiseconds"
    );
}

#[test]
fn from_and_to_pick_the_frames() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_hour_log(dir.path());
    let out = dir.path().join("half.mp4");
    let o = run(&[
        "--year",
        "2026",
        "--tz",
        "UTC",
        "-q",
        "timelapse",
        log.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--size",
        "320x180",
        "--from",
        "2026-11-22T00:30:00Z",
        "--to",
        "2026-11-22T03:00:00Z",
        "--bin",
        "10m",
        "--fps",
        "24",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let p = probe(&out);
    // 00:30 to 03:00 in 10-minute bins, an hour of them after the data ends; a 2 s summary at 24 fps.
    assert_eq!(p["nb_read_frames"], "63", "{p}");
    assert_eq!(p["r_frame_rate"], "24/1");
}

#[test]
fn bad_options_fail_before_reading_and_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_hour_log(dir.path());
    let l = log.to_str().unwrap();
    let mp4 = dir.path().join("x.mp4");
    let m = mp4.to_str().unwrap();
    for (args, needle) in [
        (
            vec![
                "timelapse",
                l,
                "-o",
                dir.path().join("x.avi").to_str().unwrap(),
            ],
            ".mp4 or .gif",
        ),
        (vec!["timelapse", l, "-o", m, "--fps", "0"], "--fps"),
        (vec!["timelapse", l, "-o", m, "--bin", "0s"], "shortest bin"),
        (
            vec!["timelapse", l, "-o", m, "--bin", "1x"],
            "not a duration",
        ),
        (vec!["timelapse", l, "-o", m, "--size", "641x360"], "even"),
        (vec!["timelapse", l, "-o", m, "--fade", "0"], "--fade"),
        (
            vec!["timelapse", l, "-o", m, "--projection", "flat"],
            "--projection",
        ),
        (
            vec!["timelapse", l, "-o", m, "--format", "webm"],
            "--format",
        ),
        (
            vec![
                "timelapse",
                l,
                "-o",
                m,
                "--from",
                "2026-11-22T03:00:00Z",
                "--to",
                "2026-11-22T01:00:00Z",
            ],
            "before --to",
        ),
        (
            vec!["timelapse", l, "-o", m, "--from", "2026-11-22T05:00:00Z"],
            "no attack attempts",
        ),
    ] {
        let mut full = vec!["--year", "2026", "--tz", "UTC"];
        full.extend(args);
        let o = run(&full);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{full:?}: {err}");
        assert!(err.contains(needle), "{full:?}: {err}");
        assert!(
            !mp4.exists() && !dir.path().join("x.mp4.partial").exists(),
            "{full:?} left a file"
        );
    }
}

#[test]
fn db_videos_come_from_the_rollups_and_survive_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let log = two_hour_log(dir.path());
    let db = dir.path().join("s.db");
    let (log, db) = (log.to_str().unwrap(), db.to_str().unwrap());
    let g = ["--year", "2026", "--tz", "UTC", "-q"];
    let ok = |args: &[&str]| {
        let o = run(&[&g[..], args].concat());
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(&["ingest", log, "--db", db]);
    let video = |name: &str, src: &[&str], extra: &[&str]| -> Vec<u8> {
        let out = dir.path().join(name);
        let mut args = vec!["timelapse"];
        args.extend_from_slice(src);
        args.extend_from_slice(&[
            "-o",
            out.to_str().unwrap(),
            "--bin",
            "5m",
            "--size",
            "320x180",
            // The rollups keep neither addresses nor user names, which the summary
            // of a read of the events shows: the frames are compared here.
            "--no-summary",
        ]);
        args.extend_from_slice(extra);
        ok(&args);
        std::fs::read(out).unwrap()
    };
    let range = [
        "--from",
        "2026-11-22T00:30:00Z",
        "--to",
        "2026-11-22T01:45:00Z",
    ];
    // Rollups (whole minutes, no points) and raw events (points) give the logs' video.
    for extra in [&[][..], &range[..], &["--points"][..]] {
        let on_logs = video("logs.gif", &[log], extra);
        assert_eq!(video("db.gif", &["--db", db], extra), on_logs, "{extra:?}");
    }
    // A second that is not a minute's start: read from the raw events.
    let odd = ["--from", "2026-11-22T00:30:30Z"];
    assert_eq!(
        video("db.gif", &["--db", db], &odd),
        video("logs.gif", &[log], &odd)
    );

    // Raw events gone (as `--keep` prunes final ones; deleted here, since a
    // log this short is all provisional): the rollups still make the same video.
    let whole = video("logs.gif", &[log], &[]);
    let c = rusqlite::Connection::open(db).unwrap();
    assert!(c.execute("DELETE FROM events", []).unwrap() > 0);
    drop(c);
    assert_eq!(video("db.gif", &["--db", db], &[]), whole);
}

/// Ten minutes of failed logins: in minute N, `3 + N % 4` attempts on root, two on
/// a hostile name and one on `admin`, from China and Brazil.
fn accounts_log(dir: &Path) -> std::path::PathBuf {
    let mut lines = Vec::new();
    let mut pid = 2000;
    for minute in 0..10 {
        let mut add = |user: &str, ip: &str, n: usize| {
            for k in 0..n {
                pid += 1;
                lines.push(format!(
                    "Nov 22 10:{minute:02}:{:02} web1 sshd[{pid}]: Failed password for invalid user {user} from {ip} port {} ssh2",
                    k * 5,
                    40000 + k
                ));
            }
        };
        add("root", "1.0.1.1", 3 + minute % 4);
        add("<b>x</b>\u{1b}[2J", "200.160.0.1", 2);
        add("admin", "200.160.0.1", 1);
    }
    let p = dir.join("accounts.log");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

/// Every frame of a GIF as RGBA, with its delay in centiseconds.
fn gif_frames(path: &Path) -> Vec<(Vec<u8>, u16)> {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::RGBA);
    let mut d = opts.read_info(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(f) = d.read_next_frame().unwrap() {
        assert_eq!((f.width, f.height), (640, 360), "a partial frame");
        out.push((f.buffer.to_vec(), f.delay));
    }
    out
}

#[test]
fn the_accounts_panel_and_the_closing_summary_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let log = accounts_log(dir.path());
    let gif = |name: &str, extra: &[&str]| {
        let out = dir.path().join(name);
        let mut args = vec![
            "--year",
            "2026",
            "--tz",
            "UTC",
            "-q",
            "timelapse",
            log.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--size",
            "640x360",
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        gif_frames(&out)
    };
    let plain = gif("plain.gif", &["--no-summary"]);
    let accounts = gif("accounts.gif", &["--no-summary", "--accounts"]);
    let summary = gif("summary.gif", &[]);
    assert_eq!(plain.len(), 10);
    assert_eq!(accounts.len(), 10);

    // The panel: in every frame, pixels change in the left column, above the top
    // countries (whose five rows take the bottom ~130 px), and hardly anywhere else.
    // Changed means by more than 120 in a channel (text on the ocean): each GIF frame
    // has its own 256 colours, which moves the anti-aliased edges of the other texts
    // by less.
    for (n, (a, b)) in plain.iter().zip(&accounts).enumerate() {
        let (mut inside, mut outside) = (0, 0);
        for (i, (p, q)) in a.0.chunks_exact(4).zip(b.0.chunks_exact(4)).enumerate() {
            if p.iter().zip(q).any(|(x, y)| x.abs_diff(*y) > 120) {
                let (x, y) = (i % 640, i / 640);
                if x < 220 && (176..300).contains(&y) {
                    inside += 1;
                } else {
                    outside += 1;
                }
            }
        }
        eprintln!("frame {n}: {inside} pixels changed in the panel's place, {outside} elsewhere");
        assert!(
            inside > 100,
            "frame {n}: the accounts panel changed {inside} pixels"
        );
        assert!(
            outside * 10 < inside,
            "frame {n}: {outside} pixels changed outside the panel's place ({inside} inside)"
        );
    }

    // The summary: the same frames, then one more, unlike the last, held 2 s.
    assert_eq!(summary.len(), plain.len() + 1);
    for (n, (a, b)) in plain.iter().zip(&summary).enumerate() {
        assert!(a.0 == b.0, "frame {n} changed when the summary was added");
    }
    let (last, still) = (&plain[9].0, &summary[10]);
    let changed = last
        .chunks_exact(4)
        .zip(still.0.chunks_exact(4))
        .filter(|(p, q)| p != q)
        .count();
    assert!(
        changed > 640 * 360 / 10,
        "the summary frame is the last frame: {changed} pixels changed"
    );
    assert_eq!(still.1, 200, "the summary is held 2 s (200 centiseconds)");
    // Its text sits in the middle, over a dimmed map: bright pixels there, where the
    // last frame had the ocean and dim land of the Atlantic.
    let bright = |rgba: &[u8]| {
        rgba.chunks_exact(4)
            .enumerate()
            .filter(|(i, p)| {
                let (x, y) = (i % 640, i / 640);
                (200..440).contains(&x) && (100..200).contains(&y) && p[0].min(p[1]).min(p[2]) > 180
            })
            .count()
    };
    assert!(
        bright(&still.0) > 200 && bright(&still.0) > 4 * bright(last),
        "no summary text in the middle: {} bright pixels (last frame {})",
        bright(&still.0),
        bright(last)
    );
}
