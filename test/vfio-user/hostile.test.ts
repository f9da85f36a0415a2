// Hostile clients against a real server over a real socket: each gets an errno reply or a closed
// session, never a crash or a hang, and the server keeps serving others. At the end every fd the
// server received is closed and every session's tracker thread has ended. Then fast-check throws
// generated messages (valid, mangled and lying) with fds at it.
import test from 'ava';
import fc from 'fast-check';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHeader, encodeMessage } from '../../src/vfio-user/codec.js';
import { VFIO_USER } from '../../src/vfio-user/protocol.js';
import { startVfioUserServer, type VfioUserServer } from '../../src/vfio-user/server.js';
import { VFIO_DEVICE_STATE } from '../../src/uapi/migration.js';
import { ERRNO } from '../../src/uapi/errno.js';
import { GuestMemory, VfioUserClient } from '../helpers/vfio-user-client.js';

test.serial.before(async (t) => {
  // Warm the thread pool and the module graph so that baselines are stable.
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-hostile-'));
  const s = await startVfioUserServer({ socket: join(dir, 's'), logLevel: 'silent' });
  const c = await VfioUserClient.connect(s.path);
  await c.version();
  c.close();
  await s.close();
  rmSync(dir, { recursive: true, force: true });
  t.pass();
});

const fdCount = () => readdirSync('/proc/self/fd').length;
const threadCount = () => readdirSync('/proc/self/task').length;

