-- wrk script of bench/compare.sh: a browser loading a page with 20 assets.
-- Each connection cycles through the page and its assets (bench/compare.sh
-- writes them: 2 stylesheets, 5 scripts, 6 images, 4 SVG icons, 3 fonts),
-- each with the Accept and Sec-Fetch-* Chrome sends for its kind.
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

local reqs = {}
local function add(path, kind, referer)
  local h = chrome.headers(kind, referer)
  h["Host"] = chrome.host
  reqs[#reqs + 1] = wrk.format("GET", path, h)
end

function init(args)
  add("/", "document", nil)
  for _, a in ipairs(assets) do add(a[1], a[2], page) end
end

local i = 0
function request()
  i = i % #reqs + 1
  return reqs[i]
end
