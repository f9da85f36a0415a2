// Seeded page generators for DMA traffic: which guest pages a burst of writes touches. Pure
// functions of (spec, seed, burst): the engine that performs a burst and the oracle that checks
// it recompute the same pages, so nothing needs storing. Pages are absolute page indexes in
// [pageBase, pageBase + pageCount); what a page maps to (IOVA, guest offset) is the caller's.
import { DmalogError } from '../errors.js';
import { createPrng, type Prng } from '../util/prng.js';

export type WorkloadKind = 'uniform' | 'hot' | 'ring' | 'shared-words';
export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['uniform', 'hot', 'ring', 'shared-words'];

export interface WorkloadSpec {
  kind: WorkloadKind;
  /** First page of the space written. */
  pageBase: number;
  pageCount: number;
  /** Which writer this is (e.g. tracker t of `writers`): hot sets and shared-words depend on it. */
  writer: number;
  writers: number;
  /** One sequence of bursts (e.g. one device queue); each stream draws its own writes. */
  stream: number;
  /** hot: share of the space in the writer's hot set (default 1/16). */
  hotFraction?: number;
  /** hot: chance a write lands in the hot set (default 0.9). */
  hotProbability?: number;
}

const DEFAULT_HOT_FRACTION = 1 / 16;
const DEFAULT_HOT_PROBABILITY = 0.9;
// Odd 64-bit constants (golden ratio and a Weyl increment) so that (seed, stream, burst)
// triples map to distinct PRNG seeds; splitmix64 inside createPrng decorrelates neighbours.
const K_SEED = 0x9e3779b97f4a7c15n;
const K_STREAM = 0xd1b54a32d192ed03n;
const K_WRITER = 0xaef17502108ef2d9n;

function mix(seed: bigint | number, a: bigint, b: number, c: number): bigint {
  return BigInt.asUintN(64, BigInt(seed) * K_SEED + a * BigInt(b) + BigInt(c));
}

export function checkWorkload(spec: WorkloadSpec): void {
  if (!WORKLOAD_KINDS.includes(spec.kind)) throw new DmalogError('DMALOG_BAD_OPTION', `workload kind must be one of ${WORKLOAD_KINDS.join(', ')}`);
  for (const k of ['pageBase', 'pageCount', 'writer', 'writers', 'stream'] as const) {
    if (!Number.isSafeInteger(spec[k]) || spec[k] < 0) throw new DmalogError('DMALOG_BAD_OPTION', `workload.${k} must be a non-negative integer`);
  }
  if (spec.pageCount === 0) throw new DmalogError('DMALOG_BAD_OPTION', 'workload.pageCount must be positive');
  if (spec.writers === 0 || spec.writer >= spec.writers) throw new DmalogError('DMALOG_BAD_OPTION', 'workload.writer must be below workload.writers');
  if (spec.kind === 'shared-words' && spec.pageCount <= spec.writer) throw new DmalogError('DMALOG_BAD_OPTION', 'shared-words needs more pages than writers');
}

/**
 * The pages burst `burst` of `spec.stream` writes, in order, into `out` (allocated if absent or
 * too small; the first `count` entries are the result). They depend on `count` (a ring burst
 * starts at burst × count): a burst stopped after n writes wrote the first n of its full count.
 * `ringAt`, when given, is how many pages the stream wrote before this burst: a ring burst then
 * starts there instead, so bursts of different counts continue one another.
 */
export function generatePages(spec: WorkloadSpec, seed: bigint | number, burst: number, count: number, out?: Int32Array, ringAt?: number): Int32Array {
  const pages = out && out.length >= count ? out : new Int32Array(count);
  const { pageBase, pageCount } = spec;
  const prng = createPrng(mix(seed, K_STREAM, spec.stream, burst));
  switch (spec.kind) {
    case 'uniform':
      for (let i = 0; i < count; i++) pages[i] = pageBase + draw(prng, pageCount);
      break;
    case 'hot': {
      // The hot set is one block per writer, the same for all its streams and bursts.
      const hotPages = Math.max(1, Math.min(pageCount, Math.round(pageCount * (spec.hotFraction ?? DEFAULT_HOT_FRACTION))));
      const hotStart = draw(createPrng(mix(seed, K_WRITER, spec.writer, 0)), pageCount);
      const p = spec.hotProbability ?? DEFAULT_HOT_PROBABILITY;
      for (let i = 0; i < count; i++) {
        pages[i] = pageBase + (prng.nextFloat() < p ? (hotStart + draw(prng, hotPages)) % pageCount : draw(prng, pageCount));
      }
      break;
    }
    case 'ring': {
      // Each stream walks the ring from its own start; burst k continues where burst k-1 stopped.
      const start = draw(createPrng(mix(seed, K_STREAM, spec.stream, -1)), pageCount);
      const at = Number((BigInt(start) + (ringAt === undefined ? BigInt(burst) * BigInt(count) : BigInt(ringAt))) % BigInt(pageCount));
      for (let i = 0; i < count; i++) pages[i] = pageBase + ((at + i) % pageCount);
      break;
    }
    case 'shared-words': {
      // Writer t of N writes only pages ≡ t (mod N): every bitmap word holds several writers' bits.
      const { writer, writers } = spec;
      const slots = Math.floor((pageCount - 1 - writer) / writers) + 1;
      for (let i = 0; i < count; i++) pages[i] = pageBase + writer + writers * draw(prng, slots);
      break;
    }
  }
  return pages;
}

/** Uniform in [0, n); the clamp keeps a rounded product below n for spaces past 2^21 pages. */
function draw(prng: Prng, n: number): number {
  return Math.min(n - 1, Math.floor((prng.nextU32() * n) / 0x1_0000_0000));
}
