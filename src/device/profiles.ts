// contract §4: what each variant driver adds on top of the core checks. Pure functions over
// validated input: page-size choice, range merging, the address-space limit.
import type { Errno } from '../uapi/errno.js';
import type { LoggingRange } from '../uapi/structs.js';
import { isPowerOfTwo } from '../util/bits.js';
import { sortRanges } from '../util/ranges.js';
import type { Checked } from '../util/result.js';

export type ProfileName = 'mlx5' | 'pds' | 'none';
export const PROFILE_NAMES: readonly ProfileName[] = ['mlx5', 'pds', 'none'];

/** A device as configured: validated once at the edge (host options). */
export interface DeviceConfig {
  name: string;
  profile: ProfileName;
  /** mlx5: smallest and largest tracking page size. */
  minPageSize: bigint;
  maxPageSize: bigint;
  /** How many ranges the device tracks at most (pds: a u8). */
  maxRanges: number;
  /** mlx5: log2 of the address space the tracker can cover. */
  maxAddressSpaceBits: number;
}

export interface ProfileTraits {
  supportsLogging: boolean;
  /** REPORT outside the tracked ranges: mlx5 reports clean, pds refuses unless inside one region. */
  reportMustLieInOneRegion: boolean;
  /** An injected tracker error: mlx5 keeps failing until STOP+START, pds fails that call only. */
  stickyError: boolean;
}

export const PROFILE_TRAITS: Record<ProfileName, ProfileTraits> = {
  mlx5: { supportsLogging: true, reportMustLieInOneRegion: false, stickyError: true },
  pds: { supportsLogging: true, reportMustLieInOneRegion: true, stickyError: false },
  none: { supportsLogging: false, reportMustLieInOneRegion: false, stickyError: false },
};

export const PDS_MAX_RANGES = 255;

export function floorPowerOfTwo(n: bigint): bigint {
  if (n <= 0n) return 0n;
  return 1n << BigInt(n.toString(2).length - 1);
}

export function ceilPowerOfTwo(n: bigint): bigint {
  if (n <= 1n) return 1n;
  return 1n << BigInt((n - 1n).toString(2).length);
}

/**
 * Merge sorted, non-overlapping ranges down to `maxRanges`: repeatedly join the first adjacent
 * pair with the smallest gap, so the gap becomes tracked. Tracking more is safe; less would not be.
 */
export function mergeRanges(sorted: readonly LoggingRange[], maxRanges: number): LoggingRange[] {
  const out = sorted.map((r) => ({ iova: r.iova, length: r.length }));
  while (out.length > Math.max(1, maxRanges)) {
    let best = 0;
    let bestGap = -1n;
    for (let i = 0; i + 1 < out.length; i++) {
      const gap = out[i + 1]!.iova - (out[i]!.iova + out[i]!.length);
      if (bestGap < 0n || gap < bestGap) { best = i; bestGap = gap; }
    }
    const a = out[best]!;
    const b = out[best + 1]!;
    out.splice(best, 2, { iova: a.iova, length: b.iova + b.length - a.iova });
  }
  return out;
}

export interface ProfileStart { pageSize: bigint; regions: LoggingRange[] }

/** START as the driver sees it (the "active" check is the tracker's). */
export function profileStart(config: DeviceConfig, pageSizeHint: bigint, ranges: readonly LoggingRange[]): Checked<ProfileStart> {
  const sorted = sortRanges(ranges);
  switch (config.profile) {
    case 'none':
      return { errno: 'ENOTTY' };
    case 'pds': {
      if (pageSizeHint < 4096n || !isPowerOfTwo(pageSizeHint)) return { errno: 'EINVAL' };
      return { pageSize: pageSizeHint, regions: mergeRanges(sorted, Math.min(config.maxRanges, PDS_MAX_RANGES)) };
    }
    case 'mlx5': {
      const regions = mergeRanges(sorted, config.maxRanges);
      const total = regions.reduce((sum, r) => sum + r.length, 0n);
      if (ceilPowerOfTwo(total) > 1n << BigInt(config.maxAddressSpaceBits)) return { errno: 'EOPNOTSUPP' };
      let pageSize = floorPowerOfTwo(pageSizeHint);
      if (pageSize < config.minPageSize) pageSize = config.minPageSize;
      if (pageSize > config.maxPageSize) pageSize = config.maxPageSize;
      return { pageSize, regions };
    }
  }
}

/** The errno for a call made in the wrong logging state (contract §4). */
export const STATE_ERRNO: Record<'startWhileActive' | 'reportWhenIdle', Errno> = {
  startWhileActive: 'EINVAL',
  reportWhenIdle: 'EINVAL',
};
