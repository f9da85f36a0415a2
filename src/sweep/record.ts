// One output record per sweep point (a line of JSON Lines): its grid, place, options, outcome and
// full migration result (or the error that kept it from having one). Reading an output back is
// what resume and merge do: a last line cut short (the sweep was killed mid-write) is dropped and
// its point run again; anything else that is not a record is refused naming the line.
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import type { MigrationResult } from '../migration/result.js';
import type { GridSummary, SweepPoint } from './grid.js';

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

/** Why an output file cannot be read as records (the message names the file and line). */
export class RecordFileError extends Error {
  override name = 'RecordFileError';
}

export interface RecordFile {
  records: SweepRecord[];
  /** Bytes of whole records: a resumed sweep cuts the file here before appending. */
  goodBytes: number;
  /** A last line cut short was dropped. */
  truncated: boolean;
}

/** The largest output read back (about 10 KiB a point: 100,000 points of 16 KiB). */
export const MAX_RECORD_FILE_BYTES = 2 ** 31 - 1;

function isRecord(v: unknown): v is SweepRecord {
  const r = v as SweepRecord;
  return typeof r === 'object' && r !== null && typeof r.grid?.hash === 'string' && Number.isSafeInteger(r.index) && typeof r.id === 'string'
    && (OUTCOMES as readonly string[]).includes(r.outcome) && Array.isArray(r.grid.axes) && typeof r.axes === 'object';
}

function readText(file: string): string {
  const st = statSync(file);
  if (!st.isFile()) throw new RecordFileError(`${file}: not a regular file`);
  if (st.size > MAX_RECORD_FILE_BYTES) throw new RecordFileError(`${file}: larger than ${MAX_RECORD_FILE_BYTES} bytes`);
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const buffer = Buffer.alloc(size);
    let at = 0;
    for (let n; at < size && (n = readSync(fd, buffer, at, size - at, null)) > 0;) at += n;
    return buffer.toString('utf8', 0, at);
  } finally {
    closeSync(fd);
  }
}

/** Parses JSON Lines of records. Only the last line may be broken, and only when it lacks its newline. */
export function parseRecords(text: string, file: string): RecordFile {
  const records: SweepRecord[] = [];
  let at = 0;
  let line = 0;
  while (at < text.length) {
    line++;
    const nl = text.indexOf('\n', at);
    const end = nl < 0 ? text.length : nl;
    const body = text.slice(at, end);
    let value: unknown;
    let ok = true;
    try {
      value = JSON.parse(body);
    } catch {
      ok = false;
    }
    if (!ok || !isRecord(value)) {
      // Cut short by a kill mid-write: no newline after it, nothing after it.
      if (nl < 0) return { records, goodBytes: Buffer.byteLength(text.slice(0, at)), truncated: true };
      if (body.trim() === '') throw new RecordFileError(`${file}:${line}: an empty line`);
      throw new RecordFileError(`${file}:${line}: ${ok ? 'not a sweep record' : 'not JSON'}`);
    }
    records.push(value);
    at = end + 1;
  }
  return { records, goodBytes: Buffer.byteLength(text), truncated: false };
}

export function readRecords(file: string): RecordFile {
  let text: string;
  try {
    text = readText(file);
  } catch (error) {
    if (error instanceof RecordFileError) throw error;
    throw new RecordFileError(`${file}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseRecords(text, file);
}

/**
 * One record per point: a later record of a point replaces an earlier one when the earlier one
 * has no result (an error, run again), else the first stays. In point order.
 */
export function latestByPoint(records: Iterable<SweepRecord>): SweepRecord[] {
  const byId = new Map<string, SweepRecord>();
  for (const r of records) {
    const had = byId.get(r.id);
    if (had === undefined || had.outcome === 'error') byId.set(r.id, r);
  }
  return [...byId.values()].sort((a, b) => a.index - b.index);
}
