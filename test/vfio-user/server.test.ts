// The vfio-user server over a real socket, driven by the TypeScript client: handshake, region
// info in both argsz rounds (sparse mmap capability and its fd), config space, DMA map/unmap with a
// real file fd, START with no ranges and with explicit ones, DMA by the device (through the fd and
// by messages) seen in REPORT windows that are not whole regions, STOP, and the libvfio-user quirks.
import test from 'ava';
import { fstatSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VFIO_DEVICE_FEATURE_DMA_LOGGING_START, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET } from '../../src/uapi/abi.js';
import { ERRNO } from '../../src/uapi/errno.js';
import { encodeMessage } from '../../src/vfio-user/codec.js';
import { decodeSparseMmapCap } from '../../src/vfio-user/replies.js';
import { DMA_BAR1_BYTES, DMA_STATUS, DOORBELL, REG, REGISTER_FILE_BYTES } from '../../src/vfio-user/devices/dma-device.js';
import { startVfioUserServer, type VfioUserServer, type VfioUserServerOptions } from '../../src/vfio-user/server.js';
import { GuestMemory, IrqFile, reportBitmap, VfioUserClient } from '../helpers/vfio-user-client.js';

const PAGE = 4096n;

async function serve(t: import('ava').ExecutionContext, options: Partial<VfioUserServerOptions> = {}): Promise<{ server: VfioUserServer; client: VfioUserClient; memory: GuestMemory }> {
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-srv-'));
  const server = await startVfioUserServer({ socket: join(dir, 'vfu.sock'), logLevel: 'silent', ...options });
  const client = await VfioUserClient.connect(server.path);
  const memory = new GuestMemory(1 << 20);
  t.teardown(async () => { client.close(); await server.close(); memory.close(); rmSync(dir, { recursive: true, force: true }); });
  const v = await client.version();
  t.false(v.header.error);
  return { server, client, memory };
}

function errnoOf(m: { header: { error: boolean; errorNo: number } }): number {
  return m.header.error ? m.header.errorNo : 0;
}

function u32le(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(at, true);
}

