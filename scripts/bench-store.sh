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
# Every figure comes with the load average before and after it. FLEET=1 adds the
# ClickHouse comparison at the end (see there).
set -eu
T=${CARGO_TARGET_DIR:-target}/release
B=$T/sshmap
Q=$T/examples/store_query
D=${1:-/tmp/store-bench}
PG=${SSHMAP_BENCH_PG:-postgres://sshmap:sshmap@127.0.0.1}
PGB=$PG/sshmap_bench
PGT=$PG/sshmap_ten
FMT='wall %e s, user %U s, sys %S s, max RSS %M kB'
DROP='DROP TABLE IF EXISTS events, rollup_minute, rollup_hour_ip, sessions, session_keys, inputs, sshmap_schema CASCADE'
mkdir -p "$D"
[ -f "$D/auth-1m.log" ] || python3 scripts/gen-bench-log.py "$D/auth-1m.log"
if [ -z "${ONLY_FLEET:-}" ]; then
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
fi


# ---------------------------------------------------------------------------
# Fleet scale (issue 18): ClickHouse beside PostgreSQL in the same run.
# (The figures in BENCHMARKS.md now come from scripts/bench-clickhouse.sh: private servers,
# input streamed into `sshmap ingest -`, the views through sshmap, 20M and 100M events.)
#
#     FLEET=1 DAYS=25 scripts/bench-store.sh [DIR]     # 25 day-shifted copies: ~20M events
#     ONLY_FLEET=1 FLEET=1 …                            # this part alone
#
# Needs a ClickHouse server (SSHMAP_BENCH_CH, default clickhouse://127.0.0.1:8123/sshmap_fleet)
# and the PostgreSQL above (database sshmap_fleet, created here). Prints the load average
# before and after every figure.
[ -n "${FLEET:-}" ] || exit 0
DAYS=${DAYS:-25}
CH=${SSHMAP_BENCH_CH:-clickhouse://127.0.0.1:8123/sshmap_fleet}
CHDB=${CH##*/}
CHHTTP=http://${CH#clickhouse://}
CHHTTP=${CHHTTP%/*}/
PGF=$PG/sshmap_fleet
chq() { curl -sS "$CHHTTP" --data-binary "$1"; }
python3 - "$D" "$DAYS" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
src = open(os.path.join(d, 'auth-1m.log'), 'rb').read()
for day in range(1, n + 1):
    p = os.path.join(d, 'fleet-%02d.log' % day)
    if not os.path.exists(p):
        open(p, 'wb').write(src.replace(b'Nov 22 ', b'Nov %2d ' % day))
PY
su postgres -c 'createdb -O sshmap sshmap_fleet' 2>/dev/null || true
psql -q "$PGF" -c "$DROP" 2>/dev/null
chq "DROP DATABASE IF EXISTS $CHDB"
echo "== fleet postgres, $DAYS days: $(uptime)"
/usr/bin/time -f "postgres $DAYS days: $FMT" "$B" -q ingest --tz UTC --db "$PGF" "$D"/fleet-*.log
echo "== fleet clickhouse, $DAYS days: $(uptime)"
/usr/bin/time -f "clickhouse $DAYS days: $FMT" "$B" -q ingest --tz UTC --db "$CH" "$D"/fleet-*.log
echo "   end: $(uptime)"
psql -q "$PGF" -c 'VACUUM ANALYZE events' -c 'VACUUM ANALYZE rollup_minute' -c 'VACUUM ANALYZE rollup_hour_ip'
echo "== sizes (bytes per stored row)"
psql -qAt "$PGF" -c "SELECT t, pg_total_relation_size(t::regclass), (SELECT reltuples::bigint FROM pg_class WHERE relname = t)
    FROM unnest(ARRAY['events', 'rollup_minute', 'rollup_hour_ip', 'sessions']) AS t" |
    awk -F'|' '{printf "postgres %s: %d rows, %.0f MB, %.1f B/row\n", $1, $3, $2/1e6, $2/($3>0?$3:1)}'
chq "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = '$CHDB' AND active
     GROUP BY table ORDER BY table FORMAT TabSeparated" |
    awk -F'\t' '{printf "clickhouse %s: %d rows, %.0f MB, %.1f B/row\n", $1, $2, $3/1e6, $3/($2>0?$2:1)}'
for r in $(seq 1 "${ROUNDS:-3}"); do
    echo "== fleet query round $r: $(uptime)"
    "$Q" "$PGF" 2026-11-07
    "$Q" "$CH" 2026-11-07
    for db in "$PGF" "$CH"; do
        /usr/bin/time -f "stats --json one day, ${db%%:*}: $FMT" \
            "$B" stats --json --tz UTC --db "$db" --from 2026-11-07 --to 2026-11-08 > /dev/null
    done
done
# One address's history: the hourly rollup (ClickHouse: its primary key; PostgreSQL: (hour, ip)).
IP=$(chq "SELECT ip FROM $CHDB.rollup_hour_ip GROUP BY ip ORDER BY sum(events) DESC LIMIT 1 FORMAT TabSeparated")
for r in 1 2 3; do
    /usr/bin/time -f "one address's hours, postgres: wall %e s" \
        psql -qAt "$PGF" -c "SELECT count(*), sum(events) FROM rollup_hour_ip WHERE ip = '$IP'" > /dev/null
    /usr/bin/time -f "one address's hours, clickhouse: wall %e s" \
        chq "SELECT count(), sum(events) FROM $CHDB.rollup_hour_ip WHERE ip = '$IP'" > /dev/null
done
echo "== fleet done: $(uptime)"
