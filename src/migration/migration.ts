// Pre-copy live migration of a guest whose RAM is dirtied by vCPUs and device DMA, following
// QEMU's loop (migration_iteration_run) on a virtual clock of 100 ms rate windows; the decisions
// are in precopy-rule.ts and docs/migration-loop.md walks through them:
//
//   PROBE every device → container choice (device logging if all support it; else every section
//   is dirty on every sync, only with enable-migration=on) → START the CPU log and every device
//   with QEMU's ranges → sync #1 at t = 0, every RAM page dirty (the bulk stage) → at every
//   decision point (a window's start, or the bitmap emptying within it): when the estimate
//   (unsent dirty RAM + device state) is ≤ the threshold or the bitmap is empty, sync and switch
//   over if the exact pending is ≤ the threshold; else copy until the window's budget is spent or
//   the bitmap empties, the writers running for that stretch of simulated time → switchover: the
//   guest stops at once, final sync, copy the rest and the device state at link speed → STOP →
//   compare destination with source.
//
// Deterministic: the writes of a stretch run after its copy, and land before the sync that ends
// it, except those of its last half segment, which race that sync and land right after its
// REPORTs. The writer threads run in parallel with each other, never with a copy or a REPORT,
// so what each sync sees follows from the seed and the virtual clock alone.
import { errnoOf, type Coordinator } from '../coordinator/coordinator.js';
import type { DirtyTracker } from '../trackers/tracker.js';
import type { DmaPool } from '../dma/pool.js';
import type { Host } from '../host/host.js';
import { createRig, type Rig } from '../rig/rig.js';
import type { DeviceTracker } from '../trackers/device-tracker.js';
import type { IommuTracker } from '../trackers/iommu-tracker.js';
import { logLevelFromEnv } from '../host/options.js';
import { ReportSetError, StartError, VfioError } from '../errors.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { createPrng } from '../util/prng.js';
import { AutoConverge } from './auto-converge.js';
import { CpuDirtyTracker } from '../trackers/cpu-tracker.js';
import { DirtySync, type SyncOutcome } from './dirty-sync.js';
import { Guest, type BurstWrites, type WriterSpec } from './guest.js';
import { createGuestMemory, type GuestMemory } from './guest-memory.js';
import { checkFootprint } from './footprint.js';
import { buildMemoryMap, hugeSplit, iovaToRamOffset, trackingRanges } from './memory-map.js';
import { fillMigrationOptions, type FilledMigrationOptions, type MigrationOptions } from './options.js';
import { afterSync, RateWindows, syncDue, thresholdIn, WINDOW_MS, type AfterSync, type Segment } from './precopy-rule.js';
import { RamDirtyBitmap } from './ram-bitmap.js';
import { RunLog } from './run-log.js';
import type { Failure, IterationStats, MigrationResult, NotConvergedCode, TimelinePoint } from './result.js';

export { WINDOW_MS } from './precopy-rule.js';

/**
 * What a run tells while it runs: the bulk stage's first pass over RAM (after every window, until
 * it reaches the end of RAM; syncs may come in between), every sync, and the final memory check
 * (every 64 chunks of 1 MiB compared), each with how far it got.
 */
export type MigrationProgress =
  | { kind: 'first-pass'; atMs: number; donePages: number; totalPages: number }
  | { kind: 'sync'; stats: IterationStats }
  | { kind: 'check'; donePages: number; totalPages: number };

export interface MigrationHooks {
  /** Called after every sync (the final one included). */
  onIteration?: (stats: IterationStats) => void;
  /** Called with every progress event (syncs included, after onIteration). */
  onProgress?: (event: MigrationProgress) => void;
  /** Called once the run is over, before its trackers are closed (tests inspect device state). */
  beforeClose?: (host: Host) => Promise<void> | void;
}

/**
 * Runs one simulated pre-copy live migration (docs/migration-loop.md) and checks the destination
 * RAM against the source; a failed or blocked migration resolves with `status` saying so.
 */
