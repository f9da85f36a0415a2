// A device as the coordinator, its DMA engines and a library user see it: the typed layer over
// the raw ABI on one fd, plus the log generation that keeps the engines' view of the log right
// across STOP and START.
//
// Every call is encoded into user memory and goes through the host's ioctl path, so every rule
// has one implementation. Scratch space comes from `host.alloc`, once per device; all of a call's
// structs are read before it first awaits, so calls may overlap.
//
// Log generations: every log has a generation in shared control cells (odd while logging), and the
// generation moves on *before* a STOP is issued. An engine checks the generation after each mark,
// so every write it counts as logged was marked before the STOP, and writes after a restart go to
// the new log (a burst holding the old log stops instead of marking a log nobody will read again).
import type { DriverStatus, Fault } from '../device/driver.js';
import type { DirtyLogDescriptor } from '../device/dirty-log.js';
import type { ProfileName } from '../device/profiles.js';
import { CONTROL_FIRST_LOG_GEN, controlCells, type BurstControl, type LogTarget } from '../dma/types.js';
import type { Host } from '../host/host.js';
import {
  FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES, LOGGING_REPORT_BYTES, VFIO_DEVICE_FEATURE,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP,
  VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET, logMaxRanges, type LoggingFeature,
} from '../uapi/abi.js';
import { DmalogError, VfioError } from '../errors.js';
import { type Errno } from '../uapi/errno.js';
import { encodeFeatureHeader, encodeLoggingControl, encodeLoggingRange, encodeLoggingReport } from '../uapi/structs.js';
import { bitmapPointer, startArguments, windowArguments } from '../uapi/typed-args.js';
import type { DirtyTracker } from './tracker.js';

export interface StartLogging { pageSize: bigint | number; ranges: Array<{ iova: bigint | number; length: bigint | number }> }
export interface ReportDirty { iova: bigint | number; length: bigint | number; pageSize: bigint | number; bitmap: number }

/**
 * One device's typed layer (`host.device(name)`): PROBE, START, REPORT and STOP built as the raw
 * structs and sent through the same ioctl path and checks, DMA on the device's behalf, fault
 * injection, and the log generation DMA engines on a pool check before they mark its log.
 */
export class DeviceTracker implements DirtyTracker {
  readonly kind = 'device' as const;
  readonly #host: Host;
  readonly name: string;
  readonly fd: number;
  #scratch = -1;
  /** Control cells holding this device's log generation (its own until bound to a run's cells). */
  #cells: Int32Array = controlCells(1);
  #genSlot = CONTROL_FIRST_LOG_GEN;
  /** The log this object started, as engines should mark it; null when not logging through it. */
  #log: DirtyLogDescriptor | null = null;

  constructor(host: Host, name: string, fd: number) {
    this.#host = host;
    this.name = name;
    this.fd = fd;
  }

  get profile(): ProfileName {
    return this.#host.inspect(this.fd).profile;
  }

  /** Why the device is gone (its driver failed), or null while it is there. */
  get dead(): Errno | null {
    return this.#host.inspect(this.fd).dead;
  }

