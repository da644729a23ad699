-- wrk script: a browser's request, asked about through forward-auth.
wrk.method = "GET"
wrk.headers["X-Palisade-Key"] = os.getenv("PALISADE_KEY")
wrk.headers["X-Palisade-Mode"] = "nginx"
wrk.headers["X-Original-Uri"] = "/products/42?ref=home"
wrk.headers["X-Original-Method"] = "GET"
wrk.headers["X-Original-Host"] = "bench.example.com"
wrk.headers["X-Real-IP"] = "198.51.100.7"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
