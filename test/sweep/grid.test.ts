// The grid as pure functions (no thread started): validation naming the bad key, point order,
// ids, grid hashes and the shard partition.
import test from 'ava';
import { DmalogError } from '../../src/errors.js';
import { fillMigrationOptions } from '../../src/migration/options.js';
import { canonicalJson, inShard, parseGrid, parseShardText, pointAt, pointCount, pointId, points, setOption, type GridFile } from '../../src/sweep/grid.js';

function refusal(json: unknown): string {
  try {
    parseGrid(json);
    return 'ok';
  } catch (error) {
    return error instanceof DmalogError ? `${error.code} ${error.message}` : `not a DmalogError: ${String(error)}`;
  }
}

const BASE = { ram: '64M' };

// [what, grid, the key the message must start with]
const BAD: Array<[string, unknown, string]> = [
  ['not an object', [1, 2], 'the grid must be a JSON object'],
  ['unknown top-level key', { base: BASE, axis: {} }, 'axis: unknown field'],
  ['base not an object', { base: 'big' }, 'base: '],
  ['bad size in base', { base: { ram: '64Q' } }, 'base.ram: '],
  ['unknown option in base', { base: { ram: '64M', bogus: 1 } }, 'base.bogus: unknown field'],
  ['bad nested option in base', { base: { devices: [{ profile: 'gpu' }] } }, 'base.devices[0].profile: '],
  ['axes not an object', { axes: ['bandwidth'] }, 'axes: '],
  ['axis not a list', { axes: { bandwidth: '32M' } }, 'axes.bandwidth: '],
  ['axis with no value', { axes: { bandwidth: [] } }, 'axes.bandwidth: needs at least one value'],
  ['axis not an option', { axes: { bogus: [1] } }, 'axes.bogus: not a scenario option'],
  ['axis key not a path', { axes: { 'vcpu workload': [1] } }, "axes: 'vcpu workload' is not an option path"],
  ['bad size on an axis', { axes: { bandwidth: ['32M', 'fast'] } }, 'axes.bandwidth[1]: '],
  ['rate below the floor on an axis', { axes: { linkSpeed: ['10G', '1K'] } }, 'axes.linkSpeed[1]: must be at least'],
  ['bad nested value on an axis', { axes: { devices: [[{ profile: 'mlx5' }], [{ profile: 'pds' }, { profile: 'gpu' }]] } }, 'axes.devices[1][1].profile: '],
  ['negative rate on a path axis', { axes: { 'vcpuWorkload.rate': [100, -3] } }, 'axes.vcpuWorkload.rate[1]: '],
  ['unknown field on a path axis', { axes: { 'vcpuWorkload.speed': [1] } }, 'axes.vcpuWorkload.speed[0]: unknown field'],
  ['index past the base list', { axes: { 'devices[3].workload': [{ kind: 'ring', rate: 1 }] } }, 'axes.devices[3].workload[0]: '],
  ['the same value twice, spelt two ways', { axes: { bandwidth: ['128M', 134217728] } }, 'axes.bandwidth[1]: the same value as axes.bandwidth[0]'],
  ['overlapping axes', { axes: { vcpuWorkload: [{ kind: 'hot', rate: 1 }], 'vcpuWorkload.rate': [2] } }, 'axes.vcpuWorkload.rate: overlaps axes.vcpuWorkload'],
  ['seed as an axis', { axes: { seed: [1, 2] } }, 'axes.seed: seeds are not an axis'],
  ['a combination the options refuse', { axes: { bandwidth: ['128M', '2G'] } }, 'axes: point 1 (bandwidth=2G): linkSpeed: '],
  ['a fault naming a device an axis removed', { base: { faults: [{ device: 'pds-0', iteration: 2, kind: 'report-error' }] }, axes: { devices: [[{ profile: 'pds' }], [{ profile: 'mlx5' }]] } }, 'axes: point 1 (devices=mlx5): faults[0].device: '],
  ['a bad seed', { seeds: [1, 'x'] }, 'seeds[1]: '],
  ['a seed past 64 bits', { seeds: ['18446744073709551616'] }, 'seeds[0]: '],
  ['a seed twice', { seeds: [3, '0x3'] }, 'seeds[1]: seed 3 is given twice'],
  ['no seed', { seeds: [] }, 'seeds: needs at least one seed'],
  ['seeds and repeats', { seeds: [1], repeats: 2 }, 'repeats: give seeds or repeats, not both'],
  ['seeds and base.seed', { base: { seed: 4 }, seeds: [1] }, 'base.seed: '],
  ['repeats not a count', { repeats: 0 }, 'repeats: '],
  ['too many points', { axes: { 'vcpuWorkload.rate': Array.from({ length: 1000 }, (_, i) => i), maxIterations: Array.from({ length: 101 }, (_, i) => i + 1) } }, 'axes: 101000 points'],
];

