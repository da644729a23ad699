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
  var palette = ["#2f5bd3", "#1a7f4b", "#b3261e", "#c98a00", "#6b3fa0", "#0e7c86", "#8a5a00", "#5b6477", "#d14f8a", "#3a3a3a", "#7a9a01"];
  var names = Object.keys(data.series).sort();
  var series = [{}];
  var cols = [data.t];
  names.forEach(function (n, i) {
    var c = colors[n] || palette[i % palette.length];
    series.push({ label: n, stroke: c, width: 2, fill: c + "22" });
    cols.push(data.series[n]);
  });
  el.textContent = "";
  var plot = new uPlot({ width: el.clientWidth || 800, height: 300, series: series, axes: [{}, { label: "requests" }] }, cols, el);
  el.setAttribute("data-rendered", "1");
  window.addEventListener("resize", function () { plot.setSize({ width: el.clientWidth, height: 300 }); });
})();
