// The self-contained HTML report of a stress run (`dmalog stress --report FILE`): a banner with
// the verdict, the summary, the report-set latency histogram with its percentiles, each device's
// DMA throughput over time, and the faults and recoveries on a timeline.
import { Chart, INK, barMark, color, lineMark, pointMark, squareMark, vRule, type LegendEntry } from '../report/chart.js';
import { banner, keyValueTable, page, section, table, type BannerLevel } from '../report/html.js';
import type { StressEvent } from './history.js';
import type { StressReport } from './runner.js';

const count = (v: number) => Math.round(v).toLocaleString('en-US');
const ms = (v: number) => `${Number(v < 10 ? v.toFixed(3) : v.toFixed(1))} ms`;

export function stressBanner(r: StressReport): { level: BannerLevel; headline: string; detail: string } {
  if (!r.ok) {
    const what = [r.lost && `${count(r.lost)} lost`, r.imprecise && `${count(r.imprecise)} imprecise`, r.zeroingViolations && 'the zeroing rule broken'].filter(Boolean).join(', ');
    return { level: 'failure', headline: `BROKEN: ${what}`, detail: `seed ${r.seed}: the same seed replays the same writes and faults` };
  }
  if (r.stoppedBy) {
    const s = r.stoppedBy;
    const why = s.errno === 'DMALOG_ZEROING_RULE' ? 'the bitmap was not zero at its start' : `REPORT failed with ${s.errno} on ${s.tracker ?? '?'} (policy ${r.options.policy}: logging stopped everywhere)`;
    return { level: 'warning', headline: `Stopped early at report set ${s.set}`, detail: `${why}. Every invariant held in the ${count(r.reportSets)} sets that ran, but the run tested less than asked.` };
  }
  return { level: 'ok', headline: `Every invariant held over ${count(r.reportSets)} report sets`, detail: `${count(r.writes)} DMA writes logged, ${count(r.faults.total)} faults injected, nothing lost` };
}

function summaryRows(r: StressReport): Array<[string, string]> {
  const l = r.reportSetLatency;
  const inj = Object.entries(r.faults.injected).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    ['seed', String(r.seed)],
    ['devices', r.devices.map((d) => `${d.name} (${d.pageSize / 1024}K granule)`).join(', ')],
    ['workload / contract / policy', `${r.options.workload} / ${r.options.contract} / ${r.options.policy}`],
    ['writes logged', `${count(r.writes)} in ${count(r.bursts)} bursts`],
    ['report sets', count(r.reportSets)],
    ['pages reported', count(r.pagesReported)],
    ['lost / imprecise / zeroing violations', `${count(r.lost)} / ${count(r.imprecise)} / ${count(r.zeroingViolations)}`],
    ['faults injected', `${count(r.faults.total)}${inj ? ` (${inj})` : ''}`],
    ['REPORT errors / restarted / retired', `${count(r.faults.reportErrors)} / ${count(r.faults.restarts)} / ${count(r.faults.retired)}`],
    ['report-set latency', l ? `p50 ${ms(l.p50Ms)}, p99 ${ms(l.p99Ms)}, max ${ms(l.maxMs)}` : 'no report set completed'],
    ['throughput', `${count(r.writesPerSecond)} writes/s, ${count(r.setsPerSecond)} report sets/s`],
    ['elapsed', `${(r.elapsedMs / 1000).toFixed(2)} s`],
  ];
}

const PERCENTILES = [
  { key: 'p50Ms', label: 'p50 (median)', color: INK.good },
  { key: 'p99Ms', label: 'p99', color: '#f28e2b' },
  { key: 'maxMs', label: 'max', color: INK.bad },
] as const;

/** Report sets per latency bin, with the p50, p99 and max as rules. */
export function latencyChart(r: StressReport): string {
  const l = r.reportSetLatency;
  const bins = r.history.latencyHistogram;
  if (l === null || bins.length === 0) return '';
  const legend: LegendEntry[] = [
    { label: `report sets per ${ms(bins[0]!.toMs - bins[0]!.fromMs)} bin`, color: color(0), mark: 'bar' },
    ...PERCENTILES.map((p) => ({ label: `${p.label} = ${ms(l[p.key])}`, color: p.color, mark: 'dashed' as const })),
  ];
  const chart = new Chart({ id: 'chart-latency', title: 'Report-set latency histogram', x: { kind: 'linear', label: 'report-set wall latency (ms)', max: bins.at(-1)!.toMs },
    y: { kind: 'linear', label: 'report sets', max: Math.max(1, ...bins.map((b) => b.sets)), integer: true }, legend });
  for (const b of bins) {
    if (b.sets === 0) continue;
    chart.add(barMark(chart.x(b.fromMs) + 0.5, chart.y(b.sets), chart.x(b.toMs) - chart.x(b.fromMs) - 1, chart.y(0) - chart.y(b.sets), color(0), `${ms(b.fromMs)} to ${ms(b.toMs)}: ${count(b.sets)} sets`, { value: b.sets }));
  }
  for (const p of PERCENTILES) chart.add(vRule(chart, chart.x(l[p.key]), p.color, `${p.label}: ${ms(l[p.key])}`, { kind: p.key.replace('Ms', ''), value: l[p.key] }));
  return chart.render();
}

function latencyTable(r: StressReport): string {
  const l = r.reportSetLatency;
  if (l === null) return '';
  return table('latency', ['sets', 'min', 'p50', 'p90', 'p99', 'max', 'mean'], [[count(l.count), ms(l.minMs), ms(l.p50Ms), ms(l.p90Ms), ms(l.p99Ms), ms(l.maxMs), ms(l.meanMs)]], [0, 1, 2, 3, 4, 5, 6]);
}

