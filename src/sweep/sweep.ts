// Running a sweep: every point of the grid (or of one shard of it) not yet in the output, on a
// pool of threads, each finished point appended at once as one JSON line so that a sweep killed
// at any moment resumes where it stopped. Once every point has run, the JSON Lines are rewritten
// in point order (one record per point) beside the CSV and the HTML report. `mergeSweeps` joins
// the outputs of several shards (or machines) of one grid into the same three files.
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import { GridMismatch } from '../errors.js';
import { availableMemory, estimateFootprint } from '../migration/footprint.js';
import { fillMigrationOptions } from '../migration/options.js';
import { checkMapAxes, type Metric } from './cells.js';
import { renderCsv } from './csv.js';
import { gridSummary, inShard, points, type Grid, type GridSummary, type SweepPoint } from './grid.js';
import { PointPool } from './pool.js';
import { copyRecords, isBroken, latestByPoint, makeRecord, readRecords, recordLine, RecordFileError, type Outcome, type RecordFile, type RecordSummary, type StoredRecord } from './record.js';
import { renderSweepReport } from './report-html.js';

export interface Shard {
  k: number;
  n: number;
}

export interface SweepFiles {
  jsonl: string;
  csv: string;
  html: string;
}

export interface SweepProgress {
  /** Points run by this invocation so far, of `toRun`. */
  done: number;
  toRun: number;
  /** Points of the share found already done in the output. */
  skipped: number;
  /** Points of the share (skipped + toRun). */
  share: number;
  counts: Record<Outcome, number>;
  elapsedMs: number;
}

export interface SweepOptions {
  grid: Grid;
  /** Created (with its parents) when missing. */
  outDir: string;
  shard?: Shard;
  /** Points run at once, one thread each (default: the machine's cores). */
  jobs?: number;
  /** Writer threads of a point that does not set writerThreads (default: cores / jobs, at least 1). */
  writerThreads?: number;
  /** A point running longer is ended and recorded as an ETIMEDOUT error (default: no limit). */
  pointTimeoutMs?: number | null;
  x?: string | null;
  y?: string | null;
  metric?: Metric;
  onProgress?: (p: SweepProgress) => void;
  /** Said once, before the first point runs (a lowered --jobs). */
  onNote?: (text: string) => void;
}

export interface SweepOutcome {
  files: SweepFiles;
  share: number;
  skipped: number;
  ran: number;
  jobs: number;
  writerThreads: number;
  /** Every record of the output, one per point, in point order (results without their series). */
  records: RecordSummary[];
  counts: Record<Outcome, number>;
  /** Points without a result or with memory differing (exit 1). */
  broken: number;
  /** The truncated last line found (and redone) on resume. */
  truncated: boolean;
}

export { GridMismatch };

export function sweepFiles(outDir: string, shard: Shard = { k: 1, n: 1 }): SweepFiles {
  const stem = path.join(outDir, shard.n === 1 ? 'sweep' : `sweep-shard-${shard.k}-of-${shard.n}`);
  return { jsonl: `${stem}.jsonl`, csv: `${stem}.csv`, html: `${stem}.html` };
}

function zeroCounts(): Record<Outcome, number> {
  return { 'converged': 0, 'not-converged': 0, 'failed': 0, 'mismatch': 0, 'error': 0 };
}

const summaryOf = (r: StoredRecord) => r.summary;

function countOutcomes(records: readonly RecordSummary[]): Record<Outcome, number> {
  const counts = zeroCounts();
  for (const r of records) counts[r.outcome]++;
  return counts;
}

/** Records of `file` (none when it does not exist), refusing any of another grid. */
function existingRecords(file: string, hash: string): RecordFile {
  if (!existsSync(file)) return { records: [], goodBytes: 0, truncated: false, openLine: false };
  const read = readRecords(file);
  const other = read.records.find((r) => r.summary.grid.hash !== hash);
  if (other) throw new GridMismatch(`${file}: holds points of another grid (${other.summary.grid.hash}, this one is ${hash}): use another --out, or remove it`);
  return read;
}

