// The sweep's outputs as pure functions: reading JSON Lines back (a cut-short last line dropped),
// one record per point, CSV quoting, the convergence map's aggregation (median over seeds), the
// report's cells and legend, and the progress line's ETA.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { estimateFootprint } from '../../src/migration/footprint.js';
import { fillMigrationOptions } from '../../src/migration/options.js';
import type { MigrationResult } from '../../src/migration/result.js';
import { jobsThatFit } from '../../src/sweep/sweep.js';
import { checkMapAxes, chooseAxes, convergenceMap, median } from '../../src/sweep/cells.js';
import { csvField, renderCsv } from '../../src/sweep/csv.js';
import type { GridSummary } from '../../src/sweep/grid.js';
import { createSweepProgress, eta, progressText } from '../../src/sweep/progress.js';
import { copyRecords, latestByPoint, parseRecords, readRecords, RecordFileError, recordLine, type Outcome, type SweepRecord } from '../../src/sweep/record.js';
import { formatMs, renderSweepReport } from '../../src/sweep/report-html.js';

// bandwidth × rate × link, 2 seeds: 3 × 2 × 2 × 2 = 24 points.
const GRID: GridSummary = {
  hash: '0123456789abcdef', title: 'test grid', points: 24,
  axes: [{ key: 'bandwidth', labels: ['32M', '64M', '128M'] }, { key: 'rate', labels: ['1000', '8000'] }, { key: 'link', labels: ['1G', '10G'] }],
  seeds: ['1', '2'],
};

/** Record `index` of GRID with a result shaped by its outcome (only what outputs read). */
function rec(index: number, outcome: Outcome, downtimeMs = 10, totalTimeMs = 1000, iterations = 4): SweepRecord {
  const d = [Math.floor(index / 8) % 3, Math.floor(index / 4) % 2, Math.floor(index / 2) % 2];
  const result = outcome === 'error' ? null : {
    status: outcome === 'failed' ? 'failed' : 'completed', converged: outcome === 'converged', downtimeMs, totalTimeMs, iterations, windows: 10,
    bytesSent: { ram: 100, deviceState: 5, total: 105 }, throttlePct: 0, tracking: 'device-logging',
    check: outcome === 'failed' ? null : { identical: outcome !== 'mismatch', pagesCompared: 4096, differingPages: outcome === 'mismatch' ? 1 : 0, firstDiffering: [] },
    notConverged: outcome === 'not-converged' ? { code: 'vcpu-dirty-rate', message: '...' } : null,
    failure: outcome === 'failed' ? { code: 'DMALOG_MIGRATION_FAILED', message: 'REPORT failed' } : null,
  } as unknown as MigrationResult;
  return {
    grid: GRID, index, id: `id${index}`, axes: Object.fromEntries(GRID.axes.map((a, i) => [a.key, a.labels[d[i]!]!])),
    seed: GRID.seeds[index % 2]!, options: {}, outcome,
    error: outcome === 'error' ? { code: 'ETIMEDOUT', message: 'too long' } : outcome === 'failed' ? { code: 'DMALOG_MIGRATION_FAILED', message: 'REPORT failed' } : null,
    result, wallMs: 5,
  };
}

