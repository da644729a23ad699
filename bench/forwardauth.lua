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
-- What Chrome sends with that Accept-Encoding (br: HTTPS) on a page load;
-- without these the request is a script posing as Chrome (challenged:
-- suspicious_behaviour), and the benchmark measured the challenge's path.
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8"
wrk.headers["Sec-Ch-Ua"] = '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"'
wrk.headers["Sec-Ch-Ua-Mobile"] = "?0"
wrk.headers["Sec-Ch-Ua-Platform"] = '"Linux"'
wrk.headers["Sec-Fetch-Site"] = "none"
wrk.headers["Sec-Fetch-Mode"] = "navigate"
wrk.headers["Sec-Fetch-User"] = "?1"
wrk.headers["Sec-Fetch-Dest"] = "document"
wrk.headers["Upgrade-Insecure-Requests"] = "1"
wrk.headers["X-Original-Protocol"] = "HTTP/2.0"
