// One fuzzed device and its mirror. The fuzzed device sits alone in a host whose whole user
// memory is the fuzz arena, filled with a canary pattern before every call; the mirror (same
// profile, in a shared second host) receives only the calls that succeeded, and the same DMA.
// A failed call must change nothing, so the two must stay indistinguishable: same status, same
// bits from every REPORT. Each check that fails throws a FuzzFailure naming what broke.
import type { Contract } from '../bitmap/iova-bitmap.js';
import type { Host } from '../host/host.js';
import { createRig, type HostFactory, type Rig } from '../rig/rig.js';
import type { DeviceTracker } from '../trackers/device-tracker.js';
import type { ProfileName } from '../device/profiles.js';
import type { DriverStatus } from '../device/driver.js';
import { FuzzFailure, VfioError } from '../errors.js';
import { ERRNO, type Errno } from '../uapi/errno.js';
import type { LoggingRange } from '../uapi/structs.js';
import { ceilDiv } from '../util/bits.js';
import { applyWrites, describeCall, strayWrite, successEffect, type FuzzCall } from './call.js';
import { bytes, chance, pick, type Draw } from './draw.js';
import type { GenContext } from './generate.js';
import { mirrorMemoryBytes } from './options.js';

export type FailureKind =
  /** A call settled with something other than 0 or a VfioError with a known errno. */
  | 'exception'
  /** A call did not settle within the fuzz deadline. */
  | 'hang'
  /** User memory changed outside what the call was allowed to write. */
  | 'canary'
  /** Device state after a call is not what the call's outcome implies. */
  | 'state'
  /** A REPORT on the fuzzed device and its mirror disagree, or a GET and the iommufd lane's model of written pages. */
  | 'bits'
  /** An iommufd call returned another errno (or success) than the lane's reading of contract §7 gives. */
  | 'errno'
  /** The device thread died or stalled although no fault was injected. */
  | 'device-lost'
  /** A fixed round on a device gave other bits than a fresh device gives. */
  | 'round'
  /** The process grew past its memory budget. */
  | 'memory';

export type Outcome = Errno | 'ok';

export interface LaneOptions {
  profile: ProfileName;
  /** Size of the fuzz arena (the fuzzed host's whole user memory). */
  memoryBytes: number;
  /** Fuzz deadline per call; past it the call is a hang. */
  callTimeoutMs: number;
  /** The hosts' own tracker deadline (callTimeoutMs of createHost). */
  hostCallTimeoutMs: number;
  maxLogBytes: number;
  /** How the fuzzed device sets bits (the mirrors always OR atomically: one thread, same bits). */
  contract?: Contract;
  /** Host factory (tests pass one that wraps a real host to misbehave). */
  createHost?: HostFactory;
}

/** A host holding every lane's mirror device, each with its own scratch and bitmap. */
export async function createMirrorHost(profiles: readonly ProfileName[], o: Omit<LaneOptions, 'profile' | 'contract'>): Promise<Host> {
  // A rig of a host alone (the lanes make their own DMA): closing the host ends all it started.
  const rig = await createRig({
    host: {
      userMemoryBytes: mirrorMemoryBytes(profiles.length, o.memoryBytes),
      devices: profiles.map((profile, i) => ({ name: mirrorName(i), profile })),
      callTimeoutMs: o.hostCallTimeoutMs,
      maxLogBytes: o.maxLogBytes,
      logLevel: 'silent',
    },
  });
  return rig.host;
}

function mirrorName(lane: number): string {
  return `mirror${lane}`;
}

const DEVICE = 'fuzz0';

/** The fixed round that must behave as on a fresh device: two ranges, 4 KiB pages, known writes. */
const ROUND_RANGES: LoggingRange[] = [{ iova: 0n, length: 1n << 20n }, { iova: 1n << 40n, length: 256n << 10n }];
const ROUND_WRITES: LoggingRange[] = [{ iova: 0x1000n, length: 1n }, { iova: 0x5fffn, length: 2n }, { iova: (1n << 40n) + 0x3000n, length: 0x2000n }];
/** Report bits each round range must show: 0x1000 → 1, 0x5fff..0x6000 → 5, 6; 2^40 + 0x3000..0x5000 → 3, 4. */
const ROUND_BITS: number[][] = [[1, 5, 6], [3, 4]];
const PAGE = 4096n;

