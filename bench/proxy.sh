#!/usr/bin/env bash
# palisade proxy -> bare Go handler against nginx proxy_pass -> the same bare
# handler, in one run, on loopback only. Needs wrk and nginx.
#
#   bash bench/proxy.sh                     # 3 rounds x 10 s each, medians
#   ROUNDS=1 DURATION=5s bash bench/proxy.sh
#
# Both proxies run on core 0 (GOMAXPROCS=1 for the Go servers; nginx with one
# worker), the bare backend on core 0 too, wrk (2 threads, 64 connections,
# a browser's headers) on core 1. The website firewall is at its default
# setting (block, paranoia 1).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
for c in wrk nginx taskset; do command -v $c >/dev/null || { echo "$c is not installed"; exit 1; }; done
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/palisade" ./cmd/palisade
go build -o "$work/bare" ./bench/bare

GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/bare" -addr 127.0.0.1:27890 & pids+=($!)

# A partner and a website, made through the API of a short-lived serve.
"$work/palisade" serve --addr 127.0.0.1:27880 --data-dir "$work/data" --log-level error >"$work/serve.log" 2>&1 & serve=$!
for _ in $(seq 1 100); do curl -fs http://127.0.0.1:27880/healthz >/dev/null 2>&1 && break; sleep 0.1; done
key=$("$work/palisade" partner create --name bench --data-dir "$work/data" 2>/dev/null | awk '/^api_key:/ {print $2}')
curl -fs -H "Authorization: Bearer $key" -d domain=bench.example.com http://127.0.0.1:27880/website >/dev/null
kill "$serve"; wait "$serve" 2>/dev/null || true

GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$work/palisade" proxy --addr 127.0.0.1:27881 --data-dir "$work/data" \
  --log-level error --grant-sample 0.01 --upstream http://127.0.0.1:27890 --site bench.example.com >"$work/proxy.log" 2>&1 & pids+=($!)

cat >"$work/nginx.conf" <<EOF
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log error;
events { worker_connections 4096; }
http {
  access_log off;
  upstream bare { server 127.0.0.1:27890; keepalive 64; }
  server {
    listen 127.0.0.1:27882 reuseport backlog=4096;
    location / {
      proxy_pass http://bare;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
  }
}
EOF
taskset -c "$SERVER_CPU" nginx -c "$work/nginx.conf" -p "$work" -g 'daemon off;' 2>"$work/nginx.out" & pids+=($!)

for _ in $(seq 1 100); do curl -fs -o /dev/null -H 'Host: bench.example.com' -A 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' -H 'Accept: text/html' -H 'Accept-Language: en' -H 'Accept-Encoding: gzip' http://127.0.0.1:27881/ 2>/dev/null && break; sleep 0.1; done
for port in 27881 27882; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Host: bench.example.com' -A 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' -H 'Accept: text/html' -H 'Accept-Language: en' -H 'Accept-Encoding: gzip' http://127.0.0.1:$port/products/42)
  [ "$code" = 204 ] || { echo "port $port answers $code, not the backend's 204"; cat "$work/proxy.log"; exit 1; }
done

run() { taskset -c "$LOAD_CPU" wrk -t2 -c64 -d"$DURATION" --latency -s bench/proxy.lua "$1"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
declare -a pal ngx
for i in $(seq 1 "$ROUNDS"); do
  out=$(run http://127.0.0.1:27881/products/42); p=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}'); bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "round $i palisade proxy: $p req/s, p50 $p50 ${bad:+non-2xx $bad}"
  pal+=("$p")
  out=$(run http://127.0.0.1:27882/products/42); n=$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')
  p50=$(echo "$out" | awk '$1=="50%" {print $2}'); bad=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
  echo "round $i nginx proxy_pass: $n req/s, p50 $p50 ${bad:+non-2xx $bad}"
  ngx+=("$n")
done
pm=$(printf '%s\n' "${pal[@]}" | median); nm=$(printf '%s\n' "${ngx[@]}" | median)
echo "medians: palisade proxy $pm req/s, nginx proxy_pass $nm req/s, ratio $(awk -v a="$pm" -v b="$nm" 'BEGIN {printf "%.2f", a/b}')"
