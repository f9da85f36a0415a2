// The coordinator against in-thread fake trackers (exact call order, owed ranges) and against the
// simulated host's tracker threads with injected faults. Hosts are closed in t.teardown.
import test, { type ExecutionContext } from 'ava';
import { Coordinator, type CoordinatorOptions, type ReportSetResult } from '../../src/coordinator/coordinator.js';
import { ReportBitmap } from '../../src/coordinator/report-bitmap.js';
import type { ReportWindow } from '../../src/trackers/tracker.js';
import { createHost, type Host } from '../../src/host/host.js';
import type { DeviceTracker } from '../../src/trackers/device-tracker.js';
import type { DeviceOptions } from '../../src/host/options.js';
import { DmalogError, ReportSetError, StartError, VfioError, ZeroingViolation } from '../../src/errors.js';
import { FakeTracker } from '../helpers/fake-tracker.js';
import { errnoOf, PAGE, setBits } from '../helpers/abi.js';

const MiB = 1n << 20n;
const SPAN = { iova: 0n, length: 2n * MiB };
const W1: ReportWindow = { iova: 0n, length: MiB, pageSize: PAGE };
const W2: ReportWindow = { iova: MiB, length: MiB, pageSize: PAGE };
const BITS_PER_WINDOW = Number(MiB / PAGE);
const all = (n: number) => Array.from({ length: n }, (_, i) => i);

function bitsOf(bitmap: ReportBitmap): number[] {
  const out: number[] = [];
  bitmap.forEachDirty((b) => out.push(b));
  return out;
}

async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return 'ok';
  } catch (error) {
    if (error instanceof DmalogError) return error.code;
    if (error instanceof VfioError) return error.errno;
    throw error;
  }
}

function fakes(n: number, options: Partial<CoordinatorOptions> = {}) {
  const memory = new SharedArrayBuffer(1 << 16);
  let top = memory.byteLength;
  const allocate = (bytes: number) => (top = Math.floor((top - bytes) / 8) * 8);
  const events: string[] = [];
  const trackers = all(n).map((i) => new FakeTracker(`t${i}`, memory, events));
  const coordinator = new Coordinator({ trackers, memory, allocate, ...options });
  return { memory, trackers, events, coordinator };
}

async function startedFakes(n: number, options: Partial<CoordinatorOptions> = {}) {
  const f = fakes(n, options);
  await f.coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
  const bitmap = f.coordinator.createBitmap(W1);
  f.events.length = 0;
  return { ...f, bitmap };
}

/** Run a set, read its bits, consume and zero the bitmap (what a user does between sets). */
async function set(c: Coordinator, window: ReportWindow, bitmap: ReportBitmap): Promise<{ result: ReportSetResult; bits: number[] }> {
  const result = await c.reportSet(window, bitmap);
  const bits = bitsOf(bitmap);
  bitmap.consume();
  bitmap.zero();
  return { result, bits };
}

test('a report set has every REPORT in flight at once and ORs them into one bitmap', async (t) => {
  const { trackers, events, coordinator, bitmap } = await startedFakes(3);
  trackers[0]!.dirty.add(0n);
  trackers[1]!.dirty.add(PAGE);
  trackers[2]!.dirty.add(0n).add(64n * PAGE);
  let release!: () => void;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  for (const tr of trackers) {
    const report = tr.report.bind(tr);
    tr.report = async (req) => { const n = report(req); await gate; return n; };
  }
  const pending = coordinator.reportSet(W1, bitmap);
  await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(events, ['report t0', 'report t1', 'report t2']); // all issued, none answered yet
  release();
  const result = await pending;
  t.deepEqual(bitsOf(bitmap), [0, 1, 64]);
  t.deepEqual(result.outcomes.map((o) => [o.name, o.ok, o.pagesReported, o.recovery, o.markedBytes]), [
    ['t0', true, 1, 'none', 0n], ['t1', true, 1, 'none', 0n], ['t2', true, 2, 'none', 0n],
  ]);
  t.is(bitmap.state, 'complete');
});

