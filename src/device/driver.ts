// A device's driver: its side of DMA logging (contract §4-6) as a state machine. It runs behind a
// transport (src/host/transport.ts), in the device's own worker thread by default; it takes requests the core already validated (validate.ts)
// and answers with result objects, never throws (only injected faults do), so errnos survive the
// thread hop intact.
import { IovaBitmap, type Contract } from '../bitmap/iova-bitmap.js';
import { DmalogError, InjectedFault } from '../errors.js';
import { isErrno, type Errno } from '../uapi/errno.js';
import type { LoggingRange } from '../uapi/structs.js';
import type { ReportRequest } from '../uapi/validate.js';
import { failed, type Checked } from '../util/result.js';
import { DirtyLog, planLog, type DirtyLogDescriptor } from './dirty-log.js';
import { PROFILE_TRAITS, STATE_ERRNO, profileStart, type DeviceConfig } from './profiles.js';

export type DriverState = 'idle' | 'logging' | 'error';

/** Faults injected for tests and stress runs; each applies to the next REPORT(s) unless it says otherwise. */
export type Fault =
  /** The next REPORT fails with `errno` (default EIO) after reading-and-clearing half its window. */
  | { kind: 'report-error'; errno?: Errno }
  /** The tracker breaks: mlx5 fails every REPORT until STOP + START; pds fails one. */
  | { kind: 'tracker-error' }
  /** The next REPORT blocks the device thread for `ms` before it starts. */
  | { kind: 'slow-report'; ms: number }
  /** The device thread dies in the middle of the next REPORT. */
  | { kind: 'die-in-report' }
  /** A bug in the driver: the next REPORT throws after reading-and-clearing half its window. */
  | { kind: 'throw-in-report' }
  /** The device thread dies during the next START, once the log is allocated. */
  | { kind: 'die-in-start' }
  /** The next START throws once the log is allocated. */
  | { kind: 'throw-in-start' }
  /** An uncaught exception ends the device thread, just after this call returns. */
  | { kind: 'throw' }
  /** The device thread dies now. */
  | { kind: 'die' };

/** Longest slow-report delay: the longest call deadline (a Node timer's cap), so any deadline can be overrun. */
export const MAX_SLOW_REPORT_MS = 2 ** 31 - 1;

const FAULT_KINDS: ReadonlySet<string> = new Set<Fault['kind']>([
  'report-error', 'tracker-error', 'slow-report', 'die-in-report', 'throw-in-report', 'die-in-start', 'throw-in-start', 'throw', 'die',
]);

/**
 * A fault as the tracker may receive it, rebuilt from its known fields; anything else is refused
 * with DMALOG_BAD_OPTION: an unknown kind or field (a function would not survive the thread hop),
 * an errno outside the contract §4 list, a delay that is not an integer within 0..MAX_SLOW_REPORT_MS
 * (Atomics.wait would take NaN as "for ever").
 */
export function checkFault(fault: unknown): Fault {
  const bad = (why: string): never => { throw new DmalogError('DMALOG_BAD_OPTION', `fault: ${why}`); };
  if (typeof fault !== 'object' || fault === null || Array.isArray(fault)) return bad('must be an object with a kind');
  const f = fault as Record<string, unknown>;
  const kind = f['kind'];
  if (typeof kind !== 'string' || !FAULT_KINDS.has(kind)) return bad(`unknown kind ${String(kind)}`);
  const allowed = kind === 'report-error' ? ['kind', 'errno'] : kind === 'slow-report' ? ['kind', 'ms'] : ['kind'];
  const extra = Reflect.ownKeys(f).find((k) => typeof k !== 'string' || !allowed.includes(k));
  if (extra !== undefined) bad(`${kind} takes no field ${String(extra)}`);
  if (kind === 'report-error') {
    const errno = f['errno'];
    if (errno === undefined) return { kind };
    if (!isErrno(errno)) return bad(`errno must be one of the simulator's errnos (got ${String(errno)})`);
    return { kind, errno };
  }
  if (kind === 'slow-report') {
    const ms = f['ms'];
    if (typeof ms !== 'number' || !Number.isSafeInteger(ms) || ms < 0 || ms > MAX_SLOW_REPORT_MS) return bad(`ms must be an integer within 0..${MAX_SLOW_REPORT_MS} (got ${String(ms)})`);
    return { kind, ms };
  }
  return { kind } as Fault;
}

type StartFault = Extract<Fault, { kind: 'die-in-start' | 'throw-in-start' }>;
function isStartFault(fault: Fault): fault is StartFault {
  return fault.kind === 'die-in-start' || fault.kind === 'throw-in-start';
}

