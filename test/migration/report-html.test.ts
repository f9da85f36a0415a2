import test from 'ava';
import { migrate } from '../../src/migration/migration.js';
import { migrationBanner, renderReport } from '../../src/migration/report-html.js';
import type { MigrationResult } from '../../src/migration/result.js';
import { textWidth } from '../../src/report/chart.js';
import { all, byClass, byId, emptyTables, parseXml, textOf, type Element } from '../helpers/xml.js';

const scenario = {
  ram: '24M', bandwidth: '16M', seed: 9, writerThreads: 2, vcpuWorkload: { kind: 'hot' as const, rate: 1500 },
  devices: [{ profile: 'mlx5' as const, workload: { kind: 'ring' as const, rate: 500 } }, { profile: 'pds' as const, workload: { kind: 'uniform' as const, rate: 300 } }],
};

let result: MigrationResult;
let forced: MigrationResult;
let failed: MigrationResult;
test.before(async () => {
  result = await migrate(scenario);
  forced = await migrate({ ...scenario, bandwidth: '4M', maxIterations: 3, devices: [{ profile: 'mlx5', workload: { kind: 'uniform', rate: 4000 } }] });
  failed = await migrate({ ...scenario, policy: 'fail', faults: [{ device: 'mlx5-0', iteration: 2, kind: 'report-error' }] });
});

const legendLabels = (chart: Element) => byClass(chart, 'legend-entry').map((e) => textOf(e));

test('the report parses as XML and holds the three charts and the summary table', (t) => {
  const root = parseXml(renderReport(result));
  for (const id of ['chart-dirty', 'chart-pending', 'chart-transfer']) t.is(byId(root, id).name, 'svg', id);
  t.is(byId(root, 'summary').name, 'table');
  t.true(all(byId(root, 'summary'), (e) => e.name === 'tr').length >= 10);
  t.is(all(byId(root, 'syncs'), (e) => e.name === 'tr').length, result.iterationStats.length + 1);
  t.deepEqual(emptyTables(root), []);
});

test('dirty chart: a bar per tracker and sync beside a bar of newly dirty pages, each series in the legend', (t) => {
  const chart = byId(parseXml(renderReport(result)), 'chart-dirty');
  const bars = byClass(chart, 'bar');
  const trackers = [...new Set(result.iterationStats.flatMap((s) => Object.keys(s.reported)))];
  for (const name of trackers) {
    const expected = result.iterationStats.map((s) => s.reported[name] ?? 0).filter((p) => p > 0);
    t.deepEqual(bars.filter((b) => b.attrs['data-series'] === name).map((b) => Number(b.attrs['data-value'])), expected, name);
  }
  const union = bars.filter((b) => b.attrs['data-series'] === 'newly dirty RAM pages').map((b) => Number(b.attrs['data-value']));
  t.deepEqual(union, result.iterationStats.map((s) => s.freshPages).filter((p) => p > 0));
  t.true(union.length > 0);
  // Bars are not stacked: a sync's tracker bars sit side by side, none starting above the axis.
  const baseline = new Set(bars.map((b) => (Number(b.attrs['y']) + Number(b.attrs['height'])).toFixed(0)));
  t.is(baseline.size, 1);
  const labels = legendLabels(chart);
  t.is(labels.length, new Set(bars.map((b) => b.attrs['data-series'])).size);
  t.true(labels.some((l) => l.startsWith('newly dirty RAM pages')));
});

test('pending chart: a point per sync coloured by its side of the threshold, a threshold per sync, each mark in the legend', (t) => {
  const chart = byId(parseXml(renderReport(forced)), 'chart-pending');
  const points = byClass(chart, 'point');
  t.is(points.length, forced.iterationStats.length);
  t.deepEqual(points.map((p) => Number(p.attrs['data-value'])), forced.iterationStats.map((s) => s.pendingBytes));
  t.deepEqual(points.map((p) => p.attrs['data-kind']), forced.iterationStats.map((s) => (s.phase === 'final' ? 'final' : s.pendingBytes <= s.thresholdBytes ? 'below' : 'above')));
  t.is(byClass(chart, 'rule').filter((r) => r.attrs['data-series'] === 'threshold').length, forced.iterationStats.length);
  const pending = byClass(chart, 'line').filter((l) => l.attrs['data-series'] === 'pending')[0]!;
  t.is(pending.attrs['points']!.trim().split(/\s+/).length, forced.iterationStats.length);
  const labels = legendLabels(chart);
  t.is(labels.length, 2 + new Set(points.map((p) => p.attrs['data-kind'])).size);
  t.true(labels.some((l) => l.includes('another pass')), 'red dots explained');
  t.true(labels.some((l) => l.startsWith('threshold')));
});