export class FuzzLane {
  readonly index: number;
  readonly profile: ProfileName;
  readonly #o: LaneOptions;
  readonly #rig: Rig;
  readonly #host: Host;
  readonly #fd: number;
  readonly #device: DeviceTracker;
  readonly #mirror: DeviceTracker;
  readonly #mirrorBitmapAt: number;
  readonly #arena: Uint8Array;
  readonly #mirrorBytes: Uint8Array;
  /** The canary pattern user memory holds between calls. */
  readonly #template: Uint8Array;
  /** What user memory must hold after a call that changed nothing: template plus the call's bytes. */
  readonly #expected: Uint8Array;
  #status: DriverStatus;
  /** Calls since the device's status was last read back. */
  #unchecked = 0;

  private constructor(index: number, o: LaneOptions, rig: Rig, mirrorHost: Host, status: DriverStatus) {
    const host = rig.host;
    this.index = index;
    this.profile = o.profile;
    this.#o = o;
    this.#rig = rig;
    this.#host = host;
    this.#fd = host.open(DEVICE);
    this.#device = rig.devices[0]!;
    this.#mirror = mirrorHost.device(mirrorName(index));
    this.#mirrorBitmapAt = mirrorHost.alloc(o.memoryBytes);
    this.#arena = new Uint8Array(host.memory);
    this.#mirrorBytes = new Uint8Array(mirrorHost.memory);
    this.#template = new Uint8Array(o.memoryBytes);
    this.#expected = new Uint8Array(o.memoryBytes);
    this.#status = status;
  }

  static async open(index: number, o: LaneOptions, mirrorHost: Host): Promise<FuzzLane> {
    const rig = await createRig({
      host: {
        userMemoryBytes: o.memoryBytes,
        devices: [{ name: DEVICE, profile: o.profile }],
        callTimeoutMs: o.hostCallTimeoutMs,
        maxLogBytes: o.maxLogBytes,
        contract: o.contract ?? 'atomic',
        logLevel: 'silent',
      },
      ...(o.createHost && { createHost: o.createHost }),
    });
    try {
      return new FuzzLane(index, o, rig, mirrorHost, await rig.devices[0]!.status());
    } catch (error) {
      await rig.close();
      throw error;
    }
  }

