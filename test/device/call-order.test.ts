// Calls on one device keep their order across the thread hop, whatever channel each takes (REPORT
// travels as a bare message, START and STOP over comlink: protocol.ts), and concurrent REPORTs
// each get their own answer.
import test from 'ava';
import { createHost } from '../../src/index.js';
import { PAGE, errnoOf, setBits } from '../helpers/abi.js';

const RANGES = [{ iova: 0n, length: 1n << 20n }];
const BITMAP_AT = 0x1000;

test('REPORT, STOP, REPORT, START, REPORT issued at once run in that order', async (t) => {
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', devices: [{ name: 'dev', profile: 'mlx5' }] });
  t.teardown(() => host.close());
  const dev = host.device('dev');
  await dev.startLogging({ pageSize: PAGE, ranges: RANGES });
  await dev.dmaWrite(0n, PAGE);
  await dev.dmaWrite(2n * PAGE, PAGE);
  const window = { iova: 0n, length: 1n << 20n, pageSize: PAGE, bitmap: BITMAP_AT };
  const outcomes = await Promise.all([
    dev.report(window),
    errnoOf(dev.stopLogging()),
    errnoOf(dev.report(window)),
    errnoOf(dev.startLogging({ pageSize: PAGE, ranges: RANGES })),
    dev.report(window),
  ]);
  // The first REPORT saw the old log; the one after STOP found the device idle; the last one a fresh log.
  t.deepEqual(outcomes, [2, 0, 'EINVAL', 0, 0]);
  t.deepEqual(setBits(host.memory, BITMAP_AT, 256), [0, 2]);
});

test('eight REPORTs in flight at once: each answer reaches its own call', async (t) => {
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', devices: [{ name: 'dev', profile: 'pds' }] });
  t.teardown(() => host.close());
  const dev = host.device('dev');
  await dev.startLogging({ pageSize: PAGE, ranges: RANGES });
  // Window i (16 pages from page 16 i) has i + 1 dirty pages.
  for (let i = 0; i < 8; i++) for (let p = 0; p <= i; p++) await dev.dmaWrite(BigInt(16 * i + p) * PAGE, PAGE);
  const reported = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    dev.report({ iova: BigInt(16 * i) * PAGE, length: 16n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT + 8 * i })));
  t.deepEqual(reported, [1, 2, 3, 4, 5, 6, 7, 8]);
  for (let i = 0; i < 8; i++) t.deepEqual(setBits(host.memory, BITMAP_AT + 8 * i, 16), Array.from({ length: i + 1 }, (_, p) => p));
});
