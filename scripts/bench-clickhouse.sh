#!/usr/bin/env bash
# Fleet-scale store benchmark (BENCHMARKS.md, "Fleet scale: ClickHouse beside PostgreSQL"):
# ClickHouse 18.16 and PostgreSQL 15 in one run, both private servers on 127.0.0.1 with
# their data under DIR, loaded through `sshmap ingest` and read through sshmap.
#
#   scripts/bench-clickhouse.sh [DIR]                 # SIZES="25 125" ROUNDS=3, DIR default /tmp
#   BIN=target/release scripts/bench-clickhouse.sh    # prebuilt sshmap and store_query, no build
#   SIZES=25 ROUNDS=2 LOG=/tmp/auth-1m.log STOP_AT=06:00 MINFREE_GB=5 scripts/bench-clickhouse.sh
#
# SIZES: days of input per store, each day a copy of the 1M-line benchmark log
# (scripts/gen-bench-log.py, 818,954 events) with its date shifted (`Nov 22 ` -> `Jul  1 `,
# `Jul  2 ` ...): 25 days ~ 20M events, 125 days ~ 100M. The days are generated on the fly
# into `sshmap ingest -` (one input; nothing of it lands on disk). For each size: both
# stores are emptied, ClickHouse is loaded, then PostgreSQL; sizes on disk; then ROUNDS
# rounds of the view queries, the two stores alternating (CH first in odd rounds).
#
# A load is stopped (and says so) when the disk holding DIR has less than MINFREE_GB free,
# or at STOP_AT (HH:MM UTC); the queries then run on what was stored.
# The machine's load average is printed before and after every figure. Everything under
# DIR is deleted at exit (servers stopped first).
#
# Needs: clickhouse-server (Debian 18.16 or upstream `clickhouse server`), PostgreSQL 15
# server binaries (PGBIN, default /usr/lib/postgresql/15/bin), psql, curl, python3, jq.
# Ports: CH_HTTP (19123), CH_TCP (19124), PG_PORT (19432).
set -euo pipefail
# BIN and LOG are read relative to where the script was called from.
[ -n "${BIN:-}" ] && BIN=$(realpath "$BIN")
[ -n "${LOG:-}" ] && LOG=$(realpath "$LOG")
PARENT=$(realpath "${1:-/tmp}")
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"25 125"} ROUNDS=${ROUNDS:-3} MINFREE_GB=${MINFREE_GB:-4}
CH_HTTP=${CH_HTTP:-19123} CH_TCP=${CH_TCP:-19124} PG_PORT=${PG_PORT:-19432}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
DAY=${DAY:-2026-07-10}   # the day the one-day queries read (present at every size >= 10)
if [ -n "${BIN:-}" ]; then
    T=$BIN
else
    cargo build --release --bin sshmap --example store_query >&2
    T=$(realpath "${CARGO_TARGET_DIR:-target}")/release
fi
# BIN may be a cargo profile dir (target/release: examples/ below it) or a folder holding both binaries.
B=$T/sshmap
Q=$T/examples/store_query
[ -x "$Q" ] || Q=$T/store_query
for f in "$B" "$Q"; do [ -x "$f" ] || { echo "no $f (BIN=$T)" >&2; exit 2; }; done

