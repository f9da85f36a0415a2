// `dmalog sweep`: run every point of a grid file (src/sweep) on a pool of threads, resumable and
// shardable, writing JSON Lines, CSV and an HTML convergence map; `dmalog sweep merge` joins the
// outputs of shards of one grid.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { MAX_DMA_THREADS } from '../../dma/pool.js';
import os from 'node:os';
import path from 'node:path';
import { DmalogError } from '../../errors.js';
import { METRICS, checkMapAxes, type Metric } from '../../sweep/cells.js';
import { MAX_AXIS_VALUES, MAX_POINTS, inShard, parseGrid, parseShardText, points, type Grid, type GridSummary } from '../../sweep/grid.js';
import { createSweepProgress } from '../../sweep/progress.js';
import { formatEta } from '../progress.js';
import { RecordFileError, type Outcome } from '../../sweep/record.js';
import { collectSweeps, runSweep, writeMerged, sweepFiles, type Shard, type SweepFiles } from '../../sweep/sweep.js';
import { EXIT, UsageError, parseChoice, parseDuration, parseFlags, parseIntArg } from '../args.js';
import { DEFAULT_OUTPUT_DIR, MAX_INPUT_BYTES, readInputFile } from '../files.js';

export const summary = 'run a grid of migration scenarios in parallel: JSON Lines, CSV, HTML convergence map';
export const help = `usage: dmalog sweep GRID [options]
       dmalog sweep merge FILE... [--out DIR] [--x AXIS] [--y AXIS] [--color downtime|total]

Runs every point of a grid of migration scenarios (the cartesian product of its axes, once per
seed), each point one whole \`dmalog migrate\` run in a thread of a pool, and writes, in --out:
  sweep.jsonl   one JSON record per point: grid, index, id, axes, seed, options, outcome, error,
                the full migration result (as migrate --json), wallMs
  sweep.csv     one row per point: the axes' values, seed, outcome, converged, downtime_ms,
                total_time_ms, iterations, windows, bytes_sent, ram_bytes_sent, ... error, wall_ms
  sweep.html    self-contained report: a convergence map over two axes (one per combination of
                the others), each cell coloured by the median over its seeds, marks for runs that
                did not converge or failed, hover for the numbers; a table of cells; failed runs
With --shard K/N the files are sweep-shard-K-of-N.*. Each point is appended to the JSON Lines as
soon as it ends: run the same command again to resume (points already there are skipped, except
those recorded as errors; a last line cut short is run again). At the end the JSON Lines are
rewritten in point order. Progress (points done, rate, ETA, outcomes) goes to stderr: on a
terminal one line kept up to date; otherwise the first line, one at most every 10 s and the last.

options
  --out DIR               output directory (default ${DEFAULT_OUTPUT_DIR}; created if missing when its parent
                          exists or is ${DEFAULT_OUTPUT_DIR}/)
  --jobs N                points run at once, one thread each (default: the machine's cores,
                          here ${os.availableParallelism()}; lowered when the largest point's memory estimate times N
                          does not fit)
  --threads N             writer threads of each migration whose options do not set writerThreads
                          (default: cores / jobs, at least 1; each run also has one tracker thread
                          per device)
  --shard K/N             run only shard K of N: the points whose index is K-1 modulo N (default 1/1)
  --point-timeout DUR     end a point running longer than DUR (e.g. 10m) and record it as an
                          ETIMEDOUT error (default: no limit)
  --x AXIS, --y AXIS      the map's axes, grid axis keys (default: the grid's first two axes)
  --color M               colour cells by: downtime | total (migration time) (default downtime)
  --list                  print the share's points (index, id, axes, seed) and exit

merge
  dmalog sweep merge FILE... joins JSON Lines outputs of one grid (shards, machines, resumed runs)
  into --out DIR's sweep.jsonl, sweep.csv and sweep.html (one record per point, in point order).
  Outputs of different grids (their grid hashes differ) are refused.

grid file (JSON, a regular file of at most ${MAX_INPUT_BYTES / 2 ** 20} MiB):
  {"title": "bandwidth vs dirty rate",
   "base": {"ram": "64M", "devices": [{"profile": "mlx5"}, {"profile": "pds"}]},
   "axes": {"bandwidth": ["32M", "64M", "128M"], "vcpuWorkload.rate": [1000, 4000, 16000],
            "linkSpeed": ["2.5G", "10G"]},
   "seeds": [1, 2, 3]}
  base     migrate's --config options every point starts from (default: migrate's defaults)
  axes     KEY: [values...]; KEY is any scenario option (ram, bandwidth, downtimeLimit,
           linkSpeed, devices, vcpuWorkload, policy, ...) or a path into one (vcpuWorkload.rate,
           devices[0].workload); values as in --config (sizes 16G; link speeds in bits per
           second, 10G; durations 300ms)
  seeds    the seeds each point runs with (each cell aggregates them: median); or
  repeats  N: N seeds counting up from base.seed (default 1). Neither: one run per point.
  At most ${MAX_AXIS_VALUES} values per axis, ${MAX_AXIS_VALUES} seeds (or repeats), ${MAX_POINTS} points. A bad key
  is refused (exit 2) with its path (axes.bandwidth[1]: ...).

exit codes: 0 every point of the share has a result (converged, not converged, or a migration
that failed or was blocked: all are results), 1 some point has no result (it threw, its thread
died, it timed out, too little memory) or its destination memory differs, 2 bad usage, a bad
grid file, an output of another grid (or, for merge, inputs of different grids), ${EXIT.internal} internal error
`;

