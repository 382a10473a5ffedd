//! Renders demonstration maps and charts from made-up counts, to look at while developing:
//! `cargo run --example render_demo -- OUTDIR`.

use sshmap::render::map::{self, MapData, MapOptions};
use sshmap::render::projection::Projection;
use sshmap::render::theme::Theme;
use sshmap::render::{encode, Format};

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/tmp/sshmap-demo".into());
    std::fs::create_dir_all(&dir).unwrap();
    let counts = [
        ("CN", 48_000),
        ("US", 21_000),
        ("RU", 15_500),
        ("BR", 6_100),
        ("IN", 5_200),
        ("DE", 3_900),
        ("FR", 2_800),
        ("VN", 2_500),
        ("KR", 2_000),
        ("NL", 1_900),
        ("ID", 1_200),
        ("GB", 900),
        ("ZA", 300),
        ("AR", 120),
        ("AU", 80),
        ("FJ", 40),
        ("CA", 700),
        ("MX", 220),
        ("EG", 60),
        ("NG", 15),
        ("KZ", 30),
        ("IR", 400),
        ("TR", 650),
        ("JP", 500),
        ("LS", 3),
        ("NZ", 9),
        ("CL", 25),
    ];
    let data = MapData::from_countries(&counts);
    let cases: &[(&str, u32, u32, Projection, Theme, bool)] = &[
        (
            "equal-earth-1080",
            1920,
            1080,
            Projection::EqualEarth,
            Theme::Dark,
            true,
        ),
        (
            "equal-earth-light-800",
            800,
            450,
            Projection::EqualEarth,
            Theme::Light,
            false,
        ),
        (
            "mercator-1080",
            1920,
            1080,
            Projection::Mercator,
            Theme::Dark,
            true,
        ),
        (
            "natural-earth-4k",
            3840,
            2160,
            Projection::NaturalEarth,
            Theme::Dark,
            false,
        ),
        (
            "globe-1080",
            1080,
            1080,
            Projection::Orthographic {
                lat0: 45.0,
                lon0: 100.0,
            },
            Theme::Dark,
            true,
        ),
        (
            "globe-south",
            1000,
            1000,
            Projection::Orthographic {
                lat0: -50.0,
                lon0: 170.0,
            },
            Theme::Light,
            false,
        ),
    ];
    for (name, w, h, projection, theme, points) in cases {
        let opts = MapOptions {
            width: *w,
            height: *h,
            projection: *projection,
            theme: *theme,
            points: *points,
            home: Some((50.11, 8.68)),
            title: None,
            top_labels: 5,
        };
        let scene = map::scene(&data, &opts);
        for f in [Format::Png, Format::Svg] {
            let ext = if f == Format::Png { "png" } else { "svg" };
            std::fs::write(format!("{dir}/{name}.{ext}"), encode(&scene, f)).unwrap();
        }
    }
    let empty = map::scene(
        &MapData::default(),
        &MapOptions {
            width: 1280,
            height: 720,
            ..MapOptions::default()
        },
    );
    std::fs::write(format!("{dir}/empty.png"), encode(&empty, Format::Png)).unwrap();
    eprintln!("wrote {dir}");
}
