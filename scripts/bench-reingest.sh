#!/bin/bash
# Re-ingest benchmark (BENCHMARKS.md, "Re-ingest after an append"): a 1M- and a
# 4M-line log ingested into SQLite, 10 lines appended, ingested again — the cost
# of the second run must follow what was appended, not the file's size.
# Optionally the same with a second binary (the code before the one-flow
# redesign) in the same round, for the ratio.
#
#     cargo build --release --bin sshmap
#     scripts/bench-reingest.sh [NEW_BIN] [OLD_BIN]   # defaults: target/release/sshmap, none
#
# Logs come from scripts/gen-bench-log.py (deterministic), in $D (default /tmp/reingest-bench).
set -eu
NEW=${1:-${CARGO_TARGET_DIR:-target}/release/sshmap}
OLD=${2:-}
D=${D:-/tmp/reingest-bench}
FMT='wall %e s, user %U s, max RSS %M kB'
mkdir -p "$D"
[ -f "$D/auth-1m.log" ] || python3 scripts/gen-bench-log.py "$D/auth-1m.log" --lines 1000000 2>/dev/null
[ -f "$D/auth-4m.log" ] || python3 scripts/gen-bench-log.py "$D/auth-4m.log" --lines 4000000 2>/dev/null
[ -f "$D/extra.log" ] || python3 scripts/gen-bench-log.py "$D/extra.log" --lines 1000 --seed 7 2>/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in 1m 4m; do
  for bin in $NEW $OLD; do
    w="$D/work"
    rm -rf "$w"; mkdir -p "$w"
    cp "$D/auth-$n.log" "$w/auth.log"
    /usr/bin/time -f "$FMT" -o "$w/t1" "$bin" --tz UTC -q ingest --db "$w/s.db" "$w/auth.log"
    head -n 10 "$D/extra.log" >> "$w/auth.log"
    /usr/bin/time -f "$FMT" -o "$w/t2" "$bin" --tz UTC -v ingest --db "$w/s.db" "$w/auth.log" 2> "$w/err" || true
    read_line=$(grep -o 'new bytes read.*' "$w/err" || true)
    echo "$n $bin: full ingest: $(cat "$w/t1")"
    echo "$n $bin: after +10 lines: $(tail -n 1 "$w/t2") ${read_line}"
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
