// Guest memory as the migration sees it, source and destination, in one of two modes:
//
//   bytes     every page's contents (a SharedArrayBuffer the size of RAM, twice): writers store
//             data into pages, the copy moves 4 KiB per page, the check compares every byte.
//   versions  one 32-bit write version per page (4 bytes per page, twice): writers bump the
//             version, the copy carries it, the check compares versions. A page sent before its
//             last write (sent stale) differs exactly as its bytes would: every write bumps.
//
// Both start the source with a seeded value per page distinct from its neighbours and the
// destination at zero ("nothing received"), so a page never sent, or sent to the wrong place,
// shows up in the check too.
import { compareMemory, type MemoryCheck, type CheckProgress } from './memory-check.js';
import type { MemoryMode } from './options.js';

/** Copies of up to this many pages go word by word: a subarray per call costs more than that. */
const SMALL_COPY_WORDS = 64;

export interface GuestMemory {
  readonly mode: MemoryMode;
  readonly pages: number;
  readonly pageSize: number;
  /** What writers write: RAM bytes, or one u32 version per page (BurstTask.layout). */
  readonly source: SharedArrayBuffer;
  readonly destination: SharedArrayBuffer;
  /** Give every source page its seeded starting value. */
  fill(seed: bigint): void;
  /** Copy pages [first, first + count) from the source to the destination. */
  send(first: number, count: number): void;
  /** The end-to-end check: pages whose destination differs from the source. */
  compare(onProgress?: CheckProgress): MemoryCheck;
  /** Whether page `page` differs between source and destination now. */
  stale(page: number): boolean;
}

export function createGuestMemory(mode: MemoryMode, ramBytes: number, pageSize: number): GuestMemory {
  return mode === 'bytes' ? new ByteMemory(ramBytes, pageSize) : new VersionMemory(ramBytes / pageSize, pageSize);
}

function seedWord(seed: bigint): number {
  return Number(BigInt.asUintN(32, seed ^ (seed >> 32n)));
}

/** The starting value of page `page`: distinct from its neighbours, never 0 (the destination's "nothing"). */
function startValue(page: number, s: number): number {
  return (Math.imul(page + 1, 0x9e3779b1) ^ s) | 1;
}

function copyWords(src: Uint32Array, dst: Uint32Array, from: number, to: number): void {
  if (to - from <= SMALL_COPY_WORDS) {
    for (let i = from; i < to; i++) dst[i] = src[i]!;
  } else {
    dst.set(src.subarray(from, to), from);
  }
}

class ByteMemory implements GuestMemory {
  readonly mode = 'bytes' as const;
  readonly pages: number;
  readonly pageSize: number;
  readonly source: SharedArrayBuffer;
  readonly destination: SharedArrayBuffer;
  /** RAM as 32-bit words (a Uint8Array cannot span more than 4 GiB on Node 20). */
  readonly #src: Uint32Array;
  readonly #dst: Uint32Array;
  readonly #wordsPerPage: number;

  constructor(ramBytes: number, pageSize: number) {
    this.pages = ramBytes / pageSize;
    this.pageSize = pageSize;
    this.source = new SharedArrayBuffer(ramBytes);
    this.destination = new SharedArrayBuffer(ramBytes);
    this.#src = new Uint32Array(this.source);
    this.#dst = new Uint32Array(this.destination);
    this.#wordsPerPage = pageSize >>> 2;
  }

  fill(seed: bigint): void {
    const s = seedWord(seed);
    const perPage = this.#wordsPerPage;
    // One value per page (the same in all its words): distinct across pages.
    for (let page = 0; page < this.pages; page++) this.#src.fill(Math.imul(page + 1, 0x9e3779b1) ^ s, page * perPage, (page + 1) * perPage);
  }

  send(first: number, count: number): void {
    const w = this.#wordsPerPage;
    this.#dst.set(this.#src.subarray(first * w, (first + count) * w), first * w);
  }

  compare(onProgress?: CheckProgress): MemoryCheck {
    return compareMemory(this.source, this.destination, this.pageSize, 8, onProgress);
  }

  stale(page: number): boolean {
    const w = this.#wordsPerPage;
    for (let i = page * w, end = i + w; i < end; i++) if (this.#src[i] !== this.#dst[i]) return true;
    return false;
  }
}

class VersionMemory implements GuestMemory {
  readonly mode = 'versions' as const;
  readonly pages: number;
  readonly pageSize: number;
  readonly source: SharedArrayBuffer;
  readonly destination: SharedArrayBuffer;
  readonly #src: Uint32Array;
  readonly #dst: Uint32Array;

  constructor(pages: number, pageSize: number) {
    this.pages = pages;
    this.pageSize = pageSize;
    this.source = new SharedArrayBuffer(pages * 4);
    this.destination = new SharedArrayBuffer(pages * 4);
    this.#src = new Uint32Array(this.source);
    this.#dst = new Uint32Array(this.destination);
  }

  fill(seed: bigint): void {
    const s = seedWord(seed);
    // As int32: the same bits, stored without a conversion per page.
    const src = new Int32Array(this.source);
    const pages = this.pages;
    for (let page = 0; page < pages; page++) src[page] = startValue(page, s);
  }

  send(first: number, count: number): void {
    copyWords(this.#src, this.#dst, first, first + count);
  }

  compare(onProgress?: CheckProgress): MemoryCheck {
    // One version per page: compared as 4-byte "pages", which names the same page indexes.
    return compareMemory(this.source, this.destination, 4, 8, onProgress);
  }

  stale(page: number): boolean {
    return this.#src[page] !== this.#dst[page];
  }
}
