// Palisade client for single-page apps:
//   <script src="/_palisade/palisade.js" defer></script>
// It solves the site's proof-of-work challenge in the background, then adds
// X-Palisade-Token to every same-origin fetch and XMLHttpRequest of the
// page, so a protected API can be called from it. The token is kept in
// sessionStorage until it expires, then solved for again; a same-origin
// fetch answered 403 by a challenge is solved for once more and retried.
// window.palisade.query() gives the same token as a query string
// (visitorId=...&sessionId=...&token=...) for BotBye-style validate-v2
// integrations; window.palisade.ready is a promise of the token.
(function () {
  "use strict";
  var base = "/_palisade/";
  var origFetch = window.fetch.bind(window);
  var token = "";
  var expires = 0;
  try {
    var saved = JSON.parse(sessionStorage.getItem("palisade_token") || "null");
    if (saved && saved.expires > Date.now()) { token = saved.token; expires = saved.expires; }
  } catch (e) { /* storage disabled or garbled: solve again */ }

  function id(name) {
    var store = name === "visitorId" ? localStorage : sessionStorage;
    var v = store.getItem("palisade_" + name);
    if (!v) {
      v = Array.from(crypto.getRandomValues(new Uint8Array(12)), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
      store.setItem("palisade_" + name, v);
    }
    return v;
  }

  function sameOrigin(u) {
    try { return new URL(u, location.href).origin === location.origin; } catch (e) { return false; }
  }

  // solve fetches a challenge, works it in a Web Worker and trades the
  // solution for a token. Concurrent callers share one solve.
  var solving = null;
  function solve() {
    if (solving) return solving;
    solving = new Promise(function (resolve) {
      origFetch(base + "challenge", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (ch) {
        var w = new Worker(base + "worker.js");
        w.onerror = function () { w.terminate(); resolve(""); };
        w.onmessage = function (ev) {
          if (ev.data.counter === undefined) return;
          w.terminate();
          origFetch(base + "token", {
            method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ token: ch.token, counter: ev.data.counter, ms: ev.data.ms })
          }).then(function (r) { return r.json(); }).then(function (res) {
            token = res.token || "";
            // Renew a minute early so that a request never carries a stale token.
            expires = Date.now() + Math.max(0, (res.expires_in || 0) - 60) * 1000;
            try { sessionStorage.setItem("palisade_token", JSON.stringify({ token: token, expires: expires })); } catch (e) { /* ignore */ }
            resolve(token);
          }, function () { resolve(""); });
        };
        w.postMessage({ token: ch.token, difficulty: ch.difficulty });
      }, function () { resolve(""); });
    });
    solving.then(function () { solving = null; });
    return solving;
  }

  function current() {
    if (token && expires > Date.now()) return Promise.resolve(token);
    return solve();
  }

  var ready = current();

  window.fetch = function (input, init) {
    var u = input instanceof Request ? input.url : String(input);
    if (!sameOrigin(u)) return origFetch(input, init);
    function send(t) {
      var opts = Object.assign({}, init || {});
      var h = new Headers(opts.headers || (input instanceof Request ? input.headers : undefined));
      if (t) h.set("X-Palisade-Token", t);
      opts.headers = h;
      return origFetch(input instanceof Request ? input.clone() : input, opts);
    }
    return current().then(function (t) {
      return send(t).then(function (resp) {
        var act = resp.headers.get("X-Palisade-Action");
        if (resp.status !== 403 || (act !== "challenge" && act !== "captcha")) return resp;
        // The token was refused (expired, or the client moved network): solve once more.
        token = ""; expires = 0;
        return solve().then(function (t2) { return t2 ? send(t2) : resp; });
      });
    });
  };

  var open = XMLHttpRequest.prototype.open, xsend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, u) {
    this._palisade = sameOrigin(u);
    return open.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function (body) {
    if (this._palisade && token && expires > Date.now()) this.setRequestHeader("X-Palisade-Token", token);
    return xsend.call(this, body);
  };

  window.palisade = {
    ready: ready,
    token: function () { return token; },
    refresh: function () { token = ""; expires = 0; return solve(); },
    query: function () {
      return "visitorId=" + id("visitorId") + "&sessionId=" + id("sessionId") + "&token=" + encodeURIComponent(token);
    }
  };
})();
