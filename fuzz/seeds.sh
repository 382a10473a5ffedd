#!/bin/sh
# Seeds the `servers` fuzz target with the recorded Dropbear and Cowrie
# fixtures, each as a `Raw` input (a zero 4-byte variant tag, then the bytes),
# and one line at a time. Run from the repository root; writes fuzz/corpus/servers.
set -eu
dir=fuzz/corpus/servers
mkdir -p "$dir"
n=0
for f in tests/fixtures/cowrie/cowrie.json tests/fixtures/dropbear/rfc3164.log \
    tests/fixtures/dropbear/rfc3339.log tests/fixtures/dropbear/rfc5424.log; do
    { printf '\000\000\000\000'; cat "$f"; } >"$dir/file-$n"
    n=$((n + 1))
    grep -E 'cowrie\.|dropbear' "$f" | while IFS= read -r line; do
        h=$(printf '%s' "$line" | sha1sum | cut -c1-16)
        { printf '\000\000\000\000'; printf '%s\n' "$line"; } >"$dir/line-$h"
    done
done
ls "$dir" | wc -l
