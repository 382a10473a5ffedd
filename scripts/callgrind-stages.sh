#!/bin/bash
# scripts/callgrind-stages.sh BIN OUT: callgrind of `stats --json` on bench-data/auth-200k.log
# (scripts/gen-bench-log.py bench-data/auth-200k.log --lines 200000) with fair bulk copies;
# prints the total and each stage's inclusive Ir (the largest entry of the function).
BIN=$1; OUT=$2; LOG=${LOG:-bench-data/auth-200k.log}
GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=1000000000:glibc.cpu.x86_rep_stosb_threshold=1000000000 \
  valgrind --tool=callgrind --callgrind-out-file=$OUT "$BIN" -q --tz UTC --year 2026 stats --json "$LOG" > $OUT.json 2>$OUT.err
callgrind_annotate --inclusive=yes $OUT 2>/dev/null > $OUT.incl
for f in 'PROGRAM TOTALS' 'sshmap::parse::parse_block_into' 'sshmap::parse::message::classify' 'sshmap::flow::Stream::push_block' 'Correlator::push_lines' 'sshmap::flow::Out<S>::flush' 'Sink>::enrich_events' 'drop_in_place<sshmap::event::Event>' 'commands::stats::print_summary' 'analyze::Aggregate>::summary\|Aggregate::summary'; do
  printf '%-40s %s\n' "$f" "$(grep -- "$f" $OUT.incl | grep -v '=>' | awk '{gsub(",","",$1); if ($1+0>m) m=$1+0} END {printf "%\047d", m}')"
done