for (const [what, grid, key] of BAD) {
  test(`bad grid: ${what} → DMALOG_BAD_OPTION naming ${key}`, (t) => {
    const got = refusal(grid);
    t.true(got.startsWith(`DMALOG_BAD_OPTION ${key}`), got);
    t.false(got.includes('\n'), 'one line');
  });
}

const GRID: GridFile = {
  base: BASE,
  axes: { bandwidth: ['32M', '64M', '128M'], 'vcpuWorkload.rate': [1000, 4000] },
  seeds: [7, 8],
};

test('points: the cartesian product, first axis slowest, seeds innermost, each with its options', (t) => {
  const grid = parseGrid(GRID);
  t.is(pointCount(grid), 12);
  const all = [...points(grid)];
  t.deepEqual(all.map((p) => p.index), [...Array(12).keys()]);
  t.deepEqual(all.map((p) => `${p.at.join(',')}/${p.seed}`), [
    '0,0/7', '0,0/8', '0,1/7', '0,1/8', '1,0/7', '1,0/8', '1,1/7', '1,1/8', '2,0/7', '2,0/8', '2,1/7', '2,1/8',
  ]);
  // Point 9: bandwidth 128M (9 div 4), rate 1000 ((9 div 2) mod 2), seed 8 (9 mod 2).
  t.deepEqual(all[9]!.options, { ram: '64M', bandwidth: '128M', vcpuWorkload: { kind: 'hot', rate: 1000 }, seed: '8' });
  for (const p of all) t.deepEqual(pointAt(grid, p.index), p);
  // The filled options say the same.
  const filled = fillMigrationOptions(all[9]!.options);
  t.like(filled, { ram: 64 << 20, bandwidth: 128 << 20, seed: 8n, vcpuWorkload: { kind: 'hot', rate: 1000 } });
});

test('a path axis takes the missing object around it from the defaults', (t) => {
  const grid = parseGrid({ axes: { 'vcpuWorkload.rate': [10] } });
  // migrate's default vCPU workload is hot at 6000 pages/s: only the rate changes.
  t.deepEqual(pointAt(grid, 0).options['vcpuWorkload'], { kind: 'hot', rate: 10 });
  t.deepEqual(setOption({ a: 1 }, ['devices', 0, 'workload'], { kind: 'ring', rate: 1 }, { devices: [{ profile: 'mlx5' }] }), { a: 1, devices: [{ profile: 'mlx5', workload: { kind: 'ring', rate: 1 } }] });
});

test('point ids: distinct, from the filled options (spelling and key order do not matter), stable', (t) => {
  const grid = parseGrid(GRID);
  t.is(new Set(grid.ids).size, grid.ids.length);
  t.true(grid.ids.every((id) => /^[0-9a-f]{16}$/.test(id)));
  // The same scenarios spelt in bytes, axes in the other order: the same ids, another order.
  const other = parseGrid({ base: { ram: 64 << 20 }, axes: { 'vcpuWorkload.rate': [1000, 4000], bandwidth: [32 << 20, '64M', '128MiB'] }, seeds: ['7', '0x8'] });
  t.deepEqual([...other.ids].sort(), [...grid.ids].sort());
  t.notDeepEqual(other.ids, grid.ids);
  t.not(other.hash, grid.hash);
  t.is(pointId({ ram: '64M', bandwidth: '32M', vcpuWorkload: { rate: 1000, kind: 'hot' }, seed: 7 }), grid.ids[0]);
  // Parsed again: the same ids and hash.
  const again = parseGrid(structuredClone(GRID));
  t.deepEqual(again.ids, grid.ids);
  t.is(again.hash, grid.hash);
  // One value changed: another grid.
  t.not(parseGrid({ ...GRID, seeds: [7, 9] }).hash, grid.hash);
  t.is(canonicalJson({ b: 1, a: [{ d: 2n, c: null }] }), '{"a":[{"c":null,"d":"2"}],"b":1}');
});

