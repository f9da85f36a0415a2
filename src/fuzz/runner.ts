// The fuzz run: a few lanes (one fuzzed device each, profiles in turn, then the iommufd lanes)
// driven concurrently, one seed for the whole run. Call k goes to lane k % (lanes + iommuLanes) and draws everything it does (DMA before
// it, a state change, the call itself) from its own PRNG seeded by (seed, k), so a lane's history
// depends only on the seed: `--seed S --calls K` replays every call below K exactly, and the
// failing call is reported with the K that reproduces it. Thread interleavings are not replayed,
// but no lane shares anything a call can reach with another.
import { PROFILE_NAMES, type ProfileName } from '../device/profiles.js';
import type { Host } from '../host/host.js';
import { FuzzFailure } from '../errors.js';
import { createPrng } from '../util/prng.js';
import { describeCall } from './call.js';
import { chance, pick, prngDraw, type Draw } from './draw.js';
import { generateCall } from './generate.js';
import { IommuFuzzLane, type IommuLaneKind } from './iommu-lane.js';
import { generateIommufdCall } from './iommu-generate.js';
import { FuzzLane, createMirrorHost, type FailureKind, type Outcome } from './lane.js';
import { FUZZ_DEFAULTS, fillFuzzOptions, type FuzzOptions } from './options.js';

export { FUZZ_DEFAULTS, type FuzzOptions } from './options.js';

export type Counts = Partial<Record<Outcome, number>>;

export interface FuzzFailureReport {
  /** FuzzFailure's code: what the report stands for, the same in every failure. */
  code: FuzzFailure['code'];
  kind: FailureKind;
  detail: string;
  /** Index of the call that failed; `--calls callIndex + 1` with the same seed replays it. */
  callIndex: number;
  lane: number;
  /** The lane's device profile, or which kind of iommufd lane it is. */
  profile: ProfileName | IommuLaneKind;
  call: string | null;
}

export interface FuzzReport {
  /** The run's 64-bit seed in decimal (a string, as in migrate's and stress's JSON: it may pass 2^53). */
  seed: string;
  /** Fuzzed ioctls made (device and iommufd lanes). */
  calls: number;
  /** Device lanes. */
  lanes: number;
  iommuLanes: number;
  /** Outcomes of every fuzzed call. */
  counts: Counts;
  /** Outcomes of the device lanes' calls, by profile. */
  byProfile: Partial<Record<ProfileName, Counts>>;
  /** Outcomes of the iommufd lanes' calls, by kind of lane. */
  byIommu: Partial<Record<IommuLaneKind, Counts>>;
  /**
   * Outcomes by profile (or kind of iommufd lane) and the state the call was made in: a device's
   * logging state (idle, logging, error), an iommufd lane's dirty tracking (tracking, not tracking).
   */
  byState: Partial<Record<ProfileName | IommuLaneKind, Partial<Record<string, Counts>>>>;
  /** DMA writes and reads made alongside (both devices of a lane). */
  dma: Counts;
  stateChanges: number;
  verifies: number;
  rounds: number;
  rssBaselineBytes: number;
  rssPeakDeltaBytes: number;
  elapsedMs: number;
  failure: FuzzFailureReport | null;
}

/** Lane-local schedule, in lane calls. */
const CANARY_REFRESH_EVERY = 512;
const ROUND_EVERY = 512;
const RSS_SAMPLE_EVERY = 256;
/** Share of calls before which the lane moves its device to a random state (idle, logging, sticky error). */
const STATE_CHANGE_PERCENT = 2;
/** Share of failed calls while logging after which device and mirror logs are compared in full. */
const VERIFY_PERCENT = 8;
/** Share of calls that changed nothing whose device status is read back right away (the rest: at the next check). */
const STATUS_CHECK_PERCENT = 25;
/**
 * The resident-set baseline is taken after this many calls: by then the JS heaps of the main and
 * tracker threads have grown to their working size (~100 MiB over 12 threads), which is not what
 * the budget is about. What it is about: a length of 2^64 - 1 must never cost memory in proportion.
 */
const RSS_WARMUP_CALLS = 4096;

