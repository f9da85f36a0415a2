// Unmapping IOAS ranges while DMA bursts hold HWPT log descriptors taken before (contract §7): a
// burst sees the mapping epoch move and stops, its racing write uncounted, so no write counted
// as logged is missing from the live log, and no bit lands in the log of a mapping made after
// the burst's descriptor. Checked one thread deterministically, then with pool threads racing
// unmaps and remaps on a real host's iommufd thread.
import test from 'ava';
import { DmaPool } from '../../src/dma/pool.js';
import { runBurst, stampOf } from '../../src/dma/engine.js';
import type { BurstResult } from '../../src/dma/types.js';
import { createHost } from '../../src/host/host.js';
import { HwptLog } from '../../src/iommufd/hwpt-log.js';
import { generatePages, type WorkloadSpec } from '../../src/workload/workload.js';
import { PAGE, setBits } from '../helpers/abi.js';

const PAGES = 64;
/** Pages 0..31 stay mapped (S); pages 32..63 are unmapped and mapped again (R). */
const S = { iova: 0n, length: 32n * PAGE };
const R = { iova: 32n * PAGE, length: 32n * PAGE };
const workload: WorkloadSpec = { kind: 'uniform', pageBase: 0, pageCount: PAGES, writer: 0, writers: 1, stream: 0 };

function ok(errno: string | null): void {
  if (errno !== null) throw new Error(errno);
}

test('a burst given a descriptor from before an unmap writes nothing; one from before a remap never marks the new mapping', (t) => {
  const h = new HwptLog();
  ok(h.addMapping(S.iova, S.length, PAGE, 1 << 20));
  ok(h.addMapping(R.iova, R.length, PAGE, 1 << 20));
  h.setTracking(true);
  const old = h.descriptor;
  t.false(new HwptLog(old).stale);
  h.removeMapping(R.iova);
  t.true(new HwptLog(old).stale);
  const guest = new SharedArrayBuffer(PAGES * 4096);
  const burst = (descriptor = h.descriptor) => runBurst({ guest, guestIova: 0n, logs: [{ kind: 'hwpt', log: descriptor }], workload, seed: 3n, burstId: 0, count: 200 });
  t.deepEqual(burst(old), { attempted: 0, logged: 0, granules: [0], setsCompletedAtStart: 0, setsBegunAtEnd: 0, stale: true });
  t.true(new Uint32Array(guest).every((w) => w === 0), 'no data stored through a stale descriptor');
  ok(h.addMapping(R.iova, R.length, PAGE, 1 << 20));
  t.like(burst(old), { attempted: 0, stale: true });
  t.is(h.countDirty(), 0, 'the new mapping of R has no bit from the old descriptor');
  const fresh = burst();
  const pages = new Set(generatePages(workload, 3n, 0, 200));
  t.like(fresh, { attempted: 200, logged: 200, stale: false });
  t.is(h.countDirty(), pages.size);
});

test('a map of another range moves the epoch too: a burst on the older descriptor stores nothing', (t) => {
  const h = new HwptLog();
  ok(h.addMapping(S.iova, S.length, PAGE, 1 << 20));
  h.setTracking(true);
  const d = h.descriptor;
  ok(h.addMapping(R.iova, R.length, PAGE, 1 << 20));
  t.is(Atomics.load(new Int32Array(d.control), 1), d.epoch + 1);
  const guest = new SharedArrayBuffer(PAGES * 4096);
  const r = runBurst({ guest, guestIova: 0n, logs: [{ kind: 'hwpt', log: d }], workload: { ...workload, pageCount: 32 }, seed: 3n, burstId: 0, count: 50 });
  t.like(r, { attempted: 0, logged: 0, stale: true });
  t.deepEqual(r.granules, [0]);
  t.is(h.countDirty(), 0);
});

