// The one layer every shared-memory access of the data path goes through: the device log and its
// summary levels (DirtyLog), the user bitmap (IovaBitmap), the coordinator's zeroing (ReportBitmap)
// and the DMA engine's data store (runBurst). Each method is one access: an Atomics call or a
// plain read or write of one element of a shared array.
//
// The data-path classes extend this class and call `this.or32(…)`: V8 inlines each call down to
// the bare Atomics call or element access, guarded by a check of `this`'s map. Measured against
// direct calls (perf/layer-ab.ts, perf/RESULTS.md "explore: memory-access layer"): about 2 % of
// the logging rate and of a dense REPORT, 4-5 % of a sparse one. The alternatives measured were
// worse: an access object in a field (4-6 % of the logging rate), a module-level object (8 % of a
// REPORT), module-level functions testing a hook (19 %). `dmalog explore` subclasses each
// data-path class with these methods asking a scheduler before each access (src/explore/memory.ts);
// only a process that explores ever sees those second maps. One method per element type, so that each method's own
// type feedback stays monomorphic too. DIRECT_ACCESS serves plain functions (the DMA engine).
export class SharedAccess {
  /** Plain read of a[i]. */
  load32(a: Int32Array, i: number): number {
    return a[i]!;
  }

  /** Plain write of a[i]. */
  store32(a: Int32Array, i: number, v: number): void {
    a[i] = v;
  }

  or32(a: Int32Array, i: number, v: number): number {
    return Atomics.or(a, i, v);
  }

  and32(a: Int32Array, i: number, v: number): number {
    return Atomics.and(a, i, v);
  }

  exchange32(a: Int32Array, i: number, v: number): number {
    return Atomics.exchange(a, i, v);
  }

  add32(a: Int32Array, i: number, v: number): number {
    return Atomics.add(a, i, v);
  }

  atomicLoad32(a: Int32Array, i: number): number {
    return Atomics.load(a, i);
  }

  atomicStore32(a: Int32Array, i: number, v: number): void {
    Atomics.store(a, i, v);
  }

  load8(a: Uint8Array, i: number): number {
    return a[i]!;
  }

  store8(a: Uint8Array, i: number, v: number): void {
    a[i] = v;
  }

  or8(a: Uint8Array, i: number, v: number): number {
    return Atomics.or(a, i, v);
  }

  /** Plain fill of a whole byte array (a bitmap being zeroed): one access. */
  fill8(a: Uint8Array, v: number): void {
    a.fill(v);
  }

}

export const DIRECT_ACCESS = new SharedAccess();