test('zeroing rule: a set on a bitmap not zeroed since the last one is refused before any REPORT', async (t) => {
  const { trackers, events, coordinator, bitmap } = await startedFakes(2);
  trackers[0]!.dirty.add(3n * PAGE);
  await coordinator.reportSet(W1, bitmap);
  events.length = 0;
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_ZEROING_RULE');
  t.is(bitmap.consume(), 1);
  t.is(bitmap.state, 'consumed');
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_ZEROING_RULE');
  t.deepEqual(events, []);
  // { zero: true } asks the coordinator to zero it: the old bit is gone, the new one is there.
  trackers[1]!.dirty.add(7n * PAGE);
  await coordinator.reportSet(W1, bitmap, { zero: true });
  t.deepEqual(bitsOf(bitmap), [7]);
  bitmap.consume();
  bitmap.zero();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'ok');
});

test('checking mode finds a stray bit in a "zeroed" bitmap and says exactly where', async (t) => {
  const { memory, events, coordinator, bitmap } = await startedFakes(2, { verifyZeroed: true });
  const bytes = new Uint8Array(memory, bitmap.at, bitmap.capacityBytes);
  bytes[5] = 0x10;
  bytes[9] = 0x81;
  const error = await t.throwsAsync(coordinator.reportSet(W1, bitmap), { instanceOf: ZeroingViolation });
  t.is(error.code, 'DMALOG_ZEROING_RULE');
  t.is(error.firstNonZeroByte, 5);
  t.is(error.nonZeroBytes, 2);
  t.deepEqual(events, []);
  bitmap.zero();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'ok');
});

test('without checking mode the same stray bit slips into the set', async (t) => {
  const { memory, coordinator, bitmap } = await startedFakes(1);
  new Uint8Array(memory, bitmap.at, bitmap.capacityBytes)[5] = 0x10;
  await coordinator.reportSet(W1, bitmap);
  t.deepEqual(bitsOf(bitmap), [44]);
});

test('startAll rolls back: when tracker k fails START, trackers 0..k-1 are stopped and the errno surfaces', async (t) => {
  const { trackers, events, coordinator } = fakes(4);
  trackers[2]!.failStart = 'EOPNOTSUPP';
  const error = await t.throwsAsync(coordinator.startAll({ ranges: [SPAN], pageSize: PAGE }), { instanceOf: StartError });
  t.like(error, { errno: 'EOPNOTSUPP', tracker: 't2', rolledBack: 2 });
  t.deepEqual(events, ['start t0', 'start t1', 'start t2', 'stop t0', 'stop t1']);
  t.deepEqual(trackers.map((tr) => tr.logging), [false, false, false, false]);
  t.is(coordinator.state, 'idle');
});

test('restart: the failed tracker is stopped and started again before its span is marked', async (t) => {
  const { memory, trackers, events, coordinator, bitmap } = await startedFakes(3, { policy: 'restart' });
  trackers[0]!.dirty.add(2n * PAGE);
  trackers[1]!.failReport = 'EIO';
  let bitsAtRestart: number[] | null = null;
  trackers[1]!.onStart = () => { bitsAtRestart = setBits(memory, bitmap.at, BITS_PER_WINDOW); };
  const { result, bits } = await set(coordinator, W1, bitmap);
  t.deepEqual(events, ['report t0', 'report t1', 'report t2', 'stop t1', 'start t1']);
  t.deepEqual(bitsAtRestart, [2]); // only t0's real bit: nothing marked yet
  t.deepEqual(bits, all(BITS_PER_WINDOW));
  const o = result.outcomes[1]!;
  t.deepEqual([o.ok, o.errno, o.recovery, o.markedBytes, o.marked], [false, 'EIO', 'restarted', MiB, [{ iova: 0n, length: MiB }]]);
  t.deepEqual(result.outcomes.map((x) => x.markedBytes), [0n, MiB, 0n]);
  t.deepEqual(coordinator.stats, { reportSets: 1, reportErrors: 1, restarts: 1, retired: 0 });
});

