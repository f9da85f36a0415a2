// The SCM_RIGHTS transport over a real AF_UNIX socket: fds pass both ways, each message gets the
// fds its own sendmsg carried (also when messages arrive glued in one read), and framing works
// on a stream cut at arbitrary points.
import test from 'ava';
import { closeSync, fstatSync, mkdtempSync, openSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectUnix, listenUnix, type MessageSocket } from '../../src/vfio-user/unix-socket.js';

function message(cmd: number, payload: number): Uint8Array {
  const b = new Uint8Array(16 + payload);
  const v = new DataView(b.buffer);
  v.setUint16(0, cmd, true); v.setUint16(2, cmd, true); v.setUint32(4, b.length, true);
  b.fill(cmd & 0xff, 16);
  return b;
}

function collect(s: MessageSocket) {
  const got: Array<{ bytes: Uint8Array; fds: number[] }> = [];
  let wake: (() => void) | null = null;
  s.listen({ message: (bytes, fds) => { got.push({ bytes, fds }); wake?.(); }, framing: () => {}, close: () => wake?.() });
  return {
    got,
    async until(n: number): Promise<void> {
      while (got.length < n) await new Promise<void>((r) => { wake = r; });
    },
  };
}

test('fds pass client → server and server → client, each with its own message', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-us-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sock');
  writeFileSync(join(dir, 'a'), 'A'); writeFileSync(join(dir, 'b'), 'B');
  let serverSide!: MessageSocket;
  const accepted = new Promise<void>((resolve) => {
    void listenUnix(path, (s) => { serverSide = s; resolve(); }).then((l) => t.teardown(() => l.close()));
  });
  await new Promise((r) => setTimeout(r, 20));
  const client = await connectUnix(path);
  await accepted;
  const atServer = collect(serverSide);
  const atClient = collect(client);
  const fa = openSync(join(dir, 'a'), 'r'), fb = openSync(join(dir, 'b'), 'r');
  // Three messages back to back: the second carries two fds, the others none.
  await client.send(message(1, 3));
  await client.send(message(2, 40), [fa, fb]);
  await client.send(message(3, 0));
  closeSync(fa); closeSync(fb);
  await atServer.until(3);
  t.deepEqual(atServer.got.map((m) => m.fds.length), [0, 2, 0]);
  t.deepEqual(atServer.got.map((m) => m.bytes.length), [19, 56, 16]);
  t.deepEqual(atServer.got[1]!.fds.map((fd) => readlinkSync(`/proc/self/fd/${fd}`)), [join(dir, 'a'), join(dir, 'b')]);
  // And back: the server returns the first fd it got.
  await serverSide.send(message(4, 8), [atServer.got[1]!.fds[0]!]);
  await atClient.until(1);
  t.is(atClient.got[0]!.fds.length, 1);
  t.is(fstatSync(atClient.got[0]!.fds[0]!).size, 1);
  t.is(readlinkSync(`/proc/self/fd/${atClient.got[0]!.fds[0]!}`), join(dir, 'a'));
  for (const m of [...atServer.got, ...atClient.got]) for (const fd of m.fds) closeSync(fd);
  client.close();
  serverSide.close();
});

test('a stale socket file is replaced; another file at the path is refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'dmalog-us-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'sock');
  const first = await listenUnix(path, (s) => s.close());
  // A second listener on the same path takes it over (the first one's file is stale to it).
  const second = await listenUnix(path, (s) => s.close());
  first.close(); second.close();
  writeFileSync(path, 'not a socket');
  const error = await t.throwsAsync(listenUnix(path, () => {}));
  t.is((error as NodeJS.ErrnoException).code, 'EEXIST');
});
