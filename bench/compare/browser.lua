-- wrk script of bench/compare.sh: Chrome loading a page (a navigation),
-- sent straight to the server under test (bare, a web server, a proxy).
package.path = os.getenv("COMPARE_DIR") .. "/?.lua;" .. package.path
local chrome = require("chrome")

wrk.method = "GET"
wrk.headers = chrome.headers("document")
wrk.headers["Host"] = chrome.host
