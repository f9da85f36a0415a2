// Real sweeps of a small grid (16 MiB guests, runs of at most 3 s of simulated time, each well
// under a second of wall time): sharded 1/2 and 2/2 then merged equals the unsharded sweep, every
// field but the wall times (migration runs are deterministic);
// resume runs only the points not yet done; failing points are records, not a crash.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseGrid, type GridFile } from '../../src/sweep/grid.js';
import type { SweepRecord } from '../../src/sweep/record.js';
import { GridMismatch, mergeSweeps, runSweep, sweepFiles, type SweepProgress } from '../../src/sweep/sweep.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dmalog-sweep-'));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const GRID: GridFile = {
  title: 'small grid',
  base: {
    ram: '16M', vcpus: 1, maxTime: '3s',
    devices: [{ profile: 'mlx5', workload: { kind: 'ring', rate: 300 } }, { profile: 'pds', workload: { kind: 'uniform', rate: 200 } }],
  },
  // At 4 MiB/s the devices alone outrun the link (no convergence within 3 s); at 16 MiB/s it converges.
  axes: { bandwidth: ['4M', '16M'], 'vcpuWorkload.rate': [500, 3000] },
  seeds: [1, 2],
};
const grid = parseGrid(GRID);

function lines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
}

function records(file: string): SweepRecord[] {
  return lines(file).map((l) => JSON.parse(l) as SweepRecord);
}

/** Everything a record holds but its wall time: migration runs are deterministic (README, Determinism). */
function comparable(r: SweepRecord): Omit<SweepRecord, 'wallMs'> {
  const { wallMs: _wall, ...rest } = r;
  return rest;
}

/** A CSV without its wall_ms column, the one figure that depends on the machine. */
function csvWithoutWallTime(file: string): string[][] {
  const rows = readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
  const wall = rows[0]!.indexOf('wall_ms');
  return rows.map((row) => row.filter((_, i) => i !== wall));
}

let whole: Awaited<ReturnType<typeof runSweep>>;
const progress: SweepProgress[] = [];
test.before(async () => {
  whole = await runSweep({ grid, outDir: path.join(dir, 'whole'), jobs: 2, onProgress: (p) => progress.push(p) });
});

