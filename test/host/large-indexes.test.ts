// Indexes past 2^31 and 2^32 on the whole path, through the host: a REPORT window of 2^32 bits
// (the bitmap's bit index), and a log of 2^33 granules (the log's bit index). Every write must
// come back at its own bit (32-bit shifts on the way would drop it or move it to bit mod 2^32).
// Memory is allocated lazily: only the pages touched cost anything.
import test from 'ava';
import { createHost } from '../../src/host/host.js';
import { PAGE } from '../helpers/abi.js';

const MiB = 1n << 20n;

/** Bits set in `bytes` bytes of the bitmap at `at`, scanned a u32 at a time. */
function setBitsSparse(memory: SharedArrayBuffer, at: number, bytes: number): number[] {
  const words = new Int32Array(memory, at, bytes / 4);
  const out: number[] = [];
  for (let w = 0; w < words.length; w++) {
    const v = words[w]!;
    if (v === 0) continue;
    for (let k = 0; k < 32; k++) if ((v >>> k) & 1) out.push(w * 32 + k);
  }
  return out;
}

test('a REPORT window of 2^32 bits: pages at bits 2^31 + 5 and 2^32 - 3 come back exactly', async (t) => {
  const host = await createHost({ userMemoryBytes: 2 ** 30, devices: [{ name: 'nic0', profile: 'mlx5' }] });
  t.teardown(() => host.close());
  const dev = host.device('nic0');
  const far = [2 ** 31 + 5, 2 ** 32 - 3];
  await dev.startLogging({ pageSize: PAGE, ranges: far.map((b) => ({ iova: BigInt(b - 64) * PAGE, length: MiB })) });
  for (const b of far) await dev.dmaWrite(BigInt(b) * PAGE, 1n);
  const bytes = 2 ** 29; // 2^32 bits
  const bitmap = host.alloc(bytes);
  const pages = await dev.report({ iova: 0n, length: 1n << 44n, pageSize: PAGE, bitmap });
  t.is(pages, 2);
  t.deepEqual(setBitsSparse(host.memory, bitmap, bytes), far);
});

test('a report window whose bits start past 2^32: bit 2^32 + 77 of a 2^33-bit window', async (t) => {
  // 2^33 bits: a 1 GiB bitmap in 2 GiB of user memory.
  const host = await createHost({ userMemoryBytes: 2 ** 31, devices: [{ name: 'nic0', profile: 'mlx5' }] });
  t.teardown(() => host.close());
  const dev = host.device('nic0');
  const bit = 2 ** 32 + 77;
  await dev.startLogging({ pageSize: PAGE, ranges: [{ iova: BigInt(bit - 77) * PAGE, length: MiB }] });
  await dev.dmaWrite(BigInt(bit) * PAGE, 2n * PAGE);
  const bytes = 2 ** 30;
  const bitmap = host.alloc(bytes);
  t.is(await dev.report({ iova: 0n, length: 1n << 45n, pageSize: PAGE, bitmap }), 2);
  t.deepEqual(setBitsSparse(host.memory, bitmap, bytes), [bit, bit + 1]);
});

test('a log of 2^33 granules (maxLogBytes raised): writes at granules past 2^31 and 2^32 are reported', async (t) => {
  const host = await createHost({ userMemoryBytes: 1 << 20, maxLogBytes: 2 ** 31, devices: [{ name: 'nvme0', profile: 'pds' }] });
  t.teardown(() => host.close());
  const dev = host.device('nvme0');
  await dev.startLogging({ pageSize: PAGE, ranges: [{ iova: 0n, length: (1n << 33n) * PAGE }] });
  const bitmap = host.alloc(64);
  for (const g of [2 ** 31 + 5, 2 ** 32 + 77, 2 ** 33 - 1]) {
    await dev.dmaWrite(BigInt(g) * PAGE, PAGE);
    host.zero(bitmap, 64);
    const from = g - 63; // the window: 64 pages ending with the write (the last one ends the region)
    t.is(await dev.report({ iova: BigInt(from) * PAGE, length: 64n * PAGE, pageSize: PAGE, bitmap }), 1, `granule ${g}`);
    t.deepEqual(setBitsSparse(host.memory, bitmap, 64).map((b) => b + from), [g]);
    // Read and cleared: the aliases below 2^32 are clean and the next REPORT finds nothing.
    host.zero(bitmap, 64);
    t.is(await dev.report({ iova: BigInt(from) * PAGE, length: 64n * PAGE, pageSize: PAGE, bitmap }), 0);
    t.is(await dev.report({ iova: BigInt(from % 2 ** 31) * PAGE, length: 64n * PAGE, pageSize: PAGE, bitmap }), 0);
  }
});
