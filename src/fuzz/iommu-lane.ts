// One fuzzed iommufd (contract §7), in this thread: an IOAS with a few mappings (two of them huge,
// one ending just below 2^64), a device attached to a HWPT with or without the dirty-tracking
// capability, DMA writes between calls, and raw SET_DIRTY_TRACKING / GET_DIRTY_BITMAP calls with
// hostile structs over a canary-filled user memory. The oracle is the lane's own: the errno
// iommu-expect.ts works out from the bytes, and the dirty granules dirty-model.ts saw written.
// Each check that fails throws a FuzzFailure naming what broke.
import type { Contract } from '../bitmap/iova-bitmap.js';
import { FuzzFailure } from '../errors.js';
import { iommufdIoctl } from '../iommufd/ioctl.js';
import { Iommufd } from '../iommufd/iommufd.js';
import { ERRNO, type Errno } from '../uapi/errno.js';
import { UserMemory } from '../uapi/user-memory.js';
import { applyWrites, describeCall, type FuzzCall } from './call.js';
import { DirtyModel, covers, type ModelMapping } from './dirty-model.js';
import { bytes, chance, pick, type Draw } from './draw.js';
import { GET_REQUEST, SET_REQUEST, allowedErrnos, expectIommufdCall, type Expectation, type HwptKind } from './iommu-expect.js';
import type { IommuGenContext } from './iommu-generate.js';
import type { Outcome } from './lane.js';

/** What an iommufd lane fuzzes: the HWPT its device is attached to has the capability, or not. */
export type IommuLaneKind = 'iommufd-dirty' | 'iommufd-plain';

/** The raw ioctl under test (tests pass one that wraps the real one to misbehave). */
export type IommufdIoctl = typeof iommufdIoctl;

export interface IommuLaneOptions {
  kind: IommuLaneKind;
  /** Size of the fuzz arena (the lane's whole user memory). */
  memoryBytes: number;
  contract?: Contract;
  ioctl?: IommufdIoctl;
}

const MiB = 1n << 20n;
const U64_LIMIT = 1n << 64n;
/** Adjacent huge and small mappings (a write may cross), a small one far off, a huge one near the top. */
const MAPPINGS: readonly ModelMapping[] = [
  { iova: 0n, length: 4n * MiB, huge: true },
  { iova: 4n * MiB, length: 64n << 10n, huge: false },
  { iova: 1n << 30n, length: 1n * MiB, huge: false },
  { iova: U64_LIMIT - 8n * MiB, length: 4n * MiB, huge: true },
];
/** The fixed round: writes a fresh iommufd must log exactly like the fuzzed one. */
const ROUND_WRITES: ReadonlyArray<readonly [bigint, bigint]> = [
  [0x1000n, 1n], [4n * MiB - 1n, 2n], [(1n << 30n) + 0x5fffn, 2n], [U64_LIMIT - 5n * MiB, 4096n],
];
/** Calls in a row after which the lane hands the event loop to the device lanes. */
const YIELD_EVERY = 64;

interface LaneHwpt { id: number; kind: HwptKind; devId: number; model: DirtyModel | null }

/** The lane's objects: its own HWPT, and on a dirty lane a second device on a HWPT without the capability. */
interface Objects { iommufd: Iommufd; ioas: number; hwpts: LaneHwpt[]; otherIds: number[] }

function build(kind: IommuLaneKind): Objects {
  const iommufd = new Iommufd();
  const ioas = iommufd.allocIoas();
  for (const m of MAPPINGS) iommufd.map(ioas, m.iova, m.length, { huge: m.huge });
  const attach = (name: string, dirty: boolean): LaneHwpt => {
    const devId = iommufd.bindDevice(name);
    const id = iommufd.allocHwpt(devId, ioas, { dirtyTracking: dirty });
    iommufd.attach(devId, id);
    return { id, kind: dirty ? 'dirty' : 'plain', devId, model: dirty ? new DirtyModel(MAPPINGS) : null };
  };
  const hwpts = kind === 'iommufd-dirty' ? [attach('nic0', true), attach('nic1', false)] : [attach('nic0', false)];
  return { iommufd, ioas, hwpts, otherIds: [ioas, ...hwpts.map((h) => h.devId)] };
}

export class IommuFuzzLane {
  readonly #o: IommuLaneOptions;
  readonly #ioctl: IommufdIoctl;
  readonly #iommufd: Iommufd;
  readonly #hwpts: LaneHwpt[];
  readonly #ctx: IommuGenContext;
  readonly #memory: UserMemory;
  readonly #arena: Uint8Array;
  readonly #template: Uint8Array;
  readonly #expected: Uint8Array;
  #sinceYield = 0;

