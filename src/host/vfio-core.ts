// The VFIO core's side of a feature call on one device: the checks of validate.ts in kernel
// order, the hand-off of the validated request to the device's tracker, and the write-back
// (START's chosen page size into control.page_size). Also the core's checks of a DMA, which the
// host then marks in the device's log. Every outcome is logged once per call.
import { DirtyLog } from '../device/dirty-log.js';
import { PROFILE_TRAITS } from '../device/profiles.js';
import { CONTROL_PAGE_SIZE_OFFSET, FEATURE_NAMES, VFIO_DEVICE_FEATURE, type LoggingFeature } from '../uapi/abi.js';
import { VfioError } from '../errors.js';
import { type Errno } from '../uapi/errno.js';
import { userPointer, type UserMemory } from '../uapi/user-memory.js';
import { failed, type Checked } from '../util/result.js';
import { checkFeatureCall, checkReport, checkStart, endOverflows, peekFeature } from '../uapi/validate.js';
import type { DeviceSlot } from './fd-table.js';

/** What a successful feature call produced, beyond the ioctl's 0. */
export interface FeatureResult {
  feature: 'START' | 'STOP' | 'REPORT';
  probe: boolean;
  /** START: the page size the device chose (also written back into control.page_size). */
  pageSize?: bigint;
  /** REPORT: distinct bits this REPORT set in the user bitmap. */
  pagesReported?: number;
}

type CheckedCall = Exclude<ReturnType<typeof checkFeatureCall>, { errno: Errno }>;

export class VfioCore {
  readonly #user: UserMemory;
  readonly #hostPageSize: number;

  constructor(user: UserMemory, hostPageSize: number) {
    this.#user = user;
    this.#hostPageSize = hostPageSize;
  }

  /** One `ioctl(fd, request, ptr)` on `slot`'s device; rejects with VfioError. */
  async featureCall(slot: DeviceSlot, request: number, ptr: number | bigint): Promise<FeatureResult> {
    // A device whose tracker failed is gone: every call on it, PROBE included, is ENODEV.
    assertPresent(slot);
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
      const kind = result.probe ? 'PROBE' : 'SET';
      slot.logger.info({ call: kind, feature: result.feature, probe: result.probe, errno: null, pageSize: result.pageSize, pages: result.pagesReported, ms: elapsed(started) }, `${result.probe ? 'PROBE ' : ''}${result.feature} ok`);
      return result;
    } catch (error) {
      if (error instanceof VfioError) {
        const asked = at === null ? null : peekFeature(this.#user, at);
        const feature = asked === null ? 'unreadable' : FEATURE_NAMES[asked.index as LoggingFeature] ?? `feature ${asked.index}`;
        // A failed call is what a reader of the log looks for: warn, above the successes' info.
        const probe = asked?.probe === true;
        slot.logger.warn({ call: probe ? 'PROBE' : 'SET', feature, probe: asked?.probe, errno: error.errno, ms: elapsed(started) }, `${probe ? 'PROBE ' : ''}${feature} failed: ${error.errno}`);
      }
      throw error;
    }
  }

  async #dispatch(slot: DeviceSlot, call: CheckedCall): Promise<FeatureResult> {
    switch (call.kind) {
      case 'probe':
        return { feature: FEATURE_NAMES[call.feature], probe: true };
      case 'start': {
        const req = checkStart(this.#user, call.controlAt, this.#hostPageSize);
        if (failed(req)) throw new VfioError(req.errno);
        const res = unwrap(await slot.transport.call('start', req.pageSizeHint, req.ranges));
        slot.log = new DirtyLog(res.log);
        // copy_to_user of the chosen page size; if that faults the device is stopped again.
        const at = this.#user.locate(req.controlAt + CONTROL_PAGE_SIZE_OFFSET, 8);
        if (at === null) {
          slot.log = null;
          await slot.transport.call('stop');
          throw new VfioError('EFAULT');
        }
        this.#user.view.setBigUint64(at, res.pageSize, true);
        return { feature: 'START', probe: false, pageSize: res.pageSize };
      }
      case 'stop':
        await stopLogging(slot);
        return { feature: 'STOP', probe: false };
      case 'report': {
        const req = checkReport(this.#user, call.reportAt);
        if (failed(req)) throw new VfioError(req.errno);
        const res = unwrap(await slot.transport.call('report', req));
        return { feature: 'REPORT', probe: false, pagesReported: res.pagesReported };
      }
    }
  }
}

/** STOP the device's logging and drop the host's log (a STOP call, or its last fd closing). */
export async function stopLogging(slot: DeviceSlot): Promise<void> {
  unwrap(await slot.transport.call('stop'));
  slot.log = null;
}

/** The core's checks of a DMA of [iova, iova + length) by `slot`'s device. */
export function checkDma(slot: DeviceSlot, iova: bigint, length: bigint): void {
  if (typeof iova !== 'bigint' || typeof length !== 'bigint' || iova < 0n || length < 0n) {
    throw new VfioError('EINVAL', 'iova and length must be non-negative bigints');
  }
  if (length === 0n) throw new VfioError('EINVAL', 'a DMA of length 0');
  if (endOverflows(iova, length)) throw new VfioError('EOVERFLOW');
  assertPresent(slot);
}

function assertPresent(slot: DeviceSlot): void {
  if (slot.transport.dead) throw new VfioError('ENODEV', `device ${slot.config.name} is gone`);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}

function unwrap<T>(r: Checked<T>): T {
  if (failed(r)) throw new VfioError(r.errno);
  return r;
}
