// Bounded stress runs inside npm test: real tracker threads, DMA bursts on the pool racing report
// sets, faults from the seed, and the checker's verdict. Each run is a few seconds at most.
import test from 'ava';
import { GUEST_IOVA, relogRacingWrite, runStress, type StressReport } from '../../src/stress/runner.js';
import { CONTROL_FIRST_LOG_GEN, CONTROL_SETS_BEGUN, controlCells, type BurstResult } from '../../src/dma/types.js';
import { runBurst } from '../../src/dma/engine.js';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import { createHost } from '../../src/host/host.js';
import { VfioError } from '../../src/errors.js';
import { generatePages, type WorkloadSpec } from '../../src/workload/workload.js';
import type { StressOptions } from '../../src/stress/options.js';

const SMALL: StressOptions = { guestPages: 4096, burstWrites: 1024, writesPerSet: 2048, queues: 2 };

function holds(t: { is: (a: unknown, b: unknown, m?: string) => void; true: (v: boolean, m?: string) => void }, r: StressReport): void {
  const why = JSON.stringify({ lost: r.checker.lostExamples, imprecise: r.checker.impreciseExamples, seed: String(r.seed) });
  t.is(r.lost, 0, why);
  t.is(r.imprecise, 0, why);
  t.is(r.zeroingViolations, 0);
  t.true(r.ok);
  t.true(r.writes > 0);
  // Every write whose data landed is held to the no-loss rule, the one racing a restart included.
  t.is(r.writes, r.writesAttempted, 'every stored write counted as logged');
}

const restartRuns: Array<[string, StressOptions]> = [
  ['uniform, mlx5 and pds', { workload: 'uniform', trackers: 4, seed: 11n }],
  ['hot, with tracker threads killed mid-REPORT', { workload: 'hot', trackers: 4, seed: 12n, kill: true }],
  ['ring, mlx5 only (4, 8 and 16 KiB granules)', { workload: 'ring', trackers: 3, profiles: ['mlx5'], seed: 13n }],
  ['shared-words under the atomic contract', { workload: 'shared-words', trackers: 6, profiles: ['pds', 'mlx5'], seed: 14n }],
];

for (const [title, options] of restartRuns) {
  test(`restart policy with faults, ${title}: no page lost, nothing imprecise`, async (t) => {
    t.timeout(60_000);
    const r = await runStress({ ...SMALL, ...options, reportSets: 150, faultRate: 0.03, policy: 'restart' });
    holds(t, r);
    t.is(r.reportSets, 150);
    t.is(r.stoppedBy, null);
    t.true(r.faults.total > 0 && r.faults.reportErrors > 0);
    t.is(r.faults.restarts + r.faults.retired, r.faults.reportErrors); // every failed REPORT was recovered
    if (options.kill) t.true(r.faults.injected['die-in-report'] > 0 && r.faults.retired > 0);
    else t.is(r.faults.retired, 0);
  });
}

// Three queues per device write the same log words from different pool threads, and six pool
// threads on a 2-core machine get preempted mid-write: a writer that loses the CPU between its
// log-word OR and its summary OR must not let a REPORT skip a page another queue wrote after it.
// The runs above share bitmap words across devices but never hit that window. Before the fix,
// about one run in ten of this one lost pages on 2 cores (the 3000-set run of issue 9: 7 in 8).
test('shared-words with three writer threads per device and more pool threads than cores: no page lost under the atomic contract', async (t) => {
  t.timeout(60_000);
  const r = await runStress({ trackers: 8, queues: 3, workload: 'shared-words', profiles: ['mlx5'], threads: 6, contract: 'atomic', reportSets: 700, seed: 209458n });
  holds(t, r);
  t.is(r.reportSets, 700);
  t.true(r.devices.every((d) => d.pageSize === 4096)); // one writer per log bit, several per log word
});

