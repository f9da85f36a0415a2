// A stress run: trackers in worker threads, DMA bursts on a piscina pool racing the coordinator's
// report sets into one bitmap, faults drawn from the seed, and the checker (checker.ts) fed as
// bursts and sets complete. One seed fixes the workload and the faults; thread interleavings are
// whatever the machine makes of them.
import type { Coordinator } from '../coordinator/coordinator.js';
import type { ReportBitmap } from '../coordinator/report-bitmap.js';
import type { DmaPool } from '../dma/pool.js';
import type { ReportWindow } from '../trackers/tracker.js';
import { CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED } from '../dma/types.js';
import type { Fault } from '../device/driver.js';
import type { DeviceOptions } from '../host/options.js';
import { DmalogError, ReportSetError, VfioError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';
import { createPrng, type Prng } from '../util/prng.js';
import { generatePages, type WorkloadSpec } from '../workload/workload.js';
import { StressChecker, type CheckerTotals, type PageRange } from './checker.js';
import { StressRecorder, type StressHistory } from './history.js';
import type { LatencySummary } from '../util/percentile.js';
import { MAX_GRANULE_PAGES, fillStressOptions, type FilledStressOptions, type StressFaultKind, type StressOptions, type StressProgress } from './options.js';
import { ceilDiv } from '../util/bits.js';
import { createRig, type Rig } from '../rig/rig.js';
import type { BurstResult, LogTarget } from '../dma/types.js';
import { iommuTrackers, stressIommuMappings, type StressIommu } from './iommu.js';

const PAGE = 4096n;
/** Guest memory sits above 4 GiB in IOVA space, as a VM's high RAM would. */
export const GUEST_IOVA = 1n << 32n;
const SLOW_REPORT_MS = { min: 1, max: 20 } as const;

export interface StressReport {
  seed: bigint;
  options: Omit<FilledStressOptions, 'onProgress' | 'seed'>;
  devices: Array<{ name: string; profile: string; pageSize: number }>;
  /** The IOMMU trackers (--iommu-trackers): HWPTs, the devices attached to each, the guest's IOPTEs. */
  iommu: {
    trackers: Array<{ name: string; hwptId: number; devices: string[] }>;
    hugePages: number;
    smallPages: number;
    /** Log bits the bursts marked in HWPT logs (one per write: each write meets one IOPTE). */
    granulesMarked: number;
  };
  writes: number;
  writesAttempted: number;
  /** Log bits the bursts marked, every log summed (the devices' own and the HWPTs'). */
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
  /** Wall time of each completed report set as the runner waited for it (REPORTs issued to last mark); null when none completed. */
  reportSetLatency: LatencySummary | null;
  /** Latency histogram, per-device throughput over time, faults and recoveries (the HTML report's charts). */
  history: StressHistory;
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

/**
 * A stress run, step by step:
 *
 *   planStress (what the seed fixes) → buildRig (host, pool, IOMMU trackers, coordinator) →
 *   probeAndStart (every tracker PROBEd and STARTed over the guest) → startLanes (DMA lanes, o.queues per device) →
 *   runSets (runSet after runSet until the budget is spent or a set stops the run) →
 *   stopAndCheck (lanes drained, the checker's verdict, STOP) → summarise (the report).
 *
 * Whatever fails, the lanes are stopped and the rig closed before runStress settles.
 */
export async function runStress(options: StressOptions): Promise<StressReport> {
  const o = fillStressOptions(options);
  const plan = planStress(o);
  const rig = await buildRig(o, plan);
  const dma = new DmaTraffic(plan.devices.length);
  const tally = newTally(plan.devices.length);
  const started = performance.now();
  let progress: Progress | null = null;
  try {
    const tracking = await probeAndStart(o, plan, rig.coordinator!);
    const run: StressRun = { o, plan, rig, coordinator: rig.coordinator!, pool: rig.pool!, tracking, dma, tally, started };
    startLanes(run);
    progress = startProgress(run);
    await runSets(run);
    const checked = await stopAndCheck(run, progress);
    return summarise(run, checked);
  } finally {
    progress?.stop();
    await dma.stop();
    await rig.close();
  }
}

/** What the seed fixes before anything runs: the workload's seed, the fault stream, the devices. */
export interface StressPlan {
  workloadSeed: bigint;
  faultPrng: Prng;
  faultKinds: StressFaultKind[];
  devices: DeviceOptions[];
  guestBytes: bigint;
  /** The guest's memory, written by every lane. */
  guest: SharedArrayBuffer;
  /** The IOMMU trackers' layout; filled in when the rig makes them. */
  iommu: StressIommu;
}

export function planStress(o: FilledStressOptions): StressPlan {
  const root = createPrng(o.seed);
  const workloadSeed = root.nextBigU64();
  const faultPrng = createPrng(root.nextBigU64());
  const guestBytes = BigInt(o.guestPages) * PAGE;
  return {
    workloadSeed,
    faultPrng,
    faultKinds: ['report-error', 'tracker-error', 'slow-report', ...(o.kill ? ['die-in-report' as const] : [])],
    devices: stressDevices(o),
    guestBytes,
    guest: new SharedArrayBuffer(Number(guestBytes)),
    iommu: planIommu(o),
  };
}

/** The IOPTEs over the guest (only with IOMMU trackers); the HWPTs come with the rig. */
function planIommu(o: FilledStressOptions): StressIommu {
  const mappings = o.iommuTrackers > 0 ? stressIommuMappings(o.guestPages, stressWindows(o.guestPages, o.windows)) : [];
  return { mappings, hwptOf: [], trackers: [] };
}

/** The host with the run's devices, the DMA pool, and a coordinator that checks every bitmap starts zeroed. */
function buildRig(o: FilledStressOptions, plan: StressPlan): Promise<Rig> {
  return createRig({
    host: { userMemoryBytes: 1 << 20, devices: plan.devices, contract: o.contract },
    dma: { threads: o.threads },
    coordinator: { policy: o.policy, verifyZeroed: true },
    extraTrackers: iommuTrackers(o.iommuTrackers, GUEST_IOVA, plan.iommu.mappings, plan.iommu),
  });
}

/** The tracking every device agreed to, and the checker that judges it. */
interface Tracking {
  granulePages: number[];
  windows: PageRange[];
  checker: StressChecker;
  /** One report window's bitmap, reused by every set. */
  bitmap: ReportBitmap;
}

/** Every device must log DMA (PROBE) and START over the whole guest at a granule the windows allow. */
async function probeAndStart(o: FilledStressOptions, plan: StressPlan, coordinator: Coordinator): Promise<Tracking> {
  checkProbed(await coordinator.probeAll());
  const pageSizes = await coordinator.startAll({ ranges: [{ iova: GUEST_IOVA, length: plan.guestBytes }], pageSize: PAGE });
  checkedGranulePages(pageSizes);
  // The checker's trackers are the devices, in device order; the IOMMU trackers' granules are their IOPTEs.
  const granulePages = plan.devices.map((d) => Number(pageSizes.get(d.name)! / PAGE));
  const windows = stressWindows(o.guestPages, o.windows);
  const checker = new StressChecker({ guestPages: o.guestPages, granulePages, windows, iommu: checkerIommu(plan) });
  const bitmap = coordinator.createBitmap({ length: BigInt(windows[0]!.to - windows[0]!.from) * PAGE, pageSize: PAGE });
  return { granulePages, windows, checker, bitmap };
}

/** What the checker knows of the IOMMU logs: whose writes they see, where they log 2 MiB granules. */
function checkerIommu({ iommu, devices }: StressPlan): { attached: boolean[]; huge: PageRange[] } | undefined {
  if (iommu.trackers.length === 0) return undefined;
  return { attached: devices.map((_, t) => iommu.hwptOf[t] !== null && iommu.hwptOf[t] !== undefined), huge: iommu.mappings.filter((m) => m.huge) };
}

/** The DMA side of a run: what the lanes wrote, and how the report-set loop waits on them. */
class DmaTraffic {
  writes = 0;
  writesAttempted = 0;
  granulesMarked = 0;
  iommuGranulesMarked = 0;
  staleBursts = 0;
  writesSinceSet = 0;
  /** Writes logged per device. */
  readonly writesByDevice: number[];
  /** Lanes with a burst in flight: pacing waits for writes only while some lane can write. */
  busyLanes = 0;
  /** Devices the coordinator retired: their DMA ends with them. */
  readonly retired = new Set<number>();
  laneError: unknown = null;
  stopping = false;
  readonly burstDone = new Signal();
  readonly setDone = new Signal();
  readonly lanes: Array<Promise<void>> = [];

  constructor(devices: number) {
    this.writesByDevice = new Array<number>(devices).fill(0);
  }

  /** Stop every lane and wait for their bursts; idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.setDone.notify();
    this.burstDone.notify();
    await Promise.allSettled(this.lanes);
  }
}

/** What the report-set side counted. */
interface SetsTally {
  sets: number;
  pagesReported: number;
  zeroingViolations: number;
  stoppedBy: StressReport['stoppedBy'];
  injected: Record<StressFaultKind, number>;
  recorder: StressRecorder;
}

function newTally(devices: number): SetsTally {
  return { sets: 0, pagesReported: 0, zeroingViolations: 0, stoppedBy: null, injected: { 'report-error': 0, 'tracker-error': 0, 'slow-report': 0, 'die-in-report': 0 }, recorder: new StressRecorder(devices) };
}

/** Everything the steps after probeAndStart share. */
interface StressRun {
  o: FilledStressOptions;
  plan: StressPlan;
  rig: Rig;
  coordinator: Coordinator;
  pool: DmaPool;
  tracking: Tracking;
  dma: DmaTraffic;
  tally: SetsTally;
  /** performance.now() when the rig was up. */
  started: number;
}

/** o.queues lanes per device, each one burst in flight at a time, until the run stops them. */
function startLanes(run: StressRun): void {
  const { o, dma } = run;
  for (let t = 0; t < o.trackers; t++) {
    for (let q = 0; q < o.queues; q++) {
      dma.lanes.push(lane(run, t, q).catch((error: unknown) => { dma.laneError ??= error; }).finally(() => dma.burstDone.notify()));
    }
  }
}

/** Queue q of device t: bursts into the device's current log, each registered with the checker. */
async function lane(run: StressRun, t: number, q: number): Promise<void> {
  const { o, plan, dma, tracking: { checker } } = run;
  const device = run.rig.devices[t]!;
  const workload: WorkloadSpec = { kind: o.workload, pageBase: 0, pageCount: o.guestPages, writer: t, writers: o.trackers, stream: t * o.queues + q };
  let burstId = 0;
  while (!dma.stopping) {
    const target = ownLogged(device.burstTarget());
    if (target === null) {
      if (dma.retired.has(t) || device.dead) return; // a retired device's DMA ends with it
      await Promise.race([dma.setDone.wait(), dma.burstDone.wait()]);
      continue;
    }
    const spec = { tracker: t, workload, seed: plan.workloadSeed, burstId: burstId++, count: o.burstWrites };
    const id = checker.dispatch(spec);
    dma.busyLanes++;
    const ran = await run.pool.run({ guest: plan.guest, guestIova: GUEST_IOVA, logs: target.logs, control: target.control, workload, seed: plan.workloadSeed, burstId: spec.burstId, count: spec.count })
      .finally(() => { dma.busyLanes--; });
    const result = await relogRacingWrite(device, ran, workload, spec, run.rig.cells);
    dma.writes += result.logged;
    dma.writesByDevice[t]! += result.logged;
    dma.writesAttempted += result.attempted;
    countGranules(dma, target.logs, result);
    if (result.stale) dma.staleBursts++;
    dma.writesSinceSet += result.logged;
    checker.burstDone(id, result);
    dma.burstDone.notify();
  }
}

/**
 * A stale burst stopped after a write whose data is in guest memory but whose mark may have gone
 * to a log that a restart's STOP then dropped: the generation moved while it ran, and the store can
 * have landed after the restart's span mark (its thread preempted between its generation check
 * and its next write). A device's write is in its log, whichever log that is: the lane logs it
 * again through the device's DMA path (the log it has now, and its HWPT's), and only then holds it
 * to the no-loss rule, with `setsBegunAtEnd` read after that mark. With no log now (between STOP
 * and START, or the device gone) the restart's span mark, made later, covers it.
 */
export async function relogRacingWrite(
  device: { dmaWrite(iova: bigint, length: bigint): Promise<void> },
  result: BurstResult, workload: WorkloadSpec, spec: { seed: bigint; burstId: number; count: number }, cells: Int32Array,
): Promise<BurstResult> {
  if (!result.stale || result.attempted <= result.logged) return result;
  // The pages of the full-count burst (a ring burst k starts at k × count), of which it wrote a prefix.
  const pages = generatePages(workload, spec.seed, spec.burstId, spec.count);
  for (let i = result.logged; i < result.attempted; i++) {
    try {
      await device.dmaWrite(GUEST_IOVA + BigInt(pages[i]!) * PAGE, PAGE);
    } catch (error) {
      // Gone: the coordinator retires it and marks its span in every set from then on.
      if (!(error instanceof VfioError)) throw error;
    }
  }
  return { ...result, logged: result.attempted, setsBegunAtEnd: Atomics.load(cells, CONTROL_SETS_BEGUN) };
}

/**
 * A stress device writes only while its own log runs (between a restart's STOP and START, and
 * once retired, it waits or ends): the HWPT log it is attached to sees those writes too.
 */
function ownLogged<T extends { logs: LogTarget[] }>(target: T | null): T | null {
  return target !== null && target.logs.some((l) => l.kind === 'log') ? target : null;
}

/** Log bits a burst marked, every log summed, and the HWPT logs' on their own. */
function countGranules(dma: DmaTraffic, logs: readonly LogTarget[], result: BurstResult): void {
  result.granules.forEach((g, k) => {
    dma.granulesMarked += g;
    if (logs[k]!.kind === 'hwpt') dma.iommuGranulesMarked += g;
  });
}

interface Progress {
  /** One last report with the final figures (only when reporting at all). */
  final(): void;
  stop(): void;
}

/** o.onProgress every o.progressIntervalMs while the run goes on. */
function startProgress(run: StressRun): Progress {
  const { o, dma, tally, tracking: { checker } } = run;
  const snapshot = (): StressProgress => ({
    elapsedMs: performance.now() - run.started, reportSets: tally.sets, writes: dma.writes, lost: checker.totals.lost, imprecise: checker.totals.imprecise,
    faults: faultTotal(tally.injected),
  });
  const report = o.onProgress;
  let timer = report ? setInterval(() => report(snapshot()), o.progressIntervalMs) : undefined;
  const stop = () => { if (timer) { clearInterval(timer); timer = undefined; } };
  return { final: () => { if (timer) { stop(); report!(snapshot()); } }, stop };
}

/** Report sets until the budget (sets or seconds) is spent, a lane failed, or a set stopped the run. */
async function runSets(run: StressRun): Promise<void> {
  const { o, dma, tally } = run;
  const budgetLeft = () => (o.reportSets !== null ? tally.sets < o.reportSets : performance.now() - run.started < o.seconds! * 1000);
  while (budgetLeft() && dma.laneError === null) {
    while (dma.writesSinceSet < o.writesPerSet && dma.busyLanes > 0 && dma.laneError === null) await dma.burstDone.wait();
    if (dma.laneError !== null) break;
    dma.writesSinceSet = 0;
    if (!await runSet(run)) break;
    tally.sets++;
    dma.setDone.notify();
  }
}

/**
 * Set number tally.sets: faults drawn for every device, the window's REPORTs, the pages found
 * handed to the checker. False when the set stopped the run (a broken zeroing rule, or a REPORT
 * error under policy `fail`), with tally.stoppedBy saying why.
 */
async function runSet(run: StressRun): Promise<boolean> {
  const { o, plan, coordinator, tally, dma, tracking: { windows, bitmap, checker } } = run;
  const index = tally.sets;
  const { recorder } = tally;
  const now = () => performance.now() - run.started;
  for (const [t, device] of run.rig.devices.entries()) {
    const fault = drawFault(plan.faultPrng, o.faultRate, plan.faultKinds);
    if (fault === null || device.dead) continue;
    await device.injectFault(fault);
    tally.injected[fault.kind as StressFaultKind]++;
    recorder.event({ atMs: now(), set: index, device: plan.devices[t]!.name, type: 'fault', kind: fault.kind as StressFaultKind, errno: null });
  }
  const window = windows[index % windows.length]!;
  const reportWindow: ReportWindow = { iova: GUEST_IOVA + BigInt(window.from) * PAGE, length: BigInt(window.to - window.from) * PAGE, pageSize: PAGE };
  // Begun before the first REPORT is issued, completed after the last mark: bursts reading
  // these get conservative bounds (checker.ts).
  const cells = run.rig.cells;
  Atomics.store(cells, CONTROL_SETS_BEGUN, index + 1);
  let outcome;
  const issued = performance.now();
  try {
    outcome = await coordinator.reportSet(reportWindow, bitmap);
  } catch (error) {
    if (error instanceof DmalogError && error.code === 'DMALOG_ZEROING_RULE') {
      tally.zeroingViolations++;
      tally.stoppedBy = { set: index, errno: 'DMALOG_ZEROING_RULE', tracker: null };
      recorder.event({ atMs: now(), set: index, device: 'all', type: 'stop', kind: 'stopped', errno: 'DMALOG_ZEROING_RULE' });
      return false;
    }
    if (error instanceof ReportSetError) {
      tally.stoppedBy = { set: index, errno: error.errno, tracker: error.tracker };
      recorder.event({ atMs: now(), set: index, device: error.tracker, type: 'stop', kind: 'stopped', errno: error.errno });
      return false;
    }
    throw error;
  }
  recorder.latency(performance.now() - issued);
  Atomics.store(cells, CONTROL_SETS_COMPLETED, index + 1);
  const pages: number[] = [];
  tally.pagesReported += bitmap.consume((bit) => pages.push(window.from + bit));
  bitmap.zero();
  const marked = outcome.outcomes.flatMap((x) => x.marked.map((r) => ({
    from: Number((r.iova - GUEST_IOVA) / PAGE),
    to: Number(ceilDiv(r.iova + r.length - GUEST_IOVA, PAGE)),
  })));
  checker.setDone(index, { pages: Int32Array.from(pages), marked });
  // Outcomes are in the coordinator's order: the IOMMU trackers (never retired: no faults) first.
  const firstDevice = run.rig.extraTrackers.length;
  outcome.outcomes.forEach((x, i) => {
    const t = i - firstDevice;
    if (t < 0) return;
    // A retired tracker stays 'retired' in every later set: its event is the set that retired it.
    if (x.errno !== null || (x.recovery === 'retired' && !dma.retired.has(t))) {
      recorder.event({ atMs: now(), set: index, device: plan.devices[t]!.name, type: 'recovery', kind: x.recovery, errno: x.errno });
    }
    if (x.recovery === 'retired') dma.retired.add(t);
  });
  recorder.sample(now(), dma.writesByDevice);
  return true;
}

interface Checked {
  totals: CheckerTotals;
  elapsedMs: number;
}

/** Drain the lanes (a lane's failure is the run's), take the checker's verdict, then STOP every device. */
async function stopAndCheck(run: StressRun, progress: Progress): Promise<Checked> {
  const { dma } = run;
  dma.stopping = true;
  dma.setDone.notify();
  await Promise.all(dma.lanes);
  if (dma.laneError !== null) throw dma.laneError;
  const totals = run.tracking.checker.finish();
  const elapsedMs = performance.now() - run.started;
  progress.final();
  await run.coordinator.stopAll();
  return { totals, elapsedMs };
}

function summarise(run: StressRun, { totals, elapsedMs }: Checked): StressReport {
  const { o, plan, dma, tally, coordinator, tracking } = run;
  const { onProgress: _, seed: __, ...shown } = o;
  return {
    seed: o.seed,
    options: shown,
    devices: plan.devices.map((d, i) => ({ name: d.name, profile: d.profile, pageSize: tracking.granulePages[i]! * Number(PAGE) })),
    iommu: iommuSummary(plan.iommu, dma),
    writes: dma.writes,
    writesAttempted: dma.writesAttempted,
    granulesMarked: dma.granulesMarked,
    bursts: tracking.checker.dispatched,
    staleBursts: dma.staleBursts,
    reportSets: tally.sets,
    pagesReported: tally.pagesReported,
    lost: totals.lost,
    imprecise: totals.imprecise,
    markedOnly: totals.markedOnly,
    zeroingViolations: tally.zeroingViolations,
    faults: {
      injected: tally.injected,
      total: faultTotal(tally.injected),
      reportErrors: coordinator.stats.reportErrors,
      restarts: coordinator.stats.restarts,
      retired: coordinator.stats.retired,
    },
    stoppedBy: tally.stoppedBy,
    elapsedMs,
    writesPerSecond: dma.writes / (elapsedMs / 1000),
    setsPerSecond: tally.sets / (elapsedMs / 1000),
    checker: totals,
    reportSetLatency: tally.recorder.summary(),
    history: tally.recorder.history(elapsedMs, dma.writesByDevice),
    ok: totals.lost === 0 && totals.imprecise === 0 && tally.zeroingViolations === 0,
  };
}

function iommuSummary(iommu: StressIommu, dma: DmaTraffic): StressReport['iommu'] {
  const pages = (huge: boolean) => iommu.mappings.filter((m) => m.huge === huge).reduce((n, m) => n + m.to - m.from, 0);
  return { trackers: iommu.trackers, hugePages: pages(true), smallPages: pages(false), granulesMarked: dma.iommuGranulesMarked };
}

function faultTotal(injected: Record<StressFaultKind, number>): number {
  return Object.values(injected).reduce((a, b) => a + b, 0);
}
