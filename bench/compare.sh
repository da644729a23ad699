#!/usr/bin/env bash
# Every load case side by side, in one interleaved run (round 1 runs every
# case, then round 2 every case, ...), on loopback only; prints a table of
# req/s (median of the rounds), p50, p99 and the ratio of each case to its
# reference, then the targets of issue 21 as met or not met.
#
#   bash bench/compare.sh                              # 3 rounds x 10 s per case
#   DURATION=3s ROUNDS=1 bash bench/compare.sh         # a quick look
#   CASES='^(bare|fa-)' bash bench/compare.sh          # a subset (grep -E on the case names)
#   REV=HEAD bash bench/compare.sh                     # what is committed, not the working tree
#
# Knobs: DURATION (10s), ROUNDS (3), CASES (all), CONNS (64), THREADS (wrk
# threads, 1), LAT_ROUNDS (rounds of the open-loop latency run, 3; each
# DURATION long, after a warm-up of LAT_WARMUP seconds, 3), LAT_CONNS (the
# open loop's most requests in flight: CONNS, as wrk's), KEEP=1 keeps the run's directory (wrk's raw output), REV (a
# git revision: the run builds and uses that revision's code and
# configurations, exported with git archive into the run's directory).
#
# With at least two cores every server runs on core 0 (Go servers with
# GOMAXPROCS=1, nginx with one worker, Apache with one child, HAProxy with
# one thread) and wrk (and bench/load) on the last core; with one core
# nothing is pinned. Needs wrk and Go; nginx (nginx-light), apache2 (and
# apache2-dev for the native module), haproxy: cases whose server is
# missing are skipped, and said so. The website is a new one with default
# settings (the website firewall on), except the built-in grant self_calls,
# switched off: every load comes from 127.0.0.1, which through a web server
# on the same machine is the site calling itself and would be granted
# without a decision.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
CASES=${CASES:-.}
CONNS=${CONNS:-64}
THREADS=${THREADS:-1}
LAT_ROUNDS=${LAT_ROUNDS:-3}
LAT_WARMUP=${LAT_WARMUP:-3}
LAT_CONNS=${LAT_CONNS:-$CONNS}
case "$DURATION" in
  *[0-9]s) secs=${DURATION%s} ;; *[0-9]m) secs=$(( ${DURATION%m} * 60 )) ;; *[0-9]) secs=$DURATION ;;
  *) echo "DURATION=$DURATION: give seconds (10s) or minutes (1m)"; exit 1 ;;
esac
case "$secs" in ''|*[!0-9]*) echo "DURATION=$DURATION: give whole seconds (10s) or minutes (1m)"; exit 1 ;; esac
case "$ROUNDS$CONNS$THREADS$LAT_ROUNDS$LAT_WARMUP$LAT_CONNS" in *[!0-9]*) echo "ROUNDS, CONNS, THREADS, LAT_ROUNDS, LAT_WARMUP and LAT_CONNS are whole numbers"; exit 1 ;; esac
[ "$LAT_ROUNDS" -ge 1 ] && [ "$LAT_WARMUP" -le 60 ] || { echo "LAT_ROUNDS ≥ 1 and LAT_WARMUP at most 60, please"; exit 1; }
[ "$ROUNDS" -ge 1 ] && [ "$secs" -ge 1 ] && [ "$secs" -le 300 ] || { echo "ROUNDS ≥ 1 and DURATION between 1s and 5m, please"; exit 1; }

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk): nothing to measure with"; exit 1; }
command -v go >/dev/null || { echo "go is not installed"; exit 1; }
command -v curl >/dev/null || { echo "curl is not installed (apt-get install curl)"; exit 1; }
command -v taskset >/dev/null || { echo "taskset is not installed (apt-get install util-linux)"; exit 1; }
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$1" ]; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
APACHE=$(command -v apache2 || echo /usr/sbin/apache2)
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
APXS=$(command -v apxs || command -v apxs2 || true)
have "$NGINX" || { echo "nginx is not installed (apt-get install nginx-light): skipping the nginx cases"; NGINX=; }
have "$APACHE" || { echo "apache2 is not installed (apt-get install apache2): skipping the Apache cases"; APACHE=; }
have "$HAPROXY" || { echo "haproxy is not installed (apt-get install haproxy): skipping the HAProxy cases"; HAPROXY=; }

cores=$(nproc)
if [ "$cores" -ge 2 ]; then
  SRV="taskset -c 0"; LOAD="taskset -c $((cores - 1))"
  echo "pinning: servers on core 0, wrk and bench/load on core $((cores - 1)) (of $cores)"
else
  SRV=""; LOAD=""
  echo "only one core: nothing is pinned; servers and load generator share it, so the figures say little"
fi

work=$(mktemp -d /tmp/palisade-compare.XXXXXX)
chmod 755 "$work"
pids=()
daemons=() # servers that detach (Apache): counted in the CPU figures, stopped their own way
if [ -n "${REV:-}" ]; then
  mkdir "$work/src"
  git archive "$REV" | tar -x -C "$work/src" || { rm -rf "$work"; echo "REV=$REV: git archive failed"; exit 1; }
  echo "building and running $(git rev-parse --short "$REV") (REV=$REV), not the working tree"
  cd "$work/src"
