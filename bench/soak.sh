#!/usr/bin/env bash
# Floods (issue 21): what a flood of bad bots costs Palisade, on loopback.
#
#   bash bench/soak.sh                     # ratios 5 s each, soak 60 s
#   SOAK=120s RATIO=10s bash bench/soak.sh
#   SOAK=0 bash bench/soak.sh              # ratios only
#   PALISADE=/path/to/palisade bash bench/soak.sh   # another build
#
# 1. Ratios: wrk (closed loop, 2 threads, 64 connections) against a bare Go
#    handler answering 204 and against /forward-auth/nginx with one client
#    whose user agent is a browser (granted), curl (challenged), ClaudeBot
#    (an AI crawler: denied; GPTBot from an address that is not OpenAI's is
#    a fake, challenged as emulated_humans), and a browser on the website's deny
#    list (denied before the website firewall looks), each as a share of the
#    bare handler in the same run, by throughput and by CPU time a request
#    (the server's user + system time over the requests it answered: what
#    one core would give, even on a machine busy with other work).
# 2. Soak: wrk at full speed with bench/floods.lua (301 addresses × 100
#    bad-bot agents, 30,100 different clients, walking paths) against one
#    website for $SOAK, while bench/load (open loop) sends a browser's
#    requests at $BROWSER_RATE req/s and reports its latency; Palisade's
#    resident memory is sampled every 5 s (bounded: flat after warm-up).
#    Then the events stored and the requests they stand for.
#
# On two cores or more Palisade runs with GOMAXPROCS=1 pinned to core 0
# (taskset) and the load generators on core 1, so a ratio compares one core
# of Palisade with one core of the bare handler. The website firewall is on
# at its default setting (block, paranoia 1). Needs wrk and taskset.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK=${SOAK:-60s}
RATIO=${RATIO:-5s}
BROWSER_RATE=${BROWSER_RATE:-200}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

server=() loadgen=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
  server=(taskset -c 0) loadgen=(taskset -c 1)
fi
palisade=${PALISADE:-}
if [ -z "$palisade" ]; then
  go build -o "$work/palisade" ./cmd/palisade
  palisade=$work/palisade
fi
go build -o "$work/bare" ./bench/bare
go build -o "$work/load" ./bench/load

