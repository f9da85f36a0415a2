// Migration options: one zod schema checks them once, at the edge (library call or --config
// file), and fills defaults into a trusted FilledMigrationOptions. Sizes and durations take
// numbers (bytes, ms) or the CLI's unit strings ('512M', '300ms'). A bad field is one
// DMALOG_BAD_OPTION error whose message starts with the field's path.
import { z } from 'zod';
import { parseDuration, parseLinkSpeed, parseSeed, parseSize } from '../cli/args.js';
import { SEED_MAX } from '../util/prng.js';
import { LOW_RAM_LIMIT } from './memory-map.js';
import type { RecoveryPolicy } from '../coordinator/coordinator.js';
import type { ProfileName } from '../device/profiles.js';
import type { WorkloadKind } from '../workload/workload.js';
import { isPowerOfTwo } from '../util/bits.js';
import { badOption, parseOptions } from '../util/options.js';
import { dmaThreadsSchema } from '../dma/pool.js';

const MiB = 1 << 20;
/**
 * The largest guest in byte mode: its RAM is viewed as one Uint32Array (fill, DMA engines), and a
 * typed array holds at most 2^32 elements on Node 20. Whether a guest up to this fits the
 * machine's memory is checked per run (footprint.ts).
 */
export const MAX_BYTE_RAM_BYTES = 2 ** 32 * 4;
/**
 * The largest guest (page-version mode): 2^30 pages of 4 KiB. Page indexes then stay below 2^31,
 * where the bitmaps' 32-bit word arithmetic holds, and the version arrays below 2^32 elements.
 */
export const MAX_RAM_BYTES = 2 ** 42;
/**
 * `memory: 'auto'` keeps byte mode up to this guest size and uses page versions above it. Byte
 * mode holds the guest twice (source and destination) and fills, copies and compares every byte:
 * at 1 GiB that is ~2.2 GiB resident and about a second of wall time for fill and check alone; past
 * it those costs, not the migration loop, decide how long a run takes and whether it fits.
 */
export const AUTO_BYTES_MAX_RAM = 2 ** 30;
export type MemoryMode = 'bytes' | 'versions';
/**
 * The slowest bandwidth and link speed accepted, bytes per second. Below it a pass over even the
 * smallest guest takes minutes of simulated time in thousands of windows, and a stop-and-copy
 * "succeeds" with a downtime of hours: a typo (`--bandwidth 1` meaning 1 byte/s), not a scenario.
 */
export const MIN_RATE_BYTES = MiB;
/** Host page sizes: 4K..64K (x86, arm64 16K and 64K kernels); larger ones break the VGA hole's alignment. */
export const MAX_HOST_PAGE_SIZE = 64 << 10;
/** The longest max-time: a day of simulated time is 864,000 windows. */
export const MAX_TIME_MS = 24 * 3_600_000;
/** The highest writer rate, pages per simulated second: 2^24 pages/s is 64 GiB/s at 4 KiB. */
export const MAX_WRITE_RATE = 2 ** 24;

/** `whole` names the unit a value must be a whole number of ('bytes', 'milliseconds'); null: rounded. */
function units(parse: (text: string, what: string) => number, min: number, unit = '', whole: string | null = null) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = typeof v === 'number' ? v : parse(v, 'value');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^value: /, '') });
      return z.NEVER;
    }
    // Bytes and milliseconds are whole: 1331.2 bytes or 1.5ms is refused, not silently rounded
    // (QEMU's downtime-limit is whole milliseconds too).
    if (whole !== null && Number.isFinite(n) && !Number.isInteger(n)) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number of ${whole} (got ${String(v)})` });
      return z.NEVER;
    }
    if (!Number.isFinite(n) || !Number.isSafeInteger(Math.round(n))) {
      ctx.addIssue({ code: 'custom', message: `must be a whole number below 2^53 (got ${String(v)})` });
      return z.NEVER;
    }
    if (n < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${min}${unit} (got ${String(v)})` });
      return z.NEVER;
    }
    return Math.round(n);
  });
}
const bytes = units((t, w) => Number(parseSize(t, w)), 1, '', 'bytes');
const rate = units((t, w) => Number(parseSize(t, w)), MIN_RATE_BYTES, ` bytes/s (${MIN_RATE_BYTES >> 20}M)`);
// A link speed given as text is in bits per second, as on the command line (`10G` = 10 Gbit/s).
const linkRate = units(parseLinkSpeed, MIN_RATE_BYTES, ` bytes/s (about ${(MIN_RATE_BYTES * 8 / 1e6).toFixed(1)}M in bits)`);
const ms = units(parseDuration, 1, '', 'milliseconds');

/** Which guest pages a writer dirties, at how many pages per simulated second. */
const workloadSchema = z.object({
  kind: z.enum(['uniform', 'hot', 'ring']),
  rate: z.number().nonnegative().max(MAX_WRITE_RATE),
  hotFraction: z.number().gt(0).lte(1).optional(),
  hotProbability: z.number().min(0).max(1).optional(),
}).strict();

const deviceSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'must be letters, digits, _ . -').optional(),
  profile: z.enum(['mlx5', 'pds', 'none']),
  minPageSize: bytes.optional(),
  maxPageSize: bytes.optional(),
  maxRanges: z.number().int().positive().optional(),
  maxAddressSpaceBits: z.number().int().min(12).max(64).optional(),
  /** Device state sent at switchover (counts as pending). */
  stateBytes: bytes.optional(),
  /** Size of the device's 64-bit BAR (a power of two). */
  barBytes: bytes.optional(),
  workload: workloadSchema.optional(),
  /** Whether the device's IOMMU can track dirty pages (default true). */
  iommuDirty: z.boolean().optional(),
}).strict();

const faultSchema = z.object({
  device: z.string(),
  /** Injected before this sync (1 = the first sync, at setup). */
  iteration: z.number().int().positive(),
  kind: z.enum(['report-error', 'tracker-error']),
}).strict();

export const migrationSchema = z.object({
  ram: bytes.default(512 * MiB),
  /** Where guest RAM below 4 GiB ends at most; the rest goes above 4 GiB (QEMU's max-ram-below-4g). */
  maxRamBelow4g: bytes.default(LOW_RAM_LIMIT),
  hostPageSize: z.number().int().min(4096).max(MAX_HOST_PAGE_SIZE).refine(isPowerOfTwo, 'must be a power of two').default(4096),
  vcpus: z.number().int().min(0).max(64).default(2),
  vcpuWorkload: workloadSchema.default({ kind: 'hot', rate: 6000 }),
  devices: z.array(deviceSchema).min(1, 'needs at least one device').default([{ profile: 'mlx5' }, { profile: 'mlx5' }, { profile: 'pds' }]),
  /** max-bandwidth in bytes per second (at least MIN_RATE_BYTES). */
  bandwidth: rate.default(128 * MiB),
  downtimeLimit: ms.default(300),
  /**
   * Link speed for the stop-and-copy phase: a number is bytes per second, text is bits per second
   * as on the command line (`"10G"` = 10 Gbit/s); default 10 Gbit/s, at least the bandwidth.
   */
  linkSpeed: linkRate.default(1_250_000_000),
  autoConverge: z.boolean().default(false),
  enableMigration: z.enum(['auto', 'on']).default('auto'),
  /**
   * IOMMU dirty tracking for the container: auto (when device logging is not possible and the
   * HWPT has the capability), on (even when every device could log), off (never).
   */
  iommu: z.enum(['auto', 'on', 'off']).default('auto'),
  /**
   * How the host backs guest RAM, which fixes the IOPTEs iommufd maps it with: `small` (4 KiB
   * pages, THP off) → 4 KiB IOPTEs; `huge` (hugetlbfs or THP) → 2 MiB IOPTEs where a RAM section
   * is 2 MiB aligned, so IOMMU dirty tracking reports 2 MiB for any write into one (contract §8).
   */
  ramBacking: z.enum(['small', 'huge']).default('small'),
  policy: z.enum(['fail', 'restart']).default('fail'),
  maxIterations: z.number().int().positive().default(30),
  /** Cap on simulated time before a forced switchover (checked every window; at most a day). */
  maxTime: ms.refine((n) => n <= MAX_TIME_MS, `must be at most ${MAX_TIME_MS / 3_600_000}h`).default(120_000),
  /** 64-bit: a safe integer, a bigint, or a decimal or 0x hex string, within 0..2^64-1. */
  seed: z.union([z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER), z.bigint().nonnegative().max(SEED_MAX), z.string()])
    .transform((v, ctx) => {
      if (typeof v !== 'string') return BigInt(v);
      try {
        return parseSeed(v, 'value');
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^value: /, '') });
        return z.NEVER;
      }
    }).default(1n),
  faults: z.array(faultSchema).default([]),
  /** Test-only: the vCPU log loses one dirty page in the final sync (the check must then fail). */
  dropDirtyBit: z.boolean().default(false),
  /** DMA/vCPU writer threads (default: the machine's cores). */
  writerThreads: dmaThreadsSchema.optional(),
  /** Refuse a run estimated to need more bytes than this (default: the memory available when it starts). */
  maxMemory: bytes.optional(),
  /**
   * How guest memory is simulated: bytes (every page's contents, copied and compared byte for
   * byte), versions (one write version per page: writers bump it, the copy carries it, the check
   * compares it), or auto (bytes up to AUTO_BYTES_MAX_RAM, versions above).
   */
  memory: z.enum(['bytes', 'versions', 'auto']).default('auto'),
}).strict();

export type MigrationOptions = z.input<typeof migrationSchema>;

export interface WorkloadOptions { kind: Exclude<WorkloadKind, 'shared-words'>; rate: number; hotFraction?: number; hotProbability?: number }

export interface FilledDevice {
  name: string;
  profile: ProfileName;
  minPageSize?: number;
  maxPageSize?: number;
  maxRanges?: number;
  maxAddressSpaceBits?: number;
  iommuDirty?: boolean;
  stateBytes: number;
  barBytes: number;
  workload: WorkloadOptions;
}