  /** What the generator should aim at now. */
  context(): GenContext {
    return { memoryBytes: this.#o.memoryBytes, regions: this.#status.regions, granule: this.#status.pageSize };
  }

  describeStatus(): string {
    return showStatus(this.#status);
  }

  get state(): DriverStatus['state'] {
    return this.#status.state;
  }

  /** A new canary pattern (random bytes: stray struct pointers then read garbage too). */
  refreshCanary(d: Draw): void {
    this.#template.set(bytes(d, this.#template.length));
  }

  /**
   * One fuzzed ioctl with every per-call check. Resolves its outcome or throws FuzzFailure.
   * A call that changed nothing on success (failed, or a PROBE) has the device's status read back
   * only when `checkStatus` (a round trip to its thread, the largest cost per call); otherwise
   * the next check compares against the same expectation, so a change is still caught, just up
   * to a few calls later. The host's own view (is there a log?) is checked every time.
   */
  async call(call: FuzzCall, checkStatus = true): Promise<Outcome> {
    try {
      return await this.#call(call, checkStatus);
    } catch (error) {
      if (error instanceof FuzzFailure) {
        error.call ??= describeCall(call);
        error.message = `${error.message}\n  ${error.call}`;
      }
      throw error;
    }
  }

  async #call(call: FuzzCall, checkStatus: boolean): Promise<Outcome> {
    const expected = this.#expected;
    expected.set(this.#template);
    applyWrites(expected, call.writes);
    this.#arena.set(expected);
    const ptr = call.ptrAsNumber ? Number(call.ptr) : call.ptr;
    const outcome = await this.#settle(() => this.#host.ioctl(this.#fd, call.request, ptr));
    const effect = outcome === 'ok' ? successEffect(expected, call.ptr) : null;
    if (outcome === 'ok' && effect === null) throw new FuzzFailure('state', `resolved 0 although its structs are unreadable or its feature unknown`);
    const stray = strayWrite(expected, this.#arena, effect);
    if (stray >= 0) {
      throw new FuzzFailure('canary', `${outcome}: user byte ${stray} changed 0x${hex2(expected[stray]!)} → 0x${hex2(this.#arena[stray]!)}`);
    }
    const before = this.#status;
    const unchanged = outcome !== 'ok' || effect!.kind === 'none';
    if (unchanged && !checkStatus) {
      const hostLogs = this.#host.inspect(this.#fd).logging;
      if (hostLogs !== (before.state !== 'idle')) throw new FuzzFailure('state', `${outcome}: the host ${hostLogs ? 'has' : 'lost'} a log; expected ${showStatus(before)}`);
      this.#unchecked++;
      return outcome;
    }
    const after = await this.#deviceStatus();
    const since = this.#unchecked > 0 ? ` (or one of the ${this.#unchecked} unchanged calls before it)` : '';
    this.#unchecked = 0;
    const fail = (what: string) => new FuzzFailure('state', `${outcome}: ${what}${since}; before ${showStatus(before)}, after ${showStatus(after)}`);
    if (unchanged) {
      if (!sameStatus(before, after)) throw fail('the call changed the device');
    } else if (effect!.kind === 'start') {
      const written = new DataView(this.#host.memory).getBigUint64(effect!.pageSizeAt, true);
      if (before.state !== 'idle' || after.state !== 'logging' || after.pageSize !== written) throw fail(`START wrote page size ${written}`);
      const mirrored = await this.#mirrorCall('START', () => this.#mirror.startLogging({ pageSize: effect!.pageSizeHint, ranges: effect!.ranges }));
      if (mirrored !== written) throw new FuzzFailure('bits', `the mirror chose page size ${mirrored}, the device ${written}`);
    } else if (effect!.kind === 'stop') {
      if (after.state !== 'idle') throw fail('STOP left the device logging');
      await this.#mirrorCall('STOP', () => this.#mirror.stopLogging());
    } else {
      if (after.reports !== before.reports + 1 || !sameStatus({ ...before, reports: after.reports }, after)) throw fail('REPORT changed more than its count');
      const { report, bitmapAt, bitCount } = effect!;
      const bitmapBytes = ceilDiv(bitCount, 8);
      this.#mirrorBytes.fill(0, this.#mirrorBitmapAt, this.#mirrorBitmapAt + bitmapBytes);
      await this.#mirrorCall('REPORT', () => this.#mirror.report({ ...report, bitmap: this.#mirrorBitmapAt }));
      // The device's bitmap must be exactly what it held OR the mirror's image of its log.
      for (let i = 0; i < bitmapBytes; i++) {
        const want = expected[bitmapAt + i]! | this.#mirrorBytes[this.#mirrorBitmapAt + i]!;
        if (this.#arena[bitmapAt + i] !== want) {
          throw new FuzzFailure('bits', `REPORT bitmap byte ${i}: device 0x${hex2(this.#arena[bitmapAt + i]!)}, mirror says 0x${hex2(want)}`);
        }
      }
    }
    this.#status = after;
    return outcome;
  }

  /** Run `op` under the fuzz deadline; 0 → 'ok', a VfioError → its errno, anything else fails. */
  async #settle(op: () => Promise<unknown>): Promise<Outcome> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'hang'>((resolve) => { timer = setTimeout(() => resolve('hang'), this.#o.callTimeoutMs); });
    try {
      const settled = await Promise.race([op().then(() => 'ok' as const), deadline]);
      if (settled === 'hang') throw new FuzzFailure('hang', `no answer within ${this.#o.callTimeoutMs} ms`);
      return 'ok';
    } catch (error) {
      if (error instanceof FuzzFailure) throw error;
      if (!(error instanceof VfioError)) throw new FuzzFailure('exception', `rejected with ${(error as Error)?.name}: ${(error as Error)?.message}`);
      if (ERRNO[error.errno] !== error.code) throw new FuzzFailure('exception', `VfioError ${error.errno} carries code ${error.code}`);
      if (error.errno === 'ENODEV' || error.errno === 'ETIMEDOUT') throw new FuzzFailure('device-lost', `${error.errno} with no fault injected`);
      return error.errno;
    } finally {
      clearTimeout(timer);
    }
  }

  async #deviceStatus(): Promise<DriverStatus> {
    let status: DriverStatus | undefined;
    await this.#settle(async () => { status = await this.#device.status(); });
    return status!;
  }

  async #mirrorCall<T>(what: string, op: () => Promise<T>): Promise<T> {
    let value: T | undefined;
    const outcome = await this.#settle(async () => { value = await op(); });
    if (outcome !== 'ok') throw new FuzzFailure('state', `the mirror refused a ${what} the device accepted: ${outcome}`);
    return value!;
  }

  /** The same operation on the device and its mirror: both must give the same outcome. */
  async #both(what: string, onDevice: () => Promise<unknown>, onMirror: () => Promise<unknown>): Promise<Outcome> {
    const a = await this.#settle(onDevice);
    const b = await this.#settle(onMirror);
    if (a !== b) throw new FuzzFailure('state', `${what}: device ${a}, mirror ${b}`);
    return a;
  }

