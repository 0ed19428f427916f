// chart.js - charts on uPlot (vendored, loaded as the global `uPlot` by
// index.html): a time-series line chart, and the mounting every chart shares.

const HEIGHT = 200;

// A chart in `el` with one line per {label, color} of `lines`; update()
// takes [t[], ...values[]] as uPlot wants them.
export function lineChart(el, lines, unit) {
  const opts = {
    legend: { live: false },
    // At least the last 2 minutes, so a chart with its first samples is
    // not stretched over years.
    scales: { x: { time: true, range: (u, min, max) => [Math.min(min, max - 120), max] } },
    axes: [{}, { label: unit, size: 60 }],
    series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2,
      fill: `${l.color}22`, spanGaps: false }))],
  };
  return mountPlot(el, opts, lines.length);
}

// A uPlot chart of `opts` (height HEIGHT) with `n` series in `el`, following
// the window's width; update() takes [x[], ...values[]].
export function mountPlot(el, opts, n) {
  const plot = new uPlot({ ...opts, width: Math.max(280, el.clientWidth - 4), height: HEIGHT },
    [[], ...Array.from({ length: n }, () => [])], el);
  const resize = () => plot.setSize({ width: Math.max(280, el.clientWidth - 4), height: HEIGHT });
  window.addEventListener('resize', resize);
  return {
    update: (data) => plot.setData(data),
    destroy: () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    },
  };
}