const FLAGS = {
  out: { type: 'string' },
  jobs: { type: 'string' },
  threads: { type: 'string' },
  shard: { type: 'string' },
  'point-timeout': { type: 'string' },
  x: { type: 'string' },
  y: { type: 'string' },
  color: { type: 'string' },
  list: { type: 'boolean' },
} as const;

const MERGE_FLAGS = {
  out: { type: 'string' },
  x: { type: 'string' },
  y: { type: 'string' },
  color: { type: 'string' },
} as const;

export function readGrid(file: string): Grid {
  const text = readInputFile(file, 'grid');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${file}: not JSON (${(error as Error).message.split('\n')[0]})`);
  }
  try {
    return parseGrid(json);
  } catch (error) {
    if (error instanceof DmalogError && error.code === 'DMALOG_BAD_OPTION') throw new UsageError(`${file}: ${error.message}`);
    throw error;
  }
}

/** An output directory: an existing writable one, or a new one whose parent exists (or is the default out/). */
function checkOutDir(dir: string): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st === undefined) {
    const parent = path.dirname(path.resolve(dir));
    const defaultDir = path.resolve(DEFAULT_OUTPUT_DIR);
    if (parent !== defaultDir && !statSync(parent, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--out ${dir}: its parent directory does not exist (only ${dir} itself is created)`);
    try {
      if (parent === defaultDir) mkdirSync(defaultDir, { recursive: true });
      mkdirSync(dir);
    } catch (error) {
      throw new UsageError(`--out ${dir}: cannot create it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    return;
  }
  if (!st.isDirectory()) throw new UsageError(`--out ${dir}: not a directory`);
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new UsageError(`--out ${dir}: cannot write in it (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Existing outputs must be regular files (a directory or FIFO named sweep.jsonl is refused). */
function checkOutFiles(files: SweepFiles): void {
  for (const file of Object.values(files)) {
    const st = statSync(file, { throwIfNoEntry: false });
    if (st !== undefined && !st.isFile()) throw new UsageError(`--out: ${file} exists and is not a regular file`);
  }
}

function parseShard(text: string | undefined): Shard {
  if (text === undefined) return { k: 1, n: 1 };
  const shard = parseShardText(text);
  if (shard === null) throw new UsageError(`--shard: '${text}' is not K/N with 1 <= K <= N (e.g. 2/4)`);
  return shard;
}

function mapOptions(v: { x?: string; y?: string; color?: string }, grid: Pick<GridSummary, 'axes'>): { x: string | null; y: string | null; metric: Metric } {
  try {
    checkMapAxes(grid, v.x, v.y);
  } catch (error) {
    // `x: 'ram' is not an axis ...` names the flag.
    if (error instanceof DmalogError && error.code === 'DMALOG_BAD_OPTION') throw new UsageError(`--${error.message}`);
    throw error;
  }
  return { x: v.x ?? null, y: v.y ?? null, metric: v.color === undefined ? 'downtime' : parseChoice(v.color, '--color', METRICS) };
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`;
}

function outcomeText(counts: Record<Outcome, number>): string {
  return `converged ${counts.converged}, not converged ${counts['not-converged']}, failed ${counts.failed}, memory differs ${counts.mismatch}, error ${counts.error}`;
}

function asUsage(error: unknown): never {
  if (error instanceof RecordFileError) throw new UsageError(error.message);
  throw error;
}

async function merge(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, MERGE_FLAGS, true);
  if (positionals.length === 0) throw new UsageError('sweep merge: name the JSON Lines files to merge');
  const outDir = v.out ?? DEFAULT_OUTPUT_DIR;
  checkOutDir(outDir);
  checkOutFiles(sweepFiles(outDir));
  let collected: ReturnType<typeof collectSweeps>;
  try {
    collected = collectSweeps(positionals);
  } catch (error) {
    asUsage(error);
  }
  if (collected.grid === null) throw new UsageError(`sweep merge: no records in ${positionals.join(', ')}`);
  const m = writeMerged(collected, outDir, mapOptions(v, collected.grid));
  const grid = collected.grid;
  process.stdout.write(`sweep merge: ${m.records.length} of ${grid.points} points of grid ${grid.hash} from ${positionals.length} file(s)${m.missing > 0 ? `, ${m.missing} not in any` : ''}: ${outcomeText(m.counts)}\n`);
  process.stdout.write(`wrote ${m.files.jsonl}, ${m.files.csv}, ${m.files.html}\n`);
  return m.broken > 0 ? EXIT.failed : EXIT.ok;
}

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === 'merge') return merge(argv.slice(1));
  const { values: v, positionals } = parseFlags(argv, FLAGS, true);
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'sweep: name the grid file (or: sweep merge FILE...)' : `sweep: one grid file, not ${positionals.length} (${positionals.join(' ')})`);
  const grid = readGrid(positionals[0]!);
  const shard = parseShard(v.shard);
  const jobs = v.jobs === undefined ? undefined : parseIntArg(v.jobs, '--jobs', 1, 256);
  const writerThreads = v.threads === undefined ? undefined : parseIntArg(v.threads, '--threads', 1, MAX_DMA_THREADS);
  const pointTimeoutMs = v['point-timeout'] === undefined ? null : parseDuration(v['point-timeout'], '--point-timeout');
  const map = mapOptions(v, grid);
  if (v.list) {
    for (const p of points(grid)) {
      if (!inShard(p.index, shard)) continue;
      process.stdout.write(`${p.index}\t${p.id}\t${grid.axes.map((a, i) => `${a.key}=${a.labels[p.at[i]!]}`).join(' ') || '-'}\tseed=${p.seed}\n`);
    }
    return EXIT.ok;
  }
  const outDir = v.out ?? DEFAULT_OUTPUT_DIR;
  checkOutDir(outDir);
  checkOutFiles(sweepFiles(outDir, shard));
  let progress: ReturnType<typeof createSweepProgress> | null = null;
  const began = performance.now();
  let outcome: Awaited<ReturnType<typeof runSweep>>;
  try {
    outcome = await runSweep({
      grid, outDir, shard, jobs, writerThreads, pointTimeoutMs, ...map,
      onNote: (text) => process.stderr.write(`sweep: ${text}\n`),
      onProgress: (p) => {
        progress ??= createSweepProgress(process.stderr);
        progress.update(p);
      },
    });
  } catch (error) {
    asUsage(error);
  } finally {
    (progress as ReturnType<typeof createSweepProgress> | null)?.end();
  }
  const o = outcome;
  const where = shard.n === 1 ? `grid ${grid.hash}` : `shard ${shard.k}/${shard.n} of grid ${grid.hash} (${grid.ids.length} points)`;
  process.stdout.write(`sweep: ${plural(o.share, 'point')} of ${where}: ran ${o.ran}${o.skipped > 0 ? `, skipped ${o.skipped} done before` : ''}${o.truncated ? ' (a cut-short last line was redone)' : ''} in ${formatEta(performance.now() - began)} (${plural(o.jobs, 'job')} × ${plural(o.writerThreads, 'writer thread')}); ${outcomeText(o.counts)}\n`);
  process.stdout.write(`wrote ${o.files.jsonl}, ${o.files.csv}, ${o.files.html}\n`);
  return o.broken > 0 ? EXIT.failed : EXIT.ok;
}
