#!/usr/bin/env bash
# Benchmarks `sshmap serve` (BENCHMARKS.md `## Serve`) with the load generator
# `examples/serve_load.rs` in a second process, everything on 127.0.0.1.
#
#   scripts/bench-serve.sh            # LINES=1000000 CLIENTS=1000 RATE=1000 SECS=30
#   BIN=/tmp/old scripts/bench-serve.sh   # prebuilt sshmap and serve_load (e.g. an older commit's), no build
#
# The machine's load average is printed before and after each part: on a shared
# machine it decides the result as much as the code does.
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=${LINES:-1000000} BATCH=${BATCH:-1000} CONNS=${CONNS:-2}
CLIENTS=${CLIENTS:-1000} RATE=${RATE:-1000} SECS=${SECS:-30}
TOKEN=bench-token-0123456789
if [ -n "${BIN:-}" ]; then
    # A cargo target folder (`target/release`, with `examples/serve_load`) or a flat one.
    T=$BIN; G=$BIN/examples/serve_load
    [ -x "$G" ] || G=$BIN/serve_load
else
    cargo build --release --bin sshmap --example serve_load >&2
    T=${CARGO_TARGET_DIR:-target}/release; G=$T/examples/serve_load
fi
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
ulimit -n 65536 || true

serve() { # PORT DB
    "$T/sshmap" -q serve --listen "127.0.0.1:$1" --db "$2" --ingest-token "$TOKEN" --home 48.85,2.35 &
    PIDS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return; sleep 0.1; done
    echo "serve did not start" >&2; exit 1
}

echo "## HTTP ingest into SQLite ($LINES lines, $BATCH per request, $CONNS connections)"
serve 18022 "$WORK/ingest.db"
uptime
"$G" ingest 127.0.0.1:18022 "$TOKEN" "$LINES" "$BATCH" "$CONNS"
grep -E '^sshmap_(events_total\{kind="auth_failure"\}|lines_read_total|store_errors_total)' <(curl -s http://127.0.0.1:18022/metrics)
echo "server RSS after ingest: $(awk '/VmRSS/ {print int($2/1024)" MiB"}' /proc/${PIDS[0]}/status)"
uptime
kill "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

echo "## SSE latency ($CLIENTS clients, $RATE events/s for $SECS s, SQLite store)"
serve 18023 "$WORK/sse.db"
uptime
"$G" sse 127.0.0.1:18023 "$TOKEN" "$CLIENTS" "$RATE" "$SECS" "${PIDS[0]}"
grep -E '^sshmap_(sse_clients|sse_dropped_total)' <(curl -s http://127.0.0.1:18023/metrics)
uptime