/** Make the DMA device write `length` bytes of `pattern` at `iova`, and wait for DMA_STATUS done. */
async function deviceWrite(client: VfioUserClient, iova: bigint, length: number, pattern: number, byMessages = false): Promise<number> {
  const regs = new Uint8Array(0x20);
  const v = new DataView(regs.buffer);
  v.setBigUint64(REG.DMA_IOVA, iova, true);
  v.setBigUint64(REG.DMA_LENGTH, BigInt(length), true);
  v.setUint32(REG.DMA_PATTERN, pattern, true);
  v.setUint32(REG.DMA_DOORBELL, DOORBELL.WRITE | (byMessages ? DOORBELL.BY_MESSAGES : 0), true);
  const w = await client.regionWrite(0, 0n, regs);
  if (w.header.error) return -w.header.errorNo;
  for (let i = 0; i < 300; i++) {
    const r = await client.regionRead(0, BigInt(REG.DMA_STATUS), 4);
    if (r.body.kind !== 'region-access') throw new Error('no status');
    const status = u32le(r.body.data, 0);
    if (status !== DMA_STATUS.BUSY) return status;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error('DMA never finished');
}

test('handshake: VERSION reply as libvfio-user prints it; a second VERSION is EINVAL', async (t) => {
  const { client } = await serve(t);
  const again = await client.version();
  t.is(errnoOf(again), ERRNO.EINVAL);
  const fresh = await VfioUserClient.connect((await serveAgain(t)).path);
  const v = await fresh.version();
  t.teardown(() => fresh.close());
  t.is(v.body.kind, 'version');
  if (v.body.kind !== 'version') return;
  t.is(v.body.major, 0);
  t.is(v.body.minor, 2);
  t.is(v.body.json, '{ "capabilities": { "max_msg_fds": 8, "max_data_xfer_size": 1048576, "migration": { "pgsize": 4096 } } }');
  t.is(v.header.msgSize, 125);
});

async function serveAgain(t: import('ava').ExecutionContext): Promise<VfioUserServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-srv-'));
  const server = await startVfioUserServer({ socket: join(dir, 'vfu.sock'), logLevel: 'silent' });
  t.teardown(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  return server;
}

test('device info, region info in two argsz rounds with the sparse-mmap fd, config space', async (t) => {
  const { client } = await serve(t, { device: 'pds' });
  const info = await client.request(4, { kind: 'device-info', argsz: 16, flags: 0, numRegions: 0, numIrqs: 0, tail: new Uint8Array(0) });
  t.like(info.body, { kind: 'device-info', argsz: 16, flags: 3, numRegions: 9, numIrqs: 5 });
  const first = await client.regionInfo(1);
  t.like(first.body, { kind: 'region-info', argsz: 32 + 16 + 16, flags: 7, capOffset: 0, size: BigInt(DMA_BAR1_BYTES) });
  t.is(first.fds.length, 0);
  t.is(first.header.msgSize, 48);
  const second = await client.regionInfo(1, 64);
  t.is(second.header.msgSize, 16 + 64);
  t.like(second.body, { kind: 'region-info', argsz: 64, flags: 0xf, capOffset: 32 });
  t.is(second.fds.length, 1);
  t.is(fstatSync(second.fds[0]!).size, DMA_BAR1_BYTES);
  if (second.body.kind !== 'region-info') return;
  const cap = decodeSparseMmapCap(second.body.tail, 0);
  t.deepEqual(cap?.areas, [{ offset: 0n, size: BigInt(DMA_BAR1_BYTES) }]);
  const bar0 = await client.regionInfo(0);
  t.like(bar0.body, { flags: 3, size: BigInt(REGISTER_FILE_BYTES) });
  t.is(errnoOf(await client.regionInfo(9)), ERRNO.EINVAL);
  const config = await client.regionRead(7, 0n, 64);
  if (config.body.kind !== 'region-access') return t.fail();
  const cv = new DataView(config.body.data.buffer, config.body.data.byteOffset);
  t.is(cv.getUint16(0, true), 0x1dd8);
  t.is(config.body.data[0x3d], 1);
  t.is(errnoOf(await client.regionRead(7, 250n, 8)), ERRNO.EINVAL);
  t.is(errnoOf(await client.regionRead(0xdeadbeef, 0n, 4)), ERRNO.EINVAL);
});

test('kernel semantics: START with 0 ranges logs every mapped region; DMA through the fd and by messages is reported in sub-region windows', async (t) => {
  const { client, memory } = await serve(t);
  for (let i = 0n; i < 4n; i++) t.false((await client.dmaMap(memory, 0x10000n * i, 0x10000n)).header.error);
  // One region mapped without an fd: the device reaches it by DMA messages only.
  t.false((await client.dmaMap(memory, 0x100000n, 0x10000n, 0x80000n, false)).header.error);
  const start = await client.start(PAGE);
  t.false(start.header.error);
  t.is(start.header.msgSize, 16 + 8 + 16);
  // Direct DMA into region 1 at +0x3000, 2 pages; by messages into the fd-less region.
  t.is(await deviceWrite(client, 0x13000n, 0x2000, 0x5a), DMA_STATUS.DONE);
  t.deepEqual([...memory.read(0x13000, 4)], [0x5a, 0x5a, 0x5a, 0x5a]);
  t.is(await deviceWrite(client, 0x101000n, 0x1800, 0x33), DMA_STATUS.DONE);
  t.is(client.dmaCommands.filter((c) => c.cmd === 12).length, 6); // 6 KiB in 1 KiB DMA_WRITEs
  t.deepEqual([...memory.read(0x81000, 2)], [0x33, 0x33]);
  // A window across regions 1 and 2 (not a whole region): pages 3 and 4 of it.
  const across = reportBitmap(await client.report(0x10000n, 0x20000n, PAGE));
  t.is(across.length, 8);
  t.deepEqual([...across], [0x18, 0, 0, 0, 0, 0, 0, 0]);
  // Read-and-clear: the same window again is clean.
  t.deepEqual([...reportBitmap(await client.report(0x10000n, 0x20000n, PAGE))], [0, 0, 0, 0, 0, 0, 0, 0]);
  // Message DMA is logged too (kernel: a device's DMA is logged however it travels).
  t.deepEqual([...reportBitmap(await client.report(0x101000n, 0x2000n, PAGE))], [0x3, 0, 0, 0, 0, 0, 0, 0]);
  t.false((await client.stop()).header.error);
  t.is(errnoOf(await client.report(0x10000n, 0x1000n, PAGE)), ERRNO.EINVAL);
});

test('kernel semantics: START with explicit ranges; writes outside them are not reported; bad ranges get the core errno', async (t) => {
  const { client, memory } = await serve(t);
  t.false((await client.dmaMap(memory, 0n, 0x40000n)).header.error);
  t.is(errnoOf(await client.start(PAGE, [{ iova: 0x800n, length: 0x1000n }])), ERRNO.EINVAL);
  t.false((await client.start(PAGE, [{ iova: 0x10000n, length: 0x10000n }])).header.error);
  t.is(errnoOf(await client.start(PAGE, [{ iova: 0x10000n, length: 0x10000n }])), ERRNO.EINVAL); // already logging
  t.is(await deviceWrite(client, 0x0n, 0x1000, 1), DMA_STATUS.DONE);
  t.is(await deviceWrite(client, 0x12000n, 0x1000, 2), DMA_STATUS.DONE);
  t.deepEqual([...reportBitmap(await client.report(0n, 0x20000n, PAGE))], [0, 0, 0x4, 0, 0, 0, 0, 0]); // page 0x12 only
  // A REPORT whose argsz has no room for the bitmap.
  const data = new Uint8Array(24);
  new DataView(data.buffer).setBigUint64(8, 0x1000n, true);
  new DataView(data.buffer).setBigUint64(16, PAGE, true);
  t.is(errnoOf(await client.feature((1 << 16) | 8, data, 8 + 24)), ERRNO.EINVAL);
  // PROBE of START echoes; START on a `none` device is ENOTTY (see the none test).
  const probe = await client.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_DMA_LOGGING_START, new Uint8Array(0));
  t.false(probe.header.error);
});

