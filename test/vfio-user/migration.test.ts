// Migration v2 over vfio-user: the MIGRATION feature, the state machine's arcs and walks, the
// PRE_COPY and STOP_COPY streams, and RESUMING on a second server: the destination's registers and
// BAR1 equal the source's. Bad arcs and bad stream sizes get EINVAL and leave the state as it was.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VFIO_DEVICE_FEATURE_GET, VFIO_DEVICE_FEATURE_MIGRATION, VFIO_DEVICE_FEATURE_PROBE, VFIO_DEVICE_FEATURE_SET,
  VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE } from '../../src/uapi/abi.js';
import { ERRNO } from '../../src/uapi/errno.js';
import { VFIO_DEVICE_STATE as S } from '../../src/uapi/migration.js';
import { DMA_BAR1_BYTES, DMA_FINAL_STREAM_BYTES, REG, REGISTER_FILE_BYTES } from '../../src/vfio-user/devices/dma-device.js';
import { migrationWalk } from '../../src/vfio-user/migration-state.js';
import { startVfioUserServer, type VfioUserServer } from '../../src/vfio-user/server.js';
import { VfioUserClient } from '../helpers/vfio-user-client.js';

async function server(t: import('ava').ExecutionContext): Promise<VfioUserServer> {
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-mig-'));
  const s = await startVfioUserServer({ socket: join(dir, 'vfu.sock'), logLevel: 'silent' });
  t.teardown(async () => { await s.close(); rmSync(dir, { recursive: true, force: true }); });
  return s;
}
async function client(t: import('ava').ExecutionContext, s: VfioUserServer): Promise<VfioUserClient> {
  const c = await VfioUserClient.connect(s.path);
  t.teardown(() => c.close());
  t.false((await c.version()).header.error);
  return c;
}
const errnoOf = (m: { header: { error: boolean; errorNo: number } }) => (m.header.error ? m.header.errorNo : 0);

async function readStream(c: VfioUserClient, chunk: number): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for (;;) {
    const m = await c.migRead(chunk);
    if (m.body.kind !== 'mig-data') throw new Error(`MIG_DATA_READ failed: ${m.header.errorNo}`);
    // Every reply is padded to the size asked for.
    if (m.header.msgSize !== 16 + 8 + chunk) throw new Error(`reply of ${m.header.msgSize} bytes`);
    if (m.body.size === 0) return chunks;
    chunks.push(m.body.data);
  }
}

test('the walk: shortest paths along the direct arcs, PRE_COPY only from RUNNING, P2P and ERROR refused', (t) => {
  t.deepEqual(migrationWalk(S.RUNNING, S.STOP_COPY), { steps: [S.STOP, S.STOP_COPY] });
  t.deepEqual(migrationWalk(S.RUNNING, S.RESUMING), { steps: [S.STOP, S.RESUMING] });
  t.deepEqual(migrationWalk(S.RESUMING, S.RUNNING), { steps: [S.STOP, S.RUNNING] });
  t.deepEqual(migrationWalk(S.STOP_COPY, S.RUNNING), { steps: [S.STOP, S.RUNNING] });
  t.deepEqual(migrationWalk(S.PRE_COPY, S.STOP), { steps: [S.RUNNING, S.STOP] });
  t.deepEqual(migrationWalk(S.PRE_COPY, S.STOP_COPY), { steps: [S.STOP_COPY] });
  t.deepEqual(migrationWalk(S.STOP, S.STOP), { steps: [] });
  for (const to of [S.ERROR, S.RUNNING_P2P, S.PRE_COPY_P2P, 8, 0xffffffff]) t.deepEqual(migrationWalk(S.RUNNING, to), { errno: 'EINVAL' });
  for (const from of [S.STOP_COPY, S.STOP, S.RESUMING] as const) t.deepEqual(migrationWalk(from, S.PRE_COPY), { errno: 'EINVAL' });
});

