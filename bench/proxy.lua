-- wrk script: a browser's request for bench.example.com, as a visitor sends
-- it to a reverse proxy (bench/proxy.sh).
wrk.method = "GET"
wrk.headers["Host"] = "bench.example.com"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
wrk.headers["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
wrk.headers["Accept-Language"] = "en-GB,en;q=0.9"
wrk.headers["Accept-Encoding"] = "gzip, deflate, br"
wrk.headers["Sec-Fetch-Mode"] = "navigate"
wrk.headers["Sec-Fetch-Site"] = "none"
wrk.headers["Sec-Fetch-Dest"] = "document"
wrk.headers["Upgrade-Insecure-Requests"] = "1"