fi
export COMPARE_DIR=$PWD/bench/compare
cleanup() {
  for f in "$work"/apache-*/httpd.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true; done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Ports, all on 127.0.0.1.
P_BARE=28090 P_PAL=28080 P_FCGI=28081 P_SPOE=28082 P_PROXY=28083 P_REUSE=28084 P_FLOOR=28085
P_NG_STATIC=28101 P_NG_AR_BARE=28102 P_NG_PAL=28103 P_NG_PAL_CACHE=28104 P_NG_PROXY=28105 P_NG_CONF_BARE=28106
P_AP_STATIC=28181 P_AP_FCGI=28182 P_AP_MOD=28183
P_HA_BARE=28201 P_HA_SPOE=28202
for p in $P_BARE $P_PAL $P_FCGI $P_SPOE $P_PROXY $P_FLOOR $P_NG_STATIC $P_NG_AR_BARE $P_NG_PAL $P_NG_PAL_CACHE $P_NG_PROXY $P_NG_CONF_BARE \
         $P_AP_STATIC $P_AP_FCGI $P_AP_MOD $P_HA_BARE $P_HA_SPOE; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "port $p on 127.0.0.1 is in use: stop what listens there"; exit 1; fi
done

echo "building palisade, bench/bare, bench/load and the helpers"
go build -o "$work/palisade" ./cmd/palisade
go build -o "$work/bare" ./bench/bare
[ -d bench/floor ] && go build -o "$work/floor" ./bench/floor # (REV may name a build without it)
go build -o "$work/load" ./bench/load
go build -o "$work/clearance" ./bench/compare/clearance
go build -o "$work/table" ./bench/compare/table

waitfor() { # URL [Host]: until it answers (anything but a refused connection)
  for _ in $(seq 1 100); do
    curl -s -o /dev/null -H "Host: ${2:-bench.example.com}" "$1" && return 0
    sleep 0.1
  done
  echo "$1 does not answer"; return 1
}

# ---- Go servers: bare, Palisade (HTTP, FastCGI, SPOE), Palisade's proxy
plane=(--data-dir "$work/data" --log-level error --bot-refresh 0 --verify-rdns=false --web-bot-auth=false)
GOMAXPROCS=1 $SRV "$work/bare" -addr 127.0.0.1:$P_BARE & pids+=($!)
# --reuse-addr where the build has it (REV may name an older one). Not a
# pipe into grep -q: under pipefail, serve -h's exit status (2) or its
# SIGPIPE would fail the test, and nginx's reports would then go to a port
# nobody listens on (an error log line per reused grant).
reuse=(); serve_help=$("$work/palisade" serve -h 2>&1 || true)
case "$serve_help" in *-reuse-addr*) reuse=(--reuse-addr 127.0.0.1:$P_REUSE) ;; esac
# nginx's reports go to a file since --reuse-file (palisade.conf's path,
# replaced below by the run's own).
case "$serve_help" in *-reuse-file*) reuse+=(--reuse-file "$work/reuse.log") ;; esac
GOMAXPROCS=1 $SRV "$work/palisade" serve --addr 127.0.0.1:$P_PAL --fastcgi-addr 127.0.0.1:$P_FCGI --spoe-addr 127.0.0.1:$P_SPOE \
  "${reuse[@]}" "${plane[@]}" >"$work/serve.log" 2>&1 & pids+=($!)
