// host.openIommufd(): the iommufd on a real host, in its own thread (and in this one with the
// in-thread transport): the raw ioctl on the host's user memory, the typed layer, the object
// calls on device fds of this host, and host.dmaWrite marking both the device log and the HWPT's.
import test, { type ExecutionContext } from 'ava';
import { createHost, type Host } from '../../src/host/host.js';
import type { DeviceOptions } from '../../src/host/options.js';
import type { TransportKind } from '../../src/host/transport.js';
import { IOMMU_HWPT_GET_DIRTY_BITMAP, IOMMU_HWPT_SET_DIRTY_TRACKING } from '../../src/iommufd/abi.js';
import { UserMemory } from '../../src/uapi/user-memory.js';
import { ERRNO } from '../../src/uapi/errno.js';
import { errnoOf, PAGE, setBits } from '../helpers/abi.js';
import { HUGE, MiB, putGet, putSet } from '../helpers/iommufd.js';

const MLX5: DeviceOptions = { name: 'mlx', profile: 'mlx5' };
const NONE: DeviceOptions = { name: 'none', profile: 'none' };
const PLAIN: DeviceOptions = { name: 'plain', profile: 'none', iommuDirty: false };
const CALL_AT = 0x100;
const BITMAP_AT = 0x1000;

async function hostOn(t: ExecutionContext, transport: TransportKind, devices = [MLX5, NONE, PLAIN]): Promise<Host> {
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', transport, devices });
  t.teardown(() => host.close());
  return host;
}

function both(title: string, body: (t: ExecutionContext, transport: TransportKind) => Promise<void>): void {
  for (const transport of ['worker', 'in-thread'] as const) {
    test(transport === 'worker' ? title : `${title} [in-thread]`, (t) => body(t, transport));
  }
}

both('openIommufd: raw ioctl reads its struct from host.memory and answers 0 or -errno', async (t, transport) => {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  t.is(iommufd.transport, transport);
  const mem = new UserMemory(host.memory);
  const ioas = await iommufd.allocIoas();
  const dev = await iommufd.bind(host.open('none'));
  const hwpt = await iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  t.is(await iommufd.ioctl(0x3b8a, CALL_AT), -ERRNO.ENOTTY);
  t.is(await iommufd.ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING, putSet(mem, CALL_AT, { hwptId: 999 })), -ERRNO.ENOENT);
  t.is(await iommufd.ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING, putSet(mem, CALL_AT, { hwptId: ioas })), -ERRNO.ENOENT);
  t.is(await iommufd.ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING, putSet(mem, CALL_AT, { hwptId: hwpt, flags: 2 })), -ERRNO.EOPNOTSUPP);
  t.is(await iommufd.ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING, host.memory.byteLength - 2), -ERRNO.EFAULT);
  t.is(await iommufd.ioctl(IOMMU_HWPT_SET_DIRTY_TRACKING, putSet(mem, CALL_AT, { hwptId: hwpt })), 0);
  t.is(await iommufd.ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP, putGet(mem, CALL_AT, { hwptId: hwpt, iova: 0n, length: PAGE, pageSize: 0n, data: BigInt(BITMAP_AT) })), -ERRNO.EINVAL);
  t.is(await iommufd.ioctl(IOMMU_HWPT_GET_DIRTY_BITMAP, putGet(mem, CALL_AT, { hwptId: hwpt, iova: 0n, length: PAGE, data: BigInt(BITMAP_AT) })), 0);
});

both('a device whose IOMMU lacks the capability (iommuDirty: false): no dirty HWPT for it (EOPNOTSUPP), a plain one is fine', async (t, transport) => {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  const ioas = await iommufd.allocIoas();
  const plain = await iommufd.bind(host.open('plain'));
  t.deepEqual(await iommufd.hwInfo(plain), { dirtyTracking: false });
  t.is(await errnoOf(iommufd.allocHwpt(plain, ioas, { dirtyTracking: true })), 'EOPNOTSUPP');
  const hwpt = await iommufd.allocHwpt(plain, ioas);
  t.false(await iommufd.hasDirtyCapability(hwpt));
  t.is(await errnoOf(iommufd.setDirtyTracking(hwpt, true)), 'EOPNOTSUPP');
  const nic = await iommufd.bind(host.open('mlx'));
  t.deepEqual(await iommufd.hwInfo(nic), { dirtyTracking: true });
});

