// The simulated host: user memory, one tracker thread per device, and the ioctl entry that runs
// the core's checks (validate.ts) before handing validated requests to a device's tracker.
import type { Logger } from 'pino';
import { DirtyLog, type DirtyLogDescriptor } from '../device/dirty-log.js';
import { PROFILE_TRAITS, type DeviceConfig, type ProfileName } from '../device/profiles.js';
import { DeviceTracker } from '../trackers/device-tracker.js';
import { WorkerTransport } from './worker-transport.js';
import { checkFault, type Fault, type DriverStatus } from '../device/driver.js';
import { CONTROL_PAGE_SIZE_OFFSET, FEATURE_NAMES, VFIO_DEVICE_FEATURE, type LoggingFeature } from '../uapi/abi.js';
import { DmalogError, VfioError, type Errno } from '../uapi/errno.js';
import type { LoggingRange } from '../uapi/structs.js';
import { UserMemory, userPointer } from '../uapi/user-memory.js';
import { checkFeatureCall, checkReport, checkStart, endOverflows, failed, isPowerOfTwo, peekFeature, type Checked } from '../uapi/validate.js';
import { createLogger } from './logger.js';
import { fillHostOptions, type FilledHostOptions, type HostOptions } from './options.js';

/** What a successful feature call produced, beyond the ioctl's 0. */
/** What `host.inspect(fd)` shows: the host's side of one device, frozen at the call. */
export interface DeviceSnapshot {
  readonly fd: number;
  readonly name: string;
  readonly profile: ProfileName;
  /** `gone` once the device's tracker failed; the driver's sticky error shows in `status()` only. */
  readonly state: 'idle' | 'logging' | 'gone';
  readonly dead: Errno | null;
  /** The host holds a log for the device (START succeeded, no STOP since). */
  readonly logging: boolean;
  readonly pageSize: bigint | null;
  readonly ranges: readonly LoggingRange[];
}

export interface FeatureResult {
  feature: 'START' | 'STOP' | 'REPORT';
  probe: boolean;
  /** START: the page size the device chose (also written back into control.page_size). */
  pageSize?: bigint;
  /** REPORT: distinct bits this REPORT set in the user bitmap. */
  pagesReported?: number;
}

interface DeviceSlot {
  config: DeviceConfig;
  tracker: WorkerTransport;
  /** The device's log as seen by its DMA engine (this thread); null when not logging. */
  log: DirtyLog | null;
  logger: Logger;
}

export async function createHost(options: HostOptions): Promise<Host> {
  const filled = fillHostOptions(options);
  const memory = new SharedArrayBuffer(filled.userMemoryBytes);
  const trackers = await Promise.allSettled(filled.devices.map((device) =>
    WorkerTransport.spawn({ device, userMemory: memory, contract: filled.contract, maxLogBytes: filled.maxLogBytes }, filled.callTimeoutMs)));
  const spawned = trackers.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
  try {
    const failure = trackers.find((t): t is PromiseRejectedResult => t.status === 'rejected');
    if (failure) throw failure.reason;
    return new Host(filled, memory, spawned);
  } catch (error) {
    // Whatever fails once threads exist ends them all first: a live tracker keeps the process alive.
    await Promise.all(spawned.map((t) => t.terminate()));
    throw error;
  }
}

export class Host {
  /** The simulated user address space: ioctl pointers are byte offsets into it. */
  readonly memory: SharedArrayBuffer;
  readonly options: FilledHostOptions;
  readonly #user: UserMemory;
  readonly #devices = new Map<string, DeviceSlot>();
  readonly #fds = new Map<number, DeviceSlot>();
  readonly #handles = new Map<string, DeviceTracker>();
  readonly #logger: Logger;
  readonly #flushLog: () => void;
  #nextFd = 3;
  /** `alloc` hands out user memory from the top down, leaving low addresses to raw ABI users. */
  #allocTop: number;
  #closed: Promise<void> | null = null;

  constructor(options: FilledHostOptions, memory: SharedArrayBuffer, trackers: WorkerTransport[]) {
    this.options = options;
    this.memory = memory;
    this.#user = new UserMemory(memory);
    this.#allocTop = memory.byteLength;
    const { logger, flush } = createLogger(options.logLevel);
    this.#logger = logger;
    this.#flushLog = flush;
    options.devices.forEach((config, i) => {
      this.#devices.set(config.name, { config, tracker: trackers[i]!, log: null, logger: logger.child({ device: config.name }) });
    });
  }

