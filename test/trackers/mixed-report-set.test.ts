// A report set mixing a device tracker (mlx5, logging) and the IOMMU tracker of the HWPT it is
// attached to, on a real host: the iommufd in its own thread, DMA bursts on pool threads marking
// both logs, report sets racing them into one bitmap. Every written page is found (no loss), only
// written pages are found, and a write in the huge mapping shows as its whole 2 MiB.
import test from 'ava';
import { Coordinator } from '../../src/coordinator/coordinator.js';
import type { ReportBitmap } from '../../src/coordinator/report-bitmap.js';
import { DmaPool } from '../../src/dma/pool.js';
import { createHost } from '../../src/host/host.js';
import { generatePages, type WorkloadSpec } from '../../src/workload/workload.js';
import { PAGE } from '../helpers/abi.js';
import { HUGE, MiB } from '../helpers/iommufd.js';

const GUEST_BYTES = 8n * MiB;
const GUEST_PAGES = Number(GUEST_BYTES / PAGE);
const HUGE_PAGES = Number(HUGE / PAGE);
const WINDOW = { iova: 0n, length: GUEST_BYTES, pageSize: PAGE };

function bitsOf(bitmap: ReportBitmap): number[] {
  const out: number[] = [];
  bitmap.forEachDirty((b) => out.push(b));
  return out;
}

async function rig() {
  const host = await createHost({ userMemoryBytes: 1 << 20, logLevel: 'silent', devices: [{ name: 'mlx', profile: 'mlx5' }, { name: 'none', profile: 'none' }] });
  const pool = new DmaPool({ threads: 2 });
  const iommufd = await host.openIommufd();
  const ioas = await iommufd.allocIoas();
  await iommufd.map(ioas, 0n, HUGE, { huge: true });
  await iommufd.map(ioas, HUGE, GUEST_BYTES - HUGE);
  const mlx = host.device('mlx');
  const none = host.device('none');
  const mlxId = await iommufd.bind(mlx.fd);
  const noneId = await iommufd.bind(none.fd);
  const hwpt = await iommufd.allocHwpt(mlxId, ioas, { dirtyTracking: true });
  await iommufd.attach(mlxId, hwpt);
  await iommufd.attach(noneId, hwpt);
  const iommu = iommufd.tracker(hwpt);
  const coordinator = new Coordinator({ trackers: [mlx, iommu], memory: host.memory, allocate: (n) => host.alloc(n) });
  const close = async () => { await pool.close(); await host.close(); };
  return { host, pool, iommufd, mlx, none, iommu, coordinator, close };
}

test('device tracker + IOMMU tracker, writers on other threads, several rounds: the union of resolved writes, none lost, none invented', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  t.is(r.iommufd.transport, 'worker');
  await r.coordinator.startAll({ ranges: [{ iova: 0n, length: GUEST_BYTES }], pageSize: PAGE });
  const guest = new SharedArrayBuffer(Number(GUEST_BYTES));
  const workloadOf = (writer: number): WorkloadSpec => ({ kind: 'uniform', pageBase: 0, pageCount: GUEST_PAGES, writer, writers: 2, stream: writer });
  const devices = [r.mlx, r.none];
  t.deepEqual(devices.map((d) => d.burstTarget()!.logs.map((l) => l.kind)), [['log', 'hwpt'], ['hwpt']]);
  /** Bits a written page must set: itself, or the whole huge mapping. */
  const expand = (page: number) => (page < HUGE_PAGES ? Array.from({ length: HUGE_PAGES }, (_, i) => i) : [page]);
  const written = new Set<number>();
  const seen = new Set<number>();
  const bitmap = r.coordinator.createBitmap(WINDOW);
  const ROUNDS = 6;
  for (let round = 0; round < ROUNDS; round++) {
    const bursts = devices.flatMap((d, writer) => [0, 1].map((q) => {
      const burstId = round * 2 + q;
      const target = d.burstTarget()!;
      return r.pool.run({ guest, guestIova: 0n, logs: target.logs, control: target.control, workload: workloadOf(writer), seed: 7n, burstId, count: 400 })
        .then((res) => ({ res, writer, burstId }));
    }));
    // A report set while the bursts run: what it finds must already be written or in flight.
    const racing = await r.coordinator.reportSet(WINDOW, bitmap);
    t.true(racing.outcomes.every((o) => o.ok));
    for (const b of bitsOf(bitmap)) seen.add(b);
    bitmap.consume();
    bitmap.zero();
    for (const { res, writer, burstId } of await Promise.all(bursts)) {
      t.is(res.logged, 400);
      t.deepEqual(res.granules, writer === 0 ? [400, 400] : [400]);
      for (const p of generatePages(workloadOf(writer), 7n, burstId, 400)) for (const b of expand(p)) written.add(b);
    }
    for (const b of seen) t.true(written.has(b), `bit ${b} reported without a write`);
  }
  // The set after the last writes resolved: everything written is found by now.
  await r.coordinator.reportSet(WINDOW, bitmap);
  for (const b of bitsOf(bitmap)) seen.add(b);
  bitmap.consume();
  t.deepEqual([...seen].sort((a, b) => a - b), [...written].sort((a, b) => a - b));
  t.true(written.size > 1000);
  await r.coordinator.stopAll();
});

test('one write by a device that cannot log lands in the huge mapping: the IOMMU tracker sets the whole 2 MiB in the shared bitmap, the device tracker adds its own page', async (t) => {
  const r = await rig();
  t.teardown(r.close);
  await r.coordinator.startAll({ ranges: [{ iova: 0n, length: GUEST_BYTES }], pageSize: PAGE });
  await r.host.dmaWrite(r.none.fd, 0x12345n, 1n); // inside the huge mapping
  await r.host.dmaWrite(r.mlx.fd, HUGE + 7n * PAGE, 16n); // a 4 KiB mapping: both trackers see it
  const bitmap = r.coordinator.createBitmap(WINDOW);
  const result = await r.coordinator.reportSet(WINDOW, bitmap);
  t.deepEqual(result.outcomes.map((o) => [o.name, o.pagesReported]), [['mlx', 1], [r.iommu.name, HUGE_PAGES + 1]]);
  t.deepEqual(bitsOf(bitmap), [...Array.from({ length: HUGE_PAGES }, (_, i) => i), HUGE_PAGES + 7]);
});
