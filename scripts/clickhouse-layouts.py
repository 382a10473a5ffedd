#!/usr/bin/env python3
"""The two ClickHouse layouts side by side on one engine (docs/clickhouse.md, Versions).

    python3 scripts/clickhouse-layouts.py CHDB_PYTHON SSHMAP COPIES

Starts scripts/chdb-http.py (CHDB_PYTHON: a Python with PyPI's chdb-core) in
a temp dir, creates database `legacy` with the 18.16 DDL (read from
src/store/clickhouse.rs) and lets sshmap create `modern` itself, ingests the
sample log repeated COPIES times (pids shifted, as the tests' big_log) into
both, merges every table (OPTIMIZE … FINAL) and prints rows and bytes per
table, and whether `stats --json` is the same from both and from the log.
"""

import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ddl_18_16():
    src = (ROOT / "src/store/clickhouse.rs").read_text()
    out = []
    for name in ("CORE_DDL", "DATA_DDL"):
        a = src.index(f"const {name}: &[&str] = &[")
        b = src.index("\n];", a)
        for s in re.findall(r'"((?:[^"\\]|\\.)*)"', src[a:b], re.S):
            if not s.startswith("CREATE"):
                continue
            s = s.replace("{ev}", "events").replace("{rm}", "rollup_minute").replace("{rh}", "rollup_hour_ip")
            s = s.replace("IF NOT EXISTS ", "IF NOT EXISTS legacy.").replace(" TO rollup", " TO legacy.rollup")
            out.append(s.replace("FROM events", "FROM legacy.events"))
    return out


def main():
    python, sshmap, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tmp = Path(tempfile.mkdtemp(prefix="ch-layouts-"))
    log = tmp / "auth.log"
    text = (ROOT / "tests/fixtures/sample/auth.log").read_text()
    with open(log, "w") as out:
        for k in range(copies):
            for line in text.splitlines(True):
                i, j = line.find("sshd["), line.find("]:")
                if i >= 0 and j >= 0 and i + 5 < j and line[i + 5:j].isdigit():
                    line = line[: i + 5] + str(int(line[i + 5:j]) + 1000 * k) + line[j:]
                out.write(line)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([python, str(ROOT / "scripts/chdb-http.py"), str(port), str(tmp / "data")])
    try:
        url = f"http://127.0.0.1:{port}/"

        def q(sql):
            return urllib.request.urlopen(urllib.request.Request(url, data=sql.encode())).read().decode()

        for _ in range(600):
            try:
                urllib.request.urlopen(url + "ping").read()
                break
            except OSError:
                time.sleep(0.1)
        q("CREATE DATABASE legacy")
        for s in ddl_18_16():
            q(s)
        stats = []
        for db in ("legacy", "modern"):
            t = time.monotonic()
            subprocess.run([sshmap, "ingest", "--tz", "UTC", "--quiet", "--db", f"clickhouse://127.0.0.1:{port}/{db}", str(log)], check=True)
            print(f"{db}: ingest {time.monotonic() - t:.1f} s")
            for t in ("events", "rollup_minute", "rollup_hour_ip", "sessions"):
                q(f"OPTIMIZE TABLE {db}.{t} FINAL")
            stats.append(subprocess.run([sshmap, "stats", "--tz", "UTC", "--json", "--db", f"clickhouse://127.0.0.1:{port}/{db}"], check=True, capture_output=True).stdout)
        stats.append(subprocess.run([sshmap, "stats", "--tz", "UTC", "--json", str(log)], check=True, capture_output=True).stdout)
        print(q("SELECT table, database, sum(rows) AS rows, sum(bytes_on_disk) AS disk, "
                "round(disk / rows, 1) AS disk_per_row, sum(data_uncompressed_bytes) AS uncompressed "
                "FROM system.parts WHERE active AND database IN ('legacy', 'modern') "
                "GROUP BY table, database ORDER BY table, database FORMAT PrettyCompactMonoBlock"))
        print("stats --json: legacy == modern == log:", stats[0] == stats[1] == stats[2])
    finally:
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
