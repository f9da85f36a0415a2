// One SVG chart of an HTML report: a plot area with its axes (ticks from ticks.ts), marks added
// by the caller in data coordinates, and a legend below the plot that explains every kind of
// mark drawn. The layout is computed from the labels (left margin from the widest tick label,
// legend rows from the entries' widths), so no tick label runs into an axis title and no legend
// entry into the plot. Every mark carries a class (bar, point, line, event, rule) and a <title>
// tooltip, so a test or a reader can tell what it stands for.
import { scaleBand, type ScaleBand } from 'd3-scale';
import { esc } from './html.js';
import { linearTicks, type Ticks } from './ticks.js';

export const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'] as const;
export const INK = { axis: '#555', grid: '#e3e3e3', muted: '#777', good: '#59a14f', bad: '#e15759', union: '#3b3b3b' } as const;

/** The i-th series colour. */
export function color(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

export type LegendMark = 'bar' | 'line' | 'dashed' | 'dot' | 'square';
export interface LegendEntry { label: string; color: string; mark: LegendMark }

export type LinearAxis = { kind: 'linear'; label: string; max: number; integer?: boolean; ticks?: number };
export type BandAxis = { kind: 'band'; label: string; bands: string[] };

export interface ChartSpec {
  id: string;
  title: string;
  x: LinearAxis | BandAxis;
  y: LinearAxis | BandAxis;
  legend: LegendEntry[];
  width?: number;
  plotHeight?: number;
}

/**
 * Rough width in px of a label at the charts' 11px sans-serif font: capitals and digits are
 * wider than lower case. Layout needs an upper bound, not a glyph metric.
 */
export function textWidth(text: string): number {
  let w = 0;
  for (const ch of text) w += /[A-Z]/.test(ch) ? 7.8 : /[0-9a-z]/.test(ch) ? 6.4 : 4.5;
  return w;
}

const LEGEND_ROW = 16;
const SWATCH = 18;

interface Placed { entry: LegendEntry; x: number; row: number }

/** Entries placed left to right, wrapping into rows no wider than `width`. */
export function layoutLegend(entries: LegendEntry[], width: number): { placed: Placed[]; rows: number } {
  const placed: Placed[] = [];
  let x = 0;
  let row = 0;
  for (const entry of entries) {
    const w = SWATCH + 4 + textWidth(entry.label) + 16;
    if (x > 0 && x + w > width) { x = 0; row++; }
    placed.push({ entry, x, row });
    x += w;
  }
  return { placed, rows: entries.length === 0 ? 0 : row + 1 };
}

function swatch(e: LegendEntry, x: number, y: number): string {
  const c = esc(e.color);
  switch (e.mark) {
    case 'bar': case 'square': return `<rect x="${x + 4}" y="${y - 9}" width="10" height="10" fill="${c}" />`;
    case 'line': return `<line x1="${x}" x2="${x + SWATCH}" y1="${y - 4}" y2="${y - 4}" stroke="${c}" stroke-width="2" />`;
    case 'dashed': return `<line x1="${x}" x2="${x + SWATCH}" y1="${y - 4}" y2="${y - 4}" stroke="${c}" stroke-width="2" stroke-dasharray="5 3" />`;
    case 'dot': return `<circle cx="${x + 9}" cy="${y - 4}" r="4" fill="${c}" />`;
  }
}

const f1 = (v: number) => v.toFixed(1);

export class Chart {
  readonly spec: ChartSpec;
  readonly width: number;
  readonly height: number;
  /** Plot area in SVG pixels. */
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
  readonly #xTicks: Ticks | null;
  readonly #yTicks: Ticks | null;
  readonly #xBands: ScaleBand<string> | null;
  readonly #yBands: ScaleBand<string> | null;
  readonly #legend: { placed: Placed[]; rows: number };
  readonly #marks: string[] = [];

  constructor(spec: ChartSpec) {
    this.spec = spec;
    this.width = spec.width ?? 760;
    const plotHeight = spec.plotHeight ?? 210;
    this.#yTicks = spec.y.kind === 'linear' ? linearTicks(spec.y.max, spec.y.ticks ?? 5, spec.y.integer) : null;
    this.#xTicks = spec.x.kind === 'linear' ? linearTicks(spec.x.max, spec.x.ticks ?? 8, spec.x.integer) : null;
    const yLabels = this.#yTicks?.labels ?? (spec.y as BandAxis).bands;
    // y-axis title (rotated, ~14 px) + gap + the widest tick label + tick gap.
    this.left = Math.ceil(22 + Math.max(0, ...yLabels.map(textWidth)) + 10);
    this.right = this.width - 16;
    this.top = 12;
    this.bottom = this.top + plotHeight;
    this.#legend = layoutLegend(spec.legend, this.right - this.left);
    // Tick labels, the x-axis title, then the legend rows.
    this.height = this.bottom + 18 + 18 + (this.#legend.rows > 0 ? 8 + this.#legend.rows * LEGEND_ROW : 0) + 6;
    this.#xBands = spec.x.kind === 'band' ? scaleBand<string>().domain(spec.x.bands).range([this.left, this.right]).paddingInner(0.2).paddingOuter(0.1) : null;
    this.#yBands = spec.y.kind === 'band' ? scaleBand<string>().domain(spec.y.bands).range([this.top, this.bottom]).padding(0.2) : null;
  }

  /** x pixel of a value on a linear x axis. */
  x(v: number): number {
    return this.left + (v / this.#xTicks!.max) * (this.right - this.left);
  }

  /** y pixel of a value on a linear y axis. */
  y(v: number): number {
    return this.bottom - (v / this.#yTicks!.max) * (this.bottom - this.top);
  }

  /** The x band of a label: left edge and width. */
  xBand(label: string): { x: number; width: number } {
    return { x: this.#xBands!(label)!, width: this.#xBands!.bandwidth() };
  }

  /** The centre of a y band (a row of a timeline). */
  yBand(label: string): number {
    return this.#yBands!(label)! + this.#yBands!.bandwidth() / 2;
  }

  add(...marks: string[]): this {
    this.#marks.push(...marks);
    return this;
  }

  #axes(): string {
    const parts: string[] = [];
    const { left, right, top, bottom } = this;
    if (this.#yTicks) {
      this.#yTicks.values.forEach((v, i) => {
        const y = f1(this.y(v));
        parts.push(`<line class="grid" x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="${INK.grid}" />`);
        parts.push(`<text class="tick" x="${left - 6}" y="${f1(this.y(v) + 4)}" text-anchor="end">${esc(this.#yTicks!.labels[i]!)}</text>`);
      });
    } else {
      for (const b of this.#yBands!.domain()) parts.push(`<text class="tick" x="${left - 6}" y="${f1(this.yBand(b) + 4)}" text-anchor="end">${esc(b)}</text>`);
    }
    if (this.#xTicks) {
      this.#xTicks.values.forEach((v, i) => {
        parts.push(`<text class="tick" x="${f1(this.x(v))}" y="${bottom + 15}" text-anchor="middle">${esc(this.#xTicks!.labels[i]!)}</text>`);
      });
    } else {
      for (const b of this.#xBands!.domain()) {
        const band = this.xBand(b);
        parts.push(`<text class="tick" x="${f1(band.x + band.width / 2)}" y="${bottom + 15}" text-anchor="middle">${esc(b)}</text>`);
      }
    }
    parts.push(`<line x1="${left}" x2="${left}" y1="${bottom}" y2="${top}" stroke="${INK.axis}" />`);
    parts.push(`<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="${INK.axis}" />`);
    const midY = (top + bottom) / 2;
    parts.push(`<text class="axis-title" x="12" y="${midY}" transform="rotate(-90 12 ${midY})" text-anchor="middle">${esc(this.spec.y.label)}</text>`);
    parts.push(`<text class="axis-title" x="${(left + right) / 2}" y="${bottom + 33}" text-anchor="middle">${esc(this.spec.x.label)}</text>`);
    return parts.join('');
  }

  #legendSvg(): string {
    const y0 = this.bottom + 36 + 8 + 11;
    return this.#legend.placed.map(({ entry, x, row }) => {
      const px = this.left + x;
      const py = y0 + row * LEGEND_ROW;
      return `<g class="legend-entry" data-mark="${entry.mark}">${swatch(entry, px, py)}<text x="${px + SWATCH + 4}" y="${py}">${esc(entry.label)}</text></g>`;
    }).join('');
  }

  render(): string {
    const { id, title } = this.spec;
    return `<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${this.width}" height="${this.height}" viewBox="0 0 ${this.width} ${this.height}" role="img" aria-label="${esc(title)}">` +
      `<title>${esc(title)}</title>${this.#axes()}${this.#marks.join('')}<g class="legend">${this.#legendSvg()}</g></svg>`;
  }
}