  /** A few DMA writes (and a read), identical on both devices: they give REPORTs something to find. */
  async dma(d: Draw, trace?: ((line: string) => void) | null): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    const n = d.int(1, 4);
    for (let i = 0; i < n; i++) {
      const { iova, length } = this.#dmaTarget(d);
      const write = chance(d, 85);
      const what = `DMA ${write ? 'write' : 'read'} ${iova}+${length}`;
      outcomes.push(await this.#both(what,
        () => (write ? this.#device.dmaWrite(iova, length) : this.#device.dmaRead(iova, length)),
        () => (write ? this.#mirror.dmaWrite(iova, length) : this.#mirror.dmaRead(iova, length))));
      trace?.(`  ${what}: ${outcomes[outcomes.length - 1]}`);
    }
    return outcomes;
  }

  /** Mostly inside a tracked region; sometimes a zero length or an end past 2^64. Never huge: DMA is not what is fuzzed. */
  #dmaTarget(d: Draw): LoggingRange {
    const regions = this.#status.regions;
    if (regions.length > 0 && chance(d, 80)) {
      const r = pick(d, regions);
      const offset = BigInt(Math.floor(d.unit() * Number(r.length)));
      return { iova: r.iova + (offset < r.length ? offset : 0n), length: BigInt(d.int(1, 1 << 16)) };
    }
    const iova = d.u64();
    return pick(d, [
      { iova, length: BigInt(d.int(1, 1 << 16)) },
      { iova, length: 0n },
      { iova: iova | (1n << 63n), length: 1n << 63n },
    ]);
  }

  /** Bring both devices to `target` with valid calls (not fuzzed; both must agree at every step). */
  async setState(d: Draw, target: 'idle' | 'logging' | 'error'): Promise<void> {
    await this.#stopBoth();
    if (target !== 'idle') {
      const pageSize = pick(d, [4096n, 8192n, 65536n]);
      const ranges: LoggingRange[] = [];
      let at = BigInt(d.int(0, 1 << 16)) * pageSize;
      for (let i = d.int(1, 6); i > 0; i--) {
        const length = BigInt(d.int(1, 512)) * pageSize;
        ranges.push({ iova: at, length });
        at += length + BigInt(d.int(0, 64)) * pageSize;
      }
      const started = await this.#both('START', () => this.#device.startLogging({ pageSize, ranges }), () => this.#mirror.startLogging({ pageSize, ranges }));
      // The sticky error exists on mlx5 only (pds fails the one REPORT).
      if (target === 'error' && started === 'ok' && this.profile === 'mlx5') {
        await this.dma(d);
        await this.#device.injectFault({ kind: 'tracker-error' });
        await this.#mirror.injectFault({ kind: 'tracker-error' });
        const window = { iova: ranges[0]!.iova, length: ranges[0]!.length, pageSize: 4096n };
        const outcome = await this.#both('REPORT with a tracker error',
          () => this.#device.report({ ...window, bitmap: 0 }), () => this.#mirror.report({ ...window, bitmap: this.#mirrorBitmapAt }));
        if (outcome !== 'EIO') throw new FuzzFailure('state', `a REPORT with an injected tracker error gave ${outcome}`);
      }
    }
    await this.#agree('after a state change');
  }

  /** STOP is 0 in every state on a logging device (and clears a sticky error); ENOTTY on 'none'. */
  async #stopBoth(): Promise<void> {
    await this.#both('STOP', () => this.#device.stopLogging(), () => this.#mirror.stopLogging());
  }

