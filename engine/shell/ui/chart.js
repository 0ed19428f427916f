// chart.js - a time-series line chart on uPlot (vendored, loaded as the
// global `uPlot` by index.html).

const HEIGHT = 200;

// A chart in `el` with one line per {label, color} of `lines`; update()
// takes [t[], ...values[]] as uPlot wants them.
export function lineChart(el, lines, unit) {
  const opts = {
    width: Math.max(280, el.clientWidth - 4),
    height: HEIGHT,
    legend: { live: false },
    // At least the last 2 minutes, so a chart with its first samples is
    // not stretched over years.
    scales: { x: { time: true, range: (u, min, max) => [Math.min(min, max - 120), max] } },
    axes: [{}, { label: unit, size: 60 }],
    series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2,
      fill: `${l.color}22`, spanGaps: false }))],
  };
  const empty = [[], ...lines.map(() => [])];
  const plot = new uPlot(opts, empty, el);
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
