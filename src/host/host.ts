// The simulated host: `createHost` and the `Host` facade. It wires user memory and its allocator
// (allocator.ts), the devices and their fds (fd-table.ts), the VFIO core that checks each call
// and hands it to a device's tracker (vfio-core.ts), and one transport per device to its driver
// (transport.ts: a worker thread, or this thread).
import type { Logger } from 'pino';
import { checkFault, type DriverInit, type DriverStatus, type Fault } from '../device/driver.js';
import type { DirtyLogDescriptor } from '../device/dirty-log.js';
import type { ProfileName } from '../device/profiles.js';
import { DeviceTracker } from '../trackers/device-tracker.js';
import { DmalogError } from '../errors.js';
import type { Errno } from '../uapi/errno.js';
import type { LoggingRange } from '../uapi/structs.js';
import { UserMemory } from '../uapi/user-memory.js';
import { UserAllocator } from './allocator.js';
import { FdTable, type DeviceSlot } from './fd-table.js';
import { InThreadTransport } from './in-thread-transport.js';
import { IommufdHandle } from './iommufd-handle.js';
import { spawnIommufd } from './iommufd-transport.js';
import type { HwptLogDescriptor } from '../iommufd/hwpt-log.js';
import { createLogger, type LogContext } from './logger.js';
import { fillHostOptions, type FilledHostOptions, type HostOptions } from './options.js';
import type { TrackerTransport, TransportKind } from './transport.js';
import { VfioCore, checkDma, stopLogging, type FeatureResult } from './vfio-core.js';
import { WorkerTransport } from './worker-transport.js';

export type { FeatureResult } from './vfio-core.js';
export type { IommufdHandle } from './iommufd-handle.js';
export type { TransportKind };
export type { StartLogging, ReportDirty } from '../trackers/device-tracker.js';
export type { LoggingRange };

/** What `host.inspect(fd)` shows: the host's side of one device, frozen at the call. */
export interface DeviceSnapshot {
  readonly fd: number;
  readonly name: string;
  readonly profile: ProfileName;
  /** How the host reaches the device's driver. */
  readonly transport: TransportKind;
  /** `gone` once the device's tracker failed; the driver's sticky error shows in `status()` only. */
  readonly state: 'idle' | 'logging' | 'gone';
  readonly dead: Errno | null;
  /** The host holds a log for the device (START succeeded, no STOP since). */
  readonly logging: boolean;
  readonly pageSize: bigint | null;
  readonly ranges: readonly LoggingRange[];
}

/**
 * Starts a simulated host: user memory, and each device of `options.devices` with its driver in a
 * worker thread of its own (or in this thread with `transport: 'in-thread'`). Resolves once every
 * driver is up; if one fails to start, those already started are ended and the promise rejects.
 * End it with `host.close()`.
 */
export async function createHost(options: HostOptions): Promise<Host> {
  const filled = fillHostOptions(options);
  const memory = new SharedArrayBuffer(filled.userMemoryBytes);
  const transports = await Promise.allSettled(filled.devices.map((device) =>
    spawnTransport(filled, { device, userMemory: memory, contract: filled.contract, maxLogBytes: filled.maxLogBytes })));
  const spawned = transports.flatMap((t) => (t.status === 'fulfilled' ? [t.value] : []));
  try {
    const failure = transports.find((t): t is PromiseRejectedResult => t.status === 'rejected');
    if (failure) throw failure.reason;
    return new Host(filled, memory, spawned);
  } catch (error) {
    // Whatever fails once threads exist ends them all first: a live tracker keeps the process alive.
    await Promise.all(spawned.map((t) => t.terminate()));
    throw error;
  }
}

async function spawnTransport(options: FilledHostOptions, init: DriverInit): Promise<TrackerTransport> {
  if (options.transport === 'in-thread') return new InThreadTransport(init);
  return WorkerTransport.spawn(init, options.callTimeoutMs);
}

/**
 * The simulated host made by {@link createHost}: the raw ABI (`open`, `ioctl`, `featureCall`), DMA on
 * a device's behalf (`dmaWrite`, `dmaRead`), user memory (`memory`, `alloc`, `free`), the typed
 * layer per device (`device(name)`), iommufd (`openIommufd`) and fault drills.
 */
export class Host {
  /** The simulated user address space: ioctl pointers are byte offsets into it. */
  readonly memory: SharedArrayBuffer;
  readonly options: FilledHostOptions;
  readonly #table: FdTable;
  readonly #core: VfioCore;
  readonly #allocator: UserAllocator;
  readonly #handles = new Map<string, DeviceTracker>();
  readonly #iommufds = new Set<IommufdHandle>();
  readonly #logger: Logger;
  readonly #flushLog: () => void;
  readonly #bindLog: (context: LogContext) => void;
  #closed: Promise<void> | null = null;

