#!/usr/bin/env bash
# Soak test of `sshmap serve` under attack (issue #13, BENCHMARKS.md `## Serve soak`),
# everything on 127.0.0.1:
#
#   - READERS SSE clients that read everything (they reconnect when dropped),
#   - IDLE SSE clients that never read a byte (they must be dropped, not kept),
#   - RATE log lines a second, HTTP_SHARE % over POST /api/ingest (batches of BATCH,
#     each line counted as stored only once its 200 came back) and the rest over
#     --syslog TCP,
#   - FLOOD parallel loops of GET /api/events?limit=100000 and GET /, unauthenticated,
#
# for SECS seconds. It samples the server's RSS and then checks:
#   - RSS stayed under the memory budget (BUDGET_MB, default 512),
#   - no panic on the server's stderr,
#   - every acknowledged HTTP line is in the store exactly once, and syslog lines
#     are stored at most once (syslog has no acknowledgement: stored/sent is reported),
#   - SIGTERM ends the server within 5 s while the idle clients are still connected.
#
#   scripts/soak-serve.sh                                   # 1000 readers, 100 idle, 5000 lines/s, 600 s
#   READERS=100 RATE=500 SECS=60 scripts/soak-serve.sh      # a shortened run
#   BIN=target/debug/sshmap scripts/soak-serve.sh           # a prebuilt binary, no build
#
# Exit status 0 when every check holds, 1 otherwise. The load generator is the
# Python program below (asyncio, standard library only).
set -euo pipefail
cd "$(dirname "$0")/.."
READERS=${READERS:-1000} IDLE=${IDLE:-100} RATE=${RATE:-5000} SECS=${SECS:-600}
HTTP_SHARE=${HTTP_SHARE:-80} BATCH=${BATCH:-100} FLOOD=${FLOOD:-8} BUDGET_MB=${BUDGET_MB:-512}
PORT=${PORT:-18030} SYSLOG_PORT=${SYSLOG_PORT:-18031}
if [ -z "${BIN:-}" ]; then
    cargo build --release --bin sshmap >&2
    BIN=${CARGO_TARGET_DIR:-target}/release/sshmap
fi
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

TOKEN=soak-token-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" >"$WORK/tokens"
printf '[serve]\nmemory-budget-mb = %s\nmax-sse-clients = %s\n' "$BUDGET_MB" $((READERS + IDLE + 500)) >"$WORK/sshmap.toml"
"$BIN" serve --config "$WORK/sshmap.toml" --listen "127.0.0.1:$PORT" --syslog "127.0.0.1:$SYSLOG_PORT" \
    --db "$WORK/soak.db" --ingest-token-file "$WORK/tokens" --home 48.85,2.35 2>"$WORK/stderr" &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/stderr"; echo "serve did not start" >&2; exit 1; }

echo "## serve soak: $READERS readers, $IDLE idle, $RATE lines/s (${HTTP_SHARE}% HTTP), $FLOOD flood loops, ${SECS}s"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo); $(uptime | sed 's/.*load/load/')"
echo "binary: $BIN"

python3 - "$PORT" "$SYSLOG_PORT" "$TOKEN" "$READERS" "$IDLE" "$RATE" "$SECS" "$HTTP_SHARE" "$BATCH" "$FLOOD" "$SERVER" "$WORK" <<'PY'
import asyncio, json, os, sys, time, random

port, sport, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
readers, idle, rate, secs = map(int, sys.argv[4:8])
http_share, batch, flood, pid = int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10]), int(sys.argv[11])
work = sys.argv[12]
HOST = "127.0.0.1"
st = {"read_bytes": 0, "read_events": 0, "reader_reconnects": 0, "reader_refused": 0,
      "http_sent": 0, "http_acked": 0, "http_429": 0, "http_other": 0,
      "syslog_sent": 0, "flood": {}, "rss_max_kib": 0, "rss_samples": []}
acked = []          # markers of acknowledged HTTP lines
syslog_sent = []    # markers sent over syslog
end = time.monotonic() + secs

def stamp():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06d+00:00" % int((t % 1) * 1e6)

def line(marker, n):
    return "%s soak1 sshd[%d]: Failed password for invalid user %s from 203.0.%d.%d port %d ssh2" % (
        stamp(), 10000 + n % 50000, marker, (n >> 8) % 256, n % 250 + 1, 1024 + n % 60000)

async def request(method, path, headers=(), body=b"", reader_limit=None):
    r, w = await asyncio.open_connection(HOST, port)
    try:
        h = "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n" % (method, path, len(body))
        for k, v in headers:
            h += "%s: %s\r\n" % (k, v)
        w.write(h.encode() + b"\r\n" + body)
        await w.drain()
        status = (await r.readline()).split(b" ")[1].decode()
        n = 0
        while True:
            chunk = await r.read(1 << 16)
            if not chunk:
                break
            n += len(chunk)
        return status, n
    finally:
        w.close()

