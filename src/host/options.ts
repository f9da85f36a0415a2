// createHost options: checked once at the public edge by a zod schema (util/options.ts), merged
// over defaults into a trusted FilledHostOptions that nothing re-checks. Every refusal is
// DmalogError DMALOG_BAD_OPTION naming the option, and it comes before any thread is started.
import { z } from 'zod';
import type { Contract } from '../bitmap/iova-bitmap.js';
import { PDS_MAX_RANGES, PROFILE_NAMES, type DeviceConfig, type ProfileName } from '../device/profiles.js';
import { isPowerOfTwo } from '../util/bits.js';
import { badOption, parseOptions } from '../util/options.js';
import { TRANSPORT_KINDS, type TransportKind } from './transport.js';

/** Largest user memory: a Uint8Array (the host's view of it) holds at most 2^32 bytes on Node 20. */
export const MAX_USER_MEMORY_BYTES = 2 ** 32;
/** Devices on one host: each has a tracker thread of its own (about 10 MiB each), so a typo of 10000 is refused, not 10000 threads started. */
export const MAX_DEVICES = 256;
/** Largest device log: 2^35 log bits, an index every log path keeps exact. */
export const MAX_LOG_BYTES = 2 ** 32;
/** Node runs a longer timer after 1 ms (TimeoutOverflowWarning): every call would time out at once. */
export const MAX_CALL_TIMEOUT_MS = 2 ** 31 - 1;
/** Host page sizes: 4 KiB .. 64 KiB, the range Linux runs with (x86; arm64 16K and 64K kernels; ppc64). */
export const MIN_HOST_PAGE_SIZE = 4096;
export const MAX_HOST_PAGE_SIZE = 64 << 10;
/** Tracking page sizes a device may be given: 4 KiB .. 2^63, powers of two a u64 page_size can hold. */
export const MIN_DEVICE_PAGE_SIZE = 4096n;
export const MAX_DEVICE_PAGE_SIZE = 1n << 63n;
/** Address-space bits of a device tracker: a page at least, 64 at most. */
export const MIN_ADDRESS_SPACE_BITS = 12;
export const MAX_ADDRESS_SPACE_BITS = 64;

export interface DeviceOptions {
  name: string;
  profile: ProfileName;
  minPageSize?: number | bigint;
  maxPageSize?: number | bigint;
  maxRanges?: number;
  maxAddressSpaceBits?: number;
  /** Whether the IOMMU in front of the device can track dirty pages (IOMMU_HW_CAP_DIRTY_TRACKING; default true). */
  iommuDirty?: boolean;
}

/** A device as the host keeps it: the driver's config plus what its IOMMU can do. */
export type FilledDevice = DeviceConfig & { iommuDirty: boolean };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/**
 * The level `DMALOG_LOG_LEVEL` asks for, the one reading of it: unset or empty → `fallback` (each
 * caller's own default); one of LOG_LEVELS → that; anything else DMALOG_BAD_OPTION naming the
 * variable (the CLI: a usage error).
 */
export function logLevelFromEnv(fallback: LogLevel): LogLevel {
  const level = process.env['DMALOG_LOG_LEVEL'];
  if (level === undefined || level === '') return fallback;
  if (!(LOG_LEVELS as readonly string[]).includes(level)) badOption(['DMALOG_LOG_LEVEL'], `'${level}' must be one of ${LOG_LEVELS.join(', ')}`);
  return level as LogLevel;
}

export interface HostOptions {
  /** Size of the simulated user address space (default 16 MiB, at most 4 GiB = 2^32 bytes). */
  userMemoryBytes?: number;
  /** Host page size, a power of two within 4 KiB .. 64 KiB; LOG_MAX_RANGES = hostPageSize / 16 (default 4096). */
  hostPageSize?: number;
  devices: DeviceOptions[];
  /** `atomic` (the seed's contract, default) or `plain` read-modify-write (the merged kernel's). */
  contract?: Contract;
  /** Deadline for every call into a tracker thread, 1 .. 2^31 - 1 ms (default 10 s). */
  callTimeoutMs?: number;
  /** Largest dirty log one device may allocate; bigger START requests fail with ENOMEM (default 256 MiB, at most 4 GiB). */
  maxLogBytes?: number;
  /** pino level (default: $DMALOG_LOG_LEVEL, else `silent`). */
  logLevel?: LogLevel;
  /** How the host reaches each device's driver: its own worker thread (default), or this thread. */
  transport?: TransportKind;
}

export interface FilledHostOptions {
  userMemoryBytes: number;
  hostPageSize: number;
  devices: FilledDevice[];
  contract: Contract;
  callTimeoutMs: number;
  maxLogBytes: number;
  logLevel: LogLevel;
  transport: TransportKind;
}

