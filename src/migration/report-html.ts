// The self-contained HTML report of a migration run (src/report: no scripts, no external
// resources). A banner first says how the run ended (a forced switchover or a failure is not
// "completed" in small print), then the summary, three charts and the per-sync table. Charts:
// pages each tracker reported per sync beside the newly dirty RAM pages (their union less pages
// already waiting), pending bytes after each sync against that sync's switchover threshold, and
// bytes sent / still dirty over simulated time.
import { Chart, INK, barMark, color, hRule, lineMark, pointMark, vRule, type LegendEntry } from '../report/chart.js';
import { banner, keyValueTable, page, preformatted, section, table, type BannerLevel } from '../report/html.js';
import type { IterationStats, MigrationResult } from './result.js';
import { mib, seconds, summaryText, trackerTotals } from './summary.js';

const MiB = 1 << 20;
const count = (n: number) => n.toLocaleString('en-US');

/** The sync's label on a chart's x axis: its number, F for the final sync (after the guest stopped). */
function syncLabel(s: IterationStats): string {
  return s.phase === 'final' ? 'F' : String(s.iteration);
}

function trackerNames(r: MigrationResult): string[] {
  return [...new Set(r.iterationStats.flatMap((s) => Object.keys(s.reported)))];
}

/** How the run ended, for the banner at the top of the report. */
export function migrationBanner(r: MigrationResult): { level: BannerLevel; headline: string; detail: string } {
  if (r.failure) {
    const what = r.status === 'blocked' ? 'Migration BLOCKED' : 'Migration FAILED';
    return { level: 'failure', headline: `${what}: ${r.failure.errno} from ${r.failure.tracker} (stage ${r.failure.stage})`, detail: `${r.failure.code}: ${r.failure.message}. The guest keeps running on the source; memory was not checked.` };
  }
  if (r.check && !r.check.identical) {
    return { level: 'failure', headline: `Memory MISMATCH: ${count(r.check.differingPages)} of ${count(r.check.pagesCompared)} pages differ`, detail: `first differing pages: ${r.check.firstDiffering.join(', ')}` };
  }
  if (!r.converged) {
    return { level: 'warning', headline: `Forced switchover: the migration did not converge (${r.notConverged?.code ?? 'unknown'})`,
      detail: `${r.notConverged?.message ?? ''}. The guest was stopped with more pending than the downtime limit allows: downtime ${seconds(r.downtimeMs)} (limit ${r.scenario.downtimeLimitMs} ms).` };
  }
  if (r.faultsNotInjected.length > 0) {
    return { level: 'warning', headline: `Completed, but ${r.faultsNotInjected.length} requested fault(s) were never injected`, detail: r.faultsNotInjected.map((f) => `${f.device}:${f.iteration}:${f.kind}`).join(', ') };
  }
  const last = r.iterationStats.filter((s) => s.phase === 'precopy').at(-1);
  return { level: 'ok', headline: `Migrated: converged at sync ${last?.iteration ?? 0}, memory identical`, detail: `downtime ${seconds(r.downtimeMs)} (limit ${r.scenario.downtimeLimitMs} ms), ${seconds(r.totalTimeMs)} simulated` };
}

const UNION = 'newly dirty RAM pages';

/** Per sync, one bar per tracker (the pages it reported) beside one bar of newly dirty RAM pages. */
export function dirtyChart(r: MigrationResult): string {
  const names = trackerNames(r);
  const stats = r.iterationStats;
  const max = Math.max(1, ...stats.flatMap((s) => [s.freshPages, ...Object.values(s.reported)]));
  const drawn = (name: string) => stats.some((s) => (name === UNION ? s.freshPages : (s.reported[name] ?? 0)) > 0);
  // A legend entry for each series that has a bar; a chart with no bar at all is not drawn.
  const legend: LegendEntry[] = [
    ...names.flatMap((n, i) => (drawn(n) ? [{ label: `${n}: pages it reported`, color: color(i), mark: 'bar' as const }] : [])),
    ...(drawn(UNION) ? [{ label: `${UNION} (the union, each page once)`, color: INK.union, mark: 'bar' as const }] : []),
  ];
  if (legend.length === 0) return '';
  const chart = new Chart({ id: 'chart-dirty', title: 'Pages reported per sync by each tracker, beside the newly dirty RAM pages', x: { kind: 'band', label: 'sync (F = final, after the guest stopped)', bands: stats.map(syncLabel) },
    y: { kind: 'linear', label: 'pages', max, integer: true }, legend });
  const series = [...names, UNION];
  for (const s of stats) {
    const band = chart.xBand(syncLabel(s));
    const w = band.width / series.length;
    series.forEach((name, i) => {
      const pages = name === UNION ? s.freshPages : (s.reported[name] ?? 0);
      if (pages === 0) return;
      const tip = name === UNION ? `sync ${s.iteration}: ${count(pages)} RAM pages newly dirty` : `sync ${s.iteration}, ${name}: ${count(pages)} pages reported`;
      chart.add(barMark(band.x + i * w, chart.y(pages), w * 0.92, chart.y(0) - chart.y(pages), name === UNION ? INK.union : color(i), tip, { series: name, value: pages }));
    });
  }
  return chart.render();
}

