// The partner overview's chart (uPlot): requests, blocked and challenged
// across all the partner's websites. Labels, dates and numbers come in the
// page's language (the series' labels from the server, dates and numbers
// through Intl); the table below the chart has the same numbers.
(function () {
  "use strict";
  var el = document.getElementById("ov-chart");
  if (!el || !window.uPlot) return;
  var data = JSON.parse(el.dataset.series);
  var lang = data.lang || document.documentElement.lang || "en";
  var nf = new Intl.NumberFormat(lang);
  var df = new Intl.DateTimeFormat(lang, data.hourly
    ? { hour: "2-digit", minute: "2-digit", timeZone: "UTC" }
    : { day: "numeric", month: "short", timeZone: "UTC" });
  var full = new Intl.DateTimeFormat(lang, data.hourly
    ? { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "UTC" }
    : { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  var series = [{ label: data.time, value: function (u, v) { return v == null ? "" : full.format(new Date(v * 1000)); } }];
  var cols = [data.t];
  data.series.forEach(function (s) {
    series.push({ label: s.Label, stroke: s.Color, width: 2, fill: s.Color + "22",
      value: function (u, v) { return v == null ? "" : nf.format(v); } });
    cols.push(s.Values);
  });
  el.textContent = "";
  var opts = {
    width: el.clientWidth || 800, height: 300, series: series, padding: [12, 28, 0, 0],
    axes: [
      { space: 80, values: function (u, ticks) { return ticks.map(function (t) { return df.format(new Date(t * 1000)); }); } },
      { label: data.axis, size: 70, values: function (u, ticks) { return ticks.map(function (t) { return nf.format(t); }); } }
    ]
  };
  var plot = new uPlot(opts, cols, el);
  el.setAttribute("data-rendered", "1");
  window.addEventListener("resize", function () { plot.setSize({ width: el.clientWidth, height: 300 }); });
})();