WORK=$(mktemp -d "$PARENT/sshmap-fleet.XXXXXX")
chmod 755 "$WORK"
CH_PID=
PG_UP=
cleanup() {
    [ -n "$PG_UP" ] && as_pg "$PGBIN/pg_ctl -D $WORK/pg/data -m fast -w stop" >/dev/null 2>&1 || true
    if [ -n "$CH_PID" ]; then
        kill "$CH_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$CH_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then as_pg() { su postgres -c "$1"; }; else as_pg() { sh -c "$1"; }; fi

load() { cut -d' ' -f1-3 /proc/loadavg; }
now() { date +%s.%N; }
secs() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
say() { echo "$*"; }

# --- input ---------------------------------------------------------------------------
if [ -z "${LOG:-}" ]; then
    LOG=$WORK/auth-1m.log
    python3 scripts/gen-bench-log.py "$LOG" 2>/dev/null
fi
# days N: N date-shifted copies of LOG on stdout, from Jul 1, 2026 on.
days() {
    python3 - "$LOG" "$1" <<'PY'
import datetime, sys
src = open(sys.argv[1], 'rb').read()
out = sys.stdout.buffer
month = b'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split()
d0 = datetime.date(2026, 7, 1)
try:
    for k in range(int(sys.argv[2])):
        d = d0 + datetime.timedelta(days=k)
        out.write(src.replace(b'Nov 22 ', month[d.month - 1] + b' %2d ' % d.day))
    out.flush()
except BrokenPipeError:   # the load was stopped
    pass
PY
}

# --- ClickHouse ------------------------------------------------------------------------
CHBIN=$(command -v clickhouse-server || true)
if [ -n "$CHBIN" ]; then CHARGS=(); else CHBIN=$(command -v clickhouse); CHARGS=(server); fi
mkdir -p "$WORK/ch"
cat > "$WORK/ch/config.xml" <<EOF
<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><console>1</console></logger>
  <http_port>$CH_HTTP</http_port>
  <tcp_port>$CH_TCP</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>$WORK/ch/data/</path>
  <tmp_path>$WORK/ch/tmp/</tmp_path>
  <user_files_path>$WORK/ch/user_files/</user_files_path>
  <format_schema_path>$WORK/ch/format_schemas/</format_schema_path>
  <mark_cache_size>536870912</mark_cache_size>
  <uncompressed_cache_size>0</uncompressed_cache_size>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mlock_executable>false</mlock_executable>
</yandex>
EOF
cat > "$WORK/ch/users.xml" <<'EOF'
<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>6000000000</max_memory_usage></default></profiles>
  <users><default><password></password><networks><ip>127.0.0.1</ip></networks>
    <profile>default</profile><quota>default</quota></default></users>
  <quotas><default></default></quotas>
</yandex>
EOF
(cd "$WORK/ch" && exec "$CHBIN" "${CHARGS[@]}" --config-file="$WORK/ch/config.xml" \
    > "$WORK/ch/server.log" 2>&1 < /dev/null) &
CH_PID=$!
for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$CH_HTTP/ping" >/dev/null 2>&1 && break
    kill -0 "$CH_PID" 2>/dev/null || { echo "clickhouse-server exited:"; tail -5 "$WORK/ch/server.log"; exit 1; }
    sleep 0.2
done
chq() { curl -sS --fail "http://127.0.0.1:$CH_HTTP/" --data-binary "$1"; }
CH_VERSION=$(chq 'SELECT version()')
CH=clickhouse://127.0.0.1:$CH_HTTP/fleet

# --- PostgreSQL -------------------------------------------------------------------------
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK/pg"
as_pg "$PGBIN/initdb -D $WORK/pg/data --auth=trust -U postgres" >/dev/null
as_pg "$PGBIN/pg_ctl -D $WORK/pg/data -l $WORK/pg/server.log -w start \
    -o '-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$WORK/pg'" >/dev/null
PG_UP=1
psql -qAtX "postgres://postgres@127.0.0.1:$PG_PORT/postgres" \
    -c "CREATE ROLE sshmap LOGIN PASSWORD 'sshmap'" -c 'CREATE DATABASE fleet OWNER sshmap' >/dev/null
PG=postgres://sshmap:sshmap@127.0.0.1:$PG_PORT/fleet
pgq() { psql -qAtX "$PG" -c "$1"; }
PG_VERSION=$(pgq 'SHOW server_version')

say "sshmap $("$B" --version | cut -d' ' -f2) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $B"
say "ClickHouse $CH_VERSION on :$CH_HTTP; PostgreSQL $PG_VERSION on :$PG_PORT (shared_buffers $(pgq 'SHOW shared_buffers'))"
say "machine: $(nproc) cores, $(free -g | awk '/Mem/ {print $2}') GiB; input $(md5sum < "$LOG" | cut -c1-8) ($(wc -c < "$LOG") bytes/day)"
say "disk: $(df -h --output=avail "$WORK" | tail -1) free under $WORK; load $(load)"

# --- load -------------------------------------------------------------------------------
# ingest NAME URL DAYS: loads DAYS days into URL, watching the disk and the clock.
ingest() {
    local name=$1 url=$2 n=$3 stop= t0 t1 pid left
    [ -n "${STOP_AT:-}" ] && stop=$(date -u -d "$STOP_AT" +%s)
    say "== load $name, $n days: load $(load), $(df -h --output=avail "$WORK" | tail -1 | tr -d ' ') free"
    t0=$(now)
    days "$n" | /usr/bin/time -o "$WORK/time" -f 'user %U s, sys %S s, max RSS %M kB' \
        "$B" -q ingest --tz UTC --year 2026 --db "$url" - 2> "$WORK/ingest.err" &
    pid=$!   # /usr/bin/time
    STOPPED=
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        left=$(df -k --output=avail "$WORK" | tail -1)
        if [ "$left" -lt $((MINFREE_GB * 1024 * 1024)) ]; then STOPPED="disk: $((left / 1024)) MiB left"
        elif [ -n "$stop" ] && [ "$(date +%s)" -ge "$stop" ]; then STOPPED="clock: STOP_AT $STOP_AT"
        else continue; fi
        # sshmap is the child of /usr/bin/time; a killed ingest keeps what it committed.
        for c in $(pgrep -P "$pid"); do kill "$c" 2>/dev/null || true; done
        break
    done
    wait "$pid" || [ -n "$STOPPED" ] || { echo "ingest into $name failed:"; tail -5 "$WORK/ingest.err"; exit 1; }
    t1=$(now)
    LOAD_WALL=$(secs "$t0" "$t1")
    say "   $name: wall $LOAD_WALL s, $(tail -1 "$WORK/time")${STOPPED:+; STOPPED ($STOPPED)}; load $(load)"
    [ -s "$WORK/ingest.err" ] && tail -3 "$WORK/ingest.err" | sed 's/^/   stderr: /'
    return 0
}

# t LABEL CMD...: runs CMD, prints its wall time.
t() {
    local label=$1 t0 t1; shift
    t0=$(now); "$@" > "$WORK/out" 2>&1 || { echo "$label failed:"; tail -5 "$WORK/out"; exit 1; }; t1=$(now)
    say "   $label: $(secs "$t0" "$t1") s"
}

queries() { # STORE(ch|pg) ROUND
    local s=$1 r=$2 url next
    next=$(date -u -d "$DAY + 1 day" +%F)
    if [ "$s" = ch ]; then url=$CH; else url=$PG; fi
    say "-- $s, round $r: load $(load)"
    # Store::count, Store::minute_country and Store::hour_ip of one day (median of 20).
    "$Q" "$url" "$DAY" | sed "s/^/   $s store_query: /"
    t "$s stats --json, one day (raw events)" \
        "$B" stats --json --tz UTC --db "$url" --from "$DAY" --to "$next"
    jq -S 'del(.inputs)' "$WORK/out" > "$WORK/stats-$s.json"
    t "$s chart --by ip --top 10, all days (hour x ip rollup)" \
        "$B" chart --tz UTC --by ip --top 10 --db "$url" -o "$WORK/top-$s.svg"
    if [ "$s" = ch ]; then
        # Where chart's time goes: the server's part of its query (without the committed-attempt filter).
        t "$s SQL hour x ip, all days, server only (FORMAT Null)" chq "SELECT hour, ip, country, sum(events) AS n,
            sum(attempts) FROM fleet.rollup_hour_ip GROUP BY hour, ip, country HAVING n != 0
            ORDER BY hour, ip, country FORMAT Null"
        t "$s SQL one address's events (raw)" chq "SELECT count(), sum(sign) FROM fleet.events WHERE ip = '$IP'"
        t "$s SQL one address's hours (rollup)" chq "SELECT count(), sum(events) FROM fleet.rollup_hour_ip WHERE ip = '$IP'"
        t "$s SQL distinct IPs per day (rollup)" chq "SELECT intDiv(hour, 86400) AS d, uniqExact(ip)
            FROM fleet.rollup_hour_ip WHERE attempts > 0 GROUP BY d ORDER BY d FORMAT TabSeparated"
        cp "$WORK/out" "$WORK/distinct-$s.tsv"
    else
        t "$s SQL one address's events (raw)" pgq "SELECT count(*) FROM events WHERE ip = '$IP'"
        t "$s SQL one address's hours (rollup)" pgq "SELECT count(*), sum(events) FROM rollup_hour_ip WHERE ip = '$IP'"
        t "$s SQL distinct IPs per day (rollup)" pgq "SELECT hour / 86400 AS d, count(DISTINCT ip)
            FROM rollup_hour_ip WHERE attempts > 0 GROUP BY d ORDER BY d"
        tr '|' '\t' < "$WORK/out" > "$WORK/distinct-$s.tsv"
    fi
}

for n in $SIZES; do
    say
    say "==== $n days ($(date -u +%H:%M) UTC)"
    chq 'DROP DATABASE IF EXISTS fleet' >/dev/null
    pgq 'DROP TABLE IF EXISTS events, rollup_minute, rollup_hour_ip, sessions, inputs, sshmap_schema CASCADE' 2>/dev/null
    ingest clickhouse "$CH" "$n"
    CH_WALL=$LOAD_WALL CH_STOPPED=$STOPPED
    ingest postgres "$PG" "$n"
    PG_WALL=$LOAD_WALL PG_STOPPED=$STOPPED
    say "== sizes: load $(load)"
    t "pg VACUUM ANALYZE (what autovacuum does after a load)" pgq 'VACUUM ANALYZE'
    chn=$(chq 'SELECT sum(sign) FROM fleet.events')
    pgn=$(pgq 'SELECT count(*) FROM events')
    say "   clickhouse: $chn events, $(python3 -c "print('%.0f' % ($chn / $CH_WALL))") events/s"
    say "   postgres:   $pgn events, $(python3 -c "print('%.0f' % ($pgn / $PG_WALL))") events/s"
    chq "SELECT table, sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = 'fleet' AND active
         GROUP BY table ORDER BY table FORMAT TabSeparated" |
        awk -F'\t' '{printf "   clickhouse %s: %d rows, %.0f MB, %.1f B/row\n", $1, $2, $3/1e6, $3/($2>0?$2:1)}'
    for tb in events rollup_minute rollup_hour_ip sessions; do
        pgq "SELECT pg_total_relation_size('$tb'), (SELECT count(*) FROM $tb)" |
            awk -F'|' -v t="$tb" '{printf "   postgres %s: %d rows, %.0f MB, %.1f B/row\n", t, $2, $1/1e6, $1/($2>0?$2:1)}'
    done
    say "   data dirs: clickhouse $(du -sh "$WORK/ch/data" | cut -f1), postgres $(du -sh "$WORK/pg/data" | cut -f1) (with WAL); $(df -h --output=avail "$WORK" | tail -1 | tr -d ' ') free"
    # The busiest address (of the one day): its whole history is what is read.
    IP=$(chq "SELECT ip FROM fleet.rollup_hour_ip GROUP BY ip ORDER BY sum(attempts) DESC LIMIT 1 FORMAT TabSeparated")
    say "   address for the one-address queries: $IP"
    for r in $(seq 1 "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then queries ch "$r"; queries pg "$r"; else queries pg "$r"; queries ch "$r"; fi
    done
    # Once: distinct addresses per day from the raw events (no rollup), the issue's query.
    say "-- raw distinct IPs per day, once: load $(load)"
    t "ch SQL distinct IPs per day (raw)" chq "SELECT intDiv(ts, 86400000000) AS d, uniqExact(ip) FROM fleet.events
        WHERE attempts > 0 GROUP BY d ORDER BY d FORMAT TabSeparated"
    t "pg SQL distinct IPs per day (raw)" pgq "SELECT ts / 86400000000 AS d, count(DISTINCT ip) FROM events
        WHERE attempts > 0 GROUP BY d ORDER BY d"
    # The two stores must answer alike.
    if cmp -s "$WORK/stats-ch.json" "$WORK/stats-pg.json"; then say "   same: stats --json of $DAY (but for inputs)"
    else say "   DIFFERENT: stats --json of $DAY"; diff "$WORK/stats-ch.json" "$WORK/stats-pg.json" | head -20 || true; fi
    if [ -n "$CH_STOPPED$PG_STOPPED" ]; then
        # A stopped load holds fewer days: compare the whole days both hold (the last one may be cut).
        say "   a load was stopped: the stores hold different days; the top-10 charts are not compared"
        m=$(cat "$WORK"/distinct-*.tsv | wc -l); for f in "$WORK"/distinct-*.tsv; do
            [ "$(wc -l < "$f")" -lt "$m" ] && m=$(wc -l < "$f"); done
        [ "$m" -ge 1 ] || m=1
        for f in "$WORK"/distinct-*.tsv; do head -n $((m - 1)) "$f" > "$f.common"; mv "$f.common" "$f"; done
        say "   distinct IPs per day compared over the first $((m - 1)) days"
    elif cmp -s "$WORK/top-ch.svg" "$WORK/top-pg.svg"; then say "   same: top-10 chart"; else say "   DIFFERENT: top-10 chart"; fi
    if cmp -s "$WORK/distinct-ch.tsv" "$WORK/distinct-pg.tsv"; then say "   same: distinct IPs per day (rollup)"
    else say "   DIFFERENT: distinct IPs per day"; diff "$WORK/distinct-ch.tsv" "$WORK/distinct-pg.tsv" | head || true; fi
    say "==== $n days done ($(date -u +%H:%M) UTC): load $(load)"
done