test('restart: the rest of the span is owed and marked once, in the next set that covers it', async (t) => {
  const { trackers, coordinator, bitmap } = await startedFakes(2, { policy: 'restart' });
  trackers[1]!.failReport = 'EIO';
  await set(coordinator, W1, bitmap);
  trackers[0]!.dirty.add(MiB + 5n * PAGE);
  const second = await set(coordinator, W2, bitmap);
  t.deepEqual(second.bits, all(BITS_PER_WINDOW));
  t.deepEqual(second.result.outcomes.map((o) => [o.ok, o.recovery, o.markedBytes]), [[true, 'none', 0n], [true, 'none', MiB]]);
  t.deepEqual(second.result.outcomes[1]!.marked, [{ iova: MiB, length: MiB }]);
  // Paid off: from now on only real writes show.
  trackers[1]!.dirty.add(9n * PAGE);
  trackers[0]!.dirty.add(MiB + 6n * PAGE);
  t.deepEqual((await set(coordinator, W1, bitmap)).bits, [9]);
  t.deepEqual((await set(coordinator, W2, bitmap)).bits, [6]);
});

test('restart that cannot START again retires the tracker: its span is marked in every later set', async (t) => {
  const { trackers, events, coordinator, bitmap } = await startedFakes(2, { policy: 'restart' });
  trackers[1]!.failReport = 'EIO';
  trackers[1]!.failStart = 'EIO';
  const first = await set(coordinator, W1, bitmap);
  t.is(first.result.outcomes[1]!.recovery, 'retired');
  for (const window of [W2, W1, W2]) {
    events.length = 0;
    const { result, bits } = await set(coordinator, window, bitmap);
    t.deepEqual(bits, all(BITS_PER_WINDOW));
    t.deepEqual([result.outcomes[1]!.ok, result.outcomes[1]!.recovery, result.outcomes[1]!.markedBytes], [false, 'retired', MiB]);
    t.deepEqual(events, ['report t0']); // a retired tracker is never asked again
  }
  t.is(coordinator.stats.retired, 1);
  await coordinator.stopAll();
  t.false(events.includes('stop t1'));
});

test('fail: a REPORT error stops logging everywhere and rejects with the errno', async (t) => {
  const { trackers, events, coordinator, bitmap } = await startedFakes(3, { policy: 'fail' });
  trackers[2]!.failReport = 'EIO';
  const error = await t.throwsAsync(coordinator.reportSet(W1, bitmap), { instanceOf: ReportSetError });
  t.true(error instanceof VfioError);
  t.is(error.errno, 'EIO');
  t.is(error.tracker, 't2');
  t.deepEqual(error.outcomes.map((o) => o.errno), [null, null, 'EIO']);
  t.deepEqual(events.filter((e) => e.startsWith('stop')).sort(), ['stop t0', 'stop t1', 'stop t2']);
  t.deepEqual(trackers.map((tr) => tr.logging), [false, false, false]);
  t.is(coordinator.state, 'failed');
  bitmap.consume();
  bitmap.zero();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_STATE');
  await coordinator.close();
  await coordinator.close();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_CLOSED');
});

