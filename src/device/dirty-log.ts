// A device's internal dirty log (contract §5): one bit per granule of size T over each tracked
// region, in a SharedArrayBuffer so DMA engines in any thread mark it while the device's own
// thread reads-and-clears it. 64 GiB at 4 KiB is 16 Mi bits = 2 MiB.
//
// Summary levels let a sparse REPORT skip clean words without reading them: level 1 has one bit
// per log word, level k + 1 one bit per level-k word, until a level fits in TOP_LEVEL_WORDS
// (1 TiB at 4 KiB: 8 Mi log words, then 256 Ki, 8 Ki and 256 summary words). Ordering that
// keeps every write findable: a writer ORs the log bit, then checks each level's bit going up and
// sets it where clear, all the way to the top itself (markWord); a reader clears a level's bit
// before it reads-and-clears the words below it, and sets it again if those keep bits.
import { wordOfBit, type GranuleProjection, type IovaBitmap } from '../bitmap/iova-bitmap.js';
import { ceilDiv, floorDiv, popcount32 } from '../util/bits.js';
import type { LoggingRange } from '../uapi/structs.js';
import type { Checked } from '../util/result.js';
import { SharedAccess } from '../util/shared-access.js';

export interface LogRegion {
  iova: bigint;
  length: bigint;
  /** Absolute index of the granule holding `iova`. */
  firstGranule: bigint;
  granuleCount: number;
  /** Bit index of this region's first granule in the log (a multiple of 32). */
  bitOffset: number;
}

/** Everything a thread needs to mark or read a log; structured-clone friendly. */
export interface DirtyLogDescriptor {
  granuleSize: bigint;
  regions: LogRegion[];
  logWords: number;
  /** Words of summary level 1 (one bit per log word). */
  summaryWords: number;
  /** Words of summary levels 2 and up, laid out after level 1 (see summaryLevelWords). */
  upperSummaryWords: number;
  buffer: SharedArrayBuffer;
}

const BYTES_PER_WORD = 4;
/**
 * Summary levels stop once one fits in this many words: a sparse REPORT scans the top level
 * whole. With one level, 1 TiB tracked scans 256 Ki words, 1/32 of the log, and a sparse REPORT
 * took 0.08 × a plain scan of the log; three levels bring it to about 0.01
 * (perf/report.bench.ts, "1 TiB tracked, 1000 dirty pages").
 */
const TOP_LEVEL_WORDS = 256;

/** Words of each summary level (level 1 first) over a log of `logWords` words. */
export function summaryLevelWords(logWords: number): number[] {
  const levels = [ceilDiv(logWords, 32)];
  while (levels[levels.length - 1]! > TOP_LEVEL_WORDS) levels.push(ceilDiv(levels[levels.length - 1]!, 32));
  return levels;
}

export function planLog(granuleSize: bigint, ranges: readonly LoggingRange[], maxLogBytes: number): Checked<DirtyLogDescriptor> {
  const regions: LogRegion[] = [];
  let bits = 0;
  for (const r of ranges) {
    const firstGranule = r.iova / granuleSize;
    const count = ceilDiv(r.iova + r.length, granuleSize) - firstGranule;
    // Refuse before allocating: a log proportional to a huge range is the device's ENOMEM.
    if (BigInt(bits) + count > BigInt(maxLogBytes) * 8n) return { errno: 'ENOMEM' };
    regions.push({ iova: r.iova, length: r.length, firstGranule, granuleCount: Number(count), bitOffset: bits });
    bits += ceilDiv(Number(count), 32) * 32;
  }
  const logWords = bits / 32;
  const [summaryWords, ...upper] = summaryLevelWords(logWords);
  const upperSummaryWords = upper.reduce((a, b) => a + b, 0);
  const totalWords = logWords + summaryWords! + upperSummaryWords;
  if (totalWords * BYTES_PER_WORD > maxLogBytes) return { errno: 'ENOMEM' };
  let buffer: SharedArrayBuffer;
  try {
    buffer = new SharedArrayBuffer(totalWords * BYTES_PER_WORD);
  } catch {
    return { errno: 'ENOMEM' };
  }
  return { granuleSize, regions, logWords, summaryWords: summaryWords!, upperSummaryWords, buffer };
}

export interface ReadStats { granules: number }

