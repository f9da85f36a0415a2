// A stress run: trackers in worker threads, DMA bursts on a piscina pool racing the coordinator's
// report sets into one bitmap, faults drawn from the seed, and the checker (checker.ts) fed as
// bursts and sets complete. One seed fixes the workload and the faults; thread interleavings are
// whatever the machine makes of them.
import { Coordinator } from '../coordinator/coordinator.js';
import type { ReportWindow } from '../trackers/tracker.js';
import { DmaPool } from '../dma/pool.js';
import { CONTROL_FIRST_LOG_GEN, CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, controlCells } from '../dma/types.js';
import type { Fault } from '../device/driver.js';
import { createHost } from '../host/host.js';
import type { DeviceOptions } from '../host/options.js';
import { DmalogError, ReportSetError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';
import { createPrng, type Prng } from '../util/prng.js';
import type { WorkloadSpec } from '../workload/workload.js';
import { StressChecker, type CheckerTotals, type PageRange } from './checker.js';
import { MAX_GRANULE_PAGES, fillStressOptions, type FilledStressOptions, type StressFaultKind, type StressOptions, type StressProgress } from './options.js';
import { ceilDiv } from '../util/bits.js';

const PAGE = 4096n;
/** Guest memory sits above 4 GiB in IOVA space, as a VM's high RAM would. */
export const GUEST_IOVA = 1n << 32n;
const SLOW_REPORT_MS = { min: 1, max: 20 } as const;

export interface StressReport {
  seed: bigint;
  options: Omit<FilledStressOptions, 'onProgress' | 'seed'>;
  devices: Array<{ name: string; profile: string; pageSize: number }>;
  writes: number;
  writesAttempted: number;
  granulesMarked: number;
  bursts: number;
  staleBursts: number;
  reportSets: number;
  pagesReported: number;
  lost: number;
  imprecise: number;
  markedOnly: number;
  zeroingViolations: number;
  faults: { injected: Record<StressFaultKind, number>; total: number; reportErrors: number; restarts: number; retired: number };
  /** Why the run ended before its budget: a REPORT error under policy `fail`, or a broken rule. */
  stoppedBy: { set: number; errno: Errno | 'DMALOG_ZEROING_RULE'; tracker: string | null } | null;
  elapsedMs: number;
  writesPerSecond: number;
  setsPerSecond: number;
  checker: CheckerTotals;
  /** Every invariant held. */
  ok: boolean;
}

/** Every device must log DMA: a stress run has nothing to check on one that cannot. */
export function checkProbed(probed: ReadonlyMap<string, boolean>): void {
  for (const [name, ok] of probed) if (!ok) throw new DmalogError('DMALOG_UNSUPPORTED', `device ${name} does not support DMA logging`);
}

/** Each tracker's granule in pages, refused past what the stress windows are aligned to. */
export function checkedGranulePages(pageSizes: ReadonlyMap<string, bigint>): number[] {
  const granulePages = [...pageSizes.values()].map((size) => Number(size / PAGE));
  if (granulePages.some((g) => g > MAX_GRANULE_PAGES)) throw new DmalogError('DMALOG_UNSUPPORTED', 'a tracker chose a granule larger than the stress windows allow');
  return granulePages;
}

/** Devices of a run: profiles cycle; mlx5 granules cycle 4, 8, 16 KiB (4 KiB for shared-words, so each bit has one writer). */
export function stressDevices(o: Pick<FilledStressOptions, 'trackers' | 'profiles' | 'workload'>): DeviceOptions[] {
  let mlx5 = 0;
  return Array.from({ length: o.trackers }, (_, t) => {
    const profile = o.profiles[t % o.profiles.length]!;
    const name = `${profile}-${t}`;
    if (profile === 'pds') return { name, profile };
    const granulePages = o.workload === 'shared-words' ? 1 : 1 << (mlx5++ % 3);
    return { name, profile, minPageSize: Number(PAGE) * granulePages };
  });
}

/** K windows of equal size partitioning the guest pages, aligned to the largest granule. */
export function stressWindows(guestPages: number, windows: number): PageRange[] {
  const size = guestPages / windows;
  return Array.from({ length: windows }, (_, i) => ({ from: i * size, to: (i + 1) * size }));
}

/** Resolves the waiters of the next `notify`. */
class Signal {
  #waiters: Array<() => void> = [];
  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
  notify(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const resolve of w) resolve();
  }
}