GOMAXPROCS=1 "${server[@]}" "$work/bare" -addr 127.0.0.1:18091 & pids+=($!)
bare_pid=$!
GOMAXPROCS=1 "${server[@]}" "$palisade" serve --addr 127.0.0.1:18081 --data-dir "$work/data" --log-level error >"$work/serve.log" 2>&1 & pids+=($!)
pal=$!
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18081/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$("$palisade" partner create --name bench --data-dir "$work/data" 2>/dev/null | awk '/^api_key:/ {print $2}')
site=$(curl -fs -H "Authorization: Bearer $key" -d domain=bench.example.com http://127.0.0.1:18081/website)
export PALISADE_KEY=$(printf '%s' "$site" | sed -E 's/.*"server_key":"([^"]+)".*/\1/')
curl -fs -X PUT -H "Authorization: Bearer $key" -H "Content-Type: application/json" -d '{"deny":["198.51.100.9"]}' \
  http://127.0.0.1:18081/v1/websites/bench.example.com/settings >/dev/null
ask() { # status of a forward-auth answer for user agent $1 from address $2
  curl -s -o /dev/null -w '%{http_code}' -H "X-Palisade-Key: $PALISADE_KEY" -H "X-Original-Uri: /products/42?ref=home" -H "X-Original-Method: GET" \
    -H "X-Original-Host: bench.example.com" -H "X-Real-IP: $2" -H "User-Agent: $1" -H "Accept: text/html" \
    -H "Accept-Language: en" -H "Accept-Encoding: gzip" http://127.0.0.1:18081/forward-auth/nginx
}
browser="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
claudebot="Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)"
for _ in $(seq 1 100); do [ "$(ask "$browser" 198.51.100.9)" = 403 ] && break; sleep 0.1; done # the engine has the website and its list

rps() { awk '/Requests\/sec/ {print int($2)}'; }
reqs() { awk '/requests in/ {print $1}'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # CPU time used (user + system), in clock ticks
hz=$(getconf CLK_TCK)
# run PID URL [env]: wrk with bench/floods-one.lua; prints "req/s µs-of-CPU-per-request"
run() {
  local pid=$1 url=$2 t0 out
  t0=$(ticks "$pid")
  out=$("${loadgen[@]}" wrk -t2 -c64 -d"$RATIO" -s bench/floods-one.lua "$url")
  echo "$(echo "$out" | rps) $(echo "$out" | reqs) $(( $(ticks "$pid") - t0 ))" | awk -v hz="$hz" '{printf "%d %.1f\n", $1, $3 * 1e6 / hz / $2}'
}

echo "== ratios ($RATIO each; Palisade GOMAXPROCS=1${server:+, pinned to core 0})"
read -r bare barecpu <<<"$(UA="$browser" run "$bare_pid" http://127.0.0.1:18091/)"
echo "bare Go handler (204): $bare req/s, $barecpu µs of CPU a request"
for c in "browser grant|$browser|198.51.100.7|200" "curl challenge|curl/8.5.0|198.51.100.7|401" "ClaudeBot deny|$claudebot|198.51.100.7|403" "deny-list deny|$browser|198.51.100.9|403"; do
  IFS='|' read -r name ua ip want <<<"$c"
  code=$(ask "$ua" "$ip")
  read -r n cpu <<<"$(UA="$ua" IP="$ip" run "$pal" http://127.0.0.1:18081/)"
  awk -v name="$name" -v n="$n" -v b="$bare" -v c="$cpu" -v bc="$barecpu" -v code="$code" -v want="$want" 'BEGIN {
    printf "%-15s %6d req/s = %.3f of bare; %6.1f µs of CPU a request = %.3f of bare (first answer %s%s)\n", name, n, n / b, c, bc / c, code, (code == want ? "" : ", expected " want) }'
done

[ "$SOAK" = 0 ] && exit 0
echo "== soak: $SOAK of bad bots at full speed, a browser at $BROWSER_RATE req/s (open loop)"
rss() { awk '/^VmRSS/ {printf "%.1f MiB", $2 / 1024}' "/proc/$pal/status"; }
echo "RSS before: $(rss)"
( while sleep 5; do echo "RSS $(date +%T): $(rss)"; done ) & sampler=$!; pids+=($sampler)
"${loadgen[@]}" wrk -t2 -c64 -d"$SOAK" -s bench/floods.lua http://127.0.0.1:18081/ >"$work/wrk.out" & flood=$!
sleep 2 # the flood is on before the browser starts
"${loadgen[@]}" "$work/load" -url http://127.0.0.1:18081/forward-auth/nginx -rate "$BROWSER_RATE" -duration "$(( ${SOAK%s} - 4 ))s" \
  -H "X-Palisade-Key: $PALISADE_KEY" -H "X-Original-Uri: /products/42" -H "X-Original-Method: GET" -H "X-Original-Host: bench.example.com" \
  -H "X-Real-IP: 198.51.100.7" -H "User-Agent: $browser" -H "Accept: text/html" -H "Accept-Language: en" -H "Accept-Encoding: gzip"
wait "$flood"
kill "$sampler" 2>/dev/null || true
grep -E "Requests/sec|requests in|Non-2xx" "$work/wrk.out"
sleep 12 # the last windows end; their counts are written
echo "RSS after: $(rss)"
curl -fs http://127.0.0.1:18081/metrics | grep -E '^palisade_events_(dropped|written)_total' || true
if command -v sqlite3 >/dev/null; then
  # Refused requests as the per-minute counters count them, and as the
  # stored events stand for them (count): the two must agree.
  sqlite3 "$work/data/palisade.db" "SELECT 'refused requests counted: ' || SUM(count) FROM stats_minute WHERE action IN ('deny', 'challenge', 'captcha');
    SELECT 'refused events stored: ' || COUNT(*) || ', standing for ' || SUM(count) || ' requests' FROM events WHERE action IN ('deny', 'challenge', 'captcha');"
fi
