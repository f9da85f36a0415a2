// Tracker threads that throw, exit or are terminated — at rest, during START, mid-REPORT — and
// calls past their deadline. Every pending and later call on the device must reject (ENODEV, or
// EIO for the call a throw broke, ETIMEDOUT past the deadline), never hang; host.close() returns
// and the process exits. The hosts use a 60 s call deadline, so a rejection seen within the
// guard below comes from noticing the death, not from the deadline.
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import test, { type ExecutionContext } from 'ava';
import { createHost, type DeviceTracker, type DeviceOptions, type Host, type HostOptions } from '../../src/index.js';
import type { Fault } from '../../src/device/driver.js';
import { DmalogError } from '../../src/errors.js';
import type { Errno } from '../../src/uapi/errno.js';
import { PAGE, errnoOf, setBits } from '../helpers/abi.js';

const MLX5: DeviceOptions = { name: 'dev', profile: 'mlx5' };
const PDS: DeviceOptions = { name: 'dev', profile: 'pds' };
const RANGES = [{ iova: 0n, length: 1n << 20n }];
const BITMAP_AT = 0x1000;
/** Far below the 60 s deadline: an answer within it is the death being noticed. */
const GUARD_MS = 10_000;

async function hostFor(t: ExecutionContext, device: DeviceOptions = MLX5, options: Partial<HostOptions> = {}): Promise<{ host: Host; dev: DeviceTracker }> {
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', callTimeoutMs: 60_000, ...options, devices: [device] });
  t.teardown(() => host.close());
  return { host, dev: host.device(device.name) };
}

/** The errno a call settles with, failing the test if it does not settle within the guard. */
async function settle(t: ExecutionContext, call: Promise<unknown>): Promise<Errno | 0 | 'hang'> {
  const guard = sleep(GUARD_MS, 'hang' as const, { ref: false });
  const outcome = await Promise.race([errnoOf(call), guard]);
  if (outcome === 'hang') t.fail('the call did not settle');
  return outcome;
}

async function untilDead(t: ExecutionContext, host: Host, dev: DeviceTracker): Promise<Errno> {
  for (let waited = 0; waited < GUARD_MS; waited += 5) {
    const dead = host.inspect(dev.fd).dead;
    if (dead) return dead;
    await sleep(5);
  }
  t.fail('the tracker never died');
  return 'ENODEV';
}

/** Every kind of later call on a dead device: all ENODEV. */
async function assertGone(t: ExecutionContext, host: Host, dev: DeviceTracker): Promise<void> {
  const window = { iova: 0n, length: 1n << 20n, pageSize: PAGE, bitmap: BITMAP_AT };
  t.deepEqual(await Promise.all([
    settle(t, dev.startLogging({ pageSize: PAGE, ranges: RANGES })),
    settle(t, dev.report(window)),
    settle(t, dev.stopLogging()),
    settle(t, dev.probe()),
    settle(t, dev.status()),
    settle(t, dev.dmaWrite(0n, PAGE)),
    settle(t, dev.dmaRead(0n, PAGE)),
    // Even a call the core would refuse on its own: the device is gone first.
    settle(t, host.ioctl(dev.fd, 0x3b75, host.memory.byteLength)),
  ]), ['ENODEV', 'ENODEV', 'ENODEV', 'ENODEV', 'ENODEV', 'ENODEV', 'ENODEV', 'ENODEV']);
}

async function logging(dev: DeviceTracker, dirtyPages: number[]): Promise<void> {
  await dev.startLogging({ pageSize: PAGE, ranges: RANGES });
  for (const p of dirtyPages) await dev.dmaWrite(BigInt(p) * PAGE, 1n);
}

function reportWindow(pages: number) {
  return { iova: 0n, length: BigInt(pages) * PAGE, pageSize: PAGE, bitmap: BITMAP_AT };
}

// At rest.

test('exits at rest: every later call is ENODEV', async (t) => {
  const { host, dev } = await hostFor(t);
  await dev.injectFault({ kind: 'die' });
  t.is(await untilDead(t, host, dev), 'ENODEV');
  await assertGone(t, host, dev);
});

test('throws at rest (an uncaught exception in the device thread): every later call is ENODEV', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [1]);
  await dev.injectFault({ kind: 'throw' });
  t.is(await untilDead(t, host, dev), 'ENODEV');
  await assertGone(t, host, dev);
});

test('terminated at rest: every later call is ENODEV', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [1]);
  await host.terminateTracker(dev.fd);
  await assertGone(t, host, dev);
});

// During START.

test('exits during START: the START is ENODEV, and so is everything after', async (t) => {
  const { host, dev } = await hostFor(t);
  await dev.injectFault({ kind: 'die-in-start' });
  t.is(await settle(t, dev.startLogging({ pageSize: PAGE, ranges: RANGES })), 'ENODEV');
  await assertGone(t, host, dev);
});

