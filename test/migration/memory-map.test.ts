import test from 'ava';
import { addressablePageIova, buildMemoryMap, iovaToRamOffset, trackingRanges } from '../../src/migration/memory-map.js';

const MiB = 1 << 20;
const GiB = 1 << 30;
const P = 4096;

test('a small guest: RAM below 4 GiB around the VGA window, BARs from the first GiB above 4 GiB', (t) => {
  const map = buildMemoryMap({ ramBytes: 64 * MiB, pageSize: P, bars: [['nic0', 32 * MiB], ['nvme0', 16 * MiB]] });
  t.deepEqual(map.sections.map((s) => [s.name, s.kind, s.iova, s.length, s.offset]), [
    ['ram-low', 'ram', 0n, 0xa_0000n, 0],
    ['ram-low', 'ram', 0xc_0000n, BigInt(64 * MiB - 0xc_0000), 0xc_0000],
    ['bar:nic0', 'bar', 0x1_0000_0000n, BigInt(32 * MiB), -1],
    ['bar:nvme0', 'bar', 0x1_0200_0000n, BigInt(16 * MiB), -1],
  ]);
  t.is(map.addressablePages, (64 * MiB - 0x2_0000) / P);
  t.deepEqual(trackingRanges(map), [
    { iova: 0n, length: BigInt(64 * MiB) },
    { iova: 0x1_0000_0000n, length: BigInt(48 * MiB) },
  ]);
});

test('a 4 GiB guest: 3 GiB low, the PCI hole, 1 GiB high at offset 3 GiB, three tracking ranges', (t) => {
  const map = buildMemoryMap({ ramBytes: 4 * GiB, pageSize: P, bars: [['nic0', 32 * MiB]] });
  const high = map.sections.find((s) => s.name === 'ram-high')!;
  t.deepEqual([high.iova, high.length, high.offset], [0x1_0000_0000n, BigInt(GiB), 3 * GiB]);
  t.deepEqual(trackingRanges(map), [
    { iova: 0n, length: 0xc000_0000n },
    { iova: 0x1_0000_0000n, length: 0x4000_0000n },
    { iova: 0x1_4000_0000n, length: BigInt(32 * MiB) },
  ]);
  t.is(iovaToRamOffset(map, 0x1_0000_1000n), 3 * GiB + 0x1000);
  t.is(iovaToRamOffset(map, 0xc000_0000n), -1); // the PCI hole
  t.is(iovaToRamOffset(map, 0xa_0000n), -1); // the VGA window
  t.is(iovaToRamOffset(map, 0x1_4000_0000n), -1); // a BAR is not RAM
});

test('addressable pages skip the VGA window and continue above 4 GiB', (t) => {
  const map = buildMemoryMap({ ramBytes: 4 * GiB, pageSize: P });
  t.is(addressablePageIova(map, 0), 0n);
  t.is(addressablePageIova(map, 159), 0x9_f000n);
  t.is(addressablePageIova(map, 160), 0xc_0000n);
  const lowPages = (3 * GiB - 0x2_0000) / P;
  t.is(addressablePageIova(map, lowPages), 0x1_0000_0000n);
  t.is(map.addressablePages, lowPages + GiB / P);
  t.throws(() => addressablePageIova(map, map.addressablePages), { code: 'DMALOG_BAD_OPTION' });
});

test('BARs are naturally aligned; bad RAM sizes are refused', (t) => {
  const map = buildMemoryMap({ ramBytes: 64 * MiB, pageSize: P, bars: [['a', 16 * MiB], ['b', 32 * MiB]] });
  t.deepEqual(map.sections.filter((s) => s.kind === 'bar').map((s) => s.iova), [0x1_0000_0000n, 0x1_0200_0000n]);
  t.throws(() => buildMemoryMap({ ramBytes: MiB, pageSize: P }), { code: 'DMALOG_BAD_OPTION' });
  t.throws(() => buildMemoryMap({ ramBytes: 64 * MiB + 512, pageSize: P }), { code: 'DMALOG_BAD_OPTION' });
});
