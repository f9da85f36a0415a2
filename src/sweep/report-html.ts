// The sweep's self-contained HTML report: a convergence map per combination of the axes not
// shown (inline SVG, no scripts, no external resources), a table of the cells and a list of the
// failed runs. Each cell is coloured by the median downtime or total time of its seeds' completed
// runs (d3-scale, green = short to red = long); a hatched cell did not converge in some run, a grey
// cell with a cross has no completed run, a small cross in a corner means some run failed, a dashed
// outline means the cell has not run yet (a shard's or a partial merge's report). Hovering a cell
// shows its numbers (an SVG <title>). The page around it is every report's (src/report/html.ts).
import { scaleLinear } from 'd3-scale';
import { textWidth } from '../report/chart.js';
import { banner, esc, keyValueTable, page, section, table, type BannerLevel } from '../report/html.js';
import { cellValue, chooseAxes, convergenceMap, type Cell, type ConvergenceMap, type Facet, type Metric } from './cells.js';
import type { GridSummary } from './grid.js';
import type { RecordSummary } from './record.js';

const METRIC_LABEL: Record<Metric, string> = { downtime: 'downtime', total: 'total migration time' };
/** Short to long: green, yellow, red. */
const RAMP = ['#1a9850', '#fee08b', '#d73027'];
const FAILED_FILL = '#9e9e9e';

export interface SweepReportOptions {
  x: string | null;
  y: string | null;
  metric: Metric;
}