async function settle(check: () => boolean, ms = 3000): Promise<void> {
  const until = Date.now() + ms;
  while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

/** Cleanups that must run before the leak check (the test's own fds). */
let cleanups: Array<() => void> = [];
const onEnd = (f: () => void) => { cleanups.push(f); };

async function withServer(t: import('ava').ExecutionContext, body: (server: VfioUserServer) => Promise<void>): Promise<void> {
  await settle(() => false, 50);
  const fds = fdCount();
  const threads = threadCount();
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-hostile-'));
  const server = await startVfioUserServer({ socket: join(dir, 's'), logLevel: 'silent' });
  try {
    await body(server);
    // The server still serves a well-behaved client.
    const good = await VfioUserClient.connect(server.path);
    t.false((await good.version()).header.error, 'a fresh session still works');
    good.close();
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    for (const f of cleanups) f();
    cleanups = [];
  }
  t.is(server.sessions, 0);
  await settle(() => fdCount() <= fds && threadCount() <= threads);
  t.true(fdCount() <= fds, `fds ${fdCount()} > ${fds}: an fd was left open`);
  t.true(threadCount() <= threads, `threads ${threadCount()} > ${threads}: a tracker thread was left`);
}

function header(cmd: number, msgSize: number, flags = 0, msgId = 0x77): Uint8Array {
  return encodeHeader({ msgId, cmd, type: flags & 1 ? 'reply' : 'command' }, msgSize).map((b, i) => (i === 8 ? flags & 0xff : b));
}

async function hello(server: VfioUserServer): Promise<VfioUserClient> {
  const c = await VfioUserClient.connect(server.path);
  await c.version();
  return c;
}

const errnoOf = (m: { header: { error: boolean; errorNo: number } }) => (m.header.error ? m.header.errorNo : 0);

test.serial('a short header, then EOF: the session closes', (t) => withServer(t, async (server) => {
  const c = await hello(server);
  await c.sendRaw(header(4, 32).subarray(0, 10));
  c.socket.close();
  await settle(() => server.sessions === 0);
  t.is(server.sessions, 0);
}));

test.serial('msg_size below the header, or above the limit: EINVAL, then the session closes', (t) => withServer(t, async (server) => {
  for (const size of [8, 64 << 20]) {
    const c = await hello(server);
    await c.sendRaw(header(4, size));
    await c.waitRaw(2);
    const reply = c.rawMessages[1]!.bytes;
    t.is(new DataView(reply.buffer, reply.byteOffset).getUint32(12, true), ERRNO.EINVAL);
    t.is(await c.waitClosed(), 'eof');
    c.close();
  }
}));

test.serial('msg_size larger than what is sent, then a disconnect mid-message: closed, no reply', (t) => withServer(t, async (server) => {
  const c = await hello(server);
  const m = new Uint8Array(64);
  m.set(header(VFIO_USER.DEVICE_GET_INFO, 4096));
  await c.sendRaw(m);
  await new Promise((r) => setTimeout(r, 50));
  t.is(c.rawMessages.length, 1); // only the VERSION reply
  c.socket.close();
  await settle(() => server.sessions === 0);
  t.is(server.sessions, 0);
}));

test.serial('unknown commands, a reply where a command is expected, a server-only command: EINVAL, the session goes on', (t) => withServer(t, async (server) => {
  const c = await hello(server);
  for (const cmd of [14, 99, 6]) {
    await c.sendRaw(header(cmd, 16, 0, 0x4000 + cmd));
  }
  await c.sendRaw(header(VFIO_USER.DEVICE_GET_INFO, 16, 1, 0x4100)); // a reply from the client
  await c.sendRaw(encodeMessage({ header: { msgId: 0x4200, cmd: VFIO_USER.DMA_READ, type: 'command' }, body: { kind: 'dma-access', addr: 0n, count: 8n, data: new Uint8Array(0) } }));
  await c.waitRaw(6);
  for (const m of c.rawMessages.slice(1)) t.is(new DataView(m.bytes.buffer, m.bytes.byteOffset).getUint32(12, true), ERRNO.EINVAL);
  const info = await c.request(VFIO_USER.DEVICE_GET_INFO, { kind: 'device-info', argsz: 16, flags: 0, numRegions: 0, numIrqs: 0, tail: new Uint8Array(0) });
  t.false(info.header.error);
  c.close();
}));

test.serial('the first message is not VERSION, or a bad VERSION: EINVAL and closed', (t) => withServer(t, async (server) => {
  const a = await VfioUserClient.connect(server.path);
  const r = await a.request(VFIO_USER.DEVICE_GET_INFO, { kind: 'device-info', argsz: 16, flags: 0, numRegions: 0, numIrqs: 0, tail: new Uint8Array(0) });
  t.is(errnoOf(r), ERRNO.EINVAL);
  t.is(await a.waitClosed(), 'eof');
  a.close();
  for (const json of ['{"capabilities":{"max_msg_fds":"8"}}', '{"capabilities":{"migration":{"pgsize":8192}}}']) {
    const b = await VfioUserClient.connect(server.path);
    t.is(errnoOf(await b.version(json)), ERRNO.EINVAL);
    t.is(await b.waitClosed(), 'eof');
    b.close();
  }
  const major = await VfioUserClient.connect(server.path);
  t.is(errnoOf(await major.request(VFIO_USER.VERSION, { kind: 'version', major: 1, minor: 0, json: null })), ERRNO.EINVAL);
  major.close();
}));

test.serial('too many fds, fds where none belong: EINVAL, and the fds are closed', (t) => withServer(t, async (server) => {
  const memory = new GuestMemory(1 << 16);
  onEnd(() => memory.close());
  const c = await hello(server);
  const map = encodeMessage({ header: { msgId: 0x10, cmd: VFIO_USER.DMA_MAP, type: 'command' }, body: { kind: 'dma-map', argsz: 32, flags: 3, offset: 0n, addr: 0n, size: 0x1000n, tail: new Uint8Array(0) } });
  await c.sendRaw(map, [memory.fd, memory.fd]); // DMA_MAP takes one
  await c.sendRaw(map, Array.from({ length: 12 }, () => memory.fd)); // past max_msg_fds
  await c.sendRaw(header(VFIO_USER.DEVICE_GET_INFO, 16, 0, 0x11), [memory.fd]);
  await c.waitRaw(4);
  const errnos = c.rawMessages.slice(1).map((m) => new DataView(m.bytes.buffer, m.bytes.byteOffset).getUint32(12, true));
  t.deepEqual(errnos, [ERRNO.EINVAL, ERRNO.EINVAL, ERRNO.EINVAL]);
  c.close();
}));

test.serial('a disconnect mid-migration and while logging: the session ends, STOP, tracker gone', (t) => withServer(t, async (server) => {
  const memory = new GuestMemory(1 << 16);
  onEnd(() => memory.close());
  const c = await hello(server);
  t.false((await c.dmaMap(memory, 0n, 0x10000n)).header.error);
  t.false((await c.start(4096n)).header.error);
  t.false((await c.setState(VFIO_DEVICE_STATE.PRE_COPY)).header.error);
  t.false((await c.migRead(1024)).header.error);
  const pending = c.migRead(1024);
  c.socket.close();
  await t.throwsAsync(pending);
  await settle(() => server.sessions === 0);
  t.is(server.sessions, 0);
  t.is(server.sessionsEnded, 1);
}));

test.serial('a client that never answers the device\'s DMA commands does not hang the server', (t) => withServer(t, async (server) => {
  const memory = new GuestMemory(1 << 16);
  onEnd(() => memory.close());
  const c = await VfioUserClient.connect(server.path, { serveDma: false });
  await c.version();
  t.false((await c.dmaMap(memory, 0n, 0x10000n, 0n, false)).header.error);
  const regs = new Uint8Array(0x20);
  const v = new DataView(regs.buffer);
  v.setBigUint64(0x10, 0x100n, true);
  v.setUint32(0x1c, 1, true);
  t.false((await c.regionWrite(0, 0n, regs)).header.error);
  // The DMA_WRITE came and is left unanswered; commands are still served.
  const info = await c.request(VFIO_USER.DEVICE_GET_INFO, { kind: 'device-info', argsz: 16, flags: 0, numRegions: 0, numIrqs: 0, tail: new Uint8Array(0) });
  t.false(info.header.error);
  t.true(c.rawMessages.some((m) => new DataView(m.bytes.buffer, m.bytes.byteOffset).getUint16(2, true) === VFIO_USER.DMA_WRITE));
  c.close();
}));

test.serial('fuzz: generated messages with fds over a real socket never crash, hang or leak', (t) => withServer(t, async (server) => {
  const memory = new GuestMemory(1 << 16);
  onEnd(() => memory.close());
  const cmd = fc.oneof(fc.constantFrom(...Object.values(VFIO_USER)), fc.integer({ min: 0, max: 40 }));
  const message = fc.record({
    cmd,
    flags: fc.oneof(fc.constant(0), fc.constant(1), fc.constant(0x10), fc.integer({ min: 0, max: 0xff })),
    payload: fc.uint8Array({ maxLength: 96 }),
    sizeDelta: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: -20, max: 40 })),
    fds: fc.integer({ min: 0, max: 3 }),
  });
  await fc.assert(fc.asyncProperty(fc.array(message, { minLength: 1, maxLength: 8 }), fc.boolean(), async (messages, handshake) => {
    const c = await VfioUserClient.connect(server.path);
    try {
      if (handshake) await c.version();
      for (const m of messages) {
        const bytes = new Uint8Array(16 + m.payload.length);
        bytes.set(m.payload, 16);
        const v = new DataView(bytes.buffer);
        v.setUint16(0, 0x7000, true);
        v.setUint16(2, m.cmd, true);
        v.setUint32(4, Math.max(0, bytes.length + m.sizeDelta), true);
        v.setUint32(8, m.flags, true);
        if (c.closedBy !== null) break;
        await c.sendRaw(bytes, Array.from({ length: m.fds }, () => memory.fd)).catch(() => {});
      }
      await new Promise((r) => setTimeout(r, 10));
    } finally {
      c.close();
    }
  }), { numRuns: 40, seed: 11 });
  await settle(() => server.sessions === 0);
  t.is(server.sessions, 0);
}));