test('Coordinator options are refused with DMALOG_BAD_OPTION', (t) => {
  const memory = new SharedArrayBuffer(1 << 16);
  const trackers = [new FakeTracker('t0', memory, [])];
  const allocate = () => 0;
  const cases: Array<[string, unknown]> = [
    ['not an object', null],
    ['no trackers', { trackers: [], memory, allocate }],
    ['trackers not an array', { trackers: trackers[0], memory, allocate }],
    ['memory', { trackers, memory: new ArrayBuffer(8), allocate }],
    ['allocate', { trackers, memory, allocate: 8 }],
    ['policy', { trackers, memory, allocate, policy: 'retry' }],
    ['verifyZeroed', { trackers, memory, allocate, verifyZeroed: 'yes' }],
  ];
  for (const [what, options] of cases) {
    t.throws(() => new Coordinator(options as CoordinatorOptions), { instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION' }, what);
  }
  t.is(new Coordinator({ trackers, memory, allocate, policy: 'restart' }).policy, 'restart');
});

test('restart: a REPORT rejecting with something other than a VfioError rejects the set with it; no restart, no mark, logging stopped', async (t) => {
  const { trackers, events, coordinator, bitmap } = await startedFakes(3, { policy: 'restart' });
  trackers[0]!.dirty.add(PAGE);
  const closed = new DmalogError('DMALOG_CLOSED', 'host is closed');
  trackers[1]!.report = async () => { events.push('report t1'); throw closed; };
  trackers[2]!.failReport = 'EIO';
  t.is(await t.throwsAsync(coordinator.reportSet(W1, bitmap)), closed);
  t.false(events.includes('start t1') || events.includes('start t2'), 'nobody was restarted');
  t.deepEqual(events.filter((e) => e.startsWith('stop')).sort(), ['stop t0', 'stop t1', 'stop t2']);
  t.deepEqual(bitsOf(bitmap), [1], 'only what t0 reported: nothing was marked');
  t.is(coordinator.state, 'failed');
  t.deepEqual(coordinator.stats, { reportSets: 1, reportErrors: 1, restarts: 0, retired: 0 });
});

test('restart: a restart whose START rejects with something other than a VfioError rejects the set with it instead of retiring', async (t) => {
  const { trackers, coordinator, bitmap } = await startedFakes(2, { policy: 'restart' });
  trackers[1]!.failReport = 'EIO';
  const bug = new TypeError('a bug in the tracker');
  trackers[1]!.startLogging = async () => { throw bug; };
  t.is(await t.throwsAsync(coordinator.reportSet(W1, bitmap)), bug);
  t.is(coordinator.stats.retired, 0);
  t.is(coordinator.state, 'failed');
  t.deepEqual(trackers.map((tr) => tr.logging), [false, false]);
});

test('while stopAll or close is stopping, a report set or START asked for is refused, not run on no trackers', async (t) => {
  const { events, coordinator, bitmap } = await startedFakes(2);
  const stopping = coordinator.stopAll();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_STATE');
  t.is(await codeOf(coordinator.startAll({ ranges: [SPAN], pageSize: PAGE })), 'DMALOG_STATE');
  await stopping;
  t.deepEqual(events, ['stop t0', 'stop t1']);
  await coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
  const closing = coordinator.close();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_CLOSED');
  await closing;
  t.is(coordinator.state, 'closed');
});

// ---- against the simulated host: tracker threads, real logs, injected faults ----

const MLX5: DeviceOptions = { name: 'mlx', profile: 'mlx5' };
const PDS: DeviceOptions = { name: 'pds', profile: 'pds' };
const MLX5_8K: DeviceOptions = { name: 'mlx8k', profile: 'mlx5', minPageSize: 8192 };

async function hostWith(t: ExecutionContext, devices: DeviceOptions[]): Promise<Host> {
  t.timeout(30_000); // nothing below may hang: calls to dead threads reject, they do not wait
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', callTimeoutMs: 5000, devices });
  t.teardown(() => host.close());
  return host;
}

async function hostCoordinator(t: ExecutionContext, devices: DeviceOptions[], options: Partial<CoordinatorOptions> = {}) {
  const host = await hostWith(t, devices);
  const handles = devices.map((d) => host.device(d.name));
  const coordinator = new Coordinator({ trackers: handles, memory: host.memory, allocate: (b) => host.alloc(b), verifyZeroed: true, ...options });
  await coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
  return { host, handles, coordinator, bitmap: coordinator.createBitmap(W1) };
}

const states = (handles: DeviceTracker[]) => Promise.all(handles.map(async (h) => (await h.status()).state));

test('host: rollback on a failed START leaves trackers 0..k-1 idle, and they START again', async (t) => {
  const tooSmall: DeviceOptions = { name: 'small', profile: 'mlx5', maxAddressSpaceBits: 20 }; // 1 MiB: a 2 MiB span is EOPNOTSUPP
  const devices = [MLX5, PDS, tooSmall, MLX5_8K];
  const host = await hostWith(t, devices);
  const handles = devices.map((d) => host.device(d.name));
  const coordinator = new Coordinator({ trackers: handles, memory: host.memory, allocate: (b) => host.alloc(b) });
  t.is(await codeOf(coordinator.startAll({ ranges: [SPAN], pageSize: PAGE })), 'EOPNOTSUPP');
  t.deepEqual(await states(handles), ['idle', 'idle', 'idle', 'idle']);
  t.is(coordinator.state, 'idle');
  // Had the rollback left them logging, a new START would be EINVAL.
  t.is(await errnoOf(handles[0]!.startLogging({ pageSize: PAGE, ranges: [SPAN] })), 0);
  t.is(await errnoOf(handles[1]!.startLogging({ pageSize: PAGE, ranges: [SPAN] })), 0);
});

test('host: fail policy — an injected REPORT error rejects the set with EIO and stops every tracker', async (t) => {
  const { handles, coordinator, bitmap } = await hostCoordinator(t, [MLX5, PDS, MLX5_8K], { policy: 'fail' });
  await handles[1]!.injectFault({ kind: 'report-error' });
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'EIO');
  t.deepEqual(await states(handles), ['idle', 'idle', 'idle']);
  t.is(coordinator.state, 'failed');
});

test('host: restart — a sticky mlx5 error is cleared by the restart; marks, then exact bits again', async (t) => {
  const { handles, coordinator, bitmap } = await hostCoordinator(t, [MLX5, PDS, MLX5_8K], { policy: 'restart' });
  await handles[1]!.dmaWrite(3n * PAGE, PAGE);
  await handles[0]!.injectFault({ kind: 'tracker-error' });
  const first = await set(coordinator, W1, bitmap);
  t.deepEqual(first.bits, all(BITS_PER_WINDOW));
  t.deepEqual(first.result.outcomes.map((o) => [o.errno, o.recovery, o.markedBytes]), [['EIO', 'restarted', MiB], [null, 'none', 0n], [null, 'none', 0n]]);
  t.deepEqual(await states(handles), ['logging', 'logging', 'logging']);
  // The restarted log works: a write after the set is reported by the next set over it.
  await handles[0]!.dmaWrite(MiB + 10n * PAGE, PAGE);
  await handles[2]!.dmaWrite(MiB + 20n * PAGE, PAGE); // 8 KiB granule: pages 20 and 21
  const second = await set(coordinator, W2, bitmap);
  t.deepEqual(second.bits, all(BITS_PER_WINDOW)); // the owed half of the span
  t.is(second.result.outcomes[0]!.markedBytes, MiB);
  await handles[0]!.dmaWrite(7n * PAGE, PAGE);
  await handles[0]!.dmaWrite(MiB + 11n * PAGE, PAGE);
  t.deepEqual((await set(coordinator, W1, bitmap)).bits, [7]);
  t.deepEqual((await set(coordinator, W2, bitmap)).bits, [11]);
  t.is(coordinator.stats.restarts, 1);
});

test('host: a tracker thread dying mid-REPORT is retired under restart; its span is marked in every later set', async (t) => {
  const { handles, coordinator, bitmap } = await hostCoordinator(t, [MLX5, PDS, MLX5_8K], { policy: 'restart' });
  await handles[1]!.injectFault({ kind: 'die-in-report' });
  const first = await set(coordinator, W1, bitmap);
  t.deepEqual([first.result.outcomes[1]!.errno, first.result.outcomes[1]!.recovery], ['ENODEV', 'retired']);
  t.is(handles[1]!.dead, 'ENODEV');
  for (const window of [W2, W1]) {
    await handles[0]!.dmaWrite(window.iova + 4n * PAGE, PAGE);
    const { result, bits } = await set(coordinator, window, bitmap);
    t.deepEqual(bits, all(BITS_PER_WINDOW));
    t.deepEqual(result.outcomes.map((o) => [o.ok, o.recovery, o.markedBytes]), [[true, 'none', 0n], [false, 'retired', MiB], [true, 'none', 0n]]);
    t.is(result.outcomes[0]!.pagesReported, 1);
  }
  await coordinator.stopAll();
  t.deepEqual(await states([handles[0]!, handles[2]!]), ['idle', 'idle']);
});

test('host: a tracker thread dying mid-REPORT under fail rejects the set with ENODEV and stops the rest', async (t) => {
  const { handles, coordinator, bitmap } = await hostCoordinator(t, [MLX5, PDS, MLX5_8K], { policy: 'fail' });
  await handles[2]!.injectFault({ kind: 'die-in-report' });
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'ENODEV');
  t.deepEqual(await states([handles[0]!, handles[1]!]), ['idle', 'idle']);
  t.is(await errnoOf(handles[2]!.status()), 'ENODEV');
  await coordinator.close();
});