/** The PRNG stream of call k of run `seed`. */
export function callDraw(seed: bigint, k: number): Draw {
  return prngDraw(createPrng(BigInt.asUintN(64, seed * 0x9e3779b97f4a7c15n + BigInt(k))));
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const o = fillFuzzOptions(options);
  const seed = o.seed;
  const allLanes = o.lanes + o.iommuLanes;
  const started = performance.now();
  const profiles = Array.from({ length: o.lanes }, (_, i) => PROFILE_NAMES[i % PROFILE_NAMES.length]!);
  const laneOptions = { memoryBytes: o.memoryBytes, callTimeoutMs: o.callTimeoutMs, hostCallTimeoutMs: o.hostCallTimeoutMs, maxLogBytes: o.maxLogBytes, ...(o.createHost && { createHost: o.createHost }) };
  const report: FuzzReport = {
    seed: seed.toString(), calls: 0, lanes: o.lanes, iommuLanes: o.iommuLanes, counts: {}, byProfile: {}, byIommu: {}, byState: {}, dma: {}, stateChanges: 0, verifies: 0, rounds: 0,
    rssBaselineBytes: 0, rssPeakDeltaBytes: 0, elapsedMs: 0, failure: null,
  };
  let mirrorHost: Host | null = null;
  const lanes: FuzzLane[] = [];
  const iommuLanes = Array.from({ length: o.iommuLanes }, (_, i) => new IommuFuzzLane(o.lanes + i, {
    kind: i % 2 === 0 ? 'iommufd-dirty' : 'iommufd-plain',
    memoryBytes: o.memoryBytes,
    contract: Math.floor(i / 2) % 2 === 0 ? 'atomic' : 'plain',
    ioctl: o.iommufdIoctl,
  }));
  const failures: FuzzFailureReport[] = [];
  let progress: NodeJS.Timeout | undefined;
  try {
    mirrorHost = await createMirrorHost(profiles, laneOptions);
    for (let i = 0; i < o.lanes; i++) {
      const contract = Math.floor(i / PROFILE_NAMES.length) % 2 === 0 ? 'atomic' : 'plain';
      lanes.push(await FuzzLane.open(i, { ...laneOptions, profile: profiles[i]!, contract }, mirrorHost));
    }
    // Once a call fails, every lane still runs its calls below it: an earlier failure in a slower
    // lane must be found, or the reported call would not be the first that `--calls` replays.
    let stopAt = o.calls;
    let shown = -1;
    const showProgress = () => { if (report.calls !== shown) { shown = report.calls; o.onProgress!(report.calls, o.calls); } };
    if (o.onProgress) progress = setInterval(showProgress, o.progressEveryMs);

    // After every call of any lane, so that the baseline and the samples fall on exact counts.
    const sampleRss = (): void => {
      if (report.calls === Math.min(RSS_WARMUP_CALLS, o.calls >>> 2)) report.rssBaselineBytes = process.memoryUsage.rss();
      else if (report.calls % RSS_SAMPLE_EVERY === 0 && report.rssBaselineBytes > 0) checkRss(report, o.rssBudgetBytes);
    };

    /**
     * Lane `index`'s schedule, whatever its kind: calls k = index, index + allLanes, ... below
     * stopAt, each one `step`, then (when nothing failed) the closing verify and round. A failure
     * is recorded at its call, and lowers stopAt for every lane.
     */
    const runScheduled = async (
      index: number, profile: ProfileName | IommuLaneKind,
      step: (d: Draw, k: number, j: number, trace: Trace) => Promise<void> | void,
      close: { verify: () => Promise<void> | void; round: () => Promise<void> | void; pause?: () => Promise<void> },
    ): Promise<void> => {
      const trace = o.trace && (o.traceLane === undefined || o.traceLane === index) ? o.trace : null;
      let k = index;
      try {
        for (let j = 0; k < stopAt; j++, k += allLanes) {
          // Awaited only when it is a promise: a synchronous lane keeps running without a hop.
          const stepped = step(callDraw(seed, k), k, j, trace);
          if (stepped) await stepped;
          sampleRss();
          if (close.pause) await close.pause();
        }
        if (stopAt === o.calls) {
          await close.verify();
          await close.round();
          report.verifies++;
          report.rounds++;
        }
      } catch (error) {
        // Past its last call a lane is in its closing verify and round: `--calls calls` replays that.
        k = Math.min(k, o.calls - 1);
        stopAt = Math.min(stopAt, k);
        const f = error instanceof FuzzFailure ? error : new FuzzFailure('exception', `the fuzz harness threw: ${(error as Error)?.stack ?? String(error)}`);
        failures.push({ code: f.code, kind: f.kind, detail: f.detail, callIndex: k, lane: index, profile, call: f.call });
      }
    };

    /** One call made: traced, counted overall and in the lane's own table. */
    const counted = (k: number, lane: { index: number; describeStatus(): string }, outcome: Outcome, call: Parameters<typeof describeCall>[0], own: Counts, trace: Trace, byState: { of: ProfileName | IommuLaneKind; state: string }): void => {
      trace?.(`#${k} lane ${lane.index}: ${outcome} ← ${describeCall(call)}\n    now ${lane.describeStatus()}`);
      report.calls++;
      bump(report.counts, outcome);
      bump(own, outcome);
      // Counted by the state the call was made in, not the one it left.
      bump((report.byState[byState.of] ??= {})[byState.state] ??= {}, outcome);
    };

    const runLane = (lane: FuzzLane): Promise<void> => runScheduled(lane.index, lane.profile, async (d, k, j, trace) => {
      if (j % CANARY_REFRESH_EVERY === 0) lane.refreshCanary(d);
      if (chance(d, STATE_CHANGE_PERCENT)) {
        const target = pick(d, lane.profile === 'mlx5' ? ['idle', 'logging', 'error'] as const : ['idle', 'logging'] as const);
        await lane.setState(d, target);
        trace?.(`#${k} lane ${lane.index}: state → ${target}: ${lane.describeStatus()}`);
        report.stateChanges++;
      }
      if (chance(d, 20)) {
        const outcomes = await lane.dma(d, trace);
        for (const outcome of outcomes) bump(report.dma, outcome);
      }
      const call = generateCall(d, lane.context());
      const state = lane.state;
      const outcome = await lane.call(call, chance(d, STATUS_CHECK_PERCENT));
      counted(k, lane, outcome, call, report.byProfile[lane.profile] ??= {}, trace, { of: lane.profile, state });
      // A failed call while logging must have left the log alone: compare it with the mirror's.
      if (outcome !== 'ok' && lane.state !== 'idle' && chance(d, VERIFY_PERCENT)) {
        await lane.verify();
        trace?.(`#${k} lane ${lane.index}: verified`);
        report.verifies++;
      }
      if (j % ROUND_EVERY === ROUND_EVERY - 1) {
        await lane.round();
        report.rounds++;
      }
    }, { verify: () => lane.verify(), round: () => lane.round() });

    // The same schedule for an iommufd lane, whose calls are synchronous and checked in full each time.
    const runIommuLane = (lane: IommuFuzzLane): Promise<void> => runScheduled(lane.index, lane.kind, (d, k, j, trace) => {
      if (j % CANARY_REFRESH_EVERY === 0) lane.refreshCanary(d);
      if (chance(d, 30)) for (const outcome of lane.dma(d, trace)) bump(report.dma, outcome);
      const call = generateIommufdCall(d, lane.context());
      const state = lane.state;
      const outcome = lane.call(call);
      counted(k, lane, outcome, call, report.byIommu[lane.kind] ??= {}, trace, { of: lane.kind, state });
      // A failed call must have left the dirty bits alone: a clearing GET of everything shows it.
      if (outcome !== 'ok' && chance(d, VERIFY_PERCENT)) {
        lane.verify();
        trace?.(`#${k} lane ${lane.index}: verified`);
        report.verifies++;
      }
      if (j % ROUND_EVERY === ROUND_EVERY - 1) {
        lane.round();
        report.rounds++;
      }
    }, { verify: () => lane.verify(), round: () => lane.round(), pause: () => lane.yieldNow() });
    await Promise.all([...lanes.map(runLane), ...iommuLanes.map(runIommuLane)]);
    // The last event says where the run ended (all calls, or the calls made up to a failure):
    // a progress line is never left at the last timer tick.
    if (o.onProgress) showProgress();
    if (failures.length === 0 && report.rssBaselineBytes > 0) {
      try {
        checkRss(report, o.rssBudgetBytes);
      } catch (error) {
        const f = error as FuzzFailure;
        failures.push({ code: f.code, kind: f.kind, detail: f.detail, callIndex: Math.max(0, o.calls - 1), lane: -1, profile: 'none', call: null });
      }
    }
  } finally {
    clearInterval(progress);
    await Promise.all([...lanes.map((l) => l.close()), mirrorHost?.close()]);
  }
  // The earliest failing call is the one to replay.
  report.failure = failures.sort((a, b) => a.callIndex - b.callIndex)[0] ?? null;
  report.elapsedMs = Math.round(performance.now() - started);
  return report;
}

