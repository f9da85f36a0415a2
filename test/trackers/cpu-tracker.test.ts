import test from 'ava';
import { DirtyLog } from '../../src/device/dirty-log.js';
import { CpuDirtyTracker } from '../../src/trackers/cpu-tracker.js';

const P = 4096n;

function setup() {
  const memory = new SharedArrayBuffer(1 << 16);
  const cpu = new CpuDirtyTracker({ userMemory: memory, hostPageSize: 4096 });
  return { memory, cpu };
}

function bitsAt(memory: SharedArrayBuffer, at: number, count: number): number[] {
  const bytes = new Uint8Array(memory, at, Math.ceil(count / 8));
  const out: number[] = [];
  for (let n = 0; n < count; n++) if (bytes[n >>> 3]! & (1 << (n & 7))) out.push(n);
  return out;
}

test('a kind-cpu tracker: logs at the host page whatever the hint, reports and clears like a device', async (t) => {
  const { memory, cpu } = setup();
  t.is(cpu.kind, 'cpu');
  t.true(await cpu.probe());
  t.is(cpu.logDescriptor(), null);
  t.is(await cpu.startLogging({ pageSize: 2n << 20n, ranges: [{ iova: 0n, length: 1n << 20n }, { iova: 1n << 32n, length: 1n << 20n }] }), P);
  // A vCPU thread marks the log through the descriptor, as the writer engines do.
  const log = new DirtyLog(cpu.logDescriptor()!);
  log.markWrite(0x3000n, 1n);
  log.markWrite(0x5000n, 0x2000n);
  log.markWrite((1n << 32n) + 0x1000n, 8n);
  const window = { iova: 0n, length: 1n << 20n, pageSize: P };
  t.is(await cpu.report({ ...window, bitmap: 64 }), 3);
  t.deepEqual(bitsAt(memory, 64, 256), [3, 5, 6]);
  t.is(await cpu.report({ iova: 1n << 32n, length: 1n << 20n, pageSize: P, bitmap: 1024 }), 1);
  t.deepEqual(bitsAt(memory, 1024, 256), [1]);
  new Uint8Array(memory).fill(0);
  t.is(await cpu.report({ ...window, bitmap: 64 }), 0); // read-and-clear
  await t.throwsAsync(cpu.startLogging({ pageSize: P, ranges: [{ iova: 0n, length: P }] }), { code: 22 });
  await cpu.stopLogging();
  await t.throwsAsync(cpu.report({ ...window, bitmap: 64 }), { code: 22 });
});

test('the drop switch loses exactly one dirty page (the first the filter accepts), and only once', async (t) => {
  const { memory, cpu } = setup();
  await cpu.startLogging({ pageSize: P, ranges: [{ iova: 0n, length: 1n << 20n }] });
  const log = new DirtyLog(cpu.logDescriptor()!);
  for (const page of [1n, 2n, 40n, 41n]) log.markWrite(page * P, P);
  cpu.dropNextBit((iova) => iova >= 40n * P);
  const window = { iova: 0n, length: 1n << 20n, pageSize: P };
  t.is(await cpu.report({ ...window, bitmap: 0 }), 3);
  t.deepEqual(bitsAt(memory, 0, 256), [1, 2, 41]);
  t.is(cpu.dropped, 40n * P);
  t.is(log.countDirty(), 0); // the lost page was cleared from the log all the same
  log.markWrite(40n * P, P);
  new Uint8Array(memory).fill(0);
  t.is(await cpu.report({ ...window, bitmap: 0 }), 1);
  t.deepEqual(bitsAt(memory, 0, 256), [40]);
});
