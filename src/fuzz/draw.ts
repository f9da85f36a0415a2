// The one source of randomness the call generator sees. The seeded PRNG backs it for the CLI and
// long runs (a seed replays a run); fast-check backs it in property tests (arbitraries.ts), which
// then shrink the same draws. Either way generate.ts is written once.
import type { Prng } from '../util/prng.js';

export interface Draw {
  /** Integer in [lo, hi], both inclusive (safe integers). Shrinks toward lo. */
  int(lo: number, hi: number): number;
  /** Any u64. */
  u64(): bigint;
  /** In [0, 1). */
  unit(): number;
}

export function prngDraw(prng: Prng): Draw {
  return { int: (lo, hi) => prng.int(lo, hi), u64: () => prng.nextBigU64(), unit: () => prng.nextFloat() };
}

/** One of `items`; put the ordinary ones first (fast-check shrinks toward index 0). */
export function pick<T>(d: Draw, items: readonly T[]): T {
  return items[d.int(0, items.length - 1)]!;
}

/** True with probability `percent`/100. */
export function chance(d: Draw, percent: number): boolean {
  return d.int(0, 99) < percent;
}

/** A choice among `[weight, value]` pairs. */
export function weighted<T>(d: Draw, table: ReadonlyArray<readonly [number, T]>): T {
  const total = table.reduce((s, [w]) => s + w, 0);
  let x = d.int(0, total - 1);
  for (const [w, v] of table) {
    if (x < w) return v;
    x -= w;
  }
  return table[table.length - 1]![1];
}

/** `n` random bytes. */
export function bytes(d: Draw, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 4) {
    const v = d.int(0, 0xffffffff);
    for (let k = 0; k < 4 && i + k < n; k++) out[i + k] = (v >>> (8 * k)) & 0xff;
  }
  return out;
}
