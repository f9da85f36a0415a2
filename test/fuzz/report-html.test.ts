// The fuzz run's HTML report against the run's own counts: a heatmap cell per (outcome, profile,
// state) with calls, holding exactly that count.
import test from 'ava';
import { runFuzz, type FuzzReport } from '../../src/fuzz/runner.js';
import { fuzzBanner, heatmapColumns, renderFuzzReport } from '../../src/fuzz/report-html.js';
import { all, byClass, byId, emptyTables, parseXml, textOf } from '../helpers/xml.js';

let report: FuzzReport;
test.before(async () => {
  report = await runFuzz({ seed: 77n, calls: 1500 });
});

test('byState splits every call by profile and state, and adds up to the per-profile counts', (t) => {
  let total = 0;
  for (const [profile, states] of Object.entries(report.byState)) {
    const merged: Record<string, number> = {};
    for (const counts of Object.values(states!)) for (const [o, n] of Object.entries(counts ?? {})) { merged[o] = (merged[o] ?? 0) + n; total += n; }
    const expected = (report.byProfile as Record<string, object>)[profile] ?? (report.byIommu as Record<string, object>)[profile];
    t.deepEqual(merged, expected, profile);
  }
  t.is(total, report.calls);
  t.true(Object.keys(report.byState.mlx5!).includes('logging'));
  t.deepEqual(Object.keys(report.byState.none!), ['idle']);
});

test('heatmap: a cell per non-zero (outcome, profile, state) holding its count, a legend', (t) => {
  const chart = byId(parseXml(renderFuzzReport(report)), 'chart-outcomes');
  const cells = byClass(chart, 'cell');
  const expected: string[] = [];
  for (const col of heatmapColumns(report)) {
    const counts = (report.byState as Record<string, Record<string, Record<string, number>>>)[col.group]![col.label]!;
    for (const [outcome, n] of Object.entries(counts)) if (n > 0) expected.push(`${outcome}|${col.group}|${col.label}|${n}`);
  }
  t.deepEqual(cells.map((c) => `${c.attrs['data-row']}|${c.attrs['data-group']}|${c.attrs['data-column']}|${c.attrs['data-value']}`).sort(), expected.sort());
  t.true(cells.length > 10);
  t.true(byClass(chart, 'legend-entry').length >= 2);
  // Row labels are the outcomes, 'ok' first.
  t.deepEqual(byClass(chart, 'row').map(textOf)[0], 'ok');
});

test('banner and tables: ok without failure table, failure with the replay command', (t) => {
  const root = parseXml(renderFuzzReport(report));
  t.is(byId(root, 'banner').attrs['data-level'], 'ok');
  t.is(all(root, (e) => e.attrs['id'] === 'failure').length, 0);
  t.deepEqual(emptyTables(root), []);
  t.is(all(byId(root, 'outcomes'), (e) => e.name === 'tr').length, Object.keys(report.counts).length + 1);
  const failed: FuzzReport = { ...report, failure: { code: 'DMALOG_FUZZ_FAILURE', kind: 'canary', detail: 'byte 5 changed', callIndex: 99, lane: 2, profile: 'none', call: null } };
  t.is(fuzzBanner(failed).level, 'failure');
  const froot = parseXml(renderFuzzReport(failed));
  t.true(textOf(byId(froot, 'banner')).includes('dmalog fuzz --seed 77 --calls 100'));
  t.is(byId(froot, 'failure').name, 'table');
});
