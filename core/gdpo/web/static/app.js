// gdpo dashboard: draws each <figure data-chart=ID> from the JSON data block #ID with uPlot.
(function () {
  "use strict";
  var COLORS = ["#2f7ed8", "#e8a33d", "#5aa469", "#c94c4c", "#8e6cc9", "#3fb6b2", "#d16ba5"];

  function draw(fig) {
    var block = document.getElementById(fig.dataset.chart);
    if (!block) { return; }
    var spec = JSON.parse(block.textContent);
    var cols = [spec.x];
    var series = [{ label: "time" }];
    spec.series.forEach(function (s, i) {
      cols.push(s.values);
      var marker = /decided|plan/.test(s.label);
      series.push({
        label: s.label,
        stroke: COLORS[i % COLORS.length],
        width: marker ? 0 : 1.5,
        spanGaps: false,
        paths: spec.steps && !marker ? uPlot.paths.stepped({ align: 1 }) : undefined,
        points: { show: marker || spec.points, size: marker ? 9 : 6, fill: COLORS[i % COLORS.length] }
      });
    });
    var labels = spec.labels;
    var opts = {
      title: spec.title + (spec.unit ? " (" + spec.unit + ")" : ""),
      width: Math.max(320, fig.clientWidth || 800),
      height: 280,
      series: series,
      scales: { x: { time: !labels } },
      axes: [
        labels ? { values: function (u, vals) { return vals.map(function (v) { return labels[v] || ""; }); } } : {},
        { label: spec.unit }
      ]
    };
    fig.chart = new uPlot(opts, cols, fig);
    fig.dataset.points = String(spec.x.length);
  }

  function drawAll() {
    document.querySelectorAll("figure[data-chart]").forEach(draw);
  }

  window.addEventListener("resize", function () {
    document.querySelectorAll("figure[data-chart]").forEach(function (fig) {
      if (fig.chart) { fig.chart.setSize({ width: Math.max(320, fig.clientWidth), height: 280 }); }
    });
  });
  document.addEventListener("DOMContentLoaded", drawAll);
})();
