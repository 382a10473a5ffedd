#!/usr/bin/env python3
"""The per-frame matplotlib approach to the timelapse, measured for BENCHMARKS.md.

This is how the best-known SSH attack timelapse was made: a geopandas choropleth
drawn with matplotlib, one PNG per minute, then ffmpeg. It draws the same frames
as `sshmap timelapse` (Equal Earth, per-country exponential fade with a
half-life of 5 bins, hot colour ramp on a log scale, clock and counter), on a
sample of frames, and extrapolates to the whole day.

Geometry comes from sshmap's own `assets/world/countries-110m.bin` (Natural
Earth, decoded here; see scripts/build-world.py for the format), so nothing is
downloaded. Events come from `sshmap parse --format csv` (the parse is timed
separately: it is not what this benchmark compares).

    scripts/bench-matplotlib-timelapse.py [--log bench-data/auth-1m.log]
        [--sshmap target/release/sshmap] [--frames 60] [--start 600] [--out DIR]

Needs: pip install matplotlib geopandas (pulls shapely, pyproj, numpy), and ffmpeg.
Prints the measured times and the extrapolation for all frames as JSON.
"""

import argparse
import collections
import csv
import io
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import geopandas as gpd  # noqa: E402
from shapely.geometry import MultiPolygon, Polygon  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HALF_LIFE = 5.0  # bins, as sshmap's default --fade
RAMP = ["#4a0808", "#a3120f", "#e6361a", "#ff8a00", "#ffd23f", "#fff8e1"]  # sshmap's dark theme ramp
LAND, OCEAN, BACKGROUND = "#23272e", "#070b12", "#000000"


def read_world(path):
    """Decodes countries-*.bin: {iso2: [ring, ...]} with rings as lists of (lon, lat)."""
    data = open(path, "rb").read()
    assert data[:8] == b"SSHMAPW1"
    pos = 8

    def varint():
        nonlocal pos
        v, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            v |= (b & 0x7F) << shift
            if b < 0x80:
                return v
            shift += 7

    (n,) = struct.unpack_from("<H", data, pos)
    pos += 2
    world = {}
    for _ in range(n):
        iso = data[pos:pos + 2].decode()
        (nrings,) = struct.unpack_from("<H", data, pos + 2)
        pos += 4
        rings = []
        for _ in range(nrings):
            npts = varint()
            x = y = 0
            ring = []
            for _ in range(npts):
                dx, dy = varint(), varint()
                x += (dx >> 1) ^ -(dx & 1)
                y += (dy >> 1) ^ -(dy & 1)
                ring.append((x * 360.0 / 65535.0 - 180.0, y * 180.0 / 65535.0 - 90.0))
            rings.append(ring)
        world[iso] = rings
    return world


def per_minute(sshmap, log):
    """{minute index since the first event: Counter(country -> attempts)}, first minute label."""
    proc = subprocess.Popen([sshmap, "-q", "--tz", "UTC", "parse", "--format", "csv", log],
                            stdout=subprocess.PIPE, text=True)
    bins = collections.defaultdict(collections.Counter)
    first = None
    for row in csv.DictReader(proc.stdout):
        attempts = int(row["attempts"] or 0)
        if attempts == 0 or not row["country"]:
            continue
        ts = row["ts"]
        minute = int(ts[11:13]) * 60 + int(ts[14:16]) + 1440 * int(ts[8:10])
        bins[minute][row["country"]] += attempts
        first = minute if first is None else min(first, minute)
    proc.wait()
    last = max(bins)
    return {m - first: bins[m] for m in bins}, last - first + 1


def ramp(t):
    """sshmap's log-scale ramp colour at t in [0, 1], as an RGB tuple."""
    stops = [matplotlib.colors.to_rgb(c) for c in RAMP]
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    f = t - i
    return tuple(a + (b - a) * f for a, b in zip(stops[i], stops[i + 1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", default=os.path.join(ROOT, "bench-data", "auth-1m.log"))
    ap.add_argument("--sshmap", default=os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "sshmap"))
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--start", type=int, default=600, help="first sampled minute (fade state is computed from 0)")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="mpl-timelapse-")
    os.makedirs(out, exist_ok=True)

    t0 = time.perf_counter()
    bins, total_frames = per_minute(args.sshmap, args.log)
    t_parse = time.perf_counter() - t0

    t0 = time.perf_counter()
    world = read_world(os.path.join(ROOT, "assets", "world", "countries-110m.bin"))
    isos = sorted(world)
    geoms = [MultiPolygon([Polygon(r) for r in world[i] if len(r) >= 4]) for i in isos]
    gdf = gpd.GeoDataFrame({"iso": isos}, geometry=geoms, crs="EPSG:4326").to_crs("EPSG:8857")  # Equal Earth
    index = {iso: k for k, iso in enumerate(isos)}
    t_geo = time.perf_counter() - t0

    # Fade state up to the sample, then the peak intensity (the colour scale), as sshmap does.
    decay = 0.5 ** (1.0 / HALF_LIFE)
    level = np.zeros(len(isos))
    states = {}
    peak = 0.0
    total = 0
    end = min(args.start + args.frames, total_frames)
    for m in range(total_frames):
        level *= decay
        for c, n in bins.get(m, {}).items():
            if c in index:
                level[index[c]] += n
            total += n
        peak = max(peak, level.max())
        if args.start <= m < end:
            states[m] = (level.copy(), total)

    t0 = time.perf_counter()
    for k, m in enumerate(range(args.start, end)):
        level, count = states[m]
        colors = []
        land = matplotlib.colors.to_rgb(LAND)
        for v in level:
            if v <= 0:
                colors.append(land)
                continue
            heat = math.log1p(v) / math.log1p(peak)
            presence = min(v, 1.0)
            colors.append(tuple(a + (b - a) * presence for a, b in zip(land, ramp(heat))))
        # One figure per frame, as the per-PNG approach does.
        fig = plt.figure(figsize=(12.8, 7.2), dpi=100, facecolor=BACKGROUND)
        ax = fig.add_axes([0.01, 0.08, 0.98, 0.84])
        ax.set_facecolor(BACKGROUND)
        ax.set_axis_off()
        gdf.plot(ax=ax, color=colors, edgecolor=BACKGROUND, linewidth=0.4)
        ax.set_aspect("equal")
        fig.text(0.015, 0.93, f"{m // 60:02d}:{m % 60:02d}", color="white", fontsize=28)
        fig.text(0.985, 0.93, f"{count:,}", color="white", fontsize=22, ha="right")
        fig.savefig(os.path.join(out, f"frame_{k:05d}.png"), facecolor=BACKGROUND)
        plt.close(fig)
    t_render = time.perf_counter() - t0
    n = end - args.start

    t0 = time.perf_counter()
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-framerate", "15", "-i", os.path.join(out, "frame_%05d.png"),
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", os.path.join(out, "sample.mp4")], check=True)
    t_ffmpeg = time.perf_counter() - t0

    scale = total_frames / n
    result = {
        "frames_sampled": n,
        "frames_total": total_frames,
        "parse_s": round(t_parse, 2),
        "geometry_s": round(t_geo, 2),
        "render_s": round(t_render, 2),
        "render_ms_per_frame": round(1000 * t_render / n, 1),
        "ffmpeg_s": round(t_ffmpeg, 2),
        "extrapolated_render_plus_ffmpeg_s": round((t_render + t_ffmpeg) * scale, 1),
        "extrapolated_total_s": round(t_parse + t_geo + (t_render + t_ffmpeg) * scale, 1),
        "png_bytes_per_frame": sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".png")) // n,
        "out": out,
    }
    json.dump(result, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
