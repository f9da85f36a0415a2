// DEVICE_FEATURE's DMA-logging features (START 6, STOP 7, REPORT 8, and PROBE of any feature the
// session does not answer itself) from the wire into the dmalog host's ioctl path: the request is
// laid out in host.memory as the kernel's structs (ranges and bitmap behind user pointers), the
// host checks and runs it exactly as an ioctl, and the answer is read back from host.memory. The
// REPORT bitmap is the one the device's tracker ORs into (Atomics.or); its bytes go into the
// reply. vfio-user lays START's ranges and REPORT's bitmap inline where the kernel has a pointer,
// so argsz is translated: the rules on it stay the core's.
import { VfioError } from '../errors.js';
import type { Host } from '../host/host.js';
import {
  FEATURE_HEADER_BYTES, LOGGING_CONTROL_BYTES, LOGGING_RANGE_BYTES, LOGGING_REPORT_BYTES, MIN_REPORT_PAGE_SIZE,
  VFIO_DEVICE_FEATURE, VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT, VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
  VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP, VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MASK, VFIO_DEVICE_FEATURE_PROBE,
  VFIO_DEVICE_FEATURE_SET,
} from '../uapi/abi.js';
import type { Errno } from '../uapi/errno.js';
import { decodeLoggingControl, encodeFeatureHeader, encodeLoggingControl, encodeLoggingRange, encodeLoggingReport,
  type LoggingRange } from '../uapi/structs.js';
import { bitmapBytes } from '../uapi/user-memory.js';
import { ceilDiv, isPowerOfTwo } from '../util/bits.js';
import type { Checked } from '../util/result.js';
import type { DmaMap } from './dma-map.js';
import { INLINE_CONTROL_BYTES, INLINE_REPORT_BYTES } from './protocol.js';
import type { Quirks } from './quirks.js';

const LE = true;

/** Loses the N-th dirty bit a server reports (`--drop-dirty-bit N`): for testing the tester. */
export class DirtyBitDropper {
  #seen = 0;
  #dropped = false;
  constructor(readonly nth: number) {}

  /** Count the set bits of `bitmap` in order (byte by byte, LSB first) and clear the N-th. */
  filter(bitmap: Uint8Array): void {
    if (this.#dropped) return;
    for (let i = 0; i < bitmap.length; i++) {
      for (let bit = 0; bit < 8 && bitmap[i]! !== 0; bit++) {
        if ((bitmap[i]! & (1 << bit)) === 0) continue;
        if (++this.#seen === this.nth) {
          bitmap[i] = bitmap[i]! & ~(1 << bit);
          this.#dropped = true;
          return;
        }
      }
    }
  }

  get dropped(): boolean {
    return this.#dropped;
  }
}

/** What a logging feature call answers: the reply's feature payload, or null for a header-only reply. */
export type BridgeAnswer = Checked<{ payload: Uint8Array | null; feature: 'START' | 'STOP' | 'REPORT' | 'PROBE' | 'other' }>;

export class LoggingBridge {
  readonly #host: Host;
  readonly #fd: number;
  readonly #quirks: Quirks;
  readonly #dma: DmaMap;
  readonly #dropper: DirtyBitDropper | null;
  /** The page size START chose; null while not logging. */
  #pageSize: bigint | null = null;

  constructor(host: Host, fd: number, quirks: Quirks, dma: DmaMap, dropper: DirtyBitDropper | null) {
    this.#host = host;
    this.#fd = fd;
    this.#quirks = quirks;
    this.#dma = dma;
    this.#dropper = dropper;
  }

  get logging(): boolean {
    return this.#pageSize !== null;
  }

  /** `payload`: the DEVICE_FEATURE payload (vfio_device_feature header, then data), as sent. */
  async call(payload: Uint8Array): Promise<BridgeAnswer> {
    const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const argsz = v.getUint32(0, LE), flags = v.getUint32(4, LE);
    const feature = flags & VFIO_DEVICE_FEATURE_MASK;
    const op = flags & (VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PROBE);
    const data = payload.subarray(FEATURE_HEADER_BYTES);
    if (feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_START && op === VFIO_DEVICE_FEATURE_SET) return this.#start(argsz, flags, data, payload);
    if (feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT && op === VFIO_DEVICE_FEATURE_GET) return this.#report(argsz, flags, data);
    const isLogging = feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_START || feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP || feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT;
    if (!isLogging && this.#quirks.unknownFeatureErrno === 'EINVAL') return { errno: 'EINVAL' };
    // STOP, PROBE, wrong ops, other features: the request as it came; the core judges it.
    const r = await this.#ioctl(payload.length, (view, at) => {
      new Uint8Array(this.#host.memory, at, payload.length).set(payload);
      encodeFeatureHeader(view, at, { argsz, flags });
    });
    if ('errno' in r) return r;
    if (feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP && (op & VFIO_DEVICE_FEATURE_PROBE) === 0) this.#pageSize = null;
    return { payload: payload.slice(), feature: (op & VFIO_DEVICE_FEATURE_PROBE) !== 0 ? 'PROBE' : feature === VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP ? 'STOP' : 'other' };
  }