both('bind: a device bound already (through any fd) → EINVAL; a closed fd → EBADF; ids from one space', async (t, transport) => {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  const ioas = await iommufd.allocIoas();
  const fd = host.open('mlx');
  const dev = await iommufd.bind(fd);
  t.not(dev, ioas);
  t.is(await errnoOf(iommufd.bind(host.open('mlx'))), 'EINVAL');
  const other = host.open('none');
  await host.close(other);
  t.is(await errnoOf(iommufd.bind(other)), 'EBADF');
  t.is(await errnoOf(iommufd.attach(dev, ioas)), 'ENOENT');
});

both('host.dmaWrite marks the device log and the HWPT log of the HWPT it is attached to, once tracking is enabled', async (t, transport) => {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  const fd = host.open('mlx');
  const ioas = await iommufd.allocIoas();
  await iommufd.map(ioas, 0n, 4n * MiB, { huge: true });
  await iommufd.map(ioas, 4n * MiB, 64n * PAGE);
  const dev = await iommufd.bind(fd);
  const hwpt = await iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  t.is(host.iommuLogDescriptor(fd), null, 'not attached yet');
  await iommufd.attach(dev, hwpt);
  t.not(host.iommuLogDescriptor(fd), null);
  const device = host.device('mlx');
  await device.startLogging({ pageSize: PAGE, ranges: [{ iova: 4n * MiB, length: 64n * PAGE }] });
  await host.dmaWrite(fd, 4n * MiB + 3n * PAGE, 1n); // before enabling: the device log only
  await iommufd.setDirtyTracking(hwpt, true);
  await host.dmaWrite(fd, 4n * MiB + 5n * PAGE, 2n * PAGE);
  await host.dmaWrite(fd, HUGE + 17n, 1n); // huge mapping, outside the device's ranges
  const bits = (4n * MiB + 64n * PAGE) / PAGE;
  t.is(await iommufd.getDirtyBitmap({ hwptId: hwpt, iova: 0n, length: bits * PAGE, pageSize: PAGE, bitmap: BITMAP_AT }), 512 + 2);
  const huge = Array.from({ length: 512 }, (_, i) => 512 + i);
  t.deepEqual(setBits(host.memory, BITMAP_AT, Number(bits)), [...huge, 1024 + 5, 1024 + 6]);
  host.zero(BITMAP_AT, 0x1000);
  t.is(await device.report({ iova: 4n * MiB, length: 64n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT }), 3);
  t.deepEqual(setBits(host.memory, BITMAP_AT, 64), [3, 5, 6]);
  host.zero(BITMAP_AT, 0x1000);
  t.is(await iommufd.getDirtyBitmap({ hwptId: hwpt, iova: 0n, length: bits * PAGE, pageSize: PAGE, bitmap: BITMAP_AT }), 0, 'the first GET cleared');
});

both('a mapping added after attach is marked too; unmap takes its bits; detach stops the marking', async (t, transport) => {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  const fd = host.open('none');
  const ioas = await iommufd.allocIoas();
  const dev = await iommufd.bind(fd);
  const hwpt = await iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  await iommufd.attach(dev, hwpt);
  await iommufd.setDirtyTracking(hwpt, true);
  await iommufd.map(ioas, 0n, 16n * PAGE);
  await host.dmaWrite(fd, 2n * PAGE, 1n);
  const get = () => iommufd.getDirtyBitmap({ hwptId: hwpt, iova: 0n, length: 16n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT, noClear: true });
  t.is(await get(), 1);
  await iommufd.unmap(ioas, 0n, 16n * PAGE);
  host.zero(BITMAP_AT, 8);
  t.is(await get(), 0);
  await iommufd.map(ioas, 0n, 16n * PAGE);
  await iommufd.detach(dev);
  t.is(host.iommuLogDescriptor(fd), null);
  await host.dmaWrite(fd, 3n * PAGE, 1n);
  t.is(await get(), 0);
  t.deepEqual(await iommufd.mappings(ioas), [{ iova: 0n, length: 16n * PAGE, huge: false }]);
});

