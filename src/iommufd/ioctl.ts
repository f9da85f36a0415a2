// The two iommufd ioctls, raw and typed. The raw call reads its struct from user memory (the same
// UserMemory as the VFIO ABI) and returns 0 or -errno like the syscall; the typed layer lays the
// struct out in scratch user memory and goes through the raw path, so every rule of contract §7 has
// one implementation (validate.ts) whichever way it is called.
import type { Contract } from '../bitmap/iova-bitmap.js';
import { DmalogError, VfioError } from '../errors.js';
import { ERRNO } from '../uapi/errno.js';
import { userPointer, type UserMemory } from '../uapi/user-memory.js';
import { failed, type Checked } from '../util/result.js';
import {
  GET_DIRTY_BITMAP_BYTES, IOMMU_HWPT_DIRTY_TRACKING_ENABLE, IOMMU_HWPT_GET_DIRTY_BITMAP,
  IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, IOMMU_HWPT_SET_DIRTY_TRACKING, SET_DIRTY_TRACKING_BYTES,
} from './abi.js';
import type { Iommufd } from './iommufd.js';
import { encodeGetDirtyBitmap, encodeSetDirtyTracking } from './structs.js';
import { checkIommufdCall } from './validate.js';
import { badOption } from '../util/options.js';
import { bitmapPointer, idArgument, windowArguments } from '../uapi/typed-args.js';

/** One call, checked then carried out: the bits a GET set (0 for SET), or the errno. */
export function iommufdCall(iommufd: Iommufd, memory: UserMemory, request: number, argPointer: unknown, contract: Contract): Checked<number> {
  const ptr = userPointer(argPointer);
  if (ptr === null) return { errno: 'EFAULT' };
  const call = checkIommufdCall(memory, request, ptr, (id) => iommufd.pagingHwpt(id));
  if (failed(call)) return call;
  const hwpt = iommufd.pagingHwpt(call.hwptId)!;
  if (call.kind === 'set') {
    hwpt.setDirtyTracking(call.enable);
    return 0;
  }
  if (call.bitCount === 0) return 0; // length 0 at iova 0 passes the checks and reads nothing
  const window = { iova: call.iova, length: call.length, pageSize: call.bitPageSize };
  return hwpt.readDirty(window, memory.buffer, call.bitmapAt, !call.noClear, contract);
}

/** ioctl(iommufd, request, argPointer): 0, or -errno (the Linux number) on failure. */
export function iommufdIoctl(iommufd: Iommufd, memory: UserMemory, request: number, argPointer: bigint | number, contract: Contract = 'atomic'): number {
  const r = iommufdCall(iommufd, memory, request, argPointer, contract);
  return failed(r) ? -ERRNO[r.errno] : 0;
}

export interface GetDirtyBitmapRequest {
  hwptId: number;
  iova: bigint;
  length: bigint;
  pageSize: bigint;
  /** User address of the bitmap. */
  bitmap: number | bigint;
  noClear?: boolean;
}

/** A typed GET's arguments as its struct holds them (typed-args.ts: refused rather than wrapped). */
export function getDirtyBitmapArguments(req: GetDirtyBitmapRequest): { hwptId: number; noClear: boolean; window: { iova: bigint; length: bigint; pageSize: bigint }; bitmap: bigint } {
  const window = windowArguments(req);
  const noClear = req.noClear ?? false;
  if (typeof noClear !== 'boolean') badOption(['noClear'], 'must be a boolean');
  return { hwptId: idArgument('hwptId', req.hwptId), noClear, window, bitmap: bitmapPointer(req.bitmap) };
}

/**
 * The typed layer over one iommufd. `scratchAt`: 48 bytes of user memory for the structs (e.g.
 * from host.alloc); calls are synchronous, so one scratch serves every call.
 */
export class IommufdCalls {
  readonly #view: DataView;

  constructor(readonly iommufd: Iommufd, readonly memory: UserMemory, readonly scratchAt: number, readonly contract: Contract = 'atomic') {
    if (!Number.isSafeInteger(scratchAt) || memory.locate(scratchAt, GET_DIRTY_BITMAP_BYTES) === null) {
      throw new DmalogError('DMALOG_BAD_OPTION', `scratchAt must hold ${GET_DIRTY_BITMAP_BYTES} bytes inside user memory (got ${String(scratchAt)})`);
    }
    this.#view = memory.view;
  }

  /** IOMMU_HWPT_SET_DIRTY_TRACKING; throws VfioError. */
  setDirtyTracking(hwptId: number, enable: boolean): void {
    encodeSetDirtyTracking(this.#view, this.scratchAt, {
      size: SET_DIRTY_TRACKING_BYTES, flags: enable ? IOMMU_HWPT_DIRTY_TRACKING_ENABLE : 0, hwptId: idArgument('hwptId', hwptId), reserved: 0,
    });
    this.#call(IOMMU_HWPT_SET_DIRTY_TRACKING);
  }

  /** IOMMU_HWPT_GET_DIRTY_BITMAP; returns the bits it set, throws VfioError. */
  getDirtyBitmap(req: GetDirtyBitmapRequest): number {
    const args = getDirtyBitmapArguments(req);
    encodeGetDirtyBitmap(this.#view, this.scratchAt, {
      size: GET_DIRTY_BITMAP_BYTES, hwptId: args.hwptId, flags: args.noClear ? IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : 0,
      reserved: 0, ...args.window, data: args.bitmap,
    });
    return this.#call(IOMMU_HWPT_GET_DIRTY_BITMAP);
  }

  /** Whether `hwptId` names a paging HWPT allocated with the dirty-tracking capability. */
  hasDirtyCapability(hwptId: number): boolean {
    return this.iommufd.pagingHwpt(hwptId)?.dirtyTracking ?? false;
  }

  #call(request: number): number {
    const r = iommufdCall(this.iommufd, this.memory, request, this.scratchAt, this.contract);
    if (failed(r)) throw new VfioError(r.errno);
    return r;
  }
}
