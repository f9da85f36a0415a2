// The errors table: every DmalogError code in ERROR_CODES, each provoked once where dmalog raises it,
// asserting the code and the class; then the two VfioErrors that name a tracker (report set, START).
import test from 'ava';
import { readFileSync } from 'node:fs';
import {
  Coordinator, DmaPool, DmalogError, ERROR_CODES, FuzzFailure, InjectedFault, ReportBitmap, ReportSetError, StartError,
  VfioError, ZeroingViolation, createHost, migrate, RecordFileError, GridMismatch, type DmalogCode,
} from '../src/index.js';
import { readRecords } from '../src/sweep/record.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DeviceDriver } from '../src/device/driver.js';
import { runFuzz } from '../src/fuzz/runner.js';
import { fillHostOptions } from '../src/host/options.js';
import { fillMigrationOptions } from '../src/migration/options.js';
import { estimateFootprint } from '../src/migration/footprint.js';
import { checkProbed, checkedGranulePages } from '../src/stress/runner.js';
import { FakeTracker } from './helpers/fake-tracker.js';

const PAGE = 4096n;
const SPAN = { iova: 0n, length: 1n << 20n };
const W = { iova: 0n, length: 1n << 20n, pageSize: PAGE };

function fakes(n: number, verifyZeroed = false) {
  const memory = new SharedArrayBuffer(1 << 16);
  let top = memory.byteLength;
  const allocate = (bytes: number) => (top = Math.floor((top - bytes) / 8) * 8);
  const events: string[] = [];
  const trackers = Array.from({ length: n }, (_, i) => new FakeTracker(`t${i}`, memory, events));
  return { memory, trackers, coordinator: new Coordinator({ trackers, memory, allocate, verifyZeroed }) };
}

/** Whatever `provoke` throws or rejects with. */
async function caught(provoke: () => unknown): Promise<unknown> {
  try {
    await provoke();
  } catch (error) {
    return error;
  }
  throw new Error('nothing was thrown');
}

/** `provoke` throws or rejects with the error; the fuzzer instead reports its FuzzFailure (`reported`). */
type Row = { cls: new (...a: never[]) => DmalogError; provoke: () => unknown; reported?: never } |
  { cls: typeof FuzzFailure; reported: () => Promise<{ code: string; kind: string; callIndex: number } | null>; provoke?: never };

const ROWS: Record<DmalogCode, Row> = {
  DMALOG_BAD_OPTION: { cls: DmalogError, provoke: () => createHost({ logLevel: 'silent', devices: [{ name: 'm', profile: 'mlx5' }], userMemoryBytes: 0 }) },
  DMALOG_STATE: { cls: DmalogError, provoke: () => new ReportBitmap(new SharedArrayBuffer(64), 0, 64).consume() },
  DMALOG_CLOSED: {
    cls: DmalogError,
    provoke: async () => {
      const { coordinator } = fakes(1);
      await coordinator.close();
      await coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
    },
  },
  DMALOG_ZEROING_RULE: {
    cls: ZeroingViolation,
    provoke: async () => {
      const { memory, coordinator } = fakes(1, true);
      await coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
      const bitmap = coordinator.createBitmap(W);
      new Uint8Array(memory)[bitmap.at + 3] = 0x10; // a bit left behind outside the coordinator's view
      await coordinator.reportSet(W, bitmap);
    },
  },
  DMALOG_NO_MEMORY: {
    cls: DmalogError,
    provoke: () => {
      const o = { ram: '1G', vcpus: 1, devices: [{ profile: 'mlx5' as const }], writerThreads: 1 };
      return migrate({ ...o, maxMemory: estimateFootprint(fillMigrationOptions(o)).bytes - 1 });
    },
  },
  DMALOG_UNSUPPORTED: { cls: DmalogError, provoke: () => checkProbed(new Map([['mlx5-0', true], ['none-0', false]])) },
  DMALOG_INJECTED_FAULT: {
    cls: InjectedFault,
    provoke: () => {
      const o = fillHostOptions({ devices: [{ name: 'm', profile: 'mlx5' }] });
      const tracker = new DeviceDriver({ device: o.devices[0]!, userMemory: new SharedArrayBuffer(4096), contract: 'atomic', maxLogBytes: 1 << 20 }, () => { throw new Error('no death here'); });
      tracker.injectFault({ kind: 'throw-in-start' });
      tracker.start(PAGE, [SPAN]);
    },
  },
  DMALOG_SWEEP_OUTPUT: {
    cls: RecordFileError,
    provoke: () => {
      const file = path.join(mkdtempSync(path.join(tmpdir(), 'dmalog-errors-')), 'sweep.jsonl');
      writeFileSync(file, 'not a record\n');
      return readRecords(file);
    },
  },
  DMALOG_FUZZ_FAILURE: {
    cls: FuzzFailure,
    reported: async () => {
      const report = await runFuzz({
        seed: 1, calls: 200, lanes: 1,
        createHost: async (options) => {
          const host = await createHost(options);
          host.ioctl = async () => { throw new TypeError('not an errno'); };
          return host;
        },
      });
      return report.failure;
    },
  },
};

