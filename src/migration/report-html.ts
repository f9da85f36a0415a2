// The self-contained HTML report of a migration run: inline SVG charts and tables, no scripts,
// no external resources. Written as well-formed XML (void elements closed) so that any XML
// parser reads it. Charts: dirty pages per sync stacked by tracker, pending bytes against the
// switchover threshold, and bytes sent / still dirty over simulated time.
import type { MigrationResult } from './result.js';
import { mib, seconds, summaryText, trackerTotals } from './summary.js';

const W = 760;
const H = 280;
const M = { left: 70, right: 20, top: 24, bottom: 44 };
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];
const MiB = 1 << 20;

export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** A round step giving about `count` ticks up to `max`. */
function niceStep(max: number, count = 5): number {
  if (max <= 0) return 1;
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

interface Frame { x0: number; x1: number; y0: number; y1: number; yMax: number; y: (v: number) => number }

function frame(yMaxRaw: number, yLabel: string, format: (v: number) => string): { frame: Frame; svg: string } {
  const step = niceStep(yMaxRaw);
  const yMax = Math.max(step, Math.ceil(yMaxRaw / step) * step);
  const x0 = M.left;
  const x1 = W - M.right;
  const y0 = H - M.bottom;
  const y1 = M.top;
  const y = (v: number) => y0 - (v / yMax) * (y0 - y1);
  const parts: string[] = [];
  for (let v = 0; v <= yMax + step / 2; v += step) {
    parts.push(`<line x1="${x0}" x2="${x1}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e3e3e3" />`);
    parts.push(`<text x="${x0 - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${esc(format(v))}</text>`);
  }
  parts.push(`<line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#555" />`);
  parts.push(`<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#555" />`);
  parts.push(`<text x="14" y="${(y0 + y1) / 2}" transform="rotate(-90 14 ${(y0 + y1) / 2})" text-anchor="middle">${esc(yLabel)}</text>`);
  return { frame: { x0, x1, y0, y1, yMax, y }, svg: parts.join('') };
}

function svg(id: string, title: string, body: string): string {
  return `<svg id="${id}" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}"><title>${esc(title)}</title>${body}</svg>`;
}

function legend(names: string[], colorOf: (name: string) => string, x: number): string {
  return names.map((n, i) => `<rect x="${x}" y="${M.top + i * 16}" width="10" height="10" fill="${colorOf(n)}" /><text x="${x + 14}" y="${M.top + 9 + i * 16}">${esc(n)}</text>`).join('');
}

/** Dirty pages each tracker reported per sync, stacked. */
export function dirtyChart(r: MigrationResult): string {
  const names = [...new Set(r.iterationStats.flatMap((s) => Object.keys(s.reported)))];
  const colorOf = (n: string) => PALETTE[names.indexOf(n) % PALETTE.length]!;
  const totals = r.iterationStats.map((s) => Object.values(s.reported).reduce((a, b) => a + b, 0));
  const { frame: f, svg: axes } = frame(Math.max(1, ...totals), 'dirty pages reported', (v) => String(v));
  const plotRight = f.x1 - 120;
  const n = Math.max(1, r.iterationStats.length);
  const slot = (plotRight - f.x0) / n;
  const bars: string[] = [];
  r.iterationStats.forEach((s, i) => {
    let base = 0;
    const x = f.x0 + i * slot + slot * 0.15;
    for (const name of names) {
      const pages = s.reported[name] ?? 0;
      if (pages > 0) {
        bars.push(`<rect class="bar" x="${x.toFixed(1)}" y="${f.y(base + pages).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${(f.y(base) - f.y(base + pages)).toFixed(1)}" fill="${colorOf(name)}"><title>sync ${s.iteration} ${esc(name)}: ${pages} pages</title></rect>`);
      }
      base += pages;
    }
    bars.push(`<text x="${(x + slot * 0.35).toFixed(1)}" y="${f.y0 + 16}" text-anchor="middle">${s.phase === 'final' ? 'F' : s.iteration}</text>`);
  });
  const xLabel = `<text x="${(f.x0 + plotRight) / 2}" y="${H - 8}" text-anchor="middle">sync (F = final, after the guest stopped)</text>`;
  return svg('chart-dirty', 'Dirty pages per sync, by tracker', axes + bars.join('') + xLabel + legend(names, colorOf, plotRight + 16));
}

/** Pending bytes after each sync against the switchover threshold. */
export function pendingChart(r: MigrationResult): string {
  const stats = r.iterationStats;
  const threshold = stats[0]?.thresholdBytes ?? 0;
  const { frame: f, svg: axes } = frame(Math.max(threshold, ...stats.map((s) => s.pendingBytes)) / MiB, 'MiB pending', (v) => String(v));
  const n = Math.max(1, stats.length);
  const slot = (f.x1 - f.x0) / n;
  const xs = stats.map((_, i) => f.x0 + (i + 0.5) * slot);
  const points = stats.map((s, i) => `${xs[i]!.toFixed(1)},${f.y(s.pendingBytes / MiB).toFixed(1)}`).join(' ');
  const dots = stats.map((s, i) => `<circle cx="${xs[i]!.toFixed(1)}" cy="${f.y(s.pendingBytes / MiB).toFixed(1)}" r="3.5" fill="${s.pendingBytes <= s.thresholdBytes ? '#59a14f' : '#e15759'}"><title>sync ${s.iteration}: ${mib(s.pendingBytes)} pending</title></circle>` +
    `<text x="${xs[i]!.toFixed(1)}" y="${f.y0 + 16}" text-anchor="middle">${s.phase === 'final' ? 'F' : s.iteration}</text>`).join('');
  const ty = f.y(threshold / MiB).toFixed(1);
  const line = `<polyline class="pending" points="${points}" fill="none" stroke="#4e79a7" stroke-width="2" />`;
  const thr = `<line class="threshold" x1="${f.x0}" x2="${f.x1}" y1="${ty}" y2="${ty}" stroke="#e15759" stroke-dasharray="6 4" /><text x="${f.x0 + 6}" y="${Number(ty) - 5}" fill="#e15759">threshold = bandwidth × downtime limit = ${esc(mib(threshold))}</text>`;
  const xLabel = `<text x="${(f.x0 + f.x1) / 2}" y="${H - 8}" text-anchor="middle">sync (pending = dirty RAM + device state)</text>`;
  return svg('chart-pending', 'Pending bytes after each sync against the switchover threshold', axes + thr + line + dots + xLabel);
}

/** Cumulative bytes sent and dirty bytes outstanding over simulated time. */
export function transferChart(r: MigrationResult): string {
  const tl = r.timeline;
  const tMax = Math.max(1, ...tl.map((p) => p.atMs));
  const { frame: f, svg: axes } = frame(Math.max(1, ...tl.map((p) => Math.max(p.sentBytes, p.dirtyBytes))) / MiB, 'MiB', (v) => String(v));
  const x = (ms: number) => f.x0 + (ms / tMax) * (f.x1 - f.x0 - 120);
  const path = (pick: (p: (typeof tl)[number]) => number) => tl.map((p) => `${x(p.atMs).toFixed(1)},${f.y(pick(p) / MiB).toFixed(1)}`).join(' ');
  const step = niceStep(tMax / 1000, 6);
  const ticks: string[] = [];
  for (let s = 0; s <= tMax / 1000 + 1e-9; s += step) {
    ticks.push(`<text x="${x(s * 1000).toFixed(1)}" y="${f.y0 + 16}" text-anchor="middle">${Number(s.toFixed(3))}</text>`);
  }
  const stop = r.totalTimeMs - r.downtimeMs;
  const marker = r.status === 'completed'
    ? `<line x1="${x(stop).toFixed(1)}" x2="${x(stop).toFixed(1)}" y1="${f.y0}" y2="${f.y1}" stroke="#999" stroke-dasharray="3 3" /><text x="${(x(stop) - 4).toFixed(1)}" y="${f.y1 + 10}" text-anchor="end" fill="#777">guest stopped</text>`
    : '';
  const lines = `<polyline class="sent" points="${path((p) => p.sentBytes)}" fill="none" stroke="#4e79a7" stroke-width="2" />` +
    `<polyline class="dirty" points="${path((p) => p.dirtyBytes)}" fill="none" stroke="#f28e2b" stroke-width="2" />`;
  const colors: Record<string, string> = { 'sent (cumulative)': '#4e79a7', 'dirty, not yet sent': '#f28e2b' };
  const xLabel = `<text x="${(f.x0 + f.x1 - 120) / 2}" y="${H - 8}" text-anchor="middle">simulated time (s)</text>`;
  return svg('chart-transfer', 'Transfer over simulated time', axes + ticks.join('') + marker + lines + xLabel + legend(Object.keys(colors), (n) => colors[n]!, f.x1 - 104));
}

function summaryTable(r: MigrationResult): string {
  const rows: Array<[string, string]> = [
    ['status', r.status],
    ['seed', r.seed],
    ['guest RAM', `${mib(r.scenario.ramBytes)} (${r.scenario.memory === 'versions' ? 'page versions' : 'bytes'})`],
    ['vCPU writers', String(r.scenario.vcpus)],
    ['devices', r.scenario.devices.map((d) => `${d.name} (${d.profile}${d.logging ? '' : ', no logging'}; ${d.workload})`).join(', ') || 'none'],
    ['tracking', r.tracking],
    ['bandwidth / downtime limit', `${mib(r.scenario.bandwidth)}/s / ${r.scenario.downtimeLimitMs} ms`],
    ['total time (simulated)', seconds(r.totalTimeMs)],
    ['downtime', seconds(r.downtimeMs)],
    ['syncs / windows', `${r.iterations} / ${r.windows}`],
    ['bytes sent', `${mib(r.bytesSent.ram)} RAM + ${mib(r.bytesSent.deviceState)} device state = ${mib(r.bytesSent.total)}`],
    ['converged', r.converged ? 'yes' : `no${r.notConverged ? ` (${r.notConverged.code}): ${r.notConverged.message}` : ''}`],
    ['dirty pages by tracker', Object.entries(trackerTotals(r)).map(([n, p]) => `${n} ${p}`).join(', ')],
    ['REPORT errors / restarts / retired', `${r.recovery.reportErrors} / ${r.recovery.restarts} / ${r.recovery.retired}`],
    ['failure', r.failure ? `${r.failure.code} ${r.failure.errno}: ${r.failure.message}` : 'none'],
    ['memory', r.check ? (r.check.identical ? `identical (${r.check.pagesCompared} pages)` : `MISMATCH in ${r.check.differingPages} pages, first ${r.check.firstDiffering.join(', ')}`) : 'not checked'],
  ];
  return `<table id="summary"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join('')}</tbody></table>`;
}

function syncTable(r: MigrationResult): string {
  const names = [...new Set(r.iterationStats.flatMap((s) => Object.keys(s.reported)))];
  const head = ['sync', 'at', 'sent since previous', ...names.map((n) => `${n} pages`), 'newly dirty', 'pending', 'throttle'];
  const rows = r.iterationStats.map((s) => [
    `${s.iteration}${s.phase === 'final' ? ' (final)' : ''}`, seconds(s.atMs), mib(s.sentBytes), ...names.map((n) => String(s.reported[n] ?? 0)),
    String(s.freshPages), mib(s.pendingBytes), `${s.throttlePct}%`,
  ]);
  return `<table id="syncs"><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((row) => `<tr>${row.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function renderReport(r: MigrationResult): string {
  const charts = r.iterationStats.length > 0
    ? `<h2>Dirty pages per sync</h2>${dirtyChart(r)}<h2>Pending bytes against the switchover threshold</h2>${pendingChart(r)}<h2>Transfer over time</h2>${transferChart(r)}`
    : '<p>No sync ran: the migration stopped before logging started.</p>';
  return `<!DOCTYPE html>
<html lang="en" xmlns="http://www.w3.org/1999/xhtml">
<head>
<meta charset="utf-8" />
<title>dmalog migration report (seed ${esc(r.seed)})</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; max-width: 980px; }
svg { font: 11px system-ui, sans-serif; display: block; margin: 8px 0 20px; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
#syncs td { text-align: right; }
pre { background: #f6f6f6; padding: 10px; overflow-x: auto; }
</style>
</head>
<body>
<h1>dmalog migration report</h1>
<h2>Summary</h2>
${summaryTable(r)}
${charts}
<h2>Syncs</h2>
${syncTable(r)}
<h2>Text summary</h2>
<pre>${esc(summaryText(r))}</pre>
</body>
</html>
`;
}
