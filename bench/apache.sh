#!/usr/bin/env bash
# Apache serving a static file with and without Palisade, in one run, on
# loopback only. Needs Debian's apache2, apache2-dev (apxs) and wrk
# (apt-get install apache2 apache2-dev wrk).
#
#   bash bench/apache.sh             # 10 s per measurement
#   DURATION=30s bash bench/apache.sh
#   PALISADE_BIN=/path/to/palisade bash bench/apache.sh   # a Palisade built elsewhere
#
# One Apache, three vhosts on three ports: 18181 with Palisade switched off,
# 18182 protected through deploy/apache/palisade.conf (mod_authnz_fcgi asking
# Palisade's FastCGI authorizer on every request), 18183 protected by the
# native module (deploy/apache/mod_palisade, configured by
# palisade-module.conf: keep-alive connections to /forward-auth/apache).
# wrk sends the same browser request to each (closed loop: the most each
# does); then about half of Apache alone's rate to 18181 and 18183 for the
# latencies at half load.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
command -v apxs >/dev/null || { echo "apxs is not installed (apt-get install apache2-dev)"; exit 1; }
[ -x /usr/sbin/apache2 ] || { echo "apache2 is not installed (apt-get install apache2)"; exit 1; }
work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
  [ -f "$work/httpd.pid" ] && kill "$(cat "$work/httpd.pid")" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${PALISADE_BIN:-}" ]; then cp "$PALISADE_BIN" "$work/palisade"; else go build -o "$work/palisade" ./cmd/palisade; fi