test('host: over a closed host a set rejects with DMALOG_CLOSED under fail and under restart; nothing is marked', async (t) => {
  for (const policy of ['fail', 'restart'] as const) {
    const { host, coordinator, bitmap } = await hostCoordinator(t, [MLX5, PDS], { policy });
    await host.close();
    const error = await t.throwsAsync(coordinator.reportSet(W1, bitmap), { instanceOf: DmalogError }, policy);
    t.is(error?.code, 'DMALOG_CLOSED', policy);
    t.deepEqual(setBits(host.memory, bitmap.at, BITS_PER_WINDOW), [], `${policy}: no span was marked`);
    t.deepEqual([coordinator.state, coordinator.stats.restarts, coordinator.stats.retired], ['failed', 0, 0], policy);
    await coordinator.close();
  }
});

/** A set over [MLX5, PDS] where pds answers its REPORT `ms` late; `stop` is called once the set is in flight. */
async function stopMidSet(t: ExecutionContext, stop: (c: Coordinator) => Promise<void>) {
  const { host, handles, coordinator, bitmap } = await hostCoordinator(t, [MLX5, PDS], { policy: 'fail' });
  await handles[0]!.dmaWrite(3n * PAGE, PAGE);
  await handles[1]!.dmaWrite(9n * PAGE, PAGE);
  await handles[1]!.injectFault({ kind: 'slow-report', ms: 300 });
  const order: string[] = [];
  const pending = coordinator.reportSet(W1, bitmap).then((r) => { order.push('set'); return r; });
  // Every REPORT is already issued: reportSet posts them before it first awaits.
  const stopped = stop(coordinator).then(() => { order.push('stop'); });
  const result = await pending;
  await stopped;
  t.deepEqual(order, ['set', 'stop'], 'the stop waited for the set');
  t.deepEqual(result.outcomes.map((o) => [o.name, o.ok, o.pagesReported, o.errno]), [['mlx', true, 1, null], ['pds', true, 1, null]]);
  t.deepEqual(setBits(host.memory, bitmap.at, BITS_PER_WINDOW), [3, 9], 'nothing lost');
  t.deepEqual(await states(handles), ['idle', 'idle']);
  return { coordinator, bitmap };
}

