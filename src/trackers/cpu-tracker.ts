// The vCPUs' dirty log (KVM's dirty log, reduced to what migration sees): a DirtyTracker of kind
// 'cpu' that reports into the same user bitmap as the devices. vCPU writer threads mark its
// DirtyLog through `logDescriptor()`; REPORT reads-and-clears it like a device log does. It
// lives in the host thread: KVM's log is the kernel's, no device thread stands behind it.
import { IovaBitmap } from '../bitmap/iova-bitmap.js';
import type { DirtyTracker, ReportWindow } from './tracker.js';
import { DirtyLog, planLog, type DirtyLogDescriptor } from '../device/dirty-log.js';
import { VfioError } from '../errors.js';
import type { LoggingRange } from '../uapi/structs.js';
import { failed } from '../util/result.js';
import { z } from 'zod';
import { hostPageSizeSchema, maxLogBytesSchema } from '../host/options.js';
import { UserMemory } from '../uapi/user-memory.js';
import { checkReportWindow } from '../uapi/validate.js';
import { bitmapPointer, startArguments, windowArguments } from '../uapi/typed-args.js';
import { parseOptions } from '../util/options.js';

export interface CpuTrackerOptions {
  name?: string;
  /** User memory the REPORT bitmaps live in (host.memory). */
  userMemory: SharedArrayBuffer;
  /** KVM logs at the host page size whatever the hint. */
  hostPageSize: number;
  maxLogBytes?: number;
}

/** Test-only: which dirty page to lose on its way to the bitmap. */
export type DropFilter = (pageIova: bigint) => boolean;

const cpuTrackerSchema = z.strictObject({
  name: z.string().min(1, 'must be a non-empty string').optional(),
  userMemory: z.custom<SharedArrayBuffer>((v) => v instanceof SharedArrayBuffer, 'must be a SharedArrayBuffer'),
  hostPageSize: hostPageSizeSchema,
  maxLogBytes: maxLogBytesSchema.default(256 << 20),
});

/** The vCPUs' dirty log (KVM's, at the host page size) as a tracker a coordinator reports from. */
export class CpuDirtyTracker implements DirtyTracker {
  readonly kind = 'cpu' as const;
  readonly name: string;
  readonly #memory: SharedArrayBuffer;
  readonly #user: UserMemory;
  readonly #granule: bigint;
  readonly #maxLogBytes: number;
  #log: DirtyLog | null = null;
  #drop: DropFilter | null = null;
  /** IOVA of the page the test switch dropped, once it has. */
  dropped: bigint | null = null;

  constructor(options: CpuTrackerOptions) {
    const o = parseOptions(cpuTrackerSchema, options);
    this.name = o.name ?? 'vcpus';
    this.#memory = o.userMemory;
    this.#user = new UserMemory(o.userMemory);
    this.#granule = BigInt(o.hostPageSize);
    this.#maxLogBytes = o.maxLogBytes;
  }

  async probe(): Promise<boolean> {
    return true;
  }

  async startLogging(req: { pageSize: bigint; ranges: LoggingRange[] }): Promise<bigint> {
    const { ranges } = startArguments(req);
    if (this.#log) throw new VfioError('EINVAL', 'the vCPU dirty log is already on');
    const plan = planLog(this.#granule, ranges, this.#maxLogBytes);
    if (failed(plan)) throw new VfioError(plan.errno, 'vCPU dirty log');
    this.#log = new DirtyLog(plan);
    return this.#granule;
  }

  async stopLogging(): Promise<void> {
    this.#log = null;
  }

  async report(request: ReportWindow & { bitmap: number }): Promise<number> {
    const window = windowArguments(request);
    const pointer = bitmapPointer(request.bitmap);
    const log = this.#log;
    if (!log) throw new VfioError('EINVAL', 'the vCPU dirty log is off');
    // The core's REPORT checks, before the log is read and cleared (contract §3.7).
    const req = checkReportWindow(this.#user, { ...window, bitmap: pointer });
    if (failed(req)) throw new VfioError(req.errno, 'vCPU dirty log REPORT');
    const drop = this.#drop;
    const bitmap = drop
      ? new DroppingBitmap(this.#memory, req.bitmapAt, req, (iova) => {
        if (!drop(iova)) return false;
        this.#drop = null;
        this.dropped = iova;
        return true;
      })
      : new IovaBitmap(this.#memory, req.bitmapAt, req);
    log.readAndClear(req.iova, req.length, bitmap);
    return bitmap.bitsSet;
  }

  /** The live log for vCPU writer threads; null when logging is off. */
  logDescriptor(): DirtyLogDescriptor | null {
    return this.#log?.descriptor ?? null;
  }

  /**
   * Test-only switch proving the end-to-end check can fail: the next REPORT clears one dirty
   * page (the first whose IOVA passes `filter`) from the log without setting its bit.
   */
  dropNextBit(filter: DropFilter = () => true): void {
    this.#drop = filter;
  }
}

/** An IovaBitmap that loses the first bit `lose` claims (its page was read and cleared anyway). */
// Both ways a log reaches the bitmap are covered: per granule (setBits) and per log word (orMask).
class DroppingBitmap extends IovaBitmap {
  #lose: ((pageIova: bigint) => boolean) | null;

  constructor(memory: SharedArrayBuffer, at: number, window: ReportWindow, lose: (pageIova: bigint) => boolean) {
    super(memory, at, window);
    this.#lose = lose;
  }

  override setBits(first: number, last: number): void {
    const lose = this.#lose;
    if (lose) {
      for (let b = Math.max(first, 0); b <= last && b < this.bitCount; b++) {
        if (!lose(this.window.iova + BigInt(b) * this.window.pageSize)) continue;
        this.#lose = null;
        if (b > first) super.setBits(first, b - 1);
        if (b < last) super.setBits(b + 1, last);
        return;
      }
    }
    super.setBits(first, last);
  }

  override orMask(firstBit: number, mask: number): void {
    const lose = this.#lose;
    let pending = mask;
    while (lose && pending !== 0) {
      const k = 31 - Math.clz32(pending & -pending);
      pending &= pending - 1;
      const b = firstBit + k;
      if (b < 0 || b >= this.bitCount || !lose(this.window.iova + BigInt(b) * this.window.pageSize)) continue;
      this.#lose = null;
      mask = (mask & ~(1 << k)) >>> 0;
      break;
    }
    super.orMask(firstBit, mask);
  }
}