  constructor(readonly index: number, o: IommuLaneOptions) {
    this.#o = o;
    this.#ioctl = o.ioctl ?? iommufdIoctl;
    const objects = build(o.kind);
    this.#iommufd = objects.iommufd;
    this.#hwpts = objects.hwpts;
    this.#memory = new UserMemory(new SharedArrayBuffer(o.memoryBytes));
    this.#arena = this.#memory.bytes;
    this.#template = new Uint8Array(o.memoryBytes);
    this.#expected = new Uint8Array(o.memoryBytes);
    this.#ctx = {
      memoryBytes: o.memoryBytes, hwpts: objects.hwpts.map((h) => h.id), otherIds: objects.otherIds,
      nextId: Math.max(...objects.otherIds, ...objects.hwpts.map((h) => h.id)) + 1, mappings: MAPPINGS,
    };
  }

  get kind(): IommuLaneKind {
    return this.#o.kind;
  }

  /** The lane's state for the outcome table: whether a dirty-capable HWPT is tracking now. */
  get state(): 'tracking' | 'not tracking' {
    return this.#hwpts.some((h) => h.model?.tracking === true) ? 'tracking' : 'not tracking';
  }

  /** What the generator aims at. */
  context(): IommuGenContext {
    return this.#ctx;
  }

  describeStatus(): string {
    return this.#hwpts.map((h) => `HWPT ${h.id} ${h.kind}${h.model ? ` tracking=${h.model.tracking} dirty granules=${h.model.size}` : ''}`).join(', ');
  }

  refreshCanary(d: Draw): void {
    this.#template.set(bytes(d, this.#template.length));
  }

  /** Let the device lanes' thread messages in now and then: every call here is synchronous. */
  async yieldNow(): Promise<void> {
    if (++this.#sinceYield < YIELD_EVERY) return;
    this.#sinceYield = 0;
    await new Promise((resolve) => setImmediate(resolve));
  }

  #kindOf = (id: number): HwptKind | null => this.#hwpts.find((h) => h.id === id)?.kind ?? null;

  /** One fuzzed call with every per-call check; returns its outcome or throws FuzzFailure. */
  call(call: FuzzCall): Outcome {
    try {
      return this.#call(call);
    } catch (error) {
      if (error instanceof FuzzFailure) {
        error.call ??= describeCall(call);
        error.message = `${error.message}\n  ${error.call}`;
      }
      throw error;
    }
  }

  #call(call: FuzzCall): Outcome {
    const expected = this.#expected;
    expected.set(this.#template);
    applyWrites(expected, call.writes);
    this.#arena.set(expected);
    const expect = expectIommufdCall(expected, call.request, call.ptr, this.#kindOf);
    const outcome = this.#raw(call.request, call.ptrAsNumber ? Number(call.ptr) : call.ptr);
    if (outcome !== 'ok' && !allowedErrnos(call.request).includes(outcome)) {
      throw new FuzzFailure('errno', `${outcome}: contract §7 allows this request only ${allowedErrnos(call.request).join(', ')}`);
    }
    const wanted: Outcome = expect.errno ?? 'ok';
    if (outcome !== wanted) throw new FuzzFailure('errno', `${outcome}, where contract §7 gives ${wanted}`);
    this.#checkMemory(outcome, expect, expected);
    if (expect.errno === null && expect.kind === 'set') this.#hwpt(expect.hwptId).model!.setTracking(expect.enable);
    this.#checkTracking(outcome);
    return outcome;
  }

  /** The raw ioctl: 0 → 'ok', -errno → its name; a throw or any other value is an exception failure. */
  #raw(request: number, ptr: number | bigint): Outcome {
    let r: unknown;
    try {
      r = this.#ioctl(this.#iommufd, this.#memory, request, ptr, this.#o.contract ?? 'atomic');
    } catch (error) {
      throw new FuzzFailure('exception', `the ioctl threw ${(error as Error)?.name}: ${(error as Error)?.message}`);
    }
    if (r === 0) return 'ok';
    const errno = (Object.keys(ERRNO) as Errno[]).find((name) => -ERRNO[name] === r);
    if (errno === undefined) throw new FuzzFailure('exception', `the ioctl returned ${String(r)}: neither 0 nor -errno`);
    return errno;
  }

  #hwpt(id: number): LaneHwpt {
    return this.#hwpts.find((h) => h.id === id)!;
  }

  /**
   * User memory after the call is what it held before, except that a successful GET ORs in
   * exactly the bits the model predicts (and forgets what it cleared). A byte outside the bitmap
   * is a canary failure; a wrong bitmap byte a bits failure.
   */
  #checkMemory(outcome: Outcome, expect: Expectation, before: Uint8Array): void {
    let bitmap: { at: number; bytes: number } | null = null;
    let want = before;
    if (expect.errno === null && expect.kind === 'get' && expect.bitCount > 0) {
      const model = this.#hwpt(expect.hwptId).model!;
      want = before.slice();
      for (const n of model.get(expect.iova, expect.length, expect.bitPage, expect.noClear)) want[expect.bitmapAt + (n >>> 3)]! |= 1 << (n & 7);
      bitmap = { at: expect.bitmapAt, bytes: Math.ceil(expect.bitCount / 8) };
    }
    if (Buffer.compare(want, this.#arena) === 0) return;
    const i = want.findIndex((v, j) => v !== this.#arena[j]);
    const change = `0x${hex2(want[i]!)} expected, 0x${hex2(this.#arena[i]!)} found`;
    if (bitmap && i >= bitmap.at && i < bitmap.at + bitmap.bytes) {
      throw new FuzzFailure('bits', `GET bitmap byte ${i - bitmap.at}: ${change} (the lane's model of written pages says so)`);
    }
    throw new FuzzFailure('canary', `${outcome}: user byte ${i} changed: ${change}`);
  }

  #checkTracking(outcome: Outcome): void {
    for (const h of this.#hwpts) {
      const tracking = this.#iommufd.pagingHwpt(h.id)!.tracking;
      if (tracking !== (h.model?.tracking ?? false)) throw new FuzzFailure('state', `${outcome}: HWPT ${h.id} tracking is ${tracking}; expected ${!tracking}`);
    }
  }

  /** A few DMA writes by the lane's devices: mostly inside a mapping, some across two, some unmapped. */
  dma(d: Draw, trace?: ((line: string) => void) | null): Outcome[] {
    const outcomes: Outcome[] = [];
    for (let i = d.int(1, 4); i > 0; i--) {
      const h = pick(d, this.#hwpts);
      const { iova, length } = this.#dmaTarget(d);
      const mapped = covers(MAPPINGS, iova, length);
      let outcome: Outcome = 'ok';
      try {
        this.#iommufd.dmaWrite(h.devId, iova, length);
      } catch (error) {
        outcome = (error as { errno?: Errno }).errno ?? 'EIO';
      }
      if (outcome !== (mapped ? 'ok' : 'EFAULT')) throw new FuzzFailure('state', `DMA write ${iova}+${length} by device ${h.devId}: ${outcome}, expected ${mapped ? 'ok' : 'EFAULT'}`);
      if (mapped) h.model?.write(iova, length);
      trace?.(`  DMA write ${iova}+${length} by device ${h.devId}: ${outcome}`);
      outcomes.push(outcome);
    }
    return outcomes;
  }

  #dmaTarget(d: Draw): { iova: bigint; length: bigint } {
    const length = BigInt(chance(d, 70) ? d.int(1, 8192) : d.int(1, 1 << 16));
    const m = pick(d, MAPPINGS);
    const spot = (span: bigint) => BigInt(Math.floor(d.unit() * Number(span)));
    return pick(d, [
      { iova: m.iova + spot(m.length - length > 0n ? m.length - length : 1n), length },
      { iova: m.iova + spot(m.length - length > 0n ? m.length - length : 1n), length },
      { iova: m.iova + m.length - 1n - spot(length), length }, // across the end: into B after A, unmapped after the rest
      { iova: 1n << 40n, length },
    ]);
  }

  /**
   * A clearing GET of every mapping on every HWPT, laid out correctly: a dirty HWPT must return
   * exactly the pages written since its last clearing GET (none lost to a failed call, none
   * invented), a HWPT without the capability EOPNOTSUPP.
   */
  verify(): void {
    for (const h of this.#hwpts) {
      for (const m of MAPPINGS) {
        const outcome = this.#get(h.id, m.iova, m.length, false);
        const predicted = h.model?.get(m.iova, m.length, 4096n, false);
        if (outcome !== (predicted ? 'ok' : 'EOPNOTSUPP')) throw new FuzzFailure('state', `verify GET of ${m.iova}+${m.length} on HWPT ${h.id}: ${outcome}`);
        if (!predicted) continue;
        const got = setBits(this.#arena, 0, Number(m.length / 4096n));
        const want = [...predicted].sort((a, b) => a - b);
        if (got.join() !== want.join()) {
          throw new FuzzFailure('bits', `verify GET of ${m.iova}+${m.length} on HWPT ${h.id}: bits [${got.slice(0, 16)}${got.length > 16 ? ' …' : ''}] (${got.length}), the model of written pages [${want.slice(0, 16)}${want.length > 16 ? ' …' : ''}] (${want.length})`);
        }
      }
    }
  }

  /** A well-formed clearing (or NO_CLEAR) GET at 4 KiB into a zeroed bitmap at 0; struct at the top. */
  #get(hwptId: number, iova: bigint, length: bigint, noClear: boolean, on: { iommufd: Iommufd; memory: UserMemory } = { iommufd: this.#iommufd, memory: this.#memory }): Outcome {
    const at = on.memory.byteLength - 64;
    on.memory.bytes.fill(0, 0, Number(length / 4096n / 8n) + 8);
    on.memory.bytes.fill(0, at, at + 64);
    const v = on.memory.view;
    v.setUint32(at, 48, true);
    v.setUint32(at + 4, hwptId, true);
    v.setUint32(at + 8, noClear ? 1 : 0, true);
    v.setBigUint64(at + 16, iova, true);
    v.setBigUint64(at + 24, length, true);
    v.setBigUint64(at + 32, 4096n, true);
    v.setBigUint64(at + 40, 0n, true);
    return on.iommufd === this.#iommufd ? this.#raw(GET_REQUEST, at) : errnoOf(iommufdIoctl(on.iommufd, on.memory, GET_REQUEST, at));
  }

  #set(hwptId: number, enable: boolean, on: { iommufd: Iommufd; memory: UserMemory } = { iommufd: this.#iommufd, memory: this.#memory }): Outcome {
    const at = on.memory.byteLength - 64;
    on.memory.bytes.fill(0, at, at + 64);
    on.memory.view.setUint32(at, 16, true);
    on.memory.view.setUint32(at + 4, enable ? 1 : 0, true);
    on.memory.view.setUint32(at + 8, hwptId, true);
    return on.iommufd === this.#iommufd ? this.#raw(SET_REQUEST, at) : errnoOf(iommufdIoctl(on.iommufd, on.memory, SET_REQUEST, at));
  }

  /**
   * The fixed round: enable, fixed writes, a clearing GET of every mapping, on the fuzzed iommufd
   * and on a fresh one built the same way: the bitmaps must match byte for byte. The lane's
   * tracking state is put back afterwards (its log is then empty).
   */
  round(): void {
    const fresh = build(this.#o.kind);
    const freshMemory = new UserMemory(new SharedArrayBuffer(this.#o.memoryBytes));
    const freshOn = { iommufd: fresh.iommufd, memory: freshMemory };
    for (const [i, h] of this.#hwpts.entries()) {
      const f = fresh.hwpts[i]!;
      const wasTracking = h.model?.tracking ?? false;
      const a = this.#set(h.id, true);
      const b = this.#set(f.id, true, freshOn);
      if (a !== b || a !== (h.model ? 'ok' : 'EOPNOTSUPP')) throw new FuzzFailure('round', `round SET on HWPT ${h.id}: ${a}, on a fresh iommufd ${b}`);
      if (!h.model) continue;
      h.model.setTracking(true);
      for (const [iova, length] of ROUND_WRITES) {
        this.#iommufd.dmaWrite(h.devId, iova, length);
        fresh.iommufd.dmaWrite(f.devId, iova, length);
        h.model.write(iova, length);
      }
      for (const m of MAPPINGS) {
        const got = [this.#get(h.id, m.iova, m.length, false), this.#get(f.id, m.iova, m.length, false, freshOn)];
        const bitmapBytes = Number(m.length / 4096n / 8n);
        h.model.get(m.iova, m.length, 4096n, false);
        if (got[0] !== 'ok' || got[1] !== 'ok' || Buffer.compare(this.#arena.subarray(0, bitmapBytes), freshMemory.bytes.subarray(0, bitmapBytes)) !== 0) {
          throw new FuzzFailure('round', `round GET of ${m.iova}+${m.length}: ${got[0]} with bits [${setBits(this.#arena, 0, bitmapBytes * 8)}], a fresh iommufd ${got[1]} with [${setBits(freshMemory.bytes, 0, bitmapBytes * 8)}]`);
        }
      }
      if (!wasTracking) {
        if (this.#set(h.id, false) !== 'ok') throw new FuzzFailure('round', `round SET disable on HWPT ${h.id} failed`);
        h.model.setTracking(false);
      }
    }
    this.#checkTracking('ok');
  }
}

function errnoOf(r: number): Outcome {
  return r === 0 ? 'ok' : (Object.keys(ERRNO) as Errno[]).find((name) => -ERRNO[name] === r) ?? 'EIO';
}

function setBits(bytes: Uint8Array, at: number, bitCount: number): number[] {
  const out: number[] = [];
  for (let n = 0; n < bitCount; n++) if ((bytes[at + (n >>> 3)]! >>> (n & 7)) & 1) out.push(n);
  return out;
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}
