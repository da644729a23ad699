-- wrk script of bench/compare.sh: a browser loading a page with 20 assets.
-- Each connection cycles through the page and its assets (bench/compare.sh
-- writes them: 2 stylesheets, 5 scripts, 6 images, 4 SVG icons, 3 fonts),
-- each with the Accept and Sec-Fetch-* Chrome sends for its kind.
-- Like a browser, it keeps the cookies the answers set (one jar for the
-- thread: every connection is the same client, address and user agent)
-- and sends them with every request that follows: Palisade's asset pass
-- (deploy/nginx/palisade.conf, palisade-static.conf) is such a cookie.
package.path = os.getenv("COMPARE_DIR") .. "/?.lua;" .. package.path
local chrome = require("chrome")

local page = "http://" .. chrome.host .. "/"
local assets = {
  { "/assets/css/style.css", "style" }, { "/assets/css/theme.css", "style" },
  { "/assets/js/vendor.js", "script" }, { "/assets/js/app.js", "script" }, { "/assets/js/cart.js", "script" },
  { "/assets/js/gallery.js", "script" }, { "/assets/js/analytics.js", "script" },
  { "/assets/img/hero.png", "image" }, { "/assets/img/product-1.png", "image" }, { "/assets/img/product-2.png", "image" },
  { "/assets/img/product-3.png", "image" }, { "/assets/img/product-4.png", "image" }, { "/assets/img/logo.png", "image" },
  { "/assets/icons/cart.svg", "image" }, { "/assets/icons/search.svg", "image" }, { "/assets/icons/user.svg", "image" },
  { "/assets/icons/menu.svg", "image" },
  { "/assets/fonts/inter-regular.woff2", "font" }, { "/assets/fonts/inter-bold.woff2", "font" },
  { "/assets/fonts/serif.woff2", "font" },
}

local reqs, plan, jar, version, built = {}, {}, {}, 0, {}
local function add(path, kind, referer)
  plan[#plan + 1] = { path, kind, referer }
end

local function build(n)
  local p = plan[n]
  local h = chrome.headers(p[2], p[3])
  h["Host"] = chrome.host
  local parts = {}
  for name, value in pairs(jar) do parts[#parts + 1] = name .. "=" .. value end
  if #parts > 0 then
    table.sort(parts)
    h["Cookie"] = table.concat(parts, "; ")
  end
  reqs[n], built[n] = wrk.format("GET", p[1], h), version
end

function init(args)
  add("/", "document", nil)
  for _, a in ipairs(assets) do add(a[1], a[2], page) end
  for n = 1, #plan do build(n) end
end

local i = 0
function request()
  i = i % #plan + 1
  if built[i] ~= version then build(i) end
  return reqs[i]
end

-- The cookie an answer sets (wrk keeps one Set-Cookie header of each
-- answer: Palisade's pages set one), into the jar; Max-Age=0 removes it.
function response(status, headers, body)
  local sc = headers["Set-Cookie"]
  if sc == nil then return end
  local name, value = string.match(sc, "^%s*([^=;%s]+)=([^;]*)")
  if name == nil then return end
  if string.match(sc, ";%s*[Mm]ax%-[Aa]ge=0") then value = nil end
  if jar[name] ~= value then
    jar[name] = value
    version = version + 1
  end
end
