//! Maps and charts: pixels that matter in the PNG, structure and escaping in the SVG.

use std::sync::Arc;

use sshmap::event::Geo;
use sshmap::flow;
use sshmap::geo::countries;
use sshmap::render::map::{self, MapData, MapOptions};
use sshmap::render::projection::Projection;
use sshmap::render::scene::Color;
use sshmap::render::theme::Theme;
use sshmap::render::{encode, Format};
use sshmap::source::Input;

use crate::util::{run, write_log};

fn failed_lines(n: usize, user: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            format!(
                "Nov 23 07:{:02}:{:02} vm sshd[{}]: Failed password for invalid user {user} from 203.0.113.{} port {} ssh2",
                i / 60 % 60,
                i % 60,
                4000 + i,
                1 + i % 200,
                40000 + i
            )
        })
        .collect()
}

/// Decodes a PNG into (width, height, RGB bytes).
pub(crate) fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn pixel(img: &(u32, u32, Vec<u8>), x: f32, y: f32) -> Color {
    let (w, _, data) = img;
    let i = (y.round() as usize * *w as usize + x.round() as usize) * 3;
    Color {
        r: data[i],
        g: data[i + 1],
        b: data[i + 2],
        a: 255,
    }
}

/// A log whose attempts all come from Brazil (geo set as the GeoIP stage will set it).
fn brazil_map_data() -> MapData {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), "auth.log", &failed_lines(300, "root"));
    let opts = flow::Options {
        all: false,
        year: Some(2026),
        tz: jiff::tz::TimeZone::UTC,
        progress: false,
        geo: None,
        range: Default::default(),
        host: None,
    };
    let mut agg = sshmap::analyze::Aggregate::default();
    flow::run(
        &[Input::File(log)],
        &opts,
        &mut flow::Each(|mut ev: sshmap::event::Event| -> std::io::Result<()> {
            ev.geo = Some(Arc::new(Geo {
                country: Some(Arc::from("BR")),
                precision: Some("country"),
                ..Geo::default()
            }));
            agg.add(&ev);
            Ok(())
        }),
    )
    .unwrap();
    let data = MapData::from(&agg);
    assert_eq!(data.attempts, 300);
    data
}

#[test]
fn one_country_glows_top_colour_and_the_ocean_stays_ocean() {
    let data = brazil_map_data();
    for (projection, theme) in [
        (Projection::EqualEarth, Theme::Dark),
        (Projection::Mercator, Theme::Light),
        (Projection::NaturalEarth, Theme::Dark),
        (
            Projection::Orthographic {
                lat0: -10.0,
                lon0: -50.0,
            },
            Theme::Dark,
        ),
    ] {
        let opts = MapOptions {
            width: 1280,
            height: 720,
            projection,
            theme,
            points: false,
            home: None,
            title: None,
            top_labels: 5,
        };
        let png = encode(&map::scene(&data, &opts), Format::Png);
        let img = decode_png(&png);
        assert_eq!((img.0, img.1), (1280, 720));
        let fit = map::pixel_fit(&opts);
        let pal = theme.palette();
        let (lat, lon) = countries::label_point("BR").unwrap();
        let (x, y) = fit.apply(projection.project(lon, lat));
        assert_eq!(
            pixel(&img, x, y),
            *pal.ramp.last().unwrap(),
            "{projection:?}: Brazil's label point"
        );
        // Mid South Atlantic, visible in every projection above.
        let (x, y) = fit.apply(projection.project(-25.0, -20.0));
        assert_eq!(pixel(&img, x, y), pal.ocean, "{projection:?}: mid-ocean");
        // A country that sent nothing is plain land.
        let (lat, lon) = countries::label_point("AR").unwrap();
        let (x, y) = fit.apply(projection.project(lon, lat));
        assert_eq!(pixel(&img, x, y), pal.land, "{projection:?}: Argentina");
    }
}

#[test]
fn svg_has_one_element_per_country_with_its_iso_id_and_fill() {
    let data = brazil_map_data();
    let opts = MapOptions {
        width: 1600,
        height: 900,
        points: true,
        home: Some((48.85, 2.35)),
        ..MapOptions::default()
    };
    let svg = String::from_utf8(encode(&map::scene(&data, &opts), Format::Svg)).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("SVG is well-formed XML");
    let mut ids = std::collections::HashSet::new();
    let mut brazil_fill = None;
    for node in doc.descendants().filter(|n| n.has_tag_name("path")) {
        if let Some(id) = node.attribute("id") {
            if id.len() == 2 && id.bytes().all(|b| b.is_ascii_uppercase()) {
                assert!(ids.insert(id.to_string()), "{id} appears twice");
                assert!(
                    node.attribute("fill").is_some_and(|f| f.starts_with('#')),
                    "{id} has no fill"
                );
                if id == "BR" {
                    brazil_fill = node.attribute("fill").map(str::to_string);
                }
            }
        }
    }
    assert!(ids.len() >= 170, "only {} countries", ids.len());
    for iso in ["FR", "US", "RU", "ZA", "LS", "XK", "AQ", "FJ"] {
        assert!(ids.contains(iso), "{iso} missing");
    }
    assert_eq!(
        brazil_fill.as_deref(),
        Some(Theme::Dark.palette().ramp.last().unwrap().hex().as_str())
    );
}

