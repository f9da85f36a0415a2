// The IOMMU tracker in a report set beside a device tracker (contract §6, §7): both report into one
// user bitmap, which ends up holding exactly the union of their writes.
import test from 'ava';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { ReportBitmap } from '../../src/coordinator/report-bitmap.js';
import { IommuTracker } from '../../src/trackers/iommu-tracker.js';
import { FakeTracker } from '../helpers/fake-tracker.js';
import { errnoOf, PAGE } from '../helpers/abi.js';
import { HUGE, rig } from '../helpers/iommufd.js';

const WINDOW = { iova: 0n, length: 2n * HUGE, pageSize: PAGE };
const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function bitsOf(bitmap: ReportBitmap): number[] {
  const out: number[] = [];
  bitmap.forEachDirty((b) => out.push(b));
  return out;
}

function setup(options: { plain?: boolean } = {}) {
  const r = rig(1 << 16);
  r.iommufd.map(r.ioas, 0n, HUGE); // 4 KiB pages
  r.iommufd.map(r.ioas, HUGE, HUGE, { huge: true });
  let top = r.calls.scratchAt;
  const allocate = (bytes: number) => (top = Math.floor((top - bytes) / 8) * 8);
  const events: string[] = [];
  const device = new FakeTracker('dev0', r.mem.buffer, events);
  const iommu = new IommuTracker({ calls: r.calls, hwptId: options.plain ? r.plainHwpt : r.hwpt });
  const coordinator = new Coordinator({ trackers: [device, iommu], memory: r.mem.buffer, allocate });
  return { ...r, device, iommu, coordinator, events };
}

test('IommuTracker: kind iommu; probe follows the HWPT\'s capability; START enables (4 KiB), STOP disables', async (t) => {
  const s = setup();
  t.is(s.iommu.kind, 'iommu');
  t.is(s.iommu.name, `hwpt-${s.hwpt}`);
  t.true(await s.iommu.probe());
  t.false(await new IommuTracker({ calls: s.calls, hwptId: s.plainHwpt }).probe());
  t.false(await new IommuTracker({ calls: s.calls, hwptId: s.ioas }).probe());
  const sizes = await s.coordinator.startAll({ ranges: [{ iova: 0n, length: 2n * HUGE }], pageSize: PAGE });
  t.is(sizes.get(s.iommu.name), 4096n);
  t.true(s.iommufd.pagingHwpt(s.hwpt)!.tracking);
  await s.coordinator.stopAll();
  t.false(s.iommufd.pagingHwpt(s.hwpt)!.tracking);
});

test('a device tracker and the IOMMU tracker report the same and different writes into one bitmap: the exact union', async (t) => {
  const s = setup();
  await s.coordinator.startAll({ ranges: [{ iova: 0n, length: 2n * HUGE }], pageSize: PAGE });
  for (const p of [1n, 2n, 300n]) s.iommufd.dmaWrite(s.dev, p * PAGE, 8n);
  s.iommufd.dmaWrite(s.dev, HUGE + 5n, 1n); // the whole huge granule: pages 512..1023
  for (const p of [2n, 3n, 511n, 600n]) s.device.dirty.add(p * PAGE); // 2 and 600 seen by both
  const bitmap = s.coordinator.createBitmap(WINDOW);
  const result = await s.coordinator.reportSet(WINDOW, bitmap);
  t.deepEqual(result.outcomes.map((o) => [o.name, o.ok, o.pagesReported]), [['dev0', true, 4], [s.iommu.name, true, 515]]);
  t.deepEqual(bitsOf(bitmap), [1, 2, 3, 300, 511, ...range(512, 1024)]);
  bitmap.consume();
  bitmap.zero();
  const again = await s.coordinator.reportSet(WINDOW, bitmap);
  t.deepEqual(bitsOf(bitmap), []);
  t.deepEqual(again.outcomes.map((o) => o.pagesReported), [0, 0]);
});

test('START of an IOMMU tracker whose HWPT lacks the capability → EOPNOTSUPP, the device tracker started before it stopped again', async (t) => {
  const s = setup({ plain: true });
  t.is(await errnoOf(s.coordinator.startAll({ ranges: [{ iova: 0n, length: HUGE }], pageSize: PAGE })), 'EOPNOTSUPP');
  t.deepEqual(s.events, ['start dev0', 'stop dev0']);
  t.false(s.device.logging);
});

test('a report set window the IOMMU refuses (misaligned for 2 MiB pages) fails that tracker with EINVAL under policy fail', async (t) => {
  const s = setup();
  await s.coordinator.startAll({ ranges: [{ iova: 0n, length: 2n * HUGE }], pageSize: PAGE });
  const window = { iova: PAGE, length: HUGE, pageSize: HUGE };
  const bitmap = s.coordinator.createBitmap(window);
  t.is(await errnoOf(s.coordinator.reportSet(window, bitmap)), 'EINVAL');
  t.false(s.iommufd.pagingHwpt(s.hwpt)!.tracking); // logging stopped (policy fail)
});
