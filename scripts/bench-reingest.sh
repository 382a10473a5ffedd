#!/bin/bash
# Re-ingest benchmark (BENCHMARKS.md, "One flow"): a 1M- and a 4M-line log (one
# day each: the 4M one is four times denser) ingested into SQLite, 10 lines
# appended, ingested again — the cost of the second run must follow what was
# appended, not the file's size or density. The 10 lines are appended twice,
# each time onto the same first ingest: dated after the log's last line (what
# a growing log gets), and dated back to the log's first minutes (out of order:
# they can continue any connection of the day with the same pid).
# Optionally the same with a second binary in the same round, for the ratio.
#
#     cargo build --release --bin sshmap
#     scripts/bench-reingest.sh [NEW_BIN] [OLD_BIN]   # defaults: target/release/sshmap, none
#
# Logs come from scripts/gen-bench-log.py (deterministic), in $D (default /tmp/reingest-bench).
set -eu
NEW=${1:-${CARGO_TARGET_DIR:-target}/release/sshmap}
OLD=${2:-}
D=${D:-/tmp/reingest-bench}
SIZES=${SIZES:-1m 4m}
FMT='wall %e s, user %U s, max RSS %M kB'
mkdir -p "$D"
[ -f "$D/auth-1m.log" ] || python3 scripts/gen-bench-log.py "$D/auth-1m.log" --lines 1000000 2>/dev/null
[ -f "$D/auth-4m.log" ] || python3 scripts/gen-bench-log.py "$D/auth-4m.log" --lines 4000000 2>/dev/null
[ -f "$D/extra.log" ] || python3 scripts/gen-bench-log.py "$D/extra.log" --lines 1000 --seed 7 2>/dev/null
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $SIZES; do
  log="$D/auth-$n.log"
  # The day after the log's last line, in its own format ("Nov 23", "Dec  1").
  next=$(date -u -d "$(tail -n 1 "$log" | cut -c1-6) 2026 + 1 day" '+%b %e')
  for bin in $NEW $OLD; do
    w="$D/work"
    rm -rf "$w"; mkdir -p "$w"
    cp "$log" "$w/auth.log"
    size=$(stat -c %s "$w/auth.log")
    /usr/bin/time -f "$FMT" -o "$w/t1" "$bin" --tz UTC -q ingest --db "$w/s.db" "$w/auth.log"
    echo "$n $bin: full ingest: $(cat "$w/t1")"
    [ ! -s "$w/s.db-wal" ] || { echo "a WAL was left after the ingest" >&2; exit 1; }
    cp "$w/s.db" "$w/first.db"
    for when in later back; do
      cp "$w/first.db" "$w/s.db"; rm -f "$w/s.db-wal" "$w/s.db-shm"
      truncate -s "$size" "$w/auth.log"
      if [ "$when" = later ]; then
        head -n 10 "$D/extra.log" | sed "s/^.\{6\}/$next/" >> "$w/auth.log"
      else
        head -n 10 "$D/extra.log" >> "$w/auth.log"
      fi
      /usr/bin/time -f "$FMT" -o "$w/t2" "$bin" --tz UTC -v ingest --db "$w/s.db" "$w/auth.log" 2> "$w/err" || true
      read_line=$(grep -o 'new bytes read.*' "$w/err" || true)
      echo "$n $bin: after +10 lines ($when): $(tail -n 1 "$w/t2") ${read_line}"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
