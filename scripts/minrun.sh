#!/bin/bash
# scripts/minrun.sh N LOG BIN... : alternating runs of `stats --json LOG`, N rounds; prints min and median wall per binary (and grep)
N=$1; LOG=$2; shift 2
declare -A T
for i in $(seq $N); do
  for b in "$@" grep; do
    if [ $b = grep ]; then s=$(date +%s.%N); grep -c -F 'sshd[' $LOG > /tmp/minrun.out; e=$(date +%s.%N)
    else s=$(date +%s.%N); $b -q stats --json $LOG > /tmp/minrun.out; e=$(date +%s.%N); fi
    T[$b]+="$(awk -v s=$s -v e=$e 'BEGIN {printf "%.4f", e - s}') "
  done
done
for b in "$@" grep; do echo "$b: $(echo ${T[$b]} | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "min %.3f med %.3f (n=%d)", a[1], a[int((NR+1)/2)], NR}')"; done
