#!/usr/bin/env python3
"""Measures what GeoIP enrichment adds to `sshmap stats --json`.

Runs `sshmap stats --json LOG` with the embedded database and with `--geoip none`,
interleaved (A B A B …, so a change of machine load hits both alike), and prints
min and median wall and CPU (user+sys) time of each and their ratios.

    scripts/bench-geoip.py [LOG] [--runs N] [--bin PATH]

Defaults: LOG=bench-data/auth-1m.log (scripts/gen-bench-log.py), N=10,
BIN=$CARGO_TARGET_DIR/release/sshmap (or target/release/sshmap). Build first:
cargo build --release. The data directory is pointed at an empty folder so a
database downloaded by `sshmap geoip update` does not change what is measured.
"""

import argparse
import os
import resource
import statistics
import subprocess
import tempfile
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("log", nargs="?", default="bench-data/auth-1m.log")
    ap.add_argument("--runs", type=int, default=10)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap.add_argument("--bin", default=os.path.join(target, "release", "sshmap"))
    a = ap.parse_args()
    empty = tempfile.mkdtemp(prefix="sshmap-bench-data-")
    env = dict(os.environ, SSHMAP_DATA_DIR=empty, LC_ALL="C")
    modes = {"embedded": [], "--geoip none": ["--geoip", "none"]}
    res = {m: {"wall": [], "cpu": []} for m in modes}
    with open(a.log, "rb") as f:  # into the page cache
        while f.read(1 << 24):
            pass
    for _ in range(a.runs):
        for m, extra in modes.items():
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            subprocess.run([a.bin, *extra, "-q", "stats", "--json", a.log], env=env,
                           stdout=subprocess.DEVNULL, check=True)
            t1 = time.perf_counter()
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            res[m]["wall"].append(t1 - t0)
            res[m]["cpu"].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    print(f"nproc {os.cpu_count()}, load {open('/proc/loadavg').read().split()[:3]}, runs {a.runs}")
    for m in modes:
        w, c = res[m]["wall"], res[m]["cpu"]
        print(f"{m:13s} wall min {min(w):.3f} s, median {statistics.median(w):.3f} s | "
              f"cpu min {min(c):.3f} s, median {statistics.median(c):.3f} s")
    for k in ("wall", "cpu"):
        x, y = res["embedded"][k], res["--geoip none"][k]
        print(f"ratio {k}: min/min {min(x) / min(y):.3f}, median/median {statistics.median(x) / statistics.median(y):.3f}")


if __name__ == "__main__":
    main()
