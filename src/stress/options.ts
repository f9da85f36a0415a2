// Stress-run options: checked once here, merged over defaults into FilledStressOptions.
import { DmalogError } from '../errors.js';
import type { Contract } from '../bitmap/iova-bitmap.js';
import type { RecoveryPolicy } from '../coordinator/coordinator.js';
import { WORKLOAD_KINDS, type WorkloadKind } from '../workload/workload.js';
import { randomSeed } from '../util/prng.js';

export type StressProfile = 'mlx5' | 'pds';
export const STRESS_PROFILES: readonly StressProfile[] = ['mlx5', 'pds'];
export type StressFaultKind = 'report-error' | 'tracker-error' | 'slow-report' | 'die-in-report';

export interface StressProgress {
  elapsedMs: number;
  reportSets: number;
  writes: number;
  lost: number;
  imprecise: number;
  faults: number;
}

export interface StressOptions {
  /** Devices (default 4), profiles cycling through `profiles`. */
  trackers?: number;
  profiles?: StressProfile[];
  /** DMA queues per device, each one burst in flight at a time (default 2). */
  queues?: number;
  /** Stop after this many report sets... */
  reportSets?: number;
  /** ...or after this long (default 10 s when neither is given). */
  seconds?: number;
  workload?: WorkloadKind;
  contract?: Contract;
  /** Chance per REPORT of an injected fault (default 0). */
  faultRate?: number;
  /** Let faults kill tracker threads mid-REPORT (die-in-report). */
  kill?: boolean;
  /** Default `restart` (QEMU's `fail` ends the run at the first REPORT error). */
  policy?: RecoveryPolicy;
  seed?: bigint;
  /** Guest memory in 4 KiB pages (default 16384 = 64 MiB), all of it tracked. */
  guestPages?: number;
  /** Writes per burst (default 4096). */
  burstWrites?: number;
  /** Minimum writes logged between two report sets (default 8192; 0 = back to back). */
  writesPerSet?: number;
  /** Report windows the tracked span is split into, reported in turn (default 2). */
  windows?: number;
  /** DMA pool threads (default: available parallelism). */
  threads?: number;
  onProgress?: (progress: StressProgress) => void;
  /** Default 1000 ms. */
  progressIntervalMs?: number;
}

export interface FilledStressOptions {
  trackers: number;
  profiles: StressProfile[];
  queues: number;
  reportSets: number | null;
  seconds: number | null;
  workload: WorkloadKind;
  contract: Contract;
  faultRate: number;
  kill: boolean;
  policy: RecoveryPolicy;
  seed: bigint;
  guestPages: number;
  burstWrites: number;
  writesPerSet: number;
  windows: number;
  threads: number | undefined;
  onProgress: ((progress: StressProgress) => void) | undefined;
  progressIntervalMs: number;
}

export const STRESS_DEFAULTS = { trackers: 4, queues: 2, seconds: 10, guestPages: 16384, burstWrites: 4096, writesPerSet: 8192, windows: 2 } as const;
/** Largest granule a stress tracker may pick, in pages: windows are aligned to it. */
export const MAX_GRANULE_PAGES = 4;


function int(v: unknown, what: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) throw new DmalogError('DMALOG_BAD_OPTION', `options.${what} must be an integer within ${min}..${max}`);
  return v;
}

export function fillStressOptions(o: StressOptions): FilledStressOptions {
  const trackers = int(o.trackers ?? STRESS_DEFAULTS.trackers, 'trackers', 1, 64);
  const profiles = o.profiles ?? [...STRESS_PROFILES];
  if (!Array.isArray(profiles) || profiles.length === 0 || profiles.some((p) => !STRESS_PROFILES.includes(p))) {
    throw new DmalogError('DMALOG_BAD_OPTION', `options.profiles must be a non-empty list of ${STRESS_PROFILES.join(', ')}`);
  }
  if (o.reportSets !== undefined && o.seconds !== undefined) throw new DmalogError('DMALOG_BAD_OPTION', 'options.reportSets and options.seconds exclude each other');
  const reportSets = o.reportSets === undefined ? null : int(o.reportSets, 'reportSets', 1);
  const seconds = o.seconds === undefined ? (reportSets === null ? STRESS_DEFAULTS.seconds : null) : o.seconds;
  if (seconds !== null && !(typeof seconds === 'number' && seconds > 0 && Number.isFinite(seconds))) throw new DmalogError('DMALOG_BAD_OPTION', 'options.seconds must be a positive number');
  const workload = o.workload ?? 'uniform';
  if (!WORKLOAD_KINDS.includes(workload)) throw new DmalogError('DMALOG_BAD_OPTION', `options.workload must be one of ${WORKLOAD_KINDS.join(', ')}`);
  const contract = o.contract ?? 'atomic';
  if (contract !== 'atomic' && contract !== 'plain') throw new DmalogError('DMALOG_BAD_OPTION', "options.contract must be 'atomic' or 'plain'");
  const faultRate = o.faultRate ?? 0;
  if (typeof faultRate !== 'number' || !(faultRate >= 0 && faultRate <= 1)) throw new DmalogError('DMALOG_BAD_OPTION', 'options.faultRate must be within 0..1');
  const policy = o.policy ?? 'restart';
  if (policy !== 'fail' && policy !== 'restart') throw new DmalogError('DMALOG_BAD_OPTION', "options.policy must be 'fail' or 'restart'");
  const seed = o.seed ?? randomSeed();
  if (typeof seed !== 'bigint' || seed < 0n || seed >= 1n << 64n) throw new DmalogError('DMALOG_BAD_OPTION', 'options.seed must be a bigint within 0..2^64-1');
  const windows = int(o.windows ?? STRESS_DEFAULTS.windows, 'windows', 1, 64);
  const guestPages = int(o.guestPages ?? STRESS_DEFAULTS.guestPages, 'guestPages', 1, 1 << 22);
  if (guestPages % (windows * MAX_GRANULE_PAGES) !== 0) throw new DmalogError('DMALOG_BAD_OPTION', `options.guestPages must be a multiple of ${windows * MAX_GRANULE_PAGES} (windows × ${MAX_GRANULE_PAGES})`);
  if (workload === 'shared-words' && guestPages < trackers) throw new DmalogError('DMALOG_BAD_OPTION', 'shared-words needs at least one page per tracker');
  return {
    trackers,
    profiles,
    queues: int(o.queues ?? STRESS_DEFAULTS.queues, 'queues', 1, 64),
    reportSets,
    seconds,
    workload,
    contract,
    faultRate,
    kill: o.kill ?? false,
    policy,
    seed,
    guestPages,
    burstWrites: int(o.burstWrites ?? STRESS_DEFAULTS.burstWrites, 'burstWrites', 1, 1 << 24),
    writesPerSet: int(o.writesPerSet ?? STRESS_DEFAULTS.writesPerSet, 'writesPerSet', 0),
    windows,
    threads: o.threads === undefined ? undefined : int(o.threads, 'threads', 1, 256),
    onProgress: o.onProgress,
    progressIntervalMs: int(o.progressIntervalMs ?? 1000, 'progressIntervalMs', 1),
  };
}
