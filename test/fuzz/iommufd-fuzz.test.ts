// The iommufd lanes of the fuzz: hostile SET_DIRTY_TRACKING / GET_DIRTY_BITMAP calls reach every
// errno contract §7 has and succeed often, and the lanes' checks catch what they claim to: an ioctl
// made to misbehave in each way fails the run with that kind of failure, at a call that replays.
import test from 'ava';
import { GET_DIRTY_FLAGS_OFFSET, IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR } from '../../src/iommufd/abi.js';
import { iommufdIoctl } from '../../src/iommufd/ioctl.js';
import { UserMemory } from '../../src/uapi/user-memory.js';
import { ERRNO } from '../../src/uapi/errno.js';
import { expectIommufdCall } from '../../src/fuzz/iommu-expect.js';
import { DirtyModel } from '../../src/fuzz/dirty-model.js';
import { runFuzz, type FuzzOptions } from '../../src/fuzz/runner.js';
import type { IommufdIoctl } from '../../src/fuzz/iommu-lane.js';
import { putGet, putSet } from '../helpers/iommufd.js';

const SEED = Number(process.env['DMALOG_FUZZ_SEED'] ?? 20_260_301);
const SPEC_ERRNOS = ['E2BIG', 'EFAULT', 'EINVAL', 'ENOENT', 'ENOTTY', 'EOPNOTSUPP', 'EOVERFLOW'];

test('iommufd lanes: a few thousand hostile calls give every contract §7 errno and successes, and every check holds', async (t) => {
  const report = await runFuzz({ seed: SEED, calls: 8000, lanes: 1, iommuLanes: 2 });
  t.is(report.failure, null, `seed ${SEED}`);
  t.is(report.iommuLanes, 2);
  const dirty = report.byIommu['iommufd-dirty']!;
  const plain = report.byIommu['iommufd-plain']!;
  t.deepEqual(Object.keys(dirty).sort(), ['ok', ...SPEC_ERRNOS].sort());
  t.true(dirty.ok! > 100, `${dirty.ok} successes`);
  // Without the capability nothing succeeds: a call that passes every other check is EOPNOTSUPP.
  t.deepEqual(Object.keys(plain).sort(), SPEC_ERRNOS);
  for (const errno of SPEC_ERRNOS) t.true((dirty[errno as keyof typeof dirty] ?? 0) >= 5, errno);
  // The iommufd calls are in the totals, and every call is counted once.
  const sum = (c: object) => Object.values(c as Record<string, number>).reduce((a, b) => a + b, 0);
  t.is(sum(report.counts), 8000);
  t.is(sum(dirty) + sum(plain) + sum(report.byProfile.mlx5!), 8000);
  t.true(report.verifies > 2 && report.rounds > 3);
});

test('iommufd lanes replay by seed: the same seed gives the same outcomes; 0 lanes gives none', async (t) => {
  const run = (iommuLanes: number) => runFuzz({ seed: 9, calls: 2000, lanes: 1, iommuLanes });
  const [a, b, none] = [await run(3), await run(3), await run(0)];
  t.deepEqual([a.counts, a.byIommu, a.dma], [b.counts, b.byIommu, b.dma]);
  t.deepEqual(Object.keys(a.byIommu).sort(), ['iommufd-dirty', 'iommufd-plain']);
  t.deepEqual(none.byIommu, {});
  t.deepEqual(Object.keys(none.counts).includes('ENOENT'), false);
});

test('runFuzz refuses iommuLanes that are not a non-negative integer', async (t) => {
  for (const iommuLanes of [-1, 1.5, Number.NaN]) {
    const error = await t.throwsAsync(runFuzz({ seed: 1, calls: 10, iommuLanes }));
    t.is((error as { code?: string }).code, 'DMALOG_BAD_OPTION', String(iommuLanes));
  }
});

