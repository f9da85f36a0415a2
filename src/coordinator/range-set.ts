// Sets of half-open IOVA ranges [iova, iova + length) as sorted, disjoint, non-touching lists.
// Used to track what a restarted tracker still owes: pure functions, bigint throughout.
import type { LoggingRange } from '../uapi/structs.js';
import { compareRanges } from '../util/ranges.js';

export type RangeSet = readonly LoggingRange[];

/** Sorted, with overlapping or touching ranges joined; empty ranges dropped. */
export function normalize(ranges: readonly LoggingRange[]): LoggingRange[] {
  const sorted = ranges.filter((r) => r.length > 0n).sort(compareRanges);
  const out: LoggingRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.iova <= last.iova + last.length) {
      const end = r.iova + r.length > last.iova + last.length ? r.iova + r.length : last.iova + last.length;
      last.length = end - last.iova;
    } else {
      out.push({ iova: r.iova, length: r.length });
    }
  }
  return out;
}

export function intersect(set: RangeSet, window: LoggingRange): LoggingRange[] {
  const out: LoggingRange[] = [];
  const wEnd = window.iova + window.length;
  for (const r of set) {
    const a = r.iova > window.iova ? r.iova : window.iova;
    const rEnd = r.iova + r.length;
    const b = rEnd < wEnd ? rEnd : wEnd;
    if (b > a) out.push({ iova: a, length: b - a });
  }
  return out;
}

export function subtract(set: RangeSet, window: LoggingRange): LoggingRange[] {
  const out: LoggingRange[] = [];
  const wEnd = window.iova + window.length;
  for (const r of set) {
    const rEnd = r.iova + r.length;
    if (rEnd <= window.iova || r.iova >= wEnd) { out.push({ ...r }); continue; }
    if (r.iova < window.iova) out.push({ iova: r.iova, length: window.iova - r.iova });
    if (rEnd > wEnd) out.push({ iova: wEnd, length: rEnd - wEnd });
  }
  return out;
}

export function totalLength(set: RangeSet): bigint {
  return set.reduce((sum, r) => sum + r.length, 0n);
}