/** Device `name` attached to a dirty-tracking HWPT (tracking on) over an IOAS mapping each [first page, pages) at 4 KiB. */
async function trackedThrough(t: ExecutionContext, transport: TransportKind, name: string, maps: Array<[bigint, bigint]>) {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  const fd = host.open(name);
  const ioas = await iommufd.allocIoas();
  for (const [first, pages] of maps) await iommufd.map(ioas, first * PAGE, pages * PAGE);
  const dev = await iommufd.bind(fd);
  const hwpt = await iommufd.allocHwpt(dev, ioas, { dirtyTracking: true });
  await iommufd.attach(dev, hwpt);
  await iommufd.setDirtyTracking(hwpt, true);
  return { host, iommufd, fd, ioas, hwpt };
}

both('host.dmaWrite by a device attached to a HWPT, to IOVA not all mapped in its IOAS: an IOMMU fault, EFAULT, logged nowhere', async (t, transport) => {
  const { host, iommufd, fd, hwpt } = await trackedThrough(t, transport, 'mlx', [[0n, 16n], [32n, 16n]]);
  const device = host.device('mlx');
  // The device's own log covers the hole too: a faulting write must not reach it either.
  await device.startLogging({ pageSize: PAGE, ranges: [{ iova: 0n, length: 64n * PAGE }] });
  t.is(await errnoOf(host.dmaWrite(fd, 20n * PAGE, 1n)), 'EFAULT', 'in the hole between the mappings');
  t.is(await errnoOf(host.dmaWrite(fd, 15n * PAGE, 2n * PAGE)), 'EFAULT', 'runs off the end of a mapping');
  t.is(await errnoOf(host.dmaWrite(fd, 48n * PAGE, PAGE)), 'EFAULT', 'past the last mapping');
  t.is(await errnoOf(host.dmaRead(fd, 20n * PAGE, 1n)), 'EFAULT', 'a read faults alike');
  const window = { iova: 0n, length: 64n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT };
  const hwptBits = () => iommufd.getDirtyBitmap({ hwptId: hwpt, ...window, noClear: true });
  t.is(await hwptBits(), 0, 'the HWPT log has none of them');
  t.is(await device.report(window), 0, 'nor has the device log');
  await host.dmaWrite(fd, 33n * PAGE, 1n); // mapped: both logs
  await host.dmaRead(fd, 0n, 16n * PAGE);
  t.is(await hwptBits(), 1);
  t.deepEqual(setBits(host.memory, BITMAP_AT, 64), [33]);
  host.zero(BITMAP_AT, 8);
  t.is(await device.report(window), 1);
  t.deepEqual(setBits(host.memory, BITMAP_AT, 64), [33]);
});

both('host.dmaWrite racing an unmap: a write issued after the unmap faults (EFAULT); one issued before it is in the HWPT log until the unmap takes it', async (t, transport) => {
  const { host, iommufd, fd, ioas, hwpt } = await trackedThrough(t, transport, 'none', [[0n, 16n], [16n, 16n]]);
  // Issued together: the iommufd takes them in call order, so the first write lands before the
  // unmap, the second after it, whatever the thread hop.
  const [before, unmapped, after, other] = await Promise.allSettled([
    host.dmaWrite(fd, 3n * PAGE, 1n), iommufd.unmap(ioas, 0n, 16n * PAGE), host.dmaWrite(fd, 4n * PAGE, 1n), host.dmaWrite(fd, 17n * PAGE, 1n)]);
  t.is(before.status, 'fulfilled');
  t.is(unmapped.status, 'fulfilled');
  t.is(after.status === 'rejected' ? (after.reason as { errno?: string }).errno : 'resolved', 'EFAULT');
  t.is(other.status, 'fulfilled');
  t.is(await iommufd.getDirtyBitmap({ hwptId: hwpt, iova: 0n, length: 32n * PAGE, pageSize: PAGE, bitmap: BITMAP_AT }), 1, 'the unmap took page 3 with its mapping');
  t.deepEqual(setBits(host.memory, BITMAP_AT, 32), [17]);
});

both('host.close ends the iommufd: later calls reject ENODEV; close of the handle is idempotent', async (t, transport) => {
  const host = await hostOn(t, transport);
  const iommufd = await host.openIommufd();
  const dev = await iommufd.bind(host.open('mlx'));
  t.true(dev > 0);
  await host.close();
  t.is(await errnoOf(iommufd.allocIoas()), 'ENODEV');
  await iommufd.close();
  await t.throwsAsync(host.openIommufd(), { code: 'DMALOG_CLOSED' });
});