test('records read back: whole lines kept, a cut-short last line dropped, any other broken line refused naming it', (t) => {
  const text = [rec(0, 'converged'), rec(1, 'converged')].map(recordLine).join('');
  t.deepEqual(parseRecords(text, 'f').records.map((r) => r.summary.index), [0, 1]);
  t.is(parseRecords(text, 'f').goodBytes, Buffer.byteLength(text));
  const cut = parseRecords(`${text}${recordLine(rec(2, 'converged')).slice(0, 50)}`, 'f');
  t.deepEqual([cut.records.length, cut.goodBytes, cut.truncated], [2, Buffer.byteLength(text), true]);
  // A whole last record without its newline is a record.
  const last = parseRecords(text.trimEnd(), 'f');
  t.deepEqual([last.records.length, last.truncated, last.openLine], [2, false, true]);
  t.is(parseRecords(text, 'f').openLine, false);
  t.throws(() => parseRecords(`${text.split('\n')[0]}\n{"grid"\n${text.split('\n')[1]}\n`, 'out.jsonl'), { instanceOf: RecordFileError, message: 'out.jsonl:2: not JSON' });
  t.throws(() => parseRecords(`{"a":1}\n${text}`, 'out.jsonl'), { instanceOf: RecordFileError, message: 'out.jsonl:1: not a sweep record' });
  t.throws(() => parseRecords(`\n${text}`, 'out.jsonl'), { instanceOf: RecordFileError, message: 'out.jsonl:1: an empty line' });
});

test('records are read a line at a time (lines longer than a read chunk too), summarised, and copied back byte for byte', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-records-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // 2000 records of ~1.3 KiB, and one of 3 MiB, so lines straddle the 1 MiB read chunks.
  const all = Array.from({ length: 2001 }, (_, i) => ({ ...rec(i % 24, 'converged'), id: `p${i}`, options: { pad: 'x'.repeat(i === 700 ? 3 << 20 : 1000 + (i % 97)) } }));
  const full = all.map((r) => ({ ...r, result: { ...r.result!, iterationStats: [], timeline: [{ atMs: 0, sentBytes: 0, dirtyBytes: 0 }] } as MigrationResult }));
  const text = full.map(recordLine).join('');
  const file = path.join(dir, 'in.jsonl');
  writeFileSync(file, text);
  const read = readRecords(file);
  t.is(read.records.length, 2001);
  t.deepEqual(read.records.map((r) => r.summary.id), all.map((r) => r.id));
  t.is(read.goodBytes, Buffer.byteLength(text));
  // Summaries leave the per-sync and per-window series out.
  t.false('timeline' in read.records[0]!.summary.result! || 'iterationStats' in read.records[0]!.summary.result!);
  t.is((read.records[700]!.summary.options['pad'] as string).length, 3 << 20);
  // Copied in another order: each line whole.
  const out = path.join(dir, 'out.jsonl');
  copyRecords([...read.records].reverse(), out);
  t.is(readFileSync(out, 'utf8'), text.trimEnd().split('\n').reverse().join('\n') + '\n');
  // A file whose last record lacks its newline is copied with one.
  writeFileSync(file, text.trimEnd());
  copyRecords(readRecords(file).records, out);
  t.is(readFileSync(out, 'utf8'), text);
});

test('one record per point, in point order: an error is replaced by a later record, a result is kept', (t) => {
  const later = { ...rec(3, 'converged'), wallMs: 99 };
  const got = latestByPoint([rec(5, 'converged'), rec(3, 'error'), later, { ...rec(5, 'converged'), wallMs: 77 }, rec(1, 'failed')], (r) => r);
  t.deepEqual(got.map((r) => [r.index, r.outcome, r.wallMs]), [[1, 'failed', 5], [3, 'converged', 99], [5, 'converged', 5]]);
});

test('CSV: RFC 4180 quoting, the axes then the numbers, empty fields without a result', (t) => {
  t.deepEqual(['plain', 'a,b', 'say "hi"', 'two\nlines', 3, true, null, undefined].map(csvField), ['plain', '"a,b"', '"say ""hi"""', '"two\nlines"', '3', 'true', '', '']);
  const csv = renderCsv([rec(0, 'converged', 12.5, 900, 5), rec(1, 'error')], GRID.axes.map((a) => a.key)).trimEnd().split('\n');
  const header = csv[0]!.split(',');
  t.deepEqual(header.slice(0, 7), ['index', 'id', 'bandwidth', 'rate', 'link', 'seed', 'outcome']);
  const row = (i: number) => Object.fromEntries(csv[i]!.split(',').map((v, c) => [header[c]!, v]));
  t.like(row(1), { index: '0', id: 'id0', bandwidth: '32M', rate: '1000', link: '1G', seed: '1', outcome: 'converged', converged: 'true', downtime_ms: '12.5', total_time_ms: '900', iterations: '5', bytes_sent: '105', memory: 'identical', error_code: '' });
  t.like(row(2), { index: '1', seed: '2', outcome: 'error', converged: '', downtime_ms: '', memory: '', error_code: 'ETIMEDOUT', error: 'too long' });
});

