#!/usr/bin/env bash
# Times `sshmap stats --json` against grep on the same generated auth.log.
#
# Usage: scripts/bench.sh [LOG]     (default bench-data/auth-1m.log, generated if missing)
#   RUNS=5 (timed runs per command)
#
# Builds release, then in one run: hyperfine (or bash `time`, median of RUNS)
# over sshmap stats, `grep -c -F 'sshd['` and a grep | sort | uniq -c
# pipeline; prints the median wall times, the ratio sshmap / grep -c and the
# peak RSS of each command (GNU time -v). Target: ratio <= 2.
set -euo pipefail
cd "$(dirname "$0")/.."

LOG=${1:-bench-data/auth-1m.log}
RUNS=${RUNS:-5}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release --quiet
BIN="$TARGET/release/sshmap"
[ -x "$BIN" ] || { echo "no $BIN" >&2; exit 2; }
[ -s "$LOG" ] || python3 scripts/gen-bench-log.py "$LOG"
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 2; }

export LC_ALL=C   # grep's fast path; also what most people's cron jobs run with
# Output goes to a file, not /dev/null: GNU grep notices /dev/null and stops
# at the first match, which would time nothing.
SINK=$(mktemp)
trap 'rm -f "$SINK"' EXIT
names=(sshmap-stats grep-c grep-pipeline)
cmds=(
    "$BIN stats --json $LOG > $SINK"
    "grep -c -F 'sshd[' $LOG > $SINK"
    "grep 'Failed password for' $LOG | grep -oE '[0-9]{1,3}(\\.[0-9]{1,3}){3}' | sort | uniq -c > $SINK"
)

echo "== machine"
echo "nproc: $(nproc)"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "sshmap: $("$BIN" --version 2>/dev/null || echo "?") ($(git rev-parse --short HEAD 2>/dev/null || echo "?"))"
echo "input: $LOG, $(wc -l < "$LOG") lines, $(stat -c %s "$LOG") bytes"
cat "$LOG" > /dev/null   # page cache warm for every command alike

declare -A median cpu
echo "== wall time (median of $RUNS runs)"
if command -v hyperfine >/dev/null; then
    json=$(mktemp)
    args=()
    for i in "${!names[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
    hyperfine --style basic --warmup 1 --runs "$RUNS" --export-json "$json" "${args[@]}"
    for i in "${!names[@]}"; do
        median[${names[$i]}]=$(jq -r --arg n "${names[$i]}" '.results[] | select(.command == $n) | .median' "$json")
        cpu[${names[$i]}]=$(jq -r --arg n "${names[$i]}" '.results[] | select(.command == $n) | .user + .system' "$json")
    done
    rm -f "$json"
else
    for i in "${!names[@]}"; do
        ts=()
        for _ in $(seq "$RUNS"); do
            s=$(date +%s.%N); bash -c "${cmds[$i]}"; e=$(date +%s.%N)
            ts+=("$(awk -v s="$s" -v e="$e" 'BEGIN {print e - s}')")
        done
        median[${names[$i]}]=$(printf '%s\n' "${ts[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    done
fi
for n in "${names[@]}"; do
    printf '%-14s %8.3f s wall' "$n" "${median[$n]}"
    [ -n "${cpu[$n]:-}" ] && printf '   %8.3f s CPU (user+sys, mean)' "${cpu[$n]}"
    echo
done
div() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "ratio sshmap-stats / grep-c = $(div "${median[sshmap-stats]}" "${median[grep-c]}") (target <= 2)"
[ -n "${cpu[grep-c]:-}" ] && echo "CPU-time ratio sshmap-stats / grep-c = $(div "${cpu[sshmap-stats]}" "${cpu[grep-c]}")"
echo "ratio sshmap-stats / grep-pipeline = $(div "${median[sshmap-stats]}" "${median[grep-pipeline]}")"

echo "== what each command found"
echo "grep -c: $(grep -c -F 'sshd[' "$LOG") lines"
"$BIN" stats --json "$LOG" | jq -c '{events, attempts, unique_ips, lines: .inputs[0].lines, skipped: .inputs[0].skipped}' || true

echo "== peak RSS (GNU time -v, one run each)"
for i in "${!names[@]}"; do
    out=$( { /usr/bin/time -v bash -c "${cmds[$i]}" ; } 2>&1 )
    rss=$(echo "$out" | awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}')
    wall=$(echo "$out" | awk -F': ' '/Elapsed \(wall clock\)/ {print $2}')
    cpu=$(echo "$out" | awk -F': ' '/Percent of CPU/ {print $2}')
    printf '%-14s %8s KiB   wall %s   CPU %s\n' "${names[$i]}" "$rss" "$wall" "$cpu"
done