export const DEFAULT_DEVICE: Record<Exclude<ProfileName, 'none'>, Omit<DeviceConfig, 'name' | 'profile'>> = {
  mlx5: { minPageSize: 4096n, maxPageSize: 1n << 30n, maxRanges: 4, maxAddressSpaceBits: 42 },
  pds: { minPageSize: 4096n, maxPageSize: 1n << 63n, maxRanges: 8, maxAddressSpaceBits: 64 },
};

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.number().int().min(min).max(max);

/** A power-of-two page size as a number or a bigint, within 4 KiB .. 2^63; filled as a bigint. */
const devicePageSize = z.union([z.number().int().min(0), z.bigint()]).transform((v, ctx) => {
  const n = BigInt(v);
  if (n < MIN_DEVICE_PAGE_SIZE) ctx.addIssue({ code: 'custom', message: `must be at least ${MIN_DEVICE_PAGE_SIZE} (got ${n})` });
  else if (n > MAX_DEVICE_PAGE_SIZE) ctx.addIssue({ code: 'custom', message: `must be at most 2^63 (got ${n})` });
  else if (!isPowerOfTwo(n)) ctx.addIssue({ code: 'custom', message: `must be a power of two (got ${n})` });
  else return n;
  return z.NEVER;
});

const deviceSchema = z.strictObject({
  name: z.string().min(1, 'must be a non-empty string'),
  profile: z.enum(PROFILE_NAMES as [ProfileName, ...ProfileName[]]),
  minPageSize: devicePageSize.optional(),
  maxPageSize: devicePageSize.optional(),
  maxRanges: int(1).optional(),
  maxAddressSpaceBits: int(MIN_ADDRESS_SPACE_BITS, MAX_ADDRESS_SPACE_BITS).optional(),
  iommuDirty: z.boolean().optional(),
});

/** The host page size: a power of two within 4 KiB .. 64 KiB (also the vCPU dirty log's granule). */
export const hostPageSizeSchema = int(MIN_HOST_PAGE_SIZE, MAX_HOST_PAGE_SIZE).refine(isPowerOfTwo, 'must be a power of two');
/** The largest dirty log one tracker may allocate, 1 .. 4 GiB. */
export const maxLogBytesSchema = int(1, MAX_LOG_BYTES);

/** Each field's type and bound; how fields relate (names, page sizes, pds ranges) is checked after. */
export const hostSchema = z.strictObject({
  userMemoryBytes: int(1, MAX_USER_MEMORY_BYTES).default(1 << 24),
  hostPageSize: hostPageSizeSchema.default(4096),
  devices: z.array(deviceSchema).min(1, 'must be a non-empty array').max(MAX_DEVICES, `at most ${MAX_DEVICES} devices (a tracker thread each)`),
  contract: z.enum(['atomic', 'plain']).default('atomic'),
  callTimeoutMs: int(1, MAX_CALL_TIMEOUT_MS).default(10_000),
  maxLogBytes: maxLogBytesSchema.default(256 << 20),
  logLevel: z.enum(LOG_LEVELS as [LogLevel, ...LogLevel[]]).optional(),
  transport: z.enum(TRANSPORT_KINDS as [TransportKind, ...TransportKind[]]).default('worker'),
});

export function fillHostOptions(options: HostOptions): FilledHostOptions {
  if (typeof options !== 'object' || options === null) badOption([], 'must be an object');
  const o = parseOptions(hostSchema, options);
  const logLevel = o.logLevel ?? logLevelFromEnv('silent');
  const names = new Set<string>();
  const devices = o.devices.map((d, i) => {
    if (names.has(d.name)) badOption(['devices', i, 'name'], `'${d.name}' is used twice`);
    names.add(d.name);
    return { ...fillDevice(d, o.hostPageSize, i), iommuDirty: d.iommuDirty ?? true };
  });
  return { ...o, devices, logLevel };
}

function fillDevice(d: z.output<typeof deviceSchema>, hostPageSize: number, i: number): DeviceConfig {
  if (d.profile === 'none') {
    return { name: d.name, profile: 'none', minPageSize: BigInt(hostPageSize), maxPageSize: BigInt(hostPageSize), maxRanges: 0, maxAddressSpaceBits: 0 };
  }
  const def = DEFAULT_DEVICE[d.profile];
  const minPageSize = d.minPageSize ?? def.minPageSize;
  const maxPageSize = d.maxPageSize ?? def.maxPageSize;
  if (minPageSize > maxPageSize) badOption(['devices', i, 'minPageSize'], `must not exceed maxPageSize (${minPageSize} > ${maxPageSize})`);
  const maxRanges = d.maxRanges ?? def.maxRanges;
  if (d.profile === 'pds' && maxRanges > PDS_MAX_RANGES) badOption(['devices', i, 'maxRanges'], `must be at most ${PDS_MAX_RANGES} for pds (a u8)`);
  return { name: d.name, profile: d.profile, minPageSize, maxPageSize, maxRanges, maxAddressSpaceBits: d.maxAddressSpaceBits ?? def.maxAddressSpaceBits };
}
