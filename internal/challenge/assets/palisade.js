// Palisade client for single-page apps:
//   <script src="/_palisade/palisade.js" defer></script>
// It solves the site's proof-of-work challenge in the background, then adds
// X-Palisade-Token to every fetch and XMLHttpRequest of the page, so a
// protected API can be called from it. window.palisade.query() gives the
// same token as a query string (visitorId=...&sessionId=...&token=...) for
// BotBye-style validate-v2 integrations.
(function () {
  "use strict";
  var base = "/_palisade/";
  var origFetch = window.fetch.bind(window);
  var token = sessionStorage.getItem("palisade_token") || "";
  function id(name) {
    var v = (name === "visitorId" ? localStorage : sessionStorage).getItem("palisade_" + name);
    if (!v) {
      v = Array.from(crypto.getRandomValues(new Uint8Array(12)), function (b) { return b.toString(16).padStart(2, "0"); }).join("");
      (name === "visitorId" ? localStorage : sessionStorage).setItem("palisade_" + name, v);
    }
    return v;
  }
  var ready = new Promise(function (resolve) {
    if (token) { resolve(token); return; }
    origFetch(base + "challenge", { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (ch) {
      var w = new Worker(base + "worker.js");
      w.onmessage = function (ev) {
        if (ev.data.counter === undefined) return;
        w.terminate();
        origFetch(base + "token", {
          method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ token: ch.token, counter: ev.data.counter, ms: ev.data.ms })
        }).then(function (r) { return r.json(); }).then(function (res) {
          token = res.token || "";
          if (token) sessionStorage.setItem("palisade_token", token);
          resolve(token);
        }, function () { resolve(""); });
      };
      w.postMessage({ token: ch.token, difficulty: ch.difficulty });
    }, function () { resolve(""); });
  });
  window.fetch = function (input, init) {
    return ready.then(function (t) {
      init = init || {};
      var h = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
      if (t) h.set("X-Palisade-Token", t);
      init.headers = h;
      return origFetch(input, init);
    });
  };
  var open = XMLHttpRequest.prototype.open, send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function () { this._palisade = true; return open.apply(this, arguments); };
  XMLHttpRequest.prototype.send = function (body) {
    if (this._palisade && token) this.setRequestHeader("X-Palisade-Token", token);
    return send.call(this, body);
  };
  window.palisade = {
    ready: ready,
    token: function () { return token; },
    query: function () {
      return "visitorId=" + id("visitorId") + "&sessionId=" + id("sessionId") + "&token=" + encodeURIComponent(token);
    }
  };
})();
