#!/usr/bin/env bash
# Regenerates docs/screenshots/*.png: every page of the product (customer
# pages, the visitor's challenge and deny pages, the partner console, the
# operator's page) in English at 1280 px, the busiest ones at 390 px too,
# and the statistics in German, all from the seeded fixture of the browser
# test (internal/web/pagetest: a partner branded "My Hosting", its
# customer's websites, 18 days of traffic on a fixed date).
#
# Needs Go and Debian's chromium (apt-get install chromium). Uses pngquant,
# when installed, to shrink the files (apt-get install pngquant).
set -euo pipefail
cd "$(dirname "$0")/.."
out="$PWD/docs/screenshots"
rm -f "$out"/*.png
mkdir -p "$out"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! go test ./internal/web/pagetest -run '^TestScreenshots$' -count=1 -v -args -screenshots="$out" >"$log" 2>&1; then
  cat "$log"; exit 1
fi
grep -E 'KiB' "$log" || true
if command -v pngquant >/dev/null; then
  pngquant --force --skip-if-larger --strip --quality 70-95 --ext .png "$out"/*.png || true
fi
du -ch "$out"/*.png | tail -1