/** Milliseconds as a short text: 25.8 ms, 425 ms, 5.06 s. */
export function formatMs(ms: number): string {
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${ms.toFixed(ms < 100 ? 1 : 0)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

function colorScale(map: ConvergenceMap) {
  const [lo, hi] = map.domain ?? [0, 1];
  const s = scaleLinear().domain(lo === hi ? [lo * 0.9, hi * 1.1 + 1e-9] : [lo, hi]).nice();
  const [d0, d1] = s.domain() as [number, number];
  const color = scaleLinear<string>().domain([d0, (d0 + d1) / 2, d1]).range(RAMP).clamp(true);
  return { scale: s, color, d0, d1 };
}

function cellTitle(map: ConvergenceMap, facet: Facet, cell: Cell): string {
  const where = [
    ...(map.x.key ? [`${map.x.key} = ${map.x.labels[cell.x]}`] : []),
    ...(map.y.key ? [`${map.y.key} = ${map.y.labels[cell.y]}`] : []),
    ...facet.fixed.map((f) => `${f.key} = ${f.label}`),
  ];
  const lines = [where.join(', ') || 'the base scenario'];
  if (cell.runs < cell.expected) lines.push(`${cell.expected - cell.runs} of ${cell.expected} runs not run yet`);
  lines.push(`converged ${cell.converged}/${cell.runs}, not converged ${cell.completed - cell.converged}, failed ${cell.failed}${cell.failures.length ? ` (${cell.failures.join(', ')})` : ''}`);
  const show = (name: string, s: Cell['downtimeMs'], f: (v: number) => string) => {
    if (s) lines.push(`${name}: median ${f(s.median)}${s.min !== s.max ? ` (min ${f(s.min)}, max ${f(s.max)})` : ''}`);
  };
  show('downtime', cell.downtimeMs, formatMs);
  show('total time', cell.totalTimeMs, formatMs);
  show('syncs', cell.iterations, (v) => String(v));
  return lines.join('\n');
}

function facetSvg(map: ConvergenceMap, facet: Facet, f: number, scale: ReturnType<typeof colorScale>): string {
  const cols = map.x.labels.length;
  const rowsN = map.y.labels.length;
  const cw = Math.max(28, Math.min(72, Math.floor(640 / cols)));
  const ch = Math.max(20, Math.min(40, Math.floor(480 / rowsN)));
  // The y axis's name sits above its labels, horizontally (a rotated one is cut on short maps).
  const left = Math.ceil(16 + Math.max(...map.y.labels.map(textWidth)));
  // Bold text runs wider than textWidth's estimate.
  const yKeyWidth = map.y.key ? Math.ceil(textWidth(`${map.y.key} ^`) * 1.15) : 0;
  const longX = Math.max(...map.x.labels.map(textWidth));
  const rotate = longX > cw - 4;
  const bottom = 22 + (rotate ? Math.min(160, longX * 0.72) : 14);
  const top = map.y.key ? 24 : 12;
  const width = Math.ceil(Math.max(left + cols * cw + 16, 4 + yKeyWidth + 8));
  const height = Math.ceil(top + rowsN * ch + bottom);
  const id = `map-${f}`;
  const parts: string[] = [];
  parts.push(`<defs><pattern id="${id}-nc" patternUnits="userSpaceOnUse" width="7" height="7" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="7" stroke="#000" stroke-opacity="0.5" stroke-width="2" /></pattern></defs>`);
  for (const row of facet.rows) {
    for (const cell of row) {
      const x = left + cell.x * cw;
      // Row 0 at the bottom: the y axis grows upwards.
      const y = top + (rowsN - 1 - cell.y) * ch;
      const v = cellValue(cell, map.metric);
      const state = cell.runs === 0 ? 'not-run' : cell.completed === 0 ? 'failed' : cell.converged < cell.completed ? 'not-converged' : 'converged';
      const body: string[] = [`<title>${esc(cellTitle(map, facet, cell))}</title>`];
      if (state === 'not-run') {
        body.push(`<rect x="${x + 1}" y="${y + 1}" width="${cw - 2}" height="${ch - 2}" fill="#fff" stroke="#999" stroke-dasharray="3 2" />`);
      } else if (state === 'failed') {
        body.push(`<rect x="${x}" y="${y}" width="${cw}" height="${ch}" fill="${FAILED_FILL}" stroke="#fff" />`);
        body.push(`<path d="M${x + 6} ${y + 5}L${x + cw - 6} ${y + ch - 5}M${x + cw - 6} ${y + 5}L${x + 6} ${y + ch - 5}" stroke="#fff" stroke-width="2" />`);
      } else {
        body.push(`<rect x="${x}" y="${y}" width="${cw}" height="${ch}" fill="${scale.color(v!)}" stroke="#fff" />`);
        if (state === 'not-converged') body.push(`<rect class="nc" x="${x}" y="${y}" width="${cw}" height="${ch}" fill="url(#${id}-nc)" />`);
        if (cw >= 44 && ch >= 18) body.push(`<text x="${x + cw / 2}" y="${y + ch / 2 + 4}" text-anchor="middle" font-size="10" class="value">${esc(formatMs(v!).replace(' ', '\u00a0'))}</text>`);
      }
      if (cell.failed > 0 && state !== 'failed') body.push(`<path class="some-failed" d="M${x + cw - 9} ${y + 3}l6 6m0 -6l-6 6" stroke="#000" stroke-width="1.6" />`);
      parts.push(`<g class="cell" data-state="${state}" data-x="${cell.x}" data-y="${cell.y}"${v === null ? '' : ` data-value="${v}"`}>${body.join('')}</g>`);
    }
  }
  map.y.labels.forEach((l, i) => {
    parts.push(`<text class="row" x="${left - 6}" y="${top + (rowsN - 1 - i) * ch + ch / 2 + 4}" text-anchor="end">${esc(l)}</text>`);
  });
  const ly = top + rowsN * ch + 14;
  map.x.labels.forEach((l, i) => {
    const cx = left + i * cw + cw / 2;
    parts.push(rotate
      ? `<text class="col" x="${cx}" y="${ly}" text-anchor="end" transform="rotate(-40 ${cx} ${ly})">${esc(l)}</text>`
      : `<text class="col" x="${cx}" y="${ly}" text-anchor="middle">${esc(l)}</text>`);
  });
  if (map.x.key) parts.push(`<text class="axis-title" x="${left + (cols * cw) / 2}" y="${height - 6}" text-anchor="middle" font-weight="600">${esc(map.x.key)}</text>`);
  if (map.y.key) {
    parts.push(`<text class="axis-title" x="4" y="${top - 8}" font-weight="600">${esc(`${map.y.key} \u2191`)}</text>`);
  }
  const caption = facet.fixed.map((x) => `${x.key} = ${x.label}`).join(', ');
  const label = `Convergence map${caption ? ` for ${caption}` : ''}: ${METRIC_LABEL[map.metric]} by ${map.x.key ?? '(no axis)'} and ${map.y.key ?? '(no axis)'}`;
  return `<svg id="${id}" class="map" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${esc(label)}"><title>${esc(label)}</title>${parts.join('')}</svg>`;
}

const MARK_TEXTS = ['hatched: some run did not converge (forced switchover)', 'grey with a cross: no run completed', 'corner cross: some run failed', 'dashed: not run (yet)'] as const;

function legendSvg(map: ConvergenceMap, scale: ReturnType<typeof colorScale>): string {
  const barX = 20;
  const barW = 300;
  const parts: string[] = [];
  const caption = `median ${METRIC_LABEL[map.metric]} over the seeds' completed runs (ms)`;
  if (map.domain !== null) {
    const stops = RAMP.map((c, i) => `<stop offset="${(i / (RAMP.length - 1)) * 100}%" stop-color="${c}" />`).join('');
    parts.push(`<defs><linearGradient id="legend-ramp" x1="0" x2="1" y1="0" y2="0">${stops}</linearGradient></defs>`);
    parts.push(`<text x="${barX}" y="14">${esc(caption)}</text>`);
    parts.push(`<rect x="${barX}" y="22" width="${barW}" height="14" fill="url(#legend-ramp)" stroke="#999" />`);
    const at = (v: number) => barX + ((v - scale.d0) / (scale.d1 - scale.d0)) * barW;
    const format = scale.scale.tickFormat(5);
    for (const t of scale.scale.ticks(5)) {
      parts.push(`<line x1="${at(t).toFixed(1)}" x2="${at(t).toFixed(1)}" y1="36" y2="41" stroke="#555" /><text class="tick" x="${at(t).toFixed(1)}" y="53" text-anchor="middle">${esc(format(t))}</text>`);
    }
  } else {
    parts.push(`<text x="${barX}" y="30">no completed run: no colour scale</text>`);
  }
  const mx = Math.ceil(barX + Math.max(barW, textWidth(caption)) + 36);
  const mark = (y: number, swatch: string, text: string) => parts.push(`<g class="legend-entry">${swatch}<text x="${mx + 26}" y="${y + 11}">${esc(text)}</text></g>`);
  mark(4, `<rect x="${mx}" y="4" width="20" height="14" fill="${RAMP[1]}" /><rect x="${mx}" y="4" width="20" height="14" fill="url(#legend-nc)" />`, MARK_TEXTS[0]);
  mark(22, `<rect x="${mx}" y="22" width="20" height="14" fill="${FAILED_FILL}" /><path d="M${mx + 4} 25L${mx + 16} 33M${mx + 16} 25L${mx + 4} 33" stroke="#fff" stroke-width="2" />`, MARK_TEXTS[1]);
  mark(40, `<rect x="${mx}" y="40" width="20" height="14" fill="${RAMP[0]}" /><path d="M${mx + 11} 43l6 6m0 -6l-6 6" stroke="#000" stroke-width="1.6" />`, MARK_TEXTS[2]);
  mark(58, `<rect x="${mx + 1}" y="59" width="18" height="12" fill="#fff" stroke="#999" stroke-dasharray="3 2" />`, MARK_TEXTS[3]);
  const defs = '<defs><pattern id="legend-nc" patternUnits="userSpaceOnUse" width="7" height="7" patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="7" stroke="#000" stroke-opacity="0.5" stroke-width="2" /></pattern></defs>';
  const width = Math.ceil(mx + 26 + Math.max(...MARK_TEXTS.map(textWidth)) + 12);
  return `<svg id="legend" xmlns="http://www.w3.org/2000/svg" width="${width}" height="78" viewBox="0 0 ${width} 78" role="img" aria-label="Legend: colour scale and marks"><title>Legend: colour scale and marks</title>${defs}${parts.join('')}</svg>`;
}

function cellTable(map: ConvergenceMap): string {
  const keys = [map.x.key, map.y.key].filter((k): k is string => k !== null);
  const fixedKeys = map.facets[0]?.fixed.map((f) => f.key) ?? [];
  const head = [...fixedKeys, ...keys, 'runs', 'converged', 'failed', 'downtime (median)', 'total time (median)', 'syncs (median)'];
  const rows: string[][] = [];
  for (const facet of map.facets) {
    for (const row of facet.rows) {
      for (const c of row) {
        rows.push([
          ...facet.fixed.map((f) => f.label),
          ...(map.x.key ? [map.x.labels[c.x]!] : []), ...(map.y.key ? [map.y.labels[c.y]!] : []),
          `${c.runs}/${c.expected}`, `${c.converged}/${c.runs}`, c.failures.length ? `${c.failed} (${c.failures.join(', ')})` : String(c.failed),
          c.downtimeMs ? formatMs(c.downtimeMs.median) : '', c.totalTimeMs ? formatMs(c.totalTimeMs.median) : '', c.iterations ? String(c.iterations.median) : '',
        ]);
      }
    }
  }
  const first = fixedKeys.length + keys.length;
  return table('cells', head, rows, head.map((_, i) => i).filter((i) => i >= first));
}

const MAX_LISTED_FAILURES = 200;

function failureList(records: readonly RecordSummary[]): string {
  const bad = records.filter((r) => r.outcome === 'failed' || r.outcome === 'mismatch' || r.outcome === 'error');
  if (bad.length === 0) return '<p id="failures">No run failed.</p>';
  const items = bad.slice(0, MAX_LISTED_FAILURES).map((r) => {
    const where = Object.entries(r.axes).map(([k, v]) => `${k} = ${v}`).join(', ');
    const why = r.error ? `${r.error.code ?? 'error'}: ${r.error.message}` : r.outcome === 'mismatch' ? `destination memory differs in ${r.result?.check?.differingPages ?? '?'} pages` : r.outcome;
    return `<li>point ${r.index} (${esc(where || 'base')}, seed ${esc(r.seed)}): ${esc(r.outcome)}, ${esc(why)}</li>`;
  });
  const more = bad.length > MAX_LISTED_FAILURES ? `<p>… and ${bad.length - MAX_LISTED_FAILURES} more (see the JSON Lines).</p>` : '';
  return `<ul id="failures">${items.join('')}</ul>${more}`;
}

/** How the sweep went, in one line: a point without a result is a failure, points not run yet a warning. */
export function sweepBanner(grid: GridSummary, records: readonly RecordSummary[]): { level: BannerLevel; headline: string; detail: string } {
  const n = (o: string) => records.filter((r) => r.outcome === o).length;
  const broken = n('error') + n('mismatch');
  const counts = `${n('converged')} converged, ${n('not-converged')} did not converge, ${n('failed')} failed or blocked`;
  const missing = grid.points - records.length;
  if (broken > 0) {
    const why = [n('error') ? `${n('error')} without a result` : '', n('mismatch') ? `${n('mismatch')} with destination memory differing` : ''].filter(Boolean).join(', ');
    return { level: 'failure', headline: `${broken} of ${records.length} points broken: ${why}`, detail: `${counts}; see Failed runs` };
  }
  if (missing > 0) return { level: 'warning', headline: `${records.length} of ${grid.points} points run (a shard, or a sweep not finished)`, detail: counts };
  return { level: 'ok', headline: `${grid.points} points run: ${counts}`, detail: '' };
}

export function renderSweepReport(grid: GridSummary, records: readonly RecordSummary[], o: SweepReportOptions): string {
  const axes = chooseAxes(grid, o.x, o.y);
  const map = convergenceMap(grid, records, axes.x, axes.y, o.metric);
  const scale = colorScale(map);
  const counts = new Map<string, number>();
  for (const r of records) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1);
  const outcomeText = [...counts].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  const title = grid.title ?? 'dmalog sweep';
  const axesText = grid.axes.map((a) => `${a.key} (${a.labels.join(', ')})`).join('; ') || 'none';
  const maps = map.facets.map((facet, f) => {
    const caption = facet.fixed.map((x) => `${x.key} = ${x.label}`).join(', ');
    return `${caption ? `<h3>${esc(caption)}</h3>` : ''}${facetSvg(map, facet, f, scale)}`;
  }).join('\n');
  const b = sweepBanner(grid, records);
  const summary = keyValueTable('summary', [
    ['grid', `${grid.hash}: ${grid.points} points = ${axesText} × ${grid.seeds.length} seed(s) (${grid.seeds.join(', ')})`],
    ['runs recorded', `${records.length} of ${grid.points}: ${outcomeText}`],
    ['map', `${METRIC_LABEL[o.metric]} by ${map.x.key ?? '(no axis)'} (across) and ${map.y.key ?? '(no axis)'} (up)${map.facets.length > 1 ? `, one map per value of ${map.facets[0]!.fixed.map((f) => f.key).join(' × ')}` : ''}; each cell is the median over its seeds' completed runs`],
  ]);
  const body = [
    section('Summary', summary),
    section('Convergence map', `${legendSvg(map, scale)}\n${maps}`),
    section('Cells', cellTable(map)),
    section('Failed runs', failureList(records)),
  ].join('');
  return page(`${title} (grid ${grid.hash})`, banner(b.level, b.headline, b.detail), body);
}
