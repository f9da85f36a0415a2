// The DMA engine inline and on the piscina pool: what a burst writes to guest memory and to every
// log watching it (a device log, a HWPT log), and how it stops when a log it holds has been stopped.
import test from 'ava';
import { DirtyLog, planLog, type DirtyLogDescriptor } from '../../src/device/dirty-log.js';
import { ok } from '../../src/util/result.js';
import { runBurst, stampOf } from '../../src/dma/engine.js';
import { DmaPool } from '../../src/dma/pool.js';
import { CONTROL_FIRST_LOG_GEN, CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, controlCells, type BurstTask, type LogTarget } from '../../src/dma/types.js';
import { HwptLog } from '../../src/iommufd/hwpt-log.js';
import { generatePages, type WorkloadSpec } from '../../src/workload/workload.js';
import { DmalogError } from '../../src/errors.js';
import type { LoggingRange } from '../../src/uapi/structs.js';

const PAGE = 4096n;
const GUEST_IOVA = 1n << 32n;
const GUEST_PAGES = 1024;

function log(granule: bigint, ranges: LoggingRange[] = [{ iova: GUEST_IOVA, length: BigInt(GUEST_PAGES) * PAGE }]): DirtyLogDescriptor {
  const d = ok(planLog(granule, ranges, 1 << 20), 'planLog');
  return d;
}

const workload: WorkloadSpec = { kind: 'uniform', pageBase: 0, pageCount: GUEST_PAGES, writer: 0, writers: 1, stream: 2 };

/** One device log as a burst's only target. */
function only(d: DirtyLogDescriptor): LogTarget[] {
  return [{ kind: 'log', log: d }];
}

/** The DirtyLog descriptor of a task's first target. */
function firstLog(tk: BurstTask): DirtyLogDescriptor {
  const target = tk.logs[0]!;
  if (target.kind !== 'log') throw new Error('first target is not a DirtyLog');
  return target.log;
}

function task(over: Partial<BurstTask> = {}): BurstTask {
  return { guest: new SharedArrayBuffer(GUEST_PAGES * 4096), guestIova: GUEST_IOVA, logs: only(log(PAGE)), workload, seed: 11n, burstId: 5, count: 300, ...over };
}

/** Log granules (absolute granule index) that are dirty, via the real REPORT path's input. */
function dirtyGranules(d: DirtyLogDescriptor): number[] {
  const words = new Uint32Array(d.buffer, 0, d.logWords);
  const out: number[] = [];
  for (const r of d.regions) {
    for (let j = 0; j < r.granuleCount; j++) {
      const bit = r.bitOffset + j;
      if ((words[bit >>> 5]! >>> (bit & 31)) & 1) out.push(Number(r.firstGranule) + j);
    }
  }
  return out;
}

test('a burst stores each page\'s stamp in guest memory and marks exactly its pages\' granules', (t) => {
  for (const granule of [PAGE, 4n * PAGE]) {
    const tk = task({ logs: only(log(granule)) });
    const r = runBurst(tk);
    const pages = [...generatePages(workload, 11n, 5, 300)];
    t.like(r, { attempted: 300, logged: 300, stale: false });
    t.deepEqual(r.granules, [300]);
    const guest = new Uint32Array(tk.guest);
    for (const p of pages) t.is(guest[p * 1024], stampOf(2, 5, p));
    const perGranule = Number(granule / PAGE);
    const expected = [...new Set(pages.map((p) => Math.floor((Number(GUEST_IOVA / PAGE) + p) / perGranule)))].sort((a, b) => a - b);
    t.deepEqual(dirtyGranules(firstLog(tk)), expected);
  }
});

test('layout versions: a burst adds one to the version of each page it writes (repeats count) and marks the same granules', (t) => {
  const tk = task({ guest: new SharedArrayBuffer(GUEST_PAGES * 4), layout: 'versions' });
  const before = new Uint32Array(tk.guest);
  before[3] = 0xffffffff; // a version wraps like any u32
  const pages = [...generatePages(workload, 11n, 5, 300)];
  const r = runBurst(tk);
  t.like(r, { attempted: 300, logged: 300, stale: false });
  const expected = new Uint32Array(GUEST_PAGES);
  expected[3] = 0xffffffff;
  for (const p of pages) expected[p] = (expected[p]! + 1) >>> 0;
  t.deepEqual(new Uint32Array(tk.guest), expected);
  t.deepEqual(dirtyGranules(firstLog(tk)), [...new Set(pages.map((p) => Number(GUEST_IOVA / PAGE) + p))].sort((a, b) => a - b));
  // One version per page: a workload past the versions is refused like one past the bytes.
  t.throws(() => runBurst(task({ guest: new SharedArrayBuffer(GUEST_PAGES * 2), layout: 'versions' })), { instanceOf: DmalogError });
  t.throws(() => runBurst(task({ layout: 'pages' as 'bytes' })), { instanceOf: DmalogError });
});

