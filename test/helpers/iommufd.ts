// Test helpers for the iommufd tests: lay the two structs out in user memory as a C caller would,
// and a small rig of one IOAS, a dirty-tracking HWPT and one without the capability.
import { GET_DIRTY_BITMAP_BYTES, SET_DIRTY_TRACKING_BYTES } from '../../src/iommufd/abi.js';
import { IommufdCalls } from '../../src/iommufd/ioctl.js';
import { Iommufd } from '../../src/iommufd/iommufd.js';
import { encodeGetDirtyBitmap, encodeSetDirtyTracking, type GetDirtyBitmap, type SetDirtyTracking } from '../../src/iommufd/structs.js';
import { UserMemory } from '../../src/uapi/user-memory.js';
import { PAGE } from './abi.js';

export const MiB = 1n << 20n;
export const HUGE = 2n * MiB;

export function putSet(mem: UserMemory, at: number, s: Partial<SetDirtyTracking> & { hwptId: number }): number {
  encodeSetDirtyTracking(mem.view, at, { size: SET_DIRTY_TRACKING_BYTES, flags: 1, reserved: 0, ...s });
  return at;
}

export function putGet(mem: UserMemory, at: number, g: Partial<GetDirtyBitmap> & { hwptId: number; iova: bigint; length: bigint }): number {
  encodeGetDirtyBitmap(mem.view, at, { size: GET_DIRTY_BITMAP_BYTES, flags: 0, reserved: 0, pageSize: PAGE, data: 0n, ...g });
  return at;
}

export interface Rig {
  iommufd: Iommufd;
  mem: UserMemory;
  calls: IommufdCalls;
  ioas: number;
  dev: number;
  /** Allocated with dirty tracking, `dev` attached. */
  hwpt: number;
  /** A second device's HWPT without the capability, on the same IOAS. */
  plainHwpt: number;
  plainDev: number;
}

/** User memory of `bytes`; calls' scratch at its last 64 bytes. */
export function rig(bytes = 1 << 16): Rig {
  const iommufd = new Iommufd();
  const mem = new UserMemory(new SharedArrayBuffer(bytes));
  const calls = new IommufdCalls(iommufd, mem, bytes - 64);
  const ioas = iommufd.allocIoas();
  const dev = iommufd.bindDevice('nic0');
  const hwpt = iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  iommufd.attach(dev, hwpt);
  const plainDev = iommufd.bindDevice('nic1', { dirtyTracking: false });
  const plainHwpt = iommufd.allocHwpt(plainDev, ioas, { dirtyTracking: false });
  iommufd.attach(plainDev, plainHwpt);
  return { iommufd, mem, calls, ioas, dev, hwpt, plainHwpt, plainDev };
}