  /** Device and mirror report the same status; the device's is the one the lane expects. */
  async #agree(when: string): Promise<void> {
    const a = await this.#deviceStatus();
    this.#unchecked = 0;
    let b: DriverStatus | undefined;
    await this.#settle(async () => { b = await this.#mirror.status(); });
    if (!sameStatus(a, b!)) throw new FuzzFailure('state', `${when}: device ${showStatus(a)}, mirror ${showStatus(b!)}`);
    this.#status = a;
  }

  /**
   * Device and mirror hold the same log: each tracked region is reported whole on both (at a page
   * size that fits the arena) and the bitmaps must match byte for byte. Reading clears both logs.
   */
  async verify(): Promise<void> {
    const expect = this.#status;
    await this.#agree('verify');
    if (!sameStatus(expect, this.#status)) throw new FuzzFailure('state', `verify: expected ${showStatus(expect)}, device ${showStatus(this.#status)}`);
    if (this.#status.state === 'idle') return;
    // Bitmaps go at the bottom of the arena; the typed layer keeps its scratch at the top.
    const capacityBits = BigInt((this.#o.memoryBytes >>> 1) * 8);
    let reported = 0;
    for (const r of this.#status.regions) {
      let P = this.#status.pageSize! > PAGE ? this.#status.pageSize! : PAGE;
      while (ceilDiv(r.length, P) > capacityBits) P *= 2n;
      const bitmapBytes = Number(ceilDiv(ceilDiv(r.length, P), 8n));
      this.#arena.fill(0, 0, bitmapBytes);
      this.#mirrorBytes.fill(0, this.#mirrorBitmapAt, this.#mirrorBitmapAt + bitmapBytes);
      const window = { iova: r.iova, length: r.length, pageSize: P };
      const outcome = await this.#both(`verify REPORT ${r.iova}+${r.length}`,
        () => this.#device.report({ ...window, bitmap: 0 }), () => this.#mirror.report({ ...window, bitmap: this.#mirrorBitmapAt }));
      if (outcome === 'ok') reported++;
      const mine = this.#arena.subarray(0, bitmapBytes);
      const theirs = this.#mirrorBytes.subarray(this.#mirrorBitmapAt, this.#mirrorBitmapAt + bitmapBytes);
      if (Buffer.compare(mine, theirs) !== 0) {
        const at = mine.findIndex((v, i) => v !== theirs[i]);
        throw new FuzzFailure('bits', `verify: region ${r.iova}+${r.length} at P=${P}: bitmap byte ${at} is 0x${hex2(mine[at]!)} on the device, 0x${hex2(theirs[at]!)} on the mirror`);
      }
    }
    // What both must now show; the next status check holds them to it.
    this.#status = { ...this.#status, reports: this.#status.reports + reported };
  }

  /** STOP, then START/DMA/REPORT/STOP over fixed ranges: exactly the bits a fresh device gives. */
  async round(): Promise<void> {
    await this.#stopBoth();
    const start = (h: DeviceTracker) => () => h.startLogging({ pageSize: PAGE, ranges: ROUND_RANGES });
    const started = await this.#both('round START', start(this.#device), start(this.#mirror));
    if (this.profile === 'none') {
      if (started !== 'ENOTTY') throw new FuzzFailure('round', `START on a device without logging gave ${started}`);
      return;
    }
    if (started !== 'ok') throw new FuzzFailure('round', `round START gave ${started}`);
    for (const w of ROUND_WRITES) await this.#both('round DMA', () => this.#device.dmaWrite(w.iova, w.length), () => this.#mirror.dmaWrite(w.iova, w.length));
    await this.#both('round DMA read', () => this.#device.dmaRead(0x8000n, 0x4000n), () => this.#mirror.dmaRead(0x8000n, 0x4000n));
    for (let i = 0; i < ROUND_RANGES.length; i++) {
      const window = { ...ROUND_RANGES[i]!, pageSize: PAGE };
      const bits = Number(window.length / PAGE);
      this.#arena.fill(0, 0, bits / 8);
      this.#mirrorBytes.fill(0, this.#mirrorBitmapAt, this.#mirrorBitmapAt + bits / 8);
      await this.#both('round REPORT', () => this.#device.report({ ...window, bitmap: 0 }), () => this.#mirror.report({ ...window, bitmap: this.#mirrorBitmapAt }));
      for (const [who, mem, at] of [['device', this.#arena, 0], ['mirror', this.#mirrorBytes, this.#mirrorBitmapAt]] as const) {
        const got = setBitIndexes(mem, at, bits);
        if (got.join() !== ROUND_BITS[i]!.join()) throw new FuzzFailure('round', `${who} reported bits [${got}] for round range ${i}, a fresh device [${ROUND_BITS[i]}]`);
      }
    }
    await this.#both('round STOP', () => this.#device.stopLogging(), () => this.#mirror.stopLogging());
    await this.#agree('after the round');
  }

  close(): Promise<void> {
    return this.#rig.close();
  }
}

function setBitIndexes(bytes: Uint8Array, at: number, bitCount: number): number[] {
  const out: number[] = [];
  for (let n = 0; n < bitCount; n++) if ((bytes[at + (n >>> 3)]! >>> (n & 7)) & 1) out.push(n);
  return out;
}

function sameStatus(a: DriverStatus, b: DriverStatus): boolean {
  return showStatus(a) === showStatus(b);
}

function showStatus(s: DriverStatus): string {
  return `${s.state} P=${s.pageSize} reports=${s.reports} [${s.regions.map((r) => `${r.iova}+${r.length}`).join(' ')}]`;
}

function hex2(v: number): string {
  return v.toString(16).padStart(2, '0');
}