test('writes outside the tracked ranges store data but mark nothing', (t) => {
  const half = BigInt(GUEST_PAGES / 2) * PAGE;
  const tk = task({ logs: only(log(PAGE, [{ iova: GUEST_IOVA, length: half }])) });
  const r = runBurst(tk);
  const inside = [...generatePages(workload, 11n, 5, 300)].filter((p) => p < GUEST_PAGES / 2);
  t.deepEqual(r.granules, [inside.length]);
  t.is(new DirtyLog(firstLog(tk)).countDirty(), new Set(inside).size);
});

for (const [title, base] of [['not 4 KiB aligned', GUEST_IOVA + 0x800n], ['past 2^53 (bigint IOVAs)', (1n << 63n) + 0x800n]] as const) {
  test(`a guest IOVA base ${title} marks what DirtyLog.markWrite marks`, (t) => {
    const ranges = [{ iova: base - 0x800n, length: BigInt(GUEST_PAGES + 1) * PAGE }];
    const tk = task({ guestIova: base, logs: only(log(PAGE, ranges)) });
    runBurst(tk);
    const reference = log(PAGE, ranges);
    const ref = new DirtyLog(reference);
    for (const p of generatePages(workload, 11n, 5, 300)) ref.markWrite(base + BigInt(p) * PAGE, PAGE);
    t.deepEqual(dirtyGranules(firstLog(tk)), dirtyGranules(reference));
    t.true(dirtyGranules(reference).length > 300 * 1.5); // an unaligned page touches two granules
  });
}

test('a burst reads the report-set epochs at its start and end', (t) => {
  const cells = controlCells(1);
  Atomics.store(cells, CONTROL_SETS_COMPLETED, 3);
  Atomics.store(cells, CONTROL_SETS_BEGUN, 4);
  const r = runBurst(task({ control: { cells: cells.buffer as SharedArrayBuffer } }));
  t.like(r, { setsCompletedAtStart: 3, setsBegunAtEnd: 4, logged: 300, stale: false });
});

test('a burst whose log generation moved on stops after one uncounted write', (t) => {
  const cells = controlCells(1);
  Atomics.store(cells, CONTROL_FIRST_LOG_GEN, 2);
  const tk = task({ logs: [{ kind: 'log', log: log(PAGE), gen: { slot: CONTROL_FIRST_LOG_GEN, value: 1 } }], control: { cells: cells.buffer as SharedArrayBuffer } });
  t.like(runBurst(tk), { attempted: 1, logged: 0, stale: true });
});

test('without a log a burst writes data and logs nothing', (t) => {
  const r = runBurst(task({ logs: [] }));
  t.like(r, { attempted: 300, logged: 0 });
  t.deepEqual(r.granules, []);
});

test('a burst refuses pages beyond guest memory', (t) => {
  t.throws(() => runBurst(task({ workload: { ...workload, pageCount: GUEST_PAGES + 1 } })), { code: 'DMALOG_BAD_OPTION' });
});

test('the pool runs bursts on other threads into the same shared log and guest memory', async (t) => {
  const pool = new DmaPool({ threads: 2 });
  t.teardown(() => pool.close());
  const shared = task();
  const results = await Promise.all([0, 1, 2, 3].map((stream) => pool.run({ ...shared, workload: { ...workload, stream }, burstId: stream })));
  t.deepEqual(results.map((r) => r.logged), [300, 300, 300, 300]);
  const expected = new Set<number>();
  for (const stream of [0, 1, 2, 3]) for (const p of generatePages({ ...workload, stream }, 11n, stream, 300)) expected.add(p);
  t.is(new DirtyLog(firstLog(shared)).countDirty(), expected.size);
  await pool.close();
  const error = await t.throwsAsync(pool.run(shared), { instanceOf: DmalogError });
  t.is(error.code, 'DMALOG_CLOSED');
});

// ---- every log that watches a write ------------------------------------------------------------

const MiB = 1n << 20n;
const HUGE = 2n * MiB;

