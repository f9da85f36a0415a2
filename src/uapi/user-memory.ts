// The simulated user address space. Pointers are byte offsets into one SharedArrayBuffer;
// a struct that does not lie wholly inside it is the simulated copy_from_user failure.
import { ceilDiv } from '../util/bits.js';
import { BITS_PER_U64, BYTES_PER_U64 } from './abi.js';

export class UserMemory {
  readonly buffer: SharedArrayBuffer;
  readonly view: DataView;
  readonly bytes: Uint8Array;
  readonly byteLength: number;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
    this.byteLength = buffer.byteLength;
  }

  /** Byte offset of `[ptr, ptr + lengthBytes)` when it lies wholly inside, else null (EFAULT). */
  locate(ptr: bigint | number, lengthBytes: bigint | number): number | null {
    const start = BigInt(ptr);
    const end = start + BigInt(lengthBytes);
    if (start < 0n || end > BigInt(this.byteLength)) return null;
    return Number(start);
  }
}

/**
 * A user pointer as an exact bigint, or null when the value names no address: a number that is
 * not an integer (0.5, NaN, Infinity), or not a number at all (null, undefined, '12'). The caller
 * treats null as the copy_from_user failure (EFAULT); range is `locate`'s job.
 */
export function userPointer(ptr: unknown): bigint | null {
  if (typeof ptr === 'bigint') return ptr;
  if (typeof ptr === 'number' && Number.isInteger(ptr)) return BigInt(ptr);
  return null;
}

/** Bytes a REPORT bitmap of `bitCount` bits occupies: whole u64 words. */
export function bitmapBytes(bitCount: bigint): bigint {
  return ceilDiv(bitCount, BigInt(BITS_PER_U64)) * BigInt(BYTES_PER_U64);
}
