// Palisade customer pages: the statistics chart (uPlot) and the CSRF header
// for htmx requests. Everything else is plain HTML.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]');
  document.body.addEventListener("htmx:configRequest", function (e) {
    if (token) e.detail.headers["X-CSRF-Token"] = token.content;
  });
  var el = document.getElementById("chart");
  if (!el || !window.uPlot) return;
  var data = JSON.parse(el.dataset.series);
  var colors = { grant: "#1a7f4b", deny: "#b3261e", challenge: "#c98a00", captcha: "#8a5a00", redirect: "#5b6477", return_fake_data: "#6b3fa0" };
  var names = Object.keys(data.series).sort();
  var series = [{}];
  var cols = [data.t];
  names.forEach(function (n) {
    series.push({ label: n, stroke: colors[n] || "#2f5bd3", width: 2, fill: (colors[n] || "#2f5bd3") + "22" });
    cols.push(data.series[n]);
  });
  el.textContent = "";
  var plot = new uPlot({ width: el.clientWidth || 800, height: 300, series: series, axes: [{}, { label: "requests" }] }, cols, el);
  el.setAttribute("data-rendered", "1");
  window.addEventListener("resize", function () { plot.setSize({ width: el.clientWidth, height: 300 }); });
})();
