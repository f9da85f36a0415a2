// The DMA engine inline and on the piscina pool: what a burst writes to guest memory and to the
// device log, and how it stops when the log it holds has been stopped.
import test from 'ava';
import { DirtyLog, planLog, type DirtyLogDescriptor } from '../../src/device/dirty-log.js';
import { ok } from '../../src/util/result.js';
import { runBurst, stampOf } from '../../src/dma/engine.js';
import { DmaPool } from '../../src/dma/pool.js';
import { CONTROL_FIRST_LOG_GEN, CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, controlCells, type BurstTask } from '../../src/dma/types.js';
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

function task(over: Partial<BurstTask> = {}): BurstTask {
  return { guest: new SharedArrayBuffer(GUEST_PAGES * 4096), guestIova: GUEST_IOVA, log: log(PAGE), workload, seed: 11n, burstId: 5, count: 300, ...over };
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
    const tk = task({ log: log(granule) });
    const r = runBurst(tk);
    const pages = [...generatePages(workload, 11n, 5, 300)];
    t.like(r, { attempted: 300, logged: 300, granules: 300, stale: false });
    const guest = new Uint32Array(tk.guest);
    for (const p of pages) t.is(guest[p * 1024], stampOf(2, 5, p));
    const perGranule = Number(granule / PAGE);
    const expected = [...new Set(pages.map((p) => Math.floor((Number(GUEST_IOVA / PAGE) + p) / perGranule)))].sort((a, b) => a - b);
    t.deepEqual(dirtyGranules(tk.log!), expected);
  }
});

test('writes outside the tracked ranges store data but mark nothing', (t) => {
  const half = BigInt(GUEST_PAGES / 2) * PAGE;
  const tk = task({ log: log(PAGE, [{ iova: GUEST_IOVA, length: half }]) });
  const r = runBurst(tk);
  const inside = [...generatePages(workload, 11n, 5, 300)].filter((p) => p < GUEST_PAGES / 2);
  t.is(r.granules, inside.length);
  t.is(new DirtyLog(tk.log!).countDirty(), new Set(inside).size);
});

for (const [title, base] of [['not 4 KiB aligned', GUEST_IOVA + 0x800n], ['past 2^53 (bigint IOVAs)', (1n << 63n) + 0x800n]] as const) {
  test(`a guest IOVA base ${title} marks what DirtyLog.markWrite marks`, (t) => {
    const ranges = [{ iova: base - 0x800n, length: BigInt(GUEST_PAGES + 1) * PAGE }];
    const tk = task({ guestIova: base, log: log(PAGE, ranges) });
    runBurst(tk);
    const reference = log(PAGE, ranges);
    const ref = new DirtyLog(reference);
    for (const p of generatePages(workload, 11n, 5, 300)) ref.markWrite(base + BigInt(p) * PAGE, PAGE);
    t.deepEqual(dirtyGranules(tk.log!), dirtyGranules(reference));
    t.true(dirtyGranules(reference).length > 300 * 1.5); // an unaligned page touches two granules
  });
}

test('a burst reads the report-set epochs at its start and end', (t) => {
  const cells = controlCells(1);
  Atomics.store(cells, CONTROL_SETS_COMPLETED, 3);
  Atomics.store(cells, CONTROL_SETS_BEGUN, 4);
  const r = runBurst(task({ control: { cells: cells.buffer as SharedArrayBuffer, logGenSlot: CONTROL_FIRST_LOG_GEN, logGen: 0 } }));
  t.like(r, { setsCompletedAtStart: 3, setsBegunAtEnd: 4, logged: 300, stale: false });
});

test('a burst whose log generation moved on stops after one uncounted write', (t) => {
  const cells = controlCells(1);
  Atomics.store(cells, CONTROL_FIRST_LOG_GEN, 2);
  const tk = task({ control: { cells: cells.buffer as SharedArrayBuffer, logGenSlot: CONTROL_FIRST_LOG_GEN, logGen: 1 } });
  t.like(runBurst(tk), { attempted: 1, logged: 0, stale: true });
});

test('without a log a burst writes data and logs nothing', (t) => {
  t.like(runBurst(task({ log: null })), { attempted: 300, logged: 0, granules: 0 });
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
  t.is(new DirtyLog(shared.log!).countDirty(), expected.size);
  await pool.close();
  const error = await t.throwsAsync(pool.run(shared), { instanceOf: DmalogError });
  t.is(error.code, 'DMALOG_CLOSED');
});
