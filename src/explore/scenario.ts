// What `dmalog explore` runs: a small world (trackers with device logs over one tracked span,
// report sets each with its own bitmap in user memory, guest memory) and the actors that race in
// it, each a list of operations run by dmalog's own code (src/explore/actors.ts). Bundled
// scenarios (scenarios.ts) and JSON files go through the same zod schema.
import { z } from 'zod';
import { isPowerOfTwo } from '../util/bits.js';
import { badOption, parseOptions } from '../util/options.js';

const after = z.array(z.string().regex(/^[a-z][a-z0-9]*(#\d+)?$/, 'must be "actor" or "actor#op"')).default([]);

const opSchema = z.discriminatedUnion('do', [
  /** A DMA write of one page by tracker `tracker`'s device (the engine: store the data, then mark the log). */
  z.strictObject({ do: z.literal('write'), tracker: z.number().int().min(0), page: z.number().int().min(0), after }),
  /** The device REPORT of tracker `tracker` for set `set`'s window into the set's bitmap (`fail`: it fails halfway). */
  z.strictObject({ do: z.literal('report'), tracker: z.number().int().min(0), set: z.number().int().min(0), fail: z.boolean().default(false), after }),
  /** The coordinator zeroes set `set`'s bitmap (ReportBitmap.zero). */
  z.strictObject({ do: z.literal('zero'), set: z.number().int().min(0), after }),
  /** The restart policy's STOP and START of a tracker: its log generation moves on, its span is owed. */
  z.strictObject({ do: z.literal('restart'), tracker: z.number().int().min(0), after }),
  /** The coordinator's recovery marks of set `set` (markOwed for every tracker owing part of its window). */
  z.strictObject({ do: z.literal('mark'), set: z.number().int().min(0), after }),
]);

export const scenarioSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and dashes'),
  description: z.string().default(''),
  /** How REPORTs OR into a shared bitmap (contract §1). */
  contract: z.enum(['atomic', 'plain']).default('atomic'),
  /** Report page size P in bytes. */
  pageSize: z.number().int().min(512).max(1 << 21).refine(isPowerOfTwo, 'must be a power of two').default(4096),
  /** Device log granule T in bytes (default: the page size). */
  granule: z.number().int().min(512).max(1 << 21).refine(isPowerOfTwo, 'must be a power of two').optional(),
  /** The tracked span: pages [0, pages) from IOVA 0. */
  pages: z.number().int().min(1).max(4096).default(64),
  trackers: z.number().int().min(1).max(4).default(1),
  /** Which DirtyLog code runs (src/device/dirty-log.ts, DirtyLogVariant): today's unless a scenario shows an old or wrong one. */
  variant: z.strictObject({
    mark: z.enum(['climb', 'shortcut']).default('climb'),
    readClear: z.enum(['exchange', 'load-store']).default('exchange'),
  }).default({ mark: 'climb', readClear: 'exchange' }),
  /** Report sets, in order; each has its own bitmap. `stale`: the bitmap starts with garbage until zeroed. */
  sets: z.array(z.strictObject({
    firstPage: z.number().int().min(0),
    pages: z.number().int().min(1),
    stale: z.boolean().default(false),
  })).min(1).max(4),
  actors: z.array(z.strictObject({
    name: z.string().regex(/^[a-z][a-z0-9]*$/, 'lower-case letters and digits, starting with a letter'),
    ops: z.array(opSchema).min(1).max(8),
  })).min(1).max(6),
  /** What the bundled self-check expects (`dmalog explore --scenario all`). */
  expect: z.enum(['holds', 'violation']).optional(),
});

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type Scenario = z.output<typeof scenarioSchema>;
export type Op = Scenario['actors'][number]['ops'][number];

/** A scenario checked by the schema and for cross-references; DMALOG_BAD_OPTION names the first problem. */
export function parseScenario(input: unknown): Scenario {
  const s = parseOptions(scenarioSchema, input);
  const granule = s.granule ?? s.pageSize;
  if ((s.pages * s.pageSize) % granule !== 0) badOption(['granule'], `the tracked span (${s.pages} pages) must be a whole number of granules`);
  const names = new Map<string, number>();
  s.actors.forEach((a, i) => {
    if (names.has(a.name)) badOption(['actors', i, 'name'], `'${a.name}' is used twice`);
    names.set(a.name, i);
  });
  s.sets.forEach((set, i) => {
    if (set.firstPage + set.pages > s.pages) badOption(['sets', i], `window [${set.firstPage}, ${set.firstPage + set.pages}) leaves the tracked span of ${s.pages} pages`);
  });
  let coordinator = -1;
  s.actors.forEach((a, i) => a.ops.forEach((op, j) => {
    const at = ['actors', i, 'ops', j];
    if ('tracker' in op && op.tracker >= s.trackers) badOption([...at, 'tracker'], `there are ${s.trackers} trackers`);
    if ('set' in op && op.set >= s.sets.length) badOption([...at, 'set'], `there are ${s.sets.length} sets`);
    if (op.do === 'write' && op.page >= s.pages) badOption([...at, 'page'], `the tracked span has ${s.pages} pages`);
    if (op.do === 'restart' || op.do === 'mark') {
      // The owed ranges are the coordinator's own state: restarts and marks live in one actor.
      if (coordinator >= 0 && coordinator !== i) badOption([...at, 'do'], 'restart and mark ops must all be in one actor (the coordinator)');
      coordinator = i;
    }
    op.after.forEach((ref, k) => {
      const [name, opIndex] = ref.split('#');
      const target = names.get(name!);
      if (target === undefined) badOption([...at, 'after', k], `no actor '${name}'`);
      if (opIndex !== undefined && Number(opIndex) >= s.actors[target]!.ops.length) badOption([...at, 'after', k], `actor '${name}' has ${s.actors[target]!.ops.length} ops`);
      if (target === i) badOption([...at, 'after', k], 'an actor runs its ops in order already');
    });
  }));
  return s;
}

export function granuleOf(s: Scenario): number {
  return s.granule ?? s.pageSize;
}

/** Restarts of each tracker: its log generations are 0 ..= restarts. */
export function restartsOf(s: Scenario): number[] {
  const n = Array.from({ length: s.trackers }, () => 0);
  for (const a of s.actors) for (const op of a.ops) if (op.do === 'restart') n[op.tracker]!++;
  return n;
}

/** A short human label of an op, as traces print it. */
export function opLabel(op: Op): string {
  switch (op.do) {
    case 'write': return `write page ${op.page} (tracker ${op.tracker})`;
    case 'report': return `REPORT tracker ${op.tracker}, set ${op.set}${op.fail ? ' (fails halfway)' : ''}`;
    case 'zero': return `zero set ${op.set}'s bitmap`;
    case 'restart': return `restart tracker ${op.tracker} (STOP, START)`;
    case 'mark': return `recovery marks of set ${op.set}`;
  }
}