/** Data attributes of a mark, for readers and tests: `data-series`, `data-value`. */
export interface MarkData { series?: string; value?: number | string; kind?: string }

function dataAttrs(d: MarkData): string {
  return (d.series !== undefined ? ` data-series="${esc(d.series)}"` : '') + (d.value !== undefined ? ` data-value="${esc(String(d.value))}"` : '') +
    (d.kind !== undefined ? ` data-kind="${esc(d.kind)}"` : '');
}

export function barMark(x: number, y: number, width: number, height: number, fill: string, tip: string, data: MarkData = {}): string {
  return `<rect class="bar" x="${f1(x)}" y="${f1(y)}" width="${f1(Math.max(0.5, width))}" height="${f1(Math.max(0, height))}" fill="${esc(fill)}"${dataAttrs(data)}><title>${esc(tip)}</title></rect>`;
}

export function lineMark(points: Array<[number, number]>, stroke: string, data: MarkData = {}, dashed = false): string {
  const d = points.map(([x, y]) => `${f1(x)},${f1(y)}`).join(' ');
  return `<polyline class="line" points="${d}" fill="none" stroke="${esc(stroke)}" stroke-width="2"${dashed ? ' stroke-dasharray="5 3"' : ''}${dataAttrs(data)} />`;
}

export function pointMark(x: number, y: number, fill: string, tip: string, data: MarkData = {}, cls = 'point'): string {
  return `<circle class="${cls}" cx="${f1(x)}" cy="${f1(y)}" r="4" fill="${esc(fill)}"${dataAttrs(data)}><title>${esc(tip)}</title></circle>`;
}

