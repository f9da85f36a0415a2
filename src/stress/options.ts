// Stress-run options: checked once here (a zod schema), merged over defaults into FilledStressOptions.
import { z } from 'zod';
import type { Contract } from '../bitmap/iova-bitmap.js';
import type { RecoveryPolicy } from '../coordinator/coordinator.js';
import { WORKLOAD_KINDS, type WorkloadKind } from '../workload/workload.js';
import { SEED_MAX, randomSeed } from '../util/prng.js';
import { badOption, parseOptions } from '../util/options.js';
import { dmaThreadsSchema } from '../dma/pool.js';

export type StressProfile = 'mlx5' | 'pds';
export const STRESS_PROFILES = ['mlx5', 'pds'] as const satisfies readonly StressProfile[];
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
  /**
   * IOMMU trackers (default 0): HWPTs with dirty tracking over the guest (4 KiB and 2 MiB
   * mappings), device t attached to HWPT t mod N, each HWPT one more tracker in every report set.
   */
  iommuTrackers?: number;
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
  iommuTrackers: number;
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

export const STRESS_DEFAULTS = { trackers: 4, iommuTrackers: 0, queues: 2, seconds: 10, guestPages: 16384, burstWrites: 4096, writesPerSet: 8192, windows: 2 } as const;
/** Largest granule a stress tracker may pick, in pages: windows are aligned to it. */
export const MAX_GRANULE_PAGES = 4;


const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** Each field's type and bound; how fields relate is checked after (fillStressOptions). */
export const stressSchema = z.strictObject({
  trackers: int(1, 64).default(STRESS_DEFAULTS.trackers),
  profiles: z.array(z.enum(STRESS_PROFILES)).min(1).optional(),
  iommuTrackers: int(0, 64).default(STRESS_DEFAULTS.iommuTrackers),
  queues: int(1, 64).default(STRESS_DEFAULTS.queues),
  reportSets: int(1).optional(),
  seconds: z.number().positive().max(Number.MAX_SAFE_INTEGER).optional(),
  workload: z.enum(WORKLOAD_KINDS).default('uniform'),
  contract: z.enum(['atomic', 'plain']).default('atomic'),
  faultRate: z.number().min(0).max(1).default(0),
  kill: z.boolean().default(false),
  policy: z.enum(['fail', 'restart']).default('restart'),
  seed: z.bigint().min(0n).max(SEED_MAX).optional(),
  guestPages: int(1, 1 << 22).default(STRESS_DEFAULTS.guestPages),
  burstWrites: int(1, 1 << 24).default(STRESS_DEFAULTS.burstWrites),
  writesPerSet: int(0).default(STRESS_DEFAULTS.writesPerSet),
  windows: int(1, 64).default(STRESS_DEFAULTS.windows),
  threads: dmaThreadsSchema.optional(),
  onProgress: z.custom<(progress: StressProgress) => void>((v) => typeof v === 'function', 'must be a function').optional(),
  progressIntervalMs: int(1).default(1000),
});

export function fillStressOptions(options: StressOptions): FilledStressOptions {
  const o = parseOptions(stressSchema, options);
  if (o.reportSets !== undefined && o.seconds !== undefined) badOption(['reportSets'], 'excludes seconds');
  if (o.iommuTrackers > o.trackers) badOption(['iommuTrackers'], `must be at most trackers (${o.trackers}): every HWPT has a device attached`);
  const unit = o.windows * MAX_GRANULE_PAGES;
  if (o.guestPages % unit !== 0) badOption(['guestPages'], `must be a multiple of ${unit} (windows × ${MAX_GRANULE_PAGES})`);
  if (o.workload === 'shared-words' && o.guestPages < o.trackers) badOption(['guestPages'], 'shared-words needs at least one page per tracker');
  return {
    ...o,
    profiles: o.profiles ?? [...STRESS_PROFILES],
    reportSets: o.reportSets ?? null,
    seconds: o.seconds ?? (o.reportSets === undefined ? STRESS_DEFAULTS.seconds : null),
    seed: o.seed ?? randomSeed(),
    threads: o.threads,
    onProgress: o.onProgress,
  };
}