/**
 * Which write and read-and-clear paths a VariantDirtyLog runs. DirtyLog itself is today's code
 * (TODAYS_CODE); the other two are kept, on purpose, for `dmalog explore` only, to show that it
 * finds what they get wrong (src/explore/scenarios.ts):
 * - mark `shortcut`: the write path before commit 7ede066 ("a log word that had bits needs no
 *   summary work", and a climb that stops at the first summary bit already set). A writer
 *   preempted between its log OR and its summary OR hides a second writer's resolved write from
 *   a REPORT issued meanwhile.
 * - readClear `load-store`: the read-and-clear of a whole word as a plain load then a plain store
 *   of 0 instead of one exchange; a write landing between the two is wiped unreported.
 */
export interface DirtyLogVariant {
  mark: 'climb' | 'shortcut';
  readClear: 'exchange' | 'load-store';
}

export const TODAYS_CODE: Readonly<DirtyLogVariant> = Object.freeze({ mark: 'climb', readClear: 'exchange' });

// Fields of one region in DirtyLog's number table.
const R_IOVA = 0;
const R_END = 1;
const R_FIRST_GRANULE = 2;
const R_BIT_OFFSET = 3;
const REGION_FIELDS = 4;

/** Largest IOVA end the number-only paths handle exactly. */
const SAFE_END = BigInt(Number.MAX_SAFE_INTEGER);

/** Every access to the log and its levels is one of SharedAccess's (src/util/shared-access.ts). */
export class DirtyLog extends SharedAccess {
  readonly granuleSize: bigint;
  readonly regions: readonly LogRegion[];
  // Int32Array views: on Node 20 an Atomics call on a Uint32Array that returns a value of 2^31
  // or more boxes it in a new heap number (used or not); an int32 result never is. The bare
  // loops in perf/logging.bench.ts and perf/report.bench.ts run 15-30 % faster on Int32Array
  // ("Uint32Array view" rows). The bytes are the same.
  readonly #log: Int32Array;
  /** Summary level 1: one bit per log word. */
  readonly #summary: Int32Array;
  /** The log (level 0), then every summary level. */
  readonly #levels: readonly Int32Array[];
  /** 1 / T: T is a power of two, so multiplying by it is exact and cheaper than dividing. */
  readonly #perGranuleByte: number;
  /**
   * The regions as numbers for `markWriteNumber`, REGION_FIELDS per region in one array (one
   * load per field, no object hops). Values past 2^53 round, which stays correct (see there).
   */
  readonly #regionNumbers: Float64Array;