export async function migrate(options: MigrationOptions = {}, hooks: MigrationHooks = {}): Promise<MigrationResult> {
  const o = fillMigrationOptions(options);
  // Before anything is allocated: a guest that cannot fit is refused, not crashed on.
  checkFootprint(o);
  const prng = createPrng(o.seed);
  const fillSeed = prng.nextBigU64();
  const writeSeed = prng.nextBigU64();
  const pageSize = o.hostPageSize;
  const map = buildMemoryMap({ ramBytes: o.ram, pageSize, maxRamBelow4g: o.maxRamBelow4g, bars: o.devices.map((d) => [d.name, d.barBytes]) });
  const largestSection = map.ram.reduce((m, s) => (s.length > m ? s.length : m), 0n);
  const rig = await createRig({
    host: {
      // Room for the report bitmap and each device's ioctl scratch (up to a page of ranges each).
      userMemoryBytes: Number(bitmapBytes(largestSection / BigInt(pageSize))) + (o.devices.length + 1) * (pageSize + 8192) + (64 << 10),
      hostPageSize: pageSize,
      devices: o.devices.map((d) => ({ name: d.name, profile: d.profile, minPageSize: d.minPageSize, maxPageSize: d.maxPageSize, maxRanges: d.maxRanges, maxAddressSpaceBits: d.maxAddressSpaceBits, iommuDirty: d.iommuDirty ?? true })),
      logLevel: logLevelFromEnv('silent'),
    },
    dma: { threads: o.writerThreads },
    // The container's choice of trackers follows PROBE (Run.execute).
    coordinator: { policy: o.policy, trackers: 'after-probe' },
  });
  let run: Run | null = null;
  try {
    run = new Run(o, rig, map, fillSeed, writeSeed, hooks);
    const result = await run.execute();
    result.faultsNotInjected = o.faults.filter((f) => !run!.injected.has(f));
    await hooks.beforeClose?.(rig.host);
    return result;
  } finally {
    await run?.close();
    await rig.close();
  }
}

/** A stretch of copying between two syncs (precopy-rule.ts's segments, one after another). */
interface Stretch {
  /** Its length: the guest writes this long. */
  ms: number;
  /** The writes of its last half segment, which race the sync at its end: they land after its REPORTs. */
  racingMs: number;
  /** It ended at a window's end (a timeline point follows the sync). */
  endsWindow: boolean;
  /** It reached max-time at a window's start. */
  timeUp: boolean;
}

class Run {
  readonly o: FilledMigrationOptions;
  readonly rig: Rig;
  readonly host: Host;
  readonly map: ReturnType<typeof buildMemoryMap>;
  readonly hooks: MigrationHooks;
  readonly guest: Guest;
  readonly memory: GuestMemory;
  readonly cpu: CpuDirtyTracker;
  /** The devices as the coordinator and the DMA engines see them (log generations across restarts). */
  readonly devices: DeviceTracker[];
  readonly ram: RamDirtyBitmap;
  readonly throttle: AutoConverge;
  readonly result: MigrationResult;
  readonly threshold: number;
  readonly stateBytes: number;
  readonly pool: DmaPool;
  coordinator: Coordinator | null = null;
  readonly log: RunLog;
  /** Windows of writes not settled yet: close() waits for them before ending the pool. */
  readonly #inflight = new Set<Promise<BurstWrites>>();
  /** The requested faults injected so far (a run may end before a fault's sync). */
  readonly injected = new Set<FilledMigrationOptions['faults'][number]>();
  timeMs = 0;
  sentRam = 0;
  sentSinceSync = 0;
  cursor = 0;
  clock: RateWindows | null = null;
  #bursts = 0;
  #firstPassOver = false;

