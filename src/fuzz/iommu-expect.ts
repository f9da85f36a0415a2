// The fuzzer's own reading of contract §7: what one raw iommufd call must return, worked out from the
// bytes the caller laid out (the user memory image the call sees) and which ids name which HWPT.
// Written apart from src/iommufd/validate.ts on purpose, down to the request numbers and field
// offsets: an oracle that called the checks it is checking could never disagree with them.
import type { Errno } from '../uapi/errno.js';

/** _IO(';', 0x8b) and _IO(';', 0x8c), spelled out. */
export const SET_REQUEST = 0x3b8b;
export const GET_REQUEST = 0x3b8c;
const SET_MIN = 16;
const GET_MIN = 48;
const U64 = 1n << 64n;

/** Field offsets, as contract §7 lists them. */
const SET_AT = { size: 0, flags: 4, hwptId: 8, reserved: 12 } as const;
const GET_AT = { size: 0, hwptId: 4, flags: 8, reserved: 12, iova: 16, length: 24, pageSize: 32, data: 40 } as const;

/** What an id names, as far as the two calls care: a paging HWPT with or without the capability. */
export type HwptKind = 'dirty' | 'plain';

export type Expectation =
  | { errno: Errno }
  | { errno: null; kind: 'set'; hwptId: number; enable: boolean }
  | {
    errno: null; kind: 'get'; hwptId: number; iova: bigint; length: bigint;
    /** The page size each bit stands for: the lowest set bit of the one written. */
    bitPage: bigint; noClear: boolean; bitmapAt: number; bitCount: number;
  };

/** The outcome contract §7 gives `ioctl(iommufd, request, ptr)` when user memory holds `image`. */
export function expectIommufdCall(image: Uint8Array, request: number, ptr: bigint, hwptKind: (id: number) => HwptKind | null): Expectation {
  if (request !== SET_REQUEST && request !== GET_REQUEST) return { errno: 'ENOTTY' };
  const size = BigInt(image.length);
  const readable = (at: bigint, n: bigint) => at >= 0n && at + n <= size;
  const u32 = (at: bigint) => { const i = Number(at); return (image[i]! | (image[i + 1]! << 8) | (image[i + 2]! << 16) | (image[i + 3]! << 24)) >>> 0; };
  const u64 = (at: bigint) => BigInt(u32(at)) | (BigInt(u32(at + 4n)) << 32n);
  const min = BigInt(request === SET_REQUEST ? SET_MIN : GET_MIN);

  // copy_struct_from_user: the size word, its minimum, then a tail that must be readable and zero.
  if (!readable(ptr, 4n)) return { errno: 'EFAULT' };
  const declared = BigInt(u32(ptr));
  if (declared < min) return { errno: 'EINVAL' };
  if (declared > min) {
    if (!readable(ptr + min, declared - min)) return { errno: 'EFAULT' };
    for (let i = Number(ptr + min); i < Number(ptr + declared); i++) if (image[i] !== 0) return { errno: 'E2BIG' };
  }
  if (!readable(ptr, min)) return { errno: 'EFAULT' };

  if (request === SET_REQUEST) {
    const flags = u32(ptr + BigInt(SET_AT.flags));
    if (flags > 1) return { errno: 'EOPNOTSUPP' };
    const hwptId = u32(ptr + BigInt(SET_AT.hwptId));
    const kind = hwptKind(hwptId);
    if (kind === null) return { errno: 'ENOENT' };
    if (kind === 'plain') return { errno: 'EOPNOTSUPP' };
    return { errno: null, kind: 'set', hwptId, enable: flags === 1 };
  }

  const flags = u32(ptr + BigInt(GET_AT.flags));
  if (flags > 1 || u32(ptr + BigInt(GET_AT.reserved)) !== 0) return { errno: 'EOPNOTSUPP' };
  const hwptId = u32(ptr + BigInt(GET_AT.hwptId));
  const kind = hwptKind(hwptId);
  if (kind === null) return { errno: 'ENOENT' };
  const iova = u64(ptr + BigInt(GET_AT.iova));
  const length = u64(ptr + BigInt(GET_AT.length));
  const pageSize = u64(ptr + BigInt(GET_AT.pageSize));
  // The last byte, iova + length - 1 in u64 arithmetic (length 0 means 2^64 - 1), must not wrap.
  const last = iova + ((length + U64 - 1n) % U64);
  if (last >= U64) return { errno: 'EOVERFLOW' };
  if (pageSize === 0n) return { errno: 'EINVAL' };
  const end = (last + 1n) % U64;
  // The kernel's mask, `page_size - 1` as written: for a non-power-of-two it holds more than the
  // bits below the lowest set one, so it also refuses some addresses aligned to that bit.
  if (((iova | end) & (pageSize - 1n)) !== 0n) return { errno: 'EINVAL' };
  if (kind === 'plain') return { errno: 'EOPNOTSUPP' };
  const bitPage = lowestBit(pageSize);
  const bitCount = length / bitPage;
  const data = u64(ptr + BigInt(GET_AT.data));
  // Whole u64 words of bitmap must be readable, and only when there is a bit to set.
  if (bitCount > 0n && !readable(data, ((bitCount + 63n) / 64n) * 8n)) return { errno: 'EFAULT' };
  return {
    errno: null, kind: 'get', hwptId, iova, length, bitPage, noClear: flags === 1,
    bitmapAt: bitCount > 0n ? Number(data) : 0, bitCount: Number(bitCount),
  };
}

function lowestBit(v: bigint): bigint {
  return v & -v;
}

/** Every errno contract §7 allows for a request (wrong requests: ENOTTY only). */
export function allowedErrnos(request: number): readonly Errno[] {
  if (request === SET_REQUEST) return ['EFAULT', 'EINVAL', 'E2BIG', 'EOPNOTSUPP', 'ENOENT'];
  if (request === GET_REQUEST) return ['EFAULT', 'EINVAL', 'E2BIG', 'EOPNOTSUPP', 'ENOENT', 'EOVERFLOW'];
  return ['ENOTTY'];
}
