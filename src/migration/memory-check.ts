// The end-to-end check: after STOP, the destination's RAM must equal the source's byte for byte.
// Compared in 1 MiB chunks with memcmp (Buffer.compare); a differing chunk is then walked page
// by page to name the pages that differ.
import { DmalogError } from '../errors.js';

export interface MemoryCheck {
  identical: boolean;
  pagesCompared: number;
  differingPages: number;
  /** The first differing RAM pages (page index = RAM offset / page size), at most `limit`. */
  firstDiffering: number[];
}

const CHUNK_BYTES = 1 << 20;

export function compareMemory(source: SharedArrayBuffer, destination: SharedArrayBuffer, pageSize: number, limit = 8): MemoryCheck {
  if (source.byteLength !== destination.byteLength) throw new DmalogError('DMALOG_BAD_OPTION', 'source and destination RAM differ in size');
  const length = source.byteLength;
  const firstDiffering: number[] = [];
  let differingPages = 0;
  // One view per chunk: a Buffer over all of a guest above 4 GiB is past Node 20's typed-array limit.
  for (let at = 0; at < length; at += CHUNK_BYTES) {
    const bytes = Math.min(length - at, CHUNK_BYTES);
    const a = Buffer.from(source, at, bytes);
    const b = Buffer.from(destination, at, bytes);
    if (a.equals(b)) continue;
    for (let p = 0; p < bytes; p += pageSize) {
      if (a.compare(b, p, p + pageSize, p, p + pageSize) === 0) continue;
      differingPages++;
      if (firstDiffering.length < limit) firstDiffering.push((at + p) / pageSize);
    }
  }
  return { identical: differingPages === 0, pagesCompared: length / pageSize, differingPages, firstDiffering };
}
