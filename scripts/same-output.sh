#!/bin/bash
# scripts/same-output.sh OLD NEW: outputs of two sshmap binaries compared byte for byte.
# The 1M log: stats --json, parse jsonl, parse --all jsonl, parse csv;
# every file under tests/fixtures: parse, parse --all, stats --json, csv --geoip none.
# Prints each difference and a count; exit 1 if any.
# Run from the repository root; the log comes from scripts/gen-bench-log.py.
OLD=$1; NEW=$2; LOG=${LOG:-bench-data/auth-1m.log}; FIX=${FIX:-tests/fixtures}
T=$(mktemp -d); bad=0; n=0
cmp1() { # name args...
  local name=$1; shift
  "$OLD" -q --tz UTC --year 2026 "$@" > $T/a 2>/dev/null; "$NEW" -q --tz UTC --year 2026 "$@" > $T/b 2>/dev/null
  n=$((n+1)); if ! cmp -s $T/a $T/b; then echo "DIFFERS: $name: $*"; bad=$((bad+1)); fi
}
cmp1 big stats --json "$LOG"
cmp1 big parse --format jsonl "$LOG"
cmp1 big parse --all --format jsonl "$LOG"
cmp1 big parse --format csv "$LOG"
while IFS= read -r f; do
  cmp1 fix parse --format jsonl "$f"
  cmp1 fix parse --all --format jsonl "$f"
  cmp1 fix stats --json "$f"
  cmp1 fix parse --format csv --geoip none "$f"
done < <(find "$FIX" -type f \( -name '*.log' -o -name '*.txt' -o -name '*.json' -o -name '*.jsonl' -o -name '*auth*' -o -name '*secure*' -o -name '*messages*' \) | sort)
echo "$n runs, $bad differ"; rm -rf $T; [ $bad = 0 ]
