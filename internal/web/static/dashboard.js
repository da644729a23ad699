// The customer pages' scripts: the statistics chart (uPlot) and the CSRF
// header for htmx requests. Everything else is plain HTML. The chart's
// words, times and number separators come from the page (data-series), in
// the page's language.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (token) e.detail.headers["X-CSRF-Token"] = token.content;
  });
  // A table that scrolls sideways inside its box (.table-wrap) can be
  // reached and scrolled with the keyboard; one that fits is no tab stop.
  function focusableWraps() {
    var ws = document.querySelectorAll(".table-wrap");
    for (var i = 0; i < ws.length; i++) {
      if (ws[i].scrollWidth > ws[i].clientWidth + 1) ws[i].setAttribute("tabindex", "0");
      else if (ws[i].getAttribute("tabindex") === "0") ws[i].removeAttribute("tabindex");
    }
  }
  focusableWraps();
  window.addEventListener("resize", focusableWraps);
  document.body.addEventListener("htmx:afterSwap", focusableWraps);
  var el = document.getElementById("chart");
  if (!el || !window.uPlot) return;
  var data = JSON.parse(el.dataset.series);
  var labels = data.labels || [];
  var dec = data.dec || ".", grp = data.grp || ",";
  // num writes n with the page language's separators (10.000 · 10 000).
  function num(n) {
    if (n == null || isNaN(n)) return "";
    var neg = n < 0, s = Math.abs(n).toFixed(Math.round(n) === n ? 0 : 1), parts = s.split(".");
    var i = parts[0], out = "";
    while (i.length > 3) { out = grp + i.slice(-3) + out; i = i.slice(0, -3); }
    return (neg ? "-" : "") + i + out + (parts[1] ? dec + parts[1] : "");
  }
  var palette = ["#2f5bd3", "#1a7f4b", "#b3261e", "#9a6700", "#6b3fa0", "#0e7c86", "#7a4d00", "#5b6477", "#c2185b", "#3a3a3a", "#4d7c0f"];
  var names = Object.keys(data.series).sort();
  var xs = labels.map(function (_, i) { return i; });
  var series = [{ label: data.x || "", value: function (u, i) { return i == null ? "" : (labels[i] || ""); } }];
  // Room for the longest time label, so the axis's labels never overlap.
  var longest = labels.reduce(function (m, s) { return Math.max(m, s.length); }, 0);
  var labelPx = longest * 7 + 16;
  var cols = [xs];
  names.forEach(function (n, i) {
    var c = (data.colors && data.colors[n]) || palette[i % palette.length];
    series.push({ label: (data.names && data.names[n]) || n, stroke: c, width: 2, fill: c + "22",
      value: function (u, v) { return v == null ? "—" : num(v); } });
    cols.push(data.series[n]);
  });
  el.textContent = "";
  var opts = {
    width: el.clientWidth || 800, height: 300, series: series,
    scales: { x: { time: false } },
    padding: [12, Math.ceil(labelPx / 2), 0, 0],
    axes: [
      { incrs: [1, 2, 3, 4, 6, 8, 12, 24, 48, 96, 192, 384], space: labelPx,
        values: function (u, splits) { return splits.map(function (v) { return v === Math.round(v) ? (labels[v] || "") : ""; }); } },
      { label: data.y || "", size: 60, values: function (u, splits) { return splits.map(num); } }
    ]
  };
  var plot = new uPlot(opts, cols, el);
  el.setAttribute("data-rendered", "1");
  window.addEventListener("resize", function () { plot.setSize({ width: el.clientWidth, height: 300 }); });
})();
