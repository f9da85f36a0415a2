// The memory a scenario runs in, laid out once and restored before every execution: guest memory,
// each tracker's device logs (one per log generation: a restart STARTs a fresh one), the control
// cells holding log generations, and user memory with one bitmap per report set.
import { reportBitCount } from '../bitmap/iova-bitmap.js';
import { planLog, summaryLevelWords, type DirtyLogDescriptor } from '../device/dirty-log.js';
import { CONTROL_FIRST_LOG_GEN, CONTROL_SETS_BEGUN, CONTROL_SETS_COMPLETED, controlCells } from '../dma/types.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { ok } from '../util/result.js';
import { granuleOf, restartsOf, type Scenario } from './scenario.js';
import type { Access } from './memory.js';

export interface Region {
  buffer: ArrayBufferLike;
  byteStart: number;
  byteEnd: number;
  name: string;
}

export interface SetBitmap {
  at: number;
  bytes: number;
  window: { iova: bigint; length: bigint; pageSize: bigint };
  firstPage: number;
  pages: number;
}

export class World {
  readonly scenario: Scenario;
  readonly pageBytes: number;
  readonly guest: SharedArrayBuffer;
  /** logs[t][g]: tracker t's log of generation g. */
  readonly logs: DirtyLogDescriptor[][];
  readonly cells: SharedArrayBuffer;
  readonly user: SharedArrayBuffer;
  readonly sets: SetBitmap[];
  readonly regions: Region[] = [];
  /** Whether writes and REPORTs read a log generation (only when some tracker restarts). */
  readonly generations: boolean;
  readonly #buffers: SharedArrayBuffer[];
  readonly #initial: Uint8Array[];

  constructor(scenario: Scenario) {
    this.scenario = scenario;
    this.pageBytes = scenario.pageSize;
    const span = BigInt(scenario.pages * scenario.pageSize);
    this.guest = new SharedArrayBuffer(scenario.pages * scenario.pageSize);
    this.regions.push({ buffer: this.guest, byteStart: 0, byteEnd: this.guest.byteLength, name: 'guest' });
    const restarts = restartsOf(scenario);
    this.generations = restarts.some((n) => n > 0);
    this.logs = restarts.map((n, t) => Array.from({ length: n + 1 }, (_, g) => {
      const d = ok(planLog(BigInt(granuleOf(scenario)), [{ iova: 0n, length: span }], 1 << 24), 'planLog');
      const prefix = n === 0 ? `t${t}` : `t${t}.g${g}`;
      let at = 0;
      [d.logWords, ...summaryLevelWords(d.logWords)].forEach((words, k) => {
        this.regions.push({ buffer: d.buffer, byteStart: at, byteEnd: at + words * 4, name: k === 0 ? `${prefix}.log` : `${prefix}.sum${k}` });
        at += words * 4;
      });
      return d;
    }));
    this.cells = controlCells(scenario.trackers).buffer as SharedArrayBuffer;
    // The control cells one by one (src/dma/types.ts): report-set epochs, then each tracker's log generation.
    const cellNames = [...Array.from({ length: scenario.trackers }, (_, t) => `cells.gen.t${t}`)];
    cellNames.splice(CONTROL_SETS_BEGUN, 0, 'cells.setsBegun');
    cellNames.splice(CONTROL_SETS_COMPLETED, 0, 'cells.setsCompleted');
    cellNames.forEach((name, i) => this.regions.push({ buffer: this.cells, byteStart: i * 4, byteEnd: i * 4 + 4, name }));
    let at = 0;
    this.sets = scenario.sets.map((s) => {
      const window = { iova: BigInt(s.firstPage * scenario.pageSize), length: BigInt(s.pages * scenario.pageSize), pageSize: BigInt(scenario.pageSize) };
      const bytes = Number(bitmapBytes(BigInt(reportBitCount(window.length, window.pageSize))));
      const set = { at, bytes, window, firstPage: s.firstPage, pages: s.pages };
      at += bytes;
      return set;
    });
    this.user = new SharedArrayBuffer(Math.max(8, at));
    this.sets.forEach((s, i) => {
      this.regions.push({ buffer: this.user, byteStart: s.at, byteEnd: s.at + s.bytes, name: `set${i}.bitmap` });
      // A stale bitmap holds a garbage bit for every page of its window until zeroed.
      if (scenario.sets[i]!.stale) new Uint8Array(this.user, s.at, s.bytes).fill(0xff);
    });
    this.#buffers = [this.guest, ...this.logs.flat().map((d) => d.buffer), this.cells, this.user];
    this.#initial = this.#buffers.map((b) => new Uint8Array(b).slice());
  }

  /** Slot of tracker t's log generation in the control cells. */
  genSlot(t: number): number {
    return CONTROL_FIRST_LOG_GEN + t;
  }

  /** Every buffer back to its state before the first step. */
  reset(): void {
    this.#buffers.forEach((b, i) => new Uint8Array(b).set(this.#initial[i]!));
  }

  /** The region an access touches, and its index there in elements of the access's width. */
  locate(access: Access): { name: string; index: number } {
    for (const r of this.regions) {
      if (r.buffer === access.buffer && access.byteStart >= r.byteStart && access.byteStart < r.byteEnd) {
        return { name: r.name, index: (access.byteStart - r.byteStart) / access.width };
      }
    }
    return { name: '?', index: access.byteStart };
  }

  /** The element an access touches, read without going through any layer (for traces). */
  peek(access: Access): number {
    if (access.buffer === null) return 0;
    if (access.kind === 'fill' || access.kind === 'scan') return new Uint8Array(access.buffer, access.byteStart, access.byteEnd - access.byteStart).some((b) => b !== 0) ? 1 : 0;
    return access.width === 4 ? new Int32Array(access.buffer, access.byteStart, 1)[0]! : new Uint8Array(access.buffer, access.byteStart, 1)[0]!;
  }

  /** The pages set in set i's bitmap (absolute page indexes). */
  setPages(i: number): number[] {
    const s = this.sets[i]!;
    const bytes = new Uint8Array(this.user, s.at, s.bytes);
    const pages: number[] = [];
    for (let b = 0; b < s.pages; b++) if ((bytes[b >>> 3]! >>> (b & 7)) & 1) pages.push(s.firstPage + b);
    return pages;
  }

  /** FNV-1a over every buffer: two executions that end in the same memory have the same hash. */
  memoryHash(): string {
    let h = 0x811c9dc5;
    for (const b of this.#buffers) {
      const u8 = new Uint8Array(b);
      for (let i = 0; i < u8.length; i++) h = Math.imul(h ^ u8[i]!, 0x01000193);
    }
    return (h >>> 0).toString(16).padStart(8, '0');
  }
}