  get deviceNames(): string[] {
    return [...this.#devices.keys()];
  }

  #assertOpen(): void {
    if (this.#closed) throw new DmalogError('DMALOG_CLOSED', 'host is closed');
  }

  /** Open a device by name; an unknown name is ENODEV. */
  open(name: string): number {
    this.#assertOpen();
    const slot = this.#devices.get(name);
    if (!slot) throw new VfioError('ENODEV', `no device named '${name}'`);
    const fd = this.#nextFd++;
    this.#fds.set(fd, slot);
    return fd;
  }

  #slot(fd: number): DeviceSlot {
    this.#assertOpen();
    const slot = this.#fds.get(fd);
    if (!slot) throw new VfioError('ENODEV', `fd ${fd} is not an open device`);
    return slot;
  }

  /** The raw ABI: resolves 0 or rejects with a VfioError. */
  async ioctl(fd: number, request: number, ptr: number | bigint): Promise<0> {
    await this.featureCall(fd, request, ptr);
    return 0;
  }

  /** `ioctl` with what the call produced (chosen page size, pages reported). */
  async featureCall(fd: number, request: number, ptr: number | bigint): Promise<FeatureResult> {
    const slot = this.#slot(fd);
    // A device whose tracker failed is gone: every call on it, PROBE included, is ENODEV.
    if (slot.tracker.dead) throw new VfioError('ENODEV', `device ${slot.config.name} is gone`);
    if (request !== VFIO_DEVICE_FEATURE) throw new VfioError('ENOTTY', `request ${typeof request === 'number' ? `0x${request.toString(16)}` : String(request)} is not VFIO_DEVICE_FEATURE`);
    const started = performance.now();
    // Not an integer address (0.5, NaN, null, '12'): the copy_from_user of the header faults.
    const at = userPointer(ptr);
    try {
      if (at === null) throw new VfioError('EFAULT', 'the argument pointer is not an integer address');
      // Every user struct is read before the first await: the call sees one snapshot of its arguments.
      const call = checkFeatureCall(this.#user, at, PROFILE_TRAITS[slot.config.profile].supportsLogging);
      if (failed(call)) throw new VfioError(call.errno);
      const result = await this.#dispatch(slot, call);
      slot.logger.info({ feature: result.feature, probe: result.probe, errno: null, pageSize: result.pageSize, pages: result.pagesReported, ms: elapsed(started) }, `${result.feature} ok`);
      return result;
    } catch (error) {
      if (error instanceof VfioError) {
        const asked = at === null ? null : peekFeature(this.#user, at);
        const feature = asked === null ? 'unreadable' : FEATURE_NAMES[asked.index as LoggingFeature] ?? `feature ${asked.index}`;
        slot.logger.info({ feature, probe: asked?.probe, errno: error.errno, ms: elapsed(started) }, `${feature} failed`);
      }
      throw error;
    }
  }

  async #dispatch(slot: DeviceSlot, call: Exclude<ReturnType<typeof checkFeatureCall>, { errno: Errno }>): Promise<FeatureResult> {
    switch (call.kind) {
      case 'probe':
        return { feature: FEATURE_NAMES[call.feature], probe: true };
      case 'start': {
        const req = checkStart(this.#user, call.controlAt, this.options.hostPageSize);
        if (failed(req)) throw new VfioError(req.errno);
        const res = unwrap(await slot.tracker.call('start', req.pageSizeHint, req.ranges));
        slot.log = new DirtyLog(res.log);
        // copy_to_user of the chosen page size; if that faults the device is stopped again.
        const at = this.#user.locate(req.controlAt + CONTROL_PAGE_SIZE_OFFSET, 8);
        if (at === null) {
          slot.log = null;
          await slot.tracker.call('stop');
          throw new VfioError('EFAULT');
        }
        this.#user.view.setBigUint64(at, res.pageSize, true);
        return { feature: 'START', probe: false, pageSize: res.pageSize };
      }
      case 'stop': {
        unwrap(await slot.tracker.call('stop'));
        slot.log = null;
        return { feature: 'STOP', probe: false };
      }
      case 'report': {
        const req = checkReport(this.#user, call.reportAt);
        if (failed(req)) throw new VfioError(req.errno);
        const res = unwrap(await slot.tracker.call('report', req));
        return { feature: 'REPORT', probe: false, pagesReported: res.pagesReported };
      }
    }
  }

  /** The device writes [iova, iova + length) of guest memory; logged when it meets a tracked range. */
  async dmaWrite(fd: number, iova: bigint, length: bigint): Promise<void> {
    const slot = this.#dmaSlot(fd, iova, length);
    slot.log?.markWrite(iova, length);
  }

  /** The device reads guest memory: never logged, but checked like a write. */
  async dmaRead(fd: number, iova: bigint, length: bigint): Promise<void> {
    this.#dmaSlot(fd, iova, length);
  }

  #dmaSlot(fd: number, iova: bigint, length: bigint): DeviceSlot {
    const slot = this.#slot(fd);
    if (typeof iova !== 'bigint' || typeof length !== 'bigint' || iova < 0n || length < 0n) {
      throw new VfioError('EINVAL', 'iova and length must be non-negative bigints');
    }
    if (length === 0n) throw new VfioError('EINVAL', 'a DMA of length 0');
    if (endOverflows(iova, length)) throw new VfioError('EOVERFLOW');
    if (slot.tracker.dead) throw new VfioError('ENODEV', `device ${slot.config.name} is gone`);
    return slot;
  }

  /** Typed layer over the raw ABI for one device. */
  device(name: string): DeviceTracker {
    this.#assertOpen();
    let handle = this.#handles.get(name);
    if (!handle) {
      handle = new DeviceTracker(this, name, this.open(name));
      this.#handles.set(name, handle);
    }
    return handle;
  }

  /** Allocate `bytes` of user memory (`align`: a power of two, 8 by default), from the top down; ENOMEM when full. */
  alloc(bytes: number, align = 8): number {
    this.#assertOpen();
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new DmalogError('DMALOG_BAD_OPTION', `alloc: bytes must be a positive integer (got ${String(bytes)})`);
    if (!Number.isSafeInteger(align) || align <= 0 || !isPowerOfTwo(BigInt(align))) {
      throw new DmalogError('DMALOG_BAD_OPTION', `alloc: align must be a power of two (got ${String(align)})`);
    }
    const at = Math.floor((this.#allocTop - bytes) / align) * align;
    if (at < 0) throw new VfioError('ENOMEM', `user memory has no room for ${bytes} bytes`);
    this.#allocTop = at;
    return at;
  }

  /** Zero `bytes` of user memory at `at` (what a user does to a bitmap between report sets). */
  zero(at: number, bytes: number): void {
    const size = this.memory.byteLength;
    if (!Number.isSafeInteger(at) || !Number.isSafeInteger(bytes) || at < 0 || bytes < 0 || at + bytes > size) {
      throw new DmalogError('DMALOG_BAD_OPTION', `zero: [${String(at)}, +${String(bytes)}) is not inside the ${size} bytes of user memory`);
    }
    new Uint8Array(this.memory, at, bytes).fill(0);
  }

  /** A read-only snapshot of the host's view of the device behind `fd` (tests, tools). */
  inspect(fd: number): DeviceSnapshot {
    const slot = this.#slot(fd);
    const log = slot.log;
    return Object.freeze({
      fd,
      name: slot.config.name,
      profile: slot.config.profile,
      state: slot.tracker.dead ? 'gone' : log ? 'logging' : 'idle',
      dead: slot.tracker.dead,
      logging: log !== null,
      pageSize: log ? log.granuleSize : null,
      ranges: Object.freeze(log ? log.regions.map((r) => Object.freeze({ iova: r.iova, length: r.length })) : []),
    });
  }

  /** The device's live log, for DMA engines in other threads; null when not logging. */
  logDescriptor(fd: number): DirtyLogDescriptor | null {
    return this.#slot(fd).log?.descriptor ?? null;
  }

  /** Inject a fault into the device's driver (tests, stress runs). */
  async injectFault(fd: number, fault: Fault): Promise<void> {
    const slot = this.#slot(fd);
    // Refused here, before the thread hop: an out-of-contract fault (an errno outside the list, a
    // function, a NaN delay) would otherwise kill a healthy tracker or block it for ever.
    fault = checkFault(fault);
    try {
      await slot.tracker.call('injectFault', fault);
    } catch (error) {
      // A 'die' fault answers by dying, and a 'throw' may kill the thread before its answer
      // arrives: that is the fault taking effect.
      const dies = fault.kind === 'die' || fault.kind === 'throw';
      if (!(dies && error instanceof VfioError && error.errno === 'ENODEV')) throw error;
    }
  }

  /** The driver's own state (sticky error included); rejects ENODEV once the device is gone. */
  async status(fd: number): Promise<DriverStatus> {
    return this.#slot(fd).tracker.call('status');
  }

  /**
   * End the device's tracker as if killed from outside (fault drills): calls pending on it and
   * every later call are ENODEV. Resolves once it has ended.
   */
  async terminateTracker(fd: number): Promise<void> {
    await this.#slot(fd).tracker.terminate();
  }

  /** @internal transitional: tests still read slots */
  slotOf(fd: number): { config: DeviceConfig; tracker: WorkerTransport; log: DirtyLog | null } {
    return this.#slot(fd);
  }

  /** End every tracker thread; idempotent. The process then exits by itself. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all([...this.#devices.values()].map((s) => s.tracker.terminate()));
      this.#logger.info('host closed');
      this.#flushLog();
    })();
    return this.#closed;
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}

function unwrap<T>(r: Checked<T>): T {
  if (failed(r)) throw new VfioError(r.errno);
  return r;
}

export type { StartLogging, ReportDirty } from '../trackers/device-tracker.js';
export type { LoggingRange };
