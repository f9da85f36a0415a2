// The typed layer's arguments are refused, never wrapped to a struct field's width: an IOVA of
// 2^64 + 4096 used to START logging at 4096, a bitmap pointer of 2^64 pointed at user address 0,
// and a fraction threw a RangeError that was no dmalog error.
import test from 'ava';
import { createHost, type Host } from '../../src/host/host.js';
import { DmalogError, VfioError } from '../../src/errors.js';
import { IommufdCalls } from '../../src/iommufd/ioctl.js';
import { Iommufd } from '../../src/iommufd/iommufd.js';
import { UserMemory } from '../../src/uapi/user-memory.js';

const PAGE = 4096n;
const TWO64 = 1n << 64n;
const badOption = (field: string) => ({ instanceOf: DmalogError, code: 'DMALOG_BAD_OPTION', message: new RegExp(`^${field.replace(/[[\].]/g, '\\$&')}: `) });

async function host(t: { teardown: (f: () => Promise<void>) => void }): Promise<Host> {
  const h = await createHost({ transport: 'in-thread', userMemoryBytes: 1 << 20, devices: [{ name: 'nic', profile: 'mlx5', maxAddressSpaceBits: 64 }] });
  t.teardown(() => h.close());
  return h;
}

test('startLogging: a field that is not a u64 is DMALOG_BAD_OPTION naming it, and nothing starts', async (t) => {
  const h = await host(t);
  const dev = h.device('nic');
  const cases: Array<[unknown, string]> = [
    [{ pageSize: PAGE, ranges: [{ iova: TWO64 + PAGE, length: PAGE }] }, 'ranges[0].iova'],
    [{ pageSize: PAGE, ranges: [{ iova: 0n, length: PAGE }, { iova: -PAGE, length: PAGE }] }, 'ranges[1].iova'],
    [{ pageSize: PAGE, ranges: [{ iova: 0n, length: TWO64 + PAGE }] }, 'ranges[0].length'],
    [{ pageSize: PAGE, ranges: [{ iova: 0.5, length: 4096 }] }, 'ranges[0].iova'],
    [{ pageSize: 4096.5, ranges: [{ iova: 0, length: 4096 }] }, 'pageSize'],
    [{ pageSize: TWO64 + PAGE, ranges: [{ iova: 0n, length: PAGE }] }, 'pageSize'],
    [{ pageSize: '4096', ranges: [{ iova: 0n, length: PAGE }] }, 'pageSize'],
    [{ pageSize: PAGE, ranges: 'all' }, 'ranges'],
    [{ pageSize: PAGE, ranges: [null] }, 'ranges[0]'],
    [null, 'pageSize'],
  ];
  for (const [req, field] of cases) {
    await t.throwsAsync(dev.startLogging(req as never), badOption(field), field);
    t.false(h.inspect(dev.fd).logging, `${field}: nothing started`);
  }
  // Numbers that are integers are u64s as well as bigints are.
  t.is(await dev.startLogging({ pageSize: 4096, ranges: [{ iova: 0, length: 1 << 20 }] }), PAGE);
});

test('report: a window field that is not a u64 is DMALOG_BAD_OPTION; a bitmap pointer naming no address is EFAULT; nothing is read or cleared', async (t) => {
  const h = await host(t);
  const dev = h.device('nic');
  await dev.startLogging({ pageSize: PAGE, ranges: [{ iova: 0n, length: 1n << 20n }] });
  await dev.dmaWrite(3n * PAGE, 1n);
  const bitmap = h.alloc(8);
  const window = { iova: 0n, length: 64n * PAGE, pageSize: PAGE, bitmap };
  await t.throwsAsync(dev.report({ ...window, iova: TWO64 }), badOption('iova'));
  await t.throwsAsync(dev.report({ ...window, length: -PAGE }), badOption('length'));
  await t.throwsAsync(dev.report({ ...window, pageSize: 0.5 }), badOption('pageSize'));
  for (const ptr of [0.5, Number.NaN, TWO64 + BigInt(bitmap), -8, null]) {
    await t.throwsAsync(dev.report({ ...window, bitmap: ptr as never }), { instanceOf: VfioError, message: /^EFAULT/ }, String(ptr));
  }
  t.is(new BigUint64Array(h.memory, bitmap, 1)[0], 0n, 'no bit written anywhere');
  t.is(await dev.report(window), 1, 'the write is still logged');
  t.is(new BigUint64Array(h.memory, bitmap, 1)[0], 1n << 3n);
});

test('IommufdCalls: a GET window that is not a u64, or a HWPT id that is not a u32, is DMALOG_BAD_OPTION; a bad bitmap pointer EFAULT', (t) => {
  const iommufd = new Iommufd();
  const mem = new UserMemory(new SharedArrayBuffer(1 << 16));
  const calls = new IommufdCalls(iommufd, mem, (1 << 16) - 64);
  const ioas = iommufd.allocIoas();
  const dev = iommufd.bindDevice('nic0');
  const hwpt = iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  t.throws(() => calls.setDirtyTracking(hwpt + 2 ** 32, true), badOption('hwptId'), 'would wrap to the HWPT');
  t.throws(() => calls.setDirtyTracking(hwpt + 0.5, true), badOption('hwptId'));
  calls.setDirtyTracking(hwpt, true);
  const get = { hwptId: hwpt, iova: 0n, length: 64n * PAGE, pageSize: PAGE, bitmap: 0x100 };
  t.throws(() => calls.getDirtyBitmap({ ...get, iova: TWO64 }), badOption('iova'));
  t.throws(() => calls.getDirtyBitmap({ ...get, pageSize: -PAGE }), badOption('pageSize'));
  t.throws(() => calls.getDirtyBitmap({ ...get, hwptId: hwpt + 2 ** 32 }), badOption('hwptId'));
  t.throws(() => calls.getDirtyBitmap({ ...get, bitmap: TWO64 + 0x100n }), { instanceOf: VfioError, message: /^EFAULT/ });
  t.throws(() => calls.getDirtyBitmap({ ...get, bitmap: 0.5 }), { instanceOf: VfioError, message: /^EFAULT/ });
  t.throws(() => calls.getDirtyBitmap({ ...get, noClear: 1 as never }), badOption('noClear'), 'a truthy non-boolean was taken as NO_CLEAR');
  t.is(calls.getDirtyBitmap(get), 0);
});
