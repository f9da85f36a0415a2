// The convergence map's numbers: a sweep's records grouped into cells over two chosen axes (x, y),
// one map per combination of the other axes (a facet), each cell aggregating its seeds' runs.
// A cell's value is the median over its completed runs (converged or capped, memory identical),
// the mean of the middle two for an even count; failed runs have no time to count.
import { badOption } from '../util/options.js';
import type { GridSummary } from './grid.js';
import type { RecordSummary } from './record.js';

export type Metric = 'downtime' | 'total';
export const METRICS: readonly Metric[] = ['downtime', 'total'];

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface Cell {
  /** Label index on the x and the y axis. */
  x: number;
  y: number;
  /** Runs the grid has for this cell (its seeds) and runs with a record. */
  expected: number;
  runs: number;
  /** Completed with memory identical (converged or capped). */
  completed: number;
  converged: number;
  /** Runs failed, blocked, without a result, or with memory differing. */
  failed: number;
  downtimeMs: Spread | null;
  totalTimeMs: Spread | null;
  iterations: Spread | null;
  /** The failed runs' error codes (or outcomes), each once. */
  failures: string[];
}

export interface Facet {
  /** The other axes' values this map holds fixed. */
  fixed: Array<{ key: string; label: string }>;
  /** rows[y][x]. */
  rows: Cell[][];
}

export interface MapAxis {
  key: string | null;
  labels: string[];
}

export interface ConvergenceMap {
  metric: Metric;
  x: MapAxis;
  y: MapAxis;
  facets: Facet[];
  /** Smallest and largest cell value over every facet; null when no cell has one. */
  domain: [number, number] | null;
}

export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function spread(values: number[]): Spread | null {
  if (values.length === 0) return null;
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

export function cellValue(cell: Cell, metric: Metric): number | null {
  return (metric === 'downtime' ? cell.downtimeMs : cell.totalTimeMs)?.median ?? null;
}

/** DMALOG_BAD_OPTION naming `x` or `y` when it is not an axis of the grid, or both name one. */
export function checkMapAxes(grid: Pick<GridSummary, 'axes'>, x: string | null | undefined, y: string | null | undefined): void {
  const keys = grid.axes.map((a) => a.key);
  for (const [name, key] of [['x', x], ['y', y]] as const) {
    if (key != null && !keys.includes(key)) badOption([name], `'${key}' is not an axis of the grid (${keys.join(', ') || 'it has none'})`);
  }
  if (x != null && x === y) badOption(['y'], `'${y}' is the x axis too`);
}

/** x and y default to the grid's first two axes; an axis may appear once only. */
export function chooseAxes(grid: GridSummary, x: string | null, y: string | null): { x: string | null; y: string | null } {
  const keys = grid.axes.map((a) => a.key);
  const xKey = x ?? keys.find((k) => k !== y) ?? null;
  const yKey = y ?? keys.find((k) => k !== xKey) ?? null;
  return { x: xKey, y: yKey };
}

export function convergenceMap(grid: GridSummary, records: readonly RecordSummary[], xKey: string | null, yKey: string | null, metric: Metric): ConvergenceMap {
  const axisOf = (key: string | null): MapAxis => ({ key, labels: key === null ? [''] : grid.axes.find((a) => a.key === key)!.labels });
  const x = axisOf(xKey);
  const y = axisOf(yKey);
  const others = grid.axes.filter((a) => a.key !== xKey && a.key !== yKey);
  const facetCount = others.reduce((n, a) => n * a.labels.length, 1);
  const facetIndex = (r: RecordSummary) => others.reduce((n, a) => n * a.labels.length + a.labels.indexOf(r.axes[a.key]!), 0);
  const labelIndex = (axis: MapAxis, r: RecordSummary) => (axis.key === null ? 0 : axis.labels.indexOf(r.axes[axis.key]!));
  const groups = Array.from({ length: facetCount }, () => y.labels.map(() => x.labels.map((): RecordSummary[] => [])));
  for (const r of records) groups[facetIndex(r)]![labelIndex(y, r)]![labelIndex(x, r)]!.push(r);
  const facets: Facet[] = groups.map((rows, f) => {
    let rest = f;
    const fixed = [...others].reverse().map((a) => {
      const label = a.labels[rest % a.labels.length]!;
      rest = Math.floor(rest / a.labels.length);
      return { key: a.key, label };
    }).reverse();
    return { fixed, rows: rows.map((row, yi) => row.map((runs, xi) => cellOf(xi, yi, runs, grid.seeds.length))) };
  });
  const values = facets.flatMap((f) => f.rows.flat()).map((c) => cellValue(c, metric)).filter((v): v is number => v !== null);
  return { metric, x, y, facets, domain: values.length ? [Math.min(...values), Math.max(...values)] : null };
}

function cellOf(x: number, y: number, runs: RecordSummary[], expected: number): Cell {
  const done = runs.filter((r) => r.outcome === 'converged' || r.outcome === 'not-converged');
  const bad = runs.filter((r) => !done.includes(r));
  return {
    x, y, expected, runs: runs.length, completed: done.length,
    converged: done.filter((r) => r.outcome === 'converged').length,
    failed: bad.length,
    downtimeMs: spread(done.map((r) => r.result!.downtimeMs)),
    totalTimeMs: spread(done.map((r) => r.result!.totalTimeMs)),
    iterations: spread(done.map((r) => r.result!.iterations)),
    failures: [...new Set(bad.map((r) => r.error?.code ?? r.outcome))],
  };
}
