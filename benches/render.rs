//! Map rendering: geometry load, scene, raster, PNG encode, at 1080p (110m) and 4K (50m).

use criterion::{criterion_group, criterion_main, Criterion};
use sshmap::render::map::{self, MapData, MapOptions};
use sshmap::render::projection::Projection;
use sshmap::render::world::{self, Detail};
use sshmap::render::{raster, svg};

fn data() -> MapData {
    // Every country attacks, so every country gets a ramp colour and a point.
    let codes: Vec<(String, u64)> = world::get(Detail::High)
        .countries
        .iter()
        .enumerate()
        .map(|(i, c)| (c.iso2.clone(), 1 + (i as u64 * 7919) % 50_000))
        .collect();
    let refs: Vec<(&str, u64)> = codes.iter().map(|(c, n)| (c.as_str(), *n)).collect();
    MapData::from_countries(&refs)
}

fn bench(c: &mut Criterion) {
    c.bench_function("geometry_load_110m", |b| {
        b.iter(|| world::decode(world::embedded(Detail::Low)).unwrap())
    });
    c.bench_function("geometry_load_50m", |b| {
        b.iter(|| world::decode(world::embedded(Detail::High)).unwrap())
    });
    let data = data();
    for (name, w, h, projection, points) in [
        (
            "1080p_equal_earth",
            1920,
            1080,
            Projection::EqualEarth,
            false,
        ),
        (
            "1080p_equal_earth_points",
            1920,
            1080,
            Projection::EqualEarth,
            true,
        ),
        (
            "1080p_globe",
            1920,
            1080,
            Projection::Orthographic {
                lat0: 30.0,
                lon0: 10.0,
            },
            false,
        ),
        (
            "4k_equal_earth_50m",
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
        c.bench_function(&format!("{name}_scene"), |b| {
            b.iter(|| map::scene(&data, &opts))
        });
        c.bench_function(&format!("{name}_draw"), |b| b.iter(|| raster::draw(&scene)));
        c.bench_function(&format!("{name}_png_encode"), |b| {
            b.iter(|| {
                let mut out = Vec::with_capacity(1 << 20);
                raster::encode_png(&pm, &mut out).unwrap();
                out
            })
        });
        c.bench_function(&format!("{name}_total_png"), |b| {
            b.iter(|| raster::png_bytes(&map::scene(&data, &opts)))
        });
        c.bench_function(&format!("{name}_total_svg"), |b| {
            b.iter(|| svg::render(&map::scene(&data, &opts)))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
