// What a migration run will allocate, checked before it allocates anything: a guest that cannot
// fit is refused up front with one coded error, instead of a RangeError half-way, an unhandled
// rejection from the writer pool, or the kernel's OOM killer.
//
// The run holds guest RAM twice (source and destination, both SharedArrayBuffers written in
// full; in page-version mode one 4-byte version per page instead of the page), one bit per page
// a few times over (the RAM dirty bitmap, the report bitmap, one log per tracker), and one Node
// thread per writer and per device. Measured on a 2-core machine with 2 writer and 3 tracker
// threads (`/usr/bin/time -f %M dmalog migrate --ram R`): 16 MiB → 143 MiB peak resident,
// 512 MiB → 1.13 GiB, 2 GiB → 4.12 GiB; with page versions and 8 devices (perf/RESULTS.md,
// "scale") 1 TiB → 2.4 GiB. The estimate stays above each.
import os from 'node:os';
import { DmalogError } from '../errors.js';
import { ceilDiv } from '../util/bits.js';
import type { FilledMigrationOptions } from './options.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;
/** The process itself: V8 heaps, code, the coordinator, pino. */
const BASE_BYTES = 64 * MiB;
/** One worker thread (an isolate with its own heap). */
const THREAD_BYTES = 16 * MiB;
/** Guest-sized slack: timeline and per-window arrays, allocator rounding. */
const RAM_SLACK = 0.05;
/** One page's write version (guest-memory.ts). */
const VERSION_BYTES = 4;

export interface Footprint {
  /** Estimated peak bytes of the whole run. */
  bytes: number;
  /** What the estimate counts, for the refusal message. */
  parts: string;
}

export function estimateFootprint(o: FilledMigrationOptions, writerThreads = o.writerThreads ?? os.availableParallelism()): Footprint {
  const pages = o.ram / o.hostPageSize;
  // RAM dirty bitmap, report bitmap, the vCPU log and one log per device (each with its summary).
  const bitmaps = ceilDiv(pages, 8) * (2 + 2 * (o.devices.length + 1));
  const threads = writerThreads + o.devices.length;
  const guest = o.memory === 'versions' ? pages * VERSION_BYTES : o.ram;
  const bytes = 2 * guest * (1 + RAM_SLACK) + bitmaps + BASE_BYTES + threads * THREAD_BYTES;
  const what = o.memory === 'versions' ? 'a write version per page twice (source and destination)' : 'guest RAM twice (source and destination)';
  return { bytes: Math.ceil(bytes), parts: `${what}, dirty bitmaps and ${threads} threads` };
}

/** Memory a run may use now: what the kernel calls available, within a cgroup limit if any. */
export function availableMemory(): number {
  let bytes = os.freemem();
  // Node 20 reports "no limit" as 2^64 (or 0): only a limit below the machine's memory counts.
  const limit = process.constrainedMemory?.() ?? 0;
  if (limit > 0 && limit < os.totalmem()) bytes = Math.min(bytes, Math.max(0, limit - process.memoryUsage().rss));
  return bytes;
}

/**
 * Refuses (DMALOG_NO_MEMORY) a run whose estimate exceeds `limitBytes` (default: available
 * memory). `blame` is the option the message starts with (a front end names its flag from it).
 */
export function checkFootprint(o: FilledMigrationOptions, limitBytes = o.maxMemory ?? availableMemory(), blame: 'ram' | 'maxMemory' = 'ram'): Footprint {
  const f = estimateFootprint(o);
  if (f.bytes > limitBytes) {
    const limit = o.maxMemory !== undefined ? `the maxMemory limit of ${gib(limitBytes)}` : `the ${gib(limitBytes)} available on this machine now`;
    throw new DmalogError('DMALOG_NO_MEMORY', `${blame}: a ${gib(o.ram)} guest needs about ${gib(f.bytes)} (${f.parts}), more than ${limit}`);
  }
  return f;
}

/** 1.2 GiB, 512 MiB; below 1 MiB exact (a limit of 1 byte is not "0 MiB"). */
function gib(bytes: number): string {
  if (bytes >= GiB) return `${(bytes / GiB).toFixed(1)} GiB`;
  if (bytes >= MiB) return `${(bytes / MiB).toFixed(0)} MiB`;
  return bytes % 1024 === 0 && bytes > 0 ? `${bytes / 1024} KiB` : `${bytes} byte${bytes === 1 ? '' : 's'}`;
}
