#!/usr/bin/env bash
# Vendors the web map's npm packages into web/static/vendor, from the
# committed package.json and package-lock.json (npm ci: exactly the locked
# versions and integrity hashes). The result is committed, so building and
# running Atalaya never needs npm; vendor_test.go reruns this script into a
# temporary folder and checks it reproduces the committed files byte for byte.
#
#   web/build.sh            rewrite web/static/vendor
#   web/build.sh OUTDIR     write the vendored files under OUTDIR instead
#
# No bundler: Leaflet ships an ES module (dist/leaflet-src.esm.js) that the
# browser imports as is.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/static/vendor}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/package.json" "$here/package-lock.json" "$work/"
(cd "$work" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)

leaflet=$work/node_modules/leaflet
rm -rf "$out/leaflet"
mkdir -p "$out/leaflet/images"
cp "$leaflet/dist/leaflet-src.esm.js" "$leaflet/dist/leaflet.css" "$leaflet/LICENSE" "$out/leaflet/"
cp "$leaflet"/dist/images/*.png "$out/leaflet/images/"
# The version vendored, for the page and for THIRD_PARTY.md.
node -e 'process.stdout.write(require(process.argv[1]).version + "\n")' "$leaflet/package.json" >"$out/leaflet/VERSION"
