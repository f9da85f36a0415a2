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

// The vCPU log's REPORT skipped the core's checks: a bitmap running out of user memory threw a
// RangeError half-way, after the log words it had read were cleared, so those dirty pages were lost.
test('REPORT into a bitmap that does not fit is EFAULT before the log is read: nothing is cleared, nothing lost', async (t) => {
  const { memory, cpu } = setup();
  await cpu.startLogging({ pageSize: P, ranges: [{ iova: 0n, length: 1n << 30n }] });
  const log = new DirtyLog(cpu.logDescriptor()!);
  log.markWrite(0n, 1n);
  log.markWrite(100_000n * P, 1n);
  // 32 KiB of bitmap for 1 GiB at 4 KiB; from 60 KiB only its first 4 KiB lie in the 64 KiB of user memory.
  await t.throwsAsync(cpu.report({ iova: 0n, length: 1n << 30n, pageSize: P, bitmap: 60 << 10 }), { message: /^EFAULT/ });
  t.is(log.countDirty(), 2, 'both pages still logged');
  t.deepEqual(bitsAt(memory, 60 << 10, 64), [], 'not a bit written');
  for (const [req, errno] of [
    [{ pageSize: 0n }, 'EINVAL'], [{ pageSize: 3n * P }, 'EINVAL'], [{ pageSize: 2048n }, 'EINVAL'],
    [{ length: 0n }, 'EINVAL'], [{ iova: (1n << 64n) - P, length: 2n * P }, 'EOVERFLOW'], [{ bitmap: -8 }, 'EFAULT'], [{ bitmap: 0.5 }, 'EFAULT'],
  ] as const) {
    await t.throwsAsync(cpu.report({ iova: 0n, length: 1n << 20n, pageSize: P, bitmap: 0, ...req } as never), { message: new RegExp(`^${errno}`) }, JSON.stringify(req, (_, v) => typeof v === 'bigint' ? String(v) : v));
  }
  t.is(log.countDirty(), 2);
  // A 1 MiB window at 1 MiB pages, then the whole GiB at 4 KiB from a bitmap that fits.
  t.is(await cpu.report({ iova: 0n, length: 1n << 30n, pageSize: P, bitmap: 0 }), 2);
  t.deepEqual(bitsAt(memory, 0, 100_001).filter((n) => n === 0 || n === 100_000), [0, 100_000]);
  t.is(log.countDirty(), 0);
});

test('options and arguments: DMALOG_BAD_OPTION naming the field; START ranges may be numbers', async (t) => {
  const memory = new SharedArrayBuffer(1 << 16);
  const bad = (field: string) => ({ code: 'DMALOG_BAD_OPTION', message: new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `) });
  t.throws(() => new CpuDirtyTracker({ userMemory: memory, hostPageSize: 0 }), bad('hostPageSize'));
  t.throws(() => new CpuDirtyTracker({ userMemory: memory, hostPageSize: 12288 }), bad('hostPageSize'));
  t.throws(() => new CpuDirtyTracker({ userMemory: new ArrayBuffer(8) as never, hostPageSize: 4096 }), bad('userMemory'));
  t.throws(() => new CpuDirtyTracker({ userMemory: memory, hostPageSize: 4096, maxLogBytes: 0 }), bad('maxLogBytes'));
  const cpu = new CpuDirtyTracker({ userMemory: memory, hostPageSize: 8192, name: 'kvm' });
  await t.throwsAsync(cpu.startLogging({ pageSize: P, ranges: [{ iova: 1n << 64n, length: P }] }), bad('ranges[0].iova'));
  t.is(cpu.logDescriptor(), null);
  t.is(await cpu.startLogging({ pageSize: 4096, ranges: [{ iova: 0, length: 1 << 20 }] } as never), 8192n);
});