/** DMA writes logged per second by each device, over the run. */
export function throughputChart(r: StressReport): string {
  const buckets = r.history.throughput;
  if (buckets.length === 0) return '';
  const legend: LegendEntry[] = r.devices.map((d, i) => ({ label: d.name, color: color(i), mark: 'line' }));
  const chart = new Chart({ id: 'chart-throughput', title: 'DMA throughput per device over time', x: { kind: 'linear', label: 'time since the rig was up (s)', max: r.elapsedMs / 1000 },
    y: { kind: 'linear', label: 'writes logged per second', max: Math.max(1, ...buckets.flatMap((b) => b.writesPerSecond)) }, legend });
  const width = buckets[0]!.endMs;
  r.devices.forEach((d, i) => {
    const pts = buckets.map((b) => [chart.x((b.endMs - width / 2) / 1000), chart.y(b.writesPerSecond[i]!)] as [number, number]);
    chart.add(lineMark(pts, color(i), { series: d.name }));
    buckets.forEach((b, k) => chart.add(pointMark(pts[k]![0], pts[k]![1], color(i), `${d.name}, ${((b.endMs - width) / 1000).toFixed(2)}-${(b.endMs / 1000).toFixed(2)} s: ${count(b.writesPerSecond[i]!)} writes/s`, { series: d.name, value: b.writesPerSecond[i]! })));
  });
  return chart.render();
}

/** The colour and shape of each kind of event, and what its legend says. */
const EVENT_STYLE: Record<string, { label: string; color: string; shape: 'dot' | 'square' }> = {
  'fault:report-error': { label: 'fault injected: report-error', color: '#e15759', shape: 'dot' },
  'fault:tracker-error': { label: 'fault injected: tracker-error', color: '#b07aa1', shape: 'dot' },
  'fault:slow-report': { label: 'fault injected: slow-report', color: '#edc948', shape: 'dot' },
  'fault:die-in-report': { label: 'fault injected: die-in-report (thread killed)', color: '#3b3b3b', shape: 'dot' },
  'recovery:restarted': { label: 'REPORT failed → restarted (STOP, START, marked dirty)', color: '#59a14f', shape: 'square' },
  'recovery:retired': { label: 'REPORT failed → retired (its span marked dirty in every later set)', color: '#9c755f', shape: 'square' },
  'recovery:none': { label: 'REPORT failed, not recovered', color: '#e15759', shape: 'square' },
  'stop:stopped': { label: 'the run stopped here', color: '#8a1c1c', shape: 'square' },
};

export const eventKey = (e: StressEvent) => `${e.type}:${e.kind}`;

/** Faults injected and the coordinator's recoveries, one row per device. */
export function timelineChart(r: StressReport): string {
  const events = r.history.events;
  if (events.length === 0) return '';
  const rows = [...r.devices.map((d) => d.name), ...(events.some((e) => !r.devices.some((d) => d.name === e.device)) ? ['all'] : [])];
  const keys = Object.keys(EVENT_STYLE).filter((k) => events.some((e) => eventKey(e) === k));
  const legend: LegendEntry[] = keys.map((k) => ({ label: EVENT_STYLE[k]!.label, color: EVENT_STYLE[k]!.color, mark: EVENT_STYLE[k]!.shape }));
  const chart = new Chart({ id: 'chart-events', title: 'Faults and recoveries over time', x: { kind: 'linear', label: 'time since the rig was up (s)', max: r.elapsedMs / 1000 },
    y: { kind: 'band', label: 'device', bands: rows }, legend, plotHeight: Math.max(60, rows.length * 28) });
  for (const e of events) {
    const style = EVENT_STYLE[eventKey(e)]!;
    const row = rows.includes(e.device) ? e.device : 'all';
    // Faults sit just above the row's line, recoveries just below, so a pair at one moment stays readable.
    const y = chart.yBand(row) + (e.type === 'fault' ? -5 : 5);
    const tip = `set ${e.set}, ${(e.atMs / 1000).toFixed(3)} s, ${e.device}: ${style.label}${e.errno ? ` (${e.errno})` : ''}`;
    const mark = style.shape === 'dot' ? pointMark : squareMark;
    chart.add(mark(chart.x(e.atMs / 1000), y, style.color, tip, { series: e.device, kind: eventKey(e) }, 'event'));
  }
  return chart.render();
}

function findingsTable(r: StressReport): string {
  const rows = [
    ...r.checker.lostExamples.map((f) => ['lost', String(f.page), String(f.set), `tracker ${f.tracker}, stream ${f.stream}, burst ${f.burstId}`]),
    ...r.checker.impreciseExamples.map((f) => ['imprecise', String(f.page), String(f.set), '']),
  ];
  return table('findings', ['finding', 'guest page', 'report set', 'written by'], rows, [1, 2]);
}

export function renderStressReport(r: StressReport): string {
  const b = stressBanner(r);
  const events = timelineChart(r);
  const dropped = r.history.eventsDropped > 0 ? `The first ${r.history.events.length} events are drawn; ${count(r.history.eventsDropped)} more were counted only.` : '';
  const body = [
    section('Summary', keyValueTable('summary', summaryRows(r))),
    section('Broken invariants (first examples)', findingsTable(r)),
    section('Report-set latency', latencyChart(r) + latencyTable(r), 'Wall time from issuing a set\'s REPORTs to its last recovery mark, as the report-set loop waited for it.'),
    section('DMA throughput per device', throughputChart(r), `Writes logged per second, averaged over ${r.history.throughput.length} equal slices of the run.`),
    events === '' ? '<p id="no-events">No fault was injected and no REPORT failed.</p>' : section('Faults and recoveries', events, dropped),
  ].join('');
  return page(`dmalog stress report (seed ${r.seed})`, banner(b.level, b.headline, b.detail), body);
}
