// The stress run's HTML report against the run's own figures: a bar per latency bin holding sets,
// the percentile rules at the summary's values, a throughput line and point per device and
// bucket, an event mark per fault and recovery, every kind in the legend.
import test from 'ava';
import { runStress, type StressReport } from '../../src/stress/runner.js';
import { eventKey, renderStressReport, stressBanner } from '../../src/stress/report-html.js';
import { all, byClass, byId, emptyTables, parseXml, textOf } from '../helpers/xml.js';

let report: StressReport;
test.before(async () => {
  report = await runStress({ guestPages: 4096, burstWrites: 1024, writesPerSet: 2048, queues: 1, trackers: 3, threads: 1, reportSets: 40, faultRate: 0.15, seed: 5n, policy: 'restart' });
});

test('the run measured every completed report set and summarises its latency', (t) => {
  const l = report.reportSetLatency!;
  t.is(l.count, report.reportSets);
  t.true(l.minMs > 0 && l.minMs <= l.p50Ms && l.p50Ms <= l.p90Ms && l.p90Ms <= l.p99Ms && l.p99Ms <= l.maxMs);
  t.is(report.history.latencyHistogram.reduce((a, b) => a + b.sets, 0), report.reportSets);
  t.true(report.history.events.filter((e) => e.type === 'fault').length === report.faults.total);
  t.is(report.history.events.filter((e) => e.type === 'recovery' && e.errno !== null).length, report.faults.reportErrors);
});

test('latency chart: a bar per non-empty bin, the p50, p99 and max rules, each in the legend', (t) => {
  const chart = byId(parseXml(renderStressReport(report)), 'chart-latency');
  const bars = byClass(chart, 'bar');
  const bins = report.history.latencyHistogram.filter((b) => b.sets > 0);
  t.deepEqual(bars.map((b) => Number(b.attrs['data-value'])), bins.map((b) => b.sets));
  const rules = byClass(chart, 'rule');
  t.deepEqual(rules.map((r) => r.attrs['data-kind']), ['p50', 'p99', 'max']);
  const l = report.reportSetLatency!;
  t.deepEqual(rules.map((r) => Number(r.attrs['data-value'])), [l.p50Ms, l.p99Ms, l.maxMs]);
  t.is(byClass(chart, 'legend-entry').length, 4);
});

test('throughput chart: one line per device with a point per bucket', (t) => {
  const chart = byId(parseXml(renderStressReport(report)), 'chart-throughput');
  const lines = byClass(chart, 'line');
  t.deepEqual(lines.map((l) => l.attrs['data-series']), report.devices.map((d) => d.name));
  for (const l of lines) t.is(l.attrs['points']!.trim().split(/\s+/).length, report.history.throughput.length);
  t.is(byClass(chart, 'point').length, report.devices.length * report.history.throughput.length);
  t.is(byClass(chart, 'legend-entry').length, report.devices.length);
  const total = report.history.throughput.reduce((a, b) => a + b.writesPerSecond.reduce((x, y) => x + y, 0) * (report.history.throughput[0]!.endMs / 1000), 0);
  t.true(Math.abs(total - report.writes) <= report.writes * 0.01 + report.history.throughput.length * report.devices.length, `${total} vs ${report.writes}`);
});

test('timeline: an event mark per fault and recovery, one legend entry per kind drawn', (t) => {
  t.true(report.history.events.length > 0, 'the seed injects faults');
  const chart = byId(parseXml(renderStressReport(report)), 'chart-events');
  const marks = byClass(chart, 'event');
  t.is(marks.length, report.history.events.length);
  t.deepEqual(marks.map((m) => m.attrs['data-kind']), report.history.events.map(eventKey));
  t.is(byClass(chart, 'legend-entry').length, new Set(report.history.events.map(eventKey)).size);
});

test('banner, summary and tables: the verdict first, no empty table', (t) => {
  const root = parseXml(renderStressReport(report));
  t.is(byId(root, 'banner').attrs['data-level'], 'ok');
  t.deepEqual(emptyTables(root), []);
  t.true(textOf(byId(root, 'summary')).includes('report-set latency'));
  t.is(all(root, (e) => e.attrs['id'] === 'findings').length, 0, 'no findings table when nothing broke');
  t.is(all(root, (e) => e.name === 'script' || 'src' in e.attrs || 'href' in e.attrs).length, 0);
  const broken: StressReport = { ...report, ok: false, lost: 2, checker: { ...report.checker, lost: 2, lostExamples: [{ page: 7, set: 3, tracker: 0, stream: 0, burstId: 1 }] } };
  t.is(stressBanner(broken).level, 'failure');
  t.regex(stressBanner(broken).headline, /BROKEN: 2 lost/);
  t.is(all(byId(parseXml(renderStressReport(broken)), 'findings'), (e) => e.name === 'tr').length, 2);
  const stopped: StressReport = { ...report, stoppedBy: { set: 4, errno: 'EIO', tracker: 'mlx5-0' } };
  t.is(stressBanner(stopped).level, 'warning');
});

test('a run without faults draws no timeline and says so', (t) => {
  const quiet: StressReport = { ...report, history: { ...report.history, events: [] } };
  const root = parseXml(renderStressReport(quiet));
  t.is(all(root, (e) => e.attrs['id'] === 'chart-events').length, 0);
  t.is(byId(root, 'no-events').name, 'p');
});