test('seeds: repeats count up from base.seed (default 1); neither gives one run per point', (t) => {
  t.deepEqual(parseGrid({ base: { seed: 5 }, repeats: 3 }).seeds, ['5', '6', '7']);
  t.deepEqual(parseGrid({ repeats: 2 }).seeds, ['1', '2']);
  t.deepEqual(parseGrid({}).seeds, ['1']);
  t.deepEqual(parseGrid({ seeds: ['0xff', 3] }).seeds, ['255', '3']);
  t.is(pointCount(parseGrid({ axes: { vcpus: [1, 2] }, repeats: 3 })), 6);
  t.regex(refusal({ base: { seed: '18446744073709551615' }, repeats: 2 }), /^DMALOG_BAD_OPTION repeats: /);
});

test('axis labels: values as written; device lists by their profiles, as JSON when those repeat', (t) => {
  const g = parseGrid({ axes: { devices: [[{ profile: 'mlx5' }, { profile: 'pds' }], [{ profile: 'pds' }]], linkSpeed: ['2.5G', 10737418240] } });
  t.deepEqual(g.axes.map((a) => a.labels), [['mlx5+pds', 'pds'], ['2.5G', '10737418240']]);
  const same = parseGrid({ axes: { devices: [[{ profile: 'pds' }], [{ profile: 'pds', stateBytes: '8M' }]] } });
  t.deepEqual(same.axes[0]!.labels, ['[{"profile":"pds"}]', '[{"profile":"pds","stateBytes":"8M"}]']);
});

test('shards: K/N takes the indexes K-1 mod N, a partition of every grid', (t) => {
  for (const total of [0, 1, 7, 12, 13]) {
    for (let n = 1; n <= 5; n++) {
      const owner = Array.from({ length: total }, (_, i) => Array.from({ length: n }, (_, k) => k + 1).filter((k) => inShard(i, { k, n })));
      t.true(owner.every((o) => o.length === 1), `${total} points in ${n} shards: each in exactly one`);
      t.deepEqual(owner.map((o) => o[0]), Array.from({ length: total }, (_, i) => (i % n) + 1));
    }
  }
  t.deepEqual(parseShardText('2/4'), { k: 2, n: 4 });
  t.deepEqual(parseShardText(' 1/1 '), { k: 1, n: 1 });
  for (const bad of ['0/2', '3/2', '1/0', '1', '1/2/3', 'a/b', '-1/2', '1.5/2']) t.is(parseShardText(bad), null, bad);
});

test('grid bounds: lowest and highest accepted, one past either refused naming the key', (t) => {
  const rows: Array<[string, (v: number) => unknown, number, number]> = [
    ['repeats', (v) => ({ repeats: v }), 1, 1000],
    ['seeds', (v) => ({ seeds: Array.from({ length: v }, (_, i) => i) }), 1, 1000],
    ['axes.vcpus', (v) => ({ axes: { vcpus: Array.from({ length: v }, (_, i) => i) } }), 1, 65],
    ['axes.maxIterations', (v) => ({ axes: { maxIterations: Array.from({ length: v }, (_, i) => i + 1) } }), 1, 1000],
    ['title', (v) => ({ title: 'x'.repeat(v) }), 0, 200],
  ];
  for (const [key, make, lo, hi] of rows) {
    t.is(refusal(make(lo)), 'ok', `${key} = ${lo}`);
    t.is(refusal(make(hi)), 'ok', `${key} = ${hi}`);
    for (const v of [lo - 1, hi + 1]) {
      if (v < 0) continue;
      const got = refusal(make(v));
      t.true(got.startsWith(`DMALOG_BAD_OPTION ${key}`), `${key} = ${v} → ${got}`);
    }
  }
});