// The expectation is the fuzzer's own reading of contract §7, checked here on hand-made calls.
test('the expectation: contract §7 order on hand-laid structs', (t) => {
  const mem = new UserMemory(new SharedArrayBuffer(4096));
  const kind = (id: number) => (id === 1 ? 'dirty' as const : id === 2 ? 'plain' as const : null);
  const get = (g: Parameters<typeof putGet>[2]) => {
    mem.bytes.fill(0);
    putGet(mem, 0, g);
    return expectIommufdCall(mem.bytes, IOMMU_HWPT_GET_DIRTY_BITMAP, 0n, kind).errno;
  };
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, data: 1024n }), null);
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, size: 47 }), 'EINVAL');
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, reserved: 1 }), 'EOPNOTSUPP');
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, flags: 2 }), 'EOPNOTSUPP');
  t.is(get({ hwptId: 3, iova: 0n, length: 8192n }), 'ENOENT');
  t.is(get({ hwptId: 1, iova: 4096n, length: 0n }), 'EOVERFLOW');
  t.is(get({ hwptId: 1, iova: 0n, length: 0n }), null, 'length 0 at iova 0 passes and reads nothing');
  t.is(get({ hwptId: 1, iova: (1n << 64n) - 8192n, length: 8192n, data: 1024n }), null, 'an inclusive end of 2^64 - 1');
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, pageSize: 0n }), 'EINVAL');
  t.is(get({ hwptId: 1, iova: 4096n, length: 8192n, pageSize: 6144n }), 'EINVAL', 'the mask 6143 has bit 12');
  t.is(get({ hwptId: 1, iova: 8192n, length: 8192n, pageSize: 6144n, data: 1024n }), null);
  t.is(get({ hwptId: 2, iova: 0n, length: 8192n }), 'EOPNOTSUPP');
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, data: 4089n }), 'EFAULT', 'a whole u64 word must fit');
  t.is(get({ hwptId: 1, iova: 0n, length: 8192n, data: 4088n }), null);
  mem.bytes.fill(0);
  putSet(mem, 0, { hwptId: 1, size: 20 });
  mem.bytes[18] = 1;
  t.is(expectIommufdCall(mem.bytes, 0x3b8b, 0n, kind).errno, 'E2BIG');
  t.is(expectIommufdCall(mem.bytes, 0x3b8b, 4094n, kind).errno, 'EFAULT');
  t.is(expectIommufdCall(mem.bytes, 0x3b8a, 0n, kind).errno, 'ENOTTY');
});

test('the model of written pages: 4 KiB granules, whole 2 MiB ones when huge, clipped, cleared only when wholly inside', (t) => {
  const model = new DirtyModel([{ iova: 0n, length: 4n << 20n, huge: true }, { iova: 4n << 20n, length: 1n << 20n, huge: false }]);
  model.write(0n, 1n);
  t.is(model.size, 0, 'not tracking: nothing logged');
  model.setTracking(true);
  model.write((4n << 20n) - 1n, 2n); // the end of the huge mapping and the first small page
  t.deepEqual([...model.get(2n << 20n, 2n << 20n, 1n << 20n, true)].sort(), [0, 1]);
  t.deepEqual([...model.get(3n << 20n, 2n << 20n, 1n << 20n, false)].sort(), [0, 1], 'the huge granule clipped to the window');
  t.is(model.size, 1, 'the huge granule is only partly inside: it stays; the small one went');
});

// Each sabotage wraps the real raw ioctl; only GETs and only some of them misbehave.

function isGet(memory: UserMemory, request: number, ptr: number | bigint, flags?: number): boolean {
  const at = Number(ptr);
  if (request !== IOMMU_HWPT_GET_DIRTY_BITMAP || at < 0 || at + 48 > memory.byteLength) return false;
  return flags === undefined || memory.view.getUint32(at + GET_DIRTY_FLAGS_OFFSET, true) === flags;
}

async function sabotagedRun(ioctl: IommufdIoctl, extra: Partial<FuzzOptions> = {}) {
  return runFuzz({ seed: SEED, calls: 6000, lanes: 1, iommuLanes: 2, iommufdIoctl: ioctl, ...extra });
}

