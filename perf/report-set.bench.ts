// Report sets: one REPORT per tracker into one bitmap, issued by the coordinator (contract §6) to
// device trackers in their own threads. A small window measures the fixed cost per set against
// one bare comlink round trip; a large window measures how the trackers' scans overlap, against
// the slowest of them reporting alone. Transport floors, each one thread per tracker: comlink
// round trips, bare message round trips (as REPORT travels), shared-memory doorbells
// (Atomics.waitAsync on both sides) and threads woken from a blocking Atomics.wait (no messages).
import { Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import { Coordinator } from '../src/coordinator/coordinator.js';
import { DirtyLog } from '../src/device/dirty-log.js';
import { nodeEndpoint } from '../src/device/node-endpoint.js';
import { createHost } from '../src/host/host.js';
import type { DeviceTracker } from '../src/trackers/device-tracker.js';
import { fmtMs, get, medians, type BenchSettings, type Row, type Scenario, type ScenarioOptions, type TaskSpec } from './harness.js';
import { ANSWER, BARE_PING, REQUEST, type WakeData } from './workers/floor-wire.js';
import type { pingTarget } from './workers/ping.js';

const PING_ENTRY = new URL('./workers/ping.js', import.meta.url);
const WAKE_ENTRY = new URL('./workers/wake.js', import.meta.url);
const PAGE = 4096n;
const TRACKED = 64n << 30n;
const SMALL = { iova: 0n, length: 2n << 20n, pageSize: PAGE };
const LARGE = { iova: 0n, length: TRACKED, pageSize: PAGE };
const SMALL_DIRTY_PAGES = 8;
const LARGE_DIRTY_FRACTION = 0.01;

export const scenario: Scenario = {
  name: 'report-set',
  title: 'report set latency (coordinator → device trackers in worker threads, one shared bitmap)',
  async run(options: ScenarioOptions) {
    const counts = options.quick ? [1, 4] : [1, 4, 16];
    const settings = { timeMs: options.quick ? 100 : 150, iterations: options.quick ? 5 : 10, warmupIterations: 5, rounds: options.quick ? 1 : 3 };
    // One ping thread per tracker: N pings at once are the transport's own floor for an N-tracker set.
    const threads = Math.max(...counts);
    const pingWorkers = await Promise.all(Array.from({ length: threads }, () => startThread(PING_ENTRY)));
    const floors: Floors = {
      pings: pingWorkers.map((w) => Comlink.wrap<typeof pingTarget>(nodeEndpoint(w))),
      bare: pingWorkers.map(barePinger),
      doorbells: await Promise.all(Array.from({ length: threads }, () => startWake('async'))),
      wakes: await Promise.all(Array.from({ length: threads }, () => startWake('blocking'))),
    };
    const rows: Row[] = [];
    try {
      for (const n of counts) rows.push(...await measureSets(n, floors, settings));
    } finally {
      for (const p of floors.pings) p[Comlink.releaseProxy]();
      await Promise.all([...pingWorkers.map((w) => w.terminate()), ...[...floors.doorbells, ...floors.wakes].map((d) => d.stop())]);
    }
    return {
      name: this.name,
      title: this.title,
      rows,
      notes: [
        `small window: ${SMALL.length >> 20n} MiB at 4 KiB with ${SMALL_DIRTY_PAGES} dirty pages per tracker; large window: ${TRACKED >> 30n} GiB, ${LARGE_DIRTY_FRACTION * 100} % dirty per tracker (uniform).`,
        'a set goes through the full ioctl path per tracker (core checks, one message round trip to its thread, device read-and-clear) and zeroes its bitmap first.',
        'trackers share the machine\'s cores: a large-window set cannot beat the slowest tracker by more than the core count allows.',
        'REPORT travels as a bare message on the tracker\'s comlink port; a doorbell is a shared Int32Array cell bumped and Atomics.notify-ed, awaited with Atomics.waitAsync on both sides; the blocking-wait floor freezes its threads\' event loops, which a tracker cannot afford.',
      ],
    };
  },
};

interface Floors {
  pings: Array<Comlink.Remote<typeof pingTarget>>;
  bare: Array<() => Promise<void>>;
  doorbells: Wake[];
  wakes: Wake[];
}

async function startThread(entry: URL, workerData?: WakeData): Promise<Worker> {
  const worker = new Worker(entry, { workerData });
  await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('error', reject); });
  return worker;
}

/** Round trips of BARE_PING on a ping thread's port; one listener, answers in order. */
function barePinger(worker: Worker): () => Promise<void> {
  const waiting: Array<() => void> = [];
  worker.on('message', (msg: unknown) => { if (msg === BARE_PING) waiting.shift()?.(); });
  return () => new Promise<void>((resolve) => { waiting.push(resolve); worker.postMessage(BARE_PING); });
}

interface Wake { ring(): Promise<void>; stop(): Promise<unknown> }

async function startWake(mode: WakeData['mode']): Promise<Wake> {
  const slot = new SharedArrayBuffer(8);
  const cells = new Int32Array(slot);
  const worker = await startThread(WAKE_ENTRY, { slot, mode });
  let seq = 0;
  return {
    async ring() {
      const mine = ++seq;
      Atomics.store(cells, REQUEST, mine);
      Atomics.notify(cells, REQUEST);
      for (let seen = Atomics.load(cells, ANSWER); seen !== mine; seen = Atomics.load(cells, ANSWER)) {
        const w = Atomics.waitAsync(cells, ANSWER, seen);
        if (w.async) await w.value;
      }
    },
    stop() {
      Atomics.store(cells, REQUEST, -1);
      Atomics.notify(cells, REQUEST);
      return worker.terminate();
    },
  };
}

