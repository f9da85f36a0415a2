// Guest sizes and rates the migration refuses up front, guests above 4 GiB it must handle, and a
// run that throws half-way without leaving its writer pool to fail as an unhandled rejection.
import test from 'ava';
import { estimateFootprint } from '../../src/migration/footprint.js';
import { compareMemory } from '../../src/migration/memory-check.js';
import { migrate } from '../../src/migration/migration.js';
import { AUTO_BYTES_MAX_RAM, MAX_BYTE_RAM_BYTES, MAX_RAM_BYTES, MIN_RATE_BYTES, fillMigrationOptions, type MigrationOptions } from '../../src/migration/options.js';
import { DmalogError } from '../../src/errors.js';
import { planLog } from '../../src/device/dirty-log.js';
import { MAX_USER_MEMORY_BYTES } from '../../src/host/options.js';
import { buildMemoryMap, trackingRanges } from '../../src/migration/memory-map.js';
import { bitmapBytes } from '../../src/uapi/user-memory.js';
import { failed } from '../../src/util/result.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const small: MigrationOptions = { ram: '16M', vcpus: 1, devices: [{ profile: 'mlx5' }], writerThreads: 1 };

test('compareMemory spans guests above 4 GiB (past one Uint8Array) and names a page beyond 4 GiB', (t) => {
  // Never-written SharedArrayBuffers stay unbacked: this costs time (~2 s), not 8 GiB.
  const bytes = 4 * GiB + MiB;
  const source = new SharedArrayBuffer(bytes);
  const destination = new SharedArrayBuffer(bytes);
  const page = (4 * GiB) / 4096 + 7;
  new Uint32Array(source)[(page * 4096) / 4] = 1;
  const r = compareMemory(source, destination, 4096);
  t.false(r.identical);
  t.is(r.differingPages, 1);
  t.deepEqual(r.firstDiffering, [page]);
  t.is(r.pagesCompared, bytes / 4096);
});

test('guest RAM is refused past the typed-array limit and bandwidth or link speed below the floor', (t) => {
  const bad = (o: MigrationOptions, field: string) => {
    const error = t.throws(() => fillMigrationOptions(o), { instanceOf: DmalogError });
    t.is(error?.code, 'DMALOG_BAD_OPTION');
    t.true(error!.message.startsWith(`${field}:`), error?.message);
  };
  t.is(fillMigrationOptions({ ram: MAX_RAM_BYTES }).ram, MAX_RAM_BYTES);
  bad({ ram: MAX_RAM_BYTES + 4096 }, 'ram');
  t.is(fillMigrationOptions({ ram: MAX_BYTE_RAM_BYTES, memory: 'bytes' }).memory, 'bytes');
  bad({ ram: MAX_BYTE_RAM_BYTES + 4096, memory: 'bytes' }, 'ram');
  // auto: bytes up to AUTO_BYTES_MAX_RAM, versions above.
  t.is(fillMigrationOptions({ ram: AUTO_BYTES_MAX_RAM }).memory, 'bytes');
  t.is(fillMigrationOptions({ ram: AUTO_BYTES_MAX_RAM + 4096 }).memory, 'versions');
  t.is(fillMigrationOptions({ ram: '16M', memory: 'versions' }).memory, 'versions');
  bad({ ram: '1P' }, 'ram');
  bad({ bandwidth: MIN_RATE_BYTES - 1 }, 'bandwidth');
  bad({ linkSpeed: 1 }, 'linkSpeed');
  bad({ bandwidth: '256M', linkSpeed: '128M' }, 'linkSpeed');
  bad({ hostPageSize: 1 << 20 }, 'hostPageSize');
  bad({ seed: -1 }, 'seed');
  bad({ seed: '0x10000000000000000' }, 'seed');
  bad({ faults: [{ device: 'mlx5-0', iteration: 32, kind: 'report-error' }] }, 'faults[0].iteration');
  t.is(fillMigrationOptions({ seed: '0xffffffffffffffff' }).seed, (1n << 64n) - 1n);
  t.is(fillMigrationOptions({ faults: [{ device: 'mlx5-0', iteration: 31, kind: 'report-error' }] }).faults.length, 1);
});