/** A lane's trace line sink, or null when that lane is not traced. */
type Trace = ((line: string) => void) | null;

function bump(counts: Counts, outcome: Outcome): void {
  counts[outcome] = (counts[outcome] ?? 0) + 1;
}

function checkRss(report: FuzzReport, budget: number): void {
  const delta = process.memoryUsage.rss() - report.rssBaselineBytes;
  if (delta > report.rssPeakDeltaBytes) report.rssPeakDeltaBytes = delta;
  if (delta > budget) throw new FuzzFailure('memory', `resident set grew by ${(delta / 2 ** 20).toFixed(1)} MiB (budget ${(budget / 2 ** 20).toFixed(0)} MiB)`);
}

/** Outcomes in a stable order: 'ok' first, then errnos by name. */
export function sortedCounts(counts: Counts): Array<[Outcome, number]> {
  return (Object.entries(counts) as Array<[Outcome, number]>).sort(([a], [b]) => (a === 'ok' ? -1 : b === 'ok' ? 1 : a.localeCompare(b)));
}

/** The command line that replays a failed run up to and including its failing call; null when it did not fail. */
export function replayLine(report: FuzzReport): string | null {
  if (!report.failure) return null;
  const lanes = report.iommuLanes === FUZZ_DEFAULTS.iommuLanes ? '' : ` --iommu-lanes ${report.iommuLanes}`;
  return `dmalog fuzz --seed ${report.seed} --calls ${report.failure.callIndex + 1}${lanes}`;
}
