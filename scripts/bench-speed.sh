#!/usr/bin/env bash
# Issue #15's before/after table: `stats --json`, `parse --format jsonl` and
# `ingest` of two sshmap binaries on one log, with `grep -c -F 'sshd['` in the
# same run, alternating, each command ROUNDS times (ingest INGEST_ROUNDS times,
# into a fresh SQLite store each time). Prints one line per run:
#   command binary wall_s user_s sys_s peak_rss_kib
# and checks that both binaries give the same `stats --json` and `parse` bytes.
#
# Usage: scripts/bench-speed.sh OLD_BIN NEW_BIN LOG [WORKDIR]
#   ROUNDS=3 INGEST_ROUNDS=1; WORKDIR (default /tmp/bench-speed) holds outputs and stores.
# Logs: python3 scripts/gen-bench-log.py --lines 1000000 --seed 1 LOG (or 10000000).
set -euo pipefail
OLD=$1 NEW=$2 LOG=$3 W=${4:-/tmp/bench-speed}
ROUNDS=${ROUNDS:-3}
INGEST_ROUNDS=${INGEST_ROUNDS:-1}
[ -x /usr/bin/time ] || { echo "GNU time missing: apt-get install -y time" >&2; exit 2; }
export LC_ALL=C
mkdir -p "$W"
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "# input $LOG: $(wc -l < "$LOG") lines, $(stat -c %s "$LOG") bytes"
cat "$LOG" > /dev/null

run() { # name bin command...
    local name=$1 bin=$2
    shift 2
    /usr/bin/time -o "$W/time" -f "%e %U %S %M" "$@" > "$W/out.$name.$bin" 2> "$W/err.$name.$bin"
    echo "$name $bin $(cat "$W/time")"
}
# Output to a file, never /dev/null: grep stops at the first match there.
for r in $(seq "$ROUNDS"); do
    run grep grep grep -c -F 'sshd[' "$LOG"
    for b in old new; do
        bin=$OLD; [ $b = new ] && bin=$NEW
        run stats $b "$bin" -q --tz UTC --year 2026 stats --json "$LOG"
    done
done
cmp "$W/out.stats.old" "$W/out.stats.new" && echo "# stats --json: same bytes"
for r in $(seq "$ROUNDS"); do
    for b in old new; do
        bin=$OLD; [ $b = new ] && bin=$NEW
        run parse $b "$bin" -q --tz UTC --year 2026 parse --format jsonl "$LOG"
    done
done
cmp "$W/out.parse.old" "$W/out.parse.new" && echo "# parse --format jsonl: same bytes ($(stat -c %s "$W/out.parse.new") bytes)"
for r in $(seq "$INGEST_ROUNDS"); do
    for b in old new; do
        bin=$OLD; [ $b = new ] && bin=$NEW
        rm -f "$W/store.$b.db" "$W/store.$b.db-wal" "$W/store.$b.db-shm"
        run ingest $b "$bin" -q --tz UTC ingest --db "$W/store.$b.db" "$LOG"
        echo "# ingest $b: $(sqlite3 "$W/store.$b.db" 'SELECT count(*) FROM events' 2>/dev/null || echo '?') events"
    done
done
rm -f "$W"/store.*.db*
