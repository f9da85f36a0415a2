// A heatmap of counts as SVG: rows × columns (columns grouped under a header), each cell shaded
// on a log scale and labelled with its count, a cell with no count left blank, and a legend of
// the shades by decade. For tables of outcomes where both the zeros and the order of magnitude
// matter (fuzz: errno × profile × state).
import { esc } from './html.js';
import { textWidth } from './chart.js';

export interface HeatmapColumn { group: string; label: string }

export interface HeatmapSpec {
  id: string;
  title: string;
  rows: string[];
  columns: HeatmapColumn[];
  /** Count of (row, column index); 0 draws no cell. */
  value: (row: string, column: number) => number;
  tip: (row: string, column: HeatmapColumn, value: number) => string;
}

const LOW = '#dbe7f3';
const HIGH = '#1f4e79';
const CELL_H = 20;

/** 0..1 on a log scale of 1..max. */
export function shade(value: number, max: number): number {
  if (value <= 0) return 0;
  return max <= 1 ? 1 : Math.log10(value) / Math.log10(max);
}

/** LOW mixed towards HIGH by f, as #rrggbb. */
export function shadeColor(f: number): string {
  const rgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  const [a, b] = [rgb(LOW), rgb(HIGH)];
  return `#${a.map((v, i) => Math.round(v + (b[i]! - v) * Math.min(1, Math.max(0, f))).toString(16).padStart(2, '0')).join('')}`;
}

/** Compact count: 950, 1.2k, 34k, 1.5M. */
export function shortCount(v: number): string {
  if (v < 1000) return String(v);
  if (v < 1e6) return `${Number((v / 1e3).toFixed(v < 1e4 ? 1 : 0))}k`;
  return `${Number((v / 1e6).toFixed(v < 1e7 ? 1 : 0))}M`;
}

export function heatmap(spec: HeatmapSpec): string {
  const { rows, columns } = spec;
  const values = rows.map((r) => columns.map((_, c) => spec.value(r, c)));
  const max = Math.max(1, ...values.flat());
  const left = Math.ceil(Math.max(40, ...rows.map(textWidth)) + 16);
  const colW = Math.ceil(Math.max(46, ...columns.map((c) => textWidth(c.label) + 10)));
  const top = 40;
  const width = left + columns.length * colW + 16;
  const parts: string[] = [];
  // Group headers over their runs of columns, then each column's label.
  for (let c = 0; c < columns.length;) {
    let end = c;
    while (end + 1 < columns.length && columns[end + 1]!.group === columns[c]!.group) end++;
    const x = left + c * colW;
    parts.push(`<text class="group" x="${x + ((end - c + 1) * colW) / 2}" y="14" text-anchor="middle" font-weight="bold">${esc(columns[c]!.group)}</text>`);
    parts.push(`<line x1="${x + 3}" x2="${x + (end - c + 1) * colW - 3}" y1="19" y2="19" stroke="#999" />`);
    c = end + 1;
  }
  columns.forEach((col, c) => parts.push(`<text x="${left + c * colW + colW / 2}" y="33" text-anchor="middle">${esc(col.label)}</text>`));
  rows.forEach((row, r) => {
    const y = top + r * CELL_H;
    parts.push(`<text class="row" x="${left - 8}" y="${y + 14}" text-anchor="end">${esc(row)}</text>`);
    parts.push(`<line x1="${left}" x2="${left + columns.length * colW}" y1="${y + CELL_H}" y2="${y + CELL_H}" stroke="#eee" />`);
    columns.forEach((col, c) => {
      const v = values[r]![c]!;
      if (v === 0) return;
      const f = shade(v, max);
      const x = left + c * colW;
      parts.push(`<g class="cell" data-row="${esc(row)}" data-group="${esc(col.group)}" data-column="${esc(col.label)}" data-value="${v}"><rect x="${x + 1}" y="${y + 1}" width="${colW - 2}" height="${CELL_H - 2}" fill="${shadeColor(f)}" />` +
        `<text x="${x + colW / 2}" y="${y + 14}" text-anchor="middle" fill="${f > 0.55 ? '#fff' : '#222'}">${esc(shortCount(v))}</text><title>${esc(spec.tip(row, col, v))}</title></g>`);
    });
  });
  // Legend: one swatch per decade up to the maximum, and what a blank cell means.
  const captionY = top + rows.length * CELL_H + 20;
  const legendY = captionY + 18;
  const decades = Math.floor(Math.log10(max)) + 1;
  const entries = [
    ...Array.from({ length: decades }, (_, k) => ({ label: k === 0 ? '1–9 calls' : `${shortCount(10 ** k)}–${shortCount(10 ** (k + 1) - 1)}`, fill: shadeColor(shade(10 ** k, max)) })),
    { label: 'blank: no call', fill: '#fff' },
  ];
  let lx = left;
  let row = 0;
  const legend = entries.map((e) => {
    const w = 18 + textWidth(e.label) + 14;
    if (lx > left && lx + w > width - 8) { lx = left; row++; }
    const y = legendY + row * 16;
    const out = `<g class="legend-entry" data-mark="square"><rect x="${lx}" y="${y - 9}" width="12" height="12" fill="${e.fill}" stroke="#999" /><text x="${lx + 16}" y="${y + 1}">${esc(e.label)}</text></g>`;
    lx += w;
    return out;
  }).join('');
  const height = legendY + row * 16 + 12;
  return `<svg id="${esc(spec.id)}" class="chart heatmap" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(spec.title)}">` +
    `<title>${esc(spec.title)}</title>${parts.join('')}<g class="legend"><text x="${left}" y="${captionY}">calls per cell, darker = more (log scale):</text>${legend}</g></svg>`;
}