export function squareMark(x: number, y: number, fill: string, tip: string, data: MarkData = {}, cls = 'point'): string {
  return `<rect class="${cls}" x="${f1(x - 4)}" y="${f1(y - 4)}" width="8" height="8" fill="${esc(fill)}"${dataAttrs(data)}><title>${esc(tip)}</title></rect>`;
}

/** A vertical rule across the plot (a percentile, the moment the guest stopped). */
export function vRule(chart: Chart, x: number, stroke: string, tip: string, data: MarkData = {}): string {
  return `<line class="rule" x1="${f1(x)}" x2="${f1(x)}" y1="${chart.bottom}" y2="${chart.top}" stroke="${esc(stroke)}" stroke-width="1.5" stroke-dasharray="4 3"${dataAttrs(data)}><title>${esc(tip)}</title></line>`;
}

/** A horizontal dashed rule from x1 to x2 (a threshold in effect over one band). */
export function hRule(x1: number, x2: number, y: number, stroke: string, tip: string, data: MarkData = {}): string {
  return `<line class="rule" x1="${f1(x1)}" x2="${f1(x2)}" y1="${f1(y)}" y2="${f1(y)}" stroke="${esc(stroke)}" stroke-width="2" stroke-dasharray="5 3"${dataAttrs(data)}><title>${esc(tip)}</title></line>`;
}