  constructor(readonly descriptor: DirtyLogDescriptor) {
    super();
    this.granuleSize = descriptor.granuleSize;
    this.regions = descriptor.regions;
    this.#log = new Int32Array(descriptor.buffer, 0, descriptor.logWords);
    let at = descriptor.logWords * BYTES_PER_WORD;
    this.#levels = [this.#log, ...summaryLevelWords(descriptor.logWords).map((words) => {
      const level = new Int32Array(descriptor.buffer, at, words);
      at += words * BYTES_PER_WORD;
      return level;
    })];
    this.#summary = this.#levels[1]!;
    this.#perGranuleByte = 1 / Number(descriptor.granuleSize);
    this.#regionNumbers = Float64Array.from(descriptor.regions.flatMap((r) =>
      [Number(r.iova), Number(r.iova + r.length), Number(r.firstGranule), r.bitOffset]));
  }

  /** Log a DMA write of [iova, iova + length): every granule it touches inside a region. */
  markWrite(iova: bigint, length: bigint): number {
    const end = iova + length;
    if (end <= SAFE_END) return this.markWriteNumber(Number(iova), Number(length));
    let marked = 0;
    for (const r of this.regions) {
      const a = iova > r.iova ? iova : r.iova;
      const rEnd = r.iova + r.length;
      const b = end < rEnd ? end : rEnd;
      if (b <= a) continue;
      const j0 = Number(a / this.granuleSize - r.firstGranule);
      const j1 = Number((b - 1n) / this.granuleSize - r.firstGranule);
      this.markBits(r.bitOffset + j0, j1 - j0 + 1);
      marked += j1 - j0 + 1;
    }
    return marked;
  }

  /**
   * `markWrite` for DMA engines that hold IOVAs as numbers: exact while iova + length ≤ 2^53.
   * No bigint division per write: that alone costs more than the atomic OR it guards
   * (perf/logging.bench.ts, "markWrite (bigint)" against "markWriteNumber").
   */
  markWriteNumber(iova: number, length: number): number {
    const end = iova + length;
    // One region is the common case; without the loop it runs ~10% faster (perf/logging.bench.ts).
    if (this.#regionNumbers.length === REGION_FIELDS) return this.#markInRegion(0, iova, end);
    let marked = 0;
    for (let at = 0; at < this.#regionNumbers.length; at += REGION_FIELDS) marked += this.#markInRegion(at, iova, end);
    return marked;
  }

  /** Mark what [iova, end) touches of the region whose numbers start at `at`; granules marked. */
  #markInRegion(at: number, iova: number, end: number): number {
    const regions = this.#regionNumbers;
    const rIova = regions[at + R_IOVA]!;
    const rEnd = regions[at + R_END]!;
    const a = iova > rIova ? iova : rIova;
    const b = end < rEnd ? end : rEnd;
    if (b <= a) return 0;
    const perT = this.#perGranuleByte;
    const first = regions[at + R_FIRST_GRANULE]!;
    const q = a * perT; // a in granules; exact, and so are the sums below (multiples of 1/T)
    const j0 = Math.floor(q) - first;
    const bit = regions[at + R_BIT_OFFSET]! + j0;
    // A write ending in the granule it starts in (most DMA writes): no second division.
    if (q - Math.floor(q) + (b - a) * perT <= 1) {
      this.markWord(wordOfBit(bit), 1 << (bit & 31));
      return 1;
    }
    const j1 = Math.floor((b - 1) * perT) - first;
    this.markBits(bit, j1 - j0 + 1);
    return j1 - j0 + 1;
  }

  /** Hot path for DMA engines: mark `count` granules starting at log bit `bit`. */
  markBits(bit: number, count: number): void {
    let b = bit;
    const end = bit + count;
    while (b < end) {
      const lo = b & 31;
      const n = Math.min(32 - lo, end - b);
      this.markWord(wordOfBit(b), n === 32 ? -1 : ((1 << n) - 1) << lo);
      b += n;
    }
  }

  /**
   * OR `mask` into log word w, then make sure every summary level above it says so, each level
   * checked by this writer itself before it returns. No shortcut may trust another writer to
   * finish the climb: a writer that made the word (or a summary bit) non-zero can be preempted
   * before it sets the bit above, and a REPORT issued meanwhile would skip the word and miss a
   * write that has already resolved (test/device/dirty-log-preemption.test.ts). Bottom-up, so a
   * REPORT that clears a level after we looked at it descends to what we set.
   */
  protected markWord(w: number, mask: number): void {
    this.or32(this.#log, w, mask);
    // Plain reads of the levels: each follows our atomic OR below it, which any REPORT's clear of
    // that level (made before its read-and-clear of the words below) synchronizes with, so a
    // stale "set" cannot be seen. Atomics.load would cost about as much as the OR itself.
    // Level 1 is unrolled: through the levels array it cost about a quarter of the logging rate
    // (perf/logging.bench.ts, "1 thread, markWriteNumber").
    const s = w >>> 5;
    const sBit = 1 << (w & 31);
    if ((this.load32(this.#summary, s) & sBit) === 0) this.or32(this.#summary, s, sBit);
    const levels = this.#levels;
    for (let k = 2, below = s; k < levels.length; k++) {
      const level = levels[k]!;
      const up = below >>> 5;
      const upBit = 1 << (below & 31);
      if ((this.load32(level, up) & upBit) === 0) this.or32(level, up, upBit);
      below = up;
    }
  }

  /**
   * REPORT's read-and-clear for the window [iova, iova + length): every dirty granule meeting the
   * window is projected into `bitmap`; only granules wholly inside the window are cleared (a
   * granule partly outside keeps its bit for its unreported part). `failHalfway` stops after half
   * of the first region the window meets, as a device failing mid-REPORT would: part of the log
   * is then cleared and reported, the rest is not.
   */
  readAndClear(iova: bigint, length: bigint, bitmap: IovaBitmap, failHalfway = false): ReadStats {
    const stats: ReadStats = { granules: 0 };
    const T = this.granuleSize;
    const end = iova + length;
    for (let ri = 0; ri < this.regions.length; ri++) {
      const r = this.regions[ri]!;
      const count = BigInt(r.granuleCount);
      const visitFrom = clamp(floorDiv(iova, T) - r.firstGranule, 0n, count);
      let visitTo = clamp(ceilDiv(end, T) - r.firstGranule, 0n, count);
      if (visitTo <= visitFrom) continue;
      if (failHalfway) {
        visitTo = visitFrom + (visitTo - visitFrom) / 2n;
        if (visitTo === visitFrom) break; // half of one granule: the device read nothing
      }
      const clearFrom = Number(clamp(ceilDiv(iova, T) - r.firstGranule, 0n, count));
      const clearTo = Number(clamp(floorDiv(end, T) - r.firstGranule, 0n, visitTo));
      const projection = bitmap.project(T, r.firstGranule, Number(visitFrom));
      stats.granules += this.#readRegion(r.bitOffset, Number(visitFrom), Number(visitTo), clearFrom, clearTo, projection);
      projection.finish();
      if (failHalfway) break;
    }
    bitmap.flush();
    return stats;
  }

  #readRegion(bitOffset: number, from: number, to: number, clearFrom: number, clearTo: number, projection: GranuleProjection): number {
    const read = new RegionRead(bitOffset, bitOffset + from, bitOffset + to - 1, bitOffset + clearFrom, bitOffset + clearTo - 1, projection);
    const topLevel = this.#levels.length - 1;
    const top = this.#levels[topLevel]!;
    const shift = 5 * topLevel;
    for (let s = read.w0 >>> shift; s <= read.w1 >>> shift; s++) {
      if (this.load32(top, s) === 0) continue; // plain read: a racing writer sets the bit after the bits below
      this.#drain(topLevel, s, read);
    }
    return read.found;
  }

  /** Drain word s of summary level k ≥ 1; true when it keeps bits (its own bit above must stay set). */
  #drain(k: number, s: number, read: RegionRead): boolean {
    if (k === 1) return this.#drainSummary(s, read);
    const level = this.#levels[k]!;
    const childShift = 5 * (k - 1);
    const mask = wordMask(s, read.w0 >>> childShift, read.w1 >>> childShift);
    const old = this.and32(level, s, ~mask);
    let keep = (old & ~mask) !== 0;
    let pending = old & mask;
    while (pending !== 0) {
      const bit = 31 - Math.clz32(pending & -pending);
      pending &= pending - 1;
      if (this.#drain(k - 1, (s << 5) + bit, read)) {
        this.or32(level, s, 1 << bit);
        keep = true;
      }
    }
    return keep;
  }

  /** Read-and-clear the log words under level-1 word s that meet the read; true when s keeps bits. */
  #drainSummary(s: number, read: RegionRead): boolean {
    const log = this.#log;
    const summary = this.#summary;
    const { bitOffset, firstBit, lastBit, clearFirst, clearLast, innerFrom, innerTo, projection } = read;
    const sMask = wordMask(s, read.w0, read.w1);
    const had = this.and32(summary, s, ~sMask);
    let keep = (had & ~sMask) !== 0;
    let pending = had & sMask;
    let found = 0;
    while (pending !== 0) {
      const k = 31 - Math.clz32(pending & -pending);
      pending &= pending - 1;
      const w = (s << 5) + k;
      const inner = w >= innerFrom && w <= innerTo;
      const visit = inner ? FULL_WORD : wordMask(w, firstBit, lastBit);
      const clear = inner ? FULL_WORD : wordMask(w, clearFirst, clearLast);
      // An RMW even when nothing is cleared (edge words of partial granules), so that a writer
      // racing with this read synchronizes with it. Exchange when the whole word goes.
      const old = clear === FULL_WORD ? this.takeWord(log, w) : this.and32(log, w, ~clear);
      if ((old & ~clear) !== 0) { // bits this REPORT did not clear
        this.or32(summary, s, 1 << k);
        keep = true;
      }
      const dirty = old & visit;
      if (dirty === 0) continue;
      // A word at a time: a call per granule made a 100 % dirty REPORT 0.09 × the bare
      // read-clear-OR loop, this makes it 0.8-0.99 × (perf/report.bench.ts, "100 %" rows).
      projection.setGranules(firstBitOf(w) - bitOffset, dirty);
      found += popcount32(dirty);
    }
    read.found += found;
    return keep;
  }

  /** Read-and-clear of a whole log word: one exchange, which no write can fall into. */
  protected takeWord(log: Int32Array, w: number): number {
    return this.exchange32(log, w, 0);
  }

  /** The log (level 0) and every summary level, for VariantDirtyLog. */
  protected levelArrays(): readonly Int32Array[] {
    return this.#levels;
  }

  /** Granules currently logged (for tests and checkers; not a REPORT). */
  countDirty(): number {
    let n = 0;
    const log = this.#log;
    for (let i = 0; i < log.length; i++) n += popcount32(this.load32(log, i));
    return n;
  }
}

/**
 * DirtyLog with the paths DirtyLogVariant names: only `dmalog explore` constructs it. A subclass
 * rather than a flag in DirtyLog, so that the write and REPORT loops of every other run carry no
 * branch for it (perf/RESULTS.md, "explore: memory-access layer").
 */
export class VariantDirtyLog extends DirtyLog {
  readonly #shortcut: boolean;
  readonly #loadStore: boolean;

  constructor(descriptor: DirtyLogDescriptor, variant: Readonly<DirtyLogVariant> = TODAYS_CODE) {
    super(descriptor);
    this.#shortcut = variant.mark === 'shortcut';
    this.#loadStore = variant.readClear === 'load-store';
  }

  /**
   * `shortcut`: the write path before commit 7ede066, as it was. It trusts whoever made the word
   * or a summary bit non-zero to finish the climb.
   */
  protected override markWord(w: number, mask: number): void {
    if (!this.#shortcut) {
      super.markWord(w, mask);
      return;
    }
    const levels = this.levelArrays();
    if (this.or32(levels[0]!, w, mask) !== 0) return;
    const s = w >>> 5;
    const sBit = 1 << (w & 31);
    if ((this.load32(levels[1]!, s) & sBit) !== 0) return; // set already: whoever set it went on up
    this.or32(levels[1]!, s, sBit);
    for (let k = 2, below = s; k < levels.length; k++) {
      const level = levels[k]!;
      const up = below >>> 5;
      const upBit = 1 << (below & 31);
      if ((this.load32(level, up) & upBit) !== 0) return;
      this.or32(level, up, upBit);
      below = up;
    }
  }

  /** `load-store`: what the exchange is not, two accesses a write can fall between. */
  protected override takeWord(log: Int32Array, w: number): number {
    if (!this.#loadStore) return super.takeWord(log, w);
    const old = this.load32(log, w);
    this.store32(log, w, 0);
    return old;
  }
}

/** One region's part of a REPORT, in absolute log bits (inclusive) and log words. */
class RegionRead {
  readonly w0: number;
  readonly w1: number;
  /** Log words strictly inside both the visited and the cleared span: whole-word masks, no wordMask. */
  readonly innerFrom: number;
  readonly innerTo: number;
  found = 0;

  constructor(
    readonly bitOffset: number,
    readonly firstBit: number,
    readonly lastBit: number,
    readonly clearFirst: number,
    readonly clearLast: number,
    readonly projection: GranuleProjection,
  ) {
    this.w0 = wordOfBit(firstBit);
    this.w1 = wordOfBit(lastBit);
    const clears = clearLast >= clearFirst;
    this.innerFrom = clears ? Math.max(this.w0, wordOfBit(clearFirst)) + 1 : Infinity;
    this.innerTo = clears ? Math.min(this.w1, wordOfBit(clearLast)) - 1 : -Infinity;
  }
}

function clamp(v: bigint, lo: bigint, hi: bigint): bigint {
  return v < lo ? lo : v > hi ? hi : v;
}

const FULL_WORD = -1; // int32 masks, as in iova-bitmap.ts

// Log bit indexes reach 2^35 (a 4 GiB log) and summary words sit below 2^30: bits are converted
// with exact float arithmetic, never with 32-bit shifts; word indexes may use shifts.
/** Log bit of word w's bit 0. */
function firstBitOf(w: number): number {
  return w * 32;
}

/** Mask of bits [first, last] (absolute bit indexes) that fall in word w. */
function wordMask(w: number, first: number, last: number): number {
  if (last < first) return 0;
  const base = firstBitOf(w);
  const lo = Math.max(first, base) - base;
  const hi = Math.min(last, base + 31) - base;
  if (hi < lo) return 0;
  return hi - lo === 31 ? -1 : ((1 << (hi - lo + 1)) - 1) << lo;
}