test('throws during START: the START is EIO, the tracker is failed, everything after is ENODEV', async (t) => {
  const { host, dev } = await hostFor(t);
  await dev.injectFault({ kind: 'throw-in-start' });
  t.is(await settle(t, dev.startLogging({ pageSize: PAGE, ranges: RANGES })), 'EIO');
  t.is(host.inspect(dev.fd).dead, 'EIO');
  t.false(host.inspect(dev.fd).logging, 'the host kept no log from the broken START');
  await assertGone(t, host, dev);
});

test('a START fault waits for a START: REPORTs and a refused START do not consume it', async (t) => {
  const { dev } = await hostFor(t, PDS);
  await dev.injectFault({ kind: 'throw-in-start' });
  t.is(await settle(t, dev.startLogging({ pageSize: 3n, ranges: RANGES })), 'EINVAL', 'pds refuses the hint before the fault point');
  t.is(await settle(t, dev.report(reportWindow(8))), 'EINVAL', 'REPORT while idle');
  t.is(await settle(t, dev.startLogging({ pageSize: PAGE, ranges: RANGES })), 'EIO');
});

test('terminated during START: the pending START is ENODEV, and so is everything after', async (t) => {
  const { host, dev } = await hostFor(t);
  const start = dev.startLogging({ pageSize: PAGE, ranges: RANGES });
  const status = dev.status();
  await host.terminateTracker(dev.fd);
  t.deepEqual([await settle(t, start), await settle(t, status)], ['ENODEV', 'ENODEV']);
  await assertGone(t, host, dev);
});

// Mid-REPORT.

test('exits mid-REPORT: the REPORT and the calls queued behind it are ENODEV; no REPORT ever answers again', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [0, 1, 2, 3, 4, 5, 6, 7]);
  await dev.injectFault({ kind: 'die-in-report' });
  const report = dev.report(reportWindow(8));
  const queued = [dev.status(), dev.stopLogging()];
  t.deepEqual(await Promise.all([report, ...queued].map((c) => settle(t, c))), ['ENODEV', 'ENODEV', 'ENODEV']);
  await assertGone(t, host, dev);
});

test('throws mid-REPORT: that REPORT is EIO, the calls queued behind it too; then ENODEV for good', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [0, 1, 2, 3, 4, 5, 6, 7]);
  await dev.injectFault({ kind: 'throw-in-report' });
  const report = dev.report(reportWindow(8));
  const queued = dev.status();
  t.deepEqual([await settle(t, report), await settle(t, queued)], ['EIO', 'EIO']);
  t.is(host.inspect(dev.fd).dead, 'EIO');
  await assertGone(t, host, dev);
});

test('terminated mid-REPORT (the device thread blocked): the pending REPORT and status are ENODEV', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [3]);
  await dev.injectFault({ kind: 'slow-report', ms: 60_000 });
  const report = dev.report(reportWindow(8));
  const status = dev.status();
  await sleep(20); // let the REPORT reach the thread and block it
  await host.terminateTracker(dev.fd);
  t.deepEqual([await settle(t, report), await settle(t, status)], ['ENODEV', 'ENODEV']);
  await assertGone(t, host, dev);
});

// Deadlines.

test('a REPORT past its deadline is ETIMEDOUT, so are calls queued behind it; the tracker is then failed', async (t) => {
  const { host, dev } = await hostFor(t, MLX5, { callTimeoutMs: 2000 });
  await logging(dev, [3]);
  await dev.injectFault({ kind: 'slow-report', ms: 60_000 });
  const report = dev.report(reportWindow(8));
  const status = dev.status();
  t.deepEqual([await settle(t, report), await settle(t, status)], ['ETIMEDOUT', 'ETIMEDOUT']);
  t.is(host.inspect(dev.fd).dead, 'ETIMEDOUT');
  await assertGone(t, host, dev);
});

test('a slow REPORT inside its deadline is answered normally', async (t) => {
  const { dev } = await hostFor(t, MLX5, { callTimeoutMs: 10_000 });
  await logging(dev, [3]);
  await dev.injectFault({ kind: 'slow-report', ms: 50 });
  t.is(await dev.report(reportWindow(8)), 1);
  t.is((await dev.status()).state, 'logging');
});

// Faults outside the contract.