  async #start(argsz: number, flags: number, data: Uint8Array, payload: Uint8Array): Promise<BridgeAnswer> {
    if (data.length < INLINE_CONTROL_BYTES) return { errno: 'EINVAL' };
    const control = decodeLoggingControl(padTo(data, LOGGING_CONTROL_BYTES), 0);
    const given = Array.from({ length: Math.min(control.numRanges, Math.floor((data.length - INLINE_CONTROL_BYTES) / LOGGING_RANGE_BYTES)) }, (_, i) => {
      const rv = new DataView(data.buffer, data.byteOffset + INLINE_CONTROL_BYTES + i * LOGGING_RANGE_BYTES, LOGGING_RANGE_BYTES);
      return { iova: rv.getBigUint64(0, LE), length: rv.getBigUint64(8, LE) };
    });
    if (given.length < control.numRanges) return { errno: 'EINVAL' };
    if (this.#quirks.restartSamePageSize && this.#pageSize !== null && control.pageSize === this.#pageSize) {
      return { payload: payload.slice(), feature: 'START' };
    }
    const mapped = (withFd: boolean): LoggingRange[] => this.#dma.regions
      .filter((r) => !withFd || r.fd !== null).map((r) => ({ iova: r.iova, length: r.size }));
    const ranges = this.#quirks.startRanges === 'mapped-with-fd' ? mapped(true) : control.numRanges === 0 ? mapped(false) : given;
    // The kernel's argsz counts the control struct with its ranges pointer, not inline ranges.
    const kernelArgsz = argsz - control.numRanges * LOGGING_RANGE_BYTES + (LOGGING_CONTROL_BYTES - INLINE_CONTROL_BYTES);
    const bytes = FEATURE_HEADER_BYTES + LOGGING_CONTROL_BYTES + ranges.length * LOGGING_RANGE_BYTES;
    let chosen = 0n;
    const r = await this.#ioctl(bytes, (view, at) => {
      const rangesAt = at + FEATURE_HEADER_BYTES + LOGGING_CONTROL_BYTES;
      encodeFeatureHeader(view, at, { argsz: Math.max(0, kernelArgsz), flags });
      encodeLoggingControl(view, at + FEATURE_HEADER_BYTES, { pageSize: control.pageSize, numRanges: ranges.length, reserved: control.reserved, ranges: BigInt(rangesAt) });
      ranges.forEach((range, i) => encodeLoggingRange(view, rangesAt + i * LOGGING_RANGE_BYTES, range));
    }, (view, at) => { chosen = view.getBigUint64(at + FEATURE_HEADER_BYTES, LE); });
    if ('errno' in r) return r;
    this.#pageSize = chosen;
    // The kernel writes the chosen page size back into control.page_size: so does the reply.
    const reply = payload.slice();
    new DataView(reply.buffer).setBigUint64(FEATURE_HEADER_BYTES, chosen, LE);
    return { payload: reply, feature: 'START' };
  }

  async #report(argsz: number, flags: number, data: Uint8Array): Promise<BridgeAnswer> {
    if (data.length < INLINE_REPORT_BYTES) return { errno: 'EINVAL' };
    const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const iova = v.getBigUint64(0, LE), length = v.getBigUint64(8, LE), pageSize = v.getBigUint64(16, LE);
    if (this.#quirks.reportWindow === 'one-region') {
      const window = this.#oneRegion(iova, length, pageSize);
      if (window === 'spanning') return { payload: null, feature: 'REPORT' };
      if (window !== 'ok') return window;
    }
    const bitmap = await this.reportInto(iova, length, pageSize, argsz - FEATURE_HEADER_BYTES - INLINE_REPORT_BYTES);
    if ('errno' in bitmap) return bitmap;
    const reply = new Uint8Array(FEATURE_HEADER_BYTES + INLINE_REPORT_BYTES + bitmap.bytes.length);
    const rv = new DataView(reply.buffer);
    // argsz of a GET reply is the size it actually has.
    rv.setUint32(0, reply.length, LE);
    rv.setUint32(4, flags, LE);
    reply.set(data.subarray(0, INLINE_REPORT_BYTES), FEATURE_HEADER_BYTES);
    reply.set(bitmap.bytes, FEATURE_HEADER_BYTES + INLINE_REPORT_BYTES);
    return { payload: reply, feature: 'REPORT' };
  }

  /** libvfio-user's REPORT window rule (see quirks.ts). */
  #oneRegion(iova: bigint, length: bigint, pageSize: bigint): 'ok' | 'spanning' | { errno: Errno } {
    const regions = this.#dma.regions;
    const exact = regions.find((r) => r.iova === iova && r.size === length);
    if (exact) {
      if (exact.fd === null) return { errno: 'EINVAL' };
      if (pageSize === 0n || !isPowerOfTwo(pageSize) || pageSize > length) return { errno: 'EINVAL' };
      return 'ok';
    }
    const at = regions.find((r) => iova >= r.iova && iova < r.iova + r.size);
    if (!at) return { errno: 'ENOENT' };
    return iova + length > at.iova + at.size ? 'spanning' : { errno: 'EOPNOTSUPP' };
  }

  /**
   * REPORT [iova, iova + length) at `pageSize` through the host into a zeroed bitmap in
   * host.memory; resolves its bytes (u64 words, bit i = page i). `room`: bitmap bytes the reply
   * may carry (EINVAL when the bitmap needs more).
   */
  async reportInto(iova: bigint, length: bigint, pageSize: bigint, room: number): Promise<Checked<{ bytes: Uint8Array }>> {
    // A page size the core will refuse gets no bitmap: the core answers before it looks for one.
    const sizable = pageSize >= MIN_REPORT_PAGE_SIZE && isPowerOfTwo(pageSize) && length > 0n;
    const need = sizable ? Number(bitmapBytes(ceilDiv(length, pageSize))) : 0;
    if (sizable && need > room) return { errno: 'EINVAL' };
    if (need > this.#host.memory.byteLength) return { errno: 'ENOMEM' };
    let bitmapAt = 0;
    let bitmap = new Uint8Array(0);
    const total = FEATURE_HEADER_BYTES + LOGGING_REPORT_BYTES + need;
    const r = await this.#ioctl(total, (view, at) => {
      bitmapAt = at + FEATURE_HEADER_BYTES + LOGGING_REPORT_BYTES;
      new Uint8Array(this.#host.memory, bitmapAt, need).fill(0);
      encodeFeatureHeader(view, at, { argsz: FEATURE_HEADER_BYTES + LOGGING_REPORT_BYTES, flags: VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT });
      encodeLoggingReport(view, at + FEATURE_HEADER_BYTES, { iova, length, pageSize, bitmap: sizable ? BigInt(bitmapAt) : 0n });
    }, () => { bitmap = new Uint8Array(this.#host.memory, bitmapAt, need).slice(); });
    if ('errno' in r) return r;
    this.#dropper?.filter(bitmap);
    return { bytes: bitmap };
  }

  /** STOP if logging (a session ending); errors are the caller's to ignore. */
  async stopIfLogging(): Promise<void> {
    if (this.#pageSize === null) return;
    this.#pageSize = null;
    const header = new Uint8Array(FEATURE_HEADER_BYTES);
    encodeFeatureHeader(new DataView(header.buffer), 0, { argsz: FEATURE_HEADER_BYTES, flags: VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP });
    await this.call(header);
  }

  /** Lay a request out in host.memory, run it as an ioctl, read the answer back, free the memory. */
  async #ioctl(bytes: number, write: (view: DataView, at: number) => void, read?: (view: DataView, at: number) => void): Promise<Checked<{ done: true }>> {
    let at: number;
    try {
      at = this.#host.alloc(Math.max(bytes, FEATURE_HEADER_BYTES));
    } catch (error) {
      if (error instanceof VfioError) return { errno: error.errno };
      throw error;
    }
    try {
      const view = new DataView(this.#host.memory);
      write(view, at);
      await this.#host.ioctl(this.#fd, VFIO_DEVICE_FEATURE, at);
      read?.(view, at);
      return { done: true };
    } catch (error) {
      if (error instanceof VfioError) return { errno: error.errno };
      throw error;
    } finally {
      this.#host.free(at);
    }
  }
}

function padTo(bytes: Uint8Array, size: number): DataView {
  const copy = new Uint8Array(Math.max(size, bytes.length));
  copy.set(bytes);
  return new DataView(copy.buffer);
}
