// The rig factory: what it makes (host, pool, devices on log generations, coordinator over extra
// trackers then devices), and that it ends every thread it started, on close and when a step
// after the host fails.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { CONTROL_FIRST_LOG_GEN } from '../../src/dma/types.js';
import { DmalogError } from '../../src/errors.js';
import { createHost, type Host } from '../../src/host/host.js';
import type { HostOptions } from '../../src/host/options.js';
import { createRig, type ExtraTracker, type HostFactory } from '../../src/rig/rig.js';
import { FakeTracker } from '../helpers/fake-tracker.js';

const HOST: HostOptions = { logLevel: 'silent', userMemoryBytes: 1 << 20, devices: [{ name: 'mlx', profile: 'mlx5' }, { name: 'pds', profile: 'pds' }] };
const PAGE = 4096n;

function osThreads(): number {
  return Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]);
}

/** createHost that hands the host it made to `seen` (so a test can look at it after a failure). */
function capturing(seen: Host[]): HostFactory {
  return async (options) => {
    const host = await createHost(options);
    seen.push(host);
    return host;
  };
}

/** A fake tracker in the rig's user memory that counts its closes. */
function extra(host: Host, closes: string[]): ExtraTracker {
  const t = new FakeTracker('extra', host.memory, []) as FakeTracker & { close: () => void };
  t.close = () => { closes.push('extra'); };
  return t;
}

test.serial('createRig: devices on log generations of the rig cells, a pool, the coordinator over extras then devices; close ends every thread', async (t) => {
  const before = osThreads();
  const closes: string[] = [];
  const rig = await createRig({ host: HOST, dma: { threads: 2 }, coordinator: { policy: 'restart' }, extraTrackers: (host) => [extra(host, closes)] });
  t.is(osThreads(), before + 2 + 2, 'a tracker thread per device and two pool threads');
  t.deepEqual(rig.devices.map((d) => d.name), ['mlx', 'pds']);
  t.is(rig.devices[1], rig.host.device('pds'), 'the host\'s own typed layer');
  t.is(rig.pool!.threads, 2);
  t.is(rig.coordinator!.policy, 'restart');
  t.deepEqual([...(await rig.coordinator!.probeAll()).keys()], ['extra', 'mlx', 'pds']);
  await rig.coordinator!.startAll({ ranges: [{ iova: 0n, length: 1n << 20n }], pageSize: PAGE });
  rig.devices.forEach((d, i) => {
    const target = d.burstTarget()!;
    t.is(target.control.cells, rig.cells.buffer as SharedArrayBuffer, d.name);
    const own = target.logs.find((l) => l.kind === 'log');
    t.deepEqual(own?.kind === 'log' ? own.gen : null, { slot: CONTROL_FIRST_LOG_GEN + i, value: 1 }, `${d.name}: its generation slot, odd while logging`);
  });
  await rig.close();
  await rig.close();
  t.deepEqual(closes, ['extra'], 'extra trackers closed once');
  t.is(rig.coordinator!.state, 'closed');
  t.is(osThreads(), before, 'every thread ended');
  t.throws(() => rig.host.alloc(8), { instanceOf: DmalogError, code: 'DMALOG_CLOSED' });
});

test.serial('a step failing after the host exists (extra trackers, the coordinator) rejects with its error and ends every thread', async (t) => {
  const before = osThreads();
  const seen: Host[] = [];
  const boom = new DmalogError('DMALOG_STATE', 'extra tracker could not be made');
  await t.throwsAsync(createRig({ host: HOST, createHost: capturing(seen), dma: { threads: 3 }, coordinator: {}, extraTrackers: () => { throw boom; } }), { is: boom });
  t.is(osThreads(), before, 'tracker and pool threads ended');
  t.throws(() => seen[0]!.alloc(8), { code: 'DMALOG_CLOSED' });
  // The coordinator refuses its options only once host and pool exist.
  const closes: string[] = [];
  await t.throwsAsync(createRig({
    host: HOST, createHost: capturing(seen), dma: { threads: 3 }, coordinator: { policy: 'retry' as 'fail' }, extraTrackers: (host) => [extra(host, closes)],
  }), { code: 'DMALOG_BAD_OPTION', message: /policy/ });
  t.is(osThreads(), before, 'tracker and pool threads ended');
  t.deepEqual(closes, ['extra'], 'the extra tracker made before the failure was closed');
  t.throws(() => seen[1]!.alloc(8), { code: 'DMALOG_CLOSED' });
});

test.serial('a host that cannot be made leaves nothing behind (the pool is made after it)', async (t) => {
  const before = osThreads();
  await t.throwsAsync(createRig({ host: { ...HOST, userMemoryBytes: 0 }, dma: { threads: 2 }, coordinator: {} }), { code: 'DMALOG_BAD_OPTION' });
  t.is(osThreads(), before);
});

test.serial('trackers after-probe: no coordinator until rig.coordinate(trackers), once; without coordinator options there is none', async (t) => {
  const before = osThreads();
  const rig = await createRig({ host: { ...HOST, transport: 'in-thread' }, dma: null, coordinator: { policy: 'fail', trackers: 'after-probe' } });
  t.is(osThreads(), before, 'in-thread transport and no pool: no thread');
  t.is(rig.coordinator, null);
  t.is(rig.pool, null);
  const coordinator = rig.coordinate([rig.devices[1]!]);
  t.is(rig.coordinator, coordinator);
  t.deepEqual([...(await coordinator.probeAll()).keys()], ['pds']);
  t.throws(() => rig.coordinate(rig.devices), { instanceOf: DmalogError, code: 'DMALOG_STATE' });
  await rig.close();
  t.is(coordinator.state, 'closed');

  const bare = await createRig({ host: { ...HOST, transport: 'in-thread' } });
  t.is(bare.coordinator, null);
  t.throws(() => bare.coordinate(bare.devices), { instanceOf: DmalogError, code: 'DMALOG_STATE' });
  await bare.close();
});

test.serial('createRig: the extra trackers are made before the pool starts its threads (a big pool booting would hold their start past its deadline)', async (t) => {
  const before = osThreads();
  let during = -1;
  const closes: string[] = [];
  const rig = await createRig({ host: HOST, dma: { threads: 3 }, extraTrackers: (host) => { during = osThreads(); return [extra(host, closes)]; } });
  t.is(during, before + 2, 'the two tracker threads, no pool thread yet');
  t.is(osThreads(), before + 2 + 3);
  t.is(rig.pool!.threads, 3);
  await rig.close();
  t.deepEqual(closes, ['extra']);
});
