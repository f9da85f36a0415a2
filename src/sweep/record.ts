// One output record per sweep point (a line of JSON Lines): its grid, place, options, outcome and
// full migration result (or the error that kept it from having one). Reading an output back is
// what resume and merge do: a last line cut short (the sweep was killed mid-write) is dropped and
// its point run again; anything else that is not a record is refused naming the line.
import { closeSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { RecordFileError } from '../errors.js';
import type { MigrationResult } from '../migration/result.js';
import { canonicalJson, type GridSummary, type SweepPoint } from './grid.js';

/**
 * converged / not-converged: completed with memory identical (switched over within the limit, or
 * forced by an iteration or time cap); failed: the migration failed or was blocked (a REPORT error,
 * no dirty tracking), as a run can; mismatch: destination memory differs (a bug, or
 * dropDirtyBit); error: no result at all (the run threw, its thread died, too little memory).
 */
export type Outcome = 'converged' | 'not-converged' | 'failed' | 'mismatch' | 'error';
export const OUTCOMES: readonly Outcome[] = ['converged', 'not-converged', 'failed', 'mismatch', 'error'];

export interface PointError {
  /** A DmalogError code, a VfioError errno, or the migration failure's code; null for other throws. */
  code: string | null;
  message: string;
}

export interface SweepRecord {
  grid: GridSummary;
  index: number;
  id: string;
  /** Each axis's value label at this point. */
  axes: Record<string, string>;
  seed: string;
  options: Record<string, unknown>;
  outcome: Outcome;
  error: PointError | null;
  result: MigrationResult | null;
  /** Wall time of the run in its thread (not deterministic). */
  wallMs: number;
}

/** What a point's run hands back from its thread. */
export interface PointRun {
  result: MigrationResult | null;
  error: PointError | null;
  wallMs: number;
}

export function outcomeOf(run: PointRun): Outcome {
  const r = run.result;
  if (r === null) return 'error';
  if (r.status !== 'completed') return 'failed';
  if (!r.check?.identical) return 'mismatch';
  return r.converged ? 'converged' : 'not-converged';
}

/** Outcomes that make a sweep exit 1: a point without a result, or memory that differs. */
export function isBroken(outcome: Outcome): boolean {
  return outcome === 'error' || outcome === 'mismatch';
}

export function makeRecord(grid: GridSummary, point: SweepPoint, run: PointRun): SweepRecord {
  const failure = run.result?.failure;
  const error = run.error ?? (failure ? { code: failure.code, message: failure.message } : null);
  return {
    grid, index: point.index, id: point.id,
    axes: Object.fromEntries(grid.axes.map((a, i) => [a.key, a.labels[point.at[i]!]!])),
    seed: point.seed, options: point.options, outcome: outcomeOf(run), error, result: run.result, wallMs: run.wallMs,
  };
}

export function recordLine(record: SweepRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** A record without its result's per-sync and per-window series: what the CSV and the report read. */
export type ResultSummary = Omit<MigrationResult, 'iterationStats' | 'timeline'>;
export type RecordSummary = Omit<SweepRecord, 'result'> & { result: ResultSummary | null };

export function summarize(r: SweepRecord): RecordSummary {
  if (r.result === null) return r;
  const { iterationStats: _s, timeline: _t, ...result } = r.result;
  return { ...r, result };
}

export { RecordFileError };

/** A record read back: its summary, and where its line lies (newline included) to copy it whole. */
export interface StoredRecord {
  summary: RecordSummary;
  file: string;
  offset: number;
  length: number;
}

export interface RecordFile {
  records: StoredRecord[];
  /** Bytes of whole records: a resumed sweep cuts the file here before appending. */
  goodBytes: number;
  /** A last line cut short was dropped. */
  truncated: boolean;
  /** The last record lacks its newline: one goes before anything appended. */
  openLine: boolean;
}

/** The longest line read back (a record of a run capped after a day of simulated time is a few MiB). */
export const MAX_RECORD_BYTES = 256 << 20;
const CHUNK_BYTES = 1 << 20;

function isRecord(v: unknown): v is SweepRecord {
  const r = v as SweepRecord;
  return typeof r === 'object' && r !== null && typeof r.grid?.hash === 'string' && Number.isSafeInteger(r.index) && typeof r.id === 'string'
    && (OUTCOMES as readonly string[]).includes(r.outcome) && Array.isArray(r.grid.axes) && typeof r.axes === 'object';
}

/**
 * Scans JSON Lines of records from `read` (fills a buffer from a byte position, returns the count):
 * a line at a time, so an output larger than a string can hold is read too. Only the last line may
 * be broken, and only when it lacks its newline (cut short by a kill mid-write).
 */
function scanRecords(read: (buffer: Buffer, position: number) => number, file: string): RecordFile {
  const records: StoredRecord[] = [];
  const grids = new Map<string, GridSummary>();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let lineStart = 0;
  let position = 0;
  let line = 0;
  const take = (body: Buffer, hasNewline: boolean): boolean => {
    line++;
    let value: unknown;
    let ok = true;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      ok = false;
    }
    if (!ok || !isRecord(value)) {
      if (!hasNewline) return false;
      if (body.toString('utf8').trim() === '') throw new RecordFileError(`${file}:${line}: an empty line`);
      throw new RecordFileError(`${file}:${line}: ${ok ? 'not a sweep record' : 'not JSON'}`);
    }
    // Every record repeats its grid: one object per grid in memory, not one per record.
    const grid = grids.get(value.grid.hash);
    if (grid !== undefined && canonicalJson(grid) === canonicalJson(value.grid)) value.grid = grid;
    else if (grid === undefined) grids.set(value.grid.hash, value.grid);
    records.push({ summary: summarize(value), file, offset: lineStart, length: body.length + (hasNewline ? 1 : 0) });
    return true;
  };
  const chunk = Buffer.alloc(CHUNK_BYTES);
  for (let n; (n = read(chunk, position)) > 0; position += n) {
    let from = 0;
    for (let nl; (nl = chunk.indexOf(10, from)) >= 0 && nl < n; from = nl + 1) {
      const part = chunk.subarray(from, nl);
      const body = pending.length ? Buffer.concat([...pending, part]) : part;
      pending = [];
      pendingBytes = 0;
      take(body, true);
      lineStart = position + nl + 1;
    }
    if (from < n) {
      pending.push(Buffer.from(chunk.subarray(from, n)));
      pendingBytes += n - from;
      if (pendingBytes > MAX_RECORD_BYTES) throw new RecordFileError(`${file}:${line + 1}: a line longer than ${MAX_RECORD_BYTES} bytes`);
    }
  }
  if (pendingBytes > 0 && !take(Buffer.concat(pending), false)) return { records, goodBytes: lineStart, truncated: true, openLine: false };
  return { records, goodBytes: position, truncated: false, openLine: pendingBytes > 0 };
}

/** Parses JSON Lines of records held in memory (see scanRecords). */
export function parseRecords(text: string, file: string): RecordFile {
  const bytes = Buffer.from(text);
  return scanRecords((buffer, position) => bytes.copy(buffer, 0, position), file);
}

export function readRecords(file: string): RecordFile {
  let fd: number;
  try {
    if (!statSync(file).isFile()) throw new RecordFileError(`${file}: not a regular file`);
    fd = openSync(file, 'r');
  } catch (error) {
    if (error instanceof RecordFileError) throw error;
    throw new RecordFileError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  try {
    return scanRecords((buffer, position) => readSync(fd, buffer, 0, buffer.length, position), file);
  } finally {
    closeSync(fd);
  }
}

/**
 * One item per point: a later record of a point replaces an earlier one when the earlier one has
 * no result (an error, run again), else the first stays. In point order.
 */
export function latestByPoint<T>(items: Iterable<T>, of: (item: T) => Pick<SweepRecord, 'id' | 'index' | 'outcome'>): T[] {
  const byId = new Map<string, T>();
  for (const item of items) {
    const had = byId.get(of(item).id);
    if (had === undefined || of(had).outcome === 'error') byId.set(of(item).id, item);
  }
  return [...byId.values()].sort((a, b) => of(a).index - of(b).index);
}

/** Writes the lines of `records`, in their order, to `out`, copied byte for byte from their files. */
export function copyRecords(records: readonly StoredRecord[], out: string): void {
  const fds = new Map<string, number>();
  const outFd = openSync(out, 'w');
  try {
    let buffer = Buffer.alloc(CHUNK_BYTES);
    for (const r of records) {
      let fd = fds.get(r.file);
      if (fd === undefined) fds.set(r.file, fd = openSync(r.file, 'r'));
      if (buffer.length < r.length + 1) buffer = Buffer.alloc(r.length + 1);
      let got = 0;
      for (let n; got < r.length && (n = readSync(fd, buffer, got, r.length - got, r.offset + got)) > 0;) got += n;
      if (got !== r.length) throw new RecordFileError(`${r.file}: changed while being read (a record at byte ${r.offset} is gone)`);
      // The last line of a file may lack its newline.
      let length = r.length;
      if (buffer[length - 1] !== 10) buffer[length++] = 10;
      writeSync(outFd, buffer, 0, length);
    }
  } finally {
    closeSync(outFd);
    for (const fd of fds.values()) closeSync(fd);
  }
}