// A burst that sees its log's generation move (a restart's STOP) stops after the write that raced
// it: that write's data is in guest memory, its mark went to the log being dropped, and its store
// may land after the restart's span mark. It used to be left out of the claim, and when the checker
// held it to the rule it was lost about once in 300 stale bursts (10 of 2717 with these options for
// 25 s). The lane now logs it again through the device and holds it to the rule like every write.
test('restart racing DMA: a write whose burst went stale is logged again and held to the no-loss rule', async (t) => {
  t.timeout(60_000);
  const r = await runStress({ trackers: 6, queues: 3, threads: 6, guestPages: 4096, burstWrites: 256, writesPerSet: 0, faultRate: 0.2, policy: 'restart', reportSets: 200, seed: 21n });
  holds(t, r);
  t.true(r.faults.restarts > 0);
  t.log(`${r.staleBursts} stale bursts, ${r.writesAttempted} writes`);
});

test('relogRacingWrite: the racing writes go through the device again; the burst then counts them, with the sets begun after', async (t) => {
  const cells = new Int32Array(new SharedArrayBuffer(16));
  const workload: WorkloadSpec = { kind: 'uniform', pageBase: 0, pageCount: 1000, writer: 0, writers: 1, stream: 0 };
  const spec = { seed: 5n, burstId: 3, count: 10 };
  const pages = generatePages(workload, spec.seed, spec.burstId, spec.count);
  const calls: bigint[] = [];
  const device = { dmaWrite: async (iova: bigint) => { calls.push(iova); Atomics.store(cells, CONTROL_SETS_BEGUN, 9); } };
  const stale: BurstResult = { attempted: 7, logged: 6, granules: [7], setsCompletedAtStart: 2, setsBegunAtEnd: 4, stale: true };
  t.like(await relogRacingWrite(device, stale, workload, spec, cells), { attempted: 7, logged: 7, setsCompletedAtStart: 2, setsBegunAtEnd: 9 });
  t.deepEqual(calls, [GUEST_IOVA + BigInt(pages[6]!) * 4096n]);
  const whole: BurstResult = { ...stale, logged: 7, stale: false };
  t.is(await relogRacingWrite(device, whole, workload, spec, cells), whole, 'a burst that ran whole is left as it is');
  t.is(calls.length, 1);
  const gone = { dmaWrite: async () => { throw new VfioError('ENODEV'); } };
  t.like(await relogRacingWrite(gone, stale, workload, spec, cells), { logged: 7 }, 'a device gone is retired: its span marks cover the write');
  // A ring burst cut short wrote the prefix of its full-count burst (burst k starts at k × count).
  const ring: WorkloadSpec = { ...workload, kind: 'ring' };
  calls.length = 0;
  await relogRacingWrite(device, stale, ring, spec, cells);
  t.deepEqual(calls, [GUEST_IOVA + BigInt(generatePages(ring, spec.seed, spec.burstId, spec.count)[6]!) * 4096n]);
  t.not(generatePages(ring, spec.seed, spec.burstId, spec.count)[6], generatePages(ring, spec.seed, spec.burstId, 7)[6], 'the full count decides');
  const broken = { dmaWrite: async () => { throw new Error('bug'); } };
  await t.throwsAsync(relogRacingWrite(broken, stale, workload, spec, cells), { message: 'bug' });
});

test('ring over mlx5 picks the granules the run asked for', async (t) => {
  const r = await runStress({ ...SMALL, workload: 'ring', trackers: 3, profiles: ['mlx5'], seed: 13n, reportSets: 5 });
  t.deepEqual(r.devices.map((d) => d.pageSize), [4096, 8192, 16384]);
});

test('fail policy: the first REPORT error ends the run, logging stops, and what ran before holds', async (t) => {
  t.timeout(60_000);
  const r = await runStress({ ...SMALL, trackers: 4, seed: 21n, reportSets: 400, faultRate: 0.1, policy: 'fail' });
  holds(t, r);
  t.not(r.stoppedBy, null);
  t.is(r.stoppedBy!.errno, 'EIO');
  t.is(r.reportSets, r.stoppedBy!.set);
  t.is(r.faults.reportErrors >= 1, true);
  t.is(r.faults.restarts, 0);
});

test('one seed gives the same faults; another seed other ones', async (t) => {
  t.timeout(60_000);
  const run = (seed: bigint) => runStress({ ...SMALL, trackers: 3, seed, reportSets: 60, faultRate: 0.1, policy: 'restart' });
  const a = await run(31n);
  const b = await run(31n);
  const c = await run(32n);
  t.deepEqual(a.faults, b.faults);
  t.notDeepEqual(a.faults.injected, c.faults.injected);
  t.deepEqual(a.devices, b.devices);
});

