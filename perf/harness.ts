// What every benchmark scenario shares: tinybench runs, ratios against a baseline measured in the
// same process on the same data, targets, and the table printed and written to perf/RESULTS.md.
// Absolute times are noise on a shared 2-core machine; a ratio of two medians taken minutes apart
// in one process is what a result means here.
import os from 'node:os';
import { Bench, type Fn, type FnOptions } from 'tinybench';

export interface ScenarioOptions {
  /** Smaller sizes and shorter runs (for a smoke run, not for RESULTS.md). */
  quick: boolean;
  /** Whether to measure the case with this label (`--only TEXT` keeps labels containing TEXT). */
  wants(label: string): boolean;
}

/** One comparison: a measured figure against its same-run baseline. */
export interface Row {
  case: string;
  /** The figure being judged, with units (e.g. "96.1 M writes/s/thread"). */
  measured: string;
  baseline: string;
  /** The baseline's own figure, with units. */
  baselineMeasured: string;
  /** measured / baseline as speed (higher is better), or as time or size (lower is better). */
  ratio: number;
  kind: 'speed' | 'time' | 'size';
  target?: Target;
}

export interface Target { op: '>=' | '<='; value: number }

export interface ScenarioResult {
  name: string;
  title: string;
  rows: Row[];
  notes: string[];
}

export interface Scenario {
  name: string;
  title: string;
  run(options: ScenarioOptions): Promise<ScenarioResult>;
}

export interface TaskSpec {
  name: string;
  fn: Fn;
  options?: FnOptions;
}

export interface BenchSettings {
  /** Time budget per task and round in ms (tinybench `time`). */
  timeMs?: number;
  /** Minimum iterations per task and round. */
  iterations?: number;
  warmupIterations?: number;
  /** Rounds, each running every task in turn (in rotated order). */
  rounds?: number;
}

/**
 * Median latency (ms) of each task. Tasks run in several short rounds, each a tinybench Bench
 * with the task order rotated, and the result is the median of the rounds' medians: load from
 * other processes then hits a task and its baseline alike instead of whichever ran during it.
 */
export async function medians(tasks: TaskSpec[], settings: BenchSettings = {}): Promise<Map<string, number>> {
  const rounds = settings.rounds ?? 3;
  const perRound = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let round = 0; round < rounds; round++) {
    const bench = new Bench({
      time: settings.timeMs ?? 300,
      iterations: settings.iterations ?? 16,
      warmupIterations: settings.warmupIterations ?? 4,
      warmupTime: 50,
      throws: true,
    });
    const shift = round % tasks.length;
    for (const t of [...tasks.slice(shift), ...tasks.slice(0, shift)]) bench.add(t.name, t.fn, t.options);
    await bench.run();
    for (const task of bench.tasks) {
      const r = task.result;
      if (r.state !== 'completed') throw new Error(`bench task ${task.name} ended ${r.state}`);
      perRound.get(task.name)!.push(r.latency.p50);
    }
  }
  return new Map([...perRound].map(([name, values]) => [name, median(values)]));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function get(map: Map<string, number>, name: string): number {
  const v = map.get(name);
  if (v === undefined) throw new Error(`no measurement named ${name}`);
  return v;
}

export function meets(row: Row): boolean | null {
  if (!row.target) return null;
  return row.target.op === '>=' ? row.ratio >= row.target.value : row.ratio <= row.target.value;
}

// --- formatting -------------------------------------------------------------------------------

export function fmtRate(perSecond: number, unit: string): string {
  const abs = Math.abs(perSecond);
  if (abs >= 1e9) return `${(perSecond / 1e9).toFixed(2)} G${unit}`;
  if (abs >= 1e6) return `${(perSecond / 1e6).toFixed(1)} M${unit}`;
  if (abs >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k${unit}`;
  return `${perSecond.toFixed(1)} ${unit}`;
}

export function fmtMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(1)} µs`;
}

export function fmtBytes(bytes: number | bigint): string {
  const b = Number(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = b;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}

function fmtRatio(row: Row): string {
  const digits = row.ratio < 0.1 ? 3 : 2;
  return `${row.ratio.toFixed(digits)}× ${row.kind}`;
}

function fmtTarget(row: Row): string {
  if (!row.target) return '';
  const met = meets(row);
  return `${row.target.op === '>=' ? '≥' : '≤'} ${row.target.value} ${met ? 'met' : 'NOT met'}`;
}

const HEADER = ['case', 'measured', 'baseline (same run)', 'baseline', 'ratio', 'target'];

function cells(row: Row): string[] {
  return [row.case, row.measured, row.baseline, row.baselineMeasured, fmtRatio(row), fmtTarget(row)];
}

/** A plain-text table for the terminal. */
export function textTable(result: ScenarioResult): string {
  const rows = [HEADER, ...result.rows.map(cells)];
  const widths = HEADER.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => v.padEnd(widths[c]!)).join('  ').trimEnd();
  const out = [`== ${result.name}: ${result.title}`, line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of rows.slice(1)) out.push(line(r));
  for (const n of result.notes) out.push(`   note: ${n}`);
  return out.join('\n');
}

export function markdownTable(result: ScenarioResult): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [`| ${HEADER.join(' | ')} |`, `|${HEADER.map(() => '---').join('|')}|`];
  for (const r of result.rows) out.push(`| ${cells(r).map(esc).join(' | ')} |`);
  return out.join('\n');
}

export interface MachineInfo { cpu: string; cores: number; node: string; platform: string; date: string; load: string }

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    load: os.loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}
