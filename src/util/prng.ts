// A small seeded PRNG for reproducible runs (fuzz, workloads, stress): one seed gives one
// stream, on every platform. xoshiro128** (32-bit operations only, fast in JS) seeded through
// splitmix64 so that nearby seeds (1, 2, 3) give unrelated streams.

import { randomBytes } from 'node:crypto';

export interface Prng {
  /** Uniform in [0, 2^32). */
  nextU32(): number;
  /** Uniform in [0, 1), 53 bits. */
  nextFloat(): number;
  /** Uniform in [0, 2^64). */
  nextBigU64(): bigint;
  /** Uniform integer in [lo, hi], both inclusive; lo ≤ hi, both safe integers. */
  int(lo: number, hi: number): number;
}

const U64 = (1n << 64n) - 1n;
/** The largest seed a command accepts: seeds are 64-bit, 0..2^64-1 (createPrng would wrap more). */
export const SEED_MAX = U64;
const TWO_POW_32 = 0x1_0000_0000;

/** A fresh 64-bit seed for a run given none (printed, so the run can be repeated). */
export function randomSeed(): bigint {
  return randomBytes(8).readBigUInt64BE();
}

function splitmix64(state: { s: bigint }): bigint {
  state.s = (state.s + 0x9e3779b97f4a7c15n) & U64;
  let z = state.s;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & U64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & U64;
  return z ^ (z >> 31n);
}

/** `seed`: any integer (number or bigint); only its low 64 bits matter. */
export function createPrng(seed: number | bigint): Prng {
  const sm = { s: BigInt.asUintN(64, BigInt(seed)) };
  const a = splitmix64(sm);
  const b = splitmix64(sm);
  let s0 = Number(a & 0xffffffffn) >>> 0;
  let s1 = Number(a >> 32n) >>> 0;
  let s2 = Number(b & 0xffffffffn) >>> 0;
  let s3 = Number(b >> 32n) >>> 0;
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is a fixed point

  const nextU32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const nextFloat = (): number => ((nextU32() >>> 5) * 0x4000000 + (nextU32() >>> 6)) / 2 ** 53;
  return {
    nextU32,
    nextFloat,
    nextBigU64: () => (BigInt(nextU32()) << 32n) | BigInt(nextU32()),
    int(lo: number, hi: number): number {
      const span = hi - lo + 1;
      // Multiply-shift for spans up to 2^32 (bias below 2^-32 per value); floats beyond.
      if (span <= TWO_POW_32) return lo + Math.floor((nextU32() * span) / TWO_POW_32);
      return lo + Math.floor(nextFloat() * span);
    },
  };
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
