#!/bin/sh
# Seeds the `servers` fuzz target with the recorded Dropbear and Cowrie
# fixtures: each file as a raw block (mode byte 0), and each Dropbear or
# Cowrie line alone, raw and (Dropbear messages, envelope stripped) behind the
# target's envelopes (mode 1). Run from the repository root; writes
# fuzz/corpus/servers.
set -eu
dir=fuzz/corpus/servers
mkdir -p "$dir"
n=0
for f in tests/fixtures/cowrie/cowrie.json tests/fixtures/dropbear/rfc3164.log \
    tests/fixtures/dropbear/rfc3339.log tests/fixtures/dropbear/rfc5424.log; do
    { printf '\000'; cat "$f"; } >"$dir/file-$n"
    n=$((n + 1))
    grep -E 'cowrie\.|dropbear' "$f" | while IFS= read -r line; do
        h=$(printf '%s' "$line" | sha1sum | cut -c1-16)
        { printf '\000'; printf '%s\n' "$line"; } >"$dir/line-$h"
    done
done
# Dropbear messages without their envelope, behind each of the target's.
grep -h 'dropbear\[' tests/fixtures/dropbear/rfc3164.log | sed 's/^[^]]*]: //' | sort -u |
    while IFS= read -r msg; do
        h=$(printf '%s' "$msg" | sha1sum | cut -c1-16)
        for e in 0 1 2 3; do
            { printf '\001'; printf "\\$(printf '%03o' "$e")"; printf '%s\n' "$msg"; } >"$dir/db$e-$h"
        done
    done
ls "$dir" | wc -l
