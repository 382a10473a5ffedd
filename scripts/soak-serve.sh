#!/usr/bin/env bash
# Soak test of `sshmap serve` under attack (issue #13, BENCHMARKS.md `## Serve under attack`),
# everything on 127.0.0.1, with the load generator `examples/soak_load.rs` in a second process
# (run under `nice`, the server is not):
#
#   - READERS SSE clients that read everything (they reconnect when dropped); MEASURE of
#     them time every event from its send to its arrival,
#   - IDLE SSE clients that never read a byte (replaced every 20 s: they must be dropped),
#   - RATE sshd lines a second, HTTP_SHARE % over POST /api/ingest (a batch every 10 ms on
#     two connections; a line counts as acknowledged once its 200 came back) and the rest
#     over --syslog TCP (RFC 5424),
#   - FLOOD parallel loops of GET /api/events?limit=100000 and GET /, unauthenticated,
#
# for SECS seconds, with the server at its defaults (memory budget BUDGET_MB, SQLite store).
# Then it waits for the server to finish its lines, sends SIGTERM with IDLE non-reading
# clients and the readers connected, and checks:
#   - RSS (sampled every second) stayed under the budget,
#   - no panic on the server's stderr,
#   - every acknowledged HTTP line and every syslog line is in the store exactly once,
#     and nothing else is (each line carries a unique user name),
#   - the offered rate was kept (>= 95 %), the idle clients were dropped,
#   - SIGTERM ended the server within 5 s,
#   - a restart on the store the run filled stays under the budget too (RESTART=0 skips it).
#
#   scripts/soak-serve.sh                                   # 1000 readers, 100 idle, 5000 lines/s, 600 s
#   SECS=60 scripts/soak-serve.sh                           # a shortened run
#   BIN=target/release scripts/soak-serve.sh                # prebuilt sshmap and examples/soak_load, no build
#
# Exit status 0 when every check holds, 1 otherwise. KEEP=1 keeps the work directory
# (store, server stderr, summary.json with one sample a second).
set -euo pipefail
cd "$(dirname "$0")/.."
READERS=${READERS:-1000} IDLE=${IDLE:-100} RATE=${RATE:-5000} SECS=${SECS:-600}
HTTP_SHARE=${HTTP_SHARE:-50} FLOOD=${FLOOD:-8} MEASURE=${MEASURE:-50} BUDGET_MB=${BUDGET_MB:-512}
PORT=${PORT:-18030} SYSLOG_PORT=${SYSLOG_PORT:-18031}
if [ -z "${BIN:-}" ]; then
    cargo build --release --bin sshmap --example soak_load >&2
    BIN=${CARGO_TARGET_DIR:-target}/release
fi
GEN=$BIN/examples/soak_load
[ -x "$GEN" ] || GEN=$BIN/soak_load
WORK=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null; [ -n "${KEEP:-}" ] && echo "kept $WORK" || rm -rf "$WORK"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

TOKEN=soak-token-$RANDOM$RANDOM
printf '%s\n' "$TOKEN" >"$WORK/tokens"
printf '[serve]\nmemory-budget-mb = %s\n' "$BUDGET_MB" >"$WORK/sshmap.toml"
"$BIN/sshmap" serve --config "$WORK/sshmap.toml" --listen "127.0.0.1:$PORT" --syslog "127.0.0.1:$SYSLOG_PORT" \
    --db "$WORK/soak.db" --ingest-token-file "$WORK/tokens" --home 48.85,2.35 2>"$WORK/stderr" &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null || { cat "$WORK/stderr"; echo "serve did not start" >&2; exit 1; }

echo "## serve soak: $READERS readers, $IDLE idle, $RATE lines/s (${HTTP_SHARE}% HTTP), $FLOOD flood loops, ${SECS}s"
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo); $(date -u +%H:%M:%S) UTC; $(uptime | sed 's/.*load/load/')"
echo "binary: $BIN/sshmap ($(git rev-parse --short HEAD 2>/dev/null || echo '?'))"

nice -n 10 "$GEN" run --addr "127.0.0.1:$PORT" --syslog "127.0.0.1:$SYSLOG_PORT" --token "$TOKEN" \
    --pid "$SERVER" --out "$WORK" --readers "$READERS" --idle "$IDLE" --rate "$RATE" \
    --http-share "$HTTP_SHARE" --flood "$FLOOD" --secs "$SECS" --measure "$MEASURE"
# The generator sent SIGTERM and timed the exit; reap the server (or end it).
for _ in $(seq 100); do kill -0 "$SERVER" 2>/dev/null || break; sleep 0.1; done
kill -9 "$SERVER" 2>/dev/null || true
wait "$SERVER" 2>/dev/null || true
SERVER=
echo "after: $(date -u +%H:%M:%S) UTC; $(uptime | sed 's/.*load/load/')"

STATUS=0
"$GEN" check --db "$WORK/soak.db" --out "$WORK" --stderr "$WORK/stderr" --budget-mb "$BUDGET_MB" || STATUS=1
if grep -q panicked "$WORK/stderr"; then grep -m5 -A3 panicked "$WORK/stderr"; fi

# A restart on the store the soak filled: the budget holds while the window is loaded too.
if [ "${RESTART:-1}" = 1 ]; then
    "$BIN/sshmap" -q serve --config "$WORK/sshmap.toml" --listen "127.0.0.1:$PORT" \
        --db "$WORK/soak.db" --home 48.85,2.35 2>"$WORK/stderr2" &
    SERVER=$!
    T0=$EPOCHREALTIME PEAK=0 UP=
    while kill -0 "$SERVER" 2>/dev/null; do
        R=$(awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || true)
        [ "${R:-0}" -gt "$PEAK" ] && PEAK=$R
        if [ -z "$UP" ] && curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
            UP=$(awk "BEGIN {printf \"%.1f\", $EPOCHREALTIME - $T0}"); T1=$EPOCHREALTIME
        fi
        [ -n "$UP" ] && awk "BEGIN {exit !($EPOCHREALTIME - $T1 > 5)}" && break
        [ -z "$UP" ] && awk "BEGIN {exit !($EPOCHREALTIME - $T0 > 300)}" && break
        sleep 0.1
    done
    IDLE_RSS=$(awk '/^VmRSS/ {print int($2/1024)}' "/proc/$SERVER/status" 2>/dev/null || echo '?')
    kill -TERM "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null || true
    SERVER=
    if [ -n "$UP" ] && [ "$PEAK" -lt $((BUDGET_MB * 1024)) ]; then R=PASS; else R=FAIL; STATUS=1; fi
    echo "$R restart on the soak's store: up after ${UP:-(not within 300)} s, RSS peak $((PEAK / 1024)) MiB while loading (budget $BUDGET_MB MiB), $IDLE_RSS MiB 5 s after"
fi
exit $STATUS
