// The one order of IOVA ranges: by start, then by length (so equal starts sort deterministically).

export interface IovaRange { iova: bigint; length: bigint }

export function compareRanges(a: IovaRange, b: IovaRange): number {
  if (a.iova !== b.iova) return a.iova < b.iova ? -1 : 1;
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** A sorted copy; the input is left as it is. */
export function sortRanges<R extends IovaRange>(ranges: readonly R[]): R[] {
  return [...ranges].sort(compareRanges);
}