waitfor http://127.0.0.1:$P_BARE/
for i in $(seq 1 200); do curl -fs http://127.0.0.1:$P_PAL/healthz >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs http://127.0.0.1:$P_PAL/healthz >/dev/null 2>&1 || { echo "palisade serve did not start:"; cat "$work/serve.log"; exit 1; }
key=$("$work/palisade" partner create --name bench --data-dir "$work/data" 2>/dev/null | awk '/^api_key:/ {print $2}')
site=$(curl -fs -H "Authorization: Bearer $key" -d domain=bench.example.com http://127.0.0.1:$P_PAL/website)
export PALISADE_KEY=$(printf '%s' "$site" | sed -E 's/.*"server_key":"([^"]+)".*/\1/')
[ -n "$PALISADE_KEY" ] || { echo "could not create the website: $site"; exit 1; }
curl -fs -X PUT -H "Authorization: Bearer $key" -H "Content-Type: application/json" \
  -d '{"builtins":{"self_calls":false}}' http://127.0.0.1:$P_PAL/v1/websites/bench.example.com/settings >/dev/null
echo "website bench.example.com: default settings but self_calls off: $(curl -fs -H "Authorization: Bearer $key" http://127.0.0.1:$P_PAL/v1/websites/bench.example.com/settings | head -c 300)"
GOMAXPROCS=1 $SRV "$work/palisade" proxy --addr 127.0.0.1:$P_PROXY --upstream http://127.0.0.1:$P_BARE --site bench.example.com \
  "${plane[@]}" >"$work/proxy.log" 2>&1 & pids+=($!)
waitfor http://127.0.0.1:$P_PROXY/
# bench/floor: the least a Go proxy does per request (no decision, bytes
# passed as they come), to tell the Go runtime's share of the gap between
# palisade proxy and nginx's proxy_pass from Palisade's own.
if [ -x "$work/floor" ]; then
  GOMAXPROCS=1 $SRV "$work/floor" -addr 127.0.0.1:$P_FLOOR -upstream 127.0.0.1:$P_BARE >"$work/floor.log" 2>&1 & pids+=($!)
  waitfor http://127.0.0.1:$P_FLOOR/
fi
sleep 2   # the settings reach both engines (config poll: 1 s)
CLEARANCE=$("$work/clearance" -url http://127.0.0.1:$P_PAL -key "$PALISADE_KEY" -ip 203.0.113.50 -ua curl/8.5.0) || CLEARANCE=
[ -n "$CLEARANCE" ] || echo "warning: no clearance: fa-cleared will be challenged (the table will say so)"
export CLEARANCE

# ---- the static site: a 5.5 KB page and the 20 assets bench/compare/page.lua asks for.
# The static-file cases ask for /index.html: "/" is the same file through the
# index (nginx's index module, Apache's mod_dir), an internal redirect that
# asks Palisade a second time (nginx auth_request, mod_authnz_fcgi); the page
# case asks for "/" as a browser does.
htdocs=$work/htdocs
mkdir -p "$htdocs/assets/css" "$htdocs/assets/js" "$htdocs/assets/img" "$htdocs/assets/icons" "$htdocs/assets/fonts"
head -c 4096 /dev/urandom | base64 >"$htdocs/index.html"
asset() { head -c "$2" /dev/urandom >"$htdocs/assets/$1"; }
asset css/style.css 24000; asset css/theme.css 6000
asset js/vendor.js 60000; asset js/app.js 20000; asset js/cart.js 6000; asset js/gallery.js 8000; asset js/analytics.js 3000
asset img/hero.png 40000; asset img/product-1.png 12000; asset img/product-2.png 12000; asset img/product-3.png 12000
asset img/product-4.png 12000; asset img/logo.png 4000
for i in cart search user menu; do asset icons/$i.svg 1200; done
asset fonts/inter-regular.woff2 22000; asset fonts/inter-bold.woff2 22000; asset fonts/serif.woff2 18000
chmod -R a+rX "$work"

# ---- nginx: one worker, five servers
cachenote=""
if [ -n "$NGINX" ]; then
  ng=$work/nginx; mkdir -p "$ng"
  sub() { sed -e "s#127.0.0.1:8080#127.0.0.1:$P_PAL#g" -e "s#/var/cache/nginx-palisade#$ng/cache#g" -e "s#127.0.0.1:9514#127.0.0.1:$P_REUSE#g" -e "s#/var/log/palisade/reuse.log#$work/reuse.log#g" "$@"; }
  sub deploy/nginx/palisade-upstream.conf >"$ng/palisade-upstream.conf"
  sub deploy/nginx/palisade.conf >"$ng/palisade.conf"
  # The shipped palisade.conf with bench/bare (204, no headers) where
  # Palisade would be: what target 3 can reach at most with it, nginx's own
  # work for the snippet counted, Palisade's not.
  sed -e 's#http://palisade#http://bare#g' "$ng/palisade.conf" >"$ng/palisade-onbare.conf"
  # The grant cache is opt-in: palisade-static.conf in a location that serves
  # files only, as deploy/nginx/nginx.conf shows.
  static_loc=""
  pass_inc=""
  if [ -f deploy/nginx/palisade-pass.conf ]; then
    sub deploy/nginx/palisade-pass.conf >"$ng/palisade-pass.conf"
    pass_inc="include palisade-pass.conf;"
  fi
  if [ -f deploy/nginx/palisade-static.conf ]; then
    sub deploy/nginx/palisade-static.conf >"$ng/palisade-static.conf"
    static_loc='location ~* \.(?:css|js|mjs|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf)$ { include palisade-static.conf; try_files $uri =404; }'
    cachenote="grant cache: palisade-static.conf in the assets' location, as deploy/nginx/nginx.conf shows; the page itself through palisade.conf${pass_inc:+, with palisade-pass.conf (the asset pass)}"
  else
    cachenote="no cache config found (deploy/nginx/palisade-static.conf): the 'cache' case runs palisade.conf alone"
  fi
  echo "nginx: $cachenote"
  user=""; [ "$(id -u)" = 0 ] && user="user root;"
  cat >"$ng/nginx.conf" <<EOF
$user
worker_processes 1;
pid $ng/nginx.pid;
error_log $ng/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    types { text/html html; text/css css; application/javascript js; image/png png; image/svg+xml svg; font/woff2 woff2; }
    default_type application/octet-stream;
    client_body_temp_path $ng/body; proxy_temp_path $ng/proxy; fastcgi_temp_path $ng/fastcgi;
    uwsgi_temp_path $ng/uwsgi; scgi_temp_path $ng/scgi;
    include palisade-upstream.conf;
    upstream bare { server 127.0.0.1:$P_BARE; keepalive 64; }

    # the static file alone
    server { listen 127.0.0.1:$P_NG_STATIC; server_name bench.example.com; root $htdocs; }

    # auth_request to bench/bare (204): the cost of auth_request itself
    server {
        listen 127.0.0.1:$P_NG_AR_BARE; server_name bench.example.com; root $htdocs;
        auth_request /_auth;
        location = /_auth {
            internal;
            proxy_pass http://bare;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }

    # auth_request to Palisade: the shipped palisade.conf
    server {
        listen 127.0.0.1:$P_NG_PAL; server_name bench.example.com; root $htdocs;
        set \$palisade_key "$PALISADE_KEY";
        include palisade.conf;
    }

    # the shipped palisade.conf in front of bench/bare: target 3's ceiling
    server {
        listen 127.0.0.1:$P_NG_CONF_BARE; server_name bench.example.com; root $htdocs;
        set \$palisade_key "$PALISADE_KEY";
        include palisade-onbare.conf;
    }

    # the same with the grant cache for the assets (palisade-static.conf)
    # and the asset pass (palisade-pass.conf), where the build has them
    server {
        listen 127.0.0.1:$P_NG_PAL_CACHE; server_name bench.example.com; root $htdocs;
        set \$palisade_key "$PALISADE_KEY";
        include palisade.conf;
        $pass_inc
        $static_loc
    }

    # proxy_pass to bench/bare, upstream keepalive, with the headers a
    # production proxy sets for its upstream, which palisade proxy sets too
    # (the client's address, the host, the scheme; a visitor's Forwarded
    # dropped): both send bench/bare the same request.
    server {
        listen 127.0.0.1:$P_NG_PROXY; server_name bench.example.com;
        location / { proxy_pass http://bare; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
                     proxy_set_header X-Forwarded-For \$remote_addr; proxy_set_header X-Real-IP \$remote_addr;
                     proxy_set_header X-Forwarded-Host \$host; proxy_set_header X-Forwarded-Proto \$scheme; proxy_set_header Forwarded ""; }
    }
}
EOF
  if "$NGINX" -t -p "$ng" -c "$ng/nginx.conf" >"$ng/test.log" 2>&1; then
    $SRV "$NGINX" -p "$ng" -c "$ng/nginx.conf" -g "daemon off;" 2>>"$ng/error.log" & pids+=($!)
    waitfor http://127.0.0.1:$P_NG_STATIC/
  else
    echo "nginx -t refused the configuration, skipping the nginx cases:"; cat "$ng/test.log"; NGINX=
  fi
fi

# ---- Apache: one instance per variant (one child of 64 threads each)
MODNOTE=""
apache_start() { # NAME PORT EXTRA-CONFIG
  local d=$work/apache-$1
  mkdir -p "$d/logs"
  {
    echo "ServerRoot $d"; echo "PidFile $d/httpd.pid"; echo "Listen 127.0.0.1:$2"; echo "ServerName bench.example.com"
    for m in mpm_event authz_core authn_core authz_user authnz_fcgi mime dir env setenvif headers proxy proxy_http rewrite lua; do
      echo "LoadModule ${m}_module /usr/lib/apache2/modules/mod_${m}.so"
    done
    [ "$(id -u)" = 0 ] && { echo "User www-data"; echo "Group www-data"; }
    echo "ErrorLog $d/logs/error.log"; echo "LogLevel error"; echo "TypesConfig /etc/mime.types"
    echo "DocumentRoot $htdocs"; echo "DirectoryIndex index.html"
    echo "<Directory $htdocs>"; echo "  Require all granted"; echo "</Directory>"
    echo "StartServers 1"; echo "ServerLimit 1"; echo "ThreadLimit 64"; echo "ThreadsPerChild 64"; echo "MaxRequestWorkers 64"
    echo "MinSpareThreads 1"; echo "MaxSpareThreads 128"
    printf '%s\n' "$3"
  } >"$d/httpd.conf"
  if ! "$APACHE" -f "$d/httpd.conf" -t >"$d/test.log" 2>&1; then
    echo "apache2 -t refused the $1 configuration:"; cat "$d/test.log"; return 1
  fi
  $SRV "$APACHE" -f "$d/httpd.conf" -k start
  waitfor "http://127.0.0.1:$2/"
  # Apache runs as a daemon: its main process (for the CPU figures).
  [ -s "$d/httpd.pid" ] && daemons+=("$(cat "$d/httpd.pid")")
}
if [ -n "$APACHE" ]; then
  apconf=$work/apache-conf; mkdir -p "$apconf"
  for f in palisade.conf palisade-unreachable.lua; do
    sed -e "s#/etc/apache2/palisade/#$apconf/#g" -e "s#fcgi://127.0.0.1:9081/#fcgi://127.0.0.1:$P_FCGI/#" \
        -e "s#http://127.0.0.1:8080/#http://127.0.0.1:$P_PAL/#g" "deploy/apache/$f" >"$apconf/$f"
  done
  chmod -R a+rX "$apconf"
  apache_start static $P_AP_STATIC "" || APACHE=
fi
if [ -n "$APACHE" ]; then
  apache_start fcgi $P_AP_FCGI "Include $apconf/palisade.conf" || true
  # The native module, built here from its source when it exists.
  if [ -f deploy/apache/mod_palisade/mod_palisade.c ] && [ -f deploy/apache/palisade-module.conf ]; then
    if [ -z "$APXS" ]; then
      MODNOTE="apxs is missing (apt-get install apache2-dev): the native module's case is skipped"
    else
      mkdir -p "$work/mod"
      cp deploy/apache/mod_palisade/*.c "$work/mod/"
      if (cd "$work/mod" && "$APXS" -c -o mod_palisade.so mod_palisade.c) >"$work/mod/build.log" 2>&1; then
        so=$(find "$work/mod" -name 'mod_palisade.so' -path '*.libs*' | head -1)
        [ -n "$so" ] || so=$(find "$work/mod" -name 'mod_palisade.so' | head -1)
        sed -e "s#http://127.0.0.1:8080#http://127.0.0.1:$P_PAL#g" -e "s#/usr/lib/apache2/modules/mod_palisade.so#$so#g" \
            deploy/apache/palisade-module.conf >"$apconf/palisade-module.conf"
        chmod -R a+rX "$work/mod" "$apconf"
        loadline=""; grep -q "LoadModule palisade_module" "$apconf/palisade-module.conf" || loadline="LoadModule palisade_module $so"
        reportline=""; grep -q '"PalisadeReuseReport"' deploy/apache/mod_palisade/mod_palisade.c && reportline="PalisadeReuseReport 127.0.0.1:$P_REUSE"
        if apache_start module $P_AP_MOD "$loadline
Include $apconf/palisade-module.conf
<VirtualHost 127.0.0.1:$P_AP_MOD>
    ServerName bench.example.com
    Palisade On
    PalisadeKey $PALISADE_KEY
    $reportline
</VirtualHost>"; then
          MODNOTE="native module built from deploy/apache/mod_palisade (apxs -c)"
        else
          MODNOTE="the native module was built but Apache refused its configuration: its case is skipped"
        fi
      else
        MODNOTE="apxs -c failed on deploy/apache/mod_palisade/mod_palisade.c: its case is skipped"; tail -20 "$work/mod/build.log"
      fi
    fi
  else
    MODNOTE="no native module source (deploy/apache/mod_palisade/mod_palisade.c, deploy/apache/palisade-module.conf): its case is skipped"
  fi
  echo "Apache: $MODNOTE"
fi

# ---- HAProxy: one thread; a frontend straight to bench/bare, and the shipped frontend with Palisade's SPOE
if [ -n "$HAPROXY" ]; then
  ha=$work/haproxy; mkdir -p "$ha"
  cp deploy/haproxy/palisade-spoe.conf "$ha/palisade-spoe.conf"
  cp deploy/haproxy/palisade-fail-closed.lst "$ha/palisade-fail-closed.lst"
  {
    printf 'global\n    nbthread 1\n    maxconn 4096\n    log stderr format short local0 err\n\n'
    printf 'defaults\n    log global\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s\n\n'
    printf 'frontend alone\n    mode http\n    bind 127.0.0.1:%s\n    default_backend sites\n\n' $P_HA_BARE
    sed -e "s#/etc/haproxy/palisade-spoe.conf#$ha/palisade-spoe.conf#" -e "s#/etc/haproxy/palisade-fail-closed.lst#$ha/palisade-fail-closed.lst#" \
        -e "s#bind :80#bind 127.0.0.1:$P_HA_SPOE#" -e "s#server web1 127.0.0.1:8000#server web1 127.0.0.1:$P_BARE#" \
        -e "s#server palisade 127.0.0.1:9082#server palisade 127.0.0.1:$P_SPOE#" -e "s#server palisade 127.0.0.1:8080#server palisade 127.0.0.1:$P_PAL#" \
        deploy/haproxy/palisade-frontend.cfg
  } >"$ha/haproxy.cfg"
  if "$HAPROXY" -c -f "$ha/haproxy.cfg" >"$ha/test.log" 2>&1; then
    $SRV "$HAPROXY" -db -f "$ha/haproxy.cfg" >"$ha/haproxy.log" 2>&1 & pids+=($!)
    waitfor http://127.0.0.1:$P_HA_BARE/
  else
    echo "haproxy -c refused the configuration, skipping the HAProxy cases:"; cat "$ha/test.log"; HAPROXY=
  fi
fi

# ---- the cases: name, reference, expected answers, description, URL, wrk script, FA_KIND
cases=()
addcase() { printf '%s\n' "$1" | grep -Eq -- "$CASES" && cases+=("$1|$2|$3|$4|$5|$6|${7:-}") || true; }
addcase bare "" 2xx "bench/bare (Go, 204), sent forward-auth's browser request" http://127.0.0.1:$P_BARE/ forwardauth.lua grant
addcase fa-grant bare 2xx "forward-auth: Chrome, granted (200)" http://127.0.0.1:$P_PAL/forward-auth/nginx forwardauth.lua grant
addcase fa-challenge bare 4xx "forward-auth: curl, challenged (401)" http://127.0.0.1:$P_PAL/forward-auth/nginx forwardauth.lua challenge
addcase fa-deny bare 4xx "forward-auth: ClaudeBot, denied (403)" http://127.0.0.1:$P_PAL/forward-auth/nginx forwardauth.lua deny
addcase fa-cleared bare 2xx "forward-auth: curl with a clearance cookie (200)" http://127.0.0.1:$P_PAL/forward-auth/nginx forwardauth.lua cleared
addcase proxy nginx-proxy 2xx "palisade proxy → bench/bare, Chrome" http://127.0.0.1:$P_PROXY/ browser.lua
[ -x "$work/floor" ] && addcase go-floor nginx-proxy 2xx "bench/floor → bench/bare: the least a Go proxy does (for reference)" http://127.0.0.1:$P_FLOOR/ browser.lua
if [ -n "$NGINX" ]; then
  addcase nginx-proxy bare 2xx "nginx proxy_pass → bench/bare (keepalive 64)" http://127.0.0.1:$P_NG_PROXY/ browser.lua
  addcase nginx-static "" 2xx "nginx, 5.5 KB static file" http://127.0.0.1:$P_NG_STATIC/index.html browser.lua
  addcase nginx-authreq-bare nginx-static 2xx "nginx auth_request → bench/bare, static file" http://127.0.0.1:$P_NG_AR_BARE/index.html browser.lua
  addcase nginx-authreq-palisade nginx-authreq-bare 2xx "nginx auth_request → Palisade (shipped palisade.conf), static file" http://127.0.0.1:$P_NG_PAL/index.html browser.lua
  addcase nginx-authreq-conf-bare nginx-authreq-bare 2xx "nginx auth_request, shipped palisade.conf → bench/bare (204): target 3's ceiling (for reference)" http://127.0.0.1:$P_NG_CONF_BARE/index.html browser.lua
  addcase nginx-page "" 2xx "nginx alone, page + 20 assets" http://127.0.0.1:$P_NG_STATIC/ page.lua
  addcase nginx-page-palisade nginx-page 2xx "nginx + Palisade (palisade.conf alone), page + 20 assets" http://127.0.0.1:$P_NG_PAL/ page.lua
  addcase nginx-page-palisade-cache nginx-page 2xx "nginx + Palisade, grant cache for the assets (palisade-static.conf), page + 20 assets" http://127.0.0.1:$P_NG_PAL_CACHE/ page.lua
fi
if [ -n "$APACHE" ]; then
  addcase apache-static "" 2xx "Apache alone, 5.5 KB static file" http://127.0.0.1:$P_AP_STATIC/index.html browser.lua
  [ -f "$work/apache-fcgi/httpd.pid" ] && addcase apache-fcgi apache-static 2xx "Apache + Palisade, mod_authnz_fcgi (palisade.conf), static file" http://127.0.0.1:$P_AP_FCGI/index.html browser.lua
  [ -f "$work/apache-module/httpd.pid" ] && addcase apache-module apache-static 2xx "Apache + Palisade, native module (mod_palisade), static file" http://127.0.0.1:$P_AP_MOD/index.html browser.lua
fi
if [ -n "$HAPROXY" ]; then
  addcase haproxy-bare bare 2xx "HAProxy → bench/bare" http://127.0.0.1:$P_HA_BARE/ browser.lua
  addcase haproxy-spoe haproxy-bare 2xx "HAProxy + Palisade SPOE → bench/bare" http://127.0.0.1:$P_HA_SPOE/ browser.lua
fi
[ ${#cases[@]} -gt 0 ] || { echo "CASES='$CASES' matches no case"; exit 1; }
: >"$work/cases.tsv"
for c in "${cases[@]}"; do IFS='|' read -r name ref expect desc _ <<<"$c"; printf '%s\t%s\t%s\t%s\n' "$name" "$ref" "$expect" "$desc" >>"$work/cases.tsv"; done

# Palisade must be in the path of every case that says it is: curl's request is challenged there.
: >"$work/guard.tsv"
for c in "${cases[@]}"; do
  IFS='|' read -r name _ _ desc url _ _ <<<"$c"
  case "$name" in fa-*|bare|go-floor|nginx-authreq-conf-bare|nginx-static|nginx-page|nginx-authreq-bare|nginx-proxy|apache-static|haproxy-bare) continue ;; esac
  code=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -A curl/8.5.0 -H "Accept: */*" -H "Host: bench.example.com" "$url" || true)
  printf '%s\t%s\n' "$name" "$code" >>"$work/guard.tsv"
  case "$code" in 4*) ;; *) echo "warning: $name: curl's request answered $code, not challenged: is Palisade in the path?" ;; esac
done

# The verdicts of the forward-auth cases, by the action Palisade names (the
# warm-up below only tells 2xx from the rest: a challenge is 401 and a deny
# 403 on the nginx endpoint).
fa_action() { # UA REAL-IP [COOKIE]
  curl -s -o /dev/null -D - -m 5 -H "X-Palisade-Key: $PALISADE_KEY" -H "X-Original-Uri: /products/42" -H "X-Original-Method: GET" \
    -H "X-Original-Host: bench.example.com" -H "X-Original-Protocol: HTTP/1.1" -H "X-Real-IP: $2" -A "$1" -H "Accept: */*" \
    http://127.0.0.1:$P_PAL/forward-auth/nginx | awk -F': ' 'tolower($1) == "x-palisade-action" {gsub(/\r/, "", $2); print $2}'
}
for c in "${cases[@]}"; do
  IFS='|' read -r name _ _ _ _ _ kind <<<"$c"
  case "$name" in
  fa-challenge) got=$(fa_action curl/8.5.0 203.0.113.50); want=challenge ;;
  fa-deny) got=$(fa_action "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)" 198.51.100.9); want=deny ;;
  *) continue ;;
  esac
  [ "$got" = "$want" ] || echo "warning: $name: Palisade answers $got, not $want (the case does not measure what it says)"
