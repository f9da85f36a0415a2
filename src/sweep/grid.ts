// A sweep's grid file: base scenario options, axes (any scenario option, each a list of values)
// and seeds for repeats. Checked once, whole, before any point runs: a bad key is one
// DMALOG_BAD_OPTION whose message starts with the key's JSON path in the grid file
// (`axes.bandwidth[1]: …`, `base.ram: …`, `seeds[0]: …`).
//
// Points are the cartesian product of the axes in file order (the first axis varies slowest),
// each repeated for every seed (innermost). A point's id is a hash of its filled options, so
// the same scenario has the same id whatever the grid's order or spelling ('128M' or
// 134217728); the grid's hash covers its axes and every point id in order, so two outputs
// come from one grid exactly when their grid hashes agree.
//
// Example: axes {bandwidth: ['32M', '128M'], downtimeLimit: ['100ms', '300ms']} with seeds
// [1, 2] gives 8 points; point 5 is bandwidth 128M (5 div 4 = 1), downtimeLimit 100ms
// ((5 div 2) mod 2 = 0), seed 2 (5 mod 2 = 1).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DmalogError } from '../errors.js';
import { checkMigrationFields, fillMigrationOptions, migrationSchema } from '../migration/options.js';
import { badOption, parseOptions } from '../util/options.js';

/** The most points one grid may have (each is validated up front, and listed in every output). */
export const MAX_POINTS = 100_000;
/** The most values one axis, or the seed list, may have. */
export const MAX_AXIS_VALUES = 1000;

/** `ram`, `vcpuWorkload.rate`, `devices[0].workload.rate`: an option, then fields and indexes. */
const AXIS_KEY = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*|\[\d+\])*$/;
const OPTION_NAMES = new Set(Object.keys(migrationSchema.shape));

const gridSchema = z.strictObject({
  /** Shown as the report's title. */
  title: z.string().max(200).optional(),
  /** Scenario options every point starts from (migrate's --config format). */
  base: z.record(z.string(), z.unknown()).default({}),
  axes: z.record(z.string(), z.array(z.unknown()).min(1, 'needs at least one value').max(MAX_AXIS_VALUES)).default({}),
  /** Each point is run once per seed. */
  seeds: z.array(z.union([z.number(), z.string()])).min(1, 'needs at least one seed').max(MAX_AXIS_VALUES).optional(),
  /** Shorthand for seeds: N seeds counting up from base.seed (default 1). */
  repeats: z.number().int().min(1).max(MAX_AXIS_VALUES).optional(),
});

export type GridFile = z.input<typeof gridSchema>;

export interface Axis {
  /** The key as the grid file spells it. */
  key: string;
  /** Its path in the scenario options. */
  path: Array<string | number>;
  /** The values as the grid file spells them. */
  values: unknown[];
  /** A short label per value (the value itself for strings and numbers). */
  labels: string[];
}

export interface Grid {
  title: string | null;
  base: Record<string, unknown>;
  axes: Axis[];
  /** Decimal strings. */
  seeds: string[];
  /** Every point's id, in point order. */
  ids: string[];
  /** Hash of the axes and every point id, in order. */
  hash: string;
}

/** One point: where it sits in the grid, its id, and the options it runs (JSON-safe, as given). */
export interface SweepPoint {
  index: number;
  id: string;
  /** Index of its value on each axis, in axis order. */
  at: number[];
  seed: string;
  options: Record<string, unknown>;
}

/** What every output record repeats of its grid, so outputs describe themselves (merge, reports). */
export interface GridSummary {
  hash: string;
  title: string | null;
  points: number;
  axes: Array<{ key: string; labels: string[] }>;
  seeds: string[];
}

/** JSON with object keys sorted at every level (bigints as decimal strings): one text per value. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

function hash16(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** A point's id: the hash of its options once filled (defaults, units and device names resolved). */
export function pointId(options: Record<string, unknown>): string {
  return hash16(canonicalJson(fillMigrationOptions(options)));
}

export function parseAxisKey(key: string): Array<string | number> {
  return [...key.matchAll(/([A-Za-z][A-Za-z0-9]*)|\[(\d+)\]/g)].map((m) => (m[1] !== undefined ? m[1] : Number(m[2])));
}

/** A copy of `options` with `value` at `path`; a missing object on the way is taken from `defaults`. */
export function setOption(options: Record<string, unknown>, path: ReadonlyArray<string | number>, value: unknown, defaults: unknown): Record<string, unknown> {
  const root = structuredClone(options);
  let node: Record<string | number, unknown> = root;
  let def = defaults as Record<string | number, unknown> | undefined;
  for (let i = 0; i < path.length - 1; i++) {
    const k = path[i]!;
    def = def?.[k] as Record<string | number, unknown> | undefined;
    let next = node[k];
    if (next === undefined || next === null || typeof next !== 'object') {
      if (typeof k === 'number') throw new DmalogError('DMALOG_BAD_OPTION', `has no ${String(path[i - 1])}[${k}] to set`);
      next = def !== undefined && typeof def === 'object' ? structuredClone(def) : typeof path[i + 1] === 'number' ? [] : {};
      node[k] = next;
    }
    node = next as Record<string | number, unknown>;
  }
  node[path.at(-1)!] = structuredClone(value);
  return root;
}