  constructor(o: FilledMigrationOptions, rig: Rig, map: Run['map'], fillSeed: bigint, writeSeed: bigint, hooks: MigrationHooks) {
    this.o = o;
    this.rig = rig;
    this.host = rig.host;
    this.pool = rig.pool!;
    this.map = map;
    this.hooks = hooks;
    this.log = new RunLog(rig.host);
    const writers: WriterSpec[] = [
      ...Array.from({ length: o.vcpus }, (_, i): WriterSpec => ({ name: `vcpu${i}`, kind: 'vcpu', workload: o.vcpuWorkload })),
      ...o.devices.map((d): WriterSpec => ({ name: d.name, kind: 'device', workload: d.workload })),
    ];
    this.memory = createGuestMemory(o.memory, map.ramBytes, map.pageSize);
    this.memory.fill(fillSeed);
    this.guest = new Guest(map, this.memory, writers, writeSeed);
    this.cpu = new CpuDirtyTracker({ userMemory: this.host.memory, hostPageSize: o.hostPageSize });
    this.devices = rig.devices;
    this.ram = new RamDirtyBitmap(map.ramBytes, map.pageSize);
    this.throttle = new AutoConverge(o.autoConverge);
    this.threshold = Math.floor(o.bandwidth * o.downtimeLimit / 1000);
    this.stateBytes = o.devices.reduce((n, d) => n + d.stateBytes, 0);
    this.result = {
      status: 'completed',
      seed: o.seed.toString(),
      scenario: {
        ramBytes: o.ram, pageSize: map.pageSize, memory: o.memory, vcpus: o.vcpus,
        devices: o.devices.map((d) => ({ name: d.name, profile: d.profile, logging: false, workload: describeWorkload(d.workload) })),
        bandwidth: o.bandwidth, downtimeLimitMs: o.downtimeLimit, linkSpeed: o.linkSpeed,
        autoConverge: o.autoConverge, enableMigration: o.enableMigration, iommu: o.iommu, ramBacking: o.ramBacking, policy: o.policy,
      },
      tracking: 'none', ranges: [], pageSizes: {}, trackers: [],
      totalTimeMs: 0, downtimeMs: 0, iterations: 0, windows: 0,
      bytesSent: { ram: 0, deviceState: 0, total: 0 },
      converged: false, notConverged: null, throttlePct: 0,
      iterationStats: [], timeline: [],
      recovery: { reportErrors: 0, restarts: 0, retired: 0 },
      failure: null, check: null, droppedPage: null, unloggedWrites: 0, faultsNotInjected: [],
    };
  }

  get pageSize(): number {
    return this.map.pageSize;
  }