function drawFault(prng: Prng, rate: number, kinds: StressFaultKind[]): Fault | null {
  // Always three draws, so the fault stream does not depend on which faults hit.
  const hit = prng.nextFloat() < rate;
  const kind = kinds[prng.int(0, kinds.length - 1)]!;
  const ms = prng.int(SLOW_REPORT_MS.min, SLOW_REPORT_MS.max);
  if (!hit) return null;
  return kind === 'slow-report' ? { kind, ms } : { kind };
}

export async function runStress(options: StressOptions): Promise<StressReport> {
  const o = fillStressOptions(options);
  const root = createPrng(o.seed);
  const workloadSeed = root.nextBigU64();
  const faultPrng = createPrng(root.nextBigU64());
  const faultKinds: StressFaultKind[] = ['report-error', 'tracker-error', 'slow-report', ...(o.kill ? ['die-in-report' as const] : [])];
  const deviceOptions = stressDevices(o);
  const guestBytes = BigInt(o.guestPages) * PAGE;
  const host = await createHost({ userMemoryBytes: 1 << 20, devices: deviceOptions, contract: o.contract });
  const pool = new DmaPool({ threads: o.threads });
  const cells = controlCells(o.trackers);
  const devices = deviceOptions.map((d) => host.device(d.name));
  devices.forEach((d, i) => d.bindLogGeneration(cells, CONTROL_FIRST_LOG_GEN + i));
  const coordinator = new Coordinator({ trackers: devices, memory: host.memory, allocate: (bytes) => host.alloc(bytes), policy: o.policy, verifyZeroed: true });
  const guest = new SharedArrayBuffer(Number(guestBytes));
  const injected: Record<StressFaultKind, number> = { 'report-error': 0, 'tracker-error': 0, 'slow-report': 0, 'die-in-report': 0 };
  let stopping = false;
  const burstDone = new Signal();
  const setDone = new Signal();
  const lanes: Array<Promise<void>> = [];
  const started = performance.now();
  let progressTimer: NodeJS.Timeout | undefined;
  try {
    const probed = await coordinator.probeAll();
    checkProbed(probed);
    const pageSizes = await coordinator.startAll({ ranges: [{ iova: GUEST_IOVA, length: guestBytes }], pageSize: PAGE });
    const granulePages = checkedGranulePages(pageSizes);
    const windows = stressWindows(o.guestPages, o.windows);
    const checker = new StressChecker({ guestPages: o.guestPages, granulePages, windows });
    const bitmap = coordinator.createBitmap({ length: BigInt(windows[0]!.to - windows[0]!.from) * PAGE, pageSize: PAGE });

    let writes = 0;
    let writesAttempted = 0;
    let granulesMarked = 0;
    let staleBursts = 0;
    let writesSinceSet = 0;
    /** Lanes with a burst in flight: pacing waits for writes only while some lane can write. */
    let busyLanes = 0;
    const retired = new Set<number>();
    let laneError: unknown = null;

    const lane = async (t: number, q: number): Promise<void> => {
      const device = devices[t]!;
      const workload: WorkloadSpec = { kind: o.workload, pageBase: 0, pageCount: o.guestPages, writer: t, writers: o.trackers, stream: t * o.queues + q };
      let burstId = 0;
      while (!stopping) {
        const target = device.burstTarget();
        if (target === null) {
          if (retired.has(t) || device.dead) return; // a retired device's DMA ends with it
          await Promise.race([setDone.wait(), burstDone.wait()]);
          continue;
        }
        const spec = { tracker: t, workload, seed: workloadSeed, burstId: burstId++, count: o.burstWrites };
        const id = checker.dispatch(spec);
        busyLanes++;
        const result = await pool.run({ guest, guestIova: GUEST_IOVA, logs: target.logs, control: target.control, workload, seed: workloadSeed, burstId: spec.burstId, count: spec.count })
          .finally(() => { busyLanes--; });
        writes += result.logged;
        writesAttempted += result.attempted;
        for (const g of result.granules) granulesMarked += g;
        if (result.stale) staleBursts++;
        writesSinceSet += result.logged;
        checker.burstDone(id, result);
        burstDone.notify();
      }
    };
    for (let t = 0; t < o.trackers; t++) {
      for (let q = 0; q < o.queues; q++) {
        lanes.push(lane(t, q).catch((error: unknown) => { laneError ??= error; }).finally(() => burstDone.notify()));
      }
    }

    let sets = 0;
    let pagesReported = 0;
    let zeroingViolations = 0;
    let stoppedBy: StressReport['stoppedBy'] = null;
    const progress = (): StressProgress => ({
      elapsedMs: performance.now() - started, reportSets: sets, writes, lost: checker.totals.lost, imprecise: checker.totals.imprecise,
      faults: Object.values(injected).reduce((a, b) => a + b, 0),
    });
    if (o.onProgress) {
      const report = o.onProgress;
      progressTimer = setInterval(() => report(progress()), o.progressIntervalMs);
    }
    const budgetLeft = () => (o.reportSets !== null ? sets < o.reportSets : performance.now() - started < o.seconds! * 1000);

    while (budgetLeft() && laneError === null) {
      while (writesSinceSet < o.writesPerSet && busyLanes > 0 && laneError === null) await burstDone.wait();
      if (laneError !== null) break;
      writesSinceSet = 0;
      for (const device of devices) {
        const fault = drawFault(faultPrng, o.faultRate, faultKinds);
        if (fault === null || device.dead) continue;
        await device.injectFault(fault);
        injected[fault.kind as StressFaultKind]++;
      }
      const window = windows[sets % windows.length]!;
      const reportWindow: ReportWindow = { iova: GUEST_IOVA + BigInt(window.from) * PAGE, length: BigInt(window.to - window.from) * PAGE, pageSize: PAGE };
      // Begun before the first REPORT is issued, completed after the last mark: bursts reading
      // these get conservative bounds (checker.ts).
      Atomics.store(cells, CONTROL_SETS_BEGUN, sets + 1);
      let outcome;
      try {
        outcome = await coordinator.reportSet(reportWindow, bitmap);
      } catch (error) {
        if (error instanceof DmalogError && error.code === 'DMALOG_ZEROING_RULE') {
          zeroingViolations++;
          stoppedBy = { set: sets, errno: 'DMALOG_ZEROING_RULE', tracker: null };
          break;
        }
        if (error instanceof ReportSetError) {
          stoppedBy = { set: sets, errno: error.errno, tracker: error.tracker };
          break;
        }
        throw error;
      }
      Atomics.store(cells, CONTROL_SETS_COMPLETED, sets + 1);
      const pages: number[] = [];
      pagesReported += bitmap.consume((bit) => pages.push(window.from + bit));
      bitmap.zero();
      const marked = outcome.outcomes.flatMap((x) => x.marked.map((r) => ({
        from: Number((r.iova - GUEST_IOVA) / PAGE),
        to: Number(ceilDiv(r.iova + r.length - GUEST_IOVA, PAGE)),
      })));
      checker.setDone(sets, { pages: Int32Array.from(pages), marked });
      outcome.outcomes.forEach((x, t) => { if (x.recovery === 'retired') retired.add(t); });
      sets++;
      setDone.notify();
    }

    stopping = true;
    setDone.notify();
    await Promise.all(lanes);
    if (laneError !== null) throw laneError;
    const totals = checker.finish();
    const elapsedMs = performance.now() - started;
    if (progressTimer) { clearInterval(progressTimer); progressTimer = undefined; o.onProgress?.(progress()); }
    await coordinator.stopAll();
    const { onProgress: _, seed: __, ...shown } = o;
    return {
      seed: o.seed,
      options: shown,
      devices: deviceOptions.map((d, i) => ({ name: d.name, profile: d.profile, pageSize: granulePages[i]! * Number(PAGE) })),
      writes,
      writesAttempted,
      granulesMarked,
      bursts: checker.dispatched,
      staleBursts,
      reportSets: sets,
      pagesReported,
      lost: totals.lost,
      imprecise: totals.imprecise,
      markedOnly: totals.markedOnly,
      zeroingViolations,
      faults: {
        injected,
        total: Object.values(injected).reduce((a, b) => a + b, 0),
        reportErrors: coordinator.stats.reportErrors,
        restarts: coordinator.stats.restarts,
        retired: coordinator.stats.retired,
      },
      stoppedBy,
      elapsedMs,
      writesPerSecond: writes / (elapsedMs / 1000),
      setsPerSecond: sets / (elapsedMs / 1000),
      checker: totals,
      ok: totals.lost === 0 && totals.imprecise === 0 && zeroingViolations === 0,
    };
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    stopping = true;
    setDone.notify();
    burstDone.notify();
    await Promise.allSettled(lanes);
    await coordinator.close().catch(() => {});
    await pool.close();
    await host.close();
  }
}