/** The label of an axis value: itself when short and plain; a device list as its profiles. */
function labelOf(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((d) => typeof d === 'object' && d !== null && typeof (d as { profile?: unknown }).profile === 'string')) {
    return value.map((d) => (d as { name?: string; profile: string }).name ?? (d as { profile: string }).profile).join('+') || 'none';
  }
  return JSON.stringify(value);
}

/** The path and message of a DMALOG_BAD_OPTION (`devices[0].profile: …`). */
function splitIssue(error: unknown): { at: string; message: string } {
  if (!(error instanceof DmalogError) || error.code !== 'DMALOG_BAD_OPTION') throw error;
  const i = error.message.indexOf(': ');
  return i < 0 ? { at: '', message: error.message } : { at: error.message.slice(0, i), message: error.message.slice(i + 2) };
}

function rethrowUnder(prefix: string, error: unknown): never {
  const { at, message } = splitIssue(error);
  throw new DmalogError('DMALOG_BAD_OPTION', `${prefix}${at ? `.${at}` : ''}: ${message}`);
}

/** An axis value's error, re-rooted at the grid file's key (`axes.devices[1][0].profile`). */
function rethrowAxis(axis: Axis, i: number, error: unknown): never {
  const { at, message } = splitIssue(error);
  const where = `axes.${axis.key}[${i}]`;
  const rest = at.startsWith(axis.key) && /^(?:$|[.[])/.test(at.slice(axis.key.length)) ? at.slice(axis.key.length) : '';
  throw new DmalogError('DMALOG_BAD_OPTION', `${where}${rest}: ${rest === '' && at !== axis.key && at !== '' ? `${at}: ` : ''}${message}`);
}

/** Mixed-radix digits of `index` over the axes' sizes and the seeds (innermost). */
function digits(index: number, sizes: readonly number[]): number[] {
  const out = new Array<number>(sizes.length);
  for (let a = sizes.length - 1; a >= 0; a--) {
    out[a] = index % sizes[a]!;
    index = Math.floor(index / sizes[a]!);
  }
  return out;
}

export function pointCount(grid: Pick<Grid, 'axes' | 'seeds'>): number {
  return grid.axes.reduce((n, a) => n * a.values.length, 1) * grid.seeds.length;
}

/** The options of point `index` (no id: see pointAt). */
function optionsAt(grid: Pick<Grid, 'base' | 'axes' | 'seeds'>, index: number, defaults: unknown): { at: number[]; seed: string; options: Record<string, unknown> } {
  const d = digits(index, [...grid.axes.map((a) => a.values.length), grid.seeds.length]);
  let options = structuredClone(grid.base);
  grid.axes.forEach((axis, a) => { options = setOption(options, axis.path, axis.values[d[a]!], defaults); });
  const seed = grid.seeds[d.at(-1)!]!;
  options['seed'] = seed;
  return { at: d.slice(0, -1), seed, options };
}

export function pointAt(grid: Grid, index: number): SweepPoint {
  const { at, seed, options } = optionsAt(grid, index, defaultsOf(grid.base));
  return { index, id: grid.ids[index]!, at, seed, options };
}

export function* points(grid: Grid): Generator<SweepPoint> {
  const defaults = defaultsOf(grid.base);
  for (let index = 0; index < grid.ids.length; index++) {
    const { at, seed, options } = optionsAt(grid, index, defaults);
    yield { index, id: grid.ids[index]!, at, seed, options };
  }
}

function defaultsOf(base: Record<string, unknown>): unknown {
  return JSON.parse(canonicalJson(checkMigrationFields(base)));
}

/** Checks a grid file's JSON value whole; DMALOG_BAD_OPTION naming the first bad key's JSON path. */
export function parseGrid(json: unknown): Grid {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new DmalogError('DMALOG_BAD_OPTION', 'the grid must be a JSON object (base, axes, seeds)');
  const g = parseOptions(gridSchema, json);
  if ('seed' in g.base && g.seeds !== undefined) badOption(['base', 'seed'], 'the seeds key sets every point\'s seed: give one of them');
  if (g.seeds !== undefined && g.repeats !== undefined) badOption(['repeats'], 'give seeds or repeats, not both');
  let defaults: unknown;
  try {
    defaults = JSON.parse(canonicalJson(checkMigrationFields(g.base)));
  } catch (error) {
    rethrowUnder('base', error);
  }
  const axes: Axis[] = [];
  for (const [key, values] of Object.entries(g.axes)) {
    if (!AXIS_KEY.test(key)) badOption(['axes'], `'${key}' is not an option path (e.g. bandwidth, vcpuWorkload.rate, devices[0].workload)`);
    const path = parseAxisKey(key);
    if (!OPTION_NAMES.has(path[0] as string)) badOption(['axes', key], `not a scenario option (one of ${[...OPTION_NAMES].join(', ')})`);
    if (path[0] === 'seed') badOption(['axes', key], 'seeds are not an axis: use the seeds (or repeats) key, whose runs each cell aggregates');
    const within = (inner: string, outer: string) => inner.startsWith(outer) && /^[.[]/.test(inner.slice(outer.length));
    const clash = axes.find((a) => within(key, a.key) || within(a.key, key));
    if (clash) badOption(['axes', key], `overlaps axes.${clash.key}`);
    const axis: Axis = { key, path, values, labels: values.map(labelOf) };
    const seen = new Map<string, number>();
    values.forEach((v, i) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = checkMigrationFields(setOption(g.base, path, v, defaults)) as Record<string, unknown>;
      } catch (error) {
        rethrowAxis(axis, i, error);
      }
      // Compared once parsed: '128M' and 134217728 are one value.
      let leaf: unknown = parsed;
      for (const k of path) leaf = (leaf as Record<string | number, unknown> | undefined)?.[k];
      const text = canonicalJson(leaf);
      const first = seen.get(text);
      if (first !== undefined) throw new DmalogError('DMALOG_BAD_OPTION', `axes.${key}[${i}]: the same value as axes.${key}[${first}]`);
      seen.set(text, i);
    });
    // Labels must tell values apart; a device list whose profiles repeat another's shows as JSON.
    if (new Set(axis.labels).size < values.length) axis.labels = values.map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v)));
    axes.push(axis);
  }
  let seeds: string[];
  if (g.seeds !== undefined) {
    seeds = g.seeds.map((s, i) => {
      try {
        return String(checkMigrationFields({ seed: s }).seed);
      } catch (error) {
        return badOption(['seeds', i], splitIssue(error).message);
      }
    });
    const dup = seeds.findIndex((s, i) => seeds.indexOf(s) !== i);
    if (dup >= 0) badOption(['seeds', dup], `seed ${seeds[dup]} is given twice`);
  } else {
    const first = (defaults as { seed: string }).seed;
    seeds = Array.from({ length: g.repeats ?? 1 }, (_, i) => String(BigInt(first) + BigInt(i)));
    if (BigInt(seeds.at(-1)!) >= 1n << 64n) badOption(['repeats'], `seeds from ${first} run past 2^64-1`);
  }
  const shape = { base: g.base, axes, seeds };
  const total = pointCount(shape);
  if (total > MAX_POINTS) badOption(['axes'], `${total} points (axes × seeds), more than ${MAX_POINTS}`);
  // Every point is filled once here, so a combination the options refuse (a link slower than the
  // bandwidth, a fault naming a device another axis removed) stops the sweep before it starts.
  const ids: string[] = [];
  for (let index = 0; index < total; index++) {
    const { at, options } = optionsAt(shape, index, defaults);
    try {
      ids.push(pointId(options));
    } catch (error) {
      const { at: key, message } = splitIssue(error);
      const where = axes.map((a, i) => `${a.key}=${a.labels[at[i]!]}`).join(', ');
      throw new DmalogError('DMALOG_BAD_OPTION', `axes: point ${index}${where ? ` (${where})` : ''}: ${key ? `${key}: ` : ''}${message}`);
    }
  }
  const hash = hash16(canonicalJson({ axes: axes.map((a) => a.key), ids }));
  return { title: g.title ?? null, base: g.base, axes, seeds, ids, hash };
}

export function gridSummary(grid: Grid): GridSummary {
  return { hash: grid.hash, title: grid.title, points: grid.ids.length, axes: grid.axes.map((a) => ({ key: a.key, labels: a.labels })), seeds: grid.seeds };
}

/** `K/N` → shard K of N (1-based); null when the text is not that. */
export function parseShardText(text: string): { k: number; n: number } | null {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!m) return null;
  const k = Number(m[1]);
  const n = Number(m[2]);
  return Number.isSafeInteger(n) && n >= 1 && k >= 1 && k <= n ? { k, n } : null;
}

/**
 * Shard K of N runs the points whose index is K-1 modulo N: a partition (every point in exactly
 * one shard) fixed by the index alone, and neighbouring points (often alike in cost) spread out.
 */
export function inShard(index: number, shard: { k: number; n: number }): boolean {
  return index % shard.n === shard.k - 1;
}