test('an unsharded sweep runs every point once: one record per point in point order, CSV and report beside', (t) => {
  t.is(whole.share, 8);
  t.is(whole.ran, 8);
  t.is(whole.skipped, 0);
  const got = records(whole.files.jsonl);
  t.deepEqual(got.map((r) => r.index), [0, 1, 2, 3, 4, 5, 6, 7]);
  t.deepEqual(got.map((r) => r.id), grid.ids);
  t.true(got.every((r) => r.grid.hash === grid.hash && r.grid.points === 8));
  // Each record holds the point's own options and a full result.
  t.deepEqual(got[5]!.options, { ...GRID.base, bandwidth: '16M', vcpuWorkload: { kind: 'hot', rate: 500 }, seed: '2' });
  t.deepEqual(got[5]!.axes, { 'bandwidth': '16M', 'vcpuWorkload.rate': '500' });
  for (const r of got) {
    t.is(r.result!.seed, r.seed);
    t.is(r.result!.scenario.bandwidth, r.axes['bandwidth'] === '4M' ? 4 << 20 : 16 << 20);
    t.is(r.result!.check!.identical, true);
    t.is(r.outcome, r.axes['bandwidth'] === '4M' ? 'not-converged' : 'converged', `point ${r.index}`);
    t.true(r.result!.iterationStats.length > 0 && r.result!.timeline.length > 0);
  }
  t.deepEqual(whole.counts, { 'converged': 4, 'not-converged': 4, 'failed': 0, 'mismatch': 0, 'error': 0 });
  t.is(whole.broken, 0);
  // Progress: one update before the first point, then one per point, ending at 8 of 8.
  t.deepEqual(progress.map((p) => p.done), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  t.true(progress.every((p) => p.toRun === 8 && p.share === 8));
  t.deepEqual(progress.at(-1)!.counts, whole.counts);
  // CSV: a header and one row per point, the axes' labels as written.
  const csv = readFileSync(whole.files.csv, 'utf8').trimEnd().split('\n').map((l) => l.split(','));
  t.deepEqual(csv[0]!.slice(0, 5), ['index', 'id', 'bandwidth', 'vcpuWorkload.rate', 'seed']);
  t.is(csv.length, 9);
  const col = (name: string) => csv[0]!.indexOf(name);
  for (const [i, row] of csv.slice(1).entries()) {
    t.is(row[col('id')], grid.ids[i]);
    t.is(Number(row[col('downtime_ms')]), got[i]!.result!.downtimeMs);
    t.is(Number(row[col('bytes_sent')]), got[i]!.result!.bytesSent.total);
    t.is(row[col('converged')], String(got[i]!.result!.converged));
  }
  // The report: 4 cells, 2 of them hatched (not converged), no network resource.
  const html = readFileSync(whole.files.html, 'utf8');
  t.is([...html.matchAll(/<g class="cell" data-state="converged"/g)].length, 2);
  t.is([...html.matchAll(/<g class="cell" data-state="not-converged"/g)].length, 2);
  t.notRegex(html, /(?:src|href)="(?:https?:)?\/\//);
});

test('sharded 1/2 and 2/2 then merged equals the unsharded sweep, whatever the jobs and writer threads', async (t) => {
  const out = path.join(dir, 'shards');
  // The unsharded sweep ran 2 jobs of one writer thread each (2 cores); these run 1 job of 2, and 2 of 2.
  const one = await runSweep({ grid, outDir: out, shard: { k: 1, n: 2 }, jobs: 1, writerThreads: 2 });
  const two = await runSweep({ grid, outDir: out, shard: { k: 2, n: 2 }, jobs: 2, writerThreads: 2 });
  t.deepEqual([one.ran, two.ran], [4, 4]);
  t.deepEqual(records(one.files.jsonl).map((r) => r.index), [0, 2, 4, 6]);
  t.deepEqual(records(two.files.jsonl).map((r) => r.index), [1, 3, 5, 7]);
  t.is(one.files.jsonl, path.join(out, 'sweep-shard-1-of-2.jsonl'));
  const merged = mergeSweeps([two.files.jsonl, one.files.jsonl], path.join(dir, 'merged'));
  t.is(merged.missing, 0);
  const m = records(merged.files.jsonl);
  const w = records(whole.files.jsonl);
  t.deepEqual(m.map((r) => r.id), w.map((r) => r.id));
  t.deepEqual(m.map((r) => r.options), w.map((r) => r.options));
  // Every field of every record, full results included, but the wall time.
  t.deepEqual(m.map(comparable), w.map(comparable));
  t.deepEqual(csvWithoutWallTime(merged.files.csv), csvWithoutWallTime(whole.files.csv));
  // The reports say the same (the banner, the maps, the cells): byte for byte.
  t.is(readFileSync(merged.files.html, 'utf8'), readFileSync(whole.files.html, 'utf8'));
});

test('resume: points already in the output are skipped, a cut-short last line and error records are run again', async (t) => {
  const out = path.join(dir, 'resume');
  const files = sweepFiles(out);
  const done = lines(whole.files.jsonl);
  mkdirSync(out);
  // Three records done, the fourth cut short by a kill mid-write.
  writeFileSync(files.jsonl, `${done.slice(0, 3).join('\n')}\n${done[3]!.slice(0, 200)}`);
  const first = await runSweep({ grid, outDir: out, jobs: 2 });
  t.true(first.truncated);
  t.is(first.skipped, 3);
  t.is(first.ran, 5);
  const after = lines(files.jsonl);
  t.is(after.length, 8);
  // The three kept records are the old ones, byte for byte (their wall times included).
  t.deepEqual(after.slice(0, 3), done.slice(0, 3));
  t.deepEqual(records(files.jsonl).map((r) => r.id), grid.ids);
  // All done: nothing runs.
  const again = await runSweep({ grid, outDir: out, jobs: 2 });
  t.deepEqual([again.ran, again.skipped, again.truncated], [0, 8, false]);
  t.deepEqual(lines(files.jsonl), after);
  // A record without a result (an error) is run again and replaced.
  const broken = { ...JSON.parse(after[6]!) as SweepRecord, outcome: 'error', result: null, error: { code: null, message: 'thread died' } };
  writeFileSync(files.jsonl, [...after.slice(0, 6), JSON.stringify(broken), after[7]].join('\n') + '\n');
  const redo = await runSweep({ grid, outDir: out, jobs: 1 });
  t.deepEqual([redo.ran, redo.skipped], [1, 7]);
  const final = records(files.jsonl);
  t.is(final.length, 8);
  t.is(final[6]!.outcome, 'converged');
  t.is(final[6]!.id, grid.ids[6]);
});

test('an output of another grid is refused, nothing run', async (t) => {
  const out = path.join(dir, 'mixed');
  const other = parseGrid({ ...GRID, seeds: [3] });
  mkdirSync(out);
  writeFileSync(sweepFiles(out).jsonl, readFileSync(whole.files.jsonl));
  const error = await t.throwsAsync(runSweep({ grid: other, outDir: out, jobs: 1 }), { instanceOf: GridMismatch });
  t.true(error!.message.includes(grid.hash) && error!.message.includes(other.hash), error!.message);
  t.throws(() => mergeSweeps([whole.files.jsonl, path.join(dir, 'other.jsonl')], path.join(dir, 'mixed')), { message: /other\.jsonl: cannot read it \(ENOENT\)/ });
});

test('failing points are records with their error: a blocked migration, a refused footprint; the sweep goes on', async (t) => {
  const g = parseGrid({
    base: { ram: '16M', vcpus: 1, maxTime: '2s', vcpuWorkload: { kind: 'hot', rate: 200 } },
    // A device without DMA logging blocks migration; a 1 MiB memory limit refuses the run up front.
    axes: { devices: [[{ profile: 'pds' }], [{ profile: 'none', iommuDirty: false }]], maxMemory: ['1T', '1M'] },
  });
  const out = path.join(dir, 'failing');
  const s = await runSweep({ grid: g, outDir: out, jobs: 2 });
  const got = records(s.files.jsonl);
  t.deepEqual(got.map((r) => r.outcome), ['converged', 'error', 'failed', 'error']);
  t.is(got[1]!.error!.code, 'DMALOG_NO_MEMORY');
  t.is(got[1]!.result, null);
  t.is(got[2]!.result!.status, 'blocked');
  t.is(got[2]!.error!.code, 'DMALOG_MIGRATION_BLOCKED');
  t.is(s.broken, 2);
  const html = readFileSync(s.files.html, 'utf8');
  t.is([...html.matchAll(/data-state="failed"/g)].length, 3);
  t.true(html.includes('<li>point 1 (devices = pds, maxMemory = 1M, seed 1): error, DMALOG_NO_MEMORY: '), 'the failed runs are listed');
});

test('a point past its time limit is ended (with the threads its run started) and recorded as ETIMEDOUT', async (t) => {
  // 16 MiB at 1 MiB/s is a 16 s first pass, hundreds of windows: far longer than 0.8 s of wall time.
  const g = parseGrid({ base: { ram: '16M', vcpus: 1, bandwidth: '1M', maxTime: '60s', devices: [{ profile: 'pds' }] } });
  const began = performance.now();
  const s = await runSweep({ grid: g, outDir: path.join(dir, 'timeout'), jobs: 1, pointTimeoutMs: 800 });
  t.true(performance.now() - began < 30_000);
  const [r] = records(s.files.jsonl);
  t.like(r, { outcome: 'error', result: null, error: { code: 'ETIMEDOUT' } });
  t.true(r!.wallMs >= 800);
  t.is(s.broken, 1);
  // The test process exiting (ava fails a run whose threads outlive it) shows nothing was left running.
});