test('page versions cost 8 bytes per page in the estimate, not twice the RAM', (t) => {
  const bytes = estimateFootprint(fillMigrationOptions({ ...small, ram: '1G', memory: 'bytes' }), 2).bytes;
  const versions = estimateFootprint(fillMigrationOptions({ ...small, ram: '1G', memory: 'versions' }), 2).bytes;
  t.true(bytes > 2 * GiB);
  t.true(versions < 200 * MiB, String(versions));
  // 1 TiB in versions mode: 2 GiB of versions plus the bitmaps, within 4 GiB.
  const tib = estimateFootprint(fillMigrationOptions({ ram: '1T', devices: [{ profile: 'mlx5' }, { profile: 'pds' }] }), 2).bytes;
  t.true(tib > 2 * GiB && tib < 4 * GiB, String(tib));
});

test('the largest guest (4 TiB) fits the host as it is: its report bitmap in user memory, every log within the default maxLogBytes', (t) => {
  const map = buildMemoryMap({ ramBytes: MAX_RAM_BYTES, pageSize: 4096, bars: Array.from({ length: 8 }, (_, i): [string, number] => [`d${i}`, 32 * MiB]) });
  const largest = map.ram.reduce((m, x) => (x.length > m ? x.length : m), 0n);
  // One bit per 4 KiB page of the largest section: 128 MiB, far below user memory's 4 GiB.
  t.true(Number(bitmapBytes(largest / 4096n)) <= 129 * MiB);
  t.true(Number(bitmapBytes(largest / 4096n)) < MAX_USER_MEMORY_BYTES);
  // Every tracker logs the three tracking ranges at 4 KiB: 128 MiB and summaries, under 256 MiB.
  const log = planLog(4096n, trackingRanges(map), 256 * MiB);
  t.false(failed(log));
  // Past 4 TiB the logs would need more than the default: RAM is capped there (and page indexes stay below 2^30).
  const beyond = buildMemoryMap({ ramBytes: 2 * MAX_RAM_BYTES, pageSize: 4096 });
  t.true(failed(planLog(4096n, trackingRanges(beyond), 256 * MiB)));
});

test('migrate refuses a guest whose estimate exceeds maxMemory before starting anything', async (t) => {
  const o = fillMigrationOptions({ ...small, ram: '1G' });
  const need = estimateFootprint(o).bytes;
  t.true(need > 2 * GiB);
  const error = await t.throwsAsync(migrate({ ...small, ram: '1G', maxMemory: need - 1 }), { instanceOf: DmalogError });
  t.is(error?.code, 'DMALOG_NO_MEMORY');
});

test('a 64 KiB host page size runs (the user memory holds a page of ranges per device)', async (t) => {
  const r = await migrate({ ...small, ram: '32M', hostPageSize: 65536 });
  t.is(r.status, 'completed');
  t.true(r.check!.identical);
});

test('a run that throws mid-window ends its writer pool without an unhandled rejection', async (t) => {
  let unhandled = 0;
  const onUnhandled = () => { unhandled++; };
  process.on('unhandledRejection', onUnhandled);
  t.teardown(() => { process.off('unhandledRejection', onUnhandled); });
  // A hook throws at a sync. When writers raced the syncs, that window's bursts were still queued
  // on two pool threads, and closing the pool under them terminated them ("Terminating worker
  // thread", unhandled) in about one run of three, or crashed on a late result ("Unexpected message
  // from Worker"). Writes no longer overlap a sync; the run must still end clean, at the first sync
  // and at a later one (after stretches of writes have run).
  for (const at of [1, 2, 1, 3]) {
    const bug = new Error('hook failed');
    const error = await t.throwsAsync(migrate({ ram: '16M', writerThreads: 2 }, { onIteration: (s) => { if (s.iteration === at) throw bug; } }));
    t.is(error, bug);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(unhandled, 0);
});
