// The host's devices and the fds open on them. An fd names one device; a device may be open on
// several fds. A closed fd is EBADF from then on (an fd never opened stays ENODEV, as before
// close existed); when the last fd of a device closes, the caller stops its logging, as the
// kernel's close_device does.
import type { Logger } from 'pino';
import type { DirtyLog } from '../device/dirty-log.js';
import type { IommuBinding } from './iommufd-handle.js';
import type { FilledDevice } from './options.js';
import { VfioError } from '../errors.js';
import type { TrackerTransport } from './transport.js';

export interface DeviceSlot {
  readonly config: FilledDevice;
  readonly transport: TrackerTransport;
  /** The device's log as seen by its DMA path (this thread); null when not logging. */
  log: DirtyLog | null;
  /** Bound to an iommufd: the HWPT log its DMA marks too; null while unbound. */
  iommu: IommuBinding | null;
  readonly logger: Logger;
  /** Fds open on the device now. */
  openFds: number;
  /**
   * Feature calls still running on the device. They hold the file as the kernel's fd reference
   * does: closing the last fd stops logging only once they have returned (close_device runs at
   * the file's last reference), so a START still in flight cannot leave a device logging with no
   * fd open on it.
   */
  readonly inFlight: Set<Promise<unknown>>;
}

/** Fds start above stdin, stdout and stderr, as a process's would. */
const FIRST_FD = 3;

export class FdTable {
  readonly #devices = new Map<string, DeviceSlot>();
  readonly #fds = new Map<number, DeviceSlot>();
  readonly #closed = new Set<number>();
  #nextFd = FIRST_FD;

  constructor(slots: readonly DeviceSlot[]) {
    for (const slot of slots) this.#devices.set(slot.config.name, slot);
  }

  get names(): string[] {
    return [...this.#devices.keys()];
  }

  slots(): IterableIterator<DeviceSlot> {
    return this.#devices.values();
  }

  /** A new fd on device `name`; an unknown name is ENODEV. */
  open(name: string): number {
    const slot = this.#devices.get(name);
    if (!slot) throw new VfioError('ENODEV', `no device named '${name}'`);
    const fd = this.#nextFd++;
    this.#fds.set(fd, slot);
    slot.openFds++;
    return fd;
  }

  isOpen(fd: number): boolean {
    return this.#fds.has(fd);
  }

  get(fd: number): DeviceSlot {
    const slot = this.#fds.get(fd);
    if (slot) return slot;
    if (this.#closed.has(fd)) throw new VfioError('EBADF', `fd ${fd} is closed`);
    throw new VfioError('ENODEV', `fd ${fd} is not an open device`);
  }

  /** Close `fd` (EBADF unless open); `last` when no fd is left open on its device. */
  close(fd: number): { slot: DeviceSlot; last: boolean } {
    const slot = this.#fds.get(fd);
    if (!slot) throw new VfioError('EBADF', `fd ${String(fd)} is not open`);
    this.#fds.delete(fd);
    this.#closed.add(fd);
    slot.openFds--;
    return { slot, last: slot.openFds === 0 };
  }
}
