// gdpo dashboard: draws each <figure data-chart=ID> from the JSON data block #ID with uPlot,
// in the page's colours (light or dark, redrawn when the scheme changes) and with time axes
// in the dashboard's timezone (<body data-tz>), 24-hour clock.
(function () {
  "use strict";
  var LIGHT = ["#2f7ed8", "#d98a1c", "#3d8f4f", "#c94c4c", "#8e6cc9", "#23958f", "#c2549a"];
  var DARK = ["#6aa7ee", "#f0b355", "#74c784", "#ef7b7b", "#b39ae8", "#5fd0cb", "#e88cc6"];
  var M = 60, H = 3600, D = 86400, NL = "\n";
  // uPlot's time axis table (tick size, default, then the first tick of a new year, month,
  // day, hour, minute, second) in 24-hour form with unambiguous dates.
  var TIME_AXIS = [
    [D * 365, "{YYYY}", null, null, null, null, null, null, 1],
    [D * 28, "{MMM}", NL + "{YYYY}", null, null, null, null, null, 1],
    [D, "{D} {MMM}", NL + "{YYYY}", null, null, null, null, null, 1],
    [H, "{HH}:{mm}", NL + "{D} {MMM} {YYYY}", null, NL + "{D} {MMM}", null, null, null, 1],
    [M, "{HH}:{mm}", NL + "{D} {MMM} {YYYY}", null, NL + "{D} {MMM}", null, null, null, 1],
    [1, "{HH}:{mm}:{ss}", NL + "{D} {MMM} {YYYY}", null, NL + "{D} {MMM}", null, null, null, 1]
  ];

  // Readable names of the stored fields (the sign convention with them).
  var NAMES = {
    pv_power_w: "PV", house_consumption_w: "load", grid_power_w: "grid (+ import)",
    battery_power_w: "battery (+ charging)", battery_soc_pct: "SOC", soc_pct: "SOC"
  };
  var UNITS = { pct: "%" };

  function css(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function dark() {
    return window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  // Point charts (a value per month, say) keep half a step free at both ends, and a lone
  // point gets a month around it instead of uPlot's years.
  function padded(xs) {
    var lo = xs[0], hi = xs[xs.length - 1];
    var step = xs.length > 1 ? (hi - lo) / (xs.length - 1) : 30 * D;
    return function () { return [lo - step / 2, hi + step / 2]; };
  }

  function draw(fig) {
    var block = document.getElementById(fig.dataset.chart);
    if (!block) { fig.dataset.failed = "no data block"; return; }
    var spec = JSON.parse(block.textContent);
    var tz = document.body.dataset.tz;
    var colors = dark() ? DARK : LIGHT;
    var fg = css("--fg") || "#1d232a", line = css("--line") || "#d9dee5";
    var labels = spec.labels;
    var cols = [spec.x];
    var sparse = spec.x.length <= 48;
    var series = [labels ? { label: "strategy", value: function (u, v) { return v == null ? "--" : labels[v]; } }
                         : { label: "time", value: "{YYYY}-{MM}-{DD} {HH}:{mm}" }];
    spec.series.forEach(function (s, i) {
      var marker = /decided|plan/.test(s.label);
      if (marker && !s.values.some(function (v) { return v != null; })) { return; }  // nothing marked
      cols.push(s.values);
      var color = colors[i % colors.length];
      series.push({
        label: NAMES[s.label] || s.label,
        stroke: color,
        width: marker ? 0 : 1.5,
        spanGaps: false,
        paths: labels ? uPlot.paths.bars({ size: [0.5, 80] })
          : (spec.steps && !marker ? uPlot.paths.stepped({ align: 1 }) : undefined),
        fill: labels ? color + "99" : undefined,
        // markers and point charts always; other lines when their points are few and far apart
        points: { show: labels ? false : (marker || spec.points || sparse), size: marker ? 9 : 6,
                  fill: color, stroke: color }
      });
    });
    var axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
    // Categories (labels): one bar per label, a tick under each, the y axis from zero.
    var xAxis = labels
      ? { splits: function () { return labels.map(function (l, i) { return i; }); },
          values: function (u, vals) { return vals.map(function (v) { return labels[v] || ""; }); },
          grid: { show: false } }
      : { values: TIME_AXIS, space: 60 };
    var scales = labels
      ? { x: { time: false, range: [-0.5, labels.length - 0.5] },
          y: { range: function (u, lo, hi) { return [Math.min(0, lo), Math.max(0, hi) * 1.1 || 1]; } } }
      : { x: spec.points ? { time: true, range: padded(spec.x) } : { time: true } };
    var title = NAMES[spec.title] || spec.title, unit = UNITS[spec.unit] || spec.unit;
    if (unit && title.indexOf(unit) < 0) { title += " (" + unit + ")"; }
    var opts = {
      title: title,
      width: Math.max(320, fig.clientWidth || 800),
      height: 280,
      series: series,
      scales: scales,
      axes: [Object.assign({}, axis, xAxis), Object.assign({ label: unit }, axis)]
    };
    if (tz && !labels && uPlot.tzDate) {
      opts.tzDate = function (ts) { return uPlot.tzDate(new Date(ts * 1e3), tz); };
    }
    if (fig.chart) { fig.chart.destroy(); }
    fig.chart = new uPlot(opts, cols, fig);
    fig.dataset.points = String(spec.x.length);
  }

  function each(fn) {
    document.querySelectorAll("figure[data-chart]").forEach(function (fig) {
      try { fn(fig); } catch (e) { fig.dataset.failed = String(e); throw e; }
    });
  }

  window.addEventListener("resize", function () {
    each(function (fig) {
      if (fig.chart) { fig.chart.setSize({ width: Math.max(320, fig.clientWidth), height: 280 }); }
    });
  });
  if (window.matchMedia) {
    var mq = window.matchMedia("(prefers-color-scheme: dark)");
    if (mq.addEventListener) { mq.addEventListener("change", function () { each(draw); }); }
  }
  document.addEventListener("DOMContentLoaded", function () { each(draw); });
})();
