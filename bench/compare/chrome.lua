-- Shared by the wrk scripts of bench/compare.sh: Chrome 131 on Linux as it
-- sends an HTTP/1.1 request, by kind of resource (Accept, Sec-Fetch-*,
-- Priority as Chrome sets them), and the site's host.
local M = {}

M.host = "bench.example.com"
M.ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

local common = {
  ["Sec-Ch-Ua"] = '"Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24"',
  ["Sec-Ch-Ua-Mobile"] = "?0",
  ["Sec-Ch-Ua-Platform"] = '"Linux"',
  ["User-Agent"] = M.ua,
  ["Accept-Encoding"] = "gzip, deflate, br, zstd",
  ["Accept-Language"] = "en-GB,en-US;q=0.9,en;q=0.8",
}

local kinds = {
  document = { ["Upgrade-Insecure-Requests"] = "1",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    ["Sec-Fetch-Site"] = "none", ["Sec-Fetch-Mode"] = "navigate", ["Sec-Fetch-User"] = "?1", ["Sec-Fetch-Dest"] = "document",
    ["Priority"] = "u=0, i" },
  style = { ["Accept"] = "text/css,*/*;q=0.1", ["Sec-Fetch-Site"] = "same-origin", ["Sec-Fetch-Mode"] = "no-cors",
    ["Sec-Fetch-Dest"] = "style", ["Priority"] = "u=0" },
  script = { ["Accept"] = "*/*", ["Sec-Fetch-Site"] = "same-origin", ["Sec-Fetch-Mode"] = "no-cors",
    ["Sec-Fetch-Dest"] = "script", ["Priority"] = "u=1" },
  image = { ["Accept"] = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8", ["Sec-Fetch-Site"] = "same-origin",
    ["Sec-Fetch-Mode"] = "no-cors", ["Sec-Fetch-Dest"] = "image", ["Priority"] = "i" },
  font = { ["Accept"] = "*/*", ["Origin"] = "http://" .. M.host, ["Sec-Fetch-Site"] = "same-origin", ["Sec-Fetch-Mode"] = "cors",
    ["Sec-Fetch-Dest"] = "font", ["Priority"] = "u=0" },
}

-- headers returns Chrome's headers for a resource of this kind (document,
-- style, script, image, font); referer is set for subresources.
function M.headers(kind, referer)
  local h = {}
  for k, v in pairs(common) do h[k] = v end
  for k, v in pairs(kinds[kind]) do h[k] = v end
  if referer then h["Referer"] = referer end
  return h
end

return M
