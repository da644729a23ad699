-- wrk script: one client asked about through /forward-auth/nginx with the
-- headers nginx's auth_request sends; its user agent from UA (a browser,
-- curl, ClaudeBot: granted, challenged, denied by the default policy), its
-- address from IP (default 198.51.100.7).
wrk.method = "GET"
wrk.headers["X-Palisade-Key"] = os.getenv("PALISADE_KEY")
wrk.headers["X-Original-Uri"] = "/products/42?ref=home"
wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Original-Host"] = "bench.example.com"
wrk.headers["X-Real-IP"] = os.getenv("IP") or "198.51.100.7"
wrk.headers["User-Agent"] = os.getenv("UA")
wrk.headers["Accept"] = "text/html"
wrk.headers["Accept-Language"] = "en"
wrk.headers["Accept-Encoding"] = "gzip"
wrk.path = "/forward-auth/nginx"