test('injectFault refuses a fault outside the contract (DMALOG_BAD_OPTION) before the thread hop; the tracker stays healthy', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [2]);
  const refused: unknown[] = [
    { kind: 'report-error', errno: 'EPERM' }, // not one of the simulator's errnos
    { kind: 'report-error', errno: 22 },
    { kind: 'report-error', errno: 'toString' },
    { kind: 'explode' },
    { kind: undefined },
    null,
    'die',
    [{ kind: 'die' }],
    { kind: 'die', then: () => {} }, // a function does not survive the hop
    { kind: 'tracker-error', extra: 1 },
    { kind: 'slow-report' },
    { kind: 'slow-report', ms: -1 },
    { kind: 'slow-report', ms: NaN }, // Atomics.wait would take it as "for ever"
    { kind: 'slow-report', ms: Infinity },
    { kind: 'slow-report', ms: 1.5 },
    { kind: 'slow-report', ms: 2 ** 31 },
    { kind: 'slow-report', ms: 1e300 },
    { kind: 'slow-report', ms: '5' },
    { kind: 'slow-report', ms: 5, errno: 'EIO' },
  ];
  for (const fault of refused) {
    const error = await t.throwsAsync(dev.injectFault(fault as Fault), { instanceOf: DmalogError }, JSON.stringify(fault) ?? String(fault));
    t.is(error?.code, 'DMALOG_BAD_OPTION');
  }
  t.is(host.inspect(dev.fd).dead, null);
  t.is(await settle(t, dev.report(reportWindow(8))), 0, 'no fault reached the tracker: the next REPORT works');
  t.deepEqual(setBits(host.memory, BITMAP_AT, 8), [2]);
  // The contract's own faults still pass, an errno of the list included.
  await dev.injectFault({ kind: 'report-error', errno: 'ENOMEM' });
  t.is(await settle(t, dev.report(reportWindow(8))), 'ENOMEM');
  await dev.injectFault({ kind: 'slow-report', ms: 0 });
  t.is(await settle(t, dev.report(reportWindow(8))), 0);
  t.like(await dev.status(), { state: 'logging', reports: 3 });
});

// contract §6: a REPORT that failed half-way must not leave a log that looks valid.

test('mlx5, tracker error half-way through a REPORT: the first half was set, then EIO on every REPORT until STOP + START', async (t) => {
  const { host, dev } = await hostFor(t);
  await logging(dev, [0, 1, 2, 3, 4, 5, 6, 7]);
  await dev.injectFault({ kind: 'tracker-error' });
  host.zero(BITMAP_AT, 8);
  t.is(await settle(t, dev.report(reportWindow(8))), 'EIO');
  t.deepEqual(setBits(host.memory, BITMAP_AT, 8), [0, 1, 2, 3], 'what the failed REPORT got through');
  host.zero(BITMAP_AT, 8);
  t.is(await settle(t, dev.report(reportWindow(8))), 'EIO', 'the rest of the log is never offered as if valid');
  t.is(await settle(t, dev.report(reportWindow(4))), 'EIO');
  t.deepEqual(setBits(host.memory, BITMAP_AT, 8), []);
  t.like(await dev.status(), { state: 'error', reports: 1 });
  await dev.stopLogging();
  await dev.startLogging({ pageSize: PAGE, ranges: RANGES });
  t.is(await dev.report(reportWindow(8)), 0, 'the restarted log is empty: the caller must mark the range dirty itself');
  await dev.dmaWrite(6n * PAGE, 1n);
  t.is(await dev.report(reportWindow(8)), 1);
  t.deepEqual(setBits(host.memory, BITMAP_AT, 8), [6]);
});

test('pds, tracker error half-way: EIO for that call only, and the next REPORT shows just the unread half', async (t) => {
  const { host, dev } = await hostFor(t, PDS);
  await logging(dev, [0, 1, 2, 3, 4, 5, 6, 7]);
  await dev.injectFault({ kind: 'tracker-error' });
  host.zero(BITMAP_AT, 8);
  t.is(await settle(t, dev.report(reportWindow(8))), 'EIO');
  t.deepEqual(setBits(host.memory, BITMAP_AT, 8), [0, 1, 2, 3]);
  host.zero(BITMAP_AT, 8);
  // This is why contract §6 has the caller treat the log as corrupt after any REPORT error: pages
  // 0-3 went out only in a bitmap the caller discarded, and the device no longer holds them.
  t.is(await dev.report(reportWindow(8)), 4);
  t.deepEqual(setBits(host.memory, BITMAP_AT, 8), [4, 5, 6, 7]);
  t.like(await dev.status(), { state: 'logging' });
});

// The process still exits.

test('after every kind of thread fault, host.close() returns and the process exits by itself', async (t) => {
  const fixture = fileURLToPath(new URL('../fixtures/thread-faults-exit.js', import.meta.url));
  const { code, stdout } = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
    execFile(process.execPath, [fixture], { timeout: 60_000 }, (error, out) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout: out });
    });
  });
  t.is(stdout, 'ENODEV EIO ETIMEDOUT ENODEV\nclosed\n');
  t.is(code, 0);
});
