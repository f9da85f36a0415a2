// runFuzz options: checked once at the edge by a zod schema (util/options.ts), merged over
// FUZZ_DEFAULTS into FilledFuzzOptions. Refusals are DMALOG_BAD_OPTION naming the option, and
// come before any thread is started.
import { z } from 'zod';
import type { HostFactory } from '../rig/rig.js';
import type { IommufdIoctl } from './iommu-lane.js';
import { MAX_CALL_TIMEOUT_MS, MAX_LOG_BYTES, MAX_USER_MEMORY_BYTES } from '../host/options.js';
import { badOption, parseOptions } from '../util/options.js';
import { SEED_MAX } from '../util/prng.js';

export interface FuzzOptions {
  /** 64-bit: a bigint within 0..2^64-1, or a safe non-negative integer. */
  seed: bigint | number;
  calls: number;
  /**
   * Lanes run concurrently; lane i fuzzes a device of profile mlx5, pds, none in turn (default 6),
   * the first three with the atomic contract, the next three with the plain one, and so on.
   */
  lanes?: number;
  /**
   * iommufd lanes besides the device lanes (default 2): lane i of them fuzzes a HWPT with the
   * dirty-tracking capability when i is even, one without when odd; they run in this thread.
   */
  iommuLanes?: number;
  /** The iommufd lanes' raw ioctl (tests pass one that wraps the real one to misbehave). */
  iommufdIoctl?: IommufdIoctl;
  /** The fuzz arena of each lane (its host's whole user memory), at least 8 KiB. */
  memoryBytes?: number;
  callTimeoutMs?: number;
  hostCallTimeoutMs?: number;
  maxLogBytes?: number;
  /** Largest growth of the process's resident set after warm-up (default 200 MiB; below 0 it must shrink, which tests use to force the failure). */
  rssBudgetBytes?: number;
  /** Called about every `progressEveryMs` with the calls done so far. */
  onProgress?: (done: number, total: number) => void;
  progressEveryMs?: number;
  createHost?: HostFactory;
  /** Every step of lane `traceLane` as a line (replaying a failure). */
  trace?: (line: string) => void;
  traceLane?: number;
}

export interface FilledFuzzOptions {
  seed: bigint;
  calls: number;
  lanes: number;
  iommuLanes: number;
  iommufdIoctl: IommufdIoctl | undefined;
  memoryBytes: number;
  callTimeoutMs: number;
  hostCallTimeoutMs: number;
  maxLogBytes: number;
  rssBudgetBytes: number;
  onProgress: ((done: number, total: number) => void) | undefined;
  progressEveryMs: number;
  createHost: HostFactory | undefined;
  trace: ((line: string) => void) | undefined;
  traceLane: number | undefined;
}

export const FUZZ_DEFAULTS = {
  lanes: 6,
  iommuLanes: 2,
  memoryBytes: 32 << 10,
  callTimeoutMs: 30_000,
  hostCallTimeoutMs: 20_000,
  // Small enough that huge START ranges meet ENOMEM (refused before allocating) often, and that
  // freed logs kept by the 12 threads' allocators stay small: with 4 MiB logs they held ~50 MiB
  // after 3·10^5 calls, on top of ~80 MiB of JS heap growth (measured with 256 KiB logs).
  maxLogBytes: 1 << 20,
  rssBudgetBytes: 200 << 20,
  progressEveryMs: 2000,
} as const;

/** Lanes at most: each is a host with a tracker thread, beside a mirror. */
export const FUZZ_MAX_LANES = 64;
/** The smallest arena: the typed layer's scratch (a page of ranges) at the top, the round's bitmaps at the bottom. */
export const FUZZ_MIN_MEMORY_BYTES = 8 << 10;
/** What the mirror host holds per lane beyond its arena (scratch), and once (slack). */
const MIRROR_EXTRA_BYTES = 8192;

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);
const fn = <F>() => z.custom<F>((v) => typeof v === 'function', 'must be a function');

export const fuzzSchema = z.strictObject({
  seed: z.union([int(0), z.bigint().min(0n).max(SEED_MAX)], { error: 'must be an integer within 0..2^64-1' }).transform((v) => BigInt(v)),
  calls: int(0),
  lanes: int(1, FUZZ_MAX_LANES).default(FUZZ_DEFAULTS.lanes),
  iommuLanes: int(0, FUZZ_MAX_LANES).default(FUZZ_DEFAULTS.iommuLanes),
  iommufdIoctl: fn<IommufdIoctl>().optional(),
  memoryBytes: int(FUZZ_MIN_MEMORY_BYTES, MAX_USER_MEMORY_BYTES).default(FUZZ_DEFAULTS.memoryBytes),
  callTimeoutMs: int(1, MAX_CALL_TIMEOUT_MS).default(FUZZ_DEFAULTS.callTimeoutMs),
  hostCallTimeoutMs: int(1, MAX_CALL_TIMEOUT_MS).default(FUZZ_DEFAULTS.hostCallTimeoutMs),
  maxLogBytes: int(1, MAX_LOG_BYTES).default(FUZZ_DEFAULTS.maxLogBytes),
  rssBudgetBytes: int(Number.MIN_SAFE_INTEGER).default(FUZZ_DEFAULTS.rssBudgetBytes),
  onProgress: fn<(done: number, total: number) => void>().optional(),
  progressEveryMs: int(1, MAX_CALL_TIMEOUT_MS).default(FUZZ_DEFAULTS.progressEveryMs),
  createHost: fn<HostFactory>().optional(),
  trace: fn<(line: string) => void>().optional(),
  traceLane: int(0, 2 * FUZZ_MAX_LANES - 1).optional(),
});

/** The largest arena `lanes` lanes may have: their mirrors share one host of at most 4 GiB. */
export function maxFuzzMemoryBytes(lanes: number): number {
  return Math.floor((MAX_USER_MEMORY_BYTES - MIRROR_EXTRA_BYTES) / lanes) - MIRROR_EXTRA_BYTES;
}

/** The mirror host's user memory: every lane's arena and scratch. */
export function mirrorMemoryBytes(lanes: number, memoryBytes: number): number {
  return lanes * (memoryBytes + MIRROR_EXTRA_BYTES) + MIRROR_EXTRA_BYTES;
}

export function fillFuzzOptions(options: FuzzOptions): FilledFuzzOptions {
  const o = parseOptions(fuzzSchema, options);
  const most = maxFuzzMemoryBytes(o.lanes);
  if (o.memoryBytes > most) badOption(['memoryBytes'], `must be at most ${most} with ${o.lanes} lanes (their mirrors share one host of at most 2^32 bytes)`);
  if (o.traceLane !== undefined && o.traceLane >= o.lanes + o.iommuLanes) badOption(['traceLane'], `must be below lanes + iommuLanes (${o.lanes + o.iommuLanes})`);
  return { ...o, iommufdIoctl: o.iommufdIoctl, onProgress: o.onProgress, createHost: o.createHost, trace: o.trace, traceLane: o.traceLane };
}
