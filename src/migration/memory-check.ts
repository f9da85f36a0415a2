// The end-to-end check: after STOP, the destination's RAM must equal the source's byte for byte.
// Compared in 1 MiB chunks with memcmp (Buffer.compare); a differing chunk is then walked page
// by page to name the pages that differ.

export interface MemoryCheck {
  identical: boolean;
  pagesCompared: number;
  differingPages: number;
  /** The first differing RAM pages (page index = RAM offset / page size), at most `limit`. */
  firstDiffering: number[];
}

const CHUNK_BYTES = 1 << 20;

export function compareMemory(source: SharedArrayBuffer, destination: SharedArrayBuffer, pageSize: number, limit = 8): MemoryCheck {
  if (source.byteLength !== destination.byteLength) throw new RangeError('source and destination RAM differ in size');
  const a = Buffer.from(source);
  const b = Buffer.from(destination);
  const firstDiffering: number[] = [];
  let differingPages = 0;
  for (let at = 0; at < a.length; at += CHUNK_BYTES) {
    const end = Math.min(a.length, at + CHUNK_BYTES);
    if (a.compare(b, at, end, at, end) === 0) continue;
    for (let p = at; p < end; p += pageSize) {
      if (a.compare(b, p, p + pageSize, p, p + pageSize) === 0) continue;
      differingPages++;
      if (firstDiffering.length < limit) firstDiffering.push(p / pageSize);
    }
  }
  return { identical: differingPages === 0, pagesCompared: a.length / pageSize, differingPages, firstDiffering };
}
