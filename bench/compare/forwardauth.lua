-- wrk script of bench/compare.sh: the verdict request nginx's auth_request
-- sends to /forward-auth/nginx (deploy/nginx/palisade.conf): the visitor's
-- headers as received, Host the upstream's name, nginx's X-Original-* and
-- X-Real-IP, the server key. FA_KIND picks the visitor:
--   grant      Chrome 131 on Linux, a page (the full header set)
--   challenge  curl/8.5.0 (Accept */*)
--   deny       ClaudeBot (an AI crawler: denied by the default policy; a
--              GPTBot user agent off OpenAI's ranges would be challenged
--              as a fake, not denied)
--   cleared    curl/8.5.0 with a clearance cookie (CLEARANCE) for its address
package.path = os.getenv("COMPARE_DIR") .. "/?.lua;" .. package.path
local chrome = require("chrome")
local kind = os.getenv("FA_KIND") or "grant"

local h
if kind == "grant" then
  h = chrome.headers("document")
  h["X-Real-IP"] = "198.51.100.7"
elseif kind == "challenge" or kind == "cleared" then
  h = { ["User-Agent"] = "curl/8.5.0", ["Accept"] = "*/*", ["X-Real-IP"] = "203.0.113.50" }
  if kind == "cleared" then
    h["Cookie"] = "palisade_clearance=" .. (os.getenv("CLEARANCE") or "")
  end
elseif kind == "deny" then
  h = { ["User-Agent"] = "Mozilla/5.0 (compatible; ClaudeBot/1.0; +claudebot@anthropic.com)",
        ["Accept"] = "*/*", ["Accept-Encoding"] = "gzip, br", ["X-Real-IP"] = "198.51.100.9" }
else
  error("FA_KIND: grant, challenge, deny or cleared")
end
h["Host"] = "palisade"
h["X-Palisade-Key"] = os.getenv("PALISADE_KEY")
h["X-Original-Uri"] = "/products/42"
h["X-Original-Method"] = "GET"
h["X-Original-Host"] = chrome.host
h["X-Original-Protocol"] = "HTTP/1.1"
wrk.method = "GET"
wrk.headers = h