test('host: close() during a report set waits for it: the set resolves with its bits, then every tracker is stopped', async (t) => {
  const { coordinator, bitmap } = await stopMidSet(t, (c) => c.close());
  t.is(coordinator.state, 'closed');
  bitmap.consume();
  bitmap.zero();
  t.is(await codeOf(coordinator.reportSet(W1, bitmap)), 'DMALOG_CLOSED');
});

test('host: stopAll() during a report set waits for it: the set resolves with its bits, then START works again', async (t) => {
  const { coordinator, bitmap } = await stopMidSet(t, (c) => c.stopAll());
  t.is(coordinator.state, 'idle');
  bitmap.consume();
  bitmap.zero();
  await coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
  t.is((await coordinator.reportSet(W1, bitmap)).outcomes.length, 2);
});

test('a report set whose window needs a bigger bitmap is refused with DMALOG_BAD_OPTION; no REPORT is issued', async (t) => {
  const { coordinator, bitmap, events } = await startedFakes(2);
  t.is(await codeOf(coordinator.reportSet({ ...W1, length: 2n * MiB }, bitmap)), 'DMALOG_BAD_OPTION');
  t.deepEqual(events, []);
  t.is(bitmap.state, 'zeroed');
  t.is((await coordinator.reportSet(W1, bitmap)).outcomes.length, 2); // still usable
});

