// Every createHost option at the edge (fillHostOptions, no thread involved): each refusal is
// DmalogError DMALOG_BAD_OPTION, and each bound accepts its largest value and refuses the next.
import test from 'ava';
import { DmalogError } from '../../src/errors.js';
import {
  MAX_CALL_TIMEOUT_MS, MAX_DEVICES, MAX_LOG_BYTES, MAX_USER_MEMORY_BYTES, fillHostOptions, type DeviceOptions, type HostOptions,
} from '../../src/host/options.js';

const MLX5: DeviceOptions = { name: 'mlx', profile: 'mlx5' };
const base: HostOptions = { logLevel: 'silent', devices: [MLX5] };

function codeOf(options: unknown): string {
  try {
    fillHostOptions(options as HostOptions);
    return 'ok';
  } catch (error) {
    return error instanceof DmalogError ? error.code : `not a DmalogError: ${String(error)}`;
  }
}

test('the bounds: user memory 2^32 bytes, call deadline 2^31 - 1 ms, device log 2^32 bytes', (t) => {
  t.is(MAX_USER_MEMORY_BYTES, 2 ** 32);
  t.is(MAX_CALL_TIMEOUT_MS, 2 ** 31 - 1);
  t.is(MAX_LOG_BYTES, 2 ** 32);
});

test('userMemoryBytes: 1 .. 2^32 (a Uint8Array holds at most 2^32 bytes); past it DMALOG_BAD_OPTION', (t) => {
  t.is(fillHostOptions({ ...base, userMemoryBytes: 2 ** 32 }).userMemoryBytes, 2 ** 32);
  t.is(fillHostOptions({ ...base, userMemoryBytes: 1 }).userMemoryBytes, 1);
  for (const v of [2 ** 32 + 1, 2 ** 32 + 4096, 2 ** 40, 0, -1, 0.5, NaN, Infinity, '16', 16n]) {
    t.is(codeOf({ ...base, userMemoryBytes: v }), 'DMALOG_BAD_OPTION', String(v));
  }
});

test('devices: 1 .. 256 (a tracker thread each); more is DMALOG_BAD_OPTION naming devices, before any thread starts', (t) => {
  t.is(MAX_DEVICES, 256);
  const many = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `d${i}`, profile: 'none' as const }));
  t.is(fillHostOptions({ ...base, devices: many(256) }).devices.length, 256);
  const error = t.throws(() => fillHostOptions({ ...base, devices: many(257) }), { instanceOf: DmalogError });
  t.is(error.code, 'DMALOG_BAD_OPTION');
  t.regex(error.message, /devices.*at most 256/);
  t.is(codeOf({ ...base, devices: [] }), 'DMALOG_BAD_OPTION');
});

test('callTimeoutMs: 1 .. 2^31 - 1 (Node would run a longer timer after 1 ms); past it DMALOG_BAD_OPTION', (t) => {
  t.is(fillHostOptions({ ...base, callTimeoutMs: 2 ** 31 - 1 }).callTimeoutMs, 2 ** 31 - 1);
  t.is(fillHostOptions({ ...base, callTimeoutMs: 1 }).callTimeoutMs, 1);
  for (const v of [2 ** 31, 2 ** 32, 0, -5, 1.5, NaN, Infinity]) {
    t.is(codeOf({ ...base, callTimeoutMs: v }), 'DMALOG_BAD_OPTION', String(v));
  }
});

test('maxLogBytes: 1 .. 2^32; past it DMALOG_BAD_OPTION', (t) => {
  t.is(fillHostOptions({ ...base, maxLogBytes: 2 ** 32 }).maxLogBytes, 2 ** 32);
  for (const v of [2 ** 32 + 1, 2 ** 36, 0, -1, 0.25, NaN]) {
    t.is(codeOf({ ...base, maxLogBytes: v }), 'DMALOG_BAD_OPTION', String(v));
  }
});

test('every other refusal is DMALOG_BAD_OPTION too (no code-less TypeError or RangeError)', (t) => {
  const cases: Array<[string, unknown]> = [
    ['not an object', null],
    ['hostPageSize not a power of two', { ...base, hostPageSize: 6000 }],
    ['hostPageSize below 4096', { ...base, hostPageSize: 2048 }],
    ['contract', { ...base, contract: 'relaxed' }],
    ['logLevel', { ...base, logLevel: 'loud' }],
    ['transport', { ...base, transport: 'thread' }],
    ['transport not a string', { ...base, transport: 1 }],
    ['devices empty', { ...base, devices: [] }],
    ['devices missing', { logLevel: 'silent' }],
    ['device name empty', { ...base, devices: [{ ...MLX5, name: '' }] }],
    ['device name twice', { ...base, devices: [MLX5, MLX5] }],
    ['profile', { ...base, devices: [{ name: 'x', profile: 'ixgbe' }] }],
    ['minPageSize not a power of two', { ...base, devices: [{ ...MLX5, minPageSize: 5000 }] }],
    ['minPageSize below 4096', { ...base, devices: [{ ...MLX5, minPageSize: 2048 }] }],
    ['minPageSize above maxPageSize', { ...base, devices: [{ ...MLX5, minPageSize: 1 << 20, maxPageSize: 1 << 16 }] }],
    ['maxRanges 0', { ...base, devices: [{ ...MLX5, maxRanges: 0 }] }],
    ['pds maxRanges past a u8', { ...base, devices: [{ name: 'p', profile: 'pds', maxRanges: 256 }] }],
    ['maxAddressSpaceBits below 12', { ...base, devices: [{ ...MLX5, maxAddressSpaceBits: 11 }] }],
    ['maxAddressSpaceBits above 64', { ...base, devices: [{ ...MLX5, maxAddressSpaceBits: 65 }] }],
    ['iommuDirty not a boolean', { ...base, devices: [{ ...MLX5, iommuDirty: 1 }] }],
  ];
  for (const [what, options] of cases) t.is(codeOf(options), 'DMALOG_BAD_OPTION', what);
  t.is(codeOf(base), 'ok');
});

test('iommuDirty: true by default (for every profile, none included), false when asked', (t) => {
  const filled = fillHostOptions({ ...base, devices: [MLX5, { name: 'n', profile: 'none' }, { name: 'p', profile: 'pds', iommuDirty: false }] });
  t.deepEqual(filled.devices.map((d) => d.iommuDirty), [true, true, false]);
});

test('transport: worker by default, in-thread when asked', (t) => {
  t.is(fillHostOptions(base).transport, 'worker');
  t.is(fillHostOptions({ ...base, transport: 'in-thread' }).transport, 'in-thread');
  t.is(fillHostOptions({ ...base, transport: 'worker' }).transport, 'worker');
});

test.serial('a bad $DMALOG_LOG_LEVEL is DMALOG_BAD_OPTION; an explicit logLevel wins over it', (t) => {
  const saved = process.env['DMALOG_LOG_LEVEL'];
  t.teardown(() => {
    if (saved === undefined) delete process.env['DMALOG_LOG_LEVEL'];
    else process.env['DMALOG_LOG_LEVEL'] = saved;
  });
  process.env['DMALOG_LOG_LEVEL'] = 'verbose';
  t.is(codeOf({ devices: [MLX5] }), 'DMALOG_BAD_OPTION');
  t.is(fillHostOptions({ devices: [MLX5], logLevel: 'warn' }).logLevel, 'warn');
});
