// Reply builders for the shapes whose lengths a vfio-user client checks to the byte: error replies
// (header only), REGION_INFO (cut to the argsz the client offered, argsz telling the full size),
// the sparse-mmap capability, and MIG_DATA_READ (padded to the size asked for).
import { ERRNO, type Errno } from '../uapi/errno.js';
import type { Body, OutgoingMessage } from './codec.js';
import {
  CAP_HEADER_BYTES, REGION_INFO_BYTES, REGION_INFO_CAP_SPARSE_MMAP, REGION_INFO_FLAG_CAPS, SPARSE_MMAP_AREA_BYTES,
  SPARSE_MMAP_BYTES,
} from './protocol.js';

const LE = true;

type To = { msgId: number; cmd: number };

/** A header-only error reply: ERROR set, the Linux errno number, no payload. */
export function errorReply(to: To, errno: Errno): OutgoingMessage {
  return { header: { msgId: to.msgId, cmd: to.cmd, type: 'reply', error: true, errorNo: ERRNO[errno] }, body: { kind: 'error', payload: new Uint8Array(0) } };
}

/** A success reply to `to` carrying `body` (and fds, such as a region's mmap file). */
export function successReply(to: To, body: Body, fds: readonly number[] = []): OutgoingMessage {
  return { header: { msgId: to.msgId, cmd: to.cmd, type: 'reply' }, fds, body };
}

export interface SparseArea { offset: bigint; size: bigint }

/** struct vfio_region_info_cap_sparse_mmap, version 1, as the last capability (next = 0) unless told. */
export function encodeSparseMmapCap(areas: readonly SparseArea[], next = 0): Uint8Array {
  const out = new Uint8Array(SPARSE_MMAP_BYTES + areas.length * SPARSE_MMAP_AREA_BYTES);
  const v = new DataView(out.buffer);
  v.setUint16(0, REGION_INFO_CAP_SPARSE_MMAP, LE);
  v.setUint16(2, 1, LE);
  v.setUint32(4, next, LE);
  v.setUint32(CAP_HEADER_BYTES, areas.length, LE);
  areas.forEach((a, i) => {
    v.setBigUint64(SPARSE_MMAP_BYTES + i * SPARSE_MMAP_AREA_BYTES, a.offset, LE);
    v.setBigUint64(SPARSE_MMAP_BYTES + i * SPARSE_MMAP_AREA_BYTES + 8, a.size, LE);
  });
  return out;
}

export interface CapHeader { id: number; version: number; next: number }
export type SparseMmapCap = CapHeader & { nrAreas: number; reserved: number; areas: SparseArea[] };

/**
 * The sparse-mmap capability at `at` in a REGION_INFO reply's bytes after the 32-byte struct
 * (cap_offset − 32), or null when the bytes there are not one (wrong id, too short).
 */
export function decodeSparseMmapCap(caps: Uint8Array, at: number): SparseMmapCap | null {
  if (at < 0 || caps.length < at + SPARSE_MMAP_BYTES) return null;
  const v = new DataView(caps.buffer, caps.byteOffset, caps.byteLength);
  const id = v.getUint16(at, LE);
  const nrAreas = v.getUint32(at + CAP_HEADER_BYTES, LE);
  if (id !== REGION_INFO_CAP_SPARSE_MMAP || caps.length < at + SPARSE_MMAP_BYTES + nrAreas * SPARSE_MMAP_AREA_BYTES) return null;
  const areas = Array.from({ length: nrAreas }, (_, i) => ({
    offset: v.getBigUint64(at + SPARSE_MMAP_BYTES + i * SPARSE_MMAP_AREA_BYTES, LE),
    size: v.getBigUint64(at + SPARSE_MMAP_BYTES + i * SPARSE_MMAP_AREA_BYTES + 8, LE),
  }));
  return { id, version: v.getUint16(at + 2, LE), next: v.getUint32(at + 4, LE), nrAreas, reserved: v.getUint32(at + 12, LE), areas };
}

export interface RegionInfo { flags: number; index: number; size: bigint; offset: bigint }

/**
 * REGION_INFO's reply body: argsz is always the full size the region needs (struct + caps); the
 * caps, the CAPS flag and cap_offset come only when the client's argsz has room for them, so the
 * reply is min(needed, offered) bytes and the client asks again with the argsz it was told.
 */
export function regionInfoReply(offeredArgsz: number, info: RegionInfo, caps: Uint8Array = new Uint8Array(0)): Body {
  const needed = REGION_INFO_BYTES + caps.length;
  const fits = caps.length > 0 && offeredArgsz >= needed;
  return {
    kind: 'region-info', argsz: needed, index: info.index, size: info.size, offset: info.offset,
    flags: fits ? info.flags | REGION_INFO_FLAG_CAPS : info.flags & ~REGION_INFO_FLAG_CAPS,
    capOffset: fits ? REGION_INFO_BYTES : 0,
    tail: fits ? caps.slice() : new Uint8Array(0),
  };
}

/** MIG_DATA_READ's reply body: argsz 8 + n, size n, the n stream bytes, zeros up to `requested`. */
export function migDataReadReply(requested: number, data: Uint8Array): Body {
  return { kind: 'mig-data', argsz: 8 + data.length, size: data.length, data: data.slice(), padding: Math.max(0, requested - data.length) };
}
