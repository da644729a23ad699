-- wrk script: a flood of bad bots against one website through
-- /forward-auth/nginx (the headers nginx's auth_request sends): 301 client
-- addresses (X-Real-IP) × 100 user agents of bots Palisade refuses or
-- challenges by default (AI crawlers from unverified addresses, automation
-- tools, scanners), cycled so that every address meets every agent
-- (30,100 different clients), each walking paths. Each wrk thread starts
-- elsewhere in the cycle.
local agents = {}
local bots = {
  "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.%d; +https://openai.com/gptbot",
  "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.%d; +claudebot@anthropic.com)",
  "CCBot/2.%d (https://commoncrawl.org/faq/)",
  "Mozilla/5.0 (compatible; Bytespider/%d.0; spider-feedback@bytedance.com)",
  "Mozilla/5.0 (compatible; PerplexityBot/1.%d; +https://perplexity.ai/perplexitybot)",
  "curl/8.%d.0",
  "python-requests/2.3%d.0",
  "Go-http-client/1.%d",
  "Scrapy/2.1%d.0 (+https://scrapy.org)",
  "Wget/1.2%d",
  "python-httpx/0.2%d.0",
  "aiohttp/3.%d.1",
  "okhttp/4.1%d.0",
  "Java/17.0.%d",
  "libwww-perl/6.%d",
  "sqlmap/1.%d#stable (https://sqlmap.org)",
  "Nikto/2.%d.6",
  "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html) %d",
  "masscan/1.%d (https://github.com/robertdavidgraham/masscan)",
  "zgrab/0.%d",
}
for v = 0, 4 do
  for _, b in ipairs(bots) do
    agents[#agents + 1] = string.format(b, v)
  end
end
local paths = { "/", "/wp-login.php", "/.env", "/admin/", "/xmlrpc.php", "/products/42", "/api/v1/users", "/.git/config", "/backup.zip", "/search?q=shoes" }
local naddr = 301
local i = 0

local threads = 0
function setup(thread)
  thread:set("offset", threads * 7919)
  threads = threads + 1
end

function init(args)
  i = tonumber(offset) or 0
  wrk.headers["X-Palisade-Key"] = os.getenv("PALISADE_KEY")
  wrk.headers["X-Original-Method"] = "GET"
  wrk.headers["X-Original-Host"] = "bench.example.com"
  wrk.headers["Accept"] = "*/*"
end

function request()
  i = i + 1
  local a = i % naddr
  wrk.headers["X-Real-IP"] = string.format("203.0.%d.%d", 100 + math.floor(a / 250), 1 + a % 250)
  wrk.headers["User-Agent"] = agents[1 + i % #agents]
  wrk.headers["X-Original-Uri"] = paths[1 + math.floor(i / 7) % #paths]
  return wrk.format("GET", "/forward-auth/nginx")
end