test('a none device has no DMA logging: START is ENOTTY', async (t) => {
  const { client, memory } = await serve(t, { device: 'none' });
  t.false((await client.dmaMap(memory, 0n, 0x10000n)).header.error);
  t.is(errnoOf(await client.start(PAGE)), ERRNO.ENOTTY);
});

test('libvfio-user quirks: REPORT must be one region; message DMA is not reported; START again with the same page size succeeds', async (t) => {
  const { client, memory } = await serve(t, { quirks: 'libvfio-user' });
  t.false((await client.dmaMap(memory, 0n, 0x2000n)).header.error);
  t.false((await client.dmaMap(memory, 0x2000n, 0x2000n)).header.error);
  t.false((await client.dmaMap(memory, 0x10000n, 0x2000n, 0x10000n, false)).header.error);
  // The ranges are ignored: every region with an fd is logged.
  t.false((await client.start(PAGE, [{ iova: 0x40000n, length: 0x1000n }])).header.error);
  t.false((await client.start(PAGE)).header.error);
  t.is(errnoOf(await client.start(PAGE * 2n)), ERRNO.EINVAL);
  t.is(await deviceWrite(client, 0x2000n, 0x1000, 7), DMA_STATUS.DONE);
  t.is(await deviceWrite(client, 0x0n, 0x1000, 8, true), DMA_STATUS.DONE);
  t.deepEqual([...reportBitmap(await client.report(0x2000n, 0x2000n, PAGE))], [1, 0, 0, 0, 0, 0, 0, 0]);
  t.deepEqual([...reportBitmap(await client.report(0x0n, 0x2000n, PAGE))], [0, 0, 0, 0, 0, 0, 0, 0]);
  t.is(errnoOf(await client.report(0x2000n, 0x1000n, PAGE)), ERRNO.EOPNOTSUPP);
  t.is(errnoOf(await client.report(0x8000n, 0x1000n, PAGE)), ERRNO.ENOENT);
  t.is(errnoOf(await client.report(0x10000n, 0x2000n, PAGE)), ERRNO.EINVAL);
  const spanning = await client.report(0x0n, 0x4000n, PAGE);
  t.false(spanning.header.error);
  t.is(spanning.header.msgSize, 16);
});

test('DMA_UNMAP: one region, GET_DIRTY_BITMAP, ENOENT for unknown or partial, ALL; the fds are closed', async (t) => {
  const { client, memory } = await serve(t);
  for (let i = 0n; i < 3n; i++) t.false((await client.dmaMap(memory, 0x2000n * i, 0x2000n)).header.error);
  t.is(errnoOf(await client.dmaMap(memory, 0x1000n, 0x2000n)), ERRNO.EINVAL); // overlap
  t.false((await client.dmaMap(memory, 0x2000n, 0x2000n)).header.error); // the same again
  t.false((await client.start(PAGE)).header.error);
  t.is(await deviceWrite(client, 0x3000n, 0x1000, 9), DMA_STATUS.DONE);
  const withBitmap = await client.dmaUnmap(0x2000n, 0x2000n, 1, { pgsize: PAGE, size: 8n });
  t.is(withBitmap.header.msgSize, 16 + 24 + 16 + 8);
  if (withBitmap.body.kind !== 'dma-unmap') return t.fail();
  t.deepEqual([...withBitmap.body.tail], [2, 0, 0, 0, 0, 0, 0, 0]);
  t.is(errnoOf(await client.dmaUnmap(0x2000n, 0x2000n)), ERRNO.ENOENT);
  t.is(errnoOf(await client.dmaUnmap(0x0n, 0x1000n)), ERRNO.ENOENT);
  t.is(errnoOf(await client.dmaUnmap(0x0n, 0x1000n, 2)), ERRNO.EINVAL);
  t.is(errnoOf(await client.dmaUnmap(0x0n, 0x0n, 3)), ERRNO.EINVAL);
  const one = await client.dmaUnmap(0x0n, 0x2000n);
  t.is(one.header.msgSize, 40);
  const all = await client.dmaUnmap(0n, 0n, 2);
  t.is(all.header.msgSize, 40);
  // A DMA now faults: nothing is mapped.
  t.is(await deviceWrite(client, 0x4000n, 0x1000, 1), (DMA_STATUS.FAILED | ERRNO.EFAULT) >>> 0);
});