test('MIGRATION and MIG_DEVICE_STATE features: flags, PROBE, GET, SET echo, rejected arcs leave the state', async (t) => {
  const c = await client(t, await server(t));
  const flags = await c.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, new Uint8Array(8));
  t.like(flags.body, { kind: 'feature', argsz: 16, data: { kind: 'migration', flags: 5n } });
  t.is(flags.header.msgSize, 32);
  t.is(errnoOf(await c.feature(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_MIGRATION, new Uint8Array(0))), ERRNO.EINVAL);
  t.is(errnoOf(await c.feature(VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIGRATION, new Uint8Array(8))), ERRNO.EINVAL);
  t.false((await c.feature(VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIG_DEVICE_STATE, new Uint8Array(0))).header.error);
  t.is(await c.getState(), S.RUNNING);
  const set = await c.setState(S.STOP_COPY);
  t.is(set.header.msgSize, 32);
  if (set.body.kind !== 'feature' || set.body.data.kind !== 'mig-state') return t.fail();
  t.like(set.body.data, { deviceState: S.STOP_COPY, dataFd: -1 });
  t.is(await c.getState(), S.STOP_COPY);
  t.is(errnoOf(await c.setState(S.PRE_COPY)), ERRNO.EINVAL);
  for (const bad of [S.ERROR, S.RUNNING_P2P, S.PRE_COPY_P2P, 9]) t.is(errnoOf(await c.setState(bad)), ERRNO.EINVAL);
  t.is(await c.getState(), S.STOP_COPY);
  t.is(errnoOf(await c.migWrite(new Uint8Array(8))), ERRNO.EINVAL); // not RESUMING
  t.is(errnoOf(await c.migRead(2048)), ERRNO.EINVAL); // above the client's max_data_xfer_size 1024
  t.false((await c.setState(S.RUNNING)).header.error);
  t.is(errnoOf(await c.migRead(64)), ERRNO.EINVAL); // not saving
});

test('PRE_COPY → STOP_COPY → STOP to a second server with RESUMING: the destination equals the source', async (t) => {
  const src = await client(t, await server(t));
  const dst = await client(t, await server(t));
  const bar1 = Uint8Array.from({ length: DMA_BAR1_BYTES }, (_, i) => (i * 7 + 1) & 0xff);
  t.false((await src.regionWrite(1, 0n, bar1)).header.error);
  const scratch = Uint8Array.from({ length: REGISTER_FILE_BYTES - REG.SCRATCH }, (_, i) => 255 - i);
  t.false((await src.regionWrite(0, BigInt(REG.SCRATCH), scratch)).header.error);

  t.false((await src.setState(S.PRE_COPY)).header.error);
  const initial = await readStream(src, 1024);
  t.is(initial.length, DMA_BAR1_BYTES / 1024);
  // The guest keeps running: a BAR1 write after the initial copy must reach the destination.
  t.false((await src.regionWrite(1, 0x100n, Uint8Array.of(0xee, 0xef))).header.error);
  bar1.set([0xee, 0xef], 0x100);
  t.false((await src.setState(S.STOP_COPY)).header.error);
  const final = await readStream(src, 1000);
  t.is(final.reduce((n, c) => n + c.length, 0), DMA_FINAL_STREAM_BYTES);
  t.false((await src.setState(S.STOP)).header.error);

  // RUNNING → RESUMING walks through STOP; the stream goes back in the chunks it came in.
  t.false((await dst.setState(S.RESUMING)).header.error);
  t.is(await dst.getState(), S.RESUMING);
  for (const chunk of final) t.false((await dst.migWrite(chunk)).header.error);
  t.is(errnoOf(await dst.migWrite(new Uint8Array(1))), ERRNO.EINVAL); // past the end of the stream
  t.false((await dst.setState(S.RUNNING)).header.error);
  t.is(await dst.getState(), S.RUNNING);
  const got1 = await dst.regionRead(1, 0n, DMA_BAR1_BYTES);
  const got0 = await dst.regionRead(0, 0n, REGISTER_FILE_BYTES);
  const want0 = await src.regionRead(0, 0n, REGISTER_FILE_BYTES);
  if (got1.body.kind !== 'region-access' || got0.body.kind !== 'region-access' || want0.body.kind !== 'region-access') return t.fail();
  t.deepEqual(got1.body.data, bar1);
  t.deepEqual(got0.body.data, want0.body.data);
  t.deepEqual(got0.body.data.subarray(REG.SCRATCH), scratch);
});

test('RESUMING with a short or foreign stream: STOP is EINVAL and the device stays RESUMING', async (t) => {
  const c = await client(t, await server(t));
  t.false((await c.setState(S.RESUMING)).header.error);
  t.false((await c.migWrite(new Uint8Array(1024))).header.error);
  t.is(errnoOf(await c.setState(S.STOP)), ERRNO.EINVAL);
  t.is(await c.getState(), S.RESUMING);
  // A whole stream of the right size but not of this device (no magic).
  for (let n = 1024; n < DMA_FINAL_STREAM_BYTES; n += 1024) t.false((await c.migWrite(new Uint8Array(Math.min(1024, DMA_FINAL_STREAM_BYTES - n)))).header.error);
  t.is(errnoOf(await c.setState(S.RUNNING)), ERRNO.EINVAL);
  t.is(await c.getState(), S.RESUMING);
});
