// What the host needs of a device's tracker, whatever carries the calls: the driver's calls
// (START answers with the log descriptor the host's DMA path marks), fault injection, and an end.
// `worker-transport.ts` runs the driver in its own thread (the default); `in-thread-transport.ts`
// runs the same driver in the calling thread (a deterministic mode; a vfio-user server).
import type { DeviceDriver, Fault } from '../device/driver.js';
import type { Errno } from '../uapi/errno.js';

export type TransportKind = 'worker' | 'in-thread';
export const TRANSPORT_KINDS: readonly TransportKind[] = ['worker', 'in-thread'];

/** The driver calls a transport carries; `injectFault` has its own verb. */
export type DriverCall = 'start' | 'stop' | 'report' | 'status';
export type DriverAnswer<M extends DriverCall> = ReturnType<DeviceDriver[M]>;

export interface TrackerTransport {
  readonly kind: TransportKind;
  /** Why the tracker is gone, once it is (ENODEV, or the EIO / ETIMEDOUT that failed it). */
  readonly dead: Errno | null;
  /**
   * Run a driver call; resolves its answer (`{ errno }` for a refusal). Rejects with VfioError
   * ENODEV once the tracker is gone, EIO when the driver threw (the tracker is then failed),
   * ETIMEDOUT past the deadline where the transport has one.
   */
  call<M extends DriverCall>(method: M, ...args: Parameters<DeviceDriver[M]>): Promise<DriverAnswer<M>>;
  /** Hand a checked fault (checkFault) to the driver; a fault that kills the tracker resolves. */
  injectFault(fault: Fault): Promise<void>;
  /** End the tracker; idempotent. Pending and later calls reject with ENODEV. */
  terminate(): Promise<void>;
}

/** A fault whose effect is the tracker dying: its call may see ENODEV instead of an answer. */
export function faultKills(fault: Fault): boolean {
  return fault.kind === 'die' || fault.kind === 'throw';
}