test('pool bursts in flight across unmaps of R on the iommufd thread: past the unmap at most one uncounted write each reaches R; S loses no counted write; R holds exactly the last mapping\'s writes', async (t) => {
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', devices: [{ name: 'nic', profile: 'none' }] });
  t.teardown(() => host.close());
  const pool = new DmaPool({ threads: 2 });
  t.teardown(() => pool.close());
  const iommufd = await host.openIommufd();
  const fd = host.open('nic');
  const ioas = await iommufd.allocIoas();
  await iommufd.map(ioas, S.iova, S.length);
  await iommufd.map(ioas, R.iova, R.length);
  const dev = await iommufd.bind(fd);
  const hwpt = await iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  await iommufd.attach(dev, hwpt);
  await iommufd.setDirtyTracking(hwpt, true);
  const guest = new SharedArrayBuffer(PAGES * 4096);
  const words = new Uint32Array(guest);
  const rWords = (from = 32) => Array.from({ length: PAGES - from }, (_, i) => words[(from + i) * 1024]!);
  const COUNT = 1 << 19;
  const LANES = 3;
  const ROUNDS = 6;
  const pagesOf = (lane: number, burstId: number, n: number) => generatePages({ ...workload, stream: lane }, 9n, burstId, n);
  const countedS = new Set<number>();
  const attempted = new Set<number>();
  let stale = 0;
  let lastRound: Array<{ lane: number; burstId: number; result: BurstResult }> = [];
  for (let round = 0; round < ROUNDS; round++) {
    const log = host.iommuLogDescriptor(fd)!;
    words.fill(0);
    const results = Array.from({ length: LANES }, (_, lane) =>
      pool.run({ guest, guestIova: 0n, logs: [{ kind: 'hwpt', log }], workload: { ...workload, stream: lane }, seed: 9n, burstId: round, count: COUNT }));
    const last = round === ROUNDS - 1;
    if (!last) {
      while (words.every((w) => w === 0)) await new Promise((resolve) => setTimeout(resolve, 0)); // some burst has begun
      await iommufd.unmap(ioas, R.iova, R.length);
      words.fill(0, 32 * 1024); // what lands in R from here on came after the unmap
    }
    const done = await Promise.all(results);
    done.forEach((result, lane) => {
      for (const p of pagesOf(lane, round, result.logged)) if (p < 32) countedS.add(p);
      for (const p of pagesOf(lane, round, result.attempted)) attempted.add(p);
      if (result.stale) stale++;
    });
    if (!last) {
      // Each page of R written after the unmap is the racing (last, uncounted) write of a stale burst.
      const racing = new Map<number, number>();
      done.forEach((result, lane) => {
        if (!result.stale || result.attempted === 0) return;
        const page = pagesOf(lane, round, result.attempted).at(-1)!;
        t.is(result.logged, result.attempted - 1, 'the racing write is not counted');
        if (page >= 32) racing.set(page, stampOf(lane, round, page));
      });
      rWords().forEach((w, i) => { if (w !== 0) t.is<number | undefined, number | undefined>(w, racing.get(32 + i), `page ${32 + i} written past the unmap`); });
      await iommufd.map(ioas, R.iova, R.length);
    } else {
      lastRound = done.map((result, lane) => ({ lane, burstId: round, result }));
    }
  }
  t.true(stale > 0, 'some bursts were in flight across an unmap');
  t.true(lastRound.every((b) => !b.result.stale && b.result.logged === COUNT), 'nothing moved during the last round');
  await iommufd.getDirtyBitmap({ hwptId: hwpt, iova: 0n, length: BigInt(PAGES) * PAGE, pageSize: PAGE, bitmap: 0x1000 });
  const bits = setBits(host.memory, 0x1000, PAGES);
  const inS = bits.filter((p) => p < 32);
  t.deepEqual([...countedS].filter((p) => !inS.includes(p)), [], 'every counted write to S is in the log');
  t.deepEqual(inS.filter((p) => !attempted.has(p)), [], 'and nothing no burst wrote');
  const lastR = new Set<number>();
  for (const b of lastRound) for (const p of pagesOf(b.lane, b.burstId, b.result.logged)) if (p >= 32) lastR.add(p);
  t.deepEqual(bits.filter((p) => p >= 32), [...lastR].sort((a, b) => a - b), 'R holds exactly the writes made through its last mapping');
});