  async execute(): Promise<MigrationResult> {
    const r = this.result;
    // PROBE: the container uses device logging only if every device supports it.
    const supported = await Promise.all(this.devices.map((d) => d.probe()));
    supported.forEach((ok, i) => { r.scenario.devices[i]!.logging = ok; });
    const unsupported = this.devices.filter((_, i) => !supported[i]);
    // The container's choice (SPEC §8): device logging when every device can; else the IOMMU's
    // dirty tracking when its HWPT has the capability; else every section dirty on every sync.
    const deviceLogging = unsupported.length === 0 && this.o.iommu !== 'on';
    const iommu = deviceLogging || this.o.iommu === 'off' ? null : await this.#iommuTracker();
    if (!deviceLogging && iommu === null && unsupported.length > 0 && this.o.enableMigration === 'auto') {
      const names = unsupported.map((d) => d.name).join(', ');
      return this.#fail({
        code: 'DMALOG_MIGRATION_BLOCKED', stage: 'probe', errno: 'ENOTTY', tracker: unsupported[0]!.name,
        message: `migration blocked: ${names} cannot log DMA (PROBE: ENOTTY) and there is no IOMMU dirty tracking; with enable-migration=on every RAM page would count dirty on every sync`,
      });
    }
    r.tracking = deviceLogging ? 'device-logging' : iommu ? 'iommu' : 'all-dirty';
    const trackers: DirtyTracker[] = [this.cpu, ...(deviceLogging ? this.devices : []), ...(iommu ? [iommu] : [])];
    r.trackers = trackers.map((t) => t.name);
    this.coordinator = this.rig.coordinate(trackers);
    const ranges = trackingRanges(this.map);
    r.ranges = ranges.map((x) => ({ iova: hex(x.iova), length: hex(x.length) }));
    try {
      const sizes = await this.coordinator.startAll({ ranges, pageSize: BigInt(this.pageSize) });
      for (const [name, size] of sizes) r.pageSizes[name] = Number(size);
    } catch (error) {
      if (!(error instanceof StartError)) throw error;
      const rolledBack = r.trackers.slice(0, error.rolledBack);
      return this.#fail({
        code: 'DMALOG_MIGRATION_FAILED', stage: 'start', errno: error.errno, tracker: error.tracker, rolledBack,
        message: `START failed on ${error.tracker} (${error.errno}); stopped again: ${rolledBack.join(', ') || 'none'}`,
      });
    }
    const sync = new DirtySync(this.coordinator, this.map, this.ram, r.tracking === 'all-dirty');
    const clock = new RateWindows(this.o.bandwidth, this.pageSize);
    this.clock = clock;
    this.ram.markAll(); // the bulk stage: every page is sent once
    r.timeline.push(this.#point());
    // Sync 1 at t = 0 (QEMU's ram_save_setup), every page already dirty; then, at every decision
    // point where a sync is due: sync, let the writes that raced it land, decide; else copy a
    // stretch and run its writes (docs/migration-loop.md, "Determinism").
    let decision: AfterSync = 'continue';
    let timeUp = false;
    /** The stretch before this sync: the writes racing the sync, and whether it ended a window. */
    let before: Stretch | null = null;
    for (;;) {
      const outcome = await this.#sync(sync, 'precopy');
      if (outcome === null) return r;
      // Decided on the exact pending right after the REPORTs, the figure the stats record.
      const exact = this.ram.dirtyPages * this.pageSize + this.stateBytes;
      decision = afterSync(exact, thresholdIn(clock.index, this.threshold), r.iterations, this.o.maxIterations, timeUp);
      if (before) {
        // The guest wrote on during the sync: those writes land after its REPORTs, for the next sync.
        await this.#write(before.racingMs);
        if (before.endsWindow) r.timeline.push(this.#point());
      }
      // The guest stops at once at a switchover: no stretch starts after it.
      if (decision !== 'continue') break;
      before = this.#copyStretch(clock);
      if (before.timeUp) timeUp = true;
      await this.#write(before.ms - before.racingMs);
    }
    this.timeMs = clock.nowMs;
    r.windows = Math.max(1, Math.ceil(this.timeMs / WINDOW_MS));
    let capped: string | null = null;
    if (decision === 'switchover') r.converged = true;
    else capped = decision === 'iteration-cap' ? `iteration cap ${this.o.maxIterations}` : `time cap ${this.o.maxTime} ms`;
    if (r.timeline.at(-1)!.atMs !== round(this.timeMs)) r.timeline.push(this.#point());
    // Stop-and-copy: the guest is stopped (every write has landed).
    if (this.o.dropDirtyBit) {
      // The first logged page whose loss leaves the destination stale: not dirty already (it
      // would be sent anyway) and written since its last copy.
      this.cpu.dropNextBit((iova) => {
        const offset = iovaToRamOffset(this.map, iova);
        if (offset < 0) return false;
        const page = offset / this.pageSize;
        return !this.ram.isDirty(page) && this.memory.stale(page);
      });
    }
    if (await this.#sync(sync, 'final') === null) return r;
    r.droppedPage = this.cpu.dropped === null ? null : hex(this.cpu.dropped);
    r.timeline.push(this.#point());
    const remaining = this.ram.dirtyPages * this.pageSize;
    this.#send(Infinity);
    r.bytesSent = { ram: this.sentRam, deviceState: this.stateBytes, total: this.sentRam + this.stateBytes };
    r.downtimeMs = round((remaining + this.stateBytes) / this.o.linkSpeed * 1000);
    this.timeMs += r.downtimeMs;
    r.totalTimeMs = round(this.timeMs);
    r.timeline.push(this.#point(this.stateBytes));
    this.log.switchedOver(r);
    await this.coordinator.stopAll();
    if (!r.converged) r.notConverged = this.#whyNotConverged(capped ?? 'cap');
    this.#recoveryStats();
    const onProgress = this.hooks.onProgress;
    r.check = this.memory.compare(onProgress && ((donePages, totalPages) => onProgress({ kind: 'check', donePages, totalPages })));
    this.log.checked(r);
    return r;
  }

  /**
   * Copy from now until the next decision point where a sync is due: segment after segment,
   * each until the window's budget is spent or the bitmap empties. Between syncs only the copy
   * changes the bitmap (writes reach it through the next sync), so where the stretch ends
   * follows from the bitmap and the clock alone.
   */
  #copyStretch(clock: RateWindows): Stretch {
    let ms = 0;
    let last: Segment | null = null;
    let timeUp = false;
    for (;;) {
      const plan = clock.plan(this.ram.dirtyPages);
      this.#send(plan.pages);
      ms += plan.ms;
      last = plan;
      clock.advance(plan, this.ram.dirtyPages);
      this.timeMs = clock.nowMs;
      if (plan.endsWindow) {
        this.#firstPassProgress();
        // Time running out is checked every window (a pass at a low bandwidth can outlast
        // max-time many times over): it forces a sync, and that sync the switchover.
        if (clock.startMs >= this.o.maxTime) { timeUp = true; break; }
      }
      if (syncDue(this.ram.dirtyPages * this.pageSize, this.stateBytes, thresholdIn(clock.index, this.threshold))) break;
      // The window's end where no sync follows has its timeline point now; one before a sync gets it after.
      if (plan.endsWindow) this.result.timeline.push(this.#point());
    }
    this.#firstPassProgress();
    // The writes of the last half segment race the sync at the stretch's end (docs/migration-loop.md).
    return { ms, racingMs: last.ms / 2, endsWindow: last.endsWindow, timeUp };
  }

  /**
   * While the bulk stage's first pass over RAM goes on: how far it got. Everything ahead of the
   * cursor is still dirty from the bulk stage, so the cursor is the pages passed over; the pass
   * is over once it reaches the end of RAM (the next take wraps).
   */
  #firstPassProgress(): void {
    if (this.#firstPassOver) return;
    const done = Math.min(this.cursor, this.ram.pages);
    this.#firstPassOver = done === this.ram.pages;
    this.hooks.onProgress?.({ kind: 'first-pass', atMs: round(this.timeMs), donePages: done, totalPages: this.ram.pages });
  }

  /** Run `ms` of the guest's writes as one burst of every writer, and let them land. */
  async #write(ms: number): Promise<void> {
    const w = await this.#runWriters(this.#bursts++, ms);
    // Pages whose mark is in doubt (a restart raced them) count dirty. Writes never overlap a
    // sync here, so none is expected; the rule stays for any caller that overlaps them.
    for (const page of w.unlogged) this.ram.markRange(page * this.pageSize, this.pageSize);
    this.result.unloggedWrites += w.unlogged.length;
  }

  /**
   * IOMMU dirty tracking for the container, or null when its IOMMUs lack the capability: guest
   * RAM mapped into one IOAS, one HWPT with the capability, every device attached. START of the
   * tracker enables it. The IOPTEs follow the host's backing of RAM, as iommufd maps the largest
   * page the pinned memory allows: 4 KiB for `small`, 2 MiB where a section allows for `huge`.
   */
  async #iommuTracker(): Promise<IommuTracker | null> {
    const iommufd = await this.host.openIommufd();
    const ids = await Promise.all(this.devices.map((d) => iommufd.bind(d.fd)));
    const capable = await Promise.all(ids.map((id) => iommufd.hwInfo(id)));
    if (!capable.every((c) => c.dirtyTracking)) {
      await iommufd.close();
      return null;
    }
    const ioas = await iommufd.allocIoas();
    for (const section of this.map.ram) {
      const parts = this.o.ramBacking === 'huge' ? hugeSplit(section.iova, section.length) : [{ iova: section.iova, length: section.length, huge: false }];
      for (const m of parts) await iommufd.map(ioas, m.iova, m.length, { huge: m.huge });
    }
    const hwpt = await iommufd.allocHwpt(ids[0]!, ioas, { dirtyTracking: true });
    for (const id of ids) await iommufd.attach(id, hwpt);
    return iommufd.tracker(hwpt, 'iommu');
  }

  /** Start `ms` of guest writes as burst `burst` of every writer; resolves when they are done. */
  #runWriters(burst: number, ms: number): Promise<BurstWrites> {
    const vcpus = this.o.vcpus;
    const cpuLog = this.cpu.logDescriptor();
    const cpuTarget = cpuLog ? { logs: [{ kind: 'log' as const, log: cpuLog }] } : null;
    const deviceTargets = this.devices.map((d) => d.burstTarget());
    const writes = this.guest.runBursts(this.pool, burst, ms / 1000,
      (w) => (w < vcpus ? cpuTarget : deviceTargets[w - vcpus]!),
      (w) => (w < vcpus ? this.throttle.vcpuSpeed : 1));
    // Tracked (and thereby handled) until settled: a run that throws mid-stretch leaves this
    // promise unawaited, and the pool's close must not turn its bursts into unhandled rejections.
    this.#inflight.add(writes);
    const settled = () => { this.#inflight.delete(writes); };
    writes.then(settled, settled);
    return writes;
  }

  /** One sync with its bookkeeping; null when it failed the migration (the result says why). */
  async #sync(sync: DirtySync, phase: IterationStats['phase']): Promise<SyncOutcome | null> {
    const r = this.result;
    const iteration = r.iterations + 1;
    this.log.beginSync(iteration, round(this.timeMs));
    for (const f of this.o.faults) {
      if (f.iteration !== iteration) continue;
      await this.devices.find((d) => d.name === f.device)!.injectFault({ kind: f.kind });
      this.injected.add(f);
    }
    let outcome: SyncOutcome;
    try {
      outcome = await sync.run();
    } catch (error) {
      if (!(error instanceof VfioError)) throw error;
      // A restart that failed (ENODEV, ETIMEDOUT) abandons the set without naming a tracker.
      const culprit = error instanceof ReportSetError ? error.tracker : 'unknown';
      this.#recoveryStats();
      this.#fail({
        code: 'DMALOG_MIGRATION_FAILED', stage: 'sync', errno: errnoOf(error), tracker: culprit,
        message: `REPORT failed on ${culprit} (${error.errno}) in sync ${iteration}; logging stopped (policy fail)`,
      });
      return null;
    }
    r.iterations = iteration;
    const stats: IterationStats = {
      iteration, phase, atMs: round(this.timeMs), sentBytes: this.sentSinceSync,
      reported: outcome.reported, freshPages: outcome.freshPages,
      pendingBytes: this.ram.dirtyPages * this.pageSize + this.stateBytes, thresholdBytes: phase === 'final' ? this.threshold : thresholdIn(this.clock?.index ?? 0, this.threshold),
      throttlePct: 0, recoveries: outcome.recoveries,
    };
    // QEMU skips the throttle check on the first sync: nothing was sent yet to compare with.
    if (phase === 'precopy' && iteration > 1) this.throttle.afterSync(outcome.freshPages * this.pageSize, this.sentSinceSync);
    stats.throttlePct = this.throttle.throttlePct;
    r.throttlePct = this.throttle.throttlePct;
    this.sentSinceSync = 0;
    r.iterationStats.push(stats);
    this.log.synced(stats);
    this.hooks.onIteration?.(stats);
    this.hooks.onProgress?.({ kind: 'sync', stats });
    return outcome;
  }

  /** Send up to `pages` dirty pages from the cursor on (bits cleared first, then the pages copied, a run at a time). */
  #send(pages: number): void {
    const taken = this.ram.take(this.cursor, pages, (first, count) => {
      this.memory.send(first, count);
      this.cursor = first + count;
    });
    this.sentRam += taken * this.pageSize;
    this.sentSinceSync += taken * this.pageSize;
  }

  #point(stateSent = 0): TimelinePoint {
    return { atMs: round(this.timeMs), sentBytes: this.sentRam + stateSent, dirtyBytes: this.ram.dirtyPages * this.pageSize };
  }

  #whyNotConverged(cap: string): { code: NotConvergedCode; message: string } {
    const r = this.result;
    const MiBps = (bytes: number) => `${(bytes / (1 << 20)).toFixed(1)} MiB`;
    if (r.tracking === 'all-dirty') {
      return { code: 'all-dirty', message: `${cap} reached: without device dirty tracking every sync marks all ${MiBps(this.map.ramBytes)} of RAM dirty` };
    }
    const last = [...r.iterationStats].reverse().find((s) => s.phase === 'precopy' && s.iteration > 1) ?? r.iterationStats[0]!;
    const prev = r.iterationStats[r.iterationStats.indexOf(last) - 1];
    const seconds = Math.max(WINDOW_MS, last.atMs - (prev?.atMs ?? 0)) / 1000;
    const vcpuPages = last.reported[this.cpu.name] ?? 0;
    // Device DMA is what every tracker but the vCPUs' reported: the devices' logs, or the IOMMU's.
    const devicePages = r.trackers.filter((n) => n !== this.cpu.name).reduce((n, name) => n + (last.reported[name] ?? 0), 0);
    const deviceRate = devicePages * this.pageSize / seconds;
    const vcpuRate = vcpuPages * this.pageSize / seconds;
    const pending = `pending ${MiBps(last.pendingBytes)} vs threshold ${MiBps(this.threshold)}`;
    // State the devices send at switchover, above the threshold by itself: no writer is to blame
    // and no dirty rate (0 MiB/s, say) explains it.
    if (this.stateBytes > this.threshold) {
      return { code: 'pending-above-threshold', message: `${cap} reached: the devices' state alone (${MiBps(this.stateBytes)}) is above the threshold (${pending})` };
    }
    if (devicePages * this.pageSize + this.stateBytes > this.threshold && devicePages >= vcpuPages) {
      return { code: 'device-dirty-rate', message: `${cap} reached: device DMA dirties ${MiBps(deviceRate)}/s against a bandwidth of ${MiBps(this.o.bandwidth)}/s (${pending}); auto-converge ${this.o.autoConverge ? `throttles vCPUs only (at ${r.throttlePct}%)` : 'is off and would throttle vCPUs only'}` };
    }
    if (vcpuPages * this.pageSize > this.threshold) {
      return { code: 'vcpu-dirty-rate', message: `${cap} reached: vCPUs dirty ${MiBps(vcpuRate)}/s against a bandwidth of ${MiBps(this.o.bandwidth)}/s (${pending}); ${this.o.autoConverge ? `auto-converge throttle at ${r.throttlePct}%` : 'auto-converge is off'}` };
    }
    return { code: 'pending-above-threshold', message: `${cap} reached: ${pending}` };
  }

  #recoveryStats(): void {
    const s = this.coordinator?.stats;
    if (s) this.result.recovery = { reportErrors: s.reportErrors, restarts: s.restarts, retired: s.retired };
  }

  #fail(failure: Failure): MigrationResult {
    const r = this.result;
    r.status = failure.code === 'DMALOG_MIGRATION_BLOCKED' ? 'blocked' : 'failed';
    r.failure = failure;
    r.totalTimeMs = round(this.timeMs);
    this.log.failed(failure);
    r.bytesSent = { ram: this.sentRam, deviceState: 0, total: this.sentRam };
    return r;
  }

  /** Wait for the writes in flight; the rig ends the pool, the coordinator and the host after. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#inflight]);
  }
}

export function describeWorkload(w: { kind: string; rate: number }): string {
  return `${w.kind} ${w.rate} pages/s`;
}

function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

