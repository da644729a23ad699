#!/usr/bin/env bash
# Load test of the forward-auth endpoint against a bare Go handler, in one
# run, on loopback only. Needs wrk (Debian: apt-get install wrk).
#
#   bash bench/forwardauth.sh            # 10 s per measurement
#   DURATION=30s bash bench/forwardauth.sh
#
# Prints requests/s of each (wrk, closed loop, 2 threads, 64 connections) and
# the ratio, then p99 latency of forward-auth at half its peak rate (open
# loop, bench/load).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/palisade" ./cmd/palisade
go build -o "$work/bare" ./bench/bare
go build -o "$work/load" ./bench/load

"$work/bare" -addr 127.0.0.1:18090 & pids+=($!)
"$work/palisade" serve --addr 127.0.0.1:18080 --data-dir "$work/data" --log-level error --grant-sample 0.01 >"$work/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18080/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$("$work/palisade" partner create --name bench --data-dir "$work/data" 2>/dev/null | awk '/^api_key:/ {print $2}')
site=$(curl -fs -H "Authorization: Bearer $key" -d domain=bench.example.com http://127.0.0.1:18080/website)
export PALISADE_KEY=$(printf '%s' "$site" | sed -E 's/.*"server_key":"([^"]+)".*/\1/')
sleep 1

rps() { awk '/Requests\/sec/ {print int($2)}'; }
echo "== bare Go handler (204), sent the same request"
bare_out=$(wrk -t2 -c64 -d"$DURATION" --latency -s bench/forwardauth.lua http://127.0.0.1:18090/)
echo "$bare_out" | grep -E "Requests/sec|99%"
echo "== palisade forward-auth (browser request, default policy)"
fa_out=$(wrk -t2 -c64 -d"$DURATION" --latency -s bench/forwardauth.lua http://127.0.0.1:18080/forward-auth)
echo "$fa_out" | grep -E "Requests/sec|99%|Non-2xx"
bare=$(echo "$bare_out" | rps); fa=$(echo "$fa_out" | rps)
echo "forward-auth / bare = $fa / $bare = $(( 100 * fa / bare ))%"

half=$(( fa / 2 ))
echo "== bare handler at the same rate ($half req/s), open loop: what the loader itself costs on this machine"
"$work/load" -url http://127.0.0.1:18090/ -rate "$half" -duration "$DURATION" -H "User-Agent: bench"
echo "== forward-auth at half of peak ($half req/s), open loop"
"$work/load" -url http://127.0.0.1:18080/forward-auth -rate "$half" -duration "$DURATION" \
  -H "X-Palisade-Key: $PALISADE_KEY" -H "X-Palisade-Mode: nginx" -H "X-Original-Uri: /products/42" -H "X-Original-Host: bench.example.com" \
  -H "X-Real-IP: 198.51.100.7" -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36" \
  -H "Accept: text/html" -H "Accept-Language: en" -H "Accept-Encoding: gzip"