test('ERROR_CODES lists each code once, each with a meaning, and the table below has one row per code', (t) => {
  const codes = Object.keys(ERROR_CODES);
  t.is(new Set(codes).size, codes.length);
  t.true(codes.every((c) => /^DMALOG_[A-Z_]+$/.test(c) && ERROR_CODES[c as DmalogCode].length > 20));
  t.deepEqual(Object.keys(ROWS).sort(), [...codes].sort());
});

for (const [code, row] of Object.entries(ROWS) as Array<[DmalogCode, Row]>) {
  test(`${code}: raised as ${row.cls.name} with its code`, async (t) => {
    if (row.reported) {
      // A rejection that is not a VfioError, on the very first call: an 'exception' failure.
      t.like(await row.reported(), { code, kind: 'exception', callIndex: 0 });
      t.is(new FuzzFailure('exception', 'x').code, code);
      return;
    }
    const error = await caught(row.provoke);
    t.true(error instanceof row.cls, String(error));
    t.true(error instanceof DmalogError);
    t.false(error instanceof VfioError);
    t.is((error as DmalogError).code, code);
  });
}

test('unsupported granule: DMALOG_UNSUPPORTED past the stress windows, the pages otherwise', (t) => {
  t.deepEqual(checkedGranulePages(new Map([['a', PAGE], ['b', 4n * PAGE]])), [1, 4]);
  const error = t.throws(() => checkedGranulePages(new Map([['a', 1n << 30n]])), { instanceOf: DmalogError });
  t.is(error.code, 'DMALOG_UNSUPPORTED');
});

test('a closed DMA pool rejects with DMALOG_CLOSED', async (t) => {
  const pool = new DmaPool({ threads: 1 });
  await pool.close();
  const error = await caught(() => pool.run({} as never));
  t.true(error instanceof DmalogError);
  t.is((error as DmalogError).code, 'DMALOG_CLOSED');
});

test('a failed report set is a ReportSetError: the first failing tracker, its errno, every outcome', async (t) => {
  const { trackers, coordinator } = fakes(3);
  await coordinator.startAll({ ranges: [SPAN], pageSize: PAGE });
  trackers[1]!.failReport = 'EIO';
  const error = await caught(() => coordinator.reportSet(W, coordinator.createBitmap(W)));
  t.true(error instanceof ReportSetError);
  t.true(error instanceof VfioError);
  const e = error as ReportSetError;
  t.like(e, { errno: 'EIO', code: 5, tracker: 't1', name: 'ReportSetError' });
  t.deepEqual(e.outcomes.map((o) => [o.name, o.errno]), [['t0', null], ['t1', 'EIO'], ['t2', null]]);
});

test('a failed START is a StartError naming the tracker and how many were rolled back', async (t) => {
  const { trackers, coordinator } = fakes(4);
  trackers[3]!.failStart = 'ENOMEM';
  const error = await caught(() => coordinator.startAll({ ranges: [SPAN], pageSize: PAGE }));
  t.true(error instanceof StartError);
  t.false(error instanceof ReportSetError);
  const e = error as StartError;
  t.like(e, { errno: 'ENOMEM', code: 12, tracker: 't3', rolledBack: 3, name: 'StartError' });
  t.true(e.cause instanceof VfioError);
  t.deepEqual(trackers.map((tr) => tr.logging), [false, false, false, false]);
});

test('VfioError subclasses do not make every VfioError one of theirs', (t) => {
  const plain = new VfioError('EIO');
  t.true(plain instanceof VfioError);
  t.false(plain instanceof ReportSetError);
  t.false(plain instanceof StartError);
});

test('README\'s error table has one row per code, in ERROR_CODES order', (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const rows = [...readme.matchAll(/^\| `(DMALOG_[A-Z_]+)` \|/gm)].map((m) => m[1]);
  t.deepEqual(rows, Object.keys(ERROR_CODES));
});

test('GridMismatch is a RecordFileError with the same code', (t) => {
  const e = new GridMismatch('out/sweep.jsonl: holds points of another grid');
  t.true(e instanceof RecordFileError);
  t.true(e instanceof DmalogError);
  t.is(e.code, 'DMALOG_SWEEP_OUTPUT');
  t.is(e.name, 'GridMismatch');
});