type PendingKind = 'below' | 'above' | 'final';
const PENDING_LEGEND: Record<PendingKind, LegendEntry> = {
  below: { label: 'pending ≤ threshold: switch over', color: INK.good, mark: 'dot' },
  above: { label: 'pending > threshold: another pass', color: INK.bad, mark: 'dot' },
  final: { label: 'final sync, guest stopped: sent in the downtime', color: INK.muted, mark: 'dot' },
};

function pendingKind(s: IterationStats): PendingKind {
  return s.phase === 'final' ? 'final' : s.pendingBytes <= s.thresholdBytes ? 'below' : 'above';
}

/** Pending bytes after each sync against the switchover threshold in effect at that sync. */
export function pendingChart(r: MigrationResult): string {
  const stats = r.iterationStats;
  const kinds = [...new Set(stats.map(pendingKind))];
  const legend: LegendEntry[] = [
    { label: 'pending after the sync (dirty RAM + device state)', color: color(0), mark: 'line' },
    { label: 'threshold = bandwidth × downtime limit (0 until the first 100 ms window)', color: INK.bad, mark: 'dashed' },
    ...(['below', 'above', 'final'] as const).filter((k) => kinds.includes(k)).map((k) => PENDING_LEGEND[k]),
  ];
  const max = Math.max(...stats.map((s) => Math.max(s.pendingBytes, s.thresholdBytes))) / MiB;
  const chart = new Chart({ id: 'chart-pending', title: 'Pending bytes after each sync against the switchover threshold', x: { kind: 'band', label: 'sync (F = final)', bands: stats.map(syncLabel) },
    y: { kind: 'linear', label: 'MiB', max }, legend });
  const mid = (s: IterationStats) => { const b = chart.xBand(syncLabel(s)); return b.x + b.width / 2; };
  // The threshold as a dashed step across each sync's band: it changes once the rate is measured.
  for (const s of stats) {
    const b = chart.xBand(syncLabel(s));
    chart.add(hRule(b.x, b.x + b.width, chart.y(s.thresholdBytes / MiB), INK.bad, `sync ${s.iteration}: threshold ${mib(s.thresholdBytes)}`, { series: 'threshold', value: s.thresholdBytes }));
  }
  chart.add(lineMark(stats.map((s) => [mid(s), chart.y(s.pendingBytes / MiB)]), color(0), { series: 'pending' }));
  for (const s of stats) {
    const kind = pendingKind(s);
    chart.add(pointMark(mid(s), chart.y(s.pendingBytes / MiB), PENDING_LEGEND[kind].color, `sync ${s.iteration}: ${mib(s.pendingBytes)} pending, threshold ${mib(s.thresholdBytes)}`, { series: 'pending', kind, value: s.pendingBytes }));
  }
  return chart.render();
}

