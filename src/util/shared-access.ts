// The one layer every shared-memory access of the data path goes through: the device log and its
// summary levels (DirtyLog), the user bitmap (IovaBitmap), the coordinator's zeroing (ReportBitmap)
// and the DMA engine's data store (runBurst). Each method is one access: an Atomics call or a
// plain read or write of one element of a shared array.
//
// The data-path classes extend this class and call `this.or32(…)`. The atomic methods are not
// wrappers: they are the Atomics functions themselves, put on the prototype below (Atomics ignores
// `this`), so that V8 compiles `this.or32(a, i, v)` to the same builtin call as `Atomics.or(a, i,
// v)`, behind a check of `this`'s map. The plain reads and writes are one-line methods V8 inlines.
// Measured against direct calls (perf/layer-ab.ts, perf/RESULTS.md "explore: memory-access
// layer"): about 1 % of the logging rate and of a dense REPORT, 1-3 % of a sparse one. Measured
// and worse: wrapper methods calling Atomics (4-5 % of a sparse REPORT), an access object in a
// field (4-6 % of the logging rate), a module-level object (8 % of a REPORT), module-level
// functions testing a hook (19 %). `dmalog explore` subclasses each data-path class with methods
// that ask a scheduler before each access (src/explore/memory.ts); only a process that explores
// ever sees those second maps. One method per element type, so that each method's own type
// feedback stays monomorphic. DIRECT_ACCESS serves plain functions (the DMA engine).
export class SharedAccess {
  /** Plain read of a[i]. */
  load32(a: Int32Array, i: number): number {
    return a[i]!;
  }

  /** Plain write of a[i]. */
  store32(a: Int32Array, i: number, v: number): void {
    a[i] = v;
  }

  load8(a: Uint8Array, i: number): number {
    return a[i]!;
  }

  store8(a: Uint8Array, i: number, v: number): void {
    a[i] = v;
  }

  /** Plain fill of a whole byte array (a bitmap being zeroed): one access. */
  fill8(a: Uint8Array, v: number): void {
    a.fill(v);
  }

  /**
   * Plain read of bytes [from, to) of `a`: true when every one is 0. One access (a scan for
   * clean chunks); a memcmp against zeros, many bytes per cycle.
   */
  isZero8(a: Uint8Array, from: number, to: number): boolean {
    for (let at = from; at < to; at += ZERO_BYTES.length) {
      const end = Math.min(to, at + ZERO_BYTES.length);
      if (ZERO_BYTES.compare(a, at, end, 0, end - at) !== 0) return false;
    }
    return true;
  }
}

const ZERO_BYTES = Buffer.alloc(4096);

/** The atomic accesses: each is the Atomics function of the same operation (see above). */
export interface AtomicAccess {
  or32(a: Int32Array, i: number, v: number): number;
  and32(a: Int32Array, i: number, v: number): number;
  exchange32(a: Int32Array, i: number, v: number): number;
  add32(a: Int32Array, i: number, v: number): number;
  atomicLoad32(a: Int32Array, i: number): number;
  atomicStore32(a: Int32Array, i: number, v: number): void;
  or8(a: Uint8Array, i: number, v: number): number;
}

// Typed against AtomicAccess, so each Atomics function is checked to fit its method's signature.
const ATOMIC_METHODS: AtomicAccess = {
  or32: Atomics.or,
  and32: Atomics.and,
  exchange32: Atomics.exchange,
  add32: Atomics.add,
  atomicLoad32: Atomics.load,
  atomicStore32: Atomics.store,
  or8: Atomics.or,
};

for (const [name, fn] of Object.entries(ATOMIC_METHODS)) {
  // As a class method would be: writable, configurable, not enumerable.
  Object.defineProperty(SharedAccess.prototype, name, { value: fn, writable: true, configurable: true, enumerable: false });
}

// Declaration merging: SharedAccess instances have the methods put on the prototype above.
export interface SharedAccess extends AtomicAccess {}

export const DIRECT_ACCESS = new SharedAccess();
