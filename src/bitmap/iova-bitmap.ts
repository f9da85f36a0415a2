// The user bitmap a REPORT writes (contract §5). Bit n covers IOVA [iova + n*P, iova + (n+1)*P) and
// lives in byte n/8, bit n%8 from the bitmap pointer: u32 half n>>5, bit n&31, since u64 words
// are little-endian. Only bits are ever set; nothing at or past bitCount is touched.
//
// Callers hand in absolute IOVAs (`set`) or granules of a device log (`project`); words, bytes
// and alignment stay in here. Whether bits are ORed atomically or with a plain read-modify-write
// (the merged kernel's contract, contract §1) is chosen once, at construction.

import { ceilDiv, floorDiv, popcount32 } from '../util/bits.js';
import { SharedAccess } from '../util/shared-access.js';

export type Contract = 'atomic' | 'plain';

export interface BitmapWindow { iova: bigint; length: bigint; pageSize: bigint }

/** Number of report bits for a window: ceil(length / pageSize). */
export function reportBitCount(length: bigint, pageSize: bigint): number {
  return Number(ceilDiv(length, pageSize));
}

// Word masks travel as int32 (bit 31 set = negative), never as `>>> 0` uint32: a uint32 above
// 2^31 passed to a call V8 does not inline is boxed as a heap number, one allocation per word
// on a dense REPORT (perf/report.bench.ts, "100 %" rows).
/** Every access to user memory is one of SharedAccess's (src/util/shared-access.ts). */
export class IovaBitmap extends SharedAccess {
  readonly window: BitmapWindow;
  readonly bitCount: number;
  /** Distinct report bits this bitmap object set (pages reported), summed at each word flush: exact
   *  when words are set in ascending order, as a REPORT does. */
  bitsSet = 0;
  /** @internal First unit (see GranuleProjection) of the last granule projected into this bitmap. */
  lastGranuleUnit = -Infinity;
  readonly #plain: boolean;
  readonly #u8: Uint8Array;
  /** The memory as u32 words, typed Int32Array so Atomics.or results stay unboxed (see dirty-log.ts). */
  readonly #u32: Int32Array | null;
  readonly #byteAt: number;
  /** How a finished word reaches user memory, chosen once (see `flush`). */
  readonly #mode: FlushMode;
  /** Index of the bitmap's first byte in u32 units, when it is 4-byte aligned. */
  readonly #wordAt: number;
  /** Index and in-range mask of the last u32 word holding report bits (for `orMask` clipping). */
  readonly #lastWord: number;
  readonly #lastWordMask: number;
  #pendingWord = -1;
  #pendingMask = 0;
  #pendingBase = 0;

  constructor(memory: SharedArrayBuffer, bitmapAt: number, window: BitmapWindow, contract: Contract = 'atomic') {
    super();
    this.window = window;
    this.bitCount = reportBitCount(window.length, window.pageSize);
    this.#lastWord = wordOfBit(this.bitCount - 1);
    const tailBits = this.bitCount - this.#lastWord * 32;
    this.#lastWordMask = tailBits === 32 ? -1 : (1 << tailBits) - 1;
    this.#byteAt = bitmapAt;
    this.#wordAt = bitmapAt >>> 2;
    this.#plain = contract === 'plain';
    this.#u8 = new Uint8Array(memory);
    const aligned = bitmapAt % 4 === 0;
    this.#u32 = aligned ? new Int32Array(memory) : null;
    this.#mode = contract === 'atomic'
      ? (aligned ? FlushMode.AtomicAligned : FlushMode.AtomicBytes)
      : (aligned ? FlushMode.PlainAligned : FlushMode.PlainBytes);
  }