/** Cumulative bytes sent and dirty bytes outstanding over simulated time. */
export function transferChart(r: MigrationResult): string {
  const tl = r.timeline;
  const stop = r.totalTimeMs - r.downtimeMs;
  const rule = r.status === 'completed' ? { label: 'guest stopped: the downtime begins', color: INK.muted, at: stop, kind: 'guest-stopped' }
    : r.failure ? { label: `migration ${r.status}`, color: INK.bad, at: r.totalTimeMs, kind: r.status } : null;
  const legend: LegendEntry[] = [
    { label: 'sent (cumulative)', color: color(0), mark: 'line' },
    { label: 'dirty, not yet sent', color: color(1), mark: 'line' },
    ...(rule ? [{ label: rule.label, color: rule.color, mark: 'dashed' as const }] : []),
  ];
  const tMax = Math.max(1, ...tl.map((p) => p.atMs), rule?.at ?? 0) / 1000;
  const max = Math.max(1, ...tl.map((p) => Math.max(p.sentBytes, p.dirtyBytes))) / MiB;
  const chart = new Chart({ id: 'chart-transfer', title: 'Transfer over simulated time', x: { kind: 'linear', label: 'simulated time (s)', max: tMax }, y: { kind: 'linear', label: 'MiB', max }, legend });
  chart.add(lineMark(tl.map((p) => [chart.x(p.atMs / 1000), chart.y(p.sentBytes / MiB)]), color(0), { series: 'sent' }));
  chart.add(lineMark(tl.map((p) => [chart.x(p.atMs / 1000), chart.y(p.dirtyBytes / MiB)]), color(1), { series: 'dirty' }));
  if (rule) chart.add(vRule(chart, chart.x(rule.at / 1000), rule.color, `${rule.label} at ${seconds(rule.at)}`, { kind: rule.kind }));
  return chart.render();
}

function summaryRows(r: MigrationResult): Array<[string, string]> {
  return [
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
    ['dirty pages by tracker (all syncs)', Object.entries(trackerTotals(r)).map(([n, p]) => `${n} ${count(p)}`).join(', ') || 'none'],
    ['REPORT errors / restarts / retired', `${r.recovery.reportErrors} / ${r.recovery.restarts} / ${r.recovery.retired}`],
    ['failure', r.failure ? `${r.failure.code} ${r.failure.errno}: ${r.failure.message}` : 'none'],
    ['memory', r.check ? (r.check.identical ? `identical (${count(r.check.pagesCompared)} pages${r.scenario.memory === 'versions' ? ', by write version' : ''})` : `MISMATCH in ${r.check.differingPages} pages, first ${r.check.firstDiffering.join(', ')}`) : 'not checked'],
  ];
}

function syncTable(r: MigrationResult): string {
  const names = trackerNames(r);
  const head = ['sync', 'at', 'sent since previous', ...names.map((n) => `${n} pages`), UNION, 'pending', 'threshold', 'throttle', 'recoveries'];
  const rows = r.iterationStats.map((s) => [
    `${s.iteration}${s.phase === 'final' ? ' (final)' : ''}`, seconds(s.atMs), mib(s.sentBytes), ...names.map((n) => count(s.reported[n] ?? 0)),
    count(s.freshPages), mib(s.pendingBytes), mib(s.thresholdBytes), `${s.throttlePct}%`, s.recoveries.map((x) => `${x.tracker} ${x.errno}→${x.recovery}`).join(', '),
  ]);
  return table('syncs', head, rows, head.map((_, i) => i).filter((i) => i !== head.length - 1));
}

export function renderReport(r: MigrationResult): string {
  const b = migrationBanner(r);
  const synced = r.iterationStats.length > 0;
  const dirty = synced ? dirtyChart(r) : '';
  const body = [
    section('Summary', keyValueTable('summary', summaryRows(r))),
    synced ? '' : '<p id="no-sync">No sync ran: the migration stopped before dirty logging started, so there is nothing to chart.</p>',
    synced && dirty === '' ? '<p id="no-pages">No tracker reported a dirty page in any sync.</p>' : '',
    section('Pages per sync', dirty,
      'Bars side by side, not stacked: the trackers\' reports overlap (a page written by a vCPU and by a device is in both, and two devices may write one page), so they need not add up to the newly dirty pages, which count each RAM page once and leave out pages still waiting to be sent.'),
    section('Pending bytes against the switchover threshold', synced ? pendingChart(r) : ''),
    section('Transfer over time', r.timeline.length > 0 ? transferChart(r) : ''),
    section('Syncs', syncTable(r)),
    section('Text summary', preformatted(summaryText(r))),
  ].join('');
  return page(`dmalog migration report (seed ${r.seed})`, banner(b.level, b.headline, b.detail), body);
}
