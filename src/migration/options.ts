// Migration options: one zod schema checks them once, at the edge (library call or --config
// file), and fills defaults into a trusted FilledMigrationOptions. Sizes and durations take
// numbers (bytes, ms) or the CLI's unit strings ('512M', '300ms'). A bad field is one
// DMALOG_BAD_OPTION error whose message starts with the field's path.
import { z } from 'zod';
import { parseDuration, parseSize } from '../cli/args.js';
import { DmalogError } from '../uapi/errno.js';
import { LOW_RAM_LIMIT } from './memory-map.js';
import type { RecoveryPolicy } from '../coordinator/coordinator.js';
import type { ProfileName } from '../device/profiles.js';
import type { WorkloadKind } from '../workload/workload.js';

const MiB = 1 << 20;

function units(parse: (text: string, what: string) => number, min: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    let n: number;
    try {
      n = typeof v === 'number' ? v : parse(v, 'value');
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^value: /, '') });
      return z.NEVER;
    }
    if (!Number.isSafeInteger(Math.round(n)) || n < min) {
      ctx.addIssue({ code: 'custom', message: `must be at least ${min} (got ${String(v)})` });
      return z.NEVER;
    }
    return Math.round(n);
  });
}
const bytes = units((t, w) => Number(parseSize(t, w)), 1);
const ms = units(parseDuration, 1);

/** Which guest pages a writer dirties, at how many pages per simulated second. */
const workloadSchema = z.object({
  kind: z.enum(['uniform', 'hot', 'ring']),
  rate: z.number().nonnegative(),
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
  hostPageSize: z.number().int().min(4096).refine((n) => (n & (n - 1)) === 0, 'must be a power of two').default(4096),
  vcpus: z.number().int().min(0).max(64).default(2),
  vcpuWorkload: workloadSchema.default({ kind: 'hot', rate: 6000 }),
  devices: z.array(deviceSchema).min(1, 'needs at least one device').default([{ profile: 'mlx5' }, { profile: 'mlx5' }, { profile: 'pds' }]),
  /** max-bandwidth in bytes per second. */
  bandwidth: bytes.default(128 * MiB),
  downtimeLimit: ms.default(300),
  /** Link speed for the stop-and-copy phase, bytes per second (default 10 Gbit/s). */
  linkSpeed: bytes.default(1_250_000_000),
  autoConverge: z.boolean().default(false),
  enableMigration: z.enum(['auto', 'on']).default('auto'),
  policy: z.enum(['fail', 'restart']).default('fail'),
  maxIterations: z.number().int().positive().default(30),
  /** Cap on simulated time before a forced switchover. */
  maxTime: ms.default(120_000),
  seed: z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/, 'must be a decimal integer')]).default(1),
  faults: z.array(faultSchema).default([]),
  /** Test-only: the vCPU log loses one dirty page in the final sync (the check must then fail). */
  dropDirtyBit: z.boolean().default(false),
  /** DMA/vCPU writer threads (default: the machine's cores). */
  writerThreads: z.number().int().positive().optional(),
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
  policy: RecoveryPolicy;
  maxIterations: number;
  maxTime: number;
  seed: bigint;
  faults: Array<{ device: string; iteration: number; kind: 'report-error' | 'tracker-error' }>;
  dropDirtyBit: boolean;
  writerThreads: number | undefined;
}

/** Per profile: device state size, BAR size and DMA traffic when the options leave them out. */
export const PROFILE_DEFAULTS: Record<ProfileName, { stateBytes: number; barBytes: number; workload: WorkloadOptions }> = {
  // A NIC: receive rings written in order.
  mlx5: { stateBytes: 2 * MiB, barBytes: 32 * MiB, workload: { kind: 'ring', rate: 3000 } },
  // A storage controller: reads land anywhere in guest buffers.
  pds: { stateBytes: 1 * MiB, barBytes: 16 * MiB, workload: { kind: 'uniform', rate: 1500 } },
  none: { stateBytes: 512 << 10, barBytes: 16 * MiB, workload: { kind: 'uniform', rate: 500 } },
};

function fail(path: ReadonlyArray<PropertyKey>, message: string): never {
  const at = path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${String(k)}` : String(k)), '');
  throw new DmalogError('DMALOG_BAD_OPTION', `${at || 'options'}: ${message}`);
}

export function fillMigrationOptions(options: MigrationOptions = {}): FilledMigrationOptions {
  const parsed = migrationSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    // An unknown key is named in the path itself: devices[0].bogus, not devices[0].
    if (issue.code === 'unrecognized_keys') fail([...issue.path, issue.keys[0]!], 'unknown field');
    fail(issue.path, issue.message);
  }
  const o = parsed.data;
  const counts = new Map<string, number>();
  const devices = o.devices.map((d, i): FilledDevice => {
    const def = PROFILE_DEFAULTS[d.profile];
    const n = counts.get(d.profile) ?? 0;
    counts.set(d.profile, n + 1);
    const barBytes = d.barBytes ?? def.barBytes;
    if ((barBytes & (barBytes - 1)) !== 0 || barBytes < o.hostPageSize) fail(['devices', i, 'barBytes'], 'must be a power of two of at least a page');
    return { ...d, name: d.name ?? `${d.profile}-${n}`, stateBytes: d.stateBytes ?? def.stateBytes, barBytes, workload: d.workload ?? def.workload };
  });
  const names = new Set<string>();
  devices.forEach((d, i) => {
    if (names.has(d.name)) fail(['devices', i, 'name'], `'${d.name}' is used twice`);
    names.add(d.name);
  });
  if (o.ram % o.hostPageSize !== 0) fail(['ram'], `must be a multiple of the page size ${o.hostPageSize}`);
  if (o.ram < 2 * MiB) fail(['ram'], 'must be at least 2M');
  if (o.maxRamBelow4g % o.hostPageSize !== 0 || o.maxRamBelow4g < 2 * MiB || o.maxRamBelow4g > LOW_RAM_LIMIT) fail(['maxRamBelow4g'], 'must be a page multiple within 2M..3G');
  o.faults.forEach((f, i) => { if (!names.has(f.device)) fail(['faults', i, 'device'], `no device named '${f.device}'`); });
  return { ...o, seed: BigInt(o.seed), devices, writerThreads: o.writerThreads };
}