test('transfer chart: one point per timeline entry for both series, the guest-stop rule in the legend', (t) => {
  const chart = byId(parseXml(renderReport(result)), 'chart-transfer');
  for (const series of ['sent', 'dirty']) {
    const line = byClass(chart, 'line').filter((l) => l.attrs['data-series'] === series)[0]!;
    t.is(line.attrs['points']!.trim().split(/\s+/).length, result.timeline.length, series);
  }
  t.is(byClass(chart, 'rule').filter((r) => r.attrs['data-kind'] === 'guest-stopped').length, 1);
  t.is(legendLabels(chart).length, 3);
});

test('tick labels are short round numbers, never float noise, and none sits on the axis title', (t) => {
  for (const r of [result, forced, failed]) {
    const root = parseXml(renderReport(r));
    for (const chart of byClass(root, 'chart')) {
      const ticks = byClass(chart, 'tick').map(textOf);
      for (const label of ticks) t.regex(label, /^(?:[\d,]+(?:\.\d{1,3})?|F)$/, label);
      // y tick labels end left of the plot, right of the rotated axis title (x = 12, ~14 px tall).
      for (const tick of byClass(chart, 'tick').filter((e) => e.attrs['text-anchor'] === 'end')) {
        t.true(Number(tick.attrs['x']) - textWidth(textOf(tick)) > 20, `${chart.attrs['id']}: ${textOf(tick)}`);
      }
    }
  }
});

test('the banner says how the run ended: ok, a forced switchover, a failure', (t) => {
  const level = (r: MigrationResult) => byId(parseXml(renderReport(r)), 'banner').attrs['data-level'];
  t.true(result.converged && result.check!.identical);
  t.is(level(result), 'ok');
  t.false(forced.converged);
  t.is(forced.status, 'completed');
  t.is(level(forced), 'warning');
  t.regex(migrationBanner(forced).headline, /^Forced switchover/);
  t.is(failed.status, 'failed');
  t.is(level(failed), 'failure');
  t.regex(migrationBanner(failed).headline, /FAILED: EIO from mlx5-0/);
  // The banner comes before any other content of the body.
  const body = all(parseXml(renderReport(failed)), (e) => e.name === 'body')[0]!;
  t.deepEqual(body.children.slice(0, 2).map((e) => e.name), ['h1', 'div']);
  const transfer = byId(parseXml(renderReport(failed)), 'chart-transfer');
  t.is(byClass(transfer, 'rule').filter((r) => r.attrs['data-kind'] === 'failed').length, 1);
});

test('the report is self-contained: no scripts, links or external resources', (t) => {
  const root = parseXml(renderReport(result));
  t.is(all(root, (e) => ['script', 'link', 'img', 'iframe', 'object'].includes(e.name)).length, 0);
  t.is(all(root, (e) => 'src' in e.attrs || 'href' in e.attrs).length, 0);
  t.false(/url\(/.test(renderReport(result)));
});

test('a blocked run renders a failure banner and no chart and no empty table', (t) => {
  const blocked: MigrationResult = { ...result, status: 'blocked', iterationStats: [], timeline: [], check: null,
    failure: { code: 'DMALOG_MIGRATION_BLOCKED', stage: 'probe', errno: 'ENOTTY', tracker: 'none-0', message: 'blocked <&>' } };
  const root = parseXml(renderReport(blocked));
  t.is(all(root, (e) => e.name === 'svg').length, 0);
  t.is(all(root, (e) => e.attrs['id'] === 'syncs').length, 0);
  t.deepEqual(emptyTables(root), []);
  t.is(all(root, (e) => e.attrs['id'] === 'summary').length, 1);
  t.is(byId(root, 'banner').attrs['data-level'], 'failure');
  t.true(textOf(byId(root, 'banner')).includes('blocked &lt;&amp;&gt;'), 'escaped once');
});

test('the text summary wraps instead of being clipped', (t) => {
  const html = renderReport(result);
  t.regex(html, /pre \{[^}]*white-space: pre-wrap/);
  t.false(/pre \{[^}]*overflow-x/.test(html));
});