done

# A 2-second warm-up of each case, which also checks the answers it must give.
for c in "${cases[@]}"; do
  IFS='|' read -r name _ expect _ url script kind <<<"$c"
  FA_KIND=$kind timeout 20 $LOAD wrk -t"$THREADS" -c"$CONNS" -d2s -s "$COMPARE_DIR/$script" "$url" >"$work/check.$name" 2>&1 || true
  non=$(awk '/Non-2xx/ {print $NF}' "$work/check.$name"); non=${non:-0}
  n=$(awk '/requests in/ {print $1}' "$work/check.$name"); n=${n:-0}
  if [ "$n" = 0 ] || { [ "$expect" = 2xx ] && [ "$non" != 0 ]; } || { [ "$expect" = 4xx ] && [ "$non" != "$n" ]; }; then
    echo "warning: $name: $n requests, $non not 2xx, want $expect (the table will say so)"
  fi
done

echo "running ${#cases[@]} cases × $ROUNDS rounds × $DURATION (about $(( ${#cases[@]} * ROUNDS * (secs + 2) / 60 + 1 )) min), wrk -t$THREADS -c$CONNS"
decisions() { curl -s -m 5 http://127.0.0.1:$P_PAL/metrics | awk '/^palisade_decisions_total/ {s += $NF} END {printf "%d", s}'; }
reused() { curl -s -m 5 http://127.0.0.1:$P_PAL/metrics | awk '/^palisade_reuse_requests_total/ {s += $NF} END {printf "%d", s}'; }
# The CPU time (clock ticks, user + system) every server has used so far,
# one "pid command ticks" line per server: each started server with the
# children it reaped (nginx's and Apache's workers that ended) and those
# still running. Servers that a case does not use are idle, so the growth
# of the lines' sum during a run is the case's own cost on core 0, which a
# busy or throttled machine's steal does not inflate as it does req/s; a
# KEEP=1 run keeps the lines (which server the time went to).
tree() { # PID: it and every process below it
  echo "$1"
  local c
  for c in $(pgrep -P "$1" 2>/dev/null); do tree "$c"; done
}
ticks() { # PID: its user + system ticks and those of the children it reaped
  local f
  f=$(cut -d')' -f2- "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  set -- $f; echo $(( ${12} + ${13} + ${14} + ${15} ))
}
srvcpu() { # FILE: the lines into FILE; prints their sum
  local p q t
  for p in "${pids[@]}" "${daemons[@]}"; do
    [ -r "/proc/$p/cmdline" ] || continue
    t=0; for q in $(tree "$p"); do t=$(( t + $(ticks "$q") )); done
    echo "$p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-60) $t"
  done >"$1"
  awk '{s += $NF} END {printf "%d", s}' "$1"
}
echo "$(getconf CLK_TCK)" >"$work/clk_tck"
for r in $(seq 1 "$ROUNDS"); do
  for c in "${cases[@]}"; do
    IFS='|' read -r name _ _ _ url script kind <<<"$c"
    d0=$(decisions); u0=$(reused); c0=$(srvcpu "$work/$name.$r.cpus0")
    FA_KIND=$kind timeout $(( secs + 60 )) $LOAD wrk -t"$THREADS" -c"$CONNS" -d"${secs}s" --latency -s "$COMPARE_DIR/$script" "$url" \
      >"$work/$name.$r.wrk" 2>&1 || echo "wrk failed on $name (round $r)"
    echo "$c0 $(srvcpu "$work/$name.$r.cpus1")" >"$work/$name.$r.cpu"
    echo "$d0 $(decisions)" >"$work/$name.$r.asked"
    if [ "$name" = nginx-page-palisade-cache ]; then
      # The requests nginx served without asking are reported (a buffered
      # file, flushed each second) and counted: check that they all were.
      sleep 2
      echo "$u0 $(reused)" >"$work/$name.$r.reused"
    fi
    printf 'round %s %-26s %7s req/s   (load average %s)\n' "$r" "$name" "$(awk '/Requests\/sec/ {print int($2)}' "$work/$name.$r.wrk")" "$(cut -d' ' -f1 /proc/loadavg)"
    sleep 1
  done
done

# Latency at half of Apache alone's peak, open loop: Apache alone, then with Palisade (module, else mod_authnz_fcgi).
if [ -n "$APACHE" ] && grep -q '^apache-static' "$work/cases.tsv"; then
  peak=$("$work/table" -dir "$work" | awk -F'|' '$2 ~ /^ apache-static / {gsub(/[ ,]/, "", $4); print $4}')
  if [ -n "$peak" ] && [ "$peak" -gt 0 ]; then
    half=$(( peak / 2 )); echo "$half" >"$work/lat.rate"
    hdr=(-H "Host: bench.example.com" -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
         -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
         -H "Accept-Language: en-GB,en-US;q=0.9,en;q=0.8" -H "Accept-Encoding: gzip, deflate, br, zstd"
         -H 'Sec-Ch-Ua: "Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"' -H "Sec-Ch-Ua-Mobile: ?0" -H 'Sec-Ch-Ua-Platform: "Linux"'
         -H "Sec-Fetch-Site: none" -H "Sec-Fetch-Mode: navigate" -H "Sec-Fetch-User: ?1" -H "Sec-Fetch-Dest: document" -H "Upgrade-Insecure-Requests: 1")
    pairs=("apache-static $P_AP_STATIC")
    if grep -q '^apache-module' "$work/cases.tsv"; then pairs+=("apache-module $P_AP_MOD")
    elif grep -q '^apache-fcgi' "$work/cases.tsv"; then pairs+=("apache-fcgi $P_AP_FCGI"); fi
    # A warm-up of each at the rate, not counted: a single run straight
    # after the wrk rounds measured whatever Apache was still doing with
    # wrk's 64 closing connections (one such run: p99 159 ms with the
    # module, 6 ms alone; steady state, the two are within noise). Then
    # LAT_ROUNDS interleaved rounds; the table gives each case's median.
    openloop() { # NAME PORT SECONDS OUTPUT
      timeout $(( $3 + 60 )) $LOAD "$work/load" -url "http://127.0.0.1:$2/index.html" -rate "$half" -conns "$LAT_CONNS" -duration "$3s" "${hdr[@]}" >"$4" 2>&1 || true
      sleep 1
    }
    for pair in "${pairs[@]}"; do
      set -- $pair
      echo "open loop warm-up at $half req/s: $1 (${LAT_WARMUP}s, not counted)"
      openloop "$1" "$2" "$LAT_WARMUP" "$work/lat.$1.warm"
    done
    for r in $(seq 1 "$LAT_ROUNDS"); do
      for pair in "${pairs[@]}"; do
        set -- $pair
        echo "open loop at $half req/s: $1 (round $r)"
        openloop "$1" "$2" "$secs" "$work/lat.$1.$r.load"
      done
    done
  fi
fi

echo
echo "## bench/compare.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), $cores cores ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "wrk -t$THREADS -c$CONNS, $ROUNDS × $DURATION per case, interleaved; $([ -n "$SRV" ] && echo "servers on core 0, load on core $((cores - 1))" || echo "not pinned")"
[ -n "$cachenote" ] && echo "nginx: $cachenote"
[ -n "$MODNOTE" ] && echo "Apache: $MODNOTE"
# An error nginx logs per request (a reuse report nobody receives, an
# unreachable Palisade) costs it more than the request: say so.
if [ -s "$work/nginx/error.log" ]; then
  echo "nginx logged $(wc -l <"$work/nginx/error.log") error lines during the run (the figures of its cases pay for them), e.g.: $(sed -E 's/^[0-9/: ]+\[[a-z]+\] [0-9#]+: (\*[0-9]+ )?//; s/, client: .*//' "$work/nginx/error.log" | sort | uniq -c | sort -rn | head -1)"
fi
for f in "$work"/nginx-page-palisade-cache.*.reused; do
  [ -e "$f" ] || continue
  r=${f%.reused}; r=${r##*.}
  read -r u0 u1 <"$f"; read -r d0 d1 <"$work/nginx-page-palisade-cache.$r.asked"
  n=$(awk '/requests in/ {print $1}' "$work/nginx-page-palisade-cache.$r.wrk")
  echo "nginx-page-palisade-cache round $r: wrk got ${n:-?} answers; Palisade decided $((d1 - d0)) and counted $((u1 - u0)) from nginx's reports, $(( (d1 - d0) + (u1 - u0) - ${n:-0} )) more than wrk got (at most the $CONNS requests in flight when wrk stops, which it does not count)"
done
echo
"$work/table" -dir "$work"