cp deploy/apache/mod_palisade/mod_palisade.c "$work/"
(cd "$work" && apxs -c -Wc,-Wall mod_palisade.c >/dev/null)
"$work/palisade" serve --addr 127.0.0.1:18180 --fastcgi-addr 127.0.0.1:19181 --data-dir "$work/data" --log-level error >"$work/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18180/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$("$work/palisade" partner create --name bench --data-dir "$work/data" 2>/dev/null | awk '/^api_key:/ {print $2}')
curl -fs -H "Authorization: Bearer $key" -d domain=bench.example.com http://127.0.0.1:18180/website >/dev/null
skey=$(curl -fs -H "Authorization: Bearer $key" http://127.0.0.1:18180/website/bench.example.com | sed -E 's/.*"server_key":"([^"]+)".*/\1/')
sleep 1

mkdir -p "$work/palisade-conf" "$work/htdocs" "$work/logs"
head -c 4096 /dev/urandom | base64 > "$work/htdocs/index.html"   # a 5.5 KB static file
for f in palisade.conf palisade-unreachable.lua; do
  sed -e "s#/etc/apache2/palisade/#$work/palisade-conf/#g" -e "s#fcgi://127.0.0.1:9081/#fcgi://127.0.0.1:19181/#" \
      -e "s#http://127.0.0.1:8080/#http://127.0.0.1:18180/#g" "deploy/apache/$f" > "$work/palisade-conf/$f"
done
sed -e "s#/usr/lib/apache2/modules/mod_palisade.so#$work/.libs/mod_palisade.so#" -e "s#http://127.0.0.1:8080#http://127.0.0.1:18180#g" \
    deploy/apache/palisade-module.conf > "$work/palisade-conf/palisade-module.conf"
chmod -R a+rX "$work"
mods=/usr/lib/apache2/modules
{
  echo "ServerRoot $work"; echo "PidFile $work/httpd.pid"; echo "Listen 127.0.0.1:18181"; echo "Listen 127.0.0.1:18182"; echo "Listen 127.0.0.1:18183"
  echo "ServerName localhost"
  for m in mpm_event authz_core authn_core authz_user authnz_fcgi mime dir env setenvif headers proxy proxy_http rewrite lua; do
    echo "LoadModule ${m}_module $mods/mod_${m}.so"
  done
  [ "$(id -u)" = 0 ] && { echo "User www-data"; echo "Group www-data"; }
  echo "ErrorLog $work/logs/error.log"; echo "LogLevel error"; echo "TypesConfig /etc/mime.types"
  echo "DocumentRoot $work/htdocs"; echo "DirectoryIndex index.html"
  echo "<IfModule mpm_event_module>"; echo "  ThreadsPerChild 64"; echo "  MaxRequestWorkers 256"; echo "</IfModule>"
  echo "Include $work/palisade-conf/palisade.conf"; echo "Include $work/palisade-conf/palisade-module.conf"
  echo "<VirtualHost 127.0.0.1:18181>"; echo "  ServerName bench.example.com"
  echo "  <Location \"/\">"; echo "    AuthnzFcgiCheckAuthnProvider None"; echo "    Require all granted"; echo "  </Location>"
  echo "</VirtualHost>"
  # Requests served without an answer from Palisade (fail-open), counted.
  echo "<VirtualHost 127.0.0.1:18182>"; echo "  ServerName bench.example.com"
  echo "  CustomLog $work/logs/unanswered-18182.log \"%{PALISADE_ERROR}e\" env=PALISADE_ERROR"; echo "</VirtualHost>"
  echo "<VirtualHost 127.0.0.1:18183>"; echo "  ServerName bench.example.com"; echo "  Palisade On"; echo "  PalisadeKey $skey"
  echo "  CustomLog $work/logs/unanswered-18183.log \"%{PALISADE_ERROR}e\" env=PALISADE_ERROR"
  echo "  <Location \"/\">"; echo "    AuthnzFcgiCheckAuthnProvider None"; echo "    Require all granted"; echo "  </Location>"
  echo "</VirtualHost>"
} > "$work/httpd.conf"
/usr/sbin/apache2 -f "$work/httpd.conf" -k start
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:18182/ -H "Host: bench.example.com" && break; sleep 0.1; done

ua="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
for port in 18181 18182 18183; do
  curl -fs -o /dev/null -H "Host: bench.example.com" -H "User-Agent: $ua" -H "Accept: text/html" -H "Accept-Language: en" "http://127.0.0.1:$port/" \
    || { echo "vhost $port does not serve a browser"; exit 1; }
done
run() {
  wrk -t2 -c64 -d"$DURATION" --latency -H "Host: bench.example.com" -H "User-Agent: $ua" -H "Accept: text/html" \
      -H "Accept-Language: en" -H "Accept-Encoding: gzip" "$1"
}
rps() { awk '/Requests\/sec/ {print int($2)}'; }
total() { awk '/requests in/ {print $1}'; }
cpu() { awk '{print $14 + $15}' "/proc/${pids[0]}/stat"; }   # Palisade's user+system time, in clock ticks
unanswered() { cat "$work"/logs/unanswered-*.log 2>/dev/null | wc -l; }
tick=$(getconf CLK_TCK)
measure() { # name url: wrk, then Palisade's CPU time per request and how many requests Palisade did not answer in time
  local t0 u0 out t1 n
  t0=$(cpu); u0=$(unanswered); out=$(run "$2"); t1=$(cpu); n=$(echo "$out" | total)
  echo "$out" | grep -E "Requests/sec|50%|99%|Non-2xx|Socket errors" >&2
  echo "palisade: $(( (t1 - t0) * 1000000 / tick / (n > 0 ? n : 1) )) µs CPU per request; $(( $(unanswered) - u0 )) of $n requests served unanswered (fail-open)" >&2
  echo "$out" | rps
}
echo "== Apache, static file, no Palisade"
a=$(measure alone http://127.0.0.1:18181/)
echo "== Apache, static file, every request asked of Palisade (mod_authnz_fcgi)"
b=$(measure fcgi http://127.0.0.1:18182/)
echo "== Apache, static file, every request asked of Palisade (mod_palisade)"
c=$(measure module http://127.0.0.1:18183/)
echo "mod_authnz_fcgi / alone = $b / $a = $(( 100 * b / a ))%"
echo "mod_palisade    / alone = $c / $a = $(( 100 * c / a ))%"

# Half load: wrk again, each of its 64 connections pausing between requests
# so that together they send about half of Apache alone's rate (a paced
# closed loop: wrk cannot send open loop; bench/load can, but cannot set the
# Host header Palisade judges, and costs more CPU than wrk on two cores).
half=$(( a / 2 )); pause=$(( 64 * 1000 / (half > 0 ? half : 1) ))
echo "function delay() return $pause end" > "$work/pace.lua"
echo "== about half of Apache alone's rate ($half req/s: 64 connections, ${pause} ms between requests)"
for port in 18181 18183; do
  u0=$(unanswered)
  echo "-- 127.0.0.1:$port"
  wrk -t2 -c64 -d"$DURATION" --latency -s "$work/pace.lua" -H "Host: bench.example.com" -H "User-Agent: $ua" -H "Accept: text/html" \
      -H "Accept-Language: en" -H "Accept-Encoding: gzip" "http://127.0.0.1:$port/" | grep -E "Requests/sec|50%|90%|99%|Non-2xx"
  echo "served unanswered (fail-open): $(( $(unanswered) - u0 ))"
done