async function measureSets(n: number, floors: Floors, settings: BenchSettings): Promise<Row[]> {
  const { pings, bare, doorbells, wakes } = floors;
  const host = await createHost({
    userMemoryBytes: 16 << 20,
    devices: Array.from({ length: n }, (_, i) => ({ name: `mlx5-${i}`, profile: 'mlx5' as const })),
  });
  try {
    const handles = host.deviceNames.map((name) => host.device(name));
    const coordinator = new Coordinator({ trackers: handles, memory: host.memory, allocate: (bytes) => host.alloc(bytes) });
    await coordinator.startAll({ ranges: [{ iova: 0n, length: TRACKED }], pageSize: PAGE });
    const smallBitmap = coordinator.createBitmap(SMALL);
    const largeBitmap = coordinator.createBitmap(LARGE);
    const logs = handles.map((h) => logOf(h));
    const template = largeTemplate(logs[0]!);
    const dirtySmall = () => {
      for (const log of logs) for (let p = 0; p < SMALL_DIRTY_PAGES; p++) log.markWriteNumber(p * 61 * 4096 % Number(SMALL.length), 4096);
    };
    const dirtyLarge = () => { for (const log of logs) new Uint8Array(log.descriptor.buffer).set(template); };
    const tasks: TaskSpec[] = [
      { name: 'rtt', fn: () => pings[0]!.ping(), options: { async: true } },
      { name: 'rtt-parallel', fn: () => Promise.all(pings.slice(0, n).map((p) => p.ping())), options: { async: true } },
      ...(n > 1 ? [
        { name: 'bare-parallel', fn: () => Promise.all(bare.slice(0, n).map((ping) => ping())), options: { async: true } },
        { name: 'doorbell-parallel', fn: () => Promise.all(doorbells.slice(0, n).map((d) => d.ring())), options: { async: true } },
        { name: 'wake-parallel', fn: () => Promise.all(wakes.slice(0, n).map((d) => d.ring())), options: { async: true } },
      ] : []),
      { name: 'small', fn: () => coordinator.reportSet(SMALL, smallBitmap, { zero: true }), options: { async: true, beforeEach: dirtySmall } },
      { name: 'large', fn: () => coordinator.reportSet(LARGE, largeBitmap, { zero: true }), options: { async: true, beforeEach: dirtyLarge } },
      ...handles.map((h, i): TaskSpec => ({
        name: `single-${i}`,
        fn: () => { largeBitmap.zero(); return h.report({ ...LARGE, bitmap: largeBitmap.at }); },
        options: { async: true, beforeEach: () => new Uint8Array(logs[i]!.descriptor.buffer).set(template) },
      })),
    ];
    const m = await medians(tasks, settings);
    await coordinator.close();
    const slowest = Math.max(...handles.map((_, i) => get(m, `single-${i}`)));
    const label = `${n} tracker${n > 1 ? 's' : ''}`;
    return [
      {
        case: `${label}, small window`, measured: fmtMs(get(m, 'small')), baseline: 'one bare comlink round trip', baselineMeasured: fmtMs(get(m, 'rtt')),
        ratio: get(m, 'small') / get(m, 'rtt'), kind: 'time', target: n === 16 ? { op: '<=', value: 3 } : undefined,
      },
      ...(n > 1 ? [{
        case: `${label}, small window`, measured: fmtMs(get(m, 'small')), baseline: `${n} bare comlink round trips at once, one per thread`, baselineMeasured: fmtMs(get(m, 'rtt-parallel')),
        ratio: get(m, 'small') / get(m, 'rtt-parallel'), kind: 'time' as const,
      }, {
        case: `${label}, small window`, measured: fmtMs(get(m, 'small')), baseline: `${n} bare message round trips at once`, baselineMeasured: fmtMs(get(m, 'bare-parallel')),
        ratio: get(m, 'small') / get(m, 'bare-parallel'), kind: 'time' as const,
      }, {
        case: `${n} doorbell round trips at once (Atomics.waitAsync)`, measured: fmtMs(get(m, 'doorbell-parallel')), baseline: `${n} bare message round trips at once`, baselineMeasured: fmtMs(get(m, 'bare-parallel')),
        ratio: get(m, 'doorbell-parallel') / get(m, 'bare-parallel'), kind: 'time' as const,
      }, {
        case: `floor: ${n} threads woken at once from Atomics.wait`, measured: fmtMs(get(m, 'wake-parallel')), baseline: 'one bare comlink round trip', baselineMeasured: fmtMs(get(m, 'rtt')),
        ratio: get(m, 'wake-parallel') / get(m, 'rtt'), kind: 'time' as const,
      }] : []),
      {
        case: `${label}, large window`, measured: fmtMs(get(m, 'large')), baseline: 'slowest tracker reporting alone', baselineMeasured: fmtMs(slowest),
        ratio: get(m, 'large') / slowest, kind: 'time',
      },
    ];
  } finally {
    await host.close();
  }
}

function logOf(handle: DeviceTracker): DirtyLog {
  const descriptor = handle.logDescriptor();
  if (!descriptor) throw new Error(`${handle.name} is not logging`);
  return new DirtyLog(descriptor);
}

/** The log buffer of a device with 1 % of its pages dirty, to copy into every device before a large set. */
function largeTemplate(like: DirtyLog): Uint8Array {
  const scratch = new DirtyLog({ ...like.descriptor, buffer: new SharedArrayBuffer(like.descriptor.buffer.byteLength) });
  const granules = Number(TRACKED / PAGE);
  let x = 0x2545f491;
  for (let i = 0; i < granules * LARGE_DIRTY_FRACTION; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    scratch.markBits(x % granules, 1);
  }
  return new Uint8Array(scratch.descriptor.buffer).slice();
}