  /**
   * Keep the log generation in slot `slot` of a run's control cells (dma/types.ts), where that
   * run's engines read it beside the report-set epochs. Only while not logging: a burst holding
   * the old cells would miss the next STOP.
   */
  bindLogGeneration(cells: Int32Array, slot: number): void {
    if (this.#log !== null) throw new DmalogError('DMALOG_STATE', `${this.name}: log generation rebound while logging`);
    if (!Number.isSafeInteger(slot) || slot < CONTROL_FIRST_LOG_GEN || slot >= cells.length) {
      throw new DmalogError('DMALOG_BAD_OPTION', `${this.name}: log generation slot ${String(slot)} is not a log slot of the cells`);
    }
    this.#cells = cells;
    this.#genSlot = slot;
  }

  /**
   * Every log a burst of this device's writes should mark now: its own (with the generation it
   * belongs to) while logging through this object, and the HWPT log of its IOMMU while the device
   * is attached to a HWPT with the capability. Null when nothing watches its writes.
   */
  burstTarget(): { logs: LogTarget[]; control: BurstControl } | null {
    const logs: LogTarget[] = [];
    if (this.#log !== null) logs.push({ kind: 'log', log: this.#log, gen: { slot: this.#genSlot, value: Atomics.load(this.#cells, this.#genSlot) } });
    const hwpt = this.#host.iommuLogDescriptor(this.fd);
    if (hwpt !== null) logs.push({ kind: 'hwpt', log: hwpt });
    if (logs.length === 0) return null;
    return { logs, control: { cells: this.#cells.buffer as SharedArrayBuffer } };
  }

  #scratchAt(): number {
    if (this.#scratch < 0) {
      const bytes = FEATURE_HEADER_BYTES + LOGGING_CONTROL_BYTES + logMaxRanges(this.#host.options.hostPageSize) * LOGGING_RANGE_BYTES;
      this.#scratch = this.#host.alloc(bytes);
    }
    return this.#scratch;
  }

  #header(flags: number, payloadBytes: number): number {
    const at = this.#scratchAt();
    encodeFeatureHeader(new DataView(this.#host.memory), at, { argsz: FEATURE_HEADER_BYTES + payloadBytes, flags });
    return at;
  }

  /** PROBE a logging feature: true when supported, false on ENOTTY. */
  async probe(feature: LoggingFeature = VFIO_DEVICE_FEATURE_DMA_LOGGING_START): Promise<boolean> {
    const op = feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT ? VFIO_DEVICE_FEATURE_GET : VFIO_DEVICE_FEATURE_SET;
    try {
      await this.#host.ioctl(this.fd, VFIO_DEVICE_FEATURE, this.#header(VFIO_DEVICE_FEATURE_PROBE | op | feature, 0));
      return true;
    } catch (error) {
      if (error instanceof VfioError && error.errno === 'ENOTTY') return false;
      throw error;
    }
  }

  /** START; resolves the page size the device chose. */
  async startLogging(req: StartLogging): Promise<bigint> {
    const { pageSize, ranges } = startArguments(req);
    const at = this.#header(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, LOGGING_CONTROL_BYTES);
    const view = new DataView(this.#host.memory);
    const rangesAt = at + FEATURE_HEADER_BYTES + LOGGING_CONTROL_BYTES;
    // Scratch holds LOG_MAX_RANGES ranges; past that the core refuses (E2BIG) before reading any.
    const room = logMaxRanges(this.#host.options.hostPageSize);
    ranges.slice(0, room).forEach((r, i) => encodeLoggingRange(view, rangesAt + i * LOGGING_RANGE_BYTES, r));
    encodeLoggingControl(view, at + FEATURE_HEADER_BYTES, { pageSize, numRanges: ranges.length, reserved: 0, ranges: BigInt(rangesAt) });
    const res = await this.#host.featureCall(this.fd, VFIO_DEVICE_FEATURE, at);
    this.#log = this.#host.logDescriptor(this.fd);
    Atomics.add(this.#cells, this.#genSlot, 1);
    return res.pageSize!;
  }

  async stopLogging(): Promise<void> {
    // The generation moves on before the STOP is issued (see the top of this file).
    if (this.#log !== null) {
      this.#log = null;
      Atomics.add(this.#cells, this.#genSlot, 1);
    }
    await this.#host.ioctl(this.fd, VFIO_DEVICE_FEATURE, this.#header(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, 0));
  }

  /** REPORT into the bitmap at user address `bitmap`; resolves the number of bits it set. */
  async report(req: ReportDirty): Promise<number> {
    const window = windowArguments(req);
    const bitmap = bitmapPointer(req.bitmap);
    const at = this.#header(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, LOGGING_REPORT_BYTES);
    encodeLoggingReport(new DataView(this.#host.memory), at + FEATURE_HEADER_BYTES, { ...window, bitmap });
    const res = await this.#host.featureCall(this.fd, VFIO_DEVICE_FEATURE, at);
    return res.pagesReported!;
  }

  dmaWrite(iova: bigint, length: bigint): Promise<void> {
    return this.#host.dmaWrite(this.fd, iova, length);
  }

  dmaRead(iova: bigint, length: bigint): Promise<void> {
    return this.#host.dmaRead(this.fd, iova, length);
  }

  /** Inject a fault into the device's driver (tests, stress runs). */
  injectFault(fault: Fault): Promise<void> {
    return this.#host.injectFault(this.fd, fault);
  }

  /** The driver's own state; async so that a closed host rejects like every other call. */
  status(): Promise<DriverStatus> {
    return this.#host.status(this.fd);
  }

  /** The device's current log, for DMA engines in other threads; null when not logging. */
  logDescriptor(): DirtyLogDescriptor | null {
    return this.#host.logDescriptor(this.fd);
  }
}