  constructor(options: FilledHostOptions, memory: SharedArrayBuffer, transports: TrackerTransport[]) {
    this.options = options;
    this.memory = memory;
    this.#core = new VfioCore(new UserMemory(memory), options.hostPageSize);
    this.#allocator = new UserAllocator(memory.byteLength);
    const { logger, flush, bind } = createLogger(options.logLevel);
    this.#logger = logger;
    this.#flushLog = flush;
    this.#bindLog = bind;
    this.#table = new FdTable(options.devices.map((config, i): DeviceSlot => (
      { config, transport: transports[i]!, log: null, iommu: null, logger: logger.child({ device: config.name }), openFds: 0, inFlight: new Set() })));
  }

  /**
   * The host's pino logger (level `logLevel`, lines on stderr): what a run built on the host logs
   * of its own goes through it, with the same bound context as the device lines.
   */
  get logger(): Logger {
    return this.#logger;
  }

  /**
   * Fields every log line of this host carries from now on (the device, coordinator and run
   * lines), until the next call; null clears them. A migration binds `{ sync, simMs }`.
   */
  bindLogContext(context: LogContext): void {
    this.#bindLog(context);
  }

  get deviceNames(): string[] {
    return this.#table.names;
  }

  #assertOpen(): void {
    if (this.#closed) throw new DmalogError('DMALOG_CLOSED', 'host is closed');
  }

  #slot(fd: number): DeviceSlot {
    this.#assertOpen();
    return this.#table.get(fd);
  }

  /** Open a device by name; an unknown name is ENODEV. */
  open(name: string): number {
    this.#assertOpen();
    return this.#table.open(name);
  }

  /** The raw ABI: resolves 0 or rejects with a VfioError. */
  async ioctl(fd: number, request: number, ptr: number | bigint): Promise<0> {
    await this.featureCall(fd, request, ptr);
    return 0;
  }

  /** `ioctl` with what the call produced (chosen page size, pages reported). */
  featureCall(fd: number, request: number, ptr: number | bigint): Promise<FeatureResult> {
    let slot: DeviceSlot;
    try {
      slot = this.#slot(fd);
    } catch (error) {
      return Promise.reject(error);
    }
    const call = this.#core.featureCall(slot, request, ptr);
    slot.inFlight.add(call);
    const done = (): void => { slot.inFlight.delete(call); };
    call.then(done, done);
    return call;
  }

  /**
   * The device writes [iova, iova + length) of guest memory. Every log watching it marks it: the
   * HWPT's the device is attached to while its dirty tracking is enabled, and the device's own
   * where the write meets a tracked range. A device attached to a HWPT goes through its IOMMU
   * first: IOVA not all mapped in the IOAS is an IOMMU fault, EFAULT, and nothing is logged.
   */
  async dmaWrite(fd: number, iova: bigint, length: bigint): Promise<void> {
    const slot = this.#slot(fd);
    checkDma(slot, iova, length);
    // The iommufd checks and marks in its own thread, in order with map and unmap (contract §7).
    await slot.iommu?.dma(iova, length, true);
    slot.log?.markWrite(iova, length);
  }

  /** The device reads guest memory: never logged, but checked like a write (its IOMMU's fault too). */
  async dmaRead(fd: number, iova: bigint, length: bigint): Promise<void> {
    const slot = this.#slot(fd);
    checkDma(slot, iova, length);
    await slot.iommu?.dma(iova, length, false);
  }

  /** Typed layer over the raw ABI for one device, on an fd of its own (reopened if closed). */
  device(name: string): DeviceTracker {
    this.#assertOpen();
    let handle = this.#handles.get(name);
    if (!handle || !this.#table.isOpen(handle.fd)) {
      handle = new DeviceTracker(this, name, this.open(name));
      this.#handles.set(name, handle);
    }
    return handle;
  }

  /** Allocate `bytes` of user memory (`align`: a power of two, 8 by default), from the top down; ENOMEM when full. */
  alloc(bytes: number, align = 8): number {
    this.#assertOpen();
    return this.#allocator.alloc(bytes, align);
  }

  /** Give back what `alloc` returned; freeing twice or a pointer `alloc` never gave is DMALOG_BAD_OPTION. */
  free(at: number): void {
    this.#assertOpen();
    this.#allocator.free(at);
  }

  /** Zero `bytes` of user memory at `at` (what a user does to a bitmap between report sets). */
  zero(at: number, bytes: number): void {
    this.#assertOpen();
    const size = this.memory.byteLength;
    if (!Number.isSafeInteger(at) || !Number.isSafeInteger(bytes) || at < 0 || bytes < 0 || at + bytes > size) {
      throw new DmalogError('DMALOG_BAD_OPTION', `zero: [${String(at)}, +${String(bytes)}) is not inside the ${size} bytes of user memory`);
    }
    new Uint8Array(this.memory, at, bytes).fill(0);
  }

  /** A read-only snapshot of the host's view of the device behind `fd` (tests, tools). */
  inspect(fd: number): DeviceSnapshot {
    const slot = this.#slot(fd);
    const { log, transport } = slot;
    return Object.freeze({
      fd,
      name: slot.config.name,
      profile: slot.config.profile,
      transport: transport.kind,
      state: transport.dead ? 'gone' : log ? 'logging' : 'idle',
      dead: transport.dead,
      logging: log !== null,
      pageSize: log ? log.granuleSize : null,
      ranges: Object.freeze(log ? log.regions.map((r) => Object.freeze({ iova: r.iova, length: r.length })) : []),
    });
  }

  /** The device's live log, for DMA engines in other threads; null when not logging. */
  logDescriptor(fd: number): DirtyLogDescriptor | null {
    return this.#slot(fd).log?.descriptor ?? null;
  }

  /**
   * The dirty log of the HWPT the device behind `fd` is attached to, for DMA engines in other
   * threads; null when not bound, not attached, or the HWPT lacks the capability.
   */
  iommuLogDescriptor(fd: number): HwptLogDescriptor | null {
    return this.#slot(fd).iommu?.log?.descriptor ?? null;
  }

  /**
   * Open an iommufd (contract §7) on this host: it runs in its own worker thread, or in this thread
   * when the host's transport is 'in-thread'. Closed with the host, or by its own `close()`.
   */
  async openIommufd(): Promise<IommufdHandle> {
    this.#assertOpen();
    const transport = await spawnIommufd(this.options.transport,
      { userMemory: this.memory, contract: this.options.contract, maxLogBytes: this.options.maxLogBytes }, this.options.callTimeoutMs);
    if (this.#closed) { await transport.terminate(); this.#assertOpen(); }
    const handle = new IommufdHandle(transport, {
      memory: this.memory,
      slotOf: (fd) => this.#slot(fd),
      alloc: (bytes, align) => this.alloc(bytes, align),
      free: (at) => this.free(at),
    });
    this.#iommufds.add(handle);
    return handle;
  }

  /** Inject a fault into the device's driver (tests, stress runs). */
  async injectFault(fd: number, fault: Fault): Promise<void> {
    const slot = this.#slot(fd);
    // Refused here, before the thread hop: an out-of-contract fault (an errno outside the list, a
    // function, a NaN delay) would otherwise kill a healthy tracker or block it for ever.
    await slot.transport.injectFault(checkFault(fault));
  }

  /** The driver's own state (sticky error included); rejects ENODEV once the device is gone. */
  async status(fd: number): Promise<DriverStatus> {
    return this.#slot(fd).transport.call('status');
  }

  /**
   * End the device's tracker as if killed from outside (fault drills): calls pending on it and
   * every later call are ENODEV. Resolves once it has ended.
   */
  async terminateTracker(fd: number): Promise<void> {
    await this.#slot(fd).transport.terminate();
  }

  /**
   * `close(fd)`: close one fd (EBADF from then on); when it was the device's last, its logging
   * stops. `close()`: end every tracker and the host; idempotent. The process then exits by itself.
   */
  close(fd?: number): Promise<void> {
    if (fd !== undefined) return this.#closeFd(fd);
    this.#closed ??= (async () => {
      await Promise.all([...this.#table.slots()].map((s) => s.transport.terminate()));
      await Promise.all([...this.#iommufds].map((i) => i.close()));
      this.#logger.info('host closed');
      this.#flushLog();
    })();
    return this.#closed;
  }

  async #closeFd(fd: number): Promise<void> {
    this.#assertOpen();
    const { slot, last } = this.#table.close(fd);
    if (!last) return;
    // The kernel's close_device runs once the calls holding the file have returned.
    await Promise.allSettled([...slot.inFlight]);
    // Reopened meanwhile: the device stays open, as its open count never reached 0.
    if (slot.openFds > 0 || slot.log === null || slot.transport.dead) return;
    await stopLogging(slot);
    slot.logger.info({ fd }, 'last fd closed: logging stopped');
  }
}