#[test]
fn chart_escapes_attacker_controlled_user_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = failed_lines(20, "<script>alert(1)</script>");
    lines.extend(failed_lines(5, "a&b\"c"));
    let log = write_log(dir.path(), "auth.log", &lines);
    for style in ["bar", "pie"] {
        let out = dir.path().join(format!("users-{style}.svg"));
        let o = run(&[
            "--year",
            "2026",
            "-q",
            "chart",
            log.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
            "--by",
            "user",
            "--style",
            style,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let svg = std::fs::read_to_string(&out).unwrap();
        assert!(!svg.contains("<script"), "raw markup in the {style} chart");
        assert!(svg.contains("&lt;script&gt;"));
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        assert!(doc
            .descendants()
            .any(|n| n.text() == Some("<script>alert(1)</script>")));
        let png = dir.path().join(format!("users-{style}.png"));
        let o = run(&[
            "--year",
            "2026",
            "-q",
            "chart",
            log.to_str().unwrap(),
            "-o",
            png.to_str().unwrap(),
            "--by",
            "user",
            "--style",
            style,
        ]);
        assert!(o.status.success());
        assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    }
}

#[test]
fn empty_input_draws_a_map_that_says_no_attempts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("empty.log");
    std::fs::write(&log, "").unwrap();
    let svg = dir.path().join("m.svg");
    let o = run(&[
        "-q",
        "map",
        log.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    assert!(doc
        .descendants()
        .any(|n| n.has_tag_name("text") && n.text() == Some("no attempts")));
    let png = dir.path().join("m.png");
    let o = run(&[
        "-q",
        "map",
        log.to_str().unwrap(),
        "-o",
        png.to_str().unwrap(),
        "--size",
        "640x360",
        "--projection",
        "globe",
    ]);
    assert!(o.status.success());
    let img = decode_png(&std::fs::read(&png).unwrap());
    assert_eq!((img.0, img.1), (640, 360));
}

#[test]
fn map_command_reads_logs_and_rejects_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let log = write_log(dir.path(), "auth.log", &failed_lines(50, "admin"));
    let out = dir.path().join("m.png");
    let l = log.to_str().unwrap();
    let o = run(&[
        "--year",
        "2026",
        "map",
        l,
        "-o",
        out.to_str().unwrap(),
        "--points",
        "--home",
        "-33.9,18.4",
        "--theme",
        "light",
        "--from",
        "2026-11-23",
        "--kind",
        "auth_failure",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("50 attempts"));
    for bad in [
        vec!["-o", "x.jpg"],
        vec!["-o", "x.png", "--size", "big"],
        vec!["-o", "x.png", "--projection", "robinson"],
        vec!["-o", "x.png", "--home", "100,0"],
        vec!["-o", "x.png", "--kind", "nope"],
        vec!["-o", "x.png", "--db", "sqlite.db"],
    ] {
        let mut args = vec!["map", l];
        args.extend(bad.iter());
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// `map` and `chart` answer the same from the store as from the logs (issue: "Both work
/// on raw logs and on `--db`").
#[test]
fn map_and_chart_read_the_store_like_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let log = crate::util::fixture("sample/auth.log");
    let db = dir.path().join("s.db");
    let o = run(&[
        "-q",
        "--year",
        "2026",
        "ingest",
        log.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Raw events (points, users) and rollups (the rest) give the same pictures.
    for (cmd, extra) in [
        ("map", &["--points"][..]),
        ("map", &[][..]),
        (
            "map",
            &[
                "--from",
                "2026-11-22T06:00:00Z",
                "--to",
                "2026-11-22T18:00:00Z",
            ][..],
        ),
        ("chart", &["--by", "country"][..]),
        ("chart", &["--by", "hour"][..]),
        ("chart", &["--by", "ip"][..]),
        ("chart", &["--by", "user"][..]),
        (
            "chart",
            &["--by", "country", "--from", "2026-11-22T12:00:00Z"][..],
        ),
    ] {
        let from_log = dir.path().join(format!("{cmd}-log.svg"));
        let from_db = dir.path().join(format!("{cmd}-db.svg"));
        let mut a = vec![
            "-q",
            "--year",
            "2026",
            cmd,
            log.to_str().unwrap(),
            "-o",
            from_log.to_str().unwrap(),
        ];
        a.extend_from_slice(extra);
        let mut b = vec![
            "-q",
            cmd,
            "--db",
            db.to_str().unwrap(),
            "-o",
            from_db.to_str().unwrap(),
        ];
        b.extend_from_slice(extra);
        let (oa, ob) = (run(&a), run(&b));
        assert!(
            oa.status.success(),
            "{}",
            String::from_utf8_lossy(&oa.stderr)
        );
        assert!(
            ob.status.success(),
            "{}",
            String::from_utf8_lossy(&ob.stderr)
        );
        let (sa, sb) = (
            std::fs::read_to_string(&from_log).unwrap(),
            std::fs::read_to_string(&from_db).unwrap(),
        );
        if !extra.contains(&"--from") {
            assert!(
                sa.contains("401"),
                "{cmd}: the sample's 401 attempts are in the picture"
            );
        }
        assert_eq!(
            sa, sb,
            "{cmd} {extra:?}: the same SVG from the store as from the log"
        );
    }
    // Raw events gone (as `--keep` prunes final ones; deleted here, since the
    // sample is short enough to be all provisional): the map still comes from the rollups.
    let map = |src: &[&str], name: &str| -> String {
        let out = dir.path().join(name);
        let mut a = vec!["-q", "--year", "2026", "map"];
        a.extend_from_slice(src);
        a.extend_from_slice(&["-o", out.to_str().unwrap()]);
        let o = run(&a);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read_to_string(out).unwrap()
    };
    let whole = map(&[log.to_str().unwrap()], "log.svg");
    let c = rusqlite::Connection::open(&db).unwrap();
    assert!(c.execute("DELETE FROM events", []).unwrap() > 0);
    drop(c);
    assert_eq!(map(&["--db", db.to_str().unwrap()], "pruned.svg"), whole);
}