test('median: the middle value, or the mean of the middle two', (t) => {
  t.is(median([5, 1, 3]), 3);
  t.is(median([4, 1, 3, 10]), 3.5);
  t.is(median([7]), 7);
});

test('convergence map: cells over x and y, one facet per other axis value, medians over completed runs only', (t) => {
  const records = [
    // bandwidth 32M, rate 1000, link 1G: seed 1 converged at 10 ms, seed 2 not converged at 30 ms.
    rec(0, 'converged', 10, 1000), rec(1, 'not-converged', 30, 5000),
    // 32M, 1000, 10G: one converged, one failed (its numbers do not count).
    rec(2, 'converged', 4, 800), rec(3, 'failed', 999, 999),
    // 64M, 8000, 1G: both without a result.
    rec(12, 'error'), rec(13, 'mismatch', 1, 1),
  ];
  const map = convergenceMap(GRID, records, 'bandwidth', 'rate', 'downtime');
  t.deepEqual(map.x.labels, ['32M', '64M', '128M']);
  t.deepEqual(map.y.labels, ['1000', '8000']);
  t.deepEqual(map.facets.map((f) => f.fixed), [[{ key: 'link', label: '1G' }], [{ key: 'link', label: '10G' }]]);
  const [oneG, tenG] = map.facets;
  t.like(oneG!.rows[0]![0], { x: 0, y: 0, expected: 2, runs: 2, completed: 2, converged: 1, failed: 0, downtimeMs: { median: 20, min: 10, max: 30 }, totalTimeMs: { median: 3000 } });
  t.like(tenG!.rows[0]![0], { runs: 2, completed: 1, converged: 1, failed: 1, downtimeMs: { median: 4, min: 4, max: 4 }, failures: ['DMALOG_MIGRATION_FAILED'] });
  t.like(oneG!.rows[1]![1], { runs: 2, completed: 0, failed: 2, downtimeMs: null, failures: ['ETIMEDOUT', 'mismatch'] });
  t.like(oneG!.rows[1]![2], { runs: 0, completed: 0 });
  t.deepEqual(map.domain, [4, 20]);
  t.deepEqual(convergenceMap(GRID, records, 'bandwidth', 'rate', 'total').domain, [800, 3000]);
  // Axes by default: the first two; one named: the first other one beside it.
  t.deepEqual(chooseAxes(GRID, null, null), { x: 'bandwidth', y: 'rate' });
  t.deepEqual(chooseAxes(GRID, null, 'bandwidth'), { x: 'rate', y: 'bandwidth' });
  t.deepEqual(chooseAxes(GRID, 'link', null), { x: 'link', y: 'bandwidth' });
  t.deepEqual(chooseAxes({ ...GRID, axes: [] }, null, null), { x: null, y: null });
  // Named axes must be the grid's, and two.
  t.notThrows(() => checkMapAxes(GRID, 'link', null));
  t.throws(() => checkMapAxes(GRID, 'ram', null), { message: "x: 'ram' is not an axis of the grid (bandwidth, rate, link)" });
  t.throws(() => checkMapAxes(GRID, null, 'rate '), { message: "y: 'rate ' is not an axis of the grid (bandwidth, rate, link)" });
  t.throws(() => checkMapAxes(GRID, 'rate', 'rate'), { message: "y: 'rate' is the x axis too" });
});

