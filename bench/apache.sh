#!/usr/bin/env bash
# Apache serving a static file with and without Palisade, in one run, on
# loopback only. Needs Debian's apache2 and wrk (apt-get install apache2 wrk).
#
#   bash bench/apache.sh             # 10 s per measurement
#   DURATION=30s bash bench/apache.sh
#
# One Apache, two vhosts on two ports: the first with Palisade switched off,
# the second protected through deploy/apache/palisade.conf (mod_authnz_fcgi
# asking Palisade's FastCGI authorizer on every request). wrk sends the same
# browser request to both.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)"; exit 1; }
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

go build -o "$work/palisade" ./cmd/palisade
"$work/palisade" serve --addr 127.0.0.1:18180 --fastcgi-addr 127.0.0.1:19181 --data-dir "$work/data" --log-level error >"$work/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:18180/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$("$work/palisade" partner create --name bench --data-dir "$work/data" 2>/dev/null | awk '/^api_key:/ {print $2}')
curl -fs -H "Authorization: Bearer $key" -d domain=bench.example.com http://127.0.0.1:18180/website >/dev/null
sleep 1

mkdir -p "$work/palisade-conf" "$work/htdocs" "$work/logs"
head -c 4096 /dev/urandom | base64 > "$work/htdocs/index.html"   # a 5.5 KB static file
for f in palisade.conf palisade-unreachable.lua; do
  sed -e "s#/etc/apache2/palisade/#$work/palisade-conf/#g" -e "s#fcgi://127.0.0.1:9081/#fcgi://127.0.0.1:19181/#" \
      -e "s#http://127.0.0.1:8080/#http://127.0.0.1:18180/#g" "deploy/apache/$f" > "$work/palisade-conf/$f"
done
chmod -R a+rX "$work"
mods=/usr/lib/apache2/modules
{
  echo "ServerRoot $work"; echo "PidFile $work/httpd.pid"; echo "Listen 127.0.0.1:18181"; echo "Listen 127.0.0.1:18182"
  echo "ServerName localhost"
  for m in mpm_event authz_core authn_core authz_user authnz_fcgi mime dir env setenvif headers proxy proxy_http rewrite lua; do
    echo "LoadModule ${m}_module $mods/mod_${m}.so"
  done
  [ "$(id -u)" = 0 ] && { echo "User www-data"; echo "Group www-data"; }
  echo "ErrorLog $work/logs/error.log"; echo "LogLevel error"; echo "TypesConfig /etc/mime.types"
  echo "DocumentRoot $work/htdocs"; echo "DirectoryIndex index.html"
  echo "<IfModule mpm_event_module>"; echo "  ThreadsPerChild 64"; echo "  MaxRequestWorkers 256"; echo "</IfModule>"
  echo "Include $work/palisade-conf/palisade.conf"
  echo "<VirtualHost 127.0.0.1:18181>"; echo "  ServerName bench.example.com"
  echo "  <Location \"/\">"; echo "    AuthnzFcgiCheckAuthnProvider None"; echo "    Require all granted"; echo "  </Location>"
  echo "</VirtualHost>"
  echo "<VirtualHost 127.0.0.1:18182>"; echo "  ServerName bench.example.com"; echo "</VirtualHost>"
} > "$work/httpd.conf"
/usr/sbin/apache2 -f "$work/httpd.conf" -k start
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:18182/ -H "Host: bench.example.com" && break; sleep 0.1; done

ua="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
run() {
  wrk -t2 -c64 -d"$DURATION" --latency -H "Host: bench.example.com" -H "User-Agent: $ua" -H "Accept: text/html" \
      -H "Accept-Language: en" -H "Accept-Encoding: gzip" "$1"
}
rps() { awk '/Requests\/sec/ {print int($2)}'; }
echo "== Apache, static file, no Palisade"
plain=$(run http://127.0.0.1:18181/); echo "$plain" | grep -E "Requests/sec|50%|99%|Non-2xx"
echo "== Apache, static file, every request asked of Palisade (mod_authnz_fcgi)"
t0=$(ps -o cputime= -p "${pids[0]}"); prot=$(run http://127.0.0.1:18182/); echo "$prot" | grep -E "Requests/sec|50%|99%|Non-2xx"; echo "palisade CPU time before/after: $t0 / $(ps -o cputime= -p "${pids[0]}")"
a=$(echo "$plain" | rps); b=$(echo "$prot" | rps)
echo "with Palisade / without = $b / $a = $(( 100 * b / a ))%"