export interface FilledMigrationOptions {
  ram: number;
  maxRamBelow4g: number;
  hostPageSize: number;
  vcpus: number;
  vcpuWorkload: WorkloadOptions;
  devices: FilledDevice[];
  bandwidth: number;
  downtimeLimit: number;
  linkSpeed: number;
  autoConverge: boolean;
  enableMigration: 'auto' | 'on';
  iommu: 'auto' | 'on' | 'off';
  ramBacking: 'small' | 'huge';
  policy: RecoveryPolicy;
  maxIterations: number;
  maxTime: number;
  seed: bigint;
  faults: Array<{ device: string; iteration: number; kind: 'report-error' | 'tracker-error' }>;
  dropDirtyBit: boolean;
  writerThreads: number | undefined;
  maxMemory: number | undefined;
  /** The mode in effect ('auto' resolved by the guest size). */
  memory: MemoryMode;
}

/** Per profile: device state size, BAR size and DMA traffic when the options leave them out. */
export const PROFILE_DEFAULTS: Record<ProfileName, { stateBytes: number; barBytes: number; workload: WorkloadOptions }> = {
  // A NIC: receive rings written in order.
  mlx5: { stateBytes: 2 * MiB, barBytes: 32 * MiB, workload: { kind: 'ring', rate: 3000 } },
  // A storage controller: reads land anywhere in guest buffers.
  pds: { stateBytes: 1 * MiB, barBytes: 16 * MiB, workload: { kind: 'uniform', rate: 1500 } },
  none: { stateBytes: 512 << 10, barBytes: 16 * MiB, workload: { kind: 'uniform', rate: 500 } },
};

const fail = badOption;

/**
 * Checks each field on its own (types, units, ranges), not how fields relate: a config file is
 * checked so before flags override some of its fields.
 */
export function checkMigrationFields(options: MigrationOptions = {}): z.output<typeof migrationSchema> {
  return parseOptions(migrationSchema, options);
}

export function fillMigrationOptions(options: MigrationOptions = {}): FilledMigrationOptions {
  const o = checkMigrationFields(options);
  const counts = new Map<string, number>();
  const devices = o.devices.map((d, i): FilledDevice => {
    const def = PROFILE_DEFAULTS[d.profile];
    const n = counts.get(d.profile) ?? 0;
    counts.set(d.profile, n + 1);
    const barBytes = d.barBytes ?? def.barBytes;
    if (!isPowerOfTwo(barBytes) || barBytes < o.hostPageSize) fail(['devices', i, 'barBytes'], 'must be a power of two of at least a page');
    return { ...d, name: d.name ?? `${d.profile}-${n}`, stateBytes: d.stateBytes ?? def.stateBytes, barBytes, workload: d.workload ?? def.workload };
  });
  const names = new Set<string>();
  devices.forEach((d, i) => {
    if (names.has(d.name)) fail(['devices', i, 'name'], `'${d.name}' is used twice`);
    names.add(d.name);
  });
  const blind = devices.findIndex((d) => d.iommuDirty === false);
  if (o.iommu === 'on' && blind >= 0) fail(['iommu'], `'on' needs IOMMU dirty tracking, and the IOMMU of ${devices[blind]!.name} lacks the capability`);
  if (o.ram % o.hostPageSize !== 0) fail(['ram'], `must be a multiple of the page size ${o.hostPageSize}`);
  if (o.ram < 2 * MiB) fail(['ram'], 'must be at least 2M');
  if (o.ram > MAX_RAM_BYTES) fail(['ram'], `must be at most 4T (got ${o.ram} bytes): page indexes stay below 2^30`);
  const memory: MemoryMode = o.memory === 'auto' ? (o.ram > AUTO_BYTES_MAX_RAM ? 'versions' : 'bytes') : o.memory;
  if (memory === 'bytes' && o.ram > MAX_BYTE_RAM_BYTES) fail(['ram'], `must be at most 16G with memory 'bytes' (got ${o.ram} bytes): guest RAM is one typed array of at most 2^32 32-bit words; use memory 'versions'`);
  if (o.linkSpeed < o.bandwidth) fail(['linkSpeed'], `${o.linkSpeed} bytes/s is below the bandwidth ${o.bandwidth}: the link cannot carry the pre-copy rate`);
  if (o.maxRamBelow4g % o.hostPageSize !== 0 || o.maxRamBelow4g < 2 * MiB || o.maxRamBelow4g > LOW_RAM_LIMIT) fail(['maxRamBelow4g'], 'must be a page multiple within 2M..3G');
  o.faults.forEach((f, i) => {
    if (!names.has(f.device)) fail(['faults', i, 'device'], `no device named '${f.device}'`);
    // Pre-copy syncs stop at maxIterations; the final sync comes after them.
    if (f.iteration > o.maxIterations + 1) fail(['faults', i, 'iteration'], `sync ${f.iteration} never happens: a run makes at most maxIterations + 1 = ${o.maxIterations + 1} syncs`);
  });
  return { ...o, devices, writerThreads: o.writerThreads, maxMemory: o.maxMemory, memory };
}