test('report: a map per facet, each cell in its state with its numbers on hover, a d3 colour legend, nothing external', (t) => {
  const records = [rec(0, 'converged', 10, 1000), rec(1, 'not-converged', 30, 5000), rec(2, 'converged', 4, 800), rec(3, 'failed'), rec(12, 'error'), rec(13, 'error')];
  const html = renderSweepReport(GRID, records, { x: null, y: null, metric: 'downtime' });
  t.is([...html.matchAll(/<svg id="map-\d+" class="map"/g)].length, 2);
  const cells = [...html.matchAll(/<g class="cell" data-state="([a-z-]+)" data-x="(\d)" data-y="(\d)"(?: data-value="([\d.]+)")?><title>([^<]*)<\/title>/g)];
  t.is(cells.length, 12);
  const states = cells.map((m) => m[1]);
  t.deepEqual({ nc: states.filter((s) => s === 'not-converged').length, ok: states.filter((s) => s === 'converged').length, failed: states.filter((s) => s === 'failed').length, notRun: states.filter((s) => s === 'not-run').length }, { nc: 1, ok: 1, failed: 1, notRun: 9 });
  const hatched = cells.find((m) => m[1] === 'not-converged')!;
  t.is(hatched[4], '20');
  t.is(hatched[5], 'bandwidth = 32M, rate = 1000, link = 1G\nconverged 1/2, not converged 1, failed 0\ndowntime: median 20.0 ms (min 10.0 ms, max 30.0 ms)\ntotal time: median 3.00 s (min 1.00 s, max 5.00 s)\nsyncs: median 4');
  // Colours: the shortest median green (#1a9850), the longest red (#d73027), the ends of the scale.
  t.regex(html, /data-value="4"><title>[^<]*<\/title><rect [^>]*fill="rgb\(26, 152, 80\)"/);
  t.regex(html, /data-value="20"><title>[^<]*<\/title><rect [^>]*fill="rgb\(215, 48, 39\)"/);
  // The 10G cell: one failed run beside a converged one, marked in a corner.
  t.regex(html, /data-state="converged" data-x="0" data-y="0" data-value="4">.*?class="some-failed"/s);
  // Legend: the scale over the cells' medians 4..20 with d3's round ticks inside its 300 px bar, and the four marks.
  const ticks = [...html.matchAll(/<text class="tick" x="([\d.]+)"[^>]*>([^<]*)<\/text>/g)];
  t.deepEqual(ticks.map((m) => m[2]), ['5', '10', '15', '20']);
  t.deepEqual(ticks.map((m) => Number(m[1])), [20 + 300 / 16, 20 + 300 * 6 / 16, 20 + 300 * 11 / 16, 320].map((x) => Number(x.toFixed(1))));
  for (const mark of ['hatched: some run did not converge', 'grey with a cross: no run completed', 'corner cross: some run failed', 'dashed: not run (yet)']) t.true(html.includes(mark), mark);
  t.true(html.includes('<li>point 3 (bandwidth = 32M, rate = 1000, link = 10G, seed 2): failed, DMALOG_MIGRATION_FAILED: REPORT failed</li>'));
  t.notRegex(html, /<script|(?:src|href)="(?:https?:)?\/\//);
  t.is(formatMs(3.14159), '3.14 ms');
  t.is(formatMs(425.8), '426 ms');
  t.is(formatMs(61_500), '61.5 s');
});

test('progress: rate and ETA from the points done so far', (t) => {
  t.is(eta({ done: 0, toRun: 8, elapsedMs: 1000 }), null);
  t.deepEqual(eta({ done: 2, toRun: 8, elapsedMs: 4000 }), { perSecond: 0.5, remainingMs: 12_000 });
  const counts = { 'converged': 1, 'not-converged': 0, 'failed': 1, 'mismatch': 0, 'error': 0 };
  t.is(progressText({ done: 2, toRun: 8, skipped: 3, share: 11, counts, elapsedMs: 4000 }), 'sweep: 2/8 points (+3 done before) · 4 s · 30.0 points/min · ETA 12 s · converged 1, not converged 0, failed 1');
  t.is(progressText({ done: 4, toRun: 8, skipped: 0, share: 8, counts, elapsedMs: 2000 }), 'sweep: 4/8 points · 2 s · 2.0 points/s · ETA 2 s · converged 1, not converged 0, failed 1');
  t.is(progressText({ done: 0, toRun: 8, skipped: 0, share: 8, counts, elapsedMs: 900 }), 'sweep: 0/8 points · 1 s · converged 1, not converged 0, failed 1');
  // Slower than a point a second: per minute (a whole-unit rate would read 0).
  t.is(progressText({ done: 1, toRun: 8, skipped: 0, share: 8, counts, elapsedMs: 150_000 }), 'sweep: 1/8 points · 2 min 30 s · 0.4 points/min · ETA 17 min 30 s · converged 1, not converged 0, failed 1');
  // Points without a result and memory mismatches are not "failed" (a migration that failed), as in the final summary.
  const errors = { 'converged': 0, 'not-converged': 0, 'failed': 0, 'mismatch': 1, 'error': 2 };
  t.is(progressText({ done: 3, toRun: 3, skipped: 0, share: 3, counts: errors, elapsedMs: 900 }), 'sweep: 3/3 points · 1 s · 3.3 points/s · ETA 0 s · converged 0, not converged 0, failed 0, memory differs 1, error 2');
});

test('progress sink: off a terminal the first line, one at most every 10 s, the last; on a terminal rewritten in place', (t) => {
  const counts = { 'converged': 0, 'not-converged': 0, 'failed': 0, 'mismatch': 0, 'error': 0 };
  let clock = 0;
  const written: string[] = [];
  const plain = createSweepProgress({ write: (s: string) => written.push(s) }, { now: () => clock });
  for (let done = 0; done <= 5; done++) {
    clock = done * 4000;
    plain.update({ done, toRun: 5, skipped: 0, share: 5, counts: { ...counts, converged: done }, elapsedMs: clock });
  }
  plain.end();
  // At 0 s, 12 s (the first 10 s after), and the last at 20 s.
  t.deepEqual(written.map((l) => l.split(' · ')[0]), ['sweep: 0/5 points', 'sweep: 3/5 points', 'sweep: 5/5 points']);
  t.true(written.every((l) => l.endsWith('\n')));
  const tty: string[] = [];
  const live = createSweepProgress({ write: (s: string) => tty.push(s), isTTY: true, columns: 200 }, { now: () => clock });
  live.update({ done: 1, toRun: 2, skipped: 0, share: 2, counts, elapsedMs: 1000 });
  live.update({ done: 2, toRun: 2, skipped: 0, share: 2, counts, elapsedMs: 2000 });
  live.end();
  t.deepEqual(tty.map((s) => s.slice(0, 21)), ['\r\x1b[Ksweep: 1/2 points', '\r\x1b[Ksweep: 2/2 points', '\n']);
});

test('jobs that fit: the available memory over the largest point\'s estimate (as a migration run estimates itself)', (t) => {
  const points = [{ options: { ram: '64M' } }, { options: { ram: '1G', writerThreads: 4 } }];
  const one = estimateFootprint(fillMigrationOptions({ ram: '1G', writerThreads: 4 })).bytes;
  t.deepEqual(jobsThatFit(points, 1, 3 * one + 1), { fit: 3, largest: one });
  t.deepEqual(jobsThatFit(points, 1, one - 1), { fit: 0, largest: one });
  // Writer threads the point does not set are the sweep's.
  t.is(jobsThatFit([{ options: { ram: '64M' } }], 8, 1).largest, estimateFootprint(fillMigrationOptions({ ram: '64M' }), 8).bytes);
});