test('SET_IRQS INTx with an eventfd: the device signals it when a DMA is done', async (t) => {
  const { client, memory } = await serve(t);
  const irq = new IrqFile();
  t.teardown(() => irq.close());
  const info = await client.request(7, { kind: 'irq-info', argsz: 16, flags: 0, index: 0, count: 0, tail: new Uint8Array(0) });
  t.like(info.body, { kind: 'irq-info', flags: 1, count: 1 });
  t.is(errnoOf(await client.request(7, { kind: 'irq-info', argsz: 16, flags: 0, index: 5, count: 0, tail: new Uint8Array(0) })), ERRNO.EINVAL);
  const set = await client.setIrqEventfd(0, irq.fd);
  t.is(set.header.msgSize, 16);
  t.is(errnoOf(await client.setIrqEventfd(1, irq.fd)), ERRNO.EINVAL); // MSI has no vectors
  t.false((await client.dmaMap(memory, 0n, 0x1000n)).header.error);
  const regs = new Uint8Array(0x20);
  const v = new DataView(regs.buffer);
  v.setBigUint64(REG.DMA_LENGTH, 0x100n, true);
  v.setUint32(REG.DMA_DOORBELL, DOORBELL.WRITE | DOORBELL.INTX_WHEN_DONE, true);
  t.false((await client.regionWrite(0, 0n, regs)).header.error);
  await irq.waitFor(1);
  t.is(irq.count, 1);
});

test('libvfio-user quirks: commands refused in STOP and STOP_COPY; RESET refused in STOP', async (t) => {
  const { client, memory } = await serve(t, { quirks: 'libvfio-user' });
  const info = () => client.request(4, { kind: 'device-info', argsz: 16, flags: 0, numRegions: 0, numIrqs: 0, tail: new Uint8Array(0) });
  t.false((await client.setState(3)).header.error); // STOP_COPY
  t.is(errnoOf(await info()), ERRNO.EINVAL);
  t.is(errnoOf(await client.regionRead(7, 0n, 4)), ERRNO.EINVAL);
  t.false((await client.setState(1)).header.error); // STOP
  t.is(errnoOf(await client.dmaMap(memory, 0n, 0x1000n)), ERRNO.EINVAL);
  t.is(errnoOf(await client.request(13, { kind: 'reset', tail: new Uint8Array(0) })), ERRNO.EINVAL);
  t.false((await client.regionRead(7, 0n, 4)).header.error);
  t.false((await client.setState(2)).header.error); // RUNNING
  t.false((await info()).header.error);
  t.false((await client.request(13, { kind: 'reset', tail: new Uint8Array(0) })).header.error);
});

test('kernel rules: the same commands are served in STOP; RESET brings the device back to RUNNING', async (t) => {
  const { client, memory } = await serve(t);
  t.false((await client.setState(1)).header.error);
  t.false((await client.dmaMap(memory, 0n, 0x1000n)).header.error);
  t.false((await client.request(13, { kind: 'reset', tail: new Uint8Array(0) })).header.error);
  t.is(await client.getState(), 2);
});

test('NO_REPLY: a command so flagged is carried out and not answered', async (t) => {
  const { client } = await serve(t);
  await client.sendRaw(encodeMessage({ header: { msgId: 0x55, cmd: 10, type: 'command', noReply: true }, body: { kind: 'region-access', offset: BigInt(REG.SCRATCH), region: 0, count: 4, data: Uint8Array.of(1, 2, 3, 4) } }));
  const read = await client.regionRead(0, BigInt(REG.SCRATCH), 4);
  if (read.body.kind !== 'region-access') return t.fail();
  t.deepEqual([...read.body.data], [1, 2, 3, 4]);
  t.is(client.rawMessages.length, 2); // the VERSION reply and this read's
});