/** A HWPT log over the guest's IOVA: the first 2 MiB mapped huge, the rest at 4 KiB; tracking on. */
function hwptLog(): HwptLog {
  const h = new HwptLog();
  const guestBytes = BigInt(GUEST_PAGES) * PAGE;
  t0(h.addMapping(GUEST_IOVA, HUGE, HUGE, 1 << 20));
  t0(h.addMapping(GUEST_IOVA + HUGE, guestBytes - HUGE, PAGE, 1 << 20));
  h.setTracking(true);
  return h;
}
function t0(errno: string | null): void {
  if (errno !== null) throw new Error(errno);
}

test('one burst marks the device log and the HWPT log: each its own granules (2 MiB in the huge mapping), counted per log', (t) => {
  const device = log(PAGE);
  const hwpt = hwptLog();
  const tk = task({ logs: [{ kind: 'log', log: device }, { kind: 'hwpt', log: hwpt.descriptor }] });
  const r = runBurst(tk);
  const pages = [...generatePages(workload, 11n, 5, 300)];
  const distinct = new Set(pages);
  const inHuge = pages.filter((p) => BigInt(p) * PAGE < HUGE);
  const small = new Set(pages.filter((p) => BigInt(p) * PAGE >= HUGE));
  t.like(r, { attempted: 300, logged: 300, stale: false });
  t.deepEqual(r.granules, [300, 300], 'one granule per write in each log');
  t.is(new DirtyLog(device).countDirty(), distinct.size);
  t.true(inHuge.length > 0);
  t.is(hwpt.countDirty(), small.size + 1, 'the huge mapping is one 2 MiB granule');
  const guest = new Uint32Array(tk.guest);
  for (const p of pages) t.is(guest[p * 1024], stampOf(2, 5, p));
});

test('a HWPT log with tracking disabled takes no marks; the device log still does', (t) => {
  const hwpt = hwptLog();
  hwpt.setTracking(false);
  const r = runBurst(task({ logs: [{ kind: 'log', log: log(PAGE) }, { kind: 'hwpt', log: hwpt.descriptor }] }));
  t.deepEqual(r.granules, [300, 0]);
  t.is(hwpt.countDirty(), 0);
});

test('the HWPT log alone: logged counts its writes; a mapping added later is seen by a burst given the new descriptor', (t) => {
  const h = new HwptLog();
  t0(h.addMapping(GUEST_IOVA, HUGE, HUGE, 1 << 20));
  h.setTracking(true);
  const first = runBurst(task({ logs: [{ kind: 'hwpt', log: h.descriptor }] }));
  const inHuge = [...generatePages(workload, 11n, 5, 300)].filter((p) => BigInt(p) * PAGE < HUGE).length;
  t.deepEqual(first.granules, [inHuge]);
  t.is(first.logged, 300);
  t0(h.addMapping(GUEST_IOVA + HUGE, BigInt(GUEST_PAGES) * PAGE - HUGE, PAGE, 1 << 20));
  const second = runBurst(task({ logs: [{ kind: 'hwpt', log: h.descriptor }] }));
  t.deepEqual(second.granules, [300]);
});

test('with two targets, a generation moving on stops the burst after one uncounted write', (t) => {
  const cells = controlCells(1);
  Atomics.store(cells, CONTROL_FIRST_LOG_GEN, 2);
  const r = runBurst(task({
    logs: [{ kind: 'hwpt', log: hwptLog().descriptor }, { kind: 'log', log: log(PAGE), gen: { slot: CONTROL_FIRST_LOG_GEN, value: 1 } }],
    control: { cells: cells.buffer as SharedArrayBuffer },
  }));
  t.like(r, { attempted: 1, logged: 0, stale: true });
  t.deepEqual(r.granules, [1, 1], 'the write was marked in both before the check');
});

test('pool threads mark a device log and a HWPT log through their descriptors', async (t) => {
  const pool = new DmaPool({ threads: 2 });
  t.teardown(() => pool.close());
  const device = log(PAGE);
  const hwpt = hwptLog();
  const shared = task({ logs: [{ kind: 'log', log: device }, { kind: 'hwpt', log: hwpt.descriptor }] });
  const results = await Promise.all([0, 1, 2, 3].map((stream) => pool.run({ ...shared, workload: { ...workload, stream }, burstId: stream })));
  t.deepEqual(results.map((r) => r.granules), [[300, 300], [300, 300], [300, 300], [300, 300]]);
  const expected = new Set<number>();
  for (const stream of [0, 1, 2, 3]) for (const p of generatePages({ ...workload, stream }, 11n, stream, 300)) expected.add(p);
  t.is(new DirtyLog(device).countDirty(), expected.size);
  const small = [...expected].filter((p) => BigInt(p) * PAGE >= HUGE).length;
  t.is(hwpt.countDirty(), small + 1);
});