// ---- arguments: numbers are u64s too, and what is no window is refused before anything runs ----

test('host: ranges given as numbers survive a restart (the span mark is bigint arithmetic): the set recovers, nothing lost', async (t) => {
  const host = await hostWith(t, [MLX5, PDS]);
  const handles = [host.device('mlx'), host.device('pds')];
  const coordinator = new Coordinator({ trackers: handles, memory: host.memory, allocate: (b) => host.alloc(b), policy: 'restart' });
  await coordinator.startAll({ ranges: [{ iova: 0, length: 2 * 1024 * 1024 }], pageSize: 4096 } as never);
  const bitmap = coordinator.createBitmap({ length: 1 << 20, pageSize: 4096 } as never);
  await handles[1]!.dmaWrite(7n * PAGE, 1n);
  await handles[0]!.injectFault({ kind: 'report-error' });
  const result = await coordinator.reportSet({ iova: 0, length: 1 << 20, pageSize: 4096 } as never, bitmap);
  t.deepEqual(result.outcomes.map((o) => [o.name, o.errno, o.recovery]), [['mlx', 'EIO', 'restarted'], ['pds', null, 'none']]);
  t.is(bitmap.consume(), BITS_PER_WINDOW, 'the restarted tracker\'s whole window is marked');
  t.is(coordinator.state, 'logging');
  t.deepEqual(result.window, W1, 'the window as bigints');
});

test('createBitmap and reportSet refuse what is no window with DMALOG_BAD_OPTION naming the field; the bitmap and state stay as they were', async (t) => {
  const { coordinator, bitmap } = await startedFakes(2);
  const refused = (field: string) => ({ instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION', message: new RegExp(`^${field}: `) });
  t.throws(() => coordinator.createBitmap({ length: MiB, pageSize: 0n }), refused('pageSize'));
  t.throws(() => coordinator.createBitmap({ length: 0n, pageSize: PAGE }), refused('length'));
  t.throws(() => coordinator.createBitmap({ length: -MiB, pageSize: PAGE }), refused('length'));
  await t.throwsAsync(coordinator.reportSet({ ...W1, pageSize: 0n }, bitmap), refused('pageSize'));
  await t.throwsAsync(coordinator.reportSet({ ...W1, iova: 1n << 64n }, bitmap), refused('iova'));
  await t.throwsAsync(coordinator.reportSet({ ...W1, length: 0.5 } as never, bitmap), refused('length'));
  await t.throwsAsync(coordinator.reportSet(W1, { at: bitmap.at } as never), refused('bitmap'));
  t.is(bitmap.state, 'zeroed');
  t.is(coordinator.state, 'logging');
  await coordinator.reportSet(W1, bitmap);
  t.is(bitmap.state, 'complete');
});