  /** The three rarer ways out of `flush`; the common one (atomic, aligned) is inlined there. */
  #flushOther(w: number, mask: number): void {
    const at = this.#byteAt + w * 4;
    switch (this.#mode) {
      case FlushMode.AtomicBytes:
        for (let k = 0; k < 4; k++) {
          const b = (mask >>> (8 * k)) & 0xff;
          if (b !== 0) this.or8(this.#u8, at + k, b);
        }
        return;
      // Plain mode: the old value was loaded when the word was first touched (#pendingBase), so
      // the store below is a read-modify-write spanning every granule that landed in this word.
      // A concurrent reporter's bits set in between are overwritten: the merged kernel's lost update.
      case FlushMode.PlainAligned:
        this.store32(this.#u32!, this.#wordAt + w, this.#pendingBase | mask);
        return;
      case FlushMode.PlainBytes: {
        const merged = this.#pendingBase | mask;
        for (let k = 0; k < 4; k++) if (((mask >>> (8 * k)) & 0xff) !== 0) this.store8(this.#u8, at + k, (merged >>> (8 * k)) & 0xff);
        return;
      }
      default:
        this.or32(this.#u32!, this.#wordAt + w, mask);
    }
  }

  #loadWord(w: number): number {
    if (this.#u32) return this.load32(this.#u32, this.#wordAt + w);
    const at = this.#byteAt + w * 4;
    const u8 = this.#u8;
    return (this.load8(u8, at) | (this.load8(u8, at + 1) << 8) | (this.load8(u8, at + 2) << 16) | (this.load8(u8, at + 3) << 24)) >>> 0;
  }

  #orWord(w: number, mask: number): void {
    if (w !== this.#pendingWord) {
      this.flush();
      this.#pendingWord = w;
      if (this.#plain) this.#pendingBase = this.#loadWord(w);
    }
    this.#pendingMask |= mask;
  }

  /** Set bits [first, last] (inclusive), clipped to the bitmap. */
  setBits(first: number, last: number): void {
    if (first < 0) first = 0;
    if (last >= this.bitCount) last = this.bitCount - 1;
    if (first > last) return;
    const w0 = wordOfBit(first);
    const w1 = wordOfBit(last);
    for (let w = w0; w <= w1; w++) {
      const lo = w === w0 ? first & 31 : 0;
      const hi = w === w1 ? last & 31 : 31;
      const mask = hi - lo === 31 ? -1 : ((1 << (hi - lo + 1)) - 1) << lo;
      this.#orWord(w, mask);
    }
  }

  /**
   * OR a 32-bit run of report bits: bit k of `mask` sets report bit firstBit + k, clipped to
   * [0, bitCount). `firstBit` may be negative or unaligned (the run then spans two words). A
   * device logging at the report page size hands over a whole log word at once this way: on a
   * 100 % dirty log that is ~1 atomic OR per 32 pages instead of a call per page
   * (perf/report.bench.ts, "100 %" rows).
   *
   * `disjoint` promises that no other call on this bitmap sets any of these bits: a whole word
   * then goes straight to memory, skipping the merge with the pending word (which exists to
   * count shared bits once in bitsSet, and for the plain contract's read-modify-write).
   */
  orMask(firstBit: number, mask: number, disjoint = false): void {
    if (mask === 0) return;
    const w = wordOfBit(firstBit); // also for negative bits
    const lo = firstBit & 31;
    if (lo === 0 && w >= 0 && w < this.#lastWord) { // one whole word, nothing to clip
      if (disjoint && this.#mode === FlushMode.AtomicAligned && w !== this.#pendingWord) {
        this.or32(this.#u32!, this.#wordAt + w, mask);
        this.bitsSet += popcount32(mask);
      } else {
        this.#orWord(w, mask);
      }
      return;
    }
    this.#orClipped(w, mask << lo);
    if (lo !== 0) this.#orClipped(w + 1, mask >>> (32 - lo));
  }

  #orClipped(w: number, mask: number): void {
    if (w < 0 || w > this.#lastWord) return;
    const m = w === this.#lastWord ? mask & this.#lastWordMask : mask;
    if (m !== 0) this.#orWord(w, m);
  }

  /** Mark the absolute IOVA span [iova, iova + length) dirty, clipped to the window. */
  set(iova: bigint, length: bigint): void {
    const { iova: base, pageSize } = this.window;
    const start = iova > base ? iova : base;
    const end = iova + length;
    const windowEnd = base + this.window.length;
    const clippedEnd = end < windowEnd ? end : windowEnd;
    if (clippedEnd <= start) return;
    this.setBits(Number((start - base) / pageSize), Number((clippedEnd - 1n - base) / pageSize));
  }

  /**
   * A projection of a device log's granules (size T, granule index relative to `firstGranule`)
   * onto this bitmap. Computed once per region with bigint; per granule it is number-only.
   */
  project(granuleSize: bigint, firstGranule: bigint, firstVisited: number): GranuleProjection {
    return new GranuleProjection(this, granuleSize, firstGranule, firstVisited);
  }

  /** Write out the word being accumulated. Call once the caller is done setting bits. */
  flush(): void {
    const w = this.#pendingWord;
    const mask = this.#pendingMask;
    if (w >= 0 && mask !== 0) {
      // Branch rather than a per-mode closure: V8 inlines this, and a dense REPORT flushes once
      // per log word (perf/report.bench.ts, "100 %" rows against the bare read-clear-OR loop).
      if (this.#mode === FlushMode.AtomicAligned) this.or32(this.#u32!, this.#wordAt + w, mask);
      else this.#flushOther(w, mask);
      this.bitsSet += popcount32(mask);
    }
    this.#pendingWord = -1;
    this.#pendingMask = 0;
  }
}

const enum FlushMode { AtomicAligned, AtomicBytes, PlainAligned, PlainBytes }

/**
 * Granule j covers [(G0 + j)·T, (G0 + j + 1)·T). In units u = min(T, P), with the offset of the
 * first visited granule from the report iova written as qBase·u + phase (0 ≤ phase < u), granule j
 * covers units [n0, n0 + T/u) where n0 = qBase + (j − firstVisited)·T/u, and so report bits
 * floor(n0 / (P/u)) through floor((n0 + T/u − [phase = 0]) / (P/u)). Every quantity stays below
 * 2^53 because only granules meeting the window are visited and T/u, P/u ≤ 2^51.
 *
 * `setGranules` takes a whole log word of granules; the way it projects them is picked once:
 * T = P maps granule j to bit j + shift (and j + shift + 1 when granules straddle report pages),
 * so a word goes over as one or two masks; T < P skips the granules of a report bit already set;
 * T > P sets each granule's run of bits.
 */
export class GranuleProjection {
  readonly #bitmap: IovaBitmap;
  readonly #qBase: number;
  readonly #unitsPerGranule: number;
  readonly #unitsPerBit: number;
  readonly #endAdjust: number;
  readonly #firstVisited: number;

  constructor(bitmap: IovaBitmap, granuleSize: bigint, firstGranule: bigint, firstVisited: number) {
    const { iova, pageSize } = bitmap.window;
    const unit = granuleSize < pageSize ? granuleSize : pageSize;
    const offset = (firstGranule + BigInt(firstVisited)) * granuleSize - iova;
    const q = floorDiv(offset, unit);
    const phase = offset - q * unit;
    this.#bitmap = bitmap;
    this.#qBase = Number(q);
    this.#unitsPerGranule = Number(granuleSize / unit);
    this.#unitsPerBit = Number(pageSize / unit);
    this.#endAdjust = phase === 0n ? 1 : 0;
    this.#firstVisited = firstVisited;
    this.#bitShift = this.#qBase - firstVisited;
    this.#kind = granuleSize === pageSize
      ? (phase === 0n ? ProjectionKind.SameSizeAligned : ProjectionKind.SameSizeStraddling)
      : granuleSize < pageSize ? ProjectionKind.Coalesce : ProjectionKind.Replicate;
  }

  readonly #kind: ProjectionKind;
  /** Report bit of granule j is j + #bitShift when T = P. */
  readonly #bitShift: number;
  /** Until the first call: the first granule may be the one the previous region projected last. */
  #firstCall = true;
  /** The last call's arguments; `finish` turns them into bitmap.lastGranuleUnit. */
  #topJBase = 0;
  #topMask = 0;

  /**
   * Set the granules jBase + k for every bit k of `mask` (granule indexes as for setGranule), in
   * ascending order of jBase. Kept small so V8 inlines it into the REPORT loop; T = P goes over
   * as one word mask (perf/report.bench.ts, "100 %" rows against the bare read-clear-OR loop).
   */
  setGranules(jBase: number, mask: number): void {
    if (this.#firstCall) {
      this.#firstCall = false;
      mask = this.#dropShared(jBase, mask);
      if (mask === 0) return;
    }
    this.#topJBase = jBase;
    this.#topMask = mask;
    // Granule j is report bit j + shift, one bit per granule: no other granule, of this region
    // or another (the shared one was dropped above), sets the same bit.
    if (this.#kind === ProjectionKind.SameSizeAligned) this.#bitmap.orMask(jBase + this.#bitShift, mask, true);
    else this.#projectOther(jBase, mask);
  }

  /** Call once the region is done: records its last projected granule for the next region's check. */
  finish(): void {
    if (this.#topMask !== 0) this.#bitmap.lastGranuleUnit = this.#unitOf(this.#topJBase + 31 - Math.clz32(this.#topMask));
  }

  #unitOf(j: number): number {
    return this.#qBase + (j - this.#firstVisited) * this.#unitsPerGranule;
  }

  // Regions closer than T share a granule, each region with its own log bit. Regions are read in
  // ascending order, so a shared one is the previous region's last projected granule and this
  // region's first: project it once, or its bits would be counted twice in bitsSet.
  #dropShared(jBase: number, mask: number): number {
    return this.#unitOf(jBase + 31 - Math.clz32(mask & -mask)) === this.#bitmap.lastGranuleUnit ? mask & (mask - 1) : mask;
  }

  #projectOther(jBase: number, mask: number): void {
    switch (this.#kind) {
      // T = P with granules straddling report pages: each sets its bit and the next, mask | mask << 1,
      // whose 33rd bit goes separately (ascending word order, so the bitmap merges it).
      case ProjectionKind.SameSizeStraddling:
        this.#bitmap.orMask(jBase + this.#bitShift, mask | (mask << 1));
        this.#bitmap.orMask(jBase + this.#bitShift + 32, mask >>> 31);
        return;
      case ProjectionKind.Coalesce:
        this.#coalesce(jBase, mask);
        return;
      default:
        this.#replicate(jBase, mask);
    }
  }

  setGranule(j: number): void {
    const n0 = this.#qBase + (j - this.#firstVisited) * this.#unitsPerGranule;
    const first = Math.floor(n0 / this.#unitsPerBit);
    const last = Math.floor((n0 + this.#unitsPerGranule - this.#endAdjust) / this.#unitsPerBit);
    this.#bitmap.setBits(first, last);
  }

  #replicate(jBase: number, mask: number): void {
    let pending = mask;
    while (pending !== 0) {
      const k = 31 - Math.clz32(pending & -pending);
      pending &= pending - 1;
      this.setGranule(jBase + k);
    }
  }

  // T < P: once granule j's last bit L is set, every following granule that ends within bit L
  // adds nothing; skip to the first one reaching past it (4 KiB → 2 MiB: one call per 512).
  #coalesce(jBase: number, mask: number): void {
    const upg = this.#unitsPerGranule;
    let pending = mask;
    while (pending !== 0) {
      const k = 31 - Math.clz32(pending & -pending);
      const j = jBase + k;
      this.setGranule(j);
      const n0 = this.#qBase + (j - this.#firstVisited) * upg;
      const last = Math.floor((n0 + upg - this.#endAdjust) / this.#unitsPerBit);
      const next = this.#firstVisited + ceilDiv((last + 1) * this.#unitsPerBit - upg + this.#endAdjust - this.#qBase, upg);
      const skip = Math.max(next, j + 1) - jBase;
      if (skip >= 32) break;
      pending &= ~((1 << skip) - 1);
    }
  }
}

const enum ProjectionKind { SameSizeAligned, SameSizeStraddling, Coalesce, Replicate }

/**
 * u32 word holding report bit `bit` (floor, also for negative bits). Exact float arithmetic: bit
 * indexes reach 2^35 (a bitmap filling 4 GiB of user memory), past what 32-bit shifts hold.
 */
export function wordOfBit(bit: number): number {
  return Math.floor(bit / 32);
}

