// uPlot wrappers: a time-series chart that resizes with its box and follows the theme,
// and a bar chart for histograms. uPlot is served by the agent from /vendor/uplot/.

import uPlot from '../vendor/uplot/dist/uPlot.esm.js';
import { colorFor, formatRate, formatInt } from './dom.js';

const charts = new Set();

function axisColors() {
  const css = getComputedStyle(document.documentElement);
  return {
    stroke: css.getPropertyValue('--muted').trim() || '#888',
    grid: css.getPropertyValue('--grid').trim() || 'rgba(128,128,128,0.2)',
  };
}

/** Whole-number tick steps, for counts of sockets. */
const WHOLE_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

function axes(yFormat, whole) {
  const { stroke, grid } = axisColors();
  const y = { stroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, size: 56,
    values: (u, splits) => splits.map(yFormat) };
  if (whole) y.incrs = WHOLE_INCRS;
  // samples are a second apart: no sub-second ticks
  const x = { stroke, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, space: 60,
    incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200] };
  return [x, y];
}

/**
 * A line chart of named series over time (epoch seconds).
 * update(time, [{ name, values }]) redraws it, rebuilding when the series change.
 */
export class TimeChart {
  constructor(container, { yFormat = formatInt, unit = '', whole = false } = {}) {
    this.container = container;
    this.whole = whole;
    this.yFormat = yFormat;
    this.unit = unit;
    this.plot = null;
    this.names = '';
    charts.add(this);
  }

  update(time, series) {
    const names = series.map((s) => s.name).join('|');
    const data = [time, ...series.map((s) => s.values)];
    if (this.plot && names === this.names) {
      this.plot.setData(data);
      return;
    }
    this.names = names;
    this.rebuild(data, series);
  }

  rebuild(data, series) {
    const hidden = new Set();
    if (this.plot) {
      this.plot.series.forEach((s, i) => { if (i > 0 && !s.show) hidden.add(s.label); });
      this.plot.destroy();
    }
    const fmt = this.yFormat;
    const unit = this.unit;
    const opts = {
      width: this.width(),
      height: this.height(),
      cursor: { drag: { x: true, y: false } },
      legend: { live: true },
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: axes(fmt, this.whole),
      series: [{}, ...series.map((s) => ({
        label: s.name,
        stroke: s.color ?? colorFor(s.name),
        width: 1.5,
        show: !hidden.has(s.name),
        value: (u, v) => (v === null || v === undefined ? '–' : `${fmt(v)}${unit}`),
      }))],
    };
    this.plot = new uPlot(opts, data, this.container);
    this.data = data;
  }

  width() {
    return Math.max(240, this.container.clientWidth || 600);
  }

  height() {
    return Math.min(300, Math.max(160, Math.round(this.width() * 0.28)));
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: this.height() });
  }

  /** Redraws with the theme's colours (after a theme change). */
  restyle() {
    if (!this.plot) return;
    const data = this.plot.data;
    const series = this.plot.series.slice(1).map((s, i) => ({ name: s.label, values: data[i + 1] }));
    this.names = '';
    this.update(data[0], series);
  }

  destroy() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    charts.delete(this);
  }
}

/** Bars for a histogram: labels[i] under each bar, counts[i] its height. */
export class BarChart {
  constructor(container) {
    this.container = container;
    this.plot = null;
    this.key = '';
    charts.add(this);
  }

  update(labels, counts, color = '#3b82f6') {
    const x = labels.map((_, i) => i);
    const data = [x, counts];
    const key = labels.join('|');
    if (this.plot && key === this.key) {
      this.plot.setData(data);
      return;
    }
    this.key = key;
    if (this.plot) this.plot.destroy();
    const { stroke, grid } = axisColors();
    this.plot = new uPlot({
      width: this.width(),
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [-0.5, Math.max(0.5, labels.length - 0.5)] },
        y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        { stroke, grid: { show: false }, ticks: { stroke: grid }, space: 44,
          values: (u, splits) => splits.map((i) => labels[Math.round(i)] ?? '') },
        { stroke, grid: { stroke: grid, width: 1 }, size: 56, values: (u, splits) => splits.map(formatRate) },
      ],
      series: [{}, { label: 'count', fill: color, stroke: color, paths: uPlot.paths.bars({ size: [0.8, 40] }),
        points: { show: false } }],
    }, data, this.container);
  }

  width() {
    return Math.max(240, this.container.clientWidth || 400);
  }

  resize() {
    if (this.plot) this.plot.setSize({ width: this.width(), height: 180 });
  }

  restyle() {
    this.key = '';
  }
}

let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => charts.forEach((c) => c.resize()), 150);
});

/** Call after a view becomes visible or the theme changes. */
export function resizeAll() {
  charts.forEach((c) => c.resize());
}

export function restyleAll() {
  charts.forEach((c) => c.restyle());
}
