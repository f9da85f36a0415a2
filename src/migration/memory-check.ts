// The end-to-end check: after STOP, the destination's RAM must equal the source's: byte for byte
// (byte mode), or version for version (page-version mode, one 4-byte version per page). Compared
// in 1 MiB chunks with memcmp (Buffer.compare); a differing chunk is then walked page by page to
// name the pages that differ.
import { DmalogError } from '../errors.js';

export interface MemoryCheck {
  identical: boolean;
  pagesCompared: number;
  differingPages: number;
  /** The first differing RAM pages (page index = RAM offset / page size), at most `limit`. */
  firstDiffering: number[];
}

/** Told the pages compared so far and the total, every PROGRESS_CHUNKS chunks and at the end. */
export type CheckProgress = (donePages: number, totalPages: number) => void;

const CHUNK_BYTES = 1 << 20;
const PROGRESS_CHUNKS = 64;

export function compareMemory(source: SharedArrayBuffer, destination: SharedArrayBuffer, pageSize: number, limit = 8, onProgress?: CheckProgress): MemoryCheck {
  if (source.byteLength !== destination.byteLength) throw new DmalogError('DMALOG_BAD_OPTION', 'source and destination RAM differ in size');
  const length = source.byteLength;
  const total = length / pageSize;
  const firstDiffering: number[] = [];
  let differingPages = 0;
  // One view per chunk: a Buffer over all of a guest above 4 GiB is past Node 20's typed-array limit.
  for (let at = 0, chunk = 0; at < length; at += CHUNK_BYTES, chunk++) {
    if (onProgress && chunk % PROGRESS_CHUNKS === 0) onProgress(at / pageSize, total);
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
  onProgress?.(total, total);
  return { identical: differingPages === 0, pagesCompared: total, differingPages, firstDiffering };
}