async function assertReplays(t: import('ava').ExecutionContext, ioctl: IommufdIoctl, kind: string): Promise<void> {
  const first = await sabotagedRun(ioctl);
  t.like(first.failure, { kind });
  t.true(first.failure!.profile.startsWith('iommufd-'), first.failure!.profile);
  const k = first.failure!.callIndex;
  t.is(k % 3, first.failure!.lane, 'call k runs on lane k % (lanes + iommuLanes)');
  const replay = await sabotagedRun(ioctl, { calls: k + 1 });
  t.like(replay.failure, { kind, callIndex: k, lane: first.failure!.lane, call: first.failure!.call, detail: first.failure!.detail });
}

test.serial('a clearing GET that does not clear is a bits failure (the next GET shows pages the model cleared)', async (t) => {
  await assertReplays(t, (iommufd, memory, request, ptr, contract) => {
    if (!isGet(memory, request, ptr, 0)) return iommufdIoctl(iommufd, memory, request, ptr, contract);
    const at = Number(ptr) + GET_DIRTY_FLAGS_OFFSET;
    memory.view.setUint32(at, IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, true);
    try {
      return iommufdIoctl(iommufd, memory, request, ptr, contract);
    } finally {
      memory.view.setUint32(at, 0, true);
    }
  }, 'bits');
});

test.serial('a GET that sets none of its bits is a bits failure', async (t) => {
  await assertReplays(t, (iommufd, memory, request, ptr, contract) => {
    const before = memory.bytes.slice();
    const r = iommufdIoctl(iommufd, memory, request, ptr, contract);
    if (isGet(memory, request, ptr)) memory.bytes.set(before);
    return r;
  }, 'bits');
});

test.serial('the wrong errno (EINVAL for an unknown id) is an errno failure', async (t) => {
  await assertReplays(t, (iommufd, memory, request, ptr, contract) => {
    const r = iommufdIoctl(iommufd, memory, request, ptr, contract);
    return r === -ERRNO.ENOENT && isGet(memory, request, ptr) ? -ERRNO.EINVAL : r;
  }, 'errno');
});

test.serial('a stray byte written by a failed GET is a canary failure', async (t) => {
  await assertReplays(t, (iommufd, memory, request, ptr, contract) => {
    const r = iommufdIoctl(iommufd, memory, request, ptr, contract);
    if (r !== 0 && isGet(memory, request, ptr)) memory.bytes[memory.byteLength - 1]! ^= 0x10;
    return r;
  }, 'canary');
});

test.serial('a failed GET that clears the dirty bits is caught by the clearing GET after it (bits)', async (t) => {
  const scratch = new UserMemory(new SharedArrayBuffer(1 << 16));
  await assertReplays(t, (iommufd, memory, request, ptr, contract) => {
    const r = iommufdIoctl(iommufd, memory, request, ptr, contract);
    if (r !== 0 && isGet(memory, request, ptr)) {
      // Behind the caller's back: a clearing GET of the whole huge mapping at 0 into other memory.
      const id = memory.view.getUint32(Number(ptr) + 4, true);
      putGet(scratch, 0, { hwptId: id, iova: 0n, length: 4n << 20n, data: 1024n });
      iommufdIoctl(iommufd, scratch, IOMMU_HWPT_GET_DIRTY_BITMAP, 0);
    }
    return r;
  }, 'bits');
});

test.serial('a return value that is neither 0 nor -errno, or a throw, is an exception failure', async (t) => {
  const weird = await sabotagedRun((iommufd, memory, request, ptr, contract) => (isGet(memory, request, ptr, 1) ? 1 : iommufdIoctl(iommufd, memory, request, ptr, contract)));
  t.like(weird.failure, { kind: 'exception' });
  const thrown = await sabotagedRun((iommufd, memory, request, ptr, contract) => {
    if (isGet(memory, request, ptr, 1)) throw new TypeError('boom');
    return iommufdIoctl(iommufd, memory, request, ptr, contract);
  });
  t.like(thrown.failure, { kind: 'exception' });
});
