// One sweep point, run in a thread of the sweep pool (workers/sweep-point.ts): a whole migration,
// its outcome handed back as plain data. Whatever the run throws becomes the point's error, so a
// bad point is a record, never the end of the sweep.
import { DmalogError, VfioError } from '../errors.js';
import { migrate } from '../migration/migration.js';
import type { MigrationOptions } from '../migration/options.js';
import type { PointError, PointRun } from './record.js';

export interface PointTask {
  /** The point's options (JSON-safe, as the grid gives them). */
  options: Record<string, unknown>;
  /** Writer threads when the point's options do not set them. */
  writerThreads: number;
}

export function errorOf(error: unknown): PointError {
  if (error instanceof VfioError) return { code: error.errno, message: error.message };
  if (error instanceof DmalogError) return { code: error.code, message: error.message };
  const e = error as Error | undefined;
  return { code: null, message: e?.message ? `${e.name ?? 'Error'}: ${e.message}` : String(error) };
}

export async function runPoint(task: PointTask): Promise<PointRun> {
  const began = performance.now();
  const options = { writerThreads: task.writerThreads, ...task.options } as MigrationOptions;
  try {
    const result = await migrate(options);
    // Measured here: a deterministic result need not carry its wall time.
    return { result, error: null, wallMs: Math.round(performance.now() - began) };
  } catch (error) {
    return { result: null, error: errorOf(error), wallMs: Math.round(performance.now() - began) };
  }
}