// The merged kernel's plain read-modify-write loses a bit only when two REPORTs hit one bitmap
// word at the same moment. Measured here (8 trackers, 100 sets, machine loaded by a parallel
// stress): 27 of 30 runs lost bits, 5 to 192 each. Up to 8 runs of 150 sets leave a chance
// near 1e-8 that none loses one.
test('plain contract with shared-words: the checker detects and counts lost bits', async (t) => {
  t.timeout(120_000);
  let lossy: StressReport | null = null;
  for (let run = 0; run < 8 && lossy === null; run++) {
    const r = await runStress({ ...SMALL, trackers: 8, workload: 'shared-words', contract: 'plain', seed: 40n + BigInt(run), reportSets: 150 });
    t.is(r.imprecise, 0);
    if (r.lost > 0) lossy = r;
  }
  t.not(lossy, null, 'no run lost a bit');
  t.false(lossy!.ok);
  t.is(lossy!.checker.lostExamples.length, Math.min(5, lossy!.lost));
  for (const f of lossy!.checker.lostExamples) t.true(f.page % 8 === f.tracker, 'a lost page is one its tracker wrote');
});

// The race by hand, in one thread: a DMA queue holds its log target (generation g), a restart
// (STOP, START, span mark) runs to its end, and only then does the queue's next write land, as
// when its thread was preempted between its generation check and its next store. The write stores
// its data, marks the dropped log, and the burst goes stale with it not counted as logged.
test('the write of a burst preempted across a whole restart is in no later set unless its lane logs it again', async (t) => {
  const host = await createHost({ transport: 'in-thread', userMemoryBytes: 1 << 20, devices: [{ name: 'nic', profile: 'mlx5' }] });
  t.teardown(() => host.close());
  const dev = host.device('nic');
  const cells = controlCells(1);
  dev.bindLogGeneration(cells, CONTROL_FIRST_LOG_GEN);
  const coordinator = new Coordinator({ trackers: [dev], memory: host.memory, allocate: (b) => host.alloc(b), policy: 'restart' });
  const pages = 64;
  await coordinator.startAll({ ranges: [{ iova: GUEST_IOVA, length: BigInt(pages) * 4096n }], pageSize: 4096n });
  const window = { iova: GUEST_IOVA, length: BigInt(pages) * 4096n, pageSize: 4096n };
  const bitmap = coordinator.createBitmap(window);
  const held = dev.burstTarget()!; // the queue took its target before the restart
  await dev.injectFault({ kind: 'report-error' });
  const restarted = await coordinator.reportSet(window, bitmap);
  t.is(restarted.outcomes[0]!.recovery, 'restarted');
  t.is(bitmap.consume(), pages, 'the restart marked the span: everything written so far is covered');
  const workload: WorkloadSpec = { kind: 'uniform', pageBase: 0, pageCount: pages, writer: 0, writers: 1, stream: 0 };
  const spec = { seed: 3n, burstId: 2, count: 4 };
  const guest = new SharedArrayBuffer(pages * 4);
  const burst = runBurst({ guest, layout: 'versions', guestIova: GUEST_IOVA, logs: held.logs, control: held.control, workload, ...spec });
  t.like(burst, { attempted: 1, logged: 0, stale: true });
  const page = generatePages(workload, spec.seed, spec.burstId, spec.count)[0]!;
  t.is(new Int32Array(guest)[page], 1, 'its data landed');
  const reported = async (): Promise<number[]> => {
    await coordinator.reportSet(window, bitmap, { zero: true });
    const bits: number[] = [];
    bitmap.consume((b) => bits.push(b));
    return bits;
  };
  t.deepEqual(await reported(), [], 'left as it was, the write is in no set: its mark went to the dropped log');
  const relogged = await relogRacingWrite(dev, burst, workload, spec, cells);
  t.like(relogged, { attempted: 1, logged: 1 });
  t.deepEqual(await reported(), [page], 'logged again by its device, the next set reports it');
  await coordinator.close();
});