async def reader(i):
    await asyncio.sleep(random.random() * 5)
    while time.monotonic() < end:
        try:
            r, w = await asyncio.open_connection(HOST, port)
            w.write(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
            await w.drain()
            head = await r.readline()
            if b" 200 " not in head:
                st["reader_refused"] += 1
                w.close()
                await asyncio.sleep(1)
                continue
            while time.monotonic() < end:
                try:
                    chunk = await asyncio.wait_for(r.read(1 << 16), timeout=max(0.1, end - time.monotonic()))
                except asyncio.TimeoutError:
                    break
                if not chunk:
                    break
                st["read_bytes"] += len(chunk)
                st["read_events"] += chunk.count(b"event: event")
            w.close()
            if time.monotonic() < end:
                st["reader_reconnects"] += 1
        except OSError:
            st["reader_refused"] += 1
            await asyncio.sleep(1)

async def idle_clients():
    conns = []
    for _ in range(idle):
        r, w = await asyncio.open_connection(HOST, port)
        # Never read: the transport must not read for us either.
        w.transport.pause_reading()
        w.write(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
        conns.append(w)
    await asyncio.sleep(secs + 30)

async def http_ingest(conn_no, per_sec):
    seq = 0
    interval = batch / per_sec if per_sec else 1e9
    nxt = time.monotonic()
    r, w = await asyncio.open_connection(HOST, port)
    while time.monotonic() < end:
        markers = ["soakh%d_%d" % (conn_no, seq + k) for k in range(batch)]
        body = "\n".join(line(m, seq + k) for k, m in enumerate(markers)).encode()
        seq += batch
        h = ("POST /api/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: text/plain\r\n"
             "Content-Length: %d\r\n\r\n" % (token, len(body))).encode()
        try:
            w.write(h + body)
            await w.drain()
            status_line = await r.readline()
            length = 0
            while True:
                l = await r.readline()
                if l in (b"\r\n", b""):
                    break
                if l.lower().startswith(b"content-length:"):
                    length = int(l.split(b":")[1])
            if length:
                await r.readexactly(length)
            status = status_line.split(b" ")[1]
        except (OSError, asyncio.IncompleteReadError, IndexError):
            w.close()
            r, w = await asyncio.open_connection(HOST, port)
            st["http_other"] += 1
            continue
        st["http_sent"] += batch
        if status == b"200":
            st["http_acked"] += batch
            acked.extend(markers)
        elif status == b"429":
            st["http_429"] += 1
        else:
            st["http_other"] += 1
        nxt += interval
        await asyncio.sleep(max(0, nxt - time.monotonic()))
    w.close()

async def syslog_tcp(per_sec):
    r, w = await asyncio.open_connection(HOST, sport)
    seq = 0
    tick = 0.02
    nxt = time.monotonic()
    while time.monotonic() < end:
        n = max(1, int(per_sec * tick))
        out = []
        for _ in range(n):
            m = "soaks%d" % seq
            out.append("<38>" + line(m, seq) + "\n")
            syslog_sent.append(m)
            seq += 1
        w.write("".join(out).encode())
        await w.drain()
        st["syslog_sent"] += n
        nxt += tick
        await asyncio.sleep(max(0, nxt - time.monotonic()))
    w.close()

async def flooder(i):
    path = "/api/events?limit=100000" if i % 2 == 0 else "/"
    while time.monotonic() < end:
        try:
            status, _ = await request("GET", path)
        except (OSError, IndexError):
            status = "error"
        k = "%s %s" % (path.split("?")[0], status)
        st["flood"][k] = st["flood"].get(k, 0) + 1

async def sampler():
    while time.monotonic() < end + 3:
        try:
            with open("/proc/%d/status" % pid) as f:
                rss = int([l for l in f if l.startswith("VmRSS:")][0].split()[1])
            st["rss_max_kib"] = max(st["rss_max_kib"], rss)
            st["rss_samples"].append(rss)
        except (OSError, IndexError):
            pass
        await asyncio.sleep(0.25)

async def main():
    http_rate = rate * http_share / 100
    conns = max(1, int(http_rate // 2000) + 1)
    tasks = [asyncio.create_task(sampler()), asyncio.create_task(idle_clients())]
    tasks += [asyncio.create_task(reader(i)) for i in range(readers)]
    tasks += [asyncio.create_task(http_ingest(c, http_rate / conns)) for c in range(conns)]
    if rate - http_rate > 0:
        tasks.append(asyncio.create_task(syslog_tcp(rate - http_rate)))
    tasks += [asyncio.create_task(flooder(i)) for i in range(flood)]
    await asyncio.sleep(secs + 2)
    st["rss_end_kib"] = st["rss_samples"][-1] if st["rss_samples"] else 0
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

asyncio.run(main())
samples = st.pop("rss_samples")
st["rss_median_kib"] = sorted(samples)[len(samples) // 2] if samples else 0
with open(os.path.join(work, "acked"), "w") as f:
    f.write("\n".join(acked) + "\n")
with open(os.path.join(work, "syslog_sent"), "w") as f:
    f.write("\n".join(syslog_sent) + "\n")
with open(os.path.join(work, "load.json"), "w") as f:
    json.dump(st, f)
print("load:", json.dumps(st))
PY

curl -s "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics"
grep -E '^sshmap_(resident_memory_bytes|sse_clients|sse_clients_by_state|sse_dropped_total|write_timeouts_total|refused_total|connections|lines_read_total|store_errors_total|syslog_dropped_total)' "$WORK/metrics" || true
# SIGTERM while the idle clients are still connected (the generator's are gone: reconnect some).
python3 - "$PORT" "$IDLE" <<'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /api/stream HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
time.sleep(30)
PY
HOLDER=$!
sleep 2
t0=$EPOCHREALTIME
kill -TERM "$SERVER"
for _ in $(seq 200); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.05; done
t1=$EPOCHREALTIME
if kill -0 "$SERVER" 2>/dev/null; then EXIT_S=timeout; kill -9 "$SERVER"; else EXIT_S=$(awk "BEGIN {printf \"%.2f\", $t1 - $t0}"); fi
wait "$SERVER" 2>/dev/null || true
SERVER=
kill "$HOLDER" 2>/dev/null || true

# What the store holds, per marker.
"$BIN" -q parse --db "$WORK/soak.db" --format jsonl \
    | python3 -c '
import json, sys, collections
c = collections.Counter()
for l in sys.stdin:
    u = json.loads(l).get("user") or ""
    if u.startswith("soak"):
        c[u] += 1
acked = [m for m in open(sys.argv[1]).read().split() if m]
sent = [m for m in open(sys.argv[2]).read().split() if m]
missing = sum(1 for m in acked if c[m] == 0)
dup = sum(1 for m, n in c.items() if n > 1)
syslog_stored = sum(1 for m in sent if c[m] >= 1)
print("store: %d acknowledged HTTP lines, %d missing, %d stored more than once; syslog %d/%d sent lines stored"
      % (len(acked), missing, dup, syslog_stored, len(sent)))
open(sys.argv[3], "w").write(json.dumps({"acked": len(acked), "missing": missing, "dup": dup,
                                         "syslog_stored": syslog_stored, "syslog_sent": len(sent)}))
' "$WORK/acked" "$WORK/syslog_sent" "$WORK/store.json"

python3 - "$WORK" "$BUDGET_MB" "$EXIT_S" "$IDLE" "$READERS" <<'PY'
import json, sys
work, budget, exit_s, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
load = json.load(open(work + "/load.json"))
store = json.load(open(work + "/store.json"))
stderr = open(work + "/stderr", errors="replace").read()
metrics = open(work + "/metrics").read()
def metric(name):
    for l in metrics.splitlines():
        if l.startswith(name + " "):
            return float(l.split()[-1])
    return -1
# What each client was sent: under ~8 MB it all fits in the kernel's socket
# buffers, writes never stall, and an idle client need not be dropped.
per_client = load["read_bytes"] / max(1, int(sys.argv[5]))
checks = [
    ("RSS peak %d MiB (median %d MiB, at the end %d MiB) under the %d MiB budget"
     % (load["rss_max_kib"] // 1024, load["rss_median_kib"] // 1024, load["rss_end_kib"] // 1024, budget),
     load["rss_max_kib"] < budget * 1024),
    ("no panic on stderr", "panicked" not in stderr),
    ("every acknowledged HTTP line stored exactly once (%d lines)" % store["acked"],
     store["acked"] > 0 and store["missing"] == 0 and store["dup"] == 0),
    ("idle SSE clients dropped: sse_dropped_total %d >= %d" % (metric("sshmap_sse_dropped_total"), idle),
     metric("sshmap_sse_dropped_total") >= idle or per_client < 8e6),
    ("SIGTERM to exit %s s (< 5 s)" % exit_s, exit_s != "timeout" and float(exit_s) < 5),
]
print("readers: %d events and %.1f MB read (%.1f MB per reader), %d reconnects, %d refused"
      % (load["read_events"], load["read_bytes"] / 1e6, per_client / 1e6, load["reader_reconnects"], load["reader_refused"]))
if per_client < 8e6:
    print("note: each client was sent under 8 MB, which the socket buffers hold: idle clients were not forced to stall")
print("ingest: HTTP %d lines sent, %d acknowledged, %d answers 429, %d other; syslog %d lines sent"
      % (load["http_sent"], load["http_acked"], load["http_429"], load["http_other"], load["syslog_sent"]))
print("flood:", ", ".join("%s: %d" % kv for kv in sorted(load["flood"].items())))
ok = True
for text, good in checks:
    print(("PASS " if good else "FAIL ") + text)
    ok &= good
sys.exit(0 if ok else 1)
PY
