// A device as both the coordinator and its DMA engines see it. It passes the four logging verbs
// through and keeps the engines' view of the log right across STOP and START: every log has a
// generation in the shared control cells (odd while logging), and the generation moves on
// *before* a STOP is issued. An engine checks the generation after each mark, so every write it
// counts as logged was marked before the STOP, and writes after a restart go to the new log
// (a burst holding the old log stops instead of marking a log nobody will read again).
import type { DirtyTracker, ReportWindow } from '../trackers/tracker.js';
import type { DirtyLogDescriptor } from '../device/dirty-log.js';
import type { DeviceHandle, StartLogging } from '../host/host.js';
import type { LoggingRange } from '../uapi/structs.js';
import type { BurstControl } from './types.js';

export class DmaDevice implements DirtyTracker {
  readonly kind = 'device' as const;
  readonly handle: DeviceHandle;
  readonly #cells: Int32Array;
  readonly #slot: number;
  #log: DirtyLogDescriptor | null = null;

  /** `cells`: the control cells (types.ts); `slot`: this device's log-generation slot in them. */
  constructor(handle: DeviceHandle, cells: Int32Array, slot: number) {
    this.handle = handle;
    this.#cells = cells;
    this.#slot = slot;
  }

  get name(): string {
    return this.handle.name;
  }

  /** The log a burst should mark now and the generation it belongs to; null when not logging. */
  burstTarget(): { log: DirtyLogDescriptor; control: BurstControl } | null {
    if (this.#log === null) return null;
    return { log: this.#log, control: { cells: this.#cells.buffer as SharedArrayBuffer, logGenSlot: this.#slot, logGen: Atomics.load(this.#cells, this.#slot) } };
  }

  probe(): Promise<boolean> {
    return this.handle.probe();
  }

  async startLogging(req: { pageSize: bigint; ranges: LoggingRange[] } | StartLogging): Promise<bigint> {
    const pageSize = await this.handle.startLogging(req);
    this.#log = this.handle.logDescriptor();
    Atomics.add(this.#cells, this.#slot, 1);
    return pageSize;
  }

  stopLogging(): Promise<void> {
    if (this.#log !== null) {
      this.#log = null;
      Atomics.add(this.#cells, this.#slot, 1);
    }
    return this.handle.stopLogging();
  }

  report(req: ReportWindow & { bitmap: number }): Promise<number> {
    return this.handle.report(req);
  }
}
