// The coordinator sequences PROBE, START, report sets and STOP across trackers (contract §6) and
// applies the recovery policy on a failed REPORT. It knows only the DirtyTracker interface.
//
// Why `restart` loses no dirty page: a failed REPORT leaves the tracker's log untrustworthy
// (it may have cleared bits it never delivered). The coordinator STOPs and STARTs the tracker
// first, so every write after the restart is in the new log, and only then marks the tracker's
// whole tracked span dirty, which covers every write before it. The span is marked in the
// current set for the window being reported and, for the rest of the span, in later report sets
// until each part has been covered once ("owed" ranges). A tracker that cannot be restarted
// (its thread is gone, or START fails again) is retired: its span is marked in every set.
//
// Only a VfioError is a tracker failing. Any other rejection (DMALOG_CLOSED from a closed host, a
// bug in a tracker) says nothing about the log that recovery could repair: the set rejects with
// it, and logging is stopped as under `fail`. stopAll and close wait for a set in flight, so a
// set always runs to its end on the trackers it began with.
import type { Logger } from 'pino';
import { IovaBitmap } from '../bitmap/iova-bitmap.js';
import { DmalogError, ReportSetError, StartError, VfioError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';
import type { LoggingRange } from '../uapi/structs.js';
import { intersect, normalize, subtract } from './range-set.js';
import { ReportBitmap } from './report-bitmap.js';
import type { DirtyTracker, ReportWindow } from '../trackers/tracker.js';
import { badOption } from '../util/options.js';
import { startArguments, windowArguments } from '../uapi/typed-args.js';
import { fillCoordinatorOptions, type CoordinatorOptions, type RecoveryPolicy } from './options.js';

export type { CoordinatorOptions, RecoveryPolicy } from './options.js';

export type Recovery = 'none' | 'restarted' | 'retired';

export interface TrackerOutcome {
  name: string;
  ok: boolean;
  /** Bits the tracker's REPORT set (0 when it failed). */
  pagesReported: number;
  errno: Errno | null;
  recovery: Recovery;
  /** Bytes of IOVA the coordinator marked dirty for this tracker in this set (recovery debt). */
  markedBytes: bigint;
  /** The IOVA ranges behind markedBytes. */
  marked: LoggingRange[];
}

export interface ReportSetResult {
  window: ReportWindow;
  outcomes: TrackerOutcome[];
  /** Wall time from the first REPORT issued to the last mark. */
  ms: number;
}

export type CoordinatorState = 'idle' | 'logging' | 'failed' | 'closed';

interface Started {
  tracker: DirtyTracker;
  pageSize: bigint;
  /** IOVA this tracker still owes the report sets after a restart (or always, once retired). */
  owed: LoggingRange[];
  retired: boolean;
}

/**
 * Report sets over several trackers into one bitmap (contract §6): START and STOP of them all, one
 * REPORT per tracker per set, all in flight at once, the zeroing rule, and recovery of a failed
 * REPORT by the policy (`fail`: stop everything; `restart`: STOP, START, mark the span dirty).
 */
export class Coordinator {
  readonly #trackers: DirtyTracker[];
  readonly #memory: SharedArrayBuffer;
  readonly #allocate: (bytes: number) => number;
  readonly #policy: RecoveryPolicy;
  readonly #verify: boolean;
  readonly #logger: Logger | undefined;
  #state: CoordinatorState = 'idle';
  #started: Started[] = [];
  #ranges: LoggingRange[] = [];
  #pageSizeHint = 0n;
  /** The set in flight, settled either way (stopAll and close wait for it). */
  #setInFlight: Promise<void> | null = null;
  /** stopAll calls not yet done: no set or START may begin meanwhile. */
  #stopping = 0;
  #closing = false;
  readonly stats = { reportSets: 0, reportErrors: 0, restarts: 0, retired: 0 };

  constructor(options: CoordinatorOptions) {
    if (typeof options !== 'object' || options === null) badOption([], 'must be an object');
    const o = fillCoordinatorOptions(options);
    this.#trackers = o.trackers;
    this.#memory = o.memory;
    this.#allocate = o.allocate;
    this.#policy = o.policy;
    this.#verify = o.verifyZeroed;
    this.#logger = o.logger;
  }

  get state(): CoordinatorState {
    return this.#state;
  }

  get policy(): RecoveryPolicy {
    return this.#policy;
  }

  /** Page size each started tracker chose. */
  get pageSizes(): Map<string, bigint> {
    return new Map(this.#started.map((s) => [s.tracker.name, s.pageSize]));
  }

  #assertUsable(): void {
    if (this.#state === 'closed' || this.#closing) throw new DmalogError('DMALOG_CLOSED', 'coordinator is closed');
  }

  async probeAll(): Promise<Map<string, boolean>> {
    this.#assertUsable();
    const answers = await Promise.all(this.#trackers.map((t) => t.probe()));
    return new Map(this.#trackers.map((t, i) => [t.name, answers[i]!]));
  }

  /**
   * START every tracker with the same ranges and page-size hint, in order. If tracker k fails,
   * trackers 0..k-1 are stopped again and a StartError names tracker k and the k rolled back (with
   * k's errno). What is not a VfioError (a closed host, a bug) is rethrown as it is.
   */
  async startAll(request: { ranges: LoggingRange[]; pageSize: bigint }): Promise<Map<string, bigint>> {
    this.#assertUsable();
    // As bigints once: the ranges are kept for restarts and the span marks, which are bigint arithmetic.
    const req = startArguments(request);
    if (this.#state === 'logging') throw new DmalogError('DMALOG_STATE', 'trackers are already logging (stopAll first)');
    if (this.#stopping > 0) throw new DmalogError('DMALOG_STATE', 'logging is being stopped');
    const started: Started[] = [];
    for (const tracker of this.#trackers) {
      try {
        const pageSize = await tracker.startLogging({ pageSize: req.pageSize, ranges: req.ranges });
        started.push({ tracker, pageSize, owed: [], retired: false });
      } catch (error) {
        await Promise.allSettled(started.map((s) => s.tracker.stopLogging()));
        this.#logger?.warn({ tracker: tracker.name, errno: (error as VfioError).errno, rolledBack: started.length }, 'START failed; rolled back');
        throw error instanceof VfioError ? new StartError(tracker.name, started.length, error) : error;
      }
    }
    this.#started = started;
    this.#ranges = req.ranges.map((r) => ({ ...r }));
    this.#pageSizeHint = req.pageSize;
    this.#state = 'logging';
    return this.pageSizes;
  }

  /** A bitmap in user memory big enough for `window`, zeroed. */
  createBitmap(window: Pick<ReportWindow, 'length' | 'pageSize'>): ReportBitmap {
    this.#assertUsable();
    const { length, pageSize } = bitmapWindow({ iova: 0n, length: window?.length, pageSize: window?.pageSize });
    const probe = new ReportBitmap(this.#memory, 0, 0);
    const bytes = probe.bytesFor({ iova: 0n, length, pageSize });
    const at = this.#allocate(bytes);
    const bitmap = new ReportBitmap(this.#memory, at, bytes);
    bitmap.zero();
    return bitmap;
  }

  /**
   * One REPORT per started tracker for `window`, all in flight at once, into `bitmap`. Refused
   * (DMALOG_ZEROING_RULE) when the bitmap was not zeroed since the last set, unless `zero` asks
   * the coordinator to zero it first.
   */
  async reportSet(request: ReportWindow, bitmap: ReportBitmap, opts: { zero?: boolean } = {}): Promise<ReportSetResult> {
    this.#assertUsable();
    const window = bitmapWindow(request);
    if (!(bitmap instanceof ReportBitmap)) badOption(['bitmap'], 'must be a ReportBitmap (coordinator.createBitmap)');
    if (this.#state !== 'logging') throw new DmalogError('DMALOG_STATE', `no report set while '${this.#state}'`);
    if (this.#stopping > 0) throw new DmalogError('DMALOG_STATE', 'logging is being stopped');
    if (this.#setInFlight) throw new DmalogError('DMALOG_STATE', 'a report set is already in flight');
    if (opts.zero) bitmap.zero();
    bitmap.begin(window, this.#verify);
    const run = this.#runSet(window, bitmap);
    this.#setInFlight = run.then(() => {}, () => {});
    try {
      return await run;
    } finally {
      bitmap.complete();
      this.#setInFlight = null;
    }
  }

  async #runSet(window: ReportWindow, bitmap: ReportBitmap): Promise<ReportSetResult> {
    // Nothing replaces #started while a set runs (stopAll and close wait for it), but the set
    // holds its own reference all the same.
    const started = this.#started;
    const began = performance.now();
    const reports = await Promise.allSettled(started.map((s) =>
      s.retired ? Promise.resolve(0) : s.tracker.report({ ...window, bitmap: bitmap.at })));
    const outcomes: TrackerOutcome[] = [];
    const failures: Array<{ started: Started; errno: Errno; outcome: TrackerOutcome }> = [];
    let foreign: { error: unknown } | null = null;
    reports.forEach((r, i) => {
      const s = started[i]!;
      const outcome: TrackerOutcome = { name: s.tracker.name, ok: r.status === 'fulfilled' && !s.retired, pagesReported: r.status === 'fulfilled' ? r.value : 0, errno: null, recovery: 'none', markedBytes: 0n, marked: [] };
      if (r.status === 'rejected') {
        if (r.reason instanceof VfioError) {
          outcome.errno = r.reason.errno;
          failures.push({ started: s, errno: outcome.errno, outcome });
        } else {
          foreign ??= { error: r.reason };
        }
      }
      outcomes.push(outcome);
    });
    this.stats.reportSets++;
    this.stats.reportErrors += failures.length;
    if (foreign) await this.#abandon((foreign as { error: unknown }).error);
    if (failures.length > 0 && this.#policy === 'fail') {
      await this.#stopEverything();
      this.#state = 'failed';
      const first = failures[0]!;
      throw new ReportSetError(first.started.tracker.name, first.errno, outcomes);
    }
    for (const f of failures) {
      try {
        f.outcome.recovery = await this.#restart(f.started);
      } catch (error) {
        await this.#abandon(error);
      }
    }
    // Restarts come before marks: what a mark covers was written before the new log began.
    const marker = new IovaBitmap(this.#memory, bitmap.at, window);
    started.forEach((s, i) => {
      if (s.owed.length === 0) return;
      const w = { iova: window.iova, length: window.length };
      for (const r of markOwed(marker, s.owed, w)) {
        outcomes[i]!.markedBytes += r.length;
        outcomes[i]!.marked.push(r);
      }
      if (!s.retired) s.owed = subtract(s.owed, w);
      if (s.retired && outcomes[i]!.recovery === 'none') outcomes[i]!.recovery = 'retired';
    });
    marker.flush();
    const ms = performance.now() - began;
    this.#logger?.debug({ iova: window.iova, length: window.length, pageSize: window.pageSize, errors: failures.length, ms }, 'report set');
    return { window, outcomes, ms };
  }

  /** A failure no recovery policy covers: stop logging, the coordinator is failed, rethrow. */
  async #abandon(error: unknown): Promise<never> {
    await this.#stopEverything();
    this.#state = 'failed';
    this.#logger?.warn({ error: (error as Error)?.message ?? String(error) }, 'report set failed outside any tracker; logging stopped');
    throw error;
  }

  async #restart(s: Started): Promise<Recovery> {
    const whole = normalize(this.#ranges);
    try {
      await s.tracker.stopLogging().catch((error: unknown) => {
        if (!(error instanceof VfioError) || error.errno === 'ENODEV' || error.errno === 'ETIMEDOUT') throw error;
      });
      s.pageSize = await s.tracker.startLogging({ pageSize: this.#pageSizeHint, ranges: this.#ranges });
      s.owed = whole;
      this.stats.restarts++;
      this.#logger?.info({ tracker: s.tracker.name }, 'tracker restarted after a failed REPORT');
      return 'restarted';
    } catch (error) {
      // Not the tracker failing (a closed host, say): retiring would only hide it behind marks.
      if (!(error instanceof VfioError)) throw error;
      s.retired = true;
      s.owed = whole;
      this.stats.retired++;
      this.#logger?.warn({ tracker: s.tracker.name, errno: error.errno }, 'tracker retired: its span is marked dirty in every report set');
      return 'retired';
    }
  }

  async #stopEverything(): Promise<void> {
    const started = this.#started;
    this.#started = [];
    await Promise.allSettled(started.filter((s) => !s.retired).map((s) => s.tracker.stopLogging()));
  }

  /** STOP every tracker, once a set in flight has finished (it resolves as usual); idempotent. */
  async stopAll(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#stopping++;
    try {
      await this.#setInFlight;
      await this.#stopEverything();
    } finally {
      this.#stopping--;
    }
    if (this.#state === 'logging') this.#state = 'idle';
  }

  /** stopAll (after a set in flight), then refuse further calls; idempotent. */
  async close(): Promise<void> {
    this.#closing = true;
    await this.stopAll();
    this.#state = 'closed';
  }
}

/**
 * A recovery mark: every page of `owed` inside `window` set in `marker` (the set's bitmap); the
 * ranges marked. The caller flushes `marker` once every tracker's marks are in. `dmalog explore`
 * runs this same function against writers and REPORTs (src/explore/actors.ts).
 */
export function markOwed(marker: IovaBitmap, owed: readonly LoggingRange[], window: LoggingRange): LoggingRange[] {
  const marked = intersect(owed, window);
  for (const r of marked) marker.set(r.iova, r.length);
  return marked;
}

/** A window as bigints, with a bitmap to speak of: length and page size positive (else DMALOG_BAD_OPTION). */
function bitmapWindow(request: unknown): ReportWindow {
  const window = windowArguments(request);
  if (window.length === 0n) badOption(['length'], 'must be positive');
  if (window.pageSize === 0n) badOption(['pageSize'], 'must be positive');
  return window;
}

export function errnoOf(error: unknown): Errno {
  return error instanceof VfioError ? error.errno : 'EIO';
}
