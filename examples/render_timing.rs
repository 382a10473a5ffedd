//! Times a 1920×1080 PNG map (scene, raster, encode) and the geometry load, in wall
//! time and in this thread's CPU time (`/proc/thread-self/schedstat`), which stays
//! meaningful on a shared, overloaded machine. `cargo run --release --example render_timing`.

use std::time::Instant;

use sshmap::render::map::{self, MapData, MapOptions};
use sshmap::render::projection::Projection;
use sshmap::render::raster;
use sshmap::render::world::{self, Detail};

fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn time<T>(label: &str, n: u32, mut f: impl FnMut() -> T) {
    let _ = f();
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (w0, c0) = (Instant::now(), cpu_ns());
        std::hint::black_box(f());
        cpus.push((cpu_ns() - c0) as f64 / 1e6);
        walls.push(w0.elapsed().as_secs_f64() * 1e3);
    }
    walls.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    println!(
        "{label:<40} wall median {:>7.2} ms (min {:>7.2})   cpu median {:>7.2} ms (min {:>7.2})",
        walls[n as usize / 2],
        walls[0],
        cpus[n as usize / 2],
        cpus[0]
    );
}

fn main() {
    let n = 30;
    time("geometry load 110m", n, || {
        world::decode(world::embedded(Detail::Low))
    });
    time("geometry load 50m", n, || {
        world::decode(world::embedded(Detail::High))
    });
    let codes: Vec<(String, u64)> = world::get(Detail::High)
        .countries
        .iter()
        .enumerate()
        .map(|(i, c)| (c.iso2.clone(), 1 + (i as u64 * 7919) % 50_000))
        .collect();
    let refs: Vec<(&str, u64)> = codes.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    let data = MapData::from_countries(&refs);
    for (name, w, h, projection, points) in [
        (
            "1080p equal-earth",
            1920,
            1080,
            Projection::EqualEarth,
            false,
        ),
        (
            "1080p equal-earth + points",
            1920,
            1080,
            Projection::EqualEarth,
            true,
        ),
        (
            "1080p orthographic",
            1920,
            1080,
            Projection::Orthographic {
                lat0: 30.0,
                lon0: 10.0,
            },
            false,
        ),
        (
            "4K equal-earth (50m)",
            3840,
            2160,
            Projection::EqualEarth,
            false,
        ),
    ] {
        let opts = MapOptions {
            width: w,
            height: h,
            projection,
            points,
            home: Some((48.85, 2.35)),
            ..MapOptions::default()
        };
        let scene = map::scene(&data, &opts);
        let pm = raster::draw(&scene);
        time(&format!("{name}: scene"), n, || map::scene(&data, &opts));
        time(&format!("{name}: raster"), n, || raster::draw(&scene));
        time(&format!("{name}: PNG encode"), n, || {
            let mut v = Vec::with_capacity(1 << 20);
            raster::encode_png(&pm, &mut v).unwrap();
            v
        });
        time(&format!("{name}: total → PNG bytes"), n, || {
            raster::png_bytes(&map::scene(&data, &opts))
        });
        println!(
            "{name}: PNG size {} KB",
            raster::png_bytes(&scene).len() / 1024
        );
    }
}