/** Writes the three outputs from `records` (one per point, in point order): their lines copied whole. */
export function writeOutputs(files: SweepFiles, grid: GridSummary, stored: readonly StoredRecord[], o: { x?: string | null; y?: string | null; metric?: Metric }): void {
  const records = stored.map(summaryOf);
  const write = (file: string, text: string) => {
    try {
      writeFileSync(file, text);
    } catch (error) {
      throw new RecordFileError(`${file}: cannot write it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  // Renamed into place: a sweep killed while rewriting keeps its appended records.
  const tmp = `${files.jsonl}.tmp-${process.pid}`;
  try {
    copyRecords(stored, tmp);
  } catch (error) {
    rmSync(tmp, { force: true });
    if (error instanceof RecordFileError) throw error;
    throw new RecordFileError(`${tmp}: cannot write it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  renameSync(tmp, files.jsonl);
  write(files.csv, renderCsv(records, grid.axes.map((a) => a.key)));
  write(files.html, renderSweepReport(grid, records, { x: o.x ?? null, y: o.y ?? null, metric: o.metric ?? 'downtime' }));
}

/**
 * How many points fit in memory at once, each estimated as a migration run estimates itself
 * (footprint.ts), and the largest estimate. A point too large for the memory alone still runs
 * (alone), and its own check refuses it: an error record.
 */
export function jobsThatFit(pending: readonly Pick<SweepPoint, 'options'>[], writerThreads: number, availableBytes = availableMemory()): { fit: number; largest: number } {
  let largest = 0;
  for (const p of pending) {
    const o = fillMigrationOptions(p.options);
    largest = Math.max(largest, estimateFootprint(o, o.writerThreads ?? writerThreads).bytes);
  }
  return { fit: Math.floor(availableBytes / Math.max(1, largest)), largest };
}

export async function runSweep(o: SweepOptions): Promise<SweepOutcome> {
  const { grid } = o;
  const shard = o.shard ?? { k: 1, n: 1 };
  const summary = gridSummary(grid);
  // Before any point runs: a report that could not be drawn would be found only at the end.
  checkMapAxes(summary, o.x, o.y);
  const files = sweepFiles(o.outDir, shard);
  mkdirSync(o.outDir, { recursive: true });
  const found = existingRecords(files.jsonl, grid.hash);
  const done = new Set(latestByPoint(found.records, summaryOf).filter((r) => r.summary.outcome !== 'error').map((r) => r.summary.id));
  const share: SweepPoint[] = [];
  for (const p of points(grid)) if (inShard(p.index, shard)) share.push(p);
  const pending = share.filter((p) => !done.has(p.id));
  const cores = os.availableParallelism();
  let jobs = Math.max(1, Math.min(o.jobs ?? cores, pending.length || 1));
  const writerThreads = o.writerThreads ?? Math.max(1, Math.floor(cores / jobs));
  if (pending.length > 0) {
    const available = availableMemory();
    const { fit, largest } = jobsThatFit(pending, writerThreads, available);
    if (fit < jobs) {
      o.onNote?.(`--jobs ${jobs} lowered to ${Math.max(1, fit)}: the largest point needs about ${Math.ceil(largest / 2 ** 20)} MiB and ${Math.floor(available / 2 ** 20)} MiB are available`);
      jobs = Math.max(1, fit);
    }
  }
  // A last line cut short is dropped before appending: its point runs again.
  const fd = openSync(files.jsonl, 'a');
  let ran = 0;
  try {
    if (found.truncated) ftruncateSync(fd, found.goodBytes);
    if (found.openLine) writeSync(fd, '\n');
    if (pending.length > 0) {
      const pool = new PointPool(jobs, o.pointTimeoutMs ?? null);
      const began = performance.now();
      const counts = zeroCounts();
      // A record that cannot be written (ENOSPC) stops the sweep: the points still queued are dropped.
      const stop = new AbortController();
      // Every queued point listens on it until it ends (piscina removes its listener then): one
      // listener per point is the design, not a leak, and past 10 Node would warn on stderr.
      setMaxListeners(pending.length + 1, stop.signal);
      let writeError: RecordFileError | null = null;
      o.onProgress?.({ done: 0, toRun: pending.length, skipped: share.length - pending.length, share: share.length, counts: { ...counts }, elapsedMs: 0 });
      try {
        await Promise.all(pending.map(async (point) => {
          const run = await pool.run({ options: point.options, writerThreads }, stop.signal);
          if (writeError !== null) return;
          const record = makeRecord(summary, point, run);
          try {
            writeSync(fd, recordLine(record));
          } catch (error) {
            writeError = new RecordFileError(`${files.jsonl}: cannot write it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
            stop.abort();
            return;
          }
          ran++;
          counts[record.outcome]++;
          o.onProgress?.({ done: ran, toRun: pending.length, skipped: share.length - pending.length, share: share.length, counts: { ...counts }, elapsedMs: performance.now() - began });
        }));
      } finally {
        await pool.close();
      }
      if (writeError !== null) throw writeError;
    }
  } finally {
    closeSync(fd);
  }
  // Read back once more (only summaries stay in memory), then rewritten one per point in order.
  const stored = latestByPoint(existingRecords(files.jsonl, grid.hash).records, summaryOf);
  writeOutputs(files, summary, stored, o);
  const records = stored.map(summaryOf);
  const mine = records.filter((r) => inShard(r.index, shard));
  return {
    files, share: share.length, skipped: share.length - pending.length, ran, jobs, writerThreads,
    records, counts: countOutcomes(mine), broken: mine.filter((r) => isBroken(r.outcome)).length, truncated: found.truncated,
  };
}

export interface Collected {
  /** null when the inputs hold no record. */
  grid: GridSummary | null;
  /** One record per point, in point order. */
  stored: StoredRecord[];
}

/** The records of outputs of one grid (shards, machines, resumed runs); GridMismatch for mixed grids. */
export function collectSweeps(inputs: readonly string[]): Collected {
  const all: StoredRecord[] = [];
  let grid: GridSummary | null = null;
  let from = '';
  for (const file of inputs) {
    const { records } = readRecords(file);
    for (const { summary: r } of records) {
      grid ??= r.grid;
      from ||= file;
      if (r.grid.hash !== grid.hash) throw new GridMismatch(`${file}: holds points of grid ${r.grid.hash}, ${from} of grid ${grid.hash}: not one grid`);
    }
    all.push(...records);
  }
  return { grid, stored: latestByPoint(all, summaryOf) };
}

export interface MergeOutcome {
  files: SweepFiles;
  grid: GridSummary | null;
  records: RecordSummary[];
  counts: Record<Outcome, number>;
  /** Points of the grid without a record in any input. */
  missing: number;
  broken: number;
}

/** Joins outputs of one grid into `outDir`'s sweep.* files (nothing is written when they hold no record). */
export function mergeSweeps(inputs: readonly string[], outDir: string, o: { x?: string | null; y?: string | null; metric?: Metric } = {}): MergeOutcome {
  return writeMerged(collectSweeps(inputs), outDir, o);
}

export function writeMerged(c: Collected, outDir: string, o: { x?: string | null; y?: string | null; metric?: Metric } = {}): MergeOutcome {
  const files = sweepFiles(outDir);
  if (c.grid !== null) {
    checkMapAxes(c.grid, o.x, o.y);
    mkdirSync(outDir, { recursive: true });
    writeOutputs(files, c.grid, c.stored, o);
  }
  const records = c.stored.map(summaryOf);
  return { files, grid: c.grid, records, counts: countOutcomes(records), missing: (c.grid?.points ?? 0) - records.length, broken: records.filter((r) => isBroken(r.outcome)).length };
}