export interface DriverInit {
  device: DeviceConfig;
  userMemory: SharedArrayBuffer;
  contract: Contract;
  maxLogBytes: number;
}

export interface StartResult { pageSize: bigint; log: DirtyLogDescriptor }
export interface ReportResult { pagesReported: number; granules: number }
export interface DriverStatus { state: DriverState; pageSize: bigint | null; regions: LoggingRange[]; reports: number }

export class DeviceDriver {
  readonly #init: DriverInit;
  readonly #die: () => never;
  readonly #crash: (error: Error) => void;
  #state: DriverState = 'idle';
  #log: DirtyLog | null = null;
  #faults: Fault[] = [];
  #startFaults: StartFault[] = [];
  #reports = 0;

  /**
   * `die` ends the driver's thread at once (never returns); `crash` raises an uncaught exception
   * in it after the current call has answered (a worker's default: a thrown timer callback).
   */
  constructor(init: DriverInit, die: () => never, crash: (error: Error) => void = throwLater) {
    this.#init = init;
    this.#die = die;
    this.#crash = crash;
  }

  start(pageSizeHint: bigint, ranges: LoggingRange[]): Checked<StartResult> {
    if (this.#state !== 'idle') return { errno: STATE_ERRNO.startWhileActive };
    const plan = profileStart(this.#init.device, pageSizeHint, ranges);
    if (failed(plan)) return plan;
    const log = planLog(plan.pageSize, plan.regions, this.#init.maxLogBytes);
    if (failed(log)) return log;
    const fault = this.#startFaults.shift();
    if (fault?.kind === 'die-in-start') this.#die();
    if (fault?.kind === 'throw-in-start') throw new InjectedFault('START failed half-way');
    this.#log = new DirtyLog(log);
    this.#state = 'logging';
    return { pageSize: plan.pageSize, log };
  }

  /** STOP when idle is 0 (contract §4); it also clears a sticky error. */
  stop(): Checked<{ stopped: boolean }> {
    const stopped = this.#state !== 'idle';
    this.#state = 'idle';
    this.#log = null;
    return { stopped };
  }

  report(req: ReportRequest): Checked<ReportResult> {
    const log = this.#log;
    if (this.#state === 'idle' || log === null) return { errno: STATE_ERRNO.reportWhenIdle };
    if (this.#state === 'error') return { errno: 'EIO' };
    if (PROFILE_TRAITS[this.#init.device.profile].reportMustLieInOneRegion && !insideOneRegion(log, req.iova, req.length)) {
      return { errno: 'EINVAL' };
    }
    this.#reports++;
    const fault = this.#faults.shift();
    if (fault?.kind === 'slow-report') sleep(fault.ms);
    const bitmap = new IovaBitmap(this.#init.userMemory, req.bitmapAt, req, this.#init.contract);
    if (fault?.kind === 'die-in-report' || fault?.kind === 'throw-in-report') {
      log.readAndClear(req.iova, req.length, bitmap, true);
      if (fault.kind === 'die-in-report') this.#die();
      throw new InjectedFault('REPORT failed half-way');
    }
    if (fault?.kind === 'report-error' || fault?.kind === 'tracker-error') {
      log.readAndClear(req.iova, req.length, bitmap, true);
      if (fault.kind === 'tracker-error' && PROFILE_TRAITS[this.#init.device.profile].stickyError) this.#state = 'error';
      return { errno: fault.kind === 'report-error' ? (fault.errno ?? 'EIO') : 'EIO' };
    }
    const stats = log.readAndClear(req.iova, req.length, bitmap);
    return { pagesReported: bitmap.bitsSet, granules: stats.granules };
  }

  injectFault(fault: Fault): void {
    if (fault.kind === 'die') this.#die();
    if (fault.kind === 'throw') this.#crash(new InjectedFault('uncaught exception in the device thread'));
    else if (isStartFault(fault)) this.#startFaults.push(fault);
    else this.#faults.push(fault);
  }

  status(): DriverStatus {
    const log = this.#log;
    return {
      state: this.#state,
      pageSize: log ? log.granuleSize : null,
      regions: log ? log.regions.map((r) => ({ iova: r.iova, length: r.length })) : [],
      reports: this.#reports,
    };
  }
}

/** After a macrotask, so that the current call's answer is posted first. */
function throwLater(error: Error): void {
  setTimeout(() => { throw error; });
}

function insideOneRegion(log: DirtyLog, iova: bigint, length: bigint): boolean {
  return log.regions.some((r) => iova >= r.iova && iova + length <= r.iova + r.length);
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Block this thread: a slow device does not answer anything else meanwhile. */
function sleep(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}
