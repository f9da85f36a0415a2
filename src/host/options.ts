// createHost options: checked once at the public edge, merged over defaults into a trusted
// FilledHostOptions that nothing re-checks. Every refusal is DmalogError DMALOG_BAD_OPTION, and
// it comes before any thread is started.
import type { Contract } from '../bitmap/iova-bitmap.js';
import { PDS_MAX_RANGES, PROFILE_NAMES, type DeviceConfig, type ProfileName } from '../device/profiles.js';
import { DmalogError } from '../errors.js';
import { TRANSPORT_KINDS, type TransportKind } from './transport.js';

/** Largest user memory: a Uint8Array (the host's view of it) holds at most 2^32 bytes on Node 20. */
export const MAX_USER_MEMORY_BYTES = 2 ** 32;
/** Largest device log: 2^35 log bits, an index every log path keeps exact. */
export const MAX_LOG_BYTES = 2 ** 32;
/** Node runs a longer timer after 1 ms (TimeoutOverflowWarning): every call would time out at once. */
export const MAX_CALL_TIMEOUT_MS = 2 ** 31 - 1;

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

export interface HostOptions {
  /** Size of the simulated user address space (default 16 MiB, at most 4 GiB = 2^32 bytes). */
  userMemoryBytes?: number;
  /** Host page size; LOG_MAX_RANGES = hostPageSize / 16 (default 4096). */
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

function bad(message: string): never {
  throw new DmalogError('DMALOG_BAD_OPTION', message);
}

function positiveInt(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) bad(`${what} must be a positive integer`);
  if (v > max) bad(`${what} must be at most ${max} (got ${v})`);
  return v;
}

function powerOfTwo(v: unknown, what: string): bigint {
  const n = typeof v === 'number' && Number.isSafeInteger(v) ? BigInt(v) : typeof v === 'bigint' ? v : bad(`${what} must be an integer`);
  if (n <= 0n || (n & (n - 1n)) !== 0n) bad(`${what} must be a power of two (got ${n})`);
  return n;
}

export function fillHostOptions(options: HostOptions): FilledHostOptions {
  if (typeof options !== 'object' || options === null) bad('options must be an object');
  const userMemoryBytes = positiveInt(options.userMemoryBytes ?? 1 << 24, 'options.userMemoryBytes', MAX_USER_MEMORY_BYTES);
  const hostPageSize = Number(powerOfTwo(options.hostPageSize ?? 4096, 'options.hostPageSize'));
  if (hostPageSize < 4096) bad('options.hostPageSize must be at least 4096');
  const contract = options.contract ?? 'atomic';
  if (contract !== 'atomic' && contract !== 'plain') bad(`options.contract must be 'atomic' or 'plain' (got ${String(contract)})`);
  const callTimeoutMs = positiveInt(options.callTimeoutMs ?? 10_000, 'options.callTimeoutMs', MAX_CALL_TIMEOUT_MS);
  const maxLogBytes = positiveInt(options.maxLogBytes ?? 256 << 20, 'options.maxLogBytes', MAX_LOG_BYTES);
  const envLevel = process.env['DMALOG_LOG_LEVEL'];
  const logLevel = options.logLevel ?? (envLevel as LogLevel | undefined) ?? 'silent';
  if (!LOG_LEVELS.includes(logLevel)) bad(`log level must be one of ${LOG_LEVELS.join(', ')} (got ${String(logLevel)})`);
  const transport = options.transport ?? 'worker';
  if (!TRANSPORT_KINDS.includes(transport)) bad(`options.transport must be one of ${TRANSPORT_KINDS.join(', ')} (got ${String(transport)})`);
  if (!Array.isArray(options.devices) || options.devices.length === 0) bad('options.devices must be a non-empty array');
  const names = new Set<string>();
  const devices = options.devices.map((d, i) => {
    const at = `options.devices[${i}]`;
    if (typeof d?.name !== 'string' || d.name === '') bad(`${at}.name must be a non-empty string`);
    if (names.has(d.name)) bad(`${at}.name '${d.name}' is used twice`);
    names.add(d.name);
    if (!PROFILE_NAMES.includes(d.profile)) bad(`${at}.profile must be one of ${PROFILE_NAMES.join(', ')} (got ${String(d.profile)})`);
    const iommuDirty = d.iommuDirty ?? true;
    if (typeof iommuDirty !== 'boolean') bad(`${at}.iommuDirty must be a boolean (got ${String(iommuDirty)})`);
    return { ...fillDevice(d, hostPageSize, at), iommuDirty };
  });
  return { userMemoryBytes, hostPageSize, devices, contract, callTimeoutMs, maxLogBytes, logLevel, transport };
}

function fillDevice(d: DeviceOptions, hostPageSize: number, at: string): DeviceConfig {
  if (d.profile === 'none') {
    return { name: d.name, profile: 'none', minPageSize: BigInt(hostPageSize), maxPageSize: BigInt(hostPageSize), maxRanges: 0, maxAddressSpaceBits: 0 };
  }
  const def = DEFAULT_DEVICE[d.profile];
  const minPageSize = powerOfTwo(d.minPageSize ?? def.minPageSize, `${at}.minPageSize`);
  const maxPageSize = powerOfTwo(d.maxPageSize ?? def.maxPageSize, `${at}.maxPageSize`);
  if (minPageSize < 4096n) bad(`${at}.minPageSize must be at least 4096`);
  if (minPageSize > maxPageSize) bad(`${at}.minPageSize must not exceed maxPageSize`);
  const maxRanges = positiveInt(d.maxRanges ?? def.maxRanges, `${at}.maxRanges`);
  if (d.profile === 'pds' && maxRanges > PDS_MAX_RANGES) bad(`${at}.maxRanges must be at most ${PDS_MAX_RANGES} for pds (a u8)`);
  const maxAddressSpaceBits = positiveInt(d.maxAddressSpaceBits ?? def.maxAddressSpaceBits, `${at}.maxAddressSpaceBits`);
  if (maxAddressSpaceBits < 12 || maxAddressSpaceBits > 64) bad(`${at}.maxAddressSpaceBits must be within 12..64`);
  return { name: d.name, profile: d.profile, minPageSize, maxPageSize, maxRanges, maxAddressSpaceBits };
}
