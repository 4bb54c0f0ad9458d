// A stacked bar chart as plain SVG markup (no library): one bar per day, one colour per
// series, a y axis in dollars, day labels thinned to fit, a legend. Pure function: data in,
// string out, so it is cheap to redraw and easy to test.

export const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#9c755f"];

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * power >= value) return step * power;
  }
  return 10 * power;
}

function label(value) {
  if (value === 0) return "$0";
  if (value < 0.01) return `$${value.toFixed(4)}`;
  if (value < 10) return `$${value.toFixed(2)}`;
  return `$${Math.round(value)}`;
}

export function stackedBars({ days, series }, { width = 720, height = 220 } = {}) {
  const left = 52, right = 8, top = 10, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const totals = days.map((d) => series.reduce((sum, s) => sum + (d.values[s] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const slot = days.length ? plotW / days.length : plotW;
  const barW = Math.max(1, Math.min(28, slot * 0.7));
  const parts = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="100%" role="img" aria-label="Spend per day" data-testid="ar-chart">`];
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    const y = top + plotH - (plotH * i) / 4;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y}" y2="${y}" stroke="currentColor" stroke-opacity="0.12"/>`);
    parts.push(`<text x="${left - 6}" y="${y + 4}" text-anchor="end" font-size="10" fill="currentColor" fill-opacity="0.7">${label(value)}</text>`);
  }
  const every = Math.max(1, Math.ceil(days.length / Math.floor(plotW / 48)));
  days.forEach((day, i) => {
    const x = left + i * slot + (slot - barW) / 2;
    let y = top + plotH;
    series.forEach((name, s) => {
      const value = day.values[name] || 0;
      if (value <= 0) return;
      const h = (value / max) * plotH;
      y -= h;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${Math.max(h, 0.5).toFixed(1)}" fill="${PALETTE[s % PALETTE.length]}" data-day="${escape(day.day)}" data-series="${escape(name)}"><title>${escape(day.day)} · ${escape(name)}: ${label(value)}</title></rect>`);
    });
    if (i % every === 0) {
      parts.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${height - bottom + 14}" text-anchor="middle" font-size="10" fill="currentColor" fill-opacity="0.7">${escape(day.day.slice(5))}</text>`);
    }
  });
  let lx = left;
  series.forEach((name, s) => {
    parts.push(`<rect x="${lx}" y="${height - 12}" width="10" height="10" fill="${PALETTE[s % PALETTE.length]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${height - 3}" font-size="10" fill="currentColor">${escape(name)}</text>`);
    lx += 24 + Math.min(160, String(name).length * 6);
  });
  parts.push("</svg>");
  return parts.join("");
}
