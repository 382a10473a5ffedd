#!/bin/bash
# Store benchmarks (BENCHMARKS.md, "Store"): the 1M-line log ingested into
# SQLite and PostgreSQL in the same round, then 13 day-shifted copies
# (10,465,000 events) into each, then the one-day rollup queries, alternating.
#
#     cargo build --release --bin sshmap --example store_query
#     eval "$(sh scripts/test-pg.sh)"           # local PostgreSQL, role sshmap
#     su postgres -c "createdb -O sshmap sshmap_bench"; su postgres -c "createdb -O sshmap sshmap_ten"
#     ROUNDS=3 scripts/bench-store.sh [DIR]     # DIR: scratch space, ~7 GB (default /tmp/store-bench)
#
# Every figure comes with the load average before and after it.
set -eu
T=${CARGO_TARGET_DIR:-target}/release
B=$T/sshmap
Q=$T/examples/store_query
D=${1:-/tmp/store-bench}
PG=${SSHMAP_BENCH_PG:-postgres://sshmap:sshmap@127.0.0.1}
PGB=$PG/sshmap_bench
PGT=$PG/sshmap_ten
FMT='wall %e s, user %U s, sys %S s, max RSS %M kB'
DROP='DROP TABLE IF EXISTS events, rollup_minute, rollup_hour_ip, sessions, inputs, sshmap_schema CASCADE'
mkdir -p "$D"
[ -f "$D/auth-1m.log" ] || python3 scripts/gen-bench-log.py "$D/auth-1m.log"
python3 - "$D" <<'PY'
import os, sys
d = sys.argv[1]
src = open(os.path.join(d, 'auth-1m.log'), 'rb').read()
for day in range(1, 14):
    p = os.path.join(d, 'day-%02d.log' % day)
    if not os.path.exists(p):
        open(p, 'wb').write(src.replace(b'Nov 22 ', b'Nov %2d ' % day))
PY

for r in $(seq 1 "${ROUNDS:-3}"); do
    echo "== 1M round $r: $(uptime)"
    rm -f "$D"/one.db*
    /usr/bin/time -f "sqlite 1M: $FMT" "$B" -q ingest --tz UTC --db "$D/one.db" "$D/auth-1m.log"
    psql -q "$PGB" -c "$DROP" 2>/dev/null
    /usr/bin/time -f "postgres 1M: $FMT" "$B" -q ingest --tz UTC --db "$PGB" "$D/auth-1m.log"
    echo "   end: $(uptime)"
done

echo "== 10M sqlite: $(uptime)"
rm -f "$D"/ten.db*
/usr/bin/time -f "sqlite 13 days: $FMT" "$B" -q ingest --tz UTC --db "$D/ten.db" "$D"/day-*.log
echo "== 10M postgres: $(uptime)"
psql -q "$PGT" -c "$DROP" 2>/dev/null
/usr/bin/time -f "postgres 13 days: $FMT" "$B" -q ingest --tz UTC --db "$PGT" "$D"/day-*.log
# What autovacuum would do soon after a load: statistics and the visibility map
# (index-only scans of the covering rollup keys).
psql -q "$PGT" -c 'VACUUM ANALYZE events' -c 'VACUUM ANALYZE rollup_minute' -c 'VACUUM ANALYZE rollup_hour_ip' \
    -c 'VACUUM ANALYZE sessions'
echo "sizes: sqlite $(du -h "$D/ten.db" | cut -f1), postgres $(psql -qAt "$PGT" -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')"
for r in $(seq 1 "${ROUNDS:-3}"); do
    echo "== query round $r: $(uptime)"
    "$Q" "$D/ten.db" 2026-11-07
    "$Q" "$PGT" 2026-11-07
done
echo "== done: $(uptime)"
